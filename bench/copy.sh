#!/usr/bin/env bash
# copy.sh [ROWS] -- COPY FROM STDIN over the PostgreSQL protocol.
#
# psycopg2's copy_expert sends ROWS (default 1,000,000) rows of
# trades(ts TIMESTAMP, symbol VARCHAR, quantity DOUBLE PRECISION, price
# DOUBLE PRECISION), with ISO timestamps, in PostgreSQL's text format, in
# CSV and in PostgreSQL's binary format, in autocommit, to duckpond and to
# PostgreSQL 15 (initdb into a temporary directory, default durability),
# both started here side by side on 127.0.0.1. Each case runs RUNS (3)
# times into a fresh table; the table prints the median rows/s (timed by
# the client from the COPY statement to its CommandComplete, so the commit
# is inside) and duckpond / PostgreSQL.
# For scale, on the same data: PostgreSQL's cheapest load (an UNLOGGED
# table: no WAL), and DuckDB's own `COPY trades FROM 'file'` run by the
# duckpond server on a file it reads itself (no client, no protocol).
# Then the other sessions during a COPY: pgbench single-row INSERTs into
# another table (8 clients, -M prepared, SECONDS each) alone and while
# COPYs of the same data run back to back. Last, duckpond's peak RSS.
# Target: duckpond >= 2x PostgreSQL, text and CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-${ROWS:-1000000}}
RUNS=${RUNS:-3}
SECONDS_EACH=${SECONDS_EACH:-5}
BIN=${DUCKPOND_BIN:-$PWD/build/duckpond}
PGBIN=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3
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

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_duckpond() {
    "$BIN" serve --db "$WORK/dp.duckdb" --pg-port 0 --http-port 0 --port-file "$WORK/dp.port" >"$WORK/dp.log" 2>&1 &
    PID_dp=$!
    PIDS+=("$PID_dp")
    for _ in $(seq 100); do [ -s "$WORK/dp.port" ] && break; sleep 0.1; done
    PORT_dp=$(cat "$WORK/dp.port")
}

start_postgres() {
    PORT_pg=$(free_port)
    mkdir -p "$WORK/pg"
    chmod 700 "$WORK/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres "$WORK/pg" && chmod 777 "$WORK"
    as_pg "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
    as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
        -o "-p $PORT_pg -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
    PID_pg=$(head -n 1 "$WORK/pg/postmaster.pid")
}

# The data: ROWS rows as text, CSV and PostgreSQL's binary format (readable by the servers' users).
cat >"$WORK/gen.py" <<'PY'
import sys, datetime, struct
work, rows = sys.argv[1], int(sys.argv[2])
t0 = datetime.datetime(2026, 1, 2, 9, 30)
us0 = int((t0 - datetime.datetime(2000, 1, 1)).total_seconds()) * 1000000
with open(f"{work}/trades.txt", "w") as txt, open(f"{work}/trades.csv", "w") as csv, \
        open(f"{work}/trades.bin", "wb") as binary:
    binary.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
    for i in range(rows):
        ts = (t0 + datetime.timedelta(microseconds=i * 1237)).isoformat(" ")
        sym, qty, px = f"SYM{i % 500:03d}", (i % 97) * 10 + 1, 100 + (i % 1013) / 8
        txt.write(f"{ts}\t{sym}\t{qty}\t{px}\n")
        csv.write(f"{ts},{sym},{qty},{px}\n")
        binary.write(struct.pack("!hiqi6sidid", 4, 8, us0 + i * 1237, 6, sym.encode(), 8, qty, 8, px))
    binary.write(struct.pack("!h", -1))
PY
$PY "$WORK/gen.py" "$WORK" "$ROWS"
chmod 644 "$WORK"/trades.*

# One COPY, timed from the statement to its CommandComplete; prints rows/s.
#   load.py PORT USER DB FORMAT PATH ROWS TABLE [file]
# With "file" the server runs its own COPY of PATH (DuckDB's COPY FROM 'file' on duckpond).
cat >"$WORK/load.py" <<'PY'
import sys, time, psycopg2
port, user, db, fmt, path, rows, table = sys.argv[1:8]
own_file = len(sys.argv) > 8
conn = psycopg2.connect(host="127.0.0.1", port=int(port), user=user, dbname=db)
conn.autocommit = True
cur = conn.cursor()
cur.execute(f"drop table if exists {table}")
kind = "unlogged table" if table == "trades_unlogged" else "table"
cur.execute(f"create {kind} {table}(ts timestamp, symbol varchar, quantity double precision, price double precision)")
opts = {"csv": "(format csv)", "binary": "(format binary)", "text": ""}[fmt]
t, cpu = time.perf_counter(), time.process_time()
if own_file:
    cur.execute(f"copy {table} from '{path}' " + ("(format csv, header false)" if fmt == "csv" else "(delimiter '\t')"))
else:
    with open(path, "rb") as f:
        cur.copy_expert(f"copy {table} from stdin {opts}", f)
t, cpu = time.perf_counter() - t, time.process_time() - cpu
cur.execute(f"select count(*) from {table}")
n = cur.fetchone()[0]
if n != int(rows):
    sys.exit(f"{table}: {n} rows loaded, {rows} expected")
print(f"{int(rows) / t:.0f} {cpu:.2f}")
PY

# The CPU seconds a server has used: the process and its children, those that ended included (PostgreSQL's backends).
cat >"$WORK/cpu.py" <<'PY'
import os, sys
root, hz, total = int(sys.argv[1]), os.sysconf("SC_CLK_TCK"), 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        continue
    if int(pid) == root:
        total += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
    elif int(f[1]) == root:
        total += int(f[11]) + int(f[12])
print(f"{total / hz:.2f}")
PY

# measure SERVER_PID load.py-args...: one COPY; prints "rows/s server_cpu_s client_cpu_s".
measure() {
    local pid=$1 before after out
    shift
    before=$($PY "$WORK/cpu.py" "$pid")
    out=$($PY "$WORK/load.py" "$@")
    after=$($PY "$WORK/cpu.py" "$pid")
    read -r rate client <<<"$out"
    echo "$rate $(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.2f", b - a }') $client"
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
peak_rss_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
row() { printf "%-7s %-44s %10s %13s %13s   %s\n" "$@"; }
declare -A NAME=([dp]="duckpond" [pg]="PostgreSQL 15" [pgu]="PostgreSQL 15, UNLOGGED table"
    [ce]="duckpond running DuckDB's COPY FROM 'file'")

start_duckpond
start_postgres

declare -A R
echo "COPY trades FROM STDIN, psycopg2 copy_expert, $ROWS rows, ISO timestamps, autocommit; median of $RUNS runs"
echo "(server CPU: seconds of CPU the server used for the COPY, all its processes and threads; client CPU: psycopg2's)"
row format case rows/s "server CPU s" "client CPU s" runs
for fmt in text csv binary; do
    file="$WORK/trades.txt"
    [ "$fmt" = csv ] && file="$WORK/trades.csv"
    [ "$fmt" = binary ] && file="$WORK/trades.bin"
    cases=(dp pg pgu)
    [ "$fmt" != binary ] && cases+=(ce)
    declare -A runs=()
    for _ in $(seq "$RUNS"); do
        runs[dp]+="$(measure "$PID_dp" "$PORT_dp" bench duckpond "$fmt" "$file" "$ROWS" trades),"
        runs[pg]+="$(measure "$PID_pg" "$PORT_pg" postgres postgres "$fmt" "$file" "$ROWS" trades),"
        runs[pgu]+="$(measure "$PID_pg" "$PORT_pg" postgres postgres "$fmt" "$file" "$ROWS" trades_unlogged),"
        if [ "$fmt" != binary ]; then
            runs[ce]+="$(measure "$PID_dp" "$PORT_dp" bench duckpond "$fmt" "$file" "$ROWS" ceil file),"
        fi
    done
    for k in "${cases[@]}"; do
        IFS=, read -r -a rs <<<"${runs[$k]%,}"
        rates=() scpu=() ccpu=()
        for r in "${rs[@]}"; do
            read -r a b c <<<"$r"
            rates+=("$a") scpu+=("$b") ccpu+=("$c")
        done
        R[${k}_$fmt]=$(median "${rates[@]}")
        row "$fmt" "${NAME[$k]}" "${R[${k}_$fmt]}" "$(median "${scpu[@]}")" "$(median "${ccpu[@]}")" "${rates[*]}"
    done
done
echo
for fmt in text csv binary; do
    line="$fmt: duckpond / PostgreSQL $(ratio "${R[dp_$fmt]}" "${R[pg_$fmt]}")x"
    [ "$fmt" != binary ] && line="$line (target >= 2); duckpond / DuckDB's own COPY of the file $(ratio "${R[dp_$fmt]}" "${R[ce_$fmt]}")"
    echo "$line"
done

# Other sessions while COPYs run: single-row INSERTs into another table.
psql -X -q -h 127.0.0.1 -p "$PORT_dp" -U bench -d duckpond -c "create table ticks(id bigint, sym varchar, px double)"
printf "INSERT INTO ticks VALUES (:client_id, 'ABC', 101.25);\n" >"$WORK/insert.sql"
inserts() {
    (cd "$WORK" && pgbench -h 127.0.0.1 -p "$PORT_dp" -U bench -n -M prepared -f "$WORK/insert.sql" -c 8 -j 2 \
        -T "$SECONDS_EACH" duckpond 2>&1) | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
alone=$(inserts)
(while [ ! -e "$WORK/stop" ]; do
    $PY "$WORK/load.py" "$PORT_dp" bench duckpond text "$WORK/trades.txt" "$ROWS" trades >/dev/null
done) &
loop=$!
sleep 1
during=$(inserts)
touch "$WORK/stop"
wait "$loop"
echo
echo "another session's single-row INSERTs (pgbench, 8 clients, ${SECONDS_EACH}s): alone $(printf %.0f "$alone")/s," \
    "during COPYs $(printf %.0f "$during")/s ($(ratio "$during" "$alone")x; the machine's cores are shared with the COPY)"
echo "duckpond peak RSS: $(peak_rss_mib "$PID_dp") MiB"
