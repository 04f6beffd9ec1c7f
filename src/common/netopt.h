/*
 * netopt.h -- socket options every accepted connection gets, whichever
 * protocol serves it (the PostgreSQL listener and the HTTP daemon).
 */
#ifndef DUCKPOND_NETOPT_H
#define DUCKPOND_NETOPT_H

/*
 * Turns TCP keepalive on for a connected socket, with probes after
 * DP_KEEPALIVE_IDLE_S idle seconds, every DP_KEEPALIVE_INTERVAL_S, and
 * the connection ended after DP_KEEPALIVE_COUNT unanswered ones: a client
 * whose host vanished is noticed within minutes rather than the system's
 * two hours. Failures are ignored (the connection works without it).
 */
void dp_socket_keepalive(int fd);

#define DP_KEEPALIVE_IDLE_S 60
#define DP_KEEPALIVE_INTERVAL_S 10
#define DP_KEEPALIVE_COUNT 6

#endif
