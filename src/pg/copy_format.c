/*
 * copy_format.c -- the COPY statement and PostgreSQL's text and CSV row
 * formats (copy_format.h).
 *
 * The statement is read with a small lexer over sqlshape's (so quoting and
 * comments are read as everywhere else): a table and column list or a
 * parenthesised query, FROM STDIN or TO STDOUT, and the options in both the
 * list form, WITH (FORMAT csv, ...), and the old keyword form, CSV HEADER.
 * Rows come in as one line each (copy.c cuts CopyData at newlines outside
 * CSV quotes) and are split into fields here: text format with its
 * backslash escapes and \N, CSV with quotes, doubled quotes and an
 * escape character.
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

void copy_spec_free(struct copy_spec *c)
{
    if (!c)
        return;
    free(c->null_str);
    free(c->query);
    free(c->schema);
    free(c->table);
    for (int i = 0; i < c->ncolumns; i++)
        free(c->columns[i]);
    free(c->columns);
    free(c);
}

bool copy_is_from(const struct copy_spec *c)
{
    return c && c->from;
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

static bool truthy(const char *v)
{
    return !v || !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1");
}

/* One option of the parenthesised list: name [value]. */
static int parse_option(struct lexer *l, struct copy_spec *c, char *err, size_t errlen)
{
    char *name = lx_ident(l);
    if (!name) {
        snprintf(err, errlen, "syntax error in COPY options");
        return -1;
    }
    char *value = NULL;
    lx_space(l);
    if (l->p < l->end && *l->p != ',' && *l->p != ')')
        value = lx_value(l);
    int rc = 0;
    if (!strcmp(name, "format")) {
        if (value && !strcasecmp(value, "csv"))
            c->csv = true;
        else if (!value || strcasecmp(value, "text") != 0) {
            snprintf(err, errlen, "COPY format \"%s\" is not supported", value ? value : "");
            rc = -1;
        }
    } else if (!strcmp(name, "header")) {
        c->header = truthy(value);
    } else if ((!strcmp(name, "delimiter") || !strcmp(name, "quote") || !strcmp(name, "escape")) &&
               value && strlen(value) == 1) {
        *(name[0] == 'd' ? &c->delim : name[0] == 'q' ? &c->quote : &c->escape) = value[0];
    } else if (!strcmp(name, "null") && value) {
        free(c->null_str);
        c->null_str = value;
        value = NULL;
    } else if (strcmp(name, "freeze") != 0 && strcmp(name, "encoding") != 0 &&
               strncmp(name, "force", 5) != 0) {
        snprintf(err, errlen, "COPY option \"%s\" is not supported", name);
        rc = -1;
    }
    free(name);
    free(value);
    return rc;
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
    for (;;) {
        if (lx_word(l, "BINARY")) {
            snprintf(err, errlen, "COPY BINARY is not supported");
            return -1;
        } else if (lx_word(l, "CSV")) {
            c->csv = true;
        } else if (lx_word(l, "HEADER")) {
            c->header = true;
        } else if (lx_word(l, "FREEZE")) {
        } else if (lx_word(l, "DELIMITER") || lx_word(l, "NULL") || lx_word(l, "QUOTE") ||
                   lx_word(l, "ESCAPE")) {
            char kw = (char)toupper((unsigned char)l->p[-1]);
            lx_word(l, "AS");
            char *v = lx_value(l);
            if (!v) {
                snprintf(err, errlen, "syntax error in COPY options");
                return -1;
            }
            if (kw == 'L') { /* NULL */
                free(c->null_str);
                c->null_str = v;
                continue;
            }
            char ch = v[0];
            free(v);
            if (kw == 'R') /* DELIMITER */
                c->delim = ch;
            else if (kw == 'E') /* QUOTE */
                c->quote = ch;
            else
                c->escape = ch;
        } else {
            break;
        }
    }
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
        c->schema = a;
        if (!(c->table = lx_ident(l)))
            return -1;
    } else {
        c->table = a;
    }
    if (!lx_char(l, '('))
        return 0;
    size_t cap = 0;
    do {
        if (dp_grow(&c->columns, &cap, (size_t)c->ncolumns + 1, sizeof *c->columns) != 0)
            return -1;
        if (!(c->columns[c->ncolumns] = lx_ident(l)))
            return -1;
        c->ncolumns++;
    } while (lx_char(l, ','));
    return lx_char(l, ')') ? 0 : -1;
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
static int format_defaults(struct copy_spec *c)
{
    if (c->csv && c->delim == '\t')
        c->delim = ',';
    if (!c->null_str)
        c->null_str = strdup(c->csv ? "" : "\\N");
    return c->null_str ? 0 : -1;
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
    c->delim = '\t';
    c->quote = c->escape = '"';
    if ((lx_char(&l, '(') ? parse_query(&l, c) : parse_target(&l, c)) != 0)
        goto not_ours;
    if (lx_word(&l, "FROM"))
        c->from = true;
    else if (!lx_word(&l, "TO"))
        goto not_ours;
    if (!lx_word(&l, c->from ? "STDIN" : "STDOUT"))
        goto not_ours;
    int rc = 0;
    if (c->query && c->from) {
        snprintf(err, errlen, "COPY (query) FROM is not allowed");
        rc = -1;
    } else if (parse_options(&l, c, err, errlen) != 0) {
        rc = -1;
    } else if (format_defaults(c) != 0) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
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

/* ------------------------------------------------------- row splitting */

void copy_fields_free(struct copy_fields *f)
{
    free(f->buf);
    free(f->v);
    free(f->scratch);
    memset(f, 0, sizeof *f);
}

/* Appends a field (n bytes of p) after the used bytes of f->buf. 0, or -1 when memory runs out. */
static int fields_add(struct copy_fields *f, const char *p, size_t n, bool is_null, size_t *used)
{
    if (dp_grow(&f->v, &f->vcap, (size_t)f->n + 1, sizeof *f->v) != 0 ||
        dp_grow(&f->buf, &f->cap, *used + n + 1, 1) != 0)
        return -1;
    memcpy(f->buf + *used, p, n);
    f->buf[*used + n] = 0;
    f->v[f->n] = (struct copy_field){.start = *used, .len = n, .null = is_null};
    f->n++;
    *used += n + 1;
    return 0;
}

/* Resolves the backslash escapes of text format, in place; returns the new length. */
static size_t text_unescape(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 == n) {
            s[o++] = s[i];
            continue;
        }
        char c = s[++i];
        switch (c) {
        case 'b': s[o++] = '\b'; break;
        case 'f': s[o++] = '\f'; break;
        case 'n': s[o++] = '\n'; break;
        case 'r': s[o++] = '\r'; break;
        case 't': s[o++] = '\t'; break;
        case 'v': s[o++] = '\v'; break;
        case 'x':
            if (i + 1 < n && isxdigit((unsigned char)s[i + 1])) {
                int v = 0, k = 0;
                while (k < 2 && i + 1 < n && isxdigit((unsigned char)s[i + 1])) {
                    char h = s[++i];
                    v = v * 16 + (isdigit((unsigned char)h) ? h - '0' : tolower((unsigned char)h) - 'a' + 10);
                    k++;
                }
                s[o++] = (char)v;
            } else {
                s[o++] = 'x';
            }
            break;
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0', k = 1;
                while (k < 3 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7') {
                    v = v * 8 + (s[++i] - '0');
                    k++;
                }
                s[o++] = (char)v;
            } else {
                s[o++] = c;
            }
        }
    }
    return o;
}

/* Splits one text-format line into fields. */
static int split_text(const struct copy_spec *c, char *line, size_t n, struct copy_fields *f)
{
    size_t used = 0, b = 0;
    f->n = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] == '\\') {
            i++;
            continue;
        }
        if (i < n && line[i] != c->delim)
            continue;
        size_t len = i - b;
        bool is_null = len == strlen(c->null_str) && memcmp(line + b, c->null_str, len) == 0;
        size_t ulen = is_null ? 0 : text_unescape(line + b, len);
        if (fields_add(f, line + b, ulen, is_null, &used) != 0)
            return -1;
        b = i + 1;
    }
    return 0;
}

/* Reads one CSV field at line[*i] (up to the delimiter) into scratch, unquoted; returns its length. */
static size_t csv_field(const struct copy_spec *c, const char *line, size_t n, size_t *i, char *scratch,
                        bool *quoted)
{
    size_t o = 0;
    *quoted = false;
    while (*i < n && line[*i] != c->delim) {
        if (line[*i] != c->quote) {
            scratch[o++] = line[(*i)++];
            continue;
        }
        *quoted = true;
        (*i)++;
        while (*i < n) {
            if (line[*i] == c->escape && *i + 1 < n && line[*i + 1] == c->quote) {
                scratch[o++] = c->quote;
                *i += 2;
                continue;
            }
            if (line[*i] == c->quote) {
                (*i)++;
                break;
            }
            scratch[o++] = line[(*i)++];
        }
    }
    return o;
}

/* Splits one CSV record into fields. */
static int split_csv(const struct copy_spec *c, const char *line, size_t n, struct copy_fields *f)
{
    size_t used = 0, i = 0;
    f->n = 0;
    if (dp_grow(&f->scratch, &f->scratch_cap, n + 1, 1) != 0)
        return -1;
    for (;;) {
        size_t b = i;
        bool quoted;
        size_t o = csv_field(c, line, n, &i, f->scratch, &quoted);
        bool is_null = !quoted && i - b == strlen(c->null_str) && memcmp(line + b, c->null_str, i - b) == 0;
        if (fields_add(f, f->scratch, is_null ? 0 : o, is_null, &used) != 0)
            return -1;
        if (i >= n)
            return 0;
        i++; /* the delimiter */
    }
}

int copy_split_row(const struct copy_spec *c, char *line, size_t n, struct copy_fields *f)
{
    return c->csv ? split_csv(c, line, n, f) : split_text(c, line, n, f);
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
        const char *esc = ch == '\\' ? "\\\\" : ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : ch == '\t' ? "\\t" : NULL;
        if (esc)
            pgbuf_str(out, esc);
        else if (ch == c->delim) {
            pgbuf_byte(out, '\\');
            pgbuf_byte(out, ch);
        } else
            pgbuf_byte(out, ch);
    }
}

void copy_query(const struct copy_spec *c, struct dp_buf *q)
{
    if (c->query) {
        dp_buf_str(q, c->query);
        return;
    }
    dp_buf_str(q, "SELECT ");
    for (int i = 0; i < c->ncolumns; i++) {
        if (i)
            dp_buf_str(q, ", ");
        dp_sql_ident(q, c->columns[i]);
    }
    if (!c->ncolumns)
        dp_buf_str(q, "*");
    dp_buf_str(q, " FROM ");
    if (c->schema) {
        dp_sql_ident(q, c->schema);
        dp_buf_byte(q, '.');
    }
    dp_sql_ident(q, c->table);
}
