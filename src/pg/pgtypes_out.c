/*
 * pgtypes_out.c -- result values in PostgreSQL's text and binary formats,
 * and the DataRow messages that carry them.
 *
 * PostgreSQL's text output is not DuckDB's VARCHAR cast (t/f for booleans,
 * {1,2} for arrays, Infinity/NaN, \x hex for bytea, "1 year 2 mons" for
 * intervals, " BC" after a date), so every type gets its own encoder here,
 * reading DuckDB's vectors directly. Binary output covers the types
 * drivers ask for in binary (integers, floats, bool, bytea, text, date,
 * time, timestamps, uuid, interval). Structs and maps are sent as json, as
 * pg_duckdb does.
 *
 * A long result is where a server spends its time, so the common case is
 * made cheap: a result's column types are resolved once (struct
 * pgtypes_row), a chunk's vectors once per chunk, and a row is then
 * written straight into the output buffer, numbers and timestamps through
 * numfmt (no printf, no DuckDB call per value). Nested values go through
 * the general, recursive encoder, which also serves COPY.
 */
#include "pgtypes.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duckvec.h"
#include "numfmt.h"

/* Room for the longest text fixed_text writes (an INTERVAL's; a timestamp's is 36), and fixed_binary's (48). */
#define TEXT_MAX 96

/* --------------------------------------------------------- column types */

/* What one column's encoder needs to know, resolved once per result. */
struct pgcol {
    duckdb_type id;
    duckdb_type internal;     /* the storage of a DECIMAL or an ENUM index */
    uint8_t scale;            /* DECIMAL */
    bool binary;              /* sent in binary format */
    duckdb_logical_type type; /* owned in a pgtypes_row; for ENUM labels and the general encoder */
    char **names;             /* ENUM: the dictionary, filled as values are met */
    idx_t nnames;
    /* the date last written: consecutive timestamps mostly fall on one day */
    bool date_known, date_bc;
    int32_t date_days;
    uint8_t date_len;
    char date[16];
    /* the current chunk's vector */
    duckdb_vector vec;
    const void *data;
    const uint64_t *validity;
};

struct pgtypes_row {
    int ncols;
    struct pgcol cols[];
};

/* Fills what the scalar encoders read (no allocation: names stay unset). */
static void col_init(struct pgcol *c, duckdb_logical_type type)
{
    memset(c, 0, sizeof *c);
    c->id = duckdb_get_type_id(type);
    if (c->id == DUCKDB_TYPE_DECIMAL) {
        c->scale = duckdb_decimal_scale(type);
        c->internal = duckdb_decimal_internal_type(type);
    } else if (c->id == DUCKDB_TYPE_ENUM) {
        c->internal = duckdb_enum_internal_type(type);
    }
}

bool pgtypes_valid(duckdb_vector v, idx_t row)
{
    return dp_vec_valid(v, row);
}

/* --------------------------------------------------- fixed-size values */

/* A TIMESTAMP of any unit in microseconds (infinities stay as they are). */
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

static size_t put_literal(char *out, const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

/* float8 and float4 as PostgreSQL 12+ prints them (extra_float_digits 1): shortest, exact. */
static size_t float_text(char *out, double d, bool single)
{
    if (isnan(d))
        return put_literal(out, "NaN");
    if (isinf(d))
        return put_literal(out, d > 0 ? "Infinity" : "-Infinity");
    struct numfmt_dec dec;
    if (single)
        numfmt_shortest_float((float)d, true, &dec);
    else
        numfmt_shortest(d, true, &dec);
    return numfmt_dec_text(out, &dec, single ? 6 : 15);
}

/* YYYY-MM-DD of days into out (16 bytes), through the column's cache of the last one. */
static size_t date_part(struct pgcol *c, char *out, int32_t days, bool *bc)
{
    if (!c->date_known || c->date_days != days) {
        c->date_len = (uint8_t)numfmt_date(c->date, days, &c->date_bc);
        c->date_days = days;
        c->date_known = true;
    }
    memcpy(out, c->date, sizeof c->date);
    *bc = c->date_bc;
    return c->date_len;
}

static size_t date_text(struct pgcol *c, char *out, int32_t days)
{
    if (days == INT32_MAX || days == -INT32_MAX)
        return put_literal(out, days > 0 ? "infinity" : "-infinity");
    bool bc;
    size_t n = date_part(c, out, days, &bc);
    return bc ? n + put_literal(out + n, " BC") : n;
}

/* HH:MM:SS[.ffffff] of a count of microseconds (hours may pass 24). */
static size_t clock_text(char *out, uint64_t micros)
{
    return numfmt_clock(out, micros / 1000000, (uint32_t)(micros % 1000000), 6);
}

static size_t timestamp_text(struct pgcol *c, char *out, int64_t micros, bool tz)
{
    if (micros == INT64_MAX || micros == -INT64_MAX)
        return put_literal(out, micros > 0 ? "infinity" : "-infinity");
    int32_t days;
    int64_t of_day;
    numfmt_split_micros(micros, &days, &of_day);
    bool bc;
    char *p = out + date_part(c, out, days, &bc);
    *p++ = ' ';
    p += clock_text(p, (uint64_t)of_day);
    if (tz)
        p += put_literal(p, "+00");
    if (bc)
        p += put_literal(p, " BC");
    return (size_t)(p - out);
}

/* One part of an interval, "3 days": unit is singular, an s follows unless v is 1. */
static char *interval_part(char *p, int32_t v, const char *unit, bool *any)
{
    if (*any)
        *p++ = ' ';
    p += numfmt_i64(p, v);
    *p++ = ' ';
    p += put_literal(p, unit);
    if (v != 1)
        *p++ = 's';
    *any = true;
    return p;
}

/* PostgreSQL's default IntervalStyle (postgres): "1 year 2 mons 3 days 04:05:06". */
static size_t interval_text(char *out, duckdb_interval iv)
{
    char *p = out;
    bool any = false;
    if (iv.months / 12)
        p = interval_part(p, iv.months / 12, "year", &any);
    if (iv.months % 12)
        p = interval_part(p, iv.months % 12, "mon", &any);
    if (iv.days)
        p = interval_part(p, iv.days, "day", &any);
    if (iv.micros || !any) {
        if (any)
            *p++ = ' ';
        if (iv.micros < 0)
            *p++ = '-';
        p += clock_text(p, iv.micros < 0 ? 0 - (uint64_t)iv.micros : (uint64_t)iv.micros);
    }
    return (size_t)(p - out);
}

static void hex_bytes(char *out, uint64_t v, int nbytes)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = nbytes * 2 - 1; i >= 0; i--, v >>= 4)
        out[i] = hex[v & 15];
}

static size_t uuid_text(char *out, duckdb_hugeint h)
{
    uint64_t hi = (uint64_t)h.upper ^ (1ULL << 63), lo = h.lower;
    hex_bytes(out, hi >> 32, 4);
    out[8] = '-';
    hex_bytes(out + 9, hi >> 16 & 0xffff, 2);
    out[13] = '-';
    hex_bytes(out + 14, hi & 0xffff, 2);
    out[18] = '-';
    hex_bytes(out + 19, lo >> 48, 2);
    out[23] = '-';
    hex_bytes(out + 24, lo & 0xffffffffffffULL, 6);
    return 36;
}

static size_t time_tz_text(char *out, duckdb_time_tz v)
{
    duckdb_time_tz_struct t = duckdb_from_time_tz(v);
    uint64_t secs = (uint64_t)t.time.hour * 3600 + (uint64_t)t.time.min * 60 + (uint64_t)t.time.sec;
    char *p = out + clock_text(out, secs * 1000000 + (uint64_t)t.time.micros);
    int off = t.offset, a = off < 0 ? -off : off; /* +HH, or +HH:MM when it has minutes */
    *p++ = off < 0 ? '-' : '+';
    *p++ = (char)('0' + a / 3600 / 10);
    *p++ = (char)('0' + a / 3600 % 10);
    if (a % 3600) {
        *p++ = ':';
        *p++ = (char)('0' + a % 3600 / 600);
        *p++ = (char)('0' + a % 600 / 60);
    }
    return (size_t)(p - out);
}

/*
 * The text of a value of a fixed-size type at row of data into out
 * (TEXT_MAX bytes). Returns its length, or -1 for any other type
 * (strings, nested and unsupported types).
 */
static int fixed_text(struct pgcol *c, const void *data, idx_t row, char *out)
{
    size_t n;
    switch (c->id) {
    case DUCKDB_TYPE_BOOLEAN: out[0] = ((const bool *)data)[row] ? 't' : 'f'; return 1;
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT: n = dp_vec_int_text(c->id, data, row, out); break;
    case DUCKDB_TYPE_HUGEINT:
        n = numfmt_i128(out, dp_hugeint_i128(((const duckdb_hugeint *)data)[row]));
        break;
    case DUCKDB_TYPE_UHUGEINT: {
        duckdb_uhugeint h = ((const duckdb_uhugeint *)data)[row];
        n = numfmt_u128(out, (unsigned __int128)h.upper << 64 | h.lower);
        break;
    }
    case DUCKDB_TYPE_FLOAT: n = float_text(out, ((const float *)data)[row], true); break;
    case DUCKDB_TYPE_DOUBLE: n = float_text(out, ((const double *)data)[row], false); break;
    case DUCKDB_TYPE_DECIMAL:
        n = numfmt_decimal(out, dp_vec_decimal_raw(c->internal, data, row), c->scale);
        break;
    case DUCKDB_TYPE_DATE: n = date_text(c, out, ((const duckdb_date *)data)[row].days); break;
    case DUCKDB_TYPE_TIME: n = clock_text(out, (uint64_t)((const duckdb_time *)data)[row].micros); break;
    case DUCKDB_TYPE_TIME_NS: n = clock_text(out, (uint64_t)(((const int64_t *)data)[row] / 1000)); break;
    case DUCKDB_TYPE_TIME_TZ: n = time_tz_text(out, ((const duckdb_time_tz *)data)[row]); break;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
        n = timestamp_text(c, out, timestamp_micros(c->id, ((const int64_t *)data)[row]), false);
        break;
    case DUCKDB_TYPE_TIMESTAMP_TZ: n = timestamp_text(c, out, ((const int64_t *)data)[row], true); break;
    case DUCKDB_TYPE_INTERVAL: n = interval_text(out, ((const duckdb_interval *)data)[row]); break;
    case DUCKDB_TYPE_UUID: n = uuid_text(out, ((const duckdb_hugeint *)data)[row]); break;
    default: return -1;
    }
    return (int)n;
}

/* The bytes of a VARCHAR or BLOB value (DuckDB keeps up to 12 inline). */
static const char *string_at(const void *data, idx_t row, uint32_t *len)
{
    const duckdb_string_t *s = &((const duckdb_string_t *)data)[row];
    *len = s->value.inlined.length;
    return *len <= sizeof s->value.inlined.inlined ? s->value.inlined.inlined : s->value.pointer.ptr;
}

/* bytea's hex form, \x0aff, into out (2 + 2n bytes). */
static void hex_text(char *out, const char *p, size_t n)
{
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++)
        hex_bytes(out + 2 + 2 * i, (unsigned char)p[i], 1);
}

/* ----------------------------------------------------- general encoder */

/* The bytes of the ENUM value at row (names cached in c when it has room for them). */
static const char *enum_name(struct pgcol *c, const void *data, idx_t row, char **owned)
{
    uint64_t i = dp_vec_enum_index(c->internal, data, row);
    *owned = NULL;
    if (c->names && i < c->nnames) {
        if (!c->names[i])
            c->names[i] = duckdb_enum_dictionary_value(c->type, i);
        return c->names[i] ? c->names[i] : "";
    }
    *owned = duckdb_enum_dictionary_value(c->type, i);
    return *owned ? *owned : "";
}

enum text_mode { MODE_TOP, MODE_ELEM, MODE_JSON };

static int put_value(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, idx_t row,
                     enum text_mode mode);

/* A scalar in text, as PostgreSQL prints it. -1 when unsupported. */
static int put_scalar(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, idx_t row)
{
    struct pgcol c;
    col_init(&c, type);
    const void *data = duckdb_vector_get_data(v);
    char text[TEXT_MAX];
    int n = fixed_text(&c, data, row, text);
    if (n >= 0) {
        pgbuf_bytes(b, text, (size_t)n);
        return 0;
    }
    uint32_t len;
    const char *s;
    switch (c.id) {
    case DUCKDB_TYPE_VARCHAR:
        s = string_at(data, row, &len);
        pgbuf_bytes(b, s, len);
        return 0;
    case DUCKDB_TYPE_BLOB:
        s = string_at(data, row, &len);
        if (dp_buf_reserve(&b->buf, 2 + 2 * (size_t)len)) {
            hex_text(b->data + b->len, s, len);
            b->len += 2 + 2 * (size_t)len;
            b->data[b->len] = '\0';
        }
        return 0;
    case DUCKDB_TYPE_ENUM: {
        char *owned;
        c.type = type;
        pgbuf_str(b, enum_name(&c, data, row, &owned));
        duckdb_free(owned);
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
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_DECIMAL:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE: return true;
    default: return false;
    }
}

/* A scalar inside an array or json: formatted aside, then quoted as needed. */
static int put_nested_scalar(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, duckdb_type id,
                             idx_t row, enum text_mode mode)
{
    if (mode == MODE_JSON && id == DUCKDB_TYPE_BOOLEAN) {
        pgbuf_str(b, ((bool *)duckdb_vector_get_data(v))[row] ? "true" : "false");
        return 0;
    }
    struct pgbuf tmp;
    pgbuf_init(&tmp);
    int rc = put_scalar(&tmp, v, type, row);
    if (rc == 0 && !tmp.failed) {
        bool bare = mode == MODE_JSON
                        ? json_bare(id) && tmp.len && isdigit((unsigned char)tmp.data[tmp.len - 1])
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
static int put_list(struct pgbuf *b, duckdb_vector v, duckdb_logical_type type, duckdb_type id, idx_t row,
                    enum text_mode mode)
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
    case DUCKDB_TYPE_ARRAY: return put_list(b, v, type, id, row, mode);
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
            return put_scalar(b, v, type, row);
        if (mode == MODE_JSON && id == DUCKDB_TYPE_VARCHAR && pgtypes_is_json(type))
            return put_scalar(b, v, type, row);
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
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_UUID:
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_ENUM:
    case DUCKDB_TYPE_DECIMAL:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_UBIGINT: return true;
    default: return false;
    }
}

static unsigned char *put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
    return p + n;
}

static unsigned __int128 pow10_128(int n)
{
    unsigned __int128 p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/*
 * numeric's binary form (as PostgreSQL's numeric_send) of (neg ? -u : u)
 * / 10^scale: the digit count, the weight of the first base-10000 digit,
 * the sign, the display scale, then the digits, zero digits at either end
 * left out. At most 8 + 2 * 20 bytes.
 */
static int numeric_binary(unsigned char *out, bool neg, unsigned __int128 u, int scale)
{
    uint16_t digits[24];
    int n = 0, weight = -1;
    unsigned __int128 whole = u / pow10_128(scale), frac = u % pow10_128(scale);
    uint16_t rev[12];
    int nwhole = 0;
    for (; whole; whole /= 10000)
        rev[nwhole++] = (uint16_t)(whole % 10000);
    while (nwhole)
        digits[n++] = rev[--nwhole];
    weight = n - 1;
    for (int k = 0; 4 * k < scale; k++) { /* the fraction four digits at a time, the last padded */
        int after = scale - 4 * (k + 1);
        digits[n++] = (uint16_t)(after >= 0 ? frac / pow10_128(after) % 10000
                                            : frac % pow10_128(4 + after) * (unsigned)pow10_128(-after));
    }
    int first = 0;
    while (first < n && digits[first] == 0) {
        first++;
        weight--;
    }
    while (n > first && digits[n - 1] == 0)
        n--;
    if (n == first)
        weight = 0;
    unsigned char *p =
        put_be(put_be(put_be(put_be(out, (uint64_t)(n - first), 2), (uint64_t)(int64_t)weight, 2),
                      neg && n > first ? 0x4000 : 0, 2),
               (uint64_t)scale, 2);
    for (int i = first; i < n; i++)
        p = put_be(p, digits[i], 2);
    return (int)(p - out);
}

static int signed_numeric_binary(unsigned char *out, __int128 v, int scale)
{
    unsigned __int128 u = (unsigned __int128)v;
    return numeric_binary(out, v < 0, v < 0 ? (unsigned __int128)0 - u : u, scale);
}

/*
 * The binary form of a fixed-size value at row of data into out (48
 * bytes at most). Returns its length, or -1 for any other type.
 */
static int fixed_binary(const struct pgcol *c, const void *data, idx_t row, unsigned char *out)
{
    switch (c->id) {
    case DUCKDB_TYPE_BOOLEAN: out[0] = ((const bool *)data)[row] ? 1 : 0; return 1;
    case DUCKDB_TYPE_TINYINT: put_be(out, (uint64_t)((const int8_t *)data)[row], 2); return 2;
    case DUCKDB_TYPE_SMALLINT: put_be(out, (uint64_t)((const int16_t *)data)[row], 2); return 2;
    case DUCKDB_TYPE_UTINYINT: put_be(out, ((const uint8_t *)data)[row], 2); return 2;
    case DUCKDB_TYPE_INTEGER: put_be(out, (uint64_t)((const int32_t *)data)[row], 4); return 4;
    case DUCKDB_TYPE_USMALLINT: put_be(out, ((const uint16_t *)data)[row], 4); return 4;
    case DUCKDB_TYPE_BIGINT: put_be(out, (uint64_t)((const int64_t *)data)[row], 8); return 8;
    case DUCKDB_TYPE_UINTEGER: put_be(out, ((const uint32_t *)data)[row], 8); return 8;
    case DUCKDB_TYPE_FLOAT: {
        uint32_t u;
        memcpy(&u, &((const float *)data)[row], 4);
        put_be(out, u, 4);
        return 4;
    }
    case DUCKDB_TYPE_DOUBLE: {
        uint64_t u;
        memcpy(&u, &((const double *)data)[row], 8);
        put_be(out, u, 8);
        return 8;
    }
    case DUCKDB_TYPE_DATE: {
        int32_t d;
        if (pgtypes_date_to_pg(((const duckdb_date *)data)[row].days, &d) != 0)
            return -1; /* before PostgreSQL's first day: no binary form */
        put_be(out, (uint64_t)(int64_t)d, 4);
        return 4;
    }
    case DUCKDB_TYPE_TIME: put_be(out, (uint64_t)((const duckdb_time *)data)[row].micros, 8); return 8;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ: {
        int64_t us;
        if (pgtypes_timestamp_to_pg(timestamp_micros(c->id, ((const int64_t *)data)[row]), &us) != 0)
            return -1;
        put_be(out, (uint64_t)us, 8);
        return 8;
    }
    case DUCKDB_TYPE_INTERVAL: {
        duckdb_interval iv = ((const duckdb_interval *)data)[row];
        put_be(put_be(put_be(out, (uint64_t)iv.micros, 8), (uint64_t)(int64_t)iv.days, 4),
               (uint64_t)(int64_t)iv.months, 4);
        return 16;
    }
    case DUCKDB_TYPE_UUID: {
        duckdb_hugeint h = ((const duckdb_hugeint *)data)[row];
        put_be(put_be(out, (uint64_t)h.upper ^ (1ULL << 63), 8), h.lower, 8);
        return 16;
    }
    case DUCKDB_TYPE_DECIMAL:
        return signed_numeric_binary(out, dp_vec_decimal_raw(c->internal, data, row), c->scale);
    case DUCKDB_TYPE_HUGEINT:
        return signed_numeric_binary(out, dp_hugeint_i128(((const duckdb_hugeint *)data)[row]), 0);
    case DUCKDB_TYPE_UHUGEINT: {
        duckdb_uhugeint h = ((const duckdb_uhugeint *)data)[row];
        return numeric_binary(out, false, (unsigned __int128)h.upper << 64 | h.lower, 0);
    }
    case DUCKDB_TYPE_UBIGINT: return numeric_binary(out, false, ((const uint64_t *)data)[row], 0);
    default: return -1;
    }
}

/* ------------------------------------------------------------ DataRows */

struct pgtypes_row *pgtypes_row_new(duckdb_result *res, int nformats, const int16_t *formats)
{
    int n = (int)duckdb_column_count(res);
    struct pgtypes_row *r = calloc(1, sizeof *r + (size_t)n * sizeof r->cols[0]);
    if (!r)
        return NULL;
    r->ncols = n;
    for (int i = 0; i < n; i++) {
        struct pgcol *c = &r->cols[i];
        duckdb_logical_type type = duckdb_column_logical_type(res, (idx_t)i);
        col_init(c, type);
        c->binary = (nformats == 1 ? formats[0] : i < nformats ? formats[i] : 0) == 1;
        if (c->id ==
            DUCKDB_TYPE_ENUM) { /* room for the labels, filled as they are met (none: asked each time) */
            c->nnames = duckdb_enum_dictionary_size(type);
            c->names = calloc(c->nnames ? c->nnames : 1, sizeof *c->names);
        }
        c->type = type;
    }
    return r;
}

void pgtypes_row_free(struct pgtypes_row *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->ncols; i++) {
        struct pgcol *c = &r->cols[i];
        for (idx_t k = 0; c->names && k < c->nnames; k++)
            duckdb_free(c->names[k]);
        free(c->names);
        duckdb_destroy_logical_type(&c->type);
    }
    free(r);
}

void pgtypes_row_chunk(struct pgtypes_row *r, duckdb_data_chunk chunk)
{
    for (int i = 0; i < r->ncols; i++) {
        struct pgcol *c = &r->cols[i];
        c->vec = duckdb_data_chunk_get_vector(chunk, (idx_t)i);
        c->data = duckdb_vector_get_data(c->vec);
        c->validity = duckdb_vector_get_validity(c->vec);
    }
}

/* Room for n more bytes at the end of b (NULL once b has failed); inline while it has room already. */
static unsigned char *room(struct pgbuf *b, size_t n)
{
    if (b->cap - b->len > n && !b->failed && !b->limit) /* > n: the NUL keeps its place too */
        return (unsigned char *)b->data + b->len;
    return dp_buf_reserve(&b->buf, n) ? (unsigned char *)b->data + b->len : NULL;
}

/* A value of n bytes: its length word and the bytes, from p. */
static void put_sized(struct pgbuf *b, const void *p, size_t n)
{
    unsigned char *at = room(b, 4 + n);
    if (at) {
        put_be(at, n, 4);
        memcpy(at + 4, p, n);
        b->len += 4 + n;
    }
}

/* One value through the general encoders: its length word filled in after. */
static int put_general(struct pgbuf *b, struct pgcol *c, idx_t row)
{
    size_t at = pgbuf_len_placeholder(b);
    int rc;
    if (!c->binary)
        rc = pgtypes_text(b, c->vec, c->type, row);
    else if (c->id == DUCKDB_TYPE_ENUM) /* its label, as PostgreSQL's enum_send */
        rc = pgtypes_text(b, c->vec, c->type, row);
    else
        rc = -1;
    if (rc == 0)
        pgbuf_patch_len(b, at);
    return rc;
}

/* One value that is not NULL, with its length word. 0, or -1 when its type has no encoder. */
static int put_cell(struct pgbuf *b, struct pgcol *c, idx_t row)
{
    if (c->id == DUCKDB_TYPE_VARCHAR || (c->id == DUCKDB_TYPE_BLOB && c->binary)) {
        const duckdb_string_t *s = &((const duckdb_string_t *)c->data)[row];
        uint32_t n = s->value.inlined.length;
        unsigned char *at;
        if (n > sizeof s->value.inlined.inlined) {
            put_sized(b, s->value.pointer.ptr, n);
        } else if ((at = room(b, 4 + sizeof s->value.inlined.inlined)) != NULL) {
            put_be(at, n, 4); /* a short string: all 12 inline bytes copied, n of them kept */
            memcpy(at + 4, s->value.inlined.inlined, sizeof s->value.inlined.inlined);
            b->len += 4 + n;
        }
        return 0;
    }
    if (c->id == DUCKDB_TYPE_BLOB) {
        uint32_t n;
        const char *s = string_at(c->data, row, &n);
        unsigned char *at = room(b, 6 + 2 * (size_t)n);
        if (at) {
            put_be(at, 2 + 2 * (size_t)n, 4);
            hex_text((char *)at + 4, s, n);
            b->len += 6 + 2 * (size_t)n;
        }
        return 0;
    }
    if (c->id == DUCKDB_TYPE_ENUM) {
        char *owned;
        const char *s = enum_name(c, c->data, row, &owned);
        put_sized(b, s, strlen(s));
        duckdb_free(owned);
        return 0;
    }
    unsigned char *at = room(b, 4 + TEXT_MAX);
    if (!at)
        return 0;
    int n = c->binary ? fixed_binary(c, c->data, row, at + 4) : fixed_text(c, c->data, row, (char *)at + 4);
    if (n < 0)
        return put_general(b, c, row);
    put_be(at, (uint64_t)n, 4);
    b->len += 4 + (size_t)n;
    return 0;
}

int pgtypes_data_row(struct pgbuf *b, struct pgtypes_row *r, idx_t row, int *bad_col)
{
    unsigned char *head = room(b, 7);
    if (!head)
        return 0;          /* b has failed: the caller learns it from b */
    b->msg_start = b->len; /* what pgbuf_begin does, with the column count written alongside */
    head[0] = 'D';
    put_be(head + 5, (uint64_t)r->ncols, 2);
    b->len += 7;
    for (int i = 0; i < r->ncols; i++) {
        struct pgcol *c = &r->cols[i];
        if (c->validity && !(c->validity[row / 64] >> (row % 64) & 1)) {
            unsigned char *at = room(b, 4);
            if (at) {
                put_be(at, UINT32_MAX, 4); /* -1: NULL */
                b->len += 4;
            }
        } else if (put_cell(b, c, row) != 0) {
            pgbuf_abort(b);
            *bad_col = i;
            return -1;
        }
    }
    if (!b->failed)
        b->data[b->len] = '\0'; /* dp_buf's promise, kept once a row rather than once a value */
    pgbuf_end(b);
    return 0;
}
