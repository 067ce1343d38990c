/*
 * t_moldudp64.c - cmocka tests of the MoldUDP64 codec (common/moldudp64.h):
 * a known packet byte for byte (big-endian header fields and block
 * lengths, little-endian bus-message headers at their offsets), round
 * trips, heartbeats and end of session, a full packet, a request packet
 * byte for byte, and every malformed case with the code it must return.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "moldudp64.h"

/* Session "S1" at sequence 0x0102030405060708 with two messages:
 * ts 0x1112131415161718 type 0x2122 payload "ab", ts 1 type 3, no
 * payload. */
static const unsigned char known[] = {
	'S', '1', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* sequence, BE */
	0x00, 0x02,                                     /* count, BE */
	0x00, 0x0e,                                     /* 14 bytes, BE */
	0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, /* ts, LE */
	0x22, 0x21, 0x00, 0x00, 'a', 'b',               /* type, flags */
	0x00, 0x0c,                                     /* 12 bytes */
	0x01, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x00, 0x00, 0x00,
};

static const char session[MOLD_SESSION_LEN] = "S1        ";

static int write_known(unsigned char *buf, size_t cap)
{
	struct mold_writer w;
	struct mold_msg a = {.ts_ns = 0x1112131415161718ULL, .type = 0x2122,
			     .payload = "ab", .size = 2};
	struct mold_msg b = {.ts_ns = 1, .type = 3};

	assert_int_equal(mold_writer_init(&w, buf, cap), 0);
	assert_int_equal(mold_append_msg(&w, &a), 0);
	assert_int_equal(mold_append_msg(&w, &b), 0);
	assert_int_equal(w.count, 2);
	return mold_writer_seal(&w, session, 0x0102030405060708ULL);
}

static void t_encode_known(void **state)
{
	unsigned char buf[128];

	memset(buf, 0xAA, sizeof buf);
	assert_int_equal(write_known(buf, sizeof buf), sizeof known);
	assert_memory_equal(buf, known, sizeof known);
	assert_int_equal(buf[sizeof known], 0xAA); /* nothing written past */
}

static void t_decode_known(void **state)
{
	struct mold_reader r;
	struct mold_header h;
	struct mold_msg m;
	const unsigned char *data;
	size_t len;
	uint64_t seq;

	assert_int_equal(mold_reader_init(&r, known, sizeof known, &h), 0);
	assert_memory_equal(h.session, session, MOLD_SESSION_LEN);
	assert_true(h.seq == 0x0102030405060708ULL);
	assert_int_equal(h.count, 2);
	assert_int_equal(mold_next(&r, &data, &len, &seq), 1);
	assert_int_equal(len, 14);
	assert_true(seq == 0x0102030405060708ULL);
	assert_ptr_equal(data, known + 22);
	assert_int_equal(mold_msg_decode(data, len, &m), 0);
	assert_true(m.ts_ns == 0x1112131415161718ULL);
	assert_int_equal(m.type, 0x2122);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.size, 2);
	assert_memory_equal(m.payload, "ab", 2);
	assert_int_equal(mold_next(&r, &data, &len, &seq), 1);
	assert_true(seq == 0x0102030405060709ULL);
	assert_int_equal(mold_msg_decode(data, len, &m), 0);
	assert_true(m.ts_ns == 1);
	assert_int_equal(m.type, 3);
	assert_int_equal(m.size, 0);
	assert_int_equal(mold_next(&r, &data, &len, &seq), 0);
	assert_int_equal(mold_next(&r, &data, &len, &seq), 0);
}

#define ROUND_MAX 300 /* payload sizes 0..ROUND_MAX */

static unsigned char round_payload[ROUND_MAX];

/* Message i of the round trip: i payload bytes, type i, stamp ~i. */
static struct mold_msg round_msg(size_t i)
{
	struct mold_msg m = {.ts_ns = ~(uint64_t)i, .type = (uint16_t)i,
			     .payload = round_payload, .size = i};

	return m;
}

/* Fills w from message *next on while they fit; returns the sealed
 * length. */
static int fill(struct mold_writer *w, size_t *next, uint64_t first)
{
	struct mold_msg m;

	for (; *next <= ROUND_MAX; ++*next) {
		m = round_msg(*next);
		if (mold_append_msg(w, &m) < 0)
			break;
	}
	return mold_writer_seal(w, session, first);
}

/* Checks the messages of one packet; returns how many it held. */
static size_t check_packet(const unsigned char *pkt, int len, size_t first)
{
	struct mold_reader r;
	struct mold_header h;
	const unsigned char *data;
	size_t n, i = first;
	uint64_t seq;

	assert_true(len > MOLD_HEADER_LEN && len <= 1400);
	assert_int_equal(mold_reader_init(&r, pkt, (size_t)len, &h), 0);
	assert_true(h.seq == 1000 + first);
	while (mold_next(&r, &data, &n, &seq) == 1) {
		struct mold_msg want = round_msg(i), got;

		assert_true(seq == 1000 + i);
		assert_int_equal(mold_msg_decode(data, n, &got), 0);
		assert_int_equal(got.type, want.type);
		assert_true(got.ts_ns == want.ts_ns);
		assert_int_equal(got.size, want.size);
		assert_memory_equal(got.payload, want.payload, want.size);
		i++;
	}
	assert_int_equal(mold_next(&r, &data, &n, &seq), 0);
	assert_int_equal(i - first, h.count);
	return i - first;
}

/* Messages of every size from 0 to ROUND_MAX bytes, batched 1400 bytes
 * at a time, come back with the same numbers, types, stamps and
 * payloads. */
static void t_round_trip(void **state)
{
	static unsigned char pkt[MOLD_PACKET_MAX];
	struct mold_writer w;
	size_t next = 0, got = 0, packets = 0;

	for (size_t i = 0; i < ROUND_MAX; i++)
		round_payload[i] = (unsigned char)(i * 7 + 1);
	assert_int_equal(mold_writer_init(&w, pkt, 1400), 0);
	while (next <= ROUND_MAX) {
		size_t first = next;
		int len = fill(&w, &next, 1000 + first);

		got += check_packet(pkt, len, first);
		mold_writer_reset(&w);
		packets++;
	}
	assert_int_equal(got, ROUND_MAX + 1);
	assert_true(packets > 1);
}

static void t_heartbeat_and_end(void **state)
{
	unsigned char pkt[64];
	struct mold_writer w;
	struct mold_reader r;
	struct mold_header h;
	const unsigned char *data;
	size_t len;
	uint64_t seq;

	assert_int_equal(mold_writer_init(&w, pkt, sizeof pkt), 0);
	assert_int_equal(mold_writer_seal(&w, session, 42), MOLD_HEADER_LEN);
	assert_int_equal(mold_reader_init(&r, pkt, MOLD_HEADER_LEN, &h), 0);
	assert_int_equal(h.count, MOLD_COUNT_HEARTBEAT);
	assert_true(h.seq == 42);
	assert_int_equal(mold_next(&r, &data, &len, &seq), 0);

	assert_int_equal(mold_writer_seal_count(&w, session, 43, MOLD_COUNT_END),
			 MOLD_HEADER_LEN);
	assert_int_equal(pkt[MOLD_COUNT_OFF], 0xff);
	assert_int_equal(pkt[MOLD_COUNT_OFF + 1], 0xff);
	assert_int_equal(mold_reader_init(&r, pkt, MOLD_HEADER_LEN, &h), 0);
	assert_int_equal(h.count, MOLD_COUNT_END);
	assert_true(h.seq == 43);
	assert_int_equal(mold_next(&r, &data, &len, &seq), 0);
}

/* Runs pkt through a reader; returns what the first failing step (or the
 * end) returned, and the blocks it gave before in *blocks. */
static int read_all(const unsigned char *pkt, size_t len, int *blocks)
{
	struct mold_reader r;
	struct mold_header h;
	const unsigned char *data;
	size_t n;
	uint64_t seq;
	int rc = mold_reader_init(&r, pkt, len, &h);

	*blocks = 0;
	while (rc == 0 || rc == 1) {
		rc = mold_next(&r, &data, &n, &seq);
		*blocks += rc == 1;
		if (rc == 0)
			break;
	}
	return rc;
}

/* A packet takes MOLD_BLOCKS_MAX empty blocks, and they read back; a
 * full packet refuses the next block. */
static void t_packet_limits(void **state)
{
	static unsigned char pkt[MOLD_PACKET_MAX], big[MOLD_BLOCK_MAX + 1];
	struct mold_writer w;
	int blocks;

	assert_int_equal(mold_writer_init(&w, pkt, sizeof pkt), 0);
	for (unsigned i = 0; i < MOLD_BLOCKS_MAX; i++)
		assert_int_equal(mold_append(&w, NULL, 0), 0);
	assert_int_equal(mold_append(&w, NULL, 0), -EMSGSIZE);
	assert_int_equal(w.count, MOLD_BLOCKS_MAX);
	assert_int_equal(mold_writer_seal(&w, session, 1),
			 MOLD_HEADER_LEN + 2 * MOLD_BLOCKS_MAX);
	assert_int_equal(read_all(pkt, w.len, &blocks), 0);
	assert_int_equal(blocks, MOLD_BLOCKS_MAX);
	mold_writer_reset(&w);
	assert_int_equal(mold_append(&w, big, MOLD_BLOCK_MAX + 1), -EMSGSIZE);
	assert_int_equal(mold_append(&w, big, MOLD_PACKET_MAX - MOLD_HEADER_LEN
				     - MOLD_BLOCK_LEN), 0);
	assert_int_equal(w.len, MOLD_PACKET_MAX);
	assert_int_equal(mold_append(&w, NULL, 0), -EMSGSIZE);
	assert_int_equal(w.count, 1);
}

static void t_bad_writes(void **state)
{
	unsigned char pkt[64], big[MDBUS_UDP_PAYLOAD_MAX + 1] = {0};
	struct mold_writer w;
	struct mold_msg m = {.payload = big, .size = MDBUS_UDP_PAYLOAD_MAX + 1};
	struct mold_header h = {.count = 1};

	assert_int_equal(mold_writer_init(&w, pkt, MOLD_HEADER_LEN - 1), -EINVAL);
	assert_int_equal(mold_writer_init(&w, pkt, MOLD_PACKET_MAX + 1), -EINVAL);
	assert_int_equal(mold_writer_init(NULL, pkt, sizeof pkt), -EINVAL);
	assert_int_equal(mold_writer_init(&w, NULL, sizeof pkt), -EINVAL);
	assert_int_equal(mold_writer_init(&w, pkt, sizeof pkt), 0);
	assert_int_equal(mold_append_msg(&w, &m), -EMSGSIZE);
	m.size = sizeof pkt - MOLD_HEADER_LEN - MOLD_BLOCK_LEN - MDBUS_UDP_MSG_LEN + 1;
	assert_int_equal(mold_append_msg(&w, &m), -EMSGSIZE);
	m.size--;
	assert_int_equal(mold_append_msg(&w, &m), 0);
	assert_int_equal(w.len, sizeof pkt);
	m.payload = NULL;
	assert_int_equal(mold_append_msg(&w, &m), -EINVAL);
	assert_int_equal(mold_append(&w, NULL, 1), -EINVAL);
	assert_int_equal(mold_append_msg(&w, NULL), -EINVAL);
	assert_int_equal(mold_writer_seal(&w, NULL, 1), -EINVAL);
	/* a heartbeat or end of session carries no block */
	assert_int_equal(mold_writer_seal_count(&w, session, 1, MOLD_COUNT_END),
			 -EBADMSG);
	assert_int_equal(mold_writer_seal_count(&w, session, 1, 2), -EBADMSG);
	mold_writer_reset(&w);
	assert_int_equal(mold_writer_seal_count(&w, session, 1, 1), -EBADMSG);
	assert_int_equal(mold_header_encode(pkt, MOLD_HEADER_LEN - 1, &h),
			 -EMSGSIZE);
	assert_int_equal(mold_header_encode(NULL, sizeof pkt, &h), -EINVAL);
	assert_int_equal(mold_msg_encode(pkt, MDBUS_UDP_MSG_LEN - 1, &(struct
			 mold_msg){.size = 0}), -EMSGSIZE);
}

static void t_malformed(void **state)
{
	static unsigned char pkt[MOLD_PACKET_MAX + 1];
	struct mold_header h;
	struct mold_msg m;
	int blocks;

	memcpy(pkt, known, sizeof known);
	assert_int_equal(read_all(pkt, sizeof known, &blocks), 0);
	assert_int_equal(blocks, 2);
	/* shorter than the header; longer than a datagram can be */
	assert_int_equal(read_all(pkt, MOLD_HEADER_LEN - 1, &blocks), -EMSGSIZE);
	assert_int_equal(mold_header_decode(pkt, 0, &h), -EMSGSIZE);
	assert_int_equal(read_all(pkt, MOLD_PACKET_MAX + 1, &blocks), -EMSGSIZE);
	/* the second block's length runs past the datagram by one byte */
	assert_int_equal(read_all(pkt, sizeof known - 1, &blocks), -EMSGSIZE);
	assert_int_equal(blocks, 1);
	/* a datagram cut inside the second block's length prefix */
	assert_int_equal(read_all(pkt, 20 + 2 + 14 + 1, &blocks), -EMSGSIZE);
	assert_int_equal(blocks, 1);
	/* count 3, two blocks: the third is missing */
	pkt[MOLD_COUNT_OFF + 1] = 3;
	assert_int_equal(read_all(pkt, sizeof known, &blocks), -EMSGSIZE);
	assert_int_equal(blocks, 2);
	/* count 1, two blocks: bytes after the last counted one */
	pkt[MOLD_COUNT_OFF + 1] = 1;
	assert_int_equal(read_all(pkt, sizeof known, &blocks), -EBADMSG);
	assert_int_equal(blocks, 1);
	/* a heartbeat or an end of session with blocks */
	pkt[MOLD_COUNT_OFF + 1] = 0;
	assert_int_equal(read_all(pkt, sizeof known, &blocks), -EBADMSG);
	pkt[MOLD_COUNT_OFF] = pkt[MOLD_COUNT_OFF + 1] = 0xff;
	assert_int_equal(read_all(pkt, sizeof known, &blocks), -EBADMSG);
	assert_int_equal(blocks, 0);
	/* a block length of 0xFFFF in a small datagram */
	memcpy(pkt, known, sizeof known);
	pkt[20] = pkt[21] = 0xff;
	assert_int_equal(read_all(pkt, sizeof known, &blocks), -EMSGSIZE);
	assert_int_equal(blocks, 0);
	/* two messages numbered from 2^64 - 1: the second's number, and
	 * the next expected one, would wrap to 0 (the udp source then took
	 * any packet as the start of a new stream) */
	memcpy(pkt, known, sizeof known);
	memset(pkt + MOLD_SEQ_OFF, 0xff, 8);
	assert_int_equal(read_all(pkt, sizeof known, &blocks), -EBADMSG);
	assert_int_equal(blocks, 0);
	/* from 2^64 - 2: the last is 2^64 - 1, the next expected would wrap */
	pkt[MOLD_SEQ_OFF + 7] = 0xfe;
	assert_int_equal(read_all(pkt, sizeof known, &blocks), -EBADMSG);
	/* from 2^64 - 3: the next expected is 2^64 - 1 */
	pkt[MOLD_SEQ_OFF + 7] = 0xfd;
	assert_int_equal(read_all(pkt, sizeof known, &blocks), 0);
	assert_int_equal(blocks, 2);
	/* a bus message shorter than its 12-byte header */
	assert_int_equal(mold_msg_decode(known + 22, MDBUS_UDP_MSG_LEN - 1, &m),
			 -EBADMSG);
	assert_int_equal(mold_msg_decode(NULL, 20, &m), -EINVAL);
	assert_int_equal(mold_header_decode(NULL, 20, &h), -EINVAL);
	assert_int_equal(mold_reader_init(NULL, known, sizeof known, &h), -EINVAL);
}

/* A request: session "S1", sequence 0x0102030405060708, 0xFFFF messages,
 * all big-endian; then every request that must be refused. */
static void t_request(void **state)
{
	static const unsigned char want[MOLD_REQUEST_LEN] = {
		'S', '1', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xff, 0xff,
	};
	struct mold_header req = {.seq = 0x0102030405060708ULL,
				  .count = 0xFFFF}, got;
	unsigned char buf[MOLD_REQUEST_LEN + 1];

	memcpy(req.session, session, MOLD_SESSION_LEN);
	memset(buf, 0xAA, sizeof buf);
	assert_int_equal(mold_request_encode(buf, sizeof buf, &req),
			 MOLD_REQUEST_LEN);
	assert_memory_equal(buf, want, sizeof want);
	assert_int_equal(buf[MOLD_REQUEST_LEN], 0xAA);
	assert_int_equal(mold_request_decode(want, sizeof want, &got), 0);
	assert_memory_equal(got.session, session, MOLD_SESSION_LEN);
	assert_true(got.seq == req.seq);
	assert_int_equal(got.count, 0xFFFF);
	/* one byte more or less than a request */
	assert_int_equal(mold_request_decode(buf, sizeof buf, &got), -EMSGSIZE);
	assert_int_equal(mold_request_decode(want, sizeof want - 1, &got),
			 -EMSGSIZE);
	assert_int_equal(mold_request_encode(buf, MOLD_REQUEST_LEN - 1, &req),
			 -EMSGSIZE);
	/* no message asked for, or sequence number 0 */
	memcpy(buf, want, sizeof want);
	buf[18] = buf[19] = 0;
	assert_int_equal(mold_request_decode(buf, MOLD_REQUEST_LEN, &got),
			 -EBADMSG);
	memset(buf + 10, 0, 8);
	buf[19] = 1;
	assert_int_equal(mold_request_decode(buf, MOLD_REQUEST_LEN, &got),
			 -EBADMSG);
	req.count = 0;
	assert_int_equal(mold_request_encode(buf, sizeof buf, &req), -EINVAL);
	req.count = 1;
	req.seq = 0;
	assert_int_equal(mold_request_encode(buf, sizeof buf, &req), -EINVAL);
	assert_int_equal(mold_request_decode(NULL, MOLD_REQUEST_LEN, &got),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_encode_known),
		cmocka_unit_test(t_decode_known),
		cmocka_unit_test(t_round_trip),
		cmocka_unit_test(t_heartbeat_and_end),
		cmocka_unit_test(t_packet_limits),
		cmocka_unit_test(t_bad_writes),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
