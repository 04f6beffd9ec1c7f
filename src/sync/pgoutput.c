/*
 * pgoutput.c -- decoding of PostgreSQL's logical replication stream: the
 * replication protocol's CopyData frames and the pgoutput messages (proto
 * version 1) they carry, and the encoding of our standby status update.
 *
 * Pure byte handling, no I/O, so that it is tested with hand-built
 * messages and fuzzed. Every read goes through a cursor that refuses to
 * pass the end: a length or count from the wire is never trusted beyond
 * the bytes that are actually there.
 */
#include "pgoutput.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* A read position in a message; failed is sticky, checked once at the end. */
struct cur {
    const uint8_t *p;
    size_t n, at;
    bool failed;
};

static bool has(struct cur *c, size_t k)
{
    if (c->failed || c->n - c->at < k)
        c->failed = true;
    return !c->failed;
}

static uint8_t rd8(struct cur *c)
{
    return has(c, 1) ? c->p[c->at++] : 0;
}

static uint64_t rdn(struct cur *c, int bytes)
{
    uint64_t v = 0;
    if (!has(c, (size_t)bytes))
        return 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | c->p[c->at++];
    return v;
}

static uint16_t rd16(struct cur *c)
{
    return (uint16_t)rdn(c, 2);
}

static uint32_t rd32(struct cur *c)
{
    return (uint32_t)rdn(c, 4);
}

static uint64_t rd64(struct cur *c)
{
    return rdn(c, 8);
}

/* A NUL-terminated string in the message; "" (and failed) when it is not terminated. */
static const char *rdstr(struct cur *c)
{
    if (c->failed)
        return "";
    const uint8_t *end = memchr(c->p + c->at, 0, c->n - c->at);
    if (!end) {
        c->failed = true;
        return "";
    }
    const char *s = (const char *)c->p + c->at;
    c->at = (size_t)(end - c->p) + 1;
    return s;
}

/* Reads a TupleData into t. Each column takes at least one byte, which bounds the count. */
static void rd_tuple(struct cur *c, struct pgo_tuple *t)
{
    int n = rd16(c);
    t->ncols = 0;
    if (!has(c, (size_t)n) || dp_grow(&t->vals, &t->cap, (size_t)n, sizeof *t->vals) != 0) {
        c->failed = true;
        return;
    }
    for (int i = 0; i < n && !c->failed; i++) {
        struct pgo_value *v = &t->vals[i];
        v->kind = (char)rd8(c);
        v->data = NULL;
        v->len = 0;
        if (v->kind == 't') {
            uint32_t len = rd32(c);
            if (!has(c, len))
                return;
            v->data = (const char *)c->p + c->at;
            v->len = len;
            c->at += len;
        } else if (v->kind != 'n' && v->kind != 'u') {
            c->failed = true; /* 'b' (binary) is never asked for */
        }
    }
    t->ncols = n;
}

static void rd_relation(struct cur *c, struct pgo_msg *m)
{
    m->relid = rd32(c);
    m->nspname = rdstr(c);
    m->relname = rdstr(c);
    m->replident = (char)rd8(c);
    int n = rd16(c);
    m->ncols = 0;
    /* each column is at least 10 bytes: flags, an empty name, type and typmod */
    if (!has(c, (size_t)n * 10) || dp_grow(&m->cols, &m->cols_cap, (size_t)n, sizeof *m->cols) != 0) {
        c->failed = true;
        return;
    }
    for (int i = 0; i < n && !c->failed; i++) {
        struct pgo_relcol *col = &m->cols[i];
        col->key = rd8(c) & 1;
        col->name = rdstr(c);
        col->type = rd32(c);
        col->typmod = (int32_t)rd32(c);
    }
    m->ncols = n;
}

/* Update and Delete: an optional ('K' or 'O') old tuple; Update then 'N' and the new one. */
static void rd_change(struct cur *c, struct pgo_msg *m)
{
    m->relid = rd32(c);
    m->old_kind = 0;
    m->old_tuple.ncols = m->new_tuple.ncols = 0;
    char part = (char)rd8(c);
    if (m->kind == PGO_INSERT) {
        if (part != 'N')
            c->failed = true;
        rd_tuple(c, &m->new_tuple);
        return;
    }
    if (part == 'K' || part == 'O') {
        m->old_kind = part;
        rd_tuple(c, &m->old_tuple);
        if (m->kind == PGO_UPDATE)
            part = (char)rd8(c);
    } else if (m->kind == PGO_DELETE) {
        c->failed = true; /* a delete always names the row */
    }
    if (m->kind == PGO_UPDATE) {
        if (part != 'N')
            c->failed = true;
        rd_tuple(c, &m->new_tuple);
    }
}

static void rd_truncate(struct cur *c, struct pgo_msg *m)
{
    uint32_t n = rd32(c);
    m->truncate_flags = rd8(c);
    m->nrelids = 0;
    if (!has(c, (size_t)n * 4) || dp_grow(&m->relids, &m->relids_cap, n, sizeof *m->relids) != 0) {
        c->failed = true;
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        m->relids[i] = rd32(c);
    m->nrelids = (int)n;
}

int pgo_decode(const uint8_t *p, size_t n, struct pgo_msg *m, char *err, size_t errlen)
{
    struct cur c = {.p = p, .n = n};
    m->kind = (enum pgo_kind)rd8(&c);
    switch (m->kind) {
    case PGO_BEGIN:
        m->lsn = rd64(&c);
        m->commit_time = (int64_t)rd64(&c);
        m->xid = rd32(&c);
        break;
    case PGO_COMMIT:
        rd8(&c); /* flags, unused */
        m->lsn = rd64(&c);
        m->end_lsn = rd64(&c);
        m->commit_time = (int64_t)rd64(&c);
        break;
    case PGO_ORIGIN:
        m->lsn = rd64(&c);
        m->nspname = rdstr(&c);
        break;
    case PGO_RELATION: rd_relation(&c, m); break;
    case PGO_TYPE:
        m->relid = rd32(&c);
        m->nspname = rdstr(&c);
        m->relname = rdstr(&c);
        break;
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE: rd_change(&c, m); break;
    case PGO_TRUNCATE: rd_truncate(&c, m); break;
    case PGO_MESSAGE: c.at = n; break; /* logical decoding messages are not asked for; skipped */
    default: snprintf(err, errlen, "unknown pgoutput message kind 0x%02x", n ? p[0] : 0); return -1;
    }
    if (c.failed) {
        snprintf(err, errlen, "malformed pgoutput message '%c' (%zu bytes)", (char)m->kind, n);
        return -1;
    }
    return 0;
}

void pgo_msg_free(struct pgo_msg *m)
{
    free(m->cols);
    free(m->old_tuple.vals);
    free(m->new_tuple.vals);
    free(m->relids);
    memset(m, 0, sizeof *m);
}

int pgo_frame_decode(const uint8_t *p, size_t n, struct pgo_frame *f, char *err, size_t errlen)
{
    struct cur c = {.p = p, .n = n};
    memset(f, 0, sizeof *f);
    f->kind = (char)rd8(&c);
    if (f->kind == 'w') {
        f->wal_start = rd64(&c);
        f->wal_end = rd64(&c);
        f->send_time = (int64_t)rd64(&c);
        f->data = p + c.at;
        f->len = c.failed ? 0 : n - c.at;
    } else if (f->kind == 'k') {
        f->wal_end = rd64(&c);
        f->send_time = (int64_t)rd64(&c);
        f->reply_requested = rd8(&c) != 0;
    } else {
        snprintf(err, errlen, "unknown replication frame kind 0x%02x", n ? p[0] : 0);
        return -1;
    }
    if (c.failed) {
        snprintf(err, errlen, "short replication frame '%c' (%zu bytes)", f->kind, n);
        return -1;
    }
    return 0;
}

static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

size_t pgo_status_encode(uint8_t out[PGO_STATUS_LEN], uint64_t written, uint64_t flushed, uint64_t applied,
                         int64_t now, bool reply)
{
    out[0] = 'r';
    wr64(out + 1, written);
    wr64(out + 9, flushed);
    wr64(out + 17, applied);
    wr64(out + 25, (uint64_t)now);
    out[33] = reply ? 1 : 0;
    return PGO_STATUS_LEN;
}

void pgo_lsn_format(uint64_t lsn, char *out, size_t n)
{
    snprintf(out, n, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

int pgo_lsn_parse(const char *s, uint64_t *lsn)
{
    unsigned hi, lo;
    int used = 0;
    if (!s || sscanf(s, "%X/%X%n", &hi, &lo, &used) != 2 || s[used])
        return -1;
    *lsn = (uint64_t)hi << 32 | lo;
    return 0;
}
