/*
 * remake_fail.c - LD_PRELOAD'ed into mdpub by nats/remake_fail.sh: a
 * delivery gap, then the remake of the consumer it causes failing once.
 *
 * The DROP_AT-th JetStream delivery natsSubscription_NextMsg() hands
 * mdpub (a message whose reply subject begins $JS.ACK.) is destroyed and
 * the call goes on to the next, as libnats drops a message past a
 * subscription's pending limits: a gap in the consumer's sequence. The
 * first consumer create request (natsConnection_Request(), which
 * libnats's JetStream calls make through its PLT, to
 * $JS.API.CONSUMER.CREATE. or $JS.API.CONSUMER.DURABLE.CREATE.) after
 * mdpub's first consumer delete ($JS.API.CONSUMER.DELETE.: mdpub deletes
 * a durable only to make it again) is not sent and answered NATS_TIMEOUT,
 * as when the server is away. At exit, "dropped N failed N" goes to
 * $REMAKE_FAIL_FILE.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "counts_file.h"
#include "interpose.h"

#define DROP_AT 100     /* the delivery dropped */
#define NATS_TIMEOUT 26 /* natsStatus in libnats 3.4 */
#define ACK_PREFIX "$JS.ACK."
#define DELETE_PREFIX "$JS.API.CONSUMER.DELETE."
#define CREATE_PREFIX "$JS.API.CONSUMER.CREATE."
#define DURABLE_PREFIX "$JS.API.CONSUMER.DURABLE.CREATE."

enum { WAITING, ARMED, DONE };

static atomic_ulong deliveries, dropped, failed;
static atomic_int phase; /* WAITING, ARMED (a delete seen), DONE */

typedef struct msg msg_t;

int natsSubscription_NextMsg(msg_t **msg, sub_t *sub, int64_t timeout);
int natsConnection_Request(msg_t **reply, nc_t *nc, const char *subj,
			   const void *data, int len, int64_t timeout);

static int begins(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

int natsSubscription_NextMsg(msg_t **msg, sub_t *sub, int64_t timeout)
{
	int (*fn)(msg_t **, sub_t *, int64_t) =
		(int (*)(msg_t **, sub_t *, int64_t))(uintptr_t)real(__func__);
	const char *(*reply_of)(msg_t *) =
		(const char *(*)(msg_t *))(uintptr_t)real("natsMsg_GetReply");
	void (*destroy)(msg_t *) =
		(void (*)(msg_t *))(uintptr_t)real("natsMsg_Destroy");
	int s = fn(msg, sub, timeout);

	/* Relaxed: a count, its own order; read once at exit */
	if (s == 0 && begins(reply_of(*msg), ACK_PREFIX) &&
	    atomic_fetch_add_explicit(&deliveries, 1, memory_order_relaxed) +
	    1 == DROP_AT) {
		destroy(*msg);
		*msg = NULL;
		atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
		s = fn(msg, sub, timeout);
	}
	return s;
}

int natsConnection_Request(msg_t **reply, nc_t *nc, const char *subj,
			   const void *data, int len, int64_t timeout)
{
	int (*fn)(msg_t **, nc_t *, const char *, const void *, int,
		  int64_t) =
		(int (*)(msg_t **, nc_t *, const char *, const void *, int,
			 int64_t))(uintptr_t)real(__func__);
	int waiting = WAITING, armed = ARMED;

	/* Relaxed: phase orders nothing else; mdpub's requests come from
	 * one thread at a time (its start, then its reader) */
	if (begins(subj, DELETE_PREFIX))
		atomic_compare_exchange_strong_explicit(&phase, &waiting, ARMED,
							memory_order_relaxed,
							memory_order_relaxed);
	else if ((begins(subj, CREATE_PREFIX) || begins(subj, DURABLE_PREFIX)) &&
		 atomic_compare_exchange_strong_explicit(&phase, &armed, DONE,
							 memory_order_relaxed,
							 memory_order_relaxed)) {
		*reply = NULL;
		atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
		return NATS_TIMEOUT;
	}
	return fn(reply, nc, subj, data, len, timeout);
}

__attribute__((destructor)) static void report(void)
{
	counts_file("REMAKE_FAIL_FILE", "dropped", &dropped, "failed", &failed);
}
