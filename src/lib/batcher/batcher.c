/*
 * batcher.c -- the ingest batcher: many small writes, few large commits.
 *
 * Producers on any thread build a duckpond_write (rows of typed or text
 * values for one table and one list of columns) and submit it to a queue.
 * One writer thread per batcher, on its own DuckDB connection, takes
 * everything queued (up to the batch limits), checks and converts every
 * value against the column's type, inserts the good rows -- by one prepared
 * INSERT per (table, columns) that reads them through a table function of
 * the batcher (the batch scan, below), or through one Appender per (table,
 * columns) for rows the scan cannot take -- commits them as one
 * transaction, and acknowledges every write of the batch. While it commits, new
 * writes gather in the queue and form the next group (leader/follower
 * group commit): under load a batch is as large as the time one commit
 * takes. Before taking a group the writer may linger briefly (at most
 * max_delay_us, and never longer than the last commit took) until as many
 * writes are queued as the last group held, so that producers woken by
 * the last acknowledgement make it into the next commit instead of
 * splitting into two half-size groups. A group for one table, with no
 * DEFAULT values, is committed by its INSERT (or the Appender's flush)
 * alone; others inside BEGIN ... COMMIT, so that a group spanning tables is
 * atomic. Journaled writes reach the queue from the journal's flush (one
 * lock for every record of an fdatasync, in sequence order).
 *
 * Error isolation: values are converted before they reach an Appender (a
 * failed append leaves a half row that cannot be taken back), so a bad
 * value fails its own row only. What only DuckDB can see -- PRIMARY KEY,
 * NOT NULL, CHECK -- fails the whole group's transaction; the writer then
 * bisects: each half is retried in its own transaction, and halves keep
 * splitting (down to single rows, or single writes for DUCKPOND_WRITE_ATOMIC)
 * until every good row is committed and every guilty one failed alone.
 *
 * Memory is bounded: rows accepted but not yet committed are counted
 * against queue_max_rows / queue_max_bytes; a producer that finds no room
 * waits up to the overload timeout, then gets DUCKPOND_OVERLOADED having
 * written nothing.
 *
 * Locks: b->mu guards the queue, the flags and the counters; a write's
 * state becomes W_DONE through an atomic store, and its producer sleeps on
 * a futex word bumped once per acknowledged batch (one wake-up call per
 * group instead of one per write); b->meta_lock guards the catalog
 * connection and column cache that write_new uses for columns = NULL. The writer's connection,
 * appenders and targets belong to the writer thread alone.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "batcher.h"
#include "dbint.h"
#include "duckpond.h"
#include "journal.h"
#include "utf8.h"

const uint64_t duckpond_latency_bounds_us[DUCKPOND_LATENCY_BUCKETS] = {
    100,    250,    500,     1000,    2500,    5000,    10000,   25000,
    50000,  100000, 250000,  500000,  1000000, 2500000, 5000000, 10000000,
};

#define MASK_COLS 64          /* DEFAULT values are allowed in this many first columns */
#define TEXT_MAX UINT32_MAX   /* bytes of text in one write */
#define SHOW_MAX 64           /* bytes of a bad value quoted in a message */
#define INLINE_VALS 8         /* values a write holds without an allocation */
#define INLINE_TEXT 48        /* bytes of text likewise */
#define INLINE_BAD 16         /* rows the writer's scratch marks hold likewise */

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
    size_t bytes;      /* what the queue counts for it */
    int64_t submit_us;
    duckpond_write *next; /* in the queue, then in the writer's batch */

    /* Set by the writer; read by the producer after done. */
    int status;
    size_t committed, failed;
    struct wfail *fails;
    size_t nfails, cap_fails;
    bool all_failed;   /* an atomic write failed whole: every row, errmsg */
    char *errmsg;
    uint8_t *bad;      /* writer scratch: rows that failed conversion */
    struct target *tgt;
    uint64_t jseq;     /* its journal record's sequence number, once journaled; else 0 */
    bool internal;     /* the batcher's own copy of a journaled write: the writer frees it */
    size_t pending;    /* writer scratch: its rows in the attempt being committed */
    bool plain;        /* writer scratch: every good row converts without DuckDB's cast */

    int state; /* enum wstate; W_DONE is stored (release) by the writer */
    bool cols_block;   /* cols and its names are one allocation */
    bool one_block;    /* table, cols, vals and text live in the write's own allocation */
    /* Small writes (one row of a few values) need no allocation of their own. */
    struct bval inl_vals[INLINE_VALS];
    char inl_text[INLINE_TEXT];
    uint8_t inl_bad[INLINE_BAD];
};

/* A column of a target, as the writer's catalog lookup found it. */
struct tcol {
    char *name;
    char *type_name;               /* as DuckDB spells it, for CAST */
    duckdb_type type;
    duckdb_prepared_statement cast; /* SELECT CAST($1 AS type), made on first need */
};

/* An Appender for the target's columns minus those a row leaves DEFAULT. */
struct tapp {
    uint64_t mask; /* columns left out (DEFAULT) */
    duckdb_appender app; /* NULL when every column is DEFAULT: INSERT DEFAULT VALUES */
    bool used;     /* holds rows of the current attempt */
};

/* A table and a column list, resolved by the writer. */
struct target {
    char *key;      /* the write's table and column names, for lookup */
    char *catalog, *schema, *table; /* as stored in the catalog */
    char *sql_name; /* quoted, for INSERT ... DEFAULT VALUES */
    int ncols;
    struct tcol *cols;
    struct tapp **apps;
    int napps, cap_apps;
    bool chunkable;          /* every column has a native vector layout */
    duckdb_data_chunk chunk; /* for appending whole vectors, made on first need */
    int64_t id;              /* names it to the batch scan function */
    duckdb_prepared_statement insert; /* INSERT ... SELECT * FROM the batch scan; made on first need */
    bool insert_failed;      /* could not be prepared: use the Appender */
    uint64_t mark;           /* writer scratch: the attempt that inserted it last */
    struct target *next;
};

/* A cached column list for writes made with columns = NULL. */
struct meta_ent {
    char *table;
    char **cols;
    int ncols;
    uint64_t gen;
    struct meta_ent *next;
};

/*
 * The column types of one target, for checking journaled writes on the
 * producer's thread before they are journaled. Under b->meta_lock; the
 * DuckDB casts of cols are prepared on b->meta_conn.
 */
struct jcheck_ent {
    char *key; /* target_key */
    size_t keylen;
    uint64_t gen;
    int ncols;
    struct tcol *cols;
    struct jcheck_ent *next;
};

static void meta_free(struct meta_ent *m)
{
    for (int i = 0; i < m->ncols; i++)
        free(m->cols[i]);
    free(m->cols);
    free(m->table);
    free(m);
}

/* A run of rows of one write, the unit the writer commits and bisects. */
struct seg {
    duckpond_write *w;
    size_t lo, hi;
};

struct duckpond_batcher {
    duckpond_db *db;
    duckpond_batcher_settings set;

    pthread_mutex_t mu;
    pthread_cond_t work; /* the writer waits here for writes */
    pthread_cond_t room; /* producers wait here for queue room */
    duckpond_write *head, *tail;
    pthread_mutex_t stop_mu; /* one stop at a time */
    bool stopping, held, writer_idle, joined;
    bool drop_targets;   /* writer: forget cached targets after this batch */
    size_t queued_writes, queued_rows; /* in the queue, not yet taken by the writer */
    size_t expect_writes; /* writes the next group is expected to hold */
    size_t want_writes;   /* wake the writer when this many writes are queued */
    int64_t last_commit_us;
    int fatal;           /* a status that fails every write, or 0 */
    char *fatal_msg;
    duckpond_batcher_stats stats;
    pthread_t thread;

    /* Bumped after each acknowledged batch; producers wait on it (futex). */
    uint32_t ack_seq;
    uint32_t ack_waiters;

    /* Writer thread only. */
    duckpond_conn *conn;
    struct target *targets;
    duckdb_prepared_statement cols_stmt;
    duckdb_prepared_statement tx_stmt[3]; /* BEGIN, COMMIT, ROLLBACK: parsed once */
    struct tapp **used;  /* appenders used by the current attempt */
    int nused, cap_used;
    struct tapp *last_slot; /* the appender of the previous row, in this attempt */
    struct target *last_target;
    uint64_t batch_commits;
    struct batch_scan *scan; /* the batch scan function's state (DuckDB owns it) */
    char scan_name[48];      /* the batch scan function's name */
    int64_t next_target_id;
    uint64_t attempts;

    /* Catalog look-ups for write_new, under meta_lock. */
    pthread_rwlock_t meta_lock;
    duckpond_conn *meta_conn;
    duckdb_prepared_statement meta_stmt;
    struct meta_ent *meta;
    uint64_t meta_gen; /* bumped (atomically) by the writer when the schema may have changed */
    struct jcheck_ent *jcheck; /* column types for checking journaled writes, under meta_lock */

    /* The journal; NULL without one. */
    struct journal *journal;
    char *journal_report;       /* what opening it found and did */
    uint64_t applied_seq;       /* under mu: every journaled write <= it is applied */
    pthread_cond_t applied;     /* wait_applied waits here for applied_seq */
    int apply_waiters;          /* under mu: wait_applied callers waiting now */
    bool direct_queued;         /* under mu: a write not from the journal may be queued */
    char *journal_failmsg;      /* under mu: the last row failed after its ack */
    /* Writer thread only (and batcher_new, before the thread starts). */
    uint64_t db_applied_seq;    /* as duckpond_journal_state holds it */
    duckdb_prepared_statement seq_stmt; /* UPDATE duckpond_journal_state ... */
    duckpond_write **jbatch;    /* journaled writes of the batch being processed, in order */
    size_t njbatch, cap_jbatch;
    uint64_t jbatch_done;       /* the last one processed, for publish_applied */
    bool probing;               /* commits are trials, rolled back (commit_journaled_rows) */
    bool journaled_split;       /* inside commit_journaled_rows */
    int exit_after_commits;     /* tests only: _exit(0) after this many more commits; 0 never */
    uint64_t recycle_at;        /* recycle old segments once this seq is applied; 0 = none */
    duckpond_write *replay_head, *replay_tail; /* records read at open, not yet applied */
    size_t replay_writes, replay_rows;
};

/* Defined further down: the writes' and the journal's parts. */
static void write_free_parts(duckpond_write *w);
static void enqueue(duckpond_batcher *b, duckpond_write *w);
static int submit_journal(duckpond_write *w);
static int journal_start(duckpond_batcher *b);
static void jcheck_free(struct jcheck_ent *e);

/* ------------------------------------------------------------ helpers */

/* A malloc'd printf. NULL only when memory runs out. */
static char *fmt_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

/*
 * A copy of the names of cols[0..n) as one allocation: the pointer array,
 * then the strings. NULL if out of memory.
 */
static char **names_block(const char *const *cols, int n)
{
    size_t size = (size_t)n * sizeof(char *);
    for (int i = 0; i < n; i++)
        size += strlen(cols[i]) + 1;
    char **out = malloc(size ? size : 1);
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    for (int i = 0; i < n; i++) {
        out[i] = p;
        p = stpcpy(p, cols[i]) + 1;
    }
    return out;
}

/* Appends a printable rendering of a value (text quoted and cut) to buf. */
static void show_value(const struct bval *v, const char *text, char *buf, size_t len)
{
    switch (v->kind) {
    case DUCKPOND_VALUE_NULL:
        snprintf(buf, len, "NULL");
        break;
    case DUCKPOND_VALUE_DEFAULT:
        snprintf(buf, len, "DEFAULT");
        break;
    case DUCKPOND_VALUE_BOOL:
        snprintf(buf, len, "%s", v->u.i64 ? "true" : "false");
        break;
    case DUCKPOND_VALUE_INT64:
        snprintf(buf, len, "%lld", (long long)v->u.i64);
        break;
    case DUCKPOND_VALUE_DOUBLE:
        snprintf(buf, len, "%.17g", v->u.f64);
        break;
    case DUCKPOND_VALUE_TIMESTAMP:
        snprintf(buf, len, "timestamp %lld us", (long long)v->u.i64);
        break;
    case DUCKPOND_VALUE_TEXT: {
        size_t o = 0, n = v->len < SHOW_MAX ? v->len : SHOW_MAX;
        const unsigned char *t = (const unsigned char *)text + v->u.off;
        o += (size_t)snprintf(buf + o, len - o, "'");
        for (size_t i = 0; i < n && o + 8 < len; i++)
            o += (size_t)snprintf(buf + o, len - o, (t[i] >= 0x20 && t[i] < 0x7F) ? "%c" : "\\x%02x",
                                  t[i]);
        snprintf(buf + o, len - o, "'%s", v->len > SHOW_MAX ? "..." : "");
        break;
    }
    default:
        snprintf(buf, len, "?");
    }
}

/* -------------------------------------------------------- conversion */

/* A value converted to its column's type, ready to append. */
struct cval {
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
    } v;
    const char *s;
    size_t slen;
};

enum conv_result { CV_OK, CV_GENERIC, CV_BAD };

/* Parses an optionally signed decimal integer that fills s[0..len). */
static bool parse_int(const char *s, size_t len, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        *neg = s[i++] == '-';
    if (i == len || len - i > 20)
        return false;
    uint64_t m = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (m > (UINT64_MAX - d) / 10)
            return false;
        m = m * 10 + d;
    }
    *mag = m;
    return true;
}

/* Parses a plain decimal number ("-1.5e3") that fills s[0..len). */
static bool parse_double(const char *s, size_t len, double *out)
{
    char buf[64];
    size_t i = 0, digits = 0;
    if (len == 0 || len >= sizeof buf)
        return false;
    if (s[i] == '+' || s[i] == '-')
        i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < len && s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (!digits)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;
        if (++i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            exp_digits++;
        if (!exp_digits)
            return false;
    }
    if (i != len)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    *out = strtod(buf, NULL);
    return errno == 0 && isfinite(*out);
}

/* The range of an integer column type; false for other types. */
static bool int_range(duckdb_type t, int64_t *lo, uint64_t *hi)
{
    switch (t) {
    case DUCKDB_TYPE_TINYINT: *lo = INT8_MIN, *hi = INT8_MAX; return true;
    case DUCKDB_TYPE_SMALLINT: *lo = INT16_MIN, *hi = INT16_MAX; return true;
    case DUCKDB_TYPE_INTEGER: *lo = INT32_MIN, *hi = INT32_MAX; return true;
    case DUCKDB_TYPE_BIGINT: *lo = INT64_MIN, *hi = INT64_MAX; return true;
    case DUCKDB_TYPE_UTINYINT: *lo = 0, *hi = UINT8_MAX; return true;
    case DUCKDB_TYPE_USMALLINT: *lo = 0, *hi = UINT16_MAX; return true;
    case DUCKDB_TYPE_UINTEGER: *lo = 0, *hi = UINT32_MAX; return true;
    case DUCKDB_TYPE_UBIGINT: *lo = 0, *hi = UINT64_MAX; return true;
    default: return false;
    }
}

/* Stores a signed/unsigned magnitude into an integer column's range. */
static enum conv_result fit_int(duckdb_type t, bool neg, uint64_t mag, struct cval *out)
{
    int64_t lo;
    uint64_t hi;
    if (!int_range(t, &lo, &hi))
        return CV_GENERIC;
    if (neg) {
        if (mag == 0) {
            out->v.i = 0;
            return CV_OK;
        }
        if (lo == 0 || mag - 1 > (uint64_t)(-(lo + 1)))
            return CV_GENERIC; /* out of range: DuckDB's cast says so */
        out->v.i = (int64_t)(0 - mag);
        return CV_OK;
    }
    if (mag > hi)
        return CV_GENERIC;
    if (t == DUCKDB_TYPE_UBIGINT)
        out->v.u = mag;
    else
        out->v.i = (int64_t)mag;
    return CV_OK;
}

/* Converts text to a column of type t where that is plain and common. */
static enum conv_result convert_text(duckdb_type t, const char *s, size_t len, struct cval *out)
{
    bool neg;
    uint64_t mag;
    switch (t) {
    case DUCKDB_TYPE_VARCHAR:
        if (!dp_utf8_valid(s, len))
            return CV_BAD;
        out->s = s, out->slen = len;
        return CV_OK;
    case DUCKDB_TYPE_BOOLEAN:
        if ((len == 4 && !strncasecmp(s, "true", 4)) || (len == 1 && (*s == 't' || *s == '1'))) {
            out->v.b = true;
            return CV_OK;
        }
        if ((len == 5 && !strncasecmp(s, "false", 5)) || (len == 1 && (*s == 'f' || *s == '0'))) {
            out->v.b = false;
            return CV_OK;
        }
        return CV_GENERIC;
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
        if (!parse_double(s, len, &out->v.d) || (t == DUCKDB_TYPE_FLOAT && fabs(out->v.d) > FLT_MAX))
            return CV_GENERIC;
        return CV_OK;
    default:
        if (!parse_int(s, len, &neg, &mag))
            return CV_GENERIC;
        return fit_int(t, neg, mag, out);
    }
}

/*
 * Converts one value to column type t without DuckDB: CV_OK with *out
 * filled, CV_BAD for text that is not UTF-8 (never storable), or
 * CV_GENERIC when DuckDB's own cast must decide (unusual types, unusual
 * spellings, out-of-range values -- DuckDB then names the problem).
 */
static enum conv_result convert(duckdb_type t, const struct bval *v, const char *text, struct cval *out)
{
    switch (v->kind) {
    case DUCKPOND_VALUE_TEXT:
        return convert_text(t, text + v->u.off, v->len, out);
    case DUCKPOND_VALUE_INT64:
        if (t == DUCKDB_TYPE_DOUBLE || t == DUCKDB_TYPE_FLOAT) {
            out->v.d = (double)v->u.i64;
            return CV_OK;
        }
        if (t == DUCKDB_TYPE_BOOLEAN) {
            out->v.b = v->u.i64 != 0;
            return CV_OK;
        }
        return fit_int(t, v->u.i64 < 0, v->u.i64 < 0 ? 0 - (uint64_t)v->u.i64 : (uint64_t)v->u.i64,
                       out);
    case DUCKPOND_VALUE_BOOL:
        if (t == DUCKDB_TYPE_BOOLEAN) {
            out->v.b = v->u.i64 != 0;
            return CV_OK;
        }
        return fit_int(t, false, v->u.i64 != 0, out);
    case DUCKPOND_VALUE_DOUBLE:
        out->v.d = v->u.f64;
        if (t == DUCKDB_TYPE_DOUBLE)
            return CV_OK;
        if (t == DUCKDB_TYPE_FLOAT && (!isfinite(v->u.f64) || fabs(v->u.f64) <= FLT_MAX))
            return CV_OK;
        return CV_GENERIC;
    case DUCKPOND_VALUE_TIMESTAMP:
        out->v.i = v->u.i64;
        return (t == DUCKDB_TYPE_TIMESTAMP || t == DUCKDB_TYPE_TIMESTAMP_TZ) ? CV_OK : CV_GENERIC;
    default:
        return CV_GENERIC;
    }
}

/* True when a value of this kind always converts to type t (no check needed). */
static bool always_converts(duckdb_type t, uint32_t kind)
{
    switch (kind) {
    case DUCKPOND_VALUE_NULL:
    case DUCKPOND_VALUE_DEFAULT:
        return true;
    case DUCKPOND_VALUE_INT64:
        return t == DUCKDB_TYPE_BIGINT || t == DUCKDB_TYPE_DOUBLE || t == DUCKDB_TYPE_BOOLEAN;
    case DUCKPOND_VALUE_DOUBLE:
        return t == DUCKDB_TYPE_DOUBLE;
    case DUCKPOND_VALUE_BOOL:
        return t == DUCKDB_TYPE_BOOLEAN;
    case DUCKPOND_VALUE_TIMESTAMP:
        return t == DUCKDB_TYPE_TIMESTAMP || t == DUCKDB_TYPE_TIMESTAMP_TZ;
    default:
        return false;
    }
}

/* Bytes per value of a column type stored flat in a vector; 0 for others. */
static size_t vector_width(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_UTINYINT: return 1;
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_USMALLINT: return 2;
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_FLOAT: return 4;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ: return 8;
    case DUCKDB_TYPE_VARCHAR: return sizeof(duckdb_string_t);
    default: return 0;
    }
}

/* A DuckDB value for a stored value, typed as the caller gave it. */
static duckdb_value make_value(duckdb_type t, const struct bval *v, const char *text)
{
    switch (v->kind) {
    case DUCKPOND_VALUE_BOOL:
        return duckdb_create_bool(v->u.i64 != 0);
    case DUCKPOND_VALUE_INT64:
        return duckdb_create_int64(v->u.i64);
    case DUCKPOND_VALUE_DOUBLE:
        return duckdb_create_double(v->u.f64);
    case DUCKPOND_VALUE_TIMESTAMP: {
        duckdb_timestamp ts = {v->u.i64};
        return t == DUCKDB_TYPE_TIMESTAMP_TZ ? duckdb_create_timestamp_tz(ts) : duckdb_create_timestamp(ts);
    }
    case DUCKPOND_VALUE_TEXT:
        return duckdb_create_varchar_length(text + v->u.off, v->len);
    default:
        return duckdb_create_null_value();
    }
}

/* ----------------------------------------------------------- targets */

/* Splits "a", "s.a" or "c.s.a" into catalog, schema, table (NULL when absent). */
static int split_name(const char *name, char **catalog, char **schema, char **table)
{
    char *copy = strdup(name), *parts[3] = {0};
    int n = 0;
    *catalog = *schema = *table = NULL;
    if (!copy)
        return DUCKPOND_NOMEM;
    for (char *p = copy, *dot; n < 3; p = dot + 1) {
        parts[n++] = p;
        dot = strchr(p, '.');
        if (!dot)
            break;
        *dot = '\0';
        if (n == 3) {
            free(copy);
            return DUCKPOND_MISUSE;
        }
    }
    *table = dup_str(parts[n - 1]);
    *schema = n >= 2 ? dup_str(parts[n - 2]) : NULL;
    *catalog = n == 3 ? dup_str(parts[0]) : NULL;
    free(copy);
    if (!*table || (n >= 2 && !*schema) || (n == 3 && !*catalog))
        return DUCKPOND_NOMEM;
    bool empty = !**table || (*schema && !**schema) || (*catalog && !**catalog);
    return empty ? DUCKPOND_MISUSE : DUCKPOND_OK;
}

static const char COLS_SQL[] =
    "SELECT database_name, schema_name, table_name, column_name, data_type, data_type_id "
    "FROM duckdb_columns() "
    "WHERE lower(database_name) = lower(coalesce($1, current_database())) "
    "AND lower(schema_name) = lower(coalesce($2, current_schema())) "
    "AND lower(table_name) = lower($3) "
    "ORDER BY column_index";

/* A catalog listing of a table's columns. */
struct table_cols {
    char *catalog, *schema, *table;
    char **names, **types;
    int n;
};

/* Frees a listing; names may have been taken (set to NULL). */
static void table_cols_free(struct table_cols *tc)
{
    for (int i = 0; i < tc->n; i++) {
        if (tc->names)
            free(tc->names[i]);
        if (tc->types)
            free(tc->types[i]);
    }
    free(tc->names);
    free(tc->types);
    free(tc->catalog);
    free(tc->schema);
    free(tc->table);
    memset(tc, 0, sizeof *tc);
}

/* Reads the string at (col, row) of a result into a malloc'd copy. */
static char *result_str(duckdb_result *res, idx_t col, idx_t row)
{
    char *v = duckdb_value_varchar(res, col, row);
    char *s = dup_str(v ? v : "");
    duckdb_free(v);
    return s;
}

/*
 * Looks the table named name up in the catalog with stmt (COLS_SQL,
 * prepared on the caller's connection). DUCKPOND_NOTFOUND with *msg when
 * there is no such table. *msg is malloc'd.
 */
static int lookup_table(duckdb_prepared_statement stmt, const char *name, struct table_cols *tc, char **msg)
{
    char *catalog, *schema, *table;
    memset(tc, 0, sizeof *tc);
    int rc = split_name(name, &catalog, &schema, &table);
    if (rc != DUCKPOND_OK) {
        *msg = fmt_msg("bad table name \"%s\"", name);
        goto out;
    }
    duckdb_clear_bindings(stmt);
    catalog ? duckdb_bind_varchar(stmt, 1, catalog) : duckdb_bind_null(stmt, 1);
    schema ? duckdb_bind_varchar(stmt, 2, schema) : duckdb_bind_null(stmt, 2);
    duckdb_bind_varchar(stmt, 3, table);
    duckdb_result res;
    if (duckdb_execute_prepared(stmt, &res) == DuckDBError) {
        rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        *msg = fmt_msg("looking up table \"%s\": %s", name, duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        goto out;
    }
    idx_t n = duckdb_row_count(&res);
    if (n == 0) {
        rc = DUCKPOND_NOTFOUND;
        *msg = fmt_msg("table \"%s\" does not exist", name);
    } else {
        tc->names = calloc(n, sizeof *tc->names);
        tc->types = calloc(n, sizeof *tc->types);
        tc->catalog = result_str(&res, 0, 0);
        tc->schema = result_str(&res, 1, 0);
        tc->table = result_str(&res, 2, 0);
        bool ok = tc->names && tc->types && tc->catalog && tc->schema && tc->table;
        for (idx_t i = 0; ok && i < n; i++, tc->n++) {
            tc->names[i] = result_str(&res, 3, i);
            tc->types[i] = result_str(&res, 4, i);
            ok = tc->names[i] && tc->types[i];
        }
        if (!ok)
            rc = DUCKPOND_NOMEM;
    }
    duckdb_destroy_result(&res);
out:
    free(catalog);
    free(schema);
    free(table);
    if (rc != DUCKPOND_OK)
        table_cols_free(tc);
    return rc;
}

/* The lookup key of a write's target: table and columns, NUL-separated. */
static char *target_key(const duckpond_write *w)
{
    size_t len = strlen(w->table) + 2;
    for (int i = 0; i < w->ncols; i++)
        len += strlen(w->cols[i]) + 1;
    char *k = malloc(len), *p = k;
    if (!k)
        return NULL;
    p = stpcpy(p, w->table) + 1;
    for (int i = 0; i < w->ncols; i++)
        p = stpcpy(p, w->cols[i]) + 1;
    *p = '\0';
    return k;
}

/* Whether a target key names w's table and columns, in order. */
static bool key_matches(const char *k, const duckpond_write *w)
{
    if (strcmp(k, w->table) != 0)
        return false;
    k += strlen(k) + 1;
    for (int i = 0; i < w->ncols; i++) {
        if (!*k || strcmp(k, w->cols[i]) != 0)
            return false;
        k += strlen(k) + 1;
    }
    return *k == '\0';
}

static void target_free(struct target *t)
{
    for (int i = 0; i < t->napps; i++) {
        if (t->apps[i]->app)
            duckdb_appender_destroy(&t->apps[i]->app);
        free(t->apps[i]);
    }
    for (int i = 0; i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type_name);
        if (t->cols[i].cast)
            duckdb_destroy_prepare(&t->cols[i].cast);
    }
    if (t->chunk)
        duckdb_destroy_data_chunk(&t->chunk);
    if (t->insert)
        duckdb_destroy_prepare(&t->insert);
    free(t->apps);
    free(t->cols);
    free(t->key);
    free(t->catalog);
    free(t->schema);
    free(t->table);
    free(t->sql_name);
    free(t);
}

/* Quotes an identifier for SQL ("a""b"). */
static void quote_ident(char *out, const char *s)
{
    *out++ = '"';
    for (; *s; s++) {
        if (*s == '"')
            *out++ = '"';
        *out++ = *s;
    }
    *out++ = '"';
    *out = '\0';
}

/* Fills t's columns from the catalog listing, in the write's order. */
static int target_bind_columns(struct target *t, const duckpond_write *w, const struct table_cols *tc,
                               char **msg)
{
    t->cols = calloc((size_t)w->ncols, sizeof *t->cols);
    if (!t->cols)
        return DUCKPOND_NOMEM;
    t->ncols = w->ncols;
    for (int i = 0; i < w->ncols; i++) {
        int j = 0;
        while (j < tc->n && strcasecmp(tc->names[j], w->cols[i]) != 0)
            j++;
        if (j == tc->n) {
            *msg = fmt_msg("table \"%s\" has no column \"%s\"", w->table, w->cols[i]);
            return DUCKPOND_NOTFOUND;
        }
        t->cols[i].name = strdup(tc->names[j]);
        t->cols[i].type_name = strdup(tc->types[j]);
        if (!t->cols[i].name || !t->cols[i].type_name)
            return DUCKPOND_NOMEM;
    }
    return DUCKPOND_OK;
}

/* Creates the Appender of t for the columns not in mask (DEFAULT ones). */
static int target_make_appender(duckdb_connection c, struct target *t, uint64_t mask,
                                duckdb_appender *out, char **msg)
{
    *out = NULL;
    duckdb_appender a;
    if (duckdb_appender_create_ext(c, t->catalog, t->schema, t->table, &a) == DuckDBError)
        goto fail;
    for (int i = 0; i < t->ncols; i++) {
        if (i < MASK_COLS && (mask >> i) & 1)
            continue;
        if (duckdb_appender_add_column(a, t->cols[i].name) == DuckDBError)
            goto fail;
    }
    *out = a;
    return DUCKPOND_OK;
fail:;
    duckdb_error_data e = duckdb_appender_error_data(a);
    int rc = duckpond_classify(duckdb_error_data_error_type(e), duckdb_error_data_message(e));
    *msg = fmt_msg("appender for \"%s\": %s", t->table, duckdb_error_data_message(e));
    duckdb_destroy_error_data(&e);
    duckdb_appender_destroy(&a);
    return rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
}

/*
 * Resolves the write's table and columns into a target, from the writer's
 * cache or the catalog. Returns the target, or NULL with *rc and *msg.
 */
static struct target *target_get(duckpond_batcher *b, const duckpond_write *w, int *rc, char **msg)
{
    for (struct target *t = b->targets; t; t = t->next)
        if (key_matches(t->key, w))
            return t;
    char *key = target_key(w);
    if (!key) {
        *rc = DUCKPOND_NOMEM;
        return NULL;
    }
    struct table_cols tc;
    struct target *t = calloc(1, sizeof *t);
    if (!t) {
        free(key);
        *rc = DUCKPOND_NOMEM;
        return NULL;
    }
    t->key = key;
    *rc = lookup_table(b->cols_stmt, w->table, &tc, msg);
    if (*rc != DUCKPOND_OK)
        goto fail;
    t->catalog = tc.catalog, t->schema = tc.schema, t->table = tc.table;
    tc.catalog = tc.schema = tc.table = NULL;
    *rc = target_bind_columns(t, w, &tc, msg);
    table_cols_free(&tc);
    if (*rc != DUCKPOND_OK)
        goto fail;
    t->sql_name = malloc(2 * (strlen(t->catalog) + strlen(t->schema) + strlen(t->table)) + 12);
    if (!t->sql_name) {
        *rc = DUCKPOND_NOMEM;
        goto fail;
    }
    quote_ident(t->sql_name, t->catalog);
    strcat(t->sql_name, ".");
    quote_ident(t->sql_name + strlen(t->sql_name), t->schema);
    strcat(t->sql_name, ".");
    quote_ident(t->sql_name + strlen(t->sql_name), t->table);
    /* The full appender tells the column types and proves the names. */
    duckdb_appender a;
    *rc = target_make_appender(duckpond_conn_duckdb(b->conn), t, 0, &a, msg);
    if (*rc != DUCKPOND_OK)
        goto fail;
    t->chunkable = true;
    for (int i = 0; i < t->ncols; i++) {
        duckdb_logical_type lt = duckdb_appender_column_type(a, (idx_t)i);
        t->cols[i].type = duckdb_get_type_id(lt);
        duckdb_destroy_logical_type(&lt);
        t->chunkable = t->chunkable && vector_width(t->cols[i].type) > 0;
    }
    t->apps = calloc(4, sizeof *t->apps);
    if (t->apps)
        t->apps[0] = calloc(1, sizeof **t->apps);
    if (!t->apps || !t->apps[0]) {
        duckdb_appender_destroy(&a);
        *rc = DUCKPOND_NOMEM;
        goto fail;
    }
    t->cap_apps = 4;
    t->apps[0]->app = a;
    t->napps = 1;
    t->id = ++b->next_target_id;
    t->next = b->targets;
    b->targets = t;
    return t;
fail:
    target_free(t);
    return NULL;
}

/* Drops every cached target (after an error that may mean the schema changed). */
static void targets_drop(duckpond_batcher *b)
{
    while (b->targets) {
        struct target *t = b->targets;
        b->targets = t->next;
        target_free(t);
    }
    __atomic_add_fetch(&b->meta_gen, 1, __ATOMIC_RELAXED);
}

/* ----------------------------------------------------- row checking */

/* Records failed row `row` of w with a status and message (msg taken). */
static void write_fail_row(duckpond_write *w, size_t row, int status, char *msg)
{
    if (w->nfails == w->cap_fails) {
        size_t cap = w->cap_fails ? 2 * w->cap_fails : 4;
        struct wfail *f = realloc(w->fails, cap * sizeof *f);
        if (!f) {
            free(msg);
            w->failed++;
            if (!w->status)
                w->status = status;
            return;
        }
        w->fails = f;
        w->cap_fails = cap;
    }
    w->fails[w->nfails++] = (struct wfail){row, status, msg};
    w->failed++;
    if (!w->status) {
        w->status = status;
        free(w->errmsg);
        w->errmsg = dup_str(msg);
    }
}

/* Fails a whole write (every row) with status and msg (msg taken). */
static void write_fail_all(duckpond_write *w, int status, char *msg)
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

/*
 * Runs DuckDB's own CAST of a value to column c's type on conn (the
 * connection c->cast belongs to; outside any transaction). Returns
 * DUCKPOND_OK, or the error class with DuckDB's message in *msg.
 */
static int generic_check(duckdb_connection conn, struct tcol *c, const struct bval *v, const char *text,
                         char **msg)
{
    if (!c->cast) {
        char *sql = fmt_msg("SELECT CAST($1 AS %s)", c->type_name);
        duckdb_state st = sql ? duckdb_prepare(conn, sql, &c->cast) : DuckDBError;
        free(sql);
        if (st == DuckDBError) {
            *msg = fmt_msg("cannot convert to %s: %s", c->type_name,
                           c->cast ? duckdb_prepare_error(c->cast) : "out of memory");
            if (c->cast)
                duckdb_destroy_prepare(&c->cast);
            return DUCKPOND_CONVERSION;
        }
    }
    duckdb_value val = make_value(c->type, v, text);
    duckdb_bind_value(c->cast, 1, val);
    duckdb_destroy_value(&val);
    duckdb_result res;
    int rc = DUCKPOND_OK;
    if (duckdb_execute_prepared(c->cast, &res) == DuckDBError) {
        rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        if (rc != DUCKPOND_INVALIDATED && rc != DUCKPOND_NOMEM)
            rc = DUCKPOND_CONVERSION;
        *msg = strdup(duckdb_result_error(&res));
    }
    duckdb_destroy_result(&res);
    return rc;
}

/*
 * Checks that every value of row r converts to its column of cols, with
 * DuckDB's cast on conn where our own conversion cannot decide. 0 or a
 * status (+*msg).
 */
static int check_row_cols(duckdb_connection conn, struct tcol *cols, duckpond_write *w, size_t r, char **msg)
{
    const struct bval *row = w->vals + r * (size_t)w->ncols;
    for (int i = 0; i < w->ncols; i++) {
        struct tcol *c = &cols[i];
        if (always_converts(c->type, row[i].kind))
            continue;
        struct cval cv;
        enum conv_result cr = convert(c->type, &row[i], w->text, &cv);
        if (cr == CV_OK)
            continue;
        char shown[SHOW_MAX * 4 + 16], *why = NULL;
        int rc = DUCKPOND_CONVERSION;
        if (cr == CV_GENERIC)
            rc = generic_check(conn, c, &row[i], w->text, &why);
        else
            why = strdup("not valid UTF-8");
        if (rc == DUCKPOND_OK)
            continue;
        show_value(&row[i], w->text, shown, sizeof shown);
        *msg = fmt_msg("row %zu: column \"%s\" (%s): cannot convert %s: %s", r, c->name, c->type_name,
                       shown, why ? why : "out of memory");
        free(why);
        return rc;
    }
    return DUCKPOND_OK;
}

/* Checks row r of w against its resolved target, on the writer's connection. */
static int check_row(duckpond_batcher *b, duckpond_write *w, size_t r, char **msg)
{
    return check_row_cols(duckpond_conn_duckdb(b->conn), w->tgt->cols, w, r, msg);
}

/* Gives w cleared marks for its rows (w->bad); false if out of memory. */
static bool bad_alloc(duckpond_write *w)
{
    if (w->nrows <= INLINE_BAD) {
        memset(w->inl_bad, 0, sizeof w->inl_bad);
        w->bad = w->inl_bad;
    } else {
        w->bad = calloc(w->nrows, 1);
    }
    return w->bad != NULL;
}

static void bad_release(duckpond_write *w)
{
    if (w->bad != w->inl_bad)
        free(w->bad);
    w->bad = NULL;
}

/* Whether every value of row r of w converts to its column without DuckDB's cast. */
static bool row_plain(const duckpond_write *w, size_t r)
{
    const struct bval *row = w->vals + r * (size_t)w->ncols;
    for (int i = 0; i < w->ncols; i++) {
        struct cval cv;
        if (row[i].kind != DUCKPOND_VALUE_NULL && convert(w->tgt->cols[i].type, &row[i], w->text, &cv) != CV_OK)
            return false;
    }
    return true;
}

/*
 * The writer's first pass over a write: resolves its target and checks
 * every row. Bad rows are recorded (or fail the whole atomic write).
 * Returns false when nothing of the write is left to commit.
 */
static bool prepare_write(duckpond_batcher *b, duckpond_write *w)
{
    int rc;
    char *msg = NULL;
    w->tgt = target_get(b, w, &rc, &msg);
    if (!w->tgt) {
        write_fail_all(w, rc, msg);
        return false;
    }
    if (!bad_alloc(w)) {
        write_fail_all(w, DUCKPOND_NOMEM, NULL);
        return false;
    }
    size_t nbad = 0;
    for (size_t r = 0; r < w->nrows; r++) {
        rc = check_row(b, w, r, &msg);
        if (rc == DUCKPOND_OK)
            continue;
        if (w->flags & DUCKPOND_WRITE_ATOMIC) {
            write_fail_all(w, rc, msg);
            return false;
        }
        w->bad[r] = 1;
        nbad++;
        write_fail_row(w, r, rc, msg);
    }
    w->plain = w->tgt->chunkable && !w->has_default && w->ncols <= MASK_COLS;
    for (size_t r = 0; w->plain && r < w->nrows; r++)
        w->plain = w->bad[r] || row_plain(w, r);
    return nbad < w->nrows;
}

/* ------------------------------------------------------- appending */

/* Appends one converted, checked value to column c. */
static duckdb_state append_value(duckdb_appender a, const struct tcol *c, const struct bval *v,
                                 const char *text)
{
    if (v->kind == DUCKPOND_VALUE_NULL)
        return duckdb_append_null(a);
    if (v->kind == DUCKPOND_VALUE_DEFAULT)
        return duckdb_append_default(a);
    struct cval cv;
    if (convert(c->type, v, text, &cv) != CV_OK) {
        duckdb_value val = make_value(c->type, v, text);
        duckdb_state st = duckdb_append_value(a, val);
        duckdb_destroy_value(&val);
        return st;
    }
    switch (c->type) {
    case DUCKDB_TYPE_BOOLEAN: return duckdb_append_bool(a, cv.v.b);
    case DUCKDB_TYPE_TINYINT: return duckdb_append_int8(a, (int8_t)cv.v.i);
    case DUCKDB_TYPE_SMALLINT: return duckdb_append_int16(a, (int16_t)cv.v.i);
    case DUCKDB_TYPE_INTEGER: return duckdb_append_int32(a, (int32_t)cv.v.i);
    case DUCKDB_TYPE_BIGINT: return duckdb_append_int64(a, cv.v.i);
    case DUCKDB_TYPE_UTINYINT: return duckdb_append_uint8(a, (uint8_t)cv.v.i);
    case DUCKDB_TYPE_USMALLINT: return duckdb_append_uint16(a, (uint16_t)cv.v.i);
    case DUCKDB_TYPE_UINTEGER: return duckdb_append_uint32(a, (uint32_t)cv.v.i);
    case DUCKDB_TYPE_UBIGINT: return duckdb_append_uint64(a, cv.v.u);
    case DUCKDB_TYPE_FLOAT: return duckdb_append_float(a, (float)cv.v.d);
    case DUCKDB_TYPE_DOUBLE: return duckdb_append_double(a, cv.v.d);
    case DUCKDB_TYPE_VARCHAR: return duckdb_append_varchar_length(a, cv.s, cv.slen);
    case DUCKDB_TYPE_TIMESTAMP: return duckdb_append_timestamp(a, (duckdb_timestamp){cv.v.i});
    case DUCKDB_TYPE_TIMESTAMP_TZ: {
        duckdb_value val = duckdb_create_timestamp_tz((duckdb_timestamp){cv.v.i});
        duckdb_state st = duckdb_append_value(a, val);
        duckdb_destroy_value(&val);
        return st;
    }
    default:
        return DuckDBError; /* convert() gives CV_OK for the types above only */
    }
}

/* True when mask leaves out every column of t (the row is all DEFAULT). */
static bool mask_all(const struct target *t, uint64_t mask)
{
    for (int i = 0; i < t->ncols; i++)
        if (i >= MASK_COLS || !((mask >> i) & 1))
            return false;
    return true;
}

/* Notes that slot holds rows of the current attempt. */
static int mark_used(duckpond_batcher *b, struct tapp *slot)
{
    if (slot->used)
        return DUCKPOND_OK;
    if (b->nused == b->cap_used) {
        int cap = b->cap_used ? 2 * b->cap_used : 8;
        struct tapp **u = realloc(b->used, (size_t)cap * sizeof *u);
        if (!u)
            return DUCKPOND_NOMEM;
        b->used = u;
        b->cap_used = cap;
    }
    b->used[b->nused++] = slot;
    slot->used = true;
    return DUCKPOND_OK;
}

/*
 * The appender slot of t for rows whose DEFAULT columns are mask, made on
 * demand, and marked used. Its app is NULL when every column is DEFAULT.
 */
static struct tapp *target_app(duckpond_batcher *b, struct target *t, uint64_t mask, int *rc, char **msg)
{
    struct tapp *slot = NULL;
    for (int i = 0; i < t->napps && !slot; i++)
        if (t->apps[i]->mask == mask)
            slot = t->apps[i];
    if (!slot) {
        if (t->napps == t->cap_apps) {
            int cap = 2 * t->cap_apps;
            struct tapp **a = realloc(t->apps, (size_t)cap * sizeof *a);
            if (!a)
                goto nomem;
            t->apps = a;
            t->cap_apps = cap;
        }
        slot = calloc(1, sizeof *slot);
        if (!slot)
            goto nomem;
        slot->mask = mask;
        t->apps[t->napps++] = slot;
    }
    if (!slot->app && !mask_all(t, mask)) {
        *rc = target_make_appender(duckpond_conn_duckdb(b->conn), t, mask, &slot->app, msg);
        if (*rc != DUCKPOND_OK)
            return NULL;
    }
    *rc = mark_used(b, slot);
    return *rc == DUCKPOND_OK ? slot : NULL;
nomem:
    *rc = DUCKPOND_NOMEM;
    return NULL;
}

/* Runs sql on the writer's connection; a status, with *msg on failure. */
static int writer_exec(duckpond_batcher *b, const char *sql, char **msg)
{
    int rc = duckpond_exec(b->conn, sql);
    if (rc != DUCKPOND_OK && msg)
        *msg = strdup(duckpond_conn_errmsg(b->conn));
    return rc;
}

enum tx_verb { TX_BEGIN, TX_COMMIT, TX_ROLLBACK };
static const char *const TX_SQL[3] = {"BEGIN TRANSACTION", "COMMIT", "ROLLBACK"};

/* BEGIN, COMMIT or ROLLBACK on the writer's connection, prepared once (parsing costs as much as a flush). */
static int writer_tx(duckpond_batcher *b, enum tx_verb verb, char **msg)
{
    duckdb_result res;
    if (duckdb_execute_prepared(b->tx_stmt[verb], &res) == DuckDBError) {
        int rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        if (msg)
            *msg = strdup(duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
    }
    duckdb_destroy_result(&res);
    return DUCKPOND_OK;
}

/* The status and message of a failed appender call. */
static int appender_fail(duckdb_appender a, char **msg)
{
    duckdb_error_data e = duckdb_appender_error_data(a);
    const char *m = duckdb_error_data_has_error(e) ? duckdb_error_data_message(e) : "appender failed";
    int rc = duckpond_classify(duckdb_error_data_error_type(e), m);
    *msg = strdup(m);
    duckdb_destroy_error_data(&e);
    return rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
}

/* Appends row r of w (checked already) to its target. */
static int append_row(duckpond_batcher *b, duckpond_write *w, size_t r, char **msg)
{
    struct target *t = w->tgt;
    const struct bval *row = w->vals + r * (size_t)w->ncols;
    uint64_t mask = 0;
    if (w->has_default)
        for (int i = 0; i < w->ncols && i < MASK_COLS; i++)
            if (row[i].kind == DUCKPOND_VALUE_DEFAULT)
                mask |= 1ULL << i;
    int rc;
    struct tapp *slot = b->last_slot;
    if (!slot || b->last_target != t || slot->mask != mask) {
        if (!(slot = target_app(b, t, mask, &rc, msg)))
            return rc;
        b->last_slot = slot, b->last_target = t;
    }
    if (!slot->app) {
        char *sql = fmt_msg("INSERT INTO %s DEFAULT VALUES", t->sql_name);
        rc = sql ? writer_exec(b, sql, msg) : DUCKPOND_NOMEM;
        free(sql);
        return rc;
    }
    for (int i = 0; i < w->ncols; i++) {
        if (i < MASK_COLS && (mask >> i) & 1)
            continue;
        if (append_value(slot->app, &t->cols[i], &row[i], w->text) == DuckDBError)
            return appender_fail(slot->app, msg);
    }
    if (duckdb_appender_end_row(slot->app) == DuckDBError)
        return appender_fail(slot->app, msg);
    return DUCKPOND_OK;
}

/* Stores a converted value at row r of vector v of column type t. */
static void vector_put(duckdb_vector v, duckdb_type t, idx_t r, const struct cval *cv)
{
    void *d = duckdb_vector_get_data(v);
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN: ((bool *)d)[r] = cv->v.b; break;
    case DUCKDB_TYPE_TINYINT: ((int8_t *)d)[r] = (int8_t)cv->v.i; break;
    case DUCKDB_TYPE_UTINYINT: ((uint8_t *)d)[r] = (uint8_t)cv->v.i; break;
    case DUCKDB_TYPE_SMALLINT: ((int16_t *)d)[r] = (int16_t)cv->v.i; break;
    case DUCKDB_TYPE_USMALLINT: ((uint16_t *)d)[r] = (uint16_t)cv->v.i; break;
    case DUCKDB_TYPE_INTEGER: ((int32_t *)d)[r] = (int32_t)cv->v.i; break;
    case DUCKDB_TYPE_UINTEGER: ((uint32_t *)d)[r] = (uint32_t)cv->v.i; break;
    case DUCKDB_TYPE_FLOAT: ((float *)d)[r] = (float)cv->v.d; break;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ: ((int64_t *)d)[r] = cv->v.i; break;
    case DUCKDB_TYPE_UBIGINT: ((uint64_t *)d)[r] = cv->v.u; break;
    case DUCKDB_TYPE_DOUBLE: ((double *)d)[r] = cv->v.d; break;
    case DUCKDB_TYPE_VARCHAR: duckdb_vector_assign_string_element_len(v, r, cv->s, cv->slen); break;
    default: break;
    }
}

/* The target's data chunk, empty, made on first need. NULL if out of memory. */
static duckdb_data_chunk target_chunk(struct target *t)
{
    if (!t->chunk) {
        duckdb_logical_type *types = calloc((size_t)t->ncols, sizeof *types);
        if (!types)
            return NULL;
        for (int i = 0; i < t->ncols; i++)
            types[i] = duckdb_create_logical_type(t->cols[i].type);
        t->chunk = duckdb_create_data_chunk(types, (idx_t)t->ncols);
        for (int i = 0; i < t->ncols; i++)
            duckdb_destroy_logical_type(&types[i]);
        free(types);
        if (!t->chunk)
            return NULL;
    }
    duckdb_data_chunk_reset(t->chunk);
    return t->chunk;
}

/* Appends the filled rows of the chunk (if any) and empties it. */
static int chunk_flush(struct tapp *slot, duckdb_data_chunk chunk, idx_t *fill, char **msg)
{
    if (!*fill)
        return DUCKPOND_OK;
    duckdb_data_chunk_set_size(chunk, *fill);
    duckdb_state st = duckdb_append_data_chunk(slot->app, chunk);
    duckdb_data_chunk_reset(chunk);
    *fill = 0;
    return st == DuckDBError ? appender_fail(slot->app, msg) : DUCKPOND_OK;
}

/*
 * Appends the good rows of a segment a vector at a time: values are
 * written straight into a data chunk of the column types, which the
 * Appender takes whole (much cheaper than a call per value). A row with a
 * value only DuckDB's cast can convert goes through append_row.
 */
static int append_seg_chunk(duckpond_batcher *b, const struct seg *sg, char **msg)
{
    duckpond_write *w = sg->w;
    struct target *t = w->tgt;
    int rc;
    struct tapp *slot = target_app(b, t, 0, &rc, msg);
    duckdb_data_chunk chunk = slot ? target_chunk(t) : NULL;
    if (!chunk)
        return slot ? DUCKPOND_NOMEM : rc;
    idx_t cap = duckdb_vector_size(), fill = 0;
    for (size_t r = sg->lo; r < sg->hi; r++) {
        if (w->bad[r])
            continue;
        const struct bval *row = w->vals + r * (size_t)w->ncols;
        struct cval cv[MASK_COLS];
        bool plain = w->ncols <= MASK_COLS;
        for (int i = 0; plain && i < w->ncols; i++)
            plain = row[i].kind == DUCKPOND_VALUE_NULL ||
                    convert(t->cols[i].type, &row[i], w->text, &cv[i]) == CV_OK;
        if (!plain) { /* keep the order simple: flush, then this row alone */
            if ((rc = chunk_flush(slot, chunk, &fill, msg)) != DUCKPOND_OK ||
                (rc = append_row(b, w, r, msg)) != DUCKPOND_OK)
                return rc;
            continue;
        }
        for (int i = 0; i < w->ncols; i++) {
            duckdb_vector v = duckdb_data_chunk_get_vector(chunk, (idx_t)i);
            if (row[i].kind == DUCKPOND_VALUE_NULL) {
                duckdb_vector_ensure_validity_writable(v);
                duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), fill);
            } else {
                vector_put(v, t->cols[i].type, fill, &cv[i]);
            }
        }
        if (++fill == cap && (rc = chunk_flush(slot, chunk, &fill, msg)) != DUCKPOND_OK)
            return rc;
    }
    return chunk_flush(slot, chunk, &fill, msg);
}

/*
 * Throws away what the appenders of a failed attempt hold. An appender
 * cannot drop buffered rows, and destroying one flushes them: so a
 * transaction is opened if none is, made to fail (DuckDB then refuses the
 * flush), the appenders destroyed, and only then rolled back.
 */
static void discard_attempt(duckpond_batcher *b, bool in_tx)
{
    if (!in_tx)
        writer_tx(b, TX_BEGIN, NULL);
    writer_exec(b, "SELECT error('batcher: discarding a failed group')", NULL);
    for (int i = 0; i < b->nused; i++) {
        if (b->used[i]->app)
            duckdb_appender_destroy(&b->used[i]->app);
        b->used[i]->used = false;
    }
    b->nused = 0;
    writer_tx(b, TX_ROLLBACK, NULL);
}

/* Good rows of a segment. */
static size_t seg_rows(const struct seg *s)
{
    size_t n = 0;
    for (size_t r = s->lo; r < s->hi; r++)
        n += !s->w->bad[r];
    return n;
}

/*
 * The journal sequence number that a commit of segs[0..n) makes applied:
 * the highest S such that every journaled write of the batch numbered up
 * to S is finished (all its rows committed or failed) once these rows
 * commit. 0 when the commit would not move duckpond_journal_state on.
 * Writes are finished in order (the batch is in sequence order, and the
 * bisection commits its left half first), so a crash between two commits
 * replays exactly the writes not yet finished.
 */
static uint64_t seq_after(duckpond_batcher *b, const struct seg *segs, size_t n)
{
    if (!b->njbatch)
        return 0;
    for (size_t s = 0; s < n; s++)
        segs[s].w->pending += seg_rows(&segs[s]);
    uint64_t seq = 0;
    for (size_t i = 0; i < b->njbatch; i++) {
        const duckpond_write *w = b->jbatch[i];
        if (w->committed + w->failed + w->pending < w->nrows)
            break;
        seq = w->jseq;
    }
    for (size_t s = 0; s < n; s++)
        segs[s].w->pending = 0;
    return seq > b->db_applied_seq ? seq : 0;
}

/* Stores seq in duckpond_journal_state, in the writer's open transaction. */
static int store_applied_seq(duckpond_batcher *b, uint64_t seq, char **msg)
{
    duckdb_bind_uint64(b->seq_stmt, 1, seq);
    duckdb_result res;
    if (duckdb_execute_prepared(b->seq_stmt, &res) == DuckDBError) {
        int rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        *msg = fmt_msg("storing the applied journal sequence number: %s", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc == DUCKPOND_OK ? DUCKPOND_ERROR : rc;
    }
    duckdb_destroy_result(&res);
    return DUCKPOND_OK;
}

/* Rows below which one Appender never flushes by itself (DuckDB's is 204800). */
#define AUTOCOMMIT_MAX_ROWS 100000

/*
 * Whether segs can be committed by one Appender flush alone, with no
 * BEGIN/COMMIT around it (cheaper): one target, no DEFAULT masks, and too
 * few rows for the Appender to flush part of them early.
 */
static bool single_flush(const struct seg *segs, size_t n)
{
    size_t rows = 0;
    for (size_t s = 0; s < n; s++) {
        if (segs[s].w->tgt != segs[0].w->tgt || segs[s].w->has_default)
            return false;
        rows += segs[s].hi - segs[s].lo;
    }
    return rows <= AUTOCOMMIT_MAX_ROWS;
}

/* ---------------------------------------------------- the batch scan */

/*
 * A DuckDB Appender flush plans and runs an INSERT statement from scratch
 * each time (parse, bind, optimize: a third of a small commit). Instead,
 * each target has one prepared "INSERT INTO t (cols) SELECT * FROM
 * <scan>(id)", where <scan> is a table function of this batcher that
 * reads the rows of the attempt being committed straight from the writes,
 * converting them into its output vectors. Executing it costs no
 * planning, and columns left out get their defaults as in any INSERT.
 * Rows that need DuckDB's own cast, or hold DEFAULT values, and targets
 * with other column types go through the Appenders instead.
 *
 * The function's state is owned by DuckDB (freed when the database
 * closes); b is cleared when the batcher is freed. Only the writer's
 * connection may bind the function, and the writer sets the rows to scan
 * before each execution and clears them after.
 */
struct batch_scan {
    duckpond_batcher *b;
    idx_t conn_id;           /* the writer's connection */
    const struct seg *segs;  /* the attempt's segments; NULL outside an execution */
    size_t nsegs;
    struct target *t;        /* the target being inserted */
    size_t si, row;          /* the cursor: segment and row */
};

static struct target *target_by_id(duckpond_batcher *b, int64_t id)
{
    for (struct target *t = b->targets; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

/* Bind: the output columns are the target's (named by the id argument). */
static void scan_bind(duckdb_bind_info info)
{
    struct batch_scan *sc = duckdb_bind_get_extra_info(info);
    duckdb_client_context ctx;
    duckdb_table_function_get_client_context(info, &ctx);
    idx_t conn_id = duckdb_client_context_get_connection_id(ctx);
    duckdb_destroy_client_context(&ctx);
    duckdb_value v = duckdb_bind_get_parameter(info, 0);
    int64_t id = duckdb_get_int64(v);
    duckdb_destroy_value(&v);
    struct target *t = sc->b && conn_id == sc->conn_id ? target_by_id(sc->b, id) : NULL;
    if (!t) {
        duckdb_bind_set_error(info, "this function belongs to a duckpond batcher's writer");
        return;
    }
    for (int i = 0; i < t->ncols; i++) {
        char name[24];
        snprintf(name, sizeof name, "c%d", i);
        duckdb_logical_type lt = duckdb_create_logical_type(t->cols[i].type);
        duckdb_bind_add_result_column(info, name, lt);
        duckdb_destroy_logical_type(&lt);
    }
}

/* Init: one thread; the writer must have set the rows. */
static void scan_init(duckdb_init_info info)
{
    struct batch_scan *sc = duckdb_init_get_extra_info(info);
    duckdb_init_set_max_threads(info, 1);
    if (!sc->segs)
        duckdb_init_set_error(info, "no batch is being committed");
}

/* Fills out with the next good rows of the scan's target, up to a vector. */
static void scan_next(duckdb_function_info info, duckdb_data_chunk out)
{
    struct batch_scan *sc = duckdb_function_get_extra_info(info);
    struct target *t = sc->t;
    idx_t cap = duckdb_vector_size(), fill = 0;
    duckdb_vector vec[MASK_COLS];
    int ncols = t->ncols < MASK_COLS ? t->ncols : MASK_COLS;
    for (int i = 0; i < ncols; i++)
        vec[i] = duckdb_data_chunk_get_vector(out, (idx_t)i);
    for (; sc->si < sc->nsegs && fill < cap; sc->si++, sc->row = 0) {
        const struct seg *sg = &sc->segs[sc->si];
        const duckpond_write *w = sg->w;
        if (w->tgt != t)
            continue;
        if (sc->row < sg->lo)
            sc->row = sg->lo;
        for (; sc->row < sg->hi && fill < cap; sc->row++) {
            if (w->bad[sc->row])
                continue;
            const struct bval *row = w->vals + sc->row * (size_t)w->ncols;
            for (int i = 0; i < ncols; i++) {
                struct cval cv;
                if (row[i].kind == DUCKPOND_VALUE_NULL) {
                    duckdb_vector_ensure_validity_writable(vec[i]);
                    duckdb_validity_set_row_invalid(duckdb_vector_get_validity(vec[i]), fill);
                } else if (convert(t->cols[i].type, &row[i], w->text, &cv) == CV_OK) {
                    vector_put(vec[i], t->cols[i].type, fill, &cv);
                } else { /* prepare_write said plain: cannot happen */
                    duckdb_function_set_error(info, "batch scan: a value needs a cast");
                    return;
                }
            }
            fill++;
        }
        if (sc->row < sg->hi)
            break; /* the vector is full: go on from here next time */
    }
    duckdb_data_chunk_set_size(out, fill);
}

/* Registers b's batch scan function on the writer's connection. */
static int scan_register(duckpond_batcher *b)
{
    static int64_t counter;
    struct batch_scan *sc = calloc(1, sizeof *sc);
    if (!sc)
        return DUCKPOND_NOMEM;
    duckdb_client_context ctx;
    duckdb_connection_get_client_context(duckpond_conn_duckdb(b->conn), &ctx);
    sc->conn_id = duckdb_client_context_get_connection_id(ctx);
    duckdb_destroy_client_context(&ctx);
    sc->b = b;
    snprintf(b->scan_name, sizeof b->scan_name, "duckpond_batch_scan_%lld_%lld", (long long)getpid(),
             (long long)__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    duckdb_table_function f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, b->scan_name);
    duckdb_logical_type bigint = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_table_function_add_parameter(f, bigint);
    duckdb_destroy_logical_type(&bigint);
    duckdb_table_function_set_extra_info(f, sc, free);
    duckdb_table_function_set_bind(f, scan_bind);
    duckdb_table_function_set_init(f, scan_init);
    duckdb_table_function_set_function(f, scan_next);
    duckdb_state st = duckdb_register_table_function(duckpond_conn_duckdb(b->conn), f);
    duckdb_destroy_table_function(&f);
    if (st == DuckDBError)
        return DUCKPOND_ERROR; /* sc went with the function */
    b->scan = sc;
    return DUCKPOND_OK;
}

/* t's prepared INSERT from the batch scan, made on first need; NULL if it cannot be. */
static duckdb_prepared_statement target_insert(duckpond_batcher *b, struct target *t)
{
    if (t->insert || t->insert_failed || !b->scan)
        return t->insert;
    size_t len = strlen(t->sql_name) + strlen(b->scan_name) + 96;
    for (int i = 0; i < t->ncols; i++)
        len += 2 * strlen(t->cols[i].name) + 4;
    char *sql = malloc(len), *p = sql;
    if (!sql)
        return NULL; /* out of memory: try again next time */
    p += sprintf(p, "INSERT INTO %s (", t->sql_name);
    for (int i = 0; i < t->ncols; i++) {
        if (i)
            *p++ = ',';
        quote_ident(p, t->cols[i].name);
        p += strlen(p);
    }
    sprintf(p, ") SELECT * FROM %s(%lld)", b->scan_name, (long long)t->id);
    if (duckdb_prepare(duckpond_conn_duckdb(b->conn), sql, &t->insert) == DuckDBError) {
        duckdb_destroy_prepare(&t->insert);
        t->insert = NULL;
        t->insert_failed = true;
    }
    free(sql);
    return t->insert;
}

/* Whether segs[0..n) can be inserted by the batch scan: plain rows, a prepared INSERT. */
static bool scan_fits(duckpond_batcher *b, const struct seg *segs, size_t n)
{
    for (size_t s = 0; s < n; s++)
        if (!segs[s].w->plain || !target_insert(b, segs[s].w->tgt))
            return false;
    return true;
}

/* Counts a commit of the writer (that made seq applied, if not 0). */
static void committed_one(duckpond_batcher *b, uint64_t seq)
{
    b->batch_commits++;
    if (seq)
        b->db_applied_seq = seq;
    if (b->exit_after_commits && --b->exit_after_commits == 0)
        _exit(0); /* tests only: a crash right after this commit */
}

/* Runs target t's INSERT over the rows of segs[0..n) that belong to it. */
static int scan_insert(duckpond_batcher *b, struct target *t, const struct seg *segs, size_t n, char **msg)
{
    struct batch_scan *sc = b->scan;
    *sc = (struct batch_scan){sc->b, sc->conn_id, segs, n, t, 0, 0};
    duckdb_result res;
    duckdb_state st = duckdb_execute_prepared(t->insert, &res);
    sc->segs = NULL;
    sc->t = NULL;
    int rc = DUCKPOND_OK;
    if (st == DuckDBError) {
        rc = duckpond_classify(duckdb_result_error_type(&res), duckdb_result_error(&res));
        *msg = strdup(duckdb_result_error(&res));
        if (rc == DUCKPOND_OK)
            rc = DUCKPOND_ERROR;
    }
    duckdb_destroy_result(&res);
    return rc;
}

/*
 * try_commit by the batch scan: one INSERT per target (inside BEGIN ...
 * COMMIT when there are several, or a journal number to store; else the
 * INSERT alone, which DuckDB commits by itself).
 */
static int scan_commit(duckpond_batcher *b, const struct seg *segs, size_t n, uint64_t seq, char **msg)
{
    bool in_tx = seq != 0 || b->probing;
    for (size_t s = 1; s < n && !in_tx; s++)
        in_tx = segs[s].w->tgt != segs[0].w->tgt;
    int rc = in_tx ? writer_tx(b, TX_BEGIN, msg) : DUCKPOND_OK;
    if (rc != DUCKPOND_OK)
        return rc;
    uint64_t mark = ++b->attempts;
    for (size_t s = 0; s < n && rc == DUCKPOND_OK; s++) {
        struct target *t = segs[s].w->tgt;
        if (t->mark == mark)
            continue;
        t->mark = mark;
        rc = scan_insert(b, t, segs + s, n - s, msg);
    }
    if (rc == DUCKPOND_OK && seq)
        rc = store_applied_seq(b, seq, msg);
    if (rc == DUCKPOND_OK && b->probing)
        return writer_tx(b, TX_ROLLBACK, msg);
    if (rc == DUCKPOND_OK && in_tx && (rc = writer_tx(b, TX_COMMIT, msg)) != DUCKPOND_OK)
        in_tx = false; /* a failed COMMIT ends the transaction */
    if (rc != DUCKPOND_OK) {
        if (in_tx)
            writer_tx(b, TX_ROLLBACK, NULL);
        if (rc != DUCKPOND_CONSTRAINT && rc != DUCKPOND_CONFLICT)
            b->drop_targets = true; /* the schema may have changed under us */
        return rc;
    }
    committed_one(b, seq);
    return DUCKPOND_OK;
}

/*
 * One transaction holding the good rows of segs[0..n): BEGIN, append,
 * flush every appender used, COMMIT (or, for one appender, the flush
 * alone, which DuckDB commits as one transaction). Returns DUCKPOND_OK, or
 * the failure's class with DuckDB's message in *msg and nothing written.
 */
static int try_commit(duckpond_batcher *b, const struct seg *segs, size_t n, char **msg)
{
    b->nused = 0;
    b->last_slot = NULL;
    uint64_t seq = b->probing ? 0 : seq_after(b, segs, n);
    if (scan_fits(b, segs, n))
        return scan_commit(b, segs, n, seq, msg);
    bool in_tx = seq || b->probing || !single_flush(segs, n);
    int rc = in_tx ? writer_tx(b, TX_BEGIN, msg) : DUCKPOND_OK;
    if (rc != DUCKPOND_OK)
        return rc;
    for (size_t s = 0; s < n; s++) {
        const duckpond_write *w = segs[s].w;
        if (w->tgt->chunkable && !w->has_default) {
            if ((rc = append_seg_chunk(b, &segs[s], msg)) != DUCKPOND_OK)
                goto fail;
            continue;
        }
        for (size_t r = segs[s].lo; r < segs[s].hi; r++)
            if (!w->bad[r] && (rc = append_row(b, segs[s].w, r, msg)) != DUCKPOND_OK)
                goto fail;
    }
    for (int i = 0; i < b->nused; i++)
        if (b->used[i]->app && duckdb_appender_flush(b->used[i]->app) == DuckDBError) {
            rc = appender_fail(b->used[i]->app, msg);
            goto fail;
        }
    if (seq && (rc = store_applied_seq(b, seq, msg)) != DUCKPOND_OK)
        goto fail;
    if (b->probing) { /* the rows went in: take them back out */
        discard_attempt(b, true);
        return DUCKPOND_OK;
    }
    rc = in_tx ? writer_tx(b, TX_COMMIT, msg) : DUCKPOND_OK;
    if (rc != DUCKPOND_OK) {
        in_tx = false; /* a failed COMMIT ends the transaction */
        goto fail;
    }
    for (int i = 0; i < b->nused; i++)
        b->used[i]->used = false;
    b->nused = 0;
    committed_one(b, seq);
    return DUCKPOND_OK;
fail:
    discard_attempt(b, in_tx);
    if (rc != DUCKPOND_CONSTRAINT && rc != DUCKPOND_CONFLICT)
        b->drop_targets = true; /* the schema may have changed under us */
    return rc;
}

/* Fails the good rows of a segment (the whole write, if atomic). msg is copied. */
static void seg_fail(struct seg *s, int status, const char *msg)
{
    duckpond_write *w = s->w;
    if (w->flags & DUCKPOND_WRITE_ATOMIC) {
        write_fail_all(w, status, dup_str(msg));
        return;
    }
    for (size_t r = s->lo; r < s->hi; r++) {
        if (w->bad[r])
            continue;
        w->bad[r] = 1;
        write_fail_row(w, r, status, fmt_msg("row %zu: %s", r, msg ? msg : duckpond_strerror(status)));
    }
}

/* Whether a failure may be one row's fault, so that bisecting can isolate it. */
static bool row_fault(int rc)
{
    return rc == DUCKPOND_CONSTRAINT || rc == DUCKPOND_CONVERSION || rc == DUCKPOND_CONFLICT ||
           rc == DUCKPOND_ERROR;
}

static void commit_segs(duckpond_batcher *b, struct seg *segs, size_t n);

/*
 * A journaled write whose rows fail in part. Its good rows must commit in
 * one transaction, with its sequence number: committed in pieces, a crash
 * between two pieces would leave the first applied and the record still
 * unapplied, to be replayed whole. So the guilty rows are found by trial
 * transactions that are rolled back (the same bisection), and the rest
 * then commits at once. Should that commit fail too (another transaction
 * changed what the trials saw), the pieces commit one by one as for other
 * writes.
 */
static void commit_journaled_rows(duckpond_batcher *b, struct seg *seg)
{
    b->journaled_split = true;
    b->probing = true;
    commit_segs(b, seg, 1);
    b->probing = false;
    if (seg_rows(seg) > 0)
        commit_segs(b, seg, 1);
    b->journaled_split = false;
}

/*
 * Commits the good rows of segs[0..n), isolating failures: a failed group
 * is split in two and each half committed on its own, down to one write
 * (atomic) or one row, which then fails alone with DuckDB's message.
 */
static void commit_segs(duckpond_batcher *b, struct seg *segs, size_t n)
{
    char *msg = NULL;
    int rc = DUCKPOND_OK;
    for (int attempt = 0; attempt < 5; attempt++) {
        free(msg);
        msg = NULL;
        rc = b->fatal ? b->fatal : try_commit(b, segs, n, &msg);
        /* A conflict on one unit is another transaction's doing: retry it. */
        if (rc != DUCKPOND_CONFLICT || n > 1 || seg_rows(segs) > 1)
            break;
    }
    if (rc == DUCKPOND_OK) {
        for (size_t s = 0; s < n && !b->probing; s++)
            segs[s].w->committed += seg_rows(&segs[s]);
    } else if (rc == DUCKPOND_INVALIDATED || !row_fault(rc) || b->fatal) {
        if (rc == DUCKPOND_INVALIDATED && !b->fatal) {
            pthread_mutex_lock(&b->mu);
            b->fatal = rc;
            b->fatal_msg = dup_str(msg);
            pthread_mutex_unlock(&b->mu);
        }
        for (size_t s = 0; s < n; s++)
            seg_fail(&segs[s], rc, msg ? msg : b->fatal_msg);
    } else if (n > 1) {
        commit_segs(b, segs, n / 2);
        commit_segs(b, segs + n / 2, n - n / 2);
    } else if (!(segs->w->flags & DUCKPOND_WRITE_ATOMIC) && seg_rows(segs) > 1 && segs->w->jseq &&
               !b->journaled_split) {
        commit_journaled_rows(b, segs);
    } else if (!(segs->w->flags & DUCKPOND_WRITE_ATOMIC) && seg_rows(segs) > 1) {
        size_t mid = segs->lo + (segs->hi - segs->lo) / 2;
        struct seg halves[2] = {{segs->w, segs->lo, mid}, {segs->w, mid, segs->hi}};
        commit_segs(b, &halves[0], 1);
        commit_segs(b, &halves[1], 1);
    } else {
        seg_fail(segs, rc, msg);
    }
    free(msg);
}

static int fail_cmp(const void *a, const void *b)
{
    size_t x = ((const struct wfail *)a)->row, y = ((const struct wfail *)b)->row;
    return (x > y) - (x < y);
}

/*
 * Lists the journaled writes of a batch in b->jbatch (in order, which is
 * sequence order). False if memory ran out: the batch is then failed.
 */
static bool jbatch_fill(duckpond_batcher *b, duckpond_write *list, size_t n)
{
    b->njbatch = 0;
    if (!b->journal)
        return true;
    if (n > b->cap_jbatch) {
        duckpond_write **j = realloc(b->jbatch, n * sizeof *j);
        if (!j)
            return false;
        b->jbatch = j;
        b->cap_jbatch = n;
    }
    for (duckpond_write *w = list; w; w = w->next)
        if (w->jseq)
            b->jbatch[b->njbatch++] = w;
    return true;
}

/*
 * After a batch every journaled write in it is finished. If the last ones
 * failed (so no commit carried their number), store the number alone, so
 * that they are not replayed. A failure here only means they will be
 * replayed, and fail again.
 */
static void jbatch_finish(duckpond_batcher *b)
{
    if (!b->njbatch)
        return;
    uint64_t last = b->jbatch[b->njbatch - 1]->jseq;
    if (last > b->db_applied_seq && !b->fatal) {
        char *msg = NULL;
        int rc = writer_tx(b, TX_BEGIN, &msg);
        if (rc == DUCKPOND_OK && (rc = store_applied_seq(b, last, &msg)) == DUCKPOND_OK &&
            (rc = writer_tx(b, TX_COMMIT, &msg)) == DUCKPOND_OK)
            b->db_applied_seq = last;
        else if (rc != DUCKPOND_OK)
            writer_tx(b, TX_ROLLBACK, NULL);
        free(msg);
    }
    b->jbatch_done = last;
    b->njbatch = 0;
}

/*
 * Tells wait_applied that the journaled writes of the processed batch are
 * applied (under b->mu), once their failures and counters are recorded:
 * a reader woken here sees them.
 */
static void publish_applied(duckpond_batcher *b)
{
    if (b->jbatch_done <= b->applied_seq)
        return;
    b->applied_seq = b->jbatch_done;
    pthread_cond_broadcast(&b->applied);
}

/* The writer's work on one batch: check, commit, isolate failures. */
static void process_batch(duckpond_batcher *b, duckpond_write *list)
{
    size_t n = 0, nsegs = 0;
    for (duckpond_write *w = list; w; w = w->next)
        n++;
    struct seg *segs = calloc(n, sizeof *segs);
    if (!jbatch_fill(b, list, n)) {
        free(segs);
        segs = NULL;
    }
    for (duckpond_write *w = list; w; w = w->next) {
        if (b->fatal)
            write_fail_all(w, b->fatal, fmt_msg("%s", b->fatal_msg ? b->fatal_msg : "database failed"));
        else if (!segs)
            write_fail_all(w, DUCKPOND_NOMEM, NULL);
        else if (prepare_write(b, w))
            segs[nsegs++] = (struct seg){w, 0, w->nrows};
    }
    if (nsegs)
        commit_segs(b, segs, nsegs);
    free(segs);
    jbatch_finish(b);
    for (duckpond_write *w = list; w; w = w->next) {
        bad_release(w);
        w->tgt = NULL;
        if (w->nfails > 1)
            qsort(w->fails, w->nfails, sizeof *w->fails, fail_cmp);
    }
    if (b->drop_targets) {
        targets_drop(b);
        b->drop_targets = false;
    }
}

/* ------------------------------------------------------ writer thread */

/* Counts a latency into a histogram of duckpond_latency_bounds_us buckets. */
static void histogram_add(uint64_t *count, uint64_t *sum_us, uint64_t lat)
{
    int k = 0;
    while (k < DUCKPOND_LATENCY_BUCKETS && lat > duckpond_latency_bounds_us[k])
        k++;
    count[k]++;
    *sum_us += lat;
}

/*
 * Notes that rows of a journaled write failed after their acknowledgement
 * (under b->mu): counted, and the last one kept with its sequence number.
 */
static void journal_failed_after_ack(duckpond_batcher *b, const duckpond_write *w)
{
    b->stats.journal_rows_failed_after_ack += w->failed;
    dp_set_msg(&b->journal_failmsg, "journal record %" PRIu64 ": %s", w->jseq,
               w->errmsg ? w->errmsg : duckpond_strerror(w->status));
}

/*
 * Counts a processed write into the stats (under b->mu): an acknowledged
 * one into the commit-ack latency, a journaled one into the apply lag.
 */
static void stats_ack(duckpond_batcher *b, const duckpond_write *w, int64_t now_us)
{
    duckpond_batcher_stats *s = &b->stats;
    s->rows_committed += w->committed;
    if (w->nrows)
        s->bytes_committed += (uint64_t)((double)w->bytes * (double)w->committed / (double)w->nrows);
    s->queue_rows -= w->nrows;
    s->queue_bytes -= w->bytes;
    uint64_t lat = now_us > w->submit_us ? (uint64_t)(now_us - w->submit_us) : 0;
    if (w->internal) {
        histogram_add(s->apply_lag_count, &s->apply_lag_sum_us, lat);
        if (w->failed)
            journal_failed_after_ack(b, w);
        return;
    }
    s->writes_acked++;
    s->rows_failed += w->failed;
    histogram_add(s->latency_count, &s->latency_sum_us, lat);
}

/*
 * Takes the batcher's own journaled writes out of a processed batch and
 * frees them (their producers were acknowledged long ago); returns the
 * rest, the writes whose producers wait.
 */
static duckpond_write *free_internal(duckpond_write *batch)
{
    duckpond_write *keep = NULL, **tail = &keep;
    for (duckpond_write *w = batch, *next; w; w = next) {
        next = w->next;
        if (w->internal) {
            write_free_parts(w);
            continue;
        }
        *tail = w;
        tail = &w->next;
    }
    *tail = NULL;
    return keep;
}

/*
 * Deletes journal segments that hold only applied records, after a
 * CHECKPOINT has written those records into the database file (they are
 * durable in DuckDB's own WAL already; the CHECKPOINT keeps that short).
 * Tried once every older segment is applied; a failed CHECKPOINT (other
 * transactions running) is tried again after the next batch.
 */
static void maybe_recycle(duckpond_batcher *b, bool force)
{
    if (!b->journal)
        return;
    struct journal_stats js;
    journal_stats_get(b->journal, &js);
    if (js.segments <= 1)
        return;
    if (!b->recycle_at)
        b->recycle_at = js.last_seq; /* the older segments end at or before it */
    if (b->db_applied_seq < b->recycle_at && !force)
        return;
    if (writer_exec(b, "CHECKPOINT", NULL) != DUCKPOND_OK)
        return;
    journal_recycle(b->journal, b->db_applied_seq);
    b->recycle_at = 0;
}

/* Takes the queued writes for one batch, up to the batch limits (under b->mu). */
static duckpond_write *take_batch(duckpond_batcher *b, size_t *nwrites)
{
    *nwrites = 0;
    duckpond_write *first = b->head, *last = NULL;
    size_t rows = 0, bytes = 0;
    while (b->head && (!last || (rows + b->head->nrows <= b->set.batch_max_rows &&
                                 bytes + b->head->bytes <= b->set.batch_max_bytes))) {
        last = b->head;
        rows += last->nrows;
        bytes += last->bytes;
        b->head = last->next;
        (*nwrites)++;
    }
    b->queued_writes -= *nwrites;
    b->queued_rows -= rows;
    if (!b->head)
        b->tail = NULL;
    if (last)
        last->next = NULL;
    return first;
}

/*
 * Acknowledges a committed batch: marks every write done, then wakes all
 * their producers with one futex call (rather than one wake-up per write,
 * which at 64 producers cost more than the commit). A producer may free
 * its write as soon as it sees W_DONE, so w is not touched after that.
 */
static void ack_batch(duckpond_batcher *b, duckpond_write *batch)
{
    for (duckpond_write *w = batch, *next; w; w = next) {
        next = w->next;
        __atomic_store_n(&w->state, W_DONE, __ATOMIC_SEQ_CST);
    }
    /* seq_cst against write_wait's waiters++ / state re-check: either it
     * sees W_DONE, or we see it waiting (and its futex sees the new seq). */
    __atomic_add_fetch(&b->ack_seq, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&b->ack_waiters, __ATOMIC_SEQ_CST))
        syscall(SYS_futex, &b->ack_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * Lingers (under b->mu) before taking a batch while fewer writes are
 * queued than the group is expected to hold: the producers acknowledged
 * by the last commit are on their way back, and a commit costs about the
 * same for 1 row as for 60. Waits at most max_delay_us and never longer
 * than the last commit took; a lone producer (expected group of 1) never
 * waits.
 */
static void linger(duckpond_batcher *b)
{
    if (b->queued_writes >= b->expect_writes || b->queued_rows >= b->set.batch_max_rows)
        return;
    int64_t us = b->last_commit_us < b->set.max_delay_us ? b->last_commit_us : b->set.max_delay_us;
    if (us <= 0)
        return;
    struct timespec until = dp_deadline_us(CLOCK_REALTIME, us);
    b->want_writes = b->expect_writes;
    b->writer_idle = true;
    while (!b->stopping && !b->held && b->queued_writes < b->expect_writes &&
           b->queued_rows < b->set.batch_max_rows)
        if (pthread_cond_timedwait(&b->work, &b->mu, &until) == ETIMEDOUT)
            break;
    b->want_writes = 1;
}

/*
 * Journaled writes are acknowledged already: the writer lets them gather
 * (under b->mu) for up to journal_apply_delay_ms after the oldest one
 * arrived, so that DuckDB commits fewer, larger groups (each commit costs
 * CPU and an fsync that compete with the journal's own). It goes at once
 * when a batch's worth of rows is queued, when a reader waits to see its
 * own writes, when another write waits behind them, or at stop.
 */
static void apply_linger(duckpond_batcher *b)
{
    int64_t delay_us = (int64_t)b->set.journal_apply_delay_ms * 1000;
    if (delay_us <= 0)
        return;
    int64_t at = b->head->submit_us + delay_us - dp_now_us();
    if (at <= 0)
        return;
    struct timespec until = dp_deadline_us(CLOCK_REALTIME, at);
    b->want_writes = SIZE_MAX;
    b->writer_idle = true;
    while (!b->stopping && !b->held && !b->apply_waiters && !b->direct_queued &&
           b->queued_rows < b->set.batch_max_rows)
        if (pthread_cond_timedwait(&b->work, &b->mu, &until) == ETIMEDOUT)
            break;
    b->want_writes = 1;
}

static void *writer_main(void *arg)
{
    duckpond_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->stopping && (b->held || !b->head)) {
            b->writer_idle = true;
            pthread_cond_wait(&b->work, &b->mu);
        }
        if (b->head && !b->stopping && b->head->internal && b->head->jseq)
            apply_linger(b);
        else if (b->head && !b->stopping)
            linger(b);
        b->writer_idle = false;
        if (b->held && !b->stopping)
            continue;
        if (!b->head)
            break; /* stopping, and everything is acknowledged */
        size_t nwrites;
        duckpond_write *batch = take_batch(b, &nwrites);
        if (!b->head)
            b->direct_queued = false;
        pthread_mutex_unlock(&b->mu);

        b->batch_commits = 0;
        int64_t start = dp_now_us();
        process_batch(b, batch);
        int64_t now = dp_now_us();

        pthread_mutex_lock(&b->mu);
        b->last_commit_us = now - start;
        /* the next group: this one's producers coming back, plus those queued meanwhile */
        b->expect_writes = nwrites + b->queued_writes;
        b->stats.commits += b->batch_commits;
        for (duckpond_write *w = batch; w; w = w->next)
            stats_ack(b, w, now);
        publish_applied(b);
        pthread_cond_broadcast(&b->room);
        pthread_mutex_unlock(&b->mu);
        ack_batch(b, free_internal(batch));
        maybe_recycle(b, false);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ------------------------------------------------------------ batcher */

static int settings_fill(duckpond_batcher_settings *s, const duckpond_batcher_settings *in)
{
    if (in)
        *s = *in;
    else
        memset(s, 0, sizeof *s);
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

int duckpond_batcher_new(duckpond_db *db, const duckpond_batcher_settings *settings, duckpond_batcher **out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    *out = NULL;
    if (!db)
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
    b->set.journal_dir = NULL;
    if (settings && settings->journal_dir && *settings->journal_dir &&
        !(b->set.journal_dir = strdup(settings->journal_dir))) {
        free(b);
        return DUCKPOND_NOMEM;
    }
    pthread_cond_init(&b->applied, NULL);
    pthread_mutex_init(&b->mu, NULL);
    pthread_rwlock_init(&b->meta_lock, NULL);
    pthread_mutex_init(&b->stop_mu, NULL);
    pthread_cond_init(&b->work, NULL);
    pthread_cond_init(&b->room, NULL);
    rc = duckpond_connect(db, &b->conn);
    if (rc == DUCKPOND_OK &&
        duckdb_prepare(duckpond_conn_duckdb(b->conn), COLS_SQL, &b->cols_stmt) == DuckDBError)
        rc = DUCKPOND_ERROR;
    for (int i = 0; i < 3 && rc == DUCKPOND_OK; i++)
        if (duckdb_prepare(duckpond_conn_duckdb(b->conn), TX_SQL[i], &b->tx_stmt[i]) == DuckDBError)
            rc = DUCKPOND_ERROR;
    if (rc == DUCKPOND_OK)
        scan_register(b); /* without it, every group goes through the Appenders */
    if (rc == DUCKPOND_OK && b->set.journal_dir && (rc = journal_start(b)) != DUCKPOND_OK)
        dp_set_msg(&db->errmsg, "batcher journal: %s", b->journal_report ? b->journal_report : "out of memory");
    if (rc == DUCKPOND_OK && pthread_create(&b->thread, NULL, writer_main, b) != 0)
        rc = DUCKPOND_NOMEM;
    if (rc != DUCKPOND_OK) {
        b->joined = true; /* no thread to join */
        duckpond_batcher_free(b);
        return rc;
    }
    *out = b;
    return DUCKPOND_OK;
}

int duckpond_batcher_stop(duckpond_batcher *b)
{
    if (!b)
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
        maybe_recycle(b, true); /* the writer's connection is free now */
    }
    pthread_mutex_unlock(&b->stop_mu);
    return DUCKPOND_OK;
}

void duckpond_batcher_free(duckpond_batcher *b)
{
    if (!b)
        return;
    duckpond_batcher_stop(b);
    targets_drop(b);
    if (b->scan)
        b->scan->b = NULL; /* DuckDB keeps the function until the database closes */
    if (b->cols_stmt)
        duckdb_destroy_prepare(&b->cols_stmt);
    for (int i = 0; i < 3; i++)
        if (b->tx_stmt[i])
            duckdb_destroy_prepare(&b->tx_stmt[i]);
    duckpond_disconnect(b->conn);
    while (b->meta) {
        struct meta_ent *m = b->meta;
        b->meta = m->next;
        meta_free(m);
    }
    while (b->jcheck) {
        struct jcheck_ent *e = b->jcheck;
        b->jcheck = e->next;
        jcheck_free(e);
    }
    if (b->meta_stmt)
        duckdb_destroy_prepare(&b->meta_stmt);
    duckpond_disconnect(b->meta_conn);
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
    pthread_mutex_destroy(&b->mu);
    pthread_rwlock_destroy(&b->meta_lock);
    pthread_mutex_destroy(&b->stop_mu);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->room);
    free(b);
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

void batcher_hold(duckpond_batcher *b, int hold)
{
    pthread_mutex_lock(&b->mu);
    b->held = hold && !b->stopping;
    if (!b->held)
        pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
}

void duckpond_batcher_stats_get(duckpond_batcher *b, duckpond_batcher_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    *out = b->stats;
    out->journal_applied_seq = b->journal ? b->applied_seq : 0;
    pthread_mutex_unlock(&b->mu);
    if (b->journal) {
        struct journal_stats js;
        journal_stats_get(b->journal, &js);
        out->journal_appended_seq = js.last_seq;
        out->journal_synced_seq = js.synced_seq;
        out->journal_syncs = js.syncs;
        out->journal_sync_us = js.sync_us;
        out->journal_segments = js.segments;
    }
}

/* -------------------------------------------------------------- writes */

/* The cache entry for table at generation gen, or NULL (under meta_lock). */
static struct meta_ent *meta_find(duckpond_batcher *b, const char *table, uint64_t gen)
{
    struct meta_ent *m = b->meta;
    while (m && (m->gen != gen || strcmp(m->table, table) != 0))
        m = m->next;
    return m;
}

/* Makes the catalog connection and its statement on first need (write lock held). */
static int meta_conn_ready(duckpond_batcher *b)
{
    if (b->meta_conn)
        return DUCKPOND_OK;
    int rc = duckpond_connect(b->db, &b->meta_conn);
    if (rc != DUCKPOND_OK) {
        b->meta_conn = NULL;
        return rc;
    }
    if (duckdb_prepare(duckpond_conn_duckdb(b->meta_conn), COLS_SQL, &b->meta_stmt) == DuckDBError) {
        duckdb_destroy_prepare(&b->meta_stmt);
        duckpond_disconnect(b->meta_conn);
        b->meta_conn = NULL;
        return DUCKPOND_ERROR;
    }
    return DUCKPOND_OK;
}

/*
 * Looks table up in the catalog on the batcher's catalog connection and
 * caches its columns, dropping entries of older generations (under the
 * write lock). Returns the entry or NULL with *rc and *msg.
 */
static struct meta_ent *meta_load(duckpond_batcher *b, const char *table, uint64_t gen, int *rc, char **msg)
{
    for (struct meta_ent **p = &b->meta; *p;) {
        struct meta_ent *m = *p;
        if (m->gen != gen) {
            *p = m->next;
            meta_free(m);
        } else {
            p = &m->next;
        }
    }
    *rc = meta_conn_ready(b);
    struct table_cols tc;
    if (*rc == DUCKPOND_OK && (*rc = lookup_table(b->meta_stmt, table, &tc, msg)) != DUCKPOND_OK)
        return NULL;
    struct meta_ent *m = *rc == DUCKPOND_OK ? calloc(1, sizeof *m) : NULL;
    if (m && !(m->table = strdup(table))) {
        free(m);
        m = NULL;
    }
    if (!m) {
        if (*rc == DUCKPOND_OK)
            table_cols_free(&tc);
        *rc = *rc == DUCKPOND_OK ? DUCKPOND_NOMEM : *rc;
        return NULL;
    }
    m->cols = tc.names, m->ncols = tc.n, m->gen = gen;
    tc.names = NULL; /* the names are the entry's now */
    table_cols_free(&tc);
    m->next = b->meta;
    b->meta = m;
    return m;
}

/*
 * The column names of table, for writes made with columns = NULL: from
 * the cache (a read lock, so producers do not queue behind each other),
 * or the catalog. *cols is a malloc'd copy.
 */
static int meta_columns(duckpond_batcher *b, const char *table, char ***cols, int *ncols, char **msg)
{
    uint64_t gen = __atomic_load_n(&b->meta_gen, __ATOMIC_ACQUIRE);
    int rc = DUCKPOND_OK;
    pthread_rwlock_rdlock(&b->meta_lock);
    struct meta_ent *m = meta_find(b, table, gen);
    if (!m) {
        pthread_rwlock_unlock(&b->meta_lock);
        pthread_rwlock_wrlock(&b->meta_lock);
        if (!(m = meta_find(b, table, gen)))
            m = meta_load(b, table, gen, &rc, msg);
    }
    if (m) {
        *cols = names_block((const char *const *)m->cols, m->ncols);
        *ncols = m->ncols;
        rc = *cols ? DUCKPOND_OK : DUCKPOND_NOMEM;
    }
    pthread_rwlock_unlock(&b->meta_lock);
    return rc;
}

static void write_free_parts(duckpond_write *w)
{
    for (size_t i = 0; i < w->nfails; i++)
        free(w->fails[i].msg);
    free(w->fails);
    free(w->errmsg);
    bad_release(w);
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
            w->errmsg = fmt_msg("column %d has no name", i);
            return DUCKPOND_MISUSE;
        }
        for (int j = 0; j < i; j++)
            if (!strcasecmp(columns[i], columns[j])) {
                w->errmsg = fmt_msg("column \"%s\" is listed twice", columns[i]);
                return DUCKPOND_MISUSE;
            }
    }
    if (!(w->cols = names_block(columns, n)))
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
        w->poison = meta_columns(b, table, &w->cols, &w->ncols, &msg);
        w->cols_block = w->cols != NULL;
        w->errmsg = msg;
    }
    if (rc != DUCKPOND_OK) {
        write_free_parts(w);
        return rc;
    }
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

/* Makes room for one more row and its text. */
static int write_grow(duckpond_write *w, size_t text)
{
    size_t per_row = (size_t)(w->ncols ? w->ncols : 1);
    if (w->nrows == w->cap_rows && !w->vals && per_row <= INLINE_VALS) {
        w->vals = w->inl_vals;
        w->cap_rows = INLINE_VALS / per_row;
    } else if (w->nrows == w->cap_rows) {
        size_t cap = w->cap_rows ? 2 * w->cap_rows : 4;
        bool inl = w->vals == w->inl_vals;
        struct bval *v = inl ? malloc(cap * per_row * sizeof *v) : realloc(w->vals, cap * per_row * sizeof *v);
        if (!v)
            return DUCKPOND_NOMEM;
        if (inl)
            memcpy(v, w->inl_vals, w->nrows * per_row * sizeof *v);
        w->vals = v;
        w->cap_rows = cap;
    }
    if (!w->text && text <= INLINE_TEXT) {
        w->text = w->inl_text;
        w->text_cap = INLINE_TEXT;
    } else if (w->text_len + text > w->text_cap) {
        size_t cap = w->text_cap ? 2 * w->text_cap : 64;
        while (cap < w->text_len + text)
            cap *= 2;
        bool inl = w->text == w->inl_text;
        char *t = inl ? malloc(cap) : realloc(w->text, cap);
        if (!t)
            return DUCKPOND_NOMEM;
        if (inl)
            memcpy(t, w->inl_text, w->text_len);
        w->text = t;
        w->text_cap = cap;
    }
    return DUCKPOND_OK;
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
        case DUCKPOND_VALUE_DEFAULT: w->has_default = true; o->u.i64 = 0; break;
        default: o->u.i64 = 0; break;
        }
    }
    w->nrows++;
    w->bytes += (size_t)w->ncols * sizeof(struct bval) + text;
    return DUCKPOND_OK;
}

/*
 * Waits (under b->mu) until the queue has room for w, up to the overload
 * timeout. DUCKPOND_OK, or CLOSED / OVERLOADED / the fatal status, with
 * w->errmsg saying why.
 */
static int admit(duckpond_batcher *b, duckpond_write *w)
{
    const duckpond_batcher_settings *s = &b->set;
    if (w->nrows > s->queue_max_rows || w->bytes > s->queue_max_bytes) {
        b->stats.overloaded++;
        dp_set_msg(&w->errmsg, "write of %zu rows (%zu bytes) is larger than the queue (%zu rows, %zu bytes)",
                   w->nrows, w->bytes, s->queue_max_rows, s->queue_max_bytes);
        return DUCKPOND_OVERLOADED;
    }
    struct timespec until =
        dp_deadline(CLOCK_REALTIME, s->overload_timeout_ms > 0 ? s->overload_timeout_ms : 0);
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
        if (e == ETIMEDOUT && b->stats.queue_rows + w->nrows > s->queue_max_rows) {
            b->stats.overloaded++;
            dp_set_msg(&w->errmsg,
                       "overloaded: %llu rows (%llu bytes) wait to be committed, the cap is %zu rows "
                       "(%zu bytes); no room came within %d ms",
                       (unsigned long long)b->stats.queue_rows, (unsigned long long)b->stats.queue_bytes,
                       s->queue_max_rows, s->queue_max_bytes, s->overload_timeout_ms);
            return DUCKPOND_OVERLOADED;
        }
        if (e == ETIMEDOUT && b->stats.queue_bytes + w->bytes > s->queue_max_bytes) {
            b->stats.overloaded++;
            dp_set_msg(&w->errmsg, "overloaded: %llu bytes wait to be committed, the cap is %zu bytes; "
                                   "no room came within %d ms",
                       (unsigned long long)b->stats.queue_bytes, s->queue_max_bytes, s->overload_timeout_ms);
            return DUCKPOND_OVERLOADED;
        }
    }
}

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
        return submit_journal(w);
    duckpond_batcher *b = w->b;
    pthread_mutex_lock(&b->mu);
    int rc = admit(b, w);
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

/* Whether the writer is done with w (its results may be read). */
static bool write_done(const duckpond_write *w)
{
    return w && __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == W_DONE;
}

void duckpond_write_counts(const duckpond_write *w, size_t *committed, size_t *failed)
{
    bool done = write_done(w);
    if (committed)
        *committed = done ? w->committed : 0;
    if (failed)
        *failed = done ? w->failed : 0;
}

int duckpond_write_failure(const duckpond_write *w, size_t i, size_t *row_index, const char **message)
{
    if (!write_done(w))
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
    write_free_parts(w);
}

/* --------------------------------------------------- journal records */

/*
 * A journaled write is one journal record, built by codec_encode and read
 * back by batcher_decode. Version 1, little-endian throughout:
 *
 *   u8 version (1), u8 flags (bit 0: DUCKPOND_WRITE_ATOMIC), u16 zero
 *   u32 ncols, u32 table length, the table's bytes,
 *   ncols times: u32 column name length, the name's bytes
 *   u64 nrows, then for each row, for each column: u8 kind and
 *     BOOL: u8 (0/1); INT64, TIMESTAMP: i64; DOUBLE: IEEE-754 bits as u64;
 *     TEXT: u32 length, the bytes; NULL, DEFAULT: nothing
 *
 * Only the rows not marked in skip (may be NULL) are written: rows refused
 * at submit are never journaled. A new layout takes a new version; a
 * reader refuses versions it does not know.
 */
#define CODEC_VERSION 1
#define CODEC_MAX_NAME 65536

struct cbuf {
    unsigned char *p;
    size_t len, cap;
    bool failed;   /* out of memory: checked once at the end */
    bool borrowed; /* p is the caller's (a stack buffer): copy it out to grow */
};

static void cb_put(struct cbuf *c, const void *data, size_t n)
{
    if (c->failed)
        return;
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        while (cap < c->len + n)
            cap *= 2;
        unsigned char *p = c->borrowed ? malloc(cap) : realloc(c->p, cap);
        if (!p) {
            c->failed = true;
            return;
        }
        if (c->borrowed && c->len)
            memcpy(p, c->p, c->len);
        c->borrowed = false;
        c->p = p;
        c->cap = cap;
    }
    memcpy(c->p + c->len, data, n);
    c->len += n;
}

/* Little-endian integers of n bytes. */
static void cb_uint(struct cbuf *c, uint64_t v, int n)
{
    unsigned char b[8];
    for (int i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    cb_put(c, b, (size_t)n);
}

static void cb_str(struct cbuf *c, const char *s, size_t n)
{
    cb_uint(c, n, 4);
    cb_put(c, s, n);
}

/*
 * Encodes the rows of w not marked in skip into c (which may start on a
 * caller's buffer, borrowed). DUCKPOND_NOMEM leaves c freed.
 */
static int codec_encode_into(const duckpond_write *w, const uint8_t *skip, struct cbuf *c)
{
    size_t nrows = 0;
    for (size_t r = 0; r < w->nrows; r++)
        nrows += !(skip && skip[r]);
    cb_uint(c, CODEC_VERSION, 1);
    cb_uint(c, w->flags & DUCKPOND_WRITE_ATOMIC ? 1 : 0, 1);
    cb_uint(c, 0, 2);
    cb_uint(c, (uint64_t)w->ncols, 4);
    cb_str(c, w->table, strlen(w->table));
    for (int i = 0; i < w->ncols; i++)
        cb_str(c, w->cols[i], strlen(w->cols[i]));
    cb_uint(c, nrows, 8);
    for (size_t r = 0; r < w->nrows; r++) {
        if (skip && skip[r])
            continue;
        const struct bval *row = w->vals + r * (size_t)w->ncols;
        for (int i = 0; i < w->ncols; i++) {
            const struct bval *v = &row[i];
            cb_uint(c, v->kind, 1);
            switch (v->kind) {
            case DUCKPOND_VALUE_BOOL: cb_uint(c, v->u.i64 != 0, 1); break;
            case DUCKPOND_VALUE_INT64:
            case DUCKPOND_VALUE_TIMESTAMP: cb_uint(c, (uint64_t)v->u.i64, 8); break;
            case DUCKPOND_VALUE_DOUBLE: {
                uint64_t bits;
                memcpy(&bits, &v->u.f64, 8);
                cb_uint(c, bits, 8);
                break;
            }
            case DUCKPOND_VALUE_TEXT: cb_str(c, w->text + v->u.off, v->len); break;
            default: break;
            }
        }
    }
    if (c->failed) {
        if (!c->borrowed)
            free(c->p);
        c->p = NULL;
        return DUCKPOND_NOMEM;
    }
    return DUCKPOND_OK;
}

/* Encodes the rows of w not marked in skip; *out is malloc'd. */
static int codec_encode(const duckpond_write *w, const uint8_t *skip, unsigned char **out, size_t *len)
{
    struct cbuf c = {0};
    int rc = codec_encode_into(w, skip, &c);
    *out = c.p;
    *len = c.len;
    return rc;
}

/* A reader over a record; any read past its end sets failed. */
struct crd {
    const unsigned char *p;
    size_t len, off;
    bool failed;
};

static uint64_t cr_uint(struct crd *c, int n)
{
    if (c->failed || c->len - c->off < (size_t)n) {
        c->failed = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)c->p[c->off + (size_t)i] << (8 * i);
    c->off += (size_t)n;
    return v;
}

/* A string of the record, or NULL; *n is its length. Points into the record. */
static const char *cr_str(struct crd *c, size_t *n, size_t max)
{
    *n = (size_t)cr_uint(c, 4);
    if (c->failed || *n > max || c->len - c->off < *n) {
        c->failed = true;
        return NULL;
    }
    const char *s = (const char *)c->p + c->off;
    c->off += *n;
    return s;
}

/* A malloc'd, NUL-terminated copy of a name of the record; NULL if bad. */
static char *cr_name(struct crd *c)
{
    size_t n;
    const char *s = cr_str(c, &n, CODEC_MAX_NAME);
    if (!s || n == 0 || memchr(s, 0, n)) {
        c->failed = true;
        return NULL;
    }
    return strndup(s, n);
}

/* Reads one value into v; false when the record is malformed. */
static bool cr_value(struct crd *c, duckpond_value *v)
{
    memset(v, 0, sizeof *v);
    v->kind = (duckpond_value_kind)cr_uint(c, 1);
    switch (v->kind) {
    case DUCKPOND_VALUE_NULL:
    case DUCKPOND_VALUE_DEFAULT: break;
    case DUCKPOND_VALUE_BOOL: v->u.boolean = cr_uint(c, 1) != 0; break;
    case DUCKPOND_VALUE_INT64: v->u.i64 = (int64_t)cr_uint(c, 8); break;
    case DUCKPOND_VALUE_TIMESTAMP: v->u.timestamp_us = (int64_t)cr_uint(c, 8); break;
    case DUCKPOND_VALUE_DOUBLE: {
        uint64_t bits = cr_uint(c, 8);
        memcpy(&v->u.f64, &bits, 8);
        break;
    }
    case DUCKPOND_VALUE_TEXT: v->u.text.ptr = cr_str(c, &v->u.text.len, TEXT_MAX); break;
    default: c->failed = true;
    }
    return !c->failed;
}

int batcher_encode(const duckpond_write *w, void **out, size_t *len)
{
    if (!w || !out || !len)
        return DUCKPOND_MISUSE;
    unsigned char *p;
    int rc = codec_encode(w, NULL, &p, len);
    *out = rc == DUCKPOND_OK ? p : NULL;
    return rc;
}

int batcher_decode(duckpond_batcher *b, const void *payload, size_t len, duckpond_write **out, char **msg)
{
    struct crd c = {payload, len, 0, false};
    *out = NULL;
    *msg = NULL;
    if (!b || (!payload && len))
        return DUCKPOND_MISUSE;
    unsigned version = (unsigned)cr_uint(&c, 1), flags = (unsigned)cr_uint(&c, 1);
    cr_uint(&c, 2);
    if (!c.failed && version != CODEC_VERSION) {
        *msg = fmt_msg("journal record version %u is not known (this build reads version %d)", version,
                       CODEC_VERSION);
        return DUCKPOND_MISUSE;
    }
    uint64_t ncols = cr_uint(&c, 4);
    duckpond_write *w = calloc(1, sizeof *w);
    if (!w)
        return DUCKPOND_NOMEM;
    w->b = b;
    w->flags = flags & DUCKPOND_WRITE_ATOMIC;
    w->table = cr_name(&c);
    if (!c.failed && ncols > (uint64_t)(len / 5)) /* each column takes at least 5 bytes */
        c.failed = true;
    if (!c.failed && ncols && !(w->cols = calloc((size_t)ncols, sizeof *w->cols)))
        goto nomem;
    for (uint64_t i = 0; !c.failed && i < ncols; i++, w->ncols++)
        w->cols[i] = cr_name(&c);
    uint64_t nrows = cr_uint(&c, 8);
    duckpond_value *row = calloc(ncols ? (size_t)ncols : 1, sizeof *row);
    if (!row)
        goto nomem;
    int rc = DUCKPOND_OK;
    for (uint64_t r = 0; !c.failed && rc == DUCKPOND_OK && r < nrows; r++) {
        for (uint64_t i = 0; i < ncols && cr_value(&c, &row[i]); i++)
            ;
        if (!c.failed)
            rc = duckpond_write_add_row(w, row);
    }
    free(row);
    if (!c.failed && c.off != len)
        c.failed = true;
    if (c.failed || rc != DUCKPOND_OK) {
        *msg = c.failed ? fmt_msg("journal record is malformed (%zu bytes, stopped at byte %zu)", len, c.off)
                        : fmt_msg("journal record cannot be rebuilt: %s", duckpond_strerror(rc));
        write_free_parts(w);
        return c.failed ? DUCKPOND_MISUSE : rc;
    }
    *out = w;
    return DUCKPOND_OK;
nomem:
    write_free_parts(w);
    return DUCKPOND_NOMEM;
}

/* ------------------------------------------- checking at journal submit */

static void jcheck_free(struct jcheck_ent *e)
{
    for (int i = 0; i < e->ncols; i++) {
        free(e->cols[i].name);
        free(e->cols[i].type_name);
        if (e->cols[i].cast)
            duckdb_destroy_prepare(&e->cols[i].cast);
    }
    free(e->cols);
    free(e->key);
    free(e);
}

static struct jcheck_ent *jcheck_find(duckpond_batcher *b, const char *key, size_t keylen, uint64_t gen)
{
    struct jcheck_ent *e = b->jcheck;
    while (e && (e->gen != gen || e->keylen != keylen || memcmp(e->key, key, keylen) != 0))
        e = e->next;
    return e;
}

/* The length of a target key, up to and including its final NUL. */
static size_t key_len(const char *k)
{
    const char *p = k;
    while (*p)
        p += strlen(p) + 1;
    return (size_t)(p - k) + 1;
}

/*
 * Resolves w's table and columns and their types on the catalog
 * connection (under the write lock), dropping entries of older schema
 * generations. Returns the entry, or NULL with *rc and *msg.
 */
static struct jcheck_ent *jcheck_load(duckpond_batcher *b, const duckpond_write *w, char *key, size_t keylen,
                                      uint64_t gen, int *rc, char **msg)
{
    for (struct jcheck_ent **p = &b->jcheck; *p;) {
        struct jcheck_ent *e = *p;
        if (e->gen != gen) {
            *p = e->next;
            jcheck_free(e);
        } else {
            p = &e->next;
        }
    }
    if ((*rc = meta_conn_ready(b)) != DUCKPOND_OK)
        return NULL;
    struct table_cols tc;
    if ((*rc = lookup_table(b->meta_stmt, w->table, &tc, msg)) != DUCKPOND_OK)
        return NULL;
    struct target *t = calloc(1, sizeof *t);
    struct jcheck_ent *e = calloc(1, sizeof *e);
    *rc = t && e ? DUCKPOND_OK : DUCKPOND_NOMEM;
    duckdb_appender a = NULL;
    if (*rc == DUCKPOND_OK) {
        t->catalog = tc.catalog, t->schema = tc.schema, t->table = tc.table;
        tc.catalog = tc.schema = tc.table = NULL;
        *rc = target_bind_columns(t, w, &tc, msg);
    }
    table_cols_free(&tc);
    if (*rc == DUCKPOND_OK) /* the appender tells the column types */
        *rc = target_make_appender(duckpond_conn_duckdb(b->meta_conn), t, 0, &a, msg);
    if (*rc != DUCKPOND_OK) {
        if (t)
            target_free(t);
        free(e);
        return NULL;
    }
    for (int i = 0; i < t->ncols; i++) {
        duckdb_logical_type lt = duckdb_appender_column_type(a, (idx_t)i);
        t->cols[i].type = duckdb_get_type_id(lt);
        duckdb_destroy_logical_type(&lt);
    }
    duckdb_appender_destroy(&a); /* it holds no rows */
    e->key = key, e->keylen = keylen, e->gen = gen, e->ncols = t->ncols, e->cols = t->cols;
    t->cols = NULL, t->ncols = 0;
    target_free(t);
    e->next = b->jcheck;
    b->jcheck = e;
    return e;
}

/* Whether every value of w converts without DuckDB's help (read lock held). */
static bool jcheck_fast(const struct jcheck_ent *e, const duckpond_write *w)
{
    for (size_t r = 0; r < w->nrows; r++) {
        const struct bval *row = w->vals + r * (size_t)w->ncols;
        for (int i = 0; i < w->ncols; i++) {
            struct cval cv;
            if (!always_converts(e->cols[i].type, row[i].kind) &&
                convert(e->cols[i].type, &row[i], w->text, &cv) != CV_OK)
                return false;
        }
    }
    return true;
}

/* Forgets what an earlier, refused submit of w recorded. */
static void write_reset_results(duckpond_write *w)
{
    for (size_t i = 0; i < w->nfails; i++)
        free(w->fails[i].msg);
    w->nfails = 0;
    w->failed = w->committed = 0;
    w->status = 0;
    w->all_failed = false;
    bad_release(w);
}

/*
 * Checks a write before it is journaled, as the writer's prepare_write
 * would: the table and columns must exist and every value must convert.
 * The common case takes the read lock only; a value that needs DuckDB's
 * cast, or a target not seen yet, takes the write lock. Bad rows are
 * recorded in w (and marked in w->bad); an atomic write with one fails
 * whole. Returns false when no row is left to journal.
 */
static bool journal_check(duckpond_batcher *b, duckpond_write *w)
{
    write_reset_results(w);
    char *key = target_key(w), *msg = NULL;
    if (!key) {
        write_fail_all(w, DUCKPOND_NOMEM, NULL);
        return false;
    }
    size_t klen = key_len(key);
    uint64_t gen = __atomic_load_n(&b->meta_gen, __ATOMIC_ACQUIRE);
    pthread_rwlock_rdlock(&b->meta_lock);
    struct jcheck_ent *e = jcheck_find(b, key, klen, gen);
    bool fast = e && jcheck_fast(e, w);
    pthread_rwlock_unlock(&b->meta_lock);
    if (fast) {
        free(key);
        return w->nrows > 0;
    }
    int rc = DUCKPOND_OK;
    pthread_rwlock_wrlock(&b->meta_lock);
    if ((e = jcheck_find(b, key, klen, gen)))
        free(key);
    else if (!(e = jcheck_load(b, w, key, klen, gen, &rc, &msg)))
        free(key);
    size_t nbad = 0;
    if (e && w->nrows && !bad_alloc(w))
        rc = DUCKPOND_NOMEM;
    for (size_t r = 0; e && rc == DUCKPOND_OK && r < w->nrows; r++) {
        int rrc = check_row_cols(duckpond_conn_duckdb(b->meta_conn), e->cols, w, r, &msg);
        if (rrc == DUCKPOND_OK)
            continue;
        if (w->flags & DUCKPOND_WRITE_ATOMIC) {
            rc = rrc;
            break;
        }
        w->bad[r] = 1;
        nbad++;
        write_fail_row(w, r, rrc, msg);
        msg = NULL;
    }
    pthread_rwlock_unlock(&b->meta_lock);
    if (rc != DUCKPOND_OK) {
        write_fail_all(w, rc, msg);
        return false;
    }
    return nbad < w->nrows;
}

/* ------------------------------------------------------ journal submit */

/* Counts w's rows and bytes as waiting to be committed (under b->mu). */
static void queue_reserve(duckpond_batcher *b, const duckpond_write *w, int sign)
{
    b->stats.queue_rows += sign > 0 ? w->nrows : -w->nrows;
    b->stats.queue_bytes += sign > 0 ? w->bytes : -w->bytes;
}

/* Links a write whose room is reserved into the queue (under b->mu). */
static void queue_link(duckpond_batcher *b, duckpond_write *w, int64_t now_us)
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

/* Wakes the writer if it waits and enough is queued (under b->mu). */
static void queue_poke(duckpond_batcher *b)
{
    if (b->writer_idle && (b->queued_writes >= b->want_writes || b->queued_rows >= b->set.batch_max_rows))
        pthread_cond_signal(&b->work);
}

/* Appends w to the queue and wakes the writer if it waits (under b->mu). */
static void enqueue(duckpond_batcher *b, duckpond_write *w)
{
    queue_reserve(b, w, 1);
    queue_link(b, w, dp_now_us());
    b->direct_queued = true;
    if (b->want_writes == SIZE_MAX && b->writer_idle)
        pthread_cond_signal(&b->work); /* it must not wait behind journaled writes */
    else
        queue_poke(b);
}

/*
 * The journal's on_durable: queues the batcher's copies of records now on
 * disk, in sequence order, with one lock for the whole flush. Their room
 * was reserved by their producers.
 */
static void journal_durable(void *arg, struct journal_ticket *const *tickets, size_t n)
{
    duckpond_batcher *b = arg;
    int64_t now = dp_now_us();
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < n; i++) {
        duckpond_write *iw = tickets[i]->cookie;
        iw->jseq = tickets[i]->seq;
        iw->internal = true;
        queue_link(b, iw, now);
        b->stats.journal_writes_acked++;
        b->stats.journal_rows_acked += iw->nrows;
    }
    queue_poke(b);
    pthread_mutex_unlock(&b->mu);
}

/* Marks a user's write done with its results (it was never queued). */
static int write_finish(duckpond_write *w, int status)
{
    if (status && !w->status)
        w->status = status;
    __atomic_store_n(&w->state, W_DONE, __ATOMIC_RELEASE);
    return w->status;
}

/*
 * The batcher's own copy of w's rows not marked in skip, for the writer:
 * the write batcher_decode rebuilds from w's journal record, made in one
 * allocation (header, values, column pointers, text, names). NULL if out
 * of memory.
 */
static duckpond_write *write_clone(const duckpond_write *w, const uint8_t *skip)
{
    size_t ncols = (size_t)w->ncols, nrows = 0, text = 0, names = strlen(w->table) + 1;
    for (size_t i = 0; i < ncols; i++)
        names += strlen(w->cols[i]) + 1;
    for (size_t r = 0; r < w->nrows; r++) {
        if (skip && skip[r])
            continue;
        nrows++;
        for (size_t i = 0; i < ncols; i++)
            if (w->vals[r * ncols + i].kind == DUCKPOND_VALUE_TEXT)
                text += w->vals[r * ncols + i].len;
    }
    size_t head = sizeof(duckpond_write), vals = nrows * ncols * sizeof(struct bval);
    duckpond_write *c = malloc(head + vals + ncols * sizeof(char *) + text + names);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->b = w->b;
    c->flags = w->flags;
    c->one_block = true;
    c->ncols = w->ncols;
    c->vals = (struct bval *)((char *)c + head);
    c->cols = (char **)((char *)c->vals + vals);
    c->text = (char *)(c->cols + ncols);
    char *p = c->text + text;
    c->table = p;
    p = stpcpy(p, w->table) + 1;
    for (size_t i = 0; i < ncols; i++) {
        c->cols[i] = p;
        p = stpcpy(p, w->cols[i]) + 1;
    }
    for (size_t r = 0; r < w->nrows; r++) {
        if (skip && skip[r])
            continue;
        struct bval *out = c->vals + c->nrows * ncols;
        memcpy(out, w->vals + r * ncols, ncols * sizeof *out);
        size_t row_text = 0;
        for (size_t i = 0; i < ncols; i++) {
            if (out[i].kind == DUCKPOND_VALUE_DEFAULT)
                c->has_default = true;
            if (out[i].kind != DUCKPOND_VALUE_TEXT)
                continue;
            memcpy(c->text + c->text_len, w->text + out[i].u.off, out[i].len);
            out[i].u.off = c->text_len;
            c->text_len += out[i].len;
            row_text += out[i].len;
        }
        c->nrows++;
        c->bytes += ncols * sizeof(struct bval) + row_text;
    }
    c->cap_rows = c->nrows;
    c->text_cap = c->text_len;
    return c;
}

/* Reserves queue room for iw (w's copy); on failure w->errmsg says why. */
static int journal_admit(duckpond_batcher *b, duckpond_write *w, duckpond_write *iw)
{
    pthread_mutex_lock(&b->mu);
    int rc = admit(b, iw);
    if (rc == DUCKPOND_OK)
        queue_reserve(b, iw, 1);
    else
        dp_set_msg(&w->errmsg, "%s", iw->errmsg ? iw->errmsg : duckpond_strerror(rc));
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* Gives back the room of a copy that was not journaled, and counts the error. */
static void journal_unreserve(duckpond_batcher *b, duckpond_write *iw)
{
    pthread_mutex_lock(&b->mu);
    queue_reserve(b, iw, -1);
    b->stats.journal_errors++;
    pthread_cond_broadcast(&b->room);
    pthread_mutex_unlock(&b->mu);
}

/*
 * DUCKPOND_ACK_JOURNAL: checks w, encodes its good rows as one record,
 * hands it with the batcher's own copy to the journal, and returns once
 * the record is on disk; the journal's flush queues the copy for the
 * writer, in sequence order (journal_durable). See the JOURNAL part of
 * duckpond.h.
 */
static int submit_journal(duckpond_write *w)
{
    duckpond_batcher *b = w->b;
    if (!b->journal) {
        dp_set_msg(&w->errmsg, "ack mode journal needs a batcher with a journal (journal_dir is not set)");
        return DUCKPOND_MISUSE;
    }
    if (!journal_check(b, w))
        return write_finish(w, 0);
    unsigned char stack[512]; /* a small write's record needs no allocation */
    struct cbuf rec = {stack, 0, sizeof stack, false, true};
    duckpond_write *iw = NULL;
    int rc = codec_encode_into(w, w->bad, &rec);
    if (rc == DUCKPOND_OK && rec.len > JOURNAL_MAX_RECORD) {
        dp_set_msg(&w->errmsg, "write of %zu bytes is larger than a journal record may be", rec.len);
        rc = DUCKPOND_OVERLOADED;
    }
    if (rc == DUCKPOND_OK && !(iw = write_clone(w, w->bad)))
        rc = DUCKPOND_NOMEM;
    if (rc == DUCKPOND_OK && (rc = journal_admit(b, w, iw)) != DUCKPOND_OK) {
        write_free_parts(iw);
        iw = NULL;
    }
    struct journal_ticket tk;
    if (rc == DUCKPOND_OK && (rc = journal_put(b->journal, rec.p, rec.len, iw, &tk)) != DUCKPOND_OK)
        tk.written = 0;
    if (!rec.borrowed)
        free(rec.p);
    if (rc == DUCKPOND_OK)
        rc = journal_wait(b->journal, &tk);
    if (rc != DUCKPOND_OK && iw) { /* not queued: the copy is still ours */
        journal_unreserve(b, iw);
        write_free_parts(iw);
        if (!tk.written) {
            dp_set_msg(&w->errmsg, "%s; the write was not journaled", journal_errmsg(b->journal));
            return rc; /* nothing journaled: the write may be submitted again */
        }
        dp_set_msg(&w->errmsg, "%s; the write is not acknowledged", journal_errmsg(b->journal));
        return write_finish(w, DUCKPOND_IO);
    }
    if (rc != DUCKPOND_OK)
        return rc;
    w->jseq = tk.seq;
    w->committed = w->nrows - w->failed;
    if (w->failed) {
        pthread_mutex_lock(&b->mu);
        b->stats.rows_failed += w->failed;
        pthread_mutex_unlock(&b->mu);
    }
    return write_finish(w, 0);
}

uint64_t duckpond_write_seq(const duckpond_write *w)
{
    return write_done(w) ? w->jseq : 0;
}

int duckpond_batcher_wait_applied(duckpond_batcher *b, uint64_t seq, int timeout_ms)
{
    if (!b || timeout_ms < -1)
        return DUCKPOND_MISUSE;
    if (!seq || !b->journal)
        return DUCKPOND_OK;
    struct journal_stats js;
    journal_stats_get(b->journal, &js);
    if (seq > js.last_seq)
        return DUCKPOND_MISUSE; /* never handed out: it would wait forever */
    pthread_mutex_lock(&b->mu);
    int rc = DUCKPOND_OK;
    if (b->applied_seq < seq) {
        int64_t start = dp_now_us();
        struct timespec until = dp_deadline(CLOCK_REALTIME, timeout_ms > 0 ? timeout_ms : 0);
        b->stats.applied_waits++;
        b->apply_waiters++;
        if (b->writer_idle)
            pthread_cond_signal(&b->work); /* apply now, without the gathering delay */
        while (b->applied_seq < seq && !b->fatal && timeout_ms != 0)
            if ((timeout_ms < 0 ? pthread_cond_wait(&b->applied, &b->mu)
                                : pthread_cond_timedwait(&b->applied, &b->mu, &until)) == ETIMEDOUT)
                break;
        b->apply_waiters--;
        if (b->applied_seq < seq) {
            rc = b->fatal ? b->fatal : DUCKPOND_TIMEOUT;
            b->stats.applied_wait_timeouts += !b->fatal;
        }
        b->stats.applied_wait_sum_us += (uint64_t)(dp_now_us() - start);
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void duckpond_batcher_schema_changed(duckpond_batcher *b)
{
    if (b)
        __atomic_add_fetch(&b->meta_gen, 1, __ATOMIC_RELEASE);
}

uint64_t duckpond_batcher_schema_gen(const duckpond_batcher *b)
{
    return b ? __atomic_load_n(&b->meta_gen, __ATOMIC_ACQUIRE) : 0;
}

const char *duckpond_batcher_journal_report(const duckpond_batcher *b)
{
    return b && b->journal_report ? b->journal_report : "";
}

void duckpond_batcher_journal_errmsg(duckpond_batcher *b, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    buf[0] = '\0';
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    if (b->journal_failmsg)
        snprintf(buf, len, "%s", b->journal_failmsg);
    pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------- journal open + replay */

#define REPLAY_MAX_WRITES 4096
#define REPORT_BYTES 4096

/* Applies the records read so far (batcher_new's thread, before the writer starts). */
static void replay_flush(duckpond_batcher *b)
{
    duckpond_write *list = b->replay_head;
    if (!list)
        return;
    b->replay_head = b->replay_tail = NULL;
    b->replay_writes = b->replay_rows = 0;
    b->batch_commits = 0;
    process_batch(b, list);
    pthread_mutex_lock(&b->mu);
    b->stats.commits += b->batch_commits;
    for (duckpond_write *w = list; w; w = w->next) {
        b->stats.journal_replayed_writes++;
        b->stats.rows_committed += w->committed;
        if (w->failed)
            journal_failed_after_ack(b, w);
    }
    publish_applied(b);
    pthread_mutex_unlock(&b->mu);
    free_internal(list);
}

/* journal_open's replay callback: one record above the applied number. */
static int replay_record(void *arg, uint64_t seq, const void *payload, size_t len)
{
    duckpond_batcher *b = arg;
    duckpond_write *w;
    char *msg = NULL;
    int rc = batcher_decode(b, payload, len, &w, &msg);
    if (rc == DUCKPOND_NOMEM)
        return 1;
    if (rc != DUCKPOND_OK) { /* whole and checksummed, yet unreadable: say so, go on */
        size_t used = strlen(b->journal_report);
        snprintf(b->journal_report + used, REPORT_BYTES - used, "record %" PRIu64 " skipped: %s; ", seq,
                 msg ? msg : duckpond_strerror(rc));
        pthread_mutex_lock(&b->mu);
        dp_set_msg(&b->journal_failmsg, "journal record %" PRIu64 ": %s", seq, msg ? msg : "unreadable");
        pthread_mutex_unlock(&b->mu);
        free(msg);
        return 0;
    }
    w->jseq = seq;
    w->internal = true;
    w->state = W_QUEUED;
    w->submit_us = dp_now_us();
    if (b->replay_tail)
        b->replay_tail->next = w;
    else
        b->replay_head = w;
    b->replay_tail = w;
    b->replay_rows += w->nrows;
    if (++b->replay_writes >= REPLAY_MAX_WRITES || b->replay_rows >= b->set.batch_max_rows)
        replay_flush(b);
    return b->fatal ? 1 : 0;
}

static const char STATE_SQL[] =
    "CREATE TABLE IF NOT EXISTS duckpond_journal_state(applied_seq UBIGINT NOT NULL);"
    "INSERT INTO duckpond_journal_state SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM duckpond_journal_state)";

/*
 * Opens the journal of b's settings: reads the applied number from the
 * database (creating duckpond_journal_state), then opens the journal,
 * applying every record above it. On failure the reason is in
 * b->journal_report.
 */
static int journal_start(duckpond_batcher *b)
{
    if (!(b->journal_report = calloc(1, REPORT_BYTES)))
        return DUCKPOND_NOMEM;
    int64_t applied = 0;
    duckdb_connection c = duckpond_conn_duckdb(b->conn);
    int rc = duckpond_exec(b->conn, STATE_SQL);
    if (rc == DUCKPOND_OK)
        rc = duckpond_query_int64(b->conn, "SELECT max(applied_seq) FROM duckpond_journal_state", &applied);
    if (rc == DUCKPOND_OK &&
        duckdb_prepare(c, "UPDATE duckpond_journal_state SET applied_seq = $1", &b->seq_stmt) == DuckDBError)
        rc = DUCKPOND_ERROR;
    if (rc != DUCKPOND_OK) {
        snprintf(b->journal_report, REPORT_BYTES, "cannot keep the journal state in the database: %s",
                 duckpond_conn_errmsg(b->conn));
        return rc == DUCKPOND_READONLY ? DUCKPOND_MISUSE : rc;
    }
    b->db_applied_seq = (uint64_t)applied;
    struct journal_options opt = {.segment_bytes = b->set.journal_segment_bytes,
                                  .on_durable = journal_durable, .arg = b};
    rc = journal_open(b->set.journal_dir, &opt, (uint64_t)applied, replay_record, b, &b->journal,
                      b->journal_report, REPORT_BYTES);
    if (rc == DUCKPOND_OK)
        replay_flush(b);
    else
        while (b->replay_head) {
            duckpond_write *w = b->replay_head;
            b->replay_head = w->next;
            write_free_parts(w);
        }
    if (rc == DUCKPOND_OK && b->fatal) {
        size_t used = strlen(b->journal_report);
        snprintf(b->journal_report + used, REPORT_BYTES - used, "; replay failed: %s",
                 b->fatal_msg ? b->fatal_msg : duckpond_strerror(b->fatal));
        rc = b->fatal;
    }
    b->applied_seq = b->db_applied_seq;
    return rc;
}
