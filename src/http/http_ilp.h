/*
 * http_ilp.h -- the line protocol over HTTP: POST /write and
 * /api/v2/write (InfluxDB v1 and v2, QuestDB), GET /ping.
 */
#ifndef DUCKPOND_HTTP_ILP_H
#define DUCKPOND_HTTP_ILP_H

#include "http_common.h"

struct http_ilp;

/*
 * Starts a request whose headers are in: reads its precision and ack mode.
 * NULL with an answer queued (a bad parameter, out of memory) in *ret.
 */
struct http_ilp *http_ilp_new(struct http_env *env, struct MHD_Connection *c, enum MHD_Result *ret);

/* Takes the next n bytes of the body. */
void http_ilp_feed(struct http_ilp *in, const char *p, size_t n);

/* The body has ended: writes the rows (unless a line failed) and answers. */
enum MHD_Result http_ilp_finish(struct http_ilp *in, struct MHD_Connection *c);

void http_ilp_free(struct http_ilp *in);

/* GET or HEAD /ping: 204, as InfluxDB answers it. */
enum MHD_Result http_ilp_ping(struct MHD_Connection *c);

#endif
