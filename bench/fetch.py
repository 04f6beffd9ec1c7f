#!/usr/bin/python3
"""fetch.py -- the psycopg2 side of bench/fetch.sh, and its helpers.

  gen trades N FILE             N rows of trades(ts, symbol, quantity, price) in
                                COPY's text format (as bench/clients.py writes them)
  gen wide N FILE               N rows of the 20-column table WIDE_DDL: timestamps,
                                dates, times, doubles (short decimals and full 17-digit
                                ones), reals, numerics, integers of each width,
                                booleans, strings short and long, and NULLs
  load DSN TABLE DDL FILE       drops TABLE, creates it with DDL, COPY FROM STDIN
  fetch DSN SQL PIDS            runs SQL, fetchall, and prints "ROWS SECONDS CLIENT_CPU
                                SERVER_CPU RECEIVE": wall and client CPU seconds of execute +
                                fetchall, the CPU seconds the server's processes PIDS
                                (comma-separated; "backend" for this connection's PostgreSQL
                                backend) used meanwhile, from their threads' schedstat
                                (nanoseconds), and the wall seconds of execute alone (libpq
                                receiving the result; fetchall then converts it)
  report RESULTS                the table of bench/fetch.sh from its raw results (lines in
                                bench/clients.py's format, read by its read_results)

Runs with the system Python, where Debian's psycopg2 is.
"""
import datetime
import os
import random
import statistics
import sys
import time

WIDE_DDL = ("CREATE TABLE wide(ts TIMESTAMP, day DATE, tod TIME, symbol VARCHAR, venue VARCHAR, note TEXT,"
            " side BOOLEAN, active BOOLEAN, qty INTEGER, lots SMALLINT, id BIGINT, seq BIGINT,"
            " price DOUBLE PRECISION, ratio DOUBLE PRECISION, score REAL, notional NUMERIC(18,4),"
            " fee NUMERIC(12,2), filled_at TIMESTAMP, parent BIGINT, account VARCHAR)")
TRADES_DDL = "CREATE TABLE trades(ts TIMESTAMP, symbol VARCHAR, quantity DOUBLE PRECISION, price DOUBLE PRECISION)"


def gen_trades(n, path):
    t0 = datetime.datetime(2026, 11, 25, 10, 0, 0)
    syms = ("BTC", "ETH", "SOL", "XRP")
    with open(path, "w") as f:
        for i in range(int(n)):
            ts = (t0 + datetime.timedelta(microseconds=1000 * i + 7)).isoformat(" ")
            f.write(f"{ts}\t{syms[i % 4]}\t{0.5 + i % 100}\t{50000.25 + i % 1000}\n")


def gen_wide(n, path):
    rnd = random.Random(42)
    t0 = datetime.datetime(2026, 1, 2, 9, 30, 0)
    syms = ("BTC-USD", "ETH-USD", "SOL-USD", "AAPL", "MSFT", "ES.FUT", "EURUSD")
    venues = ("XNAS", "XNYS", "BATS", "CME", "BINANCE")
    null = "\\N"
    with open(path, "w") as f:
        for i in range(int(n)):
            ts = t0 + datetime.timedelta(microseconds=rnd.randrange(0, 86400 * 10**6 * 30))
            note = null if i % 3 else "manual fill, checked by " + "x" * (i % 40)
            filled = null if i % 5 == 0 else (ts + datetime.timedelta(milliseconds=rnd.randrange(5000))).isoformat(" ")
            row = (ts.isoformat(" "), ts.date().isoformat(), ts.time().isoformat(), syms[i % 7], venues[i % 5], note,
                   "t" if i % 2 else "f", "t" if i % 7 else "f", str(rnd.randrange(1, 100000)),
                   str(rnd.randrange(-32768, 32767)), str(i), str(rnd.getrandbits(62)),
                   f"{rnd.randrange(1, 10**7) / 100}", repr(rnd.random() * 3), repr(rnd.random()),
                   f"{rnd.randrange(-10**12, 10**12) / 10**4:.4f}", f"{rnd.randrange(0, 10**6) / 100:.2f}",
                   filled, null if i % 4 else str(i - 1), f"ACC{rnd.randrange(10**6):06d}")
            f.write("\t".join(row) + "\n")


def load(dsn, table, ddl, path):
    import psycopg2
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(ddl)
    with open(path) as f:
        cur.copy_expert(f"COPY {table} FROM STDIN", f, size=1 << 20)
    conn.commit()
    conn.close()


def task_ns(pid):
    """CPU nanoseconds all threads of pid have used (threads that ended are not counted)."""
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def fetch(dsn, sql, pids):
    import psycopg2
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    if pids == "backend":
        cur.execute("SELECT pg_backend_pid()")
        pids = str(cur.fetchone()[0])
    plist = [int(p) for p in pids.split(",")]
    s0 = sum(task_ns(p) for p in plist)
    c0, w0 = time.process_time(), time.monotonic()
    cur.execute(sql)  # libpq receives the whole result here
    w1 = time.monotonic()
    rows = cur.fetchall()  # and psycopg2 makes Python objects of it here
    wall, client = time.monotonic() - w0, time.process_time() - c0
    server = (sum(task_ns(p) for p in plist) - s0) / 1e9
    conn.close()
    print(f"{len(rows)} {wall:.6f} {client:.6f} {server:.6f} {w1 - w0:.6f}")


def report(path):
    """The table of bench/fetch.sh from its raw results, read as bench/clients.py reads its own."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from clients import CLIENT_US, RATE, SERVER_US, read_results
    labels, order, res = read_results(path)
    receive = {}  # (case, run, server) -> wall microseconds a row of execute alone
    with open(path) as f:
        for w in (line.split() for line in f):
            if w[0] != "label":
                receive[w[1], w[0], w[2]] = 1e6 * float(w[10]) / int(w[3])
    med = statistics.median
    nruns = max((len(r) for r in res.values()), default=0)
    print(f"psycopg2 execute + fetchall, median of {nruns} runs; ratio: median of each run's duckpond/PG")
    print("CPU: microseconds per row, of the client (libpq receiving, then psycopg2 turning text into Python")
    print("objects) and of the server's processes while the query ran; wall: microseconds per row, of the")
    print("whole and of execute alone (receiving: the part the server can speed up; fetchall converts after it)")
    w = max([len(labels[c]) for c in order] + [4])
    print(f"{'case':<{w}} {'PG 15 rows/s':>12} {'duckpond':>10} {'ratio':>6}   {'client PG':>9} {'dp':>5}"
          f"   {'server PG':>9} {'dp':>5}   {'wall PG':>7} {'dp':>5}   {'receive PG':>10} {'dp':>5}")
    for c in order:
        runs = {k: r for k, r in res.get(c, {}).items() if "pg" in r and "dp" in r}
        if not runs:
            continue
        m = {s: [med(r[s][i] for r in runs.values()) for i in (RATE, CLIENT_US, SERVER_US)] for s in ("pg", "dp")}
        recv = {s: med(receive[c, k, s] for k in runs) for s in ("pg", "dp")}
        ratio = med(r["dp"][RATE] / r["pg"][RATE] for r in runs.values())
        print(f"{labels[c]:<{w}} {m['pg'][0]:12.0f} {m['dp'][0]:10.0f} {ratio:5.2f}x"
              f"   {m['pg'][1]:9.2f} {m['dp'][1]:5.2f}   {m['pg'][2]:9.2f} {m['dp'][2]:5.2f}"
              f"   {1e6 / m['pg'][0]:7.2f} {1e6 / m['dp'][0]:5.2f}   {recv['pg']:10.2f} {recv['dp']:5.2f}")


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "gen":
        (gen_trades if args[0] == "trades" else gen_wide)(*args[1:])
    elif cmd == "load":
        load(*args)
    elif cmd == "fetch":
        fetch(*args)
    elif cmd == "report":
        report(*args)
    elif cmd == "ddl":
        print(TRADES_DDL if args[0] == "trades" else WIDE_DDL)
    else:
        sys.exit(f"fetch.py: unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
