// First-run conveniences. With no INLET_ADMIN_TOKEN, one is generated, kept in the
// data dir (0600) and printed when created. On the embedded default, a `demo`
// project is created and its key printed, so a newcomer can curl within a minute.

import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Config } from '../config'
import type { Log } from '../log'
import type { Sql } from './db'
import { createProject } from './projects'

function readOrCreate(path: string, make: () => string): { value: string; created: boolean } {
  if (existsSync(path)) return { value: readFileSync(path, 'utf8').trim(), created: false }
  const value = make()
  writeFileSync(path, value + '\n', { mode: 0o600 })
  return { value, created: true }
}

// What bootstrap found or made, for the start-up summary.
export interface Bootstrapped {
  adminToken: string
  // env: INLET_ADMIN_TOKEN; generated: made now (shown once); saved: read from the file.
  adminTokenFrom: 'env' | 'generated' | 'saved'
  adminTokenPath?: string
  demo?: { key: string; path: string; created: boolean }
}

// On a terminal (LOG_FORMAT=pretty) the start-up summary shows the token and key;
// otherwise they are printed here, as they always were.
// `sql` is only needed for the embedded default (the supervisor has none).
export async function bootstrap(sql: Sql | null, config: Config, embedded: boolean, log: Log): Promise<Bootstrapped> {
  const print = config.logFormat === 'json' ? (text: string) => console.log(text) : () => {}
  let result: Bootstrapped = { adminToken: config.adminToken ?? '', adminTokenFrom: 'env' }
  if (!config.adminToken) {
    const path = join(config.dataDir, 'admin-token')
    const token = readOrCreate(path, () => `iat_${randomBytes(24).toString('base64url')}`)
    result = { adminToken: token.value, adminTokenFrom: token.created ? 'generated' : 'saved', adminTokenPath: path }
    if (token.created) print(`\n  Admin token (generated, saved in ${path}):\n    ${token.value}\n`)
    else log('info', 'using the generated admin token saved in the data dir', { path })
  }
  if (embedded && sql) {
    const path = join(config.dataDir, 'demo-api-key')
    const [existing] = await sql`select id from projects where name = 'demo' order by id limit 1`
    if (!existing || !existsSync(path)) {
      const { api_key } = await createProject(sql, 'demo', 'pro', null)
      writeFileSync(path, api_key + '\n', { mode: 0o600 })
      print(`  Demo project created. Its API key (saved in ${path}):\n    ${api_key}\n`)
      result.demo = { key: api_key, path, created: true }
    } else {
      const key = readFileSync(path, 'utf8').trim()
      print(`  Demo project API key: ${key}  (from ${path})\n`)
      result.demo = { key, path, created: false }
    }
  }
  return result
}
