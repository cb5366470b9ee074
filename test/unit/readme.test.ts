// The README is the front door: its configuration table is exactly the limits in
// src/config.ts, with their defaults, ranges and reasons. To refresh it after a
// change: `UPDATE_README=1 bun test test/unit/readme.test.ts`.

import { expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { limits } from '../../src/config'

const README = join(import.meta.dir, '../../README.md')
const START = '<!-- limits-table -->'
const END = '<!-- /limits-table -->'

const KiB = 1024
const number = (n: number) => n.toLocaleString('en-US')

// Byte limits read as KiB/MiB/GiB when they are whole ones; everything else with separators.
function value(name: string, n: number): string {
  if (!name.includes('BYTES')) return number(n)
  for (const [unit, size] of [['GiB', KiB ** 3], ['MiB', KiB ** 2], ['KiB', KiB]] as const) {
    if (n >= size && n % size === 0) return `${number(n / size)} ${unit}`
  }
  return `${number(n)} B`
}

export function limitsTable(): string {
  const rows = Object.entries(limits).map(([name, [fallback, min, max, why]]) =>
    `| \`${name}\` | ${value(name, fallback)} | ${value(name, min)} – ${value(name, max)} | ${why} |`)
  return ['| limit | default | range | why this bound |', '| --- | --- | --- | --- |', ...rows].join('\n')
}

test('the README configuration table is exactly the limits of src/config.ts', () => {
  const readme = readFileSync(README, 'utf8')
  const start = readme.indexOf(START), end = readme.indexOf(END)
  expect(start).toBeGreaterThan(0)
  expect(end).toBeGreaterThan(start)
  const expected = limitsTable()
  if (process.env.UPDATE_README) {
    writeFileSync(README, `${readme.slice(0, start + START.length)}\n${expected}\n${readme.slice(end)}`)
    return
  }
  expect(readme.slice(start + START.length, end).trim()).toBe(expected)
})
