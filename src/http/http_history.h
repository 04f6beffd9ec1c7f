/*
 * http_history.h -- the last 15 minutes of the server's figures, sampled
 * once a second, for the status page's charts: GET /v1/history.
 */
#ifndef DUCKPOND_HTTP_HISTORY_H
#define DUCKPOND_HTTP_HISTORY_H

#include "http_common.h"

#define HISTORY_SAMPLES 900 /* 15 minutes of 1-second samples */
#define HISTORY_TABLES 8    /* the busiest tables kept in each sample */

struct http_history;

/* Starts the sampling thread on its own connection to db. NULL when it
 * cannot (no memory, no connection, no thread). */
struct http_history *http_history_start(duckpond_db *db, duckpond_batcher *batcher);

/* Stops the thread, closes its connection and frees; NULL is fine. */
void http_history_stop(struct http_history *h);

/* Takes one sample now (the thread's step, for tests): 0, or -1. */
int http_history_sample(struct http_history *h);

/*
 * Appends the samples newer than since_ms (Unix epoch milliseconds; 0 for
 * all), oldest first, as JSON: {"interval_ms":1000,"samples":[{"t":ms,
 * "rows_per_s":x,"p50_ms":x|null,"p99_ms":x|null,"connections":{"pg":n,
 * "http":n,"line":n},"queue_rows":n,"journal_unapplied":n|null,"sync_lag_s":x|null,
 * "tables":{"name":rows_per_s,...}}, ...]}.
 */
void http_history_json(struct http_history *h, int64_t since_ms, struct dp_buf *b);

/* GET /v1/history[?since=MS]. */
enum MHD_Result http_history_get(struct http_env *env, struct MHD_Connection *c);

#endif
