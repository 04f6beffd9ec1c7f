#!/usr/bin/env bash
# http_server.sh -- the HTTP API of a real `duckpond serve`, driven by curl:
# health, queries with bound parameters, NDJSON and CSV ingest, metrics,
# the status page, bearer tokens from `duckpond passwd` (a read-only token
# refused on writes), a clean stop on SIGTERM with nothing acknowledged
# lost, and ack mode journal (Duckpond-Ack, the answer's seq, and
# Duckpond-After-Seq for read-your-writes). Needs DUCKPOND_BIN (tests/run.sh
# sets it).
set -u
BIN=${DUCKPOND_BIN:-$(dirname "$0")/../../build/duckpond}
dir=$(mktemp -d /tmp/duckpond-http-it.XXXXXX)
pid=
passed=0
failed=0
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

check() { # name command...
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() { # extra serve arguments...
    http_port=$(free_port)
    pg_port=$(free_port)
    "$BIN" serve --db "$dir/db.duckdb" --listen 127.0.0.1 --pg-port "$pg_port" \
        --http-port "$http_port" "$@" >"$dir/server.log" 2>&1 &
    pid=$!
    url=http://127.0.0.1:$http_port
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$url/" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the server did not start:"
    cat "$dir/server.log"
    return 1
}

stop() {
    kill -TERM "$pid"
    wait "$pid"
    local rc=$?
    pid=
    return $rc
}

# status code of a request; the answer in $dir/out
code() { curl -s -o "$dir/out" -w '%{http_code}' "$@"; }
q() { # sql [extra curl args...]
    local sql=$1
    shift
    code -H 'Content-Type: application/json' --data-binary "$sql" "$@" "$url/v1/query"
}
out_has() { grep -qF -- "$1" "$dir/out"; }

start || exit 1
check "health says writable" test "$(code "$url/health")" = 200
check "health body" out_has '"writable":true'
check "create table" test "$(q '{"sql":"CREATE TABLE trades (id INTEGER, sym VARCHAR, px DOUBLE, note VARCHAR)"}')" = 200
check "insert with bound parameters" test "$(q '{"sql":"INSERT INTO trades VALUES ($1, $2, $3, $4)","params":[1,"AAPL",187.5,"'"'"'; DROP TABLE trades; --"]}')" = 200
check "the injection text is a value" test "$(q '{"sql":"SELECT note FROM trades WHERE id = $1","params":[1]}' -H 'Accept: text/csv')" = 200
check "... and stored as sent" out_has "'; DROP TABLE trades; --"
printf '{"id":2,"sym":"MSFT","px":410}\n{"id":3,"sym":"NVDA","px":"bad"}\n{"id":4,"sym":"AMZN","px":180}\n' >"$dir/rows.ndjson"
check "ndjson ingest" test "$(code --data-binary @"$dir/rows.ndjson" -H 'Content-Type: application/x-ndjson' "$url/v1/tables/trades/rows")" = 200
check "ndjson: 2 written, line 2 rejected" out_has '"written":2,"rejected_count":1,"rejected":[{"line":2'
printf 'id,sym,px\n5,GOOG,170.5\n6,META,\n' >"$dir/rows.csv"
check "csv ingest" test "$(code --data-binary @"$dir/rows.csv" -H 'Content-Type: text/csv' "$url/v1/tables/trades/rows")" = 200
check "csv: 2 written" out_has '"written":2'
check "count" test "$(q '{"sql":"SELECT count(*) AS n FROM trades"}' -H 'Accept: application/x-ndjson')" = 200
check "... is 5" out_has '{"n":5}'
check "bad SQL is 400" test "$(q '{"sql":"SELEKT"}')" = 400
check "... with its SQLSTATE" out_has '"sqlstate":"42601"'
check "metrics" test "$(code "$url/metrics")" = 200
check "metrics: rows committed" out_has 'duckpond_batcher_rows_committed_total 4'
check "metrics: errors by SQLSTATE" out_has 'duckpond_errors_total{sqlstate="42601"} 1'
check "status page" test "$(code "$url/")" = 200
check "status page is HTML" out_has '<title>duckpond status</title>'
check "status tables" test "$(code "$url/v1/status")" = 200
check "status tables count" out_has '"name":"trades","rows":5'
check "status tables leave out the server's own" sh -c "! grep -q duckpond_ '$dir/out'"

# rows acknowledged just before SIGTERM are all there after a restart
writers=()
for i in $(seq 1 20); do
    printf '{"id":%d,"sym":"LATE","px":1}\n' $((100 + i)) >"$dir/late.$i"
    curl -s -o "$dir/late.out.$i" --data-binary @"$dir/late.$i" "$url/v1/tables/trades/rows" &
    writers+=($!)
done
wait "${writers[@]}" # not the server
acked=$(cat "$dir"/late.out.* | grep -c '"written":1')
check "SIGTERM stops cleanly" stop
start || exit 1
check "acknowledged rows survive a restart" test "$(q '{"sql":"SELECT count(*) FROM trades WHERE sym = $1","params":["LATE"]}' -H 'Accept: text/csv')" = 200
check "... all $acked of them" test "$(tail -n 1 "$dir/out" | tr -d '\r')" = "$acked"

# ack mode journal: the answer carries the sequence number; a query that
# sends it back (Duckpond-After-Seq) sees the rows
seq_of() { sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$dir/out"; }
printf '{"id":201,"sym":"JRNL","px":1}\n{"id":202,"sym":"JRNL","px":2}\n' >"$dir/j.ndjson"
check "journal ingest (Duckpond-Ack header)" test "$(code --data-binary @"$dir/j.ndjson" -H 'Duckpond-Ack: journal' "$url/v1/tables/trades/rows")" = 200
check "... answers with its sequence number" out_has '"written":2,"seq":'
seq=$(seq_of)
check "Duckpond-After-Seq query" test "$(q '{"sql":"SELECT count(*) FROM trades WHERE sym = $1","params":["JRNL"]}' -H 'Accept: text/csv' -H "Duckpond-After-Seq: $seq")" = 200
check "... sees the journaled rows" test "$(tail -n 1 "$dir/out" | tr -d '\r')" = 2
ryw_ok=1
for i in $(seq 1 20); do
    printf '{"id":%d,"sym":"RYW","px":1}\n' $((300 + i)) >"$dir/r.ndjson"
    code --data-binary @"$dir/r.ndjson" "$url/v1/tables/trades/rows?ack=journal" >/dev/null
    s=$(seq_of)
    [ -n "$s" ] || { ryw_ok=0; break; }
    q '{"sql":"SELECT count(*) FROM trades WHERE id = $1","params":['$((300 + i))']}' -H 'Accept: text/csv' -H "Duckpond-After-Seq: $s" >/dev/null
    [ "$(tail -n 1 "$dir/out" | tr -d '\r')" = 1 ] || { ryw_ok=0; break; }
done
check "20 journal ingests (?ack=journal), each read back at once" test "$ryw_ok" = 1
check "a bad ack mode is 400" test "$(code --data-binary @"$dir/j.ndjson" -H 'Duckpond-Ack: eventually' "$url/v1/tables/trades/rows")" = 400
check "... 22023" out_has '"sqlstate":"22023"'
check "a bad Duckpond-After-Seq is 400" test "$(q '{"sql":"SELECT 1"}' -H 'Duckpond-After-Seq: soon')" = 400
check "a sequence number never handed out is 400" test "$(q '{"sql":"SELECT 1"}' -H 'Duckpond-After-Seq: 999999999')" = 400
check "commit ingest has no seq" test "$(code --data-binary @"$dir/j.ndjson" -H 'Duckpond-Ack: commit' "$url/v1/tables/trades/rows")" = 200
check "... and no seq member" test -z "$(seq_of)"
code "$url/metrics" >/dev/null
check "metrics: journal rows acked" out_has 'duckpond_journal_rows_acked_total 22'
check "metrics: apply lag histogram" out_has 'duckpond_journal_apply_lag_seconds_count'
check "metrics: read-your-writes waits" out_has 'duckpond_journal_applied_waits_total'
stop
start --ack journal || exit 1
check "--ack journal: ingest is journaled by default" test "$(code --data-binary @"$dir/j.ndjson" "$url/v1/tables/trades/rows")" = 200
check "... with a seq" test -n "$(seq_of)"
stop

# bearer tokens from the users file
rw=$(echo secret1 | "$BIN" passwd --users "$dir/users" writer | sed -n 's/^HTTP token (shown once): //p')
ro=$(echo secret2 | "$BIN" passwd --users "$dir/users" --read-only reader | sed -n 's/^HTTP token (shown once): //p')
check "passwd printed tokens" test -n "$rw" -a -n "$ro"
start --users "$dir/users" || exit 1
check "no token: 401" test "$(q '{"sql":"SELECT 1"}')" = 401
check "wrong token: 401" test "$(q '{"sql":"SELECT 1"}' -H 'Authorization: Bearer 00ff')" = 401
check "read-only token reads" test "$(q '{"sql":"SELECT count(*) FROM trades"}' -H "Authorization: Bearer $ro")" = 200
check "read-only token may not INSERT" test "$(q '{"sql":"INSERT INTO trades VALUES (9, $1, 1, NULL)","params":["X"]}' -H "Authorization: Bearer $ro")" = 403
check "read-only token may not ingest" test "$(code --data-binary @"$dir/rows.ndjson" -H "Authorization: Bearer $ro" "$url/v1/tables/trades/rows")" = 403
check "read-write token writes" test "$(q '{"sql":"INSERT INTO trades VALUES (9, $1, 1, NULL)","params":["X"]}' -H "Authorization: Bearer $rw")" = 200
stop

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
