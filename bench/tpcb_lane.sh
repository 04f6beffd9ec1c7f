#!/usr/bin/env bash
# tpcb_lane.sh -- pgbench's built-in TPC-B-like script (every transaction
# updates one of a few branch rows) against duckpond in optimistic mode,
# duckpond with the write lane, and PostgreSQL 15, side by side in one run.
#
#   bench/tpcb_lane.sh            (RUNS=3, DURATION=10 seconds a run, CLIENTS="4 16")
#   QUICK=1 bench/tpcb_lane.sh    (one run of 3 s: a smoke test)
#
# Servers on 127.0.0.1 and free ports, stopped at the end: PostgreSQL 15
# (initdb into a temporary directory, default durability, READ COMMITTED),
# duckpond with commit acks (optimistic: conflicts fail with 40001 and
# pgbench retries them, --max-tries=1000000) and duckpond --write-lane
# (each transaction's first write waits its turn). Each is loaded with
# pgbench -i -s 1 (one branch: every transaction updates the same branch
# row). pgbench -M prepared -j CLIENTS (a thread a client); per case the median tps of RUNS runs, and
# over all runs the transactions retried, the retries and the failed
# transactions. At the end every duckpond database is checked: the sum of
# the accounts' balances equals the sum of the history's deltas.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash

if [ "${QUICK:-0}" = 1 ]; then
    RUNS=${RUNS:-1} DURATION=${DURATION:-3}
else
    RUNS=${RUNS:-3} DURATION=${DURATION:-10}
fi
CLIENTS=${CLIENTS:-"4 16"}
command -v pgbench >/dev/null || { echo "tpcb_lane.sh: pgbench is not installed" >&2; exit 1; }
[ -x "$BIN" ] || { echo "tpcb_lane.sh: $BIN not built (make)" >&2; exit 1; }

start_postgres
start_duckpond optimistic
start_duckpond lane --write-lane
SERVERS=(optimistic lane pg)

conn_args() {
    if [ "$1" = pg ]; then echo "-h 127.0.0.1 -p $PORT_pg -U postgres postgres"
    else echo "-h 127.0.0.1 -p $(eval "echo \$PORT_$1") -U bench duckpond"; fi
}

for s in "${SERVERS[@]}"; do
    # shellcheck disable=SC2046
    pgbench -i -s 1 -q $(conn_args "$s") >"$WORK/init-$s.log" 2>&1 || { cat "$WORK/init-$s.log" >&2; exit 1; }
done

# field LOG PATTERN: the first number after PATTERN in pgbench's output (0 when absent)
field() { sed -n "s/^$2[^0-9]*\([0-9.]*\).*/\1/p" "$1" | head -1 | awk '{print $1 + 0}'; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }

declare -A TPS RETRIED RETRIES FAILED
for c in $CLIENTS; do
    for s in "${SERVERS[@]}"; do
        tps=() retried=0 retries=0 failed=0
        for r in $(seq "$RUNS"); do
            log="$WORK/run-$s-$c-$r.log"
            # shellcheck disable=SC2046
            pgbench -n -M prepared -c "$c" -j "$c" -T "$DURATION" --max-tries=1000000 $(conn_args "$s") >"$log" 2>&1 ||
                { echo "pgbench against $s failed:" >&2; cat "$log" >&2; exit 1; }
            tps+=("$(field "$log" "tps = ")")
            retried=$((retried + $(field "$log" "number of transactions retried:")))
            retries=$((retries + $(field "$log" "total number of retries:")))
            failed=$((failed + $(field "$log" "number of failed transactions:")))
        done
        TPS[$s,$c]=$(printf '%s\n' "${tps[@]}" | median)
        RETRIED[$s,$c]=$retried RETRIES[$s,$c]=$retries FAILED[$s,$c]=$failed
    done
done

label() { case $1 in optimistic) echo "duckpond, optimistic";; lane) echo "duckpond, write lane";; pg) echo "PostgreSQL 15";; esac; }
echo
echo "pgbench TPC-B (built-in), scale 1, -M prepared, $DURATION s a run, median of $RUNS runs"
echo
echo "| clients | server | tps | transactions retried | retries | failed | tps / optimistic | tps / PostgreSQL |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for c in $CLIENTS; do
    for s in "${SERVERS[@]}"; do
        printf '| %s | %s | %.1f | %s | %s | %s | %s | %s |\n' "$c" "$(label "$s")" "${TPS[$s,$c]}" \
            "${RETRIED[$s,$c]}" "${RETRIES[$s,$c]}" "${FAILED[$s,$c]}" \
            "$(ratio "${TPS[$s,$c]}" "${TPS[optimistic,$c]}")" "$(ratio "${TPS[$s,$c]}" "${TPS[pg,$c]}")"
    done
done

for s in optimistic lane; do
    port=$(eval "echo \$PORT_$s")
    ok=$(psql -h 127.0.0.1 -p "$port" -U bench duckpond -Atc \
        "select (select sum(abalance) from pgbench_accounts) = (select coalesce(sum(delta), 0) from pgbench_history)")
    echo "$(label "$s"): balances agree with the history: $ok"
done
