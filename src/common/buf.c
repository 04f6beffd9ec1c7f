/*
 * buf.c -- the growing byte buffer, array growth, malloc'd printf and SQL
 * quoting that the rest of duckpond is built on (buf.h).
 */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dp_buf_free(struct dp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void dp_buf_clear(struct dp_buf *b, size_t keep)
{
    if (b->cap > keep) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
    b->failed = false;
}

bool dp_buf_reserve(struct dp_buf *b, size_t more)
{
    if (b->failed)
        return false;
    if (more > SIZE_MAX - 1 - b->len || (b->limit && b->len + more > b->limit)) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + more + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void dp_buf_add(struct dp_buf *b, const void *p, size_t n)
{
    if (!dp_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void dp_buf_str(struct dp_buf *b, const char *s)
{
    dp_buf_add(b, s, strlen(s));
}

void dp_buf_byte(struct dp_buf *b, char c)
{
    dp_buf_add(b, &c, 1);
}

void dp_buf_vprintf(struct dp_buf *b, const char *fmt, va_list ap)
{
    if (b->failed)
        return;
    va_list again;
    va_copy(again, ap);
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    if (n < 0)
        b->failed = true;
    else if (dp_buf_reserve(b, (size_t)n) && (size_t)n >= room)
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    va_end(again);
    if (!b->failed)
        b->len += (size_t)n;
    else if (b->data)
        b->data[b->len] = '\0'; /* an attempt that did not fit may have written past len */
}

void dp_buf_printf(struct dp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dp_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void dp_buf_truncate(struct dp_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

char *dp_buf_take(struct dp_buf *b, size_t *len)
{
    char *s = NULL;
    if (!b->failed)
        s = b->data ? b->data : calloc(1, 1);
    if (s && len)
        *len = b->data ? b->len : 0;
    if (!s)
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
    return s;
}

int dp_grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2) {
            n = need;
            break;
        }
        n *= 2;
    }
    if (elem && n > SIZE_MAX / elem)
        return -1;
    void **slot = arrp;
    void *p = realloc(*slot, n * elem);
    if (!p)
        return -1;
    *slot = p;
    *cap = n;
    return 0;
}

char *dp_vasprintf(const char *fmt, va_list ap)
{
    struct dp_buf b = DP_BUF_INIT;
    dp_buf_vprintf(&b, fmt, ap);
    return dp_buf_take(&b, NULL);
}

char *dp_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = dp_vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

/* Appends s (n bytes) between two q characters, each q inside doubled. */
static void quote_with(struct dp_buf *b, char q, const char *s, size_t n)
{
    dp_buf_byte(b, q);
    for (const char *end = s + n, *run = s; run < end;) {
        const char *hit = memchr(run, q, (size_t)(end - run));
        size_t upto = hit ? (size_t)(hit - run) + 1 : (size_t)(end - run);
        dp_buf_add(b, run, upto);
        if (hit)
            dp_buf_byte(b, q);
        run += upto;
    }
    dp_buf_byte(b, q);
}

void dp_sql_ident(struct dp_buf *b, const char *name)
{
    quote_with(b, '"', name, strlen(name));
}

void dp_sql_literal(struct dp_buf *b, const char *s, size_t n)
{
    quote_with(b, '\'', s, n);
}
