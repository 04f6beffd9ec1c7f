#!/usr/bin/env bash
# http_parquet.sh -- a large query result fetched as Parquet over HTTP,
# beside the same rows through the PostgreSQL protocol, in one run against
# one server.
#
#   bench/http_parquet.sh [BUILD_DIR]      (default build; ROWS=n, RUNS=n)
#
# Starts `duckpond serve` on a fresh database (127.0.0.1, free ports),
# makes a trades table of ROWS rows (ts TIMESTAMP, symbol VARCHAR,
# quantity DOUBLE, price DOUBLE; default 1,000,000), then RUNS times
# (default 3), one after the other:
#   parquet    GET /v1/query?sql=SELECT * FROM trades&format=parquet, read
#              whole into memory with urllib (what pandas' read_parquet(url)
#              does before it decodes)
#   json       the same query answered as JSON, read and json.loads'd
#   psycopg2   cursor.execute + fetchall on the PostgreSQL port (rows
#              decoded into Python objects: that is what fetchall is)
# and prints each case's median time, rows/s and bytes, and the ratio of
# Parquet to psycopg2. Decoding the Parquet bytes is not in the figure:
# pyarrow is not installed here; it would add its own (small) time.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$PWD/$BUILD/duckpond
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
PY=/usr/bin/python3 # the Debian one, with psycopg2

command -v curl >/dev/null || { echo "http_parquet: curl is not installed" >&2; exit 1; }
$PY -c 'import psycopg2' 2>/dev/null || { echo "http_parquet: python3-psycopg2 is not installed" >&2; exit 1; }
[ -x "$BIN" ] || { echo "http_parquet: $BIN not built (make)" >&2; exit 1; }

dir=$(mktemp -d /tmp/duckpond-parquet-bench.XXXXXX)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
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
curl -sf "$url/health" >/dev/null || { echo "http_parquet: the server did not start:" >&2; cat "$dir/server.log" >&2; exit 1; }

make="CREATE TABLE trades AS SELECT TIMESTAMP '2026-03-02 09:30:00' + INTERVAL (i * 23) MILLISECOND AS ts,"
make+=" ['AAPL','MSFT','NVDA','AMZN','GOOG','META','TSLA','JPM'][i % 8 + 1] AS symbol,"
make+=" (1 + i % 500)::DOUBLE AS quantity, round(100 + (i % 9973) / 37.0, 2) AS price FROM range($ROWS) t(i)"
curl -sf -H 'Content-Type: application/json' --data-binary "{\"sql\":\"$make\"}" "$url/v1/query" >/dev/null ||
    { echo "http_parquet: cannot make the table" >&2; exit 1; }

$PY - "$url" "$pg_port" "$ROWS" "$RUNS" <<'EOF'
import json, statistics, sys, time, urllib.parse, urllib.request
import psycopg2

url, pg_port, rows, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sql = "SELECT ts, symbol, quantity, price FROM trades"


def http(fmt):
    """GET the result in fmt; returns (rows, bytes)."""
    q = urllib.parse.urlencode({"sql": sql, "format": fmt, "row_limit": rows})
    with urllib.request.urlopen(f"{url}/v1/query?{q}", timeout=600) as r:
        data = r.read()
        n = int(r.headers["X-Duckpond-Row-Count"]) if fmt == "parquet" else len(json.loads(data)["rows"])
    return n, len(data)


conn = psycopg2.connect(host="127.0.0.1", port=pg_port, user="bench", dbname="duckpond")


def pg():
    cur = conn.cursor()
    cur.execute(sql)
    got = cur.fetchall()
    cur.close()
    return len(got), None


cases = [("parquet", "HTTP, Parquet (bytes in memory)", lambda: http("parquet")),
         ("json", "HTTP, JSON (json.loads)", lambda: http("json")),
         ("psycopg2", "PostgreSQL protocol, psycopg2 fetchall", pg)]
times = {k: [] for k, _, _ in cases}
size = {}
for _ in range(runs):  # interleaved, so that the machine's load falls on every case alike
    for key, _, fn in cases:
        t0 = time.perf_counter()
        n, nbytes = fn()
        times[key].append(time.perf_counter() - t0)
        if n != rows:
            sys.exit(f"http_parquet: {key} returned {n} rows, not {rows}")
        size[key] = nbytes

print(f"{rows:,} rows (ts TIMESTAMP, symbol VARCHAR, quantity DOUBLE, price DOUBLE), median of {runs} runs")
print()
print("| case | median s | rows/s | MB on the wire | runs s |")
print("| --- | --- | --- | --- | --- |")
med = {k: statistics.median(v) for k, v in times.items()}
for key, label, _ in cases:
    mb = f"{size[key] / 1e6:.1f}" if size[key] else ""
    print(f"| {label} | {med[key]:.3f} | {rows / med[key]:,.0f} | {mb} | "
          + " ".join(f"{t:.3f}" for t in times[key]) + " |")
print()
print(f"Parquet over HTTP / psycopg2 fetchall: {med['psycopg2'] / med['parquet']:.1f}x the rows/s")
print(f"Parquet / JSON over HTTP: {med['json'] / med['parquet']:.1f}x the rows/s")
EOF
