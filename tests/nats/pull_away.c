/*
 * pull_away.c - LD_PRELOAD'ed into mdpub by nats/pull_away.sh: counts
 * the JetStream pull requests mdpub publishes
 * ($JS.API.CONSUMER.MSG.NEXT.*, whether from its own pull or libnats's
 * fetch, which calls natsConnection_PublishRequest() through the PLT)
 * and those published while the connection is not up: libnats keeps
 * those for the reconnection, and the server answers them all at once.
 * At exit, "requests N away N" goes to $PULL_AWAY_FILE.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "counts_file.h"
#include "interpose.h"

#define CONNECTED 2 /* NATS_CONN_STATUS_CONNECTED in libnats 3.4 */

static atomic_ulong requests, away;

int natsConnection_PublishRequest(nc_t *nc, const char *subj,
				  const char *reply, const void *data,
				  int len);

int natsConnection_PublishRequest(nc_t *nc, const char *subj,
				  const char *reply, const void *data, int len)
{
	int (*fn)(nc_t *, const char *, const char *, const void *, int) =
		(int (*)(nc_t *, const char *, const char *, const void *,
			 int))(uintptr_t)real(__func__);
	int (*status)(nc_t *) = (int (*)(nc_t *))(uintptr_t)real(
		"natsConnection_Status");

	if (subj && !strncmp(subj, "$JS.API.CONSUMER.MSG.NEXT.", 26)) {
		/* Relaxed: counters read once, at exit */
		atomic_fetch_add_explicit(&requests, 1, memory_order_relaxed);
		if (status(nc) != CONNECTED)
			atomic_fetch_add_explicit(&away, 1, memory_order_relaxed);
	}
	return fn(nc, subj, reply, data, len);
}

__attribute__((destructor)) static void report(void)
{
	counts_file("PULL_AWAY_FILE", "requests", &requests, "away", &away);
}
