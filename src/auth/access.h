/*
 * access.h -- what a client may run: roles, and the one decision that
 * both the PostgreSQL protocol (src/pg) and the HTTP API (src/http) take
 * before DuckDB binds a statement and again before it runs.
 *
 * Roles: read-only (ro) runs what DuckDB types as a read; read-write (rw)
 * also writes tables; admin may also ATTACH, CHECKPOINT, change DuckDB's
 * global settings, and reach server files inside the directory the
 * operator named (--files-dir, where DuckDB's own allowed_directories
 * lets it). Nobody installs or loads extensions, and nobody names a file
 * in a setting DuckDB does not check (profiling_output, log_query_path,
 * temp_directory, ...). Each refusal carries a SQLSTATE (42501, 25006 for
 * a read-only user's write, 0A000 for what is not supported) and a
 * message that names what was refused and why.
 *
 * The DuckDB server is also locked down by itself (server.c:
 * enable_external_access off, allowed_directories, no autoloading); this
 * decision is the second wall, and the only one that knows the roles.
 */
#ifndef DUCKPOND_ACCESS_H
#define DUCKPOND_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "duckdb.h"

/* ACCESS_RW is 0: what a zeroed options struct (a trusted loopback user) gets. */
enum access_role {
    ACCESS_RW,    /* reads and writes tables */
    ACCESS_RO,    /* reads only */
    ACCESS_ADMIN, /* also ATTACH, CHECKPOINT, global settings, files in --files-dir */
};

/* "ro", "rw" or "admin". */
const char *access_role_name(enum access_role role);
/* Parses "ro", "rw" or "admin" (also "read-only", "read-write"): 0, or -1. */
int access_role_parse(const char *text, enum access_role *out);

/* Why a statement was refused: the SQLSTATE and a message for the client. */
struct access_refusal {
    const char *sqlstate;
    char message[320];
};

/*
 * Checked before DuckDB parses or prepares the text (DuckDB reads a file
 * while it binds read_csv, COPY ... FROM or IMPORT DATABASE, so the check
 * must come first): the statement's opening words (COPY, EXPORT, IMPORT,
 * ATTACH, DETACH, INSTALL, LOAD, PRAGMA ...) and every function it calls
 * by name (read_csv, glob, query, checkpoint, ...). len bytes of sql, one
 * statement. Returns 0 when allowed, or -1 with *why filled in.
 */
int access_check_text(enum access_role role, const char *sql, size_t len, struct access_refusal *why);

/*
 * The same check for a statement the session runs itself (COPY ... FROM
 * STDIN / TO STDOUT): only the functions it calls by name, since its
 * opening words name no server file. 0, or -1 with *why.
 */
int access_check_calls(enum access_role role, const char *sql, size_t len, struct access_refusal *why);

/*
 * Checked once DuckDB has prepared the statement, by DuckDB's own type:
 * reads for everyone; writes for rw and admin; ATTACH, DETACH, COPY to or
 * from a file, EXPORT, CHECKPOINT and settings PRAGMAs for admin; a SET
 * by the setting it names (a per-session one for everyone, a global one
 * for admin, one that names a file for nobody); LOAD and extensions for
 * nobody. For EXPLAIN ANALYZE (which runs its statement) a read-only
 * user's statement is prepared on dcon to learn its type; dcon may be
 * NULL, and then EXPLAIN ANALYZE is refused to a read-only user. Returns
 * 0 when allowed, or -1 with *why filled in.
 */
int access_check_type(enum access_role role, duckdb_statement_type type, const char *sql, size_t len,
                      duckdb_connection dcon, struct access_refusal *why);

/*
 * Rows written into table without SQL (HTTP ingest): refused to a
 * read-only user (25006), and into the server's own tables (a name, or a
 * part of a dotted name, starting with duckpond_) to all but admins
 * (42501). 0, or -1 with *why filled in.
 */
int access_check_ingest(enum access_role role, const char *table, struct access_refusal *why);

/*
 * Whether a read-only user may run a statement of this type (a read:
 * SELECT, EXPLAIN, transaction control) -- the plain test, for the
 * statements the server builds itself around a client's query.
 */
bool access_type_is_read(duckdb_statement_type type);

#endif
