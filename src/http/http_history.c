/*
 * http_history.c -- a ring of the last 15 minutes of the server's figures,
 * one sample a second, served as JSON at GET /v1/history for the status
 * page's charts.
 *
 * A thread of its own takes each sample, so the charts have a history the
 * moment a browser opens the page, and a page polling every second costs
 * one copy of the ring's newer end, not a query. A sample holds what the
 * counters moved by in the second (rows committed, by the batcher or by
 * COPY; the ack latency's p50 and p99 from the histogram's growth) and
 * what is now (connections by protocol, rows queued, journaled writes not
 * yet applied: the lag of the database behind its journal), and the rows
 * per second of the busiest tables, from DuckDB's table statistics
 * (duckdb_tables().estimated_size: a catalog read, not a count).
 */
#include "http_history.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "metrics.h"

#define MAX_TRACKED 200 /* tables whose row counts are remembered between samples */
#define NAME_BYTES 64

struct table_rate {
    char name[NAME_BYTES];
    double rows_per_s;
};

struct sample {
    int64_t t_ms;
    double rows_per_s, p50_ms, p99_ms; /* p50/p99: NaN when nothing was acked */
    uint64_t conns[METRICS_NPROTO];
    uint64_t queue_rows;
    int64_t journal_unapplied; /* -1: no journal */
    double sync_lag_s;         /* -1: no PostgreSQL sync */
    int ntables;
    struct table_rate tables[HISTORY_TABLES];
};

struct table_count {
    char name[NAME_BYTES];
    int64_t rows;
};

struct http_history {
    duckpond_batcher *batcher;
    duckpond_conn *conn;
    pthread_t thread;
    pthread_mutex_t lock; /* guards the ring and stop */
    pthread_cond_t wake;
    bool stop, started;
    struct sample ring[HISTORY_SAMPLES];
    size_t next, count;
    /* the previous sample's totals, for the differences; the thread's own */
    int64_t prev_mono_us;
    uint64_t prev_rows, prev_latency[DUCKPOND_LATENCY_BUCKETS + 1];
    struct table_count prev_tables[MAX_TRACKED];
    int prev_ntables;
};

/* The q-quantile in ms of the latencies that fell in each bucket (counts,
 * the last bucket +Inf), interpolated inside its bucket as Prometheus's
 * histogram_quantile does; NaN when there were none. */
static double quantile_ms(const uint64_t *counts, double q)
{
    uint64_t total = 0;
    for (int i = 0; i <= DUCKPOND_LATENCY_BUCKETS; i++)
        total += counts[i];
    if (!total)
        return NAN;
    double want = q * (double)total, below = 0;
    for (int i = 0; i < DUCKPOND_LATENCY_BUCKETS; i++) {
        if (below + (double)counts[i] >= want) {
            double lo = i ? (double)duckpond_latency_bounds_us[i - 1] : 0,
                   hi = (double)duckpond_latency_bounds_us[i];
            return (lo + (hi - lo) * (want - below) / (double)counts[i]) / 1000.0;
        }
        below += (double)counts[i];
    }
    return (double)duckpond_latency_bounds_us[DUCKPOND_LATENCY_BUCKETS - 1] / 1000.0;
}

/* The row count a table had at the previous sample, or -1. */
static int64_t prev_rows_of(const struct http_history *h, const char *name)
{
    for (int i = 0; i < h->prev_ntables; i++)
        if (strcmp(h->prev_tables[i].name, name) == 0)
            return h->prev_tables[i].rows;
    return -1;
}

/* Keeps rate among the busiest HISTORY_TABLES of s (ties: the first seen). */
static void keep_busiest(struct sample *s, const char *name, double rate)
{
    int at = s->ntables;
    if (at == HISTORY_TABLES) {
        at = 0;
        for (int i = 1; i < HISTORY_TABLES; i++)
            if (s->tables[i].rows_per_s < s->tables[at].rows_per_s)
                at = i;
        if (s->tables[at].rows_per_s >= rate)
            return;
    } else {
        s->ntables++;
    }
    snprintf(s->tables[at].name, NAME_BYTES, "%s", name);
    s->tables[at].rows_per_s = rate;
}

/* Each user table's rows now (DuckDB's statistics), and its rate since the
 * previous sample into s; the counts become the previous ones. */
static int sample_tables(struct http_history *h, struct sample *s, double dt)
{
    duckdb_result res;
    if (duckdb_query(
            duckpond_conn_duckdb(h->conn),
            "SELECT CASE WHEN schema_name = 'main' THEN table_name ELSE schema_name || '.' || table_name END,"
            " estimated_size FROM duckdb_tables() WHERE database_name = current_database() AND NOT internal"
            " AND NOT starts_with(table_name, 'duckpond_') ORDER BY 1 LIMIT 200",
            &res) != DuckDBSuccess) {
        duckdb_destroy_result(&res);
        return -1;
    }
    struct table_count now[MAX_TRACKED];
    int n = 0;
    for (idx_t r = 0; r < duckdb_row_count(&res) && n < MAX_TRACKED; r++) {
        char *name = duckdb_value_varchar(&res, 0, r);
        if (!name)
            continue;
        snprintf(now[n].name, NAME_BYTES, "%s", name);
        duckdb_free(name);
        now[n].rows = duckdb_value_int64(&res, 1, r);
        int64_t before = prev_rows_of(h, now[n].name);
        if (before >= 0 && dt > 0)
            keep_busiest(s, now[n].name, now[n].rows > before ? (double)(now[n].rows - before) / dt : 0);
        n++;
    }
    duckdb_destroy_result(&res);
    memcpy(h->prev_tables, now, (size_t)n * sizeof now[0]);
    h->prev_ntables = n;
    return 0;
}

int http_history_sample(struct http_history *h)
{
    struct sample s = {.journal_unapplied = -1, .p50_ms = NAN, .p99_ms = NAN};
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    s.t_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    int64_t mono = dp_now_us();
    double dt = h->prev_mono_us ? (double)(mono - h->prev_mono_us) / 1e6 : 0;
    duckpond_batcher_stats st = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(h->batcher, &st);
    struct metrics_snapshot m;
    metrics_get(&m);
    uint64_t rows = st.rows_committed + m.copy_rows, grew[DUCKPOND_LATENCY_BUCKETS + 1];
    for (int i = 0; i <= DUCKPOND_LATENCY_BUCKETS; i++)
        grew[i] = st.latency_count[i] - h->prev_latency[i];
    if (dt > 0) {
        s.rows_per_s = (double)(rows - h->prev_rows) / dt;
        s.p50_ms = quantile_ms(grew, 0.5);
        s.p99_ms = quantile_ms(grew, 0.99);
    }
    memcpy(h->prev_latency, st.latency_count, sizeof h->prev_latency);
    h->prev_rows = rows;
    h->prev_mono_us = mono;
    memcpy(s.conns, m.conns_open, sizeof s.conns);
    s.queue_rows = st.queue_rows;
    if (st.journal_appended_seq || st.journal_segments)
        s.journal_unapplied = st.journal_appended_seq > st.journal_applied_seq
                                  ? (int64_t)(st.journal_appended_seq - st.journal_applied_seq)
                                  : 0;
    s.sync_lag_s = metrics_sync_lag_s();
    int rc = sample_tables(h, &s, dt);
    if (dt <= 0)
        return rc; /* the first call only sets the totals to difference from */
    pthread_mutex_lock(&h->lock);
    h->ring[h->next] = s;
    h->next = (h->next + 1) % HISTORY_SAMPLES;
    if (h->count < HISTORY_SAMPLES)
        h->count++;
    pthread_mutex_unlock(&h->lock);
    return rc;
}

/* The sampler: a sample, then a second's wait that http_history_stop cuts short. */
static void *history_thread(void *arg)
{
    struct http_history *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        pthread_mutex_unlock(&h->lock);
        http_history_sample(h);
        pthread_mutex_lock(&h->lock);
        struct timespec until = dp_deadline(CLOCK_MONOTONIC, 1000);
        while (!h->stop && pthread_cond_timedwait(&h->wake, &h->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

struct http_history *http_history_start(duckpond_db *db, duckpond_batcher *batcher)
{
    struct http_history *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->batcher = batcher;
    pthread_mutex_init(&h->lock, NULL);
    dp_cond_init_monotonic(&h->wake);
    if (duckpond_connect(db, &h->conn) != DUCKPOND_OK ||
        pthread_create(&h->thread, NULL, history_thread, h) != 0) {
        http_history_stop(h);
        return NULL;
    }
    h->started = true;
    return h;
}

void http_history_stop(struct http_history *h)
{
    if (!h)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->lock);
        h->stop = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
    }
    if (h->conn)
        duckpond_disconnect(h->conn);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* A number, or null for NaN (JSON has no NaN). */
static void json_number(struct dp_buf *b, double v)
{
    if (isnan(v))
        dp_buf_str(b, "null");
    else
        dp_buf_printf(b, "%.3f", v);
}

/* One sample as a JSON object, appended to b (the shape http_history.h shows). */
static void sample_json(struct dp_buf *b, const struct sample *s)
{
    dp_buf_printf(b, "{\"t\":%lld,\"rows_per_s\":", (long long)s->t_ms);
    json_number(b, s->rows_per_s);
    dp_buf_str(b, ",\"p50_ms\":");
    json_number(b, s->p50_ms);
    dp_buf_str(b, ",\"p99_ms\":");
    json_number(b, s->p99_ms);
    dp_buf_printf(b, ",\"connections\":{\"pg\":%llu,\"http\":%llu,\"line\":%llu},\"queue_rows\":%llu",
                  (unsigned long long)s->conns[METRICS_PG], (unsigned long long)s->conns[METRICS_HTTP],
                  (unsigned long long)s->conns[METRICS_LINE], (unsigned long long)s->queue_rows);
    if (s->journal_unapplied < 0)
        dp_buf_str(b, ",\"journal_unapplied\":null");
    else
        dp_buf_printf(b, ",\"journal_unapplied\":%lld", (long long)s->journal_unapplied);
    dp_buf_str(b, ",\"sync_lag_s\":");
    if (s->sync_lag_s < 0)
        dp_buf_str(b, "null");
    else
        json_number(b, s->sync_lag_s);
    dp_buf_str(b, ",\"tables\":{");
    for (int i = 0; i < s->ntables; i++) {
        if (i)
            dp_buf_byte(b, ',');
        http_json_string(b, s->tables[i].name, strlen(s->tables[i].name));
        dp_buf_byte(b, ':');
        json_number(b, s->tables[i].rows_per_s);
    }
    dp_buf_str(b, "}}");
}

void http_history_json(struct http_history *h, int64_t since_ms, struct dp_buf *b)
{
    dp_buf_str(b, "{\"interval_ms\":1000,\"samples\":[");
    pthread_mutex_lock(&h->lock);
    size_t first = (h->next + HISTORY_SAMPLES - h->count) % HISTORY_SAMPLES;
    bool any = false;
    for (size_t i = 0; i < h->count; i++) {
        const struct sample *s = &h->ring[(first + i) % HISTORY_SAMPLES];
        if (s->t_ms <= since_ms)
            continue;
        if (any)
            dp_buf_byte(b, ',');
        sample_json(b, s);
        any = true;
    }
    pthread_mutex_unlock(&h->lock);
    dp_buf_str(b, "]}");
}

enum MHD_Result http_history_get(struct http_env *env, struct MHD_Connection *c)
{
    if (!env->history)
        return http_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, DUCKPOND_ERROR, NULL,
                               "the history of figures is not being kept");
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    struct dp_buf b = DP_BUF_INIT;
    http_history_json(env->history, since ? strtoll(since, NULL, 10) : 0, &b);
    return http_send_json(c, MHD_HTTP_OK, &b);
}
