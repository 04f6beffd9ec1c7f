/*
 * errors.c -- duckpond's status codes and the classification of DuckDB's
 * errors into them.
 *
 * DuckDB reports an error as a type (duckdb_error_type) and a message that
 * starts with the type's name ("Constraint Error: Duplicate key ...").
 * Callers need to know what to do about an error: retry it (a conflict),
 * report it to the user with a precise PostgreSQL SQLSTATE (a constraint,
 * a missing table), wait for another process (a lock), or reopen the
 * database (invalidated). This file turns type + message into one of our
 * classes, and a class + message into a SQLSTATE.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duckpond.h"

const char *duckpond_strerror(int status)
{
    switch (status) {
#define DUCKPOND_X_TEXT(name, value, sqlstate, text) \
    case DUCKPOND_##name: return text;
        DUCKPOND_STATUS_LIST(DUCKPOND_X_TEXT)
#undef DUCKPOND_X_TEXT
    }
    return "unknown status";
}

static const char *class_sqlstate(int status)
{
    switch (status) {
#define DUCKPOND_X_STATE(name, value, sqlstate, text) \
    case DUCKPOND_##name: return sqlstate;
        DUCKPOND_STATUS_LIST(DUCKPOND_X_STATE)
#undef DUCKPOND_X_STATE
    }
    return "XX000";
}

static int has(const char *message, const char *needle)
{
    return message && strcasestr(message, needle) != NULL;
}

/* True for the messages DuckDB gives to optimistic-concurrency conflicts. */
static int is_conflict_message(const char *message)
{
    return has(message, "Conflict on update") || has(message, "Conflict on tuple deletion") ||
           has(message, "write-write conflict");
}

int duckpond_classify(duckdb_error_type type, const char *message)
{
    if (is_conflict_message(message))
        return DUCKPOND_CONFLICT;
    if (has(message, "database has been invalidated") || has(message, "must be restarted"))
        return DUCKPOND_INVALIDATED;
    if (has(message, "Could not set lock on file"))
        return DUCKPOND_LOCKED;
    switch (type) {
    case DUCKDB_ERROR_CONSTRAINT: return DUCKPOND_CONSTRAINT;
    case DUCKDB_ERROR_PARSER:
    case DUCKDB_ERROR_SYNTAX:
    case DUCKDB_ERROR_CATALOG:
    case DUCKDB_ERROR_BINDER:
    case DUCKDB_ERROR_PARAMETER_NOT_RESOLVED:
    case DUCKDB_ERROR_PARAMETER_NOT_ALLOWED: return DUCKPOND_SYNTAX;
    case DUCKDB_ERROR_INTERRUPT: return DUCKPOND_INTERRUPTED;
    case DUCKDB_ERROR_FATAL: return DUCKPOND_INVALIDATED;
    case DUCKDB_ERROR_CONVERSION:
    case DUCKDB_ERROR_OUT_OF_RANGE: return DUCKPOND_CONVERSION;
    case DUCKDB_ERROR_OUT_OF_MEMORY: return DUCKPOND_NOMEM;
    case DUCKDB_ERROR_PERMISSION: return DUCKPOND_READONLY;
    case DUCKDB_ERROR_IO: return DUCKPOND_IO;
    default: break;
    }
    if (has(message, "read-only mode") || has(message, "read only mode"))
        return DUCKPOND_READONLY;
    return DUCKPOND_ERROR;
}

/* A SQLSTATE chosen by what the message says, for the classes that have several. */
struct state_rule {
    int status;         /* the class it refines, or -1 for any */
    const char *needle; /* case-insensitive substring of the message */
    const char *sqlstate;
};

static const struct state_rule state_rules[] = {
    {-1, "No space left on device", "53100"},
    {-1, "disk full", "53100"},
    {-1, "Disk quota exceeded", "53100"},
    {DUCKPOND_READONLY, "Permission Error", "42501"}, /* a file or extension DuckDB's settings forbid */
    {DUCKPOND_CONSTRAINT, "Duplicate key", "23505"},
    {DUCKPOND_CONSTRAINT, "PRIMARY KEY or UNIQUE", "23505"},
    {DUCKPOND_CONSTRAINT, "unique constraint", "23505"},
    {DUCKPOND_CONSTRAINT, "NOT NULL constraint", "23502"},
    {DUCKPOND_CONSTRAINT, "CHECK constraint", "23514"},
    {DUCKPOND_CONSTRAINT, "foreign key", "23503"},
    {DUCKPOND_SYNTAX, "Parser Error", "42601"},
    {DUCKPOND_SYNTAX, "syntax error", "42601"},
    {DUCKPOND_SYNTAX, "already exists", "42P07"},
    {DUCKPOND_SYNTAX, "Table with name", "42P01"},
    {DUCKPOND_SYNTAX, "View with name", "42P01"},
    {DUCKPOND_SYNTAX, "Table Function with name", "42883"},
    {DUCKPOND_SYNTAX, "Scalar Function with name", "42883"},
    {DUCKPOND_SYNTAX, "Function with name", "42883"},
    {DUCKPOND_SYNTAX, "No function matches", "42883"},
    {DUCKPOND_SYNTAX, "Schema with name", "3F000"},
    {DUCKPOND_SYNTAX, "Referenced column", "42703"},
    {DUCKPOND_SYNTAX, "does not have a column", "42703"},
    {DUCKPOND_SYNTAX, "Could not determine type of parameters", "42P18"},
    {DUCKPOND_SYNTAX, "Binder Error", "42P18"},
    {DUCKPOND_SYNTAX, "Catalog Error", "42704"},
    {DUCKPOND_CONVERSION, "Out of Range", "22003"},
    {DUCKPOND_CONVERSION, "overflow", "22003"},
    {-1, "Not implemented", "0A000"},
    {-1, "Division by zero", "22012"},
    {-1, "cannot start a transaction within a transaction", "25001"},
    {-1, "no transaction is active", "25P01"},
    {-1, "Invalid Input Error", "22023"},
};

const char *duckpond_sqlstate(int status, const char *message)
{
    for (size_t i = 0; i < sizeof state_rules / sizeof state_rules[0]; i++) {
        const struct state_rule *r = &state_rules[i];
        if ((r->status == -1 || r->status == status) && has(message, r->needle))
            return r->sqlstate;
    }
    /* A binder error about an unknown name that matched nothing above. */
    if (status == DUCKPOND_SYNTAX)
        return "42601";
    return class_sqlstate(status);
}

duckdb_error_type duckpond_error_type_of(const char *message)
{
    static const struct {
        const char *prefix;
        duckdb_error_type type;
    } known[] = {
        {"Parser Error", DUCKDB_ERROR_PARSER},
        {"Syntax Error", DUCKDB_ERROR_SYNTAX},
        {"Catalog Error", DUCKDB_ERROR_CATALOG},
        {"Binder Error", DUCKDB_ERROR_BINDER},
        {"Conversion Error", DUCKDB_ERROR_CONVERSION},
        {"Out of Range Error", DUCKDB_ERROR_OUT_OF_RANGE},
        {"Constraint Error", DUCKDB_ERROR_CONSTRAINT},
        {"INTERRUPT Error", DUCKDB_ERROR_INTERRUPT},
        {"Not implemented", DUCKDB_ERROR_NOT_IMPLEMENTED},
        {"TransactionContext Error", DUCKDB_ERROR_TRANSACTION},
        {"Permission Error", DUCKDB_ERROR_PERMISSION},
        {"Invalid Input Error", DUCKDB_ERROR_INVALID_INPUT},
        {"Dependency Error", DUCKDB_ERROR_DEPENDENCY},
    };
    for (size_t i = 0; message && i < sizeof known / sizeof known[0]; i++)
        if (strncasecmp(message, known[i].prefix, strlen(known[i].prefix)) == 0)
            return known[i].type;
    return DUCKDB_ERROR_INVALID;
}

bool duckpond_statement_keeps_catalog(duckdb_statement_type t)
{
    return t == DUCKDB_STATEMENT_TYPE_SELECT || t == DUCKDB_STATEMENT_TYPE_INSERT ||
           t == DUCKDB_STATEMENT_TYPE_UPDATE || t == DUCKDB_STATEMENT_TYPE_DELETE ||
           t == DUCKDB_STATEMENT_TYPE_EXPLAIN || t == DUCKDB_STATEMENT_TYPE_TRANSACTION ||
           t == DUCKDB_STATEMENT_TYPE_COPY;
}

long duckpond_lock_holder_pid(const char *message)
{
    const char *p = message ? strstr(message, "(PID ") : NULL;
    if (!p)
        return 0;
    p += 5;
    if (!isdigit((unsigned char)*p))
        return 0;
    return strtol(p, NULL, 10);
}
