# pg_common.bash -- sourced by the PostgreSQL protocol tests: starts a
# duckpond server on 127.0.0.1 on a free port, counts checks, stops the
# server. Needs DUCKPOND_BIN (set by tests/run.sh).

: "${DUCKPOND_BIN:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/duckpond}"
PASSED=0
FAILED=0
WORK=$(mktemp -d /tmp/duckpond-it-XXXXXX)
SERVER_PID=
PGPORT=

# start_server [server args...]: starts the server on $WORK/db.duckdb, sets PGPORT.
start_server() {
    rm -f "$WORK/port"
    "$DUCKPOND_BIN" serve --db "$WORK/db.duckdb" --pg-port 0 --http-port 0 \
        --port-file "$WORK/port" "$@" >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        [ -s "$WORK/port" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    PGPORT=$(cat "$WORK/port" 2>/dev/null)
    [ -n "$PGPORT" ] || { echo "server did not start"; cat "$WORK/server.log"; return 1; }
    export PGHOST=127.0.0.1 PGPORT PGUSER=tester PGDATABASE=duckpond
}

# stop_server: SIGTERM, wait; returns the server's exit status.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    local rc=0
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    return $rc
}

cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/    /' | head -40; }

# check NAME COMMAND...: passes when the command exits 0.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else bad "$1" "$(diff <(echo "$2") <(echo "$3"))"; fi
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
