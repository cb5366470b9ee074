-- One purchase event per POST /v1/events, each with an id no other request has.
-- usage: wrk -s single.lua URL -- <api key> <run name>
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("common")

function request()
  n = n + 1
  local body = '{"id":"' .. run .. '-' .. tid .. '-' .. n .. '","name":"Purchase","user_id":"u' .. (n % 1000) ..
    '","properties":{"amount":19.99,"currency":"EUR","n":' .. n .. '}}'
  return wrk.format("POST", "/v1/events", headers, body)
end
