// Where browser tests look for Chromium, in order, and what they say when there is
// none. Each case gets its own PATH and Playwright directory holding real files.
import { afterAll, expect, test } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findChromium } from './browser'

const root = mkdtempSync(join(tmpdir(), 'inlet-browser-find-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function executable(path: string): string {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, '#!/bin/sh\n')
  chmodSync(path, 0o755)
  return path
}

const emptyDir = (name: string) => {
  const dir = join(root, name)
  mkdirSync(dir, { recursive: true })
  return dir
}

test('CHROME_PATH wins over a chromium on PATH', () => {
  const bin = emptyDir('path-a')
  executable(join(bin, 'chromium'))
  const chosen = executable(join(root, 'custom/chrome'))
  expect(findChromium({ CHROME_PATH: chosen, PATH: bin })).toEqual({ found: true, path: chosen, source: 'CHROME_PATH' })
})

test('a CHROME_PATH that is not an executable fails instead of skipping', () => {
  expect(() => findChromium({ CHROME_PATH: join(root, 'missing'), PATH: '' })).toThrow('is not an executable file')
})

test('a chromium on PATH is used when CHROME_PATH is unset', () => {
  const bin = emptyDir('path-b')
  const chromium = executable(join(bin, 'chromium'))
  expect(findChromium({ PATH: bin, PLAYWRIGHT_BROWSERS_PATH: emptyDir('pw-none') })).toEqual({ found: true, path: chromium, source: 'chromium on PATH' })
})

test('with nothing on PATH the newest Chromium Playwright installed is used', () => {
  const pw = emptyDir('pw')
  executable(join(pw, 'chromium-999/chrome-linux/chrome'))
  const newest = executable(join(pw, 'chromium-1187/chrome-linux/chrome'))
  executable(join(pw, 'chromium-1140/chrome-linux/chrome'))
  expect(findChromium({ PATH: emptyDir('path-c'), PLAYWRIGHT_BROWSERS_PATH: pw })).toEqual({ found: true, path: newest, source: 'installed by Playwright' })
})

test('with no Chromium anywhere the answer says where it looked and how to install one', () => {
  const pw = emptyDir('pw-empty')
  const result = findChromium({ PATH: emptyDir('path-d'), PLAYWRIGHT_BROWSERS_PATH: pw })
  expect(result.found).toBe(false)
  if (result.found) return
  expect(result.reason).toContain('CHROME_PATH is unset')
  expect(result.reason).toContain(pw)
  expect(result.install).toMatch(/^(sudo )?apt-get install -y chromium$|^bunx playwright install chromium$/)
})
