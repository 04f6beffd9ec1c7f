/*
 * ilp_schema.h -- the line protocol's server-wide part: its options, its
 * own connection for DDL and what it knows of tables (ilp_schema.c).
 */
#ifndef DUCKPOND_ILP_SCHEMA_H
#define DUCKPOND_ILP_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "duckpond.h"
#include "ilp_parse.h"

#define ILP_NAME_MAX 256 /* bytes in a table or column name */
#define ILP_TS_COLUMN "timestamp"

/*
 * Rows per write by default: past DuckDB's row group (122,880 rows), so
 * that a stream's write commits by moving its compressed row groups into
 * the table (written once, while the write is inserted) instead of going
 * row by row into the WAL and again into the table at the next checkpoint.
 */
#define ILP_BATCH_ROWS 131072
#define ILP_WRITE_BYTES ((size_t)32 << 20)
#define ILP_MAX_LINE ((size_t)16 << 20) /* bytes of one line, by default */

struct ilp_options {
    bool no_auto_create; /* a line for a missing table or column fails instead */
    bool timestamp_ns;   /* new tables' "timestamp" column is TIMESTAMP_NS, not TIMESTAMP */
    size_t batch_rows;   /* rows per write handed to the batcher; 0 = ILP_BATCH_ROWS */
    size_t write_bytes;  /* bytes per write, at most; 0 = ILP_WRITE_BYTES */
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

/* The options in force (defaults filled in), and the batcher. */
const struct ilp_options *ilp_env_options(const struct ilp_env *e);
duckpond_batcher *ilp_env_batcher(const struct ilp_env *e);

/* What a new column is made for: a tag, the designated timestamp, or else a field of an enum ilp_type. */
enum ilp_col_kind { ILP_COL_TAG = -1, ILP_COL_TS = -2 };

/*
 * Makes sure table name exists, created from ln (its tags and fields)
 * when it does not and auto-creation is on. Takes the env's mutex. 0, or
 * -1 with the reason in why.
 */
int ilp_schema_table(struct ilp_env *e, const char *name, const struct ilp_line *ln, char *why, size_t wn);

/*
 * Finds column key of table (matched without regard to case), adding it
 * for kind when missing and auto-creation is on; for the designated
 * timestamp (ILP_COL_TS), a table without a column ILP_TS_COLUMN gives its
 * first column of a timestamp type instead, if it has one (a table made
 * beforehand with its own name for it, such as ts): its name as stored in
 * out (ILP_NAME_MAX + 1 bytes) and its type in *type. Takes the env's
 * mutex. 0, or -1 with the reason in why.
 */
int ilp_schema_column(struct ilp_env *e, const char *table, const char *key, int kind, char *out,
                      duckdb_type *type, char *why, size_t wn);

#endif
