/*
 * plancache.h -- a session's cache of analysed INSERTs, so that the same
 * INSERT sent again is not prepared and analysed by DuckDB each time. Two
 * kinds of entry share one bounded, least-recently-used table:
 *
 * - shapes: a plain INSERT sent as new text each time (the simple
 *   protocol, the unnamed statement), its literals lifted out, is
 *   analysed once per shape;
 * - texts: a Parse of an INSERT with parameters (node-postgres, psycopg 3,
 *   JDBC and pgx send each query so, as the unnamed statement), keyed by
 *   its text and the parameter types the Parse gave, keeps what DuckDB
 *   said of it, the plan, and DuckDB's prepared statement.
 *
 * See plancache.c for when an entry is trusted.
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

/* Whether a statement may be made from, or added to, the shapes now. */
bool plancache_usable(const struct session *s);

/* The catalog's generation now: entries from an older one are stale. */
uint64_t plancache_gen(const struct session *s);

/*
 * Makes st (text already in st->sql) from a cached shape: 1 if it was,
 * 0 if not (sh then holds the scanned shape, or is empty when the text
 * has none). gen: plancache_gen, read before. Nothing is queued.
 */
int plancache_make_stmt(struct session *s, struct stmt *st, struct sql_shape *sh, uint64_t gen);

/*
 * After DuckDB prepared st and its plan was found: turns the plan into a
 * shape's (each lifted literal's slot refers to the literal) and caches
 * it, when every lifted literal reads as the value DuckDB gave its slot.
 * st keeps working from the same plan with its own literals. gen: the
 * catalog's generation from before st was prepared.
 */
void plancache_remember(struct session *s, struct stmt *st, struct sql_shape *sh, uint64_t gen);

/*
 * The Parse of an INSERT (text in st->sql) with the parameter types oids:
 * 1 when st was made from the analysed text (DuckDB's description, the
 * parameter types, the plan, and the prepared statement when the entry
 * kept it: st then holds a reference to the entry's statement); 2 when
 * the text is known to be no plain INSERT (st is to be prepared as usual,
 * its analysis skipped); 0 when the text is not known. gen:
 * plancache_gen, read before. Nothing is queued.
 */
int plancache_make_text(struct session *s, struct stmt *st, const uint32_t *oids, int noids, uint64_t gen);

/*
 * After DuckDB prepared the INSERT st of a Parse with parameters: when
 * the session may (autocommit, or a transaction begun in generation gen,
 * the one from before st was prepared), analyses it as its first Execute
 * would (insert_plan_check) and caches the result under its text and the
 * Parse's parameter types. st then shares its prepared statement with the
 * entry. Nothing is queued.
 */
void plancache_analyse_text(struct session *s, struct stmt *st, const uint32_t *oids, int noids,
                            uint64_t gen);

#endif
