/*
 * buf.h -- one growing byte buffer, one array-growth helper and one
 * malloc'd printf, for every part of duckpond.
 *
 * struct dp_buf keeps its bytes NUL-terminated so that text built in it can
 * be handed to C string functions as it is. A failed allocation (or a size
 * past the buffer's limit) makes it sticky-failed: later appends do
 * nothing, and the builder checks `failed` once at the end (pgbouncer's
 * PktBuf.failed), instead of testing every call.
 */
#ifndef DUCKPOND_BUF_H
#define DUCKPOND_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct dp_buf {
    char *data;   /* NULL until the first append; NUL-terminated after it */
    size_t len;   /* bytes held, not counting the terminating NUL */
    size_t cap;   /* bytes allocated */
    size_t limit; /* 0: none; else growing past this many bytes fails the buffer */
    bool failed;  /* sticky: memory ran out or the limit was passed */
};

/* An empty buffer; equivalent to zero-initialising it. */
/* clang-format off */
#define DP_BUF_INIT {0}
/* clang-format on */

void dp_buf_free(struct dp_buf *b);
/* Empties the buffer (and clears failed), keeping at most keep bytes allocated. */
void dp_buf_clear(struct dp_buf *b, size_t keep);
/* Room for more bytes after len (and the NUL). false, with b failed, when there is none. */
bool dp_buf_reserve(struct dp_buf *b, size_t more);

void dp_buf_add(struct dp_buf *b, const void *p, size_t n);
void dp_buf_str(struct dp_buf *b, const char *s);
void dp_buf_byte(struct dp_buf *b, char c);
void dp_buf_printf(struct dp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dp_buf_vprintf(struct dp_buf *b, const char *fmt, va_list ap);
/* Cuts the buffer back to len bytes (len <= b->len). */
void dp_buf_truncate(struct dp_buf *b, size_t len);

/*
 * Takes the bytes: a malloc'd NUL-terminated string the caller frees (an
 * empty string for an empty buffer), with its length in *len when len is
 * not NULL. NULL when the buffer failed or memory ran out; the buffer is
 * empty afterwards either way.
 */
char *dp_buf_take(struct dp_buf *b, size_t *len);

/*
 * Grows the array *arrp of *cap elements of elem bytes so that it holds at
 * least need elements (doubling, at least 8). Overflow-checked. 0, or -1
 * with the array and *cap unchanged when memory runs out or the size
 * overflows. arrp is the address of the array pointer (a T **).
 */
int dp_grow(void *arrp, size_t *cap, size_t need, size_t elem);

/* A malloc'd printf; NULL only when memory runs out. */
char *dp_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *dp_vasprintf(const char *fmt, va_list ap);

/*
 * SQL quoting, the one pair everything uses: name as a double-quoted
 * identifier ("" doubled inside), and s (n bytes) as a single-quoted
 * standard string literal ('' doubled inside).
 */
void dp_sql_ident(struct dp_buf *b, const char *name);
void dp_sql_literal(struct dp_buf *b, const char *s, size_t n);

#endif
