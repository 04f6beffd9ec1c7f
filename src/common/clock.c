/*
 * clock.c -- the time helpers the library and the server share (clock.h).
 */
#define _GNU_SOURCE
#include "clock.h"

int64_t dp_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec dp_deadline_us(clockid_t clock, int64_t us)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    ts.tv_sec += us / 1000000;
    ts.tv_nsec += (long)(us % 1000000) * 1000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

struct timespec dp_deadline(clockid_t clock, int ms)
{
    return dp_deadline_us(clock, (int64_t)ms * 1000);
}

void dp_cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}
