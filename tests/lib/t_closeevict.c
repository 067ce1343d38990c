/*
 * t_closeevict.c - a reader's close that races its lossless producer's
 * eviction frees its entry all the same. Between the close's look at its
 * entry's state (ours, ACTIVE) and its compare-and-swap to FREE, the
 * producer may evict it (ACTIVE -> EVICTED, the only change anyone else
 * makes to a live reader's entry). The window is widened here (the
 * publisher is another process, so that the reader's is the one mapping
 * of the table here): the
 * library's mapping of the consumer table is made read-only before
 * mdbus_sub_close(), whose first store to it (the entry's `waiting`
 * flag, after the look) faults; the SIGSEGV handler makes the producer's
 * eviction, as lib/pub.c maybe_evict() makes it, maps the table writable
 * again and lets the store go on. Then the entry must be FREE, and a new
 * reader of the one-entry table is taken. Before, the close's CAS failed
 * and was not tried again: the entry stayed EVICTED under the live
 * process's pid, which no reclaim frees, and the next open was refused
 * (consumer table full) for as long as the process lived.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "testutil.h"

#define CHANNEL "closeevict"

static void *table_at;   /* the library's mapping of the table file */
static size_t table_len;
static _Atomic uint64_t *state_at; /* our entry's state word in it */
static _Atomic unsigned faults;

struct shared {
	_Atomic uint32_t ready, done;
};
static struct shared *sh;

/* The channel's lossless publisher, one consumer entry, until done. */
static int publisher(void *arg)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_LOSSLESS);
	mdbus_pub_t *p;

	(void)arg;
	c.max_consumers = 1;
	p = tu_pub_open(CHANNEL, &c);
	atomic_store(&sh->ready, 1);
	tu_await(&sh->done, 1, 30, "the test");
	mdbus_pub_close(p);
	return 0;
}

/* The library's mapping of the table file, from /proc/self/maps. */
static void find_table(void)
{
	const char *path = tu_table_path(CHANNEL);
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	unsigned long lo, hi;

	TU_CHECK(f != NULL);
	while (fgets(line, sizeof line, f)) {
		size_t n = strlen(line);

		if (n && line[n - 1] == '\n')
			line[--n] = 0;
		if (n < strlen(path) || strcmp(line + n - strlen(path), path) ||
		    sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		TU_CHECK(table_at == NULL); /* one mapping of it */
		table_at = (void *)lo;
		table_len = hi - lo;
	}
	fclose(f);
	if (!table_at)
		tu_fail("no mapping of %s in /proc/self/maps", path);
}

/* The first store of the close: the producer evicts us first. */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
	uint64_t w;

	(void)sig;
	(void)uc;
	if ((char *)si->si_addr < (char *)table_at ||
	    (char *)si->si_addr >= (char *)table_at + table_len ||
	    atomic_fetch_add(&faults, 1) != 0)
		abort(); /* not the fault this test made */
	mprotect(table_at, table_len, PROT_READ | PROT_WRITE);
	w = atomic_load(state_at);
	if (cons_state(w) == CONS_ACTIVE)
		atomic_compare_exchange_strong(state_at, &w,
			cons_next(w, CONS_EVICTED, cons_pid(w)));
}

static mdbus_sub_t *open_reader(int want)
{
	struct mdbus_sub_config c;
	mdbus_sub_t *s = NULL;

	mdbus_sub_config_init(&c);
	c.dir = tu_dir();
	TU_CHECK_RC(mdbus_sub_open(&s, CHANNEL, &c), want);
	return s;
}

int main(void)
{
	struct sigaction sa;
	mdbus_sub_t *s;
	pid_t pub;
	size_t len;
	void *tab;
	uint64_t w;

	tu_init("t_closeevict", 30);
	sh = tu_shared(sizeof(*sh));
	pub = tu_spawn(publisher, NULL);
	tu_await(&sh->ready, 1, 30, "the publisher");
	s = open_reader(0);
	find_table();
	state_at = &tu_entry(table_at, 0)->state; /* the one entry */
	TU_CHECK_EQ(cons_pid(atomic_load(state_at)), getpid());
	TU_CHECK_EQ(cons_state(atomic_load(state_at)), CONS_ACTIVE);

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	TU_CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
	TU_CHECK(mprotect(table_at, table_len, PROT_READ) == 0);
	mdbus_sub_close(s); /* unmaps the table */
	signal(SIGSEGV, SIG_DFL);
	TU_CHECK_EQ(atomic_load(&faults), 1);

	/* our entry, as the next reader finds it: FREE, and taken */
	tab = tu_map_file(tu_table_path(CHANNEL), &len);
	w = atomic_load(&tu_entry(tab, 0)->state);
	if (cons_state(w) != CONS_FREE)
		tu_fail("closed while evicted: the entry is left in state %u "
			"under pid %d (ours: %d)", (unsigned)cons_state(w),
			(int)cons_pid(w), (int)getpid());
	s = open_reader(0);
	mdbus_sub_close(s);
	munmap(tab, len);
	atomic_store(&sh->done, 1);
	tu_wait_ok(pub, 30, "publisher");
	tu_note("a close racing its eviction frees its entry");
	return 0;
}
