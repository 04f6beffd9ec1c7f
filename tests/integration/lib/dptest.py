"""Helpers shared by the Python integration tests (tests/integration/*.py).

A test imports this module (after putting this folder on sys.path) to
count its checks, start and stop duckpond servers and end the way
tests/run.sh expects:

- check(name, cond, detail) prints "ok   name" or "FAIL name detail" and
  counts it; finish() prints the closing "N passed, N failed" line and
  exits 1 if any check failed, 0 otherwise;
- start(folder, ...) runs `$DUCKPOND_BIN serve` on 127.0.0.1 with the
  PostgreSQL and HTTP ports chosen by the system (0), waits for the port
  file and returns (process, PostgreSQL port); the port file and the
  server's stderr log live in the given folder, the database too unless
  another is named. spawn() and wait_ready() are its two halves, for a
  test that must act while the server is still starting;
- stop(proc) sends SIGTERM and returns the server's exit status;
- free_port() gives a free TCP port on 127.0.0.1;
- metric(http_port, name) reads one counter from the server's GET /metrics;
- pg_connect(port, options, autocommit) opens a psycopg2 connection as
  user "py" to database duckpond (options: "-c name=value" settings);
  one(conn, sql, args) runs a statement and returns its first row;
  pgcode_of(fn) runs fn and returns the SQLSTATE it failed with, or None;
- SANITIZED is true when the server is the AddressSanitizer build, whose
  memory figures (shadow memory, quarantine) say nothing of duckpond's.

This folder holds no tests itself: tests/run.sh runs only the files at
the top of tests/integration.
"""
import os
import socket
import subprocess
import sys
import time

BIN = os.environ.get("DUCKPOND_BIN") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../build/duckpond"))
passed = failed = 0


def _sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized(BIN)


def check(name, cond, detail=""):
    """Counts one check and prints its outcome."""
    global passed, failed
    if cond:
        passed += 1
        print("ok  ", name)
    else:
        failed += 1
        print("FAIL", name, detail)
    sys.stdout.flush()


def finish():
    """Prints the closing count line and exits non-zero on any failure."""
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def metric(http_port, name):
    """The value of the unlabelled metric name in GET /metrics on http_port."""
    import re
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10).read().decode()
    return int(re.search(r"^" + re.escape(name) + r" (\d+)$", text, re.M).group(1))


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def spawn(folder, *extra, db=None, log="server.log", env=None, wrap=None):
    """Starts a server without waiting for it; returns (proc, portfile).

    folder holds the port file ("port") and the stderr log (appended to);
    db defaults to folder/db.duckdb; extra are more `serve` options (an
    --http-port among them replaces the default 0); env adds variables to
    the server's environment; wrap, if given, maps the command line to
    the one to run (e.g. to run the server inside another namespace).
    The log's path is kept as proc.log_path."""
    portfile = os.path.join(folder, "port")
    if os.path.exists(portfile):
        os.unlink(portfile)
    cmd = [BIN, "serve", "--db", db or os.path.join(folder, "db.duckdb"), "--pg-port", "0"]
    if "--http-port" not in extra:
        cmd += ["--http-port", "0"]
    cmd += ["--port-file", portfile, *extra]
    if wrap:
        cmd = wrap(cmd)
    proc = subprocess.Popen(cmd, stderr=open(os.path.join(folder, log), "a"),
                            env={**os.environ, **env} if env else None)
    proc.log_path = os.path.join(folder, log)
    return proc, portfile


def wait_ready(proc, portfile, timeout=20):
    """Waits for the port file; returns the PostgreSQL port."""
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(portfile) and open(portfile).read().strip():
            return int(open(portfile).read())
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s; see %s" % (proc.returncode, proc.log_path))
        time.sleep(0.02)
    raise RuntimeError("server did not start")


def start(folder, *extra, timeout=20, **kw):
    """spawn() then wait_ready(); returns (proc, PostgreSQL port)."""
    proc, portfile = spawn(folder, *extra, **kw)
    return proc, wait_ready(proc, portfile, timeout)


def stop(proc):
    """SIGTERM, then the server's exit status."""
    proc.terminate()
    return proc.wait(timeout=30)


def pg_connect(port, options=None, autocommit=True):
    """A psycopg2 connection to the server on port (psycopg2 is imported here, for the tests that use it)."""
    import psycopg2
    kw = {"options": options} if options else {}
    c = psycopg2.connect(host="127.0.0.1", port=port, user="py", dbname="duckpond", connect_timeout=10, **kw)
    c.autocommit = autocommit
    return c


def one(conn, sql, args=None):
    """The first row of a statement's result."""
    cur = conn.cursor()
    cur.execute(sql, args)
    return cur.fetchone()


def pgcode_of(fn):
    """Runs fn; the SQLSTATE of the PostgreSQL error it raised, or None."""
    import psycopg2
    try:
        fn()
        return None
    except psycopg2.Error as e:
        return e.pgcode
