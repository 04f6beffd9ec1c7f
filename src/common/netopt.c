/*
 * netopt.c -- socket options of accepted connections (netopt.h).
 */
#include "netopt.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

void dp_socket_keepalive(int fd)
{
    int one = 1, idle = DP_KEEPALIVE_IDLE_S, interval = DP_KEEPALIVE_INTERVAL_S, count = DP_KEEPALIVE_COUNT;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) != 0)
        return;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}
