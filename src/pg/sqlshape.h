/*
 * sqlshape.h -- the shape of a plain INSERT: "INSERT INTO x ... VALUES
 * (...), ..." with its literals lifted out; and the pointer-style
 * reading of SQL text COPY does, on common/sqllex.h's lexer.
 * Pure text: no session, no DuckDB.
 */
#ifndef DUCKPOND_SQLSHAPE_H
#define DUCKPOND_SQLSHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duckpond.h"

/* Longer statements are not scanned for a shape (sqlshape_scan refuses them): a
 * multi-row INSERT of 1,000 rows fits. */
#define SQLSHAPE_MAX_TEXT (256u << 10)

/* One lifted literal: its place in the VALUES list and its value. */
struct sql_shape_lit {
    int row, col;
    duckpond_value value; /* INT64, or TEXT pointing into the shape's buf */
};

/*
 * A statement's text with its liftable literals taken out. Everything is
 * owned by the shape and released by sqlshape_free; a caller may take key
 * or buf (and then sets the field to NULL so it is not freed twice). The
 * TEXT values of lits point into buf, so they live as long as buf does.
 */
struct sql_shape {
    char *key;                  /* the text, each lifted literal replaced by a marker (not NUL-terminated) */
    size_t keylen;              /* at most twice the text's length */
    uint64_t hash;              /* FNV-1a of key */
    int nrows, width, nlits;    /* the VALUES rows, their common width, lifted literals */
    struct sql_shape_lit *lits; /* nlits literals, in text order */
    char *buf;                  /* the lifted strings' and decimals' text */
};

/*
 * Lifts the literals out of "INSERT INTO x ... VALUES (...), ..." (len
 * bytes of sql; a NUL terminator is not needed). Lifted are a value that
 * is a number with at most one sign before it (a plus stays in the key;
 * at most 18 digits, no
 * exponent, no underscore: as INT64, or as the decimal's canonical text:
 * no leading zeros, the scale kept, no sign on zero), and the one
 * standard string ('...' with '' for a quote, valid UTF-8, as its TEXT)
 * of a value whose other tokens are only names, numbers, '::' and
 * ( ) [ ] , . -- a bare string, a cast ('x'::timestamp, CAST('x' AS t))
 * or a typed literal (TIMESTAMP 'x'), whose type stays in the key.
 * Anything else (E'...', TRUE, NULL, expressions) stays in the key as
 * written. Whether a lifted literal means in DuckDB what it is lifted as
 * is for the caller to check (plancache.c). A marker is the byte 0x01 and
 * a class: 'i' (integer), 'd' (decimal) or 's' (string).
 *
 * Returns 0 with *out filled in, or -1 with *out empty (nothing to free)
 * when the text is not of that form: not INSERT ... VALUES, longer than
 * SQLSHAPE_MAX_TEXT, holding a 0x01 byte, unbalanced, rows of different
 * widths, an unterminated token or comment, a lifted string that is not
 * valid UTF-8, or out of memory.
 */
int sqlshape_scan(const char *sql, size_t len, struct sql_shape *out);

/* Frees what a shape owns and empties it; an empty shape is fine. */
void sqlshape_free(struct sql_shape *sh);

/* ---- pointer-style reading for COPY, on sqllex ---- */

/* Skips white space and comments (--, nested slash-star); returns where they end. */
const char *sqlshape_skip_space(const char *p, const char *end);

/*
 * Skips one token at p (sqllex_token: a word, a number, an operator, a
 * quoted string or identifier, an E'...' string with backslashes, a
 * dollar-quoted string, or a single character) and returns what follows;
 * start is where the text begins: a quote right after a word-initial E
 * is read as that E'...' string. An unterminated token ends at end.
 */
const char *sqlshape_skip_item(const char *start, const char *p, const char *end);

/*
 * Where a plain "INSERT INTO <target> VALUES ..." of len bytes puts its
 * top-level VALUES keyword, or NULL; *target is set to what follows INTO.
 */
const char *sqlshape_insert_values_at(const char *sql, size_t len, const char **target);

#endif
