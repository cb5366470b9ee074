// GET /v1/reports/{counts,funnel,retention}: parameters parsed and held to their
// bounds (REPORT_* settings; past one, a 422 that names it), then answered from a
// small per-project result cache or computed (src/store/reports.ts, journeys.ts, over
// the day index where users are followed), in one of three lanes, by cost: counts by
// hour and day, which read a row per bucket from the counters
// (REPORT_COUNTER_QUERIES_MAX at once); counts by minute over at most
// REPORT_MINUTE_LANE_MINUTES_MAX minutes (REPORT_MINUTE_QUERIES_MAX); and everything
// else (REPORT_QUERIES_MAX). So a dashboard's counts never queue behind its funnels.

import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import { parseTime } from '../../ingest/validate'
import { funnelReport, retentionReport } from '../../store/journeys'
import {
  ceilTo, countsReport, floorTo, INTERVAL_MS, type ReportLimits, type CountsInterval, type RetentionInterval,
} from '../../store/reports'
import { authenticate, type Deps } from '../context'
import { doc } from '../schemas'

const DEFAULT_RANGE_MS = 7 * 86_400_000
const DEFAULT_WITHIN_S = 86_400
const DEFAULT_PERIODS = 8

const invalid = (path: string, message: string) =>
  new InletError('validation_failed', `query parameter ${path.slice(1)} is invalid: ${message}`, [{ path, message }])

function time(value: string | undefined, path: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const ms = parseTime(/^\d+$/.test(value) ? Number(value) : value)
  if (Number.isNaN(ms)) throw invalid(path, 'must be an ISO-8601 time with a zone, or epoch milliseconds')
  return ms
}

function integer(value: string | undefined, path: string, fallback: number, min: number, max: number, bound: string): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max) throw invalid(path, `must be an integer from ${min} to ${max} (${bound})`)
  return n
}

function oneOf<T extends string>(value: string | undefined, path: string, fallback: T, allowed: readonly T[]): T {
  if (value === undefined || value === '') return fallback
  if (!allowed.includes(value as T)) throw invalid(path, `must be one of ${allowed.join(', ')}`)
  return value as T
}

function eventName(deps: Deps, value: string, path: string): string {
  const max = deps.config.limits.NAME_CHARS_MAX
  if (value.length < 1 || value.length > max) throw invalid(path, `must be an event name of 1 to ${max} characters`)
  return value
}

// from/to as asked, or the last 7 days ending at `now` (itself rounded up to
// `roundMs`, so a default range is the same cache key for that long), held to
// REPORT_RANGE_DAYS_MAX. A defaulted `from` is clamped to `spanMsMax` instead of failing.
function range(deps: Deps, q: { from?: string; to?: string }, roundMs: number, spanMsMax = Infinity) {
  const given = { from: time(q.from, '/from'), to: time(q.to, '/to') }
  const toMs = given.to ?? Math.ceil(Date.now() / roundMs) * roundMs
  const fromMs = given.from ?? toMs - Math.min(DEFAULT_RANGE_MS, spanMsMax)
  if (fromMs >= toMs) throw invalid('/from', 'must be before to')
  const days = deps.config.limits.REPORT_RANGE_DAYS_MAX
  if (toMs - fromMs > days * 86_400_000) {
    throw invalid('/from', `from..to spans ${((toMs - fromMs) / 86_400_000).toFixed(2)} days; REPORT_RANGE_DAYS_MAX is ${days}`)
  }
  return { fromMs, toMs }
}

const CACHED = ' Results are cached per project for REPORT_CACHE_TTL_MS, then served stale for up to REPORT_CACHE_STALE_MS ' +
  'while one refresh runs; header `X-Inlet-Report-Cache` says `hit`, `stale` or `miss`. 503 when a report outlives ' +
  'PG_STATEMENT_TIMEOUT_MS or waits that long for a turn (REPORT_QUERIES_MAX; counts by hour and day: REPORT_COUNTER_QUERIES_MAX; by minute over at most REPORT_MINUTE_LANE_MINUTES_MAX minutes: REPORT_MINUTE_QUERIES_MAX).'
const Time = t.String({ description: 'ISO-8601 with a zone, or epoch milliseconds' })
const RangeQuery = {
  from: t.Optional(t.String({ description: 'inclusive; default: to minus 7 days' })),
  to: t.Optional(t.String({ description: 'exclusive; default: now' })),
}
const CountsOut = t.Object({
  series: t.Array(t.Object({ bucket: Time, events: t.Integer(), users: t.Integer() })),
}, { title: 'CountsReport' })
const FunnelOut = t.Object({
  steps: t.Array(t.Object({ name: t.String(), users: t.Integer(), conversion: t.Number({ description: 'users / users of step 1' }) })),
}, { title: 'FunnelReport' })
const RetentionOut = t.Object({
  cohorts: t.Array(t.Object({ cohort: Time, users: t.Integer(), retained: t.Array(t.Integer()) })),
}, { title: 'RetentionReport' })

export function reportRoutes(deps: Deps) {
  const l = deps.config.limits
  const limits: ReportLimits = { timeoutMs: l.PG_STATEMENT_TIMEOUT_MS, workMemKb: l.REPORT_WORK_MEM_KB, parallelWorkers: l.REPORT_PARALLEL_WORKERS_MAX }
  const { cache } = deps.reports
  // Results are cached as the JSON text of the response: a hit costs no
  // serialisation (a 30-day hourly series is ~700 objects, ~40 KB). `slots`: the
  // report's lane (context.ts).
  const answer = async (set: { headers: Record<string, string | number | undefined> }, projectId: number, key: unknown[],
    compute: () => Promise<unknown>, slots = deps.reports.slots) => {
    // Known unreachable: a miss says so at once rather than hold a slot for a deadline
    // (a cached result is still served).
    const text = () => deps.health.postgresReachable()
      ? compute().then(body => JSON.stringify(body))
      : Promise.reject(new InletError('unavailable', 'Postgres is unavailable; reports need it, try again later', undefined, 2))
    const { value, outcome } = cache.get(projectId, JSON.stringify(key), () => slots.run(text), () => slots.tryRun(text))
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-inlet-report-cache': outcome }
    for (const name in set.headers) if (set.headers[name] !== undefined) headers[name] = String(set.headers[name])
    // The headers are in the Response: an empty `set` keeps Elysia from copying it (see respond.ts).
    set.headers = {}
    return new Response(await value, { headers })
  }
  return new Elysia()
    .get('/v1/reports/counts', async ({ request, query, set }) => {
      const owner = await authenticate(deps, request, set)
      const interval = oneOf<CountsInterval>(query.interval, '/interval', 'day', ['minute', 'hour', 'day'])
      const size = INTERVAL_MS[interval]
      const r = range(deps, query, size, l.REPORT_BUCKETS_MAX * size)
      const fromMs = floorTo(r.fromMs, interval), toMs = ceilTo(r.toMs, interval)
      const buckets = (toMs - fromMs) / size
      if (buckets > l.REPORT_BUCKETS_MAX) {
        throw invalid('/interval', `from..to holds ${buckets} ${interval} buckets; REPORT_BUCKETS_MAX is ${l.REPORT_BUCKETS_MAX}`)
      }
      const name = query.name ? eventName(deps, query.name, '/name') : undefined
      return answer(set, owner.projectId, ['counts', interval, fromMs, toMs, name ?? null],
        async () => ({ series: await deps.reads.read(sql => countsReport(sql, deps.reports.index, owner.projectId, { fromMs, toMs, interval, name }, limits)) }),
        // By minute, users come from the day index: over a day (a dashboard's usual
        // minute chart) a lane of their own; longer, the shared lane.
        interval !== 'minute' ? deps.reports.counterSlots
          : buckets <= l.REPORT_MINUTE_LANE_MINUTES_MAX ? deps.reports.minuteSlots : deps.reports.slots)
    }, {
      query: t.Object({
        interval: t.Optional(t.Union([t.Literal('minute'), t.Literal('hour'), t.Literal('day')], { default: 'day' })),
        name: t.Optional(t.String({ description: 'count only events of this name' })),
        ...RangeQuery,
      }),
      detail: doc({
        tag: 'reports', summary: 'Events and distinct users per minute, hour or day', ok: CountsOut, errors: [401, 422, 429, 503],
        description: 'Buckets are whole UTC minutes, hours or days: from is rounded down and to up to the interval, ' +
          'and every bucket of the range is listed, empty ones with zeros. Events are placed by their (skew-corrected) ' +
          '`timestamp`; a user is `user_id`, else `anonymous_id`. Limits: REPORT_RANGE_DAYS_MAX, REPORT_BUCKETS_MAX.' + CACHED,
      }),
    })
    .get('/v1/reports/funnel', async ({ request, query, set }) => {
      const owner = await authenticate(deps, request, set)
      const steps = (query.steps ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
      if (steps.length < 1 || steps.length > l.REPORT_STEPS_MAX) {
        throw invalid('/steps', `must list 1 to ${l.REPORT_STEPS_MAX} event names separated by commas, got ${steps.length} (REPORT_STEPS_MAX)`)
      }
      steps.forEach(s => eventName(deps, s, '/steps'))
      if (new Set(steps).size !== steps.length) throw invalid('/steps', 'must not repeat an event name')
      const withinS = integer(query.within, '/within', DEFAULT_WITHIN_S, 1, l.REPORT_RANGE_DAYS_MAX * 86_400, 'seconds, at most REPORT_RANGE_DAYS_MAX')
      const { fromMs, toMs } = range(deps, query, INTERVAL_MS.minute)
      return answer(set, owner.projectId, ['funnel', steps, withinS, fromMs, toMs],
        async () => ({ steps: await deps.reads.read(sql => funnelReport(sql, deps.reports.index, owner.projectId, { fromMs, toMs, steps, withinS }, limits)) }))
    }, {
      query: t.Object({
        steps: t.String({ description: 'event names in order, separated by commas, e.g. PageView,AddToCart,Purchase' }),
        within: t.Optional(t.String({ description: 'seconds from the first step in which every later step must happen; default 86400' })),
        ...RangeQuery,
      }),
      detail: doc({
        tag: 'reports', summary: 'Users who did each step in order, within a window of the first', ok: FunnelOut, errors: [401, 422, 429, 503],
        description: 'A user enters at their first step-1 event in [from, to); each later step counts when an event of ' +
          'that name follows the previous step at most `within` seconds after the entry. A default `to` is now, ' +
          'rounded up to the minute. Limits: REPORT_STEPS_MAX, REPORT_RANGE_DAYS_MAX.' + CACHED,
      }),
    })
    .get('/v1/reports/retention', async ({ request, query, set }) => {
      const owner = await authenticate(deps, request, set)
      if (!query.cohort_event) throw invalid('/cohort_event', 'required: the event that puts a user in a cohort')
      const cohortEvent = eventName(deps, query.cohort_event, '/cohort_event')
      const ret = query.return_event || 'any'
      const returnEvent = ret === 'any' ? null : eventName(deps, ret, '/return_event')
      const interval = oneOf<RetentionInterval>(query.interval, '/interval', 'day', ['day', 'week'])
      const periods = integer(query.periods, '/periods', DEFAULT_PERIODS, 1, l.REPORT_PERIODS_MAX, 'REPORT_PERIODS_MAX')
      const r = range(deps, query, INTERVAL_MS.day)
      const fromMs = floorTo(r.fromMs, interval), toMs = ceilTo(r.toMs, interval)
      return answer(set, owner.projectId, ['retention', cohortEvent, returnEvent, interval, periods, fromMs, toMs],
        async () => ({ cohorts: await deps.reads.read(sql => retentionReport(sql, deps.reports.index, owner.projectId, { fromMs, toMs, interval, periods, cohortEvent, returnEvent }, limits)) }))
    }, {
      query: t.Object({
        cohort_event: t.String({ description: 'a user joins the cohort of the period of their first such event in [from, to)' }),
        return_event: t.Optional(t.String({ description: '`any` (default) or an event name' })),
        interval: t.Optional(t.Union([t.Literal('day'), t.Literal('week')], { default: 'day' })),
        periods: t.Optional(t.String({ description: 'length of each cohort\'s `retained`; default 8' })),
        ...RangeQuery,
      }),
      detail: doc({
        tag: 'reports', summary: 'Cohorts by first event, and how many came back in each later period', ok: RetentionOut,
        errors: [401, 422, 429, 503],
        description: 'Periods are whole UTC days or weeks (Monday first): from is rounded down and to up. `retained[k]` ' +
          'counts the cohort\'s users who did `return_event` in the k-th period after the cohort\'s own (`retained[0]`), ' +
          'also past `to`. Limits: REPORT_PERIODS_MAX, REPORT_RANGE_DAYS_MAX.' + CACHED,
      }),
    })
}
