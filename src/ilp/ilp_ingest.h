/*
 * ilp_ingest.h -- parsed line protocol lines into DuckDB tables, through
 * the ingest batcher: tables made and columns added on first sight, types
 * checked, rows gathered into writes, submitted in the ack mode asked.
 * Shared by the HTTP endpoints (http_ilp.c) and the TCP listener
 * (ilp_tcp.c), with the line protocol's counters for /metrics.
 */
#ifndef DUCKPOND_ILP_INGEST_H
#define DUCKPOND_ILP_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "duckpond.h"
#include "ilp_parse.h"
#include "ilp_schema.h"

/* Why a line, a connection or a request failed: the label of /metrics' errors. */
enum ilp_reason {
    ILP_ERR_SYNTAX = 0, /* the line does not parse */
    ILP_ERR_TOO_LONG,   /* past the line length limit */
    ILP_ERR_TYPE,       /* a value whose type conflicts with its column */
    ILP_ERR_NAME,       /* a reserved, invalid or duplicated table or column name */
    ILP_ERR_TABLE,      /* a missing table or column with auto-creation off, or DDL that failed */
    ILP_ERR_WRITE,      /* rows the batcher refused (conversion, constraint...) */
    ILP_ERR_OVERLOADED, /* no room in the batcher's queue in time (HTTP 503) */
    ILP_ERR_AUTH,       /* a missing or bad token, or a read-only user */
    ILP_ERR_NREASONS
};

/* Counts: lines read, rows written, failures by reason. Any thread. */
void ilp_count_lines(uint64_t n);
void ilp_count_error(enum ilp_reason r);
/* The counters as Prometheus text (with the batcher's rows the sinks saw committed). */
void ilp_metrics_prometheus(struct dp_buf *b);

/*
 * One stream of lines (an HTTP request, a TCP connection) in one
 * precision and ack mode. hold: keep every write until ilp_sink_flush
 * with wait (a request that a bad line rejects whole writes nothing);
 * else writes go to the batcher as they fill (a connection).
 */
struct ilp_sink;
struct ilp_sink *ilp_sink_new(struct ilp_env *e, enum ilp_precision p, duckpond_ack ack, bool hold);

/*
 * Takes one parsed line, number line_no of its stream; a line without a
 * timestamp gets now_ns. Returns 0, or the reason it was refused, with
 * the message in ilp_sink_why (the sink is usable afterwards). Without
 * hold, may submit a full write, waiting for queue room (backpressure).
 */
int ilp_sink_line(struct ilp_sink *s, const struct ilp_line *ln, size_t line_no, int64_t now_ns);

/*
 * Submits what the sink holds. wait: also waits until every submitted
 * write is acknowledged (committed, or journaled); else only as many
 * writes stay in flight as the pipeline allows. Returns DUCKPOND_OK, or
 * the status of the first failure (ilp_sink_why says what, and on which
 * line). DUCKPOND_OVERLOADED when the queue had no room within the
 * batcher's overload timeout: the writes not yet submitted stay held.
 */
int ilp_sink_flush(struct ilp_sink *s, bool wait);

/* Rows acknowledged so far (committed or journaled) and rows refused by the batcher. */
void ilp_sink_counts(const struct ilp_sink *s, uint64_t *rows, uint64_t *failed);

/* The last refusal's message ("line 3: ..."), or "". Owned by s. */
const char *ilp_sink_why(const struct ilp_sink *s);

/* Frees s: held writes are dropped unwritten; writes in flight are waited for. */
void ilp_sink_free(struct ilp_sink *s);

#endif
