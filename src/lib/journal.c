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
 * payload. Sequence numbers increase by one across segments.
 *
 * Group commit (PostgreSQL's WAL writer, in small): journal_put copies a
 * record into an in-memory buffer under a short lock. One flusher thread
 * per journal takes the whole buffer, numbers its records, writes them
 * with one pwrite and one fdatasync, hands them (in sequence order) to the
 * on_durable callback, marks each ticket done and wakes that flush's
 * waiters with one futex call; waiters sleep on futex words, never on the
 * lock. The flusher goes straight from one flush to the next (no hand-off
 * to a woken thread), and before a flush it may gather briefly: while
 * fewer records are pending than the last flush held plus those that came
 * meanwhile -- the writers it just acknowledged are on their way back --
 * it waits for them, never longer than the last fdatasync took. A lone
 * writer never waits.
 *
 * Segments are filled with zeros ahead of the records (a MiB at a time),
 * so that an fdatasync writes the records' blocks only, not the file's
 * size and block map as well (on this class of disk about a quarter of
 * its cost). A run of zeros where a record should start is the clean end
 * of a segment; a segment is cut to its records when it is closed.
 *
 * Numbers are given at write time, so a record that could not be written
 * (disk full) takes no number and leaves nothing behind. A failed
 * fdatasync poisons the journal: after one, the kernel may have dropped
 * the dirty pages, so nothing more is acknowledged until the server
 * restarts and replays.
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <limits.h>
#include <linux/futex.h>
#include <unistd.h>

#include "duckpond.h"
#include "dbint.h"
#include "journal.h"

#define JOURNAL_MAGIC 0x314A5044u /* "DPJ1" little-endian */
#define HEADER_BYTES 24
#define ZERO_AHEAD ((off_t)1 << 20) /* zeros written past the records at a time */
#define GATHER_MAX_US 1000          /* the longest a flush waits for records to gather */

struct segment {
    uint64_t name_seq; /* the number in its file name */
    uint64_t last_seq; /* its highest record; 0 when it has none */
};

/* Records put but not yet written: their bytes (headers filled at write time) and tickets. */
struct pending {
    unsigned char *buf;
    size_t len, cap;
    struct journal_ticket **tickets;
    size_t n, cap_tickets;
};

struct journal {
    char *dir;
    int dirfd;
    struct journal_options opt;
    pthread_mutex_t lock;
    int fd;               /* the last segment, open for appending */
    off_t size;           /* where its records end */
    off_t zeroed;         /* zeros are written from size up to here */
    uint64_t written_seq; /* highest written (and, once a flush ends, durable) */
    uint64_t synced_seq;  /* highest durable */
    struct pending pend;  /* under lock: records waiting for the next flush */
    struct pending spare; /* the leader's: the records being flushed */
    uint64_t pend_batch;  /* the number of the flush that will take pend */
    /* Futex words, one per parity of flush number: a waiter sleeps on its
     * record's flush's word, so that the end of one flush wakes its own
     * waiters only. */
    uint32_t done_gen[2];
    uint32_t waiters[2]; /* threads asleep on each word */
    pthread_t flusher;
    int flusher_started;
    int stopping;       /* under lock: the flusher flushes what is pending and ends */
    uint32_t put_gen;   /* futex word the flusher sleeps on; bumped to wake it */
    int flusher_asleep; /* under lock: it sleeps until want records are pending */
    size_t want;
    int64_t last_sync_us; /* how long the last fdatasync took */
    int broken;           /* state on disk unknown: refuse appends */
    int fail_syncs;       /* tests only: fdatasync reports EIO */
    struct segment *segs;
    size_t nsegs, capsegs;
    uint64_t syncs, sync_us, bytes;
    char errmsg[512];
};

static void *flusher_main(void *arg);

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
    if (dp_grow(&j->segs, &j->capsegs, j->nsegs + 1, sizeof *j->segs) != 0)
        return DUCKPOND_NOMEM;
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
    size_t cap = 0;
    uint64_t *firsts = NULL;
    bool nomem = false;
    *n = 0;
    struct dirent *e;
    while (!nomem && (e = readdir(d))) {
        uint64_t first;
        char tail[8];
        if (sscanf(e->d_name, "seg-%16" SCNx64 "%7s", &first, tail) != 2 || strcmp(tail, ".log") != 0)
            continue;
        if (!(nomem = dp_grow(&firsts, &cap, *n + 1, sizeof *firsts) != 0))
            firsts[(*n)++] = first;
    }
    closedir(d);
    if (nomem) {
        free(firsts);
        return DUCKPOND_NOMEM;
    }
    if (*n)
        qsort(firsts, *n, sizeof *firsts, cmp_u64);
    *out = firsts; /* NULL for none */
    return DUCKPOND_OK;
}

/* ---- scanning on open ---- */

struct scan {
    struct journal *j;
    uint64_t applied_seq;
    uint64_t expected; /* the next seq we expect; 0 = none seen yet */
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

/* Are bytes off..size of base all zero (space written ahead of records)? */
static int zero_tail(const unsigned char *base, size_t size, size_t off)
{
    while (off < size && base[off] == 0)
        off++;
    return off == size;
}

/* Notes a hole in the sequence numbers before seq, if it matters. */
static void check_gap(struct scan *s, uint64_t seq, const char *where)
{
    if (s->expected && seq > s->expected && seq - 1 > s->applied_seq) {
        uint64_t from = s->expected > s->applied_seq ? s->expected : s->applied_seq + 1;
        appendf(s->report, s->report_len, "records %" PRIu64 "-%" PRIu64 " are missing (%s); ", from, seq - 1,
                where);
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
            if (zero_tail(base, size, off))
                break; /* the clean end: zeros written ahead of records */
            size_t next = off + 1;
            while (next < size && !valid_record(base, size, next, &seq, &len))
                next++;
            if (next >= size) {
                size_t end = size; /* not counting the zeros written ahead */
                while (end > off && base[end - 1] == 0)
                    end--;
                if (is_last)
                    appendf(s->report, s->report_len, "torn tail in %s: %zu bytes at offset %zu cut off; ",
                            name, end - off, off);
                else
                    appendf(s->report, s->report_len, "corrupt tail in %s: %zu bytes at offset %zu skipped; ",
                            name, end - off, off);
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
    j->size = j->zeroed = 0;
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
    j->size = j->zeroed = end;
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

/*
 * Cuts the current segment's zeros written ahead, when it is closed. A
 * failure is harmless: zeros past the records read as the segment's end.
 */
static void drop_zeros(struct journal *j)
{
    if (j->fd >= 0 && j->zeroed > j->size && ftruncate(j->fd, j->size) == 0)
        j->zeroed = j->size;
}

/*
 * Writes zeros past the records, ZERO_AHEAD at a time, so that the next
 * len bytes land in blocks the file already has. Best effort: on failure
 * (a full disk) the records extend the file as they would anyway.
 */
static void zero_ahead(struct journal *j, int fd, size_t len)
{
    static const unsigned char zeros[64 << 10];
    off_t want = j->size + (off_t)len;
    if (j->zeroed >= want)
        return;
    off_t until = (want / ZERO_AHEAD + 1) * ZERO_AHEAD;
    off_t at = j->zeroed > j->size ? j->zeroed : j->size;
    while (at < until) {
        size_t n = (size_t)(until - at) < sizeof zeros ? (size_t)(until - at) : sizeof zeros;
        ssize_t w = pwrite(fd, zeros, n, at);
        if (w <= 0)
            break;
        at += w;
    }
    j->zeroed = at;
}

static void journal_free(struct journal *j)
{
    drop_zeros(j);
    if (j->fd >= 0)
        close(j->fd);
    if (j->dirfd >= 0)
        close(j->dirfd);
    pthread_mutex_destroy(&j->lock);
    free(j->pend.buf);
    free(j->pend.tickets);
    free(j->spare.buf);
    free(j->spare.tickets);
    free(j->segs);
    free(j->dir);
    free(j);
}

int journal_open(const char *dir, const struct journal_options *opt, uint64_t applied_seq,
                 journal_replay_fn replay, void *arg, struct journal **out, char *report, size_t report_len)
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
    struct scan s = {.j = j,
                     .applied_seq = applied_seq,
                     .replay = replay,
                     .arg = arg,
                     .report = report,
                     .report_len = report_len};
    int rc = scan_all(j, &s);
    if (rc != DUCKPOND_OK) {
        if (j->errmsg[0])
            appendf(report, report_len, "%s", j->errmsg);
        journal_free(j);
        return rc;
    }
    if (pthread_create(&j->flusher, NULL, flusher_main, j) != 0) {
        appendf(report, report_len, "cannot start the journal's flusher thread");
        journal_free(j);
        return DUCKPOND_NOMEM;
    }
    j->flusher_started = 1;
    appendf(report, report_len,
            "journal %s: %" PRIu64 " records in %zu segments, %" PRIu64 " replayed after %" PRIu64, dir,
            s.records, j->nsegs, s.replayed, applied_seq);
    *out = j;
    return DUCKPOND_OK;
}

/* Starts a new segment once the current one is full (the leader, lock held, all synced). */
static void maybe_roll(struct journal *j)
{
    if ((size_t)j->size < j->opt.segment_bytes)
        return;
    drop_zeros(j);
    close(j->fd);
    j->fd = -1;
    if (create_segment(j, j->written_seq + 1) != DUCKPOND_OK)
        j->broken = 1;
}

/* Makes room for len more bytes and one more ticket in p. */
static int pending_grow(struct pending *p, size_t len)
{
    if (dp_grow(&p->buf, &p->cap, p->len + len, 1) != 0 ||
        dp_grow(&p->tickets, &p->cap_tickets, p->n + 1, sizeof *p->tickets) != 0)
        return DUCKPOND_NOMEM;
    return DUCKPOND_OK;
}

/* Futex-wakes n threads sleeping on *word. */
static void wake(uint32_t *word, int n)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

int journal_put(struct journal *j, const void *payload, size_t len, void *cookie, struct journal_ticket *tk)
{
    if (!j || !tk || (!payload && len) || len > JOURNAL_MAX_RECORD)
        return DUCKPOND_MISUSE;
    *tk = (struct journal_ticket){.cookie = cookie, .len = len};
    pthread_mutex_lock(&j->lock);
    tk->batch = j->pend_batch;
    int rc = j->broken ? DUCKPOND_IO : pending_grow(&j->pend, HEADER_BYTES + len);
    if (rc == DUCKPOND_OK) {
        struct pending *p = &j->pend;
        memset(p->buf + p->len, 0, HEADER_BYTES); /* filled when written */
        if (len)
            memcpy(p->buf + p->len + HEADER_BYTES, payload, len);
        p->len += HEADER_BYTES + len;
        p->tickets[p->n++] = tk;
    }
    bool wake_flusher = rc == DUCKPOND_OK && j->flusher_asleep && j->pend.n >= j->want;
    if (wake_flusher) {
        j->flusher_asleep = 0; /* one wake-up is enough */
        j->put_gen++;
    }
    pthread_mutex_unlock(&j->lock);
    if (wake_flusher)
        wake(&j->put_gen, 1);
    return rc;
}

/* Numbers the records of p from first and fills their headers. */
static void pending_number(struct pending *p, uint64_t first)
{
    size_t off = 0;
    for (size_t i = 0; i < p->n; i++) {
        struct journal_ticket *tk = p->tickets[i];
        uint64_t seq = first + i;
        uint32_t len32 = (uint32_t)tk->len, magic = JOURNAL_MAGIC;
        uint32_t crc = record_crc(len32, seq, p->buf + off + HEADER_BYTES);
        memcpy(p->buf + off, &magic, 4);
        memcpy(p->buf + off + 4, &len32, 4);
        memcpy(p->buf + off + 8, &seq, 8);
        memcpy(p->buf + off + 16, &crc, 4);
        tk->seq = seq;
        off += HEADER_BYTES + tk->len;
    }
}

/* Writes len bytes at off whole; 0, or -1 with errno (0 for a short write). */
static int write_all(int fd, const unsigned char *buf, size_t len, off_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, buf, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = 0;
            return -1;
        }
        buf += n, len -= (size_t)n, off += n;
    }
    return 0;
}

/*
 * Writes and syncs the taken records p at off of fd, without the lock,
 * and hands them to on_durable. DUCKPOND_OK, or DUCKPOND_IO with *written
 * saying whether they reached the file, *err the errno and *cut_failed
 * whether a partial write could not be cut off.
 */
static int flush_write(struct journal *j, struct pending *p, int fd, off_t off, int *written, int *err,
                       int *cut_failed)
{
    *written = *cut_failed = 0;
    if (write_all(fd, p->buf, p->len, off) != 0) {
        *err = errno;
        *cut_failed = ftruncate(fd, off) != 0; /* leave no partial record behind, or stop for good */
        return DUCKPOND_IO;
    }
    *written = 1;
    int64_t start = dp_now_us();
    int r = j->opt.no_sync ? 0 : fdatasync(fd);
    *err = errno;
    j->last_sync_us = dp_now_us() - start;
    if (__atomic_load_n(&j->fail_syncs, __ATOMIC_RELAXED))
        r = -1, *err = EIO;
    if (r != 0)
        return DUCKPOND_IO;
    if (j->opt.on_durable)
        j->opt.on_durable(j->opt.arg, p->tickets, p->n);
    return DUCKPOND_OK;
}

/*
 * The flusher's flush (entered and left with the lock held): takes the
 * pending records, numbers, writes and syncs them (without the
 * lock: appends go on into the spare buffer), hands them to on_durable,
 * and marks their tickets done; the caller wakes their waiters.
 */
static void flush_pending(struct journal *j)
{
    j->pend_batch++;
    struct pending taken = j->pend;
    j->pend = j->spare;
    j->pend.len = j->pend.n = 0;
    j->spare = taken;
    struct pending *p = &j->spare;
    int status = DUCKPOND_IO, written = 0;
    if (p->n && !j->broken)
        maybe_roll(j); /* here rather than after a flush: the last segment is never left empty */
    if (p->n && !j->broken) {
        uint64_t first = j->written_seq + 1;
        off_t off = j->size;
        int fd = j->fd, err = 0, cut_failed;
        pthread_mutex_unlock(&j->lock);
        pending_number(p, first);
        zero_ahead(j, fd, p->len);
        status = flush_write(j, p, fd, off, &written, &err, &cut_failed);
        pthread_mutex_lock(&j->lock);
        if (!written)
            j->zeroed = off; /* the failed write was cut off, zeros and all */
        if (status != DUCKPOND_OK && !written)
            fail(j, "cannot write the journal: %s", err ? strerror(err) : "short write (disk full?)");
        else if (status != DUCKPOND_OK)
            fail(j, "journal fdatasync failed: %s; no further writes are acknowledged", strerror(err));
        j->broken |= cut_failed;
        j->syncs += (uint64_t)written;
        j->sync_us += (uint64_t)j->last_sync_us;
        if (written) { /* on disk, numbered: even a failed sync consumed the numbers */
            j->size = off + (off_t)p->len;
            j->bytes += p->len;
            j->written_seq = first + p->n - 1;
            j->segs[j->nsegs - 1].last_seq = j->written_seq;
            if (status == DUCKPOND_OK)
                j->synced_seq = j->written_seq;
            else
                j->broken = 1;
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        struct journal_ticket *tk = p->tickets[i];
        tk->status = status;
        tk->written = written;
        if (!written)
            tk->seq = 0;
        __atomic_store_n(&tk->done, 1, __ATOMIC_RELEASE);
    }
    p->n = p->len = 0;
}

/*
 * The flusher sleeps (lock held on entry and return) until want records
 * are pending, stopping is set, or timeout_us passes (< 0: no limit).
 */
static void flusher_sleep(struct journal *j, size_t want, int64_t timeout_us)
{
    j->want = want;
    j->flusher_asleep = 1;
    uint32_t gen = j->put_gen;
    pthread_mutex_unlock(&j->lock);
    struct timespec ts = {timeout_us / 1000000, (long)(timeout_us % 1000000) * 1000L};
    syscall(SYS_futex, &j->put_gen, FUTEX_WAIT_PRIVATE, gen, timeout_us < 0 ? NULL : &ts, NULL, 0);
    pthread_mutex_lock(&j->lock);
    j->flusher_asleep = 0;
}

/*
 * The flusher thread: flushes whatever is pending, one flush after the
 * other, gathering before each (see the top of the file); at stop it
 * flushes what is left and ends.
 */
static void *flusher_main(void *arg)
{
    struct journal *j = arg;
    size_t expect = 1; /* records the next flush should hold */
    pthread_mutex_lock(&j->lock);
    for (;;) {
        while (!j->pend.n && !j->stopping)
            flusher_sleep(j, 1, -1);
        if (!j->pend.n)
            break; /* stopping, and nothing is left */
        int64_t deadline = dp_now_us() + (j->last_sync_us < GATHER_MAX_US ? j->last_sync_us : GATHER_MAX_US);
        for (int64_t left; j->pend.n < expect && !j->stopping && (left = deadline - dp_now_us()) > 0;)
            flusher_sleep(j, expect, left);
        size_t taken = j->pend.n;
        int k = (int)(j->pend_batch & 1); /* the parity of the flush taken now */
        flush_pending(j);
        /* this flush's writers coming back, plus those that came meanwhile */
        expect = taken + j->pend.n;
        /* Under the lock, so that a waiter either sees the new word or is counted. */
        __atomic_add_fetch(&j->done_gen[k], 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&j->waiters[k], __ATOMIC_SEQ_CST)) {
            pthread_mutex_unlock(&j->lock);
            wake(&j->done_gen[k], INT_MAX);
            pthread_mutex_lock(&j->lock);
        }
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

int journal_wait(struct journal *j, struct journal_ticket *tk)
{
    if (!j || !tk)
        return DUCKPOND_MISUSE;
    while (!__atomic_load_n(&tk->done, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&j->lock);
        if (__atomic_load_n(&tk->done, __ATOMIC_ACQUIRE)) {
            pthread_mutex_unlock(&j->lock);
            break;
        }
        int k = (int)(tk->batch & 1);
        uint32_t gen = j->done_gen[k];
        __atomic_add_fetch(&j->waiters[k], 1, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&j->lock);
        syscall(SYS_futex, &j->done_gen[k], FUTEX_WAIT_PRIVATE, gen, NULL, NULL, 0);
        __atomic_sub_fetch(&j->waiters[k], 1, __ATOMIC_SEQ_CST);
    }
    return tk->status;
}

int journal_append(struct journal *j, const void *payload, size_t len, uint64_t *seq)
{
    struct journal_ticket tk;
    int rc = journal_put(j, payload, len, NULL, &tk);
    if (rc == DUCKPOND_OK)
        rc = journal_wait(j, &tk);
    if (rc == DUCKPOND_OK && seq)
        *seq = tk.seq;
    return rc;
}

int journal_sync(struct journal *j, uint64_t seq)
{
    if (!j)
        return DUCKPOND_MISUSE;
    pthread_mutex_lock(&j->lock);
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
    out->sync_us = j->sync_us;
    out->bytes = j->bytes;
    out->segments = j->nsegs;
    pthread_mutex_unlock(&j->lock);
}

void journal_close(struct journal *j)
{
    if (!j)
        return;
    if (j->flusher_started) {
        pthread_mutex_lock(&j->lock);
        j->stopping = 1;
        j->put_gen++;
        pthread_mutex_unlock(&j->lock);
        wake(&j->put_gen, 1);
        pthread_join(j->flusher, NULL);
    }
    drop_zeros(j);
    if (j->fd >= 0 && !j->opt.no_sync)
        fdatasync(j->fd);
    journal_free(j);
}

void journal_test_fail_syncs(struct journal *j)
{
    __atomic_store_n(&j->fail_syncs, 1, __ATOMIC_RELAXED);
}
