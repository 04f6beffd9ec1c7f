/*
 * pgconn.c -- framed socket I/O of one PostgreSQL client (pgconn.h).
 *
 * Input: bytes are received into a buffer and cut into messages by
 * pgwire_parse, which never trusts a length field beyond its type's cap;
 * a buffer grown for a large message is given back once it is consumed,
 * so that an idle connection holds little memory. Output: every reply is
 * built whole in a pgbuf and written before the connection blocks to read
 * again (or as a long result grows), so an error half-way never leaves
 * half a message on the wire.
 *
 * The end of a connection is decided here (pgconn_disconnect, with a
 * reason) and carried out by the owner's thread when the message at hand
 * is done, never inside the code that noticed it.
 *
 * The socket is read and written in two functions only, io_send and
 * io_recv: through TLS once pgconn_start_tls succeeded (pgtls.c), plain
 * before, so that nothing else of the protocol knows which it is.
 */
#include "pgconn.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "duckpond.h"
#include "metrics.h"
#include "pgtls.h"

/* Input and output buffers larger than this are given back once empty. */
#define PGCONN_KEEP_BYTES (64u << 10)
/* The least a read asks the kernel for. */
#define PGCONN_READ_BYTES 8192

void pgconn_init(struct pgconn *c, int fd)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    pgbuf_init(&c->out);
}

void pgconn_free(struct pgconn *c)
{
    pgtls_free(c->tls);
    c->tls = NULL;
    pgbuf_free(&c->out);
    free(c->in);
    c->in = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void pgconn_disconnect(struct pgconn *c, const char *fmt, ...)
{
    if (!c->closing) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof c->reason, fmt, ap);
        va_end(ap);
    }
    c->closing = true;
}

/* ------------------------------------------------ the socket, plain or TLS */

/* Sends all n bytes. 0, or -1 with the reason in err. */
static int io_send(struct pgconn *c, const char *p, size_t n, char *err, size_t errlen)
{
    if (c->tls)
        return pgtls_write(c->tls, p, n, err, errlen) < 0 ? -1 : 0;
    size_t off = 0;
    while (off < n) {
        ssize_t r = send(c->fd, p + off, n - off, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "%s", r < 0 ? strerror(errno) : "connection closed");
            return -1;
        }
        off += (size_t)r;
    }
    return 0;
}

/* Receives up to n bytes: > 0, 0 when the client closed the connection, -1 with the reason in err. */
static ssize_t io_recv(struct pgconn *c, char *p, size_t n, char *err, size_t errlen)
{
    if (c->tls)
        return pgtls_read(c->tls, p, n, err, errlen);
    for (;;) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            snprintf(err, errlen, "%s", strerror(errno));
        return r;
    }
}

int pgconn_start_tls(struct pgconn *c, struct pgtls_ctx *ctx)
{
    if (c->in_start != c->in_len) {
        /* bytes sent before the handshake would pass for protected ones (CVE-2021-23214) */
        pgconn_fatal(c, "08P01", "received unencrypted data after SSL request");
        pgconn_flush(c);
        return -1;
    }
    pgbuf_byte(&c->out, 'S');
    if (pgconn_flush(c) != 0)
        return -1;
    char err[300];
    if (pgtls_accept(ctx, c->fd, &c->tls, err, sizeof err) != 0) {
        pgconn_disconnect(c, "%s", err);
        return -1;
    }
    return 0;
}

bool pgconn_has_tls(const struct pgconn *c)
{
    return c->tls != NULL;
}

int pgconn_wait_input(struct pgconn *c, int timeout_ms)
{
    if (c->in_start != c->in_len || (c->tls && pgtls_pending(c->tls)))
        return 1;
    if (pgconn_flush(c) != 0)
        return -1;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    for (;;) {
        int n = poll(&pfd, 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue; /* waits up to the timeout again: a signal here is rare, and it only lengthens it */
        return n > 0 ? 1 : n == 0 ? 0 : 1; /* a poll error: the read that follows reports it */
    }
}

/* -------------------------------------------------------------- output */

int pgconn_flush(struct pgconn *c)
{
    if (c->write_failed)
        return -1;
    if (c->out.failed) {
        c->write_failed = true;
        pgconn_disconnect(c, "out of memory building a reply");
        return -1;
    }
    char err[300];
    if (io_send(c, c->out.data, c->out.len, err, sizeof err) != 0) {
        c->write_failed = true;
        pgconn_disconnect(c, "could not send to the client: %s", err);
        return -1;
    }
    pgbuf_clear(&c->out, PGCONN_KEEP_BYTES);
    return 0;
}

int pgconn_maybe_flush(struct pgconn *c)
{
    return c->out.len >= PGCONN_FLUSH_BYTES ? pgconn_flush(c) : 0;
}

void pgconn_verror(struct pgconn *c, const char *sqlstate, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    pgwire_error(&c->out, "ERROR", sqlstate, msg, NULL, NULL);
    metrics_error(sqlstate);
    if (c->extended)
        c->skip_to_sync = true;
}

void pgconn_error(struct pgconn *c, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pgconn_verror(c, sqlstate, fmt, ap);
    va_end(ap);
}

void pgconn_fatal(struct pgconn *c, const char *sqlstate, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pgwire_error(&c->out, "FATAL", sqlstate, msg, NULL, NULL);
    metrics_error(sqlstate);
    pgconn_disconnect(c, "FATAL %s: %s", sqlstate, msg);
}

void pgconn_duckdb_error(struct pgconn *c, duckdb_error_type type, const char *message, bool timed_out)
{
    if (!message)
        message = "unknown error";
    if (type == DUCKDB_ERROR_INVALID)
        type = duckpond_error_type_of(message);
    int cls = duckpond_classify(type, message);
    if (cls == DUCKPOND_INTERRUPTED)
        pgconn_error(c, "57014", "canceling statement due to %s",
                     timed_out ? "statement timeout" : "user request");
    else
        pgconn_error(c, duckpond_sqlstate(cls, message), "%s", message);
}

/* --------------------------------------------------------------- input */

/* Empties the input buffer once everything in it was parsed, giving back a large one. */
static void input_reset_if_empty(struct pgconn *c)
{
    if (c->in_start != c->in_len)
        return;
    c->in_start = c->in_len = 0;
    if (c->in_cap > PGCONN_KEEP_BYTES) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

/* Receives more bytes, with room for need bytes in all (0: unknown yet). 0, or -1 when the connection ends. */
static int input_fill(struct pgconn *c, size_t need)
{
    if (c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
        c->in_len -= c->in_start;
        c->in_start = 0;
    }
    size_t want = need > c->in_len + PGCONN_READ_BYTES ? need : c->in_len + PGCONN_READ_BYTES;
    if (dp_grow(&c->in, &c->in_cap, want, 1) != 0) {
        pgconn_fatal(c, "53200", "out of memory");
        pgconn_flush(c);
        return -1;
    }
    if (pgconn_flush(c) != 0)
        return -1;
    char err[300];
    ssize_t n = io_recv(c, c->in + c->in_len, c->in_cap - c->in_len, err, sizeof err);
    if (n == 0) {
        c->peer_closed = true;
        pgconn_disconnect(c, "the client closed the connection");
        return -1;
    }
    if (n < 0) {
        pgconn_disconnect(c, "could not receive from the client: %s", err);
        return -1;
    }
    c->in_len += (size_t)n;
    return 0;
}

int pgconn_read(struct pgconn *c, bool startup, struct pgmsg *m)
{
    input_reset_if_empty(c);
    for (;;) {
        size_t need = 0;
        const char *err = NULL;
        /* no buffer yet (a new connection, or one given back): nothing to parse, and no pointer to offset */
        long r = c->in ? pgwire_parse(c->in + c->in_start, c->in_len - c->in_start, startup, m, &need, &err)
                       : PGWIRE_NEED_MORE;
        if (r > 0) {
            c->in_start += (size_t)r;
            return 0;
        }
        if (r < 0) {
            pgconn_fatal(c, "08P01", "invalid frontend message: %s", err);
            pgconn_flush(c);
            return -1;
        }
        if (input_fill(c, need) != 0)
            return -1;
    }
}

/* ------------------------------------------------- extended-protocol batch */

bool pgconn_skips(const struct pgconn *c, char type)
{
    return c->skip_to_sync && type != 'S' && type != 'X';
}

void pgconn_begin_extended(struct pgconn *c)
{
    c->extended = true;
}

void pgconn_end_extended(struct pgconn *c)
{
    c->extended = false;
    c->skip_to_sync = false;
}
