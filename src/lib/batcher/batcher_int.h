/*
 * batcher_int.h -- the ingest batcher's insides: its structs and the
 * functions its files share (never for users of the library).
 *
 * The batcher's files, one concern each, in the order a write travels:
 *
 *   batcher.c    the public API: a batcher's life, building writes, the
 *                queue and its admission (backpressure), acknowledgements
 *   value.c      one value converted to a column's type without DuckDB
 *                (pure: testable without a database)
 *   textparse.c  dates, times, timestamps and decimals parsed from text
 *                exactly as DuckDB's cast would, for the common spellings
 *   catalog.c    the one cache of table -> columns + types, valid for one
 *                schema generation, shared by producers and the writer
 *   target.c     the writer's targets: a table and column list with its
 *                prepared INSERTs and (for wide tables) Appenders
 *   check.c      rows checked against their columns: our conversion, the
 *                rows DuckDB's cast refused found in bulk, DuckDB's cast
 *                for the rare journaled value ours cannot decide
 *   append.c     rows into Appenders (tables too wide for the batch scan)
 *   scan.c       the batch scan: rows into DuckDB through a table function
 *                read by prepared INSERT ... SELECTs, one per target and
 *                shape of its rows (DEFAULTs, values DuckDB casts)
 *   commit.c     one group into DuckDB transactions, failures isolated by
 *                bisection
 *   writer.c     the writer thread: taking groups, lingering, acknowledging
 *   codec.c      a write <-> a journal record
 *   journaled.c  journal acks: submit, the order of apply, wait-applied,
 *                replay at start
 *   apply.c      a write's rows on the caller's connection, in its
 *                transaction (duckpond_write_apply), by the same means
 *   bars.c       live bars: declared by CALL duckpond_bars, views over
 *                parts the writer folds ticks into, guarded from other writes
 *
 * Locks: b->mu guards the queue, the flags and the counters; b->cat.lock
 * guards the catalog cache and its connection; b->casters.mu the
 * connections that cast journaled values (check.c); the writer's connection,
 * targets, appenders and scratch belong to the writer thread alone (and
 * to batcher_new's thread while it replays the journal, before the writer
 * starts); the batch scan function's list of scanners is guarded by its
 * own mutex (scan.c), and what duckpond_write_apply keeps on a connection
 * belongs to that connection's thread. A write's state becomes W_DONE
 * through an atomic store.
 */
#ifndef DUCKPOND_BATCHER_INT_H
#define DUCKPOND_BATCHER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batcher.h"
#include "buf.h"
#include "dbint.h"
#include "duckpond.h"

#define MASK_COLS 64          /* DEFAULT values are allowed in this many first columns */
#define TEXT_MAX UINT32_MAX   /* bytes of text in one write */
#define SHOW_MAX 64           /* bytes of a bad value quoted in a message */
#define INLINE_VALS 8         /* values a write holds without an allocation */
#define INLINE_TEXT 48        /* bytes of text likewise */
#define INLINE_BAD 16         /* rows the writer's scratch marks hold likewise */
#define BARS_MAX 8            /* bar tables (intervals) of one tick table */
#define BARS_FLUSH_ROWS 32768 /* default flush_rows: ticks a bar view aggregates itself before a flush */

/* ------------------------------------------------------------ writes */

/* One stored value: 16 bytes; text lives in the write's arena at u.off. */
struct bval {
    uint32_t kind; /* duckpond_value_kind */
    uint32_t len;  /* text length */
    union {
        int64_t i64; /* INT64, BOOL (0/1), TIMESTAMP */
        double f64;
        uint64_t off;
    } u;
};

/* A failed row of a write. */
struct wfail {
    size_t row;
    int status;
    char *msg;
};

enum wstate { W_BUILDING = 0, W_QUEUED, W_DONE };

struct duckpond_write {
    duckpond_batcher *b;
    char *table;
    char **cols;
    int ncols;
    unsigned flags;
    int poison;        /* a status that fails every later call, or 0 */
    bool has_default;  /* some row holds a DEFAULT value */
    struct bval *vals; /* nrows * ncols */
    size_t nrows, cap_rows;
    char *text;
    size_t text_len, text_cap;
    size_t bytes; /* what the queue counts for it */
    int64_t submit_us;
    duckpond_write *next; /* in the queue, then in the writer's batch */

    /* Set by the writer; read by the producer after done. */
    int status;
    size_t committed, failed;
    struct wfail *fails;
    size_t nfails, cap_fails;
    bool all_failed; /* an atomic write failed whole: every row, errmsg */
    char *errmsg;
    uint8_t *bad; /* writer scratch: rows that failed (or will not be written) */
    struct target *tgt;
    uint64_t jseq;     /* its journal record's sequence number, once journaled; else 0 */
    bool internal;     /* the batcher's own copy of a journaled write: the writer frees it */
    size_t pending;    /* writer scratch: its rows in the attempt being committed */
    bool cast_checked; /* writer scratch: every value was checked, by DuckDB's cast where ours cannot tell */

    int state;       /* enum wstate; W_DONE is stored (release) by the writer */
    bool cols_block; /* cols and its names are one allocation */
    bool one_block;  /* table, cols, vals and text live in the write's own allocation */
    /* Small writes (one row of a few values) need no allocation of their own. */
    struct bval inl_vals[INLINE_VALS];
    char inl_text[INLINE_TEXT];
    uint8_t inl_bad[INLINE_BAD];
};

/* A run of rows of one write, the unit the writer commits and bisects. */
struct seg {
    duckpond_write *w;
    size_t lo, hi;
};

/* ----------------------------------------------------------- catalog */

/* A table's name as the catalog stores it. */
struct stored_name {
    char *catalog, *schema, *table;
};

/* A column as the catalog shows it. */
struct batcher_col {
    char *name;           /* as stored */
    char *type_name;      /* as DuckDB spells it, for CAST */
    duckdb_type type;     /* as an Appender reads it; DUCKDB_TYPE_INVALID if none would take it */
    uint8_t width, scale; /* of a DECIMAL */
};

/* A column list of a table, resolved against it (names checked, types known). */
struct cat_list {
    const struct cat_table *table; /* the table it belongs to */
    char *key;                     /* the write's table and column names (batcher_write_key) */
    int ncols;
    struct batcher_col *cols; /* in the write's order; their strings belong to the table */
    struct cat_list *next;
};

/* One table, as the catalog showed it at the cache's generation. */
struct cat_table {
    char *name; /* as writes name it: the lookup key */
    struct stored_name stored;
    int ncols;
    struct batcher_col *cols; /* in table order */
    /* Why an Appender refuses the table or a column (a view, a generated
     * column...): the status and message a write naming it gets. */
    int refused_rc; /* the table's, or 0 */
    char *refused_msg;
    int *col_refused_rc; /* per column, or NULL when none is refused */
    char **col_refused_msg;
    struct cat_list *lists;
    struct cat_table *next;
};

/* DuckDB casts prepared on one connection, by type name (check.c). */
struct cast {
    char *type_name;
    duckdb_prepared_statement stmt;
    struct cast *next;
};

/*
 * The catalog cache. gen is THE schema generation: bumped by
 * duckpond_batcher_schema_changed and by the writer when a failure may
 * mean that the schema changed; entries of an older generation are
 * dropped, and so are the writer's targets.
 */
struct batcher_catalog {
    pthread_rwlock_t lock;
    duckpond_conn *conn;                 /* the catalog connection, under the write lock */
    duckdb_prepared_statement cols_stmt; /* its catalog query */
    struct cat_table *tables;
    uint64_t tables_gen; /* the generation the tables were read in */
    uint64_t gen;        /* atomic */
};

/* ----------------------------------------------------------- targets */

/* The bit of a value kind in a set of kinds (struct shape's casts). */
#define KIND_BIT(kind) ((uint8_t)(1u << (kind)))

/* An Appender for the target's columns minus those a row leaves DEFAULT. */
struct tapp {
    uint64_t mask;       /* columns left out (DEFAULT) */
    duckdb_appender app; /* NULL when every column is DEFAULT: INSERT DEFAULT VALUES */
    bool used;           /* holds rows of the current attempt */
};

/*
 * One shape of a target's rows and its prepared statement over the batch
 * scan: the columns the rows leave to their DEFAULT, and per column the
 * kinds of value the scan hands over as they are, for the statement to
 * CAST (values our conversion cannot compute). An INSERT; or, for
 * probe, the SELECT that names the rows whose values do not cast.
 */
struct shape {
    uint64_t dmask; /* columns left to their DEFAULT */
    bool probe;
    uint8_t casts[MASK_COLS];  /* per column: KIND_BITs of the values cast by the statement */
    int64_t id;                /* names it (and its target) to the batch scan function */
    int nout;                  /* the scan's output columns */
    int16_t native[MASK_COLS]; /* per column: its output holding our conversion, or -1 */
    int16_t raw[MASK_COLS][8]; /* per column and kind: its output holding such values as they are, or -1 */
    duckdb_prepared_statement stmt;
    struct shape *next;
};

/* A declaration of live bars (bars.c): a row of duckpond_bars, with the tick columns' DEFAULTs. */
struct bar_decl {
    char *tick_schema, *tick_table, *bar_table, *every;
    char *parts_table;   /* <bar_table>_parts, the partial bars the view bar_table merges */
    char *col[4];        /* ts, symbol, price, size */
    char *dflt[4];       /* their DEFAULT expressions, or NULL */
    int64_t flush_rows;  /* a flush is due at this many pending ticks (the declaration's flush_rows) */
    int64_t pending;     /* ticks written since the last flush (counted by the writer, a heuristic) */
    int64_t parts_base;  /* rows of parts_table after its last compaction (or at load) */
    int64_t parts_added; /* rows appended since (likewise) */
    int64_t every_us;    /* the interval in microseconds, or 0 if it has days or months */
    /* Writer scratch of one flush of a target's bars (bars.c): the ticks this one took. */
    bool flushed;
    int64_t flushed_mark, flushed_end;
};

/* A table and a column list, resolved by the writer, with its means of writing. */
struct target {
    char *key; /* the write's table and column names (batcher_write_key) */
    struct stored_name stored;
    char *sql_name; /* quoted, for INSERT ... DEFAULT VALUES */
    int ncols;
    struct batcher_col *cols; /* copies, owned */
    struct tapp **apps;       /* for tables the batch scan cannot take */
    size_t napps, cap_apps;
    struct shape *shapes; /* prepared on first need, most recently used first */
    int nshapes;
    bool scan_failed;                         /* a statement could not be prepared: use the Appenders */
    duckdb_prepared_statement default_values; /* INSERT INTO t DEFAULT VALUES, made on first need */
    struct bar_decl *bars[BARS_MAX];          /* the live bars of the table (the writer's targets only) */
    int nbars;
    /* Writer scratch for the batch being committed. */
    uint64_t batch;           /* the batch the scratch belongs to */
    uint8_t casts[MASK_COLS]; /* per column: KIND_BITs of values only DuckDB's cast converts */
    uint64_t mark;            /* the attempt that inserted it last */
    struct target *next;
};

/*
 * One connection's use of a batcher's batch scan function (scan.c): the
 * writer's connection, and each connection duckpond_write_apply ran on
 * (apply.c). The function finds it by the connection that binds it, so
 * that statements on different connections never share a cursor.
 */
struct scanner {
    duckdb_connection conn;
    idx_t conn_id;
    struct scan_fn *fn;      /* the function it is registered with; NULL when not registered */
    const char *name;        /* the function's name */
    struct target **targets; /* its targets, where the function's bind finds a shape */
    int64_t next_shape_id;   /* shapes are numbered across its targets */
    uint64_t attempts;       /* marks targets met by one pass over a group (target.mark) */
    uint64_t runs, failed;   /* its statements executed, and those that failed */
    uint64_t *rows;          /* rows a probe named, as batcher_scan_probe gives them */
    size_t nrows, cap_rows;
    /* The statement being executed: its rows and cursor. */
    const struct seg *segs; /* NULL outside an execution */
    size_t nsegs;
    struct target *t;
    const struct shape *sh;
    size_t si, row;
    struct scanner *next; /* in fn's list */
};

/* ----------------------------------------------------------- batcher */

struct duckpond_batcher {
    duckpond_db *db;
    duckpond_batcher_settings set;

    pthread_mutex_t mu;
    pthread_cond_t work; /* the writer waits here for writes */
    pthread_cond_t room; /* producers wait here for queue room */
    duckpond_write *head, *tail;
    pthread_mutex_t stop_mu; /* one stop at a time */
    bool stopping, held, writer_idle, joined;
    bool drop_targets;                 /* writer: forget cached targets after this batch */
    size_t queued_writes, queued_rows; /* in the queue, not yet taken by the writer */
    size_t expect_writes;              /* writes the next group is expected to hold */
    size_t want_writes;                /* wake the writer when this many writes are queued */
    int64_t last_commit_us;
    int fatal; /* a status that fails every write, or 0 */
    char *fatal_msg;
    duckpond_batcher_stats stats;
    pthread_t thread;

    /* Bumped after each acknowledged batch; producers wait on it (futex). */
    uint32_t ack_seq;
    uint32_t ack_waiters;

    struct batcher_catalog cat;

    /* Writer thread only. */
    duckpond_conn *conn;
    struct target *targets;
    uint64_t targets_gen; /* the schema generation the targets were made in */
    struct cast *casts;   /* prepared on conn */
    uint64_t batches;     /* batches processed: names the current one for the targets' scratch */
    bool casts_probed;    /* the current batch's rows were searched for values DuckDB cannot cast */
    duckdb_prepared_statement tx_stmt[3]; /* BEGIN, COMMIT, ROLLBACK: parsed once */
    struct tapp **used;                   /* appenders used by the current attempt */
    size_t nused, cap_used;
    struct tapp *last_slot; /* the appender of the previous row, in this attempt */
    struct target *last_target;
    uint64_t batch_commits;
    struct scanner sc; /* the writer's use of the batch scan */

    /* Connections that cast journaled values ours cannot decide (check.c):
     * made on first need, at most CASTERS_MAX, each with its prepared casts. */
    struct casters {
        pthread_mutex_t mu;
        pthread_cond_t idle;
        struct caster *free; /* connections not in use */
        int made;
    } casters;

    /* The journal; NULL without one. */
    struct journal *journal;
    char *journal_report;   /* what opening it found and did */
    uint64_t applied_seq;   /* under mu: every journaled write <= it is applied */
    pthread_cond_t applied; /* wait_applied waits here for applied_seq */
    int apply_waiters;      /* under mu: wait_applied callers waiting now */
    bool direct_queued;     /* under mu: a write not from the journal may be queued */
    char *journal_failmsg;  /* under mu: the last row failed after its ack */
    /* Writer thread only (and batcher_new, before the thread starts). */
    uint64_t db_applied_seq;            /* as duckpond_journal_state holds it */
    duckdb_prepared_statement seq_stmt; /* UPDATE duckpond_journal_state ... */
    duckpond_write **jbatch;            /* journaled writes of the batch being processed, in order */
    size_t njbatch, cap_jbatch;
    uint64_t jbatch_done;   /* the last one processed, for publish_applied */
    bool probing;           /* commits are trials, rolled back (commit_journaled_rows) */
    bool journaled_split;   /* inside commit_journaled_rows */
    int exit_after_commits; /* tests only: _exit(0) after this many more commits; 0 never */
    uint64_t recycle_at;    /* recycle old segments once this seq is applied; 0 = none */
    duckpond_write *replay_head, *replay_tail; /* records read at open, not yet applied */
    size_t replay_writes, replay_rows;

    /* The batch scan function (scan.c): its list of connections, which
     * DuckDB owns (NULL if it could not be registered), and its name. */
    struct scan_fn *scan_fn;
    char scan_name[48];

    /* Live bars (bars.c): the declarations, the writer's; one declaration
     * handed to the writer (under mu) and the signal of its answer. */
    struct bar_decl *bars;
    size_t nbars, cap_bars;
    struct bars_req *bars_req;
    pthread_cond_t bars_done;

    uint64_t values_cast_alone;            /* atomic: values DuckDB cast by a statement each (check.c) */
    uint64_t writes_applied, rows_applied; /* atomic: duckpond_write_apply's (apply.c) */

    /* Atomic: writes made on b and not yet freed. Last, among fields the
     * writer touches once a batch, away from the futex words every
     * producer waits on. */
    size_t live_writes;
};

/* ------------------------------------------------ batcher.c: writes, queue */

/* Frees a write and everything it holds (no wait; the caller knows it is not queued). */
void batcher_write_free_parts(duckpond_write *w);
/* A copy of names[0..n) as one allocation: the pointer array, then the strings. NULL if out of memory. */
char **batcher_names_block(const char *const *names, int n);
/* Records failed row `row` of w with a status and message (msg taken). */
void batcher_write_fail_row(duckpond_write *w, size_t row, int status, char *msg);
/* Fails a whole write (every row) with status and msg (msg taken; NULL: the status's text). */
void batcher_write_fail_all(duckpond_write *w, int status, char *msg);
/* Marks a write that was never queued done with its results; returns its status. */
int batcher_write_finish(duckpond_write *w, int status);
/* Whether the writer is done with w (its results may be read). */
bool batcher_write_done(const duckpond_write *w);
/* Waits (under b->mu) for queue room for w; DUCKPOND_OK, or a status with w->errmsg. */
int batcher_admit(duckpond_batcher *b, duckpond_write *w);
/* Counts w's rows and bytes as waiting to be committed (sign > 0) or not (under b->mu). */
void batcher_queue_reserve(duckpond_batcher *b, const duckpond_write *w, int sign);
/* Links a write whose room is reserved into the queue (under b->mu). */
void batcher_queue_link(duckpond_batcher *b, duckpond_write *w, int64_t now_us);
/* Wakes the writer if it waits and enough is queued (under b->mu). */
void batcher_queue_poke(duckpond_batcher *b);

/* ------------------------------------------------ value.c: conversion */

/* A value converted to its column's type, ready to store. */
struct cval {
    union {
        bool b;
        int64_t i; /* integers; TIMESTAMP[TZ] and TIME in microseconds; DATE in days */
        uint64_t u;
        double d;
        __int128 dec; /* a DECIMAL, unscaled */
    } v;
    const char *s;
    size_t slen;
};

/*
 * What our conversion knows of a value: CV_OK, converted; CV_VALID,
 * DuckDB's cast surely converts it but only DuckDB computes the value;
 * CV_GENERIC, only DuckDB's cast can tell; CV_BAD, never storable (text
 * that is not UTF-8).
 */
enum conv_result { CV_OK, CV_VALID, CV_GENERIC, CV_BAD };

/*
 * Converts one value (text in the arena `text`) to column c's type
 * without DuckDB, as DuckDB's cast would: see conv_result; *out is filled
 * for CV_OK only.
 */
enum conv_result batcher_convert(const struct batcher_col *c, const struct bval *v, const char *text,
                                 struct cval *out);
/* True when a value of this kind always converts to type t (no check needed). */
bool batcher_always_converts(duckdb_type t, uint32_t kind);
/* Whether values converted for column c have a vector layout of ours (batcher_vector_put). */
bool batcher_col_native(const struct batcher_col *c);
/* Column c's type as DuckDB's logical type (a DECIMAL's width and scale too); the caller destroys it. */
duckdb_logical_type batcher_col_logical_type(const struct batcher_col *c);
/* Stores a value converted for native column c at row r of vector v. */
void batcher_vector_put(duckdb_vector v, const struct batcher_col *c, idx_t r, const struct cval *cv);
/* The column type that holds values of a kind as they are (the batch scan hands them to a CAST). */
duckdb_type batcher_kind_type(uint32_t kind);
/* Stores value v as it is at row r of vector vec of batcher_kind_type(v->kind). */
void batcher_kind_put(duckdb_vector vec, idx_t r, const struct bval *v, const char *text);
/* A DuckDB value for a stored value, typed as the caller gave it; the caller destroys it. */
duckdb_value batcher_make_value(duckdb_type t, const struct bval *v, const char *text);
/* A printable rendering of a value (text quoted, cut at SHOW_MAX bytes) into buf. */
void batcher_show_value(const struct bval *v, const char *text, char *buf, size_t len);

/* ------------------------------------------------ textparse.c: text as DuckDB's cast reads it */

/* Each gives CV_OK (with the value), CV_VALID or CV_GENERIC as batcher_convert does. */
enum conv_result batcher_parse_date(const char *s, size_t len, int32_t *days);
enum conv_result batcher_parse_time(const char *s, size_t len, int64_t *micros);
/* A TIMESTAMP (tz false) or TIMESTAMPTZ (tz true), in microseconds since 1970-01-01 (UTC). */
enum conv_result batcher_parse_timestamp(const char *s, size_t len, bool tz, int64_t *micros);
/* A DECIMAL(width, scale), as its unscaled integer. */
enum conv_result batcher_parse_decimal(const char *s, size_t len, int width, int scale, __int128 *out);

/* ------------------------------------------------ catalog.c: the cache */

int batcher_catalog_open(duckpond_batcher *b);
void batcher_catalog_close(duckpond_batcher *b);
/* The current schema generation. */
uint64_t batcher_schema_gen(const duckpond_batcher *b);
/* Moves the schema generation on: every cached table and target is stale. */
void batcher_schema_bump(duckpond_batcher *b);
/*
 * The column names of table in table order, for writes made with
 * columns = NULL: *cols is a batcher_names_block copy. DUCKPOND_NOTFOUND
 * (or another status) with *msg (malloc'd) when it cannot be looked up.
 */
int batcher_catalog_columns(duckpond_batcher *b, const char *table, char ***cols, int *ncols, char **msg);
/*
 * The columns of w's table and column list at the current generation,
 * from the cache or the catalog. Returns with b->cat.lock held: for
 * reading, or for writing when exclusive (to use the catalog connection)
 * or when they had to be loaded. NULL, with the lock released and
 * *rc, *msg (malloc'd) set, when the table or a column cannot be written.
 */
const struct cat_list *batcher_catalog_acquire(duckpond_batcher *b, const duckpond_write *w, bool exclusive,
                                               int *rc, char **msg);
void batcher_catalog_release(duckpond_batcher *b);
/*
 * Reads w's table and columns on conn, inside its open transaction if it
 * has one, as the cache would but outside it: an entry of its own (free
 * it with batcher_catalog_table_free) with w's column list resolved in
 * *list. *stmt is the catalog query on conn, prepared on first need (the
 * caller destroys it). NULL, with *rc and *msg (malloc'd), when the table
 * or a column cannot be written.
 */
struct cat_table *batcher_catalog_read_on(duckdb_connection conn, duckdb_prepared_statement *stmt,
                                          const duckpond_write *w, const struct cat_list **list, int *rc,
                                          char **msg);
void batcher_catalog_table_free(struct cat_table *t);
/* Frees the strings of a stored name / of n columns and the array. */
void batcher_stored_name_free(struct stored_name *n);
void batcher_cols_free(struct batcher_col *cols, int n);
/* dst as a copy of src; DUCKPOND_NOMEM (dst then freed by batcher_stored_name_free) if out of memory. */
int batcher_stored_name_copy(struct stored_name *dst, const struct stored_name *src);
/* The status and message (malloc'd) of an Appender that refused the table or a column of it. */
int batcher_appender_refusal(duckdb_appender a, const char *table, char **msg);
/* The lookup key of a write's target: its table and column names, NUL-separated, ending in "". */
char *batcher_write_key(const duckpond_write *w);
/* Whether a key names w's table and columns, in order. */
bool batcher_key_matches(const char *k, const duckpond_write *w);

/* ------------------------------------------------ target.c: the writer's targets */

/* A new target for w's table and columns as the catalog resolved them (l); NULL with *rc if out of memory. */
struct target *batcher_target_make(const duckpond_write *w, const struct cat_list *l, int *rc);
/* Frees a target, its Appenders and prepared statements. */
void batcher_target_free(struct target *t);
/* w's target, from the writer's cache or the catalog; NULL with *rc and *msg. */
struct target *batcher_target_get(duckpond_batcher *b, const duckpond_write *w, int *rc, char **msg);
/* Frees every target (and the writer's casts) if the schema generation moved on. */
void batcher_targets_refresh(duckpond_batcher *b);
/* Frees a shape and its statement. */
void batcher_shape_free(struct shape *s);
/* Drops every target after an error that may mean the schema changed; moves the generation on. */
void batcher_targets_drop(duckpond_batcher *b);
/* Creates an Appender on c for t's columns not in mask (DEFAULT ones). */
int batcher_target_appender(duckdb_connection c, const struct target *t, uint64_t mask, duckdb_appender *out,
                            char **msg);

/* ------------------------------------------------ check.c: rows against columns */

void batcher_casts_free(struct cast **casts);
/* Closes the connections that cast journaled values (no check may run). */
void batcher_casters_close(duckpond_batcher *b);
/*
 * Notes in t->casts the kinds of w's values that only DuckDB's cast
 * converts. True when a value of w can never be stored (CV_BAD).
 */
bool batcher_note_casts(struct target *t, const duckpond_write *w);
/*
 * Checks row r of w against cols as the writer's check does, with
 * DuckDB's casts on one of b's casters (outside any transaction of the
 * caller's) where our conversion cannot decide: DUCKPOND_OK, or a status
 * with *msg (malloc'd) naming the row, column and value.
 */
int batcher_check_row_apart(duckpond_batcher *b, const struct batcher_col *cols, const duckpond_write *w,
                            size_t r, char **msg);
/* Gives w cleared marks for its rows (w->bad); false if out of memory. */
bool batcher_marks_alloc(duckpond_write *w);
void batcher_marks_release(duckpond_write *w);
/*
 * The writer's first pass over a write: resolves its target and converts
 * every value it can; values only DuckDB's cast converts are noted in the
 * target's scratch, for the batch scan to hand to a CAST. A write with a
 * value that can never convert, or bound for the Appenders, is checked
 * whole with DuckDB's casts (check_rows): bad rows are recorded (or fail
 * the whole atomic write). False when nothing of the write is left to
 * commit.
 */
bool batcher_check_write(duckpond_batcher *b, duckpond_write *w);
/* Checks the writes of segs[0..n) not checked whole yet (before the Appenders take them). */
void batcher_check_segs_whole(duckpond_batcher *b, const struct seg *segs, size_t n);
/*
 * After a failed attempt: finds, in one query per target, the rows of
 * segs[0..n) whose values DuckDB's cast refuses, and fails each as
 * the writer's check words it (or its whole atomic write). Once a batch;
 * true when it failed some row (the attempt is worth repeating).
 */
bool batcher_check_failed_casts(duckpond_batcher *b, const struct seg *segs, size_t n);
/*
 * The same check on a producer's thread, before a write is journaled,
 * through the catalog cache: our conversion, or for the rare value it
 * cannot decide, DuckDB's cast on a connection of b->casters.
 * False when no row is left to journal.
 */
bool batcher_check_journaled(duckpond_batcher *b, duckpond_write *w);

/* ------------------------------------------------ append.c: Appenders */

/* Appends the good rows of segs[0..n) to their targets' Appenders (no flush). */
int batcher_append_segs(duckpond_batcher *b, const struct seg *segs, size_t n, char **msg);
/* Flushes every Appender the attempt used. */
int batcher_append_flush(duckpond_batcher *b, char **msg);
/* Forgets the attempt's Appenders after its commit. */
void batcher_append_done(duckpond_batcher *b);
/* Throws away what the Appenders of a failed attempt hold, rolling back. */
void batcher_append_discard(duckpond_batcher *b, bool in_tx);
/* The status and message of a failed Appender call. */
int batcher_appender_fail(duckdb_appender a, char **msg);

/* ------------------------------------------------ scan.c: the batch scan */

/*
 * Gives table function f its extra info and callbacks, registers it on c
 * and destroys the handle: DuckDBSuccess, or DuckDBError (extra is then
 * freed with the function).
 */
duckdb_state batcher_table_function_register(duckdb_connection c, duckdb_table_function f, void *extra,
                                             duckdb_delete_callback_t free_extra,
                                             duckdb_table_function_bind_t bind,
                                             duckdb_table_function_init_t init, duckdb_table_function_t fn);
/* Registers b's batch scan function on the writer's connection, and the writer's scanner with it. */
int batcher_scan_register(duckpond_batcher *b);
/* Takes the writer's scanner off the function (which DuckDB keeps until the database closes). */
void batcher_scan_unregister(duckpond_batcher *b);
/*
 * Registers sc with b's batch scan function, for statements on conn whose
 * shapes are found among *targets. DUCKPOND_ERROR when b has no function.
 */
int batcher_scanner_attach(struct scanner *sc, duckpond_batcher *b, duckdb_connection conn,
                           struct target **targets);
/* Takes sc off its function and frees what it holds (its targets are its owner's). */
void batcher_scanner_detach(struct scanner *sc);
/* Whether segs[0..n) can be inserted by sc's batch scan (no target too wide, or refused). */
bool batcher_scan_fits(struct scanner *sc, const struct seg *segs, size_t n);
/* Whether batcher_scan_insert inserts t's rows of segs[0..n) by one statement (else one per DEFAULT pattern). */
bool batcher_scan_one_statement(const struct target *t, const struct seg *segs, size_t n);
/* Inserts the good rows of segs[0..n) that belong to target t, by its prepared INSERTs. */
int batcher_scan_insert(struct scanner *sc, struct target *t, const struct seg *segs, size_t n, char **msg);
/*
 * The good rows of segs[0..n) bound for t with a value DuckDB's cast
 * refuses, into sc->rows (sc->nrows of them), each as its segment's index
 * << 32 | its row, in order. DUCKPOND_OK or a status with *msg.
 */
int batcher_scan_probe(struct scanner *sc, struct target *t, const struct seg *segs, size_t n, char **msg);

/* Appends the expression of column i of an INSERT of shape sh: its native value, else its raw values cast. */
void batcher_insert_expr(struct dp_buf *sql, const struct target *t, const struct shape *sh, int i);
/* Runs statement stmt of shape sh over t's rows of segs[0..n) (sh NULL: no scan); *res to destroy on success. */
int batcher_scan_run(struct scanner *sc, struct target *t, const struct shape *sh,
                     duckdb_prepared_statement stmt, const struct seg *segs, size_t n, duckdb_result *res,
                     char **msg);

/* ------------------------------------------------ bars.c: live bars */

/* Registers duckpond_bars (once per database), makes b serve it, loads the declarations. */
int batcher_bars_start(duckpond_batcher *b);
/* b serves declarations no more (waits for one it serves now). Before the writer stops. */
void batcher_bars_stop(duckpond_batcher *b);
void batcher_bars_destroy(duckpond_batcher *b);
/* (Re)reads duckpond_bars on the writer's connection, and publishes the table names for the guard. */
int batcher_bars_load(duckpond_batcher *b);
void batcher_bars_free(duckpond_batcher *b);
/* Gives a new target of the writer the bars of its table. */
void batcher_bars_attach(duckpond_batcher *b, struct target *t);
/*
 * Before the group being committed writes ticks to t (inside its
 * transaction): flushes the bars of t whose unsummarised ticks reached
 * their flush_rows into their parts. DUCKPOND_OK, or the failure's class
 * with DuckDB's message in *msg.
 */
int batcher_bars_before(struct scanner *sc, struct target *t, char **msg);
/* Whether a bar of t is due a flush: the group writing to t then runs in a transaction of its own. */
bool batcher_bars_due(const struct target *t);
/* Counts rows ticks written to t by the group being committed, towards its bars' next flush. */
void batcher_bars_added(struct target *t, int64_t rows);
/* The writer runs the declaration handed to it (b->mu held on entry and exit). */
void batcher_bars_serve(duckpond_batcher *b);

/* ------------------------------------------------ commit.c: groups into transactions */

enum tx_verb { TX_BEGIN, TX_COMMIT, TX_ROLLBACK };
extern const char *const batcher_tx_sql[3];
/* BEGIN, COMMIT or ROLLBACK on the writer's connection; a status, with *msg (if msg) on failure. */
int batcher_writer_tx(duckpond_batcher *b, enum tx_verb verb, char **msg);
/* Runs sql on the writer's connection; a status, with *msg (if msg) on failure. */
int batcher_writer_exec(duckpond_batcher *b, const char *sql, char **msg);
/* Good rows of a segment. */
size_t batcher_seg_rows(const struct seg *s);
/* The writer's work on one batch (a list of writes): check, commit, isolate failures. */
void batcher_commit_batch(duckpond_batcher *b, duckpond_write *list);

/* ------------------------------------------------ writer.c: the writer thread */

void *batcher_writer_main(void *arg);
/* Frees the batcher's own (journaled) writes of a processed batch; returns the rest. */
duckpond_write *batcher_free_internal(duckpond_write *batch);

/* ------------------------------------------------ codec.c: journal records */

/* Appends the journal record of w's rows not marked in skip (may be NULL) to out. */
void batcher_codec_encode(const duckpond_write *w, const uint8_t *skip, struct dp_buf *out);
/* batcher_decode for the batcher's own use: the write is not counted as the caller's. */
int batcher_codec_decode(duckpond_batcher *b, const void *payload, size_t len, duckpond_write **out,
                         char **msg);

/* ------------------------------------------------ journaled.c: journal acks */

/* DUCKPOND_ACK_JOURNAL: check, journal, return once on disk. */
int batcher_submit_journaled(duckpond_write *w);
/* Opens the journal of b's settings and replays it (batcher_new's thread). */
int batcher_journal_start(duckpond_batcher *b);
/* Lists the journaled writes of a batch in b->jbatch; false if memory ran out. */
bool batcher_jbatch_fill(duckpond_batcher *b, duckpond_write *list, size_t n);
/* After a batch: stores the last journaled number if no commit carried it. */
void batcher_jbatch_finish(duckpond_batcher *b);
/* The journal number a commit of segs[0..n) makes applied, or 0. */
uint64_t batcher_seq_after(duckpond_batcher *b, const struct seg *segs, size_t n);
/* Stores seq in duckpond_journal_state, in the writer's open transaction. */
int batcher_store_applied_seq(duckpond_batcher *b, uint64_t seq, char **msg);
/* Tells wait_applied that the processed batch is applied (under b->mu). */
void batcher_publish_applied(duckpond_batcher *b);
/* Counts rows of a journaled write that failed after their ack (under b->mu). */
void batcher_journal_failed_after_ack(duckpond_batcher *b, const duckpond_write *w);
/* Deletes journal segments whose records are all applied, after a CHECKPOINT. */
void batcher_journal_recycle(duckpond_batcher *b, bool force);

#endif
