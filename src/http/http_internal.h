/*
 * http_internal.h -- what the files of the HTTP API share: a growing text
 * buffer, the rendering of DuckDB values as JSON and CSV (http_render.c),
 * the streamed query answer (http_query.c), the row ingest parsers
 * (http_ingest.c), and the error answer every endpoint sends (http.c).
 */
#ifndef DUCKPOND_HTTP_INTERNAL_H
#define DUCKPOND_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duckpond.h"
#include "http.h"
#include "users.h"

/* ------------------------------------------------------------ text buffer */

/* A growing byte buffer; failed is set once memory runs out (or a cap is
 * passed), after which appends do nothing. */
struct hbuf {
    char *data;
    size_t len, cap;
    bool failed;
};

void hbuf_free(struct hbuf *b);
void hbuf_add(struct hbuf *b, const char *p, size_t n);
void hbuf_str(struct hbuf *b, const char *s);
void hbuf_printf(struct hbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s (n bytes) as a quoted JSON string. */
void hbuf_json_string(struct hbuf *b, const char *s, size_t n);
/* s (n bytes) as one CSV field, quoted when it must be (RFC 4180). */
void hbuf_csv_field(struct hbuf *b, const char *s, size_t n);
/* Takes the buffer's bytes (NUL-terminated; caller frees); b is emptied. */
char *hbuf_take(struct hbuf *b, size_t *len);

/* ------------------------------------------------------ value rendering */

/* A result column's type, resolved once so that each value is cheap. */
struct http_rtype {
    duckdb_type id;
    duckdb_type internal;   /* storage of DECIMAL and ENUM */
    uint8_t scale;          /* DECIMAL */
    idx_t array_size;       /* ARRAY */
    size_t nchildren;       /* LIST/ARRAY: 1; MAP: key, value; STRUCT: fields */
    struct http_rtype **children;
    char **names;           /* STRUCT field names */
    char **dict;            /* ENUM values */
    size_t ndict;
    char *name;             /* the SQL type's name, e.g. "DECIMAL(18,3)" */
};

/*
 * Resolves a DuckDB type (not taken). Types that cannot be sent (UNION,
 * BIT, BIGNUM...) give non-zero with a message in why naming the type.
 */
int http_rtype_new(duckdb_logical_type t, struct http_rtype **out, char *why, size_t whylen);
void http_rtype_free(struct http_rtype *t);

/* Row row of vector v (of type t) as a JSON value (null for NULL). */
void http_render_json(struct hbuf *b, const struct http_rtype *t, duckdb_vector v, idx_t row);
/* The same as one CSV field: empty for NULL, "" for an empty string. */
void http_render_csv(struct hbuf *b, const struct http_rtype *t, duckdb_vector v, idx_t row);

/* ------------------------------------------------------------ the server */

struct http_conn;

struct http_server {
    struct http_options opt;
    char listen[64];
    duckpond_db *db;
    duckpond_batcher *batcher;
    const struct users *users;
    duckpond_pool *pool;
    int pool_size;
    struct MHD_Daemon *daemon;
    /* the watchdog: late requests are dropped, late queries interrupted */
    pthread_t watchdog;
    bool watchdog_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    struct http_conn *conns; /* every open connection, under lock */
    /* prepared statements kept per pooled connection (http_query.c) */
    pthread_mutex_t cache_lock;
    struct http_stmt_cache *caches; /* pool_size of them */
};

int64_t http_now_ms(void);

/*
 * Tells the watchdog that a query runs for client c on conn until
 * deadline_ms (monotonic): past it the query is interrupted, and a while
 * later the client's socket is shut down (a client too slow to read its
 * answer). Returns the handle for http_query_end (NULL if c is unknown).
 */
struct http_conn *http_query_begin(struct http_server *h, struct MHD_Connection *c,
                                   duckdb_connection conn, int64_t deadline_ms);
/* The query has ended; returns whether the watchdog interrupted it. */
bool http_query_end(struct http_server *h, struct http_conn *hc);

/* The HTTP status that fits a duckpond status class. */
unsigned http_status_for(int status);

/*
 * Queues the error answer {"error": {"sqlstate", "message"}} with status
 * (0: from the class of code) and counts the error in the metrics.
 * sqlstate NULL: derived from code and message. Returns MHD's result.
 */
enum MHD_Result http_send_error(struct MHD_Connection *c, unsigned status, int code,
                                const char *sqlstate, const char *message);
/* Queues a JSON answer built in b (taken, freed here). */
enum MHD_Result http_send_json(struct MHD_Connection *c, unsigned status, struct hbuf *b);

/* ------------------------------------------------------------- endpoints */

/* Sets up / frees the prepared-statement caches; free before the pool. */
int http_query_caches_new(struct http_server *h);
void http_query_caches_free(struct http_server *h);

/* POST /v1/query: the parsed body (taken) runs and its answer is queued. */
enum MHD_Result http_query(struct http_server *h, struct MHD_Connection *c,
                           const struct user *user, const char *body, size_t len);

/* An ingest request being received: rows are parsed as bytes arrive. */
struct http_ingest;
/*
 * Starts receiving rows for table. csv selects the CSV parser (header line
 * first), else NDJSON. NULL when memory runs out.
 */
struct http_ingest *http_ingest_new(struct http_server *h, const char *table, bool csv,
                                    bool atomic);
/* Feeds body bytes. */
void http_ingest_feed(struct http_ingest *in, const char *p, size_t n);
/* At the end of the body: submits the rows, waits for the commit, queues
 * the answer. */
enum MHD_Result http_ingest_finish(struct http_ingest *in, struct MHD_Connection *c);
void http_ingest_free(struct http_ingest *in);

/*
 * GET /metrics as Prometheus text: a malloc'd NUL-terminated buffer in *out
 * (caller frees) with its length; db and b may be NULL. DUCKPOND_OK or
 * DUCKPOND_NOMEM.
 */
int http_metrics_text(duckpond_db *db, duckpond_batcher *b, char **out, size_t *len);

#endif
