#!/usr/bin/env python3
"""Simple-protocol INSERT ... VALUES of literals through the batcher (and
its per-session cache of statement shapes) store exactly what DuckDB's own
INSERT stores: the same statements, run on a server with batching and on
one with --no-batch, must give the same command tags, the same SQLSTATEs
and messages for bad values, and the same rows. Each shape is repeated
with other values, so later statements come from the cache, including
bad values after good ones of the same shape; a table dropped and made
again with other types must not reuse the old shapes."""
import os, sys, tempfile, shutil
import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
from dptest import check  # noqa: E402

work = tempfile.mkdtemp(prefix="duckpond-shapes-")


def start(name, *extra):
    """A server in its own folder work/<name> (database, port file, log)."""
    d = os.path.join(work, name)
    os.makedirs(d)
    return dptest.start(d, *extra)


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


def outcome(cur, sql, table):
    try:
        cur.execute(sql)
        rows = cur.fetchall() if cur.description else None
        return ("ok", cur.statusmessage, rows)
    except psycopg2.Error as e:
        msg = (e.pgerror or "").split("\n")[0]
        return ("error", e.pgcode, msg.replace(f'"{table}"', '"T"').replace(f" {table}:", " T:"))


def run_all(port, table, options=""):
    conn = psycopg2.connect(f"host=127.0.0.1 port={port} user=shapes dbname=duckpond", options=options)
    conn.autocommit = True
    cur = conn.cursor()
    results = []
    cur.execute(TABLE.format(t=table))
    for shape, rows in SHAPES:
        for vals in rows:
            sql = shape.replace("{t}", table).format(*vals)
            results.append((sql, outcome(cur, sql, table)))
    cur.execute(f"select * from {table} order by seq")
    stored = [tuple(repr(v) for v in r) for r in cur.fetchall()]
    # the catalog changes under a cached shape: the same texts now fail, or convert differently
    cur.execute(f"drop table {table}")
    cur.execute(f"create table {table}(seq int, i varchar, s int, d varchar)")
    again = SHAPES[0][1] + [("80", "9", "'12'", "1.5"), ("81", "9", "'x'", "1.5")]
    for vals in again:
        sql = SHAPES[0][0].replace("{t}", table).format(*vals)
        results.append((sql, outcome(cur, sql, table)))
    cur.execute(f"select * from {table} order by seq")
    stored += [tuple(repr(v) for v in r) for r in cur.fetchall()]
    conn.close()
    return results, stored


procs = []
try:
    pa, port_a = start("batched")
    procs.append(pa)
    pb, port_b = start("plain", "--no-batch")
    procs.append(pb)
    base, base_rows = run_all(port_b, "t")
    check("the reference server stored rows", len(base_rows) > 40, repr(len(base_rows)))
    check("the reference server refused bad values", sum(1 for _, o in base if o[0] == "error") >= 10)
    # journal mode first: once a table is dropped, journal-mode sessions stop using the cache
    for table, options in (("tj", "-c duckpond.ack=journal"), ("t", "")):
        got, got_rows = run_all(port_a, table, options)
        label = f"{table}{' journal' if options else ''}"
        diffs = [(sql, b, g) for (sql, b), (_, g) in zip(base, got) if b != g]
        diffs += [("statement count", len(base), len(got))] if len(base) != len(got) else []
        check(f"{label}: every statement ends as with --no-batch ({len(base)} statements)", not diffs,
              "\n".join(f"{s!r}\n   no-batch: {b}\n   batched:  {g}" for s, b, g in diffs[:10]))
        check(f"{label}: the stored rows are DuckDB's ({len(base_rows)} rows)", got_rows == base_rows,
              "\n".join(f"{a} | {b}" for a, b in zip(base_rows, got_rows) if a != b)[:3000] +
              f"\n({len(base_rows)} vs {len(got_rows)} rows)")
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
    # inside a transaction nothing is batched, and the shapes still read right
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
