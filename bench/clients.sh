#!/usr/bin/env bash
# clients.sh -- what real client code sends, against PostgreSQL 15 and
# duckpond on the same data, side by side in one run.
#
#   bench/clients.sh            (RUNS=3, DURATION=10 seconds a timed case,
#                                VALUES_ROWS=100000 MANY_ROWS=3000
#                                COPY_ROWS=1000000 FETCH_ROWS=1000000)
#   QUICK=1 bench/clients.sh    (a smoke test: one run of 2 s, 10000, 300,
#                                50000 and 50000 rows)
#   ONLY=node bench/clients.sh  (the cases named, separated by commas)
# Each of these variables can be set to override it.
#
# Servers, all on 127.0.0.1 and free ports, stopped at the end: PostgreSQL 15
# (initdb into a temporary directory, default durability), duckpond with
# commit acks and duckpond with journal acks (--ack journal). The table:
# trades(ts TIMESTAMP, symbol VARCHAR, quantity DOUBLE PRECISION, price
# DOUBLE PRECISION), dropped and created anew (then CHECKPOINT) before each
# case on each server. The cases (bench/clients.py and
# bench/clients_node.js hold the client code):
#   psycopg2 cur.execute("INSERT INTO trades VALUES (%s,%s,%s,%s)",
#     (datetime.now(), 'BTC', 1.5, 50000.25)), autocommit, 8 processes, DURATION s
#   psycopg2.extras.execute_values, VALUES_ROWS rows, 1,000 a statement, in
#     psycopg2's default transaction and in autocommit
#   cursor.executemany, MANY_ROWS rows, in a transaction and in autocommit
#   COPY trades FROM STDIN (copy_expert), COPY_ROWS rows with ISO timestamps,
#     text and CSV format in a transaction, text in autocommit
#   node-postgres client.query with a JavaScript Date, 8 clients, DURATION s
#   pgbench -M prepared, 8 clients, DURATION s: INSERT INTO trades VALUES
#     ('2026-11-25 10:00:00', 'BTC', :q, 50000.25), and the same into
#     trades_num(ts BIGINT, sym INT, quantity DOUBLE PRECISION, price DOUBLE
#     PRECISION): numbers only, the reference trades should stay within 10% of
#   SELECT * FROM trades, fetchall, FETCH_ROWS rows (loaded by COPY first)
# Prints rows/s for each server with the ratios to PostgreSQL (medians of
# RUNS runs), the rows of each case that took duckpond's fast paths (from
# /metrics: duckpond_batcher_rows_accepted_total for autocommit writes,
# duckpond_batcher_rows_applied_total for INSERTs inside a transaction,
# duckpond_copy_rows_total for COPY; a case that went to DuckDB statement
# by statement shows 0) and rows per
# batcher commit, each server's peak RSS per case, and the CPU time per row
# of the client and of each server (which of them bounds the case). Every
# write case is checked: the table holds the rows the client was told were
# written.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash

PY=/usr/bin/python3 # Debian's psycopg2 lives there
CLIENTS=8
if [ "${QUICK:-0}" = 1 ]; then
    RUNS=${RUNS:-1} DURATION=${DURATION:-2}
    VALUES_ROWS=${VALUES_ROWS:-10000} MANY_ROWS=${MANY_ROWS:-300}
    COPY_ROWS=${COPY_ROWS:-50000} FETCH_ROWS=${FETCH_ROWS:-50000}
else
    RUNS=${RUNS:-3} DURATION=${DURATION:-10}
    VALUES_ROWS=${VALUES_ROWS:-100000} MANY_ROWS=${MANY_ROWS:-3000}
    COPY_ROWS=${COPY_ROWS:-1000000} FETCH_ROWS=${FETCH_ROWS:-1000000}
fi

$PY -c 'import psycopg2' 2>/dev/null || { echo "clients.sh: $PY has no psycopg2 (apt-get install python3-psycopg2)" >&2; exit 1; }
for tool in node pgbench psql curl; do
    command -v "$tool" >/dev/null || { echo "clients.sh: $tool is not installed" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "clients.sh: $BIN not built (make)" >&2; exit 1; }
if [ ! -d tests/integration/node_modules/pg ]; then
    npm ci --no-audit --no-fund --prefix tests/integration >/dev/null
fi

SERVERS=(pg commit journal)
start_postgres
start_duckpond commit --ack commit
start_duckpond journal --ack journal

port_of() { if [ "$1" = pg ]; then echo "$PORT_pg"; else eval "echo \$PORT_$1"; fi; }
user_of() { if [ "$1" = pg ]; then echo postgres; else echo bench; fi; }
db_of() { if [ "$1" = pg ]; then echo postgres; else echo duckpond; fi; }
dsn() { echo "host=127.0.0.1 port=$(port_of "$1") user=$(user_of "$1") dbname=$(db_of "$1")"; }

# sql SERVER STATEMENT...: each statement through psql, stopping at an error
# (PostgreSQL's notices, such as DROP TABLE IF EXISTS of no table, are not shown)
sql() {
    local srv=$1 args=() opts=
    shift
    for s in "$@"; do args+=(-c "$s"); done
    [ "$srv" = pg ] && opts='-c client_min_messages=warning'
    PGOPTIONS="$opts" psql -X -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(port_of "$srv")" -U "$(user_of "$srv")" -d "$(db_of "$srv")" "${args[@]}"
}

fresh_tables() {
    sql "$1" "DROP TABLE IF EXISTS trades" "DROP TABLE IF EXISTS trades_num" \
        "CREATE TABLE trades(ts TIMESTAMP, symbol VARCHAR, quantity DOUBLE PRECISION, price DOUBLE PRECISION)" \
        "CREATE TABLE trades_num(ts BIGINT, sym INT, quantity DOUBLE PRECISION, price DOUBLE PRECISION)" \
        "CHECKPOINT"
}

# metric SERVER NAME...: the sum of counters from duckpond's /metrics (0 for
# PostgreSQL)
metric() {
    [ "$1" = pg ] && { echo 0; return; }
    local http names
    eval "http=\$HTTP_$1"
    shift
    names=" $* "
    curl -sf "http://127.0.0.1:$http/metrics" | awk -v n="$names" 'index(n, " " $1 " ") { sum += $2 } END { print sum + 0 }'
}

# fast_rows SERVER: rows that took a fast path so far (see the top)
fast_rows() {
    metric "$1" duckpond_batcher_rows_accepted_total duckpond_batcher_rows_applied_total duckpond_copy_rows_total
}

printf '\\set q random(1, 1000)\nINSERT INTO trades VALUES (%s, %s, :q, 50000.25);\n' \
    "'2026-11-25 10:00:00'" "'BTC'" >"$WORK/trades.sql"
printf '\\set q random(1, 1000)\nINSERT INTO trades_num VALUES (1795600800, 1, :q, 50000.25);\n' >"$WORK/trades_num.sql"
chmod 644 "$WORK"/*.sql
COPY_TEXT=$WORK/trades.txt COPY_CSV=$WORK/trades.csv
$PY bench/clients.py gen "$(( COPY_ROWS > FETCH_ROWS ? COPY_ROWS : FETCH_ROWS ))" "$COPY_TEXT" "$COPY_CSV"
head -n "$FETCH_ROWS" "$COPY_TEXT" >"$WORK/fetch.txt"
head -n "$COPY_ROWS" "$COPY_TEXT" >"$WORK/copy.txt" && mv "$WORK/copy.txt" "$COPY_TEXT"
head -n "$COPY_ROWS" "$COPY_CSV" >"$WORK/copy.csv" && mv "$WORK/copy.csv" "$COPY_CSV"

# pgbench_rows SERVER TABLE: "ROWS SECONDS" of an 8-client -M prepared run
pgbench_rows() {
    local out n tps
    out=$(cd "$WORK" && pgbench -h 127.0.0.1 -p "$(port_of "$1")" -U "$(user_of "$1")" -n -M prepared \
        -f "$WORK/$2.sql" -c "$CLIENTS" -j 2 -T "$DURATION" "$(db_of "$1")" 2>&1) ||
        { echo "pgbench failed against $1: $out" >&2; return 1; }
    n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    [ -n "$n" ] && [ -n "$tps" ] || { echo "pgbench said: $out" >&2; return 1; }
    awk -v n="$n" -v t="$tps" 'BEGIN { printf "%d %.6f\n", n, (t > 0 ? n / t : 0) }'
}

# The cases: "name|label|table|check" and a function run_NAME SERVER that
# prints "ROWS SECONDS". check: exact (the table holds ROWS), atleast (pgbench
# may finish a few transactions it does not count), none (a read).
CASES=(
    "insert|psycopg2 INSERT datetime, autocommit, ${CLIENTS} procs|trades|exact"
    "values_tx|execute_values ${VALUES_ROWS} rows, 1000/stmt, tx|trades|exact"
    "values_ac|execute_values ${VALUES_ROWS} rows, 1000/stmt, autocommit|trades|exact"
    "many_tx|executemany ${MANY_ROWS} rows, tx|trades|exact"
    "many_ac|executemany ${MANY_ROWS} rows, autocommit|trades|exact"
    "copy_text|COPY text ${COPY_ROWS} rows, tx|trades|exact"
    "copy_csv|COPY csv ${COPY_ROWS} rows, tx|trades|exact"
    "copy_text_ac|COPY text ${COPY_ROWS} rows, autocommit|trades|exact"
    "node|node-postgres INSERT Date, ${CLIENTS} clients|trades|exact"
    "pgbench_trades|pgbench -M prepared trades, ${CLIENTS} clients|trades|atleast"
    "pgbench_num|pgbench -M prepared trades_num, ${CLIENTS} clients|trades_num|atleast"
    "fetch|SELECT * fetchall ${FETCH_ROWS} rows|trades|none"
)
if [ -n "${ONLY:-}" ]; then
    kept=()
    for c in "${CASES[@]}"; do
        case ",$ONLY," in *",${c%%|*},"*) kept+=("$c") ;; esac
    done
    [ ${#kept[@]} -gt 0 ] || { echo "clients.sh: ONLY=$ONLY names no case" >&2; exit 1; }
    CASES=("${kept[@]}")
fi
run_insert() { $PY bench/clients.py insert "$(dsn "$1")" "$CLIENTS" "$DURATION"; }
run_values_tx() { $PY bench/clients.py values "$(dsn "$1")" "$VALUES_ROWS" 1000 tx; }
run_values_ac() { $PY bench/clients.py values "$(dsn "$1")" "$VALUES_ROWS" 1000 autocommit; }
run_many_tx() { $PY bench/clients.py many "$(dsn "$1")" "$MANY_ROWS" tx; }
run_many_ac() { $PY bench/clients.py many "$(dsn "$1")" "$MANY_ROWS" autocommit; }
run_copy_text() { $PY bench/clients.py copy "$(dsn "$1")" "$COPY_TEXT" text tx; }
run_copy_csv() { $PY bench/clients.py copy "$(dsn "$1")" "$COPY_CSV" csv tx; }
run_copy_text_ac() { $PY bench/clients.py copy "$(dsn "$1")" "$COPY_TEXT" text autocommit; }
run_node() { node bench/clients_node.js 127.0.0.1 "$(port_of "$1")" "$(user_of "$1")" "$(db_of "$1")" "$CLIENTS" "$DURATION"; }
run_pgbench_trades() { pgbench_rows "$1" trades; }
run_pgbench_num() { pgbench_rows "$1" trades_num; }
run_fetch() { $PY bench/clients.py fetch "$(dsn "$1")"; }
prep_fetch() { $PY bench/clients.py copy "$(dsn "$1")" "$WORK/fetch.txt" text tx >/dev/null; }

# check_rows SERVER TABLE CHECK ROWS: the rows the client counted are in the
# table (journal acks: once applied, so it waits up to 10 s)
check_rows() {
    local n=0
    [ "$3" = none ] && return 0
    for _ in $(seq 100); do
        n=$(sql "$1" "SELECT count(*) FROM $2")
        if [ "$3" = exact ] && [ "$n" -eq "$4" ]; then return 0; fi
        if [ "$3" = atleast ] && [ "$n" -ge "$4" ] && [ "$n" -le $(($4 + CLIENTS)) ]; then return 0; fi
        [ "$1" = journal ] && [ "$n" -lt "$4" ] || break
        sleep 0.1
    done
    echo "clients.sh: $1 holds $n rows in $2 after the client wrote $4" >&2
    return 1
}

# cpu_ticks SERVER: the CPU time (clock ticks) the server has used so far:
# duckpond's process; PostgreSQL's postmaster, its live children and the
# children it has reaped
cpu_ticks() {
    if [ "$1" != pg ]; then
        eval "awk '{ print \$14 + \$15 }' /proc/\$PID_$1/stat"
        return
    fi
    local pm c
    pm=$(postgres_pid)
    {
        awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat"
        for c in $(ps -o pid= --ppid "$pm"); do awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || true; done
    } | awk '{ s += $1 } END { print s + 0 }'
}

# client_cpu: CPU seconds of this shell's finished children (the clients),
# from the times builtin, which must run in this shell, not a subshell
client_cpu() {
    times >"$WORK/times"
    awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$WORK/times"
}

RESULTS=$WORK/results
: >"$RESULTS"
for c in "${CASES[@]}"; do
    IFS='|' read -r name label _ _ <<<"$c"
    echo "label $name $label" >>"$RESULTS"
done

# measure RUN CASE SERVER: one case against one server, a line in RESULTS
measure() {
    local run=$1 spec=$2 srv=$3 name label table check out rows secs acc0 com0 acc1 com1 rss spid= cc0 cc1 sc0 sc1
    IFS='|' read -r name label table check <<<"$spec"
    fresh_tables "$srv"
    if declare -F "prep_$name" >/dev/null; then "prep_$name" "$srv"; fi
    acc0=$(fast_rows "$srv")
    com0=$(metric "$srv" duckpond_batcher_commits_total)
    if [ "$srv" = pg ]; then
        $PY bench/clients.py pss "$(postgres_pid)" >"$WORK/pss" &
        spid=$!
    else
        eval "echo 5 >/proc/\$PID_$srv/clear_refs" # restarts VmHWM from the current RSS
    fi
    sc0=$(cpu_ticks "$srv")
    client_cpu >"$WORK/cpu0"
    out=$("run_$name" "$srv")
    client_cpu >"$WORK/cpu1"
    read -r rows secs <<<"$out"
    acc1=$(fast_rows "$srv")
    com1=$(metric "$srv" duckpond_batcher_commits_total)
    if [ -n "$spid" ]; then
        kill "$spid"
        wait "$spid" || true
        rss=$(cat "$WORK/pss")
    else
        eval "rss=\$(peak_rss_mib \$PID_$srv)"
    fi
    check_rows "$srv" "$table" "$check" "$rows" # journal acks: their rows applied
    sc1=$(cpu_ticks "$srv")
    cc0=$(cat "$WORK/cpu0") cc1=$(cat "$WORK/cpu1")
    echo "$run $name $srv $rows $secs $((acc1 - acc0)) $((com1 - com0)) ${rss:-0}" \
        "$(awk -v a="$cc0" -v b="$cc1" 'BEGIN { print b - a }')" \
        "$(awk -v a="$sc0" -v b="$sc1" -v hz="$(getconf CLK_TCK)" 'BEGIN { print (b - a) / hz }')" >>"$RESULTS"
    printf "run %d  %-50s %-8s %10.0f rows/s  fast path +%d\n" "$run" "$label" "$srv" \
        "$(awk -v r="$rows" -v s="$secs" 'BEGIN { print (s > 0 ? r / s : 0) }')" $((acc1 - acc0))
}

echo "clients: RUNS=$RUNS DURATION=${DURATION}s, $CLIENTS clients; PostgreSQL 15 on $PORT_pg," \
    "duckpond commit on $PORT_commit, journal on $PORT_journal"
for run in $(seq "$RUNS"); do
    for c in "${CASES[@]}"; do
        for srv in "${SERVERS[@]}"; do
            measure "$run" "$c" "$srv"
        done
    done
done
echo
$PY bench/clients.py report "$RESULTS"
