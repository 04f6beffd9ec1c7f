/*
 * ilp_tcp.c -- the line protocol over TCP.
 *
 * One thread accepts; each connection gets a thread of its own, as the
 * PostgreSQL sessions do (server.c says why: DuckDB's calls block, and a
 * connection's wait for queue room must stall that connection alone).
 * A connection thread reads into a fixed buffer, frames and parses the
 * lines (ilp_stream) and gathers them into writes that go to the batcher
 * as they fill. When the socket has nothing more to read at once, what
 * was gathered goes too, so a slow feed's rows are not held back.
 *
 * Backpressure: a full write waits for room in the batcher's queue, and
 * while it waits the connection is not read: the kernel's buffers fill
 * and TCP slows the client down. Memory per connection is the read
 * buffer, the line being read (up to the line limit) and the rows of the
 * writes it gathers; the batcher's cap bounds the rest.
 *
 * The protocol has no answers. A bad line is logged and counted, the
 * lines before it are written, and the connection is closed (QuestDB's
 * behaviour); so is a connection whose rows the batcher refused.
 */
#define _GNU_SOURCE /* accept4 */
#include "ilp_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "ilp_stream.h"
#include "metrics.h"
#include "net.h"

#define ILP_READ_BUF (256 * 1024)

struct conn {
    struct ilp_tcp *t;
    int fd;
    char who[96];
    struct conn *next;
};

struct ilp_tcp {
    struct ilp_env *e;
    int listen_fd, port, max_conns;
    int wake[2]; /* a pipe that stops the accept loop */
    pthread_t acceptor;
    pthread_mutex_t mu;
    pthread_cond_t gone;
    struct conn *conns; /* open connections */
    int nconns;
    bool stopping;
};

/* Submits what the sink holds, waiting for room as long as it takes (or the batcher stops). */
static int flush_sink(struct ilp_sink *sink, bool wait)
{
    int rc;
    while ((rc = ilp_sink_flush(sink, wait)) == DUCKPOND_OVERLOADED)
        ;
    return rc;
}

/* Reads and writes one connection's lines until it ends, fails or the listener stops. */
static void serve(struct conn *c, struct ilp_sink *sink, struct ilp_stream *st, char *buf)
{
    for (;;) {
        ssize_t n = recv(c->fd, buf, ILP_READ_BUF, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* nothing more for now: what was gathered goes to the batcher */
            if (flush_sink(sink, false) != DUCKPOND_OK)
                return;
            n = recv(c->fd, buf, ILP_READ_BUF, 0);
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (ilp_stream_feed(st, buf, (size_t)n, dp_now_us() * 1000))
            return;
    }
    ilp_stream_end(st, dp_now_us() * 1000);
}

/* Unlinks c from the open connections, closes and frees it. */
static void conn_end(struct conn *c)
{
    struct ilp_tcp *t = c->t;
    pthread_mutex_lock(&t->mu);
    for (struct conn **pp = &t->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    t->nconns--;
    pthread_cond_broadcast(&t->gone);
    pthread_mutex_unlock(&t->mu);
    close(c->fd);
    free(c);
    metrics_conn_close(METRICS_LINE);
}

/* A connection's thread: serve, write what came before any failure, say what failed, end. */
static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct ilp_env *e = c->t->e;
    const struct ilp_options *o = ilp_env_options(e);
    struct ilp_sink *sink = ilp_sink_new(e, ILP_NS, o->ack, false);
    char *buf = malloc(ILP_READ_BUF);
    if (sink && buf) {
        struct ilp_stream st;
        ilp_stream_init(&st, sink, o->max_line);
        serve(c, sink, &st, buf);
        int rc = flush_sink(sink, true);
        if (st.reason)
            fprintf(stderr, "duckpond: line protocol: %s: %s; connection closed\n", c->who, st.why);
        else if (rc != DUCKPOND_OK)
            fprintf(stderr, "duckpond: line protocol: %s: rows refused: %s\n", c->who, ilp_sink_why(sink));
        ilp_stream_free(&st);
    }
    ilp_sink_free(sink);
    free(buf);
    conn_end(c);
    return NULL;
}

/* Takes an accepted socket: a thread of its own, or closed past the limit. */
static void conn_start(struct ilp_tcp *t, int fd, const struct sockaddr *sa, socklen_t len)
{
    struct conn *c = calloc(1, sizeof *c);
    pthread_mutex_lock(&t->mu);
    bool room = c && !t->stopping && t->nconns < t->max_conns;
    if (room) {
        c->t = t;
        c->fd = fd;
        dp_peer_text(sa, len, c->who, sizeof c->who);
        c->next = t->conns;
        t->conns = c;
        t->nconns++;
    }
    pthread_mutex_unlock(&t->mu);
    if (!room) {
        free(c);
        close(fd);
        return;
    }
    dp_socket_keepalive(fd);
    metrics_conn_open(METRICS_LINE);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, conn_main, c) != 0)
        conn_end(c);
    pthread_attr_destroy(&attr);
}

static void *accept_main(void *arg)
{
    struct ilp_tcp *t = arg;
    struct pollfd pfd[2] = {{.fd = t->listen_fd, .events = POLLIN}, {.fd = t->wake[0], .events = POLLIN}};
    for (;;) {
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents)
            break;
        if (!(pfd[0].revents & POLLIN))
            continue;
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(t->listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                usleep(10000);
            continue;
        }
        conn_start(t, fd, (struct sockaddr *)&ss, len);
    }
    return NULL;
}

int ilp_tcp_start(struct ilp_env *e, const char *listen_addr, int port, int max_conns, struct ilp_tcp **out,
                  char *err, size_t errlen)
{
    *out = NULL;
    struct ilp_tcp *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return DUCKPOND_NOMEM;
    }
    t->e = e;
    t->max_conns = max_conns > 0 ? max_conns : 1000;
    t->listen_fd = t->wake[0] = t->wake[1] = -1;
    if (dp_listen_tcp(listen_addr, port, &t->listen_fd, &t->port, err, errlen) != 0 ||
        pipe2(t->wake, O_CLOEXEC) != 0) {
        if (t->listen_fd >= 0)
            close(t->listen_fd);
        free(t);
        return DUCKPOND_IO;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->gone, NULL);
    if (pthread_create(&t->acceptor, NULL, accept_main, t) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        close(t->listen_fd);
        close(t->wake[0]);
        close(t->wake[1]);
        free(t);
        return DUCKPOND_ERROR;
    }
    *out = t;
    return DUCKPOND_OK;
}

int ilp_tcp_port(const struct ilp_tcp *t)
{
    return t->port;
}

void ilp_tcp_stop(struct ilp_tcp *t)
{
    if (!t)
        return;
    if (write(t->wake[1], "x", 1) < 0)
        perror("duckpond: line protocol: stopping the listener");
    pthread_join(t->acceptor, NULL);
    close(t->listen_fd);
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    for (struct conn *c = t->conns; c; c = c->next)
        shutdown(c->fd, SHUT_RD); /* the thread sees the end, writes what came, and ends */
    while (t->nconns > 0)
        pthread_cond_wait(&t->gone, &t->mu);
    pthread_mutex_unlock(&t->mu);
    pthread_cond_destroy(&t->gone);
    pthread_mutex_destroy(&t->mu);
    close(t->wake[0]);
    close(t->wake[1]);
    free(t);
}
