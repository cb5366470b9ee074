// The HTTP ceiling: a bare Bun.serve that reads the request body and answers the
// same shape Inlet answers, doing no other work. Whatever Inlet achieves on the
// same request, with the same generator, is a fraction of this.
//
// Usage: PORT=4100 bun bench/baselines/bare-server.ts

const port = Number(process.env.PORT ?? 4100)
const single = JSON.stringify({ id: '0190f7b2-7c1e-7b3a-9d2e-5a4f3c2b1a00', status: 'accepted' })

function batchAnswer(count: number): string {
  const results = Array.from({ length: count }, (_, index) => ({ index, id: `e${index}`, status: 'accepted' }))
  return JSON.stringify({ accepted: count, duplicates: 0, rejected: 0, results })
}

Bun.serve({
  port,
  hostname: '127.0.0.1',
  idleTimeout: 60,
  maxRequestBodySize: 10 * 1024 * 1024,
  async fetch(req) {
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
  },
})
console.log(`bare server on ${port}`)
