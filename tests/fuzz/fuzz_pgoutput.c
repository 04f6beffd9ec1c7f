/*
 * fuzz_pgoutput.c -- libFuzzer driver for the decoding of PostgreSQL's
 * logical replication stream (pgoutput.c): the input is decoded both as a
 * replication frame and as a pgoutput message, into a message struct
 * reused across runs (as the sync reuses it). Checks what the sync relies
 * on: a decoded message's names and values lie inside the input, and
 * counts match the arrays.
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgoutput.h"

static struct pgo_msg msg;

/* Whether [p, p + n) lies inside [data, data + size). */
static int inside(const uint8_t *data, size_t size, const void *p, size_t n)
{
    const uint8_t *q = p;
    return q >= data && q + n <= data + size;
}

static void check_tuple(const uint8_t *data, size_t size, const struct pgo_tuple *t)
{
    for (int i = 0; i < t->ncols; i++) {
        const struct pgo_value *v = &t->vals[i];
        if (v->kind == 't' && v->len && !inside(data, size, v->data, v->len))
            abort();
        if (v->kind != 't' && v->kind != 'n' && v->kind != 'u')
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct pgo_frame f;
    if (pgo_frame_decode(data, size, &f, err, sizeof err) == 0 && f.kind == 'w' &&
        (f.len && !inside(data, size, f.data, f.len)))
        abort();
    if (pgo_decode(data, size, &msg, err, sizeof err) != 0)
        return 0;
    if (msg.kind == PGO_RELATION) {
        if (!inside(data, size, msg.relname, strlen(msg.relname) + 1))
            abort();
        for (int i = 0; i < msg.ncols; i++)
            if (!inside(data, size, msg.cols[i].name, strlen(msg.cols[i].name) + 1))
                abort();
    }
    if (msg.kind == PGO_INSERT || msg.kind == PGO_UPDATE || msg.kind == PGO_DELETE) {
        check_tuple(data, size, &msg.old_tuple);
        check_tuple(data, size, &msg.new_tuple);
    }
    if (msg.kind == PGO_TRUNCATE && (size_t)msg.nrelids > size / 4)
        abort();
    return 0;
}
