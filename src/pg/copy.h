/*
 * copy.h -- COPY FROM STDIN and COPY TO STDOUT for the PostgreSQL protocol.
 *
 * COPY runs on a client connection (a pgconn) with a small context: it
 * never sees the session. The session reads the statement (copy_parse),
 * checks what the user may do, and runs it (copy_run). FROM STDIN takes
 * the text and CSV formats through DuckDB's CSV reader (copy_stream.c)
 * and the binary format through an Appender (copy_binary.c).
 */
#ifndef DUCKPOND_COPY_H
#define DUCKPOND_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duckpond.h"

struct pgconn;
struct registry_entry;
struct copy_spec;

/*
 * Reads a COPY statement. Returns 1 with *out set (caller frees with
 * copy_spec_free) for COPY ... FROM STDIN / TO STDOUT, 0 for any other
 * COPY (DuckDB's own, to or from a file), -1 with a message in err when
 * the STDIN/STDOUT form is malformed or asks for what is not supported.
 */
int copy_parse(const char *sql, struct copy_spec **out, char *err, size_t errlen);
void copy_spec_free(struct copy_spec *c);
bool copy_is_from(const struct copy_spec *c);

/* What a COPY runs with. */
struct copy_ctx {
    struct pgconn *pc;          /* the client: CopyData in, rows and errors out */
    duckdb_connection dcon;     /* the session's connection: FROM's INSERT or Appender, TO's query */
    struct registry_entry *run; /* marks DuckDB work as running, for cancel and statement_timeout */
    bool in_tx;                 /* inside the session's transaction: FROM joins it; else it runs in its own */
    bool read_only;             /* TO STDOUT may run only a query DuckDB types as SELECT */
    const char *run_dir;        /* the server's private directory DuckDB may read (fdpath.h); NULL: none */
};

/*
 * Runs the COPY sub-protocol: CopyInResponse and CopyData into the table,
 * or CopyOutResponse and the query's rows. FROM commits all its rows or
 * none: outside a transaction it commits before CommandComplete (in every
 * ack mode); inside one, the rows are the transaction's. Queues
 * CommandComplete "COPY n"; returns 0, or -1 with an error queued (or the
 * connection gone). Waiting for the session's own journaled writes, where
 * DuckDB reads or writes, is the caller's.
 */
int copy_run(struct copy_ctx *ctx, const struct copy_spec *c);

#endif
