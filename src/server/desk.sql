-- desk.sql -- the trading desk's queries as DuckDB macros, in the schema
-- "desk" of the user's database: OHLCV bars at any interval with gaps
-- filled, VWAP and TWAP over a window, the latest row per symbol, quotes
-- as of each trade, mid and spread, returns and rolling volatility.
--
-- The server runs this file, embedded at build time, statement by
-- statement each time it opens a writable database (desk.c): CREATE OR
-- REPLACE in one transaction, so each start installs the macros of its own
-- version, all or none, and a file opened by DuckDB alone keeps them. It
-- runs on its own too:
--   duckdb my.duckdb < src/server/desk.sql
--
-- The tables the macros read are named by a string (or a bare name) and
-- found through query_table(), on the caller's search path. They follow
-- the tick generator's columns (duckpond ticks):
--   trades (ts TIMESTAMP, symbol VARCHAR, price DOUBLE, size BIGINT)
--   quotes (ts TIMESTAMP, symbol VARCHAR, bid DOUBLE, ask DOUBLE,
--           bid_size BIGINT, ask_size BIGINT)
-- ts may be TIMESTAMPTZ too. A window is [since, until): either bound may
-- be NULL (the default) for no bound; intervals are INTERVALs or text
-- ('1 minute'). Every macro is a plain query: filter its rows with WHERE,
-- e.g. FROM desk.vwap('trades') WHERE symbol = 'SYM001'. Names inside are
-- qualified with desk. so that bodies never depend on the search path
-- (so a database file named desk.duckdb, whose catalog is desk too, makes
-- them ambiguous: name it otherwise).

BEGIN;

CREATE SCHEMA IF NOT EXISTS desk;

-- The mid price and the spread in basis points of the mid.
CREATE OR REPLACE MACRO desk.mid(bid, ask) AS (bid + ask) / 2.0;
CREATE OR REPLACE MACRO desk.spread_bps(bid, ask) AS (ask - bid) / ((bid + ask) / 2.0) * 10000.0;

-- One row per symbol and bucket that has trades: open, high, low, close,
-- volume, VWAP and trade count. Buckets are time_bucket(every, ts).
CREATE OR REPLACE MACRO desk.bars(tbl, every, since := NULL, until := NULL) AS TABLE
    SELECT symbol,
           time_bucket(every::INTERVAL, ts) AS bucket,
           arg_min(price, ts) AS open,
           max(price) AS high,
           min(price) AS low,
           arg_max(price, ts) AS close,
           sum(size) AS volume,
           sum(price * size) / nullif(sum(size), 0) AS vwap,
           count(*) AS trades
    FROM query_table(tbl)
    WHERE (since IS NULL OR ts >= since) AND (until IS NULL OR ts < until)
    GROUP BY ALL;

-- desk.bars with every bucket of the window for every symbol: from the
-- bucket of since (else the first bucket of any symbol) to the bucket
-- before until (else the last bucket of any symbol). An empty bucket has
-- volume 0 and, with fill 'previous' (the default), open = high = low =
-- close = the previous close: the symbol's last trade before it, looked
-- for up to a day before since (NULL before a symbol's first trade); with
-- fill 'null', NULL prices; with fill 'none', it is left out.
CREATE OR REPLACE MACRO desk.ohlcv(tbl, every, since := NULL, until := NULL, fill := 'previous') AS TABLE
    WITH b AS (FROM desk.bars(tbl, every, since := since, until := until)),
    before AS (
        SELECT symbol, arg_max(price, ts) AS close
        FROM query_table(tbl)
        WHERE fill = 'previous' AND since IS NOT NULL AND ts < since AND ts >= since::TIMESTAMP - INTERVAL 1 DAY
        GROUP BY symbol),
    span AS (
        SELECT coalesce(time_bucket(every::INTERVAL, since::TIMESTAMP), min(bucket)) AS lo,
               coalesce(time_bucket(every::INTERVAL, until::TIMESTAMP - INTERVAL 1 MICROSECOND), max(bucket)) AS hi
        FROM b),
    grid AS (
        SELECT s.symbol, unnest(range(lo, hi + every::INTERVAL, every::INTERVAL)) AS bucket
        FROM (SELECT symbol FROM b UNION SELECT symbol FROM before) s, span
        WHERE fill <> 'none'
        UNION ALL
        SELECT symbol, bucket FROM b WHERE fill = 'none'),
    joined AS (
        SELECT g.symbol, g.bucket, b.open, b.high, b.low, b.close, b.volume, b.vwap, b.trades,
               CASE WHEN fill = 'previous'
                    THEN coalesce(last_value(b.close IGNORE NULLS) OVER (PARTITION BY g.symbol ORDER BY g.bucket
                                                                         ROWS BETWEEN UNBOUNDED PRECEDING
                                                                         AND CURRENT ROW),
                                  p.close)
               END AS carried
        FROM grid g
        LEFT JOIN b ON g.symbol = b.symbol AND g.bucket = b.bucket
        LEFT JOIN before p ON g.symbol = p.symbol)
    SELECT symbol, bucket,
           coalesce(open, carried) AS open,
           coalesce(high, carried) AS high,
           coalesce(low, carried) AS low,
           coalesce(close, carried) AS close,
           coalesce(volume, 0) AS volume,
           vwap,
           coalesce(trades, 0) AS trades
    FROM joined
    ORDER BY symbol, bucket;

-- Volume-weighted average price per symbol over the window, with the
-- volume, the trade count and the first and last trade's time.
CREATE OR REPLACE MACRO desk.vwap(tbl, since := NULL, until := NULL) AS TABLE
    SELECT symbol,
           sum(price * size) / nullif(sum(size), 0) AS vwap,
           sum(size) AS volume,
           count(*) AS trades,
           min(ts) AS first_ts,
           max(ts) AS last_ts
    FROM query_table(tbl)
    WHERE (since IS NULL OR ts >= since) AND (until IS NULL OR ts < until)
    GROUP BY symbol
    ORDER BY symbol;

-- Time-weighted average price per symbol over the window: each trade's
-- price weighs for the time until the symbol's next trade in the window;
-- the last trade's until `until` (none when until is NULL). A symbol whose
-- trades all weigh nothing (one trade, no until) gets their plain average.
CREATE OR REPLACE MACRO desk.twap(tbl, since := NULL, until := NULL) AS TABLE
    WITH t AS (
        SELECT symbol, ts, price,
               epoch(coalesce(lead(ts) OVER (PARTITION BY symbol ORDER BY ts), until::TIMESTAMP, ts) - ts) AS held
        FROM query_table(tbl)
        WHERE (since IS NULL OR ts >= since) AND (until IS NULL OR ts < until))
    SELECT symbol,
           coalesce(sum(price * held) / nullif(sum(held), 0), avg(price)) AS twap,
           sum(held) AS weighted_seconds,
           count(*) AS trades
    FROM t
    GROUP BY symbol
    ORDER BY symbol;

-- The latest row of each symbol (by ts), every column of the table (one
-- row if several share the latest ts). Found as the rows matching each
-- symbol's max(ts): two aggregating scans, where a window over the whole
-- table would sort it.
CREATE OR REPLACE MACRO desk.latest(tbl) AS TABLE
    WITH last AS (SELECT symbol, max(ts) AS ts FROM query_table(tbl) GROUP BY symbol)
    SELECT t.*
    FROM query_table(tbl) t SEMI JOIN last ON t.symbol = last.symbol AND t.ts = last.ts
    QUALIFY row_number() OVER (PARTITION BY t.symbol) = 1
    ORDER BY t.symbol;

-- Each trade of the window with the symbol's quote in force at its time
-- (the latest quote at or before it, ASOF JOIN), if that quote is at most
-- tolerance old (else NULL quote columns), its mid and spread in bps.
CREATE OR REPLACE MACRO desk.asof(trades_tbl, quotes_tbl, tolerance := '1 second', since := NULL,
                                  until := NULL) AS TABLE
    WITH t AS (
        SELECT * FROM query_table(trades_tbl)
        WHERE (since IS NULL OR ts >= since) AND (until IS NULL OR ts < until)),
    q AS (
        SELECT ts AS quote_ts, symbol, bid, ask FROM query_table(quotes_tbl)
        WHERE (since IS NULL OR ts >= since::TIMESTAMP - tolerance::INTERVAL) AND (until IS NULL OR ts < until)),
    j AS (
        SELECT t.ts, t.symbol, t.price, t.size, q.quote_ts, q.bid, q.ask,
               q.quote_ts >= t.ts - tolerance::INTERVAL AS fresh
        FROM t ASOF LEFT JOIN q ON t.symbol = q.symbol AND t.ts >= q.quote_ts)
    SELECT ts, symbol, price, size,
           CASE WHEN fresh THEN quote_ts END AS quote_ts,
           CASE WHEN fresh THEN bid END AS bid,
           CASE WHEN fresh THEN ask END AS ask,
           CASE WHEN fresh THEN desk.mid(bid, ask) END AS mid,
           CASE WHEN fresh THEN desk.spread_bps(bid, ask) END AS spread_bps
    FROM j
    ORDER BY symbol, ts;

-- Close-to-close returns of each symbol's bars (desk.ohlcv, previous
-- close filled): the simple return close / previous close - 1, the log
-- return, and the volatility: the sample standard deviation of the last
-- `lookback` log returns (NULL until there are that many), per bar.
CREATE OR REPLACE MACRO desk.returns(tbl, every, lookback := 20, since := NULL, until := NULL) AS TABLE
    WITH r AS (
        SELECT symbol, bucket, close,
               close / lag(close) OVER (PARTITION BY symbol ORDER BY bucket) - 1 AS ret,
               ln(close / lag(close) OVER (PARTITION BY symbol ORDER BY bucket)) AS log_ret
        FROM desk.ohlcv(tbl, every, since := since, until := until))
    SELECT symbol, bucket, close, ret, log_ret,
           CASE WHEN count(log_ret) OVER w = lookback THEN stddev_samp(log_ret) OVER w END AS volatility
    FROM r
    WINDOW w AS (PARTITION BY symbol ORDER BY bucket ROWS BETWEEN lookback - 1 PRECEDING AND CURRENT ROW)
    ORDER BY symbol, bucket;

COMMIT;
