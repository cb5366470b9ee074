// CPU and memory of the processes sharing the machine during a phase, from /proc:
// the server's CPU seconds and RSS (sampled; peak and timeline for the soak), the
// generator's own CPU (this process), and the whole machine's busy CPU, so the
// report can say how the two cores were shared (the rest is Postgres and the OS).

import { readdirSync, readFileSync } from 'node:fs'

// Sampling period for RSS: fine enough to catch a peak that lasts a few hundred ms.
const SAMPLE_MS = 250
const TICKS_PER_S = 100 // getconf CLK_TCK on Linux x86-64

export interface Usage {
  serverCpuS: number
  // Every postgres process on the machine (backends, WAL writer, checkpointer…):
  // the bench is the only Postgres user while a phase runs.
  postgresCpuS: number
  generatorCpuS: number
  machineBusyCpuS: number
  cores: number
  wallS: number
  // The server's event-loop thread (each process's main thread): how often it went
  // to sleep for want of work and was woken (voluntary), and how often it was
  // preempted for another thread on the shared cores (involuntary).
  serverSleeps: number
  serverPreemptions: number
  serverRssPeakMiB: number
  serverRssEndMiB: number
  // One sample per second: server RSS in MiB (soak charts, growth checks).
  rssTimelineMiB: number[]
}

function procCpuS(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S // utime + stime
  } catch { return 0 }
}

// The bench cluster's postmaster (bench/lib/db.ts finds it once); null: every
// postgres process on the machine is counted instead.
export const cluster = { postmasterPid: null as number | null }

// CPU seconds of the bench Postgres: its postmaster and every process it started
// (backends, WAL writer, checkpointer…), from /proc. A backend that exits inside the
// window (a client that connects, works and disconnects) leaves /proc, but the
// postmaster reaps it, so its CPU moves into the postmaster's cutime + cstime: that is
// counted too, or a short-lived connection's work would vanish from the figure.
// A backend reaped while /proc is being read would be missed by both (listed, then
// gone before its stat is read, and reaped after the postmaster's was): seen once,
// when a phase's two connections closed just as it ended (Postgres 0.1 µs/event).
// So the postmaster's reaped time is read before and after the children, and the
// read repeated when it moved.
export function postgresCpuS(): number {
  const root = cluster.postmasterPid
  if (root === null) return postgresScan(null)
  for (let attempt = 0; ; attempt++) {
    const before = reapedCpuS(root)
    const live = postgresScan(root)
    const after = reapedCpuS(root)
    if (before === after || attempt === REREADS_MAX) return live + after
  }
}

const REREADS_MAX = 5

function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    if (!stat.includes(' (postgres) ')) return null
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch { return null }
}

// The postmaster's reaped children (cutime + cstime).
function reapedCpuS(root: number): number {
  const f = statFields(root)
  return f ? (Number(f[13]) + Number(f[14])) / TICKS_PER_S : 0
}

// utime + stime of the postmaster and its children; with no known root, of every
// postgres process and what each reaped.
function postgresScan(root: number | null): number {
  let total = 0
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) > 57) continue // not a pid
    const f = statFields(name)
    if (!f) continue
    if (root !== null && Number(name) !== root && Number(f[1]) !== root) continue
    total += (Number(f[11]) + Number(f[12])) / TICKS_PER_S
    if (root === null) total += (Number(f[13]) + Number(f[14])) / TICKS_PER_S
  }
  return total
}

// The main thread's context switches (a process's /proc/<pid>/status counts its
// thread group leader alone, the event loop here).
function switches(pid: number): { sleeps: number; preemptions: number } {
  try {
    const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8')
    return {
      sleeps: Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0),
      preemptions: Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0),
    }
  } catch { return { sleeps: 0, preemptions: 0 } }
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : 0
  } catch { return 0 }
}

// The server and the processes it started (INLET_PROCESSES > 1: the supervisor
// and its Inlet processes), found once when a phase starts: all are the server.
function withChildren(pid: number): number[] {
  const found = [pid]
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) > 57) continue // not a pid
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(name))
    } catch {}
  }
  return found
}

const sum = (pids: number[], f: (pid: number) => number) => pids.reduce((total, p) => total + f(p), 0)

function machine(): { busyS: number; cores: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n')
  const total = lines[0]!.split(/\s+/).slice(1).map(Number)
  const idle = total[3]! + total[4]! // idle + iowait
  const cores = lines.filter(l => /^cpu\d/.test(l)).length
  return { busyS: (total.reduce((a, b) => a + b, 0) - idle) / TICKS_PER_S, cores }
}

function generatorCpuS(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

// Starts sampling now; `stop()` returns the figures since then.
export function watch(pid: number | null) {
  const t0 = performance.now()
  const pids = pid ? withChildren(pid) : []
  const server0 = sum(pids, procCpuS)
  const sleeps0 = sum(pids, p => switches(p).sleeps), preemptions0 = sum(pids, p => switches(p).preemptions)
  const pg0 = postgresCpuS()
  const gen0 = generatorCpuS()
  const m0 = machine()
  let peak = sum(pids, rssMiB)
  const timeline: number[] = []
  let samples = 0
  const timer = setInterval(() => {
    if (!pid) return
    const rss = sum(pids, rssMiB)
    peak = Math.max(peak, rss)
    if (++samples % (1000 / SAMPLE_MS) === 0) timeline.push(rss)
  }, SAMPLE_MS)
  return {
    stop(): Usage {
      clearInterval(timer)
      const m1 = machine()
      const end = sum(pids, rssMiB)
      return {
        serverCpuS: sum(pids, procCpuS) - server0,
        serverSleeps: sum(pids, p => switches(p).sleeps) - sleeps0,
        serverPreemptions: sum(pids, p => switches(p).preemptions) - preemptions0,
        postgresCpuS: postgresCpuS() - pg0,
        generatorCpuS: generatorCpuS() - gen0,
        machineBusyCpuS: m1.busyS - m0.busyS,
        cores: m1.cores,
        wallS: (performance.now() - t0) / 1000,
        serverRssPeakMiB: Math.max(peak, end),
        serverRssEndMiB: end,
        rssTimelineMiB: timeline,
      }
    },
  }
}
