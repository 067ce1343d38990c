/*
 * reaper.c - see reaper.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "reaper.h"
#include "thread_start.h"

struct reaper {
	const struct chan_conf *c;
	mdbus_pub_t *pub;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake; /* on CLOCK_MONOTONIC: reaper_stop() */
	int stop;            /* under mu */
};

/* Waits until *at (then moved on by the interval, from now when that is
 * past: a reaper held up, stopped or slow, does not run the turns it
 * missed back to back, race review of b7401e9: 501 in 100 ms after a
 * SIGSTOP of 5 s at 0.01 s) or a stop: 1 when stopped. */
static int wait_turn(struct reaper *r, struct timespec *at)
{
	double s = r->c->reap_s;
	struct timespec now;
	int stop;

	pthread_mutex_lock(&r->mu);
	while (!r->stop &&
	       pthread_cond_timedwait(&r->wake, &r->mu, at) != ETIMEDOUT)
		;
	stop = r->stop;
	pthread_mutex_unlock(&r->mu);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > at->tv_sec ||
	    (now.tv_sec == at->tv_sec && now.tv_nsec > at->tv_nsec))
		*at = now;
	at->tv_sec += (time_t)s;
	at->tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
	if (at->tv_nsec >= 1000000000L) {
		at->tv_sec++;
		at->tv_nsec -= 1000000000L;
	}
	return stop;
}

static void *reaper_thread(void *arg)
{
	struct reaper *r = arg;
	struct timespec at;
	char name[16];
	int freed;

	/* "rp:NAME" in top -H, ps -L and debuggers (15 characters at most) */
	snprintf(name, sizeof(name), "rp:%s", r->c->name);
	pthread_setname_np(pthread_self(), name);
	clock_gettime(CLOCK_MONOTONIC, &at);
	(void)wait_turn(r, &at); /* the first a whole interval on */
	while (!wait_turn(r, &at)) {
		freed = mdbus_pub_reclaim(r->pub);
		if (freed > 0)
			log_msg(LOG_INFO, "channel %s: %d consumer entries "
				"reclaimed", r->c->name, freed);
		else
			log_msg(LOG_DEBUG, "channel %s: reap: no dead "
				"consumer", r->c->name);
	}
	return NULL;
}

static void reaper_free(struct reaper *r)
{
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int reaper_start(struct reaper **out, const struct chan_conf *c,
		 mdbus_pub_t *pub, char *err, size_t errlen)
{
	struct reaper *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;
	int rc;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->c = c;
	r->pub = pub;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = thread_start(&r->thread, reaper_thread, r);
	if (rc < 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(-rc));
		reaper_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void reaper_stop(struct reaper *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	reaper_free(r);
}
