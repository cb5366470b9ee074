// The floor of any JSON ingest on Bun: a bare Bun.serve that does only what every
// implementation of POST /v1/events must do, and nothing of Inlet's: read the body
// (Content-Length), check it is UTF-8 and parse it as JSON, read the credential
// header, and answer the event's id with the contract's headers (Content-Type and
// the three RateLimit-* headers). No auth lookup, no validation, no queue, no write.
// The bench runs it beside the bare ceiling (bare-server.ts), so a run's server CPU
// per request splits into the HTTP floor, this floor's JSON and headers, and
// Inlet's own work above them.
//
// Usage: PORT=4101 bun bench/baselines/json-floor.ts

const port = Number(process.env.PORT ?? 4101)
const utf8 = new TextDecoder('utf-8', { fatal: true })
let remaining = 1_000_000_000

Bun.serve({
  port,
  hostname: '127.0.0.1',
  idleTimeout: 60,
  maxRequestBodySize: 10 * 1024 * 1024,
  async fetch(req) {
    if (req.method === 'GET') return Response.json({ status: 'ok' })
    const credential = req.headers.get('authorization')
    const event = JSON.parse(utf8.decode(await req.bytes())) as { id?: unknown }
    const id = typeof event.id === 'string' ? event.id : String(credential?.length)
    return new Response(`{"id":${JSON.stringify(id)},"status":"accepted"}`, {
      headers: { 'content-type': 'application/json', 'ratelimit-limit': '10000000', 'ratelimit-remaining': String(remaining--), 'ratelimit-reset': '60' },
    })
  },
})
console.log(`json floor on ${port}`)
export {}
