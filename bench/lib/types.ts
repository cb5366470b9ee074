// The shapes every scenario returns and the report consumes.

import type { FlushFigures } from './metrics'
import type { WaitProfile } from './pg-waits'
import type { Summary } from './recorder'
import type { Usage } from './resources'

// inlet-2p: Inlet with INLET_PROCESSES=2 (a supervisor and two processes on one port).
// inlet-no-storage: Inlet whose flushes are answered without a write (bench/baselines/no-storage.ts).
// json-floor: a bare Bun.serve that parses the body and answers with the contract's headers (bench/baselines/bare-server.ts, BARE_JSON_FLOOR=1).
export type SystemKind = 'inlet' | 'inlet-2p' | 'inlet-no-storage' | 'baseline' | 'http-ceiling' | 'json-floor' | 'pg-ceiling'

export interface Target {
  text: string
  pass: boolean | null // null: not measurable in this run
  // For a miss: what in this run's own figures put it out of reach (bench/lib/budget.ts).
  why?: string
}

export interface PhaseResult {
  scenario: string
  phase: string // short id, unique within the scenario: 'single-64c'
  title: string // what a reader sees: 'single event, 64 connections'
  system: SystemKind
  load: string // how the load was offered: 'closed loop, 64 connections'
  estimate: string // the back-of-envelope expectation, written before measuring
  summary: Summary
  usage: Usage | null
  flush: FlushFigures | null
  waits: WaitProfile | null
  theirs: string | null // the published figure from WORKLOADS.md
  ratios: Record<string, number> // 'vs HTTP ceiling': 0.52
  targets: Target[]
  notes: string[]
  // Anything scenario-specific worth keeping in the JSON (W1 429 arithmetic, W4 wall time).
  extra: Record<string, unknown>
}

export interface Check {
  name: string
  pass: boolean
  detail: string
  theirs: string
}

export interface ScenarioResult {
  name: string
  title: string
  phases: PhaseResult[]
  checks: Check[]
  notes: string[]
  error: string | null
}

export interface RunOptions {
  // Measured window of each phase, unless a scenario's shape fixes it (W4 runs to completion).
  durationMs: number | null // null: each scenario's quick default
  warmupMs: number
  soakMs: number | null // null: the short soak
  reportsSeedEvents: number | null
  // Events of the big project (default: BIG_SHARE of reportsSeedEvents): a smaller seed
  // can keep the big project at the full data set's 2M.
  reportsSeedBigEvents?: number | null
  quick: boolean
  // Before each phase, wait up to this long for the machine to be idle.
  waitIdleMs: number
  // --phase: run only these parts of a scenario that has several (throughput: single, batch); null: all.
  phases?: string[] | null
}

export interface Scenario {
  name: string
  title: string
  run(o: RunOptions, out: ScenarioResult): Promise<void>
}
