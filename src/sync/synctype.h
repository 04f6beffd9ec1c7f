/*
 * synctype.h -- PostgreSQL column types as DuckDB types, and PostgreSQL's
 * text output of a value as text DuckDB casts into that type.
 *
 * The map (what the README's "Mirroring PostgreSQL tables" lists):
 * int2/4/8, float4/8, bool, text/varchar/char/name, date, time,
 * timestamp, timestamptz, interval, uuid, json/jsonb (JSON), bytea (BLOB),
 * enums (VARCHAR), numeric with a precision up to 38 (DECIMAL(p,s)) and
 * numeric without one or wider (DOUBLE), and one-dimensional arrays of
 * these as LIST. Anything else is refused with the type named.
 *
 * The values come from PostgreSQL with DateStyle ISO, IntervalStyle
 * postgres, TimeZone UTC and extra_float_digits 3 (the sync connection
 * sets them), which is what the conversions expect.
 */
#ifndef DUCKPOND_SYNCTYPE_H
#define DUCKPOND_SYNCTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* How a value's text becomes DuckDB's. */
enum synctype_conv {
    SYNCTYPE_PLAIN,    /* the same text */
    SYNCTYPE_BYTEA,    /* "\x0a0b" hex becomes DuckDB's "\x0A\x0B" escapes */
    SYNCTYPE_INTERVAL, /* "1 year 2 mons -3 days +04:05:06" becomes months, days, microseconds */
    SYNCTYPE_BC,       /* dates and timestamps: a trailing " BC" becomes " (BC)" */
};

/* Types whose text is parsed here and appended as a C value: no cast in the Appender (much faster). */
enum synctype_native {
    SYNCTYPE_CAST = 0, /* the text goes to DuckDB's cast */
    SYNCTYPE_INT,      /* int2, int4, int8, oid: strtoll */
    SYNCTYPE_FLOAT,    /* float4, float8: strtod (NaN, Infinity too) */
    SYNCTYPE_BOOL,     /* "t" / "f" */
    SYNCTYPE_TEXT,     /* as it is */
};

struct synctype {
    char duck[48];               /* the DuckDB type, e.g. "DECIMAL(12,2)", "INTEGER[]" */
    enum synctype_native native; /* of a scalar (not an array) */
    enum synctype_conv conv;     /* of the value, or of each element of an array */
    bool array;                  /* PostgreSQL array text "{...}" becomes a DuckDB list "[...]" */
    bool decimal;                /* DECIMAL: NaN and infinities do not fit */
};

/* What the PostgreSQL catalog says of a type the map does not know by OID. */
enum synctype_user {
    SYNCTYPE_USER_NONE = 0,
    SYNCTYPE_USER_ENUM,       /* an enum */
    SYNCTYPE_USER_ENUM_ARRAY, /* an array of an enum */
};

/*
 * The DuckDB type for a PostgreSQL column of type oid with typmod
 * (atttypmod, -1 for none); user says what the catalog knows of a
 * non-built-in type. 0, or -1 with the reason in why.
 */
int synctype_map(uint32_t oid, int32_t typmod, enum synctype_user user, struct synctype *out, char *why,
                 size_t n);

/*
 * Converts one value's text (len bytes, not NUL-terminated) into out
 * (cleared first) as DuckDB casts it into t's type. Returns 1 when the
 * text can be used as it is (out untouched), 0 when out holds the
 * converted text, -1 with the reason in why when the value cannot be
 * stored (a NaN in a DECIMAL, a multi-dimensional array, bad text).
 */
int synctype_text(const struct synctype *t, const char *in, size_t len, struct dp_buf *out, char *why,
                  size_t n);

/*
 * An interval in IntervalStyle postgres ("1 year 2 mons -3 days
 * +04:05:06.5") as months, days and microseconds. 0, or -1 when the text
 * is not such an interval.
 */
int synctype_interval(const char *in, size_t len, int32_t *months, int32_t *days, int64_t *micros);

#endif
