/*
 * scan.c -- the batch scan: a group's rows into DuckDB through prepared
 * INSERTs, one per target and shape of its rows.
 *
 * A DuckDB Appender flush plans and runs an INSERT statement from scratch
 * each time (parse, bind, optimize: a third of a small commit). Instead,
 * a target's rows go in by a prepared "INSERT INTO t (cols) SELECT ...
 * FROM <scan>(target, shape)", where <scan> is a table function of this
 * batcher that reads the rows of the attempt being committed straight
 * from the writes (the shape's number names the target and the shape of
 * the rows). Executing it costs no planning.
 *
 * The scan converts what our conversion can (value.c) into vectors of the
 * column's type. A value only DuckDB's cast converts (a TIMESTAMPTZ
 * without an offset, a UUID, an INTERVAL, ' 5 ' for an INTEGER...) goes
 * out as it is, in a vector of its kind (VARCHAR for text), and the
 * statement converts the whole column at once: coalesce(c0, CAST(k0_5 AS
 * type)). Which columns carry such vectors, and which columns the rows
 * leave to their DEFAULT (left out of the INSERT, so that DuckDB computes
 * them per row as in any INSERT), make a target's shapes: each is
 * prepared once, on first need, and kept (at most SHAPES_MAX a target).
 * A row of DEFAULTs alone goes in by INSERT ... DEFAULT VALUES.
 *
 * When an attempt fails, a probe shape -- "SELECT r FROM <scan> WHERE
 * TRY_CAST(k0_5 AS type) IS NULL AND k0_5 IS NOT NULL OR ..." -- names in
 * one query the rows whose values DuckDB's cast refuses (check.c).
 *
 * One function serves a batcher, and every connection that runs
 * statements over it: the writer's, and those duckpond_write_apply ran on
 * (apply.c). Each registers a scanner of its own with the function: its
 * targets (where the function's bind finds a shape by its number) and the
 * cursor of the statement it executes, set before each execution and
 * cleared after. The function's bind finds the scanner of the connection
 * binding it (any other connection is refused) and hands it to the scan
 * as its bind data, so that connections never share a cursor. The list of
 * scanners is owned by DuckDB with the function (freed when the database
 * closes, after every connection); a scanner takes itself off it when its
 * owner is done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batcher_int.h"

#define SHAPES_MAX 16 /* prepared shapes kept per target */

/* The function's extra info: the scanners registered with it. */
struct scan_fn {
    pthread_mutex_t mu;
    struct scanner *scanners;
};

/* ------------------------------------------------------------ shapes */

/* The output columns of sh, in order: r for a probe, then per column its native one and its raw ones. */
static void shape_layout(const struct target *t, struct shape *sh)
{
    int n = sh->probe ? 1 : 0;
    for (int i = 0; i < t->ncols; i++) {
        bool left_out = (sh->dmask >> i) & 1;
        sh->native[i] = !left_out && !sh->probe && batcher_col_native(&t->cols[i]) ? (int16_t)n++ : -1;
        for (int k = 0; k < 8; k++)
            sh->raw[i][k] = !left_out && (sh->casts[i] & KIND_BIT(k)) ? (int16_t)n++ : -1;
    }
    sh->nout = n;
}

/* Appends the output column name of column i (kind k, or -1 for the native one). */
static void out_name(struct dp_buf *sql, int i, int k)
{
    if (k < 0)
        dp_buf_printf(sql, "c%d", i);
    else
        dp_buf_printf(sql, "k%d_%d", i, k);
}

void batcher_insert_expr(struct dp_buf *sql, const struct target *t, const struct shape *sh, int i)
{
    int sources = sh->native[i] >= 0;
    for (int k = 0; k < 8; k++)
        sources += sh->raw[i][k] >= 0;
    if (!sources) {
        dp_buf_printf(sql, "NULL");
        return;
    }
    if (sources > 1)
        dp_buf_printf(sql, "coalesce(");
    const char *sep = "";
    if (sh->native[i] >= 0) {
        out_name(sql, i, -1);
        sep = ", ";
    }
    for (int k = 0; k < 8; k++) {
        if (sh->raw[i][k] < 0)
            continue;
        dp_buf_printf(sql, "%sCAST(", sep);
        out_name(sql, i, k);
        dp_buf_printf(sql, " AS %s)", t->cols[i].type_name);
        sep = ", ";
    }
    if (sources > 1)
        dp_buf_byte(sql, ')');
}

/* The SQL of shape sh of target t (over sc's function). */
static void shape_sql(const struct scanner *sc, const struct target *t, const struct shape *sh,
                      struct dp_buf *sql)
{
    const char *sep = "";
    if (sh->probe) {
        dp_buf_printf(sql, "SELECT r FROM %s(%lld) WHERE ", sc->name, (long long)sh->id);
        for (int i = 0; i < t->ncols; i++)
            for (int k = 0; k < 8; k++) {
                if (sh->raw[i][k] < 0)
                    continue;
                dp_buf_printf(sql, "%s(", sep);
                out_name(sql, i, k);
                dp_buf_printf(sql, " IS NOT NULL AND TRY_CAST(");
                out_name(sql, i, k);
                dp_buf_printf(sql, " AS %s) IS NULL)", t->cols[i].type_name);
                sep = " OR ";
            }
        return;
    }
    dp_buf_printf(sql, "INSERT INTO %s (", t->sql_name);
    for (int i = 0; i < t->ncols; i++) {
        if ((sh->dmask >> i) & 1)
            continue;
        dp_buf_printf(sql, "%s", sep);
        dp_sql_ident(sql, t->cols[i].name);
        sep = ",";
    }
    dp_buf_printf(sql, ") SELECT ");
    sep = "";
    for (int i = 0; i < t->ncols; i++) {
        if ((sh->dmask >> i) & 1)
            continue;
        dp_buf_printf(sql, "%s", sep);
        batcher_insert_expr(sql, t, sh, i);
        sep = ", ";
    }
    dp_buf_printf(sql, " FROM %s(%lld)", sc->name, (long long)sh->id);
}

void batcher_shape_free(struct shape *s)
{
    if (s->stmt)
        duckdb_destroy_prepare(&s->stmt);
    free(s);
}

/* Drops t's least recently used shape when it holds SHAPES_MAX. */
static void shapes_trim(struct target *t)
{
    if (t->nshapes < SHAPES_MAX)
        return;
    struct shape **p = &t->shapes;
    while ((*p)->next)
        p = &(*p)->next;
    batcher_shape_free(*p);
    *p = NULL;
    t->nshapes--;
}

/* A new shape of t for rows leaving dmask DEFAULT, with t's current casts, prepared. NULL if it cannot be. */
static struct shape *shape_make(struct scanner *sc, struct target *t, uint64_t dmask, bool probe)
{
    struct shape *sh = calloc(1, sizeof *sh);
    if (!sh)
        return NULL;
    sh->dmask = dmask;
    sh->probe = probe;
    memcpy(sh->casts, t->casts, sizeof sh->casts);
    sh->id = ++sc->next_shape_id;
    shape_layout(t, sh);
    struct dp_buf sql = DP_BUF_INIT;
    shape_sql(sc, t, sh, &sql);
    shapes_trim(t);
    sh->next = t->shapes; /* the scan's bind looks it up while it is prepared */
    t->shapes = sh;
    t->nshapes++;
    if (sql.failed || duckdb_prepare(sc->conn, sql.data, &sh->stmt) == DuckDBError) {
        t->shapes = sh->next;
        t->nshapes--;
        batcher_shape_free(sh);
        sh = NULL;
    }
    dp_buf_free(&sql);
    return sh;
}

/* t's shape for rows leaving dmask DEFAULT under t's current casts, made on first need; NULL if it cannot be. */
static struct shape *shape_get(struct scanner *sc, struct target *t, uint64_t dmask, bool probe)
{
    struct shape **p = &t->shapes;
    for (; *p; p = &(*p)->next) {
        struct shape *s = *p;
        if (s->dmask != dmask || s->probe != probe || memcmp(s->casts, t->casts, sizeof s->casts) != 0)
            continue;
        *p = s->next; /* most recently used first */
        s->next = t->shapes;
        t->shapes = s;
        return s;
    }
    return shape_make(sc, t, dmask, probe);
}

/* -------------------------------------------------------- the function */

/* The scanner registered for a connection, or NULL. */
static struct scanner *scanner_of(struct scan_fn *fn, idx_t conn_id)
{
    pthread_mutex_lock(&fn->mu);
    struct scanner *sc = fn->scanners;
    while (sc && sc->conn_id != conn_id)
        sc = sc->next;
    pthread_mutex_unlock(&fn->mu);
    return sc;
}

/* The shape of sc's targets numbered id, or NULL; *t is its target. */
static const struct shape *shape_by_id(const struct scanner *sc, int64_t id, struct target **t)
{
    for (*t = *sc->targets; *t; *t = (*t)->next)
        for (const struct shape *s = (*t)->shapes; s; s = s->next)
            if (s->id == id)
                return s;
    return NULL;
}

/* Nothing to free: the bind data is the scanner, its owner's. */
static void scanner_unowned(void *p)
{
    (void)p;
}

/*
 * Bind: the output columns are the shape's (named by the argument), among
 * the targets of the scanner of the connection binding it, which becomes
 * the bind data the scan reads its rows through.
 */
static void scan_bind(duckdb_bind_info info)
{
    duckdb_client_context ctx;
    duckdb_table_function_get_client_context(info, &ctx);
    idx_t conn_id = duckdb_client_context_get_connection_id(ctx);
    duckdb_destroy_client_context(&ctx);
    duckdb_value v = duckdb_bind_get_parameter(info, 0);
    int64_t id = duckdb_get_int64(v);
    duckdb_destroy_value(&v);
    struct scanner *sc = scanner_of(duckdb_bind_get_extra_info(info), conn_id);
    struct target *t = NULL;
    const struct shape *sh = sc ? shape_by_id(sc, id, &t) : NULL;
    if (!sh) {
        duckdb_bind_set_error(info, "this function belongs to a duckpond batcher");
        return;
    }
    duckdb_bind_set_bind_data(info, sc, scanner_unowned);
    if (sh->probe) {
        duckdb_logical_type lt = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
        duckdb_bind_add_result_column(info, "r", lt);
        duckdb_destroy_logical_type(&lt);
    }
    for (int i = 0; i < t->ncols; i++)
        for (int k = -1; k < 8; k++) {
            if ((k < 0 ? sh->native[i] : sh->raw[i][k]) < 0)
                continue;
            struct dp_buf name = DP_BUF_INIT;
            out_name(&name, i, k);
            duckdb_logical_type lt = k < 0 ? batcher_col_logical_type(&t->cols[i])
                                           : duckdb_create_logical_type(batcher_kind_type((uint32_t)k));
            duckdb_bind_add_result_column(info, name.failed ? "?" : name.data, lt);
            duckdb_destroy_logical_type(&lt);
            dp_buf_free(&name);
        }
}

/* Init: one thread; the scanner's owner must have set the rows. */
static void scan_init(duckdb_init_info info)
{
    const struct scanner *sc = duckdb_init_get_bind_data(info);
    duckdb_init_set_max_threads(info, 1);
    if (!sc->segs)
        duckdb_init_set_error(info, "no batch is being committed");
}

static void set_null(duckdb_vector v, idx_t at)
{
    duckdb_vector_ensure_validity_writable(v);
    duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), at);
}

/* The columns row r of w leaves to their DEFAULT. */
static uint64_t row_dmask(const duckpond_write *w, size_t r)
{
    const struct bval *row = w->vals + r * (size_t)w->ncols;
    uint64_t m = 0;
    for (int i = 0; i < w->ncols && i < MASK_COLS; i++)
        if (row[i].kind == DUCKPOND_VALUE_DEFAULT)
            m |= 1ULL << i;
    return m;
}

/*
 * Puts column i of row r of w at row `at` of the output vectors: our
 * conversion in the native vector, or the value as it is in its kind's.
 * False when the shape has no place for it (the checks said it would).
 */
static bool put_value(const struct target *t, const struct shape *sh, duckdb_vector *vec,
                      const duckpond_write *w, size_t r, int i, idx_t at)
{
    const struct bval *v = &w->vals[r * (size_t)w->ncols + (size_t)i];
    const int16_t *raw = sh->raw[i];
    int nat = sh->native[i], use = -1;
    struct cval cv;
    if (v->kind == DUCKPOND_VALUE_NULL || v->kind == DUCKPOND_VALUE_DEFAULT) {
        /* every output of the column is NULL */
    } else if (batcher_convert(&t->cols[i], v, w->text, &cv) == CV_OK) {
        if (nat >= 0) /* a probe has none: such values convert */
            batcher_vector_put(vec[nat], &t->cols[i], at, &cv);
        use = nat;
    } else if (v->kind < 8 && raw[v->kind] >= 0) {
        use = raw[v->kind];
        batcher_kind_put(vec[use], at, v, w->text);
    } else {
        return false;
    }
    if (nat >= 0 && nat != use)
        set_null(vec[nat], at);
    for (int k = 0; sh->casts[i] && k < 8; k++)
        if (raw[k] >= 0 && raw[k] != use)
            set_null(vec[raw[k]], at);
    return true;
}

/* Fills out with the next good rows of the scan's target and shape, up to a vector. */
static void scan_next(duckdb_function_info info, duckdb_data_chunk out)
{
    struct scanner *sc = duckdb_function_get_bind_data(info);
    const struct target *t = sc->t;
    const struct shape *sh = sc->sh;
    idx_t cap = duckdb_vector_size(), fill = 0;
    duckdb_vector vec[1 + MASK_COLS * 8];
    for (int i = 0; i < sh->nout; i++)
        vec[i] = duckdb_data_chunk_get_vector(out, (idx_t)i);
    int64_t *ids = sh->probe ? duckdb_vector_get_data(vec[0]) : NULL;
    for (; sc->si < sc->nsegs && fill < cap; sc->si++, sc->row = 0) {
        const struct seg *sg = &sc->segs[sc->si];
        const duckpond_write *w = sg->w;
        if (w->tgt != t)
            continue;
        if (sc->row < sg->lo)
            sc->row = sg->lo;
        for (; sc->row < sg->hi && fill < cap; sc->row++) {
            if (w->bad[sc->row] || (!sh->probe && (w->has_default ? row_dmask(w, sc->row) : 0) != sh->dmask))
                continue;
            for (int i = 0; i < t->ncols; i++)
                if (!((sh->dmask >> i) & 1) && !put_value(t, sh, vec, w, sc->row, i, fill)) {
                    duckdb_function_set_error(info, "batch scan: a value has no column to go to");
                    return;
                }
            if (ids)
                ids[fill] = (int64_t)(sc->si << 32 | sc->row);
            fill++;
        }
        if (sc->row < sg->hi)
            break; /* the vector is full: go on from here next time */
    }
    duckdb_data_chunk_set_size(out, fill);
}

static void scan_fn_free(void *p)
{
    struct scan_fn *fn = p;
    pthread_mutex_destroy(&fn->mu);
    free(fn);
}

duckdb_state batcher_table_function_register(duckdb_connection c, duckdb_table_function f, void *extra,
                                             duckdb_delete_callback_t free_extra,
                                             duckdb_table_function_bind_t bind,
                                             duckdb_table_function_init_t init, duckdb_table_function_t fn)
{
    duckdb_table_function_set_extra_info(f, extra, free_extra);
    duckdb_table_function_set_bind(f, bind);
    duckdb_table_function_set_init(f, init);
    duckdb_table_function_set_function(f, fn);
    duckdb_state st = duckdb_register_table_function(c, f);
    duckdb_destroy_table_function(&f);
    return st;
}

int batcher_scan_register(duckpond_batcher *b)
{
    static int64_t counter;
    struct scan_fn *fn = calloc(1, sizeof *fn);
    if (!fn)
        return DUCKPOND_NOMEM;
    pthread_mutex_init(&fn->mu, NULL);
    snprintf(b->scan_name, sizeof b->scan_name, "duckpond_batch_scan_%lld_%lld", (long long)getpid(),
             (long long)__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    duckdb_table_function f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, b->scan_name);
    duckdb_logical_type bigint = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_table_function_add_parameter(f, bigint); /* the shape */
    duckdb_destroy_logical_type(&bigint);
    duckdb_state st = batcher_table_function_register(duckpond_conn_duckdb(b->conn), f, fn, scan_fn_free,
                                                      scan_bind, scan_init, scan_next);
    if (st == DuckDBError)
        return DUCKPOND_ERROR; /* fn went with the function */
    b->scan_fn = fn;
    return batcher_scanner_attach(&b->sc, b, duckpond_conn_duckdb(b->conn), &b->targets);
}

void batcher_scan_unregister(duckpond_batcher *b)
{
    batcher_scanner_detach(&b->sc);
}

int batcher_scanner_attach(struct scanner *sc, duckpond_batcher *b, duckdb_connection conn,
                           struct target **targets)
{
    if (!b->scan_fn)
        return DUCKPOND_ERROR;
    duckdb_client_context ctx;
    duckdb_connection_get_client_context(conn, &ctx);
    *sc = (struct scanner){.conn = conn, .fn = b->scan_fn, .name = b->scan_name, .targets = targets};
    sc->conn_id = duckdb_client_context_get_connection_id(ctx);
    duckdb_destroy_client_context(&ctx);
    pthread_mutex_lock(&sc->fn->mu);
    sc->next = sc->fn->scanners;
    sc->fn->scanners = sc;
    pthread_mutex_unlock(&sc->fn->mu);
    return DUCKPOND_OK;
}

void batcher_scanner_detach(struct scanner *sc)
{
    if (sc->fn) {
        pthread_mutex_lock(&sc->fn->mu);
        struct scanner **p = &sc->fn->scanners;
        while (*p && *p != sc)
            p = &(*p)->next;
        if (*p)
            *p = sc->next;
        pthread_mutex_unlock(&sc->fn->mu);
    }
    free(sc->rows);
    *sc = (struct scanner){0};
}

/* ---------------------------------------------------------- inserting */

/* Whether dmask leaves out every column of t (the row is all DEFAULT). */
static bool mask_all(const struct target *t, uint64_t dmask)
{
    return t->ncols <= MASK_COLS && dmask == (t->ncols == MASK_COLS ? ~0ULL : (1ULL << t->ncols) - 1);
}

/*
 * The distinct DEFAULT masks of the good rows of segs[0..n) bound for t,
 * into *masks (malloc'd, *count of them). False if out of memory.
 */
static bool default_masks(const struct target *t, const struct seg *segs, size_t n, uint64_t **masks,
                          size_t *count)
{
    size_t cap = 0;
    *masks = NULL;
    *count = 0;
    for (size_t s = 0; s < n; s++) {
        const duckpond_write *w = segs[s].w;
        if (w->tgt != t)
            continue;
        for (size_t r = segs[s].lo; r < segs[s].hi; r++) {
            uint64_t m = w->has_default ? row_dmask(w, r) : 0;
            size_t k = 0;
            while (k < *count && (*masks)[k] != m)
                k++;
            if (w->bad[r] || k < *count)
                continue;
            if (dp_grow(masks, &cap, *count + 1, sizeof **masks) != 0)
                return false;
            (*masks)[(*count)++] = m;
        }
    }
    return true;
}

/* Whether some write of segs[0..n) bound for t holds a DEFAULT value. */
static bool any_default(const struct target *t, const struct seg *segs, size_t n)
{
    for (size_t s = 0; s < n; s++)
        if (segs[s].w->tgt == t && segs[s].w->has_default)
            return true;
    return false;
}

/* t's INSERT ... DEFAULT VALUES, prepared on first need; NULL if it cannot be. */
static duckdb_prepared_statement default_values(struct scanner *sc, struct target *t)
{
    if (t->default_values)
        return t->default_values;
    char *sql = dp_asprintf("INSERT INTO %s DEFAULT VALUES", t->sql_name);
    if (sql && duckdb_prepare(sc->conn, sql, &t->default_values) == DuckDBError)
        duckdb_destroy_prepare(&t->default_values);
    free(sql);
    return t->default_values;
}

/* Prepares what inserting t's rows of segs[0..n) needs; false (and t->scan_failed) if it cannot be. */
static bool target_ready(struct scanner *sc, struct target *t, const struct seg *segs, size_t n)
{
    if (t->scan_failed || t->ncols > MASK_COLS || !sc->fn)
        return false;
    bool ok;
    if (!any_default(t, segs, n)) {
        ok = shape_get(sc, t, 0, false) != NULL;
    } else {
        uint64_t *masks;
        size_t count;
        ok = default_masks(t, segs, n, &masks, &count);
        for (size_t k = 0; ok && k < count; k++)
            ok = mask_all(t, masks[k]) ? default_values(sc, t) != NULL
                                       : shape_get(sc, t, masks[k], false) != NULL;
        free(masks);
    }
    t->scan_failed = !ok;
    return ok;
}

bool batcher_scan_fits(struct scanner *sc, const struct seg *segs, size_t n)
{
    uint64_t mark = ++sc->attempts;
    for (size_t s = 0; s < n; s++) {
        struct target *t = segs[s].w->tgt;
        if (t->mark == mark)
            continue;
        t->mark = mark;
        if (!target_ready(sc, t, segs + s, n - s))
            return false;
    }
    return true;
}

int batcher_scan_run(struct scanner *sc, struct target *t, const struct shape *sh,
                     duckdb_prepared_statement stmt, const struct seg *segs, size_t n, duckdb_result *res,
                     char **msg)
{
    sc->segs = segs;
    sc->nsegs = n;
    sc->t = t;
    sc->sh = sh;
    sc->si = sc->row = 0;
    duckdb_state st = duckdb_execute_prepared(stmt, res);
    sc->segs = NULL;
    sc->t = NULL;
    sc->sh = NULL;
    sc->runs++;
    if (st != DuckDBError)
        return DUCKPOND_OK;
    sc->failed++;
    int rc = duckpond_classify(duckdb_result_error_type(res), duckdb_result_error(res));
    *msg = strdup(duckdb_result_error(res));
    duckdb_destroy_result(res);
    return rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
}

/* Inserts t's good rows of segs[0..n) leaving dmask DEFAULT (prepared by target_ready). */
static int insert_shape(struct scanner *sc, struct target *t, uint64_t dmask, const struct seg *segs,
                        size_t n, char **msg)
{
    duckdb_result res;
    int rc = DUCKPOND_OK;
    if (!mask_all(t, dmask)) {
        struct shape *sh = shape_get(sc, t, dmask, false);
        rc = sh ? batcher_scan_run(sc, t, sh, sh->stmt, segs, n, &res, msg) : DUCKPOND_ERROR;
        if (rc == DUCKPOND_OK) {
            if (t->nbars)
                batcher_bars_added(t, (int64_t)duckdb_rows_changed(&res));
            duckdb_destroy_result(&res);
        } else if (!sh) {
            *msg = strdup("batch scan: a statement is missing");
        }
        return rc;
    }
    for (size_t s = 0; s < n && rc == DUCKPOND_OK; s++)
        for (size_t r = segs[s].lo; r < segs[s].hi && rc == DUCKPOND_OK; r++) {
            const duckpond_write *w = segs[s].w;
            if (w->tgt != t || w->bad[r] || !w->has_default || row_dmask(w, r) != dmask)
                continue;
            if ((rc = batcher_scan_run(sc, t, NULL, t->default_values, segs, n, &res, msg)) == DUCKPOND_OK) {
                if (t->nbars)
                    batcher_bars_added(t, 1);
                duckdb_destroy_result(&res);
            }
        }
    return rc;
}

bool batcher_scan_one_statement(const struct target *t, const struct seg *segs, size_t n)
{
    if (!any_default(t, segs, n))
        return true;
    uint64_t *masks;
    size_t count;
    if (!default_masks(t, segs, n, &masks, &count))
        return false;
    bool one = count == 1 && (!mask_all(t, masks[0]) || (n == 1 && batcher_seg_rows(segs) == 1));
    free(masks);
    return one;
}

int batcher_scan_insert(struct scanner *sc, struct target *t, const struct seg *segs, size_t n, char **msg)
{
    /* live bars summarise the ticks committed so far before this group writes more (bars.c) */
    int rc = t->nbars ? batcher_bars_before(sc, t, msg) : DUCKPOND_OK;
    if (rc != DUCKPOND_OK)
        return rc;
    if (!any_default(t, segs, n))
        return insert_shape(sc, t, 0, segs, n, msg);
    uint64_t *masks;
    size_t count;
    if (!default_masks(t, segs, n, &masks, &count))
        return DUCKPOND_NOMEM;
    for (size_t k = 0; k < count && rc == DUCKPOND_OK; k++)
        rc = insert_shape(sc, t, masks[k], segs, n, msg);
    free(masks);
    return rc;
}

/* ------------------------------------------------------------ probing */

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Appends the ids of a probe's result to sc->rows; false if out of memory. */
static bool probe_collect(struct scanner *sc, duckdb_result *res)
{
    for (duckdb_data_chunk c; (c = duckdb_fetch_chunk(*res));) {
        idx_t rows = duckdb_data_chunk_get_size(c);
        const int64_t *ids = duckdb_vector_get_data(duckdb_data_chunk_get_vector(c, 0));
        bool ok = dp_grow(&sc->rows, &sc->cap_rows, sc->nrows + rows, sizeof *sc->rows) == 0;
        for (idx_t i = 0; ok && i < rows; i++)
            sc->rows[sc->nrows++] = (uint64_t)ids[i];
        duckdb_destroy_data_chunk(&c);
        if (!ok)
            return false;
    }
    return true;
}

int batcher_scan_probe(struct scanner *sc, struct target *t, const struct seg *segs, size_t n, char **msg)
{
    sc->nrows = 0;
    bool casts = false;
    for (int i = 0; i < t->ncols && i < MASK_COLS; i++)
        casts = casts || t->casts[i];
    if (!casts || t->ncols > MASK_COLS || !sc->fn)
        return DUCKPOND_OK; /* no value of t went to DuckDB's cast */
    const struct shape *sh = shape_get(sc, t, 0, true);
    if (!sh) {
        *msg = strdup("batch scan: the probe cannot be prepared");
        return DUCKPOND_ERROR;
    }
    duckdb_result res;
    int rc = batcher_scan_run(sc, t, sh, sh->stmt, segs, n, &res, msg);
    if (rc != DUCKPOND_OK)
        return rc;
    if (!probe_collect(sc, &res)) {
        *msg = strdup("out of memory");
        rc = DUCKPOND_NOMEM;
    }
    duckdb_destroy_result(&res);
    if (sc->nrows > 1)
        qsort(sc->rows, sc->nrows, sizeof *sc->rows, u64_cmp);
    return rc;
}
