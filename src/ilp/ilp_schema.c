/*
 * ilp_schema.c -- the line protocol's tables: what it knows of them, and
 * the DDL that makes them and their columns.
 *
 * A line for a table that does not exist creates it; a tag or field a
 * table lacks adds its column: tags VARCHAR, "i" integers BIGINT, "u"
 * UBIGINT, floats DOUBLE, booleans BOOLEAN, strings VARCHAR, and the
 * designated timestamp column "timestamp" TIMESTAMP (or TIMESTAMP_NS when
 * the server is told so). That DDL runs on one connection of the
 * server's own, one statement at a time under one mutex, and then tells
 * the batcher that the schema changed, so that its catalog cache reads
 * the new columns before the next write needs them. What is known of a
 * table (its columns as stored, their types) is kept for one schema
 * generation of the batcher: DDL from anywhere moves it on, and the next
 * look-up reads the table again.
 */
#include "ilp_schema.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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
        e->opt.batch_rows = ILP_BATCH_ROWS;
    if (!e->opt.write_bytes)
        e->opt.write_bytes = ILP_WRITE_BYTES;
    if (!e->opt.max_line)
        e->opt.max_line = ILP_MAX_LINE;
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

duckpond_batcher *ilp_env_batcher(const struct ilp_env *e)
{
    return e->b;
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

static const char *sql_type_for(const struct ilp_env *e, int kind)
{
    switch (kind) {
    case ILP_COL_TS: return e->opt.timestamp_ns ? "TIMESTAMP_NS" : "TIMESTAMP";
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
    dp_buf_printf(&sql, " (" ILP_TS_COLUMN " %s", sql_type_for(e, ILP_COL_TS));
    for (size_t i = 0; i < ln->ntags; i++)
        add_coldef(&sql, e, ln->tags[i].key, ILP_COL_TAG);
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

/* The types a designated timestamp column may have. */
static bool is_timestamp_type(duckdb_type t)
{
    return t == DUCKDB_TYPE_TIMESTAMP || t == DUCKDB_TYPE_TIMESTAMP_NS || t == DUCKDB_TYPE_TIMESTAMP_MS ||
           t == DUCKDB_TYPE_TIMESTAMP_S || t == DUCKDB_TYPE_TIMESTAMP_TZ;
}

int ilp_schema_column(struct ilp_env *e, const char *table, const char *key, int kind, char *out,
                      duckdb_type *type, char *why, size_t wn)
{
    pthread_mutex_lock(&e->mu);
    int rc;
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
        /* a table made beforehand designates its first timestamp column, whatever its name */
        for (int i = 0; kind == ILP_COL_TS && i < t->ncols; i++) {
            if (is_timestamp_type(t->types[i])) {
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
    pthread_mutex_unlock(&e->mu);
    return -1;
}

int ilp_schema_table(struct ilp_env *e, const char *name, const struct ilp_line *ln, char *why, size_t wn)
{
    pthread_mutex_lock(&e->mu);
    int rc;
    struct ilp_table *t = table_get(e, name, ln, &rc, why, wn);
    pthread_mutex_unlock(&e->mu);
    return t ? 0 : -1;
}
