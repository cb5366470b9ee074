// Wiring: config → store → pipeline → http, and the signals. Start-up fails fast
// with a message naming what is wrong; SIGTERM/SIGINT drain before exit.

import { mkdirSync } from 'node:fs'
import { ConfigError, loadConfig } from './config'
import { startServer } from './http/server'
import { createInlet } from './inlet'
import { createLog, errorFields } from './log'
import { bootstrap } from './store/bootstrap'
import { connect, fetchTypesOnce } from './store/db'
import { migrate } from './store/migrate'
import { printStartupSummary } from './summary'

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

  let databaseUrl = config.databaseUrl
  let stopEmbedded: (() => Promise<void>) | undefined
  if (!databaseUrl) {
    const { startEmbeddedPostgres } = await import('./store/embedded')
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
  const boot = await bootstrap(sql, config, !config.databaseUrl, log)
  config = { ...config, adminToken: boot.adminToken }

  const inlet = createInlet(config, sql, log)
  const pipeline = inlet.deps.pipeline
  const server = startServer(inlet.deps, inlet.app)
  log('info', 'inlet listening', { url: `http://${config.host}:${server.port}`, docs: `http://localhost:${server.port}/swagger` })
  printStartupSummary(config, { port: server.port ?? config.port, databaseUrl, boot })

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    log('info', 'shutting down: intake stopped, draining the buffer', { signal, buffered: pipeline.queue.depth })
    // Stop accepting connections but let in-flight requests finish: they wait on acks.
    server.stop(false)
    const timer = setTimeout(() => {
      log('error', 'shutdown took longer than SHUTDOWN_MS_MAX; exiting', { buffered: pipeline.queue.depth })
      process.exit(1)
    }, config.limits.SHUTDOWN_MS_MAX)
    try {
      await inlet.close()
      // With Postgres away, queries still open are stuck on dead sockets: drop them
      // (their batches are in the spill) instead of waiting for them.
      await sql.end({ timeout: inlet.deps.health.postgresUp() ? 5 : 0 })
      await stopEmbedded?.()
    } catch (e) {
      log('error', 'error during shutdown', errorFields(e))
    }
    clearTimeout(timer)
    log('info', 'stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
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
