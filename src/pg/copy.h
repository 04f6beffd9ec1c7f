/*
 * copy.h -- COPY FROM STDIN and COPY TO STDOUT for the PostgreSQL protocol.
 */
#ifndef DUCKPOND_COPY_H
#define DUCKPOND_COPY_H

#include <stdbool.h>
#include <stddef.h>

struct session;
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

/*
 * Runs the COPY sub-protocol on the session: CopyInResponse and CopyData
 * into the batcher (autocommit) or an Appender in the open transaction, or
 * CopyOutResponse and the query's rows. Queues CommandComplete "COPY n";
 * returns 0, or -1 with an error queued (or the connection gone).
 */
int copy_run(struct session *s, const struct copy_spec *c);

#endif
