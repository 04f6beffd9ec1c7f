/*
 * test_pglibpq.c -- the duckpond server under libpq and raw sockets.
 *
 * Each test starts the real server binary (the one built beside this test
 * program) as a child process on 127.0.0.1 and a free port, talks to it,
 * and stops it with SIGTERM, checking that it exits 0. Covered: binary
 * results and parameters, PostgreSQL text formats, PQprepare/PQexecPrepared
 * and PQdescribePrepared, pipeline mode with an error in the middle, COPY
 * in and out (with chunks that split rows, and CopyFail), COPY FROM's
 * errors as PostgreSQL gives them, its all-or-nothing commit (a bad line,
 * CopyFail, a client gone, inside and outside a transaction), its shapes
 * (column lists, defaults, schemas, CSV's NULLs, CRLF) and binary format,
 * cancel requests,
 * the connection limit, SCRAM-SHA-256 and read-only users, and bad input
 * (garbage, a 2 GiB length, truncated and unknown messages, clients that
 * vanish mid-COPY and mid-result) that must not disturb other sessions,
 * and the reason the server logs for each way a connection ends.
 */
#include <arpa/inet.h>
#include <libgen.h>
#include <postgresql/libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "testlib.h"

static pid_t server_pid;
static int server_port;

/* The server binary beside this test's build directory. */
static const char *server_bin(void)
{
    static char path[1024];
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return "build/duckpond";
    exe[n] = 0;
    snprintf(path, sizeof path, "%s/../duckpond", dirname(exe));
    return path;
}

/* Starts the server with extra arguments (NULL-terminated); 0 when it listens. */
static int start_server_args(const char *const *extra)
{
    const char *portfile = test_path("port");
    unlink(portfile);
    const char *argv[32] = {server_bin(), "serve",       "--db", test_path("db.duckdb"), "--pg-port",
                            "0",          "--http-port", "0",    "--port-file",          portfile};
    int argc = 10;
    for (int i = 0; extra && extra[i] && argc < 30; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    server_pid = fork();
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test that fails half-way leaves no server behind */
        if (!freopen(test_path("server.log"), "a", stderr))
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int ok = fscanf(f, "%d", &server_port) == 1;
            fclose(f);
            if (ok)
                return 0;
        }
        usleep(50000);
    }
    return -1;
}

static int start_server(void)
{
    return start_server_args(NULL);
}

/* SIGTERM; returns the exit status (0 expected). */
static int stop_server(void)
{
    int status = 0;
    kill(server_pid, SIGTERM);
    waitpid(server_pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static PGconn *connect_as(const char *user, const char *password)
{
    char info[512];
    snprintf(info, sizeof info, "host=127.0.0.1 port=%d user=%s dbname=duckpond%s%s", server_port, user,
             password ? " password=" : "", password ? password : "");
    return PQconnectdb(info);
}

static PGconn *connect_db(void)
{
    return connect_as("tester", NULL);
}

/* Runs sql; true when the status is the expected one. */
static int exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fprintf(stderr, "    %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* The first value of a query as a string (static buffer), or "ERROR:<sqlstate>". */
static const char *value_of(PGconn *c, const char *sql)
{
    static char buf[256];
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        snprintf(buf, sizeof buf, "%s", PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
    else
        snprintf(buf, sizeof buf, "ERROR:%s", PQresultErrorField(r, PG_DIAG_SQLSTATE) ?: "?");
    PQclear(r);
    return buf;
}

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static uint64_t be64(const char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* ---------------------------------------------------------------- tests */

static void test_binary_results(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexecParams(c,
                               "SELECT 42::int, 9000000000::bigint, 1.5::double, true, 'hi'::text, "
                               "'\\xde\\xad'::blob, DATE '2000-01-02', TIMESTAMP '2000-01-01 00:00:01', "
                               "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, 3::smallint, 2.5::float",
                               0, NULL, NULL, NULL, NULL, 1);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_TUPLES_OK);
    CHECK_EQ_INT(PQftype(r, 0), 23);
    CHECK_EQ_INT(PQftype(r, 1), 20);
    CHECK_EQ_INT(PQftype(r, 2), 701);
    CHECK_EQ_INT(PQftype(r, 3), 16);
    CHECK_EQ_INT(PQftype(r, 5), 17);
    CHECK_EQ_INT(PQftype(r, 8), 2950);
    CHECK_EQ_INT(PQfformat(r, 0), 1);
    CHECK_EQ_INT(PQgetlength(r, 0, 0), 4);
    CHECK_EQ_INT(be32(PQgetvalue(r, 0, 0)), 42);
    CHECK_EQ_INT((int64_t)be64(PQgetvalue(r, 0, 1)), 9000000000LL);
    uint64_t u = be64(PQgetvalue(r, 0, 2));
    double d;
    memcpy(&d, &u, 8);
    CHECK(d == 1.5);
    CHECK_EQ_INT(PQgetvalue(r, 0, 3)[0], 1);
    CHECK(PQgetlength(r, 0, 4) == 2 && memcmp(PQgetvalue(r, 0, 4), "hi", 2) == 0);
    CHECK(PQgetlength(r, 0, 5) == 2 && (unsigned char)PQgetvalue(r, 0, 5)[0] == 0xde);
    CHECK_EQ_INT((int32_t)be32(PQgetvalue(r, 0, 6)), 1);       /* days since 2000-01-01 */
    CHECK_EQ_INT((int64_t)be64(PQgetvalue(r, 0, 7)), 1000000); /* microseconds since 2000 */
    CHECK(PQgetlength(r, 0, 8) == 16 && (unsigned char)PQgetvalue(r, 0, 8)[0] == 0xa0 &&
          (unsigned char)PQgetvalue(r, 0, 8)[15] == 0x11);
    CHECK_EQ_INT(PQgetlength(r, 0, 9), 2);
    CHECK_EQ_INT(PQgetlength(r, 0, 10), 4);
    PQclear(r);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

static void test_binary_params(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(exec_ok(c, "CREATE TABLE p(i int, b bigint, f double, ok boolean, t text, raw blob)"));
    uint32_t i = htonl(7), bh = htonl(1), bl = htonl(2);
    char b8[8], f8[8], ok = 1;
    memcpy(b8, &bh, 4);
    memcpy(b8 + 4, &bl, 4);
    double f = -2.25;
    uint64_t fu;
    memcpy(&fu, &f, 8);
    uint32_t fh = htonl((uint32_t)(fu >> 32)), fl = htonl((uint32_t)fu);
    memcpy(f8, &fh, 4);
    memcpy(f8 + 4, &fl, 4);
    const char *vals[6] = {(char *)&i, b8, f8, &ok, "text", "\x01\x00\x02"};
    int lens[6] = {4, 8, 8, 1, 4, 3}, fmts[6] = {1, 1, 1, 1, 1, 1};
    Oid types[6] = {23, 20, 701, 16, 25, 17};
    PGresult *r =
        PQexecParams(c, "INSERT INTO p VALUES ($1, $2, $3, $4, $5, $6)", 6, types, vals, lens, fmts, 0);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COMMAND_OK);
    CHECK(strcmp(PQcmdTuples(r), "1") == 0);
    PQclear(r);
    r = PQexec(c, "SELECT i, b, f, ok, t, raw FROM p");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "    %s", PQerrorMessage(c));
    CHECK_EQ_INT(PQntuples(r), 1);
    CHECK_EQ_INT(PQnfields(r), 6);
    CHECK(strcmp(PQgetvalue(r, 0, 0), "7") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 1), "4294967298") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 2), "-2.25") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 3), "t") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 4), "text") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 5), "\\x010002") == 0);
    PQclear(r);
    /* text parameters DuckDB cannot type on its own */
    const char *tv[2] = {"5", "abc"};
    r = PQexecParams(c, "SELECT $1 + 1 AS a, $2 || 'd' AS b", 2, NULL, tv, NULL, NULL, 0);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_TUPLES_OK);
    CHECK_EQ_INT(PQnfields(r), 2);
    CHECK(strcmp(PQgetvalue(r, 0, 0), "6") == 0);
    CHECK(strcmp(PQgetvalue(r, 0, 1), "abcd") == 0);
    PQclear(r);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

static void test_text_formats(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    PGresult *r = PQexec(
        c, "SELECT 'inf'::double, '-inf'::double, 'nan'::double, [1,2,NULL], ['a b', 'c'], "
           "false, '\\x0a\\xff'::blob, 0.1::double, 12.50::decimal(10,2), INTERVAL 1 YEAR + INTERVAL 2 DAY, "
           "TIMESTAMPTZ '2024-05-06 07:08:09.123+00', NULL::int");
    CHECK_EQ_INT(PQresultStatus(r), PGRES_TUPLES_OK);
    const char *want[] = {"Infinity",
                          "-Infinity",
                          "NaN",
                          "{1,2,NULL}",
                          "{\"a b\",c}",
                          "f",
                          "\\x0aff",
                          "0.1",
                          "12.50",
                          "1 year 2 days",
                          "2024-05-06 07:08:09.123+00"};
    for (int i = 0; i < 11; i++) {
        if (strcmp(PQgetvalue(r, 0, i), want[i]) != 0)
            fprintf(stderr, "    column %d: %s != %s\n", i, PQgetvalue(r, 0, i), want[i]);
        CHECK(strcmp(PQgetvalue(r, 0, i), want[i]) == 0);
    }
    CHECK(PQgetisnull(r, 0, 11));
    CHECK_EQ_INT(PQftype(r, 3), 1007);
    CHECK_EQ_INT(PQftype(r, 8), 1700);
    PQclear(r);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

static void test_prepared(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, "CREATE TABLE kv(k int primary key, v text)"));
    PGresult *r = PQprepare(c, "ins", "INSERT INTO kv VALUES ($1, $2)", 0, NULL);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", i);
        const char *vals[2] = {k, "v"};
        r = PQexecPrepared(c, "ins", 2, vals, NULL, NULL, 0);
        CHECK_EQ_INT(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
    }
    const char *dup[2] = {"3", "again"};
    r = PQexecPrepared(c, "ins", 2, dup, NULL, NULL, 0);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_FATAL_ERROR);
    CHECK(strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23505") == 0);
    PQclear(r);
    r = PQprepare(c, "sel", "SELECT k, v FROM kv WHERE k >= $1 ORDER BY k", 0, NULL);
    PQclear(r);
    r = PQdescribePrepared(c, "sel");
    CHECK_EQ_INT(PQnparams(r), 1);
    CHECK_EQ_INT(PQparamtype(r, 0), 23);
    CHECK_EQ_INT(PQnfields(r), 2);
    CHECK(strcmp(PQfname(r, 1), "v") == 0);
    PQclear(r);
    const char *from[1] = {"15"};
    r = PQexecPrepared(c, "sel", 1, from, NULL, NULL, 0);
    CHECK_EQ_INT(PQntuples(r), 5);
    PQclear(r);
    r = PQprepare(c, "ins", "SELECT 1", 0, NULL);
    CHECK(strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42P05") == 0);
    PQclear(r);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM kv"), "20") == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* A statement prepared with a literal filter before its row exists must see
 * the row once another session commits it (DuckDB plans against the table
 * statistics of the moment it prepares). */
static void test_prepared_sees_later_commits(void)
{
    CHECK_OK(start_server());
    PGconn *a = connect_db(), *b = connect_db();
    CHECK(exec_ok(a, "CREATE TABLE t(id bigint, v int); INSERT INTO t SELECT i, i FROM range(100) r(i)"));
    PGresult *r = PQprepare(b, "q", "SELECT count(*) FROM t WHERE id = 777777", 0, NULL);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    r = PQexecPrepared(b, "q", 0, NULL, NULL, NULL, 0);
    CHECK(strcmp(PQgetvalue(r, 0, 0), "0") == 0);
    PQclear(r);
    CHECK(exec_ok(a, "INSERT INTO t VALUES (777777, 1)"));
    r = PQexecPrepared(b, "q", 0, NULL, NULL, NULL, 0);
    CHECK(strcmp(PQgetvalue(r, 0, 0), "1") == 0);
    PQclear(r);
    PQfinish(a);
    PQfinish(b);
    CHECK_EQ_INT(stop_server(), 0);
}

/* A PGresult's outcome: its command status, or "ERROR:<sqlstate>: <message>" (static buffer; r is cleared). */
static const char *outcome(PGresult *r)
{
    static char buf[512];
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        snprintf(buf, sizeof buf, "%s", PQcmdStatus(r));
    else
        snprintf(buf, sizeof buf, "ERROR:%s: %s", PQresultErrorField(r, PG_DIAG_SQLSTATE) ?: "?",
                 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?: "?");
    PQclear(r);
    return buf;
}

/* Parses sql as the unnamed statement (types: n declared types, or NULL): its outcome. */
static const char *parse_unnamed(PGconn *c, const char *sql, int n, const Oid *types)
{
    return outcome(PQprepare(c, "", sql, n, types));
}

/* Runs the unnamed statement with n text parameters: its outcome. */
static const char *exec_unnamed(PGconn *c, int n, const char *const *vals)
{
    return outcome(PQexecPrepared(c, "", n, vals, NULL, NULL, 0));
}

/* The parameter types Describe gives for the statement name, as "23,25,..." (static buffer). */
static const char *param_types(PGconn *c, const char *name)
{
    static char buf[256];
    PGresult *r = PQdescribePrepared(c, name);
    size_t at = 0;
    buf[0] = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        snprintf(buf, sizeof buf, "ERROR");
    for (int i = 0; PQresultStatus(r) == PGRES_COMMAND_OK && i < PQnparams(r) && at < sizeof buf - 16; i++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%u", i ? "," : "", PQparamtype(r, i));
    PQclear(r);
    return buf;
}

static int raw_session(void);

/* Appends a protocol message of type t whose body is body (emptied after). */
static void raw_put(struct dp_buf *out, char t, struct dp_buf *body)
{
    uint32_t l = htonl((uint32_t)(body->len + 4));
    dp_buf_byte(out, t);
    dp_buf_add(out, &l, 4);
    dp_buf_add(out, body->data, body->len);
    dp_buf_clear(body, 0);
}

/* Appends a Bind of the unnamed portal to statement name with one text parameter, and an Execute of it. */
static void raw_bind_execute(struct dp_buf *out, const char *name, const char *value)
{
    struct dp_buf b = {0};
    uint16_t zero = 0, one = htons(1);
    uint32_t vlen = htonl((uint32_t)strlen(value)), nolimit = 0;
    dp_buf_add(&b, "", 1);
    dp_buf_add(&b, name, strlen(name) + 1);
    dp_buf_add(&b, &zero, 2);
    dp_buf_add(&b, &one, 2);
    dp_buf_add(&b, &vlen, 4);
    dp_buf_str(&b, value);
    dp_buf_add(&b, &zero, 2);
    raw_put(out, 'B', &b);
    dp_buf_add(&b, "", 1);
    dp_buf_add(&b, &nolimit, 4);
    raw_put(out, 'E', &b);
    dp_buf_free(&b);
}

/*
 * On a raw session: Parse of sql as "n1", Close of n1, Parse of sql
 * unnamed, Parse of it as "n1" again, then each run with value, and
 * Sync. Returns the answers' types in order, CommandComplete's with its
 * tag ("1 3 ... C:INSERT 0 1 ... Z"; static buffer).
 */
static const char *raw_parse_close_run(const char *sql, const char *value)
{
    static char seen[256];
    struct dp_buf out = {0}, b = {0};
    uint16_t none = 0;
    const char *names[3] = {"n1", "", "n1"};
    for (int i = 0; i < 3; i++) {
        dp_buf_add(&b, names[i], strlen(names[i]) + 1);
        dp_buf_add(&b, sql, strlen(sql) + 1);
        dp_buf_add(&b, &none, 2);
        raw_put(&out, 'P', &b);
        if (i == 0) {
            dp_buf_add(&b, "Sn1", 4);
            raw_put(&out, 'C', &b);
        }
    }
    raw_bind_execute(&out, "", value);
    raw_bind_execute(&out, "n1", value);
    raw_put(&out, 'S', &b);
    int fd = raw_session();
    seen[0] = 0;
    if (fd < 0 || out.failed || send(fd, out.data, out.len, 0) != (ssize_t)out.len)
        snprintf(seen, sizeof seen, "cannot send");
    char in[4096];
    size_t got = 0, at = 0, len = strlen(seen);
    for (bool ready = fd < 0 || len > 0; !ready;) {
        ssize_t n = recv(fd, in + got, sizeof in - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        while (!ready && at + 5 <= got && at + 1 + be32(in + at + 1) <= got) {
            uint32_t mlen = be32(in + at + 1);
            if (in[at] == 'C')
                len += (size_t)snprintf(seen + len, sizeof seen - len, "%sC:%.*s", len ? " " : "",
                                        (int)mlen - 5, in + at + 5);
            else
                len += (size_t)snprintf(seen + len, sizeof seen - len, "%s%c", len ? " " : "", in[at]);
            ready = in[at] == 'Z';
            at += 1 + mlen;
        }
    }
    if (fd >= 0)
        close(fd);
    dp_buf_free(&out);
    dp_buf_free(&b);
    return seen;
}

/*
 * The unnamed statement parsed again and again with the same text, as
 * drivers that bind on the server send every query: each Parse answers
 * as a first one would (Describe, errors), through DDL of this session and
 * of another, a Parse that fails until its table exists, declared types,
 * transactions (one that made a table and rolled back), named statements
 * of the same text, and a text too large for its prepared statement to be
 * kept.
 */
static void test_unnamed_parse_repeated(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db(), *other = connect_db();
    const char *ins = "INSERT INTO kv VALUES ($1, $2, $3)";
    CHECK(exec_ok(c, "CREATE TABLE kv(k int, v text, ts timestamp)"));
    for (int i = 0; i < 200; i++) {
        char k[16], ts[32];
        snprintf(k, sizeof k, "%d", i);
        snprintf(ts, sizeof ts, "2026-01-02 03:04:%02d", i % 60);
        const char *vals[3] = {k, i % 2 ? "odd" : "even", ts};
        CHECK(strcmp(parse_unnamed(c, ins, 0, NULL), "") == 0);
        if (i % 50 == 0)
            CHECK(strcmp(param_types(c, ""), "23,25,1114") == 0);
        CHECK(strcmp(exec_unnamed(c, 3, vals), "INSERT 0 1") == 0);
    }
    CHECK(
        strcmp(value_of(c, "SELECT count(*) || ' ' || sum(k) || ' ' || count(*) FILTER (v = 'odd') FROM kv"),
               "200 19900 100") == 0);
    CHECK(strcmp(value_of(c, "SELECT ts FROM kv WHERE k = 61"), "2026-01-02 03:04:01") == 0);

    /* declared types are part of what the statement is */
    const Oid int8_types[1] = {20}, open_types[1] = {0};
    CHECK(strcmp(parse_unnamed(c, ins, 1, int8_types), "") == 0);
    CHECK(strcmp(param_types(c, ""), "20,25,1114") == 0);
    CHECK(strcmp(parse_unnamed(c, ins, 1, open_types), "") == 0);
    CHECK(strcmp(param_types(c, ""), "23,25,1114") == 0);
    CHECK(strcmp(parse_unnamed(c, ins, 0, NULL), "") == 0);
    CHECK(strcmp(param_types(c, ""), "23,25,1114") == 0);

    /* this session's DDL: other column types, then the table gone */
    CHECK(exec_ok(c, "ALTER TABLE kv ALTER COLUMN k TYPE bigint"));
    CHECK(strcmp(parse_unnamed(c, ins, 0, NULL), "") == 0);
    CHECK(strcmp(param_types(c, ""), "20,25,1114") == 0);
    CHECK(exec_ok(c, "DROP TABLE kv"));
    char first[512];
    snprintf(first, sizeof first, "%s", parse_unnamed(c, ins, 0, NULL));
    CHECK(strncmp(first, "ERROR:42P01", 11) == 0);
    CHECK(strcmp(parse_unnamed(c, ins, 0, NULL), first) == 0); /* failing the same way each time */

    /* another session's DDL: the table made again with other types */
    CHECK(exec_ok(other, "CREATE TABLE kv(k varchar, v int, ts date)"));
    CHECK(strcmp(parse_unnamed(c, ins, 0, NULL), "") == 0);
    CHECK(strcmp(param_types(c, ""), "25,23,1082") == 0);
    const char *typed[3] = {"key", "42", "2026-03-04"};
    CHECK(strcmp(exec_unnamed(c, 3, typed), "INSERT 0 1") == 0);
    CHECK(exec_ok(other, "DROP TABLE kv"));
    CHECK(exec_ok(other, "CREATE TABLE kv(k int, v text, ts timestamp)"));
    CHECK(strcmp(parse_unnamed(c, ins, 0, NULL), "") == 0);
    CHECK(strcmp(param_types(c, ""), "23,25,1114") == 0);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM kv"), "0") == 0);

    /* a Parse that fails until its table exists */
    const char *later = "INSERT INTO later VALUES ($1)";
    const char *one[1] = {"7"};
    snprintf(first, sizeof first, "%s", parse_unnamed(c, later, 0, NULL));
    CHECK(strncmp(first, "ERROR:42P01", 11) == 0);
    CHECK(strcmp(parse_unnamed(c, later, 0, NULL), first) == 0);
    CHECK(exec_ok(c, "CREATE TABLE later(a int)"));
    CHECK(strcmp(parse_unnamed(c, later, 0, NULL), "") == 0);
    CHECK(strcmp(exec_unnamed(c, 1, one), "INSERT 0 1") == 0);
    CHECK(strcmp(value_of(c, "SELECT a FROM later"), "7") == 0);

    /* transactions: one that made a table and rolled back leaves no statement behind */
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(exec_ok(c, "CREATE TABLE intx(a int)"));
    CHECK(strcmp(parse_unnamed(c, "INSERT INTO intx VALUES ($1)", 0, NULL), "") == 0);
    CHECK(strcmp(exec_unnamed(c, 1, one), "INSERT 0 1") == 0);
    CHECK(exec_ok(c, "ROLLBACK"));
    CHECK(strncmp(parse_unnamed(c, "INSERT INTO intx VALUES ($1)", 0, NULL), "ERROR:42P01", 11) == 0);
    /* ... and one that only wrote: the statement it parsed serves after it, its row is gone */
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(strcmp(parse_unnamed(c, later, 0, NULL), "") == 0);
    const char *eight[1] = {"8"}, *nine[1] = {"9"};
    CHECK(strcmp(exec_unnamed(c, 1, eight), "INSERT 0 1") == 0);
    CHECK(exec_ok(c, "ROLLBACK"));
    CHECK(strcmp(parse_unnamed(c, later, 0, NULL), "") == 0);
    CHECK(strcmp(exec_unnamed(c, 1, nine), "INSERT 0 1") == 0);
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(strcmp(parse_unnamed(c, later, 0, NULL), "") == 0); /* DuckDB runs it, in the transaction */
    CHECK(strcmp(exec_unnamed(c, 1, eight), "INSERT 0 1") == 0);
    CHECK(exec_ok(c, "COMMIT"));
    CHECK(strcmp(value_of(c, "SELECT string_agg(a::varchar, ',' ORDER BY a) FROM later"), "7,8,9") == 0);

    /* a transaction whose snapshot is older than another session's DDL: what it parses is not kept */
    CHECK(exec_ok(c, "CREATE TABLE snap(a int)"));
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM snap"), "0") == 0);
    CHECK(exec_ok(other, "DROP TABLE snap"));
    CHECK(exec_ok(other, "CREATE TABLE snap(a varchar)"));
    CHECK(strcmp(parse_unnamed(c, "INSERT INTO snap VALUES ($1)", 0, NULL), "") == 0);
    CHECK(strcmp(param_types(c, ""), "23") == 0); /* the table its snapshot sees */
    CHECK(exec_ok(c, "COMMIT"));
    CHECK(strcmp(parse_unnamed(c, "INSERT INTO snap VALUES ($1)", 0, NULL), "") == 0);
    CHECK(strcmp(param_types(c, ""), "25") == 0);

    /* named statements of the same text, one of them closed; the unnamed one replaced in between */
    CHECK(strcmp(raw_parse_close_run(later, "7"), "1 3 1 1 2 C:INSERT 0 1 2 C:INSERT 0 1 Z") == 0);
    PQclear(PQprepare(c, "n2", later, 0, NULL));
    CHECK(strcmp(parse_unnamed(c, "SELECT 1", 0, NULL), "") == 0);
    CHECK(strcmp(parse_unnamed(c, later, 0, NULL), "") == 0);
    CHECK(strcmp(exec_unnamed(c, 1, one), "INSERT 0 1") == 0);
    CHECK(strcmp(outcome(PQexecPrepared(c, "n2", 1, one, NULL, NULL, 0)), "INSERT 0 1") == 0);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM later WHERE a = 7"), "5") == 0);

    /* more texts than the cache holds: a named statement made from an entry outlives the entry */
    PQclear(PQprepare(c, "keep", "INSERT INTO kv VALUES ($1, 'kept', NULL)", 0, NULL));
    PQclear(PQprepare(c, "keep2", "INSERT INTO kv VALUES ($1, 'kept', NULL)", 0, NULL));
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 80; i++) {
            char text[96], k[16];
            snprintf(text, sizeof text, "INSERT INTO kv VALUES ($1, 'many%d', NULL)", i);
            snprintf(k, sizeof k, "%d", i);
            const char *kv[1] = {k};
            CHECK(strcmp(parse_unnamed(c, text, 0, NULL), "") == 0);
            CHECK(strcmp(exec_unnamed(c, 1, kv), "INSERT 0 1") == 0);
        }
    CHECK(strcmp(outcome(PQexecPrepared(c, "keep2", 1, one, NULL, NULL, 0)), "INSERT 0 1") == 0);
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(strcmp(outcome(PQexecPrepared(c, "keep", 1, one, NULL, NULL, 0)), "INSERT 0 1") == 0);
    CHECK(exec_ok(c, "COMMIT"));
    CHECK(strcmp(value_of(c, "SELECT count(*) || ' ' || count(DISTINCT v) || ' ' || sum(k) FROM kv "
                             "WHERE v LIKE 'many%'"),
                 "160 80 6320") == 0);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM kv WHERE v = 'kept'"), "2") == 0);

    /* a text whose prepared statement is too large to keep: prepared again where DuckDB runs it */
    struct dp_buf big = {0};
    dp_buf_str(&big, "INSERT INTO kv VALUES ");
    const char *vals[600];
    char keys[200][12];
    for (int i = 0; i < 200; i++) {
        dp_buf_printf(&big, "%s($%d, $%d, $%d)", i ? ", " : "", 3 * i + 1, 3 * i + 2, 3 * i + 3);
        snprintf(keys[i], sizeof keys[i], "%d", i);
        vals[3 * i] = keys[i];
        vals[3 * i + 1] = "big";
        vals[3 * i + 2] = "2026-05-06 07:08:09";
    }
    for (int round = 0; round < 3; round++) {
        if (round == 2)
            CHECK(exec_ok(c, "BEGIN"));
        CHECK(strcmp(parse_unnamed(c, big.data, 0, NULL), "") == 0);
        CHECK(strcmp(exec_unnamed(c, 600, vals), "INSERT 0 200") == 0);
    }
    CHECK(exec_ok(c, "COMMIT"));
    dp_buf_free(&big);
    CHECK(strcmp(value_of(c, "SELECT count(*) || ' ' || sum(k) FROM kv WHERE v = 'big'"), "600 59700") == 0);
    PQfinish(other);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/*
 * DuckDB's own settings decide what a name binds to: a Parse after SET
 * schema (which DuckDB runs) finds the other schema's table, whatever the
 * session parsed before. (Run in a transaction, where DuckDB runs the
 * INSERT: the batcher resolves a name in its own connection's schema.)
 */
static void test_unnamed_parse_after_set(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, "CREATE TABLE t(a int)"));
    CHECK(exec_ok(c, "CREATE SCHEMA other"));
    CHECK(exec_ok(c, "CREATE TABLE other.t(a varchar)"));
    const char *ins = "INSERT INTO t VALUES ($1)", *v[1] = {"5"};
    for (int i = 0; i < 2; i++) {
        CHECK(exec_ok(c, "BEGIN"));
        CHECK(strcmp(parse_unnamed(c, ins, 0, NULL), "") == 0);
        CHECK(strcmp(param_types(c, ""), i ? "25" : "23") == 0);
        CHECK(strcmp(exec_unnamed(c, 1, v), "INSERT 0 1") == 0);
        CHECK(exec_ok(c, "COMMIT"));
        if (i == 0)
            CHECK(exec_ok(c, "SET schema = 'other'"));
    }
    CHECK(strcmp(value_of(c, "SELECT typeof(a) || ' ' || a FROM other.t"), "VARCHAR 5") == 0);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM main.t"), "1") == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* SET values are read with the SQL lexer (E'...', dollar quotes, quoted names); version() by its tokens. */
static void test_set_values_and_version(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    static const struct {
        const char *set, *shown;
    } sets[] = {
        {"SET application_name = E'a\\tb\\''", "a\tb'"},
        {"SET application_name TO $$x'y$$", "x'y"},
        {"SET application_name = \"Quoted\"", "Quoted"},
        {"SET \"application_name\" = 'q2' -- a comment", "q2"},
        {"SET SESSION application_name TO plain_word", "plain_word"},
        {"set application_name='it''s'", "it's"},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        CHECK(exec_ok(c, sets[i].set));
        const char *v = value_of(c, "SHOW application_name");
        if (strcmp(v, sets[i].shown) != 0)
            fprintf(stderr, "    %s: shows %s\n", sets[i].set, v);
        CHECK(strcmp(v, sets[i].shown) == 0);
    }
    CHECK(strncmp(value_of(c, "select version()"), "PostgreSQL ", 11) == 0);
    CHECK(strncmp(value_of(c, "SELECT /* c */ pg_catalog . version ( )"), "PostgreSQL ", 11) == 0);
    CHECK(strncmp(value_of(c, "select ver sion()"), "ERROR:", 6) == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* A named INSERT whose now() took the batcher is analysed again after DDL: here a macro that shadows now(). */
static void test_prepared_clock_after_ddl(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, "CREATE TABLE ev(id int, ts timestamp)"));
    PGresult *r = PQprepare(c, "ev", "INSERT INTO ev VALUES ($1, now())", 0, NULL);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    const char *one[1] = {"1"}, *two[1] = {"2"};
    r = PQexecPrepared(c, "ev", 1, one, NULL, NULL, 0);
    CHECK(strcmp(PQcmdStatus(r), "INSERT 0 1") == 0);
    PQclear(r);
    CHECK(exec_ok(c, "CREATE MACRO now() AS TIMESTAMP '2001-02-03 04:05:06'"));
    r = PQexecPrepared(c, "ev", 1, two, NULL, NULL, 0);
    CHECK(strcmp(PQcmdStatus(r), "INSERT 0 1") == 0);
    PQclear(r);
    CHECK(strcmp(value_of(c, "SELECT ts FROM ev WHERE id = 2"), "2001-02-03 04:05:06") == 0);
    CHECK(strcmp(value_of(c, "SELECT ts > TIMESTAMP '2020-01-01' FROM ev WHERE id = 1"), "t") == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

static void test_pipeline(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, "CREATE TABLE pl(a int)"));
    CHECK(PQenterPipelineMode(c));
    CHECK(PQsendQueryParams(c, "SELECT 1", 0, NULL, NULL, NULL, NULL, 0));
    CHECK(PQsendQueryParams(c, "SELECT nosuch FROM pl", 0, NULL, NULL, NULL, NULL, 0));
    CHECK(PQsendQueryParams(c, "INSERT INTO pl VALUES (1)", 0, NULL, NULL, NULL, NULL, 0));
    CHECK(PQpipelineSync(c));
    CHECK(PQsendQueryParams(c, "SELECT 2", 0, NULL, NULL, NULL, NULL, 0));
    CHECK(PQpipelineSync(c));
    ExecStatusType want[] = {PGRES_TUPLES_OK,     PGRES_FATAL_ERROR, PGRES_PIPELINE_ABORTED,
                             PGRES_PIPELINE_SYNC, PGRES_TUPLES_OK,   PGRES_PIPELINE_SYNC};
    for (int i = 0; i < 6; i++) {
        PGresult *r = PQgetResult(c);
        CHECK(r != NULL);
        if (PQresultStatus(r) != want[i])
            fprintf(stderr, "    result %d: %s\n", i, PQresStatus(PQresultStatus(r)));
        CHECK_EQ_INT(PQresultStatus(r), want[i]);
        if (i == 4)
            CHECK(strcmp(PQgetvalue(r, 0, 0), "2") == 0);
        PQclear(r);
        if (want[i] != PGRES_PIPELINE_SYNC)
            CHECK(PQgetResult(c) == NULL);
    }
    CHECK(PQexitPipelineMode(c));
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM pl"), "0") == 0); /* the aborted insert never ran */
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

static void test_copy(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, "CREATE TABLE cp(id int, name text, note text)"));
    PGresult *r = PQexec(c, "COPY cp FROM STDIN");
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COPY_IN);
    CHECK_EQ_INT(PQnfields(r), 3);
    PQclear(r);
    const char *data = "1\tone\t\\N\n2\ttw";
    const char *rest = "o\ttab\\there\n3\tthree\tx\n";
    CHECK_EQ_INT(PQputCopyData(c, data, (int)strlen(data)), 1);
    CHECK_EQ_INT(PQputCopyData(c, rest, (int)strlen(rest)), 1);
    CHECK_EQ_INT(PQputCopyEnd(c, NULL), 1);
    r = PQgetResult(c);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COMMAND_OK);
    CHECK(strcmp(PQcmdStatus(r), "COPY 3") == 0);
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    CHECK(strcmp(value_of(c, "SELECT note FROM cp WHERE id = 2"), "tab\there") == 0);
    CHECK(strcmp(value_of(c, "SELECT note IS NULL FROM cp WHERE id = 1"), "t") == 0);
    /* CSV with a quoted newline, header, in a transaction (the Appender path) */
    CHECK(exec_ok(c, "BEGIN"));
    r = PQexec(c, "COPY cp (id, name) FROM STDIN WITH (FORMAT csv, HEADER true)");
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COPY_IN);
    PQclear(r);
    const char *csv = "id,name\n4,\"multi\nline\"\n5,\"say \"\"hi\"\"\"\n";
    CHECK_EQ_INT(PQputCopyData(c, csv, (int)strlen(csv)), 1);
    CHECK_EQ_INT(PQputCopyEnd(c, NULL), 1);
    r = PQgetResult(c);
    CHECK(strcmp(PQcmdStatus(r), "COPY 2") == 0);
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    CHECK(exec_ok(c, "COMMIT"));
    CHECK(strcmp(value_of(c, "SELECT name FROM cp WHERE id = 5"), "say \"hi\"") == 0);
    /* CopyFail: nothing of that COPY is kept */
    r = PQexec(c, "COPY cp FROM STDIN");
    PQclear(r);
    PQputCopyData(c, "9\tnine\tx\n", 9);
    PQputCopyEnd(c, "client gave up");
    r = PQgetResult(c);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM cp"), "5") == 0);
    /* COPY TO STDOUT */
    r = PQexec(c, "COPY (SELECT id, note FROM cp WHERE id <= 2 ORDER BY id) TO STDOUT");
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COPY_OUT);
    PQclear(r);
    char *buf, all[256] = "";
    int n;
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        strncat(all, buf, (size_t)n);
        PQfreemem(buf);
    }
    r = PQgetResult(c);
    CHECK(strcmp(PQcmdStatus(r), "COPY 2") == 0);
    PQclear(r);
    CHECK(strcmp(all, "1\t\\N\n2\ttab\\there\n") == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

static void *cancel_later(void *arg)
{
    usleep(300000);
    PGcancel *cn = PQgetCancel(arg);
    char err[256];
    PQcancel(cn, err, sizeof err);
    PQfreeCancel(cn);
    return NULL;
}

static void test_cancel(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, c);
    PGresult *r = PQexec(c, "SELECT count(*) FROM range(100000000000) a");
    pthread_join(t, NULL);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_FATAL_ERROR);
    CHECK(strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "57014") == 0);
    PQclear(r);
    CHECK(strcmp(value_of(c, "SELECT 5"), "5") == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

static void test_too_many_connections(void)
{
    const char *extra[] = {"--max-connections", "2", NULL};
    CHECK_OK(start_server_args(extra));
    PGconn *a = connect_db(), *b = connect_db(), *c = connect_db();
    CHECK(PQstatus(a) == CONNECTION_OK && PQstatus(b) == CONNECTION_OK);
    CHECK(PQstatus(c) == CONNECTION_BAD);
    CHECK_STR_CONTAINS(PQerrorMessage(c), "too many clients");
    PQfinish(c);
    PQfinish(b);
    usleep(200000);
    c = connect_db(); /* room again */
    CHECK(PQstatus(c) == CONNECTION_OK);
    PQfinish(c);
    PQfinish(a);
    CHECK_EQ_INT(stop_server(), 0);
}

/* Adds a user with duckpond passwd; 0 on success. */
static int add_user(const char *users, const char *name, const char *password, int read_only)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "echo '%s' | '%s' passwd --users '%s' %s %s >/dev/null", password, server_bin(),
             users, read_only ? "--read-only" : "", name);
    return system(cmd);
}

static void test_scram_and_read_only(void)
{
    const char *users = test_path("users");
    CHECK_OK(add_user(users, "alice", "s3cret", 0));
    CHECK_OK(add_user(users, "reader", "r3ad", 1));
    FILE *f = fopen(users, "r");
    char text[4096] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    CHECK(strstr(text, "s3cret") == NULL); /* verifiers, never passwords */
    const char *extra[] = {"--users", users, NULL};
    CHECK_OK(start_server_args(extra));
    PGconn *c = connect_as("alice", "wrong");
    CHECK(PQstatus(c) == CONNECTION_BAD);
    CHECK_STR_CONTAINS(PQerrorMessage(c), "password authentication failed");
    PQfinish(c);
    c = connect_as("nobody", "x");
    CHECK(PQstatus(c) == CONNECTION_BAD);
    PQfinish(c);
    c = connect_as("alice", "s3cret");
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(exec_ok(c, "CREATE TABLE ro(a int)"));
    CHECK(exec_ok(c, "INSERT INTO ro VALUES (1)"));
    PQfinish(c);
    c = connect_as("reader", "r3ad");
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM ro"), "1") == 0);
    PGresult *r = PQexec(c, "INSERT INTO ro VALUES (2)");
    CHECK(strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "25006") == 0);
    PQclear(r);
    r = PQexec(c, "/* comment */ DELETE FROM ro");
    CHECK(strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "25006") == 0);
    PQclear(r);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* ------------------------------------------------------------ bad input */

static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* A raw session past startup (reads until ReadyForQuery). */
static int raw_session(void)
{
    int fd = raw_connect();
    char pkt[64] = {0};
    const char params[] = "user\0raw\0database\0duckpond\0";
    int len = 8 + (int)sizeof params;
    uint32_t l = htonl((uint32_t)len), v = htonl(196608);
    memcpy(pkt, &l, 4);
    memcpy(pkt + 4, &v, 4);
    memcpy(pkt + 8, params, sizeof params);
    send(fd, pkt, (size_t)len, 0);
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = recv(fd, buf + got, sizeof buf - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        if (got >= 6 && buf[got - 6] == 'Z')
            return fd;
    }
    return -1;
}

/* Reads everything until the server closes; true if an ErrorResponse with code came. */
static int read_until_close(int fd, const char *code)
{
    char buf[65536];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)n;
    close(fd);
    if (!code)
        return 1;
    for (size_t i = 0; i + 5 < got; i++)
        if (buf[i] == 'C' && memcmp(buf + i + 1, code, 5) == 0)
            return 1;
    return 0;
}

static int others_still_work(PGconn *c)
{
    return strcmp(value_of(c, "SELECT count(*) FROM t"), "3") == 0;
}

static void test_bad_input(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, "CREATE TABLE t(a int)"));
    CHECK(exec_ok(c, "INSERT INTO t VALUES (1), (2), (3)"));
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(exec_ok(c, "SELECT 1"));
    /* garbage instead of a startup packet */
    int fd = raw_connect();
    send(fd, "GET / HTTP/1.1\r\n\r\n", 18, 0);
    CHECK(read_until_close(fd, NULL));
    /* a startup packet claiming 2 GiB */
    fd = raw_connect();
    send(fd, "\x80\x00\x00\x00\x00\x03\x00\x00", 8, 0);
    CHECK(read_until_close(fd, "08P01"));
    /* a message claiming 2 GiB after startup */
    fd = raw_session();
    CHECK(fd >= 0);
    send(fd, "Q\x7f\xff\xff\xff", 5, 0);
    CHECK(read_until_close(fd, "08P01"));
    /* an unknown message type */
    fd = raw_session();
    send(fd, "z\x00\x00\x00\x04", 5, 0);
    CHECK(read_until_close(fd, "08P01"));
    /* a truncated message, then the client goes */
    fd = raw_session();
    send(fd, "Q\x00\x00\x00\x40SELE", 9, 0);
    close(fd);
    /* out of order: a password message in the ready phase; Bind of nothing */
    fd = raw_session();
    send(fd,
         "p\x00\x00\x00\x08"
         "abc\x00",
         9, 0);
    CHECK(read_until_close(fd, "08P01"));
    /* a client that vanishes mid-COPY: its rows are not committed */
    fd = raw_session();
    const char copy[] = "Q\x00\x00\x00\x17"
                        "COPY t FROM STDIN\x00";
    send(fd, copy, sizeof copy - 1, 0);
    usleep(100000);
    send(fd,
         "d\x00\x00\x00\x06"
         "9\n",
         7, 0);
    close(fd);
    /* a client that vanishes mid-result */
    fd = raw_session();
    const char big[] = "Q\x00\x00\x00\x2e"
                       "SELECT * FROM range(3000000) a, range(3) b\x00";
    send(fd, big, sizeof big - 1, 0);
    char buf[100];
    recv(fd, buf, sizeof buf, 0);
    close(fd);
    usleep(300000);
    CHECK(exec_ok(c, "COMMIT"));
    CHECK(others_still_work(c));
    PGconn *d = connect_db();
    CHECK(PQstatus(d) == CONNECTION_OK);
    CHECK(strcmp(value_of(d, "SELECT count(*) FROM t"), "3") == 0);
    PQfinish(d);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* ---------------------------------------------------------- COPY FROM */

/*
 * Runs COPY ... FROM STDIN and sends len bytes of data in CopyData
 * messages of chunk bytes, then CopyDone; returns the final result
 * (caller clears), or the COPY statement's own when it did not start.
 */
static PGresult *copy_in(PGconn *c, const char *sql, const char *data, size_t len, size_t chunk)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return r;
    PQclear(r);
    for (size_t i = 0; i < len; i += chunk)
        if (PQputCopyData(c, data + i, (int)(len - i < chunk ? len - i : chunk)) != 1)
            break;
    PQputCopyEnd(c, NULL);
    r = PQgetResult(c);
    PGresult *more;
    while ((more = PQgetResult(c)))
        PQclear(more);
    return r;
}

static PGresult *copy_str(PGconn *c, const char *sql, const char *data)
{
    return copy_in(c, sql, data, strlen(data), 8192);
}

/* An error field of a result ("" when absent). */
static const char *err_field(const PGresult *r, int code)
{
    const char *v = PQresultErrorField(r, code);
    return v ? v : "";
}

/* Whether a COPY failed with this SQLSTATE, message and CONTEXT (NULL: not checked). */
static int copy_failed_with(PGresult *r, const char *state, const char *msg, const char *context)
{
    int ok = PQresultStatus(r) == PGRES_FATAL_ERROR && !strcmp(err_field(r, PG_DIAG_SQLSTATE), state) &&
             (!msg || !strcmp(err_field(r, PG_DIAG_MESSAGE_PRIMARY), msg)) &&
             (!context || !strcmp(err_field(r, PG_DIAG_CONTEXT), context));
    if (!ok)
        fprintf(stderr, "    got %s %s: %s / %s\n", PQresStatus(PQresultStatus(r)),
                err_field(r, PG_DIAG_SQLSTATE), err_field(r, PG_DIAG_MESSAGE_PRIMARY),
                err_field(r, PG_DIAG_CONTEXT));
    PQclear(r);
    return ok;
}

/* Whether a COPY succeeded with this tag. */
static int copy_ok(PGresult *r, const char *tag)
{
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), tag);
    if (!ok)
        fprintf(stderr, "    got %s %s %s\n", PQresStatus(PQresultStatus(r)), PQcmdStatus(r),
                PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

#define TRADES \
    "CREATE TABLE trades(ts timestamp, symbol varchar, quantity double precision, price double precision)"

/* n rows of trades in text format (caller frees); *len set. */
static char *trade_rows(int n, size_t *len)
{
    char *buf = malloc((size_t)n * 64 + 1);
    size_t o = 0;
    for (int i = 0; i < n; i++)
        o += (size_t)sprintf(buf + o, "2026-01-02 09:%02d:%02d.%06d\tSYM%03d\t%d\t%d.25\n", i / 60 % 60,
                             i % 60, i % 1000000, i % 500, i % 97, 100 + i % 13);
    *len = o;
    return buf;
}

/* A bad value, a bad line: PostgreSQL's SQLSTATE, message and CONTEXT, and nothing committed. */
static void test_copy_errors(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, TRADES));
    CHECK(exec_ok(c, "CREATE TABLE n(i int, d decimal(5,2), day date)"));
    const char *ok2 = "2026-01-02 10:00:00\tA\t1\t2\n2026-01-02 10:00:01\tB\t1\t2\n";
    char data[512];
    snprintf(data, sizeof data, "%sxyz\tC\t1\t2\n", ok2);
    CHECK(copy_failed_with(copy_str(c, "COPY trades FROM STDIN", data), "22007",
                           "invalid input syntax for type timestamp: \"xyz\"",
                           "COPY trades, line 3, column ts: \"xyz\""));
    /* CSV: the header is line 1, and a quoted newline counts as PostgreSQL counts it */
    CHECK(copy_failed_with(copy_str(c, "COPY trades FROM STDIN WITH (FORMAT csv, HEADER)",
                                    "ts,symbol,quantity,price\n2026-01-02 10:00:00,\"A\nB\",1,2\n"
                                    "2026-01-02 10:00:00,C,1,x\n"),
                           "22P02", "invalid input syntax for type double precision: \"x\"",
                           "COPY trades, line 4, column price: \"x\""));
    CHECK(copy_failed_with(copy_str(c, "COPY trades FROM STDIN", "2026-01-02 10:00:00\tA\t1\n"), "22P04",
                           "missing data for column \"price\"",
                           "COPY trades, line 1: \"2026-01-02 10:00:00\tA\t1\""));
    snprintf(data, sizeof data, "%s2026-01-02 10:00:00\tA\t1\t2\t3\n", ok2);
    CHECK(copy_failed_with(copy_str(c, "COPY trades FROM STDIN", data), "22P04",
                           "extra data after last expected column", NULL));
    CHECK(copy_failed_with(copy_str(c, "COPY trades FROM STDIN", "2026-01-02 10:00:00\tA\xc3\x28\t1\t2\n"),
                           "22021", "invalid byte sequence for encoding \"UTF8\": 0xc3 0x28",
                           "COPY trades, line 1"));
    CHECK(copy_failed_with(copy_str(c, "COPY n (i) FROM STDIN", "1\n99999999999\n"), "22003",
                           "value \"99999999999\" is out of range for type integer",
                           "COPY n, line 2, column i: \"99999999999\""));
    /* a bad value before a bad line: the first in line order is the one reported, as PostgreSQL does */
    CHECK(copy_failed_with(copy_str(c, "COPY n (i, d) FROM STDIN", "x\t1\n2\n"), "22P02",
                           "invalid input syntax for type integer: \"x\"",
                           "COPY n, line 1, column i: \"x\""));
    CHECK(copy_failed_with(copy_str(c, "COPY n (d) FROM STDIN", "abc\n"), "22P02",
                           "invalid input syntax for type numeric: \"abc\"", NULL));
    CHECK(copy_failed_with(copy_str(c, "COPY n (day) FROM STDIN", "2026-02-30\n"), "22008", NULL, NULL));
    CHECK(copy_failed_with(copy_str(c, "COPY nosuch FROM STDIN", ""), "42P01",
                           "relation \"nosuch\" does not exist", NULL));
    CHECK(copy_failed_with(copy_str(c, "COPY n (i, nosuch) FROM STDIN", ""), "42703", NULL, NULL));
    CHECK(copy_failed_with(copy_str(c, "COPY n FROM STDIN (FORMAT csv, FORCE_NULL (nosuch))", ""), "42P10",
                           NULL, NULL));
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM trades"), "0") == 0);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM n"), "0") == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* One COPY commits all its rows or none, however it ends; inside a transaction it joins it. */
static void test_copy_atomic(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, TRADES));
    size_t len;
    char *rows = trade_rows(200000, &len);
    /* 200,000 good rows, then a bad one: none kept */
    char *bad = malloc(len + 64);
    memcpy(bad, rows, len);
    strcpy(bad + len, "2026-01-02 10:00:00\tX\tnot a number\t1\n");
    CHECK(copy_failed_with(copy_in(c, "COPY trades FROM STDIN", bad, strlen(bad), 65536), "22P02", NULL,
                           "COPY trades, line 200001, column quantity: \"not a number\""));
    free(bad);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM trades"), "0") == 0);
    /* CopyFail after most of the rows */
    PGresult *r = PQexec(c, "COPY trades FROM STDIN");
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COPY_IN);
    PQclear(r);
    CHECK_EQ_INT(PQputCopyData(c, rows, (int)(len - 10)), 1);
    CHECK_EQ_INT(PQputCopyEnd(c, "the client changed its mind"), 1);
    r = PQgetResult(c);
    CHECK(copy_failed_with(r, "57014", "COPY from stdin failed: the client changed its mind", NULL));
    while ((r = PQgetResult(c)))
        PQclear(r);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM trades"), "0") == 0);
    /* a client that goes mid-COPY */
    PGconn *gone = connect_db();
    r = PQexec(gone, "COPY trades FROM STDIN");
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COPY_IN);
    PQclear(r);
    CHECK_EQ_INT(PQputCopyData(gone, rows, (int)len), 1);
    PQflush(gone);
    usleep(200000);
    PQfinish(gone);
    usleep(500000);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM trades"), "0") == 0);
    /* inside a transaction: the COPY's rows are the transaction's */
    size_t len1000;
    char *rows1000 = trade_rows(1000, &len1000);
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(copy_ok(copy_in(c, "COPY trades FROM STDIN", rows1000, len1000, 1000), "COPY 1000"));
    free(rows1000);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM trades"), "1000") == 0);
    CHECK(exec_ok(c, "ROLLBACK"));
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM trades"), "0") == 0);
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(copy_ok(copy_in(c, "COPY trades FROM STDIN", rows, len, 8192), "COPY 200000"));
    CHECK(exec_ok(c, "COMMIT"));
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM trades"), "200000") == 0);
    /* a failed COPY fails the transaction */
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(copy_failed_with(copy_str(c, "COPY trades FROM STDIN", "bad\n"), "22P04", NULL, NULL));
    CHECK(strcmp(value_of(c, "SELECT 1"), "ERROR:25P02") == 0);
    CHECK(exec_ok(c, "ROLLBACK"));
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM trades"), "200000") == 0);
    free(rows);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* Column lists and defaults, schemas and quoted names, empty COPYs, CRLF, CSV's NULLs, escapes, bytea. */
static void test_copy_shapes(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, "CREATE SCHEMA s"));
    CHECK(exec_ok(
        c, "CREATE TABLE s.\"My Trades\"(id int DEFAULT 7, \"Sym Bol\" varchar, note varchar DEFAULT 'none', "
           "qty int)"));
    CHECK(copy_ok(copy_str(c, "COPY s.\"My Trades\" (\"Sym Bol\", qty) FROM STDIN", "ABC\t5\nDEF\t6\n"),
                  "COPY 2"));
    CHECK(strcmp(value_of(c, "SELECT id || note || qty FROM s.\"My Trades\" WHERE \"Sym Bol\" = 'DEF'"),
                 "7none6") == 0);
    CHECK(copy_ok(copy_str(c, "COPY s.\"My Trades\" FROM STDIN", ""), "COPY 0"));
    CHECK(copy_ok(
        copy_str(c, "COPY s.\"My Trades\" FROM STDIN (FORMAT csv, HEADER)", "id,Sym Bol,note,qty\r\n"),
        "COPY 0"));
    CHECK(copy_ok(copy_str(c, "COPY s.\"My Trades\" FROM STDIN (FORMAT csv, HEADER)",
                           "id,Sym Bol,note,qty\r\n1,,\"\",2\r\n2,\"a\r\nb\",x,3\r\n"),
                  "COPY 2"));
    CHECK(strcmp(value_of(c, "SELECT (\"Sym Bol\" IS NULL)::text || '|' || note || '|' "
                             "FROM s.\"My Trades\" WHERE id = 1"),
                 "true||") == 0);
    CHECK(
        strcmp(
            value_of(
                c, "SELECT \"Sym Bol\" = 'a' || chr(13) || chr(10) || 'b' FROM s.\"My Trades\" WHERE id = 2"),
            "t") == 0);
    CHECK(copy_ok(
        copy_str(c,
                 "COPY s.\"My Trades\" (id, note) FROM STDIN (FORMAT csv, NULL 'x', FORCE_NOT_NULL (note))",
                 "3,x\n"),
        "COPY 1"));
    CHECK(strcmp(value_of(c, "SELECT note FROM s.\"My Trades\" WHERE id = 3"), "x") == 0);
    /* text format: escapes, \N, CRLF, the end marker */
    CHECK(copy_ok(copy_str(c, "COPY s.\"My Trades\" (id, \"Sym Bol\", note) FROM STDIN",
                           "4\ta\\tb\\\\c\\101\t\\N\r\n5\t\"q\"\t\\\\N\r\n\\.\r\n"),
                  "COPY 2"));
    CHECK(strcmp(value_of(c, "SELECT \"Sym Bol\" FROM s.\"My Trades\" WHERE id = 4"), "a\tb\\cA") == 0);
    CHECK(strcmp(value_of(c, "SELECT note FROM s.\"My Trades\" WHERE id = 4"), "NULL") == 0);
    CHECK(strcmp(value_of(c, "SELECT \"Sym Bol\" || note FROM s.\"My Trades\" WHERE id = 5"), "\"q\"\\N") ==
          0);
    /* a value longer than DuckDB's default longest line (2 MB) */
    size_t biglen = 3u << 20;
    char *big = malloc(biglen + 16);
    memset(big, 'v', biglen);
    strcpy(big + biglen, "\t9\n");
    CHECK(
        copy_ok(copy_in(c, "COPY s.\"My Trades\" (note, id) FROM STDIN", big, strlen(big), 65536), "COPY 1"));
    free(big);
    CHECK(strcmp(value_of(c, "SELECT length(note) FROM s.\"My Trades\" WHERE id = 9"), "3145728") == 0);
    /* PostgreSQL's array braces for a list of numbers */
    CHECK(exec_ok(c, "CREATE TABLE arr(a int[], b int[][])"));
    CHECK(copy_ok(copy_str(c, "COPY arr FROM STDIN", "{1,2,3}\t{{1},{2,3}}\n[4]\t\\N\n"), "COPY 2"));
    CHECK(strcmp(value_of(c, "SELECT sum(list_sum(a))::int FROM arr"), "10") == 0);
    /* bytea in PostgreSQL's hex form */
    CHECK(exec_ok(c, "CREATE TABLE raw(b blob)"));
    CHECK(copy_ok(copy_str(c, "COPY raw FROM STDIN", "\\\\x00ff41\n"), "COPY 1"));
    CHECK(copy_ok(copy_str(c, "COPY \"public\".raw FROM STDIN", "\\\\x00\n"),
                  "COPY 1")); /* asyncpg's spelling */
    CHECK(strcmp(value_of(c, "SELECT hex(b) FROM raw"), "00FF41") == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* Appends a big-endian integer of n bytes. */
static size_t put_be(char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (char)(v >> (8 * (n - 1 - i)));
    return (size_t)n;
}

/* Appends one binary field: its length, then its bytes (len -1: NULL). */
static size_t put_field(char *p, const void *v, int32_t len)
{
    size_t o = put_be(p, (uint32_t)len, 4);
    if (len > 0)
        memcpy(p + o, v, (size_t)len);
    return o + (len > 0 ? (size_t)len : 0);
}

/* COPY ... FROM STDIN (FORMAT binary): each type decoded, NULLs, and the errors PostgreSQL gives. */
static void test_copy_binary(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, "CREATE TABLE b(i int, big bigint, f double, t text, ts timestamp, d date, ok boolean, "
                     "n decimal(10,3), raw blob, u uuid)"));
    char buf[1024], v[16];
    size_t o = 0;
    memcpy(buf, "PGCOPY\n\377\r\n\0", 11);
    o = 11 + put_be(buf + 11, 0, 4) + put_be(buf + 15, 0, 4);
    o += put_be(buf + o, 10, 2);
    o += put_field(buf + o, v, (int32_t)put_be(v, (uint32_t)-5, 4));
    o += put_field(buf + o, v, (int32_t)put_be(v, 9000000000ULL, 8));
    double f = 2.5;
    uint64_t fu;
    memcpy(&fu, &f, 8);
    o += put_field(buf + o, v, (int32_t)put_be(v, fu, 8));
    o += put_field(buf + o, "héllo", 6);
    o += put_field(buf + o, v, (int32_t)put_be(v, 86400000000ULL + 1500000, 8)); /* 2000-01-02 00:00:01.5 */
    o += put_field(buf + o, v, (int32_t)put_be(v, (uint32_t)-1, 4));             /* 1999-12-31 */
    o += put_field(buf + o, "\1", 1);
    /* numeric -12.345: 2 digits (12, 3450), weight 0, negative, dscale 3 */
    char num[12];
    put_be(num, 2, 2), put_be(num + 2, 0, 2), put_be(num + 4, 0x4000, 2), put_be(num + 6, 3, 2);
    put_be(num + 8, 12, 2), put_be(num + 10, 3450, 2);
    o += put_field(buf + o, num, 12);
    o += put_field(buf + o, "\0\1\2", 3);
    o += put_field(buf + o, "\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11", 16);
    o += put_be(buf + o, 10, 2); /* a row of NULLs */
    for (int i = 0; i < 10; i++)
        o += put_field(buf + o, NULL, -1);
    o += put_be(buf + o, 0xFFFF, 2);
    CHECK(copy_ok(copy_in(c, "COPY b FROM STDIN (FORMAT binary)", buf, o, 7), "COPY 2"));
    CHECK(strcmp(value_of(c, "SELECT concat_ws('|', i, big, f, t, ts, d, ok, n, hex(raw), u) "
                             "FROM b WHERE i IS NOT NULL"),
                 "-5|9000000000|2.5|héllo|2000-01-02 00:00:01.5|1999-12-31|true|-12.345|000102|"
                 "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11") == 0);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM b WHERE i IS NULL AND t IS NULL AND u IS NULL"), "1") ==
          0);
    /* a tuple with the wrong field count, a field of the wrong size, a bad signature: nothing kept */
    size_t head = 19;
    char bad[64];
    memcpy(bad, buf, head);
    size_t k = head + put_be(bad + head, 2, 2);
    CHECK(copy_failed_with(copy_in(c, "COPY b FROM STDIN (FORMAT binary)", bad, k + 8, 100), "22P04",
                           "row field count is 2, expected 10", "COPY b, line 1"));
    k = head + put_be(bad + head, 1, 2);
    k += put_field(bad + k, "abc", 3);
    CHECK(copy_failed_with(copy_in(c, "COPY b (i) FROM STDIN (FORMAT binary)", bad, k, 100), "22P03",
                           "incorrect binary data format", "COPY b, line 1, column i"));
    CHECK(copy_failed_with(copy_in(c, "COPY b FROM STDIN (FORMAT binary)", "PGCOPY\nxxxxxxxxxxxx", 20, 100),
                           "22P04", "COPY file signature not recognized", NULL));
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM b"), "2") == 0);
    /* a column list, in its own order: the other columns get their defaults */
    CHECK(exec_ok(c, "CREATE TABLE bd(id int DEFAULT 42, name text, qty bigint)"));
    k = head + put_be(bad + head, 2, 2);
    k += put_field(bad + k, v, (int32_t)put_be(v, 7, 8));
    k += put_field(bad + k, "x", 1);
    k += put_be(bad + k, 0xFFFF, 2);
    CHECK(copy_ok(copy_in(c, "COPY bd (qty, name) FROM STDIN (FORMAT binary)", bad, k, 3), "COPY 1"));
    CHECK(strcmp(value_of(c, "SELECT concat_ws('|', id, name, qty) FROM bd"), "42|x|7") == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* A cancel request stops a COPY that is streaming; nothing of it is kept. */
static void test_copy_cancel(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, TRADES));
    size_t len;
    char *rows = trade_rows(20000, &len);
    PGresult *r = PQexec(c, "COPY trades FROM STDIN");
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COPY_IN);
    PQclear(r);
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, c);
    int sent = 0;
    for (int i = 0; i < 400 && sent == 0; i++) { /* ~2 s of rows; the cancel comes after 0.3 s */
        if (PQputCopyData(c, rows, (int)len) != 1)
            sent = -1;
        usleep(5000);
    }
    pthread_join(t, NULL);
    PQputCopyEnd(c, NULL);
    CHECK(copy_failed_with(PQgetResult(c), "57014", "canceling statement due to user request", NULL));
    while ((r = PQgetResult(c)))
        PQclear(r);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM trades"), "0") == 0);
    free(rows);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* ---------------------------------------------------------- disconnects */

/* Whether one line of the server's log holds both a and b; waits up to 3 s for it. */
static int log_line_has(const char *a, const char *b)
{
    for (int tries = 0; tries < 60; tries++) {
        FILE *f = fopen(test_path("server.log"), "r");
        char line[1024];
        int found = 0;
        while (f && !found && fgets(line, sizeof line, f))
            found = strstr(line, a) && strstr(line, b);
        if (f)
            fclose(f);
        if (found)
            return 1;
        usleep(50000);
    }
    return 0;
}

/* Every way a connection ends is logged with its reason. */
static void test_disconnect_reasons(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(PQstatus(c) == CONNECTION_OK);
    char who[64];
    snprintf(who, sizeof who, "connection %d (user \"tester\" from 127.0.0.1:", PQbackendPID(c));
    PQfinish(c);
    CHECK(log_line_has(who, "closed: the client sent Terminate"));
    /* a client that goes without Terminate */
    int fd = raw_session();
    CHECK(fd >= 0);
    close(fd);
    CHECK(log_line_has("(user \"raw\" from 127.0.0.1:", "closed: the client closed the connection"));
    /* refused at startup: the FATAL error is the reason */
    char info[256];
    snprintf(info, sizeof info, "host=127.0.0.1 port=%d user=tester dbname=otherdb", server_port);
    c = PQconnectdb(info);
    CHECK(PQstatus(c) == CONNECTION_BAD);
    PQfinish(c);
    CHECK(log_line_has("closed", "FATAL 3D000: database \"otherdb\" does not exist"));
    /* not the protocol at all */
    fd = raw_connect();
    send(fd, "\x80\x00\x00\x00\x00\x03\x00\x00", 8, 0);
    CHECK(read_until_close(fd, "08P01"));
    CHECK(log_line_has("closed", "FATAL 08P01: invalid frontend message"));
    /* still connected at SIGTERM */
    c = connect_db();
    CHECK(PQstatus(c) == CONNECTION_OK);
    snprintf(who, sizeof who, "connection %d (user \"tester\"", PQbackendPID(c));
    CHECK_EQ_INT(stop_server(), 0);
    PQfinish(c);
    CHECK(log_line_has(who, "closed: the server is shutting down"));
}

/* Runs INSERT INTO pt VALUES ($1..$4) with k binary (int4) or text; the result's SQLSTATE, or "" when it succeeded. */
static const char *insert_pt(PGconn *c, int k, bool binary_k, const char *ts)
{
    static char state[8];
    static const Oid types[4] = {23, 1114, 25, 1700};
    char ktext[16], kbin[4], v[32];
    snprintf(ktext, sizeof ktext, "%d", k);
    uint32_t be = htonl((uint32_t)k);
    memcpy(kbin, &be, 4);
    snprintf(v, sizeof v, "v%d", k);
    const char *vals[4] = {binary_k ? kbin : ktext, ts, v, "12.50"};
    int lens[4] = {binary_k ? 4 : 0, 0, 0, 0}, fmts[4] = {binary_k, 0, 0, 0};
    PGresult *r = PQexecParams(c, "INSERT INTO pt VALUES ($1, $2, $3, $4)", 4, types, vals, lens, fmts, 0);
    const char *st = PQresultStatus(r) == PGRES_COMMAND_OK ? "" : PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof state, "%s", st ? st : "?");
    if (!*state && strcmp(PQcmdStatus(r), "INSERT 0 1") != 0)
        snprintf(state, sizeof state, "tag");
    PQclear(r);
    return state;
}

/*
 * INSERTs with parameters inside a transaction (the unnamed statement
 * parsed each time, as node-postgres and psycopg 3 send them), text and
 * binary, are the transaction's: its SELECT sees them, ROLLBACK takes
 * them away, COMMIT keeps them; a duplicate key fails the transaction
 * with 23505 and a bad value with DuckDB's error. A temporary table named
 * like a table of the database takes the INSERTs that name it, as DuckDB
 * resolves the name, in autocommit and in a transaction.
 */
static void test_insert_params_in_transaction(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, "CREATE TABLE pt(k int primary key, ts timestamp, v varchar, n decimal(10,2))"));
    for (int round = 0; round < 2; round++) {
        CHECK(exec_ok(c, "BEGIN"));
        for (int k = 0; k < 50; k++)
            CHECK(strcmp(insert_pt(c, k, k % 2, "2026-01-02 03:04:05.5"), "") == 0);
        CHECK(strcmp(value_of(c, "SELECT count(*) FROM pt"), "50") == 0);
        CHECK(exec_ok(c, round ? "COMMIT" : "ROLLBACK"));
        CHECK(strcmp(value_of(c, "SELECT count(*) FROM pt"), round ? "50" : "0") == 0);
    }
    CHECK(strcmp(value_of(c, "SELECT v || ' ' || n || ' ' || ts FROM pt WHERE k = 7"),
                 "v7 12.50 2026-01-02 03:04:05.5") == 0);
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(strcmp(insert_pt(c, 60, false, "2026-01-02"), "") == 0);
    CHECK(strcmp(insert_pt(c, 3, true, "2026-01-02"), "23505") == 0);
    CHECK(strcmp(value_of(c, "SELECT 1"), "ERROR:25P02") == 0);
    CHECK(exec_ok(c, "ROLLBACK"));
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(strcmp(insert_pt(c, 61, false, "2026-01-02"), "") == 0);
    CHECK(strncmp(insert_pt(c, 62, false, "nonsense"), "22", 2) == 0);
    CHECK(exec_ok(c, "ROLLBACK"));
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM pt"), "50") == 0);
    /* a temporary table comes first in DuckDB's search: the INSERTs go there */
    CHECK(exec_ok(c, "CREATE TEMP TABLE pt(k int, note varchar)"));
    CHECK(exec_ok(c, "INSERT INTO pt VALUES (1, 'temp')"));
    CHECK(exec_ok(c, "BEGIN; INSERT INTO pt VALUES (2, 'temp tx'); COMMIT"));
    CHECK(exec_ok(c, "BEGIN"));
    CHECK(exec_ok(c, "INSERT INTO pt (k, note) VALUES (3, 'temp tx')"));
    CHECK(exec_ok(c, "COMMIT"));
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM temp.pt"), "3") == 0);
    CHECK(strcmp(value_of(c, "SELECT count(*) FROM db.main.pt"), "50") == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/*
 * The startup packet's parameters are applied after SCRAM, whose messages
 * are read into the same input buffer: they must still be the client's.
 */
static void test_startup_params_after_scram(void)
{
    const char *users = test_path("users");
    CHECK_OK(add_user(users, "alice", "s3cret", 0));
    const char *extra[] = {"--users", users, NULL};
    CHECK_OK(start_server_args(extra));
    char info[512];
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d user=alice password=s3cret dbname=duckpond "
             "application_name=an_application_name_set_at_startup options='-c statement_timeout=4321'",
             server_port);
    for (int i = 0; i < 3; i++) {
        PGconn *c = PQconnectdb(info);
        CHECK(PQstatus(c) == CONNECTION_OK);
        CHECK(strcmp(value_of(c, "SHOW application_name"), "an_application_name_set_at_startup") == 0);
        CHECK_STR_CONTAINS(value_of(c, "SHOW statement_timeout"), "4321");
        PQfinish(c);
    }
    CHECK_EQ_INT(stop_server(), 0);
}

/*
 * A Query whose COPY FROM STDIN is followed by more statements: the rest
 * runs as sent, however much CopyData came in between (here more than the
 * input buffer held, so it is moved and grown).
 */
static void test_copy_in_multi_statement_query(void)
{
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    CHECK(exec_ok(c, "CREATE TABLE cq(id int, note text)"));
    CHECK(PQsendQuery(c, "COPY cq FROM STDIN; INSERT INTO cq VALUES (-1, 'after'); "
                         "SELECT count(*) || ' rows, ' || max(note) FROM cq"));
    PGresult *r = PQgetResult(c);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COPY_IN);
    PQclear(r);
    struct dp_buf data = DP_BUF_INIT;
    for (int i = 0; i < 20000; i++)
        dp_buf_printf(&data, "%d\tline %d of the copy, long enough to fill buffers\n", i, i);
    CHECK_EQ_INT(PQputCopyData(c, data.data, (int)data.len), 1);
    dp_buf_free(&data);
    CHECK_EQ_INT(PQputCopyEnd(c, NULL), 1);
    r = PQgetResult(c);
    CHECK(strcmp(PQcmdStatus(r), "COPY 20000") == 0);
    PQclear(r);
    r = PQgetResult(c);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COMMAND_OK);
    CHECK(strcmp(PQcmdStatus(r), "INSERT 0 1") == 0);
    PQclear(r);
    r = PQgetResult(c);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_TUPLES_OK);
    CHECK(strcmp(PQgetvalue(r, 0, 0), "20001 rows, line 9999 of the copy, long enough to fill buffers") == 0);
    PQclear(r);
    CHECK(PQgetResult(c) == NULL);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

/* An INSERT of more than 64 binary uuid parameters: each column keeps its own value. */
static void test_insert_many_binary_uuids(void)
{
    enum { N = 70 };
    CHECK_OK(start_server());
    PGconn *c = connect_db();
    struct dp_buf create = DP_BUF_INIT, insert = DP_BUF_INIT;
    dp_buf_str(&create, "CREATE TABLE wide(");
    dp_buf_str(&insert, "INSERT INTO wide VALUES (");
    for (int i = 0; i < N; i++) {
        dp_buf_printf(&create, "%su%d uuid", i ? ", " : "", i);
        dp_buf_printf(&insert, "%s$%d", i ? ", " : "", i + 1);
    }
    dp_buf_str(&create, ")");
    dp_buf_str(&insert, ")");
    CHECK(exec_ok(c, create.data));
    char bytes[N][16];
    const char *vals[N];
    int lens[N], fmts[N];
    Oid types[N];
    for (int i = 0; i < N; i++) {
        memset(bytes[i], 0, 16);
        bytes[i][15] = (char)i;
        vals[i] = bytes[i];
        lens[i] = 16;
        fmts[i] = 1;
        types[i] = 2950;
    }
    PGresult *r = PQexecParams(c, insert.data, N, types, vals, lens, fmts, 0);
    CHECK_EQ_INT(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    dp_buf_free(&create);
    dp_buf_free(&insert);
    CHECK(strcmp(value_of(c, "SELECT u0 FROM wide"), "00000000-0000-0000-0000-000000000000") == 0);
    CHECK(strcmp(value_of(c, "SELECT u1 FROM wide"), "00000000-0000-0000-0000-000000000001") == 0);
    CHECK(strcmp(value_of(c, "SELECT u64 FROM wide"), "00000000-0000-0000-0000-000000000040") == 0);
    CHECK(strcmp(value_of(c, "SELECT u69 FROM wide"), "00000000-0000-0000-0000-000000000045") == 0);
    PQfinish(c);
    CHECK_EQ_INT(stop_server(), 0);
}

TEST_MAIN(TEST_ENTRY(test_set_values_and_version), TEST_ENTRY(test_prepared_clock_after_ddl),
          TEST_ENTRY(test_binary_results), TEST_ENTRY(test_binary_params), TEST_ENTRY(test_text_formats),
          TEST_ENTRY(test_prepared), TEST_ENTRY(test_prepared_sees_later_commits),
          TEST_ENTRY(test_unnamed_parse_repeated), TEST_ENTRY(test_unnamed_parse_after_set),
          TEST_ENTRY(test_pipeline), TEST_ENTRY(test_copy), TEST_ENTRY(test_copy_errors),
          TEST_ENTRY(test_copy_atomic), TEST_ENTRY(test_copy_shapes), TEST_ENTRY(test_copy_binary),
          TEST_ENTRY(test_copy_cancel), TEST_ENTRY(test_cancel), TEST_ENTRY(test_too_many_connections),
          TEST_ENTRY(test_scram_and_read_only), TEST_ENTRY(test_bad_input),
          TEST_ENTRY(test_disconnect_reasons), TEST_ENTRY(test_insert_params_in_transaction),
          TEST_ENTRY(test_startup_params_after_scram), TEST_ENTRY(test_copy_in_multi_statement_query),
          TEST_ENTRY(test_insert_many_binary_uuids))
