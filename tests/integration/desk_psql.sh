#!/usr/bin/env bash
# The desk's macros (src/server/desk.sql) from psql against a real duckpond
# server: installed at start in the schema desk, each one answering on a
# few hand-computed trades and quotes (the rows of tests/unit/test_desk.c),
# and still there, replaced and not doubled, after a restart.
set -u
. "$(dirname "$0")/pg_common.bash"

start_server || { bad "server starts"; finish; exit 1; }

check "the data" q "
CREATE TABLE trades (ts TIMESTAMP, symbol VARCHAR, price DOUBLE, size BIGINT);
CREATE TABLE quotes (ts TIMESTAMP, symbol VARCHAR, bid DOUBLE, ask DOUBLE, bid_size BIGINT, ask_size BIGINT);
INSERT INTO trades VALUES
  ('2026-01-02 10:00:00', 'A', 10, 100), ('2026-01-02 10:00:30', 'A', 12, 100),
  ('2026-01-02 10:01:10', 'A', 11, 200), ('2026-01-02 10:03:05', 'A', 13, 100),
  ('2026-01-02 10:00:10', 'B', 20, 10), ('2026-01-02 10:02:20', 'B', 22, 30);
INSERT INTO quotes VALUES
  ('2026-01-02 09:59:59', 'A', 9.9, 10.1, 5, 5), ('2026-01-02 10:00:29', 'A', 11.9, 12.1, 5, 5),
  ('2026-01-02 10:01:05', 'A', 10.95, 11.05, 5, 5), ('2026-01-02 10:00:09.5', 'B', 19.9, 20.1, 5, 5),
  ('2026-01-02 10:02:00', 'B', 21.8, 22.2, 6, 7);"

check_eq "ohlcv, previous close" "A|2026-01-02 10:02:00|11|11|0|
B|2026-01-02 10:01:00|20|20|0|
B|2026-01-02 10:03:00|22|22|0|" \
    "$(q "select symbol, bucket, open, close, volume, vwap from desk.ohlcv('trades', '1 minute') where trades = 0")"
check_eq "ohlcv, NULL fill" "8|5" \
    "$(q "select count(*), count(close) from desk.ohlcv('trades', '1 minute', fill := 'null')")"
check_eq "vwap" "A|11.4|500
B|21.5|40" "$(q "select symbol, vwap, volume from desk.vwap('trades')")"
check_eq "twap" "A|11.5
B|20.869565" "$(q "select symbol, round(twap, 6) from desk.twap('trades', until := '2026-01-02 10:04:00')")"
check_eq "latest quote" "A|10.95|11.05
B|21.8|22.2" "$(q "select symbol, bid, ask from desk.latest('quotes')")"
check_eq "as-of join, 2 s tolerance" "A|10|10|200
A|12|12|166.67
A|11||
A|13||
B|20|20|100
B|22||" "$(q "select symbol, price, mid, round(spread_bps, 2) from desk.asof('trades', 'quotes', tolerance := '2 seconds')")"
check_eq "mid and spread" "10|200" "$(q "select desk.mid(9.9, 10.1), round(desk.spread_bps(9.9, 10.1))")"
check_eq "returns and volatility" "2026-01-02 10:03:00|0.181818|0.118125" \
    "$(q "select bucket, round(ret, 6), round(volatility, 6) from desk.returns('trades', '1 minute', lookback := 2) where symbol = 'A' and bucket = '2026-01-02 10:03:00'")"
check_eq "bars" "5" "$(q "select count(*) from desk.bars('trades', '1 minute')")"

# a restart replaces the macros: still nine, still answering
if stop_server; then ok "restart"; else bad "restart" "$(cat "$WORK/server.log")"; fi
start_server || { bad "server starts again"; finish; exit 1; }
check_eq "macros after a restart" "9" \
    "$(q "select count(distinct function_name) from duckdb_functions() where schema_name = 'desk'")"
check_eq "vwap after a restart" "A|11.4" "$(q "select symbol, vwap from desk.vwap('trades') where symbol = 'A'")"
if grep -q "desk macros are not installed" "$WORK/server.log"; then bad "no install warning" "$(cat "$WORK/server.log")"; else ok "no install warning"; fi
if stop_server; then ok "stop"; else bad "stop"; fi
finish
