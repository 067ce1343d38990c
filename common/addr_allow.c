/*
 * addr_allow.c - see addr_allow.h.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr_allow.h"

#define SEPARATORS " \t,"
#define ENTRY_MAX 72 /* longest "[ADDRESS/BITS]:PORT" */

static void key_set(struct addr_key *key, int family, const void *bytes)
{
	memset(key, 0, sizeof(*key));
	key->family = family;
	memcpy(key->bytes, bytes, family == AF_INET ? 4 : 16);
}

int addr_key_of(struct addr_key *key, const struct sockaddr *sa,
		socklen_t len)
{
	const struct sockaddr_in *sin = (const void *)sa;
	const struct sockaddr_in6 *sin6 = (const void *)sa;

	if (sa->sa_family == AF_INET && len >= sizeof(*sin)) {
		key_set(key, AF_INET, &sin->sin_addr);
		return 0;
	}
	if (sa->sa_family != AF_INET6 || len < sizeof(*sin6))
		return -EAFNOSUPPORT;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		key_set(key, AF_INET, sin6->sin6_addr.s6_addr + 12);
	else
		key_set(key, AF_INET6, &sin6->sin6_addr);
	return 0;
}

unsigned addr_port_of(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in *sin = (const void *)sa;
	const struct sockaddr_in6 *sin6 = (const void *)sa;

	if (sa->sa_family == AF_INET && len >= sizeof(*sin))
		return ntohs(sin->sin_port);
	if (sa->sa_family == AF_INET6 && len >= sizeof(*sin6))
		return ntohs(sin6->sin6_port);
	return 0;
}

int addr_key_equal(const struct addr_key *a, const struct addr_key *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

void addr_key_text(const struct addr_key *key, char *buf, size_t len)
{
	if (!inet_ntop(key->family, key->bytes, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* 1 when the first `bits` bits of a and b are equal. */
static int prefix_equal(const unsigned char *a, const unsigned char *b,
			unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	unsigned char mask = (unsigned char)(0xff00u >> rest);

	if (memcmp(a, b, whole) != 0)
		return 0;
	return !rest || ((a[whole] ^ b[whole]) & mask) == 0;
}

int addr_allow_match(const struct addr_allow *allow,
		     const struct addr_key *key, unsigned port)
{
	if (!allow->n)
		return 1;
	for (size_t i = 0; i < allow->n; i++) {
		const struct addr_rule *r = &allow->rules[i];

		if (r->addr.family == key->family &&
		    (!r->port || r->port == port) &&
		    prefix_equal(r->addr.bytes, key->bytes, r->bits))
			return 1;
	}
	return 0;
}

int addr_rule_overlaps(const struct addr_rule *rule,
		       const struct addr_key *net, unsigned bits)
{
	return rule->addr.family == net->family &&
	       prefix_equal(rule->addr.bytes, net->bytes,
			    bits < rule->bits ? bits : rule->bits);
}

void addr_rule_text(const struct addr_rule *rule, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN], port[12] = "";
	int v6 = rule->addr.family == AF_INET6;
	unsigned max = v6 ? 128 : 32;
	char bits[12] = "";

	addr_key_text(&rule->addr, addr, sizeof(addr));
	if (rule->bits != max)
		snprintf(bits, sizeof(bits), "/%u", rule->bits);
	if (rule->port)
		snprintf(port, sizeof(port), ":%u", rule->port);
	snprintf(buf, len, "%s%s%s%s%s", v6 && rule->port ? "[" : "", addr,
		 bits, v6 && rule->port ? "]" : "", port);
}

int addr_allow_match_sa(const struct addr_allow *allow,
			const struct sockaddr *sa, socklen_t len)
{
	struct addr_key key;

	if (!allow->n)
		return 1;
	if (addr_key_of(&key, sa, len) < 0)
		return 0;
	return addr_allow_match(allow, &key, addr_port_of(sa, len));
}

/* Cuts a ":PORT" off text (an IPv6 address then in brackets, which are
 * cut too) into *port. Returns 0 or -1. */
static int cut_port(char *text, unsigned *port)
{
	char *colon = text[0] == '[' ? strstr(text, "]:") : strchr(text, ':');
	unsigned long p;
	char *end;

	if (text[0] == '[' && !colon)
		return -1;
	if (!colon || (text[0] != '[' && strchr(colon + 1, ':')))
		return 0; /* none (a bare IPv6 address) */
	if (text[0] == '[') {
		memmove(text, text + 1, (size_t)(colon - text) - 1);
		colon[-1] = '\0';
		colon++;
	}
	*colon = '\0';
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || !p || p > 65535)
		return -1;
	*port = (unsigned)p;
	return 0;
}

/* An IPv4-mapped rule (::ffff:A.B.C.D/96 or longer) becomes the IPv4
 * one, as addr_key_of() keys a mapped peer by its IPv4 address. */
static void map_v4(struct addr_rule *rule)
{
	struct in6_addr a;

	memcpy(&a, rule->addr.bytes, sizeof(a));
	if (rule->addr.family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a) ||
	    rule->bits < 96)
		return;
	key_set(&rule->addr, AF_INET, a.s6_addr + 12);
	rule->bits -= 96;
}

/* One "ADDRESS[/BITS]" (with ports: and an optional ":PORT") of len bytes
 * into *rule: 0 or -EINVAL. */
static int parse_rule(struct addr_rule *rule, const char *entry, size_t len,
		      const char *what, int ports, char *err, size_t errlen)
{
	char text[ENTRY_MAX + 1], *slash, *end;
	unsigned char bytes[16];
	unsigned long bits;
	unsigned max, port = 0;
	int family;

	if (len > ENTRY_MAX)
		goto bad;
	memcpy(text, entry, len);
	text[len] = '\0';
	if (ports && cut_port(text, &port) < 0)
		goto bad;
	slash = strchr(text, '/');
	if (slash)
		*slash = '\0';
	family = strchr(text, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, text, bytes) != 1)
		goto bad;
	max = family == AF_INET ? 32 : 128;
	bits = max;
	if (slash) {
		bits = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || bits > max)
			goto bad;
	}
	key_set(&rule->addr, family, bytes);
	rule->bits = (unsigned)bits;
	rule->port = port;
	map_v4(rule);
	return 0;
bad:
	snprintf(err, errlen, "%s: '%.*s' is not an address or "
		 "address/prefix-length%s", what, (int)len, entry,
		 ports ? " (with an optional :port)" : "");
	return -EINVAL;
}

static size_t count_entries(const char *text)
{
	size_t n = 0;

	for (text += strspn(text, SEPARATORS); *text;
	     text += strspn(text, SEPARATORS)) {
		n++;
		text += strcspn(text, SEPARATORS);
	}
	return n;
}

int addr_allow_parse(struct addr_allow *out, const char *text,
		     const char *what, int ports, char *err, size_t errlen)
{
	size_t n = count_entries(text);
	struct addr_rule *rules;

	out->rules = NULL;
	out->n = 0;
	if (!n) {
		snprintf(err, errlen, "%s: no address", what);
		return -EINVAL;
	}
	rules = calloc(n, sizeof(*rules));
	if (!rules) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len;

		text += strspn(text, SEPARATORS);
		len = strcspn(text, SEPARATORS);
		if (parse_rule(&rules[i], text, len, what, ports, err,
			       errlen) < 0) {
			free(rules);
			return -EINVAL;
		}
		text += len;
	}
	out->rules = rules;
	out->n = n;
	return 0;
}

void addr_allow_free(struct addr_allow *allow)
{
	free(allow->rules);
	allow->rules = NULL;
	allow->n = 0;
}
