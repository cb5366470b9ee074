// The data every stage of the write path shares, on the ground floor so that no
// stage imports from another to name it: the event row as it travels from
// validation through the buffer to Postgres or the spill, the event as it is
// stored and read back, and the outcome of writing one row.

export type EventType = 'track' | 'identify' | 'page' | 'screen' | 'group' | 'alias' | 'webhook'

// One event as it travels through the pipeline. Times are epoch milliseconds;
// properties and context are already serialised, which also gives the byte size.
export interface EventRow {
  projectId: number
  id: string
  type: EventType
  name: string
  timestampMs: number
  receivedAtMs: number
  userId: string | null
  anonymousId: string | null
  sessionId: string | null
  properties: string
  context: string
  bytes: number
}

// An event as stored and returned by the read API.
export interface StoredEvent {
  id: string
  type: string
  name: string
  timestamp: string
  received_at: string
  user_id: string | null
  anonymous_id: string | null
  session_id: string | null
  properties: Record<string, unknown>
  context: Record<string, unknown>
}

// What a durable write answers for one row: stored now, or stored before.
export type Verdict = 'accepted' | 'duplicate'

// Postgres refused the row itself (a data error: SQLSTATE class 22, 23 or 54). Only
// this row fails; the rows written with it are stored.
export interface Refusal {
  refused: true
  sqlstate: string
  message: string
}

export type RowOutcome = Verdict | Refusal

// Where an acknowledged event was made durable.
export type DurableIn = 'postgres' | 'spill'

export const isRefusal = (o: RowOutcome): o is Refusal => typeof o === 'object'
