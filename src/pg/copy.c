/*
 * copy.c -- COPY FROM STDIN and COPY TO STDOUT: the sub-protocol and where
 * the rows go.
 *
 * DuckDB cannot run these itself (it would read the server's own stdin),
 * so the session intercepts them and hands them here with its connection
 * and a small context (copy.h). FROM STDIN takes CopyData chunks (which do
 * not line up with rows), cuts them into lines at newlines outside CSV
 * quotes, splits each line into fields (copy_format.c), and feeds the rows
 * to a sink: the batcher in autocommit (committed in chunks of
 * COPY_CHUNK_ROWS, each all-or-nothing and acknowledged in the session's
 * ack mode), or a DuckDB Appender on the session's connection inside an
 * explicit transaction (so that the rows commit or roll back with it, as
 * pgbench -i expects). TO STDOUT runs the query and streams each row as
 * one CopyData message.
 */
#include "copy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "copy_format.h"
#include "pgconn.h"
#include "pgtypes.h"
#include "pgwire.h"
#include "registry.h"

#define COPY_CHUNK_ROWS 10000

/* Queues the ErrorResponse of a DuckDB error met by the COPY. */
static void copy_duckdb_error(struct copy_ctx *ctx, duckdb_error_type type, const char *message)
{
    pgconn_duckdb_error(ctx->pc, type, message, registry_timed_out(ctx->run));
}

/* ------------------------------------------------------------ row sinks */

/* Where the rows of a COPY FROM go: the batcher (w) or the transaction's Appender (app). */
struct sink {
    struct copy_ctx *ctx;
    const struct copy_spec *c;
    int ncols;
    duckpond_write *w;     /* batcher path */
    size_t pending;
    duckdb_appender app;   /* transaction path */
    uint64_t rows;
    duckpond_value *vals;
};

/* Sends the batcher the rows gathered so far and waits for their
 * acknowledgement (commit or journal, as the session's ack mode says). */
static int sink_commit(struct sink *k)
{
    if (!k->w)
        return 0;
    int rc = duckpond_write_submit(k->w, k->ctx->ack);
    if (rc != DUCKPOND_OK) {
        const char *msg = duckpond_write_errmsg(k->w);
        pgconn_error(k->ctx->pc, duckpond_sqlstate(rc, msg), "COPY failed: %s",
                     msg && *msg ? msg : duckpond_strerror(rc));
    } else if (duckpond_write_seq(k->w) > k->ctx->seq) {
        k->ctx->seq = duckpond_write_seq(k->w);
    }
    duckpond_write_free(k->w);
    k->w = NULL;
    k->pending = 0;
    return rc == DUCKPOND_OK ? 0 : -1;
}

/* One row into the transaction's Appender. */
static int sink_append(struct sink *k, const struct copy_fields *f)
{
    for (int i = 0; i < f->n; i++) {
        const struct copy_field *v = &f->v[i];
        duckdb_state st = v->null ? duckdb_append_null(k->app)
                                  : duckdb_append_varchar_length(k->app, f->buf + v->start, v->len);
        if (st != DuckDBSuccess)
            goto fail;
    }
    if (duckdb_appender_end_row(k->app) != DuckDBSuccess)
        goto fail;
    k->rows++;
    return 0;
fail:
    copy_duckdb_error(k->ctx, DUCKDB_ERROR_INVALID, duckdb_appender_error(k->app));
    return -1;
}

/* One row into the batcher's current chunk, committed when full. */
static int sink_batch(struct sink *k, const struct copy_fields *f)
{
    if (!k->w) {
        const struct copy_spec *c = k->c;
        char name[512];
        snprintf(name, sizeof name, "%s%s%s", c->schema ? c->schema : "", c->schema ? "." : "", c->table);
        int rc = duckpond_write_new(k->ctx->batcher, name, (const char *const *)c->columns, c->ncolumns,
                                    DUCKPOND_WRITE_ATOMIC, &k->w);
        if (rc != DUCKPOND_OK) {
            pgconn_error(k->ctx->pc, duckpond_sqlstate(rc, NULL), "COPY failed: %s", duckpond_strerror(rc));
            return -1;
        }
    }
    for (int i = 0; i < f->n; i++) {
        memset(&k->vals[i], 0, sizeof k->vals[i]);
        k->vals[i].kind = f->v[i].null ? DUCKPOND_VALUE_NULL : DUCKPOND_VALUE_TEXT;
        k->vals[i].u.text.ptr = f->buf + f->v[i].start;
        k->vals[i].u.text.len = f->v[i].len;
    }
    if (duckpond_write_add_row(k->w, k->vals) != DUCKPOND_OK) {
        pgconn_error(k->ctx->pc, "53200", "COPY failed: could not queue a row");
        return -1;
    }
    k->rows++;
    if (++k->pending >= COPY_CHUNK_ROWS)
        return sink_commit(k);
    return 0;
}

static int sink_row(struct sink *k, const struct copy_fields *f)
{
    if (f->n < k->ncols) {
        pgconn_error(k->ctx->pc, "22P04", "missing data for column %d (row %" PRIu64 ")", f->n + 1, k->rows + 1);
        return -1;
    }
    if (f->n > k->ncols) {
        pgconn_error(k->ctx->pc, "22P04", "extra data after last expected column (row %" PRIu64 ")", k->rows + 1);
        return -1;
    }
    return k->app ? sink_append(k, f) : sink_batch(k, f);
}

/* The number of columns the rows carry: the list given, or the table's. */
static int copy_columns(struct copy_ctx *ctx, const struct copy_spec *c, int *ncols)
{
    if (c->ncolumns) {
        *ncols = c->ncolumns;
        return 0;
    }
    duckdb_appender app = NULL;
    if (duckdb_appender_create(ctx->dcon, c->schema, c->table, &app) != DuckDBSuccess) {
        pgconn_error(ctx->pc, "42P01", "relation \"%s\" does not exist", c->table);
        duckdb_appender_destroy(&app);
        return -1;
    }
    *ncols = (int)duckdb_appender_column_count(app);
    duckdb_appender_destroy(&app);
    return 0;
}

/* Opens the Appender of the transaction path (with the column list, if any). */
static int open_appender(struct sink *k)
{
    const struct copy_spec *c = k->c;
    if (duckdb_appender_create(k->ctx->dcon, c->schema, c->table, &k->app) != DuckDBSuccess) {
        pgconn_error(k->ctx->pc, "42P01", "relation \"%s\" does not exist", c->table);
        duckdb_appender_destroy(&k->app);
        k->app = NULL;
        return -1;
    }
    for (int i = 0; i < c->ncolumns; i++)
        if (duckdb_appender_add_column(k->app, c->columns[i]) != DuckDBSuccess) {
            pgconn_error(k->ctx->pc, "42703", "column \"%s\" of relation \"%s\" does not exist", c->columns[i],
                         c->table);
            return -1;
        }
    return 0;
}

/* ------------------------------------------------------------- COPY FROM */

/* The line being gathered from CopyData chunks. */
struct reader {
    struct dp_buf line;
    bool in_quotes;
    bool skip_header;
    bool ended; /* saw the \. marker */
    struct copy_fields f;
};

/* A complete line: the end marker, a header to skip, or a row for the sink. */
static int take_line(struct sink *k, struct reader *r)
{
    char *line = r->line.data ? r->line.data : (char *)"";
    size_t n = r->line.len;
    if (n && line[n - 1] == '\r')
        n--;
    if (n == 2 && line[0] == '\\' && line[1] == '.') {
        r->ended = true;
        return 0;
    }
    if (r->skip_header) {
        r->skip_header = false;
        return 0;
    }
    if (copy_split_row(k->c, line, n, &r->f) != 0) {
        pgconn_error(k->ctx->pc, "53200", "out of memory");
        return -1;
    }
    return sink_row(k, &r->f);
}

/* Feeds a CopyData chunk: rows end at newlines outside CSV quotes. */
static int feed(struct sink *k, struct reader *r, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !r->ended; i++) {
        char ch = p[i];
        if (k->c->csv && ch == k->c->quote)
            r->in_quotes = !r->in_quotes;
        if (ch == '\n' && !r->in_quotes) {
            if (take_line(k, r) != 0)
                return -1;
            dp_buf_truncate(&r->line, 0);
            continue;
        }
        if (!k->c->csv && ch == '\\' && i + 1 < n) { /* keep an escaped character with its backslash */
            dp_buf_byte(&r->line, ch);
            ch = p[++i];
        }
        dp_buf_byte(&r->line, ch);
        if (r->line.failed) {
            pgconn_error(k->ctx->pc, "53200", "out of memory");
            return -1;
        }
    }
    return 0;
}

/* Reads CopyData until CopyDone (0), CopyFail or an error (-1), or the connection's end (-2). */
static int copy_in_loop(struct sink *k, struct reader *r)
{
    struct pgconn *pc = k->ctx->pc;
    for (;;) {
        struct pgmsg m;
        if (pgconn_read(pc, false, &m) != 0)
            return -2;
        switch (m.type) {
        case 'd':
            if (feed(k, r, m.body, m.len) != 0)
                return -1;
            break;
        case 'c':
            if (r->line.len && !r->ended && take_line(k, r) != 0)
                return -1;
            return 0;
        case 'f':
            pgconn_error(pc, "57014", "COPY from stdin failed: %.*s", (int)(m.len ? m.len - 1 : 0), m.body);
            return -1;
        case 'H':
        case 'S':
            break;
        default:
            pgconn_error(pc, "08P01", "unexpected message type 0x%02x during COPY from stdin", (unsigned char)m.type);
            return -1;
        }
    }
}

/* CopyInResponse ('G') or CopyOutResponse ('H'): text format for every column. */
static void copy_response(struct pgbuf *out, char type, int ncols)
{
    pgbuf_begin(out, type);
    pgbuf_byte(out, 0);
    pgbuf_int16(out, (int16_t)ncols);
    for (int i = 0; i < ncols; i++)
        pgbuf_int16(out, 0);
    pgbuf_end(out);
}

/* Closes the Appender of the transaction path: 0, or -1 with an error queued when its last rows fail. */
static int close_appender(struct sink *k, bool ok)
{
    int rc = 0;
    if (!k->app)
        return 0;
    if (ok && duckdb_appender_close(k->app) != DuckDBSuccess) {
        copy_duckdb_error(k->ctx, DUCKDB_ERROR_INVALID, duckdb_appender_error(k->app));
        rc = -1;
    }
    duckdb_appender_destroy(&k->app);
    return rc;
}

static int copy_from(struct copy_ctx *ctx, const struct copy_spec *c)
{
    struct sink k = {.ctx = ctx, .c = c};
    struct reader r = {.skip_header = c->header};
    if (copy_columns(ctx, c, &k.ncols) != 0)
        return -1;
    if (!ctx->batcher && open_appender(&k) != 0) {
        duckdb_appender_destroy(&k.app);
        return -1;
    }
    k.vals = calloc((size_t)k.ncols + 1, sizeof *k.vals);
    copy_response(&ctx->pc->out, 'G', k.ncols);
    pgconn_flush(ctx->pc);
    int rc = k.vals ? copy_in_loop(&k, &r) : -1;
    if (rc == 0)
        rc = sink_commit(&k);
    if (close_appender(&k, rc == 0) != 0)
        rc = -1;
    if (k.w) /* rows never submitted (an error or a lost client): dropped */
        duckpond_write_free(k.w);
    free(k.vals);
    dp_buf_free(&r.line);
    copy_fields_free(&r.f);
    if (rc == 0) {
        char tag[48];
        snprintf(tag, sizeof tag, "COPY %" PRIu64, k.rows);
        pgwire_command_complete(&ctx->pc->out, tag);
    }
    return rc == 0 ? 0 : -1;
}

/* --------------------------------------------------------------- COPY TO */

/* One row of a chunk as a CopyData line. */
static void copy_out_row(struct pgbuf *out, const struct copy_spec *c, duckdb_result *res, duckdb_data_chunk chunk,
                         idx_t row, int ncols, struct pgbuf *tmp)
{
    pgbuf_begin(out, 'd');
    for (int col = 0; col < ncols; col++) {
        if (col)
            pgbuf_byte(out, c->delim);
        duckdb_vector v = duckdb_data_chunk_get_vector(chunk, (idx_t)col);
        if (!pgtypes_valid(v, row)) {
            pgbuf_str(out, c->null_str);
            continue;
        }
        duckdb_logical_type t = duckdb_column_logical_type(res, (idx_t)col);
        tmp->len = 0;
        pgtypes_text(tmp, v, t, row);
        duckdb_destroy_logical_type(&t);
        copy_put_field(out, c, tmp->data ? tmp->data : "", tmp->len);
    }
    pgbuf_byte(out, '\n');
    pgbuf_end(out);
}

/* Sends the rows of a result as CopyData lines; returns the rows sent. */
static int64_t copy_out_rows(struct copy_ctx *ctx, const struct copy_spec *c, duckdb_result *res, int ncols)
{
    struct pgbuf tmp;
    pgbuf_init(&tmp);
    int64_t rows = 0;
    for (;;) {
        registry_run_begin(ctx->run);
        duckdb_data_chunk chunk = duckdb_fetch_chunk(*res);
        registry_run_end(ctx->run);
        if (!chunk)
            break;
        idx_t n = duckdb_data_chunk_get_size(chunk);
        for (idx_t row = 0; row < n; row++, rows++)
            copy_out_row(&ctx->pc->out, c, res, chunk, row, ncols, &tmp);
        duckdb_destroy_data_chunk(&chunk);
        if (pgconn_maybe_flush(ctx->pc) != 0)
            break;
    }
    pgbuf_free(&tmp);
    return rows;
}

/* The header line of a CSV COPY TO: the column names. */
static void copy_out_header(struct pgbuf *out, const struct copy_spec *c, duckdb_result *res, int ncols)
{
    pgbuf_begin(out, 'd');
    for (int i = 0; i < ncols; i++) {
        const char *name = duckdb_column_name(res, (idx_t)i);
        if (i)
            pgbuf_byte(out, c->delim);
        copy_put_field(out, c, name, strlen(name));
    }
    pgbuf_byte(out, '\n');
    pgbuf_end(out);
}

/* Runs the query of a COPY TO, streaming: 0 with *res, or -1 with an error queued. */
static int copy_to_start(struct copy_ctx *ctx, const struct copy_spec *c, duckdb_result *res)
{
    struct dp_buf sql = DP_BUF_INIT;
    duckdb_prepared_statement prep = NULL;
    int rc = -1;
    copy_query(c, &sql);
    if (sql.failed) {
        pgconn_error(ctx->pc, "53200", "out of memory");
    } else if (duckdb_prepare(ctx->dcon, sql.data, &prep) != DuckDBSuccess) {
        copy_duckdb_error(ctx, DUCKDB_ERROR_INVALID, duckdb_prepare_error(prep));
    } else if (ctx->read_only && duckdb_prepared_statement_type(prep) != DUCKDB_STATEMENT_TYPE_SELECT) {
        pgconn_error(ctx->pc, "25006", "cannot execute this COPY in a read-only transaction");
    } else {
        registry_run_begin(ctx->run);
        duckdb_state st = duckdb_execute_prepared_streaming(prep, res);
        registry_run_end(ctx->run);
        if (st == DuckDBSuccess) {
            rc = 0;
        } else {
            copy_duckdb_error(ctx, duckdb_result_error_type(res), duckdb_result_error(res));
            duckdb_destroy_result(res);
        }
    }
    duckdb_destroy_prepare(&prep);
    dp_buf_free(&sql);
    return rc;
}

static int copy_to(struct copy_ctx *ctx, const struct copy_spec *c)
{
    duckdb_result res;
    if (copy_to_start(ctx, c, &res) != 0)
        return -1;
    int ncols = (int)duckdb_column_count(&res);
    copy_response(&ctx->pc->out, 'H', ncols);
    if (c->header)
        copy_out_header(&ctx->pc->out, c, &res, ncols);
    int64_t rows = copy_out_rows(ctx, c, &res, ncols);
    const char *err = duckdb_result_error(&res);
    int rc = -1;
    pgwire_empty(&ctx->pc->out, 'c');
    if (err) {
        copy_duckdb_error(ctx, duckdb_result_error_type(&res), err);
    } else {
        char tag[48];
        snprintf(tag, sizeof tag, "COPY %" PRId64, rows);
        pgwire_command_complete(&ctx->pc->out, tag);
        rc = 0;
    }
    duckdb_destroy_result(&res);
    return rc;
}

int copy_run(struct copy_ctx *ctx, const struct copy_spec *c)
{
    return c->from ? copy_from(ctx, c) : copy_to(ctx, c);
}
