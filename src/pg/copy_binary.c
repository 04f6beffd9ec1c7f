/*
 * copy_binary.c -- COPY FROM STDIN in PostgreSQL's binary format, through
 * a DuckDB Appender on the session's connection (copy_int.h).
 *
 * The stream is a signature and header, then one tuple per row (a field
 * count, then each field as a length, -1 for NULL, and that many bytes in
 * the binary send format of the column's PostgreSQL type), then -1. The
 * values are typed already, so no text is made or parsed: each is decoded
 * as the type the server reports for its column (so, as the client sent
 * it) and appended as that DuckDB type; numeric and uuid go as their
 * text, which the Appender casts. CopyData does not line up with tuples: a tuple cut by
 * a chunk's end waits in a buffer for the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "copy_int.h"
#include "duckvec.h"
#include "pgconn.h"
#include "pgtypes.h"
#include "utf8.h"

#define TUPLE_MAX (64u << 20) /* the largest tuple accepted */

static const char signature[11] = "PGCOPY\n\377\r\n";

struct binary {
    struct copy_ctx *ctx;
    const struct copy_target *t;
    duckdb_appender app;
    struct dp_buf in; /* bytes received and not yet taken */
    size_t pos;
    bool header_read, trailer_read;
    uint64_t tuples; /* read so far: PostgreSQL's line number of the next is tuples + 1 */
    int col;         /* the column being appended, for messages */
    char text[160];  /* numeric and uuid values as text */
};

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t x = 0;
    for (int i = 0; i < n; i++)
        x = x << 8 | p[i];
    return x;
}

/* Whether PostgreSQL's binary form of a column's type can be decoded here. */
static bool supported(duckdb_type id)
{
    if (dp_type_is_integer(id))
        return true;
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_DECIMAL:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIME_TZ:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID:
    case DUCKDB_TYPE_ENUM: return true;
    default: return false;
    }
}

/* --------------------------------------------------------------- values */

/* A group of 4 decimal digits, zero-padded unless lead; returns the length written. */
static int put_group(char *out, int digit, bool lead)
{
    return lead ? sprintf(out, "%d", digit) : sprintf(out, "%04d", digit);
}

/*
 * PostgreSQL's binary numeric (ndigits, weight, sign, dscale, then base
 * 10000 digits) as decimal text into out (of outlen). 0, or -1 when it is
 * malformed or too long.
 */
static int numeric_text(const unsigned char *d, int32_t len, char *out, size_t outlen)
{
    if (len < 8)
        return -1;
    int ndigits = (int16_t)be(d, 2), weight = (int16_t)be(d + 2, 2), sign = (int)be(d + 4, 2);
    int dscale = (int16_t)be(d + 6, 2);
    if (ndigits < 0 || dscale < 0 || len != 8 + 2 * ndigits)
        return -1;
    const char *special = sign == 0xC000   ? "NaN"
                          : sign == 0xD000 ? "Infinity"
                          : sign == 0xF000 ? "-Infinity"
                                           : NULL;
    if (special)
        return snprintf(out, outlen, "%s", special) < (int)outlen ? 0 : -1;
    if ((weight >= 0 ? (size_t)weight * 4 + 6 : 2) + (size_t)dscale + 8 > outlen)
        return -1;
    int o = 0;
    if (sign == 0x4000)
        out[o++] = '-';
    if (weight < 0)
        out[o++] = '0';
    for (int i = 0; i <= weight; i++)
        o += put_group(out + o, i < ndigits ? (int)be(d + 8 + 2 * i, 2) : 0, i == 0);
    if (dscale > 0) {
        out[o++] = '.';
        int end = o + dscale;
        for (int i = weight + 1; o < end; i++)
            o += put_group(out + o, i >= 0 && i < ndigits ? (int)be(d + 8 + 2 * i, 2) : 0, false);
        o = end;
    }
    out[o] = 0;
    return 0;
}

/* A signed integer of 2, 4 or 8 bytes. */
static bool read_int(const unsigned char *d, int32_t len, int64_t *v)
{
    if (len == 2)
        *v = (int16_t)be(d, 2);
    else if (len == 4)
        *v = (int32_t)be(d, 4);
    else if (len == 8)
        *v = (int64_t)be(d, 8);
    return len == 2 || len == 4 || len == 8;
}

/* A float4 or float8, as a double. */
static bool read_float(const unsigned char *d, int32_t len, double *v)
{
    if (len == 4) {
        uint32_t u = (uint32_t)be(d, 4);
        float f;
        memcpy(&f, &u, 4);
        *v = f;
    } else if (len == 8) {
        uint64_t u = be(d, 8);
        memcpy(v, &u, 8);
    }
    return len == 4 || len == 8;
}

/* Appends a value made with duckdb_create_*, and frees it. */
static duckdb_state append_made(duckdb_appender app, duckdb_value v)
{
    duckdb_state st = v ? duckdb_append_value(app, v) : DuckDBError;
    duckdb_destroy_value(&v);
    return st;
}

/* The length of a type's binary form where it has one length only (0: any, or several). */
static int32_t fixed_len(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN: return 1;
    case DUCKDB_TYPE_DATE: return 4;
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ: return 8;
    case DUCKDB_TYPE_TIME_TZ: return 12; /* µs, then the zone in seconds west of UTC */
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID: return 16;
    default: return 0;
    }
}

/*
 * Appends one field (len bytes of d) to column c. 0; 1 when the bytes are
 * not that type's binary form; -1 when DuckDB refused the value.
 */
static int append_field(struct binary *b, const struct copy_column *c, const unsigned char *d, int32_t len)
{
    duckdb_appender a = b->app;
    int64_t i;
    int32_t i32;
    double f;
    duckdb_state st;
    int32_t want = fixed_len(c->id);
    if (want && len != want)
        return 1;
    switch (c->id) {
    case DUCKDB_TYPE_BOOLEAN: st = duckdb_append_bool(a, d[0] != 0); break;
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
        if (!read_float(d, len, &f))
            return 1;
        st = duckdb_append_double(a, f);
        break;
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_ENUM:
        if (!dp_utf8_valid(d, (size_t)len) || memchr(d, 0, (size_t)len))
            return 1;
        st = duckdb_append_varchar_length(a, (const char *)d, (idx_t)len);
        break;
    case DUCKDB_TYPE_BLOB: st = duckdb_append_blob(a, d, (idx_t)len); break;
    case DUCKDB_TYPE_DATE:
        if (pgtypes_date_from_pg((int32_t)be(d, 4), &i32) != 0)
            return 1;
        st = duckdb_append_date(a, (duckdb_date){i32});
        break;
    case DUCKDB_TYPE_TIME: st = duckdb_append_time(a, (duckdb_time){(int64_t)be(d, 8)}); break;
    case DUCKDB_TYPE_TIME_TZ:
        st = append_made(
            a, duckdb_create_time_tz_value(duckdb_create_time_tz((int64_t)be(d, 8), -(int32_t)be(d + 8, 4))));
        break;
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
        if (pgtypes_timestamp_from_pg((int64_t)be(d, 8), &i) != 0)
            return 1;
        st = c->id == DUCKDB_TYPE_TIMESTAMP_TZ
                 ? append_made(a, duckdb_create_timestamp_tz((duckdb_timestamp){i}))
                 : duckdb_append_timestamp(a, (duckdb_timestamp){i});
        break;
    case DUCKDB_TYPE_INTERVAL:
        st = duckdb_append_interval(a, (duckdb_interval){.micros = (int64_t)be(d, 8),
                                                         .days = (int32_t)be(d + 8, 4),
                                                         .months = (int32_t)be(d + 12, 4)});
        break;
    case DUCKDB_TYPE_UUID:
        pgtypes_uuid_text(d, b->text);
        st = duckdb_append_varchar(a, b->text);
        break;
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_DECIMAL:
        if (numeric_text(d, len, b->text, sizeof b->text) != 0)
            return 1;
        st = duckdb_append_varchar(a, b->text);
        break;
    default: /* the integers */
        if (!read_int(d, len, &i))
            return 1;
        st = duckdb_append_int64(a, i);
        break;
    }
    return st == DuckDBSuccess ? 0 : -1;
}

/* --------------------------------------------------------------- tuples */

/* Queues an error about the tuple being read (22P04 unless said otherwise); returns -1. */
static int tuple_error(struct binary *b, const char *sqlstate, const char *tail, const char *msg)
{
    copy_error_at(b->ctx, b->t, sqlstate, b->tuples + 1, tail, "%s", msg);
    return -1;
}

/* Appends the fields of a whole tuple (its count checked) at p. 0, or -1 with an error queued. */
static int append_tuple(struct binary *b, const unsigned char *p)
{
    size_t o = 2;
    for (int col = 0; col < b->t->ncols; col++) {
        const struct copy_column *c = &b->t->cols[col];
        int32_t len = (int32_t)be(p + o, 4);
        o += 4;
        int rc = len < 0 ? (duckdb_append_null(b->app) == DuckDBSuccess ? 0 : -1)
                         : append_field(b, c, p + o, len);
        if (len > 0)
            o += (size_t)len;
        if (rc == 0)
            continue;
        char tail[200];
        snprintf(tail, sizeof tail, ", column %s", c->name);
        if (rc > 0)
            return tuple_error(b, "22P03", tail, "incorrect binary data format");
        const char *why = duckdb_appender_error(b->app);
        return tuple_error(b, "22P02", tail, why ? why : "value refused");
    }
    if (duckdb_appender_end_row(b->app) != DuckDBSuccess) {
        const char *why = duckdb_appender_error(b->app);
        return tuple_error(b, "22P02", NULL, why ? why : "row refused");
    }
    return 0;
}

/*
 * Takes one tuple (or the trailer) from p[0..n): its size in *used, 0 when
 * more bytes are needed, or -1 with an error queued.
 */
static int take_tuple(struct binary *b, const unsigned char *p, size_t n, size_t *used)
{
    *used = 0;
    if (n < 2)
        return 0;
    int count = (int16_t)be(p, 2);
    if (count == -1) {
        b->trailer_read = true;
        *used = 2;
        return 0;
    }
    if (count != b->t->ncols) {
        char msg[96];
        snprintf(msg, sizeof msg, "row field count is %d, expected %d", count, b->t->ncols);
        return tuple_error(b, "22P04", NULL, msg);
    }
    size_t o = 2;
    for (int col = 0; col < count; col++) {
        if (o + 4 > n)
            return 0;
        int32_t len = (int32_t)be(p + o, 4);
        if (len < -1)
            return tuple_error(b, "22P04", NULL, "invalid field size");
        o += 4 + (len > 0 ? (size_t)len : 0);
        if (o > TUPLE_MAX)
            return tuple_error(b, "54000", NULL, "COPY row is too long");
        if (o > n)
            return 0;
    }
    if (append_tuple(b, p) != 0)
        return -1;
    b->tuples++;
    *used = o;
    return 0;
}

/* The signature, flags and header extension. 0 (b->header_read once whole), or -1 with an error queued. */
static int take_header(struct binary *b, const unsigned char *p, size_t n, size_t *used)
{
    *used = 0;
    if (n < 19)
        return 0;
    if (memcmp(p, signature, sizeof signature) != 0)
        return tuple_error(b, "22P04", NULL, "COPY file signature not recognized");
    uint32_t flags = (uint32_t)be(p + 11, 4), ext = (uint32_t)be(p + 15, 4);
    if (flags & (1u << 16))
        return tuple_error(b, "0A000", NULL, "COPY WITH OIDS is not supported");
    if (flags & 0xFFFF0000u)
        return tuple_error(b, "22P04", NULL, "unrecognized critical flags in COPY file header");
    if (ext > TUPLE_MAX)
        return tuple_error(b, "22P04", NULL, "invalid COPY file header (wrong length)");
    if (n < 19 + (size_t)ext)
        return 0;
    b->header_read = true;
    *used = 19 + ext;
    return 0;
}

/* Takes what whole tuples the buffer holds. 0, or -1 with an error queued. */
static int take_all(struct binary *b)
{
    for (;;) {
        const unsigned char *p = (const unsigned char *)b->in.data + b->pos;
        size_t n = b->in.len - b->pos, used;
        if (!n)
            return 0;
        if (b->trailer_read)
            return tuple_error(b, "22P04", NULL, "received copy data after EOF marker");
        int rc = b->header_read ? take_tuple(b, p, n, &used) : take_header(b, p, n, &used);
        if (rc != 0)
            return -1;
        if (!used)
            return 0;
        b->pos += used;
    }
}

/* One CopyData chunk: added after what is left of the last one, then taken. 0, or -1 with an error queued. */
static int feed(struct binary *b, const char *p, size_t n)
{
    if (b->pos) { /* only a tuple's beginning is left: move it to the front */
        memmove(b->in.data, b->in.data + b->pos, b->in.len - b->pos);
        dp_buf_truncate(&b->in, b->in.len - b->pos);
        b->pos = 0;
    }
    dp_buf_add(&b->in, p, n);
    if (b->in.failed) {
        pgconn_error(b->ctx->pc, "53200", "out of memory");
        return -1;
    }
    return take_all(b);
}

/* The Appender on the target (with the column list, if any). 0, or -1 with an error queued. */
static int open_appender(struct binary *b)
{
    const struct copy_spec *c = b->t->spec;
    for (int i = 0; i < b->t->ncols; i++)
        if (!supported(b->t->cols[i].id)) {
            pgconn_error(b->ctx->pc, "0A000", "COPY BINARY into column \"%s\" of this type is not supported",
                         b->t->cols[i].name);
            return -1;
        }
    if (duckdb_appender_create(b->ctx->dcon, c->schema, c->table, &b->app) != DuckDBSuccess) {
        copy_duckdb_error(b->ctx, DUCKDB_ERROR_CATALOG, duckdb_appender_error(b->app));
        return -1;
    }
    for (int i = 0; i < c->columns.n; i++)
        if (duckdb_appender_add_column(b->app, b->t->cols[i].name) != DuckDBSuccess) {
            copy_duckdb_error(b->ctx, DUCKDB_ERROR_BINDER, duckdb_appender_error(b->app));
            return -1;
        }
    return 0;
}

int copy_binary_in(struct copy_ctx *ctx, const struct copy_target *t, uint64_t *rows)
{
    struct binary b = {.ctx = ctx, .t = t};
    int rc = open_appender(&b) == 0 && copy_in_response(ctx, t, 1) == 0 ? 1 : -1;
    while (rc == 1) {
        const char *p;
        size_t n;
        enum copy_next next = copy_next_data(ctx, &p, &n);
        if (next == COPY_DATA)
            rc = feed(&b, p, n) == 0 ? 1 : -1;
        else if (next != COPY_DONE)
            rc = -1;
        else if (!b.header_read) /* PostgreSQL wants the header even of no rows */
            rc = tuple_error(&b, "22P04", NULL, "COPY file signature not recognized");
        else if (b.in.len > b.pos) /* a tuple cut short; a missing trailer is forgiven, as PostgreSQL does */
            rc = tuple_error(&b, "22P04", NULL, "unexpected EOF in COPY data");
        else
            rc = 0;
    }
    if (rc == 0 && duckdb_appender_close(b.app) != DuckDBSuccess) {
        copy_duckdb_error(ctx, DUCKDB_ERROR_CONSTRAINT, duckdb_appender_error(b.app));
        rc = -1;
    }
    duckdb_appender_destroy(&b.app);
    dp_buf_free(&b.in);
    *rows = b.tuples;
    return rc;
}
