/*
 * test_batcher.c -- the ingest batcher against real DuckDB files, with
 * real threads and, for durability, a real SIGKILL.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "batcher.h"
#include "buf.h"
#include "clock.h"
#include "duckpond.h"
#include "batcher_fixture.h"
#include "testlib.h"

static duckpond_value v_int(int64_t x)
{
    duckpond_value v = {.kind = DUCKPOND_VALUE_INT64};
    v.u.i64 = x;
    return v;
}
static duckpond_value v_dbl(double x)
{
    duckpond_value v = {.kind = DUCKPOND_VALUE_DOUBLE};
    v.u.f64 = x;
    return v;
}
static duckpond_value v_bool(int x)
{
    duckpond_value v = {.kind = DUCKPOND_VALUE_BOOL};
    v.u.boolean = x;
    return v;
}
static duckpond_value v_ts(int64_t us)
{
    duckpond_value v = {.kind = DUCKPOND_VALUE_TIMESTAMP};
    v.u.timestamp_us = us;
    return v;
}
static duckpond_value v_null(void)
{
    duckpond_value v = {.kind = DUCKPOND_VALUE_NULL};
    return v;
}
static duckpond_value v_def(void)
{
    duckpond_value v = {.kind = DUCKPOND_VALUE_DEFAULT};
    return v;
}
static duckpond_value v_text(const char *s)
{
    duckpond_value v = {.kind = DUCKPOND_VALUE_TEXT};
    v.u.text.ptr = s;
    v.u.text.len = strlen(s);
    return v;
}

/* Failure i of write w has status st, is row r, and its message holds text. */
#define CHECK_FAILURE(w, i, st, r, text)                                    \
    do {                                                                    \
        size_t row_;                                                        \
        const char *msg_;                                                   \
        CHECK_EQ_INT(duckpond_write_failure((w), (i), &row_, &msg_), (st)); \
        CHECK_EQ_INT(row_, (r));                                            \
        CHECK_STR_CONTAINS(msg_, (text));                                   \
    } while (0)

/* One row into t(id, v) as a single write; returns the submit status. */
static int put_one(duckpond_batcher *b, const char *table, int64_t id, int64_t val, duckpond_ack ack,
                   duckpond_write **keep)
{
    static const char *cols[] = {"id", "v"};
    duckpond_write *w;
    int rc = duckpond_write_new(b, table, cols, 2, 0, &w);
    if (rc)
        return rc;
    duckpond_value row[2] = {v_int(id), v_int(val)};
    rc = duckpond_write_add_row(w, row);
    if (!rc)
        rc = duckpond_write_submit(w, ack);
    if (keep)
        *keep = w;
    else
        duckpond_write_free(w);
    return rc;
}

/* ---------------------------------------------------------- counts */

struct producer {
    duckpond_batcher *b;
    int id, nwrites, rows_per_write;
    duckpond_ack ack;
    int failures;
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    static const char *cols[] = {"id", "v"};
    for (int i = 0; i < p->nwrites; i++) {
        duckpond_write *w;
        if (duckpond_write_new(p->b, "t", cols, 2, 0, &w)) {
            p->failures++;
            continue;
        }
        for (int r = 0; r < p->rows_per_write; r++) {
            int64_t id = ((int64_t)p->id << 32) | (int64_t)(i * p->rows_per_write + r);
            duckpond_value row[2] = {v_int(id), v_int(p->id)};
            if (duckpond_write_add_row(w, row))
                p->failures++;
        }
        int rc = duckpond_write_submit(w, p->ack);
        if (rc == DUCKPOND_OK && p->ack == DUCKPOND_ACK_QUEUED)
            rc = duckpond_write_wait(w);
        size_t c, fl;
        duckpond_write_counts(w, &c, &fl);
        if (rc != DUCKPOND_OK || c != (size_t)p->rows_per_write || fl != 0) {
            fprintf(stderr, "    write failed: %d %s\n", rc, duckpond_write_errmsg(w));
            p->failures++;
        }
        duckpond_write_free(w);
    }
    return NULL;
}

static void test_concurrent_exact_counts(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id BIGINT PRIMARY KEY, v BIGINT)", NULL));
    enum { NP = 12 };
    struct producer p[NP];
    pthread_t th[NP];
    int64_t expect = 0;
    for (int i = 0; i < NP; i++) {
        p[i] = (struct producer){
            f.b, i, i < 8 ? 150 : 40, i < 8 ? 1 : 25, i < 8 ? DUCKPOND_ACK_COMMIT : DUCKPOND_ACK_QUEUED, 0};
        expect += (int64_t)p[i].nwrites * p[i].rows_per_write;
        CHECK_OK(pthread_create(&th[i], NULL, producer_main, &p[i]));
    }
    for (int i = 0; i < NP; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(p[i].failures, 0);
    }
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), expect);
    CHECK_EQ_INT(q64(&f, "SELECT count(DISTINCT id) FROM t"), expect);
    for (int i = 0; i < NP; i++) {
        char sql[100];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM t WHERE v = %d", i);
        CHECK_EQ_INT(q64(&f, sql), (int64_t)p[i].nwrites * p[i].rows_per_write);
    }
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(f.b, &s);
    CHECK_EQ_INT(s.rows_accepted, expect);
    CHECK_EQ_INT(s.rows_committed, expect);
    CHECK_EQ_INT(s.rows_failed, 0);
    CHECK_EQ_INT(s.queue_rows, 0);
    CHECK_EQ_INT(s.queue_bytes, 0);
    CHECK(s.commits >= 1);
    CHECK(s.commits < s.writes_acked); /* grouped: fewer commits than writes */
    uint64_t n = 0;
    for (int i = 0; i <= DUCKPOND_LATENCY_BUCKETS; i++)
        n += s.latency_count[i];
    CHECK_EQ_INT(n, s.writes_acked);
    CHECK(s.bytes_committed == s.bytes_accepted);
    fx_close(&f);
}

/* ------------------------------------------------- defaults, values */

static void test_column_subset_defaults(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f,
                     "CREATE SEQUENCE seq START 100;"
                     "CREATE TABLE d(id INTEGER, k INTEGER DEFAULT 7, s VARCHAR DEFAULT 'dflt',"
                     " n BIGINT DEFAULT nextval('seq'), ts TIMESTAMP DEFAULT current_timestamp, z DOUBLE)",
                     NULL));
    static const char *cols[] = {"id"};
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "d", cols, 1, 0, &w));
    duckpond_value r1[1] = {v_int(1)}, r2[1] = {v_int(2)};
    CHECK_OK(duckpond_write_add_row(w, r1));
    CHECK_OK(duckpond_write_add_row(w, r2));
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT));
    duckpond_write_free(w);
    /* Explicit DEFAULT on a listed column: constant and non-constant defaults. */
    static const char *cols2[] = {"id", "k", "n", "ts", "z"};
    CHECK_OK(duckpond_write_new(f.b, "main.D", cols2, 5, 0, &w));
    duckpond_value r3[5] = {v_int(3), v_def(), v_def(), v_def(), v_dbl(1.5)};
    duckpond_value r4[5] = {v_int(4), v_int(40), v_def(), v_null(), v_def()};
    CHECK_OK(duckpond_write_add_row(w, r3));
    CHECK_OK(duckpond_write_add_row(w, r4));
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT));
    duckpond_write_free(w);
    CHECK_EQ_INT(
        q64(&f,
            "SELECT count(*) FROM d WHERE k = 7 AND s = 'dflt' AND ts IS NOT NULL AND z IS NULL AND id IN (1,2)"),
        2);
    CHECK_EQ_INT(q64(&f, "SELECT count(DISTINCT n) FROM d WHERE n >= 100"), 4);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM d WHERE id = 3 AND k = 7 AND ts IS NOT NULL AND z = 1.5"), 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM d WHERE id = 4 AND k = 40 AND ts IS NULL AND z IS NULL"), 1);
    /* columns = NULL: every column, in table order; a row of DEFAULTs only. */
    CHECK_OK(duckpond_write_new(f.b, "d", NULL, 0, 0, &w));
    duckpond_value r5[6] = {v_def(), v_def(), v_def(), v_def(), v_def(), v_def()};
    duckpond_value r6[6] = {v_int(6), v_int(60), v_text("six"), v_int(6), v_ts(0), v_dbl(6.5)};
    CHECK_OK(duckpond_write_add_row(w, r5));
    CHECK_OK(duckpond_write_add_row(w, r6));
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT));
    duckpond_write_free(w);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM d WHERE id IS NULL AND k = 7 AND s = 'dflt' AND n >= 100"), 1);
    CHECK_EQ_INT(
        q64(&f,
            "SELECT count(*) FROM d WHERE id = 6 AND k = 60 AND s = 'six' AND n = 6 AND ts = TIMESTAMP '1970-01-01' AND z = 6.5"),
        1);
    fx_close(&f);
}

static void test_values_roundtrip(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f,
                     "CREATE TABLE r(i INTEGER, b BIGINT, t TINYINT, u UBIGINT, d DOUBLE, fl FLOAT,"
                     " bo BOOLEAN, s VARCHAR, ts TIMESTAMP, tz TIMESTAMPTZ, dec DECIMAL(18,4), dt DATE,"
                     " j JSON, id INTEGER)",
                     NULL));
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "r", NULL, 0, 0, &w));
    /* typed values */
    duckpond_value a[14] = {v_int(-2147483648LL),
                            v_int(INT64_MAX),
                            v_int(-128),
                            v_int(42),
                            v_dbl(0.1),
                            v_dbl(2.5),
                            v_bool(1),
                            v_text("héllo 'q'"),
                            v_ts(1700000000123456LL),
                            v_ts(1700000000123456LL),
                            v_dbl(12.25),
                            v_text("2024-02-29"),
                            v_text("{\"a\": 1}"),
                            v_int(1)};
    /* text values, converted with the column's type */
    duckpond_value t[14] = {v_text("-17"),
                            v_text("9007199254740993"),
                            v_text("+5"),
                            v_text("18446744073709551615"),
                            v_text("1e-3"),
                            v_text("-0.5"),
                            v_text("false"),
                            v_text(""),
                            v_text("2024-01-02 03:04:05.678901"),
                            v_text("2024-01-02 03:04:05+00"),
                            v_text("123.4567"),
                            v_text("1999-12-31"),
                            v_text("[1,2]"),
                            v_int(2)};
    /* NULLs */
    duckpond_value n[14];
    for (int i = 0; i < 13; i++)
        n[i] = v_null();
    n[13] = v_int(3);
    CHECK_OK(duckpond_write_add_row(w, a));
    CHECK_OK(duckpond_write_add_row(w, t));
    CHECK_OK(duckpond_write_add_row(w, n));
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT));
    size_t c, fl;
    duckpond_write_counts(w, &c, &fl);
    CHECK_EQ_INT(c, 3);
    CHECK_EQ_INT(fl, 0);
    duckpond_write_free(w);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM r WHERE id = 1 AND i = -2147483648 AND b = 9223372036854775807"
                         " AND t = -128 AND u = 42 AND d = 0.1 AND fl = 2.5 AND bo AND s = 'héllo ''q'''"
                         " AND ts = make_timestamp(1700000000123456) AND epoch_us(tz) = 1700000000123456"
                         " AND dec = 12.25 AND dt = DATE '2024-02-29' AND j::VARCHAR = '{\"a\": 1}'"),
                 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM r WHERE id = 2 AND i = -17 AND b = 9007199254740993 AND t = 5"
                         " AND u = 18446744073709551615 AND d = 0.001 AND fl = -0.5 AND NOT bo AND s = ''"
                         " AND ts = TIMESTAMP '2024-01-02 03:04:05.678901'"
                         " AND epoch(tz) = epoch(TIMESTAMPTZ '2024-01-02 03:04:05+00')"
                         " AND dec = 123.4567 AND dt = DATE '1999-12-31' AND j::VARCHAR = '[1,2]'"),
                 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM r WHERE id = 3 AND i IS NULL AND b IS NULL AND t IS NULL"
                         " AND u IS NULL AND d IS NULL AND fl IS NULL AND bo IS NULL AND s IS NULL"
                         " AND ts IS NULL AND tz IS NULL AND dec IS NULL AND dt IS NULL AND j IS NULL"),
                 1);
    fx_close(&f);
}

/* Many rows across vector boundaries into plain column types, mixing values
 * that convert natively with ones only DuckDB's cast takes, and NULLs. */
static void test_values_many_rows_exact(void)
{
    struct fixture f;
    CHECK_OK(fx_open(
        &f, "CREATE TABLE n(i INTEGER, s VARCHAR, t TIMESTAMP, fl FLOAT, bo BOOLEAN, u UTINYINT)", NULL));
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "n", NULL, 0, 0, &w));
    enum { N = 5000 };
    static char texts[N][2][16];
    int64_t sum_u = 0, n_true = 0;
    for (int r = 0; r < N; r++) {
        snprintf(texts[r][0], 16, " %d ", r); /* spaces: DuckDB's cast, not the fast path */
        snprintf(texts[r][1], 16, "s%d", r);
        duckpond_value row[6] = {r % 7 ? v_int(r) : v_text(texts[r][0]),
                                 r % 5 ? v_text(texts[r][1]) : v_null(),
                                 v_ts(r),
                                 v_dbl(r / 2.0),
                                 r % 2 ? v_bool(r % 3 == 0) : v_text(r % 4 ? "true" : "f"),
                                 r % 11 ? v_int(r % 200) : v_text("7")};
        sum_u += r % 11 ? r % 200 : 7;
        n_true += r % 2 ? r % 3 == 0 : r % 4 != 0;
        CHECK_OK(duckpond_write_add_row(w, row));
    }
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT));
    duckpond_write_free(w);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM n"), N);
    CHECK_EQ_INT(q64(&f, "SELECT sum(i) FROM n"), (int64_t)N * (N - 1) / 2);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM n WHERE s = 's' || i"), N - N / 5);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM n WHERE s IS NULL AND i % 5 = 0"), N / 5);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM n WHERE epoch_us(t) = i AND fl = i / 2.0"), N);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM n WHERE bo"), n_true);
    CHECK_EQ_INT(q64(&f, "SELECT sum(u) FROM n"), sum_u);
    fx_close(&f);
}

/* ------------------------------------------------------ isolation */

static void test_conversion_errors_per_row(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE c(id INTEGER, small TINYINT, s VARCHAR, dt DATE)", NULL));
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "c", NULL, 0, 0, &w));
    duckpond_value good[4] = {v_int(1), v_int(1), v_text("ok"), v_text("2024-01-01")};
    duckpond_value bad_int[4] = {v_text("abc"), v_int(1), v_text("x"), v_null()};
    duckpond_value bad_range[4] = {v_int(3), v_int(300), v_text("x"), v_null()};
    duckpond_value bad_utf8[4] = {v_int(4), v_int(1), v_text("\xff\xfe"), v_null()};
    duckpond_value bad_date[4] = {v_int(5), v_int(1), v_text("y"), v_text("2024-13-45")};
    duckpond_value good2[4] = {v_int(6), v_text("-7"), v_text("fine"), v_null()};
    CHECK_OK(duckpond_write_add_row(w, good));
    CHECK_OK(duckpond_write_add_row(w, bad_int));
    CHECK_OK(duckpond_write_add_row(w, bad_range));
    CHECK_OK(duckpond_write_add_row(w, bad_utf8));
    CHECK_OK(duckpond_write_add_row(w, bad_date));
    CHECK_OK(duckpond_write_add_row(w, good2));
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT), DUCKPOND_CONVERSION);
    size_t c, fl, row;
    duckpond_write_counts(w, &c, &fl);
    CHECK_EQ_INT(c, 2);
    CHECK_EQ_INT(fl, 4);
    const char *msg;
    CHECK_EQ_INT(duckpond_write_failure(w, 0, &row, &msg), DUCKPOND_CONVERSION);
    CHECK_EQ_INT(row, 1);
    CHECK_STR_CONTAINS(msg, "column \"id\"");
    CHECK_STR_CONTAINS(msg, "'abc'");
    CHECK_EQ_INT(duckpond_write_failure(w, 1, &row, &msg), DUCKPOND_CONVERSION);
    CHECK_EQ_INT(row, 2);
    CHECK_STR_CONTAINS(msg, "column \"small\"");
    CHECK_STR_CONTAINS(msg, "300");
    CHECK_EQ_INT(duckpond_write_failure(w, 2, &row, &msg), DUCKPOND_CONVERSION);
    CHECK_EQ_INT(row, 3);
    CHECK_STR_CONTAINS(msg, "column \"s\"");
    CHECK_STR_CONTAINS(msg, "UTF-8");
    CHECK_EQ_INT(duckpond_write_failure(w, 3, &row, &msg), DUCKPOND_CONVERSION);
    CHECK_EQ_INT(row, 4);
    CHECK_STR_CONTAINS(msg, "column \"dt\"");
    CHECK_STR_CONTAINS(msg, "2024-13-45");
    CHECK_EQ_INT(duckpond_write_failure(w, 4, &row, &msg), DUCKPOND_MISUSE);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w), "'abc'");
    duckpond_write_free(w);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM c"), 2);
    CHECK_EQ_INT(q64(&f, "SELECT sum(id) FROM c"), 7);
    CHECK_EQ_INT(q64(&f, "SELECT small FROM c WHERE id = 6"), -7);
    fx_close(&f);
}

struct bad_producer {
    duckpond_batcher *b;
    int kind; /* 0 good, 1 duplicate of existing, 2 NOT NULL, 3 CHECK, 4 duplicate within group */
    int n, ok, constraint, other;
    int64_t base;
};

static void *bad_producer_main(void *arg)
{
    struct bad_producer *p = arg;
    static const char *cols[] = {"id", "v"};
    for (int i = 0; i < p->n; i++) {
        duckpond_write *w;
        if (duckpond_write_new(p->b, "k", cols, 2, 0, &w)) {
            p->other++;
            continue;
        }
        duckpond_value row[2];
        switch (p->kind) {
        case 0: row[0] = v_int(p->base + i), row[1] = v_int(1); break;
        case 1: row[0] = v_int(1), row[1] = v_int(1); break;            /* row 1 exists */
        case 2: row[0] = v_null(), row[1] = v_int(1); break;            /* id NOT NULL */
        case 3: row[0] = v_int(p->base + i), row[1] = v_int(-5); break; /* CHECK v >= 0 */
        default: row[0] = v_int(p->base + i / 2), row[1] = v_int(2); break;
        }
        duckpond_write_add_row(w, row);
        int rc = duckpond_write_submit(w, DUCKPOND_ACK_COMMIT);
        if (rc == DUCKPOND_OK)
            p->ok++;
        else if (rc == DUCKPOND_CONSTRAINT)
            p->constraint++;
        else {
            fprintf(stderr, "    unexpected %d: %s\n", rc, duckpond_write_errmsg(w));
            p->other++;
        }
        duckpond_write_free(w);
    }
    return NULL;
}

static void test_constraint_violations_isolated(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f,
                     "CREATE TABLE k(id BIGINT PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0));"
                     "INSERT INTO k VALUES (1, 0)",
                     NULL));
    enum { NP = 10 };
    struct bad_producer p[NP];
    pthread_t th[NP];
    for (int i = 0; i < NP; i++) {
        p[i] = (struct bad_producer){f.b, i < 5 ? 0 : (i < 8 ? i - 4 : 4), 60, 0, 0, 0, 1000000LL * (i + 1)};
        CHECK_OK(pthread_create(&th[i], NULL, bad_producer_main, &p[i]));
    }
    int64_t good = 0;
    for (int i = 0; i < NP; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(p[i].other, 0);
        if (p[i].kind == 0) {
            CHECK_EQ_INT(p[i].ok, p[i].n);
            good += p[i].n;
        } else if (p[i].kind == 4) {
            /* each key is sent twice in a row: exactly one of each pair wins */
            CHECK_EQ_INT(p[i].ok, p[i].n / 2);
            CHECK_EQ_INT(p[i].constraint, p[i].n / 2);
            good += p[i].n / 2;
        } else {
            CHECK_EQ_INT(p[i].constraint, p[i].n);
        }
    }
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM k"), good + 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM k WHERE v < 0"), 0);

    /* One multi-row write: the guilty rows fail with DuckDB's reason, the rest commit. */
    static const char *cols[] = {"id", "v"};
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "k", cols, 2, 0, &w));
    for (int i = 0; i < 64; i++) {
        duckpond_value row[2] = {v_int(5000 + i), v_int(i)};
        if (i == 10)
            row[0] = v_int(1);
        if (i == 20)
            row[1] = v_int(-1);
        if (i == 30)
            row[1] = v_null();
        if (i == 40)
            row[0] = v_int(5000 + 39);
        if (i == 50)
            row[1] = v_text("zz"); /* a conversion error among them */
        CHECK_OK(duckpond_write_add_row(w, row));
    }
    /* the first failure found (conversion, before any commit) gives the status */
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT), DUCKPOND_CONVERSION);
    size_t c, fl, row;
    const char *msg;
    duckpond_write_counts(w, &c, &fl);
    CHECK_EQ_INT(c, 59);
    CHECK_EQ_INT(fl, 5);
    CHECK_EQ_INT(duckpond_write_failure(w, 0, &row, &msg), DUCKPOND_CONSTRAINT);
    CHECK_EQ_INT(row, 10);
    CHECK_STR_CONTAINS(msg, "row 10");
    CHECK_STR_CONTAINS(msg, "1");
    CHECK_EQ_INT(duckpond_write_failure(w, 1, &row, &msg), DUCKPOND_CONSTRAINT);
    CHECK_EQ_INT(row, 20);
    CHECK_STR_CONTAINS(msg, "CHECK");
    CHECK_EQ_INT(duckpond_write_failure(w, 2, &row, &msg), DUCKPOND_CONSTRAINT);
    CHECK_EQ_INT(row, 30);
    CHECK_STR_CONTAINS(msg, "NOT NULL");
    CHECK_EQ_INT(duckpond_write_failure(w, 3, &row, &msg), DUCKPOND_CONSTRAINT);
    CHECK_EQ_INT(row, 40);
    CHECK_EQ_INT(duckpond_write_failure(w, 4, &row, &msg), DUCKPOND_CONVERSION);
    CHECK_EQ_INT(row, 50);
    CHECK_STR_CONTAINS(msg, "column \"v\"");
    CHECK_STR_CONTAINS(msg, "'zz'");
    duckpond_write_free(w);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM k WHERE id BETWEEN 5000 AND 5100"), 59);
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(f.b, &s);
    CHECK_EQ_INT(s.rows_committed, good + 59);
    CHECK_EQ_INT(s.rows_failed, (uint64_t)(NP * 60) - (uint64_t)good + 5);
    fx_close(&f);
}

static void test_atomic_writes_nothing_on_bad_row(void)
{
    struct fixture f;
    CHECK_OK(
        fx_open(&f, "CREATE TABLE a(id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO a VALUES (1, 1)", NULL));
    static const char *cols[] = {"id", "v"};
    duckpond_write *w1, *w2, *w3;
    /* a conversion error */
    CHECK_OK(duckpond_write_new(f.b, "a", cols, 2, DUCKPOND_WRITE_ATOMIC, &w1));
    duckpond_value r1[2] = {v_int(10), v_int(1)}, r2[2] = {v_int(11), v_text("x")};
    CHECK_OK(duckpond_write_add_row(w1, r1));
    CHECK_OK(duckpond_write_add_row(w1, r2));
    /* a constraint error, submitted with a good write in the same group */
    CHECK_OK(duckpond_write_new(f.b, "a", cols, 2, DUCKPOND_WRITE_ATOMIC, &w2));
    duckpond_value r3[2] = {v_int(20), v_int(1)}, r4[2] = {v_int(1), v_int(1)};
    CHECK_OK(duckpond_write_add_row(w2, r3));
    CHECK_OK(duckpond_write_add_row(w2, r4));
    CHECK_OK(duckpond_write_new(f.b, "a", cols, 2, DUCKPOND_WRITE_ATOMIC, &w3));
    duckpond_value r5[2] = {v_int(30), v_int(1)}, r6[2] = {v_int(31), v_int(1)};
    CHECK_OK(duckpond_write_add_row(w3, r5));
    CHECK_OK(duckpond_write_add_row(w3, r6));
    batcher_hold(f.b, 1); /* so that all three land in one group */
    CHECK_OK(duckpond_write_submit(w1, DUCKPOND_ACK_QUEUED));
    CHECK_OK(duckpond_write_submit(w2, DUCKPOND_ACK_QUEUED));
    CHECK_OK(duckpond_write_submit(w3, DUCKPOND_ACK_QUEUED));
    batcher_hold(f.b, 0);
    CHECK_EQ_INT(duckpond_write_wait(w1), DUCKPOND_CONVERSION);
    CHECK_EQ_INT(duckpond_write_wait(w2), DUCKPOND_CONSTRAINT);
    CHECK_OK(duckpond_write_wait(w3));
    size_t c, fl, row;
    const char *msg;
    duckpond_write_counts(w1, &c, &fl);
    CHECK_EQ_INT(c, 0);
    CHECK_EQ_INT(fl, 2);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w1), "row 1: column \"v\"");
    CHECK_EQ_INT(duckpond_write_failure(w1, 1, &row, &msg), DUCKPOND_CONVERSION);
    CHECK_EQ_INT(row, 1);
    duckpond_write_counts(w2, &c, &fl);
    CHECK_EQ_INT(c, 0);
    CHECK_EQ_INT(fl, 2);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w2), "1");
    duckpond_write_counts(w3, &c, &fl);
    CHECK_EQ_INT(c, 2);
    duckpond_write_free(w1);
    duckpond_write_free(w2);
    duckpond_write_free(w3);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM a WHERE id IN (10, 11, 20)"), 0);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM a WHERE id IN (30, 31)"), 2);
    fx_close(&f);
}

static void test_unknown_table_and_column(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id BIGINT, v BIGINT)", NULL));
    duckpond_write *w;
    CHECK_EQ_INT(put_one(f.b, "nosuch", 1, 1, DUCKPOND_ACK_COMMIT, &w), DUCKPOND_NOTFOUND);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w), "table \"nosuch\" does not exist");
    duckpond_write_free(w);
    static const char *cols[] = {"id", "nope"};
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w));
    duckpond_value row[2] = {v_int(1), v_int(2)};
    CHECK_OK(duckpond_write_add_row(w, row));
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT), DUCKPOND_NOTFOUND);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w), "no column \"nope\"");
    duckpond_write_free(w);
    /* with columns = NULL the table is looked up at once: the write is poisoned */
    CHECK_OK(duckpond_write_new(f.b, "nosuch", NULL, 0, 0, &w));
    CHECK_EQ_INT(duckpond_write_add_row(w, row), DUCKPOND_NOTFOUND);
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT), DUCKPOND_NOTFOUND);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w), "does not exist");
    duckpond_write_free(w);
    /* misuse */
    CHECK_EQ_INT(duckpond_write_new(f.b, "", NULL, 0, 0, &w), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_write_new(f.b, "t", cols, 0, 0, &w), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_write_new(f.b, "t", NULL, 2, 0, &w), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_write_new(f.b, "t", cols, 2, 99, &w), DUCKPOND_MISUSE);
    static const char *dup[] = {"id", "ID"};
    CHECK_EQ_INT(duckpond_write_new(f.b, "t", dup, 2, 0, &w), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_write_new(NULL, "t", NULL, 0, 0, &w), DUCKPOND_MISUSE);
    /* the batcher still works */
    CHECK_OK(put_one(f.b, "t", 1, 1, DUCKPOND_ACK_COMMIT, NULL));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 1);
    /* a table made after the batcher started, and a dropped one */
    CHECK_OK(duckpond_exec(f.conn, "CREATE TABLE later(id BIGINT, v BIGINT)"));
    CHECK_OK(put_one(f.b, "later", 1, 1, DUCKPOND_ACK_COMMIT, NULL));
    CHECK_OK(duckpond_exec(f.conn, "DROP TABLE later"));
    CHECK(put_one(f.b, "later", 2, 2, DUCKPOND_ACK_COMMIT, NULL) != DUCKPOND_OK);
    CHECK_OK(put_one(f.b, "t", 2, 2, DUCKPOND_ACK_COMMIT, NULL));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 2);
    fx_close(&f);
}

/* ---------------------------------------------- memory, lifecycle */

static void test_backpressure_overloaded(void)
{
    struct fixture f;
    duckpond_batcher_settings set =
        DUCKPOND_BATCHER_SETTINGS_INIT(.queue_max_rows = 4, .overload_timeout_ms = 200);
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id BIGINT, v BIGINT)", &set));
    batcher_hold(f.b, 1);
    duckpond_write *w[4];
    static const char *cols[] = {"id", "v"};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w[i]));
        duckpond_value r1[2] = {v_int(2 * i), v_int(0)}, r2[2] = {v_int(2 * i + 1), v_int(0)};
        CHECK_OK(duckpond_write_add_row(w[i], r1));
        CHECK_OK(duckpond_write_add_row(w[i], r2));
    }
    CHECK_OK(duckpond_write_submit(w[0], DUCKPOND_ACK_QUEUED));
    CHECK_OK(duckpond_write_submit(w[1], DUCKPOND_ACK_QUEUED));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(duckpond_write_submit(w[2], DUCKPOND_ACK_COMMIT), DUCKPOND_OVERLOADED);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited_ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(waited_ms >= 190); /* it did wait for room before giving up */
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w[2]), "overloaded");
    /* a write larger than the whole queue is refused at once */
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w[3]));
    for (int i = 0; i < 5; i++) {
        duckpond_value r[2] = {v_int(100 + i), v_int(0)};
        CHECK_OK(duckpond_write_add_row(w[3], r));
    }
    CHECK_EQ_INT(duckpond_write_submit(w[3], DUCKPOND_ACK_COMMIT), DUCKPOND_OVERLOADED);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w[3]), "larger than the queue");
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(f.b, &s);
    CHECK_EQ_INT(s.overloaded, 2);
    CHECK_EQ_INT(s.queue_rows, 4);
    CHECK_EQ_INT(s.rows_committed, 0);
    batcher_hold(f.b, 0);
    CHECK_OK(duckpond_write_wait(w[0]));
    CHECK_OK(duckpond_write_wait(w[1]));
    /* refused writes wrote nothing and may be submitted again */
    CHECK_OK(duckpond_write_submit(w[2], DUCKPOND_ACK_COMMIT));
    for (int i = 0; i < 4; i++)
        duckpond_write_free(w[i]);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 6);
    fx_close(&f);
}

static void test_stop_flushes_then_closed(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id BIGINT, v BIGINT)", NULL));
    batcher_hold(f.b, 1);
    duckpond_write *w[50];
    for (int i = 0; i < 50; i++)
        CHECK_OK(put_one(f.b, "t", i, i, DUCKPOND_ACK_QUEUED, &w[i]));
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(f.b, &s);
    CHECK_EQ_INT(s.queue_rows, 50);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 0);
    CHECK_OK(duckpond_batcher_stop(f.b));
    for (int i = 0; i < 50; i++) {
        size_t c, fl;
        duckpond_write_counts(w[i], &c, &fl); /* acknowledged by the stop itself */
        CHECK_EQ_INT(c, 1);
        CHECK_OK(duckpond_write_wait(w[i]));
        duckpond_write_free(w[i]);
    }
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 50);
    duckpond_write *late;
    CHECK_EQ_INT(put_one(f.b, "t", 99, 99, DUCKPOND_ACK_COMMIT, &late), DUCKPOND_CLOSED);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(late), "stopped");
    duckpond_write_free(late);
    CHECK_OK(duckpond_batcher_stop(f.b)); /* again: harmless */
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 50);
    fx_close(&f);
}

struct blocked {
    duckpond_batcher *b;
    int rc;
};

static void *blocked_submit(void *arg)
{
    struct blocked *x = arg;
    x->rc = put_one(x->b, "t", 1000, 0, DUCKPOND_ACK_COMMIT, NULL);
    return NULL;
}

/* A producer waiting for room (no timeout) is turned away by a stop; nothing accepted is lost. */
static void test_stop_wakes_waiting_producer(void)
{
    struct fixture f;
    duckpond_batcher_settings set =
        DUCKPOND_BATCHER_SETTINGS_INIT(.queue_max_rows = 2, .overload_timeout_ms = -1);
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id BIGINT, v BIGINT)", &set));
    batcher_hold(f.b, 1);
    duckpond_write *w[2];
    CHECK_OK(put_one(f.b, "t", 1, 0, DUCKPOND_ACK_QUEUED, &w[0]));
    CHECK_OK(put_one(f.b, "t", 2, 0, DUCKPOND_ACK_QUEUED, &w[1]));
    struct blocked x = {f.b, -1};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, blocked_submit, &x));
    usleep(100 * 1000); /* let it block on the full queue (if it has not, stop refuses it anyway) */
    CHECK_OK(duckpond_batcher_stop(f.b));
    pthread_join(th, NULL);
    CHECK_EQ_INT(x.rc, DUCKPOND_CLOSED);
    CHECK_OK(duckpond_write_wait(w[0]));
    CHECK_OK(duckpond_write_wait(w[1]));
    duckpond_write_free(w[0]);
    duckpond_write_free(w[1]);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 2);
    fx_close(&f);
}

/* Each commit-mode ack is visible at once on another connection. */
static void test_visible_after_commit_ack(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id BIGINT, v BIGINT); CREATE TABLE u(id BIGINT, v BIGINT)", NULL));
    for (int i = 0; i < 100; i++) {
        CHECK_OK(put_one(f.b, i % 2 ? "t" : "u", i, i, DUCKPOND_ACK_COMMIT, NULL));
        char sql[100];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE id = %d", i % 2 ? "t" : "u", i);
        CHECK_EQ_INT(q64(&f, sql), 1);
    }
    fx_close(&f);
}

/* A group holding rows of two tables commits them together. */
static void test_multi_table_group(void)
{
    struct fixture f;
    CHECK_OK(fx_open(
        &f, "CREATE TABLE t(id BIGINT, v BIGINT); CREATE TABLE u(id BIGINT PRIMARY KEY, v BIGINT)", NULL));
    batcher_hold(f.b, 1);
    duckpond_write *w[20];
    for (int i = 0; i < 20; i++)
        CHECK_OK(
            put_one(f.b, i % 2 ? "t" : "u", i % 2 ? i : (i == 4 ? 0 : i), i, DUCKPOND_ACK_QUEUED, &w[i]));
    batcher_hold(f.b, 0);
    for (int i = 0; i < 20; i++) {
        int rc = duckpond_write_wait(w[i]);
        CHECK_EQ_INT(rc, i == 4 ? DUCKPOND_CONSTRAINT : DUCKPOND_OK);
        duckpond_write_free(w[i]);
    }
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 10);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM u"), 9);
    fx_close(&f);
}

/* ------------------------------------------------------- durability */

struct acker {
    duckpond_batcher *b;
    int id;
    int pipe_fd;
    pthread_mutex_t *mu;
};

/* Submits commit-mode rows forever; reports each ack's id on the pipe. */
static void *acker_main(void *arg)
{
    struct acker *a = arg;
    for (int64_t i = 0;; i++) {
        int64_t id = (int64_t)a->id * 1000000 + i;
        if (put_one(a->b, "t", id, 0, DUCKPOND_ACK_COMMIT, NULL) != DUCKPOND_OK)
            continue;
        pthread_mutex_lock(a->mu);
        if (write(a->pipe_fd, &id, sizeof id) != (ssize_t)sizeof id)
            _exit(3);
        pthread_mutex_unlock(a->mu);
    }
    return NULL;
}

static void test_acked_rows_survive_sigkill(void)
{
    const char *path = test_path("kill.duckdb");
    {
        duckpond_db *db;
        duckpond_conn *c;
        CHECK_OK(duckpond_open(path, NULL, &db));
        CHECK_OK(duckpond_connect(db, &c));
        CHECK_OK(duckpond_exec(c, "CREATE TABLE t(id BIGINT PRIMARY KEY, v BIGINT)"));
        duckpond_disconnect(c);
        duckpond_close(db);
    }
    int fds[2];
    CHECK_OK(pipe(fds));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        duckpond_db *db;
        duckpond_batcher *b;
        if (duckpond_open(path, NULL, &db) || duckpond_batcher_new(db, NULL, &b))
            _exit(2);
        static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        struct acker a[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            a[i] = (struct acker){b, i + 1, fds[1], &mu};
            pthread_create(&th[i], NULL, acker_main, &a[i]);
        }
        for (;;)
            pause();
    }
    close(fds[1]);
    /* Read acks until enough have come, then kill the writer mid-stream. */
    int64_t ids[4000];
    size_t n = 0;
    while (n < 4000) {
        ssize_t r = read(fds[0], &ids[n], sizeof ids[n]);
        if (r != (ssize_t)sizeof ids[n])
            break;
        n++;
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    /* acks the child reported before it died are also acked rows */
    while (n < 4000 && read(fds[0], &ids[n], sizeof ids[n]) == (ssize_t)sizeof ids[n])
        n++;
    close(fds[0]);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(n >= 1000);
    duckpond_db *db;
    duckpond_conn *c;
    CHECK_OK(duckpond_open(path, NULL, &db));
    CHECK_OK(duckpond_connect(db, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TEMP TABLE acked(id BIGINT)"));
    duckdb_appender app;
    CHECK(duckdb_appender_create(duckpond_conn_duckdb(c), NULL, "acked", &app) == DuckDBSuccess);
    for (size_t i = 0; i < n; i++) {
        duckdb_append_int64(app, ids[i]);
        duckdb_appender_end_row(app);
    }
    duckdb_appender_destroy(&app);
    int64_t missing = -1, total = -1;
    CHECK_OK(
        duckpond_query_int64(c, "SELECT count(*) FROM acked WHERE id NOT IN (SELECT id FROM t)", &missing));
    CHECK_OK(duckpond_query_int64(c, "SELECT count(*) FROM t", &total));
    CHECK_EQ_INT(missing, 0);
    CHECK(total >= (int64_t)n);
    duckpond_disconnect(c);
    duckpond_close(db);
}

static void test_misuse_and_free(void)
{
    duckpond_batcher *b = NULL;
    CHECK_EQ_INT(duckpond_batcher_new(NULL, NULL, &b), DUCKPOND_MISUSE);
    struct fixture f;
    duckpond_batcher_settings bad = DUCKPOND_BATCHER_SETTINGS_INIT(.overload_timeout_ms = -2);
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id BIGINT, v BIGINT)", NULL));
    CHECK_EQ_INT(duckpond_batcher_new(f.db, &bad, &b), DUCKPOND_MISUSE);
    duckpond_write *w;
    CHECK_EQ_INT(duckpond_write_wait(NULL), DUCKPOND_MISUSE);
    CHECK_OK(put_one(f.b, "t", 1, 1, DUCKPOND_ACK_COMMIT, &w));
    duckpond_value row[2] = {v_int(1), v_int(1)};
    CHECK_EQ_INT(duckpond_write_add_row(w, row), DUCKPOND_MISUSE);                /* after submit */
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT), DUCKPOND_MISUSE); /* twice */
    duckpond_write_free(w);
    static const char *cols[] = {"id", "v"};
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w));
    duckpond_value badv[2] = {{.kind = 99}, v_int(1)};
    CHECK_EQ_INT(duckpond_write_add_row(w, badv), DUCKPOND_MISUSE);
    duckpond_value badt[2] = {v_int(1), {.kind = DUCKPOND_VALUE_TEXT}};
    badt[1].u.text.len = 3;
    CHECK_EQ_INT(duckpond_write_add_row(w, badt), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_write_wait(w), DUCKPOND_MISUSE);   /* not submitted */
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT)); /* no rows: fine */
    duckpond_write_free(w);
    /* a queued write freed without waiting: free waits for its commit */
    CHECK_OK(put_one(f.b, "t", 2, 2, DUCKPOND_ACK_QUEUED, NULL));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 2);
    fx_close(&f);
}

/* ---------------------------------------------------------- journal */

/* A fixture whose batcher has a journal in the test's directory. */
static int fx_open_journal(struct fixture *f, const char *schema, size_t segment_bytes)
{
    duckpond_batcher_settings set = DUCKPOND_BATCHER_SETTINGS_INIT(.journal_dir = test_path("journal"),
                                                                   .journal_segment_bytes = segment_bytes);
    return fx_open(f, schema, &set);
}

/* One journal-mode row into t(id, v); *seq gets its number. Returns the submit status. */
static int put_journal(duckpond_batcher *b, int64_t id, int64_t val, uint64_t *seq)
{
    static const char *cols[] = {"id", "v"};
    duckpond_write *w;
    int rc = duckpond_write_new(b, "t", cols, 2, 0, &w);
    if (rc)
        return rc;
    duckpond_value row[2] = {v_int(id), v_int(val)};
    rc = duckpond_write_add_row(w, row);
    if (!rc)
        rc = duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL);
    if (seq)
        *seq = duckpond_write_seq(w);
    duckpond_write_free(w);
    return rc;
}

/* The record format: encode, decode, encode gives the same bytes; bad records are refused. */
static void test_journal_record_roundtrip(void)
{
    struct fixture f;
    CHECK_OK(fx_open(
        &f, "CREATE TABLE r(i BIGINT, d DOUBLE, bo BOOLEAN, s VARCHAR, ts TIMESTAMP, x INTEGER DEFAULT 7)",
        NULL));
    static const char *cols[] = {"i", "d", "bo", "s", "ts", "x"};
    duckpond_write *w, *back;
    CHECK_OK(duckpond_write_new(f.b, "main.r", cols, 6, DUCKPOND_WRITE_ATOMIC, &w));
    duckpond_value z = {.kind = DUCKPOND_VALUE_TEXT};
    z.u.text.ptr = "a\0b";
    z.u.text.len = 3;
    duckpond_value rows[3][6] = {
        {v_int(INT64_MIN), v_dbl(-0.1), v_bool(1), v_text("héllo"), v_ts(-1), v_def()},
        {v_null(), v_dbl(1e300), v_bool(0), v_text(""), v_ts(1700000000123456LL), v_int(-5)},
        {v_text("42"), v_text("2.5"), v_text("t"), z, v_text("2024-01-02 03:04:05"), v_null()},
    };
    for (int r = 0; r < 3; r++)
        CHECK_OK(duckpond_write_add_row(w, rows[r]));
    void *rec, *rec2;
    size_t len, len2;
    char *msg = NULL;
    CHECK_OK(batcher_encode(w, &rec, &len));
    CHECK_OK(batcher_decode(f.b, rec, len, &back, &msg));
    CHECK_OK(batcher_encode(back, &rec2, &len2));
    CHECK_EQ_INT(len2, len);
    CHECK(memcmp(rec, rec2, len) == 0);
    free(rec2);
    /* every cut of the record, and a byte too many, is refused without harm */
    for (size_t cut = 0; cut < len; cut++) {
        duckpond_write *x = NULL;
        CHECK_EQ_INT(batcher_decode(f.b, rec, cut, &x, &msg), DUCKPOND_MISUSE);
        CHECK(x == NULL && msg != NULL);
        free(msg);
    }
    unsigned char *big = malloc(len + 1);
    memcpy(big, rec, len);
    big[len] = 0;
    duckpond_write *x = NULL;
    CHECK_EQ_INT(batcher_decode(f.b, big, len + 1, &x, &msg), DUCKPOND_MISUSE);
    CHECK_STR_CONTAINS(msg, "malformed");
    free(msg);
    big[0] = 9; /* a version this build does not know */
    CHECK_EQ_INT(batcher_decode(f.b, big, len, &x, &msg), DUCKPOND_MISUSE);
    CHECK_STR_CONTAINS(msg, "version 9");
    free(msg);
    free(big);
    free(rec);
    /* the rebuilt write commits the same values */
    CHECK_OK(duckpond_write_submit(back, DUCKPOND_ACK_COMMIT));
    duckpond_write_free(back);
    duckpond_write_free(w);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM r"), 3);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM r WHERE i = -9223372036854775808 AND d = -0.1 AND bo"
                         " AND s = 'héllo' AND epoch_us(ts) = -1 AND x = 7"),
                 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM r WHERE i IS NULL AND d = 1e300 AND NOT bo AND s = ''"
                         " AND epoch_us(ts) = 1700000000123456 AND x = -5"),
                 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM r WHERE i = 42 AND d = 2.5 AND bo AND s = 'a' || chr(0) || 'b'"
                         " AND ts = TIMESTAMP '2024-01-02 03:04:05' AND x IS NULL"),
                 1);
    fx_close(&f);
}

/* A record of n columns (all named "a") of table "t" and a row count it cannot hold, into rec; its length. */
static size_t bogus_record(unsigned char *rec, uint32_t ncols, uint64_t nrows)
{
    size_t o = 0;
    rec[o++] = 1; /* version */
    rec[o++] = 0; /* flags */
    rec[o++] = 0;
    rec[o++] = 0;
    for (int i = 0; i < 4; i++)
        rec[o++] = (unsigned char)(ncols >> (8 * i));
    const unsigned char table[] = {1, 0, 0, 0, 't'}, column[] = {1, 0, 0, 0, 'a'};
    memcpy(rec + o, table, sizeof table);
    o += sizeof table;
    for (uint32_t c = 0; c < ncols; c++) {
        memcpy(rec + o, column, sizeof column);
        o += sizeof column;
    }
    for (int i = 0; i < 8; i++)
        rec[o++] = (unsigned char)(nrows >> (8 * i));
    rec[o++] = DUCKPOND_VALUE_NULL; /* one value, for one row of one column at most */
    return o;
}

/* A record that names no column, or counts more rows than its bytes can hold, is refused at once. */
static void test_journal_record_row_count_checked(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE t(a INTEGER)", NULL));
    unsigned char rec[64];
    static const struct {
        uint32_t ncols;
        uint64_t nrows;
    } bad[] = {{0, 1u << 24}, {0, UINT64_MAX}, {0, 1}, {1, 2}, {1, UINT64_MAX}, {2, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = bogus_record(rec, bad[i].ncols, bad[i].nrows);
        duckpond_write *x = NULL;
        char *msg = NULL;
        int64_t t0 = dp_now_us();
        CHECK_EQ_INT(batcher_decode(f.b, rec, len, &x, &msg), DUCKPOND_MISUSE);
        CHECK(x == NULL);
        CHECK_STR_CONTAINS(msg, "malformed");
        free(msg);
        CHECK(dp_now_us() - t0 < 1000000);
    }
    /* the same record with a count it holds is one row: encoded again, the same bytes */
    duckpond_write *w = NULL;
    char *msg = NULL;
    size_t len = bogus_record(rec, 1, 1), len2;
    void *again;
    CHECK_OK(batcher_decode(f.b, rec, len, &w, &msg));
    CHECK_OK(batcher_encode(w, &again, &len2));
    CHECK(len2 == len && memcmp(again, rec, len) == 0);
    free(again);
    duckpond_write_free(w);
    fx_close(&f);
}

/* Journal acks: values arrive, refused rows are never journaled, read-your-writes. */
static void test_journal_ack_checks_and_applies(void)
{
    struct fixture f;
    CHECK_OK(fx_open_journal(&f, "CREATE TABLE t(id BIGINT PRIMARY KEY, v BIGINT)", 0));
    uint64_t seq = 0, seq2 = 0;
    CHECK_OK(put_journal(f.b, 1, 10, &seq));
    CHECK(seq >= 1);
    CHECK_OK(put_journal(f.b, 2, 20, &seq2));
    CHECK_EQ_INT(seq2, seq + 1);
    CHECK_OK(duckpond_batcher_wait_applied(f.b, seq2, 10000));
    CHECK_EQ_INT(q64(&f, "SELECT sum(v) FROM t"), 30);
    CHECK_EQ_INT(q64(&f, "SELECT applied_seq FROM duckpond_journal_state"), (int64_t)seq2);
    /* a value that cannot be converted fails at submit, and only its row */
    static const char *cols[] = {"id", "v"};
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w));
    duckpond_value good[2] = {v_int(3), v_int(30)}, bad[2] = {v_int(4), v_text("forty")};
    CHECK_OK(duckpond_write_add_row(w, good));
    CHECK_OK(duckpond_write_add_row(w, bad));
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL), DUCKPOND_CONVERSION);
    size_t c, fl, row;
    const char *m;
    duckpond_write_counts(w, &c, &fl);
    CHECK_EQ_INT(c, 1);
    CHECK_EQ_INT(fl, 1);
    CHECK_EQ_INT(duckpond_write_failure(w, 0, &row, &m), DUCKPOND_CONVERSION);
    CHECK_EQ_INT(row, 1);
    CHECK_STR_CONTAINS(m, "forty");
    uint64_t s3 = duckpond_write_seq(w);
    CHECK_EQ_INT(s3, seq2 + 1);
    duckpond_write_free(w);
    /* an atomic write with a bad row, and an unknown table, journal nothing */
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, DUCKPOND_WRITE_ATOMIC, &w));
    CHECK_OK(duckpond_write_add_row(w, good));
    CHECK_OK(duckpond_write_add_row(w, bad));
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL), DUCKPOND_CONVERSION);
    CHECK_EQ_INT(duckpond_write_seq(w), 0);
    duckpond_write_free(w);
    CHECK_OK(duckpond_write_new(f.b, "nope", cols, 2, 0, &w));
    CHECK_OK(duckpond_write_add_row(w, good));
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL), DUCKPOND_NOTFOUND);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w), "nope");
    duckpond_write_free(w);
    duckpond_batcher_stats st = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(f.b, &st);
    CHECK_EQ_INT(st.journal_appended_seq, s3);
    CHECK_EQ_INT(st.journal_writes_acked, 3);
    CHECK_EQ_INT(st.journal_rows_acked, 3);
    /* a duplicate key only DuckDB sees: acked, then failed after the ack, and said so */
    uint64_t s4;
    CHECK_OK(put_journal(f.b, 1, 99, &s4));
    CHECK_OK(duckpond_batcher_wait_applied(f.b, s4, 10000));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 3);
    CHECK_EQ_INT(q64(&f, "SELECT sum(v) FROM t"), 60);
    char why[512];
    duckpond_batcher_journal_errmsg(f.b, why, sizeof why);
    char want[64];
    snprintf(want, sizeof want, "journal record %llu: ", (unsigned long long)s4);
    CHECK_STR_CONTAINS(why, want);
    CHECK_STR_CONTAINS(why, "uplicate key");
    duckpond_batcher_stats_get(f.b, &st);
    CHECK_EQ_INT(st.journal_rows_failed_after_ack, 1);
    CHECK_EQ_INT(st.journal_applied_seq, s4);
    uint64_t lagged = 0;
    for (int i = 0; i <= DUCKPOND_LATENCY_BUCKETS; i++)
        lagged += st.apply_lag_count[i];
    CHECK_EQ_INT(lagged, 4); /* one per journaled write applied */
    /* misuse: a number never handed out; a batcher without a journal */
    CHECK_EQ_INT(duckpond_batcher_wait_applied(f.b, s4 + 1000, 0), DUCKPOND_MISUSE);
    CHECK_OK(duckpond_batcher_wait_applied(f.b, 0, 0));
    fx_close(&f);
    CHECK_OK(fx_open(&f, NULL, NULL));
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w));
    duckpond_value five[2] = {v_int(5), v_int(50)};
    CHECK_OK(duckpond_write_add_row(w, five));
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL), DUCKPOND_MISUSE);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w), "journal_dir");
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT)); /* not consumed by the refusal */
    duckpond_write_free(w);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t WHERE id = 5"), 1);
    fx_close(&f);
}

/* A batcher with a journal on path, as a child process would start it. */
static int open_journaled(const char *path, const char *jdir, size_t seg, duckpond_db **db,
                          duckpond_batcher **b)
{
    duckpond_batcher_settings set =
        DUCKPOND_BATCHER_SETTINGS_INIT(.journal_dir = jdir, .journal_segment_bytes = seg);
    *b = NULL;
    if (duckpond_open(path, NULL, db) != DUCKPOND_OK)
        return 1;
    return duckpond_batcher_new(*db, &set, b);
}

static int make_table_t(const char *path)
{
    duckpond_db *db;
    duckpond_conn *c;
    if (duckpond_open(path, NULL, &db) || duckpond_connect(db, &c))
        return 1;
    int rc = duckpond_exec(c, "CREATE TABLE t(id BIGINT, v BIGINT)"); /* no key: duplicates would show */
    duckpond_disconnect(c);
    duckpond_close(db);
    return rc;
}

struct jacker {
    duckpond_batcher *b;
    int64_t base;
    int pipe_fd;
    duckpond_ack ack;
};

/* Submits rows with unique ids forever; reports each acknowledged id on the pipe. */
static void *jacker_main(void *arg)
{
    struct jacker *a = arg;
    for (int64_t i = 0;; i++) {
        int64_t id = a->base + i;
        int rc = a->ack == DUCKPOND_ACK_JOURNAL ? put_journal(a->b, id, 0, NULL)
                                                : put_one(a->b, "t", id, 0, a->ack, NULL);
        if (rc == DUCKPOND_OK && write(a->pipe_fd, &id, sizeof id) != (ssize_t)sizeof id)
            _exit(3);
    }
    return NULL;
}

/* The child of a kill round: replays, then writes from 4 journal + 1 commit producers until killed. */
static void kill_round_child(const char *path, const char *jdir, int round, int fd)
{
    duckpond_db *db;
    duckpond_batcher *b;
    if (open_journaled(path, jdir, 64 << 10, &db, &b))
        _exit(2);
    struct jacker a[5];
    pthread_t th[5];
    for (int i = 0; i < 5; i++) {
        a[i] = (struct jacker){b, ((int64_t)round << 40) | ((int64_t)i << 32), fd,
                               i < 4 ? DUCKPOND_ACK_JOURNAL : DUCKPOND_ACK_COMMIT};
        pthread_create(&th[i], NULL, jacker_main, &a[i]);
    }
    for (;;)
        pause();
}

/* Every id in acked[0..n) is in t exactly once, and t has no duplicate. */
static int check_acked(const char *path, const char *jdir, const int64_t *acked, size_t n, char *report,
                       size_t len)
{
    duckpond_db *db;
    duckpond_batcher *b;
    duckpond_conn *c;
    if (open_journaled(path, jdir, 64 << 10, &db, &b)) {
        snprintf(report, len, "reopen failed: %s", duckpond_db_errmsg(db));
        return 1;
    }
    snprintf(report, len, "%s", duckpond_batcher_journal_report(b));
    duckpond_batcher_free(b);
    if (duckpond_connect(db, &c) || duckpond_exec(c, "CREATE TEMP TABLE acked(id BIGINT)"))
        return 2;
    duckdb_appender app;
    if (duckdb_appender_create(duckpond_conn_duckdb(c), NULL, "acked", &app) == DuckDBError)
        return 3;
    for (size_t i = 0; i < n; i++) {
        duckdb_append_int64(app, acked[i]);
        duckdb_appender_end_row(app);
    }
    duckdb_appender_destroy(&app);
    int64_t missing = -1, total = -1, distinct = -1;
    duckpond_query_int64(c, "SELECT count(*) FROM acked WHERE id NOT IN (SELECT id FROM t)", &missing);
    duckpond_query_int64(c, "SELECT count(*) FROM t", &total);
    duckpond_query_int64(c, "SELECT count(DISTINCT id) FROM t", &distinct);
    duckpond_disconnect(c);
    duckpond_close(db);
    if (missing != 0 || total != distinct || total < (int64_t)n) {
        fprintf(stderr, "    %lld acked rows missing; %lld rows, %lld distinct, %zu acked\n",
                (long long)missing, (long long)total, (long long)distinct, n);
        return 4;
    }
    return 0;
}

/*
 * SIGKILL at a random moment of a multi-producer load, 24 times on one
 * database: after each restart (which replays the journal) every
 * acknowledged row is there exactly once.
 */
static void test_journal_sigkill_loop(void)
{
    const char *path = test_path("kill.duckdb"), *jdir = test_path("kill.journal");
    CHECK_OK(make_table_t(path));
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    printf("    seed %u\n", seed);
    size_t n = 0, cap = 1 << 16;
    int64_t *acked = malloc(cap * sizeof *acked);
    char report[4096];
    enum { ROUNDS = 24 };
    for (int round = 1; round <= ROUNDS; round++) {
        int fds[2];
        CHECK_OK(pipe(fds));
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            kill_round_child(path, jdir, round, fds[1]);
        }
        close(fds[1]);
        struct timespec d = {0, (50 + rand_r(&seed) % 451) * 1000000L};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* not an early exit */
        size_t before = n;
        for (;;) { /* every ack the child reported before it died */
            if (n == cap)
                acked = realloc(acked, (cap *= 2) * sizeof *acked);
            if (read(fds[0], &acked[n], sizeof acked[n]) != (ssize_t)sizeof acked[n])
                break;
            n++;
        }
        close(fds[0]);
        CHECK_EQ_INT(check_acked(path, jdir, acked, n, report, sizeof report), 0);
        if (round == 1 || round == ROUNDS)
            printf("    round %d: %zu acked (%zu in all); reopen: %s\n", round, n - before, n, report);
    }
    CHECK(n >= 1000);
    free(acked);
}

/* Child: journals rows id = 1..n, one per record, with the writer held, then waits to be killed. */
static void journal_only_child(const char *path, const char *jdir, int n, int fd)
{
    duckpond_db *db;
    duckpond_batcher *b;
    if (open_journaled(path, jdir, 300, &db, &b))
        _exit(2);
    batcher_hold(b, 1); /* nothing reaches DuckDB: only the journal has the rows */
    for (int64_t id = 1; id <= n; id++) {
        uint64_t seq;
        if (put_journal(b, id, id, &seq) || seq != (uint64_t)id)
            _exit(3);
    }
    char done = 1;
    if (write(fd, &done, 1) != 1)
        _exit(4);
    for (;;)
        pause();
}

/* Where a journal segment's records end: the zeros written ahead of them do not count. */
static off_t records_end(const char *file)
{
    int fd = open(file, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return -1;
    off_t end = st.st_size;
    unsigned char c = 0;
    while (end > 0 && pread(fd, &c, 1, end - 1) == 1 && c == 0)
        end--;
    close(fd);
    return end;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A journal whose rows never reached DuckDB, then damaged: its last
 * record torn, a byte flipped in another, a middle segment deleted. The
 * restart applies every whole record exactly once, never a damaged one,
 * and the report says what was cut, skipped and missing.
 */
static void test_journal_recovery_reports_damage(void)
{
    const char *path = test_path("rec.duckdb"), *jdir = test_path("rec.journal");
    CHECK_OK(make_table_t(path));
    enum { N = 60 };
    int fds[2];
    CHECK_OK(pipe(fds));
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        journal_only_child(path, jdir, N, fds[1]);
    }
    close(fds[1]);
    char done = 0;
    CHECK(read(fds[0], &done, 1) == 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    /* the segments, in order */
    char *names[64];
    int nseg = 0;
    DIR *d = opendir(jdir);
    CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) && nseg < 64)
        if (!strncmp(e->d_name, "seg-", 4))
            names[nseg++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)nseg, sizeof *names, cmp_name);
    CHECK(nseg >= 5);
    unsigned long long first[64];
    for (int k = 0; k < nseg; k++)
        CHECK(sscanf(names[k], "seg-%llx.log", &first[k]) == 1);
    char file[700];
    /* delete the second segment: its records are missing */
    snprintf(file, sizeof file, "%s/%s", jdir, names[1]);
    CHECK(unlink(file) == 0);
    /* flip a payload byte of the first record of the third segment */
    snprintf(file, sizeof file, "%s/%s", jdir, names[2]);
    int fd = open(file, O_RDWR);
    CHECK(fd >= 0);
    char c;
    CHECK(pread(fd, &c, 1, 24 + 10) == 1);
    c ^= 0x40;
    CHECK(pwrite(fd, &c, 1, 24 + 10) == 1);
    close(fd);
    /* tear the last record of the last segment */
    snprintf(file, sizeof file, "%s/%s", jdir, names[nseg - 1]);
    off_t end = records_end(file);
    CHECK(end > 3);
    CHECK(truncate(file, end - 3) == 0);
    for (int k = 0; k < nseg; k++)
        free(names[k]);

    duckpond_db *db;
    duckpond_batcher *b;
    CHECK_OK(open_journaled(path, jdir, 300, &db, &b));
    const char *report = duckpond_batcher_journal_report(b);
    printf("    %s\n", report);
    char want[128];
    snprintf(want, sizeof want, "records %llu-%llu are missing", first[1], first[2] - 1);
    CHECK_STR_CONTAINS(report, want);
    snprintf(want, sizeof want, "corrupt data in seg-%016llx.log", first[2]); /* the flipped one */
    CHECK_STR_CONTAINS(report, want);
    CHECK_STR_CONTAINS(report, "torn tail");
    duckpond_conn *conn;
    CHECK_OK(duckpond_connect(db, &conn));
    int64_t total = -1, distinct = -1, wrong = -1;
    int64_t lost =
        (int64_t)(first[2] - first[1]) + 2; /* the deleted segment, the flipped and the torn record */
    CHECK_OK(duckpond_query_int64(conn, "SELECT count(*) FROM t", &total));
    CHECK_OK(duckpond_query_int64(conn, "SELECT count(DISTINCT id) FROM t", &distinct));
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM t WHERE v <> id OR id = %d OR id = %llu OR (id >= %llu AND id < %llu)", N,
             first[2], first[1], first[2]);
    CHECK_OK(duckpond_query_int64(conn, sql, &wrong));
    CHECK_EQ_INT(total, N - lost);
    CHECK_EQ_INT(distinct, total);
    CHECK_EQ_INT(wrong, 0);
    /* the numbers go on after the last whole record; a second restart replays nothing */
    uint64_t seq;
    CHECK_OK(put_journal(b, 1000, 1000, &seq));
    CHECK_EQ_INT(seq, N);
    duckpond_batcher_free(b);
    CHECK_OK(duckpond_batcher_new(
        db, &(duckpond_batcher_settings)DUCKPOND_BATCHER_SETTINGS_INIT(.journal_dir = jdir), &b));
    CHECK_STR_CONTAINS(duckpond_batcher_journal_report(b), " 0 replayed");
    CHECK_OK(duckpond_query_int64(conn, "SELECT count(*) FROM t", &total));
    CHECK_EQ_INT(total, N - lost + 1);
    duckpond_disconnect(conn);
    duckpond_batcher_free(b);
    duckpond_close(db);
}

/*
 * A journal that cannot be written (file size limit, as a full disk):
 * journal acks fail with a clear error and nothing is acknowledged that is
 * not on disk; reads go on; once there is room again, writes go on.
 */
static void test_journal_disk_full(void)
{
    struct fixture f;
    CHECK_OK(fx_open_journal(&f, "CREATE TABLE t(id BIGINT, v BIGINT)", 0));
    uint64_t seq = 0;
    for (int i = 1; i <= 10; i++)
        CHECK_OK(put_journal(f.b, i, 1, &seq));
    CHECK_OK(duckpond_batcher_wait_applied(f.b, seq, 10000));
    batcher_hold(f.b, 1); /* DuckDB writes nothing while the limit is on */
    char seg[600];
    snprintf(seg, sizeof seg, "%s/seg-%016x.log", test_path("journal"), 1);
    off_t end = records_end(seg); /* the zeros written ahead are room the disk already gave */
    CHECK(end > 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit none, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &none) == 0);
    lim = (struct rlimit){(rlim_t)end + 10, none.rlim_max};
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    static const char *cols[] = {"id", "v"};
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w));
    duckpond_value row[2] = {v_int(100), v_int(1)};
    CHECK_OK(duckpond_write_add_row(w, row));
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL), DUCKPOND_IO);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w), "cannot write the journal");
    CHECK_EQ_INT(duckpond_write_seq(w), 0);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 10); /* reads are served */
    CHECK(setrlimit(RLIMIT_FSIZE, &none) == 0);
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL)); /* refused, so it may be retried */
    seq = duckpond_write_seq(w);
    CHECK_EQ_INT(seq, 11); /* the refused try took no number */
    duckpond_write_free(w);
    batcher_hold(f.b, 0);
    CHECK_OK(duckpond_batcher_wait_applied(f.b, seq, 10000));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 11);
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(f.b, &s);
    CHECK_EQ_INT(s.journal_errors, 1);
    CHECK_EQ_INT(s.journal_writes_acked, 11);
    fx_close(&f);
}

struct reader {
    duckpond_batcher *b;
    duckpond_db *db;
    int id, n, misses, errors;
};

/* Writes a row in journal mode, waits for it, then reads it on its own connection. */
static void *ryw_main(void *arg)
{
    struct reader *r = arg;
    duckpond_conn *c;
    if (duckpond_connect(r->db, &c)) {
        r->errors++;
        return NULL;
    }
    for (int i = 0; i < r->n; i++) {
        int64_t id = (int64_t)r->id * 100000 + i, found = -1;
        uint64_t seq;
        if (put_journal(r->b, id, r->id, &seq) || duckpond_batcher_wait_applied(r->b, seq, 30000)) {
            r->errors++;
            continue;
        }
        char sql[100];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM t WHERE id = %lld", (long long)id);
        if (duckpond_query_int64(c, sql, &found) || found != 1)
            r->misses++;
    }
    duckpond_disconnect(c);
    return NULL;
}

/* Read-your-writes holds for journal writers while others load the batcher. */
static void test_journal_read_your_writes_under_load(void)
{
    struct fixture f;
    CHECK_OK(fx_open_journal(&f, "CREATE TABLE t(id BIGINT, v BIGINT)", 0));
    enum { NR = 4, NL = 4 };
    struct reader r[NR];
    struct producer p[NL];
    pthread_t th[NR + NL];
    for (int i = 0; i < NL; i++) {
        p[i] = (struct producer){f.b, 100 + i, 50, 20, i % 2 ? DUCKPOND_ACK_QUEUED : DUCKPOND_ACK_COMMIT, 0};
        CHECK_OK(pthread_create(&th[NR + i], NULL, producer_main, &p[i]));
    }
    for (int i = 0; i < NR; i++) {
        r[i] = (struct reader){f.b, f.db, i + 1, 150, 0, 0};
        CHECK_OK(pthread_create(&th[i], NULL, ryw_main, &r[i]));
    }
    for (int i = 0; i < NR + NL; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NR; i++) {
        CHECK_EQ_INT(r[i].errors, 0);
        CHECK_EQ_INT(r[i].misses, 0);
    }
    for (int i = 0; i < NL; i++)
        CHECK_EQ_INT(p[i].failures, 0);
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(f.b, &s);
    CHECK_EQ_INT(s.journal_writes_acked, NR * 150);
    CHECK(s.journal_applied_seq == s.journal_appended_seq);
    printf("    %llu of %d reads waited, %.3f ms on average; apply lag %.3f ms on average\n",
           (unsigned long long)s.applied_waits, NR * 150,
           s.applied_waits ? (double)s.applied_wait_sum_us / (double)s.applied_waits / 1e3 : 0.0,
           (double)s.apply_lag_sum_us / (double)(NR * 150) / 1e3);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), NR * 150 + NL * 50 * 20);
    fx_close(&f);
}

/*
 * A failed fdatasync poisons the journal: that write and every later
 * journaled one fail with an I/O error (nothing more is acknowledged),
 * while commit acks and reads go on. A restart clears it.
 */
static void test_journal_fsync_failure_poisons(void)
{
    struct fixture f;
    CHECK_OK(fx_open_journal(&f, "CREATE TABLE t(id BIGINT, v BIGINT)", 0));
    uint64_t seq;
    CHECK_OK(put_journal(f.b, 1, 1, &seq));
    batcher_journal_fail_syncs(f.b);
    static const char *cols[] = {"id", "v"};
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w));
    duckpond_value row[2] = {v_int(2), v_int(1)};
    CHECK_OK(duckpond_write_add_row(w, row));
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL), DUCKPOND_IO);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w), "fdatasync failed");
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w), "not acknowledged");
    CHECK_EQ_INT(duckpond_write_seq(w), 0);
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL),
                 DUCKPOND_MISUSE); /* it may have reached the disk */
    duckpond_write_free(w);
    CHECK_EQ_INT(put_journal(f.b, 3, 1, NULL), DUCKPOND_IO); /* poisoned: refused at once */
    CHECK_OK(put_one(f.b, "t", 4, 1, DUCKPOND_ACK_COMMIT, NULL));
    CHECK_OK(duckpond_batcher_wait_applied(f.b, seq, 10000));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t WHERE id IN (1, 4)"), 2);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t WHERE id = 3"), 0);
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(f.b, &s);
    CHECK_EQ_INT(s.journal_errors, 2);
    CHECK_EQ_INT(s.journal_writes_acked, 1);
    duckpond_batcher_free(f.b);
    duckpond_batcher_settings set = DUCKPOND_BATCHER_SETTINGS_INIT(.journal_dir = test_path("journal"));
    CHECK_OK(duckpond_batcher_new(f.db, &set, &f.b));
    CHECK_OK(put_journal(f.b, 5, 1, &seq));
    CHECK_OK(duckpond_batcher_wait_applied(f.b, seq, 10000));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t WHERE id = 5"), 1);
    fx_close(&f);
}
/*
 * One group mixing every shape: rows of two tables, rows with a DEFAULT
 * value and a DATE column, and a row that breaks a constraint: the
 * bisection then commits the good rows, two tables in one transaction,
 * by the batch scan. And the batch scan function refuses to run on any
 * other connection.
 */
static void test_group_mixes_scan_and_appender(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f,
                     "CREATE TABLE a(id BIGINT PRIMARY KEY, s VARCHAR, d DATE DEFAULT DATE '2024-01-02');"
                     "CREATE TABLE c(id BIGINT, x DOUBLE)",
                     NULL));
    static const char *acols[] = {"id", "s"}, *acols3[] = {"id", "s", "d"}, *ccols[] = {"id", "x"};
    duckpond_write *w[5];
    CHECK_OK(duckpond_write_new(f.b, "a", acols, 2, 0, &w[0]));
    CHECK_OK(duckpond_write_new(f.b, "c", ccols, 2, 0, &w[1]));
    CHECK_OK(duckpond_write_new(f.b, "a", acols3, 3, 0, &w[2]));
    CHECK_OK(duckpond_write_new(f.b, "a", acols, 2, 0, &w[3]));
    CHECK_OK(duckpond_write_new(f.b, "a", acols3, 3, 0, &w[4]));
    duckpond_value r0[2] = {v_int(1), v_text("one")}, r0b[2] = {v_int(2), v_null()};
    duckpond_value r1[2] = {v_int(10), v_text("2.5")};
    duckpond_value r2[3] = {v_int(3), v_text("three"), v_def()};
    duckpond_value r3[2] = {v_int(1), v_text("duplicate")};
    duckpond_value r4[3] = {v_int(4), v_text("four"), v_text("2024-03-04")};
    CHECK_OK(duckpond_write_add_row(w[0], r0));
    CHECK_OK(duckpond_write_add_row(w[0], r0b));
    CHECK_OK(duckpond_write_add_row(w[1], r1));
    CHECK_OK(duckpond_write_add_row(w[2], r2));
    CHECK_OK(duckpond_write_add_row(w[3], r3));
    CHECK_OK(duckpond_write_add_row(w[4], r4));
    batcher_hold(f.b, 1); /* so that all five land in one group */
    for (int i = 0; i < 5; i++)
        CHECK_OK(duckpond_write_submit(w[i], DUCKPOND_ACK_QUEUED));
    batcher_hold(f.b, 0);
    CHECK_OK(duckpond_write_wait(w[0]));
    CHECK_OK(duckpond_write_wait(w[1]));
    CHECK_OK(duckpond_write_wait(w[2]));
    CHECK_EQ_INT(duckpond_write_wait(w[3]), DUCKPOND_CONSTRAINT);
    CHECK_OK(duckpond_write_wait(w[4]));
    for (int i = 0; i < 5; i++)
        duckpond_write_free(w[i]);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM a"), 4);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM a WHERE id = 1 AND s = 'one' AND d = DATE '2024-01-02'"), 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM a WHERE id = 2 AND s IS NULL"), 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM a WHERE id = 3 AND d = DATE '2024-01-02'"), 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM a WHERE id = 4 AND d = DATE '2024-03-04'"), 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM c WHERE id = 10 AND x = 2.5"), 1);
    /* the scan function of the batcher's writer, from a user's connection */
    duckpond_conn *other;
    CHECK_OK(duckpond_connect(f.db, &other));
    duckdb_result res;
    CHECK(duckdb_query(
              duckpond_conn_duckdb(other),
              "SELECT function_name FROM duckdb_functions() WHERE function_name LIKE 'duckpond_batch_scan%'",
              &res) == DuckDBSuccess);
    CHECK(duckdb_row_count(&res) >= 1);
    char *name = duckdb_value_varchar(&res, 0, 0);
    duckdb_destroy_result(&res);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT * FROM %s(1)", name);
    duckdb_free(name);
    CHECK(duckdb_query(duckpond_conn_duckdb(other), sql, &res) == DuckDBError);
    CHECK_STR_CONTAINS(duckdb_result_error(&res), "batcher");
    duckdb_destroy_result(&res);
    duckpond_disconnect(other);
    fx_close(&f);
}
/* ------------------------------------------------ text in bulk */

/* Submits w[0..n) (queued acks) so that the writer takes them as one group; the first failed submit's status. */
static int submit_one_group(duckpond_batcher *b, duckpond_write **w, int n)
{
    int rc = DUCKPOND_OK;
    batcher_hold(b, 1);
    for (int i = 0; i < n && rc == DUCKPOND_OK; i++)
        rc = duckpond_write_submit(w[i], DUCKPOND_ACK_QUEUED);
    batcher_hold(b, 0);
    return rc;
}

/* The columns of table x: each typed column beside a VARCHAR copy of the text it was sent. */
static const char *X_COLS[] = {"id",   "ts",   "tz",  "d",   "t",     "dec", "u",   "iv",
                               "ts_s", "tz_s", "d_s", "t_s", "dec_s", "u_s", "iv_s"};
#define X_SCHEMA                                                                                          \
    "CREATE TABLE x(id INTEGER, ts TIMESTAMP, tz TIMESTAMPTZ, d DATE, t TIME, dec DECIMAL(18,4), u UUID," \
    " iv INTERVAL, ts_s VARCHAR, tz_s VARCHAR, d_s VARCHAR, t_s VARCHAR, dec_s VARCHAR, u_s VARCHAR,"     \
    " iv_s VARCHAR)"

/*
 * Row i of table x as text: the common spellings our conversion reads and
 * rarer ones only DuckDB's cast reads, in turn, some NULL. texts holds the
 * strings (7 of 48 bytes).
 */
static void x_row(int i, char texts[7][48], duckpond_value row[15])
{
    static const char *ts_fmt[] = {"2024-01-02 03:04:%02d.123456", "2024-01-02T03:04:%02dZ",
                                   " 2024-01-02 03:04:%02d ", "2024-01-02 03:04:%02d.1234567"};
    static const char *tz_fmt[] = {"2024-06-01 10:00:%02d+05:30", "2024-06-01 10:00:%02d",
                                   "2024-06-01 10:00:%02d UTC", "2024-06-01 10:00:%02d-08"};
    static const char *d_val[] = {"2024-02-29", "1999-12-31", "infinity", "2024-01-02 10:00:00"};
    static const char *t_val[] = {"10:11:12.5", "23:59:59", "24:00:00", "1:02:03"};
    static const char *dec_val[] = {"123.4567", "-0.5", "1.23456", "1e2"};
    static const char *iv_val[] = {"1 day", "02:00:00", "3 months 2 days", "1 year"};
    int k = i % 4;
    snprintf(texts[0], 48, ts_fmt[k], i % 60);
    snprintf(texts[1], 48, tz_fmt[(i / 4) % 4], i % 60);
    snprintf(texts[2], 48, "%s", d_val[(i / 3) % 4]);
    snprintf(texts[3], 48, "%s", t_val[(i / 5) % 4]);
    snprintf(texts[4], 48, "%s", dec_val[(i / 7) % 4]);
    snprintf(texts[5], 48, "%08x-0000-4000-8000-%012x", i, i * 7);
    snprintf(texts[6], 48, "%s", iv_val[(i / 11) % 4]);
    row[0] = v_int(i);
    for (int c = 0; c < 7; c++) {
        bool null = (i + c) % 13 == 0;
        row[1 + c] = null ? v_null() : v_text(texts[c]);
        row[8 + c] = null ? v_null() : v_text(texts[c]);
    }
}

/* Rows of x whose every typed column holds what DuckDB's CAST makes of its text. */
static int64_t x_rows_as_cast(struct fixture *f)
{
    return q64(
        f,
        "SELECT count(*) FROM x WHERE ts IS NOT DISTINCT FROM CAST(ts_s AS TIMESTAMP)"
        " AND tz IS NOT DISTINCT FROM CAST(tz_s AS TIMESTAMPTZ) AND d IS NOT DISTINCT FROM CAST(d_s AS DATE)"
        " AND t IS NOT DISTINCT FROM CAST(t_s AS TIME)"
        " AND dec IS NOT DISTINCT FROM CAST(dec_s AS DECIMAL(18,4))"
        " AND u IS NOT DISTINCT FROM CAST(u_s AS UUID) AND iv IS NOT DISTINCT FROM CAST(iv_s AS INTERVAL)");
}

/*
 * Text bound for TIMESTAMP, TIMESTAMPTZ, DATE, TIME, DECIMAL, UUID and
 * INTERVAL columns, in common and rare spellings: every value stored is
 * what DuckDB's CAST makes of the text, with no DuckDB statement per
 * value. Three bad values among thousands: each fails its own row, named
 * as ever (row, column, type, value, DuckDB's message); one query finds
 * them, and only they are cast one by one.
 */
static void test_text_values_convert_in_bulk(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, X_SCHEMA, NULL));
    enum { N = 3000 };
    static char texts[N][7][48];
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "x", X_COLS, 15, 0, &w));
    for (int i = 0; i < N; i++) {
        duckpond_value row[15];
        x_row(i, texts[i], row);
        if (i == 100)
            row[1] = v_text("2024-13-01 00:00:00");
        if (i == 1500)
            row[6] = v_text("not-a-uuid");
        if (i == 2999)
            row[7] = v_text("forever");
        CHECK_OK(duckpond_write_add_row(w, row));
    }
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT), DUCKPOND_CONVERSION);
    size_t c, fl;
    duckpond_write_counts(w, &c, &fl);
    CHECK_EQ_INT(c, N - 3);
    CHECK_EQ_INT(fl, 3);
    CHECK_FAILURE(
        w, 0, DUCKPOND_CONVERSION, 100,
        "row 100: column \"ts\" (TIMESTAMP): cannot convert '2024-13-01 00:00:00': Conversion Error");
    CHECK_FAILURE(w, 1, DUCKPOND_CONVERSION, 1500,
                  "row 1500: column \"u\" (UUID): cannot convert 'not-a-uuid': ");
    CHECK_FAILURE(w, 2, DUCKPOND_CONVERSION, 2999,
                  "row 2999: column \"iv\" (INTERVAL): cannot convert 'forever': ");
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w), "row 100: ");
    duckpond_write_free(w);
    uint64_t casts = batcher_test_values_cast_alone(f.b);
    CHECK(casts >= 3 && casts <= 3 * 7); /* the guilty rows' rare values, no others */
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM x"), N - 3);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM x WHERE id IN (100, 1500, 2999)"), 0);
    CHECK_EQ_INT(x_rows_as_cast(&f), N - 3);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM x WHERE ts IS NULL"), N / 13 + 1);
    /* many one-row writes from threads of their own: the same, and not one value cast alone */
    CHECK_OK(duckpond_exec(f.conn, "DELETE FROM x"));
    for (int i = 0; i < 400; i++) {
        duckpond_value r[15];
        x_row(i, texts[i], r);
        CHECK_OK(duckpond_write_new(f.b, "x", X_COLS, 15, 0, &w));
        CHECK_OK(duckpond_write_add_row(w, r));
        CHECK_OK(duckpond_write_submit(w, i % 50 == 49 ? DUCKPOND_ACK_COMMIT : DUCKPOND_ACK_QUEUED));
        duckpond_write_free(w);
    }
    CHECK_EQ_INT(x_rows_as_cast(&f), 400);
    CHECK_EQ_INT(batcher_test_values_cast_alone(f.b), casts);
    fx_close(&f);
}

/*
 * One group holding, for one table and column list, a write with DEFAULT
 * values, one without, and a row of DEFAULTs alone: each row gets exactly
 * its values and the defaults of the columns it left. A clock default is
 * the group's transaction time: rows committed together share it.
 */
static void test_defaults_in_one_group(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f,
                     "CREATE SEQUENCE sq START 100;"
                     "CREATE TABLE g(id INTEGER DEFAULT nextval('sq'), k INTEGER DEFAULT 7,"
                     " made TIMESTAMP DEFAULT current_timestamp, ts TIMESTAMP)",
                     NULL));
    static const char *cols[] = {"id", "k", "made", "ts"};
    duckpond_write *w[3];
    duckpond_value a1[4] = {v_int(1), v_def(), v_def(), v_text("2024-01-02 03:04:05")};
    duckpond_value a2[4] = {v_int(2), v_int(20), v_def(), v_text("2024-01-02 03:04:06 UTC")};
    duckpond_value b1[4] = {v_int(3), v_int(30), v_text("2001-01-01"), v_text("2024-01-02T03:04:07")};
    duckpond_value c1[4] = {v_def(), v_def(), v_def(), v_def()};
    for (int i = 0; i < 3; i++)
        CHECK_OK(duckpond_write_new(f.b, "g", cols, 4, 0, &w[i]));
    CHECK_OK(duckpond_write_add_row(w[0], a1));
    CHECK_OK(duckpond_write_add_row(w[0], a2));
    CHECK_OK(duckpond_write_add_row(w[1], b1));
    CHECK_OK(duckpond_write_add_row(w[2], c1));
    CHECK_OK(duckpond_write_add_row(w[2], b1));
    CHECK_OK(submit_one_group(f.b, w, 3));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(duckpond_write_wait(w[i]));
        duckpond_write_free(w[i]);
    }
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM g"), 5);
    CHECK_EQ_INT(
        q64(&f, "SELECT count(*) FROM g WHERE id = 1 AND k = 7 AND ts = TIMESTAMP '2024-01-02 03:04:05'"), 1);
    CHECK_EQ_INT(
        q64(&f, "SELECT count(*) FROM g WHERE id = 2 AND k = 20 AND ts = TIMESTAMP '2024-01-02 03:04:06'"),
        1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM g WHERE id = 3 AND k = 30 AND made = TIMESTAMP '2001-01-01'"),
                 2);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM g WHERE id = 100 AND k = 7 AND ts IS NULL"), 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(DISTINCT made) FROM g WHERE id <> 3"), 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM g WHERE made > TIMESTAMP '2020-01-01'"), 3);
    fx_close(&f);
}

/*
 * A table wider than the batch scan takes (more than 64 columns) goes
 * through the Appenders: every value is checked before it is appended,
 * by our rules or DuckDB's cast, and a bad one fails its own row.
 */
static void test_wide_table_through_appenders(void)
{
    struct fixture f;
    struct dp_buf ddl = DP_BUF_INIT;
    dp_buf_printf(&ddl, "CREATE TABLE wide(id INTEGER, d DATE, dec DECIMAL(18,4), t TIME, tz TIMESTAMPTZ,"
                        " ts TIMESTAMP, u UUID, k INTEGER DEFAULT 5");
    for (int i = 0; i < 64; i++)
        dp_buf_printf(&ddl, ", c%d INTEGER", i);
    dp_buf_printf(&ddl, ")");
    CHECK(!ddl.failed);
    CHECK_OK(fx_open(&f, ddl.data, NULL));
    dp_buf_free(&ddl);
    duckpond_value rows[4][72];
    for (int r = 0; r < 4; r++) {
        duckpond_value *v = rows[r];
        v[0] = v_int(r);
        v[1] = v_text("2024-02-29");
        v[2] = r == 2 ? v_text("1.23456") : r == 3 ? v_int(-7) : v_text("123.4567");
        v[3] = v_text("10:11:12.5");
        v[4] = r == 3 ? v_text("2024-01-01 00:00:00 UTC") : v_text("2024-01-01 05:30:00+05:30");
        v[5] = v_text(r == 3 ? "2024-01-01T00:00:00" : "2024-01-01 00:00:00");
        v[6] = v_text(r == 1 ? "not-a-uuid" : "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        v[7] = r == 2 ? v_def() : v_int(r);
        for (int i = 0; i < 64; i++)
            v[8 + i] = i % 2 ? v_int(i) : v_text(" 7 ");
    }
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "wide", NULL, 0, 0, &w));
    for (int r = 0; r < 4; r++)
        CHECK_OK(duckpond_write_add_row(w, rows[r]));
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT), DUCKPOND_CONVERSION);
    size_t c, fl;
    duckpond_write_counts(w, &c, &fl);
    CHECK_EQ_INT(c, 3);
    CHECK_EQ_INT(fl, 1);
    CHECK_FAILURE(w, 0, DUCKPOND_CONVERSION, 1, "row 1: column \"u\" (UUID): cannot convert 'not-a-uuid': ");
    duckpond_write_free(w);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM wide WHERE d = DATE '2024-02-29' AND t = TIME '10:11:12.5'"
                         " AND tz = TIMESTAMPTZ '2024-01-01 00:00:00+00' AND ts = TIMESTAMP '2024-01-01'"
                         " AND u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AND c0 = 7 AND c63 = 63"),
                 3);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM wide WHERE id = 0 AND dec = 123.4567 AND k = 0"), 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM wide WHERE id = 2 AND dec = 1.2346 AND k = 5"), 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM wide WHERE id = 3 AND dec = -7 AND k = 3"), 1);
    fx_close(&f);
}

/*
 * A value only DuckDB's cast reads that it refuses, in an atomic write
 * grouped with others: that write fails whole, named as ever, and the
 * others commit. Journaled writes: the common spellings are checked
 * before their ack without any DuckDB statement, from many threads at
 * once; a rare spelling is cast on the side, and a bad one refused before
 * the ack.
 */
struct x_producer {
    duckpond_batcher *b;
    int from, n, failures;
    uint64_t seq;
};

static void *x_producer_main(void *arg)
{
    struct x_producer *p = arg;
    static const char *cols[] = {"id", "ts", "tz", "d", "t", "dec", "ts_s", "tz_s", "d_s", "t_s", "dec_s"};
    for (int i = p->from; i < p->from + p->n; i++) {
        char ts[48], tz[48];
        snprintf(ts, sizeof ts, "2024-03-%02d %02d:%02d:%02d.%06d", 1 + i % 28, i % 24, i % 60, (i / 7) % 60,
                 i);
        snprintf(tz, sizeof tz, "2024-03-%02dT%02d:30:00%s", 1 + i % 28, i % 24, i % 2 ? "Z" : "-04:30");
        duckpond_value row[11] = {
            v_int(i),       v_text(ts), v_text(tz), v_text("2024-03-04"), v_text("12:00:01"),
            v_text("99.5"), v_text(ts), v_text(tz), v_text("2024-03-04"), v_text("12:00:01"),
            v_text("99.5")};
        duckpond_write *w;
        int rc = duckpond_write_new(p->b, "x", cols, 11, 0, &w);
        if (rc == DUCKPOND_OK)
            rc = duckpond_write_add_row(w, row);
        if (rc == DUCKPOND_OK)
            rc = duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL);
        if (rc != DUCKPOND_OK)
            p->failures++;
        if (duckpond_write_seq(w) > p->seq)
            p->seq = duckpond_write_seq(w);
        duckpond_write_free(w);
    }
    return NULL;
}

static void test_bulk_failures_atomic_and_journaled(void)
{
    struct fixture f;
    CHECK_OK(fx_open_journal(&f, X_SCHEMA, 0));
    static const char *cols[] = {"id", "u", "u_s"};
    duckpond_write *w[3];
    for (int i = 0; i < 3; i++)
        CHECK_OK(duckpond_write_new(f.b, "x", cols, 3, i == 1 ? DUCKPOND_WRITE_ATOMIC : 0, &w[i]));
    duckpond_value good[3] = {v_int(1), v_text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), v_text("x")};
    duckpond_value bad[3] = {v_int(2), v_text("a0eebc99-9c0b-4ef8-bb6d"), v_text("x")};
    CHECK_OK(duckpond_write_add_row(w[0], good));
    CHECK_OK(duckpond_write_add_row(w[1], good));
    CHECK_OK(duckpond_write_add_row(w[1], bad));
    CHECK_OK(duckpond_write_add_row(w[2], good));
    CHECK_OK(submit_one_group(f.b, w, 3));
    CHECK_OK(duckpond_write_wait(w[0]));
    CHECK_EQ_INT(duckpond_write_wait(w[1]), DUCKPOND_CONVERSION);
    CHECK_OK(duckpond_write_wait(w[2]));
    size_t c, fl;
    duckpond_write_counts(w[1], &c, &fl);
    CHECK_EQ_INT(c, 0);
    CHECK_EQ_INT(fl, 2);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(w[1]),
                       "row 1: column \"u\" (UUID): cannot convert 'a0eebc99-9c0b-4ef8-bb6d'");
    for (int i = 0; i < 3; i++)
        duckpond_write_free(w[i]);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM x WHERE u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"), 2);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM x WHERE id = 2"), 0);
    /* journaled, 8 threads: checked by our rules alone */
    CHECK_OK(duckpond_exec(f.conn, "DELETE FROM x"));
    uint64_t casts = batcher_test_values_cast_alone(f.b);
    enum { NP = 8, PER = 150 };
    struct x_producer p[NP];
    pthread_t th[NP];
    for (int i = 0; i < NP; i++) {
        p[i] = (struct x_producer){f.b, i * PER, PER, 0, 0};
        CHECK_OK(pthread_create(&th[i], NULL, x_producer_main, &p[i]));
    }
    uint64_t seq = 0;
    for (int i = 0; i < NP; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(p[i].failures, 0);
        seq = p[i].seq > seq ? p[i].seq : seq;
    }
    CHECK_OK(duckpond_batcher_wait_applied(f.b, seq, 10000));
    CHECK_EQ_INT(batcher_test_values_cast_alone(f.b), casts);
    CHECK_EQ_INT(x_rows_as_cast(&f), NP * PER);
    /* a rare spelling is cast on the side before the ack; a bad one is refused */
    static const char *jcols[] = {"id", "tz", "iv", "tz_s", "iv_s"};
    duckpond_write *jw;
    CHECK_OK(duckpond_write_new(f.b, "x", jcols, 5, 0, &jw));
    duckpond_value j1[5] = {v_int(5000), v_text("2024-01-01 10:00:00 UTC"), v_text("1 day"),
                            v_text("2024-01-01 10:00:00 UTC"), v_text("1 day")};
    duckpond_value j2[5] = {v_int(5001), v_text("2024-01-01 10:00:00"), v_text("someday"), v_null(),
                            v_null()};
    CHECK_OK(duckpond_write_add_row(jw, j1));
    CHECK_OK(duckpond_write_add_row(jw, j2));
    CHECK_EQ_INT(duckpond_write_submit(jw, DUCKPOND_ACK_JOURNAL), DUCKPOND_CONVERSION);
    duckpond_write_counts(jw, &c, &fl);
    CHECK_EQ_INT(c, 1);
    CHECK_EQ_INT(fl, 1);
    CHECK_STR_CONTAINS(duckpond_write_errmsg(jw),
                       "row 1: column \"iv\" (INTERVAL): cannot convert 'someday'");
    CHECK_OK(duckpond_batcher_wait_applied(f.b, duckpond_write_seq(jw), 10000));
    duckpond_write_free(jw);
    CHECK(batcher_test_values_cast_alone(f.b) > casts);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM x WHERE id = 5000"), 1);
    CHECK_EQ_INT(x_rows_as_cast(&f), NP * PER + 1);
    fx_close(&f);
}

/*
 * A journaled write is checked against the column types the batcher holds;
 * after a table is replaced elsewhere, duckpond_batcher_schema_changed
 * makes the next check read them again, so a value the new table refuses
 * is refused at submit rather than acknowledged and lost when applied.
 */
static void test_journal_schema_changed(void)
{
    struct fixture f;
    CHECK_OK(fx_open_journal(&f, "CREATE TABLE t(id BIGINT, v VARCHAR)", 0));
    static const char *cols[] = {"id", "v"};
    duckpond_value row[2] = {v_int(1), v_text("abc")};
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w));
    CHECK_OK(duckpond_write_add_row(w, row));
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL));
    uint64_t seq = duckpond_write_seq(w);
    duckpond_write_free(w);
    CHECK_OK(duckpond_batcher_wait_applied(f.b, seq, 10000));
    uint64_t gen = duckpond_batcher_schema_gen(f.b);
    CHECK_OK(duckpond_exec(f.conn, "DROP TABLE t"));
    CHECK_OK(duckpond_exec(f.conn, "CREATE TABLE t(id BIGINT, v BIGINT)"));
    duckpond_batcher_schema_changed(f.b);
    CHECK(duckpond_batcher_schema_gen(f.b) > gen);
    row[0] = v_int(2);
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w));
    CHECK_OK(duckpond_write_add_row(w, row));
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL), DUCKPOND_CONVERSION);
    CHECK_EQ_INT(duckpond_write_seq(w), 0);
    duckpond_write_free(w);
    row[1] = v_text("42");
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 2, 0, &w));
    CHECK_OK(duckpond_write_add_row(w, row));
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL));
    seq = duckpond_write_seq(w);
    duckpond_write_free(w);
    CHECK_OK(duckpond_batcher_wait_applied(f.b, seq, 10000));
    CHECK_EQ_INT(q64(&f, "SELECT sum(v) FROM t WHERE id = 2"), 42);
    duckpond_batcher_stats st = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(f.b, &st);
    CHECK_EQ_INT(st.journal_rows_failed_after_ack, 0);
    fx_close(&f);
}

/*
 * A journaled write with a row DuckDB refuses (a CHECK) is applied as its
 * good rows in one commit, with its sequence number: a crash right after
 * the writer's first commit, then a restart, leaves each good row there
 * once (were the rows committed in pieces, the replay would add the first
 * piece again).
 */
static void test_journal_split_write_survives_crash(void)
{
    const char *path = test_path("split.duckdb"), *jdir = test_path("split.journal");
    duckpond_db *db;
    duckpond_conn *c;
    CHECK_OK(duckpond_open(path, NULL, &db));
    CHECK_OK(duckpond_connect(db, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TABLE t(id BIGINT, v BIGINT CHECK (v > 0))")); /* no key */
    duckpond_disconnect(c);
    duckpond_close(db);
    pid_t pid = fork();
    if (pid == 0) {
        duckpond_batcher *b;
        if (open_journaled(path, jdir, 0, &db, &b))
            _exit(2);
        static const char *cols[] = {"id", "v"};
        duckpond_write *w;
        if (duckpond_write_new(b, "t", cols, 2, 0, &w))
            _exit(3);
        for (int i = 1; i <= 16; i++) {
            duckpond_value row[2] = {v_int(i), v_int(i == 11 ? -1 : i)};
            if (duckpond_write_add_row(w, row))
                _exit(4);
        }
        if (duckpond_write_submit(w, DUCKPOND_ACK_JOURNAL))
            _exit(5);
        batcher_test_exit_after_commits(b, 1);
        duckpond_batcher_wait_applied(b, duckpond_write_seq(w), 10000);
        _exit(6); /* the writer should have ended the process */
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
    duckpond_batcher *b;
    CHECK_OK(open_journaled(path, jdir, 0, &db, &b));
    CHECK_OK(duckpond_connect(db, &c));
    int64_t total = -1, distinct = -1, bad = -1;
    CHECK_OK(duckpond_query_int64(c, "SELECT count(*) FROM t", &total));
    CHECK_OK(duckpond_query_int64(c, "SELECT count(DISTINCT id) FROM t", &distinct));
    CHECK_OK(duckpond_query_int64(c, "SELECT count(*) FROM t WHERE id = 11", &bad));
    CHECK_EQ_INT(total, 15);
    CHECK_EQ_INT(distinct, 15);
    CHECK_EQ_INT(bad, 0);
    duckpond_disconnect(c);
    duckpond_batcher_free(b);
    duckpond_close(db);
}

/* One row of `cols` into table, submitted with ack; returns the status, *msg a copy of the error. */
static int put_row(duckpond_batcher *b, const char *table, const char *const *cols, int n,
                   const duckpond_value *row, duckpond_ack ack, char *msg, size_t len)
{
    duckpond_write *w;
    int rc = duckpond_write_new(b, table, cols, n, 0, &w);
    if (rc)
        return rc;
    rc = duckpond_write_add_row(w, row);
    if (!rc)
        rc = duckpond_write_submit(w, ack);
    if (!rc && ack == DUCKPOND_ACK_JOURNAL)
        rc = duckpond_batcher_wait_applied(b, duckpond_write_seq(w), 10000);
    snprintf(msg, len, "%s", duckpond_write_errmsg(w));
    duckpond_write_free(w);
    return rc;
}

/*
 * The writer reads a table again once the schema generation moves on: a
 * column whose type changed takes values of its new type at once.
 */
static void test_writer_rereads_table_after_schema_change(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id BIGINT, v BIGINT)", NULL));
    static const char *cols[] = {"id", "v"};
    char msg[512];
    duckpond_value row[2] = {v_int(1), v_int(7)};
    CHECK_OK(put_row(f.b, "t", cols, 2, row, DUCKPOND_ACK_COMMIT, msg, sizeof msg));
    CHECK_OK(duckpond_exec(f.conn, "DROP TABLE t; CREATE TABLE t(id BIGINT, v VARCHAR)"));
    duckpond_batcher_schema_changed(f.b);
    row[0] = v_int(2), row[1] = v_text("not a number");
    CHECK_OK(put_row(f.b, "t", cols, 2, row, DUCKPOND_ACK_COMMIT, msg, sizeof msg));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t WHERE v = 'not a number'"), 1);
    /* and a write made with columns = NULL sees the new columns */
    CHECK_OK(duckpond_exec(f.conn, "ALTER TABLE t ADD COLUMN w INTEGER"));
    duckpond_batcher_schema_changed(f.b);
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "t", NULL, 0, 0, &w));
    duckpond_value wide[3] = {v_int(3), v_text("x"), v_int(9)};
    CHECK_OK(duckpond_write_add_row(w, wide));
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT));
    duckpond_write_free(w);
    CHECK_EQ_INT(q64(&f, "SELECT w FROM t WHERE id = 3"), 9);
    fx_close(&f);
}

/* A generated column cannot be written: the write naming it fails, in every ack mode; the others go in. */
static void test_generated_column_refused(void)
{
    struct fixture f;
    CHECK_OK(fx_open_journal(
        &f, "CREATE TABLE g(a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL, c INTEGER)", 0));
    static const char *bad[] = {"a", "b"}, *good[] = {"a", "c"};
    duckpond_value row[2] = {v_int(1), v_int(5)};
    char msg[512];
    CHECK(put_row(f.b, "g", bad, 2, row, DUCKPOND_ACK_COMMIT, msg, sizeof msg) != DUCKPOND_OK);
    CHECK_STR_CONTAINS(msg, "appender for \"g\"");
    CHECK(put_row(f.b, "g", bad, 2, row, DUCKPOND_ACK_JOURNAL, msg, sizeof msg) != DUCKPOND_OK);
    CHECK_STR_CONTAINS(msg, "appender for \"g\"");
    CHECK_OK(put_row(f.b, "g", good, 2, row, DUCKPOND_ACK_COMMIT, msg, sizeof msg));
    CHECK_OK(put_row(f.b, "g", good, 2, row, DUCKPOND_ACK_JOURNAL, msg, sizeof msg));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM g WHERE b = 2 AND c = 5"), 2);
    fx_close(&f);
}

/* A batcher needs a writable database: refused at start, with the reason. */
static void test_refuses_read_only_database(void)
{
    const char *path = test_path("ro.duckdb");
    duckpond_db *db;
    duckpond_conn *c;
    duckpond_batcher *b = (duckpond_batcher *)1;
    CHECK_OK(duckpond_open(path, NULL, &db));
    CHECK_OK(duckpond_connect(db, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TABLE t(i INTEGER)"));
    CHECK_OK(duckpond_disconnect(c));
    CHECK_OK(duckpond_close(db));
    duckpond_config *cfg;
    CHECK_OK(duckpond_config_new(&cfg));
    CHECK_OK(duckpond_config_set(cfg, "access_mode", "READ_ONLY"));
    CHECK_OK(duckpond_open(path, cfg, &db));
    duckpond_config_free(cfg);
    CHECK_EQ_INT(duckpond_batcher_new(db, NULL, &b), DUCKPOND_MISUSE);
    CHECK(b == NULL);
    CHECK_STR_CONTAINS(duckpond_db_errmsg(db), "read-only");
    CHECK_OK(duckpond_close(db)); /* the failed start left nothing open */
}

/* Settings and stats are versioned structs: sizes checked, newer callers' fields handled. */
static void test_versioned_settings_and_stats(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id BIGINT, v BIGINT)", NULL));
    duckpond_batcher *b = NULL;
    duckpond_batcher_settings small = DUCKPOND_BATCHER_SETTINGS_INIT();
    small.struct_size = sizeof(size_t);
    CHECK_EQ_INT(duckpond_batcher_new(f.db, &small, &b), DUCKPOND_MISUSE);
    struct {
        duckpond_batcher_settings s;
        uint64_t newer;
    } big = {DUCKPOND_BATCHER_SETTINGS_INIT(.queue_max_rows = 10), 1};
    big.s.struct_size = sizeof big;
    CHECK_EQ_INT(duckpond_batcher_new(f.db, &big.s, &b), DUCKPOND_MISUSE); /* a field it does not know, set */
    CHECK(b == NULL);
    big.newer = 0;
    CHECK_OK(duckpond_batcher_new(f.db, &big.s, &b));
    CHECK_OK(duckpond_batcher_free(b));
    CHECK_OK(put_one(f.b, "t", 1, 1, DUCKPOND_ACK_COMMIT, NULL));
    struct {
        duckpond_batcher_stats s;
        uint64_t newer;
    } out = {DUCKPOND_BATCHER_STATS_INIT(), 77};
    out.s.struct_size = sizeof out;
    CHECK_OK(duckpond_batcher_stats_get(f.b, &out.s));
    CHECK_EQ_INT(out.s.rows_committed, 1);
    CHECK_EQ_INT(out.newer, 77);
    duckpond_batcher_stats none = DUCKPOND_BATCHER_STATS_INIT(.rows_committed = 5);
    CHECK_EQ_INT(duckpond_batcher_stats_get(NULL, &none), DUCKPOND_MISUSE);
    CHECK_EQ_INT(none.rows_committed, 0); /* no batcher: zeros */
    fx_close(&f);
}

/* ------------------------------------------------ duckpond_write_apply */

/* A write of rows (n values each, columns cols) for table, applied on conn; *ran as the call set it. */
static int apply_rows(struct fixture *f, duckpond_conn *conn, const char *table, const char *const *cols,
                      int ncols, const duckpond_value *vals, int nrows, bool *ran, char *err, size_t errlen)
{
    duckpond_write *w;
    int rc = duckpond_write_new(f->b, table, cols, ncols, DUCKPOND_WRITE_ATOMIC, &w);
    for (int r = 0; rc == DUCKPOND_OK && r < nrows; r++)
        rc = duckpond_write_add_row(w, vals + (size_t)r * (size_t)ncols);
    if (rc == DUCKPOND_OK)
        rc = duckpond_write_apply(conn, w, ran);
    if (err)
        snprintf(err, errlen, "%s", duckpond_write_errmsg(w));
    size_t committed = 0, failed = 0;
    duckpond_write_counts(w, &committed, &failed);
    if (rc == DUCKPOND_OK && (committed != (size_t)nrows || failed != 0))
        rc = -1;
    duckpond_write_free(w);
    return rc;
}

/*
 * Rows applied inside a transaction are that transaction's: its next
 * query sees them, other connections do not until COMMIT, ROLLBACK takes
 * them away. Values our conversion computes, values DuckDB's cast
 * converts (a UUID, an INTERVAL) and DEFAULTs all go in; the statements
 * are kept, so the same write again works as well.
 */
static void test_apply_in_transaction(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f,
                     "CREATE TABLE t(id INTEGER PRIMARY KEY, ts TIMESTAMP, s VARCHAR, d DECIMAL(10,2),"
                     " u UUID, iv INTERVAL, k INTEGER DEFAULT 7)",
                     NULL));
    duckpond_conn *other;
    CHECK_OK(duckpond_connect(f.db, &other));
    static const char *cols[] = {"id", "ts", "s", "d", "u", "iv", "k"};
    duckpond_value rows[3][7] = {
        {v_int(1), v_text("2026-11-25 10:00:00.5"), v_text("it's"), v_text("12.34"),
         v_text("0b8a7e10-31d6-4d8e-9a3c-6e1f0d2b4c5a"), v_text("1 day 2 hours"), v_def()},
        {v_int(2), v_ts(1000000), v_null(), v_dbl(-0.5), v_null(), v_text("3 months"), v_int(9)},
        {v_int(3), v_text("2026-01-01"), v_text("ünï"), v_int(5), v_null(), v_null(), v_def()},
    };
    bool ran = false;
    CHECK_OK(duckpond_exec(f.conn, "BEGIN"));
    CHECK_OK(apply_rows(&f, f.conn, "t", cols, 7, &rows[0][0], 3, &ran, NULL, 0));
    CHECK(ran);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 3);
    int64_t n = -1;
    CHECK_OK(duckpond_query_int64(other, "SELECT count(*) FROM t", &n));
    CHECK_EQ_INT(n, 0);
    CHECK_OK(duckpond_exec(f.conn, "ROLLBACK"));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 0);
    for (int round = 0; round < 2; round++) { /* the second round runs the kept statements */
        CHECK_OK(duckpond_exec(f.conn, "BEGIN"));
        CHECK_OK(apply_rows(&f, f.conn, "t", cols, 7, &rows[0][0], 3, &ran, NULL, 0));
        CHECK_OK(duckpond_exec(f.conn, round ? "COMMIT" : "ROLLBACK"));
    }
    CHECK_OK(duckpond_query_int64(other, "SELECT count(*) FROM t", &n));
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t WHERE id = 1 AND ts = TIMESTAMP '2026-11-25 10:00:00.5'"
                         " AND s = 'it''s' AND d = 12.34 AND u = '0b8a7e10-31d6-4d8e-9a3c-6e1f0d2b4c5a'"
                         " AND iv = INTERVAL '1 day 2 hours' AND k = 7"),
                 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t WHERE id = 2 AND ts = TIMESTAMP '1970-01-01 00:00:01'"
                         " AND s IS NULL AND d = -0.5 AND iv = INTERVAL '3 months' AND k = 9"),
                 1);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t WHERE id = 3 AND ts = TIMESTAMP '2026-01-01' AND s = 'ünï'"
                         " AND d = 5 AND k = 7"),
                 1);
    /* in autocommit, one write is one statement that commits by itself */
    duckpond_value more[2] = {v_int(4), v_text("2026-02-03 04:05:06")};
    CHECK_OK(apply_rows(&f, f.conn, "t", cols, 2, more, 1, &ran, NULL, 0));
    CHECK_OK(duckpond_query_int64(other, "SELECT count(*) FROM t", &n));
    CHECK_EQ_INT(n, 4);
    uint64_t writes = 0, nrows = 0;
    duckpond_batcher_applied(f.b, &writes, &nrows);
    CHECK_EQ_INT(writes, 4);
    CHECK_EQ_INT(nrows, 10);
    duckpond_batcher_stats st = DUCKPOND_BATCHER_STATS_INIT();
    CHECK_OK(duckpond_batcher_stats_get(f.b, &st));
    CHECK_EQ_INT(st.rows_accepted, 0); /* the writer saw none of it */
    duckpond_disconnect(other);
    fx_close(&f);
}

/*
 * What fails before the statement runs leaves the transaction as it was
 * (ran false): an unknown table or column, a value our conversion or
 * DuckDB's cast refuses, text that is not UTF-8. What fails while it runs
 * (a duplicate key) is DuckDB's error, with the transaction aborted as
 * DuckDB leaves it. Nothing of a failed write is written.
 */
static void test_apply_failures(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id INTEGER PRIMARY KEY, u UUID, s VARCHAR)", NULL));
    static const char *cols[] = {"id", "u", "s"}, *nosuch[] = {"id", "nosuch"};
    char err[512];
    bool ran = true;
    CHECK_OK(duckpond_exec(f.conn, "BEGIN"));
    duckpond_value good[3] = {v_int(1), v_null(), v_text("a")};
    CHECK_OK(apply_rows(&f, f.conn, "t", cols, 3, good, 1, &ran, NULL, 0));
    duckpond_value bad_int[2][3] = {{v_int(2), v_null(), v_text("b")}, {v_text("x"), v_null(), v_text("c")}};
    CHECK_EQ_INT(apply_rows(&f, f.conn, "t", cols, 3, &bad_int[0][0], 2, &ran, err, sizeof err),
                 DUCKPOND_CONVERSION);
    CHECK(!ran);
    CHECK_STR_CONTAINS(err, "row 1: column \"id\"");
    duckpond_value bad_uuid[3] = {v_int(3), v_text("not-a-uuid"), v_text("d")};
    CHECK_EQ_INT(apply_rows(&f, f.conn, "t", cols, 3, bad_uuid, 1, &ran, err, sizeof err),
                 DUCKPOND_CONVERSION);
    CHECK(!ran);
    CHECK_STR_CONTAINS(err, "Conversion Error");
    CHECK_STR_CONTAINS(err, "not-a-uuid");
    duckpond_value not_utf8[3] = {v_int(4), v_null(), v_text("\xff\xfe")};
    CHECK_EQ_INT(apply_rows(&f, f.conn, "t", cols, 3, not_utf8, 1, &ran, err, sizeof err),
                 DUCKPOND_CONVERSION);
    CHECK(!ran);
    CHECK_EQ_INT(apply_rows(&f, f.conn, "nosuch", cols, 3, good, 1, &ran, err, sizeof err),
                 DUCKPOND_NOTFOUND);
    CHECK(!ran);
    CHECK_EQ_INT(apply_rows(&f, f.conn, "t", nosuch, 2, good, 1, &ran, err, sizeof err), DUCKPOND_NOTFOUND);
    CHECK(!ran);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 1); /* the transaction goes on, with its one row */
    duckpond_value dup[2][3] = {{v_int(5), v_null(), v_text("e")}, {v_int(1), v_null(), v_text("f")}};
    CHECK_EQ_INT(apply_rows(&f, f.conn, "t", cols, 3, &dup[0][0], 2, &ran, err, sizeof err),
                 DUCKPOND_CONSTRAINT);
    CHECK(ran);
    CHECK_STR_CONTAINS(err, "Constraint Error");
    CHECK_STR_CONTAINS(duckpond_conn_errmsg(f.conn), "Constraint Error");
    int64_t n;
    CHECK(duckpond_query_int64(f.conn, "SELECT count(*) FROM t", &n) != DUCKPOND_OK);
    CHECK_STR_CONTAINS(duckpond_conn_errmsg(f.conn), "aborted");
    CHECK_OK(duckpond_exec(f.conn, "ROLLBACK"));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 0);
    /* a write is applied once; one submitted cannot be applied */
    duckpond_write *w;
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 3, 0, &w));
    CHECK_OK(duckpond_write_add_row(w, good));
    CHECK_OK(duckpond_write_apply(f.conn, w, NULL));
    CHECK_EQ_INT(duckpond_write_apply(f.conn, w, NULL), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT), DUCKPOND_MISUSE);
    duckpond_write_free(w);
    CHECK_OK(duckpond_write_new(f.b, "t", cols, 3, 0, &w));
    CHECK_EQ_INT(duckpond_write_apply(NULL, w, NULL), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_write_apply(f.conn, NULL, NULL), DUCKPOND_MISUSE);
    duckpond_write_free(w);
    /* columns = NULL for an unknown table: the write carries the error */
    CHECK_OK(duckpond_write_new(f.b, "nosuch", NULL, 0, 0, &w));
    CHECK_EQ_INT(duckpond_write_apply(f.conn, w, &ran), DUCKPOND_NOTFOUND);
    CHECK(!ran);
    duckpond_write_free(w);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t"), 1);
    fx_close(&f);
}

/*
 * The table is read on the caller's connection, in its transaction: a
 * table it made and has not committed takes rows, in the schema it chose
 * (SET schema). After a schema change (the generation moves on), the
 * columns are read again.
 */
static void test_apply_sees_callers_catalog(void)
{
    struct fixture f;
    CHECK_OK(
        fx_open(&f, "CREATE SCHEMA other; CREATE TABLE t(i INTEGER); CREATE TABLE other.t(v VARCHAR)", NULL));
    static const char *col_i[] = {"i"}, *col_v[] = {"v"};
    duckpond_value one = v_text("007");
    bool ran;
    CHECK_OK(duckpond_exec(f.conn, "BEGIN; CREATE TABLE fresh(i INTEGER)"));
    CHECK_OK(apply_rows(&f, f.conn, "fresh", col_i, 1, &one, 1, &ran, NULL, 0));
    CHECK_EQ_INT(q64(&f, "SELECT sum(i) FROM fresh"), 7);
    CHECK_OK(duckpond_exec(f.conn, "ROLLBACK"));
    CHECK(duckpond_exec(f.conn, "SELECT * FROM fresh") != DUCKPOND_OK);
    CHECK_OK(apply_rows(&f, f.conn, "t", col_i, 1, &one, 1, &ran, NULL, 0));
    CHECK_OK(duckpond_exec(f.conn, "SET schema = 'other'"));
    duckpond_batcher_schema_changed(f.b);
    CHECK_OK(apply_rows(&f, f.conn, "t", col_v, 1, &one, 1, &ran, NULL, 0));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM other.t WHERE v = '007'"), 1);
    CHECK_OK(duckpond_exec(f.conn, "SET schema = 'main'"));
    CHECK_OK(duckpond_exec(f.conn, "ALTER TABLE t ALTER i TYPE VARCHAR"));
    duckpond_batcher_schema_changed(f.b);
    CHECK_OK(apply_rows(&f, f.conn, "t", col_i, 1, &one, 1, &ran, NULL, 0));
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM main.t WHERE i = '007'"), 1); /* text now, as written */
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM main.t WHERE i = '7'"), 1);
    fx_close(&f);
}

/*
 * Rows leaving different columns to their DEFAULT take one statement
 * each: in autocommit inside a transaction of the call's own, all or
 * none; inside the caller's, a later one failing after an earlier went in
 * aborts the caller's transaction, so no part can be committed.
 */
static void test_apply_defaults_all_or_none(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE g(id INTEGER PRIMARY KEY, k INTEGER DEFAULT 7, s VARCHAR DEFAULT 'x')",
                     NULL));
    static const char *cols[] = {"id", "k", "s"};
    duckpond_value ok[3][3] = {{v_int(1), v_def(), v_text("a")},
                               {v_int(2), v_int(3), v_def()},
                               {v_int(3), v_def(), v_def()}};
    bool ran;
    CHECK_OK(apply_rows(&f, f.conn, "g", cols, 3, &ok[0][0], 3, &ran, NULL, 0));
    CHECK_EQ_INT(
        q64(&f, "SELECT count(*) FROM g WHERE (id, k, s) IN ((1, 7, 'a'), (2, 3, 'x'), (3, 7, 'x'))"), 3);
    duckpond_value dup[2][3] = {{v_int(4), v_def(), v_text("b")}, {v_int(1), v_int(1), v_def()}};
    CHECK_EQ_INT(apply_rows(&f, f.conn, "g", cols, 3, &dup[0][0], 2, &ran, NULL, 0), DUCKPOND_CONSTRAINT);
    CHECK(ran);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM g"), 3); /* autocommit: the own transaction rolled back */
    CHECK_OK(duckpond_exec(f.conn, "BEGIN"));
    CHECK_EQ_INT(apply_rows(&f, f.conn, "g", cols, 3, &dup[0][0], 2, &ran, NULL, 0), DUCKPOND_CONSTRAINT);
    CHECK(ran);
    duckpond_exec(f.conn, "COMMIT"); /* refused, or commits nothing of the write */
    duckpond_exec(f.conn, "ROLLBACK");
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM g"), 3);
    fx_close(&f);
}

struct applier_thread {
    duckpond_db *db;
    duckpond_batcher *b;
    int id, failures;
};

/* Transactions of 10 applied writes of 10 rows each on a connection of its own; every other one rolled back. */
static void *applier_main(void *arg)
{
    struct applier_thread *a = arg;
    static const char *cols[] = {"id", "v"};
    duckpond_conn *c;
    if (duckpond_connect(a->db, &c) != DUCKPOND_OK) {
        a->failures++;
        return NULL;
    }
    for (int tx = 0; tx < 20; tx++) {
        a->failures += duckpond_exec(c, "BEGIN") != DUCKPOND_OK;
        for (int i = 0; i < 10; i++) {
            duckpond_write *w;
            a->failures += duckpond_write_new(a->b, "t", cols, 2, 0, &w) != DUCKPOND_OK;
            for (int r = 0; r < 10; r++) {
                int64_t id = ((int64_t)(a->id + 100) << 32) | (tx * 100 + i * 10 + r);
                duckpond_value row[2] = {v_int(id), v_text("5")};
                a->failures += duckpond_write_add_row(w, row) != DUCKPOND_OK;
            }
            a->failures += duckpond_write_apply(c, w, NULL) != DUCKPOND_OK;
            duckpond_write_free(w);
        }
        a->failures += duckpond_exec(c, tx % 2 ? "COMMIT" : "ROLLBACK") != DUCKPOND_OK;
    }
    duckpond_disconnect(c); /* frees its statements with it */
    return NULL;
}

/*
 * Connections applying writes in their transactions while producers
 * submit to the writer: each keeps its own scan state, the writer is not
 * disturbed, and the counts are exact.
 */
static void test_apply_beside_the_writer(void)
{
    struct fixture f;
    CHECK_OK(fx_open(&f, "CREATE TABLE t(id BIGINT PRIMARY KEY, v INTEGER)", NULL));
    pthread_t th[6];
    struct producer p[3];
    struct applier_thread a[3];
    for (int i = 0; i < 3; i++) {
        p[i] = (struct producer){.b = f.b,
                                 .id = i,
                                 .nwrites = 200,
                                 .rows_per_write = 3,
                                 .ack = DUCKPOND_ACK_COMMIT};
        a[i] = (struct applier_thread){.db = f.db, .b = f.b, .id = i};
        CHECK(pthread_create(&th[i], NULL, producer_main, &p[i]) == 0);
        CHECK(pthread_create(&th[3 + i], NULL, applier_main, &a[i]) == 0);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(p[i].failures, 0);
        CHECK_EQ_INT(a[i].failures, 0);
    }
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t WHERE id < 100::BIGINT << 32"), 3 * 200 * 3);
    CHECK_EQ_INT(q64(&f, "SELECT count(*) FROM t WHERE id >= 100::BIGINT << 32 AND v = 5"), 3 * 10 * 100);
    fx_close(&f);
}

TEST_MAIN(TEST_ENTRY(test_concurrent_exact_counts), TEST_ENTRY(test_column_subset_defaults),
          TEST_ENTRY(test_text_values_convert_in_bulk), TEST_ENTRY(test_defaults_in_one_group),
          TEST_ENTRY(test_bulk_failures_atomic_and_journaled), TEST_ENTRY(test_wide_table_through_appenders),
          TEST_ENTRY(test_values_roundtrip), TEST_ENTRY(test_values_many_rows_exact),
          TEST_ENTRY(test_conversion_errors_per_row), TEST_ENTRY(test_constraint_violations_isolated),
          TEST_ENTRY(test_atomic_writes_nothing_on_bad_row), TEST_ENTRY(test_unknown_table_and_column),
          TEST_ENTRY(test_backpressure_overloaded), TEST_ENTRY(test_stop_flushes_then_closed),
          TEST_ENTRY(test_stop_wakes_waiting_producer), TEST_ENTRY(test_visible_after_commit_ack),
          TEST_ENTRY(test_multi_table_group), TEST_ENTRY(test_acked_rows_survive_sigkill),
          TEST_ENTRY(test_misuse_and_free), TEST_ENTRY(test_journal_record_roundtrip),
          TEST_ENTRY(test_journal_record_row_count_checked), TEST_ENTRY(test_journal_ack_checks_and_applies),
          TEST_ENTRY(test_journal_sigkill_loop), TEST_ENTRY(test_journal_recovery_reports_damage),
          TEST_ENTRY(test_journal_disk_full), TEST_ENTRY(test_journal_read_your_writes_under_load),
          TEST_ENTRY(test_journal_fsync_failure_poisons), TEST_ENTRY(test_group_mixes_scan_and_appender),
          TEST_ENTRY(test_journal_schema_changed), TEST_ENTRY(test_journal_split_write_survives_crash),
          TEST_ENTRY(test_writer_rereads_table_after_schema_change),
          TEST_ENTRY(test_generated_column_refused), TEST_ENTRY(test_refuses_read_only_database),
          TEST_ENTRY(test_versioned_settings_and_stats), TEST_ENTRY(test_apply_in_transaction),
          TEST_ENTRY(test_apply_failures), TEST_ENTRY(test_apply_sees_callers_catalog),
          TEST_ENTRY(test_apply_defaults_all_or_none), TEST_ENTRY(test_apply_beside_the_writer))
