/*
 * sub_window.c - LD_PRELOAD'ed into mdpub by nats/remake_race.sh: opens
 * wide the window of libnats 3.4's read loop (natsConn_processMsg())
 * between finding a message's subscription, the connection's lock let
 * go, and locking the subscription to queue the message: a
 * natsSubscription_Destroy() on another thread in it frees the
 * subscription under the read loop (fixed in libnats 3.6.1).
 *
 * When mdpub begins to give up a subscription to an inbox (a JetStream
 * pull consumer's) by natsSubscription_Unsubscribe() or
 * natsSubscription_Destroy(), whichever comes first, a message is
 * published to that inbox on mdpub's connection, and the read loop,
 * making it (natsMsg_create()), is held there HOLD_MS; the call goes on
 * once it is held. A natsSubscription_Destroy() of the subscription while
 * the read loop holds its message is counted as a race. Only mdpub's own
 * calls count, not libnats's (its Destroy() calls Unsubscribe()). A race
 * is said on stderr at once (the read loop may never come back from the
 * freed subscription); at exit, "held N raced N" is written to
 * $SUB_WINDOW_FILE: held, subscriptions given up with the read loop held
 * in the window.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counts_file.h"
#include "interpose.h"

#define HOLD_MS 300
#define ARM_WAIT_MS 5000 /* the message published comes back by then */

enum { IDLE, ARMED, HELD };

static char armed_subject[256];    /* written before state is ARMED */
static sub_t *armed_sub;           /* the callers' thread only */
static atomic_int state;           /* IDLE, ARMED, HELD */
static atomic_ulong held, raced;

int natsSubscription_Unsubscribe(sub_t *sub);
void natsSubscription_Destroy(sub_t *sub);
int natsMsg_create(void **msg, const char *subject, int subj_len,
		   const char *reply, int reply_len, const char *buf,
		   int buf_len, int hdr_len);

/* 1 when the call returns into libnats itself */
static int from_libnats(void *ret)
{
	Dl_info di;

	return dladdr(ret, &di) && di.dli_fname &&
	       strstr(di.dli_fname, "libnats");
}

/* The read loop making a message for the armed inbox: held there. The
 * release store pairs with the acquire loads of arm() and of
 * natsSubscription_Destroy(); the acquire load with arm()'s release
 * store of ARMED, after armed_subject was written. */
int natsMsg_create(void **msg, const char *subject, int subj_len,
		   const char *reply, int reply_len, const char *buf,
		   int buf_len, int hdr_len)
{
	int (*fn)(void **, const char *, int, const char *, int,
		  const char *, int, int) =
		(int (*)(void **, const char *, int, const char *, int,
			 const char *, int, int))(uintptr_t)real(__func__);

	if (atomic_load_explicit(&state, memory_order_acquire) == ARMED &&
	    subject && subj_len == (int)strlen(armed_subject) &&
	    memcmp(subject, armed_subject, (size_t)subj_len) == 0) {
		atomic_store_explicit(&state, HELD, memory_order_release);
		sleep_ms(HOLD_MS);
		atomic_store_explicit(&state, IDLE, memory_order_release);
	}
	return fn(msg, subject, subj_len, reply, reply_len, buf, buf_len,
		  hdr_len);
}

/* A message to sub's inbox, and the read loop held with it. */
static void arm(sub_t *sub)
{
	const char *(*subject_of)(sub_t *) = (const char *(*)(sub_t *))(
		uintptr_t)real("natsSubscription_GetSubject");
	int (*closed)(nc_t *) =
		(int (*)(nc_t *))(uintptr_t)real("natsConnection_IsClosed");
	int (*publish)(nc_t *, const char *, const char *) =
		(int (*)(nc_t *, const char *, const char *))(uintptr_t)real(
			"natsConnection_PublishString");
	const char *subject = subject_of(sub);
	int armed = ARMED;

	if (sub == armed_sub || !conn || closed(conn) || !subject ||
	    strncmp(subject, "_INBOX.", 7) ||
	    strlen(subject) >= sizeof(armed_subject))
		return;
	while (atomic_load_explicit(&state, memory_order_acquire) != IDLE)
		sleep_ms(1); /* the last one still held */
	armed_sub = sub;
	strcpy(armed_subject, subject);
	atomic_store_explicit(&state, ARMED, memory_order_release);
	if (publish(conn, subject, "sub_window") != 0) {
		atomic_store_explicit(&state, IDLE, memory_order_release);
		return;
	}
	for (int ms = 0; ms < ARM_WAIT_MS; ms++) {
		if (atomic_load_explicit(&state, memory_order_acquire) == HELD) {
			atomic_fetch_add_explicit(&held, 1,
						  memory_order_relaxed);
			return;
		}
		sleep_ms(1);
	}
	/* not back: disarmed, unless the read loop took it just now */
	atomic_compare_exchange_strong_explicit(&state, &armed, IDLE,
						memory_order_acq_rel,
						memory_order_acquire);
}

int natsSubscription_Unsubscribe(sub_t *sub)
{
	int (*fn)(sub_t *) = (int (*)(sub_t *))(uintptr_t)real(__func__);

	if (!from_libnats(__builtin_return_address(0)))
		arm(sub);
	return fn(sub);
}

void natsSubscription_Destroy(sub_t *sub)
{
	void (*fn)(sub_t *) = (void (*)(sub_t *))(uintptr_t)real(__func__);

	if (sub && !from_libnats(__builtin_return_address(0))) {
		arm(sub);
		if (sub == armed_sub &&
		    atomic_load_explicit(&state, memory_order_acquire) ==
			    HELD) {
			atomic_fetch_add_explicit(&raced, 1,
						  memory_order_relaxed);
			fprintf(stderr, "sub_window: subscription %s "
				"destroyed while the read loop holds a "
				"message for it\n", armed_subject);
		}
	}
	fn(sub);
}

__attribute__((destructor)) static void report(void)
{
	counts_file("SUB_WINDOW_FILE", "held", &held, "raced", &raced);
}
