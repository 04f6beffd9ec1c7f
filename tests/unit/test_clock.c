/*
 * test_clock.c -- timed waits measure the monotonic clock, not the wall
 * clock. This program defines clock_gettime itself (the system call,
 * with an offset added to CLOCK_REALTIME while a test steps the wall
 * clock), so that every reading of the wall clock in the process, the
 * library's and the server's included, sees the step the way an NTP
 * correction or an operator would make it, while the kernel's own timer
 * keeps the true time. A wait whose deadline was computed on the wall
 * clock then ends at once (the clock stepped back an hour) instead of
 * after the time it was given.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "batcher.h"
#include "clock.h"
#include "duckpond.h"
#include "registry.h"
#include "testlib.h"

/* Seconds added to the wall clock every reading sees (0: the true time). */
static _Atomic long wall_step_s;

int clock_gettime(clockid_t clock, struct timespec *ts)
{
    int rc = (int)syscall(SYS_clock_gettime, clock, ts);
    if (rc == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE))
        ts->tv_sec += atomic_load(&wall_step_s);
    return rc;
}

/* Milliseconds since a dp_now_us reading. */
static double ms_since(int64_t t0)
{
    return (double)(dp_now_us() - t0) / 1000.0;
}

/* Backpressure: a write that finds the queue full waits overload_timeout_ms for room, whatever the wall clock does. */
static void test_overload_wait_ignores_wall_clock(void)
{
    duckpond_db *db;
    duckpond_conn *conn;
    duckpond_batcher *b;
    CHECK_OK(duckpond_open(test_path("c.duckdb"), NULL, &db));
    CHECK_OK(duckpond_connect(db, &conn));
    CHECK_OK(duckpond_exec(conn, "CREATE TABLE t(id BIGINT)"));
    duckpond_batcher_settings set =
        DUCKPOND_BATCHER_SETTINGS_INIT(.queue_max_rows = 2, .overload_timeout_ms = 400);
    CHECK_OK(duckpond_batcher_new(db, &set, &b));
    batcher_hold(b, 1);
    static const char *cols[] = {"id"};
    duckpond_write *w[2];
    for (int i = 0; i < 2; i++) {
        CHECK_OK(duckpond_write_new(b, "t", cols, 1, 0, &w[i]));
        duckpond_value v = {.kind = DUCKPOND_VALUE_INT64};
        v.u.i64 = i;
        CHECK_OK(duckpond_write_add_row(w[i], &v));
        CHECK_OK(duckpond_write_add_row(w[i], &v));
    }
    CHECK_OK(duckpond_write_submit(w[0], DUCKPOND_ACK_QUEUED));
    atomic_store(&wall_step_s, -3600); /* the wall clock stepped back an hour */
    int64_t t0 = dp_now_us();
    int rc = duckpond_write_submit(w[1], DUCKPOND_ACK_QUEUED);
    double waited = ms_since(t0);
    atomic_store(&wall_step_s, 0);
    CHECK_EQ_INT(rc, DUCKPOND_OVERLOADED);
    if (waited < 380)
        fprintf(stderr, "    waited %.1f ms of 400\n", waited);
    CHECK(waited >= 380);
    batcher_hold(b, 0);
    CHECK_OK(duckpond_write_wait(w[0]));
    duckpond_write_free(w[0]);
    duckpond_write_free(w[1]);
    CHECK_OK(duckpond_batcher_free(b));
    CHECK_OK(duckpond_disconnect(conn));
    CHECK_OK(duckpond_close(db));
}

/* A pool's timed get waits its timeout for a connection to come back, whatever the wall clock does. */
static void test_pool_wait_ignores_wall_clock(void)
{
    duckpond_db *db;
    duckpond_pool *pool;
    duckpond_conn *held, *more = NULL;
    CHECK_OK(duckpond_open(test_path("c.duckdb"), NULL, &db));
    CHECK_OK(duckpond_pool_new(db, 1, &pool));
    CHECK_OK(duckpond_pool_get(pool, 0, &held));
    atomic_store(&wall_step_s, -3600);
    int64_t t0 = dp_now_us();
    int rc = duckpond_pool_get(pool, 300, &more);
    double waited = ms_since(t0);
    atomic_store(&wall_step_s, 0);
    CHECK_EQ_INT(rc, DUCKPOND_TIMEOUT);
    CHECK(waited >= 280);
    CHECK_OK(duckpond_pool_put(pool, held));
    CHECK_OK(duckpond_pool_free(pool));
    CHECK_OK(duckpond_close(db));
}

struct session_stub {
    struct registry *r;
    struct registry_entry *e;
};

/* A session thread that ends 300 ms after it is told to stop. */
static void *session_ends_later(void *arg)
{
    struct session_stub *s = arg;
    usleep(300000);
    registry_release(s->r, s->e);
    registry_thread_done(s->r);
    return NULL;
}

/* The server's stop gives sessions their grace period, whatever the wall clock does, before it cuts them off. */
static void test_registry_grace_ignores_wall_clock(void)
{
    struct registry r;
    struct registry_entry e;
    int fds[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
    registry_init(&r, 4, 4, 0);
    registry_entry_init(&e, fds[0]);
    CHECK_OK(registry_add(&r, &e));
    struct session_stub stub = {&r, &e};
    pthread_t th;
    pthread_create(&th, NULL, session_ends_later, &stub);
    atomic_store(&wall_step_s, -3600);
    registry_stop(&r, 5000); /* the session ends well within its grace */
    atomic_store(&wall_step_s, 0);
    pthread_join(th, NULL);
    /* a session cut off has its socket shut down both ways: its peer reads the end */
    char c;
    ssize_t n = recv(fds[1], &c, 1, MSG_DONTWAIT);
    CHECK(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    registry_entry_destroy(&e);
    registry_destroy(&r);
    close(fds[0]);
    close(fds[1]);
}

TEST_MAIN(TEST_ENTRY(test_overload_wait_ignores_wall_clock), TEST_ENTRY(test_pool_wait_ignores_wall_clock),
          TEST_ENTRY(test_registry_grace_ignores_wall_clock))
