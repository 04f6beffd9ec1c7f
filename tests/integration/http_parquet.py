#!/usr/bin/env python3
"""Parquet answers of a real duckpond server, fetched the way pandas'
read_parquet(url, storage_options={"Authorization": "Bearer ..."}) does
for an http:// URL (urllib.request with the options as headers: a plain
GET), and read back by DuckDB itself (read_parquet through the server's
PostgreSQL port, with psycopg2, by an admin user in the server's
--files-dir: reading a server file is an admin's), beside the same rows queried directly.
Also: a POST asking by Accept header, errors as JSON, tokens required."""
import json, os, shutil, subprocess, sys, tempfile, urllib.error, urllib.parse, urllib.request
import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
from dptest import check, stop  # noqa: E402

work = os.path.realpath(tempfile.mkdtemp(prefix="duckpond-pq-"))
PARQUET = "application/vnd.apache.parquet"


def passwd(name, password, *flags):
    """Adds a user to work/users; returns its HTTP token."""
    out = subprocess.run([dptest.BIN, "passwd", "--users", os.path.join(work, "users"), *flags, name],
                         input=password + "\n", capture_output=True, text=True, check=True).stdout
    return out.split("HTTP token (shown once):")[1].split()[0]


def get(url, headers=None):
    """What pandas does for an http(s) URL: urllib with storage_options as
    headers. Returns (status, headers, body); an HTTP error is an answer too."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def query_url(sql, params=None, fmt="parquet"):
    args = {"sql": sql, "format": fmt}
    if params is not None:
        args["params"] = json.dumps(params)
    return f"{base}/v1/query?{urllib.parse.urlencode(args)}"


def sqlstate(body):
    try:
        return json.loads(body)["error"]["sqlstate"]
    except (ValueError, KeyError, TypeError):
        return None


writer = passwd("writer", "pw-w")
reader = passwd("reader", "pw-r", "--read-only")
passwd("auditor", "pw-a", "--role", "admin")
http_port = dptest.free_port()
proc, port = dptest.start(work, "--users", os.path.join(work, "users"), "--http-port", str(http_port),
                          "--files-dir", work)
base = f"http://127.0.0.1:{http_port}"
try:
    auth_w = {"Authorization": f"Bearer {writer}"}
    auth_r = {"Authorization": f"Bearer {reader}"}
    body = json.dumps({"sql": "CREATE TABLE trades AS SELECT TIMESTAMP '2026-03-02 09:30:00' + "
                              "INTERVAL (i * 10) MILLISECOND AS ts, ['AAPL', 'MSFT', 'NVDA'][i % 3 + 1] AS symbol, "
                              "(i % 500 + 1)::DOUBLE AS quantity, 100 + (i % 1000) / 8.0 AS price "
                              "FROM range(300000) t(i)"}).encode()
    req = urllib.request.Request(f"{base}/v1/query", data=body, headers=auth_w)
    check("the table is made", urllib.request.urlopen(req, timeout=60).status == 200)

    # what a pandas user types, with the token as pandas passes storage_options
    url = query_url("SELECT * FROM trades WHERE symbol = $1 AND price >= $2 ORDER BY ts", ["MSFT", 150])
    status, hdrs, data = get(url, auth_r)
    check("GET ...&format=parquet answers 200", status == 200, f"{status} {data[:200]!r}")
    check("... as application/vnd.apache.parquet", hdrs.get("Content-Type") == PARQUET, hdrs.get("Content-Type"))
    check("... a whole Parquet file", data[:4] == b"PAR1" and data[-4:] == b"PAR1"
          and len(data) == int(hdrs.get("Content-Length", -1)), f"{len(data)} bytes")
    path = os.path.join(work, "answer.parquet")
    with open(path, "wb") as f:
        f.write(data)

    conn = psycopg2.connect(host="127.0.0.1", port=port, user="auditor", password="pw-a", dbname="duckpond")
    cur = conn.cursor()
    summary = ("count(*), sum(quantity), min(ts)::VARCHAR, max(ts)::VARCHAR, "
               "count(DISTINCT symbol), string_agg(DISTINCT typeof(ts) || typeof(price), ',')")
    cur.execute(f"SELECT {summary} FROM read_parquet(%s)", (path,))
    got = cur.fetchone()
    cur.execute(f"SELECT {summary} FROM trades WHERE symbol = 'MSFT' AND price >= 150")
    want = cur.fetchone()
    check("DuckDB reads back the rows the query gives", got == want and want[0] > 10000, f"{got} != {want}")
    check("... and the row count header says so", hdrs.get("X-Duckpond-Row-Count") == str(want[0]))
    cur.execute("SELECT count(*) FROM (SELECT ts, lag(ts) OVER () AS prev FROM read_parquet(%s)) "
                "WHERE ts < prev", (path,))
    check("... in the query's order", cur.fetchone()[0] == 0)

    # a parameter stays a value
    status, _, data = get(query_url("SELECT count(*) AS n FROM trades WHERE symbol = $1", ["x' OR '1'='1"]), auth_r)
    with open(path, "wb") as f:
        f.write(data)
    cur.execute("SELECT n FROM read_parquet(%s)", (path,))
    check("an injection in params matches nothing", status == 200 and cur.fetchone()[0] == 0)

    # POST asking by the Accept header
    body = json.dumps({"sql": "SELECT symbol, count(*) AS n FROM trades GROUP BY 1 ORDER BY 1"}).encode()
    req = urllib.request.Request(f"{base}/v1/query", data=body, headers={**auth_r, "Accept": PARQUET})
    with urllib.request.urlopen(req, timeout=60) as r:
        data = r.read()
    with open(path, "wb") as f:
        f.write(data)
    cur.execute("SELECT list(symbol || '=' || n) FROM read_parquet(%s)", (path,))
    check("POST with Accept: application/vnd.apache.parquet", cur.fetchone()[0] == ["AAPL=100000", "MSFT=100000",
                                                                                   "NVDA=100000"])

    # errors are JSON, as for every other answer
    status, hdrs, data = get(query_url("SELECT * FROM trades WHERE symbol = $1", ["AAPL"]))
    check("no token: 401 with a JSON error", status == 401 and sqlstate(data) == "28000", f"{status} {data!r}")
    status, hdrs, data = get(query_url("SELEKT 1"), auth_r)
    check("bad SQL: 400, 42601, JSON", status == 400 and sqlstate(data) == "42601"
          and hdrs.get("Content-Type") == "application/json", f"{status} {data!r}")
    status, _, data = get(query_url("SELECT $1::INTEGER", ["abc"]), auth_r)
    check("a parameter that cannot be bound: 400, 22P02", status == 400 and sqlstate(data) == "22P02", data)
    status, _, data = get(query_url("DELETE FROM trades"), auth_w)
    check("a GET never writes, even with a writer's token", status == 405 and sqlstate(data) == "25006", data)
    cur.execute("SELECT count(*) FROM trades")
    check("... the table is whole", cur.fetchone()[0] == 300000)
    conn.close()
finally:
    rc = stop(proc)
    check("the server stops cleanly", rc == 0, rc)
    shutil.rmtree(work, ignore_errors=True)
dptest.finish()
