/*
 * sync_int.h -- what the files of the PostgreSQL sync share: the sync
 * itself, its tables, and the functions of each file (sync.c the thread,
 * the connections and the stream; synccopy.c the initial copy;
 * syncapply.c staging and applying changes in DuckDB; syncddl.c tables
 * made and altered to follow PostgreSQL).
 */
#ifndef DUCKPOND_SYNC_INT_H
#define DUCKPOND_SYNC_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "duckpond.h"
#include "pgoutput.h"
#include "sync.h"
#include "synctype.h"

/*
 * The most keys a round lists as literals: DuckDB's index_scan_max_count
 * (its default), the most rows it looks up through an index (or more in
 * a large table: index_scan_percentage of its rows).
 */
#define KEYLITS_MAX 2048

enum sync_table_state { SYNC_COPYING, SYNC_STREAMING, SYNC_STOPPED };

struct sync_col {
    char *name;
    uint32_t oid;
    int32_t typmod;
    enum synctype_user user;
    struct synctype type;
};

/* A set of 64-bit hashes (open addressing; 0 is never stored): which keys a round staged. */
struct hashset {
    uint64_t *slots;
    size_t cap, used;
};

struct sync_table {
    uint32_t relid;            /* PostgreSQL's OID of the table (0 until known) */
    char *pg_schema, *pg_name; /* its PostgreSQL names */
    char *name;                /* the table's name in the DuckDB schema */
    char *target;              /* "schema"."name", quoted */
    struct sync_col *cols;
    int ncols;
    size_t cols_cap;
    int *key; /* the primary key's columns (indexes into cols) */
    int nkey;
    char replident; /* 'd', 'f', 'i' or 'n', as pg_class.relreplident */
    enum sync_table_state state;
    char *why; /* when stopped */
    /* staging: the round of changes not yet applied to the target */
    char *stage; /* "temp"."main"."_dp_stage_N" name (unquoted table part in stage_name) */
    char *stage_name;
    duckdb_appender app;
    uint64_t staged;     /* rows in the stage */
    uint64_t umask_any;  /* columns some staged row left unchanged (TOAST) */
    bool staged_deletes; /* the round deletes rows */
    bool dup_keys;       /* keyed: some key was staged twice this round (the last change wins) */
    /*
     * A key of one integer or text column: the round's distinct keys as SQL
     * literals, "1, 2, 3" (keys staged nkeylits; keylits failed when not
     * kept: keylits_off; too many, or a value not written as it is), so that the round
     * finds its target rows through the primary key's index.
     */
    struct dp_buf keylits;
    size_t nkeylits;
    bool keylits_off;
    struct hashset round; /* keys (keyed) or whole rows (keyless) inserted this round */
    /* figures for the status page */
    int64_t rows;
};

struct sync {
    struct sync_options opt; /* strings owned (copies) */
    char *slot, *schema;
    duckpond_db *db;
    duckpond_conn *conn; /* the sync's own DuckDB connection */
    duckdb_connection dcon;
    PGconn *repl;  /* replication=database */
    PGconn *query; /* plain: the catalog and the initial copy */
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    struct sync **self_link; /* in the list of running syncs */

    struct sync_table **tables;
    size_t ntables, tables_cap;

    /* the stream */
    uint64_t applied_lsn;  /* the end of the last commit DuckDB holds */
    uint64_t pending_lsn;  /* the end of the last commit staged in the open DuckDB transaction */
    uint64_t received_lsn; /* the furthest WAL position seen */
    uint64_t server_lsn;   /* the server's end of WAL, from its last frame */
    int64_t pending_commit_time, applied_commit_time; /* PostgreSQL's commit times (Unix µs) */
    bool in_tx;                                       /* a DuckDB transaction is open */
    bool skip_xact;      /* the PostgreSQL transaction being received is applied already */
    int64_t tx_open_us;  /* when the DuckDB transaction began */
    uint64_t tx_changes; /* changes staged in it */
    uint64_t seq;        /* order of staged changes */
    int64_t last_status_us;
    struct pgo_msg msg;
    struct dp_buf conv, sql;

    /* what the status page shows (under mu) */
    pthread_mutex_t mu;
    char state[32];
    char last_error[512];
    uint64_t reconnects, xacts_applied, changes_applied;
    uint64_t shown_applied_lsn, shown_lag_bytes; /* published by sync_publish */
    int64_t shown_lag_from_us;                   /* commit time of the oldest change not in DuckDB; 0: none */
    int64_t begin_time_us;                       /* commit time of the transaction being received */
    int64_t lag_from_us;                         /* that of the first one in the open DuckDB transaction */
};

/* The sync and its tables as the status page and /metrics show them (syncstatus.c). */
void sync_publish(struct sync *s);

/* ---- sync.c */
/* The running syncs, for the status reports; the list and its length under sync_list_mu. */
extern pthread_mutex_t sync_list_mu;
extern struct sync **sync_list;
extern size_t sync_list_len;

int64_t sync_now_us(void);
/* Records an error for the status page and the log. */
void sync_error(struct sync *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sync_set_state(struct sync *s, const char *state);
/* Runs SQL on the sync's DuckDB connection; 0, or -1 with the error recorded. */
int sync_exec(struct sync *s, const char *sql);
/* The same with the result: 0 and *res (the caller destroys it), or -1 with the error recorded. */
int sync_query(struct sync *s, const char *sql, duckdb_result *res);
struct sync_table *sync_table_by_relid(struct sync *s, uint32_t relid);
struct sync_table *sync_table_by_name(struct sync *s, const char *pg_schema, const char *pg_name);
void sync_table_free(struct sync_table *t);

/* ---- synccopy.c */
/*
 * Reads the publication's tables and their columns from the catalog on
 * the query connection into s->tables (replacing what was there).
 * 0, or -1 with the error recorded.
 */
int synccopy_load_tables(struct sync *s);
/* Undoes COPY text format's escapes of one field in place; returns its new length. */
size_t synccopy_unescape(char *f, size_t len);
/* Creates every table and copies it under the snapshot; in the open DuckDB transaction. 0 or -1. */
int synccopy_run(struct sync *s, const char *snapshot);

/* ---- syncddl.c */
/*
 * CREATE TABLE of t in the sync's schema (dropping one left there),
 * without its key: the copy goes in first, syncddl_add_key then builds
 * the primary key's index once, much faster than row by row. 0 or -1.
 */
int syncddl_create(struct sync *s, struct sync_table *t);
int syncddl_add_key(struct sync *s, struct sync_table *t);
/*
 * Makes t's columns DuckDB's when they differ from what the catalog said
 * (a column change that a crash rolled back in DuckDB): the next Relation
 * message then alters them again. 0 or -1.
 */
int syncddl_reconcile(struct sync *s, struct sync_table *t);
/* Loads the names of the tables stopped before (from duckpond_sync_tables) into their state. */
int syncddl_load_stopped(struct sync *s);
/* Stops a table: its state, the reason, and the row in duckpond_sync_tables (in the open transaction). */
void syncddl_stop(struct sync *s, struct sync_table *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Follows a Relation message: the table's columns as PostgreSQL now has
 * them. Added, dropped and renamed columns are altered in DuckDB; a
 * changed type stops the table. 0, or -1 when DuckDB failed (recorded).
 */
int syncddl_relation(struct sync *s, struct sync_table *t, const struct pgo_msg *m);

/* ---- syncapply.c */
/*
 * Appends one value of column c (data NULL: a NULL) from PostgreSQL's
 * text, converted as the type map says. 0, or -1 with the reason in why.
 */
int syncapply_value(struct sync *s, duckdb_appender a, const struct sync_col *c, const char *data, size_t len,
                    char *why, size_t n);
/* Stages one Insert, Update or Delete. 0, or -1 when DuckDB failed (the stream must restart). */
int syncapply_change(struct sync *s, const struct pgo_msg *m);
/* Applies a Truncate. 0 or -1. */
int syncapply_truncate(struct sync *s, const struct pgo_msg *m);
/* Applies what t has staged to its target, in the open transaction. 0 or -1. */
int syncapply_round(struct sync *s, struct sync_table *t);
/* Drops t's stage (after a schema change, or when the table stops). */
void syncapply_stage_drop(struct sync *s, struct sync_table *t);
/*
 * Applies every table's round, stores pending_lsn as the applied LSN and
 * commits the DuckDB transaction. 0, or -1 (rolled back, recorded).
 */
int syncapply_commit(struct sync *s);
/* Rolls the open DuckDB transaction back and forgets what was staged. */
void syncapply_abort(struct sync *s);
/* Opens the DuckDB transaction if none is. 0 or -1. */
int syncapply_begin(struct sync *s);

void hashset_free(struct hashset *h);
void hashset_clear(struct hashset *h);
/* Adds v; false when memory ran out (the caller then treats every key as present). */
bool hashset_add(struct hashset *h, uint64_t v);
bool hashset_has(const struct hashset *h, uint64_t v);

#endif
