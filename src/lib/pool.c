/*
 * pool.c -- a bounded pool of connections for threads that come and go.
 *
 * Connections are made lazily up to the pool's size and kept for reuse;
 * a thread that finds none free waits on a condition variable, with a
 * timeout, for one to come back. The pool never shares a connection: a
 * checked-out connection is its holder's alone until it is returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "dbint.h"

struct duckpond_pool {
    duckpond_db *db;
    pthread_mutex_t lock;
    pthread_cond_t returned;
    duckpond_conn **idle; /* a stack of free connections */
    int n_idle;
    int size, open, in_use, waiting;
    uint64_t waits, timeouts;
};

int duckpond_pool_new(duckpond_db *db, int size, duckpond_pool **out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    *out = NULL;
    if (!db || !db->duck || size < 1)
        return DUCKPOND_MISUSE;
    duckpond_pool *p = calloc(1, sizeof *p);
    if (!p)
        return DUCKPOND_NOMEM;
    p->idle = calloc((size_t)size, sizeof *p->idle);
    if (!p->idle) {
        free(p);
        return DUCKPOND_NOMEM;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->returned, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&p->lock, NULL);
    p->db = db;
    p->size = size;
    *out = p;
    return DUCKPOND_OK;
}

void duckpond_pool_free(duckpond_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_idle; i++)
        duckpond_disconnect(p->idle[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->returned);
    free(p->idle);
    free(p);
}

/* Waits for a connection to come back; the lock is held. */
static int wait_for_return(duckpond_pool *p, int timeout_ms)
{
    struct timespec until = dp_deadline(CLOCK_MONOTONIC, timeout_ms < 0 ? 0 : timeout_ms);
    p->waits++;
    p->waiting++;
    int rc = 0;
    while (p->n_idle == 0 && p->open == p->size && rc != ETIMEDOUT) {
        if (timeout_ms < 0)
            pthread_cond_wait(&p->returned, &p->lock);
        else
            rc = pthread_cond_timedwait(&p->returned, &p->lock, &until);
    }
    p->waiting--;
    if (p->n_idle == 0 && p->open == p->size) {
        p->timeouts++;
        return DUCKPOND_TIMEOUT;
    }
    return DUCKPOND_OK;
}

int duckpond_pool_get(duckpond_pool *p, int timeout_ms, duckpond_conn **out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    *out = NULL;
    if (!p)
        return DUCKPOND_MISUSE;
    pthread_mutex_lock(&p->lock);
    int rc = DUCKPOND_OK;
    if (p->n_idle == 0 && p->open == p->size) {
        rc = timeout_ms == 0 ? DUCKPOND_TIMEOUT : wait_for_return(p, timeout_ms);
        if (rc == DUCKPOND_TIMEOUT && timeout_ms == 0)
            p->timeouts++;
    }
    if (rc == DUCKPOND_OK && p->n_idle > 0) {
        *out = p->idle[--p->n_idle];
        p->in_use++;
    } else if (rc == DUCKPOND_OK) {
        p->open++; /* reserve the slot, connect outside the lock */
        p->in_use++;
        pthread_mutex_unlock(&p->lock);
        rc = duckpond_connect(p->db, out);
        pthread_mutex_lock(&p->lock);
        if (rc != DUCKPOND_OK) {
            p->open--;
            p->in_use--;
            pthread_cond_signal(&p->returned);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void duckpond_pool_put(duckpond_pool *p, duckpond_conn *conn)
{
    if (!p || !conn)
        return;
    pthread_mutex_lock(&p->lock);
    p->idle[p->n_idle++] = conn;
    p->in_use--;
    pthread_cond_signal(&p->returned);
    pthread_mutex_unlock(&p->lock);
}

void duckpond_pool_stats_get(duckpond_pool *p, duckpond_pool_stats *out)
{
    if (!p || !out)
        return;
    pthread_mutex_lock(&p->lock);
    out->size = p->size;
    out->open = p->open;
    out->in_use = p->in_use;
    out->waiting = p->waiting;
    out->waits = p->waits;
    out->timeouts = p->timeouts;
    pthread_mutex_unlock(&p->lock);
}
