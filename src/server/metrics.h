/*
 * metrics.h -- the server's counters, shared by every protocol.
 *
 * Process-wide counters updated with relaxed atomics from any thread (no
 * locks on the hot path), read by GET /metrics and the status page. The
 * batcher's own counters come from duckpond_batcher_stats_get.
 */
#ifndef DUCKPOND_METRICS_H
#define DUCKPOND_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "duckpond.h"

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

/* A snapshot of the counters, for writers of reports. */
struct metrics_snapshot {
    uint64_t conns_open[METRICS_NPROTO];
    uint64_t conns_total[METRICS_NPROTO];
    uint64_t conflicts_retried;
};
void metrics_get(struct metrics_snapshot *out);

/*
 * Appends the whole Prometheus text exposition (format 0.0.4) to a
 * malloc'd, NUL-terminated buffer in *out (caller frees): the counters
 * above, statements by kind, errors by SQLSTATE, the batcher's stats when
 * b is not NULL, and DuckDB's memory in use when db is not NULL.
 * Returns DUCKPOND_OK or DUCKPOND_NOMEM.
 */
int metrics_prometheus(duckpond_db *db, duckpond_batcher *b, char **out, size_t *len);

#endif
