/*
 * codec.c -- a write as a journal record, and back.
 *
 * A journaled write is one journal record, built by batcher_codec_encode
 * and read back by batcher_decode (at replay). Version 1, little-endian
 * throughout:
 *
 *   u8 version (1), u8 flags (bit 0: DUCKPOND_WRITE_ATOMIC), u16 zero
 *   u32 ncols, u32 table length, the table's bytes,
 *   ncols times: u32 column name length, the name's bytes
 *   u64 nrows, then for each row, for each column: u8 kind and
 *     BOOL: u8 (0/1); INT64, TIMESTAMP: i64; DOUBLE: IEEE-754 bits as u64;
 *     TEXT: u32 length, the bytes; NULL, DEFAULT: nothing
 *
 * Only the rows not marked in skip (may be NULL) are written: rows refused
 * at submit are never journaled. A new layout takes a new version; a
 * reader refuses versions it does not know. The decoder trusts nothing:
 * every length is checked against what is left of the record.
 */
#include <stdlib.h>
#include <string.h>

#include "batcher_int.h"

#define CODEC_VERSION 1
#define CODEC_MAX_NAME 65536

/* Little-endian integers of n bytes. */
static void put_uint(struct dp_buf *c, uint64_t v, int n)
{
    unsigned char b[8];
    for (int i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    dp_buf_add(c, b, (size_t)n);
}

static void put_str(struct dp_buf *c, const char *s, size_t n)
{
    put_uint(c, n, 4);
    dp_buf_add(c, s, n);
}

/* One stored value: its kind, then its bytes. */
static void put_value(struct dp_buf *c, const struct bval *v, const char *text)
{
    put_uint(c, v->kind, 1);
    switch (v->kind) {
    case DUCKPOND_VALUE_BOOL: put_uint(c, v->u.i64 != 0, 1); break;
    case DUCKPOND_VALUE_INT64:
    case DUCKPOND_VALUE_TIMESTAMP: put_uint(c, (uint64_t)v->u.i64, 8); break;
    case DUCKPOND_VALUE_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->u.f64, 8);
        put_uint(c, bits, 8);
        break;
    }
    case DUCKPOND_VALUE_TEXT: put_str(c, text + v->u.off, v->len); break;
    default: break;
    }
}

void batcher_codec_encode(const duckpond_write *w, const uint8_t *skip, struct dp_buf *c)
{
    size_t nrows = 0;
    for (size_t r = 0; r < w->nrows; r++)
        nrows += !(skip && skip[r]);
    /* one allocation for the usual record: header, names, values, text */
    dp_buf_reserve(c, 64 + strlen(w->table) + (size_t)w->ncols * 16 + w->nrows * (size_t)w->ncols * 9 +
                          w->text_len);
    put_uint(c, CODEC_VERSION, 1);
    put_uint(c, w->flags & DUCKPOND_WRITE_ATOMIC ? 1 : 0, 1);
    put_uint(c, 0, 2);
    put_uint(c, (uint64_t)w->ncols, 4);
    put_str(c, w->table, strlen(w->table));
    for (int i = 0; i < w->ncols; i++)
        put_str(c, w->cols[i], strlen(w->cols[i]));
    put_uint(c, nrows, 8);
    for (size_t r = 0; r < w->nrows; r++) {
        if (skip && skip[r])
            continue;
        const struct bval *row = w->vals + r * (size_t)w->ncols;
        for (int i = 0; i < w->ncols; i++)
            put_value(c, &row[i], w->text);
    }
}

int batcher_encode(const duckpond_write *w, void **out, size_t *len)
{
    if (!w || !out || !len)
        return DUCKPOND_MISUSE;
    struct dp_buf c = DP_BUF_INIT;
    batcher_codec_encode(w, NULL, &c);
    *out = dp_buf_take(&c, len);
    return *out ? DUCKPOND_OK : DUCKPOND_NOMEM;
}

/* ------------------------------------------------------------ reading */

/* A reader over a record; any read past its end sets failed. */
struct crd {
    const unsigned char *p;
    size_t len, off;
    bool failed;
};

static uint64_t cr_uint(struct crd *c, int n)
{
    if (c->failed || c->len - c->off < (size_t)n) {
        c->failed = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)c->p[c->off + (size_t)i] << (8 * i);
    c->off += (size_t)n;
    return v;
}

/* A string of the record, or NULL; *n is its length. Points into the record. */
static const char *cr_str(struct crd *c, size_t *n, size_t max)
{
    *n = (size_t)cr_uint(c, 4);
    if (c->failed || *n > max || c->len - c->off < *n) {
        c->failed = true;
        return NULL;
    }
    const char *s = (const char *)c->p + c->off;
    c->off += *n;
    return s;
}

/* A malloc'd, NUL-terminated copy of a name of the record; NULL if bad. */
static char *cr_name(struct crd *c)
{
    size_t n;
    const char *s = cr_str(c, &n, CODEC_MAX_NAME);
    if (!s || n == 0 || memchr(s, 0, n)) {
        c->failed = true;
        return NULL;
    }
    return strndup(s, n);
}

/* Reads one value into v; false when the record is malformed. */
static bool cr_value(struct crd *c, duckpond_value *v)
{
    memset(v, 0, sizeof *v);
    v->kind = (duckpond_value_kind)cr_uint(c, 1);
    switch (v->kind) {
    case DUCKPOND_VALUE_NULL:
    case DUCKPOND_VALUE_DEFAULT: break;
    case DUCKPOND_VALUE_BOOL: v->u.boolean = cr_uint(c, 1) != 0; break;
    case DUCKPOND_VALUE_INT64: v->u.i64 = (int64_t)cr_uint(c, 8); break;
    case DUCKPOND_VALUE_TIMESTAMP: v->u.timestamp_us = (int64_t)cr_uint(c, 8); break;
    case DUCKPOND_VALUE_DOUBLE: {
        uint64_t bits = cr_uint(c, 8);
        memcpy(&v->u.f64, &bits, 8);
        break;
    }
    case DUCKPOND_VALUE_TEXT: v->u.text.ptr = cr_str(c, &v->u.text.len, TEXT_MAX); break;
    default: c->failed = true;
    }
    return !c->failed;
}

/* Reads the header and names of a record into w (table, flags, columns). */
static int decode_names(struct crd *c, duckpond_write *w, uint64_t *ncols)
{
    w->flags = (unsigned)cr_uint(c, 1) & DUCKPOND_WRITE_ATOMIC;
    cr_uint(c, 2);
    *ncols = cr_uint(c, 4);
    w->table = cr_name(c);
    /* a write names at least one column, and each name takes at least 5 bytes */
    if (!c->failed && (*ncols == 0 || *ncols > (uint64_t)(c->len / 5)))
        c->failed = true;
    if (!c->failed && *ncols && !(w->cols = calloc((size_t)*ncols, sizeof *w->cols)))
        return DUCKPOND_NOMEM;
    for (uint64_t i = 0; !c->failed && i < *ncols; i++, w->ncols++)
        w->cols[i] = cr_name(c);
    return DUCKPOND_OK;
}

/* Reads the rows of a record into w through duckpond_write_add_row. */
static int decode_rows(struct crd *c, duckpond_write *w, uint64_t ncols)
{
    uint64_t nrows = cr_uint(c, 8);
    /* each value takes at least its kind byte: a count the rest cannot hold is refused before any row */
    if (!c->failed && (ncols == 0 || nrows > (uint64_t)(c->len - c->off) / ncols))
        c->failed = true;
    if (c->failed)
        return DUCKPOND_OK;
    duckpond_value *row = calloc(ncols ? (size_t)ncols : 1, sizeof *row);
    if (!row)
        return DUCKPOND_NOMEM;
    int rc = DUCKPOND_OK;
    for (uint64_t r = 0; !c->failed && rc == DUCKPOND_OK && r < nrows; r++) {
        for (uint64_t i = 0; i < ncols && cr_value(c, &row[i]); i++)
            ;
        if (!c->failed)
            rc = duckpond_write_add_row(w, row);
    }
    free(row);
    return rc;
}

int batcher_codec_decode(duckpond_batcher *b, const void *payload, size_t len, duckpond_write **out,
                         char **msg)
{
    struct crd c = {payload, len, 0, false};
    *out = NULL;
    *msg = NULL;
    if (!b || (!payload && len))
        return DUCKPOND_MISUSE;
    unsigned version = (unsigned)cr_uint(&c, 1);
    if (!c.failed && version != CODEC_VERSION) {
        *msg = dp_asprintf("journal record version %u is not known (this build reads version %d)", version,
                           CODEC_VERSION);
        return DUCKPOND_MISUSE;
    }
    duckpond_write *w = calloc(1, sizeof *w);
    if (!w)
        return DUCKPOND_NOMEM;
    w->b = b;
    uint64_t ncols = 0;
    int rc = decode_names(&c, w, &ncols);
    if (rc == DUCKPOND_OK)
        rc = decode_rows(&c, w, ncols);
    if (rc == DUCKPOND_NOMEM) {
        batcher_write_free_parts(w);
        return rc;
    }
    if (!c.failed && c.off != len)
        c.failed = true;
    if (c.failed || rc != DUCKPOND_OK) {
        *msg = c.failed
                   ? dp_asprintf("journal record is malformed (%zu bytes, stopped at byte %zu)", len, c.off)
                   : dp_asprintf("journal record cannot be rebuilt: %s", duckpond_strerror(rc));
        batcher_write_free_parts(w);
        return c.failed ? DUCKPOND_MISUSE : rc;
    }
    *out = w;
    return DUCKPOND_OK;
}

int batcher_decode(duckpond_batcher *b, const void *payload, size_t len, duckpond_write **out, char **msg)
{
    int rc = batcher_codec_decode(b, payload, len, out, msg);
    if (rc == DUCKPOND_OK)
        __atomic_add_fetch(&b->live_writes, 1, __ATOMIC_RELAXED); /* the caller's, as from write_new */
    return rc;
}
