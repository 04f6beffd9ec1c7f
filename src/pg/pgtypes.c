/*
 * pgtypes.c -- DuckDB types as PostgreSQL sees them: the OIDs result
 * columns and parameters are described with, and Bind parameters into
 * DuckDB: text stays text where DuckDB knows the parameter's type (DuckDB
 * casts it), binary values are decoded by the OID the client declared.
 * Result values go the other way in pgtypes_out.c.
 */
#include "pgtypes.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- OIDs */

bool pgtypes_is_json(duckdb_logical_type type)
{
    char *alias = duckdb_logical_type_get_alias(type);
    bool json = alias && strcasecmp(alias, "JSON") == 0;
    duckdb_free(alias);
    return json;
}

/* The array OID of an element OID (0 when PostgreSQL has none we use). */
static uint32_t array_oid(uint32_t elem)
{
    switch (elem) {
    case PGOID_BOOL: return 1000;
    case PGOID_BYTEA: return 1001;
    case PGOID_INT2: return 1005;
    case PGOID_INT4: return 1007;
    case PGOID_TEXT: return 1009;
    case PGOID_VARCHAR: return 1015;
    case PGOID_INT8: return 1016;
    case PGOID_FLOAT4: return 1021;
    case PGOID_FLOAT8: return 1022;
    case PGOID_TIMESTAMP: return 1115;
    case PGOID_DATE: return 1182;
    case PGOID_TIME: return 1183;
    case PGOID_TIMESTAMPTZ: return 1185;
    case PGOID_INTERVAL: return 1187;
    case PGOID_NUMERIC: return 1231;
    case PGOID_UUID: return 2951;
    case PGOID_JSON: return 199;
    default: return 1009;
    }
}

static uint32_t scalar_oid(duckdb_type id, int16_t *typlen)
{
    *typlen = -1;
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN: *typlen = 1; return PGOID_BOOL;
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_UTINYINT: *typlen = 2; return PGOID_INT2;
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_USMALLINT: *typlen = 4; return PGOID_INT4;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UINTEGER: *typlen = 8; return PGOID_INT8;
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_DECIMAL:
    case DUCKDB_TYPE_BIGNUM: return PGOID_NUMERIC;
    case DUCKDB_TYPE_FLOAT: *typlen = 4; return PGOID_FLOAT4;
    case DUCKDB_TYPE_DOUBLE: *typlen = 8; return PGOID_FLOAT8;
    case DUCKDB_TYPE_VARCHAR: return PGOID_TEXT;
    case DUCKDB_TYPE_BLOB: return PGOID_BYTEA;
    case DUCKDB_TYPE_DATE: *typlen = 4; return PGOID_DATE;
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIME_NS: *typlen = 8; return PGOID_TIME;
    case DUCKDB_TYPE_TIME_TZ: *typlen = 12; return PGOID_TIMETZ;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS: *typlen = 8; return PGOID_TIMESTAMP;
    case DUCKDB_TYPE_TIMESTAMP_TZ: *typlen = 8; return PGOID_TIMESTAMPTZ;
    case DUCKDB_TYPE_INTERVAL: *typlen = 16; return PGOID_INTERVAL;
    case DUCKDB_TYPE_UUID: *typlen = 16; return PGOID_UUID;
    case DUCKDB_TYPE_ENUM: return PGOID_VARCHAR;
    case DUCKDB_TYPE_BIT: return PGOID_BIT;
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_MAP:
    case DUCKDB_TYPE_UNION: return PGOID_JSON;
    case DUCKDB_TYPE_SQLNULL: return PGOID_TEXT;
    default: return PGOID_TEXT;
    }
}

uint32_t pgtypes_oid(duckdb_logical_type type, int16_t *typlen)
{
    duckdb_type id = duckdb_get_type_id(type);
    if (id == DUCKDB_TYPE_LIST || id == DUCKDB_TYPE_ARRAY) {
        duckdb_logical_type child = id == DUCKDB_TYPE_LIST ? duckdb_list_type_child_type(type)
                                                           : duckdb_array_type_child_type(type);
        int16_t ignored;
        uint32_t elem = pgtypes_oid(child, &ignored);
        duckdb_destroy_logical_type(&child);
        *typlen = -1;
        return array_oid(elem);
    }
    if (id == DUCKDB_TYPE_VARCHAR && pgtypes_is_json(type)) {
        *typlen = -1;
        return PGOID_JSON;
    }
    return scalar_oid(id, typlen);
}

uint32_t pgtypes_param_oid(duckdb_type id)
{
    int16_t typlen;
    if (id == DUCKDB_TYPE_INVALID || id == DUCKDB_TYPE_ANY || id == DUCKDB_TYPE_LIST ||
        id == DUCKDB_TYPE_ARRAY || id == DUCKDB_TYPE_STRUCT || id == DUCKDB_TYPE_MAP)
        return 0;
    return scalar_oid(id, &typlen);
}

/* ---------------------------------------------------------- parameters */

static uint64_t be(const char *p, int n)
{
    uint64_t x = 0;
    for (int i = 0; i < n; i++)
        x = x << 8 | (unsigned char)p[i];
    return x;
}

/* Reads a whole string as an integer / a double; false if it is not one. */
static bool read_int64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

static bool read_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

void pgtypes_uuid_text(const unsigned char *p, char *out)
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[p[i] >> 4];
        out[o++] = hex[p[i] & 15];
    }
    out[o] = 0;
}

/* ----------------------------------------------- dates and timestamps */

int pgtypes_date_from_pg(int32_t pg, int32_t *out)
{
    if (pg == INT32_MAX || pg == INT32_MIN) {
        *out = pg == INT32_MAX ? INT32_MAX : -INT32_MAX;
        return 0;
    }
    int64_t days = (int64_t)pg + PGTYPES_EPOCH_DAYS;
    if (days >= INT32_MAX || days <= -INT32_MAX)
        return -1;
    *out = (int32_t)days;
    return 0;
}

int pgtypes_date_to_pg(int32_t days, int32_t *out)
{
    if (days == INT32_MAX || days == -INT32_MAX) {
        *out = days == INT32_MAX ? INT32_MAX : INT32_MIN;
        return 0;
    }
    int64_t pg = (int64_t)days - PGTYPES_EPOCH_DAYS;
    if (pg >= INT32_MAX || pg <= INT32_MIN)
        return -1;
    *out = (int32_t)pg;
    return 0;
}

int pgtypes_timestamp_from_pg(int64_t pg, int64_t *out)
{
    if (pg == INT64_MAX || pg == INT64_MIN) {
        *out = pg == INT64_MAX ? INT64_MAX : -INT64_MAX;
        return 0;
    }
    int64_t us;
    if (__builtin_add_overflow(pg, PGTYPES_EPOCH_US, &us) || us == INT64_MAX)
        return -1;
    *out = us;
    return 0;
}

int pgtypes_timestamp_to_pg(int64_t us, int64_t *out)
{
    if (us == INT64_MAX || us == -INT64_MAX) {
        *out = us == INT64_MAX ? INT64_MAX : INT64_MIN;
        return 0;
    }
    int64_t pg;
    if (__builtin_sub_overflow(us, PGTYPES_EPOCH_US, &pg) || pg == INT64_MIN || pg == INT64_MAX)
        return -1;
    *out = pg;
    return 0;
}

/* Binds a binary date (PostgreSQL's form, 4 bytes at d). 0, or -1 with a message in err. */
static int bind_binary_date(duckdb_prepared_statement st, idx_t idx, const char *d, char *err, size_t errlen)
{
    int32_t days;
    if (pgtypes_date_from_pg((int32_t)be(d, 4), &days) != 0) {
        snprintf(err, errlen, "date out of range in bind parameter %llu", (unsigned long long)idx);
        return -1;
    }
    return duckdb_bind_date(st, idx, (duckdb_date){days}) == DuckDBSuccess ? 0 : -1;
}

/* Binds a binary timestamp (with time zone when tz; 8 bytes at d). 0, or -1 with a message in err. */
static int bind_binary_timestamp(duckdb_prepared_statement st, idx_t idx, const char *d, bool tz, char *err,
                                 size_t errlen)
{
    int64_t us;
    if (pgtypes_timestamp_from_pg((int64_t)be(d, 8), &us) != 0) {
        snprintf(err, errlen, "timestamp out of range in bind parameter %llu", (unsigned long long)idx);
        return -1;
    }
    duckdb_timestamp ts = {us};
    duckdb_state s = tz ? duckdb_bind_timestamp_tz(st, idx, ts) : duckdb_bind_timestamp(st, idx, ts);
    return s == DuckDBSuccess ? 0 : -1;
}

static int bind_binary(duckdb_prepared_statement st, idx_t idx, uint32_t oid, const char *d, int32_t len,
                       char *err, size_t errlen)
{
    duckdb_state s;
#define NEED(n)                                                                      \
    if (len != (n)) {                                                                \
        snprintf(err, errlen, "incorrect binary data format in bind parameter %llu", \
                 (unsigned long long)idx);                                           \
        return -1;                                                                   \
    }
    switch (oid) {
    case PGOID_BOOL:
        NEED(1);
        s = duckdb_bind_boolean(st, idx, d[0] != 0);
        break;
    case PGOID_INT2:
        NEED(2);
        s = duckdb_bind_int16(st, idx, (int16_t)be(d, 2));
        break;
    case PGOID_INT4:
    case PGOID_OID:
        NEED(4);
        s = duckdb_bind_int32(st, idx, (int32_t)be(d, 4));
        break;
    case PGOID_INT8:
        NEED(8);
        s = duckdb_bind_int64(st, idx, (int64_t)be(d, 8));
        break;
    case PGOID_FLOAT4: {
        NEED(4);
        uint32_t u = (uint32_t)be(d, 4);
        float f;
        memcpy(&f, &u, 4);
        s = duckdb_bind_float(st, idx, f);
        break;
    }
    case PGOID_FLOAT8: {
        NEED(8);
        uint64_t u = be(d, 8);
        double f;
        memcpy(&f, &u, 8);
        s = duckdb_bind_double(st, idx, f);
        break;
    }
    case PGOID_BYTEA: s = duckdb_bind_blob(st, idx, d, (idx_t)len); break;
    case PGOID_DATE: NEED(4); return bind_binary_date(st, idx, d, err, errlen);
    case PGOID_TIME:
        NEED(8);
        s = duckdb_bind_time(st, idx, (duckdb_time){(int64_t)be(d, 8)});
        break;
    case PGOID_TIMESTAMP:
    case PGOID_TIMESTAMPTZ:
        NEED(8);
        return bind_binary_timestamp(st, idx, d, oid == PGOID_TIMESTAMPTZ, err, errlen);
    case PGOID_INTERVAL:
        NEED(16);
        s = duckdb_bind_interval(st, idx,
                                 (duckdb_interval){.micros = (int64_t)be(d, 8),
                                                   .days = (int32_t)be(d + 8, 4),
                                                   .months = (int32_t)be(d + 12, 4)});
        break;
    case PGOID_UUID: {
        NEED(16);
        char text[40];
        pgtypes_uuid_text((const unsigned char *)d, text);
        s = duckdb_bind_varchar(st, idx, text);
        break;
    }
    case PGOID_TEXT:
    case PGOID_VARCHAR:
    case PGOID_BPCHAR:
    case PGOID_NAME:
    case PGOID_JSON:
    case PGOID_UNKNOWN: s = duckdb_bind_varchar_length(st, idx, d, (idx_t)len); break;
    default:
        snprintf(err, errlen, "binary format for parameter %llu of type %u is not supported",
                 (unsigned long long)idx, oid);
        return -1;
    }
#undef NEED
    if (s != DuckDBSuccess) {
        snprintf(err, errlen, "could not bind parameter %llu", (unsigned long long)idx);
        return -1;
    }
    return 0;
}

/* A text value for a parameter DuckDB left untyped: by the declared OID, else by its look. */
static duckdb_state bind_untyped_text(duckdb_prepared_statement st, idx_t idx, uint32_t oid, const char *s,
                                      size_t len)
{
    int64_t i;
    double f;
    switch (oid) {
    case PGOID_INT2:
    case PGOID_INT4:
    case PGOID_INT8:
    case PGOID_OID:
        if (read_int64(s, &i))
            return duckdb_bind_int64(st, idx, i);
        break;
    case PGOID_FLOAT4:
    case PGOID_FLOAT8:
        if (read_double(s, &f))
            return duckdb_bind_double(st, idx, f);
        break;
    case PGOID_BOOL:
        if (!strcasecmp(s, "t") || !strcasecmp(s, "true") || !strcmp(s, "1"))
            return duckdb_bind_boolean(st, idx, true);
        if (!strcasecmp(s, "f") || !strcasecmp(s, "false") || !strcmp(s, "0"))
            return duckdb_bind_boolean(st, idx, false);
        break;
    case 0:
    case PGOID_UNKNOWN:
        if (read_int64(s, &i))
            return duckdb_bind_int64(st, idx, i);
        if (read_double(s, &f) && !isalpha((unsigned char)s[0]))
            return duckdb_bind_double(st, idx, f);
        break;
    default: break;
    }
    return duckdb_bind_varchar_length(st, idx, s, len);
}

static int hexval(char c)
{
    return isdigit((unsigned char)c)    ? c - '0'
           : isxdigit((unsigned char)c) ? tolower((unsigned char)c) - 'a' + 10
                                        : -1;
}

static bool is_octal(char c)
{
    return c >= '0' && c <= '7';
}

/* bytea in text: PostgreSQL's hex form (\x0aff) or its escape form (\\ and \ooo). */
static int bind_bytea_text(duckdb_prepared_statement st, idx_t idx, const char *d, size_t n, char *err,
                           size_t errlen)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    int bad = !out;
    if (!bad && n >= 2 && d[0] == '\\' && d[1] == 'x') {
        for (size_t i = 2; i < n && !bad; i += 2) {
            int hi = hexval(d[i]), lo = i + 1 < n ? hexval(d[i + 1]) : -1;
            bad = hi < 0 || lo < 0;
            out[o++] = (char)(hi * 16 + lo);
        }
    } else {
        for (size_t i = 0; i < n && !bad; i++) {
            if (d[i] != '\\') {
                out[o++] = d[i];
            } else if (i + 1 < n && d[i + 1] == '\\') {
                out[o++] = '\\';
                i++;
            } else if (i + 3 < n && d[i + 1] >= '0' && d[i + 1] <= '3' && is_octal(d[i + 2]) &&
                       is_octal(d[i + 3])) { /* \ooo, and no other escape: as PostgreSQL's byteain */
                out[o++] = (char)((d[i + 1] - '0') * 64 + (d[i + 2] - '0') * 8 + (d[i + 3] - '0'));
                i += 3;
            } else {
                bad = 1;
            }
        }
    }
    int rc = bad ? -1 : duckdb_bind_blob(st, idx, out, o) == DuckDBSuccess ? 0 : -1;
    if (rc)
        snprintf(err, errlen, "invalid input syntax for type bytea (parameter %llu)",
                 (unsigned long long)idx);
    free(out);
    return rc;
}

int pgtypes_bind(duckdb_prepared_statement st, idx_t idx, uint32_t oid, int16_t format, const char *data,
                 int32_t len, char *err, size_t errlen)
{
    if (len < 0)
        return duckdb_bind_null(st, idx) == DuckDBSuccess ? 0 : -1;
    duckdb_type ptype = duckdb_param_type(st, idx);
    if (format == 1) {
        if (oid == 0 || oid == PGOID_UNKNOWN)
            oid = pgtypes_param_oid(ptype);
        return bind_binary(st, idx, oid, data, len, err, errlen);
    }
    if (ptype == DUCKDB_TYPE_BLOB || oid == PGOID_BYTEA)
        return bind_bytea_text(st, idx, data, (size_t)len, err, errlen);
    /* a text value is bound with the type DuckDB expects, so that no
     * re-binding of the statement sees a string where it wants a number */
    if (ptype != DUCKDB_TYPE_INVALID && ptype != DUCKDB_TYPE_ANY) {
        uint32_t want = pgtypes_param_oid(ptype);
        if (want == PGOID_INT2 || want == PGOID_INT4 || want == PGOID_INT8 || want == PGOID_FLOAT4 ||
            want == PGOID_FLOAT8 || want == PGOID_BOOL)
            oid = want;
        else
            oid = PGOID_TEXT;
    }
    char small[64], *tmp = (size_t)len < sizeof small ? small : malloc((size_t)len + 1);
    if (!tmp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(tmp, data, (size_t)len);
    tmp[len] = 0;
    duckdb_state s = bind_untyped_text(st, idx, oid, tmp, (size_t)len);
    if (tmp != small)
        free(tmp);
    if (s != DuckDBSuccess) {
        snprintf(err, errlen, "could not bind parameter %llu", (unsigned long long)idx);
        return -1;
    }
    return 0;
}

int pgtypes_value(uint32_t oid, int16_t format, const char *d, int32_t len, duckpond_value *out,
                  char *scratch, size_t scratchlen, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len < 0) {
        out->kind = DUCKPOND_VALUE_NULL;
        return 0;
    }
    out->kind = DUCKPOND_VALUE_TEXT;
    out->u.text.ptr = d;
    out->u.text.len = (size_t)len;
    if (format != 1)
        return 0;
    switch (oid) {
    case PGOID_BOOL:
        if (len != 1)
            break;
        out->kind = DUCKPOND_VALUE_BOOL;
        out->u.boolean = d[0] != 0;
        return 0;
    case PGOID_INT2:
    case PGOID_INT4:
    case PGOID_INT8:
        if (len != 2 && len != 4 && len != 8)
            break;
        out->kind = DUCKPOND_VALUE_INT64;
        out->u.i64 = len == 2 ? (int16_t)be(d, 2) : len == 4 ? (int32_t)be(d, 4) : (int64_t)be(d, 8);
        return 0;
    case PGOID_FLOAT4:
    case PGOID_FLOAT8:
        out->kind = DUCKPOND_VALUE_DOUBLE;
        if (len == 4) {
            uint32_t u = (uint32_t)be(d, 4);
            float f;
            memcpy(&f, &u, 4);
            out->u.f64 = f;
            return 0;
        }
        if (len == 8) {
            uint64_t u = be(d, 8);
            memcpy(&out->u.f64, &u, 8);
            return 0;
        }
        break;
    case PGOID_TIMESTAMP:
    case PGOID_TIMESTAMPTZ:
        if (len != 8)
            break;
        if (pgtypes_timestamp_from_pg((int64_t)be(d, 8), &out->u.timestamp_us) != 0) {
            snprintf(err, errlen, "timestamp out of range");
            return -1;
        }
        out->kind = DUCKPOND_VALUE_TIMESTAMP;
        return 0;
    case PGOID_UUID:
        if (len != 16 || scratchlen < 40)
            break;
        pgtypes_uuid_text((const unsigned char *)d, scratch);
        out->u.text.ptr = scratch;
        out->u.text.len = 36;
        return 0;
    case PGOID_TEXT:
    case PGOID_VARCHAR:
    case PGOID_BPCHAR:
    case PGOID_NAME:
    case PGOID_JSON: return 0;
    default: break;
    }
    snprintf(err, errlen, "binary format for this parameter (type %u) is not supported here", oid);
    return -1;
}
