/*
 * pgwire.c -- PostgreSQL wire protocol v3 framing.
 *
 * The parser never trusts a length field: each message type a client may
 * send has a cap, checked before the caller grows its buffer, so a 2 GiB
 * length is an error, not an allocation. The builder appends whole
 * messages to a buffer (struct dp_buf underneath) that the session writes
 * out in one go; a message that fails half-way is cut off again, so the
 * wire never sees half a message.
 */
#include "pgwire.h"

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

static size_t max_message = 64u << 20;

void pgwire_set_max_message(size_t bytes)
{
    max_message = bytes;
}

size_t pgwire_max_body(char type)
{
    switch (type) {
    case 'Q': /* Query */
    case 'P': /* Parse */
    case 'B': /* Bind */
    case 'd': /* CopyData */ return max_message;
    case 'E': /* Execute */
    case 'D': /* Describe */
    case 'C': /* Close */
    case 'f': /* CopyFail */
    case 'p': /* password / SASL */
    case 'F': /* FunctionCall (refused later) */ return 65536;
    case 'S': /* Sync */
    case 'H': /* Flush */
    case 'X': /* Terminate */
    case 'c': /* CopyDone */ return 0;
    default: return (size_t)-1; /* unknown */
    }
}

/* Writes v big-endian at u (the wire's byte order). */
static void put32(unsigned char *u, uint32_t v)
{
    u[0] = (unsigned char)(v >> 24);
    u[1] = (unsigned char)(v >> 16);
    u[2] = (unsigned char)(v >> 8);
    u[3] = (unsigned char)v;
}

static uint32_t get32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

long pgwire_parse(const char *data, size_t len, bool startup, struct pgmsg *msg, size_t *need,
                  const char **err)
{
    size_t hdr = startup ? 4 : 5;
    *need = 0;
    if (len < hdr)
        return PGWIRE_NEED_MORE;
    char type = startup ? 0 : data[0];
    uint32_t field = get32(data + hdr - 4);
    size_t cap = startup ? PGWIRE_STARTUP_MAX - 4 : pgwire_max_body(type);
    if (cap == (size_t)-1) {
        *err = "unknown message type";
        return PGWIRE_BAD;
    }
    if (field < 4 || field > 0x7fffffffu) {
        *err = "invalid message length";
        return PGWIRE_BAD;
    }
    size_t body = field - 4;
    if (startup && body < 4) {
        *err = "invalid startup packet length";
        return PGWIRE_BAD;
    }
    if (body > cap) {
        *err = "message too large";
        return PGWIRE_BAD;
    }
    *need = hdr + body;
    if (len < hdr + body)
        return PGWIRE_NEED_MORE;
    msg->type = type;
    msg->body = data + hdr;
    msg->len = body;
    return (long)(hdr + body);
}

void pgreader_init(struct pgreader *r, const struct pgmsg *m)
{
    r->p = m->body;
    r->left = m->len;
    r->bad = false;
}

const char *pgreader_bytes(struct pgreader *r, size_t n)
{
    if (r->bad || n > r->left) {
        r->bad = true;
        return NULL;
    }
    const char *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

int8_t pgreader_int8(struct pgreader *r)
{
    const char *p = pgreader_bytes(r, 1);
    return p ? (int8_t)p[0] : 0;
}

int16_t pgreader_int16(struct pgreader *r)
{
    const unsigned char *p = (const unsigned char *)pgreader_bytes(r, 2);
    return p ? (int16_t)(p[0] << 8 | p[1]) : 0;
}

int32_t pgreader_int32(struct pgreader *r)
{
    const char *p = pgreader_bytes(r, 4);
    return p ? (int32_t)get32(p) : 0;
}

const char *pgreader_cstr(struct pgreader *r)
{
    const char *end = r->bad ? NULL : memchr(r->p, '\0', r->left);
    if (!end) {
        r->bad = true;
        return "";
    }
    return pgreader_bytes(r, (size_t)(end - r->p) + 1);
}

/* ------------------------------------------------------------ building */

/* The named fields of struct pgbuf must be dp_buf's own, byte for byte. */
_Static_assert(offsetof(struct pgbuf, data) == offsetof(struct pgbuf, buf.data) &&
                   offsetof(struct pgbuf, len) == offsetof(struct pgbuf, buf.len) &&
                   offsetof(struct pgbuf, cap) == offsetof(struct pgbuf, buf.cap) &&
                   offsetof(struct pgbuf, limit) == offsetof(struct pgbuf, buf.limit) &&
                   offsetof(struct pgbuf, failed) == offsetof(struct pgbuf, buf.failed) &&
                   offsetof(struct pgbuf, msg_start) >= sizeof(struct dp_buf),
               "struct pgbuf's names do not match struct dp_buf");

void pgbuf_init(struct pgbuf *b)
{
    memset(b, 0, sizeof *b);
}

void pgbuf_free(struct pgbuf *b)
{
    dp_buf_free(&b->buf);
    pgbuf_init(b);
}

void pgbuf_clear(struct pgbuf *b, size_t keep)
{
    dp_buf_clear(&b->buf, keep);
}

void pgbuf_reserve(struct pgbuf *b, size_t more)
{
    dp_buf_reserve(&b->buf, more);
}

void pgbuf_bytes(struct pgbuf *b, const void *p, size_t n)
{
    dp_buf_add(&b->buf, p, n);
}

void pgbuf_byte(struct pgbuf *b, char c)
{
    dp_buf_byte(&b->buf, c);
}

void pgbuf_int16(struct pgbuf *b, int16_t v)
{
    unsigned char u[2] = {(unsigned char)((uint16_t)v >> 8), (unsigned char)v};
    pgbuf_bytes(b, u, 2);
}

void pgbuf_int32(struct pgbuf *b, int32_t v)
{
    unsigned char u[4];
    put32(u, (uint32_t)v);
    pgbuf_bytes(b, u, 4);
}

void pgbuf_int64(struct pgbuf *b, int64_t v)
{
    pgbuf_int32(b, (int32_t)((uint64_t)v >> 32));
    pgbuf_int32(b, (int32_t)(uint32_t)v);
}

void pgbuf_str(struct pgbuf *b, const char *s)
{
    dp_buf_str(&b->buf, s);
}

void pgbuf_cstr(struct pgbuf *b, const char *s)
{
    dp_buf_add(&b->buf, s, strlen(s) + 1);
}

void pgbuf_printf(struct pgbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dp_buf_vprintf(&b->buf, fmt, ap);
    va_end(ap);
}

size_t pgbuf_len_placeholder(struct pgbuf *b)
{
    size_t at = b->len;
    pgbuf_int32(b, 0);
    return at;
}

void pgbuf_patch_len(struct pgbuf *b, size_t at)
{
    if (b->failed)
        return;
    put32((unsigned char *)b->data + at, (uint32_t)(b->len - at - 4));
}

void pgbuf_begin(struct pgbuf *b, char type)
{
    b->msg_start = b->len;
    pgbuf_byte(b, type);
    pgbuf_int32(b, 0);
}

void pgbuf_end(struct pgbuf *b)
{
    if (b->failed) {
        /* keep what was whole before this message; the session notices failed */
        dp_buf_truncate(&b->buf, b->msg_start);
        return;
    }
    /* a message's length counts itself, unlike a value's */
    put32((unsigned char *)b->data + b->msg_start + 1, (uint32_t)(b->len - b->msg_start - 1));
}

void pgbuf_abort(struct pgbuf *b)
{
    dp_buf_truncate(&b->buf, b->msg_start);
}

/* ------------------------------------------------------- whole messages */

static void error_fields(struct pgbuf *b, const char *severity, const char *sqlstate, const char *msg,
                         const char *detail, const char *hint)
{
    pgbuf_byte(b, 'S');
    pgbuf_cstr(b, severity);
    pgbuf_byte(b, 'V');
    pgbuf_cstr(b, severity);
    pgbuf_byte(b, 'C');
    pgbuf_cstr(b, sqlstate);
    pgbuf_byte(b, 'M');
    pgbuf_cstr(b, msg);
    if (detail && *detail) {
        pgbuf_byte(b, 'D');
        pgbuf_cstr(b, detail);
    }
    if (hint && *hint) {
        pgbuf_byte(b, 'H');
        pgbuf_cstr(b, hint);
    }
    pgbuf_byte(b, '\0');
}

void pgwire_error(struct pgbuf *b, const char *severity, const char *sqlstate, const char *msg,
                  const char *detail, const char *hint)
{
    pgbuf_begin(b, 'E');
    error_fields(b, severity, sqlstate, msg, detail, hint);
    pgbuf_end(b);
}

void pgwire_notice(struct pgbuf *b, const char *sqlstate, const char *msg)
{
    pgbuf_begin(b, 'N');
    error_fields(b, "WARNING", sqlstate, msg, NULL, NULL);
    pgbuf_end(b);
}

void pgwire_auth(struct pgbuf *b, int32_t code, const char *data, size_t len)
{
    pgbuf_begin(b, 'R');
    pgbuf_int32(b, code);
    pgbuf_bytes(b, data, len);
    pgbuf_end(b);
}

void pgwire_param_status(struct pgbuf *b, const char *name, const char *value)
{
    pgbuf_begin(b, 'S');
    pgbuf_cstr(b, name);
    pgbuf_cstr(b, value);
    pgbuf_end(b);
}

void pgwire_backend_key(struct pgbuf *b, int32_t pid, int32_t secret)
{
    pgbuf_begin(b, 'K');
    pgbuf_int32(b, pid);
    pgbuf_int32(b, secret);
    pgbuf_end(b);
}

void pgwire_ready(struct pgbuf *b, char status)
{
    pgbuf_begin(b, 'Z');
    pgbuf_byte(b, status);
    pgbuf_end(b);
}

void pgwire_command_complete(struct pgbuf *b, const char *tag)
{
    pgbuf_begin(b, 'C');
    pgbuf_cstr(b, tag);
    pgbuf_end(b);
}

void pgwire_empty(struct pgbuf *b, char type)
{
    pgbuf_begin(b, type);
    pgbuf_end(b);
}
