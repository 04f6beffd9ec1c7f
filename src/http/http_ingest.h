/*
 * http_ingest.h -- POST /v1/tables/{table}/rows (http_ingest.c): NDJSON
 * or CSV rows parsed as the body arrives, written through the batcher.
 */
#ifndef DUCKPOND_HTTP_INGEST_H
#define DUCKPOND_HTTP_INGEST_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "http_common.h"

/* An ingest request being received: rows are parsed as bytes arrive. */
struct http_ingest;

/*
 * Starts receiving rows for table (copied). csv selects the CSV parser
 * (header line first), else NDJSON; atomic: one bad line or row fails the
 * whole request. NULL when memory runs out. env must outlive it.
 */
struct http_ingest *http_ingest_new(struct http_env *env, const char *table, bool csv, bool atomic);
/* Feeds body bytes (not taken). */
void http_ingest_feed(struct http_ingest *in, const char *p, size_t n);
/*
 * At the end of the body: submits the rows, waits for their ack and
 * queues the answer. Returns MHD's result.
 */
enum MHD_Result http_ingest_finish(struct http_ingest *in, struct MHD_Connection *c);
void http_ingest_free(struct http_ingest *in);

#endif
