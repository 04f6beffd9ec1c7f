/*
 * check.c -- rows checked against the columns they are bound for.
 *
 * Most values convert by our own rules (value.c, textparse.c). The rest
 * -- a UUID, an INTERVAL, a TIMESTAMPTZ without an offset, ' 5 ' for an
 * INTEGER -- only DuckDB's cast can judge, and the writer leaves them to
 * it: the batch scan hands them over as they are and the group's INSERT
 * casts each column whole (scan.c). Should DuckDB refuse one, the
 * group's first failure is followed by one query per target that names
 * every row whose value its cast refuses (batcher_check_failed_casts);
 * each such row then fails alone, with its column, its value and
 * DuckDB's message from one cast of that value, and the group goes again
 * without it. DuckDB runs a statement per value only there, on the
 * failure path, and in two rare cases: a write holding a value that can
 * never be stored (text that is not UTF-8) is checked whole, value by
 * value, so that its failures read as they always have; and a table too
 * wide for the batch scan goes through Appenders, which must never see a
 * bad value (a failed Appender call leaves half a row that cannot be
 * taken back).
 *
 * A journaled write is checked on its producer's thread before it is
 * journaled (batcher_check_journaled), against the catalog cache, so that
 * what the journal acknowledges converts: by our rules under the
 * catalog's read lock alone, which also vouch for the values DuckDB will
 * compute (CV_VALID). A value our rules cannot judge is the rare case:
 * it is cast by DuckDB on one of at most CASTERS_MAX connections kept
 * for that, under their own lock, while other producers and the writer
 * go on.
 */
#include <stdlib.h>
#include <string.h>

#include "batcher_int.h"

#define CASTERS_MAX 2 /* connections casting journaled values at once */

/* A connection that casts journaled values, with its prepared casts. */
struct caster {
    duckpond_conn *conn;
    struct cast *casts;
    uint64_t gen; /* the schema generation its casts were prepared in */
    struct caster *next;
};

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
 * any transaction), counted in b's values_cast_alone. Returns
 * DUCKPOND_OK, or the error class with DuckDB's message in *msg.
 */
static int generic_check(duckpond_batcher *b, duckdb_connection conn, struct cast **casts,
                         const struct batcher_col *col, const struct bval *v, const char *text, char **msg)
{
    __atomic_add_fetch(&b->values_cast_alone, 1, __ATOMIC_RELAXED);
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

/*
 * Checks that every value of row r of w converts to its column of cols,
 * with DuckDB's cast on conn (prepared once per type in *casts) where our
 * conversion cannot decide. DUCKPOND_OK, or a status with *msg (malloc'd):
 * "row N: column "c" (TYPE): cannot convert 'value': why".
 */
static int check_row(duckpond_batcher *b, duckdb_connection conn, struct cast **casts,
                     const struct batcher_col *cols, const duckpond_write *w, size_t r, char **msg)
{
    const struct bval *row = w->vals + r * (size_t)w->ncols;
    for (int i = 0; i < w->ncols; i++) {
        const struct batcher_col *c = &cols[i];
        if (batcher_always_converts(c->type, row[i].kind))
            continue;
        struct cval cv;
        enum conv_result cr = batcher_convert(c, &row[i], w->text, &cv);
        if (cr == CV_OK || cr == CV_VALID)
            continue;
        char shown[SHOW_MAX * 4 + 16], *why = NULL;
        int rc = DUCKPOND_CONVERSION;
        if (cr == CV_GENERIC)
            rc = generic_check(b, conn, casts, c, &row[i], w->text, &why);
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

/* Fails all of atomic write w with msg (taken): no row of it is written. */
static void fail_whole(duckpond_write *w, int rc, char *msg)
{
    batcher_write_fail_all(w, rc, msg);
    if (w->bad)
        memset(w->bad, 1, w->nrows);
}

/*
 * Checks every row of w not marked bad yet against cols (w->bad
 * allocated), value by value, recording the bad ones in w and marking
 * them; an atomic write with one bad row fails whole. Returns the number
 * of rows newly bad, or SIZE_MAX when the whole write failed.
 */
static size_t check_rows(duckpond_batcher *b, duckdb_connection conn, struct cast **casts,
                         const struct batcher_col *cols, duckpond_write *w)
{
    size_t nbad = 0;
    for (size_t r = 0; r < w->nrows; r++) {
        char *msg = NULL;
        if (w->bad[r])
            continue;
        int rc = check_row(b, conn, casts, cols, w, r, &msg);
        if (rc == DUCKPOND_OK)
            continue;
        if (w->flags & DUCKPOND_WRITE_ATOMIC) {
            fail_whole(w, rc, msg);
            return SIZE_MAX;
        }
        w->bad[r] = 1;
        nbad++;
        batcher_write_fail_row(w, r, rc, msg);
    }
    w->cast_checked = true;
    return nbad;
}

bool batcher_note_casts(struct target *t, const duckpond_write *w)
{
    bool never = false;
    const struct bval *v = w->vals;
    for (size_t r = 0; r < w->nrows; r++)
        for (int i = 0; i < w->ncols; i++, v++) {
            const struct batcher_col *c = &t->cols[i];
            if (batcher_always_converts(c->type, v->kind))
                continue;
            struct cval cv;
            enum conv_result cr = batcher_convert(c, v, w->text, &cv);
            if (cr == CV_BAD)
                never = true;
            else if (cr != CV_OK && i < MASK_COLS)
                t->casts[i] |= KIND_BIT(v->kind);
        }
    return never;
}

/*
 * Refuses a write to a table duckpond writes alone (the PostgreSQL sync's,
 * duckpond_db_protect): true when it was refused.
 */
static bool refuse_protected(duckpond_batcher *b, duckpond_write *w, const struct stored_name *n)
{
    if (!duckpond_db_protected(b->db, n->schema, n->table))
        return false;
    batcher_write_fail_all(w, DUCKPOND_PROTECTED,
                           dp_asprintf("table %s.%s is mirrored from PostgreSQL and read-only for clients",
                                       n->schema, n->table));
    return true;
}

bool batcher_check_write(duckpond_batcher *b, duckpond_write *w)
{
    int rc;
    char *msg = NULL;
    struct target *t = w->tgt = batcher_target_get(b, w, &rc, &msg);
    if (!t) {
        batcher_write_fail_all(w, rc, msg);
        return false;
    }
    if (refuse_protected(b, w, &t->stored))
        return false;
    if (!batcher_marks_alloc(w)) {
        batcher_write_fail_all(w, DUCKPOND_NOMEM, NULL);
        return false;
    }
    if (t->batch != b->batches) {
        t->batch = b->batches;
        memset(t->casts, 0, sizeof t->casts);
    }
    w->cast_checked = false;
    bool never = batcher_note_casts(t, w);
    if (!never && w->ncols <= MASK_COLS && !t->scan_failed)
        return w->nrows > 0; /* DuckDB's cast judges the rest in bulk, as the rows go in */
    size_t nbad = check_rows(b, duckpond_conn_duckdb(b->conn), &b->casts, t->cols, w);
    return nbad != SIZE_MAX && nbad < w->nrows;
}

void batcher_check_segs_whole(duckpond_batcher *b, const struct seg *segs, size_t n)
{
    for (size_t s = 0; s < n; s++)
        if (!segs[s].w->cast_checked && !segs[s].w->all_failed)
            check_rows(b, duckpond_conn_duckdb(b->conn), &b->casts, segs[s].w->tgt->cols, segs[s].w);
}

/* Fails row r of w if one of its values does not convert, as check_rows would; true if it did. */
static bool fail_if_bad(duckpond_batcher *b, const struct target *t, duckpond_write *w, size_t r)
{
    char *msg = NULL;
    if (w->bad[r])
        return false;
    int rc = check_row(b, duckpond_conn_duckdb(b->conn), &b->casts, t->cols, w, r, &msg);
    if (rc == DUCKPOND_OK)
        return false; /* DuckDB's TRY_CAST and CAST disagree: bisection will tell */
    if (w->flags & DUCKPOND_WRITE_ATOMIC) {
        fail_whole(w, rc, msg);
    } else {
        w->bad[r] = 1;
        batcher_write_fail_row(w, r, rc, msg);
    }
    return true;
}

bool batcher_check_failed_casts(duckpond_batcher *b, const struct seg *segs, size_t n)
{
    if (b->casts_probed)
        return false;
    b->casts_probed = true;
    bool failed = false;
    uint64_t mark = ++b->sc.attempts;
    for (size_t s = 0; s < n; s++) {
        struct target *t = segs[s].w->tgt;
        char *msg = NULL;
        if (t->mark == mark || t->batch != b->batches)
            continue;
        t->mark = mark;
        if (batcher_scan_probe(&b->sc, t, segs, n, &msg) != DUCKPOND_OK) {
            free(msg); /* the bisection finds the rows instead */
            continue;
        }
        for (size_t i = 0; i < b->sc.nrows; i++) {
            size_t si = (size_t)(b->sc.rows[i] >> 32), r = (size_t)(b->sc.rows[i] & 0xffffffffu);
            if (si < n && r < segs[si].w->nrows)
                failed |= fail_if_bad(b, t, segs[si].w, r);
        }
    }
    return failed;
}

/* ------------------------------------------------ journaled writes */

/*
 * Whether our conversion vouches for every value of w (converted, or
 * surely converted by DuckDB): then no DuckDB statement is needed.
 */
static bool converts_plainly(const struct batcher_col *cols, const duckpond_write *w)
{
    const struct bval *v = w->vals;
    for (size_t r = 0; r < w->nrows; r++)
        for (int i = 0; i < w->ncols; i++, v++) {
            struct cval cv;
            if (batcher_always_converts(cols[i].type, v->kind))
                continue;
            enum conv_result cr = batcher_convert(&cols[i], v, w->text, &cv);
            if (cr != CV_OK && cr != CV_VALID)
                return false;
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
 * A caster of b, waiting while CASTERS_MAX are in use; its casts are
 * dropped if the schema moved on since they were prepared. NULL, with
 * *rc, if no connection could be made.
 */
static struct caster *caster_take(duckpond_batcher *b, int *rc)
{
    struct casters *cs = &b->casters;
    pthread_mutex_lock(&cs->mu);
    while (!cs->free && cs->made >= CASTERS_MAX)
        pthread_cond_wait(&cs->idle, &cs->mu);
    struct caster *c = cs->free;
    if (c)
        cs->free = c->next;
    else
        cs->made++;
    pthread_mutex_unlock(&cs->mu);
    *rc = DUCKPOND_NOMEM;
    if (!c && (!(c = calloc(1, sizeof *c)) || (*rc = duckpond_connect(b->db, &c->conn)) != DUCKPOND_OK)) {
        free(c);
        pthread_mutex_lock(&cs->mu);
        cs->made--;
        pthread_cond_signal(&cs->idle);
        pthread_mutex_unlock(&cs->mu);
        return NULL;
    }
    uint64_t gen = batcher_schema_gen(b);
    if (c->gen != gen) {
        batcher_casts_free(&c->casts); /* a type they name may have changed */
        c->gen = gen;
    }
    return c;
}

static void caster_put(duckpond_batcher *b, struct caster *c)
{
    pthread_mutex_lock(&b->casters.mu);
    c->next = b->casters.free;
    b->casters.free = c;
    pthread_cond_signal(&b->casters.idle);
    pthread_mutex_unlock(&b->casters.mu);
}

void batcher_casters_close(duckpond_batcher *b)
{
    while (b->casters.free) {
        struct caster *c = b->casters.free;
        b->casters.free = c->next;
        batcher_casts_free(&c->casts);
        duckpond_disconnect(c->conn);
        free(c);
    }
    b->casters.made = 0;
}

int batcher_check_row_apart(duckpond_batcher *b, const struct batcher_col *cols, const duckpond_write *w,
                            size_t r, char **msg)
{
    int rc;
    struct caster *c = caster_take(b, &rc);
    if (!c) {
        *msg = dp_asprintf("cannot connect to check the values: %s", duckpond_strerror(rc));
        return rc;
    }
    rc = check_row(b, duckpond_conn_duckdb(c->conn), &c->casts, cols, w, r, msg);
    caster_put(b, c);
    return rc;
}

/*
 * Checks w value by value with DuckDB's casts on a caster (the catalog's
 * read lock held, so that cols stay valid). The number of rows newly bad,
 * or SIZE_MAX when the whole write failed.
 */
static size_t check_with_caster(duckpond_batcher *b, const struct batcher_col *cols, duckpond_write *w)
{
    if (!batcher_marks_alloc(w)) {
        batcher_write_fail_all(w, DUCKPOND_NOMEM, NULL);
        return SIZE_MAX;
    }
    int rc;
    struct caster *c = caster_take(b, &rc);
    if (!c) {
        batcher_write_fail_all(w, rc,
                               dp_asprintf("cannot connect to check the values: %s", duckpond_strerror(rc)));
        return SIZE_MAX;
    }
    size_t nbad = check_rows(b, duckpond_conn_duckdb(c->conn), &c->casts, cols, w);
    caster_put(b, c);
    return nbad;
}

/*
 * The catalog's read lock is taken for the columns (its write lock only
 * to read a table or column list not seen yet); our conversion decides
 * under it. A value it cannot judge is cast on a caster, the read lock
 * still held: other producers go on meanwhile, at most CASTERS_MAX of
 * them cast at once, and only a catalog reload waits.
 */
bool batcher_check_journaled(duckpond_batcher *b, duckpond_write *w)
{
    write_reset_results(w);
    int rc;
    char *msg = NULL;
    const struct cat_list *l = batcher_catalog_acquire(b, w, false, &rc, &msg);
    if (!l) {
        batcher_write_fail_all(w, rc, msg);
        return false;
    }
    if (refuse_protected(b, w, &l->table->stored)) {
        batcher_catalog_release(b);
        return false;
    }
    size_t nbad = 0;
    if (!converts_plainly(l->cols, w))
        nbad = check_with_caster(b, l->cols, w);
    batcher_catalog_release(b);
    return nbad != SIZE_MAX && nbad < w->nrows;
}
