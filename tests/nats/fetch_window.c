/*
 * fetch_window.c - LD_PRELOAD'ed into mdpub by nats/fetch_overrun.sh:
 * makes the pull subscription hold messages when a fetch begins, as
 * deliveries for an earlier fetch that ended before they came do. After
 * the first natsSubscription_Fetch() that returned messages, HELD_N
 * messages without headers are published to the subscription's inbox on
 * mdpub's connection and waited for (held by the subscription), and
 * LATE_N more LATE_MS later, while the next fetch waits. libnats before
 * 3.9.0 then collects, in a fetch of a batch b < 2 * HELD_N, until it has
 * b - HELD_N messages, which it has from the start: it writes what comes
 * beyond b past its array of b. Each fetch that returns more than its
 * batch is said on stderr at once ("fetch_window: ..."); at exit,
 * "fetches N overrun N" goes to $FETCH_WINDOW_FILE.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counts_file.h"
#include "interpose.h"

#define HELD_N 12
#define LATE_N 6
#define LATE_MS 100
#define WAIT_MS 5000 /* the published messages are back by then */

typedef struct {
	void **msgs;
	int count;
} msg_list;

static char inbox[256];     /* the late messages' subject */
static int injected;        /* the reader thread only */
static atomic_ulong fetches, overrun;

int natsSubscription_Fetch(msg_list *list, sub_t *sub, int batch,
			   int64_t timeout, int *jerr);

static void publish(int n)
{
	int (*fn)(nc_t *, const char *, const char *) =
		(int (*)(nc_t *, const char *, const char *))(uintptr_t)real(
			"natsConnection_PublishString");

	for (int i = 0; i < n; i++)
		fn(conn, inbox, "fetch_window");
}

/* inbox: written before the thread starts (pthread_create orders it) */
static void *late(void *arg)
{
	(void)arg;
	sleep_ms(LATE_MS);
	publish(LATE_N);
	return NULL;
}

/* HELD_N messages held by sub, LATE_N more on their way. */
static void inject(sub_t *sub)
{
	const char *(*subject_of)(sub_t *) = (const char *(*)(sub_t *))(
		uintptr_t)real("natsSubscription_GetSubject");
	int (*pending)(sub_t *, int *, int *) =
		(int (*)(sub_t *, int *, int *))(uintptr_t)real(
			"natsSubscription_GetPending");
	const char *subject = subject_of(sub);
	int msgs = 0, bytes = 0;
	pthread_t t;

	injected = 1;
	if (!conn || !subject || strlen(subject) >= sizeof(inbox))
		return;
	strcpy(inbox, subject);
	publish(HELD_N);
	for (int ms = 0; ms < WAIT_MS; ms++) {
		if (pending(sub, &msgs, &bytes) == 0 && msgs >= HELD_N)
			break;
		sleep_ms(1);
	}
	if (pthread_create(&t, NULL, late, NULL) == 0)
		pthread_detach(t);
}

int natsSubscription_Fetch(msg_list *list, sub_t *sub, int batch,
			   int64_t timeout, int *jerr)
{
	int (*fn)(msg_list *, sub_t *, int, int64_t, int *) =
		(int (*)(msg_list *, sub_t *, int, int64_t, int *))(
			uintptr_t)real(__func__);
	int s = fn(list, sub, batch, timeout, jerr);

	/* Relaxed: counters read once, at exit, after the last fetch */
	atomic_fetch_add_explicit(&fetches, 1, memory_order_relaxed);
	if (list && list->count > batch) {
		atomic_fetch_add_explicit(&overrun, 1, memory_order_relaxed);
		fprintf(stderr, "fetch_window: a fetch of %d returned %d\n",
			batch, list->count);
	}
	if (!injected && list && list->count > 0)
		inject(sub);
	return s;
}

__attribute__((destructor)) static void report(void)
{
	counts_file("FETCH_WINDOW_FILE", "fetches", &fetches, "overrun", &overrun);
}
