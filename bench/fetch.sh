#!/usr/bin/env bash
# fetch.sh -- long and wide results out: psycopg2 fetching the same rows
# from PostgreSQL 15 and from duckpond, side by side in one run.
#
#   bench/fetch.sh              (RUNS=3, TRADES_ROWS=1000000, WIDE_ROWS=200000)
#   QUICK=1 bench/fetch.sh      (a smoke test: one run, 50000 and 20000 rows)
#
# Servers on 127.0.0.1 and free ports, stopped at the end: PostgreSQL 15
# (initdb into a temporary directory) and duckpond. Both get the same rows
# through COPY: trades(ts TIMESTAMP, symbol VARCHAR, quantity DOUBLE
# PRECISION, price DOUBLE PRECISION), as bench/clients.sh loads it, and a
# 20-column table of mixed types (timestamps, dates, times, doubles short
# and full-precision, reals, numerics, integers, booleans, strings, NULLs;
# bench/fetch.py's WIDE_DDL). Each case is SELECT * ... with
# cursor.fetchall() (psycopg2 asks for text, as it always does), once per
# run against each server in turn. Prints rows/s, the ratio to PostgreSQL,
# the CPU time per row of the client and of the server while the query ran
# (PostgreSQL: the connection's backend; duckpond: all its threads), and
# the wall time per row of execute alone, while libpq receives the rows:
# psycopg2 then turning every value into a Python object (fetchall) is the
# same work whichever server sent them, a floor no server goes below.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash

PY=/usr/bin/python3 # Debian's psycopg2 lives there
if [ "${QUICK:-0}" = 1 ]; then
    RUNS=${RUNS:-1} TRADES_ROWS=${TRADES_ROWS:-50000} WIDE_ROWS=${WIDE_ROWS:-20000}
else
    RUNS=${RUNS:-3} TRADES_ROWS=${TRADES_ROWS:-1000000} WIDE_ROWS=${WIDE_ROWS:-200000}
fi
$PY -c 'import psycopg2' 2>/dev/null ||
    { echo "fetch.sh: $PY has no psycopg2 (apt-get install python3-psycopg2)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "fetch.sh: $BIN not built (make)" >&2; exit 1; }

start_postgres
start_duckpond dp
DSN_pg="host=127.0.0.1 port=$PORT_pg user=postgres dbname=postgres"
DSN_dp="host=127.0.0.1 port=$PORT_dp user=bench dbname=duckpond"
PIDS_pg=backend
PIDS_dp=$PID_dp

$PY bench/fetch.py gen trades "$TRADES_ROWS" "$WORK/trades.txt"
$PY bench/fetch.py gen wide "$WIDE_ROWS" "$WORK/wide.txt"
chmod 644 "$WORK"/*.txt
for srv in pg dp; do
    eval "dsn=\$DSN_$srv"
    $PY bench/fetch.py load "$dsn" trades "$($PY bench/fetch.py ddl trades)" "$WORK/trades.txt"
    $PY bench/fetch.py load "$dsn" wide "$($PY bench/fetch.py ddl wide)" "$WORK/wide.txt"
done
psql -X -q -h 127.0.0.1 -p "$PORT_pg" -U postgres -d postgres -c "VACUUM ANALYZE" >/dev/null
psql -X -q -h 127.0.0.1 -p "$PORT_dp" -U bench -d duckpond -c "CHECKPOINT" >/dev/null

CASES=("trades|SELECT * FROM trades, ${TRADES_ROWS} rows x 4 columns|SELECT * FROM trades"
       "wide|SELECT * FROM wide, ${WIDE_ROWS} rows x 20 columns|SELECT * FROM wide")
RESULTS=$WORK/results
: >"$RESULTS"
for c in "${CASES[@]}"; do
    IFS='|' read -r name label _ <<<"$c"
    echo "label $name $label" >>"$RESULTS"
done

echo "fetch: RUNS=$RUNS; PostgreSQL 15 on $PORT_pg, duckpond on $PORT_dp"
for run in $(seq "$RUNS"); do
    for c in "${CASES[@]}"; do
        IFS='|' read -r name label sql <<<"$c"
        for srv in pg dp; do
            eval "dsn=\$DSN_$srv pids=\$PIDS_$srv"
            read -r rows secs ccpu scpu recv <<<"$($PY bench/fetch.py fetch "$dsn" "$sql" "$pids")"
            # clients.sh's fields (no batcher, no RSS here), then the receive time
            echo "$run $name $srv $rows $secs 0 0 0 $ccpu $scpu $recv" >>"$RESULTS"
            printf "run %d  %-45s %-3s %10.0f rows/s\n" "$run" "$label" "$srv" \
                "$(awk -v r="$rows" -v s="$secs" 'BEGIN { print (s > 0 ? r / s : 0) }')"
        done
    done
done
echo
$PY bench/fetch.py report "$RESULTS"
