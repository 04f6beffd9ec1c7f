/*
 * fuzz_ilp_parse.c -- libFuzzer driver for the line protocol framer and
 * parser (ilp_parse.c).
 *
 * The input is a stream of lines. The first byte picks the size of the
 * pieces it is fed in (a TCP stream arrives in pieces), the rest is the
 * stream: each complete line the framer finds is parsed from a copy of
 * exactly its length, and whatever a parsed line holds is read in full,
 * so that a string pointing outside the line or the scratch shows under
 * ASan.
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
 */
#include <stdlib.h>
#include <string.h>

#include "ilp_parse.h"

static volatile size_t sink;

/* Touches every byte of s. */
static void touch(struct ilp_str s)
{
    for (size_t i = 0; i < s.n; i++)
        sink += (unsigned char)s.p[i];
}

static void parse_one(struct ilp_parser *ps, const char *p, size_t n)
{
    char *copy = malloc(n ? n : 1);
    if (!copy)
        return;
    memcpy(copy, p, n);
    struct ilp_line ln;
    enum ilp_result r = ilp_parse_line(ps, copy, n, &ln);
    if (r == ILP_LINE) {
        touch(ln.measurement);
        for (size_t i = 0; i < ln.ntags; i++) {
            touch(ln.tags[i].key);
            touch(ln.tags[i].value);
        }
        for (size_t i = 0; i < ln.nfields; i++) {
            touch(ln.fields[i].key);
            if (ln.fields[i].type == ILP_STRING)
                touch(ln.fields[i].v.s);
        }
        int64_t ns;
        if (ln.has_ts)
            sink += (size_t)ilp_ts_to_ns(ln.ts, ILP_MS, &ns);
    } else if (r == ILP_ERROR && !ps->why[0]) {
        abort(); /* an error always says why */
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] + 1;
    const char *text = (const char *)data + 1;
    size_t n = size - 1, have = 0, start = 0;
    struct ilp_parser ps;
    struct ilp_framer f = {0};
    ilp_parser_init(&ps);
    while (have < n) {
        have = have + step < n ? have + step : n;
        long len;
        while (start < have && (len = ilp_frame(&f, text + start, have - start)) >= 0) {
            parse_one(&ps, text + start, (size_t)len);
            start += (size_t)len + 1;
        }
    }
    if (start < n)
        parse_one(&ps, text + start, n - start);
    ilp_parser_free(&ps);
    return 0;
}
