// Run by test/e2e/newcomer.test.ts inside a network and mount namespace, in a
// fresh clone, with a PATH that has no Postgres program: does what a newcomer does
// and reports what happened as one JSON line (NEWCOMER_FACTS …) for the test to
// judge. 1. `bun install && bun run start` on a terminal (util-linux `script`),
// /health, an ingest with the demo key the summary printed, a read back, Ctrl-C.
// 2. `bun install && bun run test <filter>`. Every wait here has a deadline.
import { existsSync } from 'node:fs'
import { join } from 'node:path'

const [clone, ...filter] = process.argv.slice(2)
if (!clone || filter.length === 0) throw new Error('usage: newcomer-driver.ts <clone> <test filter>...')

// bun install from Bun's cache, then initdb and a start: ~3 s here; a cold,
// loaded CI box gets far more room.
const START_MS_MAX = 120_000
// Ctrl-C drains (nothing buffered) and stops the embedded Postgres: well under 1 s.
const STOP_MS_MAX = 30_000
// The filtered run: a throwaway cluster plus a few test files, ~15 s here.
const TEST_COMMAND_MS_MAX = 240_000
const POLL_MS = 100
const README_START = 'bun install && bun run start'
const PORT = 3000 // the README's address; this namespace has its own 127.0.0.1

const facts: Record<string, unknown> = {}
facts.postgres_programs_on_path = ['pg_config', 'initdb', 'psql', 'postgres', 'pg_ctl'].filter(name => Bun.which(name))
facts.port_5432 = await portState(5432)
await newcomerStart()
await newcomerTest()
console.log(`NEWCOMER_FACTS ${JSON.stringify(facts)}`)
process.exit(0)

async function newcomerStart() {
  // A terminal, as a person has: the start-up summary is what they read.
  const proc = Bun.spawn(['script', '--quiet', '--return', '--flush', '--command', README_START, '/dev/null'], {
    cwd: clone, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe',
  })
  const output = collect(proc.stdout, proc.stderr)
  const deadline = Date.now() + START_MS_MAX
  let healthy = false
  while (!healthy && proc.exitCode === null && Date.now() < deadline) {
    healthy = await fetch(`http://127.0.0.1:${PORT}/health`).then(r => r.ok, () => false)
    if (!healthy) await Bun.sleep(POLL_MS)
  }
  // The summary follows the listening line by a moment.
  const summaryDeadline = Date.now() + 5_000
  while (healthy && !/Ctrl-C stops it/.test(output.text()) && Date.now() < summaryDeadline) await Bun.sleep(POLL_MS)
  facts.start_healthy = healthy
  if (healthy) await exercise(output.text())
  // Ctrl-C on the terminal: the pty turns it into SIGINT for the foreground group.
  proc.stdin.write('\x03')
  await proc.stdin.flush()
  const stopped = await Promise.race([proc.exited.then(() => true), Bun.sleep(STOP_MS_MAX).then(() => false)])
  if (!stopped) proc.kill('SIGKILL')
  facts.start_stopped_on_ctrl_c = stopped
  facts.start_exit_code = proc.exitCode
  facts.embedded_postgres_left_running = existsSync(join(clone, 'data/postgres/postmaster.pid'))
  facts.start_output = output.text().replaceAll('\r\n', '\n')
}

async function exercise(text: string) {
  facts.health = await fetch(`http://127.0.0.1:${PORT}/health`).then(async r => ({ status: r.status, body: await r.json() }))
  const key = text.match(/Demo key\s+(ik_\S+)/)?.[1]
  facts.demo_key_printed = key !== undefined
  if (!key) return
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  const posted = await fetch(`http://127.0.0.1:${PORT}/v1/events`, { method: 'POST', headers, body: JSON.stringify({ id: 'newcomer-1', name: 'Hello' }) })
  facts.ingest = { status: posted.status, body: await posted.json() }
  const read = await fetch(`http://127.0.0.1:${PORT}/v1/events/newcomer-1`, { headers })
  const body = (await read.json()) as { id?: string; name?: string }
  facts.read_back = { status: read.status, id: body.id, name: body.name }
}

async function newcomerTest() {
  const command = `bun install && bun run test ${filter.join(' ')}`
  facts.test_command = command
  const proc = Bun.spawn(['sh', '-c', command], { cwd: clone, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const output = collect(proc.stdout, proc.stderr)
  const finished = await Promise.race([proc.exited.then(() => true), Bun.sleep(TEST_COMMAND_MS_MAX).then(() => false)])
  if (!finished) proc.kill('SIGTERM')
  await proc.exited
  facts.test_finished = finished
  facts.test_exit_code = proc.exitCode
  facts.test_output = output.text()
}

// What a client finds on 127.0.0.1:port: 'refused' when nothing listens.
async function portState(port: number): Promise<string> {
  try {
    const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } })
    socket.end()
    return 'open'
  } catch (error) {
    return (error as { code?: string }).code === 'ECONNREFUSED' ? 'refused' : String((error as Error).message)
  }
}

function collect(...streams: ReadableStream<Uint8Array>[]): { text(): string } {
  let text = ''
  const decoder = new TextDecoder()
  for (const stream of streams) void (async () => { for await (const chunk of stream) text += decoder.decode(chunk) })()
  return { text: () => text }
}
