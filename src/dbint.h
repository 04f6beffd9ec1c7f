/*
 * dbint.h -- the insides of the database and connection handles, shared
 * by the library's files (never by users of the library).
 */
#ifndef DUCKPOND_DBINT_H
#define DUCKPOND_DBINT_H

#include <time.h>

#include "duckpond.h"

struct duckpond_db {
    duckdb_database duck;
    char *path;
    char *errmsg;
};

struct duckpond_conn {
    duckpond_db *db;
    duckdb_connection duck;
    char *errmsg;
};

/* Replaces *slot with a formatted, malloc'd message (NULL if out of memory). */
void dp_set_msg(char **slot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic clock in microseconds. */
int64_t dp_now_us(void);

/* The absolute time ms milliseconds from now on clock, for timed waits
 * (CLOCK_MONOTONIC for condvars made so, CLOCK_REALTIME for the default). */
struct timespec dp_deadline(clockid_t clock, int ms);
/* Likewise, us microseconds from now. */
struct timespec dp_deadline_us(clockid_t clock, int64_t us);

#endif
