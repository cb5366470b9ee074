// Why a missed target was out of reach in this run, from the run's own figures:
// the CPU a request took against the cores the machine has, the group-commit cycle
// a closed loop waits on, and Little's law for latency under a fixed client count.
// Each returns one sentence for the report's "why" beside the ✗, or null where the
// phase lacks the figures.

import { cal } from './calibrate'
import { cpuBudget, fmt } from './phase'
import type { PhaseResult } from './types'

// The CPU one request took, whole: the server's, Postgres's for its events, the
// load generator's (it shares the cores).
function perRequestUs(p: PhaseResult) {
  const b = cpuBudget(p)
  if (!b || b.serverUsPerRequest === null) return null
  const pg = (b.postgresUsPerEvent ?? 0) * (p.summary.events / p.summary.requests)
  return { server: b.serverUsPerRequest, pg, generator: b.generatorUsPerRequest, all: b.serverUsPerRequest + pg + b.generatorUsPerRequest }
}

// The cores `reqPerS` would take at this phase's CPU per request, and the share of
// the server's one JS thread.
export function coresAt(p: PhaseResult, reqPerS: number, rate = `${fmt.n(reqPerS)} req/s`): string | null {
  const us = perRequestUs(p)
  const u = p.usage
  if (!us || !u) return null
  return `at this run's ${fmt.n(us.all, 1)} µs of CPU per request (server ${fmt.n(us.server, 1)} + Postgres ${fmt.n(us.pg, 1)} + ` +
    `load generator ${fmt.n(us.generator, 1)}), ${rate} needs ${fmt.n((us.all * reqPerS) / 1e6, 2)} cores of ${u.cores} ` +
    `(this phase kept ${fmt.n(u.machineBusyCpuS / u.wallS, 2)} busy) and ${fmt.n((us.server * reqPerS) / 1e6, 2)} of the server's one JS thread`
}

// Group commit: events per transaction × flushes in flight / flush time is what the
// closed loop can be acknowledged at.
export function flushCycle(p: PhaseResult, reqPerS: number): string | null {
  const f = p.flush
  const u = p.usage
  if (!f?.eventsPerTx || !f.flushMeanMs || !u || p.summary.requests === 0) return null
  const eventsPerReq = p.summary.events / p.summary.requests
  const inFlight = (f.transactions * f.flushMeanMs) / 1000 / u.wallS
  const needMs = (f.eventsPerTx * inFlight * 1000) / (reqPerS * eventsPerReq)
  return `flushes of ${fmt.n(f.eventsPerTx, 1)} events took ${fmt.ms(f.flushMeanMs)} ms with ${fmt.n(inFlight, 2)} in flight on average, ` +
    `which acknowledges ${fmt.n((f.eventsPerTx * inFlight * 1000) / f.flushMeanMs / eventsPerReq)} req/s; ${fmt.n(reqPerS)} req/s at that group ` +
    `size would need ${fmt.ms(needMs)} ms flushes, where a 1-row commit alone took ${cal.commitMs.toFixed(2)} ms here`
}

// A fixed number of clients, each with one request in flight: the mean latency is
// clients / throughput, so a latency bound is a throughput bound.
export function queueing(p: PhaseResult, p99MsMax: number): string | null {
  const s = p.summary
  if (!s.meanMs || !s.reqPerS) return null
  const inFlight = (s.reqPerS * s.meanMs) / 1000
  const tail = s.p99Ms / s.meanMs
  const needReqPerS = inFlight / (p99MsMax / tail / 1000)
  const cores = coresAt(p, needReqPerS)
  return `${fmt.n(inFlight)} requests were in flight on average (Little's law: ${fmt.n(s.reqPerS)} req/s × mean ${fmt.ms(s.meanMs)} ms); ` +
    `with the p99 at ${tail.toFixed(1)}× the mean, a p99 ≤ ${fmt.n(p99MsMax)} ms needs a mean ≤ ${fmt.ms(p99MsMax / tail)} ms: ` +
    `${fmt.n(needReqPerS)} req/s with as many in flight` + (cores ? `; ${cores}` : '')
}

export function both(...why: (string | null)[]): string | undefined {
  const parts = why.filter((w): w is string => !!w)
  return parts.length ? parts.join('; ') : undefined
}

// An open loop far below capacity: an ack waits for the flush in flight and its
// own, so its latency is the flushes' and theirs follows the disk's WAL sync.
export function ackWait(p: PhaseResult, msMax: number): string | null {
  const f = p.flush
  const u = p.usage
  if (!f?.flushMeanMs || !u) return null
  const walSync = p.waits?.shares['IO/WALSync'] ?? 0
  const busy = u.machineBusyCpuS / u.wallS
  return `the machine was ${fmt.n(busy, 2)} of ${u.cores} cores busy${busy < 0.75 * u.cores ? ': not the CPU' : ', which queues the flushes too'}; ` +
    'an ack waits for the flush in flight and its own, ' +
    `and flushes took ${fmt.ms(f.flushMeanMs)} ms on average (${fmt.n(f.eventsPerTx ?? 0, 1)} events each) against a 1-row commit of ` +
    `${cal.commitMs.toFixed(2)} ms in the calibration (p99 ${cal.commitP99Ms === undefined ? '–' : cal.commitP99Ms.toFixed(2)}), with Postgres's busy sessions ${Math.round(walSync * 100)}% in WAL sync: a p99 ≤ ${fmt.n(msMax)} ms ` +
    `needs two flushes under ${fmt.n(msMax)} ms in the tail, so the disk's WAL sync under ~${fmt.n(msMax / 2)} ms at its own 99th percentile`
}
