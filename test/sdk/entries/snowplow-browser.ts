// @snowplow/browser-tracker as the app would import it, put on window for the test page to drive.
import * as snowplow from '@snowplow/browser-tracker'
;(globalThis as Record<string, unknown>).snowplow = snowplow
