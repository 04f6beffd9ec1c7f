/*
 * dbint.h -- the insides of the database and connection handles, shared
 * by the library's files (never by users of the library).
 */
#ifndef DUCKPOND_DBINT_H
#define DUCKPOND_DBINT_H

#include <time.h>

#include "buf.h"
#include "clock.h"
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


#endif
