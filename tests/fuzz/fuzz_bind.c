/*
 * fuzz_bind.c -- libFuzzer driver for Bind parameter decoding
 * (pgtypes.c): a value in text or binary format, declared with a type OID
 * (or none), bound to a parameter whose type DuckDB inferred (the columns
 * of a table of the types PostgreSQL clients send, and an untyped one),
 * and the same value decoded for the batcher (pgtypes_value).
 *
 * The first byte picks the parameter, the second the OID the client
 * declared, the third the format (bit 0: binary; bit 1: NULL); the rest
 * is the value, in an allocation of exactly its length so that a read
 * past it shows. Checks: a decoded value for the batcher points into the
 * value or the scratch space, within their bounds, and an error always
 * comes with a message.
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duckdb.h"
#include "pgtypes.h"

static const char *const column_types[] = {
    "BOOLEAN",       "SMALLINT", "INTEGER", "BIGINT",    "REAL",        "DOUBLE",   "VARCHAR",
    "BLOB",          "DATE",     "TIME",    "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL", "UUID",
    "DECIMAL(18,4)", "HUGEINT",  "UBIGINT", "INTEGER[]", "JSON",
};
#define NTYPES (sizeof column_types / sizeof *column_types)

static const uint32_t oids[] = {
    0,
    PGOID_BOOL,
    PGOID_BYTEA,
    PGOID_NAME,
    PGOID_INT8,
    PGOID_INT2,
    PGOID_INT4,
    PGOID_TEXT,
    PGOID_OID,
    PGOID_JSON,
    PGOID_FLOAT4,
    PGOID_FLOAT8,
    PGOID_UNKNOWN,
    PGOID_BPCHAR,
    PGOID_VARCHAR,
    PGOID_DATE,
    PGOID_TIME,
    PGOID_TIMESTAMP,
    PGOID_TIMESTAMPTZ,
    PGOID_INTERVAL,
    PGOID_TIMETZ,
    PGOID_NUMERIC,
    PGOID_UUID,
    PGOID_JSONB,
};
#define NOIDS (sizeof oids / sizeof *oids)

static duckdb_database db;
static duckdb_connection con;
static duckdb_prepared_statement stmts[NTYPES + 1]; /* one INSERT per column, then SELECT $1 */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (duckdb_open(NULL, &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess)
        abort();
    char sql[256];
    for (size_t i = 0; i < NTYPES; i++) {
        snprintf(sql, sizeof sql, "CREATE TABLE t%zu (c %s)", i, column_types[i]);
        if (duckdb_query(con, sql, NULL) != DuckDBSuccess)
            abort();
        snprintf(sql, sizeof sql, "INSERT INTO t%zu VALUES ($1)", i);
        if (duckdb_prepare(con, sql, &stmts[i]) != DuckDBSuccess)
            abort();
    }
    if (duckdb_prepare(con, "SELECT $1", &stmts[NTYPES]) != DuckDBSuccess)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > 65536)
        return 0;
    duckdb_prepared_statement st = stmts[data[0] % (NTYPES + 1)];
    uint32_t oid = oids[data[1] % NOIDS];
    int16_t format = data[2] & 1;
    int32_t len = data[2] & 2 ? -1 : (int32_t)(size - 3);
    char *value = malloc(size - 3 ? size - 3 : 1);
    memcpy(value, data + 3, size - 3);
    char err[256] = "";
    if (pgtypes_bind(st, 1, oid, format, value, len, err, sizeof err) != 0 && !err[0] && len >= 0 &&
        format == 1)
        abort(); /* a refused binary value says why */
    duckdb_clear_bindings(st);
    duckpond_value v;
    char scratch[40];
    err[0] = 0;
    if (pgtypes_value(oid, format, value, len, &v, scratch, sizeof scratch, err, sizeof err) == 0) {
        if (v.kind == DUCKPOND_VALUE_TEXT) {
            bool in_value = v.u.text.ptr >= value &&
                            v.u.text.ptr + v.u.text.len <= value + (len > 0 ? len : 0);
            bool in_scratch = v.u.text.ptr >= scratch &&
                              v.u.text.ptr + v.u.text.len < scratch + sizeof scratch;
            if (!in_value && !in_scratch)
                abort();
        }
    } else if (!err[0]) {
        abort();
    }
    free(value);
    return 0;
}
