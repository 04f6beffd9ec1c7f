/*
 * test_value.c -- the batcher's conversion of one value to a column's
 * type (src/lib/batcher/value.c, textparse.c): what converts by our own
 * rules, what is left to DuckDB's cast, and what can never be stored;
 * and, differentially, that every answer our rules give for text is the
 * one DuckDB's own cast gives, over many generated and edge-case strings.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

static struct bval str(const char *s)
{
    return text(s, strlen(s));
}
static struct bval i64(int64_t x)
{
    return (struct bval){.kind = DUCKPOND_VALUE_INT64, .u.i64 = x};
}
static struct bval f64(double x)
{
    return (struct bval){.kind = DUCKPOND_VALUE_DOUBLE, .u.f64 = x};
}
static struct bval boolean(int x)
{
    return (struct bval){.kind = DUCKPOND_VALUE_BOOL, .u.i64 = x != 0};
}
static struct bval ts(int64_t us)
{
    return (struct bval){.kind = DUCKPOND_VALUE_TIMESTAMP, .u.i64 = us};
}

static enum conv_result conv_col(struct batcher_col c, struct bval v, struct cval *out)
{
    memset(out, 0, sizeof *out);
    return batcher_convert(&c, &v, arena, out);
}

static enum conv_result conv(duckdb_type t, struct bval v, struct cval *out)
{
    return conv_col((struct batcher_col){.type = t}, v, out);
}

static struct batcher_col decimal_col(int width, int scale)
{
    return (
        struct batcher_col){.type = DUCKDB_TYPE_DECIMAL, .width = (uint8_t)width, .scale = (uint8_t)scale};
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
    CHECK_EQ_INT(conv(DUCKDB_TYPE_UUID, str("\xff\xfe"), &cv), CV_BAD); /* DuckDB holds UTF-8 alone */
    CHECK_EQ_INT(conv(DUCKDB_TYPE_VARCHAR, i64(5), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIMESTAMP, ts(-1), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, -1);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIMESTAMP_TZ, ts(1700000000123456LL), &cv), CV_OK);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DATE, ts(0), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_UUID, str("00000000-0000-0000-0000-000000000000"), &cv), CV_GENERIC);
    /* the ISO forms DuckDB prints, and plain decimals, by our own rules */
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIMESTAMP, str("2024-01-02 03:04:05"), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, 1704164645000000LL);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIMESTAMP, str("1969-12-31T23:59:59.999999"), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, -1);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIMESTAMP_TZ, str("2024-01-02 03:04:05+05:30"), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, 1704164645000000LL - 19800000000LL);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIMESTAMP_TZ, str("2024-01-02 03:04:05"), &cv),
                 CV_VALID); /* the TimeZone's */
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIMESTAMP, str("2024-01-02 24:00:00"), &cv), CV_GENERIC);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DATE, str("2024-02-29"), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, 19782);
    CHECK_EQ_INT(conv(DUCKDB_TYPE_DATE, str("2023-02-29"), &cv), CV_GENERIC); /* DuckDB's error */
    CHECK_EQ_INT(conv(DUCKDB_TYPE_TIME, str("23:59:59.5"), &cv), CV_OK);
    CHECK_EQ_INT(cv.v.i, 86399500000LL);
    CHECK_EQ_INT(conv_col(decimal_col(18, 4), str("-1.25"), &cv), CV_OK);
    CHECK(cv.v.dec == -12500);
    CHECK_EQ_INT(conv_col(decimal_col(18, 4), i64(7), &cv), CV_OK);
    CHECK(cv.v.dec == 70000);
    CHECK_EQ_INT(conv_col(decimal_col(4, 2), str("123.4"), &cv), CV_GENERIC); /* out of range */
    CHECK_EQ_INT(conv_col(decimal_col(6, 2), str("1.005"), &cv), CV_VALID);   /* DuckDB rounds */
    CHECK_EQ_INT(conv_col(decimal_col(18, 4), str("1e3"), &cv), CV_GENERIC);
    /* which values need no check at all */
    CHECK(batcher_always_converts(DUCKDB_TYPE_DECIMAL, DUCKPOND_VALUE_NULL));
    CHECK(batcher_always_converts(DUCKDB_TYPE_UUID, DUCKPOND_VALUE_DEFAULT));
    CHECK(batcher_always_converts(DUCKDB_TYPE_BIGINT, DUCKPOND_VALUE_INT64));
    CHECK(!batcher_always_converts(DUCKDB_TYPE_INTEGER, DUCKPOND_VALUE_INT64));
    CHECK(!batcher_always_converts(DUCKDB_TYPE_VARCHAR, DUCKPOND_VALUE_TEXT)); /* UTF-8 is checked */
    CHECK(batcher_always_converts(DUCKDB_TYPE_TIMESTAMP_TZ, DUCKPOND_VALUE_TIMESTAMP));
}

/* Which columns have a vector layout of ours, and the kinds of values handed to a CAST. */
static void test_native_columns_and_kinds(void)
{
    struct batcher_col c = {.type = DUCKDB_TYPE_INTEGER};
    CHECK(batcher_col_native(&c));
    c.type = DUCKDB_TYPE_DATE;
    CHECK(batcher_col_native(&c));
    c.type = DUCKDB_TYPE_UUID;
    CHECK(!batcher_col_native(&c));
    c.type = DUCKDB_TYPE_INTERVAL;
    CHECK(!batcher_col_native(&c));
    c = decimal_col(38, 10);
    CHECK(batcher_col_native(&c));
    duckdb_logical_type lt = batcher_col_logical_type(&c);
    CHECK_EQ_INT(duckdb_decimal_width(lt), 38);
    CHECK_EQ_INT(duckdb_decimal_scale(lt), 10);
    duckdb_destroy_logical_type(&lt);
    CHECK_EQ_INT(batcher_kind_type(DUCKPOND_VALUE_TEXT), DUCKDB_TYPE_VARCHAR);
    CHECK_EQ_INT(batcher_kind_type(DUCKPOND_VALUE_INT64), DUCKDB_TYPE_BIGINT);
    CHECK_EQ_INT(batcher_kind_type(DUCKPOND_VALUE_TIMESTAMP), DUCKDB_TYPE_TIMESTAMP);
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

/* ------------------------------------------- against DuckDB's own cast */

/* A deterministic generator, so that a failure can be repeated. */
static uint64_t rng = 0x2545f4914f6cdd1dULL;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* Strings to cast, one allocation each, NUL-terminated. */
struct strs {
    char **v;
    size_t n, cap;
};

static void add(struct strs *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct strs *s, const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (dp_grow(&s->v, &s->cap, s->n + 1, sizeof *s->v) == 0)
        s->v[s->n++] = strdup(buf);
}

static void strs_free(struct strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* A date, often valid, sometimes a day or month off its calendar. */
static void gen_date(char *out, size_t len)
{
    static const int years[] = {0, 1, 4, 100, 400, 1582, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 9999};
    int y = rnd(3) ? (int)rnd(10000) : years[rnd(sizeof years / sizeof *years)];
    int m = rnd(10) ? 1 + (int)rnd(12) : (int)rnd(14);
    int d = rnd(10) ? 1 + (int)rnd(28) : (int)rnd(33);
    if (rnd(8) == 0)
        m = 2, d = 29;
    snprintf(out, len, "%04d-%02d-%02d", y, m, d);
}

/* A time of day, sometimes out of range, with 0 to 10 fraction digits. */
static void gen_time(char *out, size_t len)
{
    int h = rnd(10) ? (int)rnd(24) : (int)rnd(26), m = rnd(10) ? (int)rnd(60) : (int)rnd(62);
    int sec = rnd(10) ? (int)rnd(60) : (int)rnd(62), digits = rnd(4) ? (int)rnd(7) : (int)rnd(11);
    int n = rnd(12) ? snprintf(out, len, "%02d:%02d:%02d", h, m, sec) : snprintf(out, len, "%02d:%02d", h, m);
    if (digits && n > 5 && (size_t)n + 1 + (size_t)digits < len) {
        out[n++] = '.';
        for (int i = 0; i < digits; i++)
            out[n++] = (char)('0' + rnd(10));
        out[n] = '\0';
    }
}

/* Dates, times and timestamps: generated, then the edge cases. */
static void temporal_strings(struct strs *s)
{
    static const char *seps[] = {" ", " ", "T", "t", "_", "  "};
    static const char *offsets[] = {"",       "",       "",       "Z",       "z",
                                    "+00",    "-00",    "+05:30", "-08:00",  "+0530",
                                    "+14",    "-12:45", "+5",     "+05:3",   "+05:30:15",
                                    "+24:00", "+05:60", " UTC",   " +05:30", " America/New_York",
                                    " ",      "x",      "1",      "Z ",      "ZZ"};
    char d[32], t[64];
    for (int i = 0; i < 6000; i++) {
        gen_date(d, sizeof d);
        gen_time(t, sizeof t);
        switch (rnd(6)) {
        case 0: add(s, "%s", d); break;
        case 1: add(s, "%s", t); break;
        default: add(s, "%s%s%s%s", d, seps[rnd(6)], t, offsets[rnd(sizeof offsets / sizeof *offsets)]);
        }
    }
    static const char *edge[] = {
        "2024-02-29",
        "2023-02-29",
        "1900-02-29",
        "2000-02-29",
        "0000-02-29",
        "0000-01-01",
        "0001-01-01",
        "9999-12-31",
        "10000-01-01",
        "-0001-01-01",
        "0044-03-15 (BC)",
        "1-01-01",
        "99-01-01",
        "2024-1-2",
        "2024/01/02",
        "2024-01-02 ",
        " 2024-01-02",
        "2024-01-02x",
        "2024-01-021",
        "2024-01-02 24:00:00",
        "2024-01-02 23:59:60",
        "2024-01-02 00:00:00.1234567",
        "2024-01-02 00:00:00.123456789",
        "2024-01-02 00:00:00.1234567890123",
        "2024-01-02 00:00:00.",
        "2024-01-02T10:00",
        "2024-01-02 10",
        "2024-01-02 10:00:00+05:30",
        "2024-01-02 10:00:00-05:30",
        "2024-01-02 10:00:00Z",
        "2024-01-02T10:00:00.5Z",
        "2024-01-02 10:00:00 UTC",
        "2024-01-02 10:00:00 Asia/Kolkata",
        "2024-01-02 00:30:00+05:30",
        "0000-01-01 00:00:00+01",
        "9999-12-31 23:59:59.999999-12",
        "infinity",
        "-infinity",
        "Infinity",
        "INFINITY",
        "epoch",
        "-epoch",
        "now",
        "today",
        "",
        " ",
        "T",
        "24:00:00",
        "23:59:59.999999",
        "00:00",
        "0:00:00",
        "00:00:00 ",
        "12:30:45.000001",
        "12:30:45+01",
        "2024-12-31 23:59:59.9999995",
        "1969-12-31 23:59:59.999999",
        "1970-01-01",
        "2024-01-02\t10:00:00",
    };
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++)
        add(s, "%s", edge[i]);
}

/* Decimals: generated (signs, leading zeros, fraction lengths), then edge cases. */
static void decimal_strings(struct strs *s)
{
    for (int i = 0; i < 6000; i++) {
        char digits[48];
        int n = 0, lead = rnd(5) == 0 ? (int)rnd(3) : 0, intd = (int)rnd(rnd(4) ? 8 : 24);
        for (int k = 0; k < lead; k++)
            digits[n++] = '0';
        for (int k = 0; k < intd; k++)
            digits[n++] = (char)('0' + rnd(10));
        if (!intd)
            digits[n++] = '0';
        int fracd = rnd(3) ? (int)rnd(7) : (int)rnd(14);
        if (fracd || rnd(10) == 0)
            digits[n++] = '.';
        for (int k = 0; k < fracd; k++)
            digits[n++] = (char)('0' + (rnd(4) ? rnd(10) : 9));
        digits[n] = '\0';
        add(s, "%s%s", (const char *[]){"", "", "-", "+"}[rnd(4)], digits);
    }
    static const char *edge[] = {
        "0",
        "-0",
        "+0.00",
        ".5",
        "5.",
        "-.5",
        "1e3",
        "1E-2",
        " 1.5",
        "1.5 ",
        "1,5",
        "--1",
        "+-1",
        "0x10",
        "99.99",
        "99.995",
        "99.994",
        "-99.995",
        "999.5",
        "9999.99",
        "9999.995",
        "1.00005",
        "1.00004999",
        "123456789012345678",
        "1234567890123456789",
        "99999999999999999999999999999999999999",
        "0.1234567890123456789012345678901234567890",
        "nan",
        "inf",
        "",
        "-",
        ".",
        "1.2.3",
        "١٢",
    };
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++)
        add(s, "%s", edge[i]);
}

/* The raw value at row i of a vector of column c's type, as our cval holds it. */
static bool raw_equals(const struct batcher_col *c, duckdb_vector v, idx_t i, const struct cval *cv)
{
    const void *d = duckdb_vector_get_data(v);
    switch (c->type) {
    case DUCKDB_TYPE_DATE: return ((const int32_t *)d)[i] == cv->v.i;
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ: return ((const int64_t *)d)[i] == cv->v.i;
    case DUCKDB_TYPE_DECIMAL:
        if (c->width <= 4)
            return ((const int16_t *)d)[i] == cv->v.dec;
        if (c->width <= 9)
            return ((const int32_t *)d)[i] == cv->v.dec;
        if (c->width <= 18)
            return ((const int64_t *)d)[i] == cv->v.dec;
        {
            duckdb_hugeint h = ((const duckdb_hugeint *)d)[i];
            return (__int128)((unsigned __int128)(uint64_t)h.upper << 64 | h.lower) == cv->v.dec;
        }
    default: return false;
    }
}

/*
 * Casts every string of s to column c's type (spelled sql_type) in DuckDB
 * on conn, and holds our conversion to its answers: CV_OK must give
 * DuckDB's value, CV_VALID a value DuckDB accepts. Returns the number of
 * strings our rules decided (OK or VALID), or -1 after a failure (printed).
 */
static long differ(duckdb_connection conn, const struct batcher_col *c, const char *sql_type,
                   const struct strs *s)
{
    long accepted = 0;
    duckdb_appender app;
    if (duckdb_query(conn, "CREATE OR REPLACE TABLE strs(i INTEGER, s VARCHAR)", NULL) == DuckDBError ||
        duckdb_appender_create(conn, NULL, "strs", &app) == DuckDBError)
        return -1;
    for (size_t i = 0; i < s->n; i++) {
        duckdb_append_int32(app, (int32_t)i);
        duckdb_append_varchar(app, s->v[i]);
        duckdb_appender_end_row(app);
    }
    duckdb_appender_destroy(&app);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT i, TRY_CAST(s AS %s) FROM strs ORDER BY i", sql_type);
    duckdb_result res;
    if (duckdb_query(conn, sql, &res) == DuckDBError) {
        fprintf(stderr, "    %s: %s\n", sql, duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return -1;
    }
    long decided = 0, wrong = 0;
    for (duckdb_data_chunk ch; (ch = duckdb_fetch_chunk(res));) {
        const int32_t *ids = duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0));
        duckdb_vector vals = duckdb_data_chunk_get_vector(ch, 1);
        uint64_t *valid = duckdb_vector_get_validity(vals);
        for (idx_t r = 0; r < duckdb_data_chunk_get_size(ch); r++) {
            const char *str = s->v[ids[r]];
            struct bval v = {.kind = DUCKPOND_VALUE_TEXT, .len = (uint32_t)strlen(str), .u.off = 0};
            struct cval cv;
            memset(&cv, 0, sizeof cv);
            enum conv_result cr = batcher_convert(c, &v, str, &cv);
            bool duck_ok = duckdb_validity_row_is_valid(valid, r);
            bool bad = (cr == CV_OK && (!duck_ok || !raw_equals(c, vals, r, &cv))) ||
                       (cr == CV_VALID && !duck_ok);
            decided += cr == CV_OK || cr == CV_VALID;
            accepted += duck_ok;
            if (bad && wrong++ < 10)
                fprintf(stderr, "    %s: '%s': ours %d, DuckDB %s\n", sql_type, str, (int)cr,
                        duck_ok ? "another value" : "refuses it");
        }
        duckdb_destroy_data_chunk(&ch);
    }
    duckdb_destroy_result(&res);
    fprintf(stderr, "    %-14s of %zu strings DuckDB accepts %ld, our rules decide %ld\n", sql_type, s->n,
            accepted, decided);
    return wrong ? -1 : decided;
}

/*
 * Dates, times, timestamps (a TIMESTAMPTZ in a TimeZone far from UTC, so
 * that a string without an offset read as UTC would differ) and decimals
 * of every physical width, cast by both: our rules must never disagree,
 * and must decide most of the common spellings themselves.
 */
static void test_text_conversion_matches_duckdb(void)
{
    duckdb_database db;
    duckdb_connection conn;
    CHECK(duckdb_open(NULL, &db) == DuckDBSuccess);
    CHECK(duckdb_connect(db, &conn) == DuckDBSuccess);
    CHECK(duckdb_query(conn, "SET TimeZone = 'Asia/Kolkata'", NULL) == DuckDBSuccess);
    struct strs t = {0}, d = {0};
    temporal_strings(&t);
    decimal_strings(&d);
    static const struct {
        duckdb_type type;
        int width, scale;
        const char *sql;
        long min_decided; /* of about 6,000 generated strings */
    } cases[] = {
        {DUCKDB_TYPE_DATE, 0, 0, "DATE", 500},
        {DUCKDB_TYPE_TIME, 0, 0, "TIME", 500},
        {DUCKDB_TYPE_TIMESTAMP, 0, 0, "TIMESTAMP", 1200},
        {DUCKDB_TYPE_TIMESTAMP_TZ, 0, 0, "TIMESTAMPTZ", 1200},
        {DUCKDB_TYPE_DECIMAL, 4, 2, "DECIMAL(4,2)", 1000},
        {DUCKDB_TYPE_DECIMAL, 4, 4, "DECIMAL(4,4)", 300},
        {DUCKDB_TYPE_DECIMAL, 9, 3, "DECIMAL(9,3)", 3000},
        {DUCKDB_TYPE_DECIMAL, 18, 4, "DECIMAL(18,4)", 4000},
        {DUCKDB_TYPE_DECIMAL, 10, 0, "DECIMAL(10,0)", 4000},
        {DUCKDB_TYPE_DECIMAL, 38, 10, "DECIMAL(38,10)", 5000},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        struct batcher_col c = {.type = cases[k].type,
                                .width = (uint8_t)cases[k].width,
                                .scale = (uint8_t)cases[k].scale};
        long decided = differ(conn, &c, cases[k].sql, c.type == DUCKDB_TYPE_DECIMAL ? &d : &t);
        CHECK(decided >= cases[k].min_decided);
    }
    strs_free(&t);
    strs_free(&d);
    duckdb_disconnect(&conn);
    duckdb_close(&db);
}

TEST_MAIN(TEST_ENTRY(test_integers_fit_their_column), TEST_ENTRY(test_doubles_and_booleans),
          TEST_ENTRY(test_text_timestamps_and_other_types), TEST_ENTRY(test_native_columns_and_kinds),
          TEST_ENTRY(test_show_value), TEST_ENTRY(test_text_conversion_matches_duckdb))
