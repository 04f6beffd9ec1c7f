/*
 * journal.h -- the ingest journal: an append-only, checksummed log of
 * accepted writes in front of the database, so that a write can be
 * acknowledged once it is on disk, long before DuckDB commits it.
 */
#ifndef DUCKPOND_JOURNAL_H
#define DUCKPOND_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct journal;

struct journal_options {
    size_t segment_bytes; /* start a new segment past this size; 0 = 64 MiB */
    int no_sync;          /* tests only: skip fdatasync */
};

/* Called for each whole record found on open with seq > the applied seq. */
typedef int (*journal_replay_fn)(void *arg, uint64_t seq, const void *payload, size_t len);

/*
 * Opens (creating if needed) the journal directory dir. Every segment is
 * read and checked; each valid record with seq > applied_seq is handed to
 * replay (may be NULL) in order. A torn or corrupt tail of the last segment
 * is cut off at the last whole record; a corrupt record elsewhere is
 * skipped; a missing range of sequence numbers above applied_seq is
 * reported. What was found and done is written to report (always NUL-
 * terminated). Returns 0, or non-zero with the reason in report when the
 * journal cannot be used (or replay returned non-zero).
 */
int journal_open(const char *dir, const struct journal_options *opt, uint64_t applied_seq,
                 journal_replay_fn replay, void *arg, struct journal **out, char *report,
                 size_t report_len);

/*
 * Appends one record (len <= JOURNAL_MAX_RECORD) and returns its sequence
 * number in *seq. Not yet durable: see journal_sync. Thread-safe. Returns
 * non-zero (DUCKPOND_IO) with journal_errmsg set if the write failed; a
 * failed write leaves no partial record behind, and a journal whose state
 * is unknown (failed fsync, failed truncate) refuses all further appends.
 */
#define JOURNAL_MAX_RECORD ((size_t)256 << 20)
int journal_append(struct journal *j, const void *payload, size_t len, uint64_t *seq);

/*
 * Makes every record up to seq durable. Group commit: one caller runs
 * fdatasync for everything appended so far while the others wait for it.
 * Thread-safe. Non-zero (DUCKPOND_IO) if the sync failed.
 */
int journal_sync(struct journal *j, uint64_t seq);

/* Deletes whole segments whose records all have seq <= applied_seq. */
int journal_recycle(struct journal *j, uint64_t applied_seq);

/* The reason of the last failure; owned by j, valid until the next failure. */
const char *journal_errmsg(struct journal *j);

struct journal_stats {
    uint64_t last_seq;     /* highest sequence number appended */
    uint64_t synced_seq;   /* highest durable one */
    uint64_t syncs;        /* fdatasync calls */
    uint64_t bytes;        /* bytes appended since open */
    uint64_t segments;     /* segment files now */
};
void journal_stats_get(struct journal *j, struct journal_stats *out);

void journal_close(struct journal *j);

/* Tests only: every later fdatasync of j reports EIO, as a failing disk would. */
void journal_test_fail_syncs(struct journal *j);

#endif
