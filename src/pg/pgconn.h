/*
 * pgconn.h -- one PostgreSQL client socket, framed: messages in through
 * pgwire's capped parser, replies built whole in an output buffer and
 * written before the next blocking read, errors queued as ErrorResponse
 * (and, inside an extended-protocol batch, everything up to Sync skipped),
 * and the reason the connection ends. Used by the session and by COPY;
 * it knows nothing of statements or transactions.
 */
#ifndef DUCKPOND_PGCONN_H
#define DUCKPOND_PGCONN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "duckdb.h"
#include "pgwire.h"

struct pgtls;
struct pgtls_ctx;

struct pgconn {
    int fd;
    struct pgtls *tls; /* after pgconn_start_tls: every byte goes through it */
    char *in;          /* bytes received, parsed from in_start */
    size_t in_len, in_start, in_cap;
    struct pgbuf out; /* replies not yet written */
    bool extended;    /* inside an extended-protocol batch: an error skips to Sync */
    bool skip_to_sync;
    bool closing; /* the connection ends after this message; reason says why */
    bool write_failed;
    bool peer_closed; /* the read side ended: the client closed it, or the server shut it down */
    char reason[200]; /* why the connection ends: the first reason given */
};

/* Takes fd; pgconn_free closes it. */
void pgconn_init(struct pgconn *c, int fd);
/* Frees the buffers and closes the socket. */
void pgconn_free(struct pgconn *c);

/*
 * The client's SSLRequest is accepted: answers 'S' and runs the TLS
 * handshake; from then on the connection reads and writes through TLS.
 * Bytes the client sent after its SSLRequest and before the handshake
 * end the connection (08P01). 0, or -1 when the connection ends (reason
 * recorded).
 */
int pgconn_start_tls(struct pgconn *c, struct pgtls_ctx *ctx);
/* Whether the connection runs over TLS. */
bool pgconn_has_tls(const struct pgconn *c);

/*
 * Writes out what is buffered, then waits up to timeout_ms (< 0: forever)
 * for input: 1 when some is buffered or arrives (or the socket has an
 * error or end for the next read to report), 0 when the time passed, -1
 * when the write failed.
 */
int pgconn_wait_input(struct pgconn *c, int timeout_ms);

/*
 * Reads one message (a startup-phase packet when startup is true), first
 * writing out what is buffered. The body stays valid until the next read.
 * 0, or -1 when the connection ends (reason recorded; a FATAL error is
 * queued and flushed for a malformed message).
 */
int pgconn_read(struct pgconn *c, bool startup, struct pgmsg *m);

/* Writes out what is buffered. 0, or -1 when the client is gone (the connection then ends). */
int pgconn_flush(struct pgconn *c);
/* Writes out a long result as it grows: flushes once the buffer holds PGCONN_FLUSH_BYTES. */
int pgconn_maybe_flush(struct pgconn *c);
#define PGCONN_FLUSH_BYTES (256u << 10)

/*
 * Queues an ErrorResponse (and counts it). Inside an extended-protocol
 * batch the messages up to Sync are then skipped. The transaction state
 * is the session's: it learns of the failure from its caller.
 */
void pgconn_error(struct pgconn *c, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pgconn_verror(struct pgconn *c, const char *sqlstate, const char *fmt, va_list ap);
/* Queues a FATAL error; the connection ends with it as the reason. */
void pgconn_fatal(struct pgconn *c, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Queues the ErrorResponse for a DuckDB error: its SQLSTATE from the
 * library's classification (type DUCKDB_ERROR_INVALID: guessed from the
 * message's prefix, as prepare errors come without one); an interrupt is
 * 57014, "statement timeout" when timed_out, else "user request".
 */
void pgconn_duckdb_error(struct pgconn *c, duckdb_error_type type, const char *message, bool timed_out);

/*
 * Decides that the connection ends, for the reason given (logged when it
 * ends; the first reason given wins). Nothing is freed here: the owner's
 * thread ends the connection once the message at hand is done.
 */
void pgconn_disconnect(struct pgconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether a message of this type is skipped: an error inside an extended batch skips to Sync. */
bool pgconn_skips(const struct pgconn *c, char type);
/* An extended-protocol message arrived: errors now skip to Sync. */
void pgconn_begin_extended(struct pgconn *c);
/* Sync, or a simple Query: the extended batch (and any skipping) ends. */
void pgconn_end_extended(struct pgconn *c);

#endif
