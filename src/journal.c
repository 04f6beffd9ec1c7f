/*
 * journal.c -- the ingest journal: an append-only log of accepted writes,
 * made durable in groups, replayed into DuckDB after a crash.
 *
 * A DuckDB commit costs ~0.5 ms of CPU plus an fsync however few rows it
 * holds. A trading feed's answer (a tickerplant's log) is to acknowledge a
 * write once it is in a local log on disk, and to load the log into the
 * database in large batches behind it. This file is that log.
 *
 * On disk: a directory of segment files "seg-<first seq, 16 hex>.log". A
 * segment is a run of records, each a 24-byte header (magic, payload
 * length, sequence number, CRC-32C of length+seq+payload, zero) and the
 * payload. Sequence numbers increase by one across segments. Appends go to
 * the last segment under a mutex (one pwritev each); durability is group
 * commit: the first caller of journal_sync becomes the leader and runs one
 * fdatasync for everything appended so far while later callers wait for it
 * (PostgreSQL's WAL flush, in small). A failed fdatasync poisons the journal:
 * after one, the kernel may have dropped the dirty pages, so nothing more is
 * acknowledged until the server restarts and replays.
 *
 * On open every segment is read and checked. A record that fails its
 * checksum at the end of the last segment is a torn write and is cut off; a
 * bad record with good records after it is skipped and reported; a hole in
 * the sequence numbers (a missing segment) is reported. Nothing half-written
 * is ever handed to replay.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "duckpond.h"
#include "journal.h"

#define JOURNAL_MAGIC 0x314A5044u /* "DPJ1" little-endian */
#define HEADER_BYTES 24

struct segment {
    uint64_t name_seq; /* the number in its file name */
    uint64_t last_seq; /* its highest record; 0 when it has none */
};

struct journal {
    char *dir;
    int dirfd;
    struct journal_options opt;
    pthread_mutex_t lock;
    pthread_cond_t sync_done;
    int fd;                 /* the last segment, open for appending */
    off_t size;             /* its size */
    uint64_t written_seq;   /* highest appended */
    uint64_t synced_seq;    /* highest durable */
    int syncing;            /* a leader is in fdatasync */
    int broken;             /* state on disk unknown: refuse appends */
    int fail_syncs;         /* tests only: fdatasync reports EIO */
    struct segment *segs;
    size_t nsegs, capsegs;
    uint64_t syncs, bytes;
    char errmsg[512];
};

/* ---- CRC-32C (Castagnoli), table-driven ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t record_crc(uint32_t len, uint64_t seq, const void *payload)
{
    unsigned char head[12];
    memcpy(head, &len, 4);
    memcpy(head + 4, &seq, 8);
    return crc32c(crc32c(0, head, sizeof head), payload, len);
}

/* ---- helpers ---- */

static void appendf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void appendf(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || len == 0)
        return;
    size_t used = strnlen(buf, len);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static void fail(struct journal *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct journal *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->errmsg, sizeof j->errmsg, fmt, ap);
    va_end(ap);
}

static void segment_name(char *out, size_t len, uint64_t first_seq)
{
    snprintf(out, len, "seg-%016" PRIx64 ".log", first_seq);
}

static int add_segment(struct journal *j, uint64_t first_seq)
{
    if (j->nsegs == j->capsegs) {
        size_t cap = j->capsegs ? j->capsegs * 2 : 16;
        struct segment *s = realloc(j->segs, cap * sizeof *s);
        if (!s)
            return DUCKPOND_NOMEM;
        j->segs = s;
        j->capsegs = cap;
    }
    j->segs[j->nsegs++] = (struct segment){first_seq, 0};
    return DUCKPOND_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The first sequence numbers of the segments in the directory, sorted. */
static int list_segments(struct journal *j, uint64_t **out, size_t *n)
{
    DIR *d = fdopendir(dup(j->dirfd));
    if (!d)
        return DUCKPOND_IO;
    size_t cap = 16;
    uint64_t *firsts = malloc(cap * sizeof *firsts);
    *n = 0;
    struct dirent *e;
    while (firsts && (e = readdir(d))) {
        uint64_t first;
        char tail[8];
        if (sscanf(e->d_name, "seg-%16" SCNx64 "%7s", &first, tail) != 2 || strcmp(tail, ".log") != 0)
            continue;
        if (*n == cap) {
            uint64_t *f = realloc(firsts, (cap *= 2) * sizeof *f);
            if (!f) {
                free(firsts);
                firsts = NULL;
                break;
            }
            firsts = f;
        }
        firsts[(*n)++] = first;
    }
    closedir(d);
    if (!firsts)
        return DUCKPOND_NOMEM;
    qsort(firsts, *n, sizeof *firsts, cmp_u64);
    *out = firsts;
    return DUCKPOND_OK;
}

/* ---- scanning on open ---- */

struct scan {
    struct journal *j;
    uint64_t applied_seq;
    uint64_t expected;   /* the next seq we expect; 0 = none seen yet */
    journal_replay_fn replay;
    void *arg;
    char *report;
    size_t report_len;
    uint64_t records, replayed;
};

/* Is there a whole, valid record at off? Fills seq and len. */
static int valid_record(const unsigned char *base, size_t size, size_t off, uint64_t *seq, uint32_t *len)
{
    if (off + HEADER_BYTES > size)
        return 0;
    uint32_t magic, crc;
    memcpy(&magic, base + off, 4);
    memcpy(len, base + off + 4, 4);
    memcpy(seq, base + off + 8, 8);
    memcpy(&crc, base + off + 16, 4);
    if (magic != JOURNAL_MAGIC || *len > JOURNAL_MAX_RECORD || off + HEADER_BYTES + *len > size)
        return 0;
    return record_crc(*len, *seq, base + off + HEADER_BYTES) == crc;
}

/* Notes a hole in the sequence numbers before seq, if it matters. */
static void check_gap(struct scan *s, uint64_t seq, const char *where)
{
    if (s->expected && seq > s->expected && seq - 1 > s->applied_seq) {
        uint64_t from = s->expected > s->applied_seq ? s->expected : s->applied_seq + 1;
        appendf(s->report, s->report_len, "records %" PRIu64 "-%" PRIu64 " are missing (%s); ",
                from, seq - 1, where);
    }
}

/*
 * Reads one segment. Returns the offset where its valid data ends (to cut
 * a torn tail at), or -1 on a replay or I/O failure.
 */
static off_t scan_segment(struct scan *s, const char *name, struct segment *seg, int is_last)
{
    int fd = openat(s->j->dirfd, name, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        appendf(s->report, s->report_len, "cannot read %s: %s; ", name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size, off = 0, good_end = 0;
    const unsigned char *base = NULL;
    if (size > 0) {
        base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (base == MAP_FAILED) {
            close(fd);
            return -1;
        }
    }
    close(fd);
    int rc = 0;
    while (off < size && rc == 0) {
        uint64_t seq;
        uint32_t len;
        if (!valid_record(base, size, off, &seq, &len) || (s->expected && seq < s->expected)) {
            size_t next = off + 1;
            while (next < size && !valid_record(base, size, next, &seq, &len))
                next++;
            if (next >= size) {
                if (is_last)
                    appendf(s->report, s->report_len,
                            "torn tail in %s: %zu bytes at offset %zu cut off; ", name, size - off, off);
                else
                    appendf(s->report, s->report_len,
                            "corrupt tail in %s: %zu bytes at offset %zu skipped; ", name, size - off, off);
                break;
            }
            appendf(s->report, s->report_len, "corrupt data in %s: bytes %zu-%zu skipped; ", name, off,
                    next - 1);
            off = next;
            continue;
        }
        check_gap(s, seq, name);
        seg->last_seq = seq;
        s->expected = seq + 1;
        s->records++;
        if (seq > s->applied_seq && s->replay) {
            rc = s->replay(s->arg, seq, base + off + HEADER_BYTES, len);
            if (rc)
                appendf(s->report, s->report_len, "replay of record %" PRIu64 " failed; ", seq);
            s->replayed++;
        }
        off += HEADER_BYTES + len;
        good_end = off;
    }
    if (base)
        munmap((void *)base, size);
    if (rc)
        return -1;
    return is_last ? (off_t)good_end : (off_t)size;
}

static int create_segment(struct journal *j, uint64_t first_seq)
{
    char name[64];
    segment_name(name, sizeof name, first_seq);
    int fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail(j, "cannot create journal segment %s/%s: %s", j->dir, name, strerror(errno));
        return DUCKPOND_IO;
    }
    if (!j->opt.no_sync && fsync(j->dirfd) != 0) {
        fail(j, "cannot sync journal directory %s: %s", j->dir, strerror(errno));
        close(fd);
        return DUCKPOND_IO;
    }
    if (add_segment(j, first_seq) != DUCKPOND_OK) {
        close(fd);
        return DUCKPOND_NOMEM;
    }
    j->fd = fd;
    j->size = 0;
    return DUCKPOND_OK;
}

/* Opens the last segment for appending, cutting it to its valid end. */
static int open_last(struct journal *j, off_t end)
{
    char name[64];
    segment_name(name, sizeof name, j->segs[j->nsegs - 1].name_seq);
    j->fd = openat(j->dirfd, name, O_WRONLY | O_CLOEXEC);
    if (j->fd < 0 || ftruncate(j->fd, end) != 0 || (!j->opt.no_sync && fdatasync(j->fd) != 0)) {
        fail(j, "cannot open journal segment %s/%s for appending: %s", j->dir, name, strerror(errno));
        return DUCKPOND_IO;
    }
    j->size = end;
    return DUCKPOND_OK;
}

/* Reads every segment; leaves the last one open for appending. */
static int scan_all(struct journal *j, struct scan *s)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    int rc = list_segments(j, &firsts, &n);
    if (rc != DUCKPOND_OK) {
        appendf(s->report, s->report_len, "cannot list %s; ", j->dir);
        return rc;
    }
    off_t end = 0;
    for (size_t i = 0; i < n && rc == DUCKPOND_OK; i++) {
        char name[64];
        segment_name(name, sizeof name, firsts[i]);
        check_gap(s, firsts[i], "a segment is missing");
        if ((rc = add_segment(j, firsts[i])) != DUCKPOND_OK)
            break;
        end = scan_segment(s, name, &j->segs[j->nsegs - 1], i + 1 == n);
        if (end < 0)
            rc = DUCKPOND_IO;
    }
    free(firsts);
    if (rc != DUCKPOND_OK)
        return rc;
    j->written_seq = s->expected ? s->expected - 1 : 0;
    if (j->written_seq < s->applied_seq)
        j->written_seq = s->applied_seq; /* never reuse a number already applied */
    j->synced_seq = j->written_seq;
    if (j->nsegs == 0)
        return create_segment(j, j->written_seq + 1);
    return open_last(j, end);
}

static void journal_free(struct journal *j)
{
    if (j->fd >= 0)
        close(j->fd);
    if (j->dirfd >= 0)
        close(j->dirfd);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->sync_done);
    free(j->segs);
    free(j->dir);
    free(j);
}

int journal_open(const char *dir, const struct journal_options *opt, uint64_t applied_seq,
                 journal_replay_fn replay, void *arg, struct journal **out, char *report,
                 size_t report_len)
{
    pthread_once(&crc_once, crc_init);
    if (report && report_len)
        report[0] = 0;
    *out = NULL;
    struct journal *j = calloc(1, sizeof *j);
    if (!j)
        return DUCKPOND_NOMEM;
    j->fd = j->dirfd = -1;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->sync_done, NULL);
    if (opt)
        j->opt = *opt;
    if (!j->opt.segment_bytes)
        j->opt.segment_bytes = (size_t)64 << 20;
    j->dir = strdup(dir);
    if (!j->dir) {
        journal_free(j);
        return DUCKPOND_NOMEM;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        appendf(report, report_len, "cannot create journal directory %s: %s", dir, strerror(errno));
        journal_free(j);
        return DUCKPOND_IO;
    }
    j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->dirfd < 0) {
        appendf(report, report_len, "cannot open journal directory %s: %s", dir, strerror(errno));
        journal_free(j);
        return DUCKPOND_IO;
    }
    struct scan s = {.j = j, .applied_seq = applied_seq, .replay = replay, .arg = arg,
                     .report = report, .report_len = report_len};
    int rc = scan_all(j, &s);
    if (rc != DUCKPOND_OK) {
        if (j->errmsg[0])
            appendf(report, report_len, "%s", j->errmsg);
        journal_free(j);
        return rc;
    }
    appendf(report, report_len, "journal %s: %" PRIu64 " records in %zu segments, %" PRIu64
            " replayed after %" PRIu64, dir, s.records, j->nsegs, s.replayed, applied_seq);
    *out = j;
    return DUCKPOND_OK;
}

/* Starts a new segment once the current one is full; the lock is held. */
static int maybe_roll(struct journal *j)
{
    if ((size_t)j->size < j->opt.segment_bytes)
        return DUCKPOND_OK;
    while (j->syncing) /* the leader is syncing the fd we would close */
        pthread_cond_wait(&j->sync_done, &j->lock);
    if (!j->opt.no_sync && fdatasync(j->fd) != 0) {
        j->broken = 1;
        fail(j, "journal fdatasync failed: %s", strerror(errno));
        return DUCKPOND_IO;
    }
    j->syncs++;
    if (j->written_seq > j->synced_seq)
        j->synced_seq = j->written_seq;
    close(j->fd);
    j->fd = -1;
    int rc = create_segment(j, j->written_seq + 1);
    if (rc != DUCKPOND_OK)
        j->broken = 1;
    return rc;
}

int journal_append(struct journal *j, const void *payload, size_t len, uint64_t *seq)
{
    if (!j || (!payload && len) || len > JOURNAL_MAX_RECORD)
        return DUCKPOND_MISUSE;
    pthread_mutex_lock(&j->lock);
    int rc = DUCKPOND_IO;
    if (j->broken)
        goto out;
    if ((rc = maybe_roll(j)) != DUCKPOND_OK)
        goto out;
    uint64_t s = j->written_seq + 1;
    uint32_t len32 = (uint32_t)len, crc = record_crc(len32, s, payload), magic = JOURNAL_MAGIC, zero = 0;
    unsigned char head[HEADER_BYTES];
    memcpy(head, &magic, 4);
    memcpy(head + 4, &len32, 4);
    memcpy(head + 8, &s, 8);
    memcpy(head + 16, &crc, 4);
    memcpy(head + 20, &zero, 4);
    struct iovec iov[2] = {{head, HEADER_BYTES}, {(void *)payload, len}};
    ssize_t want = HEADER_BYTES + (ssize_t)len;
    ssize_t n = pwritev(j->fd, iov, 2, j->size);
    if (n != want) {
        fail(j, "cannot write the journal: %s", n < 0 ? strerror(errno) : "short write (disk full?)");
        /* Leave no partial record behind; if even that fails, stop for good. */
        if (n > 0 && ftruncate(j->fd, j->size) != 0)
            j->broken = 1;
        rc = DUCKPOND_IO;
        goto out;
    }
    j->size += want;
    j->bytes += (uint64_t)want;
    j->written_seq = s;
    j->segs[j->nsegs - 1].last_seq = s;
    *seq = s;
    rc = DUCKPOND_OK;
out:
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int journal_sync(struct journal *j, uint64_t seq)
{
    if (!j)
        return DUCKPOND_MISUSE;
    pthread_mutex_lock(&j->lock);
    while (j->synced_seq < seq && !j->broken) {
        if (j->syncing) {
            pthread_cond_wait(&j->sync_done, &j->lock);
            continue;
        }
        /* Lead: sync everything written so far, for all waiters at once. */
        j->syncing = 1;
        uint64_t target = j->written_seq;
        int fd = j->fd;
        pthread_mutex_unlock(&j->lock);
        int r = j->opt.no_sync ? 0 : fdatasync(fd);
        int err = errno;
        if (__atomic_load_n(&j->fail_syncs, __ATOMIC_RELAXED))
            r = -1, err = EIO;
        pthread_mutex_lock(&j->lock);
        j->syncing = 0;
        j->syncs++;
        if (r != 0) {
            j->broken = 1;
            fail(j, "journal fdatasync failed: %s; no further writes are acknowledged", strerror(err));
        } else if (target > j->synced_seq) {
            j->synced_seq = target;
        }
        pthread_cond_broadcast(&j->sync_done);
    }
    int rc = j->synced_seq >= seq ? DUCKPOND_OK : DUCKPOND_IO;
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int journal_recycle(struct journal *j, uint64_t applied_seq)
{
    if (!j)
        return DUCKPOND_MISUSE;
    pthread_mutex_lock(&j->lock);
    size_t keep = 0;
    int rc = DUCKPOND_OK;
    for (size_t i = 0; i < j->nsegs; i++) {
        int current = i + 1 == j->nsegs;
        if (!current && j->segs[i].last_seq <= applied_seq) {
            char name[64];
            segment_name(name, sizeof name, j->segs[i].name_seq);
            if (unlinkat(j->dirfd, name, 0) == 0 || errno == ENOENT)
                continue;
            fail(j, "cannot remove journal segment %s: %s", name, strerror(errno));
            rc = DUCKPOND_IO;
        }
        j->segs[keep++] = j->segs[i];
    }
    j->nsegs = keep;
    pthread_mutex_unlock(&j->lock);
    return rc;
}

const char *journal_errmsg(struct journal *j)
{
    return j ? j->errmsg : "";
}

void journal_stats_get(struct journal *j, struct journal_stats *out)
{
    pthread_mutex_lock(&j->lock);
    out->last_seq = j->written_seq;
    out->synced_seq = j->synced_seq;
    out->syncs = j->syncs;
    out->bytes = j->bytes;
    out->segments = j->nsegs;
    pthread_mutex_unlock(&j->lock);
}

void journal_close(struct journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0 && !j->opt.no_sync)
        fdatasync(j->fd);
    journal_free(j);
}

void journal_test_fail_syncs(struct journal *j)
{
    __atomic_store_n(&j->fail_syncs, 1, __ATOMIC_RELAXED);
}
