/*
 * consumers.c - the consumer table: registration with compare-and-swap,
 * reclaiming entries of dead processes, unregistration (doc/protocol.md,
 * "Consumer entry").
 *
 * An entry's state word carries state, generation and owner pid (layout.h).
 * Every transition is a compare-and-swap on that word, so two processes
 * can never both believe they own an entry, and a reclaimer that judged an
 * owner dead cannot free an entry that changed hands meanwhile.
 *
 * A reclaim takes the entry to RECLAIMING first, clears what the dead
 * owner left (its `waiting` flag) and only then frees it: a registrant
 * claims FREE entries only, so it never meets a half-cleared one. The
 * header's waiter count is then repaired from the flags
 * (cons_repair_waiters()), which also undoes a count leaked by an owner
 * killed at any point of its sleep.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Whether the owner recorded in entry c (state word w) is dead. */
static int owner_dead(const struct seg_consumer *c, uint64_t w)
{
	uint64_t tag, start;

	if (cons_state(w) == CONS_FREE)
		return 0;
	/* An ACTIVE or EVICTED word was made by a release CAS after the tag
	 * was stored; the caller's acquire load of w pairs with it. While
	 * CLAIMING or RECLAIMING the tag may still be the previous owner's:
	 * then only the pid can tell (start 0 = unknown). */
	tag = atomic_load_explicit(&c->pid_start, memory_order_relaxed);
	start = cons_tag_start(tag);
	if ((cons_state(w) == CONS_CLAIMING || cons_state(w) == CONS_RECLAIMING) &&
	    cons_tag_gen(tag) != cons_gen(w))
		start = 0;
	return !proc_alive(cons_pid(w), start);
}

static void fill_entry(struct seg_consumer *c, const char *name,
		       uint64_t pos)
{
	uint64_t words[(MDBUS_NAME_MAX + 1) / 8] = {0};
	size_t i, n = strlen(name);

	memcpy(words, name, n > MDBUS_NAME_MAX ? MDBUS_NAME_MAX : n);
	for (i = 0; i < sizeof(words) / 8; i++)
		atomic_store_explicit(&c->name[i], words[i], memory_order_relaxed);
	atomic_store_explicit(&c->lost, 0, memory_order_relaxed);
	atomic_store_explicit(&c->read_num, pos, memory_order_relaxed);
}

/* Clears entry c's armed flag, if set, and tells the producer to recount
 * (seq_cst bump, pairs with its acquire fence, pub.c recount()). Called by
 * whoever holds the entry: its owner leaving, a claimant, a reclaimer. */
static void disarm(struct seg_map *m, struct seg_consumer *c)
{
	if (atomic_exchange_explicit(&c->armed, 0, memory_order_relaxed) != 0)
		atomic_fetch_add_explicit(&m->tab->armed_seq, 1,
					  memory_order_seq_cst);
}

/*
 * Takes entry c from state word w to `state` under our pid (acquire CAS:
 * we see what its last holder published), stamps our start time and
 * clears what anyone left of a sleep: the waiting flag (not our sleep)
 * and the armed flag (disarm()). Stores the new word in *mine. Returns 1
 * when the entry is ours now, 0 when it changed hands since w was loaded.
 */
static int take_entry(struct seg_map *m, struct seg_consumer *c, uint64_t w,
		      uint32_t state, uint64_t *mine)
{
	uint64_t start;
	pid_t pid;

	proc_self(&pid, &start);
	*mine = cons_next(w, state, pid);
	if (!atomic_compare_exchange_strong_explicit(&c->state, &w, *mine,
						     memory_order_acquire,
						     memory_order_relaxed))
		return 0;
	atomic_store_explicit(&c->pid_start, cons_tag(*mine, start),
			      memory_order_relaxed);
	/* Ours alone now: nobody claims a CLAIMING or RECLAIMING entry. */
	atomic_store_explicit(&c->waiting, 0, memory_order_relaxed);
	disarm(m, c);
	return 1;
}

/*
 * Takes entry idx from state w to ours: CLAIMING (take_entry()), filled
 * in, then ACTIVE with a release CAS that publishes the fields (pairs
 * with the acquire loads of the state word in the producer, stats and
 * reclaimers). Returns 1 on success, 0 when the entry changed under us.
 */
static int claim(struct seg_map *m, int idx, uint64_t w, const char *name,
		 uint64_t pos, uint64_t *word)
{
	struct seg_consumer *c = &m->table[idx];
	uint64_t claiming, active;

	if (!take_entry(m, c, w, CONS_CLAIMING, &claiming))
		return 0;
	fill_entry(c, name, pos);
	active = cons_next(claiming, CONS_ACTIVE, cons_pid(claiming));
	if (!atomic_compare_exchange_strong_explicit(&c->state, &claiming, active,
						     memory_order_release,
						     memory_order_relaxed))
		return 0; /* a reclaimer judged us dead mid-claim: try again */
	*word = active;
	return 1;
}

static int scan_free(struct seg_map *m, const char *name, uint64_t pos,
		     uint64_t *word)
{
	uint32_t i;

	for (i = 0; i < m->g.max_consumers; i++) {
		uint64_t w = atomic_load_explicit(&m->table[i].state,
						  memory_order_acquire);

		if (cons_state(w) == CONS_FREE &&
		    claim(m, (int)i, w, name, pos, word))
			return (int)i;
	}
	return -1;
}

/* Entries by what a registrant can hope of them. */
struct census {
	uint32_t settled;   /* ACTIVE, EVICTED or CLAIMING, owner alive */
	uint32_t transient; /* RECLAIMING by a live process */
	uint32_t open;      /* FREE, or reclaimable */
};

/* Frees entry c, whose owner (or whose dead reclaimer) in state word w
 * was found dead: to RECLAIMING under our pid, clear the flag, then FREE.
 * Returns 1 if freed, 0 if the entry changed meanwhile. */
static int reclaim_judged(struct seg_map *m, struct seg_consumer *c,
			  uint64_t w)
{
	uint64_t mine;

	/* Fails if the entry changed hands since we judged its owner. */
	if (!take_entry(m, c, w, CONS_RECLAIMING, &mine))
		return 0;
	/* Release: the next claimant (acquire CAS) sees the flag cleared. */
	if (!atomic_compare_exchange_strong_explicit(&c->state, &mine,
						     cons_next(mine, CONS_FREE, 0),
						     memory_order_release,
						     memory_order_relaxed))
		return 0; /* someone judged us dead: theirs to finish */
	atomic_fetch_add_explicit(&m->tab->reclaims, 1, memory_order_relaxed);
	return 1;
}

/*
 * Counts the entries by what a registrant can hope of them, one look at
 * each (a /proc read for each in use), and with `reclaiming` frees those
 * of dead owners on the way and repairs the waiter count, as cons_reap()
 * does. Returns the number freed. One pass, not a reap and then a
 * census: a registration refused by a table of live readers read /proc
 * twice for each (tests/lib/t_conskill part 1: 8 opens for 4, now 4).
 */
static int reap_census(struct seg_map *m, struct census *cs, int reclaiming)
{
	uint32_t i;
	int freed = 0;

	memset(cs, 0, sizeof *cs);
	for (i = 0; i < m->g.max_consumers; i++) {
		struct seg_consumer *c = &m->table[i];
		/* Acquire: an ACTIVE or EVICTED word's tag (owner_dead()). */
		uint64_t w = atomic_load_explicit(&c->state, memory_order_acquire);
		uint32_t st = cons_state(w);

		if (st == CONS_FREE) {
			cs->open++;
		} else if (owner_dead(c, w)) {
			cs->open++;
			if (reclaiming)
				freed += reclaim_judged(m, c, w);
		} else if (st == CONS_RECLAIMING) {
			cs->transient++;
		} else {
			cs->settled++;
		}
	}
	if (reclaiming)
		cons_repair_waiters(m);
	return freed;
}

static void pause_briefly(unsigned round)
{
	struct timespec ts = { 0, 100000L }; /* 100 us */

	if (round < 16)
		sched_yield();
	else
		nanosleep(&ts, NULL);
}

/*
 * Claims a free entry, reclaiming dead owners' entries, and tries again
 * for as long as anything could still come free: an entry that is free
 * or reclaimable (another registrant may have taken it first), for up to
 * REGISTER_OPEN_NS of this thread's CPU time (a hostile writer of the
 * table can fake dead owners as fast as they are reclaimed; time spent
 * preempted is no attempt: hundreds of registrants reclaiming a table of
 * dead readers on 2 CPUs, or one stalled 120 ms in its first reap, were
 * refused with entries free in front of them under a bound of wall
 * time, race review of a4eccfa), a reap's catch looked at once more
 * past it; or, while none is, one being reclaimed by a live process (it
 * goes FREE next), for up to REGISTER_WAIT_NS of waiting (a reclaimer
 * stopped halfway, or such a writer faking it). Gives up at once when
 * every entry has a live owner. An entry being claimed by a live process
 * goes ACTIVE, its claimant's (or RECLAIMING, when a reclaimer judged the
 * claimant dead): nothing to wait for. The wait was for both, up to 1 s,
 * and a writer of the table who faked every entry as claimed stalled
 * each registration that long: mdsub's read thread at each try to
 * register again (review of 74ac609; mdpub's archive's too).
 */
#define REGISTER_OPEN_NS 1000000000ULL
#define REGISTER_WAIT_NS 100000000ULL

/* Refuses a registration: MDBUS_EFULL, saying why (`after`: how long it
 * tried, when something might still have come free). */
static int refuse(const struct seg_map *m, const struct census *cs,
		  const char *after)
{
	if (!after)
		return err_set(MDBUS_EFULL, "consumer table full (%u entries, "
			       "all held by live readers)", m->g.max_consumers);
	return err_set(MDBUS_EFULL, "consumer table full (%u entries: %u held "
		       "by live readers, %u being reclaimed, %u free or "
		       "reclaimable, after %s)", m->g.max_consumers,
		       cs->settled, cs->transient, cs->open, after);
}

int cons_register(struct seg_map *m, const char *name, uint64_t pos,
		  uint64_t *word)
{
	uint64_t cpu0 = clock_thread_ns(), waiting = 0;
	struct census cs;
	unsigned round;
	int idx, over;

	for (round = 0;; round++) {
		idx = scan_free(m, name, pos, word);
		if (idx >= 0)
			break;
		over = clock_thread_ns() - cpu0 >= REGISTER_OPEN_NS;
		/* what a reap frees is looked at by the next scan */
		if (reap_census(m, &cs, !over) > 0)
			continue;
		if (cs.open == 0 && cs.transient == 0)
			return refuse(m, &cs, NULL);
		if (cs.open) {
			if (over)
				return refuse(m, &cs, "1 s of trying");
			waiting = 0;
			continue;
		}
		if (!waiting)
			waiting = clock_mono_ns();
		else if (clock_mono_ns() - waiting >= REGISTER_WAIT_NS)
			return refuse(m, &cs, "100 ms of waiting for reclaims");
		pause_briefly(round);
	}
	atomic_fetch_add_explicit(&m->tab->registrations, 1, memory_order_relaxed);
	return idx;
}

void cons_unregister(struct seg_map *m, int idx, uint64_t word)
{
	struct seg_consumer *c = &m->table[idx];
	uint64_t evicted = cons_next(word, CONS_EVICTED, cons_pid(word));
	uint64_t w = atomic_load_explicit(&c->state, memory_order_relaxed);

	/* Ours as registered, or ours evicted since (the producer's CAS
	 * makes exactly that word). */
	if (w != word && w != evicted)
		return;
	/* Our own flag (we are not asleep while closing): a next owner must
	 * not inherit it, or a repair would count it. */
	atomic_store_explicit(&c->waiting, 0, memory_order_release);
	disarm(m, c);
	/* Release: our flags cleared before the entry is anyone's. The
	 * producer may evict us between the load and the swap (the one
	 * change others make to a live owner's entry): then from its word,
	 * or the entry stays EVICTED under our pid, which no reclaim frees
	 * while we live (tests/lib/t_closeevict). */
	while (!atomic_compare_exchange_strong_explicit(&c->state, &w,
							cons_next(w, CONS_FREE, 0),
							memory_order_release,
							memory_order_relaxed) &&
	       w == evicted)
		;
}

int cons_reclaim(struct seg_map *m, uint32_t idx)
{
	struct seg_consumer *c = &m->table[idx];
	/* Acquire: an ACTIVE or EVICTED word's tag (owner_dead()). */
	uint64_t w = atomic_load_explicit(&c->state, memory_order_acquire);

	return owner_dead(c, w) ? reclaim_judged(m, c, w) : 0;
}

int cons_reap(struct seg_map *m)
{
	uint32_t i;
	int freed = 0;

	for (i = 0; i < m->g.max_consumers; i++)
		freed += cons_reclaim(m, i);
	cons_repair_waiters(m);
	return freed;
}

/* 1 when entry c's `waiting` flag counts: set, in an entry a live reader
 * may hold (ACTIVE, or EVICTED while it sleeps). A flag in a free or
 * transient entry is nobody's sleep, whatever a hostile writer put there. */
static int sleeper_flag(const struct seg_consumer *c)
{
	/* Acquire: pairs with the sleeper's release clearing of the flag
	 * (wait.c retire_waiter()). */
	uint32_t f = atomic_load_explicit(&c->waiting, memory_order_acquire);
	/* Relaxed: the caller's acquire load of waiters made a live
	 * sleeper's claim of its entry (before its count) visible. */
	uint32_t st = cons_state(atomic_load_explicit(&c->state,
						      memory_order_relaxed));

	return f != 0 && (st == CONS_ACTIVE || st == CONS_EVICTED);
}

int cons_reap_sleepers(struct seg_map *m, uint32_t *next, unsigned looks)
{
	uint32_t i, n = m->g.max_consumers;
	int freed = 0;

	if (n == 0) /* a geometry never has none; the analyser cannot know */
		return 0;
	for (i = 0; i < n && looks > 0; i++) {
		uint32_t idx = (*next + i) % n;

		if (!sleeper_flag(&m->table[idx]))
			continue;
		looks--;
		freed += cons_reclaim(m, idx);
	}
	*next = (*next + i) % n;
	cons_repair_waiters(m);
	return freed;
}

uint32_t cons_count_armed(const struct seg_map *m)
{
	uint32_t i, n = 0;

	for (i = 0; i < m->g.max_consumers; i++) {
		const struct seg_consumer *c = &m->table[i];
		/* Relaxed: the caller's acquire fence after its load of
		 * armed_seq made the flags set before that bump visible. */
		uint32_t st = cons_state(atomic_load_explicit(&c->state,
							      memory_order_relaxed));

		n += atomic_load_explicit(&c->armed, memory_order_relaxed) != 0 &&
		     (st == CONS_ACTIVE || st == CONS_EVICTED);
	}
	return n;
}

/*
 * Lowers the header's waiter count to the number of set `waiting` flags
 * when it is higher: counts left by readers killed asleep, whose flags
 * their reclaimers cleared. Never lowers it below a live sleeper's count:
 * a sleeper's flag is set before it counts itself (release increment,
 * paired with the acquire load of waiters here) and cleared after it took
 * itself out (release store, paired with the acquire loads of the flags),
 * and the compare-and-swap fails if any reader came or went meanwhile
 * (wait.c). A flag set ahead of its count may make the result one high
 * for a while: a futex call too many per publish until the next repair,
 * never a lost wake-up.
 */
void cons_repair_waiters(struct seg_map *m)
{
	uint64_t w = atomic_load_explicit(&m->tab->waiters, memory_order_acquire);
	uint32_t i, flags = 0;

	if (waiters_count(w) == 0)
		return;
	for (i = 0; i < m->g.max_consumers; i++)
		flags += sleeper_flag(&m->table[i]);
	if (flags >= waiters_count(w))
		return;
	atomic_compare_exchange_strong_explicit(&m->tab->waiters, &w,
						(w & ~0xffffffffULL) + (1ULL << 32) + flags,
						memory_order_relaxed,
						memory_order_relaxed);
}

void cons_name(const struct seg_consumer *c, char *out)
{
	uint64_t words[(MDBUS_NAME_MAX + 1) / 8];
	size_t i;

	for (i = 0; i < sizeof(words) / 8; i++)
		words[i] = atomic_load_explicit(&c->name[i], memory_order_relaxed);
	memcpy(out, words, MDBUS_NAME_MAX);
	out[MDBUS_NAME_MAX] = '\0';
}
