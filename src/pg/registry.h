/*
 * registry.h -- the server's list of PostgreSQL sessions, as the threads
 * other than a session's own see them: admission against the connection
 * limit (with a process id and a secret key for cancel requests), cancel
 * requests, the statement_timeout tick, the count of session threads that
 * shutdown waits for, and the shutdown of every session.
 *
 * Before authentication a connection is counted apart from the admitted
 * sessions: at most max_preauth wait at once (the oldest is closed to make
 * room for a new one, so that silent sockets cannot lock anyone out), and
 * each has until its authentication deadline (auth_timeout_ms from its
 * accept) to be admitted, after which the timer shuts its socket down.
 * Only an authenticated session takes one of the max_connections slots.
 *
 * A session embeds a struct registry_entry. What other threads may touch
 * of it is the socket (shutdown only), the pid and secret, and the running
 * statement, under run_lock; an entry stays in the list until its
 * session's thread releases it, so a thread holding the registry's lock
 * may interrupt any listed entry.
 */
#ifndef DUCKPOND_REGISTRY_H
#define DUCKPOND_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "duckdb.h"
#include "duckpond.h"

struct registry_entry {
    int fd;                   /* the session's socket (shut down at stop, never closed here) */
    int32_t pid, secret;      /* set when admitted; 0 before */
    bool listed;              /* in the list and counted as a thread (registry_add) */
    bool admitted;            /* counted against the connection limit (registry_admit) */
    bool preauth;             /* counted as waiting to authenticate (registry_add until admitted or closed) */
    int64_t added_ms;         /* when it was listed (monotonic ms) */
    int64_t auth_deadline_ms; /* while preauth: when the timer closes it */
    const char *ended_why;    /* set when the registry shut its socket down: why (a static string) */
    struct registry_entry *next;

    /* the running statement, for cancel requests and statement_timeout */
    pthread_mutex_t run_lock;
    duckdb_connection dcon;  /* under run_lock: what an interrupt reaches; NULL when none */
    duckpond_conn *conn;     /* under run_lock: its handle, whose wait for the write lane an interrupt ends */
    bool running;            /* under run_lock */
    int64_t run_deadline_ms; /* under run_lock: when the running statement times out; 0 never */
    bool timed_out;          /* under run_lock: the timeout interrupted it */
    int64_t statement_timeout_ms; /* the session's statement_timeout; 0 none (its own thread only) */
};

struct registry {
    pthread_mutex_t lock; /* guards the list and the counts */
    pthread_cond_t idle;  /* signalled when a session thread ends */
    struct registry_entry *entries;
    int max_connections;
    int max_preauth;         /* connections waiting to authenticate at once */
    int64_t auth_timeout_ms; /* how long one may wait (0: forever) */
    int nadmitted;           /* sessions counted against the limit */
    int npreauth;            /* connections waiting to authenticate */
    int nthreads;            /* session threads alive, admitted or not */
    atomic_int stopping;
    atomic_uint next_pid;
    pthread_t timer; /* interrupts statements past their statement_timeout */
    bool timer_started;
    pthread_cond_t timer_wake; /* signalled at stop */
};

/*
 * Threads past max_connections + max_preauth by more than this are closed
 * before their startup is read (closed connections whose threads have not
 * ended yet still count).
 */
#define REGISTRY_REJECT_MARGIN 64

/* max_preauth < 1 is taken as 1; auth_timeout_ms 0: no deadline. */
void registry_init(struct registry *r, int max_connections, int max_preauth, int64_t auth_timeout_ms);
/* Stops the timer if it still runs and frees the locks; the list must be empty. */
void registry_destroy(struct registry *r);

/* Starts the statement_timeout timer thread; 0, or -1 if it could not start. */
int registry_start_timer(struct registry *r);

void registry_entry_init(struct registry_entry *e, int fd);
void registry_entry_destroy(struct registry_entry *e);

/*
 * Lists a connection whose thread is about to start, as waiting to
 * authenticate, with its deadline. When max_preauth wait already, the
 * oldest of them is closed (its socket shut down, ended_why set). 0, or
 * -1 (nothing changed) when the threads alive are already past both
 * limits by REGISTRY_REJECT_MARGIN.
 */
int registry_add(struct registry *r, struct registry_entry *e);

/*
 * Admits a session that authenticated: it stops counting as waiting and
 * takes one of max_connections, with its pid and secret assigned. 0; -1
 * when the connection limit is reached or the server stops; -2 when the
 * registry closed it meanwhile (its deadline passed, or it was the oldest
 * waiting): registry_end_reason says why.
 */
int registry_admit(struct registry *r, struct registry_entry *e);

/* Why the registry shut the entry's socket down (a static string), or NULL when it did not. */
const char *registry_end_reason(struct registry *r, struct registry_entry *e);

/*
 * Takes a session out of the list (and out of the admitted count); after
 * it, no cancel or timeout can reach the entry. Returns whether it was
 * listed, i.e. whether registry_thread_done is owed once it is freed.
 */
bool registry_release(struct registry *r, struct registry_entry *e);

/* A listed session's thread has freed everything it used; shutdown waits for these. */
void registry_thread_done(struct registry *r);

/* Acts on a CancelRequest: interrupts that session's running statement (any thread). */
void registry_cancel(struct registry *r, int32_t pid, int32_t secret);

/* Whether the server is shutting down. */
bool registry_stopping(struct registry *r);

/*
 * Ends every session: shuts the read side of each socket so that idle
 * sessions end at once while running statements finish and send their
 * results; after grace_ms interrupts what still runs and shuts the sockets
 * down; returns when every session thread is gone and the timer stopped.
 */
void registry_stop(struct registry *r, int grace_ms);

/* The entry's DuckDB connection and its handle, reachable by interrupts (NULL: none). */
void registry_set_dcon(struct registry_entry *e, duckdb_connection dcon, duckpond_conn *conn);

/*
 * Marks DuckDB work of the session's thread as running (cancel requests
 * and the statement_timeout then interrupt it), or as finished.
 */
void registry_run_begin(struct registry_entry *e);
void registry_run_end(struct registry_entry *e);
/* Whether the last interrupt of the running (or last run) statement was its timeout. */
bool registry_timed_out(struct registry_entry *e);

#endif
