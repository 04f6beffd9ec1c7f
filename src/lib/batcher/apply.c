/*
 * apply.c -- a write's rows on the caller's own connection, inside the
 * caller's transaction: duckpond_write_apply.
 *
 * The writer commits groups on its connection; a caller inside a
 * transaction wants its rows there instead, seen by its next statement
 * and gone with its ROLLBACK. The writer's means serve: values converted
 * by our rules where they can be (value.c, textparse.c), the rest handed
 * as they are to a CAST in the statement, and the rows going in by a
 * prepared INSERT ... SELECT over the batcher's batch scan (scan.c), run
 * on the caller's connection. What that needs is kept per connection, in
 * an applier hung on the duckpond_conn: a scanner registered with the
 * scan function, and the targets resolved on that connection (inside the
 * transaction that first met them, as it sees its tables) with their
 * prepared statements. They are dropped when the batcher's schema
 * generation moves on, and freed with the connection.
 *
 * All or none, and DuckDB's errors. Whatever can fail before DuckDB runs
 * the INSERT is found first and leaves the connection as it was: the
 * table and columns (a catalog read on the connection, which a missing
 * name does not abort), values that can never be stored, and values
 * DuckDB's cast refuses (one probe query with TRY_CAST, only for writes
 * holding values our conversion leaves to DuckDB; the message then comes
 * from a cast on one of the batcher's casters, outside the caller's
 * transaction). Then one INSERT takes every row -- or, for rows leaving
 * different columns to their DEFAULT, one per set of them, inside a
 * transaction of its own when the connection has none. A failed INSERT
 * leaves the transaction as DuckDB leaves it after a failed statement,
 * with DuckDB's message; should a later INSERT of the write fail after an
 * earlier one went in, the caller's transaction is aborted on purpose, so
 * that half the write can never be committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batcher_int.h"

#define APPLY_TARGETS_MAX 16 /* tables (and column lists) a connection keeps prepared */

/* What duckpond_write_apply keeps on one connection. */
struct applier {
    char fn_name[sizeof((duckpond_batcher *)0)->scan_name]; /* the batcher's scan function */
    struct scanner sc;
    struct target *targets; /* most recently used first */
    int ntargets;
    uint64_t gen;                        /* the schema generation the targets were resolved in */
    duckdb_prepared_statement cols_stmt; /* the catalog query, on this connection */
};

static void targets_clear(struct applier *a)
{
    while (a->targets) {
        struct target *t = a->targets;
        a->targets = t->next;
        batcher_target_free(t);
    }
    a->ntargets = 0;
}

/* Frees conn's applier: its statements first, while the connection is open. */
static void applier_free(duckpond_conn *conn)
{
    struct applier *a = conn->apply;
    if (!a)
        return;
    targets_clear(a);
    if (a->cols_stmt)
        duckdb_destroy_prepare(&a->cols_stmt);
    batcher_scanner_detach(&a->sc);
    free(a);
    conn->apply = NULL;
    conn->apply_free = NULL;
}

/*
 * conn's applier for writes of b, made on first need (and made anew for
 * another batcher's writes). NULL, with *rc and *msg, if it cannot be.
 */
static struct applier *applier_get(duckpond_conn *conn, duckpond_batcher *b, int *rc, char **msg)
{
    struct applier *a = conn->apply;
    if (a && strcmp(a->fn_name, b->scan_name) == 0)
        return a;
    applier_free(conn);
    if (!b->scan_fn) {
        *rc = DUCKPOND_ERROR;
        *msg = strdup("the batcher has no batch scan function");
        return NULL;
    }
    if (!(a = calloc(1, sizeof *a))) {
        *rc = DUCKPOND_NOMEM;
        return NULL;
    }
    snprintf(a->fn_name, sizeof a->fn_name, "%s", b->scan_name);
    a->gen = batcher_schema_gen(b);
    batcher_scanner_attach(&a->sc, b, conn->duck, &a->targets);
    conn->apply = a;
    conn->apply_free = applier_free;
    return a;
}

/*
 * w's target on a's connection: kept, or resolved there now (the least
 * recently used dropped past APPLY_TARGETS_MAX). NULL with *rc and *msg.
 */
static struct target *target_get(struct applier *a, const duckpond_write *w, int *rc, char **msg)
{
    for (struct target **p = &a->targets; *p; p = &(*p)->next) {
        struct target *t = *p;
        if (!batcher_key_matches(t->key, w))
            continue;
        *p = t->next;
        t->next = a->targets;
        a->targets = t;
        return t;
    }
    const struct cat_list *l;
    struct cat_table *ct = batcher_catalog_read_on(a->sc.conn, &a->cols_stmt, w, &l, rc, msg);
    if (!ct)
        return NULL;
    struct target *t = batcher_target_make(w, l, rc);
    batcher_catalog_table_free(ct);
    if (!t)
        return NULL;
    if (a->ntargets >= APPLY_TARGETS_MAX) {
        struct target **last = &a->targets;
        while ((*last)->next)
            last = &(*last)->next;
        batcher_target_free(*last);
        *last = NULL;
        a->ntargets--;
    }
    t->next = a->targets;
    a->targets = t;
    a->ntargets++;
    return t;
}

/* Runs sql on c; a status with *msg (DuckDB's, malloc'd, if msg) on failure. */
static int run_sql(duckdb_connection c, const char *sql, char **msg)
{
    duckdb_result res;
    int rc = DUCKPOND_OK;
    if (duckdb_query(c, sql, &res) == DuckDBError) {
        rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        rc = rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
        if (msg)
            *msg = strdup(duckdb_result_error(&res));
    }
    duckdb_destroy_result(&res);
    return rc;
}

/*
 * Whether c is inside a transaction: there every statement sees one
 * transaction id, in autocommit each its own (DuckDB cannot be asked).
 * An aborted transaction, where the query fails, is one too.
 */
static bool in_transaction(duckdb_connection c)
{
    int64_t id[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        duckdb_result res;
        if (duckdb_query(c, "SELECT txid_current()", &res) == DuckDBError) {
            duckdb_destroy_result(&res);
            return true;
        }
        id[i] = duckdb_value_int64(&res, 0, 0);
        duckdb_destroy_result(&res);
    }
    return id[0] == id[1];
}

/*
 * The checks made before anything is written: a value that can never be
 * stored (not UTF-8), else, when some value is left to DuckDB's cast, the
 * probe for values it refuses. DUCKPOND_OK, or the first bad row's status
 * and message (*msg) as the writer's check words it; *ran is set when the
 * probe's execution itself failed (which may abort the transaction).
 */
static int check_values(struct applier *a, duckpond_batcher *b, struct target *t, duckpond_write *w,
                        bool *ran, char **msg)
{
    memset(t->casts, 0, sizeof t->casts);
    bool never = batcher_note_casts(t, w), casts = false;
    for (int i = 0; i < t->ncols && i < MASK_COLS; i++)
        casts = casts || t->casts[i];
    if (never) { /* rare: find the row, value by value */
        for (size_t r = 0; r < w->nrows; r++) {
            int rc = batcher_check_row_apart(b, t->cols, w, r, msg);
            if (rc != DUCKPOND_OK)
                return rc;
        }
        return DUCKPOND_OK;
    }
    if (!casts)
        return DUCKPOND_OK;
    struct seg seg = {w, 0, w->nrows};
    uint64_t failed = a->sc.failed;
    int rc = batcher_scan_probe(&a->sc, t, &seg, 1, msg);
    if (rc != DUCKPOND_OK) {
        *ran = a->sc.failed != failed;
        return rc;
    }
    for (size_t i = 0; i < a->sc.nrows; i++) {
        size_t r = (size_t)(a->sc.rows[i] & 0xffffffffu);
        if (r < w->nrows && (rc = batcher_check_row_apart(b, t->cols, w, r, msg)) != DUCKPOND_OK)
            return rc;
    }
    return DUCKPOND_OK; /* DuckDB's TRY_CAST and CAST disagree: its INSERT will tell */
}

/*
 * Inserts every row of w (checked) into t on a's connection: one
 * statement, or several inside a transaction (its own when the connection
 * has none). *ran is set when an INSERT ran: the write went in, or the
 * transaction is as its failure left it.
 */
static int insert_rows(struct applier *a, struct target *t, duckpond_write *w, bool *ran, char **msg)
{
    struct seg seg = {w, 0, w->nrows};
    if (!batcher_scan_fits(&a->sc, &seg, 1)) {
        *msg = dp_asprintf("the INSERT of table \"%s\" cannot be prepared over the batch scan", w->table);
        return DUCKPOND_ERROR;
    }
    bool one = batcher_scan_one_statement(t, &seg, 1);
    bool own_tx = !one && !in_transaction(a->sc.conn);
    int rc = own_tx ? run_sql(a->sc.conn, batcher_tx_sql[TX_BEGIN], msg) : DUCKPOND_OK;
    if (rc != DUCKPOND_OK)
        return rc;
    uint64_t runs = a->sc.runs, failed = a->sc.failed;
    rc = batcher_scan_insert(&a->sc, t, &seg, 1, msg);
    *ran = rc == DUCKPOND_OK || a->sc.runs != runs;
    bool part = a->sc.runs - runs > a->sc.failed - failed; /* some statement of the write went in */
    if (rc == DUCKPOND_OK && own_tx)
        return run_sql(a->sc.conn, batcher_tx_sql[TX_COMMIT], msg); /* a failed COMMIT ends it too */
    if (rc != DUCKPOND_OK && own_tx)
        run_sql(a->sc.conn, batcher_tx_sql[TX_ROLLBACK], NULL);
    else if (rc != DUCKPOND_OK && part)
        run_sql(a->sc.conn, "SELECT error('duckpond_write_apply: the write failed part-way')", NULL);
    return rc;
}

/* Resolves, checks and inserts w on a's connection. DUCKPOND_OK, or a status with *msg. */
static int apply_rows(struct applier *a, duckpond_write *w, bool *ran, char **msg)
{
    duckpond_batcher *b = w->b;
    uint64_t gen = batcher_schema_gen(b);
    if (a->gen != gen) {
        targets_clear(a);
        a->gen = gen;
    }
    int rc;
    struct target *t = target_get(a, w, &rc, msg);
    if (!t)
        return rc;
    if (w->nrows == 0)
        return DUCKPOND_OK;
    if (t->ncols > MASK_COLS) {
        *msg = dp_asprintf("duckpond_write_apply writes at most %d columns; table \"%s\": %d", MASK_COLS,
                           w->table, t->ncols);
        return DUCKPOND_MISUSE;
    }
    if (!batcher_marks_alloc(w))
        return DUCKPOND_NOMEM;
    w->tgt = t;
    rc = check_values(a, b, t, w, ran, msg);
    if (rc == DUCKPOND_OK)
        rc = insert_rows(a, t, w, ran, msg);
    w->tgt = NULL;
    batcher_marks_release(w);
    if (rc != DUCKPOND_OK && rc != DUCKPOND_CONSTRAINT && rc != DUCKPOND_CONFLICT &&
        rc != DUCKPOND_CONVERSION)
        targets_clear(a); /* the schema may have changed under them */
    return rc;
}

int duckpond_write_apply(duckpond_conn *conn, duckpond_write *w, bool *ran)
{
    bool ran_local = false;
    if (!ran)
        ran = &ran_local;
    *ran = false;
    if (!conn || !w || __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != W_BUILDING)
        return DUCKPOND_MISUSE;
    int rc = w->poison;
    char *msg = NULL;
    if (rc == DUCKPOND_OK) {
        struct applier *a = applier_get(conn, w->b, &rc, &msg);
        if (a)
            rc = apply_rows(a, w, ran, &msg);
    } else {
        msg = w->errmsg ? strdup(w->errmsg) : NULL;
    }
    if (rc == DUCKPOND_OK) {
        w->committed = w->nrows;
        __atomic_add_fetch(&w->b->writes_applied, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&w->b->rows_applied, w->nrows, __ATOMIC_RELAXED);
    } else {
        dp_set_msg(&conn->errmsg, "%s", msg ? msg : duckpond_strerror(rc));
        batcher_write_fail_all(w, rc, msg);
    }
    return batcher_write_finish(w, rc);
}
