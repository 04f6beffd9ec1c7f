/*
 * http_stmt.h -- one SQL statement of an HTTP request (http_stmt.c): its
 * errors as HTTP status + SQLSTATE + text, splitting and preparing it,
 * and binding the request's JSON parameters. Shared by the streamed
 * answers (http_query.c) and the Parquet answer (http_parquet.c).
 */
#ifndef DUCKPOND_HTTP_STMT_H
#define DUCKPOND_HTTP_STMT_H

#include <duckdb.h>
#include <jansson.h>

/* An error found before an answer starts: status class, HTTP status, SQLSTATE, text. */
struct http_err {
    int code;             /* a DUCKPOND_* class */
    unsigned http;        /* 0: from the class (http_status_for) */
    const char *sqlstate; /* static; NULL: derived from code and message */
    char message[1024];
};

void http_err_set(struct http_err *e, int code, unsigned http, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Fills e from a DuckDB error (msg NULL: "unknown DuckDB error"). DuckDB's
 * error types that mean "the request is wrong" but have no class of their
 * own become 400 with a SQLSTATE that says why; everything else follows
 * the class.
 */
void http_err_duckdb(struct http_err *e, duckdb_error_type type, const char *msg);

/* The command word of a statement type ("SELECT", "INSERT"...), for metrics and messages. */
const char *http_stmt_kind(duckdb_statement_type t);

/*
 * Splits sql with DuckDB's own parser and prepares it on dc; it must hold
 * exactly one statement. 0 with *out set (caller destroys), or -1 with e.
 */
int http_stmt_prepare(duckdb_connection dc, const char *sql, duckdb_prepared_statement *out,
                      struct http_err *e);

/*
 * Binds params (a JSON array, or NULL for none; not taken) to p's
 * parameters by their JSON types -- never spliced into the text -- after
 * clearing earlier bindings. The count must match. 0, or -1 with e.
 */
int http_stmt_bind(duckdb_prepared_statement p, json_t *params, struct http_err *e);

#endif
