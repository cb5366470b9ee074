// INLET_PROCESSES=N: this process runs no server; it starts N Inlet processes on one
// port (Bun's reusePort: the kernel spreads connections over them) and supervises
// them. Each child is a whole Inlet sharing only Postgres: its own buffer, its own
// spill (childDataDir), its own rollup shards (store/sink.ts shardBaseOf). A child
// that dies is started again with the same index, so it drains its own spill; SIGTERM
// is passed to every child, each drains as a single Inlet does, and this process
// exits when they all have.

import { spawn, type Subprocess } from 'bun'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from './config'
import type { Log } from './log'
import { bootstrap } from './store/bootstrap'

// A child that dies this soon after starting is crashing at start-up (Postgres away,
// a disk error): restarts back off from RESTART_DELAY_MS doubling up to
// RESTART_DELAY_MS_MAX, so a crash loop costs at most a start every 10 s.
const RESTART_DELAY_MS = 250
const RESTART_DELAY_MS_MAX = 10_000
const HEALTHY_AFTER_MS = 30_000
// Past SHUTDOWN_MS_MAX plus main.ts's own spill allowance, a child that has not
// exited is killed: it has already given up on what it could not make durable.
const SHUTDOWN_GRACE_MS = 10_000
// main.ts exits 2 on invalid configuration: every child would, so none is restarted.
const EXIT_CONFIG = 2

// Process 0 keeps the data dir itself, so going from one process to several keeps
// draining the spill the single process left; the others use a folder inside it.
export function childDataDir(dataDir: string, index: number | null): string {
  return index ? join(dataDir, `process-${index}`) : dataDir
}

// The command that started this process, to start the children with: `bun src/main.ts`,
// or the compiled binary alone (its script path lives inside the executable).
function selfCommand(): string[] {
  const script = process.argv[1] ?? ''
  const compiled = script.startsWith('/$bunfs/') || script.includes('~BUN')
  return [process.execPath, ...(compiled ? [] : [script]), ...process.argv.slice(2)]
}

interface Child { index: number; proc: Subprocess | null; startedMs: number; delayMs: number }

export async function supervise(config: Config, log: Log): Promise<never> {
  // Made once here, so children starting together do not race to generate it.
  const boot = await bootstrap(null, config, false, log)
  for (let i = config.processes; existsSync(join(childDataDir(config.dataDir, i), 'spill.sqlite')); i++) {
    log('warn', 'a spill of a process index this run does not start is left behind: run once with more INLET_PROCESSES to drain it',
      { index: i, path: childDataDir(config.dataDir, i) })
  }
  const command = selfCommand()
  const children: Child[] = Array.from({ length: config.processes }, (_, index) => ({ index, proc: null, startedMs: 0, delayMs: RESTART_DELAY_MS }))
  let stopping = false
  let stopSignal: 'SIGTERM' | 'SIGINT' = 'SIGTERM'
  let exitCode = 0

  const start = (child: Child) => {
    child.startedMs = performance.now()
    child.proc = spawn(command, {
      env: { ...process.env, INLET_PROCESS_INDEX: String(child.index), INLET_ADMIN_TOKEN: boot.adminToken },
      stdio: ['ignore', 'inherit', 'inherit'],
      onExit: (_proc, code, signal) => exited(child, code, signal),
    })
    log('info', 'inlet process started', { index: child.index, pid: child.proc.pid })
  }
  const exited = (child: Child, code: number | null, signal: number | string | null) => {
    child.proc = null
    if (stopping) {
      // Killed by the signal passed on: it was still starting (its handler not yet
      // set), so it had acknowledged nothing.
      if (code !== 0 && signal !== stopSignal) exitCode = 1
      if (children.every(c => c.proc === null)) process.exit(exitCode)
      return
    }
    if (code === EXIT_CONFIG) {
      log('error', 'an inlet process stopped on its configuration; stopping all', { index: child.index })
      exitCode = EXIT_CONFIG
      return shutdown('SIGTERM')
    }
    const lived = performance.now() - child.startedMs
    child.delayMs = lived >= HEALTHY_AFTER_MS ? RESTART_DELAY_MS : Math.min(RESTART_DELAY_MS_MAX, child.delayMs * 2)
    log('warn', 'an inlet process died; starting it again (it drains its own spill)',
      { index: child.index, code, signal, livedMs: Math.round(lived), restartInMs: child.delayMs })
    setTimeout(() => { if (!stopping) start(child) }, child.delayMs)
  }
  const shutdown = (signal: 'SIGTERM' | 'SIGINT') => {
    if (stopping) return
    stopping = true
    stopSignal = signal
    log('info', 'stopping every inlet process', { signal })
    for (const c of children) c.proc?.kill(signal)
    if (children.every(c => c.proc === null)) process.exit(exitCode)
    setTimeout(() => {
      for (const c of children) c.proc?.kill('SIGKILL')
    }, config.limits.SHUTDOWN_MS_MAX + SHUTDOWN_GRACE_MS).unref()
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  for (const c of children) start(c)
  log('info', 'inlet supervising processes', { processes: config.processes, port: config.port })
  return await new Promise<never>(() => {})
}
