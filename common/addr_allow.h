/*
 * addr_allow.h - peer address lists (mdpub's lines source `allow`, its
 * udp source `sender`, mdsub's --retransmit-allow): the address of a peer
 * as a comparable key (an IPv4-mapped IPv6 address is its IPv4 address),
 * and a list of addresses and CIDR prefixes, each optionally with a port,
 * a peer must match.
 */
#ifndef MDPUB_ADDR_ALLOW_H
#define MDPUB_ADDR_ALLOW_H

#include <stddef.h>

#include <arpa/inet.h>
#include <sys/socket.h>

/* A host address: family AF_INET (4 bytes used) or AF_INET6 (16). */
struct addr_key {
	int family;
	unsigned char bytes[16];
};

struct addr_rule {
	struct addr_key addr;
	unsigned bits; /* prefix length */
	unsigned port; /* 0: any */
};

struct addr_allow {
	struct addr_rule *rules; /* NULL when n == 0 */
	size_t n;
};

/* The key of sa (len bytes). Returns 0, or -EAFNOSUPPORT for a family
 * other than IPv4 and IPv6. */
int addr_key_of(struct addr_key *key, const struct sockaddr *sa,
		socklen_t len);

/* The port of sa (len bytes) in host order: 0 for a family other than
 * IPv4 and IPv6. */
unsigned addr_port_of(const struct sockaddr *sa, socklen_t len);

/* 1 when a and b are the same host address. */
int addr_key_equal(const struct addr_key *a, const struct addr_key *b);

/* key as text ("192.0.2.1", "2001:db8::1") in buf. */
void addr_key_text(const struct addr_key *key, char *buf, size_t len);

/* Parses a list of ADDRESS or ADDRESS/BITS (IPv4 or IPv6, numeric),
 * separated by spaces or commas, into *out; with `ports`, an entry may
 * end in :PORT (an IPv6 one in brackets then: [ADDRESS/BITS]:PORT).
 * Returns 0, -EINVAL (reason, naming `what` and the entry, in err) or
 * -ENOMEM. */
int addr_allow_parse(struct addr_allow *out, const char *text,
		     const char *what, int ports, char *err, size_t errlen);

/* 1 when key (from port `port`) matches a rule of the list (an empty
 * list allows all). */
int addr_allow_match(const struct addr_allow *allow,
		     const struct addr_key *key, unsigned port);

/* 1 when the rule's addresses and the network net/bits share one. */
int addr_rule_overlaps(const struct addr_rule *rule,
		       const struct addr_key *net, unsigned bits);

/* The rule as text, as it is written in a list ("10.0.0.0/8:5000",
 * "[::1]:5000"). */
void addr_rule_text(const struct addr_rule *rule, char *buf, size_t len);

/* 1 when sa (len bytes) matches a rule of the list. */
int addr_allow_match_sa(const struct addr_allow *allow,
			const struct sockaddr *sa, socklen_t len);

void addr_allow_free(struct addr_allow *allow);

#endif /* MDPUB_ADDR_ALLOW_H */
