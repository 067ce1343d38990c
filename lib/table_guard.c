/*
 * table_guard.c - a mapping of a consumer table survives the file's
 * truncation (doc/protocol.md, "Consumer table file").
 *
 * Registered readers may write the table file, so any of them may also
 * truncate it; touching a mapped page past the new end of a file raises
 * SIGBUS, which would kill the publisher and every other reader. This
 * process's table mappings are listed here; a SIGBUS handler that finds
 * the faulting address in one of them maps anonymous zero pages over the
 * mapping from the faulting page to its end (the instruction is restarted
 * and reads zeros: entries free, nobody waiting) and marks it lost, for
 * the owner of the mapping to notice and repair (table_guard_lost()).
 * Not before that page: a cut takes the file's end, so the pages before
 * may still be the file's, and another thread that uses the mapping
 * reads them as they are (a reclaiming thread walks the publisher's
 * table while the publishing thread does: mdbus_pub_reclaim(); with the
 * whole mapping zeroed, a lossless publisher took a live reader's entry
 * for free, race review of b7401e9; tests/lib/t_truncate.c). A SIGBUS anywhere
 * else goes to the handler that was installed before ours, or kills the
 * process as it would have.
 *
 * The statistics calls (inspect.c) list a segment's data mapping here
 * too while they read it: its owner may cut it under a tool that lists
 * every channel of a directory.
 *
 * The list is a fixed array of atomics, claimed by compare-and-swap, so
 * the handler reads it without locks. A process with more table mappings
 * than slots maps the rest unguarded (a truncation then kills it, as it
 * would have without this file).
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define GUARD_SLOTS 256

struct guard {
	_Atomic uintptr_t start; /* 0: free slot */
	_Atomic uintptr_t len;
	_Atomic int lost;
};

static struct guard guards[GUARD_SLOTS];
static _Atomic size_t page_size; /* set before the handler is installed */
static struct sigaction previous;
/* The handler is installed while any mapping is listed, so that a
 * library with every handle closed leaves no handler behind (it may be
 * dlclose()d). */
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned listed;
static int installed; /* on_sigbus is in the chain of SIGBUS handlers */

static void pass_on(int sig, siginfo_t *info, void *ctx)
{
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, info, ctx);
		return;
	}
	if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
		return;
	}
	/* Default action: restore it; the faulting instruction is restarted
	 * and faults again, now fatally, as without us. A signal sent by a
	 * process (si_code <= 0: kill, tgkill, sigqueue) has no instruction
	 * to fault again: send it again, now to the default action. */
	signal(sig, SIG_DFL);
	if (info->si_code <= 0)
		raise(sig);
}

static void on_sigbus(int sig, siginfo_t *info, void *ctx)
{
	uintptr_t a = (uintptr_t)info->si_addr;
	size_t i;

	/* Only the kernel's fault on a page past the end of a file is ours:
	 * in a signal a process sent, si_addr holds its pid and uid. */
	for (i = 0; info->si_code == BUS_ADRERR && i < GUARD_SLOTS; i++) {
		/* Relaxed: a slot is published before the mapping is used by
		 * this thread, and removed only after it is unmapped. */
		uintptr_t s = atomic_load_explicit(&guards[i].start, memory_order_relaxed);
		uintptr_t n = atomic_load_explicit(&guards[i].len, memory_order_relaxed);

		/* Relaxed: stored before the handler was installed. */
		size_t page = atomic_load_explicit(&page_size, memory_order_relaxed);
		uintptr_t from;

		if (s == 0 || a < s || a - s >= n)
			continue;
		/* From the faulting page on: a cut takes a file's end, so every
		 * later page is gone too, and the earlier ones may still be
		 * the file's (a page size is a power of two; 0: whole) */
		from = page ? a & ~(uintptr_t)(page - 1) : s;
		if (from < s)
			from = s;
		if (mmap((void *)from, n - (from - s), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			break;
		atomic_store_explicit(&guards[i].lost, 1, memory_order_relaxed);
		return;
	}
	pass_on(sig, info, ctx);
}

/* Installs the handler with the first listed mapping; restores the one
 * before it with the last, unless someone installed another since. */
static void count_listed(int delta)
{
	struct sigaction sa, now;

	pthread_mutex_lock(&install_lock);
	if (atomic_load_explicit(&page_size, memory_order_relaxed) == 0)
		atomic_store_explicit(&page_size, (size_t)sysconf(_SC_PAGESIZE),
				      memory_order_relaxed);
	if (delta > 0 && listed++ == 0 && !installed) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		installed = sigaction(SIGBUS, &sa, &previous) == 0;
	} else if (delta < 0 && --listed == 0 && installed) {
		/* Someone installed a handler on top of ours (which it may
		 * call): ours stays, and is not installed again over theirs,
		 * which would then call ours, and ours theirs, for ever. */
		if (sigaction(SIGBUS, NULL, &now) == 0 &&
		    (now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_sigbus &&
		    sigaction(SIGBUS, &previous, NULL) == 0)
			installed = 0;
	}
	pthread_mutex_unlock(&install_lock);
}

int table_guard_add(void *start, size_t len)
{
	size_t i;

	count_listed(1);
	for (i = 0; i < GUARD_SLOTS; i++) {
		uintptr_t zero = 0;

		if (atomic_compare_exchange_strong_explicit(&guards[i].start, &zero,
							    UINTPTR_MAX,
							    memory_order_relaxed,
							    memory_order_relaxed)) {
			atomic_store_explicit(&guards[i].lost, 0, memory_order_relaxed);
			atomic_store_explicit(&guards[i].len, len, memory_order_relaxed);
			atomic_store_explicit(&guards[i].start, (uintptr_t)start,
					      memory_order_relaxed);
			return (int)i;
		}
	}
	count_listed(-1);
	return -1;
}

void table_guard_remove(int slot)
{
	if (slot < 0 || slot >= GUARD_SLOTS)
		return;
	atomic_store_explicit(&guards[slot].start, 0, memory_order_relaxed);
	count_listed(-1);
}

void table_guard_reset(int slot)
{
	if (slot >= 0 && slot < GUARD_SLOTS)
		atomic_store_explicit(&guards[slot].lost, 0, memory_order_relaxed);
}

int table_guard_lost(int slot)
{
	if (slot < 0 || slot >= GUARD_SLOTS)
		return 0;
	return atomic_load_explicit(&guards[slot].lost, memory_order_relaxed);
}

int table_guard_end(int slot, const char *channel, int r)
{
	int lost = table_guard_lost(slot);

	table_guard_remove(slot);
	if (!lost)
		return r;
	return err_set(MDBUS_ECORRUPT, "channel %s: the segment was truncated "
		       "while it was read (by its owner): ask again", channel);
}
