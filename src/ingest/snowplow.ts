// Snowplow tracker protocol v2 events (@snowplow/browser-tracker, node-tracker and
// every other Snowplow tracker) turned into Inlet's event, so an unmodified Snowplow
// tracker delivers into Inlet. Pure and total: any JSON value in, never a throw;
// every problem is reported with its path in tp2's field names (`/uid`, `/se_ac`).
//
//   eid → id                 uid → user_id          sid → session_id
//   duid, else nuid, else tnuid → anonymous_id
//   e: pv → `$page` (type page)   pp → `$page_ping`   se → `<se_ca>:<se_ac>`
//      ue → the event's schema name (`iglu:com.acme/purchase/jsonschema/1-0-2` → `purchase`)
//      tr → `$transaction`   ti → `$transaction_item`   (all but pv: type track)
//   properties: pv/pp: url, title, referrer (+ pp's scroll offsets); se: category,
//      action, label, property, value; ue: the event's data; tr/ti: their fields by name
//   context: contexts (co / cx, the list of self-describing JSON), event_schema (ue),
//      page {url, title, referrer}, library {name: "snowplow", version: tv}, and tp2:
//      every other field as sent (aid, p, tv, dtm, stm, duid, res, ua, …), so nothing is lost
//   timestamp: ttm (the true time, trusted as is), else dtm shifted by the clock skew
//      that stm (device time at sending) reveals, else the time received.

import type { ErrorDetail } from '../errors'
import type { Format } from './index'
import { CONTEXTS_SCHEMA, igluParts, selfDescribing, UNSTRUCT_EVENT_SCHEMA } from './snowplow-decode'
import { isObject, jsonType, type RequestContext } from './validate'

export type SnowplowType = 'track' | 'page'

type Json = Record<string, unknown>

export interface MappedEvent {
  type: SnowplowType | null
  event: Json
  errors: ErrorDetail[]
  rename(path: string): string
}

export interface MapContext {
  receivedAtMs: number
  skewMsMax: number
  // Decoded size allowed for one event's ue_px / cx (base64url JSON).
  nestedBytesMax: number
}

const NAMES: Record<string, string> = { pv: '$page', pp: '$page_ping', tr: '$transaction', ti: '$transaction_item' }
const STRUCT = { se_ca: 'category', se_ac: 'action', se_la: 'label', se_pr: 'property', se_va: 'value' } as const
const PING = { pp_mix: 'min_x', pp_max: 'max_x', pp_miy: 'min_y', pp_may: 'max_y' } as const
const TRANSACTION = {
  tr_id: 'order_id', tr_af: 'affiliation', tr_tt: 'total', tr_tx: 'tax', tr_sh: 'shipping', tr_ci: 'city', tr_st: 'state', tr_co: 'country', tr_cu: 'currency',
} as const
const ITEM = { ti_id: 'order_id', ti_sk: 'sku', ti_nm: 'name', ti_ca: 'category', ti_pr: 'price', ti_qu: 'quantity', ti_cu: 'currency' } as const
const NUMERIC = new Set(['se_va', 'pp_mix', 'pp_max', 'pp_miy', 'pp_may', 'tr_tt', 'tr_tx', 'tr_sh', 'ti_pr', 'ti_qu'])
const PAGE = { url: 'url', page: 'title', refr: 'referrer' } as const
// Fields that become the event's own columns or properties; every other one is kept in context.tp2.
const CONSUMED = new Set(['e', 'eid', 'uid', 'sid', 'ue_pr', 'ue_px', 'co', 'cx', ...Object.keys(STRUCT), ...Object.keys(PING), ...Object.keys(TRANSACTION), ...Object.keys(ITEM)])

// tp2 sends every value as text; some trackers send numbers. Empty text is absent.
function field(errors: ErrorDetail[], raw: Json, key: string): string | undefined {
  const v = raw[key]
  if (v === undefined || v === null || v === '') return undefined
  if (typeof v === 'string') return v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  errors.push({ path: `/${key}`, message: `must be a string, got ${jsonType(v)}` })
  return undefined
}

// A tp2 number ("42", "19.99"): a number when it reads as one, else the text as sent.
function numeric(text: string): number | string {
  const n = Number(text)
  return text.trim() !== '' && Number.isFinite(n) ? n : text
}

// `map` names which tp2 fields become which properties.
function renamed(errors: ErrorDetail[], raw: Json, map: Record<string, string>): Json {
  return Object.fromEntries(Object.entries(map).flatMap(([from, to]) => {
    const v = field(errors, raw, from)
    return v === undefined ? [] : [[to, NUMERIC.has(from) ? numeric(v) : v]]
  }))
}

function epochMs(errors: ErrorDetail[], raw: Json, key: string): number | null {
  const v = field(errors, raw, key)
  if (v === undefined) return null
  if (/^\d{1,16}$/.test(v)) return Number(v)
  errors.push({ path: `/${key}`, message: 'must be epoch milliseconds' })
  return null
}

function timestampOf(errors: ErrorDetail[], raw: Json, ctx: MapContext): { ms: number; from: string } | null {
  const ttm = epochMs(errors, raw, 'ttm')
  if (ttm !== null) return { ms: ttm, from: '/ttm' }
  const dtm = epochMs(errors, raw, 'dtm')
  const stm = epochMs(errors, raw, 'stm')
  if (dtm === null) return null
  const skew = stm === null ? 0 : ctx.receivedAtMs - stm
  return { ms: dtm + (Math.abs(skew) <= ctx.skewMsMax ? skew : 0), from: '/dtm' }
}

// The event's name and properties from `e`, plus where in the sender's fields each came from.
function body(errors: ErrorDetail[], raw: Json, e: string | undefined, ctx: MapContext) {
  const page = renamed(errors, raw, PAGE)
  if (e === 'pv') return { name: NAMES.pv, properties: page, nameFrom: '/e', propsFrom: (k: string) => `/${keyOf(PAGE, k)}` }
  if (e === 'pp') return { name: NAMES.pp, properties: { ...page, ...renamed(errors, raw, PING) }, nameFrom: '/e', propsFrom: (k: string) => `/${keyOf({ ...PAGE, ...PING }, k)}` }
  if (e === 'tr') return { name: NAMES.tr, properties: renamed(errors, raw, TRANSACTION), nameFrom: '/e', propsFrom: (k: string) => `/${keyOf(TRANSACTION, k)}` }
  if (e === 'ti') return { name: NAMES.ti, properties: renamed(errors, raw, ITEM), nameFrom: '/e', propsFrom: (k: string) => `/${keyOf(ITEM, k)}` }
  if (e === 'se') {
    const properties = renamed(errors, raw, STRUCT)
    for (const k of ['se_ca', 'se_ac'] as const) if (properties[STRUCT[k]] === undefined && !errors.some(x => x.path === `/${k}`)) errors.push({ path: `/${k}`, message: 'required' })
    const name = properties.category !== undefined && properties.action !== undefined ? `${properties.category}:${properties.action}` : undefined
    return { name, properties, nameFrom: '/se_ac', propsFrom: (k: string) => `/${keyOf(STRUCT, k)}` }
  }
  if (e === 'ue') {
    const sd = selfDescribing(errors, raw, 'ue_pr', 'ue_px', UNSTRUCT_EVENT_SCHEMA, ctx.nestedBytesMax)
    if (sd === null && !errors.some(x => x.path.startsWith('/ue_p'))) errors.push({ path: '/ue_pr', message: 'required: a self-describing event (ue_pr or ue_px)' })
    const inner = sd && isObject(sd.value) ? sd.value : null
    if (sd && !inner) errors.push({ path: `${sd.from}/data`, message: `must be {"schema", "data"}, got ${jsonType(sd.value)}` })
    const iglu = inner ? igluParts(inner.schema) : null
    if (inner && !iglu) errors.push({ path: `${sd!.from}/data/schema`, message: 'must be an Iglu URI iglu:vendor/name/format/version' })
    const data = inner?.data
    const properties = isObject(data) ? data : data === undefined || data === null ? {} : { data }
    const from = sd?.from ?? '/ue_pr'
    return { name: iglu?.name, properties, schema: iglu ? inner!.schema : undefined, nameFrom: `${from}/data/schema`, propsFrom: (k: string) => `${from}/data/data/${k}` }
  }
  errors.push({ path: '/e', message: e === undefined ? 'required' : 'must be one of pv, pp, se, ue, tr, ti' })
  return { name: undefined, properties: {}, nameFrom: '/e', propsFrom: (k: string) => `/${k}` }
}

function keyOf(map: Record<string, string>, to: string): string {
  return Object.entries(map).find(([, v]) => v === to)?.[0] ?? to
}

// One tp2 event (a POST envelope's item, or the GET pixel's query) → Inlet's event shape.
export function mapSnowplowEvent(raw: unknown, ctx: MapContext): MappedEvent {
  if (!isObject(raw)) return { type: null, event: {}, errors: [{ path: '', message: `must be an object, got ${jsonType(raw)}` }], rename: p => p }
  const errors: ErrorDetail[] = []
  const e = field(errors, raw, 'e')
  const b = body(errors, raw, e, ctx)
  const contexts = selfDescribing(errors, raw, 'co', 'cx', CONTEXTS_SCHEMA, ctx.nestedBytesMax)
  if (contexts && !Array.isArray(contexts.value)) errors.push({ path: `${contexts.from}/data`, message: `must be an array of contexts, got ${jsonType(contexts.value)}` })
  const anonFrom = ['duid', 'nuid', 'tnuid'].find(k => raw[k] !== undefined && raw[k] !== null && raw[k] !== '') ?? 'duid'
  const tp2 = Object.fromEntries(Object.entries(raw).filter(([k]) => !CONSUMED.has(k)))
  const context: Json = { tp2 }
  if (contexts && Array.isArray(contexts.value)) context.contexts = contexts.value
  if ('schema' in b && b.schema) context.event_schema = b.schema
  const page = renamed(errors, raw, PAGE)
  if (Object.keys(page).length > 0) context.page = page
  const tv = field(errors, raw, 'tv')
  if (tv) context.library = { name: 'snowplow', version: tv }
  const event: Json = {
    id: field(errors, raw, 'eid'), name: b.name, user_id: field(errors, raw, 'uid'),
    anonymous_id: field(errors, raw, anonFrom), session_id: field(errors, raw, 'sid'), properties: b.properties, context,
  }
  const time = timestampOf(errors, raw, ctx)
  if (time) event.timestamp = time.ms
  const unique = errors.filter((x, i) => errors.findIndex(y => y.path === x.path && y.message === x.message) === i)
  const columns: Record<string, string> = {
    '/id': '/eid', '/user_id': '/uid', '/anonymous_id': `/${anonFrom}`, '/session_id': '/sid', '/name': b.nameFrom,
    '/timestamp': time?.from ?? '/dtm', '/context/library': '/tv', '/context/page': '/url', '/context/event_schema': b.nameFrom,
  }
  const rename = (path: string) => {
    for (const [from, to] of Object.entries(columns)) if (path === from || path.startsWith(`${from}/`)) return to + path.slice(from.length)
    const prop = path.match(/^\/properties\/([^/]+)(\/.*)?$/)
    if (prop) return b.propsFrom(prop[1]) + (prop[2] ?? '')
    const ctxList = path.match(/^\/context\/contexts(\/.*)?$/)
    if (ctxList) return `${contexts?.from ?? '/co'}/data${ctxList[1] ?? ''}`
    const kept = path.match(/^\/context\/tp2\/(.*)$/)
    return kept ? `/${kept[1]}` : path
  }
  return { type: e === undefined || !['pv', 'pp', 'se', 'ue', 'tr', 'ti'].includes(e) ? null : e === 'pv' ? 'page' : 'track', event, errors: unique, rename }
}

// The ingest format of a collector request's tp2 events: each mapped here (its
// clock skew corrected from its own stm), then validated by ingest/index.ts. A
// nested ue_px / cx may decode to at most one event's size.
export function snowplowFormat(req: RequestContext, limits: { SKEW_MS_MAX: number; EVENT_BYTES_MAX: number }): Format {
  const ctx: MapContext = { receivedAtMs: req.receivedAtMs, skewMsMax: limits.SKEW_MS_MAX, nestedBytesMax: limits.EVENT_BYTES_MAX }
  return { type: 'track', invalid: 'the Snowplow event is invalid', map: raw => mapSnowplowEvent(raw, ctx) }
}
