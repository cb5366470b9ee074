// What a failed Postgres call means, decided in one place. The rule is fail
// closed: a row is refused only when Postgres says that row's *data* is wrong;
// everything else — Postgres away, slow, read-only, cancelled, full, restarting,
// mid-migration, or an error never seen before — means "not now": the write spills
// or is retried, a read answers 503, and nothing is ever refused or dead-lettered for it.
//
// | SQLSTATE / driver code                         | class    | the write path does                     |
// | ---------------------------------------------- | -------- | --------------------------------------- |
// | 22xxx data exception (22P02 bad cast, 22001    | data     | isolate the row (savepoints), refuse it |
// |   too long, 22003 out of range, 22P05 bad      |          | alone: its own result entry (live) or   |
// |   unicode escape, 22021 bad encoding, …)       |          | the dead-letter table (already acked)   |
// | 23xxx integrity (23502 not null, 23514 check,  | data     | same                                    |
// |   23503 foreign key) except 23505              |          |                                         |
// | 54xxx program limit (54000 value or index row  | data     | same                                    |
// |   too large)                                   |          |                                         |
// | 23505 unique violation: ON CONFLICT absorbs    | not now  | spill / retry                           |
// |   (project_id, id); any other is a schema      |          |                                         |
// |   change or a race, not the row's fault        |          |                                         |
// | 08xxx connection, 25006 read-only, 40001/40P01 | not now  | spill / retry; markDown so writes go    |
// |   conflict, 53xxx resources (53100 disk full,  |          | to the spill until a probe sees Postgres|
// |   53300 too many connections), 55P03 lock      |          | writable again                          |
// |   timeout, 57014 cancel / statement timeout,   |          |                                         |
// |   57P0x shutdown, 0A000, 42xxx (42P01 during a |          |                                         |
// |   migration), 58xxx system, XX000 internal     |          |                                         |
// | driver: CONNECTION_*, CONNECT_TIMEOUT, E* errno| not now  | same                                    |
// | a deadline Inlet set (FLUSH_TIMEOUT)           | not now  | same                                    |
// | anything else, including unknown codes         | not now  | same                                    |
// | AssertionError (a bug in Inlet)                | —        | never classified: it crashes the process|

import postgres from 'postgres'
import { AssertionError } from '../assert'
import type { Refusal } from '../event'

export type Outcome = 'data' | 'not_now'

const DATA_CLASSES = new Set(['22', '23', '54'])
const UNIQUE_VIOLATION = '23505'

// Codes postgres.js gives its own errors (connection.js, errors.js), and the errno
// codes of a socket. Used to tell a Postgres or driver failure from a bug in our code.
const DRIVER_CODES = new Set([
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'MAX_PARAMETERS_EXCEEDED',
  'SASL_SIGNATURE_MISMATCH', 'AUTH_TYPE_NOT_IMPLEMENTED', 'NOT_TAGGED_CALL', 'UNDEFINED_VALUE', 'COPY_IN_PROGRESS',
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
])

// The SQLSTATE of a Postgres error, else the driver's code, else ''.
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : ''
}

export function classify(error: unknown): Outcome {
  if (error instanceof AssertionError) throw error
  if (!(error instanceof postgres.PostgresError)) return 'not_now'
  const code = error.code
  if (code === UNIQUE_VIOLATION) return 'not_now'
  return DATA_CLASSES.has(code.slice(0, 2)) ? 'data' : 'not_now'
}

export const isDataError = (error: unknown): boolean => classify(error) === 'data'

// True for anything Postgres or the driver produced (and Inlet's own deadlines on
// them): a read that fails this way is a 503, not a bug.
export function fromPostgres(error: unknown): boolean {
  if (error instanceof postgres.PostgresError) return true
  const code = errorCode(error)
  return code === 'FLUSH_TIMEOUT' || DRIVER_CODES.has(code)
}

export function refusal(error: unknown): Refusal {
  const e = error as { code?: string; message?: string; detail?: string }
  const message = [e?.message ?? String(error), e?.detail].filter(Boolean).join(': ')
  return { refused: true, sqlstate: errorCode(error), message }
}
