export {}
// Ack-to-stream time: one subscriber, events sent one at a time (COUNT of them,
// PAUSE_MS apart); for each, the time from the POST's 200 to the event's arrival in
// the stream. Prints p50/p99/max. usage: bun latency.ts URL KEY [COUNT] [PAUSE_MS]
const [url, key, countArg, pauseArg] = process.argv.slice(2)
const count = Number(countArg ?? 500)
const pauseMs = Number(pauseArg ?? 10)
const acked = new Map<string, number>()
const lagsMs: number[] = []
const response = await fetch(`${url}/v1/events/stream?name=Latency`, { headers: { authorization: `Bearer ${key}` } })
const reader = response.body!.getReader()
const decoder = new TextDecoder()
let pending = ''
let ready!: () => void
const isReady = new Promise<void>(r => { ready = r })
const arrivals = new Map<string, number>()
void (async () => {
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    const now = performance.now()
    pending += decoder.decode(value, { stream: true })
    let cut: number
    while ((cut = pending.indexOf('\n\n')) >= 0) {
      const block = pending.slice(0, cut)
      pending = pending.slice(cut + 2)
      if (block.includes('event: ready')) ready()
      const m = block.match(/^data: (.*)$/m)
      if (block.startsWith('event: event') && m) arrivals.set(JSON.parse(m[1]).event.id, now)
    }
  }
})()
await isReady
const run = Date.now().toString(36)
for (let i = 0; i < count; i++) {
  const id = `lat-${run}-${i}`
  const r = await fetch(`${url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ id, name: 'Latency' }) })
  if (r.status !== 200) throw new Error(`POST answered ${r.status}`)
  await r.arrayBuffer()
  acked.set(id, performance.now())
  if (i % 100 === 0) console.error(`latency: ${i}/${count}`)
  await Bun.sleep(pauseMs)
}
await Bun.sleep(1000)
for (const [id, at] of acked) { const got = arrivals.get(id); if (got !== undefined) lagsMs.push(got - at) }
lagsMs.sort((a, b) => a - b)
const p = (q: number) => lagsMs[Math.min(lagsMs.length - 1, Math.floor(q * lagsMs.length))].toFixed(2)
console.log(`ack-to-stream over ${lagsMs.length}/${count} events: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${lagsMs[lagsMs.length - 1].toFixed(2)} ms (an arrival before its ack counts negative)`)
process.exit(0)
