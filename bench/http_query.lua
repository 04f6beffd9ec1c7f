-- http_query.lua -- wrk: POST /v1/query, a point query or a VWAP aggregate.
-- Usage: wrk ... -s http_query.lua URL -- point|vwap MAX_ID
-- Parameters are bound ($1), as a client should send them.

local kind = "point"
local max_id = 1000

function init(args)
  kind = args[1] or "point"
  max_id = tonumber(args[2] or "1000")
end

function request()
  local body
  if kind == "point" then
    body = string.format('{"sql":"SELECT id, sym, px, qty FROM ticks WHERE id = $1","params":[%d]}',
                         math.random(1, max_id))
  else
    body = '{"sql":"SELECT sym, sum(px * qty) / sum(qty) AS vwap, sum(qty) AS volume ' ..
           'FROM ticks WHERE sym = $1 GROUP BY sym","params":["AAPL"]}'
  end
  return wrk.format("POST", "/v1/query", {["Content-Type"] = "application/json"}, body)
end

dofile("bench/wrk_result.lua")
