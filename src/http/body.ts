// Reads a request body as JSON under the body limit: Content-Length is checked
// before reading, streamed bytes are counted while reading, and gzip is decoded
// with its output capped (no gzip bombs). The Content-Type is ignored on purpose:
// Segment's browser library sends JSON as text/plain.

import { gunzipSync } from 'node:zlib'
import { InletError } from '../errors'
import { BODY_GROWTH, type GrowableRequest } from './admission'

const utf8 = new TextDecoder('utf-8', { fatal: true })

// The client closed the connection (or Bun's timeout did) before the body was
// complete: a client error, not a server one, even if nobody is left to read it.
const cutShort = (cause: unknown): never => {
  throw new InletError('malformed_json', 'the body ended before it was complete', undefined, undefined, { cause })
}

const tooLarge = (limit: number) =>
  new InletError('payload_too_large', `request body is over BODY_BYTES_MAX (${limit} bytes)`)

// A chunked body: counted as it arrives, and no longer read the moment it passes the limit.
async function readChunked(request: Request, limit: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0)
  // Chunked: count as it arrives and stop reading the moment it passes the limit.
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = request.body.getReader()
  const grow = (request as GrowableRequest)[BODY_GROWTH]
  for (;;) {
    const { done, value } = await reader.read().catch(cutShort)
    if (done) break
    total += value.byteLength
    if (total > limit) {
      await reader.cancel().catch(() => {})
      throw tooLarge(limit)
    }
    // Weighed as it arrives (http/server.ts): no room left for it now is a 503.
    if (grow && !grow(total)) {
      await reader.cancel().catch(() => {})
      throw new InletError('overloaded',
        'too many request bodies are being read at once (HTTP_BODY_BYTES_ACTIVE_MAX); retry shortly', undefined, 1)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks)
}

function gunzip(bytes: Uint8Array, limit: number): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: limit })
  } catch (cause) {
    if ((cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit)
    throw new InletError('malformed_json', 'Content-Encoding is gzip but the body is not valid gzip', undefined, undefined, { cause })
  }
}

export interface RawBody {
  bytes: Uint8Array
  value: unknown
}

// The body as bytes, gzip decoded, under the limit, not parsed: webhook signatures
// are checked over exactly these bytes before anything reads them as JSON.
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  let bytes: Uint8Array
  if (declared !== null) {
    if (Number(declared) > limit) throw tooLarge(limit)
    // Not through request.body: touching it makes Bun build a ReadableStream.
    try {
      bytes = await request.bytes()
    } catch (cause) {
      return cutShort(cause)
    }
    if (bytes.byteLength > limit) throw tooLarge(limit)
  } else bytes = await readChunked(request, limit)
  const encoding = request.headers.get('content-encoding')?.trim().toLowerCase()
  if (encoding === 'gzip' || encoding === 'x-gzip') return gunzip(bytes, limit)
  if (encoding && encoding !== 'identity') {
    throw new InletError('malformed_json', `Content-Encoding ${JSON.stringify(encoding)} is not supported; use gzip or none`)
  }
  return bytes
}

export async function readJson(request: Request, limit: number): Promise<RawBody> {
  return parseJson(await readBody(request, limit))
}

export function parseJson(bytes: Uint8Array): RawBody {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new InletError('malformed_json', 'the body is not valid UTF-8')
  }
  try {
    return { bytes, value: JSON.parse(text) }
  } catch (cause) {
    const detail = cause instanceof SyntaxError ? `: ${cause.message}` : ''
    throw new InletError('malformed_json', `the body is not valid JSON${detail}`)
  }
}
