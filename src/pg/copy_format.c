/*
 * copy_format.c -- the COPY statement (copy_format.h, copy_parse in
 * copy.h) and the escaping of COPY TO's fields.
 *
 * The statement is read with a small lexer over sqlshape's (so quoting and
 * comments are read as everywhere else): a table and column list or a
 * parenthesised query, FROM STDIN or TO STDOUT, and the options in both the
 * list form, WITH (FORMAT csv, FORCE_NULL (a, b), ...), and the old keyword
 * form, CSV HEADER FORCE NOT NULL a. The options are then checked as
 * PostgreSQL checks them (one-byte delimiter, no DELIMITER in binary, ...).
 */
#include "copy_format.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "copy.h"
#include "pgwire.h"
#include "sqlshape.h"

/* ------------------------------------------------------- the statement */

static void names_free(struct copy_names *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void copy_spec_free(struct copy_spec *c)
{
    if (!c)
        return;
    names_free(&c->force_null);
    names_free(&c->force_not_null);
    free(c->null_str);
    free(c->query);
    free(c->schema);
    free(c->table);
    names_free(&c->columns);
    free(c);
}

bool copy_is_from(const struct copy_spec *c)
{
    return c && c->from;
}

bool copy_names_has(const struct copy_names *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (!strcasecmp(l->v[i], name))
            return true;
    return false;
}

/* ------------------------------------------------------------- parsing */

struct lexer {
    const char *sql, *p, *end;
};

static void lx_space(struct lexer *l)
{
    l->p = sqlshape_skip_space(l->p, l->end);
}

/*
 * The text of a quoted item from p (its opening quote) to q (past its
 * closing one): the quote doubled inside stands for one; with backslash
 * (an E'...' string) \t, \n and \<c> are resolved too. Caller frees; NULL
 * when memory runs out.
 */
static char *unquote(const char *p, const char *q, bool backslash)
{
    char quote = *p;
    char *out = malloc((size_t)(q - p) + 1);
    size_t o = 0;
    for (const char *c = p + 1; out && c < q - 1; c++) {
        if (backslash && *c == '\\' && c + 1 < q - 1) {
            c++;
            out[o++] = *c == 't' ? '\t' : *c == 'n' ? '\n' : *c;
            continue;
        }
        out[o++] = *c;
        if (*c == quote)
            c++;
    }
    if (out)
        out[o] = 0;
    return out;
}

/* An identifier, unquoted ("" quoting resolved), or NULL. Caller frees. */
static char *lx_ident(struct lexer *l)
{
    lx_space(l);
    if (l->p >= l->end)
        return NULL;
    if (*l->p == '"') {
        const char *q = sqlshape_skip_item(l->sql, l->p, l->end);
        if (q - l->p < 2 || q[-1] != '"')
            return NULL;
        char *out = unquote(l->p, q, false);
        l->p = q;
        return out;
    }
    const char *b = l->p;
    while (l->p < l->end && (isalnum((unsigned char)*l->p) || *l->p == '_' || *l->p == '$'))
        l->p++;
    if (l->p == b)
        return NULL;
    char *out = strndup(b, (size_t)(l->p - b));
    for (char *c = out; c && *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return out;
}

/* A keyword (case-insensitive); consumed when it matches. */
static bool lx_word(struct lexer *l, const char *word)
{
    lx_space(l);
    size_t n = strlen(word);
    if ((size_t)(l->end - l->p) >= n && strncasecmp(l->p, word, n) == 0 &&
        (l->p + n == l->end || !(isalnum((unsigned char)l->p[n]) || l->p[n] == '_'))) {
        l->p += n;
        return true;
    }
    return false;
}

static bool lx_char(struct lexer *l, char c)
{
    lx_space(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return true;
    }
    return false;
}

/* A quoted string literal ('' resolved, E'' escapes kept simple), or a bare word. */
static char *lx_value(struct lexer *l)
{
    lx_space(l);
    if (l->p < l->end && (*l->p == 'E' || *l->p == 'e') && l->p + 1 < l->end && l->p[1] == '\'')
        l->p++;
    if (l->p < l->end && *l->p == '\'') {
        const char *q = sqlshape_skip_item(l->sql, l->p, l->end);
        char *out = unquote(l->p, q, l->p > l->sql && (l->p[-1] == 'E' || l->p[-1] == 'e'));
        l->p = q;
        return out;
    }
    return lx_ident(l);
}

/* HEADER's value: true, false or MATCH; -1 when it is none of them. */
static int header_value(const char *v)
{
    if (!v || !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        return 1;
    if (!strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0"))
        return 0;
    return !strcasecmp(v, "match") ? 2 : -1;
}

/* A list of column names, "(a, b)" or, in the old form, "a, b". 0, or -1 on a syntax error. */
static int parse_names(struct lexer *l, struct copy_names *out, bool parens)
{
    size_t cap = (size_t)out->n;
    if (parens && !lx_char(l, '('))
        return -1;
    do {
        if (dp_grow(&out->v, &cap, (size_t)out->n + 1, sizeof *out->v) != 0)
            return -1;
        if (!(out->v[out->n] = lx_ident(l)))
            return -1;
        out->n++;
    } while (lx_char(l, ','));
    return parens && !lx_char(l, ')') ? -1 : 0;
}

/* A one-byte option (DELIMITER, QUOTE, ESCAPE) into *dst; -1 with a message for any other length. */
static int one_byte(const char *name, const char *v, char *dst, char *err, size_t errlen)
{
    if (!v || strlen(v) != 1) {
        snprintf(err, errlen, "COPY %s must be a single one-byte character", name);
        return -1;
    }
    *dst = v[0];
    return 0;
}

/* FORMAT's value. */
static int set_format(struct copy_spec *c, const char *v, char *err, size_t errlen)
{
    if (v && !strcasecmp(v, "csv"))
        c->csv = true;
    else if (v && !strcasecmp(v, "binary"))
        c->binary = true;
    else if (!v || strcasecmp(v, "text") != 0) {
        snprintf(err, errlen, "COPY format \"%s\" not recognized", v ? v : "");
        return -1;
    }
    return 0;
}

/* One option, by name, with its value (NULL: none given). 0, or -1 with a message. */
static int set_option(struct copy_spec *c, const char *name, char **value, char *err, size_t errlen)
{
    const char *v = *value;
    if (!strcmp(name, "format"))
        return set_format(c, v, err, errlen);
    if (!strcmp(name, "header")) {
        int h = header_value(v);
        if (h < 0) {
            snprintf(err, errlen, "header requires a Boolean value or \"match\"");
            return -1;
        }
        c->header = h > 0;
        c->header_match = h == 2;
        return 0;
    }
    if (!strcmp(name, "delimiter"))
        return one_byte("delimiter", v, &c->delim, err, errlen);
    if (!strcmp(name, "quote"))
        return one_byte("quote", v, &c->quote, err, errlen);
    if (!strcmp(name, "escape"))
        return one_byte("escape", v, &c->escape, err, errlen);
    if (!strcmp(name, "null") && v) {
        free(c->null_str);
        c->null_str = *value;
        *value = NULL;
        return 0;
    }
    if (!strcmp(name, "freeze") || !strcmp(name, "encoding"))
        return 0;
    snprintf(err, errlen, "COPY option \"%s\" is not supported", name);
    return -1;
}

/* One option of the parenthesised list: name [value]. */
static int parse_option(struct lexer *l, struct copy_spec *c, char *err, size_t errlen)
{
    char *name = lx_ident(l);
    if (!name) {
        snprintf(err, errlen, "syntax error in COPY options");
        return -1;
    }
    int rc = 0;
    struct copy_names *list = !strcmp(name, "force_null")       ? &c->force_null
                              : !strcmp(name, "force_not_null") ? &c->force_not_null
                                                                : NULL;
    if (list || !strcmp(name, "force_quote")) {
        struct copy_names ignored = {
            0}; /* FORCE_QUOTE is for COPY TO, where every field is quoted as needed */
        if (!(!list && lx_char(l, '*')) && parse_names(l, list ? list : &ignored, true) != 0) {
            snprintf(err, errlen, "syntax error in COPY option \"%s\"", name);
            rc = -1;
        }
        names_free(&ignored);
        free(name);
        return rc;
    }
    char *value = NULL;
    lx_space(l);
    if (l->p < l->end && *l->p != ',' && *l->p != ')')
        value = lx_value(l);
    rc = set_option(c, name, &value, err, errlen);
    free(name);
    free(value);
    return rc;
}

/* One option of the old keyword form at l: 1 when one was read, 0 when none is there, -1 on an error. */
static int parse_keyword_option(struct lexer *l, struct copy_spec *c, char *err, size_t errlen)
{
    static const char *const valued[] = {"DELIMITER", "NULL", "QUOTE", "ESCAPE"};
    if (lx_word(l, "BINARY"))
        return c->binary = true, 1;
    if (lx_word(l, "CSV"))
        return c->csv = true, 1;
    if (lx_word(l, "HEADER"))
        return c->header = true, 1;
    if (lx_word(l, "FREEZE"))
        return 1;
    if (lx_word(l, "FORCE")) {
        struct copy_names ignored = {0};
        int rc = 1;
        if (lx_word(l, "NOT") && lx_word(l, "NULL"))
            rc = parse_names(l, &c->force_not_null, false) == 0 ? 1 : -1;
        else if (lx_word(l, "QUOTE"))
            rc = lx_char(l, '*') || parse_names(l, &ignored, false) == 0 ? 1 : -1;
        else
            rc = -1;
        names_free(&ignored);
        if (rc < 0)
            snprintf(err, errlen, "syntax error in COPY option FORCE");
        return rc;
    }
    for (size_t i = 0; i < sizeof valued / sizeof *valued; i++) {
        if (!lx_word(l, valued[i]))
            continue;
        lx_word(l, "AS");
        char *v = lx_value(l), name[16];
        snprintf(name, sizeof name, "%s", valued[i]);
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int rc = v ? set_option(c, name, &v, err, errlen) : -1;
        if (!v)
            snprintf(err, errlen, "syntax error in COPY options");
        free(v);
        return rc < 0 ? -1 : 1;
    }
    return 0;
}

/* The options after STDIN/STDOUT, in the list form or the old keyword form. */
static int parse_options(struct lexer *l, struct copy_spec *c, char *err, size_t errlen)
{
    lx_word(l, "WITH");
    if (lx_char(l, '(')) {
        do {
            if (parse_option(l, c, err, errlen) != 0)
                return -1;
        } while (lx_char(l, ','));
        if (!lx_char(l, ')')) {
            snprintf(err, errlen, "syntax error in COPY options");
            return -1;
        }
    }
    int rc;
    while ((rc = parse_keyword_option(l, c, err, errlen)) > 0)
        ;
    if (rc < 0)
        return -1;
    lx_space(l);
    if (l->p < l->end) {
        snprintf(err, errlen, "syntax error in COPY at \"%.20s\"", l->p);
        return -1;
    }
    return 0;
}

/* The table reference and optional column list. */
static int parse_target(struct lexer *l, struct copy_spec *c)
{
    char *a = lx_ident(l);
    if (!a)
        return -1;
    if (lx_char(l, '.')) {
        if (!strcmp(a, "public")) { /* DuckDB's main is what PostgreSQL clients see as public */
            free(a);
            a = strdup("main");
        }
        c->schema = a;
        if (!c->schema || !(c->table = lx_ident(l)))
            return -1;
    } else {
        c->table = a;
    }
    lx_space(l);
    return l->p < l->end && *l->p == '(' ? parse_names(l, &c->columns, true) : 0;
}

/* The parenthesised query of COPY (query) TO, after its '('. 0, or -1 when it is unbalanced. */
static int parse_query(struct lexer *l, struct copy_spec *c)
{
    const char *b = l->p;
    int depth = 1;
    while (l->p < l->end && depth > 0) {
        l->p = sqlshape_skip_space(l->p, l->end);
        if (l->p >= l->end)
            break;
        if (*l->p == '(')
            depth++;
        else if (*l->p == ')' && --depth == 0)
            break;
        l->p = sqlshape_skip_item(l->sql, l->p, l->end);
    }
    if (depth != 0)
        return -1;
    c->query = strndup(b, (size_t)(l->p - b));
    l->p++;
    return 0;
}

/* The defaults that depend on the format: CSV's delimiter, and NULL's text. 0, or -1 when memory runs out. */
static int format_defaults(struct copy_spec *c, bool delim_given)
{
    if (c->csv && !delim_given)
        c->delim = ',';
    if (!c->null_str)
        c->null_str = strdup(c->csv ? "" : "\\N");
    return c->null_str ? 0 : -1;
}

/* The checks PostgreSQL makes of a COPY's options. 0, or -1 with a message. */
static int check_options(const struct copy_spec *c, char *err, size_t errlen)
{
    const char *why = NULL;
    if (c->binary && c->csv)
        why = "cannot specify both CSV and BINARY";
    else if (c->binary && (c->header || c->delim != '\t' || strcmp(c->null_str, "\\N") != 0))
        why = "cannot specify DELIMITER, NULL or HEADER in BINARY mode";
    else if (c->binary && !c->from)
        why = "COPY BINARY TO STDOUT is not supported";
    else if (c->delim == '\n' || c->delim == '\r')
        why = "COPY delimiter cannot be newline or carriage return";
    else if (strchr(c->null_str, '\n') || strchr(c->null_str, '\r'))
        why = "COPY null representation cannot use newline or carriage return";
    else if (!c->csv && strchr("\\.abcdefghijklmnopqrstuvwxyz0123456789", c->delim))
        why = "COPY delimiter cannot be this character";
    else if (c->csv && c->delim == c->quote)
        why = "COPY delimiter and quote must be different";
    else if ((c->force_null.n || c->force_not_null.n) && (!c->csv || !c->from))
        why = "COPY FORCE_NULL and FORCE_NOT_NULL are available only in CSV mode, COPY FROM";
    else if (c->header_match && !c->from)
        why = "cannot use \"match\" with HEADER in COPY TO";
    if (!why)
        return 0;
    snprintf(err, errlen, "%s", why);
    return -1;
}

int copy_parse(const char *sql, struct copy_spec **out, char *err, size_t errlen)
{
    struct lexer l = {sql, sql, sql + strlen(sql)};
    struct copy_spec *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c || !lx_word(&l, "COPY")) {
        free(c);
        return 0;
    }
    c->delim = 0;
    c->quote = c->escape = 0;
    if ((lx_char(&l, '(') ? parse_query(&l, c) : parse_target(&l, c)) != 0)
        goto not_ours;
    if (lx_word(&l, "FROM"))
        c->from = true;
    else if (!lx_word(&l, "TO"))
        goto not_ours;
    if (!lx_word(&l, c->from ? "STDIN" : "STDOUT"))
        goto not_ours;
    int rc = -1;
    if (c->query && c->from) {
        snprintf(err, errlen, "COPY (query) FROM is not allowed");
    } else if (parse_options(&l, c, err, errlen) == 0) {
        bool delim_given = c->delim != 0;
        if (!c->delim)
            c->delim = '\t';
        if (!c->quote)
            c->quote = '"';
        if (!c->escape)
            c->escape = c->quote;
        if (format_defaults(c, delim_given) != 0)
            snprintf(err, errlen, "out of memory");
        else
            rc = check_options(c, err, errlen);
    }
    if (rc != 0) {
        copy_spec_free(c);
        return -1;
    }
    *out = c;
    return 1;
not_ours:
    copy_spec_free(c);
    return 0;
}

/* ------------------------------------------------------------- COPY TO */

/* Appends one field of a COPY TO line, escaped for text or quoted for CSV. */
void copy_put_field(struct pgbuf *out, const struct copy_spec *c, const char *p, size_t n)
{
    if (c->csv) {
        bool quote = n == 0 || (n == strlen(c->null_str) && memcmp(p, c->null_str, n) == 0);
        for (size_t i = 0; i < n && !quote; i++)
            quote = p[i] == c->delim || p[i] == c->quote || p[i] == '\n' || p[i] == '\r';
        if (!quote) {
            pgbuf_bytes(out, p, n);
            return;
        }
        pgbuf_byte(out, c->quote);
        for (size_t i = 0; i < n; i++) {
            if (p[i] == c->quote || p[i] == c->escape)
                pgbuf_byte(out, c->escape);
            pgbuf_byte(out, p[i]);
        }
        pgbuf_byte(out, c->quote);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        const char *esc = ch == '\\'   ? "\\\\"
                          : ch == '\n' ? "\\n"
                          : ch == '\r' ? "\\r"
                          : ch == '\t' ? "\\t"
                                       : NULL;
        if (esc)
            pgbuf_str(out, esc);
        else if (ch == c->delim) {
            pgbuf_byte(out, '\\');
            pgbuf_byte(out, ch);
        } else
            pgbuf_byte(out, ch);
    }
}

void copy_table_sql(const struct copy_spec *c, struct dp_buf *q)
{
    if (c->schema) {
        dp_sql_ident(q, c->schema);
        dp_buf_byte(q, '.');
    }
    dp_sql_ident(q, c->table);
}

void copy_query(const struct copy_spec *c, struct dp_buf *q)
{
    if (c->query) {
        dp_buf_str(q, c->query);
        return;
    }
    dp_buf_str(q, "SELECT ");
    for (int i = 0; i < c->columns.n; i++) {
        if (i)
            dp_buf_str(q, ", ");
        dp_sql_ident(q, c->columns.v[i]);
    }
    if (!c->columns.n)
        dp_buf_str(q, "*");
    dp_buf_str(q, " FROM ");
    copy_table_sql(c, q);
}
