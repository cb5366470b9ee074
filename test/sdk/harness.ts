// What the real-SDK tests (test/sdk/*) share: the real server (`bun src/main.ts`) on
// a database of its own, run with the full-buffer rig's settings so one server per
// file serves both the delivery tests and the forced-retry test; projects and
// collector tokens made through the admin API; stored rows read from Postgres.

import { ADMIN_TOKEN as ADMIN, startSegmentServer, type SegmentServer } from '../segment/harness'
import { fullBufferEnv } from '../support/full-buffer'

export { until } from '../segment/harness'

// Events the rig's buffer holds: more than any SDK batch these tests send.
export const QUEUE = 32

export interface Row {
  id: string
  type: string
  name: string
  user_id: string | null
  anonymous_id: string | null
  session_id: string | null
  properties: Record<string, any>
  context: Record<string, any>
  timestamp: Date
}

export interface SdkServer extends SegmentServer {
  events(projectId: number): Promise<Row[]>
  // A new collector token of the project (write-only: what a browser page carries).
  collectorToken(projectId: number): Promise<string>
  // A Snowplow collector URL of the project: `<inlet>/v1/snowplow/<token>`.
  collector(projectId: number): Promise<string>
}

export async function startSdkServer(): Promise<SdkServer> {
  const inlet = await startSegmentServer(fullBufferEnv(QUEUE))
  const collectorToken = async (projectId: number) => {
    const r = await fetch(`${inlet.url}/admin/projects/${projectId}/collector-tokens`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'sdk test' }),
    })
    if (r.status !== 201) throw new Error(`collector token creation failed: ${r.status} ${await r.text()}`)
    return ((await r.json()) as { token: string }).token
  }
  return {
    ...inlet,
    events: async projectId => await inlet.sql<Row[]>`
      select id, type, name, user_id, anonymous_id, session_id, properties, context, "timestamp"
      from events where project_id = ${projectId} order by "timestamp", id`,
    collectorToken,
    collector: async projectId => `${inlet.url}/v1/snowplow/${await collectorToken(projectId)}`,
  }
}

// Every stored row of `name`; a test that expects one copy checks the length.
export const named = (rows: Row[], name: string) => rows.filter(r => r.name === name)

// Timestamps come from the SDK's clock (the same as ours here), so a stored one is
// near now; an hour is far wider than any slow run and far narrower than a unit bug.
export const recent = (date: Date) => Math.abs(date.getTime() - Date.now()) < 3600_000
