/*
 * http_testlib.h -- what the HTTP API's tests share: a database, a batcher
 * and http_start on a free loopback port (struct srv), and requests sent
 * with curl run as a child process (real HTTP, real sockets), with the
 * answers read back as text or JSON. A test file defines _GNU_SOURCE
 * before any include (req uses asprintf).
 */
#ifndef HTTP_TESTLIB_H
#define HTTP_TESTLIB_H

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "duckpond.h"
#include "http.h"
#include "testlib.h"
#include "users.h"

struct srv {
    duckpond_db *db;
    duckpond_batcher *b;
    struct http_server *h;
    struct users *users;
    int port;
};

/* A port that was free a moment ago on 127.0.0.1. */
__attribute__((unused)) static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Opens a database, a batcher and the HTTP server with opt (NULL: defaults). */
__attribute__((unused)) static int srv_start(struct srv *s, const struct http_options *opt)
{
    memset(s, 0, sizeof *s);
    if (duckpond_open(test_path("db.duckdb"), NULL, &s->db) != DUCKPOND_OK) {
        fprintf(stderr, "open: %s\n", duckpond_db_errmsg(s->db));
        return -1;
    }
    if (duckpond_batcher_new(s->db, NULL, &s->b) != DUCKPOND_OK)
        return -1;
    struct http_options o = {.open_health = true};
    if (opt)
        o = *opt;
    char err[256] = "";
    for (int tries = 0; tries < 20; tries++) {
        s->port = free_port();
        o.port = s->port;
        if (http_start(&o, s->db, s->b, s->users, &s->h, err, sizeof err) == DUCKPOND_OK)
            return 0;
    }
    fprintf(stderr, "http_start: %s\n", err);
    return -1;
}

__attribute__((unused)) static void srv_stop(struct srv *s)
{
    http_stop(s->h);
    duckpond_batcher_free(s->b);
    duckpond_close(s->db);
    users_free(s->users);
}

/* Reads a whole file (NUL-terminated, caller frees); NULL if missing. */
__attribute__((unused)) static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, k, m);
    fclose(m);
    fclose(f);
    return text;
}

__attribute__((unused)) static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/*
 * One request through curl: method, path, extra curl arguments (headers),
 * body (NULL: none). Returns the HTTP status (0: no answer) and the answer
 * in *out (caller frees).
 */
__attribute__((unused)) static int req(struct srv *s, const char *method, const char *path, const char *extra,
                                       const char *body, char **out)
{
    static int seq;
    char bodyf[512], outf[512], *cmd;
    snprintf(bodyf, sizeof bodyf, "%s", test_path("req.body"));
    snprintf(outf, sizeof outf, "%s.%d", test_path("req.out"), seq++);
    if (body)
        spit(bodyf, body);
    if (asprintf(&cmd, "curl -s -m 60 -X %s %s %s%s -o '%s' -w '%%{http_code}' 'http://127.0.0.1:%d%s'",
                 method, extra ? extra : "", body ? "--data-binary @" : "", body ? bodyf : "", outf, s->port,
                 path) < 0)
        return 0;
    FILE *p = popen(cmd, "r");
    free(cmd);
    int status = 0;
    if (p) {
        if (fscanf(p, "%d", &status) != 1)
            status = 0;
        pclose(p);
    }
    char *text = slurp(outf);
    unlink(outf);
    if (out)
        *out = text ? text : strdup("");
    else
        free(text);
    return status;
}

/* POST /v1/query with a JSON body. */
__attribute__((unused)) static int query(struct srv *s, const char *json_body, const char *extra, char **out)
{
    char hdr[512];
    snprintf(hdr, sizeof hdr, "-H 'Content-Type: application/json' %s", extra ? extra : "");
    return req(s, "POST", "/v1/query", hdr, json_body, out);
}

/* Runs sql (no parameters) through HTTP and expects 200. */
__attribute__((unused)) static int sql_ok(struct srv *s, const char *sql)
{
    json_t *b = json_pack("{ss}", "sql", sql);
    char *body = json_dumps(b, 0), *out = NULL;
    int st = query(s, body, NULL, &out);
    if (st != 200)
        fprintf(stderr, "    %s -> %d %s\n", sql, st, out);
    free(body);
    free(out);
    json_decref(b);
    return st == 200 ? 0 : -1;
}

/* A count straight from the database (not through HTTP). */
__attribute__((unused)) static int64_t count_of(struct srv *s, const char *sql)
{
    duckpond_conn *c;
    int64_t n = -1;
    if (duckpond_connect(s->db, &c) != DUCKPOND_OK)
        return -1;
    if (duckpond_query_int64(c, sql, &n) != DUCKPOND_OK)
        n = -1;
    duckpond_disconnect(c);
    return n;
}

/* json_loads or NULL. */
__attribute__((unused)) static json_t *parse(const char *text)
{
    json_error_t e;
    return json_loads(text ? text : "", JSON_DECODE_ANY, &e);
}

__attribute__((unused)) static const char *err_state(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "sqlstate"));
}

/* The value of a metric line "name value" (exact name with labels). */
__attribute__((unused)) static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

#endif
