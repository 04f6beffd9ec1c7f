/*
 * append.c -- rows into DuckDB Appenders, for what the batch scan cannot
 * take: tables with more columns than it handles (MASK_COLS), or whose
 * INSERT could not be prepared. Rows holding DEFAULT values go to one
 * Appender per set of columns they leave out; a row of DEFAULTs alone,
 * to INSERT ... DEFAULT VALUES.
 *
 * Every value was checked with DuckDB's casts (check.c) before it gets
 * here: a failed Appender call leaves half a row that cannot be taken
 * back. The Appenders an attempt used are remembered so that its commit
 * can flush them, or a failure throw their rows away.
 */
#include <stdlib.h>
#include <string.h>

#include "batcher_int.h"

/* Appends val (destroyed here), which the Appender casts to the column's type. */
static duckdb_state append_owned(duckdb_appender a, duckdb_value val)
{
    duckdb_state st = duckdb_append_value(a, val);
    duckdb_destroy_value(&val);
    return st;
}

/* Appends one converted, checked value to column c. */
static duckdb_state append_value(duckdb_appender a, const struct batcher_col *c, const struct bval *v,
                                 const char *text)
{
    if (v->kind == DUCKPOND_VALUE_NULL)
        return duckdb_append_null(a);
    if (v->kind == DUCKPOND_VALUE_DEFAULT)
        return duckdb_append_default(a);
    struct cval cv;
    if (batcher_convert(c, v, text, &cv) != CV_OK)
        return append_owned(a, batcher_make_value(c->type, v, text));
    switch (c->type) {
    case DUCKDB_TYPE_BOOLEAN: return duckdb_append_bool(a, cv.v.b);
    case DUCKDB_TYPE_TINYINT: return duckdb_append_int8(a, (int8_t)cv.v.i);
    case DUCKDB_TYPE_SMALLINT: return duckdb_append_int16(a, (int16_t)cv.v.i);
    case DUCKDB_TYPE_INTEGER: return duckdb_append_int32(a, (int32_t)cv.v.i);
    case DUCKDB_TYPE_BIGINT: return duckdb_append_int64(a, cv.v.i);
    case DUCKDB_TYPE_UTINYINT: return duckdb_append_uint8(a, (uint8_t)cv.v.i);
    case DUCKDB_TYPE_USMALLINT: return duckdb_append_uint16(a, (uint16_t)cv.v.i);
    case DUCKDB_TYPE_UINTEGER: return duckdb_append_uint32(a, (uint32_t)cv.v.i);
    case DUCKDB_TYPE_UBIGINT: return duckdb_append_uint64(a, cv.v.u);
    case DUCKDB_TYPE_FLOAT: return duckdb_append_float(a, (float)cv.v.d);
    case DUCKDB_TYPE_DOUBLE: return duckdb_append_double(a, cv.v.d);
    case DUCKDB_TYPE_VARCHAR: return duckdb_append_varchar_length(a, cv.s, cv.slen);
    case DUCKDB_TYPE_TIMESTAMP: return duckdb_append_timestamp(a, (duckdb_timestamp){cv.v.i});
    case DUCKDB_TYPE_DATE: return duckdb_append_date(a, (duckdb_date){(int32_t)cv.v.i});
    case DUCKDB_TYPE_TIME: return duckdb_append_time(a, (duckdb_time){cv.v.i});
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        return append_owned(a, duckdb_create_timestamp_tz((duckdb_timestamp){cv.v.i}));
    case DUCKDB_TYPE_DECIMAL: {
        duckdb_hugeint h = {(uint64_t)cv.v.dec, (int64_t)(cv.v.dec >> 64)};
        return append_owned(a, duckdb_create_decimal((duckdb_decimal){c->width, c->scale, h}));
    }
    default: return DuckDBError; /* batcher_convert gives CV_OK for the types above only */
    }
}

int batcher_appender_fail(duckdb_appender a, char **msg)
{
    duckdb_error_data e = duckdb_appender_error_data(a);
    const char *m = duckdb_error_data_has_error(e) ? duckdb_error_data_message(e) : "appender failed";
    int rc = duckpond_classify(duckdb_error_data_error_type(e), m);
    *msg = strdup(m);
    duckdb_destroy_error_data(&e);
    return rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
}

/* True when mask leaves out every column of t (the row is all DEFAULT). */
static bool mask_all(const struct target *t, uint64_t mask)
{
    for (int i = 0; i < t->ncols; i++)
        if (i >= MASK_COLS || !((mask >> i) & 1))
            return false;
    return true;
}

/* Notes that slot holds rows of the current attempt. */
static int mark_used(duckpond_batcher *b, struct tapp *slot)
{
    if (slot->used)
        return DUCKPOND_OK;
    if (dp_grow(&b->used, &b->cap_used, b->nused + 1, sizeof *b->used) != 0)
        return DUCKPOND_NOMEM;
    b->used[b->nused++] = slot;
    slot->used = true;
    return DUCKPOND_OK;
}

/* The slot of t for rows whose DEFAULT columns are mask, or NULL (made by target_app). */
static struct tapp *slot_find(const struct target *t, uint64_t mask)
{
    for (size_t i = 0; i < t->napps; i++)
        if (t->apps[i]->mask == mask)
            return t->apps[i];
    return NULL;
}

/*
 * The appender slot of t for rows whose DEFAULT columns are mask, made on
 * demand, and marked used. Its app is NULL when every column is DEFAULT.
 */
static struct tapp *target_app(duckpond_batcher *b, struct target *t, uint64_t mask, int *rc, char **msg)
{
    struct tapp *slot = slot_find(t, mask);
    if (!slot) {
        slot = calloc(1, sizeof *slot);
        if (!slot || dp_grow(&t->apps, &t->cap_apps, t->napps + 1, sizeof *t->apps) != 0) {
            free(slot);
            *rc = DUCKPOND_NOMEM;
            return NULL;
        }
        slot->mask = mask;
        t->apps[t->napps++] = slot;
    }
    if (!slot->app && !mask_all(t, mask)) {
        *rc = batcher_target_appender(duckpond_conn_duckdb(b->conn), t, mask, &slot->app, msg);
        if (*rc != DUCKPOND_OK)
            return NULL;
    }
    *rc = mark_used(b, slot);
    return *rc == DUCKPOND_OK ? slot : NULL;
}

/* Appends row r of w (checked already) to its target. */
static int append_row(duckpond_batcher *b, duckpond_write *w, size_t r, char **msg)
{
    struct target *t = w->tgt;
    const struct bval *row = w->vals + r * (size_t)w->ncols;
    uint64_t mask = 0;
    if (w->has_default)
        for (int i = 0; i < w->ncols && i < MASK_COLS; i++)
            if (row[i].kind == DUCKPOND_VALUE_DEFAULT)
                mask |= 1ULL << i;
    int rc;
    struct tapp *slot = b->last_slot;
    if (!slot || b->last_target != t || slot->mask != mask) {
        if (!(slot = target_app(b, t, mask, &rc, msg)))
            return rc;
        b->last_slot = slot, b->last_target = t;
    }
    if (!slot->app) {
        char *sql = dp_asprintf("INSERT INTO %s DEFAULT VALUES", t->sql_name);
        rc = sql ? batcher_writer_exec(b, sql, msg) : DUCKPOND_NOMEM;
        free(sql);
        return rc;
    }
    for (int i = 0; i < w->ncols; i++) {
        if (i < MASK_COLS && (mask >> i) & 1)
            continue;
        if (append_value(slot->app, &t->cols[i], &row[i], w->text) == DuckDBError)
            return batcher_appender_fail(slot->app, msg);
    }
    if (duckdb_appender_end_row(slot->app) == DuckDBError)
        return batcher_appender_fail(slot->app, msg);
    return DUCKPOND_OK;
}

int batcher_append_segs(duckpond_batcher *b, const struct seg *segs, size_t n, char **msg)
{
    b->nused = 0;
    b->last_slot = NULL;
    int rc = DUCKPOND_OK;
    for (size_t s = 0; s < n && rc == DUCKPOND_OK; s++) {
        duckpond_write *w = segs[s].w;
        for (size_t r = segs[s].lo; r < segs[s].hi && rc == DUCKPOND_OK; r++)
            if (!w->bad[r])
                rc = append_row(b, w, r, msg);
    }
    return rc;
}

int batcher_append_flush(duckpond_batcher *b, char **msg)
{
    for (size_t i = 0; i < b->nused; i++)
        if (b->used[i]->app && duckdb_appender_flush(b->used[i]->app) == DuckDBError)
            return batcher_appender_fail(b->used[i]->app, msg);
    return DUCKPOND_OK;
}

void batcher_append_done(duckpond_batcher *b)
{
    for (size_t i = 0; i < b->nused; i++)
        b->used[i]->used = false;
    b->nused = 0;
}

/*
 * An appender cannot drop buffered rows, and destroying one flushes them:
 * so a transaction is opened if none is, made to fail (DuckDB then
 * refuses the flush), the appenders destroyed, and only then rolled back.
 */
void batcher_append_discard(duckpond_batcher *b, bool in_tx)
{
    if (!in_tx)
        batcher_writer_tx(b, TX_BEGIN, NULL);
    batcher_writer_exec(b, "SELECT error('batcher: discarding a failed group')", NULL);
    for (size_t i = 0; i < b->nused; i++) {
        if (b->used[i]->app)
            duckdb_appender_destroy(&b->used[i]->app);
        b->used[i]->used = false;
    }
    b->nused = 0;
    batcher_writer_tx(b, TX_ROLLBACK, NULL);
}
