/*
 * fuzz_copy_binary.c -- libFuzzer driver for COPY FROM STDIN in
 * PostgreSQL's binary format, end to end (copy.c, copy_binary.c): the
 * stream a client sends as CopyData (signature, header and its extension,
 * tuples of typed fields, trailer) into a table of the column types
 * binary COPY takes, through the session's own code on a socket pair.
 * (The text and CSV formats are rewritten by copy_csv.c, which
 * fuzz_copy_csv drives without DuckDB, many times faster.)
 *
 * The first byte picks the statement (every column, or a few of them),
 * the second the size of the CopyData messages the rest is cut into;
 * CopyDone follows. Each COPY runs inside a transaction that
 * is rolled back, so the table stays empty. Checks: the COPY either ends
 * with CommandComplete or queues an error, and the connection is never
 * given up on for a stream's content.
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

#include "copy.h"
#include "pgconn.h"
#include "registry.h"

static const char *const statements[] = {
    "COPY f FROM STDIN (FORMAT binary)",
    "COPY f (i4, t, ts) FROM STDIN (FORMAT binary)",
    "COPY f (d, u, n, iv) FROM STDIN (FORMAT binary)",
    "COPY f (b, i2, i8, f4, f8, bl, tm, tz) FROM STDIN (FORMAT binary)",
};
#define NSTATEMENTS (sizeof statements / sizeof *statements)

static duckdb_database db;
static duckdb_connection con;
static struct copy_spec *specs[NSTATEMENTS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    if (duckdb_open(NULL, &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess ||
        duckdb_query(con,
                     "CREATE TABLE f (b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f4 REAL, f8 DOUBLE,"
                     " t VARCHAR, bl BLOB, d DATE, tm TIME, ts TIMESTAMP, tz TIMESTAMPTZ, iv INTERVAL,"
                     " u UUID, n DECIMAL(18,4))",
                     NULL) != DuckDBSuccess)
        abort();
    for (size_t i = 0; i < NSTATEMENTS; i++)
        if (copy_parse(statements[i], &specs[i], err, sizeof err) != 1)
            abort();
    return 0;
}

/* Frames the stream as CopyData messages of at most chunk bytes, then CopyDone, into b. */
static void frame(struct pgbuf *b, const uint8_t *p, size_t n, size_t chunk)
{
    for (size_t at = 0; at < n; at += chunk) {
        pgbuf_begin(b, 'd');
        pgbuf_bytes(b, (const char *)p + at, n - at < chunk ? n - at : chunk);
        pgbuf_end(b);
    }
    pgwire_empty(b, 'c');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 16384)
        return 0;
    const struct copy_spec *spec = specs[data[0] % NSTATEMENTS];
    size_t chunk = (size_t)data[1] * 4 + 1;
    struct pgbuf in;
    pgbuf_init(&in);
    frame(&in, data + 2, size - 2, chunk);
    int fds[2];
    if (in.failed || socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        abort();
    int bufsize = 1 << 20;
    setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
    setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
    if (write(fds[1], in.data, in.len) != (ssize_t)in.len) /* all of it fits the socket's buffer */
        abort();
    shutdown(fds[1], SHUT_WR);
    pgbuf_free(&in);
    struct pgconn pc;
    pgconn_init(&pc, fds[0]);
    struct registry_entry run;
    registry_entry_init(&run, fds[0]);
    struct copy_ctx ctx = {.pc = &pc, .dcon = con, .run = &run, .in_tx = true};
    if (duckdb_query(con, "BEGIN", NULL) != DuckDBSuccess)
        abort();
    int rc = copy_run(&ctx, spec);
    /* 0: CommandComplete queued; -1: an ErrorResponse queued after the last read */
    if (rc == 0 ? pc.closing : pc.out.len == 0 || pc.closing)
        abort();
    duckdb_query(con, "ROLLBACK", NULL);
    registry_entry_destroy(&run);
    pgconn_free(&pc);
    close(fds[1]);
    return 0;
}
