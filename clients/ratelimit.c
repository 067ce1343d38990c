/*
 * ratelimit.c - token buckets of answer bytes for the re-request server
 * (retransmit.h): one per requester address (its port aside: one host
 * sending from many ports is one requester; an IPv6 one by its /64, which
 * a host usually has whole) in a table of RTX_PEERS, and
 * one for all of them (RTX_TOTAL_SHARES times the rate), so that neither
 * one requester nor a flood from many (spoofed) addresses gets more than
 * a bounded rate of answers, whatever they ask for. Work already done
 * for a requester (archive records read past, rtx_limit_charge()) is
 * taken whatever the buckets hold: a bucket in debt refuses everything
 * until its rate has paid the debt back.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "retransmit.h"

struct bucket {
	int64_t tokens;      /* bytes it may still send; below 0: owed */
	uint64_t at_ns;      /* when tokens was last brought up to date */
};

/* A requester: its address family and address, without the port. */
struct peer_key {
	sa_family_t family;  /* AF_UNSPEC: a free place */
	unsigned char addr[16];
};

struct peer {
	struct peer_key key;
	uint64_t seen_ns;    /* its last request */
	struct bucket b;
};

struct rtx_limit {
	uint64_t rate, burst;
	struct bucket total;
	struct peer peers[RTX_PEERS];
};

int rtx_limit_new(struct rtx_limit **out, uint64_t rate, uint64_t burst)
{
	struct rtx_limit *l;

	if (!rate || !burst)
		return -EINVAL;
	l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->rate = rate;
	l->burst = burst;
	l->total.tokens = (int64_t)(burst * RTX_TOTAL_SHARES);
	*out = l;
	return 0;
}

void rtx_limit_free(struct rtx_limit *l)
{
	free(l);
}

/* Adds what rate gave since the last time (paying a debt first), up to
 * burst. */
static void refill(struct bucket *b, uint64_t rate, uint64_t burst,
		   uint64_t now)
{
	uint64_t dt = now > b->at_ns ? now - b->at_ns : 0;
	double add = (double)dt * (double)rate / 1e9;

	if (add < 1)
		return;
	b->tokens = (double)b->tokens + add >= (double)burst ?
			    (int64_t)burst : b->tokens + (int64_t)add;
	b->at_ns = now;
}

/* The requester of a datagram from addr (the server's socket is IPv4 or
 * IPv6): an IPv4 address, or an IPv6 /64 (a v4-mapped address as
 * IPv4). */
static void key_of(struct peer_key *k, const void *addr, size_t addrlen)
{
	const struct sockaddr *sa = addr;
	const struct sockaddr_in *sin = addr;
	const struct sockaddr_in6 *sin6 = addr;

	memset(k, 0, sizeof *k);
	k->family = AF_INET6;
	if (addrlen >= sizeof *sin && sa->sa_family == AF_INET) {
		k->family = AF_INET;
		memcpy(k->addr, &sin->sin_addr, sizeof sin->sin_addr);
	} else if (addrlen >= sizeof *sin6 && sa->sa_family == AF_INET6 &&
		   IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		k->family = AF_INET;
		memcpy(k->addr, &sin6->sin6_addr.s6_addr[12], 4);
	} else if (addrlen >= sizeof *sin6 && sa->sa_family == AF_INET6) {
		memcpy(k->addr, &sin6->sin6_addr, 8);
	}
}

/* The requester's place: its own, a free one, or the least recently seen
 * (a full bucket for the newcomer: the total bucket bounds a flood). */
static struct peer *peer_of(struct rtx_limit *l, const void *addr,
			    size_t addrlen, uint64_t now)
{
	struct peer *p = &l->peers[0], *oldest = p;
	struct peer_key k;

	key_of(&k, addr, addrlen);
	for (p = l->peers; p < l->peers + RTX_PEERS; p++) {
		if (!memcmp(&p->key, &k, sizeof k))
			return p;
		if (p->key.family == AF_UNSPEC ||
		    (oldest->key.family != AF_UNSPEC &&
		     p->seen_ns < oldest->seen_ns))
			oldest = p;
	}
	oldest->key = k;
	oldest->b = (struct bucket){(int64_t)l->burst, now};
	return oldest;
}

/* The requester's bucket, and the total one, brought up to now. */
static struct peer *refilled(struct rtx_limit *l, const void *addr,
			     size_t addrlen, uint64_t now_ns)
{
	struct peer *p = peer_of(l, addr, addrlen, now_ns);

	refill(&p->b, l->rate, l->burst, now_ns);
	refill(&l->total, l->rate * RTX_TOTAL_SHARES,
	       l->burst * RTX_TOTAL_SHARES, now_ns);
	p->seen_ns = now_ns;
	return p;
}

int rtx_limit_take(struct rtx_limit *l, const void *addr, size_t addrlen,
		   uint64_t bytes, uint64_t now_ns)
{
	struct peer *p = refilled(l, addr, addrlen, now_ns);

	if (p->b.tokens < (int64_t)bytes || l->total.tokens < (int64_t)bytes)
		return 0;
	p->b.tokens -= (int64_t)bytes;
	l->total.tokens -= (int64_t)bytes;
	return 1;
}

void rtx_limit_charge(struct rtx_limit *l, const void *addr, size_t addrlen,
		      uint64_t bytes, uint64_t now_ns)
{
	struct peer *p = refilled(l, addr, addrlen, now_ns);

	p->b.tokens -= (int64_t)bytes;
	l->total.tokens -= (int64_t)bytes;
}
