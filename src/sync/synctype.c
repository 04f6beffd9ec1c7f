/*
 * synctype.c -- the type map of the PostgreSQL sync: a column's
 * PostgreSQL type (OID and typmod) to a DuckDB type, and a value's
 * PostgreSQL text to text DuckDB casts into it. Pure; no I/O. The list of
 * what maps where is in synctype.h and the README.
 */
#include "synctype.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The built-in scalar types, by OID, and the OID of each one's array type. */
static const struct {
    uint32_t oid, array_oid;
    const char *duck;
    enum synctype_conv conv;
    enum synctype_native native;
} builtin[] = {
    {16, 1000, "BOOLEAN", SYNCTYPE_PLAIN, SYNCTYPE_BOOL},
    {17, 1001, "BLOB", SYNCTYPE_BYTEA, SYNCTYPE_CAST},
    {18, 1002, "VARCHAR", SYNCTYPE_PLAIN, SYNCTYPE_TEXT}, /* "char" */
    {19, 1003, "VARCHAR", SYNCTYPE_PLAIN, SYNCTYPE_TEXT}, /* name */
    {20, 1016, "BIGINT", SYNCTYPE_PLAIN, SYNCTYPE_INT},
    {21, 1005, "SMALLINT", SYNCTYPE_PLAIN, SYNCTYPE_INT},
    {23, 1007, "INTEGER", SYNCTYPE_PLAIN, SYNCTYPE_INT},
    {25, 1009, "VARCHAR", SYNCTYPE_PLAIN, SYNCTYPE_TEXT},
    {26, 1028, "BIGINT", SYNCTYPE_PLAIN, SYNCTYPE_INT}, /* oid */
    {114, 199, "JSON", SYNCTYPE_PLAIN, SYNCTYPE_CAST},
    {700, 1021, "FLOAT", SYNCTYPE_PLAIN, SYNCTYPE_FLOAT},
    {701, 1022, "DOUBLE", SYNCTYPE_PLAIN, SYNCTYPE_FLOAT},
    {1042, 1014, "VARCHAR", SYNCTYPE_PLAIN,
     SYNCTYPE_TEXT}, /* char(n): the blanks PostgreSQL pads with are kept */
    {1043, 1015, "VARCHAR", SYNCTYPE_PLAIN, SYNCTYPE_TEXT},
    {1082, 1182, "DATE", SYNCTYPE_BC, SYNCTYPE_CAST},
    {1083, 1183, "TIME", SYNCTYPE_PLAIN, SYNCTYPE_CAST},
    {1114, 1115, "TIMESTAMP", SYNCTYPE_BC, SYNCTYPE_CAST},
    {1184, 1185, "TIMESTAMPTZ", SYNCTYPE_BC, SYNCTYPE_CAST},
    {1186, 1187, "INTERVAL", SYNCTYPE_INTERVAL, SYNCTYPE_CAST},
    {1700, 1231, "DECIMAL", SYNCTYPE_PLAIN, SYNCTYPE_CAST}, /* the precision comes from the typmod */
    {2950, 2951, "UUID", SYNCTYPE_PLAIN, SYNCTYPE_CAST},
    {3802, 3807, "JSON", SYNCTYPE_PLAIN, SYNCTYPE_CAST},
};

#define NUMERIC_OID 1700

/* numeric(p,s) as DECIMAL(p,s) when DuckDB holds it (p <= 38, 0 <= s <= p); else DOUBLE. */
static void numeric_type(int32_t typmod, struct synctype *out)
{
    if (typmod >= 4) {
        int p = ((typmod - 4) >> 16) & 0xffff, s = (int16_t)((typmod - 4) & 0xffff);
        if (p >= 1 && p <= 38 && s >= 0 && s <= p) {
            snprintf(out->duck, sizeof out->duck, "DECIMAL(%d,%d)", p, s);
            out->decimal = true;
            return;
        }
    }
    snprintf(out->duck, sizeof out->duck, "DOUBLE");
}

int synctype_map(uint32_t oid, int32_t typmod, enum synctype_user user, struct synctype *out, char *why,
                 size_t n)
{
    memset(out, 0, sizeof *out);
    if (user == SYNCTYPE_USER_ENUM || user == SYNCTYPE_USER_ENUM_ARRAY) {
        out->array = user == SYNCTYPE_USER_ENUM_ARRAY;
        out->native = out->array ? SYNCTYPE_CAST : SYNCTYPE_TEXT;
        snprintf(out->duck, sizeof out->duck, "VARCHAR%s", out->array ? "[]" : "");
        return 0;
    }
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        if (builtin[i].oid != oid && builtin[i].array_oid != oid)
            continue;
        out->array = builtin[i].array_oid == oid;
        out->conv = builtin[i].conv;
        out->native = out->array ? SYNCTYPE_CAST : builtin[i].native;
        if (builtin[i].oid == NUMERIC_OID)
            numeric_type(typmod, out);
        else
            snprintf(out->duck, sizeof out->duck, "%s", builtin[i].duck);
        if (out->array)
            strcat(out->duck, "[]");
        return 0;
    }
    snprintf(why, n, "the PostgreSQL type with OID %u has no DuckDB mapping", oid);
    return -1;
}

/* ------------------------------------------------------------ scalars */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* bytea's hex output "\x0a0b" as DuckDB's blob escapes "\x0A\x0B". */
static int bytea_text(const char *in, size_t len, struct dp_buf *out, char *why, size_t n)
{
    if (len < 2 || in[0] != '\\' || in[1] != 'x' || len % 2) {
        snprintf(why, n, "bytea value is not in hex format");
        return -1;
    }
    for (size_t i = 2; i < len; i += 2) {
        if (hexval(in[i]) < 0 || hexval(in[i + 1]) < 0) {
            snprintf(why, n, "bytea value has a bad hex digit");
            return -1;
        }
        dp_buf_printf(out, "\\x%c%c", toupper((unsigned char)in[i]), toupper((unsigned char)in[i + 1]));
    }
    return 0;
}

/* "[+-]H:MM:SS[.ffffff]" as microseconds. 0, or -1 when it is not such a time. */
static int interval_time(const char *t, long long *us)
{
    int sign = 1;
    if (*t == '-' || *t == '+')
        sign = *t++ == '-' ? -1 : 1;
    char *end;
    errno = 0;
    long long h = strtoll(t, &end, 10);
    if (*end != ':' || errno)
        return -1;
    long long m = strtoll(end + 1, &end, 10);
    if (*end != ':')
        return -1;
    double s = strtod(end + 1, &end);
    if (*end)
        return -1;
    *us = sign * ((h * 3600 + m * 60) * 1000000LL + (long long)(s * 1e6 + (s >= 0 ? 0.5 : -0.5)));
    return 0;
}

int synctype_interval(const char *in, size_t len, int32_t *months, int32_t *days, int64_t *micros)
{
    char tmp[256];
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, in, len);
    tmp[len] = 0;
    long long mo = 0, d = 0, us = 0;
    char *save = NULL;
    for (char *tok = strtok_r(tmp, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (strchr(tok, ':')) {
            if (interval_time(tok, &us) != 0)
                return -1;
            continue;
        }
        char *end;
        long long v = strtoll(tok, &end, 10);
        const char *unit = strtok_r(NULL, " ", &save);
        if (*end || !unit)
            return -1;
        if (!strncmp(unit, "year", 4))
            mo += v * 12;
        else if (!strncmp(unit, "mon", 3))
            mo += v;
        else if (!strncmp(unit, "day", 3))
            d += v;
        else
            return -1;
    }
    if (mo < INT32_MIN || mo > INT32_MAX || d < INT32_MIN || d > INT32_MAX)
        return -1;
    *months = (int32_t)mo;
    *days = (int32_t)d;
    *micros = us;
    return 0;
}

/* An interval as "M months D days U microseconds", which DuckDB's cast reads whatever the signs. */
static int interval_text(const char *in, size_t len, struct dp_buf *out, char *why, size_t n)
{
    int32_t months, days;
    int64_t us;
    if (synctype_interval(in, len, &months, &days, &us) != 0) {
        snprintf(why, n, "interval value is not in IntervalStyle postgres");
        return -1;
    }
    dp_buf_printf(out, "%d months %d days %lld microseconds", months, days, (long long)us);
    return 0;
}

/* A NaN or an infinity, which DECIMAL cannot hold. */
static bool not_finite(const char *in, size_t len)
{
    return (len == 3 && !strncmp(in, "NaN", 3)) || (len >= 8 && !strncmp(in + len - 8, "Infinity", 8));
}

/* One scalar (or array element) value: 1 as it is, 0 converted into out, -1 refused. */
static int scalar_text(const struct synctype *t, const char *in, size_t len, struct dp_buf *out, char *why,
                       size_t n)
{
    switch (t->conv) {
    case SYNCTYPE_BYTEA: return bytea_text(in, len, out, why, n);
    case SYNCTYPE_INTERVAL: return interval_text(in, len, out, why, n);
    case SYNCTYPE_BC:
        if (len > 3 && !memcmp(in + len - 3, " BC", 3)) {
            dp_buf_add(out, in, len - 3);
            dp_buf_str(out, " (BC)");
            return 0;
        }
        break;
    case SYNCTYPE_PLAIN:
        if (t->decimal && not_finite(in, len)) {
            snprintf(why, n, "numeric value %.*s does not fit in %s", (int)len, in, t->duck);
            return -1;
        }
        break;
    }
    return 1;
}

/* ------------------------------------------------------------- arrays */

/* Appends s as a double-quoted element of a DuckDB list literal. */
static void list_quote(struct dp_buf *out, const char *s, size_t len)
{
    dp_buf_byte(out, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            dp_buf_byte(out, '\\');
        dp_buf_byte(out, s[i]);
    }
    dp_buf_byte(out, '"');
}

/* Converts and appends one element (the unquoted text in elem) to the list in out. */
static int array_element(const struct synctype *t, struct dp_buf *elem, struct dp_buf *conv,
                         struct dp_buf *out, char *why, size_t n)
{
    dp_buf_clear(conv, 4096);
    int rc = scalar_text(t, elem->data ? elem->data : "", elem->len, conv, why, n);
    if (rc < 0)
        return -1;
    if (rc == 0)
        list_quote(out, conv->data ? conv->data : "", conv->len);
    else
        list_quote(out, elem->data ? elem->data : "", elem->len);
    return 0;
}

/*
 * A one-dimensional PostgreSQL array "{a,"b c",NULL}" as a DuckDB list
 * ["a", "b c", NULL], each element converted as its type says.
 */
static int array_text(const struct synctype *t, const char *in, size_t len, struct dp_buf *out, char *why,
                      size_t n)
{
    if (len < 2 || in[0] != '{' || in[len - 1] != '}') {
        snprintf(why, n, "array value is not one-dimensional \"{...}\" text");
        return -1;
    }
    struct dp_buf elem = DP_BUF_INIT, conv = DP_BUF_INIT;
    int rc = 0;
    size_t i = 1, end = len - 1;
    dp_buf_byte(out, '[');
    for (int count = 0; i < end && rc == 0; count++) {
        bool quoted = in[i] == '"';
        dp_buf_clear(&elem, 4096);
        if (in[i] == '{') {
            snprintf(why, n, "multi-dimensional arrays are not mapped");
            rc = -1;
            break;
        }
        if (quoted) {
            for (i++; i < end && in[i] != '"'; i++) {
                if (in[i] == '\\' && i + 1 < end)
                    i++;
                dp_buf_byte(&elem, in[i]);
            }
            i++; /* the closing quote */
        } else {
            for (; i < end && in[i] != ','; i++)
                dp_buf_byte(&elem, in[i]);
        }
        if (count)
            dp_buf_str(out, ", ");
        if (!quoted && elem.len == 4 && !memcmp(elem.data, "NULL", 4))
            dp_buf_str(out, "NULL");
        else
            rc = array_element(t, &elem, &conv, out, why, n);
        if (i < end && in[i] == ',')
            i++;
    }
    dp_buf_byte(out, ']');
    dp_buf_free(&elem);
    dp_buf_free(&conv);
    return rc;
}

int synctype_text(const struct synctype *t, const char *in, size_t len, struct dp_buf *out, char *why,
                  size_t n)
{
    dp_buf_clear(out, 1 << 16);
    int rc = t->array ? array_text(t, in, len, out, why, n) : scalar_text(t, in, len, out, why, n);
    if (rc == 0 && out->failed) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    return rc;
}
