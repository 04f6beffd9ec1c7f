/*
 * fuzz_pgwire.c -- libFuzzer driver for the PostgreSQL protocol parser.
 *
 * Feeds the input to pgwire_parse as a stream (first packet in startup
 * form, then typed messages), in chunks of every size the first byte
 * picks, and reads every message body with the pgreader calls the session
 * uses. Not built by default:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       -Ideps/duckdb/include tests/fuzz/fuzz_pgwire.c src/pgwire.c -o fuzz_pgwire
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire.h"

/* Reads a body the way the handlers of Parse, Bind and the rest do. */
static void read_body(const struct pgmsg *m)
{
    struct pgreader r;
    pgreader_init(&r, m);
    while (!r.bad && r.left) {
        pgreader_cstr(&r);
        int16_t n = pgreader_int16(&r);
        for (int i = 0; i < n && !r.bad; i++) {
            int32_t len = pgreader_int32(&r);
            if (len > 0)
                pgreader_bytes(&r, (size_t)len);
        }
        pgreader_int8(&r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, avail = 0, off = 0;
    bool startup = true;
    pgwire_set_max_message(1 << 20);
    while (off < len) {
        avail = avail + chunk < len - off ? avail + chunk : len - off;
        struct pgmsg m;
        size_t need = 0;
        const char *err = NULL;
        long r = pgwire_parse(in + off, avail, startup, &m, &need, &err);
        if (r < 0)
            return 0; /* the session closes the connection here */
        if (r == 0) {
            if (avail == len - off)
                return 0; /* truncated: the client went away */
            continue;
        }
        if ((size_t)r > avail || (need && need != (size_t)r))
            abort();
        read_body(&m);
        startup = false;
        off += (size_t)r;
        avail -= (size_t)r;
    }
    struct pgbuf b;
    pgbuf_init(&b);
    pgwire_error(&b, "ERROR", "08P01", (const char *)"x", NULL, NULL);
    pgbuf_free(&b);
    return 0;
}
