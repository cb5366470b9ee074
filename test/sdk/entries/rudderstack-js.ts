// @rudderstack/analytics-js, its bundled build (plugins inside it, none fetched from a CDN),
// as the app would import it, put on window for the test page to drive.
import { RudderAnalytics } from '@rudderstack/analytics-js/bundled'
;(globalThis as Record<string, unknown>).RudderAnalytics = RudderAnalytics
