/*
 * t_lossless.c - lossless mode across processes.
 *
 * 1. A slow registered consumer (random pauses) reads 200k messages: it
 *    loses none (every read has lost == 0, sequences contiguous, payloads
 *    whole) and the publisher sees MDBUS_EBACKPRESSURE. An anonymous
 *    reader that never reads does not gate the publisher.
 * 2. A consumer that reads nothing gates the publisher after exactly one
 *    ring (capacity messages). While it is merely stopped (SIGSTOP, no
 *    eviction configured) reap frees nothing; once SIGKILLed,
 *    mdbus_pub_reap() frees exactly its entry and publishing goes on.
 *    A restarted publisher (same geometry) is gated by the same reader
 *    from its first message.
 * 3. With stall_evict_ns = 200 ms, a SIGSTOPped consumer that gates the
 *    publisher is evicted by mdbus_pub_reap() no sooner than 200 ms after
 *    its last progress; stats show it evicted; when resumed (SIGCONT) its
 *    very next read returns MDBUS_EEVICTED (although its next message is
 *    still in the ring), sticky; publishing then goes on.
 * 4. Readers that join at `latest` while the publisher runs unpaced with
 *    nobody gating it (200 joins, one at a time, each reading 2 rings'
 *    worth): none loses a message. Before, a reader took its start from
 *    the write count before it registered, and the publisher, whose
 *    cached gate did not know it yet, overwrote those slots meanwhile:
 *    about every join counted messages lost on a lossless channel.
 * 5. A registered reader that gates the publisher without reading, while
 *    its entry is changed every 20 ms as anyone who may write the table
 *    can: its read_num moved back and forth (999, 1000, 999, ...), or set
 *    to 0 before the publisher's first look and moved up one a step, or
 *    its state word given a new generation,
 *    is evicted no sooner than 200 ms after it gated, and publishing goes
 *    on. Before, each of these counted as progress: never evicted, the
 *    publisher stalled for good.
 * 6. Readers that join behind the latest while the publisher runs unpaced
 *    with nobody gating it, one message at a time and then in batches of
 *    48 (200 joins by sequence, half a ring behind the write count, then
 *    200 at the oldest message; each reads 2 rings): a join loses nothing
 *    after its open unless it starts at the ring's oldest messages, and
 *    then at most those whose write was under way when it joined (8
 *    allowed: one message, and the stores of a few more still in the
 *    producer's store buffer); what it passed as it joined is counted,
 *    and shows in its table entry at once. Before, the publisher looked at
 *    the table again only when its cached gate said full, up to a ring
 *    later: the second join by sequence lost 425 messages after its open;
 *    joins at the oldest stopped at the slots of a batch sealed but not
 *    yet published (up to 47 lost), and a gap counted as it joined did not
 *    show in the table.
 * 7. mdbus_pub_reap() of a lossless channel that has nothing to free or
 *    evict, while another process rewrites the table header's evictions
 *    counter (0, 2^31, 0, ... as anyone who may write the table can):
 *    each of 2000 calls returns 0. Before, it returned the counter's
 *    change across its own look at the table, cut to an int: negative
 *    (INT_MIN, which mdpub logged as a reap failure and the Python
 *    module's reap() raised as mdbus.Error) or a count of entries that
 *    were never freed.
 * 8. Two readers gate the publisher from 0, the second's stall clock
 *    started 600 ms after the first's (stall_evict_ns 1 s; 300 ms of
 *    margin each way for a loaded machine): at 1.3 s the first is evicted, reopens at its place (the second holds the
 *    ring), and the publisher's next look must give it a stall_evict_ns
 *    of its own: its next read is a message, not MDBUS_EEVICTED. Before,
 *    the evicted entry's clock went on, and the reopened reader was
 *    evicted again at once (race hunt).
 * 9. A reader gates the publisher from 0 and closes 700 ms into its stall
 *    (stall_evict_ns 1 s); a new reader opens at 0 in the same table entry
 *    before the publisher looks again; at 1.3 s the publisher looks: the
 *    new reader, 600 ms old, must not be evicted (its entry still
 *    ACTIVE), and is at the look 1.3 s later (its own clock ran out).
 *    Before, the entry's clock was the closed reader's, and the new one
 *    was evicted at that look (left by the last session, design decided
 *    now: a clock starts again once when the entry's state word changes,
 *    then only on progress, doc/protocol.md "Publishing").
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "testutil.h"

#define SLOT 256
#define SPB 16
#define BLOCKS 4
#define CAP ((uint64_t)SPB * BLOCKS)
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define SLOW_TOTAL 200000ULL
#define EVICT_NS 200000000ULL

struct shared {
	_Atomic uint32_t ready, got0, cont;
};

static struct shared *sh;
static const char *channel;

static mdbus_pub_t *open_lossless(const char *ch, uint64_t evict_ns)
{
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS,
					  MDBUS_MODE_LOSSLESS);

	c.stall_evict_ns = evict_ns;
	channel = ch;
	memset(sh, 0, sizeof(*sh));
	return tu_pub_open(ch, &c);
}

/* Publishes message n, retrying on back-pressure; returns the number of
 * back-pressure refusals. Fails if gated for 20 s straight. */
static uint64_t publish_lossless(mdbus_pub_t *p, uint64_t n,
				 unsigned char *buf)
{
	uint64_t refused = 0, since = 0;
	int rc;

	while ((rc = tu_publish_seq(p, n, buf, 0, PMAX)) ==
	       MDBUS_EBACKPRESSURE) {
		if (!refused)
			since = tu_now_ns();
		else if (tu_now_ns() - since > 20000000000ULL)
			tu_fail("publisher gated for 20 s at %llu",
				(unsigned long long)n);
		refused++;
		if (refused % 64 == 0)
			tu_sleep_ms(0.05);
		else
			sched_yield();
	}
	TU_CHECK_RC(rc, 0);
	return refused;
}

/* ----------------------------------------------------- 1. slow consumer */

static int slow_consumer(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(channel, "slow", MDBUS_START_OLDEST, 0,
				     MDBUS_WAIT_ADAPTIVE);
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	const char *bad;

	(void)arg;
	atomic_store(&sh->ready, 1);
	for (uint64_t n = 0; n < SLOW_TOTAL; n++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   30000000000LL), 0);
		if (m.seq != n || m.lost)
			tu_fail("lossless reader: got seq %llu (lost %llu), "
				"want %llu with nothing lost",
				(unsigned long long)m.seq,
				(unsigned long long)m.lost,
				(unsigned long long)n);
		bad = tu_msg_bad(&m, buf, 0, PMAX);
		if (bad)
			tu_fail("lossless reader: %s", bad);
		if (tu_rand_below(256) == 0)
			tu_sleep_ms(1);
	}
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);
	return 0;
}

static void test_slow(void)
{
	mdbus_pub_t *p = open_lossless("ll.slow", 0);
	mdbus_sub_t *anon;
	struct mdbus_sub_config sc;
	unsigned char buf[PMAX];
	uint64_t refused = 0;
	pid_t c;

	mdbus_sub_config_init(&sc);
	sc.anonymous = 1;
	TU_CHECK_RC(mdbus_sub_open(&anon, channel, &sc), 0); /* never reads */
	c = tu_spawn(slow_consumer, NULL);
	tu_await(&sh->ready, 1, 30, "slow consumer to register");
	for (uint64_t n = 0; n < SLOW_TOTAL; n++)
		refused += publish_lossless(p, n, buf);
	tu_wait_ok(c, 120, "slow lossless consumer");
	if (!refused)
		tu_fail("publisher never saw MDBUS_EBACKPRESSURE");
	tu_note("slow consumer: %llu messages, none lost; %llu back-pressure "
		"refusals",
		(unsigned long long)SLOW_TOTAL, (unsigned long long)refused);
	mdbus_sub_close(anon);
	mdbus_pub_close(p);
}

/* ----------------------------------------------------- 2. killed reader */

static int idle_consumer(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(channel, "idle", MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_ADAPTIVE);

	(void)arg;
	(void)s;
	atomic_store(&sh->ready, 1);
	for (;;)
		pause();
	return 0;
}

static void test_killed(void)
{
	struct mdbus_stats st;
	unsigned char buf[PMAX];
	mdbus_pub_t *p;
	uint64_t n;
	pid_t c;

	/* the child is forked while no publisher is open here, so that it
	 * holds none of our descriptors (see t_pubkill's forked child) */
	mdbus_pub_close(open_lossless("ll.kill", 0));
	c = tu_spawn(idle_consumer, NULL);
	tu_await(&sh->ready, 1, 30, "idle consumer to register");
	p = open_lossless("ll.kill", 0);
	for (n = 0; n < CAP; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	/* the reader is at 0: message capacity would overwrite it */
	TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), MDBUS_EBACKPRESSURE);
	TU_CHECK_EQ(mdbus_pub_position(p), CAP);

	/* a restarted publisher is gated from its first message */
	mdbus_pub_close(p);
	p = open_lossless("ll.kill", 0);
	TU_CHECK_EQ(mdbus_pub_position(p), CAP);
	TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), MDBUS_EBACKPRESSURE);

	/* stalled is not dead: nothing reaped, still gated */
	kill(c, SIGSTOP);
	tu_sleep_ms(300);
	TU_CHECK_RC(mdbus_pub_reap(p), 0);
	TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), MDBUS_EBACKPRESSURE);

	tu_kill_reap(c);
	TU_CHECK_RC(mdbus_pub_reap(p), 1);
	TU_CHECK_RC(mdbus_pub_reap(p), 0);
	TU_CHECK_RC(mdbus_channel_stats(channel, NULL, &st, NULL, 0), 0);
	TU_CHECK_EQ(st.consumers, 0);
	for (; n < 10 * CAP; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	mdbus_pub_close(p);
}

/* --------------------------------------------------- 3. evicted reader */

static int stopped_consumer(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(channel, "stopped", MDBUS_START_LATEST,
				     0, MDBUS_WAIT_ADAPTIVE);
	unsigned char buf[PMAX];
	struct mdbus_msg m;

	(void)arg;
	atomic_store(&sh->ready, 1);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 30000000000LL),
		    0);
	TU_CHECK_EQ(m.seq, 0);
	atomic_store(&sh->got0, 1);
	/* the parent SIGSTOPs us here, evicts us, SIGCONTs us, sets cont */
	tu_await(&sh->cont, 1, 60, "the parent to resume us");
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 1000000000LL),
		    MDBUS_EEVICTED);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m),
		    MDBUS_EEVICTED);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 1000000LL),
		    MDBUS_EEVICTED);
	mdbus_sub_close(s);
	return 0;
}

static void test_evicted(void)
{
	mdbus_pub_t *p = open_lossless("ll.stop", EVICT_NS);
	struct mdbus_consumer_stat cs[2];
	struct mdbus_stats st;
	unsigned char buf[PMAX];
	uint64_t n = 0, t_pub, t_evict;
	int r, found = 0;
	pid_t c;

	c = tu_spawn(stopped_consumer, NULL);
	tu_await(&sh->ready, 1, 30, "consumer to register");
	t_pub = tu_now_ns(); /* the reader's last progress is after this */
	TU_CHECK_RC(tu_publish_seq(p, n++, buf, 0, PMAX), 0);
	tu_await(&sh->got0, 1, 30, "consumer to read message 0");
	kill(c, SIGSTOP);
	tu_await_state(c, 'T', 60, "stopped consumer");

	for (; n < 1 + CAP; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), MDBUS_EBACKPRESSURE);
	/* evicted by the housekeeping call alone: no message overwrites its
	 * next slot before it resumes, so only the eviction can stop it */
	while ((r = mdbus_pub_reap(p)) == 0) {
		if (tu_now_ns() - t_pub > 20000000000ULL)
			tu_fail("stopped consumer not evicted after 20 s");
		tu_sleep_ms(5);
	}
	TU_CHECK_RC(r, 1);
	t_evict = tu_now_ns();
	if (t_evict - t_pub < EVICT_NS)
		tu_fail("evicted %.1f ms after its last progress, before "
			"stall_evict_ns = %.0f ms",
			(double)(t_evict - t_pub) / 1e6, EVICT_NS / 1e6);

	TU_CHECK_RC(mdbus_channel_stats(channel, NULL, &st, cs, 2), 0);
	for (uint32_t i = 0; i < st.consumers && i < 2; i++) {
		if (cs[i].pid != c)
			continue;
		found = 1;
		TU_CHECK_EQ(cs[i].evicted, 1);
	}
	if (!found)
		tu_fail("evicted consumer's entry not in stats before it "
			"closed");

	kill(c, SIGCONT);
	atomic_store(&sh->cont, 1);
	tu_wait_ok(c, 30, "evicted consumer");
	/* and the publisher is no longer gated by it */
	for (uint64_t end = n + 5 * CAP; n < end; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	tu_note("evicted %.0f ms after its last progress",
		(double)(t_evict - t_pub) / 1e6);
	mdbus_pub_close(p);
}

/* ------------------------------------------- 4. joining at the latest */

#define JOINS 200
#define JOIN_READ (2 * CAP)

static int joining_consumers(void *arg)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	uint64_t first;
	int j;

	(void)arg;
	for (j = 0; j < JOINS; j++) {
		mdbus_sub_t *s = tu_sub_open(channel, "joiner", MDBUS_START_LATEST,
					     0, MDBUS_WAIT_SPIN);

		/* a reader slower than the publisher: whatever it was owed
		 * and the publisher did not hold for it is gone by now */
		tu_sleep_ms(1);
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   30000000000LL), 0);
		first = m.seq;
		for (uint64_t k = 0; k < JOIN_READ; k++) {
			if (k > 0)
				TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
							   30000000000LL), 0);
			if (m.seq != first + k || m.lost)
				tu_fail("join %d at the latest: got seq %llu (lost "
					"%llu), want %llu with nothing lost", j,
					(unsigned long long)m.seq,
					(unsigned long long)m.lost,
					(unsigned long long)(first + k));
		}
		TU_CHECK_EQ(mdbus_sub_lost(s), 0);
		mdbus_sub_close(s);
	}
	atomic_store(&sh->got0, 1);
	return 0;
}

#define JOIN_BATCH 48 /* messages per batch of a batch publisher */

/* Publishes messages n.. as one batch of up to `count` (they fill it) and
 * retries what back-pressure refused; returns the next message's number. */
static uint64_t publish_batch(mdbus_pub_t *p, uint64_t n, unsigned count)
{
	static unsigned char data[JOIN_BATCH][PMAX];
	struct mdbus_pub_msg msgs[JOIN_BATCH];
	unsigned i = 0;
	int r;

	for (unsigned k = 0; k < count; k++) {
		msgs[k].size = tu_size_for(n + k, 0, PMAX);
		tu_fill(data[k], msgs[k].size, n + k);
		msgs[k].type = tu_type_for(n + k);
		msgs[k].ts_ns = n + k + 1;
		msgs[k].data = data[k];
	}
	while (i < count) {
		r = mdbus_pub_publish_batch(p, msgs + i, count - i);
		if (r == MDBUS_EBACKPRESSURE) {
			sched_yield();
			continue;
		}
		TU_CHECK(r > 0);
		i += (unsigned)r;
	}
	return n + count;
}

/* Publishes unpaced from message n while `joiners` runs in a process of
 * its own, until it is done, one message at a time or in batches of
 * `batch`; returns the next message's number. */
static uint64_t publish_while(mdbus_pub_t *p, uint64_t n, int (*joiners)(void *),
			      const char *what, unsigned batch)
{
	unsigned char buf[PMAX];
	pid_t c = tu_spawn(joiners, NULL);

	while (!atomic_load(&sh->got0) &&
	       ((n & 4095) != 0 || tu_proc_state(c) != 'Z')) {
		if (batch > 1)
			n = publish_batch(p, n, batch);
		else
			publish_lossless(p, n++, buf);
	}
	tu_wait_ok(c, 120, what);
	return n;
}

static void test_join_latest(void)
{
	mdbus_pub_t *p = open_lossless("ll.join", 0);
	uint64_t n = publish_while(p, 0, joining_consumers, "joining consumers", 1);

	tu_note("%d readers joined at the latest while %llu messages went out "
		"unpaced: none lost any", JOINS, (unsigned long long)n);
	mdbus_pub_close(p);
}

/* ------------------------------------------- 6. joining behind it */

#define JOIN_OLDEST_SLACK 8 /* lost to a write under way as one joins */

static unsigned join_batch; /* the publisher's batch as readers join */

/* The write count, as any tool sees it. */
static uint64_t write_count(void)
{
	struct mdbus_stats st;

	TU_CHECK_RC(mdbus_channel_stats(channel, tu_dir(), &st, NULL, 0), 0);
	return st.pub.write_num;
}

/* What our entry in the table says we lost, as any tool sees it. */
static uint64_t entry_lost(void)
{
	struct mdbus_consumer_stat cons[8];
	struct mdbus_stats st;
	uint32_t i;

	TU_CHECK_RC(mdbus_channel_stats(channel, tu_dir(), &st, cons, 8), 0);
	for (i = 0; i < st.consumers && i < 8; i++)
		if (cons[i].pid == getpid())
			return cons[i].lost;
	tu_fail("no entry of ours among %u", st.consumers);
	return 0;
}

/*
 * One join: reads JOIN_READ messages from the position its open returned
 * with, contiguous. By sequence, what it counted lost is what was gone
 * from the ring when it registered (its position moved up past them) and
 * what it lost after; it loses nothing after its open unless it started
 * at the ring's oldest messages, which a write under way as it joined
 * may overwrite (at most JOIN_OLDEST_SLACK); at the oldest, the same.
 * The oldest is a ring below the write count read after the open, or up
 * to a batch less one above that: the join walks past messages a batch
 * publisher has sealed and not yet published, and the write under way is
 * the one after them. Returns what it lost after its open.
 */
static uint64_t join_behind(int oldest, int j)
{
	uint64_t w = write_count(), start = w > CAP / 2 ? w - CAP / 2 : 0;
	mdbus_sub_t *s = tu_sub_open(channel, "behind",
				     oldest ? MDBUS_START_OLDEST : MDBUS_START_SEQ,
				     start, MDBUS_WAIT_SPIN);
	uint64_t pos = mdbus_sub_position(s), gone = oldest ? 0 : pos - start;
	uint64_t w2 = write_count(), first = 0, late;
	unsigned char buf[PMAX];
	struct mdbus_msg m;

	/* what it counted as it joined shows in its entry at once */
	TU_CHECK_EQ(entry_lost(), gone);

	tu_sleep_ms(1); /* slower than the publisher from the start */
	for (uint64_t k = 0; k < JOIN_READ; k++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   30000000000LL), 0);
		if (k == 0)
			first = m.seq;
		if (m.seq != first + k || (k > 0 && m.lost))
			tu_fail("join %d %s: got seq %llu (lost %llu), want "
				"%llu", j, oldest ? "at the oldest" : "by sequence",
				(unsigned long long)m.seq,
				(unsigned long long)m.lost,
				(unsigned long long)(first + k));
	}
	late = first - pos;
	TU_CHECK_EQ(mdbus_sub_lost(s), gone + late);
	if (late > (pos < w2 - CAP + join_batch + JOIN_OLDEST_SLACK ?
		    JOIN_OLDEST_SLACK : 0))
		tu_fail("join %d %s: lapped after its open at %llu (start "
			"%llu): first message %llu", j,
			oldest ? "at the oldest" : "by sequence",
			(unsigned long long)pos, (unsigned long long)start,
			(unsigned long long)first);
	mdbus_sub_close(s);
	return late;
}

static int joining_behind(void *arg)
{
	uint64_t lost = 0, most = 0, d;
	int j;

	(void)arg;
	for (j = 0; j < JOINS; j++)
		(void)join_behind(0, j);
	for (j = 0; j < JOINS; j++) {
		d = join_behind(1, j);
		lost += d;
		most = d > most ? d : most;
	}
	tu_note("%d joins at the oldest lost %llu messages in all, %llu at "
		"most (a write under way as they joined)", JOINS,
		(unsigned long long)lost, (unsigned long long)most);
	atomic_store(&sh->got0, 1);
	return 0;
}

static void test_join_behind(unsigned batch)
{
	mdbus_pub_t *p = open_lossless("ll.behind", 0);
	unsigned char buf[PMAX];
	uint64_t n = 0;

	while (n < 2 * CAP) /* a full ring to join behind */
		publish_lossless(p, n++, buf);
	join_batch = batch;
	n = publish_while(p, n, joining_behind, "readers joining behind", batch);
	tu_note("%d readers joined half a ring back by sequence, %d at the "
		"oldest, while %llu messages went out unpaced, %s", JOINS, JOINS,
		(unsigned long long)n, batch > 1 ? "in batches" : "one by one");
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("ll.behind", tu_dir()), 0);
}

/* ------------------------------------------ 5. a flapping read position */

static struct seg_consumer *my_entry(void *tab)
{
	const struct seg_table_header *t = tab;

	for (unsigned i = 0; i < atomic_load(&t->max_consumers); i++)
		if (cons_pid(atomic_load(&tu_entry(tab, i)->state)) == getpid())
			return tu_entry(tab, i);
	tu_fail("no consumer entry of ours");
	return NULL;
}

/* What a hostile writer of the table does to our entry, once per step. */
enum cheat { FLAP, CREEP, REBORN };

#define CHEAT_FIRST 1000 /* published before the reader joins */

static const char *const cheat_name[] = {
	[FLAP] = "flapping its position between 999 and 1000",
	[CREEP] = "creeping up one message a step from 0",
	[REBORN] = "bumping its state word's generation",
};

static void cheat_step(struct seg_consumer *mine, enum cheat how, uint64_t k)
{
	uint64_t w;

	switch (how) {
	case FLAP:
		atomic_store(&mine->read_num, CHEAT_FIRST - k % 2);
		break;
	case CREEP:
		atomic_store(&mine->read_num, k);
		break;
	case REBORN:
		w = atomic_load(&mine->state);
		atomic_store(&mine->state, cons_next(w, CONS_ACTIVE, cons_pid(w)));
		break;
	}
}

static void test_cheat(enum cheat how)
{
	mdbus_pub_t *p = open_lossless("ll.cheat", EVICT_NS);
	unsigned char buf[PMAX];
	struct seg_consumer *mine;
	struct mdbus_msg m;
	mdbus_sub_t *s;
	uint64_t n, t_gated, k = 0;
	size_t len;
	void *tab;
	int rc;

	for (n = 0; n < CHEAT_FIRST; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	s = tu_sub_open(channel, "cheat", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	tab = tu_map_file(tu_table_path(channel), &len);
	mine = my_entry(tab);
	TU_CHECK_EQ(atomic_load(&mine->read_num), CHEAT_FIRST);
	/* far below before the publisher's first look: the look that
	 * starts its clock sees 0, and every step up is "forward" */
	if (how == CREEP)
		atomic_store(&mine->read_num, 0);
	while ((rc = tu_publish_seq(p, n, buf, 0, PMAX)) == 0)
		n++;
	TU_CHECK_RC(rc, MDBUS_EBACKPRESSURE);
	/* gated a ring past its position, or with the creep's 0 at the
	 * publisher's next look at the table (at most a ring on) */
	if (how != CREEP)
		TU_CHECK_EQ(n, CHEAT_FIRST + CAP);
	else if (n < CHEAT_FIRST || n > CHEAT_FIRST + CAP)
		tu_fail("gated at %llu", (unsigned long long)n);
	t_gated = tu_now_ns();
	while ((rc = tu_publish_seq(p, n, buf, 0, PMAX)) == MDBUS_EBACKPRESSURE) {
		if (tu_now_ns() - t_gated > 5000000000ULL)
			tu_fail("a reader %s (%llu steps) gated the publisher "
				"for 5 s: never evicted", cheat_name[how],
				(unsigned long long)k);
		cheat_step(mine, how, k++);
		tu_sleep_ms(20);
	}
	TU_CHECK_RC(rc, 0);
	if (tu_now_ns() - t_gated < EVICT_NS)
		tu_fail("evicted %llu ns after it gated, before stall_evict_ns",
			(unsigned long long)(tu_now_ns() - t_gated));
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), MDBUS_EEVICTED);
	tu_note("a reader %s (%llu steps) evicted %.0f ms after it gated",
		cheat_name[how], (unsigned long long)k,
		(double)(tu_now_ns() - t_gated) / 1e6);
	tu_unmap(tab, len);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("ll.cheat", tu_dir()), 0);
}

/* ------------------------------- 7. a rewritten eviction counter */

/* Rewrites the table's evictions counter until told to stop. */
static int rewrite_evictions(void *arg)
{
	(void)arg;
	size_t len;
	struct seg_table_header *t = tu_map_file(tu_table_path(channel), &len);
	uint64_t k = 0;

	atomic_store(&sh->ready, 1);
	while (!atomic_load(&sh->cont))
		atomic_store(&t->evictions, (k++ & 1) << 31);
	tu_unmap(t, len);
	return 0;
}

static void test_reap_count(void)
{
	mdbus_pub_t *p = open_lossless("ll.reap", EVICT_NS);
	unsigned bad = 0, i;
	int rc, first = 0;
	pid_t w;

	w = tu_spawn(rewrite_evictions, NULL);
	tu_await(&sh->ready, 1, 10, "the table writer");
	for (i = 0; i < 2000; i++) {
		rc = mdbus_pub_reap(p);
		if (rc != 0 && bad++ == 0)
			first = rc;
		tu_sleep_ms(0.2); /* the writer runs on this CPU too */
	}
	atomic_store(&sh->cont, 1);
	tu_wait_ok(w, 10, "the table writer");
	if (bad)
		tu_fail("mdbus_pub_reap() with nothing to free returned non-zero "
			"%u times of 2000 (first %d) while the table's evictions "
			"counter was rewritten", bad, first);
	tu_note("2000 reaps while the evictions counter was rewritten: all 0");
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("ll.reap", tu_dir()), 0);
}

/* Publishes until back-pressure (at most a ring): the publisher's look
 * at the table, which starts or checks the gating readers' clocks. */
static void publish_to_gate(mdbus_pub_t *p, uint64_t *n, unsigned char *buf)
{
	for (uint64_t k = 0; k <= CAP; k++) {
		int rc = tu_publish_seq(p, *n, buf, 0, PMAX);

		if (rc == MDBUS_EBACKPRESSURE)
			return;
		TU_CHECK_RC(rc, 0);
		++*n;
	}
	tu_fail("no back-pressure within a ring past %llu",
		(unsigned long long)*n);
}

static void test_evicted_reopen(void)
{
	mdbus_pub_t *p = open_lossless("ll.reopen", 1000000000ULL);
	unsigned char buf[PMAX];
	mdbus_sub_t *a, *b;
	struct mdbus_msg m;
	uint64_t n = 0;

	a = tu_sub_open(channel, "a", MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	publish_to_gate(p, &n, buf);   /* a's clock starts */
	TU_CHECK_EQ(n, CAP);
	tu_sleep_ms(600);
	b = tu_sub_open(channel, "b", MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	publish_to_gate(p, &n, buf);   /* b's clock starts */
	tu_sleep_ms(700);
	publish_to_gate(p, &n, buf);   /* a evicted (1.3 s), b not (0.7 s) */
	TU_CHECK_EQ(n, CAP);           /* b holds the ring */
	TU_CHECK_RC(mdbus_sub_read(a, buf, sizeof buf, &m, 0), MDBUS_EEVICTED);
	TU_CHECK_RC(mdbus_sub_reopen(a, MDBUS_START_SEQ, 0), 0);
	TU_CHECK_EQ(mdbus_sub_position(a), 0);
	publish_to_gate(p, &n, buf);   /* the next look */
	TU_CHECK_RC(mdbus_sub_read(a, buf, sizeof buf, &m, 0), 0);
	TU_CHECK_EQ(m.seq, 0);
	tu_note("an evicted reader reopened at its place gets a stall "
		"clock of its own");
	mdbus_sub_close(a);
	mdbus_sub_close(b);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("ll.reopen", tu_dir()), 0);
}

static void test_closed_reopen(void)
{
	mdbus_pub_t *p = open_lossless("ll.closed", 1000000000ULL);
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	struct seg_consumer *mine;
	mdbus_sub_t *a, *c;
	uint64_t n = 0;
	size_t len;
	void *tab;

	a = tu_sub_open(channel, "a", MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	publish_to_gate(p, &n, buf);   /* a's clock starts */
	TU_CHECK_EQ(n, CAP);
	tu_sleep_ms(700);
	mdbus_sub_close(a);            /* its entry free, nobody looked */
	c = tu_sub_open(channel, "c", MDBUS_START_SEQ, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_EQ(mdbus_sub_position(c), 0);
	tu_sleep_ms(600);
	tab = tu_map_file(tu_table_path(channel), &len);
	mine = my_entry(tab);
	/* the look: 1.3 s on a's clock; c's starts */
	if (mdbus_pub_reap(p) != 0 ||
	    cons_state(atomic_load(&mine->state)) != CONS_ACTIVE)
		tu_fail("a reader open 600 ms evicted: the closed reader's "
			"stall clock was taken for its own");
	tu_sleep_ms(1300);
	TU_CHECK_RC(mdbus_pub_reap(p), 1); /* c's own clock ran out */
	TU_CHECK_RC(mdbus_sub_read(c, buf, sizeof buf, &m, 0), MDBUS_EEVICTED);
	tu_unmap(tab, len);
	tu_note("a reader opened in a closed reader's entry gets a stall "
		"clock of its own, and is evicted by it");
	mdbus_sub_close(c);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("ll.closed", tu_dir()), 0);
}

int main(void)
{
	tu_init("t_lossless", 240);
	sh = tu_shared(sizeof(*sh));
	test_slow();
	test_killed();
	test_evicted();
	test_join_latest();
	test_join_behind(1);
	test_join_behind(JOIN_BATCH);
	test_cheat(FLAP);
	test_cheat(CREEP);
	test_cheat(REBORN);
	test_reap_count();
	test_evicted_reopen();
	test_closed_reopen();
	return 0;
}
