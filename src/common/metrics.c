/*
 * metrics.c -- the server's process-wide counters and their Prometheus text.
 *
 * Every protocol thread updates these on its hot path, so an update is one
 * relaxed atomic add. Statements by kind and errors by SQLSTATE live in
 * small fixed tables of (key, counter) slots: a known key is found by a
 * linear scan with no lock; a new key claims the first empty slot with one
 * compare-and-swap (others that meet a slot being filled wait the few
 * instructions it takes). Keys past the table's size are counted under
 * "OTHER". metrics_prometheus writes them as Prometheus text, with the
 * helpers the HTTP side uses to add the batcher's and DuckDB's figures.
 */
#include "metrics.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
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
static _Atomic int64_t sync_lag_from = -1; /* metrics_sync_lag_from; -1: no sync */
static _Atomic uint64_t conns_total[METRICS_NPROTO];
static _Atomic uint64_t conflicts_retried;
static _Atomic uint64_t copy_rows;
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

void metrics_copy_rows(uint64_t n)
{
    atomic_fetch_add_explicit(&copy_rows, n, memory_order_relaxed);
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
    out->copy_rows = atomic_load_explicit(&copy_rows, memory_order_relaxed);
}

/* ------------------------------------------------------------ exposition */

void metrics_emit_head(struct dp_buf *b, const char *name, const char *type, const char *help)
{
    dp_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_emit_counter(struct dp_buf *b, const char *name, const char *help, uint64_t v)
{
    metrics_emit_head(b, name, "counter", help);
    dp_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

void metrics_emit_gauge(struct dp_buf *b, const char *name, const char *help, uint64_t v)
{
    metrics_emit_head(b, name, "gauge", help);
    dp_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

void metrics_emit_seconds(struct dp_buf *b, const char *name, const char *help, uint64_t us)
{
    metrics_emit_head(b, name, "counter", help);
    dp_buf_printf(b, "%s %.6f\n", name, us / 1e6);
}

void metrics_emit_histogram(struct dp_buf *b, const char *h, const char *help, const uint64_t *bounds_us,
                            int nbounds, const uint64_t *counts, uint64_t sum_us)
{
    metrics_emit_head(b, h, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < nbounds; i++) {
        cum += counts[i];
        dp_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", h, bounds_us[i] / 1e6, (unsigned long long)cum);
    }
    cum += counts[nbounds];
    dp_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", h, (unsigned long long)cum);
    dp_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", h, sum_us / 1e6, h, (unsigned long long)cum);
}

static void emit_connections(struct dp_buf *b)
{
    struct metrics_snapshot s;
    metrics_get(&s);
    metrics_emit_head(b, "duckpond_connections_open", "gauge", "Client connections open now, by protocol.");
    for (int p = 0; p < METRICS_NPROTO; p++)
        dp_buf_printf(b, "duckpond_connections_open{protocol=\"%s\"} %llu\n", proto_names[p],
                      (unsigned long long)s.conns_open[p]);
    metrics_emit_head(b, "duckpond_connections_total", "counter",
                      "Client connections accepted, by protocol.");
    for (int p = 0; p < METRICS_NPROTO; p++)
        dp_buf_printf(b, "duckpond_connections_total{protocol=\"%s\"} %llu\n", proto_names[p],
                      (unsigned long long)s.conns_total[p]);
    metrics_emit_counter(b, "duckpond_conflicts_retried_total", "Transaction conflicts the server retried.",
                         s.conflicts_retried);
    metrics_emit_counter(b, "duckpond_copy_rows_total",
                         "Rows COPY FROM STDIN loaded (straight into DuckDB, not through the batcher).",
                         s.copy_rows);
}

/* A table of slots as one labelled counter family. */
static void emit_slots(struct dp_buf *b, struct metrics_slot *slots, int n, const char *name,
                       const char *label, const char *help)
{
    metrics_emit_head(b, name, "counter", help);
    for (int i = 0; i < n; i++) {
        if (atomic_load_explicit(&slots[i].state, memory_order_acquire) != SLOT_READY)
            continue;
        dp_buf_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, slots[i].key,
                      (unsigned long long)atomic_load_explicit(&slots[i].count, memory_order_relaxed));
    }
}

static void (*report_prometheus)(struct dp_buf *b);
static void (*report_json)(struct dp_buf *b);

void metrics_set_report(void (*prometheus)(struct dp_buf *b), void (*json)(struct dp_buf *b))
{
    report_prometheus = prometheus;
    report_json = json;
}

void metrics_report_json(struct dp_buf *b)
{
    if (report_json)
        report_json(b);
}

void metrics_prometheus(struct dp_buf *b)
{
    emit_connections(b);
    emit_slots(b, kind_slots, METRICS_KIND_SLOTS, "duckpond_statements_total", "kind",
               "Statements run, by kind.");
    emit_slots(b, state_slots, METRICS_STATE_SLOTS, "duckpond_errors_total", "sqlstate",
               "Errors sent to clients, by SQLSTATE.");
    if (report_prometheus)
        report_prometheus(b);
}

void metrics_sync_lag_from(int64_t wall_us)
{
    atomic_store_explicit(&sync_lag_from, wall_us > 0 ? wall_us : 0, memory_order_relaxed);
}

double metrics_sync_lag_s(void)
{
    int64_t from = atomic_load_explicit(&sync_lag_from, memory_order_relaxed);
    if (from <= 0)
        return from < 0 ? -1 : 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double d = ((double)now.tv_sec * 1e6 + (double)now.tv_nsec / 1e3 - (double)from) / 1e6;
    return d > 0 ? d : 0;
}
