// One subscriber as a Server-Sent Events response (text/event-stream). The body is
// pulled: Bun asks for the next chunk only when the socket took the last one, so a
// client that does not read stops the pulls, its subscriber's buffer fills and the
// hub counts what it drops; the next chunk it does take ends with `lagged`.
// A chunk carries everything buffered (at most one write per STREAM_COALESCE_MS);
// with nothing to send for STREAM_HEARTBEAT_MS it is a heartbeat. A disconnect
// (cancel, or the request's abort) frees the subscription at once. The first
// message, `ready`, says the subscription is in place.

import { deliveryBytes, type LiveHub, type Subscriber } from './hub'

export interface StreamTiming {
  heartbeatMs: number
  coalesceMs: number
}

const encoder = new TextEncoder()

export function message(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

// One write: the events' bytes copied end to end, then the lagged message if any.
function chunk(parts: Uint8Array[], tail: Uint8Array | null): Uint8Array {
  let length = tail?.length ?? 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  if (tail) out.set(tail, at)
  return out
}

export function sseResponse(
  hub: LiveHub, sub: Subscriber, timing: StreamTiming, signal: AbortSignal, headers: Record<string, string>,
): Response {
  let lastWriteMs = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const end = () => {
    clearTimeout(timer)
    hub.unsubscribe(sub)
  }
  signal.addEventListener('abort', end, { once: true })
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // Every event durable from now on is in this stream: a client may start sending.
      controller.enqueue(encoder.encode(`retry: 2000\n\n${message('ready', { filter: sub.filter })}`))
    },
    async pull(controller) {
      const beat = new Promise<'beat'>(resolve => { timer = setTimeout(resolve, timing.heartbeatMs, 'beat') })
      const why = await Promise.race([sub.waitForWork().then(() => 'work' as const), beat])
      clearTimeout(timer)
      if (sub.closed) {
        try { controller.close() } catch {} // already cancelled by the client
        return
      }
      if (why === 'beat' && sub.buffer.length === 0 && sub.missed === 0) {
        controller.enqueue(encoder.encode(message('heartbeat', { at: new Date().toISOString() })))
        return
      }
      const wait = lastWriteMs + timing.coalesceMs - performance.now()
      if (wait > 0) await Bun.sleep(wait)
      if (sub.closed) return
      const { deliveries, missed } = sub.drain()
      controller.enqueue(chunk(deliveries.map(deliveryBytes), missed > 0 ? encoder.encode(message('lagged', { missed })) : null))
      lastWriteMs = performance.now()
    },
    cancel: end,
  }, { highWaterMark: 1 })
  return new Response(body, {
    headers: {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // nginx and similar proxies buffer responses unless told not to.
      'x-accel-buffering': 'no',
    },
  })
}
