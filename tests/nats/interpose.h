/*
 * interpose.h - included once by each LD_PRELOAD'ed interposer of
 * tests/nats (sub_window.c, pull_extra.c, pull_away.c, remake_fail.c,
 * pull_hold.c): a function's next definition, a sleep, and mdpub's
 * connection, taken as natsConnection_Connect() makes it (the tests run
 * one nats channel).
 */
#ifndef INTERPOSE_H
#define INTERPOSE_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

typedef struct nc nc_t;
typedef struct sub sub_t;

static nc_t *conn; /* set before mdpub starts its source's threads */

int natsConnection_Connect(nc_t **nc, void *opts);

static inline void *real(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn)
		abort();
	return fn;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int natsConnection_Connect(nc_t **nc, void *opts)
{
	int (*fn)(nc_t **, void *) =
		(int (*)(nc_t **, void *))(uintptr_t)real(__func__);
	int s = fn(nc, opts);

	if (s == 0)
		conn = *nc;
	return s;
}

#endif
