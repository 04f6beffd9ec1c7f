/*
 * copy_csv.c -- PostgreSQL's COPY text and CSV formats rewritten, as a
 * stream, into the CSV that DuckDB's reader is given (copy_csv.h).
 *
 * CopyData chunks do not line up with rows: a line that runs past the end
 * of a chunk waits in a carry buffer, with the scan state that finds its
 * end (inside CSV quotes, after a backslash), so each byte is looked at a
 * bounded number of times. A complete line is checked (line end style, the
 * end marker, UTF-8) and then written: as it is when every field is plain
 * (the common case: one copy), else field by field, each value unescaped
 * or unquoted by PostgreSQL's rules and quoted again for DuckDB when it
 * needs it. PostgreSQL counts lines (CSV quotes' newlines included) where
 * DuckDB counts records; the marks kept here turn one into the other for
 * DuckDB's errors.
 */
#include "copy_csv.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "copy_format.h"
#include "utf8.h"

#define SHOW_MAX 100         /* PostgreSQL shows at most this much of a line in CONTEXT */
#define MARKS_MAX (1u << 20) /* past this many, later lines are counted as the last mark says */

/* ------------------------------------------------------------ errors */

/* Sets cv->err for a line (0: none); returns -1. */
static int fail(struct copy_csv *cv, const char *sqlstate, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct copy_csv *cv, const char *sqlstate, uint64_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    snprintf(cv->err.sqlstate, sizeof cv->err.sqlstate, "%s", sqlstate);
    vsnprintf(cv->err.message, sizeof cv->err.message, fmt, ap);
    va_end(ap);
    cv->err.line = line;
    cv->err.context[0] = 0;
    return -1;
}

static int out_of_memory(struct copy_csv *cv)
{
    return fail(cv, "53200", 0, "out of memory");
}

size_t copy_csv_show_len(const char *s, size_t n)
{
    if (n <= SHOW_MAX)
        return n;
    size_t k = SHOW_MAX;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/* Adds the line's text to the error's CONTEXT, as PostgreSQL shows it (`: "..."`); returns -1. */
static int with_line(struct copy_csv *cv, const char *line, size_t len)
{
    size_t k = copy_csv_show_len(line, len);
    snprintf(cv->err.context, sizeof cv->err.context, ": \"%.*s%s\"", (int)k, line, k < len ? "..." : "");
    return -1;
}

/* The length of the UTF-8 sequence a lead byte starts (0: none starts with it). */
static size_t utf8_seq_len(unsigned char c)
{
    return c < 0x80                 ? 1
           : c >= 0xC2 && c <= 0xDF ? 2
           : c >= 0xE0 && c <= 0xEF ? 3
           : c >= 0xF0 && c <= 0xF4 ? 4
                                    : 0;
}

/* 0 when s[0..n) is UTF-8 without NUL bytes; else -1 with the error PostgreSQL gives (22021). */
static int check_utf8(struct copy_csv *cv, const char *s, size_t n)
{
    if (dp_utf8_valid(s, n) && !memchr(s, 0, n))
        return 0;
    size_t at = 0, k = 1;
    while (at < n) { /* the first bad sequence: each checked alone with the shared validator */
        k = utf8_seq_len((unsigned char)s[at]);
        if (!s[at] || !k || at + k > n || !dp_utf8_valid(s + at, k))
            break;
        at += k;
    }
    char shown[32] = "";
    size_t o = 0;
    for (size_t j = 0; j < (k ? k : 1) && at + j < n && o + 6 < sizeof shown; j++)
        o +=
            (size_t)snprintf(shown + o, sizeof shown - o, "%s0x%02x", j ? " " : "", (unsigned char)s[at + j]);
    return fail(cv, "22021", cv->lineno, "invalid byte sequence for encoding \"UTF8\": %s", shown);
}

/* ------------------------------------------------------------ set-up */

/* A name of the list that is not one of the columns, or NULL. */
static const char *not_a_column(const struct copy_names *l, int ncols, const char *const *names)
{
    for (int i = 0; i < l->n; i++) {
        int j = 0;
        while (j < ncols && strcasecmp(l->v[i], names[j]) != 0)
            j++;
        if (j == ncols)
            return l->v[i];
    }
    return NULL;
}

/* FORCE_NULL and FORCE_NOT_NULL as a flag per column. 0, or -1 with cv->err set. */
static int force_flags(struct copy_csv *cv, const struct copy_spec *c, const char *const *names)
{
    const char *stray = not_a_column(&c->force_null, cv->ncols, names);
    if (stray || (stray = not_a_column(&c->force_not_null, cv->ncols, names)))
        return fail(cv, "42P10", 0, "FORCE_NULL or FORCE_NOT_NULL column \"%s\" not referenced by COPY",
                    stray);
    cv->force_null = calloc((size_t)cv->ncols, 1);
    cv->force_not_null = calloc((size_t)cv->ncols, 1);
    if (!cv->force_null || !cv->force_not_null)
        return out_of_memory(cv);
    for (int i = 0; i < cv->ncols; i++) {
        cv->force_null[i] = copy_names_has(&c->force_null, names[i]);
        cv->force_not_null[i] = copy_names_has(&c->force_not_null, names[i]);
    }
    return 0;
}

int copy_csv_init(struct copy_csv *cv, const struct copy_spec *c, int ncols, const char *const *names)
{
    memset(cv, 0, sizeof *cv);
    cv->csv = c->csv;
    cv->delim = c->delim;
    cv->quote = c->quote;
    cv->escape = c->escape;
    cv->out_quote = c->delim == '"' ? '\'' : '"';
    cv->null_str = c->null_str;
    cv->null_len = strlen(c->null_str);
    cv->ncols = ncols;
    cv->names = names;
    cv->header = c->header;
    cv->header_match = c->header_match;
    if ((c->force_null.n || c->force_not_null.n) && force_flags(cv, c, names) != 0)
        return -1;
    const unsigned char stops[] = {(unsigned char)c->delim, (unsigned char)cv->out_quote, '\\', '\r',
                                   (unsigned char)(c->csv ? c->quote : '\\')};
    for (size_t i = 0; i < sizeof stops; i++)
        cv->stop[stops[i]] = 1;
    return 0;
}

void copy_csv_free(struct copy_csv *cv)
{
    dp_buf_free(&cv->carry);
    dp_buf_free(&cv->field);
    free(cv->force_null);
    free(cv->force_not_null);
    free(cv->marks);
    memset(cv, 0, sizeof *cv);
}

/* --------------------------------------------------------- line ends */

/*
 * Text format: the newline ending the line that starts at p[i] (a newline
 * after a backslash is data). True with *end set, or false when the chunk
 * ends first (cv->escaped: it ended on a backslash).
 */
static bool text_line_end(struct copy_csv *cv, const char *p, size_t i, size_t n, size_t *end)
{
    if (cv->escaped) {
        if (i >= n)
            return false;
        cv->escaped = false;
        i++;
    }
    for (;;) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t stop = nl ? (size_t)(nl - p) : n;
        const char *bs = memchr(p + i, '\\', stop - i);
        if (!bs) {
            *end = stop;
            return nl != NULL;
        }
        i = (size_t)(bs - p) + 2; /* past the escaped byte, a newline included */
        if (i > n) {
            cv->escaped = true;
            return false;
        }
    }
}

/* Counts the newlines in p[i..e). */
static uint64_t count_newlines(const char *p, size_t i, size_t e)
{
    uint64_t k = 0;
    for (const char *q; i < e && (q = memchr(p + i, '\n', e - i)); i = (size_t)(q - p) + 1)
        k++;
    return k;
}

/*
 * CSV: the newline ending the record that starts at p[i], outside quotes,
 * as PostgreSQL finds it (the escape character counts only inside quotes).
 * True with *end set, or false when the chunk ends first (the quote state
 * kept in cv). Newlines inside quotes are counted in cv->embedded.
 */
static bool csv_line_end(struct copy_csv *cv, const char *p, size_t i, size_t n, size_t *end)
{
    char q = cv->quote, e = cv->escape == cv->quote ? 0 : cv->escape;
    while (i < n) {
        if (!cv->in_quote) {
            const char *nl = memchr(p + i, '\n', n - i);
            size_t stop = nl ? (size_t)(nl - p) : n;
            const char *qp = memchr(p + i, q, stop - i);
            if (!qp) {
                *end = stop;
                return nl != NULL;
            }
            cv->in_quote = true;
            cv->last_was_esc = false;
            i = (size_t)(qp - p) + 1;
        } else if (!e) { /* the quote, doubled, is its own escape: the next one ends or reopens */
            const char *qp = memchr(p + i, q, n - i);
            size_t stop = qp ? (size_t)(qp - p) : n;
            cv->embedded += count_newlines(p, i, stop);
            if (!qp)
                return false;
            cv->in_quote = false;
            i = stop + 1;
        } else {
            for (; i < n && cv->in_quote; i++) {
                char ch = p[i];
                if (ch == e) {
                    cv->last_was_esc = !cv->last_was_esc;
                    continue;
                }
                if (ch == q && !cv->last_was_esc)
                    cv->in_quote = false;
                cv->last_was_esc = false;
                cv->embedded += ch == '\n';
            }
        }
    }
    return false;
}

/* --------------------------------------------------------- fields */

/* A field of a line: its value (NUL-terminated only in cv->field), or NULL. */
struct field {
    const char *p;
    size_t n;
    bool null;
};

/* Where a line's fields are being read. */
struct cursor {
    const char *line;
    size_t len, i;
    bool done; /* the last field was read */
};

/* Appends one byte resolved from text format's escapes; records a byte that needs a UTF-8 check. */
static void put_resolved(struct copy_csv *cv, int v, bool *check)
{
    *check |= v == 0 || v >= 0x80;
    dp_buf_byte(&cv->field, (char)v);
}

/* Resolves the backslash escapes of a text-format field into cv->field, as PostgreSQL does. */
static void text_unescape(struct copy_csv *cv, const char *s, size_t n, bool *check)
{
    dp_buf_truncate(&cv->field, 0);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            size_t b = i;
            while (i + 1 < n && s[i + 1] != '\\')
                i++;
            dp_buf_add(&cv->field, s + b, i + 1 - b);
            continue;
        }
        if (++i >= n) /* a backslash at the end of the line is dropped */
            break;
        char c = s[i];
        int v = 0, k = 0;
        if (c >= '0' && c <= '7') {
            for (v = c - '0'; k < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                v = v * 8 + (s[++i] - '0');
            put_resolved(cv, v & 0xFF, check);
        } else if (c == 'x' && i + 1 < n && isxdigit((unsigned char)s[i + 1])) {
            for (; k < 2 && i + 1 < n && isxdigit((unsigned char)s[i + 1]); k++) {
                char h = s[++i];
                v = v * 16 + (isdigit((unsigned char)h) ? h - '0' : tolower((unsigned char)h) - 'a' + 10);
            }
            put_resolved(cv, v, check);
        } else {
            const char *from = "bfnrtv", *to = "\b\f\n\r\t\v", *at = strchr(from, c);
            dp_buf_byte(&cv->field, at && c ? to[at - from] : c);
        }
    }
}

/* Reads the next text-format field at cur. 0, or -1 with cv->err set. */
static int text_field(struct copy_csv *cv, struct cursor *cur, struct field *f)
{
    const char *s = cur->line + cur->i;
    size_t n = 0, len = cur->len - cur->i;
    bool esc = false;
    while (n < len && s[n] != cv->delim) {
        if (s[n] == '\\') {
            esc = true;
            n++;
        }
        n++;
    }
    if (n > len)
        n = len;
    cur->done = n >= len;
    cur->i += n + 1;
    *f = (struct field){s, n, n == cv->null_len && memcmp(s, cv->null_str, n) == 0};
    if (f->null || !esc)
        return 0;
    bool check = false;
    text_unescape(cv, s, n, &check);
    if (cv->field.failed)
        return out_of_memory(cv);
    f->p = cv->field.data;
    f->n = cv->field.len;
    return check ? check_utf8(cv, f->p, f->n) : 0;
}

/*
 * The quoted part of a CSV field, from the byte after its opening quote,
 * into cv->field: returns the index past its closing quote, or
 * (size_t)-1 when the line ends first.
 */
static size_t csv_quoted(struct copy_csv *cv, const char *s, size_t i, size_t len)
{
    while (i < len) {
        char ch = s[i];
        if (ch == cv->escape && i + 1 < len && (s[i + 1] == cv->escape || s[i + 1] == cv->quote)) {
            dp_buf_byte(&cv->field, s[i + 1]);
            i += 2;
            continue;
        }
        if (ch == cv->quote)
            return i + 1;
        size_t b = i++; /* data, an escape before anything but a quote or an escape included */
        while (i < len && s[i] != cv->quote && s[i] != cv->escape)
            i++;
        dp_buf_add(&cv->field, s + b, i - b);
    }
    return (size_t)-1;
}

/* Reads the next CSV field at cur (column col). 0, or -1 with cv->err set. */
static int csv_field(struct copy_csv *cv, struct cursor *cur, int col, struct field *f)
{
    const char *s = cur->line;
    size_t i = cur->i, b = i;
    bool quoted = false;
    dp_buf_truncate(&cv->field, 0);
    for (;;) {
        size_t u = i;
        while (i < cur->len && s[i] != cv->delim && s[i] != cv->quote) {
            if (s[i] == '\r')
                return fail(cv, "22P04", cv->lineno, "unquoted carriage return found in data");
            i++;
        }
        dp_buf_add(&cv->field, s + u, i - u);
        if (i >= cur->len || s[i] == cv->delim)
            break;
        quoted = true;
        if ((i = csv_quoted(cv, s, i + 1, cur->len)) == (size_t)-1)
            return fail(cv, "22P04", cv->lineno, "unterminated CSV quoted field");
    }
    if (cv->field.failed)
        return out_of_memory(cv);
    cur->done = i >= cur->len;
    cur->i = i + 1;
    *f = (struct field){cv->field.data ? cv->field.data : "", cv->field.len, false};
    bool matches = f->n == cv->null_len && memcmp(f->p, cv->null_str, f->n) == 0;
    if (!quoted && i - b == cv->null_len && memcmp(s + b, cv->null_str, i - b) == 0)
        f->null = !(cv->force_not_null && cv->force_not_null[col]);
    else if (quoted && matches && cv->force_null && cv->force_null[col])
        f->null = true;
    return 0;
}

static int next_field(struct copy_csv *cv, struct cursor *cur, int col, struct field *f)
{
    return cv->csv ? csv_field(cv, cur, col, f) : text_field(cv, cur, f);
}

/* ----------------------------------------------------------- records */

/* Appends a value for DuckDB: as it is when nothing in it is special, else quoted. */
static void put_value(struct copy_csv *cv, struct dp_buf *out, const char *v, size_t n)
{
    char q = cv->out_quote;
    bool plain = n > 0 && !(n == 2 && v[0] == '\\' && v[1] == 'N');
    for (size_t i = 0; i < n && plain; i++)
        plain = v[i] != q && v[i] != cv->delim && v[i] != '\n' && v[i] != '\r';
    if (plain) {
        dp_buf_add(out, v, n);
        return;
    }
    dp_buf_byte(out, q);
    for (const char *e = n ? v + n : v, *at; v < e; v = at + 1) { /* v may be NULL when n is 0 */
        if (!(at = memchr(v, q, (size_t)(e - v)))) {
            dp_buf_add(out, v, (size_t)(e - v));
            break;
        }
        dp_buf_add(out, v, (size_t)(at - v) + 1);
        dp_buf_byte(out, q);
    }
    dp_buf_byte(out, q);
}

/*
 * Whether a line can go to DuckDB as it is: exactly ncols fields, none
 * empty, none holding a byte that needs rewriting, none equal to NULL's
 * text unless that is COPY_CSV_NULL itself (text format's default).
 */
static bool line_plain(const struct copy_csv *cv, const char *line, size_t len)
{
    if (cv->force_null || cv->force_not_null)
        return false;
    bool null_is_marker = !cv->csv && cv->null_len == 2 && !memcmp(cv->null_str, COPY_CSV_NULL, 2);
    int f = 1;
    size_t b = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (!cv->stop[ch])
            continue;
        if (ch == '\\' && null_is_marker && i == b && i + 1 < len && line[i + 1] == 'N' &&
            (i + 2 == len || line[i + 2] == cv->delim)) {
            i++;
            continue;
        }
        if (ch != (unsigned char)cv->delim || i == b || ++f > cv->ncols)
            return false;
        if (cv->null_len && i - b == cv->null_len && !null_is_marker &&
            !memcmp(line + b, cv->null_str, i - b))
            return false;
        b = i + 1;
    }
    if (b == len || f != cv->ncols)
        return false;
    return !cv->null_len || null_is_marker || len - b != cv->null_len ||
           memcmp(line + b, cv->null_str, len - b);
}

/* Writes one row, field by field. 0, or -1 with cv->err set. */
static int put_fields(struct copy_csv *cv, const char *line, size_t len, struct dp_buf *out)
{
    if (!cv->csv && memchr(line, '\r', len))
        return fail(cv, "22P04", cv->lineno, "literal carriage return found in data");
    struct cursor cur = {line, len, 0, false};
    for (int col = 0; !cur.done; col++) {
        struct field f;
        if (col == cv->ncols) {
            fail(cv, "22P04", cv->lineno, "extra data after last expected column");
            return with_line(cv, line, len);
        }
        if (next_field(cv, &cur, col, &f) != 0)
            return -1;
        if (col)
            dp_buf_byte(out, cv->delim);
        if (f.null)
            dp_buf_str(out, COPY_CSV_NULL);
        else
            put_value(cv, out, f.p, f.n);
        if (cur.done && col + 1 < cv->ncols) {
            fail(cv, "22P04", cv->lineno, "missing data for column \"%s\"", cv->names[col + 1]);
            return with_line(cv, line, len);
        }
    }
    dp_buf_byte(out, '\n');
    return 0;
}

/* HEADER MATCH: the header's fields must be the columns' names, in order. 0, or -1 with cv->err set. */
static int check_header(struct copy_csv *cv, const char *line, size_t len)
{
    struct cursor cur = {line, len, 0, false};
    int col = 0;
    for (; !cur.done; col++) {
        struct field f;
        if (next_field(cv, &cur, col, &f) != 0)
            return -1;
        if (col >= cv->ncols)
            continue;
        const char *want = cv->names[col];
        if (f.null)
            return fail(
                cv, "22P04", cv->lineno,
                "column name mismatch in header line field %d: got null value (\"%s\"), expected \"%s\"",
                col + 1, cv->null_str, want);
        if (f.n != strlen(want) || memcmp(f.p, want, f.n) != 0)
            return fail(cv, "22P04", cv->lineno,
                        "column name mismatch in header line field %d: got \"%.*s\", expected \"%s\"",
                        col + 1, (int)copy_csv_show_len(f.p, f.n), f.p, want);
    }
    if (col != cv->ncols)
        return fail(cv, "22P04", cv->lineno, "wrong number of fields in header line: got %d, expected %d",
                    col, cv->ncols);
    return 0;
}

/* Notes where PostgreSQL's line count leaves the record count by more than before. */
static void note_mark(struct copy_csv *cv)
{
    uint64_t offset = cv->nmarks ? cv->marks[cv->nmarks - 1].line - cv->marks[cv->nmarks - 1].record : 0;
    if (cv->lineno - cv->records == offset || cv->nmarks >= MARKS_MAX)
        return;
    if (dp_grow(&cv->marks, &cv->capmarks, cv->nmarks + 1, sizeof *cv->marks) == 0)
        cv->marks[cv->nmarks++] = (struct copy_csv_mark){cv->records, cv->lineno};
}

uint64_t copy_csv_line_of(const struct copy_csv *cv, uint64_t record)
{
    size_t lo = 0, hi = cv->nmarks; /* the last mark at or before record */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cv->marks[mid].record <= record)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? record + (cv->marks[lo - 1].line - cv->marks[lo - 1].record) : record;
}

/* The line end style, set by the first line: LF or CRLF. Strips the CR. 0, or -1 with cv->err set. */
static int line_end_style(struct copy_csv *cv, const char *line, size_t *len, bool terminated)
{
    bool cr = *len && line[*len - 1] == '\r';
    if (!terminated) { /* the last line, without a newline: a CR before the end is a CRLF's half */
        if (cr && cv->eol != COPY_EOL_NL)
            --*len;
        return 0;
    }
    if (cv->eol == COPY_EOL_UNKNOWN)
        cv->eol = cr ? COPY_EOL_CRNL : COPY_EOL_NL;
    if (cv->eol == COPY_EOL_CRNL && !cr)
        return fail(cv, "22P04", cv->lineno, "%s newline found in data", cv->csv ? "unquoted" : "literal");
    if (cr && cv->eol == COPY_EOL_CRNL)
        --*len;
    return 0;
}

/*
 * One whole line (without its newline; terminated: it had one). utf8_ok:
 * the chunk it lies in was checked already. 0, or -1 with cv->err set.
 */
static int take_line(struct copy_csv *cv, const char *line, size_t len, bool terminated, bool utf8_ok,
                     struct dp_buf *out)
{
    cv->lineno += 1 + cv->embedded;
    cv->embedded = 0;
    cv->in_quote = cv->last_was_esc = cv->escaped = false;
    if (line_end_style(cv, line, &len, terminated) != 0)
        return -1;
    if (len == 2 && line[0] == '\\' && line[1] == '.') {
        cv->ended = true;
        return 0;
    }
    if (!utf8_ok && check_utf8(cv, line, len) != 0)
        return -1;
    if (cv->header) {
        cv->header = false;
        return cv->header_match ? check_header(cv, line, len) : 0;
    }
    size_t before = out->len;
    if (line_plain(cv, line, len)) {
        dp_buf_add(out, line, len);
        dp_buf_byte(out, '\n');
    } else if (put_fields(cv, line, len, out) != 0) {
        dp_buf_truncate(out, before); /* DuckDB must not see half a record */
        return -1;
    }
    if (out->failed)
        return out_of_memory(cv);
    if (out->len - before > COPY_CSV_MAX_RECORD)
        return fail(cv, "54000", cv->lineno, "COPY line is too long once its values are quoted");
    cv->records++;
    note_mark(cv);
    return 0;
}

int copy_csv_feed(struct copy_csv *cv, const char *p, size_t n, struct dp_buf *out)
{
    bool utf8_ok = dp_utf8_valid(p, n) && !memchr(p, 0, n);
    size_t i = 0;
    while (i < n && !cv->ended) {
        size_t end;
        bool whole = cv->csv ? csv_line_end(cv, p, i, n, &end) : text_line_end(cv, p, i, n, &end);
        if (!whole) {
            if (cv->carry.len + (n - i) > COPY_CSV_MAX_LINE)
                return fail(cv, "54000", cv->lineno + 1, "COPY line is longer than %u bytes",
                            COPY_CSV_MAX_LINE);
            dp_buf_add(&cv->carry, p + i, n - i);
            return cv->carry.failed ? out_of_memory(cv) : 0;
        }
        if (cv->carry.len + (end - i) > COPY_CSV_MAX_LINE) /* refused before a byte of it is copied */
            return fail(cv, "54000", cv->lineno + 1, "COPY line is longer than %u bytes", COPY_CSV_MAX_LINE);
        int rc;
        if (cv->carry.len) {
            dp_buf_add(&cv->carry, p + i, end - i);
            rc = cv->carry.failed ? out_of_memory(cv)
                                  : take_line(cv, cv->carry.data, cv->carry.len, true, false, out);
            dp_buf_truncate(&cv->carry, 0);
        } else {
            rc = take_line(cv, p + i, end - i, true, utf8_ok, out);
        }
        if (rc != 0)
            return -1;
        i = end + 1;
    }
    return 0;
}

int copy_csv_finish(struct copy_csv *cv, struct dp_buf *out)
{
    if (cv->ended || !cv->carry.len)
        return 0;
    if (cv->csv && cv->in_quote)
        return fail(cv, "22P04", cv->lineno + 1 + cv->embedded, "unterminated CSV quoted field");
    int rc = take_line(cv, cv->carry.data, cv->carry.len, false, false, out);
    dp_buf_truncate(&cv->carry, 0);
    return rc;
}
