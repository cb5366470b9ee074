// The figures the five published load reports give (../shared/WORKLOADS.md),
// shown in a column beside ours. They were measured on bigger setups than ours.

export const published = {
  'w1-realistic': '481 req/s, ~913 events/s; p50 8, p95 59, p99 260, max 900 ms; 429s 11.5% of requests',
  'w1-stress': '95.6 req/s = ~19,130 events/s; p50 4.6 s, p95 14.0 s, max 43.1 s',
  'w2-webhooks': '980 req/s; p50 85, p95 380, p99 620 ms; 0.3% errors',
  'w2-reporting': 'p50 320, p95 850, p99 1,200 ms; 0.5% errors',
  'w2-soak': '~50 req/s for 1 h; ~500 MB memory, stable',
  'w3-1': '549 req/s',
  'w3-10': '2,554 req/s',
  'w3-40': '2,653 req/s; mean up to 16 ms, spikes of 3 s (target 10,000/s not reached)',
  'w4-1000': '7,000 requests in 1.74 s, 4,017 req/s, 0 errors; mean 161, p99 364 ms',
  'w4-10000': '55,272 requests, 8.9% failed, 1,677 req/s; p50 2.7 s, p99 9.7 s',
  'w5': '8 of 12 passed (failed: duplicates, rate limit, partial batch, read-after-write); 26 events/s at ~570 ms average',
  'throughput-single': 'W3\'s system: 2,653 req/s (its target: 10,000/s)',
  'throughput-batch': 'W1\'s system: 19,130 events/s at p95 14 s',
} as const

export type PublishedKey = keyof typeof published
