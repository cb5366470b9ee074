// Reading a live stream in tests: the raw body reader (no pipe, which would read
// ahead and hide a subscriber that does not read), cut into SSE messages.

import { parseBlock, type SseMessage } from '../../console/src/sse'

export interface StreamReader {
  status: number
  headers: Headers
  // The next message, or throws after timeoutMs saying what it waited for.
  next(timeoutMs?: number): Promise<SseMessage>
  // Messages until one satisfies `until` (included).
  until(until: (m: SseMessage) => boolean, timeoutMs?: number): Promise<SseMessage[]>
  cancel(): Promise<void>
}

export function readStream(response: Response): StreamReader {
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let pending = ''
  const queue: SseMessage[] = []
  const next = async (timeoutMs = 10_000): Promise<SseMessage> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const m = queue.shift()
      if (m) return m
      let timer: ReturnType<typeof setTimeout> | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no stream message within ${timeoutMs} ms`)), Math.max(1, deadline - Date.now()))
      })
      const { value, done } = await Promise.race([reader.read(), timeout]).finally(() => clearTimeout(timer))
      if (done) throw new Error('the stream ended')
      pending += decoder.decode(value, { stream: true })
      let cut: number
      while ((cut = pending.indexOf('\n\n')) >= 0) {
        const parsed = parseBlock(pending.slice(0, cut))
        pending = pending.slice(cut + 2)
        if (parsed) queue.push(parsed)
      }
    }
  }
  return {
    status: response.status, headers: response.headers, next,
    async until(pred, timeoutMs = 10_000) {
      const out: SseMessage[] = []
      for (;;) {
        const m = await next(timeoutMs)
        out.push(m)
        if (pred(m)) return out
      }
    },
    cancel: () => reader.cancel(),
  }
}

export const eventsOf = (ms: SseMessage[]) => ms.filter(m => m.event === 'event').map(m => JSON.parse(m.data))
