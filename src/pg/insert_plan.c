/*
 * insert_plan.c -- plain INSERTs through the batcher (insert_plan.h).
 *
 * "Plain" is decided from DuckDB's own parse trees (json_serialize_sql),
 * analysed once per prepared statement: DuckDB will only serialise SELECT
 * statements, so the INSERT's target and its VALUES list are serialised
 * as two SELECTs ("SELECT * FROM <target>" and "VALUES ..."), cut at the
 * INSERT's top-level VALUES keyword. Which values are plain, and what a
 * cast or a clock needs of its column, is insert_value.c's to say.
 *
 * The table is named as DuckDB resolves it for the session, database and
 * schema included (the batcher's connection has a current schema of its
 * own, and cannot see the session's temporary tables): an unqualified
 * name in the session's current schema, a schema's in its current
 * database; what the session's connection says of both is read once per
 * catalog generation, which SET schema and USE end.
 *
 * A plain INSERT run in autocommit becomes a duckpond_write (atomic when
 * it has several rows) acknowledged in the session's ack mode: at commit,
 * or once in the journal on disk. Inside a transaction the same write is
 * applied on the session's own connection (duckpond_write_apply), its
 * rows the transaction's; should that fail before DuckDB ran anything,
 * DuckDB runs the statement as written, and its account is the client's.
 */
#include "insert_plan.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "insert_value.h"
#include "pgtypes.h"
#include "plancache.h"
#include "session_int.h"
#include "sqlshape.h"

void insert_plan_unref(struct insert_plan *p)
{
    if (!p || --p->refs > 0)
        return;
    free(p->table);
    for (int i = 0; i < p->ncolumns; i++)
        free(p->columns[i]);
    free(p->columns);
    for (int i = 0; p->values && i < p->nrows * p->width; i++)
        if (p->values[i].value.kind == DUCKPOND_VALUE_TEXT)
            free((char *)p->values[i].value.u.text.ptr);
    free(p->values);
    free(p);
}

/* ------------------------------------------------------------- analysis */

/* Runs SELECT json_serialize_sql(text) and parses the answer; NULL if it fails. */
static json_t *serialize_sql(struct session *s, const char *text)
{
    if (!s->json_stmt &&
        duckdb_prepare(s->dcon, "SELECT json_serialize_sql($1::VARCHAR)", &s->json_stmt) != DuckDBSuccess) {
        duckdb_destroy_prepare(&s->json_stmt);
        s->json_stmt = NULL;
        return NULL;
    }
    duckdb_result res;
    json_t *root = NULL;
    if (duckdb_bind_varchar(s->json_stmt, 1, text) != DuckDBSuccess)
        return NULL;
    if (duckdb_execute_prepared(s->json_stmt, &res) == DuckDBSuccess) {
        char *out = duckdb_value_varchar(&res, 0, 0);
        /* DuckDB writes "no location" as 2^64-1, which jansson's int64 cannot hold */
        for (char *q = out; q && (q = strstr(q, "18446744073709551615")); q += 20)
            memcpy(q, "-1                  ", 20);
        if (out)
            root = json_loads(out, 0, NULL);
        duckdb_free(out);
    }
    duckdb_destroy_result(&res);
    json_t *err = root ? json_object_get(root, "error") : NULL;
    if (!err || !json_is_false(err)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* The single SELECT node of a serialised statement, if it is a bare "SELECT * FROM x". */
static json_t *plain_select_node(json_t *root)
{
    json_t *stmts = json_object_get(root, "statements");
    if (!json_is_array(stmts) || json_array_size(stmts) != 1)
        return NULL;
    json_t *node = json_object_get(json_array_get(stmts, 0), "node");
    const char *type = json_string_value(json_object_get(node, "type"));
    if (!type || strcmp(type, "SELECT_NODE") != 0)
        return NULL;
    json_t *list = json_object_get(node, "select_list");
    json_t *mods = json_object_get(node, "modifiers");
    json_t *groups = json_object_get(node, "group_expressions");
    if (json_array_size(list) != 1 || json_array_size(mods) != 0 || json_array_size(groups) != 0 ||
        !json_is_null(json_object_get(node, "where_clause")) ||
        !json_is_null(json_object_get(node, "having")) || !json_is_null(json_object_get(node, "qualify")) ||
        !json_is_null(json_object_get(node, "sample")))
        return NULL;
    const char *cls = json_string_value(json_object_get(json_array_get(list, 0), "class"));
    if (!cls || strcmp(cls, "STAR") != 0)
        return NULL;
    return node;
}

/* The table and column list of an INSERT target, from "SELECT * FROM <target>". */
static int plan_target(json_t *node, struct insert_plan *plan)
{
    json_t *from = json_object_get(node, "from_table");
    const char *type = json_string_value(json_object_get(from, "type"));
    if (!type || !insert_value_str_empty(json_object_get(from, "alias")))
        return -1;
    const char *schema, *table;
    json_t *cols = NULL;
    if (!strcmp(type, "BASE_TABLE")) {
        if (json_array_size(json_object_get(from, "column_name_alias")) != 0 ||
            !insert_value_str_empty(json_object_get(from, "catalog_name")))
            return -1;
        schema = json_string_value(json_object_get(from, "schema_name"));
        table = json_string_value(json_object_get(from, "table_name"));
    } else if (!strcmp(type, "TABLE_FUNCTION")) {
        json_t *fn = json_object_get(from, "function");
        if (!insert_value_str_empty(json_object_get(fn, "catalog")) ||
            json_array_size(json_object_get(from, "column_name_alias")) != 0)
            return -1;
        schema = json_string_value(json_object_get(fn, "schema"));
        table = json_string_value(json_object_get(fn, "function_name"));
        cols = json_object_get(fn, "children");
    } else {
        return -1;
    }
    if (!table || !*table || strchr(table, '.') || (schema && strchr(schema, '.')))
        return -1;
    bool qualified = schema && *schema;
    if (!(plan->table = dp_asprintf("%s%s%s", qualified ? schema : "", qualified ? "." : "", table)))
        return -1;
    size_t ncols = json_array_size(cols);
    if (ncols == 0)
        return 0;
    if (!(plan->columns = calloc(ncols, sizeof *plan->columns)))
        return -1;
    for (size_t i = 0; i < ncols; i++) {
        json_t *c = json_array_get(cols, i);
        const char *cls = json_string_value(json_object_get(c, "class"));
        json_t *names = json_object_get(c, "column_names");
        if (!cls || strcmp(cls, "COLUMN_REF") != 0 || json_array_size(names) != 1 ||
            !insert_value_str_empty(json_object_get(c, "alias")))
            return -1;
        if (!(plan->columns[i] = strdup(json_string_value(json_array_get(names, 0)))))
            return -1;
        plan->ncolumns = (int)i + 1;
    }
    return 0;
}

/*
 * Where the session's connection looks up names, and whether it has
 * temporary tables or views: DuckDB's own functions, named in full (the
 * pgcatalog overlay has a current_schema() of PostgreSQL's).
 */
static const char WHERE_SQL[] =
    "SELECT system.main.current_database(), system.main.current_schema(), "
    "(SELECT count(*) FROM system.main.duckdb_tables() WHERE database_name = 'temp') + "
    "(SELECT count(*) FROM system.main.duckdb_views() WHERE database_name = 'temp' AND NOT internal)";

/* A malloc'd copy of the string at (col, 0) of a result, or NULL. */
static char *result_str(duckdb_result *res, idx_t col)
{
    char *v = duckdb_value_varchar(res, col, 0);
    char *copy = v ? strdup(v) : NULL;
    duckdb_free(v);
    return copy;
}

/* Reads s->where (once per catalog generation: SET schema and USE end one). False when it cannot be read. */
static bool where_known(struct session *s)
{
    uint64_t gen = plancache_gen(s);
    if (s->where.known && s->where.gen == gen)
        return true;
    free(s->where.db);
    free(s->where.schema);
    s->where.db = s->where.schema = NULL;
    s->where.known = false;
    duckdb_result res;
    if (duckdb_query(s->dcon, WHERE_SQL, &res) == DuckDBSuccess && duckdb_row_count(&res) == 1) {
        s->where.db = result_str(&res, 0);
        s->where.schema = result_str(&res, 1);
        s->where.temps = duckdb_value_int64(&res, 2, 0) > 0;
        s->where.known = s->where.db && s->where.schema;
        s->where.gen = gen;
    }
    duckdb_destroy_result(&res);
    return s->where.known;
}

/*
 * Names plan's table database.schema.table, as DuckDB resolves it for
 * the session. -1 when the batcher cannot take it so: a temporary table
 * or view, which DuckDB looks up first, may be meant (the batcher's
 * connection cannot see them), or a name holds a dot.
 */
static int plan_locate(struct session *s, struct insert_plan *plan)
{
    if (!where_known(s))
        return -1;
    const char *dot = strchr(plan->table, '.');
    char *schema = dot ? strndup(plan->table, (size_t)(dot - plan->table)) : NULL;
    bool maybe_temp = !dot || (schema && !strcasecmp(schema, "main"));
    char *name = NULL;
    if ((!dot || schema) && !(s->where.temps && maybe_temp) && !strchr(s->where.db, '.') &&
        (dot || !strchr(s->where.schema, '.')))
        name =
            dp_asprintf("%s.%s.%s", s->where.db, dot ? schema : s->where.schema, dot ? dot + 1 : plan->table);
    free(schema);
    if (!name)
        return -1;
    free(plan->table);
    plan->table = name;
    return 0;
}

/* The two halves DuckDB serialises of "INSERT INTO <target> VALUES ...", or -1 when it has no such form. */
static int insert_halves(const char *sql, char **select, const char **values)
{
    const char *target;
    *values = sqlshape_insert_values_at(sql, strlen(sql), &target);
    if (!*values)
        return -1;
    *select = dp_asprintf("SELECT * FROM %.*s", (int)(*values - target), target);
    return *select ? 0 : -1;
}

void insert_plan_check(struct session *s, struct stmt *st)
{
    uint64_t gen = plancache_gen(s);
    st->plan_checked = true;
    st->plan_gen = gen;
    if (st->kind != STMT_DUCKDB || st->dtype != DUCKDB_STATEMENT_TYPE_INSERT || !st->count_result)
        return;
    for (idx_t i = 1; i <= duckdb_nparams(st->prep); i++)
        if (duckdb_param_type(st->prep, i) == DUCKDB_TYPE_BLOB)
            return; /* bytea text is not DuckDB's blob text: left to the bound path */
    char *select;
    const char *values;
    if (insert_halves(st->sql, &select, &values) != 0)
        return;
    struct insert_plan *plan = calloc(1, sizeof *plan);
    struct values_scan vs = {0};
    if (plan)
        plan->refs = 1;
    json_t *t = serialize_sql(s, select), *v = plan ? serialize_sql(s, values) : NULL;
    json_t *tn = t ? plain_select_node(t) : NULL, *vn = v ? plain_select_node(v) : NULL;
    if (plan && tn && vn && plan_target(tn, plan) == 0 && plan_locate(s, plan) == 0 &&
        insert_value_read(vn, plan, &vs) == 0) {
        bool params_ok = true;
        for (int i = 0; i < plan->nrows * plan->width; i++)
            if (plan->values[i].param > st->nparams)
                params_ok = false;
        if (params_ok && insert_value_resolve(s, plan, &vs) == 0) {
            st->plan = plan;
            plan = NULL;
        }
    }
    insert_value_free(&vs);
    insert_plan_unref(plan);
    json_decref(t);
    json_decref(v);
    free(select);
}

/* ---------------------------------------------------------------- running */

/* Whether a failed write is one DuckDB's own analysis of the statement
 * would have refused first, and nothing of it was written. */
static bool failure_retryable(int rc, duckpond_write *w, bool submitted)
{
    if (rc != DUCKPOND_CONVERSION && rc != DUCKPOND_NOTFOUND && rc != DUCKPOND_SYNTAX &&
        rc != DUCKPOND_MISUSE && rc != DUCKPOND_CONSTRAINT)
        return false;
    size_t committed = 0, failed = 0;
    if (submitted)
        duckpond_write_counts(w, &committed, &failed);
    return committed == 0;
}

/* Writes "INSERT 0 n" without going through printf. */
static void insert_tag(char *tag, size_t taglen, size_t n)
{
    char digits[24];
    int i = (int)sizeof digits;
    do
        digits[--i] = (char)('0' + n % 10);
    while ((n /= 10) > 0 && i > 0);
    size_t nd = sizeof digits - (size_t)i;
    if (taglen < 9 + nd + 1) {
        snprintf(tag, taglen, "INSERT 0 %.*s", (int)nd, digits + i);
        return;
    }
    memcpy(tag, "INSERT 0 ", 9);
    memcpy(tag + 9, digits + i, nd);
    tag[9 + nd] = 0;
}

/* The instant a statement with clocks was accepted, in the forms its columns take. */
struct clock_now {
    int64_t us, midnight_us; /* microseconds since 1970-01-01 UTC, and of that day's start */
    char date[40];           /* the day, YYYY-MM-DD */
};

/*
 * The clock of a statement: DuckDB's now() is its transaction's start, in
 * microseconds (*at, or for a statement in autocommit the time now), and
 * current_date that instant's day in its TimeZone (UTC: resolve_needs
 * checked).
 */
static void clock_read(struct clock_now *c, const int64_t *at)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->us = at ? *at : (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    int64_t days = c->us / 86400000000LL - (c->us % 86400000000LL < 0);
    c->midnight_us = days * 86400000000LL;
    /* the civil date of a day number (H. Hinnant's days_from_civil, inverted) */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    snprintf(c->date, sizeof c->date, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

/* A clock's value for its column. */
static duckpond_value clock_value(enum plan_clock clock, const struct clock_now *c)
{
    duckpond_value v = {.kind = DUCKPOND_VALUE_TIMESTAMP};
    if (clock == PLAN_CLOCK_DATE) {
        v.kind = DUCKPOND_VALUE_TEXT;
        v.u.text.ptr = c->date;
        v.u.text.len = strlen(c->date);
    } else {
        v.u.timestamp_us = clock == PLAN_CLOCK_MIDNIGHT ? c->midnight_us : c->us;
    }
    return v;
}

/*
 * Adds the plan's rows to w, with the portal's parameters, the
 * statement's literals and the clock (its transaction's start *at, or
 * NULL: now) in their slots. DUCKPOND_OK, DUCKPOND_CONVERSION for a
 * parameter the batcher cannot take (its reason in err), or another
 * status.
 */
static int add_rows(const struct stmt *st, const struct portal *p, const int64_t *at, duckpond_write *w,
                    char *err, size_t errlen)
{
    const struct insert_plan *plan = st->plan;
    struct clock_now now;
    if (plan->has_clock)
        clock_read(&now, at);
    /* a row's values, and room per column for the text of a binary uuid: each is read when the row is added */
    duckpond_value row[64], *vals = row;
    char row_scratch[64][40], (*scratch)[40] = row_scratch;
    if (plan->width > 64) {
        vals = malloc(sizeof *vals * (size_t)plan->width);
        scratch = malloc(sizeof *scratch * (size_t)plan->width);
    }
    int rc = vals && scratch ? DUCKPOND_OK : DUCKPOND_NOMEM;
    for (int r = 0; r < plan->nrows && rc == DUCKPOND_OK; r++) {
        for (int c = 0; c < plan->width && rc == DUCKPOND_OK; c++) {
            const struct plan_value *pv = &plan->values[r * plan->width + c];
            if (pv->param == 0) {
                vals[c] = pv->clock ? clock_value(pv->clock, &now)
                          : pv->lit ? st->lits[pv->lit - 1]
                                    : pv->value;
                continue;
            }
            int i = pv->param - 1;
            if (i >= p->nparams) {
                rc = DUCKPOND_MISUSE;
                snprintf(err, errlen, "no value for parameter $%d", pv->param);
            } else if (pgtypes_value(st->param_oids[i], p->pfmts[i], p->pvals[i], p->plens[i], &vals[c],
                                     scratch[c], sizeof scratch[0], err, errlen) != 0) {
                rc = DUCKPOND_CONVERSION;
            }
        }
        if (rc == DUCKPOND_OK)
            rc = duckpond_write_add_row(w, vals);
    }
    if (vals != row)
        free(vals);
    if (scratch != row_scratch)
        free(scratch);
    return rc;
}

/*
 * The start of the session's open transaction, DuckDB's now() in it, in
 * microseconds (read once per transaction). 0, or -1 if it cannot be read.
 */
static int tx_clock(struct session *s, int64_t *at)
{
    if (!s->tx_clock.known) {
        duckdb_result res;
        if (duckdb_query(s->dcon, "SELECT epoch_us(system.main.get_current_timestamp())", &res) ==
                DuckDBSuccess &&
            duckdb_row_count(&res) == 1) {
            s->tx_clock.us = duckdb_value_int64(&res, 0, 0);
            s->tx_clock.known = true;
        }
        duckdb_destroy_result(&res);
    }
    *at = s->tx_clock.us;
    return s->tx_clock.known ? 0 : -1;
}

int insert_plan_apply(struct session *s, struct stmt *st, struct portal *p, char *tag, size_t taglen)
{
    struct insert_plan *plan = st->plan;
    duckpond_write *w = NULL;
    char err[256] = "";
    int64_t at = 0;
    if ((plan->has_clock && tx_clock(s, &at) != 0) ||
        duckpond_write_new(s->env->batcher, plan->table, (const char *const *)plan->columns, plan->ncolumns,
                           DUCKPOND_WRITE_ATOMIC, &w) != DUCKPOND_OK ||
        add_rows(st, p, &at, w, err, sizeof err) != DUCKPOND_OK) {
        duckpond_write_free(w);
        return 1; /* DuckDB runs it, and says what is wrong with it */
    }
    bool ran = false;
    registry_run_begin(&s->reg);
    int rc = duckpond_write_apply(s->conn, w, &ran);
    registry_run_end(&s->reg);
    if (rc == DUCKPOND_OK) {
        size_t committed = 0;
        duckpond_write_counts(w, &committed, NULL);
        insert_tag(tag, taglen, committed);
    } else if (ran) { /* DuckDB ran it and failed: its error, its transaction state */
        session_duckdb_error(s, DUCKDB_ERROR_INVALID, duckpond_write_errmsg(w));
    }
    duckpond_write_free(w);
    return rc == DUCKPOND_OK ? 0 : ran ? -1 : 1;
}

int insert_plan_run(struct session *s, struct stmt *st, struct portal *p, char *tag, size_t taglen,
                    bool can_retry)
{
    struct insert_plan *plan = st->plan;
    duckpond_write *w = NULL;
    int rc = duckpond_write_new(s->env->batcher, plan->table, (const char *const *)plan->columns,
                                plan->ncolumns, plan->nrows > 1 ? DUCKPOND_WRITE_ATOMIC : 0, &w);
    if (rc != DUCKPOND_OK) {
        session_error(s, duckpond_sqlstate(rc, NULL), "could not queue the insert: %s",
                      duckpond_strerror(rc));
        return -1;
    }
    char err[256] = "";
    rc = add_rows(st, p, NULL, w, err, sizeof err);
    if (rc == DUCKPOND_CONVERSION) { /* a binary value the batcher cannot take: DuckDB runs it */
        duckpond_write_free(w);
        return 1;
    }
    bool submitted = false;
    if (rc == DUCKPOND_OK) {
        registry_run_begin(&s->reg);
        rc = duckpond_write_submit(w, s->ack);
        registry_run_end(&s->reg);
        submitted = true;
    }
    size_t committed = 0, failed = 0;
    if (rc == DUCKPOND_OK) {
        duckpond_write_counts(w, &committed, &failed);
        session_note_seq(s, duckpond_write_seq(w));
        insert_tag(tag, taglen, committed);
    } else if (can_retry && !*err && failure_retryable(rc, w, submitted)) {
        duckpond_write_free(w);
        return 2;
    } else {
        const char *msg = *err ? err : duckpond_write_errmsg(w);
        if (!msg || !*msg)
            msg = duckpond_strerror(rc);
        session_error(s, duckpond_sqlstate(rc, msg), "%s", msg);
    }
    duckpond_write_free(w);
    return rc == DUCKPOND_OK ? 0 : -1;
}
