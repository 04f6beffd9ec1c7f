/*
 * ilp_parse.c -- the InfluxDB line protocol: framing and parsing, as
 * InfluxDB documents it.
 *
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * Escapes: in the measurement, a backslash before a comma or a space (or a
 * backslash) stands for that character; in tag keys, tag values and field
 * keys, before a comma, an equals sign or a space (or a backslash); in a
 * string field value, before a double quote or a backslash. A backslash
 * before anything else is itself. Field values: integers "12i", unsigned
 * "12u", floats "1.5", "-3", "1e9", booleans t T true True TRUE f F false
 * False FALSE, strings in double quotes (which may hold newlines). Lines
 * starting with '#' are comments; blank lines are skipped.
 *
 * Text with no escape is handed out in place; text with one is unescaped
 * into the parser's scratch, reserved up front to the line's length so
 * that nothing it holds moves while the line is read.
 */
#include "ilp_parse.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ framing */

/* Resets the framer for the next line. */
static void frame_reset(struct ilp_framer *f)
{
    memset(f, 0, sizeof *f);
}

long ilp_frame(struct ilp_framer *f, const char *p, size_t n)
{
    /* the bytes that change the framer's state in the measurement, tags and fields */
    static const bool special[256] = {['\\'] = true, ['"'] = true, [' '] = true, ['\n'] = true};
    size_t i = f->pos;
    for (; i < n; i++) {
        if (f->started && f->section < 2 && !f->escaped && !f->quoted) {
            /* most bytes are names and numbers: skip them in one tight loop */
            while (i < n && !special[(unsigned char)p[i]])
                i++;
            if (i == n)
                break;
        }
        char c = p[i];
        if (f->escaped) {
            f->escaped = false;
            continue;
        }
        if (!f->started) {
            if (c == ' ' || c == '\t')
                continue;
            f->started = true;
            if (c == '#')
                f->section = 3;
        }
        if (f->section >= 2) {
            const char *nl = memchr(p + i, '\n', n - i);
            if (!nl) {
                i = n;
                break;
            }
            frame_reset(f);
            return nl - p;
        }
        if (f->quoted) {
            if (c == '\\')
                f->escaped = true;
            else if (c == '"')
                f->quoted = false;
            continue;
        }
        switch (c) {
        case '\\': f->escaped = true; break;
        case '"': f->quoted = f->section == 1; break;
        case ' ': f->section++; break;
        case '\n': frame_reset(f); return (long)i;
        default: break;
        }
    }
    f->pos = i;
    return -1;
}

/* ------------------------------------------------------------ parsing */

void ilp_parser_init(struct ilp_parser *ps)
{
    memset(ps, 0, sizeof *ps);
}

void ilp_parser_free(struct ilp_parser *ps)
{
    dp_buf_free(&ps->scratch);
    free(ps->tags);
    free(ps->fields);
    memset(ps, 0, sizeof *ps);
}

/* One line being read: the input, the position, the parser. */
struct cursor {
    struct ilp_parser *ps;
    const char *p;
    size_t n, i;
};

static enum ilp_result fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the parser's reason, prefixed with the byte where it was found; returns ILP_ERROR. */
static enum ilp_result fail(struct cursor *c, const char *fmt, ...)
{
    int k = snprintf(c->ps->why, sizeof c->ps->why, "at byte %zu: ", c->i + 1);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->ps->why + k, sizeof c->ps->why - (size_t)k, fmt, ap);
    va_end(ap);
    return ILP_ERROR;
}

/* Whether c ends a name of this kind: measurement (',' ' ') or key/tag value (',' '=' ' '). */
static inline bool name_stop(char c, bool measurement)
{
    return c == ',' || c == ' ' || (c == '=' && !measurement);
}

/*
 * Reads a name (measurement, tag key or value, field key) from the cursor
 * up to its first unescaped stop character, unescaped. The text is the
 * line's own bytes when it holds no escape, else unescaped into scratch.
 */
static struct ilp_str read_name(struct cursor *c, bool measurement)
{
    size_t start = c->i;
    char *dst = NULL;
    size_t dn = 0;
    while (c->i < c->n) {
        char ch = c->p[c->i];
        if (ch == '\\' && c->i + 1 < c->n) {
            char nx = c->p[c->i + 1];
            if (nx == '\\' || name_stop(nx, measurement)) {
                if (!dst) {
                    dst = c->ps->scratch.data + c->ps->scratch.len;
                    memcpy(dst, c->p + start, c->i - start);
                    dn = c->i - start;
                }
                dst[dn++] = nx;
                c->i += 2;
                continue;
            }
        } else if (name_stop(ch, measurement)) {
            break;
        }
        if (dst)
            dst[dn++] = ch;
        c->i++;
    }
    if (!dst)
        return (struct ilp_str){c->p + start, c->i - start};
    c->ps->scratch.len += dn;
    return (struct ilp_str){dst, dn};
}

/* Reads a quoted string value; the cursor is on its opening quote. */
static enum ilp_result read_string(struct cursor *c, struct ilp_str *out)
{
    size_t start = ++c->i;
    char *dst = NULL;
    size_t dn = 0;
    while (c->i < c->n) {
        char ch = c->p[c->i];
        if (ch == '"') {
            c->i++;
            if (dst) {
                c->ps->scratch.len += dn;
                *out = (struct ilp_str){dst, dn};
            } else {
                *out = (struct ilp_str){c->p + start, c->i - 1 - start};
            }
            return ILP_LINE;
        }
        if (ch == '\\' && c->i + 1 < c->n && (c->p[c->i + 1] == '"' || c->p[c->i + 1] == '\\')) {
            if (!dst) {
                dst = c->ps->scratch.data + c->ps->scratch.len;
                memcpy(dst, c->p + start, c->i - start);
                dn = c->i - start;
            }
            dst[dn++] = c->p[c->i + 1];
            c->i += 2;
            continue;
        }
        if (dst)
            dst[dn++] = ch;
        c->i++;
    }
    c->i = start - 1;
    return fail(c, "a string field value is not closed by a double quote");
}

/* Parses an unsigned decimal integer s[0..n): 0, 1 for no digits (or another character), 2 for overflow. */
static int parse_uint64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0)
        return 1;
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 1;
        unsigned d = (unsigned)(s[i] - '0');
        if (m > (UINT64_MAX - d) / 10)
            return 2;
        m = m * 10 + d;
    }
    *out = m;
    return 0;
}

/* Parses an optionally negative decimal integer s[0..n): as parse_uint64, 2 also past int64's range. */
static int parse_int64(const char *s, size_t n, int64_t *out)
{
    bool neg = n && s[0] == '-';
    uint64_t m;
    int rc = parse_uint64(s + neg, n - neg, &m);
    if (rc != 0)
        return rc;
    if (neg ? m > (uint64_t)INT64_MAX + 1 : m > (uint64_t)INT64_MAX)
        return 2;
    *out = neg ? (int64_t)(0 - m) : (int64_t)m;
    return 0;
}

/* Whether s[0..n) spells a float as the protocol has it: [-+]digits[.digits][e[-+]digits]. */
static bool float_syntax(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (!digits)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t ed = 0;
        if (++i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ed++;
        if (!ed)
            return false;
    }
    return i == n;
}

bool ilp_fast_float(const char *s, size_t n, double *out)
{
#if FLT_EVAL_METHOD == 0
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const uint64_t exact = (uint64_t)1 << 53; /* every integer up to here is a double */
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    uint64_t m = 0;
    long e = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (m > (exact - 9) / 10)
            return false;
        m = m * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, e--) {
            if (m > (exact - 9) / 10)
                return false;
            m = m * 10 + (uint64_t)(s[i] - '0');
        }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        bool eneg = false;
        long x = 0;
        if (++i < n && (s[i] == '-' || s[i] == '+'))
            eneg = s[i++] == '-';
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if ((x = x * 10 + (s[i] - '0')) > 1000)
                return false;
        e += eneg ? -x : x;
    }
    if (i != n)
        return false;
    double d = (double)m; /* exact: m <= 2^53 */
    if (m != 0) {
        if (e < -22 || e > 22)
            return false;
        /* one correctly rounded operation on two exact operands */
        d = e < 0 ? d / pow10[-e] : d * pow10[e];
    }
    *out = neg ? -d : d;
    return true;
#else
    (void)s, (void)n, (void)out;
    return false;
#endif
}

/* Whether s[0..n) is one of the boolean spellings; its value in *b. */
static bool parse_bool(const char *s, size_t n, bool *b)
{
    static const char *const yes[] = {"t", "T", "true", "True", "TRUE"};
    static const char *const no[] = {"f", "F", "false", "False", "FALSE"};
    /* most values are numbers: one test of the first byte sends them on */
    if (n == 0 || !(s[0] == 't' || s[0] == 'T' || s[0] == 'f' || s[0] == 'F') || n > 5)
        return false;
    for (size_t k = 0; k < 5; k++) {
        if (strlen(yes[k]) == n && memcmp(s, yes[k], n) == 0)
            return *b = true, true;
        if (strlen(no[k]) == n && memcmp(s, no[k], n) == 0)
            return *b = false, true;
    }
    return false;
}

/* Reads an unquoted field value (number or boolean) of field f. */
static enum ilp_result read_scalar(struct cursor *c, struct ilp_field *f)
{
    size_t start = c->i;
    while (c->i < c->n && c->p[c->i] != ',' && c->p[c->i] != ' ')
        c->i++;
    const char *s = c->p + start;
    size_t n = c->i - start;
    int key = (int)(f->key.n > 60 ? 60 : f->key.n);
    c->i = start;
    if (n == 0)
        return fail(c, "field \"%.*s\" has no value", key, f->key.p);
    char last = s[n - 1];
    int rc;
    if (last == 'i' && (rc = parse_int64(s, n - 1, &f->v.i)) != 1) {
        f->type = ILP_INT;
        if (rc == 2)
            return fail(c, "field \"%.*s\": integer out of range", key, f->key.p);
    } else if (last == 'u' && (rc = parse_uint64(s, n - 1, &f->v.u)) != 1) {
        f->type = ILP_UINT;
        if (rc == 2)
            return fail(c, "field \"%.*s\": unsigned integer out of range", key, f->key.p);
    } else if (parse_bool(s, n, &f->v.b)) {
        f->type = ILP_BOOL;
    } else if (float_syntax(s, n)) {
        f->type = ILP_FLOAT;
        if (ilp_fast_float(s, n, &f->v.f)) {
            c->i = start + n;
            return ILP_LINE;
        }
        char buf[400];
        if (n >= sizeof buf)
            return fail(c, "field \"%.*s\": the number is too long", key, f->key.p);
        memcpy(buf, s, n);
        buf[n] = '\0';
        errno = 0;
        f->type = ILP_FLOAT;
        f->v.f = strtod(buf, NULL);
        if (!isfinite(f->v.f))
            return fail(c, "field \"%.*s\": float out of range", key, f->key.p);
    } else {
        return fail(c,
                    "field \"%.*s\": \"%.*s\" is not a number, integer (i), unsigned (u), boolean or string",
                    key, f->key.p, (int)(n > 40 ? 40 : n), s);
    }
    c->i = start + n;
    return ILP_LINE;
}

/* Skips spaces (and tabs); returns how many. */
static size_t skip_blanks(struct cursor *c)
{
    size_t k = c->i;
    while (c->i < c->n && (c->p[c->i] == ' ' || c->p[c->i] == '\t'))
        c->i++;
    return c->i - k;
}

/* The tags: ",key=value" repeated, the cursor after the measurement. */
static enum ilp_result read_tags(struct cursor *c, struct ilp_line *out)
{
    struct ilp_parser *ps = c->ps;
    while (c->i < c->n && c->p[c->i] == ',') {
        c->i++;
        if (out->ntags >= ILP_MAX_COLUMNS)
            return fail(c, "more than %d tags", ILP_MAX_COLUMNS);
        if (dp_grow(&ps->tags, &ps->cap_tags, out->ntags + 1, sizeof *ps->tags) != 0)
            return fail(c, "out of memory");
        struct ilp_tag *t = &ps->tags[out->ntags];
        t->key = read_name(c, false);
        if (t->key.n == 0)
            return fail(c, "a tag has an empty key");
        if (c->i >= c->n || c->p[c->i] != '=')
            return fail(c, "tag \"%.*s\" has no '=' and value", (int)(t->key.n > 60 ? 60 : t->key.n),
                        t->key.p);
        c->i++;
        t->value = read_name(c, false);
        if (t->value.n == 0)
            return fail(c, "tag \"%.*s\" has an empty value", (int)(t->key.n > 60 ? 60 : t->key.n), t->key.p);
        if (c->i < c->n && c->p[c->i] == '=')
            return fail(c, "tag \"%.*s\": an unescaped '=' in its value",
                        (int)(t->key.n > 60 ? 60 : t->key.n), t->key.p);
        out->ntags++;
    }
    out->tags = ps->tags;
    return ILP_LINE;
}

/* The fields: "key=value" separated by commas, at least one. */
static enum ilp_result read_fields(struct cursor *c, struct ilp_line *out)
{
    struct ilp_parser *ps = c->ps;
    for (;;) {
        if (out->ntags + out->nfields >= ILP_MAX_COLUMNS)
            return fail(c, "more than %d tags and fields", ILP_MAX_COLUMNS);
        if (dp_grow(&ps->fields, &ps->cap_fields, out->nfields + 1, sizeof *ps->fields) != 0)
            return fail(c, "out of memory");
        struct ilp_field *f = &ps->fields[out->nfields];
        f->key = read_name(c, false);
        if (f->key.n == 0)
            return fail(c, c->i >= c->n && !out->nfields ? "a line needs at least one field"
                                                         : "a field has an empty key");
        if (c->i >= c->n || c->p[c->i] != '=')
            return fail(c, "field \"%.*s\" has no '=' and value", (int)(f->key.n > 60 ? 60 : f->key.n),
                        f->key.p);
        c->i++;
        enum ilp_result r;
        if (c->i < c->n && c->p[c->i] == '"') {
            f->type = ILP_STRING;
            r = read_string(c, &f->v.s);
        } else {
            r = read_scalar(c, f);
        }
        if (r != ILP_LINE)
            return r;
        out->nfields++;
        if (c->i >= c->n || c->p[c->i] != ',')
            break;
        c->i++;
    }
    out->fields = ps->fields;
    if (c->i < c->n && c->p[c->i] != ' ')
        return fail(c, "unexpected '%c' after a field value", c->p[c->i]);
    return ILP_LINE;
}

/* The optional timestamp and nothing after it but blanks. */
static enum ilp_result read_timestamp(struct cursor *c, struct ilp_line *out)
{
    skip_blanks(c);
    if (c->i >= c->n)
        return ILP_LINE;
    size_t start = c->i;
    while (c->i < c->n && c->p[c->i] != ' ' && c->p[c->i] != '\t')
        c->i++;
    int rc = parse_int64(c->p + start, c->i - start, &out->ts);
    if (rc != 0) {
        c->i = start;
        return fail(c, rc == 2 ? "the timestamp is out of range" : "the timestamp is not an integer");
    }
    out->has_ts = true;
    skip_blanks(c);
    if (c->i < c->n)
        return fail(c, "unexpected text after the timestamp");
    return ILP_LINE;
}

enum ilp_result ilp_parse_line(struct ilp_parser *ps, const char *p, size_t n, struct ilp_line *out)
{
    memset(out, 0, sizeof *out);
    ps->why[0] = '\0';
    if (n && p[n - 1] == '\r')
        n--;
    struct cursor c = {ps, p, n, 0};
    skip_blanks(&c);
    if (c.i == n || p[c.i] == '#')
        return ILP_SKIP;
    dp_buf_clear(&ps->scratch, 1 << 20);
    if (!dp_buf_reserve(&ps->scratch, n + 1))
        return fail(&c, "out of memory");
    out->measurement = read_name(&c, true);
    if (out->measurement.n == 0)
        return fail(&c, "the measurement is empty");
    enum ilp_result r = read_tags(&c, out);
    if (r != ILP_LINE)
        return r;
    if (c.i >= n)
        return fail(&c, "a line needs at least one field");
    if (p[c.i] != ' ')
        return fail(&c, "unexpected '%c' after the measurement and tags", p[c.i]);
    skip_blanks(&c);
    r = read_fields(&c, out);
    if (r != ILP_LINE)
        return r;
    return read_timestamp(&c, out);
}

/* ------------------------------------------------------------ helpers */

int ilp_precision_parse(const char *s, enum ilp_precision *out)
{
    static const struct {
        const char *name;
        enum ilp_precision p;
    } names[] = {{"ns", ILP_NS}, {"n", ILP_NS}, {"us", ILP_US}, {"u", ILP_US},
                 {"ms", ILP_MS}, {"s", ILP_S},  {"µs", ILP_US}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name))
            return *out = names[i].p, 0;
    return -1;
}

int ilp_ts_to_ns(int64_t ts, enum ilp_precision p, int64_t *ns)
{
    static const int64_t scale[] = {1, 1000, 1000000, 1000000000};
    return __builtin_mul_overflow(ts, scale[p], ns) ? -1 : 0;
}

const char *ilp_type_name(enum ilp_type t)
{
    switch (t) {
    case ILP_INT: return "integer";
    case ILP_UINT: return "unsigned integer";
    case ILP_FLOAT: return "float";
    case ILP_BOOL: return "boolean";
    case ILP_STRING: return "string";
    }
    return "?";
}
