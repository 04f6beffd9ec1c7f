/*
 * test_http_parquet.c -- /v1/query answered in Parquet, and GET /v1/query.
 *
 * Each answer is fetched with curl (POST with the Accept header, or a GET
 * built with --data-urlencode as a URL a user would type) and read back
 * with DuckDB itself through the C API (read_parquet), then compared with
 * the same query run straight on the database. Errors must be the JSON
 * errors of every other answer; the files behind the answers must be gone
 * on every path (a good answer, an error, a timeout, a client that left,
 * the server's stop), which is checked in the private directory and in
 * this process's open descriptors.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <time.h>

#include "http_testlib.h"

#define PARQUET "application/vnd.apache.parquet"

/* The trades table of the brief's shape: 9,000 rows, three symbols. */
static int make_trades(struct srv *s)
{
    return sql_ok(s, "CREATE TABLE trades AS SELECT TIMESTAMP '2026-01-02 09:30:00' + "
                     "INTERVAL (i) SECOND AS ts, ['AAPL', 'MSFT', 'NVDA'][i % 3 + 1] AS symbol, "
                     "(i % 100 + 1)::DOUBLE AS quantity, 100 + i / 100.0 AS price "
                     "FROM range(9000) t(i)");
}

/*
 * Runs curl with args against path on the server, the answer into file.
 * Returns the HTTP status (0: none) and the Content-Type in ctype (256 bytes).
 */
static int fetch(struct srv *s, const char *path, const char *args, const char *file, char *ctype)
{
    char *cmd;
    if (asprintf(&cmd,
                 "curl -s -m 60 %s -o '%s' -w '%%{http_code} %%{content_type}' "
                 "'http://127.0.0.1:%d%s'",
                 args, file, s->port, path) < 0)
        return 0;
    FILE *p = popen(cmd, "r");
    free(cmd);
    int status = 0;
    ctype[0] = '\0';
    if (p) {
        if (fscanf(p, "%d %255s", &status, ctype) < 1)
            status = 0;
        pclose(p);
    }
    return status;
}

/* POST /v1/query with a JSON body, asking for Parquet by the Accept header. */
static int post_parquet(struct srv *s, const char *body, const char *file, char *ctype)
{
    spit(test_path("post.json"), body);
    char args[1024];
    snprintf(args, sizeof args,
             "-H 'Content-Type: application/json' -H 'Accept: " PARQUET "' "
             "--data-binary @'%s'",
             test_path("post.json"));
    return fetch(s, "/v1/query", args, file, ctype);
}

/*
 * GET /v1/query?sql=...[&params=...][&format=...], each value URL-encoded
 * by curl as a browser or urllib would; extra: more curl arguments.
 */
static int get_query(struct srv *s, const char *sql, const char *params, const char *format,
                     const char *extra, const char *file, char *ctype)
{
    spit(test_path("get.sql"), sql);
    char args[2048];
    int k = snprintf(args, sizeof args, "-G --data-urlencode sql@'%s' %s", test_path("get.sql"),
                     extra ? extra : "");
    if (params) {
        spit(test_path("get.params"), params);
        k += snprintf(args + k, sizeof args - (size_t)k, " --data-urlencode params@'%s'",
                      test_path("get.params"));
    }
    if (format)
        snprintf(args + k, sizeof args - (size_t)k, " -d format=%s", format);
    return fetch(s, "/v1/query", args, file, ctype);
}

/*
 * The first value of "SELECT what FROM read_parquet(file)", run by DuckDB
 * itself in a database of its own, as text (caller frees); NULL when it
 * fails (the error is printed).
 */
static char *pq_value(const char *file, const char *what)
{
    duckdb_database db;
    duckdb_connection con;
    char *sql = NULL, *value = NULL;
    if (duckdb_open(NULL, &db) != DuckDBSuccess)
        return NULL;
    duckdb_connect(db, &con);
    if (asprintf(&sql, "SELECT %s FROM read_parquet('%s')", what, file) >= 0) {
        duckdb_result r;
        if (duckdb_query(con, sql, &r) == DuckDBSuccess) {
            char *v = duckdb_value_varchar(&r, 0, 0);
            value = strdup(v ? v : "NULL");
            duckdb_free(v);
        } else {
            fprintf(stderr, "    %s: %s\n", sql, duckdb_result_error(&r));
        }
        duckdb_destroy_result(&r);
    }
    free(sql);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return value;
}

/* Whether the Parquet file's what equals want (printed when not). */
static bool pq_is(const char *file, const char *what, const char *want)
{
    char *got = pq_value(file, what);
    bool same = got && strcmp(got, want) == 0;
    if (!same)
        fprintf(stderr, "    %s: got %s, want %s\n", what, got ? got : "(error)", want);
    free(got);
    return same;
}

/* The private directory the server made under parent (caller frees), or NULL. */
static char *private_dir(const char *parent)
{
    DIR *d = opendir(parent);
    char *found = NULL;
    for (struct dirent *e; d && !found && (e = readdir(d));)
        if (strncmp(e->d_name, "duckpond-http.", 14) == 0 && asprintf(&found, "%s/%s", parent, e->d_name) < 0)
            found = NULL;
    if (d)
        closedir(d);
    return found;
}

/* Entries in dir besides . and .. (-1: no such directory). */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Descriptors of this process (the server runs in it) open on files in dir. */
static int open_in(const char *dir)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    size_t len = strlen(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k > 0) {
            target[k] = '\0';
            n += strncmp(target, dir, len) == 0 && target[len] == '/';
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* Waits up to ms for every answer file in dir to be closed; true when none is left. */
static bool answers_gone(const char *dir, int ms)
{
    for (int waited = 0; waited <= ms; waited += 20) {
        if (open_in(dir) == 0 && dir_entries(dir) == 0)
            return true;
        usleep(20000);
    }
    fprintf(stderr, "    %d answer file(s) still open, %d entries in %s\n", open_in(dir), dir_entries(dir),
            dir);
    return false;
}

/* A server whose private directory is made under the test's own "tmp". */
static int start_with_tmp(struct srv *s, struct http_options *o, char **dir)
{
    mkdir(test_path("tmp"), 0700);
    o->open_health = true;
    o->temp_dir = test_path("tmp");
    if (srv_start(s, o) != 0)
        return -1;
    *dir = private_dir(test_path("tmp"));
    return *dir ? 0 : -1;
}

/* ------------------------------------------------------------- answers */

static void test_parquet_post(void)
{
    struct srv s;
    struct http_options o = {0};
    char *dir, ctype[256];
    CHECK_OK(start_with_tmp(&s, &o, &dir));
    CHECK_OK(make_trades(&s));
    const char *file = test_path("a.parquet");
    CHECK_EQ_INT(post_parquet(&s,
                              "{\"sql\":\"SELECT * FROM trades WHERE symbol = $1 AND price < $2 "
                              "ORDER BY ts DESC\",\"params\":[\"MSFT\",150.5]}",
                              file, ctype),
                 200);
    CHECK(strcmp(ctype, PARQUET) == 0);
    int64_t want = count_of(&s, "SELECT count(*) FROM trades WHERE symbol = 'MSFT' AND price < 150.5");
    CHECK(want > 1000);
    char wants[32];
    snprintf(wants, sizeof wants, "%lld", (long long)want);
    CHECK(pq_is(file, "count(*)", wants));
    CHECK(pq_is(file, "string_agg(DISTINCT symbol, ',')", "MSFT"));
    /* the schema is DuckDB's own, the order the query's */
    CHECK(pq_is(file,
                "list(DISTINCT typeof(ts))::VARCHAR || list(DISTINCT typeof(quantity))::VARCHAR"
                " || list(DISTINCT typeof(price))::VARCHAR",
                "[TIMESTAMP][DOUBLE][DOUBLE]"));
    char latest[32]; /* ORDER BY ts DESC: the first row holds the latest */
    snprintf(latest, sizeof latest, "%lld",
             (long long)count_of(&s, "SELECT epoch(max(ts))::BIGINT FROM trades "
                                     "WHERE symbol = 'MSFT' AND price < 150.5"));
    CHECK(pq_is(file, "epoch(ts)::BIGINT", latest));
    char sum[64];
    snprintf(sum, sizeof sum, "%lld",
             (long long)count_of(&s, "SELECT sum(quantity)::BIGINT FROM trades WHERE symbol = 'MSFT' "
                                     "AND price < 150.5"));
    CHECK(pq_is(file, "sum(quantity)::BIGINT", sum));
    /* ?format=parquet on a POST; an empty result keeps its columns */
    char args[512];
    spit(test_path("empty.json"), "{\"sql\":\"SELECT * FROM trades WHERE false\"}");
    snprintf(args, sizeof args, "--data-binary @'%s'", test_path("empty.json"));
    CHECK_EQ_INT(fetch(&s, "/v1/query?format=parquet", args, file, ctype), 200);
    CHECK(strcmp(ctype, PARQUET) == 0);
    CHECK(pq_is(file, "count(*)", "0"));
    /* values of other types come back as DuckDB wrote them */
    CHECK_EQ_INT(post_parquet(&s,
                              "{\"sql\":\"SELECT 12.345::DECIMAL(18,3) AS d, DATE '2024-03-01' AS dt, "
                              "[1, 2, NULL] AS l, {'a': 1, 'b': 'x'} AS st, NULL::INTEGER AS n, "
                              "$1::VARCHAR AS s\",\"params\":[\"it's\"]}",
                              file, ctype),
                 200);
    CHECK(pq_is(file, "concat_ws('|', d, dt, l, st, coalesce(n::VARCHAR, 'null'), s)",
                "12.345|2024-03-01|[1, 2, NULL]|{'a': 1, 'b': x}|null|it's"));
    CHECK(answers_gone(dir, 2000));
    free(dir);
    srv_stop(&s);
}

/* What a user can type: a URL with the SQL, its parameters (still bound) and the format. */
static void test_parquet_get(void)
{
    struct srv s;
    struct http_options o = {0};
    char *dir, ctype[256];
    CHECK_OK(start_with_tmp(&s, &o, &dir));
    CHECK_OK(make_trades(&s));
    const char *file = test_path("g.parquet");
    CHECK_EQ_INT(get_query(&s, "SELECT ts, price FROM trades WHERE symbol = $1 AND quantity >= $2",
                           "[\"NVDA\", 50]", "parquet", NULL, file, ctype),
                 200);
    CHECK(strcmp(ctype, PARQUET) == 0);
    char want[32];
    snprintf(want, sizeof want, "%lld",
             (long long)count_of(&s, "SELECT count(*) FROM trades WHERE symbol = 'NVDA' AND quantity >= 50"));
    CHECK(pq_is(file, "count(*)", want));
    /* a parameter is a value, never SQL */
    CHECK_EQ_INT(get_query(&s, "SELECT count(*) AS n FROM trades WHERE symbol = $1", "[\"x' OR '1'='1\"]",
                           "parquet", NULL, file, ctype),
                 200);
    CHECK(pq_is(file, "n", "0"));
    /* the Accept header works for a GET too; without either, JSON */
    CHECK_EQ_INT(get_query(&s, "SELECT count(*) AS n FROM trades", NULL, NULL, "-H 'Accept: " PARQUET "'",
                           file, ctype),
                 200);
    CHECK(pq_is(file, "n", "9000"));
    CHECK_EQ_INT(get_query(&s, "SELECT count(*) AS n FROM trades WHERE symbol = $1", "[\"AAPL\"]", NULL, NULL,
                           file, ctype),
                 200);
    CHECK(strcmp(ctype, "application/json") == 0);
    char *text = slurp(file);
    CHECK_STR_CONTAINS(text, "\"rows\":[[3000]]");
    free(text);
    CHECK_EQ_INT(get_query(&s, "SELECT symbol, count(*) AS n FROM trades GROUP BY 1 ORDER BY 1", NULL, "csv",
                           NULL, file, ctype),
                 200);
    text = slurp(file);
    CHECK(text && strcmp(text, "symbol,n\r\nAAPL,3000\r\nMSFT,3000\r\nNVDA,3000\r\n") == 0);
    free(text);
    /* a GET never writes */
    CHECK_EQ_INT(get_query(&s, "DELETE FROM trades", NULL, NULL, NULL, file, ctype), 405);
    text = slurp(file);
    CHECK_STR_CONTAINS(text, "\"sqlstate\":\"25006\"");
    free(text);
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM trades"), 9000);
    CHECK(answers_gone(dir, 2000));
    free(dir);
    srv_stop(&s);
}

/* ---------------------------------------------------------------- errors */

/* Whether the answer in file is a JSON error with this SQLSTATE (printed when not). */
static bool is_error(const char *file, const char *ctype, const char *sqlstate)
{
    char *text = slurp(file);
    json_t *j = parse(text);
    const char *state = err_state(j);
    bool ok = strcmp(ctype, "application/json") == 0 && state && strcmp(state, sqlstate) == 0;
    if (!ok)
        fprintf(stderr, "    want %s, got %s: %s\n", sqlstate, ctype, text ? text : "");
    json_decref(j);
    free(text);
    return ok;
}

static void test_parquet_errors(void)
{
    struct srv s;
    struct http_options o = {.statement_timeout_ms = 10000};
    char *dir, ctype[256];
    CHECK_OK(start_with_tmp(&s, &o, &dir));
    CHECK_OK(make_trades(&s));
    const char *file = test_path("e.out");
    static const struct {
        const char *body;
        int status;
        const char *sqlstate;
    } cases[] = {
        {"{\"sql\":\"SELEC 1\"}", 400, "42601"},
        {"{\"sql\":\"SELECT * FROM nosuch\"}", 400, "42P01"},
        {"{\"sql\":\"SELECT $1::INTEGER\",\"params\":[]}", 400, "08P01"},
        {"{\"sql\":\"SELECT $1::INTEGER\",\"params\":[\"abc\"]}", 400, "22P02"},
        {"{\"sql\":\"SELECT $1\",\"params\":[{\"a\":1}]}", 400, "22023"},
        {"{\"sql\":\"SELECT 1; SELECT 2\"}", 400, "42601"},
        {"{\"sql\":\"INSERT INTO trades SELECT * FROM trades\"}", 400, "0A000"},
        {"{\"sql\":\"EXPLAIN SELECT 1\"}", 400, "0A000"},
        {"{\"sql\":\"BEGIN\"}", 400, "0A000"},
        /* a cast that fails deep in the result: still before the status line */
        {"{\"sql\":\"SELECT (CASE WHEN i < 150000 THEN i::VARCHAR ELSE 'x' END)::INTEGER AS v "
         "FROM range(200000) t(i)\"}",
         400, "22P02"},
        {"{\"sql\":\"SELECT * FROM range(100)\",\"row_limit\":99}", 400, "54000"},
        {"{\"sql\":\"SELECT count(*) FROM range(1000000000000) a\",\"timeout_ms\":300}", 504, "57014"},
        {"{\"sql\":\"SELECT 1\"", 400, "08P01"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = post_parquet(&s, cases[i].body, file, ctype);
        if (st != cases[i].status)
            fprintf(stderr, "    case %zu %s: %d\n", i, cases[i].body, st);
        CHECK_EQ_INT(st, cases[i].status);
        CHECK(is_error(file, ctype, cases[i].sqlstate));
    }
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM trades"), 9000);
    /* the SQL cannot reach out of the COPY that holds it */
    char evil[600];
    snprintf(evil, sizeof evil, "SELECT 1) TO '%s' (FORMAT csv) --", test_path("evil.csv"));
    json_t *b = json_pack("{ss}", "sql", evil);
    char *body = json_dumps(b, 0);
    CHECK_EQ_INT(post_parquet(&s, body, file, ctype), 400);
    CHECK(is_error(file, ctype, "42601"));
    CHECK(access(test_path("evil.csv"), F_OK) != 0);
    free(body);
    json_decref(b);
    /* what is fine: a trailing semicolon or comment, exactly the row limit */
    CHECK_EQ_INT(post_parquet(&s, "{\"sql\":\"SELECT 42 AS x; \\n\"}", file, ctype), 200);
    CHECK(pq_is(file, "x", "42"));
    CHECK_EQ_INT(post_parquet(&s, "{\"sql\":\"SELECT 43 AS x -- the answer\"}", file, ctype), 200);
    CHECK(pq_is(file, "x", "43"));
    CHECK_EQ_INT(post_parquet(&s, "{\"sql\":\"SELECT * FROM range(100)\",\"row_limit\":100}", file, ctype),
                 200);
    CHECK(pq_is(file, "count(*)", "100"));
    /* a GET's arguments */
    static const struct {
        const char *sql, *params, *format;
        int status;
        const char *sqlstate;
    } gets[] = {
        {"SELECT $1", "not json", "parquet", 400, "08P01"},
        {"SELECT $1", "{\"a\": 1}", "parquet", 400, "08P01"},
        {"SELECT 1", NULL, "xml", 400, "22023"},
        {"SELEC 1", NULL, "parquet", 400, "42601"},
        {"INSERT INTO trades SELECT * FROM trades", NULL, "parquet", 405, "25006"},
    };
    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
        int st = get_query(&s, gets[i].sql, gets[i].params, gets[i].format, NULL, file, ctype);
        if (st != gets[i].status)
            fprintf(stderr, "    GET case %zu: %d\n", i, st);
        CHECK_EQ_INT(st, gets[i].status);
        CHECK(is_error(file, ctype, gets[i].sqlstate));
    }
    CHECK_EQ_INT(get_query(&s, "SELECT 1", NULL, NULL, "-d bogus=1", file, ctype), 400);
    CHECK(is_error(file, ctype, "08P01"));
    CHECK_EQ_INT(get_query(&s, "SELECT 1", NULL, NULL, "--data-urlencode 'sql=SELECT 2'", file, ctype), 400);
    CHECK(is_error(file, ctype, "08P01"));
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM trades"), 9000);
    CHECK(answers_gone(dir, 2000));
    free(dir);
    srv_stop(&s);
}

/* -------------------------------------------------------------- cleanup */

/*
 * A client that leaves while its answer is being written, and one that
 * stops reading it half-way: the file is gone once the server is done with
 * it, and the private directory goes with the server.
 */
static void test_parquet_client_gone(void)
{
    struct srv s;
    struct http_options o = {.row_limit = 50000000};
    char *dir, ctype[256];
    CHECK_OK(start_with_tmp(&s, &o, &dir));
    spit(test_path("big.json"), "{\"sql\":\"SELECT i, i::VARCHAR || '-' || (i * 7)::VARCHAR AS s, "
                                "random() AS r FROM range(3000000) t(i)\"}");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -s -m 60 -H 'Accept: " PARQUET "' --data-binary @'%s' "
             "-o /dev/null 'http://127.0.0.1:%d/v1/query' & echo $!",
             test_path("big.json"), s.port);
    FILE *p = popen(cmd, "r");
    int pid = 0;
    CHECK(p && fscanf(p, "%d", &pid) == 1 && pid > 0);
    pclose(p);
    /* the answer is being written: a file without a name, open in the server */
    int seen = 0;
    for (int i = 0; i < 500 && !seen; i++) {
        seen = open_in(dir);
        usleep(10000);
    }
    CHECK(seen > 0);
    CHECK_EQ_INT(dir_entries(dir), 0);
    kill(pid, SIGKILL); /* the client goes away before its answer starts */
    CHECK(answers_gone(dir, 45000));
    /* a client that reads a few bytes of a large answer and stalls, then leaves */
    const char *slow = test_path("slow.out");
    snprintf(cmd, sizeof cmd,
             "curl -s -m 60 --limit-rate 20k -H 'Accept: " PARQUET "' "
             "--data-binary @'%s' -o '%s' 'http://127.0.0.1:%d/v1/query' & echo $!",
             test_path("big.json"), slow, s.port);
    p = popen(cmd, "r");
    pid = 0;
    CHECK(p && fscanf(p, "%d", &pid) == 1 && pid > 0);
    pclose(p);
    struct stat st = {0};
    for (int i = 0; i < 3000 && st.st_size == 0; i++) { /* until the answer has begun */
        usleep(10000);
        stat(slow, &st);
    }
    CHECK(st.st_size > 0);
    CHECK(open_in(dir) > 0); /* the rest is still to send, from the file */
    usleep(300000);
    kill(pid, SIGKILL);
    CHECK(answers_gone(dir, 45000));
    /* the server still answers, and takes its directory away when it stops */
    CHECK_EQ_INT(post_parquet(&s, "{\"sql\":\"SELECT 1 AS x\"}", test_path("x.parquet"), ctype), 200);
    CHECK(pq_is(test_path("x.parquet"), "x", "1"));
    srv_stop(&s);
    CHECK_EQ_INT(dir_entries(dir), -1);
    free(dir);
}

TEST_MAIN(TEST_ENTRY(test_parquet_post), TEST_ENTRY(test_parquet_get), TEST_ENTRY(test_parquet_errors),
          TEST_ENTRY(test_parquet_client_gone))
