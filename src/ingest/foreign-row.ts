// A wire format's mapped event (segment.ts, posthog.ts, snowplow.ts, webhooks) → a row
// ready for the buffer, or every problem with it at once in the sender's field names:
// the mapper's own findings first, then validation's, renamed back to what the client sent.

import type { Config } from '../config'
import type { ErrorDetail } from '../errors'
import type { EventType, RequestContext, Validated } from './validate'
import { validateEvent } from './validate'

// A message mapped to Inlet's event shape, its type, the problems the mapper itself
// found, and how to name a validation path in the sender's own fields.
export interface Mapped {
  // null when the mapper could not tell (it has reported why in `errors`).
  type: EventType | null
  event: Record<string, unknown>
  errors: ErrorDetail[]
  rename(path: string): string
}

// The timestamp is already skew-corrected by the mapper, so validation gets no skew.
export function mappedRow(m: Mapped, index: number, req: RequestContext, limits: Config['limits'], fallback: EventType = 'track'): Validated {
  const v = validateEvent(m.event, index, m.type ?? fallback, { ...req, skewMs: 0 }, limits)
  if (v.ok && m.errors.length === 0) return v
  const invalid = v.ok ? [] : v.errors.map(e => ({ path: m.rename(e.path), message: e.message }))
  // tooLarge only when size is the sole problem (the route answers 413 then, not 422).
  return { ok: false, errors: [...m.errors, ...invalid], tooLarge: !v.ok && v.tooLarge === true && m.errors.length === 0 }
}
