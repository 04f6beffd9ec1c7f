/*
 * numfmt.c -- numbers, dates and clock times as text, without printf
 * (numfmt.h).
 *
 * Result sets are mostly numbers and timestamps, and printf, which parses
 * its format and handles locales for every value, costs more than the rest
 * of sending a row. Doubles are the costly case: the shortest text that
 * reads back as the same double used to take a printf per candidate
 * precision and a strtod to check each. Here it is Giulietti's Schubfach
 * method: with v = c * 2^q, one table entry g ~ 10^-k (126 bits) gives
 * the rounding interval of v scaled by 10^-k to a precision that decides
 * exactly which decimals of the two candidate lengths lie inside it. The
 * table is computed once, with exact big-integer arithmetic, at first use.
 */
#include "numfmt.h"

#include <pthread.h>
#include <string.h>

/* ------------------------------------------------------------- digits */

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t pow10_u64[20] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
    10000000000000000000ULL,
};

/* Exactly n digits of v (v < 10^n), zero-padded on the left: eight at a time in 32-bit arithmetic, then pairs. */
static void put_digits(char *out, uint64_t v, int n)
{
    char *p = out + n;
    for (; n >= 8; n -= 8) {
        uint32_t low = (uint32_t)(v % 100000000), hi4 = low / 10000, lo4 = low % 10000;
        v /= 100000000;
        p -= 8;
        memcpy(p, digit_pairs + 2 * (hi4 / 100), 2);
        memcpy(p + 2, digit_pairs + 2 * (hi4 % 100), 2);
        memcpy(p + 4, digit_pairs + 2 * (lo4 / 100), 2);
        memcpy(p + 6, digit_pairs + 2 * (lo4 % 100), 2);
    }
    uint32_t w = (uint32_t)v; /* below 10^8 now */
    for (; n >= 2; n -= 2, w /= 100) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * (w % 100), 2);
    }
    if (n)
        *--p = (char)('0' + w);
}

/* How many decimal digits v has (1 for 0): log10 from the bit length (1233/4096 ~ log10(2)), then one compare. */
static int count_digits(uint64_t v)
{
    int guess = (64 - __builtin_clzll(v | 1)) * 1233 >> 12;
    return guess + ((v | 1) >= pow10_u64[guess]);
}

size_t numfmt_u64(char *out, uint64_t v)
{
    int n = count_digits(v);
    put_digits(out, v, n);
    return (size_t)n;
}

size_t numfmt_i64(char *out, int64_t v)
{
    if (v >= 0)
        return numfmt_u64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + numfmt_u64(out + 1, 0 - (uint64_t)v);
}

size_t numfmt_u128(char *out, unsigned __int128 v)
{
    if (v <= UINT64_MAX)
        return numfmt_u64(out, (uint64_t)v);
    size_t n = numfmt_u128(out, v / pow10_u64[19]);
    put_digits(out + n, (uint64_t)(v % pow10_u64[19]), 19);
    return n + 19;
}

size_t numfmt_i128(char *out, __int128 v)
{
    if (v >= 0)
        return numfmt_u128(out, (unsigned __int128)v);
    out[0] = '-';
    return 1 + numfmt_u128(out + 1, (unsigned __int128)0 - (unsigned __int128)v);
}

size_t numfmt_decimal(char *out, __int128 v, unsigned scale)
{
    if (scale == 0)
        return numfmt_i128(out, v);
    char *p = out;
    unsigned __int128 u = (unsigned __int128)v;
    if (v < 0) {
        *p++ = '-';
        u = (unsigned __int128)0 - u;
    }
    if (u <= UINT64_MAX && scale <= 19) { /* DECIMAL(18,s) and most others: 64-bit arithmetic */
        p += numfmt_u64(p, (uint64_t)u / pow10_u64[scale]);
        *p++ = '.';
        put_digits(p, (uint64_t)u % pow10_u64[scale], (int)scale);
        return (size_t)(p - out) + scale;
    }
    unsigned __int128 pow = 1;
    for (unsigned i = 0; i < scale; i++)
        pow *= 10;
    unsigned __int128 whole = u / pow, frac = u % pow;
    p += numfmt_u128(p, whole);
    *p++ = '.';
    if (scale > 19) {
        put_digits(p, (uint64_t)(frac / pow10_u64[19]), (int)scale - 19);
        p += scale - 19;
        frac %= pow10_u64[19];
        scale = 19;
    }
    put_digits(p, (uint64_t)frac, (int)scale);
    return (size_t)(p - out) + scale;
}

/* ------------------------------------------------------ dates and times */

void numfmt_civil(int32_t days, int32_t *year, int *month, int *day)
{
    /* Count from 0000-03-01, so that the leap day ends each year, in
     * whole 400-year eras of 146097 days; within one, the year of the
     * era and the day of that year follow from the 4/100/400 rules, and
     * months from March on have a 153-days-per-5-months rhythm. */
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March is 0 */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int32_t)(yoe + era * 400 + (*month <= 2));
}

size_t numfmt_date(char *out, int32_t days, bool *bc)
{
    int32_t y;
    int m, d;
    numfmt_civil(days, &y, &m, &d);
    *bc = y <= 0;
    uint64_t ya = (uint64_t)(y <= 0 ? 1 - (int64_t)y : y);
    int n = 4;
    if (ya < 10000) { /* the usual four digits: two pairs */
        memcpy(out, digit_pairs + 2 * (ya / 100), 2);
        memcpy(out + 2, digit_pairs + 2 * (ya % 100), 2);
    } else {
        n = count_digits(ya);
        put_digits(out, ya, n);
    }
    char *p = out + n;
    p[0] = '-';
    memcpy(p + 1, digit_pairs + 2 * m, 2);
    p[3] = '-';
    memcpy(p + 4, digit_pairs + 2 * d, 2);
    return (size_t)n + 6;
}

size_t numfmt_clock(char *out, uint64_t secs, uint32_t frac, int frac_digits)
{
    uint64_t hours = secs / 3600;
    unsigned rest = (unsigned)(secs % 3600);
    size_t n = 2;
    if (hours < 100)
        memcpy(out, digit_pairs + 2 * hours, 2);
    else
        put_digits(out, hours, (int)(n = (size_t)count_digits(hours)));
    char *p = out + n;
    p[0] = ':';
    memcpy(p + 1, digit_pairs + 2 * (rest / 60), 2);
    p[3] = ':';
    memcpy(p + 4, digit_pairs + 2 * (rest % 60), 2);
    p += 6;
    if (frac) { /* all its digits, then back over the trailing zeros (there is a nonzero one) */
        *p++ = '.';
        put_digits(p, frac, frac_digits);
        p += frac_digits;
        while (p[-1] == '0')
            p--;
    }
    return (size_t)(p - out);
}

void numfmt_split_micros(int64_t micros, int32_t *days, int64_t *micros_of_day)
{
    const int64_t day = 86400000000LL;
    int64_t d = micros / day, rest = micros % day;
    if (rest < 0) {
        rest += day;
        d--;
    }
    *days = (int32_t)d;
    *micros_of_day = rest;
}

/* --------------------------------------------------------- the table */

/*
 * g(k) = floor(10^-k * 2^-r) + 1 with r = floor(log2(10^-k)) - 125, so
 * that 2^125 < g(k) < 2^126: 10^-k with 126 significant bits, rounded up.
 * Stored split as g1 = g >> 63 and g0 = g mod 2^63, for k in [-324, 292],
 * every k a double (or float) can need.
 */
#define G_KMIN (-324)
#define G_KMAX 292
static uint64_t g_table[G_KMAX - G_KMIN + 1][2];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* A nonnegative integer of up to 36 32-bit words (10^324 takes 34), least significant first. */
struct big {
    uint32_t w[36];
    int n; /* words in use; the top one is not 0 */
};

static void big_mul10(struct big *b)
{
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t t = (uint64_t)b->w[i] * 10 + carry;
        b->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry)
        b->w[b->n++] = (uint32_t)carry;
}

static int big_bits(const struct big *b)
{
    return (b->n - 1) * 32 + (32 - __builtin_clz(b->w[b->n - 1]));
}

/* floor(b / 2^r): the 128 bits from bit r up. */
static unsigned __int128 big_shr(const struct big *b, int r)
{
    unsigned __int128 v = 0;
    for (int i = b->n * 32 - 1; i >= r; i--)
        v = v << 1 | ((b->w[i / 32] >> (i % 32)) & 1);
    return v;
}

static void big_shl1(struct big *b)
{
    uint32_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint32_t top = b->w[i] >> 31;
        b->w[i] = b->w[i] << 1 | carry;
        carry = top;
    }
    if (carry)
        b->w[b->n++] = carry;
}

static bool big_ge(const struct big *a, const struct big *b)
{
    if (a->n != b->n)
        return a->n > b->n;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] > b->w[i];
    return true;
}

/* a -= b, for a >= b. */
static void big_sub(struct big *a, const struct big *b)
{
    int64_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        int64_t t = (int64_t)a->w[i] - (i < b->n ? b->w[i] : 0) - borrow;
        borrow = t < 0;
        a->w[i] = (uint32_t)(t + (borrow << 32));
    }
    while (a->n > 1 && a->w[a->n - 1] == 0)
        a->n--;
}

/* floor(2^(125 + bits(d)) / d) for d > 1 not a power of two: 126 bits of 1/d. */
static unsigned __int128 big_reciprocal(const struct big *d)
{
    int bits = big_bits(d);
    struct big rem = {{0}, (bits - 1) / 32 + 1}; /* 2^(bits-1): below d, and at least half of it */
    rem.w[(bits - 1) / 32] = 1u << ((bits - 1) % 32);
    unsigned __int128 q = 0;
    for (int i = 0; i < 126; i++) { /* rem = 2^(bits-1+i) mod d, q its quotient */
        big_shl1(&rem);
        q <<= 1;
        if (big_ge(&rem, d)) {
            big_sub(&rem, d);
            q |= 1;
        }
    }
    return q;
}

static void g_store(int k, unsigned __int128 g)
{
    g_table[k - G_KMIN][0] = (uint64_t)(g >> 63);
    g_table[k - G_KMIN][1] = (uint64_t)g & ((1ULL << 63) - 1);
}

static void g_init(void)
{
    struct big p = {{1}, 1}; /* 10^e */
    for (int e = 0; e <= -G_KMIN; e++) {
        if (e)
            big_mul10(&p);
        int r = big_bits(&p) - 126; /* floor(log2(10^e)) - 125 */
        g_store(-e, (r < 0 ? big_shr(&p, 0) << -r : big_shr(&p, r)) + 1);
        if (e >= 1 && e <= G_KMAX)
            g_store(e, big_reciprocal(&p) + 1);
    }
}

/* ------------------------------------------------------ shortest decimal */

/* floor(log10(2^q)), floor(log10(3/4 * 2^q)) and floor(log2(10^e)), exact for |q|, |e| well past what is used. */
static int flog10_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083LL) >> 41);
}

static int flog10_three_quarters_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083LL - 274743187321LL) >> 41);
}

static int flog2_pow10(int e)
{
    return (int)(((int64_t)e * 913124641741LL) >> 38);
}

static uint64_t mul_high(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

/* cp * g / 2^127, rounded to odd: its low bit says whether any bit was dropped. */
static uint64_t round_odd64(const uint64_t g[2], uint64_t cp)
{
    unsigned __int128 y = (unsigned __int128)g[0] * cp;
    uint64_t z = ((uint64_t)y >> 1) + mul_high(g[1], cp);
    uint64_t high = (uint64_t)(y >> 64) + (z >> 63);
    const uint64_t mask = (1ULL << 63) - 1;
    return high | (((z & mask) + mask) >> 63);
}

/* cp * g / 2^95 for g = g1 + 1 (enough for a float's 24 bits), rounded to odd. */
static uint64_t round_odd32(uint64_t g, uint64_t cp)
{
    uint64_t x = mul_high(g, cp);
    const uint64_t mask = 0xffffffffULL;
    return (x >> 31) | (((x & mask) + mask) >> 32);
}

/*
 * The decision for v = c * 2^q, scaled by 10^-k: vb is 4 v 10^-k, vbl
 * and vbr the ends of v's rounding interval likewise (each rounded to
 * odd, which keeps the comparisons below exact), out whether the ends
 * themselves are excluded: when c is odd (a decimal exactly on an end
 * reads back as the even neighbour), and always when strict. k is chosen so that s = floor(v 10^-k) has a digit more
 * than the shortest decimal can need: the multiples of ten around s
 * (one digit shorter) are tried first, then s and s + 1; of two inside the
 * interval, the one closer to v wins, a tie going to the even one.
 * Returns the digits of the decimal, to be scaled by 10^k.
 */
static uint64_t decide(uint64_t vb, uint64_t vbl, uint64_t vbr, bool out)
{
    uint64_t s = vb >> 2;
    if (s >= 10) {
        uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
        bool upin = vbl + out <= sp10 << 2, wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin)
            return upin ? sp10 : tp10;
    }
    uint64_t t = s + 1;
    bool uin = vbl + out <= s << 2, win = (t << 2) + out <= vbr;
    if (uin != win)
        return uin ? s : t;
    int64_t cmp = (int64_t)(vb - ((s + t) << 1));
    return cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t;
}

/* Fills out from digits * 10^exp, dropping the digits' trailing zeros. */
static void finish(uint64_t digits, int exp, bool neg, struct numfmt_dec *out)
{
    if (digits) {
        while (digits % 100000000 == 0) {
            digits /= 100000000;
            exp += 8;
        }
        static const int steps[] = {4, 2, 1}; /* then at most 7 zeros are left */
        for (int i = 0; i < 3; i++)
            if (digits % pow10_u64[steps[i]] == 0) {
                digits /= pow10_u64[steps[i]];
                exp += steps[i];
            }
    }
    out->digits = digits;
    out->exp = digits ? exp : 0;
    out->ndigits = count_digits(digits);
    out->neg = neg;
}

/*
 * The shortest decimal of a finite binary value: neg its sign, t its
 * stored significand of mbits bits (52 or 23), bq its biased exponent,
 * so that v = c * 2^q with c = 2^mbits + t and q = bq - qbias for normal
 * values, c = t and q = 1 - qbias for subnormal ones.
 */
static void shortest(bool neg, uint64_t t, int bq, int mbits, int qbias, bool strict, struct numfmt_dec *out)
{
    const uint64_t c_min = 1ULL << mbits;
    const int q_min = 1 - qbias;
    uint64_t c = bq ? c_min | t : t;
    int q = bq ? bq - qbias : q_min;
    if (c == 0) {
        finish(0, 0, neg, out);
        return;
    }
    if (q < 0 && q > -mbits - 1 && (c >> -q << -q) == c) { /* an integer below 2^(mbits+1): itself */
        finish(c >> -q, 0, neg, out);
        return;
    }
    pthread_once(&g_once, g_init);
    uint64_t cb = c << 2, cbl;
    int k;
    if (c != c_min || q == q_min) {
        cbl = cb - 2;
        k = flog10_pow2(q);
    } else { /* a power of two: the interval below is half as wide */
        cbl = cb - 1;
        k = flog10_three_quarters_pow2(q);
    }
    const uint64_t *g = g_table[k - G_KMIN];
    uint64_t digits;
    if (mbits == 52) {
        int h = q + flog2_pow10(-k) + 2;
        digits = decide(round_odd64(g, cb << h), round_odd64(g, cbl << h), round_odd64(g, (cb + 2) << h),
                        strict || (c & 1));
    } else {
        int h = q + flog2_pow10(-k) + 33;
        digits = decide(round_odd32(g[0] + 1, cb << h), round_odd32(g[0] + 1, cbl << h),
                        round_odd32(g[0] + 1, (cb + 2) << h), strict || (c & 1));
    }
    finish(digits, k, neg, out);
}

void numfmt_shortest(double d, bool strict, struct numfmt_dec *out)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    shortest(bits >> 63, bits & ((1ULL << 52) - 1), (int)(bits >> 52) & 0x7ff, 52, 1075, strict, out);
}

void numfmt_shortest_float(float f, bool strict, struct numfmt_dec *out)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    shortest(bits >> 31, bits & ((1u << 23) - 1), (int)(bits >> 23) & 0xff, 23, 150, strict, out);
}

size_t numfmt_dec_text(char *out, const struct numfmt_dec *dec, int sci_at)
{
    int n = dec->ndigits, x = dec->exp + n - 1; /* x: the exponent of the first digit */
    char *p = out;
    if (dec->neg)
        *p++ = '-';
    if (x >= -4 && x < sci_at) {
        if (x < 0) { /* 0.000ddd */
            memcpy(p, "0.0000", (size_t)(1 - x));
            put_digits(p + 1 - x, dec->digits, n);
            return (size_t)(p + 1 - x + n - out);
        }
        if (n <= x + 1) { /* an integer: ddd000 */
            put_digits(p, dec->digits, n);
            memset(p + n, '0', (size_t)(x + 1 - n));
            return (size_t)(p + x + 1 - out);
        }
        /* ddd.ddd: the digits one place right, then the integer part back over the point */
        put_digits(p + 1, dec->digits, n);
        for (int i = 0; i <= x; i++)
            p[i] = p[i + 1];
        p[x + 1] = '.';
        return (size_t)(p + n + 1 - out);
    }
    put_digits(p + 1, dec->digits, n); /* d.ddd: the first digit moves in front of the point */
    p[0] = p[1];
    p[1] = '.';
    p += n > 1 ? n + 1 : 1;
    *p++ = 'e';
    *p++ = x < 0 ? '-' : '+';
    unsigned ax = (unsigned)(x < 0 ? -x : x);
    put_digits(p, ax, ax >= 100 ? 3 : 2);
    p += ax >= 100 ? 3 : 2;
    return (size_t)(p - out);
}
