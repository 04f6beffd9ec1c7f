/*
 * http_parquet.h -- a query's answer as a Parquet file written by DuckDB
 * itself (http_parquet.c), for pandas, polars, Arrow and DuckDB readers.
 */
#ifndef DUCKPOND_HTTP_PARQUET_H
#define DUCKPOND_HTTP_PARQUET_H

#include <duckdb.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>

#include "http_common.h"
#include "http_stmt.h"

#define HTTP_PARQUET_TYPE "application/vnd.apache.parquet"

/*
 * Makes env->temp_dir: a new private directory (0700) under parent (NULL:
 * $TMPDIR, else /tmp) where answers are written. 0, or -1 with errno.
 */
int http_parquet_dir_new(struct http_env *env, const char *parent);
/* Removes env->temp_dir (empty: no answer file ever keeps a name). */
void http_parquet_dir_free(struct http_env *env);

/*
 * Writes the rows of sql -- one query (SELECT type) that the caller has
 * already prepared, checked and bound on dc -- into a Parquet file through
 * DuckDB's COPY, with params (a JSON array or NULL; not taken) bound again,
 * and queues the file as c's answer. More than row_limit rows is an error,
 * not a cut answer; the watchdog interrupts the COPY at deadline_ms.
 * Returns 0 with MHD's result in *ret, or -1 with e (nothing queued).
 */
int http_parquet_answer(struct http_env *env, struct MHD_Connection *c, duckdb_connection dc, const char *sql,
                        json_t *params, long row_limit, int64_t deadline_ms, enum MHD_Result *ret,
                        struct http_err *e);

#endif
