/*
 * t_waiters.c - the header's waiter count survives readers killed at any
 * point of their sleep, and reclaims racing with new sleepers.
 *
 * This program defines syscall() itself, so libmdbus's futex calls go
 * through it: it counts the publisher's FUTEX_WAKE calls, and in a victim
 * reader it stops the process (SIGSTOP) just before FUTEX_WAIT (or
 * futex_waitv) or just after it, where the test SIGKILLs it. It also sees any membarrier()
 * call: going to sleep makes none since 0.2.3 (one MEMBARRIER_CMD_GLOBAL
 * before, an RCU grace period: t_arm), and never an expedited one (an
 * inter-processor interrupt to every CPU running a publisher of any
 * channel). The two points between plain stores (flag set but not yet
 * counted, and count taken back but flag not yet cleared) leave the same
 * state, which a victim writes itself before it exits.
 *
 * A reader killed asleep under a publisher that never calls
 * mdbus_pub_reap(): the publisher repairs the count itself after 1000
 * wakes that woke nobody. After each kill, with a live sleeper beside it:
 * A segment replaced while a reader is on its way to sleep: the reader
 * returns MDBUS_EREPLACED without sleeping to the cap. After each kill the
 * publisher's reap
 * frees the victim's entry, the count equals the sleeping entries' flags,
 * and the sleeper still wakes for a message. With nobody asleep,
 * publishing makes exactly zero futex calls. Then 200 rounds of readers
 * killed asleep while new readers register and go to sleep in their
 * entries: afterwards the count is exact again.
 *
 * The publisher's nudger (pub_nudge.c), off for the cases above (its
 * thread's futex calls would count as the publisher's), sleeps with its
 * flag in the data file and no count in the table: repairs leave the
 * count at 0, and a message wakes it; a publisher SIGKILLed while its
 * nudger sleeps leaves the flag set, which the next publisher's open
 * clears (else every publish would wake nobody); its nudges never wake a
 * registered sleeper (they go to a futex word of their own): between two
 * messages 50 ms apart, with a nudge due 1 ms after the first, a
 * registered blocking reader sleeps exactly once.
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <linux/membarrier.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "syscall_hook.h"
#include "testutil.h"

enum point { NONE, BEFORE_FUTEX, AFTER_FUTEX, FLAG_ONLY };

static const char *const point_names[] = {
	"none", "before FUTEX_WAIT", "after FUTEX_WAIT", "flag set, not counted",
};

static enum point stop_at;         /* in a victim: where to stop */
static _Atomic uint64_t futex_wakes; /* FUTEX_WAKE calls of this process */
static uint64_t futex_timeouts;      /* FUTEX_WAITs that slept to the cap */
static uint64_t futex_waits;         /* sleeps of this process */
static int membarrier_used;        /* this process called an expedited membarrier() */

long syscall(long number, ...)
{
	long a[6], r;

	HOOK_ARGS(number, a);
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE)
		atomic_fetch_add(&futex_wakes, 1);
	if (number == SYS_membarrier && a[0] != MEMBARRIER_CMD_GLOBAL)
		membarrier_used = 1;
	if (hook_is_wait(number, a) && stop_at == BEFORE_FUTEX)
		raise(SIGSTOP);
	if (hook_is_wait(number, a))
		futex_waits++;
	r = hook_real(number, a);
	if (hook_is_wait(number, a) && r < 0 && errno == ETIMEDOUT)
		futex_timeouts++;
	if (hook_is_wait(number, a) && stop_at == AFTER_FUTEX)
		raise(SIGSTOP);
	return r;
}

#define CHANNEL "waiters"

struct shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t got;
	_Atomic uint32_t membarrier;
	_Atomic int32_t result;
	_Atomic uint32_t timeouts;
	_Atomic uint32_t sleeps;
};

static struct shared *sh;

/* Registers and reads with WAIT_BLOCK until a message comes. */
static int sleeper(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_BLOCK);
	unsigned char buf[64];
	struct mdbus_msg m;

	stop_at = (enum point)(intptr_t)arg;
	atomic_fetch_add(&sh->ready, 1);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, -1), 0);
	if (membarrier_used)
		atomic_store(&sh->membarrier, 1);
	atomic_fetch_add(&sh->got, 1);
	mdbus_sub_close(s);
	return 0;
}

/* A kill between the flag store and the count (or between taking the
 * count back and clearing the flag): the flag is set, the count is not. */
static int flag_only(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(CHANNEL, "flag-only", MDBUS_START_LATEST,
				     0, MDBUS_WAIT_BLOCK);
	size_t len;
	void *seg = tu_map_file(tu_table_path(CHANNEL), &len);

	(void)arg;
	for (unsigned i = 0; i < 8; i++) {
		struct seg_consumer *c = tu_entry(seg, i);

		if (cons_pid(atomic_load(&c->state)) == getpid())
			atomic_store(&c->waiting, 1);
	}
	(void)s;
	_exit(0); /* dies holding the entry, as if killed */
}

static uint32_t count_of(struct seg_table_header *h)
{
	return waiters_count(atomic_load(&h->waiters));
}

static uint32_t flags_of(void *seg)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < 8; i++)
		n += atomic_load(&tu_entry(seg, i)->waiting) != 0;
	return n;
}

/* The count equals the set flags (sampled until equal: a live sleeper
 * sets its flag a moment before it counts itself). */
static void expect_exact(void *seg, const char *when)
{
	for (int i = 0; i < 1000; i++) {
		if (count_of(seg) == flags_of(seg))
			return;
		tu_sleep_ms(1);
	}
	tu_fail("%s: waiter count %u, sleeping entries %u", when,
		count_of(seg), flags_of(seg));
}

/* With nobody asleep, 1000 publishes make no futex call at all. */
static void expect_no_syscalls(mdbus_pub_t *p, void *seg, const char *when)
{
	uint64_t before = atomic_load(&futex_wakes);

	TU_CHECK_EQ(count_of(seg), 0);
	for (int i = 0; i < 1000; i++)
		TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	if (atomic_load(&futex_wakes) != before)
		tu_fail("%s: 1000 publishes with nobody asleep made %llu futex "
			"calls", when,
			(unsigned long long)(atomic_load(&futex_wakes) - before));
}

static pid_t start_sleeper(enum point at)
{
	uint32_t before = atomic_load(&sh->ready);
	pid_t kid = tu_spawn(sleeper, (void *)(intptr_t)at);

	tu_await(&sh->ready, before + 1, 30, "sleeper");
	return kid;
}

static void kill_point(mdbus_pub_t *p, void *seg, enum point at)
{
	const char *name = point_names[at];
	pid_t live, victim;
	uint32_t got;

	atomic_store(&sh->got, 0);
	live = start_sleeper(NONE);
	tu_await_state(live, 'S', 60, "live sleeper");
	if (at == FLAG_ONLY) {
		victim = tu_spawn(flag_only, NULL);
		TU_CHECK_EQ(tu_wait(victim, 30), 0);
	} else {
		victim = start_sleeper(at);
		tu_await_state(victim, 'T', 10, name);
		tu_kill_reap(victim);
	}
	TU_CHECK_RC(mdbus_pub_reap(p), 1);
	expect_exact(seg, name);
	got = atomic_load(&sh->got);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	tu_await(&sh->got, got + 1, 60, "live sleeper woken");
	tu_wait_ok(live, 60, "live sleeper");
	expect_no_syscalls(p, seg, name);
}

/* A reader killed asleep under a publisher that never reaps: the wakes
 * that wake nobody make the publisher repair the count by itself. */
static void never_reaped(mdbus_pub_t *p, void *seg)
{
	pid_t kid = start_sleeper(NONE);

	tu_await_state(kid, 'S', 60, "sleeper");
	tu_kill_reap(kid);
	TU_CHECK_EQ(count_of(seg), 1);
	for (int i = 0; i < 1100; i++)
		TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	expect_no_syscalls(p, seg, "killed asleep, never reaped");
}

/* What a hostile writer of the table can forge: a flag in a free entry
 * and a count to match. The repair counts only live entries' flags. */
static void forged_free_flag(mdbus_pub_t *p, void *seg)
{
	struct seg_table_header *h = seg;
	unsigned i = 0;

	while (cons_state(atomic_load(&tu_entry(seg, i)->state)) != CONS_FREE)
		i++;
	atomic_store(&tu_entry(seg, i)->waiting, 1);
	atomic_fetch_add(&h->waiters, WAITERS_ONE);
	TU_CHECK_RC(mdbus_pub_reap(p), 0);
	expect_no_syscalls(p, seg, "forged flag in a free entry");
	atomic_store(&tu_entry(seg, i)->waiting, 0);
}

/* Sleeps on channel "repl", stopped just before FUTEX_WAIT, i.e. after it
 * announced itself, loaded the futex word and found nothing changed. */
static int replaced_sleeper(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("repl", NULL, MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_BLOCK);
	unsigned char buf[64];
	struct mdbus_msg m;

	(void)arg;
	stop_at = BEFORE_FUTEX;
	futex_timeouts = 0; /* not the parent's */
	atomic_fetch_add(&sh->ready, 1);
	atomic_store(&sh->result, mdbus_sub_read(s, buf, sizeof buf, &m, -1));
	atomic_store(&sh->timeouts, (uint32_t)futex_timeouts);
	mdbus_sub_close(s);
	return 0;
}

/* The segment is replaced (marked, its sleepers woken) while a reader is
 * on its way to sleep, after it looked: the wake's bump of the futex word
 * makes its FUTEX_WAIT return at once, and it never sleeps to the 100 ms
 * cap. */
static void replaced_on_the_way(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;
	pid_t kid;

	mdbus_pub_close(tu_pub_open("repl", &c));
	atomic_store(&sh->ready, 0);
	atomic_store(&sh->result, 1);
	kid = tu_spawn(replaced_sleeper, NULL);
	tu_await_state(kid, 'T', 60, "reader on its way to sleep");
	c.slot_size = 128;
	c.flags = MDBUS_PUB_REPLACE;
	p = tu_pub_open("repl", &c);
	kill(kid, SIGCONT);
	tu_wait_ok(kid, 60, "reader of a replaced segment");
	TU_CHECK_RC(atomic_load(&sh->result), MDBUS_EREPLACED);
	TU_CHECK_EQ(atomic_load(&sh->timeouts), 0);
	mdbus_pub_close(p);
}

/* Readers killed asleep while new ones register over their entries. */
static void churn(mdbus_pub_t *p, void *seg)
{
	pid_t kids[4];

	for (int r = 0; r < 200; r++) {
		for (int i = 0; i < 4; i++)
			kids[i] = start_sleeper(NONE);
		for (int i = 0; i < 4; i++)
			if (tu_rand_below(2))
				tu_await_state(kids[i], 'S', 60, "sleeper");
		for (int i = 0; i < 4; i++)
			tu_kill_reap(kids[i]);
	}
	/* the last round's entries are still held by dead readers */
	for (int i = 0; i < 4; i++)
		kids[i] = start_sleeper(NONE);
	for (int i = 0; i < 4; i++)
		tu_await_state(kids[i], 'S', 60, "sleeper");
	expect_exact(seg, "churn");
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	for (int i = 0; i < 4; i++)
		tu_wait_ok(kids[i], 60, "sleeper after churn");
	TU_CHECK(mdbus_pub_reap(p) >= 0);
	expect_no_syscalls(p, seg, "after churn");
}

/* ------------------------------------------------------------- nudger */

#define NCHANNEL "nudged"
#define RCHANNEL "nudged-reg"

/* The data file's header, read-only (the nudger's flag and promise). */
static struct seg_header *map_header(const char *channel, size_t *len)
{
	return tu_map_file(tu_seg_path(channel), len);
}

/* Asleep, the nudger has its flag up and no count in the table (repairs,
 * mdbus_pub_reap(), leave it 0); a message wakes it (and it sleeps
 * again); close takes flag and promise back. */
static void nudger_asleep(void)
{
	struct mdbus_pub_config c = tu_nudging(tu_config(64, 16, 4,
							 MDBUS_MODE_OVERWRITE));
	mdbus_pub_t *p = tu_pub_open(NCHANNEL, &c);
	size_t hl, tl;
	struct seg_header *h = map_header(NCHANNEL, &hl);
	void *tab = tu_map_file(tu_table_path(NCHANNEL), &tl);
	uint64_t before;

	TU_CHECK_EQ(atomic_load(&h->nudge_ns), 1000000);
	TU_CHECK_EQ(atomic_load(&h->nudge_pid), getpid());
	tu_await_nudger_asleep(h, tab);
	for (int i = 0; i < 10; i++)
		TU_CHECK_RC(mdbus_pub_reap(p), 0);
	TU_CHECK_EQ(count_of(tab), 0);
	before = atomic_load(&futex_wakes);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	TU_CHECK(atomic_load(&futex_wakes) > before); /* it was woken */
	tu_await_nudger_asleep(h, tab);
	mdbus_pub_close(p);
	TU_CHECK_EQ(count_of(tab), 0);
	TU_CHECK_EQ(atomic_load(&h->nudge_waiting), 0);
	TU_CHECK_EQ(atomic_load(&h->nudge_ns), 0);
	tu_unmap(tab, tl);
	tu_unmap(h, hl);
}

/* A publisher whose nudger sleeps, until it is killed. */
static int nudging_publisher(void *arg)
{
	struct mdbus_pub_config c = tu_nudging(tu_config(64, 16, 4,
							 MDBUS_MODE_OVERWRITE));
	mdbus_pub_t *p = tu_pub_open(NCHANNEL, &c);
	size_t hl, tl;
	struct seg_header *h = map_header(NCHANNEL, &hl);
	void *tab = tu_map_file(tu_table_path(NCHANNEL), &tl);

	(void)arg;
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	tu_await_nudger_asleep(h, tab);
	atomic_store(&sh->ready, 1);
	for (;;)
		pause();
	return 0;
}

/* Registered, blocking: reads messages 0 and 1, then counts its sleeps
 * until message 2. */
static int registered_sleeper(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(RCHANNEL, "registered", MDBUS_START_OLDEST,
				     0, MDBUS_WAIT_BLOCK);
	unsigned char buf[64];
	struct mdbus_msg m;
	uint64_t before;

	(void)arg;
	atomic_store(&sh->ready, 1);
	for (int i = 0; i < 2; i++)
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, -1), 0);
	before = futex_waits;
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, -1), 0);
	TU_CHECK_EQ(m.seq, 2);
	atomic_store(&sh->sleeps, (uint32_t)(futex_waits - before));
	mdbus_sub_close(s);
	return 0;
}

/* Message 0 wakes the idle nudger, message 1 comes before its next look,
 * which therefore nudges; the registered reader is asleep by then. */
static void registered_not_nudged(void)
{
	struct mdbus_pub_config c = tu_nudging(tu_config(64, 16, 4,
							 MDBUS_MODE_OVERWRITE));
	mdbus_pub_t *p = tu_pub_open(RCHANNEL, &c);
	size_t hl, tl;
	struct seg_header *h = map_header(RCHANNEL, &hl);
	void *tab = tu_map_file(tu_table_path(RCHANNEL), &tl);
	pid_t kid;

	atomic_store(&sh->ready, 0);
	kid = tu_spawn(registered_sleeper, NULL);
	tu_await(&sh->ready, 1, 30, "registered sleeper");
	tu_await_state(kid, 'S', 60, "registered sleeper");
	tu_sleep_ms(5); /* its arm settled: a sleep of it, 1 ms at most
			 * (wait.c arm()), is not the one counted */
	tu_await_state(kid, 'S', 60, "registered sleeper");
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	tu_sleep_ms(0.3);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	tu_sleep_ms(50);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	tu_wait_ok(kid, 60, "registered sleeper");
	TU_CHECK_EQ(atomic_load(&sh->sleeps), 1);
	mdbus_pub_close(p);
	tu_unmap(tab, tl);
	tu_unmap(h, hl);
}

/* SIGKILLed while its nudger sleeps: the flag stays up, the table has no
 * count of it; the next publisher's open takes the flag and the promise
 * back, with or without a nudger of its own (else every publish would
 * make a FUTEX_WAKE for nobody). */
static void nudger_killed(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	size_t hl, tl;
	struct seg_header *h;
	void *tab;
	mdbus_pub_t *p;
	pid_t kid;

	for (int own = 0; own < 2; own++) {
		atomic_store(&sh->ready, 0);
		kid = tu_spawn(nudging_publisher, NULL);
		tu_await(&sh->ready, 1, 30, "nudging publisher");
		tu_kill_reap(kid);
		h = map_header(NCHANNEL, &hl);
		tab = tu_map_file(tu_table_path(NCHANNEL), &tl);
		TU_CHECK_EQ(atomic_load(&h->nudge_waiting), 1);
		TU_CHECK_EQ(count_of(tab), 0);
		c.flags = own ? MDBUS_PUB_NUDGE : 0;
		p = tu_pub_open(NCHANNEL, &c);
		if (own) {
			TU_CHECK_EQ(atomic_load(&h->nudge_pid), getpid());
			tu_await_nudger_asleep(h, tab);
		} else {
			TU_CHECK_EQ(atomic_load(&h->nudge_ns), 0);
			TU_CHECK_EQ(atomic_load(&h->nudge_waiting), 0);
			expect_no_syscalls(p, tab, "after a nudging publisher's kill");
		}
		mdbus_pub_close(p);
		TU_CHECK_EQ(count_of(tab), 0);
		tu_unmap(tab, tl);
		tu_unmap(h, hl);
	}
}

int main(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;
	size_t len;
	void *seg;
	uint64_t before;
	pid_t first;

	tu_init("t_waiters", 240);
	tu_take_turn();
	sh = tu_shared(sizeof *sh);
	nudger_asleep();
	nudger_killed();
	registered_not_nudged();
	c.max_consumers = 8;
	p = tu_pub_open(CHANNEL, &c);
	seg = tu_map_file(tu_table_path(CHANNEL), &len);
	expect_no_syscalls(p, seg, "fresh channel");
	/* the counter sees real wakes: a sleeper costs one */
	atomic_store(&sh->got, 0);
	first = start_sleeper(NONE);
	tu_await_state(first, 'S', 60, "sleeper");
	before = atomic_load(&futex_wakes);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	TU_CHECK(atomic_load(&futex_wakes) > before);
	tu_wait_ok(first, 60, "first sleeper");
	never_reaped(p, seg);
	forged_free_flag(p, seg);
	kill_point(p, seg, BEFORE_FUTEX);
	kill_point(p, seg, AFTER_FUTEX);
	kill_point(p, seg, FLAG_ONLY);
	replaced_on_the_way();
	/* no sleeper made an expedited membarrier() call, nor did the
	 * publisher */
	TU_CHECK_EQ(atomic_load(&sh->membarrier), 0);
	TU_CHECK_EQ(membarrier_used, 0);
	churn(p, seg);
	tu_unmap(seg, len);
	mdbus_pub_close(p);
	return 0;
}
