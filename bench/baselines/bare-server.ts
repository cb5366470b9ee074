// The HTTP ceiling: a bare Bun.serve that reads the request body and answers the
// same shape Inlet answers, doing no other work. Whatever Inlet achieves on the
// same request, with the same generator, is a fraction of this.
//
// With BARE_JSON_FLOOR=1 it is the floor of any JSON ingest on Bun instead: it does
// only what every implementation of POST /v1/events must do, and nothing of
// Inlet's: read the credential header, check the body is UTF-8 and parse it as
// JSON, and answer the event's id with the contract's headers (Content-Type and the
// three RateLimit-*). No auth lookup, no validation, no queue, no write. The bench
// runs both, so a run's server CPU per request splits into the HTTP floor, the
// JSON and headers, and Inlet's own work above them.
//
// Usage: PORT=4100 [BARE_JSON_FLOOR=1] bun bench/baselines/bare-server.ts

const port = Number(process.env.PORT ?? 4100)
const jsonFloor = process.env.BARE_JSON_FLOOR === '1'
const single = JSON.stringify({ id: '0190f7b2-7c1e-7b3a-9d2e-5a4f3c2b1a00', status: 'accepted' })
const utf8 = new TextDecoder('utf-8', { fatal: true })
let remaining = 1_000_000_000

function batchAnswer(count: number): string {
  const results = Array.from({ length: count }, (_, index) => ({ index, id: `e${index}`, status: 'accepted' }))
  return JSON.stringify({ accepted: count, duplicates: 0, rejected: 0, results })
}

async function ceiling(req: Request): Promise<Response> {
  const url = new URL(req.url)
  if (url.pathname === '/health') return Response.json({ status: 'ok' })
  const text = await req.text()
  const headers = { 'content-type': 'application/json' }
  // A batch answer has one result per event, so the count is needed: that one
  // parse is the only work done. A single event is read and not even parsed.
  if (url.pathname === '/v1/events/batch') {
    const body = JSON.parse(text) as { events: unknown[] }
    return new Response(batchAnswer(body.events.length), { headers })
  }
  return new Response(single, { headers })
}

// Single events only (the phase it is measured in).
async function floor(req: Request): Promise<Response> {
  if (req.method === 'GET') return Response.json({ status: 'ok' })
  const credential = req.headers.get('authorization')
  const event = JSON.parse(utf8.decode(await req.bytes())) as { id?: unknown }
  const id = typeof event.id === 'string' ? event.id : String(credential?.length)
  return new Response(`{"id":${JSON.stringify(id)},"status":"accepted"}`, {
    headers: { 'content-type': 'application/json', 'ratelimit-limit': '10000000', 'ratelimit-remaining': String(remaining--), 'ratelimit-reset': '60' },
  })
}

Bun.serve({
  port,
  hostname: '127.0.0.1',
  idleTimeout: 60,
  maxRequestBodySize: 10 * 1024 * 1024,
  fetch: jsonFloor ? floor : ceiling,
})
console.log(`bare server (${jsonFloor ? 'JSON floor' : 'HTTP ceiling'}) on ${port}`)
