/*
 * db.c -- opening a DuckDB database from a config, and connections.
 *
 * A duckpond_db wraps a duckdb_database with the path it was opened with
 * and the message of a failed open; a duckpond_conn wraps a
 * duckdb_connection with the message of its last failed call. Both follow
 * the library's rules: every call returns a status, messages belong to the
 * handle, nothing aborts.
 *
 * The database handle also keeps what duckpond.h's lifetime rules need:
 * how many connections, pools and batchers are open on it (duckpond_close
 * refuses while any is), and the process that opened it (a child after
 * fork may not free or make handles). A connection knows whether a
 * transaction may be open on it, since DuckDB cannot be asked.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbint.h"

struct config_item {
    char *name;
    char *value;
};

struct duckpond_config {
    struct config_item *items;
    size_t n, cap;
};

int duckpond_config_new(duckpond_config **out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    *out = calloc(1, sizeof **out);
    return *out ? DUCKPOND_OK : DUCKPOND_NOMEM;
}

void duckpond_config_free(duckpond_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->items[i].name);
        free(cfg->items[i].value);
    }
    free(cfg->items);
    free(cfg);
}

int duckpond_config_set(duckpond_config *cfg, const char *name, const char *value)
{
    if (!cfg || !name || !*name || !value)
        return DUCKPOND_MISUSE;
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->items[i].name, name) == 0) {
            char *v = strdup(value);
            if (!v)
                return DUCKPOND_NOMEM;
            free(cfg->items[i].value);
            cfg->items[i].value = v;
            return DUCKPOND_OK;
        }
    }
    if (dp_grow(&cfg->items, &cfg->cap, cfg->n + 1, sizeof *cfg->items) != 0)
        return DUCKPOND_NOMEM;
    struct config_item *it = &cfg->items[cfg->n];
    it->name = strdup(name);
    it->value = strdup(value);
    if (!it->name || !it->value) {
        free(it->name);
        free(it->value);
        return DUCKPOND_NOMEM;
    }
    cfg->n++;
    return DUCKPOND_OK;
}

bool dp_forked(const duckpond_db *db)
{
    return db->pid != getpid();
}

void dp_count(int *count, int n)
{
    __atomic_add_fetch(count, n, __ATOMIC_RELAXED);
}

void dp_set_msg(char **slot, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = dp_vasprintf(fmt, ap);
    va_end(ap);
    free(*slot);
    *slot = msg;
}

/* Checks the path before DuckDB sees it, for messages DuckDB would word worse. */
static int check_path(duckpond_db *db, const char *path)
{
    if (!path) {
        dp_set_msg(&db->errmsg, "database path is NULL");
        return DUCKPOND_MISUSE;
    }
    if (!*path) {
        dp_set_msg(&db->errmsg, "database path is empty (use \":memory:\" for an in-memory database)");
        return DUCKPOND_MISUSE;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        dp_set_msg(&db->errmsg, "database path \"%s\" is a directory", path);
        return DUCKPOND_IO;
    }
    return DUCKPOND_OK;
}

static int make_duckdb_config(duckpond_db *db, const duckpond_config *cfg, duckdb_config *out)
{
    if (duckdb_create_config(out) == DuckDBError) {
        dp_set_msg(&db->errmsg, "cannot create a DuckDB config");
        return DUCKPOND_NOMEM;
    }
    for (size_t i = 0; cfg && i < cfg->n; i++) {
        if (duckdb_set_config(*out, cfg->items[i].name, cfg->items[i].value) == DuckDBError) {
            dp_set_msg(&db->errmsg, "bad database option %s = \"%s\"", cfg->items[i].name,
                       cfg->items[i].value);
            duckdb_destroy_config(out);
            return DUCKPOND_MISUSE;
        }
    }
    return DUCKPOND_OK;
}

int duckpond_open(const char *path, const duckpond_config *cfg, duckpond_db **out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    duckpond_db *db = calloc(1, sizeof *db);
    *out = db;
    if (!db)
        return DUCKPOND_NOMEM;
    db->pid = getpid();
    pthread_mutex_init(&db->protect_mu, NULL);
    dp_lane_init(&db->lane);
    pthread_mutex_init(&db->bars_names.mu, NULL);
    int rc = check_path(db, path);
    if (rc != DUCKPOND_OK)
        return rc;
    db->path = strdup(path);
    if (!db->path)
        return DUCKPOND_NOMEM;
    duckdb_config config;
    rc = make_duckdb_config(db, cfg, &config);
    if (rc != DUCKPOND_OK)
        return rc;
    char *err = NULL;
    const char *duck_path = strcmp(path, ":memory:") == 0 ? NULL : path;
    if (duckdb_open_ext(duck_path, &db->duck, config, &err) == DuckDBError) {
        /* DuckDB gives no error type on open: classify by the message. */
        rc = duckpond_classify(DUCKDB_ERROR_INVALID, err);
        if (rc == DUCKPOND_ERROR && err && strstr(err, "IO Error"))
            rc = DUCKPOND_IO;
        if (rc == DUCKPOND_ERROR && err && strstr(err, "not recognized"))
            rc = DUCKPOND_MISUSE;
        dp_set_msg(&db->errmsg, "cannot open \"%s\": %s", path, err ? err : "unknown error");
        duckdb_free(err);
        db->duck = NULL;
    }
    duckdb_destroy_config(&config);
    return rc;
}

/* Whether anything made from db is still open; if so, db's message says what. */
static bool still_open(duckpond_db *db)
{
    int conns = __atomic_load_n(&db->open_conns, __ATOMIC_ACQUIRE);
    int pools = __atomic_load_n(&db->open_pools, __ATOMIC_ACQUIRE);
    int batchers = __atomic_load_n(&db->open_batchers, __ATOMIC_ACQUIRE);
    if (!conns && !pools && !batchers)
        return false;
    dp_set_msg(&db->errmsg,
               "cannot close \"%s\": still open: %d batchers, %d pools, %d connections (with those the "
               "pools and batchers hold); free them first",
               db->path ? db->path : "", batchers, pools, conns);
    return true;
}

int duckpond_close(duckpond_db *db)
{
    if (!db)
        return DUCKPOND_OK;
    if (dp_forked(db) || still_open(db))
        return DUCKPOND_MISUSE; /* nothing closed: the caller may free the rest and try again */
    if (db->duck)
        duckdb_close(&db->duck);
    for (size_t i = 0; i < db->nprotected; i++)
        free(db->protected_tables[i]);
    free(db->protected_tables);
    pthread_mutex_destroy(&db->protect_mu);
    dp_lane_destroy(&db->lane);
    for (size_t i = 0; i < db->bars_names.count; i++)
        free(db->bars_names.names[i]);
    free(db->bars_names.names);
    pthread_mutex_destroy(&db->bars_names.mu);
    free(db->path);
    free(db->errmsg);
    free(db);
    return DUCKPOND_OK;
}

const char *duckpond_db_errmsg(const duckpond_db *db)
{
    return db && db->errmsg ? db->errmsg : "";
}

duckdb_database duckpond_db_duckdb(duckpond_db *db)
{
    return db ? db->duck : NULL;
}

const char *duckpond_db_path(const duckpond_db *db)
{
    return db ? db->path : NULL;
}

/* "schema.table" in lower case, as the protected list holds names; NULL when memory runs out. */
static char *protect_key(const char *schema, const char *table)
{
    char *k = dp_asprintf("%s.%s", schema ? schema : "*", table);
    for (char *p = k; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return k;
}

/* The index of key in db's protected list, or -1; under protect_mu. A key "*.t" matches t in any schema. */
static long protect_find(duckpond_db *db, const char *key)
{
    bool any = !strncmp(key, "*.", 2);
    for (size_t i = 0; i < db->nprotected; i++) {
        const char *p = db->protected_tables[i], *dot = strchr(p, '.');
        if (any ? dot && !strcmp(dot + 1, key + 2) : !strcmp(p, key))
            return (long)i;
    }
    return -1;
}

int duckpond_db_protect(duckpond_db *db, const char *schema, const char *table, bool on)
{
    if (!db || !table || !schema)
        return DUCKPOND_MISUSE;
    char *key = protect_key(schema, table);
    if (!key)
        return DUCKPOND_NOMEM;
    int rc = DUCKPOND_OK;
    pthread_mutex_lock(&db->protect_mu);
    long i = protect_find(db, key);
    if (on && i < 0) {
        if (dp_grow(&db->protected_tables, &db->protected_cap, db->nprotected + 1, sizeof(char *)) == 0) {
            db->protected_tables[db->nprotected++] = key;
            key = NULL;
        } else {
            rc = DUCKPOND_NOMEM;
        }
    } else if (!on && i >= 0) {
        free(db->protected_tables[i]);
        db->protected_tables[i] = db->protected_tables[--db->nprotected];
    }
    pthread_mutex_unlock(&db->protect_mu);
    free(key);
    return rc;
}

bool duckpond_db_protected(duckpond_db *db, const char *schema, const char *table)
{
    if (!db || !table)
        return false;
    char *key = protect_key(schema, table);
    pthread_mutex_lock(&db->protect_mu);
    bool found = key && protect_find(db, key) >= 0;
    pthread_mutex_unlock(&db->protect_mu);
    free(key);
    return found;
}

int duckpond_connect(duckpond_db *db, duckpond_conn **out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    *out = NULL;
    if (!db || !db->duck || dp_forked(db))
        return DUCKPOND_MISUSE;
    duckpond_conn *conn = calloc(1, sizeof *conn);
    if (!conn)
        return DUCKPOND_NOMEM;
    if (duckdb_connect(db->duck, &conn->duck) == DuckDBError) {
        free(conn);
        return DUCKPOND_ERROR;
    }
    conn->db = db;
    dp_count(&db->open_conns, 1);
    *out = conn;
    return DUCKPOND_OK;
}

int duckpond_disconnect(duckpond_conn *conn)
{
    if (!conn)
        return DUCKPOND_OK;
    if (conn->pool || dp_forked(conn->db))
        return DUCKPOND_MISUSE; /* a pooled connection goes back with duckpond_pool_put */
    if (conn->rollback)
        duckdb_destroy_prepare(&conn->rollback);
    if (conn->apply_free)
        conn->apply_free(conn);     /* its prepared statements go before the connection */
    duckdb_disconnect(&conn->duck); /* rolls back an open transaction */
    duckpond_lane_leave(conn);      /* after the rollback: the next writer sees none of it */
    dp_count(&conn->db->open_conns, -1);
    free(conn->errmsg);
    free(conn);
    return DUCKPOND_OK;
}

const char *duckpond_conn_errmsg(const duckpond_conn *conn)
{
    return conn && conn->errmsg ? conn->errmsg : "";
}

duckdb_connection duckpond_conn_duckdb(duckpond_conn *conn)
{
    if (!conn)
        return NULL;
    conn->raw = true; /* what runs on it now is out of our sight */
    return conn->duck;
}

int duckpond_conn_fail(duckpond_conn *conn, duckdb_error_type type, const char *message)
{
    int rc = duckpond_classify(type, message);
    if (rc == DUCKPOND_OK)
        rc = DUCKPOND_ERROR;
    if (conn)
        dp_set_msg(&conn->errmsg, "%s", message ? message : duckpond_strerror(rc));
    return rc;
}

/*
 * DuckDB gives no way to ask whether a transaction is open, and a BEGIN
 * inside one fails and aborts it. So look only when one may be open, and
 * then without failing: inside a transaction every statement sees the same
 * transaction id, outside each statement has its own.
 */
int dp_no_transaction(duckpond_conn *conn, const char *who)
{
    if (!conn->raw && !conn->tx_maybe_open)
        return DUCKPOND_OK;
    int64_t first = 0, second = 0;
    int rc = duckpond_query_int64(conn, "SELECT txid_current()", &first);
    if (rc == DUCKPOND_OK)
        rc = duckpond_query_int64(conn, "SELECT txid_current()", &second);
    if (rc == DUCKPOND_OK && first != second) {
        conn->tx_maybe_open = false;
        return DUCKPOND_OK;
    }
    if (rc == DUCKPOND_OK || strstr(duckpond_conn_errmsg(conn), "transaction is aborted")) {
        dp_set_msg(&conn->errmsg, "%s: the connection is in a transaction already (left as it was)", who);
        return DUCKPOND_MISUSE;
    }
    return rc;
}

/* Runs sql into *res; on failure records the error and destroys *res. */
static int run(duckpond_conn *conn, const char *sql, duckdb_result *res)
{
    if (!conn || !sql)
        return DUCKPOND_MISUSE;
    if (!conn->tx_maybe_open && (strcasestr(sql, "begin") || strcasestr(sql, "start")))
        conn->tx_maybe_open = true; /* BEGIN or START TRANSACTION, perhaps */
    if (duckdb_query(conn->duck, sql, res) == DuckDBError) {
        int rc = duckpond_conn_fail(conn, duckdb_result_error_type(res), duckdb_result_error(res));
        duckdb_destroy_result(res);
        return rc;
    }
    return DUCKPOND_OK;
}

int duckpond_exec(duckpond_conn *conn, const char *sql)
{
    duckdb_result res;
    int rc = run(conn, sql, &res);
    if (rc == DUCKPOND_OK)
        duckdb_destroy_result(&res);
    return rc;
}

int duckpond_query_int64(duckpond_conn *conn, const char *sql, int64_t *out)
{
    if (!out)
        return DUCKPOND_MISUSE;
    duckdb_result res;
    int rc = run(conn, sql, &res);
    if (rc != DUCKPOND_OK)
        return rc;
    if (duckdb_column_count(&res) < 1 || duckdb_row_count(&res) < 1) {
        dp_set_msg(&conn->errmsg, "query returned no rows");
        rc = DUCKPOND_NOTFOUND;
    } else {
        *out = duckdb_value_is_null(&res, 0, 0) ? 0 : duckdb_value_int64(&res, 0, 0);
    }
    duckdb_destroy_result(&res);
    return rc;
}
