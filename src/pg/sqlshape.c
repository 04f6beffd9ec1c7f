/*
 * sqlshape.c -- the shape of a plain INSERT, and the pointer-style
 * reading of SQL text COPY does.
 *
 * The session reads SQL text through common/sqllex.c (splitting a Query,
 * the words of SET, SHOW and transaction statements); COPY's option
 * parser steps through text with the sqlshape_skip_* calls here, the same
 * lexer's pointer-style face, and the plan finds an INSERT's VALUES
 * keyword with sqlshape_insert_values_at.
 *
 * On top of it, sqlshape_scan takes a plain "INSERT INTO x ... VALUES
 * (...), ..." apart into its shape: the text with each value's literal
 * (a signed integer or plain decimal, a standard string standing alone
 * or in a cast or typed literal) replaced by a marker, and the literals'
 * values. The session keys its cache of analysed INSERT plans on the
 * shape, so that statements differing only in their literals are
 * analysed by DuckDB once. The text comes from clients: the scan is
 * bounded (SQLSHAPE_MAX_TEXT), reads nothing outside the len bytes it is
 * given, and refuses, rather than guesses at, anything it does not read
 * completely. tests/fuzz/fuzz_sqlshape.c drives it.
 */
#include "sqlshape.h"
#include "buf.h"
#include "sqllex.h"
#include "utf8.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- lexing */

/* COPY still reads text through these; the lexing is sqllex's. */

const char *sqlshape_skip_space(const char *p, const char *end)
{
    return p + sqllex_skip_space(p, (size_t)(end - p), 0, NULL);
}

/* A quote right after a word-initial E is the body of that E'...' string:
 * callers that step onto the quote themselves (COPY's option values) get
 * the backslash escapes counted. */
const char *sqlshape_skip_item(const char *start, const char *p, const char *end)
{
    struct sqllex_token tok;
    if (*p == '\'' && p > start && (p[-1] == 'e' || p[-1] == 'E') &&
        (p - 1 == start || !sqllex_ident_char(p[-2])))
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
    struct sqllex lx;
    struct sqllex_token tok;
    char w[8];
    sqllex_init(&lx, sql, len);
    if (!sqllex_next_word(&lx, w, sizeof w) || strcmp(w, "INSERT") != 0 ||
        !sqllex_next_word(&lx, w, sizeof w) || strcmp(w, "INTO") != 0)
        return NULL;
    *target = sql + lx.pos;
    int depth = 0;
    while (sqllex_next(&lx, &tok)) {
        depth += tok_is_char(sql, &tok, '(') ? 1 : tok_is_char(sql, &tok, ')') ? -1 : 0;
        if (depth == 0 && sqllex_is_word(sql, &tok, "VALUES"))
            return sql + tok.start;
    }
    return NULL;
}

/* -------------------------------------------------------------- shapes */

/*
 * Reads a plain number (digits, then maybe '.' and digits: no exponent,
 * no underscore, at most 18 digits, as DuckDB reads an INTEGER, BIGINT
 * or DECIMAL of at most 18 digits) from the n bytes at d, negated when
 * neg: INT64, or a decimal's canonical text stored at buf + *bl (no
 * leading zeros, the scale kept, no sign on zero, as plan_constant prints
 * DuckDB's DECIMAL). Returns 1, or 0 when it is not such a number.
 */
static int plain_number(const char *d, size_t n, bool neg, duckpond_value *v, char *buf, size_t *bl)
{
    size_t ni = 0, nf = 0;
    while (ni < n && isdigit((unsigned char)d[ni]))
        ni++;
    if (ni < n && d[ni] == '.')
        while (ni + 1 + nf < n && isdigit((unsigned char)d[ni + 1 + nf]))
            nf++;
    if (ni == 0 || (ni < n && (d[ni] != '.' || nf == 0)) || ni + (nf ? 1 + nf : 0) != n || ni + nf > 18)
        return 0;
    if (!nf) {
        int64_t x = 0;
        for (size_t i = 0; i < ni; i++)
            x = x * 10 + (d[i] - '0');
        v->kind = DUCKPOND_VALUE_INT64;
        v->u.i64 = neg ? -x : x;
        return 1;
    }
    size_t o = *bl;
    bool zero = true;
    for (size_t i = 0; i < n; i++)
        if (d[i] != '0' && d[i] != '.')
            zero = false;
    if (neg && !zero)
        buf[o++] = '-';
    size_t lead = 0;
    while (lead + 1 < ni && d[lead] == '0')
        lead++;
    memcpy(buf + o, d + lead, n - lead);
    o += n - lead;
    v->kind = DUCKPOND_VALUE_TEXT;
    v->u.text.ptr = buf + *bl;
    v->u.text.len = o - *bl;
    *bl = o;
    return 1;
}

/* Stores the body of the standard string token tok ('' as ') at buf + *bl as *v: 1, or -1 when it is not UTF-8. */
static int plain_string(const char *sql, const struct sqllex_token *tok, duckpond_value *v, char *buf,
                        size_t *bl)
{
    size_t o = *bl;
    for (size_t i = tok->start + 1; i + 1 < tok->start + tok->len; i++) {
        buf[o++] = sql[i];
        if (sql[i] == '\'')
            i++;
    }
    if (!dp_utf8_valid(buf + *bl, o - *bl))
        return -1;
    v->kind = DUCKPOND_VALUE_TEXT;
    v->u.text.ptr = buf + *bl;
    v->u.text.len = o - *bl;
    *bl = o;
    return 1;
}

/* One value of a VALUES row, as far as lifting goes. */
struct value_scan {
    size_t end; /* where its closing ',' or ')' stands */
    int ntok, nstrings;
    bool names_only; /* every token but the strings is a name, a number, '::' or one of ( ) [ ] , . */
    struct sqllex_token first, second, string;
};

/* Whether tok may stand beside a lifted string: a type name and its modifiers, CAST ( ... AS ... ). */
static bool names_token(const char *sql, const struct sqllex_token *tok)
{
    switch (tok->kind) {
    case SQLLEX_IDENT:
    case SQLLEX_QIDENT:
    case SQLLEX_NUMBER: return true;
    case SQLLEX_OP: return tok->len == 2 && sql[tok->start] == ':';
    case SQLLEX_PUNCT: return strchr("()[],.", sql[tok->start]) != NULL;
    default: return false;
    }
}

/* Reads the value starting at pos up to its top-level ',' or ')': 0, or -1 when the text ends first or a token is bad. */
static int value_scan(const char *sql, size_t len, size_t pos, struct value_scan *v)
{
    struct sqllex lx;
    struct sqllex_token tok;
    int depth = 0;
    memset(v, 0, sizeof *v);
    v->names_only = true;
    sqllex_init(&lx, sql, len);
    lx.pos = pos;
    while (sqllex_next(&lx, &tok) && !tok.bad) {
        char c = tok.kind == SQLLEX_PUNCT ? sql[tok.start] : 0;
        if (depth == 0 && (c == ',' || c == ')')) {
            v->end = tok.start;
            return 0;
        }
        depth += (c == '(' || c == '[') - (c == ')' || c == ']');
        if (v->ntok == 0)
            v->first = tok;
        else if (v->ntok == 1)
            v->second = tok;
        v->ntok++;
        if (tok.kind == SQLLEX_STRING && sql[tok.start] == '\'') {
            v->nstrings++;
            v->string = tok;
        } else if (!names_token(sql, &tok)) {
            v->names_only = false;
        }
    }
    return -1;
}

/*
 * Lifts what the value v holds, if anything: a number with at most one
 * sign before it (a plus stays in the key), or the one standard string of a value that is
 * otherwise names (a cast or a typed literal: 'x'::timestamp, TIMESTAMP
 * 'x', CAST('x' AS t)). Returns 1 with *v and the lifted text's span
 * [*from, *to) set, 0 when nothing is lifted, -1 for a string that is not
 * UTF-8.
 */
static int shape_literal(const char *sql, const struct value_scan *vs, duckpond_value *v, char *buf,
                         size_t *bl, size_t *from, size_t *to, char *cls)
{
    const struct sqllex_token *num = NULL;
    bool neg = false;
    if (vs->ntok == 1 && vs->first.kind == SQLLEX_NUMBER)
        num = &vs->first;
    else if (vs->ntok == 2 && vs->first.kind == SQLLEX_OP && vs->first.len == 1 &&
             strchr("+-", sql[vs->first.start]) && vs->second.kind == SQLLEX_NUMBER)
        num = &vs->second, neg = sql[vs->first.start] == '-';
    if (num) {
        if (!plain_number(sql + num->start, num->len, neg, v, buf, bl))
            return 0;
        /* DuckDB folds a minus into the number; a plus is a call of "+", which a macro
         * may shadow, so it stays in the key and only the number is lifted */
        *from = neg ? vs->first.start : num->start;
        *to = num->start + num->len;
        *cls = v->kind == DUCKPOND_VALUE_INT64 ? 'i' : 'd';
        return 1;
    }
    if (vs->nstrings != 1 || !vs->names_only)
        return 0;
    *from = vs->string.start;
    *to = vs->string.start + vs->string.len;
    *cls = 's';
    return plain_string(sql, &vs->string, v, buf, bl);
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
static int shape_add_literal(struct sql_shape *sh, int row, int col, const duckpond_value *v, char cls,
                             size_t *cap)
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
    if (len > SQLSHAPE_MAX_TEXT || memchr(sql, '\x01', len) ||
        !(values = sqlshape_insert_values_at(sql, len, &target)))
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
            struct value_scan vs;
            duckpond_value v;
            size_t from, to;
            char cls;
            if (value_scan(sql, len, (size_t)(p - sql), &vs) != 0)
                goto fail;
            int m = shape_literal(sql, &vs, &v, sh->buf, &bl, &from, &to, &cls);
            if (m < 0)
                goto fail;
            if (m == 1) {
                shape_key_add(sh, copied, (size_t)(sql + from - copied));
                if (shape_add_literal(sh, row, col, &v, cls, &cap) != 0)
                    goto fail;
                copied = sql + to;
            }
            p = sql + vs.end + 1;
            if (sql[vs.end] == ')')
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
