/*
 * http.h -- the HTTP/JSON API, /health, /metrics and the status page, run
 * in the server process beside the PostgreSQL protocol (libmicrohttpd).
 */
#ifndef DUCKPOND_HTTP_H
#define DUCKPOND_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "duckpond.h"
#include "users.h"

struct http_options {
    const char *listen;          /* address, default "127.0.0.1" */
    int port;                    /* default 8080; 0 disables HTTP */
    int max_connections;         /* default 256 */
    size_t max_body_bytes;       /* default 64 MiB */
    int request_timeout_s;       /* default 30 */
    int statement_timeout_ms;    /* cap on a query's time, default 60000 */
    long row_limit;              /* cap on rows a query returns, default 1000000 */
    bool open_health;            /* /health and /metrics need no token; default true */
    duckpond_ack default_ack;    /* ingest ack mode when a request names none; default commit */
    const char *temp_dir;        /* where a private directory for Parquet answers is made;
                                  default $TMPDIR, else /tmp */
    enum access_role trust_role; /* the role of requests when there is no users file; default rw */
    const char *tls_cert;        /* PEM certificate chain file: HTTPS only (with tls_key); NULL: HTTP */
    const char *tls_key;         /* PEM private key file of tls_cert */
    struct ilp_env *ilp;         /* the line protocol (ilp_ingest.h), or NULL: /write and
                                 /api/v2/write answer 404 */
};

struct http_server;
struct ilp_env;

/*
 * Starts serving. users may be NULL (open on loopback only: a non-loopback
 * address without users is refused here with a message in err).
 */
int http_start(const struct http_options *opt, duckpond_db *db, duckpond_batcher *b,
               const struct users *users, struct http_server **out, char *err, size_t errlen);

/* Stops accepting, ends running requests, frees. */
void http_stop(struct http_server *h);

#endif
