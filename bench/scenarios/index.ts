// Every scenario, in the order the quick pass runs them.

import type { Scenario } from '../lib/types'
import { reports } from './reports'
import { throughput } from './throughput'
import { w1 } from './w1'
import { w2 } from './w2'
import { w3 } from './w3'
import { w4 } from './w4'
import { w5 } from './w5'

export const scenarios: Scenario[] = [w5, throughput, w3, w1, w2, w4, reports]
