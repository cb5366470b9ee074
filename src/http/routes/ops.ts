// GET /, /health, /ready, /metrics: what a load balancer and an operator need.

import { Elysia, t } from 'elysia'
import pkg from '../../../package.json'
import type { Deps } from '../context'
import { doc } from '../schemas'
import { consolePage, prefersHtml } from './console'

export function opsRoutes(deps: Deps) {
  const m = deps.metrics
  return new Elysia()
    // A browser (Accept: text/html first) gets the console (issue 11); anyone else the JSON.
    .get('/', ({ request, set }) => {
      if (prefersHtml(request.headers.get('accept'))) return consolePage()
      set.headers.vary = 'Accept'
      return { name: 'inlet', version: pkg.version, docs: '/swagger', console: '/console' }
    }, { detail: doc({ tag: 'ops', summary: 'Service name, version and docs address (HTML console for Accept: text/html)', ok: t.Object({ name: t.String(), version: t.String(), docs: t.String(), console: t.String() }) }) })
    .get('/health', () => ({ status: 'ok' }),
      { detail: doc({ tag: 'ops', summary: 'Liveness: 200 while the process serves', ok: t.Object({ status: t.String() }) }) })
    .get('/ready', ({ set }) => {
      const spill = deps.spill?.stats()
      const writable = deps.health.writable()
      if (!writable) set.status = 503
      return {
        status: writable ? 'ready' : 'unavailable',
        postgres: deps.health.postgresUp() ? 'up' : 'down',
        postgres_reads: deps.health.postgresReachable() ? 'up' : 'down',
        buffer: { depth: deps.pipeline.queue.depth, capacity: deps.config.limits.QUEUE_EVENTS_MAX, bytes: deps.pipeline.queue.bytes },
        spill: { pending: spill?.pending ?? 0, bytes: spill?.bytes ?? 0, writable: spill?.writable ?? false },
        dead_letter: deps.deadLetters.count,
      }
    }, {
      detail: doc({
        tag: 'ops', summary: 'Readiness: 200 when writes can be made durable, else 503',
        description: '`postgres`: "up" when it takes writes ("down" also when it is read-only); `postgres_reads`: "up" '
          + 'when it answers reads (also when read-only); `spill.writable`: false '
          + 'after the spill\'s disk refused a write or a delete; `dead_letter`: acknowledged events Postgres refused as '
          + 'data, waiting for an operator (GET /admin/dead-letter; -1 until first counted).',
        ok: t.Object({
          status: t.String(), postgres: t.String(), postgres_reads: t.String(), buffer: t.Object({ depth: t.Integer(), capacity: t.Integer(), bytes: t.Integer() }),
          spill: t.Object({ pending: t.Integer(), bytes: t.Integer(), writable: t.Boolean() }), dead_letter: t.Integer(),
        }),
        errors: [503],
      }),
    })
    .get('/metrics', () => {
      const spill = deps.spill?.stats()
      const gauges = [
        `# TYPE inlet_buffer_events gauge\ninlet_buffer_events ${deps.pipeline.queue.depth}`,
        `# TYPE inlet_buffer_bytes gauge\ninlet_buffer_bytes ${deps.pipeline.queue.bytes}`,
        `# TYPE inlet_buffer_capacity_events gauge\ninlet_buffer_capacity_events ${deps.config.limits.QUEUE_EVENTS_MAX}`,
        `# TYPE inlet_spill_pending_events gauge\ninlet_spill_pending_events ${spill?.pending ?? 0}`,
        `# TYPE inlet_spill_bytes gauge\ninlet_spill_bytes ${spill?.bytes ?? 0}`,
        `# TYPE inlet_spill_writable gauge\ninlet_spill_writable ${spill?.writable ? 1 : 0}`,
        `# TYPE inlet_postgres_up gauge\ninlet_postgres_up ${deps.health.postgresUp() ? 1 : 0}`,
        `# HELP inlet_dead_letter_events Acknowledged events Postgres refused as data, in the dead-letter table (-1: not counted yet)\n# TYPE inlet_dead_letter_events gauge\ninlet_dead_letter_events ${deps.deadLetters.count}`,
        `# TYPE inlet_stream_subscribers gauge\ninlet_stream_subscribers ${deps.live?.hub.count ?? 0}`, // issue 11
        // The day index funnels, retention and counts by minute read (store/day-index.ts).
        `# HELP inlet_report_index_bytes Bytes the day index holds (REPORT_INDEX_BYTES_MAX)\n# TYPE inlet_report_index_bytes gauge\ninlet_report_index_bytes ${deps.reports.index.sizeBytes}`,
        `# HELP inlet_report_index_days_total Day views reports were given, by where from: kept in memory, or read from Postgres\n# TYPE inlet_report_index_days_total counter\n` +
          `inlet_report_index_days_total{from="memory"} ${deps.reports.index.stats.kept}\ninlet_report_index_days_total{from="postgres"} ${deps.reports.index.stats.loaded}`,
        // Which process answered: with INLET_PROCESSES > 1 each has its own series.
        `# TYPE inlet_process_info gauge\ninlet_process_info{index="${deps.config.processIndex ?? 0}",pid="${process.pid}"} 1`,
        storageMetrics(deps), // issue 13
        `# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ${process.memoryUsage.rss()}`,
      ]
      return new Response(m.registry.render() + gauges.join('\n') + '\n', {
        headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
      })
    }, { detail: doc({ tag: 'ops', summary: 'Prometheus metrics', ok: t.String() }) })
}

// Bytes per table and the oldest kept event, as of the last lifecycle pass.
function storageMetrics(deps: Deps): string {
  const s = deps.lifecycle?.storage
  const lines = ['# HELP inlet_table_bytes Bytes of each table with its indexes (events: all its partitions)', '# TYPE inlet_table_bytes gauge']
  for (const [table, n] of s?.tableBytes ?? []) lines.push(`inlet_table_bytes{table="${table}"} ${n}`)
  lines.push('# HELP inlet_oldest_event_timestamp_seconds Event time of the oldest event kept (absent: none, or not read yet)',
    '# TYPE inlet_oldest_event_timestamp_seconds gauge')
  if (s?.oldestEventMs != null) lines.push(`inlet_oldest_event_timestamp_seconds ${s.oldestEventMs / 1000}`)
  return lines.join('\n')
}
