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

struct ilp_options {
    bool no_auto_create; /* a line for a missing table or column fails instead */
    bool timestamp_ns;   /* new tables' "timestamp" column is TIMESTAMP_NS, not TIMESTAMP */
    size_t batch_rows;   /* rows per write handed to the batcher; 0 = 10000 */
    size_t max_line;     /* bytes in one line, at most; 0 = 16 MiB */
    duckpond_ack ack;    /* the ack mode of streams that name none (TCP, and HTTP by default) */
};

/* The server-wide part: the DDL connection and what it knows of tables. */
struct ilp_env;

/*
 * Makes the shared part on db and b (both must outlive it), with its own
 * connection for DDL, in *out: DUCKPOND_OK or a status.
 */
int ilp_env_new(duckpond_db *db, duckpond_batcher *b, const struct ilp_options *opt, struct ilp_env **out);
void ilp_env_free(struct ilp_env *e);

/* The options in force (defaults filled in). */
const struct ilp_options *ilp_env_options(const struct ilp_env *e);

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

/* ------------------------------------------------------------ a stream */

/*
 * Bytes of one stream (a request's body, a connection) into a sink:
 * framed into lines across pieces, parsed, counted, handed on. It stops
 * at the first line that fails: the lines before it stay in the sink.
 */
struct ilp_stream {
    struct ilp_sink *sink;
    struct ilp_parser ps;
    struct ilp_framer fr;
    struct dp_buf partial; /* the start of a line whose end has not come */
    size_t max_line;
    size_t line_no;   /* lines begun so far */
    size_t uncounted; /* lines parsed and not yet added to the counter */
    int reason;       /* the first failure's enum ilp_reason + 1, or 0 */
    size_t bad_line;
    char why[700]; /* "line N: ..." */
};

/* Starts a stream into sink (which the caller frees after the stream). */
void ilp_stream_init(struct ilp_stream *st, struct ilp_sink *sink, size_t max_line);
void ilp_stream_free(struct ilp_stream *st);

/*
 * Takes the next n bytes. Returns 0, or once a line has failed its enum
 * ilp_reason + 1 (st->why says what; further bytes are ignored). Lines
 * without a timestamp get now_ns.
 */
int ilp_stream_feed(struct ilp_stream *st, const char *p, size_t n, int64_t now_ns);

/* The stream has ended: a last line without a newline is taken. As ilp_stream_feed. */
int ilp_stream_end(struct ilp_stream *st, int64_t now_ns);

#endif
