/*
 * lane.c -- the write lane: one database's writing transactions, one at a
 * time, in the order they asked.
 *
 * DuckDB's concurrency is optimistic: two transactions that update the
 * same row both run, and the second to write fails with a conflict. For
 * workloads where many writers touch the same few rows (a position per
 * symbol, pgbench's branch row) most of the work is then done twice or
 * more. A connection that enters the lane before its transaction's first
 * write, and leaves it when the transaction ends, waits for the writer
 * ahead of it instead: DuckDB takes a transaction's snapshot at its first
 * read of a table, so a transaction whose first table access is that
 * write sees everything the one before it committed, and never conflicts
 * with another in the lane.
 *
 * The lane is a FIFO queue of waiters, one per database handle; the head
 * holds it. A waiter gives up after its timeout (DUCKPOND_LOCKED, as
 * PostgreSQL's lock_timeout gives 55P03) or when another thread
 * interrupts it (DUCKPOND_INTERRUPTED), leaving its place without
 * disturbing the order of the rest. A connection closed or given back to
 * its pool leaves the lane after its transaction is rolled back, so a
 * writer that dies never keeps the lane.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "dbint.h"

/* A connection waiting in, or holding, the lane. */
struct lane_waiter {
    pthread_cond_t turn; /* signalled when it becomes the head, or is interrupted */
    bool interrupted;
    struct lane_waiter *next;
};

void dp_lane_init(struct dp_lane *l)
{
    pthread_mutex_init(&l->mu, NULL);
    l->head = l->tail = NULL;
}

void dp_lane_destroy(struct dp_lane *l)
{
    pthread_mutex_destroy(&l->mu);
}

/* Takes w out of the queue (lane locked); wakes the next head when w was the head. */
static void unlink_waiter(struct dp_lane *l, struct lane_waiter *w)
{
    struct lane_waiter **p = &l->head, *prev = NULL;
    while (*p && *p != w) {
        prev = *p;
        p = &(*p)->next;
    }
    if (!*p)
        return;
    bool was_head = w == l->head;
    *p = w->next;
    if (l->tail == w)
        l->tail = prev;
    if (was_head && l->head)
        pthread_cond_signal(&l->head->turn);
}

int duckpond_lane_enter(duckpond_conn *conn, int timeout_ms)
{
    if (!conn || !conn->db)
        return DUCKPOND_MISUSE;
    if (conn->lane)
        return DUCKPOND_OK; /* held already: the lane is held to the transaction's end */
    struct dp_lane *l = &conn->db->lane;
    struct lane_waiter *w = calloc(1, sizeof *w);
    if (!w)
        return DUCKPOND_NOMEM;
    dp_cond_init_monotonic(&w->turn);
    struct timespec until =
        dp_deadline_us(CLOCK_MONOTONIC, (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000);
    int rc = DUCKPOND_OK;
    pthread_mutex_lock(&l->mu);
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    conn->lane_wait = w;
    while (l->head != w && !w->interrupted && rc == DUCKPOND_OK) {
        if (timeout_ms <= 0)
            pthread_cond_wait(&w->turn, &l->mu);
        else if (pthread_cond_timedwait(&w->turn, &l->mu, &until) == ETIMEDOUT && l->head != w)
            rc = DUCKPOND_LOCKED;
    }
    if (l->head != w && rc == DUCKPOND_OK)
        rc = DUCKPOND_INTERRUPTED;
    conn->lane_wait = NULL;
    if (rc == DUCKPOND_OK)
        conn->lane = w;
    else
        unlink_waiter(l, w);
    pthread_mutex_unlock(&l->mu);
    if (rc == DUCKPOND_LOCKED)
        dp_set_msg(&conn->errmsg, "canceling statement due to lock timeout (waited %d ms for the write lane)",
                   timeout_ms);
    else if (rc == DUCKPOND_INTERRUPTED)
        dp_set_msg(&conn->errmsg, "canceling statement: interrupted while waiting for the write lane");
    if (rc != DUCKPOND_OK) {
        pthread_cond_destroy(&w->turn);
        free(w);
    }
    return rc;
}

void duckpond_lane_leave(duckpond_conn *conn)
{
    if (!conn || !conn->lane)
        return;
    struct dp_lane *l = &conn->db->lane;
    struct lane_waiter *w = conn->lane;
    pthread_mutex_lock(&l->mu);
    unlink_waiter(l, w);
    conn->lane = NULL;
    pthread_mutex_unlock(&l->mu);
    pthread_cond_destroy(&w->turn);
    free(w);
}

void duckpond_lane_interrupt(duckpond_conn *conn)
{
    if (!conn || !conn->db)
        return;
    struct dp_lane *l = &conn->db->lane;
    pthread_mutex_lock(&l->mu);
    struct lane_waiter *w = conn->lane_wait;
    if (w) {
        w->interrupted = true;
        pthread_cond_signal(&w->turn);
    }
    pthread_mutex_unlock(&l->mu);
}

int duckpond_lane_held(const duckpond_conn *conn)
{
    return conn && conn->lane;
}
