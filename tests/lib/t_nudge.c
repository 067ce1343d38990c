/*
 * t_nudge.c - the publisher's nudger (pub_nudge.c, doc/protocol.md
 * "Waiting") with the rest of the publisher:
 *
 * - it takes no consumer entry and never holds back a lossless publisher:
 *   with max_consumers = 1 and no reader, 100 messages on a ring of 16
 *   all go out; a reader then takes the one entry and holds the publisher
 *   back after exactly 16 messages, which it reads in order;
 * - reaps and repairs of the waiter count (mdbus_pub_reap()) racing the
 *   nudger's sleeps and wakes on another thread: after 1500 messages at
 *   random pauses with reaps among them the nudger sleeps, flag up and
 *   no count in the table, and an anonymous reader got every message in
 *   order. The threads of this process make it a TSan test too.
 */
#include <errno.h>

#include "layout.h"
#include "mdbus.h"
#include "testutil.h"

#define RACE_MSGS 1500

struct shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t go;
};

static struct shared *sh;

static uint32_t count_of(const struct seg_table_header *t)
{
	return waiters_count(atomic_load(&t->waiters));
}

/* Takes the one entry at the latest message, then reads 16 in order. */
static int gater(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("lossless", "gater", MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_BLOCK);
	unsigned char buf[64];
	struct mdbus_msg m;

	(void)arg;
	atomic_store(&sh->ready, 1);
	tu_await(&sh->go, 1, 30, "publisher held back");
	for (uint64_t n = 100; n < 116; n++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 5000000000LL), 0);
		TU_CHECK_EQ(m.seq, n);
	}
	mdbus_sub_close(s);
	return 0;
}

static void never_gates(void)
{
	struct mdbus_pub_config c = tu_nudging(tu_config(64, 16, 1,
							 MDBUS_MODE_LOSSLESS));
	mdbus_pub_t *p;
	size_t tl;
	void *tab;
	pid_t kid;
	int n;

	c.max_consumers = 1;
	p = tu_pub_open("lossless", &c);
	tab = tu_map_file(tu_table_path("lossless"), &tl);
	for (n = 0; n < 100; n++)
		TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	TU_CHECK_EQ(cons_state(atomic_load(&tu_entry(tab, 0)->state)), CONS_FREE);
	kid = tu_spawn(gater, NULL);
	tu_await(&sh->ready, 1, 30, "gater registered");
	for (n = 0; n < 16; n++)
		TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), MDBUS_EBACKPRESSURE);
	TU_CHECK_RC(mdbus_pub_reap(p), 0); /* the nudger is nobody to evict */
	atomic_store(&sh->go, 1);
	tu_wait_ok(kid, 30, "gater");
	TU_CHECK_RC(mdbus_pub_reap(p), 0);
	for (n = 0; n < 100; n++)
		TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	tu_unmap(tab, tl);
	mdbus_pub_close(p);
}

/* Anonymous: every message of the race, in order. */
static int anon_reader(void *arg)
{
	struct mdbus_sub_config c;
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s = NULL;

	(void)arg;
	mdbus_sub_config_init(&c);
	c.anonymous = 1;
	c.start = MDBUS_START_OLDEST;
	c.dir = tu_dir();
	TU_CHECK_RC(mdbus_sub_open(&s, "race", &c), 0);
	atomic_store(&sh->ready, 1);
	for (uint64_t n = 0; n < RACE_MSGS; n++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 5000000000LL), 0);
		TU_CHECK_EQ(m.seq, n);
	}
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);
	return 0;
}

static void repairs_race(void)
{
	struct mdbus_pub_config c = tu_nudging(tu_config(64, 1024, 4,
							 MDBUS_MODE_OVERWRITE));
	mdbus_pub_t *p;
	size_t hl, tl;
	struct seg_header *h;
	void *tab;
	pid_t kid;

	c.max_consumers = 4;
	p = tu_pub_open("race", &c);
	h = tu_map_file(tu_seg_path("race"), &hl);
	tab = tu_map_file(tu_table_path("race"), &tl);
	atomic_store(&sh->ready, 0);
	kid = tu_spawn(anon_reader, NULL);
	tu_await(&sh->ready, 1, 30, "anonymous reader");
	for (int n = 0; n < RACE_MSGS; n++) {
		TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
		if (tu_rand_below(2))
			TU_CHECK(mdbus_pub_reap(p) >= 0);
		tu_sleep_ms((double)tu_rand_below(1500) / 1000.0);
	}
	tu_wait_ok(kid, 30, "anonymous reader");
	tu_await_nudger_asleep(h, tab);
	TU_CHECK(mdbus_pub_reap(p) >= 0);
	TU_CHECK_EQ(count_of(tab), 0);
	mdbus_pub_close(p);
	TU_CHECK_EQ(atomic_load(&h->nudge_waiting), 0);
	TU_CHECK_EQ(atomic_load(&h->nudge_ns), 0);
	tu_unmap(tab, tl);
	tu_unmap(h, hl);
}

int main(void)
{
	tu_init("t_nudge", 120);
	tu_take_turn();
	sh = tu_shared(sizeof(*sh));
	never_gates();
	repairs_race();
	tu_note("ok");
	return 0;
}
