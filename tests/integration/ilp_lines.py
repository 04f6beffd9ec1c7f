#!/usr/bin/env python3
"""The line protocol through a real duckpond server, over HTTP and TCP, on
127.0.0.1 and free ports, checked by reading the tables back with psycopg2:

- HTTP: POST /write and /api/v2/write answer 204 once the rows are in,
  every precision, GET /ping 204, a bad line rejects the request with 400
  naming its line and none of the request's lines is kept, tokens
  (Bearer and InfluxDB's Token) with a users file, read-only users refused;
- tables and columns made on first sight with QuestDB's types, an existing
  table's types respected, type conflicts, reserved names, auto-creation
  off, TIMESTAMP_NS when asked;
- the tricky lines: every escape, every type and spelling, comments and
  blank lines, a line split across TCP packets at every byte, a 10 MB
  line (and one past the limit), binary garbage, many tiny packets;
- TCP: a bad line closes the connection and the lines before it are kept;
  the counters in /metrics;
- backpressure: a TCP client faster than DuckDB never takes the batcher's
  queue past its cap (--queue-max-rows), and every row arrives;
- crash safety: journal-mode HTTP writes acknowledged 204 survive SIGKILL.
"""
import json, os, random, signal, socket, subprocess, sys, tempfile, time, urllib.request
import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
from dptest import check, free_port, stop  # noqa: E402

work = tempfile.mkdtemp(prefix="duckpond-ilp-")


def post(http_port, path, body, headers=None):
    """POST body; returns (status, headers, body text)."""
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(f"http://127.0.0.1:{http_port}{path}", data=body, headers=headers or {},
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def tcp_send(port, chunks, pause=0.0):
    """Sends each chunk as its own write on one connection, then closes; waits for the server to close."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for c in chunks:
        try:
            s.sendall(c)
        except OSError:
            break
        if pause:
            time.sleep(pause)
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the server closed it first (a bad line)
    s.settimeout(60)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()


def connect(pg_port):
    c = psycopg2.connect(host="127.0.0.1", port=pg_port, user="py", dbname="duckpond", connect_timeout=10)
    c.autocommit = True
    return c


def rows(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchall()


def execute(conn, sql):
    conn.cursor().execute(sql)


def wait_rows(conn, sql, want, timeout=20):
    """Polls sql until it returns want (TCP has no answer to wait for)."""
    end = time.time() + timeout
    got = None
    while time.time() < end:
        got = rows(conn, sql)
        if got == want:
            return got
        time.sleep(0.05)
    return got


def metric_labeled(http_port, name, label):
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{" + label + "}"):
            return int(line.split()[-1])
    return None


def test_http(http, conn):
    st, _, body = post(http, "/api/v2/write?precision=s&bucket=b&org=o",
                       "trades,sym=AAPL price=1.5,size=100i 1700000000\n"
                       "trades,sym=MSFT price=2.5,size=7i,note=\"x y\" 1700000001\n")
    check("v2 write answers 204", st == 204, (st, body))
    got = rows(conn, "select timestamp::varchar, sym, price, size, note from trades order by timestamp")
    check("rows in, seconds precision", got == [("2023-11-14 22:13:20", "AAPL", 1.5, 100, None),
                                                ("2023-11-14 22:13:21", "MSFT", 2.5, 7, "x y")], got)
    types = dict(rows(conn, "select column_name, data_type from information_schema.columns "
                            "where table_name = 'trades'"))
    check("QuestDB's types", types == {"timestamp": "TIMESTAMP", "sym": "VARCHAR", "price": "DOUBLE",
                                        "size": "BIGINT", "note": "VARCHAR"}, types)
    for prec, ts in (("ms", "1700000002000"), ("us", "1700000003000000"), ("ns", "1700000004000000000"),
                     (None, "1700000005000000000")):
        q = "/write" + (f"?precision={prec}" if prec else "")
        st, _, body = post(http, q, f"trades,sym=P price=9 {ts}")  # no final newline
        check(f"precision {prec}", st == 204, (st, body))
    got = rows(conn, "select timestamp::varchar from trades where sym = 'P' order by 1")
    check("every precision lands on the right second",
          got == [("2023-11-14 22:13:%02d" % s,) for s in (22, 23, 24, 25)], got)
    before = rows(conn, "select count(*) from trades")[0][0]
    st, _, body = post(http, "/write", "trades,sym=A price=1\n\n# fine\ntrades price=abc\ntrades price=2\n")
    j = json.loads(body)
    check("a bad line: 400 naming its line", st == 400 and j["line"] == 4 and "line 4" in j["message"]
          and "price" in j["message"] and j["code"] == "invalid", (st, body))
    check("a rejected request keeps none of its lines", rows(conn, "select count(*) from trades")[0][0] == before)
    st, _, body = post(http, "/write?precision=h", "trades price=1")
    check("a bad precision: 400", st == 400 and "precision" in body, (st, body))
    st, _, body = post(http, "/write?ack=maybe", "trades price=1")
    check("a bad ack mode: 400", st == 400, (st, body))
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/ping", timeout=10) as r:
        check("GET /ping: 204", r.status == 204)
    st, _, body = post(http, "/write", "trades,sym=T price=\"text\"\n")
    check("a string into DOUBLE conflicts", st == 400 and "DOUBLE" in body and "string" in body, body)
    st, _, body = post(http, "/write", "trades,sym=T size=1.5\n")
    check("a float into BIGINT conflicts", st == 400 and "float" in body, body)
    st, _, body = post(http, "/write", "trades,sym=T note=1i\n")
    check("an integer into VARCHAR conflicts", st == 400 and "VARCHAR" in body, body)
    st, _, body = post(http, "/write", "trades,sym=T price=3i,size=4u\n")
    check("integers into DOUBLE and BIGINT convert", st == 204, body)
    st, _, body = post(http, "/write", "duckpond_x v=1\n")
    check("duckpond_ names are reserved", st == 400 and "reserved" in body, body)
    st, _, body = post(http, "/write", "trades,sym=A timestamp=1i\n")
    check("a field named timestamp is refused", st == 400 and "timestamp" in body, body)
    st, _, body = post(http, "/write", "trades,sym=A,Sym=B price=1\n")
    check("a name given twice (any case) is refused", st == 400 and "twice" in body, body)
    st, _, body = post(http, "/write", "trades,sym=N price=1,extra=true,ext2=-5i\n")
    check("new columns added", st == 204, body)
    types = dict(rows(conn, "select column_name, data_type from information_schema.columns "
                            "where table_name = 'trades'"))
    check("added columns typed", types.get("extra") == "BOOLEAN" and types.get("ext2") == "BIGINT", types)
    # an existing table's types are respected and converted to
    execute(conn, "create table typed (timestamp timestamptz, sym varchar, qty integer, px decimal(10,2), "
               "u ubigint, d date)")
    st, _, body = post(http, "/write", 'typed,sym=Z qty=12i,px=1.25,u=18446744073709551615u,d="2026-11-29" 0\n')
    check("an existing table's types", st == 204, body)
    got = rows(conn, "select timestamp::varchar, sym, qty, px::varchar, u::varchar, d::varchar from typed")
    check("converted to them", got == [("1970-01-01 00:00:00+00", "Z", 12, "1.25", "18446744073709551615",
                                        "2026-11-29")], got)
    st, _, body = post(http, "/write", "typed qty=99999999999i\n")
    check("out of the column's range: 400, the line named", st == 400 and "line 1" in body, body)
    # a table made beforehand names its designated timestamp as it likes: its first timestamp column
    execute(conn, "create table desk_trades (symbol varchar, ts timestamp, price double, size bigint)")
    st, _, body = post(http, "/write?precision=s", "desk_trades,symbol=X price=1.5,size=10i 1700000000\n")
    got = rows(conn, "select ts::varchar, symbol, price, size from desk_trades")
    check("the time goes to the table's first timestamp column",
          st == 204 and got == [("2023-11-14 22:13:20", "X", 1.5, 10)], (st, body, got))
    cols = [r[0] for r in rows(conn, "select column_name from information_schema.columns "
                                     "where table_name = 'desk_trades' order by ordinal_position")]
    check("and no column timestamp is added", cols == ["symbol", "ts", "price", "size"], cols)
    st, _, body = post(http, "/write", "desk_trades,symbol=X ts=5i\n")
    check("a field named as that column is refused", st == 400 and "designated" in body, (st, body))


def test_escapes_and_types(http, conn):
    body = ("# every escape\n"
            "esc\\ ap\\,ed,t\\ k\\=\\,=v\\ 1\\,\\= f\\ k\\=\\,=\"s\\\"q\\\\b\\n\" 1\n"
            "esc\\ ap\\,ed,t\\ k\\=\\,=w f\\ k\\=\\,=\"multi\nline, with = signs\" 2\n")
    st, _, resp = post(http, "/write", body)
    check("escapes accepted", st == 204, resp)
    got = rows(conn, 'select "t k=,", "f k=," from "esc ap,ed" order by timestamp')
    check("escapes unescaped", got == [("v 1,=", 's"q\\b\\n'), ("w", "multi\nline, with = signs")], got)
    body = "\n".join(f"spell b={s}" for s in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False",
                                              "FALSE")) + "\n"
    st, _, resp = post(http, "/write", body)
    got = rows(conn, "select count(*) filter (where b), count(*) filter (where not b) from spell")
    check("every boolean spelling", st == 204 and got == [(5, 5)], (st, resp, got))
    st, _, resp = post(http, "/write", "nums i=-9223372036854775808i,u=18446744073709551615u,f=-1.5e-3,g=5.,h=.5\n")
    got = rows(conn, "select i, u::varchar, f, g, h from nums")
    check("number limits and spellings", st == 204 and got == [(-9223372036854775808, "18446744073709551615",
                                                                 -0.0015, 5.0, 0.5)], (resp, got))


def test_tcp(tcp, http, conn):
    lines = b"tq,sym=A bid=1.0,ask=2.0 1700000000000000000\ntq,sym=B bid=1.5,ask=2.5,bs=3i 1700000000000000001\n"
    # split at every byte: one connection per cut point, all lines kept
    for cut in range(1, len(lines)):
        tcp_send(tcp, [lines[:cut], lines[cut:]], pause=0.002 if cut % 17 == 0 else 0)
    got = wait_rows(conn, "select count(*) from tq", [(2 * (len(lines) - 1),)])
    check("a line split at every byte", got == [(2 * (len(lines) - 1),)], got)
    # one byte per packet
    tcp_send(tcp, [bytes([b]) for b in b"tbyte,s=x v=1i 5\ntbyte,s=y v=2i 6\n"])
    got = wait_rows(conn, "select s, v from tbyte order by v", [("x", 1), ("y", 2)])
    check("one byte at a time", got == [("x", 1), ("y", 2)], got)
    # a bad line: the lines before it are kept, the connection closed, the lines after it not read
    errors_before = metric_labeled(http, "duckpond_ilp_errors_total", 'reason="syntax"')
    s = socket.create_connection(("127.0.0.1", tcp))
    s.sendall(b"tbad v=1i 1\ntbad v=2i 2\ntbad v=oops 3\ntbad v=4i 4\n")
    s.settimeout(20)
    closed = s.recv(10) == b""
    s.close()
    check("a bad line closes the connection", closed)
    got = wait_rows(conn, "select v from tbad order by v", [(1,), (2,)])
    check("the lines before a bad line are kept, not those after", got == [(1,), (2,)], got)
    check("the bad line is counted", metric_labeled(http, "duckpond_ilp_errors_total", 'reason="syntax"')
          == errors_before + 1)
    # binary garbage: refused, nothing written, the server lives on
    random.seed(7)
    garbage = bytes(random.randrange(256) for _ in range(100000))
    tcp_send(tcp, [garbage[i:i + 1000] for i in range(0, len(garbage), 1000)])
    st, _, _ = post(http, "/write", "alive v=1i\n")
    check("binary garbage: the server lives on", st == 204)
    # many tiny packets: 20,000 lines, each its own send
    tcp_send(tcp, [b"tiny,k=a v=%di %d\n" % (i, i) for i in range(20000)])
    got = wait_rows(conn, "select count(*), sum(v) from tiny", [(20000, 20000 * 19999 // 2)], timeout=60)
    check("20,000 tiny packets", got == [(20000, 20000 * 19999 // 2)], got)
    # many rows fast through one connection, in pieces that cut lines anywhere
    big = b"".join(b"fast,sym=S%d px=%d.5,qty=%di %d\n" % (i % 50, i, i, 1700000000000000000 + i)
                   for i in range(200000))
    tcp_send(tcp, [big[i:i + 65000] for i in range(0, len(big), 65000)])
    got = wait_rows(conn, "select count(*), sum(qty) from fast", [(200000, 200000 * 199999 // 2)], timeout=120)
    check("200,000 rows over one connection", got == [(200000, 200000 * 199999 // 2)], got)
    page = urllib.request.urlopen(f"http://127.0.0.1:{http}/", timeout=10).read().decode()
    check("the status page's line protocol tile", all(f'id="ilp_{k}"' in page for k in ("lines", "rows", "errors")))
    check("connections counted", metric_labeled(http, "duckpond_connections_total", 'protocol="line"') > 50)


def test_long_lines(tcp, http, conn):
    val = "x" * (10 << 20)
    st, _, body = post(http, "/write", f'long,k=a s="{val}"\n')
    check("a 10 MB line over HTTP", st == 204, body[:200])
    line = f'long,k=b s="{val}"\n'.encode()
    tcp_send(tcp, [line[i:i + 65536] for i in range(0, len(line), 65536)])
    got = wait_rows(conn, "select k, length(s) from long order by k", [("a", 10 << 20), ("b", 10 << 20)])
    check("a 10 MB line over TCP, in 64 KiB pieces", got == [("a", 10 << 20), ("b", 10 << 20)], got)
    before = metric_labeled(http, "duckpond_ilp_errors_total", 'reason="line_too_long"')
    too_long = b'long,k=c s="' + b"y" * (17 << 20) + b'"\n'
    tcp_send(tcp, [too_long[i:i + 65536] for i in range(0, len(too_long), 65536)])
    time.sleep(0.3)
    check("past the line limit: refused and counted",
          metric_labeled(http, "duckpond_ilp_errors_total", 'reason="line_too_long"') == before + 1
          and rows(conn, "select count(*) from long where k = 'c'") == [(0,)])


def test_options():
    """A users file and tokens; auto-creation off; TIMESTAMP_NS."""
    out = subprocess.run([dptest.BIN, "passwd", "--users", os.path.join(work, "users"), "w"], input="pw\n",
                         capture_output=True, text=True, check=True).stdout
    token = out.split("HTTP token (shown once):")[1].split()[0]
    out = subprocess.run([dptest.BIN, "passwd", "--users", os.path.join(work, "users"), "--read-only", "r"],
                         input="pw\n", capture_output=True, text=True, check=True).stdout
    ro = out.split("HTTP token (shown once):")[1].split()[0]
    http = free_port()
    d = os.path.join(work, "opt")
    os.makedirs(d)
    proc, pg = dptest.start(d, "--users", os.path.join(work, "users"), "--http-port", str(http), "--ilp-port", "0",
                            "--ilp-auto-create=false", "--ilp-timestamp", "timestamp_ns")
    st, _, _ = post(http, "/write", "a v=1")
    check("no token: 401", st == 401)
    st, _, _ = post(http, "/write", "a v=1", {"Authorization": "Token " + ro})
    check("a read-only user: 403", st == 403)
    st, _, body = post(http, "/write", "a v=1", {"Authorization": "Token " + token})
    check("auto-creation off: a missing table is refused", st == 400 and "does not exist" in body, body)
    conn = psycopg2.connect(host="127.0.0.1", port=pg, user="w", password="pw", dbname="duckpond")
    conn.autocommit = True
    execute(conn, "create table a (timestamp timestamp_ns, v double)")
    st, _, body = post(http, "/write", "a v=1,w=2", {"Authorization": "Bearer " + token})
    check("auto-creation off: a missing column is refused", st == 400 and "no column" in body, body)
    st, _, body = post(http, "/write", "a v=1 1700000000123456789", {"Authorization": "Token " + token})
    got = rows(conn, "select timestamp::varchar from a")
    check("TIMESTAMP_NS keeps nanoseconds", st == 204 and got == [("2023-11-14 22:13:20.123456789",)], (body, got))
    conn.close()
    check("clean stop", stop(proc) == 0)


def test_backpressure():
    """A TCP client faster than DuckDB: the batcher's queue never passes its cap, every row arrives."""
    import threading
    http, tcp = free_port(), free_port()
    d = os.path.join(work, "backpressure")
    os.makedirs(d)
    cap = 20000
    proc, pg = dptest.start(d, "--http-port", str(http), "--ilp-port", str(tcp), "--queue-max-rows", str(cap))
    peak, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=10) as r:
                    for ln in r.read().decode().splitlines():
                        if ln.startswith("duckpond_batcher_queue_rows "):
                            peak[0] = max(peak[0], int(float(ln.split()[1])))
            except OSError:
                pass
            time.sleep(0.01)
    th = threading.Thread(target=sample)
    th.start()
    n = 400000
    body = "".join(f"bp,sym=S{i % 50} px={i}.5,q={i}i {1700000000000000000 + i}\n" for i in range(n)).encode()
    tcp_send(tcp, [body[i:i + (1 << 20)] for i in range(0, len(body), 1 << 20)])
    conn = connect(pg)
    got = wait_rows(conn, "select count(*), sum(q) from bp", [(n, n * (n - 1) // 2)])
    done.set()
    th.join()
    check("backpressure: every row arrives", got == [(n, n * (n - 1) // 2)], got)
    print(f"     the queue peaked at {peak[0]} rows")
    check(f"backpressure: the queue stayed within its cap ({cap} rows)", 0 < peak[0] <= cap, peak[0])
    conn.close()
    check("backpressure: clean stop", stop(proc) == 0)


def test_crash():
    """Journal-mode HTTP writes, SIGKILL; every 204 survives, none twice."""
    d = os.path.join(work, "crash")
    os.makedirs(d)
    db = os.path.join(d, "db.duckdb")
    acked = []
    for round_ in range(3):
        http = free_port()
        proc, pg = dptest.start(d, "--http-port", str(http), "--ilp-port", "0", "--ilp-ack", "journal", db=db)
        deadline = time.time() + random.uniform(0.3, 1.0)
        n = 0
        while time.time() < deadline:
            ids = range(round_ * 1000000 + n * 100, round_ * 1000000 + n * 100 + 100)
            try:
                st, _, _ = post(http, "/write", "".join(f"crash,r=r{round_} id={i}i\n" for i in ids))
            except OSError:
                break
            if st == 204:
                acked.extend(ids)
            n += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    http = free_port()
    proc, pg = dptest.start(d, "--http-port", str(http), "--ilp-port", "0", db=db)
    conn = connect(pg)
    got = rows(conn, "select id from crash")
    ids = [r[0] for r in got]
    check("every acknowledged row survives SIGKILL", set(acked) <= set(ids), len(set(acked) - set(ids)))
    check("no row twice", len(ids) == len(set(ids)), len(ids) - len(set(ids)))
    check("rows were written", len(acked) > 0, len(acked))
    conn.close()
    stop(proc)


def main():
    http, tcp = free_port(), free_port()
    proc, pg = dptest.start(work, "--http-port", str(http), "--ilp-port", str(tcp))
    conn = connect(pg)
    try:
        test_http(http, conn)
        test_escapes_and_types(http, conn)
        test_tcp(tcp, http, conn)
        test_long_lines(tcp, http, conn)
    finally:
        conn.close()
        check("clean stop", stop(proc) == 0)
    test_options()
    test_backpressure()
    test_crash()
    dptest.finish()


main()
