/*
 * query.c -- the messages of the ready phase: the simple protocol (Query:
 * one or more statements, each run to its end, rows described first, an
 * implicit transaction around several) and the extended protocol (Parse,
 * Bind, Describe, Execute, Close, Sync: named statements and portals,
 * typed and binary parameters and results). A handler reads its message,
 * queues its replies, and leaves errors to skip to Sync (pgconn.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgtypes.h"
#include "session_int.h"

/* ---------------------------------------------------------- simple query */

/* Runs one statement of a Query to its end. 0, or -1 with an error queued. */
static int simple_one(struct session *s, const struct piece *piece)
{
    struct stmt *st = stmt_make(s, "", piece->p, piece->len, NULL, 0);
    if (!st)
        return -1;
    struct portal *p = portal_new("", st);
    int rc = p ? portal_execute(s, p, 0, true) : (session_error(s, "53200", "out of memory"), -1);
    if (p)
        portal_free(p);
    stmt_unref(st);
    return rc;
}

void query_simple(struct session *s, const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    const char *sql = pgreader_cstr(&r);
    pgconn_end_extended(&s->pc);
    if (r.bad) {
        pgconn_fatal(&s->pc, "08P01", "invalid Query message");
        return;
    }
    stmt_drop(s, "");
    portal_drop(s, "");
    /* the statements are read from a copy: a COPY FROM STDIN among them
     * reads CopyData into the input buffer that holds this message */
    char *text = strdup(sql);
    struct piece *pieces = NULL;
    int n = 0;
    if (!text || stmt_split(text, strlen(text), &pieces, &n) != 0)
        session_error(s, "53200", "out of memory");
    else if (n == 0)
        pgwire_empty(&s->pc.out, 'I');
    /* several statements run all or nothing, as PostgreSQL runs a multi-statement Query */
    bool implicit = n > 1 && s->tx == TX_IDLE && stmt_implicit_tx_fits(pieces, n);
    char tag[32];
    if (implicit && session_tx_begin(s, tag, sizeof tag) != 0)
        n = 0;
    int rc = 0;
    for (int i = 0; i < n && rc == 0 && !s->pc.closing; i++)
        rc = simple_one(s, &pieces[i]);
    if (implicit)
        session_tx_end_implicit(s, rc == 0);
    free(pieces);
    free(text);
    pgwire_ready(&s->pc.out, s->tx);
}

/* -------------------------------------------------------- extended query */

void query_parse(struct session *s, const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    const char *name = pgreader_cstr(&r), *sql = pgreader_cstr(&r);
    int n = pgreader_int16(&r);
    if (r.bad || n < 0) {
        session_error(s, "08P01", "invalid Parse message");
        return;
    }
    uint32_t oids[n > 0 ? n : 1];
    for (int i = 0; i < n; i++)
        oids[i] = (uint32_t)pgreader_int32(&r);
    if (r.bad) {
        session_error(s, "08P01", "invalid Parse message");
        return;
    }
    if (*name && stmt_find(s, name)) {
        session_error(s, "42P05", "prepared statement \"%s\" already exists", name);
        return;
    }
    struct piece *pieces = NULL;
    int count = 0;
    if (stmt_split(sql, strlen(sql), &pieces, &count) != 0) {
        session_error(s, "53200", "out of memory");
        return;
    }
    if (count > 1) {
        free(pieces);
        session_error(s, "42601", "cannot insert multiple commands into a prepared statement");
        return;
    }
    struct stmt *st = stmt_make(s, name, count ? pieces[0].p : "", count ? pieces[0].len : 0, oids, n);
    free(pieces);
    if (!st)
        return;
    if (!*name)
        stmt_drop(s, "");
    st->next = s->stmts;
    s->stmts = st;
    pgwire_empty(&s->pc.out, '1');
}

/* Copies a Bind message's parameters into the portal. 0, or -1 when the message is malformed (or memory runs out). */
static int bind_read_params(struct portal *p, struct pgreader *r)
{
    int nfmt = pgreader_int16(r);
    if (nfmt < 0 || r->bad)
        return -1;
    int16_t fmts[nfmt > 0 ? nfmt : 1];
    for (int i = 0; i < nfmt; i++)
        fmts[i] = pgreader_int16(r);
    int n = pgreader_int16(r);
    if (r->bad || n < 0 || (nfmt > 1 && nfmt != n))
        return -1;
    p->nparams = n;
    p->pvals = calloc((size_t)n + 1, sizeof *p->pvals);
    p->plens = calloc((size_t)n + 1, sizeof *p->plens);
    p->pfmts = calloc((size_t)n + 1, sizeof *p->pfmts);
    const char *start = r->p;
    for (int i = 0; i < n; i++) {
        int32_t len = pgreader_int32(r);
        if (len > 0)
            pgreader_bytes(r, (size_t)len);
        else if (len < -1)
            r->bad = true;
    }
    if (r->bad || !p->pvals || !p->plens || !p->pfmts)
        return -1;
    size_t total = (size_t)(r->p - start);
    if (!(p->pdata = malloc(total + 1)))
        return -1;
    memcpy(p->pdata, start, total);
    struct pgreader c = {p->pdata, total, false};
    for (int i = 0; i < n; i++) {
        p->plens[i] = pgreader_int32(&c);
        p->pvals[i] = p->plens[i] > 0 ? pgreader_bytes(&c, (size_t)p->plens[i]) : "";
        p->pfmts[i] = nfmt == 0 ? 0 : nfmt == 1 ? fmts[0] : fmts[i];
    }
    return 0;
}

/* Checks that every column asked for in binary has a binary form. 0, or -1 with an error queued. */
static int bind_check_binary(struct session *s, struct portal *p)
{
    for (int i = 0; i < p->st->ncols && p->st->kind == STMT_DUCKDB && !p->st->cols_unknown; i++) {
        if (portal_format(p, i) != 1)
            continue;
        duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(p->st->prep, (idx_t)i);
        bool ok = pgtypes_has_binary(t);
        duckdb_destroy_logical_type(&t);
        if (!ok) {
            session_error(s, "42883", "no binary output function available for column %d", i + 1);
            return -1;
        }
    }
    return 0;
}

/* Resolves the result-format codes of a Bind message to one per column. 0, or -1 with an error queued. */
static int bind_result_formats(struct session *s, struct portal *p, struct pgreader *r)
{
    int n = pgreader_int16(r);
    int ncols = p->st->ncols;
    if (r->bad || n < 0 || (n > 1 && n != ncols && !p->st->cols_unknown)) {
        session_error(s, "08P01", "bind message has %d result formats but query has %d columns", n, ncols);
        return -1;
    }
    p->rfmts = calloc((size_t)n + 1, sizeof *p->rfmts);
    if (!p->rfmts) {
        session_error(s, "53200", "out of memory");
        return -1;
    }
    p->nrfmts = n;
    for (int i = 0; i < n; i++) {
        p->rfmts[i] = pgreader_int16(r);
        if (p->rfmts[i] != 0 && p->rfmts[i] != 1) {
            session_error(s, "22023", "unsupported format code: %d", p->rfmts[i]);
            return -1;
        }
    }
    if (r->bad) {
        session_error(s, "08P01", "invalid Bind message");
        return -1;
    }
    return bind_check_binary(s, p);
}

/* Makes the portal of a Bind message: NULL with an error queued when it cannot be made. */
static struct portal *bind_portal(struct session *s, struct stmt *st, const char *pname, struct pgreader *r)
{
    struct portal *p = portal_new(pname, st);
    if (!p) {
        session_error(s, "53200", "out of memory");
        return NULL;
    }
    if (bind_read_params(p, r) != 0) {
        portal_free(p);
        session_error(s, "08P01", "invalid Bind message");
        return NULL;
    }
    if (st->kind == STMT_DUCKDB && p->nparams != st->dparams) {
        session_error(s, "08P01",
                      "bind message supplies %d parameters, but prepared statement \"%s\" requires %d",
                      p->nparams, st->name, st->dparams);
        portal_free(p);
        return NULL;
    }
    if (bind_result_formats(s, p, r) != 0) {
        portal_free(p);
        return NULL;
    }
    return p;
}

void query_bind(struct session *s, const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    const char *pname = pgreader_cstr(&r), *sname = pgreader_cstr(&r);
    if (r.bad) {
        session_error(s, "08P01", "invalid Bind message");
        return;
    }
    if (!*pname)
        portal_drop(s, "");
    else if (portal_find(s, pname)) {
        session_error(s, "42P03", "portal \"%s\" already exists", pname);
        return;
    }
    struct stmt *st = stmt_find(s, sname);
    if (!st) {
        session_error(s, "26000", "prepared statement \"%s\" does not exist", sname);
        return;
    }
    struct portal *p = bind_portal(s, st, pname, &r);
    if (!p)
        return;
    p->next = s->portals;
    s->portals = p;
    pgwire_empty(&s->pc.out, '2');
}

/* What a Describe or Close message names: 'S' (a statement) or 'P' (a portal), and its name. 0, or -1 with an error queued. */
static int read_target(struct session *s, const struct pgmsg *m, const char *what, char *kind,
                       const char **name)
{
    struct pgreader r;
    pgreader_init(&r, m);
    *kind = (char)pgreader_int8(&r);
    *name = pgreader_cstr(&r);
    if (r.bad || (*kind != 'S' && *kind != 'P')) {
        session_error(s, "08P01", "invalid %s message", what);
        return -1;
    }
    return 0;
}

static void send_parameter_description(struct session *s, struct stmt *st)
{
    pgbuf_begin(&s->pc.out, 't');
    pgbuf_int16(&s->pc.out, (int16_t)st->nparams);
    for (int i = 0; i < st->nparams; i++)
        pgbuf_int32(&s->pc.out, (int32_t)(st->param_oids[i] ? st->param_oids[i] : PGOID_TEXT));
    pgbuf_end(&s->pc.out);
}

/*
 * Describe of a portal whose columns DuckDB knows only once it runs: runs
 * it now (RowDescription, or NoData), its rows are sent at Execute.
 */
static void describe_by_running(struct session *s, struct portal *p)
{
    bool rows = false;
    p->started = true;
    if (portal_start_duckdb(s, p, true, p->tag, sizeof p->tag, &rows) != 0) {
        p->done = true;
        return;
    }
    if (!rows) {
        p->early_done = true;
        pgwire_empty(&s->pc.out, 'n');
    }
}

void query_describe(struct session *s, const struct pgmsg *m)
{
    char kind;
    const char *name;
    if (read_target(s, m, "Describe", &kind, &name) != 0)
        return;
    struct stmt *st;
    const struct portal *fp = NULL;
    if (kind == 'S') {
        st = stmt_find(s, name);
        if (!st) {
            session_error(s, "26000", "prepared statement \"%s\" does not exist", name);
            return;
        }
        send_parameter_description(s, st);
    } else {
        struct portal *p = portal_find(s, name);
        if (!p) {
            session_error(s, "34000", "portal \"%s\" does not exist", name);
            return;
        }
        st = p->st;
        fp = p;
        if (st->kind == STMT_DUCKDB && st->cols_unknown && !p->started && s->tx != TX_FAILED) {
            describe_by_running(s, p);
            return;
        }
    }
    if (st->ncols > 0)
        portal_row_description(s, st, NULL, fp);
    else
        pgwire_empty(&s->pc.out, 'n');
}

void query_execute(struct session *s, const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    const char *name = pgreader_cstr(&r);
    int32_t max_rows = pgreader_int32(&r);
    if (r.bad) {
        session_error(s, "08P01", "invalid Execute message");
        return;
    }
    struct portal *p = portal_find(s, name);
    if (!p) {
        session_error(s, "34000", "portal \"%s\" does not exist", name);
        return;
    }
    portal_execute(s, p, max_rows > 0 ? max_rows : 0, false);
}

void query_close(struct session *s, const struct pgmsg *m)
{
    char kind;
    const char *name;
    if (read_target(s, m, "Close", &kind, &name) != 0)
        return;
    if (kind == 'S')
        stmt_drop(s, name);
    else
        portal_drop(s, name);
    pgwire_empty(&s->pc.out, '3');
}

void query_sync(struct session *s)
{
    pgconn_end_extended(&s->pc);
    if (s->tx == TX_IDLE) {
        portal_drop_all(s); /* portals live until the (implicit) transaction ends */
        session_lane_statement_done(s);
    }
    pgwire_ready(&s->pc.out, s->tx);
}
