// Reads the recorded SDK fixtures (test/fixtures/<sdk>/<scenario>.json, made by
// test/fixtures/record.ts) for the mapper and decoder tests.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { PosthogWire } from '../../src/ingest/posthog-decode'
import type { RecordedRequest } from '../support/recorder'

export interface FixtureRequest extends RecordedRequest {
  decoded: { json?: unknown; query?: Record<string, string>; form?: Record<string, string>; gzip?: boolean } | null
}

export interface Fixture {
  sdk: string
  package: string
  version: string
  scenario: string
  description: string
  requests: FixtureRequest[]
}

const DIR = join(import.meta.dir, '../fixtures')

export function fixtures(sdk: string): Fixture[] {
  return readdirSync(join(DIR, sdk)).filter(f => f.endsWith('.json')).sort()
    .map(f => JSON.parse(readFileSync(join(DIR, sdk, f), 'utf8')) as Fixture)
}

export const bodyOf = (r: RecordedRequest) => new Uint8Array(Buffer.from(r.bodyBase64, 'base64'))

export function posthogWire(r: RecordedRequest): PosthogWire {
  return {
    method: r.method, contentType: r.headers['content-type'] ?? null, contentEncoding: r.headers['content-encoding'] ?? null,
    query: new URLSearchParams(r.query), body: bodyOf(r),
  }
}

// The capture writes of a fixture: what the lead's routes must store (not config reads, preflights or /flags/).
export const captureWrites = (f: Fixture) =>
  f.requests.filter(r => r.method === 'POST' && /^\/(e|i\/v0\/e|batch|capture|track)\/?$/.test(r.path))
