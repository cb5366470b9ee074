// The image users deploy, built from the repo's Dockerfile by podman (bases made
// from Debian's packages, no registry) and run against a real Postgres with a named
// volume at /data: what it contains, that it serves and passes its healthcheck, that
// `podman stop` drains every acknowledged event into Postgres, and that events acked
// into the spill while Postgres is down outlive their container and are drained by
// the next one on the same volume. Skipped, with the reason, where podman cannot run;
// .ci/run sets INLET_CONTAINER_TEST_REQUIRED=1 so CI fails instead of skipping.

import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config'
import { connect } from '../../src/store/db'
import { event, storedCheck, until } from '../durability/support'
import { createTestDatabase, startThrowawayCluster, type TestDatabase, type ThrowawayCluster } from '../support/pg-cluster'
import { freePort } from '../support/server'
import {
  buildImages, type Container, imageBytes, imageConfig, type Images, podman, removeAll, ROOT, runInlet, skipReason,
  stopContainer, ulimits, volumeName, volumePath,
} from './podman'

const ADMIN = 'container-admin-token-0123456789'
const MiB = 1024 * 1024
// Debootstrap (~35 s, only when no cached base) plus three image builds (~15 s) on a
// loaded 2-core box.
const BUILD_TIMEOUT_MS = 240_000
const TEST_TIMEOUT_MS = 90_000
// Fast failover, so the spill test does not wait on timeouts: a commit gets 300 ms,
// Postgres is probed every 100 ms.
const FAST_FAILOVER = { FLUSH_COMMIT_MS_MAX: '300', PG_PROBE_INTERVAL_MS: '100' }

const reason = skipReason()
if (reason) console.warn(`test/container: skipped, ${reason}`)
if (reason && process.env.INLET_CONTAINER_TEST_REQUIRED === '1') {
  test('the container tests run where INLET_CONTAINER_TEST_REQUIRED=1 asks for them', () => {
    throw new Error(`the container tests cannot run: ${reason}`)
  })
}

// Skipped tests are reported as skipped; hooks are left out, or bun counts them too.
const it = reason === null ? test : test.skip
const before = reason === null ? beforeAll : () => {}
const after = reason === null ? afterAll : () => {}

const log = (msg: string) => console.log(`container: ${msg}`)
const json = async (url: string, init: RequestInit & { key?: string } = {}) => {
  const headers = { ...init.headers as Record<string, string>, ...(init.key ? { authorization: `Bearer ${init.key}` } : {}) }
  const r = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(10_000) })
  return { status: r.status, body: await r.json().catch(() => null) as any }
}
const createProject = async (c: Container) => {
  const r = await json(`${c.url}/admin/projects`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ name: 'container', plan: 'enterprise', rate_limit_rpm: 10_000_000 }),
  })
  expect(r.status).toBe(201)
  return r.body as { id: number; api_key: string }
}
const ingest = (c: Container, key: string, events: object[]) =>
  json(`${c.url}/v1/events/batch`, { method: 'POST', key, body: JSON.stringify({ events }) })
const rssBytes = async (c: Container) => {
  const pid = (await podman(['inspect', '--format', '{{.State.Pid}}', c.name])).stdout.trim()
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)![1]) * 1024
}

describe('the container image', () => {
  let images: Images
  before(async () => { images = await buildImages(log) }, BUILD_TIMEOUT_MS)
  after(async () => { await removeAll() }, 60_000)

  it('both targets hold the slim base, the binary and sql/ only, run as a non-root user, and refuse to start without DATABASE_URL', async () => {
    const base = await imageBytes(images.base)
    for (const image of [images.inlet, images.prebuilt]) {
      const config = await imageConfig(image)
      expect(config.User).toBe('inlet')
      expect(config.Config.StopSignal).toBe('SIGTERM')
      expect(Object.keys(config.Config.Volumes)).toEqual(['/data'])
      expect(config.Healthcheck.Test).toEqual(['CMD', '/app/inlet', '--healthcheck'])
      expect(config.Config.Entrypoint).toEqual(['/app/inlet'])
      expect(config.Config.Env).toContain('INLET_DATA_DIR=/data')
      // Nothing else came in with the build context (node_modules, data/, .git):
      // the image is the base plus one binary the size of dist/inlet, plus sql/.
      const added = (await imageBytes(image)) - base
      expect(added).toBeGreaterThan(images.binaryBytes - MiB)
      expect(added).toBeLessThan(images.binaryBytes + MiB)
      const ls = await podman(['run', '--rm', ...ulimits(), '--entrypoint', '/bin/sh', image, '-c', 'id -u; ls /app /app/sql'])
      expect(ls.stdout.split('\n')[0]).toBe('10001')
      for (const f of readdirSync(join(ROOT, 'sql'))) expect(ls.stdout).toContain(f)
      // No embedded Postgres inside: the binary says DATABASE_URL is needed.
      const bare = await podman(['run', '--rm', ...ulimits(), image], { allowFail: true })
      expect(bare.code).toBe(1)
      expect(bare.stderr).toContain('DATABASE_URL is not set and the embedded Postgres is not in this build')
    }
    const size = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`
    log(`image ${size(await imageBytes(images.inlet))}: base ${size(base)} + binary ${size(images.binaryBytes)} + sql/`)
  }, TEST_TIMEOUT_MS)

  describe('against the shared Postgres', () => {
    let db: TestDatabase
    before(async () => { db = await createTestDatabase(process.env.INLET_TEST_ADMIN_URL!) }, 30_000)
    after(async () => { await db.drop() }, 30_000)

    it('it migrates from sql/, serves /health, Swagger offline and an ingested event, passes its healthcheck, and podman stop drains every acknowledged event', async () => {
      const c = await runInlet(images.inlet, volumeName('shared'), await freePort(), { DATABASE_URL: db.url, INLET_ADMIN_TOKEN: ADMIN })
      const sql = connect(db.url, loadConfig({}).limits, () => {})
      try {
        const applied = (await sql`select name from schema_migrations order by version`).map(r => r.name)
        expect(applied).toEqual(readdirSync(join(ROOT, 'sql')).filter(f => f.endsWith('.sql')).sort())
        expect(await json(`${c.url}/health`)).toEqual({ status: 200, body: { status: 'ok' } })
        expect((await podman(['healthcheck', 'run', c.name], { allowFail: true })).code).toBe(0)
        // The other side: the same command fails when nothing answers on its port.
        const down = await podman(['exec', '-e', `PORT=${await freePort()}`, c.name, '/app/inlet', '--healthcheck'], { allowFail: true })
        expect(down.code).toBe(1)

        const page = await fetch(`${c.url}/swagger`).then(r => r.text())
        expect(page).toContain('/swagger/assets/swagger-ui-bundle.js')
        const bundle = await fetch(`${c.url}/swagger/assets/swagger-ui-bundle.js`)
        expect(bundle.status).toBe(200)
        expect((await bundle.text()).length).toBeGreaterThan(500_000)

        const p = await createProject(c)
        expect((await json(`${c.url}/v1/events`, { method: 'POST', key: p.api_key, body: JSON.stringify(event('first')) })).body)
          .toEqual({ id: 'first', status: 'accepted' })
        const read = await json(`${c.url}/v1/events/first`, { key: p.api_key })
        expect(read.status).toBe(200)
        expect(read.body).toMatchObject({ id: 'first', name: 'Durable', properties: { n: 'first' } })
        await Bun.sleep(2_000) // idle
        log(`ready ${c.readyMs.toFixed(0)} ms after podman run (which returned in ${c.runMs.toFixed(0)} ms), migrations included; idle RSS ${((await rssBytes(c)) / MiB).toFixed(1)} MiB`)

        // Load from 8 clients, then `podman stop` in the middle of it.
        const acked: string[] = ['first']
        let stopping = false
        let refused = 0
        const clients = Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; !stopping; i++) {
            const events = Array.from({ length: 20 }, (_, k) => event(`w${w}-${i}-${k}`))
            const r = await ingest(c, p.api_key, events).catch(() => null)
            if (r?.status === 200) acked.push(...events.map(e => e.id))
            else { refused++; await Bun.sleep(10) }
          }
        })
        await until('2,000 events acknowledged', () => acked.length >= 2_000, 30_000)
        const code = await stopContainer(c.name)
        stopping = true
        await Promise.all(clients)
        expect(code).toBe(0)
        expect(await c.logs()).toContain('"msg":"stopped"')
        const check = await storedCheck(sql, p.id, acked)
        log(`podman stop under load: ${acked.length} acknowledged, ${check.stored} stored, ${check.missing} missing, ${refused} refused while stopping`)
        expect(check).toMatchObject({ missing: 0, duplicated: 0, stored: acked.length, rollup: acked.length })
      } finally {
        await sql.end({ timeout: 5 })
      }
    }, TEST_TIMEOUT_MS)
  })

  describe('with Postgres stopped', () => {
    let cluster: ThrowawayCluster
    let db: TestDatabase
    before(async () => {
      cluster = await startThrowawayCluster()
      db = await createTestDatabase(cluster.url)
    }, 60_000)
    after(async () => { await cluster?.destroy() }, 60_000)

    it('events acked into the spill in the volume survive podman kill and rm, and a new container on the volume drains them into Postgres', async () => {
      const volume = volumeName('spill')
      await podman(['volume', 'create', volume])
      const env = { DATABASE_URL: db.url, INLET_ADMIN_TOKEN: ADMIN, ...FAST_FAILOVER }
      const a = await runInlet(images.inlet, volume, await freePort(), env)
      const p = await createProject(a)
      expect((await ingest(a, p.api_key, [event('before')])).status).toBe(200)

      await cluster.stop()
      // More than one drain transaction's worth (DRAIN_BATCH_ROWS_MAX, 2,000).
      const acked: string[] = []
      for (let i = 0; i < 125; i++) {
        const events = Array.from({ length: 20 }, (_, k) => event(`down-${i}-${k}`))
        const r = await ingest(a, p.api_key, events)
        expect(r.status).toBe(200)
        expect(r.body.results.every((x: { status: string }) => x.status === 'accepted')).toBe(true)
        acked.push(...events.map(e => e.id))
      }
      await until('/ready to report Postgres down and the spill holding every ack', async () => {
        const r = await json(`${a.url}/ready`)
        return r.body?.postgres === 'down' && r.body?.spill?.pending === acked.length
      }, 10_000)
      // Read-your-writes from the spill while Postgres is away.
      expect((await json(`${a.url}/v1/events/down-0-0`, { key: p.api_key })).body).toMatchObject({ id: 'down-0-0' })

      // The container dies without any chance to drain, and is removed.
      await podman(['kill', '--signal', 'KILL', a.name])
      await podman(['rm', a.name])
      const spill = new Database(join(await volumePath(volume), 'spill.sqlite'), { readonly: true })
      const inSpill = (spill.query('select count(*) n from spill where project_id = ? and id like \'down-%\'').get(p.id) as { n: number }).n
      spill.close()
      expect(inSpill).toBe(acked.length)

      await cluster.start()
      const sql = connect(db.url, loadConfig({}).limits, () => {})
      try {
        expect((await storedCheck(sql, p.id, acked)).missing).toBe(acked.length) // none reached Postgres yet
        const t0 = performance.now()
        const b = await runInlet(images.inlet, volume, await freePort(), env)
        await until('the new container to drain the spill', async () => (await storedCheck(sql, p.id, acked)).missing === 0, 30_000)
        const drainMs = performance.now() - t0
        await until('/ready to report an empty spill', async () => (await json(`${b.url}/ready`)).body?.spill?.pending === 0, 10_000)
        const check = await storedCheck(sql, p.id, ['before', ...acked])
        log(`drain across containers: ${acked.length} acked into the spill, ${check.stored - 1} found in Postgres, ${drainMs.toFixed(0)} ms from the new container's podman run (ready in ${b.readyMs.toFixed(0)} ms)`)
        expect(check).toMatchObject({ missing: 0, duplicated: 0, stored: acked.length + 1, rollup: acked.length + 1 })
        expect(await b.logs()).toContain(`"pending":${acked.length}`)
        expect(await stopContainer(b.name)).toBe(0)
      } finally {
        await sql.end({ timeout: 5 })
      }
    }, TEST_TIMEOUT_MS)
  })
})
