/*
 * ticks.h -- the tick generator behind `duckpond ticks`: synthetic trades
 * and quotes (geometric Brownian motion per symbol, a bid and an ask
 * around the price, bursts of activity) at a given rate, deterministic for
 * a seed, written as InfluxDB line protocol, PostgreSQL COPY text or NDJSON.
 *
 * Three parts: the model (ticks_gen.c: no I/O, so it is tested alone), the
 * destinations (ticks_sink.c: standard output, line protocol over TCP or
 * HTTP, duckpond's NDJSON ingest, PostgreSQL COPY) and the command (ticks.c:
 * options, pacing to the rate, the totals).
 */
#ifndef DUCKPOND_TICKS_H
#define DUCKPOND_TICKS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* What the model is asked for; ticks_options_default fills the defaults. */
struct ticks_options {
    int symbols;             /* how many symbols (1..100000) */
    double rate;             /* rows (trades + quotes) per second of market time */
    uint64_t seed;           /* same seed, same ticks */
    int64_t start_us;        /* market time of the first tick, µs since the Unix epoch (UTC) */
    double quotes_per_trade; /* quotes for each trade, on average */
};

void ticks_options_default(struct ticks_options *opt);

enum ticks_kind { TICKS_TRADE, TICKS_QUOTE };

/* One tick: a trade (price, size) or a quote (bid, ask and their sizes). */
struct tick {
    enum ticks_kind kind;
    int64_t ts_us; /* µs since the Unix epoch, UTC */
    int symbol;    /* index; ticks_gen_symbol names it */
    double price, bid, ask;
    int64_t size, bid_size, ask_size;
};

struct ticks_gen;

/* A model for opt (copied). NULL when memory runs out or opt is out of range. */
struct ticks_gen *ticks_gen_new(const struct ticks_options *opt);
void ticks_gen_free(struct ticks_gen *g);

/* The next tick, in time order (ties keep their order). */
void ticks_gen_next(struct ticks_gen *g, struct tick *t);

/* The name of symbol i (owned by g, valid while it lives). */
const char *ticks_gen_symbol(const struct ticks_gen *g, int i);

/* How a tick is written: one line each, appended to b. The table is
 * "trades" or "quotes" after the kind; the columns are those of
 * ticks_table_sql. */
enum ticks_format {
    TICKS_ILP,    /* InfluxDB line protocol, nanosecond timestamps, symbol a tag */
    TICKS_COPY,   /* PostgreSQL COPY text: tab-separated, ISO timestamps */
    TICKS_NDJSON, /* one JSON object per line, ISO timestamps */
};

void ticks_format(struct dp_buf *b, enum ticks_format f, const struct ticks_gen *g, const struct tick *t);

/* The table a kind of tick goes to, and its CREATE TABLE IF NOT EXISTS. */
const char *ticks_table(enum ticks_kind k);
const char *ticks_table_sql(enum ticks_kind k);

/* `duckpond ticks ARGS`: argv holds the arguments after "ticks". Returns
 * the process exit status (0, 1 on a failed destination, 2 on bad usage). */
int ticks_main(int argc, char **argv);

#endif
