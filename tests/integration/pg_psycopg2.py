#!/usr/bin/env python3
"""psycopg2 against a real duckpond server on 127.0.0.1 and a free port:
types both ways, transactions and error codes, executemany through the
batcher, client-bound datetimes, dates, decimals and strings through the
batcher (one row a statement, executemany, execute_values), the same in
psycopg2's default transaction (applied on the session's connection: seen
by the transaction, gone after rollback, stored after commit), COPY in and
out, cancel, and the connection limit."""
import os, sys, tempfile, threading, time, datetime, decimal, shutil
import psycopg2, psycopg2.errors, psycopg2.extensions, psycopg2.extras

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
from dptest import check, stop  # noqa: E402

work = tempfile.mkdtemp(prefix="duckpond-py-")


def start(*extra):
    """A server on work/db.duckdb, logging to work/server.log."""
    return dptest.start(work, *extra)


def accepted(http_port):
    """The batcher's duckpond_batcher_rows_accepted_total, from GET /metrics."""
    return dptest.metric(http_port, "duckpond_batcher_rows_accepted_total")


def applied(http_port):
    """Rows written by the batcher's means inside sessions' transactions, from GET /metrics."""
    return dptest.metric(http_port, "duckpond_batcher_rows_applied_total")


def client_bound_inserts(dsn, http_port):
    """psycopg2 binds in the client: a datetime arrives as '...'::timestamp, a date as '...'::date, a
    negative number with a space before it. Such statements, one row or a thousand, take the batcher
    and store the values given."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("create table ticks(id int, ts timestamp, tz timestamptz, d date, px decimal(12,4), qty double,"
                " side varchar, ok boolean, note varchar)")
    t0 = datetime.datetime(2026, 11, 29, 10, 0, 0, 123456)
    utc = datetime.timezone.utc

    def row(i):
        return (i, t0 + datetime.timedelta(microseconds=1001 * i), (t0 + datetime.timedelta(seconds=i)).replace(tzinfo=utc),
                datetime.date(2026, 1, 1) + datetime.timedelta(days=i % 400), decimal.Decimal(i) / 16 - 50,
                -1.5 * i, "it's" if i % 3 else "a\\b\n", i % 2 == 0, None if i % 5 else f"n{i}")
    sql = "insert into ticks values (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    before = accepted(http_port)
    for i in range(200):
        cur.execute(sql, row(i))
    check("200 single-row psycopg2 inserts took the batcher", accepted(http_port) - before == 200,
          accepted(http_port) - before)
    before = accepted(http_port)
    cur.executemany(sql, [row(i) for i in range(200, 400)])
    check("executemany took the batcher", accepted(http_port) - before == 200, accepted(http_port) - before)
    before = accepted(http_port)
    psycopg2.extras.execute_values(cur, "insert into ticks values %s", [row(i) for i in range(400, 2400)],
                                   page_size=1000)
    check("execute_values (1,000 rows a statement) took the batcher", accepted(http_port) - before == 2000,
          accepted(http_port) - before)
    cur.execute("select * from ticks order by id")
    got = cur.fetchall()
    want = [row(i) for i in range(2400)]
    diffs = [(g, w) for g, w in zip(got, want) if g != w]
    check("the rows stored are the values psycopg2 was given", len(got) == 2400 and not diffs,
          repr((len(got), diffs[:3])))
    # one bad row in a multi-row statement of a shape seen before: one error, nothing stored
    psycopg2.extras.execute_values(cur, "insert into ticks values %s", [row(i) for i in range(2400, 2403)])
    rows = [row(i) for i in range(3000, 3003)]
    rows[1] = rows[1][:3] + ("not a date",) + rows[1][4:]
    try:
        psycopg2.extras.execute_values(cur, "insert into ticks values %s", rows)
        check("a bad row fails its execute_values statement", False)
    except psycopg2.Error as e:
        check("a bad row fails its execute_values statement", e.pgcode == "22P02" and "not a date" in e.pgerror,
              (e.pgcode, e.pgerror))
    cur.execute("select count(*) from ticks where id >= 3000")
    check("... and none of its rows is stored", cur.fetchone()[0] == 0)
    conn.close()


def transaction_inserts(dsn, http_port):
    """psycopg2's default connection opens a transaction that the code commits or rolls back. Its
    execute_values and executemany are applied on the session's connection: its own queries see the
    rows, other sessions do not, rollback takes them away, commit stores them; a bad value or a
    duplicate key fails the statement as DuckDB does and the transaction with it."""
    conn = psycopg2.connect(dsn)
    other = psycopg2.connect(dsn)
    other.autocommit = True
    cur, ocur = conn.cursor(), other.cursor()
    cur.execute("create table txticks(id int primary key, ts timestamp, d date, px decimal(12,4), qty double,"
                " side varchar, ok boolean)")
    conn.commit()
    t0 = datetime.datetime(2026, 11, 29, 10, 0, 0, 250000)

    def row(i):
        return (i, t0 + datetime.timedelta(milliseconds=7 * i), datetime.date(2026, 1, 1) + datetime.timedelta(days=i % 90),
                decimal.Decimal(i) / 8 - 20, 0.5 * i, "it's" if i % 2 else "b\\s", i % 3 == 0)
    many = "insert into txticks values (%s, %s, %s, %s, %s, %s, %s)"
    for outcome in ("rollback", "commit"):
        before = applied(http_port)
        psycopg2.extras.execute_values(cur, "insert into txticks values %s", [row(i) for i in range(3000)],
                                       page_size=1000)
        cur.executemany(many, [row(i) for i in range(3000, 3300)])
        check(f"in a transaction ({outcome}): execute_values and executemany took the fast path",
              applied(http_port) - before == 3300, applied(http_port) - before)
        cur.execute("select count(*), sum(id) from txticks")
        check(f"... the transaction sees its rows ({outcome})", cur.fetchone() == (3300, sum(range(3300))))
        ocur.execute("select count(*) from txticks")
        check(f"... another session does not ({outcome})", ocur.fetchone()[0] == 0)
        getattr(conn, outcome)()
    cur.execute("select * from txticks order by id")
    got = cur.fetchall()
    want = [row(i) for i in range(3300)]
    diffs = [(g, w) for g, w in zip(got, want) if g != w]
    check("after rollback then commit, the rows stored are the committed ones", len(got) == 3300 and not diffs,
          repr((len(got), diffs[:3])))
    conn.commit()
    bad = [row(i) for i in range(5000, 5003)]
    bad[2] = bad[2][:2] + ("not a date",) + bad[2][3:]
    for label, rows, code in (("a bad value", bad, "22"), ("a duplicate key", [row(5), row(5010)], "23505")):
        cur.executemany(many, [row(i) for i in range(6000, 6010)])
        try:
            psycopg2.extras.execute_values(cur, "insert into txticks values %s", rows)
            check(f"{label} fails its statement in a transaction", False)
        except psycopg2.Error as e:
            check(f"{label} fails its statement in a transaction", (e.pgcode or "").startswith(code),
                  (e.pgcode, e.pgerror))
        try:
            cur.execute("select 1")
            check(f"... then the transaction is failed ({label})", False)
        except psycopg2.Error as e:
            check(f"... then the transaction is failed ({label})", e.pgcode == "25P02", e.pgcode)
        conn.rollback()
        cur.execute("select count(*) from txticks where id >= 5000")
        check(f"... and its rollback leaves nothing ({label})", cur.fetchone()[0] == 0)
        conn.commit()
    conn.close()
    other.close()


http_port = dptest.free_port()
proc, port = start("--http-port", str(http_port))
try:
    dsn = f"host=127.0.0.1 port={port} user=py dbname=duckpond"
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    cur.execute("create table t(id int primary key, name text, px double, ok boolean, d date, ts timestamp,"
                " amount decimal(12,2), tags varchar[])")
    conn.commit()
    row = (1, "it's", 2.5, True, datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5, 600000),
           decimal.Decimal("12.34"), ["a", "b c"])
    cur.execute("insert into t values (%s, %s, %s, %s, %s, %s, %s, %s)", row)
    conn.commit()
    cur.execute("select id, name, px, ok, d, ts, amount, tags from t")
    got = cur.fetchone()
    check("types round-trip", got[:7] == (1, "it's", 2.5, True, datetime.date(2024, 1, 2),
                                          datetime.datetime(2024, 1, 2, 3, 4, 5, 600000), decimal.Decimal("12.34"))
          and got[7] == ["a", "b c"], repr(got))
    cur.execute("select null::int, 'NaN'::double, '-inf'::double")
    n, nan, ninf = cur.fetchone()
    check("NULL, NaN and -Infinity", n is None and nan != nan and ninf == float("-inf"))

    # errors and transaction state
    try:
        cur.execute("select * from nosuch")
        check("undefined table is 42P01", False)
    except psycopg2.Error as e:
        check("undefined table is 42P01", e.pgcode == "42P01", e.pgcode)
    try:
        cur.execute("select 1")
        check("25P02 after an error in a transaction", False)
    except psycopg2.Error as e:
        check("25P02 after an error in a transaction", e.pgcode == "25P02", e.pgcode)
    conn.rollback()
    try:
        cur.execute("insert into t(id) values (1)")
        conn.commit()
        check("duplicate key is 23505", False)
    except psycopg2.Error as e:
        check("duplicate key is 23505", e.pgcode == "23505", e.pgcode)
        conn.rollback()
    cur.execute("insert into t(id, name) values (2, 'two')")
    conn.rollback()
    cur.execute("select count(*) from t")
    check("rollback discards", cur.fetchone()[0] == 1)

    # autocommit inserts go through the batcher
    conn.rollback()
    conn.autocommit = True
    cur.executemany("insert into t(id, name) values (%s, %s)", [(i, f"n{i}") for i in range(100, 300)])
    cur.execute("select count(*), min(id), max(id) from t where id >= 100")
    check("executemany of 200 inserts", cur.fetchone() == (200, 100, 299))

    client_bound_inserts(dsn, http_port)
    transaction_inserts(dsn, http_port)

    # COPY
    import io
    cur.copy_expert("copy t(id, name) from stdin with (format csv)", io.StringIO('500,"a,b"\n501,\n'))
    cur.execute("select name, name is null from t where id in (500, 501) order by id")
    check("COPY FROM STDIN csv", cur.fetchall() == [("a,b", False), (None, True)])
    out = io.StringIO()
    cur.copy_expert("copy (select id, name from t where id in (1, 500) order by id) to stdout", out)
    check("COPY TO STDOUT", out.getvalue() == "1\tit's\n500\ta,b\n", repr(out.getvalue()))

    # cancel
    def cancel():
        time.sleep(0.3)
        conn.cancel()

    def long_query_error():
        """Runs a query that takes hours; what ended it (None if nothing did)."""
        try:
            cur.execute("select count(*) from range(100000000000) a")
        except psycopg2.Error as e:
            return e
        return None
    threading.Thread(target=cancel).start()
    e = long_query_error()
    check("cancel gives 57014", e is not None and e.pgcode == "57014", e)
    cur.execute("select 7")
    check("usable after cancel", cur.fetchone()[0] == 7)

    # statement_timeout: a long statement is interrupted, quick ones are not
    try:
        cur.execute("set statement_timeout = 'soon'")
        check("a bad statement_timeout is refused with 22023", False)
    except psycopg2.Error as e:
        check("a bad statement_timeout is refused with 22023", e.pgcode == "22023", e.pgcode)
    cur.execute("set statement_timeout = '300ms'")
    cur.execute("show statement_timeout")
    check("SHOW statement_timeout", cur.fetchone()[0] == "300ms")
    started = time.monotonic()
    e = long_query_error()
    took = time.monotonic() - started
    check("statement_timeout gives 57014", e is not None and e.pgcode == "57014", e)
    check("... saying it was the timeout", "statement timeout" in str(e), str(e))
    check("... after about 300 ms", 0.25 < took < 10, took)
    cur.execute("select count(*) from range(1000)")
    check("a quick statement under the timeout runs", cur.fetchone()[0] == 1000)
    cur.execute("set statement_timeout = 0")
    threading.Thread(target=cancel).start()
    e = long_query_error()
    check("timeout 0: only the cancel ends it", e is not None and e.pgcode == "57014" and "user request" in str(e), e)
    conn.close()
finally:
    rc = stop(proc)
    check("SIGTERM exits 0", rc == 0, rc)

proc, port = start("--max-connections", "3")
try:
    conns = [psycopg2.connect(f"host=127.0.0.1 port={port} user=py dbname=duckpond") for _ in range(3)]
    try:
        psycopg2.connect(f"host=127.0.0.1 port={port} user=py dbname=duckpond")
        check("53300 beyond --max-connections", False)
    except psycopg2.OperationalError as e:
        check("53300 beyond --max-connections", "too many clients" in str(e), str(e))
    for c in conns:
        c.close()
finally:
    stop(proc)
shutil.rmtree(work, ignore_errors=True)
dptest.finish()
