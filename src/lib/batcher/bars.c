/*
 * bars.c -- live bars: OHLCV tables kept by the batcher's writer in the
 * same DuckDB transaction as the ticks they summarise.
 *
 * An operator declares bars over a tick table with a table function,
 *
 *   CALL duckpond_bars('trades', ts => 'ts', symbol => 'symbol',
 *                      price => 'price', size => 'qty', every => ['1 second', '1 minute'])
 *
 * from any connection (psql through the server, HTTP, a library
 * connection). The function hands the declaration to the writer thread
 * and waits: the writer runs it between two groups, in one transaction
 * of its own, so that no group of ticks commits half before and half
 * after it. For each interval it creates <table>_bars_<label>_parts
 * (partial bars: symbol, bucket, open, high, low, close, volume, trades,
 * open_ts, close_ts, notional; several rows per symbol and bucket
 * allowed) filled from the ticks already there, and the view
 * <table>_bars_<label> (the documented columns, vwap among them), and
 * records the declaration, with a rowid mark, in duckpond_bars.
 *
 * The view merges the parts with the aggregate of the ticks from the mark
 * on, per (symbol, bucket): whatever snapshot a reader has, ticks and
 * bars agree, and a group of ticks costs nothing more to commit. Every
 * flush_rows ticks, the writer folds the committed ticks past the mark
 * into the parts and moves the mark and the view, inside the transaction
 * of the group it commits next (flush, below), and replaces the parts by
 * their merge when they outgrow it (compact). open and close are the
 * prices of the first and last tick by time (open_ts, close_ts; equal
 * times are ordered by price), so a late tick updates its old bucket
 * exactly as a recompute from scratch would; notional (the sum of price *
 * size) keeps vwap exact under merging. Prices and sizes are summed as
 * DOUBLE. Ticks with a NULL time, symbol, price or size are left out of
 * the bars.
 *
 * Writes into a tick table, a bar view or its parts other than the
 * batcher's (INSERT ... SELECT, UPDATE, DELETE, COPY, INSERT inside a
 * transaction) are refused by duckpond_bars_check for those that ask it
 * (the server asks before every such statement): the writer alone
 * changes parts, and ticks are only appended, which the mark relies on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batcher_int.h"
#include "sqllex.h"

/* The table function's extra info: the batcher serving declarations now; owned by DuckDB and the db. */
struct bars_fn {
    pthread_mutex_t mu; /* held by a declaration from hand-off to answer */
    duckpond_batcher *b;
};

/* A declaration: the function's arguments, and the writer's answer. */
struct bars_req {
    char *table, *col[4]; /* col: ts, symbol, price, size */
    char **every;
    size_t nevery;
    int64_t flush_rows; /* ticks a view aggregates itself before the writer folds them into parts */
    /* the answer */
    bool done;
    int rc;
    char *msg;
    char **out; /* per interval: bar table, then every */
};

static const char *const col_role[4] = {"ts", "symbol", "price", "size"};

/* ------------------------------------------------------------ SQL */

/*
 * The partial bars of src, a relation with columns _ts, _sym, _px, _sz,
 * at the interval every (unquoted text), in the parts table's column
 * order (parts_cols).
 */
static void agg_sql(struct dp_buf *q, const char *every, const char *src)
{
    dp_buf_printf(q, "SELECT _sym AS symbol, time_bucket(CAST(");
    dp_sql_literal(q, every, strlen(every));
    dp_buf_printf(
        q,
        " AS INTERVAL), _ts) AS bucket, "
        "min({'t': _ts, 'p': CAST(_px AS DOUBLE)}).p AS open, max(CAST(_px AS DOUBLE)) AS high, "
        "min(CAST(_px AS DOUBLE)) AS low, max({'t': _ts, 'p': CAST(_px AS DOUBLE)}).p AS close, "
        "sum(CAST(_sz AS DOUBLE)) AS volume, count(*) AS trades, min(_ts) AS open_ts, max(_ts) AS close_ts, "
        "sum(CAST(_px AS DOUBLE) * CAST(_sz AS DOUBLE)) AS notional FROM %s "
        "WHERE _ts IS NOT NULL AND _sym IS NOT NULL AND _px IS NOT NULL AND _sz IS NOT NULL "
        "GROUP BY ALL",
        src);
}

static const char parts_cols[] =
    "(symbol, bucket, open, high, low, close, volume, trades, open_ts, close_ts, notional)";

/*
 * The bars of the parts table `parts` (quoted), merged per symbol and
 * bucket, in the documented column order: the bar table's view. The
 * first and last tick by time (then by price) of a bucket are the first
 * and last of its parts' so ordered, so the merge equals a recompute.
 */
static void merged_sql(struct dp_buf *q, const char *parts)
{
    dp_buf_printf(q,
                  "SELECT symbol, bucket, min({'t': open_ts, 'p': open}).p AS open, max(high) AS high, "
                  "min(low) AS low, max({'t': close_ts, 'p': close}).p AS close, sum(volume) AS volume, "
                  "sum(notional) / nullif(sum(volume), 0) AS vwap, CAST(sum(trades) AS BIGINT) AS trades, "
                  "min(open_ts) AS open_ts, max(close_ts) AS close_ts, sum(notional) AS notional FROM %s "
                  "GROUP BY symbol, bucket",
                  parts);
}

/* Appends schema.name, each quoted. */
static void qualified(struct dp_buf *q, const char *schema, const char *name)
{
    dp_sql_ident(q, schema);
    dp_buf_byte(q, '.');
    dp_sql_ident(q, name);
}

/* ------------------------------------------------ declarations, loaded */

void batcher_bars_free(duckpond_batcher *b)
{
    for (size_t i = 0; i < b->nbars; i++) {
        struct bar_decl *d = &b->bars[i];
        free(d->tick_schema);
        free(d->tick_table);
        free(d->bar_table);
        free(d->parts_table);
        free(d->every);
        for (int k = 0; k < 4; k++) {
            free(d->col[k]);
            free(d->dflt[k]);
        }
    }
    free(b->bars);
    b->bars = NULL;
    b->nbars = b->cap_bars = 0;
}

/* A VARCHAR cell of a materialized result as a malloc'd string (NULL for NULL). */
static char *cell(duckdb_result *res, idx_t col, idx_t row)
{
    if (duckdb_value_is_null(res, col, row))
        return NULL;
    char *v = duckdb_value_varchar(res, col, row);
    char *out = v ? strdup(v) : NULL;
    duckdb_free(v);
    return out;
}

/* Publishes the names of the tick and bar tables for duckpond_bars_check. */
static void publish_names(duckpond_batcher *b)
{
    struct dp_bars_names *n = &b->db->bars_names;
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; i < n->count; i++)
        free(n->names[i]);
    n->count = 0;
    for (size_t i = 0; i < b->nbars; i++)
        for (int k = 0; k < 3; k++) {
            const struct bar_decl *d = &b->bars[i];
            const char *name = k == 2 ? d->parts_table : k ? d->bar_table : d->tick_table;
            char *copy = strdup(name);
            if (copy && dp_grow(&n->names, &n->cap, n->count + 1, sizeof *n->names) == 0)
                n->names[n->count++] = copy;
            else
                free(copy);
        }
    __atomic_store_n(&n->any, n->count > 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&n->mu);
}

int batcher_bars_load(duckpond_batcher *b)
{
    batcher_bars_free(b);
    duckdb_connection c = duckpond_conn_duckdb(b->conn);
    duckdb_result res;
    /* the columns' DEFAULTs: a write that leaves one out gets it, and so must its bar */
    const char *sql =
        "SELECT d.tick_schema, d.tick_table, d.bar_table, d.every, d.ts_col, d.symbol_col, d.price_col, "
        "d.size_col, d.flush_rows, (SELECT any_value(column_default) FROM duckdb_columns() c WHERE c.schema_name = "
        "d.tick_schema AND c.table_name = d.tick_table AND c.column_name = d.ts_col), (SELECT "
        "any_value(column_default) FROM duckdb_columns() c WHERE c.schema_name = d.tick_schema AND "
        "c.table_name = d.tick_table AND c.column_name = d.symbol_col), (SELECT any_value(column_default) FROM "
        "duckdb_columns() c WHERE c.schema_name = d.tick_schema AND c.table_name = d.tick_table AND "
        "c.column_name = d.price_col), (SELECT any_value(column_default) FROM duckdb_columns() c WHERE "
        "c.schema_name = d.tick_schema AND c.table_name = d.tick_table AND c.column_name = d.size_col) "
        "FROM main.duckpond_bars d ORDER BY d.bar_table";
    /* a table description asks the catalog alone: no statement is planned at every batcher start */
    duckdb_table_description desc = NULL;
    bool exists = duckdb_table_description_create(c, "main", "duckpond_bars", &desc) == DuckDBSuccess;
    duckdb_table_description_destroy(&desc);
    int rc = DUCKPOND_OK;
    if (!exists) {
        publish_names(b);
        return rc;
    }
    if (duckdb_query(c, sql, &res) == DuckDBError) {
        rc = duckpond_conn_fail(b->conn, duckdb_result_error_type(&res), duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc;
    }
    idx_t rows = duckdb_row_count(&res);
    if (rows && dp_grow(&b->bars, &b->cap_bars, rows, sizeof *b->bars) != 0)
        rc = DUCKPOND_NOMEM;
    for (idx_t r = 0; r < rows && rc == DUCKPOND_OK; r++) {
        struct bar_decl *d = &b->bars[b->nbars++];
        *d = (struct bar_decl){0};
        d->tick_schema = cell(&res, 0, r);
        d->tick_table = cell(&res, 1, r);
        d->bar_table = cell(&res, 2, r);
        d->every = cell(&res, 3, r);
        for (int k = 0; k < 4; k++) {
            d->col[k] = cell(&res, 4 + (idx_t)k, r);
            d->dflt[k] = cell(&res, 9 + (idx_t)k, r);
        }
        d->parts_table = d->bar_table ? dp_asprintf("%s_parts", d->bar_table) : NULL;
        d->flush_rows = duckdb_value_int64(&res, 8, r);
        if (d->flush_rows < 1)
            d->flush_rows = BARS_FLUSH_ROWS;
        d->pending = d->flush_rows; /* unknown: the first group that writes ticks flushes */
        if (!d->tick_schema || !d->tick_table || !d->bar_table || !d->parts_table || !d->every ||
            !d->col[0] || !d->col[1] || !d->col[2] || !d->col[3])
            rc = DUCKPOND_NOMEM;
    }
    duckdb_destroy_result(&res);
    for (size_t i = 0; i < b->nbars && rc == DUCKPOND_OK; i++) { /* where compaction counts from */
        struct bar_decl *d = &b->bars[i];
        struct dp_buf q = DP_BUF_INIT;
        dp_buf_printf(&q, "SELECT count(*) FROM ");
        qualified(&q, d->tick_schema, d->parts_table);
        if (q.failed || duckpond_query_int64(b->conn, q.data, &d->parts_base) != DUCKPOND_OK)
            rc = q.failed ? DUCKPOND_NOMEM : DUCKPOND_ERROR;
        dp_buf_truncate(&q, 0);
        /* microseconds, for an interval of neither days nor months (whose buckets time_bucket aligns otherwise) */
        dp_buf_printf(&q, "SELECT CASE WHEN datepart('year', i) = 0 AND datepart('month', i) = 0 AND "
                          "datepart('day', i) = 0 THEN epoch_us(TIMESTAMP '1970-01-01' + i) ELSE 0 END FROM "
                          "(SELECT CAST(");
        dp_sql_literal(&q, d->every, strlen(d->every));
        dp_buf_printf(&q, " AS INTERVAL) AS i)");
        if (rc == DUCKPOND_OK &&
            (q.failed || duckpond_query_int64(b->conn, q.data, &d->every_us) != DUCKPOND_OK))
            rc = q.failed ? DUCKPOND_NOMEM : DUCKPOND_ERROR;
        dp_buf_free(&q);
    }
    publish_names(b);
    return rc;
}

void batcher_bars_attach(duckpond_batcher *b, struct target *t)
{
    for (size_t i = 0; i < b->nbars && t->nbars < BARS_MAX; i++) {
        struct bar_decl *d = &b->bars[i];
        if (strcmp(d->tick_schema, t->stored.schema) != 0 || strcmp(d->tick_table, t->stored.table) != 0)
            continue;
        int at = t->nbars++; /* finest first: a flush derives coarser parts from finer ones */
        for (; at > 0 && t->bars[at - 1]->every_us > d->every_us; at--)
            t->bars[at] = t->bars[at - 1];
        t->bars[at] = d;
    }
}

/* ------------------------------------------------ the tail and the flush */

/*
 * The ticks of d from rowid lo (up to hi, unless hi < 0) as the relation
 * agg_sql reads: columns _ts, _sym, _px, _sz. rowid bounds are pushed
 * into the table scan, so only those rows are read.
 */
static void ticks_src(struct dp_buf *q, const struct bar_decl *d, const char *const col[4], int64_t lo,
                      int64_t hi)
{
    static const char *const alias[4] = {"_ts", "_sym", "_px", "_sz"};
    dp_buf_printf(q, "(SELECT ");
    for (int k = 0; k < 4; k++) {
        dp_sql_ident(q, col[k]);
        dp_buf_printf(q, " AS %s%s", alias[k], k < 3 ? ", " : "");
    }
    dp_buf_printf(q, " FROM ");
    qualified(q, d->tick_schema, d->tick_table);
    dp_buf_printf(q, " WHERE rowid >= %lld", (long long)lo);
    if (hi >= 0)
        dp_buf_printf(q, " AND rowid < %lld", (long long)hi);
    dp_buf_byte(q, ')');
}

/*
 * CREATE [OR REPLACE] VIEW of d's bars: its parts, and the ticks from
 * rowid mark on (those no flush has summarised yet), merged.
 */
static void view_sql(struct dp_buf *q, const struct bar_decl *d, const char *const col[4], int64_t mark,
                     bool replace)
{
    struct dp_buf src = DP_BUF_INIT, ticks = DP_BUF_INIT;
    ticks_src(&ticks, d, col, mark, -1);
    dp_buf_printf(&src, "(SELECT symbol, bucket, open, high, low, close, volume, trades, open_ts, close_ts, "
                        "notional FROM ");
    qualified(&src, d->tick_schema, d->parts_table);
    dp_buf_printf(&src, " UNION ALL ");
    agg_sql(&src, d->every, ticks.failed ? "" : ticks.data);
    dp_buf_byte(&src, ')');
    dp_buf_printf(q, "CREATE %sVIEW ", replace ? "OR REPLACE " : "");
    qualified(q, d->tick_schema, d->bar_table);
    dp_buf_printf(q, " AS ");
    merged_sql(q, src.failed || ticks.failed ? "" : src.data);
    if (src.failed || ticks.failed)
        q->failed = true;
    dp_buf_free(&src);
    dp_buf_free(&ticks);
}

/*
 * Runs sql (one or more statements) on c: the first value of the last
 * one's answer in *value, and the rows it changed in *rows (each if not
 * NULL). DUCKPOND_OK, or the failure's class with DuckDB's message,
 * naming what, in *msg.
 */
static int exec_sql(duckdb_connection c, const char *sql, int64_t *value, int64_t *rows, const char *what,
                    char **msg)
{
    duckdb_result res;
    if (!sql)
        return DUCKPOND_NOMEM;
    if (duckdb_query(c, sql, &res) == DuckDBError) {
        int rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        *msg = dp_asprintf("live bars %s: %s", what, duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
    }
    if (value)
        *value = duckdb_row_count(&res) ? duckdb_value_int64(&res, 0, 0) : 0;
    if (rows)
        *rows = (int64_t)duckdb_rows_changed(&res);
    duckdb_destroy_result(&res);
    return DUCKPOND_OK;
}

/*
 * Replaces the parts of d by their merge, one row per symbol and bucket,
 * inside the writer's open transaction: a reader sees the parts before
 * or after, and the same bars either way. Returns DUCKPOND_OK and the
 * rows left in *rows, or the failure's class with DuckDB's message in
 * *msg.
 */
static int compact(duckdb_connection c, struct bar_decl *d, int64_t *rows, char **msg)
{
    struct dp_buf parts = DP_BUF_INIT, q = DP_BUF_INIT;
    qualified(&parts, d->tick_schema, d->parts_table);
    dp_buf_printf(&q,
                  "CREATE OR REPLACE TEMP TABLE duckpond_bars_compact AS SELECT symbol, bucket, open, high, "
                  "low, close, volume, trades, open_ts, close_ts, notional FROM (");
    merged_sql(&q, parts.failed ? "" : parts.data);
    /* the last statement's count is the answer's: the rows left */
    dp_buf_printf(&q, "); DELETE FROM %s; INSERT INTO %s %s SELECT * FROM temp.duckpond_bars_compact",
                  parts.failed ? "" : parts.data, parts.failed ? "" : parts.data, parts_cols);
    int rc = q.failed || parts.failed ? DUCKPOND_NOMEM : exec_sql(c, q.data, NULL, rows, d->bar_table, msg);
    if (rc == DUCKPOND_OK)
        rc = exec_sql(c, "DROP TABLE temp.duckpond_bars_compact", NULL, NULL, d->bar_table, msg);
    dp_buf_free(&q);
    dp_buf_free(&parts);
    return rc;
}

/*
 * Moves the ticks of d that no flush has summarised yet (rowid from the
 * mark recorded in duckpond_bars on) into d's parts, and the mark, and
 * the view, past them; then compacts the parts once they outgrow what the
 * last compaction left by COMPACT_FACTOR (and flush_rows / 16), so that
 * readers merge at most about COMPACT_FACTOR + 1 parts per bar. Runs in
 * the writer's open transaction, before the group writes to this target.
 * DuckDB gives rows their rowids when they commit, in commit order, so
 * every tick committed after the mark is past it (ticks are only ever
 * appended: the guard refuses the rest). The mark is read from the
 * database, not kept here, so that a rolled-back attempt leaves nothing
 * to undo. Returns DUCKPOND_OK, or the failure's class with DuckDB's
 * message in *msg.
 */
#define COMPACT_FACTOR 2
#define LOCAL_ROWID 36028797018960000LL /* DuckDB's MAX_ROW_ID: the first rowid of rows not yet committed */
static int flush(duckdb_connection c, struct bar_decl *d, const struct bar_decl *finer, char **msg)
{
    struct dp_buf q = DP_BUF_INIT;
    const char *col[4] = {d->col[0], d->col[1], d->col[2], d->col[3]};
    int64_t mark = 0, end = 0, added = 0;
    dp_buf_printf(&q, "SELECT mark FROM main.duckpond_bars WHERE tick_schema = ");
    dp_sql_literal(&q, d->tick_schema, strlen(d->tick_schema));
    dp_buf_printf(&q, " AND bar_table = ");
    dp_sql_literal(&q, d->bar_table, strlen(d->bar_table));
    int rc = exec_sql(c, q.failed ? NULL : q.data, &mark, NULL, d->bar_table, msg);
    dp_buf_truncate(&q, 0);
    if (rc == DUCKPOND_OK) {
        dp_buf_printf(&q, "SELECT coalesce(max(rowid) + 1, %lld) FROM ", (long long)mark);
        qualified(&q, d->tick_schema, d->tick_table);
        /*
         * Committed rows alone: rows this transaction wrote already (another
         * target of the same table, in this group) have rowids from DuckDB's
         * MAX_ROW_ID on until they commit, and stay in the view's tail.
         */
        dp_buf_printf(&q, " WHERE rowid >= %lld AND rowid < %lld", (long long)mark, (long long)LOCAL_ROWID);
        rc = exec_sql(c, q.failed ? NULL : q.data, &end, NULL, d->bar_table, msg);
        dp_buf_truncate(&q, 0);
    }
    if (rc == DUCKPOND_OK && end > mark) {
        struct dp_buf src = DP_BUF_INIT;
        dp_buf_printf(&q, "INSERT INTO ");
        qualified(&q, d->tick_schema, d->parts_table);
        dp_buf_printf(&q, " %s ", parts_cols);
        if (finer && finer->flushed && finer->flushed_mark == mark && finer->flushed_end == end) {
            /* the same ticks' finer parts, just written (rowids of this transaction), rebucketed */
            dp_buf_printf(&q, "SELECT symbol, time_bucket(CAST(");
            dp_sql_literal(&q, d->every, strlen(d->every));
            dp_buf_printf(&q,
                          " AS INTERVAL), bucket) AS bucket, min({'t': open_ts, 'p': open}).p, max(high), "
                          "min(low), max({'t': close_ts, 'p': close}).p, sum(volume), CAST(sum(trades) AS "
                          "BIGINT), min(open_ts), max(close_ts), sum(notional) FROM ");
            qualified(&q, finer->tick_schema, finer->parts_table);
            dp_buf_printf(&q, " WHERE rowid >= %lld GROUP BY ALL", (long long)LOCAL_ROWID);
        } else {
            ticks_src(&src, d, col, mark, end);
            agg_sql(&q, d->every, src.failed ? "" : src.data);
        }
        rc = q.failed || src.failed ? DUCKPOND_NOMEM : exec_sql(c, q.data, NULL, &added, d->bar_table, msg);
        dp_buf_free(&src);
        dp_buf_truncate(&q, 0);
        if (rc == DUCKPOND_OK) {
            view_sql(&q, d, col, end, true);
            dp_buf_printf(&q,
                          "; UPDATE main.duckpond_bars SET mark = %lld WHERE tick_schema = ", (long long)end);
            dp_sql_literal(&q, d->tick_schema, strlen(d->tick_schema));
            dp_buf_printf(&q, " AND bar_table = ");
            dp_sql_literal(&q, d->bar_table, strlen(d->bar_table));
            rc = exec_sql(c, q.failed ? NULL : q.data, NULL, NULL, d->bar_table, msg);
        }
    }
    dp_buf_free(&q);
    if (rc != DUCKPOND_OK)
        return rc;
    d->pending = 0;
    d->parts_added += added;
    d->flushed = true;
    d->flushed_mark = mark;
    d->flushed_end = end;
    return DUCKPOND_OK;
}

/*
 * The finer bar of t flushed before t->bars[i] whose buckets nest in its
 * own (both intervals without days or months, the coarser a multiple,
 * the same tick columns), or NULL.
 */
static const struct bar_decl *finer_of(const struct target *t, int i)
{
    const struct bar_decl *d = t->bars[i];
    for (int k = i - 1; k >= 0 && d->every_us > 0; k--) {
        const struct bar_decl *f = t->bars[k];
        bool same = true;
        for (int c = 0; c < 4; c++)
            same = same && strcmp(f->col[c], d->col[c]) == 0;
        if (same && f->every_us > 0 && d->every_us % f->every_us == 0)
            return f;
    }
    return NULL;
}

bool batcher_bars_due(const struct target *t)
{
    for (int i = 0; i < t->nbars; i++)
        if (t->bars[i]->pending >= t->bars[i]->flush_rows)
            return true;
    return false;
}

int batcher_bars_before(struct scanner *sc, struct target *t, char **msg)
{
    if (!batcher_bars_due(t))
        return DUCKPOND_OK;
    /* all of t's bars at once, finest first, so that coarser ones derive from finer parts */
    int rc = DUCKPOND_OK;
    for (int i = 0; i < t->nbars; i++)
        t->bars[i]->flushed = false;
    for (int i = 0; i < t->nbars && rc == DUCKPOND_OK; i++)
        rc = flush(sc->conn, t->bars[i], finer_of(t, i), msg);
    /* then compaction, which would mix older parts into those the coarser bars read */
    for (int i = 0; i < t->nbars && rc == DUCKPOND_OK; i++) {
        struct bar_decl *d = t->bars[i];
        int64_t left = 0;
        if (d->parts_added < d->flush_rows / 16 || d->parts_added < COMPACT_FACTOR * d->parts_base)
            continue;
        if ((rc = compact(sc->conn, d, &left, msg)) == DUCKPOND_OK) {
            d->parts_base = left;
            d->parts_added = 0;
        }
    }
    return rc;
}

void batcher_bars_added(struct target *t, int64_t rows)
{
    for (int i = 0; i < t->nbars; i++)
        t->bars[i]->pending += rows;
}

/* ------------------------------------------------ declaring, on the writer */

/* Runs sql on the writer's connection; DuckDB's message in req on failure. */
static int run(duckpond_batcher *b, struct bars_req *req, const char *sql)
{
    if (!sql)
        return DUCKPOND_NOMEM;
    int rc = batcher_writer_exec(b, sql, &req->msg);
    return rc;
}

/* The label of an interval in a bar table's name (1s, 5m, 1h, 1d, 250ms), or -1 if not a positive interval. */
static int interval_label(duckpond_batcher *b, struct bars_req *req, const char *every, char *out, size_t len)
{
    struct dp_buf q = DP_BUF_INIT;
    dp_buf_printf(&q, "SELECT CAST(epoch_us(TIMESTAMP '1970-01-01' + CAST(");
    dp_sql_literal(&q, every, strlen(every));
    dp_buf_printf(&q, " AS INTERVAL)) AS BIGINT)");
    int64_t us = 0;
    int rc = q.failed ? DUCKPOND_NOMEM : duckpond_query_int64(b->conn, q.data, &us);
    dp_buf_free(&q);
    if (rc != DUCKPOND_OK || us <= 0) {
        req->msg = dp_asprintf("duckpond_bars: \"%s\" is not a positive interval%s%s", every,
                               rc != DUCKPOND_OK ? ": " : "",
                               rc != DUCKPOND_OK ? duckpond_conn_errmsg(b->conn) : "");
        return -1;
    }
    static const struct {
        int64_t us;
        const char *unit;
    } units[] = {{86400000000, "d"}, {3600000000, "h"}, {60000000, "m"},
                 {1000000, "s"},     {1000, "ms"},      {1, "us"}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (us % units[i].us == 0) {
            snprintf(out, len, "%lld%s", (long long)(us / units[i].us), units[i].unit);
            break;
        }
    return 0;
}

/* The tick table's schema and name as the catalog stores them, into schema/table (malloc'd). */
static int resolve_table(duckpond_batcher *b, struct bars_req *req, char **schema, char **table)
{
    const char *dot = strchr(req->table, '.');
    struct dp_buf q = DP_BUF_INIT;
    dp_buf_printf(&q, "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
                      "current_database() AND lower(table_name) = lower(");
    dp_sql_literal(&q, dot ? dot + 1 : req->table, strlen(dot ? dot + 1 : req->table));
    if (dot) {
        char *s = strndup(req->table, (size_t)(dot - req->table));
        dp_buf_printf(&q, ") AND lower(schema_name) = lower(");
        dp_sql_literal(&q, s ? s : "", strlen(s ? s : ""));
        free(s);
        dp_buf_printf(&q, ")");
    } else {
        dp_buf_printf(&q, ") AND schema_name = current_schema()");
    }
    duckdb_result res;
    int rc = DUCKPOND_NOTFOUND;
    if (q.failed) {
        rc = DUCKPOND_NOMEM;
    } else if (duckdb_query(duckpond_conn_duckdb(b->conn), q.data, &res) == DuckDBSuccess) {
        if (duckdb_row_count(&res) == 1) {
            *schema = cell(&res, 0, 0);
            *table = cell(&res, 1, 0);
            rc = *schema && *table ? DUCKPOND_OK : DUCKPOND_NOMEM;
        }
        duckdb_destroy_result(&res);
    } else {
        duckdb_destroy_result(&res);
        rc = DUCKPOND_ERROR;
    }
    dp_buf_free(&q);
    if (rc == DUCKPOND_NOTFOUND)
        req->msg = dp_asprintf("duckpond_bars: no table \"%s\"", req->table);
    return rc;
}

/* Whether bar table `bar` of schema is declared already (then nothing is made again). */
static bool declared(duckpond_batcher *b, const char *schema, const char *bar)
{
    for (size_t i = 0; i < b->nbars; i++)
        if (strcmp(b->bars[i].tick_schema, schema) == 0 && strcmp(b->bars[i].bar_table, bar) == 0)
            return true;
    return false;
}

/*
 * Makes the bars of the tick table schema.table at one interval: the
 * parts table, filled from the ticks there before rowid mark (all of
 * them), and the view merging it with the ticks from mark on; and records
 * them in duckpond_bars.
 */
static int declare_one(duckpond_batcher *b, struct bars_req *req, const char *schema, const char *table,
                       const char *every, const char *bar, int64_t mark)
{
    struct bar_decl d = {.tick_schema = (char *)schema,
                         .tick_table = (char *)table,
                         .bar_table = (char *)bar,
                         .every = (char *)every,
                         .parts_table = dp_asprintf("%s_parts", bar)};
    const char *col[4] = {req->col[0], req->col[1], req->col[2], req->col[3]};
    struct dp_buf src = DP_BUF_INIT, q = DP_BUF_INIT;
    ticks_src(&src, &d, col, 0, mark);
    dp_buf_printf(&q, "CREATE TABLE ");
    qualified(&q, schema, d.parts_table ? d.parts_table : "");
    dp_buf_printf(&q, " AS ");
    agg_sql(&q, every, src.failed ? "" : src.data);
    int rc = q.failed || src.failed || !d.parts_table ? DUCKPOND_NOMEM : run(b, req, q.data);
    dp_buf_free(&q);
    dp_buf_free(&src);
    if (rc == DUCKPOND_OK) {
        view_sql(&q, &d, col, mark, false);
        rc = q.failed ? DUCKPOND_NOMEM : run(b, req, q.data);
        dp_buf_free(&q);
    }
    free(d.parts_table);
    if (rc == DUCKPOND_OK) {
        const char *vals[8] = {schema, table, bar, every, req->col[0], req->col[1], req->col[2], req->col[3]};
        dp_buf_printf(&q, "INSERT INTO main.duckpond_bars VALUES (");
        for (int i = 0; i < 8; i++) {
            dp_sql_literal(&q, vals[i], strlen(vals[i]));
            dp_buf_printf(&q, ", ");
        }
        dp_buf_printf(&q, "%lld, %lld)", (long long)mark, (long long)req->flush_rows);
        rc = q.failed ? DUCKPOND_NOMEM : run(b, req, q.data);
        dp_buf_free(&q);
    }
    return rc;
}

/* The declaration of req, in one transaction of the writer's: the answer in req. */
static void declare(duckpond_batcher *b, struct bars_req *req)
{
    char *schema = NULL, *table = NULL;
    req->out = calloc(req->nevery * 2 + 1, sizeof *req->out);
    int rc = req->out ? batcher_writer_tx(b, TX_BEGIN, &req->msg) : DUCKPOND_NOMEM;
    if (rc == DUCKPOND_OK)
        rc = run(b, req,
                 "CREATE TABLE IF NOT EXISTS main.duckpond_bars (tick_schema VARCHAR, tick_table VARCHAR, "
                 "bar_table VARCHAR, every VARCHAR, ts_col VARCHAR, symbol_col VARCHAR, price_col VARCHAR, "
                 "size_col VARCHAR, mark BIGINT, flush_rows BIGINT)");
    if (rc == DUCKPOND_OK)
        rc = resolve_table(b, req, &schema, &table);
    int64_t mark = 0; /* the rowid after the last tick: the bars' parts take those before */
    if (rc == DUCKPOND_OK) {
        struct dp_buf q = DP_BUF_INIT;
        dp_buf_printf(&q, "SELECT coalesce(max(rowid) + 1, 0) FROM ");
        qualified(&q, schema, table);
        rc = q.failed ? DUCKPOND_NOMEM
                      : exec_sql(duckpond_conn_duckdb(b->conn), q.data, &mark, NULL, table, &req->msg);
        dp_buf_free(&q);
    }
    for (size_t i = 0; i < req->nevery && rc == DUCKPOND_OK; i++) {
        char label[40];
        if (interval_label(b, req, req->every[i], label, sizeof label) != 0) {
            rc = DUCKPOND_MISUSE;
            break;
        }
        char *bar = dp_asprintf("%s_bars_%s", table, label);
        if (!bar) {
            rc = DUCKPOND_NOMEM;
            break;
        }
        if (!declared(b, schema, bar))
            rc = declare_one(b, req, schema, table, req->every[i], bar, mark);
        req->out[2 * i] = bar;
        req->out[2 * i + 1] = strdup(req->every[i]);
    }
    if (rc == DUCKPOND_OK)
        rc = batcher_writer_tx(b, TX_COMMIT, &req->msg);
    else if (req->out)
        batcher_writer_tx(b, TX_ROLLBACK, NULL);
    free(schema);
    free(table);
    /* the targets made before know nothing of the new bars; nor, after a failure, of what is left */
    batcher_targets_drop(b);
    int lrc = batcher_bars_load(b);
    if (rc == DUCKPOND_OK && lrc != DUCKPOND_OK) {
        rc = lrc;
        req->msg = strdup(duckpond_conn_errmsg(b->conn));
    }
    req->rc = rc;
}

void batcher_bars_serve(duckpond_batcher *b)
{
    struct bars_req *req = b->bars_req;
    pthread_mutex_unlock(&b->mu);
    declare(b, req);
    pthread_mutex_lock(&b->mu);
    b->bars_req = NULL;
    req->done = true;
    pthread_cond_broadcast(&b->bars_done);
}

/* Hands req to b's writer and waits for its answer (fn->mu held: b stays). */
static void submit(duckpond_batcher *b, struct bars_req *req)
{
    pthread_mutex_lock(&b->mu);
    while (b->bars_req && !b->stopping)
        pthread_cond_wait(&b->bars_done, &b->mu);
    if (b->stopping) {
        req->rc = DUCKPOND_CLOSED;
        req->msg = strdup("duckpond_bars: the batcher is stopping");
    } else {
        b->bars_req = req;
        pthread_cond_signal(&b->work);
        while (!req->done)
            pthread_cond_wait(&b->bars_done, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------ the table function */

static void req_free(void *p)
{
    struct bars_req *req = p;
    if (!req)
        return;
    free(req->table);
    for (int k = 0; k < 4; k++)
        free(req->col[k]);
    for (size_t i = 0; i < req->nevery; i++)
        free(req->every[i]);
    free(req->every);
    free(req->msg);
    for (size_t i = 0; req->out && req->out[i]; i++)
        free(req->out[i]);
    free(req->out);
    free(req);
}

/* A named VARCHAR argument, or def. */
static char *named_text(duckdb_bind_info info, const char *name, const char *def)
{
    duckdb_value v = duckdb_bind_get_named_parameter(info, name);
    char *out = NULL;
    if (v && !duckdb_is_null_value(v)) {
        char *s = duckdb_get_varchar(v);
        out = s ? strdup(s) : NULL;
        duckdb_free(s);
    } else {
        out = strdup(def);
    }
    if (v)
        duckdb_destroy_value(&v);
    return out;
}

/* The intervals of `every` (a list of text, or one text) into req; false if none or out of memory. */
static bool bind_every(duckdb_bind_info info, struct bars_req *req)
{
    duckdb_value v = duckdb_bind_get_named_parameter(info, "every");
    size_t cap = 0;
    bool ok = true;
    if (!v || duckdb_is_null_value(v)) {
        static const char *const def[2] = {"1 second", "1 minute"};
        for (int i = 0; i < 2 && ok; i++)
            ok = dp_grow(&req->every, &cap, req->nevery + 1, sizeof *req->every) == 0 &&
                 (req->every[req->nevery++] = strdup(def[i])) != NULL;
    } else {
        duckdb_logical_type lt = duckdb_get_value_type(v);
        bool list = duckdb_get_type_id(lt) == DUCKDB_TYPE_LIST;
        idx_t n = list ? duckdb_get_list_size(v) : 1;
        for (idx_t i = 0; i < n && ok; i++) {
            duckdb_value e = list ? duckdb_get_list_child(v, i) : v;
            char *s = duckdb_get_varchar(e);
            ok = s && dp_grow(&req->every, &cap, req->nevery + 1, sizeof *req->every) == 0 &&
                 (req->every[req->nevery++] = strdup(s)) != NULL;
            duckdb_free(s);
            if (list)
                duckdb_destroy_value(&e);
        }
    }
    if (v)
        duckdb_destroy_value(&v);
    return ok && req->nevery > 0;
}

/* Bind: the arguments into a request; the answer's columns. */
static void fn_bind(duckdb_bind_info info)
{
    struct bars_req *req = calloc(1, sizeof *req);
    duckdb_value t = duckdb_bind_get_parameter(info, 0);
    char *table = t ? duckdb_get_varchar(t) : NULL;
    if (t)
        duckdb_destroy_value(&t);
    bool ok = req && table && (req->table = strdup(table)) != NULL;
    duckdb_free(table);
    for (int k = 0; k < 4 && ok; k++)
        ok = (req->col[k] = named_text(info, col_role[k], col_role[k])) != NULL;
    duckdb_value fr = ok ? duckdb_bind_get_named_parameter(info, "flush_rows") : NULL;
    req->flush_rows = BARS_FLUSH_ROWS;
    if (fr && !duckdb_is_null_value(fr))
        req->flush_rows = duckdb_get_int64(fr);
    if (fr)
        duckdb_destroy_value(&fr);
    if (req && req->flush_rows < 1)
        ok = false;
    if (!ok || !bind_every(info, req)) {
        duckdb_bind_set_error(info,
                              "duckpond_bars: needs a table name, at least one interval in every, and a "
                              "positive flush_rows");
        req_free(req);
        return;
    }
    duckdb_bind_set_bind_data(info, req, req_free);
    static const char *const cols[3] = {"tick_table", "bar_table", "every"};
    duckdb_logical_type vc = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    for (int i = 0; i < 3; i++)
        duckdb_bind_add_result_column(info, cols[i], vc);
    duckdb_destroy_logical_type(&vc);
}

/* Init: a flag that the one answer was given. */
static void fn_init(duckdb_init_info info)
{
    bool *sent = calloc(1, sizeof *sent);
    duckdb_init_set_init_data(info, sent, free);
    duckdb_init_set_max_threads(info, 1);
}

/* The declaration itself, on the first call: handed to the writer; its answer as rows. */
static void fn_run(duckdb_function_info info, duckdb_data_chunk out)
{
    bool *sent = duckdb_function_get_init_data(info);
    struct bars_req *req = duckdb_function_get_bind_data(info);
    struct bars_fn *fn = duckdb_function_get_extra_info(info);
    if (!sent || *sent) {
        duckdb_data_chunk_set_size(out, 0);
        return;
    }
    *sent = true;
    free(req->msg);
    req->msg = NULL;
    req->done = false;
    pthread_mutex_lock(&fn->mu);
    if (fn->b) {
        submit(fn->b, req);
    } else {
        req->rc = DUCKPOND_CLOSED;
        req->msg = strdup("duckpond_bars: no ingest batcher runs on this database");
    }
    pthread_mutex_unlock(&fn->mu);
    if (req->rc != DUCKPOND_OK) {
        duckdb_function_set_error(info, req->msg ? req->msg : duckpond_strerror(req->rc));
        return;
    }
    for (size_t i = 0; i < req->nevery; i++) {
        duckdb_vector_assign_string_element(duckdb_data_chunk_get_vector(out, 0), i, req->table);
        duckdb_vector_assign_string_element(duckdb_data_chunk_get_vector(out, 1), i, req->out[2 * i]);
        duckdb_vector_assign_string_element(duckdb_data_chunk_get_vector(out, 2), i, req->out[2 * i + 1]);
    }
    duckdb_data_chunk_set_size(out, req->nevery);
    for (size_t i = 0; req->out[i]; i++)
        free(req->out[i]);
    free(req->out);
    req->out = NULL;
}

static void fn_free(void *p)
{
    struct bars_fn *fn = p;
    pthread_mutex_destroy(&fn->mu);
    free(fn);
}

/* Registers duckpond_bars once per database (DuckDB owns it from then on); NULL if it could not be. */
static struct bars_fn *fn_register(duckpond_batcher *b)
{
    struct bars_fn *fn = calloc(1, sizeof *fn);
    if (!fn)
        return NULL;
    pthread_mutex_init(&fn->mu, NULL);
    duckdb_table_function f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, "duckpond_bars");
    duckdb_logical_type vc = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    duckdb_logical_type any = duckdb_create_logical_type(DUCKDB_TYPE_ANY);
    duckdb_table_function_add_parameter(f, vc);
    for (int k = 0; k < 4; k++)
        duckdb_table_function_add_named_parameter(f, col_role[k], vc);
    duckdb_table_function_add_named_parameter(f, "every", any);
    duckdb_logical_type big = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_table_function_add_named_parameter(f, "flush_rows", big);
    duckdb_destroy_logical_type(&big);
    duckdb_destroy_logical_type(&vc);
    duckdb_destroy_logical_type(&any);
    duckdb_state st = batcher_table_function_register(duckpond_conn_duckdb(b->conn), f, fn, fn_free, fn_bind,
                                                      fn_init, fn_run);
    return st == DuckDBError ? NULL : fn; /* on failure fn went with the function */
}

int batcher_bars_start(duckpond_batcher *b)
{
    struct dp_bars_names *n = &b->db->bars_names;
    pthread_mutex_lock(&n->mu);
    if (!n->fn)
        n->fn = fn_register(b);
    struct bars_fn *fn = n->fn;
    pthread_mutex_unlock(&n->mu);
    if (fn) {
        pthread_mutex_lock(&fn->mu);
        if (!fn->b)
            fn->b = b; /* the first batcher of the database serves declarations */
        pthread_mutex_unlock(&fn->mu);
    }
    return batcher_bars_load(b);
}

void batcher_bars_stop(duckpond_batcher *b)
{
    struct dp_bars_names *n = &b->db->bars_names;
    pthread_mutex_lock(&n->mu);
    struct bars_fn *fn = n->fn;
    pthread_mutex_unlock(&n->mu);
    if (fn) {
        pthread_mutex_lock(&fn->mu); /* waits for a declaration b serves now */
        if (fn->b == b)
            fn->b = NULL;
        pthread_mutex_unlock(&fn->mu);
    }
}

void batcher_bars_destroy(duckpond_batcher *b)
{
    batcher_bars_free(b);
    pthread_cond_destroy(&b->bars_done);
}

/* ------------------------------------------------ the guard */

int duckpond_bars_check(duckpond_conn *conn, const char *sql)
{
    if (!conn || !sql)
        return DUCKPOND_MISUSE;
    struct dp_bars_names *n = &conn->db->bars_names;
    if (!__atomic_load_n(&n->any, __ATOMIC_ACQUIRE))
        return DUCKPOND_OK;
    char schema[128], table[128];
    if (!sqllex_write_target(sql, schema, sizeof schema, table, sizeof table))
        return DUCKPOND_OK; /* no table written by name */
    int rc = DUCKPOND_OK;
    pthread_mutex_lock(&n->mu);
    for (size_t k = 0; k < n->count && rc == DUCKPOND_OK; k++)
        if (strcasecmp(n->names[k], table) == 0)
            rc = DUCKPOND_READONLY;
    pthread_mutex_unlock(&n->mu);
    if (rc != DUCKPOND_OK)
        dp_set_msg(
            &conn->errmsg,
            "table \"%s\" takes part in live bars (duckpond_bars), which only the ingest batcher keeps: write "
            "ticks by INSERT ... VALUES outside a transaction, or HTTP or line-protocol ingest; INSERT "
            "... SELECT, UPDATE, DELETE, COPY and writes inside a transaction are refused",
            table);
    return rc;
}
