#!/usr/bin/env bash
# http_bench.sh -- the HTTP API under load, beside the same work through
# the PostgreSQL protocol, in one run against one server.
#
#   bench/http_bench.sh [BUILD_DIR]      (default build; DURATION=seconds, CONNS=n)
#
# Starts `duckpond serve` on a fresh database (127.0.0.1, free ports),
# loads a ticks table, then for each workload runs wrk (64 connections,
# bench/http_rows.lua and bench/http_query.lua) and pgbench (64 clients,
# custom scripts) for the same time:
#   rows x1     one-row NDJSON POST     | one-row INSERT
#   rows x100   100-row NDJSON POST     | one 100-row INSERT ... VALUES
#   point       POST /v1/query, id = $1 | SELECT ... WHERE id = :id
#   vwap        POST /v1/query, VWAP    | the same SELECT
# and prints requests/s, rows/s, latency p50/p99 for both and their ratio.
# Ends by checking that the rows committed equal the rows acknowledged.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$PWD/$BUILD/duckpond
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PRELOAD=${PRELOAD:-200000}

for tool in wrk curl pgbench; do
    command -v "$tool" >/dev/null || { echo "http_bench: $tool is not installed" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "http_bench: $BIN not built (make)" >&2; exit 1; }

dir=$(mktemp -d /tmp/duckpond-http-bench.XXXXXX)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
http_port=$(free_port)
pg_port=$(free_port)
"$BIN" serve --db "$dir/bench.duckdb" --listen 127.0.0.1 --pg-port "$pg_port" \
    --http-port "$http_port" >"$dir/server.log" 2>&1 &
server_pid=$!
url=http://127.0.0.1:$http_port
for _ in $(seq 1 100); do
    curl -sf "$url/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$url/health" >/dev/null || { echo "http_bench: the server did not start:" >&2; cat "$dir/server.log" >&2; exit 1; }

sql() { # runs one statement over HTTP
    curl -sf -H 'Content-Type: application/json' --data-binary "{\"sql\":\"$1\"}" "$url/v1/query" >/dev/null ||
        { echo "http_bench: failed: $1" >&2; exit 1; }
}
count() {
    curl -s -H 'Accept: text/csv' -H 'Content-Type: application/json' \
        --data-binary '{"sql":"SELECT count(*) AS n FROM ticks"}' "$url/v1/query" | tail -n 1 | tr -d '\r'
}
sql "CREATE TABLE ticks (id BIGINT, sym VARCHAR, px DOUBLE, qty INTEGER)"
sql "INSERT INTO ticks SELECT i, ['AAPL','MSFT','NVDA','AMZN','GOOG','META','TSLA','JPM'][i % 8 + 1], 100 + (i % 997) / 10, 1 + i % 50 FROM range(1, $PRELOAD + 1) t(i)"

# --- HTTP through wrk: "RESULT requests seconds p50_ms p99_ms errors"
declare -A H_RPS H_ROWS H_P50 H_P99 H_ERR P_RPS P_ROWS P_P50 P_P99 P_ERR
acked_rows=0
run_wrk() { # name rows_per_request script args...
    local name=$1 rows=$2 script=$3
    shift 3
    local line n secs p50 p99 errs
    line=$(wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --timeout 30s -s "bench/$script" "$url" -- "$@" |
        grep '^RESULT')
    read -r _ n secs p50 p99 errs _ <<<"$line"
    H_RPS[$name]=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    H_ROWS[$name]=$(awk -v n="$n" -v s="$secs" -v r="$rows" 'BEGIN { printf "%.0f", n * r / s }')
    H_P50[$name]=$p50
    H_P99[$name]=$p99
    H_ERR[$name]=$errs
    [ "$rows" -gt 0 ] && acked_rows=$((acked_rows + (n - errs) * rows))
}

# --- PostgreSQL through pgbench: tps, and p50/p99 from its per-transaction log
run_pgbench() { # name rows_per_txn script_file
    local name=$1 rows=$2 script=$3 out
    rm -f "$dir"/pglog*
    out=$(cd "$dir" && pgbench -h 127.0.0.1 -p "$pg_port" -U duckpond -n -c "$CONNS" -j "$THREADS" \
        -T "$DURATION" -f "$script" -l --log-prefix=pglog duckpond 2>&1)
    local tps txns failed
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | tail -n 1)
    txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    if [ -z "$tps" ]; then
        echo "pgbench $name failed:" >&2
        tail -n 5 <<<"$out" >&2
        P_RPS[$name]=n/a P_ROWS[$name]=n/a P_P50[$name]=n/a P_P99[$name]=n/a P_ERR[$name]=n/a
        return
    fi
    P_RPS[$name]=$(printf '%.0f' "$tps")
    P_ROWS[$name]=$(awk -v t="$tps" -v r="$rows" 'BEGIN { printf "%.0f", t * r }')
    read -r P_P50[$name] P_P99[$name] < <(cat "$dir"/pglog* | awk '{ print $3 / 1000 }' | sort -n | awk '
        function at(q,   i) { i = int(NR * q) + 1; if (i > NR) i = NR; return v[i] }
        { v[NR] = $1 }
        END { if (NR) printf "%.3f %.3f\n", at(0.5), at(0.99); else print "n/a n/a" }')
    P_ERR[$name]=${failed:-0}
    [ "$rows" -gt 0 ] && acked_rows=$((acked_rows + txns * rows))
}

cat >"$dir/rows1.sql" <<'EOF'
\set id random(2000000000, 2999999999)
INSERT INTO ticks VALUES (:id, 'AAPL', 101.5, 7);
EOF
{
    echo '\set id random(3000000000, 3999999999)'
    printf 'INSERT INTO ticks VALUES '
    for i in $(seq 1 100); do
        printf "(:id + %d, 'MSFT', %d.25, %d)" "$i" $((400 + i)) "$i"
        [ "$i" -lt 100 ] && printf ', '
    done
    echo ';'
} >"$dir/rows100.sql"
cat >"$dir/point.sql" <<EOF
\\set id random(1, $PRELOAD)
SELECT id, sym, px, qty FROM ticks WHERE id = :id;
EOF
cat >"$dir/vwap.sql" <<'EOF'
SELECT sym, sum(px * qty) / sum(qty) AS vwap, sum(qty) AS volume FROM ticks WHERE sym = 'AAPL' GROUP BY sym;
EOF

before=$(count)
echo "duckpond HTTP vs PostgreSQL protocol: $CONNS connections, ${DURATION}s each, $(nproc) cores"
run_wrk rows1 1 http_rows.lua 1
run_pgbench rows1 1 rows1.sql
run_wrk rows100 100 http_rows.lua 100
run_pgbench rows100 100 rows100.sql
run_wrk point 0 http_query.lua point "$PRELOAD"
run_pgbench point 0 point.sql
run_wrk vwap 0 http_query.lua vwap
run_pgbench vwap 0 vwap.sql
after=$(count)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "n/a") printf "%.2f", a / b; else print "n/a" }'; }
printf '\n%-9s | %10s %10s %9s %9s %5s | %10s %10s %9s %9s %5s | %9s\n' workload \
    "HTTP req/s" "rows/s" "p50 ms" "p99 ms" errs "PG req/s" "rows/s" "p50 ms" "p99 ms" errs "HTTP/PG"
printf -- '%.0s-' $(seq 1 118)
echo
for w in rows1 rows100 point vwap; do
    printf '%-9s | %10s %10s %9s %9s %5s | %10s %10s %9s %9s %5s | %9s\n' "$w" \
        "${H_RPS[$w]}" "${H_ROWS[$w]}" "${H_P50[$w]}" "${H_P99[$w]}" "${H_ERR[$w]}" \
        "${P_RPS[$w]}" "${P_ROWS[$w]}" "${P_P50[$w]}" "${P_P99[$w]}" "${P_ERR[$w]}" \
        "$(ratio "${H_RPS[$w]}" "${P_RPS[$w]}")"
done
echo
# wrk stops with requests in flight: those rows may commit unacknowledged,
# but an acknowledged row must never be missing.
echo "rows acknowledged: $acked_rows; rows committed: $((after - before))"
if [ $((after - before)) -lt "$acked_rows" ]; then
    echo "http_bench: fewer rows committed than acknowledged" >&2
    exit 1
fi
