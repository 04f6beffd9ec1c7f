/*
 * test_desk.c -- the desk's macros (desk.sql) against real DuckDB on a few
 * hand-computed trades and quotes: every answer below was worked out on
 * paper from the rows of desk_data, not taken from a run.
 */
#include "desk.h"
#include "buf.h"
#include "testlib.h"

/* Two symbols; A has no trade in the 10:02 minute, B none at 10:01 and
 * 10:03. Quotes: A's 10:01:05 is 5 s before its 10:01:10 trade, B's
 * 10:02:00 is 20 s before its 10:02:20 trade. */
static const char desk_data[] =
    "CREATE TABLE trades (ts TIMESTAMP, symbol VARCHAR, price DOUBLE, size BIGINT);"
    "CREATE TABLE quotes (ts TIMESTAMP, symbol VARCHAR, bid DOUBLE, ask DOUBLE, bid_size BIGINT, "
    "ask_size BIGINT);"
    "INSERT INTO trades VALUES"
    " ('2026-01-02 10:00:00', 'A', 10, 100), ('2026-01-02 10:00:30', 'A', 12, 100),"
    " ('2026-01-02 10:01:10', 'A', 11, 200), ('2026-01-02 10:03:05', 'A', 13, 100),"
    " ('2026-01-02 10:00:10', 'B', 20, 10), ('2026-01-02 10:02:20', 'B', 22, 30);"
    "INSERT INTO quotes VALUES"
    " ('2026-01-02 09:59:59', 'A', 9.9, 10.1, 5, 5), ('2026-01-02 10:00:29', 'A', 11.9, 12.1, 5, 5),"
    " ('2026-01-02 10:01:05', 'A', 10.95, 11.05, 5, 5), ('2026-01-02 10:00:09.5', 'B', 19.9, 20.1, 5, 5),"
    " ('2026-01-02 10:02:00', 'B', 21.8, 22.2, 6, 7);";

struct deskdb {
    duckdb_database db;
    duckdb_connection con;
};

/* An in-memory database (or the file path) with the macros and, when data, the rows above. */
static int deskdb_open(struct deskdb *d, const char *path, bool data)
{
    char err[512] = "";
    duckdb_result r;
    if (duckdb_open(path, &d->db) != DuckDBSuccess || duckdb_connect(d->db, &d->con) != DuckDBSuccess)
        return -1;
    if (desk_install(d->con, err, sizeof err) != 0) {
        fprintf(stderr, "    %s\n", err);
        return -1;
    }
    if (!data)
        return 0;
    int rc = duckdb_query(d->con, desk_data, &r) == DuckDBSuccess ? 0 : -1;
    if (rc)
        fprintf(stderr, "    %s\n", duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return rc;
}

static void deskdb_close(struct deskdb *d)
{
    duckdb_disconnect(&d->con);
    duckdb_close(&d->db);
}

/* The whole answer of sql as text: cells joined by '|', rows ended by ';',
 * NULL as the empty string. Caller frees; NULL with the error printed. */
static char *answer(duckdb_connection con, const char *sql)
{
    duckdb_result r;
    if (duckdb_query(con, sql, &r) != DuckDBSuccess) {
        fprintf(stderr, "    %s: %s\n", sql, duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        return NULL;
    }
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_str(&b, "");
    idx_t cols = duckdb_column_count(&r);
    for (idx_t row = 0; row < duckdb_row_count(&r); row++) {
        for (idx_t c = 0; c < cols; c++) {
            char *v = duckdb_value_is_null(&r, c, row) ? NULL : duckdb_value_varchar(&r, c, row);
            dp_buf_printf(&b, "%s%s", c ? "|" : "", v ? v : "");
            duckdb_free(v);
        }
        dp_buf_str(&b, ";");
    }
    duckdb_destroy_result(&r);
    return b.data;
}

/* Fails the test unless sql answers exactly want. */
#define CHECK_ANSWER(con, sql, want)                                                 \
    do {                                                                             \
        char *got_ = answer((con), (sql));                                           \
        if (!got_ || strcmp(got_, (want)) != 0) {                                    \
            test_fail(__FILE__, __LINE__, "%s\n      got  %s\n      want %s", (sql), \
                      got_ ? got_ : "(error)", (want));                              \
            free(got_);                                                              \
            return;                                                                  \
        }                                                                            \
        free(got_);                                                                  \
    } while (0)

/* Minute bars with the previous close carried into empty minutes. */
static void test_ohlcv_previous_close(void)
{
    struct deskdb d;
    CHECK_OK(deskdb_open(&d, NULL, true));
    CHECK_ANSWER(d.con,
                 "SELECT strftime(bucket, '%H:%M'), symbol, open, high, low, close, volume, vwap, trades "
                 "FROM desk.ohlcv('trades', '1 minute')",
                 "10:00|A|10.0|12.0|10.0|12.0|200|11.0|2;10:01|A|11.0|11.0|11.0|11.0|200|11.0|1;"
                 "10:02|A|11.0|11.0|11.0|11.0|0||0;10:03|A|13.0|13.0|13.0|13.0|100|13.0|1;"
                 "10:00|B|20.0|20.0|20.0|20.0|10|20.0|1;10:01|B|20.0|20.0|20.0|20.0|0||0;"
                 "10:02|B|22.0|22.0|22.0|22.0|30|22.0|1;10:03|B|22.0|22.0|22.0|22.0|0||0;");
    /* 30-second bars: A's first bucket holds one trade only */
    CHECK_ANSWER(d.con,
                 "SELECT strftime(bucket, '%H:%M:%S'), close, volume FROM desk.ohlcv(trades, "
                 "INTERVAL 30 SECOND) WHERE symbol = 'A' LIMIT 3",
                 "10:00:00|10.0|100;10:00:30|12.0|100;10:01:00|11.0|200;");
    deskdb_close(&d);
}

/* fill 'null' leaves empty minutes' prices NULL; 'none' leaves them out;
 * since and until widen the grid past the data. */
static void test_ohlcv_fill_modes(void)
{
    struct deskdb d;
    CHECK_OK(deskdb_open(&d, NULL, true));
    CHECK_ANSWER(d.con,
                 "SELECT strftime(bucket, '%H:%M'), open, close, volume FROM "
                 "desk.ohlcv('trades', '1 minute', fill := 'null') WHERE symbol = 'A'",
                 "10:00|10.0|12.0|200;10:01|11.0|11.0|200;10:02|||0;10:03|13.0|13.0|100;");
    CHECK_ANSWER(d.con, "SELECT count(*), sum(trades) FROM desk.ohlcv('trades', '1 minute', fill := 'none')",
                 "5|6;");
    CHECK_ANSWER(d.con,
                 "SELECT strftime(bucket, '%H:%M'), close, volume FROM desk.ohlcv('trades', '1 minute', "
                 "since := '2026-01-02 09:59:00', until := TIMESTAMP '2026-01-02 10:05:00') "
                 "WHERE symbol = 'B'",
                 "09:59||0;10:00|20.0|10;10:01|20.0|0;10:02|22.0|30;10:03|22.0|0;10:04|22.0|0;");
    /* the close before since fills the window's first empty buckets: A
     * last traded at 10:01:10 (11), B at 10:00:10 (20) */
    CHECK_ANSWER(d.con,
                 "SELECT symbol, strftime(bucket, '%H:%M'), open, close, volume FROM desk.ohlcv('trades', "
                 "'1 minute', since := '2026-01-02 10:01:30')",
                 "A|10:01|11.0|11.0|0;A|10:02|11.0|11.0|0;A|10:03|13.0|13.0|100;"
                 "B|10:01|20.0|20.0|0;B|10:02|22.0|22.0|30;B|10:03|22.0|22.0|0;");
    /* a symbol with no trade in the window still gets its flat bars */
    CHECK_ANSWER(d.con,
                 "SELECT symbol, count(*), min(close), sum(volume) FROM desk.ohlcv('trades', '1 minute', "
                 "since := '2026-01-02 10:03:00') GROUP BY symbol ORDER BY symbol",
                 "A|1|13.0|100;B|1|22.0|0;");
    /* until cuts trades out: A's 10:03:05 trade is past it */
    CHECK_ANSWER(d.con,
                 "SELECT count(*), sum(volume) FROM desk.ohlcv('trades', '1 minute', "
                 "until := '2026-01-02 10:03:00') WHERE symbol = 'A'",
                 "3|400;");
    deskdb_close(&d);
}

/* A: (10*100 + 12*100 + 11*200 + 13*100) / 500 = 11.4; B: (200 + 660) / 40 = 21.5.
 * TWAP to 10:04: A holds 10 for 30 s, 12 for 40, 11 for 115, 13 for 55:
 * 2760 / 240 = 11.5; B 20 for 130 s, 22 for 100: 4800 / 230. */
static void test_vwap_twap(void)
{
    struct deskdb d;
    CHECK_OK(deskdb_open(&d, NULL, true));
    CHECK_ANSWER(d.con,
                 "SELECT symbol, vwap, volume, trades, strftime(first_ts, '%H:%M:%S'), "
                 "strftime(last_ts, '%H:%M:%S') FROM desk.vwap('trades')",
                 "A|11.4|500|4|10:00:00|10:03:05;B|21.5|40|2|10:00:10|10:02:20;");
    CHECK_ANSWER(d.con,
                 "SELECT symbol, vwap, trades FROM desk.vwap('trades', since := '2026-01-02 10:00:30', "
                 "until := '2026-01-02 10:02:00')",
                 "A|11.333333333333334|2;"); /* (12*100 + 11*200) / 300 */
    CHECK_ANSWER(d.con,
                 "SELECT symbol, round(twap, 9), weighted_seconds, trades FROM desk.twap('trades', "
                 "until := '2026-01-02 10:04:00')",
                 "A|11.5|240.0|4;B|20.869565217|230.0|2;");
    /* without until the last trade weighs nothing: A 2045 / 185 */
    CHECK_ANSWER(d.con, "SELECT symbol, round(twap, 9), weighted_seconds FROM desk.twap('trades')",
                 "A|11.054054054|185.0;B|20.0|130.0;");
    /* one trade in the window: its price */
    CHECK_ANSWER(d.con, "SELECT symbol, twap FROM desk.twap('trades', since := '2026-01-02 10:03:00')",
                 "A|13.0;");
    deskdb_close(&d);
}

/* The latest row of each symbol, with every column of the table. */
static void test_latest(void)
{
    struct deskdb d;
    CHECK_OK(deskdb_open(&d, NULL, true));
    CHECK_ANSWER(d.con, "FROM desk.latest('trades')",
                 "2026-01-02 10:03:05|A|13.0|100;2026-01-02 10:02:20|B|22.0|30;");
    CHECK_ANSWER(d.con, "FROM desk.latest('quotes')",
                 "2026-01-02 10:01:05|A|10.95|11.05|5|5;2026-01-02 10:02:00|B|21.8|22.2|6|7;");
    /* two rows at the latest time: one of them */
    CHECK_ANSWER(d.con, "INSERT INTO trades VALUES ('2026-01-02 10:03:05', 'A', 14, 1)", "1;");
    CHECK_ANSWER(d.con, "SELECT symbol, ts, price IN (13, 14) FROM desk.latest('trades')",
                 "A|2026-01-02 10:03:05|true;B|2026-01-02 10:02:20|false;");
    deskdb_close(&d);
}

/* Each trade with the quote in force, if at most the tolerance old. */
static void test_asof_tolerance(void)
{
    struct deskdb d;
    CHECK_OK(deskdb_open(&d, NULL, true));
    CHECK_ANSWER(d.con,
                 "SELECT symbol, strftime(ts, '%H:%M:%S'), strftime(quote_ts, '%H:%M:%S'), bid, ask, mid, "
                 "round(spread_bps, 6) FROM desk.asof('trades', 'quotes', tolerance := '2 seconds')",
                 "A|10:00:00|09:59:59|9.9|10.1|10.0|200.0;A|10:00:30|10:00:29|11.9|12.1|12.0|166.666667;"
                 "A|10:01:10|||||;A|10:03:05|||||;"
                 "B|10:00:10|10:00:09|19.9|20.1|20.0|100.0;B|10:02:20|||||;");
    /* 30 s reaches A's 10:01:05 and B's 10:02:00 quotes; since drops earlier trades */
    CHECK_ANSWER(d.con,
                 "SELECT symbol, strftime(ts, '%H:%M:%S'), mid, round(spread_bps, 6) FROM "
                 "desk.asof(trades, quotes, tolerance := INTERVAL 30 SECOND, since := '2026-01-02 10:01:00')",
                 "A|10:01:10|11.0|90.909091;A|10:03:05||;B|10:02:20|22.0|181.818182;");
    /* a quote after the trade is never used */
    CHECK_ANSWER(d.con,
                 "SELECT count(*) FROM desk.asof('trades', 'quotes', tolerance := '1 day') "
                 "WHERE quote_ts > ts",
                 "0;");
    deskdb_close(&d);
}

/* Mid and spread of bid 9.9 / ask 10.1: 10 and 200 bps. */
static void test_mid_spread(void)
{
    struct deskdb d;
    CHECK_OK(deskdb_open(&d, NULL, false));
    CHECK_ANSWER(d.con, "SELECT desk.mid(9.9, 10.1), round(desk.spread_bps(9.9, 10.1), 9), desk.mid(1, 2)",
                 "10.0|200.0|1.5;");
    deskdb_close(&d);
}

/* A's minute closes 12, 11, 11 (carried), 13: returns -1/12, 0, 2/11;
 * volatility over 2 log returns: |ln(11/12)| / sqrt 2, then ln(13/11) / sqrt 2. */
static void test_returns_volatility(void)
{
    struct deskdb d;
    CHECK_OK(deskdb_open(&d, NULL, true));
    CHECK_ANSWER(d.con,
                 "SELECT strftime(bucket, '%H:%M'), close, round(ret, 9), round(log_ret, 9), "
                 "round(volatility, 9) FROM desk.returns('trades', '1 minute', lookback := 2) "
                 "WHERE symbol = 'A'",
                 "10:00|12.0|||;10:01|11.0|-0.083333333|-0.087011377|;10:02|11.0|0.0|0.0|0.061526335;"
                 "10:03|13.0|0.181818182|0.167054085|0.118125076;");
    CHECK_ANSWER(d.con, "SELECT count(volatility) FROM desk.returns('trades', '1 minute')", "0;");
    deskdb_close(&d);
}

/* Installing again replaces the macros (a second server start); a
 * read-only database is left alone and its macros still answer. */
static void test_install_again_and_read_only(void)
{
    const char *path = test_path("book.duckdb");
    struct deskdb d;
    CHECK_OK(deskdb_open(&d, path, true));
    char err[512] = "";
    CHECK_OK(desk_install(d.con, err, sizeof err));
    CHECK_ANSWER(d.con,
                 "SELECT count(*) FROM duckdb_functions() WHERE schema_name = 'desk' AND "
                 "function_name IN ('mid', 'spread_bps', 'bars', 'ohlcv', 'vwap', 'twap', 'latest', 'asof', "
                 "'returns')",
                 "9;");
    deskdb_close(&d);
    duckdb_config cfg;
    CHECK(duckdb_create_config(&cfg) == DuckDBSuccess);
    CHECK(duckdb_set_config(cfg, "access_mode", "READ_ONLY") == DuckDBSuccess);
    CHECK(duckdb_open_ext(path, &d.db, cfg, NULL) == DuckDBSuccess);
    duckdb_destroy_config(&cfg);
    CHECK(duckdb_connect(d.db, &d.con) == DuckDBSuccess);
    CHECK_OK(desk_install(d.con, err, sizeof err));
    CHECK_ANSWER(d.con, "SELECT symbol, vwap FROM desk.vwap('trades')", "A|11.4;B|21.5;");
    deskdb_close(&d);
}

TEST_MAIN(TEST_ENTRY(test_ohlcv_previous_close), TEST_ENTRY(test_ohlcv_fill_modes),
          TEST_ENTRY(test_vwap_twap), TEST_ENTRY(test_latest), TEST_ENTRY(test_asof_tolerance),
          TEST_ENTRY(test_mid_spread), TEST_ENTRY(test_returns_volatility),
          TEST_ENTRY(test_install_again_and_read_only))
