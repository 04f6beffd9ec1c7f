/*
 * session_int.h -- the inside of a PostgreSQL session, shared by the files
 * that serve one: session.c (lifecycle, dispatch, transaction state),
 * session_settings.c, session_startup.c, stmt.c (statements), portal.c
 * (running them), query.c (the simple and extended protocol),
 * insert_plan.c and plancache.c (INSERTs through the batcher).
 *
 * Every function here runs on the session's own thread; other threads
 * reach a session only through its registry entry (registry.h).
 */
#ifndef DUCKPOND_SESSION_INT_H
#define DUCKPOND_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duckpond.h"
#include "pgconn.h"
#include "registry.h"
#include "session.h"

#define SESSION_SERVER_VERSION "16.0"

struct insert_plan;
struct plancache;
struct copy_spec;
struct sql_shape;

/* The transaction state, as ReadyForQuery reports it. It changes in one place (session.c). */
enum tx_state {
    TX_IDLE = 'I',   /* no transaction: each statement commits on its own */
    TX_OPEN = 'T',   /* inside BEGIN ... */
    TX_FAILED = 'E', /* a statement of the transaction failed: only its end is accepted */
};

/* A setting the session set itself (the defaults live in session_settings.c). */
struct setting {
    char *name;
    char *value;
    struct setting *next;
};

/* A PostgreSQL setting the session keeps itself; report: sent as ParameterStatus. */
struct pg_setting {
    const char *name;
    const char *def; /* NULL: an alias of another entry */
    bool report;
};

enum stmt_kind {
    STMT_DUCKDB, /* a DuckDB prepared statement */
    STMT_MULTI,  /* several DuckDB statements from a rewrite; no parameters */
    STMT_EMPTY,
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SET,
    STMT_RESET,
    STMT_SHOW,
    STMT_SHOW_ALL,
    STMT_NOOP,
    STMT_VERSION,
    STMT_COPY,
    STMT_UNSUPPORTED,
};

/* A statement: named (Parse) or unnamed; shared by reference with the portals made from it. */
struct stmt {
    char *name;
    char *sql;
    enum stmt_kind kind;
    int refs; /* the statement list's own reference plus portals' (and the plan cache's) */
    duckdb_prepared_statement prep;
    struct stmt *proto; /* the plan cache's statement whose prep this one shares (plancache.h), or NULL */
    duckdb_statement_type dtype;
    int nparams;
    uint32_t *param_oids;
    int ncols;         /* columns sent to the client (0: none) */
    bool count_result; /* the DuckDB result is a single "Count" to put in the tag */
    bool cols_unknown; /* DuckDB knows the columns only once parameters are bound */
    char tag[64];      /* the command word(s), or the whole tag for SET etc. */
    char *set_name, *set_value;
    struct copy_spec *copy;
    struct insert_plan *plan;
    bool plan_checked;
    uint64_t plan_gen;    /* the catalog generation plan_checked holds for */
    int dparams;          /* DuckDB's parameter count (0 before DuckDB prepared it) */
    duckpond_value *lits; /* the literals of a statement made from a cached shape */
    char *litbuf;         /* their text */
    struct stmt *next;
};

/* A portal: a statement with its parameters bound, and its result while rows are sent. */
struct portal {
    char *name;
    struct stmt *st;
    int nparams;
    const char **pvals;
    int32_t *plens;
    int16_t *pfmts;
    char *pdata;
    int16_t *rfmts; /* the Bind message's result-format codes */
    int nrfmts;
    bool started, done;
    bool early_done; /* ran at Describe; only its CommandComplete is left */
    char tag[96];
    duckdb_result res;
    bool has_res;
    duckdb_data_chunk chunk;
    idx_t chunk_pos, chunk_size;
    uint64_t rows;
    struct portal *next;
};

struct session {
    const struct pg_env *env;
    struct pgconn pc;          /* the client's socket */
    struct registry_entry reg; /* pid, secret and the running statement, as other threads see them */
    bool loopback;
    bool started; /* its thread runs */
    char peer[64];
    char user[64];
    enum access_role role; /* the user's, or the trusted role; set by authentication (access.h) */

    duckpond_conn *conn;
    duckdb_connection dcon;
    enum tx_state tx;
    bool tx_ddl;     /* the open transaction changed the catalog */
    bool tx_pending; /* open, but DuckDB's BEGIN waits for its first statement (write lane on) */
    uint64_t tx_gen; /* the catalog's generation (plancache_gen) when the open transaction began */
    struct {
        bool known;
        int64_t us;
    } tx_clock; /* the open transaction's start, DuckDB's now() in it, once insert_plan.c read it */

    struct stmt *stmts;
    struct portal *portals;
    struct setting *settings;
    bool settings_synced;       /* DuckDB's variable duckpond_settings holds them (settings_sync_duckdb) */
    bool batch_on;              /* duckpond.batch, kept current by every settings change */
    bool lane_on;               /* duckpond.write_lane likewise */
    int64_t lock_timeout_ms;    /* lock_timeout likewise: the longest wait for the write lane; 0 none */
    int64_t idle_tx_timeout_ms; /* idle_in_transaction_session_timeout likewise; 0 none */
    duckpond_ack ack;           /* duckpond.ack likewise */
    struct plancache *plans;    /* analysed INSERT shapes, and INSERT texts with parameters (plancache.h) */
    duckdb_prepared_statement json_stmt; /* SELECT json_serialize_sql($1), made once */
    /* what insert_plan.c last found of DuckDB's functions and TimeZone, and in which catalog generation */
    struct {
        bool known, builtin, utc;
        uint64_t gen;
    } clockcheck;
    /* where DuckDB looks up the session's unqualified table names (its current database and schema), and
     * whether it has temporary tables or views, which come first: what insert_plan.c last found, and when */
    struct {
        bool known, temps;
        char *db, *schema;
        uint64_t gen;
    } where;

    /* read-your-writes: the highest journal sequence number acknowledged to
     * this session, and the highest it has seen applied */
    uint64_t journal_seq, journal_seen;
};

/* ------------------------------------------------------------ session.c */

/* Queues an ErrorResponse; an open transaction fails (T becomes E). */
void session_error(struct session *s, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Queues the ErrorResponse of a DuckDB error; an open transaction fails. */
void session_duckdb_error(struct session *s, duckdb_error_type type, const char *message);
/* A statement failed with its error already queued (by COPY): an open transaction fails. */
void session_tx_failed(struct session *s);

/* BEGIN: tag "BEGIN"; a notice when one is open already. 0, or -1 with an error queued. */
int session_tx_begin(struct session *s, char *tag, size_t len);
/* Begins in DuckDB an open transaction whose BEGIN was deferred (write lane). 0, or -1 with an error queued. */
int session_tx_start(struct session *s);
/* COMMIT (commit true) or ROLLBACK: the tag; a failed transaction rolls back. 0, or -1 with an error queued. */
int session_tx_end(struct session *s, bool commit, char *tag, size_t len);
/* Ends the implicit transaction of a multi-statement Query: commits if ok and still open, else rolls back. */
void session_tx_end_implicit(struct session *s, bool ok);

/* Notes a statement that may have changed the catalog (see session.c). */
void session_catalog_changed(struct session *s);
/* Whether an INSERT may go through the batcher now (autocommit, batching on). */
bool session_may_batch(const struct session *s);
/*
 * Whether an INSERT may be applied by the batcher's means on the session's
 * own connection now: inside a transaction begun in the current catalog
 * generation (no DDL since, here or elsewhere), batching on.
 */
bool session_may_apply(const struct session *s);

/*
 * Before a statement of DuckDB's type `type` runs on the session's own
 * connection: with duckpond.write_lane on, a write waits for the write
 * lane, held then to the transaction's end (or the statement's, outside
 * one). 0, or -1 with an error queued (55P03 after lock_timeout, 57014
 * when cancelled).
 */
int session_lane_enter(struct session *s, duckdb_statement_type type);
/*
 * Before a statement of DuckDB's type `type` that the batcher does not
 * commit: a write naming a table with live bars (or a bar table) is
 * refused. 0, or -1 with a 55000 error queued.
 */
int session_write_allowed(struct session *s, const char *sql, duckdb_statement_type type);
/* After a statement outside a transaction: the lane it took is left. */
void session_lane_statement_done(struct session *s);

/* Records the sequence number of a write acknowledged from the journal. */
void session_note_seq(struct session *s, uint64_t seq);
/*
 * Read-your-writes: before a statement that reads, waits (boundedly) until
 * the session's journaled writes are applied. 0, or -1 with an error
 * queued (57014 on a timeout).
 */
int session_wait_own_writes(struct session *s);

/* --------------------------------------------------- session_settings.c */

/* The setting called name (case-insensitive; aliases resolved), or NULL. */
const struct pg_setting *settings_find(const char *name);
/* The session's value of a setting, its default, or NULL when unknown. */
const char *settings_get(struct session *s, const char *name);
/* Stores a setting (value NULL: back to the default); sends ParameterStatus if reported. 0, or -1 with an error queued. */
int settings_put(struct session *s, const struct pg_setting *d, const char *value);
/* RESET ALL. */
void settings_reset_all(struct session *s);
/*
 * Hands the session's own settings to DuckDB (the variable
 * duckpond_settings, which the overlay's current_setting() reads), when
 * they changed since the last time. 0, or -1 with an error queued.
 */
int settings_sync_duckdb(struct session *s);
/* Re-reads the settings the statement path consults (batch_on, ack, statement_timeout). */
void settings_refresh(struct session *s);
/* Sends ParameterStatus for each reported setting still at its default (startup). */
void settings_report_defaults(struct session *s);
/* The DataRows of SHOW ALL; returns how many. */
int settings_show_all(struct session *s);
void settings_free(struct session *s);

/* ---------------------------------------------------- session_startup.c */

/* The startup phase: parameters, authentication, admission, the DuckDB connection. 0, or -1: the connection ends. */
int session_startup(struct session *s);

/* ---------------------------------------------------------------- stmt.c */

/* A statement's text inside a Query or Parse message. */
struct piece {
    const char *p;
    size_t len;
};

/* Splits sql at top-level semicolons (pieces of only space left out): 0 with *out malloc'd, or -1 (no memory). */
int stmt_split(const char *sql, size_t len, struct piece **out, int *n);
/* Whether the statements of one Query may run in an implicit transaction (none is transaction control). */
bool stmt_implicit_tx_fits(const struct piece *pieces, int n);

/*
 * Makes a statement from one statement's text (no trailing ';'): the
 * session's own forms, else an INSERT the plan cache knows (by its text,
 * or its shape), else pgcatalog_rewrite and DuckDB's parser. oids: the
 * Parse message's parameter types (NULL for the simple protocol). Returns
 * a statement with one reference, or NULL with an error queued.
 */
struct stmt *stmt_make(struct session *s, const char *name, const char *sql, size_t len, const uint32_t *oids,
                       int noids);
/*
 * Prepares, with DuckDB, an INSERT made from the plan cache without a
 * prepared statement (a shape, or a text whose prep it did not keep), as
 * stmt_make would have, with the parameter types it was made with: 0, or
 * -1 with DuckDB's error queued.
 */
int stmt_prepare_late(struct session *s, struct stmt *st);
/* The command word for a DDL statement: "CREATE TABLE", "DROP VIEW", ... */
void stmt_ddl_tag(const char *sql, char *tag, size_t n);
void stmt_unref(struct stmt *st);
struct stmt *stmt_find(struct session *s, const char *name);
/* Forgets the named statement (portals made from it keep their reference). */
void stmt_drop(struct session *s, const char *name);
void stmt_drop_all(struct session *s);

/* -------------------------------------------------------------- portal.c */

/* A portal of st (one more reference to st) with no parameters and text results; NULL when memory runs out. */
struct portal *portal_new(const char *name, struct stmt *st);
void portal_free(struct portal *p);
struct portal *portal_find(struct session *s, const char *name);
void portal_drop(struct session *s, const char *name);
void portal_drop_all(struct session *s);

/* The result format of column i of a portal (0 text, 1 binary); p may be NULL. */
int16_t portal_format(const struct portal *p, int i);
/* RowDescription of a statement's columns, or of a result's when res is given. */
void portal_row_description(struct session *s, struct stmt *st, duckdb_result *res, const struct portal *p);
/* One DataRow of n text values. */
void portal_text_row(struct session *s, int n, const char *const *vals);

/*
 * Runs a DuckDB statement of a portal for the first time (through the
 * batcher when it can). Sets *has_rows when rows are to be sent; else the
 * tag is written. describe: RowDescription is sent first. 0, or -1 with
 * an error queued.
 */
int portal_start_duckdb(struct session *s, struct portal *p, bool describe, char *tag, size_t taglen,
                        bool *has_rows);
/*
 * Executes a portal: rows (at most max_rows when > 0, then
 * PortalSuspended), then CommandComplete. describe: RowDescription first
 * (the simple protocol). 0, or -1 with an error queued.
 */
int portal_execute(struct session *s, struct portal *p, int64_t max_rows, bool describe);

/* --------------------------------------------------------------- query.c */

/* The messages of the ready phase, one handler each. */
void query_simple(struct session *s, const struct pgmsg *m);
void query_parse(struct session *s, const struct pgmsg *m);
void query_bind(struct session *s, const struct pgmsg *m);
void query_describe(struct session *s, const struct pgmsg *m);
void query_execute(struct session *s, const struct pgmsg *m);
void query_close(struct session *s, const struct pgmsg *m);
void query_sync(struct session *s);

#endif
