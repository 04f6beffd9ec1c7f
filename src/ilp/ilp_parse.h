/*
 * ilp_parse.h -- the InfluxDB line protocol, parsed: framing (where a line
 * ends, across pieces of a stream) and one line into its measurement,
 * tags, fields and timestamp. No server, no DuckDB: bytes in, values out.
 *
 * Framing and parsing are apart because a line may arrive in pieces (a TCP
 * stream, a chunked HTTP body): the framer remembers how far it has
 * scanned, so a long line split across many pieces is scanned once, and
 * the parser then reads each complete line in one pass.
 */
#ifndef DUCKPOND_ILP_PARSE_H
#define DUCKPOND_ILP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* ------------------------------------------------------------ framing */

/*
 * Where the current line ends. A newline ends a line except inside a
 * quoted string field value, or after a backslash in the measurement,
 * tags or field keys, as InfluxDB's own scanner reads it.
 */
struct ilp_framer {
    size_t pos;  /* bytes of the current line scanned so far */
    int section; /* 0 measurement and tags, 1 fields, 2 timestamp, 3 a comment */
    bool quoted, escaped, started;
};

/*
 * Scans p[0..n), the current line's bytes from its start (the same bytes
 * as at the last call, and maybe more). Returns the length of the line
 * (its newline excluded: p[len] is the newline), or -1 when p holds no
 * complete line yet (f remembers how far it scanned). After a line is
 * returned f is reset for the next one.
 */
long ilp_frame(struct ilp_framer *f, const char *p, size_t n);

/* ------------------------------------------------------------- a line */

enum ilp_type { ILP_INT, ILP_UINT, ILP_FLOAT, ILP_BOOL, ILP_STRING };

/* Text parsed out of a line: in the line itself, or in the parser's scratch when it held escapes. */
struct ilp_str {
    const char *p;
    size_t n;
};

struct ilp_tag {
    struct ilp_str key, value;
};

struct ilp_field {
    struct ilp_str key;
    enum ilp_type type;
    union {
        int64_t i;
        uint64_t u;
        double f;
        bool b;
        struct ilp_str s;
    } v;
};

/* The largest number of tags plus fields a line may have. */
#define ILP_MAX_COLUMNS 1024

struct ilp_line {
    struct ilp_str measurement;
    struct ilp_tag *tags;
    size_t ntags;
    struct ilp_field *fields;
    size_t nfields;
    bool has_ts;
    int64_t ts; /* as written, in the precision the sender chose */
};

/*
 * The float spelled by s[0..n) (valid float syntax) when it is a common
 * decimal form -- at most 2^53 as an integer of its digits, and a power
 * of ten within 1e22 -- exactly as strtod rounds it: true, with *out.
 * False for every other form, which strtod then reads.
 */
bool ilp_fast_float(const char *s, size_t n, double *out);

/* What ilp_parse_line found. */
enum ilp_result {
    ILP_LINE = 0, /* a line: *out filled */
    ILP_SKIP,     /* a blank line or a comment */
    ILP_ERROR,    /* not a valid line: the parser's why says what and where */
};

/*
 * A parser: its scratch (unescaped text, the tag and field arrays) is
 * reused from line to line, so a steady stream allocates nothing. The
 * strings of a parsed line point into the line or into the scratch, and
 * stay valid until the next call.
 */
struct ilp_parser {
    struct dp_buf scratch;
    struct ilp_tag *tags;
    size_t cap_tags;
    struct ilp_field *fields;
    size_t cap_fields;
    char why[160];
};

void ilp_parser_init(struct ilp_parser *ps);
void ilp_parser_free(struct ilp_parser *ps);

/*
 * Parses one line, p[0..n) without its newline (a trailing '\r' is
 * ignored), into *out. Returns ILP_LINE, ILP_SKIP, or ILP_ERROR with the
 * reason in ps->why ("field "x": integer out of range", "at byte 12:
 * ..."). Checks every rule of the protocol: non-empty names, at least
 * one field, no name given twice, the value spellings InfluxDB accepts,
 * nothing after the timestamp.
 */
enum ilp_result ilp_parse_line(struct ilp_parser *ps, const char *p, size_t n, struct ilp_line *out);

/* ------------------------------------------------------------ helpers */

enum ilp_precision { ILP_NS = 0, ILP_US, ILP_MS, ILP_S };

/* "ns", "us", "ms", "s" (also "n", "u": QuestDB's and InfluxDB v1's spellings) into *out: 0, or -1. */
int ilp_precision_parse(const char *s, enum ilp_precision *out);

/*
 * A timestamp of precision p as nanoseconds since 1970 in *ns: 0, or -1
 * when it falls outside what 64-bit nanoseconds hold (1677-2262).
 */
int ilp_ts_to_ns(int64_t ts, enum ilp_precision p, int64_t *ns);

/* The name of a field type as the errors say it ("integer", "float"...). */
const char *ilp_type_name(enum ilp_type t);

#endif
