/*
 * http_watchdog.h -- the HTTP server's list of open connections and the
 * thread that watches them: a client too slow to send its request is
 * dropped, a query past its statement timeout is interrupted, and a client
 * that does not read its answer well past that is dropped too.
 */
#ifndef DUCKPOND_HTTP_WATCHDOG_H
#define DUCKPOND_HTTP_WATCHDOG_H

#include <duckdb.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

struct http_watchdog;
/* One client connection, known to the watchdog. */
struct http_conn;

/*
 * Starts the watchdog thread; a request must be whole within
 * request_timeout_s of its first byte. NULL when the thread or memory
 * cannot be had.
 */
struct http_watchdog *http_watchdog_start(int request_timeout_s);

/* Stops the thread and frees; every connection must have been closed. */
void http_watchdog_stop(struct http_watchdog *w);

/*
 * A connection has opened on socket fd: returns its entry (NULL when
 * memory runs out; the connection is then not watched), to be given back
 * to http_watchdog_close.
 */
struct http_conn *http_watchdog_open(struct http_watchdog *w, int fd);
void http_watchdog_close(struct http_watchdog *w, struct http_conn *hc);

/* c's request is whole and being answered (true), or a new one is arriving. */
void http_watchdog_phase(struct http_watchdog *w, struct MHD_Connection *c, bool processing);

/*
 * Tells the watchdog that a query runs for client c on conn until
 * deadline_ms (monotonic, http_now_ms): past it the query is interrupted,
 * and a while later the client's socket is shut down (a client too slow to
 * read its answer). Returns the handle for http_watchdog_query_end (NULL
 * if c is not watched).
 */
struct http_conn *http_watchdog_query_begin(struct http_watchdog *w, struct MHD_Connection *c,
                                            duckdb_connection conn, int64_t deadline_ms);
/* The query has ended; returns whether the watchdog interrupted it. hc may be NULL. */
bool http_watchdog_query_end(struct http_watchdog *w, struct http_conn *hc);

/* Interrupts every running query now (the server is stopping). */
void http_watchdog_interrupt_all(struct http_watchdog *w);

#endif
