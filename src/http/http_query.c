/*
 * http_query.c -- POST /v1/query: one SQL statement with bound parameters,
 * its answer streamed as JSON, NDJSON or CSV.
 *
 * The body is {"sql": "...", "params": [...], "row_limit": n,
 * "timeout_ms": n}. The SQL is split with duckdb_extract_statements and
 * must hold exactly one statement; it is prepared, and each parameter is
 * bound with duckdb_bind_* by its JSON type -- never spliced into the text.
 * What a statement may do is decided by DuckDB's statement type: a
 * read-only user may run SELECT and EXPLAIN only, and no one may run
 * statements that would leave state on a pooled connection (transactions,
 * SET, PREPARE, ATTACH...).
 *
 * Everything that can fail with a proper status happens before the status
 * line: preparing, binding, starting the streaming execution and fetching
 * the first chunk. The rest streams from MHD's content reader one chunk
 * (2048 rows) at a time, so no answer is ever held whole in memory; an
 * error after that point (rare: a cast failing deep in a result) ends a
 * JSON answer with an "error" member, an NDJSON answer with an {"error"}
 * line, and a CSV answer by dropping the connection before the last chunk
 * (the client sees a truncated transfer). The statement timeout is
 * enforced by the watchdog (http_watchdog.c, duckdb_interrupt); the row limit
 * stops the stream and is reported in JSON as "truncated": true.
 *
 * A header "Duckpond-After-Seq: N" (or ?after_seq=N) makes the query wait
 * first until the journaled writes up to N are applied (read-your-writes
 * for a client that ingested with ack mode journal).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_query.h"
#include "http_render.h"
#include "http_watchdog.h"
#include "metrics.h"

#define QUERY_CONFLICT_ATTEMPTS 10
#define QUERY_BLOCK_SIZE (64 * 1024)
#define QUERY_APPLIED_WAIT_MS 5000

enum query_format { FORMAT_JSON, FORMAT_NDJSON, FORMAT_CSV };
enum query_state { Q_ROWS, Q_TAIL, Q_END };

/* A request's parsed body. */
struct query_req {
    json_t *root;
    const char *sql;
    json_t *params;
    long row_limit;
    long timeout_ms;
};

/*
 * Prepared statements kept per pooled connection, keyed by their exact SQL
 * text: preparing costs about as much as running a point query, and a
 * dashboard or a feed sends the same few statements again and again. A
 * connection is used by one request at a time, so only finding a
 * connection's cache takes the lock. DuckDB re-binds a cached statement
 * itself when the catalog changes under it.
 */
#define STMT_CACHE_SIZE 32

struct cached_stmt {
    char *sql;
    duckdb_prepared_statement prep;
    uint64_t used; /* the cache's clock when last used */
};

struct http_stmt_cache {
    duckpond_conn *conn; /* NULL: free slot */
    struct cached_stmt stmts[STMT_CACHE_SIZE];
    uint64_t clock;
};

/* A running query and its streamed answer. */
struct query {
    struct http_env *env;
    struct http_conn *hc;
    duckpond_conn *conn;
    struct http_stmt_cache *cache; /* conn's, or NULL */
    duckdb_prepared_statement prep;
    bool prep_cached;              /* prep belongs to the cache */
    duckdb_result result;
    bool have_result;
    duckdb_data_chunk chunk;
    idx_t ncols;
    struct http_rtype **types;
    enum query_format format;
    enum query_state state;
    long row_limit, rows_sent;
    bool truncated;
    struct dp_buf out;
    size_t out_pos;
};

/* An error found before the answer starts: status class, SQLSTATE, text. */
struct query_err {
    int code;
    unsigned http;
    const char *sqlstate;
    char message[1024];
};

static void qerr(struct query_err *e, int code, unsigned http, const char *sqlstate,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void qerr(struct query_err *e, int code, unsigned http, const char *sqlstate,
                 const char *fmt, ...)
{
    va_list ap;
    e->code = code;
    e->http = http;
    e->sqlstate = sqlstate;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ the body */

/* A positive integer member, or def when absent; false when malformed. */
static bool opt_long(json_t *root, const char *key, long def, long *out)
{
    json_t *v = json_object_get(root, key);
    *out = def;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return false;
    *out = (long)json_integer_value(v);
    return true;
}

/* Parses and checks the body; limits are capped by the server's. */
static int parse_body(struct http_env *env, const char *body, size_t len, struct query_req *q,
                      struct query_err *e)
{
    json_error_t jerr;
    memset(q, 0, sizeof *q);
    q->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!q->root || !json_is_object(q->root)) {
        qerr(e, DUCKPOND_MISUSE, 400, "08P01", "the body must be a JSON object: %s",
             q->root ? "it is not an object" : jerr.text);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(q->root, key, v) {
        if (strcmp(key, "sql") && strcmp(key, "params") && strcmp(key, "row_limit") &&
            strcmp(key, "timeout_ms")) {
            qerr(e, DUCKPOND_MISUSE, 400, "08P01",
                 "unknown member \"%.100s\" (expected sql, params, row_limit, timeout_ms)", key);
            return -1;
        }
    }
    q->sql = json_string_value(json_object_get(q->root, "sql"));
    if (!q->sql) {
        qerr(e, DUCKPOND_MISUSE, 400, "08P01", "\"sql\" must be a string");
        return -1;
    }
    q->params = json_object_get(q->root, "params");
    if (q->params && !json_is_array(q->params) && !json_is_null(q->params)) {
        qerr(e, DUCKPOND_MISUSE, 400, "08P01", "\"params\" must be an array");
        return -1;
    }
    if (!opt_long(q->root, "row_limit", env->opt.row_limit, &q->row_limit) ||
        !opt_long(q->root, "timeout_ms", env->opt.statement_timeout_ms, &q->timeout_ms)) {
        qerr(e, DUCKPOND_MISUSE, 400, "08P01",
             "\"row_limit\" and \"timeout_ms\" must be positive integers");
        return -1;
    }
    if (q->row_limit > env->opt.row_limit)
        q->row_limit = env->opt.row_limit;
    if (q->timeout_ms > env->opt.statement_timeout_ms)
        q->timeout_ms = env->opt.statement_timeout_ms;
    return 0;
}

/* ------------------------------------------------------------- errors */

/* DuckDB's error type from the "<Type> Error:" its messages start with,
 * for the calls that give only a message (prepare, extract). */
static duckdb_error_type type_of_message(const char *msg)
{
    static const struct {
        const char *prefix;
        duckdb_error_type type;
    } known[] = {
        {"Parser Error", DUCKDB_ERROR_PARSER},
        {"Syntax Error", DUCKDB_ERROR_SYNTAX},
        {"Catalog Error", DUCKDB_ERROR_CATALOG},
        {"Binder Error", DUCKDB_ERROR_BINDER},
        {"Conversion Error", DUCKDB_ERROR_CONVERSION},
        {"Out of Range Error", DUCKDB_ERROR_OUT_OF_RANGE},
        {"Constraint Error", DUCKDB_ERROR_CONSTRAINT},
        {"Invalid Input Error", DUCKDB_ERROR_INVALID_INPUT},
        {"Not implemented Error", DUCKDB_ERROR_NOT_IMPLEMENTED},
        {"Permission Error", DUCKDB_ERROR_PERMISSION},
        {"Dependency Error", DUCKDB_ERROR_DEPENDENCY},
    };
    for (size_t i = 0; msg && i < sizeof known / sizeof known[0]; i++)
        if (strncmp(msg, known[i].prefix, strlen(known[i].prefix)) == 0)
            return known[i].type;
    return DUCKDB_ERROR_INVALID;
}

/*
 * Fills e from a DuckDB error. DuckDB's error types that mean "the request
 * is wrong" but have no class of their own become 400 with a SQLSTATE
 * that says why; everything else follows the class.
 */
static void duck_error(struct query_err *e, duckdb_error_type type, const char *msg)
{
    if (!msg)
        msg = "unknown DuckDB error";
    int code = duckpond_classify(type, msg);
    const char *state = duckpond_sqlstate(code, msg);
    unsigned http = http_status_for(code);
    if (code == DUCKPOND_ERROR) {
        switch (type) {
        case DUCKDB_ERROR_INVALID_INPUT: state = "22023", http = 400; break;
        case DUCKDB_ERROR_NOT_IMPLEMENTED: state = "0A000", http = 400; break;
        case DUCKDB_ERROR_DIVIDE_BY_ZERO: state = "22012", http = 400; break;
        case DUCKDB_ERROR_MISMATCH_TYPE: state = "42804", http = 400; break;
        case DUCKDB_ERROR_DEPENDENCY: state = "2BP01", http = 409; break;
        case DUCKDB_ERROR_SEQUENCE: state = "2200H", http = 400; break;
        default: break;
        }
    }
    if (code == DUCKPOND_INTERRUPTED)
        msg = "the statement ran past its timeout and was cancelled";
    qerr(e, code, http, state, "%s", msg);
}

/* ------------------------------------------------------ preparing */

/* The command word of a statement type, for the metrics. */
static const char *statement_kind(duckdb_statement_type t)
{
    static const char *const names[] = {
        [DUCKDB_STATEMENT_TYPE_SELECT] = "SELECT",     [DUCKDB_STATEMENT_TYPE_INSERT] = "INSERT",
        [DUCKDB_STATEMENT_TYPE_UPDATE] = "UPDATE",     [DUCKDB_STATEMENT_TYPE_EXPLAIN] = "EXPLAIN",
        [DUCKDB_STATEMENT_TYPE_DELETE] = "DELETE",     [DUCKDB_STATEMENT_TYPE_PREPARE] = "PREPARE",
        [DUCKDB_STATEMENT_TYPE_CREATE] = "CREATE",     [DUCKDB_STATEMENT_TYPE_EXECUTE] = "EXECUTE",
        [DUCKDB_STATEMENT_TYPE_ALTER] = "ALTER",       [DUCKDB_STATEMENT_TYPE_TRANSACTION] = "TRANSACTION",
        [DUCKDB_STATEMENT_TYPE_COPY] = "COPY",         [DUCKDB_STATEMENT_TYPE_ANALYZE] = "ANALYZE",
        [DUCKDB_STATEMENT_TYPE_VARIABLE_SET] = "SET",  [DUCKDB_STATEMENT_TYPE_CREATE_FUNC] = "CREATE",
        [DUCKDB_STATEMENT_TYPE_DROP] = "DROP",         [DUCKDB_STATEMENT_TYPE_EXPORT] = "EXPORT",
        [DUCKDB_STATEMENT_TYPE_PRAGMA] = "PRAGMA",     [DUCKDB_STATEMENT_TYPE_VACUUM] = "VACUUM",
        [DUCKDB_STATEMENT_TYPE_CALL] = "CALL",         [DUCKDB_STATEMENT_TYPE_SET] = "SET",
        [DUCKDB_STATEMENT_TYPE_LOAD] = "LOAD",         [DUCKDB_STATEMENT_TYPE_EXTENSION] = "INSTALL",
        [DUCKDB_STATEMENT_TYPE_ATTACH] = "ATTACH",     [DUCKDB_STATEMENT_TYPE_DETACH] = "DETACH",
    };
    if ((size_t)t < sizeof names / sizeof names[0] && names[t])
        return names[t];
    return "OTHER";
}

/* Whether a statement of this type may run for this user over HTTP. */
static bool statement_allowed(duckdb_statement_type t, const struct user *user,
                              struct query_err *e)
{
    switch (t) {
    case DUCKDB_STATEMENT_TYPE_TRANSACTION:
    case DUCKDB_STATEMENT_TYPE_PREPARE:
    case DUCKDB_STATEMENT_TYPE_EXECUTE:
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET:
    case DUCKDB_STATEMENT_TYPE_SET:
    case DUCKDB_STATEMENT_TYPE_ATTACH:
    case DUCKDB_STATEMENT_TYPE_DETACH:
    case DUCKDB_STATEMENT_TYPE_LOAD:
    case DUCKDB_STATEMENT_TYPE_EXTENSION:
        qerr(e, DUCKPOND_MISUSE, 400, "0A000",
             "%s statements are not served over HTTP: each request runs alone on a shared "
             "connection (use the PostgreSQL protocol for sessions)",
             statement_kind(t));
        return false;
    default:
        break;
    }
    if (user && user_read_only(user) && t != DUCKDB_STATEMENT_TYPE_SELECT &&
        t != DUCKDB_STATEMENT_TYPE_EXPLAIN) {
        qerr(e, DUCKPOND_READONLY, 403, "25006",
             "user %s is read-only: %s statements are not allowed", user_name(user),
             statement_kind(t));
        return false;
    }
    return true;
}

/* Binds params[i] to parameter i + 1 by its JSON type. */
static int bind_param(duckdb_prepared_statement p, idx_t i, json_t *v, struct query_err *e)
{
    duckdb_state st;
    switch (json_typeof(v)) {
    case JSON_NULL: st = duckdb_bind_null(p, i + 1); break;
    case JSON_TRUE: st = duckdb_bind_boolean(p, i + 1, true); break;
    case JSON_FALSE: st = duckdb_bind_boolean(p, i + 1, false); break;
    case JSON_INTEGER: st = duckdb_bind_int64(p, i + 1, json_integer_value(v)); break;
    case JSON_REAL: st = duckdb_bind_double(p, i + 1, json_real_value(v)); break;
    case JSON_STRING:
        st = duckdb_bind_varchar_length(p, i + 1, json_string_value(v), json_string_length(v));
        break;
    default:
        qerr(e, DUCKPOND_MISUSE, 400, "22023",
             "parameter $%llu: arrays and objects cannot be bound (send them as a string)",
             (unsigned long long)i + 1);
        return -1;
    }
    if (st != DuckDBSuccess) {
        qerr(e, DUCKPOND_CONVERSION, 400, "22P02", "parameter $%llu cannot be bound: %s",
             (unsigned long long)i + 1, duckdb_prepare_error(p) ? duckdb_prepare_error(p) : "");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------ statement cache */

int http_query_caches_new(struct http_env *env)
{
    env->caches = calloc((size_t)env->pool_size, sizeof *env->caches);
    return env->caches ? DUCKPOND_OK : DUCKPOND_NOMEM;
}

void http_query_caches_free(struct http_env *env)
{
    for (int i = 0; env->caches && i < env->pool_size; i++) {
        for (int k = 0; k < STMT_CACHE_SIZE; k++) {
            struct cached_stmt *c = &env->caches[i].stmts[k];
            if (c->sql) {
                duckdb_destroy_prepare(&c->prep);
                free(c->sql);
            }
        }
    }
    free(env->caches);
    env->caches = NULL;
}

/* The cache of a pooled connection, claiming a slot the first time. */
static struct http_stmt_cache *cache_of(struct http_env *env, duckpond_conn *conn)
{
    struct http_stmt_cache *found = NULL;
    pthread_mutex_lock(&env->cache_lock);
    for (int i = 0; i < env->pool_size && !found; i++)
        if (env->caches[i].conn == conn)
            found = &env->caches[i];
    for (int i = 0; i < env->pool_size && !found; i++)
        if (!env->caches[i].conn) {
            found = &env->caches[i];
            found->conn = conn;
        }
    pthread_mutex_unlock(&env->cache_lock);
    return found;
}

static duckdb_prepared_statement cache_find(struct http_stmt_cache *c, const char *sql)
{
    for (int k = 0; c && k < STMT_CACHE_SIZE; k++) {
        if (c->stmts[k].sql && strcmp(c->stmts[k].sql, sql) == 0) {
            c->stmts[k].used = ++c->clock;
            return c->stmts[k].prep;
        }
    }
    return NULL;
}

/* Keeps prep for sql, in place of the least recently used; false if not kept. */
static bool cache_put(struct http_stmt_cache *c, const char *sql, duckdb_prepared_statement prep)
{
    if (!c)
        return false;
    struct cached_stmt *victim = &c->stmts[0];
    for (int k = 1; k < STMT_CACHE_SIZE && victim->sql; k++)
        if (!c->stmts[k].sql || c->stmts[k].used < victim->used)
            victim = &c->stmts[k];
    char *copy = strdup(sql);
    if (!copy)
        return false;
    if (victim->sql) {
        duckdb_destroy_prepare(&victim->prep);
        free(victim->sql);
    }
    victim->sql = copy;
    victim->prep = prep;
    victim->used = ++c->clock;
    return true;
}

/* Checks and binds the prepared statement for this request. */
static int check_and_bind(struct query *qy, const struct query_req *q, const struct user *user,
                          struct query_err *e)
{
    if (!statement_allowed(duckdb_prepared_statement_type(qy->prep), user, e))
        return -1;
    size_t given = q->params ? json_array_size(q->params) : 0;
    idx_t want = duckdb_nparams(qy->prep);
    if (given != want) {
        qerr(e, DUCKPOND_MISUSE, 400, "08P01",
             "the statement takes %llu parameter(s) and %zu were given",
             (unsigned long long)want, given);
        return -1;
    }
    duckdb_clear_bindings(qy->prep);
    for (size_t i = 0; i < given; i++)
        if (bind_param(qy->prep, i, json_array_get(q->params, i), e) != 0)
            return -1;
    return 0;
}

/*
 * Finds or prepares the one statement of q, then checks and binds it. A
 * new statement is split first (it must be exactly one), prepared, and
 * kept in the connection's cache.
 */
static int prepare(struct query *qy, const struct query_req *q, const struct user *user,
                   struct query_err *e)
{
    qy->cache = cache_of(qy->env, qy->conn);
    qy->prep = cache_find(qy->cache, q->sql);
    if (qy->prep) {
        qy->prep_cached = true;
        return check_and_bind(qy, q, user, e);
    }
    duckdb_connection dc = duckpond_conn_duckdb(qy->conn);
    duckdb_extracted_statements stmts = NULL;
    idx_t n = duckdb_extract_statements(dc, q->sql, &stmts);
    int rc = -1;
    if (n == 0) {
        const char *msg = duckdb_extract_statements_error(stmts);
        if (msg)
            duck_error(e, type_of_message(msg), msg);
        else
            qerr(e, DUCKPOND_SYNTAX, 400, "42601", "the request holds no SQL statement");
        goto done;
    }
    if (n > 1) {
        qerr(e, DUCKPOND_SYNTAX, 400, "42601",
             "one statement per request, and this one holds %llu", (unsigned long long)n);
        goto done;
    }
    if (duckdb_prepare_extracted_statement(dc, stmts, 0, &qy->prep) != DuckDBSuccess) {
        const char *msg = duckdb_prepare_error(qy->prep);
        duck_error(e, type_of_message(msg), msg);
        goto done;
    }
    qy->prep_cached = cache_put(qy->cache, q->sql, qy->prep);
    rc = check_and_bind(qy, q, user, e);
done:
    duckdb_destroy_extracted(&stmts);
    return rc;
}

/* ------------------------------------------------------- executing */

/* Sleeps a random time below cap_us (backoff with full jitter). */
static void backoff(int attempt)
{
    long cap_us = 1000L << (attempt < 6 ? attempt : 6);
    struct timespec ts = {0, (long)(rand() % cap_us) * 1000L};
    nanosleep(&ts, NULL);
}

/*
 * Runs the prepared statement (streaming) and fetches its first chunk,
 * retrying a statement other than SELECT that hit a transaction conflict
 * (it ran alone in autocommit, so it left nothing behind).
 */
static int execute(struct query *qy, struct query_err *e)
{
    bool retryable = duckdb_prepared_statement_type(qy->prep) != DUCKDB_STATEMENT_TYPE_SELECT;
    for (int attempt = 1;; attempt++) {
        if (duckdb_execute_prepared_streaming(qy->prep, &qy->result) == DuckDBSuccess) {
            qy->have_result = true;
            qy->chunk = duckdb_fetch_chunk(qy->result);
            const char *msg = qy->chunk ? NULL : duckdb_result_error(&qy->result);
            if (!msg)
                return 0;
            duck_error(e, duckdb_result_error_type(&qy->result), msg);
        } else {
            duck_error(e, duckdb_result_error_type(&qy->result), duckdb_result_error(&qy->result));
        }
        duckdb_destroy_result(&qy->result);
        qy->have_result = false;
        if (e->code != DUCKPOND_CONFLICT || !retryable || attempt >= QUERY_CONFLICT_ATTEMPTS)
            return -1;
        metrics_conflict_retried();
        backoff(attempt);
    }
}

/* Resolves the result's column types; fails on a type that cannot be sent. */
static int resolve_types(struct query *qy, struct query_err *e)
{
    qy->ncols = duckdb_column_count(&qy->result);
    qy->types = calloc(qy->ncols ? qy->ncols : 1, sizeof *qy->types);
    if (!qy->types) {
        qerr(e, DUCKPOND_NOMEM, 500, "53200", "out of memory");
        return -1;
    }
    for (idx_t i = 0; i < qy->ncols; i++) {
        duckdb_logical_type t = duckdb_column_logical_type(&qy->result, i);
        char why[256];
        int rc = http_rtype_new(t, &qy->types[i], why, sizeof why);
        duckdb_destroy_logical_type(&t);
        if (rc != 0) {
            qerr(e, DUCKPOND_MISUSE, 400, "0A000", "column \"%s\": %s",
                 duckdb_column_name(&qy->result, i), why);
            return -1;
        }
    }
    return 0;
}

/* -------------------------------------------------------- streaming */

/* The opening of the answer: JSON's columns, CSV's header line. */
static void write_head(struct query *qy)
{
    struct dp_buf *b = &qy->out;
    if (qy->format == FORMAT_NDJSON)
        return;
    if (qy->format == FORMAT_JSON)
        dp_buf_str(b, "{\"columns\":[");
    for (idx_t i = 0; i < qy->ncols; i++) {
        const char *name = duckdb_column_name(&qy->result, i);
        if (qy->format == FORMAT_CSV) {
            dp_buf_add(b, ",", i ? 1 : 0);
            http_csv_field(b, name, strlen(name));
            continue;
        }
        dp_buf_str(b, i ? ",{\"name\":" : "{\"name\":");
        http_json_string(b, name, strlen(name));
        dp_buf_str(b, ",\"type\":");
        http_json_string(b, qy->types[i]->name, strlen(qy->types[i]->name));
        dp_buf_str(b, "}");
    }
    dp_buf_str(b, qy->format == FORMAT_CSV ? "\r\n" : "],\"rows\":[");
}

/* One row in the answer's format. */
static void write_row(struct query *qy, idx_t row)
{
    struct dp_buf *b = &qy->out;
    if (qy->format == FORMAT_CSV) {
        for (idx_t i = 0; i < qy->ncols; i++) {
            dp_buf_add(b, ",", i ? 1 : 0);
            http_render_csv(b, qy->types[i], duckdb_data_chunk_get_vector(qy->chunk, i), row);
        }
        dp_buf_add(b, "\r\n", 2);
        return;
    }
    if (qy->format == FORMAT_JSON && qy->rows_sent > 0)
        dp_buf_add(b, ",", 1);
    if (qy->format == FORMAT_NDJSON) {
        dp_buf_add(b, "{", 1);
        for (idx_t i = 0; i < qy->ncols; i++) {
            const char *name = duckdb_column_name(&qy->result, i);
            dp_buf_add(b, ",", i ? 1 : 0);
            http_json_string(b, name, strlen(name));
            dp_buf_add(b, ":", 1);
            http_render_json(b, qy->types[i], duckdb_data_chunk_get_vector(qy->chunk, i), row);
        }
        dp_buf_add(b, "}\n", 2);
        return;
    }
    dp_buf_add(b, "[", 1);
    for (idx_t i = 0; i < qy->ncols; i++) {
        dp_buf_add(b, ",", i ? 1 : 0);
        http_render_json(b, qy->types[i], duckdb_data_chunk_get_vector(qy->chunk, i), row);
    }
    dp_buf_add(b, "]", 1);
}

/*
 * Renders the current chunk (up to the row limit) and fetches the next.
 * Returns -1 when the stream failed and the connection must be dropped.
 */
static int produce_rows(struct query *qy)
{
    if (!qy->chunk) {
        qy->state = Q_TAIL;
        const char *msg = duckdb_result_error(&qy->result);
        if (!msg)
            return 0;
        struct query_err e;
        duck_error(&e, duckdb_result_error_type(&qy->result), msg);
        metrics_error(e.sqlstate);
        if (qy->format == FORMAT_CSV)
            return -1;
        dp_buf_str(&qy->out, qy->format == FORMAT_JSON ? "]," : "{");
        http_error_member(&qy->out, e.sqlstate, e.message);
        dp_buf_str(&qy->out, "}\n");
        qy->state = Q_END;
        return 0;
    }
    idx_t n = duckdb_data_chunk_get_size(qy->chunk);
    for (idx_t row = 0; row < n; row++) {
        if (qy->rows_sent >= qy->row_limit) {
            qy->truncated = true;
            break;
        }
        write_row(qy, row);
        qy->rows_sent++;
    }
    duckdb_destroy_data_chunk(&qy->chunk);
    if (!qy->truncated)
        qy->chunk = duckdb_fetch_chunk(qy->result);
    if (qy->truncated)
        qy->state = Q_TAIL;
    return 0;
}

/* The end of a JSON answer. */
static void write_tail(struct query *qy)
{
    if (qy->format == FORMAT_JSON)
        dp_buf_printf(&qy->out, "],\"row_count\":%ld,\"truncated\":%s}\n", qy->rows_sent,
                    qy->truncated ? "true" : "false");
    qy->state = Q_END;
}

/* MHD's content reader: copies out rendered bytes, rendering more as needed. */
static ssize_t read_answer(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct query *qy = cls;
    while (qy->out_pos == qy->out.len) {
        dp_buf_truncate(&qy->out, 0);
        qy->out_pos = 0;
        if (qy->state == Q_END)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (qy->state == Q_TAIL)
            write_tail(qy);
        else if (produce_rows(qy) != 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (qy->out.failed)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = qy->out.len - qy->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, qy->out.data + qy->out_pos, n);
    qy->out_pos += n;
    return (ssize_t)n;
}

/* Releases everything a query holds, its pooled connection last. */
static void query_free(void *cls)
{
    struct query *qy = cls;
    if (qy->chunk)
        duckdb_destroy_data_chunk(&qy->chunk);
    if (qy->have_result)
        duckdb_destroy_result(&qy->result);
    if (qy->prep && !qy->prep_cached)
        duckdb_destroy_prepare(&qy->prep);
    for (idx_t i = 0; qy->types && i < qy->ncols; i++)
        http_rtype_free(qy->types[i]);
    free(qy->types);
    dp_buf_free(&qy->out);
    http_watchdog_query_end(qy->env->watchdog, qy->hc);
    if (qy->conn)
        duckpond_pool_put(qy->env->pool, qy->conn);
    free(qy);
}

static enum query_format format_of(struct MHD_Connection *c)
{
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    if (accept && strstr(accept, "text/csv"))
        return FORMAT_CSV;
    if (accept && strstr(accept, "application/x-ndjson"))
        return FORMAT_NDJSON;
    return FORMAT_JSON;
}

static const char *const content_types[] = {
    [FORMAT_JSON] = "application/json",
    [FORMAT_NDJSON] = "application/x-ndjson",
    [FORMAT_CSV] = "text/csv; charset=utf-8; header=present",
};

/* Queues the streamed answer of a query that has its first chunk. */
static enum MHD_Result start_answer(struct query *qy, struct MHD_Connection *c)
{
    write_head(qy);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, QUERY_BLOCK_SIZE, read_answer, qy,
                                          query_free);
    if (!r) {
        query_free(qy);
        return MHD_NO;
    }
    char limit[32];
    snprintf(limit, sizeof limit, "%ld", qy->row_limit);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_types[qy->format]);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Duckpond-Row-Limit", limit);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/*
 * Read-your-writes: with a header "Duckpond-After-Seq: N" (or ?after_seq=N),
 * waits until the journaled writes up to sequence number N (from an
 * ingest answer) are applied, for at most QUERY_APPLIED_WAIT_MS and the
 * statement timeout. 0, or -1 with the error in e (57014 on a timeout).
 */
static int wait_after_seq(struct http_env *env, struct MHD_Connection *c, long timeout_ms,
                          struct query_err *e)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Duckpond-After-Seq");
    if (!v)
        v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after_seq");
    if (!v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long seq = strtoull(v, &end, 10);
    if (!*v || *end || errno || *v == '-') {
        qerr(e, DUCKPOND_MISUSE, 400, "22023",
             "Duckpond-After-Seq must be a journal sequence number, not \"%.60s\"", v);
        return -1;
    }
    int ms = timeout_ms < QUERY_APPLIED_WAIT_MS ? (int)timeout_ms : QUERY_APPLIED_WAIT_MS;
    int rc = duckpond_batcher_wait_applied(env->batcher, (uint64_t)seq, ms);
    if (rc == DUCKPOND_TIMEOUT)
        qerr(e, rc, 504, "57014",
             "canceling statement: the journaled writes up to sequence %llu were not applied "
             "within %d ms; they are durable, try again",
             seq, ms);
    else if (rc == DUCKPOND_MISUSE)
        qerr(e, rc, 400, "22023", "journal sequence number %llu was never handed out", seq);
    else if (rc != DUCKPOND_OK)
        qerr(e, rc, 0, NULL, "the journaled writes up to sequence %llu cannot be applied now: %s",
             seq, duckpond_strerror(rc));
    return rc == DUCKPOND_OK ? 0 : -1;
}

enum MHD_Result http_query(struct http_env *env, struct MHD_Connection *c,
                           const struct user *user, const char *body, size_t len)
{
    struct query_req q;
    struct query_err e;
    if (parse_body(env, body, len, &q, &e) != 0) {
        json_decref(q.root);
        return http_send_error(c, e.http, e.code, e.sqlstate, e.message);
    }
    struct query *qy = calloc(1, sizeof *qy);
    if (!qy) {
        json_decref(q.root);
        return http_send_error(c, 0, DUCKPOND_NOMEM, NULL, NULL);
    }
    qy->env = env;
    qy->format = format_of(c);
    qy->row_limit = q.row_limit;
    /* the timeout covers waiting for a pooled connection and running */
    int64_t deadline = http_now_ms() + q.timeout_ms;
    if (wait_after_seq(env, c, q.timeout_ms, &e) != 0)
        goto fail;
    int rc = duckpond_pool_get(env->pool, (int)(deadline > http_now_ms() ? deadline - http_now_ms() : 0),
                               &qy->conn);
    if (rc != DUCKPOND_OK) {
        qerr(&e, DUCKPOND_OVERLOADED, 503, "53300",
             "every database connection (%d) stayed busy for the statement timeout; try again",
             env->pool_size);
        goto fail;
    }
    if (prepare(qy, &q, user, &e) != 0)
        goto fail;
    metrics_statement(statement_kind(duckdb_prepared_statement_type(qy->prep)));
    qy->hc = http_watchdog_query_begin(env->watchdog, c, duckpond_conn_duckdb(qy->conn), deadline);
    int failed = execute(qy, &e) != 0;
    if (!duckpond_statement_keeps_catalog(duckdb_prepared_statement_type(qy->prep)))
        duckpond_batcher_schema_changed(env->batcher); /* cached column types and INSERT shapes go */
    if (failed || resolve_types(qy, &e) != 0)
        goto fail;
    json_decref(q.root);
    return start_answer(qy, c);
fail:
    json_decref(q.root);
    query_free(qy);
    return http_send_error(c, e.http, e.code, e.sqlstate, e.message);
}
