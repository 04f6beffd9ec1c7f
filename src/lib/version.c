/*
 * version.c -- the library's version, and the versioned structs callers
 * allocate.
 *
 * duckpond_retry, duckpond_pool_stats, duckpond_batcher_settings and
 * duckpond_batcher_stats begin with struct_size, the size the caller was
 * compiled with (duckpond.h, CAVEATS). A struct may gain fields at its end
 * in a later version; these helpers let an older library read a newer
 * caller's struct (refusing fields it does not know that are set) and a
 * newer library read an older one (defaults for the fields it lacks), and
 * write stats as far as the caller's struct reaches.
 */
#include <stddef.h>
#include <string.h>

#include "dbint.h"

const char *duckpond_libversion(int *major, int *minor, int *patch)
{
    if (major)
        *major = DUCKPOND_VERSION_MAJOR;
    if (minor)
        *minor = DUCKPOND_VERSION_MINOR;
    if (patch)
        *patch = DUCKPOND_VERSION_PATCH;
    return DUCKPOND_VERSION;
}

/*
 * 0.1.0 reads a struct_size of 0 as its own layout (duckpond.h). That holds
 * only while a struct has not grown: adding a field fails one of these,
 * and from then on a size of 0 must be refused (dp_struct_size).
 */
#define DP_ALIGN_UP(n, a) (((n) + (a)-1) / (a) * (a))
#define DP_NOT_GROWN(T, first) (sizeof(T) == DP_ALIGN_UP(first, _Alignof(T)))
_Static_assert(DP_NOT_GROWN(duckpond_retry, DP_RETRY_FIRST), "a struct grew: refuse struct_size 0");
_Static_assert(DP_NOT_GROWN(duckpond_pool_stats, DP_POOL_STATS_FIRST), "a struct grew: refuse struct_size 0");
_Static_assert(DP_NOT_GROWN(duckpond_batcher_settings, DP_BATCHER_SETTINGS_FIRST),
               "a struct grew: refuse struct_size 0");
_Static_assert(DP_NOT_GROWN(duckpond_batcher_stats, DP_BATCHER_STATS_FIRST),
               "a struct grew: refuse struct_size 0");
_Static_assert(offsetof(duckpond_retry, struct_size) == 0 &&
                   offsetof(duckpond_pool_stats, struct_size) == 0 &&
                   offsetof(duckpond_batcher_settings, struct_size) == 0 &&
                   offsetof(duckpond_batcher_stats, struct_size) == 0,
               "struct_size comes first");
/* duckpond_value is passed in arrays: its layout never changes. */
_Static_assert(sizeof(void *) != 8 || sizeof(duckpond_value) == 24, "duckpond_value never grows");

/* The size a caller's struct declares, or 0 when the library cannot read it. */
static size_t dp_struct_size(const void *s, size_t first_size)
{
    size_t size = *(const size_t *)s;
    if (size == 0)
        return first_size; /* 0.1.0 only: see the assertions above */
    return size < first_size ? 0 : size;
}

int dp_struct_in(void *dst, size_t dst_size, const void *src, size_t first_size)
{
    size_t size = dp_struct_size(src, first_size);
    if (!size)
        return DUCKPOND_MISUSE;
    for (size_t i = dst_size; i < size; i++)
        if (((const unsigned char *)src)[i]) /* a field this library does not know, set */
            return DUCKPOND_MISUSE;
    memset(dst, 0, dst_size);
    memcpy(dst, src, size < dst_size ? size : dst_size);
    *(size_t *)dst = dst_size;
    return DUCKPOND_OK;
}

int dp_struct_out(void *dst, const void *src, size_t src_size, size_t first_size)
{
    size_t size = dp_struct_size(dst, first_size), keep = *(size_t *)dst;
    if (!size)
        return DUCKPOND_MISUSE;
    /* Fields past src_size, which this library does not know, keep what
     * the caller's INIT macro put there (zeros): never write past what we know. */
    memcpy(dst, src, size < src_size ? size : src_size);
    *(size_t *)dst = keep;
    return DUCKPOND_OK;
}
