/*
 * syncapply.c -- changes from the replication stream applied to DuckDB in
 * bulk, exactly once.
 *
 * Each change is staged: appended (Appender) to a temporary table beside
 * its target, with its order (_dp_seq), what it does (_dp_op: 1 the row
 * as it is now, 0 a row gone) and which columns PostgreSQL left out as
 * unchanged TOASTed values (_dp_umask). A round then applies a table's
 * stage set-based:
 *
 *  - a table with a key: the stage keeps the last change of each key
 *    (by _dp_seq; only when the round staged a key twice), rows whose key
 *    the target has are updated in place (unchanged values kept), keys
 *    gone are deleted, new keys inserted. Any order of inserts, updates
 *    (key changes too: the old key is staged gone) and deletes of a key
 *    comes out as PostgreSQL left it. A row with unchanged values whose
 *    key the round already staged would need the staged value: the round
 *    is applied first. A round of up to KEYLITS_MAX keys of one integer
 *    or text column also names them as literals (g.k IN (...)), so that
 *    DuckDB reads those rows through the primary key's index instead of
 *    joining the stage with the whole target: a commit under a steady
 *    load then costs what it changes, not the table's size.
 *  - a table without a key (REPLICA IDENTITY FULL): rows gone are matched
 *    on every column, one target row per staged one (numbered within
 *    equal rows), then the new rows are inserted. A delete of a row the
 *    round inserted applies the round first.
 *
 * Rounds run inside the DuckDB transaction that spans many PostgreSQL
 * transactions; syncapply_commit applies every table's round, writes the
 * last commit's LSN into duckpond_sync_state and commits: the changes and
 * the position are one DuckDB transaction, so a crash anywhere resumes
 * from a position that matches the data.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync_int.h"

/* ------------------------------------------------------------- hash set */

void hashset_free(struct hashset *h)
{
    free(h->slots);
    memset(h, 0, sizeof *h);
}

void hashset_clear(struct hashset *h)
{
    if (h->used)
        memset(h->slots, 0, h->cap * sizeof *h->slots);
    h->used = 0;
}

/* The first slot of v: its bits mixed, so that hashes differing only in high bits spread. */
static size_t hashset_slot(uint64_t v, size_t cap)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    v ^= v >> 33;
    return (size_t)v & (cap - 1);
}

static bool hashset_put(uint64_t *slots, size_t cap, uint64_t v)
{
    for (size_t i = hashset_slot(v, cap);; i = (i + 1) & (cap - 1)) {
        if (slots[i] == v)
            return false;
        if (!slots[i]) {
            slots[i] = v;
            return true;
        }
    }
}

bool hashset_add(struct hashset *h, uint64_t v)
{
    v = v ? v : 1;
    if ((h->used + 1) * 2 > h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        uint64_t *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return false;
        for (size_t i = 0; i < h->cap; i++)
            if (h->slots[i])
                hashset_put(slots, cap, h->slots[i]);
        free(h->slots);
        h->slots = slots;
        h->cap = cap;
    }
    h->used += hashset_put(h->slots, h->cap, v);
    return true;
}

bool hashset_has(const struct hashset *h, uint64_t v)
{
    v = v ? v : 1;
    if (!h->cap)
        return false;
    for (size_t i = hashset_slot(v, h->cap);; i = (i + 1) & (h->cap - 1)) {
        if (h->slots[i] == v)
            return true;
        if (!h->slots[i])
            return false;
    }
}

/* FNV-1a over the values of the given columns (all when cols is NULL). */
static uint64_t tuple_hash(const struct pgo_tuple *tp, const int *cols, int ncols)
{
    uint64_t h = 1469598103934665603ULL;
    int n = cols ? ncols : tp->ncols;
    for (int k = 0; k < n; k++) {
        int i = cols ? cols[k] : k;
        const struct pgo_value *v = i < tp->ncols ? &tp->vals[i] : NULL;
        h = (h ^ (uint8_t)(v ? v->kind : 'n')) * 1099511628211ULL;
        for (uint32_t j = 0; v && j < v->len; j++)
            h = (h ^ (uint8_t)v->data[j]) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

/* -------------------------------------------------------------- stages */

/* Empties the round's list of keys. */
static void keylits_reset(struct sync_table *t)
{
    dp_buf_clear(&t->keylits, 1 << 16);
    t->nkeylits = 0;
    t->keylits_off = false;
}

void syncapply_stage_drop(struct sync *s, struct sync_table *t)
{
    if (t->app)
        duckdb_appender_destroy(&t->app);
    t->app = NULL;
    if (t->stage && s->in_tx) {
        char *sql = dp_asprintf("DROP TABLE IF EXISTS %s", t->stage);
        if (sql)
            sync_exec(s, sql);
        free(sql);
    }
    free(t->stage);
    free(t->stage_name);
    t->stage = t->stage_name = NULL;
    t->staged = 0;
    t->umask_any = 0;
    t->staged_deletes = false;
    t->dup_keys = false;
    keylits_reset(t);
    hashset_clear(&t->round);
}

/* Makes t's stage (a temporary table) and its Appender. 0 or -1. */
static int stage_make(struct sync *s, struct sync_table *t)
{
    if (t->app)
        return 0;
    t->stage_name = dp_asprintf("_dp_stage_%u", t->relid);
    t->stage = dp_asprintf("temp.main.\"_dp_stage_%u\"", t->relid);
    struct dp_buf *b = &s->sql;
    dp_buf_clear(b, 4096);
    dp_buf_printf(b, "CREATE OR REPLACE TEMP TABLE \"_dp_stage_%u\" (", t->relid);
    for (int i = 0; i < t->ncols; i++) {
        dp_sql_ident(b, t->cols[i].name);
        dp_buf_printf(b, " %s, ", t->cols[i].type.duck);
    }
    dp_buf_str(b, "_dp_seq BIGINT, _dp_op UTINYINT, _dp_umask UBIGINT)");
    if (!t->stage || !t->stage_name || b->failed || sync_exec(s, b->data) != 0)
        return -1;
    if (duckdb_appender_create_ext(s->dcon, "temp", "main", t->stage_name, &t->app) != DuckDBSuccess) {
        sync_error(s, "cannot append to the stage of %s: %s", t->name,
                   t->app ? duckdb_appender_error(t->app) : "?");
        return -1;
    }
    return 0;
}

/*
 * A value of a type whose text is read here (synctype_native): appended
 * as a C value, with *st DuckDB's answer. 0 when appended, 1 when the
 * type is not one of those (or the text is one strtod would misread),
 * -1 when the text is not a value of the type.
 */
static int native_value(duckdb_appender a, const struct synctype *t, const char *data, size_t len,
                        duckdb_state *st)
{
    char buf[64], *end;
    if (t->native == SYNCTYPE_TEXT) {
        *st = duckdb_append_varchar_length(a, data, len);
        return 0;
    }
    if (t->native == SYNCTYPE_CAST || len >= sizeof buf)
        return 1;
    memcpy(buf, data, len);
    buf[len] = 0;
    errno = 0;
    switch (t->native) {
    case SYNCTYPE_INT: {
        long long v = strtoll(buf, &end, 10);
        if (*end || end == buf || errno)
            return -1;
        *st = duckdb_append_int64(a, v);
        return 0;
    }
    case SYNCTYPE_FLOAT: {
        double v = strtod(buf, &end);
        if (*end || end == buf)
            return -1;
        *st = duckdb_append_double(a, v);
        return 0;
    }
    case SYNCTYPE_BOOL:
        if (len != 1 || (buf[0] != 't' && buf[0] != 'f'))
            return -1;
        *st = duckdb_append_bool(a, buf[0] == 't');
        return 0;
    default: return 1;
    }
}

int syncapply_value(struct sync *s, duckdb_appender a, const struct sync_col *c, const char *data, size_t len,
                    char *why, size_t n)
{
    if (!data)
        return duckdb_append_null(a) == DuckDBSuccess ? 0 : -1;
    duckdb_state st;
    int fast = native_value(a, &c->type, data, len, &st);
    if (fast == 0) {
        /* appended as a C value */
    } else if (fast < 0) {
        snprintf(why, n, "%s value %.*s does not convert", c->type.duck, (int)(len > 64 ? 64 : len), data);
        return -1;
    } else if (c->type.conv == SYNCTYPE_INTERVAL && !c->type.array) {
        /* the Appender has no cast from text to INTERVAL */
        duckdb_interval iv;
        if (synctype_interval(data, len, &iv.months, &iv.days, &iv.micros) != 0) {
            snprintf(why, n, "interval value is not in IntervalStyle postgres");
            return -1;
        }
        st = duckdb_append_interval(a, iv);
    } else {
        int rc = synctype_text(&c->type, data, len, &s->conv, why, n);
        if (rc < 0)
            return -1;
        st = rc == 0 ? duckdb_append_varchar_length(a, s->conv.data, s->conv.len)
                     : duckdb_append_varchar_length(a, data, len);
    }
    if (st != DuckDBSuccess) {
        snprintf(why, n, "%s", duckdb_appender_error(a));
        return -1;
    }
    return 0;
}

/* The key's values of a tuple as text, "k=1, j=x", for messages. malloc'd. */
static char *key_text(const struct sync_table *t, const struct pgo_tuple *tp)
{
    struct dp_buf b = DP_BUF_INIT;
    int n = t->nkey ? t->nkey : (t->ncols < 4 ? t->ncols : 4);
    for (int k = 0; k < n; k++) {
        int i = t->nkey ? t->key[k] : k;
        const struct pgo_value *v = i < tp->ncols ? &tp->vals[i] : NULL;
        dp_buf_printf(&b, "%s%s=", k ? ", " : "", t->cols[i].name);
        if (v && v->kind == 't')
            dp_buf_add(&b, v->data, v->len > 64 ? 64 : v->len);
        else
            dp_buf_str(&b, "NULL");
    }
    return dp_buf_take(&b, NULL);
}

/*
 * Stages one row: the tuple's values (from 'from' where the tuple says
 * unchanged and from has them), op and umask. 0; 1 when a value does not
 * convert (the table is stopped, the row named); -1 on a DuckDB failure.
 */
static int stage_row(struct sync *s, struct sync_table *t, const struct pgo_tuple *tp,
                     const struct pgo_tuple *from, int op)
{
    char why[512] = "";
    uint64_t umask = 0;
    duckdb_appender a = t->app;
    for (int i = 0; i < t->ncols && !*why; i++) {
        const struct pgo_value *v = i < tp->ncols ? &tp->vals[i] : NULL;
        if (v && v->kind == 'u' && from && i < from->ncols && from->vals[i].kind != 'u')
            v = &from->vals[i];
        if (v && v->kind == 'u')
            umask |= i < 64 ? 1ULL << i : 0;
        bool null = !v || v->kind != 't';
        if (syncapply_value(s, a, &t->cols[i], null ? NULL : v->data, null ? 0 : v->len, why, sizeof why) !=
            0) {
            char *key = key_text(t, tp);
            syncddl_stop(s, t, "row (%s) of %s.%s, column %s: %s", key ? key : "?", t->pg_schema, t->pg_name,
                         t->cols[i].name, *why ? why : "cannot be stored");
            free(key);
            return 1;
        }
    }
    if (duckdb_append_int64(a, (int64_t)++s->seq) != DuckDBSuccess || duckdb_append_uint8(a, (uint8_t)op) ||
        duckdb_append_uint64(a, umask) || duckdb_appender_end_row(a) != DuckDBSuccess) {
        sync_error(s, "staging a row of %s: %s", t->name, duckdb_appender_error(a));
        return -1;
    }
    t->staged++;
    t->umask_any |= umask;
    s->tx_changes++;
    return 0;
}

/* -------------------------------------------------------------- rounds */

/* "stage.k1 = tgt.k1 AND ..." over the key (alias names given). */
static void key_match(struct dp_buf *b, const struct sync_table *t, const char *l, const char *r)
{
    for (int k = 0; k < t->nkey; k++) {
        const char *name = t->cols[t->key[k]].name;
        dp_buf_printf(b, "%s%s.", k ? " AND " : "", l);
        dp_sql_ident(b, name);
        dp_buf_printf(b, " = %s.", r);
        dp_sql_ident(b, name);
    }
}

/* The column list, optionally prefixed with an alias. */
static void col_list(struct dp_buf *b, const struct sync_table *t, const char *alias)
{
    for (int i = 0; i < t->ncols; i++) {
        dp_buf_str(b, i ? ", " : "");
        if (alias)
            dp_buf_printf(b, "%s.", alias);
        dp_sql_ident(b, t->cols[i].name);
    }
}

/* Runs the SQL in b on the sync's connection; rows changed into *n (when not NULL). 0 or -1. */
static int run(struct sync *s, struct dp_buf *b, int64_t *n)
{
    if (b->failed) {
        sync_error(s, "out of memory");
        return -1;
    }
    duckdb_result res;
    if (sync_query(s, b->data, &res) != 0)
        return -1;
    if (n)
        *n = (int64_t)duckdb_rows_changed(&res);
    duckdb_destroy_result(&res);
    return 0;
}

/* INSERT [OR IGNORE] INTO the target the stage's rows of op 1, in their order; rows inserted into *n. */
static int insert_from_stage(struct sync *s, struct sync_table *t, bool or_ignore, int64_t *n)
{
    struct dp_buf *b = &s->sql;
    dp_buf_clear(b, 4096);
    dp_buf_printf(b, "INSERT %sINTO %s (", or_ignore ? "OR IGNORE " : "", t->target);
    col_list(b, t, NULL);
    dp_buf_str(b, ") SELECT ");
    col_list(b, t, NULL);
    dp_buf_printf(b, " FROM %s WHERE _dp_op = 1 ORDER BY _dp_seq", t->stage);
    return run(s, b, n);
}

/* Whether column i is part of t's key. */
static bool is_key(const struct sync_table *t, int i)
{
    for (int k = 0; k < t->nkey; k++)
        if (t->key[k] == i)
            return true;
    return false;
}

/* The key's column list. */
static void key_list(struct dp_buf *b, const struct sync_table *t)
{
    for (int k = 0; k < t->nkey; k++) {
        dp_buf_str(b, k ? ", " : "");
        dp_sql_ident(b, t->cols[t->key[k]].name);
    }
}

/* Whether the round's keys are listed as literals (keylits). */
static bool keys_listed(const struct sync_table *t)
{
    return t->nkeylits && !t->keylits_off && !t->keylits.failed;
}

/*
 * " AND g.k IN (1, 2, 3)" when the round kept its keys as literals: a
 * filter DuckDB answers from the primary key's index (an index scan of
 * those keys), where the join alone reads the whole target.
 */
static void key_filter(struct dp_buf *b, const struct sync_table *t)
{
    if (!keys_listed(t))
        return;
    dp_buf_str(b, " AND g.");
    dp_sql_ident(b, t->cols[t->key[0]].name);
    dp_buf_printf(b, " IN (%s)", t->keylits.data);
}

/*
 * A keyed table's round. The stage keeps the last change of each key;
 * rows whose key the target has are updated in place (only the columns
 * that are not the key: no index changes, the cheap path for the usual
 * UPDATE), keys gone are deleted, and the rest inserted (the stage's rows
 * whose key the target has not). A value PostgreSQL left out as an
 * unchanged TOASTed one keeps the target's. With the keys as literals
 * every statement reads only those keys' target rows (key_filter).
 */
static int round_keyed(struct sync *s, struct sync_table *t, int64_t *deleted, int64_t *inserted)
{
    struct dp_buf *b = &s->sql;
    dp_buf_clear(b, 4096);
    dp_buf_printf(b, "DELETE FROM %s WHERE rowid NOT IN (SELECT arg_max(rowid, _dp_seq) FROM %s GROUP BY ",
                  t->stage, t->stage);
    key_list(b, t);
    dp_buf_byte(b, ')');
    int64_t dups = 0, updated = 0;
    if (t->dup_keys && run(s, b, &dups) != 0)
        return -1;
    bool set_any = false;
    dp_buf_clear(b, 4096);
    dp_buf_printf(b, "UPDATE %s AS g SET ", t->target);
    for (int i = 0; i < t->ncols; i++) {
        if (is_key(t, i))
            continue;
        dp_buf_str(b, set_any ? ", " : "");
        set_any = true;
        dp_sql_ident(b, t->cols[i].name);
        if (i < 64 && (t->umask_any >> i & 1)) {
            dp_buf_printf(b, " = CASE WHEN (s._dp_umask >> %d) & 1 = 1 THEN g.", i);
            dp_sql_ident(b, t->cols[i].name);
            dp_buf_str(b, " ELSE s.");
            dp_sql_ident(b, t->cols[i].name);
            dp_buf_str(b, " END");
        } else {
            dp_buf_str(b, " = s.");
            dp_sql_ident(b, t->cols[i].name);
        }
    }
    dp_buf_printf(b, " FROM %s AS s WHERE s._dp_op = 1 AND ", t->stage);
    key_match(b, t, "g", "s");
    key_filter(b, t);
    if (set_any && run(s, b, &updated) != 0)
        return -1;
    /* only rows staged, every one an update of a key the target has: nothing to insert */
    if (set_any && !t->staged_deletes && updated == (int64_t)t->staged - dups)
        return 0;
    if (t->staged_deletes) {
        dp_buf_clear(b, 4096);
        dp_buf_printf(b, "DELETE FROM %s AS g USING %s AS s WHERE s._dp_op = 0 AND ", t->target, t->stage);
        key_match(b, t, "g", "s");
        key_filter(b, t);
        if (run(s, b, deleted) != 0)
            return -1;
    }
    if (!keys_listed(t)) /* INSERT OR IGNORE: counts the rows it inserted */
        return insert_from_stage(s, t, true, inserted);
    dp_buf_clear(b, 4096);
    dp_buf_printf(b, "INSERT INTO %s (", t->target);
    col_list(b, t, NULL);
    dp_buf_str(b, ") SELECT ");
    col_list(b, t, "s");
    dp_buf_printf(b, " FROM %s AS s WHERE s._dp_op = 1 AND NOT EXISTS (SELECT 1 FROM %s AS g WHERE ",
                  t->stage, t->target);
    key_match(b, t, "g", "s");
    key_filter(b, t);
    dp_buf_str(b, ") ORDER BY s._dp_seq");
    return run(s, b, inserted);
}

/* A keyless table's round: each staged gone row deletes one equal target row; then the inserts. */
static int round_keyless(struct sync *s, struct sync_table *t, int64_t *deleted, int64_t *inserted)
{
    struct dp_buf *b = &s->sql;
    if (t->staged_deletes) {
        dp_buf_clear(b, 4096);
        dp_buf_printf(b,
                      "DELETE FROM %s WHERE rowid IN (SELECT g._dp_rid FROM (SELECT rowid AS _dp_rid, *, "
                      "row_number() OVER (PARTITION BY ",
                      t->target);
        col_list(b, t, NULL);
        dp_buf_printf(b,
                      " ORDER BY rowid) AS _dp_rn FROM %s) AS g JOIN (SELECT *, row_number() OVER "
                      "(PARTITION BY ",
                      t->target);
        col_list(b, t, NULL);
        dp_buf_printf(b, ") AS _dp_rn FROM %s WHERE _dp_op = 0) AS s ON g._dp_rn = s._dp_rn", t->stage);
        for (int i = 0; i < t->ncols; i++) {
            dp_buf_str(b, " AND g.");
            dp_sql_ident(b, t->cols[i].name);
            dp_buf_str(b, " IS NOT DISTINCT FROM s.");
            dp_sql_ident(b, t->cols[i].name);
        }
        dp_buf_byte(b, ')');
        if (run(s, b, deleted) != 0)
            return -1;
    }
    return insert_from_stage(s, t, false, inserted);
}

int syncapply_round(struct sync *s, struct sync_table *t)
{
    if (!t->app || !t->staged)
        return 0;
    if (duckdb_appender_flush(t->app) != DuckDBSuccess) {
        sync_error(s, "staging the rows of %s: %s", t->name, duckdb_appender_error(t->app));
        return -1;
    }
    int64_t deleted = 0, inserted = 0;
    int rc = t->nkey ? round_keyed(s, t, &deleted, &inserted) : round_keyless(s, t, &deleted, &inserted);
    if (rc == 0) {
        dp_buf_clear(&s->sql, 4096);
        dp_buf_printf(&s->sql, "DELETE FROM %s", t->stage);
        rc = run(s, &s->sql, NULL);
    }
    if (rc != 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    t->rows += inserted - deleted;
    s->changes_applied += t->staged;
    pthread_mutex_unlock(&s->mu);
    t->staged = 0;
    t->umask_any = 0;
    t->staged_deletes = false;
    t->dup_keys = false;
    keylits_reset(t);
    hashset_clear(&t->round);
    return 0;
}

/* ------------------------------------------------------------- changes */

/* Whether row leaves a value out as unchanged TOAST that old does not give. */
static bool leaves_unchanged(const struct pgo_tuple *row, const struct pgo_tuple *old)
{
    for (int i = 0; i < row->ncols; i++)
        if (row->vals[i].kind == 'u' && !(old && i < old->ncols && old->vals[i].kind == 't'))
            return true;
    return false;
}

/*
 * Adds the key of tp (a new one of the round) to t->keylits, or turns the
 * list off: a key of more than one column or of another type, a value
 * not written as it is, or more keys than DuckDB looks up through an
 * index (KEYLITS_MAX).
 */
static void keylits_add(struct sync_table *t, const struct pgo_tuple *tp)
{
    if (t->keylits_off)
        return;
    const struct sync_col *c = &t->cols[t->key[0]];
    const struct pgo_value *v = t->key[0] < tp->ncols ? &tp->vals[t->key[0]] : NULL;
    bool ok = t->nkey == 1 && !c->type.array && v && v->kind == 't' && t->nkeylits < KEYLITS_MAX;
    if (ok && c->type.native == SYNCTYPE_INT) {
        ok = v->len > 0 && v->len <= 20;
        for (uint32_t j = 0; ok && j < v->len; j++)
            ok = (v->data[j] >= '0' && v->data[j] <= '9') || (j == 0 && v->data[j] == '-' && v->len > 1);
    } else {
        ok = ok && c->type.native == SYNCTYPE_TEXT;
    }
    if (!ok) {
        t->keylits_off = true;
        return;
    }
    dp_buf_str(&t->keylits, t->nkeylits++ ? ", " : "");
    if (c->type.native == SYNCTYPE_INT)
        dp_buf_add(&t->keylits, v->data, v->len);
    else
        dp_sql_literal(&t->keylits, v->data, v->len);
}

/*
 * Notes that a keyed table's round stages the key of tp (hash h): dup_keys
 * when it did already (the round must then keep the last change of each
 * key), else the key is listed. false when memory ran out (the caller
 * applies the round).
 */
static bool key_seen(struct sync_table *t, const struct pgo_tuple *tp, uint64_t h)
{
    if (hashset_has(&t->round, h)) {
        t->dup_keys = true;
        return true;
    }
    if (!hashset_add(&t->round, h))
        return false;
    keylits_add(t, tp);
    return true;
}

/*
 * key_seen for a change about to be staged; when memory ran out the round
 * is applied first, and if the key still cannot be noted the round keeps
 * the last change of each key whatever comes. 0 or -1.
 */
static int note_key(struct sync *s, struct sync_table *t, const struct pgo_tuple *tp, uint64_t h)
{
    if (key_seen(t, tp, h))
        return 0;
    if (syncapply_round(s, t) != 0)
        return -1;
    if (!key_seen(t, tp, h)) {
        t->dup_keys = true;
        t->keylits_off = true;
    }
    return 0;
}

/* A row gone: its key (keyed) or the whole row (keyless) staged with op 0. */
static int stage_gone(struct sync *s, struct sync_table *t, const struct pgo_tuple *old)
{
    if (!t->nkey && hashset_has(&t->round, tuple_hash(old, NULL, 0)) && syncapply_round(s, t) != 0)
        return -1;
    if (t->nkey && note_key(s, t, old, tuple_hash(old, t->key, t->nkey)) != 0)
        return -1;
    t->staged_deletes = true;
    return stage_row(s, t, old, NULL, 0);
}

/* A row as it is now, staged with op 1; its unchanged values from old when sent. */
static int stage_new(struct sync *s, struct sync_table *t, const struct pgo_tuple *row,
                     const struct pgo_tuple *old)
{
    bool unchanged = leaves_unchanged(row, old);
    uint64_t h = t->nkey ? tuple_hash(row, t->key, t->nkey) : tuple_hash(row, NULL, 0);
    /* the value left out may be one this round staged: apply the round, the target then has it */
    if (unchanged && t->nkey && hashset_has(&t->round, h) && syncapply_round(s, t) != 0)
        return -1;
    if (t->nkey ? note_key(s, t, row, h) != 0 : !hashset_add(&t->round, h) && syncapply_round(s, t) != 0)
        return -1;
    return stage_row(s, t, row, old, 1);
}

/*
 * An update that moved a row to a new key and left TOASTed values out as
 * unchanged: they are the old key's row's, which the target holds (the
 * round was applied before the two changes were staged, so the stage
 * holds just them: the old key gone, then the new row). They are copied
 * into the staged row; a row the target does not have stops the table,
 * never a silent NULL. 0, 1 (the table stopped), or -1.
 */
static int fill_moved_unchanged(struct sync *s, struct sync_table *t, const struct pgo_tuple *row)
{
    if (duckdb_appender_flush(t->app) != DuckDBSuccess) {
        sync_error(s, "staging the rows of %s: %s", t->name, duckdb_appender_error(t->app));
        return -1;
    }
    struct dp_buf *b = &s->sql;
    dp_buf_clear(b, 4096);
    dp_buf_printf(b, "UPDATE %s AS s SET _dp_umask = 0", t->stage);
    for (int i = 0; i < t->ncols && i < 64; i++) {
        if (!(t->umask_any >> i & 1))
            continue;
        dp_buf_str(b, ", ");
        dp_sql_ident(b, t->cols[i].name);
        dp_buf_printf(b, " = CASE WHEN (s._dp_umask >> %d) & 1 = 1 THEN g.", i);
        dp_sql_ident(b, t->cols[i].name);
        dp_buf_str(b, " ELSE s.");
        dp_sql_ident(b, t->cols[i].name);
        dp_buf_str(b, " END");
    }
    dp_buf_printf(
        b, " FROM %s AS o, %s AS g WHERE s._dp_op = 1 AND o._dp_op = 0 AND o._dp_seq = s._dp_seq - 1 AND ",
        t->stage, t->target);
    key_match(b, t, "g", "o");
    int64_t n = 0;
    if (run(s, b, &n) != 0)
        return -1;
    if (n != 1) {
        char *key = key_text(t, row);
        syncddl_stop(s, t,
                     "row (%s) of %s.%s moved to a new key with unchanged TOASTed values, but its old row is "
                     "not here to take them from",
                     key ? key : "?", t->pg_schema, t->pg_name);
        free(key);
        return 1;
    }
    return 0;
}

int syncapply_change(struct sync *s, const struct pgo_msg *m)
{
    struct sync_table *t = sync_table_by_relid(s, m->relid);
    if (!t || t->state == SYNC_STOPPED)
        return 0;
    if (syncapply_begin(s) != 0 || stage_make(s, t) != 0)
        return -1;
    const struct pgo_tuple *old = m->old_kind ? &m->old_tuple : NULL;
    int rc = 0;
    switch (m->kind) {
    case PGO_INSERT: rc = stage_new(s, t, &m->new_tuple, NULL); break;
    case PGO_DELETE: rc = stage_gone(s, t, old); break;
    case PGO_UPDATE:
        if (!t->nkey && !old) {
            syncddl_stop(s, t, "an update of %s.%s came without its old row (REPLICA IDENTITY changed?)",
                         t->pg_schema, t->pg_name);
            return 0;
        }
        /* keyless: the old row goes; keyed: the old key goes when it changed */
        bool moved = old && t->nkey &&
                     tuple_hash(old, t->key, t->nkey) != tuple_hash(&m->new_tuple, t->key, t->nkey);
        const struct pgo_tuple *from = old && m->old_kind == 'O' ? old : NULL;
        bool fill = moved && leaves_unchanged(&m->new_tuple, from);
        if (fill && syncapply_round(s, t) != 0) /* the target then holds the old key's row as it is now */
            return -1;
        if (old && (!t->nkey || moved))
            rc = stage_gone(s, t, old);
        if (rc == 0 && t->state != SYNC_STOPPED)
            rc = stage_new(s, t, &m->new_tuple, from);
        if (rc == 0 && fill && t->state != SYNC_STOPPED)
            rc = fill_moved_unchanged(s, t, &m->new_tuple);
        break;
    default: break;
    }
    return rc < 0 ? -1 : 0;
}

int syncapply_truncate(struct sync *s, const struct pgo_msg *m)
{
    if (syncapply_begin(s) != 0)
        return -1;
    for (int i = 0; i < m->nrelids; i++) {
        struct sync_table *t = sync_table_by_relid(s, m->relids[i]);
        if (!t || t->state == SYNC_STOPPED)
            continue;
        if (syncapply_round(s, t) != 0)
            return -1;
        dp_buf_clear(&s->sql, 4096);
        dp_buf_printf(&s->sql, "DELETE FROM %s", t->target);
        if (run(s, &s->sql, NULL) != 0)
            return -1;
        pthread_mutex_lock(&s->mu);
        t->rows = 0;
        pthread_mutex_unlock(&s->mu);
        s->tx_changes++;
    }
    return 0;
}

/* ---------------------------------------------------------- transactions */

int syncapply_begin(struct sync *s)
{
    if (s->in_tx)
        return 0;
    if (sync_exec(s, "BEGIN TRANSACTION") != 0)
        return -1;
    s->in_tx = true;
    s->tx_open_us = sync_now_us();
    s->lag_from_us = s->begin_time_us ? s->begin_time_us : s->tx_open_us;
    s->tx_changes = 0;
    return 0;
}

int syncapply_commit(struct sync *s)
{
    for (size_t i = 0; i < s->ntables; i++)
        if (syncapply_round(s, s->tables[i]) != 0) {
            syncapply_abort(s);
            return -1;
        }
    dp_buf_clear(&s->sql, 4096);
    dp_buf_printf(&s->sql,
                  "UPDATE duckpond_sync_state SET applied_lsn = %" PRIu64 " WHERE slot = ", s->pending_lsn);
    dp_sql_literal(&s->sql, s->slot, strlen(s->slot));
    if (run(s, &s->sql, NULL) != 0 || sync_exec(s, "COMMIT") != 0) {
        syncapply_abort(s);
        return -1;
    }
    s->in_tx = false;
    s->applied_lsn = s->pending_lsn;
    s->applied_commit_time = s->pending_commit_time;
    return 0;
}

void syncapply_abort(struct sync *s)
{
    duckdb_result res;
    duckdb_query(s->dcon, "ROLLBACK", &res);
    duckdb_destroy_result(&res);
    s->in_tx = false;
    for (size_t i = 0; i < s->ntables; i++)
        syncapply_stage_drop(s, s->tables[i]);
    s->pending_lsn = s->applied_lsn;
}
