/*
 * test_sqlshape.c -- the INSERT shape scanner without a server: the key
 * and the lifted values of typical statements, what is left in the key,
 * what is refused, and keys that grow past the text's length (every
 * one-character literal becomes a two-byte marker).
 */
#include <stdint.h>

#include "sqllex.h"
#include "sqlshape.h"

#include "testlib.h"

/* Scans a copy of sql of exactly its length (no NUL after it), so a read past the end shows under ASan. */
static int scan(const char *sql, size_t len, struct sql_shape *sh)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -2;
    memcpy(copy, sql, len);
    int rc = sqlshape_scan(copy, len, sh);
    free(copy);
    return rc;
}

static int scan_str(const char *sql, struct sql_shape *sh)
{
    return scan(sql, strlen(sql), sh);
}

static bool key_is(const struct sql_shape *sh, const char *want)
{
    return sh->keylen == strlen(want) && memcmp(sh->key, want, sh->keylen) == 0;
}

static bool lit_int(const struct sql_shape *sh, int i, int row, int col, int64_t v)
{
    const struct sql_shape_lit *l = &sh->lits[i];
    return i < sh->nlits && l->row == row && l->col == col && l->value.kind == DUCKPOND_VALUE_INT64 &&
           l->value.u.i64 == v;
}

static bool lit_text(const struct sql_shape *sh, int i, int row, int col, const char *v)
{
    const struct sql_shape_lit *l = &sh->lits[i];
    return i < sh->nlits && l->row == row && l->col == col && l->value.kind == DUCKPOND_VALUE_TEXT &&
           l->value.u.text.len == strlen(v) && memcmp(l->value.u.text.ptr, v, strlen(v)) == 0;
}

static void test_lifts_ints_decimals_strings(void)
{
    struct sql_shape sh;
    CHECK_OK(scan_str("INSERT INTO t VALUES (1, -23, 4.50, 'it''s', '')", &sh));
    CHECK(key_is(&sh, "INSERT INTO t VALUES (\x01i, \x01i, \x01"
                      "d, \x01s, \x01s)"));
    CHECK_EQ_INT(sh.nrows, 1);
    CHECK_EQ_INT(sh.width, 5);
    CHECK_EQ_INT(sh.nlits, 5);
    CHECK(lit_int(&sh, 0, 0, 0, 1));
    CHECK(lit_int(&sh, 1, 0, 1, -23));
    CHECK(lit_text(&sh, 2, 0, 2, "4.50"));
    CHECK(lit_text(&sh, 3, 0, 3, "it's"));
    CHECK(lit_text(&sh, 4, 0, 4, ""));
    sqlshape_free(&sh);
    CHECK(sh.key == NULL && sh.buf == NULL && sh.lits == NULL);
}

static void test_decimal_text_and_bigint_range(void)
{
    struct sql_shape sh;
    CHECK_OK(scan_str("insert into t values (007.10, -0.00, -00.5, 999999999999999999, -999999999999999999, "
                      "'caf\xc3\xa9 \xf0\x9f\xa6\x86')",
                      &sh));
    CHECK(key_is(&sh, "insert into t values (\x01"
                      "d, \x01"
                      "d, \x01"
                      "d, \x01i, \x01i, \x01s)"));
    CHECK(lit_text(&sh, 0, 0, 0, "7.10"));
    CHECK(lit_text(&sh, 1, 0, 1, "0.00")); /* no sign on zero */
    CHECK(lit_text(&sh, 2, 0, 2, "-0.5"));
    CHECK(lit_int(&sh, 3, 0, 3, 999999999999999999LL));
    CHECK(lit_int(&sh, 4, 0, 4, -999999999999999999LL));
    CHECK(lit_text(&sh, 5, 0, 5, "caf\xc3\xa9 \xf0\x9f\xa6\x86"));
    sqlshape_free(&sh);
}

static void test_multi_row(void)
{
    struct sql_shape sh;
    CHECK_OK(scan_str("INSERT INTO s.t (a, b) VALUES (1, 'x'),\n  (2, 'y'), (-3,'z''')", &sh));
    CHECK(key_is(&sh, "INSERT INTO s.t (a, b) VALUES (\x01i, \x01s),\n  (\x01i, \x01s), (\x01i,\x01s)"));
    CHECK_EQ_INT(sh.nrows, 3);
    CHECK_EQ_INT(sh.width, 2);
    CHECK_EQ_INT(sh.nlits, 6);
    CHECK(lit_int(&sh, 0, 0, 0, 1));
    CHECK(lit_text(&sh, 1, 0, 1, "x"));
    CHECK(lit_int(&sh, 2, 1, 0, 2));
    CHECK(lit_text(&sh, 3, 1, 1, "y"));
    CHECK(lit_int(&sh, 4, 2, 0, -3));
    CHECK(lit_text(&sh, 5, 2, 1, "z'"));
    sqlshape_free(&sh);
}

/* Whatever is not a bare literal standing alone stays in the key as written. */
static void test_non_literals_stay_in_key(void)
{
    const char *sql = "INSERT INTO t VALUES (NULL, TRUE, 1::int, E'a\\'b', E'x'::text, 1e3, 1_000, -x, "
                      "f(1, 2), 1234567890123456789, 'a' || 'b', (3), .5, 1.)";
    struct sql_shape sh;
    CHECK_OK(scan_str(sql, &sh));
    CHECK(key_is(&sh, sql));
    CHECK_EQ_INT(sh.nlits, 0);
    CHECK_EQ_INT(sh.nrows, 1);
    CHECK_EQ_INT(sh.width, 14);
    sqlshape_free(&sh);

    CHECK_OK(scan_str("INSERT INTO t VALUES (now(), 5, $1, 'q')", &sh));
    CHECK(key_is(&sh, "INSERT INTO t VALUES (now(), \x01i, $1, \x01s)"));
    CHECK(lit_int(&sh, 0, 0, 1, 5));
    CHECK(lit_text(&sh, 1, 0, 3, "q"));
    sqlshape_free(&sh);
}

/* The one standard string of a cast or a typed literal is lifted, the type staying in the key; so is a signed number. */
static void test_lifts_casts_typed_and_signed(void)
{
    struct sql_shape sh;
    CHECK_OK(
        scan_str("INSERT INTO t VALUES ('2026-11-29T10:00:00.123456'::timestamp, TIMESTAMP '2024-01-01', "
                 "CAST('7' AS decimal(10, 2)), + 3, - 2.50, -/* c */4, 'x'::\"my type\"[], '\\x01'::bytea)",
                 &sh));
    CHECK(key_is(&sh,
                 "INSERT INTO t VALUES (\x01s::timestamp, TIMESTAMP \x01s, CAST(\x01s AS decimal(10, 2)), "
                 "+ \x01i, \x01"
                 "d, \x01i, \x01s::\"my type\"[], \x01s::bytea)"));
    CHECK_EQ_INT(sh.nlits, 8);
    CHECK(lit_text(&sh, 0, 0, 0, "2026-11-29T10:00:00.123456"));
    CHECK(lit_text(&sh, 1, 0, 1, "2024-01-01"));
    CHECK(lit_text(&sh, 2, 0, 2, "7"));
    CHECK(lit_int(&sh, 3, 0, 3, 3));
    CHECK(lit_text(&sh, 4, 0, 4, "-2.50"));
    CHECK(lit_int(&sh, 5, 0, 5, -4));
    CHECK(lit_text(&sh, 6, 0, 6, "x"));
    CHECK(lit_text(&sh, 7, 0, 7, "\\x01"));
    sqlshape_free(&sh);

    /* two strings, an operator beside the string, a sign on a sign or on a string: all stay */
    const char *kept = "INSERT INTO t VALUES (f('a', 'b'), 'x'::text || 'y', -'1', - -1, +-1, 1 + 2, "
                       "$$d$$::text, -1e3, 'a' 'b', ARRAY[1, 2])";
    CHECK_OK(scan_str(kept, &sh));
    CHECK(key_is(&sh, kept));
    CHECK_EQ_INT(sh.nlits, 0);
    CHECK_EQ_INT(sh.width, 10);
    sqlshape_free(&sh);

    /* the same statement with other values has the same key */
    struct sql_shape a, b;
    CHECK_OK(scan_str("insert into t values ('2026-01-01 00:00:00'::timestamp, -1.5, 'a')", &a));
    CHECK_OK(scan_str("insert into t values ('2027-12-31 23:59:59.999999'::timestamp, 22.25, 'it''s')", &b));
    CHECK(a.keylen == b.keylen && memcmp(a.key, b.key, a.keylen) == 0 && a.hash == b.hash);
    sqlshape_free(&a);
    sqlshape_free(&b);
}

static void test_comments_and_tail_kept(void)
{
    struct sql_shape sh;
    CHECK_OK(scan_str("/* lead */ INSERT INTO t VALUES /* c */ (1, -- note\n 'a' /* d */) RETURNING a", &sh));
    CHECK(
        key_is(&sh, "/* lead */ INSERT INTO t VALUES /* c */ (\x01i, -- note\n \x01s /* d */) RETURNING a"));
    CHECK(lit_int(&sh, 0, 0, 0, 1));
    CHECK(lit_text(&sh, 1, 0, 1, "a"));
    sqlshape_free(&sh);
}

/* Statements that differ only in their literals' values share a key and a hash. */
static void test_same_shape_same_key(void)
{
    struct sql_shape a, b, c;
    CHECK_OK(scan_str("INSERT INTO t VALUES (1, 'a', 2.5)", &a));
    CHECK_OK(scan_str("INSERT INTO t VALUES (-4242, 'bcd''e', 0.125)", &b));
    CHECK_OK(scan_str("INSERT INTO t VALUES ('1', 'a', 2.5)", &c));
    CHECK(a.keylen == b.keylen && memcmp(a.key, b.key, a.keylen) == 0);
    CHECK(a.hash == b.hash);
    CHECK(!(a.keylen == c.keylen && memcmp(a.key, c.key, a.keylen) == 0));
    CHECK(a.hash != c.hash);
    sqlshape_free(&a);
    sqlshape_free(&b);
    sqlshape_free(&c);
}

static void test_refused(void)
{
    static const char *bad[] = {
        "",
        "SELECT 1",
        "UPDATE t SET a = 1",
        "INSERT t VALUES (1)",
        "INSERT INTO t SELECT 1",
        "INSERT INTO t SELECT 'VALUES (1)'",
        "INSERT INTO t /* VALUES (1) */ DEFAULT VALUES",
        "INSERT INTO t VALUES 1",
        "INSERT INTO t VALUES",
        "INSERT INTO t VALUES (1, 2",
        "INSERT INTO t VALUES (1, (2)",
        "INSERT INTO t VALUES (1, 2), (3",
        "INSERT INTO t VALUES (1, 2),",
        "INSERT INTO t VALUES (1, 2), (3)",
        "INSERT INTO t VALUES (1), (2, 3)",
        "INSERT INTO t VALUES ('abc)",
        "INSERT INTO t VALUES ('\xff')",
        "INSERT INTO t VALUES ('\xc3')",
        "INSERT INTO t VALUES ('\xc0\xaf')",         /* overlong */
        "INSERT INTO t VALUES ('\xed\xa0\x80')",     /* a surrogate */
        "INSERT INTO t VALUES ('\xf4\x90\x80\x80')", /* past U+10FFFF */
        "INSERT INTO t VALUES (1, '\x01')",
        "INSERT INTO t VALUES (1) -- \x01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sql_shape sh;
        memset(&sh, 0x5a, sizeof sh);
        if (scan_str(bad[i], &sh) != -1) {
            fprintf(stderr, "    accepted: %s\n", bad[i]);
            CHECK(0);
        }
        CHECK(sh.key == NULL && sh.buf == NULL && sh.lits == NULL && sh.nlits == 0);
    }
}

/* A statement of exactly SQLSHAPE_MAX_TEXT bytes is scanned; one byte more is not. */
static void test_size_cap(void)
{
    size_t len = SQLSHAPE_MAX_TEXT;
    char *sql = malloc(len + 1);
    CHECK(sql != NULL);
    const char *head = "INSERT INTO t VALUES (1, '", *tail = "')";
    size_t fill = len - strlen(head) - strlen(tail);
    memcpy(sql, head, strlen(head));
    memset(sql + strlen(head), 'a', fill);
    memcpy(sql + strlen(head) + fill, tail, strlen(tail));
    struct sql_shape sh;
    CHECK_OK(scan(sql, len, &sh));
    CHECK_EQ_INT(sh.nlits, 2);
    CHECK_EQ_INT(sh.lits[1].value.u.text.len, fill);
    sqlshape_free(&sh);

    memmove(sql + strlen(head) + 1, sql + strlen(head), fill + strlen(tail));
    CHECK_EQ_INT(scan(sql, len + 1, &sh), -1);
    CHECK(sh.key == NULL);
    free(sql);
}

/* Builds "INSERT INTO t VALUES " then n items "(d)" or "d" (d = i % 10) joined by sep, in a row if one_row. */
static char *many_ones(int n, bool one_row, size_t *len)
{
    char *sql = malloc(32 + (size_t)n * 4);
    if (!sql)
        return NULL;
    size_t o = (size_t)sprintf(sql, "INSERT INTO t VALUES %s", one_row ? "(" : "");
    for (int i = 0; i < n; i++) {
        if (i)
            sql[o++] = ',';
        if (!one_row)
            sql[o++] = '(';
        sql[o++] = (char)('0' + i % 10);
        if (!one_row)
            sql[o++] = ')';
    }
    if (one_row)
        sql[o++] = ')';
    *len = o;
    return sql;
}

/* Every one-character literal becomes a two-byte marker: the key outgrows the text. */
static void test_key_longer_than_text(void)
{
    const char *sql = "INSERT INTO t VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9)";
    struct sql_shape sh;
    CHECK_OK(scan_str(sql, &sh));
    CHECK(key_is(
        &sh, "INSERT INTO t VALUES (\x01i),(\x01i),(\x01i),(\x01i),(\x01i),(\x01i),(\x01i),(\x01i),(\x01i)"));
    CHECK_EQ_INT(sh.keylen, strlen(sql) + 9);
    CHECK_EQ_INT(sh.nrows, 9);
    CHECK_EQ_INT(sh.width, 1);
    for (int i = 0; i < 9; i++)
        CHECK(lit_int(&sh, i, i, 0, i + 1));
    sqlshape_free(&sh);

    for (int shape = 0; shape < 2; shape++) {
        size_t len;
        char *text = many_ones(2000, shape == 0, &len);
        CHECK(text != NULL);
        CHECK_OK(scan(text, len, &sh));
        free(text);
        CHECK_EQ_INT(sh.nlits, 2000);
        CHECK_EQ_INT(sh.keylen, len + 2000);
        CHECK_EQ_INT(sh.nrows, shape == 0 ? 1 : 2000);
        CHECK_EQ_INT(sh.width, shape == 0 ? 2000 : 1);
        for (int i = 0; i < 2000; i++)
            CHECK(lit_int(&sh, i, shape == 0 ? 0 : i, shape == 0 ? i : 0, i % 10));
        CHECK(memcmp(sh.key + sh.keylen - 3, "\x01i)", 3) == 0);
        sqlshape_free(&sh);
    }
}

static void test_values_keyword_found(void)
{
    const char *target, *sql = "insert into \"values\" (values_x, \"VALUES\") values (1)";
    const char *v = sqlshape_insert_values_at(sql, strlen(sql), &target);
    CHECK(v != NULL);
    CHECK(strcmp(v, "values (1)") == 0);
    CHECK(strncmp(target, " \"values\"", 9) == 0);
    sql = "INSERT INTO t SELECT * FROM (VALUES (1))";
    CHECK(sqlshape_insert_values_at(sql, strlen(sql), &target) == NULL);
    sql = "INSERT INTO t_values SELECT $$ VALUES $$";
    CHECK(sqlshape_insert_values_at(sql, strlen(sql), &target) == NULL);
}

/* Stepping with skip_space and skip_item meets the very tokens sqllex
 * reads, so the session's statement splitting and the catalog rewriter
 * see the same strings, names and comments. */
static void test_skip_item_is_sqllex(void)
{
    const char *sql = "insert into \"a\"\"b\" values (E'x\\'; ', 'y\\', $q$ ; $q$, 1$$;$$, a$$b, 1e'\\'', "
                      "/* ; /* ; */ */ x -- ;\r ;";
    size_t n = strlen(sql);
    const char *end = sql + n, *p = sql;
    struct sqllex lx;
    struct sqllex_token tok;
    sqllex_init(&lx, sql, n);
    int count = 0;
    while ((p = sqlshape_skip_space(p, end)) < end) {
        CHECK(sqllex_next(&lx, &tok));
        CHECK_EQ_INT(p - sql, tok.start);
        p = sqlshape_skip_item(sql, p, end);
        CHECK_EQ_INT(p - sql, tok.start + tok.len);
        count++;
    }
    CHECK(!sqllex_next(&lx, &tok) && !lx.bad);
    CHECK_EQ_INT(count, 21);
    CHECK(*(end - 1) == ';');
    /* a quote right after a word-initial E is that E string's body (COPY steps onto it) */
    const char *e = "E'a\\'b' x";
    CHECK(strcmp(sqlshape_skip_item(e, e + 1, e + strlen(e)), " x") == 0);
    const char *w = "xE'a\\'b' x";
    CHECK(strcmp(sqlshape_skip_item(w, w + 2, w + strlen(w)), "b' x") == 0);
}

TEST_MAIN(TEST_ENTRY(test_lifts_ints_decimals_strings), TEST_ENTRY(test_decimal_text_and_bigint_range),
          TEST_ENTRY(test_multi_row), TEST_ENTRY(test_non_literals_stay_in_key),
          TEST_ENTRY(test_lifts_casts_typed_and_signed), TEST_ENTRY(test_comments_and_tail_kept),
          TEST_ENTRY(test_same_shape_same_key), TEST_ENTRY(test_refused), TEST_ENTRY(test_size_cap),
          TEST_ENTRY(test_key_longer_than_text), TEST_ENTRY(test_values_keyword_found),
          TEST_ENTRY(test_skip_item_is_sqllex))
