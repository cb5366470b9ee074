import { describe, expect, test } from 'bun:test'
import { ConfigError, limits, loadConfig } from '../../src/config'

describe('configuration', () => {
  test('defaults follow the API contract', () => {
    const c = loadConfig({})
    expect(c.port).toBe(3000)
    expect(c.dataDir).toBe('./data')
    expect(c.limits).toMatchObject({
      BODY_BYTES_MAX: 10 * 1024 * 1024, EVENT_BYTES_MAX: 8 * 1024 * 1024, BATCH_EVENTS_MAX: 10_000,
      JSON_DEPTH_MAX: 32, ID_CHARS_MAX: 128, NAME_CHARS_MAX: 200,
    })
  })

  test('every limit is read from the environment variable of its name and range-checked', () => {
    for (const [name, [fallback, , max]] of Object.entries(limits)) {
      expect(loadConfig({ [name]: String(fallback) }).limits[name as keyof typeof limits]).toBe(fallback)
      expect(() => loadConfig({ [name]: String(max + 1) })).toThrow(name)
    }
    expect(loadConfig({ QUEUE_EVENTS_MAX: '12345' }).limits.QUEUE_EVENTS_MAX).toBe(12345)
  })

  test('an invalid value stops start-up with a message naming the variable', () => {
    for (const env of [{ BODY_BYTES_MAX: 'ten' }, { QUEUE_EVENTS_MAX: '0' }, { PORT: '70000' }, { SPILL_SYNCHRONOUS: 'OFF' }, { DATABASE_URL: 'mysql://x' }, { LOG_FORMAT: 'xml' }]) {
      const name = Object.keys(env)[0]
      expect(() => loadConfig(env)).toThrow(ConfigError)
      expect(() => loadConfig(env)).toThrow(name)
    }
  })

  test('relations between limits are checked: a batch must fit the buffer', () => {
    expect(() => loadConfig({ QUEUE_EVENTS_MAX: '10', BATCH_EVENTS_MAX: '11' })).toThrow('BATCH_EVENTS_MAX')
    expect(loadConfig({ QUEUE_EVENTS_MAX: '10', BATCH_EVENTS_MAX: '10' }).limits.QUEUE_EVENTS_MAX).toBe(10)
  })

  test('the log is JSON off a terminal and readable on one, unless LOG_FORMAT chooses', () => {
    expect(loadConfig({}, false).logFormat).toBe('json')
    expect(loadConfig({}, true).logFormat).toBe('pretty')
    expect(loadConfig({ LOG_FORMAT: 'json' }, true).logFormat).toBe('json')
    expect(loadConfig({ LOG_FORMAT: 'PRETTY' }, false).logFormat).toBe('pretty')
  })

  test('numbers may use underscores as separators', () => {
    expect(loadConfig({ QUEUE_EVENTS_MAX: '200_000' }).limits.QUEUE_EVENTS_MAX).toBe(200_000)
  })
})
