/*
 * pub.c - the publisher: the single producer of a channel (doc/protocol.md,
 * "Publishing" and "Ownership").
 *
 * Publishing message n (the ordering protocol, steps 1-5):
 *   1. stamp the slot writing(n), relaxed, then a release fence;
 *   2. store payload and slot header words, relaxed;
 *   3. stamp the slot complete(n) with a release store;
 *   4. store write_num = n + 1: while a reader may sleep (an armed entry,
 *      or the nudger) with a seq_cst exchange (release, and the
 *      producer's half of the Dekker pair with sleeping readers), else
 *      with a release store, then load armed_seq (wait.c, arming);
 *   5. wake as many blocked readers as declared themselves waiting (all
 *      sleepers without a nudger; the nudger sweeps when threads nobody
 *      counted sleep there too), then the nudger if it sleeps (wait.c).
 * A reader that copied any word of step 2 and then re-reads the stamp
 * after an acquire fence sees writing(n) or later (fence-fence
 * synchronisation with step 1), so it discards a torn copy (sub.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Lossless: how often a blocked producer checks whether the readers that
 * gate it are still alive, and how many it looks at then (a /proc read
 * each): a writer of the table who forged 4000 dead readers holding it
 * back, again every 5 ms, took 86% of the publishing thread, reclaiming
 * 146 000 a second (attack run of b7401e9). The rest wait for the next
 * look, or for a reaper (mdbus_pub_reclaim()). */
#define REAP_INTERVAL_NS 10000000ULL
#define REAP_LOOKS 8u

/* A waiter count that keeps costing a FUTEX_WAKE that wakes nobody was
 * left by readers killed asleep (doc/protocol.md, "Waiting"): after this
 * many in a row, reclaim and repair, at most once per REPAIR_GAP_NS,
 * looking at REPAIR_LOOKS sleepers' entries at most, a /proc read each
 * (with 64 entries forged as live sleepers', the publish that repaired
 * took 1010 us when it looked at all, 129 us now: t_conskill part 7; a
 * writer of the table can forge them again after each repair). */
#define FUTILE_WAKES 1000u
#define REPAIR_GAP_NS 1000000000ULL
#define REPAIR_LOOKS 8u

/* After armed_seq moved, the armed entries are counted this many publishes
 * later (pub.c armed_moved()). */
#define RECOUNT_EVERY 4096u

/* advance(), publish_one(): the slot this many messages ahead is
 * prefetched (far enough that a reader keeping up is not polling it yet;
 * write_ahead() says why not 8). */
#define WRITE_AHEAD 16u

/* mdbus_pub_publish() copies payloads up to this long without a loop and
 * a longer one in publish_checked(): the loop's registers cost every
 * publish two saved and restored, and where its code fell (a 64-byte
 * boundary inside it) made a 200-byte publish 16.4 ns against 11.0. */
#define PUBLISH_FAST_MAX 64u

/* A lossless producer's stall clock of one consumer entry (maybe_evict()):
 * private memory, nobody else writes it. */
struct stall_clock {
	uint64_t pos;      /* the position that holds us back, as seen */
	uint64_t since_ns; /* when it last moved forward, 0 = not running */
	uint64_t word;     /* the entry's state word when it started */
	int restarted;     /* started again by a new word since progress */
};

struct mdbus_pub {
	struct seg_map m;
	uint64_t next;         /* sequence of the next message */
	uint64_t gate;         /* lossless: lowest read position seen */
	uint64_t gate_seq;     /* lossless: the table's join_seq when the
				  gate was computed */
	uint64_t stall_ns;     /* lossless: eviction time, 0 = never */
	struct stall_clock *clocks; /* lossless: per entry, maybe_evict() */
	uint64_t reap_ns;      /* lossless: last liveness check of gaters */
	size_t claim_size;     /* open claim's size, 0 = none */
	int claimed;
	int detour;            /* claimed, or a ring of blocks not whole
				  pages: mdbus_pub_publish() takes
				  publish_checked() (detour_recheck()) */
	size_t fast_max;       /* mdbus_pub_publish()'s longest payload
				  without publish_checked(): PUBLISH_FAST_MAX
				  or the slot's payload, the lesser */
	unsigned futile;       /* FUTEX_WAKEs in a row that woke nobody */
	uint32_t repair_next;  /* repair_count(): the entry it goes on at */
	uint64_t repair_ns;    /* last reclaim for them */
	struct pub_nudge *nudge; /* the nudger, NULL = none (pub_nudge.c) */
	uint64_t armed_seen;   /* the table's armed_seq when last looked at */
	uint64_t recount_at;   /* count the armed entries at this write
				  count, UINT64_MAX = no need */
	int may_sleep;         /* a reader may sleep: exchange write_num */
	uint64_t slow_at;      /* wake_check(): the slow path from this write
				  count on: 0 while may_sleep, else
				  recount_at (set_slow_at()) */
	uintptr_t ahead_bytes; /* write_ahead_from(): WRITE_AHEAD slots */
};

MDBUS_EXPORT void mdbus_pub_config_init(struct mdbus_pub_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->slot_size = 256;
	cfg->slots_per_block = 4096;
	cfg->block_count = 16;
	cfg->max_consumers = 64;
	cfg->mode = MDBUS_MODE_OVERWRITE;
	cfg->file_mode = 0640;
	cfg->stall_evict_ns = 30ULL * 1000000000ULL;
}

/* Sets detour from what it stands for. */
static void detour_recheck(struct mdbus_pub *p)
{
	p->detour = p->claimed || !p->m.g.contiguous;
}

/*
 * A publisher that crashed between step 3 and step 4 left messages from
 * write_num on complete but unpublished (a batch: up to a ring's worth):
 * publish them now, so that readers that already saw their stamps and
 * readers that did not agree. A slot left at writing(n) (crash inside
 * steps 1-2) ends the run: it and what follows stay unpublished and the
 * next message overwrites it. Stamps only grow and slot n held n -
 * capacity before, so complete(n) in slot n is message n itself.
 */
static void recover(struct mdbus_pub *p)
{
	struct seg_header *h = p->m.hdr;
	uint64_t w = atomic_load_explicit(&h->write_num, memory_order_relaxed);
	uint64_t n = w;

	/* Acquire: pairs with the dead publisher's release store of
	 * complete(n) (step 3), so that the count stored below publishes
	 * its words too: a view takes the messages below the count by the
	 * count alone (doc/protocol.md "Reading"; review of 23bb021). */
	while (n - w < p->m.g.capacity &&
	       atomic_load_explicit(&seg_slot(&p->m, n)[SLOT_W_STAMP],
				    memory_order_acquire) == stamp_complete(n))
		n++;
	if (n != w)
		atomic_store_explicit(&h->write_num, n, memory_order_release);
	p->next = n;
}

static int gate_refresh(struct mdbus_pub *p, uint64_t n, uint64_t low);
static int recount(struct mdbus_pub *p);

static void announce(struct mdbus_pub *p)
{
	struct seg_header *h = p->m.hdr;
	uint64_t start;
	pid_t pid;

	proc_self(&pid, &start);
	atomic_store_explicit(&h->pub_start, start, memory_order_relaxed);
	atomic_store_explicit(&h->heartbeat_ns, clock_realtime_ns(), memory_order_relaxed);
	/* Release: pairs with acquire loads of pub_pid / pub_state, which then
	 * see pub_start and heartbeat. */
	atomic_store_explicit(&h->pub_pid, pid, memory_order_release);
	atomic_store_explicit(&h->pub_state, SEG_PUB_ACTIVE, memory_order_release);
	wait_wake_all(h);
}

static int alloc_stall_tracking(struct mdbus_pub *p)
{
	uint32_t n = p->m.g.max_consumers;

	p->clocks = calloc(n, sizeof(*p->clocks));
	if (!p->clocks)
		return err_set(-ENOMEM, "out of memory");
	return 0;
}

MDBUS_EXPORT int mdbus_pub_open(mdbus_pub_t **out, const char *channel,
				const struct mdbus_pub_config *cfg)
{
	struct mdbus_pub_config defaults;
	struct mdbus_pub *p;
	int r;

	err_clear();
	if (!out)
		return err_set(-EINVAL, "NULL handle pointer");
	*out = NULL;
	if (!cfg) {
		mdbus_pub_config_init(&defaults);
		cfg = &defaults;
	}
	r = pub_archive_check(cfg->archive_dir);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return err_set(-ENOMEM, "out of memory");
	seg_map_init(&p->m);
	r = seg_open_publisher(&p->m, channel, cfg);
	if (r == 0 && p->m.g.mode == MDBUS_MODE_LOSSLESS)
		r = alloc_stall_tracking(p);
	if (r < 0) {
		seg_unmap(&p->m);
		free(p);
		return r;
	}
	p->stall_ns = cfg->stall_evict_ns;
	p->ahead_bytes = (uintptr_t)WRITE_AHEAD * 8 << p->m.g.slot_shift;
	detour_recheck(p);
	p->fast_max = seg_payload_max(&p->m) < PUBLISH_FAST_MAX ?
			      seg_payload_max(&p->m) : PUBLISH_FAST_MAX;
	counters_reset(p->m.hdr); /* each publisher counts from 0 */
	/* A dead predecessor's nudger promise and flag: the flag would cost
	 * every publish a FUTEX_WAKE. */
	pub_nudge_clear(p->m.hdr);
	pub_archive_announce(p->m.hdr, cfg->archive_dir);
	/* A count left in the header by readers killed asleep, before this
	 * publisher, would make every publish a system call. */
	cons_reap(&p->m);
	recover(p);
	if (p->m.g.mode == MDBUS_MODE_LOSSLESS)
		(void)gate_refresh(p, p->next, p->next); /* readers may be behind a restart */
	announce(p);
	if (cfg->flags & MDBUS_PUB_NUDGE) {
		r = pub_nudge_start(&p->nudge, &p->m);
		if (r < 0) {
			mdbus_pub_close(p);
			return r;
		}
	}
	(void)recount(p); /* readers armed before us, before the first publish */
	*out = p;
	return 0;
}

struct seg_header *pub_header(const mdbus_pub_t *pub)
{
	return pub->m.hdr;
}

/* ------------------------------------------------------------- lossless */

/*
 * Evicts entry i, which holds message n back from position pos, if it has
 * not moved forward for stall_ns. Returns 1 if evicted. A position is
 * taken as no lower than n - capacity: every position that holds n back
 * is one there, so that only a move that frees room is progress, not a
 * move back and forth nor a creep upwards from far below (anyone who may
 * write the table can make those). The clock starts again when a look
 * finds the entry not holding us back or not ACTIVE (gate_refresh()),
 * when we evict it (made not ACTIVE here: a reopen of the reader at its
 * place before our next look is a reader not yet seen, whose first
 * stall_ns must not be the evicted one's), and once when its state word
 * is not the one the clock started with (a reader closed and another
 * opened in its entry before our next look), then not again for a new
 * word until the entry moves forward: its owner could bump the word at
 * every look (doc/protocol.md, "Publishing").
 */
static int maybe_evict(struct mdbus_pub *p, uint32_t i, uint64_t w,
		       uint64_t n, uint64_t pos, uint64_t now)
{
	struct seg_consumer *c = &p->m.table[i];
	struct stall_clock *k = &p->clocks[i];
	uint64_t floor = n >= p->m.g.capacity ? n - p->m.g.capacity : 0;

	if (pos < floor)
		pos = floor;
	if (k->since_ns == 0 || pos > k->pos) {
		*k = (struct stall_clock){ pos, now, w, 0 };
		return 0;
	}
	if (w != k->word && !k->restarted) {
		*k = (struct stall_clock){ pos, now, w, 1 };
		return 0;
	}
	if (!p->stall_ns || now - k->since_ns < p->stall_ns)
		return 0;
	/* Release: the reader's acquire load of its state sees it; a CAS so
	 * that an entry that changed hands is left alone. */
	if (!atomic_compare_exchange_strong_explicit(&c->state, &w,
						     cons_next(w, CONS_EVICTED, cons_pid(w)),
						     memory_order_release,
						     memory_order_relaxed))
		return 0;
	atomic_fetch_add_explicit(&p->m.tab->evictions, 1, memory_order_relaxed);
	wait_wake_all(p->m.hdr); /* an evicted sleeper learns it now */
	k->since_ns = 0;
	return 1;
}

/*
 * Recomputes the lowest read position of the live registered readers,
 * `low` when none is lower: the published write count (inside a batch or
 * a skip's markers n is ahead of it), so that a reader registering now,
 * which starts no lower than that count, is not lapped before the next
 * look (sub.c join_registered()). When
 * one of them blocks message n, frees it if its process is dead and
 * evicts it if it stalled too long. Slow path: runs only when the cached
 * gate says the ring is full or a reader joined (room_cached()). Returns
 * the number of readers it evicted (counted here: the table's evictions
 * counter is anybody's to rewrite who may register).
 */
static int gate_refresh(struct mdbus_pub *p, uint64_t n, uint64_t low)
{
	uint64_t now = clock_mono_ns();
	unsigned looks = now - p->reap_ns >= REAP_INTERVAL_NS ? REAP_LOOKS : 0;
	uint32_t i;
	int evicted = 0, freed = 0;

	/* Relaxed, then the fence below (acquire): pairs with the seq_cst
	 * bump of a reader that joined (sub.c join_registered()), whose
	 * entry the look below then sees. */
	p->gate_seq = atomic_load_explicit(&p->m.tab->join_seq,
					   memory_order_relaxed);
	/* Pairs with the reader's fence after its registration (sub.c
	 * join_registered()): the write_num store before this fence, or
	 * the reader's entry, is seen by the other side. */
	atomic_thread_fence(memory_order_seq_cst);

	/* Readers cut the table and the guard put zeros here: nobody gates
	 * us in a table of zeros, so mend it before looking. */
	if (table_guard_lost(p->m.guard))
		(void)seg_table_restore(&p->m);
	for (i = 0; i < p->m.g.max_consumers; i++) {
		struct seg_consumer *c = &p->m.table[i];
		uint64_t w = atomic_load_explicit(&c->state, memory_order_acquire);
		uint64_t pos;

		if (cons_state(w) != CONS_ACTIVE) {
			p->clocks[i].since_ns = 0; /* a next owner's clock
						    * starts anew */
			continue;
		}
		/* Acquire pairs with the reader's release store after its
		 * copy: the slot it left may be overwritten. */
		pos = atomic_load_explicit(&c->read_num, memory_order_acquire);
		if (n - pos < p->m.g.capacity || pos > n) {
			p->clocks[i].since_ns = 0;
			if (pos <= n && pos < low)
				low = pos;
			continue;
		}
		if (looks > 0) {
			looks--;
			if (cons_reclaim(&p->m, i)) {
				freed++;
				continue;
			}
		}
		if (maybe_evict(p, i, w, n, pos, now)) {
			evicted++;
			continue;
		}
		if (pos < low)
			low = pos;
	}
	if (freed)
		cons_repair_waiters(&p->m);
	if (now - p->reap_ns >= REAP_INTERVAL_NS)
		p->reap_ns = now;
	p->gate = low;
	return evicted;
}

/* Slow path of room_for(): the cached gate says full, or a reader joined
 * since it was computed. */
static MDBUS_COLD int room_refresh(struct mdbus_pub *p, uint64_t n)
{
	(void)gate_refresh(p, n, p->next);
	if (n - p->gate < p->m.g.capacity)
		return 0;
	return MDBUS_EBACKPRESSURE;
}

/*
 * Whether message n may be written by the cached gate alone: in lossless
 * mode, the gate is less than a ring behind n and join_seq has not moved
 * since it was computed (a reader that joins bumps it, doc/protocol.md
 * "Publishing"), so that the producer looks at the table before its next
 * write rather than up to a ring later.
 */
MDBUS_INLINE int room_cached(const struct mdbus_pub *p, uint64_t n)
{
	if (p->m.g.mode != MDBUS_MODE_LOSSLESS)
		return 1;
	/* Relaxed: only compared; gate_refresh() fences before its look. */
	return n - p->gate < p->m.g.capacity &&
	       atomic_load_explicit(&p->m.tab->join_seq, memory_order_relaxed) ==
		       p->gate_seq;
}

/* Lossless: whether message n (at or past the write count) may be
 * written. */
MDBUS_INLINE int room_for(struct mdbus_pub *p, uint64_t n)
{
	if (room_cached(p, n))
		return 0;
	return room_refresh(p, n);
}

/* ---------------------------------------------------------- publishing */

/* Step 1 of the protocol for message n in `slot`. */
MDBUS_INLINE void slot_begin(_Atomic uint64_t *slot, uint64_t n)
{
	atomic_store_explicit(&slot[SLOT_W_STAMP], stamp_writing(n),
			      memory_order_relaxed);
	/* Orders the stamp above before the payload stores below; pairs with
	 * the reader's acquire fence before its stamp re-check (sub.c). */
	atomic_thread_fence(memory_order_release);
}

/* Step 1 for message n; returns the slot's words. */
MDBUS_INLINE _Atomic uint64_t *begin(struct mdbus_pub *p, uint64_t n)
{
	_Atomic uint64_t *slot = seg_slot(&p->m, n);

	slot_begin(slot, n);
	return slot;
}

/* Slow path of advance(): a count nobody sleeps behind. */
static void repair_count(struct mdbus_pub *p)
{
	uint64_t now = clock_mono_ns();

	p->futile = 0;
	if (now - p->repair_ns < REPAIR_GAP_NS)
		return;
	p->repair_ns = now;
	(void)seg_table_restore(&p->m);
	(void)cons_reap_sleepers(&p->m, &p->repair_next, REPAIR_LOOKS);
}

/* Step 2's header words (a time of 0: now). */
MDBUS_INLINE void slot_header(_Atomic uint64_t *slot, uint16_t type,
			      size_t size, uint64_t ts_ns)
{
	atomic_store_explicit(&slot[SLOT_W_TS], ts_ns ? ts_ns : clock_realtime_ns(),
			      memory_order_relaxed);
	atomic_store_explicit(&slot[SLOT_W_META], (uint64_t)size | (uint64_t)type << 32,
			      memory_order_relaxed);
}

/* Step 3: message n complete in its slot. */
MDBUS_INLINE void slot_complete(_Atomic uint64_t *slot, uint64_t n)
{
	/* Pairs with the reader's acquire load of the stamp. */
	atomic_store_explicit(&slot[SLOT_W_STAMP], stamp_complete(n),
			      memory_order_release);
}

/* Steps 2 (header words) and 3 for message n: complete in its slot. */
MDBUS_INLINE void seal(_Atomic uint64_t *slot, uint64_t n, uint16_t type,
		       size_t size, uint64_t ts_ns)
{
	slot_header(slot, type, size, ts_ns);
	slot_complete(slot, n);
}

/* Step 5 when `counted` readers count themselves asleep, or the nudger
 * sleeps: with a nudger, wakes that many sleepers of wake_seq and one
 * more, and when the one more woke too (threads parked there), has the
 * nudger sweep up the counted ones passed over; more than 8 counted
 * (whatever a writer of the table says), wakes 8 and has the nudger wake
 * them all; without a
 * nudger, every sleeper. When the nudger sleeps, wakes the first few
 * anonymous sleepers (the bursty feed of mdbench's strategy section:
 * anonymous p50 8.6 us before the nudger's own wake-up came between,
 * 46.8 us with it), then kicks the nudger, which wakes the others. A count
 * that FUTILE_WAKES wakes in a row found nobody behind gets repaired. */
static MDBUS_COLD void wake_sleepers(struct mdbus_pub *p, uint32_t counted,
				     uint32_t nudger)
{
	uint32_t to_nudger = 0;
	int crowded = 0;
	long woken;

	if (counted) {
		/* never UINT32_MAX, which says every one */
		if (counted > wait_count_max(&p->m))
			counted = wait_count_max(&p->m);
		woken = wait_wake_counted(&p->m, p->nudge ? counted : UINT32_MAX,
					  &crowded, &to_nudger);
		if (woken > 0)
			p->futile = 0;
		else if (woken == 0 && ++p->futile >= FUTILE_WAKES)
			repair_count(p);
	}
	if (nudger)
		wait_wake_anonymous_first(p->m.hdr);
	if (crowded)
		pub_nudge_sweep(p->nudge);
	else if (to_nudger)
		pub_nudge_sweep_left(p->nudge, to_nudger);
	else if (nudger)
		pub_nudge_kick(p->nudge);
}

/* After may_sleep or recount_at changed: where wake_check() takes the
 * slow path, so that it tests one word for both. */
static void set_slow_at(struct mdbus_pub *p)
{
	p->slow_at = p->may_sleep ? 0 : p->recount_at;
}

/*
 * armed_seq moved (seen as `seq`): a reader may sleep from this publish
 * on. The entries are counted later (recount(), RECOUNT_EVERY publishes
 * on), so that a reader bumping armed_seq before every publish costs no
 * scan of the table each (at 4096 entries, 7 us). Returns 1 when readers
 * may sleep now and did not before, so that the caller, whose write_num
 * store was a plain release, adds the full fence of the Dekker pair.
 */
static MDBUS_COLD int armed_moved(struct mdbus_pub *p, uint64_t seq)
{
	int before = p->may_sleep;

	p->armed_seen = seq;
	p->may_sleep = 1;
	if (p->recount_at == UINT64_MAX)
		p->recount_at = p->next + RECOUNT_EVERY;
	set_slow_at(p);
	return !before;
}

/*
 * Counts the armed entries: RECOUNT_EVERY publishes after armed_seq
 * moved, at open, and from the timers (heartbeat, reap), so that a writer
 * of the table who put armed_seq back after a reader armed, or a table
 * restored to zeros whose count came back to the value last seen, costs
 * that reader capped sleeps until the next heartbeat rather than for good
 * (doc/protocol.md, "Waiting"). Returns 1 as armed_moved() does.
 */
static MDBUS_COLD int recount(struct mdbus_pub *p)
{
	int before = p->may_sleep;

	/* Relaxed, then an acquire fence: pairs with the seq_cst bumps after
	 * a flag was set or cleared (wait.c arm(), consumers.c disarm()), so
	 * every flag set before the bump loaded here is counted; a later
	 * bump is seen at the next publish (armed_moved()). */
	p->armed_seen = atomic_load_explicit(&p->m.tab->armed_seq,
					     memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	p->recount_at = UINT64_MAX;
	p->may_sleep = p->nudge != NULL || cons_count_armed(&p->m) != 0;
	set_slow_at(p);
	return p->may_sleep && !before;
}

/*
 * Step 4's look at armed_seq found it moved, or a recount due, or readers
 * may sleep: what advance() does past its store, out of line, so that
 * the publishing path calls nothing in the common case (and saves no
 * registers for it). `armed` is the armed_seq loaded after the store.
 * Returns 0, so that mdbus_pub_publish() ends in a jump here.
 */
static MDBUS_NOINLINE int advance_slow(struct mdbus_pub *p, uint64_t armed)
{
	uint32_t counted, nudger;

	if (armed != p->armed_seen) {
		if (armed_moved(p, armed))
			atomic_thread_fence(memory_order_seq_cst); /* as the exchange */
	} else if (p->next >= p->recount_at && recount(p)) {
		atomic_thread_fence(memory_order_seq_cst);
	}
	/* Step 5, the Dekker pairs' producer loads (seq_cst; pair with the
	 * sleeping reader's seq_cst increment, wait.c announce_waiter(), and
	 * with the idle nudger's seq_cst flag store, wait.c
	 * wait_nudger_idle()). */
	if (!p->may_sleep)
		return 0;
	counted = waiters_count(atomic_load_explicit(&p->m.tab->waiters,
						     memory_order_seq_cst));
	nudger = atomic_load_explicit(&p->m.hdr->nudge_waiting,
				      memory_order_seq_cst);
	/* Taken down by the first publish that saw it (relaxed: the load
	 * above is the Dekker pair's; only this thread and the nudger store
	 * it), so that a burst after a pause bumps nudge_seq and kicks once,
	 * not at every publish until the nudger ran: 8 bumps in a burst made
	 * an anonymous reader woken by the first one look passed over and nap
	 * 1 ms for 10 s (wait.c passed_over_anonymous(); race review of
	 * a99937d: 50 readers, bursts of 16, 41% of a CPU idle). */
	if (nudger)
		nudger = atomic_exchange_explicit(&p->m.hdr->nudge_waiting, 0,
						  memory_order_relaxed);
	if (counted || nudger)
		wake_sleepers(p, counted, nudger);
	return 0;
}

/*
 * Asks for the slot WRITE_AHEAD messages past the last one published (a
 * prefetch: no access to shared memory in the C sense, nothing stored),
 * so that when the producer gets there the line and the page's address
 * translation are in its caches. Without it, the first 8 to 16 slots of
 * each page came late (one-way latency above p50 + 40 ns for 33-38% of
 * them against 6% of the other slots, 64-byte slots: the hardware's own
 * prefetching starts again at each page); prefetching only each page's
 * first slot left its first 8 so (20-37%). Asked after the message is
 * public: asked before its stores (2b1bc08), the prefetch into the next
 * page made the message that asked late as often as a page's first
 * slot had been (14-42%, whichever of 8, 16 or 64 slots ahead: the
 * page walk). 8 slots ahead, the 7 after a page's first slot still came
 * late more often than the median place (mdbench's section "pages":
 * 1.03 to 3.3 times its share, median 1.13, in 21 of 21 runs); 16
 * ahead, as often (0.92 to 1.19, median 1.01, 17 runs). Asked before the
 * write count's store (publish_count()), not between it and wake_check()'s
 * load: there, a publisher flooding 232-byte messages into 256-byte slots
 * took 22.0 ns a message against 14.9, and 37-40 against 16.2 with a
 * reader keeping up (mdbench pubcost, an AMD EPYC VM; 40-byte messages
 * the same either way). README.md, "Performance".
 */
MDBUS_INLINE void write_ahead(const struct mdbus_pub *p, uint64_t next)
{
	__builtin_prefetch((const void *)seg_slot(&p->m, next - 1 + WRITE_AHEAD),
			   1, 3);
}

/* write_ahead() for the message after the one in `slot`, from that slot:
 * in a ring of whole-page blocks, without seg_slot()'s arithmetic. The
 * last WRITE_AHEAD slots of the ring ask for addresses past its end (a
 * prefetch never faults: it loads whatever the process has mapped there,
 * or nothing), so the first slots after a wrap come without it. */
MDBUS_INLINE void write_ahead_from(const struct mdbus_pub *p,
				   const _Atomic uint64_t *slot, uint64_t next)
{
	if (MDBUS_UNLIKELY(!p->m.g.contiguous)) {
		write_ahead(p, next);
		return;
	}
	__builtin_prefetch((const void *)((uintptr_t)slot + p->ahead_bytes),
			   1, 3);
}

/* Step 4 for every message sealed below `next`. */
MDBUS_INLINE void publish_count(struct mdbus_pub *p, uint64_t next)
{
	/* Step 4: pairs with acquire loads of write_num (join, lap) and,
	 * while a reader may sleep, as the producer's half of the Dekker
	 * pair, with the sleeping reader's seq_cst load (wait.c changed()):
	 * an exchange rather than a seq_cst store, which gcc compiles to a
	 * store and an mfence on x86. */
	if (p->may_sleep)
		(void)atomic_exchange_explicit(&p->m.hdr->write_num, next,
					       memory_order_seq_cst);
	else
		atomic_store_explicit(&p->m.hdr->write_num, next,
				      memory_order_release);
	p->next = next;
}

/* Step 5 after publish_count(p, next). Returns 0. */
MDBUS_INLINE int wake_check(struct mdbus_pub *p, uint64_t next)
{
	uint64_t armed;

	/* The load below stays after publish_count()'s store in the program:
	 * one that came before an arming reader's bump is covered by that
	 * reader's settle, its store seen after a short sleep (wait.c
	 * arm()). */
	atomic_signal_fence(memory_order_seq_cst);
	/* Relaxed: only compared; recount() fences. */
	armed = atomic_load_explicit(&p->m.tab->armed_seq, memory_order_relaxed);
	if (MDBUS_UNLIKELY(armed != p->armed_seen || next >= p->slow_at))
		return advance_slow(p, armed);
	return 0;
}

/* Steps 4 and 5: publishes every message sealed below `next`. */
MDBUS_INLINE void advance(struct mdbus_pub *p, uint64_t next)
{
	write_ahead(p, next);
	publish_count(p, next);
	(void)wake_check(p, next);
}

/* The payload, as relaxed 64-bit atomic stores (doc/protocol.md,
 * "Publishing", step 2). */
MDBUS_INLINE void copy_in(_Atomic uint64_t *dst, const void *data, size_t size,
			  int line)
{
	const unsigned char *src = data;
	size_t words = size / 8;

	/* line: PUBLISH_FAST_MAX bytes at most, no loop */
	if (line)
		payload_store_line(dst, src, words);
	else
		payload_store(dst, src, words);
	if (size % 8)
		atomic_store_explicit(&dst[words],
				      payload_tail_word(src + words * 8, size % 8),
				      memory_order_relaxed);
}

/*
 * Steps 1 to 5 for one message, its checks done. The header words go
 * before the payload (step 2 has no order of its own), so that fewer
 * values live across the copy, and the only call, advance_slow(), ends
 * the path: the publishing path then saves no registers (callgrind,
 * bench/icount.c, 40-byte messages: 108 instructions before, 91 after;
 * 82 with the payload maximum in the geometry, the write-ahead
 * distance and the slow path's start in the handle: set_slow_at()).
 * Returns 0.
 */
MDBUS_INLINE int publish_one(struct mdbus_pub *p, uint16_t type,
			     const void *data, size_t size, uint64_t ts_ns,
			     int fast)
{
	uint64_t n = p->next;
	_Atomic uint64_t *slot;

	/* fast: a ring of whole-page blocks (seg_slot()'s common case, and
	 * write_ahead_from()'s without its check), a payload of
	 * PUBLISH_FAST_MAX bytes at most */
	if (fast) {
		slot = seg_slot_pages(&p->m, n);
		slot_begin(slot, n);
	} else {
		slot = begin(p, n);
	}
	slot_header(slot, type, size, ts_ns);
	copy_in(slot + SLOT_W_PAYLOAD, data, size, fast);
	slot_complete(slot, n);
	if (fast)
		__builtin_prefetch((const void *)((uintptr_t)slot + p->ahead_bytes),
				   1, 3);
	else
		write_ahead_from(p, slot, n + 1);
	publish_count(p, n + 1);
	return wake_check(p, n + 1);
}

/* mdbus_pub_publish() past its common case: claimed, a ring of blocks not
 * whole pages (detour), a payload longer than fast_max, no time (the
 * clock's then), or a lossless publisher's gate to look at. */
static MDBUS_NOINLINE int publish_checked(struct mdbus_pub *p, uint16_t type,
					  const void *data, size_t size,
					  uint64_t ts_ns)
{
	int r;

	if (p->claimed)
		return MDBUS_ECLAIMED;
	if (size > seg_payload_max(&p->m))
		return MDBUS_ETOOBIG;
	r = room_for(p, p->next);
	if (r < 0)
		return r;
	return publish_one(p, type, data, size,
			   ts_ns ? ts_ns : clock_realtime_ns(), 0);
}

MDBUS_EXPORT MDBUS_HOT int
mdbus_pub_publish(mdbus_pub_t *p, uint16_t type, const void *data, size_t size,
		  uint64_t ts_ns)
{
	/* the common case, checked at once; anything else out of line */
	if (MDBUS_UNLIKELY(p->detour || size > p->fast_max || ts_ns == 0 ||
			   !room_cached(p, p->next)))
		return publish_checked(p, type, data, size, ts_ns);
	return publish_one(p, type, data, size, ts_ns, 1);
}

/*
 * Steps 1 to 3 for msgs[0 .. count) as messages n, n+1, ... in a ring of
 * whole-page blocks: the slot found once and then stepped, so that the
 * loop keeps the ring's geometry in registers and looks at nothing in
 * shared memory (callgrind, bench/icount.c, batches of 32 40-byte
 * messages: 70 instructions a message before, 54 after). Each slot asks
 * for the one WRITE_AHEAD on (write_ahead_from()), as a single publish
 * does: 57 instructions, and the batch publish with one active reader
 * 5.34-5.96 ns a message against 6.70-8.48 without, alone 4.06-4.25
 * against 4.47-7.18 (README.md, "Performance"). Returns the message
 * after the last.
 */
MDBUS_INLINE uint64_t seal_run(struct mdbus_pub *p,
			       const struct mdbus_pub_msg *msgs,
			       unsigned count, uint64_t n, int line)
{
	_Atomic uint64_t *slot = seg_slot(&p->m, n);
	_Atomic uint64_t *ring = p->m.blocks;
	_Atomic uint64_t *end = ring + (p->m.g.capacity << p->m.g.slot_shift);
	size_t stride = (size_t)1 << p->m.g.slot_shift;
	unsigned i;

	for (i = 0; i < count; i++, n++) {
		__builtin_prefetch((const void *)((uintptr_t)slot + p->ahead_bytes),
				   1, 3);
		slot_begin(slot, n);
		copy_in(slot + SLOT_W_PAYLOAD, msgs[i].data, msgs[i].size, line);
		seal(slot, n, msgs[i].type, msgs[i].size, msgs[i].ts_ns);
		slot += stride;
		if (MDBUS_UNLIKELY(slot == end))
			slot = ring;
	}
	return n;
}

/*
 * mdbus_pub_publish_batch() in overwrite mode on a ring of whole-page
 * blocks, nothing to look at before a write: runs of seal_run(), each at
 * most what may be sealed past write_num (a ring's worth: a resume
 * publishes at most that many, recover()).
 */
static int publish_batch_overwrite(struct mdbus_pub *p,
				   const struct mdbus_pub_msg *msgs,
				   unsigned count, int line)
{
	uint64_t n = p->next;
	unsigned i = 0;

	while (i < count) {
		uint64_t room = p->m.g.capacity - (n - p->next);
		unsigned run = count - i;

		if (room == 0) {
			advance(p, n);
			room = p->m.g.capacity;
		}
		if (run > room)
			run = (unsigned)room;
		/* line: a run of the copy's loop costs a short payload's
		 * batch 3.05 -> 3.46-3.60 ns a message (icount --time) */
		n = line ? seal_run(p, msgs + i, run, n, 1)
			 : seal_run(p, msgs + i, run, n, 0);
		i += run;
	}
	if (n != p->next)
		advance(p, n);
	return (int)count;
}

MDBUS_EXPORT MDBUS_HOT int
mdbus_pub_publish_batch(mdbus_pub_t *p, const struct mdbus_pub_msg *msgs,
			unsigned count)
{
	uint64_t n = p->next;
	size_t longest = 0;
	unsigned i;

	if (p->claimed)
		return MDBUS_ECLAIMED;
	if (count > INT_MAX)
		return -EINVAL; /* the count returned would not fit */
	for (i = 0; i < count; i++)
		if (msgs[i].size > longest)
			longest = msgs[i].size;
	if (longest > seg_payload_max(&p->m))
		return MDBUS_ETOOBIG;
	if (MDBUS_LIKELY(p->m.g.contiguous &&
			 p->m.g.mode != MDBUS_MODE_LOSSLESS))
		return publish_batch_overwrite(p, msgs, count,
					       longest <= PUBLISH_FAST_MAX);
	for (i = 0; i < count; i++, n++) {
		_Atomic uint64_t *slot;

		/* Never more than a ring's worth sealed past write_num: a
		 * resume publishes at most that many (recover()), and a slot
		 * sealed twice in one run loses the first message's stamp. */
		if (MDBUS_UNLIKELY(n - p->next == p->m.g.capacity))
			advance(p, n);
		if (room_for(p, n) < 0)
			break;
		slot = begin(p, n);
		copy_in(slot + SLOT_W_PAYLOAD, msgs[i].data, msgs[i].size, 0);
		seal(slot, n, msgs[i].type, msgs[i].size, msgs[i].ts_ns);
	}
	if (i == 0)
		return count ? MDBUS_EBACKPRESSURE : 0;
	if (n != p->next)
		advance(p, n);
	return (int)i;
}

MDBUS_EXPORT int mdbus_pub_claim(mdbus_pub_t *p, size_t size, void **payload)
{
	_Atomic uint64_t *slot;
	int r;

	if (p->claimed)
		return MDBUS_ECLAIMED;
	if (size > seg_payload_max(&p->m))
		return MDBUS_ETOOBIG;
	r = room_for(p, p->next);
	if (r < 0)
		return r;
	slot = begin(p, p->next);
	p->claimed = 1;
	p->detour = 1;
	p->claim_size = size;
	*payload = (void *)(slot + SLOT_W_PAYLOAD);
	return 0;
}

MDBUS_EXPORT int mdbus_pub_commit(mdbus_pub_t *p, uint16_t type, size_t size,
				  uint64_t ts_ns)
{
	if (!p->claimed)
		return MDBUS_ENOCLAIM;
	if (size > p->claim_size)
		return MDBUS_ETOOBIG;
	p->claimed = 0;
	detour_recheck(p);
	seal(seg_slot(&p->m, p->next), p->next, type, size, ts_ns);
	advance(p, p->next + 1);
	return 0;
}

MDBUS_EXPORT int mdbus_pub_abort(mdbus_pub_t *p)
{
	if (!p->claimed)
		return MDBUS_ENOCLAIM;
	/* The slot stays at writing(n): readers of n keep waiting, and the
	 * next message reuses n. */
	p->claimed = 0;
	detour_recheck(p);
	return 0;
}

/*
 * A lossless skip's markers between two looks at the readers: what a
 * reader joining at the oldest message among them may lose, as to a write
 * under way (doc/protocol.md, "Skipping").
 */
#define MARK_CHUNK 8u

/*
 * Lossless: whether the markers up to the one that takes the slot of
 * message n - capacity may be written, looked at as a publish does
 * before its write (room_for()), after a fence: so a reader joining
 * among the markers loses at most those of one chunk.
 */
static int mark_room(struct mdbus_pub *p, uint64_t n)
{
	if (p->m.g.mode != MDBUS_MODE_LOSSLESS)
		return 0;
	/* Pairs with the seq_cst fence of a reader after its seq_cst bump
	 * of join_seq (sub.c join_registered()): either room_for()'s
	 * relaxed load sees the bump, and looks at the table, or that
	 * reader's look at the stamps after its fence (sub.c
	 * oldest_unwritten()) sees every marker stored before this fence
	 * and starts past them. */
	atomic_thread_fence(memory_order_seq_cst);
	return room_for(p, n);
}

/*
 * Stamps writing(to) into the slots of messages next .. next+count-1
 * (count <= capacity), in that order, MARK_CHUNK at a time, each chunk
 * after mark_room() for its last: the marker in message m's slot takes
 * that of message m - capacity. Returns 0, or MDBUS_EBACKPRESSURE with
 * the markers before the chunk refused in place.
 */
static int mark_skipped(struct mdbus_pub *p, uint64_t count, uint64_t to)
{
	uint64_t m = p->next, end = p->next + count;

	while (m < end) {
		uint64_t stop = end - m > MARK_CHUNK ? m + MARK_CHUNK : end;
		int r = mark_room(p, stop - 1);

		if (r < 0)
			return r;
		for (; m < stop; m++)
			/* Relaxed: no data rides on a marker; a reader that
			 * sees it only moves on, loading write_num itself
			 * (sub.c lapped()), and one copying the slot's old
			 * message discards it at its stamp re-check. */
			atomic_store_explicit(&seg_slot(&p->m, m)[SLOT_W_STAMP],
					      stamp_writing(to),
					      memory_order_relaxed);
	}
	return 0;
}

/*
 * Sequence numbers next .. to-1 are skipped (doc/protocol.md, "Skipping"):
 * the slots of the last `capacity` of them get the stamp writing(to),
 * later than any of them and earlier than each slot's next occupant, so
 * a reader at one finds itself lapped and counts them lost, and a reader
 * at `to` waits for it; then write_num jumps to `to`. Lossless: room for
 * every marker first (the message that takes the last marker's slot), so
 * that a skip refused writes nothing; a reader that joins at the oldest
 * among the markers stops them (mark_skipped()).
 */
MDBUS_EXPORT int mdbus_pub_skip(mdbus_pub_t *p, uint64_t n)
{
	uint64_t cap = p->m.g.capacity, to = p->next + n;
	uint64_t count = n < cap ? n : cap;
	int r;

	if (p->claimed)
		return MDBUS_ECLAIMED;
	if (n == 0)
		return 0;
	if (to < n || to > SKIP_LIMIT)
		return -EOVERFLOW; /* too close to SEQ_LIMIT (layout.h) */
	r = room_for(p, p->next + count - 1);
	if (r == 0)
		r = mark_skipped(p, count, to);
	if (r < 0)
		return r;
	advance(p, to);
	return 0;
}

MDBUS_EXPORT void mdbus_pub_heartbeat(mdbus_pub_t *p)
{
	(void)seg_table_restore(&p->m); /* a reader truncated it */
	(void)recount(p);
	/* Relaxed: a liveness hint, not ordered with anything. */
	atomic_store_explicit(&p->m.hdr->heartbeat_ns, clock_realtime_ns(),
			      memory_order_relaxed);
}

MDBUS_EXPORT int mdbus_pub_reap(mdbus_pub_t *p)
{
	int freed;

	err_clear();
	freed = seg_table_restore(&p->m);
	if (freed < 0)
		return err_set(freed, "restore the consumer table: %s",
			       strerror(-freed));
	freed = cons_reap(&p->m);
	(void)recount(p);

	if (p->m.g.mode == MDBUS_MODE_LOSSLESS)
		freed += gate_refresh(p, p->next, p->next);
	return freed;
}

MDBUS_EXPORT int mdbus_pub_reclaim(mdbus_pub_t *p)
{
	err_clear();
	return cons_reap(&p->m);
}

MDBUS_EXPORT uint64_t mdbus_pub_position(const mdbus_pub_t *p)
{
	return p->next;
}

MDBUS_EXPORT void mdbus_pub_archive_progress(mdbus_pub_t *p, uint64_t next,
					    uint64_t lost)
{
	pub_archive_progress(p->m.hdr, next, lost);
}

MDBUS_EXPORT void mdbus_pub_archive_get(const mdbus_pub_t *p, uint64_t *next,
				       uint64_t *lost)
{
	pub_archive_get(p->m.hdr, next, lost);
}

MDBUS_EXPORT size_t mdbus_pub_payload_max(const mdbus_pub_t *p)
{
	return seg_payload_max(&p->m);
}

MDBUS_EXPORT uint64_t mdbus_pub_epoch(const mdbus_pub_t *p)
{
	return p->m.g.epoch; /* copied from the identity at open */
}

MDBUS_EXPORT void mdbus_pub_close(mdbus_pub_t *p)
{
	if (!p)
		return;
	pub_nudge_stop(p->nudge);
	/* Pairs with readers' acquire loads of pub_state. */
	atomic_store_explicit(&p->m.hdr->pub_state, SEG_PUB_STOPPED,
			      memory_order_release);
	wait_wake_all(p->m.hdr);
	seg_unmap(&p->m);
	free(p->clocks);
	free(p);
}
