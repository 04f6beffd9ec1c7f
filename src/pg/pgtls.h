/*
 * pgtls.h -- TLS for PostgreSQL connections (OpenSSL): the server's
 * context made once from a certificate chain and a key, and one
 * connection's TLS after the client's SSLRequest was answered 'S'.
 * pgconn.c is its only user on the connection side: it reads and writes
 * through these calls when the connection has TLS, and through the
 * socket otherwise, so no other code branches on it.
 */
#ifndef DUCKPOND_PGTLS_H
#define DUCKPOND_PGTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pgtls_ctx; /* the server's: shared by every connection, read-only once made */
struct pgtls;     /* one connection's */

/*
 * Makes the server's context from PEM files: cert (the certificate chain,
 * the server's own first) and key (its private key, which must match).
 * TLS 1.2 is the least version accepted. 0, or -1 with the reason in err.
 * Freed with pgtls_ctx_free.
 */
int pgtls_ctx_new(const char *cert, const char *key, struct pgtls_ctx **out, char *err, size_t errlen);
void pgtls_ctx_free(struct pgtls_ctx *ctx);

/*
 * The server's side of the handshake on the connected socket fd (not
 * taken: the caller still closes it). 0 with *out set, or -1 with the
 * reason in err (a client that gave up, a version or cipher refused, a
 * timeout that shut the socket down).
 */
int pgtls_accept(struct pgtls_ctx *ctx, int fd, struct pgtls **out, char *err, size_t errlen);

/*
 * Reads up to n bytes: > 0 bytes read, 0 when the client closed the
 * connection, -1 on an error (reason in err). Blocks like recv.
 */
ssize_t pgtls_read(struct pgtls *t, void *buf, size_t n, char *err, size_t errlen);
/* Writes all n bytes: n, or -1 on an error (reason in err). */
ssize_t pgtls_write(struct pgtls *t, const void *buf, size_t n, char *err, size_t errlen);
/* Whether decrypted bytes wait inside TLS (a poll of the socket would not see them). */
bool pgtls_pending(const struct pgtls *t);
/* The protocol and cipher agreed, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384", for the log. */
const char *pgtls_describe(const struct pgtls *t, char *out, size_t n);
/* Sends close_notify (best effort, never blocking for the reply) and frees; the socket stays open. */
void pgtls_free(struct pgtls *t);

#endif
