// The real server as a child process (`bun src/main.ts`), for end-to-end tests:
// SIGTERM, SIGKILL, the embedded default, real sockets.

import { type Subprocess, spawn } from 'bun'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '../..')

export async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = s.port
  s.stop(true)
  return port
}

// The first of `count` consecutive free ports (INLET_METRICS_PORT serves one per
// process), none of them in `taken`.
export async function freePorts(count: number, taken: number[] = []): Promise<number> {
  for (;;) {
    const first = await freePort()
    if (first + count > 65_536) continue
    const held: { stop(closeActiveConnections?: boolean): void }[] = []
    try {
      for (let p = first; p < first + count; p++) {
        if (taken.includes(p)) break
        held.push(Bun.listen({ hostname: '127.0.0.1', port: p, socket: { data() {} } }))
      }
    } catch {
      // One of them is in use: try another range.
    }
    for (const s of held) s.stop(true)
    if (held.length === count) return first
  }
}

export interface ServerProcess {
  url: string
  port: number
  proc: Subprocess
  output(): string
  kill(signal?: NodeJS.Signals | number): Promise<number>
}

// Starts the server and waits until /health answers (or the process dies).
export async function startServer(
  env: Record<string, string | undefined>, timeoutMs = 30_000, command = ['bun', 'src/main.ts'],
): Promise<ServerProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort()
  let output = ''
  const proc = spawn(command, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdout: 'pipe', stderr: 'pipe',
  })
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += new TextDecoder().decode(chunk)
  }
  void collect(proc.stdout as ReadableStream<Uint8Array>)
  void collect(proc.stderr as ReadableStream<Uint8Array>)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode} during start-up:\n${output}`)
    try {
      if ((await fetch(`${url}/health`)).ok) break
    } catch {}
    if (Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error(`server did not become healthy in ${timeoutMs} ms:\n${output}`)
    }
    await Bun.sleep(50)
  }
  return {
    url, port, proc,
    output: () => output,
    kill: async (signal = 'SIGTERM') => {
      proc.kill(signal)
      return await proc.exited
    },
  }
}
