/*
 * pgcatalog.c -- enough of PostgreSQL's catalog and dialect on top of
 * DuckDB for psql, pgbench, psycopg2, node-postgres and JDBC.
 *
 * The overlay is data: pgcatalog.sql, embedded at build time (the
 * Makefile turns it into the array pgcatalog_sql), and run here statement
 * by statement. It lives in an in-memory database attached as
 * "duckpond_pg", so nothing of it is ever written into the user's file.
 * Each session puts it on its search_path after the user's database, so
 * unqualified names find it and new tables still land in the user's
 * database.
 *
 * The rewriter works on tokens (common/sqllex.c, the same lexer the
 * session splits statements with, so strings, quoted names, comments and
 * dollar quotes are never touched inside) and only changes what DuckDB
 * would reject or answer differently: pg_catalog.X becomes duckpond_pg.X
 * for the overlay's objects and plain X otherwise, OPERATOR(pg_catalog.op),
 * COLLATE pg_catalog.default, regex operators (PostgreSQL's ~ searches,
 * DuckDB's matches whole strings), ::regclass and friends, multi-table
 * DROP and TRUNCATE, VACUUM/ANALYZE/LOCK, BEGIN with options. $n
 * placeholders are tokens of their own and pass through unchanged.
 */
#include "pgcatalog.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "sqllex.h"

#define OVERLAY "duckpond_pg"

/* ------------------------------------------------------------------ */
/* The overlay                                                         */
/* ------------------------------------------------------------------ */

/* pgcatalog.sql, NUL-terminated; generated from it by the Makefile. */
extern const char pgcatalog_sql[];

/* The overlay's relations and functions: pg_catalog.X names these go to it,
 * so pgcatalog.sql must create every one (overlay_check). */
static const char *const overlay_names[] = {
    "pg_namespace",
    "pg_type",
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_index",
    "pg_constraint",
    "pg_roles",
    "pg_user",
    "pg_auth_members",
    "pg_database",
    "pg_am",
    "pg_collation",
    "pg_tablespace",
    "pg_inherits",
    "pg_partitioned_table",
    "pg_policy",
    "pg_statistic_ext",
    "pg_publication",
    "pg_publication_namespace",
    "pg_publication_rel",
    "pg_trigger",
    "pg_rewrite",
    "pg_extension",
    "pg_foreign_table",
    "pg_description",
    "pg_tables",
    "pg_views",
    /* functions */
    "pg_get_userbyid",
    "pg_table_is_visible",
    "pg_type_is_visible",
    "format_type",
    "pg_get_expr",
    "pg_get_indexdef",
    "pg_get_constraintdef",
    "pg_get_statisticsobjdef_columns",
    "pg_relation_is_publishable",
    "pg_encoding_to_char",
    "pg_backend_pid",
    "pg_is_in_recovery",
    "pg_table_size",
    "pg_total_relation_size",
    "pg_relation_size",
    "obj_description",
    "col_description",
    "shobj_description",
    "array_upper",
    "array_lower",
    "current_schemas",
    "current_schema",
    "version",
};

#define N_OVERLAY_NAMES (sizeof overlay_names / sizeof overlay_names[0])

static bool is_overlay_name(const char *name)
{
    for (size_t i = 0; i < N_OVERLAY_NAMES; i++)
        if (strcmp(overlay_names[i], name) == 0)
            return true;
    return false;
}

/* Puts "pgcatalog: msg" into err, msg being DuckDB's error of res. */
static void result_error(duckdb_result *res, char *err, size_t errlen, const char *where)
{
    const char *msg = duckdb_result_error(res);
    snprintf(err, errlen, "pgcatalog: %s%s", where, msg ? msg : "unknown error");
}

/* Runs one statement that returns nothing of interest. */
static int run_simple(duckdb_connection con, const char *sql, char *err, size_t errlen)
{
    duckdb_result res;
    int rc = 0;
    if (duckdb_query(con, sql, &res) != DuckDBSuccess) {
        result_error(&res, err, errlen, "");
        rc = -1;
    }
    duckdb_destroy_result(&res);
    return rc;
}

/* The line of pgcatalog_sql that offset at is on (1-based). */
static int sql_line(size_t at)
{
    int line = 1;
    for (size_t i = 0; i < at; i++)
        line += pgcatalog_sql[i] == '\n';
    return line;
}

/*
 * Checks that every name the rewriter sends to the overlay is in it: the
 * SQL is data that can change apart from this file. 0, or -1 with the
 * first missing name in err.
 */
static int overlay_check(duckdb_connection con, char *err, size_t errlen)
{
    duckdb_result res;
    if (duckdb_query(con,
                     "SELECT view_name FROM duckdb_views() WHERE database_name = '" OVERLAY "'"
                     " UNION SELECT function_name FROM duckdb_functions() WHERE database_name = '" OVERLAY
                     "'",
                     &res) != DuckDBSuccess) {
        result_error(&res, err, errlen, "");
        duckdb_destroy_result(&res);
        return -1;
    }
    idx_t rows = duckdb_row_count(&res);
    int rc = 0;
    for (size_t k = 0; k < N_OVERLAY_NAMES && rc == 0; k++) {
        bool found = false;
        for (idx_t r = 0; r < rows && !found; r++) {
            char *name = duckdb_value_varchar(&res, 0, r);
            found = name && strcmp(name, overlay_names[k]) == 0;
            duckdb_free(name);
        }
        if (!found) {
            snprintf(err, errlen, "pgcatalog: pgcatalog.sql does not create %s", overlay_names[k]);
            rc = -1;
        }
    }
    duckdb_destroy_result(&res);
    return rc;
}

/*
 * Runs the statement at [at, at + len) of pgcatalog_sql, copied into stmt
 * to give DuckDB its NUL. 0, or -1 with the error and where in
 * pgcatalog.sql it stands in err.
 */
static int run_overlay_statement(duckdb_connection con, size_t at, size_t len, struct dp_buf *stmt, char *err,
                                 size_t errlen)
{
    dp_buf_clear(stmt, 1 << 16);
    dp_buf_add(stmt, pgcatalog_sql + at, len);
    if (stmt->failed) {
        snprintf(err, errlen, "pgcatalog: out of memory");
        return -1;
    }
    duckdb_result res;
    int rc = 0;
    if (duckdb_query(con, stmt->data, &res) != DuckDBSuccess) {
        size_t body = sqllex_skip_space(pgcatalog_sql, at + len, at, NULL); /* past its comments */
        char where[96];
        snprintf(where, sizeof where, "pgcatalog.sql:%d (%.40s...): ", sql_line(body), pgcatalog_sql + body);
        result_error(&res, err, errlen, where);
        rc = -1;
    }
    duckdb_destroy_result(&res);
    return rc;
}

int pgcatalog_install(duckdb_connection con, char *err, size_t errlen)
{
    struct sqllex lx;
    struct dp_buf stmt = DP_BUF_INIT;
    size_t at, len;
    int rc = 0;
    sqllex_init(&lx, pgcatalog_sql, strlen(pgcatalog_sql));
    while (rc == 0 && sqllex_next_statement(&lx, &at, &len))
        rc = run_overlay_statement(con, at, len, &stmt, err, errlen);
    dp_buf_free(&stmt);
    if (rc == 0 && lx.bad) {
        snprintf(err, errlen, "pgcatalog: pgcatalog.sql ends inside a string or comment");
        rc = -1;
    }
    return rc == 0 ? overlay_check(con, err, errlen) : rc;
}

int pgcatalog_session_init(duckdb_connection con, char *err, size_t errlen)
{
    duckdb_result res;
    if (duckdb_query(con, "SELECT current_database()", &res) != DuckDBSuccess) {
        result_error(&res, err, errlen, "");
        duckdb_destroy_result(&res);
        return -1;
    }
    char *db = duckdb_value_varchar(&res, 0, 0);
    duckdb_destroy_result(&res);
    if (!db) {
        snprintf(err, errlen, "pgcatalog: no current database");
        return -1;
    }
    /* The user's database first: it stays the default for CREATE. The
     * path is a string holding a quoted name: "db".main,duckpond_pg.main */
    struct dp_buf path = DP_BUF_INIT, sql = DP_BUF_INIT;
    dp_sql_ident(&path, db);
    duckdb_free(db);
    dp_buf_str(&path, ".main," OVERLAY ".main");
    dp_buf_str(&sql, "SET search_path = ");
    dp_sql_literal(&sql, path.data ? path.data : "", path.len);
    int rc;
    if (path.failed || sql.failed) {
        snprintf(err, errlen, "pgcatalog: out of memory");
        rc = -1;
    } else {
        rc = run_simple(con, sql.data, err, errlen);
    }
    dp_buf_free(&path);
    dp_buf_free(&sql);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Tokens                                                              */
/* ------------------------------------------------------------------ */

struct tok {
    enum sqllex_kind kind;
    size_t start, len;
    /* Edits: text put before, instead of (when repl_set), and after it. */
    char *pre, *repl, *post;
    bool repl_set;
};

struct toks {
    const char *src;
    size_t srclen;
    struct tok *v;
    size_t n, cap;
    bool edited;
    bool oom;
};

/* Splits src into tokens (sqllex's). Returns 0, or -1 on unterminated
 * input or out of memory (the statement is then passed through untouched). */
static int tokenize(struct toks *t)
{
    struct sqllex lx;
    struct sqllex_token tok;
    sqllex_init(&lx, t->src, t->srclen);
    while (sqllex_next(&lx, &tok)) {
        if (dp_grow(&t->v, &t->cap, t->n + 1, sizeof *t->v) != 0)
            return -1;
        t->v[t->n++] = (struct tok){.kind = tok.kind, .start = tok.start, .len = tok.len};
    }
    return lx.bad ? -1 : 0;
}

static void toks_free(struct toks *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].pre);
        free(t->v[i].repl);
        free(t->v[i].post);
    }
    free(t->v);
}

/* ------------------------------------------------------------------ */
/* Token helpers                                                       */
/* ------------------------------------------------------------------ */

/* The token at i is the word w: unquoted (any case) or quoted (exact). */
static bool tok_is(const struct toks *t, size_t i, const char *w)
{
    if (i >= t->n)
        return false;
    const struct tok *k = &t->v[i];
    size_t wl = strlen(w);
    if (k->kind == SQLLEX_IDENT)
        return k->len == wl && strncasecmp(t->src + k->start, w, wl) == 0;
    if (k->kind == SQLLEX_QIDENT)
        return k->len == wl + 2 && memcmp(t->src + k->start + 1, w, wl) == 0;
    return false;
}

static bool tok_punct(const struct toks *t, size_t i, char c)
{
    return i < t->n && t->v[i].kind == SQLLEX_PUNCT && t->src[t->v[i].start] == c;
}

static bool tok_op(const struct toks *t, size_t i, const char *op)
{
    return i < t->n && t->v[i].kind == SQLLEX_OP && t->v[i].len == strlen(op) &&
           memcmp(t->src + t->v[i].start, op, t->v[i].len) == 0;
}

static bool tok_is_name(const struct toks *t, size_t i)
{
    return i < t->n && (t->v[i].kind == SQLLEX_IDENT || t->v[i].kind == SQLLEX_QIDENT);
}

/* Copies the token's name, lower-cased when unquoted, into buf. */
static void tok_name(const struct toks *t, size_t i, char *buf, size_t cap)
{
    const struct tok *k = &t->v[i];
    const char *p = t->src + k->start;
    size_t len = k->len;
    if (k->kind == SQLLEX_QIDENT && len >= 2)
        p++, len -= 2;
    if (len >= cap)
        len = cap - 1;
    for (size_t j = 0; j < len; j++)
        buf[j] = k->kind == SQLLEX_IDENT ? (char)tolower((unsigned char)p[j]) : p[j];
    buf[len] = '\0';
}

/* Edits: replace, prefix, suffix. Text is copied. */

/* Puts next (malloc'd, NULL when memory ran out) into the edit slot. */
static void put_edit(struct toks *t, char **slot, char *next)
{
    if (!next) {
        t->oom = true;
        return;
    }
    free(*slot);
    *slot = next;
    t->edited = true;
}

static void tok_replace(struct toks *t, size_t i, const char *text)
{
    put_edit(t, &t->v[i].repl, dp_asprintf("%s", text));
    t->v[i].repl_set = true;
}

static void tok_delete(struct toks *t, size_t i)
{
    tok_replace(t, i, "");
}

/* Prefixes go outermost-last: a later wrap encloses an earlier one. */
static void tok_prefix(struct toks *t, size_t i, const char *text)
{
    const char *cur = t->v[i].pre;
    put_edit(t, &t->v[i].pre, dp_asprintf("%s%s", text, cur ? cur : ""));
}

static void tok_suffix(struct toks *t, size_t i, const char *text)
{
    const char *cur = t->v[i].post;
    put_edit(t, &t->v[i].post, dp_asprintf("%s%s", cur ? cur : "", text));
}

static bool tok_deleted(const struct toks *t, size_t i)
{
    return t->v[i].repl_set && t->v[i].repl && !t->v[i].repl[0] && !t->v[i].pre && !t->v[i].post;
}

/* Index of the token matching the bracket at i (searching forward for
 * an opener, backward for a closer), or (size_t)-1. */
static size_t match_bracket(const struct toks *t, size_t i)
{
    char c = t->src[t->v[i].start];
    char open = c == ')' || c == '(' ? '(' : '[';
    char close = open == '(' ? ')' : ']';
    int step = c == open ? 1 : -1, depth = 0;
    for (size_t j = i; j < t->n; j += (size_t)step) {
        if (tok_punct(t, j, open))
            depth += step;
        else if (tok_punct(t, j, close))
            depth -= step;
        if (depth == 0)
            return j;
        if (j == 0 && step < 0)
            break;
    }
    return (size_t)-1;
}

/* Renders the tokens with their edits into a malloc'd string; NULL when memory runs out. */
static char *toks_render(const struct toks *t)
{
    struct dp_buf out = DP_BUF_INIT;
    size_t prev = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct tok *k = &t->v[i];
        dp_buf_add(&out, t->src + prev, k->start - prev);
        if (k->pre)
            dp_buf_str(&out, k->pre);
        if (k->repl_set)
            dp_buf_str(&out, k->repl ? k->repl : "");
        else
            dp_buf_add(&out, t->src + k->start, k->len);
        if (k->post)
            dp_buf_str(&out, k->post);
        prev = k->start + k->len;
    }
    dp_buf_add(&out, t->src + prev, t->srclen - prev);
    return dp_buf_take(&out, NULL);
}

/* ------------------------------------------------------------------ */
/* Token-level rewrites                                                */
/* ------------------------------------------------------------------ */

/* Functions that are only ever ours: qualified even when written bare. */
static bool is_overlay_function(const char *name)
{
    static const char *const fns[] = {
        "pg_get_userbyid",
        "pg_table_is_visible",
        "format_type",
        "pg_get_expr",
        "pg_get_indexdef",
        "pg_get_constraintdef",
        "pg_get_statisticsobjdef_columns",
        "pg_relation_is_publishable",
        "pg_encoding_to_char",
        "pg_backend_pid",
        "pg_is_in_recovery",
        "array_upper",
        "array_lower",
        "current_schemas",
        "current_schema",
        "version",
        "obj_description",
        "col_description",
        "shobj_description",
        "pg_table_size",
        "pg_total_relation_size",
        "pg_relation_size",
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strcmp(fns[i], name) == 0)
            return true;
    return false;
}

/* pg_catalog.X -> duckpond_pg.X for the overlay's names, plain X otherwise;
 * public.X -> main.X (DuckDB's default schema). */
static void rw_qualifiers(struct toks *t)
{
    char name[128];
    for (size_t i = 0; i + 2 < t->n; i++) {
        if (!tok_punct(t, i + 1, '.') || !tok_is_name(t, i + 2))
            continue;
        if (i > 0 && tok_punct(t, i - 1, '.'))
            continue; /* db.pg_catalog.x: leave alone */
        if (tok_is(t, i, "pg_catalog")) {
            tok_name(t, i + 2, name, sizeof name);
            if (is_overlay_name(name)) {
                tok_replace(t, i, OVERLAY);
            } else {
                tok_delete(t, i);
                tok_delete(t, i + 1);
            }
        } else if (tok_is(t, i, "public")) {
            tok_replace(t, i, "main");
        }
    }
}

/* Bare calls of the overlay's functions: f( -> duckpond_pg.f( so that a
 * session without our search_path still gets them. */
static void rw_bare_functions(struct toks *t)
{
    char name[128];
    for (size_t i = 0; i + 1 < t->n; i++) {
        if (t->v[i].kind != SQLLEX_IDENT || !tok_punct(t, i + 1, '('))
            continue;
        if (i > 0 && (tok_punct(t, i - 1, '.') || tok_deleted(t, i - 1)))
            continue;
        tok_name(t, i, name, sizeof name);
        if (is_overlay_function(name))
            tok_prefix(t, i, OVERLAY ".");
    }
}

/* OPERATOR(pg_catalog.op) -> op. */
static void rw_operator(struct toks *t)
{
    for (size_t i = 0; i + 3 < t->n; i++) {
        if (!tok_is(t, i, "operator") || !tok_punct(t, i + 1, '('))
            continue;
        size_t j = i + 2;
        if (tok_is(t, j, "pg_catalog") && tok_punct(t, j + 1, '.'))
            j += 2;
        if (j + 1 >= t->n || t->v[j].kind != SQLLEX_OP || !tok_punct(t, j + 1, ')'))
            continue;
        for (size_t k = i; k <= j + 1; k++)
            if (k != j)
                tok_delete(t, k);
        tok_prefix(t, j, " ");
        tok_suffix(t, j, " ");
        i = j + 1;
    }
}

/* COLLATE pg_catalog.default / COLLATE "default" -> nothing. */
static void rw_collate(struct toks *t)
{
    for (size_t i = 0; i + 1 < t->n; i++) {
        if (!tok_is(t, i, "collate"))
            continue;
        size_t j = i + 1;
        if (tok_is(t, j, "pg_catalog") && tok_punct(t, j + 1, '.'))
            j += 2;
        if (!tok_is(t, j, "default"))
            continue;
        for (size_t k = i; k <= j; k++)
            tok_delete(t, k);
    }
}

/* PostgreSQL's ~ finds a match anywhere; DuckDB's ~ must match the whole
 * string. With a literal or parameter pattern, wrap it so a whole-string
 * match means the same as PostgreSQL's search. ~* and !~* become
 * case-insensitive patterns. */
static void rw_regex(struct toks *t)
{
    for (size_t i = 0; i + 1 < t->n; i++) {
        bool ci;
        if (tok_op(t, i, "~") || tok_op(t, i, "!~"))
            ci = false;
        else if (tok_op(t, i, "~*") || tok_op(t, i, "!~*"))
            ci = true;
        else
            continue;
        size_t before = i;
        while (before > 0 && tok_deleted(t, before - 1))
            before--; /* OPERATOR(pg_catalog. ... ) already dropped */
        if (before == 0 || t->v[before - 1].kind == SQLLEX_OP || tok_punct(t, before - 1, '(') ||
            tok_punct(t, before - 1, ','))
            continue; /* prefix ~ is bitwise not */
        size_t p = i + 1;
        const struct tok *k = &t->v[p];
        const char *head = ci ? "(?s:.*)(?i:" : "(?s:.*)(?:";
        if (k->kind == SQLLEX_STRING && t->src[k->start] == '\'') {
            /* plain '...': splice the wrap inside the quotes */
            char *lit = dp_asprintf("'%s%.*s)(?s:.*)'", head, (int)(k->len - 2), t->src + k->start + 1);
            if (!lit) {
                t->oom = true;
                return;
            }
            tok_replace(t, p, lit);
            free(lit);
        } else if (k->kind == SQLLEX_STRING || k->kind == SQLLEX_PARAM || k->kind == SQLLEX_DOLLAR) {
            char *pre = dp_asprintf("('%s' || ", head);
            if (!pre) {
                t->oom = true;
                return;
            }
            tok_prefix(t, p, pre);
            free(pre);
            tok_suffix(t, p, " || ')(?s:.*)')");
        } else {
            continue;
        }
        if (ci)
            tok_replace(t, i, t->src[t->v[i].start] == '!' ? "!~" : "~");
    }
}

/* Start index of the primary expression that ends at token e (inclusive):
 * a name chain a.b.c, a literal, a call f(...), a parenthesised group,
 * subscripts, and casts already applied to it. (size_t)-1 if unknown. */
static size_t operand_start(const struct toks *t, size_t e)
{
    size_t s = e;
    for (;;) {
        if (tok_punct(t, s, ')') || tok_punct(t, s, ']')) {
            size_t o = match_bracket(t, s);
            if (o == (size_t)-1)
                return (size_t)-1;
            s = o;
            if (tok_punct(t, o, '(') && o > 0 && t->v[o - 1].kind == SQLLEX_IDENT)
                s = o - 1; /* a call */
            else if (tok_punct(t, o, '[') && o > 0) {
                s = o - 1; /* subscript: continue with what it applies to */
                continue;
            }
        } else if (t->v[s].kind == SQLLEX_PUNCT || t->v[s].kind == SQLLEX_OP) {
            return (size_t)-1;
        }
        while (s >= 2 && tok_punct(t, s - 1, '.') && tok_is_name(t, s - 2))
            s -= 2;
        while (s >= 2 && tok_punct(t, s - 1, '.') && tok_deleted(t, s - 1) && tok_deleted(t, s - 2))
            s -= 2;
        if (s >= 2 && tok_op(t, s - 1, "::")) {
            s -= 2; /* x::type::type2: the operand is x */
            continue;
        }
        return s;
    }
}

/* ::regclass and friends become calls of the overlay's functions; ::oid,
 * ::name, ::"char", ::regproc become the DuckDB types that hold them. */
static void rw_casts(struct toks *t)
{
    char name[64];
    for (size_t i = 1; i + 1 < t->n; i++) {
        if (!tok_op(t, i, "::"))
            continue;
        size_t ty = i + 1;
        if (tok_is(t, ty, "pg_catalog") && tok_punct(t, ty + 1, '.'))
            ty += 2;
        if (!tok_is_name(t, ty))
            continue;
        tok_name(t, ty, name, sizeof name);
        const char *simple = NULL;
        if (!strcmp(name, "oid") || !strcmp(name, "xid") || !strcmp(name, "regrole_oid"))
            simple = "BIGINT";
        else if (!strcmp(name, "name") || !strcmp(name, "char") || !strcmp(name, "bpchar"))
            simple = "VARCHAR";
        if (simple && t->v[ty].kind == SQLLEX_QIDENT && strcmp(name, "char") != 0)
            simple = NULL; /* a quoted user type */
        if (simple) {
            tok_replace(t, ty, simple);
            continue;
        }
        const char *fn = NULL;
        size_t s = operand_start(t, i - 1);
        if (s == (size_t)-1)
            continue;
        bool literal = s == i - 1 && (t->v[s].kind == SQLLEX_STRING || t->v[s].kind == SQLLEX_PARAM);
        if (!strcmp(name, "regclass"))
            fn = literal ? "regclass_oid" : "regclass_name";
        else if (!strcmp(name, "regtype"))
            fn = literal ? "regtype_oid" : "regtype_name";
        else if (!strcmp(name, "regnamespace"))
            fn = "regnamespace_name";
        else if (!strcmp(name, "regrole"))
            fn = "regrole_name";
        else if (!strcmp(name, "regproc") || !strcmp(name, "regprocedure"))
            fn = "regproc_name";
        if (!fn)
            continue;
        char pre[64];
        snprintf(pre, sizeof pre, OVERLAY ".%s(", fn);
        tok_prefix(t, s, pre);
        for (size_t k = i; k <= ty; k++)
            tok_delete(t, k);
        tok_suffix(t, ty, ")");
    }
}

/* Words that end a FROM item rather than name its alias. */
static bool is_clause_word(const struct toks *t, size_t i)
{
    static const char *const words[] = {
        "where",  "join",   "left",  "right", "inner",   "outer",  "cross",     "full",   "natural",
        "on",     "using",  "group", "order", "limit",   "offset", "union",     "except", "intersect",
        "having", "window", "fetch", "for",   "lateral", "with",   "returning", "as",     "select",
    };
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (tok_is(t, i, words[k]) && t->v[i].kind == SQLLEX_IDENT)
            return true;
    return false;
}

/* FROM generate_series(...) s -> ... s(s): PostgreSQL names the single
 * column after the alias, and queries then use s as a value. */
static void rw_srf_alias(struct toks *t)
{
    for (size_t i = 0; i + 1 < t->n; i++) {
        if (!tok_is(t, i, "generate_series") || !tok_punct(t, i + 1, '('))
            continue;
        size_t close = match_bracket(t, i + 1);
        if (close == (size_t)-1)
            continue;
        size_t a = close + 1;
        if (tok_is(t, a, "as") && t->v[a].kind == SQLLEX_IDENT)
            a++;
        if (!tok_is_name(t, a) || is_clause_word(t, a) || tok_punct(t, a + 1, '('))
            continue;
        if (tok_punct(t, a + 1, '.'))
            continue;
        char *col = dp_asprintf("(%.*s)", (int)t->v[a].len, t->src + t->v[a].start);
        if (!col) {
            t->oom = true;
            return;
        }
        tok_suffix(t, a, col);
        free(col);
    }
}

/* polroles = '{0}' (psql's \d): PostgreSQL's array literal as DuckDB's. */
static void rw_array_literal(struct toks *t)
{
    for (size_t i = 0; i + 2 < t->n; i++) {
        if (!tok_is(t, i, "polroles") || !tok_op(t, i + 1, "="))
            continue;
        const struct tok *k = &t->v[i + 2];
        if (k->kind != SQLLEX_STRING || k->len < 4 || t->src[k->start] != '\'' ||
            t->src[k->start + 1] != '{' || t->src[k->start + k->len - 2] != '}')
            continue;
        char *lit = dp_asprintf("'[%.*s]'", (int)(k->len - 4), t->src + k->start + 2);
        if (!lit) {
            t->oom = true;
            return;
        }
        tok_replace(t, i + 2, lit);
        free(lit);
    }
}

/* ------------------------------------------------------------------ */
/* Statement-level rewrites                                            */
/* ------------------------------------------------------------------ */

/* Appends the source text of tokens a..z inclusive. */
static void add_toks(struct dp_buf *b, const struct toks *t, size_t a, size_t z)
{
    dp_buf_add(b, t->src + t->v[a].start, t->v[z].start + t->v[z].len - t->v[a].start);
}

/* Reads a comma-separated list of (possibly qualified) names from *i up
 * to the end or a stop word; stores [start, end] token pairs. Returns the
 * count, or -1 if something else is in the way. */
static int read_name_list(const struct toks *t, size_t *i, size_t (*items)[2], int max,
                          const char *const *stops)
{
    int n = 0;
    while (*i < t->n) {
        size_t a = *i;
        if (!tok_is_name(t, a))
            return -1;
        size_t z = a;
        while (tok_punct(t, z + 1, '.') && tok_is_name(t, z + 2))
            z += 2;
        if (tok_op(t, z + 1, "*"))
            z++; /* TRUNCATE t * (with descendants) */
        if (n == max)
            return -1;
        items[n][0] = a, items[n][1] = z;
        n++;
        *i = z + 1;
        if (tok_punct(t, *i, ',')) {
            (*i)++;
            continue;
        }
        break;
    }
    for (; *i < t->n; (*i)++) {
        bool ok = false;
        for (const char *const *w = stops; *w; w++)
            if (tok_is(t, *i, *w))
                ok = true;
        if (!ok && !tok_punct(t, *i, ';'))
            return -1;
    }
    return n;
}

/* Text of a table name, the trailing '*' (descendants) dropped, a leading
 * public. turned into main. */
static void add_name(struct dp_buf *b, const struct toks *t, size_t a, size_t z)
{
    if (tok_op(t, z, "*"))
        z--;
    if (a + 2 <= z && tok_is(t, a, "public") && tok_punct(t, a + 1, '.')) {
        dp_buf_str(b, "main.");
        a += 2;
    }
    add_toks(b, t, a, z);
}

#define MAX_LIST 256

/* One statement per listed name (items, n of them; freed here): head, the
 * name, tail. REWRITE with *out, or PASS when memory ran out (head NULL too). */
static enum pgcatalog_action one_per_name(const struct toks *t, size_t (*items)[2], int n, const char *head,
                                          const char *tail, char **out)
{
    struct dp_buf b = DP_BUF_INIT;
    for (int k = 0; k < n && head; k++) {
        dp_buf_str(&b, head);
        add_name(&b, t, items[k][0], items[k][1]);
        dp_buf_str(&b, tail);
    }
    free(items);
    *out = head ? dp_buf_take(&b, NULL) : NULL;
    dp_buf_free(&b);
    return *out ? PGCATALOG_REWRITE : PGCATALOG_PASS;
}

/* DROP kind [IF EXISTS] a, b [CASCADE|RESTRICT] -> one DROP per name. */
static enum pgcatalog_action st_drop(const struct toks *t, char **out, const char **tag)
{
    static const struct {
        const char *word, *tag;
    } kinds[] = {
        {"table", "DROP TABLE"}, {"view", "DROP VIEW"},     {"sequence", "DROP SEQUENCE"},
        {"index", "DROP INDEX"}, {"schema", "DROP SCHEMA"}, {"type", "DROP TYPE"},
    };
    size_t i = 1;
    const char *kind_tag = NULL;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (tok_is(t, i, kinds[k].word))
            kind_tag = kinds[k].tag;
    if (!kind_tag)
        return PGCATALOG_PASS;
    size_t kind_tok = i++;
    bool if_exists = tok_is(t, i, "if") && tok_is(t, i + 1, "exists");
    if (if_exists)
        i += 2;
    static const char *const stops[] = {"cascade", "restrict", NULL};
    size_t list_start = i;
    size_t(*items)[2] = malloc(MAX_LIST * sizeof *items);
    if (!items)
        return PGCATALOG_PASS;
    int n = read_name_list(t, &i, items, MAX_LIST, stops);
    if (n < 2) {
        free(items);
        return PGCATALOG_PASS;
    }
    bool cascade = false;
    for (size_t k = list_start; k < t->n; k++)
        if (tok_is(t, k, "cascade"))
            cascade = true;
    const struct tok *kind = &t->v[kind_tok];
    char *head =
        dp_asprintf("DROP %.*s%s", (int)kind->len, t->src + kind->start, if_exists ? " IF EXISTS " : " ");
    enum pgcatalog_action act = one_per_name(t, items, n, head, cascade ? " CASCADE;\n" : ";\n", out);
    free(head);
    *tag = act == PGCATALOG_REWRITE ? kind_tag : NULL;
    return act;
}

/* TRUNCATE [TABLE] [ONLY] a, b [RESTART|CONTINUE IDENTITY] [CASCADE|RESTRICT]. */
static enum pgcatalog_action st_truncate(const struct toks *t, char **out, const char **tag)
{
    size_t i = 1;
    if (tok_is(t, i, "table"))
        i++;
    if (tok_is(t, i, "only"))
        i++;
    static const char *const stops[] = {"restart", "continue", "identity", "cascade", "restrict", NULL};
    size_t(*items)[2] = malloc(MAX_LIST * sizeof *items);
    if (!items)
        return PGCATALOG_PASS;
    int n = read_name_list(t, &i, items, MAX_LIST, stops);
    if (n < 1 || (n == 1 && i == t->n && t->n <= 3 && !tok_is(t, 1, "only"))) {
        free(items); /* nothing to split: TRUNCATE [TABLE] t is DuckDB's too */
        return PGCATALOG_PASS;
    }
    enum pgcatalog_action act = one_per_name(t, items, n, "TRUNCATE ", ";\n", out);
    *tag = act == PGCATALOG_REWRITE ? "TRUNCATE TABLE" : NULL;
    return act;
}

/* BEGIN/START TRANSACTION with PostgreSQL options -> plain BEGIN (READ ONLY kept). */
static enum pgcatalog_action st_begin(const struct toks *t, char **out, const char **tag)
{
    size_t i = 1;
    if (tok_is(t, 0, "start")) {
        if (!tok_is(t, 1, "transaction"))
            return PGCATALOG_PASS;
        i = 2;
    } else if (tok_is(t, i, "work") || tok_is(t, i, "transaction")) {
        i++;
    }
    if (i >= t->n)
        return PGCATALOG_PASS;
    bool read_only = false;
    for (size_t k = i; k < t->n; k++) {
        if (tok_is(t, k, "read") && tok_is(t, k + 1, "only"))
            read_only = true;
        if (!tok_is_name(t, k) && !tok_punct(t, k, ','))
            return PGCATALOG_PASS;
    }
    *out = dp_asprintf("BEGIN TRANSACTION%s", read_only ? " READ ONLY" : "");
    if (!*out)
        return PGCATALOG_PASS;
    *tag = "BEGIN";
    return PGCATALOG_REWRITE;
}

/* Whole-statement forms; PASS when none applies. */
static enum pgcatalog_action rw_statement(const struct toks *t, char **out, const char **tag)
{
    if (t->n == 0)
        return PGCATALOG_PASS;
    if (tok_is(t, 0, "vacuum")) {
        *tag = "VACUUM";
        return PGCATALOG_NOOP;
    }
    if (tok_is(t, 0, "analyze") || tok_is(t, 0, "analyse")) {
        *tag = "ANALYZE";
        return PGCATALOG_NOOP;
    }
    if (tok_is(t, 0, "lock")) {
        *tag = "LOCK TABLE";
        return PGCATALOG_NOOP;
    }
    if (tok_is(t, 0, "drop"))
        return st_drop(t, out, tag);
    if (tok_is(t, 0, "truncate"))
        return st_truncate(t, out, tag);
    if (tok_is(t, 0, "begin") || tok_is(t, 0, "start"))
        return st_begin(t, out, tag);
    return PGCATALOG_PASS;
}

/* Cheap check: could any token-level rule apply? Avoids tokenizing the
 * common statement that has no trigger at all. */
static bool may_need_tokens(const char *sql, size_t len)
{
    static const char *const triggers[] = {
        "pg_",
        "~",
        "::",
        "operator",
        "OPERATOR",
        "collate",
        "COLLATE",
        "public",
        "PUBLIC",
        "generate_series",
        "array_upper",
        "array_lower",
        "current_schema",
        "version",
        "format_type",
        "description",
        "_size",
        "Public",
        "Operator",
        "Collate",
    };
    for (size_t k = 0; k < sizeof triggers / sizeof triggers[0]; k++) {
        size_t tl = strlen(triggers[k]);
        for (size_t i = 0; i + tl <= len; i++)
            if (sql[i] == triggers[k][0] && memcmp(sql + i, triggers[k], tl) == 0)
                return true;
    }
    return false;
}

/* The first word decides whether the statement-level pass can apply. */
static bool may_be_statement_form(const char *sql, size_t len)
{
    static const char *const words[] = {"vacuum", "analyze",  "analyse", "lock",
                                        "drop",   "truncate", "begin",   "start"};
    size_t i = 0;
    while (i < len && (isspace((unsigned char)sql[i]) || sql[i] == '(' || sql[i] == '-' || sql[i] == '/'))
        i++;
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
        size_t wl = strlen(words[k]);
        if (i + wl <= len && strncasecmp(sql + i, words[k], wl) == 0)
            return true;
    }
    return i < len && (sql[i] == '-' || sql[i] == '/'); /* a comment first: look closer */
}

enum pgcatalog_action pgcatalog_rewrite(const char *sql, size_t len, char **out, const char **tag)
{
    *out = NULL;
    *tag = NULL;
    if (!sql)
        return PGCATALOG_PASS;
    bool stmt = may_be_statement_form(sql, len);
    if (!stmt && !may_need_tokens(sql, len))
        return PGCATALOG_PASS;
    struct toks t = {.src = sql, .srclen = len};
    enum pgcatalog_action act = PGCATALOG_PASS;
    if (tokenize(&t) != 0)
        goto done;
    /* a trailing ';' is tolerated */
    while (t.n > 0 && tok_punct(&t, t.n - 1, ';'))
        t.n--;
    if (stmt) {
        act = rw_statement(&t, out, tag);
        if (act != PGCATALOG_PASS)
            goto done;
    }
    rw_operator(&t);
    rw_collate(&t);
    rw_casts(&t);
    rw_qualifiers(&t);
    rw_bare_functions(&t);
    rw_regex(&t);
    rw_srf_alias(&t);
    rw_array_literal(&t);
    if (t.edited && !t.oom) {
        *out = toks_render(&t);
        if (*out)
            act = PGCATALOG_REWRITE;
    }
done:
    toks_free(&t);
    return act;
}
