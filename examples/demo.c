/*
 * demo.c -- an example program on the public API alone (include/duckpond.h):
 * the library at work on a database file, printed as it happens.
 * Usage: build/examples/demo [FILE].
 *
 * Writer threads trade and update positions concurrently (each on its own
 * connection, conflicts retried with backoff), reader threads share a
 * small pool, producer threads stream ticks through the ingest batcher,
 * and at the end a snapshot is written that other processes could open
 * READ_ONLY. Everything it prints is measured, not assumed; it exits 0
 * when every step went right. Run twice on one file, it adds to what is
 * there.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duckpond.h"

enum { DEMO_WRITERS = 4, DEMO_READERS = 4, DEMO_TRADES = 250, DEMO_PRODUCERS = 4, DEMO_TICKS = 250 };

struct demo_thread {
    duckpond_db *db;
    duckpond_pool *pool;
    duckpond_batcher *batcher;
    void *(*main)(void *); /* what the thread runs */
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
    duckpond_retry retry = DUCKPOND_RETRY_INIT(.max_attempts = 200);
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
        int put = duckpond_pool_put(t->pool, c);
        if (t->rc == DUCKPOND_OK)
            t->rc = put;
        t->reads++;
    }
    return NULL;
}

/* One tick per write, acknowledged once DuckDB has committed it. */
static void *producer(void *arg)
{
    struct demo_thread *t = arg;
    static const char *const cols[] = {"symbol", "price"};
    for (int i = 0; i < DEMO_TICKS && t->rc == DUCKPOND_OK; i++) {
        duckpond_write *w;
        if ((t->rc = duckpond_write_new(t->batcher, "ticks", cols, 2, 0, &w)) != DUCKPOND_OK)
            break;
        char symbol[16];
        int len = snprintf(symbol, sizeof symbol, "SYM%d", t->id % 2);
        duckpond_value row[2] = {{.kind = DUCKPOND_VALUE_TEXT}, {.kind = DUCKPOND_VALUE_DOUBLE}};
        row[0].u.text.ptr = symbol;
        row[0].u.text.len = (size_t)len;
        row[1].u.f64 = 100.0 + i * 0.01;
        t->rc = duckpond_write_add_row(w, row);
        if (t->rc == DUCKPOND_OK)
            t->rc = duckpond_write_submit(w, DUCKPOND_ACK_COMMIT);
        if (t->rc != DUCKPOND_OK)
            snprintf(t->err, sizeof t->err, "%s", duckpond_write_errmsg(w));
        duckpond_write_free(w);
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
                          "INSERT OR IGNORE INTO positions VALUES ('SYM0', 0), ('SYM1', 0);"
                          "CREATE TABLE IF NOT EXISTS ticks (symbol VARCHAR, price DOUBLE)");
    if (rc != DUCKPOND_OK)
        fprintf(stderr, "demo: %s\n", duckpond_conn_errmsg(c));
    duckpond_disconnect(c);
    return rc;
}

/* Runs ts[0..n) on threads of their own, each its main, and waits for them; the last failure's status. */
static int run_threads(struct demo_thread *ts, int n)
{
    pthread_t th[DEMO_WRITERS + DEMO_READERS + DEMO_PRODUCERS];
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, ts[i].main, &ts[i]);
    int rc = DUCKPOND_OK;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (ts[i].rc != DUCKPOND_OK) {
            fprintf(stderr, "demo: thread %d: %s %s\n", ts[i].id, duckpond_strerror(ts[i].rc), ts[i].err);
            rc = ts[i].rc;
        }
    }
    return rc;
}

/* Writers and readers at once, the readers on a pool of two connections. */
static int run_trading(duckpond_db *db)
{
    duckpond_pool *pool;
    int rc = duckpond_pool_new(db, 2, &pool);
    if (rc != DUCKPOND_OK)
        return rc;
    struct demo_thread ts[DEMO_WRITERS + DEMO_READERS];
    for (int i = 0; i < DEMO_WRITERS + DEMO_READERS; i++)
        ts[i] =
            (struct demo_thread){.db = db, .pool = pool, .id = i, .main = i < DEMO_WRITERS ? writer : reader};
    rc = run_threads(ts, DEMO_WRITERS + DEMO_READERS);
    int retries = 0, reads = 0;
    for (int i = 0; i < DEMO_WRITERS + DEMO_READERS; i++)
        retries += ts[i].retries, reads += ts[i].reads;
    duckpond_pool_stats st = DUCKPOND_POOL_STATS_INIT();
    duckpond_pool_stats_get(pool, &st);
    printf("%d writer threads committed %d trades; %d conflicts retried with backoff\n", DEMO_WRITERS,
           DEMO_WRITERS * DEMO_TRADES, retries);
    printf("%d reader threads ran %d queries on a pool of %d connections (%llu waits)\n", DEMO_READERS, reads,
           st.size, (unsigned long long)st.waits);
    int freed = duckpond_pool_free(pool);
    return rc != DUCKPOND_OK ? rc : freed;
}

/* Producers write one tick at a time; the batcher commits them in groups. */
static int run_ingest(duckpond_db *db)
{
    duckpond_batcher *b;
    int rc = duckpond_batcher_new(db, NULL, &b);
    if (rc != DUCKPOND_OK) {
        fprintf(stderr, "demo: batcher: %s %s\n", duckpond_strerror(rc), duckpond_db_errmsg(db));
        return rc;
    }
    struct demo_thread ts[DEMO_PRODUCERS];
    for (int i = 0; i < DEMO_PRODUCERS; i++)
        ts[i] = (struct demo_thread){.db = db, .batcher = b, .id = i, .main = producer};
    rc = run_threads(ts, DEMO_PRODUCERS);
    duckpond_batcher_stats st = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(b, &st);
    printf("%d producer threads wrote %llu ticks, one per write, in %llu DuckDB commits\n", DEMO_PRODUCERS,
           (unsigned long long)st.rows_committed, (unsigned long long)st.commits);
    int freed = duckpond_batcher_free(b);
    return rc != DUCKPOND_OK ? rc : freed;
}

/* Checks what the threads left, and writes the snapshot. */
static int report(duckpond_db *db, const char *path)
{
    duckpond_conn *c;
    int rc = duckpond_connect(db, &c);
    if (rc != DUCKPOND_OK)
        return rc;
    int64_t trades = 0, diff = 0, ticks = 0;
    rc = duckpond_query_int64(c, "SELECT count(*) FROM trades", &trades);
    if (rc == DUCKPOND_OK)
        rc = duckpond_query_int64(
            c, "SELECT (SELECT sum(qty) FROM trades) - (SELECT sum(qty) FROM positions)", &diff);
    if (rc == DUCKPOND_OK)
        rc = duckpond_query_int64(c, "SELECT count(*) FROM ticks", &ticks);
    printf("%s now holds %lld trades and %lld ticks; trades and positions agree: %s\n", path,
           (long long)trades, (long long)ticks, diff == 0 ? "yes" : "NO");
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
    printf("libduckpond %s (built with duckpond.h %s)\n", duckpond_libversion(NULL, NULL, NULL),
           DUCKPOND_VERSION);
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
        rc = run_trading(db);
    if (rc == DUCKPOND_OK)
        rc = run_ingest(db);
    if (rc == DUCKPOND_OK)
        rc = report(db, path);
    if (duckpond_close(db) != DUCKPOND_OK) {
        fprintf(stderr, "demo: %s\n", duckpond_db_errmsg(db));
        rc = DUCKPOND_MISUSE;
    }
    return rc == DUCKPOND_OK ? 0 : 1;
}
