/*
 * writer.c -- the batcher's writer thread: it takes everything queued (up
 * to the batch limits) as one group, commits it (commit.c), and
 * acknowledges every write of the group at once.
 *
 * While one group commits, new writes gather in the queue and form the
 * next (leader/follower group commit): under load a group is as large as
 * the time one commit takes. Before taking a group the writer may linger
 * briefly (at most max_delay_us, and never longer than the last commit
 * took) until as many writes are queued as the last group held, so that
 * producers woken by the last acknowledgement make it into the next
 * commit instead of splitting into two half-size groups. Journaled
 * writes, acknowledged already, may gather longer (apply_linger).
 *
 * A producer sleeps on a futex word that the writer bumps once per
 * acknowledged group: one wake-up call per group instead of one per write.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "batcher_int.h"

/* Counts a latency into a histogram of duckpond_latency_bounds_us buckets. */
static void histogram_add(uint64_t *count, uint64_t *sum_us, uint64_t lat)
{
    int k = 0;
    while (k < DUCKPOND_LATENCY_BUCKETS && lat > duckpond_latency_bounds_us[k])
        k++;
    count[k]++;
    *sum_us += lat;
}

/*
 * Counts a processed write into the stats (under b->mu): an acknowledged
 * one into the commit-ack latency, a journaled one into the apply lag.
 */
static void stats_ack(duckpond_batcher *b, const duckpond_write *w, int64_t now_us)
{
    duckpond_batcher_stats *s = &b->stats;
    s->rows_committed += w->committed;
    if (w->nrows)
        s->bytes_committed += (uint64_t)((double)w->bytes * (double)w->committed / (double)w->nrows);
    s->queue_rows -= w->nrows;
    s->queue_bytes -= w->bytes;
    uint64_t lat = now_us > w->submit_us ? (uint64_t)(now_us - w->submit_us) : 0;
    if (w->internal) {
        histogram_add(s->apply_lag_count, &s->apply_lag_sum_us, lat);
        if (w->failed)
            batcher_journal_failed_after_ack(b, w);
        return;
    }
    s->writes_acked++;
    s->rows_failed += w->failed;
    histogram_add(s->latency_count, &s->latency_sum_us, lat);
}

duckpond_write *batcher_free_internal(duckpond_write *batch)
{
    duckpond_write *keep = NULL, **tail = &keep;
    for (duckpond_write *w = batch, *next; w; w = next) {
        next = w->next;
        if (w->internal) { /* its producer was acknowledged long ago */
            batcher_write_free_parts(w);
            continue;
        }
        *tail = w;
        tail = &w->next;
    }
    *tail = NULL;
    return keep;
}

/* Takes the queued writes for one batch, up to the batch limits (under b->mu). */
static duckpond_write *take_batch(duckpond_batcher *b, size_t *nwrites)
{
    *nwrites = 0;
    duckpond_write *first = b->head, *last = NULL;
    size_t rows = 0, bytes = 0;
    while (b->head && (!last || (rows + b->head->nrows <= b->set.batch_max_rows &&
                                 bytes + b->head->bytes <= b->set.batch_max_bytes))) {
        last = b->head;
        rows += last->nrows;
        bytes += last->bytes;
        b->head = last->next;
        (*nwrites)++;
    }
    b->queued_writes -= *nwrites;
    b->queued_rows -= rows;
    if (!b->head)
        b->tail = NULL;
    if (last)
        last->next = NULL;
    return first;
}

/*
 * Acknowledges a committed batch: marks every write done, then wakes all
 * their producers with one futex call (rather than one wake-up per write,
 * which at 64 producers cost more than the commit). A producer may free
 * its write as soon as it sees W_DONE, so w is not touched after that.
 */
static void ack_batch(duckpond_batcher *b, duckpond_write *batch)
{
    for (duckpond_write *w = batch, *next; w; w = next) {
        next = w->next;
        __atomic_store_n(&w->state, W_DONE, __ATOMIC_SEQ_CST);
    }
    /* seq_cst against write_wait's waiters++ / state re-check: either it
     * sees W_DONE, or we see it waiting (and its futex sees the new seq). */
    __atomic_add_fetch(&b->ack_seq, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&b->ack_waiters, __ATOMIC_SEQ_CST))
        syscall(SYS_futex, &b->ack_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * Lingers (under b->mu) before taking a batch while fewer writes are
 * queued than the group is expected to hold: the producers acknowledged
 * by the last commit are on their way back, and a commit costs about the
 * same for 1 row as for 60. Waits at most max_delay_us and never longer
 * than the last commit took; a lone producer (expected group of 1) never
 * waits.
 */
static void linger(duckpond_batcher *b)
{
    if (b->queued_writes >= b->expect_writes || b->queued_rows >= b->set.batch_max_rows)
        return;
    int64_t us = b->last_commit_us < b->set.max_delay_us ? b->last_commit_us : b->set.max_delay_us;
    if (us <= 0)
        return;
    struct timespec until = dp_deadline_us(CLOCK_MONOTONIC, us);
    b->want_writes = b->expect_writes;
    b->writer_idle = true;
    while (!b->stopping && !b->held && b->queued_writes < b->expect_writes &&
           b->queued_rows < b->set.batch_max_rows)
        if (pthread_cond_timedwait(&b->work, &b->mu, &until) == ETIMEDOUT)
            break;
    b->want_writes = 1;
}

/*
 * Journaled writes are acknowledged already: the writer lets them gather
 * (under b->mu) for up to journal_apply_delay_ms after the oldest one
 * arrived, so that DuckDB commits fewer, larger groups (each commit costs
 * CPU and an fsync that compete with the journal's own). It goes at once
 * when a batch's worth of rows is queued, when a reader waits to see its
 * own writes, when another write waits behind them, or at stop.
 */
static void apply_linger(duckpond_batcher *b)
{
    int64_t delay_us = (int64_t)b->set.journal_apply_delay_ms * 1000;
    if (delay_us <= 0)
        return;
    int64_t at = b->head->submit_us + delay_us - dp_now_us();
    if (at <= 0)
        return;
    struct timespec until = dp_deadline_us(CLOCK_MONOTONIC, at);
    b->want_writes = SIZE_MAX;
    b->writer_idle = true;
    while (!b->stopping && !b->held && !b->apply_waiters && !b->direct_queued &&
           b->queued_rows < b->set.batch_max_rows)
        if (pthread_cond_timedwait(&b->work, &b->mu, &until) == ETIMEDOUT)
            break;
    b->want_writes = 1;
}

/* Commits one batch taken from the queue and acknowledges it (b->mu held on entry and exit). */
static void writer_round(duckpond_batcher *b)
{
    size_t nwrites;
    duckpond_write *batch = take_batch(b, &nwrites);
    if (!b->head)
        b->direct_queued = false;
    pthread_mutex_unlock(&b->mu);

    b->batch_commits = 0;
    int64_t start = dp_now_us();
    batcher_commit_batch(b, batch);
    int64_t now = dp_now_us();

    pthread_mutex_lock(&b->mu);
    b->last_commit_us = now - start;
    /* the next group: this one's producers coming back, plus those queued meanwhile */
    b->expect_writes = nwrites + b->queued_writes;
    b->stats.commits += b->batch_commits;
    for (duckpond_write *w = batch; w; w = w->next)
        stats_ack(b, w, now);
    batcher_publish_applied(b);
    pthread_cond_broadcast(&b->room);
    pthread_mutex_unlock(&b->mu);
    ack_batch(b, batcher_free_internal(batch));
    batcher_journal_recycle(b, false);
    pthread_mutex_lock(&b->mu);
}

void *batcher_writer_main(void *arg)
{
    duckpond_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->stopping && !b->bars_req && (b->held || !b->head)) {
            b->writer_idle = true;
            pthread_cond_wait(&b->work, &b->mu);
        }
        if (b->bars_req) { /* between two groups, so that none commits half before it */
            batcher_bars_serve(b);
            continue;
        }
        if (b->head && !b->stopping && b->head->internal && b->head->jseq)
            apply_linger(b);
        else if (b->head && !b->stopping)
            linger(b);
        b->writer_idle = false;
        if (b->held && !b->stopping)
            continue;
        if (!b->head)
            break; /* stopping, and everything is acknowledged */
        writer_round(b);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}
