// The code under test, frozen for the run: src/, sql/ and package.json are copied
// to a temporary directory when the bench starts, and every Inlet is started from
// there. A run measures one version from its first phase to its last, even while
// someone edits the tree, and the report names that version by a content hash.

import { createHash } from 'node:crypto'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'

export const REPO = join(import.meta.dir, '..', '..')
const FROZEN = ['src', 'sql', 'console', 'package.json', 'tsconfig.json', 'bunfig.toml']

export interface Snapshot {
  dir: string
  hash: string // first 12 hex of sha256 over every frozen file's path and bytes
  files: number
}

let current: Snapshot | null = null

function walk(path: string, out: string[]) {
  if (statSync(path).isDirectory()) for (const f of readdirSync(path).sort()) walk(join(path, f), out)
  else out.push(path)
}

export function takeSnapshot(): Snapshot {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-bench-src-'))
  const files: string[] = []
  for (const name of FROZEN) {
    const from = join(REPO, name)
    try { statSync(from) } catch { continue }
    cpSync(from, join(dir, name), { recursive: true })
    walk(join(dir, name), files)
  }
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'))
  const h = createHash('sha256')
  for (const f of files) h.update(relative(dir, f)).update('\0').update(readFileSync(f)).update('\0')
  current = { dir, hash: h.digest('hex').slice(0, 12), files: files.length }
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  return current
}

// Where Inlet's code is: the snapshot when one was taken, else the live tree.
export function codeDir(): string {
  return current?.dir ?? REPO
}

export function snapshotHash(): string | null {
  return current?.hash ?? null
}
