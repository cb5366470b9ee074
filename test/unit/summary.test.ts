// The start-up summary a person reads at a terminal: every address and key they
// need, which Postgres, and never a database password; nothing off a terminal.
import { expect, test } from 'bun:test'
import { loadConfig } from '../../src/config'
import type { Bootstrapped } from '../../src/store/bootstrap'
import { printStartupSummary, startupSummary } from '../../src/summary'

const generated: Bootstrapped = {
  adminToken: 'iat_generatedTokenValue', adminTokenFrom: 'generated', adminTokenPath: 'data/admin-token',
  demo: { key: 'ik_demoKeyValue', path: 'data/demo-api-key', created: true },
}

test('on the embedded default it lists the addresses, the demo key, the admin token, the cluster and its log', () => {
  const config = loadConfig({ PORT: '3000' }, true)
  const text = startupSummary(config, { port: 3000, databaseUrl: 'postgres://postgres:inlet@127.0.0.1:54329/inlet', boot: generated })
  expect(text).toContain('Listening    0.0.0.0:3000')
  expect(text).toContain('Console      http://localhost:3000/\n')
  expect(text).toContain('Swagger      http://localhost:3000/swagger\n')
  expect(text).toContain('Demo key     ik_demoKeyValue  (project "demo"; saved in ./data/demo-api-key)')
  expect(text).toContain('Admin token  iat_generatedTokenValue  (generated now; saved in ./data/admin-token)')
  expect(text).toContain('Postgres     embedded, on 127.0.0.1:54329/inlet, data in ./data/postgres (its own log: ./data/postgres.log)')
  expect(text).toContain('Data dir     ./data  (the spill, the embedded cluster and generated keys)')
  expect(text).toContain(`curl -s http://localhost:3000/v1/events -H "Authorization: Bearer ik_demoKeyValue"`)
  expect(text).not.toContain(':inlet@')
})

test('with DATABASE_URL it names user, host and database but never the password', () => {
  const url = 'postgres://inlet:s3cret-pw@db.internal:6432/events'
  const config = loadConfig({ DATABASE_URL: url, INLET_ADMIN_TOKEN: 'x'.repeat(16), HOST: '127.0.0.1', INLET_DATA_DIR: '/var/lib/inlet' }, true)
  const text = startupSummary(config, { port: 8080, databaseUrl: url, boot: { adminToken: 'x'.repeat(16), adminTokenFrom: 'env' } })
  expect(text).toContain('Postgres     inlet@db.internal:6432/events  (DATABASE_URL)')
  expect(text).toContain('Console      http://127.0.0.1:8080/')
  expect(text).toContain('Admin token  from INLET_ADMIN_TOKEN')
  expect(text).toContain('Data dir     /var/lib/inlet  (the spill and generated keys)')
  expect(text).not.toContain('s3cret-pw')
  expect(text).not.toContain('x'.repeat(16))
  expect(text).not.toContain('Demo key')
})

test('a saved admin token is shown by its file, not its value', () => {
  const config = loadConfig({}, true)
  const boot: Bootstrapped = { ...generated, adminTokenFrom: 'saved' }
  const text = startupSummary(config, { port: 3000, databaseUrl: 'postgres://postgres:inlet@127.0.0.1:54329/inlet', boot })
  expect(text).toContain('Admin token  saved in ./data/admin-token')
  expect(text).not.toContain('iat_generatedTokenValue')
})

test('it is printed with LOG_FORMAT=pretty and not with json', () => {
  const facts = { port: 3000, databaseUrl: 'postgres://postgres:inlet@127.0.0.1:54329/inlet', boot: generated }
  const written: string[] = []
  printStartupSummary(loadConfig({}, false), facts, text => written.push(text))
  expect(written).toEqual([])
  printStartupSummary(loadConfig({ LOG_FORMAT: 'pretty' }, false), facts, text => written.push(text))
  expect(written).toHaveLength(1)
  expect(written[0]).toContain('Inlet is ready')
})
