// The one operating-error type and its stable codes. Every 4xx/5xx body Inlet sends
// is rendered from an InletError in exactly one place (http/errors.ts).

export const codes = {
  malformed_json: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  validation_failed: 422,
  rate_limited: 429,
  overloaded: 503,
  unavailable: 503,
  internal: 500,
} as const

export type ErrorCode = keyof typeof codes

export interface ErrorDetail {
  path: string
  message: string
}

export class InletError extends Error {
  readonly status: number
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown[],
    // Seconds; sent as Retry-After with 429 and 503.
    readonly retryAfterS?: number,
    // `status` overrides the code's own only where a client family needs another
    // status for the same condition (PostHog routes answer a spent rate limit 503,
    // which posthog-js retries, where it drops a 429); the code still says what happened.
    options?: { cause?: unknown; status?: 503 },
  ) {
    super(message, options)
    this.status = options?.status ?? codes[code]
  }

  body() {
    const error: Record<string, unknown> = { code: this.code, message: this.message }
    if (this.details) error.details = this.details
    return { error }
  }
}
