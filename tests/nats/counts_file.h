/*
 * counts_file.h - included once by each LD_PRELOAD'ed counter of
 * tests/nats (msg_threads.c, sub_window.c, pull_extra.c, pull_away.c,
 * remake_fail.c, pull_hold.c):
 * at the process's exit, "NAME1 N1 NAME2 N2" into the file the environment
 * variable names (nothing without it). The counters are relaxed atomics
 * read once, after the threads' last calls.
 */
#ifndef COUNTS_FILE_H
#define COUNTS_FILE_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static void counts_file(const char *env, const char *name1, atomic_ulong *n1,
			const char *name2, atomic_ulong *n2)
{
	const char *path = getenv(env);
	FILE *f = path ? fopen(path, "w") : NULL;

	if (!f)
		return;
	fprintf(f, "%s %lu %s %lu\n",
		name1, atomic_load_explicit(n1, memory_order_relaxed),
		name2, atomic_load_explicit(n2, memory_order_relaxed));
	fclose(f);
}

#endif
