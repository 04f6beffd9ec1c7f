#!/usr/bin/env python3
"""Ack mode journal through a real duckpond server, with psycopg2 clients on
127.0.0.1 and free ports:

- SET / SHOW / RESET / PGOPTIONS of duckpond.ack, bad values refused with
  22023, the server default (--ack journal), a server without a journal;
- read-your-writes under load: a session inserts in journal mode and at
  once selects its row, many times, while other clients load;
- crash safety: many times in a row, several journal-mode clients insert
  (recording each id they got an acknowledgement for) and the server is
  killed with SIGKILL at a random moment (now and then while it is still
  replaying at start); after each restart every acknowledged row is
  present, and no row is present twice;
- a full disk under the journal (a small tmpfs in a private mount
  namespace): journaled writes fail with 53100, nothing unacknowledged is
  claimed, reads and commit-mode writes go on.
"""
import json, os, random, shutil, signal, subprocess, sys, tempfile, threading, time, urllib.request
import psycopg2, psycopg2.errors

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
from dptest import BIN, check, free_port, one, pgcode_of, stop  # noqa: E402

work = tempfile.mkdtemp(prefix="duckpond-journal-")
KILLS = int(os.environ.get("JOURNAL_KILLS", "24"))


def spawn(db, *extra, wrap=None):
    """Starts a server on db (port file and log in work) without waiting;
    returns (proc, portfile)."""
    return dptest.spawn(work, *extra, db=db, wrap=wrap)


def start(db, *extra, wrap=None):
    """A server on db, its port file and log (server.log) in work."""
    return dptest.start(work, *extra, db=db, wrap=wrap)


def connect(port, ack=None):
    """An autocommit session, in ack mode ack when given (as PGOPTIONS would set it)."""
    return dptest.pg_connect(port, "-c duckpond.ack=%s" % ack if ack else None)


def server_log_tail(n=20):
    try:
        return "".join(open(os.path.join(work, "server.log")).readlines()[-n:])
    except OSError:
        return ""


# ------------------------------------------------------------------ settings
def test_settings():
    db = os.path.join(work, "settings.duckdb")
    proc, port = start(db)
    try:
        c = connect(port)
        check("SHOW duckpond.ack defaults to commit", one(c, "show duckpond.ack") == ("commit",))
        c.cursor().execute("set duckpond.ack = 'JOURNAL'")
        check("SET duckpond.ack = journal", one(c, "show duckpond.ack") == ("journal",))
        code = pgcode_of(lambda: c.cursor().execute("set duckpond.ack = 'sometimes'"))
        check("a bad duckpond.ack is 22023", code == "22023", code)
        check("a refused SET keeps the mode", one(c, "show duckpond.ack") == ("journal",))
        c.cursor().execute("create table s(id int, v text)")
        c.cursor().execute("insert into s values (1, 'a')")
        c.cursor().execute("insert into s values (2, 'b'), (3, 'c')")
        check("journal-mode inserts are read back", one(c, "select count(*) from s") == (3,))
        c.cursor().execute("reset duckpond.ack")
        check("RESET duckpond.ack gives the default", one(c, "show duckpond.ack") == ("commit",))
        c.close()
        c = connect(port, "journal")
        check("PGOPTIONS -c duckpond.ack=journal", one(c, "show duckpond.ack") == ("journal",))
        import io
        c.cursor().copy_expert("copy s from stdin", io.StringIO("10\tx\n11\ty\n"))
        check("COPY in journal mode, then read", one(c, "select count(*) from s where id >= 10") == (2,))
        c.close()
        try:
            connect(port, "never")
            check("a bad PGOPTIONS duckpond.ack is refused", False)
        except psycopg2.OperationalError as e:
            check("a bad PGOPTIONS duckpond.ack is refused", "duckpond.ack" in str(e), str(e))
    finally:
        check("settings server stops cleanly", stop(proc) == 0)
    proc, port = start(db, "--ack", "journal")
    try:
        c = connect(port)
        check("--ack journal is the sessions' default", one(c, "show duckpond.ack") == ("journal",))
        c.cursor().execute("insert into s values (20, 'z')")
        check("default journal mode insert is read back", one(c, "select v from s where id = 20") == ("z",))
        c.close()
    finally:
        stop(proc)
    proc, port = start(os.path.join(work, "nojournal.duckdb"), "--no-journal")
    try:
        c = connect(port)
        code = pgcode_of(lambda: c.cursor().execute("set duckpond.ack = journal"))
        check("journal without a journal is 22023", code == "22023", code)
        c.close()
    finally:
        stop(proc)
    r = subprocess.run([BIN, "serve", "--db", ":memory:", "--pg-port", "0", "--http-port", "0", "--ack", "journal"],
                       capture_output=True, text=True, timeout=30)
    check("--ack journal without a journal refuses to start", r.returncode != 0 and "journal" in r.stderr,
          r.stderr)
    bad = os.path.join(work, "a-file")
    open(bad, "w").close()
    r = subprocess.run([BIN, "serve", "--db", os.path.join(work, "bad.duckdb"), "--pg-port", "0", "--http-port", "0",
                        "--journal-dir", bad], capture_output=True, text=True, timeout=30)
    check("a --journal-dir that is a file is refused, clearly", r.returncode != 0 and "not a directory" in r.stderr,
          r.stderr)
    r = subprocess.run([BIN, "serve", "--ack", "maybe"], capture_output=True, text=True, timeout=30)
    check("--ack with a bad mode is refused", r.returncode == 2, r.stderr)


# ------------------------------------------------------- read-your-writes
def test_read_your_writes():
    db = os.path.join(work, "ryw.duckdb")
    http = free_port()
    proc, port = start(db, "--http-port", str(http))
    stop_load = threading.Event()
    errors = []
    try:
        c = connect(port)
        c.cursor().execute("create table load(id bigint, who int)")
        c.cursor().execute("create table mine(id bigint primary key, who int)")
        c.close()

        def loader(k):
            try:
                lc = connect(port, "journal")
                cur = lc.cursor()
                n = 0
                while not stop_load.is_set():
                    cur.execute("insert into load values (%s, %s)", (k * 10**7 + n, k))
                    n += 1
                lc.close()
            except Exception as e:  # noqa: BLE001
                errors.append("loader: %r" % e)

        def reader(k, rounds, misses):
            try:
                rc = connect(port, "journal")
                cur = rc.cursor()
                for n in range(rounds):
                    i = k * 10**6 + n
                    cur.execute("insert into mine values (%s, %s)", (i, k))
                    cur.execute("select who from mine where id = %s", (i,))
                    if cur.fetchall() != [(k,)]:
                        misses.append(i)
                rc.close()
            except Exception as e:  # noqa: BLE001
                errors.append("reader: %r" % e)

        loaders = [threading.Thread(target=loader, args=(k,)) for k in range(4)]
        for t in loaders:
            t.start()
        misses = []
        readers = [threading.Thread(target=reader, args=(k, 250, misses)) for k in range(2)]
        for t in readers:
            t.start()
        for t in readers:
            t.join()
        stop_load.set()
        for t in loaders:
            t.join()
        check("no client errors under load", not errors, errors[:3])
        check("read-your-writes: 500 inserts each read back at once", not misses, misses[:5])
        c = connect(port)
        check("every read-your-writes row present once", one(c, "select count(*), count(distinct id) from mine")
              == (500, 500))
        c.close()
        m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=10).read().decode()
        waits = [l for l in m.splitlines() if l.startswith("duckpond_journal_applied_waits_total ")]
        check("/metrics counts read-your-writes waits", waits and int(waits[0].split()[1]) > 0, waits)
        check("/metrics has the apply lag histogram", "duckpond_journal_apply_lag_seconds_count" in m)
    finally:
        stop_load.set()
        check("read-your-writes server stops cleanly", stop(proc) == 0)


# ------------------------------------------------------------- crash loop
def client(port, k, cycle, acked, multi):
    """Inserts rows in journal mode until the server dies; records acked ids."""
    try:
        c = connect(port, "journal")
        cur = c.cursor()
        n = 0
        while True:
            base = cycle * 10**8 + k * 10**6 + n
            if multi:
                ids = [base, base + 1, base + 2]
                cur.execute("insert into k values (%s, %s), (%s, %s), (%s, %s)",
                            (ids[0], k, ids[1], k, ids[2], k))
                acked.extend(ids)
                n += 3
            else:
                cur.execute("insert into k values (%s, %s)", (base, k))
                acked.append(base)
                n += 1
    except psycopg2.Error:
        pass  # the server was killed


def verify(port, acked_before, label):
    """acked ⊆ present and no row twice; returns (ok, detail)."""
    c = connect(port)
    total, distinct = one(c, "select count(*), count(distinct id) from k")
    cur = c.cursor()
    cur.execute("select id from k")
    present = {r[0] for r in cur.fetchall()}
    c.close()
    missing = [i for i in acked_before if i not in present]
    return total == distinct and not missing, "%s: %d rows, %d distinct, %d acked missing %s" % (
        label, total, distinct, len(missing), missing[:5])


def test_crash_loop():
    db = os.path.join(work, "crash.duckdb")
    extra = ("--journal-segment-bytes", "65536")
    proc, port = start(db, *extra)
    c = connect(port)
    c.cursor().execute("create table k(id bigint, who int)")
    c.close()
    stop(proc)
    acked = []
    kills = replay_kills = 0
    all_ok = True
    t0 = time.time()
    for cycle in range(1, KILLS + 1):
        if cycle % 6 == 0:
            # a kill while the server may still be replaying at start
            proc, portfile = spawn(db, *extra)
            time.sleep(random.uniform(0.0, 0.15))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            replay_kills += 1
            continue
        proc, port = start(db, *extra)
        ok, detail = verify(port, acked, "restart %d" % cycle)
        if not ok:
            all_ok = False
            check("after restart %d every acked row is present once" % cycle, False, detail)
        cycle_acked = [[] for _ in range(6)]
        threads = [threading.Thread(target=client, args=(port, k, cycle, cycle_acked[k], k == 5))
                   for k in range(6)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.15, 0.7))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        for t in threads:
            t.join(timeout=30)
        for a in cycle_acked:
            acked.extend(a)
    proc, port = start(db, *extra)
    try:
        ok, detail = verify(port, acked, "final")
        check("%d SIGKILLs (%d during start-up), %d acked rows: all present exactly once" %
              (kills, replay_kills, len(acked)), ok and all_ok, detail)
        check("the load was real (acked rows in most cycles)", len(acked) > 20 * KILLS, len(acked))
        check("at least 20 kills", kills >= 20, kills)
        c = connect(port, "journal")
        c.cursor().execute("insert into k values (-1, -1)")
        check("writes go on after the crashes", one(c, "select count(*) from k where id = -1") == (1,))
        c.close()
    finally:
        check("crash-loop server stops cleanly", stop(proc) == 0, server_log_tail())
    print("crash loop: %.1f s" % (time.time() - t0))
    # a torn record at the journal's end is cut off and reported at start
    jdir = db + ".journal"
    segs = sorted(f for f in os.listdir(jdir) if f.startswith("seg-"))
    with open(os.path.join(jdir, segs[-1]), "ab") as f:
        f.write(b"\x44\x50\x4a\x31" + os.urandom(60))
    log_before = os.path.getsize(os.path.join(work, "server.log"))
    proc, port = start(db, *extra)
    try:
        ok, detail = verify(port, acked, "after a torn tail")
        check("a torn journal tail: the server starts, every acked row present once", ok, detail)
        log = open(os.path.join(work, "server.log")).read()[log_before:]
        check("start-up reports the torn tail", "torn tail" in log, log)
    finally:
        stop(proc)


# ------------------------------------------------------------- disk full
def test_disk_full():
    jdir = os.path.join(work, "tiny-journal")
    os.makedirs(jdir)
    if os.geteuid() != 0 or not shutil.which("unshare") or \
            subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        print("skip disk full: needs a private mount namespace (unshare -m as root)")
        return
    db = os.path.join(work, "full.duckdb")

    def wrap(cmd):
        script = 'mount -t tmpfs -o size=256k tmpfs "$0" && exec "$@"'
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, jdir] + cmd

    proc, port = start(db, "--journal-dir", jdir, wrap=wrap)
    try:
        c = connect(port)
        c.cursor().execute("create table f(id bigint, pad text)")
        c.close()
        c = connect(port, "journal")
        cur = c.cursor()
        pad = "x" * 2000
        acked, code, msg = [], None, ""
        for i in range(2000):  # 4 MB, far past the 256 kB the journal has
            try:
                cur.execute("insert into f values (%s, %s)", (i, pad))
                acked.append(i)
            except psycopg2.Error as e:
                code, msg = e.pgcode, str(e)
                break
        check("a full journal fails the write with 53100", code == "53100", (code, msg))
        check("the disk-full error says so", "space" in msg or "disk full" in msg, msg)
        check("some writes were acknowledged before", len(acked) > 10, len(acked))
        code2 = pgcode_of(lambda: cur.execute("insert into f values (%s, %s)", (-2, pad)))
        check("journaled writes keep failing while the disk is full", code2 == "53100", code2)
        cur.execute("select count(*) from f where id >= 0")
        n = cur.fetchone()[0]
        check("reads go on; every acknowledged row is there", n >= len(acked), (n, len(acked)))
        cur.execute("set duckpond.ack = commit")
        cur.execute("insert into f values (-3, 'commit mode')")
        check("commit-mode writes go on", one(c, "select count(*) from f where id = -3") == (1,))
        c.close()
    finally:
        rc = stop(proc)
        check("disk-full server stops cleanly", rc == 0, (rc, server_log_tail()))


try:
    test_settings()
    test_read_your_writes()
    test_crash_loop()
    test_disk_full()
except Exception as e:  # noqa: BLE001
    import traceback
    traceback.print_exc()
    check("no unexpected exception", False, repr(e))
    print(server_log_tail())
finally:
    shutil.rmtree(work, ignore_errors=True)
dptest.finish()
