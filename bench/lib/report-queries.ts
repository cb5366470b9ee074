// The report requests a dashboard user makes: counts, funnels and retention over a
// range ending now (rounded to the minute, as a dashboard's "last N days" is), in
// enough variants (names, intervals, steps, windows) that a result cache helps
// only as much as it would for real users looking at shared dashboards.

import { FUNNEL_STEPS } from './events'

export type ReportKind = 'counts' | 'funnel' | 'retention'

const NAMES = ['PageView', 'ViewProduct', 'AddToCart', 'Checkout', 'Purchase', 'Signup']
const FUNNELS = [FUNNEL_STEPS.join(','), 'PageView,AddToCart,Purchase', 'ViewProduct,Checkout,Purchase', 'Signup,PageView,Purchase']
const WITHIN_S = [600, 3_600, 86_400]

// `endOffsetMin` shifts the range's end back by whole minutes: users looking at their
// own slice of time, so no two share a cached result (the uncached variant).
export function reportPaths(days: number, endOffsetMin = 0): { kind: ReportKind; path: string }[] {
  const to = (Math.floor(Date.now() / 60_000) - endOffsetMin) * 60_000
  const range = `from=${new Date(to - days * 86_400_000).toISOString()}&to=${new Date(to).toISOString()}`
  const out: { kind: ReportKind; path: string }[] = []
  for (const interval of ['day', 'hour']) {
    out.push({ kind: 'counts', path: `/v1/reports/counts?interval=${interval}&${range}` })
    for (const name of NAMES) out.push({ kind: 'counts', path: `/v1/reports/counts?interval=${interval}&name=${name}&${range}` })
  }
  for (const steps of FUNNELS) for (const within of WITHIN_S) out.push({ kind: 'funnel', path: `/v1/reports/funnel?steps=${steps}&within=${within}&${range}` })
  for (const ret of ['any', 'Purchase', 'PageView']) {
    out.push({ kind: 'retention', path: `/v1/reports/retention?cohort_event=Signup&return_event=${ret}&interval=day&periods=${Math.min(days, 14)}&${range}` })
    if (days >= 14) out.push({ kind: 'retention', path: `/v1/reports/retention?cohort_event=Signup&return_event=${ret}&interval=week&periods=${Math.floor(days / 7)}&${range}` })
  }
  return out
}
