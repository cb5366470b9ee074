// GET /v1/events/export: every event of the key's project in a time range, in time
// order, streamed as NDJSON (one event per line, as GET /v1/events/{id} returns
// it) or CSV, gzip-compressed when the client accepts it. One page of
// EXPORT_PAGE_ROWS is read only when the socket has taken the previous one, so an
// export of any size holds one page in memory. A dropped export resumes with
// `after=<id of the last event received>`: the walk is by (timestamp, id), a total
// order, so a resumed export repeats and skips nothing. With DATABASE_READ_URL the
// server is chosen once when the export starts (store/replica.ts, ReadRouter.pin):
// the replica if it has replayed every write acknowledged by then, else the primary.

import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import type { StoredEvent } from '../../event'
import { parseTime } from '../../ingest/validate'
import { type ExportPosition, exportPage, resumePoint } from '../../store/export'
import { authenticate, type Deps } from '../context'
import { doc } from '../schemas'

const invalid = (path: string, message: string) =>
  new InletError('validation_failed', `query parameter ${path.slice(1)} is invalid`, [{ path, message }])

function time(value: string | undefined, path: string, fallback: number): number {
  if (value === undefined || value === '') return fallback
  const ms = parseTime(/^\d+$/.test(value) ? Number(value) : value)
  if (Number.isNaN(ms)) throw invalid(path, 'must be an ISO-8601 time with a zone, or epoch milliseconds')
  return ms
}

const CSV_COLUMNS = ['id', 'type', 'name', 'timestamp', 'received_at', 'user_id', 'anonymous_id', 'session_id', 'properties', 'context'] as const

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
function csvField(v: unknown): string {
  if (v === null || v === undefined) return ''
  const s = typeof v === 'string' ? v : JSON.stringify(v)
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

const csvLine = (e: StoredEvent) => CSV_COLUMNS.map(c => csvField(e[c])).join(',') + '\r\n'

export function exportRoutes(deps: Deps) {
  const l = deps.config.limits
  return new Elysia()
    .get('/v1/events/export', async ({ request, query, set }) => {
      const owner = await authenticate(deps, request, set)
      const format = query.format ?? 'ndjson'
      if (format !== 'ndjson' && format !== 'csv') throw invalid('/format', 'must be ndjson or csv')
      // Default range: everything up to now (the time the export starts).
      const toMs = time(query.to, '/to', Date.now())
      const fromMs = time(query.from, '/from', 0)
      if (fromMs > toMs) throw invalid('/from', 'must not be after to')
      const name = query.name || undefined
      if (name !== undefined && name.length > l.NAME_CHARS_MAX) throw invalid('/name', `must be at most ${l.NAME_CHARS_MAX} characters`)
      if (!deps.health.postgresReachable()) throw new InletError('unavailable', 'Postgres is unavailable; retry shortly', undefined, 2)
      const reads = await deps.reads.pin()
      let after = null as ExportPosition | null
      if (query.after) {
        const id = query.after
        after = await reads.read(sql => resumePoint(sql, owner.projectId, id, l.PG_STATEMENT_TIMEOUT_MS))
        if (!after) throw invalid('/after', 'must be the id of an event of this project (the last one an export delivered)')
      }
      const filter = { fromMs, toMs, name }
      const encoder = new TextEncoder()
      let header = format === 'csv'
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const from = after
          const { events: page, last } = await reads.read(sql => exportPage(sql, owner.projectId, filter, from, l.EXPORT_PAGE_ROWS, l.PG_STATEMENT_TIMEOUT_MS))
          let out = header ? CSV_COLUMNS.join(',') + '\r\n' : ''
          header = false
          for (const e of page) out += format === 'csv' ? csvLine(e) : JSON.stringify(e) + '\n'
          if (out) controller.enqueue(encoder.encode(out))
          if (page.length < l.EXPORT_PAGE_ROWS) return controller.close()
          after = last
        },
      }, { highWaterMark: 0 })
      const headers: Record<string, string> = {
        ...(set.headers as Record<string, string>),
        'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
        'content-disposition': `attachment; filename="events.${format}"`,
      }
      set.headers = {}
      const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '')
      if (!gzip) return new Response(body, { headers })
      headers['content-encoding'] = 'gzip'
      return new Response(body.pipeThrough(new CompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>), { headers })
    }, {
      query: t.Object({
        from: t.Optional(t.String({ description: 'ISO-8601 or epoch ms, inclusive (default: the beginning)' })),
        to: t.Optional(t.String({ description: 'ISO-8601 or epoch ms, exclusive (default: now)' })),
        name: t.Optional(t.String()),
        format: t.Optional(t.String({ description: 'ndjson (default) or csv' })),
        after: t.Optional(t.String({ description: 'resume after this event id (the last one received)' })),
      }),
      detail: doc({ tag: 'query', summary: 'Export events in time order (NDJSON or CSV, streamed, resumable)', ok: t.String(), errors: [401, 422, 429, 503] }),
    })
}
