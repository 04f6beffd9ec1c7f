/*
 * pool.c -- a bounded pool of connections for threads that come and go.
 *
 * Connections are made lazily up to the pool's size and kept for reuse;
 * a thread that finds none free waits on a condition variable, with a
 * timeout, for one to come back. The pool never shares a connection: a
 * checked-out connection is its holder's alone until it is returned.
 *
 * A connection comes back clean: a transaction its holder left open (or
 * aborted by an error) is rolled back before anyone else can check it
 * out, so that one holder's forgotten BEGIN never becomes the next
 * holder's transaction. One prepared ROLLBACK per connection does it; it
 * fails harmlessly when no transaction is open.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbint.h"

struct duckpond_pool {
    duckpond_db *db;
    pthread_mutex_t lock;
    pthread_cond_t returned;
    duckpond_conn **idle; /* a stack of free connections */
    int n_idle;
    int size, open, in_use, waiting;
    uint64_t waits, timeouts, rolled_back;
};

int duckpond_pool_new(duckpond_db *db, int size, duckpond_pool **out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    *out = NULL;
    if (!db || !db->duck || size < 1 || dp_forked(db))
        return DUCKPOND_MISUSE;
    duckpond_pool *p = calloc(1, sizeof *p);
    if (!p)
        return DUCKPOND_NOMEM;
    p->idle = calloc((size_t)size, sizeof *p->idle);
    if (!p->idle) {
        free(p);
        return DUCKPOND_NOMEM;
    }
    dp_cond_init_monotonic(&p->returned);
    pthread_mutex_init(&p->lock, NULL);
    p->db = db;
    p->size = size;
    dp_count(&db->open_pools, 1);
    *out = p;
    return DUCKPOND_OK;
}

int duckpond_pool_free(duckpond_pool *p)
{
    if (!p)
        return DUCKPOND_OK;
    if (dp_forked(p->db))
        return DUCKPOND_MISUSE;
    pthread_mutex_lock(&p->lock);
    int in_use = p->in_use;
    pthread_mutex_unlock(&p->lock);
    if (in_use)
        return DUCKPOND_MISUSE; /* their holders would return them into freed memory */
    for (int i = 0; i < p->n_idle; i++)
        duckpond_disconnect(p->idle[i]);
    dp_count(&p->db->open_pools, -1);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->returned);
    free(p->idle);
    free(p);
    return DUCKPOND_OK;
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

/* A new connection for the pool, with its ROLLBACK prepared while it is surely outside a transaction. */
static int pool_connect(duckpond_pool *p, duckpond_conn **out)
{
    int rc = duckpond_connect(p->db, out);
    if (rc == DUCKPOND_OK && duckdb_prepare((*out)->duck, "ROLLBACK", &(*out)->rollback) == DuckDBError) {
        duckdb_destroy_prepare(&(*out)->rollback);
        (*out)->rollback = NULL; /* duckpond_pool_put runs it unprepared */
    }
    return rc;
}

int duckpond_pool_get(duckpond_pool *p, int timeout_ms, duckpond_conn **out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    *out = NULL;
    if (!p || dp_forked(p->db))
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
        rc = pool_connect(p, out);
        pthread_mutex_lock(&p->lock);
        if (rc != DUCKPOND_OK) {
            p->open--;
            p->in_use--;
            pthread_cond_signal(&p->returned);
        }
    }
    if (*out)
        (*out)->pool = p;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/*
 * Rolls back a transaction left open on conn. DUCKPOND_OK with *rolled
 * set when there was one, DUCKPOND_OK when there was none, or the class
 * of a ROLLBACK that failed otherwise (the connection is then unusable).
 */
static int rollback_left(duckpond_conn *conn, bool *rolled)
{
    duckdb_result res;
    duckdb_state st = conn->rollback ? duckdb_execute_prepared(conn->rollback, &res)
                                     : duckdb_query(conn->duck, "ROLLBACK", &res);
    int rc = DUCKPOND_OK;
    *rolled = st == DuckDBSuccess;
    if (st == DuckDBError) {
        const char *msg = duckdb_result_error(&res);
        bool none = duckdb_result_error_type(&res) == DUCKDB_ERROR_TRANSACTION && msg &&
                    strstr(msg, "no transaction is active");
        if (!none)
            rc = duckpond_conn_fail(conn, duckdb_result_error_type(&res), msg);
    }
    duckdb_destroy_result(&res);
    return rc;
}

/*
 * Claims conn for its way back into p, under the lock: of two puts of one
 * connection at once, one is taken and the other refused. False when conn
 * is not checked out of p (or is on its way back already).
 */
static bool claim_return(duckpond_pool *p, duckpond_conn *conn)
{
    pthread_mutex_lock(&p->lock);
    bool ours = conn->pool == p && !conn->returning;
    if (ours)
        conn->returning = true;
    pthread_mutex_unlock(&p->lock);
    return ours;
}

int duckpond_pool_put(duckpond_pool *p, duckpond_conn *conn)
{
    if (!p || !conn || dp_forked(p->db) || !claim_return(p, conn))
        return DUCKPOND_MISUSE; /* not ours: nothing changes */
    bool rolled;
    int rc = rollback_left(conn, &rolled);
    duckpond_lane_leave(conn); /* after the rollback */
    pthread_mutex_lock(&p->lock);
    conn->pool = NULL;
    conn->returning = false;
    conn->tx_maybe_open = false;
    p->in_use--;
    if (rc == DUCKPOND_OK) {
        assert(p->n_idle < p->size); /* every idle connection was checked out once, and claimed back once */
        p->idle[p->n_idle++] = conn;
        p->rolled_back += rolled;
    } else {
        p->open--; /* its slot is free for a new connection */
    }
    pthread_cond_signal(&p->returned);
    pthread_mutex_unlock(&p->lock);
    if (rc != DUCKPOND_OK)
        duckpond_disconnect(conn);
    return rc;
}

int duckpond_pool_stats_get(duckpond_pool *p, duckpond_pool_stats *out)
{
    if (!p || !out)
        return DUCKPOND_MISUSE;
    duckpond_pool_stats st = DUCKPOND_POOL_STATS_INIT();
    pthread_mutex_lock(&p->lock);
    st.size = p->size;
    st.open = p->open;
    st.in_use = p->in_use;
    st.waiting = p->waiting;
    st.waits = p->waits;
    st.timeouts = p->timeouts;
    st.rolled_back = p->rolled_back;
    pthread_mutex_unlock(&p->lock);
    return dp_struct_out(out, &st, sizeof st, DP_POOL_STATS_FIRST);
}
