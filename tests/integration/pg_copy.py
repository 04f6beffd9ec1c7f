#!/usr/bin/env python3
"""COPY FROM STDIN with real clients against a real duckpond server on
127.0.0.1 and a free port: psycopg2's copy_expert and copy_from (text,
CSV, binary), inside and outside a transaction, PostgreSQL's errors
(SQLSTATE, message, CONTEXT with the line), all-or-nothing (a bad last
line, a client that goes mid-COPY), other sessions going on during a
COPY, a COPY larger than the server's memory use streaming through with
bounded memory, and psql's \\copy."""
import io, os, struct, subprocess, sys, tempfile, threading, time, datetime
import psycopg2, psycopg2.errors

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
from dptest import check, stop  # noqa: E402

work = tempfile.mkdtemp(prefix="duckpond-copy-")
TRADES = "create table trades(ts timestamp, symbol varchar, quantity double precision, price double precision)"


def rows_text(n, start=0):
    """n rows of trades in text format, with ISO timestamps."""
    t0 = datetime.datetime(2026, 1, 2, 9, 30)
    return "".join(f"{(t0 + datetime.timedelta(microseconds=i * 1237)).isoformat(' ')}\tSYM{i % 500:03d}"
                   f"\t{i % 97}\t{100 + i % 13}.25\n" for i in range(start, start + n))


class Rows(io.RawIOBase):
    """A file that makes n rows of trades as they are read (nothing held): a stream of any size."""
    def __init__(self, n):
        self.left, self.i, self.pending = n, 0, b""

    def readable(self):
        return True

    def read(self, size=-1):
        while len(self.pending) < max(size, 1) and self.left:
            k = min(self.left, 5000)
            self.pending += rows_text(k, self.i).encode()
            self.i += k
            self.left -= k
        out, self.pending = self.pending[:size], self.pending[size:]
        return out


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0


def one(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchone()


def connect(port, autocommit=True):
    c = psycopg2.connect(f"host=127.0.0.1 port={port} user=py dbname=duckpond")
    c.autocommit = autocommit
    return c


http_port = dptest.free_port()
# admin: the memory test below changes DuckDB's global memory_limit, an admin's setting
proc, port = dptest.start(work, "--http-port", str(http_port), "--trust-role", "admin")
try:
    c = connect(port)
    cur = c.cursor()
    cur.execute(TRADES)

    # copy_expert, text and CSV
    cur.copy_expert("copy trades from stdin", io.StringIO(rows_text(10000)))
    check("copy_expert text: COPY 10000", cur.rowcount == 10000, cur.rowcount)
    check("... counted in duckpond_copy_rows_total", dptest.metric(http_port, "duckpond_copy_rows_total") == 10000,
          dptest.metric(http_port, "duckpond_copy_rows_total"))
    cur.copy_expert("copy trades from stdin with (format csv, header)",
                    io.StringIO("ts,symbol,quantity,price\n" + rows_text(5000, 10000).replace("\t", ",")))
    check("copy_expert csv with a header", one(c, "select count(*), count(distinct ts) from trades") == (15000, 15000))
    check("ISO timestamps arrive as timestamps", one(c, "select max(ts) from trades")[0] ==
          datetime.datetime(2026, 1, 2, 9, 30) + datetime.timedelta(microseconds=14999 * 1237))

    # copy_from: psycopg2 sends the old keyword form (WITH DELIMITER AS ... NULL AS ...)
    cur.execute("create table people(id int, name text, note text default 'n/a')")
    cur.copy_from(io.StringIO("1|ann|x\n2|\\N|y\n"), "people", sep="|")
    cur.copy_from(io.StringIO("3,bob\n4,NULL\n"), "people", sep=",", null="NULL", columns=("id", "name"))
    cur.execute("select id, name, note from people order by id")
    check("copy_from with sep, null and columns", cur.fetchall() ==
          [(1, "ann", "x"), (2, None, "y"), (3, "bob", "n/a"), (4, None, "n/a")])

    # PostgreSQL's errors, with the line; nothing of a failed COPY stays
    try:
        cur.copy_expert("copy trades from stdin", io.StringIO(rows_text(2) + "xyz\tA\t1\t2\n"))
        check("a bad timestamp fails the COPY", False)
    except psycopg2.Error as e:
        check("a bad timestamp: 22007, PostgreSQL's message and CONTEXT",
              e.pgcode == "22007" and e.diag.message_primary == 'invalid input syntax for type timestamp: "xyz"'
              and e.diag.context == 'COPY trades, line 3, column ts: "xyz"', (e.pgcode, str(e)))
    try:
        cur.copy_expert("copy trades from stdin (format csv)", io.StringIO("2026-01-01,A,1\n"))
        check("too few fields fail the COPY", False)
    except psycopg2.Error as e:
        check("too few fields: 22P04 missing data", e.pgcode == "22P04" and "missing data for column" in str(e))
    try:
        cur.copy_expert("copy people from stdin", io.BytesIO(b"5\tcaf\xe9\tx\n"))
        check("invalid UTF-8 fails the COPY", False)
    except psycopg2.Error as e:
        check("invalid UTF-8: 22021", e.pgcode == "22021", e.pgcode)
    check("nothing of the failed COPYs", one(c, "select count(*) from trades")[0] == 15000 and
          one(c, "select count(*) from people")[0] == 4)

    # a transaction (psycopg2's default): the COPY joins it
    t = connect(port, autocommit=False)
    t.cursor().copy_expert("copy people (id, name) from stdin", io.StringIO("10\tin tx\n"))
    check("inside a transaction the COPY's rows show to it", one(t, "select count(*) from people where id = 10") == (1,))
    check("... and to no one else yet", one(c, "select count(*) from people where id = 10") == (0,))
    t.rollback()
    check("rollback takes the COPY's rows away", one(c, "select count(*) from people where id = 10") == (0,))
    t.cursor().copy_expert("copy people (id, name) from stdin", io.StringIO("11\tcommitted\n"))
    t.commit()
    check("commit keeps them", one(c, "select name from people where id = 11") == ("committed",))
    t.close()

    # binary
    cur.execute("create table ticks(ts timestamp, px double precision, qty bigint, sym text)")
    data = bytearray(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
    for i in range(1000):
        sym = f"S{i}".encode()
        data += struct.pack("!hiqidiqi", 4, 8, (86400 + i) * 1000000, 8, i / 4, 8, i, len(sym)) + sym
    data += struct.pack("!h", -1)
    cur.copy_expert("copy ticks from stdin (format binary)", io.BytesIO(bytes(data)))
    check("binary COPY of 1000 rows", one(c, "select count(*), sum(qty), max(px), min(ts) from ticks") ==
          (1000, 499500, 249.75, datetime.datetime(2000, 1, 2)))

    # a client that goes mid-COPY: nothing of its rows is committed
    g = subprocess.Popen([sys.executable, "-c", f"""
import io, psycopg2, os, sys
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
c = psycopg2.connect('host=127.0.0.1 port={port} user=py dbname=duckpond'); c.autocommit = True
class Half(io.RawIOBase):
    n = 0
    def readable(self): return True
    def read(self, size=-1):
        self.n += 1
        if self.n > 200: os._exit(0)   # gone without CopyDone
        return b'2026-01-02 10:00:00\\tGONE\\t1\\t2\\n' * 200
c.cursor().copy_expert('copy trades from stdin', Half())
"""])
    g.wait(timeout=60)
    time.sleep(0.5)
    check("a client gone mid-COPY leaves nothing", one(c, "select count(*) from trades where symbol = 'GONE'") == (0,))

    # other sessions go on while a COPY streams, and see none of its rows before it commits
    class Slow(io.RawIOBase):
        """Sends rows for about 4 s, in pieces."""
        def __init__(self):
            self.n = 0

        def readable(self):
            return True

        def read(self, size=-1):
            self.n += 1
            if self.n > 80:
                return b""
            time.sleep(0.05)
            return rows_text(500, 100000 + self.n * 500).encode()
    copier = threading.Thread(target=lambda: connect(port).cursor().copy_expert("copy trades from stdin", Slow()))
    copier.start()
    time.sleep(0.5)
    o = connect(port)
    began, seen = time.time(), []
    for i in range(50):
        o.cursor().execute("insert into people(id, name) values (%s, 'during')", (1000 + i,))
        seen.append(one(o, "select count(*) from trades")[0])
    spent, still_copying = time.time() - began, copier.is_alive()
    copier.join()
    check("other sessions write and read during a COPY, not after it", still_copying, f"{spent:.2f} s")
    check("... and see none of its rows before it commits", set(seen) == {15000}, set(seen))
    check("the COPY committed after them", one(c, "select count(*) from trades")[0] == 15000 + 80 * 500)
    o.close()

    # a COPY larger than the memory the server uses for it: streamed, bounded
    cur.execute("create table big(ts timestamp, symbol varchar, quantity double precision, price double precision)")
    cur.copy_expert("copy big from stdin", Rows(500000), size=65536)
    small_peak = peak_rss_mib(proc.pid)
    cur.execute("set memory_limit = '64MB'")  # DuckDB's buffers for everything: far below the data
    cur.copy_expert("copy big from stdin", Rows(3000000), size=65536)
    big_peak = peak_rss_mib(proc.pid)
    print(f"     peak RSS {small_peak:.0f} MiB after 0.5M rows, {big_peak:.0f} MiB after 3M more")
    check("3M rows (~170 MB of text) stream through with DuckDB limited to 64 MB",
          one(c, "select count(*) from big") == (3500000,))
    if not dptest.SANITIZED:  # ASan's quarantine keeps freed memory: no figure to judge there
        check("memory stays bounded: peak RSS grows by far less than the data", big_peak - small_peak < 100,
              f"{small_peak:.0f} MiB after 0.5M rows, {big_peak:.0f} MiB after 3M more")

    # psql's \copy
    path = os.path.join(work, "people.csv")
    with open(path, "w") as f:
        f.write("id,name,note\n20,\"with, comma\",\n21,\"\",q\n")
    env = {**os.environ, "PGPASSWORD": ""}
    out = subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "py", "duckpond", "-c",
                          f"\\copy people from '{path}' with (format csv, header)"],
                         capture_output=True, text=True, env=env)
    check("psql \\copy from a CSV file", out.returncode == 0 and "COPY 2" in out.stdout, out.stdout + out.stderr)
    cur.execute("select name, note is null from people where id in (20, 21) order by id")
    check("... quoted values and CSV's NULLs", cur.fetchall() == [("with, comma", True), ("", False)])
    with open(path, "w") as f:
        f.write("id,name,note\n22,a,b\nnope,c,d\n")
    out = subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "py", "duckpond", "-c",
                          f"\\copy people from '{path}' with (format csv, header)"],
                         capture_output=True, text=True, env=env)
    check("psql \\copy of a bad line shows PostgreSQL's error and CONTEXT",
          out.returncode != 0 and 'invalid input syntax for type integer: "nope"' in out.stderr
          and 'CONTEXT:  COPY people, line 3, column id: "nope"' in out.stderr, out.stderr)
    check("... and keeps nothing", one(c, "select count(*) from people where id = 22") == (0,))
    c.close()
finally:
    check("SIGTERM exits 0", stop(proc) == 0)
dptest.finish()
