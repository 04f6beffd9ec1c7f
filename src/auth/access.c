/*
 * access.c -- the one decision of what a client may run (access.h), for
 * the PostgreSQL protocol and HTTP alike.
 *
 * Two checks, because DuckDB touches files at two moments. Binding
 * read_csv sniffs the file, binding COPY t FROM 'f' reads it, extracting
 * IMPORT DATABASE reads its schema, and glob lists a directory while it
 * binds: so the text is checked before DuckDB sees it (its opening words
 * and the functions it calls, read with the one SQL lexer so that strings,
 * quoted names and comments end where DuckDB ends them). Once DuckDB has
 * prepared it, its own statement type decides the rest (reads, writes,
 * admin's statements, settings).
 *
 * The tables below are DuckDB 1.4's: its table functions that read files
 * or run SQL from a string, its PRAGMAs that only answer a query, and its
 * settings by scope (duckdb_settings(); those a connection keeps to itself
 * may be set by anyone, the rest change every session and are an
 * admin's). A name not in them is treated as the more dangerous kind: an
 * unknown setting is global, an unknown PRAGMA changes something.
 */
#include "access.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sqllex.h"

const char *access_role_name(enum access_role role)
{
    switch (role) {
    case ACCESS_RO: return "ro";
    case ACCESS_RW: return "rw";
    case ACCESS_ADMIN: return "admin";
    }
    return "?";
}

int access_role_parse(const char *text, enum access_role *out)
{
    static const struct {
        const char *name;
        enum access_role role;
    } names[] = {{"ro", ACCESS_RO},
                 {"read-only", ACCESS_RO},
                 {"rw", ACCESS_RW},
                 {"read-write", ACCESS_RW},
                 {"admin", ACCESS_ADMIN}};
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(text, names[i].name)) {
            *out = names[i].role;
            return 0;
        }
    return -1;
}

static int refuse(struct access_refusal *why, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills in *why; returns -1 so that a check can end with it. */
static int refuse(struct access_refusal *why, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    why->sqlstate = sqlstate;
    vsnprintf(why->message, sizeof why->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Whether name (not NUL-terminated, n bytes) is one of list (NULL-terminated), ignoring case. */
static bool name_in(const char *name, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == n && strncasecmp(name, *list, n) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------ functions */

/* Table functions that read or list server files: an admin's, within --files-dir. */
static const char *const file_functions[] = {
    "glob",
    "read_blob",
    "read_text",
    "read_csv",
    "read_csv_auto",
    "sniff_csv",
    "read_json",
    "read_json_auto",
    "read_json_objects",
    "read_json_objects_auto",
    "read_ndjson",
    "read_ndjson_auto",
    "read_ndjson_objects",
    "read_parquet",
    "parquet_scan",
    "parquet_schema",
    "parquet_metadata",
    "parquet_file_metadata",
    "parquet_kv_metadata",
    "parquet_bloom_probe",
    "read_duckdb",
    NULL,
};

/* Functions that run SQL from a string (which no check of the text can see) or act on the server: admin's. */
static const char *const admin_functions[] = {
    "query",       "query_table",        "json_execute_serialized_sql", "checkpoint", "force_checkpoint",
    "duckdb_logs", "duckdb_logs_parsed", "duckdb_log_contexts",         NULL,
};

/* Functions nobody calls: DuckDB's logging writes where its settings say, arrow_scan reads raw pointers. */
static const char *const never_functions[] = {
    "enable_logging", "disable_logging", "truncate_duckdb_logs", "arrow_scan", "arrow_scan_dumb", NULL,
};

/*
 * Checks every name the text calls, name(...): quoted or not, qualified
 * or not (the last part is the function's name). 0, or -1 with *why.
 */
static int check_calls(enum access_role role, const char *sql, size_t len, struct access_refusal *why)
{
    struct sqllex lx;
    struct sqllex_token tok, prev = {0};
    bool have_prev = false;
    sqllex_init(&lx, sql, len);
    while (sqllex_next(&lx, &tok)) {
        bool call = tok.kind == SQLLEX_PUNCT && sql[tok.start] == '(' && have_prev &&
                    (prev.kind == SQLLEX_IDENT || prev.kind == SQLLEX_QIDENT);
        if (call) {
            const char *name = sql + prev.start;
            size_t n = prev.len;
            if (prev.kind == SQLLEX_QIDENT && name[0] != '"') /* U&"\0072ead_csv"(: no name to match */
                return refuse(why, "0A000", "function names written with U& escapes are not supported");
            if (prev.kind == SQLLEX_QIDENT && n >= 2) {
                name++; /* "read_csv"( : DuckDB calls the same function */
                n -= 2;
            }
            if (name_in(name, n, never_functions))
                return refuse(why, "42501",
                              "permission denied for function %.*s: it is not available to clients", (int)n,
                              name);
            if (role != ACCESS_ADMIN && name_in(name, n, file_functions))
                return refuse(
                    why, "42501",
                    "permission denied for function %.*s: reading server files is reserved to admin "
                    "users, inside the server's files directory",
                    (int)n, name);
            if (role != ACCESS_ADMIN && name_in(name, n, admin_functions))
                return refuse(why, "42501",
                              "permission denied for function %.*s: it is reserved to admin users", (int)n,
                              name);
        }
        prev = tok;
        have_prev = true;
    }
    return 0;
}

int access_check_calls(enum access_role role, const char *sql, size_t len, struct access_refusal *why)
{
    return check_calls(role, sql, len, why);
}

/* ------------------------------------------------------------ pragmas */

/* PRAGMAs that DuckDB turns into a query (SELECT * FROM pragma_x()): reads for anyone. */
static const char *const query_pragmas[] = {
    "table_info",     "show",          "show_tables",        "show_tables_expanded",
    "show_databases", "database_list", "database_size",      "storage_info",
    "metadata_info",  "collations",    "functions",          "platform",
    "user_agent",     "version",       "extension_versions", NULL,
};

/* PRAGMA name (= value | (args)): the name as the lexer reads it, into buf; false without one. */
static bool pragma_name(struct sqllex lx, char *buf, size_t n)
{
    struct sqllex_token tok;
    if (!sqllex_next(&lx, &tok) || tok.kind != SQLLEX_IDENT || tok.len >= n)
        return false;
    memcpy(buf, lx.text + tok.start, tok.len);
    buf[tok.len] = '\0';
    return true;
}

/*
 * Where the statement an EXPLAIN explains starts: after EXPLAIN, and
 * ANALYZE or a list of (options). *analyze: whether the EXPLAIN runs it.
 */
static size_t explained_start(const char *sql, size_t len, bool *analyze)
{
    struct sqllex lx;
    struct sqllex_token tok;
    char w[32];
    *analyze = false;
    sqllex_init(&lx, sql, len);
    sqllex_next_word(&lx, w, sizeof w); /* EXPLAIN */
    struct sqllex peek = lx;
    if (sqllex_next_word(&peek, w, sizeof w) && (!strcmp(w, "ANALYZE") || !strcmp(w, "ANALYSE"))) {
        *analyze = true;
        lx = peek;
    } else if (sqllex_next(&peek, &tok) && tok.kind == SQLLEX_PUNCT && sql[tok.start] == '(') {
        /* EXPLAIN (ANALYZE, FORMAT json) ...: any ANALYZE among the options */
        int depth = 1;
        while (depth > 0 && sqllex_next(&peek, &tok)) {
            if (tok.kind == SQLLEX_PUNCT && sql[tok.start] == '(')
                depth++;
            else if (tok.kind == SQLLEX_PUNCT && sql[tok.start] == ')')
                depth--;
            else if (sqllex_is_word(sql, &tok, "ANALYZE") || sqllex_is_word(sql, &tok, "ANALYSE"))
                *analyze = true;
        }
        lx = peek;
    }
    return lx.pos;
}

/* ------------------------------------------------------------ the text */

int access_check_text(enum access_role role, const char *sql, size_t len, struct access_refusal *why)
{
    struct sqllex lx;
    char w1[32], w2[32];
    /* EXPLAIN binds its statement (and with ANALYZE runs it): the words that count are that statement's */
    size_t at = 0;
    for (;;) {
        sqllex_init(&lx, sql + at, len - at);
        sqllex_next_word(&lx, w1, sizeof w1);
        if (strcmp(w1, "EXPLAIN") != 0)
            break;
        bool analyze;
        at += explained_start(sql + at, len - at, &analyze);
    }
    struct sqllex after = lx;
    sqllex_next_word(&after, w2, sizeof w2);
    if (!strcmp(w1, "INSTALL") || !strcmp(w1, "LOAD") || (!strcmp(w1, "FORCE") && !strcmp(w2, "INSTALL")) ||
        (!strcmp(w1, "UPDATE") && !strcmp(w2, "EXTENSIONS")))
        return refuse(why, "42501",
                      "permission denied to %s extensions: the server's extensions are fixed by its operator",
                      !strcmp(w1, "LOAD")     ? "load"
                      : !strcmp(w1, "UPDATE") ? "update"
                                              : "install");
    if (role != ACCESS_ADMIN) {
        static const char *const file_verbs[] = {"COPY", "EXPORT", "IMPORT", NULL};
        static const char *const admin_verbs[] = {"ATTACH", "DETACH", NULL};
        if (name_in(w1, strlen(w1), file_verbs))
            return refuse(why, "42501",
                          "permission denied for %s with a server file: reserved to admin users, inside the "
                          "server's files directory (COPY FROM STDIN and TO STDOUT are open to every user)",
                          w1);
        if (name_in(w1, strlen(w1), admin_verbs))
            return refuse(why, "42501", "permission denied for %s: reserved to admin users", w1);
        char name[64];
        if (!strcmp(w1, "PRAGMA") && pragma_name(lx, name, sizeof name) &&
            !name_in(name, strlen(name), query_pragmas))
            return refuse(
                why, "42501",
                "permission denied for PRAGMA %s: it changes the server or reads files, reserved to "
                "admin users",
                name);
    }
    return check_calls(role, sql, len, why);
}

/* ------------------------------------------------------------ settings */

/* DuckDB's settings a connection keeps to itself, harmless to anyone's (DuckDB 1.4, duckdb_settings()). */
static const char *const session_settings[] = {
    "schema",
    "search_path",
    "timezone",
    "calendar",
    "errors_as_json",
    "explain_output",
    "max_expression_depth",
    "streaming_buffer_size",
    "enable_progress_bar",
    "enable_progress_bar_print",
    "progress_bar_time",
    "lambda_syntax",
    "asof_loop_join_threshold",
    "debug_asof_iejoin",
    "debug_force_no_cross_product",
    "disable_timestamptz_casts",
    "dynamic_or_filter_threshold",
    "ieee_floating_point_ops",
    "integer_division",
    "late_materialization_max_rows",
    "merge_join_threshold",
    "nested_loop_join_threshold",
    "order_by_non_integer_literal",
    "ordered_aggregate_threshold",
    "partitioned_write_flush_threshold",
    "partitioned_write_max_open_files",
    "perfect_ht_threshold",
    "pivot_filter_threshold",
    "pivot_limit",
    "prefer_range_joins",
    "preserve_identifier_case",
    "scalar_subquery_error_on_multiple_rows",
    NULL,
};

/* Settings of one connection that still reach beyond it (the server's output, spilling): an admin's. */
static const char *const admin_session_settings[] = {
    "enable_profiling",
    "profiling_mode",
    "profiling_coverage",
    "custom_profiling_settings",
    "debug_force_external",
    "enable_http_logging",
    NULL,
};

/*
 * Settings nobody changes: they name files or directories that DuckDB
 * writes or reads without its allowed_directories check, or they would
 * undo the server's own lock-down of files and extensions.
 */
static const char *const never_settings[] = {
    "profiling_output",
    "profile_output",
    "log_query_path",
    "http_logging_output",
    "home_directory",
    "file_search_path",
    "temp_directory",
    "extension_directory",
    "secret_directory",
    "allowed_directories",
    "allowed_paths",
    "enable_external_access",
    "autoinstall_known_extensions",
    "autoload_known_extensions",
    "allow_community_extensions",
    "allow_unsigned_extensions",
    "autoinstall_extension_repository",
    "custom_extension_repository",
    "allow_persistent_secrets",
    "lock_configuration",
    "logging_storage",
    "disabled_filesystems",
    "access_mode",
    "allow_extensions_metadata_mismatch",
    NULL,
};

/* The setting a SET, RESET, PRAGMA x = y or USE names. */
struct set_target {
    char name[128];
    bool global;   /* SET GLOBAL / RESET GLOBAL */
    bool variable; /* SET VARIABLE: a value of the connection, not a setting */
    bool use;      /* USE db.schema: the connection's schema */
};

/* Reads the target of a statement DuckDB typed SET. Returns false when no name can be read. */
static bool set_target(const char *sql, size_t len, struct set_target *t)
{
    struct sqllex lx;
    char w[32];
    memset(t, 0, sizeof *t);
    sqllex_init(&lx, sql, len);
    sqllex_next_word(&lx, w, sizeof w);
    if (!strcmp(w, "USE")) {
        t->use = true;
        return true;
    }
    if (strcmp(w, "SET") != 0 && strcmp(w, "RESET") != 0 && strcmp(w, "PRAGMA") != 0)
        return false;
    if (strcmp(w, "PRAGMA") != 0) {
        struct sqllex peek = lx;
        if (sqllex_next_word(&peek, w, sizeof w)) {
            if (!strcmp(w, "GLOBAL") || !strcmp(w, "SESSION") || !strcmp(w, "LOCAL")) {
                t->global = !strcmp(w, "GLOBAL");
                lx = peek;
            } else if (!strcmp(w, "VARIABLE")) {
                t->variable = true;
                return true;
            }
        }
    }
    struct sqllex_token tok;
    struct dp_buf name = DP_BUF_INIT;
    if (sqllex_next(&lx, &tok) && (tok.kind == SQLLEX_IDENT || tok.kind == SQLLEX_QIDENT))
        sqllex_value(sql, &tok, &name);
    bool ok = !name.failed && name.len > 0 && name.len < sizeof t->name;
    if (ok)
        memcpy(t->name, name.data, name.len + 1);
    dp_buf_free(&name);
    return ok;
}

/* A statement DuckDB typed SET: by the setting it names. 0, or -1 with *why. */
static int check_set(enum access_role role, const char *sql, size_t len, struct access_refusal *why)
{
    struct set_target t;
    if (!set_target(sql, len, &t))
        return refuse(why, "42501", "permission denied for this SET: the setting it names could not be read");
    if (t.use || t.variable)
        return 0;
    size_t n = strlen(t.name);
    const char *reason = NULL;
    if (name_in(t.name, n, never_settings))
        reason =
            ": it names server files or undoes the server's file and extension limits, and is fixed by its "
            "operator";
    else if (role == ACCESS_ADMIN)
        return 0;
    else if (t.global)
        reason = " globally: SET GLOBAL changes every session, reserved to admin users";
    else if (name_in(t.name, n, admin_session_settings))
        reason = ": it writes to the server's output, reserved to admin users";
    else if (!name_in(t.name, n, session_settings))
        reason = ": it is one of DuckDB's global settings, shared by every session, reserved to admin users";
    if (reason)
        return refuse(why, "42501", "permission denied to set parameter \"%s\"%s", t.name, reason);
    return 0;
}

/* ------------------------------------------------------------ the type */

bool access_type_is_read(duckdb_statement_type type)
{
    return type == DUCKDB_STATEMENT_TYPE_SELECT || type == DUCKDB_STATEMENT_TYPE_EXPLAIN ||
           type == DUCKDB_STATEMENT_TYPE_TRANSACTION;
}

/*
 * EXPLAIN ANALYZE runs its statement: it is checked as that statement,
 * by the type DuckDB gives it on dcon. A plain EXPLAIN only binds (what
 * binding reads, access_check_text refused). 0, or -1 with *why.
 */
static int check_explain(enum access_role role, const char *sql, size_t len, duckdb_connection dcon,
                         struct access_refusal *why)
{
    bool analyze;
    size_t start = explained_start(sql, len, &analyze);
    if (!analyze || role == ACCESS_ADMIN)
        return 0;
    duckdb_statement_type inner = DUCKDB_STATEMENT_TYPE_INVALID;
    struct dp_buf text = DP_BUF_INIT;
    dp_buf_add(&text, sql + start, len - start);
    duckdb_extracted_statements ex = NULL;
    if (dcon && !text.failed && duckdb_extract_statements(dcon, text.data, &ex) == 1) {
        duckdb_prepared_statement prep = NULL;
        if (duckdb_prepare_extracted_statement(dcon, ex, 0, &prep) == DuckDBSuccess)
            inner = duckdb_prepared_statement_type(prep);
        duckdb_destroy_prepare(&prep);
    }
    duckdb_destroy_extracted(&ex);
    int rc = -1;
    if (inner == DUCKDB_STATEMENT_TYPE_INVALID || inner == DUCKDB_STATEMENT_TYPE_EXPLAIN)
        refuse(why, role == ACCESS_RO ? "25006" : "0A000",
               "EXPLAIN ANALYZE runs its statement, and this one could not be checked on its own");
    else
        rc = access_check_type(role, inner, text.data, text.len, dcon, why);
    dp_buf_free(&text);
    return rc;
}

/* The name of a statement type for a message. */
static const char *type_name(duckdb_statement_type t)
{
    switch (t) {
    case DUCKDB_STATEMENT_TYPE_INSERT: return "INSERT";
    case DUCKDB_STATEMENT_TYPE_UPDATE: return "UPDATE";
    case DUCKDB_STATEMENT_TYPE_DELETE: return "DELETE";
    case DUCKDB_STATEMENT_TYPE_CREATE:
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC: return "CREATE";
    case DUCKDB_STATEMENT_TYPE_ALTER: return "ALTER";
    case DUCKDB_STATEMENT_TYPE_DROP: return "DROP";
    case DUCKDB_STATEMENT_TYPE_ANALYZE: return "ANALYZE";
    case DUCKDB_STATEMENT_TYPE_VACUUM: return "VACUUM";
    case DUCKDB_STATEMENT_TYPE_CALL: return "CALL";
    case DUCKDB_STATEMENT_TYPE_EXECUTE: return "EXECUTE";
    case DUCKDB_STATEMENT_TYPE_PREPARE: return "PREPARE";
    case DUCKDB_STATEMENT_TYPE_COPY: return "COPY";
    case DUCKDB_STATEMENT_TYPE_EXPORT: return "EXPORT";
    case DUCKDB_STATEMENT_TYPE_ATTACH: return "ATTACH";
    case DUCKDB_STATEMENT_TYPE_DETACH: return "DETACH";
    case DUCKDB_STATEMENT_TYPE_PRAGMA: return "PRAGMA";
    default: return "this statement";
    }
}

/*
 * Whether the text names one of the server's own objects: a name that
 * starts with duckpond_ (its bookkeeping tables, duckpond_journal_state,
 * and the catalog overlay, duckpond_pg), which every session relies on.
 */
static bool names_server_object(const char *sql, size_t len)
{
    static const char prefix[] = "duckpond_";
    const size_t plen = sizeof prefix - 1;
    bool anywhere = false; /* most statements name none: one plain pass before the lexer's */
    for (size_t i = 0; i + plen <= len && !anywhere; i++)
        anywhere = (sql[i] | 0x20) == 'd' && strncasecmp(sql + i, prefix, plen) == 0;
    if (!anywhere)
        return false;
    struct sqllex lx;
    struct sqllex_token tok;
    sqllex_init(&lx, sql, len);
    while (sqllex_next(&lx, &tok)) {
        const char *p = sql + tok.start;
        size_t n = tok.len;
        if (tok.kind == SQLLEX_QIDENT && n >= 2 && *p == '"') {
            p++;
            n -= 2;
        } else if (tok.kind != SQLLEX_IDENT) {
            continue;
        }
        if (n >= plen && strncasecmp(p, prefix, plen) == 0)
            return true;
    }
    return false;
}

int access_check_ingest(enum access_role role, const char *table, struct access_refusal *why)
{
    static const char prefix[] = "duckpond_";
    if (role == ACCESS_RO)
        return refuse(why, "25006", "this user is read-only and may not write rows");
    for (const char *part = table; role != ACCESS_ADMIN && part; part = strchr(part, '.')) {
        part += *part == '.';
        part += *part == '"';
        if (strncasecmp(part, prefix, sizeof prefix - 1) == 0)
            return refuse(why, "42501",
                          "permission denied to write rows into %s: the server's own tables (names starting "
                          "with duckpond_) are reserved to admin users",
                          table);
    }
    return 0;
}

/* CHECKPOINT and FORCE CHECKPOINT are CALLs that DuckDB does not spell CALL. */
static bool is_checkpoint(const char *sql, size_t len)
{
    struct sqllex lx;
    char w[32];
    sqllex_init(&lx, sql, len);
    sqllex_next_word(&lx, w, sizeof w);
    return strcmp(w, "CALL") != 0;
}

int access_check_type(enum access_role role, duckdb_statement_type type, const char *sql, size_t len,
                      duckdb_connection dcon, struct access_refusal *why)
{
    switch (type) {
    case DUCKDB_STATEMENT_TYPE_SELECT:
    case DUCKDB_STATEMENT_TYPE_TRANSACTION: return 0;
    case DUCKDB_STATEMENT_TYPE_EXPLAIN: return check_explain(role, sql, len, dcon, why);
    case DUCKDB_STATEMENT_TYPE_SET:
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET: return check_set(role, sql, len, why);
    case DUCKDB_STATEMENT_TYPE_INSERT:
    case DUCKDB_STATEMENT_TYPE_UPDATE:
    case DUCKDB_STATEMENT_TYPE_DELETE:
    case DUCKDB_STATEMENT_TYPE_CREATE:
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC:
    case DUCKDB_STATEMENT_TYPE_ALTER:
    case DUCKDB_STATEMENT_TYPE_DROP:
    case DUCKDB_STATEMENT_TYPE_ANALYZE:
    case DUCKDB_STATEMENT_TYPE_VACUUM:
    case DUCKDB_STATEMENT_TYPE_EXECUTE:
    case DUCKDB_STATEMENT_TYPE_PREPARE:
        if (role == ACCESS_RO)
            return refuse(why, "25006", "cannot execute %s in a read-only transaction", type_name(type));
        if (role != ACCESS_ADMIN && names_server_object(sql, len))
            return refuse(why, "42501",
                          "permission denied for %s of the server's own objects (names starting with "
                          "duckpond_): reserved to admin users",
                          type_name(type));
        return 0;
    case DUCKDB_STATEMENT_TYPE_CALL:
        if (is_checkpoint(sql, len) && role != ACCESS_ADMIN)
            return refuse(why, "42501", "permission denied for CHECKPOINT: reserved to admin users");
        if (role == ACCESS_RO)
            return refuse(why, "25006", "cannot execute CALL in a read-only transaction");
        return 0;
    case DUCKDB_STATEMENT_TYPE_COPY:
    case DUCKDB_STATEMENT_TYPE_EXPORT:
        if (role != ACCESS_ADMIN)
            return refuse(why, "42501",
                          "permission denied for %s with a server file: reserved to admin users, inside the "
                          "server's files directory",
                          type_name(type));
        return 0;
    case DUCKDB_STATEMENT_TYPE_ATTACH:
    case DUCKDB_STATEMENT_TYPE_DETACH:
    case DUCKDB_STATEMENT_TYPE_PRAGMA:
        if (role != ACCESS_ADMIN)
            return refuse(why, "42501", "permission denied for %s: reserved to admin users", type_name(type));
        return 0;
    case DUCKDB_STATEMENT_TYPE_LOAD:
    case DUCKDB_STATEMENT_TYPE_EXTENSION:
        return refuse(why, "42501",
                      "permission denied to install or load extensions: the server's extensions are fixed by "
                      "its operator");
    default: return refuse(why, "0A000", "this kind of statement is not supported by duckpond");
    }
}
