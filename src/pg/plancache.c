/*
 * plancache.c -- a session's cache of analysed INSERTs: shapes and texts
 * (plancache.h).
 *
 * Shapes. Unprepared statements (the simple protocol, the unnamed
 * statement) are new text each time, so each would be parsed, prepared
 * and serialised again. A plain INSERT ... VALUES has its literals lifted
 * out: what remains (its shape) keys the cache, and a statement of a
 * known shape goes to the batcher with its own literals, converted as
 * DuckDB reads them. sqlshape_scan (sqlshape.c) lifts signed integers and
 * plain decimals standing alone as a value, and the string of a value
 * that is a string, a cast of one ('x'::timestamp) or a typed literal
 * (TIMESTAMP 'x'); anything else, the casts' types included, stays in the
 * shape as written, so it is part of the key and of the cached plan
 * (which was analysed with the columns' types: insert_plan.c).
 *
 * A shape is trusted only as far as DuckDB's analysis of its first
 * statement: that statement is prepared and serialised as before, and the
 * shape is cached only if each lifted literal converts to exactly the
 * value DuckDB's parse gave its place. A write of a cached shape that
 * fails in a way DuckDB would have reported first (a value that does not
 * convert, an unknown table) had no effect, and the statement is then
 * analysed by DuckDB as written, so errors are DuckDB's own.
 *
 * Texts. Drivers that bind on the server send the same text with $1..$n
 * in a Parse for every query. What stmt_make would make of it depends on
 * the text, the parameter types the Parse gives, and DuckDB's catalog and
 * settings, nothing else: the session's own settings (search_path,
 * DateStyle, ...) never reach DuckDB's binder, and every statement that
 * may change DuckDB's catalog or settings (DDL, SET, PRAGMA, ...) ends a
 * generation. So an entry keyed by text and types, from the current
 * generation, is what a new prepare and analysis would find. A text that
 * is a plain INSERT keeps a statement holding DuckDB's description, the
 * parameter types, the plan and, unless too large, DuckDB's prepared
 * statement, which is safe to share: it plans VALUES, which no table's
 * data or statistics change, and its bindings are set anew before every
 * run. A text that is not plain keeps only that finding: it is prepared
 * again each time (what DuckDB plans of a query may depend on the data),
 * but not analysed again. Texts that fail are not kept, so they fail as
 * DuckDB says each time.
 *
 * The generation is the batcher's, bumped by every DDL statement of a
 * PostgreSQL session or HTTP query (and by a session's transaction that
 * changed the catalog, again when it ends). Entries are used and made in
 * autocommit, or in a transaction begun in the current generation: one
 * begun before sees, in its snapshot, a catalog older than the
 * generation's. (Shapes also need batching on: a statement made from one
 * has no DuckDB statement, and goes through the batcher in autocommit or
 * is applied on the session's connection in a transaction.)
 *
 * Memory: at most PLANCACHE_SIZE entries and PLANCACHE_MAX_BYTES of what
 * they hold (DuckDB's prepared statements counted by an estimate), the
 * least recently used evicted first.
 */
#include "plancache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insert_plan.h"
#include "session_int.h"
#include "sqlshape.h"

#define PLANCACHE_SIZE 64
/* What a session's entries may hold together (keys, plans' values, texts'
 * prepared statements): a few shapes of 1,000-row INSERTs fit, a client
 * cannot pin 64 of the largest statements a shape may have. */
#define PLANCACHE_MAX_BYTES (4u << 20)
/* DuckDB's memory for a prepared INSERT of len bytes of text, as counted
 * here: measured with DuckDB 1.4.4, some 10 KiB for one row of four
 * parameters, then about 116 bytes per byte of text. */
#define PREP_BYTES(len) (8192u + 128u * (size_t)(len))
/* A text keeps DuckDB's prepared statement up to this (some 4 KB of
 * text: 150 rows of four parameters); a larger one keeps its analysis
 * alone and is prepared again only when DuckDB must run it. */
#define PREP_MAX_BYTES (PLANCACHE_MAX_BYTES / 8)

struct plancache_entry {
    uint64_t hash, used, gen;
    char *key; /* NULL: the entry is free */
    size_t keylen;
    size_t bytes;             /* what it holds, as counted against PLANCACHE_MAX_BYTES */
    bool text;                /* keyed by a text and its parameter types, else by a shape */
    int n;                    /* a shape's lifted literals; a text's parameter types */
    struct insert_plan *plan; /* a shape's (a reference; literal slots carry lit) */
    struct stmt *stmt;        /* a text's statement as analysed (a reference); NULL: no plain INSERT */
};

struct plancache {
    struct plancache_entry e[PLANCACHE_SIZE];
    uint64_t tick;
    size_t bytes; /* of all entries */
};

uint64_t plancache_gen(const struct session *s)
{
    return duckpond_batcher_schema_gen(s->env->batcher);
}

/* Empties an entry. */
static void entry_clear(struct plancache_entry *e)
{
    free(e->key);
    insert_plan_unref(e->plan);
    stmt_unref(e->stmt);
    memset(e, 0, sizeof *e);
}

/* Empties the entry and takes what it held off the cache's count. */
static void evict(struct plancache *c, struct plancache_entry *e)
{
    c->bytes -= e->bytes;
    entry_clear(e);
}

void plancache_free(struct plancache *c)
{
    if (!c)
        return;
    for (int i = 0; i < PLANCACHE_SIZE; i++)
        entry_clear(&c->e[i]);
    free(c);
}

bool plancache_usable(const struct session *s)
{
    return session_may_batch(s) || session_may_apply(s);
}

/*
 * The entry of a key (text: a text's, else a shape's; n must match too),
 * or NULL. An entry of it from another generation than gen is dropped.
 */
static struct plancache_entry *find(struct session *s, bool text, uint64_t hash, const char *key,
                                    size_t keylen, int n, uint64_t gen)
{
    struct plancache *c = s->plans;
    for (int i = 0; c && i < PLANCACHE_SIZE; i++) {
        struct plancache_entry *e = &c->e[i];
        if (!e->key || e->text != text || e->hash != hash || e->keylen != keylen || e->n != n ||
            memcmp(e->key, key, keylen) != 0)
            continue;
        if (e->gen != gen) {
            evict(c, e);
            return NULL;
        }
        e->used = ++c->tick;
        return e;
    }
    return NULL;
}

/* The least recently used entry in use; NULL if none. */
static struct plancache_entry *oldest(struct plancache *c)
{
    struct plancache_entry *e = NULL;
    for (int i = 0; i < PLANCACHE_SIZE; i++)
        if (c->e[i].key && (!e || c->e[i].used < e->used))
            e = &c->e[i];
    return e;
}

/*
 * An empty entry that holds key (taken) and is counted as bytes: a free
 * one, else the least recently used, after evicting the oldest entries
 * until the bytes fit. NULL (key freed) when memory runs out.
 */
static struct plancache_entry *store(struct session *s, bool text, uint64_t hash, char *key, size_t keylen,
                                     int n, size_t bytes, uint64_t gen)
{
    if (!s->plans && !(s->plans = calloc(1, sizeof *s->plans))) {
        free(key);
        return NULL;
    }
    struct plancache *c = s->plans;
    struct plancache_entry *e = NULL;
    while (c->bytes + bytes > PLANCACHE_MAX_BYTES && (e = oldest(c)))
        evict(c, e);
    e = NULL;
    for (int i = 0; i < PLANCACHE_SIZE && !e; i++)
        if (!c->e[i].key)
            e = &c->e[i];
    if (!e)
        evict(c, e = oldest(c));
    *e = (struct plancache_entry){.hash = hash,
                                  .used = ++c->tick,
                                  .gen = gen,
                                  .key = key,
                                  .keylen = keylen,
                                  .bytes = bytes,
                                  .text = text,
                                  .n = n};
    c->bytes += bytes;
    return e;
}

/* ------------------------------------------------------------------ shapes */

/* The shape's literal values, for a statement made from it (pointing into the shape's buf). NULL: no memory. */
static duckpond_value *shape_lits(const struct sql_shape *sh)
{
    duckpond_value *lits = malloc(sizeof *lits * (size_t)(sh->nlits + 1));
    for (int i = 0; lits && i < sh->nlits; i++)
        lits[i] = sh->lits[i].value;
    return lits;
}

/* The entry of a shape, or NULL (an entry from before a catalog change is dropped). */
static struct plancache_entry *find_shape(struct session *s, const struct sql_shape *sh, uint64_t gen)
{
    struct plancache_entry *e = find(s, false, sh->hash, sh->key, sh->keylen, sh->nlits, gen);
    if (e && (e->plan->nrows != sh->nrows || e->plan->width != sh->width)) {
        evict(s->plans, e);
        return NULL;
    }
    return e;
}

int plancache_make_stmt(struct session *s, struct stmt *st, struct sql_shape *sh, uint64_t gen)
{
    if (!plancache_usable(s) || sqlshape_scan(st->sql, strlen(st->sql), sh) != 0)
        return 0;
    struct plancache_entry *e = find_shape(s, sh, gen);
    if (!e)
        return 0;
    duckpond_value *lits = shape_lits(sh);
    uint32_t *oids = calloc(1, sizeof *oids);
    if (!lits || !oids) {
        free(lits);
        free(oids);
        return 0;
    }
    st->kind = STMT_DUCKDB;
    st->dtype = DUCKDB_STATEMENT_TYPE_INSERT;
    st->count_result = true;
    snprintf(st->tag, sizeof st->tag, "INSERT");
    st->param_oids = oids;
    st->plan = e->plan;
    st->plan->refs++;
    st->plan_checked = true;
    st->plan_gen = e->gen;
    st->lits = lits;
    st->litbuf = sh->buf; /* the literals' text lives there */
    sh->buf = NULL;
    return 1;
}

/* Whether each lifted literal of the shape is the constant DuckDB's parse gave its slot of the plan. */
static bool lits_match(const struct insert_plan *plan, const struct sql_shape *sh)
{
    for (int i = 0; i < sh->nlits; i++) {
        const struct plan_value *pv = &plan->values[sh->lits[i].row * plan->width + sh->lits[i].col];
        const duckpond_value *a = &pv->value, *b = &sh->lits[i].value;
        if (pv->param || pv->lit || pv->clock || a->kind != b->kind)
            return false;
        if (a->kind == DUCKPOND_VALUE_INT64
                ? a->u.i64 != b->u.i64
                : a->u.text.len != b->u.text.len || memcmp(a->u.text.ptr, b->u.text.ptr, a->u.text.len) != 0)
            return false;
    }
    return true;
}

/* What a plan's values are counted as. */
static size_t plan_bytes(const struct insert_plan *plan)
{
    return plan ? (size_t)plan->nrows * (size_t)plan->width * sizeof *plan->values : 0;
}

void plancache_remember(struct session *s, struct stmt *st, struct sql_shape *sh, uint64_t gen)
{
    struct insert_plan *plan = st->plan;
    if (!sh->key || !plan || st->dparams != 0 || plan->nrows != sh->nrows || plan->width != sh->width ||
        !lits_match(plan, sh))
        return;
    size_t bytes = sh->keylen + plan_bytes(plan);
    if (bytes > PLANCACHE_MAX_BYTES / 2)
        return;
    duckpond_value *lits = shape_lits(sh);
    if (!lits)
        return;
    struct plancache_entry *e = store(s, false, sh->hash, sh->key, sh->keylen, sh->nlits, bytes, gen);
    sh->key = NULL; /* the entry's now, or freed */
    if (!e) {
        free(lits);
        return;
    }
    for (int i = 0; i < sh->nlits; i++) { /* the slots now take the statement's literals */
        struct plan_value *pv = &plan->values[sh->lits[i].row * plan->width + sh->lits[i].col];
        if (pv->value.kind == DUCKPOND_VALUE_TEXT)
            free((char *)pv->value.u.text.ptr);
        memset(&pv->value, 0, sizeof pv->value);
        pv->lit = i + 1;
    }
    st->lits = lits;
    st->litbuf = sh->buf;
    sh->buf = NULL;
    e->plan = plan;
    plan->refs++;
}

/* ------------------------------------------------------------------- texts */

/*
 * Whether texts may be used and kept now, in generation gen: the
 * batcher keeps the generation, and the session's DuckDB connection sees
 * the catalog of gen (autocommit, or a transaction begun in gen).
 */
static bool text_usable(const struct session *s, uint64_t gen)
{
    return s->env->batcher && (s->tx == TX_IDLE || (s->tx == TX_OPEN && s->tx_gen == gen));
}

/* The FNV-1a hash of n bytes, going on from h. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
    return h;
}

/* The key of a text and its parameter types (their bytes, one after the other; malloc'd), or NULL. */
static char *text_key(const char *sql, const uint32_t *oids, int noids, size_t *keylen, uint64_t *hash)
{
    size_t len = strlen(sql), ob = sizeof *oids * (size_t)noids;
    char *key = malloc(len + ob + 1);
    if (!key)
        return NULL;
    memcpy(key, sql, len);
    if (ob)
        memcpy(key + len, oids, ob);
    *keylen = len + ob;
    *hash = fnv1a(1469598103934665603ull, key, *keylen);
    return key;
}

/*
 * Gives to what DuckDB said of from, its parameter types and its plan (a
 * reference): all of a statement but its name, text and prepared
 * statement. 0, or -1 when memory runs out (to unchanged).
 */
static int copy_analysis(struct stmt *to, const struct stmt *from)
{
    uint32_t *oids = calloc((size_t)from->nparams + 1, sizeof *oids);
    if (!oids)
        return -1;
    memcpy(oids, from->param_oids, sizeof *oids * (size_t)from->nparams);
    to->param_oids = oids;
    to->kind = from->kind;
    to->dtype = from->dtype;
    to->dparams = from->dparams;
    to->nparams = from->nparams;
    to->ncols = from->ncols;
    to->count_result = from->count_result;
    to->cols_unknown = from->cols_unknown;
    memcpy(to->tag, from->tag, sizeof to->tag);
    to->plan = from->plan;
    if (to->plan)
        to->plan->refs++;
    to->plan_checked = from->plan_checked;
    to->plan_gen = from->plan_gen;
    return 0;
}

/* Lets st use the prepared statement of proto, which it then holds a reference to. */
static void share_prep(struct stmt *st, struct stmt *proto)
{
    st->prep = proto->prep;
    st->proto = proto;
    proto->refs++;
}

int plancache_make_text(struct session *s, struct stmt *st, const uint32_t *oids, int noids, uint64_t gen)
{
    if (!s->plans || !text_usable(s, gen))
        return 0;
    size_t keylen;
    uint64_t hash;
    char *key = text_key(st->sql, oids, noids, &keylen, &hash);
    struct plancache_entry *e = key ? find(s, true, hash, key, keylen, noids, gen) : NULL;
    free(key);
    if (!e)
        return 0;
    if (!e->stmt)
        return 2;
    if (copy_analysis(st, e->stmt) != 0)
        return 0;
    if (e->stmt->prep)
        share_prep(st, e->stmt);
    return 1;
}

/*
 * The statement a text's entry keeps of st, a plain INSERT: its analysis
 * and, when keep_prep, its prepared statement, which st then shares.
 * NULL when memory runs out.
 */
static struct stmt *text_proto(struct stmt *st, bool keep_prep)
{
    struct stmt *proto = calloc(1, sizeof *proto);
    if (!proto || !(proto->name = strdup("")) || !(proto->sql = strdup(st->sql)) ||
        copy_analysis(proto, st) != 0) {
        if (proto) {
            free(proto->name);
            free(proto->sql);
        }
        free(proto);
        return NULL;
    }
    proto->refs = 1;
    if (keep_prep) {
        proto->prep = st->prep;
        st->proto = proto;
        proto->refs++;
    }
    return proto;
}

void plancache_analyse_text(struct session *s, struct stmt *st, const uint32_t *oids, int noids, uint64_t gen)
{
    if (!text_usable(s, gen) || st->proto || !st->prep)
        return;
    insert_plan_check(s, st); /* as the first Execute would */
    size_t keylen;
    uint64_t hash;
    char *key = text_key(st->sql, oids, noids, &keylen, &hash);
    if (!key)
        return;
    size_t len = strlen(st->sql);
    size_t bytes = keylen + (st->plan ? sizeof *st + len + sizeof *st->param_oids * (size_t)st->nparams : 0) +
                   plan_bytes(st->plan);
    bool keep_prep = st->plan && PREP_BYTES(len) <= PREP_MAX_BYTES;
    if (keep_prep)
        bytes += PREP_BYTES(len);
    struct stmt *proto = NULL;
    if (bytes > PLANCACHE_MAX_BYTES / 2 || (st->plan && !(proto = text_proto(st, keep_prep)))) {
        free(key);
        return;
    }
    struct plancache_entry *e = store(s, true, hash, key, keylen, noids, bytes, gen);
    if (e)
        e->stmt = proto;
    else
        stmt_unref(proto); /* st keeps the prep it shares */
}
