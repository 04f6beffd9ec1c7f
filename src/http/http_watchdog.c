/*
 * http_watchdog.c -- the open HTTP connections and the watchdog thread.
 *
 * libmicrohttpd's own idle timeout only sees a socket that is silent; a
 * client that trickles its request byte by byte, or a query that runs on
 * while its client waits, needs a clock of its own. Every connection is
 * kept in a list (under one mutex, touched a few times per request); the
 * thread walks it every HTTP_WATCH_PERIOD_MS. Dropping a client means
 * shutting down its socket: that ends the MHD thread serving it through
 * MHD's own error path, never by freeing anything under its feet.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "http_common.h"
#include "http_watchdog.h"

#define HTTP_WATCH_PERIOD_MS 50
#define HTTP_READ_GRACE_MS 5000 /* past a deadline, before the socket is shut */

struct http_conn {
    struct http_conn *prev, *next;
    int fd;
    bool processing;         /* the whole request is in; it is being answered */
    int64_t since_ms;        /* when the current request began to arrive */
    bool dropped;            /* the watchdog shut its socket */
    duckdb_connection query; /* a query running for it, or NULL */
    int64_t deadline_ms;
    bool interrupted;
};

struct http_watchdog {
    int request_timeout_s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    struct http_conn *conns; /* every open connection, under lock */
};

/* The watched entry of an MHD connection (its socket context), or NULL. */
static struct http_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Acts on one connection that may be late; called with w->lock held. */
static void watch_conn(struct http_watchdog *w, struct http_conn *hc, int64_t now)
{
    if (hc->dropped)
        return;
    if (!hc->processing && now - hc->since_ms > (int64_t)w->request_timeout_s * 1000) {
        shutdown(hc->fd, SHUT_RDWR); /* a request that takes too long to arrive */
        hc->dropped = true;
        return;
    }
    if (!hc->query || now <= hc->deadline_ms)
        return;
    if (!hc->interrupted) {
        duckdb_interrupt(hc->query);
        hc->interrupted = true;
    } else if (now > hc->deadline_ms + HTTP_READ_GRACE_MS) {
        shutdown(hc->fd, SHUT_RDWR); /* its answer is not being read */
        hc->dropped = true;
    }
}

static void *watchdog_main(void *arg)
{
    struct http_watchdog *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        int64_t now = http_now_ms();
        for (struct http_conn *hc = w->conns; hc; hc = hc->next)
            watch_conn(w, hc, now);
        struct timespec ts = dp_deadline(CLOCK_MONOTONIC, HTTP_WATCH_PERIOD_MS);
        pthread_cond_timedwait(&w->wake, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct http_watchdog *http_watchdog_start(int request_timeout_s)
{
    struct http_watchdog *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->request_timeout_s = request_timeout_s;
    pthread_mutex_init(&w->lock, NULL);
    dp_cond_init_monotonic(&w->wake);
    if (pthread_create(&w->thread, NULL, watchdog_main, w) != 0) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

void http_watchdog_stop(struct http_watchdog *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

struct http_conn *http_watchdog_open(struct http_watchdog *w, int fd)
{
    struct http_conn *hc = calloc(1, sizeof *hc);
    if (!hc)
        return NULL;
    hc->fd = fd;
    hc->since_ms = http_now_ms();
    pthread_mutex_lock(&w->lock);
    hc->next = w->conns;
    if (w->conns)
        w->conns->prev = hc;
    w->conns = hc;
    pthread_mutex_unlock(&w->lock);
    return hc;
}

void http_watchdog_close(struct http_watchdog *w, struct http_conn *hc)
{
    if (!hc)
        return;
    pthread_mutex_lock(&w->lock);
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        w->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    pthread_mutex_unlock(&w->lock);
    free(hc);
}

void http_watchdog_phase(struct http_watchdog *w, struct MHD_Connection *c, bool processing)
{
    struct http_conn *hc = conn_of(c);
    if (!hc)
        return;
    pthread_mutex_lock(&w->lock);
    hc->processing = processing;
    hc->since_ms = http_now_ms();
    pthread_mutex_unlock(&w->lock);
}

struct http_conn *http_watchdog_query_begin(struct http_watchdog *w, struct MHD_Connection *c,
                                            duckdb_connection conn, int64_t deadline_ms)
{
    struct http_conn *hc = conn_of(c);
    if (!hc)
        return NULL;
    pthread_mutex_lock(&w->lock);
    hc->query = conn;
    hc->deadline_ms = deadline_ms;
    hc->interrupted = false;
    pthread_mutex_unlock(&w->lock);
    return hc;
}

bool http_watchdog_query_end(struct http_watchdog *w, struct http_conn *hc)
{
    if (!hc)
        return false;
    pthread_mutex_lock(&w->lock);
    bool interrupted = hc->interrupted;
    hc->query = NULL;
    hc->interrupted = false;
    pthread_mutex_unlock(&w->lock);
    return interrupted;
}

void http_watchdog_interrupt_all(struct http_watchdog *w)
{
    pthread_mutex_lock(&w->lock);
    for (struct http_conn *hc = w->conns; hc; hc = hc->next) {
        if (hc->query && !hc->interrupted) {
            duckdb_interrupt(hc->query);
            hc->interrupted = true;
        }
    }
    pthread_mutex_unlock(&w->lock);
}
