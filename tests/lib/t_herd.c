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
 * sleep and the nudger wakes them: each of its wakes woke every sleeper
 * (64 parked: 65 a look; an attack run's 200 at 2000 msg/s took 20% of
 * a CPU). Now a wake of that word wakes 32 at most (this process's
 * FUTEX_WAKEs of it, the nudger's and the producer's, seen by the hook),
 * and the looks after one that woke 32 wake on, so that the anonymous
 * reader behind the herd still gets every message.
 */
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
#define WAKE_MAX 2 /* the counted reader, and one more */
#define WAKE_FIRST_ANON 8    /* wait.c WAKE_ANON_FIRST: the producer's own
				wake of nudge_seq while the nudger sleeps */
#define NUDGE_WAKE_MAX 32    /* internal.h WAIT_NUDGE_WAKE_MAX */
#define SWEEP_GAP_MS 200     /* pub_nudge.c SWEEP_CROWD_GAP */

/* A round: threads parked, messages, their gap, the registered reader's
 * reads allowed to come half a gap or more after their publish (-1: not
 * judged), whether the herd's wakes are bounded by the sweeps' gap, and
 * whether it parks on nudge_seq rather than wake_seq. Before: a fifth,
 * about half of 40; a third, about 17/18 of 90. */
static const struct round {
	unsigned herd, msgs, gap_ms;
	int late_max, sweeps_bound, nudge;
} rounds[] = {
	{ HERD_MAX, 40, 20, -1, 1, 0 },
	{ 1, 40, 20, 40 / 5, 0, 0 },
	{ 36, 90, 5, 90 / 3, 0, 0 },
	{ HERD_MAX, 40, 20, -1, 0, 1 },
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
	_Atomic uint64_t gap_ns;   /* the round's gap */
	_Atomic uint64_t pub_ns[PUB_NS_MAX]; /* message first + i's
				      publish, from the clock (monotonic) */
	_Atomic uint64_t woken;    /* wakes of herd threads */
};

static struct shared *sh;
static struct seg_header *herd_hdr;
static _Thread_local int measuring; /* this thread publishes */
static _Atomic long wake_max;       /* the most a FUTEX_WAKE of it woke */
static _Atomic long wake_calls;     /* and how many it made */
static _Atomic long nudge_max;      /* the most a wake of nudge_seq woke, */
static _Atomic long nudge_calls;    /* and how many this process made */

/* Whether a futex call's word is a header's nudge_seq (the header is a
 * mapping's first page, and no other shared word of this process is at
 * that place in its page). */
static int is_nudge_seq(const long *a)
{
	return !(a[1] & FUTEX_PRIVATE_FLAG) &&
	       ((uintptr_t)a[0] & 4095) == offsetof(struct seg_header, nudge_seq);
}

long syscall(long number, ...)
{
	long a[6], r;

	HOOK_ARGS(number, a);
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
	}
	return r;
}

/* A parked thread: sleeps on its round's word (wake_seq, or nudge_seq)
 * again each time it is woken. */
static void *park(void *arg)
{
	unsigned round = (unsigned)(uintptr_t)arg;
	_Atomic uint32_t *word = rounds[round - 1].nudge ? &herd_hdr->nudge_seq
							 : &herd_hdr->wake_seq;

	atomic_fetch_add(&sh->parked, 1);
	while (atomic_load(&sh->stop) < round) {
		uint32_t v = atomic_load(word);
		struct timespec ts = { 0, 200000000 };

		if (syscall(SYS_futex, word, FUTEX_WAIT, v, &ts, NULL, 0) == 0)
			atomic_fetch_add(&sh->woken, 1);
	}
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
	pthread_t t[HERD_MAX];

	tu_await(&sh->open, round, 60, "the segment");
	herd_hdr = tu_map_header_ro(CHANNEL);
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, park,
				   (void *)(uintptr_t)round) != 0)
			tu_fail("pthread_create");
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

	s = anonymous ? tu_sub_open_anonymous(CHANNEL)
		      : tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0,
				    MDBUS_WAIT_BLOCK);
	atomic_fetch_add(&sh->ready, 1);
	for (uint64_t i = first; i < first + atomic_load(&sh->msgs); i++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   READ_WAIT_NS), 0);
		tu_check_next(&m, buf, i, 8, 64);
		/* Relaxed: stored before the publish that the read acquired */
		if (!anonymous &&
		    tu_now_ns() - atomic_load_explicit(&sh->pub_ns[i - first],
						       memory_order_relaxed) >=
			    atomic_load(&sh->gap_ns) / 2)
			atomic_fetch_add(&sh->late, 1);
	}
	mdbus_sub_close(s);
	return 0;
}

/* Round k (from 1): the readers, its herd parked, its publishes, the
 * checks. first: the sequence number of its first message. */
static void round_run(mdbus_pub_t *p, unsigned k, pid_t hpid, uint64_t first)
{
	const struct round *rd = &rounds[k - 1];
	unsigned char buf[64];
	uint64_t t0, sweeps, woken, bound;
	pid_t rpid[2];

	if (rd->msgs > PUB_NS_MAX)
		tu_fail("round %u: %u messages, at most %d", k, rd->msgs,
			PUB_NS_MAX);
	atomic_store(&sh->ready, 0);
	atomic_store(&sh->parked, 0);
	atomic_store(&sh->late, 0);
	atomic_store(&sh->gap_ns, rd->gap_ms * 1000000ULL);
	atomic_store(&sh->woken, 0);
	atomic_store(&sh->msgs, rd->msgs);
	atomic_store(&wake_max, 0);
	atomic_store(&wake_calls, 0);
	atomic_store(&nudge_max, 0);
	atomic_store(&nudge_calls, 0);
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
	t0 = tu_now_ns();
	for (uint64_t i = first; i < first + rd->msgs; i++) {
		atomic_store_explicit(&sh->pub_ns[i - first], tu_now_ns(),
				      memory_order_relaxed);
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 8, 64), 0);
		tu_sleep_ms(rd->gap_ms);
	}
	measuring = 0;
	/* the first, one each gap since, and one in flight */
	sweeps = 2 + (tu_now_ns() - t0) / (SWEEP_GAP_MS * 1000000ULL);
	for (int r = 0; r < 2; r++)
		tu_wait_ok(rpid[r], 60, r ? "anonymous reader"
					  : "registered blocking reader");
	woken = atomic_load(&sh->woken);
	atomic_store(&sh->stop, k);
	tu_wait_ok(hpid, 30, "herd");
	tu_note("%u parked on %s, %u messages %u ms apart: %ld wakes while "
		"publishing, each waking at most %ld; %ld wakes of nudge_seq, "
		"each waking at most %ld; %u reads half a gap or more late; "
		"the herd was woken %llu times", rd->herd,
		rd->nudge ? "nudge_seq" : "wake_seq", rd->msgs, rd->gap_ms,
		atomic_load(&wake_calls), atomic_load(&wake_max),
		atomic_load(&nudge_calls), atomic_load(&nudge_max),
		atomic_load(&sh->late), (unsigned long long)woken);
	if (atomic_load(&wake_calls) == 0)
		tu_fail("the publishing thread made no wake: the test proves "
			"nothing");
	if (atomic_load(&wake_max) > (rd->nudge ? WAKE_FIRST_ANON : WAKE_MAX))
		tu_fail("%u parked: a wake of the publishing thread woke %ld "
			"threads (at most %d: the counted reader and one "
			"more, or the nudger; on nudge_seq %d)", rd->herd,
			atomic_load(&wake_max), WAKE_MAX, WAKE_FIRST_ANON);
	if (rd->nudge && atomic_load(&nudge_calls) == 0)
		tu_fail("no wake of nudge_seq: the round proves nothing");
	if (rd->nudge && atomic_load(&nudge_max) > NUDGE_WAKE_MAX)
		tu_fail("%u parked on nudge_seq: a wake of it woke %ld threads "
			"(at most %d)", rd->herd, atomic_load(&nudge_max),
			NUDGE_WAKE_MAX);
	if (rd->late_max >= 0 &&
	    atomic_load(&sh->late) > (uint32_t)rd->late_max)
		tu_fail("%u parked: %u reads half a gap or more late (at most "
			"%d): wakes were passed over", rd->herd,
			atomic_load(&sh->late), rd->late_max);
	bound = 2 * rd->msgs + sweeps * rd->herd;
	if (rd->sweeps_bound && woken > bound)
		tu_fail("%u parked: woken %llu times (at most %llu: twice a "
			"publish, and %llu sweeps)", rd->herd,
			(unsigned long long)woken, (unsigned long long)bound,
			(unsigned long long)sweeps);
}

int main(void)
{
	enum { ROUNDS = sizeof(rounds) / sizeof(rounds[0]) };
	struct mdbus_pub_config cfg;
	pid_t hpid[ROUNDS];
	uint64_t first = 0;
	mdbus_pub_t *p;

	tu_init("t_herd", 120);
	tu_take_turn();
	sh = tu_shared(sizeof(*sh));
	cfg = tu_nudging(tu_config(128, 1024, 4, MDBUS_MODE_OVERWRITE));
	for (unsigned k = 0; k < ROUNDS; k++)
		hpid[k] = tu_spawn(herd, (void *)(uintptr_t)(k + 1));
	p = tu_pub_open(CHANNEL, &cfg);
	for (unsigned k = 0; k < ROUNDS; k++) {
		round_run(p, k + 1, hpid[k], first);
		first += rounds[k].msgs;
	}
	mdbus_pub_close(p);
	tu_note("ok");
	return 0;
}
