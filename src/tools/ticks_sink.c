/*
 * ticks_sink.c -- where `duckpond ticks` writes: standard output, the
 * InfluxDB line protocol over TCP (ilp://) or HTTP (ilp+http://, a POST of
 * the lines as InfluxDB's /write takes them), duckpond's HTTP ingest
 * (http://: NDJSON POSTs to /v1/tables/{trades,quotes}/rows) or PostgreSQL
 * (postgres://, postgresql://: COPY FROM STDIN through libpq, so
 * PostgreSQL itself works as well as duckpond).
 *
 * A batch is written as one unit: one write of the lines, one POST per
 * table, one COPY per table. The HTTP client is the least that speaks to
 * duckpond and to line-protocol servers: HTTP/1.1 with Connection: close,
 * a request per batch, the status line judged, the body kept for the
 * error message.
 */
#include "ticks_sink.h"

#include <errno.h>
#include <netdb.h>
#include <postgresql/libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ticks_sink {
    enum ticks_sink_kind kind;
    char host[256], port[16];
    char path[512]; /* ilp+http: the request's path and query */
    PGconn *pg;
    int fd; /* ilp: the connection */
    char err[512];
};

/* Splits "HOST:PORT[/PATH]" after a scheme; 0, or -1 with err set. */
static int parse_host_port(struct ticks_sink *s, const char *rest)
{
    const char *slash = strchr(rest, '/'), *colon = strrchr(rest, ':');
    size_t hostlen = colon && (!slash || colon < slash) ? (size_t)(colon - rest) : 0;
    size_t portlen = hostlen ? (slash ? (size_t)(slash - colon - 1) : strlen(colon + 1)) : 0;
    if (!hostlen || !portlen || hostlen >= sizeof s->host || portlen >= sizeof s->port) {
        snprintf(s->err, sizeof s->err, "expected HOST:PORT in %s", rest);
        return -1;
    }
    memcpy(s->host, rest, hostlen);
    memcpy(s->port, colon + 1, portlen);
    snprintf(s->path, sizeof s->path, "%s", slash ? slash : "");
    return 0;
}

/* A TCP connection to the sink's host and port, or -1 with err set. */
static int tcp_connect(struct ticks_sink *s)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(s->host, s->port, &hints, &ai);
    if (rc != 0) {
        snprintf(s->err, sizeof s->err, "%s:%s: %s", s->host, s->port, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            snprintf(s->err, sizeof s->err, "%s:%s: %s", s->host, s->port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

/* Writes all of p; 0, or -1 with err set. */
static int write_all(struct ticks_sink *s, int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(s->err, sizeof s->err, "%s:%s: %s", s->host, s->port, strerror(errno));
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * POSTs body to path on the sink's host; 0 on a 2xx answer, else -1 with
 * the status and the start of the answer's body in err.
 */
static int http_post(struct ticks_sink *s, const char *path, const char *type, const char *body, size_t n)
{
    int fd = tcp_connect(s);
    if (fd < 0)
        return -1;
    struct dp_buf req = DP_BUF_INIT;
    dp_buf_printf(&req,
                  "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Connection: close\r\n\r\n",
                  path, s->host, s->port, type, n);
    int rc = req.failed ? -1 : write_all(s, fd, req.data, req.len);
    dp_buf_free(&req);
    if (rc == 0)
        rc = write_all(s, fd, body, n);
    char answer[1024];
    size_t got = 0;
    while (rc == 0 && got < sizeof answer - 1) {
        ssize_t r = recv(fd, answer + got, sizeof answer - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (rc != 0)
        return -1;
    answer[got] = '\0';
    int status = 0;
    if (sscanf(answer, "HTTP/1.%*d %d", &status) == 1 && status >= 200 && status < 300)
        return 0;
    const char *text = strstr(answer, "\r\n\r\n");
    snprintf(s->err, sizeof s->err, "POST %s: HTTP %d %.300s", path, status, text ? text + 4 : answer);
    return -1;
}

/* Runs sql on the PostgreSQL connection; 0, or -1 with err set. */
static int pg_exec(struct ticks_sink *s, const char *sql, ExecStatusType want)
{
    PGresult *r = PQexec(s->pg, sql);
    int rc = PQresultStatus(r) == want ? 0 : -1;
    if (rc)
        snprintf(s->err, sizeof s->err, "%s", PQerrorMessage(s->pg));
    PQclear(r);
    return rc;
}

/* One COPY of a table's batch; 0, or -1 with err set. */
static int pg_copy(struct ticks_sink *s, enum ticks_kind k, const struct dp_buf *rows)
{
    char sql[128];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", ticks_table(k));
    if (pg_exec(s, sql, PGRES_COPY_IN) != 0)
        return -1;
    int ok = PQputCopyData(s->pg, rows->data, (int)rows->len) == 1 && PQputCopyEnd(s->pg, NULL) == 1;
    PGresult *r;
    while ((r = PQgetResult(s->pg)) != NULL) {
        ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (!ok)
        snprintf(s->err, sizeof s->err, "%s", PQerrorMessage(s->pg));
    return ok ? 0 : -1;
}

/* Creates the two tables through duckpond's /v1/query; 0, or -1. */
static int http_create_tables(struct ticks_sink *s)
{
    for (int k = TICKS_TRADE; k <= TICKS_QUOTE; k++) {
        struct dp_buf body = DP_BUF_INIT;
        dp_buf_printf(&body, "{\"sql\":\"%s\"}", ticks_table_sql((enum ticks_kind)k));
        int rc = body.failed ? -1 : http_post(s, "/v1/query", "application/json", body.data, body.len);
        dp_buf_free(&body);
        if (rc != 0)
            return -1;
    }
    return 0;
}

struct ticks_sink *ticks_sink_open(const char *to, char *err, size_t errlen)
{
    struct ticks_sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->fd = -1;
    int rc = 0;
    if (strcmp(to, "stdout") == 0 || strcmp(to, "-") == 0) {
        s->kind = TICKS_SINK_STDOUT;
    } else if (strncmp(to, "ilp://", 6) == 0) {
        s->kind = TICKS_SINK_ILP_TCP;
        rc = parse_host_port(s, to + 6);
        if (rc == 0 && (s->fd = tcp_connect(s)) < 0)
            rc = -1;
    } else if (strncmp(to, "ilp+http://", 11) == 0) {
        s->kind = TICKS_SINK_ILP_HTTP;
        rc = parse_host_port(s, to + 11);
        if (rc == 0 && !*s->path)
            snprintf(s->path, sizeof s->path, "/write?precision=ns");
    } else if (strncmp(to, "http://", 7) == 0) {
        s->kind = TICKS_SINK_HTTP;
        rc = parse_host_port(s, to + 7);
        if (rc == 0)
            rc = http_create_tables(s);
    } else if (strncmp(to, "postgres://", 11) == 0 || strncmp(to, "postgresql://", 13) == 0) {
        s->kind = TICKS_SINK_PG;
        s->pg = PQconnectdb(to);
        if (PQstatus(s->pg) != CONNECTION_OK) {
            snprintf(s->err, sizeof s->err, "%s", PQerrorMessage(s->pg));
            rc = -1;
        }
        for (int k = TICKS_TRADE; k <= TICKS_QUOTE && rc == 0; k++)
            rc = pg_exec(s, ticks_table_sql((enum ticks_kind)k), PGRES_COMMAND_OK);
    } else {
        snprintf(s->err, sizeof s->err,
                 "unknown destination %s (stdout, ilp://, ilp+http://, http://, postgres://)", to);
        rc = -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s", s->err);
        ticks_sink_close(s);
        return NULL;
    }
    return s;
}

enum ticks_sink_kind ticks_sink_kind(const struct ticks_sink *s)
{
    return s->kind;
}

int ticks_sink_write(struct ticks_sink *s, const struct dp_buf *lines, const struct dp_buf *trades,
                     const struct dp_buf *quotes)
{
    int rc = 0;
    switch (s->kind) {
    case TICKS_SINK_STDOUT:
        if (lines->len && (fwrite(lines->data, 1, lines->len, stdout) != lines->len || fflush(stdout) != 0)) {
            snprintf(s->err, sizeof s->err, "standard output: %s", strerror(errno));
            rc = -1;
        }
        break;
    case TICKS_SINK_ILP_TCP: rc = lines->len ? write_all(s, s->fd, lines->data, lines->len) : 0; break;
    case TICKS_SINK_ILP_HTTP:
        rc = lines->len ? http_post(s, s->path, "text/plain; charset=utf-8", lines->data, lines->len) : 0;
        break;
    case TICKS_SINK_HTTP:
        if (trades->len)
            rc = http_post(s, "/v1/tables/trades/rows", "application/x-ndjson", trades->data, trades->len);
        if (rc == 0 && quotes->len)
            rc = http_post(s, "/v1/tables/quotes/rows", "application/x-ndjson", quotes->data, quotes->len);
        break;
    case TICKS_SINK_PG:
        if (trades->len)
            rc = pg_copy(s, TICKS_TRADE, trades);
        if (rc == 0 && quotes->len)
            rc = pg_copy(s, TICKS_QUOTE, quotes);
        break;
    }
    return rc;
}

const char *ticks_sink_errmsg(const struct ticks_sink *s)
{
    return s->err;
}

void ticks_sink_close(struct ticks_sink *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->pg)
        PQfinish(s->pg);
    free(s);
}
