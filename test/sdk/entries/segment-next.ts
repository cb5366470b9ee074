// @segment/analytics-next as the app would import it, put on window for the test page to drive.
import { AnalyticsBrowser } from '@segment/analytics-next'
;(globalThis as Record<string, unknown>).AnalyticsBrowser = AnalyticsBrowser
