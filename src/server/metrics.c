/*
 * metrics.c -- the server's process-wide counters and their Prometheus text.
 *
 * Every protocol thread updates these on its hot path, so an update is one
 * relaxed atomic add. Statements by kind and errors by SQLSTATE live in
 * small fixed tables of (key, counter) slots: a known key is found by a
 * linear scan with no lock; a new key claims the first empty slot with one
 * compare-and-swap (others that meet a slot being filled wait the few
 * instructions it takes). Keys past the table's size are counted under
 * "OTHER". The exposition (metrics_prometheus) is built whole in memory:
 * it is a few kilobytes, read by a scraper or the status page.
 */
#include "metrics.h"

#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_KEY_MAX 16
#define METRICS_KIND_SLOTS 32
#define METRICS_STATE_SLOTS 64

enum { SLOT_EMPTY = 0, SLOT_FILLING, SLOT_READY };

struct metrics_slot {
    _Atomic int state;
    char key[METRICS_KEY_MAX];
    _Atomic uint64_t count;
};

static _Atomic uint64_t conns_open[METRICS_NPROTO];
static _Atomic uint64_t conns_total[METRICS_NPROTO];
static _Atomic uint64_t conflicts_retried;
static struct metrics_slot kind_slots[METRICS_KIND_SLOTS];
static struct metrics_slot state_slots[METRICS_STATE_SLOTS];

static const char *const proto_names[METRICS_NPROTO] = {"pg", "http", "line"};

void metrics_conn_open(enum metrics_proto proto)
{
    if ((unsigned)proto >= METRICS_NPROTO)
        return;
    atomic_fetch_add_explicit(&conns_open[proto], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&conns_total[proto], 1, memory_order_relaxed);
}

void metrics_conn_close(enum metrics_proto proto)
{
    if ((unsigned)proto >= METRICS_NPROTO)
        return;
    atomic_fetch_sub_explicit(&conns_open[proto], 1, memory_order_relaxed);
}

void metrics_conflict_retried(void)
{
    atomic_fetch_add_explicit(&conflicts_retried, 1, memory_order_relaxed);
}

/*
 * Copies key into out as a label value that needs no escaping: letters,
 * digits, '_' and ' ' kept (letters upper-cased), at most 15 characters.
 * An empty or otherwise unusable key becomes "OTHER".
 */
static void slot_key(const char *key, char out[METRICS_KEY_MAX])
{
    size_t n = 0;
    for (; key && key[n] && n < METRICS_KEY_MAX - 1; n++) {
        char c = key[n];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ' '))
            break;
        out[n] = c;
    }
    if (n == 0 || (key && key[n] != '\0' && n < METRICS_KEY_MAX - 1)) {
        strcpy(out, "OTHER");
        return;
    }
    out[n] = '\0';
}

/* Waits for a slot being filled by another thread; returns its state. */
static int slot_wait(struct metrics_slot *s)
{
    int st;
    while ((st = atomic_load_explicit(&s->state, memory_order_acquire)) == SLOT_FILLING)
        sched_yield();
    return st;
}

/*
 * The slot holding key among slots[0..n), claiming the first empty one for
 * a new key, or NULL when all are taken by other keys. Slots are claimed
 * in order and never freed, so a scan that meets an empty slot knows the
 * key is in no later one.
 */
static struct metrics_slot *slots_find(struct metrics_slot *slots, int n, const char *key)
{
    for (int i = 0; i < n; i++) {
        struct metrics_slot *s = &slots[i];
        if (slot_wait(s) == SLOT_EMPTY) {
            int expected = SLOT_EMPTY;
            if (atomic_compare_exchange_strong(&s->state, &expected, SLOT_FILLING)) {
                strcpy(s->key, key); /* key is shorter than METRICS_KEY_MAX */
                atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
            } else {
                slot_wait(s);
            }
        }
        if (strcmp(s->key, key) == 0)
            return s;
    }
    return NULL;
}

/* Adds one to key's counter; the last slot is kept for "OTHER" (overflow). */
static void slots_add(struct metrics_slot *slots, int nslots, const char *raw)
{
    char key[METRICS_KEY_MAX];
    slot_key(raw, key);
    struct metrics_slot *s = slots_find(slots, nslots - 1, key);
    if (!s)
        s = slots_find(slots + nslots - 1, 1, "OTHER");
    if (s)
        atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

void metrics_statement(const char *kind)
{
    slots_add(kind_slots, METRICS_KIND_SLOTS, kind);
}

void metrics_error(const char *sqlstate)
{
    slots_add(state_slots, METRICS_STATE_SLOTS, sqlstate);
}

void metrics_get(struct metrics_snapshot *out)
{
    for (int p = 0; p < METRICS_NPROTO; p++) {
        out->conns_open[p] = atomic_load_explicit(&conns_open[p], memory_order_relaxed);
        out->conns_total[p] = atomic_load_explicit(&conns_total[p], memory_order_relaxed);
    }
    out->conflicts_retried = atomic_load_explicit(&conflicts_retried, memory_order_relaxed);
}

/* ------------------------------------------------------------ exposition */

/* A growing text buffer; failed is set once memory runs out. */
struct mbuf {
    char *data;
    size_t len, cap;
    bool failed;
};

static void mbuf_printf(struct mbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n + 1;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
}

/* One metric's HELP and TYPE lines. */
static void mbuf_head(struct mbuf *b, const char *name, const char *type, const char *help)
{
    mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void emit_connections(struct mbuf *b)
{
    struct metrics_snapshot s;
    metrics_get(&s);
    mbuf_head(b, "duckpond_connections_open", "gauge", "Client connections open now, by protocol.");
    for (int p = 0; p < METRICS_NPROTO; p++)
        mbuf_printf(b, "duckpond_connections_open{protocol=\"%s\"} %llu\n", proto_names[p],
                    (unsigned long long)s.conns_open[p]);
    mbuf_head(b, "duckpond_connections_total", "counter",
              "Client connections accepted, by protocol.");
    for (int p = 0; p < METRICS_NPROTO; p++)
        mbuf_printf(b, "duckpond_connections_total{protocol=\"%s\"} %llu\n", proto_names[p],
                    (unsigned long long)s.conns_total[p]);
    mbuf_head(b, "duckpond_conflicts_retried_total", "counter",
              "Transaction conflicts the server retried.");
    mbuf_printf(b, "duckpond_conflicts_retried_total %llu\n",
                (unsigned long long)s.conflicts_retried);
}

/* A table of slots as one labelled counter family. */
static void emit_slots(struct mbuf *b, struct metrics_slot *slots, int n, const char *name,
                       const char *label, const char *help)
{
    mbuf_head(b, name, "counter", help);
    for (int i = 0; i < n; i++) {
        if (atomic_load_explicit(&slots[i].state, memory_order_acquire) != SLOT_READY)
            continue;
        mbuf_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, slots[i].key,
                    (unsigned long long)atomic_load_explicit(&slots[i].count,
                                                             memory_order_relaxed));
    }
}

static void emit_counter(struct mbuf *b, const char *name, const char *help, uint64_t v)
{
    mbuf_head(b, name, "counter", help);
    mbuf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void emit_gauge(struct mbuf *b, const char *name, const char *help, uint64_t v)
{
    mbuf_head(b, name, "gauge", help);
    mbuf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* A counter of time, kept in microseconds, shown in seconds. */
static void emit_seconds(struct mbuf *b, const char *name, const char *help, uint64_t us)
{
    mbuf_head(b, name, "counter", help);
    mbuf_printf(b, "%s %.6f\n", name, us / 1e6);
}

/* A latency histogram over duckpond_latency_bounds_us, in seconds. */
static void emit_histogram(struct mbuf *b, const char *h, const char *help,
                           const uint64_t counts[DUCKPOND_LATENCY_BUCKETS + 1], uint64_t sum_us)
{
    mbuf_head(b, h, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < DUCKPOND_LATENCY_BUCKETS; i++) {
        cum += counts[i];
        mbuf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", h, duckpond_latency_bounds_us[i] / 1e6,
                    (unsigned long long)cum);
    }
    cum += counts[DUCKPOND_LATENCY_BUCKETS];
    mbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", h, (unsigned long long)cum);
    mbuf_printf(b, "%s_sum %.6f\n%s_count %llu\n", h, sum_us / 1e6, h, (unsigned long long)cum);
}

/* The batcher's journal, when it has one. */
static void emit_journal(struct mbuf *b, const duckpond_batcher_stats *s)
{
    if (!s->journal_appended_seq && !s->journal_segments && !s->journal_replayed_writes)
        return;
    emit_counter(b, "duckpond_journal_syncs_total", "Journal fdatasync calls.", s->journal_syncs);
    emit_seconds(b, "duckpond_journal_sync_seconds_total", "Time spent in journal fdatasync calls.",
                 s->journal_sync_us);
    emit_counter(b, "duckpond_journal_rows_acked_total", "Rows acknowledged once journaled.",
                 s->journal_rows_acked);
    emit_counter(b, "duckpond_journal_rows_failed_after_ack_total",
                 "Journaled rows that failed when applied.", s->journal_rows_failed_after_ack);
    emit_counter(b, "duckpond_journal_replayed_writes_total",
                 "Writes applied from the journal at start.", s->journal_replayed_writes);
    emit_counter(b, "duckpond_journal_errors_total", "Journaled submits refused by I/O errors.",
                 s->journal_errors);
    emit_gauge(b, "duckpond_journal_segments", "Journal files now.", s->journal_segments);
    emit_gauge(b, "duckpond_journal_unapplied", "Journaled writes not yet applied.",
               s->journal_appended_seq > s->journal_applied_seq
                   ? s->journal_appended_seq - s->journal_applied_seq
                   : 0);
    emit_histogram(b, "duckpond_journal_apply_lag_seconds",
                   "Time from a journaled write's append to its commit.", s->apply_lag_count,
                   s->apply_lag_sum_us);
    emit_gauge(b, "duckpond_journal_appended_seq", "Highest journal sequence number appended.",
               s->journal_appended_seq);
    emit_gauge(b, "duckpond_journal_synced_seq", "Highest journal sequence number on disk.",
               s->journal_synced_seq);
    emit_gauge(b, "duckpond_journal_applied_seq",
               "Highest journal sequence number applied to the database.", s->journal_applied_seq);
    emit_counter(b, "duckpond_journal_writes_acked_total", "Writes acknowledged once journaled.",
                 s->journal_writes_acked);
    emit_counter(b, "duckpond_journal_applied_waits_total",
                 "Reads that waited for their journaled writes to be applied.", s->applied_waits);
    emit_seconds(b, "duckpond_journal_applied_wait_seconds_total",
                 "Time reads spent waiting for their journaled writes to be applied.", s->applied_wait_sum_us);
    emit_counter(b, "duckpond_journal_applied_wait_timeouts_total",
                 "Reads that gave up waiting for their journaled writes.", s->applied_wait_timeouts);
}

/* The batcher's counters and its commit-ack latency histogram (seconds). */
static void emit_batcher(struct mbuf *b, duckpond_batcher *batcher)
{
    duckpond_batcher_stats s;
    memset(&s, 0, sizeof s);
    duckpond_batcher_stats_get(batcher, &s);
    emit_counter(b, "duckpond_batcher_rows_accepted_total", "Rows accepted by the batcher.",
                 s.rows_accepted);
    emit_counter(b, "duckpond_batcher_rows_committed_total", "Rows the batcher committed.",
                 s.rows_committed);
    emit_counter(b, "duckpond_batcher_rows_failed_total", "Rows the batcher rejected.",
                 s.rows_failed);
    emit_counter(b, "duckpond_batcher_bytes_committed_total", "Bytes the batcher committed.",
                 s.bytes_committed);
    emit_counter(b, "duckpond_batcher_commits_total", "DuckDB transactions the batcher committed.",
                 s.commits);
    emit_counter(b, "duckpond_batcher_writes_acked_total", "Writes acknowledged.",
                 s.writes_acked);
    emit_counter(b, "duckpond_batcher_overloaded_total", "Writes refused for lack of room.",
                 s.overloaded);
    emit_gauge(b, "duckpond_batcher_queue_rows", "Rows accepted, not yet committed.",
               s.queue_rows);
    emit_gauge(b, "duckpond_batcher_queue_bytes", "Bytes accepted, not yet committed.",
               s.queue_bytes);
    emit_histogram(b, "duckpond_batcher_ack_latency_seconds",
                   "Time from a write's submit to its acknowledgement.", s.latency_count,
                   s.latency_sum_us);
    emit_journal(b, &s);
}

/* DuckDB's memory in use, from its duckdb_memory() table function. */
static void emit_memory(struct mbuf *b, duckpond_db *db)
{
    duckpond_conn *conn = NULL;
    int64_t bytes = 0;
    if (duckpond_connect(db, &conn) != DUCKPOND_OK)
        return;
    int rc = duckpond_query_int64(
        conn, "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()", &bytes);
    duckpond_disconnect(conn);
    if (rc != DUCKPOND_OK)
        return;
    emit_gauge(b, "duckpond_duckdb_memory_bytes", "Memory DuckDB's buffer manager holds.",
               (uint64_t)bytes);
}

int metrics_prometheus(duckpond_db *db, duckpond_batcher *b, char **out, size_t *len)
{
    struct mbuf m = {.data = malloc(8192), .cap = 8192};
    if (!m.data)
        return DUCKPOND_NOMEM;
    m.data[0] = '\0';
    emit_connections(&m);
    emit_slots(&m, kind_slots, METRICS_KIND_SLOTS, "duckpond_statements_total", "kind",
               "Statements run, by kind.");
    emit_slots(&m, state_slots, METRICS_STATE_SLOTS, "duckpond_errors_total", "sqlstate",
               "Errors sent to clients, by SQLSTATE.");
    if (b)
        emit_batcher(&m, b);
    if (db)
        emit_memory(&m, db);
    if (m.failed) {
        free(m.data);
        return DUCKPOND_NOMEM;
    }
    *out = m.data;
    *len = m.len;
    return DUCKPOND_OK;
}
