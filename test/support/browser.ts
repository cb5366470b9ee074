// The real browser for browser tests: finds a Chromium (CHROME_PATH, one on PATH
// such as Debian's `chromium`, or one Playwright installed), runs it headless with
// every host but this machine unresolvable, and registers browser tests so that
// with no Chromium they are reported as skipped, with the command that installs
// one, never failed and never passed. Every browser test goes through here.
import { test } from 'bun:test'
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'

export type Chromium =
  | { readonly found: true; readonly path: string; readonly source: string }
  | { readonly found: false; readonly reason: string; readonly install: string }

const ON_PATH = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']
// Inside ms-playwright/<browser>-<revision>/, by platform and Playwright version.
const PLAYWRIGHT_EXECUTABLES = [
  'chromium-*/chrome-linux*/chrome',
  'chromium_headless_shell-*/chrome-*linux*/*headless*shell',
  'chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium',
  'chromium-*/chrome-mac*/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing',
]
// A page's scripts get this much virtual time to run and fetch before the DOM is
// dumped; virtual time runs as fast as the page allows, so this is no wait.
const VIRTUAL_TIME_BUDGET_MS = 10_000

let cached: Chromium | undefined

export function findChromium(env: Record<string, string | undefined> = process.env): Chromium {
  if (cached && env === process.env) return cached
  const result = search(env)
  if (env === process.env) cached = result
  return result
}

function search(env: Record<string, string | undefined>): Chromium {
  if (env.CHROME_PATH) {
    // Named explicitly: a wrong path is a mistake to report, not a reason to skip.
    if (!isExecutable(env.CHROME_PATH)) throw new Error(`CHROME_PATH=${env.CHROME_PATH} is not an executable file`)
    return { found: true, path: env.CHROME_PATH, source: 'CHROME_PATH' }
  }
  for (const name of ON_PATH) {
    const path = Bun.which(name, { PATH: env.PATH ?? '' })
    if (path) return { found: true, path, source: `${name} on PATH` }
  }
  const cache = playwrightCache(env)
  for (const pattern of PLAYWRIGHT_EXECUTABLES) {
    const matches = existsSync(cache) ? [...new Bun.Glob(pattern).scanSync({ cwd: cache, onlyFiles: true })].sort(byRevision) : []
    const newest = matches.at(-1)
    if (newest && isExecutable(join(cache, newest))) return { found: true, path: join(cache, newest), source: 'installed by Playwright' }
  }
  return {
    found: false,
    reason: `no Chromium: CHROME_PATH is unset, none of ${ON_PATH.join(', ')} is on PATH, and Playwright has none in ${cache}`,
    install: installCommand(),
  }
}

// One line for the run's first lines.
export function describeBrowser(): string {
  try {
    const c = findChromium()
    return c.found ? `Chromium at ${c.path} (${c.source})` : `${c.reason}; browser tests will be skipped. Install it with: ${c.install}`
  } catch (error) {
    return `${(error as Error).message}; browser tests will fail`
  }
}

let announced = false

// A test that needs Chromium. Without one it is skipped, and the file says why once.
export function browserTest(name: string, fn: (chromium: string) => Promise<void>, timeoutMs: number): void {
  let chromium: Chromium
  try {
    chromium = findChromium()
  } catch (error) {
    test(name, () => { throw error }, timeoutMs)
    return
  }
  if (chromium.found) {
    const path = chromium.path
    test(name, () => fn(path), timeoutMs)
    return
  }
  if (!announced) console.warn(`browser tests skipped: ${chromium.reason}. Install it with: ${chromium.install}`)
  announced = true
  test.skip(name, () => {})
}

// Loads url in headless Chromium, lets its scripts run, and returns the DOM. The
// browser resolves no host but 127.0.0.1, so a page that needs the internet shows it.
export async function renderedDom(chromium: string, url: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'inlet-chromium-'))
  try {
    const proc = Bun.spawn([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`,
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', `--virtual-time-budget=${VIRTUAL_TIME_BUDGET_MS}`, '--dump-dom',
      url], { stdout: 'pipe', stderr: 'ignore', stdin: 'ignore' })
    const [dom] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
    return dom
  } finally {
    rmSync(profile, { recursive: true, force: true })
  }
}

// chromium-999 is older than chromium-1140: compare revisions as numbers.
const byRevision = (a: string, b: string) => revision(a) - revision(b)
const revision = (path: string) => Number(path.match(/^[^/]*-(\d+)\//)?.[1] ?? 0)

function playwrightCache(env: Record<string, string | undefined>): string {
  if (env.PLAYWRIGHT_BROWSERS_PATH) return env.PLAYWRIGHT_BROWSERS_PATH
  const home = env.HOME || homedir()
  return process.platform === 'darwin' ? join(home, 'Library/Caches/ms-playwright') : join(home, '.cache/ms-playwright')
}

// Debian packages Chromium itself (what CI uses); elsewhere (macOS, Ubuntu, whose
// `chromium` is a snap) Playwright's download works without root.
function installCommand(): string {
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : ''
  if (/^ID=debian$/m.test(osRelease)) return `${process.getuid?.() === 0 ? '' : 'sudo '}apt-get install -y chromium`
  return 'bunx playwright install chromium'
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
