-- W3: one order event per POST /v1/events, every id unique.
-- usage: wrk -s order.lua URL -- <api key> <run name>
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("common")

function request()
  n = n + 1
  local body = '{"id":"' .. run .. '-' .. tid .. '-' .. n .. '","name":"OrderPlaced","user_id":"c' .. (n % 5000) ..
    '","properties":{"order_id":"o-' .. tid .. '-' .. n .. '","total":' .. (n % 500) .. '.50,"items":' .. (1 + n % 5) .. ',"currency":"EUR"}}'
  return wrk.format("POST", "/v1/events", headers, body)
end
