#!/usr/bin/env bash
# desk.sh -- the desk's queries on generated ticks, duckpond beside
# PostgreSQL 15 on the same data, idle and while the generator ingests.
#
#   bench/desk.sh                  (TRADES=10000000: 10M trades and 20M quotes over a day)
#   TRADES=1000000 bench/desk.sh   (a size that fits a small machine)
#   RUNS=3 INGEST_RATE=200000 SYMBOLS=100
#
# Both servers on 127.0.0.1 and free ports, stopped at the end: duckpond
# (commit acks) and PostgreSQL 15 (initdb into a temporary directory,
# default durability). `duckpond ticks --seed 1 --fast` writes the same
# TRADES trades and 2 x TRADES quotes of SYMBOLS symbols, spread over
# 2026-01-02, into both over COPY; PostgreSQL then gets its indexes
# (symbol, ts) and (ts) on both tables and ANALYZE, duckpond a CHECKPOINT
# (DuckDB's zone maps, no index). The queries (bench/desk.py holds their
# SQL): 1-minute OHLCV for the day with gaps filled, VWAP per symbol, the
# latest quote per symbol, the as-of join of an hour of trades to quotes
# (1 s tolerance). Each is timed idle, then while `duckpond ticks` writes
# into the same server paced at INGEST_RATE rows a second (or as fast as the
# server takes them, if slower: the rate reached is printed), medians of
# RUNS after a warm-up. Prints each time, ingest / idle, and PostgreSQL /
# duckpond; both servers' answers are checked equal on the idle data.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash

PY=/usr/bin/python3 # Debian's psycopg2 lives there
TRADES=${TRADES:-10000000}
RUNS=${RUNS:-3}
INGEST_RATE=${INGEST_RATE:-200000}
SYMBOLS=${SYMBOLS:-100}
ROWS=$((TRADES * 3))
[ -x "$BIN" ] || { echo "desk.sh: $BIN not built (make)" >&2; exit 1; }
$PY -c 'import psycopg2' 2>/dev/null || { echo "desk.sh: $PY has no psycopg2" >&2; exit 1; }

start_postgres
start_duckpond dp --ack commit
DSN_pg="postgres://postgres@127.0.0.1:$PORT_pg/postgres"
DSN_dp="postgres://bench@127.0.0.1:$PORT_dp/duckpond"

# seconds SINCE: the seconds since a `date +%s.%N` reading, one decimal
seconds() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# load SERVER: the day of ticks into it; sets LOADED to the seconds it took
load() {
    local dsn t0
    eval "dsn=\$DSN_$1"
    t0=$(date +%s.%N)
    "$BIN" ticks --seed 1 --symbols "$SYMBOLS" --start '2026-01-02 00:00:00' \
        --rate "$(awk -v r="$ROWS" 'BEGIN { printf "%.6f", r / 86400 }')" --count "$ROWS" --fast \
        --to "$dsn" 2>"$WORK/ticks.log" || { cat "$WORK/ticks.log" >&2; exit 1; }
    LOADED=$(seconds "$t0")
}

echo "loading $TRADES trades and $((TRADES * 2)) quotes of $SYMBOLS symbols into each server"
load dp
s_dp=$LOADED
psql -X -q -h 127.0.0.1 -p "$PORT_dp" -U bench duckpond -c CHECKPOINT
load pg
s_pg=$LOADED
t0=$(date +%s.%N)
PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$DSN_pg" \
    -c "CREATE INDEX ON trades (symbol, ts)" -c "CREATE INDEX ON trades (ts)" \
    -c "CREATE INDEX ON quotes (symbol, ts)" -c "CREATE INDEX ON quotes (ts)" -c "ANALYZE"
s_idx=$(seconds "$t0")
echo "load over COPY: duckpond $s_dp s, PostgreSQL $s_pg s (+ $s_idx s for its indexes)"

# timed SERVER KIND PHASE: the queries' medians into WORK/SERVER.PHASE
timed() {
    local dsn
    eval "dsn=\$DSN_$1"
    $PY bench/desk.py time "$dsn" "$2" "$RUNS" >"$WORK/$1.$3"
}

# under_ingest SERVER KIND: timed while the generator writes into SERVER;
# prints the rate the generator reached
under_ingest() {
    local dsn gen
    eval "dsn=\$DSN_$1"
    "$BIN" ticks --seed 2 --symbols "$SYMBOLS" --rate "$INGEST_RATE" --to "$dsn" 2>"$WORK/gen.$1" &
    gen=$!
    sleep 2
    timed "$1" "$2" ingest
    kill -TERM "$gen"
    wait "$gen" || true
    sed -n 's/.* s, \([0-9]*\) rows\/s$/\1/p' "$WORK/gen.$1"
}

timed dp duckpond idle
timed pg pg idle
rate_dp=$(under_ingest dp duckpond)
rate_pg=$(under_ingest pg pg)

if ! diff <(cut -d' ' -f1,3 "$WORK/dp.idle") <(cut -d' ' -f1,3 "$WORK/pg.idle") >"$WORK/answers.diff"; then
    echo "desk.sh: the servers' answers differ:" >&2
    cat "$WORK/answers.diff" >&2
    exit 1
fi

echo
echo "$TRADES trades, $((TRADES * 2)) quotes, $SYMBOLS symbols; medians of $RUNS runs, ms"
echo "ingest: duckpond ticks paced at $INGEST_RATE rows/s over COPY reached $rate_dp rows/s into duckpond," \
    "$rate_pg rows/s into PostgreSQL"
echo
echo "| query | duckpond idle | duckpond ingesting | ingesting / idle | PostgreSQL idle | PostgreSQL ingesting | PostgreSQL / duckpond, idle | ingesting |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
paste -d' ' "$WORK/dp.idle" "$WORK/dp.ingest" "$WORK/pg.idle" "$WORK/pg.ingest" |
    while read -r name di _ _ dn _ _ pi _ _ pn _; do
        echo "| $name | $di | $dn | $(ratio "$dn" "$di") | $pi | $pn | $(ratio "$pi" "$di")x | $(ratio "$pn" "$dn")x |"
    done
echo
echo "answers (count/sum figures, equal on both servers idle):"
sed 's/^/  /' "$WORK/dp.idle" | cut -d' ' -f1-3,5
