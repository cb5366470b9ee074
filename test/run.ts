// `bun run test`: finds or starts the run's Postgres (test/support/test-postgres.ts)
// and says which in its first lines, with the binaries fault tests will use and the
// browser; runs `bun test` with a JUnit report beside the console output; then
// prints the closing line CI counts ("N passed, N failed, N skipped") and fails
// when a test failed or none ran. Extra arguments go to `bun test` (e.g. a path
// filter). The Postgres it started is removed after, even when this is killed.

import { mkdirSync, readFileSync } from 'node:fs'
import { describeBrowser } from './support/browser'
import { clusterBinaries, describeBinaries } from './support/pg-binaries'
import { provideTestPostgres } from './support/test-postgres'

const REPORT = '.test-results/junit.xml'
mkdirSync('.test-results', { recursive: true })

const pg = await provideTestPostgres().catch((error: Error) => {
  console.error(`postgres: none for this run: ${error.message}`)
  process.exit(1)
})
console.log(`postgres: ${pg.description}`)
console.log(`fault-test clusters: ${describeFaultClusters()}`)
console.log(`browser: ${describeBrowser()}`)

// bunfig's [test] timeout is not applied by this Bun; pass it explicitly.
const proc = Bun.spawn(['bun', 'test', '--timeout=60000', '--reporter=junit', `--reporter-outfile=${REPORT}`, ...process.argv.slice(2)], {
  stdio: ['inherit', 'inherit', 'inherit'],
  // Every bun test process (one, or one per --parallel worker) shares this Postgres;
  // test/setup.ts creates the run's database on it and watches this pid.
  env: { ...process.env, TEST_DATABASE_URL: pg.adminUrl, INLET_TEST_RUNNER_PID: String(process.pid) },
})
// Ctrl-C reaches bun test too (same process group); SIGTERM may be sent to this
// process alone. Either way: let bun test finish its afterAll, then clean up.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => proc.kill(signal))
const code = await proc.exited
await pg.stop()

let xml = ''
try { xml = readFileSync(REPORT, 'utf8') } catch {}
const suite = xml.match(/<testsuites[^>]*>/)?.[0] ?? ''
const attr = (name: string) => Number(suite.match(new RegExp(`\\b${name}="(\\d+)"`))?.[1] ?? 0)
const tests = attr('tests')
const failed = attr('failures') + attr('errors')
const skipped = attr('skipped')
const passed = tests - failed - skipped
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
if (tests === 0) console.error('no test ran')
process.exit(code !== 0 || failed > 0 || tests === 0 ? 1 : 0)

function describeFaultClusters(): string {
  try {
    return describeBinaries(clusterBinaries())
  } catch (error) {
    return `none (${(error as Error).message})`
  }
}
