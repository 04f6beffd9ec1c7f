/*
 * journaled.c -- writes acknowledged by the journal (DUCKPOND_ACK_JOURNAL):
 * submit, the order in which the writer applies them, waiting until they
 * are applied, and replay when a batcher starts.
 *
 * A journaled submit checks its rows on the producer's thread (check.c),
 * encodes the good ones as one record (codec.c), hands the record to the
 * journal with the batcher's own copy of the write, and returns once the
 * record is on disk. The journal's flush then queues the copies, in
 * sequence order, for the writer, which applies them in large groups. The
 * highest sequence number applied is stored in duckpond_journal_state by
 * the same transaction as the rows it covers (batcher_seq_after), so that
 * after a crash replay applies every acknowledged write exactly once.
 * See the JOURNAL part of duckpond.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batcher_int.h"
#include "journal.h"

#define REPLAY_MAX_WRITES 4096
#define REPORT_BYTES 4096

/* ------------------------------------------------------------ submit */

/*
 * The journal's on_durable: queues the batcher's copies of records now on
 * disk, in sequence order, with one lock for the whole flush. Their room
 * was reserved by their producers.
 */
static void journal_durable(void *arg, struct journal_ticket *const *tickets, size_t n)
{
    duckpond_batcher *b = arg;
    int64_t now = dp_now_us();
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < n; i++) {
        duckpond_write *iw = tickets[i]->cookie;
        iw->jseq = tickets[i]->seq;
        iw->internal = true;
        batcher_queue_link(b, iw, now);
        b->stats.journal_writes_acked++;
        b->stats.journal_rows_acked += iw->nrows;
    }
    batcher_queue_poke(b);
    pthread_mutex_unlock(&b->mu);
}

/*
 * The batcher's own copy of w's rows not marked in skip, for the writer:
 * the write batcher_decode rebuilds from w's journal record, made in one
 * allocation (header, values, column pointers, text, names). NULL if out
 * of memory.
 */
static duckpond_write *write_clone(const duckpond_write *w, const uint8_t *skip)
{
    size_t ncols = (size_t)w->ncols, nrows = 0, text = 0, names = strlen(w->table) + 1;
    for (size_t i = 0; i < ncols; i++)
        names += strlen(w->cols[i]) + 1;
    for (size_t r = 0; r < w->nrows; r++) {
        if (skip && skip[r])
            continue;
        nrows++;
        for (size_t i = 0; i < ncols; i++)
            if (w->vals[r * ncols + i].kind == DUCKPOND_VALUE_TEXT)
                text += w->vals[r * ncols + i].len;
    }
    size_t head = sizeof(duckpond_write), vals = nrows * ncols * sizeof(struct bval);
    duckpond_write *c = malloc(head + vals + ncols * sizeof(char *) + text + names);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->b = w->b;
    c->flags = w->flags;
    c->one_block = true;
    c->ncols = w->ncols;
    c->vals = (struct bval *)((char *)c + head);
    c->cols = (char **)((char *)c->vals + vals);
    c->text = (char *)(c->cols + ncols);
    char *p = c->text + text;
    c->table = p;
    p = stpcpy(p, w->table) + 1;
    for (size_t i = 0; i < ncols; i++) {
        c->cols[i] = p;
        p = stpcpy(p, w->cols[i]) + 1;
    }
    for (size_t r = 0; r < w->nrows; r++) {
        if (skip && skip[r])
            continue;
        struct bval *out = c->vals + c->nrows * ncols;
        memcpy(out, w->vals + r * ncols, ncols * sizeof *out);
        size_t row_text = 0;
        for (size_t i = 0; i < ncols; i++) {
            if (out[i].kind == DUCKPOND_VALUE_DEFAULT)
                c->has_default = true;
            if (out[i].kind != DUCKPOND_VALUE_TEXT)
                continue;
            memcpy(c->text + c->text_len, w->text + out[i].u.off, out[i].len);
            out[i].u.off = c->text_len;
            c->text_len += out[i].len;
            row_text += out[i].len;
        }
        c->nrows++;
        c->bytes += ncols * sizeof(struct bval) + row_text;
    }
    c->cap_rows = c->nrows;
    c->text_cap = c->text_len;
    return c;
}

/* Reserves queue room for iw (w's copy); on failure w->errmsg says why. */
static int journal_admit(duckpond_batcher *b, duckpond_write *w, duckpond_write *iw)
{
    pthread_mutex_lock(&b->mu);
    int rc = batcher_admit(b, iw);
    if (rc == DUCKPOND_OK)
        batcher_queue_reserve(b, iw, 1);
    else
        dp_set_msg(&w->errmsg, "%s", iw->errmsg ? iw->errmsg : duckpond_strerror(rc));
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* Gives back the room of a copy that was not journaled, and counts the error. */
static void journal_unreserve(duckpond_batcher *b, duckpond_write *iw)
{
    pthread_mutex_lock(&b->mu);
    batcher_queue_reserve(b, iw, -1);
    b->stats.journal_errors++;
    pthread_cond_broadcast(&b->room);
    pthread_mutex_unlock(&b->mu);
}

/* A journaled submit that failed after its copy iw was reserved; iw is freed. */
static int journal_failed(duckpond_batcher *b, duckpond_write *w, duckpond_write *iw,
                          const struct journal_ticket *tk, int rc)
{
    journal_unreserve(b, iw); /* not queued: the copy is still ours */
    batcher_write_free_parts(iw);
    if (!tk->written) {
        dp_set_msg(&w->errmsg, "%s; the write was not journaled", journal_errmsg(b->journal));
        return rc; /* nothing journaled: the write may be submitted again */
    }
    dp_set_msg(&w->errmsg, "%s; the write is not acknowledged", journal_errmsg(b->journal));
    return batcher_write_finish(w, DUCKPOND_IO);
}

/* A journaled submit whose record is durable as number seq: w is done. */
static int journal_acked(duckpond_batcher *b, duckpond_write *w, uint64_t seq)
{
    w->jseq = seq;
    w->committed = w->nrows - w->failed;
    if (w->failed) {
        pthread_mutex_lock(&b->mu);
        b->stats.rows_failed += w->failed;
        pthread_mutex_unlock(&b->mu);
    }
    return batcher_write_finish(w, 0);
}

int batcher_submit_journaled(duckpond_write *w)
{
    duckpond_batcher *b = w->b;
    if (!b->journal) {
        dp_set_msg(&w->errmsg, "ack mode journal needs a batcher with a journal (journal_dir is not set)");
        return DUCKPOND_MISUSE;
    }
    if (!batcher_check_journaled(b, w))
        return batcher_write_finish(w, 0);
    struct dp_buf rec = DP_BUF_INIT;
    batcher_codec_encode(w, w->bad, &rec);
    duckpond_write *iw = NULL;
    int rc = rec.failed ? DUCKPOND_NOMEM : DUCKPOND_OK;
    if (rc == DUCKPOND_OK && rec.len > JOURNAL_MAX_RECORD) {
        dp_set_msg(&w->errmsg, "write of %zu bytes is larger than a journal record may be", rec.len);
        rc = DUCKPOND_OVERLOADED;
    }
    if (rc == DUCKPOND_OK && !(iw = write_clone(w, w->bad)))
        rc = DUCKPOND_NOMEM;
    if (rc == DUCKPOND_OK && (rc = journal_admit(b, w, iw)) != DUCKPOND_OK) {
        batcher_write_free_parts(iw);
        iw = NULL;
    }
    struct journal_ticket tk = {0};
    if (rc == DUCKPOND_OK && (rc = journal_put(b->journal, rec.data, rec.len, iw, &tk)) != DUCKPOND_OK)
        tk.written = 0;
    dp_buf_free(&rec);
    if (rc == DUCKPOND_OK)
        rc = journal_wait(b->journal, &tk);
    if (rc != DUCKPOND_OK && iw)
        return journal_failed(b, w, iw, &tk, rc);
    return rc == DUCKPOND_OK ? journal_acked(b, w, tk.seq) : rc;
}

uint64_t duckpond_write_seq(const duckpond_write *w)
{
    return batcher_write_done(w) ? w->jseq : 0;
}

/* ------------------------------------------------------------- apply */

bool batcher_jbatch_fill(duckpond_batcher *b, duckpond_write *list, size_t n)
{
    b->njbatch = 0;
    if (!b->journal)
        return true;
    if (dp_grow(&b->jbatch, &b->cap_jbatch, n, sizeof *b->jbatch) != 0)
        return false;
    for (duckpond_write *w = list; w; w = w->next)
        if (w->jseq)
            b->jbatch[b->njbatch++] = w;
    return true;
}

/*
 * After a batch every journaled write in it is finished. If the last ones
 * failed (so no commit carried their number), store the number alone, so
 * that they are not replayed. A failure here only means they will be
 * replayed, and fail again.
 */
void batcher_jbatch_finish(duckpond_batcher *b)
{
    if (!b->njbatch)
        return;
    uint64_t last = b->jbatch[b->njbatch - 1]->jseq;
    if (last > b->db_applied_seq && !b->fatal) {
        char *msg = NULL;
        int rc = batcher_writer_tx(b, TX_BEGIN, &msg);
        if (rc == DUCKPOND_OK && (rc = batcher_store_applied_seq(b, last, &msg)) == DUCKPOND_OK &&
            (rc = batcher_writer_tx(b, TX_COMMIT, &msg)) == DUCKPOND_OK)
            b->db_applied_seq = last;
        else if (rc != DUCKPOND_OK)
            batcher_writer_tx(b, TX_ROLLBACK, NULL);
        free(msg);
    }
    b->jbatch_done = last;
    b->njbatch = 0;
}

/*
 * The highest S such that every journaled write of the batch numbered up
 * to S is finished (all its rows committed or failed) once segs[0..n)
 * commit; 0 when the commit would not move duckpond_journal_state on.
 * Writes are finished in order (the batch is in sequence order, and the
 * bisection commits its left half first), so a crash between two commits
 * replays exactly the writes not yet finished.
 */
uint64_t batcher_seq_after(duckpond_batcher *b, const struct seg *segs, size_t n)
{
    if (!b->njbatch)
        return 0;
    for (size_t s = 0; s < n; s++)
        segs[s].w->pending += batcher_seg_rows(&segs[s]);
    uint64_t seq = 0;
    for (size_t i = 0; i < b->njbatch; i++) {
        const duckpond_write *w = b->jbatch[i];
        if (w->committed + w->failed + w->pending < w->nrows)
            break;
        seq = w->jseq;
    }
    for (size_t s = 0; s < n; s++)
        segs[s].w->pending = 0;
    return seq > b->db_applied_seq ? seq : 0;
}

int batcher_store_applied_seq(duckpond_batcher *b, uint64_t seq, char **msg)
{
    duckdb_bind_uint64(b->seq_stmt, 1, seq);
    duckdb_result res;
    if (duckdb_execute_prepared(b->seq_stmt, &res) == DuckDBError) {
        int rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        *msg = dp_asprintf("storing the applied journal sequence number: %s", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
    }
    duckdb_destroy_result(&res);
    return DUCKPOND_OK;
}

/* Done once the batch's failures and counters are recorded: a reader woken here sees them. */
void batcher_publish_applied(duckpond_batcher *b)
{
    if (b->jbatch_done <= b->applied_seq)
        return;
    b->applied_seq = b->jbatch_done;
    pthread_cond_broadcast(&b->applied);
}

void batcher_journal_failed_after_ack(duckpond_batcher *b, const duckpond_write *w)
{
    b->stats.journal_rows_failed_after_ack += w->failed;
    dp_set_msg(&b->journal_failmsg, "journal record %" PRIu64 ": %s", w->jseq,
               w->errmsg ? w->errmsg : duckpond_strerror(w->status));
}

/*
 * The records are durable in DuckDB's own WAL once applied; the CHECKPOINT
 * keeps that short before their segments go. Tried once every older
 * segment is applied; a failed CHECKPOINT (other transactions running) is
 * tried again after the next batch.
 */
void batcher_journal_recycle(duckpond_batcher *b, bool force)
{
    if (!b->journal)
        return;
    struct journal_stats js;
    journal_stats_get(b->journal, &js);
    if (js.segments <= 1)
        return;
    if (!b->recycle_at)
        b->recycle_at = js.last_seq; /* the older segments end at or before it */
    if (b->db_applied_seq < b->recycle_at && !force)
        return;
    if (batcher_writer_exec(b, "CHECKPOINT", NULL) != DUCKPOND_OK)
        return;
    journal_recycle(b->journal, b->db_applied_seq);
    b->recycle_at = 0;
}

/* ----------------------------------------------------- wait-applied */

int duckpond_batcher_wait_applied(duckpond_batcher *b, uint64_t seq, int timeout_ms)
{
    if (!b || timeout_ms < -1)
        return DUCKPOND_MISUSE;
    if (!seq || !b->journal)
        return DUCKPOND_OK;
    struct journal_stats js;
    journal_stats_get(b->journal, &js);
    if (seq > js.last_seq)
        return DUCKPOND_MISUSE; /* never handed out: it would wait forever */
    pthread_mutex_lock(&b->mu);
    int rc = DUCKPOND_OK;
    if (b->applied_seq < seq) {
        int64_t start = dp_now_us();
        struct timespec until = dp_deadline(CLOCK_MONOTONIC, timeout_ms > 0 ? timeout_ms : 0);
        b->stats.applied_waits++;
        b->apply_waiters++;
        if (b->writer_idle)
            pthread_cond_signal(&b->work); /* apply now, without the gathering delay */
        while (b->applied_seq < seq && !b->fatal && timeout_ms != 0)
            if ((timeout_ms < 0 ? pthread_cond_wait(&b->applied, &b->mu)
                                : pthread_cond_timedwait(&b->applied, &b->mu, &until)) == ETIMEDOUT)
                break;
        b->apply_waiters--;
        if (b->applied_seq < seq) {
            rc = b->fatal ? b->fatal : DUCKPOND_TIMEOUT;
            b->stats.applied_wait_timeouts += !b->fatal;
        }
        b->stats.applied_wait_sum_us += (uint64_t)(dp_now_us() - start);
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

const char *duckpond_batcher_journal_report(const duckpond_batcher *b)
{
    return b && b->journal_report ? b->journal_report : "";
}

void duckpond_batcher_journal_errmsg(duckpond_batcher *b, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    buf[0] = '\0';
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    if (b->journal_failmsg)
        snprintf(buf, len, "%s", b->journal_failmsg);
    pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------- open and replay */

/* Applies the records read so far (batcher_new's thread, before the writer starts). */
static void replay_flush(duckpond_batcher *b)
{
    duckpond_write *list = b->replay_head;
    if (!list)
        return;
    b->replay_head = b->replay_tail = NULL;
    b->replay_writes = b->replay_rows = 0;
    b->batch_commits = 0;
    batcher_commit_batch(b, list);
    pthread_mutex_lock(&b->mu);
    b->stats.commits += b->batch_commits;
    for (duckpond_write *w = list; w; w = w->next) {
        b->stats.journal_replayed_writes++;
        b->stats.rows_committed += w->committed;
        if (w->failed)
            batcher_journal_failed_after_ack(b, w);
    }
    batcher_publish_applied(b);
    pthread_mutex_unlock(&b->mu);
    batcher_free_internal(list);
}

/* Adds to the journal report (b->journal_report, REPORT_BYTES, NUL-terminated). */
static void report_add(duckpond_batcher *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_add(duckpond_batcher *b, const char *fmt, ...)
{
    size_t used = strlen(b->journal_report);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->journal_report + used, REPORT_BYTES - used, fmt, ap);
    va_end(ap);
}

/* journal_open's replay callback: one record above the applied number. */
static int replay_record(void *arg, uint64_t seq, const void *payload, size_t len)
{
    duckpond_batcher *b = arg;
    duckpond_write *w;
    char *msg = NULL;
    int rc = batcher_codec_decode(b, payload, len, &w, &msg);
    if (rc == DUCKPOND_NOMEM)
        return 1;
    if (rc != DUCKPOND_OK) { /* whole and checksummed, yet unreadable: say so, go on */
        report_add(b, "record %" PRIu64 " skipped: %s; ", seq, msg ? msg : duckpond_strerror(rc));
        pthread_mutex_lock(&b->mu);
        dp_set_msg(&b->journal_failmsg, "journal record %" PRIu64 ": %s", seq, msg ? msg : "unreadable");
        pthread_mutex_unlock(&b->mu);
        free(msg);
        return 0;
    }
    w->jseq = seq;
    w->internal = true;
    w->state = W_QUEUED;
    w->submit_us = dp_now_us();
    if (b->replay_tail)
        b->replay_tail->next = w;
    else
        b->replay_head = w;
    b->replay_tail = w;
    b->replay_rows += w->nrows;
    if (++b->replay_writes >= REPLAY_MAX_WRITES || b->replay_rows >= b->set.batch_max_rows)
        replay_flush(b);
    return b->fatal ? 1 : 0;
}

static const char STATE_SQL[] =
    "CREATE TABLE IF NOT EXISTS duckpond_journal_state(applied_seq UBIGINT NOT NULL);"
    "INSERT INTO duckpond_journal_state SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM duckpond_journal_state)";

/* Reads the applied number from the database (creating duckpond_journal_state) and prepares its update. */
static int state_open(duckpond_batcher *b)
{
    int64_t applied = 0;
    int rc = duckpond_exec(b->conn, STATE_SQL);
    if (rc == DUCKPOND_OK)
        rc = duckpond_query_int64(b->conn, "SELECT max(applied_seq) FROM duckpond_journal_state", &applied);
    if (rc == DUCKPOND_OK &&
        duckdb_prepare(duckpond_conn_duckdb(b->conn), "UPDATE duckpond_journal_state SET applied_seq = $1",
                       &b->seq_stmt) == DuckDBError)
        rc = DUCKPOND_ERROR;
    if (rc != DUCKPOND_OK) {
        snprintf(b->journal_report, REPORT_BYTES, "cannot keep the journal state in the database: %s",
                 duckpond_conn_errmsg(b->conn));
        return rc == DUCKPOND_READONLY ? DUCKPOND_MISUSE : rc;
    }
    b->db_applied_seq = (uint64_t)applied;
    return DUCKPOND_OK;
}

/* On failure the reason is in b->journal_report. */
int batcher_journal_start(duckpond_batcher *b)
{
    if (!(b->journal_report = calloc(1, REPORT_BYTES)))
        return DUCKPOND_NOMEM;
    int rc = state_open(b);
    if (rc != DUCKPOND_OK)
        return rc;
    struct journal_options opt = {.segment_bytes = b->set.journal_segment_bytes,
                                  .on_durable = journal_durable,
                                  .arg = b};
    rc = journal_open(b->set.journal_dir, &opt, b->db_applied_seq, replay_record, b, &b->journal,
                      b->journal_report, REPORT_BYTES);
    if (rc == DUCKPOND_OK)
        replay_flush(b);
    else
        while (b->replay_head) {
            duckpond_write *w = b->replay_head;
            b->replay_head = w->next;
            batcher_write_free_parts(w);
        }
    if (rc == DUCKPOND_OK && b->fatal) {
        report_add(b, "; replay failed: %s", b->fatal_msg ? b->fatal_msg : duckpond_strerror(b->fatal));
        rc = b->fatal;
    }
    b->applied_seq = b->db_applied_seq;
    return rc;
}
