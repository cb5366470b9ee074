// The local spill: a SQLite file (WAL) in INLET_DATA_DIR where a batch is committed
// and acknowledged when Postgres is slow or away. It owns the file, its bound
// (SPILL_BYTES_MAX, enforced by SQLite's max_page_count so the bound and a full
// disk are one error path), and the spill order (seq). Every call is synchronous: a
// write is one SQLite transaction that no other JS code can interleave with.
//
// A disk that fails (SQLITE_FULL, SQLITE_IOERR) fails only the call: a write throws
// a 503 InletError and stores nothing; a delete throws and the drainer retries it
// later (a row replayed twice is a no-op in Postgres). Either marks the spill not
// writable until a later call succeeds, which /ready reports. A reserve file
// (reserve.ts) keeps room on the disk for the deletes that drain a full spill.

import { Database, type Statement } from 'bun:sqlite'
import { existsSync, mkdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { assert } from '../assert'
import { InletError } from '../errors'
import type { EventRow, EventType, StoredEvent, Verdict } from '../event'
import type { Log } from '../log'
import { DiskReserve } from './reserve'

// A 503 for a full or failing spill tells the client to come back after this: the
// drainer needs Postgres back before space frees up, which is seconds, not ms.
const SPILL_RETRY_AFTER_S = 2

const COLUMNS = 'project_id, id, type, name, timestamp_ms, received_at_ms, user_id, anonymous_id, session_id, properties, context, bytes'

const SCHEMA = `
  create table if not exists spill (
    seq integer primary key autoincrement,
    project_id integer not null, id text not null, type text not null, name text not null,
    timestamp_ms integer not null, received_at_ms integer not null,
    user_id text, anonymous_id text, session_id text,
    properties text not null, context text not null, bytes integer not null,
    spilled_at_ms integer
  );
  create unique index if not exists spill_event on spill (project_id, id);`

export interface Spilled {
  seq: number
  row: EventRow
  // When the row was committed here (and its request answered); null in files
  // written before this column existed.
  spilledAtMs: number | null
}

type Raw = Record<string, any>

const toRow = (r: Raw): EventRow => ({
  projectId: r.project_id, id: r.id, type: r.type as EventType, name: r.name,
  timestampMs: r.timestamp_ms, receivedAtMs: r.received_at_ms,
  userId: r.user_id, anonymousId: r.anonymous_id, sessionId: r.session_id,
  properties: r.properties, context: r.context, bytes: r.bytes,
})

const rowParams = (r: EventRow) => [r.projectId, r.id, r.type, r.name, r.timestampMs, r.receivedAtMs,
  r.userId, r.anonymousId, r.sessionId, r.properties, r.context, r.bytes]

export class Spill {
  pending = 0
  private byProject = new Map<number, number>()
  // Cleared by the next successful write or by the drainer freeing space.
  private failed: string | null = null
  // The disk ran out of room (a write or a delete hit SQLITE_FULL) since the spill was
  // last empty. While it is, live traffic with Postgres up goes to Postgres, not into
  // the room the drainer frees (the FallbackSink reads this).
  full = false
  private closed = false
  private readonly insert: Statement
  private readonly exists: Statement
  private readonly byKey: Statement
  private readonly oldestStmt: Statement
  private readonly deleteStmt: Statement

  private constructor(private readonly db: Database, private readonly log: Log, private readonly reserve: DiskReserve) {
    this.insert = db.prepare(`insert or ignore into spill (${COLUMNS}, spilled_at_ms) values (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
    this.exists = db.prepare('select 1 from spill where project_id = ? and id = ?')
    this.byKey = db.prepare(`select ${COLUMNS} from spill where project_id = ? and id = ?`)
    this.oldestStmt = db.prepare(`select seq, ${COLUMNS}, spilled_at_ms from spill order by seq limit ?`)
    this.deleteStmt = db.prepare('delete from spill where seq = ?')
    this.resync()
  }

  // Recounts what waits, from the file. The counts are kept in memory because the
  // list endpoint asks per request; they drift only if another process shares the
  // data directory (a misconfiguration), and the drainer resyncs when it finds none.
  resync(): void {
    if (this.closed) return
    this.byProject.clear()
    this.pending = 0
    for (const r of this.db.query('select project_id, count(*) n from spill group by project_id').all() as Raw[]) {
      this.byProject.set(r.project_id, r.n)
      this.pending += r.n
    }
  }

  // Opens (or creates) dataDir/spill.sqlite. A file that fails the integrity check is
  // moved aside with its WAL, never deleted: it holds acknowledged events an operator
  // may still recover; a fresh spill takes its place so the process keeps serving.
  static open(dataDir: string, synchronous: 'FULL' | 'NORMAL', bytesMax: number, log: Log, reserveBytes = 0): Spill {
    mkdirSync(dataDir, { recursive: true })
    const path = join(dataDir, 'spill.sqlite')
    let db: Database | undefined
    let problem: string | null
    try {
      db = Spill.connect(path, synchronous, bytesMax)
      const check = (db.query('pragma quick_check').all() as Raw[]).map(r => r.quick_check).join('; ')
      problem = check === 'ok' ? null : check
    } catch (e) {
      // Only corruption moves the file aside; anything else (permissions, a lock
      // held elsewhere) stops start-up with the error, the file untouched.
      const code = (e as { code?: string }).code ?? ''
      if (!code.startsWith('SQLITE_CORRUPT') && code !== 'SQLITE_NOTADB') throw e
      problem = (e as Error).message
    }
    if (problem !== null) {
      db?.close()
      const aside = `${path}.corrupt-${Date.now()}`
      for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix)
      log('error', 'the spill failed its integrity check; moved aside, starting a fresh one', { aside, problem })
      db = Spill.connect(path, synchronous, bytesMax)
    }
    const reserve = new DiskReserve(join(dataDir, 'spill.reserve'), reserveBytes)
    if (!reserve.take()) log('warn', 'no room on the spill\'s disk for its reserve (SPILL_RESERVE_BYTES); will try again once the spill is empty', { reserveBytes })
    const spill = new Spill(db!, log, reserve)
    if (spill.pending > 0) log('warn', 'the spill holds events from an earlier run; draining them', { pending: spill.pending })
    return spill
  }

  private static connect(path: string, synchronous: string, bytesMax: number): Database {
    const db = new Database(path, { create: true, strict: true })
    db.run('pragma journal_mode = wal')
    db.run(`pragma synchronous = ${synchronous}`)
    // Wait for a lock rather than fail: only this process writes, but a stray reader
    // (an operator's sqlite3 shell) must not turn into a 503.
    db.run('pragma busy_timeout = 1000')
    // After a checkpoint the WAL is cut back to this, so a burst does not leave a
    // large WAL file behind (max_page_count bounds the database, not the WAL).
    db.run('pragma journal_size_limit = 67108864')
    db.run(SCHEMA)
    Spill.upgrade(db)
    const pageSize = (db.query('pragma page_size').get() as Raw).page_size as number
    db.run(`pragma max_page_count = ${Math.max(1, Math.floor(bytesMax / pageSize))}`)
    return db
  }

  // Files written by earlier versions: add the verdict-trail column, and give rows
  // that an earlier drainer set aside in spill_poison (it took Postgres's "not now"
  // errors, 25006 read-only among them, for bad data) back to the spill: the drainer
  // now stores them, or moves the ones Postgres truly refuses to the dead-letter table.
  private static upgrade(db: Database): void {
    const columns = (db.query('pragma table_info(spill)').all() as Raw[]).map(c => c.name)
    if (!columns.includes('spilled_at_ms')) db.run('alter table spill add column spilled_at_ms integer')
    const old = db.query("select 1 from sqlite_master where type = 'table' and name = 'spill_poison'").get()
    if (!old) return
    db.transaction(() => {
      db.run(`insert or ignore into spill (${COLUMNS}) select ${COLUMNS} from spill_poison order by seq`)
      db.run('drop table spill_poison')
    })()
  }

  // Commits rows in one transaction and returns a verdict per row: `duplicate` when
  // the (project, id) already waits here (or earlier in the same batch). Throws a
  // 503 InletError when the bound is reached or the disk fails; nothing is written then.
  write(rows: EventRow[]): Verdict[] {
    assert(!this.closed, 'spill written after close')
    const verdicts: Verdict[] = new Array(rows.length)
    const added = new Map<number, number>()
    const now = Date.now()
    try {
      this.db.run('begin immediate')
      for (let i = 0; i < rows.length; i++) {
        const inserted = this.insert.run(...rowParams(rows[i]), now).changes === 1
        verdicts[i] = inserted ? 'accepted' : 'duplicate'
        if (inserted) added.set(rows[i].projectId, (added.get(rows[i].projectId) ?? 0) + 1)
      }
      this.db.run('commit')
    } catch (cause) {
      try { this.db.run('rollback') } catch {} // SQLITE_FULL may have rolled back already
      const code = (cause as { code?: string }).code ?? 'unknown'
      this.failed = code
      const full = code === 'SQLITE_FULL'
      if (full) this.full = true
      this.log(full ? 'warn' : 'error', full ? 'the spill is full' : 'the spill write failed', { code, rows: rows.length, error: (cause as Error).message })
      throw new InletError('unavailable', full
        ? 'Postgres is unavailable and the local spill is full; retry shortly'
        : 'Postgres is unavailable and the local spill cannot be written; retry shortly',
      undefined, SPILL_RETRY_AFTER_S, { cause })
    }
    this.failed = null
    for (const [project, n] of added) {
      this.byProject.set(project, (this.byProject.get(project) ?? 0) + n)
      this.pending += n
    }
    return verdicts
  }

  has(projectId: number, id: string): boolean {
    return !this.closed && this.pending > 0 && this.exists.get(projectId, id) !== null
  }

  // The first `limit` rows in spill order.
  oldest(limit: number): Spilled[] {
    return (this.oldestStmt.all(limit) as Raw[]).map(r => ({ seq: r.seq, row: toRow(r), spilledAtMs: r.spilled_at_ms }))
  }

  // Deletes rows that Postgres has committed (as events or as dead letters). Throws
  // the SQLite error when the disk refuses (a delete needs WAL space too); the rows
  // then stay, and are replayed again later, which changes nothing in Postgres.
  remove(batch: Spilled[]): void {
    if (this.closed || batch.length === 0) return
    let deleted: Spilled[]
    try {
      deleted = this.delete(batch)
    } catch (cause) {
      const code = (cause as { code?: string }).code ?? 'unknown'
      if (code === 'SQLITE_FULL') this.full = true
      // The disk is full: give the reserve back to it, and try once more with that room.
      if (code !== 'SQLITE_FULL' || !this.reserve.release()) {
        this.failed = code
        throw cause
      }
      this.log('warn', 'the spill\'s disk is full: released its reserve so that draining can go on', { code })
      try {
        deleted = this.delete(batch)
      } catch (again) {
        this.failed = (again as { code?: string }).code ?? 'unknown'
        throw again
      }
    }
    this.forget(deleted)
    if (this.pending === 0 && (this.full || !this.reserve.held)) this.refill()
  }

  private delete(batch: Spilled[]): Spilled[] {
    const deleted: Spilled[] = []
    this.db.transaction(() => { for (const s of batch) if (this.deleteStmt.run(s.seq).changes === 1) deleted.push(s) })()
    return deleted
  }

  // Empty again: hand the WAL's space back to the disk and take the reserve again.
  private refill(): void {
    this.full = false
    try {
      this.db.run('pragma wal_checkpoint(TRUNCATE)')
    } catch {}
    if (this.reserve.take()) this.log('info', 'the spill is empty; its disk reserve is back in place')
  }

  private forget(batch: Spilled[]): void {
    for (const { row } of batch) {
      const left = (this.byProject.get(row.projectId) ?? 0) - 1
      if (left > 0) this.byProject.set(row.projectId, left)
      else this.byProject.delete(row.projectId)
      this.pending--
    }
    if (this.pending < 0) this.resync()
    this.failed = null
  }

  get(projectId: number, id: string): StoredEvent | null {
    if (this.closed || this.pending === 0) return null
    const r = this.byKey.get(projectId, id) as Raw | null
    if (!r) return null
    return {
      id: r.id, type: r.type, name: r.name,
      timestamp: new Date(r.timestamp_ms).toISOString(), received_at: new Date(r.received_at_ms).toISOString(),
      user_id: r.user_id, anonymous_id: r.anonymous_id, session_id: r.session_id,
      properties: JSON.parse(r.properties), context: JSON.parse(r.context),
    }
  }

  pendingFor(projectId: number): number {
    return this.byProject.get(projectId) ?? 0
  }

  get writable(): boolean {
    return !this.closed && this.failed === null
  }

  // Bytes of the file in use (freed pages are reused, so this is what SPILL_BYTES_MAX bounds).
  usedBytes(): number {
    if (this.closed) return 0
    const pages = (this.db.query('pragma page_count').get() as Raw).page_count
    const free = (this.db.query('pragma freelist_count').get() as Raw).freelist_count
    const size = (this.db.query('pragma page_size').get() as Raw).page_size
    return (pages - free) * size
  }

  stats() {
    return { pending: this.pending, bytes: this.usedBytes(), writable: this.writable }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.db.close()
  }
}
