/*
 * t_herd.c - anyone who can read a segment can park threads on its
 * futex word wake_seq from a read-only mapping (FUTEX_WAIT only reads
 * the word). The producer's wake after a publish woke every sleeper of
 * the word, his too: an attack run's 1000 threads cost the publishing
 * thread 40% of a CPU at 200 msg/s and raised a blocking reader's p50
 * from 26 us to 2.5 ms. A producer with a nudger now wakes one more than
 * readers are counted asleep and kicks its idle nudger on a word of its
 * own process; the kernel wakes a word's sleepers in the order they came,
 * so a thread parked ahead of a counted reader takes its wake: when the
 * one more woke too, the nudger wakes every sleeper of the word, on its
 * own thread (a sweep; doc/protocol.md, "Waiting"; wait.c
 * wait_wake_counted(), pub_nudge.c).
 *
 * Three rounds (rounds[]): a herd process parks 64 threads on wake_seq,
 * then a single one, then 36, while a registered blocking reader and an
 * anonymous one each read a round's messages published a gap apart.
 * This program's
 * syscall() (syscall_hook.h) sees every FUTEX_WAKE of the publishing
 * thread (the main one) while it publishes: none may wake more than
 * WAKE_MAX (the one counted reader and one more; the nudger's kick wakes
 * one thread); before, each woke the herd too (HERD + 3). The
 * registered reader counts its late reads, half a gap or more after the
 * message's publish: a wake it missed leaves its message to the next
 * publish's wake, a gap later (review of the counted wake without the
 * sweep: a single parked thread ahead of the reader took every other
 * wake, and half the messages were one gap late); with one parked
 * thread, at most a fifth of them. (It counted its reads without a
 * sleep until 2026-12-07, which a reader kept off its CPU for a gap, in
 * a busy `make check`, also made: 13 of 40 in a CI run.) With 64 parked, sweeps wake a crowd and come 200 ms apart:
 * the herd is woken at most twice a publish and 64 times a sweep
 * (before that gap: 64 times a publish), and the reader, passed over,
 * sleeps out its sleep and then naps. With 36 parked and messages 5 ms
 * apart, the reader's turn came every 18th publish, within its sleep's
 * 100 ms, and it was never found moved off (attack run: 35 ms late for
 * good): woken after a second bump of the word it sleeps warily, woken
 * by the nudger too; at most a third of its reads late (the first
 * turn's). Both readers get every message, in order.
 *
 * A fourth round parks 64 threads on nudge_seq, where anonymous readers
 * sleep and the nudger wakes them; the anonymous reader behind the herd
 * gets every message. (Each wake of the nudger's woke every sleeper
 * until d5ba921, then 32 at most; now it may wake more, rationed: round
 * 6.)
 *
 * A fifth parks 300 there for good (no timeout: a thread whose sleeps
 * ended on their own went to the back of the queue, behind the reader),
 * more than twice the 136 that a message's wakes woke at most on
 * 167e5ee (the producer's 8, then 4 looks of 32: the reader back in the
 * queue after its read is out of their reach at the next message), and
 * publishes 120 ms apart, longer than a sleep's 100 ms cap: the
 * anonymous reader's sleep ran to its cap while the nudger woke others,
 * it was taken for moved off (wait.c moved_off()) and napped 1 ms at a
 * time from then on (2121, 2131 and 2120 naps in three runs; one read
 * up to 100 ms late first, every 10 s). A look's wake that woke 32 is
 * now followed by one that wakes as many more as the nudger's ration
 * holds (pub_nudge.c wake_look()): no nap, at most ANON_NAPS_MAX (this
 * program's syscall() sees them), and 5 of its reads ANON_LATE_NS or
 * more late at most (a loaded machine's stall; the naps are what the
 * old code fails). A scheduler can still keep the nudger's wakes from
 * it for 100 ms (once in a CI run under ASan: 2183 naps, no read late;
 * 6 of 6 runs again passed): round 5 too many naps runs again once, as
 * the table's last round (`again`), and fails then; the old code napped
 * in every run.
 *
 * A sixth parks 300 that go back to sleep at once when woken, and
 * publishes 100 messages 2 ms apart: a nudger that woke them all at
 * each look would wake about 27 000 past the looks' first 32s; the
 * ration allows NUDGE_DEEP_MAX, and one more every NUDGE_DEEP_NS from
 * the round's start (this process's FUTEX_WAKEs of nudge_seq that ask
 * for more than 32, the nudger's, seen by the hook).
 *
 * A seventh parks 300 on wake_seq while the test, which made the
 * segment, stores a waiter count of 0xFFFFFFFF in the table before each
 * publish, as any writer of the table may (an attack run: with 10 000
 * parked, the publishing thread woke them all at each publish, 50% of a
 * CPU, the channel at 22 msg/s of 200): the producer takes the count as
 * one a consumer entry at most, and wakes WAKE_DIRECT_MAX + 1 at most
 * itself (internal.h wait_count_max(), WAIT_WAKE_DIRECT_MAX; before,
 * two an entry and one more, 2 * MAX_CONSUMERS + 1 = 17: at 64 entries
 * an attack run's 129 a publish, 40-45% of a CPU). And in every
 * round no sweep of the nudger's asks for more than 32 and the ration's
 * NUDGE_DEEP_MAX (before, every sleeper; the attack run's 15 000 parked
 * on wake_seq cost the nudger 29-36% of a CPU).
 *
 * Last, passed_over(): behind more than the nudger's wakes reach, a
 * reader's turn comes back once those woken ahead of it have gone back
 * to sleep behind it, often within its sleep's cap, so that it is never
 * found moved off (an attack run: 3000 threads parked at 2000 msg/s, an
 * anonymous reader's p50 38 ms). Woken to find nudge_seq moved by 8 or
 * more since it slept, it was passed over and naps 1 ms from then on
 * (wait.c passed_over_anonymous()). The test bumps the word 8 times
 * itself (it made the segment, and maps it writable), as 8 looks that
 * passed over the anonymous reader would have, then publishes: the
 * reader's next 200 ms without a message are naps, at least
 * PASSED_NAPS_MIN of them (before: 1 or 2 sleeps), and after a message
 * woken for at once, without the bumps, at most 2.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mdbus.h"
#include "layout.h"
#include "syscall_hook.h"
#include "testutil.h"

#define CHANNEL "herd"
#define HERD_MAX 64
#define HERD_BIG 300         /* round 5: more than twice 4 looks of 32 */
#define ANON_LATE_NS 40000000ULL /* round 5: an anonymous read this late */
#define NAP_NS 1500000LL     /* round 5: a nap (wait.c POLL_NS, 1 ms) */
#define ANON_NAPS_MAX 50     /* round 5: the anonymous reader's naps */
#define PASSED_NAPS_MIN 50   /* passed_over(): naps in 200 ms, at most 200 */
#define PASSED_BUMPS 8       /* wait.c PASSED_OVER_BUMPS */
#define BURST 16             /* passed_over(): a burst after a pause */
#define WAKE_MAX 2 /* the counted reader, and one more */
#define WAKE_FIRST_ANON 8    /* wait.c WAKE_ANON_FIRST: the producer's own
				wake of nudge_seq while the nudger sleeps */
#define NUDGE_WAKE_MAX 32    /* internal.h WAIT_NUDGE_WAKE_MAX */
#define MAX_CONSUMERS 8      /* the channel's: 8 can be counted */
#define WAKE_DIRECT_MAX 8    /* internal.h WAIT_WAKE_DIRECT_MAX: round 7 */
#define NUDGE_DEEP_MAX 4096  /* pub_nudge.c: the ration holds this many, */
#define NUDGE_DEEP_NS 100000ULL /* and fills at one per this */
#define SWEEP_GAP_MS 200     /* pub_nudge.c SWEEP_CROWD_GAP */

/* A round: threads parked, messages, their gap, the registered reader's
 * reads allowed to come half a gap or more after their publish (-1: not
 * judged), whether the herd's wakes are bounded by the sweeps' gap,
 * whether it parks on nudge_seq rather than wake_seq, and the anonymous
 * reader's reads allowed to come ANON_LATE_NS or more after their
 * publish (-1: not judged), whether the nudger's wakes past a look's
 * first are bounded by its ration, whether the waiter count is forged,
 * and whether the round is round 5 again, run only when that one's
 * anonymous reader napped too often. Before: a fifth, about half of 40;
 * a third, about 17/18 of 90; 3, 9 to 13 of 20. */
static const struct round {
	unsigned herd, msgs, gap_ms;
	int late_max, sweeps_bound, nudge, anon_late_max, ration_bound, forge;
	int again;
} rounds[] = {
	{ HERD_MAX, 40, 20, -1, 1, 0, -1, 0, 0, 0 },
	{ 1, 40, 20, 40 / 5, 0, 0, -1, 0, 0, 0 },
	{ 36, 90, 5, 90 / 3, 0, 0, -1, 0, 0, 0 },
	{ HERD_MAX, 40, 20, -1, 0, 1, -1, 0, 0, 0 },
	{ HERD_BIG, 20, 120, -1, 0, 1, 5, 0, 0, 0 }, /* parked for good: park() */
	{ HERD_BIG, 100, 2, -1, 0, 1, -1, 1, 0, 0 },
	{ HERD_BIG, 20, 5, -1, 0, 0, -1, 0, 1, 0 },
	{ HERD_BIG, 20, 120, -1, 0, 1, 5, 0, 0, 1 }, /* round 5, again */
};
#define PUB_NS_MAX 128 /* a round's messages at most */
#define READ_WAIT_NS 30000000000LL /* a deadline, not a bound on latency */

struct shared {
	_Atomic uint32_t open;     /* round k's herd may map the segment */
	_Atomic uint32_t msgs;     /* the round's messages */
	_Atomic uint32_t stop;     /* round k's herd goes home */
	_Atomic uint32_t parked;   /* herd threads started */
	_Atomic uint32_t ready;    /* readers open */
	_Atomic uint32_t late;     /* the registered reader's reads half a
				      gap or more after the publish */
	_Atomic uint32_t anon_late; /* the anonymous reader's, ANON_LATE_NS
				      or more after */
	_Atomic uint32_t anon_naps; /* its sleeps of NAP_NS at most */
	_Atomic uint64_t gap_ns;   /* the round's gap */
	_Atomic uint64_t pub_ns[PUB_NS_MAX]; /* message first + i's
				      publish, from the clock (monotonic) */
	_Atomic uint64_t woken;    /* wakes of herd threads */
	_Atomic uint32_t step;     /* passed_over(): the reader's step */
	_Atomic uint32_t naps[3];  /* its naps in 200 ms after each phase */
};

static struct shared *sh;
static struct seg_header *herd_hdr;
static _Atomic unsigned herd_gone;  /* the herd's threads that went home */
static _Thread_local int measuring; /* this thread publishes */
static int counting_naps;           /* the anonymous reader's process */
static _Atomic long wake_max;       /* the most a FUTEX_WAKE of it woke */
static _Atomic long wake_calls;     /* and how many it made */
static _Atomic long nudge_max;      /* the most a wake of nudge_seq woke, */
static _Atomic long nudge_calls;    /* and how many this process made; */
static _Atomic long deep_woken;     /* what those asking for more than 32
				       woke, */
static _Atomic long deep_calls;     /* and how many of them; */
static _Atomic long sweep_ask;      /* the most a wake of wake_seq by
				       another thread asked for, */
static _Atomic long sweep_calls;    /* and how many, while */
static _Atomic int round_on;        /* a round publishes */

/* Whether a futex call's word is a header's nudge_seq (the header is a
 * mapping's first page, and no other shared word of this process is at
 * that place in its page). */
static int is_nudge_seq(const long *a)
{
	return !(a[1] & FUTEX_PRIVATE_FLAG) &&
	       ((uintptr_t)a[0] & 4095) == offsetof(struct seg_header, nudge_seq);
}

/* And its wake_seq. */
static int is_wake_seq(const long *a)
{
	return !(a[1] & FUTEX_PRIVATE_FLAG) &&
	       ((uintptr_t)a[0] & 4095) == offsetof(struct seg_header, wake_seq);
}

long syscall(long number, ...)
{
	long a[6], r;
	int64_t ns;

	HOOK_ARGS(number, a);
	ns = hook_sleep_ns(number, a);
	if (counting_naps && ns >= 0 && ns <= NAP_NS)
		atomic_fetch_add(&sh->anon_naps, 1);
	r = hook_real(number, a);
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE &&
	    measuring) {
		atomic_fetch_add(&wake_calls, 1);
		if (r > atomic_load(&wake_max))
			atomic_store(&wake_max, r);
	}
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE &&
	    is_nudge_seq(a)) {
		atomic_fetch_add(&nudge_calls, 1);
		if (r > atomic_load(&nudge_max))
			atomic_store(&nudge_max, r);
		if (a[2] > NUDGE_WAKE_MAX && r > 0) {
			atomic_fetch_add(&deep_calls, 1);
			atomic_fetch_add(&deep_woken, r);
		}
	}
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE &&
	    is_wake_seq(a) && !measuring && atomic_load(&round_on)) {
		atomic_fetch_add(&sweep_calls, 1);
		if (a[2] > atomic_load(&sweep_ask))
			atomic_store(&sweep_ask, a[2]);
	}
	return r;
}

/* Stores `count` as the table's waiter count, its change counter kept
 * (round 7: as a writer of the table may). */
static void forge_count(uint32_t count)
{
	static struct seg_table_header *t;
	size_t size;
	uint64_t w;

	if (!t)
		t = tu_map_file(tu_table_path(CHANNEL), &size);
	w = atomic_load(&t->waiters);
	atomic_store(&t->waiters, (w & ~(uint64_t)UINT32_MAX) | count);
}

/* Round `round`'s word: wake_seq or nudge_seq. */
static _Atomic uint32_t *herd_word(unsigned round)
{
	return rounds[round - 1].nudge ? &herd_hdr->nudge_seq
				       : &herd_hdr->wake_seq;
}

/* A parked thread: sleeps on its round's word (wake_seq, or nudge_seq)
 * again each time it is woken. */
static void *park(void *arg)
{
	unsigned round = (unsigned)(uintptr_t)arg;
	_Atomic uint32_t *word = herd_word(round);
	/* a sleep of 200 ms, or for good (round 5) */
	int forever = rounds[round - 1].anon_late_max >= 0;

	atomic_fetch_add(&sh->parked, 1);
	while (atomic_load(&sh->stop) < round) {
		uint32_t v = atomic_load(word);
		struct timespec ts = { 0, 200000000 };

		if (syscall(SYS_futex, word, FUTEX_WAIT, v,
			    forever ? NULL : &ts, NULL, 0) == 0)
			atomic_fetch_add(&sh->woken, 1);
	}
	atomic_fetch_add(&herd_gone, 1);
	return NULL;
}

/* Round k's herd: once the segment is there, maps it read-only, as any
 * reader may, and parks k's threads on wake_seq until told to stop.
 * Forked before the publisher's nudger thread runs (a sanitizer refuses
 * threads made after a fork of a threaded process). */
static int herd(void *arg)
{
	unsigned round = (unsigned)(uintptr_t)arg;
	unsigned n = rounds[round - 1].herd;
	pthread_t t[HERD_BIG];

	tu_await(&sh->open, round, 60, "the segment");
	herd_hdr = tu_map_header_ro(CHANNEL);
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, park,
				   (void *)(uintptr_t)round) != 0)
			tu_fail("pthread_create");
	tu_await(&sh->stop, round, 110, "the round's end");
	while (atomic_load(&herd_gone) < n) { /* those parked for good */
		syscall(SYS_futex, herd_word(round), FUTEX_WAKE, INT_MAX,
			NULL, NULL, 0);
		tu_sleep_ms(1);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* Reads the round's messages from `first`, each the next of
 * tu_publish_seq()'s pattern; the registered one counts those it found
 * without a sleep. */
static int reader(void *arg)
{
	uint64_t first = (uint64_t)(uintptr_t)arg >> 1;
	int anonymous = (int)((uintptr_t)arg & 1);
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s;
	uint64_t late;

	counting_naps = anonymous;
	s = anonymous ? tu_sub_open_anonymous(CHANNEL)
		      : tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0,
				    MDBUS_WAIT_BLOCK);
	atomic_fetch_add(&sh->ready, 1);
	for (uint64_t i = first; i < first + atomic_load(&sh->msgs); i++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   READ_WAIT_NS), 0);
		tu_check_next(&m, buf, i, 8, 64);
		/* Relaxed: stored before the publish that the read acquired */
		late = tu_now_ns() - atomic_load_explicit(&sh->pub_ns[i - first],
							  memory_order_relaxed);
		if (!anonymous && late >= atomic_load(&sh->gap_ns) / 2)
			atomic_fetch_add(&sh->late, 1);
		if (anonymous && late >= ANON_LATE_NS)
			atomic_fetch_add(&sh->anon_late, 1);
	}
	mdbus_sub_close(s);
	return 0;
}

/* Round k (from 1): the readers, its herd parked, its publishes, the
 * checks. first: the sequence number of its first message. Returns 1
 * when round 5's anonymous reader napped too often, to be run again
 * (the table's last round), else 0. */
static int round_run(mdbus_pub_t *p, unsigned k, pid_t hpid, uint64_t first)
{
	const struct round *rd = &rounds[k - 1];
	unsigned char buf[64];
	uint64_t t0, sweeps, woken, bound, ration;
	pid_t rpid[2];
	int again = 0;

	if (rd->msgs > PUB_NS_MAX)
		tu_fail("round %u: %u messages, at most %d", k, rd->msgs,
			PUB_NS_MAX);
	atomic_store(&sh->ready, 0);
	atomic_store(&sh->parked, 0);
	atomic_store(&sh->late, 0);
	atomic_store(&sh->anon_late, 0);
	atomic_store(&sh->anon_naps, 0);
	atomic_store(&sh->gap_ns, rd->gap_ms * 1000000ULL);
	atomic_store(&sh->woken, 0);
	atomic_store(&sh->msgs, rd->msgs);
	atomic_store(&wake_max, 0);
	atomic_store(&wake_calls, 0);
	atomic_store(&nudge_max, 0);
	atomic_store(&nudge_calls, 0);
	atomic_store(&deep_woken, 0);
	atomic_store(&deep_calls, 0);
	atomic_store(&sweep_ask, 0);
	atomic_store(&sweep_calls, 0);
	for (int r = 0; r < 2; r++)
		rpid[r] = tu_spawn(reader,
				   (void *)(uintptr_t)(first << 1 | (uint64_t)r));
	tu_await(&sh->ready, 2, 60, "both readers open");
	atomic_store(&sh->open, k);
	tu_await(&sh->parked, rd->herd, 60, "the herd's threads started");
	/* parked, and the readers and the nudger asleep; well within a
	 * reader's first sleep (100 ms at most), whose end at a publish
	 * passed over would make it nap 1 ms (moved off), taking no wake */
	tu_sleep_ms(30);
	measuring = 1;
	atomic_store(&round_on, 1);
	t0 = tu_now_ns();
	for (uint64_t i = first; i < first + rd->msgs; i++) {
		atomic_store_explicit(&sh->pub_ns[i - first], tu_now_ns(),
				      memory_order_relaxed);
		if (rd->forge)
			forge_count(UINT32_MAX);
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 8, 64), 0);
		tu_sleep_ms(rd->gap_ms);
	}
	measuring = 0;
	/* the first, one each gap since, and one in flight */
	sweeps = 2 + (tu_now_ns() - t0) / (SWEEP_GAP_MS * 1000000ULL);
	for (int r = 0; r < 2; r++)
		tu_wait_ok(rpid[r], 60, r ? "anonymous reader"
					  : "registered blocking reader");
	atomic_store(&round_on, 0);
	if (rd->forge)
		forge_count(0);
	woken = atomic_load(&sh->woken);
	/* what the ration held at t0, and what it took in since */
	ration = NUDGE_DEEP_MAX + (tu_now_ns() - t0) / NUDGE_DEEP_NS;
	atomic_store(&sh->stop, k);
	tu_wait_ok(hpid, 30, "herd");
	tu_note("%u parked on %s, %u messages %u ms apart: %ld wakes while "
		"publishing, each waking at most %ld; %ld wakes of nudge_seq, "
		"each waking at most %ld (%ld past a look's first 32 woke "
		"%ld; %ld sweeps, each asking at most %ld); %u reads half a "
		"gap or more late, "
		"%u anonymous ones %llu ms or more (%u naps); the herd was "
		"woken %llu times", rd->herd,
		rd->nudge ? "nudge_seq" : "wake_seq", rd->msgs, rd->gap_ms,
		atomic_load(&wake_calls), atomic_load(&wake_max),
		atomic_load(&nudge_calls), atomic_load(&nudge_max),
		atomic_load(&deep_calls), atomic_load(&deep_woken),
		atomic_load(&sweep_calls), atomic_load(&sweep_ask),
		atomic_load(&sh->late), atomic_load(&sh->anon_late),
		ANON_LATE_NS / 1000000ULL, atomic_load(&sh->anon_naps),
		(unsigned long long)woken);
	if (atomic_load(&wake_calls) == 0)
		tu_fail("the publishing thread made no wake: the test proves "
			"nothing");
	if (atomic_load(&wake_max) > (rd->forge ? WAKE_DIRECT_MAX + 1 :
				      rd->nudge ? WAKE_FIRST_ANON : WAKE_MAX))
		tu_fail("%u parked: a wake of the publishing thread woke %ld "
			"threads (at most %d: the counted reader and one "
			"more, or the nudger; on nudge_seq %d; under a forged "
			"count %d)", rd->herd, atomic_load(&wake_max), WAKE_MAX,
			WAKE_FIRST_ANON, WAKE_DIRECT_MAX + 1);
	if (atomic_load(&sweep_ask) > NUDGE_WAKE_MAX + NUDGE_DEEP_MAX)
		tu_fail("%u parked: a sweep of wake_seq asked for %ld threads "
			"(at most %d: 32 and the ration)", rd->herd,
			atomic_load(&sweep_ask),
			NUDGE_WAKE_MAX + NUDGE_DEEP_MAX);
	if (rd->nudge && atomic_load(&nudge_calls) == 0)
		tu_fail("no wake of nudge_seq: the round proves nothing");
	if (rd->nudge && atomic_load(&nudge_max) > NUDGE_DEEP_MAX)
		tu_fail("%u parked on nudge_seq: a wake of it woke %ld threads "
			"(at most %d)", rd->herd, atomic_load(&nudge_max),
			NUDGE_DEEP_MAX);
	if (rd->ration_bound && atomic_load(&deep_calls) == 0)
		tu_fail("%u parked on nudge_seq: no wake past a look's first "
			"32: the round proves nothing", rd->herd);
	if (rd->ration_bound && (uint64_t)atomic_load(&deep_woken) > ration)
		tu_fail("%u parked on nudge_seq: the nudger's wakes past a "
			"look's first 32 woke %ld threads (its ration: %llu)",
			rd->herd, atomic_load(&deep_woken),
			(unsigned long long)ration);
	if (rd->late_max >= 0 &&
	    atomic_load(&sh->late) > (uint32_t)rd->late_max)
		tu_fail("%u parked: %u reads half a gap or more late (at most "
			"%d): wakes were passed over", rd->herd,
			atomic_load(&sh->late), rd->late_max);
	if (rd->anon_late_max >= 0 &&
	    atomic_load(&sh->anon_late) > (uint32_t)rd->anon_late_max)
		tu_fail("%u parked on nudge_seq: the anonymous reader read %u "
			"messages %llu ms or more late (at most %d): the "
			"nudger's wakes did not reach it", rd->herd,
			atomic_load(&sh->anon_late), ANON_LATE_NS / 1000000ULL,
			rd->anon_late_max);
	if (rd->anon_late_max >= 0 && !rd->again &&
	    atomic_load(&sh->anon_naps) > ANON_NAPS_MAX) {
		tu_note("%u parked on nudge_seq: the anonymous reader napped "
			"%u times (at most %d): the round runs again once",
			rd->herd, atomic_load(&sh->anon_naps), ANON_NAPS_MAX);
		again = 1;
	}
	if (rd->anon_late_max >= 0 && rd->again &&
	    atomic_load(&sh->anon_naps) > ANON_NAPS_MAX)
		tu_fail("%u parked on nudge_seq: the anonymous reader napped "
			"%u times (at most %d), in two runs of the round: a "
			"sleep of it ran to its cap, the nudger's wakes past "
			"it, and it was taken for moved off", rd->herd,
			atomic_load(&sh->anon_naps), ANON_NAPS_MAX);
	bound = 2 * rd->msgs + sweeps * rd->herd;
	if (rd->sweeps_bound && woken > bound)
		tu_fail("%u parked: woken %llu times (at most %llu: twice a "
			"publish, and %llu sweeps)", rd->herd,
			(unsigned long long)woken, (unsigned long long)bound,
			(unsigned long long)sweeps);
	return again;
}

/* Round k, not run: its herd maps the segment, starts its threads and
 * sends them home at once. */
static void round_skip(unsigned k, pid_t hpid)
{
	atomic_store(&sh->open, k);
	atomic_store(&sh->stop, k);
	tu_wait_ok(hpid, 30, "herd");
}

/* passed_over()'s anonymous reader: after each phase's messages (one, a
 * burst of BURST, one), from `first` on, counts its naps in 200 ms
 * without a message. */
static int passed_reader(void *arg)
{
	static const unsigned msgs[3] = { 1, BURST, 1 };
	uint64_t next = (uint64_t)(uintptr_t)arg;
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s;
	uint32_t naps;

	counting_naps = 1;
	s = tu_sub_open_anonymous(CHANNEL);
	atomic_store(&sh->step, 1);
	for (unsigned k = 0; k < 3; k++) {
		for (unsigned i = 0; i < msgs[k]; i++, next++) {
			TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
						   READ_WAIT_NS), 0);
			tu_check_next(&m, buf, next, 8, 64);
		}
		naps = atomic_load(&sh->anon_naps);
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   200000000LL), -ETIMEDOUT);
		atomic_store(&sh->naps[k], atomic_load(&sh->anon_naps) - naps);
		atomic_store(&sh->step, 2 + k);
	}
	mdbus_sub_close(s);
	return 0;
}

static void passed_over(mdbus_pub_t *p, uint64_t first)
{
	struct seg_header *h;
	unsigned char buf[64];
	size_t size;
	pid_t pid;

	atomic_store(&sh->step, 0);
	atomic_store(&sh->anon_naps, 0);
	pid = tu_spawn(passed_reader, (void *)(uintptr_t)first);
	tu_await(&sh->step, 1, 60, "the anonymous reader open");
	h = tu_map_file(tu_seg_path(CHANNEL), &size);
	tu_sleep_ms(30); /* the reader asleep */
	TU_CHECK_RC(tu_publish_seq(p, first++, buf, 8, 64), 0);
	tu_await(&sh->step, 2, 60, "the reader's first 200 ms");
	tu_sleep_ms(30);
	for (unsigned i = 0; i < BURST; i++)
		TU_CHECK_RC(tu_publish_seq(p, first++, buf, 8, 64), 0);
	tu_await(&sh->step, 3, 60, "the reader's 200 ms after the burst");
	tu_sleep_ms(30);
	for (unsigned i = 0; i < PASSED_BUMPS; i++)
		atomic_fetch_add(&h->nudge_seq, 1);
	TU_CHECK_RC(tu_publish_seq(p, first, buf, 8, 64), 0);
	tu_wait_ok(pid, 60, "anonymous reader");
	tu_unmap(h, size);
	tu_note("an anonymous reader woken at once napped %u times in 200 ms, "
		"after a burst of %d %u times; woken after %d bumps of "
		"nudge_seq, %u times", atomic_load(&sh->naps[0]), BURST,
		atomic_load(&sh->naps[1]), PASSED_BUMPS,
		atomic_load(&sh->naps[2]));
	for (int k = 0; k < 2; k++)
		if (atomic_load(&sh->naps[k]) > 2)
			tu_fail("an anonymous reader woken at once%s napped %u "
				"times in 200 ms (at most 2)",
				k ? " for a burst" : "",
				atomic_load(&sh->naps[k]));
	if (atomic_load(&sh->naps[2]) < PASSED_NAPS_MIN)
		tu_fail("an anonymous reader passed over by %d looks napped %u "
			"times in 200 ms (at least %d): it sleeps to its cap "
			"and is woken when its turn comes back", PASSED_BUMPS,
			atomic_load(&sh->naps[2]), PASSED_NAPS_MIN);
}

int main(void)
{
	enum { ROUNDS = sizeof(rounds) / sizeof(rounds[0]) };
	struct mdbus_pub_config cfg;
	pid_t hpid[ROUNDS];
	uint64_t first = 0;
	mdbus_pub_t *p;
	int again = 0;

	tu_init("t_herd", 120);
	tu_take_turn();
	sh = tu_shared(sizeof(*sh));
	cfg = tu_nudging(tu_config(128, 1024, 4, MDBUS_MODE_OVERWRITE));
	cfg.max_consumers = MAX_CONSUMERS;
	for (unsigned k = 0; k < ROUNDS; k++)
		hpid[k] = tu_spawn(herd, (void *)(uintptr_t)(k + 1));
	p = tu_pub_open(CHANNEL, &cfg);
	for (unsigned k = 0; k < ROUNDS; k++) {
		if (rounds[k].again && !again) {
			round_skip(k + 1, hpid[k]);
			continue;
		}
		again |= round_run(p, k + 1, hpid[k], first);
		first += rounds[k].msgs;
	}
	passed_over(p, first);
	mdbus_pub_close(p);
	tu_note("ok");
	return 0;
}
