/*
 * t_hold.c - mdbus_sub_set_hold_back(): a reader that pauses to stay
 * behind a producer that streams loses and repeats nothing, and never
 * waits for a producer that stopped.
 *
 * Flood: a publisher process writes TOTAL self-verifying messages into a
 * 512-slot ring (the distance held: a quarter of it, 128) as fast as it
 * can while four readers in their own processes read every one they can:
 * mdbus_sub_read() spinning, mdbus_sub_try_read(), mdbus_sub_poll(), each
 * with the default hold-back, and mdbus_sub_read() with none. Each checks
 * every payload, that sequence numbers only go up by 1 + msg.lost, and at
 * the end that delivered + lost == TOTAL exactly. With five processes on
 * few CPUs the readers are lapped most of the time: this is the
 * accounting's test, not the hold's.
 *
 * Idle: a backlog of 200 messages, the producer stopped: all of it is
 * read by mdbus_sub_try_read() with no -EAGAIN in between, 100 times
 * over (one empty try after each is no wait: past the first 16384
 * messages the reader counts as flooded); the looks at the 64th
 * positions less than the distance (128) before each backlog's end end
 * the hold at their fourth look (the count did not move), and let the
 * next 16 such positions pass (still_skips(), below, counts them).
 *
 * A reader with mdbus_sub_fd()'s descriptor that reads each burst to
 * its end is never held (fd_waits(), below): its event loop waits on the
 * descriptor after each -EAGAIN, and the library counts that try as a
 * wait. Before 6ece316 only HOLD_GAP tries at one position did, so such
 * a reader counted as flooded for good past its first HOLD_AFTER: held at
 * every 64th message of a burst written faster than it reads.
 *
 * An adaptive reader (the default strategy) that read every message
 * there, given the next 8 as soon as the producer sees that (blips(),
 * below), watches its slot and sees the next message land: no wait, so
 * past its first 16384 messages it counts as flooded and its hold-back
 * looks at the write count (wait_hold() called, seen through
 * -Wl,--wrap). Before 2bed153 every such blip, a second round of
 * mdbus_sub_read()'s wait, counted as a wait: never held, however long
 * the feed (0 calls in 4 of 4 runs of 1 000 000 messages). Judged only
 * when the reader read 16384 + 64 messages in a row whose watches all
 * saw their message land (wait_watch() wrapped too): on a loaded
 * machine a producer preempted mid-feed makes real waits, and an
 * adaptive reader that then sleeps at once is rightly never held.
 *
 * The wait itself (lib/wait.c wait_hold(), linked statically to reach
 * it): its rule look by look (hold_rule(), below: a batch publisher's
 * count, moving 32 at a time, holds the reader on to the distance);
 * no look with the write count the distance ahead or behind the
 * reader (inside a batch being sealed); exactly WAIT_HOLD_STILL with a
 * count nobody moves; one to WAIT_HOLD_LOOKS with one that another
 * process moves without end.
 * Whether the hold keeps a reader off its producer's heels, and what it
 * costs, is the bench's to say (bench/README, README.md "Performance"),
 * not a test's: this test tells when a reader is counted flooded (blips,
 * fd_waits), not what the pause does for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define CHANNEL "hold"
#define SLOT 64u
#define SPB 128u
#define BLOCKS 4u
#define PMIN 8u
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define TOTAL 2000000u
#define READERS 4
#define BACKLOG 200u

enum how { READ_HELD, TRY_HELD, POLL_HELD, READ_UNHELD };

static const char *const how_name[READERS] = {
	"read, held", "try_read, held", "poll, held", "read, hold-back 0"
};

struct shared {
	_Atomic uint32_t ready;
	uint64_t delivered[READERS], lost[READERS];
};

static struct shared *sh;

struct tally {
	int id;
	uint64_t next; /* the sequence expected next (plus msg.lost) */
	uint64_t delivered, lost;
	uint64_t torn; /* poll: a payload seen torn, UINT64_MAX: none */
};

/* Checks one message handed over, in place or copied. */
static void take(struct tally *t, const struct mdbus_msg *m, const void *p)
{
	const char *bad;

	if (m->seq != t->next + m->lost)
		tu_fail("%s: seq %llu with lost %llu after %llu (stale, "
			"duplicate or uncounted gap)", how_name[t->id],
			(unsigned long long)m->seq,
			(unsigned long long)m->lost,
			(unsigned long long)t->next);
	if ((bad = tu_msg_bad(m, p, PMIN, PMAX)))
		tu_fail("%s: %s", how_name[t->id], bad);
	t->delivered++;
	t->lost += m->lost;
	t->next = m->seq + 1;
}

/* mdbus_sub_poll()'s handler: a payload taken back (NULL) counts as
 * lost, and a torn one must have been taken back before the next. */
static int poll_take(void *arg, const struct mdbus_msg *m, const void *p)
{
	struct tally *t = arg;

	if (!p) {
		t->delivered--;
		t->lost++;
		t->torn = UINT64_MAX;
		return 0;
	}
	if (t->torn != UINT64_MAX)
		tu_fail("poll: message %llu was torn and not taken back",
			(unsigned long long)t->torn);
	if (m->seq != t->next + m->lost)
		tu_fail("poll: seq %llu with lost %llu after %llu",
			(unsigned long long)m->seq,
			(unsigned long long)m->lost,
			(unsigned long long)t->next);
	if (tu_msg_bad(m, p, PMIN, PMAX))
		t->torn = m->seq; /* raced: it must come back as NULL */
	t->delivered++;
	t->lost += m->lost;
	t->next = m->seq + 1;
	return 0;
}

static int reader(void *arg)
{
	struct tally t = { (int)(intptr_t)arg, 0, 0, 0, UINT64_MAX };
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	mdbus_sub_t *s;
	int rc;

	s = tu_sub_open(CHANNEL, NULL, MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	if (t.id == READ_UNHELD)
		mdbus_sub_set_hold_back(s, 0);
	atomic_fetch_add(&sh->ready, 1);
	while (t.next < TOTAL) {
		switch (t.id) {
		case TRY_HELD:
			rc = mdbus_sub_try_read(s, buf, sizeof(buf), &m);
			break;
		case POLL_HELD:
			rc = mdbus_sub_poll(s, poll_take, &t, 64);
			if (rc >= 0)
				continue;
			break;
		default:
			rc = mdbus_sub_read(s, buf, sizeof(buf), &m, -1);
		}
		if (rc == -EAGAIN)
			continue;
		if (rc)
			tu_fail("%s at %llu: %s", how_name[t.id],
				(unsigned long long)t.next, mdbus_strerror(rc));
		take(&t, &m, buf);
	}
	if (t.delivered + t.lost != TOTAL)
		tu_fail("%s: delivered %llu + lost %llu != %u", how_name[t.id],
			(unsigned long long)t.delivered,
			(unsigned long long)t.lost, TOTAL);
	TU_CHECK_EQ(mdbus_sub_lost(s), t.lost);
	sh->delivered[t.id] = t.delivered;
	sh->lost[t.id] = t.lost;
	mdbus_sub_close(s);
	return 0;
}

static void flood(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS,
					      MDBUS_MODE_OVERWRITE);
	unsigned char buf[PMAX];
	pid_t pids[READERS];
	mdbus_pub_t *p = tu_pub_open(CHANNEL, &c);
	uint64_t n;
	int i;

	for (i = 0; i < READERS; i++)
		pids[i] = tu_spawn(reader, (void *)(intptr_t)i);
	tu_await(&sh->ready, READERS, 30, "readers to attach");
	for (n = 0; n < TOTAL; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, PMIN, PMAX), 0);
	for (i = 0; i < READERS; i++)
		tu_wait_ok(pids[i], 120, how_name[i]);
	for (i = 0; i < READERS; i++)
		tu_note("%s: delivered %llu, lost %llu", how_name[i],
			(unsigned long long)sh->delivered[i],
			(unsigned long long)sh->lost[i]);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink(CHANNEL, tu_dir()), 0);
}

/* A publisher of a ring of spb * blocks slots on `channel`, and a
 * spinning reader of it from its oldest message, held back at a quarter
 * of the ring (*s). */
static mdbus_pub_t *backlog_pair(const char *channel, uint32_t spb,
				 uint32_t blocks, mdbus_sub_t **s)
{
	struct mdbus_pub_config c = tu_config(SLOT, spb, blocks,
					      MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open(channel, &c);

	*s = tu_sub_open(channel, NULL, MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	mdbus_sub_set_hold_back(*s, spb * blocks / 4);
	return p;
}

/* The backlog read through, BACKLOG messages at a time, 100 times. */
static void idle(void)
{
	unsigned char buf[PMAX];
	mdbus_sub_t *s;
	mdbus_pub_t *p = backlog_pair(CHANNEL, SPB, BLOCKS, &s);
	struct mdbus_msg m;
	uint64_t n = 0, t0, took;
	int round;

	t0 = tu_now_ns();
	for (round = 0; round < 100; round++) {
		uint64_t end = n + BACKLOG;

		for (uint64_t k = n; k < end; k++)
			TU_CHECK_RC(tu_publish_seq(p, k, buf, PMIN, PMAX), 0);
		for (; n < end; n++) {
			TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
			tu_check_next(&m, buf, n, PMIN, PMAX);
		}
		TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), -EAGAIN);
	}
	took = tu_now_ns() - t0;
	tu_note("idle: %llu messages in %llu us", (unsigned long long)n,
		(unsigned long long)took / 1000);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* fd_waits(): the write count forged from the read at pos P1 on: P1 + 2
 * to P1 + 120 (inside the distance held, 128), 2 more at each store,
 * round and round, so that a hold at P1 finds it moved at every look. */
struct forge {
	_Atomic uint64_t *write_num;
	uint64_t p1; /* set before the forger is forked */
};

static int forger(void *arg)
{
	struct forge *f = arg;
	uint64_t k = 0;

	/* Relaxed: a forged count, nothing published with it (wait_hold()
	 * loads it relaxed too) */
	for (;; k++)
		atomic_store_explicit(f->write_num, f->p1 + 2 + 2 * (k % 60),
				      memory_order_relaxed);
	return 0;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A reader with mdbus_sub_fd()'s descriptor reads bursts of FD_BURST
 * messages, each to its end (-EAGAIN, where its event loop waits on the
 * descriptor): each burst comes after a wait, so none is held, not even
 * past the reader's first 16384 messages. Seen by the time of the read
 * reaching the first 64th position of a burst (P1), while another
 * process forges the write count as a flood would move it there
 * (forger()): held, that read lasts as long as wait_hold() does at P1
 * (measured the same way first, the median of FD_ROUNDS: half of
 * WAIT_HOLD_LOOKS or more, else the forger could not keep up and the
 * check is skipped); not
 * held, a read's time: the median such read under a third of the median
 * hold.
 */
#define FD_CHANNEL "holdfd"
#define FD_BURST 250u
#define FD_WARM 70 /* bursts before the timed ones: 17 500 messages */
#define FD_ROUNDS 15
static void fd_waits(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS,
					      MDBUS_MODE_OVERWRITE);
	unsigned char buf[PMAX];
	mdbus_pub_t *p = tu_pub_open(FD_CHANNEL, &c);
	struct forge *f = tu_shared(sizeof(*f));
	struct seg_header *h;
	uint64_t n = 0, cal[FD_ROUNDS], held[FD_ROUNDS], w;
	unsigned looks[FD_ROUNDS];
	mdbus_sub_t *s;
	struct mdbus_msg m;
	size_t size;
	pid_t pid = -1;
	int round, still;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		tu_note("fd_waits: skipped (one CPU: no forger beside the "
			"reader)");
		mdbus_pub_close(p);
		return;
	}
	s = tu_sub_open(FD_CHANNEL, NULL, MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK(mdbus_sub_fd(s) >= 0);
	h = tu_map_file(tu_seg_path(FD_CHANNEL), &size);
	f->write_num = &h->write_num;
	for (round = 0; round < FD_WARM + FD_ROUNDS; round++) {
		uint64_t end = n + FD_BURST, p1 = (n / 64 + 1) * 64, t0 = 0;

		for (uint64_t k = n; k < end; k++)
			TU_CHECK_RC(tu_publish_seq(p, k, buf, PMIN, PMAX), 0);
		w = atomic_load(&h->write_num);
		if (round >= FD_WARM) {
			f->p1 = p1;
			pid = tu_spawn(forger, f);
			for (unsigned moves = 0; moves < 2000; moves++) {
				/* the forger running, not just started */
				uint64_t now = atomic_load(&h->write_num);

				while (atomic_load(&h->write_num) == now)
					;
			}
			t0 = tu_now_ns();
			looks[round - FD_WARM] = wait_hold(&h->write_num, p1,
							   128, &still);
			cal[round - FD_WARM] = tu_now_ns() - t0;
		}
		for (; n < end; n++) {
			if (n + 1 == p1 && round >= FD_WARM)
				t0 = tu_now_ns();
			TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
			if (n + 1 == p1 && round >= FD_WARM) {
				held[round - FD_WARM] = tu_now_ns() - t0;
				tu_kill_reap(pid);
				atomic_store(&h->write_num, w);
			}
			tu_check_next(&m, buf, n, PMIN, PMAX);
		}
		TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), -EAGAIN);
	}
	qsort(cal, FD_ROUNDS, sizeof(cal[0]), cmp_u64);
	qsort(held, FD_ROUNDS, sizeof(held[0]), cmp_u64);
	qsort(looks, FD_ROUNDS, sizeof(looks[0]), cmp_unsigned);
	tu_note("fd_waits: medians of %d: wait_hold() at P1 %llu ns (%u "
		"looks), the read reaching P1 %llu ns (fastest %llu)",
		FD_ROUNDS, (unsigned long long)cal[FD_ROUNDS / 2],
		looks[FD_ROUNDS / 2], (unsigned long long)held[FD_ROUNDS / 2],
		(unsigned long long)held[0]);
	if (looks[FD_ROUNDS / 2] < WAIT_HOLD_LOOKS / 2)
		tu_note("fd_waits: not judged (the forger did not keep up)");
	else
		TU_CHECK(held[FD_ROUNDS / 2] * 3 < cal[FD_ROUNDS / 2]);
	tu_unmap(h, size);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink(FD_CHANNEL, tu_dir()), 0);
}

/* wait_hold()'s calls in this process: the library's (hold_back(), a
 * reader counted as flooded) and this file's, and those of them that
 * the count's standing still ended; wait_watch()'s that ran out of
 * looks (an adaptive wait the library counts as a wait). Linked with
 * -Wl,--wrap for both. */
static unsigned hold_calls, still_holds, watch_misses;

unsigned __real_wait_hold(const _Atomic uint64_t *, uint64_t, uint64_t, int *);
unsigned __wrap_wait_hold(const _Atomic uint64_t *, uint64_t, uint64_t, int *);
int __real_wait_watch(const _Atomic uint64_t *, uint32_t, uint64_t);
int __wrap_wait_watch(const _Atomic uint64_t *, uint32_t, uint64_t);

unsigned __wrap_wait_hold(const _Atomic uint64_t *write_num, uint64_t pos,
			  uint64_t distance, int *still)
{
	unsigned looks = __real_wait_hold(write_num, pos, distance, still);

	hold_calls++;
	still_holds += *still != 0;
	return looks;
}

int __wrap_wait_watch(const _Atomic uint64_t *slot, uint32_t slot_words,
		      uint64_t pos)
{
	int landed = __real_wait_watch(slot, slot_words, pos);

	watch_misses += !landed;
	return landed;
}

/*
 * blips(): bursts of BLIP_BURST messages, each once the reader said it
 * read the one before (so that it is never lapped, and catches the
 * producer up before each burst), until the reader was held or
 * BLIP_MAX messages went out. The burst comes as soon as the producer
 * sees that, far sooner than an adaptive watch (256 looks at the slot)
 * ends, so the reader sees its first message land; a producer preempted
 * longer makes a real wait, after which the reader needs another 16384
 * messages. The reads time out after 1 ms, so that the reader sees the
 * end (total) soon after the last message.
 */
#define BLIP_CHANNEL "holdblip"
#define BLIP_BURST 8u
#define BLIP_MAX 1000000u
#define BLIP_JUDGED (16384u + 64u) /* HOLD_AFTER, then a HOLD_EVERY-th */
/* A reader that read nothing for this long stopped. Not a bound on the
 * whole run: on a loaded machine (ASan, two busy loops) the reader was
 * never counted flooded and all of BLIP_MAX went out, which took longer
 * than 60 s ("the reader stopped at 952168" while it read on) */
#define BLIP_STALL_NS 60000000000ULL

struct blip_shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t held;  /* the reader's hold_calls went past 0 */
	_Atomic uint64_t read;  /* messages the reader read so far */
	_Atomic uint64_t total; /* messages published, once done; 0 before */
	uint64_t delivered, lost;
	uint64_t longest; /* messages in a row without a watch missed */
	unsigned holds;
};

/* Checks and counts one message of blips(); returns the next expected. */
static uint64_t blip_take(struct blip_shared *b, uint64_t next,
			  const struct mdbus_msg *m, const void *buf)
{
	if (m->seq != next + m->lost)
		tu_fail("blips: seq %llu with lost %llu after %llu",
			(unsigned long long)m->seq,
			(unsigned long long)m->lost, (unsigned long long)next);
	if (tu_msg_bad(m, buf, PMIN, PMAX))
		tu_fail("blips: message %llu bad", (unsigned long long)m->seq);
	b->delivered++;
	b->lost += m->lost;
	/* Relaxed: the producer's pace only (the messages are the ring's) */
	atomic_store_explicit(&b->read, m->seq + 1, memory_order_relaxed);
	return m->seq + 1;
}

static int blip_reader(void *arg)
{
	struct blip_shared *b = arg;
	unsigned char buf[PMAX];
	uint64_t next = 0, total = 0, run = 0;
	struct mdbus_msg m;
	mdbus_sub_t *s;
	int rc;

	hold_calls = watch_misses = 0; /* the parent's, before the fork */
	s = tu_sub_open(BLIP_CHANNEL, NULL, MDBUS_START_OLDEST, 0,
			MDBUS_WAIT_ADAPTIVE);
	atomic_store(&b->ready, 1);
	while (!total || next < total) {
		rc = mdbus_sub_read(s, buf, sizeof(buf), &m, 1000000);
		/* a read whose watch missed counts from its own message
		 * (the library's gap_pos is its position) */
		run = watch_misses ? 0 : run;
		watch_misses = 0;
		if (rc == 0) {
			next = blip_take(b, next, &m, buf);
			if (++run > b->longest)
				b->longest = run;
		} else if (rc != -ETIMEDOUT)
			tu_fail("blips: read at %llu: %s",
				(unsigned long long)next, mdbus_strerror(rc));
		if (hold_calls && !atomic_load(&b->held))
			atomic_store(&b->held, 1);
		total = atomic_load(&b->total);
	}
	TU_CHECK_EQ(mdbus_sub_lost(s), b->lost);
	b->holds = hold_calls;
	mdbus_sub_close(s);
	return 0;
}

static void blips(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS,
					      MDBUS_MODE_OVERWRITE);
	struct blip_shared *b = tu_shared(sizeof(*b));
	unsigned char buf[PMAX];
	mdbus_pub_t *p = tu_pub_open(BLIP_CHANNEL, &c);
	uint64_t n = 0, seen = 0, give_up = tu_now_ns() + BLIP_STALL_NS, r;
	pid_t pid;

	pid = tu_spawn(blip_reader, b);
	tu_await(&b->ready, 1, 30, "the reader to attach");
	while (n < BLIP_MAX && !atomic_load(&b->held)) {
		while ((r = atomic_load_explicit(&b->read,
						 memory_order_relaxed)) < n) {
			if (r != seen) {
				seen = r;
				give_up = tu_now_ns() + BLIP_STALL_NS;
			} else if (tu_now_ns() > give_up)
				tu_fail("blips: the reader stopped at %llu",
					(unsigned long long)r);
		}
		for (uint64_t end = n + BLIP_BURST; n < end; n++)
			TU_CHECK_RC(tu_publish_seq(p, n, buf, PMIN, PMAX), 0);
	}
	atomic_store(&b->total, n);
	tu_wait_ok(pid, 60, "the adaptive reader");
	tu_note("blips: %llu messages in bursts of %u, delivered %llu, lost "
		"%llu, at most %llu in a row without a missed watch; the "
		"reader's hold-back looked %u times", (unsigned long long)n,
		BLIP_BURST, (unsigned long long)b->delivered,
		(unsigned long long)b->lost, (unsigned long long)b->longest,
		b->holds);
	TU_CHECK_EQ(b->delivered, n);
	TU_CHECK_EQ(b->lost, 0);
	if (b->holds == 0 && b->longest < BLIP_JUDGED)
		tu_note("blips: not judged (never %u in a row: a loaded "
			"machine)", BLIP_JUDGED);
	else if (b->holds == 0)
		tu_fail("blips: an adaptive reader that saw %llu bursts in a "
			"row land was never counted flooded",
			(unsigned long long)b->longest / BLIP_BURST);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink(BLIP_CHANNEL, tu_dir()), 0);
}

/*
 * still_skips(): a backlog of HOLD_AFTER + 40 * 64 messages in a ring of
 * 32768, the producer stopped, read through by mdbus_sub_try_read()
 * with a hold-back distance of a quarter of the ring. Past HOLD_AFTER
 * the reader counts as flooded, and each of the 41 64th positions from
 * there to the end is within the distance of a count that never moves.
 * The first hold ends for that (4 looks) and lets the next 16 pass, and
 * so on: 3 holds (positions 0, 17 and 34 of the 41), each ended by the
 * count's standing still. Before the holds let any pass, there were 41.
 * The same with mdbus_sub_read(), and in a ring of the same capacity in
 * blocks of 32 slots (2 KiB: not whole pages, a segmented map), which
 * eb6bd5a read through its slow path alone, never held (0 holds; review
 * of eb6bd5a).
 */
#define SKIP_CHANNEL "holdskip"
#define SKIP_CAPACITY 32768u
#define SKIP_TOTAL (16384u + 40u * 64u)
static void still_skips(uint32_t spb, int use_read)
{
	unsigned char buf[PMAX];
	mdbus_sub_t *s;
	mdbus_pub_t *p = backlog_pair(SKIP_CHANNEL, spb, SKIP_CAPACITY / spb, &s);
	struct mdbus_msg m;
	uint64_t n;

	for (n = 0; n < SKIP_TOTAL; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, PMIN, PMAX), 0);
	hold_calls = still_holds = 0;
	for (n = 0; n < SKIP_TOTAL; n++) {
		TU_CHECK_RC(use_read ? mdbus_sub_read(s, buf, sizeof(buf), &m, 0)
				     : mdbus_sub_try_read(s, buf, sizeof(buf), &m),
			    0);
		tu_check_next(&m, buf, n, PMIN, PMAX);
	}
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), -EAGAIN);
	tu_note("still_skips, %s, blocks of %u slots: %u holds, %u of them "
		"ended by a still count", use_read ? "read" : "try_read", spb,
		hold_calls, still_holds);
	TU_CHECK_EQ(still_holds, 3);
	TU_CHECK_EQ(hold_calls, 3);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink(SKIP_CHANNEL, tu_dir()), 0);
}

static int mover(void *arg)
{
	_Atomic uint64_t *count = arg;

	for (;;)
		atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
	return 0;
}

/*
 * wait_hold_look() fed the counts a hold's looks would see, with the
 * reader at 1000 and the count at `start` when the hold began: the look
 * it ends at (1 = the first), or 0 if still held after `n` counts.
 */
static unsigned hold_ends_at(uint64_t start, const uint64_t *seen, unsigned n)
{
	struct hold_watch hw = { start, 0, 0, 0 };
	unsigned i;

	for (i = 0; i < n; i++)
		if (!wait_hold_look(&hw, seen[i], 1000, 256))
			return i + 1;
	return 0;
}

/*
 * The hold's rule, look by look. A batch publisher's count moves 32 at a
 * time, here every third look (a batch of 32 at 5 ns a message, looks
 * 100 ns apart): held on until the count is the distance (256) ahead,
 * at the 24th look. Under the rule of 4 messages between two looks that
 * this replaced, the hold ended at the first look. A count that moves
 * 1 a look (10 M msgs/s: no flood), or not at all, ends it at look
 * WAIT_HOLD_STILL; one that floods, at the distance; one forged to move
 * without ever getting there, at WAIT_HOLD_LOOKS; one behind the reader
 * (inside a batch being sealed), at once.
 */
static void hold_rule(void)
{
	uint64_t seen[WAIT_HOLD_LOOKS + 8];
	unsigned i;

	for (i = 0; i < WAIT_HOLD_LOOKS + 8; i++)
		seen[i] = 1010 + 32 * ((i + 1) / 3);
	TU_CHECK_EQ(hold_ends_at(1010, seen, WAIT_HOLD_LOOKS + 8), 24);
	TU_CHECK_EQ(seen[23] - 1000, 266);
	TU_CHECK(seen[22] - 1000 < 256);
	for (i = 0; i < WAIT_HOLD_LOOKS + 8; i++)
		seen[i] = 1010 + i + 1;
	TU_CHECK_EQ(hold_ends_at(1010, seen, WAIT_HOLD_LOOKS + 8),
		    WAIT_HOLD_STILL);
	for (i = 0; i < WAIT_HOLD_LOOKS + 8; i++)
		seen[i] = 1010;
	TU_CHECK_EQ(hold_ends_at(1010, seen, WAIT_HOLD_LOOKS + 8),
		    WAIT_HOLD_STILL);
	for (i = 0; i < WAIT_HOLD_LOOKS + 8; i++)
		seen[i] = 1010 + 16 * (i + 1);
	TU_CHECK_EQ(hold_ends_at(1010, seen, WAIT_HOLD_LOOKS + 8), 16);
	for (i = 0; i < WAIT_HOLD_LOOKS + 8; i++)
		seen[i] = 1010 + (i % 2 ? 100 : 20);
	TU_CHECK_EQ(hold_ends_at(1010, seen, WAIT_HOLD_LOOKS + 8),
		    WAIT_HOLD_LOOKS);
	seen[0] = 999;
	TU_CHECK_EQ(hold_ends_at(1010, seen, 1), 1);
}

static void wait_itself(void)
{
	_Atomic uint64_t *count = tu_shared(sizeof(*count));
	unsigned looks;
	int still;
	pid_t pid;

	hold_rule();
	atomic_store(count, 1000 + 256);
	TU_CHECK_EQ(wait_hold(count, 1000, 256, &still), 0);
	TU_CHECK_EQ(still, 0);
	atomic_store(count, 999); /* behind the reader (inside a batch whose
				   stamps went before its count): not held */
	TU_CHECK_EQ(wait_hold(count, 1000, 256, &still), 0);
	TU_CHECK_EQ(still, 0);
	atomic_store(count, 1010);
	TU_CHECK_EQ(wait_hold(count, 1000, 256, &still), WAIT_HOLD_STILL);
	TU_CHECK_EQ(still, 1);
	pid = tu_spawn(mover, (void *)count);
	while (atomic_load(count) < 1000000)
		;
	looks = wait_hold(count, 1000, 1ULL << 40, &still);
	tu_kill_reap(pid);
	tu_note("a count moved without end: %u looks", looks);
	TU_CHECK(looks >= 1 && looks <= WAIT_HOLD_LOOKS);
}

int main(void)
{
	tu_init("t_hold", 240);
	sh = tu_shared(sizeof(*sh));
	wait_itself();
	still_skips(1024, 0);
	still_skips(1024, 1);
	still_skips(32, 0);
	still_skips(32, 1);
	flood();
	idle();
	fd_waits();
	blips();
	return 0;
}
