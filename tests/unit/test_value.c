/*
 * test_value.c -- the batcher's conversion of one value to a column's
 * type (src/lib/batcher/value.c), without a database: what converts by our
 * own rules, what is left to DuckDB's cast, and what can never be stored.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "batcher_int.h"
#include "testlib.h"

/* Text values live in one arena, as in a write. */
static char arena[4096];
static size_t arena_len;

static struct bval text(const char *s, size_t len)
{
    struct bval v = {.kind = DUCKPOND_VALUE_TEXT, .len = (uint32_t)len};
    v.u.off = arena_len;
    memcpy(arena + arena_len, s, len);
    arena_len += len;
    return v;
}

static struct bval str(const char *s) { return text(s, strlen(s)); }
static struct bval i64(int64_t x) { return (struct bval){.kind = DUCKPOND_VALUE_INT64, .u.i64 = x}; }
static struct bval f64(double x) { return (struct bval){.kind = DUCKPOND_VALUE_DOUBLE, .u.f64 = x}; }
static struct bval boolean(int x) { return (struct bval){.kind = DUCKPOND_VALUE_BOOL, .u.i64 = x != 0}; }
static struct bval ts(int64_t us) { return (struct bval){.kind = DUCKPOND_VALUE_TIMESTAMP, .u.i64 = us}; }

static enum conv_result conv(duckdb_type t, struct bval v, struct cval *out)
{
    memset(out, 0, sizeof *out);
    return batcher_convert(t, &v, arena, out);
}

/* Integers: every column width, both signs, the edges, and one past each edge (left to DuckDB). */
static void test_integers_fit_their_column(void)
{
    struct cval cv;
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TINYINT, i64(-128), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, -128);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TINYINT, i64(-129), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TINYINT, i64(128), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_UTINYINT, i64(255), &cv), CV_OK);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_UTINYINT, i64(-1), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_SMALLINT, i64(32767), &cv), CV_OK);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_SMALLINT, i64(32768), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_INTEGER, i64(INT32_MIN), &cv), CV_OK);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_INTEGER, i64((int64_t)INT32_MIN - 1), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_UINTEGER, i64(UINT32_MAX), &cv), CV_OK);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_BIGINT, i64(INT64_MIN), &cv), CV_OK);
    CHECK(cv.v.i == INT64_MIN);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_UBIGINT, str("18446744073709551615"), &cv), CV_OK);
    CHECK(cv.v.u == UINT64_MAX);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_UBIGINT, str("18446744073709551616"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_BIGINT, str("-9223372036854775808"), &cv), CV_OK);
    CHECK(cv.v.i == INT64_MIN);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_BIGINT, str("9223372036854775808"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_INTEGER, str("+42"), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, 42);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_INTEGER, str("-0"), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, 0);
    /* spellings our parser leaves to DuckDB's cast */
    CHECK_EQ_INT(conv(DUCKDB_TYPE_INTEGER, str(" 5"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_INTEGER, str("5.0"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_INTEGER, str(""), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_INTEGER, str("-"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_INTEGER, str("1_000"), &cv), CV_GENERIC);
    /* booleans and doubles into integer columns */
    CHECK_EQ_INT(conv(DUCKDB_TYPE_SMALLINT, boolean(1), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, 1);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_INTEGER, f64(1.0), &cv), CV_GENERIC);
}

/* Doubles, floats and booleans, as values and as text. */
static void test_doubles_and_booleans(void)
{
    struct cval cv;
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DOUBLE, str("-1.5e3"), &cv), CV_OK);
    CHECK(cv.v.d == -1500.0);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DOUBLE, str(".5"), &cv), CV_OK);
    CHECK(cv.v.d == 0.5);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DOUBLE, str("1e"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DOUBLE, str("nan"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DOUBLE, str("1e999"), &cv), CV_GENERIC); /* out of range: DuckDB says so */
    CHECK_EQ_INT(conv(DUCKDB_TYPE_FLOAT, str("1e39"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_FLOAT, f64(1e39), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_FLOAT, f64(INFINITY), &cv), CV_OK);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DOUBLE, i64(-3), &cv), CV_OK);
    CHECK(cv.v.d == -3.0);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_BOOLEAN, str("TRUE"), &cv), CV_OK);
    CHECK(cv.v.b);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_BOOLEAN, str("f"), &cv), CV_OK);
    CHECK(!cv.v.b);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_BOOLEAN, str("0"), &cv), CV_OK);
    CHECK(!cv.v.b);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_BOOLEAN, str("yes"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_BOOLEAN, i64(7), &cv), CV_OK);
    CHECK(cv.v.b);
}

/* Text for VARCHAR must be UTF-8; timestamps; types only DuckDB converts. */
static void test_text_timestamps_and_other_types(void)
{
    struct cval cv;
    CHECK_EQ_INT(conv(DUCKDB_TYPE_VARCHAR, str("h\xc3\xa9llo"), &cv), CV_OK);
    CHECK_EQ_INT(cv.slen, 6);
    CHECK(memcmp(cv.s, "h\xc3\xa9llo", 6) == 0);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_VARCHAR, text("a\0b", 3), &cv), CV_OK);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_VARCHAR, str("\xff\xfe"), &cv), CV_BAD);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_VARCHAR, i64(5), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIMESTAMP, ts(-1), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, -1);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIMESTAMP_TZ, ts(1700000000123456LL), &cv), CV_OK);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DATE, ts(0), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIMESTAMP, str("2024-01-02 03:04:05"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DECIMAL, str("1.25"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_UUID, str("00000000-0000-0000-0000-000000000000"), &cv), CV_GENERIC);
    /* which values need no check at all */
    CHECK(batcher_always_converts(DUCKDB_TYPE_DECIMAL, DUCKPOND_VALUE_NULL));
    CHECK(batcher_always_converts(DUCKDB_TYPE_UUID, DUCKPOND_VALUE_DEFAULT));
    CHECK(batcher_always_converts(DUCKDB_TYPE_BIGINT, DUCKPOND_VALUE_INT64));
    CHECK(!batcher_always_converts(DUCKDB_TYPE_INTEGER, DUCKPOND_VALUE_INT64));
    CHECK(!batcher_always_converts(DUCKDB_TYPE_VARCHAR, DUCKPOND_VALUE_TEXT)); /* UTF-8 is checked */
    CHECK(batcher_always_converts(DUCKDB_TYPE_TIMESTAMP_TZ, DUCKPOND_VALUE_TIMESTAMP));
    CHECK_EQ_INT(batcher_vector_width(DUCKDB_TYPE_INTEGER), 4);
    CHECK_EQ_INT(batcher_vector_width(DUCKDB_TYPE_VARCHAR), sizeof(duckdb_string_t));
    CHECK_EQ_INT(batcher_vector_width(DUCKDB_TYPE_DECIMAL), 0);
}

/* A whole row converts only when every value does, and never past MASK_COLS columns. */
static void test_rows(void)
{
    struct batcher_col cols[3] = {{"a", "BIGINT", DUCKDB_TYPE_BIGINT},
                                  {"b", "VARCHAR", DUCKDB_TYPE_VARCHAR},
                                  {"c", "DATE", DUCKDB_TYPE_DATE}};
    struct bval vals[6] = {i64(1), str("x"), {.kind = DUCKPOND_VALUE_NULL}, i64(2), str("y"), str("2024-01-01")};
    duckpond_write w = {.ncols = 3, .nrows = 2, .vals = vals, .text = arena};
    struct cval cv[MASK_COLS];
    CHECK(batcher_row_convert(cols, &w, 0, cv)); /* NULL needs nothing */
    CHECK_EQ_INT(cv[0].v.i, 1);
    CHECK(!batcher_row_convert(cols, &w, 1, cv)); /* a DATE from text is DuckDB's to cast */
    w.ncols = MASK_COLS + 1;
    CHECK(!batcher_row_convert(cols, &w, 0, cv));
}

/* Values as a message quotes them: text cut, bytes that do not print escaped. */
static void test_show_value(void)
{
    char buf[SHOW_MAX * 4 + 16];
    struct bval v = str("it's \x01");
    batcher_show_value(&v, arena, buf, sizeof buf);
    CHECK(strcmp(buf, "'it's \\x01'") == 0);
    char longer[SHOW_MAX + 10];
    memset(longer, 'z', sizeof longer);
    v = text(longer, sizeof longer);
    batcher_show_value(&v, arena, buf, sizeof buf);
    CHECK_EQ_INT(strlen(buf), SHOW_MAX + 5); /* quotes, the first SHOW_MAX bytes, "..." */
    CHECK_STR_CONTAINS(buf, "'...");
    v = i64(-7);
    batcher_show_value(&v, arena, buf, sizeof buf);
    CHECK(strcmp(buf, "-7") == 0);
    v = (struct bval){.kind = DUCKPOND_VALUE_DEFAULT};
    batcher_show_value(&v, arena, buf, sizeof buf);
    CHECK(strcmp(buf, "DEFAULT") == 0);
    v = ts(5);
    batcher_show_value(&v, arena, buf, 8); /* cut to the buffer, terminated */
    CHECK_EQ_INT(strlen(buf), 7);
}

TEST_MAIN(TEST_ENTRY(test_integers_fit_their_column), TEST_ENTRY(test_doubles_and_booleans),
          TEST_ENTRY(test_text_timestamps_and_other_types), TEST_ENTRY(test_rows), TEST_ENTRY(test_show_value))
