// Structured JSON logs, one object per line on stdout. At most one line per
// request (and only at debug level, or for a 5xx), so logging never becomes the load.

export type Level = 'debug' | 'info' | 'warn' | 'error'
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type Log = (level: Level, msg: string, fields?: Record<string, unknown>) => void

export function createLog(minimum: Level, write: (line: string) => void = line => process.stdout.write(line)): Log {
  return (level, msg, fields) => {
    if (order[level] < order[minimum]) return
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n')
  }
}

export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) }
  const e = error as Error & { code?: string }
  return { error: e.message, code: e.code, cause: e.cause instanceof Error ? e.cause.message : undefined }
}
