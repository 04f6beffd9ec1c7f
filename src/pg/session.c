/*
 * session.c -- one PostgreSQL client connection, on its own thread: its
 * life from the accepted socket to the end, the dispatch of messages, and
 * the transaction state.
 *
 * A session owns a DuckDB connection and everything PostgreSQL keeps per
 * backend: the transaction state reported in ReadyForQuery, prepared
 * statements and portals of the extended protocol (stmt.c, portal.c,
 * query.c), and session settings (session_settings.c). It reads messages
 * through its pgconn, builds every reply whole in the output buffer, and
 * writes that buffer out before it blocks to read again.
 *
 * Transaction state (I, T, E): PostgreSQL's rules layered over DuckDB's.
 * It changes in one function, tx_transition, on three events: a
 * transaction began (I -> T), a statement failed (T -> E: only COMMIT or
 * ROLLBACK are then accepted, and both roll back), a transaction ended
 * (-> I). Catalog changes made inside a transaction are announced to the
 * batcher again when it ends, since only then do they show (or vanish).
 * A plain INSERT goes to the batcher in autocommit (session_may_batch);
 * inside a transaction begun in the current catalog generation it is
 * applied on the session's own connection by the batcher's means
 * (session_may_apply, duckpond_write_apply), its rows the transaction's.
 *
 * The write lane (SET duckpond.write_lane = on, the server's --write-lane
 * by default): a transaction's first write, as DuckDB types the statement,
 * waits its turn in the database's FIFO write lane (duckpond_lane_enter,
 * bounded by lock_timeout) and holds it until the transaction ends, so
 * that writers of the same rows queue instead of failing with 40001. The
 * lane is left in tx_transition when the transaction ends, after DuckDB's
 * COMMIT or ROLLBACK, and by the connection's close when the client goes.
 * DuckDB takes a transaction's snapshot when it first binds a table,
 * preparing statements included (a Parse after BEGIN would take it before
 * the lane): with the lane on, BEGIN reaches DuckDB only with the
 * transaction's first statement that DuckDB runs (session_tx_start), so
 * that statements parsed before run outside it. It goes just before the
 * wait in the lane (BEGIN binds no table), which keeps it out of the time
 * the lane is held.
 * INSERTs the batcher commits take no place in it: they only append, and
 * the batcher's writer never waits for the lane, so a holder waiting for
 * the batcher cannot deadlock.
 *
 * Live bars (CALL duckpond_bars): only the batcher's writer keeps them, so
 * any other write naming a tick or bar table -- what DuckDB runs itself,
 * an INSERT applied inside a transaction, COPY FROM -- is refused with
 * 55000 (session_write_allowed, duckpond_bars_check).
 *
 * Ack modes (SET duckpond.ack, the server's --ack by default): "commit"
 * acknowledges a batched INSERT or COPY once DuckDB has committed it;
 * "journal" once it is in the batcher's journal on disk, applied behind.
 * A session that wrote in journal mode then waits, before its next
 * statement that DuckDB runs, until its own journaled writes are applied
 * (read-your-writes), for at most SESSION_APPLIED_WAIT_MS.
 *
 * idle_in_transaction_session_timeout: a session inside a transaction
 * that waits longer than that for its client's next command is ended
 * with FATAL 25P03, as PostgreSQL does, so that a forgotten BEGIN does
 * not hold its snapshot and its slot for ever.
 *
 * The end: every way a connection ends is decided with a reason
 * (pgconn_disconnect: a FATAL error, Terminate, the client gone, a failed
 * write, a refused startup; or the registry, which shuts down the socket
 * of a connection past its authentication deadline or crowded out before
 * authenticating) and carried out in one place, session_end, which logs
 * the reason and frees the session on its own thread after its loop,
 * never from inside the code that noticed the end.
 */
#include "session.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "plancache.h"
#include "session_int.h"

#define SESSION_APPLIED_WAIT_MS 5000

/*
 * A session thread's stack. DuckDB's parser and binder recurse per nesting
 * level: an expression nested to just under DuckDB's
 * max_expression_depth (1000) needs more than 1 MiB and less than 2 MiB;
 * 4 MiB leaves twice that, and stack pages never touched cost no memory.
 */
#define SESSION_STACK_BYTES (4u << 20)

/* ------------------------------------------------------------------ errors */

void session_error(struct session *s, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pgconn_verror(&s->pc, sqlstate, fmt, ap);
    va_end(ap);
    session_tx_failed(s);
}

void session_duckdb_error(struct session *s, duckdb_error_type type, const char *message)
{
    pgconn_duckdb_error(&s->pc, type, message, registry_timed_out(&s->reg));
    session_tx_failed(s);
}

/* ------------------------------------------------------- transaction state */

enum tx_event {
    TX_BEGAN, /* BEGIN ran */
    TX_ERROR, /* a statement failed */
    TX_ENDED, /* COMMIT or ROLLBACK ran (or failed: either way the transaction is over) */
};

/* The one place the transaction state changes. */
static void tx_transition(struct session *s, enum tx_event ev)
{
    switch (ev) {
    case TX_BEGAN:
        s->tx = TX_OPEN;
        s->tx_clock.known = false;
        break;
    case TX_ERROR:
        if (s->tx == TX_OPEN)
            s->tx = TX_FAILED;
        break;
    case TX_ENDED:
        s->tx = TX_IDLE;
        s->tx_pending = false;
        duckpond_lane_leave(s->conn); /* DuckDB's transaction is over: the next writer may go */
        if (s->tx_ddl) {              /* its catalog changes now show, or are gone */
            s->tx_ddl = false;
            duckpond_batcher_schema_changed(s->env->batcher);
        }
        break;
    }
}

void session_tx_failed(struct session *s)
{
    tx_transition(s, TX_ERROR);
}

/* Runs a statement on the DuckDB connection; queues the error if it fails and report is set. 0, or -1. */
static int run_plain(struct session *s, const char *sql, bool report)
{
    duckdb_result res;
    registry_run_begin(&s->reg);
    duckdb_state rc = duckdb_query(s->dcon, sql, &res);
    registry_run_end(&s->reg);
    int out = 0;
    if (rc != DuckDBSuccess) {
        if (report)
            session_duckdb_error(s, duckdb_result_error_type(&res), duckdb_result_error(&res));
        out = -1;
    }
    duckdb_destroy_result(&res);
    return out;
}

int session_tx_begin(struct session *s, char *tag, size_t len)
{
    snprintf(tag, len, "BEGIN");
    if (s->tx == TX_OPEN) {
        pgwire_notice(&s->pc.out, "25001", "there is already a transaction in progress");
        return 0;
    }
    /* read before DuckDB's snapshot is taken: a later change of the catalog then shows as another generation */
    uint64_t gen = plancache_gen(s);
    if (session_wait_own_writes(s) != 0 || (!s->lane_on && run_plain(s, "BEGIN TRANSACTION", true) != 0))
        return -1;
    s->tx_gen = gen;
    tx_transition(s, TX_BEGAN);
    s->tx_pending = s->lane_on; /* begun in DuckDB by its first statement (see the top) */
    return 0;
}

int session_tx_start(struct session *s)
{
    if (!s->tx_pending)
        return 0;
    s->tx_pending = false;
    return run_plain(s, "BEGIN TRANSACTION", true);
}

int session_tx_end(struct session *s, bool commit, char *tag, size_t len)
{
    snprintf(tag, len, "%s", commit ? "COMMIT" : "ROLLBACK");
    if (s->tx == TX_IDLE) {
        pgwire_notice(&s->pc.out, "25P01", "there is no transaction in progress");
        return 0;
    }
    if (s->tx_pending) { /* DuckDB never saw it */
        tx_transition(s, TX_ENDED);
        return 0;
    }
    if (s->tx == TX_FAILED || !commit) {
        run_plain(s, "ROLLBACK", false); /* DuckDB may have ended it already */
        tx_transition(s, TX_ENDED);
        snprintf(tag, len, "ROLLBACK");
        return 0;
    }
    int rc = run_plain(s, "COMMIT", true);
    tx_transition(s, TX_ENDED); /* a failed COMMIT ends the transaction too */
    return rc;
}

void session_tx_end_implicit(struct session *s, bool ok)
{
    if (s->tx == TX_IDLE)
        return;
    if (s->tx_pending)
        s->tx_pending = false; /* DuckDB never saw it */
    else if (ok && s->tx == TX_OPEN)
        run_plain(s, "COMMIT", true); /* a failed COMMIT has ended it too */
    else
        run_plain(s, "ROLLBACK", false);
    tx_transition(s, TX_ENDED);
}

/*
 * A statement that may change the catalog ran: cached shapes of every
 * session, and the batcher's column types for journaled writes, are
 * dropped now and, inside a transaction, again at its end.
 */
void session_catalog_changed(struct session *s)
{
    duckpond_batcher_schema_changed(s->env->batcher);
    if (s->tx != TX_IDLE)
        s->tx_ddl = true;
}

bool session_may_batch(const struct session *s)
{
    return s->tx == TX_IDLE && s->env->batcher && s->env->batch && s->batch_on;
}

bool session_may_apply(const struct session *s)
{
    return s->tx == TX_OPEN && s->env->batcher && s->env->batch && s->batch_on &&
           s->tx_gen == plancache_gen(s);
}

/* ------------------------------------------------------------ write lane */

/* Whether a statement of DuckDB's type t may write (everything but reads and session-level statements). */
static bool statement_writes(duckdb_statement_type t)
{
    switch (t) {
    case DUCKDB_STATEMENT_TYPE_SELECT:
    case DUCKDB_STATEMENT_TYPE_EXPLAIN:
    case DUCKDB_STATEMENT_TYPE_TRANSACTION:
    case DUCKDB_STATEMENT_TYPE_SET:
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET:
    case DUCKDB_STATEMENT_TYPE_PREPARE:
    case DUCKDB_STATEMENT_TYPE_RELATION: return false;
    default: return true;
    }
}

int session_lane_enter(struct session *s, duckdb_statement_type type)
{
    if (!s->lane_on || !statement_writes(type) || duckpond_lane_held(s->conn))
        return 0;
    registry_run_begin(&s->reg); /* a cancel or statement_timeout ends the wait */
    int rc =
        duckpond_lane_enter(s->conn, s->lock_timeout_ms > INT32_MAX ? INT32_MAX : (int)s->lock_timeout_ms);
    bool timed_out = registry_timed_out(&s->reg);
    registry_run_end(&s->reg);
    if (rc == DUCKPOND_OK)
        return 0;
    if (rc == DUCKPOND_LOCKED)
        session_error(s, "55P03", "%s", duckpond_conn_errmsg(s->conn));
    else if (rc == DUCKPOND_INTERRUPTED)
        session_error(s, "57014", "%s",
                      timed_out ? "canceling statement due to statement timeout"
                                : "canceling statement due to user request");
    else
        session_error(s, duckpond_sqlstate(rc, NULL), "cannot enter the write lane: %s",
                      duckpond_strerror(rc));
    return -1;
}

int session_write_allowed(struct session *s, const char *sql, duckdb_statement_type type)
{
    if (!statement_writes(type) || duckpond_bars_check(s->conn, sql) == DUCKPOND_OK)
        return 0;
    session_error(s, "55000", "%s", duckpond_conn_errmsg(s->conn));
    return -1;
}

void session_lane_statement_done(struct session *s)
{
    if (s->tx == TX_IDLE)
        duckpond_lane_leave(s->conn);
}

/* ------------------------------------------------------ read-your-writes */

void session_note_seq(struct session *s, uint64_t seq)
{
    if (seq > s->journal_seq)
        s->journal_seq = seq;
}

int session_wait_own_writes(struct session *s)
{
    if (s->journal_seq <= s->journal_seen || !s->env->batcher)
        return 0;
    registry_run_begin(&s->reg);
    int rc = duckpond_batcher_wait_applied(s->env->batcher, s->journal_seq, SESSION_APPLIED_WAIT_MS);
    registry_run_end(&s->reg);
    if (rc == DUCKPOND_OK) {
        s->journal_seen = s->journal_seq;
        return 0;
    }
    if (rc == DUCKPOND_TIMEOUT) {
        session_error(s, "57014",
                      "canceling statement: this session's journaled writes (up to sequence %" PRIu64
                      ") were not applied within %d ms; the writes are durable, try the statement again",
                      s->journal_seq, SESSION_APPLIED_WAIT_MS);
        return -1;
    }
    session_error(s, duckpond_sqlstate(rc, NULL),
                  "this session's journaled writes (up to sequence %" PRIu64 ") cannot be applied now: %s",
                  s->journal_seq, duckpond_strerror(rc));
    return -1;
}

/* -------------------------------------------------------------- dispatch */

/* Dispatches one message of the ready phase. */
static void dispatch(struct session *s, const struct pgmsg *m)
{
    if (pgconn_skips(&s->pc, m->type))
        return;
    switch (m->type) {
    case 'Q': query_simple(s, m); break;
    case 'P':
        pgconn_begin_extended(&s->pc);
        query_parse(s, m);
        break;
    case 'B':
        pgconn_begin_extended(&s->pc);
        query_bind(s, m);
        break;
    case 'D':
        pgconn_begin_extended(&s->pc);
        query_describe(s, m);
        break;
    case 'E':
        pgconn_begin_extended(&s->pc);
        query_execute(s, m);
        break;
    case 'C':
        pgconn_begin_extended(&s->pc);
        query_close(s, m);
        break;
    case 'S': query_sync(s); break;
    case 'H': pgconn_flush(&s->pc); break;
    case 'X': pgconn_disconnect(&s->pc, "the client sent Terminate"); break;
    case 'd':
    case 'c':
    case 'f': break; /* the rest of a COPY that failed: ignored, as PostgreSQL does */
    case 'F':
        session_error(s, "0A000", "the function call protocol is not supported");
        if (!s->pc.extended)
            pgwire_ready(&s->pc.out, s->tx);
        break;
    default: pgconn_fatal(&s->pc, "08P01", "unexpected message type 0x%02x", (unsigned char)m->type); break;
    }
}

/* ------------------------------------------------------------- lifecycle */

/* A session for an accepted socket (takes fd only when it returns one); NULL when memory runs out. */
static struct session *session_new(const struct pg_env *env, int fd, bool loopback, const char *peer)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->env = env;
    s->loopback = loopback;
    snprintf(s->peer, sizeof s->peer, "%s", peer ? peer : "?");
    s->tx = TX_IDLE;
    pgconn_init(&s->pc, fd);
    registry_entry_init(&s->reg, fd);
    settings_refresh(s);
    return s;
}

/* Frees everything of a session and closes its socket. */
static void session_free(struct session *s)
{
    portal_drop_all(s);
    stmt_drop_all(s);
    if (s->json_stmt)
        duckdb_destroy_prepare(&s->json_stmt);
    free(s->where.db);
    free(s->where.schema);
    plancache_free(s->plans);
    settings_free(s);
    registry_set_dcon(&s->reg, NULL, NULL);
    if (s->conn)
        duckpond_disconnect(s->conn); /* rolls back an open transaction */
    registry_entry_destroy(&s->reg);
    pgconn_free(&s->pc);
    free(s);
}

/*
 * The one way a connection ends: sends what is queued (a FATAL error, say),
 * logs the reason, takes the session out of the registry (no cancel can
 * reach it after that), frees it and closes the socket. Runs on the
 * session's own thread after its loop, or on the accepting thread for a
 * session whose thread never started.
 */
static void session_end(struct session *s, const char *reason)
{
    struct registry *reg = s->env->registry;
    const char *registry_why = registry_end_reason(reg, &s->reg);
    if (registry_why)
        reason = registry_why; /* the read that failed was only its consequence */
    else if (s->pc.peer_closed && registry_stopping(reg))
        reason = "the server is shutting down";
    pgconn_flush(&s->pc);
    if (s->reg.pid)
        fprintf(stderr, "duckpond: connection %" PRId32 " (user \"%s\" from %s) closed: %s\n", s->reg.pid,
                s->user, s->peer, reason);
    else
        fprintf(stderr, "duckpond: connection from %s closed%s%s%s: %s\n", s->peer,
                s->user[0] ? " (user \"" : "", s->user, s->user[0] ? "\")" : "", reason);
    bool started = s->started;
    bool listed = registry_release(reg, &s->reg);
    session_free(s);
    if (started)
        metrics_conn_close(METRICS_PG);
    if (listed)
        registry_thread_done(reg);
}

/*
 * Before the next command inside a transaction: waits for it at most
 * idle_in_transaction_session_timeout. 0 to read on, or -1 when the
 * session ends (FATAL 25P03 queued on a timeout).
 */
static int wait_idle_in_transaction(struct session *s)
{
    if (s->tx == TX_IDLE || s->idle_tx_timeout_ms <= 0 || s->pc.extended)
        return 0;
    int ms = s->idle_tx_timeout_ms > INT_MAX ? INT_MAX : (int)s->idle_tx_timeout_ms;
    int rc = pgconn_wait_input(&s->pc, ms);
    if (rc == 0)
        pgconn_fatal(&s->pc, "25P03", "terminating connection due to idle-in-transaction timeout");
    return rc > 0 ? 0 : -1;
}

/* The thread body of a session: startup, then messages until the connection ends. */
static void *session_main(void *arg)
{
    struct session *s = arg;
    s->started = true;
    metrics_conn_open(METRICS_PG);
    if (session_startup(s) == 0) {
        while (!s->pc.closing) {
            struct pgmsg m;
            if (wait_idle_in_transaction(s) != 0 || pgconn_read(&s->pc, false, &m) != 0)
                break;
            dispatch(s, &m);
        }
    }
    if (!s->pc.closing) /* every path out sets a reason; this one never should be taken */
        pgconn_disconnect(&s->pc, "the session ended for no recorded reason");
    session_end(s, s->pc.reason);
    return NULL;
}

void session_start(const struct pg_env *env, int fd, bool loopback, const char *peer)
{
    struct session *s = session_new(env, fd, loopback, peer);
    if (!s) {
        fprintf(stderr, "duckpond: connection from %s closed: out of memory\n", peer ? peer : "?");
        close(fd);
        return;
    }
    if (registry_add(env->registry, &s->reg) != 0) {
        session_end(s, "too many connections, far past the limit");
        return;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, SESSION_STACK_BYTES);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, session_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        session_end(s, "could not start a thread for it");
}
