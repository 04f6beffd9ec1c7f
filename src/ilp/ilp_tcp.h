/*
 * ilp_tcp.h -- the line protocol over TCP (InfluxDB's and QuestDB's
 * "ILP over TCP"): a listener and one thread per connection.
 */
#ifndef DUCKPOND_ILP_TCP_H
#define DUCKPOND_ILP_TCP_H

#include <stddef.h>

#include "ilp_ingest.h"

struct ilp_tcp;

/*
 * Listens on address listen, port port (0 is refused: the caller leaves
 * the listener off), and serves each connection on a thread of its own,
 * at most max_conns at once (more are closed at once). e must outlive
 * the listener. DUCKPOND_OK with *out, or a status with the reason in err.
 */
int ilp_tcp_start(struct ilp_env *e, const char *listen, int port, int max_conns, struct ilp_tcp **out,
                  char *err, size_t errlen);

/* The bound port. */
int ilp_tcp_port(const struct ilp_tcp *t);

/*
 * Stops accepting, ends every connection's reading (what it sent before
 * is written, as at a close by the client), waits for their threads and
 * frees t (NULL: nothing).
 */
void ilp_tcp_stop(struct ilp_tcp *t);

#endif
