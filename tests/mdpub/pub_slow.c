/*
 * pub_slow.c - LD_PRELOAD'ed into mdpub by mdpub/stats_order.sh: after
 * each message mdbus_pub_publish() publishes, the caller (the channel's
 * thread) sleeps PUB_SLOW_MS milliseconds, so that a reader sees the
 * message long before the thread goes on to count it.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "mdbus.h"

int mdbus_pub_publish(mdbus_pub_t *pub, uint16_t type, const void *data,
		      size_t size, uint64_t ts_ns)
{
	static int (*next)(mdbus_pub_t *, uint16_t, const void *, size_t,
			   uint64_t);
	const char *ms = getenv("PUB_SLOW_MS");
	int rc;

	if (!next) {
		next = (int (*)(mdbus_pub_t *, uint16_t, const void *, size_t,
				uint64_t))(uintptr_t)dlsym(RTLD_NEXT, __func__);
		if (!next)
			abort();
	}
	rc = next(pub, type, data, size, ts_ns);
	if (rc == 0 && ms) {
		long n = atol(ms);
		struct timespec ts = {n / 1000, (n % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	return rc;
}
