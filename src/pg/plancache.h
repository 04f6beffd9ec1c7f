/*
 * plancache.h -- a session's cache of analysed INSERT shapes, so that a
 * plain INSERT sent as new text each time (the simple protocol, the
 * unnamed statement) is analysed by DuckDB once per shape, not once per
 * statement. See plancache.c for when a shape is trusted.
 */
#ifndef DUCKPOND_PLANCACHE_H
#define DUCKPOND_PLANCACHE_H

#include <stdbool.h>
#include <stdint.h>

struct session;
struct stmt;
struct sql_shape;
struct plancache;

void plancache_free(struct plancache *c);

/* Whether a statement may be made from, or added to, the cache now. */
bool plancache_usable(const struct session *s);

/* The catalog's generation now: entries from an older one are stale. */
uint64_t plancache_gen(const struct session *s);

/*
 * Makes st (text already in st->sql) from a cached shape: 1 if it was,
 * 0 if not (sh then holds the scanned shape, or is empty when the text
 * has none). Nothing is queued.
 */
int plancache_make_stmt(struct session *s, struct stmt *st, struct sql_shape *sh);

/*
 * After DuckDB prepared st and its plan was found: turns the plan into a
 * shape's (each lifted literal's slot refers to the literal) and caches
 * it, when every lifted literal reads as the value DuckDB gave its slot.
 * st keeps working from the same plan with its own literals. gen: the
 * catalog's generation from before st was prepared.
 */
void plancache_remember(struct session *s, struct stmt *st, struct sql_shape *sh, uint64_t gen);

#endif
