/*
 * fuzz_pgwire.c -- libFuzzer driver for the PostgreSQL protocol parser.
 *
 * Feeds the input to pgwire_parse as a stream (first packet in startup
 * form, then typed messages), in chunks of every size the first byte
 * picks, and reads every message body with the pgreader calls the session
 * uses. Then builds messages from the bodies into a buffer with a byte
 * limit the input picks, and checks that what it holds is always whole
 * messages, however many of them did not fit.
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
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

/* b holds whole messages, to its last byte: a type, a length, that many bytes. */
static void check_whole(const struct pgbuf *b)
{
    for (size_t off = 0; off < b->len;) {
        if (b->len - off < 5)
            abort();
        const unsigned char *u = (const unsigned char *)b->data + off + 1;
        uint32_t n = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
        if (n < 4 || n > b->len - off - 1)
            abort();
        off += 1 + (size_t)n;
    }
}

/* Builds a NoticeResponse per chunk of body into b; each either fits whole or leaves nothing. */
static void build(struct pgbuf *b, const char *body, size_t len)
{
    char text[64];
    for (size_t at = 0; at < len; at += sizeof text - 1) {
        size_t n = len - at < sizeof text - 1 ? len - at : sizeof text - 1;
        memcpy(text, body + at, n);
        text[n] = '\0';
        size_t before = b->len;
        bool failed = b->failed;
        pgwire_notice(b, "01000", text);
        if (b->failed ? b->len != before : failed)
            abort();
        check_whole(b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, avail = 0, off = 0;

    struct pgbuf b;
    pgbuf_init(&b);
    b.buf.limit = (size_t)data[0] * 4;
    build(&b, in, len);
    pgwire_error(&b, "ERROR", "08P01", "x", NULL, NULL);
    check_whole(&b);
    pgbuf_free(&b);

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
    return 0;
}
