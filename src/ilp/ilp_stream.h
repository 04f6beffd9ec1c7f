/*
 * ilp_stream.h -- the bytes of one stream of line protocol (an HTTP body,
 * a TCP connection) into a sink (ilp_stream.c).
 */
#ifndef DUCKPOND_ILP_STREAM_H
#define DUCKPOND_ILP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "ilp_ingest.h"

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
