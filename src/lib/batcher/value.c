/*
 * value.c -- one stored value converted to a column's type, without DuckDB.
 *
 * Most values a batcher sees are plain: integers, doubles, booleans,
 * timestamps, and text spelling one of those, or a date, time or decimal
 * (textparse.c), or bound for a VARCHAR column. Converting them here, in
 * a few instructions, lets the batch scan hand DuckDB whole vectors of
 * the column's type. Whatever is not plain (an unusual type, an unusual
 * spelling, a value out of range) is left to DuckDB's own cast
 * (CV_GENERIC): the batch scan hands such values over as they are, in a
 * vector of their own kind, for the INSERT to CAST a whole column at once
 * (scan.c). Nothing here needs a database: the functions are pure and
 * tested on their own.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batcher_int.h"
#include "utf8.h"

/* Parses an optionally signed decimal integer that fills s[0..len). */
static bool parse_int(const char *s, size_t len, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        *neg = s[i++] == '-';
    if (i == len || len - i > 20)
        return false;
    uint64_t m = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (m > (UINT64_MAX - d) / 10)
            return false;
        m = m * 10 + d;
    }
    *mag = m;
    return true;
}

/* Parses a plain decimal number ("-1.5e3") that fills s[0..len). */
static bool parse_double(const char *s, size_t len, double *out)
{
    char buf[64];
    size_t i = 0, digits = 0;
    if (len == 0 || len >= sizeof buf)
        return false;
    if (s[i] == '+' || s[i] == '-')
        i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < len && s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (!digits)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;
        if (++i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            exp_digits++;
        if (!exp_digits)
            return false;
    }
    if (i != len)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    *out = strtod(buf, NULL);
    return errno == 0 && isfinite(*out);
}

/* The range of an integer column type; false for other types. */
static bool int_range(duckdb_type t, int64_t *lo, uint64_t *hi)
{
    switch (t) {
    case DUCKDB_TYPE_TINYINT: *lo = INT8_MIN, *hi = INT8_MAX; return true;
    case DUCKDB_TYPE_SMALLINT: *lo = INT16_MIN, *hi = INT16_MAX; return true;
    case DUCKDB_TYPE_INTEGER: *lo = INT32_MIN, *hi = INT32_MAX; return true;
    case DUCKDB_TYPE_BIGINT: *lo = INT64_MIN, *hi = INT64_MAX; return true;
    case DUCKDB_TYPE_UTINYINT: *lo = 0, *hi = UINT8_MAX; return true;
    case DUCKDB_TYPE_USMALLINT: *lo = 0, *hi = UINT16_MAX; return true;
    case DUCKDB_TYPE_UINTEGER: *lo = 0, *hi = UINT32_MAX; return true;
    case DUCKDB_TYPE_UBIGINT: *lo = 0, *hi = UINT64_MAX; return true;
    default: return false;
    }
}

/* Stores a signed/unsigned magnitude into an integer column's range. */
static enum conv_result fit_int(duckdb_type t, bool neg, uint64_t mag, struct cval *out)
{
    int64_t lo;
    uint64_t hi;
    if (!int_range(t, &lo, &hi))
        return CV_GENERIC;
    if (neg) {
        if (mag == 0) {
            out->v.i = 0;
            return CV_OK;
        }
        if (lo == 0 || mag - 1 > (uint64_t)(-(lo + 1)))
            return CV_GENERIC; /* out of range: DuckDB's cast says so */
        out->v.i = (int64_t)(0 - mag);
        return CV_OK;
    }
    if (mag > hi)
        return CV_GENERIC;
    if (t == DUCKDB_TYPE_UBIGINT)
        out->v.u = mag;
    else
        out->v.i = (int64_t)mag;
    return CV_OK;
}

/* 10^n as a 128-bit integer (n <= 38). */
static __int128 pow10_128(int n)
{
    __int128 p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* An integer into DECIMAL column c: exact when it fits, as DuckDB's cast; else DuckDB's error. */
static enum conv_result int_to_decimal(const struct batcher_col *c, int64_t x, struct cval *out)
{
    __int128 limit = pow10_128(c->width - c->scale);
    if (x >= limit || x <= -limit)
        return CV_GENERIC;
    out->v.dec = (__int128)x * pow10_128(c->scale);
    return CV_OK;
}

/* Converts text to column c where that is plain and common. */
static enum conv_result convert_text(const struct batcher_col *c, const char *s, size_t len, struct cval *out)
{
    bool neg;
    uint64_t mag;
    enum conv_result r;
    int32_t days;
    switch (c->type) {
    case DUCKDB_TYPE_DATE:
        r = batcher_parse_date(s, len, &days);
        out->v.i = days;
        return r;
    case DUCKDB_TYPE_TIME: return batcher_parse_time(s, len, &out->v.i);
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        return batcher_parse_timestamp(s, len, c->type == DUCKDB_TYPE_TIMESTAMP_TZ, &out->v.i);
    case DUCKDB_TYPE_DECIMAL: return batcher_parse_decimal(s, len, c->width, c->scale, &out->v.dec);
    case DUCKDB_TYPE_VARCHAR:
        if (!dp_utf8_valid(s, len))
            return CV_BAD;
        out->s = s, out->slen = len;
        return CV_OK;
    case DUCKDB_TYPE_BOOLEAN:
        if ((len == 4 && !strncasecmp(s, "true", 4)) || (len == 1 && (*s == 't' || *s == '1'))) {
            out->v.b = true;
            return CV_OK;
        }
        if ((len == 5 && !strncasecmp(s, "false", 5)) || (len == 1 && (*s == 'f' || *s == '0'))) {
            out->v.b = false;
            return CV_OK;
        }
        return CV_GENERIC;
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
        if (!parse_double(s, len, &out->v.d) || (c->type == DUCKDB_TYPE_FLOAT && fabs(out->v.d) > FLT_MAX))
            return CV_GENERIC;
        return CV_OK;
    default:
        if (!parse_int(s, len, &neg, &mag))
            return CV_GENERIC;
        return fit_int(c->type, neg, mag, out);
    }
}

enum conv_result batcher_convert(const struct batcher_col *c, const struct bval *v, const char *text,
                                 struct cval *out)
{
    duckdb_type t = c->type;
    enum conv_result r;
    switch (v->kind) {
    case DUCKPOND_VALUE_TEXT:
        r = convert_text(c, text + v->u.off, v->len, out);
        /* DuckDB holds UTF-8 only: text it is handed to cast must be. */
        if (r == CV_GENERIC && !dp_utf8_valid(text + v->u.off, v->len))
            return CV_BAD;
        return r;
    case DUCKPOND_VALUE_INT64:
        if (t == DUCKDB_TYPE_DECIMAL)
            return int_to_decimal(c, v->u.i64, out);
        if (t == DUCKDB_TYPE_DOUBLE || t == DUCKDB_TYPE_FLOAT) {
            out->v.d = (double)v->u.i64;
            return CV_OK;
        }
        if (t == DUCKDB_TYPE_BOOLEAN) {
            out->v.b = v->u.i64 != 0;
            return CV_OK;
        }
        return fit_int(t, v->u.i64 < 0, v->u.i64 < 0 ? 0 - (uint64_t)v->u.i64 : (uint64_t)v->u.i64, out);
    case DUCKPOND_VALUE_BOOL:
        if (t == DUCKDB_TYPE_BOOLEAN) {
            out->v.b = v->u.i64 != 0;
            return CV_OK;
        }
        return fit_int(t, false, v->u.i64 != 0, out);
    case DUCKPOND_VALUE_DOUBLE:
        out->v.d = v->u.f64;
        if (t == DUCKDB_TYPE_DOUBLE)
            return CV_OK;
        if (t == DUCKDB_TYPE_FLOAT && (!isfinite(v->u.f64) || fabs(v->u.f64) <= FLT_MAX))
            return CV_OK;
        return CV_GENERIC;
    case DUCKPOND_VALUE_TIMESTAMP:
        out->v.i = v->u.i64;
        return (t == DUCKDB_TYPE_TIMESTAMP || t == DUCKDB_TYPE_TIMESTAMP_TZ) ? CV_OK : CV_GENERIC;
    default: return CV_GENERIC;
    }
}

bool batcher_always_converts(duckdb_type t, uint32_t kind)
{
    switch (kind) {
    case DUCKPOND_VALUE_NULL:
    case DUCKPOND_VALUE_DEFAULT: return true;
    case DUCKPOND_VALUE_INT64:
        return t == DUCKDB_TYPE_BIGINT || t == DUCKDB_TYPE_DOUBLE || t == DUCKDB_TYPE_BOOLEAN;
    case DUCKPOND_VALUE_DOUBLE: return t == DUCKDB_TYPE_DOUBLE;
    case DUCKPOND_VALUE_BOOL: return t == DUCKDB_TYPE_BOOLEAN;
    case DUCKPOND_VALUE_TIMESTAMP: return t == DUCKDB_TYPE_TIMESTAMP || t == DUCKDB_TYPE_TIMESTAMP_TZ;
    default: return false;
    }
}

bool batcher_col_native(const struct batcher_col *c)
{
    switch (c->type) {
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_VARCHAR: return true;
    case DUCKDB_TYPE_DECIMAL: return c->width >= 1 && c->width <= 38 && c->scale <= c->width;
    default: return false;
    }
}

duckdb_logical_type batcher_col_logical_type(const struct batcher_col *c)
{
    if (c->type == DUCKDB_TYPE_DECIMAL)
        return duckdb_create_decimal_type(c->width, c->scale);
    return duckdb_create_logical_type(c->type);
}

/* Stores an unscaled decimal in the physical layout DuckDB gives DECIMAL(width, ...). */
static void decimal_put(void *d, uint8_t width, idx_t r, __int128 x)
{
    if (width <= 4)
        ((int16_t *)d)[r] = (int16_t)x;
    else if (width <= 9)
        ((int32_t *)d)[r] = (int32_t)x;
    else if (width <= 18)
        ((int64_t *)d)[r] = (int64_t)x;
    else
        ((duckdb_hugeint *)d)[r] = (duckdb_hugeint){(uint64_t)x, (int64_t)(x >> 64)};
}

void batcher_vector_put(duckdb_vector v, const struct batcher_col *c, idx_t r, const struct cval *cv)
{
    void *d = duckdb_vector_get_data(v);
    switch (c->type) {
    case DUCKDB_TYPE_BOOLEAN: ((bool *)d)[r] = cv->v.b; break;
    case DUCKDB_TYPE_TINYINT: ((int8_t *)d)[r] = (int8_t)cv->v.i; break;
    case DUCKDB_TYPE_UTINYINT: ((uint8_t *)d)[r] = (uint8_t)cv->v.i; break;
    case DUCKDB_TYPE_SMALLINT: ((int16_t *)d)[r] = (int16_t)cv->v.i; break;
    case DUCKDB_TYPE_USMALLINT: ((uint16_t *)d)[r] = (uint16_t)cv->v.i; break;
    case DUCKDB_TYPE_INTEGER: ((int32_t *)d)[r] = (int32_t)cv->v.i; break;
    case DUCKDB_TYPE_UINTEGER: ((uint32_t *)d)[r] = (uint32_t)cv->v.i; break;
    case DUCKDB_TYPE_FLOAT: ((float *)d)[r] = (float)cv->v.d; break;
    case DUCKDB_TYPE_DATE: ((int32_t *)d)[r] = (int32_t)cv->v.i; break;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ: ((int64_t *)d)[r] = cv->v.i; break;
    case DUCKDB_TYPE_UBIGINT: ((uint64_t *)d)[r] = cv->v.u; break;
    case DUCKDB_TYPE_DOUBLE: ((double *)d)[r] = cv->v.d; break;
    case DUCKDB_TYPE_DECIMAL: decimal_put(d, c->width, r, cv->v.dec); break;
    case DUCKDB_TYPE_VARCHAR: duckdb_vector_assign_string_element_len(v, r, cv->s, cv->slen); break;
    default: break;
    }
}

duckdb_type batcher_kind_type(uint32_t kind)
{
    switch (kind) {
    case DUCKPOND_VALUE_BOOL: return DUCKDB_TYPE_BOOLEAN;
    case DUCKPOND_VALUE_INT64: return DUCKDB_TYPE_BIGINT;
    case DUCKPOND_VALUE_DOUBLE: return DUCKDB_TYPE_DOUBLE;
    case DUCKPOND_VALUE_TIMESTAMP: return DUCKDB_TYPE_TIMESTAMP;
    default: return DUCKDB_TYPE_VARCHAR;
    }
}

void batcher_kind_put(duckdb_vector vec, idx_t r, const struct bval *v, const char *text)
{
    void *d = duckdb_vector_get_data(vec);
    switch (v->kind) {
    case DUCKPOND_VALUE_BOOL: ((bool *)d)[r] = v->u.i64 != 0; break;
    case DUCKPOND_VALUE_INT64:
    case DUCKPOND_VALUE_TIMESTAMP: ((int64_t *)d)[r] = v->u.i64; break;
    case DUCKPOND_VALUE_DOUBLE: ((double *)d)[r] = v->u.f64; break;
    case DUCKPOND_VALUE_TEXT: duckdb_vector_assign_string_element_len(vec, r, text + v->u.off, v->len); break;
    default: break;
    }
}

duckdb_value batcher_make_value(duckdb_type t, const struct bval *v, const char *text)
{
    switch (v->kind) {
    case DUCKPOND_VALUE_BOOL: return duckdb_create_bool(v->u.i64 != 0);
    case DUCKPOND_VALUE_INT64: return duckdb_create_int64(v->u.i64);
    case DUCKPOND_VALUE_DOUBLE: return duckdb_create_double(v->u.f64);
    case DUCKPOND_VALUE_TIMESTAMP: {
        duckdb_timestamp ts = {v->u.i64};
        return t == DUCKDB_TYPE_TIMESTAMP_TZ ? duckdb_create_timestamp_tz(ts) : duckdb_create_timestamp(ts);
    }
    case DUCKPOND_VALUE_TEXT: return duckdb_create_varchar_length(text + v->u.off, v->len);
    default: return duckdb_create_null_value();
    }
}

void batcher_show_value(const struct bval *v, const char *text, char *buf, size_t len)
{
    switch (v->kind) {
    case DUCKPOND_VALUE_NULL: snprintf(buf, len, "NULL"); break;
    case DUCKPOND_VALUE_DEFAULT: snprintf(buf, len, "DEFAULT"); break;
    case DUCKPOND_VALUE_BOOL: snprintf(buf, len, "%s", v->u.i64 ? "true" : "false"); break;
    case DUCKPOND_VALUE_INT64: snprintf(buf, len, "%lld", (long long)v->u.i64); break;
    case DUCKPOND_VALUE_DOUBLE: snprintf(buf, len, "%.17g", v->u.f64); break;
    case DUCKPOND_VALUE_TIMESTAMP: snprintf(buf, len, "timestamp %lld us", (long long)v->u.i64); break;
    case DUCKPOND_VALUE_TEXT: {
        size_t o = 0, n = v->len < SHOW_MAX ? v->len : SHOW_MAX;
        const unsigned char *t = (const unsigned char *)text + v->u.off;
        o += (size_t)snprintf(buf + o, len - o, "'");
        for (size_t i = 0; i < n && o + 8 < len; i++)
            o += (size_t)snprintf(buf + o, len - o, (t[i] >= 0x20 && t[i] < 0x7F) ? "%c" : "\\x%02x", t[i]);
        snprintf(buf + o, len - o, "'%s", v->len > SHOW_MAX ? "..." : "");
        break;
    }
    default: snprintf(buf, len, "?");
    }
}
