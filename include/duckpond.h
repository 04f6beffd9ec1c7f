/*
 * duckpond.h -- the public C API of libduckpond, version 0.1.0.
 *
 * libduckpond lets many threads of one process read and write one DuckDB
 * database safely, and is what the duckpond server stands on. It wraps
 * DuckDB's C API with: a database opened from a config, a connection per
 * thread, DuckDB errors sorted into classes that carry a PostgreSQL SQLSTATE,
 * transactions retried on optimistic-concurrency conflicts, a pool of read
 * connections, a lock-file writer for tools that must open the file
 * themselves, consistent read-only snapshot files, and the ingest batcher
 * that turns many small writes into large Appender commits.
 *
 * This header is the specification: what it does not promise, the library
 * does not promise. Link with -lduckpond (soname libduckpond.so.0) and
 * DuckDB's libduckdb.
 *
 * CAVEATS -- read this first
 *
 * Threads
 *  - duckpond_db, duckpond_pool and duckpond_batcher handles may be used
 *    from any number of threads at once, except by the call that frees the
 *    handle (duckpond_close, duckpond_pool_free, duckpond_batcher_free),
 *    which must not run while another call on the same handle does.
 *  - A duckpond_conn belongs to one thread at a time: never use one from two
 *    threads at once. Give each thread its own (duckpond_connect), or check
 *    one out of a duckpond_pool and give it back. A connection may move to
 *    another thread between calls (as through the pool). This is DuckDB's
 *    own rule ("a cursor per thread"), and it covers the DuckDB handle that
 *    duckpond_conn_duckdb returns.
 *  - A duckpond_write belongs to the thread building it; once submitted,
 *    one thread at a time may wait on it, read its results and free it.
 *  - A duckpond_config is used by one thread at a time; duckpond_open and
 *    duckpond_locked_write only read it.
 *  - Callbacks (a transaction body, a locked-write body) run on the thread
 *    that made the call, before it returns.
 *  - The library starts threads: one writer per batcher, one flusher per
 *    batcher journal, and DuckDB its own workers ("threads" option). They
 *    inherit the signal mask of the thread that starts them (duckpond_open,
 *    duckpond_batcher_new): a program that takes signals in one thread
 *    (sigwait, signalfd) blocks them before those calls. The library
 *    installs no signal handlers and never aborts or exits the process.
 *
 * Processes
 *  - Only one process may open a database file read-write, and while it
 *    does, no other process may open it at all, not even READ_ONLY. A second
 *    open fails with DUCKPOND_LOCKED and a message naming the holder's PID.
 *    Processes that must share a file: talk to one duckpond server, or use
 *    duckpond_locked_write (serialised, slow: ~30 writes/s), or read a
 *    snapshot (duckpond_snapshot) that many processes may open READ_ONLY.
 *  - fork(): a child must not use any handle it inherited, not even to free
 *    it. The library's and DuckDB's threads do not exist in the child, locks
 *    they held stay held there, and a close in the child would write the
 *    parent's file from two processes. The child may only exec or _exit.
 *    The calls that make, free or hand out handles (duckpond_connect,
 *    duckpond_disconnect, duckpond_close, duckpond_pool_new, _get, _put
 *    and _free, duckpond_batcher_new, _stop and _free) check the process
 *    and return DUCKPOND_MISUSE in a child, doing nothing (no message is
 *    kept); other calls are not checked. Fork before opening, or start
 *    other programs with posix_spawn.
 *
 * Lifetimes
 *  - Handles are created and freed in pairs, in this order: the database,
 *    then pools, batchers and connections made from it, then writes made on
 *    a batcher; they are freed in the reverse order. A call that would free
 *    a handle still in use refuses with DUCKPOND_MISUSE and frees nothing:
 *    duckpond_close while a connection, pool or batcher of the database is
 *    open; duckpond_pool_free while a connection is checked out of it;
 *    duckpond_batcher_free while a write made on it is not freed;
 *    duckpond_disconnect of a connection checked out of a pool. A
 *    batcher may be stopped (duckpond_batcher_stop) before its writes are
 *    freed: stopping is what makes producers waiting on it return.
 *  - Strings passed in are copied unless a call says otherwise. A string a
 *    call returns belongs to the handle it came from, for as long as the
 *    call says (errmsg: until the next call on that handle).
 *
 * Transactions
 *  - A transaction belongs to its connection. duckpond_exec and
 *    duckpond_query_int64 run inside the connection's open transaction, if
 *    there is one (opened by "BEGIN" through duckpond_exec); a failed
 *    statement leaves it open and aborted until the caller rolls it back.
 *  - duckpond_tx_run and duckpond_snapshot run their own transaction: on a
 *    connection with one open they return DUCKPOND_MISUSE and leave it as
 *    it was. (DuckDB cannot be asked, and a BEGIN inside a transaction
 *    aborts it; so they look, with two small queries, whenever SQL run on
 *    the connection may have begun one -- it said BEGIN or START -- or the
 *    connection's DuckDB handle was handed out.)
 *  - duckpond_pool_put rolls back a transaction left open on a connection
 *    before any other thread can check the connection out.
 *    duckpond_disconnect rolls it back too (DuckDB does).
 *  - The batcher writes on its own connections, never inside a caller's
 *    transaction: a caller's ROLLBACK does not undo batched rows, and a
 *    caller's open transaction sees them only if they committed before it
 *    began (DuckDB's snapshot isolation). duckpond_write_apply is the
 *    exception: it writes a write's rows on the caller's connection,
 *    inside the caller's transaction.
 *
 * Structs the caller allocates
 *  - duckpond_retry, duckpond_pool_stats, duckpond_batcher_settings and
 *    duckpond_batcher_stats may gain fields at their end in later versions.
 *    Each begins with `struct_size`, which its DUCKPOND_..._INIT macro sets
 *    to the size the caller was compiled with; the macros take designated
 *    initialisers for the other fields:
 *        duckpond_retry r = DUCKPOND_RETRY_INIT(.max_attempts = 5);
 *    The library reads a struct as far as its size reaches and takes the
 *    default (0) for fields past it; it writes a struct (stats) as far as
 *    its size reaches and never past the fields it knows (those keep what
 *    the macro put there). It refuses with DUCKPOND_MISUSE a size smaller
 *    than the 0.1.0 layout, or larger than its own with a field it does not
 *    know set. In 0.1.0 a size of 0 (a struct zeroed or initialised without
 *    the macro) is read as the 0.1.0 layout; the first version whose struct
 *    grows refuses it, so use the macros. An uninitialised size is the
 *    caller's bug the library cannot see.
 *  - duckpond_value is a fixed layout (24 bytes on 64-bit systems) that
 *    never grows: arrays of it are passed. New kinds of value take new duckpond_value_kind numbers
 *    within the same union; a library refuses kinds it does not know.
 *
 * ERRORS
 *
 *  Every call that can fail returns an int status: DUCKPOND_OK (0) or one
 *  of the codes below. duckpond_strerror(status) names the code. The detail (DuckDB's own
 *  message, the column and value at fault...) is kept by the handle the call
 *  was made on and read with duckpond_db_errmsg / duckpond_conn_errmsg; it
 *  stays valid until the next call on that handle. A failed call changes
 *  nothing unless it says what it leaves behind.
 */
#ifndef DUCKPOND_H
#define DUCKPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duckdb.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- version */

/*
 * The version of this header: MAJOR.MINOR.PATCH. Before 1.0 a MINOR change
 * may change the API; the soname (libduckpond.so.MAJOR) changes with the
 * ABI once MAJOR is 1.
 */
#define DUCKPOND_VERSION_MAJOR 0
#define DUCKPOND_VERSION_MINOR 1
#define DUCKPOND_VERSION_PATCH 0
#define DUCKPOND_VERSION "0.1.0"

/*
 * The version of the library linked at run time ("0.1.0"), and its parts
 * in *major, *minor, *patch (each may be NULL): compare with DUCKPOND_VERSION
 * to tell the header a program was built with from the library it runs
 * with. Static string. Any thread.
 */
const char *duckpond_libversion(int *major, int *minor, int *patch);

/* ---------------------------------------------------------------- errors */

/*
 * Status codes. Each is also an error class with the PostgreSQL SQLSTATE a
 * server reports for it (duckpond_sqlstate refines the class further from
 * DuckDB's message, e.g. 42P01 for a missing table).
 *   X(name, value, sqlstate, description)
 */
#define DUCKPOND_STATUS_LIST(X)                                                           \
    X(OK, 0, "00000", "ok")                                                               \
    X(ERROR, 1, "XX000", "error")                                                         \
    X(MISUSE, 2, "XX000", "invalid argument or call")                                     \
    X(NOMEM, 3, "53200", "out of memory")                                                 \
    X(CONFLICT, 4, "40001", "transaction conflict; retry")                                \
    X(CONSTRAINT, 5, "23000", "constraint violated")                                      \
    X(LOCKED, 6, "55P03", "database file locked by another process")                      \
    X(SYNTAX, 7, "42601", "syntax or name error")                                         \
    X(INTERRUPTED, 8, "57014", "statement interrupted")                                   \
    X(INVALIDATED, 9, "XX000", "database invalidated by a fatal error; must be reopened") \
    X(TIMEOUT, 10, "57014", "timed out")                                                  \
    X(OVERLOADED, 11, "53400", "overloaded; try again later")                             \
    X(IO, 12, "58030", "I/O error")                                                       \
    X(CONVERSION, 13, "22P02", "value cannot be converted to the column's type")          \
    X(NOTFOUND, 14, "42P01", "no such object")                                            \
    X(CLOSED, 15, "57P01", "shutting down")                                               \
    X(READONLY, 16, "25006", "read-only")                                                 \
    X(PROTECTED, 17, "42501", "table written by duckpond alone (mirrored from PostgreSQL)")

enum duckpond_status {
#define DUCKPOND_X_ENUM(name, value, sqlstate, text) DUCKPOND_##name = value,
    DUCKPOND_STATUS_LIST(DUCKPOND_X_ENUM)
#undef DUCKPOND_X_ENUM
};

/* The code's description, e.g. "transaction conflict; retry". Static. Any thread. */
const char *duckpond_strerror(int status);

/*
 * The class of a DuckDB error, from its error type and message (both as
 * DuckDB gave them; message may be NULL). Optimistic-concurrency conflicts
 * ("Conflict on update", "Conflict on tuple deletion", write-write
 * conflicts on keys) give DUCKPOND_CONFLICT; "Could not set lock" gives
 * DUCKPOND_LOCKED; and so on. Other errors of DUCKDB_ERROR_TRANSACTION
 * ("Current transaction is aborted") are DUCKPOND_ERROR.
 * Pure; any thread.
 */
int duckpond_classify(duckdb_error_type type, const char *message);

/*
 * The five-character PostgreSQL SQLSTATE for a status, refined by the
 * message where it says more (23505 unique, 23502 not null, 42P01 table,
 * 42703 column, 42883 function..., 53100 when the disk is full). message
 * may be NULL. Static string. Pure; any thread.
 */
const char *duckpond_sqlstate(int status, const char *message);

/*
 * DuckDB's error type from the "<Type> Error:" a message starts with, for
 * the calls that give a message alone (duckdb_prepare_error,
 * duckdb_extract_statements_error); DUCKDB_ERROR_INVALID when it names no
 * type this knows. message may be NULL. Any thread.
 */
duckdb_error_type duckpond_error_type_of(const char *message);

/*
 * The PID of the process holding a database file's lock, read from DuckDB's
 * "Conflicting lock is held in ... (PID n)" message, or 0 if none is named.
 * Pure; any thread.
 */
long duckpond_lock_holder_pid(const char *message);

/* ---------------------------------------------------------------- config */

typedef struct duckpond_config duckpond_config;

/* A new, empty config in *out (NULL on failure). Free with duckpond_config_free. */
int duckpond_config_new(duckpond_config **out);
void duckpond_config_free(duckpond_config *cfg);

/*
 * Sets a DuckDB option by name ("access_mode" = "READ_ONLY", "threads",
 * "memory_limit", or any name duckdb_get_config_flag lists), replacing an
 * earlier value of the same name. Unknown names and bad values are reported
 * by duckpond_open, with the name, since DuckDB checks them there. Both
 * strings are copied. DUCKPOND_MISUSE on NULL or empty name or NULL value;
 * on failure cfg is as it was.
 */
int duckpond_config_set(duckpond_config *cfg, const char *name, const char *value);

/* ------------------------------------------------------------- database */

typedef struct duckpond_db duckpond_db;

/*
 * Opens the database at path (a file; ":memory:" for an in-memory one);
 * cfg may be NULL for DuckDB's defaults, and is not kept. Like sqlite3_open,
 * *out receives a handle even when the open fails (unless memory runs out,
 * when it is NULL), so that duckpond_db_errmsg can say why; the caller must
 * duckpond_close it in every case. A file held read-write by another
 * process gives DUCKPOND_LOCKED, with the holder's PID in the message. NULL
 * or empty path, a directory, a file that is not a DuckDB database, an
 * unknown option: DUCKPOND_MISUSE or DUCKPOND_IO with a message naming the
 * cause. Any thread.
 */
int duckpond_open(const char *path, const duckpond_config *cfg, duckpond_db **out);

/*
 * Closes the database and frees db (NULL: nothing, DUCKPOND_OK). Refuses
 * with DUCKPOND_MISUSE, closing nothing, while a connection, pool or batcher
 * made from db is still open (duckpond_db_errmsg says which), and in a
 * child process after fork. No other call on db may run meanwhile.
 */
int duckpond_close(duckpond_db *db);

/*
 * The detail of the last failed call on db (open, close, a batcher that
 * could not start): owned by db, valid until the next such call. "" when
 * there is none.
 */
const char *duckpond_db_errmsg(const duckpond_db *db);

/*
 * The underlying DuckDB database handle, owned by db: never close it.
 * Connections made on it directly are not counted by duckpond_close:
 * disconnect them before.
 */
duckdb_database duckpond_db_duckdb(duckpond_db *db);

/* The path given to duckpond_open, owned by db. */
const char *duckpond_db_path(const duckpond_db *db);

/*
 * Marks schema.table (DuckDB names; compared
 * without regard to case, as DuckDB does) as written by duckpond alone
 * (on: the PostgreSQL sync's tables) or no longer (off). Clients' writes
 * to a protected table are refused with DUCKPOND_PROTECTED (SQLSTATE
 * 42501) by the batcher and the server. 0, or DUCKPOND_NOMEM. Any thread.
 */
int duckpond_db_protect(duckpond_db *db, const char *schema, const char *table, bool on);

/* Whether schema.table is protected (above); schema NULL: table in any schema. Any thread. */
bool duckpond_db_protected(duckpond_db *db, const char *schema, const char *table);

/* ----------------------------------------------------------- connection */

typedef struct duckpond_conn duckpond_conn;

/*
 * A new connection to db in *out (NULL on failure), the calling thread's
 * until it hands it on. Any thread. DUCKPOND_MISUSE for a NULL db or one
 * whose open failed, and in a child process after fork.
 */
int duckpond_connect(duckpond_db *db, duckpond_conn **out);

/*
 * Closes a connection made by duckpond_connect (NULL: nothing, DUCKPOND_OK);
 * an open transaction on it is rolled back. DUCKPOND_MISUSE, closing
 * nothing, for a connection checked out of a pool (give it back with
 * duckpond_pool_put) and in a child process after fork.
 */
int duckpond_disconnect(duckpond_conn *conn);

/* The detail of the last failed call on conn. Owned by conn; "" when none. */
const char *duckpond_conn_errmsg(const duckpond_conn *conn);

/*
 * The underlying DuckDB connection, owned by conn (same thread rule): never
 * disconnect it. What is run on it directly is conn's too (transactions);
 * from then on duckpond_tx_run and duckpond_snapshot look for an open
 * transaction before each call (see CAVEATS, Transactions).
 */
duckdb_connection duckpond_conn_duckdb(duckpond_conn *conn);

/*
 * Runs sql (one or more statements) and discards any result, inside conn's
 * open transaction if there is one. Returns the class of the error, if any,
 * with DuckDB's message in duckpond_conn_errmsg; the statements before the
 * failing one have run (and, outside a transaction, committed).
 */
int duckpond_exec(duckpond_conn *conn, const char *sql);

/*
 * Runs sql and stores the first column of the first row, cast to BIGINT,
 * in *out. DUCKPOND_NOTFOUND when there is no row; *out = 0 for NULL; *out
 * is untouched on failure. Inside a transaction as duckpond_exec.
 */
int duckpond_query_int64(duckpond_conn *conn, const char *sql, int64_t *out);

/*
 * Records a DuckDB failure on conn: classifies it and copies the message
 * into the handle. Returns the class (never DUCKPOND_OK). For code that
 * calls DuckDB directly through duckpond_conn_duckdb and wants our
 * classification and message.
 */
int duckpond_conn_fail(duckpond_conn *conn, duckdb_error_type type, const char *message);

/* ------------------------------------------------- transactions + retry */

/*
 * Bounds on retrying a conflicting transaction: a versioned struct (see
 * CAVEATS), made with DUCKPOND_RETRY_INIT(...). Fields left 0 take the
 * defaults.
 */
typedef struct duckpond_retry {
    size_t struct_size;  /* sizeof(duckpond_retry) as the caller knows it */
    int max_attempts;    /* total attempts, default 20 */
    int base_delay_us;   /* first backoff cap, default 200 us */
    int max_delay_us;    /* backoff cap growth stops here, default 50 ms */
    int64_t deadline_ms; /* give up after this long, default 10 s */
} duckpond_retry;

#define DUCKPOND_RETRY_INIT(...)                           \
    {                                                      \
        .struct_size = sizeof(duckpond_retry), __VA_ARGS__ \
    }

/*
 * A transaction body. Runs inside BEGIN ... COMMIT on conn; attempt counts
 * from 1. Return DUCKPOND_OK to commit; any other status rolls back. Return
 * the status of the failed call (e.g. from duckpond_exec) so that conflicts
 * are retried and other errors end the transaction at once. It must not
 * end the transaction itself (COMMIT, ROLLBACK), and it may run more than
 * once: effects outside the database are its own to undo.
 */
typedef int (*duckpond_tx_fn)(duckpond_conn *conn, int attempt, void *arg);

/*
 * Runs fn in a transaction on conn, on the calling thread; on
 * DUCKPOND_CONFLICT (from fn or from COMMIT) rolls back, sleeps a random
 * time in [0, min(max, base * 2^n)) (exponential backoff with full jitter)
 * and runs fn again, until it commits, another error occurs (returned at
 * once), attempts run out or the deadline passes (both return
 * DUCKPOND_CONFLICT, the message saying how many attempts were made).
 * Every failed attempt is rolled back: on failure nothing of fn's is left.
 * retry may be NULL for defaults (DUCKPOND_MISUSE for one whose size the
 * library cannot read). *attempts_out, if not NULL, gets the number of
 * attempts made (0 when fn never ran). On a connection already in a
 * transaction: DUCKPOND_MISUSE, fn never runs, and that transaction is left
 * as it was.
 */
int duckpond_tx_run(duckpond_conn *conn, const duckpond_retry *retry, duckpond_tx_fn fn, void *arg,
                    int *attempts_out);

/* --------------------------------------------------------------- pool */

typedef struct duckpond_pool duckpond_pool;

/*
 * A pool of up to size connections to db, made lazily, in *out (NULL on
 * failure). Any thread. db must outlive it (duckpond_close refuses while it
 * is open).
 */
int duckpond_pool_new(duckpond_db *db, int size, duckpond_pool **out);

/*
 * Closes the pool's connections and frees it (NULL: nothing, DUCKPOND_OK).
 * Refuses with DUCKPOND_MISUSE, freeing nothing, while a connection is
 * checked out of it, and in a child process after fork. No other call on
 * the pool may run meanwhile.
 */
int duckpond_pool_free(duckpond_pool *pool);

/*
 * Checks a connection out into *out, waiting up to timeout_ms (0: do not
 * wait, -1: forever) for one to be returned. DUCKPOND_TIMEOUT when none came
 * (*out NULL). The connection is the caller's alone until duckpond_pool_put;
 * it holds no open transaction. Any thread.
 */
int duckpond_pool_get(duckpond_pool *pool, int timeout_ms, duckpond_conn **out);

/*
 * Returns a connection checked out of this pool; in every case but
 * DUCKPOND_MISUSE the connection is no longer the caller's. A transaction
 * left open on it, or aborted by an error, is rolled back first (counted in
 * rolled_back); settings changed with SET stay. Should the rollback fail
 * (an invalidated database), the connection is closed instead of kept, its
 * slot freed, and the rollback's class returned. DUCKPOND_MISUSE, changing
 * nothing, for a connection not checked out of this pool. Any thread.
 */
int duckpond_pool_put(duckpond_pool *pool, duckpond_conn *conn);

/* The pool's figures: a versioned struct (see CAVEATS). */
typedef struct duckpond_pool_stats {
    size_t struct_size; /* sizeof(duckpond_pool_stats) as the caller knows it */
    int size;           /* the cap */
    int open;           /* connections open now: made, and not closed */
    int in_use;         /* checked out now */
    int waiting;        /* threads waiting now */
    uint64_t waits;     /* checkouts that had to wait, ever */
    uint64_t timeouts;
    uint64_t rolled_back; /* transactions left open at duckpond_pool_put, rolled back */
} duckpond_pool_stats;

#define DUCKPOND_POOL_STATS_INIT(...)                           \
    {                                                           \
        .struct_size = sizeof(duckpond_pool_stats), __VA_ARGS__ \
    }

/*
 * Fills *out (as far as out->struct_size reaches) with the pool's figures
 * now. DUCKPOND_MISUSE for a NULL pool or out, or a size it cannot write
 * (see CAVEATS); *out is then untouched. Any thread.
 */
int duckpond_pool_stats_get(duckpond_pool *pool, duckpond_pool_stats *out);

/* ------------------------------------------------------------- live bars */

/*
 * Live bars: OHLCV tables that the ingest batcher keeps in the same DuckDB
 * transaction as each group of ticks it commits. Declared in SQL, on any
 * connection of a database whose batcher runs:
 *
 *   CALL duckpond_bars('trades', ts => 'ts', symbol => 'symbol',
 *                      price => 'price', size => 'qty', every => ['1 second', '1 minute']);
 *
 * (every defaults to ['1 second', '1 minute'], each column to its role's
 * name). For each interval it makes <table>_bars_<label> (1s, 1m, 5m, 1h,
 * 1d...) with columns symbol, bucket, open, high, low, close, volume,
 * vwap, trades, open_ts, close_ts, notional and PRIMARY KEY (symbol,
 * bucket), filled from the ticks already there, and records it in
 * main.duckpond_bars; it answers one row per interval (tick_table,
 * bar_table, every). It commits on its own, even inside a transaction;
 * declaring the same interval again does nothing.
 *
 * Only the batcher writes bars: other writes to a tick or bar table would
 * leave them wrong, and duckpond_bars_check lets a caller refuse them.
 * It returns DUCKPOND_OK when sql (one statement that writes, as DuckDB
 * types it) names no table with live bars nor a bar table, else
 * DUCKPOND_READONLY with conn's message naming the table. It costs nothing
 * while no bars are declared. The thread of conn.
 */
int duckpond_bars_check(duckpond_conn *conn, const char *sql);

/* ------------------------------------------------------------ write lane */

/*
 * The write lane: writing transactions of one database handle, one at a
 * time, first come first served, so that writers updating the same rows
 * queue instead of failing with DUCKPOND_CONFLICT. A connection enters
 * before its transaction's first write and leaves once the transaction
 * has ended (committed or rolled back). DuckDB takes a transaction's
 * snapshot at its first read of a table: a transaction whose first table
 * access comes after entering sees every change of the holders before it
 * and conflicts with none of them; one that read before entering may
 * still conflict, as under PostgreSQL's REPEATABLE READ. Writers that do
 * not use the lane (the ingest batcher's appends among them) are not held
 * by it. Never wait in the lane for something that waits on the lane
 * holder's progress.
 *
 * duckpond_lane_enter waits (timeout_ms <= 0: without limit) until conn
 * holds the lane: DUCKPOND_OK (also when it holds it already),
 * DUCKPOND_LOCKED when timeout_ms passed first (SQLSTATE 55P03, as
 * PostgreSQL's lock_timeout), DUCKPOND_INTERRUPTED when
 * duckpond_lane_interrupt woke it; the message is conn's. The thread of
 * conn.
 */
int duckpond_lane_enter(duckpond_conn *conn, int timeout_ms);

/*
 * Leaves the lane (nothing if conn does not hold it); the next in line
 * holds it then. Call after the transaction ended. duckpond_disconnect
 * and duckpond_pool_put leave it themselves, after rolling back. The
 * thread of conn.
 */
void duckpond_lane_leave(duckpond_conn *conn);

/*
 * Makes a duckpond_lane_enter waiting on conn return DUCKPOND_INTERRUPTED
 * (nothing if none waits). Any thread, while conn is open.
 */
void duckpond_lane_interrupt(duckpond_conn *conn);

/* Whether conn holds the lane. The thread of conn. */
int duckpond_lane_held(const duckpond_conn *conn);

/* ---------------------------------------------------- lock-file writer */

/* The body of a locked write: the database is open read-write for it. */
typedef int (*duckpond_locked_fn)(duckpond_conn *conn, void *arg);

/*
 * For tools that must open a database file themselves while other
 * processes do the same: takes an exclusive flock on "<path>.lock" (waiting
 * up to timeout_ms, -1 forever; the holder writes its PID there), opens the
 * database with cfg, runs fn on a connection (on the calling thread, in
 * autocommit: fn opens a transaction if it wants one), closes the database
 * and releases the lock. Returns fn's status, or DUCKPOND_TIMEOUT with a
 * message naming the PID that holds the lock, or the open's error. errbuf
 * (may be NULL) receives the message, truncated to errlen. The lock file
 * stays (empty of meaning once unlocked); a transaction fn left open is
 * rolled back. Each call takes the lock anew, so two threads of one
 * process serialise on it too. Any thread.
 */
int duckpond_locked_write(const char *path, const duckpond_config *cfg, int timeout_ms, duckpond_locked_fn fn,
                          void *arg, char *errbuf, size_t errlen);

/* -------------------------------------------------------------- snapshot */

/*
 * Writes a transactionally consistent copy of conn's database to the file
 * dest_path (replaced atomically: written beside it, then renamed), which
 * any number of processes may then open with access_mode=READ_ONLY at once.
 * Runs its own transaction: on a connection already in one,
 * DUCKPOND_MISUSE and nothing is done. On failure dest_path is as it was
 * and the file written beside it is removed. Same thread rule as conn.
 */
int duckpond_snapshot(duckpond_conn *conn, const char *dest_path);

/* ------------------------------------------------------- ingest batcher */

/*
 * The batcher turns many small writes from many threads into large Appender
 * commits. One writer thread per batcher, on its own connections, commits
 * in groups: while one commit runs, new rows gather, and the next commit
 * takes them all. A flush also happens when a table's pending rows or bytes
 * reach a limit, and after a short maximum delay.
 *
 * A producer builds a duckpond_write (rows for one table and one list of
 * columns; the missing columns get their defaults), submits it, and waits
 * for its acknowledgement. Rows that cannot be converted or that violate a
 * constraint fail alone, with a message naming the column and value; the
 * other rows of the write, and every other producer's rows, are committed.
 * With DUCKPOND_WRITE_ATOMIC, a write with any bad row writes nothing.
 *
 * A value converts to its column's type as DuckDB's CAST would on the
 * batcher's connection (so a TIMESTAMPTZ from text without an offset is
 * read in that connection's TimeZone). The library converts the common
 * spellings itself, with DuckDB's results: integers, floats, booleans,
 * ISO dates, times and timestamps ("2026-11-25 10:00:00.25", a 'T' or a
 * space, up to six fraction digits, an optional 'Z' or numeric UTC
 * offset), plain decimals. DuckDB casts the rest a whole column of a
 * group at once, in the group's INSERT; a value it refuses fails its row
 * as above ("row 3: column "ts" (TIMESTAMP): cannot convert '...':
 * Conversion Error: ..."), the other rows commit.
 *
 * A column a write leaves out, or gives DUCKPOND_VALUE_DEFAULT, gets its
 * default as in an INSERT, computed by DuckDB for each row. A clock
 * default (current_timestamp, now()) is the time of the transaction that
 * commits the row's group: rows committed together share it, and DuckDB
 * plans that group's INSERT anew each time (a feed that stamps its own
 * time is faster).
 *
 * A batcher and its calls may be used from any thread. A write is built by
 * one thread, then waited on, read and freed by one thread at a time.
 */

typedef struct duckpond_batcher duckpond_batcher;
typedef struct duckpond_write duckpond_write;

typedef enum duckpond_ack {
    /* Acknowledge after the transaction holding the rows has committed in
     * DuckDB: an acknowledged row survives a crash. The default. */
    DUCKPOND_ACK_COMMIT = 0,
    /* Acknowledge once the rows are accepted into memory. The loss window
     * on a crash is every row not yet committed. duckpond_write_wait still
     * waits for the commit. */
    DUCKPOND_ACK_QUEUED = 1,
    /* Acknowledge once the rows are in the batcher's journal on disk (see
     * JOURNAL below): an acknowledged row survives a crash, and is applied
     * to DuckDB in the background, exactly once. Needs a journal_dir. */
    DUCKPOND_ACK_JOURNAL = 2,
} duckpond_ack;

/* The name of an ack mode ("queued", "commit", "journal"), or NULL. Static string. */
const char *duckpond_ack_name(duckpond_ack ack);
/* Parses an ack mode name (case-insensitive) into *out: 0, or -1 (*out untouched) when it is not one. */
int duckpond_ack_parse(const char *name, duckpond_ack *out);

/*
 * How a batcher runs: a versioned struct (see CAVEATS), made with
 * DUCKPOND_BATCHER_SETTINGS_INIT(...). Fields left 0 take the defaults.
 */
typedef struct duckpond_batcher_settings {
    size_t struct_size;      /* sizeof(duckpond_batcher_settings) as the caller knows it */
    size_t batch_max_rows;   /* flush a table at this many pending rows; 0 = 100000 */
    size_t batch_max_bytes;  /* ... or this many bytes; 0 = 64 MiB */
    int max_delay_us;        /* flush rows that waited this long; 0 = 2000 */
    size_t queue_max_rows;   /* rows accepted but not committed, at most; 0 = 1000000 */
    size_t queue_max_bytes;  /* bytes likewise; 0 = 256 MiB */
    int overload_timeout_ms; /* a producer waits this long for room; 0 = 5000, -1 = none */
    /* The journal's directory (created if missing; copied), or NULL / "" for
     * no journal, when a DUCKPOND_ACK_JOURNAL submit fails with
     * DUCKPOND_MISUSE. One batcher at a time per directory. */
    const char *journal_dir;
    size_t journal_segment_bytes; /* start a new journal file past this; 0 = 64 MiB */
    /* Journaled writes gather up to this long before the writer applies
     * them, so that DuckDB commits fewer, larger groups; a reader waiting in
     * duckpond_batcher_wait_applied, or another write queued behind them,
     * ends the wait at once. 0 = 50, -1 = apply at once. */
    int journal_apply_delay_ms;
} duckpond_batcher_settings;

#define DUCKPOND_BATCHER_SETTINGS_INIT(...)                           \
    {                                                                 \
        .struct_size = sizeof(duckpond_batcher_settings), __VA_ARGS__ \
    }

/*
 * JOURNAL
 *
 * With a journal_dir, a DUCKPOND_ACK_JOURNAL submit checks and converts its
 * rows as the writer would (an unknown table or column, or a value that
 * cannot be converted, fails at submit as in the other modes), appends the
 * good rows as one record to an append-only journal of checksummed records
 * with increasing sequence numbers, waits until the record is on disk
 * (group commit: one fdatasync covers every record appended meanwhile),
 * and returns. The writer thread applies journaled writes to DuckDB in
 * large groups behind the acknowledgements; the highest sequence number
 * applied is stored in the table duckpond_journal_state (created in the
 * database) by the same transaction as the rows it covers.
 *
 * duckpond_batcher_new replays, before it returns, every journal record
 * above that number through the normal path, so each acknowledged write is
 * applied exactly once across crashes. A torn or corrupt record is found
 * by its checksum, never applied, and reported with any missing range of
 * numbers in duckpond_batcher_journal_report. Journal files whose records
 * are all applied are deleted after a CHECKPOINT. A journal belongs to one
 * database: pointed at another, it applies its records there.
 *
 * What only DuckDB can see (PRIMARY KEY, NOT NULL, CHECK, a table altered
 * after the submit) fails a journaled row after its acknowledgement: such
 * rows are counted in journal_rows_failed_after_ack and the last one is
 * described, with its sequence number, by duckpond_batcher_journal_errmsg.
 * A journal that cannot be written (disk full, I/O error) fails the submit
 * with DUCKPOND_IO and acknowledges nothing; after a failed fdatasync the
 * journal refuses every later journaled write until it is reopened (the
 * kernel may have dropped what it held). Other ack modes, and reads, go on.
 *
 * The check runs on the submitting thread, and for the common spellings
 * (above) needs no DuckDB statement: the library's conversion decides, and
 * vouches too for values DuckDB surely converts (a TIMESTAMPTZ without an
 * offset, a decimal to round). A value it cannot judge (a UUID, an
 * INTERVAL, a time zone name...) is cast by DuckDB, one statement a value,
 * on one of at most two connections the batcher makes for that on first
 * need: such submits wait for each other, others do not wait for them.
 *
 * Read-your-writes: DuckDB shows a journaled row once the writer has
 * committed it. duckpond_write_seq gives an acknowledged write's sequence
 * number; a reader that must see its own writes first calls
 * duckpond_batcher_wait_applied with the highest number it was given.
 */

/*
 * Starts a batcher on db in *out (NULL on failure), with settings (NULL for
 * the defaults; copied, journal_dir too): its writer thread and two
 * connections of its own, and up to two more for journaled checks made on
 * first need (see JOURNAL; duckpond_close counts them all). db must outlive the
 * batcher. With a journal_dir, first opens the journal and applies what it
 * holds beyond duckpond_journal_state (see JOURNAL). On failure nothing is
 * left running or open (rows replayed before the failure stay committed);
 * a read-only database (DUCKPOND_MISUSE) and a journal that cannot be
 * opened or replayed are described in duckpond_db_errmsg(db).
 * DUCKPOND_MISUSE also for bad settings, and in a child process after fork.
 * Any thread.
 */
int duckpond_batcher_new(duckpond_db *db, const duckpond_batcher_settings *settings, duckpond_batcher **out);

/*
 * Stops accepting writes, commits and acknowledges everything accepted,
 * and stops the writer thread; returns once it has. Writes submitted
 * afterwards fail with DUCKPOND_CLOSED; producers waiting for queue room
 * get it at once. Safe to call more than once, from any thread; writes made
 * on b may still be read and freed. DUCKPOND_MISUSE in a child after fork.
 */
int duckpond_batcher_stop(duckpond_batcher *b);

/*
 * Stops the batcher if needed and frees it (NULL: nothing, DUCKPOND_OK).
 * Refuses with DUCKPOND_MISUSE, stopping and freeing nothing, while a write
 * made on b (duckpond_write_new) is not freed, and in a child after fork.
 * No other call on b may run meanwhile.
 */
int duckpond_batcher_free(duckpond_batcher *b);

typedef enum duckpond_value_kind {
    DUCKPOND_VALUE_NULL = 0,
    DUCKPOND_VALUE_DEFAULT, /* the column's default */
    DUCKPOND_VALUE_BOOL,
    DUCKPOND_VALUE_INT64,
    DUCKPOND_VALUE_DOUBLE,
    DUCKPOND_VALUE_TEXT,      /* converted to the column's type as DuckDB's CAST would (see above) */
    DUCKPOND_VALUE_TIMESTAMP, /* microseconds since 1970-01-01 UTC */
} duckpond_value_kind;

/* One value of a row: a fixed layout that never grows (see CAVEATS). */
typedef struct duckpond_value {
    duckpond_value_kind kind;
    union {
        int boolean;
        int64_t i64;
        double f64;
        int64_t timestamp_us;
        struct {
            const char *ptr; /* need not be NUL-terminated; copied on add */
            size_t len;
        } text;
    } u;
} duckpond_value;

enum duckpond_write_flags {
    DUCKPOND_WRITE_ATOMIC = 1, /* all rows or none */
};

/*
 * A new write of rows into table ("name" or "schema.name", as in SQL,
 * unquoted) for the given columns (NULL and 0 for all columns in table
 * order, looked up now), in *out (NULL on failure); the caller frees it
 * with duckpond_write_free. Names are copied. The table and columns are
 * checked when the writer first sees them (at submit for journaled
 * writes); an unknown one fails the whole write. With columns = NULL, an
 * unknown table is reported by duckpond_write_add_row and
 * duckpond_write_submit (the write is made, and carries the error). Any
 * thread; the write is that thread's.
 */
int duckpond_write_new(duckpond_batcher *b, const char *table, const char *const *columns, int ncolumns,
                       unsigned flags, duckpond_write **out);

/*
 * Adds one row of ncolumns values (copied). DUCKPOND_MISUSE after submit,
 * for a kind this library does not know, or text with a NULL pointer; on
 * failure the write is as it was.
 */
int duckpond_write_add_row(duckpond_write *w, const duckpond_value *values);

/*
 * Hands the rows to the batcher. With DUCKPOND_ACK_COMMIT, returns once
 * they are committed (or failed); with DUCKPOND_ACK_QUEUED, once accepted;
 * with DUCKPOND_ACK_JOURNAL, once the good rows are in the journal on disk
 * (then w is done: duckpond_write_counts gives the rows journaled as
 * committed and the rows refused as failed; duckpond_write_wait returns at
 * once; w may be freed at once). A journaled submit that fails with
 * DUCKPOND_IO acknowledged nothing, though its record may still be applied
 * if it reached the disk.
 * When the queue is full, waits up to the overload timeout, then returns
 * DUCKPOND_OVERLOADED having written nothing. A submit refused before
 * anything was written -- DUCKPOND_OVERLOADED, DUCKPOND_CLOSED (a stopped
 * batcher), the status of a database that failed, a journaled DUCKPOND_IO
 * that journaled nothing -- leaves w unsubmitted, to be submitted again.
 * Otherwise a write is submitted once. Returns DUCKPOND_OK if every row
 * was committed, else the class of the first failure (duckpond_write_errmsg
 * says what and where). The rows are written on the batcher's connection,
 * outside any transaction of the caller's.
 */
int duckpond_write_submit(duckpond_write *w, duckpond_ack ack);

/* Waits for a submitted write's commit; returns as duckpond_write_submit. */
int duckpond_write_wait(duckpond_write *w);

/* After the commit: rows committed and rows failed (both 0 before). */
void duckpond_write_counts(const duckpond_write *w, size_t *committed, size_t *failed);

/*
 * After the commit: the i-th failed row (0 <= i < failed), as its index in
 * the order rows were added, its status and message (owned by w, valid
 * until it is freed). DUCKPOND_MISUSE before the commit or past the end.
 */
int duckpond_write_failure(const duckpond_write *w, size_t i, size_t *row_index, const char **message);

/* The message of the first failure, or "" (owned by w, valid until the next call on it). */
const char *duckpond_write_errmsg(const duckpond_write *w);

/* Frees a write (NULL: nothing); waits for its commit first if it was submitted. */
void duckpond_write_free(duckpond_write *w);

/*
 * Writes all of w's rows on conn, the caller's own connection, inside
 * conn's open transaction if it has one (else as a transaction of its
 * own), instead of handing them to the batcher's writer: they are then
 * the transaction's rows, seen by its next statement, committed by its
 * COMMIT and gone with its ROLLBACK. w is a write of a batcher of conn's
 * database, built (duckpond_write_new, _add_row) and not submitted. The
 * batcher's writer, queue, ack modes and stats play no part
 * (duckpond_batcher_applied counts these writes).
 *
 * Values convert as for a submit (above: the library's conversion of the
 * common spellings, DuckDB's CAST of a whole column for the rest), and
 * the rows go in by a prepared INSERT ... SELECT over a scan of w's rows,
 * which DuckDB neither parses nor plans again. An unqualified table name
 * is looked up in conn's current schema (current_schema()), among the
 * tables conn's transaction sees. The statements, and the columns as conn
 * saw them when it first wrote there, are kept with conn (up to 16 tables
 * and column lists) until the batcher's schema generation moves on
 * (duckpond_batcher_schema_changed), and freed with conn. So call it
 * inside a transaction only if the transaction began in the current
 * generation (duckpond_batcher_schema_gen read before its BEGIN): one
 * begun earlier may see tables older than the generation, which would
 * be kept for later transactions.
 *
 * All of w's rows or none, as one INSERT statement. Returns DUCKPOND_OK
 * when every row was written (duckpond_write_counts counts them as
 * committed), else the class of the failure, its message in
 * duckpond_write_errmsg(w) and duckpond_conn_errmsg(conn), no row
 * written. *ran (may be NULL) says what a failure left behind:
 *  - false: it was found before the write's statement ran -- no such table
 *    or column (DUCKPOND_NOTFOUND...), a table or column that cannot take
 *    rows, a value that does not convert (DUCKPOND_CONVERSION, the message
 *    naming row, column and value as the writer's do), a table with more
 *    than 64 columns (DUCKPOND_MISUSE: submit such writes) -- and conn and
 *    its transaction are as they were: the INSERT in SQL would then give
 *    DuckDB's own account of the failure;
 *  - true: DuckDB ran the write's statement and it failed (a constraint,
 *    a conflict, an interrupt...): DuckDB's message and class, and conn's
 *    transaction as DuckDB leaves it after a failed statement (aborted,
 *    for errors found while running: the caller rolls it back).
 * On success *ran is true. Rows that leave different columns to their
 * DEFAULT take one statement per set of such columns: in autocommit
 * inside a transaction of the call's own; inside the caller's, should a
 * later one fail after an earlier one went in, the call aborts the
 * caller's transaction, so that no part of w can be committed.
 *
 * Afterwards w is done, as after a submit: its counts, failures and
 * message may be read, and duckpond_write_free frees it; it cannot be
 * submitted or applied again. DUCKPOND_MISUSE, doing nothing, for a NULL
 * argument or a write submitted or applied already. A write made with
 * columns = NULL for an unknown table fails with that error. Same thread
 * rule as conn (w must be that thread's too); the batcher's writer, and
 * other connections applying writes of the same batcher, go on meanwhile.
 */
int duckpond_write_apply(duckpond_conn *conn, duckpond_write *w, bool *ran);

/*
 * The writes duckpond_write_apply applied with writes of b, and their rows
 * (in callers' transactions: committed or not), since b started; either
 * pointer may be NULL; zeros for a NULL b. Any thread.
 */
void duckpond_batcher_applied(const duckpond_batcher *b, uint64_t *writes, uint64_t *rows);

/*
 * The journal sequence number of a write acknowledged with
 * DUCKPOND_ACK_JOURNAL, or 0 (another mode, not yet acknowledged, failed).
 * Sequence numbers of one batcher increase across restarts.
 */
uint64_t duckpond_write_seq(const duckpond_write *w);

/*
 * Waits until every journaled write with sequence number <= seq has been
 * applied (committed in DuckDB, or failed after its acknowledgement), so
 * that a read started afterwards sees them. timeout_ms: 0 = do not wait,
 * -1 = forever. DUCKPOND_OK at once for seq 0 or without a journal;
 * DUCKPOND_TIMEOUT; or the status that stops the writer from applying
 * (DUCKPOND_INVALIDATED...). Any thread. The waits are counted and timed
 * in duckpond_batcher_stats.
 */
int duckpond_batcher_wait_applied(duckpond_batcher *b, uint64_t seq, int timeout_ms);

/*
 * Tells the batcher that tables may have changed (DDL ran elsewhere): the
 * columns and types it knows are read again before the next write that
 * needs them. Call it after each statement that changes the catalog, and
 * at the end of a transaction that did. duckpond_batcher_schema_gen counts
 * such changes (and the batcher's own reloads), for callers that cache
 * what they derived from the schema. Thread-safe.
 */
void duckpond_batcher_schema_changed(duckpond_batcher *b);
uint64_t duckpond_batcher_schema_gen(const duckpond_batcher *b);

/*
 * Whether a statement of DuckDB type t leaves the catalog as it is (a
 * query, DML, EXPLAIN, a transaction command, COPY); any other may be DDL,
 * after which callers tell the batcher (duckpond_batcher_schema_changed).
 */
bool duckpond_statement_keeps_catalog(duckdb_statement_type t);

/*
 * What opening the journal found and did (records, segments, replayed,
 * torn tail cut, corrupt data skipped, missing ranges), or "" without a
 * journal. Owned by b, valid until it is freed.
 */
const char *duckpond_batcher_journal_report(const duckpond_batcher *b);

/*
 * The last failure of a journaled row after its acknowledgement ("journal
 * record 42: row 3: Constraint Error: ..."), or "". Copied into buf
 * (NUL-terminated, cut to len). Any thread.
 */
void duckpond_batcher_journal_errmsg(duckpond_batcher *b, char *buf, size_t len);

/* Ack latency histogram bucket upper bounds, in microseconds. */
#define DUCKPOND_LATENCY_BUCKETS 16
extern const uint64_t duckpond_latency_bounds_us[DUCKPOND_LATENCY_BUCKETS];

/* The batcher's figures: a versioned struct (see CAVEATS). */
typedef struct duckpond_batcher_stats {
    size_t struct_size; /* sizeof(duckpond_batcher_stats) as the caller knows it */
    uint64_t rows_accepted, bytes_accepted;
    uint64_t rows_committed, bytes_committed;
    uint64_t rows_failed;
    uint64_t commits; /* DuckDB transactions committed */
    uint64_t writes_acked;
    uint64_t queue_rows, queue_bytes; /* accepted, not yet committed: now */
    uint64_t overloaded;              /* submits refused for lack of room */
    /* commit-ack latency: counts per bucket (the last is +Inf), sum in us */
    uint64_t latency_count[DUCKPOND_LATENCY_BUCKETS + 1];
    uint64_t latency_sum_us;
    /* The journal (all 0 without one). Sequence numbers: the highest
     * appended, durable, and applied (committed in DuckDB, or failed). */
    uint64_t journal_appended_seq, journal_synced_seq, journal_applied_seq;
    uint64_t journal_syncs;   /* fdatasync calls */
    uint64_t journal_sync_us; /* time spent in them, microseconds */
    uint64_t journal_writes_acked, journal_rows_acked;
    uint64_t journal_rows_failed_after_ack;
    uint64_t journal_replayed_writes; /* applied from the journal at start */
    uint64_t journal_segments;        /* journal files now */
    uint64_t journal_errors;          /* journaled submits refused by an I/O error */
    /* Apply lag: from a journaled write's append to its visibility to other
     * sessions (the commit), per bucket of duckpond_latency_bounds_us. */
    uint64_t apply_lag_count[DUCKPOND_LATENCY_BUCKETS + 1];
    uint64_t apply_lag_sum_us;
    /* duckpond_batcher_wait_applied: calls that had to wait, time spent
     * waiting, calls that timed out. */
    uint64_t applied_waits, applied_wait_sum_us, applied_wait_timeouts;
} duckpond_batcher_stats;

#define DUCKPOND_BATCHER_STATS_INIT(...)                           \
    {                                                              \
        .struct_size = sizeof(duckpond_batcher_stats), __VA_ARGS__ \
    }

/*
 * Fills *out (as far as out->struct_size reaches) with the batcher's
 * figures now. DUCKPOND_MISUSE for a NULL out, or a size it cannot write
 * (see CAVEATS), *out then untouched; and for a NULL b, *out then zeroed.
 * Any thread.
 */
int duckpond_batcher_stats_get(duckpond_batcher *b, duckpond_batcher_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* DUCKPOND_H */
