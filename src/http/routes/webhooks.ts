// Placeholder: filled by its issue. Exports the route family the app mounts.

import { Elysia } from 'elysia'
import type { Deps } from '../context'

export function webhookRoutes(_deps: Deps) {
  return new Elysia()
}
