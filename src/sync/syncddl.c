/*
 * syncddl.c -- the DuckDB side of the sync's tables: made with the mapped
 * types and the primary key, altered when PostgreSQL's columns change, and
 * stopped (with the reason kept in duckpond_sync_tables, so that a
 * restart does not apply changes to a table that missed some).
 *
 * A Relation message carries the table's columns as PostgreSQL has them
 * now. Against what we know: columns missing are dropped, new ones
 * added; one column gone and one new at the same place with the same
 * type is a rename; a column whose type maps differently stops the table
 * (its rows could not be converted without losing something), and the
 * other tables go on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync_int.h"

/* ", PRIMARY KEY (k1, k2)" or "(k1, k2)": the key's columns in parentheses. */
static void key_columns(struct dp_buf *b, const struct sync_table *t)
{
    dp_buf_byte(b, '(');
    for (int k = 0; k < t->nkey; k++) {
        if (k)
            dp_buf_str(b, ", ");
        dp_sql_ident(b, t->cols[t->key[k]].name);
    }
    dp_buf_byte(b, ')');
}

int syncddl_create(struct sync *s, struct sync_table *t)
{
    struct dp_buf *b = &s->sql;
    dp_buf_clear(b, 4096);
    dp_buf_printf(b, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (", t->target, t->target);
    for (int i = 0; i < t->ncols; i++) {
        if (i)
            dp_buf_str(b, ", ");
        dp_sql_ident(b, t->cols[i].name);
        dp_buf_printf(b, " %s", *t->cols[i].type.duck ? t->cols[i].type.duck : "VARCHAR");
    }
    dp_buf_byte(b, ')');
    return sync_exec(s, b->data);
}

int syncddl_add_key(struct sync *s, struct sync_table *t)
{
    if (!t->nkey)
        return 0;
    struct dp_buf *b = &s->sql;
    dp_buf_clear(b, 4096);
    dp_buf_printf(b, "ALTER TABLE %s ADD PRIMARY KEY ", t->target);
    key_columns(b, t);
    return sync_exec(s, b->data);
}

int syncddl_load_stopped(struct sync *s)
{
    dp_buf_clear(&s->sql, 4096);
    dp_buf_str(&s->sql,
               "SELECT pg_schema, pg_table, message FROM duckpond_sync_tables WHERE state = 'stopped'"
               " AND slot = ");
    dp_sql_literal(&s->sql, s->slot, strlen(s->slot));
    duckdb_result res;
    if (sync_query(s, s->sql.data, &res) != 0)
        return -1;
    for (idx_t r = 0; r < duckdb_row_count(&res); r++) {
        char *nsp = duckdb_value_varchar(&res, 0, r), *rel = duckdb_value_varchar(&res, 1, r),
             *msg = duckdb_value_varchar(&res, 2, r);
        struct sync_table *t = nsp && rel ? sync_table_by_name(s, nsp, rel) : NULL;
        if (t) {
            pthread_mutex_lock(&s->mu);
            t->state = SYNC_STOPPED;
            free(t->why);
            t->why = msg;
            msg = NULL;
            pthread_mutex_unlock(&s->mu);
        }
        duckdb_free(nsp);
        duckdb_free(rel);
        duckdb_free(msg);
    }
    duckdb_destroy_result(&res);
    /* A table stopped in PostgreSQL's catalog (no key) that was not stopped here stops now. */
    for (size_t i = 0; i < s->ntables; i++) {
        struct sync_table *t = s->tables[i];
        if (t->state == SYNC_STOPPED && t->why && strstr(t->why, "neither a primary key"))
            fprintf(stderr, "duckpond: sync %s: not followed: %s\n", s->slot, t->why);
    }
    return 0;
}

void syncddl_stop(struct sync *s, struct sync_table *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = dp_vasprintf(fmt, ap);
    va_end(ap);
    syncapply_stage_drop(s, t);
    pthread_mutex_lock(&s->mu);
    t->state = SYNC_STOPPED;
    free(t->why);
    t->why = why;
    pthread_mutex_unlock(&s->mu);
    fprintf(stderr, "duckpond: sync %s: table %s stopped: %s\n", s->slot, t->name, why ? why : "");
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_str(&b, "DELETE FROM duckpond_sync_tables WHERE slot = ");
    dp_sql_literal(&b, s->slot, strlen(s->slot));
    dp_buf_str(&b, " AND pg_schema = ");
    dp_sql_literal(&b, t->pg_schema, strlen(t->pg_schema));
    dp_buf_str(&b, " AND pg_table = ");
    dp_sql_literal(&b, t->pg_name, strlen(t->pg_name));
    dp_buf_str(&b, "; INSERT INTO duckpond_sync_tables VALUES (");
    dp_sql_literal(&b, s->slot, strlen(s->slot));
    dp_buf_str(&b, ", ");
    dp_sql_literal(&b, t->pg_schema, strlen(t->pg_schema));
    dp_buf_str(&b, ", ");
    dp_sql_literal(&b, t->pg_name, strlen(t->pg_name));
    dp_buf_str(&b, ", 'stopped', ");
    dp_sql_literal(&b, why ? why : "", why ? strlen(why) : 0);
    dp_buf_str(&b, ")");
    if (!b.failed && s->in_tx)
        sync_exec(s, b.data);
    dp_buf_free(&b);
}

/* Runs "ALTER TABLE target <what>" built from a format. 0 or -1. */
static int alter(struct sync *s, struct sync_table *t, const char *what, const char *a, const char *b2,
                 const char *type)
{
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_printf(&b, "ALTER TABLE %s %s ", t->target, what);
    dp_sql_ident(&b, a);
    if (b2) {
        dp_buf_str(&b, " TO ");
        dp_sql_ident(&b, b2);
    }
    if (type)
        dp_buf_printf(&b, " %s", type);
    int rc = b.failed ? -1 : sync_exec(s, b.data);
    dp_buf_free(&b);
    return rc;
}

static int col_index(const struct sync_table *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i].name, name))
            return i;
    return -1;
}

/* Whether the message has a column of this name. */
static bool msg_has(const struct pgo_msg *m, const char *name)
{
    for (int j = 0; j < m->ncols; j++)
        if (!strcmp(m->cols[j].name, name))
            return true;
    return false;
}

/* How many of t's columns before i the message still has (by name). */
static int kept_before_t(const struct sync_table *t, const struct pgo_msg *m, int i)
{
    int n = 0;
    for (int k = 0; k < i; k++)
        n += msg_has(m, t->cols[k].name);
    return n;
}

/* How many of the message's columns before j t already has (by name). */
static int kept_before_m(const struct sync_table *t, const struct pgo_msg *m, int j)
{
    int n = 0;
    for (int k = 0; k < j; k++)
        n += col_index(t, m->cols[k].name) >= 0;
    return n;
}

/*
 * The message's column that t's column i became by a rename: one whose
 * name is new, of the same type, standing after as many kept columns as
 * i did (a rename keeps the column's place; PostgreSQL adds new columns
 * at the end). Its index, or -1.
 */
static int renamed_to(const struct sync_table *t, const struct pgo_msg *m, int i)
{
    if (msg_has(m, t->cols[i].name))
        return -1;
    for (int j = 0; j < m->ncols; j++)
        if (col_index(t, m->cols[j].name) < 0 && t->cols[i].oid == m->cols[j].type &&
            t->cols[i].typmod == m->cols[j].typmod && kept_before_t(t, m, i) == kept_before_m(t, m, j))
            return j;
    return -1;
}

/* Whether the message's column j is one of t's renamed. */
static bool is_renamed(const struct sync_table *t, const struct pgo_msg *m, int j)
{
    for (int i = 0; i < t->ncols; i++)
        if (renamed_to(t, m, i) == j)
            return true;
    return false;
}

/* The table's columns replaced by the message's (names, types), the key kept by name. */
static int adopt_columns(struct sync_table *t, const struct pgo_msg *m, char *why, size_t n)
{
    struct sync_col *cols = calloc((size_t)m->ncols + 1, sizeof *cols);
    if (!cols)
        return -1;
    for (int j = 0; j < m->ncols; j++) {
        int i = col_index(t, m->cols[j].name);
        cols[j].name = strdup(m->cols[j].name);
        cols[j].oid = m->cols[j].type;
        cols[j].typmod = m->cols[j].typmod;
        cols[j].user = i >= 0 ? t->cols[i].user : SYNCTYPE_USER_NONE;
        if (synctype_map(cols[j].oid, cols[j].typmod, cols[j].user, &cols[j].type, why, n) != 0 &&
            i >= 0) /* an enum we knew from the catalog */
            cols[j].type = t->cols[i].type;
    }
    /* the key, by name */
    char **keys = calloc((size_t)t->nkey + 1, sizeof *keys);
    for (int k = 0; keys && k < t->nkey; k++)
        keys[k] = t->cols[t->key[k]].name;
    int nkey = 0;
    for (int k = 0; keys && k < t->nkey; k++)
        for (int j = 0; j < m->ncols; j++)
            if (!strcmp(cols[j].name, keys[k]))
                t->key[nkey++] = j;
    free(keys);
    for (int i = 0; i < t->ncols; i++)
        free(t->cols[i].name);
    free(t->cols);
    t->cols = cols;
    t->ncols = m->ncols;
    t->cols_cap = (size_t)m->ncols + 1;
    t->nkey = nkey;
    return 0;
}

/* Whether the message's columns are the table's, names and types. */
static bool same_columns(const struct sync_table *t, const struct pgo_msg *m)
{
    if (t->ncols != m->ncols)
        return false;
    for (int i = 0; i < m->ncols; i++)
        if (strcmp(t->cols[i].name, m->cols[i].name) || t->cols[i].oid != m->cols[i].type ||
            t->cols[i].typmod != m->cols[i].typmod)
            return false;
    return true;
}

/* A column whose type changed, by name: its index in the message, or -1. */
static int changed_type(const struct sync_table *t, const struct pgo_msg *m)
{
    for (int j = 0; j < m->ncols; j++) {
        int i = col_index(t, m->cols[j].name);
        if (i >= 0 && (t->cols[i].oid != m->cols[j].type || t->cols[i].typmod != m->cols[j].typmod))
            return j;
    }
    return -1;
}

/* Drops, renames and adds columns so that the DuckDB table has the message's. 0 or -1. */
static int follow_columns(struct sync *s, struct sync_table *t, const struct pgo_msg *m)
{
    for (int i = 0; i < t->ncols; i++) {
        if (msg_has(m, t->cols[i].name))
            continue;
        int j = renamed_to(t, m, i);
        if (j >= 0) {
            if (alter(s, t, "RENAME COLUMN", t->cols[i].name, m->cols[j].name, NULL) != 0)
                return -1;
        } else if (alter(s, t, "DROP COLUMN", t->cols[i].name, NULL, NULL) != 0) {
            return -1;
        }
    }
    for (int j = 0; j < m->ncols; j++) {
        if (col_index(t, m->cols[j].name) >= 0 || is_renamed(t, m, j))
            continue;
        struct synctype ty;
        char why[256];
        if (synctype_map(m->cols[j].type, m->cols[j].typmod, SYNCTYPE_USER_NONE, &ty, why, sizeof why) != 0) {
            syncddl_stop(s, t, "column %s added to %s.%s: %s", m->cols[j].name, t->pg_schema, t->pg_name,
                         why);
            return 0;
        }
        if (alter(s, t, "ADD COLUMN", m->cols[j].name, NULL, ty.duck) != 0)
            return -1;
    }
    char why[256];
    return adopt_columns(t, m, why, sizeof why);
}

int syncddl_relation(struct sync *s, struct sync_table *t, const struct pgo_msg *m)
{
    t->replident = m->replident;
    if (same_columns(t, m))
        return 0;
    /* the staged rows have the old columns: applied first */
    if (syncapply_round(s, t) != 0)
        return -1;
    syncapply_stage_drop(s, t);
    int j = changed_type(t, m);
    if (j >= 0) {
        syncddl_stop(s, t,
                     "the type of column %s of %s.%s changed in PostgreSQL (OID %u, typmod %d): the "
                     "table is no longer followed; drop it and restart the sync to copy it again",
                     m->cols[j].name, t->pg_schema, t->pg_name, m->cols[j].type, m->cols[j].typmod);
        return 0;
    }
    fprintf(stderr, "duckpond: sync %s: the columns of %s.%s changed; following\n", s->slot, t->pg_schema,
            t->pg_name);
    return follow_columns(s, t, m);
}

/* The DuckDB columns of t's target, in order, into names (malloc'd each). Their count, or -1. */
static int duck_columns(struct sync *s, struct sync_table *t, char ***names)
{
    dp_buf_clear(&s->sql, 4096);
    dp_buf_str(&s->sql, "SELECT column_name FROM duckdb_columns() WHERE schema_name = ");
    dp_sql_literal(&s->sql, s->schema, strlen(s->schema));
    dp_buf_str(&s->sql, " AND table_name = ");
    dp_sql_literal(&s->sql, t->name, strlen(t->name));
    dp_buf_str(&s->sql, " ORDER BY column_index");
    duckdb_result res;
    if (sync_query(s, s->sql.data, &res) != 0)
        return -1;
    int n = (int)duckdb_row_count(&res);
    *names = calloc((size_t)n + 1, sizeof **names);
    for (int i = 0; *names && i < n; i++)
        (*names)[i] = duckdb_value_varchar(&res, 0, (idx_t)i);
    duckdb_destroy_result(&res);
    return *names ? n : -1;
}

int syncddl_reconcile(struct sync *s, struct sync_table *t)
{
    char **names = NULL;
    int n = duck_columns(s, t, &names);
    if (n < 0)
        return -1;
    bool same = n == t->ncols;
    for (int i = 0; same && i < n; i++)
        same = names[i] && !strcmp(names[i], t->cols[i].name);
    int rc = 0;
    if (!same && n > 0) {
        /* DuckDB is behind PostgreSQL's catalog (a column change rolled back by a crash):
         * know DuckDB's columns, so that the next Relation message alters them again */
        struct sync_col *cols = calloc((size_t)n, sizeof *cols);
        rc = cols ? 0 : -1;
        for (int i = 0; cols && i < n; i++) {
            int pgi = col_index(t, names[i] ? names[i] : "");
            const struct sync_col *from = pgi >= 0 ? &t->cols[pgi] : i < t->ncols ? &t->cols[i] : NULL;
            cols[i].name = strdup(names[i] ? names[i] : "");
            if (from) {
                cols[i].oid = from->oid;
                cols[i].typmod = from->typmod;
                cols[i].user = from->user;
                cols[i].type = from->type;
            }
        }
        if (cols) {
            fprintf(stderr,
                    "duckpond: sync %s: %s has other columns in DuckDB than in PostgreSQL; following\n",
                    s->slot, t->name);
            for (int i = 0; i < t->ncols; i++)
                free(t->cols[i].name);
            free(t->cols);
            t->cols = cols;
            t->ncols = n;
            t->cols_cap = (size_t)n;
        }
    }
    for (int i = 0; i < n; i++)
        duckdb_free(names[i]);
    free(names);
    return rc;
}
