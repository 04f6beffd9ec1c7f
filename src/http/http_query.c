/*
 * http_query.c -- /v1/query: one SQL statement with bound parameters, its
 * answer streamed as JSON, NDJSON or CSV, or written as Parquet.
 *
 * A POST's body is {"sql": "...", "params": [...], "row_limit": n,
 * "timeout_ms": n}. A GET carries the same as URL arguments (?sql=...&
 * params=[...]&row_limit=n&timeout_ms=n, params as JSON text), so that a
 * URL alone names a result (pandas' read_parquet(url), a browser); a GET
 * runs only queries (SELECT, EXPLAIN), since anyone's page can make a
 * browser send one. The format is ?format=json|ndjson|csv|parquet, else
 * the Accept header. The SQL is split with duckdb_extract_statements and
 * must hold exactly one statement; it is prepared, and each parameter is
 * bound with duckdb_bind_* by its JSON type -- never spliced into the text.
 * What a statement may do is decided as for the PostgreSQL protocol
 * (access.h: its text before DuckDB binds it, then DuckDB's statement
 * type; a bearer token's user has the user's role, a request without a
 * users file the server's trusted role), and here also no one may run
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
 * A Parquet answer (http_parquet.c) is a file that DuckDB writes whole
 * before the status line; it holds the rows of a query (SELECT type) only.
 *
 * A header "Duckpond-After-Seq: N" (or ?after_seq=N) makes the query wait
 * first until the journaled writes up to N are applied (read-your-writes
 * for a client that ingested with ack mode journal).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_parquet.h"
#include "http_query.h"
#include "http_render.h"
#include "http_stmt.h"
#include "http_watchdog.h"
#include "metrics.h"
#include "sqllex.h"

#define QUERY_CONFLICT_ATTEMPTS 10
#define QUERY_BLOCK_SIZE (64 * 1024)
#define QUERY_APPLIED_WAIT_MS 5000

enum query_format { FORMAT_JSON, FORMAT_NDJSON, FORMAT_CSV, FORMAT_PARQUET };
enum query_state { Q_ROWS, Q_TAIL, Q_END };

/* A request's parsed body (or a GET's arguments, gathered into one). */
struct query_req {
    json_t *root;
    const char *sql;
    json_t *params;
    long row_limit;
    long timeout_ms;
    bool reads_only; /* a GET: queries only */
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
    bool prep_cached; /* prep belongs to the cache */
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

/* Checks the members of q->root and fills q; limits are capped by the server's. */
static int check_members(struct http_env *env, struct query_req *q, struct http_err *e)
{
    q->sql = json_string_value(json_object_get(q->root, "sql"));
    if (!q->sql) {
        http_err_set(e, DUCKPOND_MISUSE, 400, "08P01", "\"sql\" must be a string");
        return -1;
    }
    q->params = json_object_get(q->root, "params");
    if (q->params && !json_is_array(q->params) && !json_is_null(q->params)) {
        http_err_set(e, DUCKPOND_MISUSE, 400, "08P01", "\"params\" must be an array");
        return -1;
    }
    if (!opt_long(q->root, "row_limit", env->opt.row_limit, &q->row_limit) ||
        !opt_long(q->root, "timeout_ms", env->opt.statement_timeout_ms, &q->timeout_ms)) {
        http_err_set(e, DUCKPOND_MISUSE, 400, "08P01",
                     "\"row_limit\" and \"timeout_ms\" must be positive integers");
        return -1;
    }
    if (q->row_limit > env->opt.row_limit)
        q->row_limit = env->opt.row_limit;
    if (q->timeout_ms > env->opt.statement_timeout_ms)
        q->timeout_ms = env->opt.statement_timeout_ms;
    return 0;
}

/* Parses and checks a POST's body into q (q->root to be freed by the caller). */
static int parse_body(struct http_env *env, const char *body, size_t len, struct query_req *q,
                      struct http_err *e)
{
    json_error_t jerr;
    memset(q, 0, sizeof *q);
    q->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!q->root || !json_is_object(q->root)) {
        http_err_set(e, DUCKPOND_MISUSE, 400, "08P01", "the body must be a JSON object: %s",
                     q->root ? "it is not an object" : jerr.text);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(q->root, key, v) {
        if (strcmp(key, "sql") && strcmp(key, "params") && strcmp(key, "row_limit") &&
            strcmp(key, "timeout_ms")) {
            http_err_set(e, DUCKPOND_MISUSE, 400, "08P01",
                         "unknown member \"%.100s\" (expected sql, params, row_limit, timeout_ms)", key);
            return -1;
        }
    }
    return check_members(env, q, e);
}

/* A GET's arguments being gathered into the body a POST would send. */
struct args {
    json_t *root;
    struct http_err *e;
    bool bad;
};

/* The value of one GET argument as a body member; NULL with a->e set when it is bad. */
static json_t *arg_value(struct args *a, const char *key, const char *value)
{
    if (json_object_get(a->root, key)) {
        http_err_set(a->e, DUCKPOND_MISUSE, 400, "08P01", "argument \"%.100s\" is given twice", key);
        return NULL;
    }
    if (strcmp(key, "sql") == 0) {
        json_t *v = json_string(value);
        if (!v)
            http_err_set(a->e, DUCKPOND_MISUSE, 400, "22021", "\"sql\" is not valid UTF-8");
        return v;
    }
    if (strcmp(key, "params") == 0) {
        json_error_t jerr;
        json_t *v = json_loads(value, JSON_REJECT_DUPLICATES, &jerr);
        if (v && json_is_array(v))
            return v;
        http_err_set(a->e, DUCKPOND_MISUSE, 400, "08P01",
                     "\"params\" must be a JSON array, e.g. params=[\"ABC\",100]: %s",
                     v ? "it is not an array" : jerr.text);
        json_decref(v);
        return NULL;
    }
    if (strcmp(key, "row_limit") == 0 || strcmp(key, "timeout_ms") == 0) {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        json_t *v = *value && !*end && !errno ? json_integer(n) : json_false(); /* false: refused */
        if (!v)
            http_err_set(a->e, DUCKPOND_NOMEM, 500, "53200", "out of memory");
        return v;
    }
    http_err_set(a->e, DUCKPOND_MISUSE, 400, "08P01",
                 "unknown argument \"%.100s\" (expected sql, params, row_limit, timeout_ms, "
                 "format, after_seq)",
                 key);
    return NULL;
}

/* MHD's iterator over a GET's arguments (format and after_seq are read where they are used). */
static enum MHD_Result arg_member(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct args *a = cls;
    if (strcmp(key, "format") == 0 || strcmp(key, "after_seq") == 0)
        return MHD_YES;
    json_t *v = arg_value(a, key, value ? value : "");
    if (!v || json_object_set_new(a->root, key, v) != 0) {
        if (v) /* json_object_set_new freed it */
            http_err_set(a->e, DUCKPOND_NOMEM, 500, "53200", "out of memory");
        a->bad = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* Gathers and checks a GET's arguments into q (q->root to be freed by the caller). */
static int parse_args(struct http_env *env, struct MHD_Connection *c, struct query_req *q, struct http_err *e)
{
    memset(q, 0, sizeof *q);
    q->reads_only = true;
    q->root = json_object();
    if (!q->root) {
        http_err_set(e, DUCKPOND_NOMEM, 500, "53200", "out of memory");
        return -1;
    }
    struct args a = {q->root, e, false};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, arg_member, &a);
    return a.bad ? -1 : check_members(env, q, e);
}

/* ------------------------------------------------------ preparing */

/* The role a request runs with: its user's, or the server's trusted role without a users file. */
static enum access_role role_of(const struct http_env *env, const struct user *user)
{
    return user ? user_role(user) : env->opt.trust_role;
}

/* Whether the request's role may have DuckDB read this text (access_check_text). */
static bool text_allowed(const struct http_env *env, const char *sql, const struct user *user,
                         struct http_err *e)
{
    struct access_refusal why;
    if (access_check_text(role_of(env, user), sql, strlen(sql), &why) == 0)
        return true;
    http_err_set(e, DUCKPOND_READONLY, 403, why.sqlstate, "%s", why.message);
    return false;
}

/* Whether a statement of this type may run for this user over HTTP (a GET: reads_only). */
static bool statement_allowed(const struct http_env *env, duckdb_connection dc, duckdb_statement_type t,
                              const char *sql, const struct user *user, bool reads_only, struct http_err *e)
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
        http_err_set(e, DUCKPOND_MISUSE, 400, "0A000",
                     "%s statements are not served over HTTP: each request runs alone on a shared "
                     "connection (use the PostgreSQL protocol for sessions)",
                     http_stmt_kind(t));
        return false;
    default: break;
    }
    struct access_refusal why;
    if (access_check_type(role_of(env, user), t, sql, strlen(sql), dc, &why) != 0) {
        http_err_set(e, DUCKPOND_READONLY, 403, why.sqlstate, "%s", why.message);
        return false;
    }
    if (reads_only && t != DUCKDB_STATEMENT_TYPE_SELECT && t != DUCKDB_STATEMENT_TYPE_EXPLAIN) {
        http_err_set(e, DUCKPOND_READONLY, 405, "25006", "a GET only reads: send %s statements with POST",
                     http_stmt_kind(t));
        return false;
    }
    return true;
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
                          struct http_err *e)
{
    duckdb_statement_type t = duckdb_prepared_statement_type(qy->prep);
    if (!statement_allowed(qy->env, duckpond_conn_duckdb(qy->conn), t, q->sql, user, q->reads_only, e))
        return -1;
    /* tables mirrored from PostgreSQL are written by their sync alone */
    char schema[128], table[128];
    if (!access_type_is_read(t) && sqllex_write_target(q->sql, schema, sizeof schema, table, sizeof table) &&
        duckpond_db_protected(qy->env->db, *schema ? schema : NULL, table)) {
        http_err_set(e, DUCKPOND_PROTECTED, 403, "42501",
                     "table %s%s%s is mirrored from PostgreSQL and read-only for clients", schema,
                     *schema ? "." : "", table);
        return -1;
    }
    /* live bars: only the batcher writes tick and bar tables (HTTP ingest goes through it) */
    if (t != DUCKDB_STATEMENT_TYPE_SELECT && t != DUCKDB_STATEMENT_TYPE_EXPLAIN &&
        duckpond_bars_check(qy->conn, q->sql) != DUCKPOND_OK) {
        http_err_set(e, DUCKPOND_READONLY, 409, "55000", "%s", duckpond_conn_errmsg(qy->conn));
        return -1;
    }
    return http_stmt_bind(qy->prep, q->params, e);
}

/*
 * Finds or prepares the one statement of q, then checks and binds it. A
 * new statement is prepared (http_stmt_prepare) and kept in the
 * connection's cache.
 */
static int prepare(struct query *qy, const struct query_req *q, const struct user *user, struct http_err *e)
{
    if (!text_allowed(qy->env, q->sql, user, e))
        return -1;
    qy->cache = cache_of(qy->env, qy->conn);
    qy->prep = cache_find(qy->cache, q->sql);
    if (qy->prep) {
        qy->prep_cached = true;
        return check_and_bind(qy, q, user, e);
    }
    if (http_stmt_prepare(duckpond_conn_duckdb(qy->conn), q->sql, &qy->prep, e) != 0) {
        /* a write to a live bars view fails to bind: say why, as for the bars' tables */
        if (duckpond_bars_check(qy->conn, q->sql) != DUCKPOND_OK)
            http_err_set(e, DUCKPOND_READONLY, 409, "55000", "%s", duckpond_conn_errmsg(qy->conn));
        return -1;
    }
    qy->prep_cached = cache_put(qy->cache, q->sql, qy->prep);
    return check_and_bind(qy, q, user, e);
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
static int execute(struct query *qy, struct http_err *e)
{
    bool retryable = duckdb_prepared_statement_type(qy->prep) != DUCKDB_STATEMENT_TYPE_SELECT;
    for (int attempt = 1;; attempt++) {
        if (duckdb_execute_prepared_streaming(qy->prep, &qy->result) == DuckDBSuccess) {
            qy->have_result = true;
            qy->chunk = duckdb_fetch_chunk(qy->result);
            const char *msg = qy->chunk ? NULL : duckdb_result_error(&qy->result);
            if (!msg)
                return 0;
            http_err_duckdb(e, duckdb_result_error_type(&qy->result), msg);
        } else {
            http_err_duckdb(e, duckdb_result_error_type(&qy->result), duckdb_result_error(&qy->result));
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
static int resolve_types(struct query *qy, struct http_err *e)
{
    qy->ncols = duckdb_column_count(&qy->result);
    qy->types = calloc(qy->ncols ? qy->ncols : 1, sizeof *qy->types);
    if (!qy->types) {
        http_err_set(e, DUCKPOND_NOMEM, 500, "53200", "out of memory");
        return -1;
    }
    for (idx_t i = 0; i < qy->ncols; i++) {
        duckdb_logical_type t = duckdb_column_logical_type(&qy->result, i);
        char why[256];
        int rc = http_rtype_new(t, &qy->types[i], why, sizeof why);
        duckdb_destroy_logical_type(&t);
        if (rc != 0) {
            http_err_set(e, DUCKPOND_MISUSE, 400, "0A000", "column \"%s\": %s",
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
        struct http_err e;
        http_err_duckdb(&e, duckdb_result_error_type(&qy->result), msg);
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

/*
 * The answer's format: the argument ?format= (json, ndjson, csv, parquet)
 * when there is one, else the Accept header (JSON unless it asks for
 * another). 0, or -1 with e for a format that does not exist.
 */
static int format_of(struct MHD_Connection *c, enum query_format *out, struct http_err *e)
{
    static const char *const names[] = {[FORMAT_JSON] = "json",
                                        [FORMAT_NDJSON] = "ndjson",
                                        [FORMAT_CSV] = "csv",
                                        [FORMAT_PARQUET] = "parquet"};
    const char *arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    *out = FORMAT_JSON;
    if (arg) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcasecmp(arg, names[i]) == 0)
                return *out = (enum query_format)i, 0;
        http_err_set(e, DUCKPOND_MISUSE, 400, "22023",
                     "unknown format \"%.40s\" (expected json, ndjson, csv or parquet)", arg);
        return -1;
    }
    if (accept && strstr(accept, HTTP_PARQUET_TYPE))
        *out = FORMAT_PARQUET;
    else if (accept && strstr(accept, "text/csv"))
        *out = FORMAT_CSV;
    else if (accept && strstr(accept, "application/x-ndjson"))
        *out = FORMAT_NDJSON;
    return 0;
}

static const char *const content_types[] = {
    [FORMAT_JSON] = "application/json",
    [FORMAT_NDJSON] = "application/x-ndjson",
    [FORMAT_CSV] = "text/csv; charset=utf-8; header=present",
    [FORMAT_PARQUET] = HTTP_PARQUET_TYPE, /* sent by http_parquet.c */
};

/* Queues the streamed answer of a query that has its first chunk. */
static enum MHD_Result start_answer(struct query *qy, struct MHD_Connection *c)
{
    write_head(qy);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, QUERY_BLOCK_SIZE, read_answer, qy, query_free);
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
static int wait_after_seq(struct http_env *env, struct MHD_Connection *c, long timeout_ms, struct http_err *e)
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
        http_err_set(e, DUCKPOND_MISUSE, 400, "22023",
                     "Duckpond-After-Seq must be a journal sequence number, not \"%.60s\"", v);
        return -1;
    }
    int ms = timeout_ms < QUERY_APPLIED_WAIT_MS ? (int)timeout_ms : QUERY_APPLIED_WAIT_MS;
    int rc = duckpond_batcher_wait_applied(env->batcher, (uint64_t)seq, ms);
    if (rc == DUCKPOND_TIMEOUT)
        http_err_set(e, rc, 504, "57014",
                     "canceling statement: the journaled writes up to sequence %llu were not applied "
                     "within %d ms; they are durable, try again",
                     seq, ms);
    else if (rc == DUCKPOND_MISUSE)
        http_err_set(e, rc, 400, "22023", "journal sequence number %llu was never handed out", seq);
    else if (rc != DUCKPOND_OK)
        http_err_set(e, rc, 0, NULL, "the journaled writes up to sequence %llu cannot be applied now: %s",
                     seq, duckpond_strerror(rc));
    return rc == DUCKPOND_OK ? 0 : -1;
}

/*
 * The answer as a Parquet file (http_parquet.c): the rows of a query only.
 * Frees qy and q->root. Returns MHD's result.
 */
static enum MHD_Result answer_parquet(struct query *qy, struct MHD_Connection *c, struct query_req *q,
                                      int64_t deadline)
{
    struct http_err e;
    enum MHD_Result ret = MHD_NO;
    duckdb_statement_type t = duckdb_prepared_statement_type(qy->prep);
    int rc = -1;
    if (t != DUCKDB_STATEMENT_TYPE_SELECT)
        http_err_set(&e, DUCKPOND_MISUSE, 400, "0A000",
                     "a Parquet answer holds the rows of a query (SELECT, FROM, VALUES, WITH...), "
                     "not of a %s statement",
                     http_stmt_kind(t));
    else
        rc = http_parquet_answer(qy->env, c, duckpond_conn_duckdb(qy->conn), q->sql, q->params, qy->row_limit,
                                 deadline, &ret, &e);
    json_decref(q->root);
    query_free(qy); /* the file outlives the pooled connection */
    return rc == 0 ? ret : http_send_error(c, e.http, e.code, e.sqlstate, e.message);
}

/* Runs the statement of a parsed request (q->root taken) and queues its answer. */
static enum MHD_Result run(struct http_env *env, struct MHD_Connection *c, const struct user *user,
                           struct query_req *q)
{
    struct http_err e;
    struct query *qy = calloc(1, sizeof *qy);
    if (!qy) {
        json_decref(q->root);
        return http_send_error(c, 0, DUCKPOND_NOMEM, NULL, NULL);
    }
    qy->env = env;
    qy->row_limit = q->row_limit;
    /* the timeout covers waiting for a pooled connection and running */
    int64_t deadline = http_now_ms() + q->timeout_ms;
    if (format_of(c, &qy->format, &e) != 0 || wait_after_seq(env, c, q->timeout_ms, &e) != 0)
        goto fail;
    int rc = duckpond_pool_get(env->pool, (int)(deadline > http_now_ms() ? deadline - http_now_ms() : 0),
                               &qy->conn);
    if (rc != DUCKPOND_OK) {
        http_err_set(&e, DUCKPOND_OVERLOADED, 503, "53300",
                     "every database connection (%d) stayed busy for the statement timeout; try again",
                     env->pool_size);
        goto fail;
    }
    if (prepare(qy, q, user, &e) != 0)
        goto fail;
    metrics_statement(http_stmt_kind(duckdb_prepared_statement_type(qy->prep)));
    if (qy->format == FORMAT_PARQUET)
        return answer_parquet(qy, c, q, deadline);
    qy->hc = http_watchdog_query_begin(env->watchdog, c, duckpond_conn_duckdb(qy->conn), deadline);
    int failed = execute(qy, &e) != 0;
    if (!duckpond_statement_keeps_catalog(duckdb_prepared_statement_type(qy->prep)))
        duckpond_batcher_schema_changed(env->batcher); /* cached column types and INSERT shapes go */
    if (failed || resolve_types(qy, &e) != 0)
        goto fail;
    json_decref(q->root);
    return start_answer(qy, c);
fail:
    json_decref(q->root);
    query_free(qy);
    return http_send_error(c, e.http, e.code, e.sqlstate, e.message);
}

enum MHD_Result http_query(struct http_env *env, struct MHD_Connection *c, const struct user *user,
                           const char *body, size_t len)
{
    struct query_req q;
    struct http_err e;
    if (parse_body(env, body, len, &q, &e) != 0) {
        json_decref(q.root);
        return http_send_error(c, e.http, e.code, e.sqlstate, e.message);
    }
    return run(env, c, user, &q);
}

enum MHD_Result http_query_get(struct http_env *env, struct MHD_Connection *c, const struct user *user)
{
    struct query_req q;
    struct http_err e;
    if (parse_args(env, c, &q, &e) != 0) {
        json_decref(q.root);
        return http_send_error(c, e.http, e.code, e.sqlstate, e.message);
    }
    return run(env, c, user, &q);
}
