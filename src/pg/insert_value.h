/*
 * insert_value.h -- the values of a plain INSERT, one expression of its
 * VALUES list at a time (insert_value.c): which expressions the batcher
 * can take as they are, and what the others need of their column (its
 * type, for a cast; its type and DuckDB's own clock, for now()) before
 * the plan may hold them. Used by insert_plan.c only.
 */
#ifndef DUCKPOND_INSERT_VALUE_H
#define DUCKPOND_INSERT_VALUE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "duckpond.h"

struct session;
struct insert_plan;

/* A column type as far as the plan compares them: DUCKDB_TYPE_INVALID for one it does not. */
struct col_type {
    duckdb_type id;
    uint8_t width, scale; /* DECIMAL's */
};

/* What a value needs of its column before the batcher may take it as planned. */
struct value_need {
    enum { NEED_NONE, NEED_TYPE, NEED_CLOCK } kind;
    struct col_type type; /* NEED_TYPE: the column's type must be this one */
    enum clock_fn { CLOCK_FN_NOW = 1, CLOCK_FN_LOCALTIMESTAMP, CLOCK_FN_DATE } fn; /* NEED_CLOCK */
};

/* What the analysis of one statement's values found. */
struct values_scan {
    struct value_need *needs; /* one per value */
    bool needs_types;         /* some value depends on its column's type */
    bool uses_functions;      /* unary + or a clock: DuckDB's own functions must not be shadowed */
};

/* Whether a serialised value is absent, null or the empty string. */
bool insert_value_str_empty(json_t *v);

/*
 * Reads the rows of a serialised "VALUES (...), (...)" into plan (nrows,
 * width, values), and what each value needs of its column into vs (its
 * needs array is malloc'd: insert_value_free). 0, or -1 when some value
 * is not one the batcher can take, whatever its column.
 */
int insert_value_read(json_t *node, struct insert_plan *plan, struct values_scan *vs);

/*
 * Settles what the values need of their columns, on the session's
 * connection: the target columns' types for casts, blobs and clocks,
 * whether DuckDB's own functions answer to the names called, and its
 * TimeZone. Sets each clock's form in plan, and lists the table's columns
 * in plan when the INSERT named none. 0, or -1 when DuckDB must run the
 * statement.
 */
int insert_value_resolve(struct session *s, struct insert_plan *plan, const struct values_scan *vs);

void insert_value_free(struct values_scan *vs);

#endif
