/*
 * test_copy.c -- COPY without a server: the statement's options
 * (copy_parse) and the rewriting of PostgreSQL's text and CSV formats into
 * the CSV DuckDB reads (copy_csv.c): escapes, quoting, NULL's text and
 * FORCE_NULL / FORCE_NOT_NULL, HEADER and HEADER MATCH, the end marker,
 * CRLF, field counts, UTF-8, line numbers as PostgreSQL counts them, and
 * the same output whatever the CopyData chunks' cuts.
 */
#include "copy.h"
#include "copy_csv.h"
#include "copy_format.h"
#include "pgwire.h"

#include "testlib.h"

static const char *const names3[] = {"a", "b", "c"};

/* The rewritten stream and the error of one conversion. */
struct result {
    int rc;
    char out[4096];
    struct copy_csv_error err;
    uint64_t line_of[8]; /* PostgreSQL's line of records 1..7 */
};

/*
 * Rewrites input under the COPY statement sql for ncols columns (names3),
 * fed in chunks of chunk bytes (0: whole). Each chunk is a copy of exactly
 * its bytes, so a read past its end shows under ASan.
 */
static struct result convert(const char *sql, int ncols, const char *input, size_t chunk)
{
    struct result r = {0};
    struct copy_spec *c = NULL;
    char err[256];
    if (copy_parse(sql, &c, err, sizeof err) != 1) {
        r.rc = -2;
        snprintf(r.out, sizeof r.out, "parse: %s", err);
        return r;
    }
    struct copy_csv cv;
    struct dp_buf out = DP_BUF_INIT;
    r.rc = copy_csv_init(&cv, c, ncols, names3);
    size_t n = strlen(input), step = chunk ? chunk : (n ? n : 1);
    for (size_t i = 0; r.rc == 0 && i < n; i += step) {
        size_t k = i + step > n ? n - i : step;
        char *piece = malloc(k);
        memcpy(piece, input + i, k);
        r.rc = copy_csv_feed(&cv, piece, k, &out);
        free(piece);
    }
    if (r.rc == 0)
        r.rc = copy_csv_finish(&cv, &out);
    snprintf(r.out, sizeof r.out, "%s", out.data ? out.data : "");
    r.err = cv.err;
    for (uint64_t rec = 1; rec < 8; rec++)
        r.line_of[rec] = copy_csv_line_of(&cv, rec);
    dp_buf_free(&out);
    copy_csv_free(&cv);
    copy_spec_free(c);
    return r;
}

/* The same input in every chunk size from 1 byte to whole gives the same result. */
static int same_in_chunks(const char *sql, int ncols, const char *input)
{
    struct result whole = convert(sql, ncols, input, 0);
    for (size_t chunk = 1; chunk < strlen(input); chunk++) {
        struct result r = convert(sql, ncols, input, chunk);
        if (r.rc != whole.rc || strcmp(r.out, whole.out) != 0 || r.err.line != whole.err.line) {
            fprintf(stderr, "    chunk %zu: rc %d out [%s], whole: rc %d out [%s]\n", chunk, r.rc, r.out,
                    whole.rc, whole.out);
            return 0;
        }
    }
    return 1;
}

static void test_parse_options(void)
{
    struct copy_spec *c = NULL;
    char err[256];
    CHECK_EQ_INT(
        copy_parse("COPY s.\"T\" (x, \"Y\") FROM STDIN WITH (FORMAT csv, HEADER match, DELIMITER ';', "
                   "NULL 'n', QUOTE '''', ESCAPE '\\', FORCE_NULL (x), FORCE_NOT_NULL (\"Y\"))",
                   &c, err, sizeof err),
        1);
    CHECK(c->csv && !c->binary && c->header && c->header_match && c->delim == ';' && c->quote == '\'');
    CHECK(c->escape == '\\' && !strcmp(c->null_str, "n") && !strcmp(c->schema, "s") &&
          !strcmp(c->table, "T"));
    CHECK(c->columns.n == 2 && !strcmp(c->columns.v[1], "Y"));
    CHECK(copy_names_has(&c->force_null, "X") && copy_names_has(&c->force_not_null, "y"));
    copy_spec_free(c);
    /* the old keyword form */
    CHECK_EQ_INT(
        copy_parse("copy t from stdin csv header delimiter as '|' force not null a, b", &c, err, sizeof err),
        1);
    CHECK(c->csv && c->header && c->delim == '|' && c->force_not_null.n == 2 && !strcmp(c->null_str, ""));
    copy_spec_free(c);
    CHECK_EQ_INT(copy_parse("COPY t FROM STDIN (FORMAT binary)", &c, err, sizeof err), 1);
    CHECK(c->binary);
    copy_spec_free(c);
    CHECK_EQ_INT(copy_parse("COPY t FROM STDIN BINARY", &c, err, sizeof err), 1);
    CHECK(c->binary);
    copy_spec_free(c);
    /* what PostgreSQL refuses */
    const char *bad[] = {
        "COPY t FROM STDIN (FORMAT binary, HEADER)",
        "COPY t FROM STDIN (DELIMITER 'ab')",
        "COPY t FROM STDIN (FORMAT csv, DELIMITER '\"')",
        "COPY t FROM STDIN (FORCE_NULL (a))",
        "COPY t TO STDOUT (FORMAT binary)",
        "COPY t FROM STDIN (FORMAT xml)",
        "COPY t FROM STDIN (DELIMITER 'a')",
        "COPY t FROM STDIN (HEADER maybe)",
        "COPY (SELECT 1) FROM STDIN",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (copy_parse(bad[i], &c, err, sizeof err) != -1)
            fprintf(stderr, "    accepted: %s\n", bad[i]);
        CHECK(c == NULL);
    }
    /* DuckDB's own COPY is not ours */
    CHECK_EQ_INT(copy_parse("COPY t FROM 'file.csv'", &c, err, sizeof err), 0);
}

static void test_text_format(void)
{
    const char *sql = "COPY t FROM STDIN";
    struct result r = convert(sql, 3, "1\tx\t2.5\n2\t\\N\t\\N\n", 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(!strcmp(r.out, "1\tx\t2.5\n2\t\\N\t\\N\n")); /* plain lines go as they are */
    /* escapes resolved; values that need it quoted; an empty value is an empty string */
    r = convert(sql, 3, "a\\tb\tsay \"hi\"\t\n\\\\N\t\\101\\x42\\7\tx\\\ny\n", 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(!strcmp(r.out, "\"a\tb\"\t\"say \"\"hi\"\"\"\t\"\"\n\"\\N\"\tAB\a\t\"x\ny\"\n"));
    /* a NULL given its own text, and the delimiter escaped */
    r = convert("COPY t FROM STDIN (NULL 'nil', DELIMITER '|')", 3, "nil|a\\|b|\\N\n", 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(!strcmp(r.out, "\\N|\"a|b\"|N\n")); /* \N is only an escaped N when NULL is not \N */
    /* the end marker ends the data; CRLF lines */
    r = convert(sql, 3, "1\t2\t3\r\n4\t5\t6\r\n\\.\r\nignored\n", 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(!strcmp(r.out, "1\t2\t3\n4\t5\t6\n"));
    /* the last line without its newline */
    r = convert(sql, 3, "1\t2\t3\n4\t5\t6", 0);
    CHECK(r.rc == 0 && !strcmp(r.out, "1\t2\t3\n4\t5\t6\n"));
    CHECK(same_in_chunks(sql, 3, "a\\tb\tsay \"hi\"\t\n\\\\N\t\\101\\x42\\7\tx\\\ny\n1\t2\t3\r\n"));
    CHECK(same_in_chunks(sql, 3, "1\t2\t3\r\n4\t5\t6\r\n\\.\r\nignored\n"));
}

static void test_text_errors(void)
{
    const char *sql = "COPY t FROM STDIN";
    struct result r = convert(sql, 3, "1\t2\t3\n4\t5\n", 0);
    CHECK_EQ_INT(r.rc, -1);
    CHECK(!strcmp(r.err.sqlstate, "22P04") && r.err.line == 2);
    CHECK(!strcmp(r.err.message, "missing data for column \"c\""));
    CHECK(!strcmp(r.err.context, ": \"4\t5\""));
    CHECK(!strcmp(r.out, "1\t2\t3\n")); /* nothing of the bad line */
    r = convert(sql, 3, "1\t2\t3\t4\n", 0);
    CHECK(r.rc == -1 && !strcmp(r.err.message, "extra data after last expected column") && r.err.line == 1);
    r = convert(sql, 3, "1\t2\t3\n1\t2\xff\t3\n", 0);
    CHECK(r.rc == -1 && !strcmp(r.err.sqlstate, "22021") && r.err.line == 2);
    CHECK(!strcmp(r.err.message, "invalid byte sequence for encoding \"UTF8\": 0xff"));
    r = convert(sql, 3, "1\t\\000\t3\n", 0); /* an escape that makes a NUL byte */
    CHECK(r.rc == -1 && !strcmp(r.err.sqlstate, "22021") && strstr(r.err.message, "0x00"));
    r = convert(sql, 3, "1\t2\t3\n4\t5\t6\r\n", 0); /* a CR where the first line set LF */
    CHECK(r.rc == -1 && !strcmp(r.err.message, "literal carriage return found in data") && r.err.line == 2);
    r = convert(sql, 3, "1\t2\t3\r\n4\t5\t6\n", 0);
    CHECK(r.rc == -1 && !strcmp(r.err.message, "literal newline found in data"));
    CHECK(same_in_chunks(sql, 3, "1\t2\t3\n1\t2\xe2\x82\t3\n"));
    /* a multi-byte character cut by a chunk is whole again */
    r = convert(sql, 3, "1\t\xc3\xa9\t3\n", 2);
    CHECK(r.rc == 0 && !strcmp(r.out, "1\t\xc3\xa9\t3\n"));
}

static void test_csv_format(void)
{
    const char *sql = "COPY t FROM STDIN (FORMAT csv)";
    /* unquoted empty is NULL, quoted "" the empty string; quotes and newlines inside quotes */
    struct result r = convert(sql, 3, "1,,\"\"\n\"a,b\",\"x\"\"y\",\"two\nlines\"\n", 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(!strcmp(r.out, "1,\\N,\"\"\n\"a,b\",\"x\"\"y\",\"two\nlines\"\n"));
    /* a quoted section inside a value, and \N that is only text in CSV */
    r = convert(sql, 3, "a\"b,c\"d,\\N,3\n", 0);
    CHECK(r.rc == 0 && !strcmp(r.out, "\"ab,cd\",\"\\N\",3\n"));
    /* FORCE_NULL: a quoted NULL text is NULL; FORCE_NOT_NULL: an unquoted one is not */
    r = convert("COPY t FROM STDIN (FORMAT csv, NULL 'x', FORCE_NULL (a), FORCE_NOT_NULL (b))", 3,
                "\"x\",x,x\n", 0);
    CHECK(r.rc == 0 && !strcmp(r.out, "\\N,x,\\N\n"));
    /* another escape, delimiter and quote */
    r = convert("COPY t FROM STDIN (FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\\')", 3,
                "'it\\'s';'a;b';'\"'\n", 0);
    CHECK(r.rc == 0 && !strcmp(r.out, "it's;\"a;b\";\"\"\"\"\n"));
    /* an escape before anything but a quote or itself is data */
    r = convert("COPY t FROM STDIN (FORMAT csv, QUOTE '''', ESCAPE '\\')", 1, "'a\\.b\\''\n", 0);
    CHECK(r.rc == 0 && !strcmp(r.out, "a\\.b'\n"));
    /* HEADER skipped; the end marker; CRLF */
    r = convert("COPY t FROM STDIN (FORMAT csv, HEADER)", 3, "a,b,c\r\n1,2,3\r\n\\.\r\n", 0);
    CHECK(r.rc == 0 && !strcmp(r.out, "1,2,3\n"));
    /* a one-column empty line is a NULL row, not a line DuckDB would skip */
    r = convert(sql, 1, "x\n\n\"\"\n", 0);
    CHECK(r.rc == 0 && !strcmp(r.out, "x\n\\N\n\"\"\n"));
    CHECK(same_in_chunks(sql, 3, "1,,\"\"\n\"a,b\",\"x\"\"y\",\"two\nlines\"\r\n"));
    CHECK(same_in_chunks("COPY t FROM STDIN (FORMAT csv, QUOTE '''', ESCAPE '\\')", 3,
                         "'it\\'s','a\\\\',''\n'\\\\','x\ny','\\''\n"));
}

static void test_csv_errors_and_lines(void)
{
    const char *sql = "COPY t FROM STDIN (FORMAT csv, HEADER)";
    /* PostgreSQL counts the header and the newlines inside quotes */
    struct result r = convert(sql, 3, "a,b,c\n1,\"x\ny\nz\",3\n4,5,6\n7,\"p\nq\",9\n10,11,12\n", 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.line_of[1], 4); /* record 1 ends on line 4 */
    CHECK_EQ_INT(r.line_of[2], 5);
    CHECK_EQ_INT(r.line_of[3], 7);
    CHECK_EQ_INT(r.line_of[4], 8);
    r = convert(sql, 3, "a,b,c\n1,\"x\ny\",3\n4,5\n", 0);
    CHECK(r.rc == -1 && r.err.line == 4 && !strcmp(r.err.message, "missing data for column \"c\""));
    r = convert(sql, 3, "a,b,c\n1,\"x,3\n", 0);
    CHECK(r.rc == -1 && !strcmp(r.err.message, "unterminated CSV quoted field"));
    r = convert("COPY t FROM STDIN (FORMAT csv)", 3, "1,2\r,3\n", 0);
    CHECK(r.rc == -1 && !strcmp(r.err.message, "unquoted carriage return found in data"));
    /* HEADER MATCH */
    r = convert("COPY t FROM STDIN (FORMAT csv, HEADER match)", 3, "a,b,c\n1,2,3\n", 0);
    CHECK(r.rc == 0 && !strcmp(r.out, "1,2,3\n"));
    r = convert("COPY t FROM STDIN (FORMAT csv, HEADER match)", 3, "a,x,c\n1,2,3\n", 0);
    CHECK(r.rc == -1 && r.err.line == 1 &&
          !strcmp(r.err.message, "column name mismatch in header line field 2: got \"x\", expected \"b\""));
    r = convert("COPY t FROM STDIN (FORMAT csv, HEADER match)", 3, "a,b\n", 0);
    CHECK(r.rc == -1 && strstr(r.err.message, "wrong number of fields in header line"));
    /* a line longer than the limit */
    struct copy_spec *c = NULL;
    char err[128];
    CHECK_EQ_INT(copy_parse("COPY t FROM STDIN", &c, err, sizeof err), 1);
    struct copy_csv cv;
    struct dp_buf out = DP_BUF_INIT;
    CHECK_OK(copy_csv_init(&cv, c, 1, names3));
    char *big = malloc(1 << 20);
    memset(big, 'x', 1 << 20);
    int rc = 0;
    for (int i = 0; i < 12 && rc == 0; i++)
        rc = copy_csv_feed(&cv, big, 1 << 20, &out);
    CHECK(rc == -1 && !strcmp(cv.err.sqlstate, "54000"));
    free(big);
    dp_buf_free(&out);
    copy_csv_free(&cv);
    copy_spec_free(c);
}

/* Feeds the pieces (NULL-ended) of one stream under sql; the result's code, the error in *err, and the largest output held. */
static int feed_pieces(const char *sql, const char *const *pieces, const size_t *lens,
                       struct copy_csv_error *err, size_t *out_cap)
{
    struct copy_spec *c = NULL;
    char msg[128];
    if (copy_parse(sql, &c, msg, sizeof msg) != 1)
        return -2;
    struct copy_csv cv;
    struct dp_buf out = DP_BUF_INIT;
    int rc = copy_csv_init(&cv, c, 1, names3);
    for (int i = 0; rc == 0 && pieces[i]; i++)
        rc = copy_csv_feed(&cv, pieces[i], lens[i], &out);
    if (rc == 0)
        rc = copy_csv_finish(&cv, &out);
    *err = cv.err;
    *out_cap = out.cap;
    dp_buf_free(&out);
    copy_csv_free(&cv);
    copy_spec_free(c);
    return rc;
}

/* A line past COPY_CSV_MAX_LINE is refused (54000) before it is copied, however it arrives. */
static void test_line_cap(void)
{
    size_t big = COPY_CSV_MAX_LINE + (1u << 20);
    char *line = malloc(big + 1);
    memset(line, 'x', big);
    line[big] = '\n';
    static const char *const sqls[] = {"COPY t FROM STDIN", "COPY t FROM STDIN (FORMAT csv)"};
    for (int k = 0; k < 2; k++) {
        struct copy_csv_error err;
        size_t cap;
        /* in one chunk, with its newline */
        const char *one[] = {line, NULL};
        size_t one_len[] = {big + 1};
        CHECK_EQ_INT(feed_pieces(sqls[k], one, one_len, &err, &cap), -1);
        CHECK(!strcmp(err.sqlstate, "54000") && err.line == 1);
        CHECK_STR_CONTAINS(err.message, "COPY line is longer than");
        CHECK(cap < (1u << 20)); /* nothing of it was written out */
        /* begun in one chunk, ended in the next */
        const char *two[] = {line, line + big / 2, NULL};
        size_t two_len[] = {big / 2, big - big / 2 + 1};
        CHECK_EQ_INT(feed_pieces(sqls[k], two, two_len, &err, &cap), -1);
        CHECK(!strcmp(err.sqlstate, "54000") && err.line == 1);
        CHECK_STR_CONTAINS(err.message, "COPY line is longer than");
        CHECK(cap < (1u << 20));
    }
    /* a line just under the limit is taken (its record, with the newline, is within DuckDB's) */
    line[COPY_CSV_MAX_LINE - 1] = '\n';
    const char *ok[] = {line, NULL};
    size_t ok_len[] = {COPY_CSV_MAX_LINE};
    struct copy_csv_error err;
    size_t cap;
    CHECK_EQ_INT(feed_pieces("COPY t FROM STDIN", ok, ok_len, &err, &cap), 0);
    free(line);
}

/* CSV's ESCAPE, both ways: inside quotes it escapes the quote and itself; elsewhere it is data. */
static void test_csv_escape_both_ways(void)
{
    const char *sql = "COPY t FROM STDIN (FORMAT csv, ESCAPE '\\')";
    struct result r = convert(sql, 3, "\"a\\\"b\",\"c\\\\d\",e\\f\n\"g\\\"\nh\",\"\\x\",\"\\\"\"\n", 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(!strcmp(r.out, "\"a\"\"b\",c\\d,e\\f\n\"g\"\"\nh\",\\x,\"\"\"\"\n"));
    CHECK_EQ_INT(r.line_of[2], 3); /* the escaped quote did not end the quoted newline's field */
    CHECK(same_in_chunks(sql, 3, "\"a\\\"b\",\"c\\\\d\",e\\f\n\"g\\\"\nh\",\"\\x\",\"\\\"\"\n"));
    /* COPY TO: a quoted value escapes its quotes and escapes; one with neither quote nor delimiter is as is */
    struct copy_spec *c = NULL;
    char err[128];
    CHECK_EQ_INT(copy_parse("COPY t TO STDOUT (FORMAT csv, ESCAPE '\\')", &c, err, sizeof err), 1);
    struct pgbuf out;
    pgbuf_init(&out);
    copy_put_field(&out, c, "a\"b\\c", 5);
    pgbuf_byte(&out, '|');
    copy_put_field(&out, c, "d\\e", 3);
    pgbuf_byte(&out, '|');
    copy_put_field(&out, c, "f,\\", 3);
    CHECK(out.len == 20 && !memcmp(out.data, "\"a\\\"b\\\\c\"|d\\e|\"f,\\\\\"", 20));
    pgbuf_free(&out);
    copy_spec_free(c);
}

TEST_MAIN(TEST_ENTRY(test_parse_options), TEST_ENTRY(test_text_format), TEST_ENTRY(test_text_errors),
          TEST_ENTRY(test_csv_format), TEST_ENTRY(test_csv_errors_and_lines), TEST_ENTRY(test_line_cap),
          TEST_ENTRY(test_csv_escape_both_ways))
