/*
 * bars.c -- ingest with live bars beside the same ingest without, in one
 * run.
 *
 * Each case writes ticks (ts TIMESTAMP, symbol VARCHAR, price DOUBLE, qty
 * INTEGER; 100 symbols, stamped with the wall clock as a live feed is, one
 * tick in ten late by up to 5 s) through the batcher into a fresh database
 * file, for a fixed time, in its own forked child:
 *   feed    P producers, each submitting writes of R ticks and waiting
 *           for the commit acknowledgement (a feed handler's shape)
 *   stream  4 producers streaming writes of 1,000 ticks in queued mode,
 *           with a final wait (a high-rate feed through the line protocol
 *           or HTTP, whose requests carry many ticks)
 * once without bars and once after CALL duckpond_bars(... every => ['1
 * second', '1 minute']) on the empty table, alternating, -r times each.
 * The table shows the median rows/s of each, and bars / none. At the
 * end of every bars run the bar tables are checked against the ticks
 * (their trade counts sum to the rows written).
 *
 *   build/bench/bars [-d seconds] [-r repetitions] [-p producers] [-w ticks-per-write]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "duckpond.h"

static double opt_seconds = 3.0;
static int opt_reps = 3;
static int opt_p = 16;
static int opt_rows = 10;
static char dir[256];

#define NSYM 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct producer {
    duckpond_batcher *b;
    int id, rows_per_write;
    duckpond_ack ack;
    double until;
    long rows, failures;
};

static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Writes of rows_per_write ticks until `until`; counts rows committed (or accepted, queued). */
static void *producer_main(void *arg)
{
    struct producer *p = arg;
    static const char *const cols[4] = {"ts", "symbol", "price", "qty"};
    char syms[NSYM][8];
    for (int i = 0; i < NSYM; i++)
        snprintf(syms[i], sizeof syms[i], "S%03d", i);
    uint32_t seed = 11u + (uint32_t)p->id * 7919u;
    duckpond_write *pending = NULL;
    while (now_s() < p->until) {
        duckpond_write *w;
        if (duckpond_write_new(p->b, "trades", cols, 4, 0, &w) != DUCKPOND_OK) {
            p->failures++;
            break;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t clock_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
        for (int r = 0; r < p->rows_per_write; r++) {
            int64_t ts = next_rand(&seed) % 10 == 0 ? clock_us - (int64_t)(next_rand(&seed) % 5000000)
                                                    : clock_us;
            const char *sym = syms[next_rand(&seed) % NSYM];
            duckpond_value v[4] = {{.kind = DUCKPOND_VALUE_TIMESTAMP},
                                   {.kind = DUCKPOND_VALUE_TEXT},
                                   {.kind = DUCKPOND_VALUE_DOUBLE},
                                   {.kind = DUCKPOND_VALUE_INT64}};
            v[0].u.timestamp_us = ts;
            v[1].u.text.ptr = sym;
            v[1].u.text.len = strlen(sym);
            v[2].u.f64 = 100 + (double)(next_rand(&seed) % 4000) / 100;
            v[3].u.i64 = 1 + next_rand(&seed) % 500;
            duckpond_write_add_row(w, v);
        }
        if (duckpond_write_submit(w, p->ack) != DUCKPOND_OK)
            p->failures++;
        else
            p->rows += p->rows_per_write;
        if (p->ack == DUCKPOND_ACK_QUEUED) { /* keep the last to wait for it */
            duckpond_write_free(pending);
            pending = w;
        } else {
            duckpond_write_free(w);
        }
    }
    if (pending) {
        if (duckpond_write_wait(pending) != DUCKPOND_OK)
            p->failures++;
        duckpond_write_free(pending);
    }
    return NULL;
}

/* One run of a case in this process: rows/s (or -1), and *cpu_us_row the process's CPU time per row. */
static double run_once(bool bulk, bool bars, int rep, double *cpu_us_row)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s-%s-%d.duckdb", dir, bulk ? "stream" : "feed", bars ? "bars" : "none",
             rep);
    duckpond_db *db = NULL;
    duckpond_conn *conn = NULL;
    duckpond_batcher *b = NULL;
    duckpond_batcher_settings set = DUCKPOND_BATCHER_SETTINGS_INIT(.queue_max_rows = 200000);
    if (duckpond_open(path, NULL, &db) != DUCKPOND_OK || duckpond_connect(db, &conn) != DUCKPOND_OK ||
        duckpond_exec(conn,
                      "CREATE TABLE trades (ts TIMESTAMP, symbol VARCHAR, price DOUBLE, qty INTEGER)") ||
        duckpond_batcher_new(db, &set, &b) != DUCKPOND_OK) {
        fprintf(stderr, "bars: cannot set up %s: %s\n", path, duckpond_db_errmsg(db));
        return -1;
    }
    if (bars && duckpond_exec(conn, "CALL duckpond_bars('trades', size => 'qty', every => ['1 second', '1 "
                                    "minute'])") != DUCKPOND_OK) {
        fprintf(stderr, "bars: cannot declare: %s\n", duckpond_conn_errmsg(conn));
        return -1;
    }
    int np = bulk ? 4 : opt_p;
    struct producer p[256];
    pthread_t th[256];
    double start = now_s();
    for (int i = 0; i < np; i++) {
        p[i] = (struct producer){.b = b,
                                 .id = i,
                                 .rows_per_write = bulk ? 1000 : opt_rows,
                                 .ack = bulk ? DUCKPOND_ACK_QUEUED : DUCKPOND_ACK_COMMIT,
                                 .until = start + opt_seconds};
        pthread_create(&th[i], NULL, producer_main, &p[i]);
    }
    long rows = 0, failures = 0;
    for (int i = 0; i < np; i++) {
        pthread_join(th[i], NULL);
        rows += p[i].rows;
        failures += p[i].failures;
    }
    double elapsed = now_s() - start;
    int64_t in_table = -1, in_bars = -1;
    duckpond_query_int64(conn, "SELECT count(*) FROM trades", &in_table);
    if (bars)
        duckpond_query_int64(conn,
                             "SELECT (SELECT sum(trades) FROM trades_bars_1s) + (SELECT sum(trades) FROM "
                             "trades_bars_1m)",
                             &in_bars);
    duckpond_batcher_free(b);
    duckpond_disconnect(conn);
    duckpond_close(db);
    unlink(path);
    if (failures || in_table != rows || (bars && in_bars != 2 * rows)) {
        fprintf(stderr,
                "bars: run wrong: %ld failures, %ld rows written, %lld in the table, %lld in the bars\n",
                failures, rows, (long long)in_table, (long long)in_bars);
        return -1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *cpu_us_row = ((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) /
                  (double)rows;
    return (double)rows / elapsed;
}

/* A run in a forked child, so that runs never share memory or threads; *cpu as run_once's. */
static double run_forked(bool bulk, bool bars, int rep, double *cpu)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        double r[2] = {0, 0};
        r[0] = run_once(bulk, bars, rep, &r[1]);
        ssize_t n = write(fds[1], r, sizeof r);
        _exit(n == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    double r[2] = {-1, 0};
    if (pid < 0 || read(fds[0], r, sizeof r) != (ssize_t)sizeof r)
        r[0] = -1;
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    *cpu = r[1];
    return r[0];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "d:r:p:w:")) != -1) {
        switch (opt) {
        case 'd': opt_seconds = atof(optarg); break;
        case 'r': opt_reps = atoi(optarg); break;
        case 'p': opt_p = atoi(optarg); break;
        case 'w': opt_rows = atoi(optarg); break;
        default:
            fprintf(stderr,
                    "usage: bars [-d seconds] [-r repetitions] [-p producers] [-w ticks-per-write]\n");
            return 2;
        }
    }
    if (opt_reps < 1 || opt_reps > 50 || opt_p < 1 || opt_p > 256 || opt_rows < 1 || opt_seconds <= 0) {
        fprintf(stderr, "bars: bad option value\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "/tmp/duckpond-bars-bench-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int status = 0;
    printf(
        "Ingest with live bars (1 second and 1 minute) beside the same ingest without, %.0f s a run, median "
        "of %d\n\n",
        opt_seconds, opt_reps);
    printf(
        "| case | producers | ticks per write | rows/s, no bars | rows/s, two bar intervals | bars / none | CPU "
        "us/row, no bars | CPU us/row, bars |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int bulk = 0; bulk < 2; bulk++) {
        double none[50], with[50], cpu_none[50], cpu_with[50];
        for (int r = 0; r < opt_reps; r++) { /* alternating, so that the machine's load falls on both */
            none[r] = run_forked(bulk, false, r, &cpu_none[r]);
            with[r] = run_forked(bulk, true, r, &cpu_with[r]);
            if (none[r] < 0 || with[r] < 0)
                status = 1;
        }
        qsort(none, (size_t)opt_reps, sizeof *none, cmp_double);
        qsort(with, (size_t)opt_reps, sizeof *with, cmp_double);
        qsort(cpu_none, (size_t)opt_reps, sizeof *cpu_none, cmp_double);
        qsort(cpu_with, (size_t)opt_reps, sizeof *cpu_with, cmp_double);
        double n = none[opt_reps / 2], w = with[opt_reps / 2];
        printf("| %s | %d | %d | %.0f | %.0f | %.2f | %.2f | %.2f |\n",
               bulk ? "stream, queued ack" : "feed, commit ack", bulk ? 4 : opt_p, bulk ? 1000 : opt_rows, n,
               w, n > 0 ? w / n : 0, cpu_none[opt_reps / 2], cpu_with[opt_reps / 2]);
        fflush(stdout);
    }
    rmdir(dir);
    return status;
}
