/*
 * local_port.c - whether an address is a port of this host that any
 * local user may bind (common/local_port.h).
 */
#include "config.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr_allow.h"
#include "local_port.h"

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

int local_port_takeable(const char *text, unsigned start)
{
	struct addr_allow one;
	char err[256];
	int free_port;

	if (!text || addr_allow_parse(&one, text, "address", 1, err,
				      sizeof(err)) < 0)
		return 0;
	free_port = one.n == 1 && one.rules[0].port >= start &&
		    (local_port_on_this_host(&one.rules[0]) ||
		     unspecified(&one.rules[0]));
	addr_allow_free(&one);
	return free_port;
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
