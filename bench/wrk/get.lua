-- GET /v1/events/{id} of the events bench/wrk/ab.sh stores first (run name "warm",
-- thread 1 of wrk -c8 -d2s: ids warm-1-1 upwards), 500 of them in turn.
-- usage: wrk -s get.lua URL -- <api key> <run name>
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("common")

function request()
  n = n + 1
  return wrk.format("GET", "/v1/events/warm-1-" .. (n % 500 + 1), headers)
end
