/*
 * tx.c -- transactions retried on optimistic-concurrency conflicts.
 *
 * DuckDB detects write-write conflicts at update time or at commit and
 * fails the later transaction ("Conflict on update!"). The cure is to roll
 * back and run the transaction again; retrying at once from many threads
 * only conflicts again, so attempts are spread out with exponential backoff
 * and full jitter (a random sleep below a cap that doubles per attempt),
 * bounded by a number of attempts and a deadline.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "dbint.h"

/* A per-thread xorshift generator, seeded from the clock and the thread. */
static uint64_t jitter_random(void)
{
    static _Thread_local uint64_t state;
    if (state == 0)
        state = (uint64_t)dp_now_us() ^ ((uint64_t)pthread_self() * 0x9E3779B97F4A7C15ull) ^ 1;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static void sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The caller's bounds (a versioned struct; NULL for none) with defaults for the fields left 0. */
static int retry_defaults(const duckpond_retry *in, duckpond_retry *d)
{
    duckpond_retry r = DUCKPOND_RETRY_INIT();
    if (in && dp_struct_in(&r, sizeof r, in, DP_RETRY_FIRST) != DUCKPOND_OK)
        return DUCKPOND_MISUSE;
    *d = (duckpond_retry)DUCKPOND_RETRY_INIT(.max_attempts = 20, .base_delay_us = 200, .max_delay_us = 50000,
                                             .deadline_ms = 10000);
    if (r.max_attempts > 0)
        d->max_attempts = r.max_attempts;
    if (r.base_delay_us > 0)
        d->base_delay_us = r.base_delay_us;
    if (r.max_delay_us > 0)
        d->max_delay_us = r.max_delay_us;
    if (r.deadline_ms > 0)
        d->deadline_ms = r.deadline_ms;
    return DUCKPOND_OK;
}

/* One attempt: BEGIN, the body, COMMIT; rolls back on any failure. */
static int attempt_once(duckpond_conn *conn, duckpond_tx_fn fn, void *arg, int attempt)
{
    int rc = duckpond_exec(conn, "BEGIN TRANSACTION");
    if (rc != DUCKPOND_OK)
        return rc;
    rc = fn(conn, attempt, arg);
    if (rc == DUCKPOND_OK)
        rc = duckpond_exec(conn, "COMMIT");
    if (rc != DUCKPOND_OK) {
        /* Straight to DuckDB, so that the body's message stays on conn; a
         * ROLLBACK with no transaction open fails harmlessly. */
        duckdb_result res;
        duckdb_query(conn->duck, "ROLLBACK", &res);
        duckdb_destroy_result(&res);
    }
    return rc;
}

int duckpond_tx_run(duckpond_conn *conn, const duckpond_retry *retry, duckpond_tx_fn fn, void *arg,
                    int *attempts_out)
{
    if (attempts_out)
        *attempts_out = 0;
    duckpond_retry r;
    if (!conn || !fn || retry_defaults(retry, &r) != DUCKPOND_OK)
        return DUCKPOND_MISUSE;
    int rc = dp_no_transaction(conn, "duckpond_tx_run");
    if (rc != DUCKPOND_OK)
        return rc; /* a BEGIN would abort the caller's transaction: do not try */
    int64_t deadline = dp_now_us() + r.deadline_ms * 1000;
    int64_t cap = r.base_delay_us;
    int attempt = 0;
    for (;;) {
        rc = attempt_once(conn, fn, arg, ++attempt);
        if (rc != DUCKPOND_CONFLICT)
            break;
        int64_t now = dp_now_us();
        if (attempt >= r.max_attempts || now >= deadline) {
            dp_set_msg(&conn->errmsg, "transaction conflict persisted after %d attempts (%s): %s", attempt,
                       attempt >= r.max_attempts ? "attempt limit" : "deadline",
                       conn->errmsg ? conn->errmsg : "");
            break;
        }
        int64_t pause = (int64_t)(jitter_random() % (uint64_t)cap);
        if (now + pause > deadline)
            pause = deadline - now;
        sleep_us(pause);
        cap = cap * 2 > r.max_delay_us ? r.max_delay_us : cap * 2;
    }
    conn->tx_maybe_open = false; /* committed or rolled back: none is open now */
    if (attempts_out)
        *attempts_out = attempt;
    return rc;
}
