/*
 * pull_hold.c - LD_PRELOAD'ed into mdpub by nats/pull_limits.sh and
 * nats/pull_flood.sh: the
 * nats source's reader is held as its first JetStream delivery (a
 * message whose reply subject begins $JS.ACK.) comes out of
 * natsSubscription_NextMsg(), until the rest of its pull request's batch
 * came to the inbox: $PULL_HOLD_COUNT messages in all, the one taken,
 * those the subscription holds and those libnats dropped on it past its
 * pending limits (natsSubscription_GetPending(), GetDropped()), or
 * HOLD_MAX_MS; as a busy reader thread lags behind its requests. At
 * exit, "held N dropped N" goes to $PULL_HOLD_FILE: the dropped ones
 * counted as the hold ended.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "counts_file.h"
#include "interpose.h"

#define HOLD_MAX_MS 20000
#define POLL_MS 10
#define ACK_PREFIX "$JS.ACK."

typedef struct msg msg_t;

static atomic_ulong held, dropped;

int natsSubscription_NextMsg(msg_t **msg, sub_t *sub, int64_t timeout);

/* Messages libnats dropped on sub so far */
static int64_t dropped_on(sub_t *sub)
{
	int (*fn)(sub_t *, int64_t *) = (int (*)(sub_t *, int64_t *))(uintptr_t)
		real("natsSubscription_GetDropped");
	int64_t n = 0;

	return fn(sub, &n) == 0 ? n : 0;
}

/* Until `want` messages came to sub (one taken), or HOLD_MAX_MS */
static void hold(sub_t *sub, long want)
{
	int (*pending)(sub_t *, int *, int *) =
		(int (*)(sub_t *, int *, int *))(uintptr_t)real(
			"natsSubscription_GetPending");

	for (long ms = 0; ms < HOLD_MAX_MS; ms += POLL_MS) {
		int msgs = 0, bytes = 0;

		if (pending(sub, &msgs, &bytes) == 0 &&
		    1 + msgs + dropped_on(sub) >= want)
			return;
		sleep_ms(POLL_MS);
	}
}

int natsSubscription_NextMsg(msg_t **msg, sub_t *sub, int64_t timeout)
{
	int (*fn)(msg_t **, sub_t *, int64_t) =
		(int (*)(msg_t **, sub_t *, int64_t))(uintptr_t)real(__func__);
	const char *(*reply_of)(msg_t *) =
		(const char *(*)(msg_t *))(uintptr_t)real("natsMsg_GetReply");
	const char *want = getenv("PULL_HOLD_COUNT");
	int s = fn(msg, sub, timeout);
	const char *reply = s == 0 ? reply_of(*msg) : NULL;
	unsigned long first = 0;

	/* Relaxed: counts, read once at exit; only the reader calls this
	 * with deliveries */
	if (reply && !strncmp(reply, ACK_PREFIX, strlen(ACK_PREFIX)) &&
	    atomic_compare_exchange_strong_explicit(&held, &first, 1,
						    memory_order_relaxed,
						    memory_order_relaxed)) {
		hold(sub, want ? atol(want) : 1);
		atomic_store_explicit(&dropped, (unsigned long)dropped_on(sub),
				      memory_order_relaxed);
	}
	return s;
}

__attribute__((destructor)) static void report(void)
{
	counts_file("PULL_HOLD_FILE", "held", &held, "dropped", &dropped);
}
