/*
 * t_retransmit.c - cmocka tests of the re-request server's parts
 * (clients/retransmit.h): the store of recent messages (answers byte for
 * byte across the wrap of its ring, eviction by depth and by bytes,
 * numbering holes, the packet size limit) and the token buckets (per
 * requester, in total, refill, a table full of requesters), with explicit
 * times so that nothing depends on the machine's speed.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "retransmit.h"

#define SESSION "TEST      "
#define PAYLOAD 200

/* Message num: PAYLOAD bytes that say num. */
static void fill(unsigned char *p, uint64_t num)
{
	for (int i = 0; i < PAYLOAD; i++)
		p[i] = (unsigned char)(num * 7 + (uint64_t)i);
}

/* A packet of count messages from num on; returns its length. */
static size_t packet(unsigned char *buf, uint64_t num, unsigned count)
{
	unsigned char payload[PAYLOAD];
	struct mold_writer w;

	mold_writer_init(&w, buf, MOLD_PACKET_MAX);
	for (unsigned i = 0; i < count; i++) {
		struct mold_msg m = {.ts_ns = num + i, .type = 1,
				     .payload = payload, .size = PAYLOAD};

		fill(payload, num + i);
		assert_int_equal(mold_append_msg(&w, &m), 0);
	}
	return (size_t)mold_writer_seal(&w, SESSION, num);
}

/* Answers from seq, and checks every message in it is the one kept. */
static unsigned answer(const struct rtx_store *s, uint64_t seq,
		       unsigned count, size_t cap)
{
	static unsigned char buf[MOLD_PACKET_MAX];
	unsigned char want[PAYLOAD];
	struct mold_writer w;
	struct mold_reader r;
	struct mold_header h;
	const unsigned char *data;
	size_t len;
	uint64_t num;
	unsigned n, seen = 0;

	mold_writer_init(&w, buf, cap);
	n = rtx_store_answer(s, seq, count, &w);
	mold_writer_seal(&w, SESSION, seq);
	assert_int_equal(mold_reader_init(&r, buf, w.len, &h), 0);
	while (mold_next(&r, &data, &len, &num) > 0) {
		struct mold_msg m;

		assert_int_equal(mold_msg_decode(data, len, &m), 0);
		assert_true(m.ts_ns == num);
		assert_int_equal(m.size, PAYLOAD);
		fill(want, num);
		assert_memory_equal(m.payload, want, PAYLOAD);
		seen++;
	}
	assert_int_equal(seen, n);
	return n;
}

static void t_store(void **state)
{
	static unsigned char pkt[MOLD_PACKET_MAX];
	struct rtx_store *s;
	size_t block = MDBUS_UDP_MSG_LEN + PAYLOAD;

	assert_int_equal(rtx_store_new(&s, 0, 1 << 20), -EINVAL);
	assert_int_equal(rtx_store_new(&s, 10, MOLD_BLOCK_MAX - 1), -EINVAL);
	assert_int_equal(rtx_store_new(&s, 1000, MOLD_BLOCK_MAX), 0);
	assert_int_equal(answer(s, 1, 10, MOLD_PACKET_MAX), 0);
	for (uint64_t num = 1; num <= 1000; num += 5)
		rtx_store_packet(s, pkt, packet(pkt, num, 5));
	/* bytes: the last 309 messages fit the ring (wrapped three times) */
	assert_true(MOLD_BLOCK_MAX / block == 309);
	assert_int_equal(answer(s, 1000 - 309, 1, MOLD_PACKET_MAX), 0);
	assert_int_equal(answer(s, 1000 - 308, 1, MOLD_PACKET_MAX), 1);
	assert_int_equal(answer(s, 1000 - 299, 300, MOLD_PACKET_MAX), 300);
	/* a full datagram: (65507 - 20) / 214 messages */
	assert_int_equal(answer(s, 1000 - 308, 309, MOLD_PACKET_MAX), 306);
	assert_int_equal(answer(s, 1000, 65535, MOLD_PACKET_MAX), 1);
	assert_int_equal(answer(s, 1001, 1, MOLD_PACKET_MAX), 0);
	assert_int_equal(answer(s, UINT64_MAX, 65535, MOLD_PACKET_MAX), 0);
	/* one packet of 1400 bytes: (1400 - 20) / 214 messages */
	assert_int_equal(answer(s, 900, 65535, 1400), 6);
	assert_int_equal(answer(s, 900, 2, 1400), 2);
	/* a hole in the numbering (filtered out): the answer stops there;
	 * a repeated or older number is not kept */
	rtx_store_packet(s, pkt, packet(pkt, 1005, 2));
	rtx_store_packet(s, pkt, packet(pkt, 1003, 1));
	assert_int_equal(answer(s, 999, 10, MOLD_PACKET_MAX), 2);
	assert_int_equal(answer(s, 1003, 10, MOLD_PACKET_MAX), 0);
	assert_int_equal(answer(s, 1005, 10, MOLD_PACKET_MAX), 2);
	/* a new session empties it */
	rtx_store_clear(s);
	assert_int_equal(answer(s, 1005, 10, MOLD_PACKET_MAX), 0);
	rtx_store_free(s);

	/* depth: the last 4 messages */
	assert_int_equal(rtx_store_new(&s, 4, 1 << 20), 0);
	rtx_store_packet(s, pkt, packet(pkt, 1, 10));
	assert_int_equal(answer(s, 6, 10, MOLD_PACKET_MAX), 0);
	assert_int_equal(answer(s, 7, 10, MOLD_PACKET_MAX), 4);
	rtx_store_free(s);
}

static struct sockaddr_in peer_port(unsigned i, unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};

	a.sin_addr.s_addr = htonl(0x0a000000u + i);
	return a;
}

static struct sockaddr_in peer(unsigned i)
{
	return peer_port(i, 9);
}

static int take(struct rtx_limit *l, unsigned i, uint64_t bytes, uint64_t t)
{
	struct sockaddr_in a = peer(i);

	return rtx_limit_take(l, &a, sizeof a, bytes, t);
}

/* One host from many source ports, and as a v4-mapped IPv6 address, is
 * one requester, as is an IPv6 /64: before, each port had a full bucket
 * of its own (one allowed host took the total share from 300 ports, 4
 * times its rate), and each address of a /64 would have. */
static void t_ports(void **state)
{
	const uint64_t s = 1000000000ULL;
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6,
				  .sin6_port = htons(7)};
	struct rtx_limit *l;
	int ok = 0;

	assert_int_equal(rtx_limit_new(&l, 1000, 2000), 0);
	for (unsigned port = 1000; port < 1300; port++) {
		struct sockaddr_in a = peer_port(1, port);

		ok += rtx_limit_take(l, &a, sizeof a, 500, s);
	}
	assert_int_equal(ok, 4); /* its 2000, not the total's 8000 */
	/* ::ffff:10.0.0.1 is 10.0.0.1: empty; 10.0.0.2 is another */
	v6.sin6_addr.s6_addr[10] = v6.sin6_addr.s6_addr[11] = 0xff;
	v6.sin6_addr.s6_addr[12] = 10;
	v6.sin6_addr.s6_addr[15] = 1;
	assert_int_equal(rtx_limit_take(l, &v6, sizeof v6, 1, s), 0);
	v6.sin6_addr.s6_addr[15] = 2;
	assert_int_equal(rtx_limit_take(l, &v6, sizeof v6, 2000, s), 1);
	/* 2001:db8::1 to ::12c, one /64: its 2000 */
	memset(&v6.sin6_addr, 0, sizeof v6.sin6_addr);
	v6.sin6_addr.s6_addr[0] = 0x20;
	v6.sin6_addr.s6_addr[1] = 0x01;
	v6.sin6_addr.s6_addr[2] = 0x0d;
	v6.sin6_addr.s6_addr[3] = 0xb8;
	ok = 0;
	for (unsigned i = 1; i <= 300; i++) {
		v6.sin6_addr.s6_addr[14] = (uint8_t)(i >> 8);
		v6.sin6_addr.s6_addr[15] = (uint8_t)i;
		ok += rtx_limit_take(l, &v6, sizeof v6, 500, s);
	}
	assert_int_equal(ok, 4);
	rtx_limit_free(l);
	(void)state;
}

static void t_limit(void **state)
{
	const uint64_t s = 1000000000ULL;
	struct rtx_limit *l;
	int ok = 0;

	assert_int_equal(rtx_limit_new(&l, 0, 1), -EINVAL);
	/* 1000 bytes/s, 2000 at once; the total: 4000/s, 8000 at once */
	assert_int_equal(rtx_limit_new(&l, 1000, 2000), 0);
	assert_int_equal(take(l, 1, 1500, s), 1);
	assert_int_equal(take(l, 1, 1000, s), 0);      /* 500 left */
	assert_int_equal(take(l, 1, 1000, s + s / 2), 1); /* 500 + 500 */
	assert_int_equal(take(l, 1, 1, s + s / 2), 0);
	assert_int_equal(take(l, 1, 2000, 10 * s), 1); /* full again, no more */
	assert_int_equal(take(l, 1, 1, 10 * s), 0);
	/* 300 requesters (more than the table holds) at one time: the total
	 * bucket (8000 by 10 s, 2000 of it taken by requester 1) lets 3 of
	 * them have their 2000 */
	for (unsigned i = 2; i < 302; i++)
		ok += take(l, i, 2000, 10 * s);
	assert_int_equal(ok, 3); /* 8000 - 2000 taken by requester 1 */
	rtx_limit_free(l);
	(void)state;
}

/* Work charged after it was done (archive records read past) is taken
 * whatever the buckets hold: they refuse until their rate paid it back. */
static void t_debt(void **state)
{
	const uint64_t s = 1000000000ULL, ms = s / 1000;
	struct sockaddr_in a = peer(1);
	struct rtx_limit *l;

	/* 1000 bytes/s, 2000 at once; the total: 4000/s, 8000 at once */
	assert_int_equal(rtx_limit_new(&l, 1000, 2000), 0);
	assert_int_equal(take(l, 1, 500, s), 1);
	rtx_limit_charge(l, &a, sizeof a, 11500, s); /* 1500 - 11500 */
	/* the total (8000 - 12000) refuses everyone for 1 s */
	assert_int_equal(take(l, 2, 1, s + 1000 * ms), 0);
	assert_int_equal(take(l, 2, 4, s + 1001 * ms), 1);
	/* requester 1 for 10 s: -10000 + 9999 */
	assert_int_equal(take(l, 1, 1, s + 9999 * ms), 0);
	assert_int_equal(take(l, 1, 1, s + 10001 * ms), 1);
	rtx_limit_free(l);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_store),
		cmocka_unit_test(t_limit),
		cmocka_unit_test(t_debt),
		cmocka_unit_test(t_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
