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

/* Appends the quoted name of conn's current database (e.g. "main_db") to sql. */
static int add_current_database(duckpond_conn *conn, struct dp_buf *sql)
{
    duckdb_result res;
    if (duckdb_query(conn->duck, "SELECT current_database()", &res) == DuckDBError) {
        int rc = duckpond_conn_fail(conn, duckdb_result_error_type(&res), duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return rc;
    }
    char *name = duckdb_value_varchar(&res, 0, 0);
    duckdb_destroy_result(&res);
    if (!name)
        return DUCKPOND_NOMEM;
    dp_sql_ident(sql, name);
    duckdb_free(name);
    return DUCKPOND_OK;
}

/* Runs sql on conn, or fails with DUCKPOND_NOMEM for a buffer that ran out of memory. */
static int exec_buf(duckpond_conn *conn, struct dp_buf *sql)
{
    int rc = sql->failed ? DUCKPOND_NOMEM : duckpond_exec(conn, sql->data);
    dp_buf_free(sql);
    return rc;
}

/* Copies everything into the file tmp_path, attached under a private name. */
static int copy_into(duckpond_conn *conn, const char *tmp_path)
{
    struct dp_buf copy = DP_BUF_INIT, attach = DP_BUF_INIT;
    dp_buf_str(&copy, "BEGIN TRANSACTION; COPY FROM DATABASE ");
    int rc = add_current_database(conn, &copy);
    dp_buf_str(&copy, " TO duckpond_snapshot; COMMIT");
    dp_buf_str(&attach, "ATTACH ");
    dp_sql_literal(&attach, tmp_path, strlen(tmp_path));
    dp_buf_str(&attach, " AS duckpond_snapshot");
    if (rc != DUCKPOND_OK || (rc = exec_buf(conn, &attach)) != DUCKPOND_OK) {
        dp_buf_free(&copy);
        dp_buf_free(&attach);
        return rc;
    }
    if ((rc = exec_buf(conn, &copy)) != DUCKPOND_OK) {
        duckdb_result res;
        duckdb_query(conn->duck, "ROLLBACK", &res);
        duckdb_destroy_result(&res);
    }
    /* DETACH checkpoints the copy: the file is complete when it returns. */
    duckdb_result res;
    if (duckdb_query(conn->duck, "DETACH duckpond_snapshot", &res) == DuckDBError && rc == DUCKPOND_OK)
        rc = duckpond_conn_fail(conn, duckdb_result_error_type(&res), duckdb_result_error(&res));
    duckdb_destroy_result(&res);
    return rc;
}

int duckpond_snapshot(duckpond_conn *conn, const char *dest_path)
{
    if (!conn || !dest_path || !*dest_path)
        return DUCKPOND_MISUSE;
    int rc = dp_no_transaction(conn, "duckpond_snapshot"); /* the copy runs its own */
    if (rc != DUCKPOND_OK)
        return rc;
    char *tmp = dp_asprintf("%s.tmp-%ld", dest_path, (long)getpid());
    char *tmp_wal = tmp ? dp_asprintf("%s.wal", tmp) : NULL;
    if (!tmp_wal) {
        free(tmp);
        return DUCKPOND_NOMEM;
    }
    unlink(tmp);
    unlink(tmp_wal);
    rc = copy_into(conn, tmp);
    conn->tx_maybe_open = false; /* the copy's transaction is over, either way */
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
