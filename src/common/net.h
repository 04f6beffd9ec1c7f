/*
 * net.h -- TCP listening sockets, peer addresses, and the options every
 * accepted connection gets, for every listener of the server (the
 * PostgreSQL protocol, HTTP, the line protocol).
 */
#ifndef DUCKPOND_NET_H
#define DUCKPOND_NET_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Binds a listening TCP socket (close-on-exec, SO_REUSEADDR, backlog 1024)
 * on the first of addr's addresses that takes it, port port (0: any free
 * one). 0 with the socket in *fd and the bound port in *bound, or -1 with
 * the reason in err ("cannot listen on ADDR port N: ...").
 */
int dp_listen_tcp(const char *addr, int port, int *fd, int *bound, char *err, size_t errlen);

/* A peer's address as text, "host:port" ("[host]:port" for IPv6), or "?". */
void dp_peer_text(const struct sockaddr *sa, socklen_t len, char *out, size_t n);

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
