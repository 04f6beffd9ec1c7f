"""duckpond ticks, the tick generator, end to end.

The same --seed and --start give the same bytes; every standard-output
line is InfluxDB line protocol; --rate is honoured within 25% over a few
seconds; the rows arrive whole in duckpond over PostgreSQL COPY
(postgres://) and over the HTTP NDJSON ingest (http://), with per-table
counts and sums equal to what the same seed writes to standard output; the
line protocol reaches a TCP listener (ilp://) and an HTTP POST /write
(ilp+http://) byte for byte, here small stand-ins for a line-protocol
server; a destination that refuses fails the run with its message.
"""
import http.server
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import psycopg2  # noqa: E402
from dptest import BIN, check, finish, free_port, start, stop  # noqa: E402

START = "2026-01-02 09:30:00"
LINE = re.compile(r"^(trades|quotes),symbol=[A-Z0-9]+ ([a-z_]+=-?[0-9.]+i?)(,[a-z_]+=-?[0-9.]+i?)* [0-9]{19}$")


def ticks(*args, timeout=120):
    """Runs duckpond ticks; returns (exit status, stdout bytes, stderr text)."""
    p = subprocess.run([BIN, "ticks", *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode()


def expected(lines):
    """Per table: the row count and the sum of sizes (trades) or bid sizes (quotes)."""
    out = {"trades": [0, 0], "quotes": [0, 0]}
    for ln in lines:
        table = ln.split(",", 1)[0]
        field = "size" if table == "trades" else "bid_size"
        out[table][0] += 1
        out[table][1] += int(re.search(r"[ ,]" + field + r"=(\d+)i", ln).group(1))
    return out


def in_db(cur):
    """The same figures, read from the database."""
    out = {}
    for table, field in (("trades", "size"), ("quotes", "bid_size")):
        cur.execute(f"select count(*), sum({field}) from {table}")
        out[table] = [int(v) for v in cur.fetchone()]
    return out


work = tempfile.mkdtemp(prefix="duckpond-ticks-")
common = ["--seed", "7", "--start", START, "--symbols", "30"]

# ---- determinism and the line protocol
rc1, out1, _ = ticks(*common, "--count", "20000", "--fast")
rc2, out2, _ = ticks(*common, "--count", "20000", "--fast", "--to", "stdout")
rc3, out3, _ = ticks("--seed", "8", "--start", START, "--symbols", "30", "--count", "20000", "--fast")
check("same seed, same bytes", rc1 == 0 and rc2 == 0 and out1 == out2 and len(out1) > 100000)
check("another seed, other bytes", rc3 == 0 and out3 != out1)
lines = out1.decode().splitlines()
bad = [ln for ln in lines if not LINE.match(ln)]
check("20000 line-protocol lines", len(lines) == 20000 and not bad, bad[:3])
stamps = [int(ln.rsplit(" ", 1)[1]) for ln in lines]
check("timestamps in order, from --start", stamps == sorted(stamps) and stamps[0] // 10**9 == 1767346200)
want = expected(lines)
check("a third of them trades", 6000 < want["trades"][0] < 7400, want)

# ---- the rate, paced by the wall clock
# (market time keeps up with the wall clock; over a few seconds the count
# swings with the calm and burst spells, which average out over minutes)
t0 = time.time()
rc, out, err = ticks("--rate", "3000", "--duration", "4", "--start", "now", "--seed", "3")
took = time.time() - t0
out = out.decode().splitlines()
n = len(out)
check("--rate 3000 for 4 s: 12000 rows within 25%", rc == 0 and 9000 <= n <= 15000 and 3.5 < took < 7,
      (n, took, err))
span = (int(out[-1].rsplit(" ", 1)[1]) - int(out[0].rsplit(" ", 1)[1])) / 1e9 if out else 0
check("market time keeps up with the wall clock", 3.5 < span <= 4.0 and took - span < 2.5, (span, took))

# ---- end to end into duckpond: COPY and NDJSON
proc, pgport = start(work, "--http-port", str(http_port := free_port()))
try:
    dsn = f"postgres://tester@127.0.0.1:{pgport}/duckpond"
    rc, _, err = ticks(*common, "--count", "20000", "--fast", "--to", dsn)
    con = psycopg2.connect(host="127.0.0.1", port=pgport, user="tester", dbname="duckpond")
    con.autocommit = True
    cur = con.cursor()
    check("COPY: the generator succeeds", rc == 0, err)
    check("COPY: row counts and sums as on standard output", in_db(cur) == want, (in_db(cur), want))
    cur.execute("drop table trades; drop table quotes")
    rc, _, err = ticks(*common, "--count", "20000", "--fast", "--batch-ms", "5",
                       "--to", f"http://127.0.0.1:{http_port}")
    check("HTTP: the generator succeeds", rc == 0, err)
    check("HTTP: row counts and sums as on standard output", in_db(cur) == want, (in_db(cur), want))
    cur.execute("select min(ts)::varchar, count(distinct symbol) from trades")
    first, symbols = cur.fetchone()
    check("HTTP: timestamps and symbols", first.startswith("2026-01-02 09:30:00") and symbols == 30, (first, symbols))
    # paced into duckpond: the desk macros see the rows as they come
    rc, _, err = ticks("--rate", "2000", "--duration", "2", "--to", dsn)
    cur.execute("select count(*) from desk.ohlcv('trades', '1 second', since := now() - interval 1 minute)")
    check("paced COPY: live 1-second bars", rc == 0 and cur.fetchone()[0] > 0, err)
    con.close()
finally:
    stop(proc)

# ---- line protocol over TCP and over HTTP, to stand-in servers
received = []
lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen(1)


def tcp_server():
    c, _ = lsock.accept()
    while True:
        d = c.recv(65536)
        if not d:
            break
        received.append(d)
    c.close()


th = threading.Thread(target=tcp_server)
th.start()
rc, _, err = ticks(*common, "--count", "20000", "--fast", "--to", f"ilp://127.0.0.1:{lsock.getsockname()[1]}")
th.join(10)
check("ilp:// sends the standard-output bytes over TCP", rc == 0 and b"".join(received) == out1, err)

posts = []


class Write(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        posts.append((self.path, body))
        code = 400 if b"refuse" in self.path.encode() else 204
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


hs = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Write)
threading.Thread(target=hs.serve_forever, daemon=True).start()
hp = hs.server_address[1]
rc, _, err = ticks(*common, "--count", "20000", "--fast", "--to", f"ilp+http://127.0.0.1:{hp}")
check("ilp+http:// POSTs the same bytes to /write?precision=ns",
      rc == 0 and b"".join(b for _, b in posts) == out1 and {p for p, _ in posts} == {"/write?precision=ns"},
      (err, {p for p, _ in posts}))
rc, _, err = ticks(*common, "--count", "10", "--fast", "--to", f"ilp+http://127.0.0.1:{hp}/refuse")
check("a refused POST fails the run with its status", rc == 1 and "HTTP 400" in err, (rc, err))
hs.shutdown()
rc, _, err = ticks("--count", "10", "--to", "nowhere://x")
check("an unknown destination is refused", rc == 1 and "unknown destination" in err, err)
rc, _, err = ticks("--rate", "-5")
check("a bad option is bad usage", rc == 2 and "bad option" in err, err)
finish()
