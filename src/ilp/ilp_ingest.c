/*
 * ilp_ingest.c -- line protocol lines into tables, through the batcher.
 *
 * A measurement is a table and each tag or field a column, named as the
 * line names them (matched to existing columns without regard to case, as
 * DuckDB matches names). A line for a table that does not exist creates
 * it; a tag or field a table lacks adds its column: tags VARCHAR, "i"
 * integers BIGINT, "u" UBIGINT, floats DOUBLE, booleans BOOLEAN, strings
 * VARCHAR, and the designated timestamp column "timestamp" TIMESTAMP (or
 * TIMESTAMP_NS when the server is told so). That DDL runs on one
 * connection of the server's own, one statement at a time under one
 * mutex, and then tells the batcher that the schema changed, so that its
 * catalog cache reads the new columns before the next write needs them.
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

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "utf8.h"

#define ILP_NAME_MAX 256 /* bytes in a table or column name */
#define ILP_MAX_BATCHES 16
#define ILP_INFLIGHT 4 /* writes submitted and not yet acknowledged, per sink */
#define ILP_TS_COLUMN "timestamp"

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

/* ------------------------------------------------------------ the env */

/* What the env knows of one table: its columns as stored, and their types. */
struct ilp_table {
    char *name;
    int ncols;
    char **cols;
    duckdb_type *types;
    uint64_t gen; /* the batcher's schema generation when read */
};

struct ilp_env {
    duckpond_db *db;
    duckpond_batcher *b;
    struct ilp_options opt;
    pthread_mutex_t mu; /* the connection and the tables */
    duckpond_conn *conn;
    struct ilp_table *tables;
    size_t ntables, cap_tables;
};

int ilp_env_new(duckpond_db *db, duckpond_batcher *b, const struct ilp_options *opt, struct ilp_env **out)
{
    *out = NULL;
    struct ilp_env *e = calloc(1, sizeof *e);
    if (!e)
        return DUCKPOND_NOMEM;
    e->db = db;
    e->b = b;
    if (opt)
        e->opt = *opt;
    if (!e->opt.batch_rows)
        e->opt.batch_rows = 10000;
    if (!e->opt.max_line)
        e->opt.max_line = 16u << 20;
    int rc = duckpond_connect(db, &e->conn);
    if (rc != DUCKPOND_OK) {
        free(e);
        return rc;
    }
    pthread_mutex_init(&e->mu, NULL);
    *out = e;
    return DUCKPOND_OK;
}

const struct ilp_options *ilp_env_options(const struct ilp_env *e)
{
    return &e->opt;
}

static void table_clear(struct ilp_table *t)
{
    for (int i = 0; i < t->ncols; i++)
        free(t->cols[i]);
    free(t->cols);
    free(t->types);
    t->cols = NULL;
    t->types = NULL;
    t->ncols = 0;
}

void ilp_env_free(struct ilp_env *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->ntables; i++) {
        table_clear(&e->tables[i]);
        free(e->tables[i].name);
    }
    free(e->tables);
    duckpond_disconnect(e->conn);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/*
 * Reads table t->name's columns on the env's connection (under e->mu):
 * DUCKPOND_OK, DUCKPOND_NOTFOUND when there is no such table, or another
 * status with DuckDB's message in why.
 */
static int table_read(struct ilp_env *e, struct ilp_table *t, char *why, size_t wn)
{
    struct dp_buf sql = DP_BUF_INIT;
    dp_buf_str(&sql, "SELECT * FROM ");
    dp_sql_ident(&sql, t->name);
    dp_buf_str(&sql, " LIMIT 0");
    if (sql.failed)
        return DUCKPOND_NOMEM;
    uint64_t gen = duckpond_batcher_schema_gen(e->b);
    duckdb_result res;
    int rc = DUCKPOND_OK;
    if (duckdb_query(duckpond_conn_duckdb(e->conn), sql.data, &res) == DuckDBError) {
        const char *msg = duckdb_result_error(&res);
        rc = duckpond_classify(duckdb_result_error_type(&res), msg ? msg : "");
        if (rc == DUCKPOND_SYNTAX && msg && strstr(msg, "does not exist"))
            rc = DUCKPOND_NOTFOUND;
        snprintf(why, wn, "table \"%.100s\": %.300s", t->name, msg ? msg : "error");
    } else {
        table_clear(t);
        int n = (int)duckdb_column_count(&res);
        t->cols = calloc((size_t)n + 1, sizeof *t->cols);
        t->types = calloc((size_t)n + 1, sizeof *t->types);
        for (int i = 0; t->cols && t->types && i < n; i++) {
            t->cols[i] = strdup(duckdb_column_name(&res, (idx_t)i));
            t->types[i] = duckdb_column_type(&res, (idx_t)i);
            if (t->cols[i])
                t->ncols = i + 1;
        }
        if (t->ncols != n)
            rc = DUCKPOND_NOMEM;
        t->gen = gen;
    }
    duckdb_destroy_result(&res);
    dp_buf_free(&sql);
    return rc;
}

/* The cached entry for name (made empty, gen 0, when new), or NULL when memory runs out. Under e->mu. */
static struct ilp_table *table_entry(struct ilp_env *e, const char *name)
{
    for (size_t i = 0; i < e->ntables; i++)
        if (!strcasecmp(e->tables[i].name, name))
            return &e->tables[i];
    if (dp_grow(&e->tables, &e->cap_tables, e->ntables + 1, sizeof *e->tables) != 0)
        return NULL;
    struct ilp_table *t = &e->tables[e->ntables];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name)
        return NULL;
    e->ntables++;
    return t;
}

/* Runs one DDL statement, retrying transaction conflicts a few times; tells the batcher. */
static int run_ddl(struct ilp_env *e, const char *sql, char *why, size_t wn)
{
    int rc = DUCKPOND_ERROR;
    for (int attempt = 0; attempt < 8; attempt++) {
        rc = duckpond_exec(e->conn, sql);
        if (rc != DUCKPOND_CONFLICT)
            break;
        usleep(1000u << attempt);
    }
    if (rc != DUCKPOND_OK)
        snprintf(why, wn, "%.400s", duckpond_conn_errmsg(e->conn));
    duckpond_batcher_schema_changed(e->b);
    return rc;
}

/* What a new column is made for: a tag, a field of a type, or the designated timestamp. */
enum col_kind { COL_TAG = -1, COL_TS = -2 }; /* else an enum ilp_type */

static const char *sql_type_for(const struct ilp_env *e, int kind)
{
    switch (kind) {
    case COL_TS: return e->opt.timestamp_ns ? "TIMESTAMP_NS" : "TIMESTAMP";
    case ILP_INT: return "BIGINT";
    case ILP_UINT: return "UBIGINT";
    case ILP_FLOAT: return "DOUBLE";
    case ILP_BOOL: return "BOOLEAN";
    default: return "VARCHAR";
    }
}

/* Appends ", name TYPE" for a new table's column. */
static void add_coldef(struct dp_buf *b, const struct ilp_env *e, struct ilp_str name, int kind)
{
    char tmp[ILP_NAME_MAX + 1];
    memcpy(tmp, name.p, name.n);
    tmp[name.n] = '\0';
    dp_buf_str(b, ", ");
    dp_sql_ident(b, tmp);
    dp_buf_printf(b, " %s", sql_type_for(e, kind));
}

/* CREATE TABLE for a line: the timestamp, then its tags and fields. Under e->mu. */
static int table_create(struct ilp_env *e, const char *name, const struct ilp_line *ln, char *why, size_t wn)
{
    struct dp_buf sql = DP_BUF_INIT;
    dp_buf_str(&sql, "CREATE TABLE IF NOT EXISTS ");
    dp_sql_ident(&sql, name);
    dp_buf_printf(&sql, " (" ILP_TS_COLUMN " %s", sql_type_for(e, COL_TS));
    for (size_t i = 0; i < ln->ntags; i++)
        add_coldef(&sql, e, ln->tags[i].key, COL_TAG);
    for (size_t i = 0; i < ln->nfields; i++)
        add_coldef(&sql, e, ln->fields[i].key, (int)ln->fields[i].type);
    dp_buf_str(&sql, ")");
    int rc = sql.failed ? DUCKPOND_NOMEM : run_ddl(e, sql.data, why, wn);
    dp_buf_free(&sql);
    return rc;
}

/*
 * The table name's entry, read afresh when the schema moved on, created
 * from ln when missing and allowed. Under e->mu. NULL with a status in
 * *rc and the reason in why.
 */
static struct ilp_table *table_get(struct ilp_env *e, const char *name, const struct ilp_line *ln, int *rc,
                                   char *why, size_t wn)
{
    struct ilp_table *t = table_entry(e, name);
    if (!t) {
        *rc = DUCKPOND_NOMEM;
        snprintf(why, wn, "out of memory");
        return NULL;
    }
    *rc = DUCKPOND_OK;
    if (t->ncols && t->gen == duckpond_batcher_schema_gen(e->b))
        return t;
    *rc = table_read(e, t, why, wn);
    if (*rc == DUCKPOND_NOTFOUND && ln && !e->opt.no_auto_create) {
        *rc = table_create(e, name, ln, why, wn);
        if (*rc == DUCKPOND_OK)
            *rc = table_read(e, t, why, wn);
    } else if (*rc == DUCKPOND_NOTFOUND) {
        snprintf(why, wn, "table \"%.100s\" does not exist (auto-creation is off)", name);
    }
    return *rc == DUCKPOND_OK ? t : NULL;
}

/*
 * Finds column key of table (creating it for kind when missing and
 * allowed): its name as stored in out (ILP_NAME_MAX + 1 bytes) and its
 * type. Takes e->mu. 0, or an enum ilp_reason with why.
 */
static int env_column(struct ilp_env *e, const char *table, const char *key, int kind, char *out,
                      duckdb_type *type, char *why, size_t wn)
{
    pthread_mutex_lock(&e->mu);
    int rc, reason = 0;
    struct ilp_table *t = table_get(e, table, NULL, &rc, why, wn);
    for (int pass = 0; t && pass < 2; pass++) {
        for (int i = 0; i < t->ncols; i++) {
            if (!strcasecmp(t->cols[i], key)) {
                snprintf(out, ILP_NAME_MAX + 1, "%s", t->cols[i]);
                *type = t->types[i];
                pthread_mutex_unlock(&e->mu);
                return 0;
            }
        }
        if (pass == 1 || e->opt.no_auto_create) {
            snprintf(why, wn, "table \"%.100s\" has no column \"%.100s\"%s", table, key,
                     e->opt.no_auto_create ? " (auto-creation is off)" : "");
            break;
        }
        struct dp_buf sql = DP_BUF_INIT;
        dp_buf_str(&sql, "ALTER TABLE ");
        dp_sql_ident(&sql, table);
        dp_buf_str(&sql, " ADD COLUMN IF NOT EXISTS ");
        dp_sql_ident(&sql, key);
        dp_buf_printf(&sql, " %s", sql_type_for(e, kind));
        rc = sql.failed ? DUCKPOND_NOMEM : run_ddl(e, sql.data, why, wn);
        dp_buf_free(&sql);
        if (rc == DUCKPOND_OK)
            rc = table_read(e, t, why, wn);
        if (rc != DUCKPOND_OK)
            t = NULL;
    }
    reason = ILP_ERR_TABLE;
    pthread_mutex_unlock(&e->mu);
    return reason;
}

/* Makes sure table name exists (created from ln when allowed). Takes e->mu. 0 or ILP_ERR_TABLE with why. */
static int env_table(struct ilp_env *e, const char *name, const struct ilp_line *ln, char *why, size_t wn)
{
    pthread_mutex_lock(&e->mu);
    int rc;
    struct ilp_table *t = table_get(e, name, ln, &rc, why, wn);
    pthread_mutex_unlock(&e->mu);
    return t ? 0 : ILP_ERR_TABLE;
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
    return 0;
}

/* A new table in this sink: its table made if needed, the timestamp column found. */
static int batch_new(struct ilp_sink *s, const char *table, const struct ilp_line *ln, struct batch **out)
{
    int r = env_table(s->e, table, ln, s->why, sizeof s->why);
    if (r)
        return r;
    char name[ILP_NAME_MAX + 1];
    duckdb_type type;
    r = env_column(s->e, table, ILP_TS_COLUMN, COL_TS, name, &type, s->why, sizeof s->why);
    if (r)
        return r;
    struct batch *bt = calloc(1, sizeof *bt);
    if (!bt || batch_add_col(bt, name, type) != 0) {
        if (bt)
            batch_free(bt);
        return sink_fail(s, ILP_ERR_TABLE, "out of memory");
    }
    snprintf(bt->table, sizeof bt->table, "%s", table);
    bt->table_len = strlen(bt->table);
    bt->gen = duckpond_batcher_schema_gen(s->e->b);
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
    uint64_t gen = duckpond_batcher_schema_gen(s->e->b);
    if (gen == bt->gen)
        return 0;
    for (int i = 0; i < bt->ncols; i++) {
        char name[ILP_NAME_MAX + 1];
        int r = env_column(s->e, bt->table, bt->cols[i], i ? ILP_STRING : COL_TS, name, &bt->types[i], s->why,
                           sizeof s->why);
        if (r)
            return r;
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
    if (key.n == strlen(ILP_TS_COLUMN) && !strncasecmp(key.p, ILP_TS_COLUMN, key.n)) {
        *r = sink_fail(s, ILP_ERR_NAME, "\"" ILP_TS_COLUMN "\" is the designated timestamp column, not a %s",
                       kind == COL_TAG ? "tag" : "field");
        return -1;
    }
    char want[ILP_NAME_MAX + 1], name[ILP_NAME_MAX + 1];
    memcpy(want, key.p, key.n);
    want[key.n] = '\0';
    duckdb_type type;
    *r = env_column(s->e, bt->table, want, kind, name, &type, s->why, sizeof s->why);
    if (*r)
        return -1;
    if (batch_seal(s, bt) != 0 || batch_add_col(bt, name, type) != 0) {
        *r = sink_fail(s, ILP_ERR_TABLE, "out of memory");
        return -1;
    }
    return bt->ncols - 1;
}

static bool is_int_type(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT: return true;
    default: return false;
    }
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
    default: return is_int_type(t) ? "an integer type" : "of another type";
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
        if (!is_int_type(t) && !is_float_type(t))
            break;
        v->kind = DUCKPOND_VALUE_INT64;
        v->u.i64 = f->v.i;
        return 0;
    case ILP_UINT:
        if (!is_int_type(t) && !is_float_type(t))
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
        if (is_int_type(t) || is_float_type(t) || t == DUCKDB_TYPE_BOOLEAN)
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
    } else if (is_int_type(t)) {
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
    int rc = duckpond_write_new(s->e->b, bt->table, (const char *const *)bt->cols, bt->ncols,
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
        int r = place(s, bt, k, key, tag ? COL_TAG : (int)ln->fields[k - ln->ntags].type, &cols[k]);
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
    if (bt->nrows >= s->e->opt.batch_rows && !s->hold) {
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

/* ------------------------------------------------------------ a stream */

void ilp_stream_init(struct ilp_stream *st, struct ilp_sink *sink, size_t max_line)
{
    memset(st, 0, sizeof *st);
    st->sink = sink;
    st->max_line = max_line;
    ilp_parser_init(&st->ps);
}

void ilp_stream_free(struct ilp_stream *st)
{
    ilp_parser_free(&st->ps);
    dp_buf_free(&st->partial);
}

/* Records the stream's failure on its current line; returns reason + 1. */
static int stream_fail(struct ilp_stream *st, int reason, const char *why)
{
    st->reason = reason + 1;
    st->bad_line = st->line_no;
    snprintf(st->why, sizeof st->why, "line %zu: %s", st->line_no, why);
    ilp_count_error((enum ilp_reason)reason);
    return st->reason;
}

/* One complete line, p[0..n) without its newline. */
static int stream_line(struct ilp_stream *st, const char *p, size_t n, int64_t now_ns)
{
    st->line_no++;
    if (n > st->max_line) {
        char why[96];
        snprintf(why, sizeof why, "the line is longer than the limit of %zu bytes", st->max_line);
        return stream_fail(st, ILP_ERR_TOO_LONG, why);
    }
    struct ilp_line ln;
    enum ilp_result r = ilp_parse_line(&st->ps, p, n, &ln);
    if (r == ILP_SKIP)
        return 0;
    st->uncounted++;
    if (r == ILP_ERROR)
        return stream_fail(st, ILP_ERR_SYNTAX, st->ps.why);
    int reason = ilp_sink_line(st->sink, &ln, st->line_no, now_ns);
    return reason ? stream_fail(st, reason, ilp_sink_why(st->sink)) : 0;
}

/* The lines that p[0..n) completes; returns how many bytes they took (the rest is an unfinished line). */
static size_t stream_lines(struct ilp_stream *st, const char *p, size_t n, int64_t now_ns)
{
    size_t at = 0;
    long len;
    while (!st->reason && at < n && (len = ilp_frame(&st->fr, p + at, n - at)) >= 0) {
        stream_line(st, p + at, (size_t)len, now_ns);
        at += (size_t)len + 1;
    }
    ilp_count_lines(st->uncounted); /* one atomic add a piece, not a line */
    st->uncounted = 0;
    return at;
}

int ilp_stream_feed(struct ilp_stream *st, const char *p, size_t n, int64_t now_ns)
{
    if (st->reason || !n)
        return st->reason;
    if (st->partial.len) {
        dp_buf_add(&st->partial, p, n);
        if (st->partial.failed)
            return stream_fail(st, ILP_ERR_TOO_LONG, "out of memory");
        size_t used = stream_lines(st, st->partial.data, st->partial.len, now_ns);
        memmove(st->partial.data, st->partial.data + used, st->partial.len - used);
        dp_buf_truncate(&st->partial, st->partial.len - used);
    } else {
        size_t used = stream_lines(st, p, n, now_ns);
        dp_buf_add(&st->partial, p + used, n - used);
    }
    if (!st->reason && st->partial.len > st->max_line) {
        st->line_no++;
        char why[96];
        snprintf(why, sizeof why, "the line is longer than the limit of %zu bytes", st->max_line);
        stream_fail(st, ILP_ERR_TOO_LONG, why);
    }
    if (st->reason)
        dp_buf_clear(&st->partial, 0);
    return st->reason;
}

int ilp_stream_end(struct ilp_stream *st, int64_t now_ns)
{
    if (st->reason || !st->partial.len)
        return st->reason;
    stream_line(st, st->partial.data, st->partial.len, now_ns);
    ilp_count_lines(st->uncounted);
    st->uncounted = 0;
    dp_buf_clear(&st->partial, 0);
    return st->reason;
}
