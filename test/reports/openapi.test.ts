// Each report is in the OpenAPI document with its query parameters and response schema.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet() })
afterAll(() => inlet.stop())

test('each report is documented with its parameters, response schema and error statuses', async () => {
  const { body } = await inlet.request('GET', '/swagger/json')
  const expected: Record<string, [string[], string, string]> = {
    '/v1/reports/counts': [['interval', 'name', 'from', 'to'], 'CountsReport', 'series'],
    '/v1/reports/funnel': [['steps', 'within', 'from', 'to'], 'FunnelReport', 'steps'],
    '/v1/reports/retention': [['cohort_event', 'return_event', 'interval', 'periods', 'from', 'to'], 'RetentionReport', 'cohorts'],
  }
  for (const [path, [params, title, field]] of Object.entries(expected)) {
    const op = body.paths[path].get
    expect(op.parameters.map((p: any) => p.name).sort()).toEqual([...params].sort())
    const schema = op.responses['200'].content['application/json'].schema
    expect(schema.title).toBe(title)
    expect(schema.required).toEqual([field])
    expect(Object.keys(op.responses).sort()).toEqual(['200', '401', '422', '429', '503'])
  }
})
