/*
 * http_common.h -- what every part of the HTTP API stands on: the
 * server's shared state as the endpoints see it, the clock, the status a
 * duckpond error class answers with, the error and JSON answers, and the
 * JSON-string and CSV-field quoting that every answer uses.
 *
 * The files of src/http form layers: http_common.c at the bottom; then
 * http_watchdog.c, http_render.c and http_stmt.c; then the endpoints
 * (http_query.c over http_parquet.c, http_ingest.c, http_status.c over
 * http_metrics.c); and http.c at the top (the daemon and the routing). A
 * file includes only headers of the layers below it.
 */
#ifndef DUCKPOND_HTTP_COMMON_H
#define DUCKPOND_HTTP_COMMON_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "duckpond.h"
#include "http.h"

struct http_watchdog;
struct http_stmt_cache;
struct http_history;

/*
 * What the endpoints of a running server share. Filled once by http_start
 * (the options with their defaults applied) and read-only afterwards,
 * except the statement caches, which http_query.c guards with cache_lock.
 */
struct http_env {
    struct http_options opt;
    duckpond_db *db;
    duckpond_batcher *batcher;
    const struct users *users;
    duckpond_pool *pool;
    int pool_size;
    struct http_watchdog *watchdog;
    /* prepared statements kept per pooled connection (http_query.c) */
    pthread_mutex_t cache_lock;
    struct http_stmt_cache *caches; /* pool_size of them */
    /* a private directory (0700) for Parquet answers being written (http_parquet.c) */
    char *temp_dir;
    /* the directory it was made in, where DuckDB is given the answer's name for the COPY's time */
    char *link_dir;
    /* the last 15 minutes of figures (http_history.c); NULL if it could not start */
    struct http_history *history;
};

/* Milliseconds on the monotonic clock. */
int64_t http_now_ms(void);

/* The HTTP status that fits a duckpond status class. */
unsigned http_status_for(int status);

/*
 * Queues a response built from a malloc'd buffer (data taken, freed even
 * on failure), marked no-store; a 401 gets its WWW-Authenticate header and
 * a 429 or 503 a Retry-After. Returns MHD's result.
 */
enum MHD_Result http_send_buffer(struct MHD_Connection *c, unsigned status, const char *content_type,
                                 char *data, size_t len);

/* Queues a JSON answer built in b (its bytes taken; b is left empty). */
enum MHD_Result http_send_json(struct MHD_Connection *c, unsigned status, struct dp_buf *b);

/*
 * Queues the error answer {"error": {"sqlstate", "message"}} with status
 * (0: from the class of code) and counts the error in the metrics.
 * sqlstate NULL: derived from code and message; message NULL: the class's
 * own text. Returns MHD's result.
 */
enum MHD_Result http_send_error(struct MHD_Connection *c, unsigned status, int code, const char *sqlstate,
                                const char *message);

/*
 * The ack mode a write request asks for: its header Duckpond-Ack, else its
 * ?ack= parameter, else dflt, in *out; *asked is the value given (NULL for
 * none). 0, or -1 when that value is neither "commit" nor "journal".
 */
int http_request_ack(struct MHD_Connection *c, duckpond_ack dflt, duckpond_ack *out, const char **asked);

/* Appends the member "error":{"sqlstate":...,"message":...} of an answer. */
void http_error_member(struct dp_buf *b, const char *sqlstate, const char *message);

/* Appends s (n bytes) as a quoted JSON string. */
void http_json_string(struct dp_buf *b, const char *s, size_t n);

/* Appends s (n bytes) as one CSV field, quoted when it must be (RFC 4180). */
void http_csv_field(struct dp_buf *b, const char *s, size_t n);

#endif
