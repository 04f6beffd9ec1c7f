/*
 * fuzz_http_ingest.c -- libFuzzer driver for the HTTP ingest parsers
 * (NDJSON and CSV rows, http_ingest.c).
 *
 * The first byte of an input picks the format and where the body is cut
 * in two (bodies arrive in pieces); the rest is the body. Rows are parsed
 * into a write, so the driver exercises the
 * incremental parsers and the row building; one input in two also ends
 * the body (the last line without a newline) and submits, to a table that
 * does not exist.
 *
 *   make && clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *     -isystem deps/duckdb/include tests/fuzz/fuzz_http_ingest.c \
 *     src/http_ingest.c src/http_render.c src/metrics.c build/libduckpond.a \
 *     -Ldeps/duckdb/lib -lduckdb -ljansson -lpthread -lm \
 *     -Wl,-rpath,$PWD/deps/duckdb/lib -o fuzz_http_ingest
 *   ASAN_OPTIONS=detect_leaks=0 ./fuzz_http_ingest -max_total_time=60
 *
 * (detect_leaks=0: the database the driver keeps open for the whole run
 * is otherwise reported at exit; leaks of our own show under ASan in
 * tests/unit/test_http.c.)
 *
 * (src/http.c is left out: the driver needs none of the server, and the
 * two functions of it that http_ingest.c calls are given here.)
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

static struct http_server server;

/* http.c's answers are not reached: the driver never finishes a request. */
enum MHD_Result http_send_json(struct MHD_Connection *c, unsigned status, struct hbuf *b)
{
    hbuf_free(b);
    return MHD_NO;
}

unsigned http_status_for(int status)
{
    return status ? 500 : 200;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server.batcher) {
        if (duckpond_open(":memory:", NULL, &server.db) != DUCKPOND_OK ||
            duckpond_batcher_new(server.db, NULL, &server.batcher) != DUCKPOND_OK)
            abort();
    }
    if (size < 1)
        return 0;
    bool csv = data[0] & 1;
    size_t cut = size > 1 ? (data[0] >> 1) % size : 0;
    struct http_ingest *in = http_ingest_new(&server, "t", csv, data[0] & 0x80);
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
