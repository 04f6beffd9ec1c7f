/*
 * http_metrics.h -- GET /metrics's Prometheus text (http_metrics.c).
 */
#ifndef DUCKPOND_HTTP_METRICS_H
#define DUCKPOND_HTTP_METRICS_H

#include <stddef.h>

#include "duckpond.h"

/*
 * The server's counters, the batcher's and the journal's figures and
 * DuckDB's memory as Prometheus text: a malloc'd NUL-terminated buffer in
 * *out (caller frees) with its length; db and b may be NULL (their
 * figures are then left out). DUCKPOND_OK or DUCKPOND_NOMEM.
 */
int http_metrics_text(duckpond_db *db, duckpond_batcher *b, char **out, size_t *len);

#endif
