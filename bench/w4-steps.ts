// Which step of W4's flow holds the server's memory at 10,000 users: each run
// starts a fresh Inlet (bench/lib/inlet.ts), runs USERS users at once doing only
// the chosen steps, and prints the server's peak RSS. Scratch tool for issue 18's
// open W4 memory miss; run under the bench lock.
//   STEPS=health,post,get,batch,list USERS=10000 bun bench/w4-steps.ts
import { readFileSync } from 'node:fs'
import { batchBody, purchase, rng } from './lib/events'
import { encodeRequest, get, json, post } from './lib/http-client'
import { createProject, startInlet, UNLIMITED_RPM } from './lib/inlet'
import { runUsers } from './lib/loadgen'
import { Recorder } from './lib/recorder'

const USERS = Number(process.env.USERS ?? 10_000)
const steps = new Set((process.env.STEPS ?? 'health,post,get,batch,list').split(','))
const sys = await startInlet('w4steps')
const project = await createProject(sys, 'w4steps', 'enterprise', UNLIMITED_RPM)
const key = project.api_key
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${sys.server.pid}/status`, 'utf8'))![1])
let peak = rssKiB()
const sampler = setInterval(() => { peak = Math.max(peak, rssKiB()) }, 50)
const before = peak
const rec = new Recorder()
const t0 = performance.now()
await runUsers({ target: { host: '127.0.0.1', port: sys.server.port }, rec, users: USERS, warmupMs: 0, durationMs: 600_000, script: async u => {
  const r = rng(u.index)
  if (steps.has('health')) await u.client.send({ bytes: encodeRequest('GET', '/health', {}), events: 0 }, false, performance.now())
  let id = `w4s-${u.index}`
  if (steps.has('post')) {
    const e = { ...purchase(r, u.index), id }
    await u.client.send({ bytes: post('/v1/events', key, JSON.stringify(e)), events: 1 }, false, performance.now())
  }
  if (steps.has('get')) await u.client.send({ bytes: get(`/v1/events/${id}`, key), events: 0 }, false, performance.now())
  if (steps.has('batch')) {
    const batch = Array.from({ length: 10 }, (_, i) => purchase(r, u.index * 100 + i))
    await u.client.send({ bytes: post('/v1/events/batch', key, batchBody(batch)), events: 10 }, false, performance.now())
  }
  if (steps.has('list')) await u.client.send({ bytes: get('/v1/events?limit=50', key), events: 0 }, false, performance.now())
} })
clearInterval(sampler)
peak = Math.max(peak, rssKiB())
console.log(`steps ${[...steps].join('+')}, ${USERS} users: ${((performance.now() - t0) / 1000).toFixed(1)} s, server RSS ${before >> 10} MiB before, peak ${peak >> 10} MiB`)
void json
await sys.stop()
process.exit(0)
