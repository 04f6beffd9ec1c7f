/*
 * copy.c -- COPY FROM STDIN and COPY TO STDOUT.
 *
 * DuckDB cannot run these itself (it would read the server's own stdin),
 * so the session intercepts them. FROM STDIN takes CopyData chunks (which
 * do not line up with rows), splits rows in PostgreSQL's text or CSV
 * format, and feeds them to the batcher in autocommit (committed in
 * chunks of COPY_CHUNK_ROWS, each all-or-nothing) or to a DuckDB Appender
 * on the session's connection inside an explicit transaction (so that the
 * rows commit or roll back with it, as pgbench -i expects). In autocommit
 * each chunk is acknowledged in the session's ack mode (commit or
 * journal). TO STDOUT runs the query and streams each row as one CopyData
 * message, after the session's own journaled rows are applied.
 */
#include "copy.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgtypes.h"
#include "pgwire.h"
#include "server.h"
#include "session.h"
#include "sqlshape.h"

#define COPY_CHUNK_ROWS 10000

struct copy_spec {
    bool from;       /* FROM STDIN, else TO STDOUT */
    bool csv;
    bool header;
    char delim;
    char quote, escape;
    char *null_str;
    char *query;     /* COPY (query) TO STDOUT */
    char *schema;    /* unquoted; NULL for the default */
    char *table;     /* unquoted */
    char **columns;  /* unquoted; NULL: all */
    int ncolumns;
};

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
        char *out = malloc((size_t)(q - l->p));
        size_t o = 0;
        for (const char *c = l->p + 1; out && c < q - 1; c++) {
            out[o++] = *c;
            if (*c == '"')
                c++;
        }
        if (out)
            out[o] = 0;
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
        char *out = malloc((size_t)(q - l->p) + 1);
        size_t o = 0;
        for (const char *c = l->p + 1; out && c < q - 1; c++) {
            if (*c == '\\' && l->p > l->sql && (l->p[-1] == 'E' || l->p[-1] == 'e') && c + 1 < q - 1) {
                c++;
                out[o++] = *c == 't' ? '\t' : *c == 'n' ? '\n' : *c;
                continue;
            }
            out[o++] = *c;
            if (*c == '\'')
                c++;
        }
        if (out)
            out[o] = 0;
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
    int cap = 8;
    c->columns = malloc(sizeof *c->columns * (size_t)cap);
    do {
        if (!c->columns)
            return -1;
        if (c->ncolumns == cap) {
            char **n = realloc(c->columns, sizeof *n * (size_t)(cap *= 2));
            if (!n)
                return -1;
            c->columns = n;
        }
        if (!(c->columns[c->ncolumns] = lx_ident(l)))
            return -1;
        c->ncolumns++;
    } while (lx_char(l, ','));
    return lx_char(l, ')') ? 0 : -1;
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
    int rc = 0;
    if (lx_char(&l, '(')) {
        const char *b = l.p;
        int depth = 1;
        while (l.p < l.end && depth > 0) {
            l.p = sqlshape_skip_space(l.p, l.end);
            if (l.p >= l.end)
                break;
            if (*l.p == '(')
                depth++;
            else if (*l.p == ')' && --depth == 0)
                break;
            l.p = sqlshape_skip_item(sql, l.p, l.end);
        }
        if (depth != 0)
            goto not_ours;
        c->query = strndup(b, (size_t)(l.p - b));
        l.p++;
    } else if (parse_target(&l, c) != 0) {
        goto not_ours;
    }
    if (lx_word(&l, "FROM"))
        c->from = true;
    else if (!lx_word(&l, "TO"))
        goto not_ours;
    if (!lx_word(&l, c->from ? "STDIN" : "STDOUT"))
        goto not_ours;
    if (c->query && c->from) {
        snprintf(err, errlen, "COPY (query) FROM is not allowed");
        rc = -1;
    } else if (parse_options(&l, c, err, errlen) != 0) {
        rc = -1;
    }
    if (rc == 0 && c->csv) {
        if (c->delim == '\t')
            c->delim = ',';
    }
    if (rc == 0 && !c->null_str)
        c->null_str = strdup(c->csv ? "" : "\\N");
    if (rc == 0 && !c->null_str) {
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

struct fields {
    char *buf;           /* unescaped values, each NUL-terminated */
    size_t cap;
    size_t *start;       /* offsets into buf */
    size_t *len;
    bool *null;
    int n, cap_fields;
};

static int fields_add(struct fields *f, const char *p, size_t n, bool is_null, size_t *used)
{
    if (f->n == f->cap_fields) {
        int cap = f->cap_fields ? f->cap_fields * 2 : 16;
        size_t *s = realloc(f->start, sizeof *s * (size_t)cap), *l = s ? realloc(f->len, sizeof *l * (size_t)cap) : NULL;
        bool *nu = l ? realloc(f->null, sizeof *nu * (size_t)cap) : NULL;
        if (s)
            f->start = s;
        if (l)
            f->len = l;
        if (!nu)
            return -1;
        f->null = nu;
        f->cap_fields = cap;
    }
    if (*used + n + 1 > f->cap) {
        size_t cap = (*used + n + 1) * 2;
        char *b = realloc(f->buf, cap);
        if (!b)
            return -1;
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + *used, p, n);
    f->buf[*used + n] = 0;
    f->start[f->n] = *used;
    f->len[f->n] = n;
    f->null[f->n] = is_null;
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
static int split_text(const struct copy_spec *c, char *line, size_t n, struct fields *f)
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

/* Splits one CSV record into fields. */
static int split_csv(const struct copy_spec *c, const char *line, size_t n, struct fields *f,
                     char **scratch, size_t *scratch_cap)
{
    size_t used = 0, i = 0;
    f->n = 0;
    if (*scratch_cap < n + 1) {
        char *p = realloc(*scratch, n + 1);
        if (!p)
            return -1;
        *scratch = p;
        *scratch_cap = n + 1;
    }
    for (;;) {
        size_t o = 0;
        bool quoted = false;
        size_t b = i;
        while (i < n && line[i] != c->delim) {
            if (line[i] == c->quote) {
                quoted = true;
                i++;
                while (i < n) {
                    if (line[i] == c->escape && i + 1 < n && line[i + 1] == c->quote && (c->escape != c->quote || true)) {
                        if (c->escape == c->quote || line[i] == c->escape) {
                            (*scratch)[o++] = c->quote;
                            i += 2;
                            continue;
                        }
                    }
                    if (line[i] == c->quote) {
                        i++;
                        break;
                    }
                    (*scratch)[o++] = line[i++];
                }
                continue;
            }
            (*scratch)[o++] = line[i++];
        }
        bool is_null = !quoted && i - b == strlen(c->null_str) && memcmp(line + b, c->null_str, i - b) == 0;
        if (fields_add(f, *scratch, is_null ? 0 : o, is_null, &used) != 0)
            return -1;
        if (i >= n)
            return 0;
        i++; /* the delimiter */
    }
}

/* ------------------------------------------------------------ row sinks */

struct sink {
    struct session *s;
    const struct copy_spec *c;
    int ncols;
    duckpond_write *w;     /* batcher path */
    size_t pending;
    duckdb_appender app;   /* transaction path */
    uint64_t rows;
    duckpond_value *vals;
};

/* Sends the batcher the rows gathered so far and waits for their
 * acknowledgement (commit or journal, as the session's ack mode says). */
static int sink_commit(struct sink *k)
{
    if (!k->w)
        return 0;
    int rc = duckpond_write_submit(k->w, session_ack(k->s));
    if (rc != DUCKPOND_OK) {
        const char *msg = duckpond_write_errmsg(k->w);
        session_error(k->s, duckpond_sqlstate(rc, msg), "COPY failed: %s",
                      msg && *msg ? msg : duckpond_strerror(rc));
    } else {
        session_note_seq(k->s, duckpond_write_seq(k->w));
    }
    duckpond_write_free(k->w);
    k->w = NULL;
    k->pending = 0;
    return rc == DUCKPOND_OK ? 0 : -1;
}

static int sink_row(struct sink *k, const struct fields *f)
{
    if (f->n < k->ncols) {
        session_error(k->s, "22P04", "missing data for column %d (row %" PRIu64 ")", f->n + 1, k->rows + 1);
        return -1;
    }
    if (f->n > k->ncols) {
        session_error(k->s, "22P04", "extra data after last expected column (row %" PRIu64 ")", k->rows + 1);
        return -1;
    }
    if (k->app) {
        for (int i = 0; i < f->n; i++) {
            duckdb_state st = f->null[i] ? duckdb_append_null(k->app)
                                         : duckdb_append_varchar_length(k->app, f->buf + f->start[i], f->len[i]);
            if (st != DuckDBSuccess)
                goto app_fail;
        }
        if (duckdb_appender_end_row(k->app) != DuckDBSuccess)
            goto app_fail;
        k->rows++;
        return 0;
    }
    if (!k->w) {
        const struct copy_spec *c = k->c;
        char name[512];
        snprintf(name, sizeof name, "%s%s%s", c->schema ? c->schema : "", c->schema ? "." : "", c->table);
        int rc = duckpond_write_new(k->s->srv->batcher, name, (const char *const *)c->columns, c->ncolumns,
                                    DUCKPOND_WRITE_ATOMIC, &k->w);
        if (rc != DUCKPOND_OK) {
            session_error(k->s, duckpond_sqlstate(rc, NULL), "COPY failed: %s", duckpond_strerror(rc));
            return -1;
        }
    }
    for (int i = 0; i < f->n; i++) {
        memset(&k->vals[i], 0, sizeof k->vals[i]);
        k->vals[i].kind = f->null[i] ? DUCKPOND_VALUE_NULL : DUCKPOND_VALUE_TEXT;
        k->vals[i].u.text.ptr = f->buf + f->start[i];
        k->vals[i].u.text.len = f->len[i];
    }
    if (duckpond_write_add_row(k->w, k->vals) != DUCKPOND_OK) {
        session_error(k->s, "53200", "COPY failed: could not queue a row");
        return -1;
    }
    k->rows++;
    if (++k->pending >= COPY_CHUNK_ROWS)
        return sink_commit(k);
    return 0;
app_fail:
    session_duckdb_error(k->s, DUCKDB_ERROR_INVALID, duckdb_appender_error(k->app));
    return -1;
}

/* The number of columns the rows carry: the list given, or the table's. */
static int copy_columns(struct session *s, const struct copy_spec *c, int *ncols)
{
    if (c->ncolumns) {
        *ncols = c->ncolumns;
        return 0;
    }
    duckdb_appender app = NULL;
    if (duckdb_appender_create(s->dcon, c->schema, c->table, &app) != DuckDBSuccess) {
        session_error(s, "42P01", "relation \"%s\" does not exist", c->table);
        duckdb_appender_destroy(&app);
        return -1;
    }
    *ncols = (int)duckdb_appender_column_count(app);
    duckdb_appender_destroy(&app);
    return 0;
}

/* Opens the Appender of the transaction path (with the column list, if any). */
static int open_appender(struct sink *k)
{
    const struct copy_spec *c = k->c;
    if (duckdb_appender_create(k->s->dcon, c->schema, c->table, &k->app) != DuckDBSuccess) {
        session_error(k->s, "42P01", "relation \"%s\" does not exist", c->table);
        duckdb_appender_destroy(&k->app);
        k->app = NULL;
        return -1;
    }
    for (int i = 0; i < c->ncolumns; i++)
        if (duckdb_appender_add_column(k->app, c->columns[i]) != DuckDBSuccess) {
            session_error(k->s, "42703", "column \"%s\" of relation \"%s\" does not exist", c->columns[i], c->table);
            return -1;
        }
    return 0;
}

/* ------------------------------------------------------------- COPY FROM */

struct reader {
    struct pgbuf line;
    bool in_quotes;
    bool skip_header;
    bool ended; /* saw the \. marker */
    struct fields f;
    char *scratch;
    size_t scratch_cap;
};

/* A complete line: the end marker, a header to skip, or a row for the sink. */
static int take_line(struct sink *k, struct reader *r)
{
    char *line = r->line.data ? r->line.data : (char *)"";
    size_t n = r->line.len;
    if (n && line[n - 1] == '\r')
        n--;
    if (n == 2 && line[0] == '\\' && line[1] == '.') {
        r->ended = true;
        return 0;
    }
    if (r->skip_header) {
        r->skip_header = false;
        return 0;
    }
    int rc = k->c->csv ? split_csv(k->c, line, n, &r->f, &r->scratch, &r->scratch_cap)
                       : split_text(k->c, line, n, &r->f);
    if (rc != 0) {
        session_error(k->s, "53200", "out of memory");
        return -1;
    }
    return sink_row(k, &r->f);
}

/* Feeds a CopyData chunk: rows end at newlines outside CSV quotes. */
static int feed(struct sink *k, struct reader *r, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !r->ended; i++) {
        char ch = p[i];
        if (k->c->csv && ch == k->c->quote)
            r->in_quotes = !r->in_quotes;
        if (ch == '\n' && !r->in_quotes) {
            if (take_line(k, r) != 0)
                return -1;
            r->line.len = 0;
            continue;
        }
        if (!k->c->csv && ch == '\\' && i + 1 < n) { /* keep an escaped character with its backslash */
            pgbuf_byte(&r->line, ch);
            ch = p[++i];
        }
        pgbuf_byte(&r->line, ch);
        if (r->line.failed) {
            session_error(k->s, "53200", "out of memory");
            return -1;
        }
    }
    return 0;
}

static void reader_free(struct reader *r)
{
    pgbuf_free(&r->line);
    free(r->f.buf);
    free(r->f.start);
    free(r->f.len);
    free(r->f.null);
    free(r->scratch);
}

/* Reads CopyData until CopyDone or CopyFail. */
static int copy_in_loop(struct session *s, struct sink *k, struct reader *r)
{
    for (;;) {
        struct pgmsg m;
        if (session_read(s, &m) != 0)
            return -2;
        switch (m.type) {
        case 'd':
            if (feed(k, r, m.body, m.len) != 0)
                return -1;
            break;
        case 'c':
            if (r->line.len && !r->ended && take_line(k, r) != 0)
                return -1;
            return 0;
        case 'f':
            session_error(s, "57014", "COPY from stdin failed: %.*s", (int)(m.len ? m.len - 1 : 0), m.body);
            return -1;
        case 'H':
        case 'S':
            break;
        default:
            session_error(s, "08P01", "unexpected message type 0x%02x during COPY from stdin", (unsigned char)m.type);
            return -1;
        }
    }
}

static int copy_from(struct session *s, const struct copy_spec *c)
{
    struct sink k = {.s = s, .c = c};
    struct reader r = {.skip_header = c->header};
    pgbuf_init(&r.line);
    if (copy_columns(s, c, &k.ncols) != 0)
        return -1;
    bool in_tx = s->tx != 'I' || !s->srv->batcher;
    if (in_tx && open_appender(&k) != 0) {
        duckdb_appender_destroy(&k.app);
        return -1;
    }
    k.vals = calloc((size_t)k.ncols + 1, sizeof *k.vals);
    pgbuf_begin(&s->out, 'G');
    pgbuf_byte(&s->out, 0);
    pgbuf_int16(&s->out, (int16_t)k.ncols);
    for (int i = 0; i < k.ncols; i++)
        pgbuf_int16(&s->out, 0);
    pgbuf_end(&s->out);
    session_flush(s);
    int rc = k.vals ? copy_in_loop(s, &k, &r) : -1;
    if (rc == 0)
        rc = sink_commit(&k);
    if (k.app) {
        if (rc == 0 && duckdb_appender_close(k.app) != DuckDBSuccess) {
            session_duckdb_error(s, DUCKDB_ERROR_INVALID, duckdb_appender_error(k.app));
            rc = -1;
        }
        duckdb_appender_destroy(&k.app);
    }
    if (k.w) { /* rows never submitted (an error or a lost client): dropped */
        duckpond_write_free(k.w);
    }
    free(k.vals);
    reader_free(&r);
    if (rc == 0) {
        char tag[48];
        snprintf(tag, sizeof tag, "COPY %" PRIu64, k.rows);
        pgwire_command_complete(&s->out, tag);
    }
    return rc == 0 ? 0 : -1;
}

/* --------------------------------------------------------------- COPY TO */

/* Appends one field of a COPY TO line, escaped for text or quoted for CSV. */
static void put_field(struct pgbuf *out, const struct copy_spec *c, const char *p, size_t n)
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

/* The SELECT a COPY TO runs. Caller frees. */
static char *copy_query(const struct copy_spec *c)
{
    if (c->query)
        return strdup(c->query);
    struct pgbuf q;
    pgbuf_init(&q);
    pgbuf_str(&q, "SELECT ");
    for (int i = 0; i < c->ncolumns; i++) {
        pgbuf_printf(&q, "%s\"", i ? ", " : "");
        for (const char *p = c->columns[i]; *p; p++) {
            if (*p == '"')
                pgbuf_byte(&q, '"');
            pgbuf_byte(&q, *p);
        }
        pgbuf_byte(&q, '"');
    }
    if (!c->ncolumns)
        pgbuf_str(&q, "*");
    pgbuf_str(&q, " FROM ");
    const char *parts[2] = {c->schema, c->table};
    for (int k = 0; k < 2; k++) {
        if (!parts[k])
            continue;
        pgbuf_byte(&q, '"');
        for (const char *p = parts[k]; *p; p++) {
            if (*p == '"')
                pgbuf_byte(&q, '"');
            pgbuf_byte(&q, *p);
        }
        pgbuf_str(&q, k == 0 ? "\"." : "\"");
    }
    pgbuf_byte(&q, 0);
    if (q.failed) {
        pgbuf_free(&q);
        return NULL;
    }
    return q.data;
}

/* Sends the rows of a result as CopyData lines; returns rows sent or -1. */
static int64_t copy_out_rows(struct session *s, const struct copy_spec *c, duckdb_result *res, int ncols)
{
    struct pgbuf tmp;
    pgbuf_init(&tmp);
    int64_t rows = 0;
    for (;;) {
        session_set_running(s, true);
        duckdb_data_chunk chunk = duckdb_fetch_chunk(*res);
        session_set_running(s, false);
        if (!chunk)
            break;
        idx_t n = duckdb_data_chunk_get_size(chunk);
        for (idx_t row = 0; row < n; row++) {
            pgbuf_begin(&s->out, 'd');
            for (int col = 0; col < ncols; col++) {
                if (col)
                    pgbuf_byte(&s->out, c->delim);
                duckdb_vector v = duckdb_data_chunk_get_vector(chunk, (idx_t)col);
                if (!pgtypes_valid(v, row)) {
                    pgbuf_str(&s->out, c->null_str);
                    continue;
                }
                duckdb_logical_type t = duckdb_column_logical_type(res, (idx_t)col);
                tmp.len = 0;
                pgtypes_text(&tmp, v, t, row);
                duckdb_destroy_logical_type(&t);
                put_field(&s->out, c, tmp.data ? tmp.data : "", tmp.len);
            }
            pgbuf_byte(&s->out, '\n');
            pgbuf_end(&s->out);
            rows++;
        }
        duckdb_destroy_data_chunk(&chunk);
        if (s->out.len > (256u << 10) && session_flush(s) != 0)
            break;
    }
    pgbuf_free(&tmp);
    return rows;
}

static int copy_to(struct session *s, const struct copy_spec *c)
{
    char *sql = copy_query(c);
    duckdb_prepared_statement prep = NULL;
    duckdb_result res;
    int rc = -1;
    if (!sql) {
        session_error(s, "53200", "out of memory");
        return -1;
    }
    if (duckdb_prepare(s->dcon, sql, &prep) != DuckDBSuccess) {
        session_duckdb_error(s, DUCKDB_ERROR_INVALID, duckdb_prepare_error(prep));
        goto done;
    }
    if (s->read_only && duckdb_prepared_statement_type(prep) != DUCKDB_STATEMENT_TYPE_SELECT) {
        session_error(s, "25006", "cannot execute this COPY in a read-only transaction");
        goto done;
    }
    session_set_running(s, true);
    duckdb_state st = duckdb_execute_prepared_streaming(prep, &res);
    session_set_running(s, false);
    if (st != DuckDBSuccess) {
        session_duckdb_error(s, duckdb_result_error_type(&res), duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        goto done;
    }
    int ncols = (int)duckdb_column_count(&res);
    pgbuf_begin(&s->out, 'H');
    pgbuf_byte(&s->out, 0);
    pgbuf_int16(&s->out, (int16_t)ncols);
    for (int i = 0; i < ncols; i++)
        pgbuf_int16(&s->out, 0);
    pgbuf_end(&s->out);
    if (c->header) {
        pgbuf_begin(&s->out, 'd');
        for (int i = 0; i < ncols; i++) {
            const char *name = duckdb_column_name(&res, (idx_t)i);
            if (i)
                pgbuf_byte(&s->out, c->delim);
            put_field(&s->out, c, name, strlen(name));
        }
        pgbuf_byte(&s->out, '\n');
        pgbuf_end(&s->out);
    }
    int64_t rows = copy_out_rows(s, c, &res, ncols);
    const char *err = duckdb_result_error(&res);
    pgwire_empty(&s->out, 'c');
    if (err) {
        session_duckdb_error(s, duckdb_result_error_type(&res), err);
    } else {
        char tag[48];
        snprintf(tag, sizeof tag, "COPY %" PRId64, rows);
        pgwire_command_complete(&s->out, tag);
        rc = 0;
    }
    duckdb_destroy_result(&res);
done:
    duckdb_destroy_prepare(&prep);
    free(sql);
    return rc;
}

int copy_run(struct session *s, const struct copy_spec *c)
{
    /* what DuckDB runs itself must see the session's journaled rows */
    if ((!c->from || s->tx != 'I') && session_wait_own_writes(s) != 0)
        return -1;
    return c->from ? copy_from(s, c) : copy_to(s, c);
}
