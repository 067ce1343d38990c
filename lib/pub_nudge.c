/*
 * pub_nudge.c - the publisher's nudger (doc/protocol.md, "Waiting";
 * libmdbus(3), "Waiting"): a helper thread in the publisher's process
 * that wakes the readers who cannot announce themselves (anonymous ones,
 * and readers without write access to the consumer table), so that they
 * sleep on the futex words instead of napping 1 ms at a time.
 *
 * While messages flow it ticks every NUDGE_NS: when write_num moved since
 * its last look it bumps nudge_seq and wakes the sleepers on it, 32 at
 * once and then as many more as a ration allows (wake_look() below; wait.c
 * wait_wake_anonymous(): the anonymous ones, which sleep on it alone;
 * registered sleepers wait on wake_seq alone and never wake for a nudge,
 * unless a wake they missed made them wary, wait.c sleep_on()). A tick
 * without a message makes it idle: it sleeps on `kick`, a word in this
 * process's memory, with a Dekker pair of its own with the producer's
 * exchange (wait.c wait_nudger_idle(): the header's nudge_waiting, which
 * only the publisher writes, then write_num checked once more; the
 * consumer table is left alone), so that the producer's first message
 * kicks it (wait_nudger_kick()), and it wakes the anonymous sleepers at
 * its next look, at once (the producer wakes the first few itself,
 * wait.c wait_wake_anonymous_first()). No other process can sleep on `kick`: the
 * publishing thread's kick wakes one thread whoever parks threads on
 * the channel's words (tests/lib/t_herd). When the producer asks, it
 * also sweeps wake_seq (wait.c wait_sweep()): the producer wakes one
 * more of its sleepers than are counted, and when that one woke too,
 * threads nobody counted sleep there and may have been ahead of a
 * counted reader, whose wake they took; the sweep wakes it, on this
 * thread, which parked threads then cost a wake-up each (as on
 * nudge_seq), not the publishing one, five times a second at most once
 * sweeps find a crowd (sweep_when_due()). When more than 8 readers are
 * counted asleep there, the producer wakes 8 and the nudger all of them
 * (sweep_left()), a wake-up later. An idle publisher's nudger
 * therefore costs nothing but a wake-up every 100 ms; a publishing
 * thread pays one FUTEX_WAKE per message only while the nudger sleeps,
 * and nothing while messages come faster than a tick.
 *
 * It promises its interval in the header (nudge_ns, nudge_pid) while it
 * runs: anonymous readers sleep long only on that promise, made by the
 * publisher that is active now. The flag and the promise live in the data
 * file, which only the publisher writes, so no reader can forge or clear
 * them, and the nudger never touches the consumer table: it takes no
 * entry (it never gates a lossless producer) and no count.
 *
 * The thread blocks every signal but the synchronous ones (the table
 * guard's SIGBUS among them, table_guard.c), so that signals meant for
 * the application go to its threads. A fork()ed child has no nudger: the
 * parent's keeps running for the parent's handle.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define NUDGE_NS 1000000ULL      /* the promised interval: 1 ms */
#define SWEEP_CROWD 32           /* a sweep that woke more woke a crowd
				    (sweep_when_due()) */
#define SWEEP_CROWD_GAP 200000000ULL /* sweeps then this far apart:
				        200 ms, past a reader's longest
				        sleep (wait.c SLEEP_MAX_NS), */
#define SWEEP_CROWD_HOLD 10000000000ULL /* until 10 s after the last crowd */
#define NUDGE_MORE_LOOKS 3     /* looks that wake on after one whose
				  wakes left sleepers (nudger()) */
#define NUDGE_DEEP_NS 100000ULL /* wake_look(): a wake-up past a look's
				  first WAIT_NUDGE_WAKE_MAX costs this much
				  of the ration, 10 000 a second, */
#define NUDGE_DEEP_MAX 4096u   /* which holds this many at most */
#define NUDGER_NAME "mdbus-nudge" /* in /proc/PID/task/TID/comm */

struct pub_nudge {
	pthread_t thread;
	struct seg_map m;        /* a copy: valid until the thread is joined */
	struct wait_bell bell;   /* rung once: stop */
	_Atomic uint32_t kick;   /* the idle nudger's futex word (private):
				    the producer's wake, and the stop's */
	uint64_t start;          /* write_num before the promise was made */
	_Atomic uint32_t sweep_wanted; /* the producer's wake found a crowd;
				    relaxed both ways: a request, the
				    sweep's futex call reads the word */
	_Atomic uint32_t sweep_left; /* the count of readers the producer's
				    wake did not all wake (sweep_left());
				    relaxed, as sweep_wanted */
	uint64_t sweep_at;       /* CLOCK_MONOTONIC of the next sweep, */
	uint64_t crowd_until;    /* and of the end of the crowd's gaps */
	uint64_t ration_ns;      /* wake_look(): the ration, in
				    NUDGE_DEEP_NS a wake-up, */
	uint64_t ration_at;      /* as it was at this CLOCK_MONOTONIC */
	pid_t pid;               /* the process the thread runs in */
};

static int stopping(struct pub_nudge *n)
{
	/* seq_cst: pairs with the seq_cst increment in wait_bell_ring(). */
	return atomic_load_explicit(&n->bell.rings, memory_order_seq_cst) != 0;
}

static uint64_t write_count(const struct pub_nudge *n)
{
	/* Acquire pairs with the producer's exchange of write_num (pub.c
	 * advance()); no data of the message is read here, the readers we wake
	 * load it themselves. */
	return atomic_load_explicit(&n->m.hdr->write_num, memory_order_acquire);
}

/* How many wake-ups past a look's first the ration holds now: it fills
 * at one every NUDGE_DEEP_NS, up to NUDGE_DEEP_MAX. */
static int ration(struct pub_nudge *n)
{
	uint64_t now = clock_mono_ns(), full = NUDGE_DEEP_MAX * NUDGE_DEEP_NS;

	n->ration_ns += now - n->ration_at < full ? now - n->ration_at : full;
	if (n->ration_ns > full)
		n->ration_ns = full;
	n->ration_at = now;
	return (int)(n->ration_ns / NUDGE_DEEP_NS);
}

/*
 * A sweep of wake_seq: up to `want` of its first sleepers,
 * WAIT_NUDGE_WAKE_MAX and as many more as the ration holds at most (the
 * looks' ration, wake_look()), so that threads parked on wake_seq cost
 * this thread no more than those on nudge_seq (an attack run: 15 000
 * parked there and a registered reader asleep, every sleeper woken five
 * times a second, 78 000 wake-ups a second, 29-36% of a CPU). A counted
 * reader the sweep does not reach sleeps out its sleep and naps, as one
 * moved off (wait.c). Returns what wait_sweep() returned.
 */
static long sweep(struct pub_nudge *n, uint32_t want)
{
	uint32_t most = WAIT_NUDGE_WAKE_MAX + (uint32_t)ration(n);
	long woken = wait_sweep(n->m.hdr, (int)(want < most ? want : most));

	if (woken > WAIT_NUDGE_WAKE_MAX)
		n->ration_ns -= (uint64_t)(woken - WAIT_NUDGE_WAKE_MAX) *
				NUDGE_DEEP_NS;
	return woken;
}

/*
 * The counted readers when more than the producer wakes on the
 * publishing thread (wait.c wait_wake_counted()): every one of the count
 * it said, and one more, without a bump (they sleep on the value its wake
 * bumped), WAIT_NUDGE_WAKE_MAX and the ration at most (sweep()). Every
 * one, not just those it left: the kernel queues a word's real-time
 * sleepers ahead of the others, so those it woke may have gone back to
 * sleep ahead of those it left (race review of 9777ab3: 4 SCHED_FIFO
 * readers of 12, 196 of 600 reads a gap late; tests/lib/t_wakemany); the
 * readers it woke wake once for nothing. When the one more woke too,
 * threads nobody counted sleep there: a sweep as after a crowd
 * (sweep_when_due()). Before, a sweep of 32 and the ration after every
 * such wake took 33 counted readers or more for parked threads: sweeps
 * 200 ms apart, 63% of 40 readers' reads 10 ms or more late (race
 * review of d496be0). A forged count costs this thread as many, 32 and
 * the ration at most a look; readers past what the ration allows wait
 * for the next publish's wakes.
 */
static void sweep_left(struct pub_nudge *n)
{
	uint32_t count = atomic_exchange_explicit(&n->sweep_left, 0,
						  memory_order_relaxed);

	if (count && sweep(n, count + 1) > (long)count)
		atomic_store_explicit(&n->sweep_wanted, 1, memory_order_relaxed);
}

/*
 * The sweep of wake_seq the producer asked for (sweep()),
 * when due: 0 done or none asked, else the ns until it is due. One that
 * woke more than SWEEP_CROWD threads woke threads parked there, not
 * counted readers passed over (as many as that sleep on a channel only
 * while others park ahead of them): sweeps are then SWEEP_CROWD_GAP
 * apart, until SWEEP_CROWD_HOLD after the last that woke a crowd (not
 * just until a small one: parking the crowd only after each small sweep
 * made every other sweep a big one; race review), so that parked
 * threads cost this thread a wake-up each five times a second, not at
 * every publish (1000 parked: 200 000 wake-ups a second at 200 msg/s).
 * A reader they pass over then sleeps out its sleep (100 ms at most)
 * while the word moved, and naps 1 ms from then on (wait.c moved_off()),
 * until 10 s after the last time it found that: 1 ms late at most,
 * rather than a sweep's gap. 1000 parked at 200 msg/s, a blocking
 * reader's p50 and p99 over 8 s: gaps growing to 10 ms, 6.6 and 11.7 ms;
 * growing to 200 ms, 0.5 and 42-58 ms (the ramp); one gap of 200 ms,
 * 0.41-0.48 and 19-20 ms (its first sleep's messages).
 */
static uint64_t sweep_when_due(struct pub_nudge *n)
{
	uint64_t now;

	if (!atomic_load_explicit(&n->sweep_wanted, memory_order_relaxed))
		return 0;
	now = clock_mono_ns();
	if (now < n->sweep_at)
		return n->sweep_at - now;
	/* a request made from here on is answered by the sweep below, or
	 * by the next */
	atomic_store_explicit(&n->sweep_wanted, 0, memory_order_relaxed);
	if (sweep(n, UINT32_MAX) > SWEEP_CROWD)
		n->crowd_until = now + SWEEP_CROWD_HOLD;
	n->sweep_at = now < n->crowd_until ? now + SWEEP_CROWD_GAP : now;
	return 0;
}

/*
 * A look's wakes of nudge_seq: bumped, its first WAIT_NUDGE_WAKE_MAX
 * sleepers (wait_wake_anonymous()); when that woke as many, more may
 * sleep behind them, and one more wake, without a bump, wakes as many
 * as the ration holds (ration(): 10 000 a second, 4096 at once). A wake
 * wakes the sleepers queued when the kernel takes the word's lock, so
 * one that woke fewer than it asked for woke every sleeper: 300
 * anonymous readers, or a reader behind 1000 threads parked there, are
 * woken at every message while those cost less than the ration (t_herd
 * rounds 5 and 6). Before, a look woke 32 and 3 more looks as many each
 * (136 a message with the producer's 8): a reader behind more slept to
 * its 100 ms cap while the word moved, was taken for moved off (wait.c
 * moved_off()) and napped 1 ms at a time (an attack run: 200 anonymous
 * readers at 5 msg/s, no attacker, 150 of 8083 reads 50 ms or more
 * late). Threads anyone parks there cost this thread a wake-up each (an
 * attack run: 200 at 2000 msg/s woken at every look, 20% of a CPU): the
 * ration bounds them to 10 000 a second past the looks' first 32s (with
 * 20 000, 3000 parked at 2000 msg/s took this thread 15% of a CPU,
 * against 9% with none). A reader behind more than the wakes reach
 * finds the word moved by several looks when its turn comes, and naps
 * (wait.c passed_over_anonymous()).
 * Returns 1 when sleepers may be left: a wake woke all it asked for.
 */
static int wake_look(struct pub_nudge *n)
{
	long woken = wait_wake_anonymous(n->m.hdr);
	int more;

	if (woken < WAIT_NUDGE_WAKE_MAX)
		return 0;
	more = ration(n);
	if (more == 0)
		return 1;
	woken = wait_wake_anonymous_more(n->m.hdr, more);
	if (woken > 0)
		n->ration_ns -= (uint64_t)woken * NUDGE_DEEP_NS;
	return woken >= more;
}

/*
 * `last` is the write count the sleepers were last woken for. After an
 * idle sleep it is still the count from before it: the producer kicked
 * only us, and a message whose producer looked at our flag after it went
 * down was woken for by nobody, so the first look after the sleep wakes
 * the anonymous sleepers, at once.
 *
 * A look wakes the sleepers of nudge_seq (wake_look()). When its wakes
 * may have left some, the ration spent, the next NUDGE_MORE_LOOKS looks
 * wake again each, a message or not (`more`): parked threads woken go
 * back to the end of the kernel's queue, so a reader behind them comes
 * to the front in turn; what they cost is then 32 wake-ups a look and
 * 128 a message past the ration, however many park (t_herd round 4;
 * before d5ba921, 1000 parked cost 1000 a look). With 8 more looks, 64
 * parked cost 288 a message at 50 a second.
 */
static void *nudger(void *arg)
{
	struct pub_nudge *n = arg;
	uint64_t last = n->start, w, due;
	unsigned more = 0;
	uint32_t seen;

	while (!stopping(n)) {
		/* Acquire: pairs with the release bump in wait_nudger_kick():
		 * a sweep asked for before a kick this load sees is seen by
		 * sweep_left() and sweep_when_due() below, and a kick after
		 * it makes the idle
		 * sleep return at once (race review: a request made between
		 * the look and that sleep's own load of the word waited out
		 * its 100 ms). */
		seen = atomic_load_explicit(&n->kick, memory_order_acquire);
		w = write_count(n);
		sweep_left(n);
		due = sweep_when_due(n);
		if (w != last || more) {
			more = w != last ? NUDGE_MORE_LOOKS : more - 1;
			last = w;
			if (!wake_look(n))
				more = 0;
			wait_bell_sleep(&n->bell, 0, NUDGE_NS);
			continue;
		}
		if (due) { /* a sweep to make: ticks, no idle sleep, till
			    * then (a sleep to its time nudged nobody for up
			    * to 200 ms) */
			wait_bell_sleep(&n->bell, 0,
					due < NUDGE_NS ? due : NUDGE_NS);
			continue;
		}
		(void)wait_nudger_idle(&n->m, last, &n->bell, &n->kick, seen);
		/* woken for nothing (the cap, or a state no sleep waits out):
		 * a tick's pause, so that it never spins */
		if (write_count(n) == last)
			wait_bell_sleep(&n->bell, 0, NUDGE_NS);
	}
	return NULL;
}

int pub_nudge_start(struct pub_nudge **out, const struct seg_map *m)
{
	struct seg_header *h = m->hdr;
	struct pub_nudge *n = calloc(1, sizeof(*n));
	pid_t pid;
	uint64_t st;
	int r;

	*out = NULL;
	if (!n)
		return err_set(-ENOMEM, "out of memory");
	n->m = *m;
	n->start = write_count(n);
	n->ration_ns = NUDGE_DEEP_MAX * NUDGE_DEEP_NS;
	n->ration_at = clock_mono_ns();
	r = helper_thread_start(&n->thread, nudger, n, NUDGER_NAME);
	if (r < 0) {
		free(n);
		return err_set(r, "start the nudger thread: %s (or open without "
			       "MDBUS_PUB_NUDGE: anonymous readers then poll "
			       "every 1 ms)", strerror(-r));
	}
	proc_self(&pid, &st);
	n->pid = pid;
	atomic_store_explicit(&h->nudge_pid, pid, memory_order_relaxed);
	/* Release: a reader whose acquire load sees the promise sees
	 * nudge_pid, and a write_num at least n->start: messages after that
	 * the thread wakes for (wait.c nap_kind()). */
	atomic_store_explicit(&h->nudge_ns, NUDGE_NS, memory_order_release);
	*out = n;
	return 0;
}

void pub_nudge_kick(struct pub_nudge *n)
{
	if (n)
		wait_nudger_kick(&n->kick);
}

void pub_nudge_sweep(struct pub_nudge *n)
{
	if (!n)
		return;
	atomic_store_explicit(&n->sweep_wanted, 1, memory_order_relaxed);
	wait_nudger_kick(&n->kick);
}

void pub_nudge_sweep_left(struct pub_nudge *n, uint32_t count)
{
	if (!n)
		return;
	atomic_store_explicit(&n->sweep_left, count, memory_order_relaxed);
	wait_nudger_kick(&n->kick);
}

void pub_nudge_clear(struct seg_header *h)
{
	/* Release: a reader that sees no promise sleeps 1 ms at most; the
	 * publisher's next wake of all tells the sleepers. */
	atomic_store_explicit(&h->nudge_ns, 0, memory_order_release);
	atomic_store_explicit(&h->nudge_pid, 0, memory_order_relaxed);
	/* A dead nudger's flag: ours to clear, as the only writer of the
	 * data file (we hold the channel's lock); relaxed: only our own
	 * publishing thread reads it. */
	atomic_store_explicit(&h->nudge_waiting, 0, memory_order_relaxed);
}

void pub_nudge_stop(struct pub_nudge *n)
{
	if (!n)
		return;
	if (n->pid != getpid()) { /* a fork()ed child's copy: no thread here,
				     and the promise is the parent's */
		free(n);
		return;
	}
	wait_bell_ring(&n->bell);
	wait_nudger_kick(&n->kick); /* after the ring, which it then sees */
	pthread_join(n->thread, NULL);
	pub_nudge_clear(n->m.hdr);
	free(n);
}
