#!/usr/bin/env bash
# demo.sh -- `make demo`: a trading desk on this machine. Starts duckpond on
# DEMO_DB, writes ten minutes of past ticks at once (so the bars have a
# history), then keeps the tick generator writing DEMO_RATE rows a second
# over PostgreSQL COPY, and prints how to look: the dashboard's URL and a
# psql command. Ctrl-C stops the generator and the server.
#
#   DEMO_DB=demo.duckdb DEMO_RATE=2000 DEMO_SYMBOLS=20
#   DEMO_PG_PORT=5433 DEMO_HTTP_PORT=8080 DEMO_LISTEN=127.0.0.1
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DUCKPOND_BIN:-$PWD/build/duckpond}
DB=${DEMO_DB:-demo.duckdb}
RATE=${DEMO_RATE:-2000}
SYMBOLS=${DEMO_SYMBOLS:-20}
PG_PORT=${DEMO_PG_PORT:-5433}
HTTP_PORT=${DEMO_HTTP_PORT:-8080}
LISTEN=${DEMO_LISTEN:-127.0.0.1}
PORTFILE=$(mktemp)
SERVER=
GEN=

stop() {
    [ -n "$GEN" ] && kill "$GEN" 2>/dev/null && wait "$GEN" 2>/dev/null
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -f "$PORTFILE"
}
trap stop EXIT
trap 'exit 0' INT TERM

"$BIN" serve --db "$DB" --listen "$LISTEN" --pg-port "$PG_PORT" --http-port "$HTTP_PORT" \
    --port-file "$PORTFILE" &
SERVER=$!
for _ in $(seq 100); do [ -s "$PORTFILE" ] && break; kill -0 "$SERVER" 2>/dev/null || exit 1; sleep 0.1; done
[ -s "$PORTFILE" ] || { echo "demo: the server did not start" >&2; exit 1; }
DSN="postgres://desk@$LISTEN:$PG_PORT/duckpond"
past=$(date -u -d '-10 minutes' '+%Y-%m-%d %H:%M:%S')
"$BIN" ticks --symbols "$SYMBOLS" --rate "$RATE" --start "$past" --duration 600 --fast --to "$DSN"
"$BIN" ticks --symbols "$SYMBOLS" --rate "$RATE" --to "$DSN" 2>/dev/null &
GEN=$!
cat <<MSG

  A trading desk is running: $RATE trades and quotes a second into $DB.

  dashboard   http://$LISTEN:$HTTP_PORT/
  psql        psql -h $LISTEN -p $PG_PORT -U desk duckpond
              select * from desk.ohlcv('trades', '1 minute') where symbol = 'AAPL';
              select * from desk.vwap('trades');

  Ctrl-C stops it (the data stays in $DB).

MSG
wait "$GEN"
