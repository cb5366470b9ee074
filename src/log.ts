// Logs on stdout, one line per message: JSON objects (the default off a terminal,
// for collectors) or short readable lines (LOG_FORMAT=pretty, the default on one).
// At most one line per request (and only at debug level, or for a 5xx), so logging
// never becomes the load; and a failure that repeats (6,000 refused writes a second
// while Postgres is away) is written once per REPEAT_WINDOW_MS with the count of the
// lines it stands for.

import { assert } from './assert'

export type Level = 'debug' | 'info' | 'warn' | 'error'
export type LogFormat = 'json' | 'pretty'
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type Log = (level: Level, msg: string, fields?: Record<string, unknown>) => void

export function createLog(
  minimum: Level, format: LogFormat = 'json', write: (line: string) => void = line => process.stdout.write(line),
): Log {
  const render = format === 'pretty' ? prettyLine : jsonLine
  return (level, msg, fields) => {
    if (order[level] < order[minimum]) return
    write(render(new Date(), level, msg, fields))
  }
}

function jsonLine(time: Date, level: Level, msg: string, fields?: Record<string, unknown>): string {
  return JSON.stringify({ time: time.toISOString(), level, msg, ...fields }) + '\n'
}

// "10:04:05 warn  postgres unreachable  attempt=3 error="connect ECONNREFUSED""
function prettyLine(time: Date, level: Level, msg: string, fields?: Record<string, unknown>): string {
  const pairs = Object.entries(fields ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`)
  const clock = time.toTimeString().slice(0, 8)
  return `${clock} ${level.padEnd(5)} ${msg}${pairs.length ? `  ${pairs.join(' ')}` : ''}\n`
}

export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) }
  const e = error as Error & { code?: string }
  return { error: e.message, code: e.code, cause: e.cause instanceof Error ? e.cause.message : undefined }
}

// One line per window per kind of failure: enough to see it start, go on and stop.
const REPEAT_WINDOW_MS = 1_000
// Kinds are a message (a literal in the code) and an error code (a SQLSTATE, an
// SQLite code, or one of ours): a few hundred at most. More is a bug in a caller.
const REPEAT_KINDS_MAX = 10_000

interface Kind { lastMs: number; suppressed: number; level: Level; msg: string; fields?: Record<string, unknown> }

// A log whose `repeated` lines are folded: the first of a kind is written at once,
// the rest of its window are counted and written as one line with `repeated: n`
// when the window ends (or with the next occurrence after it).
export function foldRepeats(log: Log, now: () => number = () => performance.now()) {
  const kinds = new Map<string, Kind>()
  const flush = (k: Kind) => {
    if (k.suppressed === 0) return
    log(k.level, k.msg, { ...k.fields, repeated: k.suppressed, window_ms: REPEAT_WINDOW_MS })
    k.suppressed = 0
  }
  const timer = setInterval(() => {
    const t = now()
    for (const [key, k] of kinds) {
      if (t - k.lastMs < REPEAT_WINDOW_MS) continue
      flush(k)
      kinds.delete(key)
    }
  }, REPEAT_WINDOW_MS)
  timer.unref?.()
  const repeated = (level: Level, msg: string, fields: Record<string, unknown> = {}) => {
    const key = `${level}\u0001${msg}\u0001${String(fields.code ?? '')}`
    const t = now()
    const k = kinds.get(key)
    if (k && t - k.lastMs < REPEAT_WINDOW_MS) {
      k.suppressed++
      k.fields = fields
      return
    }
    if (k) flush(k)
    assert(kinds.size < REPEAT_KINDS_MAX, 'log kinds are a bounded set of messages and codes')
    kinds.set(key, { lastMs: t, suppressed: 0, level, msg, fields })
    log(level, msg, fields)
  }
  return { repeated, stop: () => clearInterval(timer) }
}
