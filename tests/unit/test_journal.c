/*
 * test_journal.c -- the ingest journal on real files: replay in order,
 * group commit from many threads (every record handed to on_durable once,
 * in order), and recovery from a torn tail, a flipped
 * byte, a missing segment, a crash that leaves the zeros written ahead of
 * the records, and a full disk.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "duckpond.h"
#include "journal.h"
#include "testlib.h"

struct seen {
    uint64_t seqs[4096];
    char payloads[4096][32];
    size_t n;
};

static int remember(void *arg, uint64_t seq, const void *p, size_t len)
{
    struct seen *s = arg;
    if (s->n >= 4096 || len >= 32)
        return 1;
    s->seqs[s->n] = seq;
    memcpy(s->payloads[s->n], p, len);
    s->payloads[s->n][len] = 0;
    s->n++;
    return 0;
}

static const struct journal_options fast = {.no_sync = 0};

/* Appends records "rec-1" .. "rec-n" and syncs them. */
static int append_n(struct journal *j, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char p[32];
        int len = snprintf(p, sizeof p, "rec-%d", i);
        uint64_t seq;
        if (journal_append(j, p, (size_t)len, &seq) || journal_sync(j, seq) || seq != (uint64_t)i)
            return 1;
    }
    return 0;
}

static int reopen(const char *dir, const struct journal_options *o, uint64_t applied, struct seen *s,
                  struct journal **j, char *report)
{
    memset(s, 0, sizeof *s);
    return journal_open(dir, o, applied, remember, s, j, report, 2048);
}

static void test_replay_in_order(void)
{
    const char *dir = test_path("j");
    struct journal *j;
    struct seen s;
    char report[2048];
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_EQ_INT(s.n, 0);
    CHECK_OK(append_n(j, 1, 100));
    journal_close(j);
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_EQ_INT(s.n, 100);
    for (size_t i = 0; i < s.n; i++) {
        char want[32];
        snprintf(want, sizeof want, "rec-%zu", i + 1);
        CHECK_EQ_INT(s.seqs[i], i + 1);
        CHECK(strcmp(s.payloads[i], want) == 0);
    }
    journal_close(j);
    /* only what was not applied is replayed; numbering goes on */
    CHECK_OK(reopen(dir, &fast, 60, &s, &j, report));
    CHECK_EQ_INT(s.n, 40);
    CHECK_EQ_INT(s.seqs[0], 61);
    CHECK_OK(append_n(j, 101, 1));
    journal_close(j);
}

struct appender {
    struct journal *j;
    int id, rc;
    uint64_t seqs[300];
};

static void *append_thread(void *arg)
{
    struct appender *a = arg;
    for (int i = 0; i < 300 && !a->rc; i++) {
        char p[32];
        int len = snprintf(p, sizeof p, "t%d-%d", a->id, i);
        a->rc = journal_append(a->j, p, (size_t)len, &a->seqs[i]) || journal_sync(a->j, a->seqs[i]);
    }
    return NULL;
}

static int cmp_seq(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void test_group_commit_threads(void)
{
    const char *dir = test_path("j");
    struct journal *j;
    char report[2048];
    CHECK_OK(journal_open(dir, NULL, 0, NULL, NULL, &j, report, sizeof report));
    enum { T = 8 };
    static struct appender a[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        a[i] = (struct appender){.j = j, .id = i};
        pthread_create(&th[i], NULL, append_thread, &a[i]);
    }
    static uint64_t all[T * 300];
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(a[i].rc, 0);
        memcpy(all + i * 300, a[i].seqs, sizeof a[i].seqs);
    }
    qsort(all, T * 300, sizeof all[0], cmp_seq);
    for (int i = 0; i < T * 300; i++)
        CHECK_EQ_INT(all[i], i + 1); /* every number once */
    struct journal_stats st;
    journal_stats_get(j, &st);
    CHECK_EQ_INT(st.synced_seq, T * 300);
    CHECK(st.syncs <= T * 300);
    printf("    %d synced appends from %d threads took %llu fdatasyncs\n", T * 300, T,
           (unsigned long long)st.syncs);
    journal_close(j);
    struct seen s;
    CHECK_OK(reopen(dir, NULL, 0, &s, &j, report));
    CHECK_EQ_INT(s.n, T * 300);
    journal_close(j);
}

static const char *only_segment(const char *dir)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/seg-%016x.log", dir, 1);
    return path;
}

static void test_torn_tail_is_cut(void)
{
    const char *dir = test_path("j");
    struct journal *j;
    struct seen s;
    char report[2048];
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_OK(append_n(j, 1, 10));
    journal_close(j);
    struct stat st;
    CHECK(stat(only_segment(dir), &st) == 0);
    CHECK(truncate(only_segment(dir), st.st_size - 5) == 0); /* the last record, half written */
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_EQ_INT(s.n, 9);
    CHECK_STR_CONTAINS(report, "torn tail");
    CHECK_OK(append_n(j, 10, 1)); /* numbering resumes where the whole records end */
    journal_close(j);
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_EQ_INT(s.n, 10);
    CHECK(strstr(report, "torn") == NULL);
    CHECK(strcmp(s.payloads[9], "rec-10") == 0);
    journal_close(j);
}

/*
 * A process that dies without closing the journal leaves the zeros written
 * ahead of its records: they are the clean end, not a torn tail; half a
 * record before them is one.
 */
static void test_crash_leaves_zeros_ahead(void)
{
    const char *dir = test_path("j");
    struct journal *j;
    struct seen s;
    char report[2048];
    pid_t pid = fork();
    if (pid == 0) {
        if (reopen(dir, &fast, 0, &s, &j, report) || append_n(j, 1, 10))
            _exit(1);
        _exit(0); /* no journal_close: as if killed */
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct stat st;
    CHECK(stat(only_segment(dir), &st) == 0);
    CHECK(st.st_size >= 1 << 20); /* zeros past the 10 records */
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_EQ_INT(s.n, 10);
    CHECK(strstr(report, "torn") == NULL && strstr(report, "corrupt") == NULL);
    CHECK_OK(append_n(j, 11, 1)); /* written where the records end, not after the zeros */
    journal_close(j);
    CHECK(stat(only_segment(dir), &st) == 0);
    CHECK_EQ_INT(st.st_size,
                 11 * (24 + 5) + 2); /* a clean close cuts the zeros ("rec-10", "rec-11": 6 bytes) */
    /* half a record, then zeros: a torn tail of exactly those bytes */
    int fd = open(only_segment(dir), O_RDWR);
    CHECK(fd >= 0);
    static const char zeros[4096], half[12] = "DPJ1garbage";
    CHECK(pwrite(fd, half, sizeof half, st.st_size) == (ssize_t)sizeof half);
    CHECK(pwrite(fd, zeros, sizeof zeros, st.st_size + (off_t)sizeof half) == (ssize_t)sizeof zeros);
    close(fd);
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_EQ_INT(s.n, 11);
    CHECK_STR_CONTAINS(report, "torn tail");
    CHECK_STR_CONTAINS(report, "11 bytes"); /* "DPJ1garbage": its NUL reads as a zero ahead */
    journal_close(j);
}

static void test_flipped_byte_is_skipped_and_reported(void)
{
    const char *dir = test_path("j");
    struct journal *j;
    struct seen s;
    char report[2048];
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_OK(append_n(j, 1, 10));
    journal_close(j);
    /* record 5 starts at 4 * (24 + 5) bytes; flip a byte of its payload */
    int fd = open(only_segment(dir), O_RDWR);
    CHECK(fd >= 0);
    off_t at = 4 * (24 + 5) + 24 + 2;
    char c;
    CHECK(pread(fd, &c, 1, at) == 1);
    c ^= 0x20;
    CHECK(pwrite(fd, &c, 1, at) == 1);
    close(fd);
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_EQ_INT(s.n, 9);
    CHECK_EQ_INT(s.seqs[3], 4);
    CHECK_EQ_INT(s.seqs[4], 6);
    CHECK_STR_CONTAINS(report, "corrupt data");
    CHECK_STR_CONTAINS(report, "records 5-5 are missing");
    journal_close(j);
}

static void test_missing_segment_reported(void)
{
    const char *dir = test_path("j");
    struct journal_options small = {.segment_bytes = 200};
    struct journal *j;
    struct seen s;
    char report[2048];
    CHECK_OK(reopen(dir, &small, 0, &s, &j, report));
    CHECK_OK(append_n(j, 1, 40));
    struct journal_stats st;
    journal_stats_get(j, &st);
    CHECK(st.segments >= 4);
    journal_close(j);
    /* the segment that starts at record 8 (200 bytes hold 7 records) */
    char path[600];
    snprintf(path, sizeof path, "%s/seg-%016x.log", dir, 8);
    CHECK(unlink(path) == 0);
    CHECK_OK(reopen(dir, &small, 0, &s, &j, report));
    CHECK_STR_CONTAINS(report, "records 8-14 are missing");
    CHECK_EQ_INT(s.n, 33);
    journal_close(j);
    /* once those records are applied, their absence is no news */
    CHECK_OK(reopen(dir, &small, 20, &s, &j, report));
    CHECK(strstr(report, "missing") == NULL);
    CHECK_EQ_INT(s.n, 20);
    journal_close(j);
}

static void test_recycle_keeps_numbering(void)
{
    const char *dir = test_path("j");
    struct journal_options small = {.segment_bytes = 200};
    struct journal *j;
    struct seen s;
    char report[2048];
    CHECK_OK(reopen(dir, &small, 0, &s, &j, report));
    CHECK_OK(append_n(j, 1, 40));
    CHECK_OK(journal_recycle(j, 40));
    struct journal_stats st;
    journal_stats_get(j, &st);
    CHECK_EQ_INT(st.segments, 1); /* only the current one */
    journal_close(j);
    CHECK_OK(reopen(dir, &small, 40, &s, &j, report));
    CHECK_EQ_INT(s.n, 0);
    CHECK_OK(append_n(j, 41, 1)); /* not 1: applied numbers are never reused */
    journal_close(j);
    /* everything recycled, even the current segment removed by hand */
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] == 's')
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    CHECK_OK(reopen(dir, &small, 41, &s, &j, report));
    CHECK_OK(append_n(j, 42, 1));
    journal_close(j);
}

static void test_disk_full_fails_cleanly(void)
{
    const char *dir = test_path("j");
    struct journal *j;
    struct seen s;
    char report[2048];
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_OK(append_n(j, 1, 10));
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit none, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &none) == 0);
    lim = (struct rlimit){400, none.rlim_max}; /* the soft limit only, so it can be raised again */
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    char big[300];
    memset(big, 'x', sizeof big);
    uint64_t seq = 0;
    CHECK_EQ_INT(journal_append(j, big, sizeof big, &seq), DUCKPOND_IO);
    CHECK_STR_CONTAINS(journal_errmsg(j), "cannot write the journal");
    CHECK(setrlimit(RLIMIT_FSIZE, &none) == 0);
    CHECK_OK(append_n(j, 11, 1)); /* the failed record took no number and left nothing */
    journal_close(j);
    CHECK_OK(reopen(dir, &fast, 0, &s, &j, report));
    CHECK_EQ_INT(s.n, 11);
    CHECK(strstr(report, "torn") == NULL && strstr(report, "corrupt") == NULL);
    journal_close(j);
    CHECK(journal_open("/proc/no/such/dir", NULL, 0, NULL, NULL, &j, report, sizeof report) != 0);
    CHECK_STR_CONTAINS(report, "cannot create journal directory");
}

/* What on_durable saw: every record once, in order, with its cookie. */
struct durable_log {
    pthread_mutex_t mu;
    uint64_t last, n, bad;
};

static void log_durable(void *arg, struct journal_ticket *const *tickets, size_t n)
{
    struct durable_log *l = arg;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        uint64_t *cookie = tickets[i]->cookie;
        if (tickets[i]->seq != l->last + 1 || !cookie)
            l->bad++;
        else
            *cookie = tickets[i]->seq; /* the producer checks it against its own */
        l->last = tickets[i]->seq;
        l->n++;
    }
    pthread_mutex_unlock(&l->mu);
}

struct putter {
    struct journal *j;
    int id, rc, mismatched;
};

static void *put_thread(void *arg)
{
    struct putter *a = arg;
    for (int i = 0; i < 200 && !a->rc; i++) {
        char p[32];
        int len = snprintf(p, sizeof p, "p%d-%d", a->id, i);
        uint64_t seen = 0;
        struct journal_ticket tk;
        a->rc = journal_put(a->j, p, (size_t)len, &seen, &tk) || journal_wait(a->j, &tk);
        a->mismatched += !a->rc && (tk.seq == 0 || seen != tk.seq);
    }
    return NULL;
}

/* journal_put + journal_wait from many threads: on_durable sees each record once, in order. */
static void test_on_durable_in_order(void)
{
    const char *dir = test_path("j");
    struct journal *j;
    char report[2048];
    static struct durable_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct journal_options o = {.on_durable = log_durable, .arg = &log};
    CHECK_OK(journal_open(dir, &o, 0, NULL, NULL, &j, report, sizeof report));
    enum { T = 16 };
    static struct putter a[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        a[i] = (struct putter){.j = j, .id = i};
        pthread_create(&th[i], NULL, put_thread, &a[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(a[i].rc, 0);
        CHECK_EQ_INT(a[i].mismatched, 0);
    }
    CHECK_EQ_INT(log.n, T * 200);
    CHECK_EQ_INT(log.bad, 0);
    struct journal_stats st;
    journal_stats_get(j, &st);
    CHECK_EQ_INT(st.synced_seq, T * 200);
    printf("    %d records from %d threads in %llu flushes\n", T * 200, T, (unsigned long long)st.syncs);
    journal_close(j);
    struct seen s;
    CHECK_OK(reopen(dir, NULL, 0, &s, &j, report));
    CHECK_EQ_INT(s.n, T * 200);
    journal_close(j);
}

TEST_MAIN(TEST_ENTRY(test_replay_in_order), TEST_ENTRY(test_group_commit_threads),
          TEST_ENTRY(test_torn_tail_is_cut), TEST_ENTRY(test_crash_leaves_zeros_ahead),
          TEST_ENTRY(test_flipped_byte_is_skipped_and_reported), TEST_ENTRY(test_missing_segment_reported),
          TEST_ENTRY(test_recycle_keeps_numbering), TEST_ENTRY(test_disk_full_fails_cleanly),
          TEST_ENTRY(test_on_durable_in_order))
