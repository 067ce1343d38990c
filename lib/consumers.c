/*
 * consumers.c - the consumer table: registration with compare-and-swap,
 * reclaiming entries of dead processes, unregistration (doc/protocol.md,
 * "Consumer entry").
 *
 * An entry's state word carries state, generation and owner pid (layout.h).
 * Every transition is a compare-and-swap on that word, so two processes
 * can never both believe they own an entry, and a reclaimer that judged an
 * owner dead cannot free an entry that changed hands meanwhile.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Whether the owner recorded in entry c (state word w) is dead. */
static int owner_dead(const struct seg_consumer *c, uint64_t w)
{
	uint64_t start;

	if (cons_state(w) == CONS_FREE)
		return 0;
	/* pid_start was stored before the release CAS that made w; the
	 * caller's acquire load of w pairs with it. While CLAIMING it may
	 * still be 0, which proc_alive() treats as "pid only". */
	start = atomic_load_explicit(&c->pid_start, memory_order_relaxed);
	if (cons_state(w) == CONS_CLAIMING)
		start = 0;
	return !proc_alive(cons_pid(w), start);
}

static void fill_entry(struct seg_consumer *c, const char *name,
		       uint64_t pos, uint64_t pid_start)
{
	uint64_t words[(MDBUS_NAME_MAX + 1) / 8] = {0};
	size_t i, n = strlen(name);

	memcpy(words, name, n > MDBUS_NAME_MAX ? MDBUS_NAME_MAX : n);
	for (i = 0; i < sizeof(words) / 8; i++)
		atomic_store_explicit(&c->name[i], words[i], memory_order_relaxed);
	atomic_store_explicit(&c->pid_start, pid_start, memory_order_relaxed);
	atomic_store_explicit(&c->lost, 0, memory_order_relaxed);
	atomic_store_explicit(&c->read_num, pos, memory_order_relaxed);
	atomic_store_explicit(&c->waiting, 0, memory_order_relaxed);
}

/*
 * Takes entry idx from state w to ours: CLAIMING, filled in, then ACTIVE
 * with a release CAS that publishes the fields (pairs with the acquire
 * loads of the state word in the producer, stats and reclaimers). Returns
 * 1 on success, 0 when the entry changed under us.
 */
static int claim(struct seg_map *m, int idx, uint64_t w, const char *name,
		 uint64_t pos, uint64_t *word)
{
	struct seg_consumer *c = &m->table[idx];
	uint64_t claiming, active, start;
	pid_t pid;

	proc_self(&pid, &start);
	claiming = cons_next(w, CONS_CLAIMING, pid);
	if (!atomic_compare_exchange_strong_explicit(&c->state, &w, claiming,
						     memory_order_acquire,
						     memory_order_relaxed))
		return 0;
	fill_entry(c, name, pos, start);
	active = cons_next(claiming, CONS_ACTIVE, pid);
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

int cons_register(struct seg_map *m, const char *name, uint64_t pos,
		  uint64_t *word)
{
	int idx;

	idx = scan_free(m, name, pos, word);
	if (idx < 0 && cons_reap(m) > 0)
		idx = scan_free(m, name, pos, word);
	if (idx < 0)
		return err_set(MDBUS_EFULL,
			       "consumer table full (%u entries, all alive)",
			       m->g.max_consumers);
	atomic_fetch_add_explicit(&m->hdr->registrations, 1, memory_order_relaxed);
	return idx;
}

void cons_unregister(struct seg_map *m, int idx, uint64_t word)
{
	struct seg_consumer *c = &m->table[idx];
	uint64_t w = atomic_load_explicit(&c->state, memory_order_relaxed);

	/* Ours as registered, or ours but evicted since. */
	if (w != word && !(cons_state(w) == CONS_EVICTED &&
			   cons_pid(w) == cons_pid(word)))
		return;
	atomic_compare_exchange_strong_explicit(&c->state, &w,
						cons_next(w, CONS_FREE, 0),
						memory_order_release,
						memory_order_relaxed);
}

int cons_reap_one(struct seg_map *m, uint32_t idx)
{
	struct seg_consumer *c = &m->table[idx];
	uint64_t w = atomic_load_explicit(&c->state, memory_order_acquire);

	if (!owner_dead(c, w))
		return 0;
	/* Fails if the entry changed hands since we looked. */
	if (!atomic_compare_exchange_strong_explicit(&c->state, &w,
						     cons_next(w, CONS_FREE, 0),
						     memory_order_acq_rel,
						     memory_order_relaxed))
		return 0;
	atomic_fetch_add_explicit(&m->hdr->reclaims, 1, memory_order_relaxed);
	/* The owner died asleep: give back its count in waiters, or every
	 * publish would make a futex syscall from now on. The exchange makes
	 * it happen once. */
	if (atomic_exchange_explicit(&c->waiting, 0, memory_order_relaxed))
		atomic_fetch_sub_explicit(&m->hdr->waiters, 1, memory_order_relaxed);
	return 1;
}

int cons_reap(struct seg_map *m)
{
	uint32_t i;
	int freed = 0;

	for (i = 0; i < m->g.max_consumers; i++)
		freed += cons_reap_one(m, i);
	return freed;
}

int cons_still_ours(const struct seg_map *m, int idx, uint64_t word)
{
	/* Pairs with the producer's CAS that evicts us (pub.c). */
	return atomic_load_explicit(&m->table[idx].state, memory_order_acquire) == word;
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
