/*
 * test_ticks.c -- the tick generator's model and formats (src/tools):
 * the same seed gives the same bytes, the rate and the quote ratio hold on
 * average, bursts happen, quotes are sane and trades at the quote, and
 * every line-protocol line parses as InfluxDB's line protocol.
 */
#include <math.h>

#include "testlib.h"
#include "ticks.h"

/* n ticks of opt in format f, as one malloc'd string. */
static char *render(const struct ticks_options *opt, int n, enum ticks_format f)
{
    struct ticks_gen *g = ticks_gen_new(opt);
    if (!g)
        return NULL;
    struct dp_buf b = DP_BUF_INIT;
    struct tick t;
    for (int i = 0; i < n; i++) {
        ticks_gen_next(g, &t);
        ticks_format(&b, f, g, &t);
    }
    ticks_gen_free(g);
    return dp_buf_take(&b, NULL);
}

static void test_same_seed_same_bytes(void)
{
    struct ticks_options opt;
    ticks_options_default(&opt);
    opt.seed = 42;
    for (int f = TICKS_ILP; f <= TICKS_NDJSON; f++) {
        char *a = render(&opt, 20000, (enum ticks_format)f), *b = render(&opt, 20000, (enum ticks_format)f);
        CHECK(a && b);
        CHECK(strcmp(a, b) == 0);
        free(b);
        opt.seed = 43;
        b = render(&opt, 20000, (enum ticks_format)f);
        opt.seed = 42;
        CHECK(b && strcmp(a, b) != 0);
        free(a);
        free(b);
    }
}

/* 200k ticks at 1000 a second span 200 s of market time (give or take
 * the luck of 50 calm-burst cycles), a third of them trades. */
static void test_rate_and_ratio(void)
{
    struct ticks_options opt;
    ticks_options_default(&opt);
    opt.rate = 1000;
    struct ticks_gen *g = ticks_gen_new(&opt);
    CHECK(g);
    struct tick t;
    int64_t first = -1, last = 0, prev = 0;
    int trades = 0, per_second[400] = {0}, n = 200000;
    bool ordered = true;
    for (int i = 0; i < n; i++) {
        ticks_gen_next(g, &t);
        if (first < 0)
            first = t.ts_us;
        ordered = ordered && t.ts_us >= prev;
        prev = last = t.ts_us;
        trades += t.kind == TICKS_TRADE;
        int64_t s = (t.ts_us - opt.start_us) / 1000000;
        if (s >= 0 && s < 400)
            per_second[s]++;
    }
    ticks_gen_free(g);
    CHECK(ordered);
    double span = (double)(last - opt.start_us) / 1e6;
    if (!(span > 180 && span < 220))
        fprintf(stderr, "    200000 ticks at 1000/s span %.1f s\n", span);
    CHECK(span > 180 && span < 220);
    CHECK(trades > n / 3 - n / 50 && trades < n / 3 + n / 50);
    int busiest = 0;
    for (int s = 0; s < 190; s++)
        busiest = per_second[s] > busiest ? per_second[s] : busiest;
    CHECK(busiest > 1500); /* a burst: 2.5x the rate for 0.75 s, on average */
}

/* Quotes have bid < ask on whole cents; a trade is at its symbol's last bid or ask. */
static void test_quotes_and_trades(void)
{
    struct ticks_options opt;
    ticks_options_default(&opt);
    opt.symbols = 50;
    struct ticks_gen *g = ticks_gen_new(&opt);
    CHECK(g);
    double bid[50] = {0}, ask[50] = {0};
    struct tick t;
    int at_quote = 0, trades_after_quote = 0;
    for (int i = 0; i < 100000; i++) {
        ticks_gen_next(g, &t);
        CHECK(t.symbol >= 0 && t.symbol < 50);
        if (t.kind == TICKS_QUOTE) {
            CHECK(t.bid > 0 && t.bid < t.ask);
            CHECK(fabs(t.bid * 100 - round(t.bid * 100)) < 1e-6 &&
                  fabs(t.ask * 100 - round(t.ask * 100)) < 1e-6);
            CHECK(t.bid_size > 0 && t.ask_size > 0);
            bid[t.symbol] = t.bid;
            ask[t.symbol] = t.ask;
        } else if (bid[t.symbol] > 0) {
            trades_after_quote++;
            at_quote += t.price == bid[t.symbol] || t.price == ask[t.symbol];
            CHECK(t.size > 0);
        }
    }
    CHECK(strcmp(ticks_gen_symbol(g, 0), "AAPL") == 0);
    CHECK(strcmp(ticks_gen_symbol(g, 49), "SYM0050") == 0);
    ticks_gen_free(g);
    CHECK(trades_after_quote > 1000);
    CHECK_EQ_INT(at_quote, trades_after_quote);
}

/* One line of InfluxDB line protocol: measurement,tag=v field=v[,field=v] ns.
 * Returns the number of fields, or -1. Integer fields end in i. */
static int parse_ilp(const char *line, char *measurement, size_t mlen)
{
    const char *sp1 = strchr(line, ' '), *comma = strchr(line, ',');
    if (!sp1 || !comma || comma > sp1 || (size_t)(comma - line) >= mlen)
        return -1;
    memcpy(measurement, line, (size_t)(comma - line));
    measurement[comma - line] = '\0';
    if (strncmp(comma + 1, "symbol=", 7) != 0)
        return -1;
    const char *sp2 = strchr(sp1 + 1, ' ');
    if (!sp2 || strchr(sp2 + 1, ' '))
        return -1;
    for (const char *p = sp2 + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    int fields = 0;
    for (const char *f = sp1 + 1; f < sp2;) {
        const char *eq = strchr(f, '='), *end = strchr(f, ',');
        if (!end || end > sp2)
            end = sp2;
        if (!eq || eq > end || eq == f)
            return -1;
        char *stop;
        strtod(eq + 1, &stop);
        if (stop != end && !(stop + 1 == end && *stop == 'i'))
            return -1;
        fields++;
        f = end + 1;
    }
    return fields;
}

static void test_ilp_lines_parse(void)
{
    struct ticks_options opt;
    ticks_options_default(&opt);
    char *text = render(&opt, 5000, TICKS_ILP);
    CHECK(text);
    int lines = 0, bad = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char m[32];
        int fields = parse_ilp(line, m, sizeof m);
        bool ok = (!strcmp(m, "trades") && fields == 2 && strstr(line, ",size=") && strstr(line, "i ")) ||
                  (!strcmp(m, "quotes") && fields == 4 && strstr(line, ",ask_size="));
        if (!ok && bad++ < 3)
            fprintf(stderr, "    bad line: %s\n", line);
        lines++;
    }
    free(text);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(lines, 5000);
    /* the nanosecond timestamp is the start, exactly, at market time 0 */
    struct tick t = {.kind = TICKS_TRADE, .ts_us = opt.start_us, .price = 1.5, .size = 7};
    struct ticks_gen *g = ticks_gen_new(&opt);
    struct dp_buf b = DP_BUF_INIT;
    ticks_format(&b, TICKS_ILP, g, &t);
    ticks_format(&b, TICKS_COPY, g, &t);
    ticks_format(&b, TICKS_NDJSON, g, &t);
    ticks_gen_free(g);
    CHECK(b.data &&
          strcmp(b.data, "trades,symbol=AAPL price=1.50,size=7i 1767346200000000000\n"
                         "2026-01-02 09:30:00.000000\tAAPL\t1.50\t7\n"
                         "{\"ts\":\"2026-01-02 09:30:00.000000\",\"symbol\":\"AAPL\",\"price\":1.50,"
                         "\"size\":7}\n") == 0);
    dp_buf_free(&b);
}

static void test_bad_options(void)
{
    struct ticks_options opt;
    ticks_options_default(&opt);
    opt.symbols = 0;
    CHECK(ticks_gen_new(&opt) == NULL);
    ticks_options_default(&opt);
    opt.rate = 0;
    CHECK(ticks_gen_new(&opt) == NULL);
}

TEST_MAIN(TEST_ENTRY(test_same_seed_same_bytes), TEST_ENTRY(test_rate_and_ratio),
          TEST_ENTRY(test_quotes_and_trades), TEST_ENTRY(test_ilp_lines_parse), TEST_ENTRY(test_bad_options))
