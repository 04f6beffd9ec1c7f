/*
 * server.h -- the duckpond server: options, the listener, the registry of
 * sessions (for limits, cancel requests and shutdown).
 */
#ifndef DUCKPOND_SERVER_H
#define DUCKPOND_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duckpond.h"

struct users;
struct http_server;
struct session;

struct server_options {
    const char *db_path;        /* default "./duckpond.duckdb" */
    const char *listen;         /* default "127.0.0.1" */
    int pg_port;                /* default 5433 */
    int http_port;              /* default 8080; 0 disables HTTP */
    const char *users_path;     /* NULL: trust (loopback only) */
    int max_connections;        /* default 1000 */
    bool batch;                 /* single-row INSERTs through the batcher; default on */
    size_t max_message;         /* cap on a Query/Parse/Bind/CopyData body; default 64 MiB */
    int shutdown_grace_ms;      /* running statements get this long at shutdown; default 5000 */
    const char *port_file;      /* if set, the bound PostgreSQL port is written here */
    duckpond_ack ack;           /* sessions' default ack mode: commit (default) or journal */
    const char *journal_dir;    /* NULL: "<db_path>.journal"; "" (or an in-memory db): none */
    size_t journal_segment_bytes; /* 0: the library's default */
    int journal_apply_delay_ms;   /* 0: the library's default (50); -1: apply at once */
};

/* Fills in the defaults. */
void server_options_default(struct server_options *opt);

struct server {
    struct server_options opt;
    duckpond_db *db;
    duckpond_batcher *batcher;
    bool journal;         /* the batcher has a journal: ack mode journal is available */
    char *journal_dir;    /* the journal's directory (owned), or NULL */
    struct users *users;
    struct http_server *http;
    int listen_fd;
    int pg_port; /* the bound port */

    pthread_mutex_t lock; /* guards the session list and counts */
    pthread_cond_t idle;  /* signalled when a session thread ends */
    struct session *sessions;
    int nsessions;        /* sessions admitted (counted against the limit) */
    int nthreads;         /* session threads alive, admitted or not */
    atomic_int stopping;
    atomic_uint next_pid;
    pthread_t timer;      /* interrupts statements past their statement_timeout */
    bool timer_started;
    pthread_cond_t timer_wake; /* signalled at stop */
};

/*
 * Runs the server until SIGTERM or SIGINT: opens the database, starts the
 * batcher, HTTP and the listener, serves, then shuts down in order (stop
 * accepting, let statements finish or cancel them, flush the batcher,
 * checkpoint). Returns the process exit status; errors at start-up are
 * printed to stderr.
 */
int server_run(const struct server_options *opt);

/*
 * Admits a session that finished its startup: 0, or -1 when the
 * connection limit is reached. Assigns its pid and secret.
 */
int server_admit(struct server *srv, struct session *s);

/* Forgets a session (admitted or not); called once, as its thread ends. */
void server_release(struct server *srv, struct session *s, bool admitted);

/* A session thread has finished with everything it used; shutdown waits for these. */
void server_thread_done(struct server *srv);

/* Acts on a CancelRequest: interrupts that session's running statement. */
void server_cancel(struct server *srv, int32_t pid, int32_t secret);

#endif
