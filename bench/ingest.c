/*
 * ingest.c -- the ingest batcher against its baselines, in one run.
 *
 * Every case writes rows of the same table shape (ts TIMESTAMP, symbol
 * VARCHAR, qty BIGINT, price DOUBLE) into a fresh database FILE in a temp
 * directory, for a fixed time, in its own forked child (so that each
 * case's peak RSS, read with wait4, is its own):
 *   1. single-row prepared INSERT in autocommit, P threads, a connection each
 *   2. the raw Appender on one thread (the limit)
 *   3. the batcher, P producers each submitting one row and waiting for
 *      its commit acknowledgement
 *   4. the batcher, one producer streaming writes of many rows in queued
 *      mode, with a final wait
 *   5. as 3, but each producer waits for the journal acknowledgement (the
 *      row is in the batcher's journal on disk; DuckDB commits behind)
 *   6, 7, 8. as 3, 5 and 4, with ts sent as ISO text ("2023-11-14
 *      22:13:20.000042", DUCKPOND_VALUE_TEXT) as most clients send it,
 *      which the batcher converts to the TIMESTAMP column itself
 * Each case runs -r times; the table shows the median run by rows/s,
 * then the ratios 3/1 (same P), 4/2, 5/3 (same P), and text against typed
 * timestamps: 6/3, 7/5 (same P) and 8/4. "CPU us/row" is the case's user +
 * system CPU time (all threads) per row written: on a shared machine it
 * moves less than rows/s does.
 *
 *   build/bench/ingest [-d seconds] [-r repetitions] [-b rows-per-stream-write]
 *                      [-c insert|appender|ack|stream|journal|ack-text|journal-text|stream-text
 *                       [-p threads]]   (one case alone)
 */
#include <errno.h>
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

#define MAX_SAMPLES 200000
#define STREAM_QUEUE_ROWS 200000

static double opt_seconds = 2.0;
static int opt_reps = 3;
static int opt_stream_rows = 1000;
static const char *opt_only; /* -c: run one case alone ("insert", "appender", "ack", "stream") */
static int opt_p = 8;        /* -p: its P */
static duckpond_ack ack_mode = DUCKPOND_ACK_COMMIT; /* what ack_worker waits for */
static int text_ts;                                 /* rows carry ts as ISO text (cases 6 to 8) */
static char dir[256];

static const char *SCHEMA = "CREATE TABLE ticks(ts TIMESTAMP, symbol VARCHAR, qty BIGINT, price DOUBLE)";
static const char *SYMBOLS[] = {"AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "BRK.B"};

struct result {
    double rows_per_s;
    double p50_ms, p99_ms;
    long peak_rss_kb;
    int64_t rows, rows_in_db;
    double rows_per_commit; /* batcher cases */
    double cpu_us_per_row;  /* user + system CPU of the whole case, per row */
    int ok;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per-thread latency samples, merged into percentiles. */
struct samples {
    double *v;
    size_t n;
};

static void sample(struct samples *s, double ms)
{
    if (s->n < MAX_SAMPLES)
        s->v[s->n++] = ms;
}

static void percentiles(struct samples *all, int nthreads, struct result *r)
{
    size_t n = 0;
    for (int i = 0; i < nthreads; i++)
        n += all[i].n;
    if (!n)
        return;
    double *v = malloc(n * sizeof *v);
    size_t k = 0;
    for (int i = 0; i < nthreads; i++) {
        memcpy(v + k, all[i].v, all[i].n * sizeof *v);
        k += all[i].n;
    }
    qsort(v, n, sizeof *v, cmp_double);
    r->p50_ms = v[n / 2];
    r->p99_ms = v[(size_t)((double)(n - 1) * 0.99)];
    free(v);
}

/* ts of row i as ISO text into buf (at least 32 bytes), as a client would send it. */
static const char *ts_text(int64_t us, char *buf, size_t len)
{
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%06d", (int)(us % 1000000));
    return buf;
}

/* Row i of the ticks; with text_ts its ts is text in buf (at least 32 bytes). */
static void fill_row(int64_t i, duckpond_value row[4], char *buf)
{
    const char *sym = SYMBOLS[i % 8];
    row[0].kind = DUCKPOND_VALUE_TIMESTAMP;
    row[0].u.timestamp_us = 1700000000000000LL + i;
    if (text_ts) {
        row[0].kind = DUCKPOND_VALUE_TEXT;
        row[0].u.text.ptr = ts_text(1700000000000000LL + i, buf, 32);
        row[0].u.text.len = strlen(buf);
    }
    row[1].kind = DUCKPOND_VALUE_TEXT;
    row[1].u.text.ptr = sym;
    row[1].u.text.len = strlen(sym);
    row[2].kind = DUCKPOND_VALUE_INT64;
    row[2].u.i64 = i % 1000;
    row[3].kind = DUCKPOND_VALUE_DOUBLE;
    row[3].u.f64 = 100.0 + (double)(i % 100) * 0.01;
}

/* A fresh database file with the ticks table. */
static duckpond_db *open_db(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.duckdb", dir, name);
    unlink(path);
    duckpond_db *db;
    duckpond_conn *c;
    if (duckpond_open(path, NULL, &db) != DUCKPOND_OK || duckpond_connect(db, &c) != DUCKPOND_OK ||
        duckpond_exec(c, SCHEMA) != DUCKPOND_OK) {
        fprintf(stderr, "cannot set up %s\n", path);
        exit(1);
    }
    duckpond_disconnect(c);
    return db;
}

static int64_t count_rows(duckpond_db *db)
{
    duckpond_conn *c;
    int64_t n = -1;
    if (duckpond_connect(db, &c) == DUCKPOND_OK) {
        duckpond_query_int64(c, "SELECT count(*) FROM ticks", &n);
        duckpond_disconnect(c);
    }
    return n;
}

/* ------------------------------------------------------------- cases */

struct worker {
    duckpond_db *db;
    duckpond_batcher *b;
    int id;
    double until;
    int64_t rows;
    struct samples lat;
    int errors;
};

static atomic_long next_id;

/* Case 1: prepared single-row INSERT in autocommit on its own connection. */
static void *insert_worker(void *arg)
{
    struct worker *w = arg;
    duckdb_connection c;
    duckdb_prepared_statement st;
    if (duckdb_connect(duckpond_db_duckdb(w->db), &c) == DuckDBError ||
        duckdb_prepare(c, "INSERT INTO ticks VALUES (?, ?, ?, ?)", &st) == DuckDBError) {
        w->errors++;
        return NULL;
    }
    while (now_s() < w->until) {
        int64_t i = atomic_fetch_add(&next_id, 1);
        double t0 = now_s();
        duckdb_bind_timestamp(st, 1, (duckdb_timestamp){1700000000000000LL + i});
        duckdb_bind_varchar(st, 2, SYMBOLS[i % 8]);
        duckdb_bind_int64(st, 3, i % 1000);
        duckdb_bind_double(st, 4, 100.0 + (double)(i % 100) * 0.01);
        duckdb_result res;
        if (duckdb_execute_prepared(st, &res) == DuckDBError)
            w->errors++;
        else
            w->rows++;
        duckdb_destroy_result(&res);
        sample(&w->lat, (now_s() - t0) * 1e3);
    }
    duckdb_destroy_prepare(&st);
    duckdb_disconnect(&c);
    return NULL;
}

/* Cases 3 and 5: one row per write, waiting for the acknowledgement of ack_mode. */
static void *ack_worker(void *arg)
{
    struct worker *w = arg;
    while (now_s() < w->until) {
        int64_t i = atomic_fetch_add(&next_id, 1);
        duckpond_value row[4];
        char buf[32];
        fill_row(i, row, buf);
        double t0 = now_s();
        duckpond_write *wr;
        int rc = duckpond_write_new(w->b, "ticks", NULL, 0, 0, &wr);
        if (rc == DUCKPOND_OK)
            rc = duckpond_write_add_row(wr, row);
        if (rc == DUCKPOND_OK)
            rc = duckpond_write_submit(wr, ack_mode);
        sample(&w->lat, (now_s() - t0) * 1e3);
        if (rc == DUCKPOND_OK)
            w->rows++;
        else
            w->errors++;
        duckpond_write_free(wr);
    }
    return NULL;
}

/* Runs nthreads of fn for the configured time; fills r. */
static void run_threads(duckpond_db *db, duckpond_batcher *b, int nthreads, void *(*fn)(void *),
                        struct result *r)
{
    struct worker *w = calloc((size_t)nthreads, sizeof *w);
    struct samples *lat = calloc((size_t)nthreads, sizeof *lat);
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){db, b, i, t0 + opt_seconds, 0, {malloc(MAX_SAMPLES * sizeof(double)), 0}, 0};
        pthread_create(&th[i], NULL, fn, &w[i]);
    }
    int errors = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        r->rows += w[i].rows;
        errors += w[i].errors;
        lat[i] = w[i].lat;
    }
    double elapsed = now_s() - t0;
    r->rows_per_s = (double)r->rows / elapsed;
    percentiles(lat, nthreads, r);
    for (int i = 0; i < nthreads; i++)
        free(lat[i].v);
    r->ok = errors == 0;
    free(w);
    free(lat);
    free(th);
}

static void case_insert(int p, struct result *r)
{
    duckpond_db *db = open_db("insert");
    run_threads(db, NULL, p, insert_worker, r);
    r->rows_in_db = count_rows(db);
    duckpond_close(db);
}

/* Case 2: the raw Appender, one thread, one commit at the end. */
static void case_appender(struct result *r)
{
    duckpond_db *db = open_db("appender");
    duckdb_connection c;
    duckdb_appender a;
    duckdb_connect(duckpond_db_duckdb(db), &c);
    duckdb_appender_create(c, NULL, "ticks", &a);
    double t0 = now_s(), until = t0 + opt_seconds;
    int64_t i = 0;
    while ((i & 1023) || now_s() < until) {
        duckdb_append_timestamp(a, (duckdb_timestamp){1700000000000000LL + i});
        duckdb_append_varchar(a, SYMBOLS[i % 8]);
        duckdb_append_int64(a, i % 1000);
        duckdb_append_double(a, 100.0 + (double)(i % 100) * 0.01);
        duckdb_appender_end_row(a);
        i++;
    }
    r->ok = duckdb_appender_destroy(&a) == DuckDBSuccess;
    double elapsed = now_s() - t0;
    r->rows = i;
    r->rows_per_s = (double)i / elapsed;
    r->p50_ms = r->p99_ms = elapsed * 1e3; /* one acknowledgement: the final commit */
    duckdb_disconnect(&c);
    r->rows_in_db = count_rows(db);
    duckpond_close(db);
}

static void case_batcher_ack(int p, struct result *r)
{
    duckpond_db *db = open_db("ack");
    duckpond_batcher *b;
    if (duckpond_batcher_new(db, NULL, &b) != DUCKPOND_OK)
        exit(1);
    run_threads(db, b, p, ack_worker, r);
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(b, &s);
    r->rows_per_commit = s.commits ? (double)s.rows_committed / (double)s.commits : 0;
    duckpond_batcher_free(b);
    r->rows_in_db = count_rows(db);
    duckpond_close(db);
}

/* Case 5: as case 3 with journal acks; the rows are counted once all are applied. */
static void case_batcher_journal(int p, struct result *r)
{
    duckpond_db *db = open_db("journal");
    char jdir[300];
    snprintf(jdir, sizeof jdir, "%s/journal-%d", dir, (int)getpid()); /* a journal belongs to one database */
    duckpond_batcher_settings set = DUCKPOND_BATCHER_SETTINGS_INIT(.journal_dir = jdir);
    duckpond_batcher *b;
    if (duckpond_batcher_new(db, &set, &b) != DUCKPOND_OK)
        exit(1);
    ack_mode = DUCKPOND_ACK_JOURNAL;
    run_threads(db, b, p, ack_worker, r);
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(b, &s);
    duckpond_batcher_wait_applied(b, s.journal_appended_seq, -1);
    duckpond_batcher_stats_get(b, &s);
    r->rows_per_commit = s.commits ? (double)s.rows_committed / (double)s.commits : 0;
    duckpond_batcher_free(b);
    r->rows_in_db = count_rows(db);
    duckpond_close(db);
}

/* The histogram bucket holding quantile q of the commit-ack latency, in ms. */
static double hist_quantile(const duckpond_batcher_stats *s, double q)
{
    uint64_t total = 0, seen = 0;
    for (int i = 0; i <= DUCKPOND_LATENCY_BUCKETS; i++)
        total += s->latency_count[i];
    for (int i = 0; i < DUCKPOND_LATENCY_BUCKETS; i++) {
        seen += s->latency_count[i];
        if ((double)seen >= q * (double)total)
            return (double)duckpond_latency_bounds_us[i] / 1e3;
    }
    return -1;
}

/* Case 4: one producer streaming writes of many rows, queued, a final wait. */
static void case_stream(struct result *r)
{
    duckpond_db *db = open_db("stream");
    duckpond_batcher_settings set = DUCKPOND_BATCHER_SETTINGS_INIT(.queue_max_rows = STREAM_QUEUE_ROWS);
    duckpond_batcher *b;
    if (duckpond_batcher_new(db, &set, &b) != DUCKPOND_OK)
        exit(1);
    enum { RING = 512 };
    duckpond_write *ring[RING] = {0};
    double t0 = now_s(), until = t0 + opt_seconds;
    int64_t i = 0;
    int errors = 0;
    for (size_t k = 0; now_s() < until; k++) {
        duckpond_write **slot = &ring[k % RING];
        if (*slot) { /* keep at most RING writes alive in the producer */
            errors += duckpond_write_wait(*slot) != DUCKPOND_OK;
            duckpond_write_free(*slot);
        }
        duckpond_write_new(b, "ticks", NULL, 0, 0, slot);
        for (int j = 0; j < opt_stream_rows; j++, i++) {
            duckpond_value row[4];
            char buf[32];
            fill_row(i, row, buf);
            duckpond_write_add_row(*slot, row);
        }
        errors += duckpond_write_submit(*slot, DUCKPOND_ACK_QUEUED) != DUCKPOND_OK;
    }
    for (int k = 0; k < RING; k++)
        if (ring[k]) {
            errors += duckpond_write_wait(ring[k]) != DUCKPOND_OK;
            duckpond_write_free(ring[k]);
        }
    double elapsed = now_s() - t0;
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    duckpond_batcher_stats_get(b, &s);
    r->rows = (int64_t)s.rows_committed;
    r->rows_per_s = (double)s.rows_committed / elapsed;
    r->p50_ms = hist_quantile(&s, 0.5);
    r->p99_ms = hist_quantile(&s, 0.99);
    r->ok = errors == 0 && s.rows_committed == (uint64_t)i;
    r->rows_per_commit = s.commits ? (double)s.rows_committed / (double)s.commits : 0;
    duckpond_batcher_free(b);
    r->rows_in_db = count_rows(db);
    duckpond_close(db);
}

/* ---------------------------------------------------------- harness */

enum case_kind {
    C_INSERT,
    C_APPENDER,
    C_ACK,
    C_STREAM,
    C_JOURNAL,
    C_ACK_TEXT,
    C_JOURNAL_TEXT,
    C_STREAM_TEXT
};

/* User + system CPU time of a rusage, in microseconds. */
static double cpu_us(const struct rusage *ru)
{
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e6 +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec);
}

/* Runs one case in a forked child; its peak RSS comes from wait4. */
static struct result run_case(enum case_kind kind, int p)
{
    struct result r = {0};
    int fds[2];
    if (pipe(fds) != 0)
        exit(1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        atomic_store(&next_id, 0);
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        text_ts = kind >= C_ACK_TEXT;
        switch (kind) {
        case C_INSERT: case_insert(p, &r); break;
        case C_APPENDER: case_appender(&r); break;
        case C_ACK:
        case C_ACK_TEXT: case_batcher_ack(p, &r); break;
        case C_STREAM:
        case C_STREAM_TEXT: case_stream(&r); break;
        case C_JOURNAL:
        case C_JOURNAL_TEXT: case_batcher_journal(p, &r); break;
        }
        getrusage(RUSAGE_SELF, &after);
        if (r.rows > 0)
            r.cpu_us_per_row = (cpu_us(&after) - cpu_us(&before)) / (double)r.rows;
        if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], &r, sizeof r);
    close(fds[0]);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    if (got != (ssize_t)sizeof r || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        r.ok = 0;
    r.peak_rss_kb = ru.ru_maxrss;
    return r;
}

static int cmp_result(const void *a, const void *b)
{
    double x = ((const struct result *)a)->rows_per_s, y = ((const struct result *)b)->rows_per_s;
    return (x > y) - (x < y);
}

/* The median of opt_reps runs, by rows/s. */
static struct result median_case(enum case_kind kind, int p)
{
    struct result runs[32];
    int n = opt_reps < 32 ? opt_reps : 32, ok = 1;
    for (int i = 0; i < n; i++) {
        runs[i] = run_case(kind, p);
        ok &= runs[i].ok && runs[i].rows_in_db == runs[i].rows;
    }
    qsort(runs, (size_t)n, sizeof runs[0], cmp_result);
    struct result m = runs[n / 2];
    m.ok = ok;
    return m;
}

/* Removes the temporary directory of the databases. */
static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void print_row(const char *name, int p, const struct result *r)
{
    char per_commit[32] = "";
    if (r->rows_per_commit > 0)
        snprintf(per_commit, sizeof per_commit, "%.1f", r->rows_per_commit);
    printf("%-44s %4d %12.0f %10.3f %10.3f %10.1f %10s %10.1f  %s\n", name, p, r->rows_per_s, r->p50_ms,
           r->p99_ms, (double)r->peak_rss_kb / 1024.0, per_commit, r->cpu_us_per_row,
           r->ok ? "ok" : "ERRORS/ROWS MISSING");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "d:r:b:c:p:")) != -1) {
        switch (opt) {
        case 'd': opt_seconds = atof(optarg); break;
        case 'r': opt_reps = atoi(optarg); break;
        case 'b': opt_stream_rows = atoi(optarg); break;
        case 'c': opt_only = optarg; break;
        case 'p': opt_p = atoi(optarg); break;
        default:
            fprintf(stderr,
                    "usage: %s [-d seconds] [-r repetitions] [-b rows-per-stream-write]\n"
                    "       [-c insert|appender|ack|stream|journal|ack-text|journal-text|stream-text\n"
                    "        [-p threads]]\n",
                    argv[0]);
            return 2;
        }
    }
    if (opt_seconds <= 0 || opt_reps < 1 || opt_stream_rows < 1) {
        fprintf(stderr, "bad option value\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "/tmp/duckpond-bench-XXXXXX");
    const char *tmp = getenv("TMPDIR");
    if (tmp && *tmp)
        snprintf(dir, sizeof dir, "%s/duckpond-bench-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("ingest: ticks(ts TIMESTAMP, symbol VARCHAR, qty BIGINT, price DOUBLE) in a database file;\n"
           "%.1f s per run, median of %d runs; latency = per acknowledgement\n\n",
           opt_seconds, opt_reps);
    printf("%-44s %4s %12s %10s %10s %10s %10s %10s\n", "case", "P", "rows/s", "p50 ms", "p99 ms", "peak MB",
           "rows/commit", "CPU us/row");
    if (opt_only) {
        static const char *names[] = {"insert",  "appender", "ack",          "stream",
                                      "journal", "ack-text", "journal-text", "stream-text"};
        for (int k = 0; k < 8; k++)
            if (!strcmp(opt_only, names[k])) {
                struct result one = median_case((enum case_kind)k, opt_p);
                print_row(names[k], opt_p, &one);
                printf("(%lld rows written: for instructions per row under callgrind)\n",
                       (long long)one.rows);
                remove_dir();
                return one.ok ? 0 : 1;
            }
        fprintf(stderr, "unknown case %s\n", opt_only);
        remove_dir();
        return 2;
    }
    static const int ps[] = {1, 8, 64};
    struct result ins[3], ack[3];
    for (int i = 0; i < 3; i++) {
        ins[i] = median_case(C_INSERT, ps[i]);
        print_row("1 INSERT autocommit (prepared), conn/thread", ps[i], &ins[i]);
    }
    struct result app = median_case(C_APPENDER, 1);
    print_row("2 raw Appender, one thread (limit)", 1, &app);
    for (int i = 0; i < 3; i++) {
        ack[i] = median_case(C_ACK, ps[i]);
        print_row("3 batcher, 1 row/submit, commit ack", ps[i], &ack[i]);
    }
    struct result st = median_case(C_STREAM, 1);
    char name[64];
    snprintf(name, sizeof name, "4 batcher, stream %d rows/write, queued", opt_stream_rows);
    print_row(name, 1, &st);
    struct result jr[3];
    for (int i = 1; i < 3; i++) {
        jr[i] = median_case(C_JOURNAL, ps[i]);
        print_row("5 batcher, 1 row/submit, journal ack", ps[i], &jr[i]);
    }
    struct result ackt[3], jrt[3];
    for (int i = 1; i < 3; i++) {
        ackt[i] = median_case(C_ACK_TEXT, ps[i]);
        print_row("6 as 3, ts as text", ps[i], &ackt[i]);
    }
    for (int i = 1; i < 3; i++) {
        jrt[i] = median_case(C_JOURNAL_TEXT, ps[i]);
        print_row("7 as 5, ts as text", ps[i], &jrt[i]);
    }
    struct result stt = median_case(C_STREAM_TEXT, 1);
    print_row("8 as 4, ts as text", 1, &stt);
    printf("\n(cases 4 and 8: latency is commit-ack from the batcher's histogram, bucket upper bounds;\n"
           " queue cap %d rows)\n\nratios\n",
           STREAM_QUEUE_ROWS);
    for (int i = 0; i < 3; i++)
        printf("  3/1 at P=%-3d %8.1fx   (target at P=64: >= 30x)\n", ps[i],
               ack[i].rows_per_s / ins[i].rows_per_s);
    printf("  4/2          %8.2f    (target: >= 0.50)\n", st.rows_per_s / app.rows_per_s);
    for (int i = 1; i < 3; i++)
        printf("  5/3 at P=%-3d %8.2fx   (journal/commit rows/s; p50 ack %.3f vs %.3f ms)\n", ps[i],
               jr[i].rows_per_s / ack[i].rows_per_s, jr[i].p50_ms, ack[i].p50_ms);
    for (int i = 1; i < 3; i++)
        printf("  6/3 at P=%-3d %8.2fx   (text/typed ts, commit ack)\n", ps[i],
               ackt[i].rows_per_s / ack[i].rows_per_s);
    for (int i = 1; i < 3; i++)
        printf("  7/5 at P=%-3d %8.2fx   (text/typed ts, journal ack)\n", ps[i],
               jrt[i].rows_per_s / jr[i].rows_per_s);
    printf("  8/4          %8.2fx   (text/typed ts, stream)\n", stt.rows_per_s / st.rows_per_s);
    remove_dir();
    int all_ok = ins[0].ok && ins[1].ok && ins[2].ok && app.ok && ack[0].ok && ack[1].ok && ack[2].ok &&
                 st.ok && jr[1].ok && jr[2].ok && ackt[1].ok && ackt[2].ok && jrt[1].ok && jrt[2].ok &&
                 stt.ok;
    return all_ok ? 0 : 1;
}
