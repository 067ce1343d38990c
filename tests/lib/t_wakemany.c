/*
 * t_wakemany.c - a producer with a nudger wakes WAKE_DIRECT_MAX counted
 * sleepers of wake_seq at most on its publishing thread, and one more
 * (internal.h wait_wake_direct()); its nudger's sweep wakes the others
 * (doc/protocol.md, "Waiting"). The count is in the consumer table,
 * which its writers may forge: taken as two a consumer entry at most, a
 * 64-entry channel's forged count and 500 threads parked there cost the
 * publishing thread 129 wake-ups a publish (an attack run: 44.6% of a
 * CPU at 1000 msg/s, a blocking reader's p99 201 ms; tests/lib/t_herd
 * round 7 has the forged count).
 *
 * Here the count is true: READERS registered blocking readers, more than
 * the cap, each in a process of its own, read MSGS messages published
 * GAP_MS apart, asleep at each publish. This program's syscall()
 * (syscall_hook.h) sees the publishing thread's FUTEX_WAKEs of wake_seq:
 * none may wake more than WAKE_DIRECT_MAX + 1 (before, READERS + 1). Each
 * reader gets every message, in order, and counts its reads half a gap or
 * more after the publish: the sweep wakes those the publishing thread
 * left, a wake-up later, so at most LATE_MAX of all reads are late. A
 * producer that left them to the next publish's wake (a cap without the
 * sweep) makes READERS - WAKE_DIRECT_MAX - 1 of each publish's reads a
 * gap late: 150 of 600.
 */
#include <linux/futex.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mdbus.h"
#include "layout.h"
#include "syscall_hook.h"
#include "testutil.h"

#define CHANNEL "wakemany"
#define READERS 12
#define MAX_CONSUMERS 16
#define WAKE_DIRECT_MAX 8 /* internal.h WAIT_WAKE_DIRECT_MAX */
#define MSGS 50
#define GAP_MS 20
#define LATE_MAX (READERS * MSGS / 10)
#define READ_WAIT_NS 30000000000LL /* a deadline, not a bound on latency */

struct shared {
	_Atomic uint32_t ready;    /* readers open */
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

/* A registered blocking reader of the MSGS messages from the start. */
static int reader(void *arg)
{
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s;
	uint64_t late;

	(void)arg;
	s = tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0, MDBUS_WAIT_BLOCK);
	atomic_fetch_add(&sh->ready, 1);
	for (uint64_t i = 0; i < MSGS; i++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   READ_WAIT_NS), 0);
		tu_check_next(&m, buf, i, 8, 64);
		/* Relaxed: stored before the publish that the read acquired */
		late = tu_now_ns() - atomic_load_explicit(&sh->pub_ns[i],
							  memory_order_relaxed);
		if (late >= GAP_MS * 1000000ULL / 2)
			atomic_fetch_add(&sh->late, 1);
	}
	mdbus_sub_close(s);
	return 0;
}

int main(void)
{
	struct mdbus_pub_config cfg;
	unsigned char buf[64];
	pid_t rpid[READERS];
	mdbus_pub_t *p;

	tu_init("t_wakemany", 120);
	tu_take_turn();
	sh = tu_shared(sizeof(*sh));
	cfg = tu_nudging(tu_config(128, 1024, 4, MDBUS_MODE_OVERWRITE));
	cfg.max_consumers = MAX_CONSUMERS;
	p = tu_pub_open(CHANNEL, &cfg);
	for (int r = 0; r < READERS; r++)
		rpid[r] = tu_spawn(reader, NULL);
	tu_await(&sh->ready, READERS, 60, "the readers open");
	tu_sleep_ms(50); /* asleep, their arms settled (1 ms) */
	measuring = 1;
	for (uint64_t i = 0; i < MSGS; i++) {
		atomic_store_explicit(&sh->pub_ns[i], tu_now_ns(),
				      memory_order_relaxed);
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 8, 64), 0);
		tu_sleep_ms(GAP_MS);
	}
	measuring = 0;
	for (int r = 0; r < READERS; r++)
		tu_wait_ok(rpid[r], 60, "reader");
	tu_note("%d readers, %d messages %d ms apart: %ld wakes of wake_seq "
		"while publishing, each waking at most %ld; %u of %d reads "
		"half a gap or more late", READERS, MSGS, GAP_MS,
		atomic_load(&wake_calls), atomic_load(&wake_max),
		atomic_load(&sh->late), READERS * MSGS);
	if (atomic_load(&wake_max) <= WAKE_DIRECT_MAX)
		tu_fail("no wake of the publishing thread woke more than %d: "
			"the test proves nothing", WAKE_DIRECT_MAX);
	if (atomic_load(&wake_max) > WAKE_DIRECT_MAX + 1)
		tu_fail("a wake of the publishing thread woke %ld readers (at "
			"most %d: the nudger's sweep wakes the others)",
			atomic_load(&wake_max), WAKE_DIRECT_MAX + 1);
	if (atomic_load(&sh->late) > LATE_MAX)
		tu_fail("%u reads half a gap or more late (at most %d): the "
			"readers past the publishing thread's wakes were left "
			"to the next publish", atomic_load(&sh->late), LATE_MAX);
	mdbus_pub_close(p);
	tu_note("ok");
	return 0;
}
