#!/usr/bin/env bash
# pg_insert.sh [SECONDS] -- single-row INSERTs over the PostgreSQL protocol.
#
# pgbench runs a custom script of one single-row INSERT into a trades
# table, -M prepared, with 8 and 64 clients, against four servers started
# here, side by side on 127.0.0.1: duckpond in ack mode journal
# (PGOPTIONS='-c duckpond.ack=journal': acknowledged once in the journal
# on disk), duckpond in ack mode commit (INSERTs through the batcher,
# acknowledged after DuckDB's commit), duckpond --no-batch (each INSERT a
# DuckDB statement), and PostgreSQL 15 (initdb into a temporary directory,
# default durability). Prints rows/s, average and p99 latency (from
# pgbench's per-transaction log), the ratios, and each duckpond server's
# peak RSS. SECONDS (default 20) is the length of each run. For scale, it
# also runs a prepared `SELECT 1` against PostgreSQL: the cheapest round
# trip a server can answer, so the most any server can reach on this
# machine with pgbench as the client.
# Targets: journal >= 2x PostgreSQL at 8 clients, >= 8x at 64; commit
# >= 0.8x PostgreSQL at 8 clients, >= 5x at 64, and >= 20x duckpond
# without batching at 64.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-${DURATION:-20}}
. bench/lib.bash

SCHEMA="create table trades(id bigint, sym varchar, px double precision, qty int, ts timestamp default now())"
printf "INSERT INTO trades (id, sym, px, qty) VALUES (:client_id, 'ABC', 101.25, 100);\n" >"$WORK/insert.sql"
printf "SELECT 1;\n" >"$WORK/select1.sql"
chmod 644 "$WORK/insert.sql" "$WORK/select1.sql"

# run NAME PORT USER CLIENTS [DB]: prints "rows_per_s avg_latency_ms p99_latency_ms"
# (PGOPTIONS from the environment reaches the server)
run() {
    local out prefix="$WORK/log_$1_$4"
    out=$(cd "$WORK" && pgbench -h 127.0.0.1 -p "$2" -U "$3" -n -M prepared -f "$WORK/${SCRIPT:-insert}.sql" -c "$4" -j 2 \
        -T "$DURATION" --log --log-prefix="$prefix" "${5:-duckpond}" 2>&1)
    local tps
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    [ -n "$tps" ] || { echo "pgbench failed against $1: $out" >&2; exit 1; }
    # each log line: client transaction latency_us script epoch_s epoch_us
    local lat
    lat=$(cat "$prefix".* | awk '{print $3}' | sort -n | awk '
        { v[NR] = $1; sum += $1 }
        END { if (NR == 0) { print "0 0"; exit }
              i = int(NR * 0.99); if (i < 1) i = 1
              printf "%.3f %.3f", sum / NR / 1000, v[i] / 1000 }')
    rm -f "$prefix".*
    echo "$tps $lat"
}

start_duckpond journal
start_duckpond batch
start_duckpond nobatch --no-batch
start_postgres
for n in journal batch nobatch; do
    eval "port=\$PORT_$n"
    psql -X -q -h 127.0.0.1 -p "$port" -U bench -d duckpond -c "$SCHEMA"
done
psql -X -q -h 127.0.0.1 -p "$PORT_pg" -U postgres -d postgres -c "$SCHEMA"

echo "single-row INSERT, pgbench -M prepared, ${DURATION}s per run"
printf "%-8s %-26s %12s %12s %12s\n" clients server rows/s "avg ms" "p99 ms"
declare -A R
line() { printf "%-8s %-26s %12.0f %12s %12s\n" "$1" "$2" "$3" "$4" "$5"; }
for c in 8 64; do
    read -r t l p < <(PGOPTIONS='-c duckpond.ack=journal' run journal "$PORT_journal" bench "$c")
    R[journal_$c]=$t
    line "$c" "duckpond ack=journal" "$t" "$l" "$p"
    read -r t l p < <(run batch "$PORT_batch" bench "$c")
    R[batch_$c]=$t
    line "$c" "duckpond ack=commit" "$t" "$l" "$p"
    read -r t l p < <(run nobatch "$PORT_nobatch" bench "$c")
    R[nobatch_$c]=$t
    line "$c" "duckpond --no-batch" "$t" "$l" "$p"
    read -r t l p < <(run pg "$PORT_pg" postgres "$c" postgres)
    R[pg_$c]=$t
    line "$c" "PostgreSQL 15" "$t" "$l" "$p"
    read -r t l p < <(SCRIPT=select1 run pg "$PORT_pg" postgres "$c" postgres)
    R[ceiling_$c]=$t
    line "$c" "PostgreSQL 15, SELECT 1" "$t" "$l" "$p"
done
echo
echo "journal / PostgreSQL,  8 clients: $(ratio "${R[journal_8]}" "${R[pg_8]}")x   (target >= 2)"
echo "journal / PostgreSQL, 64 clients: $(ratio "${R[journal_64]}" "${R[pg_64]}")x   (target >= 8)"
echo "commit  / PostgreSQL,  8 clients: $(ratio "${R[batch_8]}" "${R[pg_8]}")x   (target >= 0.8)"
echo "commit  / PostgreSQL, 64 clients: $(ratio "${R[batch_64]}" "${R[pg_64]}")x   (target >= 5)"
echo "commit  / no batching, 64 clients: $(ratio "${R[batch_64]}" "${R[nobatch_64]}")x   (target >= 20)"
echo "PostgreSQL's SELECT 1 (the round-trip ceiling here) / PostgreSQL's INSERT: $(ratio "${R[ceiling_8]}" "${R[pg_8]}")x at 8 clients," \
    "$(ratio "${R[ceiling_64]}" "${R[pg_64]}")x at 64"
echo "journal / commit,  8 clients: $(ratio "${R[journal_8]}" "${R[batch_8]}")x;  64 clients: $(ratio "${R[journal_64]}" "${R[batch_64]}")x"
echo "peak RSS: duckpond journal $(peak_rss_mib "$PID_journal") MiB, commit $(peak_rss_mib "$PID_batch") MiB," \
    "--no-batch $(peak_rss_mib "$PID_nobatch") MiB"
