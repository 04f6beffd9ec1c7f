/*
 * http_ingest.c -- POST /v1/tables/{table}/rows: NDJSON or CSV rows into
 * the ingest batcher, answered after their commit.
 *
 * The body is parsed as it arrives, by incremental parsers that keep only
 * the line (NDJSON) or record (CSV) being read; each good row goes at once
 * into one duckpond_write, which copies it. The columns are the keys of the
 * first NDJSON object (a later object may leave keys out: those columns
 * get their defaults; an unknown key rejects that row) or the CSV header.
 * JSON values keep their types (numbers, booleans, null; strings as text
 * converted by the column's type; arrays and objects as their JSON text);
 * a CSV field is text, and an empty unquoted field is NULL.
 *
 * A request is one unit: the write is submitted once, and the answer says
 * how many rows were written and which lines were rejected and why (lines
 * that did not parse, and rows the batcher refused). With ?atomic=true a
 * bad line means nothing is submitted, and a row the batcher refuses fails
 * the whole write.
 *
 * The ack mode is the request's header "Duckpond-Ack: commit|journal" or
 * its ?ack= parameter, else the server's default: commit answers after
 * DuckDB's commit; journal once the rows are in the journal on disk, and
 * the answer carries the write's journal sequence number ("seq"), which a
 * later query may send back (Duckpond-After-Seq) to read what it wrote.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_ingest.h"
#include "metrics.h"

#define INGEST_MAX_COLUMNS 1024
#define INGEST_MAX_LISTED 1000 /* rejected lines listed in an answer */

struct reject {
    size_t line;
    char *why;
};

/* A CSV field within the record buffer. */
struct csv_field {
    size_t off, len;
    bool quoted;
};

enum csv_state { CSV_FIELD_START, CSV_UNQUOTED, CSV_QUOTED, CSV_QUOTE_IN_QUOTED };

struct http_ingest {
    struct http_env *env;
    char *table;
    bool csv, atomic;
    int fail_code; /* the whole request failed: status and message */
    char fail_msg[512];
    duckpond_write *w; /* made once the columns are known */
    char **columns;
    int ncols;
    size_t line_no;    /* lines begun so far (1-based numbering) */
    size_t *row_lines; /* the line of each row added, by row index */
    size_t nrows, cap_rows;
    struct reject *rejects; /* the first INGEST_MAX_LISTED */
    size_t nrejects, total_rejects;
    struct dp_buf line; /* NDJSON: the line being read; CSV: the record */
    /* CSV parser */
    enum csv_state cs;
    struct csv_field *fields;
    size_t nfields, cap_fields;
    size_t record_line;
    size_t field_start; /* where the current field's bytes begin */
    const char *record_error;
};

/* --------------------------------------------------------------- common */

static void ingest_fail(struct http_ingest *in, int code, const char *msg)
{
    if (in->fail_code)
        return;
    in->fail_code = code;
    snprintf(in->fail_msg, sizeof in->fail_msg, "%s", msg);
}

static void reject(struct http_ingest *in, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a rejected line (listed while the list has room). */
static void reject(struct http_ingest *in, size_t line, const char *fmt, ...)
{
    in->total_rejects++;
    if (in->nrejects >= INGEST_MAX_LISTED)
        return;
    if (!in->rejects) {
        in->rejects = calloc(INGEST_MAX_LISTED, sizeof *in->rejects);
        if (!in->rejects)
            return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *why = dp_vasprintf(fmt, ap); /* NULL: listed as "out of memory" */
    va_end(ap);
    in->rejects[in->nrejects].line = line;
    in->rejects[in->nrejects].why = why;
    in->nrejects++;
}

struct http_ingest *http_ingest_new(struct http_env *env, const char *table, bool csv, bool atomic)
{
    struct http_ingest *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->table = strdup(table);
    if (!in->table) {
        free(in);
        return NULL;
    }
    in->env = env;
    in->csv = csv;
    in->atomic = atomic;
    return in;
}

void http_ingest_free(struct http_ingest *in)
{
    if (!in)
        return;
    duckpond_write_free(in->w);
    for (int i = 0; i < in->ncols; i++)
        free(in->columns[i]);
    free(in->columns);
    for (size_t i = 0; i < in->nrejects; i++)
        free(in->rejects[i].why);
    free(in->rejects);
    free(in->row_lines);
    free(in->fields);
    dp_buf_free(&in->line);
    free(in->table);
    free(in);
}

/* Makes the write once the columns are known (names copied). */
static int start_write(struct http_ingest *in, const char *const *names, int n)
{
    if (n == 0 || n > INGEST_MAX_COLUMNS) {
        ingest_fail(in, DUCKPOND_MISUSE, n ? "too many columns" : "the first row names no column");
        return -1;
    }
    in->columns = calloc((size_t)n, sizeof *in->columns);
    if (!in->columns)
        return ingest_fail(in, DUCKPOND_NOMEM, "out of memory"), -1;
    for (int i = 0; i < n; i++) {
        in->columns[i] = strdup(names[i]);
        if (!in->columns[i])
            return ingest_fail(in, DUCKPOND_NOMEM, "out of memory"), -1;
        in->ncols = i + 1;
    }
    int rc = duckpond_write_new(in->env->batcher, in->table, (const char *const *)in->columns, n,
                                in->atomic ? DUCKPOND_WRITE_ATOMIC : 0, &in->w);
    if (rc != DUCKPOND_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "cannot start a write into %s: %s", in->table, duckpond_strerror(rc));
        ingest_fail(in, rc, msg);
        return -1;
    }
    return 0;
}

/* Adds a row of values from the given line. */
static void add_row(struct http_ingest *in, const duckpond_value *vals, size_t line)
{
    if (dp_grow(&in->row_lines, &in->cap_rows, in->nrows + 1, sizeof *in->row_lines) != 0)
        return ingest_fail(in, DUCKPOND_NOMEM, "out of memory");
    int rc = duckpond_write_add_row(in->w, vals);
    if (rc != DUCKPOND_OK)
        return ingest_fail(in, rc, "cannot add a row to the write");
    in->row_lines[in->nrows++] = line;
}

/* --------------------------------------------------------------- NDJSON */

/* A JSON value as a batcher value; arrays and objects as JSON text in *dump. */
static void json_value(json_t *v, duckpond_value *out, char **dump)
{
    memset(out, 0, sizeof *out);
    switch (json_typeof(v)) {
    case JSON_NULL: out->kind = DUCKPOND_VALUE_NULL; break;
    case JSON_TRUE:
    case JSON_FALSE:
        out->kind = DUCKPOND_VALUE_BOOL;
        out->u.boolean = json_is_true(v);
        break;
    case JSON_INTEGER:
        out->kind = DUCKPOND_VALUE_INT64;
        out->u.i64 = json_integer_value(v);
        break;
    case JSON_REAL:
        out->kind = DUCKPOND_VALUE_DOUBLE;
        out->u.f64 = json_real_value(v);
        break;
    case JSON_STRING:
        out->kind = DUCKPOND_VALUE_TEXT;
        out->u.text.ptr = json_string_value(v);
        out->u.text.len = json_string_length(v);
        break;
    default:
        *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        out->kind = *dump ? DUCKPOND_VALUE_TEXT : DUCKPOND_VALUE_NULL;
        out->u.text.ptr = *dump;
        out->u.text.len = *dump ? strlen(*dump) : 0;
        break;
    }
}

/* The columns from the first object's keys. */
static int ndjson_columns(struct http_ingest *in, json_t *obj)
{
    size_t n = json_object_size(obj);
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names)
        return ingest_fail(in, DUCKPOND_NOMEM, "out of memory"), -1;
    const char *key;
    json_t *v;
    int i = 0;
    json_object_foreach(obj, key, v)
        names[i++] = key;
    int rc = start_write(in, names, i);
    free(names);
    return rc;
}

/* One object's row; keys it leaves out take their column's default. */
static void ndjson_row(struct http_ingest *in, json_t *obj, size_t line)
{
    duckpond_value vals[INGEST_MAX_COLUMNS];
    char *dumps[INGEST_MAX_COLUMNS];
    size_t found = 0;
    for (int i = 0; i < in->ncols; i++) {
        dumps[i] = NULL;
        json_t *v = json_object_get(obj, in->columns[i]);
        if (!v) {
            memset(&vals[i], 0, sizeof vals[i]);
            vals[i].kind = DUCKPOND_VALUE_DEFAULT;
            continue;
        }
        found++;
        json_value(v, &vals[i], &dumps[i]);
    }
    if (found < json_object_size(obj)) {
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) {
            int i = 0;
            while (i < in->ncols && strcmp(in->columns[i], key) != 0)
                i++;
            if (i == in->ncols) {
                reject(in, line, "unknown column \"%.200s\" (the columns are the first row's keys)", key);
                break;
            }
        }
    } else {
        add_row(in, vals, line);
    }
    for (int i = 0; i < in->ncols; i++)
        free(dumps[i]);
}

/* One complete NDJSON line (no newline). Blank lines are skipped. */
static void ndjson_line(struct http_ingest *in, const char *p, size_t n, size_t line)
{
    if (n && p[n - 1] == '\r')
        n--;
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i == n)
        return;
    json_error_t err;
    json_t *obj = json_loadb(p, n, JSON_REJECT_DUPLICATES, &err);
    if (!obj) {
        reject(in, line, "invalid JSON at column %d: %s", err.column, err.text);
        return;
    }
    if (!json_is_object(obj))
        reject(in, line, "a row must be a JSON object");
    else if (!in->w && ndjson_columns(in, obj) != 0)
        ; /* the request has failed */
    else
        ndjson_row(in, obj, line);
    json_decref(obj);
}

static void ndjson_feed(struct http_ingest *in, const char *p, size_t n)
{
    while (n && !in->fail_code) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (!nl) {
            dp_buf_add(&in->line, p, take);
            return;
        }
        in->line_no++;
        if (in->line.len) {
            dp_buf_add(&in->line, p, take);
            if (in->line.failed)
                return ingest_fail(in, DUCKPOND_NOMEM, "out of memory");
            ndjson_line(in, in->line.data, in->line.len, in->line_no);
            dp_buf_truncate(&in->line, 0);
        } else {
            ndjson_line(in, p, take, in->line_no);
        }
        p += take + 1;
        n -= take + 1;
    }
}

/* ------------------------------------------------------------------ CSV */

static void csv_end_field(struct http_ingest *in, bool quoted, size_t start)
{
    if (dp_grow(&in->fields, &in->cap_fields, in->nfields + 1, sizeof *in->fields) != 0)
        return ingest_fail(in, DUCKPOND_NOMEM, "out of memory");
    in->fields[in->nfields++] = (struct csv_field){start, in->line.len - start, quoted};
    dp_buf_add(&in->line, "", 1); /* a NUL ends each field: csv_header's names */
}

/* The header record: the column names. */
static void csv_header(struct http_ingest *in)
{
    if (in->record_error) {
        char msg[256];
        snprintf(msg, sizeof msg, "line %zu: the CSV header is malformed: %s", in->record_line,
                 in->record_error);
        return ingest_fail(in, DUCKPOND_MISUSE, msg);
    }
    const char *names[INGEST_MAX_COLUMNS];
    if (in->nfields > INGEST_MAX_COLUMNS)
        return ingest_fail(in, DUCKPOND_MISUSE, "too many columns");
    for (size_t i = 0; i < in->nfields; i++) {
        names[i] = in->line.data + in->fields[i].off;
        if (!*names[i])
            return ingest_fail(in, DUCKPOND_MISUSE, "the CSV header has an empty column name");
    }
    start_write(in, names, (int)in->nfields);
}

/* A data record: one row of text values. */
static void csv_row(struct http_ingest *in)
{
    if (in->record_error)
        return reject(in, in->record_line, "%s", in->record_error);
    if (in->nfields != (size_t)in->ncols)
        return reject(in, in->record_line, "expected %d fields, found %zu", in->ncols, in->nfields);
    duckpond_value vals[INGEST_MAX_COLUMNS];
    for (size_t i = 0; i < in->nfields; i++) {
        const struct csv_field *f = &in->fields[i];
        memset(&vals[i], 0, sizeof vals[i]);
        vals[i].kind = f->len == 0 && !f->quoted ? DUCKPOND_VALUE_NULL : DUCKPOND_VALUE_TEXT;
        vals[i].u.text.ptr = in->line.data ? in->line.data + f->off : "";
        vals[i].u.text.len = f->len;
    }
    add_row(in, vals, in->record_line);
}

/* A record has ended (at a newline outside quotes, or the body's end). */
static void csv_record(struct http_ingest *in)
{
    bool blank = in->nfields == 1 && in->fields[0].len == 0 && !in->fields[0].quoted;
    if (in->line.failed)
        ingest_fail(in, DUCKPOND_NOMEM, "out of memory");
    else if (!in->fail_code && !blank) {
        if (!in->w)
            csv_header(in);
        else
            csv_row(in);
    }
    dp_buf_truncate(&in->line, 0);
    in->nfields = 0;
    in->record_error = NULL;
    in->cs = CSV_FIELD_START;
}

/* Feeds one byte to the CSV state machine (RFC 4180, CRLF or LF). */
static void csv_byte(struct http_ingest *in, char c)
{
    if (in->cs == CSV_FIELD_START && in->nfields == 0 && in->line.len == 0)
        in->record_line = in->line_no;
    switch (in->cs) {
    case CSV_FIELD_START:
        in->field_start = in->line.len;
        if (c == '"') {
            in->cs = CSV_QUOTED;
            return;
        }
        in->cs = CSV_UNQUOTED;
        /* fall through */
    case CSV_UNQUOTED:
        if (c == ',' || c == '\n') {
            size_t len = in->line.len - in->field_start;
            if (c == '\n' && len && in->line.data[in->line.len - 1] == '\r')
                dp_buf_truncate(&in->line, in->line.len - 1); /* CRLF */
            csv_end_field(in, false, in->field_start);
            in->cs = CSV_FIELD_START;
            if (c == '\n')
                csv_record(in);
            return;
        }
        if (c == '"' && !in->record_error)
            in->record_error = "a quote inside an unquoted field";
        dp_buf_add(&in->line, &c, 1);
        return;
    case CSV_QUOTED:
        if (c == '"')
            in->cs = CSV_QUOTE_IN_QUOTED;
        else
            dp_buf_add(&in->line, &c, 1);
        return;
    case CSV_QUOTE_IN_QUOTED:
        if (c == '"') {
            dp_buf_add(&in->line, &c, 1);
            in->cs = CSV_QUOTED;
        } else if (c == ',' || c == '\n') {
            csv_end_field(in, true, in->field_start);
            in->cs = CSV_FIELD_START;
            if (c == '\n')
                csv_record(in);
        } else if (c != '\r') {
            if (!in->record_error)
                in->record_error = "text after a closing quote";
            dp_buf_add(&in->line, &c, 1);
            in->cs = CSV_UNQUOTED;
        }
        return;
    }
}

static void csv_feed(struct http_ingest *in, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !in->fail_code; i++) {
        if (in->line_no == 0)
            in->line_no = 1;
        csv_byte(in, p[i]);
        if (p[i] == '\n')
            in->line_no++;
    }
}

/* ---------------------------------------------------------------- entry */

void http_ingest_feed(struct http_ingest *in, const char *p, size_t n)
{
    if (in->fail_code)
        return;
    if (in->csv)
        csv_feed(in, p, n);
    else
        ndjson_feed(in, p, n);
}

/* The last line or record, when the body does not end with a newline. */
static void ingest_flush(struct http_ingest *in)
{
    if (in->fail_code)
        return;
    if (!in->csv) {
        if (in->line.len)
            ndjson_line(in, in->line.data, in->line.len, ++in->line_no);
        return;
    }
    if (in->cs == CSV_QUOTED) {
        reject(in, in->record_line, "a quoted field is not closed before the end of the body");
        return;
    }
    if (in->cs == CSV_FIELD_START && in->nfields == 0 && in->line.len == 0)
        return;
    csv_byte(in, '\n');
}

/* Appends the "rejected" list: [{"line": n, "error": "..."}]. */
static void answer_rejects(struct http_ingest *in, struct dp_buf *b)
{
    dp_buf_printf(b, ",\"rejected_count\":%zu,\"rejected\":[", in->total_rejects);
    for (size_t i = 0; i < in->nrejects; i++) {
        const char *why = in->rejects[i].why ? in->rejects[i].why : "out of memory";
        dp_buf_printf(b, "%s{\"line\":%zu,\"error\":", i ? "," : "", in->rejects[i].line);
        http_json_string(b, why, strlen(why));
        dp_buf_str(b, "}");
    }
    dp_buf_str(b, "]");
}

/* Adds the batcher's refused rows to the rejects, by their lines. */
static void batcher_rejects(struct http_ingest *in, size_t failed)
{
    for (size_t i = 0; i < failed; i++) {
        size_t row = 0;
        const char *msg = NULL;
        duckpond_write_failure(in->w, i, &row, &msg);
        reject(in, row < in->nrows ? in->row_lines[row] : 0, "%s", msg ? msg : "");
    }
}

/* An answer that wrote nothing: {"written": 0, rejected..., "error"}. */
static enum MHD_Result answer_error(struct http_ingest *in, struct MHD_Connection *c, unsigned status,
                                    int code, const char *sqlstate, const char *msg)
{
    if (!sqlstate)
        sqlstate = duckpond_sqlstate(code, msg);
    metrics_error(sqlstate);
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_str(&b, "{\"written\":0");
    answer_rejects(in, &b);
    dp_buf_byte(&b, ',');
    http_error_member(&b, sqlstate, msg);
    dp_buf_byte(&b, '}');
    return http_send_json(c, status ? status : http_status_for(code), &b);
}

/* The answer to a write that failed as a whole: disk full is 507. */
static enum MHD_Result answer_write_failed(struct http_ingest *in, struct MHD_Connection *c, int rc,
                                           bool row_level)
{
    const char *msg = duckpond_write_errmsg(in->w);
    if (!msg || !*msg)
        msg = duckpond_strerror(rc);
    const char *sqlstate = duckpond_sqlstate(rc, msg);
    if (rc == DUCKPOND_IO && (strstr(msg, "No space left") || strstr(msg, "disk full")))
        return answer_error(in, c, MHD_HTTP_INSUFFICIENT_STORAGE, rc, "53100", msg);
    return answer_error(in, c, row_level ? 400 : 0, rc, sqlstate, msg);
}

enum MHD_Result http_ingest_finish(struct http_ingest *in, struct MHD_Connection *c)
{
    duckpond_ack ack;
    const char *bad;
    if (http_request_ack(c, in->env->opt.default_ack, &ack, &bad) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "invalid ack mode \"%.60s\" (expected commit or journal)", bad);
        return answer_error(in, c, 400, DUCKPOND_MISUSE, "22023", msg);
    }
    ingest_flush(in);
    if (in->fail_code)
        return answer_error(in, c, 0, in->fail_code, NULL, in->fail_msg);
    if (in->atomic && in->total_rejects) {
        char msg[128];
        snprintf(msg, sizeof msg, "%zu line(s) are bad, so nothing was written (atomic)", in->total_rejects);
        return answer_error(in, c, 400, DUCKPOND_CONVERSION, "22P02", msg);
    }
    size_t committed = 0, failed = 0;
    uint64_t seq = 0;
    if (in->w && in->nrows) {
        metrics_statement("INSERT");
        int rc = duckpond_write_submit(in->w, ack);
        duckpond_write_counts(in->w, &committed, &failed);
        bool row_level = rc == DUCKPOND_CONVERSION || rc == DUCKPOND_CONSTRAINT;
        if (rc != DUCKPOND_OK && (!row_level || in->atomic))
            return answer_write_failed(in, c, rc, row_level);
        seq = duckpond_write_seq(in->w);
        batcher_rejects(in, failed);
    }
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_printf(&b, "{\"written\":%zu", committed);
    if (seq)
        dp_buf_printf(&b, ",\"seq\":%" PRIu64, seq);
    answer_rejects(in, &b);
    dp_buf_str(&b, "}");
    return http_send_json(c, MHD_HTTP_OK, &b);
}
