/*
 * textparse.c -- text parsed into DuckDB's DATE, TIME, TIMESTAMP,
 * TIMESTAMPTZ and DECIMAL values without DuckDB, for the common spellings.
 *
 * Clients send such values as text ('2026-11-25 10:00:00', '50000.25').
 * Parsing the forms DuckDB itself prints -- ISO dates and times with up
 * to six fraction digits, a 'T' or a space between them, a 'Z' or a
 * numeric UTC offset, and plain decimals -- costs a few dozen
 * instructions, where DuckDB's cast costs a statement. Every answer must
 * be DuckDB's own: a parser here returns CV_OK only for a spelling whose
 * value it knows exactly as DuckDB 1.4's cast computes it, CV_VALID for
 * one DuckDB certainly accepts but whose value only DuckDB can compute
 * (a TIMESTAMPTZ without an offset, read in the writer connection's
 * TimeZone; a decimal that must be rounded), and CV_GENERIC for anything
 * else -- years outside 0000-9999, 24:00:00, leap seconds, seven or more
 * fraction digits, time zone names, spaces, 'infinity' and 'epoch', BC
 * dates, exponents -- which DuckDB's cast then decides. test_value.c's
 * differential test holds these parsers to DuckDB's answers.
 */
#include <stdbool.h>
#include <stdint.h>

#include "batcher_int.h"

#define US_PER_SEC 1000000LL
#define US_PER_DAY (86400LL * US_PER_SEC)

/* n decimal digits at s into *out; false unless all are digits. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (year 0 is 1 BC, a leap year). */
static int32_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD" at s (10 bytes, len >= 10), a real day of years 0000-9999, into *days. */
static bool parse_ymd(const char *s, size_t len, int32_t *days)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (len < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
        !digits(s + 8, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap_year(y)))
        return false;
    *days = days_from_civil(y, m, d);
    return true;
}

/*
 * "HH:MM:SS[.F]" (F: one to six digits; HH below 24) at the start of
 * s[0..len), or "HH:MM" filling it, into *micros; *used says how many
 * bytes it took. (DuckDB reads no offset after "HH:MM".)
 */
static bool parse_hms(const char *s, size_t len, int64_t *micros, size_t *used)
{
    int h, m, sec = 0, frac = 0;
    size_t i = 5;
    if (len < 5 || s[2] != ':' || !digits(s, 2, &h) || !digits(s + 3, 2, &m) || h > 23 || m > 59)
        return false;
    if (i < len && s[i] == ':') {
        if (len < i + 3 || !digits(s + i + 1, 2, &sec) || sec > 59)
            return false;
        i += 3;
    } else if (i < len) {
        return false;
    }
    if (i < len && s[i] == '.') {
        int n = 0, scale = 100000;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, n++, scale /= 10)
            frac += (s[i] - '0') * scale;
        if (n < 1 || n > 6)
            return false;
    }
    if (i < len && s[i] >= '0' && s[i] <= '9')
        return false;
    *micros = ((int64_t)h * 3600 + m * 60 + sec) * US_PER_SEC + frac;
    *used = i;
    return true;
}

/* A UTC offset filling s[0..len): "Z", "+HH", "+HHMM", "+HH:MM" (or '-'), into *micros east of UTC. */
static bool parse_offset(const char *s, size_t len, int64_t *micros)
{
    int h, m = 0;
    if (len == 1 && s[0] == 'Z') {
        *micros = 0;
        return true;
    }
    if ((s[0] != '+' && s[0] != '-') || !(len == 3 || len == 5 || (len == 6 && s[3] == ':')))
        return false;
    if (!digits(s + 1, 2, &h) || (len > 3 && !digits(s + len - 2, 2, &m)) || h > 23 || m > 59)
        return false;
    *micros = ((int64_t)h * 3600 + m * 60) * US_PER_SEC * (s[0] == '-' ? -1 : 1);
    return true;
}

enum conv_result batcher_parse_date(const char *s, size_t len, int32_t *days)
{
    return len == 10 && parse_ymd(s, len, days) ? CV_OK : CV_GENERIC;
}

enum conv_result batcher_parse_time(const char *s, size_t len, int64_t *micros)
{
    size_t used;
    return parse_hms(s, len, micros, &used) && used == len ? CV_OK : CV_GENERIC;
}

/*
 * A TIMESTAMP ignores a UTC offset (DuckDB's cast drops it); a
 * TIMESTAMPTZ is moved to UTC by it, and without one is read in the
 * connection's TimeZone (CV_VALID: DuckDB computes it).
 */
enum conv_result batcher_parse_timestamp(const char *s, size_t len, bool tz, int64_t *micros)
{
    int32_t days;
    int64_t tod = 0, offset = 0;
    size_t i = 10, used = 0;
    if (!parse_ymd(s, len, &days))
        return CV_GENERIC;
    if (i < len) {
        if ((s[i] != ' ' && s[i] != 'T') || !parse_hms(s + i + 1, len - i - 1, &tod, &used))
            return CV_GENERIC;
        i += 1 + used;
    }
    bool has_offset = i < len;
    if (has_offset && !parse_offset(s + i, len - i, &offset))
        return CV_GENERIC;
    *micros = days * US_PER_DAY + tod;
    if (!tz)
        return CV_OK;
    if (!has_offset)
        return CV_VALID;
    *micros -= offset;
    return CV_OK;
}

/*
 * "[+-]D[.F]" into a DECIMAL(width, scale) as its unscaled integer. More
 * fraction digits than the scale: DuckDB rounds (CV_VALID when the
 * rounded value surely fits); integer digits past width - scale: DuckDB's
 * out-of-range error (CV_GENERIC).
 */
enum conv_result batcher_parse_decimal(const char *s, size_t len, int width, int scale, __int128 *out)
{
    size_t i = 0;
    bool neg = false;
    if (len > 0 && (s[0] == '+' || s[0] == '-'))
        neg = s[i++] == '-';
    size_t int_start = i;
    while (i < len && s[i] == '0')
        i++;
    size_t sig_start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    int int_digits = (int)(i - sig_start);
    if (i == int_start || int_digits > width - scale || len > 64)
        return CV_GENERIC;
    size_t frac_start = i, frac_digits = 0;
    if (i < len && s[i] == '.') {
        for (frac_start = ++i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            frac_digits++;
        if (!frac_digits)
            return CV_GENERIC;
    }
    if (i != len)
        return CV_GENERIC;
    if ((int)frac_digits > scale)
        return int_digits < width - scale ? CV_VALID : CV_GENERIC;
    __int128 v = 0;
    for (size_t k = sig_start; k < sig_start + (size_t)int_digits; k++)
        v = v * 10 + (s[k] - '0');
    for (int k = 0; k < scale; k++)
        v = v * 10 + ((size_t)k < frac_digits ? s[frac_start + (size_t)k] - '0' : 0);
    *out = neg ? -v : v;
    return CV_OK;
}
