// Server processes under test: started with a raised open-files limit, their output
// kept in a log file (shown when they fail), probed until ready, stopped by pid.

import { mkdirSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export const LOG_DIR = join(import.meta.dir, '..', 'results', 'logs')
// A server that is not ready after this has failed to start (migrations included).
const READY_TIMEOUT_MS = 60_000
// SIGTERM drains Inlet's buffer; past this it is killed.
const STOP_TIMEOUT_MS = 30_000
// 10,000 client sockets (W4) need as many descriptors on the server side, plus
// Postgres connections, log files and the spill.
export const OPEN_FILES_WANTED = 20_000

export interface Server {
  name: string
  pid: number
  url: string
  port: number
  logPath: string
  stop(): Promise<number | null>
}

export async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = probe.port
  probe.stop(true)
  return port
}

export async function startServer(o: {
  name: string; argv: string[]; env: Record<string, string>; port: number; readyPath: string; cwd?: string
}): Promise<Server> {
  mkdirSync(LOG_DIR, { recursive: true })
  const logPath = join(LOG_DIR, `${o.name}.log`)
  const log = openSync(logPath, 'w')
  // `ulimit -n` cannot be raised from inside Bun, so the shell does it and then execs.
  const quoted = o.argv.map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const proc = Bun.spawn(['sh', '-c', `ulimit -n ${OPEN_FILES_WANTED} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${quoted}`], {
    env: { ...process.env, ...o.env, PORT: String(o.port) },
    stdout: log, stderr: log, cwd: o.cwd ?? join(import.meta.dir, '..', '..'),
  })
  const url = `http://127.0.0.1:${o.port}`
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${o.name} exited with ${proc.exitCode} before ready:\n${tail(logPath)}`)
    try {
      const r = await fetch(url + o.readyPath, { signal: AbortSignal.timeout(1000) })
      if (r.ok) break
    } catch {}
    if (Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error(`${o.name} not ready after ${READY_TIMEOUT_MS} ms:\n${tail(logPath)}`)
    }
    await Bun.sleep(100)
  }
  return {
    name: o.name, pid: proc.pid, url, port: o.port, logPath,
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode
      proc.kill('SIGTERM')
      const exited = await Promise.race([proc.exited, Bun.sleep(STOP_TIMEOUT_MS).then(() => null)])
      if (exited === null) { proc.kill('SIGKILL'); await proc.exited }
      return proc.exitCode
    },
  }
}

export function tail(path: string, lines = 12): string {
  try { return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') } catch { return '(no log)' }
}
