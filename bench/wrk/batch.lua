-- 100 purchase events per POST /v1/events/batch, every id unique.
-- usage: wrk -s batch.lua URL -- <api key> <run name>
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("common")

local SIZE = 100
function request()
  n = n + 1
  local parts = {}
  for i = 1, SIZE do
    parts[i] = '{"id":"' .. run .. '-' .. tid .. '-' .. n .. '-' .. i .. '","name":"Purchase","user_id":"u' .. ((n * SIZE + i) % 1000) ..
      '","properties":{"amount":19.99,"currency":"EUR","i":' .. i .. '}}'
  end
  return wrk.format("POST", "/v1/events/batch", headers, '{"events":[' .. table.concat(parts, ",") .. ']}')
end
