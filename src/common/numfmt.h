/*
 * numfmt.h -- numbers, dates and clock times as text, without printf.
 *
 * The shortest decimal that reads back as a given double or float (exact
 * for every value, as PostgreSQL's and Java's output are), integers of up
 * to 128 bits, scaled decimals, proleptic Gregorian dates and clock times.
 * The writers put bytes at out, which must have room for the stated
 * maximum, write no NUL and return how many bytes they wrote. Callers lay
 * the pieces out their own way (PostgreSQL's text formats, DuckDB's).
 */
#ifndef DUCKPOND_NUMFMT_H
#define DUCKPOND_NUMFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest text numfmt_dec_text writes: "-2.2250738585072014e-308" and
 * fixed forms such as "-0.00012345678901234567" fit in 32. */
#define NUMFMT_DEC_MAX 32
/* The longest text of a 128-bit integer or of a scaled decimal made of one. */
#define NUMFMT_INT_MAX 42

/* A finite binary value as a decimal: (neg ? -1 : 1) * digits * 10^exp. */
struct numfmt_dec {
    uint64_t digits; /* no trailing zeros; 0 only for zero */
    int exp;
    int ndigits; /* decimal digits in digits (1 for zero) */
    bool neg;
};

/*
 * The shortest decimal that reads back (round to nearest, ties to even)
 * as d: of the shortest ones, the one closest to d (ties to an even last
 * digit). strict leaves out a decimal lying exactly halfway between d
 * and a neighbour, which reads back as d only through the ties-to-even
 * rule: PostgreSQL's output does (its Ryu is built that way), printf and
 * strtod do not. d must be finite; -0.0 gives digits 0 with neg set.
 */
void numfmt_shortest(double d, bool strict, struct numfmt_dec *out);
/* The same for a float, read back as a float. */
void numfmt_shortest_float(float f, bool strict, struct numfmt_dec *out);

/*
 * Writes dec as printf's %g would with enough precision: fixed notation
 * when its decimal exponent x (of the first digit) is in [-4, sci_at),
 * else d.ddde+XX (two exponent digits at least). PostgreSQL's float8 text
 * is sci_at 15, float4 6; %.17g is sci_at 17. At most NUMFMT_DEC_MAX bytes.
 */
size_t numfmt_dec_text(char *out, const struct numfmt_dec *dec, int sci_at);

/* Integers in decimal: at most 20, 20, 39 and 40 bytes. */
size_t numfmt_u64(char *out, uint64_t v);
size_t numfmt_i64(char *out, int64_t v);
size_t numfmt_u128(char *out, unsigned __int128 v);
size_t numfmt_i128(char *out, __int128 v);

/*
 * A DECIMAL of the given scale (0..38) from its unscaled integer v: "-1.50",
 * "0.05", "12" (scale 0). At most NUMFMT_INT_MAX bytes.
 */
size_t numfmt_decimal(char *out, __int128 v, unsigned scale);

/*
 * The proleptic Gregorian date of a day count from 1970-01-01, with year
 * 0 for 1 BC, -1 for 2 BC and so on (as DuckDB counts them). Exact for
 * every int32_t day count.
 */
void numfmt_civil(int32_t days, int32_t *year, int *month, int *day);

/*
 * YYYY-MM-DD of a day count (at least four year digits; a year before 1
 * AD is written as 1 - year, and *bc set so the caller can say BC its
 * way). At most 16 bytes.
 */
size_t numfmt_date(char *out, int32_t days, bool *bc);

/*
 * HH:MM:SS of secs (hours as many digits as they take, at least two),
 * then, unless frac is 0, a point and frac as frac_digits digits without
 * their trailing zeros (frac < 10^frac_digits, frac_digits <= 9). At most
 * 32 bytes.
 */
size_t numfmt_clock(char *out, uint64_t secs, uint32_t frac, int frac_digits);

/* Splits a count of microseconds since 1970-01-01 into whole days (rounded down) and microseconds into the day. */
void numfmt_split_micros(int64_t micros, int32_t *days, int64_t *micros_of_day);

#endif
