/*
 * batcher_fixture.h -- the fixture the batcher's unit tests share: a
 * database at a fresh file, a connection for checks, a batcher, and a
 * one-number query helper. Header-only, for the test programs.
 */
#ifndef DUCKPOND_BATCHER_FIXTURE_H
#define DUCKPOND_BATCHER_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "duckpond.h"
#include "testlib.h"

#define FX_DB_FILE "b.duckdb" /* the fixture's database, in the test's folder */

/* An open database at a fresh file with a connection for checks. */
struct fixture {
    duckpond_db *db;
    duckpond_conn *conn;
    duckpond_batcher *b;
};

__attribute__((unused)) static int fx_open(struct fixture *f, const char *schema,
                                           const duckpond_batcher_settings *set)
{
    memset(f, 0, sizeof *f);
    if (duckpond_open(test_path(FX_DB_FILE), NULL, &f->db) != DUCKPOND_OK)
        return 1;
    if (duckpond_connect(f->db, &f->conn) != DUCKPOND_OK)
        return 2;
    if (schema && duckpond_exec(f->conn, schema) != DUCKPOND_OK) {
        fprintf(stderr, "    schema: %s\n", duckpond_conn_errmsg(f->conn));
        return 3;
    }
    return duckpond_batcher_new(f->db, set, &f->b);
}

__attribute__((unused)) static void fx_close(struct fixture *f)
{
    duckpond_batcher_free(f->b);
    duckpond_disconnect(f->conn);
    duckpond_close(f->db);
}

__attribute__((unused)) static int64_t q64(struct fixture *f, const char *sql)
{
    int64_t v = -999;
    if (duckpond_query_int64(f->conn, sql, &v) != DUCKPOND_OK)
        fprintf(stderr, "    query failed: %s: %s\n", sql, duckpond_conn_errmsg(f->conn));
    return v;
}

#endif
