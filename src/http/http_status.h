/*
 * http_status.h -- the read-only GET endpoints of the HTTP API
 * (http_status.c): the status page, /health, /metrics and /v1/status.
 */
#ifndef DUCKPOND_HTTP_STATUS_H
#define DUCKPOND_HTTP_STATUS_H

#include <microhttpd.h>

#include "http_common.h"

/* GET /: the status page (status_page.h). */
enum MHD_Result http_status_page(struct MHD_Connection *c);
/* GET /health: {"status", "writable"}, 503 when the database cannot answer. */
enum MHD_Result http_status_health(struct http_env *env, struct MHD_Connection *c);
/* GET /metrics: Prometheus text (http_metrics.c). */
enum MHD_Result http_status_metrics(struct http_env *env, struct MHD_Connection *c);
/* GET /v1/status: {"tables": [{"schema", "name", "rows"}]}. */
enum MHD_Result http_status_tables(struct http_env *env, struct MHD_Connection *c);

#endif
