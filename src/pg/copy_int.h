/*
 * copy_int.h -- the inside of COPY FROM STDIN, shared by copy.c (the
 * sub-protocol, the target table, the transaction), copy_stream.c (text
 * and CSV through DuckDB's CSV reader) and copy_binary.c (binary through
 * an Appender). Every function here runs on the session's thread.
 */
#ifndef DUCKPOND_COPY_INT_H
#define DUCKPOND_COPY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "copy.h"
#include "copy_format.h"
#include "duckdb.h"

/* A column the rows fill. */
struct copy_column {
    char *name;               /* as the table spells it */
    duckdb_logical_type type; /* the table's type */
    duckdb_type id;
};

/* The table a COPY FROM fills, and the columns its rows carry, in order. */
struct copy_target {
    const struct copy_spec *spec;
    struct copy_column *cols;
    const char **names; /* cols[i].name */
    int ncols;
};

/*
 * Queues an ErrorResponse with PostgreSQL's CONTEXT, "COPY table, line N"
 * and tail after it (line 0: "COPY table" alone; tail may be NULL).
 */
void copy_error_at(struct copy_ctx *ctx, const struct copy_target *t, const char *sqlstate, uint64_t line,
                   const char *tail, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Queues the ErrorResponse of a DuckDB error met by the COPY. */
void copy_duckdb_error(struct copy_ctx *ctx, duckdb_error_type type, const char *message);

/* What copy_next_data returns. */
enum copy_next { COPY_DATA = 1, COPY_DONE = 0, COPY_FAILED = -1, COPY_GONE = -2 };

/*
 * The next message of the COPY sub-protocol: COPY_DATA with the CopyData
 * body in *p, *n (valid until the next call), COPY_DONE at CopyDone,
 * COPY_FAILED with the error queued (CopyFail, a message out of place), or
 * COPY_GONE when the client is gone.
 */
enum copy_next copy_next_data(struct copy_ctx *ctx, const char **p, size_t *n);

/* Sends CopyInResponse for the target's columns (format 0 text, 1 binary) and flushes. 0, or -1: the client is gone. */
int copy_in_response(struct copy_ctx *ctx, const struct copy_target *t, int format);

/*
 * Text and CSV (copy_stream.c) and binary (copy_binary.c): CopyInResponse,
 * then the rows into the target on ctx->dcon, inside the transaction the
 * caller opened. 0 with *rows, or -1 with an error queued (or the client
 * gone); nothing may be committed then.
 */
int copy_stream_in(struct copy_ctx *ctx, const struct copy_target *t, uint64_t *rows);
int copy_binary_in(struct copy_ctx *ctx, const struct copy_target *t, uint64_t *rows);

#endif
