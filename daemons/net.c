/*
 * net.c - see net.h.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "local_port.h"
#include "net.h"

#define HOST_MAX 256

/* Splits text into host (NULL = any) and port. */
static int split(const char *text, char host[HOST_MAX], const char **port,
		 char *err, size_t errlen)
{
	const char *colon = strrchr(text, ':');
	size_t len;
	char *end;
	unsigned long p;

	if (!colon || !colon[1]) {
		snprintf(err, errlen, "'%s' is not HOST:PORT", text);
		return -EINVAL;
	}
	p = strtoul(colon + 1, &end, 10);
	if (*end || p > 65535) {
		snprintf(err, errlen, "'%s': bad port", text);
		return -EINVAL;
	}
	len = (size_t)(colon - text);
	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		text++;
		len -= 2;
	}
	if (len >= HOST_MAX) {
		snprintf(err, errlen, "'%s': host name too long", text);
		return -ENAMETOOLONG;
	}
	memcpy(host, text, len);
	host[len] = '\0';
	*port = colon + 1;
	return 0;
}

int net_check(const char *text, char *err, size_t errlen)
{
	char host[HOST_MAX];
	const char *port;

	return split(text, host, &port, err, errlen);
}

static int resolve(const char *text, int socktype, int passive,
		   struct addrinfo **ai, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = socktype,
				 .ai_flags = passive ? AI_PASSIVE : 0};
	char host[HOST_MAX];
	const char *port;
	int rc = split(text, host, &port, err, errlen);

	if (rc < 0)
		return rc;
	rc = getaddrinfo(*host && strcmp(host, "*") ? host : NULL, port, &hints,
			 ai);
	if (rc) {
		snprintf(err, errlen, "%s: %s", text, gai_strerror(rc));
		return rc == EAI_MEMORY ? -ENOMEM : -EADDRNOTAVAIL;
	}
	return 0;
}

int net_passive(const char *text, int socktype, struct sockaddr_storage *ss,
		char *err, size_t errlen)
{
	struct addrinfo *ai;
	int rc = resolve(text, socktype, 1, &ai, err, errlen);

	if (rc < 0)
		return rc;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static int sys_error(int fd, const char *text, const char *what, char *err,
		     size_t errlen)
{
	int code = errno;

	snprintf(err, errlen, "%s: %s: %s", text, what, strerror(code));
	if (fd >= 0)
		close(fd);
	return -code;
}

/* Whether a is a multicast group address. */
static int is_multicast(const struct addrinfo *a)
{
	if (a->ai_family == AF_INET)
		return IN_MULTICAST(ntohl(((const struct sockaddr_in *)
					   (const void *)a->ai_addr)->sin_addr.s_addr));
	if (a->ai_family == AF_INET6)
		return IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)
					       (const void *)a->ai_addr)->sin6_addr);
	return 0;
}

/*
 * Which address reuse a socket may have: a TCP listener SO_REUSEADDR (a
 * restart binds while old connections linger; Linux never lets two TCP
 * listeners share a port with it); a UDP socket none, since between two
 * UDP sockets that both set SO_REUSEADDR Linux lets any local user bind
 * the port too and take its unicast datagrams; a multicast group
 * SO_REUSEPORT, which shares the port only among sockets of one
 * effective uid (each gets every group datagram).
 */
static int reuse_option(int socktype, const struct addrinfo *a)
{
	if (socktype == SOCK_STREAM)
		return SO_REUSEADDR;
	return is_multicast(a) ? SO_REUSEPORT : 0;
}

static int bind_socket(const char *text, int socktype,
		       const struct addrinfo *a, char *err, size_t errlen)
{
	int on = 1, opt = reuse_option(socktype, a);
	int fd = socket(a->ai_family,
			a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			a->ai_protocol);

	if (fd < 0)
		return sys_error(fd, text, "socket", err, errlen);
	if (opt && setsockopt(fd, SOL_SOCKET, opt, &on, sizeof(on)) < 0)
		return sys_error(fd, text, opt == SO_REUSEADDR ? "SO_REUSEADDR"
							       : "SO_REUSEPORT",
				 err, errlen);
	if (bind(fd, a->ai_addr, a->ai_addrlen) < 0)
		return sys_error(fd, text, "bind", err, errlen);
	if (socktype == SOCK_STREAM && listen(fd, 16) < 0)
		return sys_error(fd, text, "listen", err, errlen);
	return fd;
}

int net_bind(const char *text, int socktype, struct addrinfo **ai, char *err,
	     size_t errlen)
{
	int fd = resolve(text, socktype, 1, ai, err, errlen);

	if (fd < 0)
		return fd;
	fd = bind_socket(text, socktype, *ai, err, errlen);
	if (fd < 0) {
		freeaddrinfo(*ai);
		*ai = NULL;
	}
	return fd;
}

void net_local(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};
	socklen_t sl = sizeof(ss);
	char host[HOST_MAX], port[16];
	int v6;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, len, "?");
		return;
	}
	v6 = ss.ss_family == AF_INET6;
	snprintf(buf, len, "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
		 port);
}

int net_connect(const char *text, int socktype, char *err, size_t errlen)
{
	struct addrinfo *ai;
	int fd = resolve(text, socktype, 0, &ai, err, errlen);

	if (fd < 0)
		return fd;
	fd = socket(ai->ai_family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		       errno != EINPROGRESS)) {
		freeaddrinfo(ai);
		return sys_error(fd, text, "connect", err, errlen);
	}
	freeaddrinfo(ai);
	return fd;
}

int net_connected(int fd, char *err, size_t errlen)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (!soerr)
		return 0;
	snprintf(err, errlen, "connect: %s", strerror(soerr));
	return -soerr;
}

int net_keepalive(int fd, unsigned sec)
{
	int on = 1, idle = (int)sec, count = 3;
	unsigned user_ms = 4 * sec * 1000;

	if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms,
		       sizeof(user_ms)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0)
		return -errno;
	return 0;
}

int net_port_warning(char *buf, size_t len, const char *key,
		     const char *text, const char *while_, const char *fix)
{
	unsigned start = local_port_start();

	if (!local_port_takeable(text, start))
		return 0;
	snprintf(buf, len, "%s %s: any local user may take this port while "
		 "%s; %s below %u, or on another host (mdpub.conf(5))", key,
		 text, while_, fix, start);
	return 1;
}
