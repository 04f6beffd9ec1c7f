#!/usr/bin/env python3
"""Live bars through a real duckpond server (psycopg2 and curl-like HTTP
clients on 127.0.0.1 and free ports):

- CALL duckpond_bars declares bars over a table already holding ticks and
  answers one row per interval; the bars hold those ticks;
- several clients ingest at once: psycopg2 sessions with single-row and
  multi-row INSERTs in autocommit (commit acks), one in journal ack mode,
  and HTTP NDJSON ingest; times move forward with one tick in five late
  by up to 3 s (an older bucket); meanwhile a reader compares both bar
  tables with a recompute from scratch at several moments, each time
  inside one read transaction (so ticks without their bars would show),
  while the writer folds ticks into the parts (flush_rows => 200) and
  compacts them;
- writes that do not go through the batcher are refused with 55000 and a
  message naming the table: UPDATE, DELETE, INSERT ... SELECT, COPY FROM
  STDIN, an INSERT inside a transaction, a write to a bar view or its parts, an
  UPDATE over HTTP; reads and writes to other tables go on.
"""
import datetime, io, json, os, random, shutil, sys, tempfile, threading, time, urllib.request
import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
from dptest import check, one, stop  # noqa: E402

work = tempfile.mkdtemp(prefix="duckpond-bars-")
T0 = datetime.datetime(2027, 1, 1, 10, 0, 0)
SYMS = ["AAA", "BBB", "CCC", "DDD"]

MISMATCHES = """
WITH t AS (SELECT *, time_bucket(INTERVAL '{every}', ts) AS bucket FROM trades WHERE ts IS NOT NULL
           AND symbol IS NOT NULL AND price IS NOT NULL AND qty IS NOT NULL),
     w AS (SELECT *, first_value(price) OVER (PARTITION BY symbol, bucket ORDER BY ts, price) AS o,
                     first_value(price) OVER (PARTITION BY symbol, bucket ORDER BY ts DESC, price DESC) AS c FROM t),
     r AS (SELECT symbol, bucket, any_value(o) AS open, max(price) AS high, min(price) AS low, any_value(c) AS close,
                  sum(qty)::DOUBLE AS volume, count(*) AS trades, sum(price * qty) AS notional,
                  min(ts) AS open_ts, max(ts) AS close_ts FROM w GROUP BY ALL)
SELECT count(*) FROM r FULL OUTER JOIN {bar} b USING (symbol, bucket)
WHERE r.trades IS NULL OR b.trades IS NULL OR r.open <> b.open OR r.high <> b.high OR r.low <> b.low
   OR r.close <> b.close OR r.volume <> b.volume OR r.trades <> b.trades OR r.notional <> b.notional
   OR r.open_ts <> b.open_ts OR r.close_ts <> b.close_ts OR b.vwap <> r.notional / r.volume
"""


def connect(port, ack=None, autocommit=True):
    return dptest.pg_connect(port, "-c duckpond.ack=%s" % ack if ack else None, autocommit)


class Clock:
    """Tick times of one client: forward 1-20 ms a tick, one in five late by up to 3 s."""

    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.now = T0

    def tick(self):
        self.now += datetime.timedelta(milliseconds=self.rnd.randint(1, 20))
        late = self.rnd.random() < 0.2
        ts = self.now - datetime.timedelta(milliseconds=self.rnd.randint(0, 3000)) if late else self.now
        return ts, self.rnd.choice(SYMS), 100 + self.rnd.randint(0, 400) / 4, self.rnd.randint(1, 50)


def run_feeds(port, http_port, stop_at, errors, counts):
    def pg_feed(i, ack=None):
        try:
            c, clock, n = connect(port, ack=ack), Clock(i), 0
            cur = c.cursor()
            while time.time() < stop_at:
                if i % 2:
                    rows = [clock.tick() for _ in range(clock.rnd.randint(2, 8))]
                    cur.execute("INSERT INTO trades VALUES " + ",".join(["(%s,%s,%s,%s)"] * len(rows)),
                                [v for r in rows for v in r])
                    n += len(rows)
                else:
                    cur.execute("INSERT INTO trades VALUES (%s, %s, %s, %s)", clock.tick())
                    n += 1
            counts.append(n)
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    def http_feed(i):
        try:
            clock, n = Clock(i), 0
            while time.time() < stop_at:
                body = "".join(json.dumps({"ts": ts.isoformat(sep=" "), "symbol": s, "price": p, "qty": q}) + "\n"
                               for ts, s, p, q in (clock.tick() for _ in range(10)))
                req = urllib.request.Request(f"http://127.0.0.1:{http_port}/v1/tables/trades/rows", body.encode(),
                                             {"Content-Type": "application/x-ndjson"})
                urllib.request.urlopen(req, timeout=10).read()
                n += 10
            counts.append(n)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=pg_feed, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=pg_feed, args=(10, "journal")))
    threads.append(threading.Thread(target=http_feed, args=(20,)))
    for t in threads:
        t.start()
    return threads


def test_bars(port, http_port):
    c = connect(port)
    cur = c.cursor()
    cur.execute("CREATE TABLE trades (ts TIMESTAMP, symbol VARCHAR, price DOUBLE, qty INTEGER)")
    cur.execute("CREATE TABLE archive (ts TIMESTAMP, symbol VARCHAR, price DOUBLE, qty INTEGER)")
    clock = Clock(99)
    for _ in range(50):
        cur.execute("INSERT INTO trades VALUES (%s, %s, %s, %s)", clock.tick())
    cur.execute("CALL duckpond_bars('trades', ts => 'ts', symbol => 'symbol', price => 'price', size => 'qty', "
                "every => ['1 second', '1 minute'], flush_rows => 200)")
    rows = cur.fetchall()
    check("CALL duckpond_bars answers a row per interval",
          rows == [("trades", "trades_bars_1s", "1 second"), ("trades", "trades_bars_1m", "1 minute")], rows)
    check("the ticks already there are in the bars", one(c, "SELECT sum(trades) FROM trades_bars_1s") == (50,))

    errors, counts = [], []
    threads = run_feeds(port, http_port, time.time() + 4, errors, counts)
    reader = connect(port, autocommit=False)  # psycopg2's own transaction: one snapshot per check
    bad, checks, seen, marks, compacted, last_parts = [], 0, set(), set(), 0, None
    while any(t.is_alive() for t in threads):
        rc = reader.cursor()
        rc.execute("SELECT count(*) FROM trades")
        ticks = rc.fetchone()[0]
        for bar, every in (("trades_bars_1s", "1 second"), ("trades_bars_1m", "1 minute")):
            rc.execute(MISMATCHES.format(bar=bar, every=every))
            n = rc.fetchone()[0]
            if n:
                bad.append((bar, n, ticks))
        rc.execute("SELECT sum(trades) FROM trades_bars_1s")
        if rc.fetchone()[0] != ticks:
            bad.append(("sum of trades", ticks))
        rc.execute("SELECT count(*) FROM trades_bars_1s_parts")
        parts = rc.fetchone()[0]
        rc.execute("SELECT mark FROM duckpond_bars WHERE bar_table = 'trades_bars_1s'")
        marks.add(rc.fetchone()[0])
        reader.commit()
        compacted += last_parts is not None and parts < last_parts  # only a compaction takes parts away
        last_parts = parts
        checks += 1
        seen.add(ticks)
        time.sleep(0.2)
    for t in threads:
        t.join()
    check("every client ingested without an error", not errors, errors[:3])
    check("bars equal a recompute at every check, inside one transaction", not bad, bad[:3])
    check("several checks ran while ticks came in", checks >= 5 and len(seen) >= 3, (checks, len(seen)))
    check("the writer folded ticks into the parts, and compacted them, during the checks",
          len(marks) >= 3 and compacted > 0, (len(marks), compacted))
    # the journal-ack client's last rows are applied behind its acknowledgements: wait for them
    deadline = time.time() + 10
    while (total := one(c, "SELECT count(*) FROM trades")[0]) < 50 + sum(counts) and time.time() < deadline:
        time.sleep(0.05)
    check("every acknowledged tick is there", total >= 50 + sum(counts), (total, sum(counts)))
    for bar, every in (("trades_bars_1s", "1 second"), ("trades_bars_1m", "1 minute")):
        n = one(c, MISMATCHES.format(bar=bar, every=every))[0]
        check("at the end, %s equals a recompute" % bar, n == 0, n)
    check("late ticks reached buckets before the last",
          one(c, "SELECT count(*) > 1 FROM trades_bars_1m WHERE symbol = 'AAA'") == (True,))
    reader.close()

    refused = [
        ("UPDATE", "UPDATE trades SET price = 1"),
        ("DELETE", "DELETE FROM trades WHERE symbol = 'AAA'"),
        ("INSERT ... SELECT", "INSERT INTO trades SELECT * FROM archive"),
        ("a write to a bar table", "UPDATE trades_bars_1s SET open = 0"),
        ("a write to a bar table's parts", "DELETE FROM trades_bars_1m_parts"),
    ]
    for name, sql in refused:
        try:
            cur.execute(sql)
            code, msg = None, ""
        except psycopg2.Error as e:
            code, msg = e.pgcode, str(e)
        check("%s on a table with live bars is refused with 55000" % name, code == "55000", (code, msg))
        check("%s: the message names the table and says why" % name, "live bars" in msg, msg)
    try:
        cur.copy_expert("COPY trades FROM STDIN", io.StringIO("2027-01-01 10:00:00\tAAA\t1\t1\n"))
        code = None
    except psycopg2.Error as e:
        code = e.pgcode
    check("COPY FROM STDIN into it is refused with 55000", code == "55000", code)
    tx = connect(port, autocommit=False)
    try:
        tx.cursor().execute("INSERT INTO trades VALUES (%s, 'AAA', 1, 1)", (T0,))
        code = None
    except psycopg2.Error as e:
        code = e.pgcode
    tx.rollback()
    tx.close()
    check("an INSERT inside a transaction is refused with 55000", code == "55000", code)
    for name, sql in (("a DELETE", "DELETE FROM trades"), ("an UPDATE of a bar view", "UPDATE trades_bars_1m SET open = 0")):
        req = urllib.request.Request(f"http://127.0.0.1:{http_port}/v1/query", json.dumps({"sql": sql}).encode(),
                                     {"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10).read()
            answer = None
        except urllib.error.HTTPError as e:
            answer = json.loads(e.read())
        check("%s over HTTP is refused with 55000" % name,
              answer and answer.get("error", {}).get("sqlstate") == "55000", answer)
    cur.execute("INSERT INTO archive SELECT * FROM trades")
    check("other tables may still be written from the ticks",
          one(c, "SELECT count(*) FROM archive") == one(c, "SELECT count(*) FROM trades"))
    check("nothing refused changed the ticks",
          one(c, "SELECT count(*) FROM trades WHERE price = 1") == (0,) and
          one(c, MISMATCHES.format(bar="trades_bars_1s", every="1 second")) == (0,))
    c.close()


http_port = dptest.free_port()
proc, port = dptest.start(work, "--http-port", str(http_port))
try:
    test_bars(port, http_port)
except Exception as e:  # noqa: BLE001
    import traceback
    traceback.print_exc()
    check("no unexpected exception", False, repr(e))
finally:
    rc = stop(proc)
    check("server stops cleanly", rc == 0, rc)
    shutil.rmtree(work, ignore_errors=True)
dptest.finish()
