#!/usr/bin/env python3
"""Simple-protocol INSERT ... VALUES of literals through the batcher (and
its per-session cache of statement shapes) store exactly what DuckDB's own
INSERT stores: the same statements, run on a server with batching and on
one with --no-batch, must give the same command tags, the same SQLSTATEs
and messages for bad values, and the same rows. Each shape is repeated
with other values, so later statements come from the cache, including
bad values after good ones of the same shape; a table dropped and made
again with other types must not reuse the old shapes. The same statements
run again each in a transaction of its own (BEGIN ... COMMIT, or ROLLBACK
after an error), where the batching server applies them on the session's
connection, must agree too; so must transactions mixing such INSERTs with
UPDATEs, DELETEs, SELECTs, errors and DDL, and an INSERT after SET schema."""
import datetime, os, sys, tempfile, shutil
import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
from dptest import check  # noqa: E402

work = tempfile.mkdtemp(prefix="duckpond-shapes-")


def start(name, *extra):
    """A server in its own folder work/<name> (database, port file, log)."""
    d = os.path.join(work, name)
    os.makedirs(d)
    # a machine whose zone is not UTC: the server must still run DuckDB in the UTC its sessions report
    return dptest.start(d, *extra, env={"TZ": "America/New_York"})


def accepted(http_port, in_tx=False):
    """Rows the fast path took (GET /metrics), or 0 without an HTTP port: the batcher's rows accepted,
    or in_tx, the rows applied on sessions' connections inside their transactions."""
    if not http_port:
        return 0
    return dptest.metric(http_port, "duckpond_batcher_rows_applied_total" if in_tx
                         else "duckpond_batcher_rows_accepted_total")


TABLE = ("create table {t}(seq int, i int, b bigint, s varchar, d double, n decimal(10,2), f boolean,"
         " ts timestamp, si smallint, r real, dflt int default 7)")

# (shape, [values...]): each shape runs once per value tuple, in order.
SHAPES = [
    ("insert into {t} (seq, i, s, d) values ({}, {}, {}, {})",
     [("1", "5", "'ABC'", "101.25"), ("2", "-5", "'it''s'", "-0.5"), ("3", "007", "''", "0.000"),
      ("4", "2147483647", "'ünï ☃'", "-0.0"), ("5", "-2147483648", "'a\\b'", "123456789012345.678")]),
    ("insert into {t} (seq, i) values ({}, {})",
     [("6", "1"), ("7", "'12'"), ("8", "'abc'"), ("9", "2147483648"), ("10", "1.5"), ("11", "'1.5'"),
      ("12", "-1.5"), ("13", "NULL"), ("14", "99999999999999999999")]),
    ("insert into {t} (seq, b, si) values ({}, {}, {})",
     [("15", "9223372036854775807", "1"), ("16", "-9223372036854775808", "-32768"), ("17", "1", "70000"),
      ("18", "1_000", "2"), ("19", "1e3", "3"), ("20", "'x'", "4"), ("21", "5", "'32768'")]),
    ("insert into {t} (seq, f) values ({}, {})",
     [("22", "TRUE"), ("23", "false"), ("24", "'t'"), ("25", "'yes'"), ("26", "1"), ("27", "0"), ("28", "'maybe'"),
      ("29", "'t'::boolean"), ("30", "2")]),
    ("insert into {t} (seq, ts) values ({}, {})",
     [("31", "'2024-01-02 03:04:05'"), ("32", "'2024-01-02 03:04:05.123456'"), ("33", "'garbage'"),
      ("34", "'2024-02-30'"), ("35", "'2024-01-02'::timestamp"), ("36", "timestamp '2024-05-06 07:08:09'"),
      ("37", "'2024-01-02T03:04:05'")]),
    ("insert into {t} (seq, n, r) values ({}, {}, {})",
     [("38", "1.005", "1.5"), ("39", "'1.005'", "'2.25'"), ("40", "12345678.99", "-3"), ("41", "123456789.5", "1"),
      ("42", "-0.01", "0.1"), ("43", "'abc'", "1")]),
    ("insert into {t} (seq, s) values ({}, {})",
     [("44", "E'tab\\there'"), ("45", "'multi\nline'"), ("46", "'x' || 'y'"), ("47", "$$dollar$$"),
      ("48", "'--not a comment'"), ("49", "'/* nor this */'"), ("50", "U&'d\\0061t\\+000061'"), ("51", "5")]),
    ("insert into {t} values ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
     [("52", "1", "2", "'s'", "1.5", "2.5", "true", "'2024-01-01'", "3", "4.5", "DEFAULT"),
      ("53", "-1", "-2", "'t'", "-1.5", "-2.5", "false", "'2024-01-01 00:00:01'", "-3", "-4.5", "8"),
      ("54", "1", "2", "'s'", "1.5", "2.5", "true", "'2024-01-01'", "3", "4.5", "9", ),
      ("55", "1", "2", "'s'", "1.5", "2.5", "true", "'bad'", "3", "4.5", "9")]),
    ("insert into {t} (seq, i, s) values ({}, {}, {}), ({}, {}, {})",
     [("56", "1", "'r1'", "57", "2", "'r2'"), ("58", "3", "'r3'", "59", "'bad'", "'r4'"),
      ("60", "5", "'r5'", "61", "6", "'r6'")]),
    ("insert into {t} (seq, i) values ({} , /* c */ {} -- tail\n)",
     [("62", "3"), ("63", "4")]),
    ("INSERT INTO {t}(seq,i)VALUES({},{})",
     [("64", "10"), ("65", "11"), ("66", "'zz'")]),
    ("insert into {t} (seq, i) values ({}, {}) returning i",
     [("67", "1"), ("68", "2")]),
    ("insert into {t} (seq, i) values ({}, abs({}))",
     [("69", "-3"), ("70", "-4")]),
    ("insert into {t} (seq, nosuch) values ({}, {})",
     [("71", "1"), ("72", "2")]),
    ("insert into {t} (seq, i) values ({}, {}, {})",
     [("73", "1", "2"), ("74", "3", "4")]),
]

# Casts, typed literals, signed numbers and other constants, into columns of many types: a cast
# whose type is the column's goes through the batcher, any other runs in DuckDB; both must store
# what DuckDB stores, and refuse what it refuses, with its message.
TABLE2 = ("create table {t}2(seq int, ts timestamp, tz timestamptz, dt date, tm time, iv interval,"
          " nn decimal(18,3), dd double, bl blob, v varchar, i int, b bool)")

SHAPES2 = [
    ("insert into {t}2 (seq, ts) values ({}, {})",
     [("101", "'2026-11-29T10:00:00.123456'::timestamp"), ("102", "'2026-11-29 10:00:00'::timestamp"),
      ("103", "TIMESTAMP '2024-05-06 07:08:09'"), ("104", "CAST('2024-01-01' AS TIMESTAMP)"),
      ("105", "'garbage'::timestamp"), ("106", "'2024-02-30'::timestamp"), ("107", "'2024-01-01'::date"),
      ("108", "'2024-01-01 10:00+02'::timestamptz"), ("109", "'1'::nosuchtype"),
      ("110", "'2024-01-01 01:02:03'::timestamp without time zone"), ("111", "timestamp '2024-01-01' + interval '1 day'"),
      ("112", "TRY_CAST('x' AS TIMESTAMP)"), ("113", "NULL::timestamp"), ("114", "'infinity'::timestamp"),
      ("115", "'2024-01-01 00:00:00.1234567'::timestamp"), ("116", "'2024-01-01 10:00:00'::timestamp(3)"),
      ("117", "'1999-12-31 23:59:59.999999'::timestamp")]),
    ("insert into {t}2 (seq, tz) values ({}, {})",
     [("121", "'2026-11-29 10:00:00+02'::timestamptz"), ("122", "'2026-11-29 10:00:00'::timestamptz"),
      ("123", "TIMESTAMPTZ '2026-01-01 00:00:00.5+05:30'"), ("124", "'2026-11-29 10:00:00'::timestamp"),
      ("125", "'2026-11-29 10:00:00'"), ("126", "'x'::timestamptz"),
      ("127", "'2026-06-01 12:00:00'::timestamp with time zone")]),
    ("insert into {t}2 (seq, dt, tm, iv) values ({}, {}, {}, {})",
     [("131", "DATE '2024-01-02'", "TIME '10:11:12.5'", "INTERVAL '1 day 2 hours'"),
      ("132", "'2024-01-03'::date", "'23:59:59'::time", "'3 months'::interval"),
      ("133", "DATE '2024-13-01'", "TIME '10:00'", "INTERVAL '1 day'"),
      ("134", "'2024-01-01'::date", "'25:00'::time", "interval '1' day"),
      ("135", "'2024-01-01'", "'10:00'", "'1 hour'"),
      ("136", "'2024-01-05 10:00'::timestamp", "'10:00'::time", "'x'::interval")]),
    ("insert into {t}2 (seq, nn, dd) values ({}, {}, {})",
     [("141", "'1.23456'::numeric", "'1.23456'::numeric"), ("142", "DECIMAL '2.5'", "-1.5"),
      ("143", "CAST('3.14159' AS DECIMAL(18,3))", "+2.5"), ("144", "'1.5'::decimal(10,2)", "- 2"),
      ("145", "'abc'::numeric", "1"), ("146", "+ 7", "'1e400'::double"), ("147", "-0.0", "CAST(1 AS DOUBLE)"),
      ("148", "'99999999999999999.9'::numeric", "1"), ("149", "-'1'", "+'1'"), ("150", "+-3", "- -3")]),
    ("insert into {t}2 (seq, bl, v) values ({}, {}, {})",
     [("151", "'\\x01ab'::bytea", "E'a\\\\b'"), ("152", "'ab'::blob", "E'tab\\there'"),
      ("153", "'\\xzz'::bytea", "'x'"), ("154", "X'01'", "E'it\\'s'"), ("155", "'\\xFF\\x00'::blob", "'q'::text"),
      ("156", "'\\x41'::bytea::varchar", "'a\\b'::varchar"), ("157", "'\\x41'::bytea", "'\\x41'::bytea")]),
    ("insert into {t}2 (seq, i, b, v) values ({}, {}, {}, {})",
     [("161", "+3", "true", "'it''s'::text"), ("162", "- 2", "false", "'x'::varchar"),
      ("163", "CAST('7' AS INT)", "NULL", "CAST(5 AS VARCHAR)"), ("164", "'7'::int8", "'t'::bool", "NULL::int"),
      ("165", "CAST('x' AS INT)", "true", "'y'"), ("166", "'3000000000'::int", "'maybe'::bool", "'z'"),
      ("167", "CAST(NULL AS INT)", "'yes'::boolean", "CAST(1.50 AS VARCHAR)"),
      ("168", "'1.5'::int", "true", "'1e3'::double::varchar")]),
    ("insert into {t}2 (seq, ts, nn) values ({}, {}, {}), ({}, {}, {})",
     [("171", "'2024-01-01 00:00:01'::timestamp", "'1.5'::numeric", "172", "TIMESTAMP '2024-01-02'", "2.25"),
      ("173", "'2024-01-01'::timestamp", "'1'::numeric", "174", "'bad'::timestamp", "1"),
      ("175", "'2024-01-01'::timestamp", "'x'::numeric", "176", "'2024-01-03'::timestamp", "1"),
      ("177", "'2025-01-01'::timestamp", "-1", "178", "'2025-01-02'::timestamp", "+1")]),
    ("insert into main.\"{t}2\" (\"seq\", \"TS\", nn) values ({}, {}, {})",
     [("195", "'2024-03-04 05:06:07'::timestamp", "DEFAULT"), ("196", "TIMESTAMP '2024-03-05'", "-12.5"),
      ("197", "'bad'::timestamp", "1")]),
    # what only resembles a constant INSERT
    ("insert into {t}2 (seq, i) values ({}, {})",
     [("181", "abs(-3)"), ("182", "(select 4)"), ("183", "now"), ("184", '"now"'), ("185", "length('abc')"),
      ("186", "1 + 2"), ("187", "-(5)"), ("188", "'5'::int + 1")]),
    ("insert into {t}2 (seq, v) select {}, {}",
     [("191", "'sel'"), ("192", "'2024-01-01'::timestamp")]),
    ("insert into {t}2 (seq, v) values ({}, {}) on conflict do nothing",
     [("193", "'oc'")]),
]

# first seq of the SHAPES2 statements that must take the batcher (the cast's type is the column's,
# a typed literal, a signed number, a blob into a blob column), and of those that must not
TAKE_BATCHER = {101, 102, 103, 104, 110, 113, 114, 115, 117, 121, 122, 123, 125, 127, 131, 132, 135, 142, 143,
                146, 147, 150, 151, 152, 154, 155, 161, 162, 163, 167, 171, 177, 195, 196}
LEAVE_TO_DUCKDB = {107, 108, 111, 112, 116, 124, 136, 141, 144, 157, 164, 181, 182, 185, 186, 188, 191, 192, 193}

# The clock functions, read once per statement: the values differ from server to server, so each
# must lie between the clock read before and after the statement, all of a statement's alike.
CLOCK_TABLE = "create table clocks(seq int, ts timestamp, tz timestamptz, dt date, v varchar, tm time)"
CLOCKS = [
    ("insert into clocks (seq, ts, tz, dt) values (1, now(), now(), now())", 1),
    ("insert into clocks (seq, ts, tz, dt) values (2, current_timestamp, current_timestamp, current_date)", 1),
    ("insert into clocks (seq, ts, tz, dt) values (3, localtimestamp, localtimestamp, localtimestamp)", 1),
    ("insert into clocks (seq, ts, tz, dt) values (4, transaction_timestamp(), get_current_timestamp(), "
     "current_date())", 1),
    ("insert into clocks (seq, ts, tz, dt) values (5, current_date, current_date, current_date)", 1),
    ("insert into clocks (seq, ts, tz, dt) values (6, NOW(), now(), now()), (7, now(), now(), now())", 2),
    ("insert into clocks (seq, v) values (8, now())", 0),
    ("insert into clocks (seq, tm) values (9, current_time)", 0),
    ("insert into clocks (seq, ts) values (10, now() + interval 1 day)", 0),
    ("insert into clocks (seq, tz) values (11, statement_timestamp())", 0),
    ("insert into clocks (seq, ts) values (12, now(1))", 0),
]


def run_clocks(port, http_port=None, in_tx=False):
    """Runs CLOCKS (in_tx: each in a transaction of its own, where the clock is the transaction's start);
    returns (outcomes, the bad values found, rows the fast path took per statement)."""
    conn = psycopg2.connect(f"host=127.0.0.1 port={port} user=clocks dbname=duckpond")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("drop table if exists clocks")
    cur.execute(CLOCK_TABLE)
    outcomes, bad, took = [], [], []
    for sql, _ in CLOCKS:
        cur.execute("select now()")
        before = cur.fetchone()[0].replace(tzinfo=None)
        acc = accepted(http_port, in_tx)
        outcomes.append((sql, outcome(cur, sql, "clocks", in_tx)))
        took.append(accepted(http_port, in_tx) - acc)
        cur.execute("select now()")
        after = cur.fetchone()[0].replace(tzinfo=None)
        seq = int(sql.split("(")[2].split(",")[0])
        cur.execute("select seq, ts, tz, dt from clocks where seq >= %s order by seq", (seq,))
        rows = cur.fetchall()
        for r in rows:
            ts, tz, dt = r[1], r[2].replace(tzinfo=None) if r[2] else None, r[3]
            midnight = datetime.datetime.combine(before.date(), datetime.time())
            lo, hi = (midnight, midnight) if seq == 5 else (before, after)
            if seq == 10:
                lo, hi = lo + datetime.timedelta(days=1), hi + datetime.timedelta(days=1)
            for v in (ts, tz):
                if v is not None and not lo <= v <= hi:
                    bad.append((sql, r, lo, hi))
            if dt is not None and dt not in (before.date(), after.date()):
                bad.append((sql, r, "date"))
        if len(rows) == 2 and rows[0][1:] != rows[1][1:]:
            bad.append((sql, "rows of one statement differ", rows))
    conn.close()
    return outcomes, bad, took


def rows_of(cur, sql):
    """The rows of a query, each value as its repr (bytes for a blob)."""
    cur.execute(sql)
    return [tuple(repr(bytes(v) if isinstance(v, memoryview) else v) for v in r) for r in cur.fetchall()]


def outcome(cur, sql, table, in_tx=False):
    """How sql ends: ("ok", tag, rows) or ("error", SQLSTATE, first line of the message, the table's name
    replaced). in_tx: inside a transaction of its own, committed, or rolled back after an error."""
    if in_tx:
        cur.execute("begin")
    try:
        cur.execute(sql)
        rows = cur.fetchall() if cur.description else None
        tag = cur.statusmessage
        if in_tx:
            cur.execute("commit")
        return ("ok", tag, rows)
    except psycopg2.Error as e:
        if in_tx:
            cur.execute("rollback")
        msg = (e.pgerror or "").split("\n")[0]
        return ("error", e.pgcode, msg.replace(f'"{table}"', '"T"').replace(f" {table}:", " T:"))


def run_all(port, table, options="", http_port=None, in_tx=False):
    conn = psycopg2.connect(f"host=127.0.0.1 port={port} user=shapes dbname=duckpond", options=options)
    conn.autocommit = True
    cur = conn.cursor()
    results = []
    cur.execute(TABLE.format(t=table))
    cur.execute(TABLE2.format(t=table))
    batched = {}  # seq of the statement's first row -> rows the batcher accepted for it
    for shapes in (SHAPES, SHAPES2):
        for shape, rows in shapes:
            for vals in rows:
                sql = shape.replace("{t}", table).format(*vals)
                before = accepted(http_port, in_tx)
                results.append((sql, outcome(cur, sql, table, in_tx)))
                batched[int(vals[0])] = accepted(http_port, in_tx) - before
    stored = rows_of(cur, f"select * from {table} order by seq") + rows_of(cur, f"select * from {table}2 order by seq")
    # the column's type changes under cached cast shapes: the casts now run in DuckDB
    cur.execute(f"alter table {table}2 alter ts type date")
    for vals in SHAPES2[0][1][:4]:
        sql = SHAPES2[0][0].replace("{t}", table).format(str(int(vals[0]) + 100), vals[1])
        results.append((sql, outcome(cur, sql, table, in_tx)))
    # a macro shadows a function the batcher would have read itself
    cur.execute("create macro now() as TIMESTAMP '2001-02-03 04:05:06'")
    cur.execute("create macro get_current_timestamp() as TIMESTAMPTZ '2001-02-03 04:05:06+00'")
    cur.execute('create macro "+"(a) as 42')
    for sql in (f"insert into {table}2 (seq, tz, i) values (301, now(), +3)",
                f"insert into {table}2 (seq, tz, i) values (302, current_timestamp, + 4)"):
        results.append((sql, outcome(cur, sql, table, in_tx)))
    cur.execute("drop macro now")
    cur.execute("drop macro get_current_timestamp")
    cur.execute('drop macro "+"')
    stored += rows_of(cur, f"select * from {table}2 where seq > 200 order by seq")
    # the catalog changes under a cached shape: the same texts now fail, or convert differently
    cur.execute(f"drop table {table}")
    cur.execute(f"create table {table}(seq int, i varchar, s int, d varchar)")
    again = SHAPES[0][1] + [("80", "9", "'12'", "1.5"), ("81", "9", "'x'", "1.5")]
    for vals in again:
        sql = SHAPES[0][0].replace("{t}", table).format(*vals)
        results.append((sql, outcome(cur, sql, table, in_tx)))
    cur.execute(f"select * from {table} order by seq")
    stored += [tuple(repr(v) for v in r) for r in cur.fetchall()]
    conn.close()
    return results, stored, batched


# One session's statements, several in a transaction: INSERTs of cached shapes (applied on the session's
# connection by the batching server) among UPDATEs, DELETEs and SELECTs that must see them, errors that
# fail the transaction, DDL that ends the fast path for the rest of its transaction, SET schema.
MIX = [
    "create table mix(k int primary key, v varchar, n int default 0, ts timestamp)",
    "begin",
    "insert into mix (k, v) values (1, 'a')",
    "insert into mix (k, v) values (2, 'b'), (3, 'c')",
    "select k, v, n from mix order by k",
    "update mix set n = n + 1 where k >= 2",
    "insert into mix (k, v, ts) values (4, 'd', '2024-01-02 03:04:05')",
    "select k, v, n, ts from mix order by k",
    "delete from mix where k = 1",
    "insert into mix (k, v) values (1, 'again')",
    "insert into mix values (10, 'all', 5, timestamp '2024-02-03 04:05:06')",
    "insert into mix values (11, 'all', DEFAULT, NULL), (12, 'all', 6, DEFAULT)",
    "select count(*), sum(n), min(v), max(v) from mix",
    "commit",
    "begin",
    "insert into mix (k, v) values (5, 'e')",
    "insert into mix (k, v) values (2, 'dup')",
    "select 1",
    "rollback",
    "select k, v, n from mix order by k",
    "begin",
    "insert into mix (k, v) values (6, 'f')",
    "insert into mix (k, n) values (7, 'x')",
    "rollback",
    "begin",
    "insert into mix (k, ts) values (7, 'garbage')",
    "rollback",
    "begin",
    "insert into mix (k, v) values (8, 'g')",
    "create table mix2(i int)",
    "insert into mix (k, v) values (9, 'h')",
    "insert into mix2 values (1)",
    "select count(*) from mix where k in (8, 9)",
    "commit",
    "begin",
    "insert into mix (k, v) values (20, 'x'), (21, 'y')",
    "insert into mix (k, v) values (22, 'z')",
    "rollback",
    "select k, v, n, ts from mix order by k",
    "select * from mix2",
    # an unqualified name after SET schema: DuckDB's INSERT goes to the current schema's table
    "create schema other",
    "create table other.mix(k int, v varchar)",
    "set schema = 'other'",
    "insert into mix (k, v) values (100, 'other')",
    "insert into mix values (101, 'other')",
    "begin",
    "insert into mix (k, v) values (102, 'other tx')",
    "commit",
    "set schema = 'main'",
    "insert into mix (k, v) values (103, 'main')",
    "use other",
    "insert into mix (k, v) values (104, 'use')",
    "use main",
    "select k, v from other.mix order by k",
    "select k, v from main.mix where k >= 100 order by k",
]


def run_mix(port, http_port=None):
    """Runs MIX on one session (autocommit, the transactions its BEGINs open); returns the outcomes and
    the rows the fast path applied inside transactions and accepted outside them."""
    conn = psycopg2.connect(f"host=127.0.0.1 port={port} user=mix dbname=duckpond")
    conn.autocommit = True
    cur = conn.cursor()
    applied, acc = accepted(http_port, True), accepted(http_port)
    got = [(sql, outcome(cur, sql, "mix")) for sql in MIX]
    applied, acc = accepted(http_port, True) - applied, accepted(http_port) - acc
    conn.close()
    return got, applied, acc


procs = []
try:
    http_a = dptest.free_port()
    pa, port_a = start("batched", "--http-port", str(http_a))
    procs.append(pa)
    pb, port_b = start("plain", "--no-batch")
    procs.append(pb)
    base, base_rows, _ = run_all(port_b, "t")
    check("the reference server stored rows", len(base_rows) > 40, repr(len(base_rows)))
    check("the reference server refused bad values", sum(1 for _, o in base if o[0] == "error") >= 10)
    # journal mode first: once a table is dropped, journal-mode sessions stop using the cache
    for table, options in (("tj", "-c duckpond.ack=journal"), ("t", "")):
        got, got_rows, batched = run_all(port_a, table, options, http_a)
        label = f"{table}{' journal' if options else ''}"
        missed = sorted(k for k in TAKE_BATCHER if not batched[k])
        check(f"{label}: casts to the column's type, typed literals and signed numbers took the batcher",
              not missed, repr(missed))
        wrong = sorted(k for k in LEAVE_TO_DUCKDB if batched[k])
        check(f"{label}: other casts and expressions ran in DuckDB", not wrong, repr(wrong))
        diffs = [(sql, b, g) for (sql, b), (_, g) in zip(base, got) if b != g]
        diffs += [("statement count", len(base), len(got))] if len(base) != len(got) else []
        check(f"{label}: every statement ends as with --no-batch ({len(base)} statements)", not diffs,
              "\n".join(f"{s!r}\n   no-batch: {b}\n   batched:  {g}" for s, b, g in diffs[:10]))
        check(f"{label}: the stored rows are DuckDB's ({len(base_rows)} rows)", got_rows == base_rows,
              "\n".join(f"{a} | {b}" for a, b in zip(base_rows, got_rows) if a != b)[:3000] +
              f"\n({len(base_rows)} vs {len(got_rows)} rows)")
    # the same statements, each in a transaction of its own
    base_tx, base_tx_rows, _ = run_all(port_b, "tx", in_tx=True)
    got, got_rows, applied = run_all(port_a, "tx", "", http_a, in_tx=True)
    missed = sorted(k for k in TAKE_BATCHER if not applied[k])
    check("in transactions: casts to the column's type, typed literals and signed numbers took the fast path",
          not missed, repr(missed))
    wrong = sorted(k for k in LEAVE_TO_DUCKDB if applied[k])
    check("in transactions: other casts and expressions ran in DuckDB", not wrong, repr(wrong))
    diffs = [(sql, b, g) for (sql, b), (_, g) in zip(base_tx, got) if b != g]
    diffs += [("statement count", len(base_tx), len(got))] if len(base_tx) != len(got) else []
    check(f"in transactions: every statement ends as with --no-batch ({len(base_tx)} statements)", not diffs,
          "\n".join(f"{s!r}\n   no-batch: {b}\n   batched:  {g}" for s, b, g in diffs[:10]))
    check(f"in transactions: the stored rows are DuckDB's ({len(base_tx_rows)} rows)", got_rows == base_tx_rows,
          "\n".join(f"{a} | {b}" for a, b in zip(base_tx_rows, got_rows) if a != b)[:3000])
    base_mix, _, _ = run_mix(port_b)
    got_mix, mix_applied, mix_accepted = run_mix(port_a, http_a)
    diffs = [(sql, b, g) for (sql, b), (_, g) in zip(base_mix, got_mix) if b != g]
    check(f"a session mixing transactions, DML, errors and DDL ends as with --no-batch ({len(MIX)} statements)",
          not diffs, "\n".join(f"{s!r}\n   no-batch: {b}\n   batched:  {g}" for s, b, g in diffs[:10]))
    # applied in transactions: 8 rows of the first; then 5, 6, 8 (not 9: after DDL), 20-22 (rolled back), 102
    check("... its INSERTs in transactions took the fast path until DDL", mix_applied == 15, mix_applied)
    check("... and those in autocommit the batcher", mix_accepted == 4, mix_accepted)
    # a transaction begun before another session's DDL runs its INSERTs in DuckDB
    c1 = psycopg2.connect(f"host=127.0.0.1 port={port_a} user=mix dbname=duckpond")
    c2 = psycopg2.connect(f"host=127.0.0.1 port={port_a} user=mix dbname=duckpond")
    c2.autocommit = True
    cur1 = c1.cursor()
    cur1.execute("insert into mix (k, v) values (30, 'before')")  # psycopg2 has begun a transaction
    c2.cursor().execute("create table unrelated(i int)")
    before = accepted(http_a, True)
    cur1.execute("insert into mix (k, v) values (31, 'after ddl')")
    check("an INSERT in a transaction begun before DDL elsewhere runs in DuckDB", accepted(http_a, True) == before)
    c1.commit()
    cur1.execute("select count(*) from mix where k in (30, 31)")
    check("... and both rows of that transaction are stored", cur1.fetchone()[0] == 2)
    c1.close()
    c2.close()
    base_clocks, base_bad, _ = run_clocks(port_b)
    check("the reference server's clocks read between before and after", not base_bad, repr(base_bad[:3]))
    got_clocks, got_bad, took = run_clocks(port_a, http_a)
    check("clock statements end as with --no-batch",
          [(q, o[:2]) for q, o in got_clocks] == [(q, o[:2]) for q, o in base_clocks],
          repr([(q, a, b) for (q, a), (_, b) in zip(base_clocks, got_clocks) if a[:2] != b[:2]]))
    check("the batcher's clocks read between before and after, once per statement", not got_bad, repr(got_bad[:3]))
    check("now(), current_timestamp, localtimestamp and current_date took the batcher",
          took == [n for _, n in CLOCKS], repr(took))
    base_clocks, base_bad, _ = run_clocks(port_b, in_tx=True)
    check("in transactions, the reference server's clocks read between before and after", not base_bad,
          repr(base_bad[:3]))
    got_clocks, got_bad, took = run_clocks(port_a, http_a, in_tx=True)
    check("in transactions, clock statements end as with --no-batch",
          [(q, o[:2]) for q, o in got_clocks] == [(q, o[:2]) for q, o in base_clocks],
          repr([(q, a, b) for (q, a), (_, b) in zip(base_clocks, got_clocks) if a[:2] != b[:2]]))
    check("in transactions, the fast path's clocks are the transaction's start", not got_bad, repr(got_bad[:3]))
    check("in transactions, now(), current_timestamp, localtimestamp and current_date took the fast path",
          took == [n for _, n in CLOCKS], repr(took))
    # many sessions' worth of shapes: more than the cache holds, then the first again
    conn = psycopg2.connect(f"host=127.0.0.1 port={port_a} user=shapes dbname=duckpond")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("create table wide(k int, v varchar)")
    for k in range(100):
        cols = ", ".join(["v"] * 1)
        cur.execute(f"insert into wide (k, {cols}) values ({k}, 'v{k}')" + " " * (k % 80))
    for k in range(100, 110):
        cur.execute(f"insert into wide (k, v) values ({k}, 'v{k}')")
    cur.execute("select count(*), sum(k), count(distinct v) from wide")
    check("shapes beyond the cache's size all stored", cur.fetchone() == (110, sum(range(110)), 110))
    # large multi-row shapes, more than the cache's bytes hold, then the first ones again
    cur.execute("create table big(k int, v varchar, w varchar)")
    n = 0
    for rep in range(2):
        for extra in range(30):
            rows = ", ".join(f"({n + i}, 'v{n + i}', 'w'::varchar)" for i in range(1000 + extra))
            cur.execute("insert into big values " + rows)
            n += 1000 + extra
    cur.execute("select count(*), count(distinct k), sum(k), count(distinct v), min(w) from big")
    check("large multi-row shapes past the cache's bytes all stored",
          cur.fetchone() == (n, n, n * (n - 1) // 2, n, "w"))
    # inside a transaction the cached shape is applied on the session's connection: a rollback undoes it
    cur.execute("begin")
    cur.execute("insert into wide (k, v) values (200, 'in tx')")
    cur.execute("rollback")
    cur.execute("select count(*) from wide where k = 200")
    check("a rolled-back insert of a cached shape is gone", cur.fetchone() == (0,))
    cur.execute("set duckpond.batch = off")
    cur.execute("insert into wide (k, v) values (201, 'unbatched')")
    cur.execute("select v from wide where k = 201")
    check("a cached shape with batching off goes to DuckDB", cur.fetchone() == ("unbatched",))
    conn.close()
    for p in procs:
        check("server exits 0", dptest.stop(p) == 0)
    procs = []
finally:
    for p in procs:
        p.kill()
        p.wait()
    shutil.rmtree(work, ignore_errors=True)

dptest.finish()
