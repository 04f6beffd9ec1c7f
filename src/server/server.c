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
 * unblocked only there), turns TCP keepalive on, and starts a session for
 * each. Until it authenticates, a connection is counted apart from the
 * sessions (at most --max-unauthenticated at once, the oldest closed to
 * make room) and has --authentication-timeout to finish: a thousand
 * silent sockets neither hold slots nor stay for ever. Authenticated
 * connections beyond the limit are answered 53300 "too many clients", as
 * PostgreSQL does; past both limits plus a small margin they are closed
 * at once. The registry of sessions (registry.c) admits them, routes
 * cancel requests, and runs the timer that enforces the authentication
 * deadline and interrupts statements past their statement_timeout.
 *
 * TLS (--tls-cert, --tls-key): one OpenSSL context (pg/pgtls.c) for the
 * PostgreSQL protocol, and the same files for HTTPS (http.c). A listen
 * address other than loopback needs a users file, and TLS or an explicit
 * --allow-plaintext: passwords' proofs are safe in the clear, but the
 * data and the HTTP bearer tokens are not.
 *
 * SIGTERM / SIGINT: stop accepting; shut the read side of every session
 * so idle ones end at once while running statements finish and send their
 * results; after the grace period, interrupt what still runs
 * (duckdb_interrupt) and close the sockets; when every session thread is
 * gone, stop HTTP, flush the batcher (every accepted row is committed),
 * checkpoint, close the database, exit 0.
 *
 * The line protocol (src/ilp): one shared part (its DDL connection and
 * table cache) serves the HTTP endpoints and the TCP listener, which
 * listens on 127.0.0.1 unless --ilp-allow-remote says --listen's address.
 * The default port (9009) is taken if free: when another process holds
 * it, the server says so and runs without the TCP listener; a port asked
 * for (--ilp-port) must be bound. At shutdown the TCP connections end
 * first (what they sent is written), then HTTP, then the batcher.
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
#include "ilp_ingest.h"
#include "ilp_tcp.h"
#include "net.h"
#include "metrics.h"
#include "pgcatalog.h"
#include "pgtls.h"
#include "pgwire.h"
#include "registry.h"
#include "session.h"
#include "sync.h"
#include "users.h"

struct server {
    struct server_options opt;
    char *run_dir;   /* the private directory (0700) of the server's own files DuckDB opens (fdpath.h) */
    char *files_dir; /* --files-dir, resolved (owned), or NULL */
    duckpond_db *db;
    duckpond_batcher *batcher;
    bool journal;      /* the batcher has a journal: ack mode journal is available */
    char *journal_dir; /* the journal's directory (owned), or NULL */
    struct users *users;
    struct http_server *http;
    struct ilp_env *ilp;
    struct ilp_tcp *ilp_tcp;
    struct sync *sync; /* the PostgreSQL publication mirrored, or NULL */
    int listen_fd;
    int pg_port; /* the bound port */
    struct registry sessions;
    struct pgtls_ctx *tls;
    char idle_tx_timeout[32]; /* the default of idle_in_transaction_session_timeout, as text */
    struct pg_env env;        /* what every session gets; filled in before the first accept */
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
    opt->trust_role = ACCESS_RW;
    opt->auth_timeout_ms = 60000;
    opt->max_unauthenticated = 1000;
    opt->ilp_port = 9009;
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
    return dp_listen_tcp(srv->opt.listen, srv->opt.pg_port, &srv->listen_fd, &srv->pg_port, err, errlen);
}

/* Hands an accepted socket to a session of its own. */
static void start_session(struct server *srv, int fd, const struct sockaddr *peer, socklen_t len)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    dp_socket_keepalive(fd);
    char who[96];
    dp_peer_text(peer, len, who, sizeof who);
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

/*
 * The line protocol's shared part, and its TCP listener when a port is
 * set (see the top of this file for the default port). 0, or -1 with the
 * reason printed.
 */
static int start_ilp(struct server *srv)
{
    struct ilp_options o = srv->opt.ilp;
    if (!srv->opt.ilp_ack_given)
        o.ack = srv->opt.ack;
    /* a write larger than the batcher's queue could never be taken: half of it at most */
    size_t qrows = srv->opt.queue_max_rows, qbytes = srv->opt.queue_max_bytes;
    if (qrows && (!o.batch_rows ? ILP_BATCH_ROWS : o.batch_rows) > qrows / 2)
        o.batch_rows = qrows / 2 ? qrows / 2 : 1;
    if (qbytes && ILP_WRITE_BYTES > qbytes / 2)
        o.write_bytes = qbytes / 2;
    if (qbytes && (!o.max_line ? ILP_MAX_LINE : o.max_line) > qbytes / 2) /* a longer line fails, named */
        o.max_line = qbytes / 2;
    if (o.ack == DUCKPOND_ACK_JOURNAL && !srv->journal) {
        fprintf(stderr, "duckpond: --ilp-ack journal needs a journal (give --journal-dir DIR)\n");
        return -1;
    }
    int rc = ilp_env_new(srv->db, srv->batcher, &o, &srv->ilp);
    if (rc != DUCKPOND_OK) {
        fprintf(stderr, "duckpond: cannot start the line protocol: %s\n", duckpond_strerror(rc));
        return -1;
    }
    if (srv->opt.ilp_port == 0)
        return 0;
    const char *addr = srv->opt.ilp_allow_remote ? srv->opt.listen : "127.0.0.1";
    char err[256] = "";
    rc = ilp_tcp_start(srv->ilp, addr, srv->opt.ilp_port, srv->opt.max_connections, &srv->ilp_tcp, err,
                       sizeof err);
    if (rc == DUCKPOND_OK) {
        fprintf(stderr, "duckpond: line protocol over TCP on %s port %d\n", addr, ilp_tcp_port(srv->ilp_tcp));
        return 0;
    }
    fprintf(stderr, "duckpond: line protocol over TCP: %s%s\n", err,
            srv->opt.ilp_port_given ? "" : " (the default port; going on without it, give --ilp-port)");
    return srv->opt.ilp_port_given ? -1 : 0;
}

static int start_http(struct server *srv)
{
    if (srv->opt.http_port == 0)
        return 0;
    struct http_options ho = {.listen = srv->opt.listen,
                              .port = srv->opt.http_port,
                              .open_health = true,
                              .default_ack = srv->opt.ack,
                              .temp_dir = srv->run_dir,
                              .trust_role = srv->opt.trust_role,
                              .tls_cert = srv->opt.tls_cert,
                              .tls_key = srv->opt.tls_key,
                              .ilp = srv->ilp};
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
                                       .queue_max_rows = srv->opt.queue_max_rows,
                                       .queue_max_bytes = srv->opt.queue_max_bytes,
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

/*
 * Makes the server's private directory, and resolves --files-dir (which
 * must be a directory: DuckDB compares the names it is given with it,
 * so it is held as an absolute path without symbolic links). 0, or -1
 * with the reason printed.
 */
static int make_dirs(struct server *srv)
{
    const char *parent = srv->opt.run_dir_parent;
    if (!parent || !*parent)
        parent = getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    srv->run_dir = dp_asprintf("%s/duckpond-run.XXXXXX", parent);
    if (!srv->run_dir || !mkdtemp(srv->run_dir)) {
        fprintf(stderr, "duckpond: cannot make a private directory in %s: %s\n", parent, strerror(errno));
        free(srv->run_dir);
        srv->run_dir = NULL;
        return -1;
    }
    if (!srv->opt.files_dir)
        return 0;
    struct stat st;
    srv->files_dir = realpath(srv->opt.files_dir, NULL);
    if (!srv->files_dir || stat(srv->files_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "duckpond: --files-dir %s is not a directory%s%s\n", srv->opt.files_dir,
                srv->files_dir ? "" : ": ", srv->files_dir ? "" : strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Locks DuckDB's file and extension surface for every connection opened
 * from now on, once the server's own set-up has run: no file outside the
 * server's private directory and --files-dir (DuckDB checks every name it
 * opens; the database file, its WAL and its spill directory stay allowed
 * by DuckDB itself), no extension installed or loaded, no persistent
 * secret. Once enable_external_access is off DuckDB refuses to change any
 * of this again, an admin's SET included. 0, or -1 with the reason in err.
 */
static int lock_down(struct server *srv, duckpond_conn *conn, char *err, size_t n)
{
    struct dp_buf dirs = DP_BUF_INIT;
    dp_buf_str(&dirs, "SET GLOBAL allowed_directories = [");
    dp_sql_literal(&dirs, srv->run_dir, strlen(srv->run_dir));
    if (srv->files_dir) {
        dp_buf_str(&dirs, ", ");
        dp_sql_literal(&dirs, srv->files_dir, strlen(srv->files_dir));
    }
    dp_buf_str(&dirs, "]");
    const char *const steps[] = {
        dirs.failed ? "out of memory" : dirs.data,      "SET GLOBAL autoinstall_known_extensions = false",
        "SET GLOBAL autoload_known_extensions = false", "SET GLOBAL allow_persistent_secrets = false",
        "SET GLOBAL enable_external_access = false",
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && rc == 0; i++)
        if (duckpond_exec(conn, steps[i]) != DUCKPOND_OK) {
            snprintf(err, n, "cannot lock DuckDB's files down (%s): %s", steps[i],
                     duckpond_conn_errmsg(conn));
            rc = -1;
        }
    dp_buf_free(&dirs);
    return rc;
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
        pgcatalog_install(duckpond_conn_duckdb(conn), err, sizeof err) != 0 ||
        lock_down(srv, conn, err, sizeof err) != 0) {
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

/* Starts the PostgreSQL sync when asked for. 0, or -1 with the reason printed. */
static int start_sync(struct server *srv)
{
    if (!srv->opt.sync_conninfo)
        return 0;
    struct sync_options so = {.conninfo = srv->opt.sync_conninfo,
                              .publication = srv->opt.sync_publication,
                              .slot = srv->opt.sync_slot,
                              .schema = srv->opt.sync_schema};
    char err[512] = "";
    if (sync_start(srv->db, &so, &srv->sync, err, sizeof err) != 0) {
        fprintf(stderr, "duckpond: cannot start the sync: %s\n", err);
        return -1;
    }
    metrics_set_report(sync_status_prometheus, sync_status_json);
    return 0;
}

static void server_free(struct server *srv)
{
    ilp_tcp_stop(srv->ilp_tcp);
    if (srv->sync) /* the status reports find it no longer once stopped */
        sync_stop(srv->sync);
    if (srv->http)
        http_stop(srv->http);
    ilp_env_free(srv->ilp);
    if (srv->batcher) {
        duckpond_batcher_stop(srv->batcher);
        duckpond_batcher_free(srv->batcher);
    }
    if (srv->db) {
        checkpoint(srv);
        duckpond_close(srv->db);
    }
    free(srv->journal_dir);
    if (srv->run_dir)
        rmdir(srv->run_dir); /* empty: links and the HTTP directory are gone with their users */
    free(srv->run_dir);
    free(srv->files_dir);
    if (srv->users)
        users_free(srv->users);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    registry_destroy(&srv->sessions);
    pgtls_ctx_free(srv->tls);
}

/*
 * The rules on who may be served how, checked before anything starts:
 * TLS needs both files, --tls-required needs TLS, and a listen address
 * other than loopback needs a users file and TLS (or --allow-plaintext).
 * 0, or -1 with the reason printed.
 */
static int check_exposure(const struct server_options *opt)
{
    if (!opt->tls_cert != !opt->tls_key) {
        fprintf(stderr, "duckpond: TLS needs both --tls-cert FILE and --tls-key FILE\n");
        return -1;
    }
    if (opt->tls_required && !opt->tls_cert) {
        fprintf(stderr, "duckpond: --tls-required needs a certificate (--tls-cert FILE --tls-key FILE)\n");
        return -1;
    }
    if (listen_is_loopback(opt->listen))
        return 0;
    if (!opt->users_path) {
        fprintf(stderr,
                "duckpond: refusing to listen on %s without a users file: "
                "trust is allowed on loopback only (give --users FILE)\n",
                opt->listen);
        return -1;
    }
    if (!opt->tls_cert && !opt->allow_plaintext) {
        fprintf(stderr,
                "duckpond: refusing to listen on %s without TLS: give --tls-cert FILE --tls-key FILE, "
                "or --allow-plaintext to send queries, results and HTTP tokens unencrypted\n",
                opt->listen);
        return -1;
    }
    return 0;
}

int server_run(const struct server_options *opt)
{
    struct server srv;
    memset(&srv, 0, sizeof srv);
    srv.opt = *opt;
    srv.listen_fd = -1;
    registry_init(&srv.sessions, opt->max_connections, opt->max_unauthenticated, opt->auth_timeout_ms);
    if (check_exposure(opt) != 0) {
        server_free(&srv);
        return 2;
    }
    char err[512] = "";
    if ((opt->users_path && users_load(opt->users_path, &srv.users, err, sizeof err) != 0) ||
        (opt->tls_cert && pgtls_ctx_new(opt->tls_cert, opt->tls_key, &srv.tls, err, sizeof err) != 0)) {
        fprintf(stderr, "duckpond: %s\n", err);
        server_free(&srv);
        return 2;
    }
    snprintf(srv.idle_tx_timeout, sizeof srv.idle_tx_timeout, "%d", opt->idle_tx_timeout_ms);
    pgwire_set_max_message(opt->max_message);
    sigset_t unblocked;
    signals_setup(&unblocked);
    if (make_dirs(&srv) != 0 || open_database(&srv) != 0 || open_listener(&srv, err, sizeof err) != 0 ||
        start_ilp(&srv) != 0 || start_http(&srv) != 0 || start_sync(&srv) != 0) {
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
                              .ack = opt->ack,
                              .trust_role = opt->trust_role,
                              .run_dir = srv.run_dir,
                              .tls = srv.tls,
                              .tls_required = opt->tls_required,
                              .idle_tx_timeout = srv.idle_tx_timeout,
                              .write_lane = opt->write_lane};
    write_port_file(&srv);
    fprintf(stderr, "duckpond: serving %s on %s port %d (PostgreSQL%s)%s, ack mode %s\n", opt->db_path,
            opt->listen, srv.pg_port,
            !srv.tls            ? ""
            : opt->tls_required ? ", TLS required"
                                : ", TLS offered",
            opt->batch ? "" : ", batching off", duckpond_ack_name(opt->ack));
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
