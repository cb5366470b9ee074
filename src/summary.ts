// The start-up summary a person at a terminal reads (LOG_FORMAT=pretty): where
// Inlet listens, the console and Swagger addresses, the keys to try it with, which
// Postgres it uses and where its data lives. Off a terminal the JSON log says the
// same in its own lines, and nothing is printed here.

import path from 'node:path'
import type { Config } from './config'
import type { Bootstrapped } from './store/bootstrap'

export interface StartupFacts {
  port: number
  // The URL Inlet connected to (the embedded one when DATABASE_URL is unset).
  databaseUrl: string
  boot: Bootstrapped
}

export function printStartupSummary(config: Config, facts: StartupFacts, write: (text: string) => void = text => process.stdout.write(text)): void {
  if (config.logFormat !== 'pretty') return
  write(startupSummary(config, facts))
}

export function startupSummary(config: Config, facts: StartupFacts): string {
  const base = `http://${browsable(config.host)}:${facts.port}`
  const rows: [string, string][] = [
    ['Listening', `${config.host}:${facts.port}`],
    ['Console', `${base}/`],
    ['Swagger', `${base}/swagger`],
  ]
  const { demo } = facts.boot
  if (demo) rows.push(['Demo key', `${demo.key}  (project "demo"; saved in ${shown(demo.path)})`])
  rows.push(['Admin token', adminToken(facts.boot)])
  rows.push(['Postgres', postgres(config, facts.databaseUrl)])
  rows.push(['Data dir', `${shown(config.dataDir)}  (the spill${config.databaseUrl ? '' : ', the embedded cluster'} and generated keys)`])
  const width = Math.max(...rows.map(([label]) => label.length))
  const lines = [
    '',
    `  Inlet is ready${config.databaseUrl ? '' : ' (on its embedded Postgres: for trying it out)'}`,
    '',
    ...rows.map(([label, value]) => `    ${label.padEnd(width)}  ${value}`),
    '',
  ]
  if (demo) {
    lines.push(`  Try it:  curl -s ${base}/v1/events -H "Authorization: Bearer ${demo.key}" -d '{"name":"Hello"}'`, '')
  }
  lines.push(`  Ctrl-C stops it. Log lines follow (LOG_LEVEL=debug for more, LOG_FORMAT=json for JSON).`, '', '')
  return lines.join('\n')
}

// A wildcard listen address is reached through localhost.
function browsable(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost'
  return host.includes(':') ? `[${host}]` : host
}

function adminToken(boot: Bootstrapped): string {
  if (boot.adminTokenFrom === 'env') return 'from INLET_ADMIN_TOKEN'
  if (boot.adminTokenFrom === 'generated') return `${boot.adminToken}  (generated now; saved in ${shown(boot.adminTokenPath!)})`
  return `saved in ${shown(boot.adminTokenPath!)}`
}

// Never the password: the summary may be pasted into a chat or an issue.
function postgres(config: Config, databaseUrl: string): string {
  const url = new URL(databaseUrl)
  const where = `${url.hostname}:${url.port || 5432}${url.pathname}`
  if (config.databaseUrl) return `${url.username ? `${decodeURIComponent(url.username)}@` : ''}${where}  (DATABASE_URL)`
  const cluster = shown(path.join(config.dataDir, 'postgres'))
  return `embedded, on ${where}, data in ${cluster} (its own log: ${cluster}.log)`
}

// Paths under the working directory as `bun run start` users think of them
// (./data/postgres), others in full.
function shown(p: string): string {
  const relative = path.relative(process.cwd(), path.resolve(p))
  if (relative === '') return '.'
  return relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(p) : `./${relative}`
}
