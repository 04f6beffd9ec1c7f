#!/usr/bin/env python3
"""The write lane (SET duckpond.write_lane = on, --write-lane) through a
real duckpond server, with psycopg2 clients on 127.0.0.1 and free ports:

- the setting: SET / SHOW / RESET, PGOPTIONS, a bad value refused with
  22023, the server default (--write-lane);
- 16 threads, each in psycopg2's own transactions (read-modify-write of
  one hot row: UPDATE, then SELECT, then INSERT of a history row), with
  the lane on: not one 40001, and the row's final value is the sum of
  every committed increment; the same with the lane off does conflict
  (the baseline the lane removes);
- lock_timeout: a session waiting behind a holder gets 55P03 after its
  timeout, and its transaction then fails as PostgreSQL's does;
- a cancel (pg_cancel_backend's protocol message) ends a wait with 57014;
- a client killed (SIGKILL) while holding the lane inside a transaction:
  its transaction is rolled back and the next writer goes on at once.
"""
import os, shutil, signal, subprocess, sys, tempfile, threading, time
import psycopg2, psycopg2.errors

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
from dptest import check, one, pgcode_of, stop  # noqa: E402

work = tempfile.mkdtemp(prefix="duckpond-lane-")
THREADS, ROUNDS = 16, 25


def connect(port, lane=None, autocommit=True):
    return dptest.pg_connect(port, "-c duckpond.write_lane=%s" % lane if lane else None, autocommit)


def test_settings(port):
    c = connect(port)
    check("write_lane is off by default", one(c, "show duckpond.write_lane") == ("off",))
    c.cursor().execute("set duckpond.write_lane = true")
    check("SET duckpond.write_lane takes true as on", one(c, "show duckpond.write_lane") == ("on",))
    c.cursor().execute("reset duckpond.write_lane")
    check("RESET goes back to the default", one(c, "show duckpond.write_lane") == ("off",))
    code = pgcode_of(lambda: c.cursor().execute("set duckpond.write_lane = sometimes"))
    check("a bad value is refused with 22023", code == "22023", code)
    code = pgcode_of(lambda: c.cursor().execute("set lock_timeout = 'soon'"))
    check("a bad lock_timeout is refused with 22023", code == "22023", code)
    c.close()
    c = connect(port, lane="on")
    check("PGOPTIONS sets it", one(c, "show duckpond.write_lane") == ("on",))
    c.close()


def hammer(port, lane):
    """THREADS threads, ROUNDS transactions each on the hot row; returns (sum committed, 40001 count, errors)."""
    setup = connect(port)
    setup.cursor().execute("create or replace table hot (id int primary key, v bigint)")
    setup.cursor().execute("create or replace table hist (tid int, delta int)")
    setup.cursor().execute("insert into hot values (1, 0)")
    committed, conflicts, errors = [0] * THREADS, [0] * THREADS, []

    def worker(i):
        try:
            c = connect(port, lane=lane, autocommit=False)  # psycopg2's default: a transaction per batch
            cur = c.cursor()
            for r in range(ROUNDS):
                delta = i * 100 + r + 1
                try:
                    cur.execute("update hot set v = v + %s where id = 1", (delta,))
                    cur.execute("select v from hot where id = 1")
                    cur.fetchone()
                    cur.execute("insert into hist values (%s, %s)", (i, delta))
                    c.commit()
                    committed[i] += delta
                except psycopg2.Error as e:
                    c.rollback()
                    if e.pgcode == "40001":
                        conflicts[i] += 1
                    else:
                        errors.append((e.pgcode, str(e)))
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = one(setup, "select v from hot where id = 1")[0]
    hist = one(setup, "select coalesce(sum(delta), 0) from hist")[0]
    setup.close()
    return sum(committed), final, hist, sum(conflicts), errors


def test_hammer(port):
    total, final, hist, conflicts, errors = hammer(port, "on")
    check("lane on: 16 threads on one row, no serialization failure", conflicts == 0, conflicts)
    check("lane on: no other error", not errors, errors[:3])
    check("lane on: every transaction committed", total == sum(i * 100 * ROUNDS + ROUNDS * (ROUNDS + 1) // 2
                                                               for i in range(THREADS)), total)
    check("lane on: the row holds the sum of every committed increment", final == total, (final, total))
    check("lane on: the history agrees", hist == total, (hist, total))
    total, final, hist, conflicts, errors = hammer(port, "off")
    check("lane off (the baseline): the same work conflicts", conflicts > 0, conflicts)
    check("lane off: the row still holds what committed", final == total and hist == total, (final, hist, total))


def test_lock_timeout(port):
    holder = connect(port, lane="on")
    holder.cursor().execute("create or replace table lt (id int, v int)")
    holder.cursor().execute("insert into lt values (1, 0)")
    holder.cursor().execute("begin")
    holder.cursor().execute("update lt set v = v + 1")  # holds the lane until its COMMIT
    waiter = connect(port, lane="on")
    cur = waiter.cursor()
    cur.execute("set lock_timeout = '300ms'")
    cur.execute("begin")
    check("a read does not wait for the lane", one(waiter, "select count(*) from lt") == (1,))
    t0 = time.time()
    code, msg = None, ""
    try:
        cur.execute("update lt set v = v + 10")
    except psycopg2.Error as e:
        code, msg = e.pgcode, str(e)
    waited = time.time() - t0
    check("lock_timeout gives 55P03", code == "55P03", (code, msg))
    check("the message says lock timeout", "lock timeout" in msg, msg)
    check("it waited about lock_timeout", 0.25 <= waited < 5, waited)
    code = pgcode_of(lambda: cur.execute("select 1"))
    check("the transaction is then aborted (25P02)", code == "25P02", code)
    cur.execute("rollback")
    # a cancel ends a wait without a timeout
    cur.execute("set lock_timeout = 0")
    cur.execute("begin")
    threading.Timer(0.3, waiter.cancel).start()
    code = pgcode_of(lambda: cur.execute("update lt set v = v + 100"))
    check("a cancel ends the wait with 57014", code == "57014", code)
    cur.execute("rollback")
    holder.cursor().execute("commit")
    # the lane is free again: the waiter's next write goes at once
    t0 = time.time()
    cur.execute("update lt set v = v + 1000")
    check("after the holder's COMMIT the next write goes at once", time.time() - t0 < 2, time.time() - t0)
    check("only the committed updates are there", one(waiter, "select v from lt") == (1001,))
    holder.close()
    waiter.close()


KILLED_CLIENT = r"""
import psycopg2, sys, time
c = psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user="py", dbname="duckpond",
                     options="-c duckpond.write_lane=on")
cur = c.cursor()
cur.execute("update kl set v = v + 1")  # psycopg2 began a transaction: the lane is held
print("holding", flush=True)
time.sleep(600)
"""


def test_killed_client(port):
    c = connect(port, lane="on")
    c.cursor().execute("create or replace table kl (v int)")
    c.cursor().execute("insert into kl values (0)")
    child = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, str(port)], stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    check("a client holds the lane", line.strip() == "holding", line)
    cur = c.cursor()
    cur.execute("set lock_timeout = '200ms'")
    code = pgcode_of(lambda: cur.execute("update kl set v = v + 10"))
    check("while it lives, others wait for it (55P03 here)", code == "55P03", code)
    child.send_signal(signal.SIGKILL)
    child.wait()
    cur.execute("set lock_timeout = '10s'")
    t0 = time.time()
    code = pgcode_of(lambda: cur.execute("update kl set v = v + 10"))
    check("a killed client releases the lane", code is None, code)
    check("at once (no wait for a timeout)", time.time() - t0 < 5, time.time() - t0)
    check("the killed client's transaction was rolled back", one(c, "select v from kl") == (10,))
    c.close()


def test_server_default():
    folder = os.path.join(work, "default")
    os.mkdir(folder)
    proc, port = dptest.start(folder, "--write-lane")
    try:
        c = connect(port)
        check("--write-lane makes it the default", one(c, "show duckpond.write_lane") == ("on",))
        c.cursor().execute("set duckpond.write_lane = off")
        check("a session may still turn it off", one(c, "show duckpond.write_lane") == ("off",))
        c.close()
    finally:
        check("the --write-lane server stops cleanly", stop(proc) == 0)


proc, port = dptest.start(work)
try:
    test_settings(port)
    test_hammer(port)
    test_lock_timeout(port)
    test_killed_client(port)
    test_server_default()
except Exception as e:  # noqa: BLE001
    import traceback
    traceback.print_exc()
    check("no unexpected exception", False, repr(e))
finally:
    rc = stop(proc)
    check("server stops cleanly", rc == 0, rc)
    shutil.rmtree(work, ignore_errors=True)
dptest.finish()
