/*
 * server.c -- the duckpond server process: start-up, the PostgreSQL
 * listener, signals and an orderly shutdown. It is the top of the tree:
 * it opens the database and the batcher, fills in what sessions need (a
 * read-only struct pg_env) and hands each accepted socket to a session
 * (session.h); the sessions themselves never see the server.
 *
 * Concurrency model: one thread per session (session_start). DuckDB's
 * calls block (a query runs on the calling thread, with DuckDB's own
 * worker threads helping), so no session's DuckDB work may run on a
 * thread that another session's I/O waits on; a thread per session gives
 * that for free and keeps each session's code a plain sequential loop.
 * Most sessions are idle, blocked in recv(): an idle thread costs the few
 * stack pages it touched plus its DuckDB connection and small buffers
 * (input buffers shrink back after large messages), so 1,000 connections
 * stay within tens of MiB.
 *
 * The main thread accepts connections (poll with the termination signals
 * unblocked only there) and starts a session for each. Connections beyond
 * the limit still get a thread long enough to read the startup packet and
 * answer 53300 "too many clients", as PostgreSQL does; past the limit plus
 * a small margin they are closed at once. The registry of sessions
 * (registry.c) admits them, routes cancel requests, and runs the timer
 * that interrupts statements past their session's statement_timeout.
 *
 * SIGTERM / SIGINT: stop accepting; shut the read side of every session
 * so idle ones end at once while running statements finish and send their
 * results; after the grace period, interrupt what still runs
 * (duckdb_interrupt) and close the sockets; when every session thread is
 * gone, stop HTTP, flush the batcher (every accepted row is committed),
 * checkpoint, close the database, exit 0.
 *
 * The journal: unless told otherwise, the batcher keeps a journal in
 * "<db>.journal" beside a database file, so that any session may choose
 * ack mode journal (acknowledged once on disk, applied behind). Opening
 * the batcher replays what the journal holds beyond the database; what
 * recovery found and did is printed at start.
 */
#define _GNU_SOURCE /* ppoll, accept4 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "desk.h"
#include "http.h"
#include "pgcatalog.h"
#include "pgwire.h"
#include "registry.h"
#include "session.h"
#include "users.h"

struct server {
    struct server_options opt;
    duckpond_db *db;
    duckpond_batcher *batcher;
    bool journal;      /* the batcher has a journal: ack mode journal is available */
    char *journal_dir; /* the journal's directory (owned), or NULL */
    struct users *users;
    struct http_server *http;
    int listen_fd;
    int pg_port; /* the bound port */
    struct registry sessions;
    struct pg_env env; /* what every session gets; filled in before the first accept */
};

void server_options_default(struct server_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->db_path = "./duckpond.duckdb";
    opt->listen = "127.0.0.1";
    opt->pg_port = 5433;
    opt->http_port = 8080;
    opt->max_connections = 1000;
    opt->batch = true;
    opt->max_message = 64u << 20;
    opt->shutdown_grace_ms = 5000;
}

/* ------------------------------------------------------------ listening */

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

/* Whether every address listen resolves to is a loopback address. */
static bool listen_is_loopback(const char *listen)
{
    if (!strcmp(listen, "localhost"))
        return true;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE}, *res = NULL;
    if (getaddrinfo(listen, NULL, &hints, &res) != 0)
        return false;
    bool all = true;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        all = all && addr_is_loopback(ai->ai_addr);
    freeaddrinfo(res);
    return all;
}

static int open_listener(struct server *srv, char *err, size_t errlen)
{
    char port[16];
    snprintf(port, sizeof port, "%d", srv->opt.pg_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE},
                    *res;
    int gai = getaddrinfo(srv->opt.listen, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", srv->opt.listen, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
            snprintf(err, errlen, "cannot listen on %s port %d: %s", srv->opt.listen, srv->opt.pg_port,
                     strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    srv->pg_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port);
    srv->listen_fd = fd;
    return 0;
}

/* The client's address as text, "host:port", for the log. */
static void peer_text(const struct sockaddr *peer, socklen_t len, char *out, size_t n)
{
    char host[64], port[16];
    if (getnameinfo(peer, len, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(out, n, "?");
    else
        snprintf(out, n, peer->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* Hands an accepted socket to a session of its own. */
static void start_session(struct server *srv, int fd, const struct sockaddr *peer, socklen_t len)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char who[96];
    peer_text(peer, len, who, sizeof who);
    session_start(&srv->env, fd, addr_is_loopback(peer), who);
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

/*
 * Termination signals are taken by the accept loop only: they are blocked
 * here, before any other thread starts (threads inherit the mask), and
 * *unblocked is the mask for the accept loop's ppoll.
 */
static void signals_setup(sigset_t *unblocked)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, unblocked);
    sigdelset(unblocked, SIGTERM);
    sigdelset(unblocked, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit: the write fails with EFBIG, reported */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* Accepts connections until a termination signal arrives. */
static void accept_loop(struct server *srv, const sigset_t *unblocked)
{
    struct pollfd pfd = {.fd = srv->listen_fd, .events = POLLIN};
    while (!got_signal) {
        int n = ppoll(&pfd, 1, NULL, unblocked);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(srv->listen_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                usleep(10000);
            continue;
        }
        start_session(srv, fd, (struct sockaddr *)&peer, len);
    }
}

/* ------------------------------------------------------------- start-up */

static int start_http(struct server *srv)
{
    if (srv->opt.http_port == 0)
        return 0;
    struct http_options ho = {.listen = srv->opt.listen,
                              .port = srv->opt.http_port,
                              .open_health = true,
                              .default_ack = srv->opt.ack};
    char err[256] = "";
    if (http_start(&ho, srv->db, srv->batcher, srv->users, &srv->http, err, sizeof err) != 0) {
        fprintf(stderr, "duckpond: cannot start HTTP on port %d: %s\n", srv->opt.http_port, err);
        return -1;
    }
    return 0;
}

/*
 * The journal's directory for the options: the one given, or "<db>.journal"
 * beside a database file; NULL for none (asked for, or an in-memory
 * database, whose applied number would not survive the process).
 * Stored in srv->journal_dir. Returns -1 when memory runs out.
 */
static int journal_dir_choose(struct server *srv)
{
    const char *dir = srv->opt.journal_dir, *db = srv->opt.db_path;
    bool memory = !strcmp(db, ":memory:") || !strncmp(db, ":memory:", 8);
    if (dir && !*dir)
        return 0;
    if (!dir && memory)
        return 0;
    srv->journal_dir = dir ? strdup(dir) : dp_asprintf("%s.journal", db);
    return srv->journal_dir ? 0 : -1;
}

/*
 * Makes the journal's directory if it is missing and checks that it is a
 * writable directory, so that a bad --journal-dir gets a message that
 * names the cause (the batcher's own refusal carries only a status).
 */
static int journal_dir_check(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "duckpond: cannot create the journal directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "duckpond: the journal directory %s is not a directory\n", dir);
        return -1;
    }
    if (access(dir, R_OK | W_OK | X_OK) != 0) {
        fprintf(stderr, "duckpond: the journal directory %s is not writable: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Starts the batcher, with the journal when there is one: opening it
 * replays what the journal holds beyond the database. Prints what
 * recovery found and did. 0, or -1 with the reason printed.
 */
static int start_batcher(struct server *srv)
{
    if (journal_dir_choose(srv) != 0) {
        fprintf(stderr, "duckpond: out of memory\n");
        return -1;
    }
    if (srv->opt.ack == DUCKPOND_ACK_JOURNAL && !srv->journal_dir) {
        fprintf(stderr, "duckpond: --ack journal needs a journal (give --journal-dir DIR)\n");
        return -1;
    }
    if (srv->journal_dir && journal_dir_check(srv->journal_dir) != 0)
        return -1;
    duckpond_batcher_settings set =
        DUCKPOND_BATCHER_SETTINGS_INIT(.journal_dir = srv->journal_dir,
                                       .journal_segment_bytes = srv->opt.journal_segment_bytes,
                                       .journal_apply_delay_ms = srv->opt.journal_apply_delay_ms);
    int rc = duckpond_batcher_new(srv->db, &set, &srv->batcher);
    if (rc != DUCKPOND_OK) {
        fprintf(stderr, "duckpond: cannot start the batcher%s%s: %s\n",
                srv->journal_dir ? " with the journal in " : "", srv->journal_dir ? srv->journal_dir : "",
                duckpond_strerror(rc));
        return -1;
    }
    srv->journal = srv->journal_dir != NULL;
    if (srv->journal) {
        const char *report = duckpond_batcher_journal_report(srv->batcher);
        fprintf(stderr, "duckpond: %s\n", *report ? report : "journal opened");
        char last[512];
        duckpond_batcher_journal_errmsg(srv->batcher, last, sizeof last);
        if (*last)
            fprintf(stderr, "duckpond: journal: a replayed write failed: %s\n", last);
    }
    return 0;
}

/* Makes UTC DuckDB's TimeZone for every connection opened from now on. 0, or -1 with the reason in err. */
static int set_utc(duckpond_conn *conn, char *err, size_t n)
{
    if (duckpond_exec(conn, "SET GLOBAL TimeZone = 'UTC'") == DUCKPOND_OK)
        return 0;
    snprintf(err, n, "%s", duckpond_conn_errmsg(conn));
    return -1;
}

/* Opens the database, installs the catalog overlay and starts the batcher. */
static int open_database(struct server *srv)
{
    /* DuckDB folds a literal filter against the table statistics of the
     * moment a statement is prepared and never re-plans when only the data
     * changes: a statement prepared before a row exists would go on missing
     * it. Every client's prepared statements must see every commit. */
    duckpond_config *cfg = NULL;
    int rc = duckpond_config_new(&cfg);
    if (rc == DUCKPOND_OK)
        rc = duckpond_config_set(cfg, "disabled_optimizers", "statistics_propagation");
    if (rc == DUCKPOND_OK)
        rc = duckpond_open(srv->opt.db_path, cfg, &srv->db);
    duckpond_config_free(cfg);
    if (rc != DUCKPOND_OK) {
        fprintf(stderr, "duckpond: cannot open %s: %s\n", srv->opt.db_path,
                srv->db ? duckpond_db_errmsg(srv->db) : duckpond_strerror(rc));
        return -1;
    }
    duckpond_conn *conn = NULL;
    char err[512] = "";
    /* Every session reports TimeZone UTC and renders timestamptz in UTC, and
     * the batcher evaluates now() in UTC: DuckDB's own casts between
     * timestamp and timestamptz must then be UTC too, not the zone of the
     * machine (DuckDB's default). Set before the batcher's and the
     * sessions' connections exist, so each of them starts with it. */
    if (duckpond_connect(srv->db, &conn) != DUCKPOND_OK || set_utc(conn, err, sizeof err) != 0 ||
        pgcatalog_install(duckpond_conn_duckdb(conn), err, sizeof err) != 0) {
        fprintf(stderr, "duckpond: cannot prepare the database: %s\n", err);
        if (conn)
            duckpond_disconnect(conn);
        return -1;
    }
    /* The desk's macros are a convenience: without them the server still serves. */
    if (desk_install(duckpond_conn_duckdb(conn), err, sizeof err) != 0)
        fprintf(stderr, "duckpond: the desk macros are not installed: %s\n", err);
    duckpond_disconnect(conn);
    return start_batcher(srv);
}

static void checkpoint(struct server *srv)
{
    duckpond_conn *conn = NULL;
    if (duckpond_connect(srv->db, &conn) == DUCKPOND_OK) {
        if (duckpond_exec(conn, "CHECKPOINT") != DUCKPOND_OK)
            fprintf(stderr, "duckpond: checkpoint failed: %s\n", duckpond_conn_errmsg(conn));
        duckpond_disconnect(conn);
    }
}

static void write_port_file(struct server *srv)
{
    if (!srv->opt.port_file)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", srv->opt.port_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "%d\n", srv->pg_port);
    fclose(f);
    rename(tmp, srv->opt.port_file);
}

static void server_free(struct server *srv)
{
    if (srv->http)
        http_stop(srv->http);
    if (srv->batcher) {
        duckpond_batcher_stop(srv->batcher);
        duckpond_batcher_free(srv->batcher);
    }
    if (srv->db) {
        checkpoint(srv);
        duckpond_close(srv->db);
    }
    free(srv->journal_dir);
    if (srv->users)
        users_free(srv->users);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    registry_destroy(&srv->sessions);
}

int server_run(const struct server_options *opt)
{
    struct server srv;
    memset(&srv, 0, sizeof srv);
    srv.opt = *opt;
    srv.listen_fd = -1;
    registry_init(&srv.sessions, opt->max_connections);
    if (!opt->users_path && !listen_is_loopback(opt->listen)) {
        fprintf(stderr,
                "duckpond: refusing to listen on %s without a users file: "
                "trust is allowed on loopback only (give --users FILE)\n",
                opt->listen);
        server_free(&srv);
        return 2;
    }
    char err[512] = "";
    if (opt->users_path && users_load(opt->users_path, &srv.users, err, sizeof err) != 0) {
        fprintf(stderr, "duckpond: %s\n", err);
        server_free(&srv);
        return 2;
    }
    pgwire_set_max_message(opt->max_message);
    sigset_t unblocked;
    signals_setup(&unblocked);
    if (open_database(&srv) != 0 || open_listener(&srv, err, sizeof err) != 0 || start_http(&srv) != 0) {
        if (*err)
            fprintf(stderr, "duckpond: %s\n", err);
        server_free(&srv);
        return 1;
    }
    srv.env = (struct pg_env){.db = srv.db,
                              .batcher = srv.batcher,
                              .journal = srv.journal,
                              .users = srv.users,
                              .registry = &srv.sessions,
                              .batch = opt->batch,
                              .ack = opt->ack};
    write_port_file(&srv);
    fprintf(stderr, "duckpond: serving %s on %s port %d (PostgreSQL)%s, ack mode %s\n", opt->db_path,
            opt->listen, srv.pg_port, opt->batch ? "" : ", batching off", duckpond_ack_name(opt->ack));
    registry_start_timer(&srv.sessions);
    accept_loop(&srv, &unblocked);
    fprintf(stderr, "duckpond: shutting down\n");
    close(srv.listen_fd);
    srv.listen_fd = -1;
    registry_stop(&srv.sessions, opt->shutdown_grace_ms);
    server_free(&srv);
    fprintf(stderr, "duckpond: stopped\n");
    return 0;
}
