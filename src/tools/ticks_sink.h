/*
 * ticks_sink.h -- the destinations of `duckpond ticks` (ticks_sink.c).
 */
#ifndef DUCKPOND_TICKS_SINK_H
#define DUCKPOND_TICKS_SINK_H

#include <stddef.h>

#include "ticks.h"

enum ticks_sink_kind {
    TICKS_SINK_STDOUT,   /* "stdout" or "-": line protocol */
    TICKS_SINK_ILP_TCP,  /* ilp://HOST:PORT */
    TICKS_SINK_ILP_HTTP, /* ilp+http://HOST:PORT[/PATH], PATH defaulting to /write?precision=ns */
    TICKS_SINK_HTTP,     /* http://HOST:PORT: duckpond's NDJSON ingest */
    TICKS_SINK_PG,       /* postgres://... or postgresql://...: COPY FROM STDIN */
};

struct ticks_sink;

/* Opens the destination named by to, creating the tables where it can
 * (http:// and postgres://). NULL with the reason in err. */
struct ticks_sink *ticks_sink_open(const char *to, char *err, size_t errlen);

/* Which format a sink takes: the line-protocol kinds one interleaved
 * buffer of lines (TICKS_ILP), HTTP per-table NDJSON, PostgreSQL per-table
 * COPY text. */
enum ticks_sink_kind ticks_sink_kind(const struct ticks_sink *s);

/* Writes one batch: lines for the line-protocol kinds, trades and quotes
 * for the others (empty buffers are skipped). 0, or -1 with the reason in
 * ticks_sink_errmsg. */
int ticks_sink_write(struct ticks_sink *s, const struct dp_buf *lines, const struct dp_buf *trades,
                     const struct dp_buf *quotes);

/* The last failure's message, owned by s. */
const char *ticks_sink_errmsg(const struct ticks_sink *s);

void ticks_sink_close(struct ticks_sink *s);

#endif
