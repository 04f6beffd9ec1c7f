/*
 * copy_stream.c -- COPY FROM STDIN in text and CSV format: the rows
 * streamed into DuckDB's own CSV reader (copy_int.h).
 *
 * DuckDB runs `INSERT INTO t (cols) SELECT ... FROM read_csv('<link>',
 * ...)` on the session's connection in a second thread, reading the read
 * end of a pipe through a link in the server's private directory (the one
 * place of the server's DuckDB may open, fdpath.h); every option is given (no detection) and every column's
 * type is the table's, so the CSV reader converts each value once, in bulk,
 * and names the record, column and value of the first one that does not
 * convert. The session's thread reads CopyData, rewrites it (copy_csv.c)
 * and writes it into the pipe: memory stays bounded by the pipe and
 * DuckDB's buffers whatever the COPY's size, and a client that sends
 * faster than DuckDB inserts waits in TCP. DuckDB's thread starts once
 * the rows fill a first write; a COPY that ends before that (most small
 * ones) is read whole from a file in memory on the session's thread.
 *
 * DuckDB sees the end of its file only when the pipe's write end closes:
 * after CopyDone, or after a failure. A COPY always runs inside a
 * transaction (the caller's), so a failure's end of file can never commit
 * half the rows; on CopyFail or a lost client the statement is also
 * interrupted, so that it stops at once.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ, pipe2, memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "copy_csv.h"
#include "copy_int.h"
#include "fdpath.h"
#include "pgconn.h"

#define STREAM_WRITE_BYTES (128u << 10) /* rewritten rows gather this much before a write */
#define STREAM_PIPE_BYTES (1u << 20)    /* asked of the kernel; the default (64 KiB) is kept if refused */

struct stream {
    struct copy_ctx *ctx;
    const struct copy_target *t;
    struct copy_csv cv;
    struct dp_buf out; /* rewritten rows not yet written */
    int rfd, wfd;      /* the pipe; rfd is DuckDB's (closed by its thread) */
    pthread_t thread;
    bool started;         /* DuckDB's thread runs (the rows outgrew one write) */
    bool ran;             /* the rows were read whole instead, on the session's thread */
    atomic_bool finished; /* DuckDB's statement returned: nothing reads the pipe any more */
    char *sql;
    char *link;         /* the name DuckDB reads the pipe or file by (fdpath.h), or /dev/fd/N */
    duckdb_state state; /* DuckDB's, once finished */
    duckdb_result res;
};

/* ------------------------------------------------------------- the SQL */

/* The type read_csv gives a column: the table's where the CSV reader converts it itself, else VARCHAR. */
static void csv_type(struct dp_buf *q, const struct copy_column *c)
{
    static const struct {
        duckdb_type id;
        const char *name;
    } direct[] = {
        {DUCKDB_TYPE_BOOLEAN, "BOOLEAN"},
        {DUCKDB_TYPE_TINYINT, "TINYINT"},
        {DUCKDB_TYPE_SMALLINT, "SMALLINT"},
        {DUCKDB_TYPE_INTEGER, "INTEGER"},
        {DUCKDB_TYPE_BIGINT, "BIGINT"},
        {DUCKDB_TYPE_HUGEINT, "HUGEINT"},
        {DUCKDB_TYPE_UTINYINT, "UTINYINT"},
        {DUCKDB_TYPE_USMALLINT, "USMALLINT"},
        {DUCKDB_TYPE_UINTEGER, "UINTEGER"},
        {DUCKDB_TYPE_UBIGINT, "UBIGINT"},
        {DUCKDB_TYPE_UHUGEINT, "UHUGEINT"},
        {DUCKDB_TYPE_FLOAT, "FLOAT"},
        {DUCKDB_TYPE_DOUBLE, "DOUBLE"},
        {DUCKDB_TYPE_DATE, "DATE"},
        {DUCKDB_TYPE_TIME, "TIME"},
        {DUCKDB_TYPE_TIMESTAMP, "TIMESTAMP"},
        {DUCKDB_TYPE_TIMESTAMP_S, "TIMESTAMP_S"},
        {DUCKDB_TYPE_TIMESTAMP_MS, "TIMESTAMP_MS"},
        {DUCKDB_TYPE_TIMESTAMP_NS, "TIMESTAMP_NS"},
        {DUCKDB_TYPE_TIMESTAMP_TZ, "TIMESTAMPTZ"},
        {DUCKDB_TYPE_TIME_TZ, "TIMETZ"},
        {DUCKDB_TYPE_INTERVAL, "INTERVAL"},
        {DUCKDB_TYPE_UUID, "UUID"},
    };
    if (c->id == DUCKDB_TYPE_DECIMAL) {
        dp_buf_printf(q, "'DECIMAL(%u,%u)'", duckdb_decimal_width(c->type), duckdb_decimal_scale(c->type));
        return;
    }
    for (size_t i = 0; i < sizeof direct / sizeof *direct; i++)
        if (direct[i].id == c->id) {
            dp_buf_printf(q, "'%s'", direct[i].name);
            return;
        }
    dp_buf_str(q, "'VARCHAR'"); /* text, JSON, and what INSERT casts from text (lists, enums, ...) */
}

/* Whether a list's elements (at any depth) are text, where a brace is data. */
static bool list_of_text(duckdb_logical_type list)
{
    duckdb_logical_type child = duckdb_list_type_child_type(list);
    duckdb_type id = duckdb_get_type_id(child);
    bool text = id == DUCKDB_TYPE_LIST ? list_of_text(child)
                                       : id != DUCKDB_TYPE_BOOLEAN && id != DUCKDB_TYPE_DATE &&
                                             !(id >= DUCKDB_TYPE_TINYINT && id <= DUCKDB_TYPE_DOUBLE) &&
                                             id != DUCKDB_TYPE_DECIMAL && id != DUCKDB_TYPE_HUGEINT;
    duckdb_destroy_logical_type(&child);
    return text;
}

/*
 * One column of the SELECT: cN; PostgreSQL's hex form of bytea (\x0aff)
 * turned into a BLOB; PostgreSQL's array braces turned into a list's.
 */
static void select_item(struct dp_buf *q, const struct copy_column *c, int i)
{
    if (c->id == DUCKDB_TYPE_BLOB) {
        dp_buf_printf(q, "CASE WHEN starts_with(c%d, '\\x') THEN unhex(c%d[3:]) ELSE c%d::BLOB END", i, i, i);
    } else if (c->id == DUCKDB_TYPE_LIST && !list_of_text(c->type)) {
        /* PostgreSQL's {1,2} is DuckDB's [1,2]; no element of these types can hold a brace */
        dp_buf_printf(q, "CASE WHEN starts_with(c%d, '{') THEN translate(c%d, '{}', '[]') ELSE c%d END", i, i,
                      i);
    } else {
        dp_buf_printf(q, "c%d", i);
    }
}

/*
 * The name DuckDB opens fd by: a link in the server's private directory,
 * or /dev/fd/N where DuckDB's files are not locked down (no run_dir).
 * Malloc'd into s->link; 0, or -1 with an error queued.
 */
static int stream_link(struct stream *s, int fd)
{
    s->link = s->ctx->run_dir ? fdpath_new(s->ctx->run_dir, fd) : dp_asprintf("/dev/fd/%d", fd);
    if (s->link)
        return 0;
    pgconn_error(s->ctx->pc, "53000", "COPY could not name its pipe for DuckDB: %s", strerror(errno));
    return -1;
}

/* Drops the name of stream_link. */
static void stream_unlink(struct stream *s)
{
    if (s->ctx->run_dir)
        fdpath_free(s->link);
    else
        free(s->link);
    s->link = NULL;
}

/* The INSERT ... SELECT ... FROM read_csv(...) that reads s->link, with buffers of buffer bytes (the longest line too). */
static char *stream_sql(const struct stream *s, unsigned buffer)
{
    const struct copy_target *t = s->t;
    struct dp_buf q = DP_BUF_INIT;
    dp_buf_str(&q, "INSERT INTO ");
    copy_table_sql(t->spec, &q);
    dp_buf_str(&q, " (");
    for (int i = 0; i < t->ncols; i++) {
        dp_buf_str(&q, i ? ", " : "");
        dp_sql_ident(&q, t->cols[i].name);
    }
    dp_buf_str(&q, ") SELECT ");
    for (int i = 0; i < t->ncols; i++) {
        dp_buf_str(&q, i ? ", " : "");
        select_item(&q, &t->cols[i], i + 1);
    }
    char quote = s->cv.out_quote;
    dp_buf_str(&q, " FROM read_csv(");
    dp_sql_literal(&q, s->link, strlen(s->link));
    dp_buf_str(&q, ", auto_detect = false, header = false, delim = ");
    dp_sql_literal(&q, &s->cv.delim, 1);
    dp_buf_str(&q, ", quote = ");
    dp_sql_literal(&q, &quote, 1);
    dp_buf_str(&q, ", escape = ");
    dp_sql_literal(&q, &quote, 1);
    /* DuckDB's buffer is as large as its longest line (16 times that by default: 0.5 GB here) */
    dp_buf_printf(
        &q, ", nullstr = '%s', allow_quoted_nulls = false, max_line_size = %u, buffer_size = %u, columns = {",
        COPY_CSV_NULL, buffer, buffer);
    for (int i = 0; i < t->ncols; i++) {
        dp_buf_printf(&q, "%s'c%d': ", i ? ", " : "", i + 1);
        csv_type(&q, &t->cols[i]);
    }
    dp_buf_str(&q, "})");
    return dp_buf_take(&q, NULL);
}

/* ---------------------------------------------------------- the thread */

/* DuckDB's side: runs the INSERT, then closes the pipe's read end so that a writer is never left blocked. */
static void *stream_main(void *arg)
{
    struct stream *s = arg;
    s->state = duckdb_query(s->ctx->dcon, s->sql, &s->res);
    close(s->rfd);
    atomic_store(&s->finished, true);
    return NULL;
}

/* The pipe, the SQL and DuckDB's thread, once the rows outgrow one write. 0, or -1 with an error queued. */
static int stream_start(struct stream *s)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        pgconn_error(s->ctx->pc, "53000", "COPY could not make a pipe: %s", strerror(errno));
        return -1;
    }
    s->rfd = fds[0];
    s->wfd = fds[1];
    (void)fcntl(s->wfd, F_SETPIPE_SZ, STREAM_PIPE_BYTES); /* fewer wake-ups; the default works too */
    if (stream_link(s, s->rfd) != 0) {
        close(s->rfd);
        return -1;
    }
    s->sql = stream_sql(s, COPY_CSV_MAX_RECORD + 1);
    if (!s->sql || pthread_create(&s->thread, NULL, stream_main, s) != 0) {
        pgconn_error(s->ctx->pc, "53200", "COPY could not start: out of memory");
        close(s->rfd);
        return -1;
    }
    s->started = true;
    return 0;
}

/* Writes the rewritten rows out. 0, or -1 when DuckDB no longer reads (its statement ended). */
static int stream_write(struct stream *s)
{
    const char *p = s->out.data;
    size_t n = s->out.len;
    while (n) {
        ssize_t w = write(s->wfd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1; /* EPIPE: the statement failed, or was interrupted */
        p += w;
        n -= (size_t)w;
    }
    dp_buf_truncate(&s->out, 0);
    return 0;
}

/*
 * Ends the stream: DuckDB sees the end of its file and the thread is
 * joined. interrupt: the statement is interrupted first (the rows are
 * being thrown away). The pipe's write end is closed in every case.
 */
static void stream_end(struct stream *s, bool interrupt)
{
    if (interrupt && s->started)
        duckdb_interrupt(s->ctx->dcon);
    if (s->wfd >= 0)
        close(s->wfd);
    s->wfd = -1;
    if (s->started)
        pthread_join(s->thread, NULL);
}

/*
 * A COPY whose rows all came before the first write: DuckDB reads them
 * from a file in memory, on the session's thread, with buffers no larger
 * than the rows (no thread to start, no 8 MB to allocate: a small COPY
 * costs about what an INSERT does). Sets s->state and s->res; 0, or -1
 * with an error queued when the file cannot be made.
 */
static int stream_whole(struct stream *s)
{
    int fd = memfd_create("duckpond-copy", MFD_CLOEXEC);
    if (fd < 0) {
        pgconn_error(s->ctx->pc, "53000", "COPY could not make a file in memory: %s", strerror(errno));
        return -1;
    }
    unsigned buffer = s->out.len + 2 > (64u << 10) ? (unsigned)s->out.len + 2 : (64u << 10);
    if (stream_link(s, fd) != 0) {
        close(fd);
        return -1;
    }
    s->sql = stream_sql(s, buffer);
    int rc = -1;
    if (!s->sql)
        pgconn_error(s->ctx->pc, "53200", "out of memory");
    else if (write(fd, s->out.data ? s->out.data : "", s->out.len) != (ssize_t)s->out.len)
        pgconn_error(s->ctx->pc, "53000", "COPY could not write a file in memory: %s", strerror(errno));
    else
        rc = 0;
    if (rc == 0) {
        s->state = duckdb_query(s->ctx->dcon, s->sql, &s->res);
        s->ran = true;
    }
    close(fd);
    return rc;
}

static void stream_free(struct stream *s)
{
    if (s->started || s->ran)
        duckdb_destroy_result(&s->res);
    stream_unlink(s);
    free(s->sql);
    dp_buf_free(&s->out);
    copy_csv_free(&s->cv);
}

/* ------------------------------------------------------------- errors */

/* How PostgreSQL words a value its input function refuses, by kind of type. */
enum value_kind { KIND_INTEGER, KIND_NUMERIC, KIND_FLOAT, KIND_DATETIME, KIND_ARRAY, KIND_OTHER };

/* PostgreSQL's name of a column type, as its input functions say it, and its kind. */
static const char *pg_type_name(duckdb_type id, enum value_kind *kind)
{
    *kind = KIND_INTEGER;
    switch (id) {
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_UTINYINT: return "smallint";
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_USMALLINT: return "integer";
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UINTEGER: return "bigint";
    default: break;
    }
    *kind = KIND_NUMERIC;
    if (id == DUCKDB_TYPE_HUGEINT || id == DUCKDB_TYPE_UHUGEINT || id == DUCKDB_TYPE_UBIGINT ||
        id == DUCKDB_TYPE_DECIMAL)
        return "numeric";
    *kind = KIND_FLOAT;
    if (id == DUCKDB_TYPE_FLOAT || id == DUCKDB_TYPE_DOUBLE)
        return id == DUCKDB_TYPE_FLOAT ? "real" : "double precision";
    *kind = KIND_DATETIME;
    switch (id) {
    case DUCKDB_TYPE_DATE: return "date";
    case DUCKDB_TYPE_TIME: return "time";
    case DUCKDB_TYPE_TIME_TZ: return "time with time zone";
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS: return "timestamp";
    case DUCKDB_TYPE_TIMESTAMP_TZ: return "timestamp with time zone";
    case DUCKDB_TYPE_INTERVAL: return "interval";
    default: break;
    }
    *kind = KIND_OTHER;
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN: return "boolean";
    case DUCKDB_TYPE_UUID: return "uuid";
    case DUCKDB_TYPE_BLOB: return "bytea";
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY: *kind = KIND_ARRAY; return "array";
    default: return "text";
    }
}

/* Whether v is a number (an optional sign, digits; with a point and exponent unless integer). */
static bool looks_numeric(const char *v, bool integer)
{
    const char *p = v + (*v == '+' || *v == '-');
    size_t digits = strspn(p, "0123456789");
    if (integer)
        return digits && !p[digits];
    return digits && strspn(p, "0123456789.eE+-") == strlen(p);
}

/*
 * Queues PostgreSQL's error for a value of column col that DuckDB's CSV
 * reader did not convert, with CONTEXT "COPY t, line N, column c: "v"":
 * 22003 for a number out of its type's range, 22008 for a date out of
 * range, else invalid input syntax (22007 for dates and times, 22P02).
 */
static void conversion_error(struct stream *s, uint64_t line, int col, const char *v)
{
    const struct copy_column *c = &s->t->cols[col];
    enum value_kind kind;
    const char *type = pg_type_name(c->id, &kind), *state = kind == KIND_DATETIME ? "22007" : "22P02";
    char *alias = duckdb_logical_type_get_alias(c->type);
    if (alias && !strcmp(alias, "JSON"))
        type = "json";
    duckdb_free(alias);
    char msg[512], tail[400];
    size_t k = copy_csv_show_len(v, strlen(v));
    snprintf(tail, sizeof tail, ", column %s: \"%.*s%s\"", c->name, (int)k, v, k < strlen(v) ? "..." : "");
    snprintf(msg, sizeof msg, "invalid input syntax for type %s: \"%s\"", type, v);
    if (kind == KIND_INTEGER && looks_numeric(v, true)) {
        state = "22003";
        snprintf(msg, sizeof msg, "value \"%s\" is out of range for type %s", v, type);
    } else if (kind == KIND_NUMERIC && looks_numeric(v, false)) {
        state = "22003";
        snprintf(msg, sizeof msg, "numeric field overflow");
    } else if (kind == KIND_FLOAT && looks_numeric(v, false)) {
        state = "22003";
        snprintf(msg, sizeof msg, "\"%s\" is out of range for type %s", v, type);
    } else if (kind == KIND_ARRAY) {
        snprintf(msg, sizeof msg, "malformed array literal: \"%s\"", v);
    } else if (kind == KIND_DATETIME && strspn(v, "0123456789") == 4 && v[4] == '-') {
        state = "22008";
        snprintf(msg, sizeof msg, "date/time field value out of range: \"%s\"", v);
    }
    copy_error_at(s->ctx, s->t, state, line, tail, "%s", msg);
}

/*
 * Reads DuckDB's CSV error ("CSV Error on Line: N ... Error when
 * converting column "cK". Could not convert string "V" to 'T'"): true
 * with the record, the column (-1 if none is named) and the value (caller
 * frees), false when the message is not one.
 */
static bool read_csv_error(const char *msg, uint64_t *record, int *col, char **value)
{
    const char *l = strstr(msg, "CSV Error on Line: ");
    if (!l)
        return false;
    *record = strtoull(l + 19, NULL, 10);
    *col = -1;
    *value = NULL;
    const char *c = strstr(l, "Error when converting column \"c");
    const char *v = c ? strstr(c, "Could not convert string \"") : NULL;
    if (!v)
        return true;
    *col = atoi(c + strlen("Error when converting column \"c")) - 1;
    v += strlen("Could not convert string \"");
    const char *stop = strstr(v, "\n\nColumn c"), *end = NULL;
    if (!stop)
        stop = v + strlen(v);
    for (const char *q = v; (q = memmem(q, (size_t)(stop - q), "\" to '", 6)); q++)
        end = q; /* the last one: the value may hold the same text */
    if (end)
        *value = strndup(v, (size_t)(end - v));
    return true;
}

/* Queues the error of DuckDB's statement, in PostgreSQL's words where DuckDB's CSV reader named the line. */
static void statement_error(struct stream *s)
{
    const char *msg = duckdb_result_error(&s->res);
    uint64_t record;
    int col;
    char *value = NULL;
    duckdb_error_type type = duckdb_result_error_type(&s->res);
    if (!msg || type == DUCKDB_ERROR_INTERRUPT || !read_csv_error(msg, &record, &col, &value)) {
        const char *where = msg ? strstr(msg, "\n\nLINE ")
                                : NULL; /* a pointer into our own SQL: not the client's */
        char *shown = where ? strndup(msg, (size_t)(where - msg)) : NULL;
        copy_duckdb_error(s->ctx, type, shown ? shown : msg);
        free(shown);
        return;
    }
    uint64_t line = copy_csv_line_of(&s->cv, record);
    if (col >= 0 && col < s->t->ncols && value) {
        conversion_error(s, line, col, value);
    } else { /* the reader refused the record itself: its first line is what PostgreSQL would name */
        const char *nl = strchr(msg, '\n');
        copy_error_at(s->ctx, s->t, "22P04", line, NULL, "%.*s", nl ? (int)(nl - msg) : (int)strlen(msg),
                      msg);
    }
    free(value);
}

/* Queues the rewriting's error (copy_csv.c). */
static void input_error(struct stream *s)
{
    const struct copy_csv_error *e = &s->cv.err;
    copy_error_at(s->ctx, s->t, e->sqlstate, e->line, e->context, "%s", e->message);
}

/* --------------------------------------------------------------- the run */

/* How the CopyData loop ended. */
enum stream_end { END_DONE, END_INPUT, END_DUCKDB, END_ABORT, END_FAILED };

/*
 * Reads CopyData until CopyDone, a bad line, DuckDB's end, CopyFail or a
 * lost client, or a failure to start (error queued). DuckDB's thread
 * starts once the rows fill a write; until then they wait in s->out.
 */
static enum stream_end stream_loop(struct stream *s)
{
    for (;;) {
        const char *p;
        size_t n;
        enum copy_next next = copy_next_data(s->ctx, &p, &n);
        if (next == COPY_FAILED || next == COPY_GONE)
            return END_ABORT;
        if (atomic_load(&s->finished))
            return END_DUCKDB;
        if (next == COPY_DONE)
            return copy_csv_finish(&s->cv, &s->out) == 0 ? END_DONE : END_INPUT;
        if (copy_csv_feed(&s->cv, p, n, &s->out) != 0)
            return END_INPUT;
        if (s->out.len < STREAM_WRITE_BYTES)
            continue;
        if (!s->started && stream_start(s) != 0)
            return END_FAILED;
        if (stream_write(s) != 0)
            return END_DUCKDB;
    }
}

/*
 * Hands DuckDB what is left: the rest of the stream, then its end; or the
 * whole of a small COPY. For a bad line, what came before it, which may
 * hold an earlier error. 0, or -1 with an error queued.
 */
static int stream_finish(struct stream *s)
{
    if (!s->started)
        return stream_whole(s);
    stream_write(s); /* fails only when DuckDB stopped: its error says why */
    stream_end(s, false);
    return 0;
}

int copy_stream_in(struct copy_ctx *ctx, const struct copy_target *t, uint64_t *rows)
{
    struct stream s = {.ctx = ctx, .t = t, .rfd = -1, .wfd = -1};
    if (copy_csv_init(&s.cv, t->spec, t->ncols, t->names) != 0) {
        input_error(&s);
        stream_free(&s);
        return -1;
    }
    int rc = -1;
    enum stream_end how = copy_in_response(ctx, t, 0) == 0 ? stream_loop(&s) : END_ABORT;
    if (how == END_DONE || how == END_INPUT) {
        if (stream_finish(&s) != 0)
            how = END_FAILED;
    } else {
        stream_end(&s, true); /* the rows are thrown away: DuckDB stops at once */
    }
    bool ran = s.started || s.ran;
    if (how == END_ABORT || how == END_FAILED)
        ; /* the error is queued already, or the client is gone */
    else if (ran && s.state != DuckDBSuccess)
        statement_error(&s);
    else if (how == END_INPUT)
        input_error(&s);
    else if (how == END_DONE)
        rc = 0;
    else /* the statement ended before its input did: cannot be a success */
        copy_duckdb_error(ctx, DUCKDB_ERROR_INVALID, "COPY ended before its data");
    if (rc == 0)
        *rows = duckdb_rows_changed(&s.res);
    stream_free(&s);
    return rc;
}
