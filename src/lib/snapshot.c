/*
 * snapshot.c -- consistent read-only copies of a database.
 *
 * While one process holds a DuckDB file read-write, no other process can
 * open it, not even READ_ONLY. A snapshot is the answer for processes that
 * want to read in-process: a complete copy, written from inside one
 * transaction (so it is consistent across tables), into a file that any
 * number of processes may then open READ_ONLY at once. The copy is made
 * beside the destination and renamed over it, so readers never see half a
 * snapshot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbint.h"

/* Appends s to buf as a SQL string literal ('...' with quotes doubled). */
static char *sql_quote(const char *s)
{
    size_t n = strlen(s), q = 0;
    for (size_t i = 0; i < n; i++)
        q += s[i] == '\'';
    char *out = malloc(n + q + 3);
    if (!out)
        return NULL;
    char *o = out;
    *o++ = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            *o++ = '\'';
        *o++ = s[i];
    }
    *o++ = '\'';
    *o = 0;
    return out;
}

/* The quoted name of conn's current database (e.g. "main_db"). */
static int current_database(duckpond_conn *conn, char **out)
{
    duckdb_result res;
    if (duckdb_query(conn->duck, "SELECT '\"' || replace(current_database(), '\"', '\"\"') || '\"'", &res) == DuckDBError) {
        int rc = duckpond_conn_fail(conn, duckdb_result_error_type(&res), duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc;
    }
    *out = duckdb_value_varchar(&res, 0, 0);
    duckdb_destroy_result(&res);
    return *out ? DUCKPOND_OK : DUCKPOND_NOMEM;
}

/* Copies everything into the file tmp_path, attached under a private name. */
static int copy_into(duckpond_conn *conn, const char *tmp_path)
{
    char *source = NULL, *target = NULL, *sql = NULL;
    int rc = current_database(conn, &source);
    if (rc != DUCKPOND_OK)
        return rc;
    rc = DUCKPOND_NOMEM;
    target = sql_quote(tmp_path);
    if (!target)
        goto done;
    if (asprintf(&sql, "ATTACH %s AS duckpond_snapshot", target) < 0) {
        sql = NULL;
        goto done;
    }
    rc = duckpond_exec(conn, sql);
    if (rc != DUCKPOND_OK)
        goto done;
    free(sql);
    if (asprintf(&sql,
                 "BEGIN TRANSACTION; COPY FROM DATABASE %s TO duckpond_snapshot; COMMIT", source) < 0) {
        sql = NULL;
        rc = DUCKPOND_NOMEM;
    } else {
        rc = duckpond_exec(conn, sql);
    }
    if (rc != DUCKPOND_OK) {
        duckdb_result res;
        duckdb_query(conn->duck, "ROLLBACK", &res);
        duckdb_destroy_result(&res);
    }
    /* DETACH checkpoints the copy: the file is complete when it returns. */
    duckdb_result res;
    if (duckdb_query(conn->duck, "DETACH duckpond_snapshot", &res) == DuckDBError && rc == DUCKPOND_OK)
        rc = duckpond_conn_fail(conn, duckdb_result_error_type(&res), duckdb_result_error(&res));
    duckdb_destroy_result(&res);
done:
    free(source);
    free(target);
    free(sql);
    return rc;
}

int duckpond_snapshot(duckpond_conn *conn, const char *dest_path)
{
    if (!conn || !dest_path || !*dest_path)
        return DUCKPOND_MISUSE;
    char *tmp = NULL, *tmp_wal = NULL;
    if (asprintf(&tmp, "%s.tmp-%ld", dest_path, (long)getpid()) < 0)
        return DUCKPOND_NOMEM;
    if (asprintf(&tmp_wal, "%s.wal", tmp) < 0) {
        free(tmp);
        return DUCKPOND_NOMEM;
    }
    unlink(tmp);
    unlink(tmp_wal);
    int rc = copy_into(conn, tmp);
    if (rc == DUCKPOND_OK && access(tmp_wal, F_OK) == 0) {
        dp_set_msg(&conn->errmsg, "snapshot \"%s\" was left with a WAL after detach", tmp);
        rc = DUCKPOND_IO;
    }
    if (rc == DUCKPOND_OK && rename(tmp, dest_path) != 0) {
        dp_set_msg(&conn->errmsg, "cannot rename \"%s\" to \"%s\": %s", tmp, dest_path, strerror(errno));
        rc = DUCKPOND_IO;
    }
    if (rc != DUCKPOND_OK) {
        unlink(tmp);
        unlink(tmp_wal);
    }
    free(tmp);
    free(tmp_wal);
    return rc;
}
