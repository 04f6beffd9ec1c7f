/*
 * server.h -- the duckpond server process: its options and its run.
 */
#ifndef DUCKPOND_SERVER_H
#define DUCKPOND_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "duckpond.h"

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
    int journal_apply_delay_ms;   /* 0: the library's default (50); -1: apply at once */
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
