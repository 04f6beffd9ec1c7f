/*
 * check.c -- rows checked against the columns they are bound for.
 *
 * A value reaches DuckDB only once it is known to convert to its column's
 * type: a failed Appender call leaves half a row that cannot be taken
 * back, so a bad value must fail its own row before anything is appended.
 * Most values convert by our own rules (value.c); for the rest -- text
 * bound for a TIMESTAMP, DECIMAL, DATE, UUID... column -- DuckDB's own
 * CAST decides, one value at a time, through a statement prepared once
 * per type on the connection that runs it.
 *
 * The writer checks each write of a group before committing it
 * (batcher_check_write); a journaled write is checked on its producer's
 * thread before it is journaled (batcher_check_journaled), against the
 * catalog cache, so that what the journal acknowledges converts.
 */
#include <stdlib.h>
#include <string.h>

#include "batcher_int.h"

/* ------------------------------------------------------------- casts */

void batcher_casts_free(struct cast **casts)
{
    while (*casts) {
        struct cast *c = *casts;
        *casts = c->next;
        duckdb_destroy_prepare(&c->stmt);
        free(c->type_name);
        free(c);
    }
}

/* The statement casting $1 to column c's type on conn, prepared on first need. NULL with *msg. */
static duckdb_prepared_statement cast_stmt(duckdb_connection conn, struct cast **casts,
                                           const struct batcher_col *col, char **msg)
{
    for (struct cast *c = *casts; c; c = c->next)
        if (strcmp(c->type_name, col->type_name) == 0)
            return c->stmt;
    struct cast *c = calloc(1, sizeof *c);
    char *sql = dp_asprintf("SELECT CAST($1 AS %s)", col->type_name);
    if (c && !(c->type_name = strdup(col->type_name))) {
        free(c);
        c = NULL;
    }
    duckdb_state st = c && sql ? duckdb_prepare(conn, sql, &c->stmt) : DuckDBError;
    free(sql);
    if (st == DuckDBError) {
        *msg = dp_asprintf("cannot convert to %s: %s", col->type_name,
                           c && c->stmt ? duckdb_prepare_error(c->stmt) : "out of memory");
        if (c) {
            if (c->stmt)
                duckdb_destroy_prepare(&c->stmt);
            free(c->type_name);
            free(c);
        }
        return NULL;
    }
    c->next = *casts;
    *casts = c;
    return c->stmt;
}

/*
 * Runs DuckDB's own CAST of a value to column col's type on conn (outside
 * any transaction). Returns DUCKPOND_OK, or the error class with DuckDB's
 * message in *msg.
 */
static int generic_check(duckdb_connection conn, struct cast **casts, const struct batcher_col *col,
                         const struct bval *v, const char *text, char **msg)
{
    duckdb_prepared_statement stmt = cast_stmt(conn, casts, col, msg);
    if (!stmt)
        return DUCKPOND_CONVERSION;
    duckdb_value val = batcher_make_value(col->type, v, text);
    duckdb_bind_value(stmt, 1, val);
    duckdb_destroy_value(&val);
    duckdb_result res;
    int rc = DUCKPOND_OK;
    if (duckdb_execute_prepared(stmt, &res) == DuckDBError) {
        rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        if (rc != DUCKPOND_INVALIDATED && rc != DUCKPOND_NOMEM)
            rc = DUCKPOND_CONVERSION;
        *msg = strdup(duckdb_result_error(&res));
    }
    duckdb_destroy_result(&res);
    return rc;
}

/* -------------------------------------------------------------- rows */

int batcher_check_row(duckdb_connection conn, struct cast **casts, const struct batcher_col *cols,
                      const duckpond_write *w, size_t r, char **msg)
{
    const struct bval *row = w->vals + r * (size_t)w->ncols;
    for (int i = 0; i < w->ncols; i++) {
        const struct batcher_col *c = &cols[i];
        if (batcher_always_converts(c->type, row[i].kind))
            continue;
        struct cval cv;
        enum conv_result cr = batcher_convert(c->type, &row[i], w->text, &cv);
        if (cr == CV_OK)
            continue;
        char shown[SHOW_MAX * 4 + 16], *why = NULL;
        int rc = DUCKPOND_CONVERSION;
        if (cr == CV_GENERIC)
            rc = generic_check(conn, casts, c, &row[i], w->text, &why);
        else
            why = strdup("not valid UTF-8");
        if (rc == DUCKPOND_OK)
            continue;
        batcher_show_value(&row[i], w->text, shown, sizeof shown);
        *msg = dp_asprintf("row %zu: column \"%s\" (%s): cannot convert %s: %s", r, c->name, c->type_name,
                           shown, why ? why : "out of memory");
        free(why);
        return rc;
    }
    return DUCKPOND_OK;
}

bool batcher_marks_alloc(duckpond_write *w)
{
    if (w->nrows <= INLINE_BAD) {
        memset(w->inl_bad, 0, sizeof w->inl_bad);
        w->bad = w->inl_bad;
    } else {
        w->bad = calloc(w->nrows, 1);
    }
    return w->bad != NULL;
}

void batcher_marks_release(duckpond_write *w)
{
    if (w->bad != w->inl_bad)
        free(w->bad);
    w->bad = NULL;
}

/*
 * Checks every row of w against cols, recording the bad ones in w and
 * marking them in w->bad (allocated here); an atomic write with one bad
 * row fails whole. Returns the number of bad rows, or SIZE_MAX when the
 * whole write failed.
 */
static size_t check_rows(duckdb_connection conn, struct cast **casts, const struct batcher_col *cols,
                         duckpond_write *w)
{
    if (!batcher_marks_alloc(w)) {
        batcher_write_fail_all(w, DUCKPOND_NOMEM, NULL);
        return SIZE_MAX;
    }
    size_t nbad = 0;
    for (size_t r = 0; r < w->nrows; r++) {
        char *msg = NULL;
        int rc = batcher_check_row(conn, casts, cols, w, r, &msg);
        if (rc == DUCKPOND_OK)
            continue;
        if (w->flags & DUCKPOND_WRITE_ATOMIC) {
            batcher_write_fail_all(w, rc, msg);
            return SIZE_MAX;
        }
        w->bad[r] = 1;
        nbad++;
        batcher_write_fail_row(w, r, rc, msg);
    }
    return nbad;
}

bool batcher_check_write(duckpond_batcher *b, duckpond_write *w)
{
    int rc;
    char *msg = NULL;
    w->tgt = batcher_target_get(b, w, &rc, &msg);
    if (!w->tgt) {
        batcher_write_fail_all(w, rc, msg);
        return false;
    }
    size_t nbad = check_rows(duckpond_conn_duckdb(b->conn), &b->casts, w->tgt->cols, w);
    if (nbad == SIZE_MAX)
        return false;
    w->plain = w->tgt->chunkable && !w->has_default && w->ncols <= MASK_COLS;
    struct cval cv[MASK_COLS];
    for (size_t r = 0; w->plain && r < w->nrows; r++)
        w->plain = w->bad[r] || batcher_row_convert(w->tgt->cols, w, r, cv);
    return nbad < w->nrows;
}

/* ------------------------------------------------ journaled writes */

/* Whether every value of w converts to cols without DuckDB's help. */
static bool converts_plainly(const struct batcher_col *cols, const duckpond_write *w)
{
    for (size_t r = 0; r < w->nrows; r++) {
        const struct bval *row = w->vals + r * (size_t)w->ncols;
        for (int i = 0; i < w->ncols; i++) {
            struct cval cv;
            if (!batcher_always_converts(cols[i].type, row[i].kind) &&
                batcher_convert(cols[i].type, &row[i], w->text, &cv) != CV_OK)
                return false;
        }
    }
    return true;
}

/* Forgets what an earlier, refused submit of w recorded. */
static void write_reset_results(duckpond_write *w)
{
    for (size_t i = 0; i < w->nfails; i++)
        free(w->fails[i].msg);
    w->nfails = 0;
    w->failed = w->committed = 0;
    w->status = 0;
    w->all_failed = false;
    batcher_marks_release(w);
}

/*
 * The common case takes the catalog's read lock only; a value that needs
 * DuckDB's cast, or a table or column list not seen yet, takes the write
 * lock (the casts run on the catalog connection).
 */
bool batcher_check_journaled(duckpond_batcher *b, duckpond_write *w)
{
    write_reset_results(w);
    int rc;
    char *msg = NULL;
    const struct cat_list *l = batcher_catalog_acquire(b, w, false, &rc, &msg);
    if (l) {
        bool plain = converts_plainly(l->cols, w);
        batcher_catalog_release(b);
        if (plain)
            return w->nrows > 0;
        l = batcher_catalog_acquire(b, w, true, &rc, &msg);
    }
    if (!l) {
        batcher_write_fail_all(w, rc, msg);
        return false;
    }
    size_t nbad = w->nrows ? check_rows(duckpond_conn_duckdb(b->cat.conn), &b->cat.casts, l->cols, w) : 0;
    batcher_catalog_release(b);
    return nbad != SIZE_MAX && nbad < w->nrows;
}
