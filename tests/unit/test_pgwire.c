/*
 * test_pgwire.c -- the wire protocol parser and builder, and the type
 * encoders, without a server: lengths and caps, need-more, startup
 * packets, whole messages, PostgreSQL text formats of real DuckDB values.
 */
#include "pgtypes.h"
#include "pgwire.h"
#include "testlib.h"

static void test_parse_need_more_and_whole(void)
{
    const char msg[] = "Q\x00\x00\x00\x0dSELECT 1\x00";
    struct pgmsg m;
    size_t need;
    const char *err = NULL;
    for (size_t len = 0; len < sizeof msg - 1; len++) /* every prefix asks for more */
        CHECK_EQ_INT(pgwire_parse(msg, len, false, &m, &need, &err), PGWIRE_NEED_MORE);
    CHECK_EQ_INT(need, 14);
    CHECK_EQ_INT(pgwire_parse(msg, sizeof msg - 1, false, &m, &need, &err), 14);
    CHECK_EQ_INT(m.type, 'Q');
    CHECK_EQ_INT(m.len, 9);
    CHECK(memcmp(m.body, "SELECT 1", 9) == 0);
}

static void test_parse_rejects_bad_lengths(void)
{
    struct pgmsg m;
    size_t need;
    const char *err = NULL;
    CHECK_EQ_INT(pgwire_parse("Q\x7f\xff\xff\xff", 5, false, &m, &need, &err), PGWIRE_BAD);
    CHECK_STR_CONTAINS(err, "too large");
    CHECK_EQ_INT(pgwire_parse("Q\x80\x00\x00\x00", 5, false, &m, &need, &err), PGWIRE_BAD);
    CHECK_EQ_INT(pgwire_parse("Q\x00\x00\x00\x03", 5, false, &m, &need, &err), PGWIRE_BAD);
    CHECK_EQ_INT(pgwire_parse("S\x00\x00\x00\x05x", 6, false, &m, &need, &err),
                 PGWIRE_BAD); /* Sync has no body */
    CHECK_EQ_INT(pgwire_parse("z\x00\x00\x00\x04", 5, false, &m, &need, &err), PGWIRE_BAD);
    CHECK_STR_CONTAINS(err, "unknown");
    pgwire_set_max_message(100);
    CHECK_EQ_INT(pgwire_parse("Q\x00\x00\x01\x00", 5, false, &m, &need, &err), PGWIRE_BAD);
    pgwire_set_max_message(64u << 20);
}

static void test_parse_startup(void)
{
    struct pgmsg m;
    size_t need;
    const char *err = NULL;
    const char ssl[] = "\x00\x00\x00\x08\x04\xd2\x16\x2f";
    CHECK_EQ_INT(pgwire_parse(ssl, 8, true, &m, &need, &err), 8);
    struct pgreader r;
    pgreader_init(&r, &m);
    CHECK_EQ_INT(pgreader_int32(&r), PGWIRE_SSL_REQUEST);
    CHECK_EQ_INT(pgwire_parse("\x00\x01\x00\x00", 4, true, &m, &need, &err), PGWIRE_BAD); /* > 10000 */
    CHECK_EQ_INT(pgwire_parse("\x00\x00\x00\x04", 4, true, &m, &need, &err), PGWIRE_BAD);
}

static void test_reader_bounds(void)
{
    struct pgmsg m = {'P', "ab\0\0\x01", 5};
    struct pgreader r;
    pgreader_init(&r, &m);
    CHECK(strcmp(pgreader_cstr(&r), "ab") == 0);
    CHECK_EQ_INT(pgreader_int16(&r), 1);
    CHECK(!r.bad);
    pgreader_int32(&r);
    CHECK(r.bad);
    struct pgmsg n = {'P', "abc", 3}; /* no terminating NUL inside the body */
    pgreader_init(&r, &n);
    pgreader_cstr(&r);
    CHECK(r.bad);
}

static void test_builder_messages(void)
{
    struct pgbuf b;
    pgbuf_init(&b);
    pgwire_ready(&b, 'I');
    CHECK_EQ_INT(b.len, 6);
    CHECK(memcmp(b.data, "Z\x00\x00\x00\x05I", 6) == 0);
    pgwire_command_complete(&b, "SELECT 1");
    CHECK_EQ_INT(b.len, 6 + 1 + 4 + 9);
    CHECK(memcmp(b.data + 6, "C\x00\x00\x00\x0dSELECT 1", 14) == 0);
    size_t before = b.len;
    pgbuf_begin(&b, 'D');
    pgbuf_int16(&b, 1);
    pgbuf_abort(&b); /* a message given up half-way leaves nothing */
    CHECK_EQ_INT(b.len, before);
    pgwire_error(&b, "ERROR", "42P01", "no such table", NULL, NULL);
    CHECK_EQ_INT(b.data[before], 'E');
    /* a parsed copy of what was built */
    struct pgmsg m;
    size_t need;
    const char *err;
    CHECK(pgwire_parse(b.data + 6, b.len - 6, false, &m, &need, &err) > 0);
    pgbuf_free(&b);
    (void)test_path;
}

/* The buffer is a dp_buf: dp_buf_* calls build into it, a limit fails it,
 * and a message that fails half-way is cut back to the last whole one. */
static void test_builder_failure_keeps_whole_messages(void)
{
    struct pgbuf b;
    pgbuf_init(&b);
    pgbuf_begin(&b, 'C');
    dp_sql_ident(&b.buf, "a\"b");
    pgbuf_byte(&b, '\0');
    pgbuf_end(&b);
    CHECK_EQ_INT(b.len, 1 + 4 + 7);
    CHECK(memcmp(b.data, "C\x00\x00\x00\x0b\"a\"\"b\"", 12) == 0);
    char long_text[300];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    pgbuf_begin(&b, 'N');
    pgbuf_printf(&b, "%s|%d", long_text, 7); /* longer than any small scratch buffer */
    pgbuf_end(&b);
    CHECK_EQ_INT(b.len, 12 + 5 + 299 + 2);
    CHECK(memcmp(b.data + b.len - 3, "x|7", 3) == 0);
    size_t whole = b.len;
    b.buf.limit = whole + 50;
    pgwire_error(&b, "ERROR", "XX000", long_text, NULL, NULL);
    CHECK(b.failed);
    CHECK_EQ_INT(b.len, whole); /* nothing of the message that did not fit */
    pgwire_ready(&b, 'I');
    CHECK(b.failed && b.len == whole); /* sticky */
    pgbuf_clear(&b, 1 << 20);
    CHECK(!b.failed && b.len == 0);
    pgwire_ready(&b, 'I');
    CHECK_EQ_INT(b.len, 6);
    pgbuf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && !b.failed);
}

/* Encodes the first row of a query's columns in text format. */
static int text_of(duckdb_connection con, const char *sql, char out[][64], int max)
{
    duckdb_result res;
    if (duckdb_query(con, sql, &res) != DuckDBSuccess)
        return -1;
    duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
    int n = (int)duckdb_column_count(&res);
    for (int i = 0; i < n && i < max; i++) {
        struct pgbuf b;
        pgbuf_init(&b);
        duckdb_vector v = duckdb_data_chunk_get_vector(chunk, (idx_t)i);
        duckdb_logical_type t = duckdb_column_logical_type(&res, (idx_t)i);
        if (!pgtypes_valid(v, 0))
            snprintf(out[i], 64, "(null)");
        else if (pgtypes_text(&b, v, t, 0) == 0)
            snprintf(out[i], 64, "%.*s", (int)b.len, b.data ? b.data : "");
        else
            snprintf(out[i], 64, "(unsupported)");
        duckdb_destroy_logical_type(&t);
        pgbuf_free(&b);
    }
    duckdb_destroy_data_chunk(&chunk);
    duckdb_destroy_result(&res);
    return n;
}

static void test_text_encoders(void)
{
    duckdb_database db;
    duckdb_connection con;
    CHECK(duckdb_open(NULL, &db) == DuckDBSuccess);
    CHECK(duckdb_connect(db, &con) == DuckDBSuccess);
    char out[32][64];
    int n = text_of(con,
                    "SELECT true, false, -5::tinyint, 170141183460469231731687303715884105727::hugeint, "
                    "0.1::double, 1e300::double, 'nan'::float, '-inf'::double, -12.345::decimal(9,3), "
                    "'\\xAB\\x01'::blob, DATE '0044-03-15' - INTERVAL 100 YEAR, DATE 'infinity', "
                    "TIMESTAMP '2024-01-02 03:04:05', TIMESTAMP '2024-01-02 03:04:05.120', "
                    "INTERVAL '-1 day', INTERVAL 0 SECOND, INTERVAL 14 MONTH, "
                    "[['a', NULL], ['b,c', '']], {'k': 1, 's': 'x\"y'}, MAP {'a': 1}, "
                    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, 'x'::ENUM('x', 'y'), TIME '01:02:03.5', "
                    "[1.5, NULL]::double[], [true]",
                    out, 32);
    CHECK_EQ_INT(n, 25);
    const char *want[] = {"t",
                          "f",
                          "-5",
                          "170141183460469231731687303715884105727",
                          "0.1",
                          "1e+300",
                          "NaN",
                          "-Infinity",
                          "-12.345",
                          "\\xab01",
                          "0057-03-15 00:00:00 BC",
                          "infinity",
                          "2024-01-02 03:04:05",
                          "2024-01-02 03:04:05.12",
                          "-1 days",
                          "00:00:00",
                          "1 year 2 mons",
                          "{{a,NULL},{\"b,c\",\"\"}}",
                          "{\"k\":1,\"s\":\"x\\\"y\"}",
                          "{\"a\":1}",
                          "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                          "x",
                          "01:02:03.5",
                          "{1.5,NULL}",
                          "{t}"};
    for (int i = 0; i < n; i++) {
        if (strcmp(out[i], want[i]) != 0)
            fprintf(stderr, "    column %d: got %s, want %s\n", i, out[i], want[i]);
        CHECK(strcmp(out[i], want[i]) == 0);
    }
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

static void test_type_oids(void)
{
    struct {
        duckdb_type id;
        uint32_t oid;
    } cases[] = {
        {DUCKDB_TYPE_BOOLEAN, 16},    {DUCKDB_TYPE_SMALLINT, 21},    {DUCKDB_TYPE_INTEGER, 23},
        {DUCKDB_TYPE_BIGINT, 20},     {DUCKDB_TYPE_HUGEINT, 1700},   {DUCKDB_TYPE_DOUBLE, 701},
        {DUCKDB_TYPE_FLOAT, 700},     {DUCKDB_TYPE_VARCHAR, 25},     {DUCKDB_TYPE_BLOB, 17},
        {DUCKDB_TYPE_DATE, 1082},     {DUCKDB_TYPE_TIMESTAMP, 1114}, {DUCKDB_TYPE_TIMESTAMP_TZ, 1184},
        {DUCKDB_TYPE_INTERVAL, 1186}, {DUCKDB_TYPE_UUID, 2950},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        duckdb_logical_type t = duckdb_create_logical_type(cases[i].id);
        int16_t len;
        CHECK_EQ_INT(pgtypes_oid(t, &len), cases[i].oid);
        duckdb_destroy_logical_type(&t);
    }
    duckdb_logical_type e = duckdb_create_logical_type(DUCKDB_TYPE_INTEGER);
    duckdb_logical_type l = duckdb_create_list_type(e);
    int16_t len;
    CHECK_EQ_INT(pgtypes_oid(l, &len), 1007);
    duckdb_destroy_logical_type(&l);
    duckdb_destroy_logical_type(&e);
}

TEST_MAIN(TEST_ENTRY(test_parse_need_more_and_whole), TEST_ENTRY(test_parse_rejects_bad_lengths),
          TEST_ENTRY(test_parse_startup), TEST_ENTRY(test_reader_bounds), TEST_ENTRY(test_builder_messages),
          TEST_ENTRY(test_builder_failure_keeps_whole_messages), TEST_ENTRY(test_text_encoders),
          TEST_ENTRY(test_type_oids))
