/*
 * sqllex.c -- the one SQL lexer of duckpond (sqllex.h has its rules).
 *
 * The rules are DuckDB's, checked against DuckDB 1.4.4 itself: its
 * scanner is PostgreSQL's older one, so a number never swallows the
 * letters after it (1e'x' is 1 then the string e'x', 1$$x$$ is 1 then a
 * dollar quote), a carriage return ends a "--" comment, and a vertical
 * tab is not white space. Statement splitting (the session), the INSERT
 * shape scanner and the catalog rewriter all read text through here, so
 * a text that one of them takes for a string the others do too. Input
 * comes from clients: every loop is bounded by the length given, and
 * nothing needs a NUL terminator. tests/fuzz/fuzz_sqllex.c drives it.
 */
#include "sqllex.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (unsigned char)c >= 0x80;
}

bool sqllex_ident_char(char c)
{
    return is_ident_start(c) || is_digit(c) || c == '$';
}

static bool is_op_char(char c)
{
    return c && strchr("+-*/<>=~!@#%^&|`?", c) != NULL;
}

/* ------------------------------------------------------ space, comments */

/* Past the slash-star comment at s[i], nested ones included; n and *bad when unterminated. */
static size_t skip_block_comment(const char *s, size_t n, size_t i, bool *bad)
{
    size_t depth = 1;
    for (i += 2; i < n;) {
        if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            depth++;
            i += 2;
        } else if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') {
            i += 2;
            if (--depth == 0)
                return i;
        } else {
            i++;
        }
    }
    if (bad)
        *bad = true;
    return n;
}

size_t sqllex_skip_space(const char *s, size_t n, size_t i, bool *bad)
{
    while (i < n) {
        if (is_space(s[i])) {
            i++;
        } else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') {
            while (i < n && s[i] != '\n' && s[i] != '\r')
                i++;
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            i = skip_block_comment(s, n, i, bad);
        } else {
            break;
        }
    }
    return i;
}

/* --------------------------------------------------------------- tokens */

/* Past the closing quote q of a run whose body starts at s[i] (q doubled
 * inside; backslash escapes too when esc); n and *bad when unterminated. */
static size_t scan_quoted(const char *s, size_t n, size_t i, char q, bool esc, bool *bad)
{
    while (i < n) {
        if (esc && s[i] == '\\' && i + 1 < n) {
            i += 2;
        } else if (s[i] != q) {
            i++;
        } else if (i + 1 < n && s[i + 1] == q) {
            i += 2;
        } else {
            return i + 1;
        }
    }
    *bad = true;
    return n;
}

/* The length of a dollar-quote delimiter "$tag$" at s[i], or 0 if none starts there. */
static size_t dollar_tag_len(const char *s, size_t n, size_t i)
{
    size_t j = i + 1;
    if (j < n && s[j] == '$')
        return 2;
    if (j >= n || !is_ident_start(s[j]))
        return 0;
    while (j < n && sqllex_ident_char(s[j]) && s[j] != '$')
        j++;
    return j < n && s[j] == '$' ? j - i + 1 : 0;
}

/* Past the dollar quote whose delimiter (tl bytes) is at s[i]; n and *bad when unterminated. */
static size_t scan_dollar(const char *s, size_t n, size_t i, size_t tl, bool *bad)
{
    for (size_t j = i + tl; n - j >= tl;) {
        const char *d = memchr(s + j, '$', n - j);
        if (!d || (size_t)(s + n - d) < tl)
            break;
        if (memcmp(d, s + i, tl) == 0)
            return (size_t)(d - s) + tl;
        j = (size_t)(d - s) + 1;
    }
    *bad = true;
    return n;
}

/* Past a run of digits starting at s[i] (a digit), with single '_' between digits. */
static size_t scan_digits(const char *s, size_t n, size_t i)
{
    while (i < n) {
        if (is_digit(s[i]))
            i++;
        else if (s[i] == '_' && i + 1 < n && is_digit(s[i + 1]))
            i += 2;
        else
            break;
    }
    return i;
}

/* Past a number at s[i] (a digit, or '.' and a digit): 1, 1_000, 1., 1.5, .5,
 * then an exponent only when digits follow it (1e5, 1e-5; 1e is 1 then e). */
static size_t scan_number(const char *s, size_t n, size_t i)
{
    if (s[i] != '.') {
        i = scan_digits(s, n, i);
        if (i < n && s[i] == '.' && !(i + 1 < n && s[i + 1] == '.')) /* 1..2 is 1, then .. */
            i++;
    } else {
        i++;
    }
    if (i < n && is_digit(s[i]))
        i = scan_digits(s, n, i);
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < n && is_digit(s[j]))
            i = scan_digits(s, n, j);
    }
    return i;
}

/* The length of the operator at s[i], by PostgreSQL's rules: it stops
 * before a comment's start, and a trailing + or - stays only when one of
 * ~!@#%^&|`? is in it (so that a+-1 is a + -1). */
static size_t scan_op(const char *s, size_t n, size_t i)
{
    size_t len = 0;
    while (i + len < n && is_op_char(s[i + len])) {
        char c = s[i + len], prev = len ? s[i + len - 1] : 0;
        if ((c == '-' && prev == '-') || (c == '*' && prev == '/')) {
            len--;
            break;
        }
        len++;
    }
    if (len == 0)
        return 1; /* a comment's first byte, when the caller stepped onto one */
    bool special = false;
    for (size_t k = i; k < i + len; k++)
        if (strchr("~!@#%^&|`?", s[k]))
            special = true;
    while (len > 1 && !special && (s[i + len - 1] == '+' || s[i + len - 1] == '-'))
        len--;
    return len;
}

/* A string with a one-letter prefix: E'' (with escapes), B'', X'', N''. */
static bool is_prefixed_string(const char *s, size_t n, size_t i)
{
    return i + 1 < n && s[i + 1] == '\'' && strchr("EeBbXxNn", s[i]) != NULL;
}

size_t sqllex_token(const char *s, size_t n, size_t i, struct sqllex_token *tok)
{
    size_t st = i;
    char c = s[i];
    enum sqllex_kind kind;
    bool bad = false;
    if (is_prefixed_string(s, n, i)) {
        i = scan_quoted(s, n, i + 2, '\'', c == 'E' || c == 'e', &bad);
        kind = SQLLEX_STRING;
    } else if ((c == 'U' || c == 'u') && i + 2 < n && s[i + 1] == '&' &&
               (s[i + 2] == '\'' || s[i + 2] == '"')) {
        kind = s[i + 2] == '\'' ? SQLLEX_STRING : SQLLEX_QIDENT;
        i = scan_quoted(s, n, i + 3, s[i + 2], false, &bad);
    } else if (is_ident_start(c)) {
        while (i < n && sqllex_ident_char(s[i]))
            i++;
        kind = SQLLEX_IDENT;
    } else if (c == '\'' || c == '"') {
        i = scan_quoted(s, n, i + 1, c, false, &bad);
        kind = c == '\'' ? SQLLEX_STRING : SQLLEX_QIDENT;
    } else if (c == '$' && i + 1 < n && is_digit(s[i + 1])) {
        for (i++; i < n && is_digit(s[i]);)
            i++;
        kind = SQLLEX_PARAM;
    } else if (c == '$') {
        size_t tl = dollar_tag_len(s, n, i);
        bad = tl == 0; /* a '$' that opens nothing */
        i = tl ? scan_dollar(s, n, i, tl, &bad) : i + 1;
        kind = tl ? SQLLEX_DOLLAR : SQLLEX_PUNCT;
    } else if (is_digit(c) || (c == '.' && i + 1 < n && is_digit(s[i + 1]))) {
        i = scan_number(s, n, i);
        kind = SQLLEX_NUMBER;
    } else if (c == ':' && i + 1 < n && s[i + 1] == ':') {
        i += 2;
        kind = SQLLEX_OP;
    } else if (is_op_char(c)) {
        i += scan_op(s, n, i);
        kind = SQLLEX_OP;
    } else {
        i++;
        kind = SQLLEX_PUNCT;
    }
    *tok = (struct sqllex_token){.kind = kind, .start = st, .len = i - st, .bad = bad};
    return i;
}

/* ------------------------------------------------------------ iterating */

void sqllex_init(struct sqllex *lx, const char *text, size_t len)
{
    *lx = (struct sqllex){.text = text, .len = len};
}

bool sqllex_next(struct sqllex *lx, struct sqllex_token *tok)
{
    lx->pos = sqllex_skip_space(lx->text, lx->len, lx->pos, &lx->bad);
    if (lx->pos >= lx->len)
        return false;
    lx->pos = sqllex_token(lx->text, lx->len, lx->pos, tok);
    if (tok->bad)
        lx->bad = true;
    return true;
}

bool sqllex_next_statement(struct sqllex *lx, size_t *start, size_t *len)
{
    for (;;) {
        size_t begin = lx->pos, end = lx->len;
        bool any = false, semicolon = false;
        struct sqllex_token tok;
        while (sqllex_next(lx, &tok)) {
            if (tok.kind == SQLLEX_PUNCT && lx->text[tok.start] == ';') {
                end = tok.start;
                semicolon = true;
                break;
            }
            any = true;
        }
        if (any) {
            *start = begin;
            *len = end - begin;
            return true;
        }
        if (!semicolon)
            return false;
    }
}

bool sqllex_is_word(const char *s, const struct sqllex_token *tok, const char *w)
{
    size_t wl = strlen(w);
    return tok->kind == SQLLEX_IDENT && tok->len == wl && strncasecmp(s + tok->start, w, wl) == 0;
}

bool sqllex_next_word(struct sqllex *lx, char *buf, size_t n)
{
    struct sqllex peek = *lx;
    struct sqllex_token tok;
    if (n)
        *buf = 0;
    if (!sqllex_next(&peek, &tok) || tok.kind != SQLLEX_IDENT || tok.len >= n)
        return false;
    for (size_t i = 0; i < tok.len; i++) {
        char c = lx->text[tok.start + i];
        buf[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
    }
    buf[tok.len] = 0;
    *lx = peek;
    return true;
}

/* ---------------------------------------------------------------- values */

/* Appends the n bytes at p with each doubled q as one. */
static void add_undoubled(struct dp_buf *out, const char *p, size_t n, char q)
{
    for (size_t i = 0; i < n; i++) {
        dp_buf_byte(out, p[i]);
        if (p[i] == q && i + 1 < n && p[i + 1] == q)
            i++;
    }
}

/* The value of up to max digits of base 8 or 16 at p[*i..n), advancing *i. */
static unsigned read_code(const char *p, size_t n, size_t *i, unsigned base, int max)
{
    unsigned v = 0;
    for (int k = 0; k < max && *i < n; k++, (*i)++) {
        char c = p[*i];
        unsigned d = is_digit(c)                               ? (unsigned)(c - '0')
                     : base == 16 && strchr("abcdefABCDEF", c) ? (unsigned)((c | 0x20) - 'a' + 10)
                                                               : 99;
        if (d >= base)
            break;
        v = v * base + d;
    }
    return v;
}

/* Appends the body (n bytes at p) of an E'...' string with its escapes resolved; -1 for one DuckDB refuses. */
static int add_unescaped(struct dp_buf *out, const char *p, size_t n)
{
    static const char plain[] = "b\bf\fn\nr\rt\t";
    for (size_t i = 0; i < n;) {
        char c = p[i++];
        if (c == '\'') {
            i++; /* '' inside */
        } else if (c == '\\' && i < n) {
            char e = p[i];
            const char *named = e ? strchr(plain, e) : NULL;
            if (e == 'u' || e == 'U')
                return -1; /* DuckDB: not implemented */
            if ((e >= '0' && e <= '7') ||
                (e == 'x' && i + 1 < n && strchr("0123456789abcdefABCDEF", p[i + 1]))) {
                i += e == 'x';
                unsigned v = read_code(p, n, &i, e == 'x' ? 16 : 8, e == 'x' ? 2 : 3) & 0xff;
                if (v == 0 || v >= 0x80)
                    return -1; /* DuckDB: a NUL, or bytes it would have to check as UTF-8 */
                c = (char)v;
            } else {
                c = named && (named - plain) % 2 == 0 ? named[1] : e;
                i++;
            }
        }
        dp_buf_byte(out, c);
    }
    return 0;
}

int sqllex_value(const char *s, const struct sqllex_token *tok, struct dp_buf *out)
{
    const char *p = s + tok->start;
    size_t n = tok->len, mark = out->len;
    if (tok->bad || out->failed)
        return -1;
    int rc = 0;
    switch (tok->kind) {
    case SQLLEX_IDENT:
        for (size_t i = 0; i < n; i++)
            dp_buf_byte(out, p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] | 0x20) : p[i]);
        break;
    case SQLLEX_QIDENT:
    case SQLLEX_STRING:
        if (*p == 'N' || *p == 'n')
            p++, n--;
        if (*p == '"' || *p == '\'')
            add_undoubled(out, p + 1, n - 2, *p);
        else if (*p == 'E' || *p == 'e')
            rc = add_unescaped(out, p + 2, n - 3);
        else
            rc = -1; /* B'', X'', U&: not plain text */
        break;
    case SQLLEX_DOLLAR: {
        size_t tl = (size_t)((const char *)memchr(p + 1, '$', n - 1) - p) + 1;
        dp_buf_add(out, p + tl, n - 2 * tl);
        break;
    }
    default: rc = -1;
    }
    if (rc != 0 || out->failed) {
        if (!out->failed)
            dp_buf_truncate(out, mark);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------- write targets */

/* Whether tok is one of the bare words of list (upper case, NULL-ended). */
static bool word_among(const char *s, const struct sqllex_token *tok, const char *const *list)
{
    for (; tok->kind == SQLLEX_IDENT && *list; list++)
        if (sqllex_is_word(s, tok, *list))
            return true;
    return false;
}

bool sqllex_write_target(const char *sql, char *schema, size_t sn, char *table, size_t tn)
{
    static const char *const verbs[] = {"INSERT", "UPDATE", "DELETE", "COPY", "MERGE", "TRUNCATE", NULL};
    static const char *const ddl[] = {"ALTER", "DROP", NULL};
    static const char *const fillers[] = {"OR",    "REPLACE", "IGNORE", "INTO",   "FROM",
                                          "TABLE", "ONLY",    "IF",     "EXISTS", NULL};
    struct sqllex lx;
    struct sqllex_token tok;
    sqllex_init(&lx, sql, strlen(sql));
    int depth = 0;
    bool after_verb = false;
    while (sqllex_next(&lx, &tok)) {
        char c = sql[tok.start];
        if (!after_verb && tok.kind == SQLLEX_PUNCT && (c == '(' || c == ')')) {
            depth += c == '(' ? 1 : -1;
            continue;
        }
        if (depth)
            continue;
        if (!after_verb) {
            if (word_among(sql, &tok, ddl)) { /* ALTER TABLE, DROP TABLE; not a view or an index */
                struct sqllex_token next;
                if (!sqllex_next(&lx, &next) || !sqllex_is_word(sql, &next, "TABLE"))
                    return false;
                after_verb = true;
            } else {
                after_verb = word_among(sql, &tok, verbs);
            }
            continue;
        }
        if (word_among(sql, &tok, fillers))
            continue;
        /* a.b.c: the last part names the table, the one before it the schema */
        char parts[2][128] = {"", ""};
        for (;;) {
            if (tok.kind != SQLLEX_IDENT && tok.kind != SQLLEX_QIDENT)
                return false;
            struct dp_buf v = DP_BUF_INIT;
            int rc = sqllex_value(sql, &tok, &v);
            memcpy(parts[0], parts[1], sizeof parts[0]);
            snprintf(parts[1], sizeof parts[1], "%s", rc == 0 && v.data ? v.data : "");
            dp_buf_free(&v);
            if (rc != 0)
                return false;
            struct sqllex at = lx;
            struct sqllex_token dot;
            if (!sqllex_next(&lx, &dot) || dot.kind != SQLLEX_PUNCT || sql[dot.start] != '.' ||
                !sqllex_next(&lx, &tok)) {
                lx = at;
                break;
            }
        }
        snprintf(table, tn, "%s", parts[1]);
        snprintf(schema, sn, "%s", parts[0]);
        return true;
    }
    return false;
}
