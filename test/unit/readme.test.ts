// The README is the front door: its configuration table must list every limit.

import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { limits } from '../../src/config'

test('the README configuration table lists every limit with its default', () => {
  const readme = readFileSync(join(import.meta.dir, '../../README.md'), 'utf8')
  const missing = Object.keys(limits).filter(name => !readme.includes(`| \`${name}\` |`))
  expect(missing).toEqual([])
})
