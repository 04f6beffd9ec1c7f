/*
 * main.c -- the duckpond command line.
 *
 *   duckpond serve [--db FILE] [--listen ADDR] [--pg-port N] [--http-port N]
 *                  [--users FILE] [--max-connections N] [--no-batch] [--write-lane] [--port-file FILE]
 *                  [--ack commit|journal] [--journal-dir DIR | --no-journal]
 *                  [--journal-segment-bytes N] [--journal-apply-delay-ms N]
 *                  [--queue-max-rows N] [--queue-max-bytes N]
 *                  [--files-dir DIR] [--trust-role ro|rw|admin]
 *                  [--tls-cert FILE --tls-key FILE [--tls-required]] [--allow-plaintext]
 *                  [--authentication-timeout SECONDS] [--max-unauthenticated N]
 *                  [--idle-in-transaction-session-timeout MS]
 *                  [--ilp-port N] [--ilp-allow-remote] [--ilp-ack commit|journal]
 *                  [--ilp-auto-create true|false] [--ilp-timestamp timestamp|timestamp_ns]
 *                  [--ilp-max-line-bytes N] [--ilp-batch-rows N]
 *                  [--sync CONNINFO --sync-publication NAME [--sync-slot NAME] [--sync-schema NAME]]
 *   duckpond passwd --users FILE [--role ro|rw|admin | --read-only] NAME   (password on stdin)
 *   duckpond ticks [--symbols N] [--rate R] [--seed S] ... --to DEST   (tools/ticks.c)
 *   duckpond version
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "server.h"
#include "ticks.h"
#include "users.h"

static void usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  duckpond serve [--db FILE] [--listen ADDR] [--pg-port N] [--http-port N]\n"
               "                 [--users FILE] [--max-connections N] [--no-batch] [--write-lane]\n"
               "                 [--port-file FILE]\n"
               "                 [--ack commit|journal] [--journal-dir DIR | --no-journal]\n"
               "                 [--journal-segment-bytes N] [--journal-apply-delay-ms N]\n"
               "                 [--queue-max-rows N] [--queue-max-bytes N]\n"
               "                 [--files-dir DIR] [--trust-role ro|rw|admin]\n"
               "                 [--tls-cert FILE --tls-key FILE [--tls-required]] [--allow-plaintext]\n"
               "                 [--authentication-timeout SECONDS] [--max-unauthenticated N]\n"
               "                 [--idle-in-transaction-session-timeout MS]\n"
               "                 [--ilp-port N] [--ilp-allow-remote] [--ilp-ack commit|journal]\n"
               "                 [--ilp-auto-create true|false] [--ilp-timestamp timestamp|timestamp_ns]\n"
               "                 [--ilp-max-line-bytes N] [--ilp-batch-rows N]\n"
               "                 [--sync CONNINFO --sync-publication NAME [--sync-slot NAME]\n"
               "                  [--sync-schema NAME]]\n"
               "      FILE defaults to ./duckpond.duckdb, ADDR to 127.0.0.1, the PostgreSQL port\n"
               "      to 5433 (0: any free port), HTTP to 8080 (0: off); --ack is the default\n"
               "      ack mode of sessions (commit); the journal lives in FILE.journal;\n"
               "      journaled rows gather up to --journal-apply-delay-ms (50; 0: none)\n"
               "      before DuckDB commits them, unless a reader waits for its own writes;\n"
               "      --queue-max-rows/--queue-max-bytes cap the rows accepted and not yet\n"
               "      committed (1000000, 256 MiB): writers past them wait;\n"
               "      admin users may read and write server files inside --files-dir only (none\n"
               "      by default); trusted loopback users (no --users) have --trust-role (rw)\n"
               "      --tls-cert/--tls-key (PEM) serve PostgreSQL over TLS and HTTP as HTTPS;\n"
               "      --tls-required refuses PostgreSQL connections without TLS; a listen\n"
               "      address other than loopback needs --users and TLS or --allow-plaintext;\n"
               "      a connection has --authentication-timeout (60 s; \"500ms\" also reads)\n"
               "      to authenticate, and at most --max-unauthenticated (1000) wait at once\n"
               "      the line protocol over TCP listens on 127.0.0.1 port 9009 (0: off) unless\n"
               "      --ilp-allow-remote, and over HTTP on POST /write and /api/v2/write\n"
               "      --sync mirrors a PostgreSQL publication's tables into schema NAME (pg)\n"
               "      through the logical replication slot NAME (duckpond_<publication>)\n"
               "      --write-lane makes sessions queue their transactions' writes by default\n"
               "  duckpond passwd --users FILE [--role ro|rw|admin | --read-only] NAME\n"
               "      adds or replaces a user (role rw unless told); the password is read from\n"
               "      standard input\n"
               "  duckpond ticks [--symbols N] [--rate R] [--seed S] [--start TIME]\n"
               "                 [--duration SECONDS | --count ROWS] [--fast] [--to DEST]\n"
               "      synthetic trades and quotes (duckpond ticks --help)\n"
               "  duckpond version\n");
}

/* A non-negative integer option value, or -1. */
static long parse_num(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 0 ? v : -1;
}

/* A duration in seconds ("30"), or in milliseconds with "ms" ("500ms"), as milliseconds; or -1. */
static long parse_seconds_ms(const char *s)
{
    size_t len = strlen(s);
    if (len > 2 && !strcmp(s + len - 2, "ms")) {
        char digits[32];
        if (len - 2 >= sizeof digits)
            return -1;
        memcpy(digits, s, len - 2);
        digits[len - 2] = 0;
        return parse_num(digits);
    }
    long n = parse_num(s);
    return n >= 0 && n <= 600 ? n * 1000 : -1;
}

/* A boolean option value ("true", "false", "on", "off", "1", "0") into *b: 0, or -1. */
static int parse_bool(const char *s, bool *b)
{
    if (!strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1"))
        return *b = true, 0;
    if (!strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0"))
        return *b = false, 0;
    return -1;
}

/* The line protocol's options; false when a is not one of them or v is bad. */
static bool ilp_option(struct server_options *opt, const char *a, const char *v, long n)
{
    bool b;
    if (!strcmp(a, "--ilp-port") && n >= 0 && n < 65536) {
        opt->ilp_port = (int)n;
        opt->ilp_port_given = true;
    } else if (!strcmp(a, "--ilp-ack") && duckpond_ack_parse(v, &opt->ilp.ack) == 0 &&
               opt->ilp.ack != DUCKPOND_ACK_QUEUED) {
        opt->ilp_ack_given = true;
    } else if (!strcmp(a, "--ilp-auto-create") && parse_bool(v, &b) == 0) {
        opt->ilp.no_auto_create = !b;
    } else if (!strcmp(a, "--ilp-timestamp") && (!strcmp(v, "timestamp") || !strcmp(v, "timestamp_ns"))) {
        opt->ilp.timestamp_ns = !strcmp(v, "timestamp_ns");
    } else if (!strcmp(a, "--ilp-max-line-bytes") && n >= 1024) {
        opt->ilp.max_line = (size_t)n;
    } else if (!strcmp(a, "--ilp-batch-rows") && n >= 1 && n <= 1000000) {
        opt->ilp.batch_rows = (size_t)n;
    } else {
        return false;
    }
    return true;
}

static int cmd_serve(int argc, char **argv)
{
    struct server_options opt;
    server_options_default(&opt);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char name[64];
        const char *eq = strchr(a, '=');
        if (eq && !strncmp(a, "--", 2) && (size_t)(eq - a) < sizeof name) { /* --name=value */
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            a = name;
            v = eq + 1;
            i--; /* no separate value to skip */
        }
        long n = v ? parse_num(v) : -1;
        if (!strcmp(a, "--ilp-allow-remote")) {
            opt.ilp_allow_remote = true;
            continue;
        }
        if (!strcmp(a, "--no-batch")) {
            opt.batch = false;
            continue;
        }
        if (!strcmp(a, "--write-lane")) {
            opt.write_lane = true;
            continue;
        }
        if (!strcmp(a, "--no-journal")) {
            opt.journal_dir = "";
            continue;
        }
        if (!strcmp(a, "--tls-required")) {
            opt.tls_required = true;
            continue;
        }
        if (!strcmp(a, "--allow-plaintext")) {
            opt.allow_plaintext = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "duckpond serve: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--db"))
            opt.db_path = v;
        else if (!strcmp(a, "--listen"))
            opt.listen = v;
        else if (!strcmp(a, "--users"))
            opt.users_path = v;
        else if (!strcmp(a, "--port-file"))
            opt.port_file = v;
        else if (!strcmp(a, "--pg-port") && n >= 0 && n < 65536)
            opt.pg_port = (int)n;
        else if (!strcmp(a, "--http-port") && n >= 0 && n < 65536)
            opt.http_port = (int)n;
        else if (!strcmp(a, "--max-connections") && n > 0)
            opt.max_connections = (int)n;
        else if (!strcmp(a, "--ack") && duckpond_ack_parse(v, &opt.ack) == 0 &&
                 opt.ack != DUCKPOND_ACK_QUEUED) {
            /* stored by the parse */
        } else if (!strcmp(a, "--files-dir") && *v) {
            opt.files_dir = v;
        } else if (!strcmp(a, "--trust-role") && access_role_parse(v, &opt.trust_role) == 0) {
            /* stored by the parse */
        } else if (!strcmp(a, "--journal-dir") && *v)
            opt.journal_dir = v;
        else if (!strcmp(a, "--journal-segment-bytes") && n >= 4096)
            opt.journal_segment_bytes = (size_t)n;
        else if (!strcmp(a, "--queue-max-rows") && n >= 1)
            opt.queue_max_rows = (size_t)n;
        else if (!strcmp(a, "--queue-max-bytes") && n >= 65536)
            opt.queue_max_bytes = (size_t)n;
        else if (!strcmp(a, "--journal-apply-delay-ms") && n >= 0 && n <= 60000)
            opt.journal_apply_delay_ms = n ? (int)n : -1;
        else if (!strcmp(a, "--tls-cert") && *v)
            opt.tls_cert = v;
        else if (!strcmp(a, "--tls-key") && *v)
            opt.tls_key = v;
        else if (!strcmp(a, "--authentication-timeout") && (n = parse_seconds_ms(v)) > 0 && n <= 600000)
            opt.auth_timeout_ms = (int)n;
        else if (!strcmp(a, "--max-unauthenticated") && n > 0 && n <= 100000)
            opt.max_unauthenticated = (int)n;
        else if (!strcmp(a, "--idle-in-transaction-session-timeout") && n >= 0 && n <= INT_MAX)
            opt.idle_tx_timeout_ms = (int)n;
        else if (ilp_option(&opt, a, v, n))
            ; /* stored */
        else if (!strcmp(a, "--sync") && !opt.sync_conninfo)
            opt.sync_conninfo = v;
        else if (!strcmp(a, "--sync-publication") && *v && !opt.sync_publication)
            opt.sync_publication = v;
        else if (!strcmp(a, "--sync-slot") && *v)
            opt.sync_slot = v;
        else if (!strcmp(a, "--sync-schema") && *v)
            opt.sync_schema = v;
        else {
            fprintf(stderr, "duckpond serve: bad option %s %s\n", a, v);
            usage(stderr);
            return 2;
        }
    }
    if (!opt.sync_conninfo != !opt.sync_publication) {
        fprintf(stderr, "duckpond serve: --sync and --sync-publication go together\n");
        return 2;
    }
    return server_run(&opt);
}

/* Reads a password line from stdin, without echo on a terminal. */
static int read_password(char *buf, size_t n)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "password: ");
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *ok = fgets(buf, (int)n, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fputc('\n', stderr);
    }
    if (!ok)
        return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return *buf ? 0 : -1;
}

static int cmd_passwd(int argc, char **argv)
{
    const char *users = NULL, *name = NULL;
    enum access_role role = ACCESS_RW;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--users") && i + 1 < argc)
            users = argv[++i];
        else if (!strcmp(argv[i], "--read-only"))
            role = ACCESS_RO;
        else if (!strcmp(argv[i], "--role") && i + 1 < argc && access_role_parse(argv[i + 1], &role) == 0)
            i++;
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!users || !name) {
        usage(stderr);
        return 2;
    }
    char password[1024], err[256] = "";
    if (read_password(password, sizeof password) != 0) {
        fprintf(stderr, "duckpond passwd: no password given on standard input\n");
        return 2;
    }
    char *token = NULL;
    int rc = users_passwd_role(users, name, password, role, &token, err, sizeof err);
    memset(password, 0, sizeof password);
    if (rc != 0) {
        fprintf(stderr, "duckpond passwd: %s\n", err);
        return 1;
    }
    printf("user %s (%s) written to %s\nHTTP token (shown once): %s\n", name,
           role == ACCESS_RO   ? "read-only"
           : role == ACCESS_RW ? "read-write"
                               : "admin",
           users, token ? token : "");
    free(token);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "serve"))
        return cmd_serve(argc - 2, argv + 2);
    if (!strcmp(argv[1], "passwd"))
        return cmd_passwd(argc - 2, argv + 2);
    if (!strcmp(argv[1], "ticks"))
        return ticks_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "version")) {
        printf("duckpond %s (DuckDB %s)\n", DUCKPOND_VERSION, duckdb_library_version());
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "duckpond: unknown command %s\n", argv[1]);
    usage(stderr);
    return 2;
}
