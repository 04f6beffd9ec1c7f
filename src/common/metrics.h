/*
 * metrics.h -- the server's counters, shared by every protocol.
 *
 * Process-wide counters updated with relaxed atomics from any thread (no
 * locks on the hot path), read by GET /metrics and the status page. They
 * know nothing of DuckDB: the batcher's figures are added by the HTTP side
 * (http_metrics.c).
 */
#ifndef DUCKPOND_METRICS_H
#define DUCKPOND_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum metrics_proto { METRICS_PG = 0, METRICS_HTTP, METRICS_LINE, METRICS_NPROTO };

/* A connection of a protocol opened / closed. */
void metrics_conn_open(enum metrics_proto proto);
void metrics_conn_close(enum metrics_proto proto);

/* A statement ran; kind is its command word ("SELECT", "INSERT", ...). */
void metrics_statement(const char *kind);

/* An error was sent to a client with this SQLSTATE (5 characters). */
void metrics_error(const char *sqlstate);

/* A transaction conflict was retried by the server. */
void metrics_conflict_retried(void);

/* A COPY FROM STDIN loaded n rows (counted when it completes). */
void metrics_copy_rows(uint64_t n);

/* A snapshot of the counters, for writers of reports. */
struct metrics_snapshot {
    uint64_t conns_open[METRICS_NPROTO];
    uint64_t conns_total[METRICS_NPROTO];
    uint64_t conflicts_retried;
    uint64_t copy_rows;
};
void metrics_get(struct metrics_snapshot *out);

/*
 * The counters above as Prometheus text (format 0.0.4), appended to b; and
 * the helpers that write one metric each (HELP and TYPE lines, then the
 * sample), for callers that add figures of their own. A histogram has
 * nbounds upper bounds in microseconds (shown in seconds) and nbounds + 1
 * counts, the last for +Inf.
 */
void metrics_prometheus(struct dp_buf *b);

/*
 * A report of a part above the protocols (the PostgreSQL sync): set once
 * by the server before it serves. prometheus appends Prometheus text to
 * what metrics_prometheus writes; json appends members (",\"name\":...")
 * to the object of GET /v1/status. Either may be NULL.
 */
/*
 * The PostgreSQL sync's lag, for the charts: the wall-clock time in
 * microseconds of the commit of the oldest change DuckDB does not hold,
 * 0 when caught up. metrics_sync_lag_s: seconds behind now, or -1 while
 * no sync ever reported. Any thread.
 */
void metrics_sync_lag_from(int64_t wall_us);
double metrics_sync_lag_s(void);

void metrics_set_report(void (*prometheus)(struct dp_buf *b), void (*json)(struct dp_buf *b));
/* Appends the report's members to a JSON object being written (nothing when none is set). */
void metrics_report_json(struct dp_buf *b);
void metrics_emit_head(struct dp_buf *b, const char *name, const char *type, const char *help);
void metrics_emit_counter(struct dp_buf *b, const char *name, const char *help, uint64_t v);
void metrics_emit_gauge(struct dp_buf *b, const char *name, const char *help, uint64_t v);
void metrics_emit_seconds(struct dp_buf *b, const char *name, const char *help, uint64_t us);
void metrics_emit_histogram(struct dp_buf *b, const char *name, const char *help, const uint64_t *bounds_us,
                            int nbounds, const uint64_t *counts, uint64_t sum_us);

#endif
