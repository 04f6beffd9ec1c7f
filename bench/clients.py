#!/usr/bin/python3
"""clients.py -- the psycopg2 side of bench/clients.sh, and its helpers.

Each case connects to one server, does what application code written with
psycopg2 does, and prints "ROWS SECONDS" (rows written or read, and the
time they took, connecting excluded) on one line:

  insert DSN PROCS SECONDS      single-row INSERTs with a datetime, autocommit,
                                from PROCS processes for SECONDS
  values DSN ROWS PAGE MODE     psycopg2.extras.execute_values, PAGE rows a statement
  many DSN ROWS MODE            cursor.executemany, one row a statement
  copy DSN FILE text|csv MODE   COPY trades FROM STDIN through copy_expert
  fetch DSN                     SELECT * FROM trades, fetchall

MODE is "tx" (psycopg2's default: the driver opens a transaction, the code
commits at the end) or "autocommit". Helpers:

  gen N TEXTFILE CSVFILE        N rows of trades with ISO timestamps, both formats
  pss PID                       until SIGTERM, samples the proportional set size of
                                PID and its descendants every 0.1 s; prints the peak
                                in MiB (PostgreSQL is many processes sharing memory:
                                PSS counts the shared pages once)
  report RESULTS                the tables of bench/clients.sh from its raw results

Runs with the system Python, where Debian's psycopg2 is.
"""
import datetime
import multiprocessing
import os
import signal
import statistics
import sys
import time

ROW = ("BTC", 1.5, 50000.25)
INSERT = "INSERT INTO trades VALUES (%s,%s,%s,%s)"


def connect(dsn, autocommit):
    import psycopg2
    conn = psycopg2.connect(dsn)
    conn.autocommit = autocommit
    return conn


def rows_of(n):
    """n rows of trades, one microsecond apart from a fixed start."""
    t0 = datetime.datetime(2026, 11, 25, 10, 0, 0)
    step = datetime.timedelta(microseconds=1)
    return [(t0 + i * step, "BTC", 1.5, 50000.25) for i in range(n)]


def insert_worker(dsn, seconds, barrier, results):
    """One process's loop of autocommit single-row INSERTs until the deadline."""
    conn = connect(dsn, True)
    cur = conn.cursor()
    barrier.wait()
    start = time.monotonic()
    deadline = start + seconds
    n = 0
    while time.monotonic() < deadline:
        cur.execute(INSERT, (datetime.datetime.now(),) + ROW)
        n += 1
    results.put((n, time.monotonic() - start))
    conn.close()


def case_insert(dsn, procs, seconds):
    """PROCS processes started together; rows/s over the slowest one's time."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(int(procs))
    results = ctx.Queue()
    ps = [ctx.Process(target=insert_worker, args=(dsn, float(seconds), barrier, results)) for _ in range(int(procs))]
    for p in ps:
        p.start()
    got = [results.get() for _ in ps]
    for p in ps:
        p.join()
        if p.exitcode != 0:
            sys.exit(f"an insert process failed with {p.exitcode}")
    return sum(n for n, _ in got), max(t for _, t in got)


def finish(conn, mode):
    if mode == "tx":
        conn.commit()


def case_values(dsn, nrows, page, mode):
    import psycopg2.extras
    rows = rows_of(int(nrows))
    conn = connect(dsn, mode == "autocommit")
    cur = conn.cursor()
    start = time.monotonic()
    psycopg2.extras.execute_values(cur, "INSERT INTO trades VALUES %s", rows, page_size=int(page))
    finish(conn, mode)
    return len(rows), time.monotonic() - start


def case_many(dsn, nrows, mode):
    rows = rows_of(int(nrows))
    conn = connect(dsn, mode == "autocommit")
    cur = conn.cursor()
    start = time.monotonic()
    cur.executemany(INSERT, rows)
    finish(conn, mode)
    return len(rows), time.monotonic() - start


def case_copy(dsn, path, fmt, mode):
    opts = "(FORMAT csv)" if fmt == "csv" else ""
    conn = connect(dsn, mode == "autocommit")
    cur = conn.cursor()
    with open(path, "rb") as f:
        start = time.monotonic()
        cur.copy_expert(f"COPY trades FROM STDIN {opts}", f, size=65536)
        finish(conn, mode)
        took = time.monotonic() - start
    return cur.rowcount, took


def case_fetch(dsn):
    conn = connect(dsn, False)
    cur = conn.cursor()
    start = time.monotonic()
    cur.execute("SELECT * FROM trades")
    rows = cur.fetchall()
    return len(rows), time.monotonic() - start


def gen(n, text_path, csv_path):
    """The same rows in COPY's text format (tabs) and in CSV."""
    t0 = datetime.datetime(2026, 11, 25, 10, 0, 0)
    syms = ("BTC", "ETH", "SOL", "XRP")
    with open(text_path, "w") as t, open(csv_path, "w") as c:
        for i in range(int(n)):
            ts = (t0 + datetime.timedelta(microseconds=1000 * i + 7)).isoformat(" ")
            sym, q, px = syms[i % 4], 0.5 + i % 100, 50000.25 + i % 1000
            t.write(f"{ts}\t{sym}\t{q}\t{px}\n")
            c.write(f"{ts},{sym},{q},{px}\n")


def tree(pid):
    """pid and all its descendants, from /proc."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass  # a backend that just ended
    return total


def pss(pid):
    peak = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        peak = max(peak, pss_kib(tree(int(pid))))
        time.sleep(0.1)
    print(f"{peak / 1024:.0f}")


# ------------------------------------------------------------------ report

SERVERS = ("pg", "commit", "journal")
RATE, ROWS, ACCEPTED, COMMITS, RSS, CLIENT_US, SERVER_US = range(7)


def read_results(path):
    """Raw lines "run case server rows seconds accepted commits rss_mib
    client_cpu_s server_cpu_s", and "label CASE TEXT" lines naming the cases
    in order -> (labels, order, {case: {run: {server: figures}}}), figures
    indexed by RATE, ROWS, ... above."""
    labels, order, res = {}, [], {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == "label":
                labels[w[1]] = " ".join(w[2:])
                order.append(w[1])
                continue
            rows, secs = int(w[3]), float(w[4])
            per_row = 1e6 / rows if rows else 0
            res.setdefault(w[1], {}).setdefault(w[0], {})[w[2]] = (
                rows / secs if secs > 0 else 0, rows, int(w[5]), int(w[6]), float(w[7]),
                float(w[8]) * per_row, float(w[9]) * per_row)
    return labels, order, res


def complete_runs(res, case):
    """The runs of a case that measured every server."""
    return [r for r in res.get(case, {}).values() if all(s in r for s in SERVERS)]


def print_rates(labels, order, res, w):
    med = statistics.median
    print(f"rows/s, median of {max(len(r) for r in res.values()) if res else 0} runs; ratios: median of each run's ratio")
    print(f"{'case':<{w}} {'PG 15':>9} {'dp commit':>10} {'dp journal':>10} {'commit/PG':>9} {'journal/PG':>10}")
    for c in order:
        runs = complete_runs(res, c)
        if runs:
            m = [med(r[s][RATE] for r in runs) for s in SERVERS]
            rc, rj = (med(r[s][RATE] / r["pg"][RATE] if r["pg"][RATE] else 0 for r in runs) for s in SERVERS[1:])
            print(f"{labels[c]:<{w}} {m[0]:9.0f} {m[1]:10.0f} {m[2]:10.0f} {rc:8.2f}x {rj:9.2f}x")


def print_batcher_rss(labels, order, res, w):
    print("rows that took a fast path (batcher, in-transaction apply or COPY; share of the rows written), rows per batcher commit, and peak RSS in MiB,")
    print("last run (PG: peak summed PSS of its processes, sampled each 0.1 s; duckpond: VmHWM reset per case)")
    print(f"{'case':<{w}} {'dp commit fast':>22} {'dp journal fast':>22} "
          f"{'rows/commit c/j':>15} {'RSS PG':>7} {'commit':>7} {'journal':>7}")
    peak = {s: 0.0 for s in SERVERS}
    for c in order:
        runs = res.get(c, {})
        for r in runs.values():
            for s in r:
                peak[s] = max(peak[s], r[s][RSS])
        if not runs:
            continue
        last = runs[max(runs, key=int)]
        cells = [f"{last[s][ACCEPTED]} ({100.0 * last[s][ACCEPTED] / last[s][ROWS] if last[s][ROWS] else 0:.0f}%)"
                 if s in last else "-" for s in SERVERS[1:]]
        per = "/".join(f"{last[s][ACCEPTED] / last[s][COMMITS]:.0f}" if s in last and last[s][COMMITS] else "-"
                       for s in SERVERS[1:])
        rss = [last[s][RSS] if s in last else 0 for s in SERVERS]
        print(f"{labels[c]:<{w}} {cells[0]:>22} {cells[1]:>22} {per:>15} {rss[0]:7.0f} {rss[1]:7.0f} {rss[2]:7.0f}")
    print(f"peak RSS over the whole run: PG {peak['pg']:.0f} MiB, duckpond commit {peak['commit']:.0f} MiB,"
          f" journal {peak['journal']:.0f} MiB")


def print_cpu(labels, order, res, w):
    med = statistics.median
    print("CPU microseconds per row, median (client: the client's processes, start-up included; server:")
    print("PostgreSQL's processes or duckpond's, until the rows are applied); wall time per row is 1e6 / rows/s;"
          f" this machine has {os.cpu_count()} CPUs")
    print(f"{'case':<{w}} {'client PG':>9} {'commit':>7} {'journal':>7}   {'server PG':>9} {'commit':>7} {'journal':>7}")
    for c in order:
        runs = complete_runs(res, c)
        if runs:
            cl = [med(r[s][CLIENT_US] for r in runs) for s in SERVERS]
            sv = [med(r[s][SERVER_US] for r in runs) for s in SERVERS]
            print(f"{labels[c]:<{w}} {cl[0]:9.1f} {cl[1]:7.1f} {cl[2]:7.1f}   {sv[0]:9.1f} {sv[1]:7.1f} {sv[2]:7.1f}")


def print_reference(res, text_case, num_case):
    """pgbench into trades beside the same into the numbers-only table."""
    if text_case not in res or num_case not in res:
        return
    for s in SERVERS:
        rs = [r[s][RATE] / res[num_case][k][s][RATE] for k, r in res[text_case].items()
              if s in r and s in res[num_case].get(k, {}) and res[num_case][k][s][RATE] > 0]
        if rs:
            print(f"pgbench trades / trades_num, {s}: {statistics.median(rs):.2f} (target >= 0.90)")


def report(path):
    """The tables of bench/clients.sh from its raw results."""
    labels, order, res = read_results(path)
    w = max([len(labels[c]) for c in order] + [4])
    print_rates(labels, order, res, w)
    print()
    print_batcher_rss(labels, order, res, w)
    print()
    print_cpu(labels, order, res, w)
    print()
    print_reference(res, "pgbench_trades", "pgbench_num")


def main(argv):
    cmd, args = argv[1], argv[2:]
    cases = {"insert": case_insert, "values": case_values, "many": case_many, "copy": case_copy,
             "fetch": case_fetch}
    if cmd in cases:
        rows, secs = cases[cmd](*args)
        print(f"{rows} {secs:.6f}")
    elif cmd == "gen":
        gen(*args)
    elif cmd == "pss":
        pss(*args)
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(f"clients.py: unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
