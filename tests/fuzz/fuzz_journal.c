/*
 * fuzz_journal.c -- libFuzzer driver for the journal: the record codec
 * (a write as a journal record, codec.c) and the segment scan that
 * recovery runs (journal.c).
 *
 * Bit 0 of the first byte picks what the rest is:
 *  - 0, a record: decoded into a write (batcher_decode); one that decodes
 *    must encode to a record that decodes and encodes to the same bytes.
 *  - 1, a journal: the rest is cut into records at each 0xFF byte,
 *    appended to a fresh journal, whose segment is then damaged as the
 *    last 8 bytes say (a cut and a run of changed bytes), and opened
 *    again. Every record replayed must be one that was appended, byte for
 *    byte, under its own number; each is decoded too, as replay does.
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batcher.h"
#include "duckpond.h"
#include "journal.h"

#define MAX_RECORDS 64

static char dir[] = "/tmp/fuzz_journal.XXXXXX", jdir[64];
static duckpond_db *db;
static duckpond_batcher *batcher;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[96];
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/db.duckdb", dir);
    snprintf(jdir, sizeof jdir, "%s/journal", dir);
    if (duckpond_open(path, NULL, &db) != DUCKPOND_OK ||
        duckpond_batcher_new(db, NULL, &batcher) != DUCKPOND_OK)
        abort();
    return 0;
}

/* Decodes a record; one that decodes encodes to a record that gives the same bytes again. */
static void codec_roundtrip(const void *rec, size_t len)
{
    duckpond_write *w = NULL, *again = NULL;
    char *msg = NULL;
    void *enc = NULL, *enc2 = NULL;
    size_t n = 0, n2 = 0;
    if (batcher_decode(batcher, rec, len, &w, &msg) != DUCKPOND_OK) {
        if (!msg)
            abort(); /* a refusal says why */
        free(msg);
        return;
    }
    if (batcher_encode(w, &enc, &n) != DUCKPOND_OK ||
        batcher_decode(batcher, enc, n, &again, &msg) != DUCKPOND_OK ||
        batcher_encode(again, &enc2, &n2) != DUCKPOND_OK || n != n2 || memcmp(enc, enc2, n) != 0)
        abort();
    free(enc);
    free(enc2);
    duckpond_write_free(w);
    duckpond_write_free(again);
}

/* Removes the journal directory's files. */
static void clear_journal(void)
{
    DIR *d = opendir(jdir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

struct appended {
    const uint8_t *p[MAX_RECORDS];
    size_t len[MAX_RECORDS];
    uint64_t seq[MAX_RECORDS];
    int n;
};

/* A record replayed at reopen: it must be one appended, whole, under its number. */
static int replayed(void *arg, uint64_t seq, const void *payload, size_t len)
{
    const struct appended *a = arg;
    int i = 0;
    while (i < a->n && a->seq[i] != seq)
        i++;
    if (i == a->n || a->len[i] != len || (len && memcmp(a->p[i], payload, len) != 0))
        abort();
    codec_roundtrip(payload, len);
    return 0;
}

/* Damages the one segment: cut at cut (if inside), then flip bytes at at..at+run. */
static void damage(size_t cut, size_t at, size_t run, uint8_t with)
{
    DIR *d = opendir(jdir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDWR);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0)
            abort();
        size_t size = (size_t)st.st_size;
        for (size_t i = 0; size && i < run; i++) {
            uint8_t b;
            off_t off = (off_t)((at + i) % size);
            if (pread(fd, &b, 1, off) != 1)
                abort();
            b ^= with;
            if (pwrite(fd, &b, 1, off) != 1)
                abort();
        }
        if (cut < size && ftruncate(fd, (off_t)cut) != 0)
            abort();
        close(fd);
    }
    if (d)
        closedir(d);
}

static void journal_cycle(const uint8_t *data, size_t size)
{
    if (size < 8)
        return;
    const uint8_t *ctl = data + size - 8;
    size -= 8;
    struct appended a = {.n = 0};
    for (size_t from = 0; from <= size && a.n < MAX_RECORDS;) {
        const uint8_t *ff = memchr(data + from, 0xFF, size - from);
        size_t to = ff ? (size_t)(ff - data) : size;
        a.p[a.n] = data + from;
        a.len[a.n++] = to - from;
        from = to + 1;
    }
    clear_journal();
    struct journal_options opt = {.no_sync = 1, .segment_bytes = 4096};
    struct journal *j;
    char report[512];
    if (journal_open(jdir, &opt, 0, NULL, NULL, &j, report, sizeof report) != 0)
        abort();
    for (int i = 0; i < a.n; i++)
        if (journal_append(j, a.p[i], a.len[i], &a.seq[i]) != 0)
            abort();
    journal_close(j);
    damage((size_t)ctl[0] << 8 | ctl[1], (size_t)ctl[2] << 8 | ctl[3], ctl[4] % 16, ctl[5] | 1);
    uint64_t applied = ctl[6] % 4;
    if (journal_open(jdir, &opt, applied, replayed, &a, &j, report, sizeof report) == 0)
        journal_close(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    if (data[0] & 1) {
        journal_cycle(data + 1, size - 1);
        return 0;
    }
    /* an exact-length copy: a read past the record shows */
    void *rec = malloc(size - 1 ? size - 1 : 1);
    memcpy(rec, data + 1, size - 1);
    codec_roundtrip(rec, size - 1);
    free(rec);
    return 0;
}
