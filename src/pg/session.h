/*
 * session.h -- a PostgreSQL client connection, served on a thread of its
 * own: what the server hands every session, and how a connection starts.
 * Everything else of a session is private to src/pg (session_int.h).
 */
#ifndef DUCKPOND_SESSION_H
#define DUCKPOND_SESSION_H

#include <stdbool.h>

#include "access.h"
#include "duckpond.h"

struct users;
struct registry;
struct pgtls_ctx;

/*
 * What sessions need of the server, filled in once before the first
 * connection and read-only afterwards (the objects it points to are
 * thread-safe). It must outlive every session.
 */
struct pg_env {
    duckpond_db *db;
    duckpond_batcher *batcher;   /* the ingest batcher (NULL: none) */
    bool journal;                /* the batcher has a journal: ack mode journal is available */
    const struct users *users;   /* NULL: trust, on loopback only */
    struct registry *registry;   /* the server's list of sessions */
    bool batch;                  /* single-row INSERTs may take the batcher (--no-batch clears it) */
    duckpond_ack ack;            /* the default of SET duckpond.ack */
    enum access_role trust_role; /* the role of trusted loopback users (no users file) */
    const char *run_dir;         /* the server's private directory DuckDB may open (fdpath.h); NULL: none */
    struct pgtls_ctx *tls;       /* the server's certificate: SSLRequest is answered 'S' (NULL: 'N') */
    bool tls_required;           /* a startup without TLS is refused (28000) */
    const char *idle_tx_timeout; /* the default of idle_in_transaction_session_timeout ("0": none) */
    bool write_lane;             /* the default of SET duckpond.write_lane (--write-lane) */
};

/*
 * Serves an accepted socket (takes fd) on a new thread: startup,
 * authentication, then messages until the connection ends. When the
 * connection cannot be served (past the limit plus a margin, no memory,
 * no thread) it ends at once, logged with the reason. peer names the
 * client in the log ("127.0.0.1:50123").
 */
void session_start(const struct pg_env *env, int fd, bool loopback, const char *peer);

#endif
