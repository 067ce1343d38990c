/*
 * helper_thread.c - the library's own threads (the publisher's nudger,
 * pub_nudge.c; the reader's descriptor helper, sub_fd.c) started with
 * every signal blocked but those a fault raises in the faulting thread
 * (blocked, they would kill the process instead of reaching a handler):
 * a signal sent to the process then goes to a thread of the application,
 * which may block it to take it from a signalfd (libmdbus(3), "Event
 * loops").
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <signal.h>

#include "internal.h"

int helper_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg,
			const char *name)
{
	static const int faults[] = { SIGBUS, SIGSEGV, SIGFPE, SIGILL,
				      SIGTRAP, SIGSYS };
	sigset_t mask, old;
	size_t i;
	int r;

	sigfillset(&mask);
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&mask, faults[i]);
	pthread_sigmask(SIG_SETMASK, &mask, &old);
	r = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		(void)pthread_setname_np(*thread, name);
	return -r;
}
