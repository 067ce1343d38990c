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
 * one thread); before, each woke the herd too (HERD + 3). In the readers
 * it counts their sleeps: a read that found its message without one came
 * after a wake the reader missed, which the next publish's wake made up
 * for (review of the counted wake without the sweep: a single parked
 * thread ahead of the reader took every other wake, and half the
 * messages were one gap late); with one parked thread, at most a fifth
 * of them. With 64 parked, sweeps wake a crowd and come 200 ms apart:
 * the herd is woken at most twice a publish and 64 times a sweep
 * (before that gap: 64 times a publish), and the reader, passed over,
 * sleeps out its sleep and then naps. With 36 parked and messages 5 ms
 * apart, the reader's turn came every 18th publish, within its sleep's
 * 100 ms, and it was never found moved off (attack run: 35 ms late for
 * good): woken after a second bump of the word it sleeps warily, woken
 * by the nudger too; at most a third of its reads without a sleep (the
 * first turn's). Both readers get every message, in order.
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
#define SWEEP_GAP_MS 200     /* pub_nudge.c SWEEP_CROWD_GAP */

/* A round: threads parked, messages, their gap, the registered reader's
 * reads allowed to find their message without a sleep (-1: not
 * judged), and whether the herd's wakes are bounded by the sweeps'
 * gap. Before: a fifth, about half of 40; a third, about 17/18 of 90. */
static const struct round {
	unsigned herd, msgs, gap_ms;
	int unslept_max, sweeps_bound;
} rounds[] = {
	{ HERD_MAX, 40, 20, -1, 1 },
	{ 1, 40, 20, 40 / 5, 0 },
	{ 36, 90, 5, 90 / 3, 0 },
};
#define READ_WAIT_NS 30000000000LL /* a deadline, not a bound on latency */

struct shared {
	_Atomic uint32_t open;     /* round k's herd may map the segment */
	_Atomic uint32_t msgs;     /* the round's messages */
	_Atomic uint32_t stop;     /* round k's herd goes home */
	_Atomic uint32_t parked;   /* herd threads started */
	_Atomic uint32_t ready;    /* readers open */
	_Atomic uint32_t unslept;  /* the registered reader's reads that
				      found their message without a sleep */
	_Atomic uint64_t woken;    /* wakes of herd threads */
};

static struct shared *sh;
static struct seg_header *herd_hdr;
static _Thread_local int measuring; /* this thread publishes */
static _Atomic long wake_max;       /* the most a FUTEX_WAKE of it woke */
static _Atomic long wake_calls;     /* and how many it made */
static _Atomic long waits;          /* this process's futex sleeps */

long syscall(long number, ...)
{
	long a[6], r;

	HOOK_ARGS(number, a);
	if (hook_is_wait(number, a))
		atomic_fetch_add(&waits, 1);
	r = hook_real(number, a);
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE &&
	    measuring) {
		atomic_fetch_add(&wake_calls, 1);
		if (r > atomic_load(&wake_max))
			atomic_store(&wake_max, r);
	}
	return r;
}

/* A parked thread: sleeps on wake_seq again each time it is woken. */
static void *park(void *arg)
{
	unsigned round = (unsigned)(uintptr_t)arg;

	atomic_fetch_add(&sh->parked, 1);
	while (atomic_load(&sh->stop) < round) {
		uint32_t v = atomic_load(&herd_hdr->wake_seq);
		struct timespec ts = { 0, 200000000 };

		if (syscall(SYS_futex, &herd_hdr->wake_seq, FUTEX_WAIT, v,
			    &ts, NULL, 0) == 0)
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
		long w0 = atomic_load(&waits);

		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   READ_WAIT_NS), 0);
		tu_check_next(&m, buf, i, 8, 64);
		if (!anonymous && atomic_load(&waits) == w0)
			atomic_fetch_add(&sh->unslept, 1);
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

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->parked, 0);
	atomic_store(&sh->unslept, 0);
	atomic_store(&sh->woken, 0);
	atomic_store(&sh->msgs, rd->msgs);
	atomic_store(&wake_max, 0);
	atomic_store(&wake_calls, 0);
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
	tu_note("%u parked, %u messages %u ms apart: %ld wakes while "
		"publishing, each waking at most %ld; %u reads found their "
		"message without a sleep; the herd was woken %llu times",
		rd->herd, rd->msgs, rd->gap_ms, atomic_load(&wake_calls),
		atomic_load(&wake_max), atomic_load(&sh->unslept),
		(unsigned long long)woken);
	if (atomic_load(&wake_calls) == 0)
		tu_fail("the publishing thread made no wake: the test proves "
			"nothing");
	if (atomic_load(&wake_max) > WAKE_MAX)
		tu_fail("%u parked: a wake of the publishing thread woke %ld "
			"threads (at most %d: the counted reader and one "
			"more, or the nudger)", rd->herd,
			atomic_load(&wake_max), WAKE_MAX);
	if (rd->unslept_max >= 0 &&
	    atomic_load(&sh->unslept) > (uint32_t)rd->unslept_max)
		tu_fail("%u parked: %u reads found their message without a "
			"sleep (at most %d): wakes were passed over", rd->herd,
			atomic_load(&sh->unslept), rd->unslept_max);
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
