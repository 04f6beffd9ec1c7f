/*
 * copy_csv.h -- PostgreSQL's COPY text and CSV formats, read as a stream
 * and rewritten as the one CSV dialect DuckDB's CSV reader is given.
 *
 * The rewritten stream has one record per row, in the client's delimiter,
 * COPY_CSV_NULL for NULL, and every value that needs it quoted with
 * copy_csv's out_quote (doubled inside); nothing else. All of PostgreSQL's
 * rules are applied here, before DuckDB sees a byte: backslash escapes and
 * \N, CSV quoting, NULL's text with FORCE_NULL and FORCE_NOT_NULL, HEADER,
 * the \. end marker, line ends (LF or CRLF, as the first line sets), the
 * field count, and UTF-8. Pure: no connection, no DuckDB.
 */
#ifndef DUCKPOND_COPY_CSV_H
#define DUCKPOND_COPY_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct copy_spec;

/* What a NULL is in the rewritten stream (DuckDB's nullstr). Never written for a value: those are quoted. */
#define COPY_CSV_NULL "\\N"

/*
 * The longest line accepted, and the longest record written for DuckDB
 * (whose CSV buffer is that size: memory per COPY stays small).
 * PostgreSQL's own limit is 1 GB.
 */
#define COPY_CSV_MAX_LINE (8u << 20)
#define COPY_CSV_MAX_RECORD (8u << 20)

/* An error in the input: PostgreSQL's SQLSTATE and message, the line, and what CONTEXT adds after it. */
struct copy_csv_error {
    char sqlstate[6];
    char message[256];
    uint64_t line;
    char context[320]; /* e.g. `: "the line"`; "" for none */
};

/* Where PostgreSQL's line count departs from the count of records written. */
struct copy_csv_mark {
    uint64_t record, line;
};

struct copy_csv {
    /* the format */
    bool csv;
    char delim, quote, escape; /* the client's */
    char out_quote;            /* the rewritten stream's */
    const char *null_str;
    size_t null_len;
    int ncols;
    const char *const *names;          /* the columns, for messages */
    bool *force_null, *force_not_null; /* per column; NULL for none */
    bool header, header_match;
    unsigned char stop[256]; /* the bytes that end a run of plain ones in a field */

    /* the stream */
    struct dp_buf carry;                  /* a line begun in an earlier chunk */
    bool in_quote, last_was_esc, escaped; /* the scan state of the carried line */
    uint64_t embedded;                    /* newlines inside quotes in the carried line */
    enum { COPY_EOL_UNKNOWN, COPY_EOL_NL, COPY_EOL_CRNL } eol;
    bool ended;       /* \. was read: the rest is ignored */
    uint64_t lineno;  /* lines read, as PostgreSQL counts them */
    uint64_t records; /* records written */
    struct copy_csv_mark *marks;
    size_t nmarks, capmarks;
    struct dp_buf field; /* a value being unescaped */
    struct copy_csv_error err;
};

/*
 * Sets cv up for c's format and a target of ncols columns called names
 * (borrowed: they must outlive cv). 0, or -1 when memory runs out.
 */
int copy_csv_init(struct copy_csv *cv, const struct copy_spec *c, int ncols, const char *const *names);
void copy_csv_free(struct copy_csv *cv);

/*
 * Reads n bytes of the stream (any cut: a line may span calls) and appends
 * the rewritten records to out. 0, or -1 with cv->err set (out then holds
 * the records before the bad line). After the end marker, input is ignored.
 */
int copy_csv_feed(struct copy_csv *cv, const char *p, size_t n, struct dp_buf *out);

/* The stream ended: a last line without its newline is taken. 0, or -1 with cv->err set. */
int copy_csv_finish(struct copy_csv *cv, struct dp_buf *out);

/* PostgreSQL's line number of record (1-based) of the rewritten stream. */
uint64_t copy_csv_line_of(const struct copy_csv *cv, uint64_t record);

/* How much of s[0..n) PostgreSQL shows in a message: at most 100 bytes, cut at a character. */
size_t copy_csv_show_len(const char *s, size_t n);

#endif
