/*
 * ilp_raw.c -- the limit for bench/ilp.sh: the rows its line protocol
 * clients send (trades and quotes, alternating), appended in process with
 * DuckDB's raw Appender on one thread into a fresh database file, with
 * one commit at the end. Prints one line: rows, seconds, rows/s, CPU
 * microseconds per row, peak RSS in MiB.
 *
 *   build/bench/ilp_raw [FILE ROWS]   (default: a file in /tmp, removed after, 1000000 rows)
 *
 * Row i (from 0): even rows are trades, odd rows quotes, with the values
 * bench/ilp_gen.py writes as line protocol for the same i.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "duckpond.h"

static const char *SYMS[] = {"AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "IBM"};
#define T0_US 1764403200000000LL /* 2025-11-29 08:00:00 UTC */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Appends row i to the trades or the quotes appender. 0, or -1. */
static int append_row(duckdb_appender tr, duckdb_appender qu, long i)
{
    duckdb_timestamp ts = {T0_US + i};
    const char *sym = SYMS[i % 8];
    double px = 100 + (double)(i % 1000) / 100;
    if (i % 2 == 0) {
        duckdb_append_timestamp(tr, ts);
        duckdb_append_varchar(tr, sym);
        duckdb_append_double(tr, px);
        duckdb_append_int64(tr, i % 500 + 1);
        return duckdb_appender_end_row(tr) == DuckDBSuccess ? 0 : -1;
    }
    duckdb_append_timestamp(qu, ts);
    duckdb_append_varchar(qu, sym);
    duckdb_append_double(qu, px);
    duckdb_append_double(qu, px + 0.01);
    duckdb_append_int64(qu, i % 300 + 1);
    duckdb_append_int64(qu, i % 200 + 1);
    return duckdb_appender_end_row(qu) == DuckDBSuccess ? 0 : -1;
}

int main(int argc, char **argv)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/duckpond-ilp-raw-%d.duckdb", (int)getpid());
    const char *path = argc == 3 ? argv[1] : tmp;
    long rows = argc == 3 ? atol(argv[2]) : 1000000;
    if (argc == 1)
        printf("rows seconds rows/s cpu_us_per_row peak_rss_mib\n");
    else if (argc != 3) {
        fprintf(stderr, "usage: ilp_raw [FILE ROWS]\n");
        return 2;
    }
    duckpond_db *db;
    duckpond_conn *conn;
    if (duckpond_open(path, NULL, &db) != DUCKPOND_OK || duckpond_connect(db, &conn) != DUCKPOND_OK ||
        duckpond_exec(conn,
                      "CREATE TABLE trades (timestamp TIMESTAMP, sym VARCHAR, price DOUBLE, size BIGINT);"
                      "CREATE TABLE quotes (timestamp TIMESTAMP, sym VARCHAR, bid DOUBLE, ask DOUBLE,"
                      " bid_size BIGINT, ask_size BIGINT)") != DUCKPOND_OK) {
        fprintf(stderr, "ilp_raw: cannot open %s\n", path);
        return 1;
    }
    duckdb_connection c = duckpond_conn_duckdb(conn);
    duckdb_appender tr, qu;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = now_s();
    if (duckdb_appender_create(c, NULL, "trades", &tr) != DuckDBSuccess ||
        duckdb_appender_create(c, NULL, "quotes", &qu) != DuckDBSuccess)
        return 1;
    for (long i = 0; i < rows; i++)
        if (append_row(tr, qu, i) != 0)
            return 1;
    if (duckdb_appender_destroy(&tr) != DuckDBSuccess || duckdb_appender_destroy(&qu) != DuckDBSuccess)
        return 1;
    double secs = now_s() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double cpu =
        (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
        (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    printf("%ld %.3f %.0f %.2f %.0f\n", rows, secs, rows / secs, cpu * 1e6 / rows, r1.ru_maxrss / 1024.0);
    duckpond_disconnect(conn);
    duckpond_close(db);
    if (path == tmp)
        unlink(tmp);
    return 0;
}
