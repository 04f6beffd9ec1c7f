/*
 * target.c -- the writer's targets: a table and a column list, resolved
 * once, with the means of writing rows into it.
 *
 * A target is made from the catalog cache (catalog.c) the first time the
 * writer meets a (table, columns) pair, and then holds what writing there
 * needs: copies of the columns and their types, the full Appender (which
 * also proves the names on the writer's connection), the prepared
 * statements of the batch scan (scan.c), and for tables too wide for it,
 * Appenders for the column subsets that DEFAULT values leave (append.c).
 * The targets belong to the writer thread; they are dropped when the
 * schema generation moves on, or after a failure that may mean it did.
 */
#include <stdlib.h>
#include <string.h>

#include "batcher_int.h"

void batcher_target_free(struct target *t)
{
    for (size_t i = 0; i < t->napps; i++) {
        if (t->apps[i]->app)
            duckdb_appender_destroy(&t->apps[i]->app);
        free(t->apps[i]);
    }
    batcher_cols_free(t->cols, t->ncols);
    while (t->shapes) {
        struct shape *s = t->shapes;
        t->shapes = s->next;
        batcher_shape_free(s);
    }
    if (t->default_values)
        duckdb_destroy_prepare(&t->default_values);
    free(t->apps);
    free(t->key);
    batcher_stored_name_free(&t->stored);
    free(t->sql_name);
    free(t);
}

/* Frees every target and the casts prepared for their columns. */
static void targets_free(duckpond_batcher *b)
{
    while (b->targets) {
        struct target *t = b->targets;
        b->targets = t->next;
        batcher_target_free(t);
    }
    batcher_casts_free(&b->casts);
    b->last_slot = NULL;
    b->last_target = NULL;
}

void batcher_targets_refresh(duckpond_batcher *b)
{
    uint64_t gen = batcher_schema_gen(b);
    if (gen == b->targets_gen)
        return;
    targets_free(b);
    b->targets_gen = gen;
}

void batcher_targets_drop(duckpond_batcher *b)
{
    targets_free(b);
    batcher_schema_bump(b);
}

int batcher_target_appender(duckdb_connection c, const struct target *t, uint64_t mask, duckdb_appender *out,
                            char **msg)
{
    *out = NULL;
    duckdb_appender a;
    const struct stored_name *n = &t->stored;
    bool ok = duckdb_appender_create_ext(c, n->catalog, n->schema, n->table, &a) == DuckDBSuccess;
    for (int i = 0; ok && i < t->ncols; i++)
        if (!(i < MASK_COLS && (mask >> i) & 1))
            ok = duckdb_appender_add_column(a, t->cols[i].name) == DuckDBSuccess;
    if (ok) {
        *out = a;
        return DUCKPOND_OK;
    }
    int rc = batcher_appender_refusal(a, n->table, msg);
    duckdb_appender_destroy(&a);
    return rc;
}

/* Copies the catalog's answer for a write into t (catalog lock held). */
static int target_fill(struct target *t, const struct cat_list *l)
{
    t->cols = calloc((size_t)l->ncols + 1, sizeof *t->cols);
    if (batcher_stored_name_copy(&t->stored, &l->table->stored) != DUCKPOND_OK || !t->cols)
        return DUCKPOND_NOMEM;
    for (int i = 0; i < l->ncols; i++, t->ncols++) {
        t->cols[i].name = strdup(l->cols[i].name);
        t->cols[i].type_name = strdup(l->cols[i].type_name);
        t->cols[i].type = l->cols[i].type;
        t->cols[i].width = l->cols[i].width;
        t->cols[i].scale = l->cols[i].scale;
        if (!t->cols[i].name || !t->cols[i].type_name)
            return DUCKPOND_NOMEM;
    }
    struct dp_buf q = DP_BUF_INIT;
    dp_sql_ident(&q, t->stored.catalog);
    dp_buf_byte(&q, '.');
    dp_sql_ident(&q, t->stored.schema);
    dp_buf_byte(&q, '.');
    dp_sql_ident(&q, t->stored.table);
    t->sql_name = dp_buf_take(&q, NULL);
    return t->sql_name ? DUCKPOND_OK : DUCKPOND_NOMEM;
}

struct target *batcher_target_make(const duckpond_write *w, const struct cat_list *l, int *rc)
{
    struct target *t = calloc(1, sizeof *t);
    *rc = t && (t->key = batcher_write_key(w)) ? target_fill(t, l) : DUCKPOND_NOMEM;
    if (*rc != DUCKPOND_OK && t) {
        batcher_target_free(t);
        t = NULL;
    }
    return t;
}

/* Gives t its first Appender slot: every column (mask 0). */
static int target_first_slot(duckpond_batcher *b, struct target *t, char **msg)
{
    duckdb_appender a;
    int rc = batcher_target_appender(duckpond_conn_duckdb(b->conn), t, 0, &a, msg);
    if (rc != DUCKPOND_OK)
        return rc;
    struct tapp *slot = calloc(1, sizeof *slot);
    if (!slot || dp_grow(&t->apps, &t->cap_apps, 1, sizeof *t->apps) != 0) {
        free(slot);
        duckdb_appender_destroy(&a);
        return DUCKPOND_NOMEM;
    }
    slot->app = a;
    t->apps[t->napps++] = slot;
    return DUCKPOND_OK;
}

struct target *batcher_target_get(duckpond_batcher *b, const duckpond_write *w, int *rc, char **msg)
{
    for (struct target *t = b->targets; t; t = t->next)
        if (batcher_key_matches(t->key, w))
            return t;
    const struct cat_list *l = batcher_catalog_acquire(b, w, false, rc, msg);
    if (!l)
        return NULL;
    struct target *t = batcher_target_make(w, l, rc);
    batcher_catalog_release(b);
    /* The full Appender also proves the names on the writer's connection. */
    if (t && (*rc = target_first_slot(b, t, msg)) != DUCKPOND_OK) {
        batcher_target_free(t);
        return NULL;
    }
    if (!t)
        return NULL;
    batcher_bars_attach(b, t);
    t->next = b->targets;
    b->targets = t;
    return t;
}
