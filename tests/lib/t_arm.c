/*
 * t_arm.c - arming: the producer exchanges write_num only while a reader
 * may sleep (doc/protocol.md, "Waiting").
 *
 * This program defines syscall() itself, so libmdbus's futex calls (and
 * any membarrier() call) go through it: it counts membarrier() calls by
 * command, stalls them as a long RCU grace period does (section 13),
 * notes when a sleep ran to its cap and when each sleep was due to end.
 *
 * 1. A spinning reader never arms: its entry's flag stays 0, the table's
 *    armed_seq does not move, no membarrier().
 * 2. A blocking reader arms before its first sleep, once: flag set,
 *    armed_seq + 1, and no membarrier() of any command over three sleeps
 *    (the arm settles instead: section 14; before, one
 *    MEMBARRIER_CMD_GLOBAL, an RCU grace period); its close clears the
 *    flag (armed_seq + 1).
 * 3. An armed reader SIGKILLed: the publisher's reap clears its flag and
 *    bumps armed_seq.
 * 4. A fresh handle's first sleep against a message published at that
 *    moment, 300 times. A lost wake-up is a sleep that ran to its cap
 *    (1 ms while the arm settles, else 100 ms) although it was due to
 *    end after the publish had returned: none may (its deadline, not the
 *    clock read after it ended: a reader preempted past a timer that
 *    fired at the moment of the publish was counted before). This
 *    catches gross errors (a producer that never counts the armed
 *    readers loses all 300; so does tests/lib/t_blocking, with 100 ms
 *    round trips), not the nanosecond store-buffer window the settle
 *    covers: a review build without the membarrier() that covered it
 *    before passed 3 x 600 trials. That ordering rests on the argument
 *    in lib/wait.c and doc/protocol.md, "Waiting" (tests/model/wait.pml).
 * 5. A forged armed_seq: a writer of the table puts it back after a
 *    reader armed, so the publisher never counts that reader and its
 *    sleep runs to the cap (the damage a hostile writer may do); the
 *    publisher's heartbeat recounts, after which no sleep of the reader
 *    runs to its cap past a publish.
 * 6. Every way to publish wakes a sleeping reader, not mdbus_pub_publish()
 *    alone: a batch, a claim's commit, and a skip (the reader laps to the
 *    skip's end, which its entry's read_num shows, before a plain publish
 *    ends its read). No sleep of the reader runs to its cap past the
 *    publish. A publish path that stored write_num without step 5
 *    (pub.c advance() without wake_check()) passed every other lib test:
 *    its sleepers were woken by the 100 ms cap.
 * 7. A writer of the table clears a blocking reader's armed flag before
 *    each of its 5 sleeps (its entry stays its own): the reader arms
 *    again each time (flag set, armed_seq + 1), with no membarrier();
 *    each re-arm settles (its sleep capped at 1 ms), and no sleep runs to
 *    its 100 ms cap past a publish. Once, every re-arm called
 *    membarrier(), an RCU grace period each (a nobody clearing root's
 *    mdsub's flag in a loop took its latency from 11.5 us to 7 ms at p50,
 *    28 ms at p99).
 * 8. A writer of the table stores 0 in its waiter count each time a
 *    blocking reader has counted itself in it and is about to sleep, on
 *    a channel published every 200 us by a publisher whose nudger runs
 *    (as mdpub's): the producer sees no sleeper and wakes nobody. Once a
 *    sleep ran to its end past a message, the reader sleeps on the
 *    nudger's word as well: at most the messages of 2 such sleeps (100
 *    ms each) are read more than 50 ms after their publish. Before,
 *    every sleep ran to its 100 ms cap (root's mdsub -w block at 20 000
 *    msg/s with nobody zeroing the count: p50 0.97 ms, p99 88 ms).
 * 9. As 8, and another process that maps the data file wakes the
 *    channel's futex word (FUTEX_WAKE, the word unchanged) every 90 ms,
 *    as any reader may: no sleep runs its whole length, yet the wakes
 *    the reader missed are noticed (wake_seq did not move): at most 8
 *    reads slept more than 50 ms past their message. Before, the reader
 *    never noticed: 2 in 5 reads more than 50 ms late, every sleep
 *    until the next wake. Judged by the time the read slept, not by how
 *    late it came: what the reader and the nudger that wakes it spent on
 *    a CPU or waiting for one is left out (/proc/TID/schedstat), and a
 *    backlog read at once is no sleep. A loaded machine stalls a reader
 *    for tens of ms, and every message of the stall is read late: the
 *    CI's builds and a helper's made 1280 of 5218 reads late in 10.
 * 10. As 8, the reader driven by mdbus_sub_fd(): its helper thread's
 *    sleeps notice the missed wakes too. Before, the helper had no
 *    wait state and every one of its sleeps ran to its 100 ms cap.
 * 11. As 7, the reader driven by mdbus_sub_fd(), its flag cleared
 *    before each of the helper's sleeps: no membarrier(). Once, one per
 *    sleep of the helper (no wait state to remember the tag it armed
 *    with).
 * 12. A publisher that stored write_num (step 4) and bumps wake_seq (step
 *    5) late, as one preempted between them does: a blocking reader's
 *    sleep runs to its cap and finds the message with wake_seq unmoved;
 *    it reads it, the bump comes, and the reader then sleeps as before
 *    (at most 20 futex waits in 500 ms idle, 5 or 6 expected), on a
 *    channel without a nudger. Before, that one sleep made the handle
 *    sleep warily for good: a 1 ms nap at a time, about 500 waits in
 *    those 500 ms and 1000 a second for ever (race review).
 * 13. An RCU grace period that lasts seconds (this program's membarrier()
 *    waits up to 5 s for the test's word, as the call did on a loaded
 *    machine: fresh-clone CI runs' readers stuck 0.8 and 3.7 s in their
 *    first sleep, up to 5.9 s measured by a loop of the call beside one): a
 *    fresh blocking handle reads a message published into its first
 *    sleep within 2 s. Before, arming called membarrier(GLOBAL) and the
 *    read waited the 5 s.
 * 14. The arm settles for all of its 1 ms: a fresh blocking handle's
 *    first three waits return at once as if woken by anyone's FUTEX_WAKE
 *    (this program's futex_waitv()), and every wait of it is still due
 *    to end within 1 ms of the first's start. Else a publish whose load
 *    of armed_seq came before the bump, its store still in the
 *    producer's store buffer, would be missed for a 100 ms sleep.
 *    Before, with membarrier() refused, only the first sleep was capped.
 *    Section 7 checks every re-arm's first wait so too.
 * 15. A handle that armed in a read, then takes mdbus_sub_fd(): the
 *    helper thread, whose entry flag the handle set, does not arm, and
 *    takes over the handle's settle: its first wait within it is due by
 *    its end. Before (race review of b8ad355), the helper's own wait
 *    state had no settle, and that wait was due 100 ms on.
 * 16. A settle's sleep that ran to its timeout as the channel's word
 *    moved (the test bumps it then) is not judged moved off: a read of
 *    150 ms makes a few waits, not 1 ms naps (about 150).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "syscall_hook.h"
#include "testutil.h"

#define CHANNEL "arm"
#define TRIALS 300
#define STALL_NS 5000000000ULL /* section 13: a grace period */
#define SETTLE_NS 1000000ULL   /* section 14: wait.c ARM_SETTLE_NS */
#define DUE_SLACK_NS 200000ULL /* sections 7, 14, 15: two clock reads apart */
#define UNJUDGED_WAITS_MAX 10  /* section 16: 2 or 3 expected; 1 ms naps
				  make about 150 */
#define LONG_CAPS_MAX 4 /* sections 8 and 10: sleeps capped (2 expected) */
#define SLEPT_MAX 8 /* section 9: reads that slept 50 ms past their message
		       (0 or 1 on a loaded machine; 16 and 17 before 3a9602c,
		       a sleep until each wake 90 ms apart) */

static _Atomic uint32_t *_Atomic stall_until; /* section 13: membarrier()
						 waits for it to be set */
static int fake_wakes;                /* section 14: waits answered "woken"
					 at once */
#define WAITS_KEPT 4
static uint64_t dues[WAITS_KEPT], starts[WAITS_KEPT]; /* sections 7, 14,
					 15: the first waits' */
static _Atomic unsigned waits_seen;   /* waits made (any thread) */
static _Atomic unsigned waits_kept;   /* ... of them in dues[] and starts[]:
					 release after their stores */
static _Atomic(_Atomic uint32_t *) bump_word; /* section 16: bumped when the
					 first wait ends at its timeout */
static _Atomic unsigned membarrier_global; /* MEMBARRIER_CMD_GLOBAL calls */
static unsigned membarrier_other;     /* any other command */
static uint64_t capped_at;            /* when a sleep that ran to its cap
					 was due to end */
static _Atomic uint64_t *_Atomic zero_waiters; /* stored 0 before each sleep */
static _Atomic uint32_t *_Atomic clear_armed;  /* stored 0 before each sleep */
static _Atomic uint32_t *_Atomic long_caps; /* + 1 for each sleep of 50 ms
					      or more that ran to its cap */
static _Atomic uint32_t *_Atomic count_waits; /* + 1 for each sleep */

/* When the sleep about to be made by the call is due to end: its absolute
 * deadline (futex_waitv(2), CLOCK_MONOTONIC as libmdbus asks), or now
 * plus its relative timeout (FUTEX_WAIT), which is at or before the
 * kernel's. Not the clock read once the call returned: a reader
 * preempted between a timer that fired and that read took a publish
 * made meanwhile for one its sleep had slept through. */
static uint64_t sleep_due(long number, const long *a)
{
	const struct timespec *ts = (const struct timespec *)a[3];
	uint64_t ns;

	if (!ts)
		return UINT64_MAX;
	ns = (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
#ifdef SYS_futex_waitv
	if (number == SYS_futex_waitv)
		return ns;
#endif
	return tu_now_ns() + ns;
}

long syscall(long number, ...)
{
	long a[6], r;
	uint64_t due = 0, start = 0;

	HOOK_ARGS(number, a);
	if (number == SYS_membarrier) {
		if (a[0] == MEMBARRIER_CMD_GLOBAL)
			membarrier_global++;
		else
			membarrier_other++;
		for (uint64_t t0 = tu_now_ns(); stall_until &&
		     !atomic_load(stall_until) && tu_now_ns() - t0 < STALL_NS;)
			tu_sleep_ms(1); /* a grace period */
	}
	if (hook_is_wait(number, a)) {
		unsigned i = atomic_fetch_add(&waits_seen, 1);

		if (i < WAITS_KEPT) {
			starts[i] = tu_now_ns();
			dues[i] = sleep_due(number, a);
			atomic_fetch_add_explicit(&waits_kept, 1,
						  memory_order_release);
		}
	}
	if (hook_is_wait(number, a) && fake_wakes > 0) {
		fake_wakes--;
		return 0; /* woken, by anyone */
	}
	if (zero_waiters && hook_is_wait(number, a))
		atomic_store(zero_waiters, 0); /* a writer of the table */
	if (clear_armed && hook_is_wait(number, a))
		atomic_store(clear_armed, 0); /* a writer of the table */
	if (count_waits && hook_is_wait(number, a))
		atomic_fetch_add(count_waits, 1);
	if (hook_is_wait(number, a)) {
		start = tu_now_ns();
		due = sleep_due(number, a);
	}
	r = hook_real(number, a);
	if (due && r < 0 && errno == ETIMEDOUT && bump_word) {
		/* section 16: the word moves just as the sleep ends */
		atomic_fetch_add(bump_word, 1);
		bump_word = NULL;
		errno = ETIMEDOUT;
	}
	if (due && r < 0 && errno == ETIMEDOUT) {
		capped_at = due;
		if (long_caps && due - start >= 50000000)
			atomic_fetch_add(long_caps, 1);
	}
	return r;
}

/* Forgets the waits kept (sections 7, 14, 15, 16). */
static void waits_reset(void)
{
	atomic_store(&waits_seen, 0);
	atomic_store(&waits_kept, 0);
}

/* Whether each kept wait that began within SETTLE_NS of the first's
 * start was due to end by then (DUE_SLACK_NS: two clock reads apart):
 * the first being a settle's, whose bump came before it, the settle
 * covers every sleep of its 1 ms. Says the first that was not. */
static int settle_kept(void)
{
	unsigned n = atomic_load_explicit(&waits_kept, memory_order_acquire);

	for (unsigned i = 0; i < n && starts[i] < starts[0] + SETTLE_NS; i++)
		if (dues[i] > starts[0] + SETTLE_NS + DUE_SLACK_NS) {
			fprintf(stderr, "t_arm: wait %u of a settle was due to end "
				"%.3f ms after its first began\n", i,
				(double)(dues[i] - starts[0]) / 1e6);
			return 0;
		}
	return 1;
}

struct shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t done;
	_Atomic uint32_t lost;       /* sleeps capped after the publish */
	_Atomic uint32_t long_caps;  /* sleeps of 50 ms or more capped */
	_Atomic uint32_t slept;      /* reads asleep 50 ms past their message */
	_Atomic uint32_t bad;        /* a check failed in a child */
	_Atomic uint64_t published;  /* when the parent's publish returned */
	_Atomic uint32_t global;     /* the child's membarrier counts */
	_Atomic uint32_t other;
	_Atomic uint32_t bumped;     /* section 12: wake_seq bumped late */
	_Atomic uint32_t waits;      /* section 12: the reader's sleeps */
};

static struct shared *sh;

static struct seg_table_header *table(void *tab)
{
	return tab;
}

static uint64_t armed_seq(void *tab)
{
	return atomic_load(&table(tab)->armed_seq);
}

/* Our entry's armed flag, seen through a mapping of our own. */
static uint32_t my_flag(void)
{
	size_t len;
	void *tab = tu_map_file(tu_table_path(CHANNEL), &len);
	uint32_t f = UINT32_MAX;

	for (unsigned i = 0; i < 8; i++) {
		struct seg_consumer *c = tu_entry(tab, i);

		if (cons_pid(atomic_load(&c->state)) == getpid())
			f = atomic_load(&c->armed);
	}
	tu_unmap(tab, len);
	return f;
}

/* Reads `n` messages with `wait`, the parent publishing each after we
 * said ready; then reports its membarrier() counts and our flag. */
static int reader(void *arg)
{
	enum mdbus_wait wait = (enum mdbus_wait)(intptr_t)arg;
	mdbus_sub_t *s = tu_sub_open(CHANNEL, "armer", MDBUS_START_LATEST, 0, wait);
	unsigned char buf[64];
	struct mdbus_msg m;
	uint32_t f;

	for (unsigned i = 0; i < 3; i++) {
		atomic_fetch_add(&sh->ready, 1);
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 10000000000LL), 0);
	}
	f = my_flag();
	if (wait == MDBUS_WAIT_SPIN ? f != 0 : f == 0 || f == UINT32_MAX)
		atomic_store(&sh->bad, 1);
	atomic_store(&sh->global, membarrier_global);
	atomic_store(&sh->other, membarrier_other);
	atomic_fetch_add(&sh->done, 1);
	tu_await(&sh->ready, 1000, 30, "parent's go");
	mdbus_sub_close(s);
	return 0;
}

/* Publishes one message when the reader said ready `want` times and it
 * sleeps (or spins). */
static void publish_when(mdbus_pub_t *p, pid_t kid, uint32_t want, int sleeps)
{
	tu_await(&sh->ready, want, 30, "reader");
	if (sleeps)
		tu_await_state(kid, 'S', 30, "reader asleep");
	else
		tu_sleep_ms(5);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
}

static void one_reader(mdbus_pub_t *p, void *tab, enum mdbus_wait wait)
{
	int sleeps = wait != MDBUS_WAIT_SPIN;
	uint64_t seq0 = armed_seq(tab);
	pid_t kid;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->done, 0);
	kid = tu_spawn(reader, (void *)(intptr_t)wait);
	for (uint32_t i = 1; i <= 3; i++)
		publish_when(p, kid, i, sleeps);
	tu_await(&sh->done, 1, 30, "reader's report");
	TU_CHECK_EQ(atomic_load(&sh->bad), 0);
	TU_CHECK_EQ(atomic_load(&sh->other), 0);
	TU_CHECK_EQ(atomic_load(&sh->global), 0);
	TU_CHECK_EQ(armed_seq(tab), seq0 + (sleeps ? 1 : 0));
	atomic_store(&sh->ready, 1000);
	tu_wait_ok(kid, 30, "reader");
	TU_CHECK_EQ(armed_seq(tab), seq0 + (sleeps ? 2 : 0));
}

static mdbus_sub_t *blocking(const char *name)
{
	return tu_sub_open(CHANNEL, name, MDBUS_START_LATEST, 0, MDBUS_WAIT_BLOCK);
}

/* Sleeps once (armed), then waits to be killed. */
static int armed_victim(void *arg)
{
	mdbus_sub_t *s = blocking("victim");
	unsigned char buf[64];
	struct mdbus_msg m;

	(void)arg;
	/* 20 ms: a deadline of 1 ms could pass before the first sleep
	 * (which arms) on a loaded machine */
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 20000000), -ETIMEDOUT);
	atomic_fetch_add(&sh->ready, 1);
	pause();
	return 0;
}

static void killed_armed(mdbus_pub_t *p, void *tab)
{
	uint64_t seq0 = armed_seq(tab);
	pid_t kid;

	atomic_store(&sh->ready, 0);
	kid = tu_spawn(armed_victim, NULL);
	tu_await(&sh->ready, 1, 30, "victim armed");
	TU_CHECK_EQ(armed_seq(tab), seq0 + 1);
	tu_kill_reap(kid);
	TU_CHECK(mdbus_pub_reap(p) >= 1);
	TU_CHECK_EQ(armed_seq(tab), seq0 + 2);
	for (unsigned i = 0; i < 8; i++)
		TU_CHECK_EQ(atomic_load(&tu_entry(tab, i)->armed), 0);
}

/* Trials of a fresh handle's first sleep against a publish. */
static int racer(void *arg)
{
	(void)arg;
	for (uint32_t t = 1; t <= TRIALS; t++) {
		mdbus_sub_t *s = tu_sub_open(CHANNEL, "racer", MDBUS_START_LATEST,
					     0, MDBUS_WAIT_BLOCK);
		unsigned char buf[64];
		struct mdbus_msg m;

		capped_at = 0;
		atomic_store(&sh->ready, t);
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 10000000000LL), 0);
		/* a sleep that ran to its cap although the message had been
		 * published before it was due to end: nobody woke us */
		if (capped_at && capped_at > atomic_load(&sh->published)) {
			fprintf(stderr, "t_arm: trial %u: a sleep due to end %llu ns after the publish ran to its end\n",
				t, (unsigned long long)(capped_at - atomic_load(&sh->published)));
			atomic_fetch_add(&sh->lost, 1);
		}
		mdbus_sub_close(s);
		atomic_store(&sh->done, t);
	}
	TU_CHECK_EQ(membarrier_other, 0);
	return 0;
}

static void race(mdbus_pub_t *p)
{
	pid_t kid;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->done, 0);
	atomic_store(&sh->lost, 0);
	atomic_store(&sh->published, UINT64_MAX);
	kid = tu_spawn(racer, NULL);
	for (uint32_t t = 1; t <= TRIALS; t++) {
		tu_await(&sh->ready, t, 30, "racer");
		/* spread the publish over the reader's way into its sleep */
		for (uint64_t spin = tu_rand_below(20000); spin; spin--)
			__asm__ __volatile__("" ::: "memory");
		TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
		atomic_store(&sh->published, tu_now_ns());
		tu_await(&sh->done, t, 30, "racer's read");
		atomic_store(&sh->published, UINT64_MAX);
	}
	tu_wait_ok(kid, 60, "racer");
	TU_CHECK_EQ(atomic_load(&sh->lost), 0);
}

/* Reads `arg` messages (blocking), saying ready before each; counts the
 * sleeps of all but the first (which arms) that ran to their cap after
 * the publish. */
static int capped_reader(void *arg)
{
	mdbus_sub_t *s = blocking("capped");
	uint32_t reads = (uint32_t)(intptr_t)arg;
	unsigned char buf[64];
	struct mdbus_msg m;

	for (uint32_t i = 1; i <= reads; i++) {
		capped_at = 0;
		atomic_store(&sh->ready, i);
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 10000000000LL), 0);
		if (i >= 2 && capped_at && capped_at > atomic_load(&sh->published))
			atomic_fetch_add(&sh->lost, 1);
		if (i == 1) /* armed: its settle's short sleeps (wait.c
			     * arm()) over before the reads judged */
			tu_sleep_ms(3);
	}
	mdbus_sub_close(s);
	return 0;
}

/* Publishes one message once the reader said ready `want` and sleeps. */
static void publish_to_sleeper(mdbus_pub_t *p, pid_t kid, uint32_t want)
{
	tu_await(&sh->ready, want, 30, "reader");
	tu_await_state(kid, 'S', 30, "reader asleep");
	/* not the last publish's time: a sleep of the arm's settle that ran
	 * to its end before this publish is no lost wake */
	atomic_store(&sh->published, UINT64_MAX);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	atomic_store(&sh->published, tu_now_ns());
}

static void forged_seq(mdbus_pub_t *p, void *tab)
{
	uint64_t counted;
	pid_t kid;

	/* a publish: the publisher has counted armed_seq as it is now */
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	counted = armed_seq(tab);
	atomic_store(&sh->ready, 0);
	atomic_store(&sh->lost, 0);
	atomic_store(&sh->published, UINT64_MAX);
	kid = tu_spawn(capped_reader, (void *)(intptr_t)3);
	tu_await(&sh->ready, 1, 30, "reader");
	tu_await_state(kid, 'S', 30, "reader asleep");
	TU_CHECK_EQ(armed_seq(tab), counted + 1);
	atomic_store(&table(tab)->armed_seq, counted); /* the forgery */
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0); /* woken by nobody */
	mdbus_pub_heartbeat(p);
	publish_to_sleeper(p, kid, 2);
	publish_to_sleeper(p, kid, 3);
	tu_wait_ok(kid, 30, "reader");
	TU_CHECK_EQ(atomic_load(&sh->lost), 0);
}

/* Section 7: reads 5 messages (blocking), clearing its own entry's armed
 * flag through a second mapping, as a writer of the table can, before
 * each; reports its membarrier() count and the sleeps capped at 100 ms
 * past a publish. */
static int cleared_reader(void *arg)
{
	mdbus_sub_t *s = blocking("cleared");
	unsigned char buf[64];
	struct mdbus_msg m;
	struct seg_consumer *mine = NULL;
	size_t len;
	void *tab = tu_map_file(tu_table_path(CHANNEL), &len);

	(void)arg;
	for (unsigned i = 0; i < 8; i++)
		if (cons_pid(atomic_load(&tu_entry(tab, i)->state)) == getpid())
			mine = tu_entry(tab, i);
	TU_CHECK(mine != NULL);
	membarrier_global = 0;
	for (uint32_t i = 1; i <= 5; i++) {
		tu_sleep_ms(3); /* the last arm's settle over: this one's own */
		atomic_store(&mine->armed, 0); /* the writer of the table */
		capped_at = 0;
		waits_reset();
		atomic_store(&sh->ready, i);
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 10000000000LL), 0);
		if (!settle_kept())
			atomic_store(&sh->bad, 1); /* the re-arm did not settle */
		if (capped_at && capped_at > atomic_load(&sh->published) &&
		    capped_at - atomic_load(&sh->published) > 50000000)
			atomic_fetch_add(&sh->lost, 1);
		if (atomic_load(&mine->armed) == 0)
			atomic_store(&sh->bad, 1); /* not armed again */
	}
	atomic_store(&sh->global, membarrier_global);
	tu_unmap(tab, len);
	mdbus_sub_close(s);
	return 0;
}

static void cleared_flag(mdbus_pub_t *p, void *tab)
{
	uint64_t seq0 = armed_seq(tab);
	pid_t kid;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->lost, 0);
	atomic_store(&sh->bad, 0);
	atomic_store(&sh->published, UINT64_MAX);
	kid = tu_spawn(cleared_reader, NULL);
	for (uint32_t i = 1; i <= 5; i++)
		publish_to_sleeper(p, kid, i);
	tu_wait_ok(kid, 30, "reader");
	TU_CHECK_EQ(atomic_load(&sh->bad), 0);
	TU_CHECK_EQ(atomic_load(&sh->lost), 0);
	/* 5 arms, and the close */
	TU_CHECK_EQ(armed_seq(tab), seq0 + 6);
	if (atomic_load(&sh->global) != 0)
		tu_fail("a reader whose armed flag a writer of the table cleared "
			"before each of 5 sleeps called membarrier() %u times "
			"(a grace period each)",
			(unsigned)atomic_load(&sh->global));
	tu_note("flag cleared before 5 sleeps: armed again each time, no membarrier()");
}

/* Sections 8 to 10: how the reader is driven and who else wakes it. */
enum zeroed { Z_PLAIN, Z_SPURIOUS, Z_FD };

/* Reads everything there is after the descriptor became readable. */
static void fd_drain(mdbus_sub_t *s, int fd, int count)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	unsigned char buf[64];
	struct mdbus_msg m;
	uint64_t v;

	if (poll(&pf, 1, 10000) != 1)
		tu_fail("descriptor not readable within 10 s");
	if (read(fd, &v, sizeof v) != sizeof v)
		tu_fail("readable descriptor has nothing: %s", strerror(errno));
	while (mdbus_sub_try_read(s, buf, sizeof buf, &m) == 0) {
		if (!count)
			continue;
		atomic_fetch_add(&sh->global, 1);
		if (tu_realtime_ns() - m.ts_ns > 50000000)
			atomic_fetch_add(&sh->lost, 1);
	}
}

/* /proc/PID/schedstat of the thread of process pub named comm (for
 * tu_active_ns()), -1 if there is none. */
static int thread_schedstat(pid_t pub, const char *comm)
{
	char path[320], name[32];
	struct dirent *e;
	DIR *d;
	int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pub);
	if (!(d = opendir(path)))
		return -1;
	while (fd < 0 && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pub,
			 e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(name, sizeof(name), f) &&
		    strncmp(name, comm, strlen(comm)) == 0 &&
		    name[strlen(comm)] == '\n')
			fd = tu_schedstat_open((pid_t)atoi(e->d_name));
		fclose(f);
	}
	closedir(d);
	return fd;
}

/* What the reader (fds[0]) and the publisher's nudger (fds[1]) spent on
 * a CPU or waiting for one; 0 when unknown (no schedstat). */
static int64_t pair_active(const int fds[2])
{
	int64_t a = tu_active_ns(fds[0]), b = tu_active_ns(fds[1]);

	return (a < 0 ? 0 : a) + (b < 0 ? 0 : b);
}

/* Sections 8 to 10: reads (blocking, or by mdbus_sub_fd() for Z_FD)
 * until told to stop, the waiter count zeroed before each of its
 * sleeps; counts the reads, those more than 50 ms after their publish,
 * and (blocking) those that slept more than 50 ms past it: the time
 * from the publish (or the call, if later) to the return, less what the
 * reader and the nudger were active meanwhile. */
static int zeroed_reader(void *arg)
{
	enum zeroed how = (enum zeroed)(intptr_t)arg;
	mdbus_sub_t *s = tu_sub_open("wary", "zeroed", MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_BLOCK);
	unsigned char buf[64];
	struct mdbus_msg m;
	size_t len;
	struct seg_table_header *t = tu_map_file(tu_table_path("wary"), &len);
	int fd = -1, act[2] = { tu_schedstat_open(getpid()),
				thread_schedstat(getppid(), "mdbus-nudge") };

	zero_waiters = &t->waiters;
	long_caps = &sh->long_caps;
	if (how == Z_FD && (fd = mdbus_sub_fd(s)) < 0)
		tu_fail("mdbus_sub_fd: %s", mdbus_strerror(fd));
	atomic_store(&sh->ready, 1);
	while (!atomic_load(&sh->done)) {
		if (fd >= 0) {
			fd_drain(s, fd, 1);
			continue;
		}
		uint64_t called = tu_realtime_ns(), now;
		int64_t a0 = pair_active(act), slept;

		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 10000000000LL), 0);
		now = tu_realtime_ns();
		atomic_fetch_add(&sh->global, 1);
		if (now - m.ts_ns > 50000000)
			atomic_fetch_add(&sh->lost, 1);
		slept = (int64_t)(now - (m.ts_ns > called ? m.ts_ns : called)) -
			(pair_active(act) - a0);
		if (slept > 50000000)
			atomic_fetch_add(&sh->slept, 1);
	}
	for (int i = 0; i < 2; i++)
		if (act[i] >= 0)
			close(act[i]);
	mdbus_sub_close(s); /* ends the helper, which may use the hook */
	zero_waiters = NULL;
	long_caps = NULL;
	tu_unmap(t, len);
	return 0;
}

/* Wakes the channel's futex word without changing it, as anyone who
 * maps the data file (read-only will do) may. */
static void futex_poke(_Atomic uint32_t *word)
{
	long a[6] = { (long)word, FUTEX_WAKE, INT_MAX, 0, 0, 0 };

	(void)hook_real(SYS_futex, a);
}

static void zeroed_count(enum zeroed how)
{
	static const char *const what[] = {
		"", " and its futex word woken every 90 ms",
		" and the reader driven by mdbus_sub_fd()"
	};
	struct mdbus_pub_config c = tu_config(64, 1024, 4, MDBUS_MODE_OVERWRITE);
	struct seg_header *h = NULL;
	mdbus_pub_t *p;
	uint64_t end, poke = 0;
	size_t hlen = 0;
	pid_t kid;

	c.flags |= MDBUS_PUB_NUDGE;
	p = tu_pub_open("wary", &c);
	if (how == Z_SPURIOUS) {
		int dfd = open(tu_seg_path("wary"), O_RDONLY | O_CLOEXEC);
		struct stat sb;

		if (dfd < 0 || fstat(dfd, &sb) < 0)
			tu_fail("open %s: %s", tu_seg_path("wary"), strerror(errno));
		hlen = (size_t)sb.st_size;
		h = mmap(NULL, hlen, PROT_READ, MAP_SHARED, dfd, 0);
		close(dfd);
		if (h == MAP_FAILED)
			tu_fail("mmap: %s", strerror(errno));
	}
	atomic_store(&sh->ready, 0);
	atomic_store(&sh->done, 0);
	atomic_store(&sh->lost, 0);
	atomic_store(&sh->global, 0);
	atomic_store(&sh->long_caps, 0);
	atomic_store(&sh->slept, 0);
	kid = tu_spawn(zeroed_reader, (void *)(intptr_t)how);
	tu_await(&sh->ready, 1, 30, "reader");
	end = tu_now_ns() + 1500000000ULL;
	while (tu_now_ns() < end) {
		TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
		if (h && tu_now_ns() >= poke) {
			futex_poke(&h->wake_seq);
			poke = tu_now_ns() + 90000000ULL;
		}
		tu_sleep_ms(0.2);
	}
	atomic_store(&sh->done, 1);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	tu_wait_ok(kid, 30, "reader");
	/* its sleeps, not how late its reads were (a loaded machine, the
	 * CI's builds and a helper's, made 1280 of 5218 reads late in 10,
	 * where every sleep capped made 2438 of 5170): 8 and 10, those that
	 * ran to their cap; 9, where a sleep woken by the pokes runs to no
	 * cap, the reads that slept 50 ms past their message */
	if (how == Z_SPURIOUS ? atomic_load(&sh->slept) > SLEPT_MAX :
				atomic_load(&sh->long_caps) > LONG_CAPS_MAX)
		tu_fail("with the waiter count zeroed before each sleep%s, %u "
			"sleeps ran to their cap, %u of %u reads more than 50 "
			"ms late, %u slept 50 ms past their message", what[how],
			(unsigned)atomic_load(&sh->long_caps),
			(unsigned)atomic_load(&sh->lost),
			(unsigned)atomic_load(&sh->global),
			(unsigned)atomic_load(&sh->slept));
	tu_note("waiter count zeroed before each sleep%s: %u sleeps capped, %u "
		"of %u reads later than 50 ms, %u slept 50 ms past their "
		"message", what[how],
		(unsigned)atomic_load(&sh->long_caps),
		(unsigned)atomic_load(&sh->lost),
		(unsigned)atomic_load(&sh->global),
		(unsigned)atomic_load(&sh->slept));
	if (h)
		munmap(h, hlen);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("wary", tu_dir()), 0);
}

/* Section 11: a reader driven by mdbus_sub_fd() reads 5 messages, its
 * entry's armed flag cleared before each sleep of its helper; reports
 * the membarrier() calls. */
static int cleared_fd_reader(void *arg)
{
	mdbus_sub_t *s = blocking("clearedfd");
	size_t len;
	void *tab = tu_map_file(tu_table_path(CHANNEL), &len);
	int fd;

	(void)arg;
	for (unsigned i = 0; i < 8; i++)
		if (cons_pid(atomic_load(&tu_entry(tab, i)->state)) == getpid())
			clear_armed = &tu_entry(tab, i)->armed;
	TU_CHECK(clear_armed != NULL);
	membarrier_global = 0;
	fd = mdbus_sub_fd(s);
	if (fd < 0)
		tu_fail("mdbus_sub_fd: %s", mdbus_strerror(fd));
	for (uint32_t i = 1; i <= 5; i++) {
		atomic_store(&sh->ready, i);
		fd_drain(s, fd, 0);
	}
	mdbus_sub_close(s); /* ends the helper */
	clear_armed = NULL;
	atomic_store(&sh->global, membarrier_global);
	tu_unmap(tab, len);
	return 0;
}

static void cleared_fd(mdbus_pub_t *p)
{
	pid_t kid;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->global, 0);
	kid = tu_spawn(cleared_fd_reader, NULL);
	for (uint32_t i = 1; i <= 5; i++) {
		tu_await(&sh->ready, i, 30, "reader");
		tu_sleep_ms(30); /* its helper asleep, re-armed at least once */
		TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	}
	tu_wait_ok(kid, 30, "reader");
	if (atomic_load(&sh->global) != 0)
		tu_fail("mdbus_sub_fd()'s helper, its armed flag cleared before "
			"each sleep, called membarrier() %u times",
			(unsigned)atomic_load(&sh->global));
	tu_note("mdbus_sub_fd() helper's flag cleared before each sleep: no membarrier()");
}

/* Section 6: the ways to publish besides mdbus_pub_publish(). */
enum way { WAY_BATCH, WAY_COMMIT, WAY_SKIP, WAYS };

/* The read position kid's entry publishes. */
static uint64_t read_num_of(void *tab, pid_t kid)
{
	for (unsigned i = 0; i < 8; i++) {
		struct seg_consumer *c = tu_entry(tab, i);

		if (cons_state(atomic_load(&c->state)) == CONS_ACTIVE &&
		    cons_pid(atomic_load(&c->state)) == kid)
			return atomic_load(&c->read_num);
	}
	return UINT64_MAX;
}

/* Publishes by `way` to the reader asleep; for a skip, then waits for
 * its entry to show the lap and publishes the message its read returns. */
static void publish_by(mdbus_pub_t *p, void *tab, pid_t kid, enum way way)
{
	struct mdbus_pub_msg msg = { "x", 1, 1, 0 };
	uint64_t until;
	void *payload;

	atomic_store(&sh->published, UINT64_MAX); /* as publish_to_sleeper() */
	switch (way) {
	case WAY_BATCH:
		TU_CHECK_EQ(mdbus_pub_publish_batch(p, &msg, 1), 1);
		break;
	case WAY_COMMIT:
		TU_CHECK_RC(mdbus_pub_claim(p, 1, &payload), 0);
		memcpy(payload, "x", 1);
		TU_CHECK_RC(mdbus_pub_commit(p, 1, 1, 0), 0);
		break;
	default:
		TU_CHECK_RC(mdbus_pub_skip(p, 1), 0);
		break;
	}
	atomic_store(&sh->published, tu_now_ns());
	if (way != WAY_SKIP)
		return;
	until = tu_now_ns() + 30000000000ULL;
	while (read_num_of(tab, kid) != mdbus_pub_position(p)) {
		if (tu_now_ns() > until)
			tu_fail("the reader never lapped to the skip's end");
		tu_sleep_ms(1);
	}
	/* no new publish time: a sleep through the skip, capped, still
	 * counts */
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
}

static void every_way(mdbus_pub_t *p, void *tab)
{
	pid_t kid;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->lost, 0);
	atomic_store(&sh->published, UINT64_MAX);
	kid = tu_spawn(capped_reader, (void *)(intptr_t)(WAYS + 1));
	publish_to_sleeper(p, kid, 1); /* its first sleep arms it */
	for (uint32_t w = 0; w < WAYS; w++) {
		tu_await(&sh->ready, w + 2, 30, "reader");
		tu_await_state(kid, 'S', 30, "reader asleep");
		publish_by(p, tab, kid, (enum way)w);
	}
	tu_wait_ok(kid, 30, "reader");
	TU_CHECK_EQ(atomic_load(&sh->lost), 0);
}

#define LATE_WAITS_MAX 20

/* Section 12's reader: reads the message whose wake comes late, then
 * counts its sleeps over 500 ms without a message. */
static int late_reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("late", "late", MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_BLOCK);
	unsigned char buf[64];
	struct mdbus_msg m;
	uint64_t t0, now;
	int rc = 0;

	(void)arg;
	atomic_store(&sh->ready, 1);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 30000000000LL), 0);
	atomic_store(&sh->done, 1);
	tu_await(&sh->bumped, 1, 30, "the late bump");
	count_waits = &sh->waits;
	for (t0 = now = tu_now_ns(); rc == 0 && now - t0 < 500000000; now = tu_now_ns())
		rc = mdbus_sub_read(s, buf, sizeof buf, &m,
				    (int64_t)(500000000 - (now - t0)));
	count_waits = NULL;
	if (rc != -ETIMEDOUT)
		tu_fail("late reader: %d, not -ETIMEDOUT", rc);
	mdbus_sub_close(s);
	return 0;
}

static void late_bump(void)
{
	struct mdbus_pub_config c = tu_config(64, 64, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open("late", &c);
	_Atomic uint64_t *slot;
	struct seg_header *h;
	size_t len;
	uint64_t w;
	pid_t kid;

	memset(sh, 0, sizeof *sh);
	h = tu_map_file(tu_seg_path("late"), &len);
	kid = tu_spawn(late_reader, NULL);
	tu_await(&sh->ready, 1, 30, "the late reader");
	tu_await_state(kid, 'S', 30, "the late reader asleep");
	/* message w by hand, as the publisher writes it, then step 4 and
	 * not step 5 (a writer of the data file: this test's own) */
	w = atomic_load(&h->write_num);
	slot = tu_slot(h, w);
	atomic_store_explicit(&slot[SLOT_W_TS], tu_realtime_ns(), memory_order_relaxed);
	atomic_store_explicit(&slot[SLOT_W_META], 8 | (uint64_t)9 << 32,
			      memory_order_relaxed);
	atomic_store_explicit(&slot[SLOT_W_PAYLOAD], 42, memory_order_relaxed);
	atomic_store_explicit(&slot[SLOT_W_STAMP], stamp_complete(w),
			      memory_order_release);
	atomic_store_explicit(&h->write_num, w + 1, memory_order_release);
	/* its sleep ran to its 100 ms cap past the message, and it read it */
	tu_await(&sh->done, 1, 30, "the late reader's read");
	atomic_fetch_add_explicit(&h->wake_seq, 1, memory_order_release);
	atomic_store(&sh->bumped, 1);
	tu_wait_ok(kid, 30, "the late reader");
	if (atomic_load(&sh->waits) > LATE_WAITS_MAX)
		tu_fail("a wake that came late made the reader wary: %u sleeps "
			"in 500 ms idle, more than %d", atomic_load(&sh->waits),
			LATE_WAITS_MAX);
	tu_note("a wake that came late: %u sleeps in the next 500 ms idle",
		atomic_load(&sh->waits));
	tu_unmap(h, len);
	mdbus_pub_close(p);
}

/* Sections 13 and 14: a fresh blocking handle reads one message; with
 * `arg` 1 its first wait is answered "woken" at once. Reports when the
 * read returned and, in dues[], when its first waits were due to end. */
static int fresh_reader(void *arg)
{
	mdbus_sub_t *s = blocking("fresh");
	unsigned char buf[64];
	struct mdbus_msg m;

	waits_reset();
	fake_wakes = (int)(intptr_t)arg;
	stall_until = &sh->done;
	atomic_store(&sh->ready, 1);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 10000000000LL), 0);
	atomic_store(&sh->published, tu_now_ns()); /* read at */
	atomic_store(&sh->bad, !settle_kept());
	atomic_store(&sh->bumped, atomic_load(&waits_seen));
	atomic_fetch_add(&sh->lost, 1); /* read */
	stall_until = NULL;
	mdbus_sub_close(s);
	return 0;
}

/* Section 13: no grace period between a fresh handle and its first
 * message. */
static void stalled_grace(mdbus_pub_t *p)
{
	uint64_t t0;
	pid_t kid;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->done, 0);
	atomic_store(&sh->lost, 0);
	kid = tu_spawn(fresh_reader, NULL);
	tu_await(&sh->ready, 1, 30, "fresh reader");
	tu_await_state(kid, 'S', 30, "fresh reader asleep");
	t0 = tu_now_ns(); /* before: the read may end before a clock read after */
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	while (!atomic_load(&sh->lost) && tu_now_ns() - t0 < 2000000000ULL)
		tu_sleep_ms(1);
	atomic_store(&sh->done, 1); /* the grace period ends */
	tu_wait_ok(kid, 30, "fresh reader");
	if (atomic_load(&sh->published) - t0 >= 2000000000ULL)
		tu_fail("a fresh reader read a message published into its first "
			"sleep %.1f s late: its arm waited for an RCU grace period "
			"(membarrier())",
			(double)(atomic_load(&sh->published) - t0) / 1e9);
	tu_note("a grace period of up to 5 s: the first message read %.3f ms "
		"after its publish", (double)(atomic_load(&sh->published) - t0) / 1e6);
}

/* Section 14: every sleep of the settle ends with it. */
static void settle_all(mdbus_pub_t *p)
{
	pid_t kid;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->done, 1); /* no stall */
	atomic_store(&sh->lost, 0);
	atomic_store(&sh->bad, 0);
	kid = tu_spawn(fresh_reader, (void *)(intptr_t)3);
	tu_await(&sh->ready, 1, 30, "fresh reader");
	tu_sleep_ms(20); /* its waits made, the settle over */
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	tu_wait_ok(kid, 30, "fresh reader");
	if (atomic_load(&sh->bumped) < WAITS_KEPT)
		tu_fail("the fresh reader waited %u times before its message "
			"(%d or more expected: three cut short at once, then the "
			"settle's)", (unsigned)atomic_load(&sh->bumped), WAITS_KEPT);
	if (atomic_load(&sh->bad))
		tu_fail("a sleep of a settling arm, after one cut short, was due "
			"past the settle's 1 ms");
	tu_note("settle: the sleeps after three cut short due within 1 ms of the first");
}

/* Section 15: a handle arms in a read that sleeps 200 us, then takes
 * mdbus_sub_fd(): its helper's first wait, begun within the settle, is
 * due by its end. Trials until one such wait was seen (the helper may
 * start after the settle on a loaded machine: not judged). */
static int fd_settle_reader(void *arg)
{
	unsigned judged = 0, trials;

	(void)arg;
	for (trials = 0; trials < 20 && !judged; trials++) {
		mdbus_sub_t *s = blocking("fdsettle");
		unsigned char buf[64];
		struct mdbus_msg m;
		uint64_t t_read, t_end, t0;
		int fd;

		t_read = tu_now_ns();
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 200000),
			    -ETIMEDOUT); /* armed: the settle began */
		t_end = tu_now_ns();
		waits_reset();
		fd = mdbus_sub_fd(s);
		if (fd < 0)
			tu_fail("mdbus_sub_fd: %s", mdbus_strerror(fd));
		for (t0 = tu_now_ns(); atomic_load_explicit(&waits_kept,
							    memory_order_acquire) < 1 &&
		     tu_now_ns() - t0 < 1000000000ULL;)
			tu_sleep_ms(0.05);
		if (atomic_load_explicit(&waits_kept, memory_order_acquire) >= 1 &&
		    starts[0] < t_read + SETTLE_NS) {
			judged = 1;
			if (dues[0] > t_end + SETTLE_NS + DUE_SLACK_NS) {
				fprintf(stderr, "t_arm: the helper's first wait, "
					"%.3f ms into the settle, was due %.3f ms "
					"after the arming read ended\n",
					(double)(starts[0] - t_read) / 1e6,
					(double)(dues[0] - t_end) / 1e6);
				atomic_store(&sh->bad, 1);
			}
		}
		mdbus_sub_close(s);
	}
	atomic_store(&sh->waits, trials);
	atomic_store(&sh->bumped, judged);
	return 0;
}

static void fd_settle(void)
{
	atomic_store(&sh->bad, 0);
	tu_wait_ok(tu_spawn(fd_settle_reader, NULL), 60, "fd settle reader");
	if (!atomic_load(&sh->bumped))
		tu_fail("the fd helper's first wait came after the settle in %u "
			"trials: the section proves nothing",
			(unsigned)atomic_load(&sh->waits));
	if (atomic_load(&sh->bad))
		tu_fail("mdbus_sub_fd()'s helper, started within its handle's "
			"settle, slept past it");
	tu_note("fd helper within the settle: its first wait due by the "
		"settle's end (%u trials)", (unsigned)atomic_load(&sh->waits));
}

/* Section 16: a fresh blocking handle's read of 150 ms with nothing
 * published, the channel's word bumped (a writer of the data file) just
 * as its first sleep, the settle's, ends at its timeout: that sleep is
 * not judged moved off, and the read sleeps on, a few waits in all. */
static int settle_unjudged_reader(void *arg)
{
	mdbus_sub_t *s = blocking("unjudged");
	unsigned char buf[64];
	struct mdbus_msg m;
	size_t len;
	struct seg_header *h = tu_map_file(tu_seg_path(CHANNEL), &len);

	(void)arg;
	waits_reset();
	bump_word = &h->wake_seq;
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 150000000),
		    -ETIMEDOUT);
	atomic_store(&sh->waits, atomic_load(&waits_seen));
	atomic_store(&sh->bumped, bump_word == NULL);
	bump_word = NULL;
	tu_unmap(h, len);
	mdbus_sub_close(s);
	return 0;
}

static void settle_unjudged(void)
{
	tu_wait_ok(tu_spawn(settle_unjudged_reader, NULL), 30,
		   "unjudged reader");
	if (!atomic_load(&sh->bumped))
		tu_fail("no sleep of the reader ended at its timeout: the "
			"section proves nothing");
	if (atomic_load(&sh->waits) > UNJUDGED_WAITS_MAX)
		tu_fail("a read of 150 ms made %u waits (at most %d): its "
			"settle's sleep, ended as the word moved, was taken for "
			"moved off (1 ms naps)", (unsigned)atomic_load(&sh->waits),
			UNJUDGED_WAITS_MAX);
	tu_note("a settle's sleep ended as the word moved: %u waits in a read "
		"of 150 ms", (unsigned)atomic_load(&sh->waits));
}

int main(void)
{
	struct mdbus_pub_config c = tu_config(64, 64, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;
	size_t len;
	void *tab;

	tu_init("t_arm", 240);
	sh = tu_shared(sizeof *sh);
	c.max_consumers = 8;
	p = tu_pub_open(CHANNEL, &c);
	tab = tu_map_file(tu_table_path(CHANNEL), &len);
	TU_CHECK_EQ(armed_seq(tab), 0);
	one_reader(p, tab, MDBUS_WAIT_SPIN);
	one_reader(p, tab, MDBUS_WAIT_BLOCK);
	one_reader(p, tab, MDBUS_WAIT_ADAPTIVE);
	killed_armed(p, tab);
	race(p);
	forged_seq(p, tab);
	every_way(p, tab);
	cleared_flag(p, tab);
	zeroed_count(Z_PLAIN);
	zeroed_count(Z_SPURIOUS);
	zeroed_count(Z_FD);
	cleared_fd(p);
	late_bump();
	stalled_grace(p);
	settle_all(p);
	fd_settle();
	settle_unjudged();
	TU_CHECK_EQ(membarrier_global + membarrier_other, 0); /* the publisher */
	tu_unmap(tab, len);
	mdbus_pub_close(p);
	return 0;
}
