/*
 * ilp_stream.c -- the bytes of one stream (an HTTP body, a TCP
 * connection) into a sink: framed into lines across the pieces they
 * arrive in, parsed, counted, handed on, up to the first line that fails.
 *
 * A piece is framed in place; only the start of a line whose end has not
 * come yet is copied, and the next piece is added to it until the line is
 * whole, so a long line split into many pieces is scanned once (the
 * framer remembers where it was) and copied once.
 */
#include "ilp_stream.h"

#include <stdio.h>
#include <string.h>

void ilp_stream_init(struct ilp_stream *st, struct ilp_sink *sink, size_t max_line)
{
    memset(st, 0, sizeof *st);
    st->sink = sink;
    st->max_line = max_line;
    ilp_parser_init(&st->ps);
}

void ilp_stream_free(struct ilp_stream *st)
{
    ilp_parser_free(&st->ps);
    dp_buf_free(&st->partial);
}

/* Records the stream's failure on its current line; returns reason + 1. */
static int stream_fail(struct ilp_stream *st, int reason, const char *why)
{
    st->reason = reason + 1;
    st->bad_line = st->line_no;
    snprintf(st->why, sizeof st->why, "line %zu: %s", st->line_no, why);
    ilp_count_error((enum ilp_reason)reason);
    return st->reason;
}

/* One complete line, p[0..n) without its newline. */
static int stream_line(struct ilp_stream *st, const char *p, size_t n, int64_t now_ns)
{
    st->line_no++;
    if (n > st->max_line) {
        char why[96];
        snprintf(why, sizeof why, "the line is longer than the limit of %zu bytes", st->max_line);
        return stream_fail(st, ILP_ERR_TOO_LONG, why);
    }
    struct ilp_line ln;
    enum ilp_result r = ilp_parse_line(&st->ps, p, n, &ln);
    if (r == ILP_SKIP)
        return 0;
    st->uncounted++;
    if (r == ILP_ERROR)
        return stream_fail(st, ILP_ERR_SYNTAX, st->ps.why);
    int reason = ilp_sink_line(st->sink, &ln, st->line_no, now_ns);
    return reason ? stream_fail(st, reason, ilp_sink_why(st->sink)) : 0;
}

/* The lines that p[0..n) completes; returns how many bytes they took (the rest is an unfinished line). */
static size_t stream_lines(struct ilp_stream *st, const char *p, size_t n, int64_t now_ns)
{
    size_t at = 0;
    long len;
    while (!st->reason && at < n && (len = ilp_frame(&st->fr, p + at, n - at)) >= 0) {
        stream_line(st, p + at, (size_t)len, now_ns);
        at += (size_t)len + 1;
    }
    ilp_count_lines(st->uncounted); /* one atomic add a piece, not a line */
    st->uncounted = 0;
    return at;
}

int ilp_stream_feed(struct ilp_stream *st, const char *p, size_t n, int64_t now_ns)
{
    if (st->reason || !n)
        return st->reason;
    if (st->partial.len) {
        dp_buf_add(&st->partial, p, n);
        if (st->partial.failed)
            return stream_fail(st, ILP_ERR_TOO_LONG, "out of memory");
        size_t used = stream_lines(st, st->partial.data, st->partial.len, now_ns);
        memmove(st->partial.data, st->partial.data + used, st->partial.len - used);
        dp_buf_truncate(&st->partial, st->partial.len - used);
    } else {
        size_t used = stream_lines(st, p, n, now_ns);
        dp_buf_add(&st->partial, p + used, n - used);
    }
    if (!st->reason && st->partial.len > st->max_line) {
        st->line_no++;
        char why[96];
        snprintf(why, sizeof why, "the line is longer than the limit of %zu bytes", st->max_line);
        stream_fail(st, ILP_ERR_TOO_LONG, why);
    }
    if (st->reason)
        dp_buf_clear(&st->partial, 0);
    return st->reason;
}

int ilp_stream_end(struct ilp_stream *st, int64_t now_ns)
{
    if (st->reason || !st->partial.len)
        return st->reason;
    stream_line(st, st->partial.data, st->partial.len, now_ns);
    ilp_count_lines(st->uncounted);
    st->uncounted = 0;
    dp_buf_clear(&st->partial, 0);
    return st->reason;
}
