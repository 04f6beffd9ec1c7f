/*
 * copy.h -- COPY FROM STDIN and COPY TO STDOUT for the PostgreSQL protocol.
 *
 * COPY runs on a client connection (a pgconn) with a small context: it
 * never sees the session. The session reads the statement (copy_parse),
 * checks what the user may do, and runs it (copy_run).
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
    duckdb_connection dcon;     /* the session's connection: the Appender, COPY TO's query */
    struct registry_entry *run; /* marks DuckDB work as running, for cancel and statement_timeout */
    duckpond_batcher *batcher;  /* FROM STDIN in autocommit: rows go here, committed in chunks;
                                   NULL: appended on dcon, inside the open transaction */
    duckpond_ack ack;           /* how the batcher acknowledges each chunk */
    bool read_only;             /* TO STDOUT may run only a query DuckDB types as SELECT */
    uint64_t seq;               /* out: the highest journal sequence number acknowledged (0: none) */
};

/*
 * Runs the COPY sub-protocol: CopyInResponse and CopyData into the batcher
 * or an Appender, or CopyOutResponse and the query's rows. Queues
 * CommandComplete "COPY n"; returns 0, or -1 with an error queued (or the
 * connection gone). Waiting for the session's own journaled writes, where
 * DuckDB reads, is the caller's.
 */
int copy_run(struct copy_ctx *ctx, const struct copy_spec *c);

#endif
