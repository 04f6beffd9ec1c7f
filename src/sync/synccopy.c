/*
 * synccopy.c -- the publication's tables read from PostgreSQL's catalog,
 * and their initial copy into DuckDB.
 *
 * The copy runs on the plain connection in a REPEATABLE READ transaction
 * that takes the replication slot's exported snapshot, so it sees exactly
 * what the slot's consistent point covers. Each table comes as COPY ...
 * TO STDOUT in text format, one row per libpq buffer, and goes straight
 * into an Appender on the table, each value converted as the type map
 * says (synctype.c). A value that does not convert stops that table with
 * the row named; the other tables go on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync_int.h"

static const char tables_sql[] =
    "SELECT c.oid, n.nspname, c.relname, c.relreplident, a.attname, a.atttypid, a.atttypmod,"
    " t.typtype, coalesce(et.typtype, ''), coalesce(a.attnum = ANY(i.indkey), false)"
    " FROM pg_publication_tables p"
    " JOIN pg_namespace n ON n.nspname = p.schemaname"
    " JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename"
    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''"
    " JOIN pg_type t ON t.oid = a.atttypid"
    " LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'"
    " LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary"
    " WHERE p.pubname = $1 ORDER BY n.nspname, c.relname, a.attnum";

/* The DuckDB name of a PostgreSQL table: its own name for public, "schema_name" otherwise. */
static char *duck_name(const char *nsp, const char *rel)
{
    return strcmp(nsp, "public") ? dp_asprintf("%s_%s", nsp, rel) : strdup(rel);
}

/* A new table of the sync, named, with no columns yet. NULL when memory runs out. */
static struct sync_table *table_new(struct sync *s, const char *nsp, const char *rel)
{
    struct sync_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->pg_schema = strdup(nsp);
    t->pg_name = strdup(rel);
    t->name = duck_name(nsp, rel);
    struct dp_buf b = DP_BUF_INIT;
    dp_sql_ident(&b, s->schema);
    dp_buf_byte(&b, '.');
    dp_sql_ident(&b, t->name ? t->name : "");
    t->target = dp_buf_take(&b, NULL);
    if (!t->pg_schema || !t->pg_name || !t->name || !t->target) {
        sync_table_free(t);
        return NULL;
    }
    return t;
}

/* Adds row r of the catalog result as a column of t. 0 or -1 (memory, or a type that does not map). */
static int add_column(struct sync_table *t, PGresult *r, int row, char *why, size_t n)
{
    if (dp_grow(&t->cols, &t->cols_cap, (size_t)t->ncols + 1, sizeof *t->cols) != 0)
        return -1;
    struct sync_col *c = &t->cols[t->ncols];
    memset(c, 0, sizeof *c);
    c->name = strdup(PQgetvalue(r, row, 4));
    c->oid = (uint32_t)strtoul(PQgetvalue(r, row, 5), NULL, 10);
    c->typmod = (int32_t)strtol(PQgetvalue(r, row, 6), NULL, 10);
    c->user = PQgetvalue(r, row, 7)[0] == 'e'   ? SYNCTYPE_USER_ENUM
              : PQgetvalue(r, row, 8)[0] == 'e' ? SYNCTYPE_USER_ENUM_ARRAY
                                                : SYNCTYPE_USER_NONE;
    if (!c->name)
        return -1;
    t->ncols++;
    if (PQgetvalue(r, row, 9)[0] == 't') {
        size_t cap = (size_t)t->nkey;
        if (dp_grow(&t->key, &cap, (size_t)t->nkey + 1, sizeof *t->key) != 0)
            return -1;
        t->key[t->nkey++] = t->ncols - 1;
    }
    if (synctype_map(c->oid, c->typmod, c->user, &c->type, why, n) != 0)
        return 1;
    return 0;
}

/* Replaces the sync's tables with the list read; under the status lock. */
static void tables_replace(struct sync *s, struct sync_table **list, size_t n, size_t cap)
{
    pthread_mutex_lock(&s->mu);
    struct sync_table **old = s->tables;
    size_t nold = s->ntables;
    s->tables = list;
    s->ntables = n;
    s->tables_cap = cap;
    /* what the status page showed of a table carries over */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nold; j++)
            if (old[j] && !strcmp(old[j]->name, list[i]->name)) {
                list[i]->rows = old[j]->rows;
                break;
            }
    pthread_mutex_unlock(&s->mu);
    for (size_t j = 0; j < nold; j++)
        sync_table_free(old[j]);
    free(old);
}

/* Refuses a table PostgreSQL cannot name rows of (no key, no REPLICA IDENTITY FULL). */
static void check_identity(struct sync_table *t, const char *type_why)
{
    if (*type_why) {
        t->state = SYNC_STOPPED;
        t->why = strdup(type_why);
    } else if (t->replident == 'n' || (t->replident == 'd' && t->nkey == 0)) {
        t->state = SYNC_STOPPED;
        t->why = dp_asprintf("table %s.%s has neither a primary key nor REPLICA IDENTITY FULL: its updates "
                             "and deletes cannot be followed (ALTER TABLE ... REPLICA IDENTITY FULL)",
                             t->pg_schema, t->pg_name);
    }
}

int synccopy_load_tables(struct sync *s)
{
    const char *p[1] = {s->opt.publication};
    PGresult *r = PQexecParams(s->query, tables_sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        sync_error(s, "PostgreSQL: reading the publication's tables: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    struct sync_table **list = NULL, *t = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    char why[1024] = "";
    for (int row = 0; row < PQntuples(r) && rc == 0; row++) {
        uint32_t relid = (uint32_t)strtoul(PQgetvalue(r, row, 0), NULL, 10);
        if (!t || t->relid != relid) {
            if (t)
                check_identity(t, why);
            *why = 0;
            if (dp_grow(&list, &cap, n + 1, sizeof *list) != 0 ||
                !(t = table_new(s, PQgetvalue(r, row, 1), PQgetvalue(r, row, 2)))) {
                rc = -1;
                break;
            }
            list[n++] = t;
            t->relid = relid;
            t->replident = PQgetvalue(r, row, 3)[0];
            t->state = SYNC_STREAMING;
        }
        char cwhy[256] = "";
        int c = add_column(t, r, row, cwhy, sizeof cwhy);
        if (c < 0)
            rc = -1;
        else if (c > 0 && !*why)
            snprintf(why, sizeof why, "column %s of %s.%s: %s", PQgetvalue(r, row, 4), t->pg_schema,
                     t->pg_name, cwhy);
    }
    if (t && rc == 0)
        check_identity(t, why);
    PQclear(r);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            sync_table_free(list[i]);
        free(list);
        sync_error(s, "out of memory reading the publication's tables");
        return -1;
    }
    if (n == 0)
        sync_error(s, "the publication %s has no tables (or does not exist)", s->opt.publication);
    tables_replace(s, list, n, cap);
    for (size_t i = 0; i < n; i++)
        duckpond_db_protect(s->db, s->schema, list[i]->name, true);
    return 0;
}

/* ------------------------------------------------------------ the copy */

/*
 * Undoes COPY text format's escapes of one field in place (\t \n \\ \r
 * \b \f \v, octal \NNN and \xHH). Returns the new length.
 */
size_t synccopy_unescape(char *f, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (f[i] != '\\' || i + 1 == len) {
            f[o++] = f[i];
            continue;
        }
        char c = f[++i];
        switch (c) {
        case 't': f[o++] = '\t'; break;
        case 'n': f[o++] = '\n'; break;
        case 'r': f[o++] = '\r'; break;
        case 'b': f[o++] = '\b'; break;
        case 'f': f[o++] = '\f'; break;
        case 'v': f[o++] = '\v'; break;
        case 'x': {
            int v = 0, k = 0;
            for (; k < 2 && i + 1 < len && strchr("0123456789abcdefABCDEF", f[i + 1]) && f[i + 1]; k++) {
                char h = f[++i];
                v = v * 16 + (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
            }
            f[o++] = k ? (char)v : 'x';
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0';
                for (int k = 0; k < 2 && i + 1 < len && f[i + 1] >= '0' && f[i + 1] <= '7'; k++)
                    v = v * 8 + (f[++i] - '0');
                f[o++] = (char)v;
            } else {
                f[o++] = c;
            }
        }
    }
    return o;
}

/* One COPY text row into the Appender. 0, or -1 with the reason in why. */
static int copy_row(struct sync *s, struct sync_table *t, duckdb_appender a, char *row, size_t len, char *why,
                    size_t n)
{
    if (len && row[len - 1] == '\n')
        len--;
    size_t at = 0;
    for (int i = 0; i < t->ncols; i++) {
        char *f = row + at;
        char *tab = memchr(f, '\t', len - at);
        size_t flen = tab ? (size_t)(tab - f) : len - at;
        at += flen + 1;
        bool null = flen == 2 && f[0] == '\\' && f[1] == 'N';
        if (!null)
            flen = synccopy_unescape(f, flen);
        if (syncapply_value(s, a, &t->cols[i], null ? NULL : f, flen, why, n) != 0) {
            snprintf(why + strlen(why), n - strlen(why), " (column %s)", t->cols[i].name);
            return -1;
        }
        if (!tab && i + 1 < t->ncols) {
            snprintf(why, n, "COPY row has %d columns, %d expected", i + 1, t->ncols);
            return -1;
        }
    }
    return duckdb_appender_end_row(a) == DuckDBSuccess ? 0 : -1;
}

/* COPY of one table into its DuckDB table. 0; -1 when the stream failed (the session ends). */
static int copy_table(struct sync *s, struct sync_table *t)
{
    dp_buf_clear(&s->sql, 4096);
    dp_buf_str(&s->sql, "COPY ");
    dp_sql_ident(&s->sql, t->pg_schema);
    dp_buf_byte(&s->sql, '.');
    dp_sql_ident(&s->sql, t->pg_name);
    dp_buf_str(&s->sql, " (");
    for (int i = 0; i < t->ncols; i++) {
        if (i)
            dp_buf_str(&s->sql, ", ");
        dp_sql_ident(&s->sql, t->cols[i].name);
    }
    dp_buf_str(&s->sql, ") TO STDOUT");
    PGresult *r = PQexec(s->query, s->sql.data);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        sync_error(s, "PostgreSQL: %s: %s", s->sql.data, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    duckdb_appender a = NULL;
    char why[512] = "";
    if (duckdb_appender_create_ext(s->dcon, NULL, s->schema, t->name, &a) != DuckDBSuccess)
        snprintf(why, sizeof why, "cannot append: %s", a ? duckdb_appender_error(a) : "no appender");
    int64_t rows = 0;
    char *buf;
    int n;
    while ((n = PQgetCopyData(s->query, &buf, 0)) > 0) {
        if (!*why && copy_row(s, t, a, buf, (size_t)n, why, sizeof why) != 0)
            syncddl_stop(s, t, "the initial copy: row %" PRId64 " of %s.%s: %s", rows + 1, t->pg_schema,
                         t->pg_name, why);
        rows++;
        PQfreemem(buf);
    }
    r = PQgetResult(s->query);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        sync_error(s, "PostgreSQL: copying %s.%s: %s", t->pg_schema, t->pg_name, PQresultErrorMessage(r));
    PQclear(r);
    while ((r = PQgetResult(s->query)))
        PQclear(r);
    if (a && duckdb_appender_destroy(&a) != DuckDBSuccess && !*why)
        syncddl_stop(s, t, "the initial copy of %s.%s failed in DuckDB", t->pg_schema, t->pg_name);
    pthread_mutex_lock(&s->mu);
    t->rows = t->state == SYNC_STOPPED ? 0 : rows;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int synccopy_run(struct sync *s, const char *snapshot)
{
    dp_buf_clear(&s->sql, 4096);
    dp_buf_str(&s->sql, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT ");
    dp_sql_literal(&s->sql, snapshot, strlen(snapshot));
    PGresult *r = PQexec(s->query, s->sql.data);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        sync_error(s, "PostgreSQL: taking the slot's snapshot: %s", PQresultErrorMessage(r));
    PQclear(r);
    for (size_t i = 0; i < s->ntables && rc == 0; i++) {
        struct sync_table *t = s->tables[i];
        bool refused = t->state == SYNC_STOPPED;
        if (refused)
            fprintf(stderr, "duckpond: sync %s: not followed: %s\n", s->slot, t->why);
        t->state = SYNC_COPYING;
        rc = syncddl_create(s, t);
        if (rc == 0 && refused) {
            rc = syncddl_add_key(s, t);
            char *why = t->why;
            t->why = NULL;
            syncddl_stop(s, t, "%s", why);
            free(why);
        } else if (rc == 0) {
            sync_set_state(s, "copying");
            rc = copy_table(s, t);
            if (rc == 0 && t->state == SYNC_STOPPED) { /* what went in before the bad row goes */
                char *sql = dp_asprintf("DELETE FROM %s", t->target);
                rc = sql ? sync_exec(s, sql) : -1;
                free(sql);
            }
            if (rc == 0)
                rc = syncddl_add_key(s, t);
            if (t->state == SYNC_COPYING)
                t->state = SYNC_STREAMING;
        }
    }
    r = PQexec(s->query, "COMMIT");
    PQclear(r);
    return rc;
}
