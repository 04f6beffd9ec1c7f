/*
 * clock.h -- the time helpers the library and the server share: a
 * monotonic clock in microseconds, condition variables whose timed waits
 * measure it, and absolute deadlines for those waits.
 */
#ifndef DUCKPOND_CLOCK_H
#define DUCKPOND_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Monotonic clock in microseconds. */
int64_t dp_now_us(void);

/*
 * Initialises c for timed waits on CLOCK_MONOTONIC (deadlines from
 * dp_deadline(CLOCK_MONOTONIC, ...)), so that a step of the wall clock
 * (NTP, an operator) neither ends a wait at once nor stretches it by the
 * step. Every condition variable with a timed wait is made so.
 */
void dp_cond_init_monotonic(pthread_cond_t *c);

/* The absolute time ms milliseconds from now on clock, for timed waits
 * (CLOCK_MONOTONIC for condvars made by dp_cond_init_monotonic). */
struct timespec dp_deadline(clockid_t clock, int ms);
/* Likewise, us microseconds from now. */
struct timespec dp_deadline_us(clockid_t clock, int64_t us);

#endif
