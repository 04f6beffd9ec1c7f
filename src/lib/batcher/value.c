/*
 * value.c -- one stored value converted to a column's type, without DuckDB.
 *
 * Most values a batcher sees are plain: integers, doubles, booleans,
 * timestamps, and text spelling one of those or bound for a VARCHAR
 * column. Converting them here, in a few instructions, spares a DuckDB
 * CAST per value and lets whole vectors be written at once. Whatever is
 * not plain (an unusual type, an unusual spelling, a value out of range)
 * is left to DuckDB's own cast (CV_GENERIC), which then names the problem
 * the way DuckDB users know. Nothing here needs a database: the functions
 * are pure and tested on their own.
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

/* Converts text to a column of type t where that is plain and common. */
static enum conv_result convert_text(duckdb_type t, const char *s, size_t len, struct cval *out)
{
    bool neg;
    uint64_t mag;
    switch (t) {
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
        if (!parse_double(s, len, &out->v.d) || (t == DUCKDB_TYPE_FLOAT && fabs(out->v.d) > FLT_MAX))
            return CV_GENERIC;
        return CV_OK;
    default:
        if (!parse_int(s, len, &neg, &mag))
            return CV_GENERIC;
        return fit_int(t, neg, mag, out);
    }
}

enum conv_result batcher_convert(duckdb_type t, const struct bval *v, const char *text, struct cval *out)
{
    switch (v->kind) {
    case DUCKPOND_VALUE_TEXT:
        return convert_text(t, text + v->u.off, v->len, out);
    case DUCKPOND_VALUE_INT64:
        if (t == DUCKDB_TYPE_DOUBLE || t == DUCKDB_TYPE_FLOAT) {
            out->v.d = (double)v->u.i64;
            return CV_OK;
        }
        if (t == DUCKDB_TYPE_BOOLEAN) {
            out->v.b = v->u.i64 != 0;
            return CV_OK;
        }
        return fit_int(t, v->u.i64 < 0, v->u.i64 < 0 ? 0 - (uint64_t)v->u.i64 : (uint64_t)v->u.i64,
                       out);
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
    default:
        return CV_GENERIC;
    }
}

bool batcher_always_converts(duckdb_type t, uint32_t kind)
{
    switch (kind) {
    case DUCKPOND_VALUE_NULL:
    case DUCKPOND_VALUE_DEFAULT:
        return true;
    case DUCKPOND_VALUE_INT64:
        return t == DUCKDB_TYPE_BIGINT || t == DUCKDB_TYPE_DOUBLE || t == DUCKDB_TYPE_BOOLEAN;
    case DUCKPOND_VALUE_DOUBLE:
        return t == DUCKDB_TYPE_DOUBLE;
    case DUCKPOND_VALUE_BOOL:
        return t == DUCKDB_TYPE_BOOLEAN;
    case DUCKPOND_VALUE_TIMESTAMP:
        return t == DUCKDB_TYPE_TIMESTAMP || t == DUCKDB_TYPE_TIMESTAMP_TZ;
    default:
        return false;
    }
}

size_t batcher_vector_width(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_UTINYINT: return 1;
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_USMALLINT: return 2;
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_FLOAT: return 4;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ: return 8;
    case DUCKDB_TYPE_VARCHAR: return sizeof(duckdb_string_t);
    default: return 0;
    }
}

void batcher_vector_put(duckdb_vector v, duckdb_type t, idx_t r, const struct cval *cv)
{
    void *d = duckdb_vector_get_data(v);
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN: ((bool *)d)[r] = cv->v.b; break;
    case DUCKDB_TYPE_TINYINT: ((int8_t *)d)[r] = (int8_t)cv->v.i; break;
    case DUCKDB_TYPE_UTINYINT: ((uint8_t *)d)[r] = (uint8_t)cv->v.i; break;
    case DUCKDB_TYPE_SMALLINT: ((int16_t *)d)[r] = (int16_t)cv->v.i; break;
    case DUCKDB_TYPE_USMALLINT: ((uint16_t *)d)[r] = (uint16_t)cv->v.i; break;
    case DUCKDB_TYPE_INTEGER: ((int32_t *)d)[r] = (int32_t)cv->v.i; break;
    case DUCKDB_TYPE_UINTEGER: ((uint32_t *)d)[r] = (uint32_t)cv->v.i; break;
    case DUCKDB_TYPE_FLOAT: ((float *)d)[r] = (float)cv->v.d; break;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ: ((int64_t *)d)[r] = cv->v.i; break;
    case DUCKDB_TYPE_UBIGINT: ((uint64_t *)d)[r] = cv->v.u; break;
    case DUCKDB_TYPE_DOUBLE: ((double *)d)[r] = cv->v.d; break;
    case DUCKDB_TYPE_VARCHAR: duckdb_vector_assign_string_element_len(v, r, cv->s, cv->slen); break;
    default: break;
    }
}

bool batcher_row_convert(const struct batcher_col *cols, const duckpond_write *w, size_t r, struct cval *cv)
{
    const struct bval *row = w->vals + r * (size_t)w->ncols;
    if (w->ncols > MASK_COLS)
        return false;
    for (int i = 0; i < w->ncols; i++)
        if (row[i].kind != DUCKPOND_VALUE_NULL && batcher_convert(cols[i].type, &row[i], w->text, &cv[i]) != CV_OK)
            return false;
    return true;
}

void batcher_chunk_vectors(duckdb_data_chunk chunk, int ncols, duckdb_vector *vec)
{
    for (int i = 0; i < ncols && i < MASK_COLS; i++)
        vec[i] = duckdb_data_chunk_get_vector(chunk, (idx_t)i);
}

void batcher_row_put(duckdb_vector *vec, const struct batcher_col *cols, const duckpond_write *w, size_t r,
                     idx_t at, const struct cval *cv)
{
    const struct bval *row = w->vals + r * (size_t)w->ncols;
    for (int i = 0; i < w->ncols; i++) {
        if (row[i].kind == DUCKPOND_VALUE_NULL) {
            duckdb_vector_ensure_validity_writable(vec[i]);
            duckdb_validity_set_row_invalid(duckdb_vector_get_validity(vec[i]), at);
        } else {
            batcher_vector_put(vec[i], cols[i].type, at, &cv[i]);
        }
    }
}

duckdb_value batcher_make_value(duckdb_type t, const struct bval *v, const char *text)
{
    switch (v->kind) {
    case DUCKPOND_VALUE_BOOL:
        return duckdb_create_bool(v->u.i64 != 0);
    case DUCKPOND_VALUE_INT64:
        return duckdb_create_int64(v->u.i64);
    case DUCKPOND_VALUE_DOUBLE:
        return duckdb_create_double(v->u.f64);
    case DUCKPOND_VALUE_TIMESTAMP: {
        duckdb_timestamp ts = {v->u.i64};
        return t == DUCKDB_TYPE_TIMESTAMP_TZ ? duckdb_create_timestamp_tz(ts) : duckdb_create_timestamp(ts);
    }
    case DUCKPOND_VALUE_TEXT:
        return duckdb_create_varchar_length(text + v->u.off, v->len);
    default:
        return duckdb_create_null_value();
    }
}

void batcher_show_value(const struct bval *v, const char *text, char *buf, size_t len)
{
    switch (v->kind) {
    case DUCKPOND_VALUE_NULL:
        snprintf(buf, len, "NULL");
        break;
    case DUCKPOND_VALUE_DEFAULT:
        snprintf(buf, len, "DEFAULT");
        break;
    case DUCKPOND_VALUE_BOOL:
        snprintf(buf, len, "%s", v->u.i64 ? "true" : "false");
        break;
    case DUCKPOND_VALUE_INT64:
        snprintf(buf, len, "%lld", (long long)v->u.i64);
        break;
    case DUCKPOND_VALUE_DOUBLE:
        snprintf(buf, len, "%.17g", v->u.f64);
        break;
    case DUCKPOND_VALUE_TIMESTAMP:
        snprintf(buf, len, "timestamp %lld us", (long long)v->u.i64);
        break;
    case DUCKPOND_VALUE_TEXT: {
        size_t o = 0, n = v->len < SHOW_MAX ? v->len : SHOW_MAX;
        const unsigned char *t = (const unsigned char *)text + v->u.off;
        o += (size_t)snprintf(buf + o, len - o, "'");
        for (size_t i = 0; i < n && o + 8 < len; i++)
            o += (size_t)snprintf(buf + o, len - o, (t[i] >= 0x20 && t[i] < 0x7F) ? "%c" : "\\x%02x",
                                  t[i]);
        snprintf(buf + o, len - o, "'%s", v->len > SHOW_MAX ? "..." : "");
        break;
    }
    default:
        snprintf(buf, len, "?");
    }
}
