/*
 * server.h -- the duckpond server process: its options and its run.
 */
#ifndef DUCKPOND_SERVER_H
#define DUCKPOND_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "access.h"
#include "duckpond.h"
#include "ilp_ingest.h"

struct server_options {
    const char *db_path;          /* default "./duckpond.duckdb" */
    const char *listen;           /* default "127.0.0.1" */
    int pg_port;                  /* default 5433 */
    int http_port;                /* default 8080; 0 disables HTTP */
    const char *users_path;       /* NULL: trust (loopback only) */
    int max_connections;          /* default 1000 */
    bool batch;                   /* single-row INSERTs through the batcher; default on */
    bool write_lane;              /* the default of SET duckpond.write_lane; default off */
    size_t max_message;           /* cap on a Query/Parse/Bind/CopyData body; default 64 MiB */
    int shutdown_grace_ms;        /* running statements get this long at shutdown; default 5000 */
    const char *port_file;        /* if set, the bound PostgreSQL port is written here */
    duckpond_ack ack;             /* sessions' default ack mode: commit (default) or journal */
    const char *journal_dir;      /* NULL: "<db_path>.journal"; "" (or an in-memory db): none */
    size_t journal_segment_bytes; /* 0: the library's default */
    size_t queue_max_rows;        /* the batcher's queue cap in rows; 0: the library's default */
    size_t queue_max_bytes;       /* likewise in bytes */
    int journal_apply_delay_ms;   /* 0: the library's default (50); -1: apply at once */
    const char *files_dir;        /* the one directory of server files admins may use (NULL: none) */
    enum access_role trust_role;  /* the role of trusted loopback users (no users file); default rw */
    const char *run_dir_parent;   /* where the server's private directory is made; NULL: $TMPDIR or /tmp */
    const char *tls_cert;         /* PEM certificate chain: TLS for PostgreSQL and HTTPS (with tls_key) */
    const char *tls_key;          /* PEM private key of tls_cert */
    bool tls_required;            /* PostgreSQL startups without TLS are refused (needs tls_cert) */
    bool allow_plaintext;         /* a non-loopback listen address may go without TLS */
    int auth_timeout_ms;          /* the deadline of startup and authentication; default 60000 */
    int max_unauthenticated;      /* connections waiting to authenticate at once; default 1000 */
    int idle_tx_timeout_ms;       /* default idle_in_transaction_session_timeout; 0 (default): none */
    int ilp_port;                 /* line protocol over TCP; default 9009; 0 disables it */
    bool ilp_port_given;          /* the port was asked for: failing to bind it is fatal */
    bool ilp_allow_remote;        /* TCP on --listen's address rather than 127.0.0.1 */
    struct ilp_options ilp;       /* ilp.ack defaults to ack */
    bool ilp_ack_given;
    /* PostgreSQL publications mirrored into the database (sync.h): --sync
     * and --sync-publication are given together, once each. */
    const char *sync_conninfo;
    const char *sync_publication;
    const char *sync_slot;   /* NULL: duckpond_<publication> */
    const char *sync_schema; /* NULL: pg */
};

/* Fills in the defaults. */
void server_options_default(struct server_options *opt);

/*
 * Runs the server until SIGTERM or SIGINT: opens the database, starts the
 * batcher, HTTP and the listener, serves, then shuts down in order (stop
 * accepting, let statements finish or cancel them, flush the batcher,
 * checkpoint). Returns the process exit status; errors at start-up are
 * printed to stderr.
 */
int server_run(const struct server_options *opt);

#endif
