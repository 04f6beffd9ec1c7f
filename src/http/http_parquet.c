/*
 * http_parquet.c -- a query's answer as a Parquet file, written by DuckDB
 * itself: POST /v1/query with "Accept: application/vnd.apache.parquet",
 * or ?format=parquet (a GET with ?sql= too, which is what pandas'
 * read_parquet(url) sends).
 *
 * DuckDB 1.4 prepares a COPY whose query holds parameters and binds them
 * like any statement's, so the answer is
 *
 *   COPY (FROM (\n<the request's SQL>\n) LIMIT <row_limit + 1>)
 *     TO '<private dir>/fd-<random>' (FORMAT parquet, USE_TMP_FILE false)
 *
 * prepared on the request's pooled connection, with the request's JSON
 * parameters bound by duckdb_bind_* (http_stmt.c) exactly as for a JSON
 * answer: a value is never SQL text. Putting the request's SQL inside the
 * COPY is safe because of what is checked first: alone, it was split by
 * DuckDB's own parser into exactly one statement and prepared as a query
 * (http_query.c), so its parentheses, quotes and comments are balanced
 * and closed, and our "(" can only be closed by our ")" (the newline ends
 * a trailing "--" comment). The COPY is split and prepared again and must
 * be one COPY statement. Neither a temporary table (a copy of the rows,
 * and state left on a shared connection) nor the Arrow C API (Parquet
 * would need a writer of our own) does better.
 *
 * A file rather than a stream: a Parquet file's footer, written last,
 * says where everything is, so half of one is of no use to a reader; and
 * so everything that can fail -- a cast deep in the result, the statement
 * timeout, the row limit -- fails before the status line, as the same
 * JSON error as every other answer's. The file never has a name: it is
 * made with O_TMPFILE in a private directory (on a file system without
 * O_TMPFILE, with mkostemp and unlinked at once), DuckDB writes it through
 * a link to /proc/self/fd/N made for the COPY's time in the directory the
 * private one is in (fdpath.h: the server's DuckDB may open files in the
 * server's own directory only, and the private one stays empty), with
 * USE_TMP_FILE false (else it writes a sibling file and renames it over),
 * and libmicrohttpd sends it from the descriptor and
 * closes it when the answer is done or the client is gone. Nothing is
 * left behind on any path: an error, a timeout, a client that went away,
 * or a crash. The private directory is made at start and removed at stop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdpath.h"
#include "http_parquet.h"
#include "http_watchdog.h"

int http_parquet_dir_new(struct http_env *env, const char *parent)
{
    if (!parent || !*parent)
        parent = getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    char *dir = dp_asprintf("%s/duckpond-http.XXXXXX", parent);
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    if (!mkdtemp(dir)) {
        int saved = errno;
        free(dir);
        errno = saved;
        return -1;
    }
    env->link_dir = strdup(parent);
    if (!env->link_dir) {
        rmdir(dir);
        free(dir);
        errno = ENOMEM;
        return -1;
    }
    env->temp_dir = dir;
    return 0;
}

void http_parquet_dir_free(struct http_env *env)
{
    if (!env->temp_dir)
        return;
    rmdir(env->temp_dir);
    free(env->temp_dir);
    free(env->link_dir);
    env->temp_dir = env->link_dir = NULL;
}

/* A new file without a name in dir, open for reading and writing: its fd, or -1. */
static int unnamed_file(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
        return fd;
    char *path = dp_asprintf("%s/answer.XXXXXX", dir); /* no O_TMPFILE here */
    if (!path)
        return -1;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    free(path);
    return fd;
}

/* The length of sql without the white space and semicolons that end it. */
static size_t trimmed_len(const char *sql)
{
    size_t n = strlen(sql);
    while (n && (sql[n - 1] == ';' || sql[n - 1] == ' ' || sql[n - 1] == '\t' || sql[n - 1] == '\n' ||
                 sql[n - 1] == '\r'))
        n--;
    return n;
}

/* The COPY that writes at most row_limit + 1 rows of sql into the file at path (malloc'd). */
static char *copy_text(const char *sql, long row_limit, const char *path)
{
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_str(&b, "COPY (FROM (\n");
    dp_buf_add(&b, sql, trimmed_len(sql));
    dp_buf_printf(&b, "\n) LIMIT %llu) TO ", (unsigned long long)row_limit + 1);
    dp_sql_literal(&b, path, strlen(path));
    dp_buf_str(&b, " (FORMAT parquet, USE_TMP_FILE false)");
    return dp_buf_take(&b, NULL);
}

/* Prepares the COPY and checks that it is one; 0 with *out, or -1 with e. */
static int prepare_copy(duckdb_connection dc, const char *copy, duckdb_prepared_statement *out,
                        struct http_err *e)
{
    if (http_stmt_prepare(dc, copy, out, e) != 0)
        return -1;
    if (duckdb_prepared_statement_type(*out) == DUCKDB_STATEMENT_TYPE_COPY)
        return 0;
    duckdb_destroy_prepare(out);
    *out = NULL;
    http_err_set(e, DUCKPOND_SYNTAX, 400, "42601",
                 "this query cannot be written as Parquet: it does not stand alone inside "
                 "COPY (...)");
    return -1;
}

/* Runs the COPY, interrupted by the watchdog at deadline_ms: its row count in *rows. */
static int run_copy(struct http_env *env, struct MHD_Connection *c, duckdb_connection dc,
                    duckdb_prepared_statement copy, int64_t deadline_ms, uint64_t *rows, struct http_err *e)
{
    struct http_conn *hc = http_watchdog_query_begin(env->watchdog, c, dc, deadline_ms);
    duckdb_result res;
    int rc = 0;
    if (duckdb_execute_prepared(copy, &res) == DuckDBSuccess) {
        *rows = duckdb_rows_changed(&res);
    } else {
        http_err_duckdb(e, duckdb_result_error_type(&res), duckdb_result_error(&res));
        rc = -1;
    }
    duckdb_destroy_result(&res);
    http_watchdog_query_end(env->watchdog, hc);
    return rc;
}

/* Queues the written file (fd taken) as c's answer. 0 with *ret, or -1 with e. */
static int queue_file(struct MHD_Connection *c, int fd, uint64_t rows, long row_limit, enum MHD_Result *ret,
                      struct http_err *e)
{
    struct stat st;
    struct MHD_Response *r = NULL;
    if (fstat(fd, &st) == 0)
        r = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        http_err_set(e, DUCKPOND_IO, 500, "58030", "cannot send the Parquet answer");
        return -1;
    }
    char count[32], limit[32];
    snprintf(count, sizeof count, "%llu", (unsigned long long)rows);
    snprintf(limit, sizeof limit, "%ld", row_limit);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, HTTP_PARQUET_TYPE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
                            "attachment; filename=\"result.parquet\"");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Duckpond-Row-Count", count);
    MHD_add_response_header(r, "X-Duckpond-Row-Limit", limit);
    *ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r); /* MHD closes fd once the answer is done with */
    return 0;
}

int http_parquet_answer(struct http_env *env, struct MHD_Connection *c, duckdb_connection dc, const char *sql,
                        json_t *params, long row_limit, int64_t deadline_ms, enum MHD_Result *ret,
                        struct http_err *e)
{
    int fd = unnamed_file(env->temp_dir);
    if (fd < 0) {
        http_err_set(e, DUCKPOND_IO, 500, "58030", "cannot make a file for the Parquet answer: %s",
                     strerror(errno));
        return -1;
    }
    char *link = fdpath_new(env->link_dir, fd);
    char *copy = link ? copy_text(sql, row_limit, link) : NULL;
    duckdb_prepared_statement prep = NULL;
    uint64_t rows = 0;
    int rc = -1;
    if (!link)
        http_err_set(e, DUCKPOND_IO, 500, "58030", "cannot name the file of the Parquet answer: %s",
                     strerror(errno));
    else if (!copy)
        http_err_set(e, DUCKPOND_NOMEM, 500, "53200", "out of memory");
    else if (prepare_copy(dc, copy, &prep, e) == 0 && http_stmt_bind(prep, params, e) == 0 &&
             run_copy(env, c, dc, prep, deadline_ms, &rows, e) == 0)
        rc = 0;
    if (rc == 0 && rows > (uint64_t)row_limit) {
        http_err_set(e, DUCKPOND_MISUSE, 400, "54000",
                     "the result has more than %ld rows, the row limit of a Parquet answer, which "
                     "is never cut short; add a LIMIT, or ask for a higher \"row_limit\"",
                     row_limit);
        rc = -1;
    }
    if (prep)
        duckdb_destroy_prepare(&prep);
    free(copy);
    fdpath_free(link);
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return queue_file(c, fd, rows, row_limit, ret, e);
}
