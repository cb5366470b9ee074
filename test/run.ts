// `bun run test`: runs `bun test` with a JUnit report beside the console output,
// then prints the closing line CI counts ("N passed, N failed") and fails when a
// test failed or none ran. Extra arguments go to `bun test` (e.g. a path filter).

import { mkdirSync, readFileSync } from 'node:fs'

const REPORT = '.test-results/junit.xml'
mkdirSync('.test-results', { recursive: true })
// bunfig's [test] timeout is not applied by this Bun; pass it explicitly.
const proc = Bun.spawn(['bun', 'test', '--timeout=60000', '--reporter=junit', `--reporter-outfile=${REPORT}`, ...process.argv.slice(2)], {
  stdio: ['inherit', 'inherit', 'inherit'],
})
const code = await proc.exited

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
