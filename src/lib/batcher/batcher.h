/*
 * batcher.h -- the ingest batcher's private hooks, for the library's own
 * tests (never for users of the library).
 */
#ifndef DUCKPOND_BATCHER_H
#define DUCKPOND_BATCHER_H

#include "duckpond.h"

/*
 * Holds (hold != 0) or releases the writer thread: while held, the writer
 * takes no new batch, so accepted rows stay queued. Lets a test fill the
 * queue deterministically to see backpressure. A stop releases the hold.
 */
void batcher_hold(duckpond_batcher *b, int hold);

/* Makes the writer end the process (_exit(0)) right after its next n commits, to test crashes. */
void batcher_test_exit_after_commits(duckpond_batcher *b, int n);

/*
 * Values DuckDB cast one statement each, ever: the failure path and the
 * rare journaled value, never the fast path (check.c). For tests of that.
 */
uint64_t batcher_test_values_cast_alone(duckpond_batcher *b);

/* Makes every later fdatasync of b's journal fail (EIO), to test poisoning. */
void batcher_journal_fail_syncs(duckpond_batcher *b);

/*
 * The journal record of a write (all its rows), as a journaled submit
 * writes it; *out is malloc'd. For tests of the record format.
 */
int batcher_encode(const duckpond_write *w, void **out, size_t *len);

/*
 * Rebuilds a write from a journal record: a new, unsubmitted write of b
 * that the caller frees with duckpond_write_free. A record that is
 * malformed or of an unknown version gives DUCKPOND_MISUSE with *msg
 * (malloc'd; the caller frees it) saying why.
 */
int batcher_decode(duckpond_batcher *b, const void *payload, size_t len, duckpond_write **out, char **msg);

#endif
