// Scoped start/stop of a system under test, so a failing phase never leaves a
// server running or a database behind; and the settings of Inlet the bench needs.

import { join } from 'node:path'
import { inletEnvOverrides, type System } from './inlet'
import { codeDir } from './snapshot'

const live = new Set<System>()

export async function using<T>(start: Promise<System>, body: (sys: System) => Promise<T>): Promise<T> {
  const sys = await start
  live.add(sys)
  try { return await body(sys) } finally { live.delete(sys); await sys.stop() }
}

// On Ctrl-C: stop what is running (servers by pid, databases dropped) before exiting.
export async function stopAll() {
  await Promise.allSettled([...live].map(s => s.stop()))
  live.clear()
}

// The flush parallelism Inlet runs with: the ceiling uses as many connections.
// The default comes from the code under test's own config table.
export async function inletFlushers(): Promise<number> {
  const raw = inletEnvOverrides.FLUSHERS ?? process.env.FLUSHERS
  if (raw) return Number(raw)
  const { limits } = await import(join(codeDir(), 'src/config.ts')) as { limits: Record<string, readonly [number, ...unknown[]]> }
  return limits.FLUSHERS?.[0] ?? 2
}
