/*
 * catalog.c -- the batcher's one cache of table -> columns + types.
 *
 * Three parties ask the catalog about a table: a producer making a write
 * with columns = NULL (which columns, in order), a producer checking a
 * journaled write before it is acknowledged (which types), and the writer
 * resolving a write's target (names as stored, types). They share one
 * cache, read under a read lock, filled on a miss under the write lock by
 * the batcher's catalog connection, and valid for one schema generation:
 * DDL anywhere (duckpond_batcher_schema_changed), or a failure of the
 * writer that may mean the schema changed, moves the generation on, and
 * the next look-up reads the catalog again.
 *
 * An entry holds a table's columns with their type names (from
 * duckdb_columns()) and their types as an Appender reads them, and the
 * column lists that writes named, each resolved against it once. What an
 * Appender refuses (a view, a generated column) is kept with DuckDB's
 * message, so that a write naming it fails as it would at the writer.
 *
 * duckpond_write_apply reads a table the same way on its caller's
 * connection, inside the caller's transaction (batcher_catalog_read_on),
 * without the cache: what that transaction sees may not be what others
 * see.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batcher_int.h"

static const char COLS_SQL[] =
    "SELECT database_name, schema_name, table_name, column_name, data_type, data_type_id "
    "FROM duckdb_columns() "
    "WHERE lower(database_name) = lower(coalesce($1, current_database())) "
    "AND lower(schema_name) = lower(coalesce($2, current_schema())) "
    "AND lower(table_name) = lower($3) "
    "ORDER BY column_index";

/* ------------------------------------------------------------- keys */

char *batcher_write_key(const duckpond_write *w)
{
    struct dp_buf k = DP_BUF_INIT;
    dp_buf_add(&k, w->table, strlen(w->table) + 1);
    for (int i = 0; i < w->ncols; i++)
        dp_buf_add(&k, w->cols[i], strlen(w->cols[i]) + 1);
    return dp_buf_take(&k, NULL); /* the buffer's own NUL ends the list */
}

bool batcher_key_matches(const char *k, const duckpond_write *w)
{
    if (strcmp(k, w->table) != 0)
        return false;
    k += strlen(k) + 1;
    for (int i = 0; i < w->ncols; i++) {
        if (!*k || strcmp(k, w->cols[i]) != 0)
            return false;
        k += strlen(k) + 1;
    }
    return *k == '\0';
}

/* ----------------------------------------------------------- entries */

static void table_free(struct cat_table *t)
{
    while (t->lists) {
        struct cat_list *l = t->lists;
        t->lists = l->next;
        free(l->key);
        free(l->cols);
        free(l);
    }
    for (int i = 0; t->col_refused_msg && i < t->ncols; i++)
        free(t->col_refused_msg[i]);
    batcher_cols_free(t->cols, t->ncols);
    free(t->col_refused_rc);
    free(t->col_refused_msg);
    free(t->refused_msg);
    free(t->name);
    batcher_stored_name_free(&t->stored);
    free(t);
}

void batcher_stored_name_free(struct stored_name *n)
{
    free(n->catalog);
    free(n->schema);
    free(n->table);
    *n = (struct stored_name){0};
}

int batcher_stored_name_copy(struct stored_name *dst, const struct stored_name *src)
{
    dst->catalog = strdup(src->catalog);
    dst->schema = strdup(src->schema);
    dst->table = strdup(src->table);
    return dst->catalog && dst->schema && dst->table ? DUCKPOND_OK : DUCKPOND_NOMEM;
}

void batcher_cols_free(struct batcher_col *cols, int n)
{
    for (int i = 0; cols && i < n; i++) {
        free(cols[i].name);
        free(cols[i].type_name);
    }
    free(cols);
}

/* Forgets every entry (write lock held). */
static void cache_clear(struct batcher_catalog *cat)
{
    while (cat->tables) {
        struct cat_table *t = cat->tables;
        cat->tables = t->next;
        table_free(t);
    }
}

int batcher_catalog_open(duckpond_batcher *b)
{
    struct batcher_catalog *cat = &b->cat;
    pthread_rwlock_init(&cat->lock, NULL);
    int rc = duckpond_connect(b->db, &cat->conn);
    if (rc == DUCKPOND_OK &&
        duckdb_prepare(duckpond_conn_duckdb(cat->conn), COLS_SQL, &cat->cols_stmt) == DuckDBError)
        rc = DUCKPOND_ERROR;
    return rc;
}

void batcher_catalog_close(duckpond_batcher *b)
{
    struct batcher_catalog *cat = &b->cat;
    cache_clear(cat);
    if (cat->cols_stmt)
        duckdb_destroy_prepare(&cat->cols_stmt);
    duckpond_disconnect(cat->conn);
    cat->conn = NULL;
    pthread_rwlock_destroy(&cat->lock);
}

uint64_t batcher_schema_gen(const duckpond_batcher *b)
{
    return __atomic_load_n(&b->cat.gen, __ATOMIC_ACQUIRE);
}

void batcher_schema_bump(duckpond_batcher *b)
{
    __atomic_add_fetch(&b->cat.gen, 1, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------ catalog reads */

/* Splits "a", "s.a" or "c.s.a" into catalog, schema, table (NULL when absent). */
static int split_name(const char *name, char **catalog, char **schema, char **table)
{
    char *copy = strdup(name), *parts[3] = {0};
    int n = 0;
    *catalog = *schema = *table = NULL;
    if (!copy)
        return DUCKPOND_NOMEM;
    for (char *p = copy, *dot; n < 3; p = dot + 1) {
        parts[n++] = p;
        dot = strchr(p, '.');
        if (!dot)
            break;
        *dot = '\0';
        if (n == 3) {
            free(copy);
            return DUCKPOND_MISUSE;
        }
    }
    *table = strdup(parts[n - 1]);
    *schema = n >= 2 ? strdup(parts[n - 2]) : NULL;
    *catalog = n == 3 ? strdup(parts[0]) : NULL;
    free(copy);
    if (!*table || (n >= 2 && !*schema) || (n == 3 && !*catalog))
        return DUCKPOND_NOMEM;
    bool empty = !**table || (*schema && !**schema) || (*catalog && !**catalog);
    return empty ? DUCKPOND_MISUSE : DUCKPOND_OK;
}

/* Reads the string at (col, row) of a result into a malloc'd copy. */
static char *result_str(duckdb_result *res, idx_t col, idx_t row)
{
    char *v = duckdb_value_varchar(res, col, row);
    char *s = strdup(v ? v : "");
    duckdb_free(v);
    return s;
}

/* Fills t's names and columns from a catalog listing of n rows. */
static int table_fill(struct cat_table *t, duckdb_result *res, idx_t n)
{
    t->cols = calloc(n, sizeof *t->cols);
    t->stored.catalog = result_str(res, 0, 0);
    t->stored.schema = result_str(res, 1, 0);
    t->stored.table = result_str(res, 2, 0);
    bool ok = t->cols && t->stored.catalog && t->stored.schema && t->stored.table;
    for (idx_t i = 0; ok && i < n; i++, t->ncols++) {
        t->cols[i].name = result_str(res, 3, i);
        t->cols[i].type_name = result_str(res, 4, i);
        ok = t->cols[i].name && t->cols[i].type_name;
    }
    return ok ? DUCKPOND_OK : DUCKPOND_NOMEM;
}

/*
 * Looks table `name` up into t with stmt, the catalog query (COLS_SQL)
 * prepared on some connection. DUCKPOND_NOTFOUND with *msg when there is
 * no such table.
 */
static int table_lookup(duckdb_prepared_statement stmt, const char *name, struct cat_table *t, char **msg)
{
    char *catalog, *schema, *table;
    int rc = split_name(name, &catalog, &schema, &table);
    if (rc != DUCKPOND_OK) {
        *msg = dp_asprintf("bad table name \"%s\"", name);
        goto out;
    }
    duckdb_clear_bindings(stmt);
    catalog ? duckdb_bind_varchar(stmt, 1, catalog) : duckdb_bind_null(stmt, 1);
    schema ? duckdb_bind_varchar(stmt, 2, schema) : duckdb_bind_null(stmt, 2);
    duckdb_bind_varchar(stmt, 3, table);
    duckdb_result res;
    if (duckdb_execute_prepared(stmt, &res) == DuckDBError) {
        rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        *msg = dp_asprintf("looking up table \"%s\": %s", name, duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        goto out;
    }
    idx_t n = duckdb_row_count(&res);
    if (n == 0) {
        rc = DUCKPOND_NOTFOUND;
        *msg = dp_asprintf("table \"%s\" does not exist", name);
    } else {
        rc = table_fill(t, &res, n);
    }
    duckdb_destroy_result(&res);
out:
    free(catalog);
    free(schema);
    free(table);
    return rc;
}

int batcher_appender_refusal(duckdb_appender a, const char *table, char **msg)
{
    duckdb_error_data e = duckdb_appender_error_data(a);
    int rc = duckpond_classify(duckdb_error_data_error_type(e), duckdb_error_data_message(e));
    *msg = dp_asprintf("appender for \"%s\": %s", table, duckdb_error_data_message(e));
    duckdb_destroy_error_data(&e);
    return rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
}

/* Records why the Appender a refused t's column i. */
static int col_refused(struct cat_table *t, int i, duckdb_appender a)
{
    if (!t->col_refused_rc) {
        t->col_refused_rc = calloc((size_t)t->ncols, sizeof *t->col_refused_rc);
        t->col_refused_msg = calloc((size_t)t->ncols, sizeof *t->col_refused_msg);
        if (!t->col_refused_rc || !t->col_refused_msg)
            return DUCKPOND_NOMEM;
    }
    t->col_refused_rc[i] = batcher_appender_refusal(a, t->stored.table, &t->col_refused_msg[i]);
    return t->col_refused_msg[i] ? DUCKPOND_OK : DUCKPOND_NOMEM;
}

/*
 * Reads the column types of t with an Appender on conn, which also tells
 * what it refuses (a view, a generated column). Only memory running out
 * fails.
 */
static int table_types(duckdb_connection conn, struct cat_table *t)
{
    duckdb_appender a;
    const struct stored_name *n = &t->stored;
    if (duckdb_appender_create_ext(conn, n->catalog, n->schema, n->table, &a) == DuckDBError) {
        t->refused_rc = batcher_appender_refusal(a, t->stored.table, &t->refused_msg);
        duckdb_appender_destroy(&a);
        return t->refused_msg ? DUCKPOND_OK : DUCKPOND_NOMEM;
    }
    int rc = DUCKPOND_OK;
    idx_t added = 0;
    for (int i = 0; i < t->ncols && rc == DUCKPOND_OK; i++) {
        if (duckdb_appender_add_column(a, t->cols[i].name) == DuckDBError) {
            rc = col_refused(t, i, a);
            continue;
        }
        duckdb_logical_type lt = duckdb_appender_column_type(a, added++);
        t->cols[i].type = duckdb_get_type_id(lt);
        if (t->cols[i].type == DUCKDB_TYPE_DECIMAL) {
            t->cols[i].width = duckdb_decimal_width(lt);
            t->cols[i].scale = duckdb_decimal_scale(lt);
        }
        duckdb_destroy_logical_type(&lt);
    }
    duckdb_appender_destroy(&a); /* it holds no rows */
    return rc;
}

/* The cached entry of table `name`, or NULL (lock held). */
static struct cat_table *table_find(struct batcher_catalog *cat, const char *name)
{
    struct cat_table *t = cat->tables;
    while (t && strcmp(t->name, name) != 0)
        t = t->next;
    return t;
}

/* Reads table `name` on conn, through its catalog query stmt, into a new entry; NULL with *rc, *msg. */
static struct cat_table *table_read(duckdb_connection conn, duckdb_prepared_statement stmt, const char *name,
                                    int *rc, char **msg)
{
    struct cat_table *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        *rc = DUCKPOND_NOMEM;
        return NULL;
    }
    *rc = table_lookup(stmt, name, t, msg);
    if (*rc == DUCKPOND_OK)
        *rc = table_types(conn, t);
    if (*rc != DUCKPOND_OK) {
        table_free(t);
        return NULL;
    }
    return t;
}

/* Reads table `name` from the catalog into a new entry of the cache (write lock held). */
static struct cat_table *table_load(struct batcher_catalog *cat, const char *name, int *rc, char **msg)
{
    struct cat_table *t = table_read(duckpond_conn_duckdb(cat->conn), cat->cols_stmt, name, rc, msg);
    if (t) {
        t->next = cat->tables;
        cat->tables = t;
    }
    return t;
}

/*
 * The entry of table `name` at generation gen: from the cache under the
 * lock held, or loaded when the caller holds the write lock (else NULL
 * with *rc = 0: load it under the write lock).
 */
static struct cat_table *table_get(struct batcher_catalog *cat, const char *name, uint64_t gen, bool writer,
                                   int *rc, char **msg)
{
    *rc = DUCKPOND_OK;
    if (cat->tables_gen < gen) { /* entries of a newer generation serve an older question too */
        if (!writer)
            return NULL;
        cache_clear(cat); /* one generation at a time: the older is stale */
        cat->tables_gen = gen;
    }
    struct cat_table *t = table_find(cat, name);
    if (!t && writer)
        t = table_load(cat, name, rc, msg);
    return t;
}

/* ------------------------------------------------------ column lists */

static struct cat_list *list_find(const struct cat_table *t, const duckpond_write *w)
{
    struct cat_list *l = t->lists;
    while (l && !batcher_key_matches(l->key, w))
        l = l->next;
    return l;
}

/* The status of a write naming t's column i (or 0), with *msg, as an Appender would give it. */
static int col_refusal(const struct cat_table *t, int i, char **msg)
{
    int rc = t->col_refused_rc ? t->col_refused_rc[i] : 0;
    if (rc)
        *msg = strdup(t->col_refused_msg[i]);
    return rc;
}

/*
 * The index in t of each of w's columns (names match case-insensitively,
 * as in SQL), then whether an Appender would take them: in the order the
 * writer meets the errors, unknown names first.
 */
static int resolve_columns(const struct cat_table *t, const duckpond_write *w, int *idx, char **msg)
{
    for (int i = 0; i < w->ncols; i++) {
        int j = 0;
        while (j < t->ncols && strcasecmp(t->cols[j].name, w->cols[i]) != 0)
            j++;
        if (j == t->ncols) {
            *msg = dp_asprintf("table \"%s\" has no column \"%s\"", w->table, w->cols[i]);
            return DUCKPOND_NOTFOUND;
        }
        idx[i] = j;
    }
    if (t->refused_rc) {
        *msg = strdup(t->refused_msg);
        return t->refused_rc;
    }
    int rc = DUCKPOND_OK;
    for (int i = 0; rc == DUCKPOND_OK && i < w->ncols; i++)
        rc = col_refusal(t, idx[i], msg);
    return rc;
}

/* Resolves w's column list against t (write lock held). NULL with *rc, *msg. */
static struct cat_list *list_load(struct cat_table *t, const duckpond_write *w, int *rc, char **msg)
{
    int *idx = calloc((size_t)w->ncols + 1, sizeof *idx);
    struct cat_list *l = calloc(1, sizeof *l);
    *rc = idx && l ? resolve_columns(t, w, idx, msg) : DUCKPOND_NOMEM;
    if (*rc == DUCKPOND_OK) {
        l->key = batcher_write_key(w);
        l->cols = calloc((size_t)w->ncols + 1, sizeof *l->cols);
        *rc = l->key && l->cols ? DUCKPOND_OK : DUCKPOND_NOMEM;
    }
    if (*rc != DUCKPOND_OK) {
        if (l) {
            free(l->key);
            free(l->cols);
        }
        free(l);
        free(idx);
        return NULL;
    }
    l->table = t;
    l->ncols = w->ncols;
    for (int i = 0; i < w->ncols; i++)
        l->cols[i] = t->cols[idx[i]]; /* the strings stay the table's */
    free(idx);
    l->next = t->lists;
    t->lists = l;
    return l;
}

/* w's resolved columns under the lock held; loaded only by a holder of the write lock. */
static const struct cat_list *list_get(struct batcher_catalog *cat, const duckpond_write *w, uint64_t gen,
                                       bool writer, int *rc, char **msg)
{
    struct cat_table *t = table_get(cat, w->table, gen, writer, rc, msg);
    if (!t)
        return NULL;
    struct cat_list *l = list_find(t, w);
    if (!l && writer)
        l = list_load(t, w, rc, msg);
    return l;
}

const struct cat_list *batcher_catalog_acquire(duckpond_batcher *b, const duckpond_write *w, bool exclusive,
                                               int *rc, char **msg)
{
    struct batcher_catalog *cat = &b->cat;
    uint64_t gen = batcher_schema_gen(b);
    const struct cat_list *l;
    if (!exclusive) {
        pthread_rwlock_rdlock(&cat->lock);
        if ((l = list_get(cat, w, gen, false, rc, msg)))
            return l;
        pthread_rwlock_unlock(&cat->lock);
    }
    pthread_rwlock_wrlock(&cat->lock);
    if (!(l = list_get(cat, w, gen, true, rc, msg)))
        pthread_rwlock_unlock(&cat->lock);
    return l;
}

void batcher_catalog_release(duckpond_batcher *b)
{
    pthread_rwlock_unlock(&b->cat.lock);
}

int batcher_catalog_columns(duckpond_batcher *b, const char *table, char ***cols, int *ncols, char **msg)
{
    struct batcher_catalog *cat = &b->cat;
    uint64_t gen = batcher_schema_gen(b);
    int rc;
    pthread_rwlock_rdlock(&cat->lock);
    struct cat_table *t = table_get(cat, table, gen, false, &rc, msg);
    if (!t) {
        pthread_rwlock_unlock(&cat->lock);
        pthread_rwlock_wrlock(&cat->lock);
        t = table_get(cat, table, gen, true, &rc, msg);
    }
    if (t) {
        const char **names = malloc((size_t)t->ncols * sizeof *names);
        for (int i = 0; names && i < t->ncols; i++)
            names[i] = t->cols[i].name;
        *cols = names ? batcher_names_block(names, t->ncols) : NULL;
        *ncols = t->ncols;
        rc = *cols ? DUCKPOND_OK : DUCKPOND_NOMEM;
        free(names);
    }
    pthread_rwlock_unlock(&cat->lock);
    return rc;
}

struct cat_table *batcher_catalog_read_on(duckdb_connection conn, duckdb_prepared_statement *stmt,
                                          const duckpond_write *w, const struct cat_list **list, int *rc,
                                          char **msg)
{
    *list = NULL;
    if (!*stmt && duckdb_prepare(conn, COLS_SQL, stmt) == DuckDBError) {
        *rc = DUCKPOND_ERROR;
        *msg = dp_asprintf("cannot read the catalog: %s", duckdb_prepare_error(*stmt));
        duckdb_destroy_prepare(stmt);
        *stmt = NULL;
        return NULL;
    }
    struct cat_table *t = table_read(conn, *stmt, w->table, rc, msg);
    if (t && !(*list = list_load(t, w, rc, msg))) {
        table_free(t);
        t = NULL;
    }
    return t;
}

void batcher_catalog_table_free(struct cat_table *t)
{
    if (t)
        table_free(t);
}
