/*
 * http_metrics.c -- GET /metrics: the server's counters (metrics.c), the
 * batcher's and the journal's figures, and DuckDB's memory, as Prometheus
 * text. Built whole in memory: a few kilobytes, read by a scraper or the
 * status page.
 */
#include <string.h>

#include "http_metrics.h"
#include "ilp_ingest.h"
#include "metrics.h"

/* The batcher's journal, when it has one. */
static void emit_journal(struct dp_buf *b, const duckpond_batcher_stats *s)
{
    if (!s->journal_appended_seq && !s->journal_segments && !s->journal_replayed_writes)
        return;
    metrics_emit_counter(b, "duckpond_journal_syncs_total", "Journal fdatasync calls.", s->journal_syncs);
    metrics_emit_seconds(b, "duckpond_journal_sync_seconds_total", "Time spent in journal fdatasync calls.",
                         s->journal_sync_us);
    metrics_emit_counter(b, "duckpond_journal_rows_acked_total", "Rows acknowledged once journaled.",
                         s->journal_rows_acked);
    metrics_emit_counter(b, "duckpond_journal_rows_failed_after_ack_total",
                         "Journaled rows that failed when applied.", s->journal_rows_failed_after_ack);
    metrics_emit_counter(b, "duckpond_journal_replayed_writes_total",
                         "Writes applied from the journal at start.", s->journal_replayed_writes);
    metrics_emit_counter(b, "duckpond_journal_errors_total", "Journaled submits refused by I/O errors.",
                         s->journal_errors);
    metrics_emit_gauge(b, "duckpond_journal_segments", "Journal files now.", s->journal_segments);
    metrics_emit_gauge(b, "duckpond_journal_unapplied", "Journaled writes not yet applied.",
                       s->journal_appended_seq > s->journal_applied_seq
                           ? s->journal_appended_seq - s->journal_applied_seq
                           : 0);
    metrics_emit_histogram(b, "duckpond_journal_apply_lag_seconds",
                           "Time from a journaled write's append to its commit.", duckpond_latency_bounds_us,
                           DUCKPOND_LATENCY_BUCKETS, s->apply_lag_count, s->apply_lag_sum_us);
    metrics_emit_gauge(b, "duckpond_journal_appended_seq", "Highest journal sequence number appended.",
                       s->journal_appended_seq);
    metrics_emit_gauge(b, "duckpond_journal_synced_seq", "Highest journal sequence number on disk.",
                       s->journal_synced_seq);
    metrics_emit_gauge(b, "duckpond_journal_applied_seq",
                       "Highest journal sequence number applied to the database.", s->journal_applied_seq);
    metrics_emit_counter(b, "duckpond_journal_writes_acked_total", "Writes acknowledged once journaled.",
                         s->journal_writes_acked);
    metrics_emit_counter(b, "duckpond_journal_applied_waits_total",
                         "Reads that waited for their journaled writes to be applied.", s->applied_waits);
    metrics_emit_seconds(b, "duckpond_journal_applied_wait_seconds_total",
                         "Time reads spent waiting for their journaled writes to be applied.",
                         s->applied_wait_sum_us);
    metrics_emit_counter(b, "duckpond_journal_applied_wait_timeouts_total",
                         "Reads that gave up waiting for their journaled writes.", s->applied_wait_timeouts);
}

/* The batcher's counters and its commit-ack latency histogram (seconds). */
static void emit_batcher(struct dp_buf *b, duckpond_batcher *batcher)
{
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(batcher, &s);
    metrics_emit_counter(b, "duckpond_batcher_rows_accepted_total", "Rows accepted by the batcher.",
                         s.rows_accepted);
    metrics_emit_counter(b, "duckpond_batcher_rows_committed_total", "Rows the batcher committed.",
                         s.rows_committed);
    metrics_emit_counter(b, "duckpond_batcher_rows_failed_total", "Rows the batcher rejected.",
                         s.rows_failed);
    metrics_emit_counter(b, "duckpond_batcher_bytes_committed_total", "Bytes the batcher committed.",
                         s.bytes_committed);
    metrics_emit_counter(b, "duckpond_batcher_commits_total", "DuckDB transactions the batcher committed.",
                         s.commits);
    metrics_emit_counter(b, "duckpond_batcher_writes_acked_total", "Writes acknowledged.", s.writes_acked);
    uint64_t applied_rows = 0;
    duckpond_batcher_applied(batcher, NULL, &applied_rows);
    metrics_emit_counter(b, "duckpond_batcher_rows_applied_total",
                         "Rows written by the batcher's means inside sessions' transactions.", applied_rows);
    metrics_emit_counter(b, "duckpond_batcher_overloaded_total", "Writes refused for lack of room.",
                         s.overloaded);
    metrics_emit_gauge(b, "duckpond_batcher_queue_rows", "Rows accepted, not yet committed.", s.queue_rows);
    metrics_emit_gauge(b, "duckpond_batcher_queue_bytes", "Bytes accepted, not yet committed.",
                       s.queue_bytes);
    metrics_emit_histogram(b, "duckpond_batcher_ack_latency_seconds",
                           "Time from a write's submit to its acknowledgement.", duckpond_latency_bounds_us,
                           DUCKPOND_LATENCY_BUCKETS, s.latency_count, s.latency_sum_us);
    emit_journal(b, &s);
}

/* DuckDB's memory in use, from its duckdb_memory() table function. */
static void emit_memory(struct dp_buf *b, duckpond_db *db)
{
    duckpond_conn *conn = NULL;
    int64_t bytes = 0;
    if (duckpond_connect(db, &conn) != DUCKPOND_OK)
        return;
    int rc = duckpond_query_int64(
        conn, "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()", &bytes);
    duckpond_disconnect(conn);
    if (rc != DUCKPOND_OK)
        return;
    metrics_emit_gauge(b, "duckpond_duckdb_memory_bytes", "Memory DuckDB's buffer manager holds.",
                       (uint64_t)bytes);
}

int http_metrics_text(duckpond_db *db, duckpond_batcher *b, char **out, size_t *len)
{
    struct dp_buf m = DP_BUF_INIT;
    metrics_prometheus(&m);
    ilp_metrics_prometheus(&m);
    if (b)
        emit_batcher(&m, b);
    if (db)
        emit_memory(&m, db);
    *out = dp_buf_take(&m, len);
    return *out ? DUCKPOND_OK : DUCKPOND_NOMEM;
}
