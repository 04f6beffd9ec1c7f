/*
 * test_core.c -- libduckpond's foundation against a real DuckDB: opening,
 * error classes, concurrent writers on threads, conflicts and the retry
 * helper, the cross-process lock, snapshots, the pool, the lock-file writer;
 * and what duckpond.h promises about versions, lifetimes, transactions
 * and fork.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/file.h>

#include "duckpond.h"
#include "testlib.h"

/* Opens path (a file in the test directory) or fails the test. */
#define OPEN(path, dbp)                                                            \
    do {                                                                           \
        int orc_ = duckpond_open((path), NULL, (dbp));                             \
        if (orc_ != DUCKPOND_OK) {                                                 \
            test_fail(__FILE__, __LINE__, "open: %s", duckpond_db_errmsg(*(dbp))); \
            return;                                                                \
        }                                                                          \
    } while (0)

static int64_t count_of(duckpond_db *db, const char *sql)
{
    duckpond_conn *c;
    int64_t n = -1;
    if (duckpond_connect(db, &c) != DUCKPOND_OK)
        return -1;
    if (duckpond_query_int64(c, sql, &n) != DUCKPOND_OK)
        n = -1;
    duckpond_disconnect(c);
    return n;
}

static void test_open_bad_input(void)
{
    duckpond_db *db = NULL;
    CHECK_EQ_INT(duckpond_open(NULL, NULL, &db), DUCKPOND_MISUSE);
    CHECK_STR_CONTAINS(duckpond_db_errmsg(db), "NULL");
    duckpond_close(db);

    CHECK_EQ_INT(duckpond_open("", NULL, &db), DUCKPOND_MISUSE);
    CHECK_STR_CONTAINS(duckpond_db_errmsg(db), "empty");
    duckpond_close(db);

    CHECK_EQ_INT(duckpond_open(test_dir, NULL, &db), DUCKPOND_IO);
    CHECK_STR_CONTAINS(duckpond_db_errmsg(db), "is a directory");
    duckpond_close(db);

    const char *junk = test_path("junk.duckdb");
    FILE *f = fopen(junk, "w");
    CHECK(f);
    for (int i = 0; i < 1000; i++)
        fputs("this is not a database ", f);
    fclose(f);
    CHECK_EQ_INT(duckpond_open(junk, NULL, &db), DUCKPOND_IO);
    CHECK_STR_CONTAINS(duckpond_db_errmsg(db), "not a valid DuckDB database");
    duckpond_close(db);

    duckpond_config *cfg;
    CHECK_OK(duckpond_config_new(&cfg));
    CHECK_EQ_INT(duckpond_config_set(cfg, "", "1"), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_config_set(cfg, NULL, "1"), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_config_set(cfg, "x", NULL), DUCKPOND_MISUSE);
    CHECK_OK(duckpond_config_set(cfg, "no_such_option", "1"));
    CHECK_EQ_INT(duckpond_open(test_path("a.duckdb"), cfg, &db), DUCKPOND_MISUSE);
    CHECK_STR_CONTAINS(duckpond_db_errmsg(db), "no_such_option");
    duckpond_close(db);
    duckpond_config_free(cfg);

    CHECK_EQ_INT(duckpond_connect(NULL, NULL), DUCKPOND_MISUSE);
    duckpond_conn *c = (duckpond_conn *)1;
    CHECK_EQ_INT(duckpond_connect(NULL, &c), DUCKPOND_MISUSE);
    CHECK(c == NULL);
    CHECK_EQ_INT(duckpond_exec(NULL, "select 1"), DUCKPOND_MISUSE);
}

static void test_open_config(void)
{
    duckpond_config *cfg;
    duckpond_db *db;
    CHECK_OK(duckpond_config_new(&cfg));
    CHECK_OK(duckpond_config_set(cfg, "threads", "2"));
    CHECK_OK(duckpond_config_set(cfg, "memory_limit", "256MB"));
    CHECK_OK(duckpond_config_set(cfg, "threads", "3")); /* the last value wins */
    int rc = duckpond_open(":memory:", cfg, &db);
    duckpond_config_free(cfg);
    CHECK_EQ_INT(rc, DUCKPOND_OK);
    CHECK_EQ_INT(count_of(db, "SELECT current_setting('threads')"), 3);
    CHECK_EQ_INT(count_of(db, "SELECT current_setting('memory_limit') LIKE '2%MiB'"), 1);
    duckpond_close(db);
}

/* Each statement's DuckDB error must land in the right class and SQLSTATE. */
static void test_error_classes(void)
{
    static const struct {
        const char *sql;
        int status;
        const char *sqlstate;
    } cases[] = {
        {"INSERT INTO t VALUES (1, 1)", DUCKPOND_CONSTRAINT, "23505"},
        {"INSERT INTO t VALUES (2, NULL)", DUCKPOND_CONSTRAINT, "23502"},
        {"INSERT INTO t VALUES (3, -5)", DUCKPOND_CONSTRAINT, "23514"},
        {"SELECT * FROM no_such_table", DUCKPOND_SYNTAX, "42P01"},
        {"SELECT no_such_column FROM t", DUCKPOND_SYNTAX, "42703"},
        {"SELEC 1", DUCKPOND_SYNTAX, "42601"},
        {"SELECT no_such_function(1)", DUCKPOND_SYNTAX, "42883"},
        {"SELECT 'abc'::INTEGER", DUCKPOND_CONVERSION, "22P02"},
        {"CREATE TABLE t (x INT)", DUCKPOND_SYNTAX, "42P07"},
    };
    duckpond_db *db;
    duckpond_conn *c;
    OPEN(test_path("e.duckdb"), &db);
    CHECK_OK(duckpond_connect(db, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL CHECK (v >= 0));"
                              "INSERT INTO t VALUES (1, 1)"));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = duckpond_exec(c, cases[i].sql);
        if (rc != cases[i].status)
            fprintf(stderr, "    %s: %s\n", cases[i].sql, duckpond_conn_errmsg(c));
        CHECK_EQ_INT(rc, cases[i].status);
        const char *state = duckpond_sqlstate(rc, duckpond_conn_errmsg(c));
        if (strcmp(state, cases[i].sqlstate) != 0)
            fprintf(stderr, "    %s: %s -> %s\n", cases[i].sql, duckpond_conn_errmsg(c), state);
        CHECK(strcmp(state, cases[i].sqlstate) == 0);
    }
    CHECK_EQ_INT(duckpond_classify(DUCKDB_ERROR_INTERRUPT, "INTERRUPT Error: Interrupted!"),
                 DUCKPOND_INTERRUPTED);
    CHECK(strcmp(duckpond_sqlstate(DUCKPOND_INTERRUPTED, NULL), "57014") == 0);
    CHECK_EQ_INT(duckpond_classify(DUCKDB_ERROR_FATAL, "FATAL Error: ..."), DUCKPOND_INVALIDATED);
    CHECK_EQ_INT(duckpond_classify(DUCKDB_ERROR_INVALID,
                                   "Invalid Input Error: database has been invalidated because of a "
                                   "previous fatal error"),
                 DUCKPOND_INVALIDATED);
    CHECK(strcmp(duckpond_sqlstate(DUCKPOND_LOCKED, NULL), "55P03") == 0);
    CHECK(strcmp(duckpond_sqlstate(DUCKPOND_ERROR, NULL), "XX000") == 0);
    CHECK(strcmp(duckpond_strerror(DUCKPOND_CONFLICT), "transaction conflict; retry") == 0);
    CHECK_EQ_INT(duckpond_lock_holder_pid("Conflicting lock is held in /x/y (PID 4242) by user"), 4242);
    CHECK_EQ_INT(duckpond_lock_holder_pid("no pid here"), 0);
    /* the error type of a message that came alone, as a prepare gives it */
    duckdb_prepared_statement ps = NULL;
    CHECK(duckdb_prepare(duckpond_conn_duckdb(c), "SELECT * FROM no_such_table", &ps) == DuckDBError);
    CHECK_EQ_INT(duckpond_error_type_of(duckdb_prepare_error(ps)), DUCKDB_ERROR_CATALOG);
    duckdb_destroy_prepare(&ps);
    CHECK_EQ_INT(duckpond_error_type_of("Parser Error: syntax error at or near \"x\""), DUCKDB_ERROR_PARSER);
    CHECK_EQ_INT(duckpond_error_type_of("Not implemented Error: x"), DUCKDB_ERROR_NOT_IMPLEMENTED);
    CHECK_EQ_INT(duckpond_error_type_of("conversion error: x"), DUCKDB_ERROR_CONVERSION);
    CHECK_EQ_INT(duckpond_error_type_of("something else"), DUCKDB_ERROR_INVALID);
    CHECK_EQ_INT(duckpond_error_type_of(NULL), DUCKDB_ERROR_INVALID);
    duckpond_disconnect(c);
    duckpond_close(db);
}

/* ---- concurrent writers on threads ---- */

enum { N_THREADS = 8, ROWS_PER_THREAD = 200 };

struct worker {
    duckpond_db *db;
    int id;
    int rc;
    int attempts_total;
    int conflicts;
};

/* Appends ROWS_PER_THREAD rows to table t<id % tables>, through DuckDB's appender. */
static int tables_for_append;

static void *append_worker(void *arg)
{
    struct worker *w = arg;
    duckpond_conn *c;
    if ((w->rc = duckpond_connect(w->db, &c)) != DUCKPOND_OK)
        return NULL;
    char table[16];
    snprintf(table, sizeof table, "t%d", w->id % tables_for_append);
    duckdb_appender app;
    if (duckdb_appender_create(duckpond_conn_duckdb(c), NULL, table, &app) == DuckDBError) {
        w->rc = DUCKPOND_ERROR;
    } else {
        for (int i = 0; i < ROWS_PER_THREAD; i++) {
            duckdb_append_int32(app, w->id);
            duckdb_append_int32(app, i);
            duckdb_appender_end_row(app);
            if (i % 50 == 49 && duckdb_appender_flush(app) == DuckDBError)
                w->rc = DUCKPOND_ERROR;
        }
        if (duckdb_appender_destroy(&app) == DuckDBError)
            w->rc = DUCKPOND_ERROR;
    }
    /* and some plain INSERT statements beside the appender */
    for (int i = 0; i < 20 && w->rc == DUCKPOND_OK; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (%d, %d)", table, w->id, 1000 + i);
        w->rc = duckpond_exec(c, sql);
    }
    duckpond_disconnect(c);
    return NULL;
}

static void run_threads(void *(*fn)(void *), struct worker *ws, duckpond_db *db)
{
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        ws[i] = (struct worker){.db = db, .id = i};
        pthread_create(&th[i], NULL, fn, &ws[i]);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
}

static void check_appends(int tables)
{
    duckpond_db *db;
    duckpond_conn *c;
    OPEN(test_path("append.duckdb"), &db);
    CHECK_OK(duckpond_connect(db, &c));
    for (int t = 0; t < tables; t++) {
        char sql[64];
        snprintf(sql, sizeof sql, "CREATE TABLE t%d (writer INT, seq INT)", t);
        CHECK_OK(duckpond_exec(c, sql));
    }
    tables_for_append = tables;
    struct worker ws[N_THREADS];
    run_threads(append_worker, ws, db);
    for (int i = 0; i < N_THREADS; i++)
        CHECK_EQ_INT(ws[i].rc, DUCKPOND_OK);
    int64_t total = 0;
    for (int t = 0; t < tables; t++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM t%d", t);
        int64_t n;
        CHECK_OK(duckpond_query_int64(c, sql, &n));
        CHECK_EQ_INT(n, (int64_t)(ROWS_PER_THREAD + 20) * (N_THREADS / tables));
        total += n;
        snprintf(sql, sizeof sql, "SELECT count(DISTINCT (writer, seq)) FROM t%d", t);
        CHECK_OK(duckpond_query_int64(c, sql, &n));
        CHECK_EQ_INT(n, (int64_t)(ROWS_PER_THREAD + 20) * (N_THREADS / tables));
    }
    CHECK_EQ_INT(total, (int64_t)(ROWS_PER_THREAD + 20) * N_THREADS);
    duckpond_disconnect(c);
    duckpond_close(db);
}

static void test_threads_append_same_table(void)
{
    check_appends(1);
}
static void test_threads_append_different_tables(void)
{
    check_appends(N_THREADS);
}

/* Each thread updates its own row 50 times, in autocommit. */
static void *update_own_row(void *arg)
{
    struct worker *w = arg;
    duckpond_conn *c;
    if ((w->rc = duckpond_connect(w->db, &c)) != DUCKPOND_OK)
        return NULL;
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE acct SET balance = balance + 1 WHERE id = %d", w->id);
    for (int i = 0; i < 50 && w->rc == DUCKPOND_OK; i++)
        w->rc = duckpond_exec(c, sql);
    duckpond_disconnect(c);
    return NULL;
}

static void test_threads_update_different_rows(void)
{
    duckpond_db *db;
    duckpond_conn *c;
    OPEN(test_path("upd.duckdb"), &db);
    CHECK_OK(duckpond_connect(db, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TABLE acct (id INT PRIMARY KEY, balance BIGINT);"
                              "INSERT INTO acct SELECT i, 0 FROM range(8) r(i)"));
    struct worker ws[N_THREADS];
    run_threads(update_own_row, ws, db);
    for (int i = 0; i < N_THREADS; i++)
        CHECK_EQ_INT(ws[i].rc, DUCKPOND_OK);
    int64_t n;
    CHECK_OK(duckpond_query_int64(c, "SELECT count(*) FROM acct WHERE balance = 50", &n));
    CHECK_EQ_INT(n, N_THREADS);
    duckpond_disconnect(c);
    duckpond_close(db);
}

/* The read-modify-write the seed's portfolio example does, made safe. */
static int increment_body(duckpond_conn *c, int attempt, void *arg)
{
    struct worker *w = arg;
    if (attempt > 1)
        w->conflicts++;
    int64_t v;
    int rc = duckpond_query_int64(c, "SELECT balance FROM acct WHERE id = 0", &v);
    if (rc != DUCKPOND_OK)
        return rc;
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE acct SET balance = %lld WHERE id = 0", (long long)(v + 1));
    return duckpond_exec(c, sql);
}

enum { INCREMENTS = 25 };

static void *increment_worker(void *arg)
{
    struct worker *w = arg;
    duckpond_conn *c;
    if ((w->rc = duckpond_connect(w->db, &c)) != DUCKPOND_OK)
        return NULL;
    duckpond_retry retry = DUCKPOND_RETRY_INIT(.max_attempts = 1000, .deadline_ms = 60000);
    for (int i = 0; i < INCREMENTS && w->rc == DUCKPOND_OK; i++) {
        int attempts;
        w->rc = duckpond_tx_run(c, &retry, increment_body, w, &attempts);
        w->attempts_total += attempts;
    }
    duckpond_disconnect(c);
    return NULL;
}

static void test_threads_increment_same_row_with_retry(void)
{
    duckpond_db *db;
    duckpond_conn *c;
    OPEN(test_path("inc.duckdb"), &db);
    CHECK_OK(duckpond_connect(db, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TABLE acct (id INT PRIMARY KEY, balance BIGINT);"
                              "INSERT INTO acct VALUES (0, 0)"));
    struct worker ws[N_THREADS];
    run_threads(increment_worker, ws, db);
    int conflicts = 0;
    for (int i = 0; i < N_THREADS; i++) {
        CHECK_EQ_INT(ws[i].rc, DUCKPOND_OK);
        conflicts += ws[i].conflicts;
    }
    int64_t v;
    CHECK_OK(duckpond_query_int64(c, "SELECT balance FROM acct WHERE id = 0", &v));
    CHECK_EQ_INT(v, N_THREADS * INCREMENTS);
    printf("    %d increments, %d conflicts retried\n", N_THREADS * INCREMENTS, conflicts);
    duckpond_disconnect(c);
    duckpond_close(db);
}

/* Without the helper, a conflict reaches the caller as DUCKPOND_CONFLICT. */
static void test_conflict_is_classified(void)
{
    duckpond_db *db;
    duckpond_conn *a, *b;
    OPEN(test_path("conf.duckdb"), &db);
    CHECK_OK(duckpond_connect(db, &a));
    CHECK_OK(duckpond_connect(db, &b));
    CHECK_OK(duckpond_exec(a, "CREATE TABLE acct (id INT PRIMARY KEY, balance BIGINT);"
                              "INSERT INTO acct VALUES (0, 0)"));
    CHECK_OK(duckpond_exec(a, "BEGIN; UPDATE acct SET balance = 1 WHERE id = 0"));
    CHECK_OK(duckpond_exec(b, "BEGIN"));
    int rc = duckpond_exec(b, "UPDATE acct SET balance = 2 WHERE id = 0");
    CHECK_EQ_INT(rc, DUCKPOND_CONFLICT);
    CHECK_STR_CONTAINS(duckpond_conn_errmsg(b), "Conflict");
    CHECK(strcmp(duckpond_sqlstate(rc, duckpond_conn_errmsg(b)), "40001") == 0);
    CHECK_OK(duckpond_exec(b, "ROLLBACK"));
    CHECK_OK(duckpond_exec(a, "COMMIT"));
    int64_t v;
    CHECK_OK(duckpond_query_int64(b, "SELECT balance FROM acct", &v));
    CHECK_EQ_INT(v, 1);
    duckpond_disconnect(a);
    duckpond_disconnect(b);
    duckpond_close(db);
}

static int bad_body(duckpond_conn *c, int attempt, void *arg)
{
    (*(int *)arg)++;
    return duckpond_exec(c, "INSERT INTO no_such_table VALUES (1)");
}

static int conflict_body(duckpond_conn *c, int attempt, void *arg)
{
    (*(int *)arg)++;
    return duckpond_conn_fail(c, DUCKDB_ERROR_TRANSACTION, "TransactionContext Error: Conflict on update!");
}

/* Other errors are not retried; conflicts stop at the attempt limit. */
static void test_tx_retry_bounds(void)
{
    duckpond_db *db;
    duckpond_conn *c;
    OPEN(":memory:", &db);
    CHECK_OK(duckpond_connect(db, &c));
    int calls = 0, attempts = 0;
    CHECK_EQ_INT(duckpond_tx_run(c, NULL, bad_body, &calls, &attempts), DUCKPOND_SYNTAX);
    CHECK_EQ_INT(calls, 1);
    CHECK_EQ_INT(attempts, 1);
    CHECK_STR_CONTAINS(duckpond_conn_errmsg(c), "no_such_table");
    calls = 0;
    duckpond_retry r = DUCKPOND_RETRY_INIT(.max_attempts = 5, .base_delay_us = 10, .max_delay_us = 100);
    CHECK_EQ_INT(duckpond_tx_run(c, &r, conflict_body, &calls, &attempts), DUCKPOND_CONFLICT);
    CHECK_EQ_INT(calls, 5);
    CHECK_EQ_INT(attempts, 5);
    CHECK_STR_CONTAINS(duckpond_conn_errmsg(c), "after 5 attempts");
    calls = 0;
    duckpond_retry d = DUCKPOND_RETRY_INIT(.max_attempts = 1000000, .base_delay_us = 1000,
                                           .max_delay_us = 5000, .deadline_ms = 50);
    CHECK_EQ_INT(duckpond_tx_run(c, &d, conflict_body, &calls, &attempts), DUCKPOND_CONFLICT);
    CHECK(calls > 1 && calls < 1000);
    CHECK_STR_CONTAINS(duckpond_conn_errmsg(c), "deadline");
    /* the connection is usable afterwards: no transaction left open */
    CHECK_OK(duckpond_exec(c, "BEGIN; COMMIT"));
    duckpond_disconnect(c);
    duckpond_close(db);
}

/* ---- processes ---- */

/* Forks a child that holds path open read-write until it reads from the
 * pipe; returns once the database is open. */
static pid_t hold_open(const char *path, int *release_fd)
{
    int ready[2], release[2];
    if (pipe(ready) != 0 || pipe(release) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(release[1]);
        duckpond_db *db;
        int rc = duckpond_open(path, NULL, &db);
        char c = rc == DUCKPOND_OK ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        if (read(release[0], &c, 1) < 0)
            _exit(2);
        duckpond_close(db);
        _exit(0);
    }
    char c = 0;
    if (read(ready[0], &c, 1) != 1 || c != 'y')
        return -1;
    close(ready[0]);
    close(ready[1]);
    close(release[0]);
    *release_fd = release[1];
    return pid;
}

static void test_second_process_gets_lock_class(void)
{
    const char *path = test_path("locked.duckdb");
    duckpond_db *db;
    OPEN(path, &db);
    duckpond_close(db);
    int release;
    pid_t holder = hold_open(path, &release);
    CHECK(holder > 0);
    CHECK_EQ_INT(duckpond_open(path, NULL, &db), DUCKPOND_LOCKED);
    const char *msg = duckpond_db_errmsg(db);
    CHECK_EQ_INT(duckpond_lock_holder_pid(msg), holder);
    CHECK(strcmp(duckpond_sqlstate(DUCKPOND_LOCKED, msg), "55P03") == 0);
    duckpond_close(db);
    /* even read-only is refused while a writer holds it */
    duckpond_config *ro;
    CHECK_OK(duckpond_config_new(&ro));
    CHECK_OK(duckpond_config_set(ro, "access_mode", "READ_ONLY"));
    CHECK_EQ_INT(duckpond_open(path, ro, &db), DUCKPOND_LOCKED);
    duckpond_close(db);
    close(release);
    int st;
    waitpid(holder, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* with the writer gone, read-only opens succeed, several at once */
    duckpond_db *r1, *r2;
    CHECK_OK(duckpond_open(path, ro, &r1));
    CHECK_OK(duckpond_open(path, ro, &r2));
    duckpond_close(r1);
    duckpond_close(r2);
    duckpond_config_free(ro);
}

/* Children open the snapshot READ_ONLY together and check what they see. */
static int read_snapshot_child(const char *path, int barrier_w, int go_r)
{
    duckpond_config *ro;
    duckpond_db *db;
    duckpond_conn *c;
    duckpond_config_new(&ro);
    duckpond_config_set(ro, "access_mode", "READ_ONLY");
    if (duckpond_open(path, ro, &db) != DUCKPOND_OK || duckpond_connect(db, &c) != DUCKPOND_OK) {
        fprintf(stderr, "    child: %s\n", duckpond_db_errmsg(db));
        return 1;
    }
    char x = 'r';
    if (write(barrier_w, &x, 1) != 1 || read(go_r, &x, 1) < 0) /* all open at once */
        return 1;
    int64_t rows, bad, sum;
    int rc = duckpond_query_int64(c, "SELECT count(*) FROM trades", &rows) ||
             duckpond_query_int64(c,
                                  "SELECT count(*) FROM trades t JOIN positions p USING (symbol) "
                                  "GROUP BY ALL HAVING 0 = 1",
                                  &bad) != DUCKPOND_NOTFOUND ||
             duckpond_query_int64(c,
                                  "SELECT (SELECT coalesce(sum(qty),0) FROM trades) - "
                                  "(SELECT coalesce(sum(qty),0) FROM positions)",
                                  &sum);
    int write_rc = duckpond_exec(c, "INSERT INTO trades VALUES ('X', 1)");
    duckpond_disconnect(c);
    duckpond_close(db);
    duckpond_config_free(ro);
    if (rc || sum != 0 || rows < 1000 || write_rc == DUCKPOND_OK) {
        fprintf(stderr, "    child: rc %d rows %lld sum diff %lld write %d\n", rc, (long long)rows,
                (long long)sum, write_rc);
        return 1;
    }
    return 0;
}

/* Trades and positions are changed together in transactions while the
 * snapshot is taken: a consistent snapshot keeps sum(trades) = sum(positions). */
static volatile int stop_writers;

static void *trade_writer(void *arg)
{
    struct worker *w = arg;
    duckpond_conn *c;
    if ((w->rc = duckpond_connect(w->db, &c)) != DUCKPOND_OK)
        return NULL;
    for (int i = 0; !stop_writers && w->rc == DUCKPOND_OK; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "BEGIN; INSERT INTO trades VALUES ('S%d', %d);"
                 "UPDATE positions SET qty = qty + %d WHERE symbol = 'S%d'; COMMIT",
                 w->id, i % 7 + 1, i % 7 + 1, w->id);
        w->rc = duckpond_exec(c, sql);
    }
    duckpond_disconnect(c);
    return NULL;
}

static void test_snapshot_read_only_processes(void)
{
    const char *path = test_path("live.duckdb"), *snap = test_path("snap.duckdb");
    duckpond_db *db;
    duckpond_conn *c;
    OPEN(path, &db);
    CHECK_OK(duckpond_connect(db, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TABLE trades (symbol VARCHAR, qty INT);"
                              "CREATE TABLE positions (symbol VARCHAR PRIMARY KEY, qty BIGINT);"
                              "INSERT INTO trades SELECT 'S' || (i % 2), 1 FROM range(1000) r(i);"
                              "INSERT INTO positions VALUES ('S0', 500), ('S1', 500)"));
    struct worker ws[2] = {{.db = db, .id = 0}, {.db = db, .id = 1}};
    pthread_t th[2];
    stop_writers = 0;
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, trade_writer, &ws[i]);
    usleep(50000);
    int rc = duckpond_snapshot(c, snap);
    if (rc)
        fprintf(stderr, "    snapshot: %s\n", duckpond_conn_errmsg(c));
    usleep(50000);
    stop_writers = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(rc, DUCKPOND_OK);
    CHECK_EQ_INT(ws[0].rc, DUCKPOND_OK);
    CHECK_EQ_INT(ws[1].rc, DUCKPOND_OK);
    /* three reader processes open the snapshot at once, the writer still running */
    enum { READERS = 3 };
    int barrier[2], go[2];
    CHECK(pipe(barrier) == 0 && pipe(go) == 0);
    pid_t kids[READERS];
    for (int i = 0; i < READERS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            close(go[1]);
            close(barrier[0]);
            _exit(read_snapshot_child(snap, barrier[1], go[0]));
        }
    }
    char x;
    for (int i = 0; i < READERS; i++)
        CHECK(read(barrier[0], &x, 1) == 1);
    close(go[1]);
    for (int i = 0; i < READERS; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK_EQ_INT(duckpond_snapshot(c, ""), DUCKPOND_MISUSE);
    CHECK(duckpond_snapshot(c, "/no/such/dir/snap.duckdb") != DUCKPOND_OK);
    duckpond_disconnect(c);
    duckpond_close(db);
}

/* ---- pool ---- */

struct pool_worker {
    duckpond_pool *pool;
    int rc;
    int done;
};

static void *pool_user(void *arg)
{
    struct pool_worker *w = arg;
    for (int i = 0; i < 40 && w->rc == DUCKPOND_OK; i++) {
        duckpond_conn *c;
        w->rc = duckpond_pool_get(w->pool, 30000, &c);
        if (w->rc != DUCKPOND_OK)
            break;
        int64_t n;
        w->rc = duckpond_query_int64(c, "SELECT count(*) FROM range(10000)", &n);
        if (w->rc == DUCKPOND_OK && n != 10000)
            w->rc = DUCKPOND_ERROR;
        duckpond_pool_put(w->pool, c);
        w->done++;
    }
    return NULL;
}

static void test_pool_contention(void)
{
    duckpond_db *db;
    duckpond_pool *pool;
    OPEN(":memory:", &db);
    CHECK_EQ_INT(duckpond_pool_new(db, 0, &pool), DUCKPOND_MISUSE);
    CHECK_OK(duckpond_pool_new(db, 3, &pool));
    enum { USERS = 12 };
    struct pool_worker ws[USERS];
    pthread_t th[USERS];
    for (int i = 0; i < USERS; i++) {
        ws[i] = (struct pool_worker){.pool = pool};
        pthread_create(&th[i], NULL, pool_user, &ws[i]);
    }
    for (int i = 0; i < USERS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(ws[i].rc, DUCKPOND_OK);
        CHECK_EQ_INT(ws[i].done, 40);
    }
    duckpond_pool_stats st = DUCKPOND_POOL_STATS_INIT();
    duckpond_pool_stats_get(pool, &st);
    CHECK_EQ_INT(st.size, 3);
    CHECK(st.open <= 3 && st.open >= 1);
    CHECK_EQ_INT(st.in_use, 0);
    CHECK_EQ_INT(st.waiting, 0);
    CHECK(st.waits > 0);
    printf("    12 threads on 3 connections: %llu waits\n", (unsigned long long)st.waits);
    /* exhausted: a timed checkout times out, a zero-timeout one at once */
    duckpond_conn *held[3], *extra = NULL;
    for (int i = 0; i < 3; i++)
        CHECK_OK(duckpond_pool_get(pool, 0, &held[i]));
    CHECK_EQ_INT(duckpond_pool_get(pool, 0, &extra), DUCKPOND_TIMEOUT);
    CHECK_EQ_INT(duckpond_pool_get(pool, 50, &extra), DUCKPOND_TIMEOUT);
    CHECK(extra == NULL);
    duckpond_pool_stats_get(pool, &st);
    CHECK_EQ_INT(st.timeouts, 2);
    for (int i = 0; i < 3; i++)
        duckpond_pool_put(pool, held[i]);
    duckpond_pool_free(pool);
    duckpond_close(db);
}

/* ---- lock-file writer ---- */

static int insert_one(duckpond_conn *c, void *arg)
{
    char sql[96];
    snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS w (pid INT, i INT); INSERT INTO w VALUES (%d, %d)",
             (int)getpid(), *(int *)arg);
    return duckpond_exec(c, sql);
}

static void test_locked_write_processes(void)
{
    const char *path = test_path("shared.duckdb");
    enum { PROCS = 4, WRITES = 8 };
    pid_t kids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        kids[p] = fork();
        if (kids[p] == 0) {
            for (int i = 0; i < WRITES; i++) {
                char err[512];
                int rc = duckpond_locked_write(path, NULL, 60000, insert_one, &i, err, sizeof err);
                if (rc != DUCKPOND_OK) {
                    fprintf(stderr, "    child %d: %s\n", (int)getpid(), err);
                    _exit(1);
                }
            }
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st;
        waitpid(kids[p], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    duckpond_db *db;
    OPEN(path, &db);
    CHECK_EQ_INT(count_of(db, "SELECT count(*) FROM w"), PROCS * WRITES);
    CHECK_EQ_INT(count_of(db, "SELECT count(DISTINCT (pid, i)) FROM w"), PROCS * WRITES);
    duckpond_close(db);

    /* someone holds the lock file: the waiter times out naming them */
    char lock_path[600];
    snprintf(lock_path, sizeof lock_path, "%s.lock", path);
    int fd = open(lock_path, O_RDWR);
    CHECK(fd >= 0);
    CHECK(flock(fd, LOCK_EX) == 0);
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) == n);
    pid_t kid = fork();
    if (kid == 0) {
        char err[512];
        int i = 99;
        int rc = duckpond_locked_write(path, NULL, 100, insert_one, &i, err, sizeof err);
        char want[64];
        snprintf(want, sizeof want, "held by PID %d", (int)getppid());
        _exit(rc == DUCKPOND_TIMEOUT && strstr(err, want) && strstr(err, "timed out") ? 0 : 1);
    }
    int st;
    waitpid(kid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(fd);
    char err[256];
    CHECK_EQ_INT(duckpond_locked_write(NULL, NULL, 10, insert_one, NULL, err, sizeof err), DUCKPOND_MISUSE);
}

/* ---- the header as the spec: version, soname, lifetimes, transactions, fork ---- */

/* The SONAME of the ELF shared object at path, read from its file, into out; false if none. */
static bool elf_soname(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *img = size > 0 ? malloc((size_t)size) : NULL;
    bool ok = img && fread(img, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
    ok = ok && (size_t)size > sizeof *eh && memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
         eh->e_ident[EI_CLASS] == ELFCLASS64;
    const Elf64_Shdr *sh = ok ? (const Elf64_Shdr *)(img + eh->e_shoff) : NULL;
    bool found = false;
    for (int i = 0; ok && !found && i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNAMIC)
            continue;
        const char *strtab = (const char *)img + sh[sh[i].sh_link].sh_offset;
        for (const Elf64_Dyn *d = (const Elf64_Dyn *)(img + sh[i].sh_offset); d->d_tag != DT_NULL; d++)
            if (d->d_tag == DT_SONAME) {
                snprintf(out, len, "%s", strtab + d->d_un.d_val);
                found = true;
            }
    }
    free(img);
    return found;
}

/* The version macros, the linked library's version, and the shared library's soname and exports. */
static void test_version_and_soname(void)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", DUCKPOND_VERSION_MAJOR, DUCKPOND_VERSION_MINOR,
             DUCKPOND_VERSION_PATCH);
    CHECK(strcmp(DUCKPOND_VERSION, want) == 0);
    CHECK(strcmp(DUCKPOND_VERSION, "0.1.0") == 0);
    int major = -1, minor = -1, patch = -1;
    CHECK(strcmp(duckpond_libversion(&major, &minor, &patch), DUCKPOND_VERSION) == 0);
    CHECK(major == DUCKPOND_VERSION_MAJOR && minor == DUCKPOND_VERSION_MINOR &&
          patch == DUCKPOND_VERSION_PATCH);
    CHECK(strcmp(duckpond_libversion(NULL, NULL, NULL), "0.1.0") == 0);
    /* the shared library beside the tests' folder: linkable by its old name, loaded by its soname */
    char exe[512], so[600], soname[64] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(so, sizeof so, "%s/../libduckpond.so", exe);
    CHECK(elf_soname(so, soname, sizeof soname));
    CHECK(strcmp(soname, "libduckpond.so.0") == 0);
    snprintf(so, sizeof so, "%s/../libduckpond.so.0", exe);
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fprintf(stderr, "    dlopen: %s\n", dlerror());
    CHECK(h != NULL);
    const char *(*libversion)(int *, int *, int *) =
        (const char *(*)(int *, int *, int *))dlsym(h, "duckpond_libversion");
    CHECK(libversion && strcmp(libversion(NULL, NULL, NULL), DUCKPOND_VERSION) == 0);
    CHECK(dlsym(h, "duckpond_open") != NULL);
    CHECK(dlsym(h, "dp_buf_add") == NULL &&
          dlsym(h, "batcher_check_row") == NULL); /* internals stay inside */
    dlclose(h);
}

/* duckpond_close, duckpond_pool_free, duckpond_batcher_free and duckpond_disconnect refuse while in use. */
static void test_close_refuses_while_in_use(void)
{
    duckpond_db *db;
    duckpond_conn *c, *pooled;
    duckpond_pool *pool;
    duckpond_batcher *b;
    duckpond_write *w;
    OPEN(test_path("life.duckdb"), &db);
    CHECK_OK(duckpond_connect(db, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TABLE t (i BIGINT)"));
    CHECK_OK(duckpond_pool_new(db, 2, &pool));
    CHECK_OK(duckpond_pool_get(pool, 0, &pooled));
    CHECK_OK(duckpond_batcher_new(db, NULL, &b));
    CHECK_OK(duckpond_write_new(b, "t", NULL, 0, 0, &w));
    /* everything is in use: nothing is freed, and each handle goes on working */
    CHECK_EQ_INT(duckpond_close(db), DUCKPOND_MISUSE);
    CHECK_STR_CONTAINS(duckpond_db_errmsg(db), "1 batchers, 1 pools");
    CHECK_EQ_INT(duckpond_batcher_free(b), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_pool_free(pool), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_disconnect(pooled), DUCKPOND_MISUSE);
    CHECK_OK(duckpond_exec(pooled, "INSERT INTO t VALUES (1)"));
    duckpond_value v = {.kind = DUCKPOND_VALUE_INT64, .u.i64 = 2};
    CHECK_OK(duckpond_write_add_row(w, &v));
    CHECK_OK(duckpond_write_submit(w, DUCKPOND_ACK_COMMIT));
    CHECK_EQ_INT(count_of(db, "SELECT count(*) FROM t"), 2);
    /* freed in order: writes, batcher, pooled connections, pool, connections, database */
    CHECK_OK(duckpond_batcher_stop(b)); /* stopping needs no write freed */
    duckpond_write_free(w);
    CHECK_OK(duckpond_batcher_free(b));
    CHECK_OK(duckpond_pool_put(pool, pooled));
    CHECK_OK(duckpond_pool_free(pool));
    CHECK_EQ_INT(duckpond_close(db), DUCKPOND_MISUSE);
    CHECK_STR_CONTAINS(duckpond_db_errmsg(db), "0 batchers, 0 pools, 1 connections");
    CHECK_OK(duckpond_disconnect(c));
    CHECK_OK(duckpond_close(db));
    CHECK_OK(duckpond_close(NULL));
    CHECK_OK(duckpond_disconnect(NULL));
    CHECK_OK(duckpond_pool_free(NULL));
    CHECK_OK(duckpond_batcher_free(NULL));
}

/* A connection put back with a transaction open (or aborted) comes out of the pool clean. */
static void test_pool_put_rolls_back(void)
{
    duckpond_db *db;
    duckpond_pool *pool, *other;
    duckpond_conn *c, *again, *plain;
    OPEN(test_path("pool.duckdb"), &db);
    CHECK_OK(duckpond_pool_new(db, 1, &pool));
    CHECK_OK(duckpond_pool_new(db, 1, &other));
    CHECK_OK(duckpond_pool_get(pool, 0, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TABLE t (i INT PRIMARY KEY); BEGIN; INSERT INTO t VALUES (1)"));
    CHECK_OK(duckpond_pool_put(pool, c));
    CHECK_OK(duckpond_pool_get(pool, 0, &again));
    CHECK(again == c); /* the same connection, its transaction gone */
    CHECK_OK(duckpond_exec(again, "INSERT INTO t VALUES (2)"));
    CHECK_EQ_INT(count_of(db, "SELECT count(*) FROM t"), 1);
    CHECK_EQ_INT(count_of(db, "SELECT sum(i) FROM t"), 2);
    /* a transaction aborted by an error */
    CHECK_OK(duckpond_exec(again, "BEGIN"));
    CHECK_EQ_INT(duckpond_exec(again, "INSERT INTO t VALUES (2)"), DUCKPOND_CONSTRAINT);
    CHECK_OK(duckpond_pool_put(pool, again));
    CHECK_OK(duckpond_pool_get(pool, 0, &again));
    int64_t one = 0;
    CHECK_OK(duckpond_query_int64(again, "SELECT 1", &one));
    CHECK_EQ_INT(one, 1);
    /* a clean connection is put back as it is */
    CHECK_OK(duckpond_pool_put(pool, again));
    duckpond_pool_stats st = DUCKPOND_POOL_STATS_INIT();
    CHECK_OK(duckpond_pool_stats_get(pool, &st));
    CHECK_EQ_INT(st.rolled_back, 2);
    CHECK_EQ_INT(st.in_use, 0);
    CHECK_EQ_INT(st.open, 1);
    /* connections that are not this pool's: refused, unchanged */
    CHECK_EQ_INT(duckpond_pool_put(pool, again), DUCKPOND_MISUSE); /* put twice */
    CHECK_OK(duckpond_connect(db, &plain));
    CHECK_EQ_INT(duckpond_pool_put(pool, plain), DUCKPOND_MISUSE);
    CHECK_OK(duckpond_pool_get(other, 0, &c));
    CHECK_EQ_INT(duckpond_pool_put(pool, c), DUCKPOND_MISUSE);
    CHECK_OK(duckpond_pool_put(other, c));
    CHECK_EQ_INT(duckpond_pool_put(pool, NULL), DUCKPOND_MISUSE);
    CHECK_OK(duckpond_exec(plain, "SELECT 1"));
    CHECK_OK(duckpond_disconnect(plain));
    CHECK_OK(duckpond_pool_free(other));
    CHECK_OK(duckpond_pool_free(pool));
    CHECK_OK(duckpond_close(db));
}

struct racing_put {
    duckpond_pool *pool;
    duckpond_conn *conn;
    pthread_barrier_t *start;
    int rc;
};

static void *put_at_once(void *arg)
{
    struct racing_put *r = arg;
    pthread_barrier_wait(r->start);
    r->rc = duckpond_pool_put(r->pool, r->conn);
    return NULL;
}

/* One connection put back by two threads at once (a misuse): one put is taken, the other refused, every time. */
static void test_pool_put_twice_at_once(void)
{
    duckpond_db *db;
    duckpond_pool *pool;
    OPEN(test_path("pool.duckdb"), &db);
    CHECK_OK(duckpond_pool_new(db, 1, &pool));
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    for (int round = 0; round < 300; round++) {
        duckpond_conn *c;
        CHECK_OK(duckpond_pool_get(pool, 0, &c));
        if (round % 2)
            CHECK_OK(duckpond_exec(c, "BEGIN")); /* its put runs a ROLLBACK: a wider window */
        struct racing_put a = {pool, c, &start, -1}, b = {pool, c, &start, -1};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, put_at_once, &a);
        pthread_create(&tb, NULL, put_at_once, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECK((a.rc == DUCKPOND_OK) + (b.rc == DUCKPOND_OK) == 1);
        CHECK((a.rc == DUCKPOND_MISUSE) + (b.rc == DUCKPOND_MISUSE) == 1);
        duckpond_pool_stats st = DUCKPOND_POOL_STATS_INIT();
        CHECK_OK(duckpond_pool_stats_get(pool, &st));
        CHECK_EQ_INT(st.in_use, 0);
        CHECK_EQ_INT(st.open, 1);
    }
    pthread_barrier_destroy(&start);
    CHECK_OK(duckpond_pool_free(pool));
    CHECK_OK(duckpond_close(db));
}

static int count_calls(duckpond_conn *c, int attempt, void *arg)
{
    ++*(int *)arg;
    return DUCKPOND_OK;
}

/* duckpond_tx_run and duckpond_snapshot on a connection in a transaction: refused, the transaction kept. */
static void test_calls_inside_a_transaction(void)
{
    duckpond_db *db;
    duckpond_conn *c;
    OPEN(test_path("tx.duckdb"), &db);
    CHECK_OK(duckpond_connect(db, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TABLE t (i INT); BEGIN; INSERT INTO t VALUES (1)"));
    int calls = 0, attempts = -1;
    CHECK_EQ_INT(duckpond_tx_run(c, NULL, count_calls, &calls, &attempts), DUCKPOND_MISUSE);
    CHECK_EQ_INT(calls, 0);
    CHECK_EQ_INT(attempts, 0);
    CHECK_STR_CONTAINS(duckpond_conn_errmsg(c), "in a transaction already");
    const char *snap = test_path("snap.duckdb");
    CHECK_EQ_INT(duckpond_snapshot(c, snap), DUCKPOND_MISUSE);
    CHECK(access(snap, F_OK) != 0);
    CHECK_OK(duckpond_exec(c, "INSERT INTO t VALUES (2); COMMIT"));
    CHECK_EQ_INT(count_of(db, "SELECT count(*) FROM t"), 2);
    /* outside a transaction both work */
    CHECK_OK(duckpond_tx_run(c, NULL, count_calls, &calls, &attempts));
    CHECK_EQ_INT(attempts, 1);
    CHECK_OK(duckpond_snapshot(c, snap));
    /* a transaction begun on the DuckDB handle, out of the library's sight; then aborted by an error */
    duckdb_result res;
    CHECK(duckdb_query(duckpond_conn_duckdb(c), "BEGIN; INSERT INTO t VALUES (3)", &res) == DuckDBSuccess);
    duckdb_destroy_result(&res);
    CHECK_EQ_INT(duckpond_tx_run(c, NULL, count_calls, &calls, NULL), DUCKPOND_MISUSE);
    CHECK(duckpond_exec(c, "SELECT error('boom')") != DUCKPOND_OK);
    CHECK_EQ_INT(duckpond_tx_run(c, NULL, count_calls, &calls, NULL), DUCKPOND_MISUSE);
    CHECK_EQ_INT(duckpond_snapshot(c, snap), DUCKPOND_MISUSE);
    CHECK_EQ_INT(calls, 1);
    CHECK_OK(duckpond_exec(c, "ROLLBACK"));
    CHECK_OK(duckpond_tx_run(c, NULL, count_calls, &calls, NULL));
    CHECK_EQ_INT(calls, 2);
    CHECK_EQ_INT(count_of(db, "SELECT count(*) FROM t"), 2);
    CHECK_OK(duckpond_disconnect(c));
    CHECK_OK(duckpond_close(db));
}

/* A child after fork may not free or make handles it inherited; the parent goes on. */
static void test_fork_child_refused(void)
{
    duckpond_db *db;
    duckpond_conn *c, *pc;
    duckpond_pool *pool;
    duckpond_batcher *b;
    OPEN(test_path("fork.duckdb"), &db);
    CHECK_OK(duckpond_connect(db, &c));
    CHECK_OK(duckpond_exec(c, "CREATE TABLE t (i INT)"));
    CHECK_OK(duckpond_pool_new(db, 1, &pool));
    CHECK_OK(duckpond_batcher_new(db, NULL, &b)); /* threads are running from here on */
    pid_t kid = fork();
    if (kid == 0) {
        duckpond_conn *x = NULL;
        duckpond_pool *y = NULL;
        duckpond_batcher *z = NULL;
        bool refused =
            duckpond_close(db) == DUCKPOND_MISUSE && duckpond_disconnect(c) == DUCKPOND_MISUSE &&
            duckpond_connect(db, &x) == DUCKPOND_MISUSE && x == NULL &&
            duckpond_pool_get(pool, 0, &x) == DUCKPOND_MISUSE &&
            duckpond_pool_free(pool) == DUCKPOND_MISUSE && duckpond_pool_new(db, 1, &y) == DUCKPOND_MISUSE &&
            duckpond_batcher_stop(b) == DUCKPOND_MISUSE && duckpond_batcher_free(b) == DUCKPOND_MISUSE &&
            duckpond_batcher_new(db, NULL, &z) == DUCKPOND_MISUSE;
        _exit(refused ? 0 : 1);
    }
    int st;
    CHECK(waitpid(kid, &st, 0) == kid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_OK(duckpond_exec(c, "INSERT INTO t VALUES (1)"));
    CHECK_OK(duckpond_pool_get(pool, 0, &pc));
    CHECK_OK(duckpond_pool_put(pool, pc));
    CHECK_OK(duckpond_batcher_free(b));
    CHECK_OK(duckpond_pool_free(pool));
    CHECK_OK(duckpond_disconnect(c));
    CHECK_OK(duckpond_close(db));
}

static int commit_body(duckpond_conn *c, int attempt, void *arg)
{
    return duckpond_exec(c, "SELECT 1");
}

/* Versioned structs: sizes read and written as far as they reach, unknown fields refused. */
static void test_versioned_structs(void)
{
    duckpond_db *db;
    duckpond_conn *c;
    duckpond_pool *pool;
    OPEN(":memory:", &db);
    CHECK_OK(duckpond_connect(db, &c));
    /* a caller built against a newer header: its extra field, zero, is fine; set, it is refused */
    struct {
        duckpond_retry r;
        int64_t newer;
    } big = {DUCKPOND_RETRY_INIT(.max_attempts = 3), 0};
    big.r.struct_size = sizeof big;
    CHECK_OK(duckpond_tx_run(c, &big.r, commit_body, NULL, NULL));
    big.newer = 1;
    CHECK_EQ_INT(duckpond_tx_run(c, &big.r, commit_body, NULL, NULL), DUCKPOND_MISUSE);
    duckpond_retry tiny = DUCKPOND_RETRY_INIT();
    tiny.struct_size = 4;
    CHECK_EQ_INT(duckpond_tx_run(c, &tiny, commit_body, NULL, NULL), DUCKPOND_MISUSE);
    duckpond_retry zeroed = {0}; /* 0.1.0 reads a zero size as its own layout */
    CHECK_OK(duckpond_tx_run(c, &zeroed, commit_body, NULL, NULL));
    /* stats are written as far as the caller's struct reaches, never past what the library knows */
    CHECK_OK(duckpond_pool_new(db, 7, &pool));
    struct {
        duckpond_pool_stats s;
        uint64_t newer;
    } out = {DUCKPOND_POOL_STATS_INIT(), 0xabcdef};
    out.s.struct_size = sizeof out;
    CHECK_OK(duckpond_pool_stats_get(pool, &out.s));
    CHECK_EQ_INT(out.s.size, 7);
    CHECK_EQ_INT(out.s.struct_size, sizeof out);
    CHECK_EQ_INT(out.newer, 0xabcdef);
    duckpond_pool_stats bad = DUCKPOND_POOL_STATS_INIT(.size = -5);
    bad.struct_size = 3;
    CHECK_EQ_INT(duckpond_pool_stats_get(pool, &bad), DUCKPOND_MISUSE);
    CHECK_EQ_INT(bad.size, -5);
    CHECK_EQ_INT(duckpond_pool_stats_get(NULL, &bad), DUCKPOND_MISUSE);
    CHECK_OK(duckpond_pool_free(pool));
    CHECK_OK(duckpond_disconnect(c));
    CHECK_OK(duckpond_close(db));
}

TEST_MAIN(TEST_ENTRY(test_open_bad_input), TEST_ENTRY(test_open_config), TEST_ENTRY(test_error_classes),
          TEST_ENTRY(test_threads_append_same_table), TEST_ENTRY(test_threads_append_different_tables),
          TEST_ENTRY(test_threads_update_different_rows),
          TEST_ENTRY(test_threads_increment_same_row_with_retry), TEST_ENTRY(test_conflict_is_classified),
          TEST_ENTRY(test_tx_retry_bounds), TEST_ENTRY(test_second_process_gets_lock_class),
          TEST_ENTRY(test_snapshot_read_only_processes), TEST_ENTRY(test_pool_contention),
          TEST_ENTRY(test_locked_write_processes), TEST_ENTRY(test_version_and_soname),
          TEST_ENTRY(test_close_refuses_while_in_use), TEST_ENTRY(test_pool_put_rolls_back),
          TEST_ENTRY(test_pool_put_twice_at_once), TEST_ENTRY(test_calls_inside_a_transaction),
          TEST_ENTRY(test_fork_child_refused), TEST_ENTRY(test_versioned_structs))
