/*
 * fuzz_sqlshape.c -- libFuzzer driver for the INSERT shape scanner.
 *
 * Feeds the input, exactly its own length and not NUL-terminated, to
 * sqlshape_scan, and on success checks what the session relies on: the
 * key fits its bound and carries one marker per literal, of the literal's
 * class; every literal lies inside the VALUES grid, in text order; every
 * text value lies inside the shape's buffer; the hash is the key's. And
 * stepping through the text with sqlshape_skip_space and skip_item, as
 * COPY does, meets exactly sqllex's tokens.
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqllex.h"
#include "sqlshape.h"

/* Checks one literal against its marker class and the shape's buffer (size len + 2). */
static void check_literal(const struct sql_shape *sh, const struct sql_shape_lit *l, char cls, size_t len)
{
    if (l->row < 0 || l->row >= sh->nrows || l->col < 0 || l->col >= sh->width)
        abort();
    if (cls == 'i') {
        if (l->value.kind != DUCKPOND_VALUE_INT64)
            abort();
        return;
    }
    if ((cls != 's' && cls != 'd') || l->value.kind != DUCKPOND_VALUE_TEXT)
        abort();
    const char *t = l->value.u.text.ptr;
    size_t n = l->value.u.text.len;
    if (t < sh->buf || t > sh->buf + len || n > (size_t)(sh->buf + len - t))
        abort();
    if (cls == 'd' && n == 0)
        abort();
}

/* The pointer-style stepping meets the lexer's tokens, start and end. */
static void check_stepping(const char *sql, size_t size)
{
    const char *end = sql + size, *p = sql;
    struct sqllex lx;
    struct sqllex_token tok;
    sqllex_init(&lx, sql, size);
    while ((p = sqlshape_skip_space(p, end)) < end) {
        if (!sqllex_next(&lx, &tok) || (size_t)(p - sql) != tok.start)
            abort();
        p = sqlshape_skip_item(sql, p, end);
        if ((size_t)(p - sql) != tok.start + tok.len)
            abort();
    }
    if (sqllex_next(&lx, &tok))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_stepping((const char *)data, size);
    struct sql_shape sh;
    if (sqlshape_scan((const char *)data, size, &sh) != 0) {
        if (sh.key || sh.buf || sh.lits || sh.nlits)
            abort(); /* a refused text leaves the shape empty */
        return 0;
    }
    if (sh.nrows < 1 || sh.width < 1 || sh.nlits < 0 || sh.nlits > sh.nrows * sh.width)
        abort();
    if (sh.keylen > size + (size_t)sh.nlits || sh.keylen > 2 * size)
        abort();
    uint64_t h = 1469598103934665603ull;
    int marker = 0;
    for (size_t i = 0; i < sh.keylen; i++) {
        h = (h ^ (unsigned char)sh.key[i]) * 1099511628211ull;
        if (sh.key[i] != '\x01')
            continue;
        if (marker >= sh.nlits || i + 1 >= sh.keylen)
            abort();
        const struct sql_shape_lit *l = &sh.lits[marker];
        if (marker > 0) {
            const struct sql_shape_lit *prev = &sh.lits[marker - 1];
            if (l->row < prev->row || (l->row == prev->row && l->col <= prev->col))
                abort();
        }
        check_literal(&sh, l, sh.key[i + 1], size);
        marker++;
    }
    if (marker != sh.nlits || h != sh.hash)
        abort();
    sqlshape_free(&sh);
    return 0;
}
