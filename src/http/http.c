/*
 * http.c -- the HTTP server: routing, bearer-token auth, limits, /health,
 * /metrics, the status page, and the watchdog that drops late clients.
 *
 * Threading: libmicrohttpd runs in thread-per-connection mode
 * (MHD_USE_THREAD_PER_CONNECTION). Every request here does blocking work
 * on its own thread: DuckDB statements, fetching result chunks while the
 * answer streams, waiting for the batcher's commit. In MHD's internal
 * thread-pool mode each pool thread multiplexes many connections, so one
 * slow query would stall every other client that thread serves; with a
 * thread per connection a query blocks only its own client, and the
 * number of threads is bounded by the connection cap (max_connections).
 * DuckDB work itself is bounded separately by the connection pool
 * (duckpond_pool, 16 connections): a query waits for a pooled connection
 * within its statement timeout and is answered 503 when none comes. Each
 * pooled connection keeps its recently used prepared statements
 * (http_query.c), since preparing costs as much as a point query.
 *
 * Limits: the body cap (413 from Content-Length before any byte is read,
 * or at the end of a chunked body), MHD's per-connection memory cap (which
 * bounds the request line and headers: 431 past it), the connection cap,
 * MHD's idle timeout, and a watchdog thread that shuts down the socket of
 * a client that has not delivered its whole request within
 * request_timeout_s (a slow or stalled sender), interrupts a query past
 * its statement timeout, and drops a client that stays unable to read its
 * answer well past that. A shut-down socket ends only that client's thread.
 *
 * The endpoints live beside this file: http_query.c (POST /v1/query),
 * http_ingest.c (POST /v1/tables/{table}/rows), http_render.c (values).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "http_internal.h"
#include "metrics.h"
#include "status_page.h"

#define HTTP_POOL_SIZE 16
#define HTTP_POOL_WAIT_MS 5000
#define HTTP_HEADER_MEMORY (64 * 1024)
#define HTTP_WATCH_PERIOD_MS 50
#define HTTP_READ_GRACE_MS 5000 /* past a deadline, before the socket is shut */

/* One client connection, known to the watchdog. */
struct http_conn {
    struct http_conn *prev, *next;
    int fd;
    bool processing;        /* the whole request is in; it is being answered */
    int64_t since_ms;       /* when the current request began to arrive */
    bool dropped;           /* the watchdog shut its socket */
    duckdb_connection query; /* a query running for it, or NULL */
    int64_t deadline_ms;
    bool interrupted;
};

/* What one request needs between MHD's calls of the access handler. */
enum req_kind { REQ_DONE, REQ_QUERY, REQ_INGEST };

struct request {
    enum req_kind kind;
    const struct user *user;
    struct hbuf body;           /* POST /v1/query's body */
    struct http_ingest *ingest; /* POST /v1/tables/{table}/rows */
    size_t received;
    bool too_large;
};

int64_t http_now_ms(void)
{
    return dp_now_us() / 1000;
}

/* --------------------------------------------------------------- watchdog */

static struct http_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

struct http_conn *http_query_begin(struct http_server *h, struct MHD_Connection *c,
                                   duckdb_connection conn, int64_t deadline_ms)
{
    struct http_conn *hc = conn_of(c);
    if (!hc)
        return NULL;
    pthread_mutex_lock(&h->lock);
    hc->query = conn;
    hc->deadline_ms = deadline_ms;
    hc->interrupted = false;
    pthread_mutex_unlock(&h->lock);
    return hc;
}

bool http_query_end(struct http_server *h, struct http_conn *hc)
{
    if (!hc)
        return false;
    pthread_mutex_lock(&h->lock);
    bool interrupted = hc->interrupted;
    hc->query = NULL;
    hc->interrupted = false;
    pthread_mutex_unlock(&h->lock);
    return interrupted;
}

/* Acts on one connection that may be late; called with h->lock held. */
static void watch_conn(struct http_server *h, struct http_conn *hc, int64_t now)
{
    if (hc->dropped)
        return;
    if (!hc->processing && now - hc->since_ms > (int64_t)h->opt.request_timeout_s * 1000) {
        shutdown(hc->fd, SHUT_RDWR); /* a request that takes too long to arrive */
        hc->dropped = true;
        return;
    }
    if (!hc->query || now <= hc->deadline_ms)
        return;
    if (!hc->interrupted) {
        duckdb_interrupt(hc->query);
        hc->interrupted = true;
    } else if (now > hc->deadline_ms + HTTP_READ_GRACE_MS) {
        shutdown(hc->fd, SHUT_RDWR); /* its answer is not being read */
        hc->dropped = true;
    }
}

static void *watchdog_main(void *arg)
{
    struct http_server *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        int64_t now = http_now_ms();
        for (struct http_conn *hc = h->conns; hc; hc = hc->next)
            watch_conn(h, hc, now);
        struct timespec ts = dp_deadline(CLOCK_MONOTONIC, HTTP_WATCH_PERIOD_MS);
        pthread_cond_timedwait(&h->wake, &h->lock, &ts);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* MHD's connection notifications: track the socket, count the connection. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct http_conn *hc = calloc(1, sizeof *hc);
        *socket_context = hc;
        if (!hc)
            return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        hc->fd = ci ? ci->connect_fd : -1;
        hc->since_ms = http_now_ms();
        pthread_mutex_lock(&h->lock);
        hc->next = h->conns;
        if (h->conns)
            h->conns->prev = hc;
        h->conns = hc;
        pthread_mutex_unlock(&h->lock);
        metrics_conn_open(METRICS_HTTP);
        return;
    }
    struct http_conn *hc = *socket_context;
    if (hc) {
        pthread_mutex_lock(&h->lock);
        if (hc->prev)
            hc->prev->next = hc->next;
        else
            h->conns = hc->next;
        if (hc->next)
            hc->next->prev = hc->prev;
        pthread_mutex_unlock(&h->lock);
        free(hc);
        *socket_context = NULL;
        metrics_conn_close(METRICS_HTTP);
    }
}

/* Marks c's request as fully received (true) or a new one arriving. */
static void conn_phase(struct http_server *h, struct MHD_Connection *c, bool processing)
{
    struct http_conn *hc = conn_of(c);
    if (!hc)
        return;
    pthread_mutex_lock(&h->lock);
    hc->processing = processing;
    hc->since_ms = http_now_ms();
    pthread_mutex_unlock(&h->lock);
}

/* ---------------------------------------------------------------- answers */

unsigned http_status_for(int status)
{
    switch (status) {
    case DUCKPOND_OK: return MHD_HTTP_OK;
    case DUCKPOND_MISUSE:
    case DUCKPOND_SYNTAX:
    case DUCKPOND_CONVERSION: return MHD_HTTP_BAD_REQUEST;
    case DUCKPOND_NOTFOUND: return MHD_HTTP_NOT_FOUND;
    case DUCKPOND_READONLY: return MHD_HTTP_FORBIDDEN;
    case DUCKPOND_CONFLICT:
    case DUCKPOND_CONSTRAINT: return MHD_HTTP_CONFLICT;
    case DUCKPOND_OVERLOADED: return MHD_HTTP_TOO_MANY_REQUESTS;
    case DUCKPOND_INTERRUPTED:
    case DUCKPOND_TIMEOUT: return MHD_HTTP_GATEWAY_TIMEOUT;
    case DUCKPOND_LOCKED:
    case DUCKPOND_CLOSED:
    case DUCKPOND_INVALIDATED: return MHD_HTTP_SERVICE_UNAVAILABLE;
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* Queues a response built from a malloc'd buffer (taken). */
static enum MHD_Result send_buffer(struct MHD_Connection *c, unsigned status,
                                   const char *content_type, char *data, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"duckpond\"");
    if (status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result http_send_json(struct MHD_Connection *c, unsigned status, struct hbuf *b)
{
    hbuf_add(b, "\n", 1);
    size_t len;
    char *data = hbuf_take(b, &len);
    if (!data)
        return MHD_NO;
    return send_buffer(c, status, "application/json", data, len);
}

enum MHD_Result http_send_error(struct MHD_Connection *c, unsigned status, int code,
                                const char *sqlstate, const char *message)
{
    if (!message)
        message = duckpond_strerror(code);
    if (!sqlstate)
        sqlstate = duckpond_sqlstate(code, message);
    if (!status)
        status = http_status_for(code);
    metrics_error(sqlstate);
    struct hbuf b = {0};
    hbuf_str(&b, "{\"error\":{\"sqlstate\":");
    hbuf_json_string(&b, sqlstate, strlen(sqlstate));
    hbuf_str(&b, ",\"message\":");
    hbuf_json_string(&b, message, strlen(message));
    hbuf_str(&b, "}}");
    return http_send_json(c, status, &b);
}

/* ------------------------------------------------------ simple endpoints */

static enum MHD_Result send_status_page(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(http_status_page), (void *)http_status_page, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'unsafe-inline'; "
                            "style-src 'unsafe-inline'");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_metrics(struct http_server *h, struct MHD_Connection *c)
{
    char *text;
    size_t len;
    if (http_metrics_text(h->db, h->batcher, &text, &len) != DUCKPOND_OK)
        return http_send_error(c, 0, DUCKPOND_NOMEM, NULL, NULL);
    return send_buffer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/* Whether the database is read-only, from its catalog (*readonly 0 or 1). */
static int db_writable(duckpond_conn *conn, int64_t *readonly)
{
    return duckpond_query_int64(conn,
                                "SELECT readonly::INT FROM duckdb_databases() "
                                "WHERE database_name = current_database()",
                                readonly);
}

static enum MHD_Result send_health(struct http_server *h, struct MHD_Connection *c)
{
    duckpond_conn *conn;
    int rc = duckpond_pool_get(h->pool, 1000, &conn);
    if (rc != DUCKPOND_OK)
        return http_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, rc, NULL,
                               "no database connection is free to check health");
    int64_t readonly = 1;
    rc = db_writable(conn, &readonly);
    struct hbuf b = {0};
    if (rc == DUCKPOND_OK) {
        hbuf_printf(&b, "{\"status\":\"ok\",\"writable\":%s}", readonly ? "false" : "true");
        duckpond_pool_put(h->pool, conn);
        return http_send_json(c, MHD_HTTP_OK, &b);
    }
    hbuf_str(&b, "{\"status\":\"unavailable\",\"writable\":false,\"message\":");
    const char *msg = duckpond_conn_errmsg(conn);
    hbuf_json_string(&b, msg, strlen(msg));
    hbuf_str(&b, "}");
    duckpond_pool_put(h->pool, conn);
    return http_send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE, &b);
}

/* Appends s quoted as a SQL identifier ("a""b"). */
static void sql_ident(struct hbuf *b, const char *s)
{
    hbuf_add(b, "\"", 1);
    for (; *s; s++)
        hbuf_add(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
    hbuf_add(b, "\"", 1);
}

/* A VARCHAR cell of a chunk, as a NUL-terminated copy in out. */
static void chunk_text(duckdb_data_chunk ch, idx_t col, idx_t row, char *out, size_t n)
{
    duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(
                             duckdb_data_chunk_get_vector(ch, col)) + row;
    size_t len = duckdb_string_t_length(*s);
    if (len >= n)
        len = n - 1;
    memcpy(out, duckdb_string_t_data(s), len);
    out[len] = '\0';
}

/* {"tables": [{"schema", "name", "rows"}]}: each user table, counted. */
static int status_tables(duckpond_conn *conn, struct hbuf *b)
{
    duckdb_result res;
    if (duckdb_query(duckpond_conn_duckdb(conn),
                     "SELECT schema_name, table_name FROM duckdb_tables() "
                     "WHERE database_name = current_database() AND NOT internal "
                     "AND NOT starts_with(table_name, 'duckpond_') " /* our bookkeeping */
                     "ORDER BY 1, 2 LIMIT 200",
                     &res) != DuckDBSuccess) {
        int rc = duckpond_conn_fail(conn, duckdb_result_error_type(&res), duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc;
    }
    hbuf_str(b, "{\"tables\":[");
    int n = 0;
    duckdb_data_chunk ch;
    while ((ch = duckdb_fetch_chunk(res)) != NULL) {
        for (idx_t i = 0; i < duckdb_data_chunk_get_size(ch); i++) {
            char schema[256], name[256];
            chunk_text(ch, 0, i, schema, sizeof schema);
            chunk_text(ch, 1, i, name, sizeof name);
            struct hbuf q = {0};
            hbuf_str(&q, "SELECT count(*) FROM ");
            sql_ident(&q, schema);
            hbuf_str(&q, ".");
            sql_ident(&q, name);
            int64_t rows = -1;
            if (q.data && duckpond_query_int64(conn, q.data, &rows) != DUCKPOND_OK)
                rows = -1;
            hbuf_free(&q);
            hbuf_str(b, n++ ? ",{\"schema\":" : "{\"schema\":");
            hbuf_json_string(b, schema, strlen(schema));
            hbuf_str(b, ",\"name\":");
            hbuf_json_string(b, name, strlen(name));
            hbuf_printf(b, ",\"rows\":%lld}", (long long)rows);
        }
        duckdb_destroy_data_chunk(&ch);
    }
    duckdb_destroy_result(&res);
    hbuf_str(b, "]}");
    return DUCKPOND_OK;
}

static enum MHD_Result send_status_json(struct http_server *h, struct MHD_Connection *c)
{
    duckpond_conn *conn;
    int rc = duckpond_pool_get(h->pool, HTTP_POOL_WAIT_MS, &conn);
    if (rc != DUCKPOND_OK)
        return http_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, DUCKPOND_OVERLOADED, NULL,
                               "every database connection is busy; try again");
    struct hbuf b = {0};
    rc = status_tables(conn, &b);
    if (rc != DUCKPOND_OK) {
        hbuf_free(&b);
        enum MHD_Result ret = http_send_error(c, 0, rc, NULL, duckpond_conn_errmsg(conn));
        duckpond_pool_put(h->pool, conn);
        return ret;
    }
    duckpond_pool_put(h->pool, conn);
    return http_send_json(c, MHD_HTTP_OK, &b);
}

/* ------------------------------------------------------------ the request */

/*
 * The user a request's bearer token names. Returns 0 and sets *user (NULL
 * when no users file is in force), or the HTTP status to refuse with.
 */
static unsigned authenticate(struct http_server *h, struct MHD_Connection *c,
                             const struct user **user, const char **why)
{
    *user = NULL;
    if (!h->users)
        return 0;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        *why = "an Authorization: Bearer token is required";
        return MHD_HTTP_UNAUTHORIZED;
    }
    const char *token = auth + 7;
    while (*token == ' ')
        token++;
    *user = users_by_token(h->users, token);
    if (!*user) {
        *why = "the bearer token is not valid";
        return MHD_HTTP_UNAUTHORIZED;
    }
    return 0;
}

/* Content-Length past the cap: refused before the body is read. */
static bool declared_too_large(struct http_server *h, struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > h->opt.max_body_bytes;
}

static enum MHD_Result send_too_large(struct http_server *h, struct MHD_Connection *c)
{
    char msg[128];
    snprintf(msg, sizeof msg, "the request body is larger than the limit of %zu bytes",
             h->opt.max_body_bytes);
    return http_send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, DUCKPOND_MISUSE, "54000", msg);
}

/* The table named by "/v1/tables/{table}/rows", copied into out. */
static bool ingest_table(const char *url, char *out, size_t n)
{
    static const char prefix[] = "/v1/tables/", suffix[] = "/rows";
    size_t ulen = strlen(url), plen = sizeof prefix - 1, slen = sizeof suffix - 1;
    if (ulen <= plen + slen || strncmp(url, prefix, plen) != 0 ||
        strcmp(url + ulen - slen, suffix) != 0)
        return false;
    size_t tlen = ulen - plen - slen;
    if (tlen >= n || memchr(url + plen, '/', tlen))
        return false;
    memcpy(out, url + plen, tlen);
    out[tlen] = '\0';
    return true;
}

/* A GET: the read-only endpoints. */
static enum MHD_Result route_get(struct http_server *h, struct MHD_Connection *c, const char *url)
{
    if (strcmp(url, "/") == 0)
        return send_status_page(c);
    if (strcmp(url, "/favicon.ico") == 0) /* browsers ask; nothing to count as an error */
        return send_buffer(c, MHD_HTTP_NO_CONTENT, "image/x-icon", NULL, 0);
    char table[512];
    if (strcmp(url, "/v1/query") == 0 || ingest_table(url, table, sizeof table))
        return http_send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, DUCKPOND_MISUSE, "42601",
                               "this endpoint takes POST");
    bool known = strcmp(url, "/health") == 0 || strcmp(url, "/metrics") == 0 ||
                 strcmp(url, "/v1/status") == 0;
    if (!known)
        return http_send_error(c, MHD_HTTP_NOT_FOUND, DUCKPOND_NOTFOUND, "42704",
                               "no such endpoint");
    if (!h->opt.open_health) {
        const struct user *user;
        const char *why;
        unsigned st = authenticate(h, c, &user, &why);
        if (st)
            return http_send_error(c, st, DUCKPOND_MISUSE, "28000", why);
    }
    if (strcmp(url, "/health") == 0)
        return send_health(h, c);
    if (strcmp(url, "/metrics") == 0)
        return send_metrics(h, c);
    return send_status_json(h, c);
}

/*
 * The first call for a POST, once its headers are in: route, authenticate
 * and check the declared size before any of the body is read. Returns
 * MHD_YES with r->kind set to receive the body, or queues a refusal.
 */
static enum MHD_Result route_post(struct http_server *h, struct MHD_Connection *c,
                                  const char *url, struct request *r)
{
    char table[512];
    bool query = strcmp(url, "/v1/query") == 0;
    bool ingest = !query && ingest_table(url, table, sizeof table);
    if (!query && !ingest)
        return http_send_error(c, MHD_HTTP_NOT_FOUND, DUCKPOND_NOTFOUND, "42704",
                               "no such endpoint");
    const char *why;
    unsigned st = authenticate(h, c, &r->user, &why);
    if (st)
        return http_send_error(c, st, DUCKPOND_MISUSE, "28000", why);
    if (declared_too_large(h, c))
        return send_too_large(h, c);
    if (query) {
        r->kind = REQ_QUERY;
        return MHD_YES;
    }
    if (r->user && user_read_only(r->user))
        return http_send_error(c, MHD_HTTP_FORBIDDEN, DUCKPOND_READONLY, "25006",
                               "this user is read-only and may not write rows");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    bool csv = ct && strncasecmp(ct, "text/csv", 8) == 0;
    /* curl's --data-binary says form-urlencoded unless told: read as NDJSON */
    if (ct && !csv && strncasecmp(ct, "application/x-ndjson", 20) != 0 &&
        strncasecmp(ct, "application/json", 16) != 0 &&
        strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return http_send_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, DUCKPOND_MISUSE, "22023",
                               "rows must be sent as application/x-ndjson or text/csv");
    const char *atomic = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "atomic");
    bool is_atomic = atomic && (strcmp(atomic, "true") == 0 || strcmp(atomic, "1") == 0);
    r->ingest = http_ingest_new(h, table, csv, is_atomic);
    if (!r->ingest)
        return http_send_error(c, 0, DUCKPOND_NOMEM, NULL, NULL);
    r->kind = REQ_INGEST;
    return MHD_YES;
}

/* Takes n more body bytes: the query's buffer, or the ingest parser. */
static void take_body(struct http_server *h, struct request *r, const char *p, size_t n)
{
    r->received += n;
    if (r->received > h->opt.max_body_bytes)
        r->too_large = true; /* a chunked body past the cap: read and dropped */
    if (r->too_large)
        return;
    if (r->kind == REQ_QUERY)
        hbuf_add(&r->body, p, n);
    else if (r->kind == REQ_INGEST)
        http_ingest_feed(r->ingest, p, n);
}

/* The whole body is in: answer. */
static enum MHD_Result finish_post(struct http_server *h, struct MHD_Connection *c,
                                   struct request *r)
{
    conn_phase(h, c, true);
    if (r->too_large)
        return send_too_large(h, c);
    if (r->kind == REQ_QUERY) {
        if (r->body.failed)
            return http_send_error(c, 0, DUCKPOND_NOMEM, NULL, NULL);
        return http_query(h, c, r->user, r->body.data ? r->body.data : "", r->body.len);
    }
    return http_ingest_finish(r->ingest, c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct http_server *h = cls;
    struct request *r = *req_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *req_cls = r;
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
            conn_phase(h, c, true);
            return route_get(h, c, url);
        }
        if (strcmp(method, "POST") != 0)
            return http_send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, DUCKPOND_MISUSE, "42601",
                                   "only GET and POST are served");
        return route_post(h, c, url, r);
    }
    if (*upload_data_size) {
        take_body(h, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->kind == REQ_DONE)
        return MHD_YES;
    enum MHD_Result ret = finish_post(h, c, r);
    r->kind = REQ_DONE; /* answered; a further call has nothing to do */
    return ret;
}

/* A request has ended (answered or dropped): frees its state. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *h = cls;
    struct request *r = *req_cls;
    if (r) {
        hbuf_free(&r->body);
        if (r->ingest)
            http_ingest_free(r->ingest);
        free(r);
        *req_cls = NULL;
    }
    conn_phase(h, c, false);
}

/* -------------------------------------------------------------- lifecycle */

/* The listening address in *sa; whether it is a loopback address. */
static int parse_listen(const char *listen, int port, struct sockaddr_storage *sa, bool *loopback,
                        bool *v6)
{
    memset(sa, 0, sizeof *sa);
    if (strcmp(listen, "localhost") == 0)
        listen = "127.0.0.1";
    struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, listen, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, listen, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        *v6 = true;
        return 0;
    }
    return -1;
}

/* The options with zero fields given their defaults. */
static void apply_defaults(struct http_options *o)
{
    if (!o->listen || !*o->listen)
        o->listen = "127.0.0.1";
    if (o->max_connections <= 0)
        o->max_connections = 256;
    if (!o->max_body_bytes)
        o->max_body_bytes = 64u << 20;
    if (o->request_timeout_s <= 0)
        o->request_timeout_s = 30;
    if (o->statement_timeout_ms <= 0)
        o->statement_timeout_ms = 60000;
    if (o->row_limit <= 0)
        o->row_limit = 1000000;
}

static void server_free(struct http_server *h)
{
    if (h->watchdog_started) {
        pthread_mutex_lock(&h->lock);
        h->stopping = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->watchdog, NULL);
    }
    http_query_caches_free(h);
    if (h->pool)
        duckpond_pool_free(h->pool);
    pthread_mutex_destroy(&h->cache_lock);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static struct MHD_Daemon *start_daemon(struct http_server *h, const struct sockaddr_storage *sa,
                                       bool v6)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC;
    if (v6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(
        flags, (uint16_t)h->opt.port, NULL, NULL, on_request, h,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->opt.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)h->opt.request_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_HEADER_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
        MHD_OPTION_END);
}

int http_start(const struct http_options *opt, duckpond_db *db, duckpond_batcher *b,
               const struct users *users, struct http_server **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!opt || !db || !b) {
        snprintf(err, errlen, "http: a database and a batcher are required");
        return DUCKPOND_MISUSE;
    }
    if (opt->port == 0)
        return DUCKPOND_OK; /* HTTP disabled */
    struct http_options o = *opt;
    apply_defaults(&o);
    struct sockaddr_storage sa;
    bool loopback, v6;
    if (o.port < 0 || o.port > 65535 || parse_listen(o.listen, o.port, &sa, &loopback, &v6)) {
        snprintf(err, errlen, "http: cannot listen on %s port %d: not a numeric address and port",
                 o.listen, o.port);
        return DUCKPOND_MISUSE;
    }
    if (!loopback && !users) {
        snprintf(err, errlen, "http: listening on %s (not loopback) requires a users file", o.listen);
        return DUCKPOND_MISUSE;
    }
    struct http_server *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "http: out of memory");
        return DUCKPOND_NOMEM;
    }
    h->opt = o;
    snprintf(h->listen, sizeof h->listen, "%s", o.listen);
    h->opt.listen = h->listen;
    h->db = db;
    h->batcher = b;
    h->users = users;
    h->pool_size = HTTP_POOL_SIZE;
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->cache_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    int rc = duckpond_pool_new(db, h->pool_size, &h->pool);
    if (rc == DUCKPOND_OK)
        rc = http_query_caches_new(h);
    if (rc != DUCKPOND_OK) {
        snprintf(err, errlen, "http: cannot make a connection pool: %s", duckpond_strerror(rc));
        server_free(h);
        return rc;
    }
    if (pthread_create(&h->watchdog, NULL, watchdog_main, h) != 0) {
        snprintf(err, errlen, "http: cannot start the watchdog thread");
        server_free(h);
        return DUCKPOND_ERROR;
    }
    h->watchdog_started = true;
    errno = 0;
    h->daemon = start_daemon(h, &sa, v6);
    if (!h->daemon) {
        snprintf(err, errlen, "http: cannot listen on %s port %d: %s", o.listen, o.port,
                 errno ? strerror(errno) : "libmicrohttpd refused to start");
        server_free(h);
        return DUCKPOND_IO;
    }
    *out = h;
    return DUCKPOND_OK;
}

void http_stop(struct http_server *h)
{
    if (!h)
        return;
    MHD_socket ls = MHD_quiesce_daemon(h->daemon); /* no new clients; ours to close */
    /* running queries end now rather than at their deadlines */
    pthread_mutex_lock(&h->lock);
    for (struct http_conn *hc = h->conns; hc; hc = hc->next) {
        if (hc->query && !hc->interrupted) {
            duckdb_interrupt(hc->query);
            hc->interrupted = true;
        }
    }
    pthread_mutex_unlock(&h->lock);
    MHD_stop_daemon(h->daemon);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    server_free(h);
}
