/*
 * insert_plan.c -- plain INSERTs through the batcher (insert_plan.h).
 *
 * "Plain" is decided from DuckDB's own parse trees (json_serialize_sql),
 * analysed once per prepared statement: DuckDB will only serialise SELECT
 * statements, so the INSERT's target and its VALUES list are serialised
 * as two SELECTs ("SELECT * FROM <target>" and "VALUES ..."), cut at the
 * INSERT's top-level VALUES keyword. A value is plain when it is a
 * constant DuckDB typed as an integer, a double, a decimal, a string or a
 * boolean, a parameter, or DEFAULT; anything else (an expression, a cast,
 * now()) leaves the statement to DuckDB.
 *
 * A plain INSERT run in autocommit becomes a duckpond_write (atomic when
 * it has several rows) acknowledged in the session's ack mode: at commit,
 * or once in the journal on disk.
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
        !json_is_null(json_object_get(node, "having")) ||
        !json_is_null(json_object_get(node, "qualify")) ||
        !json_is_null(json_object_get(node, "sample")))
        return NULL;
    const char *cls = json_string_value(json_object_get(json_array_get(list, 0), "class"));
    if (!cls || strcmp(cls, "STAR") != 0)
        return NULL;
    return node;
}

static bool str_empty(json_t *v)
{
    const char *s = json_string_value(v);
    return !v || json_is_null(v) || (s && !*s);
}

/* The table and column list of an INSERT target, from "SELECT * FROM <target>". */
static int plan_target(json_t *node, struct insert_plan *plan)
{
    json_t *from = json_object_get(node, "from_table");
    const char *type = json_string_value(json_object_get(from, "type"));
    if (!type || !str_empty(json_object_get(from, "alias")))
        return -1;
    const char *schema, *table;
    json_t *cols = NULL;
    if (!strcmp(type, "BASE_TABLE")) {
        if (json_array_size(json_object_get(from, "column_name_alias")) != 0 ||
            !str_empty(json_object_get(from, "catalog_name")))
            return -1;
        schema = json_string_value(json_object_get(from, "schema_name"));
        table = json_string_value(json_object_get(from, "table_name"));
    } else if (!strcmp(type, "TABLE_FUNCTION")) {
        json_t *fn = json_object_get(from, "function");
        if (!str_empty(json_object_get(fn, "catalog")) ||
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
            !str_empty(json_object_get(c, "alias")))
            return -1;
        if (!(plan->columns[i] = strdup(json_string_value(json_array_get(names, 0)))))
            return -1;
        plan->ncolumns = (int)i + 1;
    }
    return 0;
}

/* ------------------------------------------------- values and their needs */

/* A column type as far as the plan compares them: DUCKDB_TYPE_INVALID for one it does not. */
struct col_type {
    duckdb_type id;
    uint8_t width, scale; /* DECIMAL's */
};

/* What a value needs of its column before the batcher may take it as planned. */
struct value_need {
    enum { NEED_NONE, NEED_TYPE, NEED_CLOCK } kind;
    struct col_type type;      /* NEED_TYPE: the column's type must be this one */
    enum clock_fn { CLOCK_FN_NOW = 1, CLOCK_FN_LOCALTIMESTAMP, CLOCK_FN_DATE } fn; /* NEED_CLOCK */
};

/* What the analysis of one statement's values found. */
struct values_scan {
    struct value_need *needs; /* one per value */
    bool needs_types;         /* some value depends on its column's type */
    bool uses_functions;      /* unary + or a clock: DuckDB's own functions must not be shadowed */
};

/* DuckDB's type names in a serialised cast, and their types (those the batcher converts text to). */
static const struct {
    const char *name;
    duckdb_type id;
} type_names[] = {
    {"BOOLEAN", DUCKDB_TYPE_BOOLEAN},     {"TINYINT", DUCKDB_TYPE_TINYINT},
    {"SMALLINT", DUCKDB_TYPE_SMALLINT},   {"INTEGER", DUCKDB_TYPE_INTEGER},
    {"BIGINT", DUCKDB_TYPE_BIGINT},       {"HUGEINT", DUCKDB_TYPE_HUGEINT},
    {"UTINYINT", DUCKDB_TYPE_UTINYINT},   {"USMALLINT", DUCKDB_TYPE_USMALLINT},
    {"UINTEGER", DUCKDB_TYPE_UINTEGER},   {"UBIGINT", DUCKDB_TYPE_UBIGINT},
    {"FLOAT", DUCKDB_TYPE_FLOAT},         {"DOUBLE", DUCKDB_TYPE_DOUBLE},
    {"DECIMAL", DUCKDB_TYPE_DECIMAL},     {"VARCHAR", DUCKDB_TYPE_VARCHAR},
    {"BLOB", DUCKDB_TYPE_BLOB},           {"DATE", DUCKDB_TYPE_DATE},
    {"TIME", DUCKDB_TYPE_TIME},           {"TIMESTAMP", DUCKDB_TYPE_TIMESTAMP},
    {"TIMESTAMP WITH TIME ZONE", DUCKDB_TYPE_TIMESTAMP_TZ},
    {"INTERVAL", DUCKDB_TYPE_INTERVAL},   {"UUID", DUCKDB_TYPE_UUID},
};

/*
 * The type of a serialised cast ({"id": ..., "type_info": ...}): a plain
 * type (no type_info: no alias such as JSON, no modifiers) or a DECIMAL
 * with its width and scale. -1 for any other.
 */
static int cast_type(json_t *t, struct col_type *out)
{
    const char *id = json_string_value(json_object_get(t, "id"));
    json_t *info = json_object_get(t, "type_info");
    memset(out, 0, sizeof *out);
    out->id = DUCKDB_TYPE_INVALID;
    for (size_t i = 0; id && i < sizeof type_names / sizeof type_names[0]; i++)
        if (!strcmp(id, type_names[i].name))
            out->id = type_names[i].id;
    if (out->id == DUCKDB_TYPE_INVALID)
        return -1;
    if (out->id != DUCKDB_TYPE_DECIMAL)
        return json_is_null(info) ? 0 : -1;
    const char *kind = json_string_value(json_object_get(info, "type"));
    json_int_t w = json_integer_value(json_object_get(info, "width")), sc = json_integer_value(json_object_get(info, "scale"));
    if (!kind || strcmp(kind, "DECIMAL_TYPE_INFO") != 0 || !str_empty(json_object_get(info, "alias")) ||
        !json_is_null(json_object_get(info, "extension_info")) || w < 1 || w > 38 || sc < 0 || sc > w)
        return -1;
    out->width = (uint8_t)w;
    out->scale = (uint8_t)sc;
    return 0;
}

/* A constant of the VALUES list as a batcher value; -1 if it is not a plain one. A BLOB needs a BLOB column. */
static int plan_constant(json_t *value, duckpond_value *out, struct value_need *need)
{
    const char *id = json_string_value(json_object_get(json_object_get(value, "type"), "id"));
    json_t *v = json_object_get(value, "value");
    if (!id)
        return -1;
    if (json_is_true(json_object_get(value, "is_null"))) {
        out->kind = DUCKPOND_VALUE_NULL;
        return 0;
    }
    if (!strcmp(id, "INTEGER") || !strcmp(id, "BIGINT") || !strcmp(id, "SMALLINT") || !strcmp(id, "TINYINT")) {
        if (!json_is_integer(v))
            return -1;
        out->kind = DUCKPOND_VALUE_INT64;
        out->u.i64 = json_integer_value(v);
        return 0;
    }
    if (!strcmp(id, "DOUBLE") || !strcmp(id, "FLOAT")) {
        if (!json_is_number(v))
            return -1;
        out->kind = DUCKPOND_VALUE_DOUBLE;
        out->u.f64 = json_number_value(v);
        return 0;
    }
    if (!strcmp(id, "BOOLEAN")) {
        if (!json_is_boolean(v))
            return -1;
        out->kind = DUCKPOND_VALUE_BOOL;
        out->u.boolean = json_is_true(v);
        return 0;
    }
    char *text = NULL;
    if (!strcmp(id, "DECIMAL") && json_is_integer(v)) {
        json_int_t raw = json_integer_value(v);
        int scale = (int)json_integer_value(json_object_get(json_object_get(json_object_get(value, "type"), "type_info"), "scale"));
        json_int_t pow = 1;
        for (int i = 0; i < scale && i < 18; i++)
            pow *= 10;
        json_int_t whole = raw / pow, frac = raw % pow;
        if (frac < 0)
            frac = -frac;
        text = dp_asprintf("%s%" JSON_INTEGER_FORMAT ".%0*" JSON_INTEGER_FORMAT, raw < 0 && whole == 0 ? "-" : "",
                           whole, scale, frac);
    } else if ((!strcmp(id, "VARCHAR") || !strcmp(id, "BLOB")) && json_is_string(v)) {
        /* a BLOB's text is DuckDB's escaped form of its bytes, which its cast to BLOB reads back exactly */
        text = strdup(json_string_value(v));
        if (id[0] == 'B')
            *need = (struct value_need){.kind = NEED_TYPE, .type = {.id = DUCKDB_TYPE_BLOB}};
    } else {
        return -1;
    }
    if (!text)
        return -1;
    out->kind = DUCKPOND_VALUE_TEXT;
    out->u.text.ptr = text;
    out->u.text.len = strlen(text);
    return 0;
}

/* Whether e is a function call with no arguments and nothing else (no schema, filter, order, DISTINCT). */
static bool bare_call(json_t *e, size_t nargs)
{
    json_t *orders = json_object_get(json_object_get(e, "order_bys"), "orders");
    return json_array_size(json_object_get(e, "children")) == nargs && str_empty(json_object_get(e, "schema")) &&
           str_empty(json_object_get(e, "catalog")) && json_is_null(json_object_get(e, "filter")) &&
           json_array_size(orders) == 0 && !json_is_true(json_object_get(e, "distinct")) &&
           !json_is_true(json_object_get(e, "export_state"));
}

/*
 * The clock function a value calls, or 0: now(), get_current_timestamp(),
 * transaction_timestamp(), current_date(), and the bare words
 * current_timestamp, localtimestamp and current_date, which DuckDB reads
 * as column names and binds to its functions (nothing else can be a
 * column inside VALUES). Whether a macro shadows them is checked later.
 */
static enum clock_fn clock_of(json_t *e, const char *cls)
{
    static const struct {
        const char *name;
        bool word; /* a bare word (COLUMN_REF) rather than a call */
        enum clock_fn fn;
    } clocks[] = {
        {"now", false, CLOCK_FN_NOW},           {"get_current_timestamp", false, CLOCK_FN_NOW},
        {"transaction_timestamp", false, CLOCK_FN_NOW}, {"current_date", false, CLOCK_FN_DATE},
        {"current_timestamp", true, CLOCK_FN_NOW}, {"localtimestamp", true, CLOCK_FN_LOCALTIMESTAMP},
        {"current_date", true, CLOCK_FN_DATE},
    };
    bool word = !strcmp(cls, "COLUMN_REF");
    const char *name;
    if (word) {
        json_t *names = json_object_get(e, "column_names");
        name = json_array_size(names) == 1 ? json_string_value(json_array_get(names, 0)) : NULL;
    } else {
        name = bare_call(e, 0) && !json_is_true(json_object_get(e, "is_operator"))
                   ? json_string_value(json_object_get(e, "function_name"))
                   : NULL;
    }
    for (size_t i = 0; name && i < sizeof clocks / sizeof clocks[0]; i++)
        if (clocks[i].word == word && !strcasecmp(name, clocks[i].name))
            return clocks[i].fn;
    return 0;
}

/*
 * CAST(x AS type) of a constant or a parameter. The batcher converts a
 * value straight to its column's type, so the cast may go only when its
 * type is the column's (checked once the columns' types are known); a NULL
 * is NULL whatever the cast, and true / false (CAST('t' AS BOOLEAN)) are
 * booleans.
 */
static int plan_cast(json_t *e, struct plan_value *out, struct value_need *need)
{
    json_t *child = json_object_get(e, "child");
    const char *ccls = json_string_value(json_object_get(child, "class"));
    json_t *cval = json_object_get(child, "value");
    const char *v = json_string_value(json_object_get(cval, "value"));
    struct col_type to;
    if (json_is_true(json_object_get(e, "try_cast")) || !ccls || cast_type(json_object_get(e, "cast_type"), &to) != 0)
        return -1;
    if (to.id == DUCKDB_TYPE_BOOLEAN && !strcmp(ccls, "CONSTANT") && v && (!strcmp(v, "t") || !strcmp(v, "f")) &&
        !strcmp(json_string_value(json_object_get(json_object_get(cval, "type"), "id")) ?: "", "VARCHAR")) {
        out->value.kind = DUCKPOND_VALUE_BOOL;
        out->value.u.boolean = v[0] == 't';
        return 0;
    }
    struct value_need inner = {0};
    if (!strcmp(ccls, "PARAMETER")) {
        const char *ident = json_string_value(json_object_get(child, "identifier"));
        if ((out->param = ident ? atoi(ident) : 0) <= 0)
            return -1;
    } else if (strcmp(ccls, "CONSTANT") != 0 || plan_constant(cval, &out->value, &inner) != 0) {
        return -1;
    } else if (out->value.kind == DUCKPOND_VALUE_NULL) {
        return 0;
    }
    if (inner.kind == NEED_TYPE && inner.type.id != to.id)
        return -1; /* a BLOB cast to another type */
    *need = (struct value_need){.kind = NEED_TYPE, .type = to};
    return 0;
}

/* A numeric constant's type, for unary plus: the integer, decimal and floating types. */
static bool numeric_constant(json_t *e)
{
    static const char *const ids[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "DECIMAL", "FLOAT", "DOUBLE"};
    const char *cls = json_string_value(json_object_get(e, "class"));
    const char *id = json_string_value(json_object_get(json_object_get(json_object_get(e, "value"), "type"), "id"));
    for (size_t i = 0; cls && id && !strcmp(cls, "CONSTANT") && i < sizeof ids / sizeof ids[0]; i++)
        if (!strcmp(id, ids[i]))
            return true;
    return false;
}

/* One expression of the VALUES list; what it needs of its column in *need. */
static int plan_expr(json_t *e, struct plan_value *out, struct value_need *need, struct values_scan *vs)
{
    const char *cls = json_string_value(json_object_get(e, "class"));
    memset(out, 0, sizeof *out);
    memset(need, 0, sizeof *need);
    if (!cls)
        return -1;
    if (!strcmp(cls, "CONSTANT"))
        return plan_constant(json_object_get(e, "value"), &out->value, need);
    if (!strcmp(cls, "PARAMETER")) {
        const char *ident = json_string_value(json_object_get(e, "identifier"));
        int n = ident ? atoi(ident) : 0;
        if (n <= 0)
            return -1;
        out->param = n;
        return 0;
    }
    if (!strcmp(cls, "DEFAULT")) {
        out->value.kind = DUCKPOND_VALUE_DEFAULT;
        return 0;
    }
    if (!strcmp(cls, "CAST"))
        return plan_cast(e, out, need);
    if (!strcmp(cls, "FUNCTION") || !strcmp(cls, "COLUMN_REF")) {
        const char *fn = json_string_value(json_object_get(e, "function_name"));
        vs->uses_functions = true;
        if (fn && !strcmp(fn, "+") && json_is_true(json_object_get(e, "is_operator")) && bare_call(e, 1) &&
            numeric_constant(json_array_get(json_object_get(e, "children"), 0)))
            return plan_constant(json_object_get(json_array_get(json_object_get(e, "children"), 0), "value"),
                                 &out->value, need); /* +3 is 3 */
        enum clock_fn clock = clock_of(e, cls);
        if (!clock)
            return -1;
        *need = (struct value_need){.kind = NEED_CLOCK, .fn = clock};
        return 0;
    }
    return -1;
}

/* The rows of "VALUES (...), (...)", with what each value needs of its column in vs. */
static int plan_values(json_t *node, struct insert_plan *plan, struct values_scan *vs)
{
    json_t *from = json_object_get(node, "from_table");
    const char *type = json_string_value(json_object_get(from, "type"));
    json_t *rows = json_object_get(from, "values");
    if (!type || strcmp(type, "EXPRESSION_LIST") != 0 || json_array_size(rows) == 0)
        return -1;
    plan->nrows = (int)json_array_size(rows);
    plan->width = (int)json_array_size(json_array_get(rows, 0));
    if (plan->width == 0 || (plan->ncolumns && plan->width != plan->ncolumns))
        return -1;
    size_t n = (size_t)plan->nrows * (size_t)plan->width;
    plan->values = calloc(n, sizeof *plan->values);
    vs->needs = calloc(n, sizeof *vs->needs);
    if (!plan->values || !vs->needs)
        return -1;
    for (int r = 0; r < plan->nrows; r++) {
        json_t *row = json_array_get(rows, (size_t)r);
        if ((int)json_array_size(row) != plan->width)
            return -1;
        for (int c = 0; c < plan->width; c++) {
            size_t i = (size_t)r * (size_t)plan->width + (size_t)c;
            if (plan_expr(json_array_get(row, (size_t)c), &plan->values[i], &vs->needs[i], vs) != 0)
                return -1;
            vs->needs_types |= vs->needs[i].kind != NEED_NONE;
        }
    }
    return 0;
}

/* ------------------------------------------------------ the columns' types */

/* Runs a query of one row on the session's connection; its first value as text (malloc'd), or NULL. */
static char *query_row(struct session *s, const char *sql, char **second)
{
    duckdb_result res;
    char *first = NULL;
    if (duckdb_query(s->dcon, sql, &res) == DuckDBSuccess && duckdb_row_count(&res) == 1) {
        char *a = duckdb_value_varchar(&res, 0, 0), *b = second ? duckdb_value_varchar(&res, 1, 0) : NULL;
        first = a ? strdup(a) : NULL;
        if (second)
            *second = b ? strdup(b) : NULL;
        duckdb_free(a);
        duckdb_free(b);
    }
    duckdb_destroy_result(&res);
    return first;
}

/*
 * Whether the functions a plan's values call are DuckDB's own (no macro
 * of the same name shadows them), and, when it has clocks, whether
 * DuckDB's TimeZone is UTC, the zone the plan evaluates them in (the
 * server sets it at open). Asked once per catalog generation: creating a
 * macro and SET both end one.
 */
static bool functions_are_duckdbs(struct session *s, bool clocks)
{
    uint64_t gen = plancache_gen(s);
    if (!s->clockcheck.known || s->clockcheck.gen != gen) { /* a macro or a SET is DDL to the generation */
        char *shadowing = NULL;
        char *tz = query_row(s,
                             "SELECT current_setting('TimeZone'), (SELECT count(*) FROM duckdb_functions() "
                             "WHERE NOT internal AND lower(function_name) IN ('+', 'now', 'get_current_timestamp', "
                             "'transaction_timestamp', 'current_localtimestamp', 'current_date'))",
                             &shadowing);
        s->clockcheck.known = tz && shadowing;
        s->clockcheck.builtin = shadowing && !strcmp(shadowing, "0");
        s->clockcheck.utc = tz && (!strcmp(tz, "UTC") || !strcmp(tz, "Etc/UTC"));
        s->clockcheck.gen = gen;
        free(tz);
        free(shadowing);
    }
    return s->clockcheck.known && s->clockcheck.builtin && (!clocks || s->clockcheck.utc);
}

/* The column type of a DuckDB logical type, INVALID for one the plan does not compare (an alias such as JSON). */
static struct col_type col_type_of(duckdb_logical_type t)
{
    struct col_type ct = {.id = duckdb_get_type_id(t)};
    char *alias = duckdb_logical_type_get_alias(t);
    if (alias) {
        duckdb_free(alias);
        ct.id = DUCKDB_TYPE_INVALID;
    } else if (ct.id == DUCKDB_TYPE_DECIMAL) {
        ct.width = duckdb_decimal_width(t);
        ct.scale = duckdb_decimal_scale(t);
    }
    return ct;
}

/* The target columns' types, from "SELECT <columns> FROM <table> LIMIT 0" prepared on the session's connection. */
static int column_types(struct session *s, const struct insert_plan *plan, struct col_type *out)
{
    struct dp_buf sql = {0};
    dp_buf_str(&sql, "SELECT ");
    for (int i = 0; i < plan->ncolumns; i++) {
        if (i)
            dp_buf_str(&sql, ", ");
        dp_sql_ident(&sql, plan->columns[i]);
    }
    dp_buf_str(&sql, plan->ncolumns ? " FROM " : "* FROM ");
    const char *dot = strchr(plan->table, '.');
    if (dot) {
        char *schema = strndup(plan->table, (size_t)(dot - plan->table));
        dp_sql_ident(&sql, schema ? schema : "");
        free(schema);
        dp_buf_byte(&sql, '.');
    }
    dp_sql_ident(&sql, dot ? dot + 1 : plan->table);
    dp_buf_str(&sql, " LIMIT 0");
    duckdb_prepared_statement prep = NULL;
    int rc = -1;
    if (!sql.failed && duckdb_prepare(s->dcon, sql.data, &prep) == DuckDBSuccess &&
        duckdb_prepared_statement_column_count(prep) == (idx_t)plan->width) {
        for (int i = 0; i < plan->width; i++) {
            duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(prep, (idx_t)i);
            out[i] = col_type_of(t);
            duckdb_destroy_logical_type(&t);
        }
        rc = 0;
    }
    duckdb_destroy_prepare(&prep);
    dp_buf_free(&sql);
    return rc;
}

static bool col_type_eq(struct col_type a, struct col_type b)
{
    return a.id != DUCKDB_TYPE_INVALID && a.id == b.id && a.width == b.width && a.scale == b.scale;
}

/* How a clock's value goes into a column of type t (what DuckDB's cast in UTC gives), or NONE: DuckDB runs it. */
static enum plan_clock clock_for(enum clock_fn fn, duckdb_type t)
{
    bool ts = t == DUCKDB_TYPE_TIMESTAMP || t == DUCKDB_TYPE_TIMESTAMP_TZ;
    if (t == DUCKDB_TYPE_DATE)
        return PLAN_CLOCK_DATE;
    if (!ts)
        return PLAN_CLOCK_NONE;
    return fn == CLOCK_FN_DATE ? PLAN_CLOCK_MIDNIGHT : PLAN_CLOCK_NOW;
}

/* Settles what each value needs of its column: 0, or -1 when DuckDB must run the statement. */
static int resolve_needs(struct session *s, struct insert_plan *plan, const struct values_scan *vs)
{
    struct col_type types[plan->width > 0 ? plan->width : 1];
    bool clocks = false;
    for (int i = 0; i < plan->nrows * plan->width; i++)
        clocks |= vs->needs[i].kind == NEED_CLOCK;
    if (vs->needs_types && column_types(s, plan, types) != 0)
        return -1;
    if ((vs->uses_functions || clocks) && !functions_are_duckdbs(s, clocks))
        return -1;
    for (int i = 0; i < plan->nrows * plan->width; i++) {
        const struct value_need *nd = &vs->needs[i];
        struct col_type col = types[i % plan->width];
        if (nd->kind == NEED_TYPE && !col_type_eq(nd->type, col))
            return -1;
        if (nd->kind == NEED_CLOCK && !(plan->values[i].clock = clock_for(nd->fn, col.id)))
            return -1;
    }
    plan->has_clock = clocks;
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
    if (plan && tn && vn && plan_target(tn, plan) == 0 && plan_values(vn, plan, &vs) == 0) {
        bool params_ok = true;
        for (int i = 0; i < plan->nrows * plan->width; i++)
            if (plan->values[i].param > st->nparams)
                params_ok = false;
        if (params_ok && resolve_needs(s, plan, &vs) == 0) {
            st->plan = plan;
            plan = NULL;
        }
    }
    free(vs.needs);
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
 * Reads the clock once for a statement: DuckDB's now() is its
 * transaction's start, in microseconds, and current_date that instant's
 * day in its TimeZone (UTC: resolve_needs checked).
 */
static void clock_read(struct clock_now *c)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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
 * statement's literals and the clock in their slots. DUCKPOND_OK,
 * DUCKPOND_CONVERSION for a parameter the batcher cannot take (its
 * reason in err), or another status.
 */
static int add_rows(const struct stmt *st, const struct portal *p, duckpond_write *w, char *err, size_t errlen)
{
    const struct insert_plan *plan = st->plan;
    struct clock_now now;
    if (plan->has_clock)
        clock_read(&now);
    duckpond_value row[64], *vals = plan->width <= 64 ? row : malloc(sizeof *vals * (size_t)plan->width);
    char scratch[64][40];
    int rc = vals ? DUCKPOND_OK : DUCKPOND_NOMEM;
    for (int r = 0; r < plan->nrows && rc == DUCKPOND_OK; r++) {
        for (int c = 0; c < plan->width && rc == DUCKPOND_OK; c++) {
            const struct plan_value *pv = &plan->values[r * plan->width + c];
            if (pv->param == 0) {
                vals[c] = pv->clock ? clock_value(pv->clock, &now) : pv->lit ? st->lits[pv->lit - 1] : pv->value;
                continue;
            }
            int i = pv->param - 1;
            if (i >= p->nparams) {
                rc = DUCKPOND_MISUSE;
                snprintf(err, errlen, "no value for parameter $%d", pv->param);
            } else if (pgtypes_value(st->param_oids[i], p->pfmts[i], p->pvals[i], p->plens[i], &vals[c],
                                     scratch[c % 64], sizeof scratch[0], err, errlen) != 0) {
                rc = DUCKPOND_CONVERSION;
            }
        }
        if (rc == DUCKPOND_OK)
            rc = duckpond_write_add_row(w, vals);
    }
    if (vals != row)
        free(vals);
    return rc;
}

int insert_plan_run(struct session *s, struct stmt *st, struct portal *p, char *tag, size_t taglen, bool can_retry)
{
    struct insert_plan *plan = st->plan;
    duckpond_write *w = NULL;
    int rc = duckpond_write_new(s->env->batcher, plan->table, (const char *const *)plan->columns, plan->ncolumns,
                                plan->nrows > 1 ? DUCKPOND_WRITE_ATOMIC : 0, &w);
    if (rc != DUCKPOND_OK) {
        session_error(s, duckpond_sqlstate(rc, NULL), "could not queue the insert: %s", duckpond_strerror(rc));
        return -1;
    }
    char err[256] = "";
    rc = add_rows(st, p, w, err, sizeof err);
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
