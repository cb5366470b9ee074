// Server-Sent Events over fetch(): EventSource cannot send an Authorization
// header, and the key must never go in a URL. The body is read as a stream and cut
// into messages at blank lines (the text/event-stream format, WHATWG HTML 9.2).

export interface SseMessage {
  event: string
  data: string
}

export async function openStream(url: string, key: string, onMessage: (m: SseMessage) => void, signal: AbortSignal): Promise<void> {
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, signal, cache: 'no-store', credentials: 'omit',
  })
  if (!response.ok || !response.body) {
    let message = `HTTP ${response.status}`
    try { message = ((await response.json()) as any).error.message } catch {}
    throw new Error(message)
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let pending = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    pending += value
    let cut: number
    while ((cut = pending.search(/\r?\n\r?\n/)) >= 0) {
      const block = pending.slice(0, cut)
      pending = pending.slice(cut).replace(/^\r?\n\r?\n/, '')
      const m = parseBlock(block)
      if (m) onMessage(m)
    }
  }
}

export function parseBlock(block: string): SseMessage | null {
  let event = 'message'
  const data: string[] = []
  for (const line of block.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const name = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (name === 'event') event = value
    else if (name === 'data') data.push(value)
  }
  return data.length > 0 ? { event, data: data.join('\n') } : null
}
