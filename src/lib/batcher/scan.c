/*
 * scan.c -- the batch scan: a group's rows into DuckDB through one
 * prepared INSERT per target.
 *
 * A DuckDB Appender flush plans and runs an INSERT statement from scratch
 * each time (parse, bind, optimize: a third of a small commit). Instead,
 * each target has one prepared "INSERT INTO t (cols) SELECT * FROM
 * <scan>(id)", where <scan> is a table function of this batcher that
 * reads the rows of the attempt being committed straight from the writes,
 * converting them into its output vectors. Executing it costs no
 * planning, and columns left out get their defaults as in any INSERT.
 * Rows that need DuckDB's own cast, or hold DEFAULT values, and targets
 * with other column types go through the Appenders instead (append.c).
 *
 * The function's state is owned by DuckDB (freed when the database
 * closes); b is cleared when the batcher is freed. Only the writer's
 * connection may bind the function, and the writer sets the rows to scan
 * before each execution and clears them after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batcher_int.h"

struct batch_scan {
    duckpond_batcher *b;
    idx_t conn_id;           /* the writer's connection */
    const struct seg *segs;  /* the attempt's segments; NULL outside an execution */
    size_t nsegs;
    struct target *t;        /* the target being inserted */
    size_t si, row;          /* the cursor: segment and row */
};

/* Bind: the output columns are the target's (named by the id argument). */
static void scan_bind(duckdb_bind_info info)
{
    struct batch_scan *sc = duckdb_bind_get_extra_info(info);
    duckdb_client_context ctx;
    duckdb_table_function_get_client_context(info, &ctx);
    idx_t conn_id = duckdb_client_context_get_connection_id(ctx);
    duckdb_destroy_client_context(&ctx);
    duckdb_value v = duckdb_bind_get_parameter(info, 0);
    int64_t id = duckdb_get_int64(v);
    duckdb_destroy_value(&v);
    struct target *t = sc->b && conn_id == sc->conn_id ? batcher_target_by_id(sc->b, id) : NULL;
    if (!t) {
        duckdb_bind_set_error(info, "this function belongs to a duckpond batcher's writer");
        return;
    }
    for (int i = 0; i < t->ncols; i++) {
        char name[24];
        snprintf(name, sizeof name, "c%d", i);
        duckdb_logical_type lt = duckdb_create_logical_type(t->cols[i].type);
        duckdb_bind_add_result_column(info, name, lt);
        duckdb_destroy_logical_type(&lt);
    }
}

/* Init: one thread; the writer must have set the rows. */
static void scan_init(duckdb_init_info info)
{
    struct batch_scan *sc = duckdb_init_get_extra_info(info);
    duckdb_init_set_max_threads(info, 1);
    if (!sc->segs)
        duckdb_init_set_error(info, "no batch is being committed");
}

/* Fills out with the next good rows of the scan's target, up to a vector. */
static void scan_next(duckdb_function_info info, duckdb_data_chunk out)
{
    struct batch_scan *sc = duckdb_function_get_extra_info(info);
    struct target *t = sc->t;
    idx_t cap = duckdb_vector_size(), fill = 0;
    duckdb_vector vec[MASK_COLS];
    batcher_chunk_vectors(out, t->ncols, vec);
    for (; sc->si < sc->nsegs && fill < cap; sc->si++, sc->row = 0) {
        const struct seg *sg = &sc->segs[sc->si];
        const duckpond_write *w = sg->w;
        if (w->tgt != t)
            continue;
        if (sc->row < sg->lo)
            sc->row = sg->lo;
        for (; sc->row < sg->hi && fill < cap; sc->row++) {
            if (w->bad[sc->row])
                continue;
            struct cval cv[MASK_COLS];
            if (!batcher_row_convert(t->cols, w, sc->row, cv)) { /* check said plain: cannot happen */
                duckdb_function_set_error(info, "batch scan: a value needs a cast");
                return;
            }
            batcher_row_put(vec, t->cols, w, sc->row, fill++, cv);
        }
        if (sc->row < sg->hi)
            break; /* the vector is full: go on from here next time */
    }
    duckdb_data_chunk_set_size(out, fill);
}

int batcher_scan_register(duckpond_batcher *b)
{
    static int64_t counter;
    struct batch_scan *sc = calloc(1, sizeof *sc);
    if (!sc)
        return DUCKPOND_NOMEM;
    duckdb_client_context ctx;
    duckdb_connection_get_client_context(duckpond_conn_duckdb(b->conn), &ctx);
    sc->conn_id = duckdb_client_context_get_connection_id(ctx);
    duckdb_destroy_client_context(&ctx);
    sc->b = b;
    snprintf(b->scan_name, sizeof b->scan_name, "duckpond_batch_scan_%lld_%lld", (long long)getpid(),
             (long long)__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    duckdb_table_function f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, b->scan_name);
    duckdb_logical_type bigint = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_table_function_add_parameter(f, bigint);
    duckdb_destroy_logical_type(&bigint);
    duckdb_table_function_set_extra_info(f, sc, free);
    duckdb_table_function_set_bind(f, scan_bind);
    duckdb_table_function_set_init(f, scan_init);
    duckdb_table_function_set_function(f, scan_next);
    duckdb_state st = duckdb_register_table_function(duckpond_conn_duckdb(b->conn), f);
    duckdb_destroy_table_function(&f);
    if (st == DuckDBError)
        return DUCKPOND_ERROR; /* sc went with the function */
    b->scan = sc;
    return DUCKPOND_OK;
}

void batcher_scan_unregister(duckpond_batcher *b)
{
    if (b->scan)
        b->scan->b = NULL; /* DuckDB keeps the function until the database closes */
    b->scan = NULL;
}

/* t's prepared INSERT from the batch scan, made on first need; NULL if it cannot be. */
static duckdb_prepared_statement target_insert(duckpond_batcher *b, struct target *t)
{
    if (t->insert || t->insert_failed || !b->scan)
        return t->insert;
    struct dp_buf sql = DP_BUF_INIT;
    dp_buf_printf(&sql, "INSERT INTO %s (", t->sql_name);
    for (int i = 0; i < t->ncols; i++) {
        if (i)
            dp_buf_byte(&sql, ',');
        dp_sql_ident(&sql, t->cols[i].name);
    }
    dp_buf_printf(&sql, ") SELECT * FROM %s(%lld)", b->scan_name, (long long)t->id);
    if (sql.failed) {
        dp_buf_free(&sql);
        return NULL; /* out of memory: try again next time */
    }
    if (duckdb_prepare(duckpond_conn_duckdb(b->conn), sql.data, &t->insert) == DuckDBError) {
        duckdb_destroy_prepare(&t->insert);
        t->insert = NULL;
        t->insert_failed = true;
    }
    dp_buf_free(&sql);
    return t->insert;
}

bool batcher_scan_fits(duckpond_batcher *b, const struct seg *segs, size_t n)
{
    for (size_t s = 0; s < n; s++)
        if (!segs[s].w->plain || !target_insert(b, segs[s].w->tgt))
            return false;
    return true;
}

int batcher_scan_insert(duckpond_batcher *b, struct target *t, const struct seg *segs, size_t n, char **msg)
{
    struct batch_scan *sc = b->scan;
    *sc = (struct batch_scan){sc->b, sc->conn_id, segs, n, t, 0, 0};
    duckdb_result res;
    duckdb_state st = duckdb_execute_prepared(t->insert, &res);
    sc->segs = NULL;
    sc->t = NULL;
    int rc = DUCKPOND_OK;
    if (st == DuckDBError) {
        rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        *msg = strdup(duckdb_result_error(&res));
        if (rc == DUCKPOND_OK)
            rc = DUCKPOND_ERROR;
    }
    duckdb_destroy_result(&res);
    return rc;
}
