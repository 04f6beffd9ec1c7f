/*
 * session.c -- one PostgreSQL client connection, on its own thread.
 *
 * A session owns a DuckDB connection and everything PostgreSQL keeps per
 * backend: the transaction state reported in ReadyForQuery (I, T, E, with
 * PostgreSQL's failed-transaction rules layered over DuckDB's), prepared
 * statements and portals of the extended protocol, and session settings
 * (SET/SHOW/RESET, startup parameters and PGOPTIONS). It reads messages
 * with pgwire's capped parser, builds every reply whole in an output
 * buffer, and writes that buffer out before it blocks to read again.
 *
 * Statements: text is split into statements at top-level semicolons (only
 * to hand each one to pgcatalog_rewrite and to the SET/SHOW/transaction
 * emulation), then DuckDB parses it (duckdb_extract_statements) and
 * prepares it. DuckDB's statement type decides the command tag, whether
 * rows come back, and what a read-only user may run.
 *
 * Writes through the batcher: a plain INSERT ... VALUES of constants and
 * parameters, run in autocommit, becomes a duckpond_write acknowledged at
 * commit. "Plain" is decided from DuckDB's own parse trees
 * (json_serialize_sql), analysed once per prepared statement: DuckDB will
 * only serialise SELECT statements, so the INSERT's target and its VALUES
 * list are serialised as two SELECTs ("SELECT * FROM <target>" and
 * "VALUES ..."), cut at the INSERT's top-level VALUES keyword.
 *
 * Ack modes (SET duckpond.ack, the server's --ack by default): "commit"
 * acknowledges a batched INSERT or COPY once DuckDB has committed it;
 * "journal" once it is in the batcher's journal on disk, applied behind.
 * A session that wrote in journal mode then waits, before its next
 * statement that DuckDB runs, until its own journaled writes are applied
 * (read-your-writes), for at most SESSION_APPLIED_WAIT_MS.
 */
#include "session.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "copy.h"
#include "metrics.h"
#include "pgcatalog.h"
#include "pgtypes.h"
#include "server.h"
#include "clock.h"
#include "sqlshape.h"
#include "users.h"

#define SERVER_VERSION "16.0"
#define OUT_FLUSH_BYTES (256u << 10)
#define IN_KEEP_BYTES (64u << 10)
#define SESSION_APPLIED_WAIT_MS 5000

/* ------------------------------------------------------------ settings */

struct setting {
    char *name;
    char *value;
    struct setting *next;
};

/* PostgreSQL settings the session keeps itself; report: sent as ParameterStatus. */
static const struct pg_setting {
    const char *name;
    const char *def;
    bool report;
} pg_settings[] = {
    {"application_name", "", true},
    {"client_encoding", "UTF8", true},
    {"DateStyle", "ISO, MDY", true},
    {"IntervalStyle", "postgres", true},
    {"TimeZone", "UTC", true},
    {"integer_datetimes", "on", true},
    {"standard_conforming_strings", "on", true},
    {"server_version", SERVER_VERSION, true},
    {"server_encoding", "UTF8", true},
    {"is_superuser", "on", true},
    {"session_authorization", "", true},
    {"default_transaction_read_only", "off", true},
    {"in_hot_standby", "off", true},
    {"server_version_num", "160000", false},
    {"extra_float_digits", "1", false},
    {"search_path", "\"$user\", public", false},
    {"statement_timeout", "0", false},
    {"lock_timeout", "0", false},
    {"idle_in_transaction_session_timeout", "0", false},
    {"client_min_messages", "notice", false},
    {"transaction_isolation", "repeatable read", false},
    {"default_transaction_isolation", "repeatable read", false},
    {"transaction_read_only", "off", false},
    {"max_identifier_length", "63", false},
    {"max_connections", "1000", false},
    {"synchronous_commit", "on", false},
    {"row_security", "on", false},
    {"escape_string_warning", "on", false},
    {"xmloption", "content", false},
    {"bytea_output", "hex", false},
    {"check_function_bodies", "on", false},
    {"default_tablespace", "", false},
    {"default_table_access_method", "heap", false},
    {"work_mem", "4MB", false},
    {"jit", "off", false},
    {"lc_messages", "C", false},
    {"lc_monetary", "C", false},
    {"lc_numeric", "C", false},
    {"lc_time", "C", false},
    {"datestyle", NULL, false}, /* aliases resolved by case-insensitive lookup */
    {"duckpond.batch", "on", false},
    {"duckpond.ack", "commit", false}, /* the default is the server's --ack */
};

static const struct pg_setting *pg_setting_find(const char *name)
{
    for (size_t i = 0; i < sizeof pg_settings / sizeof pg_settings[0]; i++)
        if (pg_settings[i].def && strcasecmp(pg_settings[i].name, name) == 0)
            return &pg_settings[i];
    return NULL;
}

static const char *setting_get(struct session *s, const char *name)
{
    for (struct setting *x = s->settings; x; x = x->next)
        if (strcasecmp(x->name, name) == 0)
            return x->value;
    if (strcasecmp(name, "duckpond.ack") == 0)
        return duckpond_ack_name(s->srv->opt.ack);
    const struct pg_setting *d = pg_setting_find(name);
    return d ? d->def : NULL;
}

/*
 * A duration as PostgreSQL takes statement_timeout: a whole number with
 * an optional unit (ms, s, min, h, d; none means ms), in milliseconds, or
 * -1. 0 turns the timeout off.
 */
static int64_t parse_duration_ms(const char *v)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    char *end;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : -1;
    if (!v || end == v || n < 0 || errno)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcasecmp(end, units[i].unit) == 0)
            return n <= INT64_MAX / units[i].ms ? n * units[i].ms : -1;
    return -1;
}

/* An ack mode a session may choose: commit or journal (queued is the library's alone). */
static int session_ack_parse(const char *name, duckpond_ack *out)
{
    duckpond_ack ack;
    if (duckpond_ack_parse(name, &ack) != 0 || ack == DUCKPOND_ACK_QUEUED)
        return -1;
    *out = ack;
    return 0;
}

/* Re-reads the settings the statement path consults on every Execute. */
static void settings_refresh(struct session *s)
{
    const char *v = setting_get(s, "duckpond.batch");
    s->batch_on = v && (strcasecmp(v, "on") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
    if (session_ack_parse(setting_get(s, "duckpond.ack"), &s->ack) != 0)
        s->ack = DUCKPOND_ACK_COMMIT;
    int64_t timeout = parse_duration_ms(setting_get(s, "statement_timeout"));
    s->statement_timeout_ms = timeout > 0 ? timeout : 0;
}

/*
 * Checks a value of duckpond.ack and gives its canonical name in *out:
 * 0, or -1 with a 22023 error queued (an unknown mode, or journal on a
 * server without a journal).
 */
static int ack_check(struct session *s, const char *value, const char **out)
{
    duckpond_ack ack;
    if (session_ack_parse(value, &ack) != 0) {
        session_error(s, "22023", "invalid value for parameter \"duckpond.ack\": \"%s\" (expected commit or journal)",
                      value);
        return -1;
    }
    if (ack == DUCKPOND_ACK_JOURNAL && !s->srv->journal) {
        session_error(s, "22023", "ack mode journal is not available: this server runs without a journal");
        return -1;
    }
    *out = duckpond_ack_name(ack);
    return 0;
}

/* Stores a setting (value NULL: back to the default); sends ParameterStatus if reported. */
static int setting_put(struct session *s, const struct pg_setting *d, const char *value)
{
    if (strcasecmp(d->name, "client_encoding") == 0 && value &&
        strcasecmp(value, "UTF8") != 0 && strcasecmp(value, "UTF-8") != 0 &&
        strcasecmp(value, "UNICODE") != 0 && strcasecmp(value, "SQL_ASCII") != 0) {
        session_error(s, "22023", "invalid value for parameter \"client_encoding\": \"%s\"", value);
        return -1;
    }
    if (strcasecmp(d->name, "client_encoding") == 0)
        value = "UTF8"; /* everything DuckDB holds is UTF-8 */
    if (strcasecmp(d->name, "duckpond.ack") == 0 && value && ack_check(s, value, &value) != 0)
        return -1;
    if (strcasecmp(d->name, "statement_timeout") == 0 && value && parse_duration_ms(value) < 0) {
        session_error(s, "22023", "invalid value for parameter \"statement_timeout\": \"%s\" "
                      "(expected milliseconds, or a number with ms, s, min, h or d)", value);
        return -1;
    }
    struct setting **pp = &s->settings;
    while (*pp && strcasecmp((*pp)->name, d->name) != 0)
        pp = &(*pp)->next;
    if (*pp) {
        struct setting *old = *pp;
        *pp = old->next;
        free(old->name);
        free(old->value);
        free(old);
    }
    if (value) {
        struct setting *x = calloc(1, sizeof *x);
        if (!x || !(x->name = strdup(d->name)) || !(x->value = strdup(value))) {
            if (x)
                free(x->name);
            free(x);
            session_error(s, "53200", "out of memory");
            return -1;
        }
        x->next = s->settings;
        s->settings = x;
    }
    settings_refresh(s);
    if (d->report)
        pgwire_param_status(&s->out, d->name, setting_get(s, d->name));
    return 0;
}

/* A value the session set itself (not a default), or NULL. */
static const char *setting_get_local(struct session *s, const char *name)
{
    for (struct setting *x = s->settings; x; x = x->next)
        if (strcasecmp(x->name, name) == 0)
            return x->value;
    return NULL;
}

static void settings_free(struct session *s)
{
    while (s->settings) {
        struct setting *x = s->settings;
        s->settings = x->next;
        free(x->name);
        free(x->value);
        free(x);
    }
}

static bool batch_enabled(struct session *s)
{
    return s->batch_on;
}

duckpond_ack session_ack(struct session *s)
{
    return s->ack;
}

void session_note_seq(struct session *s, uint64_t seq)
{
    if (seq > s->journal_seq)
        s->journal_seq = seq;
}

int session_wait_own_writes(struct session *s)
{
    if (s->journal_seq <= s->journal_seen || !s->srv->batcher)
        return 0;
    session_set_running(s, true);
    int rc = duckpond_batcher_wait_applied(s->srv->batcher, s->journal_seq, SESSION_APPLIED_WAIT_MS);
    session_set_running(s, false);
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

/* -------------------------------------------------------------- output */

int session_flush(struct session *s)
{
    if (s->write_failed)
        return -1;
    if (s->out.failed) {
        /* a reply could not be built for lack of memory: end the session */
        s->write_failed = true;
        s->closing = true;
        return -1;
    }
    size_t off = 0;
    while (off < s->out.len) {
        ssize_t n = send(s->fd, s->out.data + off, s->out.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->write_failed = true;
            s->closing = true;
            return -1;
        }
        off += (size_t)n;
    }
    pgbuf_clear(&s->out, IN_KEEP_BYTES);
    return 0;
}

/* Writes out a long result as it grows. */
static int maybe_flush(struct session *s)
{
    return s->out.len >= OUT_FLUSH_BYTES ? session_flush(s) : 0;
}

void session_error(struct session *s, const char *sqlstate, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pgwire_error(&s->out, "ERROR", sqlstate, msg, NULL, NULL);
    metrics_error(sqlstate);
    if (s->tx == 'T')
        s->tx = 'E';
    if (s->extended)
        s->skip_to_sync = true;
}

/* A FATAL error: sent, then the session ends. */
static void session_fatal(struct session *s, const char *sqlstate, const char *msg)
{
    pgwire_error(&s->out, "FATAL", sqlstate, msg, NULL, NULL);
    metrics_error(sqlstate);
    s->closing = true;
}

/* The error type of a message that came without one (prepare errors). */
static duckdb_error_type guess_error_type(const char *msg)
{
    static const struct {
        const char *prefix;
        duckdb_error_type type;
    } map[] = {
        {"Parser Error", DUCKDB_ERROR_PARSER},   {"Catalog Error", DUCKDB_ERROR_CATALOG},
        {"Binder Error", DUCKDB_ERROR_BINDER},   {"Conversion Error", DUCKDB_ERROR_CONVERSION},
        {"Constraint Error", DUCKDB_ERROR_CONSTRAINT}, {"INTERRUPT Error", DUCKDB_ERROR_INTERRUPT},
        {"Not implemented", DUCKDB_ERROR_NOT_IMPLEMENTED},
        {"TransactionContext Error", DUCKDB_ERROR_TRANSACTION},
        {"Permission Error", DUCKDB_ERROR_PERMISSION},
        {"Invalid Input Error", DUCKDB_ERROR_INVALID_INPUT},
        {"Out of Range Error", DUCKDB_ERROR_OUT_OF_RANGE},
    };
    for (size_t i = 0; msg && i < sizeof map / sizeof map[0]; i++)
        if (strncasecmp(msg, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].type;
    return DUCKDB_ERROR_INVALID;
}

void session_duckdb_error(struct session *s, duckdb_error_type type, const char *message)
{
    if (!message)
        message = "unknown error";
    if (type == DUCKDB_ERROR_INVALID)
        type = guess_error_type(message);
    int cls = duckpond_classify(type, message);
    const char *state = duckpond_sqlstate(cls, message);
    pthread_mutex_lock(&s->run_lock);
    bool timed_out = s->timed_out;
    pthread_mutex_unlock(&s->run_lock);
    if (cls == DUCKPOND_INTERRUPTED)
        session_error(s, "57014", "canceling statement due to %s", timed_out ? "statement timeout" : "user request");
    else
        session_error(s, state, "%s", message);
}

void session_set_running(struct session *s, bool running)
{
    int64_t deadline = running && s->statement_timeout_ms ? dp_now_us() / 1000 + s->statement_timeout_ms : 0;
    pthread_mutex_lock(&s->run_lock);
    s->running = running;
    s->run_deadline_ms = deadline;
    if (running)
        s->timed_out = false;
    pthread_mutex_unlock(&s->run_lock);
}

void session_check_timeout(struct session *s)
{
    pthread_mutex_lock(&s->run_lock);
    if (s->running && s->run_deadline_ms && !s->timed_out && dp_now_us() / 1000 >= s->run_deadline_ms && s->dcon) {
        s->timed_out = true;
        duckdb_interrupt(s->dcon);
    }
    pthread_mutex_unlock(&s->run_lock);
}

void session_interrupt(struct session *s)
{
    pthread_mutex_lock(&s->run_lock);
    if (s->running && s->dcon)
        duckdb_interrupt(s->dcon);
    pthread_mutex_unlock(&s->run_lock);
}

/* --------------------------------------------------------------- input */

/*
 * Reads one message (a startup-phase packet when startup is true). The
 * body stays valid until the next read. Output is flushed before blocking.
 */
static int read_msg(struct session *s, bool startup, struct pgmsg *m)
{
    if (s->in_start == s->in_len) {
        s->in_start = s->in_len = 0;
        if (s->in_cap > IN_KEEP_BYTES) {
            free(s->in);
            s->in = NULL;
            s->in_cap = 0;
        }
    }
    for (;;) {
        size_t need = 0;
        const char *err = NULL;
        long r = pgwire_parse(s->in + s->in_start, s->in_len - s->in_start, startup, m, &need, &err);
        if (r > 0) {
            s->in_start += (size_t)r;
            return 0;
        }
        if (r < 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "invalid frontend message: %s", err);
            session_fatal(s, "08P01", msg);
            session_flush(s);
            return -1;
        }
        if (s->in_start > 0) {
            memmove(s->in, s->in + s->in_start, s->in_len - s->in_start);
            s->in_len -= s->in_start;
            s->in_start = 0;
        }
        size_t want = need > s->in_len + 8192 ? need : s->in_len + 8192;
        if (want > s->in_cap) {
            char *p = realloc(s->in, want);
            if (!p) {
                session_fatal(s, "53200", "out of memory");
                session_flush(s);
                return -1;
            }
            s->in = p;
            s->in_cap = want;
        }
        if (session_flush(s) != 0)
            return -1;
        ssize_t n = recv(s->fd, s->in + s->in_len, s->in_cap - s->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        s->in_len += (size_t)n;
    }
}

int session_read(struct session *s, struct pgmsg *m)
{
    return read_msg(s, false, m);
}

/* ------------------------------------------------------- SQL scanning */

struct piece {
    const char *p;
    size_t len;
};

/* Splits sql at top-level semicolons; pieces that hold only space are left out. */
static int split_sql(const char *sql, size_t len, struct piece **out, int *n)
{
    const char *end = sql + len, *p = sql, *begin = sql;
    int cap = 4, count = 0;
    struct piece *v = malloc(sizeof *v * (size_t)cap);
    if (!v)
        return -1;
    for (;;) {
        const char *q = sqlshape_skip_space(p, end);
        if (q >= end || *q == ';') {
            const char *b = sqlshape_skip_space(begin, q);
            if (b < q) {
                if (count == cap) {
                    struct piece *nv = realloc(v, sizeof *v * (size_t)(cap *= 2));
                    if (!nv) {
                        free(v);
                        return -1;
                    }
                    v = nv;
                }
                v[count].p = begin;
                v[count].len = (size_t)(q - begin);
                count++;
            }
            if (q >= end)
                break;
            p = begin = q + 1;
            continue;
        }
        p = sqlshape_skip_item(sql, q, end);
    }
    *out = v;
    *n = count;
    return 0;
}

/* ----------------------------------------------------------- statements */

enum stmt_kind {
    STMT_DUCKDB,  /* a DuckDB prepared statement */
    STMT_MULTI,   /* several DuckDB statements from a rewrite; no parameters */
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

/* One value of a plain INSERT: a constant or a parameter. */
struct plan_value {
    int param; /* 1-based parameter, 0 for a constant */
    int lit;   /* 1-based literal of the statement's text (a cached shape), 0 if none */
    duckpond_value value;
};

struct insert_plan {
    int refs; /* statements and the plan cache share a plan */
    char *table;
    char **columns;
    int ncolumns; /* 0: all columns in table order */
    int nrows, width;
    struct plan_value *values; /* nrows * width */
};

struct stmt {
    char *name;
    char *sql;
    enum stmt_kind kind;
    int refs; /* the statement list's own reference plus portals' */
    duckdb_prepared_statement prep;
    duckdb_statement_type dtype;
    int nparams;
    uint32_t *param_oids;
    int ncols; /* columns sent to the client (0: none) */
    bool count_result; /* the DuckDB result is a single "Count" to put in the tag */
    bool cols_unknown; /* DuckDB knows the columns only once parameters are bound */
    char tag[64];      /* the command word(s), or the whole tag for SET etc. */
    char *set_name, *set_value;
    struct copy_spec *copy;
    struct insert_plan *plan;
    bool plan_checked;
    int dparams;          /* DuckDB's parameter count (0 before DuckDB prepared it) */
    duckpond_value *lits; /* the literals of a statement made from a cached shape */
    char *litbuf;         /* their text */
    struct stmt *next;
};

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

static void plan_unref(struct insert_plan *p)
{
    if (!p || --p->refs > 0)
        return;
    free(p->table);
    for (int i = 0; i < p->ncolumns; i++)
        free(p->columns[i]);
    free(p->columns);
    for (int i = 0; p->values && i < p->nrows * p->width; i++)
        if (p->values[i].value.kind == DUCKPOND_VALUE_TEXT)
            free((char *)p->values[i].value.u.text.ptr);
    free(p->values);
    free(p);
}

static void stmt_unref(struct stmt *st)
{
    if (!st || --st->refs > 0)
        return;
    if (st->prep)
        duckdb_destroy_prepare(&st->prep);
    free(st->name);
    free(st->sql);
    free(st->param_oids);
    free(st->set_name);
    free(st->set_value);
    copy_spec_free(st->copy);
    plan_unref(st->plan);
    free(st->lits);
    free(st->litbuf);
    free(st);
}

static void portal_close_result(struct portal *p)
{
    if (p->chunk)
        duckdb_destroy_data_chunk(&p->chunk);
    if (p->has_res)
        duckdb_destroy_result(&p->res);
    p->has_res = false;
}

static void portal_free(struct portal *p)
{
    portal_close_result(p);
    stmt_unref(p->st);
    free(p->name);
    free(p->pvals);
    free(p->plens);
    free(p->pfmts);
    free(p->pdata);
    free(p->rfmts);
    free(p);
}

static struct stmt *stmt_find(struct session *s, const char *name)
{
    for (struct stmt *st = s->stmts; st; st = st->next)
        if (strcmp(st->name, name) == 0)
            return st;
    return NULL;
}

static void stmt_drop(struct session *s, const char *name)
{
    for (struct stmt **pp = &s->stmts; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0) {
            struct stmt *st = *pp;
            *pp = st->next;
            stmt_unref(st);
            return;
        }
}

static struct portal *portal_find(struct session *s, const char *name)
{
    for (struct portal *p = s->portals; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static void portal_drop(struct session *s, const char *name)
{
    for (struct portal **pp = &s->portals; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0) {
            struct portal *p = *pp;
            *pp = p->next;
            portal_free(p);
            return;
        }
}

static void portals_drop_all(struct session *s)
{
    while (s->portals) {
        struct portal *p = s->portals;
        s->portals = p->next;
        portal_free(p);
    }
}

/* The command word for a DDL statement: "CREATE TABLE", "DROP VIEW", ... */
static void ddl_tag(const char *sql, char *tag, size_t n)
{
    const char *end = sql + strlen(sql), *p = sql;
    char verb[32], word[32];
    p = sqlshape_read_word(p, end, verb, sizeof verb);
    for (int i = 0; i < 8; i++) {
        p = sqlshape_read_word(p, end, word, sizeof word);
        if (!*word)
            break;
        if (!strcmp(word, "OR") || !strcmp(word, "REPLACE") || !strcmp(word, "TEMP") ||
            !strcmp(word, "TEMPORARY") || !strcmp(word, "UNIQUE") || !strcmp(word, "PERSISTENT") ||
            !strcmp(word, "UNLOGGED") || !strcmp(word, "IF") || !strcmp(word, "NOT") ||
            !strcmp(word, "EXISTS"))
            continue;
        snprintf(tag, n, "%s %s", verb, word);
        return;
    }
    snprintf(tag, n, "%s", verb);
}

/* Fills in tag, ncols and count_result of a DuckDB statement. */
static void stmt_describe_duckdb(struct stmt *st)
{
    idx_t ncols = duckdb_prepared_statement_column_count(st->prep);
    char *name0 = ncols ? (char *)duckdb_prepared_statement_column_name(st->prep, 0) : NULL; /* ours to free */
    char first[8];
    snprintf(first, sizeof first, "%s", name0 ? name0 : "");
    duckdb_free(name0);
    bool count_col = ncols == 1 && (strcmp(first, "Count") == 0 || strcmp(first, "Success") == 0);
    st->ncols = (int)ncols;
    st->cols_unknown = ncols == 1 && duckdb_prepared_statement_column_type(st->prep, 0) == DUCKDB_TYPE_INVALID;
    const char *word = NULL;
    switch (st->dtype) {
    case DUCKDB_STATEMENT_TYPE_SELECT: word = "SELECT"; break;
    case DUCKDB_STATEMENT_TYPE_INSERT: word = "INSERT"; break;
    case DUCKDB_STATEMENT_TYPE_UPDATE: word = "UPDATE"; break;
    case DUCKDB_STATEMENT_TYPE_DELETE: word = "DELETE"; break;
    case DUCKDB_STATEMENT_TYPE_COPY: word = "COPY"; break;
    case DUCKDB_STATEMENT_TYPE_EXPLAIN: word = "EXPLAIN"; break;
    case DUCKDB_STATEMENT_TYPE_CREATE:
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC:
    case DUCKDB_STATEMENT_TYPE_DROP:
    case DUCKDB_STATEMENT_TYPE_ALTER:
        ddl_tag(st->sql, st->tag, sizeof st->tag);
        st->ncols = 0;
        return;
    case DUCKDB_STATEMENT_TYPE_SET:
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET: word = "SET"; break;
    default: {
        char w[32];
        sqlshape_read_word(st->sql, st->sql + strlen(st->sql), w, sizeof w);
        snprintf(st->tag, sizeof st->tag, "%s", *w ? w : "OK");
        if (count_col)
            st->ncols = 0;
        return;
    }
    }
    snprintf(st->tag, sizeof st->tag, "%s", word);
    if (count_col && st->dtype != DUCKDB_STATEMENT_TYPE_SELECT &&
        st->dtype != DUCKDB_STATEMENT_TYPE_EXPLAIN) {
        st->count_result = first[0] == 'C';
        st->ncols = 0;
    }
}

/* Prepares one DuckDB statement from text into st; on failure queues the error. */
static int stmt_prepare_duckdb(struct session *s, struct stmt *st, const uint32_t *oids, int noids)
{
    duckdb_extracted_statements ex = NULL;
    idx_t n = duckdb_extract_statements(s->dcon, st->sql, &ex);
    if (n == 0) {
        const char *e = duckdb_extract_statements_error(ex);
        if (e) {
            session_duckdb_error(s, DUCKDB_ERROR_PARSER, e);
            duckdb_destroy_extracted(&ex);
            return -1;
        }
        duckdb_destroy_extracted(&ex);
        st->kind = STMT_EMPTY;
        return 0;
    }
    if (n > 1) {
        duckdb_destroy_extracted(&ex);
        st->kind = STMT_MULTI;
        return 0;
    }
    duckdb_state rc = duckdb_prepare_extracted_statement(s->dcon, ex, 0, &st->prep);
    duckdb_destroy_extracted(&ex);
    if (rc != DuckDBSuccess) {
        session_duckdb_error(s, DUCKDB_ERROR_INVALID, duckdb_prepare_error(st->prep));
        return -1;
    }
    st->kind = STMT_DUCKDB;
    st->dtype = duckdb_prepared_statement_type(st->prep);
    st->dparams = st->nparams = (int)duckdb_nparams(st->prep);
    if (noids > st->nparams)
        st->nparams = noids;
    st->param_oids = calloc((size_t)st->nparams + 1, sizeof *st->param_oids);
    if (!st->param_oids) {
        session_error(s, "53200", "out of memory");
        return -1;
    }
    for (int i = 0; i < st->nparams; i++) {
        uint32_t oid = i < noids ? oids[i] : 0;
        if (oid == 0 && i < st->dparams)
            oid = pgtypes_param_oid(duckdb_param_type(st->prep, (idx_t)i + 1));
        st->param_oids[i] = oid; /* 0: DuckDB left it open; described as text */
    }
    stmt_describe_duckdb(st);
    return 0;
}

/* Removes surrounding quotes from a SET value; lists and words stay as written. */
static char *set_value_text(const char *p, const char *end)
{
    p = sqlshape_skip_space(p, end);
    while (end > p && (isspace((unsigned char)end[-1]) || end[-1] == ';'))
        end--;
    if (end - p >= 2 && *p == '\'' && end[-1] == '\'' && sqlshape_skip_item(p, p, end) == end) {
        char *v = malloc((size_t)(end - p));
        if (!v)
            return NULL;
        size_t o = 0;
        for (const char *q = p + 1; q < end - 1; q++) {
            v[o++] = *q;
            if (*q == '\'' && q[1] == '\'')
                q++;
        }
        v[o] = 0;
        return v;
    }
    return strndup(p, (size_t)(end - p));
}

/* Reads a setting name (word or dotted, maybe quoted) into buf. */
static const char *read_setting_name(const char *p, const char *end, char *buf, size_t n)
{
    p = sqlshape_skip_space(p, end);
    size_t i = 0;
    bool quoted = p < end && *p == '"';
    if (quoted)
        p++;
    while (p < end && (quoted ? *p != '"' : (sqlshape_ident_char(*p) || *p == '.'))) {
        if (i + 1 < n)
            buf[i++] = *p;
        p++;
    }
    if (quoted && p < end)
        p++;
    buf[i] = 0;
    return p;
}

/*
 * Recognises what the session answers itself: transaction control, SET,
 * RESET, SHOW, version(), COPY with STDIN/STDOUT. Returns true when st was
 * filled in (or an error queued: then *failed is set).
 */
static bool stmt_classify_session(struct session *s, struct stmt *st, bool *failed)
{
    const char *sql = st->sql, *end = sql + strlen(sql), *p;
    char w1[32], w2[32];
    p = sqlshape_read_word(sql, end, w1, sizeof w1);
    sqlshape_read_word(p, end, w2, sizeof w2);
    *failed = false;
    if (!strcmp(w1, "BEGIN") || (!strcmp(w1, "START") && !strcmp(w2, "TRANSACTION"))) {
        st->kind = STMT_BEGIN;
        return true;
    }
    if (!strcmp(w1, "COMMIT") || !strcmp(w1, "END")) {
        if (!strcmp(w2, "PREPARED")) {
            st->kind = STMT_UNSUPPORTED;
            return true;
        }
        st->kind = STMT_COMMIT;
        return true;
    }
    if (!strcmp(w1, "ROLLBACK") || !strcmp(w1, "ABORT")) {
        st->kind = strcmp(w2, "TO") == 0 || strcmp(w2, "PREPARED") == 0 ? STMT_UNSUPPORTED : STMT_ROLLBACK;
        return true;
    }
    if (!strcmp(w1, "SAVEPOINT") || !strcmp(w1, "RELEASE") || !strcmp(w1, "PREPARE") ||
        !strcmp(w1, "DEALLOCATE") || !strcmp(w1, "LISTEN") || !strcmp(w1, "NOTIFY") ||
        !strcmp(w1, "UNLISTEN") || !strcmp(w1, "DISCARD")) {
        if (!strcmp(w1, "DISCARD") || !strcmp(w1, "UNLISTEN")) {
            st->kind = STMT_NOOP;
            snprintf(st->tag, sizeof st->tag, "%s", !strcmp(w1, "DISCARD") ? "DISCARD ALL" : "UNLISTEN");
        } else {
            st->kind = STMT_UNSUPPORTED;
        }
        return true;
    }
    if (!strcmp(w1, "SET") || !strcmp(w1, "RESET") || !strcmp(w1, "SHOW")) {
        char name[128];
        const char *q = p;
        if (!strcmp(w1, "SET") && (!strcmp(w2, "SESSION") || !strcmp(w2, "LOCAL"))) {
            char w3[32];
            q = sqlshape_read_word(p, end, w2, sizeof w2);
            sqlshape_read_word(q, end, w3, sizeof w3);
            if (!strcmp(w3, "CHARACTERISTICS") || !strcmp(w3, "AUTHORIZATION")) {
                st->kind = STMT_NOOP;
                snprintf(st->tag, sizeof st->tag, "SET");
                return true;
            }
        }
        char up[32];
        const char *after = sqlshape_read_word(q, end, up, sizeof up);
        if (!strcmp(up, "TRANSACTION") && strcmp(w1, "SET") == 0) {
            st->kind = STMT_NOOP;
            snprintf(st->tag, sizeof st->tag, "SET");
            return true;
        }
        if (!strcmp(up, "TIME")) { /* SET TIME ZONE x / SHOW TIME ZONE */
            char zone[32];
            q = sqlshape_read_word(after, end, zone, sizeof zone);
            snprintf(name, sizeof name, "TimeZone");
        } else if (!strcmp(up, "TRANSACTION")) { /* SHOW TRANSACTION ISOLATION LEVEL */
            q = end;
            snprintf(name, sizeof name, "transaction_isolation");
        } else if (!strcmp(up, "ALL") && strcmp(w1, "SET") != 0) {
            st->kind = !strcmp(w1, "SHOW") ? STMT_SHOW_ALL : STMT_RESET;
            return true;
        } else {
            q = read_setting_name(q, end, name, sizeof name);
        }
        const struct pg_setting *d = pg_setting_find(name);
        if (!d)
            return false; /* a DuckDB setting, or DuckDB's SHOW TABLES and the like */
        st->set_name = strdup(d->name);
        if (!strcmp(w1, "SET")) {
            char to[8];
            const char *v = sqlshape_skip_space(q, end);
            if (v < end && *v == '=')
                v++;
            else if (sqlshape_read_word(v, end, to, sizeof to), !strcmp(to, "TO"))
                v = sqlshape_read_word(v, end, to, sizeof to);
            char dflt[16];
            sqlshape_read_word(v, end, dflt, sizeof dflt);
            st->set_value = strcmp(dflt, "DEFAULT") == 0 ? NULL : set_value_text(v, end);
            st->kind = st->set_value ? STMT_SET : STMT_RESET;
        } else {
            st->kind = !strcmp(w1, "SHOW") ? STMT_SHOW : STMT_RESET;
        }
        if (!st->set_name)
            *failed = true;
        return true;
    }
    if (!strcmp(w1, "SELECT")) {
        /* SELECT version() / pg_catalog.version(), answered as PostgreSQL would be */
        char norm[64];
        size_t o = 0;
        for (const char *q = sql; q < end && o + 1 < sizeof norm; q++)
            if (!isspace((unsigned char)*q) && *q != ';')
                norm[o++] = (char)tolower((unsigned char)*q);
        norm[o] = 0;
        if (!strcmp(norm, "selectversion()") || !strcmp(norm, "selectpg_catalog.version()")) {
            st->kind = STMT_VERSION;
            st->ncols = 1;
            return true;
        }
        return false;
    }
    if (!strcmp(w1, "COPY")) {
        char err[256];
        int rc = copy_parse(sql, &st->copy, err, sizeof err);
        if (rc < 0) {
            session_error(s, "42601", "%s", err);
            *failed = true;
            return true;
        }
        if (rc == 1) {
            st->kind = STMT_COPY;
            return true;
        }
    }
    return false;
}

static uint64_t catalog_gen_now(struct session *s);
static int stmt_from_cache(struct session *s, struct stmt *st, struct sql_shape *sh);
static void plancache_remember(struct session *s, struct stmt *st, struct sql_shape *sh, uint64_t gen);
static void plan_check(struct session *s, struct stmt *st);
static bool plancache_usable(struct session *s);

/*
 * Makes a statement from one statement's text (no trailing ';'): the
 * session's own forms, else pgcatalog_rewrite, else DuckDB's parser.
 * Returns NULL with an error queued on failure.
 */
static struct stmt *stmt_make(struct session *s, const char *name, const char *sql, size_t len,
                              const uint32_t *oids, int noids)
{
    struct stmt *st = calloc(1, sizeof *st);
    if (!st || !(st->name = strdup(name)) || !(st->sql = strndup(sql, len))) {
        if (st)
            free(st->name);
        free(st);
        session_error(s, "53200", "out of memory");
        return NULL;
    }
    st->refs = 1;
    const char *b = sqlshape_skip_space(st->sql, st->sql + len);
    if (b == st->sql + len) {
        st->kind = STMT_EMPTY;
        return st;
    }
    bool failed;
    if (stmt_classify_session(s, st, &failed)) {
        if (failed) {
            stmt_unref(st);
            return NULL;
        }
        if (st->kind == STMT_SHOW)
            st->ncols = 1;
        if (st->kind == STMT_SHOW_ALL)
            st->ncols = 3;
        return st;
    }
    /* DuckDB plans with the statistics of the moment it prepares (a filter
     * outside a column's known range becomes an empty result), so the
     * session's journaled rows must be applied before it prepares, not
     * only before it runs. Plain INSERTs, which may go to the batcher, do
     * not wait here. */
    char word[16];
    sqlshape_read_word(b, st->sql + len, word, sizeof word);
    if (strcmp(word, "INSERT") != 0 && session_wait_own_writes(s) != 0) {
        stmt_unref(st);
        return NULL;
    }
    char *rewritten = NULL;
    const char *tag = NULL;
    enum pgcatalog_action act = pgcatalog_rewrite(st->sql, len, &rewritten, &tag);
    struct sql_shape shape = {0};
    uint64_t gen = catalog_gen_now(s);
    if (act == PGCATALOG_PASS && noids == 0 && !*name && !strcmp(word, "INSERT") &&
        stmt_from_cache(s, st, &shape) == 1) {
        sqlshape_free(&shape);
        return st;
    }
    if (act == PGCATALOG_NOOP) {
        free(rewritten);
        st->kind = STMT_NOOP;
        snprintf(st->tag, sizeof st->tag, "%s", tag ? tag : "OK");
        return st;
    }
    if (act == PGCATALOG_REWRITE && rewritten) {
        free(st->sql);
        st->sql = rewritten;
    }
    if (stmt_prepare_duckdb(s, st, oids, noids) != 0) {
        sqlshape_free(&shape);
        stmt_unref(st);
        return NULL;
    }
    if (act == PGCATALOG_REWRITE && tag)
        snprintf(st->tag, sizeof st->tag, "%s", tag);
    if (shape.key && act == PGCATALOG_PASS && plancache_usable(s)) {
        plan_check(s, st); /* as the first Execute would */
        plancache_remember(s, st, &shape, gen);
    }
    sqlshape_free(&shape);
    return st;
}

/* ---------------------------------------------------------- batcher path */

/* Runs SELECT json_serialize_sql(text) and parses the answer; NULL if it fails. */
static json_t *serialize_sql(struct session *s, const char *text)
{
    if (!s->json_stmt &&
        duckdb_prepare(s->dcon, "SELECT json_serialize_sql($1::VARCHAR)", &s->json_stmt) != DuckDBSuccess) {
        duckdb_destroy_prepare(&s->json_stmt);
        s->json_stmt = NULL;
        return NULL;
    }
    duckdb_result res;
    json_t *root = NULL;
    if (duckdb_bind_varchar(s->json_stmt, 1, text) != DuckDBSuccess)
        return NULL;
    if (duckdb_execute_prepared(s->json_stmt, &res) == DuckDBSuccess) {
        char *out = duckdb_value_varchar(&res, 0, 0);
        /* DuckDB writes "no location" as 2^64-1, which jansson's int64 cannot hold */
        for (char *q = out; q && (q = strstr(q, "18446744073709551615")); q += 20)
            memcpy(q, "-1                  ", 20);
        if (out)
            root = json_loads(out, 0, NULL);
        duckdb_free(out);
    }
    duckdb_destroy_result(&res);
    json_t *err = root ? json_object_get(root, "error") : NULL;
    if (!err || !json_is_false(err)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* The single SELECT node of a serialised statement, if it is a bare "SELECT * FROM x". */
static json_t *plain_select_node(json_t *root)
{
    json_t *stmts = json_object_get(root, "statements");
    if (!json_is_array(stmts) || json_array_size(stmts) != 1)
        return NULL;
    json_t *node = json_object_get(json_array_get(stmts, 0), "node");
    const char *type = json_string_value(json_object_get(node, "type"));
    if (!type || strcmp(type, "SELECT_NODE") != 0)
        return NULL;
    json_t *list = json_object_get(node, "select_list");
    json_t *mods = json_object_get(node, "modifiers");
    json_t *groups = json_object_get(node, "group_expressions");
    if (json_array_size(list) != 1 || json_array_size(mods) != 0 || json_array_size(groups) != 0 ||
        !json_is_null(json_object_get(node, "where_clause")) ||
        !json_is_null(json_object_get(node, "having")) ||
        !json_is_null(json_object_get(node, "qualify")) ||
        !json_is_null(json_object_get(node, "sample")))
        return NULL;
    const char *cls = json_string_value(json_object_get(json_array_get(list, 0), "class"));
    if (!cls || strcmp(cls, "STAR") != 0)
        return NULL;
    return node;
}

static bool str_empty(json_t *v)
{
    const char *s = json_string_value(v);
    return !v || json_is_null(v) || (s && !*s);
}

/* The table and column list of an INSERT target, from "SELECT * FROM <target>". */
static int plan_target(json_t *node, struct insert_plan *plan)
{
    json_t *from = json_object_get(node, "from_table");
    const char *type = json_string_value(json_object_get(from, "type"));
    if (!type || !str_empty(json_object_get(from, "alias")))
        return -1;
    const char *schema, *table;
    json_t *cols = NULL;
    if (!strcmp(type, "BASE_TABLE")) {
        if (json_array_size(json_object_get(from, "column_name_alias")) != 0 ||
            !str_empty(json_object_get(from, "catalog_name")))
            return -1;
        schema = json_string_value(json_object_get(from, "schema_name"));
        table = json_string_value(json_object_get(from, "table_name"));
    } else if (!strcmp(type, "TABLE_FUNCTION")) {
        json_t *fn = json_object_get(from, "function");
        if (!str_empty(json_object_get(fn, "catalog")) ||
            json_array_size(json_object_get(from, "column_name_alias")) != 0)
            return -1;
        schema = json_string_value(json_object_get(fn, "schema"));
        table = json_string_value(json_object_get(fn, "function_name"));
        cols = json_object_get(fn, "children");
    } else {
        return -1;
    }
    if (!table || !*table || strchr(table, '.') || (schema && strchr(schema, '.')))
        return -1;
    size_t n = strlen(table) + (schema ? strlen(schema) : 0) + 2;
    if (!(plan->table = malloc(n)))
        return -1;
    snprintf(plan->table, n, "%s%s%s", schema && *schema ? schema : "", schema && *schema ? "." : "", table);
    size_t ncols = json_array_size(cols);
    if (ncols == 0)
        return 0;
    if (!(plan->columns = calloc(ncols, sizeof *plan->columns)))
        return -1;
    for (size_t i = 0; i < ncols; i++) {
        json_t *c = json_array_get(cols, i);
        const char *cls = json_string_value(json_object_get(c, "class"));
        json_t *names = json_object_get(c, "column_names");
        if (!cls || strcmp(cls, "COLUMN_REF") != 0 || json_array_size(names) != 1 ||
            !str_empty(json_object_get(c, "alias")))
            return -1;
        if (!(plan->columns[i] = strdup(json_string_value(json_array_get(names, 0)))))
            return -1;
        plan->ncolumns = (int)i + 1;
    }
    return 0;
}

/* A constant of the VALUES list as a batcher value; -1 if it is not a plain one. */
static int plan_constant(json_t *value, duckpond_value *out)
{
    const char *id = json_string_value(json_object_get(json_object_get(value, "type"), "id"));
    json_t *v = json_object_get(value, "value");
    if (!id)
        return -1;
    if (json_is_true(json_object_get(value, "is_null"))) {
        out->kind = DUCKPOND_VALUE_NULL;
        return 0;
    }
    if (!strcmp(id, "INTEGER") || !strcmp(id, "BIGINT") || !strcmp(id, "SMALLINT") || !strcmp(id, "TINYINT")) {
        if (!json_is_integer(v))
            return -1;
        out->kind = DUCKPOND_VALUE_INT64;
        out->u.i64 = json_integer_value(v);
        return 0;
    }
    if (!strcmp(id, "DOUBLE") || !strcmp(id, "FLOAT")) {
        if (!json_is_number(v))
            return -1;
        out->kind = DUCKPOND_VALUE_DOUBLE;
        out->u.f64 = json_number_value(v);
        return 0;
    }
    if (!strcmp(id, "BOOLEAN")) {
        if (!json_is_boolean(v))
            return -1;
        out->kind = DUCKPOND_VALUE_BOOL;
        out->u.boolean = json_is_true(v);
        return 0;
    }
    char *text = NULL;
    if (!strcmp(id, "DECIMAL") && json_is_integer(v)) {
        json_int_t raw = json_integer_value(v);
        int scale = (int)json_integer_value(json_object_get(json_object_get(json_object_get(value, "type"), "type_info"), "scale"));
        json_int_t pow = 1;
        for (int i = 0; i < scale && i < 18; i++)
            pow *= 10;
        json_int_t whole = raw / pow, frac = raw % pow;
        if (frac < 0)
            frac = -frac;
        text = malloc(48);
        if (text)
            snprintf(text, 48, "%s%" JSON_INTEGER_FORMAT ".%0*" JSON_INTEGER_FORMAT,
                     raw < 0 && whole == 0 ? "-" : "", whole, scale, frac);
    } else if (!strcmp(id, "VARCHAR") && json_is_string(v)) {
        text = strdup(json_string_value(v));
    } else {
        return -1;
    }
    if (!text)
        return -1;
    out->kind = DUCKPOND_VALUE_TEXT;
    out->u.text.ptr = text;
    out->u.text.len = strlen(text);
    return 0;
}

/* One expression of the VALUES list. */
static int plan_expr(json_t *e, struct plan_value *out)
{
    const char *cls = json_string_value(json_object_get(e, "class"));
    memset(out, 0, sizeof *out);
    if (!cls)
        return -1;
    if (!strcmp(cls, "CONSTANT"))
        return plan_constant(json_object_get(e, "value"), &out->value);
    if (!strcmp(cls, "PARAMETER")) {
        const char *ident = json_string_value(json_object_get(e, "identifier"));
        int n = ident ? atoi(ident) : 0;
        if (n <= 0)
            return -1;
        out->param = n;
        return 0;
    }
    if (!strcmp(cls, "DEFAULT")) {
        out->value.kind = DUCKPOND_VALUE_DEFAULT;
        return 0;
    }
    if (!strcmp(cls, "CAST")) { /* true / false arrive as CAST('t' AS BOOLEAN) */
        const char *to = json_string_value(json_object_get(json_object_get(e, "cast_type"), "id"));
        json_t *child = json_object_get(e, "child");
        const char *ccls = json_string_value(json_object_get(child, "class"));
        const char *v = json_string_value(json_object_get(json_object_get(child, "value"), "value"));
        if (to && !strcmp(to, "BOOLEAN") && ccls && !strcmp(ccls, "CONSTANT") && v &&
            (!strcmp(v, "t") || !strcmp(v, "f"))) {
            out->value.kind = DUCKPOND_VALUE_BOOL;
            out->value.u.boolean = v[0] == 't';
            return 0;
        }
    }
    return -1;
}

/* The rows of "VALUES (...), (...)". */
static int plan_values(json_t *node, struct insert_plan *plan)
{
    json_t *from = json_object_get(node, "from_table");
    const char *type = json_string_value(json_object_get(from, "type"));
    json_t *rows = json_object_get(from, "values");
    if (!type || strcmp(type, "EXPRESSION_LIST") != 0 || json_array_size(rows) == 0)
        return -1;
    plan->nrows = (int)json_array_size(rows);
    plan->width = (int)json_array_size(json_array_get(rows, 0));
    if (plan->width == 0 || (plan->ncolumns && plan->width != plan->ncolumns))
        return -1;
    plan->values = calloc((size_t)plan->nrows * (size_t)plan->width, sizeof *plan->values);
    if (!plan->values)
        return -1;
    for (int r = 0; r < plan->nrows; r++) {
        json_t *row = json_array_get(rows, (size_t)r);
        if ((int)json_array_size(row) != plan->width)
            return -1;
        for (int c = 0; c < plan->width; c++)
            if (plan_expr(json_array_get(row, (size_t)c), &plan->values[r * plan->width + c]) != 0)
                return -1;
    }
    return 0;
}

/* Decides, once per statement, whether it is a plain INSERT ... VALUES. */
static void plan_check(struct session *s, struct stmt *st)
{
    st->plan_checked = true;
    if (st->kind != STMT_DUCKDB || st->dtype != DUCKDB_STATEMENT_TYPE_INSERT || !st->count_result)
        return;
    for (idx_t i = 1; i <= duckdb_nparams(st->prep); i++)
        if (duckdb_param_type(st->prep, i) == DUCKDB_TYPE_BLOB)
            return; /* bytea text is not DuckDB's blob text: left to the bound path */
    const char *target, *values = sqlshape_insert_values_at(st->sql, strlen(st->sql), &target);
    if (!values)
        return;
    size_t tlen = (size_t)(values - target);
    char *select = malloc(tlen + 32);
    if (!select)
        return;
    snprintf(select, tlen + 32, "SELECT * FROM %.*s", (int)tlen, target);
    struct insert_plan *plan = calloc(1, sizeof *plan);
    if (plan)
        plan->refs = 1;
    json_t *t = serialize_sql(s, select), *v = plan ? serialize_sql(s, values) : NULL;
    json_t *tn = t ? plain_select_node(t) : NULL, *vn = v ? plain_select_node(v) : NULL;
    if (plan && tn && vn && plan_target(tn, plan) == 0 && plan_values(vn, plan) == 0) {
        bool params_ok = true;
        for (int i = 0; i < plan->nrows * plan->width; i++)
            if (plan->values[i].param > st->nparams)
                params_ok = false;
        if (params_ok) {
            st->plan = plan;
            plan = NULL;
        }
    }
    plan_unref(plan);
    json_decref(t);
    json_decref(v);
    free(select);
}

/* Whether a failed write is one DuckDB's own analysis of the statement
 * would have refused first, and nothing of it was written. */
static bool plan_failure_retryable(int rc, duckpond_write *w, bool submitted)
{
    if (rc != DUCKPOND_CONVERSION && rc != DUCKPOND_NOTFOUND && rc != DUCKPOND_SYNTAX &&
        rc != DUCKPOND_MISUSE && rc != DUCKPOND_CONSTRAINT)
        return false;
    size_t committed = 0, failed = 0;
    if (submitted)
        duckpond_write_counts(w, &committed, &failed);
    return committed == 0;
}

/* Writes "INSERT 0 n" without going through printf. */
static void insert_tag(char *tag, size_t taglen, size_t n)
{
    char digits[24];
    int i = (int)sizeof digits;
    do
        digits[--i] = (char)('0' + n % 10);
    while ((n /= 10) > 0 && i > 0);
    size_t nd = sizeof digits - (size_t)i;
    if (taglen < 9 + nd + 1) {
        snprintf(tag, taglen, "INSERT 0 %.*s", (int)nd, digits + i);
        return;
    }
    memcpy(tag, "INSERT 0 ", 9);
    memcpy(tag + 9, digits + i, nd);
    tag[9 + nd] = 0;
}

/*
 * Runs a plain INSERT through the batcher, acknowledged after its commit.
 * Returns 0 with the tag written, -1 with an error queued, or 1 (nothing
 * done) when a binary parameter has no batcher form and DuckDB must run it.
 * can_retry (a statement made from a cached shape, not analysed by DuckDB):
 * returns 2, queuing nothing, when the write failed in a way DuckDB's
 * analysis of the text might have reported first (a value that does not
 * convert, an unknown table) and nothing was written.
 */
static int plan_run(struct session *s, struct stmt *st, struct portal *p, char *tag, size_t taglen,
                    bool can_retry)
{
    struct insert_plan *plan = st->plan;
    duckpond_write *w = NULL;
    int rc = duckpond_write_new(s->srv->batcher, plan->table, (const char *const *)plan->columns,
                                plan->ncolumns, plan->nrows > 1 ? DUCKPOND_WRITE_ATOMIC : 0, &w);
    if (rc != DUCKPOND_OK) {
        session_error(s, duckpond_sqlstate(rc, NULL), "could not queue the insert: %s", duckpond_strerror(rc));
        return -1;
    }
    duckpond_value row[64], *vals = plan->width <= 64 ? row : malloc(sizeof *vals * (size_t)plan->width);
    char scratch[64][40];
    char err[256] = "";
    for (int r = 0; r < plan->nrows && rc == DUCKPOND_OK && vals; r++) {
        for (int c = 0; c < plan->width && rc == DUCKPOND_OK; c++) {
            const struct plan_value *pv = &plan->values[r * plan->width + c];
            if (pv->param == 0) {
                vals[c] = pv->lit ? st->lits[pv->lit - 1] : pv->value;
                continue;
            }
            int i = pv->param - 1;
            if (i >= p->nparams) {
                rc = DUCKPOND_MISUSE;
                snprintf(err, sizeof err, "no value for parameter $%d", pv->param);
            } else if (pgtypes_value(st->param_oids[i], p->pfmts[i], p->pvals[i], p->plens[i], &vals[c],
                                     scratch[c % 64], sizeof scratch[0], err, sizeof err) != 0) {
                rc = DUCKPOND_CONVERSION;
            }
        }
        if (rc == DUCKPOND_OK)
            rc = duckpond_write_add_row(w, vals);
    }
    if (!vals)
        rc = DUCKPOND_NOMEM;
    if (vals != row)
        free(vals);
    if (rc == DUCKPOND_CONVERSION) { /* a binary value the batcher cannot take: DuckDB runs it */
        duckpond_write_free(w);
        return 1;
    }
    bool submitted = false;
    if (rc == DUCKPOND_OK) {
        session_set_running(s, true);
        rc = duckpond_write_submit(w, session_ack(s));
        session_set_running(s, false);
        submitted = true;
    }
    size_t committed = 0, failed = 0;
    if (rc == DUCKPOND_OK) {
        duckpond_write_counts(w, &committed, &failed);
        session_note_seq(s, duckpond_write_seq(w));
        insert_tag(tag, taglen, committed);
    } else if (can_retry && !*err && plan_failure_retryable(rc, w, submitted)) {
        duckpond_write_free(w);
        return 2;
    } else {
        const char *msg = *err ? err : duckpond_write_errmsg(w);
        if (!msg || !*msg)
            msg = duckpond_strerror(rc);
        session_error(s, duckpond_sqlstate(rc, msg), "%s", msg);
    }
    duckpond_write_free(w);
    return rc == DUCKPOND_OK ? 0 : -1;
}

/* ------------------------------------------------- cached INSERT shapes */

/*
 * Unprepared statements (the simple protocol, the unnamed statement) are
 * new text each time, so each would be parsed, prepared and serialised
 * again. A plain INSERT ... VALUES whose values are bare literals has its
 * literals lifted out: what remains (its shape) keys a per-session cache
 * of analysed plans, and a statement of a known shape goes to the batcher
 * with its own literals, converted as DuckDB reads them. sqlshape_scan
 * (sqlshape.c) lifts only literals standing alone as a whole value (plain
 * integers, decimals and standard strings); anything else stays in the
 * shape as written, so it is part of the key and of the cached plan.
 *
 * A shape is trusted only as far as DuckDB's analysis of its first
 * statement: that statement is prepared and serialised as before, and the
 * shape is cached only if each lifted literal converts to exactly the
 * value DuckDB's parse gave its place. A write of a cached shape that
 * fails in a way DuckDB would have reported first (a value that does not
 * convert, an unknown table) had no effect, and the statement is then
 * analysed by DuckDB as written, so errors are DuckDB's own. Entries are
 * dropped when the catalog changes (the batcher's schema generation,
 * bumped by every DDL statement of a PostgreSQL session or HTTP query).
 */

#define PLANCACHE_SIZE 64

struct plancache_entry {
    uint64_t hash, used, gen;
    char *key;
    size_t keylen;
    int nlits;
    struct insert_plan *plan; /* a reference; literal slots carry lit */
};

struct plancache {
    struct plancache_entry e[PLANCACHE_SIZE];
    uint64_t tick;
};

static uint64_t catalog_gen_now(struct session *s)
{
    return duckpond_batcher_schema_gen(s->srv->batcher);
}

static void plancache_free(struct plancache *c)
{
    if (!c)
        return;
    for (int i = 0; i < PLANCACHE_SIZE; i++) {
        free(c->e[i].key);
        plan_unref(c->e[i].plan);
    }
    free(c);
}

/* Whether a statement may be made from, or added to, the cache now. */
static bool plancache_usable(struct session *s)
{
    return s->tx == 'I' && s->srv->batcher && s->srv->opt.batch && batch_enabled(s);
}

/* The entry of a shape, or NULL (an entry from before a catalog change is dropped). */
static struct plancache_entry *plancache_find(struct session *s, const struct sql_shape *sh)
{
    struct plancache *c = s->plans;
    if (!c)
        return NULL;
    uint64_t gen = catalog_gen_now(s);
    for (int i = 0; i < PLANCACHE_SIZE; i++) {
        struct plancache_entry *e = &c->e[i];
        if (!e->plan || e->hash != sh->hash || e->keylen != sh->keylen || memcmp(e->key, sh->key, sh->keylen) != 0)
            continue;
        if (e->gen != gen || e->nlits != sh->nlits || e->plan->nrows != sh->nrows || e->plan->width != sh->width) {
            free(e->key);
            plan_unref(e->plan);
            memset(e, 0, sizeof *e);
            return NULL;
        }
        e->used = ++c->tick;
        return e;
    }
    return NULL;
}

/*
 * Makes st (text already in st->sql) from a cached shape: 1 if it was,
 * 0 if not (sh then holds the scanned shape, or is empty when the text
 * has none). Nothing is queued.
 */
static int stmt_from_cache(struct session *s, struct stmt *st, struct sql_shape *sh)
{
    if (!plancache_usable(s) || sqlshape_scan(st->sql, strlen(st->sql), sh) != 0)
        return 0;
    struct plancache_entry *e = plancache_find(s, sh);
    if (!e)
        return 0;
    duckpond_value *lits = malloc(sizeof *lits * (size_t)(sh->nlits + 1));
    uint32_t *oids = calloc(1, sizeof *oids);
    if (!lits || !oids) {
        free(lits);
        free(oids);
        return 0;
    }
    for (int i = 0; i < sh->nlits; i++)
        lits[i] = sh->lits[i].value;
    st->kind = STMT_DUCKDB;
    st->dtype = DUCKDB_STATEMENT_TYPE_INSERT;
    st->count_result = true;
    snprintf(st->tag, sizeof st->tag, "INSERT");
    st->param_oids = oids;
    st->plan = e->plan;
    st->plan->refs++;
    st->plan_checked = true;
    st->lits = lits;
    st->litbuf = sh->buf; /* the literals' text lives there */
    sh->buf = NULL;
    return 1;
}

/*
 * After DuckDB prepared st and its plan was found: turns the plan into a
 * shape's (each lifted literal's slot refers to the literal) and caches
 * it, when every lifted literal reads as the value DuckDB gave its slot.
 * st keeps working from the same plan with its own literals.
 */
static void plancache_remember(struct session *s, struct stmt *st, struct sql_shape *sh, uint64_t gen)
{
    struct insert_plan *plan = st->plan;
    if (!sh->key || !plan || st->dparams != 0 || plan->nrows != sh->nrows || plan->width != sh->width)
        return;
    for (int i = 0; i < sh->nlits; i++) {
        const struct plan_value *pv = &plan->values[sh->lits[i].row * plan->width + sh->lits[i].col];
        const duckpond_value *a = &pv->value, *b = &sh->lits[i].value;
        if (pv->param || pv->lit || a->kind != b->kind)
            return;
        if (a->kind == DUCKPOND_VALUE_INT64 ? a->u.i64 != b->u.i64
                                             : a->u.text.len != b->u.text.len ||
                                                   memcmp(a->u.text.ptr, b->u.text.ptr, a->u.text.len) != 0)
            return;
    }
    if (!s->plans && !(s->plans = calloc(1, sizeof *s->plans)))
        return;
    duckpond_value *lits = malloc(sizeof *lits * (size_t)(sh->nlits + 1));
    if (!lits)
        return;
    struct plancache *c = s->plans;
    struct plancache_entry *e = &c->e[0];
    for (int i = 1; i < PLANCACHE_SIZE && e->plan; i++)
        if (!c->e[i].plan || c->e[i].used < e->used)
            e = &c->e[i];
    free(e->key);
    plan_unref(e->plan);
    memset(e, 0, sizeof *e);
    for (int i = 0; i < sh->nlits; i++) {
        struct plan_value *pv = &plan->values[sh->lits[i].row * plan->width + sh->lits[i].col];
        if (pv->value.kind == DUCKPOND_VALUE_TEXT)
            free((char *)pv->value.u.text.ptr);
        memset(&pv->value, 0, sizeof pv->value);
        pv->lit = i + 1;
        lits[i] = sh->lits[i].value;
    }
    st->lits = lits;
    st->litbuf = sh->buf;
    sh->buf = NULL;
    e->hash = sh->hash;
    e->key = sh->key;
    e->keylen = sh->keylen;
    sh->key = NULL;
    e->nlits = sh->nlits;
    e->gen = gen;
    e->used = ++c->tick;
    e->plan = plan;
    plan->refs++;
}

/* Prepares, with DuckDB, a statement made from a cached shape, as stmt_make
 * would have: 0, or -1 with DuckDB's error queued. */
static int stmt_prepare_late(struct session *s, struct stmt *st)
{
    free(st->param_oids);
    st->param_oids = NULL;
    if (stmt_prepare_duckdb(s, st, NULL, 0) != 0) {
        if (st->prep)
            duckdb_destroy_prepare(&st->prep);
        st->prep = NULL;
        if (!st->param_oids)
            st->param_oids = calloc(1, sizeof *st->param_oids);
        return -1;
    }
    if (st->kind != STMT_DUCKDB || st->dtype != DUCKDB_STATEMENT_TYPE_INSERT || st->dparams != 0) {
        session_error(s, "XX000", "the statement could not be analysed again");
        return -1;
    }
    return 0;
}

/* Notes a statement that may change the catalog: cached shapes of every
 * session, and the batcher's column types for journaled writes, are
 * dropped now and, inside a transaction, again at its end. */
static void catalog_changed(struct session *s)
{
    duckpond_batcher_schema_changed(s->srv->batcher);
    if (s->tx != 'I')
        s->tx_ddl = true;
}

/* At a transaction's end: its catalog changes now show, or are gone. */
static void tx_catalog_settled(struct session *s)
{
    if (s->tx_ddl) {
        s->tx_ddl = false;
        duckpond_batcher_schema_changed(s->srv->batcher);
    }
}

/* --------------------------------------------------------- result rows */

/* The result format of column i of a portal (0 text, 1 binary). */
static int16_t portal_format(const struct portal *p, int i)
{
    if (!p || p->nrfmts == 0)
        return 0;
    return p->nrfmts == 1 ? p->rfmts[0] : i < p->nrfmts ? p->rfmts[i] : 0;
}

/* RowDescription for columns of a prepared statement or a result. */
static void send_row_description(struct session *s, struct stmt *st, duckdb_result *res,
                                 const struct portal *p)
{
    int ncols = res ? (int)duckdb_column_count(res) : st->ncols;
    pgbuf_begin(&s->out, 'T');
    pgbuf_int16(&s->out, (int16_t)ncols);
    for (int i = 0; i < ncols; i++) {
        const char *name;
        char *owned = NULL;
        duckdb_logical_type type;
        if (st->kind == STMT_SHOW || st->kind == STMT_SHOW_ALL || st->kind == STMT_VERSION) {
            static const char *all[] = {"name", "setting", "description"};
            name = st->kind == STMT_SHOW ? st->set_name : st->kind == STMT_VERSION ? "version" : all[i];
            type = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
        } else if (res) {
            name = duckdb_column_name(res, (idx_t)i);
            type = duckdb_column_logical_type(res, (idx_t)i);
        } else {
            name = owned = (char *)duckdb_prepared_statement_column_name(st->prep, (idx_t)i);
            type = duckdb_prepared_statement_column_logical_type(st->prep, (idx_t)i);
        }
        int16_t typlen;
        uint32_t oid = pgtypes_oid(type, &typlen);
        duckdb_destroy_logical_type(&type);
        pgbuf_cstr(&s->out, name ? name : "?column?");
        duckdb_free(owned);
        pgbuf_int32(&s->out, 0);
        pgbuf_int16(&s->out, 0);
        pgbuf_int32(&s->out, (int32_t)oid);
        pgbuf_int16(&s->out, typlen);
        pgbuf_int32(&s->out, -1);
        pgbuf_int16(&s->out, portal_format(p, i));
    }
    pgbuf_end(&s->out);
}

/* One DataRow from row of chunk; -1 (message dropped, error queued) on a type it cannot send. */
static int send_data_row(struct session *s, duckdb_result *res, duckdb_data_chunk chunk, idx_t row,
                         int ncols, const struct portal *p)
{
    pgbuf_begin(&s->out, 'D');
    pgbuf_int16(&s->out, (int16_t)ncols);
    for (int c = 0; c < ncols; c++) {
        duckdb_vector v = duckdb_data_chunk_get_vector(chunk, (idx_t)c);
        if (!pgtypes_valid(v, row)) {
            pgbuf_int32(&s->out, -1);
            continue;
        }
        duckdb_logical_type type = duckdb_column_logical_type(res, (idx_t)c);
        size_t at = pgbuf_len_placeholder(&s->out);
        bool binary = portal_format(p, c) == 1;
        int rc = binary ? pgtypes_binary(&s->out, v, type, row) : pgtypes_text(&s->out, v, type, row);
        duckdb_destroy_logical_type(&type);
        if (rc != 0) {
            pgbuf_abort(&s->out);
            session_error(s, "0A000", "values of the type of column \"%s\" cannot be sent in %s format",
                          duckdb_column_name(res, (idx_t)c), binary ? "binary" : "text");
            return -1;
        }
        pgbuf_patch_len(&s->out, at);
    }
    pgbuf_end(&s->out);
    return 0;
}

/* Checks out-of-band result errors (streaming results fail while fetching). */
static int result_failed(struct session *s, duckdb_result *res)
{
    const char *e = duckdb_result_error(res);
    if (!e)
        return 0;
    session_duckdb_error(s, duckdb_result_error_type(res), e);
    return -1;
}

/*
 * Sends the rows of a portal's result, at most max_rows (0: all). Returns
 * 1 when rows remain (suspended), 0 when done, -1 on error (queued).
 */
static int portal_send_rows(struct session *s, struct portal *p, int64_t max_rows)
{
    int64_t sent = 0;
    int ncols = (int)duckdb_column_count(&p->res);
    for (;;) {
        if (p->chunk && p->chunk_pos >= p->chunk_size)
            duckdb_destroy_data_chunk(&p->chunk);
        if (!p->chunk) {
            session_set_running(s, true);
            p->chunk = duckdb_fetch_chunk(p->res);
            session_set_running(s, false);
            if (!p->chunk)
                return result_failed(s, &p->res);
            p->chunk_pos = 0;
            p->chunk_size = duckdb_data_chunk_get_size(p->chunk);
            continue;
        }
        if (max_rows > 0 && sent >= max_rows)
            return 1;
        if (send_data_row(s, &p->res, p->chunk, p->chunk_pos, ncols, p) != 0)
            return -1;
        p->chunk_pos++;
        p->rows++;
        sent++;
        if (maybe_flush(s) != 0)
            return -1;
    }
}

/* The count a DML statement reports, read from its one-row "Count" result. */
static uint64_t result_count(duckdb_result *res)
{
    duckdb_data_chunk chunk = duckdb_fetch_chunk(*res);
    uint64_t n = 0;
    if (chunk && duckdb_data_chunk_get_size(chunk) > 0) {
        duckdb_vector v = duckdb_data_chunk_get_vector(chunk, 0);
        n = (uint64_t)((int64_t *)duckdb_vector_get_data(v))[0];
    }
    if (chunk)
        duckdb_destroy_data_chunk(&chunk);
    return n;
}

static void final_tag(struct stmt *st, uint64_t n, char *tag, size_t len)
{
    switch (st->dtype) {
    case DUCKDB_STATEMENT_TYPE_INSERT: snprintf(tag, len, "INSERT 0 %" PRIu64, n); break;
    case DUCKDB_STATEMENT_TYPE_SELECT:
    case DUCKDB_STATEMENT_TYPE_UPDATE:
    case DUCKDB_STATEMENT_TYPE_DELETE:
    case DUCKDB_STATEMENT_TYPE_COPY: snprintf(tag, len, "%s %" PRIu64, st->tag, n); break;
    default: snprintf(tag, len, "%s", st->tag); break;
    }
}

/* Statements a read-only user may run, by DuckDB's own statement type. */
static bool read_only_allows(duckdb_statement_type t)
{
    return t == DUCKDB_STATEMENT_TYPE_SELECT || t == DUCKDB_STATEMENT_TYPE_EXPLAIN ||
           t == DUCKDB_STATEMENT_TYPE_TRANSACTION;
}

/* Binds a portal's parameters into its statement. */
static int portal_bind(struct session *s, struct portal *p)
{
    struct stmt *st = p->st;
    duckdb_clear_bindings(st->prep);
    idx_t want = (idx_t)st->dparams;
    if ((idx_t)p->nparams < want) {
        session_error(s, "08P01", "bind message supplies %d parameters, but prepared statement \"%s\" requires %d",
                      p->nparams, st->name, (int)want);
        return -1;
    }
    for (idx_t i = 0; i < want; i++) {
        char err[256];
        if (pgtypes_bind(st->prep, i + 1, st->param_oids[i], p->pfmts[i], p->pvals[i], p->plens[i], err,
                         sizeof err) != 0) {
            session_error(s, "22P02", "%s", err);
            return -1;
        }
    }
    return 0;
}

/* Runs a DuckDB statement of a portal for the first time. */
static int portal_start_duckdb(struct session *s, struct portal *p, bool describe, char *tag, size_t taglen,
                               bool *has_rows)
{
    struct stmt *st = p->st;
    *has_rows = false;
    if (s->read_only && !read_only_allows(st->dtype)) {
        session_error(s, "25006", "cannot execute %s in a read-only transaction", st->tag);
        return -1;
    }
    bool batch = s->tx == 'I' && s->srv->batcher && s->srv->opt.batch && s->batch_on;
    if (!st->plan_checked && batch)
        plan_check(s, st);
    if (st->plan && batch) {
        int rc = plan_run(s, st, p, tag, taglen, !st->prep);
        if (rc == 2) /* a cached shape failed: DuckDB analyses the text, as it would have first */
            rc = stmt_prepare_late(s, st) != 0 ? -1 : plan_run(s, st, p, tag, taglen, false);
        if (rc <= 0) {
            metrics_statement("INSERT");
            return rc;
        }
    }
    if (!st->prep && stmt_prepare_late(s, st) != 0)
        return -1;
    if (session_wait_own_writes(s) != 0 || portal_bind(s, p) != 0)
        return -1;
    session_set_running(s, true);
    duckdb_state rc = duckdb_execute_prepared_streaming(st->prep, &p->res);
    session_set_running(s, false);
    p->has_res = true;
    if (!duckpond_statement_keeps_catalog(st->dtype))
        catalog_changed(s);
    if (rc != DuckDBSuccess)
        return result_failed(s, &p->res) ? -1 : -1;
    metrics_statement(st->tag);
    if (st->ncols == 0 || (st->cols_unknown && duckdb_column_count(&p->res) == 0)) {
        uint64_t n = st->count_result ? result_count(&p->res) : 0;
        if (result_failed(s, &p->res))
            return -1;
        final_tag(st, n, tag, taglen);
        portal_close_result(p);
        return 0;
    }
    if (describe)
        send_row_description(s, st, &p->res, p);
    *has_rows = true;
    return 0;
}

/* ---------------------------------------------------------- transactions */

/* Runs a statement on the DuckDB connection; queues the error if it fails. */
static int run_plain(struct session *s, const char *sql, bool report)
{
    duckdb_result res;
    session_set_running(s, true);
    duckdb_state rc = duckdb_query(s->dcon, sql, &res);
    session_set_running(s, false);
    int out = 0;
    if (rc != DuckDBSuccess) {
        if (report)
            session_duckdb_error(s, duckdb_result_error_type(&res), duckdb_result_error(&res));
        out = -1;
    }
    duckdb_destroy_result(&res);
    return out;
}

static int tx_begin(struct session *s, char *tag, size_t len)
{
    snprintf(tag, len, "BEGIN");
    if (s->tx == 'T') {
        pgwire_notice(&s->out, "25001", "there is already a transaction in progress");
        return 0;
    }
    if (session_wait_own_writes(s) != 0 || run_plain(s, "BEGIN TRANSACTION", true) != 0)
        return -1;
    s->tx = 'T';
    return 0;
}

static int tx_end(struct session *s, bool commit, char *tag, size_t len)
{
    snprintf(tag, len, "%s", commit ? "COMMIT" : "ROLLBACK");
    if (s->tx == 'I') {
        pgwire_notice(&s->out, "25P01", "there is no transaction in progress");
        return 0;
    }
    if (s->tx == 'E' || !commit) {
        run_plain(s, "ROLLBACK", false); /* DuckDB may have ended it already */
        s->tx = 'I';
        tx_catalog_settled(s);
        snprintf(tag, len, "ROLLBACK");
        return 0;
    }
    s->tx = 'I'; /* a failed COMMIT ends the transaction too */
    int rc = run_plain(s, "COMMIT", true);
    tx_catalog_settled(s);
    return rc;
}

/* ------------------------------------------------------------ execution */

static void send_text_row(struct session *s, int n, const char *const *vals)
{
    pgbuf_begin(&s->out, 'D');
    pgbuf_int16(&s->out, (int16_t)n);
    for (int i = 0; i < n; i++) {
        pgbuf_int32(&s->out, (int32_t)strlen(vals[i]));
        pgbuf_str(&s->out, vals[i]);
    }
    pgbuf_end(&s->out);
}

static int run_show_all(struct session *s, struct stmt *st, bool describe)
{
    if (describe)
        send_row_description(s, st, NULL, NULL);
    int n = 0;
    for (size_t i = 0; i < sizeof pg_settings / sizeof pg_settings[0]; i++) {
        if (!pg_settings[i].def)
            continue;
        const char *row[3] = {pg_settings[i].name, setting_get(s, pg_settings[i].name), ""};
        send_text_row(s, 3, row);
        n++;
    }
    char tag[32];
    snprintf(tag, sizeof tag, "SHOW");
    pgwire_command_complete(&s->out, tag);
    return 0;
}

/* Runs each statement of a rewritten multi-statement text; no rows are sent. */
static int run_multi(struct session *s, struct stmt *st, char *tag, size_t len)
{
    if (session_wait_own_writes(s) != 0)
        return -1;
    catalog_changed(s);
    duckdb_extracted_statements ex = NULL;
    idx_t n = duckdb_extract_statements(s->dcon, st->sql, &ex);
    int rc = 0;
    if (n == 0) {
        session_duckdb_error(s, DUCKDB_ERROR_PARSER, duckdb_extract_statements_error(ex));
        rc = -1;
    }
    for (idx_t i = 0; i < n && rc == 0; i++) {
        duckdb_prepared_statement prep = NULL;
        if (duckdb_prepare_extracted_statement(s->dcon, ex, i, &prep) != DuckDBSuccess) {
            session_duckdb_error(s, DUCKDB_ERROR_INVALID, duckdb_prepare_error(prep));
            rc = -1;
        } else if (s->read_only && !read_only_allows(duckdb_prepared_statement_type(prep))) {
            session_error(s, "25006", "cannot execute this statement in a read-only transaction");
            rc = -1;
        } else {
            duckdb_result res;
            session_set_running(s, true);
            if (duckdb_execute_prepared(prep, &res) != DuckDBSuccess)
                rc = result_failed(s, &res) ? -1 : -1;
            session_set_running(s, false);
            duckdb_destroy_result(&res);
        }
        duckdb_destroy_prepare(&prep);
    }
    duckdb_destroy_extracted(&ex);
    if (rc == 0) {
        if (!st->tag[0])
            ddl_tag(st->sql, st->tag, sizeof st->tag);
        snprintf(tag, len, "%s", st->tag);
    }
    return rc;
}

/*
 * Executes a portal: rows (at most max_rows when > 0, then
 * PortalSuspended), then CommandComplete. describe: send RowDescription
 * first (the simple protocol). Returns 0, or -1 with an error queued.
 */
static int portal_execute(struct session *s, struct portal *p, int64_t max_rows, bool describe)
{
    struct stmt *st = p->st;
    char tag[96] = "";
    int rc = 0;
    if (p->early_done) {
        p->early_done = false;
        p->done = true;
        pgwire_command_complete(&s->out, p->tag);
        return 0;
    }
    if (p->done) { /* PostgreSQL answers an exhausted portal with an empty completion */
        final_tag(st, 0, tag, sizeof tag);
        pgwire_command_complete(&s->out, tag);
        return 0;
    }
    if (s->tx == 'E' && st->kind != STMT_COMMIT && st->kind != STMT_ROLLBACK && st->kind != STMT_EMPTY) {
        session_error(s, "25P02", "current transaction is aborted, commands ignored until end of transaction block");
        return -1;
    }
    if (!p->started) {
        p->started = true;
        bool rows = false;
        switch (st->kind) {
        case STMT_EMPTY: pgwire_empty(&s->out, 'I'); p->done = true; return 0;
        case STMT_BEGIN: rc = tx_begin(s, tag, sizeof tag); break;
        case STMT_COMMIT: rc = tx_end(s, true, tag, sizeof tag); break;
        case STMT_ROLLBACK: rc = tx_end(s, false, tag, sizeof tag); break;
        case STMT_SET:
        case STMT_RESET: {
            if (st->set_name) {
                rc = setting_put(s, pg_setting_find(st->set_name), st->kind == STMT_SET ? st->set_value : NULL);
            } else { /* RESET ALL */
                settings_free(s);
                settings_refresh(s);
            }
            snprintf(tag, sizeof tag, "%s", st->kind == STMT_SET ? "SET" : "RESET");
            break;
        }
        case STMT_SHOW: {
            if (describe)
                send_row_description(s, st, NULL, NULL);
            const char *v = setting_get(s, st->set_name);
            send_text_row(s, 1, &v);
            snprintf(tag, sizeof tag, "SHOW");
            break;
        }
        case STMT_SHOW_ALL: p->done = true; return run_show_all(s, st, describe);
        case STMT_VERSION: {
            if (describe)
                send_row_description(s, st, NULL, NULL);
            char v[160];
            snprintf(v, sizeof v, "PostgreSQL " SERVER_VERSION " (duckpond, DuckDB %s) on x86_64-pc-linux-gnu",
                     duckdb_library_version());
            const char *vp = v;
            send_text_row(s, 1, &vp);
            snprintf(tag, sizeof tag, "SELECT 1");
            break;
        }
        case STMT_NOOP: snprintf(tag, sizeof tag, "%s", st->tag); break;
        case STMT_UNSUPPORTED:
            session_error(s, "0A000", "this statement is not supported by duckpond: %.60s", st->sql);
            return -1;
        case STMT_COPY:
            p->done = true;
            if (s->read_only && copy_is_from(st->copy)) {
                session_error(s, "25006", "cannot execute COPY FROM in a read-only transaction");
                return -1;
            }
            return copy_run(s, st->copy);
        case STMT_MULTI: rc = run_multi(s, st, tag, sizeof tag); break;
        case STMT_DUCKDB: rc = portal_start_duckdb(s, p, describe, tag, sizeof tag, &rows); break;
        }
        if (rc != 0 || !rows) {
            p->done = true;
            if (rc == 0)
                pgwire_command_complete(&s->out, tag);
            return rc;
        }
    }
    rc = portal_send_rows(s, p, max_rows);
    if (rc < 0) {
        p->done = true;
        portal_close_result(p);
        return -1;
    }
    if (rc == 1) {
        pgwire_empty(&s->out, 's');
        return 0;
    }
    p->done = true;
    final_tag(st, p->rows, tag, sizeof tag);
    portal_close_result(p);
    pgwire_command_complete(&s->out, tag);
    return 0;
}

/* A portal with no parameters and text results, for the simple protocol. */
static struct portal *portal_simple(struct stmt *st)
{
    struct portal *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->st = st;
    st->refs++;
    return p;
}

/* ---------------------------------------------------------- simple query */

/*
 * Whether the statements of one Query can run in an implicit transaction:
 * not when one of them is transaction control (or a command that cannot
 * run inside one); those run one by one, each in autocommit.
 */
static bool implicit_tx_fits(const struct piece *pieces, int n)
{
    static const char *const own[] = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT",
                                      "RELEASE", "VACUUM", "CHECKPOINT", "COPY", "ATTACH", "DETACH"};
    for (int i = 0; i < n; i++) {
        char w[16];
        sqlshape_read_word(pieces[i].p, pieces[i].p + pieces[i].len, w, sizeof w);
        for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
            if (!strcmp(w, own[k]))
                return false;
    }
    return true;
}

static void handle_query(struct session *s, const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    const char *sql = pgreader_cstr(&r);
    s->extended = false;
    if (r.bad) {
        session_fatal(s, "08P01", "invalid Query message");
        return;
    }
    stmt_drop(s, "");
    portal_drop(s, "");
    struct piece *pieces = NULL;
    int n = 0;
    if (split_sql(sql, strlen(sql), &pieces, &n) != 0) {
        session_error(s, "53200", "out of memory");
    } else if (n == 0) {
        pgwire_empty(&s->out, 'I');
    }
    bool implicit = n > 1 && s->tx == 'I' && implicit_tx_fits(pieces, n);
    char tag[32];
    if (implicit && tx_begin(s, tag, sizeof tag) != 0)
        n = 0;
    int rc = 0;
    for (int i = 0; i < n && !s->closing && !s->write_failed; i++) {
        struct stmt *st = stmt_make(s, "", pieces[i].p, pieces[i].len, NULL, 0);
        if (!st) {
            rc = -1;
            break;
        }
        struct portal *p = portal_simple(st);
        rc = p ? portal_execute(s, p, 0, true) : (session_error(s, "53200", "out of memory"), -1);
        if (p)
            portal_free(p);
        stmt_unref(st);
        if (rc != 0)
            break;
    }
    if (implicit && s->tx != 'I') { /* all or nothing, as PostgreSQL runs a multi-statement Query */
        if (rc == 0 && s->tx == 'T') {
            s->tx = 'I';
            run_plain(s, "COMMIT", true); /* a failed COMMIT has ended it too */
        } else {
            run_plain(s, "ROLLBACK", false);
            s->tx = 'I';
        }
    }
    if (implicit)
        tx_catalog_settled(s);
    free(pieces);
    pgwire_ready(&s->out, s->tx);
}

/* -------------------------------------------------------- extended query */

static void handle_parse(struct session *s, const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    const char *name = pgreader_cstr(&r), *sql = pgreader_cstr(&r);
    int n = pgreader_int16(&r);
    if (r.bad || n < 0) {
        session_error(s, "08P01", "invalid Parse message");
        return;
    }
    uint32_t oids[n > 0 ? n : 1];
    for (int i = 0; i < n; i++)
        oids[i] = (uint32_t)pgreader_int32(&r);
    if (r.bad) {
        session_error(s, "08P01", "invalid Parse message");
        return;
    }
    if (*name && stmt_find(s, name)) {
        session_error(s, "42P05", "prepared statement \"%s\" already exists", name);
        return;
    }
    struct piece *pieces = NULL;
    int count = 0;
    if (split_sql(sql, strlen(sql), &pieces, &count) != 0) {
        session_error(s, "53200", "out of memory");
        return;
    }
    if (count > 1) {
        free(pieces);
        session_error(s, "42601", "cannot insert multiple commands into a prepared statement");
        return;
    }
    struct stmt *st = stmt_make(s, name, count ? pieces[0].p : "", count ? pieces[0].len : 0, oids, n);
    free(pieces);
    if (!st)
        return;
    if (!*name)
        stmt_drop(s, "");
    st->next = s->stmts;
    s->stmts = st;
    pgwire_empty(&s->out, '1');
}

/* Copies a Bind message's parameters into the portal. */
static int bind_params(struct session *s, struct portal *p, struct pgreader *r)
{
    int nfmt = pgreader_int16(r);
    if (nfmt < 0 || r->bad)
        return -1;
    int16_t fmts[nfmt > 0 ? nfmt : 1];
    for (int i = 0; i < nfmt; i++)
        fmts[i] = pgreader_int16(r);
    int n = pgreader_int16(r);
    if (r->bad || n < 0 || (nfmt > 1 && nfmt != n))
        return -1;
    p->nparams = n;
    p->pvals = calloc((size_t)n + 1, sizeof *p->pvals);
    p->plens = calloc((size_t)n + 1, sizeof *p->plens);
    p->pfmts = calloc((size_t)n + 1, sizeof *p->pfmts);
    const char *start = r->p;
    for (int i = 0; i < n; i++) {
        int32_t len = pgreader_int32(r);
        if (len > 0)
            pgreader_bytes(r, (size_t)len);
        else if (len < -1)
            r->bad = true;
    }
    if (r->bad || !p->pvals || !p->plens || !p->pfmts)
        return -1;
    size_t total = (size_t)(r->p - start);
    if (!(p->pdata = malloc(total + 1)))
        return -1;
    memcpy(p->pdata, start, total);
    struct pgreader c = {p->pdata, total, false};
    for (int i = 0; i < n; i++) {
        p->plens[i] = pgreader_int32(&c);
        p->pvals[i] = p->plens[i] > 0 ? pgreader_bytes(&c, (size_t)p->plens[i]) : "";
        p->pfmts[i] = nfmt == 0 ? 0 : nfmt == 1 ? fmts[0] : fmts[i];
    }
    (void)s;
    return 0;
}

/* Resolves the result-format codes of a Bind message to one per column. */
static int bind_result_formats(struct session *s, struct portal *p, struct pgreader *r)
{
    int n = pgreader_int16(r);
    int ncols = p->st->ncols;
    if (r->bad || n < 0 || (n > 1 && n != ncols && !p->st->cols_unknown)) {
        session_error(s, "08P01", "bind message has %d result formats but query has %d columns", n, ncols);
        return -1;
    }
    p->rfmts = calloc((size_t)n + 1, sizeof *p->rfmts);
    if (!p->rfmts) {
        session_error(s, "53200", "out of memory");
        return -1;
    }
    p->nrfmts = n;
    for (int i = 0; i < n; i++) {
        p->rfmts[i] = pgreader_int16(r);
        if (p->rfmts[i] != 0 && p->rfmts[i] != 1) {
            session_error(s, "22023", "unsupported format code: %d", p->rfmts[i]);
            return -1;
        }
    }
    if (r->bad) {
        session_error(s, "08P01", "invalid Bind message");
        return -1;
    }
    for (int i = 0; i < ncols && p->st->kind == STMT_DUCKDB && !p->st->cols_unknown; i++) {
        if (portal_format(p, i) != 1)
            continue;
        duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(p->st->prep, (idx_t)i);
        bool ok = pgtypes_has_binary(t);
        duckdb_destroy_logical_type(&t);
        if (!ok) {
            session_error(s, "42883", "no binary output function available for column %d", i + 1);
            return -1;
        }
    }
    return 0;
}

static void handle_bind(struct session *s, const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    const char *pname = pgreader_cstr(&r), *sname = pgreader_cstr(&r);
    if (r.bad) {
        session_error(s, "08P01", "invalid Bind message");
        return;
    }
    if (!*pname)
        portal_drop(s, "");
    else if (portal_find(s, pname)) {
        session_error(s, "42P03", "portal \"%s\" already exists", pname);
        return;
    }
    struct stmt *st = stmt_find(s, sname);
    if (!st) {
        session_error(s, "26000", "prepared statement \"%s\" does not exist", sname);
        return;
    }
    struct portal *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(pname))) {
        free(p);
        session_error(s, "53200", "out of memory");
        return;
    }
    p->st = st;
    st->refs++;
    if (bind_params(s, p, &r) != 0) {
        portal_free(p);
        session_error(s, "08P01", "invalid Bind message");
        return;
    }
    if (st->kind == STMT_DUCKDB && p->nparams != st->dparams) {
        session_error(s, "08P01", "bind message supplies %d parameters, but prepared statement \"%s\" requires %d",
                      p->nparams, sname, st->dparams);
        portal_free(p);
        return;
    }
    if (bind_result_formats(s, p, &r) != 0) {
        portal_free(p);
        return;
    }
    p->next = s->portals;
    s->portals = p;
    pgwire_empty(&s->out, '2');
}

static void send_parameter_description(struct session *s, struct stmt *st)
{
    pgbuf_begin(&s->out, 't');
    pgbuf_int16(&s->out, (int16_t)st->nparams);
    for (int i = 0; i < st->nparams; i++)
        pgbuf_int32(&s->out, (int32_t)(st->param_oids[i] ? st->param_oids[i] : PGOID_TEXT));
    pgbuf_end(&s->out);
}

static void handle_describe(struct session *s, const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    char kind = (char)pgreader_int8(&r);
    const char *name = pgreader_cstr(&r);
    if (r.bad || (kind != 'S' && kind != 'P')) {
        session_error(s, "08P01", "invalid Describe message");
        return;
    }
    struct stmt *st;
    const struct portal *fp = NULL;
    if (kind == 'S') {
        st = stmt_find(s, name);
        if (!st) {
            session_error(s, "26000", "prepared statement \"%s\" does not exist", name);
            return;
        }
        send_parameter_description(s, st);
    } else {
        struct portal *p = portal_find(s, name);
        if (!p) {
            session_error(s, "34000", "portal \"%s\" does not exist", name);
            return;
        }
        st = p->st;
        fp = p;
        if (st->kind == STMT_DUCKDB && st->cols_unknown && !p->started && s->tx != 'E') {
            /* only running it tells DuckDB's columns: run now, send rows at Execute */
            bool rows = false;
            p->started = true;
            if (portal_start_duckdb(s, p, true, p->tag, sizeof p->tag, &rows) != 0) {
                p->done = true;
                return;
            }
            if (!rows) {
                p->early_done = true;
                pgwire_empty(&s->out, 'n');
            }
            return;
        }
    }
    if (st->ncols > 0)
        send_row_description(s, st, NULL, fp);
    else
        pgwire_empty(&s->out, 'n');
}

static void handle_execute(struct session *s, const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    const char *name = pgreader_cstr(&r);
    int32_t max_rows = pgreader_int32(&r);
    if (r.bad) {
        session_error(s, "08P01", "invalid Execute message");
        return;
    }
    struct portal *p = portal_find(s, name);
    if (!p) {
        session_error(s, "34000", "portal \"%s\" does not exist", name);
        return;
    }
    portal_execute(s, p, max_rows > 0 ? max_rows : 0, false);
}

static void handle_close(struct session *s, const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    char kind = (char)pgreader_int8(&r);
    const char *name = pgreader_cstr(&r);
    if (r.bad || (kind != 'S' && kind != 'P')) {
        session_error(s, "08P01", "invalid Close message");
        return;
    }
    if (kind == 'S')
        stmt_drop(s, name);
    else
        portal_drop(s, name);
    pgwire_empty(&s->out, '3');
}

static void handle_sync(struct session *s)
{
    s->skip_to_sync = false;
    s->extended = false;
    if (s->tx == 'I')
        portals_drop_all(s); /* portals live until the (implicit) transaction ends */
    pgwire_ready(&s->out, s->tx);
}

/* ---------------------------------------------------------------- startup */

/* Applies "-c name=value" and "--name=value" items of the options parameter. */
static int apply_options(struct session *s, const char *opts)
{
    char item[512];
    const char *p = opts;
    bool expect_c = false;
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        size_t n = 0;
        while (*p && !isspace((unsigned char)*p)) {
            if (*p == '\\' && p[1])
                p++;
            if (n + 1 < sizeof item)
                item[n++] = *p;
            p++;
        }
        item[n] = 0;
        if (!n)
            break;
        const char *kv = NULL;
        if (expect_c)
            kv = item;
        else if (!strcmp(item, "-c"))
            expect_c = true;
        else if (!strncmp(item, "-c", 2))
            kv = item + 2;
        else if (!strncmp(item, "--", 2))
            kv = item + 2;
        if (!kv)
            continue;
        expect_c = false;
        char *eq = strchr(kv, '=');
        if (!eq) {
            session_fatal(s, "42601", "invalid command-line argument for server process");
            return -1;
        }
        *eq = 0;
        for (char *q = (char *)kv; *q; q++)
            if (*q == '-')
                *q = '_';
        const struct pg_setting *d = pg_setting_find(kv);
        if (!d) {
            char msg[600];
            snprintf(msg, sizeof msg, "unrecognized configuration parameter \"%s\"", kv);
            session_fatal(s, "42704", msg);
            return -1;
        }
        if (setting_put(s, d, eq + 1) != 0)
            return -1;
    }
    return 0;
}

/* SCRAM-SHA-256 against the users file. */
static int authenticate_scram(struct session *s)
{
    static const char mech[] = "SCRAM-SHA-256\0";
    const struct user *u = users_find(s->srv->users, s->user);
    struct scram *sc = NULL;
    char *out = NULL;
    struct pgmsg m;
    int rc = -1;
    pgwire_auth(&s->out, 10, mech, sizeof mech);
    if (read_msg(s, false, &m) != 0)
        return -1;
    struct pgreader r;
    pgreader_init(&r, &m);
    const char *name = pgreader_cstr(&r);
    int32_t len = pgreader_int32(&r);
    const char *data = len >= 0 ? pgreader_bytes(&r, (size_t)len) : NULL;
    if (m.type != 'p' || r.bad || !data || strcmp(name, "SCRAM-SHA-256") != 0) {
        session_fatal(s, "08P01", "expected SASLInitialResponse for SCRAM-SHA-256");
        return -1;
    }
    if (scram_begin(u, data, (size_t)len, &sc, &out) != 0)
        goto fail;
    pgwire_auth(&s->out, 11, out, strlen(out));
    free(out);
    out = NULL;
    if (read_msg(s, false, &m) != 0)
        goto done;
    if (m.type != 'p')
        goto fail;
    if (scram_finish(sc, m.body, m.len, &out) != 0)
        goto fail;
    pgwire_auth(&s->out, 12, out, strlen(out));
    s->read_only = user_read_only(u);
    rc = 0;
    goto done;
fail: {
    char msg[128];
    snprintf(msg, sizeof msg, "password authentication failed for user \"%s\"", s->user);
    session_fatal(s, "28P01", msg);
}
done:
    free(out);
    scram_free(sc);
    return rc;
}

/* Reads the startup packet (answering SSL/GSS requests and acting on cancels). */
static int read_startup(struct session *s, struct pgmsg *m, int32_t *code)
{
    for (;;) {
        if (read_msg(s, true, m) != 0)
            return -1;
        struct pgreader r;
        pgreader_init(&r, m);
        *code = pgreader_int32(&r);
        if (*code == PGWIRE_SSL_REQUEST || *code == PGWIRE_GSSENC_REQUEST) {
            pgbuf_byte(&s->out, 'N');
            continue;
        }
        if (*code == PGWIRE_CANCEL_REQUEST) {
            int32_t pid = pgreader_int32(&r), secret = pgreader_int32(&r);
            if (!r.bad)
                server_cancel(s->srv, pid, secret);
            return -1;
        }
        if ((*code >> 16) != 3) {
            session_fatal(s, "0A000", "unsupported frontend protocol");
            return -1;
        }
        return 0;
    }
}

/* The startup phase: parameters, authentication, admission, connection. */
static int startup(struct session *s, bool *admitted)
{
    struct pgmsg m;
    int32_t code;
    if (read_startup(s, &m, &code) != 0)
        return -1;
    struct pgreader r;
    pgreader_init(&r, &m);
    pgreader_int32(&r);
    const char *keys[64], *vals[64], *database = NULL, *options = NULL;
    const char *unknown_pq[16];
    int n = 0, nunknown = 0;
    for (;;) {
        const char *k = pgreader_cstr(&r);
        if (r.bad || !*k)
            break;
        const char *v = pgreader_cstr(&r);
        if (!strcmp(k, "user"))
            snprintf(s->user, sizeof s->user, "%s", v);
        else if (!strcmp(k, "database"))
            database = v;
        else if (!strcmp(k, "options"))
            options = v;
        else if (!strncmp(k, "_pq_.", 5)) {
            if (nunknown < 16)
                unknown_pq[nunknown++] = k;
        } else if (strcmp(k, "replication") != 0 && n < 64) {
            keys[n] = k;
            vals[n++] = v;
        }
    }
    if (r.bad) {
        session_fatal(s, "08P01", "invalid startup packet layout");
        return -1;
    }
    if (!s->user[0]) {
        session_fatal(s, "28000", "no PostgreSQL user name specified in startup packet");
        return -1;
    }
    if ((code & 0xffff) > 0 || nunknown > 0) {
        pgbuf_begin(&s->out, 'v');
        pgbuf_int32(&s->out, 3 << 16);
        pgbuf_int32(&s->out, nunknown);
        for (int i = 0; i < nunknown; i++)
            pgbuf_cstr(&s->out, unknown_pq[i]);
        pgbuf_end(&s->out);
    }
    if (database && *database && strcmp(database, "duckpond") != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "database \"%s\" does not exist", database);
        session_fatal(s, "3D000", msg);
        return -1;
    }
    if (server_admit(s->srv, s) != 0) {
        session_fatal(s, "53300", "sorry, too many clients already");
        return -1;
    }
    *admitted = true;
    if (s->srv->users) {
        if (authenticate_scram(s) != 0)
            return -1;
    } else if (!s->loopback) {
        session_fatal(s, "28000", "connections from other hosts need a users file (--users)");
        return -1;
    }
    pgwire_auth(&s->out, 0, NULL, 0);
    char err[256] = "";
    if (duckpond_connect(s->srv->db, &s->conn) != DUCKPOND_OK) {
        session_fatal(s, "58000", "could not open a database connection");
        return -1;
    }
    s->dcon = duckpond_conn_duckdb(s->conn);
    if (pgcatalog_session_init(s->dcon, err, sizeof err) != 0) {
        session_fatal(s, "58000", err);
        return -1;
    }
    const struct pg_setting *d;
    setting_put(s, pg_setting_find("session_authorization"), s->user);
    setting_put(s, pg_setting_find("is_superuser"), s->read_only ? "off" : "on");
    setting_put(s, pg_setting_find("default_transaction_read_only"), s->read_only ? "on" : "off");
    for (size_t i = 0; i < sizeof pg_settings / sizeof pg_settings[0]; i++)
        if (pg_settings[i].report && pg_settings[i].def && !setting_get_local(s, pg_settings[i].name))
            pgwire_param_status(&s->out, pg_settings[i].name, pg_settings[i].def);
    for (int i = 0; i < n; i++) {
        if (!(d = pg_setting_find(keys[i]))) {
            char msg[300];
            snprintf(msg, sizeof msg, "unrecognized configuration parameter \"%s\"", keys[i]);
            session_fatal(s, "42704", msg);
            return -1;
        }
        if (setting_put(s, d, vals[i]) != 0) {
            s->closing = true;
            return -1;
        }
    }
    if (options && apply_options(s, options) != 0)
        return -1;
    pgwire_backend_key(&s->out, s->pid, s->secret);
    pgwire_ready(&s->out, 'I');
    return 0;
}

/* ------------------------------------------------------------ main loop */

/* Dispatches one message of the ready phase. */
static void dispatch(struct session *s, const struct pgmsg *m)
{
    if (s->skip_to_sync && m->type != 'S' && m->type != 'X')
        return;
    switch (m->type) {
    case 'Q': handle_query(s, m); break;
    case 'P': s->extended = true; handle_parse(s, m); break;
    case 'B': s->extended = true; handle_bind(s, m); break;
    case 'D': s->extended = true; handle_describe(s, m); break;
    case 'E': s->extended = true; handle_execute(s, m); break;
    case 'C': s->extended = true; handle_close(s, m); break;
    case 'S': handle_sync(s); break;
    case 'H': session_flush(s); break;
    case 'X': s->closing = true; break;
    case 'd': case 'c': case 'f':
        break; /* the rest of a COPY that failed: ignored, as PostgreSQL does */
    case 'F':
        session_error(s, "0A000", "the function call protocol is not supported");
        if (!s->extended)
            pgwire_ready(&s->out, s->tx);
        break;
    default: {
        char msg[64];
        snprintf(msg, sizeof msg, "unexpected message type 0x%02x", (unsigned char)m->type);
        session_fatal(s, "08P01", msg);
        break;
    }
    }
}

struct session *session_new(struct server *srv, int fd, bool loopback)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->srv = srv;
    s->fd = fd;
    s->loopback = loopback;
    s->tx = 'I';
    settings_refresh(s);
    pgbuf_init(&s->out);
    pthread_mutex_init(&s->run_lock, NULL);
    return s;
}

/* Frees everything of a session and closes its socket. */
static void session_free(struct session *s)
{
    portals_drop_all(s);
    while (s->stmts) {
        struct stmt *st = s->stmts;
        s->stmts = st->next;
        stmt_unref(st);
    }
    if (s->json_stmt)
        duckdb_destroy_prepare(&s->json_stmt);
    plancache_free(s->plans);
    settings_free(s);
    pthread_mutex_lock(&s->run_lock);
    duckdb_connection dcon = s->dcon;
    s->dcon = NULL;
    pthread_mutex_unlock(&s->run_lock);
    (void)dcon;
    if (s->conn)
        duckpond_disconnect(s->conn); /* rolls back an open transaction */
    pthread_mutex_destroy(&s->run_lock);
    pgbuf_free(&s->out);
    free(s->in);
    close(s->fd);
    free(s);
}

void *session_main(void *arg)
{
    struct session *s = arg;
    bool admitted = false;
    metrics_conn_open(METRICS_PG);
    if (startup(s, &admitted) == 0) {
        while (!s->closing && !s->write_failed) {
            struct pgmsg m;
            if (read_msg(s, false, &m) != 0)
                break;
            dispatch(s, &m);
        }
    }
    session_flush(s);
    struct server *srv = s->srv;
    server_release(srv, s, admitted); /* before the connection goes: no cancel can reach it */
    session_free(s);
    metrics_conn_close(METRICS_PG);
    server_thread_done(srv);
    return NULL;
}
