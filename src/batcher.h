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

#endif
