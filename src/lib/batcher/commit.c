/*
 * commit.c -- one group of writes into DuckDB transactions, with every
 * failure isolated to the rows that caused it.
 *
 * A group is checked (check.c), then its good rows are committed at once:
 * through the batch scan's prepared INSERTs (scan.c), or, for a table too
 * wide for it, through Appenders (append.c). A group for one table, with
 * no DEFAULT values, is committed by its INSERT (or the Appender's flush)
 * alone; others inside BEGIN ... COMMIT, so that a group spanning tables
 * is atomic.
 *
 * What only DuckDB can see fails the whole group's transaction: a value
 * its cast refuses (the batch scan hands DuckDB the values our conversion
 * cannot decide), PRIMARY KEY, NOT NULL, CHECK. After the first failure
 * of a group, one query per target finds the values DuckDB's cast refuses
 * and fails their rows alone (check.c), and the group is tried again.
 * Should it fail still, the writer bisects: each half is retried in its
 * own transaction, and halves keep splitting (down to single rows, or
 * single writes for DUCKPOND_WRITE_ATOMIC) until every good row is
 * committed and every guilty one failed alone, with DuckDB's message. A
 * journaled write's rows are committed with its sequence number in the
 * same transaction (journaled.c), so that a crash between two commits
 * replays exactly what was not applied.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batcher_int.h"

const char *const batcher_tx_sql[3] = {"BEGIN TRANSACTION", "COMMIT", "ROLLBACK"};

/* Rows below which one Appender never flushes by itself (DuckDB's is 204800). */
#define AUTOCOMMIT_MAX_ROWS 100000

int batcher_writer_exec(duckpond_batcher *b, const char *sql, char **msg)
{
    int rc = duckpond_exec(b->conn, sql);
    if (rc != DUCKPOND_OK && msg)
        *msg = strdup(duckpond_conn_errmsg(b->conn));
    return rc;
}

/* Prepared once in batcher_new: parsing BEGIN costs as much as a small flush. */
int batcher_writer_tx(duckpond_batcher *b, enum tx_verb verb, char **msg)
{
    duckdb_result res;
    if (duckdb_execute_prepared(b->tx_stmt[verb], &res) == DuckDBError) {
        int rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        if (msg)
            *msg = strdup(duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
    }
    duckdb_destroy_result(&res);
    return DUCKPOND_OK;
}

size_t batcher_seg_rows(const struct seg *s)
{
    size_t n = 0;
    for (size_t r = s->lo; r < s->hi; r++)
        n += !s->w->bad[r];
    return n;
}

/*
 * Whether segs can be committed by one Appender flush alone, with no
 * BEGIN/COMMIT around it (cheaper): one target, no DEFAULT masks, and too
 * few rows for the Appender to flush part of them early.
 */
static bool single_flush(const struct seg *segs, size_t n)
{
    size_t rows = 0;
    for (size_t s = 0; s < n; s++) {
        if (segs[s].w->tgt != segs[0].w->tgt || segs[s].w->has_default)
            return false;
        rows += segs[s].hi - segs[s].lo;
    }
    return rows <= AUTOCOMMIT_MAX_ROWS;
}

/* Counts a commit of the writer (that made seq applied, if not 0). */
static void committed_one(duckpond_batcher *b, uint64_t seq)
{
    b->batch_commits++;
    if (seq)
        b->db_applied_seq = seq;
    if (b->exit_after_commits && --b->exit_after_commits == 0)
        _exit(0); /* tests only: a crash right after this commit */
}

/* After a failed attempt: whether the writer's targets may be stale. */
static void attempt_failed(duckpond_batcher *b, int rc)
{
    if (rc != DUCKPOND_CONSTRAINT && rc != DUCKPOND_CONFLICT)
        b->drop_targets = true; /* the schema may have changed under us */
}

/*
 * try_commit by the batch scan: one INSERT per target (inside BEGIN ...
 * COMMIT when there are several, or a journal number to store; else the
 * INSERT alone, which DuckDB commits by itself).
 */
static int scan_commit(duckpond_batcher *b, const struct seg *segs, size_t n, uint64_t seq, char **msg)
{
    bool in_tx = seq != 0 || b->probing;
    for (size_t s = 0; s < n && !in_tx;
         s++) /* rows with DEFAULTs, or a flush of live bars: several statements */
        in_tx = segs[s].w->tgt != segs[0].w->tgt || segs[s].w->has_default ||
                batcher_bars_due(segs[s].w->tgt);
    int rc = in_tx ? batcher_writer_tx(b, TX_BEGIN, msg) : DUCKPOND_OK;
    if (rc != DUCKPOND_OK)
        return rc;
    uint64_t mark = ++b->sc.attempts;
    for (size_t s = 0; s < n && rc == DUCKPOND_OK; s++) {
        struct target *t = segs[s].w->tgt;
        if (t->mark == mark)
            continue;
        t->mark = mark;
        rc = batcher_scan_insert(&b->sc, t, segs + s, n - s, msg);
    }
    if (rc == DUCKPOND_OK && seq)
        rc = batcher_store_applied_seq(b, seq, msg);
    if (rc == DUCKPOND_OK && b->probing)
        return batcher_writer_tx(b, TX_ROLLBACK, msg);
    if (rc == DUCKPOND_OK && in_tx && (rc = batcher_writer_tx(b, TX_COMMIT, msg)) != DUCKPOND_OK)
        in_tx = false; /* a failed COMMIT ends the transaction */
    if (rc != DUCKPOND_OK) {
        if (in_tx)
            batcher_writer_tx(b, TX_ROLLBACK, NULL);
        attempt_failed(b, rc);
        return rc;
    }
    committed_one(b, seq);
    return DUCKPOND_OK;
}

/*
 * One transaction holding the good rows of segs[0..n): BEGIN, append,
 * flush every appender used, COMMIT (or, for one appender, the flush
 * alone, which DuckDB commits as one transaction). Returns DUCKPOND_OK, or
 * the failure's class with DuckDB's message in *msg and nothing written.
 */
static int try_commit(duckpond_batcher *b, const struct seg *segs, size_t n, char **msg)
{
    uint64_t seq = b->probing ? 0 : batcher_seq_after(b, segs, n);
    if (batcher_scan_fits(&b->sc, segs, n))
        return scan_commit(b, segs, n, seq, msg);
    for (size_t s = 0; s < n; s++)
        if (segs[s].w->tgt->nbars) { /* only the batch scan merges into bars */
            *msg = dp_asprintf("table \"%s\" has live bars, and its rows cannot go through the batch scan",
                               segs[s].w->tgt->stored.table);
            return DUCKPOND_ERROR;
        }
    batcher_check_segs_whole(b, segs, n); /* a failed Appender call cannot be taken back */
    bool in_tx = seq || b->probing || !single_flush(segs, n);
    int rc = in_tx ? batcher_writer_tx(b, TX_BEGIN, msg) : DUCKPOND_OK;
    if (rc != DUCKPOND_OK)
        return rc;
    if ((rc = batcher_append_segs(b, segs, n, msg)) != DUCKPOND_OK ||
        (rc = batcher_append_flush(b, msg)) != DUCKPOND_OK)
        goto fail;
    if (seq && (rc = batcher_store_applied_seq(b, seq, msg)) != DUCKPOND_OK)
        goto fail;
    if (b->probing) { /* the rows went in: take them back out */
        batcher_append_discard(b, true);
        return DUCKPOND_OK;
    }
    rc = in_tx ? batcher_writer_tx(b, TX_COMMIT, msg) : DUCKPOND_OK;
    if (rc != DUCKPOND_OK) {
        in_tx = false; /* a failed COMMIT ends the transaction */
        goto fail;
    }
    batcher_append_done(b);
    committed_one(b, seq);
    return DUCKPOND_OK;
fail:
    batcher_append_discard(b, in_tx);
    attempt_failed(b, rc);
    return rc;
}

/* Fails the good rows of a segment (the whole write, if atomic). msg is copied. */
static void seg_fail(struct seg *s, int status, const char *msg)
{
    duckpond_write *w = s->w;
    if (w->flags & DUCKPOND_WRITE_ATOMIC) {
        batcher_write_fail_all(w, status, msg ? strdup(msg) : NULL);
        return;
    }
    for (size_t r = s->lo; r < s->hi; r++) {
        if (w->bad[r])
            continue;
        w->bad[r] = 1;
        batcher_write_fail_row(w, r, status,
                               dp_asprintf("row %zu: %s", r, msg ? msg : duckpond_strerror(status)));
    }
}

/* Whether a failure may be one row's fault, so that bisecting can isolate it. */
static bool row_fault(int rc)
{
    return rc == DUCKPOND_CONSTRAINT || rc == DUCKPOND_CONVERSION || rc == DUCKPOND_CONFLICT ||
           rc == DUCKPOND_ERROR;
}

static void commit_segs(duckpond_batcher *b, struct seg *segs, size_t n);

/*
 * A journaled write whose rows fail in part. Its good rows must commit in
 * one transaction, with its sequence number: committed in pieces, a crash
 * between two pieces would leave the first applied and the record still
 * unapplied, to be replayed whole. So the guilty rows are found by trial
 * transactions that are rolled back (the same bisection), and the rest
 * then commits at once. Should that commit fail too (another transaction
 * changed what the trials saw), the pieces commit one by one as for other
 * writes.
 */
static void commit_journaled_rows(duckpond_batcher *b, struct seg *seg)
{
    b->journaled_split = true;
    b->probing = true;
    commit_segs(b, seg, 1);
    b->probing = false;
    if (batcher_seg_rows(seg) > 0)
        commit_segs(b, seg, 1);
    b->journaled_split = false;
}

/* Fails segs[0..n) for a failure no bisection can isolate; an invalidated database fails everything after. */
static void fail_segs(duckpond_batcher *b, struct seg *segs, size_t n, int rc, const char *msg)
{
    if (rc == DUCKPOND_INVALIDATED && !b->fatal) {
        pthread_mutex_lock(&b->mu);
        b->fatal = rc;
        b->fatal_msg = msg ? strdup(msg) : NULL;
        pthread_mutex_unlock(&b->mu);
    }
    for (size_t s = 0; s < n; s++)
        seg_fail(&segs[s], rc, msg ? msg : b->fatal_msg);
}

/*
 * Commits the good rows of segs[0..n), isolating failures: a failed group
 * is split in two and each half committed on its own, down to one write
 * (atomic) or one row, which then fails alone with DuckDB's message.
 */
static void commit_segs(duckpond_batcher *b, struct seg *segs, size_t n)
{
    char *msg = NULL;
    int rc = DUCKPOND_OK;
    for (int attempt = 0; attempt < 5; attempt++) {
        free(msg);
        msg = NULL;
        rc = b->fatal ? b->fatal : try_commit(b, segs, n, &msg);
        /* Values DuckDB's cast refused: their rows fail now, the others go again. */
        if (rc != DUCKPOND_OK && row_fault(rc) && !b->fatal && batcher_check_failed_casts(b, segs, n)) {
            attempt--;
            continue;
        }
        /* A conflict on one unit is another transaction's doing: retry it. */
        if (rc != DUCKPOND_CONFLICT || n > 1 || batcher_seg_rows(segs) > 1)
            break;
    }
    bool atomic = segs->w->flags & DUCKPOND_WRITE_ATOMIC;
    if (rc == DUCKPOND_OK) {
        for (size_t s = 0; s < n && !b->probing; s++)
            segs[s].w->committed += batcher_seg_rows(&segs[s]);
    } else if (rc == DUCKPOND_INVALIDATED || !row_fault(rc) || b->fatal) {
        fail_segs(b, segs, n, rc, msg);
    } else if (n > 1) {
        commit_segs(b, segs, n / 2);
        commit_segs(b, segs + n / 2, n - n / 2);
    } else if (!atomic && batcher_seg_rows(segs) > 1 && segs->w->jseq && !b->journaled_split) {
        commit_journaled_rows(b, segs);
    } else if (!atomic && batcher_seg_rows(segs) > 1) {
        size_t mid = segs->lo + (segs->hi - segs->lo) / 2;
        struct seg halves[2] = {{segs->w, segs->lo, mid}, {segs->w, mid, segs->hi}};
        commit_segs(b, &halves[0], 1);
        commit_segs(b, &halves[1], 1);
    } else {
        seg_fail(segs, rc, msg);
    }
    free(msg);
}

static int fail_cmp(const void *a, const void *b)
{
    size_t x = ((const struct wfail *)a)->row, y = ((const struct wfail *)b)->row;
    return (x > y) - (x < y);
}

void batcher_commit_batch(duckpond_batcher *b, duckpond_write *list)
{
    size_t n = 0, nsegs = 0;
    for (duckpond_write *w = list; w; w = w->next)
        n++;
    batcher_targets_refresh(b);
    b->batches++; /* the targets' scratch of older batches is stale */
    b->casts_probed = false;
    struct seg *segs = calloc(n, sizeof *segs);
    if (!batcher_jbatch_fill(b, list, n)) {
        free(segs);
        segs = NULL;
    }
    for (duckpond_write *w = list; w; w = w->next) {
        if (b->fatal)
            batcher_write_fail_all(w, b->fatal, strdup(b->fatal_msg ? b->fatal_msg : "database failed"));
        else if (!segs)
            batcher_write_fail_all(w, DUCKPOND_NOMEM, NULL);
        else if (batcher_check_write(b, w))
            segs[nsegs++] = (struct seg){w, 0, w->nrows};
    }
    if (nsegs)
        commit_segs(b, segs, nsegs);
    free(segs);
    batcher_jbatch_finish(b);
    for (duckpond_write *w = list; w; w = w->next) {
        batcher_marks_release(w);
        w->tgt = NULL;
        if (w->nfails > 1)
            qsort(w->fails, w->nfails, sizeof *w->fails, fail_cmp);
    }
    if (b->drop_targets) {
        batcher_targets_drop(b);
        b->drop_targets = false;
    }
}
