#!/usr/bin/env bash
# copy.sh [ROWS] -- COPY FROM STDIN over the PostgreSQL protocol.
#
# psycopg2's copy_expert sends ROWS (default 1,000,000) rows of
# trades(ts TIMESTAMP, symbol VARCHAR, quantity DOUBLE PRECISION, price
# DOUBLE PRECISION), with ISO timestamps, in PostgreSQL's text format and
# in CSV, in autocommit, to duckpond and to PostgreSQL 15 (initdb into a
# temporary directory, default durability), both started here side by side
# on 127.0.0.1. Each case runs 3 times into a fresh table; the table prints
# the median rows/s (client-side time from the COPY statement to its
# CommandComplete, so the commit is inside) and duckpond / PostgreSQL.
# For scale it also times, on the same data, PostgreSQL's cheapest load
# (an UNLOGGED table: no WAL) and DuckDB's own `COPY trades FROM 'file'`
# run by the duckpond server on a file it reads itself: the ceiling of any
# path that ends in DuckDB's CSV reader here.
# Last, duckpond's peak RSS (VmHWM). Target: duckpond >= 2x PostgreSQL,
# text and CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-${ROWS:-1000000}}
RUNS=${RUNS:-3}
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
}

# The data: ROWS rows, in text format and in CSV (readable by the servers' users).
$PY - "$WORK" "$ROWS" <<'EOF'
import sys, datetime
work, rows = sys.argv[1], int(sys.argv[2])
t0 = datetime.datetime(2026, 1, 2, 9, 30)
with open(f"{work}/trades.txt", "w") as txt, open(f"{work}/trades.csv", "w") as csv:
    for i in range(rows):
        ts = (t0 + datetime.timedelta(microseconds=i * 1237)).isoformat(" ")
        sym, qty, px = f"SYM{i % 500:03d}", (i % 97) * 10 + 1, 100 + (i % 1013) / 8
        txt.write(f"{ts}\t{sym}\t{qty}\t{px}\n")
        csv.write(f"{ts},{sym},{qty},{px}\n")
EOF
chmod 644 "$WORK"/trades.*

# The client: one COPY of a file, timed; prints rows/s.
cat >"$WORK/load.py" <<'EOF'
import sys, time, psycopg2
port, user, db, fmt, path, rows, table = sys.argv[1:8]
conn = psycopg2.connect(host="127.0.0.1", port=int(port), user=user, dbname=db)
conn.autocommit = True
cur = conn.cursor()
cur.execute(f"drop table if exists {table}")
kind = "unlogged table" if table == "trades_unlogged" else "table"
cur.execute(f"create {kind} {table}(ts timestamp, symbol varchar, quantity double precision, price double precision)")
opts = "(format csv)" if fmt == "csv" else ""
with open(path, "rb") as f:
    t = time.perf_counter()
    cur.copy_expert(f"copy {table} from stdin {opts}", f)
    t = time.perf_counter() - t
cur.execute(f"select count(*) from {table}")
n = cur.fetchone()[0]
if n != int(rows):
    sys.exit(f"{table}: {n} rows loaded, {rows} expected")
print(f"{int(rows) / t:.0f}")
EOF

# The ceiling: DuckDB's own COPY of the same file, read by the server itself; prints rows/s.
ceiling() {
    local fmt=$1 path=$2 opts="(delimiter '\t', header false)"
    [ "$fmt" = csv ] && opts="(format csv, header false)"
    psql -X -q -h 127.0.0.1 -p "$PORT_dp" -U bench -d duckpond -c "drop table if exists ceil" \
        -c "create table ceil(ts timestamp, symbol varchar, quantity double, price double)"
    local t0 t1
    t0=$(date +%s.%N)
    psql -X -q -h 127.0.0.1 -p "$PORT_dp" -U bench -d duckpond -c "copy ceil from '$path' $opts" >/dev/null
    t1=$(date +%s.%N)
    awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", r / (b - a) }'
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
peak_rss_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

start_duckpond
start_postgres

declare -A R
echo "COPY trades FROM STDIN, psycopg2 copy_expert, $ROWS rows, ISO timestamps, autocommit; median of $RUNS runs"
printf "%-6s %-44s %12s %s\n" format case rows/s runs
for fmt in text csv; do
    file="$WORK/trades.txt"
    [ "$fmt" = csv ] && file="$WORK/trades.csv"
    declare -a dp=() pg=() pgu=() ce=()
    for _ in $(seq "$RUNS"); do
        dp+=("$($PY "$WORK/load.py" "$PORT_dp" bench duckpond "$fmt" "$file" "$ROWS" trades)")
        pg+=("$($PY "$WORK/load.py" "$PORT_pg" postgres postgres "$fmt" "$file" "$ROWS" trades)")
        pgu+=("$($PY "$WORK/load.py" "$PORT_pg" postgres postgres "$fmt" "$file" "$ROWS" trades_unlogged)")
        ce+=("$(ceiling "$fmt" "$file")")
    done
    R[dp_$fmt]=$(median "${dp[@]}")
    R[pg_$fmt]=$(median "${pg[@]}")
    R[pgu_$fmt]=$(median "${pgu[@]}")
    R[ce_$fmt]=$(median "${ce[@]}")
    printf "%-6s %-44s %12s %s\n" "$fmt" "duckpond" "${R[dp_$fmt]}" "${dp[*]}"
    printf "%-6s %-44s %12s %s\n" "$fmt" "PostgreSQL 15" "${R[pg_$fmt]}" "${pg[*]}"
    printf "%-6s %-44s %12s %s\n" "$fmt" "PostgreSQL 15, UNLOGGED table" "${R[pgu_$fmt]}" "${pgu[*]}"
    printf "%-6s %-44s %12s %s\n" "$fmt" "DuckDB's own COPY FROM 'file' (the ceiling)" "${R[ce_$fmt]}" "${ce[*]}"
done
echo
for fmt in text csv; do
    echo "$fmt: duckpond / PostgreSQL $(ratio "${R[dp_$fmt]}" "${R[pg_$fmt]}")x (target >= 2);" \
        "duckpond / DuckDB's own COPY $(ratio "${R[dp_$fmt]}" "${R[ce_$fmt]}")"
done
echo "duckpond peak RSS: $(peak_rss_mib "$PID_dp") MiB"
