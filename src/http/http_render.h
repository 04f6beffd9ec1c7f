/*
 * http_render.h -- DuckDB values as JSON and CSV text, for the answers of
 * the HTTP API (http_render.c).
 */
#ifndef DUCKPOND_HTTP_RENDER_H
#define DUCKPOND_HTTP_RENDER_H

#include <duckdb.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* A result column's type, resolved once so that each value is cheap. */
struct http_rtype {
    duckdb_type id;
    duckdb_type internal; /* storage of DECIMAL and ENUM */
    uint8_t scale;        /* DECIMAL */
    idx_t array_size;     /* ARRAY */
    size_t nchildren;     /* LIST/ARRAY: 1; MAP: key, value; STRUCT: fields */
    struct http_rtype **children;
    char **names; /* STRUCT field names */
    char **dict;  /* ENUM values */
    size_t ndict;
    char *name; /* the SQL type's name, e.g. "DECIMAL(18,3)" */
};

/*
 * Resolves a DuckDB type (not taken) into *out (free with
 * http_rtype_free). Types that cannot be sent (UNION, BIT, BIGNUM...)
 * give non-zero with a message in why naming the type.
 */
int http_rtype_new(duckdb_logical_type t, struct http_rtype **out, char *why, size_t whylen);
void http_rtype_free(struct http_rtype *t);

/* Row row of vector v (of type t) as a JSON value (null for NULL), appended to b. */
void http_render_json(struct dp_buf *b, const struct http_rtype *t, duckdb_vector v, idx_t row);
/* The same as one CSV field: empty for NULL, "" for an empty string. */
void http_render_csv(struct dp_buf *b, const struct http_rtype *t, duckdb_vector v, idx_t row);

#endif
