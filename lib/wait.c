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
 * or wakes it. The producer's write_num store is then an exchange (a
 * locked instruction on x86, a full barrier of its own CPU only).
 * Weaken either side and tests/lib/t_blocking loses wake-ups and hangs.
 *
 * Arming: that exchange waits for the slot's stores, which a spinning
 * reader slows down by holding their lines, so the producer makes it only
 * while some reader may sleep. Before its first sleep a reader arms its
 * entry (arm()): sets `armed` and bumps the table's armed_seq (seq_cst). A
 * producer without armed readers stores write_num (release) and then
 * loads armed_seq (relaxed, after a compiler barrier): a publish whose
 * load came after the bump sees it, recounts the flags and from then on
 * exchanges (pub.c publish_count()); one whose load came before may hold
 * its write_num store in its store buffer still, so the reader's sleeps
 * end within ARM_SETTLE_NS of the bump (the arm settles), by which time
 * that store has long left the buffer (C11 7.17.3: "within a reasonable
 * amount of time"; a context switch or a VM exit drains it too), and the
 * look after such a sleep sees it. The fast side pays a compiler
 * barrier, the rare side one short sleep. Arming called
 * membarrier(MEMBARRIER_CMD_GLOBAL) before (liburcu's urcu-memb split),
 * which waits for an RCU grace period: 6 to 18 ms here, and seconds
 * under load (two fresh-clone CI runs whose builds ran beside the tests:
 * readers stuck 0.8 and 3.7 s in their first sleep; a loop of the call
 * beside a third: 25 calls over 150 ms in 17 minutes, the longest 5.9
 * s), during which the reader answered no message, timeout or signal
 * (tests/lib/t_arm.c, section 13). tests/model/wait.pml model-checks
 * this argument (spin, x86-TSO store buffer).
 *
 * The futex is shared (not FUTEX_PRIVATE): waiters are other processes.
 *
 * Readers without an entry cannot announce themselves: they sleep on
 * nudge_seq alone, which the publisher's nudger (pub_nudge.c) wakes; the
 * nudger sleeps, between bursts, on a word in its own process's memory,
 * in a Dekker pair of its own with the producer (wait_nudger_idle()).
 * So only announced readers sleep on wake_seq, and a producer with a
 * nudger wakes one more than are counted (wait_wake_counted()), never
 * every thread asleep on it: anyone who maps the data file, read-only,
 * may park threads on either word, and an attack run's 1000 on wake_seq
 * had each publish wake them all (40% of the publishing thread's CPU at
 * 200 msg/s, reader p50 26 us -> 2.5 ms; tests/lib/t_herd). The kernel
 * wakes a word's sleepers in the order they came (real-time ones
 * first), so threads parked
 * ahead of a counted reader take its wake: when the one more woke too,
 * the producer asks the nudger to wake the sleepers of wake_seq
 * (wait_sweep(), pub_nudge.c), on its own thread, one wake-up later. It
 * wakes 8 counted readers at most itself (WAIT_WAKE_DIRECT_MAX: a writer
 * of the table may forge the count), the nudger then all of them. A producer
 * without a nudger wakes every sleeper itself, as before.
 *
 * Interrupts (mdbus_sub_interrupt()): a sleeping reader waits on two words
 * at once with futex_waitv(2), the channel's word (wake_seq, or nudge_seq
 * for one without an entry) and its handle's private bell, so an
 * interrupt wakes that reader alone. A kernel without futex_waitv
 * (before 5.16) has the reader sleep on the channel's word alone, and the
 * interrupt wakes every sleeper of that word (they look and sleep again);
 * a ring landing between the reader's last look and its FUTEX_WAIT is
 * then noticed only at the end of that sleep (SLEEP_MAX_NS).
 */
#include <errno.h>
#include <stdint.h>
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
#define WATCH_LOOKS 256      /* stamp loads per wait_watch() */
#define ARM_SETTLE_NS 1000000ULL /* sleeps end by then after an arm */
#define UNWOKEN_PAUSE_NS 1000000ULL /* after a wake nobody made for us:
				       woken_for_nothing() */
#define REQUEUED_HOLD_NS 10000000000ULL /* moved_off(): short sleeps for
						   10 s after the last found */
#define WAKE_ANON_FIRST 8 /* wait_wake_anonymous_first(): the producer's
			      bound on the anonymous sleepers it wakes */
#define PASSED_OVER_BUMPS 8 /* passed_over(), passed_over_anonymous():
			       the word moved this much */
#define WARY_NS 2000000ULL /* a sleep this long unwoken past a message:
			      a wake was missed (sleep_on()) */

static long futex(_Atomic uint32_t *addr, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

/* futex_waitv(2)'s argument (the kernel's struct futex_waitv) and flags
 * (FUTEX2_SIZE_U32, FUTEX2_PRIVATE), which older headers lack. */
struct waitv {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

#define WAITV_U32 0x02u
#define WAITV_PRIVATE 128u

/* Set once futex_waitv(2) said ENOSYS; relaxed: a stale 0 costs one more
 * ENOSYS. */
static atomic_int waitv_missing;

/* Sleeps until one of the n words differs from its value, a wake, a
 * signal or ns pass. Returns 1 woken, 0 (a word differed, or the time
 * ran out), -EINTR (a handler ran; one with SA_RESTART restarts the call
 * in the kernel) or -ENOSYS. */
static int sleep_waitv(struct waitv *w, unsigned n, uint64_t ns)
{
#ifdef SYS_futex_waitv
	struct { int64_t tv_sec, tv_nsec; } until;
	uint64_t at = clock_mono_ns() + ns;

	if (atomic_load_explicit(&waitv_missing, memory_order_relaxed))
		return -ENOSYS;
	until.tv_sec = (int64_t)(at / 1000000000u);
	until.tv_nsec = (int64_t)(at % 1000000000u);
	if (syscall(SYS_futex_waitv, w, n, 0, &until, CLOCK_MONOTONIC) >= 0)
		return 1;
	if (errno == EAGAIN || errno == ETIMEDOUT)
		return 0;
	if (errno == ENOSYS)
		atomic_store_explicit(&waitv_missing, 1, memory_order_relaxed);
	return -errno;
#else
	(void)w;
	(void)n;
	(void)ns;
	return -ENOSYS;
#endif
}

static void waitv_set(struct waitv *w, _Atomic uint32_t *word, uint32_t val,
		      uint32_t flags)
{
	w->val = val;
	w->uaddr = (uint64_t)(uintptr_t)word;
	w->flags = WAITV_U32 | flags;
	w->reserved = 0;
}

void wait_bell_ring(struct wait_bell *b)
{
	_Atomic uint32_t *shared;
	int saved = errno;

	/* seq_cst, Dekker with the reader's seq_cst store of sleeping_on and
	 * load of rings (sleep_words()): either the reader sees this ring or
	 * we see the word it sleeps on. */
	atomic_fetch_add_explicit(&b->rings, 1, memory_order_seq_cst);
	futex(&b->rings, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
	shared = atomic_load_explicit(&b->sleeping_on, memory_order_seq_cst);
	if (shared)
		futex(shared, FUTEX_WAKE, INT_MAX, NULL);
	errno = saved;
}

int wait_rang(const struct wait_for *wf)
{
	/* seq_cst: pairs with the seq_cst increment in wait_bell_ring(). */
	return wf->bell &&
	       atomic_load_explicit(&wf->bell->rings, memory_order_seq_cst) !=
	       wf->rings_seen;
}

/* FUTEX_WAIT on word while it holds val, for ns: 1 woken, 0 (the word
 * differed, the time ran out) or -EINTR. */
static int sleep_word(_Atomic uint32_t *word, int op, uint32_t val,
		      uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	if (futex(word, op, val, &ts) == 0)
		return 1;
	return errno == EINTR ? -EINTR : 0;
}

/* Without futex_waitv: sleeps on the channel's word alone, telling the
 * bell where, so that a ring wakes it (the Dekker pair of
 * wait_bell_ring()). */
static int sleep_shared(_Atomic uint32_t *word, uint32_t val,
			const struct wait_for *wf, uint64_t ns)
{
	int r = 0;

	atomic_store_explicit(&wf->bell->sleeping_on, word, memory_order_seq_cst);
	if (!wait_rang(wf))
		r = sleep_word(word, FUTEX_WAIT, val, ns);
	atomic_store_explicit(&wf->bell->sleeping_on, NULL, memory_order_relaxed);
	return r;
}

/* Sleeps until the channel's futex `word` leaves `val`, the bell (if
 * any) rings, a signal handler runs or ns pass. Returns 1 woken, 0 or
 * -EINTR. */
static int sleep_words(_Atomic uint32_t *word, uint32_t val,
		       const struct wait_for *wf, uint64_t ns)
{
	struct waitv w[2];
	int r;

	if (!wf->bell) /* nobody rings: the channel's word alone */
		return sleep_word(word, FUTEX_WAIT, val, ns);
	waitv_set(&w[0], &wf->bell->rings, wf->rings_seen, WAITV_PRIVATE);
	waitv_set(&w[1], word, val, 0);
	r = sleep_waitv(w, 2, ns);
	if (r != -ENOSYS)
		return r == -EINTR || r == 1 ? r : 0;
	return sleep_shared(word, val, wf, ns);
}

/*
 * Adaptive readers, within their spin budget: up to WATCH_LOOKS relaxed
 * loads of message pos's stamp (a hint only: the read that follows
 * acquires it), stopping at the first that may say something (complete,
 * or a later message: lapped). While the slot stays as it was, the loads
 * hit the reader's own cached copy and cost the producer nothing, and
 * each look also touches the slot's other cache lines (slot_touch()).
 * While the producer is inside the slot (writing(pos)) the reader only
 * pauses between looks, so that it does not pull lines away from the
 * stores that will complete it. Returns 1 when the stamp said
 * complete(pos) or a later message (read now), 0 when the looks ran out.
 */
int wait_watch(const _Atomic uint64_t *slot, uint32_t slot_words, uint64_t pos)
{
	uint64_t done = stamp_complete(pos), st;
	unsigned k;

	for (k = 0; k < WATCH_LOOKS; k++) {
		st = atomic_load_explicit(&slot[SLOT_W_STAMP], memory_order_relaxed);
		/* complete(pos), or a later message's stamp (lapped);
		 * writing(pos) = done + 1 is neither */
		if (st == done || st > stamp_writing(pos))
			return 1;
		if (st == stamp_writing(pos)) {
			cpu_relax();
			continue;
		}
		slot_touch(slot, slot_words);
	}
	return 0;
}

/*
 * One look of wait_hold(): 1 to pause on, 0 to end the hold. It ends
 * with the write count w `distance` past pos, or when the count moved
 * by fewer than WAIT_HOLD_FLOOD messages in WAIT_HOLD_STILL looks (a
 * producer that slow, or stopped, is no flood: what is there is read
 * at once), or after WAIT_HOLD_LOOKS looks. The rate is the one of 4
 * messages a look that this replaced, taken over 4 looks: a batch
 * publisher moves its count a batch at a time, a batch's time apart,
 * and a look about 100 ns after the one before (4 pauses of 25 ns on an
 * AMD EPYC) often found it still between two batches of 32. That ended
 * the hold of a reader in views at its heels at its first look, and the
 * reader stayed there (delivered 97-111 M msgs/s, 227-237 with this
 * rule; README.md, "Performance"). A batch publisher whose count moves
 * less often than every WAIT_HOLD_STILL looks still ends it.
 */
int wait_hold_look(struct hold_watch *hw, uint64_t w, uint64_t pos,
		   uint64_t distance)
{
	hw->looks++;
	if (w - hw->base >= WAIT_HOLD_FLOOD) {
		hw->base = w;
		hw->base_look = hw->looks;
	} else if (hw->looks - hw->base_look >= WAIT_HOLD_STILL) {
		hw->still = 1;
		return 0;
	}
	/* Unsigned: a count behind pos (the reader inside a batch whose
	 * stamps went before its count) is taken as far ahead, and the
	 * reader is not held there (a hold at a later position, past the
	 * batch, is). */
	return hw->looks < WAIT_HOLD_LOOKS && w - pos < distance;
}

/*
 * Readers behind a producer that streams (sub.c hold_back()): pauses
 * (WAIT_HOLD_PAUSES at a time) and looks at the write count while
 * wait_hold_look() says so. Relaxed loads: only a distance and a rate,
 * one look per step rather than a load per pause, for each takes the
 * count's line from the producer; the messages are read by their
 * stamps (acquire, pairing with the producer's release store of each
 * complete stamp). A forged count can make the wait last its
 * WAIT_HOLD_LOOKS looks, no more. Returns the looks taken.
 */
unsigned wait_hold(const _Atomic uint64_t *write_num, uint64_t pos,
		   uint64_t distance, int *still)
{
	struct hold_watch hw = { 0, 0, 0, 0 };
	uint64_t w = atomic_load_explicit(write_num, memory_order_relaxed);

	*still = 0;
	if (w - pos >= distance) /* unsigned, as in wait_hold_look() */
		return 0;
	hw.base = w;
	do {
		unsigned i;

		for (i = 0; i < WAIT_HOLD_PAUSES; i++)
			cpu_relax();
		w = atomic_load_explicit(write_num, memory_order_relaxed);
	} while (wait_hold_look(&hw, w, pos, distance));
	*still = hw.still;
	return hw.looks;
}

/* Bumps a shared futex word and wakes up to `count` of its sleepers.
 * Returns the number woken. */
static long wake(_Atomic uint32_t *word, int count)
{
	/* Release: a reader whose acquire load of the word sees the bump also
	 * sees the message published (or the state stored) before it. */
	atomic_fetch_add_explicit(word, 1, memory_order_release);
	return futex(word, FUTEX_WAKE, (uint32_t)count, NULL);
}

long wait_wake_counted(const struct seg_map *m, uint32_t counted,
		       int *crowded, uint32_t *to_nudger)
{
	uint32_t again;
	long woken;

	/* seq_cst bump, then the count again (seq_cst): a reader that
	 * counted itself after the caller's load is in this count, or loads
	 * the bumped word (seq_cst, sleep_on()) and so queues, if at all,
	 * behind every sleeper of the old value (the kernel compares the
	 * value under its lock), all of them in this count (race review of
	 * 9f88c30: one counted after the load and queued ahead of a counted
	 * one took its wake, which slept 100 ms). */
	atomic_fetch_add_explicit(&m->hdr->wake_seq, 1, memory_order_seq_cst);
	*crowded = 0;
	*to_nudger = 0;
	if (counted == UINT32_MAX)
		return futex(&m->hdr->wake_seq, FUTEX_WAKE, INT_MAX, NULL);
	again = waiters_count(atomic_load_explicit(&m->tab->waiters,
						   memory_order_seq_cst));
	if (again > counted)
		counted = again;
	if (counted > wait_count_max(m))
		counted = wait_count_max(m);
	/* more than the publishing thread wakes: the first in the queue
	 * now, every counted one again by the nudger (pub_nudge.c
	 * sweep_left(); race review of d496be0: the one more woken and a
	 * sweep of 32 then took 33 counted readers for a crowd, and left
	 * them 200 ms) */
	if (counted > WAIT_WAKE_DIRECT_MAX) {
		*to_nudger = counted;
		return futex(&m->hdr->wake_seq, FUTEX_WAKE,
			     WAIT_WAKE_DIRECT_MAX, NULL);
	}
	/* one more than counted: woken only when a thread nobody counted
	 * was queued too, which may have been ahead of a counted one */
	woken = futex(&m->hdr->wake_seq, FUTEX_WAKE, counted + 1, NULL);
	*crowded = woken > (long)counted;
	return woken;
}

long wait_sweep(struct seg_header *h, int count)
{
	/* no bump: a reader passed over still sleeps on a value the
	 * counted wake moved, and wakes to find it moved */
	return futex(&h->wake_seq, FUTEX_WAKE, (uint32_t)count, NULL);
}

void wait_wake_all(struct seg_header *h)
{
	(void)wake(&h->wake_seq, INT_MAX);
	(void)wake(&h->nudge_seq, INT_MAX);
}

long wait_wake_anonymous(struct seg_header *h)
{
	return wake(&h->nudge_seq, WAIT_NUDGE_WAKE_MAX);
}

long wait_wake_anonymous_more(struct seg_header *h, int count)
{
	/* No bump: it tells nothing new. A sleeper it wakes looks at
	 * write_num itself (acquire), and one that slept on the word the
	 * look's bump left finds it unchanged: a wake for nothing. */
	return futex(&h->nudge_seq, FUTEX_WAKE, (uint32_t)count, NULL);
}

void wait_wake_anonymous_first(struct seg_header *h)
{
	(void)wake(&h->nudge_seq, WAKE_ANON_FIRST);
}

void wait_nudger_kick(_Atomic uint32_t *kick)
{
	/* Release: pairs with the nudger's acquire load of the word before
	 * each of its looks (pub_nudge.c nudger()), after which it sees a
	 * sweep asked for and looks at write_num. */
	atomic_fetch_add_explicit(kick, 1, memory_order_release);
	futex(kick, FUTEX_WAKE_PRIVATE, 1, NULL);
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
 * producer's seq_cst load in pub.c advance_slow(), and a repair whose
 * acquire load of waiters sees this count also sees the flag set,
 * cons_repair_waiters()). A kill between the two steps leaves a flag set,
 * which the reclaimer of the dead entry clears and the repair then counts
 * right (consumers.c). */
static void announce_waiter(struct seg_table_header *t, const struct wait_for *wf)
{
	atomic_store_explicit(wf->waiting, wf->waiting_tag, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->waiters, WAITERS_ONE, memory_order_seq_cst);
}

/*
 * Before a registered reader's first sleep: arms its entry so that the
 * producer makes every publish visible to the Dekker pair (see the top of
 * this file). Returns how long this sleep may last: ns, or less while the
 * arm settles, until ARM_SETTLE_NS after the bump: a publish whose load
 * of armed_seq came before the bump may still have its write_num store
 * in the producer's store buffer, and the look after a sleep that ended
 * by then sees it (doc/protocol.md, "Waiting"). Every sleep until then
 * is capped, not the first alone: one cut short (a wake for an earlier
 * message, or anyone's FUTEX_WAKE) would otherwise be followed by one of
 * 100 ms before the store was seen.
 */
static uint64_t arm(const struct seg_map *m, const struct wait_for *wf,
		    uint64_t ns)
{
	struct wait_state *ws = wf->state;
	uint64_t now, left;

	/* Relaxed: only we store our tag; a reclaimer or a hostile writer
	 * that changed it makes us arm again. */
	if (wf->armed &&
	    atomic_load_explicit(wf->armed, memory_order_relaxed) != wf->waiting_tag) {
		atomic_store_explicit(wf->armed, wf->waiting_tag,
				      memory_order_relaxed);
		/* seq_cst, and release for the flag above: pairs with the
		 * producer's acquire fence after it saw the count move (pub.c
		 * recount()). */
		atomic_fetch_add_explicit(&m->tab->armed_seq, 1,
					  memory_order_seq_cst);
		ws->settle_until = clock_mono_ns() + ARM_SETTLE_NS;
	}
	if (!ws->settle_until)
		return ns;
	now = clock_mono_ns();
	if (now >= ws->settle_until) {
		ws->settle_until = 0;
		return ns;
	}
	left = ws->settle_until - now;
	return ns < left ? ns : left;
}

/* Whether anything the reader waits for happened. Called after the
 * acquire load of wake_seq: a change made before a wake that bumped the
 * value we loaded is visible here; one made after it comes with another
 * bump, which makes FUTEX_WAIT return at once. */
static int changed(const struct seg_header *h, const struct wait_for *wf)
{
	uint32_t st;

	/* Dekker, reader side: seq_cst, pairs with the producer's seq_cst
	 * exchange of write_num (pub.c publish_count()). */
	if (atomic_load_explicit(&h->write_num, memory_order_seq_cst) > wf->pos)
		return 1;
	/* Pairs with the release stores of pub_state (a replacer's of
	 * REPLACED; any, for a reader that watches them all). */
	st = atomic_load_explicit(&h->pub_state, memory_order_acquire);
	if (st == SEG_PUB_REPLACED || (wf->watch_pub_state && st != wf->pub_state))
		return 1;
	if (wait_rang(wf))
		return 1;
	/* Pairs with the evicting producer's release CAS (pub.c). */
	return wf->entry_state &&
	       atomic_load_explicit(wf->entry_state, memory_order_acquire) !=
	       wf->entry_word;
}

/* How a reader that cannot announce itself may sleep (nap_kind()). */
enum nap { NAP_POLL, NAP_LONG, NAP_NUDGED };

/*
 * A reader that cannot announce itself may sleep as long as an announced
 * one when somebody wakes it for every message, else POLL_NS. Somebody
 * does when no publisher is active (NAP_LONG: the next one wakes every
 * sleeper when it starts, pub.c announce()), and when the active
 * publisher runs a nudger (NAP_NUDGED: its promise in the header,
 * pub_nudge.c; it wakes the nudge_seq word). A publisher that died while
 * active (not told apart here: that takes /proc) was either nudging or
 * gets 1 ms naps. Called after the acquire loads of the futex words and
 * before changed(): a promise seen here covers every message that
 * changed() does not see (pub_nudge_start()).
 */
static enum nap nap_kind(const struct seg_header *h)
{
	/* Acquire pairs with the release stores of pub_state. */
	if (atomic_load_explicit(&h->pub_state, memory_order_acquire) != SEG_PUB_ACTIVE)
		return NAP_LONG;
	/* Acquire pairs with the release store of the promise in
	 * pub_nudge_start(): nudge_pid is the promiser's. */
	if (atomic_load_explicit(&h->nudge_ns, memory_order_acquire) == 0)
		return NAP_POLL;
	/* The promise of a nudging publisher that died, left under a
	 * publisher that does not know of it (an older library), is not its
	 * own. pub_pid: acquire, pairs with its release store (pub.c
	 * announce()). */
	return atomic_load_explicit(&h->nudge_pid, memory_order_relaxed) ==
	       atomic_load_explicit(&h->pub_pid, memory_order_acquire)
	       ? NAP_NUDGED : NAP_POLL;
}

/* Nudged: sleeps on wake_seq (the producer's wakes and state changes)
 * and nudge_seq (the nudger's) at once, and the bell if any. -ENOSYS
 * without futex_waitv(2). */
static int sleep_nudged(struct seg_header *h, uint32_t seq, uint32_t nseq,
			const struct wait_for *wf, uint64_t ns)
{
	struct waitv w[3];
	unsigned n = 0;

	if (wf->bell)
		waitv_set(&w[n++], &wf->bell->rings, wf->rings_seen, WAITV_PRIVATE);
	waitv_set(&w[n++], &h->wake_seq, seq, 0);
	waitv_set(&w[n++], &h->nudge_seq, nseq, 0);
	return sleep_waitv(w, n, ns);
}

/*
 * The publisher's nudger when idle (pub_nudge.c): a Dekker pair of its
 * own with the producer, through the data file, which only the publisher
 * writes. It has loaded its kick word (acquire: `seen`, before its look
 * at a sweep asked for), sets nudge_waiting (seq_cst), then looks at
 * write_num (seq_cst, changed()) and at its bell; the
 * producer exchanges write_num, then loads nudge_waiting (seq_cst, pub.c
 * advance_slow()). Either it sees the message and does not sleep, or the
 * producer sees the flag and kicks it (wait_nudger_kick()). The kick word
 * is in the publisher's own memory (a private futex): no other process
 * can sleep on it, take the producer's wake from the nudger or make it
 * cost more than one thread's wake-up. The consumer table is left
 * alone: no count to repair, and no access that a remap of the table
 * (seg_table_restore(), the SIGBUS guard) races.
 */
int wait_nudger_idle(const struct seg_map *m, uint64_t last,
		     struct wait_bell *bell, _Atomic uint32_t *kick,
		     uint32_t seen)
{
	struct seg_header *h = m->hdr;
	struct wait_for wf = { .pos = last, .bell = bell };
	int r = 0;

	atomic_store_explicit(&h->nudge_waiting, 1, memory_order_seq_cst);
	if (!changed(h, &wf))
		r = sleep_word(kick, FUTEX_WAIT_PRIVATE, seen, SLEEP_MAX_NS);
	/* Relaxed: a producer that still sees 1 makes one futile wake. */
	atomic_store_explicit(&h->nudge_waiting, 0, memory_order_relaxed);
	return r < 0 ? r : 0;
}

/* The channel's futex words a sleep slept on, and the value of each it
 * slept at (what moved_off() and woken_for_nothing() look at). */
struct slept_on {
	const _Atomic uint32_t *word[2];
	uint32_t val[2];
	unsigned n;
};

static void slept_add(struct slept_on *so, const _Atomic uint32_t *word,
		      uint32_t val)
{
	so->word[so->n] = word;
	so->val[so->n++] = val;
}

/* Whether a word slept on moved since. Relaxed: hints, as changed()
 * decides. */
static int slept_moved(const struct slept_on *so)
{
	unsigned i;

	for (i = 0; i < so->n; i++)
		if (atomic_load_explicit(so->word[i], memory_order_relaxed) !=
		    so->val[i])
			return 1;
	return 0;
}

/*
 * A registered reader's sleep once a wake was missed (sleep_on()): on
 * wake_seq and the nudger's word at once when `kind` says the active
 * publisher's nudger promises its wakes, else on wake_seq for at most
 * POLL_NS while a publisher is active. Fills *so. Returns 1 woken, 0 or
 * -EINTR.
 */
static int sleep_wary(struct seg_header *h, uint32_t seq, uint32_t nseq,
		      enum nap kind, const struct wait_for *wf, uint64_t ns,
		      struct slept_on *so)
{
	int r;

	slept_add(so, &h->wake_seq, seq);
	if (kind == NAP_NUDGED) {
		r = sleep_nudged(h, seq, nseq, wf, ns);
		if (r != -ENOSYS) {
			slept_add(so, &h->nudge_seq, nseq);
			return r == -EINTR || r == 1 ? r : 0;
		}
		kind = NAP_POLL;
	}
	return sleep_words(&h->wake_seq, seq, wf,
			   kind == NAP_POLL && ns > POLL_NS ? POLL_NS : ns);
}

/*
 * Whether a sleep that ended woken was woken for nothing: no futex word
 * it slept on moved, and nothing the reader waits for happened. The
 * producer and the nudger bump a word before each wake (wake()) and a
 * ring bumps the bell, but anyone who maps the data file, read-only, may
 * FUTEX_WAKE its words at will: an attack run woke every sleeping reader
 * of a channel in a loop, each then using 46% of a CPU.
 */
static int woken_for_nothing(const struct seg_header *h,
			     const struct wait_for *wf,
			     const struct slept_on *so)
{
	return !slept_moved(so) && !changed(h, wf);
}

/*
 * After a wake for nothing: a pause of UNWOKEN_PAUSE_NS (ns if less: the
 * read's time left) that no other process can cut short (on the
 * handle's private bell, which a ring does, or a plain sleep), so that a
 * waker in a loop costs a sleeping reader one look a millisecond
 * (tests/lib/t_fakewake.c), and a message meanwhile at most that much
 * latency. Returns 0 or -EINTR. On the bell with futex_waitv(2), as the
 * sleep it follows: the kernel restarts it after a handler installed
 * with SA_RESTART, where it never restarts a FUTEX_WAIT with a timeout
 * (-EINTR at once), so that a reader under a waker's loop, in this pause
 * most of the time, would end its read with -EINTR at nearly every such
 * signal (libmdbus(3) says it goes on).
 */
static int pause_unwoken(const struct wait_for *wf, uint64_t ns)
{
	struct timespec ts;
	struct waitv w;
	int r;

	if (ns > UNWOKEN_PAUSE_NS)
		ns = UNWOKEN_PAUSE_NS;
	if (wf->bell) {
		waitv_set(&w, &wf->bell->rings, wf->rings_seen, WAITV_PRIVATE);
		r = sleep_waitv(&w, 1, ns);
		if (r == -ENOSYS)
			r = sleep_word(&wf->bell->rings, FUTEX_WAIT_PRIVATE,
				       wf->rings_seen, ns);
		return r == -EINTR ? -EINTR : 0;
	}
	ts.tv_sec = 0;
	ts.tv_nsec = (long)ns;
	return clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) == EINTR ? -EINTR : 0;
}

/*
 * Whether a sleep of len on the words of *so that returned r ran to its
 * end while a word it slept on moved: whoever bumped it woke the word
 * after (wake()), and a sleeper still queued on it would have been
 * woken. Anyone who maps the data file, read-only, may FUTEX_CMP_REQUEUE
 * the sleepers of a word onto a futex of his own, where no wake of the
 * producer finds them: each then slept out its SLEEP_MAX_NS past the
 * messages (attack run: mdsub -w block at 20 msg/s, latency p50 56 us ->
 * 17.3 ms, max 67 ms). Or he parks threads of his on wake_seq ahead of
 * the reader, and the producer's wake of as many as are counted reaches
 * his (wait_wake_counted(); tests/lib/t_herd). Marked on the handle,
 * whose sleeps last POLL_NS at most (sleep_step()), the cost of a waker
 * in a loop (pause_unwoken()), until REQUEUED_HOLD_NS after the last
 * found: a word bumped just after a sleep's own end looks the same, and
 * would otherwise cost the handle 1 ms naps for good.
 */
static int moved_off(int r, uint64_t slept, uint64_t len,
		     const struct slept_on *so)
{
	return r == 0 && slept >= len && slept_moved(so);
}

/*
 * What a sleep of up to ns on the words of *so that returned r comes
 * to: r, or after the second wake for nothing in a row, the pause's. A
 * single one is innocent: the producer bumps wake_seq, then wakes, and a
 * reader that read the message meanwhile and went to sleep on the bumped
 * word is woken by that wake for nothing (as is one asleep on nudge_seq
 * by the nudger's, and one on wake_seq by the nudger's sweep); a second
 * needs a waker that bumps nothing (review of d136d13). A bell's count
 * says how many in a row (the sleeping thread's own word), at one
 * position: a message read since starts it again, as a sleep that a bump
 * ended does. Without that, a first wake for nothing (routine since the
 * nudger's deep wakes, pub_nudge.c wake_look()) followed by a message
 * read without another sleep (one that landed just after the wake, or
 * after an -EINTR) paired with the next routine one into a pause (review
 * of 1154fb0; tests/lib/t_wakeonce.c). Only messages move the position:
 * a waker in a loop cannot start the count again. Without a bell, each
 * pauses.
 */
static int after_sleep(const struct seg_header *h, const struct wait_for *wf,
		       int r, const struct slept_on *so, uint64_t ns)
{
	struct wait_bell *b = wf->bell;

	if (r < 0)
		return r;
	if (r == 0 || !woken_for_nothing(h, wf, so)) {
		if (b)
			b->unwoken = 0;
		return r;
	}
	if (!b)
		return pause_unwoken(wf, ns);
	if (b->unwoken_pos != wf->pos) {
		b->unwoken_pos = wf->pos;
		b->unwoken = 0;
	}
	if (b->unwoken++ == 0)
		return r;
	return pause_unwoken(wf, ns);
}

/*
 * Whether an anonymous reader woken from a sleep on nudge_seq at `nseq`
 * was passed over: the word moved by PASSED_OVER_BUMPS or more, so the
 * nudger's wakes of as many looks (one bump each, a look a millisecond
 * at most) went to sleepers queued ahead of it, more than its wakes
 * reach (pub_nudge.c wake_look(): 32 a look and a ration), parked
 * threads or other readers. Its turn then comes back when those woken
 * ahead of it have gone back to sleep behind it, often within its
 * sleep's 100 ms, so that its sleeps never run to their end and it is
 * never found moved off (an attack run of 1154fb0: 3000 threads parked
 * at 2000 msg/s, an anonymous blocking reader's p50 38 ms). It naps from
 * then on as one moved off does: 1 ms at most, until 10 s after the
 * last time (t_herd). Only under a nudging publisher: otherwise nobody
 * bumps the word at each look. Relaxed: a hint.
 */
static int passed_over_anonymous(const struct seg_header *h, int r,
				 uint32_t nseq, enum nap kind)
{
	return r == 1 && kind == NAP_NUDGED &&
	       (uint32_t)(atomic_load_explicit(&h->nudge_seq,
					       memory_order_relaxed) - nseq) >=
		       PASSED_OVER_BUMPS;
}

/*
 * A reader without an entry cannot announce itself, so the producer does
 * not wake it; it sleeps on nudge_seq alone (readable in its read-only
 * mapping), as long as nap_kind() allows, woken by the nudger or a state
 * change (wait_wake_all() wakes both words). Never on wake_seq: the
 * producer wakes as many sleepers of it as are counted (the announced
 * readers), and one uncounted there ahead of them would take a counted
 * one's wake.
 */
static int poll_sleep(const struct seg_map *m, const struct wait_for *wf,
		      uint64_t ns)
{
	struct seg_header *h = m->hdr;
	/* Acquire pairs with the release bump in wake(). */
	uint32_t nseq = atomic_load_explicit(&h->nudge_seq, memory_order_acquire);
	enum nap kind = nap_kind(h);
	struct slept_on so = { .n = 0 };
	uint64_t t0;
	int r;

	if (changed(h, wf))
		return 0;
	if (kind == NAP_POLL && ns > POLL_NS)
		ns = POLL_NS;
	slept_add(&so, &h->nudge_seq, nseq);
	t0 = clock_mono_ns();
	r = sleep_words(&h->nudge_seq, nseq, wf, ns);
	/* a nap of a reader nobody promises to wake is never judged */
	if (kind != NAP_POLL &&
	    (moved_off(r, clock_mono_ns() - t0, ns, &so) ||
	     passed_over_anonymous(h, r, nseq, kind)))
		wf->state->requeued_until = clock_mono_ns() + REQUEUED_HOLD_NS;
	return after_sleep(h, wf, r, &so, ns);
}

/*
 * Whether a registered reader woken from a sleep on wake_seq at `seq` was
 * passed over: the word moved by PASSED_OVER_BUMPS or more, so wakes
 * before the one that woke it went to other sleepers, nobody counted
 * queued ahead of it (the kernel wakes in arrival order, the producer
 * one more than are counted; or a burst's publishes came before the
 * reader ran: with 2, a second message 0.3 ms after the first, under
 * ASan, made t_waiters' registered reader wary and woke it for a nudge).
 * Fewer threads parked than a crowd's 32 are swept at once; more make a
 * reader's turn come back every 16 publishes or more.
 * Threads parked so that a reader's turn came every N/2 publishes, under
 * its sleep's 100 ms, kept it that late for good, never moved off (attack
 * run: 36 threads at 200 msg/s, p50 35 ms). Such a reader sleeps warily
 * from then on (sleep_wary()): on the nudger's word too, which the nudger
 * wakes at each look while messages flow. Only under a nudging
 * publisher: without one the producer wakes every sleeper, and a wary
 * reader there naps 1 ms. Relaxed: hints.
 */
static int passed_over(const struct seg_header *h, uint32_t seq)
{
	return (uint32_t)(atomic_load_explicit(&h->wake_seq,
					       memory_order_relaxed) - seq) >=
		       PASSED_OVER_BUMPS &&
	       nap_kind(h) == NAP_NUDGED;
}

/*
 * Sleeps on the futex until woken, something changed() or ns pass. The
 * sleep is capped so that a reader also notices state changes nobody
 * woke it for (e.g. a publisher killed with SIGKILL). The futex word is in
 * the data file, which readers map read-only: FUTEX_WAIT only reads it.
 * A sleep of at least WARY_NS that ended at least WARY_NS after it began
 * with wake_seq unmoved and finds a message published past its position
 * may not have been woken for it: the Dekker pair wakes every announced
 * sleeper, unless someone lowered the waiter count in the table. Or the
 * producer stored write_num (step 4) and has not bumped wake_seq yet
 * (step 5), as one preempted between them: so it is judged at the next
 * sleep, after the message was read: wake_seq still unmoved, nobody woke
 * us for it, and from then on the handle sleeps warily (sleep_wary()).
 * Judged at once, such a late bump made a handle wary for good, 1 ms naps
 * on a channel without a nudger (race review). Wakes for nothing are
 * followed by a pause (after_sleep()). Returns 1 woken, 0 or -EINTR.
 */
static int sleep_on(const struct seg_map *m, const struct wait_for *wf,
		    uint64_t ns)
{
	struct seg_header *h = m->hdr;
	struct wait_state *ws = wf->state;
	enum nap kind = NAP_LONG;
	struct slept_on so = { .n = 0 };
	uint32_t seq, nseq = 0;
	uint64_t t0, full = ns;
	int r = 0, wary, settling;

	if (ws->suspect) {
		/* Relaxed: a hint, as the loads that raised the suspicion. */
		ws->missed = atomic_load_explicit(&h->wake_seq,
						  memory_order_relaxed) ==
			     ws->suspect_seq;
		ws->suspect = 0;
	}
	wary = ws->missed;
	ns = arm(m, wf, full);
	settling = ns < full; /* capped while the arm settles: not judged */
	announce_waiter(m->tab, wf);
	/* seq_cst, and acquire: pairs with the seq_cst bump in
	 * wait_wake_counted() (a count after it sees the bump), and with the
	 * release bumps in wake() (and in wait_wake_anonymous() for
	 * nudge_seq). */
	seq = atomic_load_explicit(&h->wake_seq, memory_order_seq_cst);
	if (wary) {
		nseq = atomic_load_explicit(&h->nudge_seq, memory_order_acquire);
		kind = nap_kind(h); /* before changed(), as poll_sleep() */
	}
	if (!changed(h, wf)) {
		t0 = clock_mono_ns();
		if (wary) {
			r = sleep_wary(h, seq, nseq, kind, wf, ns, &so);
		} else {
			slept_add(&so, &h->wake_seq, seq);
			r = sleep_words(&h->wake_seq, seq, wf, ns);
		}
		if (!settling && (!wary || kind != NAP_POLL) &&
		    moved_off(r, clock_mono_ns() - t0, ns, &so))
			ws->requeued_until = clock_mono_ns() + REQUEUED_HOLD_NS;
		if (r == 1 && !wary && passed_over(h, seq))
			ws->missed = 1;
		/* Relaxed: hints; the read that follows acquires. Not
		 * "ran its whole length": anyone who maps the data file may
		 * FUTEX_WAKE wake_seq without changing it, and a sleep so
		 * cut short before its end was never counted a miss. A
		 * wake_seq that did not move says the producer did not wake
		 * us: it bumps the word at each wake. */
		if (r >= 0 && !wary && ns >= WARY_NS &&
		    clock_mono_ns() - t0 >= WARY_NS &&
		    atomic_load_explicit(&h->write_num, memory_order_relaxed) > wf->pos &&
		    atomic_load_explicit(&h->wake_seq, memory_order_relaxed) == seq &&
		    !wait_rang(wf)) {
			ws->suspect = 1;
			ws->suspect_seq = seq;
		}
	}
	retire_waiter(m->tab, wf);
	return after_sleep(h, wf, r, &so, ns);
}

/* A sleep, announced or not: 1 when it is worth looking again, or
 * -ETIMEDOUT or -EINTR. */
static int sleep_step(const struct seg_map *m, const struct wait_for *wf,
		      uint64_t deadline_ns)
{
	uint64_t ns = sleep_length(deadline_ns);
	int r;

	if (ns == 0)
		return -ETIMEDOUT;
	if (wf->state->requeued_until && ns > POLL_NS &&
	    clock_mono_ns() < wf->state->requeued_until)
		ns = POLL_NS; /* moved off the words lately: moved_off() */
	r = wf->waiting ? sleep_on(m, wf, ns) : poll_sleep(m, wf, ns);
	return r < 0 ? r : 1;
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
	if (wait_rang(wf))
		return -EINTR;
	if (strategy == MDBUS_WAIT_ADAPTIVE)
		return adaptive_step(m, wf, round, deadline_ns);
	if (strategy == MDBUS_WAIT_SPIN) {
		/* every round: a round includes the reader's 256 looks at
		 * the slot (sub.c spin_read()), far more than a clock read */
		if (deadline_ns != UINT64_MAX && clock_mono_ns() >= deadline_ns)
			return -ETIMEDOUT;
		return 0;
	}
	if (strategy == MDBUS_WAIT_YIELD) {
		if (sleep_length(deadline_ns) == 0)
			return -ETIMEDOUT;
		sched_yield();
		return 1;
	}
	return sleep_step(m, wf, deadline_ns);
}

int wait_ready(const struct seg_map *m, const struct wait_for *wf)
{
	/* Acquire: pairs with the release bump in wake(), as in sleep_on(). */
	(void)atomic_load_explicit(&m->hdr->wake_seq, memory_order_acquire);
	return changed(m->hdr, wf);
}

void wait_bell_sleep(struct wait_bell *b, uint32_t seen, uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	/* FUTEX_WAIT returns at once when a ring changed the word since
	 * `seen`, and wait_bell_ring() wakes it after changing it. */
	(void)futex(&b->rings, FUTEX_WAIT_PRIVATE, seen, &ts);
}
