/*
 * test_bars.c -- live bars through the library: the declaration (CALL
 * duckpond_bars), the guard against other writes (duckpond_bars_check),
 * and bars equal to a recompute from scratch at every checked moment
 * while several threads ingest ticks through the batcher, late ones
 * among them, each check inside one read transaction.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "duckpond.h"
#include "batcher_fixture.h"
#include "testlib.h"

/* The tick table the tests feed. */
#define TRADES_SCHEMA \
    "CREATE TABLE trades (ts TIMESTAMP, symbol VARCHAR, price DOUBLE, qty INTEGER DEFAULT 1)"

/*
 * The bars of table bar (interval every) that differ from a recompute from
 * scratch, written independently of the library's SQL: open and close by
 * window functions over (ts, price), the rest by plain aggregates. Prices
 * are multiples of 1/4 and sizes integers, so every sum is exact.
 */
static int64_t mismatches(struct fixture *f, const char *bar, const char *every)
{
    char sql[2048];
    snprintf(
        sql, sizeof sql,
        "WITH t AS (SELECT *, time_bucket(INTERVAL '%s', ts) AS bucket FROM trades WHERE ts IS NOT NULL "
        "AND symbol IS NOT NULL AND price IS NOT NULL AND qty IS NOT NULL), "
        "w AS (SELECT *, first_value(price) OVER (PARTITION BY symbol, bucket ORDER BY ts, price) AS o, "
        "first_value(price) OVER (PARTITION BY symbol, bucket ORDER BY ts DESC, price DESC) AS c FROM t), "
        "r AS (SELECT symbol, bucket, any_value(o) AS open, max(price) AS high, min(price) AS low, "
        "any_value(c) AS close, sum(qty)::DOUBLE AS volume, count(*) AS trades, sum(price * qty) AS "
        "notional, min(ts) AS open_ts, max(ts) AS close_ts FROM w GROUP BY ALL) "
        "SELECT count(*) FROM r FULL OUTER JOIN %s b USING (symbol, bucket) WHERE r.trades IS NULL OR "
        "b.trades IS NULL OR r.open <> b.open OR r.high <> b.high OR r.low <> b.low OR r.close <> b.close "
        "OR r.volume <> b.volume OR r.trades <> b.trades OR r.notional <> b.notional OR r.open_ts <> "
        "b.open_ts OR r.close_ts <> b.close_ts OR b.vwap <> r.notional / r.volume",
        every, bar);
    return q64(f, sql);
}

/* ------------------------------------------------------- declaring */

static void test_declare_and_guard(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, TRADES_SCHEMA, NULL));
    CHECK_OK(duckpond_exec(f.conn,
                           "INSERT INTO trades VALUES ('2026-01-02 10:00:00.5', 'A', 10, 1), "
                           "('2026-01-02 10:00:00.2', 'A', 11, 2), ('2026-01-02 10:01:30', 'B', 12, 3)"));
    /* the guard costs nothing and refuses nothing while no bars are declared */
    CHECK_OK(duckpond_bars_check(f.conn, "UPDATE trades SET price = 1"));
    CHECK_OK(duckpond_exec(f.conn, "CALL duckpond_bars('trades', size => 'qty', every => ['1 second', '1 "
                                   "minute'])"));
    /* the ticks already there are in the bars */
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM trades_bars_1s"), 2);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM trades_bars_1m"), 2);
    CHECK_EQ_INT(q64(&f, "SELECT (open * 100 + close)::BIGINT FROM trades_bars_1s WHERE symbol = 'A'"), 1110);
    CHECK_EQ_INT(mismatches(&f, "trades_bars_1s", "1 second"), 0);
    CHECK_EQ_INT(mismatches(&f, "trades_bars_1m", "1 minute"), 0);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM duckpond_bars"), 2);
    /* again: nothing new; a third interval: one more table */
    CHECK_OK(duckpond_exec(f.conn, "CALL duckpond_bars('main.trades', size => 'qty', every => '1 minute')"));
    CHECK_OK(
        duckpond_exec(f.conn, "CALL duckpond_bars('trades', size => 'qty', every => ['250 milliseconds'])"));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM duckpond_bars"), 3);
    CHECK_EQ_INT(mismatches(&f, "trades_bars_250ms", "250 milliseconds"), 0);
    /* mistakes are refused whole, with what is wrong */
    CHECK(duckpond_exec(f.conn, "CALL duckpond_bars('nope')") != DUCKPOND_OK);
    CHECK_STR_CONTAINS(duckpond_conn_errmsg(f.conn), "no table \"nope\"");
    CHECK(duckpond_exec(f.conn, "CALL duckpond_bars('trades', size => 'qty', every => ['1 hour', 'soon'])") !=
          DUCKPOND_OK);
    CHECK_STR_CONTAINS(duckpond_conn_errmsg(f.conn), "\"soon\" is not a positive interval");
    CHECK(duckpond_exec(f.conn, "CALL duckpond_bars('trades', size => 'nosuch', every => '1 hour')") !=
          DUCKPOND_OK);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'trades_bars_1h'"), 0);
    /* writes other than the batcher's to a tick or bar table are refused; others are not */
    static const char *const refused[] = {
        "UPDATE trades SET price = 1",
        "DELETE FROM main.trades",
        "INSERT INTO trades SELECT * FROM trades",
        "insert or replace into \"TRADES\" values (now(), 'A', 1, 1)",
        "WITH x AS (SELECT 1) INSERT INTO memory.main.trades SELECT * FROM trades",
        "COPY trades FROM STDIN",
        "TRUNCATE TABLE trades",
        "UPDATE trades_bars_1s SET open = 1",
        "DELETE FROM trades_bars_1s_parts",
        "MERGE INTO trades_bars_1m USING trades ON true WHEN MATCHED THEN DELETE",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        CHECK_EQ_INT(duckpond_bars_check(f.conn, refused[i]), DUCKPOND_READONLY);
        CHECK_STR_CONTAINS(duckpond_conn_errmsg(f.conn), "live bars");
    }
    CHECK_OK(duckpond_bars_check(f.conn, "CREATE TABLE archive AS SELECT * FROM trades"));
    CHECK_OK(duckpond_bars_check(f.conn, "INSERT INTO archive SELECT * FROM trades"));
    CHECK_OK(duckpond_bars_check(f.conn, "UPDATE other SET x = (SELECT count(*) FROM trades)"));
    CHECK_OK(duckpond_bars_check(f.conn, "SELECT * FROM trades"));
    fx_close(&f);
}

/* --------------------------------------------------- under ingest */

#define T0_US 1798884000000000LL /* 2027-01-01 10:00:00 UTC */

struct feed {
    duckpond_batcher *b;
    int id, writes;
    int failures;
    atomic_int *running; /* feeds still writing, if counted */
};

/* A cheap deterministic random number generator per feed. */
static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/*
 * One feed: writes of 1 to 20 ticks, times moving forward 1-20 ms a tick,
 * one in five late by up to 3 s (an older bucket), a few leaving qty to
 * its DEFAULT, commit acks.
 */
static void *feed_main(void *arg)
{
    struct feed *p = arg;
    /* odd feeds name the columns in another order: another target of the writer, the same table */
    static const char *const cols[2][4] = {{"ts", "symbol", "price", "qty"},
                                           {"qty", "price", "symbol", "ts"}};
    static const char *const syms[5] = {"AAA", "BBB", "CCC", "DDD", "EEE"};
    uint32_t seed = 7u + (uint32_t)p->id * 7919u;
    int64_t clock_us = T0_US;
    for (int i = 0; i < p->writes; i++) {
        duckpond_write *w;
        if (duckpond_write_new(p->b, "trades", cols[p->id % 2], 4, 0, &w) != DUCKPOND_OK) {
            p->failures++;
            continue;
        }
        int rows = 1 + (int)(next_rand(&seed) % 20);
        for (int r = 0; r < rows; r++) {
            clock_us += 1000 * (1 + next_rand(&seed) % 20);
            int64_t ts = next_rand(&seed) % 5 == 0 ? clock_us - 1000 * (int64_t)(next_rand(&seed) % 3000)
                                                   : clock_us;
            duckpond_value v[4] = {{.kind = DUCKPOND_VALUE_TIMESTAMP},
                                   {.kind = DUCKPOND_VALUE_TEXT},
                                   {.kind = DUCKPOND_VALUE_DOUBLE},
                                   {.kind = DUCKPOND_VALUE_INT64}};
            v[0].u.timestamp_us = ts;
            const char *sym = syms[next_rand(&seed) % 5];
            v[1].u.text.ptr = sym;
            v[1].u.text.len = strlen(sym);
            v[2].u.f64 = 100 + (double)(next_rand(&seed) % 400) / 4;
            v[3].u.i64 = 1 + next_rand(&seed) % 50;
            if (next_rand(&seed) % 10 == 0)
                v[3].kind = DUCKPOND_VALUE_DEFAULT;
            if (p->id % 2) { /* reversed */
                duckpond_value t0 = v[0], t1 = v[1];
                v[0] = v[3];
                v[1] = v[2];
                v[2] = t1;
                v[3] = t0;
            }
            if (duckpond_write_add_row(w, v) != DUCKPOND_OK)
                p->failures++;
        }
        if (duckpond_write_submit(w, DUCKPOND_ACK_COMMIT) != DUCKPOND_OK) {
            fprintf(stderr, "    feed %d: %s\n", p->id, duckpond_write_errmsg(w));
            p->failures++;
        }
        duckpond_write_free(w);
    }
    if (p->running)
        atomic_fetch_sub(p->running, 1);
    return NULL;
}

static void test_exact_under_concurrent_ingest(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, TRADES_SCHEMA, NULL));
    /* a flush every 100 ticks: flushes and compactions happen between the checks */
    CHECK_OK(duckpond_exec(f.conn, "CALL duckpond_bars('trades', size => 'qty', flush_rows => 100)"));
    enum { NF = 6 };
    struct feed p[NF];
    pthread_t th[NF];
    atomic_int running = NF;
    for (int i = 0; i < NF; i++) {
        p[i] = (struct feed){.b = f.b, .id = i, .writes = 300, .running = &running};
        CHECK_OK(pthread_create(&th[i], NULL, feed_main, &p[i]));
    }
    /* checks while the feeds write: ticks and bars read in one transaction */
    int checks = 0, nonempty = 0, compacted = 0;
    int64_t first_mark = -1, last_mark = -1, last_parts = -1;
    while (checks < 8 || atomic_load(&running) > 0) {
        CHECK_OK(duckpond_exec(f.conn, "BEGIN TRANSACTION"));
        int64_t ticks = q64(&f, "SELECT count(*) FROM trades");
        CHECK_EQ_INT(mismatches(&f, "trades_bars_1s", "1 second"), 0);
        CHECK_EQ_INT(mismatches(&f, "trades_bars_1m", "1 minute"), 0);
        CHECK_EQ_INT(q64(&f, "SELECT coalesce(sum(trades), 0) FROM trades_bars_1s"), ticks);
        int64_t parts = q64(&f, "SELECT count(*) FROM trades_bars_1s_parts");
        last_mark = q64(&f, "SELECT mark FROM duckpond_bars WHERE bar_table = 'trades_bars_1s'");
        CHECK_OK(duckpond_exec(f.conn, "COMMIT"));
        if (first_mark < 0)
            first_mark = last_mark;
        compacted += last_parts >= 0 && parts < last_parts; /* only a compaction takes parts away */
        last_parts = parts;
        checks++;
        nonempty += ticks > 0;
        usleep(checks < 8 ? 30000 : 5000);
    }
    for (int i = 0; i < NF; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(p[i].failures, 0);
    }
    CHECK(checks >= 8);
    CHECK(nonempty > 0);
    CHECK(last_mark > first_mark); /* ticks were folded into the parts during the checks */
    CHECK(compacted > 0);
    CHECK_EQ_INT(mismatches(&f, "trades_bars_1s", "1 second"), 0);
    CHECK_EQ_INT(mismatches(&f, "trades_bars_1m", "1 minute"), 0);
    /* late ticks did land in buckets that had bars already, and DEFAULT sizes counted as 1 */
    CHECK(q64(&f, "SELECT count(*) FROM trades_bars_1s") > 100);
    CHECK(q64(&f, "SELECT count(*) FROM trades WHERE qty = 1") > 0);
    fx_close(&f);
}

/* A batcher that starts on a database with bars declared keeps them (they live in the file). */
static void test_bars_survive_reopen(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, TRADES_SCHEMA, NULL));
    CHECK_OK(duckpond_exec(f.conn, "CALL duckpond_bars('trades', size => 'qty', every => '1 second')"));
    fx_close(&f);
    memset(&f, 0, sizeof f);
    CHECK_OK(duckpond_open(test_path(FX_DB_FILE), NULL, &f.db));
    CHECK_OK(duckpond_connect(f.db, &f.conn));
    CHECK_OK(duckpond_batcher_new(f.db, NULL, &f.b));
    struct feed p = {.b = f.b, .id = 1, .writes = 50};
    feed_main(&p);
    CHECK_EQ_INT(p.failures, 0);
    CHECK(q64(&f, "SELECT count(*) FROM trades") > 0);
    CHECK_EQ_INT(mismatches(&f, "trades_bars_1s", "1 second"), 0);
    CHECK_EQ_INT(duckpond_bars_check(f.conn, "DELETE FROM trades"), DUCKPOND_READONLY);
    fx_close(&f);
}

TEST_MAIN(TEST_ENTRY(test_declare_and_guard), TEST_ENTRY(test_exact_under_concurrent_ingest),
          TEST_ENTRY(test_bars_survive_reopen))
