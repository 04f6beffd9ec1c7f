/*
 * sqlshape.c -- the shape of a plain INSERT, and the word-level reading
 * of SQL text the session does.
 *
 * The session scans SQL text without parsing it: to split a Query at
 * top-level semicolons, to read the leading words of SET, SHOW and
 * transaction statements, to find the VALUES keyword of an INSERT. The
 * lexing under all of that (white space and comments, quoted strings and
 * identifiers, E'...' and dollar-quoted strings) is common/sqllex.c, the
 * same the catalog rewriter uses; the sqlshape_skip_* calls here are its
 * pointer-style face for the session and COPY.
 *
 * On top of it, sqlshape_scan takes a plain "INSERT INTO x ... VALUES
 * (...), ..." apart into its shape: the text with every bare literal
 * (an integer, a plain decimal, a standard string) replaced by a marker,
 * and the literals' values. The session keys its cache of analysed
 * INSERT plans on the shape, so that statements differing only in their
 * literals are analysed by DuckDB once. The text comes from clients: the
 * scan is bounded (SQLSHAPE_MAX_TEXT), reads nothing outside the len
 * bytes it is given, and refuses, rather than guesses at, anything it
 * does not read completely. tests/fuzz/fuzz_sqlshape.c drives it.
 */
#include "sqlshape.h"
#include "buf.h"
#include "sqllex.h"
#include "utf8.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- lexing */

/* The session and COPY still read text through these; the lexing is sqllex's. */

const char *sqlshape_skip_space(const char *p, const char *end)
{
    return p + sqllex_skip_space(p, (size_t)(end - p), 0, NULL);
}

bool sqlshape_ident_char(char c)
{
    return sqllex_ident_char(c);
}

const char *sqlshape_read_word(const char *p, const char *end, char *buf, size_t n)
{
    p = sqlshape_skip_space(p, end);
    size_t i = 0;
    while (p < end && (isalpha((unsigned char)*p) || *p == '_' ||
                       (i > 0 && (isdigit((unsigned char)*p) || *p == '.')))) {
        if (i + 1 < n)
            buf[i++] = (char)toupper((unsigned char)*p);
        p++;
    }
    buf[i] = 0;
    return p;
}

/* A quote right after a word-initial E is the body of that E'...' string:
 * callers that step onto the quote themselves (COPY's option values) get
 * the backslash escapes counted. */
const char *sqlshape_skip_item(const char *start, const char *p, const char *end)
{
    struct sqllex_token tok;
    if (*p == '\'' && p > start && (p[-1] == 'e' || p[-1] == 'E') && (p - 1 == start || !sqllex_ident_char(p[-2])))
        p--;
    return start + sqllex_token(start, (size_t)(end - start), (size_t)(p - start), &tok);
}

/* Whether the token is the byte c (a bracket, comma, semicolon). */
static bool tok_is_char(const char *sql, const struct sqllex_token *tok, char c)
{
    return tok->kind == SQLLEX_PUNCT && sql[tok->start] == c;
}

const char *sqlshape_insert_values_at(const char *sql, size_t len, const char **target)
{
    const char *end = sql + len, *p;
    char w[16];
    p = sqlshape_read_word(sql, end, w, sizeof w);
    if (strcmp(w, "INSERT") != 0)
        return NULL;
    p = sqlshape_read_word(p, end, w, sizeof w);
    if (strcmp(w, "INTO") != 0)
        return NULL;
    *target = p;
    struct sqllex lx;
    struct sqllex_token tok;
    sqllex_init(&lx, sql, len);
    lx.pos = (size_t)(p - sql);
    int depth = 0;
    while (sqllex_next(&lx, &tok)) {
        depth += tok_is_char(sql, &tok, '(') ? 1 : tok_is_char(sql, &tok, ')') ? -1 : 0;
        if (depth == 0 && sqllex_is_word(sql, &tok, "VALUES"))
            return sql + tok.start;
    }
    return NULL;
}

/* -------------------------------------------------------------- shapes */

/* Makes *v the text buf[start..end) just stored, the buffer now used up to end; returns 1. */
static int lifted_text(duckpond_value *v, char *buf, size_t start, size_t end, size_t *bl)
{
    v->kind = DUCKPOND_VALUE_TEXT;
    v->u.text.ptr = buf + start;
    v->u.text.len = end - start;
    *bl = end;
    return 1;
}

/*
 * Reads a liftable literal at q: 1 with its value in *v (text stored at
 * buf + *bl) and *after set, 0 when q holds something else, -1 for an
 * unterminated string or a string that is not valid UTF-8.
 */
static int shape_literal(const char *sql, const char *q, const char *end, const char **after, duckpond_value *v,
                         char *buf, size_t *bl)
{
    if (q < end && *q == '\'' && (q == sql || !sqlshape_ident_char(q[-1]))) {
        size_t start = *bl, o = start;
        const char *i = q + 1;
        for (;; i++) {
            if (i >= end)
                return -1;
            if (*i == '\'') {
                if (i + 1 < end && i[1] == '\'') {
                    buf[o++] = *i++;
                    continue;
                }
                break;
            }
            buf[o++] = *i;
        }
        if (!dp_utf8_valid(buf + start, o - start))
            return -1;
        *after = i + 1;
        return lifted_text(v, buf, start, o, bl);
    }
    bool neg = q < end && *q == '-';
    const char *d = q + neg, *e = d;
    while (e < end && isdigit((unsigned char)*e))
        e++;
    size_t ni = (size_t)(e - d), nf = 0;
    if (ni == 0)
        return 0;
    const char *frac = NULL;
    if (e + 1 < end && *e == '.' && isdigit((unsigned char)e[1])) {
        frac = ++e;
        while (e < end && isdigit((unsigned char)*e))
            e++;
        nf = (size_t)(e - frac);
    }
    if ((e < end && (sqlshape_ident_char(*e) || *e == '.')) || ni + nf > 18)
        return 0; /* an exponent, an underscore, or wider than DuckDB's BIGINT-backed forms */
    *after = e;
    if (!frac) {
        int64_t x = 0;
        for (const char *c = d; c < d + ni; c++)
            x = x * 10 + (*c - '0');
        v->kind = DUCKPOND_VALUE_INT64;
        v->u.i64 = neg ? -x : x;
        return 1;
    }
    /* DuckDB reads it as a DECIMAL; the plan passes that as its text, as
     * plan_constant prints it: no leading zeros, the scale kept, no sign on zero */
    size_t start = *bl, o = start;
    bool zero = true;
    for (const char *c = d; c < e; c++)
        if (*c != '0' && *c != '.')
            zero = false;
    if (neg && !zero)
        buf[o++] = '-';
    const char *ip = d;
    while (ip < d + ni - 1 && *ip == '0')
        ip++;
    memcpy(buf + o, ip, (size_t)(d + ni - ip));
    o += (size_t)(d + ni - ip);
    buf[o++] = '.';
    memcpy(buf + o, frac, nf);
    o += nf;
    return lifted_text(v, buf, start, o, bl);
}

void sqlshape_free(struct sql_shape *sh)
{
    free(sh->key);
    free(sh->lits);
    free(sh->buf);
    memset(sh, 0, sizeof *sh);
}

/* Appends text to the shape's key (sized for the statement with every literal a marker). */
static void shape_key_add(struct sql_shape *sh, const char *p, size_t n)
{
    memcpy(sh->key + sh->keylen, p, n);
    sh->keylen += n;
}

/* Records a literal at (row, col) and puts its marker in the key. */
static int shape_add_literal(struct sql_shape *sh, int row, int col, const duckpond_value *v, char cls, size_t *cap)
{
    if (dp_grow(&sh->lits, cap, (size_t)sh->nlits + 1, sizeof *sh->lits) != 0)
        return -1;
    sh->lits[sh->nlits].row = row;
    sh->lits[sh->nlits].col = col;
    sh->lits[sh->nlits].value = *v;
    sh->nlits++;
    char marker[2] = {'\x01', cls};
    shape_key_add(sh, marker, 2);
    return 0;
}

/* Where a value that is not a liftable literal ends: at its top-level ',' or ')', else at end. */
static const char *value_end(const char *sql, const char *q, const char *end)
{
    struct sqllex lx;
    struct sqllex_token tok;
    int depth = 0;
    sqllex_init(&lx, sql, (size_t)(end - sql));
    lx.pos = (size_t)(q - sql);
    while (sqllex_next(&lx, &tok)) {
        if (depth == 0 && (tok_is_char(sql, &tok, ',') || tok_is_char(sql, &tok, ')')))
            return sql + tok.start;
        depth += tok_is_char(sql, &tok, '(') ? 1 : tok_is_char(sql, &tok, ')') ? -1 : 0;
    }
    return end;
}

/* The FNV-1a hash of n bytes. */
static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* See sqlshape.h. The key is sized for the text with every literal a
 * marker, the buffer for the text of every literal. */
int sqlshape_scan(const char *sql, size_t len, struct sql_shape *sh)
{
    memset(sh, 0, sizeof *sh);
    const char *target, *values;
    if (len > SQLSHAPE_MAX_TEXT || memchr(sql, '\x01', len) || !(values = sqlshape_insert_values_at(sql, len, &target)))
        return -1;
    const char *end = sql + len, *p = values + 6, *copied = sql;
    size_t bl = 0, cap = 0;
    /* a marker takes 2 bytes where a literal may have taken 1 */
    if (!(sh->key = malloc(2 * len + 2)) || !(sh->buf = malloc(len + 2)))
        goto fail;
    for (int row = 0;; row++) {
        p = sqlshape_skip_space(p, end);
        if (p >= end || *p != '(')
            goto fail;
        p++;
        int col = 0;
        for (;;) {
            const char *q = sqlshape_skip_space(p, end), *after = NULL, *e;
            duckpond_value v;
            size_t bl0 = bl;
            int m = shape_literal(sql, q, end, &after, &v, sh->buf, &bl);
            if (m < 0)
                goto fail;
            if (m == 1 && (e = sqlshape_skip_space(after, end)) < end && (*e == ',' || *e == ')')) {
                shape_key_add(sh, copied, (size_t)(q - copied));
                if (shape_add_literal(sh, row, col, &v, *q == '\'' ? 's' : v.kind == DUCKPOND_VALUE_INT64 ? 'i' : 'd', &cap) != 0)
                    goto fail;
                copied = after;
            } else {
                bl = bl0;
                e = value_end(sql, q, end);
            }
            if (e >= end)
                goto fail;
            p = e + 1;
            if (*e == ')')
                break;
            col++;
        }
        if (row == 0)
            sh->width = col + 1;
        else if (col + 1 != sh->width)
            goto fail;
        sh->nrows = row + 1;
        p = sqlshape_skip_space(p, end);
        if (p >= end || *p != ',')
            break;
        p++;
    }
    shape_key_add(sh, copied, (size_t)(end - copied));
    sh->hash = fnv1a(sh->key, sh->keylen);
    return 0;
fail:
    sqlshape_free(sh);
    return -1;
}
