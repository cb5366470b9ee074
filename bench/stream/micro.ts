// What the live path costs ingest per event, in-process, no I/O: receipts and
// publish with 0 subscribers, and with 20 each getting every event (serialised
// once, one chunk per batch and subscriber: no coalescing, the worst case).
// usage: bun bench/stream/micro.ts
import { LiveHub, deliveryBytes } from '../../src/live/hub'
import { Receipts } from '../../src/live/receipts'
const row = (i: number) => ({ projectId: 1, id: `bench-${i}`, type: 'track' as const, name: 'Bench', timestampMs: Date.now(), receivedAtMs: Date.now(),
  userId: `u${i % 1000}`, anonymousId: null, sessionId: null, properties: `{"n":${i},"plan":"pro"}`, context: '{}', bytes: 60 })
const N = 200_000, BATCH = 50
const rows = Array.from({ length: N }, (_, i) => row(i))
const accepted = () => true
for (const subs of [0, 20]) {
  const hub = new LiveHub(64, 1000)
  const receipts = new Receipts(100_000)
  const ss = Array.from({ length: subs }, () => hub.subscribe(1, {})!)
  const t0 = performance.now()
  for (let i = 0; i < N; i += BATCH) {
    const b = rows.slice(i, i + BATCH)
    receipts.record(b, accepted, 'postgres', Date.now())
    hub.publish(b, accepted, 'postgres')
    // What each stream's pull does per chunk (one chunk per batch here: the worst case, no coalescing).
    for (const s of ss) { const { deliveries } = s.drain(); const parts = deliveries.map(deliveryBytes); let n = 0; for (const p of parts) n += p.length; const out = new Uint8Array(n); let at = 0; for (const p of parts) { out.set(p, at); at += p.length } }
  }
  const ms = performance.now() - t0
  console.log(`${subs} subscribers: ${(ms * 1e3 / N).toFixed(2)} µs per event (receipts + publish + ${subs ? 'serialise once, 20 chunk builds' : 'nothing else'})`)
}
