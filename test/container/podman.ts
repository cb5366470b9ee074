// Podman for the container tests, from Debian's packages alone (no Docker engine, no
// registry): whether it can run here and why not, the base images (a debootstrapped
// Debian imported as the runtime base, the Bun that runs these tests copied onto it
// as the build stage's), the Inlet image built from the repo's own Dockerfile, and
// Inlet containers on the host network. This file owns every image, container and
// volume it makes: their names carry this process's pid, and a run sweeps away what
// a killed run left behind.

import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ROOT = join(import.meta.dir, '../..')
// crun refuses this VM's hybrid cgroup layout and there is no systemd: runc with
// cgroupfs works everywhere podman does.
const GLOBAL = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs']
// Where the test debootstraps its base when .ci/run did not (INLET_CONTAINER_ROOTFS):
// reused by later runs on this machine.
const ROOTFS_CACHE = join(tmpdir(), 'inlet-container-rootfs', 'bookworm')
const PREFIX = `inlet-test-${process.pid}`

// Why the container tests cannot run here, or null when they can.
export function skipReason(): string | null {
  if (process.platform !== 'linux') return 'they need Linux'
  if (process.getuid?.() !== 0) return 'they need root (rootful podman with --isolation chroot)'
  if (!Bun.which('podman')) return 'podman is not installed (apt-get install podman runc debootstrap; .ci/run does)'
  if (!Bun.which('runc')) return 'runc is not installed (apt-get install runc; crun cannot run on hybrid cgroups)'
  if (!process.env.INLET_CONTAINER_ROOTFS && !Bun.which('debootstrap')) {
    return 'debootstrap is not installed and INLET_CONTAINER_ROOTFS names no base rootfs'
  }
  return null
}

export interface Run { code: number; stdout: string; stderr: string }

// Runs a command, failing with its output unless `allowFail`.
export async function run(argv: string[], opts: { allowFail?: boolean; cwd?: string } = {}): Promise<Run> {
  const proc = Bun.spawn(argv, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', cwd: opts.cwd })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited,
  ])
  if (code !== 0 && !opts.allowFail) throw new Error(`${argv.join(' ')} exited ${code}\n${stdout}${quiet(stderr)}`)
  return { code, stdout, stderr }
}

export const podman = (args: string[], opts: { allowFail?: boolean } = {}) => run(['podman', ...GLOBAL, ...args], opts)

// Without systemd, podman logs an error for every healthcheck timer it cannot make;
// the check itself still runs on `podman healthcheck run`. Those lines are noise.
const quiet = (stderr: string) => stderr.split('\n').filter(l => !/systemd connection/.test(l)).join('\n')

export interface Images {
  base: string
  inlet: string      // the Dockerfile's default target: compiled in the build stage
  prebuilt: string   // --target prebuilt: dist/inlet from `bun run build` on this host
  binaryBytes: number
}

// Imports the base, makes the Bun build image and builds both Inlet targets.
export async function buildImages(log: (msg: string) => void): Promise<Images> {
  await sweepLeftovers()
  const rootfs = process.env.INLET_CONTAINER_ROOTFS || ROOTFS_CACHE
  await run(['bash', join(import.meta.dir, 'base-rootfs.sh'), rootfs]).then(r => log(r.stdout.trim()))
  const base = `localhost/${PREFIX}/debian:bookworm-slim`
  await run(['bash', '-o', 'pipefail', '-c', `tar -C "$1" -c . | podman ${GLOBAL.join(' ')} import - "$2"`, 'sh', rootfs, base])
  const bun = await buildBunImage(base)

  const t0 = performance.now()
  const inlet = `localhost/${PREFIX}/inlet:compiled`
  await podman(['build', ...BUILD_FLAGS, '--build-arg', `BASE_IMAGE=${base}`, '--build-arg', `BUN_IMAGE=${bun}`, '-t', inlet, ROOT])
  log(`image built from the sources in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  const t1 = performance.now()
  await run([process.execPath, 'run', 'build'], { cwd: ROOT })
  const prebuilt = `localhost/${PREFIX}/inlet:prebuilt`
  await podman(['build', ...BUILD_FLAGS, '--target', 'prebuilt', '--build-arg', `BASE_IMAGE=${base}`, '-t', prebuilt, ROOT])
  log(`image built from dist/inlet in ${((performance.now() - t1) / 1000).toFixed(1)} s`)
  return { base, inlet, prebuilt, binaryBytes: statSync(join(ROOT, 'dist/inlet')).size }
}

// HEALTHCHECK survives only in the docker format; no registry is ever asked; no
// intermediate images are kept (each run builds afresh).
const BUILD_FLAGS = ['--isolation', 'chroot', '--format', 'docker', '--pull=never', '--layers=false']

// The build stage's image: the Bun running these tests (1.4.4, installed from npm)
// on the Debian base, with this host's CA trust when it has one, so `bun install`
// in the build reaches the registry the way it does on the host.
async function buildBunImage(base: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-bun-image-'))
  try {
    cpSync(process.execPath, join(dir, 'bun'))
    const lines = [`FROM ${base}`, 'COPY bun /usr/local/bin/bun']
    const ca = process.env.NODE_EXTRA_CA_CERTS
    if (ca && existsSync(ca)) {
      cpSync(ca, join(dir, 'ca.crt'))
      lines.push('COPY ca.crt /etc/ssl/certs/extra-ca.crt', 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/extra-ca.crt')
    }
    writeFileSync(join(dir, 'Containerfile'), lines.join('\n') + '\n')
    const image = `localhost/${PREFIX}/bun:${Bun.version}`
    await podman(['build', ...BUILD_FLAGS, '-t', image, dir])
    return image
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const imageBytes = async (image: string) =>
  Number((await podman(['image', 'inspect', '--format', '{{.Size}}', image])).stdout.trim())

export async function imageConfig(image: string) {
  const [info] = JSON.parse((await podman(['image', 'inspect', image])).stdout)
  return info as { User: string; Config: { StopSignal: string; Volumes: Record<string, object>; Entrypoint: string[]; Env: string[] }; Healthcheck: { Test: string[] } }
}

// Limits given explicitly: podman's defaults are above what this host lets a
// process raise to (no CAP_SYS_RESOURCE here), and runc then refuses to start.
// Open files: what this process may have, which is what Inlet's sockets need.
export function ulimits(): string[] {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find(l => l.startsWith('Max open files'))
  const hard = Number(line?.trim().split(/\s+/)[4]) // NaN when 'unlimited'
  const nofile = Number.isFinite(hard) ? Math.min(hard, 65_536) : 65_536
  // Processes (threads) of the container's user: Inlet runs a few dozen threads.
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', 'nproc=4096:4096']
}

export interface Container {
  name: string
  url: string
  // ms from `podman run` until it returned (the container made and started), and
  // until /ready answered 200.
  runMs: number
  readyMs: number
  logs(): Promise<string>
}

let serial = 0
export const volumeName = (what: string) => `${PREFIX}-${what}`

// Starts Inlet from `image` on the host network (so it reaches a Postgres on
// 127.0.0.1) with `volume` at /data, and waits for /ready.
export async function runInlet(image: string, volume: string, port: number, env: Record<string, string>, readyTimeoutMs = 30_000): Promise<Container> {
  const name = `${PREFIX}-c${++serial}`
  const envArgs = Object.entries({ LOG_LEVEL: 'info', ...env, PORT: String(port) }).flatMap(([k, v]) => ['-e', `${k}=${v}`])
  const t0 = performance.now()
  await podman(['run', '-d', '--name', name, '--network', 'host', ...ulimits(), '-v', `${volume}:/data`, ...envArgs, image])
  const runMs = performance.now() - t0
  const url = `http://127.0.0.1:${port}`
  const logs = async () => {
    const r = await podman(['logs', name], { allowFail: true })
    return r.stdout + quiet(r.stderr)
  }
  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    const r = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1_000) }).catch(() => null)
    if (r?.status === 200) break
    const state = (await podman(['inspect', '--format', '{{.State.Status}}', name], { allowFail: true })).stdout.trim()
    if (state !== 'running' && state !== 'created') throw new Error(`container ${name} is ${state} before /ready:\n${await logs()}`)
    if (Date.now() > deadline) throw new Error(`container ${name} not ready in ${readyTimeoutMs} ms:\n${await logs()}`)
    await Bun.sleep(20)
  }
  return { name, url, runMs, readyMs: performance.now() - t0, logs }
}

// `podman stop`: STOPSIGNAL (SIGTERM), then SIGKILL after `seconds`; the exit code.
export async function stopContainer(name: string, seconds = 30): Promise<number> {
  await podman(['stop', '--time', String(seconds), name])
  return Number((await podman(['inspect', '--format', '{{.State.ExitCode}}', name])).stdout.trim())
}

export const volumePath = async (volume: string) =>
  (await podman(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).stdout.trim()

// Everything this process made: containers, then volumes and networks, then images.
export async function removeAll(): Promise<void> {
  await removeOwnedBy(p => p === process.pid)
}

// What runs that are no longer alive left behind (killed before removeAll).
async function sweepLeftovers(): Promise<void> {
  await removeOwnedBy(p => p !== process.pid && !alive(p))
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function removeOwnedBy(owned: (pid: number) => boolean): Promise<void> {
  const mine = (names: string) => names.split('\n').filter(n => {
    const m = n.match(/inlet-test-(\d+)[-/]/)
    return m !== null && owned(Number(m[1]))
  })
  const containers = mine((await podman(['ps', '-a', '--format', '{{.Names}}'], { allowFail: true })).stdout)
  if (containers.length) await podman(['rm', '--force', '--time', '0', ...containers], { allowFail: true })
  const volumes = mine((await podman(['volume', 'ls', '--format', '{{.Name}}'], { allowFail: true })).stdout)
  if (volumes.length) await podman(['volume', 'rm', '--force', ...volumes], { allowFail: true })
  // compose.test.ts's dry run makes a network too.
  const networks = mine((await podman(['network', 'ls', '--format', '{{.Name}}'], { allowFail: true })).stdout)
  if (networks.length) await podman(['network', 'rm', '--force', ...networks], { allowFail: true })
  const images = mine((await podman(['images', '--format', '{{.Repository}}:{{.Tag}}'], { allowFail: true })).stdout)
  if (images.length) await podman(['rmi', '--force', ...images], { allowFail: true })
}
