// The embedded Postgres's own output (initdb's and the server's), kept out of a
// newcomer's way: every line goes to a file beside the cluster (data/postgres.log)
// and to Inlet's log at debug; only Postgres's warnings and errors reach the log at
// warn. This file owns that file: opened per start, the previous run's kept as .1.

import { closeSync, existsSync, openSync, renameSync, writeSync } from 'node:fs'

export type ServerLogLevel = 'debug' | 'warn'

export interface ServerLog {
  readonly path: string
  line(text: string): void
  close(): void
}

// Postgres at its defaults writes a few lines per start and one per checkpoint;
// past this the file is rotated to .1, so the two never hold more than twice it.
const SERVER_LOG_BYTES_MAX = 16 * 1024 * 1024
// Postgres's severities that a person should see without LOG_LEVEL=debug.
const LOUD = /\b(WARNING|ERROR|FATAL|PANIC):/
// FATALs that a normal stop or start produces: a session still open when Inlet
// stops its Postgres, a connection tried while it starts or stops.
const ROUTINE = /terminating connection due to administrator command|the database system is (shutting down|starting up)/

export function levelOf(line: string): ServerLogLevel {
  return LOUD.test(line) && !ROUTINE.test(line) ? 'warn' : 'debug'
}

export function openServerLog(path: string, log: (level: ServerLogLevel, msg: string) => void): ServerLog {
  let fd = -1
  let bytes = 0
  const open = () => {
    // The previous run's output, which explains a crash, survives one restart.
    if (existsSync(path)) renameSync(path, `${path}.1`)
    fd = openSync(path, 'a', 0o600)
    bytes = 0
  }
  open()
  return {
    path,
    line(text) {
      log(levelOf(text), `postgres: ${text}`)
      if (fd < 0) return
      const data = `${text}\n`
      if (bytes + data.length > SERVER_LOG_BYTES_MAX) {
        closeSync(fd)
        open()
      }
      bytes += writeSync(fd, data)
    },
    close() {
      if (fd < 0) return
      closeSync(fd)
      fd = -1
    },
  }
}

