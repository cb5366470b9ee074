// Wiring: config → store → pipeline → http, and the signals. Start-up fails fast
// with a message naming what is wrong; SIGTERM/SIGINT drain before exit.

import { mkdirSync } from 'node:fs'
import { AssertionError } from './assert'
import { type Config, ConfigError, loadConfig } from './config'
import { startServer } from './http/server'
import { createInlet, type Inlet } from './inlet'
import { createLog, errorFields } from './log'
import { bootstrap } from './store/bootstrap'
import { connect, fetchTypesOnce } from './store/db'
import { migrate } from './store/migrate'
import { maintainPartitions } from './store/partitions'
import { printStartupSummary } from './summary'
import { childDataDir, supervise } from './supervisor'

// After SHUTDOWN_MS_MAX, how long the spill gets to take what is left before the
// process exits anyway: a spill write of a full buffer takes well under a second.
const SHUTDOWN_SPILL_MS_MAX = 5_000
// How often a supervised process checks that its supervisor is still there.
const PARENT_POLL_MS = 1_000

async function main() {
  let config
  try {
    config = loadConfig()
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`inlet: invalid configuration: ${e.message}`)
      process.exit(2)
    }
    throw e
  }
  const log = createLog(config.logLevel, config.logFormat)
  mkdirSync(config.dataDir, { recursive: true })
  // INLET_PROCESSES > 1: this process only supervises the ones that serve.
  if (config.processes > 1 && config.processIndex === null) return await supervise(config, log)
  if (config.processIndex !== null) {
    config = { ...config, dataDir: childDataDir(config.dataDir, config.processIndex) }
    mkdirSync(config.dataDir, { recursive: true })
  }

  let databaseUrl = config.databaseUrl
  let stopEmbedded: (() => Promise<void>) | undefined
  if (!databaseUrl) {
    const { startEmbeddedPostgres } = await import('./embedded/postgres')
    const embedded = await startEmbeddedPostgres({ dataDir: `${config.dataDir}/postgres`, log })
      .catch(cause => {
        if (!/Cannot find (package|module)/.test(String(cause?.message))) throw cause
        throw new Error('DATABASE_URL is not set and the embedded Postgres is not in this build '
          + '(it comes with `bun run start`, not the compiled binary): set DATABASE_URL', { cause })
      })
    databaseUrl = embedded.url
    stopEmbedded = embedded.stop
    log('info', 'no DATABASE_URL: running on the embedded Postgres (for trying Inlet out)', { dataDir: `${config.dataDir}/postgres` })
  }

  const sql = connect(databaseUrl, config.limits, (msg, fields) => log('debug', msg, fields as Record<string, unknown>))
  const applied = await migrate(sql)
  if (applied.length) log('info', 'migrations applied', { applied })
  await fetchTypesOnce(sql)
  // Today's and the coming days' partitions, before the first event (src/store/partitions.ts).
  await maintainPartitions(sql, config.limits)
  const boot = await bootstrap(sql, config, !config.databaseUrl, log)
  config = { ...config, adminToken: boot.adminToken }

  const inlet = createInlet(config, sql, log)
  const pipeline = inlet.deps.pipeline
  // A promise a library dropped (postgres.js rejects some it holds no handle to when
  // a connection dies mid-handshake) is logged and counted, never the end of the
  // process; one of our assertions is a bug, and stops it.
  process.on('unhandledRejection', reason => {
    if (reason instanceof AssertionError) return inlet.deps.onBug(reason, { where: 'unhandled rejection' })
    const code = (reason as { code?: string })?.code ?? 'unknown'
    inlet.deps.metrics.backgroundErrors.inc({ loop: 'unhandled_rejection', code })
    inlet.deps.log('error', 'a promise failed with nobody waiting for it; carrying on', { code, ...errorFields(reason) })
  })
  const server = startServer(inlet.deps, inlet.app)
  log('info', 'inlet listening', { url: `http://${config.host}:${server.port}`, docs: `http://localhost:${server.port}/swagger` })
  printStartupSummary(config, { port: server.port ?? config.port, databaseUrl, boot })
  const metricsServer = serveMetrics(config, inlet.app)

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    log('info', 'shutting down: intake stopped, draining the buffer', { signal, buffered: pipeline.queue.depth })
    // Stop accepting connections but let in-flight requests finish: they wait on acks.
    server.stop(false)
    metricsServer?.stop(true)
    const limitMs = config.limits.SHUTDOWN_MS_MAX
    const deadline = performance.now() + limitMs
    // Past SHUTDOWN_MS_MAX, Postgres is given up on: what is buffered or in flight
    // goes to the spill (the next start drains it), which takes milliseconds.
    const giveUp = setTimeout(() => {
      log('warn', 'shutdown reached SHUTDOWN_MS_MAX: spilling what is left instead of waiting for Postgres',
        { buffered: pipeline.queue.depth, inFlight: pipeline.inFlight })
      inlet.spillEverything()
    }, limitMs)
    // Last resort, for a spill that cannot be written either (a hung disk): what is
    // still unanswered was never acknowledged, so exiting loses nothing promised.
    const hardStop = setTimeout(() => {
      log('error', 'shutdown could not finish; exiting with unanswered requests (none of them was acknowledged)',
        { buffered: pipeline.queue.depth, inFlight: pipeline.inFlight })
      process.exit(1)
    }, limitMs + SHUTDOWN_SPILL_MS_MAX)
    try {
      await inlet.close()
      // Queries still open to a Postgres that is away or frozen are stuck on dead
      // sockets: their batches are in the spill, so they are dropped, not waited for.
      const leftS = Math.max(0, (deadline - performance.now()) / 1000)
      await sql.end({ timeout: inlet.deps.health.postgresUp() ? Math.min(5, leftS) : 0 })
      await stopEmbedded?.()
    } catch (e) {
      log('error', 'error during shutdown', errorFields(e))
    }
    clearTimeout(giveUp)
    clearTimeout(hardStop)
    log('info', 'stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
  // A supervised process whose supervisor was killed (-9) drains and stops rather
  // than serving on unsupervised.
  if (config.processIndex !== null) {
    const parent = process.ppid
    setInterval(() => { if (process.ppid !== parent) void shutdown('supervisor gone') }, PARENT_POLL_MS).unref()
  }
}

// INLET_METRICS_PORT: this process's /metrics alone, on the port plus its index.
function serveMetrics(config: Config, app: Inlet['app']) {
  if (config.metricsPort === null) return null
  return Bun.serve({
    port: config.metricsPort + (config.processIndex ?? 0),
    hostname: config.host,
    development: false,
    fetch: request => (request.method === 'GET' && new URL(request.url).pathname === '/metrics'
      ? app.handle(new Request('http://localhost/metrics'))
      : new Response('only GET /metrics here\n', { status: 404 })),
  })
}

// `inlet --healthcheck`: exit 0 when /health answers, for Docker's HEALTHCHECK in an
// image that has no curl.
async function healthcheck() {
  const port = process.env.PORT || '3000'
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) })
    process.exit(response.ok ? 0 : 1)
  } catch {
    process.exit(1)
  }
}

;(process.argv.includes('--healthcheck') ? healthcheck() : main()).catch(e => {
  console.error('inlet: start-up failed:', e instanceof Error ? e.message : e)
  process.exit(1)
})
