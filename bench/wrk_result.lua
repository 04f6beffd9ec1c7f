-- wrk_result.lua -- the result line both wrk scripts print, read by
-- http_bench.sh: "RESULT requests seconds p50_ms p99_ms errors".
-- Loaded with dofile from the repository's top, where http_bench.sh runs wrk.
-- done() runs in wrk's main state, where init() did not run: what each
-- request carried is known to the caller.

function done(summary, latency, requests)
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d\n",
                         summary.requests, summary.duration / 1e6,
                         latency:percentile(50) / 1000, latency:percentile(99) / 1000,
                         summary.errors.status + summary.errors.connect + summary.errors.read +
                         summary.errors.write + summary.errors.timeout))
end
