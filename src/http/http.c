/*
 * http.c -- the top of the HTTP API: the libmicrohttpd daemon, routing,
 * bearer-token auth and the request limits. The endpoints live in files
 * of their own below it (see http_common.h for the layers).
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
 * MHD's idle timeout, and the watchdog (http_watchdog.c) that shuts down
 * the socket of a client that has not delivered its whole request within
 * request_timeout_s (a slow or stalled sender), interrupts a query past
 * its statement timeout, and drops a client that stays unable to read its
 * answer well past that. A shut-down socket ends only that client's thread.
 *
 * HTTPS: given a certificate and key (the PostgreSQL protocol's), the
 * daemon serves TLS only, through libmicrohttpd's GnuTLS support (which
 * Debian's build has; a build without it is refused at start with a
 * message), TLS 1.2 at least. Every accepted socket gets TCP keepalive.
 *
 * The endpoints: http_query.c (/v1/query, POST, or GET with ?sql=;
 * Parquet answers in http_parquet.c), http_ingest.c (POST
 * /v1/tables/{table}/rows), http_ilp.c (the line protocol: POST /write,
 * /api/v2/write, GET /ping), http_status.c (the status page, /health,
 * /metrics, /v1/status), http_history.c (/v1/history: the charts' 15
 * minutes of figures).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_common.h"
#include "http_ilp.h"
#include "http_ingest.h"
#include "http_parquet.h"
#include "http_query.h"
#include "http_history.h"
#include "http_status.h"
#include "http_watchdog.h"
#include "ilp_ingest.h"
#include "metrics.h"
#include "net.h"

#define HTTP_POOL_SIZE 16
#define HTTP_HEADER_MEMORY (64 * 1024)
/* A certificate chain or key file larger than this is refused. */
#define HTTP_PEM_MAX (1u << 20)
/* GnuTLS's defaults without what comes before TLS 1.2. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* The running server: what the endpoints share, and the daemon. */
struct http_server {
    struct http_env env;
    char listen[64]; /* env.opt.listen points here */
    struct MHD_Daemon *daemon;
    char *tls_cert_pem, *tls_key_pem; /* the files' contents, NUL-ended; NULL without TLS */
};

/* What one request needs between MHD's calls of the access handler. */
enum req_kind { REQ_DONE, REQ_QUERY, REQ_INGEST, REQ_ILP };

struct request {
    enum req_kind kind;
    const struct user *user;
    struct dp_buf body;         /* POST /v1/query's body */
    struct http_ingest *ingest; /* POST /v1/tables/{table}/rows */
    struct http_ilp *ilp;       /* POST /write, /api/v2/write */
    size_t received;
    bool too_large;
};

/* MHD's connection notifications: watch the socket, count the connection. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci)
            dp_socket_keepalive(ci->connect_fd);
        *socket_context = http_watchdog_open(h->env.watchdog, ci ? ci->connect_fd : -1);
        if (*socket_context)
            metrics_conn_open(METRICS_HTTP);
        return;
    }
    if (*socket_context) {
        http_watchdog_close(h->env.watchdog, *socket_context);
        *socket_context = NULL;
        metrics_conn_close(METRICS_HTTP);
    }
}

/* ------------------------------------------------------------ the request */

/*
 * The user a request's bearer token names ("Authorization: Bearer T", or
 * InfluxDB's "Authorization: Token T"). Returns 0 and sets *user (NULL
 * when no users file is in force), or the HTTP status to refuse with.
 */
static unsigned authenticate(struct http_server *h, struct MHD_Connection *c, const struct user **user,
                             const char **why)
{
    *user = NULL;
    if (!h->env.users)
        return 0;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    size_t skip = auth && !strncasecmp(auth, "Bearer ", 7)  ? 7
                  : auth && !strncasecmp(auth, "Token ", 6) ? 6
                                                            : 0;
    if (!skip) {
        *why = "an Authorization: Bearer token is required";
        return MHD_HTTP_UNAUTHORIZED;
    }
    const char *token = auth + skip;
    while (*token == ' ')
        token++;
    *user = users_by_token(h->env.users, token);
    if (!*user) {
        *why = "the bearer token is not valid";
        return MHD_HTTP_UNAUTHORIZED;
    }
    return 0;
}

/* Content-Length past the cap: refused before the body is read. */
static bool declared_too_large(struct http_server *h, struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > h->env.opt.max_body_bytes;
}

static enum MHD_Result send_too_large(struct http_server *h, struct MHD_Connection *c)
{
    char msg[128];
    snprintf(msg, sizeof msg, "the request body is larger than the limit of %zu bytes",
             h->env.opt.max_body_bytes);
    return http_send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, DUCKPOND_MISUSE, "54000", msg);
}

/* The table named by "/v1/tables/{table}/rows", copied into out. */
static bool ingest_table(const char *url, char *out, size_t n)
{
    static const char prefix[] = "/v1/tables/", suffix[] = "/rows";
    size_t ulen = strlen(url), plen = sizeof prefix - 1, slen = sizeof suffix - 1;
    if (ulen <= plen + slen || strncmp(url, prefix, plen) != 0 || strcmp(url + ulen - slen, suffix) != 0)
        return false;
    size_t tlen = ulen - plen - slen;
    if (tlen >= n || memchr(url + plen, '/', tlen))
        return false;
    memcpy(out, url + plen, tlen);
    out[tlen] = '\0';
    return true;
}

/* GET /v1/query?sql=...: authenticated like a POST, whatever open_health says. */
static enum MHD_Result get_query(struct http_server *h, struct MHD_Connection *c)
{
    const struct user *user;
    const char *why;
    unsigned st = authenticate(h, c, &user, &why);
    if (st)
        return http_send_error(c, st, DUCKPOND_MISUSE, "28000", why);
    return http_query_get(&h->env, c, user);
}

/* A GET: the read-only endpoints. */
static enum MHD_Result route_get(struct http_server *h, struct MHD_Connection *c, const char *url)
{
    if (strcmp(url, "/") == 0)
        return http_status_page(c);
    if (strcmp(url, "/ping") == 0)
        return http_ilp_ping(c);
    if (strcmp(url, "/favicon.ico") == 0) /* browsers ask; nothing to count as an error */
        return http_send_buffer(c, MHD_HTTP_NO_CONTENT, "image/x-icon", NULL, 0);
    char table[512];
    if (strcmp(url, "/v1/query") == 0 && MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sql"))
        return get_query(h, c);
    if (strcmp(url, "/v1/query") == 0 || ingest_table(url, table, sizeof table))
        return http_send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, DUCKPOND_MISUSE, "42601",
                               "this endpoint takes POST (/v1/query: or GET with ?sql=)");
    bool known = strcmp(url, "/health") == 0 || strcmp(url, "/metrics") == 0 ||
                 strcmp(url, "/v1/status") == 0 || strcmp(url, "/v1/history") == 0;
    if (!known)
        return http_send_error(c, MHD_HTTP_NOT_FOUND, DUCKPOND_NOTFOUND, "42704", "no such endpoint");
    if (!h->env.opt.open_health) {
        const struct user *user;
        const char *why;
        unsigned st = authenticate(h, c, &user, &why);
        if (st)
            return http_send_error(c, st, DUCKPOND_MISUSE, "28000", why);
    }
    if (strcmp(url, "/health") == 0)
        return http_status_health(&h->env, c);
    if (strcmp(url, "/metrics") == 0)
        return http_status_metrics(&h->env, c);
    if (strcmp(url, "/v1/history") == 0)
        return http_history_get(&h->env, c);
    return http_status_tables(&h->env, c);
}

/*
 * The first call for a POST, once its headers are in: route, authenticate
 * and check the declared size before any of the body is read. Returns
 * MHD_YES with r->kind set to receive the body, or queues a refusal.
 */
static enum MHD_Result route_post(struct http_server *h, struct MHD_Connection *c, const char *url,
                                  struct request *r)
{
    char table[512];
    bool query = strcmp(url, "/v1/query") == 0;
    bool ilp = h->env.opt.ilp && (strcmp(url, "/write") == 0 || strcmp(url, "/api/v2/write") == 0);
    bool ingest = !query && !ilp && ingest_table(url, table, sizeof table);
    if (!query && !ingest && !ilp)
        return http_send_error(c, MHD_HTTP_NOT_FOUND, DUCKPOND_NOTFOUND, "42704", "no such endpoint");
    const char *why;
    unsigned st = authenticate(h, c, &r->user, &why);
    if (st) {
        if (ilp)
            ilp_count_error(ILP_ERR_AUTH);
        return http_send_error(c, st, DUCKPOND_MISUSE, "28000", why);
    }
    if (declared_too_large(h, c))
        return send_too_large(h, c);
    if (query) {
        r->kind = REQ_QUERY;
        return MHD_YES;
    }
    /* the line protocol names its tables line by line (and keeps duckpond_ names to itself) */
    struct access_refusal refusal;
    if (access_check_ingest(r->user ? user_role(r->user) : h->env.opt.trust_role, ilp ? "" : table,
                            &refusal) != 0) {
        if (ilp)
            ilp_count_error(ILP_ERR_AUTH);
        return http_send_error(c, MHD_HTTP_FORBIDDEN, DUCKPOND_READONLY, refusal.sqlstate, refusal.message);
    }
    if (ilp) {
        enum MHD_Result ret = MHD_NO;
        r->ilp = http_ilp_new(&h->env, c, &ret);
        if (!r->ilp)
            return ret;
        r->kind = REQ_ILP;
        return MHD_YES;
    }
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    bool csv = ct && strncasecmp(ct, "text/csv", 8) == 0;
    /* curl's --data-binary says form-urlencoded unless told: read as NDJSON */
    if (ct && !csv && strncasecmp(ct, "application/x-ndjson", 20) != 0 &&
        strncasecmp(ct, "application/json", 16) != 0 &&
        strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return http_send_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, DUCKPOND_MISUSE, "22023",
                               "rows must be sent as application/x-ndjson or text/csv");
    const char *atomic = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "atomic");
    bool is_atomic = atomic && (strcmp(atomic, "true") == 0 || strcmp(atomic, "1") == 0);
    r->ingest = http_ingest_new(&h->env, table, csv, is_atomic);
    if (!r->ingest)
        return http_send_error(c, 0, DUCKPOND_NOMEM, NULL, NULL);
    r->kind = REQ_INGEST;
    return MHD_YES;
}

/* Takes n more body bytes: the query's buffer, or the ingest parser. */
static void take_body(struct http_server *h, struct request *r, const char *p, size_t n)
{
    r->received += n;
    if (r->received > h->env.opt.max_body_bytes)
        r->too_large = true; /* a chunked body past the cap: read and dropped */
    if (r->too_large)
        return;
    if (r->kind == REQ_QUERY)
        dp_buf_add(&r->body, p, n);
    else if (r->kind == REQ_INGEST)
        http_ingest_feed(r->ingest, p, n);
    else if (r->kind == REQ_ILP)
        http_ilp_feed(r->ilp, p, n);
}

/* The whole body is in: answer. */
static enum MHD_Result finish_post(struct http_server *h, struct MHD_Connection *c, struct request *r)
{
    http_watchdog_phase(h->env.watchdog, c, true);
    if (r->too_large)
        return send_too_large(h, c);
    if (r->kind == REQ_QUERY) {
        if (r->body.failed)
            return http_send_error(c, 0, DUCKPOND_NOMEM, NULL, NULL);
        return http_query(&h->env, c, r->user, r->body.data ? r->body.data : "", r->body.len);
    }
    if (r->kind == REQ_ILP)
        return http_ilp_finish(r->ilp, c);
    return http_ingest_finish(r->ingest, c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
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
            http_watchdog_phase(h->env.watchdog, c, true);
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
        dp_buf_free(&r->body);
        if (r->ingest)
            http_ingest_free(r->ingest);
        http_ilp_free(r->ilp);
        free(r);
        *req_cls = NULL;
    }
    http_watchdog_phase(h->env.watchdog, c, false);
}

/* -------------------------------------------------------------- lifecycle */

/* The listening address in *sa; whether it is a loopback address. */
static int parse_listen(const char *listen, int port, struct sockaddr_storage *sa, bool *loopback, bool *v6)
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

/* Frees a server whose daemon has stopped (or never started). */
static void server_free(struct http_server *h)
{
    http_watchdog_stop(h->env.watchdog);
    http_history_stop(h->env.history);
    http_parquet_dir_free(&h->env);
    http_query_caches_free(&h->env);
    if (h->env.pool)
        duckpond_pool_free(h->env.pool);
    pthread_mutex_destroy(&h->env.cache_lock);
    if (h->tls_key_pem)
        OPENSSL_cleanse(h->tls_key_pem, strlen(h->tls_key_pem));
    free(h->tls_key_pem);
    free(h->tls_cert_pem);
    free(h);
}

/* The whole of a PEM file, NUL-ended (caller frees), or NULL with the reason in err. */
static char *read_pem(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "https: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    struct dp_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= HTTP_PEM_MAX)
        dp_buf_add(&b, chunk, n);
    bool bad = ferror(f) || b.failed || b.len > HTTP_PEM_MAX || b.len == 0;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "https: cannot read %s: %s", path,
                 b.len > HTTP_PEM_MAX ? "larger than 1 MiB"
                 : b.len == 0         ? "empty"
                                      : "read failed");
        OPENSSL_cleanse(b.data, b.cap);
        dp_buf_free(&b);
        return NULL;
    }
    return dp_buf_take(&b, NULL);
}

/* Loads the certificate and key for HTTPS when they are given. 0, or -1 with the reason in err. */
static int tls_load(struct http_server *h, char *err, size_t errlen)
{
    if (!h->env.opt.tls_cert)
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "https: this libmicrohttpd was built without TLS support");
        return -1;
    }
    h->tls_cert_pem = read_pem(h->env.opt.tls_cert, err, errlen);
    h->tls_key_pem = h->tls_cert_pem ? read_pem(h->env.opt.tls_key, err, errlen) : NULL;
    return h->tls_key_pem ? 0 : -1;
}

static struct MHD_Daemon *start_daemon(struct http_server *h, const struct sockaddr_storage *sa, bool v6)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ITC;
    if (v6)
        flags |= MHD_USE_IPv6;
    /* HTTPS: the certificate, key and versions, through an option array that stays empty without TLS */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    if (h->tls_cert_pem)
        flags |= MHD_USE_TLS;
    return MHD_start_daemon(
        flags, (uint16_t)h->env.opt.port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->env.opt.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)h->env.opt.request_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_HEADER_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_LISTENING_ADDRESS_REUSE,
        1, MHD_OPTION_ARRAY, h->tls_cert_pem ? tls : tls + 3, MHD_OPTION_END);
}

/*
 * The endpoints' shared state: the pool, its statement caches, the private
 * directory for Parquet answers and the watchdog. 0, or a status with the
 * reason in err; server_free undoes what was done.
 */
static int env_init(struct http_env *env, char *err, size_t errlen)
{
    env->pool_size = HTTP_POOL_SIZE;
    int rc = duckpond_pool_new(env->db, env->pool_size, &env->pool);
    if (rc == DUCKPOND_OK)
        rc = http_query_caches_new(env);
    if (rc != DUCKPOND_OK) {
        snprintf(err, errlen, "http: cannot make a connection pool: %s", duckpond_strerror(rc));
        return rc;
    }
    if (http_parquet_dir_new(env, env->opt.temp_dir) != 0) {
        snprintf(err, errlen, "http: cannot make a private directory for Parquet answers: %s",
                 strerror(errno));
        return DUCKPOND_IO;
    }
    env->watchdog = http_watchdog_start(env->opt.request_timeout_s);
    if (!env->watchdog) {
        snprintf(err, errlen, "http: cannot start the watchdog thread");
        return DUCKPOND_ERROR;
    }
    /* the charts' history is worth having, not worth refusing to serve for */
    env->history = http_history_start(env->db, env->batcher);
    if (!env->history)
        fprintf(stderr, "duckpond: http: the history of figures is not kept (no thread or connection)\n");
    return DUCKPOND_OK;
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
        snprintf(err, errlen, "http: cannot listen on %s port %d: not a numeric address and port", o.listen,
                 o.port);
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
    h->env.opt = o;
    snprintf(h->listen, sizeof h->listen, "%s", o.listen);
    h->env.opt.listen = h->listen;
    h->env.db = db;
    h->env.batcher = b;
    h->env.users = users;
    pthread_mutex_init(&h->env.cache_lock, NULL);
    int rc = tls_load(h, err, errlen) != 0 ? DUCKPOND_MISUSE : env_init(&h->env, err, errlen);
    if (rc != DUCKPOND_OK) {
        server_free(h);
        return rc;
    }
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
    http_watchdog_interrupt_all(h->env.watchdog);
    MHD_stop_daemon(h->daemon);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    server_free(h);
}
