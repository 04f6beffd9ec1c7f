#!/usr/bin/env bash
# The line protocol beside its baselines, in one run (issue "market-data
# feeds in by the line protocol"): ROWS rows of trades and quotes
# (alternating; timestamp, symbol tag, prices, sizes) through duckpond's
# line protocol, beside
#   - the raw Appender of the same rows in process, one thread (build/bench/ilp_raw: the limit),
#   - PostgreSQL 15's COPY FROM STDIN of the same rows as CSV (started here),
#   - duckpond's own COPY FROM STDIN of that CSV (PostgreSQL protocol).
# The line protocol cases: TCP with 1 connection and with 4, and HTTP POST
# /write with 10,000-line bodies from 4 keep-alive clients. Each case runs
# on a fresh server and database file, RUNS times; the table shows the
# median rows/s, its ratio to the Appender's median, the server's peak
# RSS and CPU microseconds per row (all its threads), and every run.
#
#   bench/ilp.sh [ROWS]      ROWS=1000000 RUNS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.bash
ROWS=${1:-${ROWS:-1000000}}
RUNS=${RUNS:-3}
RAW=$PWD/build/bench/ilp_raw
PY=/usr/bin/python3
[ -x "$RAW" ] || make -s build/bench/ilp_raw >/dev/null
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
HZ=$(getconf CLK_TCK)

# A fresh duckpond (a new database file) with the line protocol on a free
# port: sets PID_dp, PORT_dp, HTTP_dp, ILP_dp. (Each case runs in a
# subshell, which stops its server itself.)
fresh_duckpond() {
    rm -rf "$WORK"/dp.duckdb* "$WORK/dp.port"
    ILP_dp=$(free_port)
    start_duckpond dp --ilp-port "$ILP_dp"
}
stop_duckpond() { kill "$PID_dp" && wait "$PID_dp" || true; }

SCHEMA="create table trades (timestamp timestamp, sym varchar, price double precision, size bigint);
create table quotes (timestamp timestamp, sym varchar, bid double precision, ask double precision,
  bid_size bigint, ask_size bigint);"

# COPY of both CSV files on one connection; prints the seconds.
copy_both() { # port user db
    $PY - "$@" "$WORK/rows" <<'PY'
import sys, time, psycopg2
port, user, db, base = sys.argv[1:5]
conn = psycopg2.connect(host="127.0.0.1", port=int(port), user=user, dbname=db)
conn.autocommit = True
cur = conn.cursor()
t = time.perf_counter()
for table in ("trades", "quotes"):
    with open(f"{base}.{table}.csv") as f:
        cur.copy_expert(f"copy {table} from stdin (format csv)", f)
print(f"{time.perf_counter() - t:.3f}")
PY
}

# One case on a fresh server: prints "rows/s peak_rss_mib cpu_us_per_row".
run_dp() { # kind args...
    fresh_duckpond
    local t0 secs
    t0=$(cpu_ticks "$PID_dp")
    case $1 in
    tcp) secs=$($PY bench/ilp_send.py tcp "$ILP_dp" "$2" "$WORK/rows.ilp" "$HTTP_dp" "$ROWS") ;;
    http) secs=$($PY bench/ilp_send.py http "$HTTP_dp" 4 "$WORK/rows.ilp" 10000) ;;
    copy)
        psql -X -q -h 127.0.0.1 -p "$PORT_dp" -U bench -d duckpond -c "$SCHEMA"
        secs=$(copy_both "$PORT_dp" bench duckpond)
        ;;
    esac
    local n
    n=$(psql -X -q -A -t -h 127.0.0.1 -p "$PORT_dp" -U bench -d duckpond \
        -c "select (select count(*) from trades) + (select count(*) from quotes)")
    [ "$n" -eq "$ROWS" ] || { echo "duckpond $1: $n rows, $ROWS expected" >&2; exit 1; }
    echo "$(awk -v r="$ROWS" -v s="$secs" 'BEGIN { printf "%.0f", r / s }') $(peak_rss_mib "$PID_dp")" \
        "$(awk -v a="$t0" -v b="$(cpu_ticks "$PID_dp")" -v hz="$HZ" -v r="$ROWS" \
            'BEGIN { printf "%.2f", (b - a) / hz * 1e6 / r }')"
    stop_duckpond
}

run_raw() {
    rm -f "$WORK/raw.duckdb"*
    "$RAW" "$WORK/raw.duckdb" "$ROWS" | awk '{ print $3, $5, $4 }'
}

run_pg() {
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -h 127.0.0.1 -p "$PORT_pg" -U postgres -d postgres \
        -c "drop table if exists trades; drop table if exists quotes; $SCHEMA"
    local secs
    secs=$(copy_both "$PORT_pg" postgres postgres)
    echo "$(awk -v r="$ROWS" -v s="$secs" 'BEGIN { printf "%.0f", r / s }') - -"
}

$PY bench/ilp_gen.py "$WORK/rows.ilp" "$ROWS"
$PY bench/ilp_gen.py "$WORK/rows" "$ROWS" --csv
chmod 644 "$WORK"/rows*
start_postgres

CASES=(raw tcp1 tcp4 http dpcopy pgcopy)
declare -A NAME=([raw]="raw Appender in process, 1 thread" [tcp1]="line protocol, TCP, 1 connection"
    [tcp4]="line protocol, TCP, 4 connections" [http]="line protocol, HTTP /write, 10k-line bodies, 4 clients"
    [dpcopy]="duckpond COPY FROM STDIN (CSV)" [pgcopy]="PostgreSQL 15 COPY FROM STDIN (CSV)")
declare -A RATES RSS CPU
for _ in $(seq "$RUNS"); do
    for c in "${CASES[@]}"; do
        case $c in
        raw) out=$(run_raw) ;;
        tcp1) out=$(run_dp tcp 1) ;;
        tcp4) out=$(run_dp tcp 4) ;;
        http) out=$(run_dp http) ;;
        dpcopy) out=$(run_dp copy) ;;
        pgcopy) out=$(run_pg) ;;
        esac
        read -r rate rss cpu <<<"$out"
        RATES[$c]+="$rate "
        RSS[$c]=$rss
        CPU[$c]+="$cpu "
    done
done

echo "$ROWS rows of trades and quotes (alternating), commit acks; median of $RUNS runs"
printf "%-56s %12s %12s %14s %14s   %s\n" case rows/s "/ Appender" "peak RSS MiB" "CPU us/row" runs
raw=$(median ${RATES[raw]})
for c in "${CASES[@]}"; do
    m=$(median ${RATES[$c]})
    cpu="-"
    [ "${CPU[$c]%% *}" != "-" ] && cpu=$(median ${CPU[$c]})
    printf "%-56s %12s %12s %14s %14s   %s\n" "${NAME[$c]}" "$m" "$(ratio "$m" "$raw")" "${RSS[$c]}" "$cpu" \
        "${RATES[$c]}"
done
echo "targets: TCP 1 connection >= 0.40 of the Appender, 4 connections >= 0.60, HTTP >= 0.25"
