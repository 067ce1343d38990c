/*
 * t_requeue.c - anyone who can read a segment can FUTEX_CMP_REQUEUE the
 * sleepers of its futex words (wake_seq, nudge_seq) from a read-only
 * mapping onto a futex of his own, where the producer's wakes never find
 * them: each then slept out its 100 ms past the messages (attack run:
 * mdsub -w block at 20 msg/s, latency p50 56 us -> 17.3 ms, max 67 ms).
 * A sleep that ran to its end on a word that moved meanwhile was moved
 * off it, and the handle sleeps 1 ms at most from then on (wait.c
 * moved_off()), the cost of a waker in a loop (t_fakewake).
 *
 * A requeuer loops CMP_REQUEUE of both words while, one after the other,
 * a registered blocking reader, a registered adaptive one and an
 * anonymous one of a nudging publisher read MSGS messages published
 * GAP_MS apart. The reader's own syscall() (this program's:
 * syscall_hook.h) counts its sleeps of over LONG_NS: at most
 * LONG_MAX_SLEEPS (the first, moved off before it was found out, and a
 * few). Before, each sleep was a long one, one every 100 ms, and most
 * messages came late (how late is noted, not asserted: a loaded machine
 * is late too).
 *
 * Then the same three readers under another attack (race review of
 * 1154fb0): a process of the reader's rights parks a thread on each word
 * with FUTEX_WAIT_REQUEUE_PI (one process a word), and the kernel
 * refuses every FUTEX_WAKE of a word with EINVAL at such a waiter, so
 * that the sleepers queued behind it are never woken (this program's
 * syscall() counts the publisher's refused wakes: some there must be).
 * Nothing in user space removes that waiter; the readers' sleeps run
 * to their end while the word moved, and they nap as moved off: the
 * same bound of long sleeps.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mdbus.h"
#include "layout.h"
#include "syscall_hook.h"
#include "testutil.h"

#define CHANNEL "requeue"
#define MSGS 100
#define GAP_MS 10
#define LATE_NS 5000000ULL
#define LONG_NS 2000000LL /* a sleep capped as moved_off() caps it: 1 ms */
#define LONG_MAX_SLEEPS 4 /* before: one every 100 ms, 10 or 11 */
#define READ_WAIT_NS 30000000000LL /* a deadline, not a bound on latency */

struct shared {
	_Atomic uint32_t stop;     /* the requeuer stops (1), the parkers (2) */
	_Atomic uint32_t ready;    /* 1: the requeuer runs; the reader's step */
	_Atomic uint64_t moved;    /* sleepers the requeuer moved */
};

static struct shared *sh;
static _Atomic uint32_t long_sleeps; /* this process's */
static _Atomic uint32_t refused;     /* its FUTEX_WAKEs refused (EINVAL) */

long syscall(long number, ...)
{
	long a[6], r;
	int e;

	HOOK_ARGS(number, a);
	if (hook_sleep_ns(number, a) > LONG_NS)
		atomic_fetch_add(&long_sleeps, 1);
	r = hook_real(number, a);
	e = errno;
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE &&
	    r == -1 && e == EINVAL)
		atomic_fetch_add(&refused, 1);
	errno = e;
	return r;
}

enum reader_kind { BLOCKING, ADAPTIVE, ANONYMOUS };

static const char *const kind_name[] = {
	"registered blocking reader", "registered adaptive reader",
	"anonymous reader of a nudging publisher",
};

/* Maps the segment read-only, as any reader may, and moves the sleepers
 * of both words onto a word of its own in a loop until told to stop. */
static int requeuer(void *arg)
{
	static uint32_t trap;
	struct seg_header *h = tu_map_header_ro(CHANNEL);

	(void)arg;
	atomic_store(&sh->ready, 1);
	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		_Atomic uint32_t *w[2] = { &h->wake_seq, &h->nudge_seq };

		for (int i = 0; i < 2; i++) {
			long r = syscall(SYS_futex, w[i], FUTEX_CMP_REQUEUE, 0,
					 (void *)(long)INT_MAX, &trap,
					 atomic_load(w[i]));

			if (r > 0)
				atomic_fetch_add(&sh->moved, (uint64_t)r);
		}
		usleep(100);
	}
	return 0;
}

/* Maps the segment read-only and parks on word `arg` (0 wake_seq, 1
 * nudge_seq) with FUTEX_WAIT_REQUEUE_PI, 200 ms at a time, until told
 * to stop. */
static int pi_parker(void *arg)
{
	static uint32_t pi_word; /* the target a requeue would move us to */
	struct seg_header *h = tu_map_header_ro(CHANNEL);
	_Atomic uint32_t *w = arg ? &h->nudge_seq : &h->wake_seq;

	atomic_fetch_add(&sh->ready, 1);
	while (atomic_load_explicit(&sh->stop, memory_order_relaxed) < 2) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 200000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		syscall(SYS_futex, w, FUTEX_WAIT_REQUEUE_PI, atomic_load(w), &ts,
			&pi_word, 0);
	}
	return 0;
}

/* Reads MSGS messages, counting those that came LATE_NS late. */
static int reader(void *arg)
{
	enum reader_kind kind = (enum reader_kind)(intptr_t)arg;
	const char *what = kind_name[kind];
	uint64_t stamp, now, worst = 0;
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s = NULL;
	int late = 0;

	if (kind == ANONYMOUS)
		s = tu_sub_open_anonymous(CHANNEL);
	else
		s = tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0,
				kind == BLOCKING ? MDBUS_WAIT_BLOCK
						 : MDBUS_WAIT_ADAPTIVE);
	atomic_store(&long_sleeps, 0);
	atomic_store(&sh->ready, 2);
	for (int i = 0; i < MSGS; i++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, READ_WAIT_NS), 0);
		now = tu_now_ns();
		TU_CHECK_EQ(m.size, 8u);
		memcpy(&stamp, buf, sizeof(stamp));
		if (now - stamp > LATE_NS)
			late++;
		if (now - stamp > worst)
			worst = now - stamp;
	}
	tu_note("%s: %u sleeps of over %lld ms; %d of %d messages more than "
		"%llu ms late, the latest %.1f ms", what,
		atomic_load(&long_sleeps), LONG_NS / 1000000LL, late, MSGS,
		LATE_NS / 1000000ULL, (double)worst / 1e6);
	if (atomic_load(&long_sleeps) > LONG_MAX_SLEEPS)
		tu_fail("%s: %u sleeps of over %lld ms (at most %d)", what,
			atomic_load(&long_sleeps), LONG_NS / 1000000LL,
			LONG_MAX_SLEEPS);
	mdbus_sub_close(s);
	return 0;
}

/* The three readers one after the other, each while MSGS messages are
 * published GAP_MS apart; each while the attack (pi: the parkers, else
 * the requeuer) did something. */
static void readers(mdbus_pub_t *p, int pi)
{
	const char *attack = pi ? "FUTEX_WAIT_REQUEUE_PI waiters" : "a requeuer";
	uint64_t did;
	pid_t pid;

	for (int k = BLOCKING; k <= ANONYMOUS; k++) {
		did = pi ? atomic_load(&refused) : atomic_load(&sh->moved);
		atomic_store(&sh->ready, 1);
		pid = tu_spawn(reader, (void *)(intptr_t)k);
		tu_await(&sh->ready, 2, 60, kind_name[k]);
		tu_sleep_ms(20); /* the reader asleep */
		for (int i = 0; i < MSGS; i++) {
			uint64_t t = tu_now_ns();

			TU_CHECK_RC(mdbus_pub_publish(p, 1, &t, sizeof(t), 0), 0);
			tu_sleep_ms(GAP_MS);
		}
		tu_wait_ok(pid, 60, kind_name[k]);
		did = (pi ? atomic_load(&refused) : atomic_load(&sh->moved)) - did;
		tu_note("%s under %s: %s %llu", kind_name[k], attack,
			pi ? "the publisher's wakes refused" : "sleepers moved",
			(unsigned long long)did);
		if (did == 0)
			tu_fail("%s under %s: the attack did nothing: the test "
				"proves nothing", kind_name[k], attack);
	}
}

int main(void)
{
	mdbus_pub_t *p;
	pid_t rpid, ppid[2];

	tu_init("t_requeue", 120);
	tu_take_turn();
	sh = tu_shared(sizeof(*sh));
	p = tu_pub_open_nudging(CHANNEL);
	rpid = tu_spawn(requeuer, NULL);
	tu_await(&sh->ready, 1, 30, "requeuer mapped the segment");
	readers(p, 0);
	atomic_store(&sh->stop, 1);
	tu_wait_ok(rpid, 30, "requeuer");

	atomic_store(&sh->ready, 0);
	for (int i = 0; i < 2; i++)
		ppid[i] = tu_spawn(pi_parker, (void *)(intptr_t)i);
	tu_await(&sh->ready, 2, 30, "parkers mapped the segment");
	tu_sleep_ms(20); /* parked */
	readers(p, 1);
	atomic_store(&sh->stop, 2);
	for (int i = 0; i < 2; i++)
		tu_wait_ok(ppid[i], 30, "parker");
	mdbus_pub_close(p);
	tu_note("ok");
	return 0;
}
