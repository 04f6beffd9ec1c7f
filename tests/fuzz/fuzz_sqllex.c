/*
 * fuzz_sqllex.c -- libFuzzer driver for the SQL lexer.
 *
 * Feeds the input, exactly its own length and not NUL-terminated, to
 * sqllex and checks what its users rely on: tokens come in order, never
 * empty, never overlapping, inside the text, with nothing but white space
 * and comments between them; reading a token again from its start gives
 * the same token; a good string, quoted name or dollar quote ends with
 * its closing byte, a bad one runs to the end (or is a lone '$'); no
 * statement that sqllex_next_statement returns holds a ';' token; a
 * token's value is never longer than the token, and a refused one leaves
 * the buffer as it was.
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqllex.h"

/* Checks one token read at tok->start against its kind and the text of n bytes. */
static void check_token(const char *s, size_t n, const struct sqllex_token *tok, struct dp_buf *scratch)
{
    struct sqllex_token again;
    if (tok->len == 0 || tok->start + tok->len > n)
        abort();
    if (sqllex_token(s, n, tok->start, &again) != tok->start + tok->len || again.kind != tok->kind ||
        again.bad != tok->bad)
        abort();
    char last = s[tok->start + tok->len - 1];
    if (tok->bad) {
        bool lone_dollar = tok->kind == SQLLEX_PUNCT && tok->len == 1 && s[tok->start] == '$';
        if (!lone_dollar && tok->start + tok->len != n)
            abort();
    } else if ((tok->kind == SQLLEX_STRING && last != '\'') || (tok->kind == SQLLEX_QIDENT && last != '"') ||
               (tok->kind == SQLLEX_DOLLAR && last != '$')) {
        abort();
    }
    dp_buf_clear(scratch, 1 << 16);
    dp_buf_str(scratch, "<");
    int rc = sqllex_value(s, tok, scratch);
    if (rc == 0 ? scratch->len > 1 + tok->len : scratch->len != 1)
        abort();
}

/* Checks that the statement at [at, at + len) of s holds no ';' token and at least one token. */
static void check_statement(const char *s, size_t n, size_t at, size_t len)
{
    struct sqllex lx;
    struct sqllex_token tok;
    size_t count = 0;
    if (at + len > n)
        abort();
    sqllex_init(&lx, s, at + len);
    lx.pos = at;
    while (sqllex_next(&lx, &tok)) {
        if (tok.kind == SQLLEX_PUNCT && s[tok.start] == ';')
            abort();
        count++;
    }
    if (count == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct sqllex lx;
    struct sqllex_token tok;
    struct dp_buf scratch = DP_BUF_INIT;
    size_t prev_end = 0;
    sqllex_init(&lx, s, size);
    while (sqllex_next(&lx, &tok)) {
        if (tok.start < prev_end || sqllex_skip_space(s, size, prev_end, NULL) != tok.start)
            abort();
        check_token(s, size, &tok, &scratch);
        prev_end = tok.start + tok.len;
    }
    if (sqllex_skip_space(s, size, prev_end, NULL) != size)
        abort();
    dp_buf_free(&scratch);

    size_t at, len, last_end = 0;
    sqllex_init(&lx, s, size);
    while (sqllex_next_statement(&lx, &at, &len)) {
        if (at < last_end)
            abort();
        check_statement(s, size, at, len);
        last_end = at + len;
    }

    /* the write-target finder reads a C string: the input up to its first NUL */
    char *text = strndup(s, size);
    char schema[128], table[128];
    if (text && sqllex_write_target(text, schema, sizeof schema, table, sizeof table) &&
        (strlen(schema) >= sizeof schema || strlen(table) >= sizeof table))
        abort();
    free(text);
    return 0;
}
