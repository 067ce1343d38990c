/*
 * pull_extra.c - LD_PRELOAD'ed into mdpub by nats/pull_extra.sh: the
 * inbox the nats source's JetStream deliveries come to holds messages
 * nobody asked for as a read begins, as deliveries for an earlier pull
 * request that ended before they came do. At the start of the first read
 * on an inbox (_INBOX.*) after one that returned messages, HELD_N
 * messages without headers are published to that inbox on mdpub's
 * connection and waited for (held by the subscription), and LATE_N more
 * LATE_MS later, while the read waits. The read is our own pull
 * (natsSubscription_NextMsg(), daemons/nats_pull.c) or, before it,
 * libnats's natsSubscription_Fetch(), which before 3.9.0 then collects,
 * in a fetch of a batch b < 2 * HELD_N, until it has b - HELD_N messages,
 * which it has from the start, and writes what comes beyond b past its
 * array of b. Each fetch that returns more than its batch is said on
 * stderr at once ("pull_extra: ..."); at exit, "reads N overrun N" goes
 * to $PULL_EXTRA_FILE.
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
static int flowed, injected; /* the reader thread only */
static atomic_ulong reads, overrun;

int natsSubscription_Fetch(msg_list *list, sub_t *sub, int batch,
			   int64_t timeout, int *jerr);
int natsSubscription_NextMsg(void **m, sub_t *sub, int64_t timeout);

static void publish(int n)
{
	int (*fn)(nc_t *, const char *, const char *) =
		(int (*)(nc_t *, const char *, const char *))(uintptr_t)real(
			"natsConnection_PublishString");

	for (int i = 0; i < n; i++)
		fn(conn, inbox, "pull_extra");
}

/* inbox: written before the thread starts (pthread_create orders it) */
static void *late(void *arg)
{
	(void)arg;
	sleep_ms(LATE_MS);
	publish(LATE_N);
	return NULL;
}

static const char *subject_of(sub_t *sub)
{
	const char *(*fn)(sub_t *) = (const char *(*)(sub_t *))(uintptr_t)real(
		"natsSubscription_GetSubject");

	return fn(sub);
}

/* HELD_N messages held by sub, LATE_N more on their way: once, at the
 * start of the first read on an inbox after one returned messages. */
static void inject(sub_t *sub)
{
	int (*pending)(sub_t *, int *, int *) =
		(int (*)(sub_t *, int *, int *))(uintptr_t)real(
			"natsSubscription_GetPending");
	const char *subject = subject_of(sub);
	int msgs = 0, bytes = 0;
	pthread_t t;

	if (!flowed || injected)
		return;
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
	int s;

	inject(sub);
	s = fn(list, sub, batch, timeout, jerr);
	/* Relaxed: counters read once, at exit, after the last read */
	atomic_fetch_add_explicit(&reads, 1, memory_order_relaxed);
	if (list && list->count > batch) {
		atomic_fetch_add_explicit(&overrun, 1, memory_order_relaxed);
		fprintf(stderr, "pull_extra: a fetch of %d returned %d\n",
			batch, list->count);
	}
	flowed = flowed || (list && list->count > 0);
	return s;
}

int natsSubscription_NextMsg(void **m, sub_t *sub, int64_t timeout)
{
	int (*fn)(void **, sub_t *, int64_t) =
		(int (*)(void **, sub_t *, int64_t))(uintptr_t)real(__func__);
	const char *subject = subject_of(sub);
	int on_inbox = subject && !strncmp(subject, "_INBOX.", 7), s;

	if (on_inbox)
		inject(sub);
	s = fn(m, sub, timeout);
	if (on_inbox) {
		atomic_fetch_add_explicit(&reads, 1, memory_order_relaxed);
		flowed = flowed || s == 0;
	}
	return s;
}

__attribute__((destructor)) static void report(void)
{
	counts_file("PULL_EXTRA_FILE", "reads", &reads, "overrun", &overrun);
}
