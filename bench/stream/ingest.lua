-- wrk: single-event POST /v1/events with a unique id per request.
-- usage: wrk -t2 -c64 -d15s -s ingest.lua URL -- <api_key> <run_name>
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  key = args[1]
  run = args[2] or "run"
  n = 0
end
function request()
  n = n + 1
  local body = '{"id":"' .. run .. '-' .. tid .. '-' .. n .. '","name":"Bench","user_id":"u' .. (n % 1000) .. '","properties":{"n":' .. n .. ',"plan":"pro"}}'
  return wrk.format("POST", "/v1/events", { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
