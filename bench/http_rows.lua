-- http_rows.lua -- wrk: POST NDJSON rows to /v1/tables/ticks/rows.
-- Usage: wrk ... -s http_rows.lua URL -- ROWS_PER_REQUEST
-- Each request carries ROWS_PER_REQUEST rows with ids unique to the thread,
-- so the committed count can be checked against the requests answered.

local rows_per_request = 1
local thread_no = 0
local next_id = 0
local counter = 0

function setup(thread)
  thread:set("thread_no", counter)
  counter = counter + 1
end

function init(args)
  rows_per_request = tonumber(args[1] or "1")
  next_id = thread_no * 1000000000
end

local syms = {"AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "JPM"}

function request()
  local lines = {}
  for i = 1, rows_per_request do
    next_id = next_id + 1
    local sym = syms[(next_id % #syms) + 1]
    lines[i] = string.format('{"id":%d,"sym":"%s","px":%.2f,"qty":%d}',
                             next_id, sym, 100 + (next_id % 997) / 10, 1 + next_id % 50)
  end
  return wrk.format("POST", "/v1/tables/ticks/rows",
                    {["Content-Type"] = "application/x-ndjson"},
                    table.concat(lines, "\n") .. "\n")
end

dofile("bench/wrk_result.lua")
