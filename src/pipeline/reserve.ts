// Headroom on the spill's disk. Deleting rows from a SQLite file needs disk space
// too (WAL frames, and a checkpoint that may extend the database file), so a spill
// that filled its disk while Postgres was away could never drain once Postgres came
// back: every delete failed SQLITE_FULL, forever. So the spill keeps a reserve file of
// SPILL_RESERVE_BYTES beside it: writes hit "full" while the reserve still holds its
// space, the drainer frees the reserve the moment a delete cannot be written, and the
// reserve is taken back once the spill is empty again.

import { closeSync, existsSync, ftruncateSync, openSync, rmSync, writeSync } from 'node:fs'

const CHUNK_BYTES = 1024 * 1024

export class DiskReserve {
  held = false

  constructor(private readonly path: string, private readonly bytes: number) {}

  // Takes the reserve (writing real bytes: a sparse file would hold nothing). False
  // when the disk has no room for it now; the caller tries again later.
  take(): boolean {
    if (this.bytes === 0 || this.held) return this.held || this.bytes === 0
    let fd: number | undefined
    try {
      fd = openSync(this.path, 'w')
      const chunk = Buffer.alloc(Math.min(CHUNK_BYTES, this.bytes))
      for (let written = 0; written < this.bytes;) written += writeSync(fd, chunk, 0, Math.min(chunk.length, this.bytes - written))
      this.held = true
    } catch {
      if (fd !== undefined) ftruncateSync(fd, 0)
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
    if (!this.held) rmSync(this.path, { force: true })
    return this.held
  }

  // Gives the space back to the disk. True when there was a reserve to give.
  release(): boolean {
    const had = this.held || existsSync(this.path)
    rmSync(this.path, { force: true })
    this.held = false
    return had
  }
}
