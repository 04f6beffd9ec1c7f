/*
 * ilp_ingest.c -- line protocol lines into tables, through the batcher.
 *
 * A measurement is a table and each tag or field a column, named as the
 * line names them (matched to existing columns without regard to case, as
 * DuckDB matches names); tables and columns a line needs are made by
 * ilp_schema.c.
 *
 * A value goes into an existing column of another type when it converts
 * without loss of meaning: an integer into any integer, floating or
 * decimal column (range checked by the batcher), a float into a floating
 * or decimal column, a boolean into BOOLEAN, a string into a column that
 * is neither a number nor a boolean, as text the batcher casts (a UUID, a
 * DATE...), a tag into any column as such text. Anything else conflicts,
 * and fails its line: an integer into VARCHAR, a float into BIGINT, a
 * boolean into a number, a string into DOUBLE.
 *
 * A sink (one HTTP request, one TCP connection) keeps one batch per
 * table: a duckpond_write whose columns are those its lines used so far,
 * the timestamp first; a line that leaves one out writes NULL there. A
 * line naming a column the batch lacks seals the batch's write and starts
 * the next one with that column added. Sealed writes go to the batcher in
 * order, a few in flight at a time (commit acks: submitted as queued,
 * waited on later) so that parsing goes on while DuckDB commits, and
 * each waits for queue room: the batcher's cap bounds the memory, and a
 * client faster than DuckDB is slowed down.
 */
#include "ilp_ingest.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "duckvec.h"
#include "metrics.h"
#include "utf8.h"

#define ILP_MAX_BATCHES 16
#define ILP_INFLIGHT 4 /* writes submitted and not yet acknowledged, per sink */
/* A write is sealed past this many bytes too (values and text, about as the batcher counts
 * them), so that wide or long rows never make one larger than the batcher's queue. */

/* ------------------------------------------------------------- counters */

static _Atomic uint64_t lines_total, rows_total, errors_total[ILP_ERR_NREASONS];
static const char *const reason_names[ILP_ERR_NREASONS] = {
    "syntax", "line_too_long", "type_conflict", "name", "table", "write", "overloaded", "auth"};

void ilp_count_lines(uint64_t n)
{
    atomic_fetch_add_explicit(&lines_total, n, memory_order_relaxed);
}

void ilp_count_error(enum ilp_reason r)
{
    if ((unsigned)r < ILP_ERR_NREASONS)
        atomic_fetch_add_explicit(&errors_total[r], 1, memory_order_relaxed);
}

void ilp_metrics_prometheus(struct dp_buf *b)
{
    metrics_emit_counter(b, "duckpond_ilp_lines_total",
                         "Line protocol lines read (not comments or blank lines).",
                         atomic_load_explicit(&lines_total, memory_order_relaxed));
    metrics_emit_counter(b, "duckpond_ilp_rows_total",
                         "Line protocol rows acknowledged (committed or journaled).",
                         atomic_load_explicit(&rows_total, memory_order_relaxed));
    metrics_emit_head(b, "duckpond_ilp_errors_total", "counter", "Line protocol failures, by reason.");
    for (int r = 0; r < ILP_ERR_NREASONS; r++)
        dp_buf_printf(b, "duckpond_ilp_errors_total{reason=\"%s\"} %llu\n", reason_names[r],
                      (unsigned long long)atomic_load_explicit(&errors_total[r], memory_order_relaxed));
}

/* ----------------------------------------------------------- the sink */

/* A write sealed (full, or its columns changed) and not yet acknowledged. */
struct pending {
    duckpond_write *w;
    size_t *lines; /* the line of each row */
    size_t nrows;
    int submit_rc; /* a submit that failed: the write was never taken */
};

/* One table's rows being gathered. */
struct batch {
    char table[ILP_NAME_MAX + 1];
    size_t table_len;
    int ncols; /* the write's columns; [0] is the timestamp */
    char **cols;
    size_t *col_len; /* strlen of each of cols: a line's keys are matched by length first */
    duckdb_type *types;
    int cap_cols;
    uint64_t gen;      /* schema generation the types were read in */
    duckpond_write *w; /* NULL until the next row */
    size_t *lines;     /* the line of each row of w */
    size_t nrows, cap_lines;
    size_t bytes;        /* about what w holds: 16 bytes a value, and its text */
    duckpond_value *row; /* ncols values, the row being built */
    uint32_t *seen;      /* per column: the stamp of the last line that set it */
    uint32_t stamp;
    int hint[ILP_MAX_COLUMNS]; /* the column of each key of the last line, tried first */
};

struct ilp_sink {
    struct ilp_env *e;
    enum ilp_precision prec;
    duckpond_ack ack;
    bool hold;
    struct batch *batches[ILP_MAX_BATCHES];
    int nbatches, last;
    struct pending *pend; /* [done, nsub): submitted, not finished; [nsub, npend): held */
    size_t npend, cap_pend, done, nsub;
    uint64_t rows_ok, rows_failed;
    struct dp_buf text; /* this line's values written out as text */
    char why[600];
};

struct ilp_sink *ilp_sink_new(struct ilp_env *e, enum ilp_precision p, duckpond_ack ack, bool hold)
{
    struct ilp_sink *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->e = e;
    s->prec = p;
    s->ack = ack;
    s->hold = hold;
    return s;
}

static void batch_free(struct batch *bt)
{
    duckpond_write_free(bt->w);
    for (int i = 0; i < bt->ncols; i++)
        free(bt->cols[i]);
    free(bt->cols);
    free(bt->col_len);
    free(bt->types);
    free(bt->lines);
    free(bt->row);
    free(bt->seen);
    free(bt);
}

static int sink_fail(struct ilp_sink *s, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the sink's message; returns reason. */
static int sink_fail(struct ilp_sink *s, int reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    return reason;
}

/* Adds a column (name as stored, type) to the batch's list; -1 when memory runs out. */
static int batch_add_col(struct batch *bt, const char *name, duckdb_type type)
{
    size_t cap = (size_t)bt->cap_cols, cap2 = cap, cap3 = cap;
    if (dp_grow(&bt->cols, &cap, (size_t)bt->ncols + 1, sizeof *bt->cols) != 0 ||
        dp_grow(&bt->types, &cap2, (size_t)bt->ncols + 1, sizeof *bt->types) != 0 ||
        dp_grow(&bt->row, &cap3, (size_t)bt->ncols + 1, sizeof *bt->row) != 0)
        return -1;
    size_t c4 = (size_t)bt->cap_cols, c5 = c4;
    if (dp_grow(&bt->seen, &c4, (size_t)bt->ncols + 1, sizeof *bt->seen) != 0 ||
        dp_grow(&bt->col_len, &c5, (size_t)bt->ncols + 1, sizeof *bt->col_len) != 0)
        return -1;
    bt->cap_cols = (int)cap;
    bt->cols[bt->ncols] = strdup(name);
    if (!bt->cols[bt->ncols])
        return -1;
    bt->col_len[bt->ncols] = strlen(name);
    bt->types[bt->ncols] = type;
    bt->seen[bt->ncols] = 0;
    bt->ncols++;
    return 0;
}

/* Seals the batch's write into the pending list (nothing when it has no row). */
static int batch_seal(struct ilp_sink *s, struct batch *bt)
{
    if (!bt->w)
        return 0;
    if (!bt->nrows) {
        duckpond_write_free(bt->w);
        bt->w = NULL;
        return 0;
    }
    if (dp_grow(&s->pend, &s->cap_pend, s->npend + 1, sizeof *s->pend) != 0)
        return -1;
    s->pend[s->npend++] = (struct pending){bt->w, bt->lines, bt->nrows, DUCKPOND_OK};
    bt->w = NULL;
    bt->lines = NULL;
    bt->nrows = bt->cap_lines = 0;
    bt->bytes = 0;
    return 0;
}

/* A new table in this sink: its table made if needed, the timestamp column found. */
static int batch_new(struct ilp_sink *s, const char *table, const struct ilp_line *ln, struct batch **out)
{
    if (ilp_schema_table(s->e, table, ln, s->why, sizeof s->why) != 0)
        return ILP_ERR_TABLE;
    char name[ILP_NAME_MAX + 1];
    duckdb_type type;
    if (ilp_schema_column(s->e, table, ILP_TS_COLUMN, ILP_COL_TS, name, &type, s->why, sizeof s->why) != 0)
        return ILP_ERR_TABLE;
    struct batch *bt = calloc(1, sizeof *bt);
    if (!bt || batch_add_col(bt, name, type) != 0) {
        if (bt)
            batch_free(bt);
        return sink_fail(s, ILP_ERR_TABLE, "out of memory");
    }
    snprintf(bt->table, sizeof bt->table, "%s", table);
    bt->table_len = strlen(bt->table);
    bt->gen = duckpond_batcher_schema_gen(ilp_env_batcher(s->e));
    *out = bt;
    return 0;
}

/* Checks a table or column name: non-empty, UTF-8, no control characters, not too long. */
static bool name_ok(struct ilp_str n)
{
    if (n.n == 0 || n.n > ILP_NAME_MAX || !dp_utf8_valid(n.p, n.n))
        return false;
    for (size_t i = 0; i < n.n; i++)
        if ((unsigned char)n.p[i] < 0x20)
            return false;
    return true;
}

/* The batch for the line's measurement (made on first sight). 0 or a reason. */
static int sink_batch(struct ilp_sink *s, const struct ilp_line *ln, struct batch **out)
{
    struct ilp_str m = ln->measurement;
    if (s->nbatches && s->batches[s->last]->table_len == m.n &&
        !memcmp(s->batches[s->last]->table, m.p, m.n)) {
        *out = s->batches[s->last];
        return 0;
    }
    for (int i = 0; i < s->nbatches; i++) {
        if (s->batches[i]->table_len == m.n && !memcmp(s->batches[i]->table, m.p, m.n)) {
            s->last = i;
            *out = s->batches[i];
            return 0;
        }
    }
    if (!name_ok(m) || memchr(m.p, '.', m.n) || memchr(m.p, '"', m.n))
        return sink_fail(s, ILP_ERR_NAME,
                         "\"%.*s\" cannot be a table name (no '.', '\"' or control characters)",
                         (int)(m.n > 100 ? 100 : m.n), m.p);
    if (m.n >= 9 && !strncasecmp(m.p, "duckpond_", 9))
        return sink_fail(s, ILP_ERR_NAME, "table names starting duckpond_ are reserved");
    char table[ILP_NAME_MAX + 1];
    memcpy(table, m.p, m.n);
    table[m.n] = '\0';
    if (s->nbatches == ILP_MAX_BATCHES) { /* many tables: start over */
        for (int i = 0; i < s->nbatches; i++) {
            if (batch_seal(s, s->batches[i]) != 0)
                return sink_fail(s, ILP_ERR_TABLE, "out of memory");
            batch_free(s->batches[i]);
        }
        s->nbatches = 0;
    }
    struct batch *bt = NULL;
    int r = batch_new(s, table, ln, &bt);
    if (r)
        return r;
    s->last = s->nbatches;
    s->batches[s->nbatches++] = bt;
    *out = bt;
    return 0;
}

/* Reads the batch's column types again when the schema moved on (before a new write). */
static int batch_refresh(struct ilp_sink *s, struct batch *bt)
{
    uint64_t gen = duckpond_batcher_schema_gen(ilp_env_batcher(s->e));
    if (gen == bt->gen)
        return 0;
    for (int i = 0; i < bt->ncols; i++) {
        char name[ILP_NAME_MAX + 1];
        if (ilp_schema_column(s->e, bt->table, bt->cols[i], i ? ILP_STRING : ILP_COL_TS, name, &bt->types[i],
                              s->why, sizeof s->why) != 0)
            return ILP_ERR_TABLE;
    }
    bt->gen = gen;
    return 0;
}

/* The column of key in the batch (adding it, and sealing the write, when new); -1 with a reason in *r. */
static int batch_col(struct ilp_sink *s, struct batch *bt, struct ilp_str key, int kind, int hint, int *r)
{
    if (hint > 0 && hint < bt->ncols && bt->col_len[hint] == key.n &&
        !strncasecmp(bt->cols[hint], key.p, key.n))
        return hint;
    for (int i = 1; i < bt->ncols; i++)
        if (bt->col_len[i] == key.n && !strncasecmp(bt->cols[i], key.p, key.n))
            return i;
    if (!name_ok(key) || memchr(key.p, '"', key.n) || memchr(key.p, '.', key.n)) {
        *r = sink_fail(s, ILP_ERR_NAME,
                       "\"%.*s\" cannot be a column name (no '.', '\"' or control characters)",
                       (int)(key.n > 100 ? 100 : key.n), key.p);
        return -1;
    }
    if ((key.n == strlen(ILP_TS_COLUMN) && !strncasecmp(key.p, ILP_TS_COLUMN, key.n)) ||
        (bt->col_len[0] == key.n && !strncasecmp(bt->cols[0], key.p, key.n))) {
        *r = sink_fail(s, ILP_ERR_NAME, "\"%.*s\" is the designated timestamp column, not a %s",
                       (int)(key.n > 100 ? 100 : key.n), key.p, kind == ILP_COL_TAG ? "tag" : "field");
        return -1;
    }
    char want[ILP_NAME_MAX + 1], name[ILP_NAME_MAX + 1];
    memcpy(want, key.p, key.n);
    want[key.n] = '\0';
    duckdb_type type;
    if (ilp_schema_column(s->e, bt->table, want, kind, name, &type, s->why, sizeof s->why) != 0) {
        *r = ILP_ERR_TABLE;
        return -1;
    }
    if (batch_seal(s, bt) != 0 || batch_add_col(bt, name, type) != 0) {
        *r = sink_fail(s, ILP_ERR_TABLE, "out of memory");
        return -1;
    }
    return bt->ncols - 1;
}

static bool is_float_type(duckdb_type t)
{
    return t == DUCKDB_TYPE_DOUBLE || t == DUCKDB_TYPE_FLOAT || t == DUCKDB_TYPE_DECIMAL;
}

/* A column type as the errors name it. */
static const char *type_name(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_VARCHAR: return "VARCHAR";
    case DUCKDB_TYPE_BOOLEAN: return "BOOLEAN";
    case DUCKDB_TYPE_DOUBLE: return "DOUBLE";
    case DUCKDB_TYPE_FLOAT: return "FLOAT";
    case DUCKDB_TYPE_DECIMAL: return "DECIMAL";
    case DUCKDB_TYPE_TIMESTAMP: return "TIMESTAMP";
    case DUCKDB_TYPE_TIMESTAMP_TZ: return "TIMESTAMPTZ";
    case DUCKDB_TYPE_DATE: return "DATE";
    default: return dp_type_is_integer(t) ? "an integer type" : "of another type";
    }
}

/* Text kept for this line (s->text was reserved for it): a value pointing at it. */
static void text_value(struct ilp_sink *s, duckpond_value *v, const char *p, size_t n)
{
    char *d = s->text.data + s->text.len;
    memcpy(d, p, n);
    s->text.len += n;
    v->kind = DUCKPOND_VALUE_TEXT;
    v->u.text.ptr = d;
    v->u.text.len = n;
}

/* A field's value for a column of type t; 0, or ILP_ERR_TYPE with why. */
static int field_value(struct ilp_sink *s, const struct ilp_field *f, duckdb_type t, duckpond_value *v)
{
    switch (f->type) {
    case ILP_INT:
        if (!dp_type_is_integer(t) && !is_float_type(t))
            break;
        v->kind = DUCKPOND_VALUE_INT64;
        v->u.i64 = f->v.i;
        return 0;
    case ILP_UINT:
        if (!dp_type_is_integer(t) && !is_float_type(t))
            break;
        if (f->v.u <= INT64_MAX) {
            v->kind = DUCKPOND_VALUE_INT64;
            v->u.i64 = (int64_t)f->v.u;
        } else {
            char digits[24];
            int k = snprintf(digits, sizeof digits, "%llu", (unsigned long long)f->v.u);
            text_value(s, v, digits, (size_t)k);
        }
        return 0;
    case ILP_FLOAT:
        if (!is_float_type(t))
            break;
        v->kind = DUCKPOND_VALUE_DOUBLE;
        v->u.f64 = f->v.f;
        return 0;
    case ILP_BOOL:
        if (t != DUCKDB_TYPE_BOOLEAN)
            break;
        v->kind = DUCKPOND_VALUE_BOOL;
        v->u.boolean = f->v.b;
        return 0;
    case ILP_STRING:
        /* text for VARCHAR and the types spelled as text (UUID, DATE, JSON...), never a number or boolean */
        if (dp_type_is_integer(t) || is_float_type(t) || t == DUCKDB_TYPE_BOOLEAN)
            break;
        text_value(s, v, f->v.s.p, f->v.s.n);
        return 0;
    }
    return ILP_ERR_TYPE;
}

/* The line's timestamp (or now) into the batch's timestamp column. 0 or a reason. */
static int ts_value(struct ilp_sink *s, const struct ilp_line *ln, duckdb_type t, int64_t now_ns,
                    duckpond_value *v)
{
    int64_t ns = now_ns;
    if (ln->has_ts && ilp_ts_to_ns(ln->ts, s->prec, &ns) != 0)
        return sink_fail(s, ILP_ERR_SYNTAX, "the timestamp %lld is out of range for precision %s",
                         (long long)ln->ts, (const char *[]){"ns", "us", "ms", "s"}[s->prec]);
    int64_t us = ns / 1000 - (ns % 1000 < 0);
    if (t == DUCKDB_TYPE_TIMESTAMP || t == DUCKDB_TYPE_TIMESTAMP_TZ) {
        v->kind = DUCKPOND_VALUE_TIMESTAMP;
        v->u.timestamp_us = us;
    } else if (t == DUCKDB_TYPE_TIMESTAMP_NS) {
        /* no native path for nanoseconds: text DuckDB casts exactly */
        time_t secs = (time_t)(us / 1000000 - (us % 1000000 < 0));
        int64_t frac = ns - (int64_t)secs * 1000000000;
        struct tm tm;
        gmtime_r(&secs, &tm);
        char buf[48];
        int k = snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%09lld", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
        text_value(s, v, buf, (size_t)k);
    } else if (dp_type_is_integer(t)) {
        v->kind = DUCKPOND_VALUE_INT64;
        v->u.i64 = ns;
    } else {
        return sink_fail(s, ILP_ERR_TYPE,
                         "column \"" ILP_TS_COLUMN "\" of table \"%.100s\" cannot take a timestamp",
                         s->batches[s->last]->table);
    }
    return 0;
}

/* Starts the batch's next write (its columns as they are now). */
static int batch_start_write(struct ilp_sink *s, struct batch *bt)
{
    int r = batch_refresh(s, bt);
    if (r)
        return r;
    int rc = duckpond_write_new(ilp_env_batcher(s->e), bt->table, (const char *const *)bt->cols, bt->ncols,
                                s->hold ? DUCKPOND_WRITE_ATOMIC : 0, &bt->w);
    if (rc != DUCKPOND_OK)
        return sink_fail(s, ILP_ERR_TABLE, "cannot start a write into \"%s\": %s", bt->table,
                         duckpond_strerror(rc));
    return 0;
}

/* Places one tag or field of the line: its column, a check that no other key took it. */
static int place(struct ilp_sink *s, struct batch *bt, size_t k, struct ilp_str key, int kind, int *col)
{
    int r = 0;
    *col = batch_col(s, bt, key, kind, bt->hint[k], &r);
    if (*col < 0)
        return r;
    bt->hint[k] = *col;
    return 0;
}

/* Fills the batch's row from the line; the columns it leaves out are NULL. */
static int fill_row(struct ilp_sink *s, struct batch *bt, const struct ilp_line *ln, int64_t now_ns)
{
    size_t nkeys = ln->ntags + ln->nfields;
    int cols[ILP_MAX_COLUMNS];
    for (size_t k = 0; k < nkeys; k++) {
        bool tag = k < ln->ntags;
        struct ilp_str key = tag ? ln->tags[k].key : ln->fields[k - ln->ntags].key;
        int r = place(s, bt, k, key, tag ? ILP_COL_TAG : (int)ln->fields[k - ln->ntags].type, &cols[k]);
        if (r)
            return r;
    }
    if (!bt->w && batch_start_write(s, bt) != 0)
        return ILP_ERR_TABLE;
    if (++bt->stamp == 0)
        memset(bt->seen, 0, (size_t)bt->ncols * sizeof *bt->seen), bt->stamp = 1;
    for (int i = 0; i < bt->ncols; i++)
        bt->row[i].kind = DUCKPOND_VALUE_NULL;
    int r = ts_value(s, ln, bt->types[0], now_ns, &bt->row[0]);
    for (size_t k = 0; !r && k < nkeys; k++) {
        int c = cols[k];
        bool tag = k < ln->ntags;
        struct ilp_str key = tag ? ln->tags[k].key : ln->fields[k - ln->ntags].key;
        if (bt->seen[c] == bt->stamp)
            return sink_fail(s, ILP_ERR_NAME,
                             "\"%.*s\" is given twice (names are matched without regard to case)",
                             (int)(key.n > 100 ? 100 : key.n), key.p);
        bt->seen[c] = bt->stamp;
        if (tag) {
            text_value(s, &bt->row[c], ln->tags[k].value.p, ln->tags[k].value.n);
            continue;
        }
        const struct ilp_field *f = &ln->fields[k - ln->ntags];
        r = field_value(s, f, bt->types[c], &bt->row[c]);
        if (r)
            sink_fail(s, ILP_ERR_TYPE, "field \"%.*s\" is a%s %s, but column \"%s\" of \"%s\" is %s",
                      (int)(key.n > 100 ? 100 : key.n), key.p,
                      f->type == ILP_INT || f->type == ILP_UINT ? "n" : "", ilp_type_name(f->type),
                      bt->cols[c], bt->table, type_name(bt->types[c]));
    }
    return r;
}

/* Counts a write's rows; records its first failure as the sink's message: "line N: ...". */
static void note_write(struct ilp_sink *s, struct pending *p, int rc)
{
    size_t committed = 0, failed = 0, row = 0;
    const char *msg = NULL;
    duckpond_write_counts(p->w, &committed, &failed);
    s->rows_ok += committed;
    atomic_fetch_add_explicit(&rows_total, committed, memory_order_relaxed);
    if (rc == DUCKPOND_OK)
        return;
    s->rows_failed += p->nrows - committed;
    for (size_t i = committed; i < p->nrows; i++)
        ilp_count_error(ILP_ERR_WRITE);
    if (failed && duckpond_write_failure(p->w, 0, &row, &msg) == DUCKPOND_OK && row < p->nrows) {
        snprintf(s->why, sizeof s->why, "line %zu: %s", p->lines[row], msg ? msg : "");
        return;
    }
    msg = *duckpond_write_errmsg(p->w) ? duckpond_write_errmsg(p->w) : duckpond_strerror(rc);
    unsigned long k;
    if (sscanf(msg, "row %lu:", &k) == 1 && k < p->nrows) /* the batcher counts rows from 0 */
        snprintf(s->why, sizeof s->why, "line %zu: %s", p->lines[k], msg);
    else
        snprintf(s->why, sizeof s->why, "%s", msg);
}

/* Waits for the oldest submitted write (unless its submit failed) and frees it; its status. */
static int finish_oldest(struct ilp_sink *s)
{
    struct pending *p = &s->pend[s->done++];
    int rc = p->submit_rc;
    if (rc == DUCKPOND_OK) {
        rc = duckpond_write_wait(p->w);
        note_write(s, p, rc);
    }
    duckpond_write_free(p->w);
    free(p->lines);
    return rc;
}

/* Drops the finished writes from the front of the list. */
static void pending_compact(struct ilp_sink *s)
{
    if (!s->done)
        return;
    memmove(s->pend, s->pend + s->done, (s->npend - s->done) * sizeof *s->pend);
    s->npend -= s->done;
    s->nsub -= s->done;
    s->done = 0;
}

int ilp_sink_flush(struct ilp_sink *s, bool wait)
{
    int first = DUCKPOND_OK, rc = DUCKPOND_OK;
    for (int i = 0; i < s->nbatches; i++)
        if (batch_seal(s, s->batches[i]) != 0)
            return sink_fail(s, ILP_ERR_TABLE, "out of memory"), DUCKPOND_NOMEM;
    while (s->nsub < s->npend) {
        /* few in flight: the batcher's queue, not this list, holds the rows */
        if (s->nsub - s->done >= ILP_INFLIGHT) {
            rc = finish_oldest(s);
            first = first ? first : rc;
            continue;
        }
        struct pending *p = &s->pend[s->nsub];
        rc = duckpond_write_submit(p->w, s->ack == DUCKPOND_ACK_JOURNAL ? DUCKPOND_ACK_JOURNAL
                                                                        : DUCKPOND_ACK_QUEUED);
        if (rc == DUCKPOND_OVERLOADED) {
            snprintf(s->why, sizeof s->why, "%s", duckpond_write_errmsg(p->w));
            pending_compact(s);
            return rc; /* this write and the ones after it stay held */
        }
        s->nsub++;
        if (rc != DUCKPOND_OK) {
            note_write(s, p, rc);
            p->submit_rc = rc;
            first = first ? first : rc;
        }
    }
    while (wait && s->done < s->nsub) {
        rc = finish_oldest(s);
        first = first ? first : rc;
    }
    pending_compact(s);
    return first;
}

int ilp_sink_line(struct ilp_sink *s, const struct ilp_line *ln, size_t line_no, int64_t now_ns)
{
    struct batch *bt;
    int r = sink_batch(s, ln, &bt);
    if (r)
        return r;
    dp_buf_clear(&s->text, 1 << 20);
    size_t need = 48 + 24 * ln->nfields;
    for (size_t i = 0; i < ln->ntags; i++)
        need += ln->tags[i].value.n;
    for (size_t i = 0; i < ln->nfields; i++)
        need += ln->fields[i].type == ILP_STRING ? ln->fields[i].v.s.n : 0;
    if (!dp_buf_reserve(&s->text, need))
        return sink_fail(s, ILP_ERR_TABLE, "out of memory");
    r = fill_row(s, bt, ln, now_ns);
    if (r)
        return r;
    if (dp_grow(&bt->lines, &bt->cap_lines, bt->nrows + 1, sizeof *bt->lines) != 0 ||
        duckpond_write_add_row(bt->w, bt->row) != DUCKPOND_OK)
        return sink_fail(s, ILP_ERR_TABLE, "out of memory");
    bt->lines[bt->nrows++] = line_no;
    bt->bytes += (size_t)bt->ncols * 16 + s->text.len;
    if ((bt->nrows >= ilp_env_options(s->e)->batch_rows || bt->bytes >= ilp_env_options(s->e)->write_bytes) &&
        !s->hold) {
        if (batch_seal(s, bt) != 0)
            return sink_fail(s, ILP_ERR_TABLE, "out of memory");
        int rc;
        while ((rc = ilp_sink_flush(s, false)) == DUCKPOND_OVERLOADED)
            ; /* backpressure: the caller reads no more until there is room */
        if (rc == DUCKPOND_CLOSED || rc == DUCKPOND_INVALIDATED)
            return ILP_ERR_WRITE;
    }
    return 0;
}

void ilp_sink_counts(const struct ilp_sink *s, uint64_t *rows, uint64_t *failed)
{
    *rows = s->rows_ok;
    *failed = s->rows_failed;
}

const char *ilp_sink_why(const struct ilp_sink *s)
{
    return s->why;
}

void ilp_sink_free(struct ilp_sink *s)
{
    if (!s)
        return;
    while (s->done < s->nsub)
        finish_oldest(s);
    for (size_t i = s->nsub; i < s->npend; i++) {
        duckpond_write_free(s->pend[i].w);
        free(s->pend[i].lines);
    }
    free(s->pend);
    for (int i = 0; i < s->nbatches; i++)
        batch_free(s->batches[i]);
    dp_buf_free(&s->text);
    free(s);
}
