/*
 * clock.h -- the time helpers the library and the server share: a
 * monotonic clock in microseconds and absolute deadlines for timed waits.
 */
#ifndef DUCKPOND_CLOCK_H
#define DUCKPOND_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Monotonic clock in microseconds. */
int64_t dp_now_us(void);

/* The absolute time ms milliseconds from now on clock, for timed waits
 * (CLOCK_MONOTONIC for condvars made so, CLOCK_REALTIME for the default). */
struct timespec dp_deadline(clockid_t clock, int ms);
/* Likewise, us microseconds from now. */
struct timespec dp_deadline_us(clockid_t clock, int64_t us);

/* Initialises c to time its waits on CLOCK_MONOTONIC (deadlines from
 * dp_deadline(CLOCK_MONOTONIC, ...)), so a change of the wall clock never
 * stretches or cuts a wait. */
void dp_cond_init_monotonic(pthread_cond_t *c);

#endif
