#!/usr/bin/env python3
"""Roles, server files and settings, against a real duckpond server with
psycopg2 (and curl-like HTTP through urllib).

A users file holds a read-only user (ro), a read-write user (rw) and an
admin; a second server trusts loopback users (read-write). Every attack
-- reading /etc/passwd, listing /root, COPY to and from server files,
ATTACH, EXPORT/IMPORT DATABASE, SET of DuckDB's global settings, INSTALL,
LOAD, PRAGMAs and settings that touch files, dynamic SQL -- runs as ro,
rw and the trusted user: each is refused with 42501 (or 0A000) and a
message naming what, nothing is written (the target does not exist
afterwards), and the same session answers the next query. An admin's
COPY inside --files-dir works; outside it is refused. Session settings
stay in their session, and SHOW / current_setting answer like
PostgreSQL. Over HTTP a read-only token gets the same refusals, and the
server's own file work (COPY FROM STDIN, Parquet answers) keeps working."""
import json, os, shutil, subprocess, sys, tempfile, urllib.error, urllib.parse, urllib.request
import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
from dptest import check, stop  # noqa: E402

work = os.path.realpath(tempfile.mkdtemp(prefix="duckpond-sec-"))
files = os.path.join(work, "files")     # the server's --files-dir
outside = os.path.join(work, "outside")  # a directory the server may not touch
runtmp = os.path.join(work, "tmp")       # TMPDIR of the servers: their private directories
for d in (files, outside, runtmp):
    os.mkdir(d)
users = os.path.join(work, "users")


def passwd(name, password, *flags):
    """Adds a user; returns its HTTP token."""
    out = subprocess.run([dptest.BIN, "passwd", "--users", users, *flags, name], input=password + "\n",
                         capture_output=True, text=True, check=True).stdout
    return out.split("HTTP token (shown once):")[1].split()[0]


def connect(port, user, password=None):
    c = psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password, dbname="duckpond")
    c.autocommit = True
    return c


def run(conn, sql):
    """Runs sql: (None, rows) or (sqlstate, message)."""
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return None, cur.fetchall() if cur.description else []
    except psycopg2.Error as e:
        return e.pgcode, (e.pgerror or "").strip()


def alive(conn):
    return run(conn, "SELECT 41 + 1") == (None, [(42,)])


# (name, SQL, a path that must not exist afterwards or None, a word the message must name)
def attacks(port_files):
    o = outside
    return [
        ("read_text('/etc/passwd')", "SELECT * FROM read_text('/etc/passwd')", None, "read_text"),
        ("glob('/root/*')", "SELECT * FROM glob('/root/*')", None, "glob"),
        ("read_csv('/etc/passwd')", "SELECT * FROM read_csv('/etc/passwd')", None, "read_csv"),
        ("quoted \"read_text\"", "SELECT * FROM main.\"read_text\"('/etc/passwd')", None, "read_text"),
        ("read_blob('/etc/hostname')", "SELECT * FROM read_blob('/etc/hostname')", None, "read_blob"),
        ("read_parquet of a server file", f"SELECT * FROM read_parquet('{files}/a.parquet')", None,
         "read_parquet"),
        ("read_csv inside --files-dir", f"SELECT * FROM read_csv('{files}/a.csv')", None, "read_csv"),
        ("query() runs SQL from a string", "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')",
         None, "query"),
        ("COPY (SELECT 'x') TO a file", f"COPY (SELECT 'x') TO '{o}/x.csv'", f"{o}/x.csv", "COPY"),
        ("COPY TO a file inside --files-dir", f"COPY (SELECT 'x') TO '{files}/nope.csv'", f"{files}/nope.csv",
         "COPY"),
        ("COPY t FROM '/etc/passwd'", "COPY victim FROM '/etc/passwd'", None, "COPY"),
        ("ATTACH a new database", f"ATTACH '{o}/other.duckdb'", f"{o}/other.duckdb", "ATTACH"),
        ("ATTACH in memory", "ATTACH ':memory:' AS m", None, "ATTACH"),
        ("EXPORT DATABASE", f"EXPORT DATABASE '{o}/exp'", f"{o}/exp", "EXPORT"),
        ("IMPORT DATABASE", f"IMPORT DATABASE '{o}'", None, "IMPORT"),
        ("PRAGMA import_database", f"PRAGMA import_database('{o}')", None, "import_database"),
        ("PRAGMA enable_profiling", "PRAGMA enable_profiling", None, "enable_profiling"),
        ("PRAGMA threads=1", "PRAGMA threads=1", None, "threads"),
        ("SET threads = 1", "SET threads = 1", None, "threads"),
        ("SET GLOBAL threads = 1", "SET GLOBAL threads = 1", None, "threads"),
        ("SET memory_limit", "SET memory_limit = '100MB'", None, "memory_limit"),
        ("SET profiling_output (a file)", f"SET profiling_output = '{o}/prof.json'", f"{o}/prof.json",
         "profiling_output"),
        ("SET log_query_path (a file)", f"SET log_query_path = '{o}/q.log'", f"{o}/q.log", "log_query_path"),
        ("SET enable_external_access", "SET enable_external_access = true", None, "enable_external_access"),
        ("INSTALL httpfs", "INSTALL httpfs", None, "extensions"),
        ("LOAD parquet", "LOAD parquet", None, "extensions"),
        ("CHECKPOINT", "CHECKPOINT", None, "CHECKPOINT"),
        ("checkpoint()", "SELECT * FROM checkpoint()", None, "checkpoint"),
        ("CALL enable_logging()", "CALL enable_logging()", None, "enable_logging"),
        ("EXPLAIN ANALYZE COPY TO a file", f"EXPLAIN ANALYZE COPY (SELECT 'x') TO '{files}/explained.csv'",
         f"{files}/explained.csv", "COPY"),
        ("U&\"...\" escapes in a function name", "SELECT * FROM U&\"\\0072ead_text\"('/etc/passwd')", None,
         "U&"),
    ]


def try_attacks(label, conn, witness):
    """Runs every attack on conn; checks refusal, message, nothing written, the session going on."""
    for name, sql, path, word in attacks(files):
        state, msg = run(conn, sql)
        ok = state in ("42501", "0A000") and word.lower() in msg.lower()
        check(f"{label}: {name} refused ({state})", ok, f"{state} {msg!r}")
        if path:
            check(f"{label}: ... {os.path.basename(path)} not written", not os.path.exists(path))
        check(f"{label}: ... the session goes on", alive(conn))
    threads = run(witness, "SELECT current_setting('threads')")
    check(f"{label}: DuckDB's threads setting is unchanged", threads == (None, [(str(THREADS),)]), threads)


ro_token = passwd("ro", "pw-ro", "--role", "ro")
rw_token = passwd("rw", "pw-rw", "--role", "rw")
admin_token = passwd("admin", "pw-admin", "--role", "admin")
http_port = dptest.free_port()
proc, port = dptest.start(work, "--users", users, "--files-dir", files, "--http-port", str(http_port),
                          env={"TMPDIR": runtmp})
trust_dir = os.path.join(work, "trust")
os.mkdir(trust_dir)
tproc, tport = dptest.start(trust_dir, env={"TMPDIR": runtmp})
base = f"http://127.0.0.1:{http_port}"
try:
    admin = connect(port, "admin", "pw-admin")
    THREADS = run(admin, "SELECT current_setting('threads')")[1][0][0]
    run(admin, "CREATE TABLE victim (line VARCHAR)")
    run(admin, "CREATE TABLE t (a INT)")

    # ------------------------------------------------------------ an admin, inside and outside --files-dir
    state, _ = run(admin, f"COPY (SELECT 42 AS a) TO '{files}/a.csv' (HEADER)")
    check("admin: COPY TO a file inside --files-dir works", state is None and os.path.exists(f"{files}/a.csv"),
          state)
    state, _ = run(admin, f"COPY (SELECT 7 AS a) TO '{files}/a.parquet' (FORMAT parquet)")
    check("admin: COPY TO Parquet inside --files-dir works", state is None, state)
    check("admin: read_csv inside --files-dir reads it",
          run(admin, f"SELECT a FROM read_csv('{files}/a.csv')") == (None, [(42,)]))
    state, _ = run(admin, f"COPY t FROM '{files}/a.csv' (HEADER)")
    check("admin: COPY t FROM a file inside --files-dir works",
          state is None and run(admin, "SELECT a FROM t") == (None, [(42,)]), state)
    for name, sql, path in [
        ("COPY TO a file outside --files-dir", f"COPY (SELECT 1) TO '{outside}/admin.csv'", f"{outside}/admin.csv"),
        ("COPY TO ../ out of --files-dir", f"COPY (SELECT 1) TO '{files}/../escape.csv'", f"{work}/escape.csv"),
        ("read_text('/etc/passwd')", "SELECT * FROM read_text('/etc/passwd')", None),
        ("ATTACH outside --files-dir", f"ATTACH '{outside}/admin.duckdb'", f"{outside}/admin.duckdb"),
        ("EXPORT DATABASE outside --files-dir", f"EXPORT DATABASE '{outside}/exp'", f"{outside}/exp"),
        ("SET profiling_output", f"SET profiling_output = '{files}/p.json'", f"{files}/p.json"),
        ("INSTALL httpfs", "INSTALL httpfs", None),
        ("SET GLOBAL enable_external_access", "SET GLOBAL enable_external_access = true", None),
    ]:
        state, msg = run(admin, sql)
        check(f"admin: {name} refused ({state})", state == "42501", f"{state} {msg!r}")
        if path:
            check(f"admin: ... {os.path.basename(path)} not written", not os.path.exists(path))
    check("admin: the session goes on", alive(admin))
    check("admin: CHECKPOINT", run(admin, "CHECKPOINT")[0] is None)
    check("admin: ATTACH in memory and DETACH", run(admin, "ATTACH ':memory:' AS scratch")[0] is None
          and run(admin, "DETACH scratch")[0] is None)

    # ------------------------------------------------------------ ro, rw and a trusted loopback user
    ro = connect(port, "ro", "pw-ro")
    rw = connect(port, "rw", "pw-rw")
    trusted = connect(tport, "anyone")
    run(trusted, "CREATE TABLE victim (line VARCHAR)")
    try_attacks("ro", ro, admin)
    try_attacks("rw", rw, admin)
    try_attacks("trusted", trusted, admin)
    check("the victim table is empty", run(admin, "SELECT count(*) FROM victim") == (None, [(0,)]))
    # the server's own objects: the catalog overlay every session uses, the journal's bookkeeping
    for label, conn in (("rw", rw), ("trusted", trusted)):
        for sql in ["CREATE OR REPLACE MACRO duckpond_pg.current_setting(x) AS 'mine'",
                    "DROP VIEW duckpond_pg.pg_class",
                    "CREATE TABLE duckpond_journal_state (applied_seq UBIGINT)"]:
            state, msg = run(conn, sql)
            check(f"{label}: {sql.split(' AS')[0]} refused ({state})", state == "42501" and "duckpond_" in msg,
                  f"{state} {msg!r}")
        try:
            conn.cursor().copy_expert("COPY duckpond_journal_state FROM STDIN", __import__("io").StringIO("0\n"))
            check(f"{label}: COPY duckpond_journal_state FROM STDIN refused", False)
        except psycopg2.Error as e:
            check(f"{label}: COPY duckpond_journal_state FROM STDIN refused", e.pgcode == "42501", e.pgcode)
    check("... the overlay is whole", run(rw, "SELECT count(*) > 0 FROM pg_class")[0] is None
          and run(rw, "SELECT current_setting('TimeZone')") == (None, [("UTC",)]))

    for sql in ["INSERT INTO t VALUES (1)", "UPDATE t SET a = 0", "DELETE FROM t", "CREATE TABLE u (a INT)",
                "DROP TABLE t", "EXPLAIN ANALYZE DELETE FROM t"]:
        state, msg = run(ro, sql)
        check(f"ro: {sql} refused ({state})", state == "25006" and "read-only" in msg, f"{state} {msg!r}")
    check("ro: ... t is as it was", run(admin, "SELECT a FROM t") == (None, [(42,)]))
    check("ro: reads", run(ro, "SELECT a FROM t") == (None, [(42,)]))
    check("ro: EXPLAIN ANALYZE SELECT", run(ro, "EXPLAIN ANALYZE SELECT * FROM t")[0] is None)
    cur = ro.cursor()
    try:
        cur.copy_expert("COPY t FROM STDIN", __import__("io").StringIO("5\n"))
        check("ro: COPY FROM STDIN refused", False)
    except psycopg2.Error as e:
        check("ro: COPY FROM STDIN refused", e.pgcode == "25006", e.pgcode)
    check("rw: writes", run(rw, "INSERT INTO t VALUES (1)")[0] is None
          and run(rw, "UPDATE t SET a = 2 WHERE a = 1")[0] is None and run(rw, "DELETE FROM t WHERE a = 2")[0]
          is None)
    # the server's own file work: COPY FROM STDIN reads a pipe through DuckDB's read_csv
    cur = rw.cursor()
    cur.copy_expert("COPY t FROM STDIN", __import__("io").StringIO("".join(f"{i}\n" for i in range(100000))))
    check("rw: COPY FROM STDIN works (a pipe read by DuckDB)", run(rw, "SELECT count(*) FROM t WHERE a < 100000")
          == (None, [(100001,)]))
    out = __import__("io").StringIO()
    cur.copy_expert("COPY (SELECT count(*) FROM t) TO STDOUT", out)
    check("rw: COPY TO STDOUT works", out.getvalue() == "100001\n", out.getvalue())
    try:
        cur.copy_expert("COPY (SELECT * FROM read_text('/etc/passwd')) TO STDOUT", __import__("io").StringIO())
        check("rw: COPY (read_text(...)) TO STDOUT refused", False)
    except psycopg2.Error as e:
        check("rw: COPY (read_text(...)) TO STDOUT refused", e.pgcode == "42501", e.pgcode)
    check("rw: ... the session goes on", alive(rw))
    trusted_ro_dir = os.path.join(work, "trust-ro")
    os.mkdir(trusted_ro_dir)
    rproc, rport = dptest.start(trusted_ro_dir, "--trust-role", "ro", env={"TMPDIR": runtmp})
    tro = connect(rport, "anyone")
    state, _ = run(tro, "CREATE TABLE x (a INT)")
    check("--trust-role ro: a trusted user is read-only", state == "25006", state)
    tro.close()
    check("--trust-role ro: the server stops cleanly", stop(rproc) == 0)

    # ------------------------------------------------------------ settings
    run(rw, "SET application_name = 'risk-desk'")
    check("SHOW application_name", run(rw, "SHOW application_name") == (None, [("risk-desk",)]))
    check("current_setting('application_name')",
          run(rw, "SELECT current_setting('application_name')") == (None, [("risk-desk",)]))
    check("... only in its session", run(ro, "SELECT current_setting('application_name')")[1] != [("risk-desk",)])
    run(rw, "SET statement_timeout = '5s'")
    run(rw, "SET DateStyle = 'ISO, DMY'")
    check("current_setting of statement_timeout, DateStyle, duckpond.ack",
          run(rw, "SELECT current_setting('statement_timeout'), current_setting('DateStyle'), "
                  "current_setting('duckpond.ack')") == (None, [("5s", "ISO, DMY", "commit")]))
    tz = run(rw, "SELECT current_setting('TimeZone')")
    check("current_setting of DuckDB's own (TimeZone)", tz == (None, [("UTC",)]), tz)
    state, _ = run(rw, "SET integer_division = true")
    check("a DuckDB setting of the connection: allowed", state is None, state)
    check("... and kept to the session", run(rw, "SELECT 7 / 2") == (None, [(3,)])
          and run(ro, "SELECT 7 / 2") == (None, [(3.5,)]))
    run(rw, "RESET integer_division")
    check("SET search_path (the session's)", run(rw, "SET search_path = 'main'")[0] is None)
    got = run(admin, "SET GLOBAL threads = 2"), run(rw, "SELECT current_setting('threads')")
    check("admin: SET GLOBAL threads", got[0][0] is None and got[1] == (None, [("2",)]), got)
    run(admin, f"SET GLOBAL threads = {THREADS}")

    # ------------------------------------------------------------ HTTP
    def post(sql, token, accept=None):
        headers = {"Authorization": f"Bearer {token}"}
        if accept:
            headers["Accept"] = accept
        req = urllib.request.Request(f"{base}/v1/query", data=json.dumps({"sql": sql}).encode(), headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def state_of(body):
        try:
            return json.loads(body)["error"]["sqlstate"]
        except (ValueError, KeyError, TypeError):
            return None

    for who, token in (("ro token", ro_token), ("rw token", rw_token)):
        for name, sql, path in [
            ("read_text('/etc/passwd')", "SELECT * FROM read_text('/etc/passwd')", None),
            ("glob('/root/*')", "SELECT * FROM glob('/root/*')", None),
            ("read_csv inside --files-dir", f"SELECT * FROM read_csv('{files}/a.csv')", None),
            ("COPY TO a file", f"COPY (SELECT 'x') TO '{outside}/h.csv'", f"{outside}/h.csv"),
            ("COPY FROM a file", "COPY victim FROM '/etc/passwd'", None),
            ("EXPORT DATABASE", f"EXPORT DATABASE '{outside}/hexp'", f"{outside}/hexp"),
            ("CHECKPOINT", "CHECKPOINT", None),
            ("INSTALL httpfs", "INSTALL httpfs", None),
        ]:
            status, body = post(sql, token)
            st = state_of(body)
            check(f"HTTP {who}: {name} refused ({status} {st})", status in (400, 403) and st in ("42501", "0A000"),
                  body[:200])
            if path:
                check(f"HTTP {who}: ... {os.path.basename(path)} not written", not os.path.exists(path))
    for who, token in (("ro token", ro_token), ("rw token", rw_token)):
        req = urllib.request.Request(f"{base}/v1/tables/duckpond_journal_state/rows", data=b'{"applied_seq": 0}\n',
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/x-ndjson"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        check(f"HTTP {who}: ingest into duckpond_journal_state refused ({status} {state_of(body)})",
              status == 403 and state_of(body) in ("25006", "42501"), body[:200])
    status, body = post("INSERT INTO t VALUES (9)", ro_token)
    check("HTTP ro token: INSERT refused (25006)", status == 403 and state_of(body) == "25006", body[:200])
    status, body = post("SELECT count(*) AS n FROM t", ro_token, "application/vnd.apache.parquet")
    check("HTTP ro token: a Parquet answer (written by DuckDB) works", status == 200 and body[:4] == b"PAR1",
          body[:100])
    status, body = post("SELECT 1 AS one", ro_token)
    check("HTTP ro token: still answers", status == 200 and b'"one"' in body, body[:200])
    admin.close()
    ro.close()
    rw.close()
    trusted.close()
finally:
    check("the server stops cleanly", stop(proc) == 0)
    check("the trusting server stops cleanly", stop(tproc) == 0)
    check("the servers' private directories are gone", os.listdir(runtmp) == [], os.listdir(runtmp))
    shutil.rmtree(work, ignore_errors=True)
dptest.finish()
