/*
 * net.h - sockets from "HOST:PORT" text for the udp and lines sources.
 * HOST may be a name, an IPv4 address, [an IPv6 address], or empty or *
 * for any address.
 */
#ifndef MDPUB_NET_H
#define MDPUB_NET_H

#include <stddef.h>

struct addrinfo;
struct sockaddr_storage;

/* The warning for `key = text` when it is a port any local user may
 * take (local_port_takeable()): 1 with "KEY TEXT: any local user may
 * take this port while WHILE; FIX below N, or on another host
 * (mdpub.conf(5))" in buf, else 0. */
int net_port_warning(char *buf, size_t len, const char *key,
		     const char *text, const char *while_, const char *fix);

/* Every function returning int returns a negated errno on failure, with
 * the reason in err: -EINVAL or -ENAMETOOLONG for text that is not
 * HOST:PORT, -EADDRNOTAVAIL (or -ENOMEM) when the name does not resolve,
 * the system call's errno otherwise. */

/* 0 when text has the HOST:PORT shape with a numeric port (for config
 * checks; resolves nothing). */
int net_check(const char *text, char *err, size_t errlen);

/* A non-blocking socket of `socktype` (SOCK_STREAM: listening; SOCK_DGRAM:
 * bound, with SO_REUSEADDR) on the address. Sets *ai to the resolved
 * address (freeaddrinfo it). Returns the fd. */
int net_bind(const char *text, int socktype, struct addrinfo **ai, char *err,
	     size_t errlen);

/* The address net_bind() would bind a socket of `socktype` to, in *ss
 * (resolving a name). */
int net_passive(const char *text, int socktype, struct sockaddr_storage *ss,
		char *err, size_t errlen);

/* The address fd is bound to, as "HOST:PORT" ("[HOST]:PORT" for IPv6),
 * so that a port 0 in the config shows as the one the system chose. */
void net_local(int fd, char *buf, size_t len);

/* A non-blocking socket of `socktype` connected to the address: for
 * SOCK_STREAM the connect() has started (finish it with net_connected());
 * a SOCK_DGRAM one sends there and receives from there only. Returns the
 * fd. */
int net_connect(const char *text, int socktype, char *err, size_t errlen);

/* 0 when the connect() started on fd succeeded. */
int net_connected(int fd, char *err, size_t errlen);

/* TCP keepalive on the connected stream socket fd: a probe after sec
 * seconds without traffic, then every sec seconds; after 3 unanswered
 * (or, with data unacknowledged, 4 sec seconds) the connection fails
 * with ETIMEDOUT. A peer that vanished without FIN or RST (its host
 * died, a partition) is then seen by one that never writes. 0, or a
 * negative errno (the socket is left as it was set so far). */
int net_keepalive(int fd, unsigned sec);

#endif /* MDPUB_NET_H */
