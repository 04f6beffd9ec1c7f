/*
 * http_stmt.c -- one SQL statement of an HTTP request: DuckDB's errors as
 * an HTTP status, a SQLSTATE and a message; splitting a request's SQL with
 * DuckDB's own parser (exactly one statement is served); and binding the
 * JSON parameters with duckdb_bind_* by their JSON types, so that a value
 * never becomes SQL text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http_common.h"
#include "http_stmt.h"

void http_err_set(struct http_err *e, int code, unsigned http, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    e->code = code;
    e->http = http;
    e->sqlstate = sqlstate;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

void http_err_duckdb(struct http_err *e, duckdb_error_type type, const char *msg)
{
    if (!msg)
        msg = "unknown DuckDB error";
    int code = duckpond_classify(type, msg);
    const char *state = duckpond_sqlstate(code, msg);
    unsigned http = http_status_for(code);
    if (code == DUCKPOND_ERROR) {
        switch (type) {
        case DUCKDB_ERROR_INVALID_INPUT: state = "22023", http = 400; break;
        case DUCKDB_ERROR_NOT_IMPLEMENTED: state = "0A000", http = 400; break;
        case DUCKDB_ERROR_DIVIDE_BY_ZERO: state = "22012", http = 400; break;
        case DUCKDB_ERROR_MISMATCH_TYPE: state = "42804", http = 400; break;
        case DUCKDB_ERROR_DEPENDENCY: state = "2BP01", http = 409; break;
        case DUCKDB_ERROR_SEQUENCE: state = "2200H", http = 400; break;
        default: break;
        }
    }
    if (code == DUCKPOND_INTERRUPTED)
        msg = "the statement ran past its timeout and was cancelled";
    http_err_set(e, code, http, state, "%s", msg);
}

const char *http_stmt_kind(duckdb_statement_type t)
{
    static const char *const names[] = {
        [DUCKDB_STATEMENT_TYPE_SELECT] = "SELECT",    [DUCKDB_STATEMENT_TYPE_INSERT] = "INSERT",
        [DUCKDB_STATEMENT_TYPE_UPDATE] = "UPDATE",    [DUCKDB_STATEMENT_TYPE_EXPLAIN] = "EXPLAIN",
        [DUCKDB_STATEMENT_TYPE_DELETE] = "DELETE",    [DUCKDB_STATEMENT_TYPE_PREPARE] = "PREPARE",
        [DUCKDB_STATEMENT_TYPE_CREATE] = "CREATE",    [DUCKDB_STATEMENT_TYPE_EXECUTE] = "EXECUTE",
        [DUCKDB_STATEMENT_TYPE_ALTER] = "ALTER",      [DUCKDB_STATEMENT_TYPE_TRANSACTION] = "TRANSACTION",
        [DUCKDB_STATEMENT_TYPE_COPY] = "COPY",        [DUCKDB_STATEMENT_TYPE_ANALYZE] = "ANALYZE",
        [DUCKDB_STATEMENT_TYPE_VARIABLE_SET] = "SET", [DUCKDB_STATEMENT_TYPE_CREATE_FUNC] = "CREATE",
        [DUCKDB_STATEMENT_TYPE_DROP] = "DROP",        [DUCKDB_STATEMENT_TYPE_EXPORT] = "EXPORT",
        [DUCKDB_STATEMENT_TYPE_PRAGMA] = "PRAGMA",    [DUCKDB_STATEMENT_TYPE_VACUUM] = "VACUUM",
        [DUCKDB_STATEMENT_TYPE_CALL] = "CALL",        [DUCKDB_STATEMENT_TYPE_SET] = "SET",
        [DUCKDB_STATEMENT_TYPE_LOAD] = "LOAD",        [DUCKDB_STATEMENT_TYPE_EXTENSION] = "INSTALL",
        [DUCKDB_STATEMENT_TYPE_ATTACH] = "ATTACH",    [DUCKDB_STATEMENT_TYPE_DETACH] = "DETACH",
    };
    if ((size_t)t < sizeof names / sizeof names[0] && names[t])
        return names[t];
    return "OTHER";
}

/* Binds params[i] to parameter i + 1 by its JSON type. */
static int bind_param(duckdb_prepared_statement p, idx_t i, json_t *v, struct http_err *e)
{
    duckdb_state st;
    switch (json_typeof(v)) {
    case JSON_NULL: st = duckdb_bind_null(p, i + 1); break;
    case JSON_TRUE: st = duckdb_bind_boolean(p, i + 1, true); break;
    case JSON_FALSE: st = duckdb_bind_boolean(p, i + 1, false); break;
    case JSON_INTEGER: st = duckdb_bind_int64(p, i + 1, json_integer_value(v)); break;
    case JSON_REAL: st = duckdb_bind_double(p, i + 1, json_real_value(v)); break;
    case JSON_STRING:
        st = duckdb_bind_varchar_length(p, i + 1, json_string_value(v), json_string_length(v));
        break;
    default:
        http_err_set(e, DUCKPOND_MISUSE, 400, "22023",
                     "parameter $%llu: arrays and objects cannot be bound (send them as a string)",
                     (unsigned long long)i + 1);
        return -1;
    }
    if (st != DuckDBSuccess) {
        http_err_set(e, DUCKPOND_CONVERSION, 400, "22P02", "parameter $%llu cannot be bound: %s",
                     (unsigned long long)i + 1, duckdb_prepare_error(p) ? duckdb_prepare_error(p) : "");
        return -1;
    }
    return 0;
}

int http_stmt_prepare(duckdb_connection dc, const char *sql, duckdb_prepared_statement *out,
                      struct http_err *e)
{
    *out = NULL;
    duckdb_extracted_statements stmts = NULL;
    idx_t n = duckdb_extract_statements(dc, sql, &stmts);
    int rc = -1;
    if (n == 0) {
        const char *msg = duckdb_extract_statements_error(stmts);
        if (msg)
            http_err_duckdb(e, duckpond_error_type_of(msg), msg);
        else
            http_err_set(e, DUCKPOND_SYNTAX, 400, "42601", "the request holds no SQL statement");
    } else if (n > 1) {
        http_err_set(e, DUCKPOND_SYNTAX, 400, "42601", "one statement per request, and this one holds %llu",
                     (unsigned long long)n);
    } else if (duckdb_prepare_extracted_statement(dc, stmts, 0, out) != DuckDBSuccess) {
        const char *msg = duckdb_prepare_error(*out);
        http_err_duckdb(e, duckpond_error_type_of(msg), msg);
        duckdb_destroy_prepare(out);
        *out = NULL;
    } else {
        rc = 0;
    }
    duckdb_destroy_extracted(&stmts);
    return rc;
}

int http_stmt_bind(duckdb_prepared_statement p, json_t *params, struct http_err *e)
{
    size_t given = params ? json_array_size(params) : 0;
    idx_t want = duckdb_nparams(p);
    if (given != want) {
        http_err_set(e, DUCKPOND_MISUSE, 400, "08P01",
                     "the statement takes %llu parameter(s) and %zu were given", (unsigned long long)want,
                     given);
        return -1;
    }
    duckdb_clear_bindings(p);
    for (size_t i = 0; i < given; i++)
        if (bind_param(p, i, json_array_get(params, i), e) != 0)
            return -1;
    return 0;
}
