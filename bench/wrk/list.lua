-- GET /v1/events?limit=50: the newest page of the project's events (bench/wrk/ab.sh
-- stores some first).
-- usage: wrk -s list.lua URL -- <api key> <run name>
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("common")

function request()
  return wrk.format("GET", "/v1/events?limit=50", headers)
end
