#!/usr/bin/env bash
# sync.sh -- mirroring PostgreSQL tables: duckpond's sync (--sync) beside
# PostgreSQL's own logical replication into a second PostgreSQL 15
# (CREATE SUBSCRIPTION), the baseline, in one run on this machine.
#
#   1. initial copy of pgbench -i -s $SCALE (50): rows/s, until each side
#      holds the copy (the subscription's tables all 'r'eady; duckpond's
#      slot position stored with the copy)
#   2. catch-up: both consumers stopped, $CHANGES (2,000,000) updates
#      queued in 1,000-row transactions, then both started: changes/s until
#      each slot's confirmed_flush_lsn reaches the end of the queue
#   3. steady lag under pgbench at full speed ($SECONDS_STEADY, 30 s, 8
#      clients): a heartbeat row updated every 100 ms on the publisher, read
#      every 200 ms on each side; lag = now - the heartbeat seen (so up to
#      ~100 ms of it is the heartbeat's own period), p50 and p99
#   4. an analytical query on pgbench_accounts, on PostgreSQL and on
#      duckpond's mirror, median of 3
#
#   SCALE=50 CHANGES=2000000 SECONDS_STEADY=30 bench/sync.sh
# Small sizes for a quick look: SCALE=5 CHANGES=200000 SECONDS_STEADY=10.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash

SCALE=${SCALE:-50}
CHANGES=${CHANGES:-2000000}
SECONDS_STEADY=${SECONDS_STEADY:-30}
PUB_OPTS="-c wal_level=logical -c max_wal_senders=20 -c max_replication_slots=20"
stop_all() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for d in pub sub; do
        [ -f "$WORK/$d/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/$d" -m fast stop >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
trap stop_all EXIT

start_postgres pub "$PUB_OPTS"
start_postgres sub "$PUB_OPTS"
P=(-X -q -A -t -h 127.0.0.1 -U postgres -d postgres)
pub() { psql "${P[@]}" -p "$PORT_pub" -c "$1"; }
sub() { psql "${P[@]}" -p "$PORT_sub" -c "$1"; }
dp() { psql -X -q -A -t -h 127.0.0.1 -p "$PORT_dp" -U bench -d duckpond -c "$1"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "sync.sh: pgbench -i -s $SCALE on the publisher ..."
pgbench -i -q -s "$SCALE" -h 127.0.0.1 -p "$PORT_pub" -U postgres postgres >/dev/null 2>&1
pub "ALTER TABLE pgbench_history REPLICA IDENTITY FULL;
     CREATE TABLE hb(id int PRIMARY KEY, ts timestamptz); INSERT INTO hb VALUES (1, clock_timestamp());
     CREATE PUBLICATION pub FOR ALL TABLES;" >/dev/null
ROWS=$(pub "select (select count(*) from pgbench_accounts) + (select count(*) from pgbench_branches) + (select count(*) from pgbench_tellers)")
pg_dump -s -h 127.0.0.1 -p "$PORT_pub" -U postgres -t 'pgbench_*' -t hb postgres | psql "${P[@]}" -p "$PORT_sub" >/dev/null

# ------------------------------------------------------- 1. initial copy
t0=$(now)
sub "CREATE SUBSCRIPTION sub CONNECTION 'host=127.0.0.1 port=$PORT_pub user=postgres dbname=postgres' PUBLICATION pub" >/dev/null 2>&1
until [ "$(sub "select count(*) from pg_subscription_rel where srsubstate <> 'r'")" == "0" ] &&
    [ "$(sub "select count(*) from pg_subscription_rel")" -ge 5 ]; do sleep 0.1; done
t1=$(now)
COPY_PG=$(secs "$t0" "$t1")

CONNINFO="host=127.0.0.1 port=$PORT_pub user=postgres dbname=postgres"
t0=$(now)
start_duckpond dp --sync "$CONNINFO" --sync-publication pub
until [ "$(dp "select count(*) from duckpond_sync_state" 2>/dev/null)" == "1" ]; do sleep 0.1; done
t1=$(now)
COPY_DP=$(secs "$t0" "$t1")

# --------------------------------------------------------- 2. catch-up
kill "$PID_dp"
wait "$PID_dp" 2>/dev/null || true
sub "ALTER SUBSCRIPTION sub DISABLE" >/dev/null
sleep 1
per=1000
n=$((CHANGES / per))
pub "DO \$\$ BEGIN FOR i IN 0..$((n - 1)) LOOP
       UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid > i * $per AND aid <= (i + 1) * $per;
       COMMIT; END LOOP; END \$\$" >/dev/null
END_LSN=$(pub "select pg_current_wal_lsn()")
caught_up() { # slot
    [ "$(pub "select confirmed_flush_lsn >= '$END_LSN' from pg_replication_slots where slot_name = '$1'")" == "t" ]
}
t0=$(now)
sub "ALTER SUBSCRIPTION sub ENABLE" >/dev/null
until caught_up sub; do sleep 0.05; done
t1=$(now)
CATCH_PG=$(secs "$t0" "$t1")
rm -f "$WORK/dp.port"
t0=$(now)
start_duckpond dp --sync "$CONNINFO" --sync-publication pub
until caught_up duckpond_pub; do sleep 0.05; done
t1=$(now)
CATCH_DP=$(secs "$t0" "$t1")

# ------------------------------------------------------- 3. steady lag
( while :; do pub "UPDATE hb SET ts = clock_timestamp()" >/dev/null 2>&1 || true; sleep 0.1; done ) &
HB=$!
PIDS+=("$HB")
sleep 1 # both sides have a fresh heartbeat before the first sample
pgbench -c 8 -j 2 -T "$SECONDS_STEADY" -h 127.0.0.1 -p "$PORT_pub" -U postgres postgres >"$WORK/pgbench.log" 2>&1 &
BENCH=$!
: >"$WORK/lag_pg"
: >"$WORK/lag_dp"
while kill -0 "$BENCH" 2>/dev/null; do
    sub "select extract(epoch from clock_timestamp() - ts) from hb" >>"$WORK/lag_pg" 2>/dev/null || true
    dp "select extract(epoch from now() - ts) from pg.hb" >>"$WORK/lag_dp" 2>/dev/null || true
    sleep 0.2
done
wait "$BENCH" || true
kill "$HB" 2>/dev/null || true
TPS=$(grep -Eo 'tps = [0-9.]+' "$WORK/pgbench.log" | head -1 | cut -d' ' -f3)
pct() { sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; printf "%.3f", v[i] }'; }

# ------------------------------------------------- 4. analytical query
QUERY="select bid, count(*), sum(abalance), avg(abalance) from pgbench_accounts group by bid order by bid"
time_q() { # psql-function query
    local best=() t0 t1
    for _ in 1 2 3; do
        t0=$(now)
        "$1" "$2" >/dev/null
        t1=$(now)
        best+=("$(secs "$t0" "$t1")")
    done
    printf '%s\n' "${best[@]}" | sort -g | sed -n 2p
}
Q_PG=$(time_q pub "$QUERY")
Q_DP=$(time_q dp "${QUERY/pgbench_accounts/pg.pgbench_accounts}")

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
echo
echo "PostgreSQL 15 tables mirrored: duckpond --sync vs PostgreSQL logical replication (CREATE SUBSCRIPTION)"
echo "pgbench -s $SCALE ($ROWS rows), $CHANGES queued changes, steady run ${SECONDS_STEADY}s at ${TPS:-?} tps"
printf '%-34s %16s %16s %8s\n' "" "PostgreSQL sub" "duckpond" "ratio"
printf '%-34s %16s %16s %8s\n' "initial copy (rows/s)" "$(rate "$ROWS" "$COPY_PG")" "$(rate "$ROWS" "$COPY_DP")" \
    "$(ratio "$(rate "$ROWS" "$COPY_DP")" "$(rate "$ROWS" "$COPY_PG")")"
printf '%-34s %16s %16s %8s\n' "catch-up apply (changes/s)" "$(rate "$CHANGES" "$CATCH_PG")" \
    "$(rate "$CHANGES" "$CATCH_DP")" "$(ratio "$(rate "$CHANGES" "$CATCH_DP")" "$(rate "$CHANGES" "$CATCH_PG")")"
printf '%-34s %16s %16s\n' "steady lag p50 (s)" "$(pct "$WORK/lag_pg" 50)" "$(pct "$WORK/lag_dp" 50)"
printf '%-34s %16s %16s\n' "steady lag p99 (s)" "$(pct "$WORK/lag_pg" 99)" "$(pct "$WORK/lag_dp" 99)"
printf '%-34s %16s %16s %8s\n' "aggregate over pgbench_accounts (s)" "$Q_PG" "$Q_DP" "$(ratio "$Q_PG" "$Q_DP")"
echo "(ratio: duckpond over PostgreSQL for rates, PostgreSQL over duckpond for the query time; lag includes"
echo " up to 0.1 s of heartbeat period; the analytical query runs on the publisher and on duckpond's mirror)"
