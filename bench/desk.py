#!/usr/bin/env python3
"""desk.py -- the query timer of bench/desk.sh.

  desk.py time DSN KIND RUNS   times each desk query on one server: KIND is
                               duckpond (the desk macros) or pg (the same
                               answers in PostgreSQL's SQL, using its
                               indexes); prints "NAME MEDIAN_MS CHECK" a
                               line, CHECK being the answer's figures (the
                               two servers must agree on the same data).

Each query is run once to warm the caches, then RUNS times; the median is
printed. Every query folds its answer into a count and a sum, so the time
is the server's, not the transfer of thousands of rows.
"""
import statistics
import sys
import time

import psycopg2

DAY = ("2026-01-02 00:00:00", "2026-01-03 00:00:00")
HOUR = ("2026-01-02 12:00:00", "2026-01-02 13:00:00")

DUCKPOND = {
    "ohlcv_1min_day": f"""
        SELECT count(*), round(sum(close), 2), sum(volume) FROM desk.ohlcv('trades', '1 minute',
            since := '{DAY[0]}', until := '{DAY[1]}')""",
    "vwap_per_symbol": "SELECT count(*), round(sum(vwap), 4) FROM desk.vwap('trades')",
    "latest_quote": "SELECT count(*), round(sum(bid), 2) FROM desk.latest('quotes')",
    "asof_hour": f"""
        SELECT count(*), count(bid), round(sum(mid), 2) FROM desk.asof('trades', 'quotes',
            tolerance := '1 second', since := '{HOUR[0]}', until := '{HOUR[1]}')""",
}

# The same answers in PostgreSQL 15: gap-filled minute bars (the previous
# close carried by the count-of-closes grouping, as PostgreSQL has no
# IGNORE NULLS), VWAP by GROUP BY, the latest quote by a skip scan of the
# (symbol, ts) index (a recursive CTE) and a LATERAL probe, and the as-of
# join as a LATERAL probe of that index per trade.
PG = {
    "ohlcv_1min_day": f"""
        WITH b AS (
            SELECT symbol, date_trunc('minute', ts) AS bucket,
                   (array_agg(price ORDER BY ts))[1] AS open, max(price) AS high, min(price) AS low,
                   (array_agg(price ORDER BY ts DESC))[1] AS close, sum(size) AS volume
            FROM trades WHERE ts >= '{DAY[0]}' AND ts < '{DAY[1]}' GROUP BY 1, 2),
        g AS (
            SELECT s.symbol, gs AS bucket
            FROM (SELECT DISTINCT symbol FROM b) s,
                 generate_series('{DAY[0]}'::timestamp, '{DAY[1]}'::timestamp - interval '1 minute',
                                 interval '1 minute') gs),
        j AS (
            SELECT g.symbol, g.bucket, b.close, coalesce(b.volume, 0) AS volume,
                   count(b.close) OVER (PARTITION BY g.symbol ORDER BY g.bucket) AS grp
            FROM g LEFT JOIN b USING (symbol, bucket)),
        f AS (
            SELECT volume, first_value(close) OVER (PARTITION BY symbol, grp ORDER BY bucket) AS close FROM j)
        SELECT count(*), round(sum(close)::numeric, 2), sum(volume) FROM f""",
    "vwap_per_symbol": """
        SELECT count(*), round(sum(v)::numeric, 4)
        FROM (SELECT symbol, sum(price * size) / sum(size) AS v FROM trades GROUP BY symbol) t""",
    "latest_quote": """
        WITH RECURSIVE s(symbol) AS (
            SELECT min(symbol) FROM quotes
            UNION ALL
            SELECT (SELECT min(symbol) FROM quotes WHERE symbol > s.symbol) FROM s WHERE s.symbol IS NOT NULL)
        SELECT count(*), round(sum(q.bid)::numeric, 2)
        FROM s CROSS JOIN LATERAL (
            SELECT bid FROM quotes WHERE quotes.symbol = s.symbol ORDER BY ts DESC LIMIT 1) q
        WHERE s.symbol IS NOT NULL""",
    "asof_hour": f"""
        SELECT count(*), count(q.bid), round(sum((q.bid + q.ask) / 2)::numeric, 2)
        FROM trades t LEFT JOIN LATERAL (
            SELECT bid, ask FROM quotes q
            WHERE q.symbol = t.symbol AND q.ts <= t.ts AND q.ts >= t.ts - interval '1 second'
            ORDER BY q.ts DESC LIMIT 1) q ON true
        WHERE t.ts >= '{HOUR[0]}' AND t.ts < '{HOUR[1]}'""",
}


def figure(v):
    """A figure of an answer, written the same whichever type the server gave it."""
    return str(v) if isinstance(v, int) or v is None else "%.2f" % float(v)


def time_queries(dsn, kind, runs):
    con = psycopg2.connect(dsn)
    con.autocommit = True
    cur = con.cursor()
    for name, sql in (DUCKPOND if kind == "duckpond" else PG).items():
        cur.execute(sql)
        answer = cur.fetchone()
        took = []
        for _ in range(runs):
            t0 = time.perf_counter()
            cur.execute(sql)
            cur.fetchall()
            took.append((time.perf_counter() - t0) * 1000)
        print(name, "%.1f" % statistics.median(took), "/".join(figure(v) for v in answer), flush=True)
    con.close()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "time":
        time_queries(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
