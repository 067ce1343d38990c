/*
 * t_wakemany.c - a producer with a nudger wakes WAKE_DIRECT_MAX counted
 * sleepers of wake_seq at most on its publishing thread (internal.h
 * WAIT_WAKE_DIRECT_MAX), one more when it wakes them all; with more
 * counted its nudger wakes them all again, a wake-up later (pub_nudge.c
 * sweep_left(); doc/protocol.md, "Waiting"). The count is in the
 * consumer table, which its writers may forge: taken as two a consumer
 * entry at most (before), a 64-entry channel's forged count and 500
 * threads parked there cost the publishing thread 129 wake-ups a publish
 * (attack runs: 40-45% of a CPU at 1000 msg/s; tests/lib/t_herd round 7
 * has the forged count).
 *
 * Here the count is true: in each round (rounds[]), registered blocking
 * readers, more than the cap, each in a process of its own, read MSGS
 * messages published GAP_MS apart, asleep at each publish. This
 * program's syscall() (syscall_hook.h) sees the publishing thread's
 * FUTEX_WAKEs of wake_seq: none may wake more than WAKE_DIRECT_MAX + 1
 * (before, every reader and one more). Each reader gets every message,
 * in order, and counts its reads half a gap or more after the publish:
 * at most a fifth of the reads may be late (a busy machine's stalls:
 * under ASan beside a CPU hog 1-3 of 600, 29-30 of 2000).
 *  - 12 readers: a producer that left those past its wakes to the next
 *    publish's (the cap without the nudger's part) made 200 of 600 reads
 *    a gap late.
 *  - 40: a nudger that woke 32 and its ration (the sweep after a crowd)
 *    woke the readers the producer had woken too, gone back to sleep,
 *    took them for parked threads and swept no more for 200 ms: 843 of
 *    2000 late (race review of d496be0).
 *  - 12, 4 of them SCHED_FIFO (unless refused: the round then proves
 *    less, and says so): the kernel queues real-time sleepers first, so
 *    those the producer woke went back to sleep ahead of those it left,
 *    and a nudger that woke only as many as it left woke them again:
 *    196 of 600 late (race review of 9777ab3).
 */
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mdbus.h"
#include "layout.h"
#include "syscall_hook.h"
#include "testutil.h"

#define CHANNEL "wakemany"
#define READERS_MAX 40
#define MAX_CONSUMERS 64
#define WAKE_DIRECT_MAX 8 /* internal.h WAIT_WAKE_DIRECT_MAX */
#define MSGS 50
#define GAP_MS 30
#define READ_WAIT_NS 30000000000LL /* a deadline, not a bound on latency */

/* A round: its readers, and how many of them run SCHED_FIFO. */
static const struct round {
	unsigned readers, rt;
} rounds[] = {
	{ 12, 0 },
	{ READERS_MAX, 0 },
	{ 12, 4 },
};

struct shared {
	_Atomic uint32_t ready;    /* the round's readers open */
	_Atomic uint32_t rt_refused; /* a reader may not run SCHED_FIFO */
	_Atomic uint32_t late;     /* reads half a gap or more late */
	_Atomic uint64_t pub_ns[MSGS]; /* each message's publish, monotonic */
};

static struct shared *sh;
static _Thread_local int measuring; /* this thread publishes */
static _Atomic long wake_max;       /* the most a wake of it woke, */
static _Atomic long wake_calls;     /* and how many it made */

/* Whether a futex call's word is a header's wake_seq (the header is a
 * mapping's first page, and no other shared word of this process is at
 * that place in its page). */
static int is_wake_seq(const long *a)
{
	return !(a[1] & FUTEX_PRIVATE_FLAG) &&
	       ((uintptr_t)a[0] & 4095) == offsetof(struct seg_header, wake_seq);
}

long syscall(long number, ...)
{
	long a[6], r;

	HOOK_ARGS(number, a);
	r = hook_real(number, a);
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE &&
	    measuring && is_wake_seq(a)) {
		atomic_fetch_add(&wake_calls, 1);
		if (r > atomic_load(&wake_max))
			atomic_store(&wake_max, r);
	}
	return r;
}

/* A registered blocking reader of the round's MSGS messages, from the
 * sequence number `arg` >> 1; SCHED_FIFO when its bit 0 is set. */
static int reader(void *arg)
{
	uint64_t first = (uint64_t)(uintptr_t)arg >> 1;
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s;
	uint64_t late;

	if ((uintptr_t)arg & 1) {
		struct sched_param sp = { .sched_priority = 1 };

		if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
			atomic_store(&sh->rt_refused, 1);
	}
	s = tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0, MDBUS_WAIT_BLOCK);
	atomic_fetch_add(&sh->ready, 1);
	for (uint64_t i = first; i < first + MSGS; i++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   READ_WAIT_NS), 0);
		tu_check_next(&m, buf, i, 8, 64);
		/* Relaxed: stored before the publish that the read acquired */
		late = tu_now_ns() - atomic_load_explicit(&sh->pub_ns[i - first],
							  memory_order_relaxed);
		if (late >= GAP_MS * 1000000ULL / 2)
			atomic_fetch_add(&sh->late, 1);
	}
	mdbus_sub_close(s);
	return 0;
}

/* Round rd, its messages from `first` on. */
static void round_run(mdbus_pub_t *p, const struct round *rd, uint64_t first)
{
	unsigned char buf[64];
	pid_t rpid[READERS_MAX];
	unsigned readers = rd->readers, late_max = readers * MSGS / 5;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->late, 0);
	atomic_store(&wake_max, 0);
	atomic_store(&wake_calls, 0);
	for (unsigned r = 0; r < readers; r++)
		rpid[r] = tu_spawn(reader, (void *)(uintptr_t)(first << 1 |
							     (r < rd->rt)));
	tu_await(&sh->ready, readers, 60, "the readers open");
	tu_sleep_ms(50); /* asleep, their arms settled (1 ms) */
	measuring = 1;
	for (uint64_t i = first; i < first + MSGS; i++) {
		atomic_store_explicit(&sh->pub_ns[i - first], tu_now_ns(),
				      memory_order_relaxed);
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 8, 64), 0);
		tu_sleep_ms(GAP_MS);
	}
	measuring = 0;
	for (unsigned r = 0; r < readers; r++)
		tu_wait_ok(rpid[r], 60, "reader");
	tu_note("%u readers (%u SCHED_FIFO%s), %d messages %d ms apart: "
		"%ld wakes of wake_seq while publishing, each waking at most "
		"%ld; %u of %u reads half a gap or more late", readers, rd->rt,
		atomic_load(&sh->rt_refused) ? ", refused: as others" : "",
		MSGS, GAP_MS, atomic_load(&wake_calls), atomic_load(&wake_max),
		atomic_load(&sh->late), readers * MSGS);
	if (atomic_load(&wake_max) < WAKE_DIRECT_MAX)
		tu_fail("%u readers: no wake of the publishing thread woke %d: "
			"the round proves nothing", readers, WAKE_DIRECT_MAX);
	if (atomic_load(&wake_max) > WAKE_DIRECT_MAX + 1)
		tu_fail("%u readers: a wake of the publishing thread woke %ld "
			"(at most %d: the nudger wakes the others)", readers,
			atomic_load(&wake_max), WAKE_DIRECT_MAX + 1);
	if (atomic_load(&sh->late) > late_max)
		tu_fail("%u readers: %u reads half a gap or more late (at most "
			"%u): the readers past the publishing thread's wakes "
			"were not woken by the nudger", readers,
			atomic_load(&sh->late), late_max);
}

int main(void)
{
	enum { ROUNDS = sizeof(rounds) / sizeof(rounds[0]) };
	struct mdbus_pub_config cfg;
	mdbus_pub_t *p;

	tu_init("t_wakemany", 180);
	tu_take_turn();
	sh = tu_shared(sizeof(*sh));
	cfg = tu_nudging(tu_config(128, 1024, 4, MDBUS_MODE_OVERWRITE));
	cfg.max_consumers = MAX_CONSUMERS;
	p = tu_pub_open(CHANNEL, &cfg);
	for (unsigned k = 0; k < ROUNDS; k++)
		round_run(p, &rounds[k], (uint64_t)k * MSGS);
	mdbus_pub_close(p);
	tu_note("ok");
	return 0;
}
