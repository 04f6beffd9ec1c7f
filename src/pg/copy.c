/*
 * copy.c -- COPY FROM STDIN and COPY TO STDOUT: the sub-protocol, the
 * target table, the transaction a COPY FROM runs in, and COPY TO's rows.
 *
 * DuckDB cannot run these itself (it would read the server's own stdin),
 * so the session intercepts them and hands them here with its connection
 * and a small context (copy.h). FROM STDIN finds the table's columns and
 * their types, opens a transaction when the session has none (so that the
 * COPY commits all its rows or none, however it ends), and hands the
 * CopyData to its format: text and CSV to DuckDB's CSV reader
 * (copy_stream.c), binary to an Appender (copy_binary.c); it commits only
 * after CopyDone and every row went in. TO STDOUT runs the query and
 * streams each row as one CopyData message.
 */
#include "copy.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "copy_format.h"
#include "copy_int.h"
#include "metrics.h"
#include "pgconn.h"
#include "pgtypes.h"
#include "pgwire.h"
#include "registry.h"

void copy_duckdb_error(struct copy_ctx *ctx, duckdb_error_type type, const char *message)
{
    pgconn_duckdb_error(ctx->pc, type, message, registry_timed_out(ctx->run));
}

void copy_error_at(struct copy_ctx *ctx, const struct copy_target *t, const char *sqlstate, uint64_t line,
                   const char *tail, const char *fmt, ...)
{
    char msg[1024], where[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line)
        snprintf(where, sizeof where, "COPY %s, line %" PRIu64 "%s", t->spec->table, line, tail ? tail : "");
    else
        snprintf(where, sizeof where, "COPY %s%s", t->spec->table, tail ? tail : "");
    struct pgbuf *b = &ctx->pc->out; /* pgwire_error has no CONTEXT field: the same message, with one */
    pgbuf_begin(b, 'E');
    const char fields[] = {'S', 'V', 'C', 'M', 'W'};
    const char *values[] = {"ERROR", "ERROR", sqlstate, msg, where};
    for (size_t i = 0; i < sizeof fields; i++) {
        pgbuf_byte(b, fields[i]);
        pgbuf_cstr(b, values[i]);
    }
    pgbuf_byte(b, '\0');
    pgbuf_end(b);
    metrics_error(sqlstate);
    if (ctx->pc->extended)
        ctx->pc->skip_to_sync = true;
}

/* ------------------------------------------------------- the sub-protocol */

enum copy_next copy_next_data(struct copy_ctx *ctx, const char **p, size_t *n)
{
    struct pgconn *pc = ctx->pc;
    for (;;) {
        struct pgmsg m;
        if (pgconn_read(pc, false, &m) != 0)
            return COPY_GONE;
        switch (m.type) {
        case 'd':
            *p = m.body;
            *n = m.len;
            return COPY_DATA;
        case 'c': return COPY_DONE;
        case 'f':
            pgconn_error(pc, "57014", "COPY from stdin failed: %.*s", (int)(m.len ? m.len - 1 : 0), m.body);
            return COPY_FAILED;
        case 'H':
        case 'S': break;
        default:
            pgconn_error(pc, "08P01", "unexpected message type 0x%02x during COPY from stdin",
                         (unsigned char)m.type);
            return COPY_FAILED;
        }
    }
}

/* CopyInResponse ('G') or CopyOutResponse ('H'): the overall format, then each column's. */
static void copy_response(struct pgbuf *out, char type, int ncols, int format)
{
    pgbuf_begin(out, type);
    pgbuf_byte(out, (char)format);
    pgbuf_int16(out, (int16_t)ncols);
    for (int i = 0; i < ncols; i++)
        pgbuf_int16(out, (int16_t)format);
    pgbuf_end(out);
}

int copy_in_response(struct copy_ctx *ctx, const struct copy_target *t, int format)
{
    copy_response(&ctx->pc->out, 'G', t->ncols, format);
    return pgconn_flush(ctx->pc);
}

/* ------------------------------------------------------------- the target */

static void target_close(struct copy_target *t)
{
    for (int i = 0; i < t->ncols; i++) {
        free(t->cols[i].name);
        duckdb_destroy_logical_type(&t->cols[i].type);
    }
    free(t->cols);
    free(t->names);
    memset(t, 0, sizeof *t);
}

/*
 * The name of column i of a prepared statement, malloc'd (DuckDB's own
 * copy goes back to it); NULL when memory runs out.
 */
static char *column_name(duckdb_prepared_statement prep, idx_t i)
{
    const char *name = duckdb_prepared_statement_column_name(prep, i);
    char *copy = strdup(name ? name : "");
    duckdb_free((void *)name);
    return copy;
}

/* Column i of the table (as DuckDB prepared SELECT * of it) into c. 0, or -1 when memory runs out. */
static int column_of(duckdb_prepared_statement prep, idx_t i, struct copy_column *c)
{
    c->name = column_name(prep, i);
    c->type = duckdb_prepared_statement_column_logical_type(prep, i);
    c->id = duckdb_get_type_id(c->type);
    return c->name ? 0 : -1;
}

/* The index of the table's column called name (case-insensitively, as DuckDB resolves names), or -1. */
static int find_column(duckdb_prepared_statement prep, int n, const char *name)
{
    int found = -1;
    for (int k = 0; k < n && found < 0; k++) {
        char *have = column_name(prep, (idx_t)k);
        if (have && !strcasecmp(have, name))
            found = k;
        free(have);
    }
    return found;
}

/*
 * The columns the rows carry: the list given, in its order, each found
 * among the table's n columns (prepared as SELECT *); else all of them.
 * 0, or -1 with PostgreSQL's error queued.
 */
static int target_columns(struct copy_ctx *ctx, struct copy_target *t, duckdb_prepared_statement prep, int n)
{
    const struct copy_spec *c = t->spec;
    t->ncols = c->columns.n ? c->columns.n : n;
    t->cols = calloc((size_t)t->ncols, sizeof *t->cols);
    t->names = calloc((size_t)t->ncols, sizeof *t->names);
    if (!t->cols || !t->names) {
        pgconn_error(ctx->pc, "53200", "out of memory");
        return -1;
    }
    for (int i = 0; i < t->ncols; i++) {
        int k = c->columns.n ? find_column(prep, n, c->columns.v[i]) : i;
        for (int j = 0; j < i && c->columns.n; j++)
            if (!strcasecmp(c->columns.v[j], c->columns.v[i])) {
                pgconn_error(ctx->pc, "42701", "column \"%s\" specified more than once", c->columns.v[i]);
                return -1;
            }
        if (k < 0) {
            pgconn_error(ctx->pc, "42703", "column \"%s\" of relation \"%s\" does not exist", c->columns.v[i],
                         c->table);
            return -1;
        }
        if (column_of(prep, (idx_t)k, &t->cols[i]) != 0) {
            pgconn_error(ctx->pc, "53200", "out of memory");
            return -1;
        }
        t->names[i] = t->cols[i].name;
    }
    return 0;
}

/* The table of a COPY FROM and its columns, as DuckDB resolves them. 0, or -1 with an error queued. */
static int target_open(struct copy_ctx *ctx, const struct copy_spec *c, struct copy_target *t)
{
    memset(t, 0, sizeof *t);
    t->spec = c;
    struct dp_buf sql = DP_BUF_INIT;
    dp_buf_str(&sql, "SELECT * FROM ");
    copy_table_sql(c, &sql);
    duckdb_prepared_statement prep = NULL;
    int rc = -1;
    if (sql.failed)
        pgconn_error(ctx->pc, "53200", "out of memory");
    else if (duckdb_prepare(ctx->dcon, sql.data, &prep) != DuckDBSuccess)
        pgconn_error(ctx->pc, "42P01", "relation \"%s\" does not exist", c->table);
    else
        rc = target_columns(ctx, t, prep, (int)duckdb_prepared_statement_column_count(prep));
    duckdb_destroy_prepare(&prep);
    dp_buf_free(&sql);
    if (rc != 0)
        target_close(t);
    return rc;
}

/* ------------------------------------------------------------- COPY FROM */

/* Runs transaction control on the session's connection. 0, or -1 with DuckDB's error queued when report. */
static int run_sql(struct copy_ctx *ctx, const char *sql, bool report)
{
    duckdb_result res;
    registry_run_begin(ctx->run);
    duckdb_state st = duckdb_query(ctx->dcon, sql, &res);
    registry_run_end(ctx->run);
    if (st != DuckDBSuccess && report)
        copy_duckdb_error(ctx, duckdb_result_error_type(&res), duckdb_result_error(&res));
    duckdb_destroy_result(&res);
    return st == DuckDBSuccess ? 0 : -1;
}

/*
 * Ends the COPY's own transaction (none inside the session's): commits
 * when ok, else rolls back. 0, or -1 with an error queued (a failed
 * COMMIT has ended the transaction too).
 */
static int tx_end(struct copy_ctx *ctx, bool ok)
{
    if (ctx->in_tx)
        return ok ? 0 : -1;
    if (ok && run_sql(ctx, "COMMIT", true) == 0)
        return 0;
    run_sql(ctx, "ROLLBACK", false); /* DuckDB may have ended it already */
    return -1;
}

static int copy_from(struct copy_ctx *ctx, const struct copy_spec *c)
{
    struct copy_target t;
    if (target_open(ctx, c, &t) != 0)
        return -1;
    uint64_t rows = 0;
    int rc = ctx->in_tx ? 0 : run_sql(ctx, "BEGIN TRANSACTION", true);
    if (rc == 0) {
        registry_run_begin(ctx->run);
        rc = c->binary ? copy_binary_in(ctx, &t, &rows) : copy_stream_in(ctx, &t, &rows);
        registry_run_end(ctx->run);
        rc = tx_end(ctx, rc == 0);
    }
    target_close(&t);
    if (rc == 0) {
        char tag[48];
        snprintf(tag, sizeof tag, "COPY %" PRIu64, rows);
        pgwire_command_complete(&ctx->pc->out, tag);
        metrics_copy_rows(rows);
    }
    return rc;
}

/* --------------------------------------------------------------- COPY TO */

/* One row of a chunk as a CopyData line. */
static void copy_out_row(struct pgbuf *out, const struct copy_spec *c, duckdb_result *res,
                         duckdb_data_chunk chunk, idx_t row, int ncols, struct pgbuf *tmp)
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
    copy_response(&ctx->pc->out, 'H', ncols, 0);
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
