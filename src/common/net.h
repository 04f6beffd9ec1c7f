/*
 * net.h -- TCP listening sockets and peer addresses, for every listener
 * of the server (the PostgreSQL protocol, the line protocol).
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

#endif
