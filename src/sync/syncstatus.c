/*
 * syncstatus.c -- what the status page and /metrics show of the syncs:
 * per slot the state, the applied LSN and the lag, and per table its
 * state (copying, streaming, stopped and why), rows, lag and applied LSN.
 *
 * The sync's thread publishes its figures under the sync's lock
 * (sync_publish); readers on HTTP threads take the list of syncs' lock,
 * then each sync's, and never see a sync being freed (sync_stop takes it
 * off the list first).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "sync_int.h"

static const char *state_name(enum sync_table_state st)
{
    return st == SYNC_COPYING ? "copying" : st == SYNC_STREAMING ? "streaming" : "stopped";
}

void sync_publish(struct sync *s)
{
    uint64_t flushed = s->applied_lsn;
    if (!s->in_tx && !s->skip_xact && s->received_lsn > flushed)
        flushed = s->received_lsn;
    pthread_mutex_lock(&s->mu);
    s->shown_applied_lsn = s->applied_lsn;
    s->shown_lag_bytes = s->server_lsn > flushed ? s->server_lsn - flushed : 0;
    s->shown_lag_from_us = s->in_tx ? s->lag_from_us : 0;
    metrics_sync_lag_from(s->shown_lag_from_us);
    pthread_mutex_unlock(&s->mu);
}

/* Seconds behind: since the commit of the oldest change DuckDB does not hold. Under s->mu. */
static double lag_seconds(const struct sync *s)
{
    if (!s->shown_lag_from_us)
        return 0;
    double d = (double)(sync_now_us() - s->shown_lag_from_us) / 1e6;
    return d > 0 ? d : 0;
}

/* A JSON string member value (names here are PostgreSQL's: quote and escape). */
static void json_str(struct dp_buf *b, const char *v)
{
    dp_buf_byte(b, '"');
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '"' || *p == '\\')
            dp_buf_printf(b, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            dp_buf_printf(b, "\\u%04x", *p);
        else
            dp_buf_byte(b, *p);
    }
    dp_buf_byte(b, '"');
}

static void json_one(struct dp_buf *b, struct sync *s)
{
    char lsn[32];
    pgo_lsn_format(s->shown_applied_lsn, lsn, sizeof lsn);
    double lag = lag_seconds(s);
    dp_buf_str(b, "{\"slot\":");
    json_str(b, s->slot);
    dp_buf_str(b, ",\"publication\":");
    json_str(b, s->opt.publication);
    dp_buf_str(b, ",\"schema\":");
    json_str(b, s->schema);
    dp_buf_str(b, ",\"state\":");
    json_str(b, s->state);
    dp_buf_str(b, ",\"last_error\":");
    json_str(b, s->last_error);
    dp_buf_printf(b,
                  ",\"applied_lsn\":\"%s\",\"lag_bytes\":%" PRIu64
                  ",\"lag_seconds\":%.3f,\"reconnects\":%" PRIu64 ",\"tables\":[",
                  lsn, s->shown_lag_bytes, lag, s->reconnects);
    for (size_t i = 0; i < s->ntables; i++) {
        const struct sync_table *t = s->tables[i];
        bool live = t->state != SYNC_STOPPED;
        dp_buf_str(b, i ? ",{\"name\":" : "{\"name\":");
        json_str(b, t->name);
        dp_buf_str(b, ",\"pg\":");
        char pg[300];
        snprintf(pg, sizeof pg, "%s.%s", t->pg_schema, t->pg_name);
        json_str(b, pg);
        dp_buf_str(b, ",\"state\":");
        json_str(b, state_name(t->state));
        dp_buf_str(b, ",\"why\":");
        json_str(b, t->why ? t->why : "");
        dp_buf_printf(
            b, ",\"rows\":%" PRId64 ",\"lag_bytes\":%" PRIu64 ",\"lag_seconds\":%.3f,\"applied_lsn\":\"%s\"}",
            t->rows, live ? s->shown_lag_bytes : 0, live ? lag : 0, lsn);
    }
    dp_buf_str(b, "]}");
}

void sync_status_json(struct dp_buf *b)
{
    dp_buf_str(b, ",\"sync\":[");
    pthread_mutex_lock(&sync_list_mu);
    for (size_t i = 0; i < sync_list_len; i++) {
        struct sync *s = sync_list[i];
        if (i)
            dp_buf_byte(b, ',');
        pthread_mutex_lock(&s->mu);
        json_one(b, s);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&sync_list_mu);
    dp_buf_byte(b, ']');
}

/* Label values are names: keep them to characters that need no escaping. */
static void label(struct dp_buf *b, const char *v)
{
    for (const char *p = v; *p; p++)
        dp_buf_byte(b, (*p == '"' || *p == '\\' || *p == '\n') ? '_' : *p);
}

static void prom_one(struct dp_buf *b, struct sync *s)
{
    double lag = lag_seconds(s);
    for (size_t i = 0; i < s->ntables; i++) {
        const struct sync_table *t = s->tables[i];
        bool live = t->state != SYNC_STOPPED;
        const char *metric[] = {"duckpond_sync_table_rows", "duckpond_sync_table_lag_bytes",
                                "duckpond_sync_table_lag_seconds", "duckpond_sync_table_applied_lsn",
                                "duckpond_sync_table_state"};
        for (int m = 0; m < 5; m++) {
            dp_buf_printf(b, "%s{slot=\"", metric[m]);
            label(b, s->slot);
            dp_buf_str(b, "\",table=\"");
            label(b, t->name);
            if (m == 4)
                dp_buf_printf(b, "\",state=\"%s", state_name(t->state));
            dp_buf_str(b, "\"} ");
            switch (m) {
            case 0: dp_buf_printf(b, "%" PRId64 "\n", t->rows); break;
            case 1: dp_buf_printf(b, "%" PRIu64 "\n", live ? s->shown_lag_bytes : 0); break;
            case 2: dp_buf_printf(b, "%.3f\n", live ? lag : 0); break;
            case 3: dp_buf_printf(b, "%" PRIu64 "\n", s->shown_applied_lsn); break;
            default: dp_buf_str(b, "1\n"); break;
            }
        }
    }
}

void sync_status_prometheus(struct dp_buf *b)
{
    pthread_mutex_lock(&sync_list_mu);
    if (sync_list_len) {
        dp_buf_str(b,
                   "# HELP duckpond_sync_table_rows Rows of a table mirrored from PostgreSQL.\n"
                   "# TYPE duckpond_sync_table_rows gauge\n"
                   "# HELP duckpond_sync_table_lag_bytes WAL bytes the table's slot is behind.\n"
                   "# TYPE duckpond_sync_table_lag_bytes gauge\n"
                   "# HELP duckpond_sync_table_lag_seconds Seconds since the oldest commit not yet applied.\n"
                   "# TYPE duckpond_sync_table_lag_seconds gauge\n"
                   "# HELP duckpond_sync_table_applied_lsn The last commit LSN DuckDB holds.\n"
                   "# TYPE duckpond_sync_table_applied_lsn gauge\n"
                   "# HELP duckpond_sync_table_state The table's state (copying, streaming, stopped).\n"
                   "# TYPE duckpond_sync_table_state gauge\n");
    }
    for (size_t i = 0; i < sync_list_len; i++) {
        pthread_mutex_lock(&sync_list[i]->mu);
        prom_one(b, sync_list[i]);
        pthread_mutex_unlock(&sync_list[i]->mu);
    }
    pthread_mutex_unlock(&sync_list_mu);
}
