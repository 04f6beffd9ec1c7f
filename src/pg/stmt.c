/*
 * stmt.c -- statements: splitting a Query's text, recognising what the
 * session answers itself, and preparing the rest with DuckDB.
 *
 * Text is split into statements at top-level semicolons (only to hand each
 * one to pgcatalog_rewrite and to the SET/SHOW/transaction emulation);
 * then DuckDB parses it (duckdb_extract_statements) and prepares it.
 * DuckDB's statement type decides the command tag, whether rows come back,
 * and, with the text read before DuckDB binds it, what the session's role
 * may run (access.h: the same decision as HTTP's). The forms the session answers itself
 * (transaction control, SET/RESET/SHOW of its own settings, version(),
 * COPY with STDIN/STDOUT, and the commands it accepts or refuses without
 * DuckDB) are recognised from their first words, by the tables below.
 * All of this text is read with the one SQL lexer (common/sqllex.h), so
 * that splitting, keywords and SET values agree with DuckDB on where a
 * string, a quoted name or a comment ends.
 */
#define _GNU_SOURCE /* strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "buf.h"
#include "copy.h"
#include "insert_plan.h"
#include "pgcatalog.h"
#include "pgtypes.h"
#include "plancache.h"
#include "session_int.h"
#include "sqllex.h"
#include "sqlshape.h"

/* ------------------------------------------------------------- splitting */

int stmt_split(const char *sql, size_t len, struct piece **out, int *n)
{
    struct sqllex lx;
    struct piece *v = NULL;
    size_t cap = 0, count = 0, start, plen;
    sqllex_init(&lx, sql, len);
    while (sqllex_next_statement(&lx, &start, &plen)) {
        if (dp_grow(&v, &cap, count + 1, sizeof *v) != 0) {
            free(v);
            return -1;
        }
        v[count++] = (struct piece){sql + start, plen};
    }
    *out = v;
    *n = (int)count;
    return 0;
}

/* The first word of len bytes of text, upper-cased into w of n bytes ("" if it starts otherwise). */
static void first_word(const char *sql, size_t len, char *w, size_t n)
{
    struct sqllex lx;
    sqllex_init(&lx, sql, len);
    sqllex_next_word(&lx, w, n);
}

bool stmt_implicit_tx_fits(const struct piece *pieces, int n)
{
    /* transaction control, and commands that cannot run inside a transaction */
    static const char *const own[] = {"BEGIN", "START",     "COMMIT",  "END",    "ROLLBACK",
                                      "ABORT", "SAVEPOINT", "RELEASE", "VACUUM", "CHECKPOINT",
                                      "COPY",  "ATTACH",    "DETACH"};
    for (int i = 0; i < n; i++) {
        char w[16];
        first_word(pieces[i].p, pieces[i].len, w, sizeof w);
        for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
            if (!strcmp(w, own[k]))
                return false;
    }
    return true;
}

/* ------------------------------------------------------------- lifecycle */

void stmt_unref(struct stmt *st)
{
    if (!st || --st->refs > 0)
        return;
    if (st->proto)
        stmt_unref(st->proto); /* the prep is the cache's statement's */
    else if (st->prep)
        duckdb_destroy_prepare(&st->prep);
    free(st->name);
    free(st->sql);
    free(st->param_oids);
    free(st->set_name);
    free(st->set_value);
    copy_spec_free(st->copy);
    insert_plan_unref(st->plan);
    free(st->lits);
    free(st->litbuf);
    free(st);
}

struct stmt *stmt_find(struct session *s, const char *name)
{
    for (struct stmt *st = s->stmts; st; st = st->next)
        if (strcmp(st->name, name) == 0)
            return st;
    return NULL;
}

void stmt_drop(struct session *s, const char *name)
{
    for (struct stmt **pp = &s->stmts; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0) {
            struct stmt *st = *pp;
            *pp = st->next;
            stmt_unref(st);
            return;
        }
}

void stmt_drop_all(struct session *s)
{
    while (s->stmts) {
        struct stmt *st = s->stmts;
        s->stmts = st->next;
        stmt_unref(st);
    }
}

/* ------------------------------------------------------- DuckDB's statements */

void stmt_ddl_tag(const char *sql, char *tag, size_t n)
{
    /* words between the verb and the object's kind */
    static const char *const skip[] = {"OR",         "REPLACE",  "TEMP", "TEMPORARY", "UNIQUE",
                                       "PERSISTENT", "UNLOGGED", "IF",   "NOT",       "EXISTS"};
    struct sqllex lx;
    char verb[32], word[32];
    sqllex_init(&lx, sql, strlen(sql));
    sqllex_next_word(&lx, verb, sizeof verb);
    for (int i = 0; i < 8; i++) {
        if (!sqllex_next_word(&lx, word, sizeof word))
            break;
        bool skipped = false;
        for (size_t k = 0; k < sizeof skip / sizeof skip[0] && !skipped; k++)
            skipped = !strcmp(word, skip[k]);
        if (skipped)
            continue;
        snprintf(tag, n, "%s %s", verb, word);
        return;
    }
    snprintf(tag, n, "%s", verb);
}

/* The command word of a statement type that reports one; NULL for the others. */
static const char *dtype_word(duckdb_statement_type t)
{
    switch (t) {
    case DUCKDB_STATEMENT_TYPE_SELECT: return "SELECT";
    case DUCKDB_STATEMENT_TYPE_INSERT: return "INSERT";
    case DUCKDB_STATEMENT_TYPE_UPDATE: return "UPDATE";
    case DUCKDB_STATEMENT_TYPE_DELETE: return "DELETE";
    case DUCKDB_STATEMENT_TYPE_COPY: return "COPY";
    case DUCKDB_STATEMENT_TYPE_EXPLAIN: return "EXPLAIN";
    case DUCKDB_STATEMENT_TYPE_SET:
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET: return "SET";
    default: return NULL;
    }
}

static bool dtype_is_ddl(duckdb_statement_type t)
{
    return t == DUCKDB_STATEMENT_TYPE_CREATE || t == DUCKDB_STATEMENT_TYPE_CREATE_FUNC ||
           t == DUCKDB_STATEMENT_TYPE_DROP || t == DUCKDB_STATEMENT_TYPE_ALTER;
}

/* Fills in tag, ncols and count_result of a DuckDB statement. */
static void describe_duckdb(struct stmt *st)
{
    idx_t ncols = duckdb_prepared_statement_column_count(st->prep);
    char *name0 = ncols ? (char *)duckdb_prepared_statement_column_name(st->prep, 0)
                        : NULL; /* ours to free */
    char first[8];
    snprintf(first, sizeof first, "%s", name0 ? name0 : "");
    duckdb_free(name0);
    bool count_col = ncols == 1 && (strcmp(first, "Count") == 0 || strcmp(first, "Success") == 0);
    st->ncols = (int)ncols;
    st->cols_unknown = ncols == 1 &&
                       duckdb_prepared_statement_column_type(st->prep, 0) == DUCKDB_TYPE_INVALID;
    if (dtype_is_ddl(st->dtype)) {
        stmt_ddl_tag(st->sql, st->tag, sizeof st->tag);
        st->ncols = 0;
        return;
    }
    const char *word = dtype_word(st->dtype);
    if (!word) { /* the statement's own first word */
        char w[32];
        first_word(st->sql, strlen(st->sql), w, sizeof w);
        snprintf(st->tag, sizeof st->tag, "%s", *w ? w : "OK");
        if (count_col)
            st->ncols = 0;
        return;
    }
    snprintf(st->tag, sizeof st->tag, "%s", word);
    if (count_col && st->dtype != DUCKDB_STATEMENT_TYPE_SELECT &&
        st->dtype != DUCKDB_STATEMENT_TYPE_EXPLAIN) {
        st->count_result = first[0] == 'C';
        st->ncols = 0;
    }
}

/* The parameter types: the Parse message's, else DuckDB's; 0 (described as text) where neither knows. */
static int param_types(struct session *s, struct stmt *st, const uint32_t *oids, int noids)
{
    if (noids > st->nparams)
        st->nparams = noids;
    st->param_oids = calloc((size_t)st->nparams + 1, sizeof *st->param_oids);
    if (!st->param_oids) {
        session_error(s, "53200", "out of memory");
        return -1;
    }
    for (int i = 0; i < st->nparams; i++) {
        uint32_t oid = i < noids ? oids[i] : 0;
        if (oid == 0 && i < st->dparams)
            oid = pgtypes_param_oid(duckdb_param_type(st->prep, (idx_t)i + 1));
        st->param_oids[i] = oid;
    }
    return 0;
}

/* Prepares one DuckDB statement from text into st. 0, or -1 with the error queued. */
static int prepare_duckdb(struct session *s, struct stmt *st, const uint32_t *oids, int noids)
{
    duckdb_extracted_statements ex = NULL;
    idx_t n = duckdb_extract_statements(s->dcon, st->sql, &ex);
    if (n == 0) {
        const char *e = duckdb_extract_statements_error(ex);
        if (e) {
            session_duckdb_error(s, DUCKDB_ERROR_PARSER, e);
            duckdb_destroy_extracted(&ex);
            return -1;
        }
        duckdb_destroy_extracted(&ex);
        st->kind = STMT_EMPTY;
        return 0;
    }
    if (n > 1) {
        duckdb_destroy_extracted(&ex);
        st->kind = STMT_MULTI;
        return 0;
    }
    duckdb_state rc = duckdb_prepare_extracted_statement(s->dcon, ex, 0, &st->prep);
    duckdb_destroy_extracted(&ex);
    if (rc != DuckDBSuccess) {
        /* a write to a live bars view fails to bind: say why, as for the bars' tables */
        if (session_write_allowed(s, st->sql, DUCKDB_STATEMENT_TYPE_UPDATE) == 0)
            session_duckdb_error(s, DUCKDB_ERROR_INVALID, duckdb_prepare_error(st->prep));
        return -1;
    }
    st->kind = STMT_DUCKDB;
    st->dtype = duckdb_prepared_statement_type(st->prep);
    st->dparams = st->nparams = (int)duckdb_nparams(st->prep);
    if (param_types(s, st, oids, noids) != 0)
        return -1;
    describe_duckdb(st);
    return 0;
}

int stmt_prepare_late(struct session *s, struct stmt *st)
{
    /* the parameter types it was made with: the Parse message's where it gave them, else DuckDB's then,
     * which DuckDB gives again for the same text in the same catalog */
    uint32_t *oids = st->param_oids;
    int noids = st->nparams, dparams = st->dparams;
    st->param_oids = NULL;
    int rc = prepare_duckdb(s, st, oids, noids);
    if (rc != 0 && st->prep) {
        duckdb_destroy_prepare(&st->prep);
        st->prep = NULL;
    }
    if (rc == 0 &&
        (st->kind != STMT_DUCKDB || st->dtype != DUCKDB_STATEMENT_TYPE_INSERT || st->dparams != dparams)) {
        session_error(s, "XX000", "the statement could not be analysed again");
        rc = -1;
    }
    if (!st->param_oids) { /* as it was */
        st->param_oids = oids;
        st->nparams = noids;
        st->dparams = dparams;
        oids = NULL;
    }
    free(oids);
    return rc;
}

/* ------------------------------------------- what the session answers itself */

/* Statements known by their first word (and second, when given), first match wins. */
static const struct word_kind {
    const char *w1, *w2; /* w2 NULL: any second word */
    enum stmt_kind kind;
    const char *tag; /* the command tag of a NOOP */
} word_kinds[] = {
    {"BEGIN", NULL, STMT_BEGIN, NULL},
    {"START", "TRANSACTION", STMT_BEGIN, NULL},
    {"COMMIT", "PREPARED", STMT_UNSUPPORTED, NULL},
    {"COMMIT", NULL, STMT_COMMIT, NULL},
    {"END", "PREPARED", STMT_UNSUPPORTED, NULL},
    {"END", NULL, STMT_COMMIT, NULL},
    {"ROLLBACK", "TO", STMT_UNSUPPORTED, NULL},
    {"ROLLBACK", "PREPARED", STMT_UNSUPPORTED, NULL},
    {"ROLLBACK", NULL, STMT_ROLLBACK, NULL},
    {"ABORT", "TO", STMT_UNSUPPORTED, NULL},
    {"ABORT", "PREPARED", STMT_UNSUPPORTED, NULL},
    {"ABORT", NULL, STMT_ROLLBACK, NULL},
    {"SAVEPOINT", NULL, STMT_UNSUPPORTED, NULL},
    {"RELEASE", NULL, STMT_UNSUPPORTED, NULL},
    {"PREPARE", NULL, STMT_UNSUPPORTED, NULL},
    {"DEALLOCATE", NULL, STMT_UNSUPPORTED, NULL},
    {"LISTEN", NULL, STMT_UNSUPPORTED, NULL},
    {"NOTIFY", NULL, STMT_UNSUPPORTED, NULL},
    {"UNLISTEN", NULL, STMT_NOOP, "UNLISTEN"},
    {"DISCARD", NULL, STMT_NOOP, "DISCARD ALL"},
};

static const struct word_kind *word_kind_find(const char *w1, const char *w2)
{
    for (size_t i = 0; i < sizeof word_kinds / sizeof word_kinds[0]; i++)
        if (!strcmp(w1, word_kinds[i].w1) && (!word_kinds[i].w2 || !strcmp(w2, word_kinds[i].w2)))
            return &word_kinds[i];
    return NULL;
}

/*
 * The value of a SET, from lx to the end of its text: a single string,
 * dollar-quoted string or quoted name stands for its value (E'...'
 * escapes resolved); lists, words and numbers stay as written.
 */
static char *set_value_text(struct sqllex lx)
{
    struct sqllex_token tok, one;
    size_t first = lx.len, last = first;
    int n = 0;
    while (sqllex_next(&lx, &tok)) {
        if (n++ == 0)
            first = tok.start, one = tok;
        last = tok.start + tok.len;
    }
    if (n == 1 && (one.kind == SQLLEX_STRING || one.kind == SQLLEX_DOLLAR || one.kind == SQLLEX_QIDENT)) {
        struct dp_buf v = {0};
        if (sqllex_value(lx.text, &one, &v) == 0)
            return dp_buf_take(&v, NULL);
    }
    return strndup(lx.text + first, last - first);
}

/* Whether the next token is the single byte c, punctuation or an operator (consumed if so). */
static bool next_is_char(struct sqllex *lx, char c)
{
    struct sqllex peek = *lx;
    struct sqllex_token tok;
    if (!sqllex_next(&peek, &tok) || (tok.kind != SQLLEX_PUNCT && tok.kind != SQLLEX_OP) || tok.len != 1 ||
        lx->text[tok.start] != c)
        return false;
    *lx = peek;
    return true;
}

/* Reads a setting name (words or quoted names joined by dots: duckpond.batch) into buf; false if there is none. */
static bool read_setting_name(struct sqllex *lx, char *buf, size_t n)
{
    struct dp_buf name = {0};
    struct sqllex_token tok;
    bool ok = false;
    for (;;) {
        struct sqllex peek = *lx;
        if (!sqllex_next(&peek, &tok) || (tok.kind != SQLLEX_IDENT && tok.kind != SQLLEX_QIDENT) ||
            sqllex_value(lx->text, &tok, &name) != 0)
            break;
        *lx = peek;
        ok = true;
        if (!next_is_char(lx, '.'))
            break;
        dp_buf_byte(&name, '.');
    }
    ok = ok && !name.failed && name.len > 0 && name.len < n;
    snprintf(buf, n, "%s", ok ? name.data : "");
    dp_buf_free(&name);
    return ok;
}

/* SET forms that change nothing here (transaction characteristics, SESSION AUTHORIZATION). */
static bool set_is_noop(const char *verb, struct sqllex lx)
{
    char w2[32], w3[32];
    if (strcmp(verb, "SET") != 0)
        return false;
    sqllex_next_word(&lx, w2, sizeof w2);
    sqllex_next_word(&lx, w3, sizeof w3);
    if (!strcmp(w2, "TRANSACTION"))
        return true;
    return (!strcmp(w2, "SESSION") || !strcmp(w2, "LOCAL")) &&
           (!strcmp(w3, "CHARACTERISTICS") || !strcmp(w3, "AUTHORIZATION") || !strcmp(w3, "TRANSACTION"));
}

/*
 * The setting a SET, RESET or SHOW names, from lx (after the verb and any
 * SESSION/LOCAL): its name into buf, lx left where its value starts. The
 * names PostgreSQL writes in words (TIME ZONE, TRANSACTION ISOLATION
 * LEVEL) are mapped to the setting's. Returns 1 for a name, 0 for ALL
 * (RESET ALL, SHOW ALL), -1 when there is no name to read.
 */
static int setting_target(const char *verb, struct sqllex *lx, char *buf, size_t n)
{
    static const struct {
        const char *word, *name;
        int skip; /* words after the first that belong to the name; -1: the rest */
    } worded[] = {{"TIME", "TimeZone", 1}, {"TRANSACTION", "transaction_isolation", -1}};
    char up[32];
    struct sqllex after = *lx;
    sqllex_next_word(&after, up, sizeof up);
    for (size_t i = 0; i < sizeof worded / sizeof worded[0]; i++) {
        if (strcmp(up, worded[i].word) != 0)
            continue;
        snprintf(buf, n, "%s", worded[i].name);
        char w[32];
        for (int k = 0; k < worded[i].skip; k++)
            sqllex_next_word(&after, w, sizeof w);
        if (worded[i].skip < 0)
            after.pos = after.len;
        *lx = after;
        return 1;
    }
    if (!strcmp(up, "ALL") && strcmp(verb, "SET") != 0) {
        *lx = after;
        return 0;
    }
    return read_setting_name(lx, buf, n) ? 1 : -1;
}

/* The value of SET name [=|TO] value, from lx; NULL for DEFAULT (or when memory runs out). */
static char *set_value(struct sqllex lx)
{
    char to[8], dflt[16];
    struct sqllex peek = lx;
    if (!next_is_char(&lx, '=') && sqllex_next_word(&peek, to, sizeof to) && !strcmp(to, "TO"))
        lx = peek;
    peek = lx;
    if (sqllex_next_word(&peek, dflt, sizeof dflt) && !strcmp(dflt, "DEFAULT"))
        return NULL;
    return set_value_text(lx);
}

/*
 * SET, RESET or SHOW of one of the session's own settings. Returns false
 * for other settings (DuckDB's) and DuckDB's own SHOW forms; true when st
 * was filled in, or with *failed set and an error queued.
 */
static bool classify_setting(struct session *s, struct stmt *st, const char *verb, struct sqllex lx,
                             bool *failed)
{
    if (set_is_noop(verb, lx)) {
        st->kind = STMT_NOOP;
        snprintf(st->tag, sizeof st->tag, "SET");
        return true;
    }
    char w[32];
    struct sqllex q = lx;
    if (!sqllex_next_word(&q, w, sizeof w) || strcmp(verb, "SET") != 0 ||
        (strcmp(w, "SESSION") != 0 && strcmp(w, "LOCAL") != 0))
        q = lx;
    char name[128];
    int named = setting_target(verb, &q, name, sizeof name);
    if (named < 0)
        return false;
    if (!named) { /* SHOW ALL, RESET ALL */
        st->kind = !strcmp(verb, "SHOW") ? STMT_SHOW_ALL : STMT_RESET;
        st->ncols = st->kind == STMT_SHOW_ALL ? 3 : 0;
        return true;
    }
    const struct pg_setting *d = settings_find(name);
    if (!d)
        return false;
    if (!(st->set_name = strdup(d->name))) {
        session_error(s, "53200", "out of memory");
        *failed = true;
        return true;
    }
    if (!strcmp(verb, "SET")) {
        st->set_value = set_value(q);
        st->kind = st->set_value ? STMT_SET : STMT_RESET;
    } else {
        st->kind = !strcmp(verb, "SHOW") ? STMT_SHOW : STMT_RESET;
    }
    st->ncols = st->kind == STMT_SHOW ? 1 : 0;
    return true;
}

/* SELECT version() / pg_catalog.version(), answered as PostgreSQL would be: the whole text is those tokens. */
static bool classify_version(struct stmt *st)
{
    static const char *const forms[][6] = {{"SELECT", "version", "(", ")", NULL},
                                           {"SELECT", "pg_catalog", ".", "version", "(", ")"}};
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        struct sqllex lx;
        struct sqllex_token tok;
        size_t i = 0;
        sqllex_init(&lx, st->sql, strlen(st->sql));
        while (sqllex_next(&lx, &tok) && i < 6 && forms[f][i]) {
            const char *want = forms[f][i];
            bool punct = !want[1] && strchr("().", *want);
            if (punct ? tok.kind != SQLLEX_PUNCT || st->sql[tok.start] != *want
                      : !sqllex_is_word(st->sql, &tok, want))
                break;
            i++;
        }
        if ((i == 6 || !forms[f][i]) && !sqllex_next(&lx, &tok)) {
            st->kind = STMT_VERSION;
            st->ncols = 1;
            return true;
        }
    }
    return false;
}

/* COPY ... FROM STDIN / TO STDOUT; other COPY forms are DuckDB's. */
static bool classify_copy(struct session *s, struct stmt *st, bool *failed)
{
    char err[256];
    int rc = copy_parse(st->sql, &st->copy, err, sizeof err);
    if (rc < 0) {
        session_error(s, "42601", "%s", err);
        *failed = true;
        return true;
    }
    if (rc == 0)
        return false;
    st->kind = STMT_COPY;
    return true;
}

/*
 * Recognises what the session answers itself. Returns true when st was
 * filled in (or an error queued: then *failed is set).
 */
static bool classify_session(struct session *s, struct stmt *st, bool *failed)
{
    struct sqllex lx, after;
    char w1[32], w2[32];
    sqllex_init(&lx, st->sql, strlen(st->sql));
    sqllex_next_word(&lx, w1, sizeof w1);
    after = lx;
    sqllex_next_word(&after, w2, sizeof w2);
    *failed = false;
    const struct word_kind *k = word_kind_find(w1, w2);
    if (k) {
        st->kind = k->kind;
        if (k->tag)
            snprintf(st->tag, sizeof st->tag, "%s", k->tag);
        return true;
    }
    if (!strcmp(w1, "SET") || !strcmp(w1, "RESET") || !strcmp(w1, "SHOW"))
        return classify_setting(s, st, w1, lx, failed);
    if (!strcmp(w1, "SELECT"))
        return classify_version(st);
    if (!strcmp(w1, "COPY"))
        return classify_copy(s, st, failed);
    return false;
}

/* ---------------------------------------------------------------- making */

/*
 * An INSERT DuckDB has just prepared as written is analysed now, as its
 * first Execute would, where the plan cache can keep what is found: by
 * its text and parameter types (a Parse with parameters), else by its
 * shape. not_plain: the cache knows the text to be no plain INSERT in
 * this generation gen (read before DuckDB prepared it).
 */
static void analyse_insert(struct session *s, struct stmt *st, struct sql_shape *shape, bool not_plain,
                           const uint32_t *oids, int noids, uint64_t gen)
{
    if (not_plain) {
        st->plan_checked = true;
        st->plan_gen = gen;
    } else if (oids && (st->dparams > 0 || noids > 0)) {
        plancache_analyse_text(s, st, oids, noids, gen);
    } else if (shape->key && plancache_usable(s)) {
        insert_plan_check(s, st);
        plancache_remember(s, st, shape, gen);
    }
}

/*
 * The DuckDB side of stmt_make: an analysed text or a cached INSERT shape
 * (plancache.h), a NOOP or rewrite of pgcatalog, or DuckDB's prepare (a
 * plain INSERT is then analysed and remembered, by its text or its
 * shape). 0, or -1 with an error queued.
 */
static int make_duckdb(struct session *s, struct stmt *st, const char *word, const uint32_t *oids, int noids)
{
    bool insert = !strcmp(word, "INSERT");
    uint64_t gen = plancache_gen(s);
    int known = insert && oids ? plancache_make_text(s, st, oids, noids, gen) : 0;
    if (known == 1)
        return 0;
    char *rewritten = NULL;
    const char *tag = NULL;
    enum pgcatalog_action act = pgcatalog_rewrite(st->sql, strlen(st->sql), &rewritten, &tag);
    struct sql_shape shape = {0};
    int rc = 0;
    if (act == PGCATALOG_PASS && noids == 0 && !*st->name && insert &&
        plancache_make_stmt(s, st, &shape, gen) == 1)
        goto done;
    if (act == PGCATALOG_NOOP) {
        free(rewritten);
        st->kind = STMT_NOOP;
        snprintf(st->tag, sizeof st->tag, "%s", tag ? tag : "OK");
        goto done;
    }
    if (act == PGCATALOG_REWRITE && rewritten) {
        free(st->sql);
        st->sql = rewritten;
    }
    if (prepare_duckdb(s, st, oids, noids) != 0) {
        rc = -1;
        goto done;
    }
    if (act == PGCATALOG_REWRITE && tag)
        snprintf(st->tag, sizeof st->tag, "%s", tag);
    if (act == PGCATALOG_PASS && insert && st->kind == STMT_DUCKDB)
        analyse_insert(s, st, &shape, known == 2, oids, noids, gen);
done:
    sqlshape_free(&shape);
    return rc;
}

/*
 * The session's role may have DuckDB read this text (access_check_text),
 * or, for the COPY to or from the client the session runs itself, the
 * functions it calls (access_check_calls) -- and a COPY FROM STDIN is
 * checked as the INSERT it is (a read-only user's is refused when it
 * runs, as COPY FROM). 0, or -1 with the refusal queued.
 */
static int gate_text(struct session *s, const struct stmt *st, bool own_copy)
{
    struct access_refusal why;
    size_t len = strlen(st->sql);
    int rc = own_copy ? access_check_calls(s->role, st->sql, len, &why)
                      : access_check_text(s->role, st->sql, len, &why);
    if (rc == 0 && own_copy && s->role != ACCESS_RO && copy_is_from(st->copy))
        rc = access_check_type(s->role, DUCKDB_STATEMENT_TYPE_INSERT, st->sql, len, s->dcon, &why);
    if (rc != 0)
        session_error(s, why.sqlstate, "%s", why.message);
    return rc;
}

struct stmt *stmt_make(struct session *s, const char *name, const char *sql, size_t len, const uint32_t *oids,
                       int noids)
{
    struct stmt *st = calloc(1, sizeof *st);
    if (!st || !(st->name = strdup(name)) || !(st->sql = strndup(sql, len))) {
        if (st)
            free(st->name);
        free(st);
        session_error(s, "53200", "out of memory");
        return NULL;
    }
    st->refs = 1;
    if (sqllex_skip_space(st->sql, len, 0, NULL) == len) {
        st->kind = STMT_EMPTY;
        return st;
    }
    bool failed;
    if (classify_session(s, st, &failed)) {
        if (!failed && (st->kind != STMT_COPY || gate_text(s, st, true) == 0))
            return st;
        stmt_unref(st);
        return NULL;
    }
    /* DuckDB plans with the statistics of the moment it prepares (a filter
     * outside a column's known range becomes an empty result), so the
     * session's journaled rows must be applied before it prepares, not
     * only before it runs. Plain INSERTs, which may go to the batcher, do
     * not wait here. */
    char word[16];
    first_word(st->sql, len, word, sizeof word);
    if (gate_text(s, st, false) != 0 ||
        (strcasestr(st->sql, "current_setting") && settings_sync_duckdb(s) != 0) ||
        (strcmp(word, "INSERT") != 0 && session_wait_own_writes(s) != 0) ||
        make_duckdb(s, st, word, oids, noids) != 0) {
        stmt_unref(st);
        return NULL;
    }
    return st;
}
