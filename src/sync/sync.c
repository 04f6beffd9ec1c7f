/*
 * sync.c -- a PostgreSQL publication mirrored into DuckDB: the sync's
 * thread, its two libpq connections and the replication stream.
 *
 * One session of the thread: connect (a replication=database connection
 * for the slot and the stream, a plain one for the catalog and the
 * initial copy); when DuckDB holds no state for the slot, create the slot
 * (EXPORT_SNAPSHOT) and copy every table under its snapshot, storing the
 * slot's consistent point with the copy in one DuckDB transaction; then
 * START_REPLICATION from the stored LSN and apply the stream
 * (syncapply.c). Any failure ends the session: what DuckDB has not
 * committed is rolled back, and the next session resumes from the stored
 * LSN after a backoff (100 ms doubling to 10 s), so a PostgreSQL restart
 * or a network drop costs a reconnect, never a change lost or doubled.
 *
 * Many PostgreSQL transactions share one DuckDB transaction: it commits
 * when the stream has nothing more to give right now, or after 100 ms or
 * 200,000 changes, always at a PostgreSQL commit boundary. When the sync
 * is behind (the transactions it receives committed in PostgreSQL more
 * than 5 s ago: a queue to catch up on) it commits only after 1 s or
 * 200,000 changes, idle or not: each commit's apply has a cost that does
 * not grow with its size (a scan of a large table's key), and while it
 * runs the socket fills and the server stops decoding; fewer, larger
 * commits catch up sooner, and the lag is seconds by then anyway. The flush
 * position reported to PostgreSQL is the stored LSN, sent only after
 * DuckDB committed, so the slot never moves past what DuckDB holds.
 */
#include "sync.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sync_int.h"

#define COMMIT_INTERVAL_US 100000
#define COMMIT_INTERVAL_BEHIND_US 1000000
#define COMMIT_CHANGES 200000
#define BEHIND_US 5000000
#define STATUS_INTERVAL_US 1000000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000

/* The running syncs, for the status page and /metrics. */
pthread_mutex_t sync_list_mu = PTHREAD_MUTEX_INITIALIZER;
struct sync **sync_list;
size_t sync_list_len;
static size_t sync_list_cap;

int64_t sync_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sync_error(struct sync *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&s->mu);
    vsnprintf(s->last_error, sizeof s->last_error, fmt, ap);
    pthread_mutex_unlock(&s->mu);
    va_end(ap);
    fprintf(stderr, "duckpond: sync %s: %s\n", s->slot, s->last_error);
}

void sync_set_state(struct sync *s, const char *state)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->state, sizeof s->state, "%s", state);
    pthread_mutex_unlock(&s->mu);
}

int sync_query(struct sync *s, const char *sql, duckdb_result *res)
{
    if (duckdb_query(s->dcon, sql, res) == DuckDBSuccess)
        return 0;
    sync_error(s, "DuckDB: %s", duckdb_result_error(res));
    duckdb_destroy_result(res);
    return -1;
}

int sync_exec(struct sync *s, const char *sql)
{
    duckdb_result res;
    if (sync_query(s, sql, &res) != 0)
        return -1;
    duckdb_destroy_result(&res);
    return 0;
}

struct sync_table *sync_table_by_relid(struct sync *s, uint32_t relid)
{
    for (size_t i = 0; i < s->ntables; i++)
        if (s->tables[i]->relid == relid)
            return s->tables[i];
    return NULL;
}

struct sync_table *sync_table_by_name(struct sync *s, const char *pg_schema, const char *pg_name)
{
    for (size_t i = 0; i < s->ntables; i++)
        if (!strcmp(s->tables[i]->pg_schema, pg_schema) && !strcmp(s->tables[i]->pg_name, pg_name))
            return s->tables[i];
    return NULL;
}

void sync_table_free(struct sync_table *t)
{
    if (!t)
        return;
    if (t->app)
        duckdb_appender_destroy(&t->app);
    for (int i = 0; i < t->ncols; i++)
        free(t->cols[i].name);
    free(t->cols);
    free(t->key);
    free(t->pg_schema);
    free(t->pg_name);
    free(t->name);
    free(t->target);
    free(t->why);
    free(t->stage);
    free(t->stage_name);
    hashset_free(&t->round);
    dp_buf_free(&t->keylits);
    free(t);
}

/* ------------------------------------------------------------ connecting */

/*
 * Connects with the user's conninfo plus what the sync needs: the
 * replication mode (or none), and the settings that fix the text of
 * values (synctype.h). NULL with the error recorded.
 */
static PGconn *pg_connect(struct sync *s, bool replication)
{
    const char *keys[] = {"dbname", "replication", "options", "application_name", NULL};
    const char *vals[] = {s->opt.conninfo, replication ? "database" : NULL,
                          "-c datestyle=ISO -c intervalstyle=postgres -c timezone=UTC "
                          "-c extra_float_digits=3 -c bytea_output=hex",
                          "duckpond", NULL};
    if (!replication) {
        keys[1] = "options";
        vals[1] = vals[2];
        keys[2] = "application_name";
        vals[2] = "duckpond";
        keys[3] = NULL;
    }
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        sync_error(s, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Runs a command on a PostgreSQL connection; the result (caller clears) or NULL with the error recorded. */
static PGresult *pg_run(struct sync *s, PGconn *c, const char *sql, ExecStatusType want)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != want) {
        sync_error(s, "PostgreSQL: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

static void disconnect(struct sync *s)
{
    if (s->repl)
        PQfinish(s->repl);
    if (s->query)
        PQfinish(s->query);
    s->repl = s->query = NULL;
}

/* ---------------------------------------------------------- the slot's state */

/* The stored LSN of the slot: 1 and *lsn, 0 when there is none, -1 on error. */
static int state_load(struct sync *s, uint64_t *lsn)
{
    dp_buf_clear(&s->sql, 4096);
    dp_buf_str(&s->sql, "SELECT applied_lsn FROM duckpond_sync_state WHERE slot = ");
    dp_sql_literal(&s->sql, s->slot, strlen(s->slot));
    duckdb_result res;
    if (sync_query(s, s->sql.data, &res) != 0)
        return -1;
    int found = duckdb_row_count(&res) > 0;
    if (found)
        *lsn = duckdb_value_uint64(&res, 0, 0);
    duckdb_destroy_result(&res);
    return found;
}

/* Whether the slot exists on the server: 1, 0, or -1 on error. */
static int slot_exists(struct sync *s)
{
    const char *p[1] = {s->slot};
    PGresult *r = PQexecParams(s->query, "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", 1, NULL,
                               p, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) > 0 : -1;
    if (rc < 0)
        sync_error(s, "PostgreSQL: reading pg_replication_slots: %s", PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/*
 * The first start of a slot: (re)create it, exporting its snapshot, and
 * copy every table under that snapshot; the copy and the slot's
 * consistent point commit in one DuckDB transaction. 0 or -1.
 */
static int initial_copy(struct sync *s)
{
    sync_set_state(s, "copying");
    if (slot_exists(s) == 1) {
        const char *p[1] = {s->slot};
        PGresult *r =
            PQexecParams(s->query, "SELECT pg_drop_replication_slot($1)", 1, NULL, p, NULL, NULL, 0);
        PQclear(r);
    }
    dp_buf_clear(&s->sql, 4096);
    dp_buf_str(&s->sql, "CREATE_REPLICATION_SLOT ");
    dp_sql_ident(&s->sql, s->slot);
    dp_buf_str(&s->sql, " LOGICAL pgoutput EXPORT_SNAPSHOT");
    PGresult *r = pg_run(s, s->repl, s->sql.data, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    uint64_t lsn = 0;
    char *snapshot = strdup(PQgetvalue(r, 0, 2));
    int rc = pgo_lsn_parse(PQgetvalue(r, 0, 1), &lsn) == 0 && snapshot ? 0 : -1;
    PQclear(r);
    if (rc == 0)
        rc = syncapply_begin(s);
    if (rc == 0) {
        dp_buf_clear(&s->sql, 4096);
        dp_buf_str(&s->sql, "DELETE FROM duckpond_sync_tables WHERE slot = ");
        dp_sql_literal(&s->sql, s->slot, strlen(s->slot));
        rc = sync_exec(s, s->sql.data);
    }
    if (rc == 0)
        rc = synccopy_run(s, snapshot);
    free(snapshot);
    if (rc == 0) {
        dp_buf_clear(&s->sql, 4096);
        dp_buf_str(&s->sql, "INSERT OR REPLACE INTO duckpond_sync_state VALUES (");
        dp_sql_literal(&s->sql, s->slot, strlen(s->slot));
        dp_buf_printf(&s->sql, ", %" PRIu64 ")", lsn);
        rc = sync_exec(s, s->sql.data);
    }
    if (rc == 0 && sync_exec(s, "COMMIT") == 0) {
        s->in_tx = false;
        s->applied_lsn = s->pending_lsn = lsn;
        return 0;
    }
    syncapply_abort(s);
    return -1;
}

/* ------------------------------------------------------------- the stream */

/* Sends a standby status update: flushed is what DuckDB holds. 0 or -1. */
static int send_status(struct sync *s, bool reply)
{
    uint64_t flushed = s->applied_lsn;
    /* Nothing pending and between transactions: everything received is applied
     * (the rest was of no table of ours), as PostgreSQL's own apply worker reports. */
    if (!s->in_tx && s->pending_lsn == s->applied_lsn && !s->skip_xact && s->received_lsn > flushed)
        flushed = s->received_lsn;
    uint8_t msg[PGO_STATUS_LEN];
    pgo_status_encode(msg, s->received_lsn, flushed, flushed, sync_now_us() - PGO_EPOCH_OFFSET_US, reply);
    if (PQputCopyData(s->repl, (const char *)msg, sizeof msg) != 1 || PQflush(s->repl) != 0) {
        sync_error(s, "sending the status update: %s", PQerrorMessage(s->repl));
        return -1;
    }
    s->last_status_us = sync_now_us();
    sync_publish(s);
    return 0;
}

static int start_replication(struct sync *s)
{
    char lsn[32];
    pgo_lsn_format(s->applied_lsn, lsn, sizeof lsn);
    dp_buf_clear(&s->sql, 4096);
    dp_buf_str(&s->sql, "START_REPLICATION SLOT ");
    dp_sql_ident(&s->sql, s->slot);
    dp_buf_printf(&s->sql, " LOGICAL %s (proto_version '1', publication_names ", lsn);
    struct dp_buf names = DP_BUF_INIT;
    dp_sql_ident(&names, s->opt.publication);
    dp_sql_literal(&s->sql, names.data ? names.data : "", names.len);
    dp_buf_free(&names);
    dp_buf_str(&s->sql, ")");
    PGresult *r = pg_run(s, s->repl, s->sql.data, PGRES_COPY_BOTH);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

/* A commit of PostgreSQL: the DuckDB transaction takes it; commits when it is time. */
static void on_commit(struct sync *s, const struct pgo_msg *m)
{
    if (s->skip_xact) {
        s->skip_xact = false;
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->xacts_applied++;
    pthread_mutex_unlock(&s->mu);
    if (!s->in_tx) /* nothing of ours in it */
        return;
    s->pending_lsn = m->end_lsn;
    s->pending_commit_time = m->commit_time + PGO_EPOCH_OFFSET_US;
}

/* One pgoutput message. 0, or -1 when the session must end. */
static int on_message(struct sync *s, const uint8_t *data, size_t len)
{
    char err[256];
    struct pgo_msg *m = &s->msg;
    if (pgo_decode(data, len, m, err, sizeof err) != 0) {
        sync_error(s, "%s", err);
        return -1;
    }
    switch (m->kind) {
    case PGO_BEGIN:
        s->skip_xact = m->lsn < s->applied_lsn;
        s->begin_time_us = m->commit_time + PGO_EPOCH_OFFSET_US;
        return 0;
    case PGO_COMMIT: on_commit(s, m); return 0;
    case PGO_RELATION: {
        struct sync_table *t = sync_table_by_name(s, m->nspname, m->relname);
        if (!t)
            return 0; /* added to the publication after the copy: not followed */
        t->relid = m->relid;
        if (t->state == SYNC_STOPPED)
            return 0;
        return syncapply_begin(s) == 0 ? syncddl_relation(s, t, m) : -1;
    }
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE:
        if (s->skip_xact)
            return 0;
        return syncapply_change(s, m);
    case PGO_TRUNCATE: return s->skip_xact ? 0 : syncapply_truncate(s, m);
    default: return 0; /* Origin, Type, Message */
    }
}

/*
 * Commits the DuckDB transaction when at a commit boundary and it is time:
 * idle (the stream has nothing buffered) unless behind, or the interval
 * or the size reached. 0 or -1.
 */
static int maybe_commit(struct sync *s, bool idle)
{
    if (!s->in_tx || s->pending_lsn == s->applied_lsn)
        return 0;
    int64_t now = sync_now_us();
    bool boundary = s->msg.kind == PGO_COMMIT;
    bool behind = s->pending_commit_time && now - s->pending_commit_time > BEHIND_US;
    int64_t interval = behind ? COMMIT_INTERVAL_BEHIND_US : COMMIT_INTERVAL_US;
    if (!boundary || ((!idle || behind) && now - s->tx_open_us < interval && s->tx_changes < COMMIT_CHANGES))
        return 0;
    if (syncapply_commit(s) != 0)
        return -1;
    return send_status(s, false);
}

/* One frame of the COPY stream. 0 or -1. */
static int on_frame(struct sync *s, const char *buf, int n)
{
    struct pgo_frame f;
    char err[256];
    if (pgo_frame_decode((const uint8_t *)buf, (size_t)n, &f, err, sizeof err) != 0) {
        sync_error(s, "%s", err);
        return -1;
    }
    if (f.wal_end > s->server_lsn)
        s->server_lsn = f.wal_end;
    if (f.kind == 'k') {
        if (f.wal_end > s->received_lsn && !s->in_tx && !s->skip_xact)
            s->received_lsn = f.wal_end;
        return f.reply_requested ? send_status(s, false) : 0;
    }
    if (f.wal_start > s->received_lsn)
        s->received_lsn = f.wal_start;
    if (on_message(s, f.data, f.len) != 0)
        return -1;
    return maybe_commit(s, false);
}

/* Waits up to ms for the replication socket to be readable. */
static void wait_readable(struct sync *s, int ms)
{
    struct pollfd p = {.fd = PQsocket(s->repl), .events = POLLIN};
    poll(&p, 1, ms);
}

/* Applies the stream until it fails or the sync stops. -1 (a failure) or 0 (stopping). */
static int stream(struct sync *s)
{
    if (start_replication(s) != 0)
        return -1;
    sync_set_state(s, "streaming");
    s->last_status_us = 0;
    while (!atomic_load(&s->stopping)) {
        char *buf = NULL;
        int n = PQgetCopyData(s->repl, &buf, 1);
        if (n > 0) {
            int rc = on_frame(s, buf, n);
            PQfreemem(buf);
            if (rc != 0)
                return -1;
            continue;
        }
        if (n < 0) {
            PGresult *r = PQgetResult(s->repl);
            sync_error(s, "the replication stream ended: %s",
                       r ? PQresultErrorMessage(r) : PQerrorMessage(s->repl));
            PQclear(r);
            return -1;
        }
        /* nothing buffered: commit what is complete, report, then wait */
        if (maybe_commit(s, true) != 0)
            return -1;
        if (sync_now_us() - s->last_status_us >= STATUS_INTERVAL_US && send_status(s, false) != 0)
            return -1;
        wait_readable(s, 100);
        if (PQconsumeInput(s->repl) != 1) {
            sync_error(s, "reading the replication stream: %s", PQerrorMessage(s->repl));
            return -1;
        }
    }
    return 0;
}

/* One session: connect, copy if needed, stream. 1 when it streamed (the backoff resets), 0 or -1. */
static int session(struct sync *s)
{
    uint64_t lsn = 0;
    sync_set_state(s, "connecting");
    if (!(s->query = pg_connect(s, false)) || !(s->repl = pg_connect(s, true)))
        return -1;
    if (synccopy_load_tables(s) != 0)
        return -1;
    int have = state_load(s, &lsn);
    if (have < 0)
        return -1;
    if (have && slot_exists(s) == 0) {
        sync_error(s, "the slot %s is gone from PostgreSQL: copying the tables again", s->slot);
        have = 0;
    }
    if (have) {
        s->applied_lsn = s->pending_lsn = lsn;
        if (syncddl_load_stopped(s) != 0)
            return -1;
        for (size_t i = 0; i < s->ntables; i++)
            if (s->tables[i]->state != SYNC_STOPPED && syncddl_reconcile(s, s->tables[i]) != 0)
                return -1;
    } else if (initial_copy(s) != 0) {
        return -1;
    }
    s->received_lsn = s->server_lsn = s->applied_lsn;
    int rc = stream(s);
    return rc == 0 ? 0 : 1;
}

/* Sleeps ms, waking early when the sync stops. */
static void nap(struct sync *s, int ms)
{
    for (int t = 0; t < ms && !atomic_load(&s->stopping); t += 50)
        usleep(50000);
}

static void *sync_main(void *arg)
{
    struct sync *s = arg;
    int backoff = BACKOFF_MIN_MS;
    while (!atomic_load(&s->stopping)) {
        int rc = session(s);
        if (s->in_tx)
            syncapply_abort(s);
        disconnect(s);
        if (atomic_load(&s->stopping))
            break;
        if (rc == 1)
            backoff = BACKOFF_MIN_MS;
        sync_set_state(s, "reconnecting");
        pthread_mutex_lock(&s->mu);
        s->reconnects++;
        pthread_mutex_unlock(&s->mu);
        nap(s, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    sync_set_state(s, "stopped");
    return NULL;
}

/* ------------------------------------------------------------- start, stop */

static const char state_ddl[] =
    "CREATE TABLE IF NOT EXISTS duckpond_sync_state(slot VARCHAR PRIMARY KEY, applied_lsn UBIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS duckpond_sync_tables(slot VARCHAR NOT NULL, pg_schema VARCHAR NOT NULL,"
    " pg_table VARCHAR NOT NULL, state VARCHAR NOT NULL, message VARCHAR);";

static void sync_free(struct sync *s)
{
    for (size_t i = 0; i < s->ntables; i++)
        sync_table_free(s->tables[i]);
    free(s->tables);
    if (s->conn)
        duckpond_disconnect(s->conn);
    pgo_msg_free(&s->msg);
    dp_buf_free(&s->conv);
    dp_buf_free(&s->sql);
    free((char *)s->opt.conninfo);
    free((char *)s->opt.publication);
    free(s->slot);
    free(s->schema);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Makes the schema and the state tables. 0, or -1 with the reason in err. */
static int prepare_duckdb(struct sync *s, char *err, size_t errlen)
{
    dp_buf_clear(&s->sql, 4096);
    dp_buf_str(&s->sql, "CREATE SCHEMA IF NOT EXISTS ");
    dp_sql_ident(&s->sql, s->schema);
    dp_buf_str(&s->sql, ";");
    dp_buf_str(&s->sql, state_ddl);
    duckdb_result res;
    if (s->sql.failed || duckdb_query(s->dcon, s->sql.data, &res) != DuckDBSuccess) {
        snprintf(err, errlen, "cannot make the sync's tables: %s",
                 s->sql.failed ? "out of memory" : duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return -1;
    }
    duckdb_destroy_result(&res);
    return 0;
}

static bool valid_name(const char *s)
{
    return s && *s && strlen(s) < 64;
}

int sync_start(duckpond_db *db, const struct sync_options *opt, struct sync **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!opt->conninfo || !valid_name(opt->publication) || (opt->slot && !valid_name(opt->slot)) ||
        (opt->schema && !valid_name(opt->schema))) {
        snprintf(err, errlen,
                 "--sync needs a conninfo and --sync-publication a name (slot and schema: names)");
        return -1;
    }
    struct sync *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->db = db;
    s->opt.conninfo = strdup(opt->conninfo);
    s->opt.publication = strdup(opt->publication);
    s->slot = opt->slot ? strdup(opt->slot) : dp_asprintf("duckpond_%s", opt->publication);
    s->schema = strdup(opt->schema ? opt->schema : "pg");
    snprintf(s->state, sizeof s->state, "starting");
    if (!s->opt.conninfo || !s->opt.publication || !s->slot || !s->schema) {
        snprintf(err, errlen, "out of memory");
        sync_free(s);
        return -1;
    }
    if (duckpond_connect(db, &s->conn) != DUCKPOND_OK) {
        snprintf(err, errlen, "cannot connect to the database: %s", duckpond_db_errmsg(db));
        sync_free(s);
        return -1;
    }
    s->dcon = duckpond_conn_duckdb(s->conn);
    pthread_mutex_lock(&sync_list_mu);
    int grown = dp_grow(&sync_list, &sync_list_cap, sync_list_len + 1, sizeof *sync_list);
    if (grown == 0)
        sync_list[sync_list_len++] = s;
    pthread_mutex_unlock(&sync_list_mu);
    if (grown != 0 || prepare_duckdb(s, err, errlen) != 0) {
        if (grown != 0)
            snprintf(err, errlen, "out of memory");
        sync_stop(s);
        return -1;
    }
    if (pthread_create(&s->thread, NULL, sync_main, s) != 0) {
        snprintf(err, errlen, "cannot start the sync's thread");
        sync_stop(s);
        return -1;
    }
    s->started = true;
    *out = s;
    return 0;
}

void sync_stop(struct sync *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    if (s->started)
        pthread_join(s->thread, NULL);
    pthread_mutex_lock(&sync_list_mu);
    for (size_t i = 0; i < sync_list_len; i++)
        if (sync_list[i] == s) {
            sync_list[i] = sync_list[--sync_list_len];
            break;
        }
    if (sync_list_len == 0) {
        free(sync_list);
        sync_list = NULL;
        sync_list_cap = 0;
    }
    pthread_mutex_unlock(&sync_list_mu);
    for (size_t i = 0; i < s->ntables; i++)
        duckpond_db_protect(s->db, s->schema, s->tables[i]->name, false);
    sync_free(s);
}
