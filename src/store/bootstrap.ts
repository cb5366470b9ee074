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

export async function bootstrap(sql: Sql, config: Config, embedded: boolean, log: Log): Promise<string> {
  let adminToken = config.adminToken
  if (!adminToken) {
    const path = join(config.dataDir, 'admin-token')
    const token = readOrCreate(path, () => `iat_${randomBytes(24).toString('base64url')}`)
    adminToken = token.value
    if (token.created) console.log(`\n  Admin token (generated, saved in ${path}):\n    ${adminToken}\n`)
    else log('info', 'using the generated admin token saved in the data dir', { path })
  }
  if (embedded) {
    const path = join(config.dataDir, 'demo-api-key')
    const [existing] = await sql`select id from projects where name = 'demo' order by id limit 1`
    if (!existing || !existsSync(path)) {
      const { api_key } = await createProject(sql, 'demo', 'pro', null)
      writeFileSync(path, api_key + '\n', { mode: 0o600 })
      console.log(`  Demo project created. Its API key (saved in ${path}):\n    ${api_key}\n`)
    } else {
      console.log(`  Demo project API key: ${readFileSync(path, 'utf8').trim()}  (from ${path})\n`)
    }
  }
  return adminToken
}
