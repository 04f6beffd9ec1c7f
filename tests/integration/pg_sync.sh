#!/usr/bin/env bash
# pg_sync.sh -- PostgreSQL tables mirrored into duckpond (--sync), against
# a real PostgreSQL 15 started here with wal_level=logical on a free port
# of 127.0.0.1: the initial copy, pgbench while syncing with duckpond
# killed (SIGKILL) mid-stream and during a large transaction, PostgreSQL
# restarted mid-stream, TOAST, key updates, deletes, TRUNCATE, column
# DDL, a type change stopping one table, a table refused for having no
# key, every mapped type with edge values, synced tables read-only for
# clients (42501) and the per-table status. After each step every table's
# rows, sorted, must be the same on both sides (an order-independent
# comparison of all columns).
#
# Sized for the suite (pgbench -s 2, runs of a few seconds); bench/sync.sh
# runs the issue's sizes.
set -u
. "$(dirname "$0")/pg_common.bash"

PGBIN=/usr/lib/postgresql/15/bin
if [ ! -x "$PGBIN/postgres" ]; then
    echo "no PostgreSQL 15 server binaries in $PGBIN (make deps installs postgresql-15)"
    exit 1
fi
chmod 755 "$WORK"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PG_PORT=$(free_port)
mkdir -p "$WORK/pg"
chmod 700 "$WORK/pg"
[ "$(id -u)" -eq 0 ] && chown postgres "$WORK/pg" && chmod 777 "$WORK"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
pg_start() {
    as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w -o "-p $PG_PORT -k $WORK \
        -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_wal_senders=10 \
        -c max_replication_slots=10 -c fsync=off" start >/dev/null
}
pg_stop() { as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null 2>&1; }
pg_start
trap 'pg_stop; cleanup' EXIT

PGC=(-X -q -A -t -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
pgq() { psql "${PGC[@]}" -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
dq() { psql -X -q -A -t -h 127.0.0.1 -p "$PGPORT" -U tester -d duckpond -c "$1" 2>&1; }
CONNINFO="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"

HTTP_PORT=$(free_port)
start_sync() { start_server --http-port "$HTTP_PORT" --sync "$CONNINFO" --sync-publication pub; }
kill_server() {
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}

# same NAME SQL [SECONDS]: the query's rows on PostgreSQL and on duckpond
# (where {S} becomes "pg.") are the same, within SECONDS (20) of catch-up.
same() {
    local name=$1 sql=$2 limit=${3:-20} a b
    a=$(pgq "${sql//\{S\}/}" | sort | md5sum)
    for _ in $(seq $((limit * 5))); do
        b=$(dq "${sql//\{S\}/pg.}" | sort | md5sum)
        [ "$a" == "$b" ] && break
        sleep 0.2
    done
    if [ "$a" == "$b" ]; then ok "$name"; else
        bad "$name" "$(diff <(pgq "${sql//\{S\}/}" | sort) <(dq "${sql//\{S\}/pg.}" | sort) | head -20)"
    fi
}

PGBENCH_Q=(
    "select aid, bid, abalance, rtrim(filler) from {S}pgbench_accounts"
    "select bid, bbalance from {S}pgbench_branches"
    "select tid, bid, tbalance from {S}pgbench_tellers"
    "select tid, bid, aid, delta, mtime from {S}pgbench_history"
)
same_pgbench() {
    same "$1: pgbench_accounts" "${PGBENCH_Q[0]}" 60
    same "$1: pgbench_branches" "${PGBENCH_Q[1]}"
    same "$1: pgbench_tellers" "${PGBENCH_Q[2]}"
    same "$1: pgbench_history (REPLICA IDENTITY FULL, no key)" "${PGBENCH_Q[3]}"
}

# ---------------------------------------------------------------- set-up
pgbench -i -s 2 -q -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres >/dev/null 2>&1
pgq "ALTER TABLE pgbench_history REPLICA IDENTITY FULL;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE types(id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, n numeric(12,3), nf numeric, f4 float4,
  f8 float8, b bool, t text, vc varchar(10), c char(3), d date, tm time, ts timestamp, tz timestamptz,
  iv interval, u uuid, j json, jb jsonb, bt bytea, e mood, ai int[], ta text[], an numeric(5,1)[]);
INSERT INTO types VALUES
 (1, -32768, -2147483648, -9223372036854775808, -999999999.999, 'NaN', 'NaN', '-Infinity', true,
  E'a''b\\\\c \"q\"\ttab\nnl', '', 'ab', '0044-03-15 BC', '24:00:00', 'infinity', '-infinity',
  '-1 year +2 mons -3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}',
  '{\"b\": null}', '\\x00ff10', 'happy', '{}', '{\"a b\",NULL,\"c\\\"d\",\"NULL\",\"\"}', '{1.5,NULL}'),
 (2, 32767, 2147483647, 9223372036854775807, 999999999.999, 1e300, 'Infinity', 'Infinity', false,
  'ünïcødé ✓', 'x', 'abc', '2026-11-29', '00:00:00', '2000-01-01 00:00:00.000001',
  '2026-11-29 12:34:56.5+05:30', '00:00:00', '00000000-0000-0000-0000-000000000000', '[]', '[]', '\\x',
  'sad', '{1,NULL,-3}', '{}', '{}'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE toast(id int PRIMARY KEY, big text, n int);
ALTER TABLE toast ALTER COLUMN big SET STORAGE EXTERNAL;
INSERT INTO toast SELECT i, (SELECT string_agg(md5(random()::text || i || g), '') FROM generate_series(1, 3200) g), 0
  FROM generate_series(1, 3) i;
CREATE TABLE nokey(a int, b text);
INSERT INTO nokey VALUES (1, 'x');
CREATE TABLE fullrows(a int, b text);
ALTER TABLE fullrows REPLICA IDENTITY FULL;
INSERT INTO fullrows VALUES (1, 'x'), (1, 'x'), (2, NULL);
CREATE TABLE ddl(id int PRIMARY KEY, a int, b text);
INSERT INTO ddl VALUES (1, 10, 'one');
CREATE TABLE keyupd(id int PRIMARY KEY, v text);
INSERT INTO keyupd SELECT g, 'v' || g FROM generate_series(1, 5) g;
CREATE TABLE big(id int PRIMARY KEY, v int);
CREATE TABLE textkey(k text PRIMARY KEY, v int);
INSERT INTO textkey VALUES ('a', 1), ('it''s', 2), ('x', 3), ('-5', 4);
CREATE PUBLICATION pub FOR ALL TABLES;" >/dev/null || { echo "cannot set up PostgreSQL"; cat "$WORK/pg.log"; exit 1; }

start_sync || exit 1
for _ in $(seq 100); do
    [ "$(dq "select count(*) from duckpond_sync_state" 2>/dev/null)" == "1" ] && break
    sleep 0.2
done
check_eq "the initial copy committed the slot's position" "1" "$(dq "select count(*) from duckpond_sync_state")"
same_pgbench "initial copy"
TYPES_Q="select id, i2, i4, i8, n, nf::float8, f4, f8, b, t, vc, c, d, tm, ts, tz, extract(year from iv), extract(month from iv), extract(day from iv),
  extract(hour from iv), extract(minute from iv), extract(microseconds from iv), u, j::text, jb::text, bt, e::text, ai, ta, an from {S}types"
same "every mapped type, edge values" "$TYPES_Q"
same "TOAST table copied" "select id, md5(big), n from {S}toast"

# a table with neither a key nor REPLICA IDENTITY FULL is refused, clearly
refused=$(dq "select message from duckpond_sync_tables where pg_table = 'nokey'")
case "$refused" in
*"neither a primary key nor REPLICA IDENTITY FULL"*) ok "a table without key or FULL is refused" ;;
*) bad "a table without key or FULL is refused" "$refused" ;;
esac

# synced tables are read-only for clients
out=$(psql -X -q -A -t -h 127.0.0.1 -p "$PGPORT" -U tester -d duckpond -v VERBOSITY=verbose \
    -c "UPDATE pg.pgbench_accounts SET abalance = 1 WHERE aid = 1" 2>&1)
case "$out" in *42501*) ok "UPDATE of a synced table: 42501" ;; *) bad "UPDATE of a synced table: 42501" "$out" ;; esac
out=$(psql -X -q -A -t -h 127.0.0.1 -p "$PGPORT" -U tester -d duckpond -v VERBOSITY=verbose \
    -c "INSERT INTO pg.keyupd VALUES (999, 'no')" 2>&1)
case "$out" in *42501*) ok "INSERT into a synced table: 42501" ;; *) bad "INSERT into a synced table: 42501" "$out" ;; esac
out=$(psql -X -q -A -t -h 127.0.0.1 -p "$PGPORT" -U tester -d duckpond -v VERBOSITY=verbose \
    -c "DELETE FROM pg.big" -c "TRUNCATE pg.ddl" 2>&1)
case "$out" in *42501*) ok "DELETE / TRUNCATE of a synced table: 42501" ;; *) bad "DELETE of a synced table: 42501" "$out" ;; esac
out=$(psql -X -q -A -t -h 127.0.0.1 -p "$PGPORT" -U tester -d duckpond -v VERBOSITY=verbose \
    -c "WITH k AS (SELECT 1) UPDATE pg.pgbench_accounts SET abalance = 2 WHERE aid = 1" 2>&1)
case "$out" in *42501*) ok "UPDATE after a WITH: 42501" ;; *) bad "UPDATE after a WITH: 42501" "$out" ;; esac
out=$(curl -s -w ' %{http_code}' -H 'Content-Type: application/json' \
    -d '{"sql": "UPDATE pg.pgbench_accounts SET abalance = 3 WHERE aid = 1"}' "http://127.0.0.1:$HTTP_PORT/v1/query")
case "$out" in *42501*403) ok "UPDATE over HTTP: 403, 42501" ;; *) bad "UPDATE over HTTP: 403, 42501" "$out" ;; esac
check_eq "the refused writes changed nothing" "0" \
    "$(dq "select count(*) from pg.pgbench_accounts where aid = 1 and abalance in (1, 2, 3)")"

# ------------------------------------------ pgbench, duckpond killed mid-stream
pgbench -c 4 -T 8 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres >"$WORK/pgbench1.log" 2>&1 &
bench=$!
for k in 1 2 3; do
    sleep 2
    kill_server
    start_sync || exit 1
done
wait "$bench"
same_pgbench "pgbench with duckpond killed 3 times"

# ---------------------------------------- a large transaction, killed in it
pgq "INSERT INTO big SELECT g, g FROM generate_series(1, 300000) g" >/dev/null &
ins=$!
sleep 1.5
kill_server
wait "$ins"
start_sync || exit 1
sleep 1
kill_server
start_sync || exit 1
same "a 300,000-row transaction, duckpond killed twice in it" "select count(*), sum(v), count(distinct id) from {S}big" 60

# ----------------------------------------------- PostgreSQL restarted mid-stream
pgbench -c 2 -T 6 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres >"$WORK/pgbench2.log" 2>&1 &
bench=$!
sleep 2
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w restart -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 \
    -c wal_level=logical -c max_wal_senders=10 -c max_replication_slots=10 -c fsync=off" >/dev/null 2>&1
wait "$bench"
pgbench -c 2 -T 2 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres >"$WORK/pgbench3.log" 2>&1
same_pgbench "PostgreSQL restarted mid-stream"

# ----------------------------------------------------------- the hard parts
pgq "UPDATE toast SET n = n + 1; UPDATE toast SET n = n + 1 WHERE id = 2;
BEGIN; INSERT INTO toast VALUES (4, repeat('y', 200000), 0); UPDATE toast SET n = 7 WHERE id = 4; COMMIT;" >/dev/null
same "TOAST: other columns updated, the 100 kB values kept" "select id, md5(big), n from {S}toast"
pgq "UPDATE toast SET id = id + 10 WHERE id = 1;
BEGIN; UPDATE toast SET n = 9 WHERE id = 3; UPDATE toast SET id = 30 WHERE id = 3; COMMIT;" >/dev/null
same "TOAST: rows moved to a new key keep their 100 kB values" "select id, md5(big), n from {S}toast"
pgq "UPDATE keyupd SET id = id + 100 WHERE id <= 2; DELETE FROM keyupd WHERE id = 3;
BEGIN; UPDATE keyupd SET id = 50 WHERE id = 4; UPDATE keyupd SET id = 4 WHERE id = 5; UPDATE keyupd SET v = 'x' WHERE id = 4; COMMIT;" >/dev/null
same "key updates and deletes" "select id, v from {S}keyupd"
pgq "UPDATE textkey SET v = 20 WHERE k = 'it''s'; UPDATE textkey SET k = 'b' WHERE k = 'a'; DELETE FROM textkey WHERE k = 'x';
BEGIN; INSERT INTO textkey VALUES ('x', 9); DELETE FROM textkey WHERE k = 'x'; INSERT INTO textkey VALUES ('x', 10); COMMIT;
INSERT INTO textkey VALUES (E'new''\"\\\\', 5); INSERT INTO keyupd VALUES (-7, 'neg'); UPDATE keyupd SET v = 'n' WHERE id = -7;" >/dev/null
same "a text key (quotes) and a negative key: updates, key updates, delete and insert again" "select k, v from {S}textkey union all select id::text, length(v) from {S}keyupd"
pgq "INSERT INTO fullrows VALUES (1, 'x'), (3, 'z'); DELETE FROM fullrows WHERE ctid = (SELECT min(ctid) FROM fullrows WHERE a = 1);
UPDATE fullrows SET b = 'w' WHERE a = 2; BEGIN; INSERT INTO fullrows VALUES (9, 'n'); DELETE FROM fullrows WHERE a = 9; COMMIT;" >/dev/null
same "REPLICA IDENTITY FULL without a key: duplicates, deletes, updates" "select a, b from {S}fullrows"
pgq "TRUNCATE keyupd; INSERT INTO keyupd VALUES (1, 'after')" >/dev/null
same "TRUNCATE" "select id, v from {S}keyupd"
pgq "ALTER TABLE ddl ADD COLUMN c int; INSERT INTO ddl VALUES (2, 20, 'two', 2);" >/dev/null
same "ADD COLUMN followed" "select id, a, b, c from {S}ddl"
pgq "ALTER TABLE ddl DROP COLUMN a; ALTER TABLE ddl RENAME COLUMN b TO bb; INSERT INTO ddl VALUES (3, 'three', 3); UPDATE ddl SET bb = 'uno' WHERE id = 1" >/dev/null
same "DROP and RENAME COLUMN followed" "select id, bb, c from {S}ddl"

# a type change stops that table alone
pgq "ALTER TABLE keyupd ALTER COLUMN v TYPE int USING length(v); INSERT INTO keyupd VALUES (2, 5); INSERT INTO ddl VALUES (4, 'four', 4)" >/dev/null
same "the other tables go on after a type change" "select id, bb, c from {S}ddl"
why=$(dq "select message from duckpond_sync_tables where pg_table = 'keyupd'")
case "$why" in *"type of column v"*) ok "a type change stops the table, named" ;; *) bad "a type change stops the table" "$why" ;; esac

# status and metrics per table
status=$(curl -s "http://127.0.0.1:$HTTP_PORT/v1/status")
case "$status" in
*'"name":"pgbench_accounts"'*'"state":"streaming"'*'"lag_bytes":'*) ok "status: tables with state and lag" ;;
*) bad "status: tables with state and lag" "$status" ;;
esac
history=$(curl -s "http://127.0.0.1:$HTTP_PORT/v1/history")
case "$history" in
*'"sync_lag_s":'[0-9]*) ok "history: the sync's lag for the charts" ;;
*) bad "history: the sync's lag for the charts" "${history:0:300}" ;;
esac
metrics=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics")
case "$metrics" in
*'duckpond_sync_table_state{slot="duckpond_pub",table="keyupd",state="stopped"} 1'*) ok "metrics: the stopped table" ;;
*) bad "metrics: the stopped table" "$(echo "$metrics" | grep sync)" ;;
esac

stop_server || bad "the server stopped cleanly"
grep -E "sync|ERROR" "$WORK/server.log" | tail -n 5
finish
