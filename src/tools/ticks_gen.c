/*
 * ticks_gen.c -- the tick generator's market model and its three line
 * formats; no I/O, so the same seed gives the same ticks anywhere.
 *
 * Each symbol's price follows geometric Brownian motion in market time
 * (its own volatility, drawn at the start), moved on each of its ticks by
 * the time since its last one. Ticks arrive as a Poisson process of the
 * asked rate, modulated by two regimes in market time: calm spells (3 s on
 * average) at 0.625 of the rate, and bursts (0.75 s on average) at 2.5x, in
 * which one hot symbol takes half the ticks with four times its volatility
 * and trades are larger. The mean rate stays the asked one. Symbols are picked by a
 * Zipf-like weight, so a few are busy and many quiet. A quote puts a bid
 * and an ask, on whole cents, around the price at the symbol's spread; a
 * trade is at the symbol's bid or ask (or the price, before its first
 * quote).
 *
 * The random numbers are xoshiro256** seeded through splitmix64: plain
 * integer arithmetic, the same on every machine.
 */
#include "ticks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECONDS_PER_YEAR (252.0 * 6.5 * 3600.0) /* of trading, for annual volatilities */
#define CALM_SECONDS 3.0                        /* a calm spell lasts this long on average, */
#define BURST_SECONDS 0.75                      /* a burst this long: a fifth of the time */
#define CALM_RATE 0.625                         /* times the rate: 0.8 * 0.625 + 0.2 * 2.5 = 1 */
#define BURST_RATE 2.5

struct symbol_state {
    char name[16];
    double price, sigma; /* sigma: per square root of a second */
    double spread_bps;   /* typical full spread */
    double last_s;       /* market time of its last tick, s from the start */
    double bid, ask;     /* its last quote; 0 before one */
};

struct ticks_gen {
    struct ticks_options opt;
    uint64_t s[4];       /* xoshiro256** state */
    double spare_normal; /* Box-Muller's second value */
    bool has_spare;
    double now_s;       /* market time of the last tick, s from the start */
    double *cumulative; /* Zipf weights, summed, for picking a symbol */
    struct symbol_state *sym;
    bool burst;
    int hot;
};

/* Names that read like a desk's screen; past them SYM0025, SYM0026, ... */
static const char *const known_names[] = {"AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "JPM",
                                          "V",    "XOM",  "UNH",  "JNJ",  "WMT",  "MA",   "PG",   "HD",
                                          "CVX",  "KO",   "PEP",  "BAC",  "COST", "MRK",  "ABBV", "AVGO"};
#define N_KNOWN (int)(sizeof known_names / sizeof known_names[0])

void ticks_options_default(struct ticks_options *opt)
{
    opt->symbols = 20;
    opt->rate = 1000;
    opt->seed = 1;
    opt->start_us = 1767346200LL * 1000000; /* 2026-01-02 09:30:00 UTC */
    opt->quotes_per_trade = 2;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(struct ticks_gen *g)
{
    uint64_t *s = g->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static double uniform(struct ticks_gen *g)
{
    return (double)(next_u64(g) >> 11) * 0x1.0p-53;
}

/* Standard normal (Box-Muller, both values used). */
static double normal(struct ticks_gen *g)
{
    if (g->has_spare) {
        g->has_spare = false;
        return g->spare_normal;
    }
    double u = 1.0 - uniform(g), v = uniform(g), r = sqrt(-2.0 * log(u));
    g->spare_normal = r * sin(2 * M_PI * v);
    g->has_spare = true;
    return r * cos(2 * M_PI * v);
}

/* Symbol i's name, starting price (10 to 500, log-uniform), volatility and spread. */
static void init_symbol(struct ticks_gen *g, int i)
{
    struct symbol_state *s = &g->sym[i];
    if (i < N_KNOWN)
        snprintf(s->name, sizeof s->name, "%s", known_names[i]);
    else
        snprintf(s->name, sizeof s->name, "SYM%04d", i + 1);
    s->price = exp(log(10.0) + uniform(g) * (log(500.0) - log(10.0)));
    s->sigma = (0.2 + 0.7 * uniform(g)) / sqrt(SECONDS_PER_YEAR);
    s->spread_bps = 1.0 + 9.0 * uniform(g);
}

struct ticks_gen *ticks_gen_new(const struct ticks_options *opt)
{
    if (opt->symbols < 1 || opt->symbols > 100000 || !(opt->rate > 0) || !(opt->quotes_per_trade >= 0))
        return NULL;
    struct ticks_gen *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->opt = *opt;
    g->sym = calloc((size_t)opt->symbols, sizeof *g->sym);
    g->cumulative = calloc((size_t)opt->symbols, sizeof *g->cumulative);
    if (!g->sym || !g->cumulative) {
        ticks_gen_free(g);
        return NULL;
    }
    uint64_t x = opt->seed;
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&x);
    double total = 0;
    for (int i = 0; i < opt->symbols; i++) {
        init_symbol(g, i);
        total += 1.0 / pow(i + 1, 0.8);
        g->cumulative[i] = total;
    }
    return g;
}

void ticks_gen_free(struct ticks_gen *g)
{
    if (!g)
        return;
    free(g->sym);
    free(g->cumulative);
    free(g);
}

const char *ticks_gen_symbol(const struct ticks_gen *g, int i)
{
    return g->sym[i].name;
}

/* A symbol by its Zipf weight: the first whose running sum passes u * total. */
static int pick_symbol(struct ticks_gen *g)
{
    int n = g->opt.symbols, lo = 0, hi = n - 1;
    double want = uniform(g) * g->cumulative[n - 1];
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (g->cumulative[mid] > want)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Moves to the next tick's time, and maybe to the other regime: a spell
 * ends within the gap with the probability an exponential lifetime gives. */
static void advance_clock(struct ticks_gen *g)
{
    double gap = -log(1.0 - uniform(g)) / (g->opt.rate * (g->burst ? BURST_RATE : CALM_RATE));
    g->now_s += gap;
    if (uniform(g) < 1.0 - exp(-gap / (g->burst ? BURST_SECONDS : CALM_SECONDS))) {
        g->burst = !g->burst;
        if (g->burst)
            g->hot = pick_symbol(g);
    }
}

/* The symbol's price moved over the time since its last tick. */
static void move_price(struct ticks_gen *g, int i, bool hot)
{
    struct symbol_state *s = &g->sym[i];
    double dt = g->now_s - s->last_s, sigma = s->sigma * (hot ? 4 : 1);
    s->last_s = g->now_s;
    s->price *= exp(-0.5 * sigma * sigma * dt + sigma * sqrt(dt) * normal(g));
    if (s->price < 0.05)
        s->price = 0.05;
}

/* A quote around the symbol's price at its spread, on whole cents; kept as its last quote. */
static void make_quote(struct ticks_gen *g, struct symbol_state *s, struct tick *t)
{
    double half = s->price * s->spread_bps * (0.5 + uniform(g)) / 2e4;
    s->bid = floor((s->price - half) * 100) / 100;
    s->ask = ceil((s->price + half) * 100) / 100;
    if (s->bid < 0.01)
        s->bid = 0.01;
    if (s->ask <= s->bid)
        s->ask = s->bid + 0.01;
    t->kind = TICKS_QUOTE;
    t->bid = s->bid;
    t->ask = s->ask;
    t->bid_size = 100 * (1 + (int64_t)(uniform(g) * 20));
    t->ask_size = 100 * (1 + (int64_t)(uniform(g) * 20));
}

/* A trade at the symbol's last bid or ask (a buyer lifts the ask), larger in a burst. */
static void make_trade(struct ticks_gen *g, struct symbol_state *s, bool hot, struct tick *t)
{
    bool buy = uniform(g) < 0.5;
    t->kind = TICKS_TRADE;
    t->price = s->bid > 0 ? (buy ? s->ask : s->bid) : round(s->price * 100) / 100;
    double size = exp(1.2 * normal(g)) * (hot ? 300 : 100);
    t->size = size < 1 ? 1 : (int64_t)size;
}

void ticks_gen_next(struct ticks_gen *g, struct tick *t)
{
    advance_clock(g);
    int i = g->burst && uniform(g) < 0.5 ? g->hot : pick_symbol(g);
    bool hot = g->burst && i == g->hot;
    move_price(g, i, hot);
    memset(t, 0, sizeof *t);
    t->symbol = i;
    t->ts_us = g->opt.start_us + (int64_t)(g->now_s * 1e6);
    if (uniform(g) * (1 + g->opt.quotes_per_trade) < 1)
        make_trade(g, &g->sym[i], hot, t);
    else
        make_quote(g, &g->sym[i], t);
}

const char *ticks_table(enum ticks_kind k)
{
    return k == TICKS_TRADE ? "trades" : "quotes";
}

const char *ticks_table_sql(enum ticks_kind k)
{
    return k == TICKS_TRADE
               ? "CREATE TABLE IF NOT EXISTS trades (ts TIMESTAMP, symbol VARCHAR, price DOUBLE PRECISION, "
                 "size BIGINT)"
               : "CREATE TABLE IF NOT EXISTS quotes (ts TIMESTAMP, symbol VARCHAR, bid DOUBLE PRECISION, "
                 "ask DOUBLE PRECISION, bid_size BIGINT, ask_size BIGINT)";
}

/* "YYYY-MM-DD HH:MM:SS.ffffff" of ts_us into out (27 bytes with the NUL). */
static void iso_time(int64_t ts_us, char out[32])
{
    time_t secs = (time_t)(ts_us / 1000000);
    int64_t micros = ts_us % 1000000;
    if (micros < 0) {
        micros += 1000000;
        secs--;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%06lld", (long long)micros);
}

void ticks_format(struct dp_buf *b, enum ticks_format f, const struct ticks_gen *g, const struct tick *t)
{
    const char *sym = g->sym[t->symbol].name;
    bool trade = t->kind == TICKS_TRADE;
    char ts[32];
    if (f == TICKS_ILP) {
        if (trade)
            dp_buf_printf(b, "trades,symbol=%s price=%.2f,size=%lldi %lld000\n", sym, t->price,
                          (long long)t->size, (long long)t->ts_us);
        else
            dp_buf_printf(b, "quotes,symbol=%s bid=%.2f,ask=%.2f,bid_size=%lldi,ask_size=%lldi %lld000\n",
                          sym, t->bid, t->ask, (long long)t->bid_size, (long long)t->ask_size,
                          (long long)t->ts_us);
        return;
    }
    iso_time(t->ts_us, ts);
    if (f == TICKS_COPY) {
        if (trade)
            dp_buf_printf(b, "%s\t%s\t%.2f\t%lld\n", ts, sym, t->price, (long long)t->size);
        else
            dp_buf_printf(b, "%s\t%s\t%.2f\t%.2f\t%lld\t%lld\n", ts, sym, t->bid, t->ask,
                          (long long)t->bid_size, (long long)t->ask_size);
    } else if (trade) {
        dp_buf_printf(b, "{\"ts\":\"%s\",\"symbol\":\"%s\",\"price\":%.2f,\"size\":%lld}\n", ts, sym,
                      t->price, (long long)t->size);
    } else {
        dp_buf_printf(b,
                      "{\"ts\":\"%s\",\"symbol\":\"%s\",\"bid\":%.2f,\"ask\":%.2f,\"bid_size\":%lld,"
                      "\"ask_size\":%lld}\n",
                      ts, sym, t->bid, t->ask, (long long)t->bid_size, (long long)t->ask_size);
    }
}
