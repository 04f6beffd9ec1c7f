/*
 * main.c -- the duckpond command line.
 *
 *   duckpond serve [--db FILE] [--listen ADDR] [--pg-port N] [--http-port N]
 *                  [--users FILE] [--max-connections N] [--no-batch] [--port-file FILE]
 *                  [--ack commit|journal] [--journal-dir DIR | --no-journal]
 *                  [--journal-segment-bytes N] [--journal-apply-delay-ms N]
 *   duckpond passwd --users FILE [--read-only] NAME   (password on stdin)
 *   duckpond ticks [--symbols N] [--rate R] [--seed S] ... --to DEST   (tools/ticks.c)
 *   duckpond version
 */
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
               "                 [--users FILE] [--max-connections N] [--no-batch] [--port-file FILE]\n"
               "                 [--ack commit|journal] [--journal-dir DIR | --no-journal]\n"
               "                 [--journal-segment-bytes N] [--journal-apply-delay-ms N]\n"
               "      FILE defaults to ./duckpond.duckdb, ADDR to 127.0.0.1, the PostgreSQL port\n"
               "      to 5433 (0: any free port), HTTP to 8080 (0: off); --ack is the default\n"
               "      ack mode of sessions (commit); the journal lives in FILE.journal;\n"
               "      journaled rows gather up to --journal-apply-delay-ms (50; 0: none)\n"
               "      before DuckDB commits them, unless a reader waits for its own writes\n"
               "  duckpond passwd --users FILE [--read-only] NAME\n"
               "      adds or replaces a user; the password is read from standard input\n"
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

static int cmd_serve(int argc, char **argv)
{
    struct server_options opt;
    server_options_default(&opt);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = v ? parse_num(v) : -1;
        if (!strcmp(a, "--no-batch")) {
            opt.batch = false;
            continue;
        }
        if (!strcmp(a, "--no-journal")) {
            opt.journal_dir = "";
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
        } else if (!strcmp(a, "--journal-dir") && *v)
            opt.journal_dir = v;
        else if (!strcmp(a, "--journal-segment-bytes") && n >= 4096)
            opt.journal_segment_bytes = (size_t)n;
        else if (!strcmp(a, "--journal-apply-delay-ms") && n >= 0 && n <= 60000)
            opt.journal_apply_delay_ms = n ? (int)n : -1;
        else {
            fprintf(stderr, "duckpond serve: bad option %s %s\n", a, v);
            usage(stderr);
            return 2;
        }
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
    bool read_only = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--users") && i + 1 < argc)
            users = argv[++i];
        else if (!strcmp(argv[i], "--read-only"))
            read_only = true;
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
    int rc = users_passwd(users, name, password, read_only, &token, err, sizeof err);
    memset(password, 0, sizeof password);
    if (rc != 0) {
        fprintf(stderr, "duckpond passwd: %s\n", err);
        return 1;
    }
    printf("user %s (%s) written to %s\nHTTP token (shown once): %s\n", name,
           read_only ? "read-only" : "read-write", users, token ? token : "");
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
