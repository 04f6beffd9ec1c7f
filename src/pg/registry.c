/*
 * registry.c -- the list of PostgreSQL sessions (registry.h): admission,
 * the connections waiting to authenticate and their deadline, cancel
 * requests, the statement_timeout timer, and shutdown.
 *
 * One mutex guards the list and the counts. A session's entry stays
 * listed until its own thread releases it, just before freeing it, so
 * whoever holds the lock may reach any listed entry: the timer, a cancel
 * request (which arrives on another connection's thread) and shutdown
 * interrupt statements that way. The running statement of an entry has a
 * lock of its own (run_lock), taken inside the registry's, so that a
 * session marking its statement as running never waits for the list.
 */
#include "registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"

/*
 * statement_timeout: every TIMEOUT_TICK_MS the timer thread interrupts the
 * statements that ran past their session's deadline (so a timeout fires
 * up to one tick late); the statement's session reports 57014. The same
 * tick closes connections past their authentication deadline.
 */
#define TIMEOUT_TICK_MS 20

void registry_init(struct registry *r, int max_connections, int max_preauth, int64_t auth_timeout_ms)
{
    memset(r, 0, sizeof *r);
    r->max_connections = max_connections;
    r->max_preauth = max_preauth > 0 ? max_preauth : 1;
    r->auth_timeout_ms = auth_timeout_ms > 0 ? auth_timeout_ms : 0;
    atomic_init(&r->stopping, 0);
    atomic_init(&r->next_pid, 1000);
    pthread_mutex_init(&r->lock, NULL);
    dp_cond_init_monotonic(&r->idle);
    dp_cond_init_monotonic(&r->timer_wake);
}

/* Stops the timer thread, if it runs. */
static void stop_timer(struct registry *r)
{
    if (!r->timer_started)
        return;
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->stopping, 1);
    pthread_cond_broadcast(&r->timer_wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->timer, NULL);
    r->timer_started = false;
}

void registry_destroy(struct registry *r)
{
    stop_timer(r);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->idle);
    pthread_cond_destroy(&r->timer_wake);
}

void registry_entry_init(struct registry_entry *e, int fd)
{
    memset(e, 0, sizeof *e);
    e->fd = fd;
    pthread_mutex_init(&e->run_lock, NULL);
}

void registry_entry_destroy(struct registry_entry *e)
{
    pthread_mutex_destroy(&e->run_lock);
}

/* ------------------------------------------------------- list and counts */

/*
 * Ends a connection that waits to authenticate, under the lock: shuts its
 * socket down (its own thread then sees the end and frees it) and records
 * why; it stops counting as waiting at once.
 */
static void close_preauth(struct registry *r, struct registry_entry *e, const char *why)
{
    e->preauth = false;
    e->ended_why = why;
    r->npreauth--;
    shutdown(e->fd, SHUT_RDWR);
}

/* The connection waiting to authenticate that came first, under the lock; NULL when none. */
static struct registry_entry *oldest_preauth(struct registry *r)
{
    struct registry_entry *oldest = NULL;
    for (struct registry_entry *e = r->entries; e; e = e->next)
        if (e->preauth && (!oldest || e->added_ms < oldest->added_ms))
            oldest = e;
    return oldest;
}

int registry_add(struct registry *r, struct registry_entry *e)
{
    int rc = -1;
    int64_t now = dp_now_us() / 1000;
    pthread_mutex_lock(&r->lock);
    if (r->nthreads < r->max_connections + r->max_preauth + REGISTRY_REJECT_MARGIN) {
        if (r->npreauth >= r->max_preauth) {
            struct registry_entry *victim = oldest_preauth(r);
            if (victim)
                close_preauth(r, victim,
                              "too many connections waiting to authenticate: the oldest was closed");
        }
        e->next = r->entries;
        r->entries = e;
        e->listed = true;
        e->preauth = true;
        e->added_ms = now;
        e->auth_deadline_ms = r->auth_timeout_ms ? now + r->auth_timeout_ms : 0;
        r->npreauth++;
        r->nthreads++;
        rc = 0;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

const char *registry_end_reason(struct registry *r, struct registry_entry *e)
{
    pthread_mutex_lock(&r->lock);
    const char *why = e->ended_why;
    pthread_mutex_unlock(&r->lock);
    return why;
}

/* A secret key for cancel requests: random, positive. */
static int32_t new_secret(void)
{
    uint32_t secret = 0;
    if (getrandom(&secret, sizeof secret, 0) != sizeof secret)
        secret = (uint32_t)random();
    return (int32_t)(secret & 0x7fffffff);
}

int registry_admit(struct registry *r, struct registry_entry *e)
{
    int rc = -1;
    pthread_mutex_lock(&r->lock);
    if (!e->preauth && e->ended_why) {
        pthread_mutex_unlock(&r->lock);
        return -2;
    }
    if (e->preauth) {
        e->preauth = false;
        r->npreauth--;
    }
    if (r->nadmitted < r->max_connections && !atomic_load(&r->stopping)) {
        r->nadmitted++;
        e->admitted = true;
        e->pid = (int32_t)atomic_fetch_add(&r->next_pid, 1);
        e->secret = new_secret();
        rc = 0;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

bool registry_release(struct registry *r, struct registry_entry *e)
{
    pthread_mutex_lock(&r->lock);
    for (struct registry_entry **pp = &r->entries; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    if (e->admitted)
        r->nadmitted--;
    if (e->preauth)
        r->npreauth--;
    bool listed = e->listed;
    e->admitted = e->listed = e->preauth = false;
    pthread_mutex_unlock(&r->lock);
    return listed;
}

void registry_thread_done(struct registry *r)
{
    pthread_mutex_lock(&r->lock);
    r->nthreads--;
    pthread_cond_broadcast(&r->idle);
    pthread_mutex_unlock(&r->lock);
}

bool registry_stopping(struct registry *r)
{
    return atomic_load(&r->stopping) != 0;
}

/* ----------------------------------------------------- running statements */

void registry_set_dcon(struct registry_entry *e, duckdb_connection dcon, duckpond_conn *conn)
{
    pthread_mutex_lock(&e->run_lock);
    e->dcon = dcon;
    e->conn = conn;
    pthread_mutex_unlock(&e->run_lock);
}

/* Marks the entry's statement running (with its deadline) or finished. */
static void set_running(struct registry_entry *e, bool running)
{
    int64_t deadline = running && e->statement_timeout_ms ? dp_now_us() / 1000 + e->statement_timeout_ms : 0;
    pthread_mutex_lock(&e->run_lock);
    e->running = running;
    e->run_deadline_ms = deadline;
    if (running)
        e->timed_out = false;
    pthread_mutex_unlock(&e->run_lock);
}

void registry_run_begin(struct registry_entry *e)
{
    set_running(e, true);
}

void registry_run_end(struct registry_entry *e)
{
    set_running(e, false);
}

bool registry_timed_out(struct registry_entry *e)
{
    pthread_mutex_lock(&e->run_lock);
    bool timed_out = e->timed_out;
    pthread_mutex_unlock(&e->run_lock);
    return timed_out;
}

/* Interrupts the entry's running statement, if any. */
static void interrupt(struct registry_entry *e)
{
    pthread_mutex_lock(&e->run_lock);
    if (e->running && e->dcon)
        duckdb_interrupt(e->dcon);
    if (e->running && e->conn)
        duckpond_lane_interrupt(e->conn); /* a wait for the write lane is a statement's too */
    pthread_mutex_unlock(&e->run_lock);
}

/* Interrupts the entry's running statement if its statement_timeout has passed. */
static void check_timeout(struct registry_entry *e)
{
    pthread_mutex_lock(&e->run_lock);
    if (e->running && e->run_deadline_ms && !e->timed_out && dp_now_us() / 1000 >= e->run_deadline_ms &&
        e->dcon) {
        e->timed_out = true;
        duckdb_interrupt(e->dcon);
        if (e->conn)
            duckpond_lane_interrupt(e->conn);
    }
    pthread_mutex_unlock(&e->run_lock);
}

void registry_cancel(struct registry *r, int32_t pid, int32_t secret)
{
    pthread_mutex_lock(&r->lock);
    for (struct registry_entry *e = r->entries; e; e = e->next)
        if (e->pid == pid && e->secret == secret && pid != 0) {
            interrupt(e); /* the entry cannot go while we hold the lock */
            break;
        }
    pthread_mutex_unlock(&r->lock);
}

static void *timer_main(void *arg)
{
    struct registry *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!atomic_load(&r->stopping)) {
        int64_t now = dp_now_us() / 1000;
        for (struct registry_entry *e = r->entries; e; e = e->next) {
            if (e->preauth && e->auth_deadline_ms && now >= e->auth_deadline_ms)
                close_preauth(r, e, "authentication timeout: the startup and authentication took too long");
            check_timeout(e); /* the entry cannot go while we hold the lock */
        }
        struct timespec ts = dp_deadline(CLOCK_MONOTONIC, TIMEOUT_TICK_MS);
        pthread_cond_timedwait(&r->timer_wake, &r->lock, &ts);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int registry_start_timer(struct registry *r)
{
    r->timer_started = pthread_create(&r->timer, NULL, timer_main, r) == 0;
    return r->timer_started ? 0 : -1;
}

/* ---------------------------------------------------------------- stop */

/* Waits until no session thread is left, up to ms (< 0: forever). Returns true if none is left. */
static bool wait_sessions(struct registry *r, int ms)
{
    struct timespec deadline = dp_deadline(CLOCK_MONOTONIC, ms > 0 ? ms : 0);
    pthread_mutex_lock(&r->lock);
    while (r->nthreads > 0) {
        if (ms < 0)
            pthread_cond_wait(&r->idle, &r->lock);
        else if (pthread_cond_timedwait(&r->idle, &r->lock, &deadline) == ETIMEDOUT)
            break;
    }
    bool none = r->nthreads == 0;
    pthread_mutex_unlock(&r->lock);
    return none;
}

void registry_stop(struct registry *r, int grace_ms)
{
    atomic_store(&r->stopping, 1);
    pthread_mutex_lock(&r->lock);
    for (struct registry_entry *e = r->entries; e; e = e->next)
        shutdown(e->fd, SHUT_RD);
    pthread_mutex_unlock(&r->lock);
    if (!wait_sessions(r, grace_ms)) {
        pthread_mutex_lock(&r->lock);
        for (struct registry_entry *e = r->entries; e; e = e->next) {
            interrupt(e);
            shutdown(e->fd, SHUT_RDWR);
        }
        pthread_mutex_unlock(&r->lock);
        wait_sessions(r, -1);
    }
    stop_timer(r);
}
