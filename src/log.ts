// Logs on stdout, one line per message: JSON objects (the default off a terminal,
// for collectors) or short readable lines (LOG_FORMAT=pretty, the default on one).
// At most one line per request (and only at debug level, or for a 5xx), so logging
// never becomes the load.

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
