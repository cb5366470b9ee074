// The lock an earlier run may have left on the embedded cluster (postmaster.pid):
// a pid reused by another program, a Postgres left running by an Inlet that was
// SIGKILLed, or a zombie not yet reaped. Postgres itself handles the rest.

import { existsSync } from 'node:fs'
import { readFile, readlink, rm } from 'node:fs/promises'
import path from 'node:path'
import { shutDown, signalPid, waitUntil } from './process'

// A SIGKILLed postmaster stays a zombie until init reaps it, and Postgres takes a
// lock whose pid still exists for a live one (init reaped in ~1.2 s where measured).
const REAP_MS_MAX = 10_000

// A postmaster.pid names the postmaster that holds the cluster. Postgres itself
// replaces one whose pid is gone; the cases it refuses are handled here.
export async function clearStaleLock(dataDir: string, log: (msg: string) => void) {
  const lockPath = path.join(dataDir, 'postmaster.pid')
  const pid = Number((await readFile(lockPath, 'utf8').catch(() => '')).split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0) return
  if (!existsSync('/proc/self/stat')) {
    if (!isAlive(pid)) return
    throw new Error(`a Postgres (pid ${pid}) may still hold ${dataDir}; stop it with \`kill -INT ${pid}\``)
  }
  let proc = await inspect(pid)
  if (proc.state === 'running' && !isPostmasterOf(proc.args, dataDir)) {
    // The pid now belongs to another program (pids start over when a container
    // restarts); Postgres would take the lock for a live one and refuse to start.
    log(`removing stale ${lockPath}: pid ${pid} is no longer Postgres`)
    await rm(lockPath, { force: true })
    return
  }
  if (proc.state === 'running') {
    if (proc.ppid !== process.pid && await isInletLike(proc.ppid)) {
      throw new Error(`${dataDir} is in use by the Postgres (pid ${pid}) of another running process (pid ${proc.ppid})`)
    }
    // Our process was SIGKILLed (or re-exec'd) and its Postgres lived on; it is
    // not ours to adopt (its log pipe is gone), so it is stopped and started afresh.
    log(`stopping Postgres pid ${pid}, left running by an earlier run that was killed`)
    await shutDown(`postgres pid ${pid}`, signal => signalPid(pid, signal), async () => (await inspect(pid)).state === 'running', log)
    proc = await inspect(pid)
  }
  if (proc.state === 'zombie' && existsSync(lockPath)) {
    const reaped = await waitUntil(async () => (await inspect(pid)).state === 'gone', REAP_MS_MAX)
    if (!reaped) throw new Error(`Postgres pid ${pid} is dead but not reaped after ${REAP_MS_MAX} ms; ${lockPath} still blocks start-up`)
  }
}

type Proc = { state: 'gone' } | { state: 'zombie' } | { state: 'running'; ppid: number; args: string[] }

async function inspect(pid: number): Promise<Proc> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) state ppid …"; comm may itself contain spaces and parentheses.
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ')
    if (state === 'Z' || state === 'X') return { state: 'zombie' }
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
    return { state: 'running', ppid: Number(ppid), args }
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { state: 'gone' }
    throw error
  }
}

function isPostmasterOf(args: string[], dataDir: string): boolean {
  const i = args.indexOf('-D')
  return i >= 0 && i + 1 < args.length && path.resolve(args[i + 1]!) === dataDir
}

// A parent running our own executable is another Inlet (or test) using this dir;
// anything else (init, a subreaper) has adopted an orphan. Unreadable counts as
// ours: refusing to start is recoverable, stopping someone's database is not.
async function isInletLike(ppid: number): Promise<boolean> {
  if (ppid <= 1) return false
  return (await readlink(`/proc/${ppid}/exe`).catch(() => process.execPath)) === process.execPath
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM'
  }
}
