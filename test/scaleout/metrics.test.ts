// INLET_METRICS_PORT with INLET_PROCESSES=2: each process serves its own /metrics on
// the port plus its index, and the series of the two add up to what the shared port
// served, so a Prometheus server scraping both can sum them.

import { expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { until } from '../durability/support'
import { createTestDatabase } from '../support/pg-cluster'
import { freePort, freePorts, startServer } from '../support/server'
import { ADMIN_TOKEN, createProject, series } from './support'

test('each process has its own /metrics port; their request counts sum to the requests sent', async () => {
  const db = await createTestDatabase(process.env.INLET_TEST_ADMIN_URL!)
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-metrics-'))
  const port = await freePort()
  const metricsPort = await freePorts(2, [port])
  const server = await startServer({
    DATABASE_URL: db.url, INLET_DATA_DIR: dataDir, INLET_ADMIN_TOKEN: ADMIN_TOKEN, INLET_PROCESSES: '2',
    PORT: String(port), INLET_METRICS_PORT: String(metricsPort),
  })
  try {
    const scrape = (i: number) => fetch(`http://127.0.0.1:${metricsPort + i}/metrics`).then(r => r.text())
    await until('both processes to serve metrics', () => Promise.all([scrape(0), scrape(1)]).then(() => true, () => false), 30_000)
    const { api_key } = await createProject(server.url)
    const sent = 60
    for (let n = 0; n < sent; n++) {
      const r = await fetch(`${server.url}/v1/events`, {
        method: 'POST', keepalive: false, headers: { authorization: `Bearer ${api_key}` },
        body: JSON.stringify({ id: `m${n}`, name: 'Metered', timestamp: '2026-11-22T10:00:00.000Z' }),
      })
      expect(r.status).toBe(200)
    }
    const [m0, m1] = await Promise.all([scrape(0), scrape(1)])
    const name = 'inlet_http_requests_total{route="/v1/events",status="200"}'
    expect(series(m0, name) + series(m1, name)).toBe(sent)
    expect(m0).toContain('inlet_process_info{index="0"')
    expect(m1).toContain('inlet_process_info{index="1"')
    expect((await fetch(`http://127.0.0.1:${metricsPort}/v1/events`)).status).toBe(404)
    console.log(`metrics: ${sent} requests on the shared port, ${series(m0, name)} served by process 0 and ${series(m1, name)} by process 1`)
  } finally {
    await server.kill('SIGTERM')
    await db.drop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}, 60_000)
