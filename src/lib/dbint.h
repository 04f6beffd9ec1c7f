/*
 * dbint.h -- the insides of the database and connection handles, and the
 * helpers the library's files share (never for users of the library).
 */
#ifndef DUCKPOND_DBINT_H
#define DUCKPOND_DBINT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "duckpond.h"

/* The write lane of a database (lane.c): a FIFO queue whose head holds it. */
struct dp_lane {
    pthread_mutex_t mu;
    struct lane_waiter *head, *tail;
};

/* The tables with live bars (batcher/bars.c), as duckpond_bars_check sees them. */
struct dp_bars_names {
    pthread_mutex_t mu;
    char **names; /* tick and bar tables */
    size_t count, cap;
    bool any;           /* atomic: count > 0, read without the lock */
    struct bars_fn *fn; /* the duckpond_bars function's state, once registered (DuckDB owns it) */
};

struct duckpond_db {
    duckdb_database duck;
    char *path;
    char *errmsg;
    pid_t pid; /* the process that opened it: a child after fork may not use it */
    /* What duckpond_close waits to see closed (atomic). Connections count
     * those that pools and batchers hold. */
    int open_conns, open_pools, open_batchers;
    /* Tables written by duckpond alone ("schema.table", lower case), under protect_mu. */
    pthread_mutex_t protect_mu;
    char **protected_tables;
    size_t nprotected, protected_cap;
    struct dp_lane lane;
    struct dp_bars_names bars_names;
};

struct duckpond_conn {
    duckpond_db *db;
    duckdb_connection duck;
    char *errmsg;
    duckpond_pool *pool;                /* the pool it is checked out of, or NULL */
    bool returning;                     /* on its way back into pool (under the pool's lock) */
    duckdb_prepared_statement rollback; /* a pooled connection's ROLLBACK, prepared once */
    /* Whether a transaction may be open: SQL that may have begun one ran
     * through us since we last knew, or the DuckDB handle was handed out
     * (raw: from then on we never know). */
    bool tx_maybe_open, raw;
    /* What duckpond_write_apply keeps on this connection (batcher/apply.c),
     * freed by apply_free before the connection closes; NULL if nothing. */
    void *apply;
    void (*apply_free)(duckpond_conn *conn);
    /* The write lane (lane.c): its place while it holds the lane, and
     * while it waits (under the lane's mutex, for an interrupt). */
    struct lane_waiter *lane, *lane_wait;
};

void dp_lane_init(struct dp_lane *l);
void dp_lane_destroy(struct dp_lane *l);

/* Replaces *slot with a formatted, malloc'd message (NULL if out of memory). */
void dp_set_msg(char **slot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether the calling process is a child (after fork) of the one that opened db. */
bool dp_forked(const duckpond_db *db);

/* Adds n (+1 or -1) to one of db's counts of open handles. */
void dp_count(int *count, int n);

/*
 * DUCKPOND_OK when no transaction is open on conn, for the call `who`
 * that runs its own; DUCKPOND_MISUSE, with a message, when one is (the
 * caller's, left as it was).
 */
int dp_no_transaction(duckpond_conn *conn, const char *who);

/*
 * Versioned structs (duckpond.h, CAVEATS). first_size is the size of the
 * 0.1.0 layout (DP_FIRST_SIZE), the size a struct_size of 0 stands for.
 *
 * dp_struct_in copies the caller's struct src into the library's dst
 * (dst_size bytes, all of it written: zeros past the caller's size).
 * dp_struct_out copies the library's src (src_size bytes) into the
 * caller's dst as far as its struct_size reaches, keeping that size (and
 * never writing past src_size).
 * Both return DUCKPOND_MISUSE, writing nothing, for a size below
 * first_size, or (in) above dst_size with a byte set past it.
 */
int dp_struct_in(void *dst, size_t dst_size, const void *src, size_t first_size);
int dp_struct_out(void *dst, const void *src, size_t src_size, size_t first_size);

/* The size of a versioned struct T up to and including its member last, as 0.1.0 had it. */
#define DP_FIRST_SIZE(T, last) (offsetof(T, last) + sizeof(((T *)0)->last))
#define DP_RETRY_FIRST DP_FIRST_SIZE(duckpond_retry, deadline_ms)
#define DP_POOL_STATS_FIRST DP_FIRST_SIZE(duckpond_pool_stats, rolled_back)
#define DP_BATCHER_SETTINGS_FIRST DP_FIRST_SIZE(duckpond_batcher_settings, journal_apply_delay_ms)
#define DP_BATCHER_STATS_FIRST DP_FIRST_SIZE(duckpond_batcher_stats, applied_wait_timeouts)

#endif
