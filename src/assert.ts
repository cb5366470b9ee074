// Assertions for programmer errors. An operating error (bad input, Postgres down)
// is an InletError and is handled; a broken invariant is a bug and fails loudly.

export class AssertionError extends Error {}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message)
}
