// compose.yaml, the README's way to run Inlet with a real Postgres: its fields
// checked against the Dockerfile and the config they must agree with, and the file
// read by a real compose implementation (podman-compose from Debian, in --dry-run:
// postgres:17 cannot be pulled here, so nothing is started). podman-compose 1.0.3
// ignores depends_on conditions and stop_grace_period, so the field check is what
// covers those.

import { afterAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { limits } from '../../src/config'
import { podman, ROOT, run } from './podman'

const compose = Bun.YAML.parse(readFileSync(join(ROOT, 'compose.yaml'), 'utf8')) as any
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
const { inlet, postgres } = compose.services
// `${NAME:?message}` → a stand-in value, as compose substitutes it.
const substitute = (s: string) => s.replace(/\$\{(\w+)(:?[?-][^}]*)?\}/g, (_, name) => `${name.toLowerCase()}0`)

test('compose.yaml runs this Dockerfile\'s image and postgres:17, each on its own named volume, the spill at the image\'s /data', () => {
  expect(postgres.image).toBe('postgres:17')
  expect(inlet.build).toBe('.')
  expect(Object.keys(compose.volumes).sort()).toEqual(['inlet-data', 'postgres-data'])
  const dataVolume = dockerfile.match(/^VOLUME (\S+)$/m)![1]
  expect(inlet.volumes).toEqual([`inlet-data:${dataVolume}`])
  expect(postgres.volumes).toEqual(['postgres-data:/var/lib/postgresql/data'])
  const port = dockerfile.match(/^ENV .*\bPORT=(\d+)/m)![1]
  expect(inlet.ports).toEqual([`${port}:${port}`])
}, 5_000)

test('compose.yaml points DATABASE_URL at the postgres service\'s user and database, and starts Inlet once pg_isready passes', () => {
  const url = new URL(substitute(inlet.environment.DATABASE_URL))
  expect(url.hostname).toBe('postgres')
  expect(url.port).toBe('5432')
  expect(url.username).toBe(postgres.environment.POSTGRES_USER)
  expect(url.password).toBe(substitute(postgres.environment.POSTGRES_PASSWORD))
  expect(url.pathname).toBe(`/${postgres.environment.POSTGRES_DB}`)
  expect(inlet.depends_on).toEqual({ postgres: { condition: 'service_healthy' } })
  const { POSTGRES_USER: user, POSTGRES_DB: database } = postgres.environment
  expect(postgres.healthcheck.test).toEqual(['CMD-SHELL', `pg_isready --username=${user} --dbname=${database}`])
  // Start-up needs Postgres for its migrations: without it Inlet exits, and is restarted.
  expect(inlet.restart).toBe('unless-stopped')
}, 5_000)

test('compose.yaml gives SIGTERM longer than SHUTDOWN_MS_MAX to drain, and requires the admin token and the password to be set', () => {
  const grace = inlet.stop_grace_period.match(/^(\d+)s$/)
  expect(Number(grace[1]) * 1000).toBeGreaterThan(limits.SHUTDOWN_MS_MAX[0])
  expect(inlet.environment.INLET_ADMIN_TOKEN).toMatch(/^\$\{INLET_ADMIN_TOKEN:\?/)
  expect(postgres.environment.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/)
}, 5_000)

const reason = !Bun.which('podman-compose') ? 'podman-compose is not installed (apt-get install podman-compose; .ci/run does)'
  : process.getuid?.() !== 0 ? 'it needs root (rootful podman)' : null
if (reason) console.warn(`test/container/compose: podman-compose check skipped, ${reason}`)
if (reason && process.env.INLET_CONTAINER_TEST_REQUIRED === '1') {
  test('the podman-compose check runs where INLET_CONTAINER_TEST_REQUIRED=1 asks for it', () => {
    throw new Error(`the podman-compose check cannot run: ${reason}`)
  })
}

describe('podman-compose', () => {
  // --dry-run still makes the project's volumes and network; this run removes them.
  const project = `inlet-test-${process.pid}-compose`
  if (reason === null) afterAll(async () => {
    await podman(['volume', 'rm', '--force', `${project}_inlet-data`, `${project}_postgres-data`], { allowFail: true })
    await podman(['network', 'rm', '--force', `${project}_default`], { allowFail: true })
  }, 30_000)
  const up = (env: Record<string, string>) => run(
    ['env', '-u', 'POSTGRES_PASSWORD', '-u', 'INLET_ADMIN_TOKEN', ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      'podman-compose', '--dry-run', '-p', project, '-f', 'compose.yaml', 'up', '-d'],
    { cwd: ROOT, allowFail: true },
  )

  ;(reason === null ? test : test.skip)('podman-compose refuses compose.yaml without the password or the admin token, and with them runs postgres:17 with its healthcheck and Inlet with their volumes, DATABASE_URL and open-files limit', async () => {
    const bare = await up({})
    expect(bare.code).not.toBe(0)
    expect(bare.stderr).toContain('set POSTGRES_PASSWORD')
    const noToken = await up({ POSTGRES_PASSWORD: 'pw0123' })
    expect(noToken.code).not.toBe(0)
    expect(noToken.stderr).toContain('set INLET_ADMIN_TOKEN')

    const ok = await up({ POSTGRES_PASSWORD: 'pw0123', INLET_ADMIN_TOKEN: 'compose-admin-token-0123456789' })
    expect(ok.code).toBe(0)
    const runs = ok.stdout.split('\n').filter(l => l.startsWith('podman run '))
    const pg = runs.find(l => l.includes(`--name=${project}_postgres_1`))!
    const app = runs.find(l => l.includes(`--name=${project}_inlet_1`))!
    expect(pg).toContain(`-v ${project}_postgres-data:/var/lib/postgresql/data`)
    expect(pg).toContain("--healthcheck-command /bin/sh -c 'pg_isready --username=inlet --dbname=inlet'")
    expect(pg).toEndWith(' postgres:17')
    expect(app).toContain(`-v ${project}_inlet-data:/data`)
    expect(app).toContain('-e DATABASE_URL=postgres://inlet:pw0123@postgres:5432/inlet')
    expect(app).toContain('-e INLET_ADMIN_TOKEN=compose-admin-token-0123456789')
    expect(app).toContain('--ulimit nofile=65536')
    expect(app).toContain('-p 3000:3000')
    expect(app).toEndWith(' inlet')
    expect(ok.stdout).toContain('podman build -t inlet -f ./Dockerfile')
  }, 60_000)
})
