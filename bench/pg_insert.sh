#!/usr/bin/env bash
# pg_insert.sh [SECONDS] -- single-row INSERTs over the PostgreSQL protocol.
#
# pgbench runs a custom script of one single-row INSERT into a trades
# table, -M prepared, with 8 and 64 clients, against three servers started
# here, side by side on 127.0.0.1: duckpond (INSERTs through the batcher),
# duckpond --no-batch (each INSERT a DuckDB statement), and PostgreSQL 15
# (initdb into a temporary directory, default durability). Prints rows/s,
# average latency, the ratios, and each duckpond server's peak RSS.
# Targets: duckpond >= 0.8x PostgreSQL at 8 clients, >= 5x at 64, and
# >= 20x duckpond without batching at 64.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-${DURATION:-20}}
BIN=${DUCKPOND_BIN:-$PWD/build/duckpond}
PGBIN=/usr/lib/postgresql/15/bin
WORK=$(mktemp -d /tmp/duckpond-bench-XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -f "$WORK/pg/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SCHEMA="create table trades(id bigint, sym varchar, px double precision, qty int, ts timestamp default now())"
printf "INSERT INTO trades (id, sym, px, qty) VALUES (:client_id, 'ABC', 101.25, 100);\n" >"$WORK/insert.sql"
chmod 644 "$WORK/insert.sql"

# start_duckpond NAME [args]: starts a server, sets PORT_<NAME> and PID_<NAME>
start_duckpond() {
    local name=$1
    shift
    "$BIN" serve --db "$WORK/$name.duckdb" --pg-port 0 --http-port 0 --port-file "$WORK/$name.port" \
        --max-connections 200 "$@" >"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do [ -s "$WORK/$name.port" ] && break; sleep 0.1; done
    eval "PORT_$name=$(cat "$WORK/$name.port")"
    eval "PID_$name=$pid"
}

start_postgres() {
    PORT_pg=$(free_port)
    mkdir -p "$WORK/pg"
    chmod 700 "$WORK/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres "$WORK/pg" && chmod 777 "$WORK"
    as_pg "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
    as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
        -o "-p $PORT_pg -k $WORK -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
}

# run NAME PORT USER CLIENTS: prints "rows_per_s latency_ms"
run() {
    local out
    out=$(pgbench -h 127.0.0.1 -p "$2" -U "$3" -n -M prepared -f "$WORK/insert.sql" -c "$4" -j 2 \
        -T "$DURATION" "${5:-duckpond}" 2>&1)
    local tps lat
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
    [ -n "$tps" ] || { echo "pgbench failed against $1: $out" >&2; exit 1; }
    echo "$tps $lat"
}

peak_rss_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

start_duckpond batch
start_duckpond nobatch --no-batch
start_postgres
psql -X -q -h 127.0.0.1 -p "$PORT_batch" -U bench -d duckpond -c "$SCHEMA"
psql -X -q -h 127.0.0.1 -p "$PORT_nobatch" -U bench -d duckpond -c "$SCHEMA"
psql -X -q -h 127.0.0.1 -p "$PORT_pg" -U postgres -d postgres -c "$SCHEMA"

echo "single-row INSERT, pgbench -M prepared, ${DURATION}s per run"
printf "%-8s %-22s %12s %12s\n" clients server rows/s "latency ms"
declare -A R
for c in 8 64; do
    read -r t l < <(run duckpond "$PORT_batch" bench "$c")
    R[batch_$c]=$t
    printf "%-8s %-22s %12.0f %12s\n" "$c" "duckpond" "$t" "$l"
    read -r t l < <(run duckpond-no-batch "$PORT_nobatch" bench "$c")
    R[nobatch_$c]=$t
    printf "%-8s %-22s %12.0f %12s\n" "$c" "duckpond --no-batch" "$t" "$l"
    read -r t l < <(run postgresql "$PORT_pg" postgres "$c" postgres)
    R[pg_$c]=$t
    printf "%-8s %-22s %12.0f %12s\n" "$c" "PostgreSQL 15" "$t" "$l"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo
echo "duckpond / PostgreSQL,  8 clients: $(ratio "${R[batch_8]}" "${R[pg_8]}")x   (target >= 0.8)"
echo "duckpond / PostgreSQL, 64 clients: $(ratio "${R[batch_64]}" "${R[pg_64]}")x   (target >= 5)"
echo "duckpond / no batching, 64 clients: $(ratio "${R[batch_64]}" "${R[nobatch_64]}")x   (target >= 20)"
echo "peak RSS: duckpond $(peak_rss_mib "$PID_batch") MiB, duckpond --no-batch $(peak_rss_mib "$PID_nobatch") MiB"
