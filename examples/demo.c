/*
 * demo.c -- an example program on the public API alone: the library's
 * concurrency core at work on a database file, printed as it happens.
 * Usage: build/examples/demo [FILE].
 *
 * Writer threads append trades and update positions concurrently (each on
 * its own connection, conflicts retried with backoff), reader threads share
 * a small pool, and at the end a snapshot is written that other processes
 * could open READ_ONLY. Everything it prints is measured, not assumed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duckpond.h"

enum { DEMO_WRITERS = 4, DEMO_READERS = 4, DEMO_TRADES = 250 };

struct demo_thread {
    duckpond_db *db;
    duckpond_pool *pool;
    int id;
    int rc;
    int retries;
    int reads;
    char err[256];
};

/* One trade and its position change, in one transaction. */
static int trade_tx(duckpond_conn *c, int attempt, void *arg)
{
    struct demo_thread *t = arg;
    if (attempt > 1)
        t->retries++;
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO trades VALUES (now(), 'SYM%d', 10, 100.0 + random());"
             "UPDATE positions SET qty = qty + 10 WHERE symbol = 'SYM%d'",
             t->id % 2, t->id % 2);
    return duckpond_exec(c, sql);
}

static void *writer(void *arg)
{
    struct demo_thread *t = arg;
    duckpond_conn *c;
    if ((t->rc = duckpond_connect(t->db, &c)) != DUCKPOND_OK)
        return NULL;
    duckpond_retry retry = {.max_attempts = 200};
    for (int i = 0; i < DEMO_TRADES && t->rc == DUCKPOND_OK; i++)
        t->rc = duckpond_tx_run(c, &retry, trade_tx, t, NULL);
    if (t->rc != DUCKPOND_OK)
        snprintf(t->err, sizeof t->err, "%s", duckpond_conn_errmsg(c));
    duckpond_disconnect(c);
    return NULL;
}

static void *reader(void *arg)
{
    struct demo_thread *t = arg;
    for (int i = 0; i < 50 && t->rc == DUCKPOND_OK; i++) {
        duckpond_conn *c;
        if ((t->rc = duckpond_pool_get(t->pool, 10000, &c)) != DUCKPOND_OK)
            break;
        int64_t n;
        t->rc = duckpond_query_int64(c, "SELECT count(*) FROM trades", &n);
        duckpond_pool_put(t->pool, c);
        t->reads++;
    }
    return NULL;
}

static int setup(duckpond_db *db)
{
    duckpond_conn *c;
    int rc = duckpond_connect(db, &c);
    if (rc != DUCKPOND_OK)
        return rc;
    rc = duckpond_exec(c, "CREATE TABLE IF NOT EXISTS trades (ts TIMESTAMP, symbol VARCHAR, "
                          "qty INTEGER, price DOUBLE);"
                          "CREATE TABLE IF NOT EXISTS positions (symbol VARCHAR PRIMARY KEY, qty BIGINT);"
                          "INSERT OR IGNORE INTO positions VALUES ('SYM0', 0), ('SYM1', 0)");
    if (rc != DUCKPOND_OK)
        fprintf(stderr, "demo: %s\n", duckpond_conn_errmsg(c));
    duckpond_disconnect(c);
    return rc;
}

/* Runs the writers and readers, then reports and snapshots. */
static int run_threads(duckpond_db *db, const char *path)
{
    duckpond_pool *pool;
    int rc = duckpond_pool_new(db, 2, &pool);
    if (rc != DUCKPOND_OK)
        return rc;
    struct demo_thread ts[DEMO_WRITERS + DEMO_READERS];
    pthread_t th[DEMO_WRITERS + DEMO_READERS];
    for (int i = 0; i < DEMO_WRITERS + DEMO_READERS; i++) {
        ts[i] = (struct demo_thread){.db = db, .pool = pool, .id = i};
        pthread_create(&th[i], NULL, i < DEMO_WRITERS ? writer : reader, &ts[i]);
    }
    int retries = 0, reads = 0;
    for (int i = 0; i < DEMO_WRITERS + DEMO_READERS; i++) {
        pthread_join(th[i], NULL);
        retries += ts[i].retries;
        reads += ts[i].reads;
        if (ts[i].rc != DUCKPOND_OK) {
            fprintf(stderr, "demo: thread %d: %s %s\n", i, duckpond_strerror(ts[i].rc), ts[i].err);
            rc = ts[i].rc;
        }
    }
    duckpond_pool_stats st;
    duckpond_pool_stats_get(pool, &st);
    printf("%d writer threads committed %d trades; %d conflicts retried with backoff\n",
           DEMO_WRITERS, DEMO_WRITERS * DEMO_TRADES, retries);
    printf("%d reader threads ran %d queries on a pool of %d connections (%llu waits)\n",
           DEMO_READERS, reads, st.size, (unsigned long long)st.waits);
    duckpond_pool_free(pool);
    (void)path;
    return rc;
}

static int report(duckpond_db *db, const char *path)
{
    duckpond_conn *c;
    int rc = duckpond_connect(db, &c);
    if (rc != DUCKPOND_OK)
        return rc;
    int64_t trades = 0, diff = 0;
    rc = duckpond_query_int64(c, "SELECT count(*) FROM trades", &trades);
    if (rc == DUCKPOND_OK)
        rc = duckpond_query_int64(c, "SELECT (SELECT sum(qty) FROM trades) - (SELECT sum(qty) FROM positions)",
                                  &diff);
    printf("%s now holds %lld trades; trades and positions agree: %s\n", path, (long long)trades,
           diff == 0 ? "yes" : "NO");
    char snap[4096];
    snprintf(snap, sizeof snap, "%s.snapshot", path);
    if (rc == DUCKPOND_OK && (rc = duckpond_snapshot(c, snap)) == DUCKPOND_OK)
        printf("snapshot written to %s: any number of processes may open it READ_ONLY\n", snap);
    if (rc != DUCKPOND_OK)
        fprintf(stderr, "demo: %s\n", duckpond_conn_errmsg(c));
    duckpond_disconnect(c);
    return rc == DUCKPOND_OK && diff == 0 ? DUCKPOND_OK : DUCKPOND_ERROR;
}

/* demo [FILE]: runs on FILE (default ./duckpond-demo.duckdb); exit status 0 when all went right. */
int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "duckpond-demo.duckdb";
    duckpond_db *db;
    int rc = duckpond_open(path, NULL, &db);
    if (rc != DUCKPOND_OK) {
        fprintf(stderr, "demo: %s\n", duckpond_db_errmsg(db));
        duckpond_close(db);
        return 1;
    }
    printf("opened %s\n", path);
    rc = setup(db);
    if (rc == DUCKPOND_OK)
        rc = run_threads(db, path);
    if (rc == DUCKPOND_OK)
        rc = report(db, path);
    duckpond_close(db);
    return rc == DUCKPOND_OK ? 0 : 1;
}
