/*
 * t_overwrite.c - overwrite mode with slow consumers in other processes.
 *
 * Phase A (exact): both consumers read message 0 and stop; the publisher
 * then writes capacity + 100 more, so message 101 is the oldest still in
 * the ring: the next read must return seq 101 with lost == 100, exactly.
 *
 * Phase B (racy): the publisher writes 1 million large messages (up to
 * 4 KB, every 64-bit word a function of the sequence number) into a
 * 64-slot ring as fast as it can while a registered consumer reads with
 * random pauses and an anonymous one reads flat out. The writer laps the
 * readers mid-copy all the time: a missing fence or seqlock re-check shows
 * as a torn payload, a stale one as a sequence going backwards, a
 * duplicate as a repeated sequence. Each consumer checks every message and
 * that delivered + lost == published at the end.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "mdbus.h"
#include "testutil.h"

#define CHANNEL "overwrite"
#define SLOT 4096
#define SPB 16
#define BLOCKS 4
#define CAP ((uint64_t)SPB * BLOCKS)
#define PMIN 8
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define SKIPPED 100
#define PHASE_A (1 + CAP + SKIPPED)
#define TOTAL (PHASE_A + 1000000)

struct shared {
	_Atomic uint32_t ready, read0, go, exact;
	uint64_t delivered[2], lost[2], events[2];
};

static struct shared *sh;

/* One read with the checks every message gets; returns the message. */
static void read_one(mdbus_sub_t *s, int id, unsigned char *buf,
		     uint64_t expect, struct mdbus_msg *m)
{
	const char *bad;
	int rc;

	while ((rc = mdbus_sub_try_read(s, buf, PMAX, m)) == -EAGAIN)
		sched_yield();
	if (rc)
		tu_fail("consumer %d: try_read at %llu: %s", id,
			(unsigned long long)expect, mdbus_strerror(rc));
	if (m->seq != expect + m->lost)
		tu_fail("consumer %d: seq %llu with lost %llu after %llu "
			"(stale, duplicate or uncounted gap)",
			id, (unsigned long long)m->seq,
			(unsigned long long)m->lost,
			(unsigned long long)expect - 1);
	bad = tu_msg_bad(m, buf, PMIN, PMAX);
	if (bad)
		tu_fail("consumer %d: %s", id, bad);
	sh->delivered[id]++;
	sh->lost[id] += m->lost;
	sh->events[id] += m->lost != 0;
}

static int consumer(void *arg)
{
	int id = (int)(intptr_t)arg; /* 0 registered and slow, 1 anonymous */
	unsigned char *buf = malloc(PMAX);
	struct mdbus_sub_config c;
	struct mdbus_msg m;
	mdbus_sub_t *s = NULL;
	uint64_t expect;

	TU_CHECK(buf);
	mdbus_sub_config_init(&c);
	c.name = id ? NULL : "slow";
	c.anonymous = id;
	c.start = MDBUS_START_OLDEST;
	TU_CHECK_RC(mdbus_sub_open(&s, CHANNEL, &c), 0);
	atomic_fetch_add(&sh->ready, 1);

	read_one(s, id, buf, 0, &m);
	TU_CHECK_EQ(m.seq, 0);
	atomic_fetch_add(&sh->read0, 1);
	tu_await(&sh->go, 1, 60, "phase A publishing");
	/* exact: the oldest retained message is write_num - capacity */
	read_one(s, id, buf, 1, &m);
	TU_CHECK_EQ(m.seq, 1 + SKIPPED);
	TU_CHECK_EQ(m.lost, SKIPPED);
	TU_CHECK_EQ(mdbus_sub_lost(s), SKIPPED);
	TU_CHECK_EQ(mdbus_sub_loss_events(s), 1);
	atomic_fetch_add(&sh->exact, 1);

	for (expect = m.seq + 1; expect < TOTAL; expect = m.seq + 1) {
		read_one(s, id, buf, expect, &m);
		if (id == 0 && tu_rand_below(512) == 0)
			tu_sleep_ms((double)tu_rand_below(300) / 1000);
	}
	TU_CHECK_EQ(sh->delivered[id] + sh->lost[id], TOTAL);
	TU_CHECK_EQ(mdbus_sub_lost(s), sh->lost[id]);
	TU_CHECK_EQ(mdbus_sub_loss_events(s), sh->events[id]);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, PMAX, &m), -EAGAIN);
	mdbus_sub_close(s);
	free(buf);
	return 0;
}

int main(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS,
					  MDBUS_MODE_OVERWRITE);
	unsigned char *buf = malloc(PMAX);
	mdbus_pub_t *p;
	pid_t cons[2];
	uint64_t n;

	tu_init("t_overwrite", 300);
	TU_CHECK(buf);
	sh = tu_shared(sizeof(*sh));
	p = tu_pub_open(CHANNEL, &c);
	cons[0] = tu_spawn(consumer, (void *)(intptr_t)0);
	cons[1] = tu_spawn(consumer, (void *)(intptr_t)1);
	tu_await(&sh->ready, 2, 30, "consumers to attach");

	TU_CHECK_RC(tu_publish_seq(p, 0, buf, PMIN, PMAX), 0);
	tu_await(&sh->read0, 2, 30, "consumers to read message 0");
	for (n = 1; n < PHASE_A; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, PMIN, PMAX), 0);
	atomic_store(&sh->go, 1);
	tu_await(&sh->exact, 2, 30, "consumers to check the exact loss");
	for (; n < TOTAL; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, PMIN, PMAX), 0);
	TU_CHECK_EQ(mdbus_pub_position(p), TOTAL);
	tu_wait_ok(cons[0], 240, "slow registered consumer");
	tu_wait_ok(cons[1], 240, "anonymous consumer");
	for (int i = 0; i < 2; i++)
		tu_note("consumer %d: delivered %llu, lost %llu in %llu gaps",
			i, (unsigned long long)sh->delivered[i],
			(unsigned long long)sh->lost[i],
			(unsigned long long)sh->events[i]);
	mdbus_pub_close(p);
	free(buf);
	return 0;
}
