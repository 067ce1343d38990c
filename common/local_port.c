/*
 * local_port.c - whether an address is a port of this host that any
 * local user may bind (common/local_port.h).
 */
#include "config.h"

#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr_allow.h"
#include "local_port.h"
#include "parse_num.h"

#define PORT_START_FILE "/proc/sys/net/ipv4/ip_unprivileged_port_start"
#define PORT_START_DEFAULT 1024 /* the kernel's, when it cannot be read */

unsigned local_port_start(void)
{
	FILE *f = fopen(PORT_START_FILE, "re");
	unsigned port = PORT_START_DEFAULT;

	if (!f)
		return port;
	if (fscanf(f, "%u", &port) != 1)
		port = PORT_START_DEFAULT;
	fclose(f);
	return port;
}

int local_port_on_this_host(const struct addr_rule *r)
{
	struct addr_key lo4 = {.family = AF_INET, .bytes = {127}};
	struct addr_key lo6 = {.family = AF_INET6, .bytes = {[15] = 1}};
	struct ifaddrs *list, *i;
	struct addr_key key;
	int found;

	if (addr_rule_overlaps(r, &lo4, 8) || addr_rule_overlaps(r, &lo6, 128))
		return 1;
	if (getifaddrs(&list) < 0)
		return 0;
	found = 0;
	for (i = list; i && !found; i = i->ifa_next)
		found = i->ifa_addr &&
			addr_key_of(&key, i->ifa_addr,
				    sizeof(struct sockaddr_in6)) == 0 &&
			addr_rule_overlaps(r, &key, 128);
	freeifaddrs(list);
	return found;
}

/* 1 when the rule admits the unspecified address (0.0.0.0, ::): as a
 * destination, Linux sends to this host there (a TCP connect or a UDP
 * datagram to 0.0.0.0:PORT reaches what listens on 127.0.0.1:PORT, to
 * [::]:PORT what listens on [::1]:PORT). Never a peer's address, so not
 * local_port_on_this_host()'s (mdpub's sender rules). */
static int unspecified(const struct addr_rule *r)
{
	struct addr_key any4 = {.family = AF_INET};
	struct addr_key any6 = {.family = AF_INET6};

	return addr_rule_overlaps(r, &any4, 32) ||
	       addr_rule_overlaps(r, &any6, 128);
}

/* Whether host is "localhost" or a name under it, which always name
 * the loopback addresses (RFC 6761, 6.3; glibc answers them so without
 * a lookup). */
static int localhost_name(const char *host)
{
	size_t n = strlen(host);

	if (n && host[n - 1] == '.') /* the absolute form */
		n--;
	return (n == 9 && !strncasecmp(host, "localhost", 9)) ||
	       (n > 10 && !strncasecmp(host + n - 10, ".localhost", 10));
}

/* The address of text, HOST:PORT or [HOST]:PORT, as the programs' own
 * getaddrinfo() with AI_NUMERICHOST reads it (inet_aton()'s forms too:
 * 127.1 and 2130706433 are 127.0.0.1), into *r; 0, or -1 (not numeric,
 * no port). A name is not resolved, but localhost is 127.0.0.1
 * (localhost_name()): before, connect = localhost:9000 was not warned
 * about where 127.0.0.1:9000 was (attack run). */
static int numeric_rule(const char *text, struct addr_rule *r)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST}, *ai = NULL;
	char host[256];
	const char *end = *text == '[' ? strchr(text, ']') : strrchr(text, ':');
	const char *h = text + (*text == '[');
	uint64_t port;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!end || end <= h || (size_t)(end - h) >= sizeof(host))
		return -1;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	end += *end == ']';
	if (localhost_name(host))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (*end != ':' || parse_u64(end + 1, 10, &port) || port < 1 ||
	    port > 65535 || getaddrinfo(host, NULL, &hints, &ai))
		return -1;
	rc = addr_key_of(&r->addr, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	r->bits = r->addr.family == AF_INET ? 32 : 128;
	r->port = (unsigned)port;
	return rc < 0 ? -1 : 0;
}

int local_port_takeable(const char *text, unsigned start)
{
	struct addr_rule r;

	return text && numeric_rule(text, &r) == 0 && r.port >= start &&
	       (local_port_on_this_host(&r) || unspecified(&r));
}

int local_port_url(const char *urls, const char *const schemes[],
		   unsigned start, const char **scheme, char *out,
		   size_t outlen)
{
	for (const char *p = urls; p && *p;) {
		size_t n = strcspn(p, ","), k;

		for (k = 0; schemes[k]; k++) {
			size_t skip = strlen(schemes[k]);
			const char *host = p + skip, *at;

			if (n <= skip || strncmp(p, schemes[k], skip))
				continue;
			/* USER[:PASSWORD]@ or TOKEN@: the NATS client library
			 * takes what follows the last '@' for the host */
			for (at = host; at < p + n; at++)
				if (*at == '@')
					host = at + 1;
			if ((size_t)(p + n - host) >= outlen)
				continue;
			memcpy(out, host, (size_t)(p + n - host));
			out[p + n - host] = '\0';
			if (local_port_takeable(out, start)) {
				*scheme = schemes[k];
				return 1;
			}
		}
		p += n + (p[n] == ',');
	}
	return 0;
}
