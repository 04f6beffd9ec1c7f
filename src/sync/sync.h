/*
 * sync.h -- PostgreSQL tables mirrored into the DuckDB database, live,
 * through logical replication: what the server starts, stops and shows.
 *
 * One sync follows one publication through one replication slot: it
 * copies the publication's tables under the slot's snapshot, then applies
 * the stream of changes, exactly once (the last applied commit LSN is
 * stored in DuckDB in the same transaction as the changes). It runs on a
 * thread of its own with its own DuckDB connection; the server only
 * starts it, asks for its status and stops it.
 */
#ifndef DUCKPOND_SYNC_H
#define DUCKPOND_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "duckpond.h"

struct sync_options {
    const char *conninfo;    /* libpq connection string of the PostgreSQL primary */
    const char *publication; /* the publication to follow */
    const char *slot;        /* NULL: "duckpond_<publication>" */
    const char *schema;      /* the DuckDB schema the tables land in; NULL: "pg" */
};

struct sync;

/*
 * Starts following a publication on a thread of its own. Checks the
 * options and makes the DuckDB schema and the state tables first; the
 * PostgreSQL side is reached on the thread, with retries, so that a
 * PostgreSQL that is down does not stop the server from starting.
 * 0 and *out, or -1 with the reason in err.
 */
int sync_start(duckpond_db *db, const struct sync_options *opt, struct sync **out, char *err, size_t errlen);

/* Stops the thread (what DuckDB has committed stays; the slot keeps the rest) and frees the sync. */
void sync_stop(struct sync *s);

/*
 * Appends the status of every running sync and its tables: as JSON (an
 * array, for the status page) or as Prometheus text (for /metrics). Any
 * thread.
 */
void sync_status_json(struct dp_buf *b);
void sync_status_prometheus(struct dp_buf *b);

#endif
