// Inlet with its request path whole and its storage taken out, for the bench's CPU
// budget: the same code under test (INLET_CODE_DIR, the bench's frozen copy), the
// same HTTP server, auth, validation, queue, group commit and acks, but each flush
// is answered "accepted" after NO_STORAGE_FLUSH_MS (the real flushes' mean, so the
// batches are as big) instead of being written. Its server CPU per request beside
// Inlet's own says how much of it is the request path and how much the write.
// It stores nothing: a bench baseline, never a way to run Inlet.
//
// Usage: INLET_CODE_DIR=… NO_STORAGE_FLUSH_MS=… DATABASE_URL=… INLET_ADMIN_TOKEN=… PORT=… bun bench/baselines/no-storage.ts

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

const code = process.env.INLET_CODE_DIR ?? join(import.meta.dir, '../..')
const flushMs = Number(process.env.NO_STORAGE_FLUSH_MS ?? 1)
const from = (path: string) => import(join(code, 'src', path))

const { loadConfig } = await from('config.ts')
const { createLog } = await from('log.ts')
const { connect, fetchTypesOnce } = await from('store/db.ts')
const { migrate } = await from('store/migrate.ts')
const { maintainPartitions } = await from('store/partitions.ts')
const { bootstrap } = await from('store/bootstrap.ts')
const { createInlet } = await from('inlet.ts')
const { startServer } = await from('http/server.ts')

let config = loadConfig()
const log = createLog(config.logLevel, config.logFormat)
mkdirSync(config.dataDir, { recursive: true })
// Postgres is still there for what is not a write (keys, projects, /ready).
const sql = connect(config.databaseUrl, config.limits, () => {})
await migrate(sql)
await fetchTypesOnce(sql)
await maintainPartitions(sql, config.limits)
const boot = await bootstrap(sql, config, false, log)
config = { ...config, adminToken: boot.adminToken }

const primary = {
  write(rows: unknown[]) {
    const committed = Bun.sleep(flushMs).then(() => rows.map(() => 'accepted' as const))
    return { committed, settle: async () => 'unknown' as const }
  },
}
const inlet = createInlet(config, sql, log, { primary })
const server = startServer(inlet.deps, inlet.app)
log('info', 'inlet (no storage) listening', { port: server.port, flushMs })
process.on('SIGTERM', () => process.exit(0))
