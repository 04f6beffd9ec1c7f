/*
 * test_access.c -- the one decision of what a role may run (access.h):
 * each attack refused for ro and rw with its SQLSTATE, what each role is
 * allowed, the text checks that must come before DuckDB binds, settings
 * by scope, EXPLAIN ANALYZE for a read-only user, and roles in the users
 * file (old lines without one read as rw).
 */
#include "access.h"
#include "testlib.h"
#include "users.h"

/* The SQLSTATE of the text check for role ("" when allowed). */
static const char *text_state(enum access_role role, const char *sql)
{
    static char state[8];
    struct access_refusal why;
    if (access_check_text(role, sql, strlen(sql), &why) == 0)
        return "";
    snprintf(state, sizeof state, "%s", why.sqlstate);
    return state;
}

/* The SQLSTATE of the type check for role ("" when allowed). */
static const char *type_state(enum access_role role, duckdb_statement_type t, const char *sql)
{
    static char state[8];
    struct access_refusal why;
    if (access_check_type(role, t, sql, strlen(sql), NULL, &why) == 0)
        return "";
    snprintf(state, sizeof state, "%s", why.sqlstate);
    return state;
}

/* Fails the test (and goes on, to name every case that differs) when got is not want. */
#define CHECK_STATE(got, want)                                                                       \
    do {                                                                                             \
        const char *g_ = (got);                                                                      \
        if (strcmp(g_, (want)) != 0)                                                                 \
            test_fail(__FILE__, __LINE__, "%s: \"%s\" where \"%s\" was expected", #got, g_, (want)); \
    } while (0)

/* What DuckDB would read or list while it binds: refused to ro and rw before it sees the text. */
static void test_files_before_binding(void)
{
    static const char *const attacks[] = {
        "SELECT * FROM read_text('/etc/passwd')",
        "select * from glob('/root/*')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM read_parquet('/x.parquet')",
        "SELECT * FROM read_json('/x.json')",
        "SELECT * FROM read_blob('/etc/shadow')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "SELECT * FROM parquet_metadata('/x.parquet')",
        "SELECT * FROM main.\"read_text\"('/etc/passwd')",
        "SELECT * FROM READ_TEXT /* a comment */ ('/etc/passwd')",
        "FROM read_text('/etc/passwd')",
        "CREATE VIEW v AS SELECT * FROM read_text('/etc/passwd')",
        "INSERT INTO t SELECT content FROM read_text('/etc/passwd')",
        "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')",
        "SELECT * FROM query_table('t')",
        "COPY (SELECT 'x') TO '/tmp/x.csv'",
        "COPY t FROM '/etc/passwd'",
        "copy t to '/tmp/t.parquet' (format parquet)",
        "EXPORT DATABASE '/tmp/exp'",
        "IMPORT DATABASE '/tmp/exp'",
        "PRAGMA import_database('/tmp/exp')",
        "PRAGMA enable_profiling",
        "ATTACH '/tmp/other.duckdb'",
        "DETACH other",
        "SELECT * FROM checkpoint()",
    };
    for (size_t i = 0; i < sizeof attacks / sizeof *attacks; i++) {
        CHECK_STATE(text_state(ACCESS_RO, attacks[i]), "42501");
        CHECK_STATE(text_state(ACCESS_RW, attacks[i]), "42501");
    }
    /* an admin gets as far as DuckDB, whose allowed_directories decide */
    CHECK_STATE(text_state(ACCESS_ADMIN, "SELECT * FROM read_csv('/srv/files/a.csv')"), "");
    CHECK_STATE(text_state(ACCESS_ADMIN, "COPY t TO '/srv/files/t.csv'"), "");
    CHECK_STATE(text_state(ACCESS_ADMIN, "ATTACH '/srv/files/x.duckdb'"), "");
    /* the same words inside strings, names and comments are not calls */
    CHECK_STATE(text_state(ACCESS_RO, "SELECT 'read_text(''/etc/passwd'')' AS s"), "");
    CHECK_STATE(text_state(ACCESS_RO, "SELECT 1 -- read_text('/etc/passwd')"), "");
    CHECK_STATE(text_state(ACCESS_RO, "SELECT read_text FROM t"), "");
    CHECK_STATE(text_state(ACCESS_RO, "SELECT * FROM range(3), generate_series(1, 2), unnest([1])"), "");
    CHECK_STATE(text_state(ACCESS_RO, "PRAGMA table_info('t')"), "");
    CHECK_STATE(text_state(ACCESS_RO, "PRAGMA show_tables"), "");
    /* a name spelled with escapes cannot be matched: refused whatever it spells */
    CHECK_STATE(text_state(ACCESS_RW, "SELECT * FROM U&\"\\0072ead_text\"('/etc/passwd')"), "0A000");
    CHECK_STATE(text_state(ACCESS_ADMIN, "SELECT * FROM u&\"x\"(1)"), "0A000");
    /* COPY to and from the client: only its calls are read */
    struct access_refusal why;
    const char *own = "COPY (SELECT * FROM read_text('/etc/passwd')) TO STDOUT";
    CHECK(access_check_calls(ACCESS_RW, own, strlen(own), &why) != 0);
    CHECK_STR_CONTAINS(why.message, "read_text");
    own = "COPY t FROM STDIN (FORMAT csv)";
    CHECK_OK(access_check_calls(ACCESS_RO, own, strlen(own), &why));
}

/* Extensions, logging and raw pointers: nobody, admin included. */
static void test_never(void)
{
    static const char *const never[] = {
        "INSTALL httpfs",
        "LOAD parquet",
        "FORCE INSTALL json",
        "UPDATE EXTENSIONS",
        "CALL enable_logging('FileSystem')",
        "SELECT * FROM arrow_scan(1, 2, 3)",
    };
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        for (int r = ACCESS_RW; r <= ACCESS_ADMIN; r++)
            CHECK_STATE(text_state((enum access_role)r, never[i]), "42501");
    for (int r = ACCESS_RW; r <= ACCESS_ADMIN; r++) {
        CHECK_STATE(type_state((enum access_role)r, DUCKDB_STATEMENT_TYPE_LOAD, "LOAD parquet"), "42501");
        CHECK_STATE(type_state((enum access_role)r, DUCKDB_STATEMENT_TYPE_INVALID, "UPDATE EXTENSIONS"),
                    "0A000");
    }
    struct access_refusal why;
    CHECK(access_check_text(ACCESS_ADMIN, "LOAD httpfs", 11, &why) != 0);
    CHECK_STR_CONTAINS(why.message, "extensions");
}

/* By DuckDB's statement type, role by role. */
static void test_types(void)
{
    static const struct {
        duckdb_statement_type t;
        const char *sql, *ro, *rw, *admin;
    } cases[] = {
        {DUCKDB_STATEMENT_TYPE_SELECT, "SELECT 1", "", "", ""},
        {DUCKDB_STATEMENT_TYPE_EXPLAIN, "EXPLAIN SELECT 1", "", "", ""},
        {DUCKDB_STATEMENT_TYPE_TRANSACTION, "BEGIN", "", "", ""},
        {DUCKDB_STATEMENT_TYPE_INSERT, "INSERT INTO t VALUES (1)", "25006", "", ""},
        {DUCKDB_STATEMENT_TYPE_UPDATE, "UPDATE t SET a = 1", "25006", "", ""},
        {DUCKDB_STATEMENT_TYPE_DELETE, "DELETE FROM t", "25006", "", ""},
        {DUCKDB_STATEMENT_TYPE_CREATE, "CREATE TABLE u (a INT)", "25006", "", ""},
        {DUCKDB_STATEMENT_TYPE_DROP, "DROP TABLE u", "25006", "", ""},
        {DUCKDB_STATEMENT_TYPE_ALTER, "ALTER TABLE u ADD COLUMN b INT", "25006", "", ""},
        {DUCKDB_STATEMENT_TYPE_CALL, "CALL pragma_version()", "25006", "", ""},
        {DUCKDB_STATEMENT_TYPE_CALL, "CHECKPOINT", "42501", "42501", ""},
        {DUCKDB_STATEMENT_TYPE_CALL, "FORCE CHECKPOINT", "42501", "42501", ""},
        {DUCKDB_STATEMENT_TYPE_COPY, "COPY t TO '/srv/files/t.csv'", "42501", "42501", ""},
        {DUCKDB_STATEMENT_TYPE_EXPORT, "EXPORT DATABASE '/srv/files/e'", "42501", "42501", ""},
        {DUCKDB_STATEMENT_TYPE_ATTACH, "ATTACH ':memory:' AS m", "42501", "42501", ""},
        {DUCKDB_STATEMENT_TYPE_DETACH, "DETACH m", "42501", "42501", ""},
        {DUCKDB_STATEMENT_TYPE_PRAGMA, "PRAGMA enable_checkpoint_on_shutdown", "42501", "42501", ""},
        {DUCKDB_STATEMENT_TYPE_EXTENSION, "UPDATE EXTENSIONS", "42501", "42501", "42501"},
        {DUCKDB_STATEMENT_TYPE_LOGICAL_PLAN, "?", "0A000", "0A000", "0A000"},
        /* the server's own objects: read by anyone, written by admins */
        {DUCKDB_STATEMENT_TYPE_SELECT, "SELECT * FROM duckpond_pg.pg_class", "", "", ""},
        {DUCKDB_STATEMENT_TYPE_UPDATE, "UPDATE duckpond_journal_state SET applied_seq = 0", "25006", "42501",
         ""},
        {DUCKDB_STATEMENT_TYPE_CREATE, "CREATE OR REPLACE MACRO duckpond_pg.current_setting(x) AS 1", "25006",
         "42501", ""},
        {DUCKDB_STATEMENT_TYPE_DROP, "DROP VIEW \"DUCKPOND_PG\".pg_class", "25006", "42501", ""},
        {DUCKDB_STATEMENT_TYPE_INSERT, "INSERT INTO t VALUES ('duckpond_x')", "25006", "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_STATE(type_state(ACCESS_RO, cases[i].t, cases[i].sql), cases[i].ro);
        CHECK_STATE(type_state(ACCESS_RW, cases[i].t, cases[i].sql), cases[i].rw);
        CHECK_STATE(type_state(ACCESS_ADMIN, cases[i].t, cases[i].sql), cases[i].admin);
    }
    CHECK(access_type_is_read(DUCKDB_STATEMENT_TYPE_SELECT));
    CHECK(!access_type_is_read(DUCKDB_STATEMENT_TYPE_INSERT));
}

/* SET by the setting it names: the connection's for everyone, global ones for admin, file ones for nobody. */
static void test_settings(void)
{
    static const struct {
        const char *sql, *ro, *rw, *admin;
    } cases[] = {
        {"SET threads = 1", "42501", "42501", ""},
        {"SET GLOBAL threads = 1", "42501", "42501", ""},
        {"PRAGMA threads = 1", "42501", "42501", ""},
        {"RESET threads", "42501", "42501", ""},
        {"SET memory_limit = '1GB'", "42501", "42501", ""},
        {"set worker_threads to 2", "42501", "42501", ""},
        {"SET search_path = 'main'", "", "", ""},
        {"SET SESSION schema = 'main'", "", "", ""},
        {"SET timezone = 'UTC'", "", "", ""},
        {"SET GLOBAL TimeZone = 'UTC'", "42501", "42501", ""},
        {"SET errors_as_json = true", "", "", ""},
        {"SET integer_division = true", "", "", ""},
        {"USE memory", "", "", ""},
        {"SET VARIABLE x = 42", "", "", ""},
        {"SET enable_profiling = 'json'", "42501", "42501", ""},
        {"SET profiling_output = '/tmp/p.json'", "42501", "42501", "42501"},
        {"PRAGMA profiling_output = '/tmp/p.json'", "42501", "42501", "42501"},
        {"SET log_query_path = '/tmp/q.log'", "42501", "42501", "42501"},
        {"SET temp_directory = '/tmp'", "42501", "42501", "42501"},
        {"SET GLOBAL enable_external_access = true", "42501", "42501", "42501"},
        {"SET allowed_directories = ['/']", "42501", "42501", "42501"},
        {"SET \"allowed_paths\" = ['/etc/passwd']", "42501", "42501", "42501"},
        {"SET autoload_known_extensions = true", "42501", "42501", "42501"},
        {"SET lock_configuration = true", "42501", "42501", "42501"},
        {"SET", "42501", "42501", "42501"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_STATE(type_state(ACCESS_RO, DUCKDB_STATEMENT_TYPE_SET, cases[i].sql), cases[i].ro);
        CHECK_STATE(type_state(ACCESS_RW, DUCKDB_STATEMENT_TYPE_SET, cases[i].sql), cases[i].rw);
        CHECK_STATE(type_state(ACCESS_ADMIN, DUCKDB_STATEMENT_TYPE_SET, cases[i].sql), cases[i].admin);
    }
    struct access_refusal why;
    const char *sql = "SET GLOBAL threads = 1";
    CHECK(access_check_type(ACCESS_RW, DUCKDB_STATEMENT_TYPE_SET, sql, strlen(sql), NULL, &why) != 0);
    CHECK_STR_CONTAINS(why.message, "\"threads\"");
    CHECK_STR_CONTAINS(why.message, "admin");
}

/* EXPLAIN ANALYZE runs its statement: a read-only user's must be a read, as DuckDB types it. */
static void test_explain_analyze(void)
{
    duckdb_database db;
    duckdb_connection con;
    CHECK(duckdb_open(NULL, &db) == DuckDBSuccess);
    CHECK(duckdb_connect(db, &con) == DuckDBSuccess);
    duckdb_result res;
    CHECK(duckdb_query(con, "CREATE TABLE t (a INT)", &res) == DuckDBSuccess);
    duckdb_destroy_result(&res);
    struct access_refusal why;
    static const struct {
        const char *sql;
        int ro_ok;
    } cases[] = {
        {"EXPLAIN ANALYZE SELECT * FROM t", 1},
        {"EXPLAIN SELECT * FROM t", 1},
        {"EXPLAIN INSERT INTO t VALUES (1)", 1}, /* not run */
        {"EXPLAIN ANALYZE INSERT INTO t VALUES (1)", 0},
        {"explain analyze delete from t", 0},
        {"EXPLAIN (ANALYZE, FORMAT json) UPDATE t SET a = 2", 0},
        {"EXPLAIN (FORMAT json) UPDATE t SET a = 2", 1},
    };
    /* EXPLAIN ANALYZE is checked as the statement it runs, for every role */
    static const char *const rw_refused[] = {
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '/srv/files/x.csv'", "EXPLAIN ANALYZE CHECKPOINT",
        "EXPLAIN ANALYZE SET threads = 1",
        "EXPLAIN ANALYZE UPDATE duckpond_journal_state SET applied_seq = 0"};
    for (size_t i = 0; i < sizeof rw_refused / sizeof *rw_refused; i++) {
        const char *sql = rw_refused[i];
        if (access_check_type(ACCESS_RW, DUCKDB_STATEMENT_TYPE_EXPLAIN, sql, strlen(sql), con, &why) == 0)
            test_fail(__FILE__, __LINE__, "%s: allowed to rw", sql);
    }
    CHECK_STATE(text_state(ACCESS_RW, "EXPLAIN ANALYZE COPY t FROM '/etc/passwd'"), "42501");
    CHECK_STATE(text_state(ACCESS_RW, "explain (analyze) explain attach '/tmp/x.duckdb'"), "42501");
    CHECK_STATE(text_state(ACCESS_RW, "EXPLAIN SELECT 1"), "");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *sql = cases[i].sql;
        int rc = access_check_type(ACCESS_RO, DUCKDB_STATEMENT_TYPE_EXPLAIN, sql, strlen(sql), con, &why);
        if ((rc == 0) != cases[i].ro_ok)
            test_fail(__FILE__, __LINE__, "%s: %s", sql, rc == 0 ? "allowed" : why.message);
        CHECK_OK(access_check_type(ACCESS_RW, DUCKDB_STATEMENT_TYPE_EXPLAIN, sql, strlen(sql), con, &why));
    }
    /* without a connection to ask, a read-only user's EXPLAIN ANALYZE is refused */
    const char *sql = "EXPLAIN ANALYZE SELECT 1";
    CHECK(access_check_type(ACCESS_RO, DUCKDB_STATEMENT_TYPE_EXPLAIN, sql, strlen(sql), NULL, &why) != 0);
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

/* Rows written without SQL (HTTP ingest): not by ro, not into the server's own tables but by admins. */
static void test_ingest(void)
{
    struct access_refusal why;
    CHECK_OK(access_check_ingest(ACCESS_RW, "trades", &why));
    CHECK_OK(access_check_ingest(ACCESS_RW, "main.trades", &why));
    CHECK(access_check_ingest(ACCESS_RO, "trades", &why) != 0 && !strcmp(why.sqlstate, "25006"));
    static const char *const own[] = {"duckpond_journal_state", "DUCKPOND_journal_state", "main.duckpond_x",
                                      "duckpond_pg.main.pg_class", "\"duckpond_journal_state\""};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
        if (access_check_ingest(ACCESS_RW, own[i], &why) == 0 || strcmp(why.sqlstate, "42501") != 0)
            test_fail(__FILE__, __LINE__, "%s: rows allowed to rw", own[i]);
        CHECK_OK(access_check_ingest(ACCESS_ADMIN, own[i], &why));
    }
}

/* Roles in the users file: written by passwd, read back; a line from before roles is rw. */
static void test_roles_in_users_file(void)
{
    const char *path = test_path("users");
    char err[256], *tok = NULL;
    unlink(path);
    static const enum access_role roles[] = {ACCESS_RO, ACCESS_RW, ACCESS_ADMIN};
    static const char *const names[] = {"reader", "writer", "boss"};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(users_passwd_role(path, names[i], "pw", roles[i], &tok, err, sizeof err));
        free(tok);
    }
    struct users *u = NULL;
    CHECK_OK(users_load(path, &u, err, sizeof err));
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(user_role(users_find(u, names[i])), roles[i]);
    CHECK(user_read_only(users_find(u, "reader")) && !user_read_only(users_find(u, "boss")));
    CHECK_EQ_INT(user_role(NULL), ACCESS_RO);
    users_free(u);
    /* the same line without its role field, as written before roles */
    FILE *f = fopen(path, "r");
    char line[1024] = "";
    CHECK(f && fgets(line, sizeof line, f));
    if (f)
        fclose(f);
    char *role = strchr(line, ':'), *after = role ? strchr(role + 1, ':') : NULL;
    CHECK(role && after);
    if (role && after)
        memmove(role, after, strlen(after) + 1);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(line, f);
        fclose(f);
    }
    CHECK_OK(users_load(path, &u, err, sizeof err));
    CHECK_EQ_INT(user_role(users_find(u, "reader")), ACCESS_RW);
    users_free(u);
    /* an unknown role is refused with the line */
    f = fopen(path, "w");
    if (f) {
        fputs("x:root:SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5:00\n", f);
        fclose(f);
    }
    CHECK(users_load(path, &u, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "role must be ro, rw or admin");
    enum access_role r;
    CHECK_OK(access_role_parse("admin", &r));
    CHECK_EQ_INT(r, ACCESS_ADMIN);
    CHECK(access_role_parse("root", &r) != 0);
    CHECK(strcmp(access_role_name(ACCESS_RO), "ro") == 0);
}

TEST_MAIN(TEST_ENTRY(test_files_before_binding), TEST_ENTRY(test_never), TEST_ENTRY(test_types),
          TEST_ENTRY(test_settings), TEST_ENTRY(test_explain_analyze), TEST_ENTRY(test_ingest),
          TEST_ENTRY(test_roles_in_users_file))
