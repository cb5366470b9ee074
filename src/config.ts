// Every setting and limit Inlet has, parsed and validated once at start-up.
// Each limit is named with its unit last, has a default with the reason for it,
// and is overridable by the environment variable of the same name. Invalid values
// stop start-up with a message that names the variable.

type Env = Record<string, string | undefined>

export class ConfigError extends Error {}

const KiB = 1024
const MiB = 1024 * KiB

// [name, default, min, max, why]. The README's configuration table repeats this.
export const limits = {
  BODY_BYTES_MAX: [10 * MiB, 1, 256 * MiB, 'request body after gzip decoding; bounds memory per request'],
  EVENT_BYTES_MAX: [8 * MiB, 64, 256 * MiB, 'one event serialised; a jsonb row this size is still cheap to write'],
  BATCH_EVENTS_MAX: [10_000, 1, 100_000, 'events in one batch request (API contract)'],
  JSON_DEPTH_MAX: [32, 2, 1000, 'nesting of properties/context; deep JSON is a parser DoS, never real data'],
  ID_CHARS_MAX: [128, 8, 1024, 'event id length (API contract)'],
  NAME_CHARS_MAX: [200, 1, 1024, 'event name length (API contract)'],
  PROPERTIES_KEYS_MAX: [1_000, 1, 100_000, 'top-level keys in properties/context; wide objects are a jsonb CPU trap'],
  QUEUE_EVENTS_MAX: [100_000, 1, 10_000_000, 'events waiting for a flush; about 10 s of peak load'],
  QUEUE_BYTES_MAX: [64 * MiB, 1 * KiB, 4096 * MiB, 'bytes waiting for a flush; this is what keeps RSS bounded under 10k connections'],
  FLUSH_BATCH_ROWS_MAX: [5_000, 1, 100_000, 'rows per Postgres transaction, whole requests only (a larger request is flushed alone, so a request is never split between transactions); 11 array params, so not bound by the 65,534-parameter cap, but a bigger batch only adds commit latency'],
  FLUSH_BATCH_BYTES_MAX: [16 * MiB, 1 * KiB, 1024 * MiB, 'bytes per Postgres transaction; bounds one statement\'s size'],
  FLUSHERS: [2, 1, 16, 'concurrent flush transactions at most; the second runs only for large batches (FLUSH_OVERLAP_ROWS_MIN)'],
  FLUSH_OVERLAP_ROWS_MIN: [500, 1, 100_000, 'rows that must wait before a flush starts beside one in flight; fewer wait for it and go in the next commit, which doubled events per transaction for single-event load (measured)'],
  FLUSH_COMMIT_MS_MAX: [1_000, 10, 600_000, 'a Postgres commit slower than this is given up and the batch goes to the spill'],
  PG_POOL_MAX: [8, 2, 200, 'Postgres connections: flushers + reads + drainer'],
  PG_CONNECT_TIMEOUT_S: [5, 1, 120, 'give up connecting to Postgres after this'],
  PG_IDLE_TIMEOUT_S: [60, 0, 86_400, 'close idle Postgres connections after this (0: never)'],
  PG_STATEMENT_TIMEOUT_MS: [10_000, 100, 3_600_000, 'a read or a report is cancelled in Postgres after this and answered 503: it never holds a request or a connection longer'],
  SPILL_BYTES_MAX: [1024 * MiB, 64 * KiB, 1024 * 1024 * MiB, 'local spill file; past it writes get 503'],
  SPILL_RESERVE_BYTES: [16 * MiB, 0, 1024 * MiB, 'disk kept free beside the spill (a reserve file) and released when a delete cannot be written, so a spill that filled its disk can still drain; covers a WAL checkpoint (~4 MiB) and a drain batch\'s deletes'],
  DRAIN_BATCH_ROWS_MAX: [2_000, 1, 5_000, 'rows replayed from the spill per Postgres transaction'],
  DRAIN_COMMIT_MS_MAX: [10_000, 10, 600_000, 'a replay slower than this is abandoned (it is idempotent) and Postgres is probed before the next'],
  PG_PROBE_INTERVAL_MS: [1_000, 10, 60_000, 'how often `select 1` checks Postgres; bounds how long recovery goes unnoticed'],
  KEY_CACHE_ENTRIES_MAX: [10_000, 1, 10_000_000, 'API keys remembered in memory'],
  KEY_CACHE_TTL_MS: [2_000, 0, 5_000, 'a revoked key stops working within this (contract: 5 s)'],
  KEY_CACHE_STALE_IF_ERROR_MS: [60_000, 0, 3_600_000, 'while Postgres is down a key (or webhook token) seen before keeps working this long past its TTL, then 503: the longest a revoked key can keep working during an outage'],
  WEBHOOK_TOLERANCE_S: [300, 1, 3_600, 'a signed timestamp (Stripe t=) further than this from now is stale: bounds replay of a captured delivery'],
  WEBHOOK_ROTATION_OVERLAP_S: [86_400, 0, 30 * 86_400, 'after a secret rotation the old secret verifies this long, so retried deliveries signed with it land'],
  MEMBERSHIP_CACHE_ENTRIES_MAX: [100_000, 0, 10_000_000, 'user-day memberships (with their hour bits and first time) known to be stored, so a flush does not write them again (~160 B each, measured: ~16 MiB); 0 writes every one'],
  RATE_LIMIT_PROJECTS_MAX: [100_000, 1, 10_000_000, 'token buckets kept in memory'],
  REPLICA_CHECK_MS_MAX: [250, 10, 10_000, 'with DATABASE_READ_URL, the primary\'s WAL position or the replica\'s replay position not known within this sends the read to the primary (and a silent replica is left alone for PG_PROBE_INTERVAL_MS)'],
  RATE_LIMIT_LEASE_PERMILLE: [10, 1, 1000, 'with INLET_PROCESSES > 1 a process leases a project\'s tokens from Postgres in chunks of this share of its plan divided by INLET_PROCESSES; what the processes hold unspent (1.5 chunks each) bounds the error: 10 keeps it within 1.5% at ~1.7 leases/s per process at the limit'],
  RATE_LIMIT_LEASE_INTERVAL_MS_MIN: [20, 1, 1_000, 'a project at its limit leases at most this often per process (<= 50 leases/s at 20); a request finding no tokens waits up to this for the next lease instead of being refused while the shared bucket refills'],
  RATE_LIMIT_LEASE_MS_MAX: [250, 10, 10_000, 'a token lease unanswered this long is given up; the process then enforces its share of the plan (rpm / INLET_PROCESSES) in memory until Postgres is back'],
  QUERY_LIMIT_MAX: [1_000, 1, 100_000, 'events per list page (API contract)'],
  REPORT_RANGE_DAYS_MAX: [92, 1, 3660, 'widest from..to a report may cover'],
  REPORT_BUCKETS_MAX: [10_000, 1, 1_000_000, 'buckets in one counts series'],
  REPORT_STEPS_MAX: [10, 2, 100, 'steps in one funnel'],
  REPORT_PERIODS_MAX: [52, 1, 1000, 'periods in one retention report'],
  REPORT_WORK_MEM_KB: [32_768, 64, 1_048_576, 'Postgres work_mem of one report query: the distinct (minute, user) pairs of counts by minute are hashed in memory (a day of a 2M-event project: a few MB); REPORT_QUERIES_MAX run at once'],
  REPORT_PARALLEL_WORKERS_MAX: [0, 0, 64, 'Postgres parallel workers one report query may use (max_parallel_workers_per_gather): on a 2-core host they cost a 30-day funnel 16-80% more Postgres CPU and made it no faster (measured); raise it where cores are idle'],
  REPORT_CACHE_ENTRIES_MAX: [1_000, 0, 1_000_000, 'report results remembered in memory'],
  REPORT_INDEX_BYTES_MAX: [64 * 1_048_576, 1_048_576, 4 * 1_073_741_824, 'bytes of the day index funnels and retention read (src/store/day-index.ts: every event\'s time by user, per name and UTC day; users per day; the user keys): least recently used days first out; a 90-day 2M-event project whole is ~45 MiB'],
  REPORT_INDEX_RECENT_ROWS_MAX: [16_384, 0, 1_048_576, 'rows this process committed last, kept (~100 B each) so that a day the day index loads while they commit gets them instead of being read again by the next report'],
  REPORT_INDEX_COMMIT_WAIT_MS: [250, 0, 10_000, 'a day the day index holds that reads fewer events than its counter while this process has writes unanswered waits this long for them to be told (one may have committed before the report\'s snapshot) before it is read from Postgres again'],
  REPORT_CACHE_TTL_MS: [5_000, 0, 600_000, 'how stale a cached report may be'],
  REPORT_CACHE_STALE_MS: [60_000, 0, 3_600_000, 'past its TTL a cached report is still served this long while a refresh runs on an idle slot, so dashboards never wait on a slow report (0: never); ~60 reports of 0.1-3 s each refresh within it (measured, 10M events)'],
  REPORT_QUERIES_MAX: [3, 1, 100, 'funnels, retention and counts by minute over more than REPORT_MINUTE_LANE_MINUTES_MAX minutes running at once (their Postgres reads, and their turns at the day index), the rest queue; with REPORT_COUNTER_QUERIES_MAX and REPORT_MINUTE_QUERIES_MAX never more than PG_POOL_MAX - FLUSHERS - 1, so reports cannot take the connections flushers need'],
  REPORT_COUNTER_QUERIES_MAX: [1, 1, 100, 'counts by hour or day (rows per bucket from the rollup counters: 3-25 ms over 30 days of a 2M-event project, measured) running at once, in a lane of their own so they never queue behind a funnel or a minute count'],
  REPORT_MINUTE_QUERIES_MAX: [1, 1, 100, 'counts by minute over at most REPORT_MINUTE_LANE_MINUTES_MAX minutes running at once, in a lane of their own (users per minute come from the day index, which reads a day of raw events the first time it is asked for), so they neither queue behind a funnel nor hold the counters up'],
  REPORT_MINUTE_LANE_MINUTES_MAX: [1_440, 0, 1_000_000, 'counts by minute over at most this many minutes run in the REPORT_MINUTE_QUERIES_MAX lane; longer ranges in the REPORT_QUERIES_MAX lane'],
  MEMORY_GC_RSS_BYTES: [192 * MiB, 0, 1024 * 1024 * MiB, 'above this RSS a full garbage collection runs (src/memory.ts): the collector otherwise runs late under a burst and the native memory behind requests and responses piles up (bench W4 at 10,000 users: peak RSS 400-457 MiB without; 287-328 with 256 MiB (5 of 7 runs over 300), 279-306 with 192 (2 of 8), 286-315 with 160 (1 of 3), at the same req/s, W1 stress as fast, measured); 0 never'],
  MEMORY_GC_INTERVAL_MS_MIN: [200, 10, 600_000, 'at most one of those collections per this'],
  MEMORY_GC_LOOP_PERCENT_MAX: [30, 1, 100, 'the share of the event loop those collections may take: after one that took d ms the next waits d x (100 / this - 1) ms (at 10,000 connections one took 50-410 ms; every 200 ms regardless, one W4 run fell from ~5,000 to 2,000 req/s; bench W4 at 10,000 users, peak RSS: 292-306 MiB with 15 (4 of 8 runs over 300), 257-306 with 25 (1 of 8), 262-281 with 30 (0 of 6), at the same req/s, measured)'],
  HTTP_IDLE_TIMEOUT_S: [30, 1, 255, 'a connection idle this long (slowloris) is closed'],
  HTTP_REQUESTS_ACTIVE_MAX: [512, 1, 100_000, 'requests worked on at once, the rest wait their turn holding only the socket; bounds JS memory under 10k connections'],
  HTTP_REQUESTS_QUEUED_MAX: [16_384, 0, 1_000_000, 'requests waiting for a turn; past it 503 at once. Holds 10,000 connections with one request each (bench W4); a waiter whose client has gone is dropped'],
  HTTP_BODY_BYTES_ACTIVE_MAX: [2 * MiB, 1 * KiB, 4096 * MiB, 'body bytes of the requests worked on at once (until answered): declared ones when admitted, chunked ones as they arrive (a chunked body that finds no room is answered 503); a larger body waits until it is the only one. A parsed body and its rows cost ~8x its bytes in JS (bench w1 stress, 1,000 users of 200-event batches: peak RSS 310 MiB with 4 MiB, 271 with 2 at the same events/s; 430-510 with 16 before receipts were kept per flush)'],
  HTTP_REQUEST_TIMEOUT_MS: [30_000, 100, 600_000, 'a request must arrive and be answered within this, or its connection is closed (whole seconds; Bun counts body bytes as no progress)'],
  SHUTDOWN_MS_MAX: [25_000, 100, 600_000, 'SIGTERM drains into Postgres for at most this, then gives up on Postgres and spills what is left'],
  DEAD_LETTER_REPLAY_ROWS_MAX: [1_000, 1, 100_000, 'dead letters retried by one POST /admin/dead-letter/replay, in one transaction'],
  // The console's live stream, receipts and rejection log (src/live/): memory held for
  // people watching, so each is bounded and none can slow or block ingest.
  STREAM_SUBSCRIBERS_MAX: [64, 1, 10_000, 'live streams open at once, all projects together; each holds a socket and up to STREAM_BUFFER_EVENTS_MAX events'],
  STREAM_BUFFER_EVENTS_MAX: [1_000, 1, 1_000_000, 'events waiting for one stream subscriber; past it they are dropped and counted in a `lagged` message, so a slow reader never holds memory or the writer'],
  STREAM_HEARTBEAT_MS: [15_000, 100, 3_600_000, 'a quiet stream sends a heartbeat this often, so HTTP_IDLE_TIMEOUT_S and proxies keep it open and a dead client is noticed (at most half of HTTP_IDLE_TIMEOUT_S is used)'],
  STREAM_COALESCE_MS: [25, 0, 1_000, 'a subscriber is written at most this often, so 20 subscribers cost ~800 socket writes/s whatever the flush rate (adds at most this to ack-to-stream time)'],
  RECEIPT_EVENTS_MAX: [100_000, 0, 10_000_000, 'recently acknowledged events whose durable time and place are remembered for /receipt, kept per flush (~30 MiB RSS at 100,000 single events, measured; older ones answer from Postgres without durable_at)'],
  REJECTIONS_PER_PROJECT_MAX: [100, 1, 10_000, 'recent refusals kept per project for /v1/debug/rejections; each entry is at most ~3 KiB (8 errors, strings cut to 200 chars)'],
  REJECTION_PROJECTS_MAX: [1_000, 1, 1_000_000, 'projects whose refusals are kept; the one refused least recently is forgotten first'],
  LIVE_RELAY_NOTIFIES_MAX: [64, 1, 10_000, 'with INLET_PROCESSES > 1, NOTIFYs in flight relaying live events and refusals to the other processes; past it they are dropped (streams elsewhere say `lagged`), so a slow Postgres never queues relay traffic'],
  // Data lifecycle (src/store/lifecycle.ts): day partitions, the online move, retention.
  PARTITION_AHEAD_DAYS: [7, 1, 366, 'day partitions of events created ahead of today, so no day starts in the default partition; a week outlasts any maintenance outage'],
  PARTITION_PAST_DAYS_MAX: [3_660, 0, 36_600, 'rows older than this many days (wild clocks, old imports) stay in the default partition instead of getting a day partition each, so one client cannot make thousands of tables'],
  PARTITION_LOCK_MS_MAX: [1_000, 10, 60_000, 'DDL on events (attach, drop, the move\'s swap) waits at most this for its lock, then is tried again later: the longest it can hold ingest up behind a long report'],
  LIFECYCLE_INTERVAL_MS: [300_000, 100, 86_400_000, 'how often partitions are created ahead and expired data removed; 5 min keeps retention within minutes of its day boundary'],
  MOVE_BATCH_ROWS: [5_000, 1, 1_000_000, 'rows per transaction of the online move of an unpartitioned events table (~50-100 ms each measured), so no lock or snapshot is held long'],
  RETENTION_DAYS_DEFAULT: [0, 0, 36_600, 'days a project keeps its events when it sets no retention_days; 0 keeps them forever'],
  EXPORT_PAGE_ROWS: [1_000, 1, 100_000, 'events per query of an export; the next page is read only when the socket took this one, so this (~1-2 MiB) is what one export holds in memory'],
  RETENTION_BATCH_ROWS: [5_000, 1, 1_000_000, 'rows deleted per transaction where retention (or erasure) cannot drop a whole partition; bounds its locks and WAL burst'],
  SKEW_MS_MAX: [366 * 24 * 3600_000, 0, 10 * 366 * 24 * 3600_000, 'a clock correction larger than this is ignored as nonsense'],
} as const satisfies Record<string, readonly [number, number, number, string]>

export type LimitName = keyof typeof limits

export interface Config {
  port: number
  host: string
  databaseUrl: string | undefined
  // DATABASE_READ_URL (store/replica.ts): a streaming replica for lists, get-by-id, reports and exports.
  databaseReadUrl: string | undefined
  adminToken: string | undefined
  dataDir: string
  logLevel: 'debug' | 'info' | 'warn' | 'error'
  // pretty: readable lines and a start-up summary, for a person at a terminal.
  logFormat: 'json' | 'pretty'
  spillSynchronous: 'FULL' | 'NORMAL'
  // Test hook: `flush:N` makes the Nth flush hit an assertion (a bug on purpose),
  // to show that a bug crashes the process and loses no acknowledged event.
  failpoints: { flush: number }
  limits: { [K in LimitName]: number }
  // INLET_PROCESSES (src/supervisor.ts): how many Inlet processes share the port;
  // `auto` is one per core. 1 runs no supervisor.
  processes: number
  // Set by the supervisor in each child (INLET_PROCESS_INDEX, 0-based); null when
  // this process is the only one.
  processIndex: number | null
  // INLET_METRICS_PORT: each process also serves /metrics on this port plus its
  // index, so Prometheus scrapes every process (the shared PORT reaches one at random).
  metricsPort: number | null
}

// Enough for a 64-core host; each process owns PG_POOL_MAX + 1 rollup shards
// (store/sink.ts), and shards are smallint.
export const PROCESSES_MAX = 64

function processes(env: Env): Pick<Config, 'processes' | 'processIndex' | 'metricsPort'> {
  const raw = env.INLET_PROCESSES
  const count = raw?.toLowerCase() === 'auto'
    ? Math.min(PROCESSES_MAX, navigator.hardwareConcurrency || 1)
    : integer(env, 'INLET_PROCESSES', 1, 1, PROCESSES_MAX)
  const index = env.INLET_PROCESS_INDEX ? integer(env, 'INLET_PROCESS_INDEX', 0, 0, count - 1) : null
  const metricsPort = env.INLET_METRICS_PORT ? integer(env, 'INLET_METRICS_PORT', 0, 1, 65_535 - count + 1) : null
  return { processes: count, processIndex: index, metricsPort }
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw.replaceAll('_', ''))
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected an integer from ${min} to ${max}`)
  }
  return value
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const found = allowed.find(a => a.toLowerCase() === raw.toLowerCase())
  if (!found) throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected one of ${allowed.join(', ')}`)
  return found
}

function failpoints(raw: string | undefined): Config['failpoints'] {
  const found = { flush: 0 }
  if (!raw) return found
  const m = /^flush:(\d+)$/.exec(raw.trim())
  if (!m) throw new ConfigError(`INLET_FAILPOINTS=${JSON.stringify(raw)} is invalid: expected flush:<n> (a test hook)`)
  found.flush = Number(m[1])
  return found
}

// `terminal`: stdout is a TTY, where the log defaults to readable lines.
export function loadConfig(env: Env = process.env, terminal = process.stdout.isTTY === true): Config {
  const parsed = {} as { [K in LimitName]: number }
  for (const [name, [fallback, min, max]] of Object.entries(limits)) {
    parsed[name as LimitName] = integer(env, name, fallback, min, max)
  }
  const databaseUrl = env.DATABASE_URL || undefined
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL is invalid: expected postgres://user@host:port/database')
  }
  const databaseReadUrl = env.DATABASE_READ_URL || undefined
  if (databaseReadUrl && !/^postgres(ql)?:\/\//.test(databaseReadUrl)) {
    throw new ConfigError('DATABASE_READ_URL is invalid: expected postgres://user@host:port/database (a streaming replica)')
  }
  if (databaseReadUrl && !databaseUrl) throw new ConfigError('DATABASE_READ_URL needs DATABASE_URL: the replica is of that primary')
  const adminToken = env.INLET_ADMIN_TOKEN || undefined
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('INLET_ADMIN_TOKEN is invalid: use at least 16 characters')
  }
  const config: Config = {
    port: integer(env, 'PORT', 3000, 0, 65_535),
    host: env.HOST || '0.0.0.0',
    databaseUrl,
    databaseReadUrl,
    adminToken,
    dataDir: env.INLET_DATA_DIR || './data',
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const),
    logFormat: oneOf(env, 'LOG_FORMAT', terminal ? 'pretty' : 'json', ['json', 'pretty'] as const),
    spillSynchronous: oneOf(env, 'SPILL_SYNCHRONOUS', 'FULL', ['FULL', 'NORMAL'] as const),
    failpoints: failpoints(env.INLET_FAILPOINTS),
    limits: parsed,
    ...processes(env),
  }
  checkRelations(config.limits)
  if (config.processes > 1 && !databaseUrl) {
    throw new ConfigError('INLET_PROCESSES > 1 needs DATABASE_URL: the processes share one Postgres (the embedded one is for trying Inlet out)')
  }
  if (config.processes > 1 && config.port === 0) {
    throw new ConfigError('INLET_PROCESSES > 1 needs a fixed PORT: the processes share it (reusePort)')
  }
  return config
}

// Relations between limits, asserted once so a bad combination fails at start-up
// rather than as a confusing error under load.
function checkRelations(l: Config['limits']) {
  const rule = (ok: boolean, message: string) => { if (!ok) throw new ConfigError(message) }
  rule(l.EVENT_BYTES_MAX <= l.BODY_BYTES_MAX, 'EVENT_BYTES_MAX must not exceed BODY_BYTES_MAX')
  rule(l.BATCH_EVENTS_MAX <= l.QUEUE_EVENTS_MAX, 'BATCH_EVENTS_MAX must not exceed QUEUE_EVENTS_MAX, or a full batch could never be queued')
  rule(l.BODY_BYTES_MAX <= l.QUEUE_BYTES_MAX, 'BODY_BYTES_MAX must not exceed QUEUE_BYTES_MAX, or a full body could never be queued')
  rule(l.EVENT_BYTES_MAX <= l.FLUSH_BATCH_BYTES_MAX, 'EVENT_BYTES_MAX must not exceed FLUSH_BATCH_BYTES_MAX, or a large event could never be flushed')
  rule(l.FLUSHERS + 2 <= l.PG_POOL_MAX, 'PG_POOL_MAX must be at least FLUSHERS + 2 (reads and the drainer need connections too)')
}
