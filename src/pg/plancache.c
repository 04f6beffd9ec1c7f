/*
 * plancache.c -- a session's cache of analysed INSERT shapes.
 *
 * Unprepared statements (the simple protocol, the unnamed statement) are
 * new text each time, so each would be parsed, prepared and serialised
 * again. A plain INSERT ... VALUES has its literals lifted out: what
 * remains (its shape) keys a per-session cache of analysed plans, and a
 * statement of a known shape goes to the batcher with its own literals,
 * converted as DuckDB reads them. sqlshape_scan (sqlshape.c) lifts signed
 * integers and plain decimals standing alone as a value, and the string
 * of a value that is a string, a cast of one ('x'::timestamp) or a typed
 * literal (TIMESTAMP 'x'); anything else, the casts' types included,
 * stays in the shape as written, so it is part of the key and of the
 * cached plan (which was analysed with the columns' types: insert_plan.c).
 *
 * A shape is trusted only as far as DuckDB's analysis of its first
 * statement: that statement is prepared and serialised as before, and the
 * shape is cached only if each lifted literal converts to exactly the
 * value DuckDB's parse gave its place. A write of a cached shape that
 * fails in a way DuckDB would have reported first (a value that does not
 * convert, an unknown table) had no effect, and the statement is then
 * analysed by DuckDB as written, so errors are DuckDB's own. Entries are
 * dropped when the catalog changes (the batcher's schema generation,
 * bumped by every DDL statement of a PostgreSQL session or HTTP query).
 */
#include "plancache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insert_plan.h"
#include "session_int.h"
#include "sqlshape.h"

#define PLANCACHE_SIZE 64
/* What a session's entries may hold together (keys and plans' values): a
 * few shapes of 1,000-row INSERTs fit, a client cannot pin 64 of the
 * largest statements a shape may have. */
#define PLANCACHE_MAX_BYTES (4u << 20)

struct plancache_entry {
    uint64_t hash, used, gen;
    char *key;
    size_t keylen;
    size_t bytes; /* what it holds, as counted against PLANCACHE_MAX_BYTES */
    int nlits;
    struct insert_plan *plan; /* a reference; literal slots carry lit */
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
    return session_may_batch(s);
}

/* The entry of a shape, or NULL (an entry from before a catalog change is dropped). */
static struct plancache_entry *find(struct session *s, const struct sql_shape *sh)
{
    struct plancache *c = s->plans;
    if (!c)
        return NULL;
    uint64_t gen = plancache_gen(s);
    for (int i = 0; i < PLANCACHE_SIZE; i++) {
        struct plancache_entry *e = &c->e[i];
        if (!e->plan || e->hash != sh->hash || e->keylen != sh->keylen || memcmp(e->key, sh->key, sh->keylen) != 0)
            continue;
        if (e->gen != gen || e->nlits != sh->nlits || e->plan->nrows != sh->nrows || e->plan->width != sh->width) {
            evict(c, e);
            return NULL;
        }
        e->used = ++c->tick;
        return e;
    }
    return NULL;
}

/* The shape's literal values, for a statement made from it (pointing into the shape's buf). NULL: no memory. */
static duckpond_value *shape_lits(const struct sql_shape *sh)
{
    duckpond_value *lits = malloc(sizeof *lits * (size_t)(sh->nlits + 1));
    for (int i = 0; lits && i < sh->nlits; i++)
        lits[i] = sh->lits[i].value;
    return lits;
}

int plancache_make_stmt(struct session *s, struct stmt *st, struct sql_shape *sh)
{
    if (!plancache_usable(s) || sqlshape_scan(st->sql, strlen(st->sql), sh) != 0)
        return 0;
    struct plancache_entry *e = find(s, sh);
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
        if (a->kind == DUCKPOND_VALUE_INT64 ? a->u.i64 != b->u.i64
                                             : a->u.text.len != b->u.text.len ||
                                                   memcmp(a->u.text.ptr, b->u.text.ptr, a->u.text.len) != 0)
            return false;
    }
    return true;
}

/* The least recently used entry holding a plan; NULL if none. */
static struct plancache_entry *oldest(struct plancache *c)
{
    struct plancache_entry *e = NULL;
    for (int i = 0; i < PLANCACHE_SIZE; i++)
        if (c->e[i].plan && (!e || c->e[i].used < e->used))
            e = &c->e[i];
    return e;
}

/*
 * The entry to fill with bytes more: a free one, else the least recently
 * used, after evicting the oldest entries until the bytes fit.
 */
static struct plancache_entry *victim(struct plancache *c, size_t bytes)
{
    struct plancache_entry *e;
    while (c->bytes + bytes > PLANCACHE_MAX_BYTES && (e = oldest(c)))
        evict(c, e);
    for (int i = 0; i < PLANCACHE_SIZE; i++)
        if (!c->e[i].plan)
            return &c->e[i];
    e = oldest(c);
    evict(c, e);
    return e;
}

void plancache_remember(struct session *s, struct stmt *st, struct sql_shape *sh, uint64_t gen)
{
    struct insert_plan *plan = st->plan;
    if (!sh->key || !plan || st->dparams != 0 || plan->nrows != sh->nrows || plan->width != sh->width ||
        !lits_match(plan, sh))
        return;
    size_t bytes = sh->keylen + (size_t)plan->nrows * (size_t)plan->width * sizeof *plan->values;
    if (bytes > PLANCACHE_MAX_BYTES / 2)
        return;
    if (!s->plans && !(s->plans = calloc(1, sizeof *s->plans)))
        return;
    duckpond_value *lits = shape_lits(sh);
    if (!lits)
        return;
    struct plancache *c = s->plans;
    struct plancache_entry *e = victim(c, bytes);
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
    e->hash = sh->hash;
    e->key = sh->key;
    e->keylen = sh->keylen;
    sh->key = NULL;
    e->nlits = sh->nlits;
    e->bytes = bytes;
    c->bytes += bytes;
    e->gen = gen;
    e->used = ++c->tick;
    e->plan = plan;
    plan->refs++;
}
