/*
 * t_fanout.c - fan-out across processes: one publisher process and four
 * consumer processes on one overwrite channel, 10 million messages of
 * varying size, each one self-verifying (every payload byte, the size, the
 * type and the timestamp are functions of its sequence number).
 *
 * Every consumer checks, per message, seq == previous + 1 + msg.lost (no
 * gap that is not counted, nothing stale or duplicated) and the payload;
 * at the end delivered + lost == published exactly, and the library's own
 * loss counters agree with the per-message ones.
 *
 * Built twice: t_fanout (libmdbus.so) and t_fanout_static (libmdbus.a).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "mdbus.h"
#include "testutil.h"

#define CHANNEL "fanout"
#define CONSUMERS 4
#define MESSAGES 10000000ULL
#define SLOT 64
#define PMIN 8
#define PMAX (SLOT - MDBUS_SLOT_HEADER)

struct result {
	uint64_t delivered, lost, events;
};

struct shared {
	_Atomic uint32_t ready;
	struct result res[CONSUMERS];
};

static struct shared *sh;

static int consumer(void *arg)
{
	int id = (int)(intptr_t)arg;
	char name[16];
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	struct result r = { 0, 0, 0 };
	uint64_t expect = 0;
	const char *bad;
	mdbus_sub_t *s;
	int rc;

	snprintf(name, sizeof(name), "fan%d", id);
	/* two consumers wait adaptively (the default), two by yielding */
	s = tu_sub_open(CHANNEL, name, MDBUS_START_SEQ, 0,
			id & 1 ? MDBUS_WAIT_YIELD : MDBUS_WAIT_ADAPTIVE);
	atomic_fetch_add(&sh->ready, 1);
	for (;;) {
		rc = mdbus_sub_read(s, buf, sizeof(buf), &m, 30000000000LL);
		if (rc != 0)
			tu_fail("consumer %d at seq %llu: read: %s (%s)", id,
				(unsigned long long)expect, mdbus_strerror(rc),
				mdbus_last_error());
		if (m.seq != expect + m.lost)
			tu_fail("consumer %d: got seq %llu lost %llu, expected "
				"seq %llu + lost",
				id, (unsigned long long)m.seq,
				(unsigned long long)m.lost,
				(unsigned long long)expect);
		bad = tu_msg_bad(&m, buf, PMIN, PMAX);
		if (bad)
			tu_fail("consumer %d: %s", id, bad);
		r.delivered++;
		r.lost += m.lost;
		r.events += m.lost != 0;
		expect = m.seq + 1;
		if (m.seq == MESSAGES - 1)
			break;
	}
	TU_CHECK_EQ(r.delivered + r.lost, MESSAGES);
	TU_CHECK_EQ(mdbus_sub_lost(s), r.lost);
	TU_CHECK_EQ(mdbus_sub_loss_events(s), r.events);
	TU_CHECK_EQ(mdbus_sub_position(s), MESSAGES);
	TU_CHECK_EQ(mdbus_sub_caught_up(s), 1);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), -EAGAIN);
	sh->res[id] = r;
	mdbus_sub_close(s);
	return 0;
}

static int publisher(void *arg)
{
	struct mdbus_pub_config c = tu_config(SLOT, 4096, 16, MDBUS_MODE_OVERWRITE);
	unsigned char buf[PMAX];
	mdbus_pub_t *p = tu_pub_open(CHANNEL, &c);

	(void)arg;
	TU_CHECK_EQ(mdbus_pub_position(p), 0);
	for (uint64_t n = 0; n < MESSAGES; n++) {
		TU_CHECK_RC(tu_publish_seq(p, n, buf, PMIN, PMAX), 0);
		/* 5 processes share the cores: let the consumers run */
		if ((n & 1023) == 1023)
			sched_yield();
	}
	TU_CHECK_EQ(mdbus_pub_position(p), MESSAGES);
	mdbus_pub_close(p);
	return 0;
}

int main(int argc, char **argv)
{
	struct mdbus_pub_config c = tu_config(SLOT, 4096, 16, MDBUS_MODE_OVERWRITE);
	struct mdbus_consumer_stat cs[CONSUMERS + 1];
	struct mdbus_stats st;
	pid_t cons[CONSUMERS], pub;
	uint64_t t0 = tu_now_ns();

	(void)argc;
	tu_init(strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0],
		300);
	sh = tu_shared(sizeof(*sh));

	/* create the channel, empty; the publisher process resumes it */
	mdbus_pub_close(tu_pub_open(CHANNEL, &c));
	for (int i = 0; i < CONSUMERS; i++)
		cons[i] = tu_spawn(consumer, (void *)(intptr_t)i);
	tu_await(&sh->ready, CONSUMERS, 30, "consumers to register");
	TU_CHECK_RC(mdbus_channel_stats(CHANNEL, NULL, &st, cs, CONSUMERS + 1), 0);
	TU_CHECK_EQ(st.consumers, CONSUMERS);
	pub = tu_spawn(publisher, NULL);
	tu_wait_ok(pub, 240, "publisher");
	for (int i = 0; i < CONSUMERS; i++)
		tu_wait_ok(cons[i], 240, "consumer");

	TU_CHECK_RC(mdbus_channel_stats(CHANNEL, NULL, &st, cs, CONSUMERS + 1), 0);
	TU_CHECK_EQ(st.pub.write_num, MESSAGES);
	TU_CHECK_EQ(st.pub.state, MDBUS_PUB_STOPPED);
	TU_CHECK_EQ(st.consumers, 0);
	for (int i = 0; i < CONSUMERS; i++) {
		struct result *r = &sh->res[i];

		TU_CHECK_EQ(r->delivered + r->lost, MESSAGES);
		tu_note("consumer %d (%s): delivered %llu, lost %llu in %llu "
			"gaps",
			i, i & 1 ? "yield" : "adaptive",
			(unsigned long long)r->delivered,
			(unsigned long long)r->lost,
			(unsigned long long)r->events);
	}
	tu_note("pass: %llu messages to %d consumers in %.1f s",
		(unsigned long long)MESSAGES, CONSUMERS,
		(double)(tu_now_ns() - t0) / 1e9);
	return 0;
}
