/*
 * test_pgtypes.c -- result values out, checked against independent
 * methods: the shortest double and float (numfmt) against a printf/strtod
 * search over many random and edge values, their PostgreSQL layout
 * against what PostgreSQL 15 prints, dates against DuckDB's own calendar,
 * timestamps, dates, times and decimals against DuckDB's VARCHAR cast,
 * whole DataRow messages, text and binary, from real DuckDB results, and
 * the HTTP API's renderer, which writes with the same encoders.
 */
#include <float.h>
#include <math.h>

#include "duckdb.h"
#include "http_render.h"
#include "numfmt.h"
#include "pgtypes.h"
#include "pgwire.h"
#include "testlib.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ------------------------------------------------ the printf/strtod oracle */

/* A decimal m * 10^e with the trailing zeros of m moved into e. */
struct dec {
    uint64_t m;
    int e;
};

static struct dec dec_norm(uint64_t m, int e)
{
    while (m && m % 10 == 0) {
        m /= 10;
        e++;
    }
    return (struct dec){m, m ? e : 0};
}

/* Whether m * 10^e is exactly x, a long double that is a multiple of 2^-20. */
static bool dec_equals(uint64_t m, int e, long double x)
{
    char want[2048], digits[64], got[2048];
    snprintf(want, sizeof want, "%.20Lf", x); /* exact: x has at most 20 binary fraction digits */
    if (e < -20)
        return false;
    if (e >= 0) {
        snprintf(got, sizeof got, "%llu%.*s.%020d", (unsigned long long)m, e, "0000000000000000000000000", 0);
        return e <= 25 && strcmp(want, got) == 0;
    }
    int n = snprintf(digits, sizeof digits, "%0*llu", 1 - e,
                     (unsigned long long)m); /* at least one integer digit */
    snprintf(got, sizeof got, "%.*s.%s%0*d", n + e, digits, digits + n + e, 20 + e, 0);
    return strcmp(want, got) == 0;
}

/*
 * Whether the decimal m * 10^e reads back as v >= 0 (a double, or a
 * float when single) and, when strict, does not lie exactly halfway between v
 * and a neighbour. Only values of 2^40 (floats 2^14) and up can have such
 * a halfway point of 17 (9) digits or fewer: theirs are checked exactly.
 */
static bool reads_back(uint64_t m, int e, double v, bool single, bool strict)
{
    char s[64];
    snprintf(s, sizeof s, "%llue%d", (unsigned long long)m, e);
    bool same = single ? strtof(s, NULL) == (float)v : strtod(s, NULL) == v;
    if (!same || !strict || v < (single ? 0x1p14 : 0x1p40))
        return same;
    long double up = single ? nextafterf((float)v, INFINITY) : nextafter(v, INFINITY);
    long double down = single ? nextafterf((float)v, 0) : nextafter(v, 0);
    return !dec_equals(m, e, (v + up) / 2) && !dec_equals(m, e, (v + down) / 2);
}

/*
 * The shortest decimal that reads back as |v|, by printf and strtod: for
 * each precision, the correctly rounded digits, or when they miss, the
 * decimal of as many digits on the other side of v (the interval of v is
 * narrower below a power of two); the first that reads back wins.
 */
static struct dec oracle(double v, bool single, bool strict)
{
    double a = fabs(v);
    if (a == 0)
        return (struct dec){0, 0};
    for (int p = 1; p <= 17; p++) {
        char s[64];
        snprintf(s, sizeof s, "%.*e", p - 1, a);
        uint64_t m = 0;
        for (const char *c = s; *c && *c != 'e'; c++)
            if (*c >= '0' && *c <= '9')
                m = m * 10 + (uint64_t)(*c - '0');
        int e = atoi(strchr(s, 'e') + 1) - (p - 1);
        if (reads_back(m, e, a, single, strict))
            return dec_norm(m, e);
        double back = single ? strtof(s, NULL) : strtod(s, NULL);
        uint64_t other = back < a ? m + 1 : m - 1;
        if (reads_back(other, e, a, single, strict))
            return dec_norm(other, e);
    }
    return (struct dec){0, 99};
}

/* Checks numfmt's shortest decimal of v against the oracle, strict and not. */
static bool shortest_ok(double v, bool single)
{
    for (int strict = 0; strict <= 1; strict++) {
        struct numfmt_dec got;
        if (single)
            numfmt_shortest_float((float)v, strict, &got);
        else
            numfmt_shortest(v, strict, &got);
        struct dec want = oracle(v, single, strict);
        if (got.digits != want.m || got.exp != want.e || got.neg != (signbit(v) != 0)) {
            fprintf(stderr, "    %s %.17g (strict %d): got %llue%d, want %llue%d\n",
                    single ? "float" : "double", v, strict, (unsigned long long)got.digits, got.exp,
                    (unsigned long long)want.m, want.e);
            return false;
        }
    }
    return true;
}

static double double_of(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static float float_of(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void test_shortest_double_matches_printf(void)
{
    /* where printf's %g switches to exponents, and the classic cases */
    double edges[] = {0.1 + 0.2,
                      0.1,
                      1.0 / 3,
                      2.0 / 3,
                      1e15,
                      1e16,
                      1e17,
                      1e21,
                      1e22,
                      1e23,
                      5e-324,
                      1e-323,
                      DBL_MIN,
                      DBL_MAX,
                      DBL_EPSILON,
                      9007199254740991.0,
                      9007199254740993.0,
                      123456789012345680.0,
                      0.3,
                      2.5,
                      1e-4,
                      1e-5,
                      50000.25,
                      -0.0,
                      0.0};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        for (int side = -1; side <= 1; side++) {
            double v = side ? nextafter(edges[i], side * INFINITY) : edges[i];
            if (isfinite(v))
                CHECK(shortest_ok(v, false));
        }
    for (int e = -30; e <= 30; e++) /* powers of ten and the doubles next to them */
        for (int side = -1; side <= 1; side++)
            CHECK(shortest_ok(side ? nextafter(pow(10, e), side * INFINITY) : pow(10, e), false));
    for (int q = -1074; q <= 1023; q++) /* every power of two: the narrow interval below */
        CHECK(shortest_ok(ldexp(1, q), false));
    for (uint64_t t = 1; t < 3000; t++) { /* the smallest subnormals, and the top of them */
        CHECK(shortest_ok(double_of(t), false));
        CHECK(shortest_ok(double_of((1ULL << 52) - t), false));
    }
    for (int i = 0; i < 60000; i++) {
        uint64_t bits = rng();
        if (i % 3 == 1) /* ordinary magnitudes */
            bits = (bits & 0x800fffffffffffffULL) | (uint64_t)(1023 - 40 + (int)(rng() % 80)) << 52;
        double d = double_of(bits);
        if (i % 3 ==
            2) /* prices and quantities: decimals of 1 to 16 digits, 0 to 20 of them after the point */
            d = (double)(rng() % (uint64_t)pow(10, (double)(1 + rng() % 16))) / pow(10, (double)(rng() % 21));
        if (isfinite(d))
            CHECK(shortest_ok(d, false));
    }
}

static void test_shortest_float_matches_printf(void)
{
    for (int q = -149; q <= 127; q++)
        CHECK(shortest_ok(ldexpf(1, q), true));
    for (uint32_t t = 1; t < 3000; t++) {
        CHECK(shortest_ok(float_of(t), true));
        CHECK(shortest_ok(float_of((1u << 23) - t), true));
    }
    for (int i = 0; i < 60000; i++) {
        uint32_t bits = (uint32_t)rng();
        if (i % 2)
            bits = (bits & 0x807fffffu) | (uint32_t)(127 - 20 + (int)(rng() % 40)) << 23;
        float f = float_of(bits);
        if (isfinite(f))
            CHECK(shortest_ok(f, true));
    }
}

/* PostgreSQL 15's own output for these (SELECT x::float8::text, x::float4::text). */
static void test_float_text_as_postgresql(void)
{
    static const struct {
        double v;
        bool single;
        const char *pg;
    } d[] = {
        {0.1 + 0.2, 0, "0.30000000000000004"},
        {1e15, 0, "1e+15"},
        {1e16, 0, "1e+16"},
        {1e17, 0, "1e+17"},
        {1e21, 0, "1e+21"},
        {1e15 + 0.25, 0, "1.0000000000000002e+15"},
        {999999999999999.9, 0, "999999999999999.9"},
        {9999999999999998.0, 0, "9.999999999999998e+15"},
        {1e-4, 0, "0.0001"},
        {1e-5, 0, "1e-05"},
        {0.00012345, 0, "0.00012345"},
        {123456789012345.6, 0, "123456789012345.6"},
        {5e-324, 0, "5e-324"},
        {1.7976931348623157e308, 0, "1.7976931348623157e+308"},
        {2.2250738585072014e-308, 0, "2.2250738585072014e-308"},
        {1234567.0, 0, "1234567"},
        {100000, 0, "100000"},
        {-0.0, 0, "-0"},
        {0.0, 0, "0"},
        {50000.25, 0, "50000.25"},
        {38329434366312896.0, 0,
         "3.8329434366312896e+16"}, /* the shorter 3.83294343663129e+16 is a halfway point */
        {-1.9998383104211582e-07, 0, "-1.9998383104211582e-07"},
        {1e100, 0, "1e+100"},
        {-2.5e-300, 0, "-2.5e-300"},
        /* float4 */
        {1234567.0, 1, "1.234567e+06"},
        {123456.7f, 1, "123456.7"},
        {0.1f, 1, "0.1"},
        {1e-5f, 1, "1e-05"},
        {949271168.0, 1, "9.4927117e+08"},
        {3.4028235e38f, 1, "3.4028235e+38"},
        {1e-45f, 1, "1e-45"},
        {-0.0, 1, "-0"},
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        char out[NUMFMT_DEC_MAX + 1];
        struct numfmt_dec dec;
        if (d[i].single)
            numfmt_shortest_float((float)d[i].v, true, &dec);
        else
            numfmt_shortest(d[i].v, true, &dec);
        out[numfmt_dec_text(out, &dec, d[i].single ? 6 : 15)] = '\0';
        if (strcmp(out, d[i].pg) != 0)
            fprintf(stderr, "    %.17g: got %s, want %s\n", d[i].v, out, d[i].pg);
        CHECK(strcmp(out, d[i].pg) == 0);
    }
    struct numfmt_dec loose; /* and without avoiding halfway points, the shorter one */
    numfmt_shortest(38329434366312896.0, false, &loose);
    CHECK(loose.digits == 383294343663129ULL && loose.exp == 2);
}

static void test_integers_and_decimals(void)
{
    char out[NUMFMT_INT_MAX + 1], want[64];
    for (int i = 0; i < 20000; i++) {
        int64_t v = (int64_t)(rng() >> (rng() % 64));
        if (i & 1)
            v = -v;
        out[numfmt_i64(out, v)] = '\0';
        snprintf(want, sizeof want, "%lld", (long long)v);
        CHECK(strcmp(out, want) == 0);
    }
    out[numfmt_i64(out, INT64_MIN)] = '\0';
    CHECK(strcmp(out, "-9223372036854775808") == 0);
    out[numfmt_u64(out, UINT64_MAX)] = '\0';
    CHECK(strcmp(out, "18446744073709551615") == 0);
    __int128 min128 = (__int128)((unsigned __int128)1 << 127);
    out[numfmt_i128(out, min128)] = '\0';
    CHECK(strcmp(out, "-170141183460469231731687303715884105728") == 0);
    out[numfmt_u128(out, ~(unsigned __int128)0)] = '\0';
    CHECK(strcmp(out, "340282366920938463463374607431768211455") == 0);
    static const struct {
        int64_t v;
        unsigned scale;
        const char *text;
    } d[] = {
        {-5, 2, "-0.05"},
        {0, 3, "0.000"},
        {12345, 0, "12345"},
        {-12345, 3, "-12.345"},
        {1, 18, "0.000000000000000001"},
        {INT64_MIN, 4, "-922337203685477.5808"},
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        out[numfmt_decimal(out, d[i].v, d[i].scale)] = '\0';
        CHECK(strcmp(out, d[i].text) == 0);
    }
    __int128 big = (__int128)123456789012345678LL * 1000000000000000000LL + 901234567890123456LL;
    out[numfmt_decimal(out, -big, 30)] = '\0';
    CHECK(strcmp(out, "-123456.789012345678901234567890123456") == 0);
    out[numfmt_decimal(out, big, 20)] = '\0';
    CHECK(strcmp(out, "1234567890123456.78901234567890123456") == 0);
}

/* ------------------------------------------------- against DuckDB itself */

static duckdb_database db;
static duckdb_connection con;

static bool db_open(void)
{
    return duckdb_open(NULL, &db) == DuckDBSuccess && duckdb_connect(db, &con) == DuckDBSuccess;
}

/* Runs sql; false (with DuckDB's message shown) when it fails. */
static bool query(const char *sql, duckdb_result *res)
{
    if (duckdb_query(con, sql, res) == DuckDBSuccess)
        return true;
    fprintf(stderr, "    %s: %s\n", sql, duckdb_result_error(res));
    duckdb_destroy_result(res);
    return false;
}

static void db_close(void)
{
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

static void test_civil_dates_match_duckdb(void)
{
    int32_t days[] = {0,     -1,      1,        59,      60,      -719528,       -719529,       -719162,
                      11016, 2932896, -2932897, -141427, 5373484, INT32_MAX - 1, -INT32_MAX + 1};
    for (int i = 0; i < 200000; i++) {
        int32_t d = i < (int)(sizeof days / sizeof days[0])
                        ? days[i]
                        : (int32_t)((int64_t)(rng() % 4294967293ULL) - 2147483646);
        if (i % 2 && i > 20)
            d = (int32_t)(rng() % 3000000) - 1500000; /* the last and next few thousand years */
        duckdb_date_struct want = duckdb_from_date((duckdb_date){d});
        int32_t y;
        int m, dd;
        numfmt_civil(d, &y, &m, &dd);
        if (y != want.year || m != want.month || dd != want.day)
            fprintf(stderr, "    day %d: got %d-%d-%d, want %d-%d-%d\n", d, y, m, dd, want.year, want.month,
                    want.day);
        CHECK(y == want.year && m == want.month && dd == want.day);
    }
}

/* Each row of sql: a value (column 0) and the text PostgreSQL would print for it (column 1). */
static void check_text_column(const char *sql, int *checked)
{
    duckdb_result res;
    CHECK(query(sql, &res));
    duckdb_data_chunk chunk;
    duckdb_logical_type type = duckdb_column_logical_type(&res, 0);
    while ((chunk = duckdb_fetch_chunk(res)) != NULL) {
        duckdb_vector v = duckdb_data_chunk_get_vector(chunk, 0), w = duckdb_data_chunk_get_vector(chunk, 1);
        duckdb_string_t *want = duckdb_vector_get_data(w);
        for (idx_t r = 0; r < duckdb_data_chunk_get_size(chunk); r++) {
            if (!pgtypes_valid(v, r))
                continue;
            struct pgbuf b;
            pgbuf_init(&b);
            CHECK(pgtypes_text(&b, v, type, r) == 0);
            size_t n = duckdb_string_t_length(want[r]);
            const char *s = duckdb_string_t_data(&want[r]);
            if (b.len != n || memcmp(b.data, s, n) != 0)
                fprintf(stderr, "    %s: got %.*s, want %.*s\n", sql, (int)b.len, b.data, (int)n, s);
            CHECK(b.len == n && memcmp(b.data, s, n) == 0);
            pgbuf_free(&b);
            ++*checked;
        }
        duckdb_destroy_data_chunk(&chunk);
    }
    duckdb_destroy_logical_type(&type);
    duckdb_destroy_result(&res);
}

/*
 * DuckDB's VARCHAR cast prints these the way PostgreSQL's ISO output does,
 * except that it writes " (BC)" after the date where PostgreSQL writes
 * " BC" at the end.
 */
static void test_temporal_text_matches_duckdb_cast(void)
{
    CHECK(db_open());
    duckdb_result seed;
    CHECK(query("SELECT setseed(0.25)", &seed));
    duckdb_destroy_result(&seed);
    const char *bc = "CASE WHEN contains(x::VARCHAR, ' (BC)') THEN replace(x::VARCHAR, ' (BC)', '') || ' BC'"
                     " ELSE x::VARCHAR END";
    char sql[1024];
    int checked = 0;
    const char *cases[] = {
        /* timestamps over the whole range, with and without fractions, both eras */
        "SELECT make_timestamp(((random() * 2 - 1) * 9.2e18)::BIGINT) AS x FROM range(20000)",
        "SELECT make_timestamp(((random() * 2 - 1) * 9.2e18)::BIGINT // 1000000 * 1000000) AS x FROM range(5000)",
        "SELECT TIMESTAMP '2026-11-25 10:00:00' + to_microseconds(i * 1007) AS x FROM range(5000) t(i)",
        "SELECT x FROM (VALUES (TIMESTAMP 'infinity'), (TIMESTAMP '-infinity'), (TIMESTAMP '0001-01-01 00:00:00'),"
        " (TIMESTAMP '0001-12-31 23:59:59.999999' - INTERVAL 1 YEAR), (TIMESTAMP '1970-01-01'), (NULL)) t(x)",
        /* dates */
        "SELECT DATE '1970-01-01' + (random() * 2e6 - 1e6)::INTEGER AS x FROM range(20000)",
        "SELECT x FROM (VALUES (DATE 'infinity'), (DATE '-infinity'), (DATE '0044-03-15' - 36525),"
        " (DATE '0001-01-01')) t(x)",
        /* times */
        "SELECT TIME '00:00:00' + to_microseconds((random() * 86399999999)::BIGINT) AS x FROM range(5000)",
        "SELECT x FROM (VALUES (TIME '00:00:00'), (TIME '23:59:59.999999'), (TIME '24:00:00'),"
        " (TIME '12:00:00.5')) t(x)",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT x, %s FROM (%s)", bc, cases[i]);
        check_text_column(sql, &checked);
    }
    /* decimals of every storage width and scale, and integers */
    const char *numbers[] = {
        "SELECT (random() * 200 - 100)::DECIMAL(4,2) AS x FROM range(3000)",
        "SELECT (random() * 2e8 - 1e8)::DECIMAL(9,0) AS x FROM range(3000)",
        "SELECT (random() * 2e10 - 1e10)::DECIMAL(18,8) AS x FROM range(3000)",
        "SELECT (random() * 2e10 - 1e10)::DECIMAL(38,28) AS x FROM range(3000)",
        "SELECT ((random() * 2 - 1) * 9.2e18)::BIGINT AS x FROM range(3000)",
        "SELECT x FROM (VALUES (-0.05::DECIMAL(4,2)), (0::DECIMAL(4,2)), (0.000001::DECIMAL(18,6))) t(x)",
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT x, x::VARCHAR FROM (%s)", numbers[i]);
        check_text_column(sql, &checked);
    }
    CHECK(checked > 70000);
    db_close();
}

/* ------------------------------------------------------------- DataRows */

struct cells {
    int n;
    int32_t len[32];
    const char *val[32];
};

/* Splits a DataRow message at p (its bytes, the type byte first); returns its length or -1. */
static long parse_row(const char *p, size_t left, struct cells *c)
{
    if (left < 7 || p[0] != 'D')
        return -1;
    uint32_t len = (uint32_t)(unsigned char)p[1] << 24 | (uint32_t)(unsigned char)p[2] << 16 |
                   (uint32_t)(unsigned char)p[3] << 8 | (unsigned char)p[4];
    if (len + 1 > left)
        return -1;
    c->n = (unsigned char)p[5] << 8 | (unsigned char)p[6];
    const char *q = p + 7;
    for (int i = 0; i < c->n && i < 32; i++) {
        c->len[i] = (int32_t)((uint32_t)(unsigned char)q[0] << 24 | (uint32_t)(unsigned char)q[1] << 16 |
                              (uint32_t)(unsigned char)q[2] << 8 | (unsigned char)q[3]);
        c->val[i] = q + 4;
        q += 4 + (c->len[i] > 0 ? c->len[i] : 0);
    }
    return q - p == (long)len + 1 ? (long)len + 1 : -1;
}

/*
 * Every row of a result as DataRows, through pgtypes_row, and each value
 * again through pgtypes_text alone: the two must agree, NULLs included.
 */
static void test_data_rows_text(void)
{
    CHECK(db_open());
    const char *sql =
        "SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.5 END AS d, 'sym' || (i % 50) AS s,"
        " repeat('x', i % 40) AS long_s, TIMESTAMP '2026-01-01' + to_microseconds(i * 999) AS ts,"
        " (i % 2 = 0) AS b, (i / 7)::DECIMAL(12,3) AS dec, DATE '2000-01-01' + i::INTEGER AS day,"
        " ['a', NULL, i::VARCHAR] AS l, {'k': i} AS st, ('\\x00\\xff' || i::VARCHAR)::BLOB AS bl,"
        " (['lo', 'hi'])[i % 2 + 1]::ENUM('lo', 'hi') AS e, NULL AS nothing, i::HUGEINT * 1000000000000 AS h,"
        " (i % 3)::UTINYINT AS u8, to_seconds(i) AS iv, uuid() AS id"
        " FROM range(5000) t(i)";
    duckdb_result res;
    CHECK(query(sql, &res));
    int ncols = (int)duckdb_column_count(&res);
    struct pgtypes_row *enc = pgtypes_row_new(&res, 0, NULL);
    CHECK(enc != NULL);
    duckdb_data_chunk chunk;
    long rows = 0;
    while ((chunk = duckdb_fetch_chunk(res)) != NULL) {
        pgtypes_row_chunk(enc, chunk);
        struct pgbuf b;
        pgbuf_init(&b);
        idx_t n = duckdb_data_chunk_get_size(chunk);
        for (idx_t r = 0; r < n; r++) {
            int bad = -1;
            CHECK(pgtypes_data_row(&b, enc, r, &bad) == 0);
        }
        CHECK(!b.failed && b.data[b.len] == '\0');
        size_t off = 0;
        for (idx_t r = 0; r < n; r++) {
            struct cells c;
            long len = parse_row(b.data + off, b.len - off, &c);
            CHECK(len > 0 && c.n == ncols);
            for (int i = 0; i < ncols; i++) {
                duckdb_vector v = duckdb_data_chunk_get_vector(chunk, (idx_t)i);
                if (!pgtypes_valid(v, r)) {
                    CHECK(c.len[i] == -1);
                    continue;
                }
                duckdb_logical_type t = duckdb_column_logical_type(&res, (idx_t)i);
                struct pgbuf one;
                pgbuf_init(&one);
                CHECK(pgtypes_text(&one, v, t, r) == 0);
                duckdb_destroy_logical_type(&t);
                if ((size_t)c.len[i] != one.len || memcmp(c.val[i], one.data, one.len) != 0)
                    fprintf(stderr, "    row %ld column %d: %.*s vs %.*s\n", rows, i, c.len[i], c.val[i],
                            (int)one.len, one.data);
                CHECK((size_t)c.len[i] == one.len && memcmp(c.val[i], one.data, one.len) == 0);
                pgbuf_free(&one);
            }
            off += (size_t)len;
            rows++;
        }
        CHECK(off == b.len);
        pgbuf_free(&b);
        duckdb_destroy_data_chunk(&chunk);
    }
    CHECK_EQ_INT(rows, 5000);
    pgtypes_row_free(enc);
    duckdb_destroy_result(&res);
    db_close();
}

static uint64_t be_at(const char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

/* The first row of res as one DataRow in binary format, into b (the caller frees it) and split into c. */
static bool first_row_binary(duckdb_result *res, struct pgbuf *b, struct cells *c)
{
    int16_t one = 1;
    struct pgtypes_row *enc = pgtypes_row_new(res, 1, &one);
    duckdb_data_chunk chunk = duckdb_fetch_chunk(*res);
    pgbuf_init(b);
    int bad = -1;
    bool ok = enc && chunk;
    if (ok) {
        pgtypes_row_chunk(enc, chunk);
        ok = pgtypes_data_row(b, enc, 0, &bad) == 0 && parse_row(b->data, b->len, c) == (long)b->len;
    }
    pgtypes_row_free(enc);
    if (chunk)
        duckdb_destroy_data_chunk(&chunk);
    return ok;
}

/* One row in binary format (all columns), each value decoded as a driver would. */
static void test_data_rows_binary(void)
{
    CHECK(db_open());
    duckdb_result res;
    CHECK(duckdb_query(
              con,
              "SELECT true, -2::TINYINT, -3::SMALLINT, 200::UTINYINT, -4::INTEGER, 60000::USMALLINT,"
              " -5::BIGINT, 4000000000::UINTEGER, 1.5::FLOAT, -2.25::DOUBLE, 'héllo', '\\x01\\x02'::BLOB,"
              " DATE '2000-01-02', TIME '01:00:00', TIMESTAMP '2000-01-01 00:00:01', TIMESTAMPTZ 'infinity',"
              " INTERVAL '1 month 2 days 3 seconds', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID,"
              " 'x'::ENUM('x', 'y'), NULL::INTEGER, TIMESTAMP_MS '1999-12-31 23:59:59.999'",
              &res) == DuckDBSuccess);
    struct pgbuf b;
    struct cells c;
    CHECK(first_row_binary(&res, &b, &c));
    CHECK_EQ_INT(c.n, 21);
    CHECK(c.len[0] == 1 && c.val[0][0] == 1);
    CHECK(c.len[1] == 2 && (int16_t)be_at(c.val[1], 2) == -2);
    CHECK(c.len[2] == 2 && (int16_t)be_at(c.val[2], 2) == -3);
    CHECK(c.len[3] == 2 && be_at(c.val[3], 2) == 200);
    CHECK(c.len[4] == 4 && (int32_t)be_at(c.val[4], 4) == -4);
    CHECK(c.len[5] == 4 && be_at(c.val[5], 4) == 60000);
    CHECK(c.len[6] == 8 && (int64_t)be_at(c.val[6], 8) == -5);
    CHECK(c.len[7] == 8 && be_at(c.val[7], 8) == 4000000000u);
    uint32_t fu = (uint32_t)be_at(c.val[8], 4);
    float f;
    memcpy(&f, &fu, 4);
    CHECK(c.len[8] == 4 && f == 1.5f);
    uint64_t du = be_at(c.val[9], 8);
    double d;
    memcpy(&d, &du, 8);
    CHECK(c.len[9] == 8 && d == -2.25);
    CHECK(c.len[10] == 6 && memcmp(c.val[10], "h\xc3\xa9llo", 6) == 0);
    CHECK(c.len[11] == 2 && memcmp(c.val[11], "\x01\x02", 2) == 0);
    CHECK(c.len[12] == 4 && be_at(c.val[12], 4) == 1); /* days since 2000-01-01 */
    CHECK(c.len[13] == 8 && be_at(c.val[13], 8) == 3600000000ULL);
    CHECK(c.len[14] == 8 && be_at(c.val[14], 8) == 1000000); /* microseconds since 2000 */
    CHECK(c.len[15] == 8 && (int64_t)be_at(c.val[15], 8) == INT64_MAX);
    CHECK(c.len[16] == 16 && be_at(c.val[16], 8) == 3000000 && be_at(c.val[16] + 8, 4) == 2 &&
          be_at(c.val[16] + 12, 4) == 1);
    CHECK(c.len[17] == 16 && be_at(c.val[17], 8) == 0xa0eebc999c0b4ef8ULL &&
          be_at(c.val[17] + 8, 8) == 0xbb6d6bb9bd380a11ULL);
    CHECK(c.len[18] == 1 && c.val[18][0] == 'x');
    CHECK(c.len[19] == -1);
    CHECK(c.len[20] == 8 && (int64_t)be_at(c.val[20], 8) == -1000);
    pgbuf_free(&b);
    duckdb_destroy_result(&res);
    db_close();
}

/* The first row of a query in binary, into c (b freed by the caller); false when a value has no binary form. */
static bool query_binary(const char *sql, struct pgbuf *b, struct cells *c)
{
    duckdb_result res;
    if (duckdb_query(con, sql, &res) != DuckDBSuccess)
        return false;
    bool ok = first_row_binary(&res, b, c);
    duckdb_destroy_result(&res);
    return ok;
}

/* Infinite dates and timestamps in binary as PostgreSQL sends them; DuckDB's earliest ones have no such form. */
static void test_binary_infinities_out(void)
{
    CHECK(db_open());
    struct pgbuf b;
    struct cells c;
    CHECK(
        query_binary("SELECT DATE 'infinity', DATE '-infinity', TIMESTAMP 'infinity', TIMESTAMP '-infinity',"
                     " TIMESTAMPTZ '-infinity', DATE '2000-01-01', TIMESTAMP '294246-12-31 23:59:59'",
                     &b, &c));
    CHECK_EQ_INT(c.n, 7);
    CHECK(c.len[0] == 4 && (int32_t)be_at(c.val[0], 4) == INT32_MAX);
    CHECK(c.len[1] == 4 && (int32_t)be_at(c.val[1], 4) == INT32_MIN);
    CHECK(c.len[2] == 8 && (int64_t)be_at(c.val[2], 8) == INT64_MAX);
    CHECK(c.len[3] == 8 && (int64_t)be_at(c.val[3], 8) == INT64_MIN);
    CHECK(c.len[4] == 8 && (int64_t)be_at(c.val[4], 8) == INT64_MIN);
    CHECK(c.len[5] == 4 && be_at(c.val[5], 4) == 0);
    CHECK(c.len[6] == 8 && (int64_t)be_at(c.val[6], 8) == 9222424559999000000LL);
    pgbuf_free(&b);
    /* DuckDB's first day and first instant lie before what the shift to 2000 can hold */
    CHECK(!query_binary("SELECT DATE '5877642-06-25 (BC)'", &b, &c));
    pgbuf_free(&b);
    CHECK(!query_binary("SELECT TIMESTAMP '290309-12-22 (BC) 00:00:00'", &b, &c));
    pgbuf_free(&b);
    CHECK(query_binary("SELECT DATE '4714-11-24 (BC)', TIMESTAMP '4714-11-24 (BC) 00:00:00'", &b, &c));
    CHECK((int32_t)be_at(c.val[0], 4) == -2451545); /* PostgreSQL's first day */
    CHECK((int64_t)be_at(c.val[1], 8) == -211813488000000000LL);
    pgbuf_free(&b);
    db_close();
}

/* A parameter (format 0 text, 1 binary) bound as type oid into SELECT $1::VARCHAR: the text, or "ERROR: ..." (static buffer). */
static const char *bound_value(uint32_t oid, int16_t format, const char *data, int len)
{
    static char out[320];
    duckdb_prepared_statement st;
    duckdb_result res;
    char err[256] = "";
    snprintf(out, sizeof out, "ERROR: prepare");
    if (duckdb_prepare(con, "SELECT $1::VARCHAR", &st) == DuckDBSuccess) {
        if (pgtypes_bind(st, 1, oid, format, data, len, err, sizeof err) != 0)
            snprintf(out, sizeof out, "ERROR: %s", err);
        else if (duckdb_execute_prepared(st, &res) == DuckDBSuccess) {
            char *text = duckdb_value_varchar(&res, 0, 0);
            snprintf(out, sizeof out, "%s", text);
            duckdb_free(text);
            duckdb_destroy_result(&res);
        }
    }
    duckdb_destroy_prepare(&st);
    return out;
}

/* An integer of len bytes, big-endian, bound in binary as type oid. */
static const char *bound_binary(uint32_t oid, int64_t v, int len)
{
    char data[8];
    for (int i = 0; i < len; i++)
        data[i] = (char)((uint64_t)v >> (8 * (len - 1 - i)));
    return bound_value(oid, 1, data, len);
}

/* Binary dates and timestamps in Bind: the infinities, and no overflow of the shift to 1970. */
static void test_binary_infinities_in(void)
{
    CHECK(db_open());
    CHECK(!strcmp(bound_binary(PGOID_DATE, INT32_MAX, 4), "infinity"));
    CHECK(!strcmp(bound_binary(PGOID_DATE, INT32_MIN, 4), "-infinity"));
    CHECK(!strcmp(bound_binary(PGOID_DATE, 1, 4), "2000-01-02"));
    CHECK_STR_CONTAINS(bound_binary(PGOID_DATE, INT32_MAX - 1, 4), "date out of range");
    CHECK(!strcmp(bound_binary(PGOID_TIMESTAMP, INT64_MAX, 8), "infinity"));
    CHECK(!strcmp(bound_binary(PGOID_TIMESTAMP, INT64_MIN, 8), "-infinity"));
    CHECK(!strcmp(bound_binary(PGOID_TIMESTAMP, 1000000, 8), "2000-01-01 00:00:01"));
    CHECK_STR_CONTAINS(bound_binary(PGOID_TIMESTAMP, INT64_MAX - 1, 8), "timestamp out of range");
    CHECK_STR_CONTAINS(bound_binary(PGOID_TIMESTAMPTZ, INT64_MAX - 1, 8), "timestamp out of range");
    CHECK_STR_CONTAINS(bound_binary(PGOID_TIMESTAMPTZ, INT64_MAX, 8), "infinity");
    /* the batcher's values likewise */
    char big[8], scratch[40], err[128];
    duckpond_value v;
    memset(big, 0x7f, 1);
    memset(big + 1, 0xff, 7);
    CHECK_OK(pgtypes_value(PGOID_TIMESTAMP, 1, big, 8, &v, scratch, sizeof scratch, err, sizeof err));
    CHECK(v.kind == DUCKPOND_VALUE_TIMESTAMP && v.u.timestamp_us == INT64_MAX);
    big[7] = (char)0xfe;
    CHECK_EQ_INT(pgtypes_value(PGOID_TIMESTAMP, 1, big, 8, &v, scratch, sizeof scratch, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "timestamp out of range");
    db_close();
}

/* bytea in text, as PostgreSQL's byteain reads it: hex, or escapes of a backslash and three octal digits only. */
static void test_bytea_text_escapes(void)
{
    CHECK(db_open());
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\\x41ff", "A\\xFF"}, {"a\\\\b", "a\\x5Cb"}, {"\\101\\102", "AB"}, {"\\377", "\\xFF"},
        {"\\3xy", NULL},       {"\\19", NULL},        {"\\400", NULL},      {"\\8", NULL},
        {"\\1", NULL},         {"x\\", NULL},         {"\\x4", NULL},       {"\\xzz", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = bound_value(PGOID_BYTEA, 0, cases[i].in, (int)strlen(cases[i].in));
        if (cases[i].out ? strcmp(got, cases[i].out) != 0
                         : strncmp(got, "ERROR: invalid input syntax", 27) != 0)
            fprintf(stderr, "    %s: %s\n", cases[i].in, got);
        CHECK(cases[i].out ? !strcmp(got, cases[i].out) : !strncmp(got, "ERROR: invalid input syntax", 27));
    }
    db_close();
}

/* DECIMAL and the integers sent as numeric, in binary: the bytes PostgreSQL 15's numeric_send gives. */
static void test_numeric_binary_as_postgresql(void)
{
    CHECK(db_open());
    duckdb_result res;
    CHECK(query(
        "SELECT 12.50::DECIMAL(10,2), -0.05::DECIMAL(4,2), 0::DECIMAL(4,2), 123456789.0001::DECIMAL(18,4),"
        " 10000::HUGEINT, 170141183460469231731687303715884105727::HUGEINT, 0.000001::DECIMAL(18,6),"
        " -1.5::DECIMAL(38,30), 18446744073709551615::UBIGINT",
        &res));
    static const char *const want[] = {
        "0002000000000002000c1388",
        "0001ffff4000000201f4",
        "0000000000000002",
        "0004000200000004000109291a850001",
        "00010001000000000001",
        "000a00090000000000aa0583209a01d5090d0c601c871bf620da165f",
        "0001fffe000000060064",
        "000200004000001e00011388",
        "000500040000000007341a5802e103bb064f",
    };
    struct pgbuf b;
    struct cells c;
    CHECK(first_row_binary(&res, &b, &c));
    for (int i = 0; i < 9; i++) {
        char hex[128] = "";
        for (int k = 0; k < c.len[i] && k < 60; k++)
            snprintf(hex + 2 * k, 3, "%02x", (unsigned char)c.val[i][k]);
        if (strcmp(hex, want[i]) != 0)
            fprintf(stderr, "    column %d: got %s, want %s\n", i, hex, want[i]);
        CHECK(strcmp(hex, want[i]) == 0);
    }
    pgbuf_free(&b);
    duckdb_destroy_result(&res);
    db_close();
}

/* A value with no encoder in its format: the row is dropped whole and the column named. */
static void test_data_row_without_encoder(void)
{
    CHECK(db_open());
    duckdb_result res;
    CHECK(duckdb_query(con, "SELECT 1, [2.5], '101'::BIT", &res) == DuckDBSuccess);
    duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
    struct pgbuf b;
    pgbuf_init(&b);
    pgwire_ready(&b, 'I');
    size_t before = b.len;
    int16_t binary[] = {1, 1, 0};
    struct pgtypes_row *enc = pgtypes_row_new(&res, 3, binary); /* a LIST has no binary form here */
    pgtypes_row_chunk(enc, chunk);
    int bad = -1;
    CHECK(pgtypes_data_row(&b, enc, 0, &bad) == -1);
    CHECK_EQ_INT(bad, 1);
    CHECK_EQ_INT(b.len, before);
    pgtypes_row_free(enc);
    enc = pgtypes_row_new(&res, 0, NULL); /* and BIT has no text form */
    pgtypes_row_chunk(enc, chunk);
    CHECK(pgtypes_data_row(&b, enc, 0, &bad) == -1);
    CHECK_EQ_INT(bad, 2);
    CHECK_EQ_INT(b.len, before);
    pgtypes_row_free(enc);
    pgbuf_free(&b);
    duckdb_destroy_data_chunk(&chunk);
    duckdb_destroy_result(&res);
    db_close();
}

/* ------------------------------------------------------------ HTTP API */

/* The renderer's CSV text of each row of column 0 of sql, checked by each against column 1. */
static void http_texts(const char *sql, void (*each)(const char *got, duckdb_vector v, idx_t row, int *bad),
                       int *bad)
{
    duckdb_result res;
    CHECK(query(sql, &res));
    duckdb_logical_type lt = duckdb_column_logical_type(&res, 0);
    struct http_rtype *t;
    char why[200];
    CHECK(http_rtype_new(lt, &t, why, sizeof why) == 0);
    duckdb_destroy_logical_type(&lt);
    duckdb_data_chunk chunk;
    while ((chunk = duckdb_fetch_chunk(res)) != NULL) {
        duckdb_vector v = duckdb_data_chunk_get_vector(chunk, 0);
        for (idx_t r = 0; r < duckdb_data_chunk_get_size(chunk); r++) {
            struct dp_buf b = DP_BUF_INIT;
            http_render_csv(&b, t, v, r);
            each(b.data ? b.data : "", duckdb_data_chunk_get_vector(chunk, 1), r, bad);
            dp_buf_free(&b);
        }
        duckdb_destroy_data_chunk(&chunk);
    }
    http_rtype_free(t);
    duckdb_destroy_result(&res);
}

/* A double as the renderer wrote it before: the first of %.15g, %.16g, %.17g that reads back. */
static void check_double(const char *got, duckdb_vector v, idx_t row, int *bad)
{
    double d = ((double *)duckdb_vector_get_data(v))[row];
    char want[40];
    for (int p = 15; p <= 17; p++) {
        snprintf(want, sizeof want, "%.*g", p, d);
        if (strtod(want, NULL) == d)
            break;
    }
    /* where the interval of d is narrower below it (a power of two), printf's
     * correctly rounded 16 digits can miss while another 16 digits read back */
    if (strcmp(got, want) != 0 && !(strtod(got, NULL) == d && strlen(got) < strlen(want))) {
        if (++*bad < 5)
            fprintf(stderr, "    %.17g: got %s, want %s\n", d, got, want);
    }
}

/* A value as DuckDB's cast prints it (column 1), but with " (BC)" moved to the end, where the renderer puts it. */
static void check_cast(const char *got, duckdb_vector want_v, idx_t row, int *bad)
{
    duckdb_string_t *w = &((duckdb_string_t *)duckdb_vector_get_data(want_v))[row];
    char want[128];
    snprintf(want, sizeof want, "%.*s", (int)duckdb_string_t_length(*w), duckdb_string_t_data(w));
    char *bc = strstr(want, " (BC)");
    if (bc) {
        memmove(bc, bc + 5, strlen(bc + 5) + 1);
        strcat(want, " (BC)");
    }
    if (strcmp(got, want) != 0 && ++*bad < 5)
        fprintf(stderr, "    got %s, want %s\n", got, want);
}

static void test_http_render_as_before(void)
{
    CHECK(db_open());
    int bad = 0;
    http_texts("SELECT x, x FROM (SELECT (random() * 2 - 1) * pow(10, (random() * 600 - 300)::INT) AS x"
               " FROM range(20000)"
               " UNION ALL SELECT x FROM (VALUES (0.1 + 0.2), (1e15 + 0.25), (38329434366312896.0), (5e-324),"
               " (1.7976931348623157e308), (1e16), (1e17), (1e21), (123456789012345.6), (-0.0)) t(x))",
               check_double, &bad);
    http_texts("SELECT x, x::VARCHAR FROM (SELECT make_timestamp(((random() * 2 - 1) * 9.2e18)::BIGINT) AS x"
               " FROM range(10000))",
               check_cast, &bad);
    http_texts("SELECT x, x::VARCHAR FROM (SELECT DATE '1970-01-01' + (random() * 2e6 - 1e6)::INTEGER AS x"
               " FROM range(10000))",
               check_cast, &bad);
    http_texts(
        "SELECT x, x::VARCHAR FROM (SELECT (random() * 2e10 - 1e10)::DECIMAL(38,20) AS x FROM range(3000))",
        check_cast, &bad);
    CHECK_EQ_INT(bad, 0);
    db_close();
}

TEST_MAIN(TEST_ENTRY(test_shortest_double_matches_printf), TEST_ENTRY(test_shortest_float_matches_printf),
          TEST_ENTRY(test_float_text_as_postgresql), TEST_ENTRY(test_integers_and_decimals),
          TEST_ENTRY(test_civil_dates_match_duckdb), TEST_ENTRY(test_temporal_text_matches_duckdb_cast),
          TEST_ENTRY(test_data_rows_text), TEST_ENTRY(test_data_rows_binary),
          TEST_ENTRY(test_numeric_binary_as_postgresql), TEST_ENTRY(test_data_row_without_encoder),
          TEST_ENTRY(test_http_render_as_before), TEST_ENTRY(test_binary_infinities_out),
          TEST_ENTRY(test_binary_infinities_in), TEST_ENTRY(test_bytea_text_escapes))
