/*
 * fuzz_copy_csv.c -- libFuzzer driver for the rewriting of COPY's text and
 * CSV formats (copy_csv.c).
 *
 * The first byte picks the format and options (text or CSV, HEADER,
 * another delimiter, quote and escape, a NULL text, FORCE_NULL, 1 to 3
 * columns) and where the rest is cut in two; the rest is the stream, fed
 * whole and then in the two pieces, each an exact-length copy. Checks what
 * DuckDB relies on: both feeds give the same result and the same output,
 * the output is whole records (empty, or ending in a newline), and on an
 * error the line number is one that was read.
 *
 * Built by `make fuzz` (build-fuzz/fuzz/), run on its seeds in
 * tests/fuzz/corpus/ by `make fuzz-run` and at the end of `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "copy.h"
#include "copy_csv.h"
#include "copy_format.h"

static const char *const names[] = {"a", "b", "c"};

static const char *const statements[] = {
    "COPY t FROM STDIN",
    "COPY t FROM STDIN (FORMAT csv)",
    "COPY t FROM STDIN (FORMAT csv, HEADER)",
    "COPY t FROM STDIN (HEADER, NULL 'x', DELIMITER '|')",
    "COPY t FROM STDIN (FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\\')",
    "COPY t FROM STDIN (FORMAT csv, NULL 'x', FORCE_NULL (a), FORCE_NOT_NULL (b))",
    "COPY t FROM STDIN (FORMAT csv, HEADER match)",
    "COPY t FROM STDIN (DELIMITER '\"')",
};

/* Feeds data in pieces cut at the offsets in cuts (n of them); the result's code, with out and *cv filled. */
static int run(const struct copy_spec *c, int ncols, const uint8_t *data, size_t size, const size_t *cuts,
               int n, struct copy_csv *cv, struct dp_buf *out)
{
    if (copy_csv_init(cv, c, ncols, names) != 0)
        return -2;
    size_t from = 0;
    int rc = 0;
    for (int i = 0; i <= n && rc == 0; i++) {
        size_t to = i < n ? cuts[i] : size;
        char *piece = malloc(to - from + 1);
        memcpy(piece, data + from, to - from);
        rc = copy_csv_feed(cv, piece, to - from, out);
        free(piece);
        from = to;
    }
    return rc == 0 ? copy_csv_finish(cv, out) : rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t pick = data[0];
    data++;
    size--;
    struct copy_spec *c = NULL;
    char err[256];
    if (copy_parse(statements[pick % (sizeof statements / sizeof *statements)], &c, err, sizeof err) != 1)
        abort();
    int ncols = 1 + (pick >> 3) % 3;
    size_t cut = size ? (size_t)(pick >> 5) * size / 8 : 0;
    struct copy_csv a, b;
    struct dp_buf out_a = DP_BUF_INIT, out_b = DP_BUF_INIT;
    int rc_a = run(c, ncols, data, size, NULL, 0, &a, &out_a);
    int rc_b = run(c, ncols, data, size, &cut, 1, &b, &out_b);
    if (rc_a == -2 || rc_b == -2) /* a FORCE_* column beyond ncols: refused at the start, alike */
        goto done;
    if (rc_a != rc_b || out_a.len != out_b.len || (out_a.len && memcmp(out_a.data, out_b.data, out_a.len)))
        abort();
    if (out_a.len && out_a.data[out_a.len - 1] != '\n')
        abort();
    if (rc_a != 0 && (a.err.line > a.lineno + 1 + a.embedded || strcmp(a.err.sqlstate, b.err.sqlstate)))
        abort();
done:
    copy_csv_free(&a);
    copy_csv_free(&b);
    dp_buf_free(&out_a);
    dp_buf_free(&out_b);
    copy_spec_free(c);
    return 0;
}
