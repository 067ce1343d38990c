/*
 * msg_threads.c - LD_PRELOAD'ed into mdsub by nats/ack_expire.sh: counts
 * the calls of libnats's natsMsg_Create() made on the process's main
 * thread and on the others, and writes "main N other N" to the file
 * $MSG_THREADS_FILE at exit. mdsub makes its messages on its main
 * thread; libnats 3.4's per-publish acknowledgement timeout (MaxWait)
 * makes one on its timer thread for every publish, which the forwarder
 * no longer uses (clients/fwd_nats.c, expire_answers()).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "counts_file.h"

typedef int (*create_fn)(void **msg, const char *subject, const char *reply,
			 const char *data, int len);

static atomic_ulong on_main, on_other;

int natsMsg_Create(void **msg, const char *subject, const char *reply,
		   const char *data, int len);

int natsMsg_Create(void **msg, const char *subject, const char *reply,
		   const char *data, int len)
{
	create_fn real = (create_fn)(uintptr_t)dlsym(RTLD_NEXT, "natsMsg_Create");

	/* Relaxed: counters read once, at exit, after every thread's call */
	if (syscall(SYS_gettid) == getpid())
		atomic_fetch_add_explicit(&on_main, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&on_other, 1, memory_order_relaxed);
	return real(msg, subject, reply, data, len);
}

__attribute__((destructor)) static void report(void)
{
	counts_file("MSG_THREADS_FILE", "main", &on_main, "other", &on_other);
}
