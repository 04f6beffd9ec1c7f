/*
 * http_render.c -- DuckDB values as JSON and CSV text, for the HTTP API.
 *
 * A query's answer is written from DuckDB's data chunks as they are
 * fetched; this file turns one value of a vector into text. Each result
 * column's type is resolved once (http_rtype_new) into a small tree, so
 * rendering a value does no allocation and no DuckDB type calls. Numbers
 * and booleans are JSON numbers and booleans; temporal types, DECIMAL,
 * HUGEINT, UUID, INTERVAL and BLOB are strings written as DuckDB prints
 * them (TIMESTAMP WITH TIME ZONE in UTC, "+00"); LIST and ARRAY are JSON
 * arrays, STRUCT and MAP JSON objects. In CSV a nested value is its JSON
 * text. Types without a faithful text form here (UNION, BIT, BIGNUM,
 * TIME_NS) are refused before the answer starts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_common.h"
#include "http_render.h"
#include "duckvec.h"
#include "numfmt.h"

/* Room for the text of any scalar: an INTERVAL's is the longest. */
#define RENDER_TEXT_MAX 96

/* -------------------------------------------------------------- types */

static const char *scalar_name(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN: return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT: return "TINYINT";
    case DUCKDB_TYPE_SMALLINT: return "SMALLINT";
    case DUCKDB_TYPE_INTEGER: return "INTEGER";
    case DUCKDB_TYPE_BIGINT: return "BIGINT";
    case DUCKDB_TYPE_UTINYINT: return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT: return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER: return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT: return "UBIGINT";
    case DUCKDB_TYPE_FLOAT: return "FLOAT";
    case DUCKDB_TYPE_DOUBLE: return "DOUBLE";
    case DUCKDB_TYPE_TIMESTAMP: return "TIMESTAMP";
    case DUCKDB_TYPE_DATE: return "DATE";
    case DUCKDB_TYPE_TIME: return "TIME";
    case DUCKDB_TYPE_INTERVAL: return "INTERVAL";
    case DUCKDB_TYPE_HUGEINT: return "HUGEINT";
    case DUCKDB_TYPE_UHUGEINT: return "UHUGEINT";
    case DUCKDB_TYPE_VARCHAR: return "VARCHAR";
    case DUCKDB_TYPE_BLOB: return "BLOB";
    case DUCKDB_TYPE_TIMESTAMP_S: return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS: return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS: return "TIMESTAMP_NS";
    case DUCKDB_TYPE_UUID: return "UUID";
    case DUCKDB_TYPE_TIME_TZ: return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_TIMESTAMP_TZ: return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_SQLNULL: return "\"NULL\"";
    default: return NULL;
    }
}

void http_rtype_free(struct http_rtype *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nchildren; i++) {
        http_rtype_free(t->children[i]);
        if (t->names)
            duckdb_free(t->names[i]);
    }
    for (size_t i = 0; i < t->ndict; i++)
        duckdb_free(t->dict[i]);
    free(t->children);
    free(t->names);
    free(t->dict);
    free(t->name);
    free(t);
}

/* Resolves t's children (each from get(t, i), destroyed here). */
static int rtype_children(struct http_rtype *r, duckdb_logical_type *kids, size_t n, char *why, size_t whylen)
{
    r->children = calloc(n ? n : 1, sizeof *r->children);
    if (!r->children) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    r->nchildren = n;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = http_rtype_new(kids[i], &r->children[i], why, whylen);
        duckdb_destroy_logical_type(&kids[i]);
    }
    return rc;
}

/* A struct field name as DuckDB writes it: quoted unless a plain word. */
static void field_name(struct dp_buf *b, const char *s)
{
    bool plain = *s != '\0' && !(*s >= '0' && *s <= '9');
    for (const char *p = s; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (plain)
        dp_buf_str(b, s);
    else
        dp_sql_ident(b, s);
}

/* The name of a nested or parameterised type, from its resolved parts. */
static void rtype_name(struct http_rtype *r, struct dp_buf *b, duckdb_logical_type t)
{
    switch (r->id) {
    case DUCKDB_TYPE_DECIMAL: dp_buf_printf(b, "DECIMAL(%u,%u)", duckdb_decimal_width(t), r->scale); break;
    case DUCKDB_TYPE_ENUM:
        dp_buf_str(b, "ENUM(");
        for (size_t i = 0; i < r->ndict; i++) {
            dp_buf_str(b, i ? ", '" : "'");
            dp_buf_str(b, r->dict[i]);
            dp_buf_str(b, "'");
        }
        dp_buf_str(b, ")");
        break;
    case DUCKDB_TYPE_LIST: dp_buf_printf(b, "%s[]", r->children[0]->name); break;
    case DUCKDB_TYPE_ARRAY:
        dp_buf_printf(b, "%s[%llu]", r->children[0]->name, (unsigned long long)r->array_size);
        break;
    case DUCKDB_TYPE_MAP: dp_buf_printf(b, "MAP(%s, %s)", r->children[0]->name, r->children[1]->name); break;
    case DUCKDB_TYPE_STRUCT:
        dp_buf_str(b, "STRUCT(");
        for (size_t i = 0; i < r->nchildren; i++) {
            if (i)
                dp_buf_str(b, ", ");
            field_name(b, r->names[i]);
            dp_buf_printf(b, " %s", r->children[i]->name);
        }
        dp_buf_str(b, ")");
        break;
    default: dp_buf_str(b, scalar_name(r->id)); break;
    }
}

/* The parts of a nested or parameterised type; non-zero if unsupported. */
static int rtype_parts(struct http_rtype *r, duckdb_logical_type t, char *why, size_t whylen)
{
    duckdb_logical_type kids[2];
    switch (r->id) {
    case DUCKDB_TYPE_DECIMAL:
        r->scale = duckdb_decimal_scale(t);
        r->internal = duckdb_decimal_internal_type(t);
        return 0;
    case DUCKDB_TYPE_ENUM:
        r->internal = duckdb_enum_internal_type(t);
        r->ndict = duckdb_enum_dictionary_size(t);
        r->dict = calloc(r->ndict ? r->ndict : 1, sizeof *r->dict);
        if (!r->dict) {
            r->ndict = 0;
            return snprintf(why, whylen, "out of memory"), -1;
        }
        for (size_t i = 0; i < r->ndict; i++)
            r->dict[i] = duckdb_enum_dictionary_value(t, i);
        return 0;
    case DUCKDB_TYPE_LIST:
        kids[0] = duckdb_list_type_child_type(t);
        return rtype_children(r, kids, 1, why, whylen);
    case DUCKDB_TYPE_ARRAY:
        r->array_size = duckdb_array_type_array_size(t);
        kids[0] = duckdb_array_type_child_type(t);
        return rtype_children(r, kids, 1, why, whylen);
    case DUCKDB_TYPE_MAP:
        kids[0] = duckdb_map_type_key_type(t);
        kids[1] = duckdb_map_type_value_type(t);
        return rtype_children(r, kids, 2, why, whylen);
    case DUCKDB_TYPE_STRUCT: {
        size_t n = duckdb_struct_type_child_count(t);
        duckdb_logical_type *fields = calloc(n ? n : 1, sizeof *fields);
        r->names = calloc(n ? n : 1, sizeof *r->names);
        if (!fields || !r->names) {
            free(fields);
            return snprintf(why, whylen, "out of memory"), -1;
        }
        for (size_t i = 0; i < n; i++) {
            fields[i] = duckdb_struct_type_child_type(t, i);
            r->names[i] = duckdb_struct_type_child_name(t, i);
        }
        int rc = rtype_children(r, fields, n, why, whylen);
        free(fields);
        return rc;
    }
    default:
        if (scalar_name(r->id))
            return 0;
        snprintf(why, whylen,
                 "a result column has type id %d, which cannot be sent over HTTP;"
                 " cast it to VARCHAR",
                 (int)r->id);
        return -1;
    }
}

int http_rtype_new(duckdb_logical_type t, struct http_rtype **out, char *why, size_t whylen)
{
    *out = NULL;
    struct http_rtype *r = calloc(1, sizeof *r);
    if (!r)
        return snprintf(why, whylen, "out of memory"), -1;
    r->id = duckdb_get_type_id(t);
    if (rtype_parts(r, t, why, whylen) != 0) {
        http_rtype_free(r);
        return -1;
    }
    struct dp_buf name = DP_BUF_INIT;
    rtype_name(r, &name, t);
    r->name = dp_buf_take(&name, NULL);
    if (!r->name) {
        http_rtype_free(r);
        return snprintf(why, whylen, "out of memory"), -1;
    }
    *out = r;
    return 0;
}

/* ------------------------------------------------------------ scalars */

/* The shortest %g text that reads back as the same double (FLOAT: its value as a double). */
static void double_text(double d, int min_prec, int max_prec, char *out, size_t n)
{
    for (int p = min_prec; p <= max_prec; p++) {
        snprintf(out, n, "%.*g", p, d);
        if (p == max_prec || strtod(out, NULL) == d)
            return;
    }
}

/* A DOUBLE as %.15g, %.16g or %.17g would write it, whichever is the first to read back as d. */
static size_t shortest_text(double d, char *out)
{
    struct numfmt_dec dec;
    numfmt_shortest(d, false, &dec);
    return numfmt_dec_text(out, &dec, dec.ndigits > 15 ? dec.ndigits : 15);
}

/* A date as DuckDB prints it: YYYY-MM-DD, then " (BC)" for a year before 1. */
static size_t date_text(int32_t days, char *out)
{
    if (days == INT32_MAX || days == -INT32_MAX)
        return (size_t)sprintf(out, "%sinfinity", days < 0 ? "-" : "");
    bool bc;
    size_t k = numfmt_date(out, days, &bc);
    if (bc)
        k += (size_t)sprintf(out + k, " (BC)");
    return k;
}

/* A timestamp in microseconds (plus extra nanoseconds) as DuckDB prints it; out has room for 64 bytes. */
static void timestamp_text(int64_t us, int nanos, bool tz, char *out)
{
    if (us == INT64_MAX || us == -INT64_MAX) {
        sprintf(out, "%sinfinity", us < 0 ? "-" : "");
        return;
    }
    int32_t days;
    int64_t rem;
    numfmt_split_micros(us, &days, &rem);
    bool bc;
    char *p = out + numfmt_date(out, days, &bc);
    *p++ = ' ';
    p += numfmt_clock(p, (uint64_t)rem / 1000000, (uint32_t)(rem % 1000000 * 1000 + nanos), 9);
    /* "(BC)" follows the whole timestamp */
    sprintf(p, "%s%s", tz ? "+00" : "", bc ? " (BC)" : "");
}

static void interval_text(duckdb_interval iv, char *out, size_t n)
{
    size_t k = 0;
    int32_t years = iv.months / 12, months = iv.months % 12;
    out[0] = '\0';
#define IV_PART(v, word)                                                                 \
    if ((v) != 0 && k < n)                                                               \
        k += (size_t)snprintf(out + k, n - k, "%s%d " word "%s", k ? " " : "", (int)(v), \
                              (v) == 1 || (v) == -1 ? "" : "s");
    IV_PART(years, "year")
    IV_PART(months, "month")
    IV_PART(iv.days, "day")
#undef IV_PART
    if ((iv.micros != 0 || k == 0) && k < n) {
        int64_t m = iv.micros < 0 ? -iv.micros : iv.micros;
        char clock[40];
        clock[numfmt_clock(clock, (uint64_t)m / 1000000, (uint32_t)(m % 1000000), 6)] = '\0';
        snprintf(out + k, n - k, "%s%s%s", k ? " " : "", iv.micros < 0 ? "-" : "", clock);
    }
}

static void uuid_text(duckdb_hugeint h, char *out, size_t n)
{
    uint64_t hi = (uint64_t)h.upper ^ (1ULL << 63), lo = h.lower;
    snprintf(out, n, "%08llx-%04llx-%04llx-%04llx-%012llx", (unsigned long long)(hi >> 32),
             (unsigned long long)(hi >> 16 & 0xffff), (unsigned long long)(hi & 0xffff),
             (unsigned long long)(lo >> 48), (unsigned long long)(lo & 0xffffffffffffULL));
}

static bool temporal_text(const struct http_rtype *t, const void *data, idx_t row, char *out, bool *number);

/* A TIMESTAMP_NS as microseconds and the nanoseconds past them. */
static int64_t ns_split(int64_t v, int *nanos)
{
    int64_t us = v / 1000, ns = v % 1000;
    if (ns < 0) {
        ns += 1000;
        us--;
    }
    *nanos = (int)ns;
    return v == INT64_MAX || v == -INT64_MAX ? v : us;
}

/*
 * A non-string scalar as text in out (RENDER_TEXT_MAX bytes, NUL-ended);
 * *number says whether it is a JSON number or boolean as it stands.
 * Returns false for types written elsewhere (VARCHAR, BLOB, ENUM, nested).
 */
static bool scalar_text(const struct http_rtype *t, const void *data, idx_t row, char *out, bool *number)
{
    size_t n;
    *number = true;
    switch (t->id) {
    case DUCKDB_TYPE_BOOLEAN:
        n = (size_t)sprintf(out, "%s", ((const bool *)data)[row] ? "true" : "false");
        break;
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT: n = dp_vec_int_text(t->id, data, row, out); break;
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE: {
        double d = t->id == DUCKDB_TYPE_FLOAT ? ((const float *)data)[row] : ((const double *)data)[row];
        if (isnan(d) || isinf(d)) {
            *number = false;
            n = (size_t)sprintf(out, "%s", isnan(d) ? "nan" : d < 0 ? "-inf" : "inf");
        } else if (t->id == DUCKDB_TYPE_FLOAT) {
            double_text(d, 6, 9, out, RENDER_TEXT_MAX);
            return true;
        } else {
            n = shortest_text(d, out);
        }
        break;
    }
    default: return temporal_text(t, data, row, out, number);
    }
    out[n] = '\0';
    return true;
}

/* scalar_text's strings: temporal types, HUGEINT, DECIMAL and UUID (*number false). */
static bool temporal_text(const struct http_rtype *t, const void *data, idx_t row, char *out, bool *number)
{
    size_t n;
    *number = false;
    switch (t->id) {
    case DUCKDB_TYPE_DATE: n = date_text(((const int32_t *)data)[row], out); break;
    case DUCKDB_TYPE_TIME: {
        int64_t us = ((const int64_t *)data)[row];
        n = numfmt_clock(out, (uint64_t)us / 1000000, (uint32_t)(us % 1000000), 6);
        break;
    }
    case DUCKDB_TYPE_TIME_TZ: {
        duckdb_time_tz_struct tz = duckdb_from_time_tz(((const duckdb_time_tz *)data)[row]);
        n = numfmt_clock(out,
                         (uint64_t)tz.time.hour * 3600 + (uint64_t)tz.time.min * 60 + (uint64_t)tz.time.sec,
                         (uint32_t)tz.time.micros, 6);
        int off = tz.offset < 0 ? -tz.offset : tz.offset;
        if (off % 3600)
            n +=
                (size_t)sprintf(out + n, "%c%02d:%02d", tz.offset < 0 ? '-' : '+', off / 3600, off / 60 % 60);
        else
            n += (size_t)sprintf(out + n, "%c%02d", tz.offset < 0 ? '-' : '+', off / 3600);
        break;
    }
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        timestamp_text(((const int64_t *)data)[row], 0, t->id == DUCKDB_TYPE_TIMESTAMP_TZ, out);
        return true;
    case DUCKDB_TYPE_TIMESTAMP_S: {
        int64_t v = ((const int64_t *)data)[row];
        timestamp_text(v == INT64_MAX || v == -INT64_MAX ? v : v * 1000000, 0, false, out);
        return true;
    }
    case DUCKDB_TYPE_TIMESTAMP_MS: {
        int64_t v = ((const int64_t *)data)[row];
        timestamp_text(v == INT64_MAX || v == -INT64_MAX ? v : v * 1000, 0, false, out);
        return true;
    }
    case DUCKDB_TYPE_TIMESTAMP_NS: {
        int nanos;
        int64_t us = ns_split(((const int64_t *)data)[row], &nanos);
        timestamp_text(us, nanos, false, out);
        return true;
    }
    case DUCKDB_TYPE_INTERVAL:
        interval_text(((const duckdb_interval *)data)[row], out, RENDER_TEXT_MAX);
        return true;
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT: {
        duckdb_hugeint h = ((const duckdb_hugeint *)data)[row];
        unsigned __int128 u = (unsigned __int128)(uint64_t)h.upper << 64 | h.lower;
        n = t->id == DUCKDB_TYPE_HUGEINT ? numfmt_i128(out, (__int128)u) : numfmt_u128(out, u);
        break;
    }
    case DUCKDB_TYPE_DECIMAL:
        n = numfmt_decimal(out, dp_vec_decimal_raw(t->internal, data, row), t->scale);
        break;
    case DUCKDB_TYPE_UUID: uuid_text(((const duckdb_hugeint *)data)[row], out, RENDER_TEXT_MAX); return true;
    default: return false;
    }
    out[n] = '\0';
    return true;
}

/* A BLOB as DuckDB prints it: printable ASCII as is, other bytes as \xHH. */
static void blob_text(struct dp_buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            dp_buf_add(b, (const char *)&c, 1);
        } else {
            char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            dp_buf_add(b, esc, 4);
        }
    }
}

/* ------------------------------------------------------------- values */

/* The text of a string-like value (VARCHAR, BLOB, ENUM) into *s, *len;
 * BLOB text goes through scratch. */
static void string_value(const struct http_rtype *t, duckdb_vector v, idx_t row, struct dp_buf *scratch,
                         const char **s, size_t *len)
{
    void *data = duckdb_vector_get_data(v);
    if (t->id == DUCKDB_TYPE_ENUM) {
        uint64_t i = dp_vec_enum_index(t->internal, data, row);
        *s = i < t->ndict ? t->dict[i] : "";
        *len = strlen(*s);
        return;
    }
    duckdb_string_t *str = &((duckdb_string_t *)data)[row];
    const char *p = duckdb_string_t_data(str);
    size_t n = duckdb_string_t_length(*str);
    if (t->id == DUCKDB_TYPE_BLOB) {
        dp_buf_truncate(scratch, 0);
        blob_text(scratch, p, n);
        *s = scratch->data ? scratch->data : "";
        *len = scratch->len;
        return;
    }
    *s = p;
    *len = n;
}

static void json_children(struct dp_buf *b, const struct http_rtype *t, duckdb_vector v, idx_t row);
static void value_text(struct dp_buf *b, const struct http_rtype *t, duckdb_vector v, idx_t row);

void http_render_json(struct dp_buf *b, const struct http_rtype *t, duckdb_vector v, idx_t row)
{
    if (!dp_vec_valid(v, row) || t->id == DUCKDB_TYPE_SQLNULL) {
        dp_buf_add(b, "null", 4);
        return;
    }
    char text[RENDER_TEXT_MAX];
    bool number;
    if (scalar_text(t, duckdb_vector_get_data(v), row, text, &number)) {
        if (number)
            dp_buf_str(b, text);
        else
            http_json_string(b, text, strlen(text));
        return;
    }
    if (t->id == DUCKDB_TYPE_VARCHAR || t->id == DUCKDB_TYPE_BLOB || t->id == DUCKDB_TYPE_ENUM) {
        struct dp_buf scratch = DP_BUF_INIT;
        const char *s;
        size_t n;
        string_value(t, v, row, &scratch, &s, &n);
        http_json_string(b, s, n);
        dp_buf_free(&scratch);
        return;
    }
    json_children(b, t, v, row);
}

/* LIST, ARRAY, MAP and STRUCT values, recursively. */
static void json_children(struct dp_buf *b, const struct http_rtype *t, duckdb_vector v, idx_t row)
{
    idx_t first = 0, count = 0;
    duckdb_vector child = NULL;
    if (t->id == DUCKDB_TYPE_STRUCT) {
        dp_buf_add(b, "{", 1);
        for (size_t i = 0; i < t->nchildren; i++) {
            if (i)
                dp_buf_add(b, ",", 1);
            http_json_string(b, t->names[i], strlen(t->names[i]));
            dp_buf_add(b, ":", 1);
            http_render_json(b, t->children[i], duckdb_struct_vector_get_child(v, i), row);
        }
        dp_buf_add(b, "}", 1);
        return;
    }
    if (t->id == DUCKDB_TYPE_ARRAY) {
        first = row * t->array_size;
        count = t->array_size;
        child = duckdb_array_vector_get_child(v);
    } else {
        duckdb_list_entry e = ((duckdb_list_entry *)duckdb_vector_get_data(v))[row];
        first = e.offset;
        count = e.length;
        child = duckdb_list_vector_get_child(v);
    }
    if (t->id == DUCKDB_TYPE_MAP) {
        duckdb_vector keys = duckdb_struct_vector_get_child(child, 0);
        duckdb_vector values = duckdb_struct_vector_get_child(child, 1);
        struct dp_buf key = DP_BUF_INIT;
        dp_buf_add(b, "{", 1);
        for (idx_t i = 0; i < count; i++) {
            dp_buf_truncate(&key, 0);
            if (dp_vec_valid(keys, first + i))
                value_text(&key, t->children[0], keys, first + i);
            dp_buf_add(b, i ? "," : "", i ? 1 : 0);
            http_json_string(b, key.data ? key.data : "", key.len);
            dp_buf_add(b, ":", 1);
            http_render_json(b, t->children[1], values, first + i);
        }
        dp_buf_add(b, "}", 1);
        dp_buf_free(&key);
        return;
    }
    dp_buf_add(b, "[", 1);
    for (idx_t i = 0; i < count; i++) {
        if (i)
            dp_buf_add(b, ",", 1);
        http_render_json(b, t->children[0], child, first + i);
    }
    dp_buf_add(b, "]", 1);
}

/* A value that is not NULL as plain text (nested values as JSON). */
static void value_text(struct dp_buf *b, const struct http_rtype *t, duckdb_vector v, idx_t row)
{
    char text[RENDER_TEXT_MAX];
    bool number;
    if (scalar_text(t, duckdb_vector_get_data(v), row, text, &number)) {
        dp_buf_str(b, text);
    } else if (t->id == DUCKDB_TYPE_VARCHAR || t->id == DUCKDB_TYPE_ENUM) {
        struct dp_buf none = DP_BUF_INIT;
        const char *s;
        size_t n;
        string_value(t, v, row, &none, &s, &n);
        dp_buf_add(b, s, n);
    } else if (t->id == DUCKDB_TYPE_BLOB) {
        duckdb_string_t *str = &((duckdb_string_t *)duckdb_vector_get_data(v))[row];
        blob_text(b, duckdb_string_t_data(str), duckdb_string_t_length(*str));
    } else {
        json_children(b, t, v, row);
    }
}

void http_render_csv(struct dp_buf *b, const struct http_rtype *t, duckdb_vector v, idx_t row)
{
    if (!dp_vec_valid(v, row) || t->id == DUCKDB_TYPE_SQLNULL)
        return;
    struct dp_buf text = DP_BUF_INIT;
    value_text(&text, t, v, row);
    http_csv_field(b, text.data ? text.data : "", text.len);
    if (text.failed)
        b->failed = true;
    dp_buf_free(&text);
}
