/*
 * portal.c -- running statements: a portal is a statement with its
 * parameters bound; executing it runs the statement (or the session's own
 * answer to it) and sends its rows, streamed from DuckDB a chunk at a time
 * and suspended after max_rows when the client asks for that.
 *
 * A portal runs a DuckDB statement through the batcher when it is a plain
 * INSERT in autocommit, or applies it by the batcher's means on the
 * session's connection inside a transaction (insert_plan.c), else with
 * DuckDB's streaming
 * execution, after the session's journaled writes are applied
 * (read-your-writes). A read-only user may run only what DuckDB types as a
 * read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "insert_plan.h"
#include "metrics.h"
#include "pgtypes.h"
#include "plancache.h"
#include "session_int.h"
#include "sqllex.h"

/* ------------------------------------------------------------- lifecycle */

struct portal *portal_new(const char *name, struct stmt *st)
{
    struct portal *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(name))) {
        free(p);
        return NULL;
    }
    p->st = st;
    st->refs++;
    return p;
}

/* Frees the portal's DuckDB result, if it holds one. */
static void close_result(struct portal *p)
{
    if (p->chunk)
        duckdb_destroy_data_chunk(&p->chunk);
    if (p->has_res)
        duckdb_destroy_result(&p->res);
    p->has_res = false;
}

void portal_free(struct portal *p)
{
    close_result(p);
    stmt_unref(p->st);
    free(p->name);
    free(p->pvals);
    free(p->plens);
    free(p->pfmts);
    free(p->pdata);
    free(p->rfmts);
    free(p);
}

struct portal *portal_find(struct session *s, const char *name)
{
    for (struct portal *p = s->portals; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

void portal_drop(struct session *s, const char *name)
{
    for (struct portal **pp = &s->portals; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0) {
            struct portal *p = *pp;
            *pp = p->next;
            portal_free(p);
            return;
        }
}

void portal_drop_all(struct session *s)
{
    while (s->portals) {
        struct portal *p = s->portals;
        s->portals = p->next;
        portal_free(p);
    }
}

/* ----------------------------------------------------------- result rows */

int16_t portal_format(const struct portal *p, int i)
{
    if (!p || p->nrfmts == 0)
        return 0;
    return p->nrfmts == 1 ? p->rfmts[0] : i < p->nrfmts ? p->rfmts[i] : 0;
}

/* The name and type of column i; *owned is set when the name is DuckDB's to free with duckdb_free. */
static const char *column_of(struct stmt *st, duckdb_result *res, int i, duckdb_logical_type *type,
                             char **owned)
{
    static const char *const show_all[] = {"name", "setting", "description"};
    *owned = NULL;
    if (st->kind == STMT_SHOW || st->kind == STMT_SHOW_ALL || st->kind == STMT_VERSION) {
        *type = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
        return st->kind == STMT_SHOW ? st->set_name : st->kind == STMT_VERSION ? "version" : show_all[i];
    }
    if (res) {
        *type = duckdb_column_logical_type(res, (idx_t)i);
        return duckdb_column_name(res, (idx_t)i);
    }
    *type = duckdb_prepared_statement_column_logical_type(st->prep, (idx_t)i);
    return *owned = (char *)duckdb_prepared_statement_column_name(st->prep, (idx_t)i);
}

void portal_row_description(struct session *s, struct stmt *st, duckdb_result *res, const struct portal *p)
{
    struct pgbuf *out = &s->pc.out;
    int ncols = res ? (int)duckdb_column_count(res) : st->ncols;
    pgbuf_begin(out, 'T');
    pgbuf_int16(out, (int16_t)ncols);
    for (int i = 0; i < ncols; i++) {
        char *owned;
        duckdb_logical_type type;
        const char *name = column_of(st, res, i, &type, &owned);
        int16_t typlen;
        uint32_t oid = pgtypes_oid(type, &typlen);
        duckdb_destroy_logical_type(&type);
        pgbuf_cstr(out, name ? name : "?column?");
        duckdb_free(owned);
        pgbuf_int32(out, 0);
        pgbuf_int16(out, 0);
        pgbuf_int32(out, (int32_t)oid);
        pgbuf_int16(out, typlen);
        pgbuf_int32(out, -1);
        pgbuf_int16(out, portal_format(p, i));
    }
    pgbuf_end(out);
}

void portal_text_row(struct session *s, int n, const char *const *vals)
{
    pgbuf_begin(&s->pc.out, 'D');
    pgbuf_int16(&s->pc.out, (int16_t)n);
    for (int i = 0; i < n; i++) {
        pgbuf_int32(&s->pc.out, (int32_t)strlen(vals[i]));
        pgbuf_str(&s->pc.out, vals[i]);
    }
    pgbuf_end(&s->pc.out);
}

/* Checks out-of-band result errors (streaming results fail while fetching): 0, or -1 with the error queued. */
static int result_failed(struct session *s, duckdb_result *res)
{
    const char *e = duckdb_result_error(res);
    if (!e)
        return 0;
    session_duckdb_error(s, duckdb_result_error_type(res), e);
    return -1;
}

/*
 * Sends the rows of a portal's result through enc, at most max_rows (0:
 * all). Returns 1 when rows remain (suspended), 0 when done, -1 on error
 * (queued).
 */
static int send_rows_with(struct session *s, struct portal *p, struct pgtypes_row *enc, int64_t max_rows)
{
    int64_t sent = 0;
    for (;;) {
        if (p->chunk && p->chunk_pos >= p->chunk_size)
            duckdb_destroy_data_chunk(&p->chunk);
        if (!p->chunk) {
            registry_run_begin(&s->reg);
            p->chunk = duckdb_fetch_chunk(p->res);
            registry_run_end(&s->reg);
            if (!p->chunk)
                return result_failed(s, &p->res);
            p->chunk_pos = 0;
            p->chunk_size = duckdb_data_chunk_get_size(p->chunk);
            pgtypes_row_chunk(enc, p->chunk);
            continue;
        }
        if (max_rows > 0 && sent >= max_rows)
            return 1;
        int bad;
        if (pgtypes_data_row(&s->pc.out, enc, p->chunk_pos, &bad) != 0) {
            session_error(s, "0A000", "values of the type of column \"%s\" cannot be sent in %s format",
                          duckdb_column_name(&p->res, (idx_t)bad),
                          portal_format(p, bad) == 1 ? "binary" : "text");
            return -1;
        }
        p->chunk_pos++;
        p->rows++;
        sent++;
        if (pgconn_maybe_flush(&s->pc) != 0)
            return -1;
    }
}

/* send_rows_with, the result's column types resolved once for all the rows this Execute sends. */
static int send_rows(struct session *s, struct portal *p, int64_t max_rows)
{
    struct pgtypes_row *enc = pgtypes_row_new(&p->res, p->nrfmts, p->rfmts);
    if (!enc) {
        session_error(s, "53200", "out of memory");
        return -1;
    }
    if (p->chunk)
        pgtypes_row_chunk(enc, p->chunk);
    int rc = send_rows_with(s, p, enc, max_rows);
    pgtypes_row_free(enc);
    return rc;
}

/* The count a DML statement reports, read from its one-row "Count" result. */
static uint64_t result_count(duckdb_result *res)
{
    duckdb_data_chunk chunk = duckdb_fetch_chunk(*res);
    uint64_t n = 0;
    if (chunk && duckdb_data_chunk_get_size(chunk) > 0) {
        duckdb_vector v = duckdb_data_chunk_get_vector(chunk, 0);
        n = (uint64_t)((int64_t *)duckdb_vector_get_data(v))[0];
    }
    if (chunk)
        duckdb_destroy_data_chunk(&chunk);
    return n;
}

/* The CommandComplete tag of a statement that affected or returned n rows. */
static void final_tag(struct stmt *st, uint64_t n, char *tag, size_t len)
{
    switch (st->dtype) {
    case DUCKDB_STATEMENT_TYPE_INSERT: snprintf(tag, len, "INSERT 0 %" PRIu64, n); break;
    case DUCKDB_STATEMENT_TYPE_SELECT:
    case DUCKDB_STATEMENT_TYPE_UPDATE:
    case DUCKDB_STATEMENT_TYPE_DELETE:
    case DUCKDB_STATEMENT_TYPE_COPY: snprintf(tag, len, "%s %" PRIu64, st->tag, n); break;
    default: snprintf(tag, len, "%s", st->tag); break;
    }
}

/* ------------------------------------------------------ DuckDB statements */

/*
 * Whether the session's role may run a statement DuckDB prepared, by
 * DuckDB's own type (access.h). 0, or -1 with the refusal queued.
 */
static int gate_type(struct session *s, duckdb_statement_type t, const char *sql)
{
    struct access_refusal why;
    if (access_check_type(s->role, t, sql, strlen(sql), s->dcon, &why) == 0)
        return 0;
    session_error(s, why.sqlstate, "%s", why.message);
    return -1;
}

/*
 * Refuses a statement that writes a table duckpond writes alone (the
 * PostgreSQL sync's, duckpond_db_protect): true with 42501 queued.
 */
static bool refuse_protected(struct session *s, const char *sql)
{
    char schema[128], table[128];
    if (!sql || !sqllex_write_target(sql, schema, sizeof schema, table, sizeof table) ||
        !duckpond_db_protected(s->env->db, *schema ? schema : NULL, table))
        return false;
    session_error(s, "42501", "table %s%s%s is mirrored from PostgreSQL and read-only for clients", schema,
                  *schema ? "." : "", table);
    return true;
}

/* Binds a portal's parameters into its statement. 0, or -1 with an error queued. */
static int bind_params(struct session *s, struct portal *p)
{
    struct stmt *st = p->st;
    duckdb_clear_bindings(st->prep);
    idx_t want = (idx_t)st->dparams;
    if ((idx_t)p->nparams < want) {
        session_error(s, "08P01",
                      "bind message supplies %d parameters, but prepared statement \"%s\" requires %d",
                      p->nparams, st->name, (int)want);
        return -1;
    }
    for (idx_t i = 0; i < want; i++) {
        char err[256];
        if (pgtypes_bind(st->prep, i + 1, st->param_oids[i], p->pfmts[i], p->pvals[i], p->plens[i], err,
                         sizeof err) != 0) {
            session_error(s, "22P02", "%s", err);
            return -1;
        }
    }
    return 0;
}

/*
 * A plain INSERT through the batcher in autocommit, or applied by its
 * means on the session's connection inside a transaction: 0 or -1 (done,
 * the tag written or an error queued), or 1 when DuckDB must run it after
 * all.
 */
static int try_batcher(struct session *s, struct portal *p, char *tag, size_t taglen)
{
    struct stmt *st = p->st;
    bool apply = session_may_apply(s);
    if (!apply && !session_may_batch(s))
        return 1;
    if (st->plan_checked && st->plan_gen != plancache_gen(s)) {
        /* the catalog changed since the analysis: the columns' types, or what a name calls, may have too */
        if (!st->prep && stmt_prepare_late(s, st) != 0)
            return -1;
        insert_plan_unref(st->plan);
        st->plan = NULL;
        st->plan_checked = false;
    }
    if (!st->plan_checked)
        insert_plan_check(s, st);
    if (!st->plan)
        return 1;
    int rc = apply ? insert_plan_apply(s, st, p, tag, taglen)
                   : insert_plan_run(s, st, p, tag, taglen, !st->prep);
    if (rc == 2) /* a cached shape failed: DuckDB analyses the text, as it would have first */
        rc = stmt_prepare_late(s, st) != 0 ? -1 : insert_plan_run(s, st, p, tag, taglen, false);
    if (rc <= 0)
        metrics_statement("INSERT");
    return rc;
}

int portal_start_duckdb(struct session *s, struct portal *p, bool describe, char *tag, size_t taglen,
                        bool *has_rows)
{
    struct stmt *st = p->st;
    *has_rows = false;
    if (gate_type(s, st->dtype, st->sql) != 0)
        return -1;
    if (!access_type_is_read(st->dtype) && refuse_protected(s, st->sql))
        return -1;
    /* inside a transaction its INSERTs are its writes too, applied on its connection */
    bool in_tx = s->tx != TX_IDLE;
    if (in_tx && (session_write_allowed(s, st->sql, st->dtype) != 0 || session_tx_start(s) != 0 ||
                  session_lane_enter(s, st->dtype) != 0))
        return -1;
    int rc = try_batcher(s, p, tag, taglen);
    if (rc <= 0)
        return rc;
    if (!in_tx && session_write_allowed(s, st->sql, st->dtype) != 0)
        return -1;
    if (!st->prep && stmt_prepare_late(s, st) != 0)
        return -1;
    if (session_wait_own_writes(s) != 0 || bind_params(s, p) != 0 || session_lane_enter(s, st->dtype) != 0)
        return -1;
    registry_run_begin(&s->reg);
    duckdb_state state = duckdb_execute_prepared_streaming(st->prep, &p->res);
    registry_run_end(&s->reg);
    p->has_res = true;
    if (!duckpond_statement_keeps_catalog(st->dtype))
        session_catalog_changed(s);
    if (state != DuckDBSuccess) {
        result_failed(s, &p->res);
        return -1;
    }
    metrics_statement(st->tag);
    if (st->ncols == 0 || (st->cols_unknown && duckdb_column_count(&p->res) == 0)) {
        uint64_t n = st->count_result ? result_count(&p->res) : 0;
        if (result_failed(s, &p->res))
            return -1;
        final_tag(st, n, tag, taglen);
        close_result(p);
        return 0;
    }
    if (describe)
        portal_row_description(s, st, &p->res, p);
    *has_rows = true;
    return 0;
}

/* Runs each statement of a rewritten multi-statement text; no rows are sent. 0, or -1 with an error queued. */
static int run_multi(struct session *s, struct stmt *st, char *tag, size_t len)
{
    if (refuse_protected(s, st->sql) || session_wait_own_writes(s) != 0 || session_tx_start(s) != 0 ||
        session_lane_enter(s, DUCKDB_STATEMENT_TYPE_CREATE) != 0)
        return -1;
    session_catalog_changed(s);
    duckdb_extracted_statements ex = NULL;
    idx_t n = duckdb_extract_statements(s->dcon, st->sql, &ex);
    int rc = 0;
    if (n == 0) {
        session_duckdb_error(s, DUCKDB_ERROR_PARSER, duckdb_extract_statements_error(ex));
        rc = -1;
    }
    for (idx_t i = 0; i < n && rc == 0; i++) {
        duckdb_prepared_statement prep = NULL;
        if (duckdb_prepare_extracted_statement(s->dcon, ex, i, &prep) != DuckDBSuccess) {
            /* a write to a live bars view fails to bind: say why, as for the bars' tables */
            if (session_write_allowed(s, st->sql, DUCKDB_STATEMENT_TYPE_UPDATE) == 0)
                session_duckdb_error(s, DUCKDB_ERROR_INVALID, duckdb_prepare_error(prep));
            rc = -1;
        } else if (gate_type(s, duckdb_prepared_statement_type(prep), st->sql) != 0) {
            rc = -1;
        } else {
            duckdb_result res;
            registry_run_begin(&s->reg);
            if (duckdb_execute_prepared(prep, &res) != DuckDBSuccess) {
                result_failed(s, &res);
                rc = -1;
            }
            registry_run_end(&s->reg);
            duckdb_destroy_result(&res);
        }
        duckdb_destroy_prepare(&prep);
    }
    duckdb_destroy_extracted(&ex);
    if (rc == 0) {
        if (!st->tag[0])
            stmt_ddl_tag(st->sql, st->tag, sizeof st->tag);
        snprintf(tag, len, "%s", st->tag);
    }
    return rc;
}

/* -------------------------------------------- what the session answers itself */

/* SET and RESET of the session's settings (RESET ALL when it names none). */
static int run_set(struct session *s, struct stmt *st, char *tag, size_t len)
{
    int rc = 0;
    if (st->set_name)
        rc = settings_put(s, settings_find(st->set_name), st->kind == STMT_SET ? st->set_value : NULL);
    else
        settings_reset_all(s);
    snprintf(tag, len, "%s", st->kind == STMT_SET ? "SET" : "RESET");
    return rc;
}

/* One row of one text column: SHOW name, SELECT version(). */
static void run_one_value(struct session *s, struct stmt *st, bool describe, const char *value)
{
    if (describe)
        portal_row_description(s, st, NULL, NULL);
    portal_text_row(s, 1, &value);
}

static void run_version(struct session *s, struct stmt *st, bool describe, char *tag, size_t len)
{
    char v[160];
    snprintf(v, sizeof v,
             "PostgreSQL " SESSION_SERVER_VERSION " (duckpond, DuckDB %s) on x86_64-pc-linux-gnu",
             duckdb_library_version());
    run_one_value(s, st, describe, v);
    snprintf(tag, len, "SELECT 1");
}

static void run_show_all(struct session *s, struct stmt *st, bool describe)
{
    if (describe)
        portal_row_description(s, st, NULL, NULL);
    settings_show_all(s);
    pgwire_command_complete(&s->pc.out, "SHOW");
}

/*
 * COPY FROM STDIN / TO STDOUT on the session's connection: it sends its
 * own responses, CommandComplete included. 0, or -1 with an error queued
 * (the transaction, if open, then fails).
 */
static int run_copy(struct session *s, struct stmt *st)
{
    if (s->role == ACCESS_RO && copy_is_from(st->copy)) {
        session_error(s, "25006", "cannot execute COPY FROM in a read-only transaction");
        return -1;
    }
    if (copy_is_from(st->copy) && refuse_protected(s, st->sql))
        return -1;
    /* DuckDB runs either direction itself: it must see the session's journaled rows first */
    if (session_wait_own_writes(s) != 0)
        return -1;
    if ((copy_is_from(st->copy) && session_write_allowed(s, st->sql, DUCKDB_STATEMENT_TYPE_COPY) != 0) ||
        session_tx_start(s) != 0 ||
        (copy_is_from(st->copy) && session_lane_enter(s, DUCKDB_STATEMENT_TYPE_COPY) != 0))
        return -1;
    struct copy_ctx ctx = {
        .pc = &s->pc,
        .dcon = s->dcon,
        .run = &s->reg,
        .in_tx = s->tx != TX_IDLE,
        .read_only = s->role == ACCESS_RO,
        .run_dir = s->env->run_dir,
    };
    int rc = copy_run(&ctx, st->copy);
    if (rc != 0)
        session_tx_failed(s);
    return rc;
}

/* ------------------------------------------------------------- execution */

/* A portal run to its end already: PostgreSQL answers it with an empty completion (or the one left from Describe). */
static int execute_finished(struct session *s, struct portal *p)
{
    char tag[96];
    if (p->early_done) {
        p->early_done = false;
        p->done = true;
        pgwire_command_complete(&s->pc.out, p->tag);
        return 0;
    }
    final_tag(p->st, 0, tag, sizeof tag);
    pgwire_command_complete(&s->pc.out, tag);
    return 0;
}

/* Sends the rest of a started portal's rows, then PortalSuspended or CommandComplete. */
static int execute_rows(struct session *s, struct portal *p, int64_t max_rows)
{
    char tag[96];
    int rc = send_rows(s, p, max_rows);
    if (rc < 0) {
        p->done = true;
        close_result(p);
        return -1;
    }
    if (rc == 1) {
        pgwire_empty(&s->pc.out, 's');
        return 0;
    }
    p->done = true;
    final_tag(p->st, p->rows, tag, sizeof tag);
    close_result(p);
    pgwire_command_complete(&s->pc.out, tag);
    return 0;
}

/* portal_execute, but for the lane a statement outside a transaction leaves. */
static int execute(struct session *s, struct portal *p, int64_t max_rows, bool describe)
{
    struct stmt *st = p->st;
    char tag[96] = "";
    int rc = 0;
    if (p->early_done || p->done)
        return execute_finished(s, p);
    if (s->tx == TX_FAILED && st->kind != STMT_COMMIT && st->kind != STMT_ROLLBACK &&
        st->kind != STMT_EMPTY) {
        session_error(s, "25P02",
                      "current transaction is aborted, commands ignored until end of transaction block");
        return -1;
    }
    if (p->started)
        return execute_rows(s, p, max_rows);
    p->started = true;
    bool rows = false;
    switch (st->kind) {
    case STMT_EMPTY:
        pgwire_empty(&s->pc.out, 'I');
        p->done = true;
        return 0;
    case STMT_BEGIN: rc = session_tx_begin(s, tag, sizeof tag); break;
    case STMT_COMMIT: rc = session_tx_end(s, true, tag, sizeof tag); break;
    case STMT_ROLLBACK: rc = session_tx_end(s, false, tag, sizeof tag); break;
    case STMT_SET:
    case STMT_RESET: rc = run_set(s, st, tag, sizeof tag); break;
    case STMT_SHOW:
        run_one_value(s, st, describe, settings_get(s, st->set_name));
        snprintf(tag, sizeof tag, "SHOW");
        break;
    case STMT_SHOW_ALL:
        p->done = true;
        run_show_all(s, st, describe);
        return 0;
    case STMT_VERSION: run_version(s, st, describe, tag, sizeof tag); break;
    case STMT_NOOP: snprintf(tag, sizeof tag, "%s", st->tag); break;
    case STMT_UNSUPPORTED:
        session_error(s, "0A000", "this statement is not supported by duckpond: %.60s", st->sql);
        return -1;
    case STMT_COPY: p->done = true; return run_copy(s, st);
    case STMT_MULTI: rc = run_multi(s, st, tag, sizeof tag); break;
    case STMT_DUCKDB: rc = portal_start_duckdb(s, p, describe, tag, sizeof tag, &rows); break;
    }
    if (rc == 0 && rows)
        return execute_rows(s, p, max_rows);
    p->done = true;
    if (rc == 0)
        pgwire_command_complete(&s->pc.out, tag);
    return rc;
}

int portal_execute(struct session *s, struct portal *p, int64_t max_rows, bool describe)
{
    int rc = execute(s, p, max_rows, describe);
    if (p->done)
        session_lane_statement_done(s);
    return rc;
}
