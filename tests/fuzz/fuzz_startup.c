/*
 * fuzz_startup.c -- libFuzzer driver for a connection's startup phase,
 * through the session's own code (session_startup): the startup packet
 * and its parameters, SSL and GSS requests, cancel requests, protocol
 * negotiation, then SCRAM-SHA-256 against a users file: the
 * SASLInitialResponse and its client-first message, the client-final
 * message and its proof.
 *
 * The input is what a client sends, written whole into one end of a
 * socket pair (then shut for writing, so the session reads its end and
 * never waits); the session runs on the other end. What it must never
 * do: let a client in without the proof (here the database is absent, so
 * getting that far shows as the session failing to open its
 * connection), or read or write outside its buffers (ASan, UBSan).
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "registry.h"
#include "session_int.h"
#include "users.h"

static struct users *users;
static struct registry registry;
static struct pg_env env;

/* A users file with alice (password "s3cret"), and the session's surroundings, once. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/fuzz_startup.XXXXXX", path[64], err[256], *token = NULL;
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/users", dir);
    if (users_passwd(path, "alice", "s3cret", false, &token, err, sizeof err) != 0 ||
        users_load(path, &users, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_startup: %s\n", err);
        abort();
    }
    free(token);
    unlink(path);
    rmdir(dir);
    registry_init(&registry, 8, 8, 0);
    env = (struct pg_env){.users = users, .registry = &registry};
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds[2];
    if (size > 100000 || socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        return 0;
    int buf = 1 << 20;
    setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (write(fds[1], data, size) != (ssize_t)size) /* the whole input fits the socket's buffer */
        abort();
    shutdown(fds[1], SHUT_WR);
    struct session *s = calloc(1, sizeof *s);
    s->env = &env;
    pgconn_init(&s->pc, fds[0]);
    registry_entry_init(&s->reg, fds[0]);
    snprintf(s->peer, sizeof s->peer, "fuzz");
    int rc = session_startup(s);
    pgconn_flush(&s->pc);
    /* past authentication the session opens its database connection: here there is none */
    if (rc == 0 || !strcmp(s->pc.reason, "FATAL 58000: could not open a database connection"))
        abort();
    if (!s->pc.closing)
        abort(); /* every way out of a failed startup gives a reason */
    registry_release(&registry, &s->reg);
    registry_entry_destroy(&s->reg);
    pgconn_free(&s->pc);
    free(s);
    close(fds[1]);
    return 0;
}
