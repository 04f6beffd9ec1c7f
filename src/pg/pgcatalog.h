/*
 * pgcatalog.h -- enough of PostgreSQL's catalog and dialect on top of
 * DuckDB that psql, pgbench, psycopg2, node-postgres and JDBC work.
 *
 * Two parts: an overlay (pgcatalog.sql: views and macros, created once
 * per database in its own schema and searched before DuckDB's pg_catalog)
 * that gives PG OIDs and the missing functions (pg_get_userbyid,
 * pg_table_is_visible, format_type, pg_backend_pid, ...); and a small
 * rewriter for the few syntax forms DuckDB does not take (multi-table
 * DROP/TRUNCATE, CREATE TABLE ... WITH (...), OPERATOR(pg_catalog.~),
 * COLLATE pg_catalog.default, ::regclass, VACUUM/ANALYZE, ...).
 * SET/SHOW and session parameters belong to the session, not here.
 */
#ifndef DUCKPOND_PGCATALOG_H
#define DUCKPOND_PGCATALOG_H

#include <stddef.h>

#include "duckdb.h"

/*
 * Creates or refreshes the overlay; once per database at server start.
 * Runs pgcatalog.sql statement by statement, then checks that it made
 * every object the rewriter sends names to. 0, or -1 with err saying
 * which line of pgcatalog.sql failed and why.
 */
int pgcatalog_install(duckdb_connection con, char *err, size_t errlen);

/* Prepares a new session's connection (search_path with the overlay first). */
int pgcatalog_session_init(duckdb_connection con, char *err, size_t errlen);

enum pgcatalog_action {
    PGCATALOG_PASS = 0, /* run the statement as written */
    PGCATALOG_REWRITE,  /* run *out instead (one or more statements; $n kept) */
    PGCATALOG_NOOP,     /* run nothing; answer CommandComplete with *tag */
};

/*
 * Looks at one statement (text as the client sent it, without the trailing
 * ';'). For REWRITE, *out is malloc'd (caller frees). For REWRITE and NOOP,
 * *tag is the CommandComplete tag the client expects ("DROP TABLE",
 * "VACUUM", ...), a static string, or NULL to use the tag of the last
 * statement run.
 */
enum pgcatalog_action pgcatalog_rewrite(const char *sql, size_t len, char **out, const char **tag);

#endif
