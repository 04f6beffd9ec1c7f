/*
 * ticks.c -- `duckpond ticks`: the command that runs the tick model
 * (ticks_gen.c) at a rate into a destination (ticks_sink.c).
 *
 *   duckpond ticks [--symbols N] [--rate R] [--seed S] [--start TIME]
 *                  [--duration SECONDS | --count ROWS] [--fast]
 *                  [--quotes-per-trade Q] [--batch-ms MS] [--to DEST]
 *
 * Ticks carry market time: the first at --start (default: now), then gaps
 * that average 1/R s. Without --fast a tick is written once its market
 * time has come on the wall clock, in batches every --batch-ms, so the
 * rate is honoured on average and bursts come as bursts; with --fast they
 * are written as fast as the destination takes them (market time still
 * advancing at R, which is how a day of ticks is made in seconds). Same
 * --seed and --start: the same bytes. It stops after --duration seconds
 * of market time or --count rows, or on SIGINT/SIGTERM after writing what
 * it has, and prints the totals on standard error.
 */
#define _GNU_SOURCE
#include "ticks.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "ticks_sink.h"

#define FAST_BATCH_ROWS 50000

struct ticks_run {
    struct ticks_options model;
    double duration_s; /* < 0: no limit */
    long long count;   /* < 0: no limit */
    bool fast;
    int batch_ms;
    const char *to;
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    stop_requested = sig;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: duckpond ticks [--symbols N] [--rate R] [--seed S] [--start TIME]\n"
            "                      [--duration SECONDS | --count ROWS] [--fast]\n"
            "                      [--quotes-per-trade Q] [--batch-ms MS] [--to DEST]\n"
            "  synthetic trades and quotes: N symbols (20), R rows a second (1000), seed S (1),\n"
            "  market time from TIME ('YYYY-MM-DD HH:MM:SS' UTC, or now: the default);\n"
            "  --fast writes as fast as DEST takes them; Q quotes a trade (2); batches every MS (50)\n"
            "  DEST: stdout (line protocol; the default), ilp://HOST:PORT (line protocol over TCP),\n"
            "        ilp+http://HOST:PORT[/PATH] (POSTed, PATH /write?precision=ns),\n"
            "        http://HOST:PORT (duckpond's NDJSON ingest), postgres://... (COPY)\n"
            "  tables trades (ts, symbol, price, size), quotes (ts, symbol, bid, ask, bid_size, ask_size)\n");
}

/* TIME as µs since the epoch: now, or 'YYYY-MM-DD[ T]HH:MM:SS' in UTC. 0, or -1. */
static int parse_start(const char *v, int64_t *out)
{
    if (strcmp(v, "now") == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *out = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        return 0;
    }
    struct tm tm = {0};
    const char *end = strptime(v, "%Y-%m-%d %H:%M:%S", &tm);
    if (!end)
        end = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || *end)
        return -1;
    *out = (int64_t)timegm(&tm) * 1000000;
    return 0;
}

/* A number option; false when v is not one or is out of [lo, hi]. */
static bool number(const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !(d >= lo && d <= hi))
        return false;
    *out = d;
    return true;
}

/* Reads one option and its value; 0, or 2 (bad usage) with the reason printed. */
static int parse_option(struct ticks_run *run, const char *a, const char *v)
{
    double d;
    bool ok = true;
    if (!strcmp(a, "--symbols") && (ok = number(v, 1, 100000, &d)))
        run->model.symbols = (int)d;
    else if (!strcmp(a, "--rate") && (ok = number(v, 0.001, 1e9, &d)))
        run->model.rate = d;
    else if (!strcmp(a, "--seed") && (ok = number(v, 0, 9007199254740992.0, &d)))
        run->model.seed = (uint64_t)d;
    else if (!strcmp(a, "--start"))
        ok = parse_start(v, &run->model.start_us) == 0;
    else if (!strcmp(a, "--duration") && (ok = number(v, 0, 1e9, &d)))
        run->duration_s = d;
    else if (!strcmp(a, "--count") && (ok = number(v, 0, 1e15, &d)))
        run->count = (long long)d;
    else if (!strcmp(a, "--quotes-per-trade") && (ok = number(v, 0, 1000, &d)))
        run->model.quotes_per_trade = d;
    else if (!strcmp(a, "--batch-ms") && (ok = number(v, 1, 60000, &d)))
        run->batch_ms = (int)d;
    else if (!strcmp(a, "--to"))
        run->to = v;
    else
        ok = false;
    if (ok)
        return 0;
    fprintf(stderr, "duckpond ticks: bad option %s %s\n", a, v);
    usage(stderr);
    return 2;
}

/* Reads the command line into run; 0, or 2 (bad usage) with the reason printed. --help exits. */
static int parse_args(struct ticks_run *run, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--fast")) {
            run->fast = true;
            continue;
        }
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "duckpond ticks: %s needs a value\n", argv[i]);
            return 2;
        }
        int rc = parse_option(run, argv[i], argv[i + 1]);
        if (rc)
            return rc;
        i++;
    }
    return 0;
}

/* The batch being built, in the sink's format. */
struct batch {
    struct dp_buf lines, trades, quotes;
    long long rows, n_trades, n_quotes;
};

/* Appends one tick to the batch in the format the sink takes, and counts it. */
static void batch_add(struct batch *b, enum ticks_sink_kind kind, const struct ticks_gen *g,
                      const struct tick *t)
{
    bool trade = t->kind == TICKS_TRADE;
    if (kind == TICKS_SINK_STDOUT || kind == TICKS_SINK_ILP_TCP || kind == TICKS_SINK_ILP_HTTP)
        ticks_format(&b->lines, TICKS_ILP, g, t);
    else
        ticks_format(trade ? &b->trades : &b->quotes, kind == TICKS_SINK_PG ? TICKS_COPY : TICKS_NDJSON, g,
                     t);
    b->rows++;
    trade ? b->n_trades++ : b->n_quotes++;
}

/* Empties the batch for the next, keeping up to 4 MiB of each buffer. */
static void batch_clear(struct batch *b)
{
    dp_buf_clear(&b->lines, 1 << 22);
    dp_buf_clear(&b->trades, 1 << 22);
    dp_buf_clear(&b->quotes, 1 << 22);
    b->rows = 0;
}

/*
 * The loop: fills a batch with the ticks whose time has come (all of them
 * up to a batch's worth with --fast), writes it, sleeps a batch interval
 * when the next tick is still ahead. 0, or 1 when the sink failed.
 */
static int run_loop(const struct ticks_run *run, struct ticks_gen *g, struct ticks_sink *sink,
                    struct batch *b, long long *written)
{
    enum ticks_sink_kind kind = ticks_sink_kind(sink);
    int64_t wall0 = dp_now_us(), start = run->model.start_us;
    int64_t end = run->duration_s >= 0 ? start + (int64_t)(run->duration_s * 1e6) : INT64_MAX;
    struct tick t;
    ticks_gen_next(g, &t);
    bool done = false;
    while (!done) {
        int64_t due = run->fast ? INT64_MAX : start + (dp_now_us() - wall0);
        while (t.ts_us <= due && b->rows < FAST_BATCH_ROWS) {
            done = t.ts_us >= end || (run->count >= 0 && *written + b->rows >= run->count);
            if (done)
                break;
            batch_add(b, kind, g, &t);
            ticks_gen_next(g, &t);
        }
        done = done || stop_requested;
        if (b->lines.failed || b->trades.failed || b->quotes.failed) {
            fprintf(stderr, "duckpond ticks: out of memory\n");
            return 1;
        }
        if (b->rows && ticks_sink_write(sink, &b->lines, &b->trades, &b->quotes) != 0) {
            fprintf(stderr, "duckpond ticks: %s\n", ticks_sink_errmsg(sink));
            return 1;
        }
        *written += b->rows;
        batch_clear(b);
        if (!done && !run->fast && t.ts_us > start + (dp_now_us() - wall0)) {
            struct timespec nap = {0, (long)run->batch_ms * 1000000L};
            nanosleep(&nap, NULL);
        }
    }
    return 0;
}

int ticks_main(int argc, char **argv)
{
    struct ticks_run run = {.duration_s = -1, .count = -1, .batch_ms = 50, .to = "stdout"};
    ticks_options_default(&run.model);
    parse_start("now", &run.model.start_us);
    int rc = parse_args(&run, argc, argv);
    if (rc)
        return rc;
    struct ticks_gen *g = ticks_gen_new(&run.model);
    char err[512];
    struct ticks_sink *sink = g ? ticks_sink_open(run.to, err, sizeof err) : NULL;
    if (!g || !sink) {
        fprintf(stderr, "duckpond ticks: %s\n", g ? err : "out of memory");
        ticks_gen_free(g);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct batch b = {0};
    long long written = 0;
    int64_t t0 = dp_now_us();
    rc = run_loop(&run, g, sink, &b, &written);
    double secs = (double)(dp_now_us() - t0) / 1e6;
    fprintf(stderr, "duckpond ticks: %lld rows (%lld trades, %lld quotes) in %.2f s, %.0f rows/s\n", written,
            b.n_trades, b.n_quotes, secs, secs > 0 ? (double)written / secs : 0.0);
    dp_buf_free(&b.lines);
    dp_buf_free(&b.trades);
    dp_buf_free(&b.quotes);
    ticks_sink_close(sink);
    ticks_gen_free(g);
    return rc;
}
