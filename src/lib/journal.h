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

/*
 * A record on its way to disk: filled by journal_put, completed by the
 * flush that writes it. Owned by the caller (often on its stack) until
 * journal_wait returns.
 */
struct journal_ticket {
    void *cookie; /* the caller's, handed to on_durable */
    size_t len;   /* payload bytes */
    uint64_t seq; /* its sequence number, once written */
    int status;   /* once done: 0, or DUCKPOND_IO */
    int written;  /* once done: it reached the file (its number is taken) */
    int done;
    uint64_t batch; /* the flush that takes it */
};

/*
 * Called by the flushing thread once records are durable, in sequence
 * order (no two calls at once), before their waiters wake: n tickets with
 * their seq set. It must not call back into the journal.
 */
typedef void (*journal_durable_fn)(void *arg, struct journal_ticket *const *tickets, size_t n);

struct journal_options {
    size_t segment_bytes;          /* start a new segment past this size; 0 = 64 MiB */
    int no_sync;                   /* tests only: skip fdatasync */
    journal_durable_fn on_durable; /* may be NULL */
    void *arg;
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
                 journal_replay_fn replay, void *arg, struct journal **out, char *report, size_t report_len);

/*
 * Copies one record (len <= JOURNAL_MAX_RECORD) into the journal's buffer
 * and returns at once; no system call. journal_wait(tk) then makes it
 * durable. cookie is handed to on_durable. Thread-safe. DUCKPOND_IO at
 * once from a journal whose state is unknown (failed fsync, failed
 * truncate): it refuses all further records.
 */
#define JOURNAL_MAX_RECORD ((size_t)256 << 20)
int journal_put(struct journal *j, const void *payload, size_t len, void *cookie, struct journal_ticket *tk);

/*
 * Waits until tk's record is written and synced. Group commit: the first
 * waiter that finds no flush running writes every record put so far with
 * one pwrite and one fdatasync while the others sleep. Returns 0 with
 * tk->seq set, or DUCKPOND_IO with journal_errmsg set: if !tk->written
 * the record could not be written (disk full...), took no number and left
 * nothing behind; if written, the fdatasync failed and it may or may not
 * be on disk.
 */
int journal_wait(struct journal *j, struct journal_ticket *tk);

/* journal_put and journal_wait in one: a durable record, its number in *seq. */
int journal_append(struct journal *j, const void *payload, size_t len, uint64_t *seq);

/* DUCKPOND_OK if every record up to seq is durable, else DUCKPOND_IO. */
int journal_sync(struct journal *j, uint64_t seq);

/* Deletes whole segments whose records all have seq <= applied_seq. */
int journal_recycle(struct journal *j, uint64_t applied_seq);

/* The reason of the last failure; owned by j, valid until the next failure. */
const char *journal_errmsg(struct journal *j);

struct journal_stats {
    uint64_t last_seq;   /* highest sequence number appended */
    uint64_t synced_seq; /* highest durable one */
    uint64_t syncs;      /* fdatasync calls */
    uint64_t sync_us;    /* time spent in them */
    uint64_t bytes;      /* bytes appended since open */
    uint64_t segments;   /* segment files now */
};
void journal_stats_get(struct journal *j, struct journal_stats *out);

void journal_close(struct journal *j);

/* Tests only: every later fdatasync of j reports EIO, as a failing disk would. */
void journal_test_fail_syncs(struct journal *j);

#endif
