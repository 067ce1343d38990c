/*
 * wait.c - how readers wait for the next message and how the producer
 * wakes them (doc/protocol.md, "Waiting").
 *
 * The Dekker pair: a reader about to sleep announces itself (waiters++),
 * then looks at write_num once more; the producer publishes (write_num),
 * then looks at `waiters`. All four accesses are sequentially consistent,
 * so at least one side sees the other: either the reader sees the message
 * and does not sleep, or the producer sees the waiter and bumps the futex
 * word, which makes the reader's FUTEX_WAIT return at once (value changed)
 * or wakes it. The producer's write_num store is an exchange (a locked
 * instruction on x86, a full barrier of its own CPU only): no
 * inter-processor interrupt, so readers of one channel never disturb the
 * publishers of others (bench/mdbench --only crosstalk measures it).
 * Weaken either side and tests/lib/t_blocking loses wake-ups and hangs.
 *
 * The futex is shared (not FUTEX_PRIVATE): waiters are other processes.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SLEEP_MAX_NS 100000000ULL /* cap of one futex sleep: 100 ms */
#define POLL_NS 1000000ULL /* read-only readers cannot announce: 1 ms naps */
#define SPIN_MAX_NS 20000ULL /* adaptive: longest spin budget (mdbench) */
#define SPIN_MIN_NS 1000ULL  /* adaptive: budget after a short wait, at least */
#define SPIN_GROW 2          /* adaptive: budget = this x the last short wait */
#define SPIN_CHECK 4         /* adaptive: rounds between clock reads */

static long futex(_Atomic uint32_t *addr, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Returns the number of sleepers woken. */
static long wake(struct seg_header *h)
{
	/* Release: a reader whose acquire load of wake_seq sees the bump also
	 * sees the message published before it. */
	atomic_fetch_add_explicit(&h->wake_seq, 1, memory_order_release);
	return futex(&h->wake_seq, FUTEX_WAKE, INT_MAX, NULL);
}

long wait_wake_if_waiting(const struct seg_map *m)
{
	/* Dekker, producer side: seq_cst, pairs with the reader's seq_cst
	 * increment in announce_waiter() and the publisher's seq_cst
	 * exchange of write_num (pub.c finish()). */
	if (waiters_count(atomic_load_explicit(&m->tab->waiters, memory_order_seq_cst)) == 0)
		return -1;
	return wake(m->hdr);
}

void wait_wake_all(struct seg_header *h)
{
	(void)wake(h);
}

static uint64_t sleep_length(uint64_t deadline_ns)
{
	uint64_t now;

	if (deadline_ns == UINT64_MAX)
		return SLEEP_MAX_NS;
	now = clock_mono_ns();
	if (now >= deadline_ns)
		return 0;
	return deadline_ns - now < SLEEP_MAX_NS ? deadline_ns - now : SLEEP_MAX_NS;
}

/*
 * Undoes announce_waiter(): the count goes first, the flag after, so that
 * a flag is set whenever its reader is counted (a repair never takes the
 * count of a live reader, consumers.c). The decrement never goes below 0:
 * a repair may already have taken the count of a reader that was wrongly
 * judged dead. The flag's release store pairs with the acquire load in
 * cons_repair_waiters(): a repair that sees the flag cleared also sees
 * the decrement, so its compare-and-swap fails.
 */
static void retire_waiter(struct seg_table_header *t, const struct wait_for *wf)
{
	uint64_t w = atomic_load_explicit(&t->waiters, memory_order_relaxed);
	uint32_t tag = wf->waiting_tag;

	/* Not our tag: a reclaimer that judged us dead cleared it, and a
	 * repair took our count (the entry may be another reader's now):
	 * nothing of ours to take back, nor to clear. */
	if (atomic_load_explicit(wf->waiting, memory_order_relaxed) != tag)
		return;
	while (waiters_count(w) != 0 &&
	       !atomic_compare_exchange_weak_explicit(&t->waiters, &w,
						      w + WAITERS_LESS,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
	atomic_compare_exchange_strong_explicit(wf->waiting, &tag, 0,
						memory_order_release,
						memory_order_relaxed);
}

/* Dekker, reader side: flag, then waiters++ (seq_cst; pairs with the
 * producer's seq_cst load in wait_wake_if_waiting(), and a repair whose
 * acquire load of waiters sees this count also sees the flag set,
 * cons_repair_waiters()). A kill between the two steps leaves a flag set,
 * which the reclaimer of the dead entry clears and the repair then counts
 * right (consumers.c). */
static void announce_waiter(struct seg_table_header *t, const struct wait_for *wf)
{
	atomic_store_explicit(wf->waiting, wf->waiting_tag, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->waiters, WAITERS_ONE, memory_order_seq_cst);
}

/* Whether anything the reader waits for happened. Called after the
 * acquire load of wake_seq: a change made before a wake that bumped the
 * value we loaded is visible here; one made after it comes with another
 * bump, which makes FUTEX_WAIT return at once. */
static int changed(const struct seg_header *h, const struct wait_for *wf)
{
	/* Dekker, reader side: seq_cst, pairs with the producer's seq_cst
	 * exchange of write_num (pub.c finish()). */
	if (atomic_load_explicit(&h->write_num, memory_order_seq_cst) > wf->pos)
		return 1;
	/* Pairs with the replacer's release store of REPLACED. */
	if (atomic_load_explicit(&h->pub_state, memory_order_acquire) ==
	    SEG_PUB_REPLACED)
		return 1;
	/* Pairs with the evicting producer's release CAS (pub.c). */
	return wf->entry_state &&
	       atomic_load_explicit(wf->entry_state, memory_order_acquire) !=
	       wf->entry_word;
}

/*
 * Sleeps on the futex until woken, something changed() or ns pass. The
 * sleep is capped so that a reader also notices state changes nobody
 * woke it for (e.g. a publisher killed with SIGKILL). The futex word is in
 * the data file, which readers map read-only: FUTEX_WAIT only reads it.
 */
static void sleep_on(const struct seg_map *m, const struct wait_for *wf,
		     uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	struct seg_header *h = m->hdr;
	uint32_t seq;

	announce_waiter(m->tab, wf);
	/* Acquire pairs with the release bump in wake(). */
	seq = atomic_load_explicit(&h->wake_seq, memory_order_acquire);
	if (!changed(h, wf))
		futex(&h->wake_seq, FUTEX_WAIT, seq, &ts);
	retire_waiter(m->tab, wf);
}

/*
 * A reader without an entry cannot announce itself, so the producer does
 * not wake it for its own sake; it naps on the futex word (readable in its
 * read-only mapping) for at most POLL_NS, woken early by any wake the
 * producer makes for registered sleepers or a state change.
 */
static void poll_sleep(const struct seg_map *m, const struct wait_for *wf,
		       uint64_t ns)
{
	struct timespec ts = { 0, (long)(ns < POLL_NS ? ns : POLL_NS) };
	struct seg_header *h = m->hdr;
	/* Acquire pairs with the release bump in wake(). */
	uint32_t seq = atomic_load_explicit(&h->wake_seq, memory_order_acquire);

	if (!changed(h, wf))
		futex(&h->wake_seq, FUTEX_WAIT, seq, &ts);
}

static int sleep_step(const struct seg_map *m, const struct wait_for *wf,
		      uint64_t deadline_ns)
{
	uint64_t ns = sleep_length(deadline_ns);

	if (ns == 0)
		return -ETIMEDOUT;
	if (!wf->waiting)
		poll_sleep(m, wf, ns);
	else
		sleep_on(m, wf, ns);
	return 0;
}

/*
 * Adaptive, at the first step of a wait: the previous wait's length sets
 * this one's spin budget. A wait the budget could have covered (at most
 * SPIN_MAX_NS) makes it SPIN_GROW times that length: messages are coming
 * close together, spinning catches the next one sooner than a wake-up
 * would and for less CPU than a sleep and a wake cost. A longer wait
 * halves it: at low rates it falls to nothing within a few messages and
 * the reader sleeps at once, as MDBUS_WAIT_BLOCK does.
 */
static void adapt_begin(struct wait_state *ws, uint64_t now)
{
	uint64_t w = ws->end_ns - ws->start_ns;

	if (ws->start_ns == 0)
		ws->spin_ns = SPIN_MAX_NS;
	else if (w > SPIN_MAX_NS)
		ws->spin_ns /= 2;
	else if (w * SPIN_GROW < SPIN_MIN_NS)
		ws->spin_ns = SPIN_MIN_NS;
	else
		ws->spin_ns = w * SPIN_GROW > SPIN_MAX_NS ? SPIN_MAX_NS : w * SPIN_GROW;
	ws->start_ns = ws->end_ns = now;
}

/* Adaptive: spin for the budget (clock read every SPIN_CHECK rounds; the
 * last read marks where the wait ended), then sleep on the futex. */
static int adaptive_step(const struct seg_map *m, const struct wait_for *wf,
			 unsigned round, uint64_t deadline_ns)
{
	struct wait_state *ws = wf->state;
	uint64_t now;
	int r;

	if (round % SPIN_CHECK != 0) {
		cpu_relax();
		return 0;
	}
	now = clock_mono_ns();
	if (round == 0)
		adapt_begin(ws, now);
	ws->end_ns = now;
	if (now >= deadline_ns)
		return -ETIMEDOUT;
	if (now - ws->start_ns < ws->spin_ns) {
		cpu_relax();
		return 0;
	}
	r = sleep_step(m, wf, deadline_ns);
	ws->end_ns = clock_mono_ns();
	return r;
}

int wait_step(const struct seg_map *m, enum mdbus_wait strategy,
	      const struct wait_for *wf, unsigned round, uint64_t deadline_ns)
{
	if (strategy == MDBUS_WAIT_ADAPTIVE && wf->state)
		return adaptive_step(m, wf, round, deadline_ns);
	if (strategy == MDBUS_WAIT_SPIN) {
		cpu_relax();
		if ((round & 255) == 255 && deadline_ns != UINT64_MAX &&
		    clock_mono_ns() >= deadline_ns)
			return -ETIMEDOUT;
		return 0;
	}
	if (strategy == MDBUS_WAIT_YIELD) {
		if (sleep_length(deadline_ns) == 0)
			return -ETIMEDOUT;
		sched_yield();
		return 0;
	}
	return sleep_step(m, wf, deadline_ns);
}

int wait_ready(const struct seg_map *m, const struct wait_for *wf)
{
	/* Acquire: pairs with the release bump in wake(), as in sleep_on(). */
	(void)atomic_load_explicit(&m->hdr->wake_seq, memory_order_acquire);
	return changed(m->hdr, wf);
}

void wait_nudge(const struct seg_map *m)
{
	futex(&m->hdr->wake_seq, FUTEX_WAKE, INT_MAX, NULL);
}
