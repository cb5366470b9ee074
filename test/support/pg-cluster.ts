// Throwaway PostgreSQL clusters for tests that stop, crash or otherwise break
// Postgres, so the shared server on :5432 is never touched; and throwaway databases
// on any server. This file owns the temp directory and the server process of each
// cluster it starts, and cleans up what a crashed test leaves behind. The programs
// come from pg-binaries.ts: the system's when installed, else the embedded ones.
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { clusterBinaries, type PgBinaries } from './pg-binaries'

// How long pg_ctl waits for start or stop. Crash recovery after an immediate stop
// of a tiny cluster takes well under a second; 30 s leaves room for a loaded CI box.
const PG_CTL_WAIT_S = 30
// initdb refuses to run as root, and the server must not run as root either.
const PG_OS_USER = 'postgres'

export type ThrowawayCluster = {
  readonly port: number
  // postgres://postgres@127.0.0.1:PORT/postgres — superuser, trust auth.
  readonly url: string
  // Holds the data directory, the unix socket and the server log.
  readonly dir: string
  readonly log_path: string
  readonly binaries: PgBinaries
  // Immediate stop (SIGQUIT): like a crash, so the next start runs recovery.
  stop(): Promise<void>
  // Start again on the same port with the same data.
  start(): Promise<void>
  // Stop if running, then remove the directory. Safe to call twice.
  destroy(): Promise<void>
}

export type ClusterOptions = {
  // Default: the system's binaries when pg_config finds them, else the embedded ones.
  readonly binaries?: PgBinaries
  // Default 50: enough for a pool per test plus the admin connection.
  readonly max_connections?: number
}

export type TestDatabase = { readonly name: string; readonly url: string; drop(): Promise<void> }

// A test run that crashes, times out or is killed never reaches destroy(), and
// `bun test` runs no process 'exit' handlers. So each cluster gets a watchdog: a
// detached shell (own process group, so Ctrl-C on the runner spares it) that waits
// for this process to die, then stops the server and removes the directory.
// destroy() kills it. It polls once a second: a leak lasts at most that long.
const WATCHDOG_SCRIPT = `pid=$1; dir=$2; shift 2
while kill -0 "$pid" 2>/dev/null; do sleep 1; done
"$@" >/dev/null 2>&1; rm -rf "$dir"`

function startWatchdog(dir: string, data_dir: string, pg_ctl: string): { kill(): void } {
  const stop_argv = asPgUser([pg_ctl, '-D', data_dir, '-m', 'immediate', 'stop'])
  const watchdog = Bun.spawn(['sh', '-c', WATCHDOG_SCRIPT, 'sh', String(process.pid), dir, ...stop_argv], {
    cwd: dir,
    detached: true,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'ignore',
  })
  watchdog.unref() // it must not keep the test process alive
  return watchdog
}

export async function startThrowawayCluster(options: ClusterOptions = {}): Promise<ThrowawayCluster> {
  const binaries = options.binaries ?? clusterBinaries()
  return await launch('cluster', 'inlet-pg-', binaries, async ({ dir, data_dir, port }) => {
    await run(
      asPgUser([
        join(binaries.bindir, 'initdb'),
        '-D', data_dir,
        '--username=postgres',
        '--auth=trust',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync', // the cluster dies with the test; durability on disk buys nothing
        '--no-instructions',
      ]),
      dir,
    )
    // Settings live in postgresql.conf so that start() after stop() needs no flags.
    return [
      `port = ${port}`,
      `listen_addresses = '127.0.0.1'`,
      // The socket lives in the temp dir so clusters never collide on /var/run.
      `unix_socket_directories = '${dir}'`,
      // fsync off is safe for a process crash (the kernel keeps the pages) but not a
      // machine crash; synchronous_commit stays on so a committed row is in WAL
      // before an immediate stop, which is what "data kept" tests rely on.
      `fsync = off`,
      `synchronous_commit = on`,
      `full_page_writes = off`,
      `max_connections = ${options.max_connections ?? 50}`,
      `shared_buffers = '32MB'`,
    ]
  })
}

export type ThrowawayReplica = ThrowawayCluster & {
  // pg_wal_replay_pause() / pg_wal_replay_resume(): the replica lags on purpose.
  pauseReplay(): Promise<void>
  resumeReplay(): Promise<void>
}

// A streaming replica of a throwaway primary, made as an operator makes one:
// `pg_basebackup -R` (which writes standby.signal and primary_conninfo), then its
// own port and socket. Stop, start and destroy behave as a primary's.
export async function startThrowawayReplica(primary: ThrowawayCluster): Promise<ThrowawayReplica> {
  const replica = await launch('replica', 'inlet-pg-replica-', primary.binaries, async ({ dir, data_dir, port }) => {
    await run(asPgUser([
      join(primary.binaries.bindir, 'pg_basebackup'), '-D', data_dir, '-R', '-X', 'stream', '--no-sync',
      '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres',
    ]), dir)
    // The copied postgresql.conf is the primary's: later lines win.
    return [`port = ${port}`, `unix_socket_directories = '${dir}'`, `hot_standby = on`]
  })
  return {
    ...replica,
    pauseReplay: () => withAdmin(replica.url, sql => sql`select pg_wal_replay_pause()`),
    resumeReplay: () => withAdmin(replica.url, sql => sql`select pg_wal_replay_resume()`),
  }
}

// A server in its own temp dir, owned by the postgres user when root, on a free port:
// `prepare` fills the data dir and returns the lines to append to its postgresql.conf;
// then it starts, and stop/start/destroy drive it (a watchdog stops it if the test
// process dies). A failed start removes everything and throws with the server's log.
async function launch(
  kind: string, prefix: string, binaries: PgBinaries,
  prepare: (at: { dir: string; data_dir: string; port: number }) => Promise<string[]>,
): Promise<ThrowawayCluster> {
  const { bindir } = binaries
  const dir = mkdtempSync(join(tmpdir(), prefix))
  if (runsAsRoot()) {
    const { uid, gid } = pgUserIds()
    chownSync(dir, uid, gid)
  }
  const data_dir = join(dir, 'data')
  const log_path = join(dir, 'server.log')
  const watchdog = startWatchdog(dir, data_dir, join(bindir, 'pg_ctl'))
  let running = false
  let destroyed = false
  const pgCtl = async (...args: string[]) =>
    run(asPgUser([join(bindir, 'pg_ctl'), '-D', data_dir, '-w', '-t', String(PG_CTL_WAIT_S), ...args]), dir)
  try {
    const port = await freePort()
    const settings = await prepare({ dir, data_dir, port })
    await Bun.write(join(data_dir, 'postgresql.conf'),
      (await Bun.file(join(data_dir, 'postgresql.conf')).text()) + '\n' + settings.join('\n') + '\n')
    await pgCtl('-l', log_path, 'start')
    running = true
    const cluster: ThrowawayCluster = {
      port,
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      dir,
      log_path,
      binaries,
      async stop() {
        if (!running) return
        await pgCtl('-m', 'immediate', 'stop')
        running = false
      },
      async start() {
        if (running) return
        await pgCtl('-l', log_path, 'start')
        running = true
      },
      async destroy() {
        if (destroyed) return
        destroyed = true
        await cluster.stop()
        rmSync(dir, { recursive: true, force: true })
        watchdog.kill()
      },
    }
    return cluster
  } catch (error) {
    if (running) await pgCtl('-m', 'immediate', 'stop').catch(() => {})
    const log = await Bun.file(log_path).text().catch(() => '')
    rmSync(dir, { recursive: true, force: true })
    watchdog.kill()
    throw new Error(`throwaway ${kind} failed to start in ${dir}\n${log}`, { cause: error })
  }
}

// Creates a uniquely named database on the server behind admin_url (a superuser
// URL, e.g. a cluster's url) and returns a URL to it.
export async function createTestDatabase(admin_url: string): Promise<TestDatabase> {
  const name = `inlet_test_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`
  await withAdmin(admin_url, (sql) => sql`create database ${sql(name)}`)
  const url = new URL(admin_url)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    // FORCE disconnects sessions a test left open, so drop never hangs on them.
    drop: () => withAdmin(admin_url, (sql) => sql`drop database if exists ${sql(name)} with (force)`),
  }
}

async function withAdmin(admin_url: string, fn: (sql: postgres.Sql) => Promise<unknown>): Promise<void> {
  const sql = postgres(admin_url, { max: 1, idle_timeout: 1, connect_timeout: 5, onnotice: () => {} })
  try {
    await fn(sql)
  } finally {
    await sql.end({ timeout: 1 })
  }
}

const runsAsRoot = (): boolean => process.getuid?.() === 0

// As root, run Postgres tools as the postgres OS user; otherwise as ourselves.
function asPgUser(argv: string[]): string[] {
  return runsAsRoot() ? ['runuser', '-u', PG_OS_USER, '--', ...argv] : argv
}

function pgUserIds(): { uid: number; gid: number } {
  const out = Bun.spawnSync(['id', '-u', PG_OS_USER])
  const gid_out = Bun.spawnSync(['id', '-g', PG_OS_USER])
  if (!out.success || !gid_out.success) throw new Error(`no OS user ${PG_OS_USER}`)
  return { uid: Number(out.stdout.toString()), gid: Number(gid_out.stdout.toString()) }
}

// Runs a command with cwd in the cluster dir (the postgres user cannot enter the
// caller's cwd under /root or /work) and fails with its output.
async function run(argv: string[], cwd: string): Promise<void> {
  const proc = Bun.spawn(argv, { cwd, stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}\n${stdout}${stderr}`)
}

// Binding port 0 asks the kernel for a free port; it is released at once, so
// another process could take it before Postgres binds it, which is unlikely.
async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = probe.port
  probe.stop(true)
  return port
}
