/*
 * test_sqllex.c -- the one SQL lexer: token kinds and ends for every
 * quoting form (E'..' with backslashes, standard strings without, $tag$
 * quotes, "" in quoted names), nested and "--" comments, numbers that
 * never take letters, operators, unterminated input, statement splitting
 * (checked against DuckDB's own splitter), and the values of tokens.
 * Every text is lexed from a copy of exactly its length, so a read past
 * the end shows under ASan.
 */
#include <stdarg.h>
#include <stdbool.h>

#include "duckdb.h"
#include "sqllex.h"

#include "testlib.h"

#define MAX_TOKS 64

struct lexed {
    char *text; /* a copy of exactly len bytes, no NUL after it */
    size_t len;
    struct sqllex_token v[MAX_TOKS];
    int n;
    bool bad;
};

/* Lexes sql into *out; false when it holds more than MAX_TOKS tokens. */
static bool lex(const char *sql, struct lexed *out)
{
    out->len = strlen(sql);
    out->text = malloc(out->len ? out->len : 1);
    if (!out->text)
        return false;
    memcpy(out->text, sql, out->len);
    struct sqllex lx;
    sqllex_init(&lx, out->text, out->len);
    out->n = 0;
    while (out->n < MAX_TOKS && sqllex_next(&lx, &out->v[out->n]))
        out->n++;
    out->bad = lx.bad;
    return out->n < MAX_TOKS;
}

/* Token i is of kind with exactly the text want. */
static bool tok_is(const struct lexed *l, int i, enum sqllex_kind kind, const char *want)
{
    if (i >= l->n) {
        fprintf(stderr, "    no token %d\n", i);
        return false;
    }
    const struct sqllex_token *t = &l->v[i];
    if (t->kind == kind && t->len == strlen(want) && memcmp(l->text + t->start, want, t->len) == 0)
        return true;
    fprintf(stderr, "    token %d: kind %d%s [%.*s], want kind %d [%s]\n", i, (int)t->kind,
            t->bad ? " bad" : "", (int)t->len, l->text + t->start, (int)kind, want);
    return false;
}

/* The tokens are exactly those given, then NULL: each a kind letter (I
 * word, Q quoted name, S string, D dollar quote, $ parameter, N number,
 * O operator, P punctuation) and the token's text ("$$1" is the parameter $1). */
static bool tokens_are(const struct lexed *l, ...)
{
    static const char kinds[] = "IQSD$NOP"; /* in enum sqllex_kind's order */
    va_list ap;
    va_start(ap, l);
    int i = 0;
    bool ok = true;
    for (const char *w; ok && (w = va_arg(ap, const char *)); i++)
        ok = tok_is(l, i, (enum sqllex_kind)(strchr(kinds, *w) - kinds), w + 1);
    va_end(ap);
    if (ok && i != l->n)
        fprintf(stderr, "    %d tokens, want %d\n", l->n, i);
    return ok && i == l->n;
}

static void test_words_numbers_operators(void)
{
    struct lexed l;
    CHECK(lex("SELECT a1$b, _x, caf\xc3\xa9 FROM t WHERE n >= 1_000 AND f < .5e-3 || 1.", &l));
    CHECK(tokens_are(&l, "ISELECT", "Ia1$b", "P,", "I_x", "P,", "Icaf\xc3\xa9", "IFROM", "It", "IWHERE", "In",
                     "O>=", "N1_000", "IAND", "If", "O<", "N.5e-3", "O||", "N1.", NULL));
    CHECK(!l.bad);
    free(l.text);

    /* a number never takes letters: DuckDB reads 1abc as 1 abc, 1e as 1 e, 0x1F as 0 x1F */
    CHECK(lex("1abc 1e 1e+ 0x1F 1__0 1..2 1.2.3 3e5x", &l));
    CHECK(tokens_are(&l, "N1", "Iabc", "N1", "Ie", "N1", "Ie", "O+", "N0", "Ix1F", "N1", "I__0", "N1", "P.",
                     "N.2", "N1.2", "N.3", "N3e5", "Ix", NULL));
    free(l.text);

    /* operators by PostgreSQL's rules: a+-1 is a + -1; ~* and !~ whole; :: one token */
    CHECK(lex("a+-1 b ~* c !~ d @- e x::int[] f:g", &l));
    CHECK(tokens_are(&l, "Ia", "O+", "O-", "N1", "Ib", "O~*", "Ic", "O!~", "Id", "O@-", "Ie", "Ix",
                     "O::", "Iint", "P[", "P]", "If", "P:", "Ig", NULL));
    free(l.text);
}

static void test_strings_and_quoted_names(void)
{
    struct lexed l;
    /* standard strings take a backslash as it is; E'' strings escape with it */
    CHECK(lex("'a\\' || 'it''s' E'x\\'y' e'\\\\' xE'\\' \"a\"\"b\" N'n' B'101' X'ff' U&'u' U&\"v\"", &l));
    CHECK(tokens_are(&l, "S'a\\'", "O||", "S'it''s'", "SE'x\\'y'", "Se'\\\\'",
                     "IxE", /* not an E prefix: a word that ends in E */
                     "S'\\'", "Q\"a\"\"b\"", "SN'n'", "SB'101'", "SX'ff'", "SU&'u'", "QU&\"v\"", NULL));
    CHECK(!l.bad);
    free(l.text);

    /* DuckDB reads 1e'x' as 1 and the E string e'x' */
    CHECK(lex("1e'\\';'", &l));
    CHECK(tokens_are(&l, "N1", "Se'\\';'", NULL));
    free(l.text);
}

static void test_dollar_quotes_and_params(void)
{
    struct lexed l;
    CHECK(lex("$$a'b$$ $t$ $$ ; $t$ $1 a$$b 1$$x$$ $\xc3\xa9$x$\xc3\xa9$ $12$", &l));
    CHECK(tokens_are(&l, "D$$a'b$$", "D$t$ $$ ; $t$", "$$1", "Ia$$b",
                     "N1", /* DuckDB: 1, then a dollar quote */
                     "D$$x$$", "D$\xc3\xa9$x$\xc3\xa9$", "$$12", "P$", NULL));
    CHECK(l.v[8].bad && l.bad); /* a '$' that opens nothing */
    for (int i = 0; i < 8; i++)
        CHECK(!l.v[i].bad);
    CHECK_EQ_INT(l.n, 9);
    free(l.text);
}

static void test_comments_and_space(void)
{
    struct lexed l;
    CHECK(lex("/* a /* nested ; */ still */ x -- c ; y\ry\n-- z\nw */* q */ 3\f4", &l));
    CHECK(tokens_are(&l, "Ix", "Iy",     /* a carriage return ends a -- comment, as in DuckDB */
                     "Iw", "O*",         /* an operator stops where a comment starts */
                     "N3", "N4", NULL)); /* form feed is space */
    CHECK(!l.bad);
    free(l.text);
    /* a vertical tab is not space to DuckDB */
    CHECK(lex("a\vb", &l));
    CHECK_EQ_INT(l.n, 3);
    CHECK(tok_is(&l, 1, SQLLEX_PUNCT, "\v"));
    free(l.text);
    CHECK_EQ_INT(sqllex_skip_space(" -- x", 5, 0, NULL), 5);
    bool bad = false;
    CHECK_EQ_INT(sqllex_skip_space("/* /* */", 8, 0, &bad), 8);
    CHECK(bad);
}

/* Unterminated items run to the end and are flagged; nothing past len is read. */
static void test_unterminated(void)
{
    static const char *const texts[] = {"select 'abc",      "select \"ab\"\"", "select E'ab\\'",
                                        "select $q$ ab $q", "select U&'x",     "select b'1"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct lexed l;
        CHECK(lex(texts[i], &l));
        CHECK(l.bad);
        CHECK_EQ_INT(l.n, 2);
        CHECK(l.v[1].bad);
        CHECK_EQ_INT(l.v[1].start + l.v[1].len, l.len);
        CHECK(!l.v[0].bad);
        free(l.text);
    }
    struct lexed l;
    CHECK(lex("select 1 /* /* */", &l)); /* an unterminated comment: no token, the lexer bad */
    CHECK(l.bad && l.n == 2 && !l.v[1].bad);
    free(l.text);
    /* a terminated text cut short by len */
    struct sqllex_token t;
    CHECK_EQ_INT(sqllex_token("'ab' x", 3, 0, &t), 3);
    CHECK(t.bad && t.kind == SQLLEX_STRING);
}

/* Statements in order, each with its leading space, empty ones passed over. */
static void test_statements(void)
{
    struct lexed l;
    CHECK(lex("select 1;  select ';' ; ; -- c ;\n/* ; */ ;select $$;$$;;  \n  ", &l));
    struct sqllex lx;
    sqllex_init(&lx, l.text, l.len);
    size_t at, len;
    const char *want[] = {"select 1", "  select ';' ", "select $$;$$"};
    for (int i = 0; i < 3; i++) {
        CHECK(sqllex_next_statement(&lx, &at, &len));
        CHECK_EQ_INT(len, strlen(want[i]));
        CHECK(memcmp(l.text + at, want[i], len) == 0);
    }
    CHECK(!sqllex_next_statement(&lx, &at, &len));
    free(l.text);
    /* the last one needs no ';', and a text of comments has none */
    CHECK(lex("a; b -- end", &l));
    sqllex_init(&lx, l.text, l.len);
    CHECK(sqllex_next_statement(&lx, &at, &len));
    CHECK(sqllex_next_statement(&lx, &at, &len));
    CHECK(len == 9 && memcmp(l.text + at, " b -- end", 9) == 0);
    CHECK(!sqllex_next_statement(&lx, &at, &len));
    free(l.text);
    sqllex_init(&lx, "/* x */ -- y", 12);
    CHECK(!sqllex_next_statement(&lx, &at, &len));
}

/* The same texts split by DuckDB's own parser: as many statements. */
static void test_split_agrees_with_duckdb(void)
{
    static const char *const texts[] = {
        "select 'a;b'; select 2",
        "select E'a\\';b'; select 1",
        "select 'a\\'; select 2",
        "select $$;$$; select $x$ $$; $x$",
        "select 1 /* ; /* ; */ ; */; select 2",
        "select 1 -- ;\r; select 2",
        "select \"a;\"\"b\" from (select 1 as \"a;\"\"b\"); select 3",
        "select 1 as a$$b; select 2 as \"$$\"",
        "select 2 */* ; */ 3; select e'\\\\'; select 4",
    };
    duckdb_database db;
    duckdb_connection con;
    CHECK(duckdb_open(NULL, &db) == DuckDBSuccess);
    CHECK(duckdb_connect(db, &con) == DuckDBSuccess);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        duckdb_extracted_statements ex = NULL;
        idx_t theirs = duckdb_extract_statements(con, texts[i], &ex);
        duckdb_destroy_extracted(&ex);
        struct sqllex lx;
        size_t at, len, ours = 0;
        sqllex_init(&lx, texts[i], strlen(texts[i]));
        while (sqllex_next_statement(&lx, &at, &len))
            ours++;
        if (ours != theirs || theirs == 0)
            fprintf(stderr, "    %s: %zu statements, DuckDB %llu\n", texts[i], ours,
                    (unsigned long long)theirs);
        CHECK(theirs > 0 && ours == theirs);
    }
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

/* The value of the first token of sql, or NULL when sqllex_value refuses it. */
static char *value_of(const char *sql)
{
    struct sqllex_token t;
    size_t n = strlen(sql);
    sqllex_token(sql, n, sqllex_skip_space(sql, n, 0, NULL), &t);
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_str(&b, "<");
    if (sqllex_value(sql, &t, &b) != 0) {
        bool untouched = b.len == 1;
        dp_buf_free(&b);
        return untouched ? NULL : strdup("appended on failure");
    }
    char *s = dp_buf_take(&b, NULL);
    memmove(s, s + 1, strlen(s)); /* drop the "<" that shows it appends */
    return s;
}

static bool value_is(const char *sql, const char *want)
{
    char *v = value_of(sql);
    bool ok = want ? v && strcmp(v, want) == 0 : v == NULL;
    if (!ok)
        fprintf(stderr, "    value of %s: %s, want %s\n", sql, v ? v : "(refused)",
                want ? want : "(refused)");
    free(v);
    return ok;
}

static void test_values(void)
{
    CHECK(value_is("FooBar_1", "foobar_1"));
    CHECK(value_is("\xc3\x84Z", "\xc3\x84z")); /* only ASCII letters fold */
    CHECK(value_is("\"Foo\"\"Bar\"", "Foo\"Bar"));
    CHECK(value_is("'it''s \\n'", "it's \\n"));
    CHECK(value_is("n'x'", "x"));
    CHECK(value_is("E'a\\tb\\x41\\101\\q\\\\\\'x'''", "a\tbAAq\\'x'"));
    CHECK(value_is("e'\\b\\f\\n\\r\\x4g'", "\b\f\n\r\x04g"));
    CHECK(value_is("  $t$ a'b $$ $t$", " a'b $$ "));
    CHECK(value_is("$$$$", ""));
    /* what DuckDB refuses, and what is not plain text */
    CHECK(value_is("E'\\0'", NULL));
    CHECK(value_is("E'\\400'", NULL));
    CHECK(value_is("E'\\xC3\\xA9'", NULL));
    CHECK(value_is("E'\\u0041'", NULL));
    CHECK(value_is("B'101'", NULL));
    CHECK(value_is("U&'x'", NULL));
    CHECK(value_is("U&\"x\"", NULL));
    CHECK(value_is("42", NULL));
    CHECK(value_is("'open", NULL));
    CHECK(value_is("$1", NULL));
    struct sqllex_token t;
    sqllex_token("Values", 6, 0, &t);
    CHECK(sqllex_is_word("Values", &t, "VALUES") && sqllex_is_word("Values", &t, "values"));
    CHECK(!sqllex_is_word("Values", &t, "VALUE"));
    sqllex_token("\"VALUES\"", 8, 0, &t);
    CHECK(!sqllex_is_word("\"VALUES\"", &t, "VALUES"));
}

/* Keywords read one by one: upper-cased, consumed only when the next token is a bare word that fits. */
static void test_next_word(void)
{
    const char *sql = "  start/* c */Transaction \"iso\" LEVEL$x abcdefghijklmnop";
    struct sqllex lx;
    char w[16], wide[17];
    sqllex_init(&lx, sql, strlen(sql));
    CHECK(sqllex_next_word(&lx, w, sizeof w) && !strcmp(w, "START"));
    CHECK(sqllex_next_word(&lx, w, sizeof w) && !strcmp(w, "TRANSACTION"));
    size_t at = lx.pos;
    CHECK(!sqllex_next_word(&lx, w, sizeof w) && !*w && lx.pos == at); /* a quoted name is not a keyword */
    struct sqllex_token tok;
    CHECK(sqllex_next(&lx, &tok) && tok.kind == SQLLEX_QIDENT);
    CHECK(sqllex_next_word(&lx, w, sizeof w) && !strcmp(w, "LEVEL$X"));
    at = lx.pos;
    CHECK(!sqllex_next_word(&lx, w, sizeof w) && !*w && lx.pos == at); /* 16 bytes do not fit in 16 */
    CHECK(sqllex_next_word(&lx, wide, sizeof wide) && !strcmp(wide, "ABCDEFGHIJKLMNOP"));
    CHECK(!sqllex_next_word(&lx, w, sizeof w) && !*w);
}

/* The table a write names: every verb, fillers, qualified and quoted names, a WITH's queries skipped. */
static void test_write_target(void)
{
    static const struct {
        const char *sql, *schema, *table; /* table NULL: none */
    } cases[] = {
        {"INSERT INTO t VALUES (1)", "", "t"},
        {"insert or replace into S.\"My T\" (a) select 1", "s", "My T"},
        {"INSERT OR IGNORE INTO db.s.t VALUES (1)", "s", "t"},
        {"UPDATE ONLY pg.accounts SET a = 1", "pg", "accounts"},
        {"delete from T where x", "", "t"},
        {"COPY trades FROM STDIN", "", "trades"},
        {"COPY (SELECT 1) TO STDOUT", NULL, NULL},
        {"MERGE INTO t USING u ON t.a = u.a WHEN MATCHED THEN DELETE", "", "t"},
        {"TRUNCATE TABLE pg.big", "pg", "big"},
        {"truncate big", "", "big"},
        {"ALTER TABLE IF EXISTS x.y ADD COLUMN c INT", "x", "y"},
        {"DROP TABLE IF EXISTS y", "", "y"},
        {"DROP VIEW v", NULL, NULL},
        {"ALTER VIEW v RENAME TO w", NULL, NULL},
        {"WITH k AS (SELECT * FROM a) UPDATE pg.b SET x = 1", "pg", "b"},
        {"WITH k AS (DELETE FROM inner_t RETURNING *) SELECT 1", NULL, NULL},
        {"SELECT * FROM t", NULL, NULL},
        {"/* c */ Insert /* c */ Into -- c\n t2 VALUES (1)", "", "t2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char schema[128] = "?", table[128] = "?";
        bool found = sqllex_write_target(cases[i].sql, schema, sizeof schema, table, sizeof table);
        if (!cases[i].table)
            CHECK(!found);
        else
            CHECK(found && !strcmp(schema, cases[i].schema) && !strcmp(table, cases[i].table));
    }
}

TEST_MAIN(TEST_ENTRY(test_words_numbers_operators), TEST_ENTRY(test_strings_and_quoted_names),
          TEST_ENTRY(test_dollar_quotes_and_params), TEST_ENTRY(test_comments_and_space),
          TEST_ENTRY(test_unterminated), TEST_ENTRY(test_statements),
          TEST_ENTRY(test_split_agrees_with_duckdb), TEST_ENTRY(test_values), TEST_ENTRY(test_next_word),
          TEST_ENTRY(test_write_target))
