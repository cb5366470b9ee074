// The events the scenarios send, and the rows they become. Deterministic (seeded
// PRNG) so two runs send the same bytes; sized like real SDK traffic (~250-400
// bytes of JSON per event, a few properties and a context object).

export const FUNNEL_STEPS = ['PageView', 'ViewProduct', 'AddToCart', 'Checkout', 'Purchase'] as const
const PAGES = ['/', '/pricing', '/docs', '/blog/launch', '/product/42', '/cart']
const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'BR', 'IN', 'JP']

// mulberry32: tiny, fast, good enough to vary payloads.
export function rng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export type Rand = ReturnType<typeof rng>
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
export const between = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1))

export interface BenchEvent {
  id?: string
  name: string
  timestamp?: string | number
  user_id?: string
  anonymous_id?: string
  session_id?: string
  properties?: Record<string, unknown>
  context?: Record<string, unknown>
}

function context(r: Rand) {
  return { ip: `203.0.113.${between(r, 1, 254)}`, locale: 'en-US', country: pick(r, COUNTRIES),
    library: { name: 'inlet-bench', version: '1.0.0' }, page: { path: pick(r, PAGES) } }
}

// The single event of the throughput scenario: no id (the server assigns one), as
// most SDK calls look.
export function purchase(r: Rand, user: number): BenchEvent {
  return { name: 'Purchase', user_id: `u_${user}`, session_id: `s_${user}`,
    properties: { amount: Math.round(r() * 20000) / 100, currency: 'EUR', sku: `sku_${between(r, 1, 500)}`, coupon: null },
    context: context(r) }
}

// W3's order: one per request, carrying its own id as an order system would.
export function order(r: Rand, run: string, seq: number): BenchEvent {
  const items = Array.from({ length: between(r, 1, 3) }, () => ({ sku: `sku_${between(r, 1, 500)}`, qty: between(r, 1, 4), price: between(r, 100, 9999) / 100 }))
  return { id: `ord_${run}_${seq}`, name: 'OrderPlaced', user_id: `u_${between(r, 1, 50_000)}`,
    properties: { order_id: `${run}-${seq}`, amount: items.reduce((a, i) => a + i.qty * i.price, 0), currency: 'USD', items },
    context: context(r) }
}

// One step of W1's funnel: the step event plus page views and clicks around it.
export function funnelBatch(r: Rand, user: string, session: string, step: number, size: number): BenchEvent[] {
  const events: BenchEvent[] = []
  for (let i = 0; i < size - 1; i++) {
    events.push({ name: i % 3 === 2 ? 'Click' : 'PageView', user_id: user, session_id: session,
      properties: { path: pick(r, PAGES), referrer: 'https://example.com' }, context: context(r) })
  }
  events.push({ name: FUNNEL_STEPS[step]!, user_id: user, session_id: session,
    properties: { step, amount: step === 4 ? between(r, 500, 20000) / 100 : undefined }, context: context(r) })
  return events
}

export function batchBody(events: BenchEvent[]): string {
  return JSON.stringify({ events, sent_at: new Date().toISOString() })
}

// W2's webhook payloads, as a Stripe-like sender would post them.
export function webhookPayload(r: Rand, run: string, seq: number): string {
  const created = Math.floor(Date.now() / 1000)
  if (seq % 3 === 2) {
    return JSON.stringify({ id: `evt_${run}_${seq}`, type: 'feedback.received', created,
      data: { object: { id: `fb_${seq}`, rating: between(r, 1, 5), comment: 'Checkout was quick, shipping slow.', customer: `cus_${between(r, 1, 9999)}` } } })
  }
  return JSON.stringify({ id: `evt_${run}_${seq}`, type: 'session.completed', created,
    data: { object: { id: `cs_${seq}`, amount_total: between(r, 500, 50000), currency: 'usd', customer: `cus_${between(r, 1, 9999)}`, payment_status: 'paid', mode: 'payment' } } })
}

// The row an event becomes in `events`, as Inlet's flusher writes it: the Postgres
// ceiling and the seeders insert exactly these columns.
export interface Row {
  id: string; type: string; name: string; timestamp: Date; received_at: Date
  user_id: string | null; anonymous_id: string | null; session_id: string | null
  properties: string; context: string
}

export function toRow(e: BenchEvent, now = new Date()): Row {
  return {
    id: e.id ?? Bun.randomUUIDv7(), type: 'track', name: e.name,
    timestamp: e.timestamp === undefined ? now : new Date(e.timestamp), received_at: now,
    user_id: e.user_id ?? null, anonymous_id: e.anonymous_id ?? null, session_id: e.session_id ?? null,
    properties: JSON.stringify(e.properties ?? {}), context: JSON.stringify(e.context ?? {}),
  }
}
