// Signalling and waiting for a Postgres process of the embedded cluster: the
// shutdown sequence (fast, then immediate) and a poll with a deadline.

// Fast shutdown (SIGINT) ends with a checkpoint that writes every dirty buffer.
const STOP_FAST_MS_MAX = 30_000
// Immediate shutdown (SIGQUIT) skips the checkpoint; the next start recovers.
const STOP_IMMEDIATE_MS_MAX = 5_000
const POLL_MS = 20

export function signalPid(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(pid, signal)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ESRCH') throw error
  }
}

export async function shutDown(name: string, signal: (s: NodeJS.Signals) => void, isRunning: () => Promise<boolean>, log: (msg: string) => void) {
  if (!(await isRunning())) return
  signal('SIGINT')
  if (await waitUntil(async () => !(await isRunning()), STOP_FAST_MS_MAX)) return
  log(`${name} did not stop within ${STOP_FAST_MS_MAX} ms; immediate shutdown (recovery on next start)`)
  signal('SIGQUIT')
  if (await waitUntil(async () => !(await isRunning()), STOP_IMMEDIATE_MS_MAX)) return
  throw new Error(`${name} did not stop after SIGINT and SIGQUIT`)
}

export async function waitUntil(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadlineMs = performance.now() + timeoutMs
  while (!(await done())) {
    if (performance.now() > deadlineMs) return false
    await Bun.sleep(POLL_MS)
  }
  return true
}
