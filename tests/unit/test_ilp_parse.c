/*
 * test_ilp_parse.c -- the line protocol parser and framer (ilp_parse.c):
 * every escape InfluxDB documents, every field type and its spellings,
 * comments and blank lines, the bad lines with their reasons, framing of
 * a stream cut at every byte, quoted newlines, and the precisions. Every
 * line is parsed from a copy of exactly its length, so a read past the
 * end shows under ASan.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "ilp_parse.h"

#include "testlib.h"

static struct ilp_parser ps;
static struct ilp_line ln;
static char *copy;

/* Parses text (from an exact-length copy) into ln. */
static enum ilp_result parse(const char *text)
{
    size_t n = strlen(text);
    free(copy);
    copy = malloc(n ? n : 1);
    memcpy(copy, text, n);
    return ilp_parse_line(&ps, copy, n, &ln);
}

static bool str_is(struct ilp_str s, const char *want)
{
    return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static void test_simple_line(void)
{
    ilp_parser_init(&ps);
    CHECK_EQ_INT(parse("trades,sym=AAPL,venue=X price=1.5,size=100i,ok=t,note=\"hi\" 1700000000000000000"),
                 ILP_LINE);
    CHECK(str_is(ln.measurement, "trades"));
    CHECK_EQ_INT(ln.ntags, 2);
    CHECK(str_is(ln.tags[0].key, "sym") && str_is(ln.tags[0].value, "AAPL"));
    CHECK(str_is(ln.tags[1].key, "venue") && str_is(ln.tags[1].value, "X"));
    CHECK_EQ_INT(ln.nfields, 4);
    CHECK(ln.fields[0].type == ILP_FLOAT && ln.fields[0].v.f == 1.5);
    CHECK(ln.fields[1].type == ILP_INT && ln.fields[1].v.i == 100);
    CHECK(ln.fields[2].type == ILP_BOOL && ln.fields[2].v.b);
    CHECK(ln.fields[3].type == ILP_STRING && str_is(ln.fields[3].v.s, "hi"));
    CHECK(ln.has_ts && ln.ts == 1700000000000000000LL);
    CHECK_EQ_INT(parse("m v=1"), ILP_LINE);
    CHECK(!ln.has_ts && ln.ntags == 0 && ln.nfields == 1);
    CHECK_EQ_INT(parse("m v=1 -5\r"), ILP_LINE);
    CHECK(ln.has_ts && ln.ts == -5);
    CHECK_EQ_INT(parse("m v=1 12  "), ILP_LINE);
    CHECK(ln.ts == 12);
    ilp_parser_free(&ps);
}

static void test_escapes(void)
{
    ilp_parser_init(&ps);
    /* measurement: comma and space escaped; '=' needs none, "\=" stays as it is */
    CHECK_EQ_INT(parse("my\\ me\\,as=x\\=y,t\\ k\\=\\,=v\\ 1\\,\\= f\\ k\\=\\,=\"s\\\"q\\\\b\\n\" 1"),
                 ILP_LINE);
    CHECK(str_is(ln.measurement, "my me,as=x\\=y"));
    CHECK(str_is(ln.tags[0].key, "t k=,"));
    CHECK(str_is(ln.tags[0].value, "v 1,="));
    CHECK(str_is(ln.fields[0].key, "f k=,"));
    CHECK(str_is(ln.fields[0].v.s, "s\"q\\b\\n"));
    /* InfluxDB's backslash examples: "\\" is one backslash, "\m" is itself */
    CHECK_EQ_INT(parse("my\\\\measurement f=\"string\\\\\\\\value\""), ILP_LINE);
    CHECK(str_is(ln.measurement, "my\\measurement"));
    CHECK(str_is(ln.fields[0].v.s, "string\\\\value"));
    CHECK_EQ_INT(parse("my\\\\\\measurement f=1"), ILP_LINE);
    CHECK(str_is(ln.measurement, "my\\\\measurement"));
    /* a string may hold commas, spaces, '=', newlines and '#' */
    CHECK_EQ_INT(parse("m s=\"a, b=c\nd #e\",x=1i"), ILP_LINE);
    CHECK(str_is(ln.fields[0].v.s, "a, b=c\nd #e") && ln.fields[1].v.i == 1);
    CHECK_EQ_INT(parse("m s=\"\""), ILP_LINE);
    CHECK(ln.fields[0].type == ILP_STRING && ln.fields[0].v.s.n == 0);
    /* UTF-8 passes through */
    CHECK_EQ_INT(parse("m\xc3\xa9,t=\xe2\x82\xac f=1"), ILP_LINE);
    CHECK(str_is(ln.measurement, "m\xc3\xa9") && str_is(ln.tags[0].value, "\xe2\x82\xac"));
    ilp_parser_free(&ps);
}

static void test_types(void)
{
    ilp_parser_init(&ps);
    CHECK_EQ_INT(parse("m a=-9223372036854775808i,b=9223372036854775807i,c=18446744073709551615u,d=0u"),
                 ILP_LINE);
    CHECK(ln.fields[0].v.i == INT64_MIN && ln.fields[1].v.i == INT64_MAX);
    CHECK(ln.fields[2].type == ILP_UINT && ln.fields[2].v.u == UINT64_MAX && ln.fields[3].v.u == 0);
    CHECK_EQ_INT(parse("m a=1,b=-1.5,c=1e3,d=1.5E-3,e=.5,f=5.,g=+2"), ILP_LINE);
    double want[] = {1, -1.5, 1000, 0.0015, 0.5, 5, 2};
    for (int i = 0; i < 7; i++)
        CHECK(ln.fields[i].type == ILP_FLOAT && ln.fields[i].v.f == want[i]);
    const char *yes[] = {"t", "T", "true", "True", "TRUE"}, *no[] = {"f", "F", "false", "False", "FALSE"};
    for (int i = 0; i < 5; i++) {
        char line[64];
        snprintf(line, sizeof line, "m a=%s,b=%s", yes[i], no[i]);
        CHECK_EQ_INT(parse(line), ILP_LINE);
        CHECK(ln.fields[0].type == ILP_BOOL && ln.fields[0].v.b && !ln.fields[1].v.b);
    }
    ilp_parser_free(&ps);
}

/* A bad line: ILP_ERROR whose reason holds want. */
static bool bad(const char *line, const char *want)
{
    if (parse(line) != ILP_ERROR || !strstr(ps.why, want)) {
        fprintf(stderr, "    %s: got \"%s\", want \"%s\"\n", line, ps.why, want);
        return false;
    }
    return true;
}

static void test_bad_lines(void)
{
    ilp_parser_init(&ps);
    CHECK(bad("m", "at least one field"));
    CHECK(bad("m,t=1", "at least one field"));
    CHECK(bad("m ", "at least one field"));
    CHECK(bad(",t=1 f=1", "measurement is empty"));
    CHECK(bad("m,=1 f=1", "empty key"));
    CHECK(bad("m,t= f=1", "empty value"));
    CHECK(bad("m,t f=1", "no '='"));
    CHECK(bad("m,t=a=b f=1", "unescaped '='"));
    CHECK(bad("m f", "no '='"));
    CHECK(bad("m f=", "has no value"));
    CHECK(bad("m =1", "empty key"));
    CHECK(bad("m f=1,", "empty key"));
    CHECK(bad("m f=abc", "is not a number"));
    CHECK(bad("m f=1.5i", "is not a number"));
    CHECK(bad("m f=-1u", "is not a number"));
    CHECK(bad("m f=1e", "is not a number"));
    CHECK(bad("m f=NaN", "is not a number"));
    CHECK(bad("m f=1e999", "float out of range"));
    CHECK(bad("m f=9223372036854775808i", "integer out of range"));
    CHECK(bad("m f=-9223372036854775809i", "integer out of range"));
    CHECK(bad("m f=18446744073709551616u", "unsigned integer out of range"));
    CHECK(bad("m f=\"abc", "not closed"));
    CHECK(bad("m f=\"a\"b", "after a field value"));
    CHECK(bad("m f=1 abc", "not an integer"));
    CHECK(bad("m f=1 99999999999999999999", "out of range"));
    CHECK(bad("m f=1 1 2", "after the timestamp"));
    CHECK(bad("m\tf=1", "at least one field"));
    CHECK_EQ_INT(parse("m f=1 12"), ILP_LINE); /* a good line after bad ones */
    CHECK_STR_CONTAINS((parse("m f=x"), ps.why), "at byte 5");
    ilp_parser_free(&ps);
}

static void test_comments_and_blanks(void)
{
    ilp_parser_init(&ps);
    CHECK_EQ_INT(parse(""), ILP_SKIP);
    CHECK_EQ_INT(parse("   \t"), ILP_SKIP);
    CHECK_EQ_INT(parse("\r"), ILP_SKIP);
    CHECK_EQ_INT(parse("# a comment f=\"x"), ILP_SKIP);
    CHECK_EQ_INT(parse("  # indented"), ILP_SKIP);
    CHECK_EQ_INT(parse("  m f=1"), ILP_LINE);
    CHECK(str_is(ln.measurement, "m"));
    ilp_parser_free(&ps);
}

static void test_many_columns(void)
{
    ilp_parser_init(&ps);
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_str(&b, "m");
    for (int i = 0; i < 10; i++)
        dp_buf_printf(&b, ",t%d=v", i);
    dp_buf_str(&b, " ");
    for (int i = 0; i < ILP_MAX_COLUMNS - 10; i++)
        dp_buf_printf(&b, "%sf%d=%di", i ? "," : "", i, i);
    CHECK_EQ_INT(parse(b.data), ILP_LINE);
    CHECK_EQ_INT(ln.nfields, ILP_MAX_COLUMNS - 10);
    CHECK(ln.fields[500].v.i == 500);
    dp_buf_str(&b, ",one=1i");
    CHECK(bad(b.data, "tags and fields"));
    dp_buf_free(&b);
    ilp_parser_free(&ps);
}

/* Frames text fed in pieces of size step; the lines found, joined by '|'. */
static char *frame_all(const char *text, size_t step)
{
    struct ilp_framer f = {0};
    struct dp_buf out = DP_BUF_INIT, pending = DP_BUF_INIT;
    size_t n = strlen(text);
    for (size_t at = 0; at < n; at += step) {
        size_t k = n - at < step ? n - at : step;
        dp_buf_add(&pending, text + at, k);
        long len;
        while (pending.len && (len = ilp_frame(&f, pending.data, pending.len)) >= 0) {
            dp_buf_add(&out, pending.data, (size_t)len);
            dp_buf_byte(&out, '|');
            memmove(pending.data, pending.data + len + 1, pending.len - (size_t)len - 1);
            dp_buf_truncate(&pending, pending.len - (size_t)len - 1);
        }
    }
    dp_buf_free(&pending);
    return dp_buf_take(&out, NULL);
}

static void test_framing(void)
{
    const char *text =
        "a f=1\n\n# c \"x\n  # d\nb,t=x\\ y s=\"l1\nl2\\\"\n\",g=1 5\nc\\\nd f=2\nm f=\"x\" 1\n";
    const char *want = "a f=1||# c \"x|  # d|b,t=x\\ y s=\"l1\nl2\\\"\n\",g=1 5|c\\\nd f=2|m f=\"x\" 1|";
    for (size_t step = 1; step <= strlen(text); step++) {
        char *got = frame_all(text, step);
        if (strcmp(got, want) != 0)
            fprintf(stderr, "    step %zu: %s\n", step, got);
        CHECK(strcmp(got, want) == 0);
        free(got);
    }
    /* an unterminated line is not returned */
    char *got = frame_all("a f=1\nb f=2", 3);
    CHECK(strcmp(got, "a f=1|") == 0);
    free(got);
}

static void test_precision(void)
{
    enum ilp_precision p;
    int64_t ns;
    CHECK(ilp_precision_parse("ns", &p) == 0 && p == ILP_NS);
    CHECK(ilp_precision_parse("u", &p) == 0 && p == ILP_US);
    CHECK(ilp_precision_parse("ms", &p) == 0 && p == ILP_MS);
    CHECK(ilp_precision_parse("s", &p) == 0 && p == ILP_S);
    CHECK(ilp_precision_parse("h", &p) == -1);
    CHECK(ilp_ts_to_ns(1700000000, ILP_S, &ns) == 0 && ns == 1700000000000000000LL);
    CHECK(ilp_ts_to_ns(-3, ILP_MS, &ns) == 0 && ns == -3000000);
    CHECK(ilp_ts_to_ns(1700000000000000LL, ILP_US, &ns) == 0 && ns == 1700000000000000000LL);
    CHECK(ilp_ts_to_ns(10000000000LL, ILP_S, &ns) == -1);
    CHECK(strcmp(ilp_type_name(ILP_UINT), "unsigned integer") == 0);
}

/* Compares ilp_fast_float with strtod on text: the same bits, or the fast path declines. */
static bool fast_agrees(const char *text, size_t *taken)
{
    double fast = 0, slow = strtod(text, NULL);
    if (!ilp_fast_float(text, strlen(text), &fast))
        return true;
    ++*taken;
    if (memcmp(&fast, &slow, sizeof fast) == 0)
        return true;
    fprintf(stderr, "    %s: fast %.17g, strtod %.17g\n", text, fast, slow);
    return false;
}

/*
 * The fast float path rounds exactly as strtod, bit for bit: prices as
 * feeds print them (shortest round-trip forms, fixed decimals), random
 * digit strings of every length, exponents at and past the fast path's
 * limits, signs and zeros.
 */
static void test_fast_float(void)
{
    size_t taken = 0, bad = 0;
    char buf[64];
    unsigned long long x = 88172645463325252ULL; /* xorshift: the same values on every run */
    for (int i = 0; i < 2000000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v = (double)(x % 100000000) / (double)(1 + x / 7 % 100000);
        switch (i % 6) {
        case 0: snprintf(buf, sizeof buf, "%.17g", v); break;
        case 1: snprintf(buf, sizeof buf, "%.15g", v); break;
        case 2: snprintf(buf, sizeof buf, "%.2f", v); break;
        case 3: snprintf(buf, sizeof buf, "%llu.%llu", x % 100000, (x >> 20) % 1000000000000ULL); break;
        case 4:
            snprintf(buf, sizeof buf, "-%llue%d", x % 10000000000000000ULL, (int)(x >> 40) % 50 - 25);
            break;
        default:
            snprintf(buf, sizeof buf, "%.*f", (int)(x >> 50) % 20, 100 + (double)(x % 1000) / 100);
            break;
        }
        bad += !fast_agrees(buf, &taken);
    }
    static const char *const edge[] = {"0",
                                       "-0",
                                       "+0.0",
                                       "0e400",
                                       "1e22",
                                       "1e23",
                                       "1e-22",
                                       "1e-23",
                                       "9007199254740992",
                                       "9007199254740993",
                                       "9007199254740991.5",
                                       "4.9e-324",
                                       "1.7976931348623157e308",
                                       "123456789012345678901234567890",
                                       "0.1",
                                       "100.02000000000001",
                                       "-3",
                                       "1.",
                                       ".5",
                                       "+7E+2"};
    for (size_t k = 0; k < sizeof edge / sizeof *edge; k++)
        bad += !fast_agrees(edge[k], &taken);
    CHECK(bad == 0);
    CHECK(taken > 1000000); /* the common forms do take the fast path */
    double d = 1;
    CHECK(ilp_fast_float("-0", 2, &d) && d == 0 && signbit(d));
    CHECK(!ilp_fast_float("1e23", 4, &d));
    CHECK(!ilp_fast_float("9007199254740993", 16, &d));
    CHECK(parse("m f=2.5") == ILP_LINE && ln.fields[0].type == ILP_FLOAT && ln.fields[0].v.f == 2.5);
    CHECK(parse("m f=-0.000125") == ILP_LINE && ln.fields[0].v.f == -0.000125);
}

TEST_MAIN(TEST_ENTRY(test_simple_line), TEST_ENTRY(test_escapes), TEST_ENTRY(test_types),
          TEST_ENTRY(test_bad_lines), TEST_ENTRY(test_comments_and_blanks), TEST_ENTRY(test_many_columns),
          TEST_ENTRY(test_framing), TEST_ENTRY(test_precision), TEST_ENTRY(test_fast_float))
