/*
 * pgtls.c -- TLS for PostgreSQL connections, over OpenSSL (pgtls.h).
 *
 * One SSL_CTX for the server, made at start-up: the certificate chain and
 * key from PEM files (checked to match, so that a wrong pair fails the
 * start rather than every handshake), TLS 1.2 at least, no renegotiation,
 * no session tickets or cache (every connection does a full handshake:
 * resumption would save little for long-lived database sessions and adds
 * state to keep secret). The sockets stay blocking: a session is a thread
 * of its own, and a stalled handshake is ended from outside by the
 * authentication deadline, which shuts the socket down.
 *
 * Errors are taken from OpenSSL's per-thread queue right away and turned
 * into a line for the log, so that nothing is left behind for the next
 * call on this thread.
 */
#include "pgtls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pgtls_ctx {
    SSL_CTX *ssl_ctx;
};

struct pgtls {
    SSL *ssl;
    bool failed; /* a fatal error: no close_notify may follow (OpenSSL's rule) */
};

/* The reason of the last OpenSSL failure (what remains queued is dropped), or of the system call. */
static void ssl_reason(int ssl_error, char *err, size_t n, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    if (*buf)
        snprintf(err, n, "%s: %s", what, buf);
    else if (ssl_error == SSL_ERROR_SYSCALL && errno)
        snprintf(err, n, "%s: %s", what, strerror(errno));
    else if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN)
        snprintf(err, n, "%s: the client closed the connection", what);
    else
        snprintf(err, n, "%s: TLS error %d", what, ssl_error);
}

int pgtls_ctx_new(const char *cert, const char *key, struct pgtls_ctx **out, char *err, size_t errlen)
{
    *out = NULL;
    struct pgtls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx || !(ctx->ssl_ctx = SSL_CTX_new(TLS_server_method()))) {
        snprintf(err, errlen, "TLS: out of memory");
        free(ctx);
        return -1;
    }
    SSL_CTX *c = ctx->ssl_ctx;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(c, SSL_MODE_AUTO_RETRY);
    if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
        ssl_reason(0, err, errlen, "TLS: cannot load the certificate");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
        ssl_reason(0, err, errlen, "TLS: cannot load the private key");
        goto fail;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        ssl_reason(0, err, errlen, "TLS: the private key does not match the certificate");
        goto fail;
    }
    *out = ctx;
    return 0;
fail:
    pgtls_ctx_free(ctx);
    return -1;
}

void pgtls_ctx_free(struct pgtls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

int pgtls_accept(struct pgtls_ctx *ctx, int fd, struct pgtls **out, char *err, size_t errlen)
{
    *out = NULL;
    struct pgtls *t = calloc(1, sizeof *t);
    if (!t || !(t->ssl = SSL_new(ctx->ssl_ctx)) || SSL_set_fd(t->ssl, fd) != 1) {
        snprintf(err, errlen, "TLS: out of memory");
        pgtls_free(t);
        return -1;
    }
    ERR_clear_error();
    errno = 0;
    int rc = SSL_accept(t->ssl);
    if (rc != 1) {
        ssl_reason(SSL_get_error(t->ssl, rc), err, errlen, "TLS handshake failed");
        SSL_free(t->ssl); /* no close_notify after a failed handshake */
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

ssize_t pgtls_read(struct pgtls *t, void *buf, size_t n, char *err, size_t errlen)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read(t->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (rc > 0)
        return rc;
    int e = SSL_get_error(t->ssl, rc);
    /* close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a plain end of the stream */
    if (e == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return 0;
    }
    ssl_reason(e, err, errlen, "TLS read failed");
    t->failed = true;
    return -1;
}

ssize_t pgtls_write(struct pgtls *t, const void *buf, size_t n, char *err, size_t errlen)
{
    size_t off = 0;
    while (off < n) {
        size_t part = n - off > INT32_MAX ? INT32_MAX : n - off;
        ERR_clear_error();
        errno = 0;
        int rc = SSL_write(t->ssl, (const char *)buf + off, (int)part);
        if (rc <= 0) {
            ssl_reason(SSL_get_error(t->ssl, rc), err, errlen, "TLS write failed");
            t->failed = true;
            return -1;
        }
        off += (size_t)rc;
    }
    return (ssize_t)n;
}

bool pgtls_pending(const struct pgtls *t)
{
    return SSL_pending(t->ssl) > 0;
}

const char *pgtls_describe(const struct pgtls *t, char *out, size_t n)
{
    snprintf(out, n, "%s %s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
    return out;
}

void pgtls_free(struct pgtls *t)
{
    if (!t)
        return;
    if (t->ssl) {
        /* one close_notify, not waiting for the client's: the socket is closed next */
        if (!t->failed && !(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN))
            SSL_shutdown(t->ssl);
        ERR_clear_error();
        SSL_free(t->ssl);
    }
    free(t);
}
