/*
 * t_herdplain.c - a producer without a nudger (the library's default:
 * no MDBUS_PUB_NUDGE) and threads parked on its wake_seq by anyone who
 * can read the data file. It woke every sleeper of the word at every
 * publish: an attack run's 1000 parked took the publishing thread 46% of
 * a CPU at 200 msg/s, and a blocking reader's p50 went from 30 us to
 * 4.2 ms. Now it wakes one more than readers are counted asleep
 * (wait.c wait_wake_counted()), and when that one more woke too, sweeps
 * the word itself, WAIT_SWEEP_PLAIN_GAP_NS (200 ms) apart at most
 * (wait_sweep_plain(); doc/protocol.md, "Waiting"). tests/lib/t_herd
 * has the producer with a nudger.
 *
 * Two rounds: a herd process parks HERD threads on wake_seq, each
 * sleeping again at once when woken, while a registered blocking reader
 * reads MSGS messages published GAP_MS apart; in the second, the test,
 * which made the segment, also stores a waiter count of 0xFFFFFFFF in
 * the table before each publish, as any writer of the table may. This
 * program's syscall() (syscall_hook.h) sees the publishing thread's
 * FUTEX_WAKEs of wake_seq: a wake of the counted may ask for the count
 * and one more, taken as MAX_CONSUMERS at most (so MAX_CONSUMERS + 1),
 * and a sweep (every sleeper) may come once every 200 ms of the round
 * and once more. Before, each publish with the reader asleep asked for
 * every sleeper (a sweep each: 30 or more a round). The reader gets
 * every message, in order; how late is not asserted (passed over, it
 * sleeps out its sleep and naps).
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mdbus.h"
#include "layout.h"
#include "syscall_hook.h"
#include "testutil.h"

#define CHANNEL "herdplain"
#define WAKE_SEQ offsetof(struct seg_header, wake_seq)
#define HERD 200
#define MAX_CONSUMERS 8
#define MSGS 40
#define GAP_MS 5
#define SWEEP_GAP_MS 200 /* internal.h WAIT_SWEEP_PLAIN_GAP_NS */
#define READ_WAIT_NS 30000000000LL /* a deadline, not a bound on latency */

struct shared {
	_Atomic uint32_t open;   /* round k's segment is there */
	_Atomic uint32_t parked; /* the herd's threads */
	_Atomic uint32_t stop;   /* round k's herd goes home */
	_Atomic uint32_t ready;  /* the reader is open */
};

static struct shared *sh;
static struct seg_header *herd_hdr;
static _Thread_local int measuring; /* this thread publishes */
static _Atomic long ask_max;        /* the most a counted wake asked for */
static _Atomic long counted_calls;  /* and how many there were, */
static _Atomic long sweep_calls;    /* and wakes of every sleeper */

long syscall(long number, ...)
{
	long a[6];

	HOOK_ARGS(number, a);
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE &&
	    measuring && hook_is_header_word(a, WAKE_SEQ)) {
		if (a[2] == INT_MAX) {
			atomic_fetch_add(&sweep_calls, 1);
		} else {
			atomic_fetch_add(&counted_calls, 1);
			if (a[2] > atomic_load(&ask_max))
				atomic_store(&ask_max, a[2]);
		}
	}
	return hook_real(number, a);
}

/* A parked thread: sleeps on wake_seq again each time it is woken. */
static void *park(void *arg)
{
	unsigned round = (unsigned)(uintptr_t)arg;

	atomic_fetch_add(&sh->parked, 1);
	while (atomic_load(&sh->stop) < round) {
		uint32_t v = atomic_load(&herd_hdr->wake_seq);
		struct timespec ts = { 0, 200000000 };

		syscall(SYS_futex, &herd_hdr->wake_seq, FUTEX_WAIT, v, &ts,
			NULL, 0);
	}
	return NULL;
}

/* Round `arg`'s herd: maps the segment read-only, as any reader may. */
static int herd(void *arg)
{
	unsigned round = (unsigned)(uintptr_t)arg;
	pthread_t t[HERD];

	tu_await(&sh->open, round, 60, "the segment");
	herd_hdr = tu_map_header_ro(CHANNEL);
	for (unsigned i = 0; i < HERD; i++)
		if (pthread_create(&t[i], NULL, park,
				   (void *)(uintptr_t)round) != 0)
			tu_fail("pthread_create");
	tu_await(&sh->stop, round, 110, "the round's end");
	for (unsigned i = 0; i < HERD; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* The registered blocking reader of a round's messages from `arg`. */
static int reader(void *arg)
{
	uint64_t first = (uint64_t)(uintptr_t)arg;
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s;

	s = tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0, MDBUS_WAIT_BLOCK);
	atomic_fetch_add(&sh->ready, 1);
	for (uint64_t i = first; i < first + MSGS; i++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   READ_WAIT_NS), 0);
		tu_check_next(&m, buf, i, 8, 64);
	}
	mdbus_sub_close(s);
	return 0;
}

static void round_run(mdbus_pub_t *p, unsigned round, int forged)
{
	uint64_t first = (uint64_t)(round - 1) * MSGS, t0, ms;
	unsigned char buf[64];
	long sweeps_max;
	pid_t rpid;

	atomic_store(&sh->ready, 0);
	atomic_store(&ask_max, 0);
	atomic_store(&counted_calls, 0);
	atomic_store(&sweep_calls, 0);
	rpid = tu_spawn(reader, (void *)(uintptr_t)first);
	tu_await(&sh->ready, 1, 60, "the reader opens");
	tu_await(&sh->parked, round * HERD, 60, "the herd parks");
	tu_sleep_ms(50); /* the reader asleep, its arm settled (1 ms) */
	t0 = tu_now_ns();
	measuring = 1;
	for (uint64_t i = first; i < first + MSGS; i++) {
		if (forged)
			tu_forge_waiters(CHANNEL, UINT32_MAX);
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 8, 64), 0);
		tu_sleep_ms(GAP_MS);
	}
	measuring = 0;
	ms = (tu_now_ns() - t0) / 1000000;
	tu_wait_ok(rpid, 60, "reader");
	atomic_store(&sh->stop, round);
	sweeps_max = (long)(ms / SWEEP_GAP_MS) + 1;
	tu_note("round %u (%s): %ld counted wakes of wake_seq, asking for %ld "
		"at most; %ld wakes of every sleeper in %llu ms (at most %ld)",
		round, forged ? "a forged count" : "the count true",
		atomic_load(&counted_calls), atomic_load(&ask_max),
		atomic_load(&sweep_calls), (unsigned long long)ms, sweeps_max);
	if (atomic_load(&sweep_calls) > sweeps_max)
		tu_fail("round %u: %ld wakes of every sleeper in %llu ms (at "
			"most %ld, one a %d ms and one more): the publishing "
			"thread woke the herd at every publish", round,
			atomic_load(&sweep_calls), (unsigned long long)ms,
			sweeps_max, SWEEP_GAP_MS);
	if (atomic_load(&counted_calls) == 0)
		tu_fail("round %u: no counted wake: the round proves nothing",
			round);
	if (atomic_load(&ask_max) > MAX_CONSUMERS + 1)
		tu_fail("round %u: a wake asked for %ld (at most %d)", round,
			atomic_load(&ask_max), MAX_CONSUMERS + 1);
}

int main(void)
{
	struct mdbus_pub_config cfg;
	mdbus_pub_t *p;
	pid_t hpid[2];

	tu_init("t_herdplain", 120);
	tu_take_turn();
	sh = tu_shared(sizeof(*sh));
	/* the herds first: forked before anything else runs */
	hpid[0] = tu_spawn(herd, (void *)(uintptr_t)1);
	hpid[1] = tu_spawn(herd, (void *)(uintptr_t)2);
	cfg = tu_config(128, 1024, 4, MDBUS_MODE_OVERWRITE);
	cfg.max_consumers = MAX_CONSUMERS;
	if (cfg.flags & MDBUS_PUB_NUDGE)
		tu_fail("tu_config() asked for a nudger");
	p = tu_pub_open(CHANNEL, &cfg);
	atomic_store(&sh->open, 2);
	round_run(p, 1, 0);
	tu_wait_ok(hpid[0], 60, "herd 1");
	round_run(p, 2, 1);
	tu_wait_ok(hpid[1], 60, "herd 2");
	mdbus_pub_close(p);
	tu_note("ok");
	return 0;
}
