// posthog-js as the app would import it, put on window for the test page to drive.
import posthog from 'posthog-js'
;(globalThis as Record<string, unknown>).posthog = posthog
