/*
 * pgtypes.c -- DuckDB values in PostgreSQL's encodings, and back.
 *
 * PostgreSQL's text output is not DuckDB's VARCHAR cast (t/f for booleans,
 * {1,2} for arrays, Infinity/NaN, \x hex for bytea, "1 year 2 mons" for
 * intervals), so every type gets its own encoder here, reading DuckDB's
 * vectors directly. Binary output covers the types drivers ask for in
 * binary (integers, floats, bool, bytea, text, date, time, timestamps,
 * uuid, interval). Structs and maps are sent as json, as pg_duckdb does.
 * Parameters go the other way: text stays text where DuckDB knows the
 * parameter's type (DuckDB casts it), binary values are decoded by the OID
 * the client declared.
 */
#include "pgtypes.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_EPOCH_DAYS 10957                      /* 2000-01-01 - 1970-01-01 */
#define PG_EPOCH_US (10957LL * 86400LL * 1000000LL)

/* ---------------------------------------------------------------- OIDs */

static bool is_json(duckdb_logical_type type)
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
    if (id == DUCKDB_TYPE_VARCHAR && is_json(type)) {
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

/* --------------------------------------------------------- text output */

bool pgtypes_valid(duckdb_vector v, idx_t row)
{
    uint64_t *validity = duckdb_vector_get_validity(v);
    return !validity || duckdb_validity_row_is_valid(validity, row);
}

/* 128-bit integers in decimal. */
static void put_u128(struct pgbuf *b, unsigned __int128 x)
{
    char tmp[48];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(x % 10));
        x /= 10;
    } while (x);
    while (n)
        pgbuf_byte(b, tmp[--n]);
}

static void put_i128(struct pgbuf *b, __int128 x)
{
    if (x < 0) {
        pgbuf_byte(b, '-');
        put_u128(b, (unsigned __int128)(-(x + 1)) + 1);
    } else {
        put_u128(b, (unsigned __int128)x);
    }
}

/* A decimal of the given scale from its unscaled integer. */
static void put_decimal(struct pgbuf *b, __int128 x, int scale)
{
    if (scale == 0) {
        put_i128(b, x);
        return;
    }
    unsigned __int128 u = x < 0 ? (unsigned __int128)(-(x + 1)) + 1 : (unsigned __int128)x;
    unsigned __int128 pow = 1;
    for (int i = 0; i < scale; i++)
        pow *= 10;
    if (x < 0)
        pgbuf_byte(b, '-');
    put_u128(b, u / pow);
    pgbuf_byte(b, '.');
    char frac[48];
    unsigned __int128 f = u % pow;
    for (int i = scale - 1; i >= 0; i--) {
        frac[i] = (char)('0' + (int)(f % 10));
        f /= 10;
    }
    pgbuf_bytes(b, frac, (size_t)scale);
}

/* The shortest text that reads back as the same double (PostgreSQL 12+). */
static void put_double(struct pgbuf *b, double d, bool single)
{
    if (isnan(d)) {
        pgbuf_str(b, "NaN");
        return;
    }
    if (isinf(d)) {
        pgbuf_str(b, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    char tmp[40];
    for (int prec = single ? 6 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        double back = strtod(tmp, NULL);
        if (single ? (float)back == (float)d : back == d)
            break;
    }
    pgbuf_str(b, tmp);
}

static void put_date(struct pgbuf *b, int32_t days)
{
    if (days == INT32_MAX) {
        pgbuf_str(b, "infinity");
        return;
    }
    if (days == -INT32_MAX) {
        pgbuf_str(b, "-infinity");
        return;
    }
    duckdb_date_struct d = duckdb_from_date((duckdb_date){days});
    int year = d.year > 0 ? d.year : 1 - d.year;
    pgbuf_printf(b, "%04d-%02d-%02d", year, d.month, d.day);
}

/* HH:MM:SS[.ffffff], trailing zeros of the fraction dropped. */
static void put_time_of_day(struct pgbuf *b, int64_t micros)
{
    int64_t secs = micros / 1000000, frac = micros % 1000000;
    pgbuf_printf(b, "%02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, "%06d", (int)frac);
        int n = 6;
        while (n > 0 && f[n - 1] == '0')
            n--;
        pgbuf_byte(b, '.');
        pgbuf_bytes(b, f, (size_t)n);
    }
}

static void put_timestamp(struct pgbuf *b, int64_t micros, bool tz)
{
    if (micros == INT64_MAX) {
        pgbuf_str(b, "infinity");
        return;
    }
    if (micros == -INT64_MAX) {
        pgbuf_str(b, "-infinity");
        return;
    }
    int64_t days = micros / 86400000000LL, rest = micros % 86400000000LL;
    if (rest < 0) {
        rest += 86400000000LL;
        days--;
    }
    duckdb_date_struct d = duckdb_from_date((duckdb_date){(int32_t)days});
    int year = d.year > 0 ? d.year : 1 - d.year;
    pgbuf_printf(b, "%04d-%02d-%02d ", year, d.month, d.day);
    put_time_of_day(b, rest);
    if (tz)
        pgbuf_str(b, "+00");
    if (d.year <= 0)
        pgbuf_str(b, " BC");
}

/* PostgreSQL's default IntervalStyle (postgres): "1 year 2 mons 3 days 04:05:06". */
static void put_interval(struct pgbuf *b, duckdb_interval iv)
{
    bool any = false;
    int years = iv.months / 12, mons = iv.months % 12;
    if (years) {
        pgbuf_printf(b, "%d year%s", years, years == 1 ? "" : "s");
        any = true;
    }
    if (mons) {
        pgbuf_printf(b, "%s%d mon%s", any ? " " : "", mons, mons == 1 ? "" : "s");
        any = true;
    }
    if (iv.days) {
        pgbuf_printf(b, "%s%d day%s", any ? " " : "", iv.days,
                     iv.days == 1 ? "" : "s");
        any = true;
    }
    if (iv.micros || !any) {
        if (any)
            pgbuf_byte(b, ' ');
        int64_t m = iv.micros;
        if (m < 0) {
            pgbuf_byte(b, '-');
            m = -m;
        }
        put_time_of_day(b, m);
    }
}

static void put_uuid(struct pgbuf *b, duckdb_hugeint h)
{
    uint64_t hi = (uint64_t)h.upper ^ (1ULL << 63), lo = h.lower;
    pgbuf_printf(b, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
                 hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48, lo & (uint64_t)0xffffffffffff);
}

static void put_hex(struct pgbuf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    pgbuf_str(b, "\\x");
    pgbuf_reserve(b, n * 2);
    for (size_t i = 0; i < n && !b->failed; i++) {
        pgbuf_byte(b, hex[(unsigned char)p[i] >> 4]);
        pgbuf_byte(b, hex[(unsigned char)p[i] & 15]);
    }
}

static __int128 decimal_raw(duckdb_vector v, duckdb_logical_type type, idx_t row)
{
    void *data = duckdb_vector_get_data(v);
    switch (duckdb_decimal_internal_type(type)) {
    case DUCKDB_TYPE_SMALLINT: return ((int16_t *)data)[row];
    case DUCKDB_TYPE_INTEGER: return ((int32_t *)data)[row];
    case DUCKDB_TYPE_BIGINT: return ((int64_t *)data)[row];
    default: {
        duckdb_hugeint h = ((duckdb_hugeint *)data)[row];
        return (__int128)h.upper * ((__int128)1 << 64) + (__int128)h.lower;
    }
    }
}

static uint64_t enum_index(duckdb_vector v, duckdb_logical_type type, idx_t row)
{
    void *data = duckdb_vector_get_data(v);
    switch (duckdb_enum_internal_type(type)) {
    case DUCKDB_TYPE_UTINYINT: return ((uint8_t *)data)[row];
    case DUCKDB_TYPE_USMALLINT: return ((uint16_t *)data)[row];
    default: return ((uint32_t *)data)[row];
    }
}

static int64_t timestamp_micros(duckdb_type id, int64_t raw)
{
    if (raw == INT64_MAX || raw == -INT64_MAX)
        return raw;
    switch (id) {
    case DUCKDB_TYPE_TIMESTAMP_S: return raw * 1000000;
    case DUCKDB_TYPE_TIMESTAMP_MS: return raw * 1000;
    case DUCKDB_TYPE_TIMESTAMP_NS: return raw / 1000;
    default: return raw;
    }
}

enum text_mode { MODE_TOP, MODE_ELEM, MODE_JSON };

static int put_value(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, idx_t row,
                     enum text_mode mode);

/* A scalar in text, as PostgreSQL prints it. -1 when unsupported. */
static int put_scalar(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, duckdb_type id,
                      idx_t row)
{
    void *data = duckdb_vector_get_data(v);
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN: pgbuf_byte(b, ((bool *)data)[row] ? 't' : 'f'); return 0;
    case DUCKDB_TYPE_TINYINT: pgbuf_printf(b, "%d", ((int8_t *)data)[row]); return 0;
    case DUCKDB_TYPE_SMALLINT: pgbuf_printf(b, "%d", ((int16_t *)data)[row]); return 0;
    case DUCKDB_TYPE_INTEGER: pgbuf_printf(b, "%" PRId32, ((int32_t *)data)[row]); return 0;
    case DUCKDB_TYPE_BIGINT: pgbuf_printf(b, "%" PRId64, ((int64_t *)data)[row]); return 0;
    case DUCKDB_TYPE_UTINYINT: pgbuf_printf(b, "%u", ((uint8_t *)data)[row]); return 0;
    case DUCKDB_TYPE_USMALLINT: pgbuf_printf(b, "%u", ((uint16_t *)data)[row]); return 0;
    case DUCKDB_TYPE_UINTEGER: pgbuf_printf(b, "%" PRIu32, ((uint32_t *)data)[row]); return 0;
    case DUCKDB_TYPE_UBIGINT: pgbuf_printf(b, "%" PRIu64, ((uint64_t *)data)[row]); return 0;
    case DUCKDB_TYPE_HUGEINT: {
        duckdb_hugeint h = ((duckdb_hugeint *)data)[row];
        put_i128(b, (__int128)h.upper * ((__int128)1 << 64) + (__int128)h.lower);
        return 0;
    }
    case DUCKDB_TYPE_UHUGEINT: {
        duckdb_uhugeint h = ((duckdb_uhugeint *)data)[row];
        put_u128(b, (unsigned __int128)h.upper << 64 | h.lower);
        return 0;
    }
    case DUCKDB_TYPE_FLOAT: put_double(b, ((float *)data)[row], true); return 0;
    case DUCKDB_TYPE_DOUBLE: put_double(b, ((double *)data)[row], false); return 0;
    case DUCKDB_TYPE_DECIMAL:
        put_decimal(b, decimal_raw(v, type, row), duckdb_decimal_scale(type));
        return 0;
    case DUCKDB_TYPE_VARCHAR: {
        duckdb_string_t *s = &((duckdb_string_t *)data)[row];
        pgbuf_bytes(b, duckdb_string_t_data(s), duckdb_string_t_length(*s));
        return 0;
    }
    case DUCKDB_TYPE_BLOB: {
        duckdb_string_t *s = &((duckdb_string_t *)data)[row];
        put_hex(b, duckdb_string_t_data(s), duckdb_string_t_length(*s));
        return 0;
    }
    case DUCKDB_TYPE_DATE: put_date(b, ((duckdb_date *)data)[row].days); return 0;
    case DUCKDB_TYPE_TIME: put_time_of_day(b, ((duckdb_time *)data)[row].micros); return 0;
    case DUCKDB_TYPE_TIME_NS: put_time_of_day(b, ((int64_t *)data)[row] / 1000); return 0;
    case DUCKDB_TYPE_TIME_TZ: {
        duckdb_time_tz_struct t = duckdb_from_time_tz(((duckdb_time_tz *)data)[row]);
        put_time_of_day(b, ((int64_t)t.time.hour * 3600 + t.time.min * 60 + t.time.sec) * 1000000 +
                               t.time.micros);
        int off = t.offset, a = off < 0 ? -off : off;
        pgbuf_printf(b, "%c%02d", off < 0 ? '-' : '+', a / 3600);
        if (a % 3600)
            pgbuf_printf(b, ":%02d", a % 3600 / 60);
        return 0;
    }
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
        put_timestamp(b, timestamp_micros(id, ((int64_t *)data)[row]), false);
        return 0;
    case DUCKDB_TYPE_TIMESTAMP_TZ: put_timestamp(b, ((int64_t *)data)[row], true); return 0;
    case DUCKDB_TYPE_INTERVAL: put_interval(b, ((duckdb_interval *)data)[row]); return 0;
    case DUCKDB_TYPE_UUID: put_uuid(b, ((duckdb_hugeint *)data)[row]); return 0;
    case DUCKDB_TYPE_ENUM: {
        char *name = duckdb_enum_dictionary_value(type, enum_index(v, type, row));
        pgbuf_str(b, name ? name : "");
        duckdb_free(name);
        return 0;
    }
    default: return -1;
    }
}

/* Appends s quoted for a PostgreSQL array element or a JSON string. */
static void put_quoted(struct pgbuf *b, const char *s, size_t n, bool json)
{
    pgbuf_byte(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            pgbuf_byte(b, '\\');
            pgbuf_byte(b, (char)c);
        } else if (json && c < 0x20) {
            pgbuf_printf(b, "\\u%04x", c);
        } else {
            pgbuf_byte(b, (char)c);
        }
    }
    pgbuf_byte(b, '"');
}

/* Appends what tmp holds, quoted; a failed tmp (its text cut short) fails b instead. */
static void put_quoted_buf(struct pgbuf *b, const struct pgbuf *tmp, bool json)
{
    if (tmp->failed)
        b->failed = true;
    else
        put_quoted(b, tmp->data ? tmp->data : "", tmp->len, json);
}

static bool needs_array_quotes(const char *s, size_t n)
{
    if (n == 0 || (n == 4 && strncasecmp(s, "NULL", 4) == 0))
        return true;
    for (size_t i = 0; i < n; i++)
        if (strchr("{}\",\\", s[i]) || isspace((unsigned char)s[i]))
            return true;
    return false;
}

static bool json_bare(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN: case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER: case DUCKDB_TYPE_BIGINT: case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT: case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT: case DUCKDB_TYPE_UHUGEINT: case DUCKDB_TYPE_DECIMAL:
    case DUCKDB_TYPE_FLOAT: case DUCKDB_TYPE_DOUBLE:
        return true;
    default:
        return false;
    }
}

/* A scalar inside an array or json: formatted aside, then quoted as needed. */
static int put_nested_scalar(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type,
                             duckdb_type id, idx_t row, enum text_mode mode)
{
    if (mode == MODE_JSON && id == DUCKDB_TYPE_BOOLEAN) {
        pgbuf_str(b, ((bool *)duckdb_vector_get_data(v))[row] ? "true" : "false");
        return 0;
    }
    struct pgbuf tmp;
    pgbuf_init(&tmp);
    int rc = put_scalar(&tmp, v, type, id, row);
    if (rc == 0 && !tmp.failed) {
        bool bare = mode == MODE_JSON ? json_bare(id) && tmp.len && isdigit((unsigned char)tmp.data[tmp.len - 1])
                                      : !needs_array_quotes(tmp.data, tmp.len);
        if (bare)
            pgbuf_bytes(b, tmp.data, tmp.len);
        else
            put_quoted_buf(b, &tmp, mode == MODE_JSON);
    }
    b->failed |= tmp.failed;
    pgbuf_free(&tmp);
    return rc;
}

/* A list or array: {a,b} as text, [a,b] inside json. */
static int put_list(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, duckdb_type id,
                    idx_t row, enum text_mode mode)
{
    duckdb_logical_type child_type;
    duckdb_vector child;
    uint64_t offset, length;
    if (id == DUCKDB_TYPE_LIST) {
        duckdb_list_entry e = ((duckdb_list_entry *)duckdb_vector_get_data(v))[row];
        child = duckdb_list_vector_get_child(v);
        child_type = duckdb_list_type_child_type(type);
        offset = e.offset;
        length = e.length;
    } else {
        length = duckdb_array_type_array_size(type);
        child = duckdb_array_vector_get_child(v);
        child_type = duckdb_array_type_child_type(type);
        offset = row * length;
    }
    bool json = mode == MODE_JSON;
    int rc = 0;
    pgbuf_byte(b, json ? '[' : '{');
    for (uint64_t i = 0; i < length && rc == 0; i++) {
        if (i)
            pgbuf_byte(b, ',');
        if (!pgtypes_valid(child, offset + i))
            pgbuf_str(b, json ? "null" : "NULL");
        else
            rc = put_value(b, child, child_type, offset + i, json ? MODE_JSON : MODE_ELEM);
    }
    pgbuf_byte(b, json ? ']' : '}');
    duckdb_destroy_logical_type(&child_type);
    return rc;
}

/* A struct as a json object. */
static int put_struct(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, idx_t row)
{
    idx_t n = duckdb_struct_type_child_count(type);
    int rc = 0;
    pgbuf_byte(b, '{');
    for (idx_t i = 0; i < n && rc == 0; i++) {
        char *name = duckdb_struct_type_child_name(type, i);
        duckdb_logical_type ct = duckdb_struct_type_child_type(type, i);
        duckdb_vector cv = duckdb_struct_vector_get_child(v, i);
        if (i)
            pgbuf_byte(b, ',');
        put_quoted(b, name, strlen(name), true);
        pgbuf_byte(b, ':');
        if (!pgtypes_valid(cv, row))
            pgbuf_str(b, "null");
        else
            rc = put_value(b, cv, ct, row, MODE_JSON);
        duckdb_free(name);
        duckdb_destroy_logical_type(&ct);
    }
    pgbuf_byte(b, '}');
    return rc;
}

/* A map as a json object of key -> value (keys as text). */
static int put_map(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, idx_t row)
{
    duckdb_list_entry e = ((duckdb_list_entry *)duckdb_vector_get_data(v))[row];
    duckdb_vector entries = duckdb_list_vector_get_child(v);
    duckdb_vector keys = duckdb_struct_vector_get_child(entries, 0);
    duckdb_vector vals = duckdb_struct_vector_get_child(entries, 1);
    duckdb_logical_type kt = duckdb_map_type_key_type(type), vt = duckdb_map_type_value_type(type);
    int rc = 0;
    pgbuf_byte(b, '{');
    for (uint64_t i = 0; i < e.length && rc == 0; i++) {
        idx_t at = e.offset + i;
        if (i)
            pgbuf_byte(b, ',');
        struct pgbuf key;
        pgbuf_init(&key);
        rc = put_value(&key, keys, kt, at, MODE_TOP);
        put_quoted(b, key.data ? key.data : "", key.len, true);
        pgbuf_free(&key);
        pgbuf_byte(b, ':');
        if (!pgtypes_valid(vals, at))
            pgbuf_str(b, "null");
        else if (rc == 0)
            rc = put_value(b, vals, vt, at, MODE_JSON);
    }
    pgbuf_byte(b, '}');
    duckdb_destroy_logical_type(&kt);
    duckdb_destroy_logical_type(&vt);
    return rc;
}

static int put_value(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, idx_t row,
                     enum text_mode mode)
{
    duckdb_type id = duckdb_get_type_id(type);
    switch (id) {
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY:
        return put_list(b, v, type, id, row, mode);
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_MAP: {
        if (mode == MODE_ELEM) { /* a json value inside a text array: quoted */
            struct pgbuf tmp;
            pgbuf_init(&tmp);
            int rc = id == DUCKDB_TYPE_MAP ? put_map(&tmp, v, type, row) : put_struct(&tmp, v, type, row);
            put_quoted_buf(b, &tmp, false);
            pgbuf_free(&tmp);
            return rc;
        }
        return id == DUCKDB_TYPE_MAP ? put_map(b, v, type, row) : put_struct(b, v, type, row);
    }
    default:
        if (mode == MODE_TOP)
            return put_scalar(b, v, type, id, row);
        if (mode == MODE_JSON && id == DUCKDB_TYPE_VARCHAR && is_json(type))
            return put_scalar(b, v, type, id, row);
        return put_nested_scalar(b, v, type, id, row, mode);
    }
}

int pgtypes_text(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, idx_t row)
{
    size_t mark = b->len;
    int rc = put_value(b, v, type, row, MODE_TOP);
    if (rc != 0)
        dp_buf_truncate(&b->buf, mark);
    return rc;
}

/* ------------------------------------------------------- binary output */

bool pgtypes_has_binary(duckdb_logical_type type)
{
    switch (duckdb_get_type_id(type)) {
    case DUCKDB_TYPE_BOOLEAN: case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER: case DUCKDB_TYPE_BIGINT: case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT: case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE: case DUCKDB_TYPE_VARCHAR: case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_DATE: case DUCKDB_TYPE_TIME: case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S: case DUCKDB_TYPE_TIMESTAMP_MS: case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ: case DUCKDB_TYPE_UUID: case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_ENUM:
        return true;
    default:
        return false;
    }
}

int pgtypes_binary(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, idx_t row)
{
    void *data = duckdb_vector_get_data(v);
    duckdb_type id = duckdb_get_type_id(type);
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN: pgbuf_byte(b, ((bool *)data)[row] ? 1 : 0); return 0;
    case DUCKDB_TYPE_TINYINT: pgbuf_int16(b, ((int8_t *)data)[row]); return 0;
    case DUCKDB_TYPE_SMALLINT: pgbuf_int16(b, ((int16_t *)data)[row]); return 0;
    case DUCKDB_TYPE_UTINYINT: pgbuf_int16(b, ((uint8_t *)data)[row]); return 0;
    case DUCKDB_TYPE_INTEGER: pgbuf_int32(b, ((int32_t *)data)[row]); return 0;
    case DUCKDB_TYPE_USMALLINT: pgbuf_int32(b, ((uint16_t *)data)[row]); return 0;
    case DUCKDB_TYPE_BIGINT: pgbuf_int64(b, ((int64_t *)data)[row]); return 0;
    case DUCKDB_TYPE_UINTEGER: pgbuf_int64(b, ((uint32_t *)data)[row]); return 0;
    case DUCKDB_TYPE_FLOAT: {
        uint32_t u;
        memcpy(&u, &((float *)data)[row], 4);
        pgbuf_int32(b, (int32_t)u);
        return 0;
    }
    case DUCKDB_TYPE_DOUBLE: {
        uint64_t u;
        memcpy(&u, &((double *)data)[row], 8);
        pgbuf_int64(b, (int64_t)u);
        return 0;
    }
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB: {
        duckdb_string_t *s = &((duckdb_string_t *)data)[row];
        pgbuf_bytes(b, duckdb_string_t_data(s), duckdb_string_t_length(*s));
        return 0;
    }
    case DUCKDB_TYPE_ENUM: return pgtypes_text(b, v, type, row);
    case DUCKDB_TYPE_DATE: {
        int32_t d = ((duckdb_date *)data)[row].days;
        pgbuf_int32(b, d == INT32_MAX || d == -INT32_MAX ? d : d - PG_EPOCH_DAYS);
        return 0;
    }
    case DUCKDB_TYPE_TIME: pgbuf_int64(b, ((duckdb_time *)data)[row].micros); return 0;
    case DUCKDB_TYPE_TIMESTAMP: case DUCKDB_TYPE_TIMESTAMP_S: case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS: case DUCKDB_TYPE_TIMESTAMP_TZ: {
        int64_t us = timestamp_micros(id, ((int64_t *)data)[row]);
        pgbuf_int64(b, us == INT64_MAX ? INT64_MAX : us == -INT64_MAX ? INT64_MIN : us - PG_EPOCH_US);
        return 0;
    }
    case DUCKDB_TYPE_INTERVAL: {
        duckdb_interval iv = ((duckdb_interval *)data)[row];
        pgbuf_int64(b, iv.micros);
        pgbuf_int32(b, iv.days);
        pgbuf_int32(b, iv.months);
        return 0;
    }
    case DUCKDB_TYPE_UUID: {
        duckdb_hugeint h = ((duckdb_hugeint *)data)[row];
        pgbuf_int64(b, (int64_t)((uint64_t)h.upper ^ (1ULL << 63)));
        pgbuf_int64(b, (int64_t)h.lower);
        return 0;
    }
    default:
        return -1;
    }
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

/* Formats a binary uuid as text into out (37 bytes). */
static void uuid_text(const char *p, char *out)
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[(unsigned char)p[i] >> 4];
        out[o++] = hex[(unsigned char)p[i] & 15];
    }
    out[o] = 0;
}

static int bind_binary(duckdb_prepared_statement st, idx_t idx, uint32_t oid, const char *d,
                       int32_t len, char *err, size_t errlen)
{
    duckdb_state s;
#define NEED(n)                                                                          \
    if (len != (n)) {                                                                    \
        snprintf(err, errlen, "incorrect binary data format in bind parameter %llu",     \
                 (unsigned long long)idx);                                               \
        return -1;                                                                       \
    }
    switch (oid) {
    case PGOID_BOOL: NEED(1); s = duckdb_bind_boolean(st, idx, d[0] != 0); break;
    case PGOID_INT2: NEED(2); s = duckdb_bind_int16(st, idx, (int16_t)be(d, 2)); break;
    case PGOID_INT4:
    case PGOID_OID: NEED(4); s = duckdb_bind_int32(st, idx, (int32_t)be(d, 4)); break;
    case PGOID_INT8: NEED(8); s = duckdb_bind_int64(st, idx, (int64_t)be(d, 8)); break;
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
    case PGOID_DATE: NEED(4);
        s = duckdb_bind_date(st, idx, (duckdb_date){(int32_t)be(d, 4) + PG_EPOCH_DAYS});
        break;
    case PGOID_TIME: NEED(8); s = duckdb_bind_time(st, idx, (duckdb_time){(int64_t)be(d, 8)}); break;
    case PGOID_TIMESTAMP: NEED(8);
        s = duckdb_bind_timestamp(st, idx, (duckdb_timestamp){(int64_t)be(d, 8) + PG_EPOCH_US});
        break;
    case PGOID_TIMESTAMPTZ: NEED(8);
        s = duckdb_bind_timestamp_tz(st, idx, (duckdb_timestamp){(int64_t)be(d, 8) + PG_EPOCH_US});
        break;
    case PGOID_INTERVAL: NEED(16);
        s = duckdb_bind_interval(st, idx, (duckdb_interval){.micros = (int64_t)be(d, 8),
                                                            .days = (int32_t)be(d + 8, 4),
                                                            .months = (int32_t)be(d + 12, 4)});
        break;
    case PGOID_UUID: {
        NEED(16);
        char text[40];
        uuid_text(d, text);
        s = duckdb_bind_varchar(st, idx, text);
        break;
    }
    case PGOID_TEXT: case PGOID_VARCHAR: case PGOID_BPCHAR: case PGOID_NAME: case PGOID_JSON:
    case PGOID_UNKNOWN:
        s = duckdb_bind_varchar_length(st, idx, d, (idx_t)len);
        break;
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
static duckdb_state bind_untyped_text(duckdb_prepared_statement st, idx_t idx, uint32_t oid,
                                      const char *s, size_t len)
{
    int64_t i;
    double f;
    switch (oid) {
    case PGOID_INT2: case PGOID_INT4: case PGOID_INT8: case PGOID_OID:
        if (read_int64(s, &i))
            return duckdb_bind_int64(st, idx, i);
        break;
    case PGOID_FLOAT4: case PGOID_FLOAT8:
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
    default:
        break;
    }
    return duckdb_bind_varchar_length(st, idx, s, len);
}

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : isxdigit((unsigned char)c) ? tolower((unsigned char)c) - 'a' + 10 : -1;
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
            } else if (i + 3 < n && d[i + 1] >= '0' && d[i + 1] <= '3') {
                out[o++] = (char)((d[i + 1] - '0') * 64 + (d[i + 2] - '0') * 8 + (d[i + 3] - '0'));
                i += 3;
            } else {
                bad = 1;
            }
        }
    }
    int rc = bad ? -1 : duckdb_bind_blob(st, idx, out, o) == DuckDBSuccess ? 0 : -1;
    if (rc)
        snprintf(err, errlen, "invalid input syntax for type bytea (parameter %llu)", (unsigned long long)idx);
    free(out);
    return rc;
}

int pgtypes_bind(duckdb_prepared_statement st, idx_t idx, uint32_t oid, int16_t format,
                 const char *data, int32_t len, char *err, size_t errlen)
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
        out->kind = DUCKPOND_VALUE_TIMESTAMP;
        out->u.timestamp_us = (int64_t)be(d, 8) + PG_EPOCH_US;
        return 0;
    case PGOID_UUID:
        if (len != 16 || scratchlen < 40)
            break;
        uuid_text(d, scratch);
        out->u.text.ptr = scratch;
        out->u.text.len = 36;
        return 0;
    case PGOID_TEXT: case PGOID_VARCHAR: case PGOID_BPCHAR: case PGOID_NAME: case PGOID_JSON:
        return 0;
    default:
        break;
    }
    snprintf(err, errlen, "binary format for this parameter (type %u) is not supported here", oid);
    return -1;
}
