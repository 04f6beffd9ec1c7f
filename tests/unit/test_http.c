/*
 * test_http.c -- the HTTP API against a real DuckDB, driven by curl.
 *
 * Each test opens a database in its scratch directory, starts a batcher
 * and http_start on a free loopback port, and talks to it with curl run as
 * a child process (real HTTP, real sockets): queries with bound
 * parameters and every answer format, error statuses, body and time
 * limits, NDJSON and CSV ingest with rejected lines, concurrent writers
 * with exact counts, auth with bearer tokens, /health and /metrics, and
 * the status page rendered by headless Chromium and compared with /metrics.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "http_metrics.h"
#include "http_testlib.h"
#include "metrics.h"

/* ------------------------------------------------------------- queries */

static void test_query_json(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE trades (id INTEGER, sym VARCHAR, px DOUBLE, qty BIGINT)"));
    char *out;
    CHECK_EQ_INT(query(&s,
                       "{\"sql\":\"INSERT INTO trades VALUES ($1, $2, $3, $4), ($5, $6, $7, $8)\","
                       "\"params\":[1,\"AAPL\",187.25,100,2,\"MSFT\",410.5,null]}",
                       NULL, &out),
                 200);
    json_t *j = parse(out);
    CHECK(j);
    CHECK_EQ_INT(json_integer_value(json_array_get(json_array_get(json_object_get(j, "rows"), 0), 0)), 2);
    json_decref(j);
    free(out);

    CHECK_EQ_INT(query(&s,
                       "{\"sql\":\"SELECT id, sym, px, qty FROM trades WHERE id >= $1 ORDER BY id\","
                       "\"params\":[1]}",
                       NULL, &out),
                 200);
    j = parse(out);
    CHECK(j);
    json_t *cols = json_object_get(j, "columns");
    CHECK_EQ_INT(json_array_size(cols), 4);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(cols, 1), "name")), "sym") == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(cols, 1), "type")), "VARCHAR") == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(cols, 3), "type")), "BIGINT") == 0);
    json_t *rows = json_object_get(j, "rows");
    CHECK_EQ_INT(json_array_size(rows), 2);
    CHECK(strcmp(json_string_value(json_array_get(json_array_get(rows, 1), 1)), "MSFT") == 0);
    CHECK(json_real_value(json_array_get(json_array_get(rows, 0), 2)) == 187.25);
    CHECK(json_is_null(json_array_get(json_array_get(rows, 1), 3)));
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "row_count")), 2);
    CHECK(json_is_false(json_object_get(j, "truncated")));
    json_decref(j);
    free(out);
    srv_stop(&s);
}

/* The classic injection stays a value: the table survives, the text is stored. */
static void test_query_injection(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE trades (id INTEGER, note VARCHAR)"));
    char *out;
    CHECK_EQ_INT(query(&s,
                       "{\"sql\":\"INSERT INTO trades VALUES (1, $1)\","
                       "\"params\":[\"'; DROP TABLE trades; --\"]}",
                       NULL, &out),
                 200);
    free(out);
    CHECK_EQ_INT(query(&s,
                       "{\"sql\":\"SELECT count(*) FROM trades WHERE note = $1\","
                       "\"params\":[\"x' OR '1'='1\"]}",
                       NULL, &out),
                 200);
    json_t *j = parse(out);
    CHECK_EQ_INT(json_integer_value(json_array_get(json_array_get(json_object_get(j, "rows"), 0), 0)), 0);
    json_decref(j);
    free(out);
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM trades WHERE note = '''; DROP TABLE trades; --'"), 1);
    srv_stop(&s);
}

static void test_query_formats(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a,b', NULL), "
                        "(2, 'say \"hi\"', ''), (3, 'x', 'y')) v(id, s, e)"));
    char *out;
    const char *sql = "{\"sql\":\"SELECT id, s, e FROM t ORDER BY id\"}";
    CHECK_EQ_INT(query(&s, sql, "-H 'Accept: text/csv'", &out), 200);
    CHECK(strcmp(out, "id,s,e\r\n1,\"a,b\",\r\n2,\"say \"\"hi\"\"\",\"\"\r\n3,x,y\r\n") == 0);
    free(out);
    CHECK_EQ_INT(query(&s, sql, "-H 'Accept: application/x-ndjson'", &out), 200);
    CHECK(strcmp(out, "{\"id\":1,\"s\":\"a,b\",\"e\":null}\n"
                      "{\"id\":2,\"s\":\"say \\\"hi\\\"\",\"e\":\"\"}\n"
                      "{\"id\":3,\"s\":\"x\",\"e\":\"y\"}\n") == 0);
    free(out);
    srv_stop(&s);
}

/* Types DuckDB has, as the API writes them. */
static void test_query_types(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    char *out;
    CHECK_EQ_INT(query(&s,
                       "{\"sql\":\"SELECT 12.345::DECIMAL(18,3) AS d, -0.5::DECIMAL(4,2) AS d2, "
                       "DATE '2024-03-01' AS dt, TIMESTAMP '2024-03-01 09:30:00.25' AS ts, "
                       "TIME '23:59:59' AS tm, INTERVAL '1 month 2 days 3 hours' AS iv, "
                       "170141183460469231731687303715884105727::HUGEINT AS h, "
                       "'6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID AS u, '\\\\x00AB'::BLOB AS bl, "
                       "[1, 2, NULL] AS l, {'a': 1, 'b': 'x'} AS st, MAP {'k': 1.5} AS m, "
                       "true AS b, 'nan'::DOUBLE AS n, 0.1::DOUBLE AS f, [1,2]::INTEGER[2] AS arr\"}",
                       NULL, &out),
                 200);
    json_t *j = parse(out);
    CHECK(j);
    json_t *r = json_array_get(json_object_get(j, "rows"), 0);
    char *row = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(15));
    const char *want = "[\"12.345\",\"-0.50\",\"2024-03-01\",\"2024-03-01 09:30:00.25\","
                       "\"23:59:59\",\"1 month 2 days 03:00:00\","
                       "\"170141183460469231731687303715884105727\","
                       "\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\",\"\\\\x00AB\","
                       "[1,2,null],{\"a\":1,\"b\":\"x\"},{\"k\":\"1.5\"},true,\"nan\",0.1,[1,2]]";
    if (strcmp(row, want) != 0)
        fprintf(stderr, "    got  %s\n    want %s\n", row, want);
    CHECK(strcmp(row, want) == 0);
    free(row);
    json_t *cols = json_object_get(j, "columns");
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(cols, 0), "type")), "DECIMAL(18,3)") == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(cols, 9), "type")), "INTEGER[]") == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(cols, 10), "type")),
                 "STRUCT(a INTEGER, b VARCHAR)") == 0);
    json_decref(j);
    free(out);
    srv_stop(&s);
}

/* Each wrong request gets its own status and SQLSTATE. */
static void test_query_errors(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE t (id INTEGER PRIMARY KEY)"));
    CHECK_OK(sql_ok(&s, "INSERT INTO t VALUES (1)"));
    static const struct {
        const char *body;
        int status;
        const char *sqlstate;
    } cases[] = {
        {"{\"sql\":\"SELEC 1\"}", 400, "42601"},
        {"{\"sql\":\"SELECT * FROM nosuch\"}", 400, "42P01"},
        {"{\"sql\":\"SELECT $1::INTEGER\",\"params\":[]}", 400, "08P01"},
        {"{\"sql\":\"SELECT $1::INTEGER\",\"params\":[\"abc\"]}", 400, "22P02"},
        {"{\"sql\":\"SELECT 1; SELECT 2\"}", 400, "42601"},
        {"{\"sql\":\"BEGIN\"}", 400, "0A000"},
        {"{\"sql\":\"\"}", 400, "42601"},
        {"{\"sql\":\"INSERT INTO t VALUES (1)\"}", 409, "23505"},
        {"{\"sql\":\"SELECT 1\",\"param\":[]}", 400, "08P01"},
        {"{\"sql\":42}", 400, "08P01"},
        {"{\"sql\":\"SELECT $1\",\"params\":[[1]]}", 400, "22023"},
        {"{\"sql\":\"SELECT 1\"", 400, "08P01"},
        {"[1,2]", 400, "08P01"},
        {"", 400, "08P01"},
        {"{\"sql\":\"SELECT 1/0::INTEGER AS x, 'a'::INTEGER\"}", 400, "22P02"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        int st = query(&s, cases[i].body, NULL, &out);
        json_t *j = parse(out);
        const char *state = err_state(j);
        if (st != cases[i].status || !state || strcmp(state, cases[i].sqlstate) != 0)
            fprintf(stderr, "    case %zu %s: %d %s\n", i, cases[i].body, st, out);
        CHECK_EQ_INT(st, cases[i].status);
        CHECK(state && strcmp(state, cases[i].sqlstate) == 0);
        CHECK(json_string_value(json_object_get(json_object_get(j, "error"), "message")));
        json_decref(j);
        free(out);
    }
    char *out;
    CHECK_EQ_INT(req(&s, "GET", "/nosuch", NULL, NULL, &out), 404);
    free(out);
    CHECK_EQ_INT(req(&s, "PUT", "/v1/query", NULL, "{}", &out), 405);
    free(out);
    CHECK_EQ_INT(req(&s, "GET", "/v1/query", NULL, NULL, &out), 405);
    free(out);
    CHECK_EQ_INT(req(&s, "POST", "/v1/tables/t/rows", "-H 'Content-Type: image/png'", "x", &out), 415);
    free(out);
    srv_stop(&s);
}

static void test_query_limits(void)
{
    struct srv s;
    struct http_options o = {.open_health = true, .row_limit = 50, .statement_timeout_ms = 5000};
    CHECK_OK(srv_start(&s, &o));
    char *out;
    /* the per-request limit, and the server's cap above it */
    CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT * FROM range(10000)\",\"row_limit\":7}", NULL, &out), 200);
    json_t *j = parse(out);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "rows")), 7);
    CHECK(json_is_true(json_object_get(j, "truncated")));
    json_decref(j);
    free(out);
    CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT * FROM range(10000)\",\"row_limit\":100000}", NULL, &out), 200);
    j = parse(out);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "row_count")), 50);
    json_decref(j);
    free(out);
    /* a long query is cancelled at its timeout; the server goes on */
    CHECK_EQ_INT(query(&s,
                       "{\"sql\":\"SELECT count(*) FROM range(1000000000000) a\","
                       "\"timeout_ms\":300}",
                       NULL, &out),
                 504);
    j = parse(out);
    CHECK(err_state(j) && strcmp(err_state(j), "57014") == 0);
    json_decref(j);
    free(out);
    CHECK_OK(sql_ok(&s, "SELECT 1"));
    /* many rows stream in several chunks */
    CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT i, 'row ' || i AS s FROM range(5000) t(i)\"}",
                       "-H 'Accept: text/csv'", &out),
                 200);
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    CHECK_EQ_INT(lines, 51); /* the header and the server's cap of 50 */
    free(out);
    srv_stop(&s);
}

/* An error found after the answer has started is reported in the stream. */
static void test_query_error_midstream(void)
{
    struct srv s;
    struct http_options o = {.open_health = true, .row_limit = 10000000};
    CHECK_OK(srv_start(&s, &o));
    /* DuckDB computes ahead of the reader: the bad row must come late */
    const char *sql = "{\"sql\":\"SELECT (CASE WHEN i < 1500000 THEN i::VARCHAR ELSE 'x' END)::INTEGER AS v "
                      "FROM range(2000000) t(i)\"}";
    char *out;
    CHECK_EQ_INT(query(&s, sql, NULL, &out), 200);
    json_t *j = parse(out);
    CHECK(j); /* still one valid JSON document */
    CHECK(err_state(j) && strcmp(err_state(j), "22P02") == 0);
    CHECK(json_array_size(json_object_get(j, "rows")) > 0);
    json_decref(j);
    free(out);
    CHECK_EQ_INT(query(&s, sql, "-H 'Accept: application/x-ndjson'", &out), 200);
    size_t n = strlen(out);
    CHECK(n > 20);
    char *last = out + n - 2;
    while (last > out && *last != '\n')
        last--;
    CHECK_STR_CONTAINS(last, "{\"error\":{\"sqlstate\":\"22P02\"");
    free(out);
    /* CSV cannot say it in-band: the transfer is cut short (curl fails) */
    CHECK_EQ_INT(query(&s, sql, "-H 'Accept: text/csv'", &out), 200);
    free(out);
    CHECK_OK(sql_ok(&s, "SELECT 1"));
    srv_stop(&s);
}

/* Concurrent UPDATEs of one row: conflicts are retried; every 200 counted once. */
static void test_query_conflicts(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE counter (id INTEGER, n INTEGER)"));
    CHECK_OK(sql_ok(&s, "INSERT INTO counter VALUES (1, 0)"));
    spit(test_path("upd.json"), "{\"sql\":\"UPDATE counter SET n = n + 1 WHERE id = 1\"}");
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && (", test_dir);
    for (int w = 0; w < 8; w++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n,
                      "(for r in $(seq 20); do curl -s -m 60 -o /dev/null -w '%%{http_code}\\n' "
                      "-H 'Content-Type: application/json' --data-binary @upd.json "
                      "http://127.0.0.1:%d/v1/query; done > codes.%d) & ",
                      s.port, w);
    snprintf(cmd + n, sizeof cmd - (size_t)n, "wait)");
    CHECK_EQ_INT(system(cmd), 0);
    int ok = 0, conflict = 0;
    for (int w = 0; w < 8; w++) {
        char path[512];
        snprintf(path, sizeof path, "%s.%d", test_path("codes"), w);
        char *text = slurp(path);
        CHECK(text);
        for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n")) {
            ok += strcmp(p, "200") == 0;
            conflict += strcmp(p, "409") == 0;
        }
        free(text);
    }
    CHECK_EQ_INT(ok + conflict, 160);
    CHECK_EQ_INT(count_of(&s, "SELECT n FROM counter"), ok);
    char *out;
    CHECK_EQ_INT(req(&s, "GET", "/metrics", NULL, NULL, &out), 200);
    double retried = metric(out, "duckpond_conflicts_retried_total");
    fprintf(stderr, "    %d updates committed, %d refused after retries, %.0f conflicts retried\n", ok,
            conflict, retried);
    CHECK(retried >= 0);
    free(out);
    srv_stop(&s);
}

/* A statement kept prepared follows the catalog: new columns, a gone table. */
static void test_query_cache(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE t (a INTEGER)"));
    CHECK_OK(sql_ok(&s, "INSERT INTO t VALUES (1)"));
    char *out;
    /* more rounds than pooled connections, so that several keep it */
    for (int i = 0; i < 40; i++) {
        CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT * FROM t WHERE $1 > 0\",\"params\":[1]}",
                           "-H 'Accept: text/csv'", &out),
                     200);
        CHECK(strcmp(out, "a\r\n1\r\n") == 0);
        free(out);
    }
    CHECK_OK(sql_ok(&s, "DROP TABLE t"));
    CHECK_OK(sql_ok(&s, "CREATE TABLE t (b VARCHAR, c INTEGER)"));
    CHECK_OK(sql_ok(&s, "INSERT INTO t VALUES ('x', 2)"));
    for (int i = 0; i < 40; i++) {
        CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT * FROM t WHERE $1 > 0\",\"params\":[1]}",
                           "-H 'Accept: text/csv'", &out),
                     200);
        CHECK(strcmp(out, "b,c\r\nx,2\r\n") == 0);
        free(out);
    }
    CHECK_OK(sql_ok(&s, "DROP TABLE t"));
    CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT * FROM t WHERE $1 > 0\",\"params\":[1]}", NULL, &out), 400);
    CHECK_STR_CONTAINS(out, "42P01");
    free(out);
    /* a statement's parameters do not leak into the next use */
    CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT $1::VARCHAR AS v\",\"params\":[\"first\"]}", NULL, &out), 200);
    free(out);
    CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT $1::VARCHAR AS v\",\"params\":[]}", NULL, &out), 400);
    free(out);
    srv_stop(&s);
}

/* ------------------------------------------------------------- ingest */

static void test_ingest_ndjson(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE ticks (sym VARCHAR NOT NULL, px DOUBLE, qty INTEGER, "
                        "ts TIMESTAMP DEFAULT TIMESTAMP '2000-01-01', tags VARCHAR)"));
    const char *body =
        "{\"sym\":\"AAPL\",\"px\":187.5,\"qty\":10,\"ts\":\"2024-01-02 10:00:00\",\"tags\":[\"a\"]}\n"
        "{\"sym\":\"MSFT\",\"px\":410,\"qty\":\"20\"}\n"
        "not json\n"
        "\n"
        "{\"sym\":\"X\",\"px\":1,\"qty\":\"lots\"}\n"
        "{\"sym\":\"Y\",\"bogus\":1}\n"
        "[1,2]\n"
        "{\"sym\":null,\"px\":2}\n"
        "{\"sym\":\"LAST\",\"px\":3}";
    char *out;
    CHECK_EQ_INT(
        req(&s, "POST", "/v1/tables/ticks/rows", "-H 'Content-Type: application/x-ndjson'", body, &out), 200);
    json_t *j = parse(out);
    CHECK(j);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "written")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "rejected_count")), 5);
    json_t *rej = json_object_get(j, "rejected");
    int lines[5];
    for (int i = 0; i < 5; i++)
        lines[i] = (int)json_integer_value(json_object_get(json_array_get(rej, (size_t)i), "line"));
    /* parse errors first, then the batcher's, each with its line */
    int want[] = {3, 6, 7, 5, 8};
    for (int i = 0; i < 5; i++) {
        if (lines[i] != want[i])
            fprintf(stderr, "    %s\n", out);
        CHECK_EQ_INT(lines[i], want[i]);
    }
    CHECK_STR_CONTAINS(out, "bogus");
    json_decref(j);
    free(out);
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM ticks"), 3);
    CHECK_EQ_INT(count_of(&s, "SELECT qty FROM ticks WHERE sym = 'MSFT'"), 20);
    CHECK_EQ_INT(count_of(&s, "SELECT year(ts) FROM ticks WHERE sym = 'LAST'"), 2000);
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM ticks WHERE tags = '[\"a\"]'"), 1);
    srv_stop(&s);
}

static void test_ingest_csv(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE t (id INTEGER, name VARCHAR, note VARCHAR)"));
    const char *body = "id,name,note\r\n"
                       "1,plain,\r\n"
                       "2,\"with, comma\",\"\"\r\n"
                       "3,\"multi\nline\",\"say \"\"hi\"\"\"\n"
                       "x,bad,int\n"
                       "5,too,many,fields\n"
                       "6,a\"b,c\n"
                       "7,last,\"unterminated";
    char *out;
    CHECK_EQ_INT(req(&s, "POST", "/v1/tables/t/rows", "-H 'Content-Type: text/csv'", body, &out), 200);
    json_t *j = parse(out);
    CHECK(j);
    if (json_integer_value(json_object_get(j, "written")) != 3)
        fprintf(stderr, "    %s\n", out);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "written")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "rejected_count")), 4);
    json_t *rej = json_object_get(j, "rejected");
    int want[] = {7, 8, 9, 6};
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(rej, (size_t)i), "line")), want[i]);
    json_decref(j);
    free(out);
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM t WHERE note IS NULL AND id = 1"), 1);
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM t WHERE note = '' AND name = 'with, comma'"), 1);
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM t WHERE name = 'multi' || chr(10) || 'line' "
                              "AND note = 'say \"hi\"'"),
                 1);
    srv_stop(&s);
}

static void test_ingest_atomic(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE t (id INTEGER, v DOUBLE)"));
    char *out;
    /* a line that does not parse */
    CHECK_EQ_INT(
        req(&s, "POST", "/v1/tables/t/rows?atomic=true", NULL, "{\"id\":1,\"v\":1}\n{\"id\":2,\n", &out),
        400);
    CHECK_STR_CONTAINS(out, "\"written\":0");
    free(out);
    /* a value the column refuses */
    CHECK_EQ_INT(req(&s, "POST", "/v1/tables/t/rows?atomic=true", NULL,
                     "{\"id\":1,\"v\":1}\n{\"id\":\"two\",\"v\":2}\n", &out),
                 400);
    CHECK_STR_CONTAINS(out, "\"written\":0");
    free(out);
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM t"), 0);
    /* without atomic the good row goes in */
    CHECK_EQ_INT(
        req(&s, "POST", "/v1/tables/t/rows", NULL, "{\"id\":1,\"v\":1}\n{\"id\":\"two\",\"v\":2}\n", &out),
        200);
    CHECK_STR_CONTAINS(out, "\"written\":1");
    free(out);
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM t"), 1);
    /* a missing table fails the whole request */
    CHECK_EQ_INT(req(&s, "POST", "/v1/tables/nosuch/rows", NULL, "{\"id\":1}\n", &out), 404);
    CHECK_STR_CONTAINS(out, "42P01");
    free(out);
    srv_stop(&s);
}

/* Many curl processes at once, each a request of many rows: exact totals. */
static void test_ingest_concurrent(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE t (writer INTEGER, i INTEGER)"));
    enum { WRITERS = 12, REQUESTS = 5, ROWS = 200 };
    for (int w = 0; w < WRITERS; w++) {
        char path[512];
        snprintf(path, sizeof path, "%s.%d", test_path("rows"), w);
        FILE *f = fopen(path, "w");
        CHECK(f);
        for (int i = 0; i < ROWS; i++)
            fprintf(f, "{\"writer\":%d,\"i\":%d}\n", w, i);
        fclose(f);
    }
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && (", test_dir);
    for (int w = 0; w < WRITERS; w++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n,
                      "(for r in 1 2 3 4 5; do curl -s -m 60 --data-binary @rows.%d "
                      "http://127.0.0.1:%d/v1/tables/t/rows; echo; done > out.%d) & ",
                      w, s.port, w);
    snprintf(cmd + n, sizeof cmd - (size_t)n, "wait)");
    CHECK_EQ_INT(system(cmd), 0);
    for (int w = 0; w < WRITERS; w++) {
        char path[512];
        snprintf(path, sizeof path, "%s.%d", test_path("out"), w);
        char *text = slurp(path);
        CHECK(text);
        int ok = 0;
        for (char *p = text; (p = strstr(p, "\"written\":200")); p++)
            ok++;
        if (ok != REQUESTS)
            fprintf(stderr, "    writer %d: %s\n", w, text);
        CHECK_EQ_INT(ok, REQUESTS);
        free(text);
    }
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM t"), WRITERS * REQUESTS * ROWS);
    CHECK_EQ_INT(count_of(&s, "SELECT count(DISTINCT (writer, i)) FROM t"), WRITERS * ROWS);
    srv_stop(&s);
}

/* -------------------------------------------------------------- limits */

static void test_body_limits(void)
{
    struct srv s;
    struct http_options o = {.open_health = true, .max_body_bytes = 1000, .request_timeout_s = 2};
    CHECK_OK(srv_start(&s, &o));
    CHECK_OK(sql_ok(&s, "CREATE TABLE t (id INTEGER)"));
    char big[4000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "{\"sql\":\"SELECT 1\"}", 18);
    char *out;
    CHECK_EQ_INT(query(&s, big, NULL, &out), 413);
    CHECK_STR_CONTAINS(out, "54000");
    free(out);
    /* chunked: no Content-Length, found too large while reading */
    CHECK_EQ_INT(req(&s, "POST", "/v1/tables/t/rows", "-H 'Transfer-Encoding: chunked'", big, &out), 413);
    free(out);
    CHECK_EQ_INT(count_of(&s, "SELECT count(*) FROM t"), 0);
    /* headers past the cap */
    char hdr[200000];
    int n = snprintf(hdr, sizeof hdr, "-H 'X-Big: ");
    memset(hdr + n, 'a', 100000);
    strcpy(hdr + n + 100000, "'");
    int st = req(&s, "GET", "/health", hdr, NULL, &out);
    CHECK_EQ_INT(st, 431);
    free(out);
    /* the server still serves */
    CHECK_EQ_INT(req(&s, "GET", "/health", NULL, NULL, &out), 200);
    free(out);
    srv_stop(&s);
}

/* A client that sends half a request and stalls is dropped; others go on. */
static void test_slow_client(void)
{
    struct srv s;
    struct http_options o = {.open_health = true, .request_timeout_s = 1};
    CHECK_OK(srv_start(&s, &o));
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)s.port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        CHECK(connect(fds[i], (struct sockaddr *)&a, sizeof a) == 0);
        const char *part = i == 0 ? "GET /hea"
                           : i == 1
                               ? "POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"sql\":"
                               : "POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{{{{{";
        CHECK(write(fds[i], part, strlen(part)) == (ssize_t)strlen(part));
    }
    char *out;
    CHECK_EQ_INT(req(&s, "GET", "/health", NULL, NULL, &out), 200);
    free(out);
    /* the malformed body got its 400 at once; the stalled ones are closed */
    for (int i = 0; i < 3; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        char buf[4096];
        ssize_t k = 1, total = 0;
        time_t start = time(NULL);
        while (k > 0 && time(NULL) - start < 10) {
            if (poll(&p, 1, 10000) <= 0)
                break;
            k = read(fds[i], buf, sizeof buf);
            if (k > 0)
                total += k;
            if (i == 2 && k > 0) {
                buf[k] = '\0';
                CHECK_STR_CONTAINS(buf, "400");
                break;
            }
        }
        if (i < 2)
            CHECK(k == 0 || (k < 0)); /* closed by the server */
        CHECK(time(NULL) - start < 10);
        close(fds[i]);
        (void)total;
    }
    CHECK_EQ_INT(req(&s, "GET", "/health", NULL, NULL, &out), 200);
    free(out);
    srv_stop(&s);
}

/* Past the connection cap new clients are turned away; room comes back. */
static void test_connection_cap(void)
{
    struct srv s;
    struct http_options o = {.open_health = true, .max_connections = 3};
    CHECK_OK(srv_start(&s, &o));
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)s.port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        CHECK(connect(fds[i], (struct sockaddr *)&a, sizeof a) == 0);
    }
    usleep(200000);
    char *out;
    CHECK_EQ_INT(req(&s, "GET", "/health", NULL, NULL, &out), 0);
    free(out);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    int st = 0;
    for (int tries = 0; tries < 50 && st != 200; tries++) { /* the server notices the closes */
        usleep(100000);
        st = req(&s, "GET", "/health", NULL, NULL, &out);
        free(out);
    }
    CHECK_EQ_INT(st, 200);
    srv_stop(&s);
}

static void test_non_loopback_needs_users(void)
{
    duckpond_db *db;
    duckpond_batcher *b;
    CHECK_OK(duckpond_open(":memory:", NULL, &db));
    CHECK_OK(duckpond_batcher_new(db, NULL, &b));
    struct http_options o = {.listen = "0.0.0.0", .port = free_port()};
    struct http_server *h = (void *)1;
    char err[256] = "";
    CHECK(http_start(&o, db, b, NULL, &h, err, sizeof err) != DUCKPOND_OK);
    CHECK(h == NULL);
    CHECK_STR_CONTAINS(err, "users file");
    o.listen = "not an address";
    CHECK(http_start(&o, db, b, NULL, &h, err, sizeof err) != DUCKPOND_OK);
    o.listen = "127.0.0.1";
    o.port = 0; /* disabled */
    CHECK_OK(http_start(&o, db, b, NULL, &h, err, sizeof err));
    CHECK(h == NULL);
    duckpond_batcher_free(b);
    duckpond_close(db);
}

/* -------------------------------------------------------------- auth */

static void test_auth(void)
{
    const char *path = test_path("users");
    char *rw_token = NULL, *ro_token = NULL, err[256];
    CHECK_OK(users_passwd(path, "writer", "pw1", false, &rw_token, err, sizeof err));
    CHECK_OK(users_passwd(path, "reader", "pw2", true, &ro_token, err, sizeof err));
    struct srv s;
    memset(&s, 0, sizeof s);
    struct users *u;
    CHECK_OK(users_load(path, &u, err, sizeof err));
    struct http_options o = {.open_health = false};
    /* srv_start zeroes s; load the users into it afterwards via a second start */
    CHECK_OK(duckpond_open(test_path("db.duckdb"), NULL, &s.db));
    CHECK_OK(duckpond_batcher_new(s.db, NULL, &s.b));
    s.users = u;
    s.port = free_port();
    o.port = s.port;
    CHECK_OK(http_start(&o, s.db, s.b, s.users, &s.h, err, sizeof err));
    char rw[300], ro[300], *out;
    snprintf(rw, sizeof rw, "-H 'Authorization: Bearer %s'", rw_token);
    snprintf(ro, sizeof ro, "-H 'Authorization: Bearer %s'", ro_token);
    CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT 1\"}", NULL, &out), 401);
    free(out);
    CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT 1\"}", "-H 'Authorization: Bearer nope'", &out), 401);
    free(out);
    CHECK_EQ_INT(req(&s, "GET", "/metrics", NULL, NULL, &out), 401);
    free(out);
    CHECK_EQ_INT(req(&s, "GET", "/metrics", ro, NULL, &out), 200);
    free(out);
    CHECK_EQ_INT(query(&s, "{\"sql\":\"CREATE TABLE t (id INTEGER)\"}", rw, &out), 200);
    free(out);
    CHECK_EQ_INT(query(&s, "{\"sql\":\"INSERT INTO t VALUES (1)\"}", ro, &out), 403);
    CHECK_STR_CONTAINS(out, "25006");
    free(out);
    CHECK_EQ_INT(query(&s, "{\"sql\":\"DROP TABLE t\"}", ro, &out), 403);
    free(out);
    CHECK_EQ_INT(req(&s, "POST", "/v1/tables/t/rows", ro, "{\"id\":2}\n", &out), 403);
    free(out);
    CHECK_EQ_INT(req(&s, "POST", "/v1/tables/t/rows", rw, "{\"id\":2}\n", &out), 200);
    free(out);
    CHECK_EQ_INT(query(&s, "{\"sql\":\"SELECT count(*) FROM t\"}", ro, &out), 200);
    CHECK_STR_CONTAINS(out, "[[1]]");
    free(out);
    free(rw_token);
    free(ro_token);
    srv_stop(&s);
}

/* --------------------------------------------------- health and metrics */

static void test_health_metrics(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    char *out;
    CHECK_EQ_INT(req(&s, "GET", "/health", NULL, NULL, &out), 200);
    CHECK_STR_CONTAINS(out, "\"writable\":true");
    free(out);
    CHECK_OK(sql_ok(&s, "CREATE TABLE t (id INTEGER)"));
    CHECK_EQ_INT(req(&s, "POST", "/v1/tables/t/rows", NULL, "{\"id\":1}\n{\"id\":2}\n{\"id\":\"x\"}\n", &out),
                 200);
    free(out);
    CHECK_EQ_INT(query(&s, "{\"sql\":\"SELEC\"}", NULL, &out), 400);
    free(out);
    CHECK_EQ_INT(req(&s, "GET", "/metrics", NULL, NULL, &out), 200);
    CHECK(metric(out, "duckpond_statements_total{kind=\"CREATE\"}") >= 1);
    CHECK(metric(out, "duckpond_errors_total{sqlstate=\"42601\"}") >= 1);
    CHECK_EQ_INT(metric(out, "duckpond_batcher_rows_committed_total"), 2);
    CHECK_EQ_INT(metric(out, "duckpond_batcher_rows_failed_total"), 1);
    CHECK(metric(out, "duckpond_batcher_ack_latency_seconds_count") >= 1);
    CHECK(metric(out, "duckpond_batcher_ack_latency_seconds_bucket{le=\"+Inf\"}") >= 1);
    CHECK(metric(out, "duckpond_connections_total{protocol=\"http\"}") >= 4);
    CHECK(metric(out, "duckpond_connections_open{protocol=\"http\"}") >= 1);
    CHECK(metric(out, "duckpond_duckdb_memory_bytes") >= 0);
    free(out);
    CHECK_EQ_INT(req(&s, "GET", "/v1/status", NULL, NULL, &out), 200);
    CHECK_STR_CONTAINS(out, "{\"schema\":\"main\",\"name\":\"t\",\"rows\":2}");
    free(out);
    srv_stop(&s);
}

/* The statements-by-kind table: many kinds at once, exact counts. */
static void *kinds_thread(void *arg)
{
    static const char *kinds[] = {"SELECT", "insert", "Update", "K1", "K2", "K3"};
    for (int i = 0; i < 6000; i++)
        metrics_statement(kinds[(i + (int)(intptr_t)arg) % 6]);
    return NULL;
}

static void test_metrics_tables(void)
{
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, kinds_thread, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "E%04d", i);
        metrics_error(k);
    }
    metrics_error("bad\"label");
    char *text;
    size_t len;
    CHECK_OK(http_metrics_text(NULL, NULL, &text, &len));
    CHECK_EQ_INT(metric(text, "duckpond_statements_total{kind=\"SELECT\"}"), 4000);
    CHECK_EQ_INT(metric(text, "duckpond_statements_total{kind=\"INSERT\"}"), 4000);
    CHECK_EQ_INT(metric(text, "duckpond_statements_total{kind=\"K3\"}"), 4000);
    CHECK_EQ_INT(metric(text, "duckpond_errors_total{sqlstate=\"E0000\"}"), 1);
    /* 63 named slots, the rest (and the unusable label) counted as OTHER */
    CHECK_EQ_INT(metric(text, "duckpond_errors_total{sqlstate=\"OTHER\"}"), 100 - 63 + 1);
    CHECK(!strstr(text, "bad\""));
    free(text);
}

/* ------------------------------------------------------------ history */

/* GET /v1/history: a sample a second, each with the rows committed per
 * second overall and by table; ?since= leaves out what was already seen. */
static void test_history(void)
{
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE ticks (v INT)"));
    char *out;
    for (int i = 0; i < 25; i++) { /* 2.5 s of writes, 10 rows each */
        CHECK_EQ_INT(req(&s, "POST", "/v1/tables/ticks/rows", NULL,
                         "{\"v\":1}\n{\"v\":2}\n{\"v\":3}\n{\"v\":4}\n{\"v\":5}\n"
                         "{\"v\":6}\n{\"v\":7}\n{\"v\":8}\n{\"v\":9}\n{\"v\":10}\n",
                         &out),
                     200);
        free(out);
        usleep(100000);
    }
    usleep(1200000); /* the last second sampled */
    CHECK_EQ_INT(req(&s, "GET", "/v1/history", NULL, NULL, &out), 200);
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    CHECK(j);
    json_t *samples = json_object_get(j, "samples");
    CHECK(json_is_array(samples) && json_array_size(samples) >= 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "interval_ms")), 1000);
    double rows = 0, table_rows = 0;
    size_t i;
    json_t *x;
    json_array_foreach(samples, i, x) {
        rows += json_number_value(json_object_get(x, "rows_per_s"));
        table_rows += json_number_value(json_object_get(json_object_get(x, "tables"), "ticks"));
        CHECK(json_is_object(json_object_get(x, "connections")));
        CHECK(json_is_integer(json_object_get(x, "queue_rows")));
        CHECK(json_is_null(json_object_get(x, "sync_lag_s"))); /* no PostgreSQL sync here */
    }
    /* 250 rows over the samples' seconds, give or take the edges */
    CHECK(rows > 100 && rows < 400);
    CHECK(table_rows > 100 && table_rows < 400);
    json_int_t last =
        json_integer_value(json_object_get(json_array_get(samples, json_array_size(samples) - 1), "t"));
    json_decref(j);
    char url[64];
    snprintf(url, sizeof url, "/v1/history?since=%lld", (long long)last - 1);
    CHECK_EQ_INT(req(&s, "GET", url, NULL, NULL, &out), 200);
    j = json_loads(out, 0, NULL);
    free(out);
    CHECK(j);
    samples = json_object_get(j, "samples");
    /* the last one seen, and at most one taken since */
    CHECK(json_array_size(samples) >= 1 && json_array_size(samples) <= 2);
    CHECK(json_integer_value(json_object_get(json_array_get(samples, 0), "t")) == last);
    json_decref(j);
    srv_stop(&s);
}

/* ------------------------------------------------------- status page */

/* Runs headless Chromium on url with extra flags; its stdout in *out. */
static int chromium(const char *flags, const char *url, char **out)
{
    char cmd[2048], outf[512];
    snprintf(outf, sizeof outf, "%s", test_path("chromium.out"));
    snprintf(cmd, sizeof cmd,
             "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
             "--disable-background-networking --disable-component-update --disable-sync "
             "--disable-dev-shm-usage --user-data-dir='%s' %s '%s' > '%s' 2>/dev/null",
             test_path("chromium-profile"), flags, url, outf);
    int rc = system(cmd);
    *out = slurp(outf);
    return rc;
}

/* The data-value of the element with id in the dumped DOM, or -1. */
static double dom_value(const char *dom, const char *id)
{
    char key[128];
    snprintf(key, sizeof key, "id=\"%s\" data-value=\"", id);
    const char *p = dom ? strstr(dom, key) : NULL;
    return p ? strtod(p + strlen(key), NULL) : -1;
}

static void test_status_page(void)
{
    if (system("command -v chromium >/dev/null 2>&1") != 0) {
        fprintf(stderr, "    chromium is not installed (scripts/install-debs.sh installs it)\n");
        CHECK(0);
    }
    struct srv s;
    CHECK_OK(srv_start(&s, NULL));
    CHECK_OK(sql_ok(&s, "CREATE TABLE trades (sym VARCHAR, px DOUBLE)"));
    char *out;
    CHECK_EQ_INT(req(&s, "POST", "/v1/tables/trades/rows", NULL,
                     "{\"sym\":\"A\",\"px\":1}\n{\"sym\":\"B\",\"px\":2}\n{\"sym\":\"C\",\"px\":\"x\"}\n",
                     &out),
                 200);
    free(out);
    CHECK_EQ_INT(req(&s, "GET", "/", NULL, NULL, &out), 200);
    CHECK_STR_CONTAINS(out, "<title>duckpond status</title>");
    CHECK(!strstr(out, "src=\"http") && !strstr(out, "href=\"http"));
    free(out);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    char *dom = NULL;
    chromium("--virtual-time-budget=3000 --dump-dom", url, &dom);
    CHECK(dom);
    CHECK_STR_CONTAINS(dom, "updated ");
    char *metrics;
    CHECK_EQ_INT(req(&s, "GET", "/metrics", NULL, NULL, &metrics), 200);
    static const struct {
        const char *id, *metric;
    } pairs[] = {
        {"rows_committed", "duckpond_batcher_rows_committed_total"},
        {"commits", "duckpond_batcher_commits_total"},
        {"rows_failed", "duckpond_batcher_rows_failed_total"},
        {"queue_rows", "duckpond_batcher_queue_rows"},
        {"conflicts", "duckpond_conflicts_retried_total"},
        {"conn_pg", "duckpond_connections_open{protocol=\"pg\"}"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        double shown = dom_value(dom, pairs[i].id), want = metric(metrics, pairs[i].metric);
        if (shown != want)
            fprintf(stderr, "    %s: page %g, /metrics %g\n", pairs[i].id, shown, want);
        CHECK(shown == want);
    }
    CHECK_EQ_INT(dom_value(dom, "rows_committed"), 2);
    /* statements: every one so far was through /v1/query, which the page does not use */
    CHECK(dom_value(dom, "statements") >= 1);
    CHECK_STR_CONTAINS(dom, "data-table=\"trades\">2<");
    free(metrics);
    free(dom);
    /* the screenshot step: a PNG of the rendered page */
    const char *dir = getenv("DUCKPOND_SCREENSHOT_DIR");
    char png[512], flags[700];
    snprintf(png, sizeof png, "%s/status-page.png", dir ? dir : test_dir);
    snprintf(flags, sizeof flags, "--virtual-time-budget=3000 --window-size=1100,900 --screenshot='%s'", png);
    char *ignored = NULL;
    chromium(flags, url, &ignored);
    free(ignored);
    struct stat st;
    CHECK(stat(png, &st) == 0 && st.st_size > 1000);
    FILE *f = fopen(png, "rb");
    unsigned char sig[8] = {0};
    CHECK(f && fread(sig, 1, 8, f) == 8);
    fclose(f);
    CHECK(memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0);
    srv_stop(&s);
}

TEST_MAIN(TEST_ENTRY(test_query_json), TEST_ENTRY(test_query_injection), TEST_ENTRY(test_query_formats),
          TEST_ENTRY(test_query_types), TEST_ENTRY(test_query_errors), TEST_ENTRY(test_query_limits),
          TEST_ENTRY(test_query_error_midstream), TEST_ENTRY(test_query_conflicts),
          TEST_ENTRY(test_query_cache), TEST_ENTRY(test_ingest_ndjson), TEST_ENTRY(test_ingest_csv),
          TEST_ENTRY(test_ingest_atomic), TEST_ENTRY(test_ingest_concurrent), TEST_ENTRY(test_body_limits),
          TEST_ENTRY(test_slow_client), TEST_ENTRY(test_connection_cap),
          TEST_ENTRY(test_non_loopback_needs_users), TEST_ENTRY(test_auth), TEST_ENTRY(test_health_metrics),
          TEST_ENTRY(test_metrics_tables), TEST_ENTRY(test_history), TEST_ENTRY(test_status_page))
