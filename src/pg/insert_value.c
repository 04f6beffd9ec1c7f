/*
 * insert_value.c -- the values of a plain INSERT (insert_value.h).
 *
 * Each expression of the VALUES list, as DuckDB serialised it, is either
 * one the batcher takes as it is (a constant DuckDB typed as an integer,
 * a double, a decimal, a string or a boolean; NULL; a parameter; DEFAULT;
 * a unary plus of a number), or one that is right only for some columns:
 * a cast or a typed literal ('x'::timestamp, TIMESTAMP 'x', CAST(x AS t))
 * is the batcher's text conversion only when its type is the column's; a
 * blob constant only into a blob column; now(), current_timestamp,
 * localtimestamp and current_date only into timestamp, timestamptz and
 * date columns, only while no macro shadows them and DuckDB's TimeZone is
 * UTC (the zone the plan reads the clock in). Anything else (an
 * expression, another function, TRY_CAST, a cast to a type with an alias
 * such as JSON) leaves the statement to DuckDB. The columns' types come
 * from preparing "SELECT <columns> FROM <table> LIMIT 0" on the session's
 * connection, once per analysis (that is, per shape and catalog
 * generation); so do the names of the columns of an INSERT that lists
 * none, which the plan then lists, so that its write names the columns
 * the session saw (in a transaction, the batcher's own catalog may see
 * others).
 */
#include "insert_value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "insert_plan.h"
#include "plancache.h"
#include "session_int.h"

bool insert_value_str_empty(json_t *v)
{
    const char *s = json_string_value(v);
    return !v || json_is_null(v) || (s && !*s);
}

/* DuckDB's type names in a serialised cast, and their types (those the batcher converts text to). */
static const struct {
    const char *name;
    duckdb_type id;
} type_names[] = {
    {"BOOLEAN", DUCKDB_TYPE_BOOLEAN},
    {"TINYINT", DUCKDB_TYPE_TINYINT},
    {"SMALLINT", DUCKDB_TYPE_SMALLINT},
    {"INTEGER", DUCKDB_TYPE_INTEGER},
    {"BIGINT", DUCKDB_TYPE_BIGINT},
    {"HUGEINT", DUCKDB_TYPE_HUGEINT},
    {"UTINYINT", DUCKDB_TYPE_UTINYINT},
    {"USMALLINT", DUCKDB_TYPE_USMALLINT},
    {"UINTEGER", DUCKDB_TYPE_UINTEGER},
    {"UBIGINT", DUCKDB_TYPE_UBIGINT},
    {"FLOAT", DUCKDB_TYPE_FLOAT},
    {"DOUBLE", DUCKDB_TYPE_DOUBLE},
    {"DECIMAL", DUCKDB_TYPE_DECIMAL},
    {"VARCHAR", DUCKDB_TYPE_VARCHAR},
    {"BLOB", DUCKDB_TYPE_BLOB},
    {"DATE", DUCKDB_TYPE_DATE},
    {"TIME", DUCKDB_TYPE_TIME},
    {"TIMESTAMP", DUCKDB_TYPE_TIMESTAMP},
    {"TIMESTAMP WITH TIME ZONE", DUCKDB_TYPE_TIMESTAMP_TZ},
    {"INTERVAL", DUCKDB_TYPE_INTERVAL},
    {"UUID", DUCKDB_TYPE_UUID},
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
    json_int_t w = json_integer_value(json_object_get(info, "width")),
               sc = json_integer_value(json_object_get(info, "scale"));
    if (!kind || strcmp(kind, "DECIMAL_TYPE_INFO") != 0 ||
        !insert_value_str_empty(json_object_get(info, "alias")) ||
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
    if (!strcmp(id, "INTEGER") || !strcmp(id, "BIGINT") || !strcmp(id, "SMALLINT") ||
        !strcmp(id, "TINYINT")) {
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
        int scale = (int)json_integer_value(
            json_object_get(json_object_get(json_object_get(value, "type"), "type_info"), "scale"));
        json_int_t pow = 1;
        for (int i = 0; i < scale && i < 18; i++)
            pow *= 10;
        json_int_t whole = raw / pow, frac = raw % pow;
        if (frac < 0)
            frac = -frac;
        text = dp_asprintf("%s%" JSON_INTEGER_FORMAT ".%0*" JSON_INTEGER_FORMAT,
                           raw < 0 && whole == 0 ? "-" : "", whole, scale, frac);
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
    return json_array_size(json_object_get(e, "children")) == nargs &&
           insert_value_str_empty(json_object_get(e, "schema")) &&
           insert_value_str_empty(json_object_get(e, "catalog")) &&
           json_is_null(json_object_get(e, "filter")) && json_array_size(orders) == 0 &&
           !json_is_true(json_object_get(e, "distinct")) && !json_is_true(json_object_get(e, "export_state"));
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
        {"now", false, CLOCK_FN_NOW},
        {"get_current_timestamp", false, CLOCK_FN_NOW},
        {"transaction_timestamp", false, CLOCK_FN_NOW},
        {"current_date", false, CLOCK_FN_DATE},
        {"current_timestamp", true, CLOCK_FN_NOW},
        {"localtimestamp", true, CLOCK_FN_LOCALTIMESTAMP},
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
    if (json_is_true(json_object_get(e, "try_cast")) || !ccls ||
        cast_type(json_object_get(e, "cast_type"), &to) != 0)
        return -1;
    if (to.id == DUCKDB_TYPE_BOOLEAN && !strcmp(ccls, "CONSTANT") && v &&
        (!strcmp(v, "t") || !strcmp(v, "f")) &&
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
    static const char *const ids[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT",
                                      "DECIMAL", "FLOAT",    "DOUBLE"};
    const char *cls = json_string_value(json_object_get(e, "class"));
    const char *id =
        json_string_value(json_object_get(json_object_get(json_object_get(e, "value"), "type"), "id"));
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

/* See insert_value.h. */
int insert_value_read(json_t *node, struct insert_plan *plan, struct values_scan *vs)
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
        char *tz =
            query_row(s,
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

/* Lists the names of prep's width columns as plan's column list (the INSERT named none). 0, or -1. */
static int list_columns(struct insert_plan *plan, duckdb_prepared_statement prep)
{
    char **names = calloc((size_t)plan->width, sizeof *names);
    int n = 0;
    for (; names && n < plan->width; n++) {
        char *name = (char *)duckdb_prepared_statement_column_name(prep, (idx_t)n); /* ours to free */
        names[n] = name ? strdup(name) : NULL;
        duckdb_free(name);
        if (!names[n])
            break;
    }
    if (n < plan->width) {
        for (int i = 0; names && i < n; i++)
            free(names[i]);
        free(names);
        return -1;
    }
    plan->columns = names;
    plan->ncolumns = plan->width;
    return 0;
}

/*
 * The target columns' types, from "SELECT <columns> FROM <table> LIMIT 0"
 * prepared on the session's connection (the table's parts, separated by
 * dots, quoted one by one); and for an INSERT that lists no columns, their
 * names into plan's list.
 */
static int column_types(struct session *s, struct insert_plan *plan, struct col_type *out)
{
    struct dp_buf sql = {0};
    dp_buf_str(&sql, "SELECT ");
    for (int i = 0; i < plan->ncolumns; i++) {
        if (i)
            dp_buf_str(&sql, ", ");
        dp_sql_ident(&sql, plan->columns[i]);
    }
    dp_buf_str(&sql, plan->ncolumns ? " FROM " : "* FROM ");
    for (const char *part = plan->table, *dot;; part = dot + 1) {
        dot = strchr(part, '.');
        char *name = strndup(part, dot ? (size_t)(dot - part) : strlen(part));
        dp_sql_ident(&sql, name ? name : "");
        free(name);
        if (!dot)
            break;
        dp_buf_byte(&sql, '.');
    }
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
        rc = plan->ncolumns ? 0 : list_columns(plan, prep);
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

/* See insert_value.h. */
int insert_value_resolve(struct session *s, struct insert_plan *plan, const struct values_scan *vs)
{
    struct col_type types[plan->width > 0 ? plan->width : 1];
    bool clocks = false;
    for (int i = 0; i < plan->nrows * plan->width; i++)
        clocks |= vs->needs[i].kind == NEED_CLOCK;
    if ((vs->needs_types || !plan->ncolumns) && column_types(s, plan, types) != 0)
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

void insert_value_free(struct values_scan *vs)
{
    free(vs->needs);
    vs->needs = NULL;
}
