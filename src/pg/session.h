/*
 * session.h -- one PostgreSQL client connection: its DuckDB connection,
 * transaction state, prepared statements, portals and settings.
 */
#ifndef DUCKPOND_SESSION_H
#define DUCKPOND_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "duckpond.h"
#include "pgwire.h"

struct server;
struct stmt;
struct portal;
struct setting;
struct user;
struct plancache;

struct session {
    struct server *srv;
    int fd;
    bool loopback;
    int32_t pid, secret;
    struct session *next; /* in the server's list */

    duckpond_conn *conn;
    duckdb_connection dcon;
    char tx;           /* 'I', 'T' or 'E', as ReadyForQuery reports it */
    bool extended;     /* inside an extended-protocol batch (errors skip to Sync) */
    bool skip_to_sync;
    bool closing;      /* end the session after this message */
    bool read_only;
    char user[64];

    /* input: bytes received, parsed from in_start */
    char *in;
    size_t in_len, in_start, in_cap;
    struct pgbuf out;
    bool write_failed;

    struct stmt *stmts;
    struct portal *portals;
    struct setting *settings;
    bool batch_on;      /* duckpond.batch, kept current by every settings change */
    duckpond_ack ack;   /* duckpond.ack likewise */
    struct plancache *plans; /* analysed INSERT shapes of unprepared statements */
    bool tx_ddl;        /* the open transaction changed the catalog */
    duckdb_prepared_statement json_stmt; /* SELECT json_serialize_sql($1), made once */

    pthread_mutex_t run_lock; /* guards running, for cancel requests */
    bool running;
    int64_t run_deadline_ms;  /* under run_lock: when the running statement times out; 0 never */
    bool timed_out;           /* under run_lock: the timeout interrupted it */
    int64_t statement_timeout_ms; /* the statement_timeout setting; 0 none */

    /* read-your-writes: the highest journal sequence number acknowledged to
     * this session, and the highest it has seen applied */
    uint64_t journal_seq, journal_seen;
};

/* The thread body of a session; arg is a session from session_new. */
void *session_main(void *arg);

/* A session for an accepted socket (NULL when memory runs out). */
struct session *session_new(struct server *srv, int fd, bool loopback);

/* Interrupts the running statement, if any (any thread). */
void session_interrupt(struct session *s);
/* Interrupts the running statement if its statement_timeout has passed (any thread). */
void session_check_timeout(struct session *s);

/* ---- for copy.c ---- */

/* Reads the next message; 0, or -1 when the connection is gone or broken. */
int session_read(struct session *s, struct pgmsg *m);
/* Writes out what is buffered; -1 when the client is gone. */
int session_flush(struct session *s);
/* Queues an ErrorResponse (state T becomes E). */
void session_error(struct session *s, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Queues an ErrorResponse for a DuckDB error. */
void session_duckdb_error(struct session *s, duckdb_error_type type, const char *message);
void session_set_running(struct session *s, bool running);

/* The session's ack mode for batcher writes (SET duckpond.ack). */
duckpond_ack session_ack(struct session *s);
/* Records the sequence number of a write acknowledged from the journal. */
void session_note_seq(struct session *s, uint64_t seq);
/*
 * Read-your-writes: before a statement that reads, waits (boundedly) until
 * the session's journaled writes are applied. 0, or -1 with an error
 * queued (57014 on a timeout).
 */
int session_wait_own_writes(struct session *s);


#endif
