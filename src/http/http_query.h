/*
 * http_query.h -- /v1/query (http_query.c): one SQL statement with bound
 * parameters, its answer streamed as JSON, NDJSON or CSV, or written as
 * Parquet.
 */
#ifndef DUCKPOND_HTTP_QUERY_H
#define DUCKPOND_HTTP_QUERY_H

#include <microhttpd.h>
#include <stddef.h>

#include "http_common.h"
#include "users.h"

/* Sets up / frees the prepared-statement caches of env's pool; free before the pool. */
int http_query_caches_new(struct http_env *env);
void http_query_caches_free(struct http_env *env);

/*
 * Runs the statement of a POST /v1/query body (len bytes, not taken) for
 * user (NULL: no users file) and queues its answer, or an error answer.
 * Returns MHD's result.
 */
enum MHD_Result http_query(struct http_env *env, struct MHD_Connection *c, const struct user *user,
                           const char *body, size_t len);

/*
 * GET /v1/query?sql=...: the same from the URL's arguments (sql, params
 * as a JSON array, row_limit, timeout_ms), for queries only. Returns
 * MHD's result.
 */
enum MHD_Result http_query_get(struct http_env *env, struct MHD_Connection *c, const struct user *user);

#endif
