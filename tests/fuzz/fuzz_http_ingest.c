/*
 * fuzz_http_ingest.c -- libFuzzer driver for the HTTP ingest parsers
 * (NDJSON and CSV rows, http_ingest.c).
 *
 * The first byte of an input picks the format and where the body is cut
 * in two (bodies arrive in pieces); the rest is the body. Rows are parsed
 * into a write, so the driver exercises the incremental parsers and the
 * row building; one input in two also ends the body (the last line
 * without a newline) and submits, to a table that does not exist.
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
 */
#include <stdlib.h>
#include <string.h>

#include "http_ingest.h"

static struct http_env env;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!env.batcher) {
        if (duckpond_open(":memory:", NULL, &env.db) != DUCKPOND_OK ||
            duckpond_batcher_new(env.db, NULL, &env.batcher) != DUCKPOND_OK)
            abort();
    }
    if (size < 1)
        return 0;
    bool csv = data[0] & 1;
    size_t cut = size > 1 ? (data[0] >> 1) % size : 0;
    struct http_ingest *in = http_ingest_new(&env, "t", csv, data[0] & 0x80);
    if (!in)
        return 0;
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    if (cut > n)
        cut = n;
    http_ingest_feed(in, body, cut);
    http_ingest_feed(in, body + cut, n - cut);
    if (data[0] & 0x40)
        http_ingest_finish(in, NULL);
    http_ingest_free(in);
    return 0;
}
