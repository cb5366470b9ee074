// Placeholder: filled by its issue. Exports the route family the app mounts.

import { Elysia } from 'elysia'
import type { Deps } from '../context'

export function reportRoutes(_deps: Deps) {
  return new Elysia()
}
