/*
 * insert_plan.h -- a plain INSERT ... VALUES of constants and parameters,
 * as the batcher takes it: its target table and columns, and each value
 * of each row as a constant, a parameter, or a literal of the statement's
 * text (a statement made from a cached shape, plancache.h).
 *
 * Whether an INSERT is plain is decided from DuckDB's own parse trees
 * (json_serialize_sql), once per statement; the write then goes to the
 * batcher as a duckpond_write acknowledged in the session's ack mode, or,
 * inside a transaction, is applied on the session's connection.
 */
#ifndef DUCKPOND_INSERT_PLAN_H
#define DUCKPOND_INSERT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duckpond.h"

struct session;
struct stmt;
struct portal;

/*
 * A clock function's value as its column takes it, read once per
 * statement when the batcher accepts it (DuckDB's TimeZone being UTC).
 */
enum plan_clock {
    PLAN_CLOCK_NONE = 0,
    PLAN_CLOCK_NOW,      /* the instant, as a TIMESTAMP value (timestamp and timestamptz columns) */
    PLAN_CLOCK_MIDNIGHT, /* the day's midnight, likewise (current_date into a timestamp column) */
    PLAN_CLOCK_DATE,     /* the day as 'YYYY-MM-DD' text (a date column) */
};

/* One value of a plain INSERT: a constant, a parameter, or a clock. */
struct plan_value {
    int param; /* 1-based parameter, 0 for a constant */
    int lit;   /* 1-based literal of the statement's text (a cached shape), 0 if none */
    enum plan_clock clock;
    duckpond_value value;
};

struct insert_plan {
    int refs;    /* statements and the plan cache share a plan */
    char *table; /* database.schema.table, as DuckDB resolves the INSERT's for the session */
    char **columns;
    int ncolumns; /* the INSERT's list, or the table's columns when it named none */
    int nrows, width;
    bool has_clock;
    struct plan_value *values; /* nrows * width */
};

/* Drops a reference; the last one frees the plan. NULL is fine. */
void insert_plan_unref(struct insert_plan *p);

/*
 * Decides, once per statement and catalog generation, whether a prepared
 * DuckDB INSERT is a plain INSERT ... VALUES the batcher can take: sets
 * st->plan when it is (and st->plan_checked either way). Queues nothing.
 */
void insert_plan_check(struct session *s, struct stmt *st);

/*
 * Runs st's plan, with the portal's parameters, through the batcher,
 * acknowledged in the session's ack mode. Returns 0 with the tag written
 * ("INSERT 0 n"), -1 with an error queued, or 1 (nothing done) when a
 * binary parameter has no batcher form and DuckDB must run it.
 * can_retry (a statement made from a cached shape, not analysed by
 * DuckDB): returns 2, queuing nothing, when the write failed in a way
 * DuckDB's analysis of the text might have reported first (a value that
 * does not convert, an unknown table) and nothing was written.
 */
int insert_plan_run(struct session *s, struct stmt *st, struct portal *p, char *tag, size_t taglen,
                    bool can_retry);

/*
 * Runs st's plan, with the portal's parameters, inside the session's open
 * transaction on its own connection (duckpond_write_apply). Returns 0
 * with the tag written, -1 with DuckDB's error queued (the statement ran
 * and failed: the transaction fails), or 1 when DuckDB must run the
 * statement (nothing was done: a binary parameter the batcher cannot
 * take, or a failure found before anything ran, which DuckDB's own run
 * then reports as DuckDB would).
 */
int insert_plan_apply(struct session *s, struct stmt *st, struct portal *p, char *tag, size_t taglen);

#endif
