/*
 * batcher.c -- the ingest batcher's public API: a batcher's life, writes
 * being built and submitted, the queue and its admission.
 *
 * Producers on any thread build a duckpond_write (rows of typed or text
 * values for one table and one list of columns) and submit it. A write
 * acknowledged on commit (or queued) joins the queue, from which the
 * writer thread (writer.c) takes whole groups and commits each as one
 * transaction (commit.c); a journaled write goes through the journal
 * first (journaled.c). The other files of this folder are listed in
 * batcher_int.h.
 *
 * Memory is bounded: rows accepted but not yet committed are counted
 * against queue_max_rows / queue_max_bytes; a producer that finds no room
 * waits up to the overload timeout, then gets DUCKPOND_OVERLOADED having
 * written nothing (batcher_admit).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "batcher_int.h"
#include "journal.h"

const uint64_t duckpond_latency_bounds_us[DUCKPOND_LATENCY_BUCKETS] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

/* ------------------------------------------------------------ batcher */

/* The caller's settings (a versioned struct; NULL for none) with defaults for the fields left 0. */
static int settings_fill(duckpond_batcher_settings *s, const duckpond_batcher_settings *in)
{
    *s = (duckpond_batcher_settings)DUCKPOND_BATCHER_SETTINGS_INIT();
    if (in && dp_struct_in(s, sizeof *s, in, DP_BATCHER_SETTINGS_FIRST) != DUCKPOND_OK)
        return DUCKPOND_MISUSE;
    if (s->max_delay_us < 0 || s->overload_timeout_ms < -1)
        return DUCKPOND_MISUSE;
    if (!s->batch_max_rows)
        s->batch_max_rows = 100000;
    if (!s->batch_max_bytes)
        s->batch_max_bytes = (size_t)64 << 20;
    if (!s->max_delay_us)
        s->max_delay_us = 2000;
    if (!s->queue_max_rows)
        s->queue_max_rows = 1000000;
    if (!s->queue_max_bytes)
        s->queue_max_bytes = (size_t)256 << 20;
    if (!s->overload_timeout_ms)
        s->overload_timeout_ms = 5000;
    if (s->journal_apply_delay_ms < -1)
        return DUCKPOND_MISUSE;
    if (!s->journal_apply_delay_ms)
        s->journal_apply_delay_ms = 50;
    return DUCKPOND_OK;
}

/* DUCKPOND_MISUSE, with db's message saying so, when the database is open read-only. */
static int writable(duckpond_batcher *b)
{
    int64_t ro = 0;
    int rc = duckpond_query_int64(b->conn,
                                  "SELECT count(*) FROM duckdb_settings() "
                                  "WHERE name = 'access_mode' AND lower(value) = 'read_only'",
                                  &ro);
    if (rc == DUCKPOND_OK && ro) {
        dp_set_msg(&b->db->errmsg, "batcher: the database is open read-only");
        rc = DUCKPOND_MISUSE;
    }
    return rc;
}

/* The writer's connection and the statements it runs on every group. */
static int writer_open(duckpond_batcher *b)
{
    int rc = duckpond_connect(b->db, &b->conn);
    if (rc == DUCKPOND_OK)
        rc = writable(b);
    for (int i = 0; i < 3 && rc == DUCKPOND_OK; i++)
        if (duckdb_prepare(duckpond_conn_duckdb(b->conn), batcher_tx_sql[i], &b->tx_stmt[i]) == DuckDBError)
            rc = DUCKPOND_ERROR;
    if (rc == DUCKPOND_OK)
        batcher_scan_register(b); /* without it, every group goes through the Appenders */
    if (rc == DUCKPOND_OK)
        rc = batcher_bars_start(b); /* before the journal's replay: its rows keep the bars too */
    return rc;
}

static void batcher_destroy(duckpond_batcher *b);

int duckpond_batcher_new(duckpond_db *db, const duckpond_batcher_settings *settings, duckpond_batcher **out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    *out = NULL;
    if (!db || !db->duck || dp_forked(db))
        return DUCKPOND_MISUSE;
    duckpond_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return DUCKPOND_NOMEM;
    int rc = settings_fill(&b->set, settings);
    if (rc != DUCKPOND_OK) {
        free(b);
        return rc;
    }
    b->db = db;
    b->want_writes = b->expect_writes = 1;
    const char *dir = b->set.journal_dir; /* the caller's: copied */
    b->set.journal_dir = NULL;
    if (dir && *dir && !(b->set.journal_dir = strdup(dir))) {
        free(b);
        return DUCKPOND_NOMEM;
    }
    dp_cond_init_monotonic(&b->applied);
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->stop_mu, NULL);
    dp_cond_init_monotonic(&b->work);
    dp_cond_init_monotonic(&b->room);
    dp_cond_init_monotonic(&b->bars_done);
    pthread_mutex_init(&b->casters.mu, NULL);
    pthread_cond_init(&b->casters.idle, NULL);
    rc = batcher_catalog_open(b);
    if (rc == DUCKPOND_OK)
        rc = writer_open(b);
    if (rc == DUCKPOND_OK && b->set.journal_dir && (rc = batcher_journal_start(b)) != DUCKPOND_OK)
        dp_set_msg(&db->errmsg, "batcher journal: %s",
                   b->journal_report ? b->journal_report : "out of memory");
    if (rc == DUCKPOND_OK && pthread_create(&b->thread, NULL, batcher_writer_main, b) != 0)
        rc = DUCKPOND_NOMEM;
    if (rc != DUCKPOND_OK) {
        b->joined = true; /* no thread to join */
        batcher_destroy(b);
        return rc;
    }
    dp_count(&db->open_batchers, 1);
    *out = b;
    return DUCKPOND_OK;
}

int duckpond_batcher_stop(duckpond_batcher *b)
{
    if (!b || dp_forked(b->db))
        return DUCKPOND_MISUSE;
    pthread_mutex_lock(&b->stop_mu);
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    b->held = false;
    pthread_cond_broadcast(&b->work);
    pthread_cond_broadcast(&b->room);
    pthread_mutex_unlock(&b->mu);
    if (!b->joined) {
        pthread_join(b->thread, NULL);
        b->joined = true;
        batcher_journal_recycle(b, true); /* the writer's connection is free now */
    }
    pthread_mutex_unlock(&b->stop_mu);
    return DUCKPOND_OK;
}

/* Stops b and frees everything it holds (also what a failed batcher_new made). */
static void batcher_destroy(duckpond_batcher *b)
{
    batcher_bars_stop(b);
    duckpond_batcher_stop(b);
    batcher_targets_drop(b);
    batcher_scan_unregister(b);
    for (int i = 0; i < 3; i++)
        if (b->tx_stmt[i])
            duckdb_destroy_prepare(&b->tx_stmt[i]);
    duckpond_disconnect(b->conn);
    batcher_casters_close(b);
    batcher_catalog_close(b);
    if (b->seq_stmt)
        duckdb_destroy_prepare(&b->seq_stmt);
    journal_close(b->journal);
    free(b->jbatch);
    free(b->journal_report);
    free(b->journal_failmsg);
    free((char *)b->set.journal_dir);
    pthread_cond_destroy(&b->applied);
    free(b->used);
    free(b->fatal_msg);
    pthread_mutex_destroy(&b->casters.mu);
    pthread_cond_destroy(&b->casters.idle);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->stop_mu);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->room);
    batcher_bars_destroy(b);
    free(b);
}

int duckpond_batcher_free(duckpond_batcher *b)
{
    if (!b)
        return DUCKPOND_OK;
    if (dp_forked(b->db) || __atomic_load_n(&b->live_writes, __ATOMIC_ACQUIRE))
        return DUCKPOND_MISUSE; /* a write still points at b: nothing is freed */
    duckpond_db *db = b->db;
    batcher_destroy(b);
    dp_count(&db->open_batchers, -1);
    return DUCKPOND_OK;
}

void batcher_journal_fail_syncs(duckpond_batcher *b)
{
    if (b->journal)
        journal_test_fail_syncs(b->journal);
}

void batcher_test_exit_after_commits(duckpond_batcher *b, int n)
{
    pthread_mutex_lock(&b->mu);
    b->exit_after_commits = n; /* read by the writer after its next take, under mu */
    pthread_mutex_unlock(&b->mu);
}

uint64_t batcher_test_values_cast_alone(duckpond_batcher *b)
{
    return __atomic_load_n(&b->values_cast_alone, __ATOMIC_RELAXED);
}

void batcher_hold(duckpond_batcher *b, int hold)
{
    pthread_mutex_lock(&b->mu);
    b->held = hold && !b->stopping;
    if (!b->held)
        pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
}

int duckpond_batcher_stats_get(duckpond_batcher *b, duckpond_batcher_stats *out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    duckpond_batcher_stats s = DUCKPOND_BATCHER_STATS_INIT();
    if (b) {
        pthread_mutex_lock(&b->mu);
        s = b->stats;
        s.journal_applied_seq = b->journal ? b->applied_seq : 0;
        pthread_mutex_unlock(&b->mu);
    }
    if (b && b->journal) {
        struct journal_stats js;
        journal_stats_get(b->journal, &js);
        s.journal_appended_seq = js.last_seq;
        s.journal_synced_seq = js.synced_seq;
        s.journal_syncs = js.syncs;
        s.journal_sync_us = js.sync_us;
        s.journal_segments = js.segments;
    }
    int rc = dp_struct_out(out, &s, sizeof s, DP_BATCHER_STATS_FIRST);
    return b ? rc : DUCKPOND_MISUSE; /* no batcher: zeros */
}

void duckpond_batcher_applied(const duckpond_batcher *b, uint64_t *writes, uint64_t *rows)
{
    if (writes)
        *writes = b ? __atomic_load_n(&b->writes_applied, __ATOMIC_RELAXED) : 0;
    if (rows)
        *rows = b ? __atomic_load_n(&b->rows_applied, __ATOMIC_RELAXED) : 0;
}

void duckpond_batcher_schema_changed(duckpond_batcher *b)
{
    if (b)
        batcher_schema_bump(b);
}

uint64_t duckpond_batcher_schema_gen(const duckpond_batcher *b)
{
    return b ? batcher_schema_gen(b) : 0;
}

/* -------------------------------------------------------- write results */

void batcher_write_fail_row(duckpond_write *w, size_t row, int status, char *msg)
{
    if (dp_grow(&w->fails, &w->cap_fails, w->nfails + 1, sizeof *w->fails) != 0) {
        free(msg); /* counted, but not described */
        w->failed++;
        if (!w->status)
            w->status = status;
        return;
    }
    w->fails[w->nfails++] = (struct wfail){row, status, msg};
    w->failed++;
    if (!w->status) {
        w->status = status;
        free(w->errmsg);
        w->errmsg = msg ? strdup(msg) : NULL;
    }
}

void batcher_write_fail_all(duckpond_write *w, int status, char *msg)
{
    for (size_t i = 0; i < w->nfails; i++)
        free(w->fails[i].msg);
    w->nfails = 0;
    w->all_failed = true;
    w->committed = 0;
    w->failed = w->nrows;
    w->status = status;
    free(w->errmsg);
    w->errmsg = msg ? msg : strdup(duckpond_strerror(status));
}

int batcher_write_finish(duckpond_write *w, int status)
{
    if (status && !w->status)
        w->status = status;
    __atomic_store_n(&w->state, W_DONE, __ATOMIC_RELEASE);
    return w->status;
}

bool batcher_write_done(const duckpond_write *w)
{
    return w && __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == W_DONE;
}

/* ------------------------------------------------------------ building */

char **batcher_names_block(const char *const *names, int n)
{
    size_t size = (size_t)n * sizeof(char *);
    for (int i = 0; i < n; i++)
        size += strlen(names[i]) + 1;
    char **out = malloc(size ? size : 1);
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    for (int i = 0; i < n; i++) {
        out[i] = p;
        p = stpcpy(p, names[i]) + 1;
    }
    return out;
}

void batcher_write_free_parts(duckpond_write *w)
{
    for (size_t i = 0; i < w->nfails; i++)
        free(w->fails[i].msg);
    free(w->fails);
    free(w->errmsg);
    batcher_marks_release(w);
    if (!w->one_block) {
        for (int i = 0; !w->cols_block && w->cols && i < w->ncols; i++)
            free(w->cols[i]);
        free(w->cols);
        free(w->table);
        if (w->vals != w->inl_vals)
            free(w->vals);
        if (w->text != w->inl_text)
            free(w->text);
    }
    free(w);
}

/* Copies an explicit column list into w; MISUSE on empty or repeated names. */
static int write_set_columns(duckpond_write *w, const char *const *columns, int n)
{
    for (int i = 0; i < n; i++) {
        if (!columns[i] || !*columns[i]) {
            w->errmsg = dp_asprintf("column %d has no name", i);
            return DUCKPOND_MISUSE;
        }
        for (int j = 0; j < i; j++)
            if (!strcasecmp(columns[i], columns[j])) {
                w->errmsg = dp_asprintf("column \"%s\" is listed twice", columns[i]);
                return DUCKPOND_MISUSE;
            }
    }
    if (!(w->cols = batcher_names_block(columns, n)))
        return DUCKPOND_NOMEM;
    w->cols_block = true;
    w->ncols = n;
    return DUCKPOND_OK;
}

int duckpond_write_new(duckpond_batcher *b, const char *table, const char *const *columns, int ncolumns,
                       unsigned flags, duckpond_write **out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    *out = NULL;
    if (!b || !table || !*table || ncolumns < 0 || (ncolumns > 0) != (columns != NULL) ||
        (flags & ~(unsigned)DUCKPOND_WRITE_ATOMIC))
        return DUCKPOND_MISUSE;
    duckpond_write *w = calloc(1, sizeof *w);
    if (!w)
        return DUCKPOND_NOMEM;
    w->b = b;
    w->flags = flags;
    w->table = strdup(table);
    int rc = w->table ? DUCKPOND_OK : DUCKPOND_NOMEM;
    if (rc == DUCKPOND_OK && columns)
        rc = write_set_columns(w, columns, ncolumns);
    else if (rc == DUCKPOND_OK) {
        /* An unknown table poisons the write: add_row and submit report it. */
        char *msg = NULL;
        w->poison = batcher_catalog_columns(b, table, &w->cols, &w->ncols, &msg);
        w->cols_block = w->cols != NULL;
        w->errmsg = msg;
    }
    if (rc != DUCKPOND_OK) {
        batcher_write_free_parts(w);
        return rc;
    }
    __atomic_add_fetch(&b->live_writes, 1, __ATOMIC_RELAXED);
    *out = w;
    return DUCKPOND_OK;
}

/* Checks one row of values before anything is copied; bytes of text in *text. */
static int check_values(const duckpond_write *w, const duckpond_value *values, size_t *text)
{
    *text = 0;
    for (int i = 0; i < w->ncols; i++) {
        const duckpond_value *v = &values[i];
        if ((unsigned)v->kind > DUCKPOND_VALUE_TIMESTAMP)
            return DUCKPOND_MISUSE;
        if (v->kind != DUCKPOND_VALUE_TEXT)
            continue;
        if ((v->u.text.len && !v->u.text.ptr) || v->u.text.len > TEXT_MAX)
            return DUCKPOND_MISUSE;
        *text += v->u.text.len;
    }
    if (*text > TEXT_MAX - w->text_len)
        return DUCKPOND_MISUSE;
    return DUCKPOND_OK;
}

/*
 * Grows an array that may live inline in the write: *arr points at
 * inline (of inline_cap elements) until it first needs more, then at a
 * heap copy grown by dp_grow.
 */
static int grow_inline(void *arrp, size_t *cap, size_t need, size_t elem, void *inline_arr, size_t inline_cap)
{
    void **arr = arrp;
    if (!*arr && need <= inline_cap) { /* the first row: even empty text gets its arena */
        *arr = inline_arr;
        *cap = inline_cap;
        return DUCKPOND_OK;
    }
    if (need <= *cap)
        return DUCKPOND_OK;
    if (*arr != inline_arr)
        return dp_grow(arrp, cap, need, elem) == 0 ? DUCKPOND_OK : DUCKPOND_NOMEM;
    void *heap = NULL;
    size_t heap_cap = 0;
    if (dp_grow(&heap, &heap_cap, need, elem) != 0)
        return DUCKPOND_NOMEM;
    memcpy(heap, inline_arr, *cap * elem);
    *arr = heap;
    *cap = heap_cap;
    return DUCKPOND_OK;
}

/* Makes room for one more row and its text. */
static int write_grow(duckpond_write *w, size_t text)
{
    size_t per_row = (size_t)(w->ncols ? w->ncols : 1);
    int rc = grow_inline(&w->vals, &w->cap_rows, w->nrows + 1, per_row * sizeof *w->vals, w->inl_vals,
                         INLINE_VALS / per_row);
    if (rc == DUCKPOND_OK)
        rc = grow_inline(&w->text, &w->text_cap, w->text_len + text, 1, w->inl_text, INLINE_TEXT);
    return rc;
}

/* Stores one checked row of values at the end of w. */
static void write_put_row(duckpond_write *w, const duckpond_value *values)
{
    struct bval *row = w->vals + w->nrows * (size_t)w->ncols;
    for (int i = 0; i < w->ncols; i++) {
        const duckpond_value *v = &values[i];
        struct bval *o = &row[i];
        o->kind = (uint32_t)v->kind;
        o->len = 0;
        switch (v->kind) {
        case DUCKPOND_VALUE_BOOL: o->u.i64 = v->u.boolean != 0; break;
        case DUCKPOND_VALUE_INT64: o->u.i64 = v->u.i64; break;
        case DUCKPOND_VALUE_DOUBLE: o->u.f64 = v->u.f64; break;
        case DUCKPOND_VALUE_TIMESTAMP: o->u.i64 = v->u.timestamp_us; break;
        case DUCKPOND_VALUE_TEXT:
            o->u.off = w->text_len;
            o->len = (uint32_t)v->u.text.len;
            if (v->u.text.len)
                memcpy(w->text + w->text_len, v->u.text.ptr, v->u.text.len);
            w->text_len += v->u.text.len;
            break;
        case DUCKPOND_VALUE_DEFAULT:
            w->has_default = true;
            o->u.i64 = 0;
            break;
        default: o->u.i64 = 0; break;
        }
    }
    w->nrows++;
}

int duckpond_write_add_row(duckpond_write *w, const duckpond_value *values)
{
    if (!w || (!values && w->ncols) || __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != W_BUILDING)
        return DUCKPOND_MISUSE;
    if (w->poison)
        return w->poison;
    size_t text;
    int rc = check_values(w, values, &text);
    if (rc == DUCKPOND_OK)
        rc = write_grow(w, text);
    if (rc != DUCKPOND_OK)
        return rc;
    write_put_row(w, values);
    w->bytes += (size_t)w->ncols * sizeof(struct bval) + text;
    return DUCKPOND_OK;
}

/* ------------------------------------------------------ queue, admission */

/* A refusal for lack of room: counted, and said in w->errmsg (under b->mu). */
static int overloaded(duckpond_batcher *b, duckpond_write *w, bool bytes_only)
{
    const duckpond_batcher_settings *s = &b->set;
    b->stats.overloaded++;
    if (bytes_only)
        dp_set_msg(&w->errmsg,
                   "overloaded: %llu bytes wait to be committed, the cap is %zu bytes; "
                   "no room came within %d ms",
                   (unsigned long long)b->stats.queue_bytes, s->queue_max_bytes, s->overload_timeout_ms);
    else
        dp_set_msg(&w->errmsg,
                   "overloaded: %llu rows (%llu bytes) wait to be committed, the cap is %zu rows "
                   "(%zu bytes); no room came within %d ms",
                   (unsigned long long)b->stats.queue_rows, (unsigned long long)b->stats.queue_bytes,
                   s->queue_max_rows, s->queue_max_bytes, s->overload_timeout_ms);
    return DUCKPOND_OVERLOADED;
}

int batcher_admit(duckpond_batcher *b, duckpond_write *w)
{
    const duckpond_batcher_settings *s = &b->set;
    if (w->nrows > s->queue_max_rows || w->bytes > s->queue_max_bytes) {
        b->stats.overloaded++;
        dp_set_msg(&w->errmsg, "write of %zu rows (%zu bytes) is larger than the queue (%zu rows, %zu bytes)",
                   w->nrows, w->bytes, s->queue_max_rows, s->queue_max_bytes);
        return DUCKPOND_OVERLOADED;
    }
    struct timespec until =
        dp_deadline(CLOCK_MONOTONIC, s->overload_timeout_ms > 0 ? s->overload_timeout_ms : 0);
    for (;;) {
        if (b->stopping) {
            dp_set_msg(&w->errmsg, "the batcher is stopped");
            return DUCKPOND_CLOSED;
        }
        if (b->fatal) {
            dp_set_msg(&w->errmsg, "%s", b->fatal_msg ? b->fatal_msg : duckpond_strerror(b->fatal));
            return b->fatal;
        }
        if (b->stats.queue_rows + w->nrows <= s->queue_max_rows &&
            b->stats.queue_bytes + w->bytes <= s->queue_max_bytes)
            return DUCKPOND_OK;
        int e = s->overload_timeout_ms < 0 ? pthread_cond_wait(&b->room, &b->mu)
                                           : pthread_cond_timedwait(&b->room, &b->mu, &until);
        if (e == ETIMEDOUT && b->stats.queue_rows + w->nrows > s->queue_max_rows)
            return overloaded(b, w, false);
        if (e == ETIMEDOUT && b->stats.queue_bytes + w->bytes > s->queue_max_bytes)
            return overloaded(b, w, true);
    }
}

void batcher_queue_reserve(duckpond_batcher *b, const duckpond_write *w, int sign)
{
    b->stats.queue_rows += sign > 0 ? w->nrows : -w->nrows;
    b->stats.queue_bytes += sign > 0 ? w->bytes : -w->bytes;
}

void batcher_queue_link(duckpond_batcher *b, duckpond_write *w, int64_t now_us)
{
    __atomic_store_n(&w->state, W_QUEUED, __ATOMIC_RELAXED); /* published by b->mu */
    w->submit_us = now_us;
    w->next = NULL;
    if (b->tail)
        b->tail->next = w;
    else
        b->head = w;
    b->tail = w;
    b->stats.rows_accepted += w->nrows;
    b->stats.bytes_accepted += w->bytes;
    b->queued_writes++;
    b->queued_rows += w->nrows;
}

void batcher_queue_poke(duckpond_batcher *b)
{
    if (b->writer_idle && (b->queued_writes >= b->want_writes || b->queued_rows >= b->set.batch_max_rows))
        pthread_cond_signal(&b->work);
}

/* Appends w to the queue and wakes the writer if it waits (under b->mu). */
static void enqueue(duckpond_batcher *b, duckpond_write *w)
{
    batcher_queue_reserve(b, w, 1);
    batcher_queue_link(b, w, dp_now_us());
    b->direct_queued = true;
    if (b->want_writes == SIZE_MAX && b->writer_idle)
        pthread_cond_signal(&b->work); /* it must not wait behind journaled writes */
    else
        batcher_queue_poke(b);
}

/* ---------------------------------------------------- submit and results */

const char *duckpond_ack_name(duckpond_ack ack)
{
    switch (ack) {
    case DUCKPOND_ACK_QUEUED: return "queued";
    case DUCKPOND_ACK_COMMIT: return "commit";
    case DUCKPOND_ACK_JOURNAL: return "journal";
    }
    return NULL;
}

int duckpond_ack_parse(const char *name, duckpond_ack *out)
{
    static const duckpond_ack all[] = {DUCKPOND_ACK_QUEUED, DUCKPOND_ACK_COMMIT, DUCKPOND_ACK_JOURNAL};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
        if (strcasecmp(name, duckpond_ack_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

int duckpond_write_submit(duckpond_write *w, duckpond_ack ack)
{
    if (!w || (ack != DUCKPOND_ACK_COMMIT && ack != DUCKPOND_ACK_QUEUED && ack != DUCKPOND_ACK_JOURNAL) ||
        __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != W_BUILDING)
        return DUCKPOND_MISUSE;
    if (w->poison)
        return w->poison;
    if (ack == DUCKPOND_ACK_JOURNAL)
        return batcher_submit_journaled(w);
    duckpond_batcher *b = w->b;
    pthread_mutex_lock(&b->mu);
    int rc = batcher_admit(b, w);
    if (rc != DUCKPOND_OK) {
        pthread_mutex_unlock(&b->mu);
        return rc; /* nothing written; the write may be submitted again */
    }
    free(w->errmsg);
    w->errmsg = NULL;
    enqueue(b, w);
    pthread_mutex_unlock(&b->mu);
    return ack == DUCKPOND_ACK_QUEUED ? DUCKPOND_OK : duckpond_write_wait(w);
}

int duckpond_write_wait(duckpond_write *w)
{
    if (!w || __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == W_BUILDING)
        return DUCKPOND_MISUSE;
    duckpond_batcher *b = w->b;
    for (;;) {
        uint32_t seq = __atomic_load_n(&b->ack_seq, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == W_DONE)
            break;
        __atomic_add_fetch(&b->ack_waiters, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&w->state, __ATOMIC_SEQ_CST) != W_DONE)
            syscall(SYS_futex, &b->ack_seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
        __atomic_sub_fetch(&b->ack_waiters, 1, __ATOMIC_SEQ_CST);
    }
    return w->status;
}

void duckpond_write_counts(const duckpond_write *w, size_t *committed, size_t *failed)
{
    bool done = batcher_write_done(w);
    if (committed)
        *committed = done ? w->committed : 0;
    if (failed)
        *failed = done ? w->failed : 0;
}

int duckpond_write_failure(const duckpond_write *w, size_t i, size_t *row_index, const char **message)
{
    if (!batcher_write_done(w))
        return DUCKPOND_MISUSE;
    size_t row;
    int status;
    const char *msg;
    if (w->all_failed && i < w->nrows) {
        row = i, status = w->status, msg = w->errmsg;
    } else if (!w->all_failed && i < w->nfails) {
        row = w->fails[i].row, status = w->fails[i].status, msg = w->fails[i].msg;
    } else {
        return DUCKPOND_MISUSE;
    }
    if (row_index)
        *row_index = row;
    if (message)
        *message = msg ? msg : duckpond_strerror(status);
    return status;
}

const char *duckpond_write_errmsg(const duckpond_write *w)
{
    return w && w->errmsg ? w->errmsg : "";
}

void duckpond_write_free(duckpond_write *w)
{
    if (!w)
        return;
    if (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != W_BUILDING)
        duckpond_write_wait(w); /* returns at once once done */
    __atomic_sub_fetch(&w->b->live_writes, 1, __ATOMIC_RELAXED);
    batcher_write_free_parts(w);
}
