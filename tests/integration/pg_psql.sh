#!/usr/bin/env bash
# psql and pgbench against a real duckpond server: a scripted psql session
# compared line by line, \dt / \d / \copy, failed-transaction rules,
# SHOW/SET and PGOPTIONS, pgbench -i and TPC-B-like runs in all three query
# modes with --max-tries (no failed transaction; balances agree with
# pgbench_history), single-row INSERTs through the batcher, and a SIGTERM
# that exits 0 with everything acknowledged still there after a restart.
set -u
. "$(dirname "$0")/pg_common.bash"

# refused before it opens anything: trust is for loopback only
out=$("$DUCKPOND_BIN" serve --db "$WORK/x.duckdb" --listen 0.0.0.0 --http-port 0 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q 'without a users file'; then ok "no trust beyond loopback"; else bad "no trust beyond loopback" "$out"; fi

start_server || { bad "server starts"; finish; exit 1; }

# ---- a scripted session, compared with what PostgreSQL's psql would print
cat >"$WORK/session.sql" <<'SQL'
create table items(id int primary key, name text, price double, ok boolean, tags int[], day date);
insert into items values (1, 'apple', 1.5, true, [1,2], '2024-01-02'), (2, 'pear', 'inf', false, [], null);
select * from items order by id;
select 'a;b' as semi, $$x;y$$ as dollar; select 2 as two;
;
begin;
select nosuch;
select 1;
commit;
begin;
insert into items(id, name) values (3, 'plum');
rollback;
select count(*) from items;
insert into items(id, name) values (1, 'dup');
\copy items(id, name) from stdin
10	ten
11	\N
\.
select id, name is null as nul from items where id >= 10 order by id;
\copy (select id, name from items order by id) to stdout with (format csv, header)
set application_name = 'psql-test';
show application_name;
show transaction isolation level;
select version() like 'PostgreSQL 16%' as pg16;
SQL
cat >"$WORK/expected.out" <<'OUT'
CREATE TABLE
INSERT 0 2
 id | name  |  price   | ok | tags  |    day     
----+-------+----------+----+-------+------------
  1 | apple |      1.5 | t  | {1,2} | 2024-01-02
  2 | pear  | Infinity | f  | {}    | 
(2 rows)

 semi | dollar 
------+--------
 a;b  | x;y
(1 row)

 two 
-----
   2
(1 row)

BEGIN
psql:SESSION:7: ERROR:  Binder Error: Referenced column "nosuch" was not found because the FROM clause is missing

LINE 1: select nosuch
               ^
psql:SESSION:8: ERROR:  current transaction is aborted, commands ignored until end of transaction block
ROLLBACK
BEGIN
INSERT 0 1
ROLLBACK
 count_star() 
--------------
            2
(1 row)

psql:SESSION:14: ERROR:  row 0: Constraint Error: Duplicate key "id: 1" violates primary key constraint.
COPY 2
 id | nul 
----+-----
 10 | f
 11 | t
(2 rows)

id,name
1,apple
2,pear
10,ten
11,
SET
 application_name 
------------------
 psql-test
(1 row)

 transaction_isolation 
-----------------------
 repeatable read
(1 row)

 pg16 
------
 t
(1 row)

OUT
psql -X -f "$WORK/session.sql" >"$WORK/actual.out" 2>&1
sed -i "s|$WORK/session.sql|SESSION|" "$WORK/actual.out"
if diff -u "$WORK/expected.out" "$WORK/actual.out" >"$WORK/diff"; then ok "scripted psql session"; else bad "scripted psql session" "$(cat "$WORK/diff")"; fi

# ---- catalog commands psql sends
check_eq "\\dt lists the table" "public|items|table|duckpond" "$(psql -X -A -t -c '\dt' 2>&1)"
out=$(psql -X -A -t -c '\d items' 2>&1)
if echo "$out" | grep -q '^id|integer' && echo "$out" | grep -q '^name|text'; then ok "\\d items"; else bad "\\d items" "$out"; fi

# ---- startup options and settings
check_eq "PGOPTIONS sets a session setting" "UTC+1" "$(PGOPTIONS='-c TimeZone=UTC+1' q 'show timezone')"
check_eq "application_name from the startup packet" "myapp" "$(PGAPPNAME=myapp q 'show application_name')"
out=$(psql -X -d otherdb -c 'select 1' 2>&1)
if echo "$out" | grep -q 'database "otherdb" does not exist'; then ok "unknown database refused"; else bad "unknown database refused" "$out"; fi
check_eq "empty query" "" "$(q ';')"
q "create table multi(a int)" >/dev/null
psql -X -q -c "insert into multi values (1); select nosuch" >/dev/null 2>&1
psql -X -q -c "insert into multi values (2); insert into multi values (3)" >/dev/null 2>&1
check_eq "a multi-statement query is all or nothing" "2|5" "$(q 'select count(*), sum(a) from multi')"

# ---- pgbench: initialise, then the TPC-B-like script in every mode (-n: the
# history is kept across runs, so balances can be checked against it)
if out=$(pgbench -i -s 1 2>&1); then ok "pgbench -i"; else bad "pgbench -i" "$out"; fi
check_eq "pgbench_accounts loaded" "100000" "$(q 'select count(*) from pgbench_accounts')"
for mode in simple extended prepared; do
    out=$(pgbench -n -M "$mode" -c 4 -j 2 -T 2 --max-tries=1000 2>&1)
    if echo "$out" | grep -q 'number of failed transactions: 0 ' &&
        echo "$out" | grep -Eq 'number of transactions actually processed: [1-9]'; then
        ok "pgbench -M $mode: no failed transaction"
    else
        bad "pgbench -M $mode: no failed transaction" "$out"
    fi
done
sums=$(q "select (select sum(abalance) from pgbench_accounts) = (select coalesce(sum(delta),0) from pgbench_history)
          and (select sum(tbalance) from pgbench_tellers) = (select coalesce(sum(delta),0) from pgbench_history)
          and (select sum(bbalance) from pgbench_branches) = (select coalesce(sum(delta),0) from pgbench_history)
          and (select count(*) from pgbench_history) > 0")
check_eq "balances agree with pgbench_history" "t" "$sums"

# ---- single-row INSERTs through the batcher (acknowledged at commit)
q "create table trades(id bigint, sym varchar, px double, qty int, ts timestamp default now())" >/dev/null
printf "INSERT INTO trades (id, sym, px, qty) VALUES (:client_id, 'ABC', 1.5, 100);\n" >"$WORK/ins.sql"
for mode in simple prepared; do
    out=$(pgbench -n -M "$mode" -f "$WORK/ins.sql" -c 4 -j 2 -t 50 2>&1) || bad "pgbench inserts -M $mode" "$out"
done
check_eq "every acknowledged insert is there" "400|400" "$(q 'select count(*), count(ts) from trades')"
out=$(psql -X -c "insert into trades(id, sym) values (1, 'x'), ('notanumber', 'y')" 2>&1)
if echo "$out" | grep -q 'ERROR' && [ "$(q 'select count(*) from trades')" == 400 ]; then
    ok "a multi-row insert with a bad row writes nothing"
else
    bad "a multi-row insert with a bad row writes nothing" "$out"
fi
out=$(psql -X -v VERBOSITY=verbose -c "insert into items(id, name) values (1, 'dup')" 2>&1)
if echo "$out" | grep -q 'ERROR:  23505'; then ok "duplicate key is 23505"; else bad "duplicate key is 23505" "$out"; fi

# ---- SIGTERM: exit 0; committed rows survive a restart
if stop_server; then ok "SIGTERM exits 0"; else bad "SIGTERM exits 0" "$(tail "$WORK/server.log")"; fi
start_server || bad "server restarts"
check_eq "rows survive the restart" "400|2" "$(q 'select (select count(*) from trades), (select count(*) from items where id < 10)')"
stop_server
finish
