/*
 * open_hook.c - LD_PRELOAD'ed into mdsub by mdsub/rtx_replaced.sh, to
 * widen two windows of a forwarder: after its first mdbus_sub_open()
 * returns, it runs the shell command HOOK_AFTER_OPEN (which replaces the
 * channel's segment before the forwarder sets up its server); each
 * mdbus_sub_reopen() first sleeps HOOK_REOPEN_S seconds (the session of
 * the segment replaced stays current that long).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "mdbus.h"

typedef int open_fn(mdbus_sub_t **, const char *,
		    const struct mdbus_sub_config *);
typedef int reopen_fn(mdbus_sub_t *, enum mdbus_start, uint64_t);

int mdbus_sub_open(mdbus_sub_t **out, const char *channel,
		   const struct mdbus_sub_config *cfg)
{
	static int opened;
	open_fn *real = (open_fn *)(uintptr_t)dlsym(RTLD_NEXT, __func__);
	const char *cmd = getenv("HOOK_AFTER_OPEN");
	int rc;

	if (!real)
		abort();
	rc = real(out, channel, cfg);
	if (rc != 0 || !cmd || opened++)
		return rc;
	/* the command without this hook (nor a sanitizer's runtime, which
	 * a program not built with it refuses to load) */
	unsetenv("LD_PRELOAD");
	if (system(cmd) != 0)
		abort();
	return rc;
}

int mdbus_sub_reopen(mdbus_sub_t *sub, enum mdbus_start start, uint64_t seq)
{
	reopen_fn *real = (reopen_fn *)(uintptr_t)dlsym(RTLD_NEXT, __func__);
	const char *s = getenv("HOOK_REOPEN_S");

	if (!real)
		abort();
	if (s)
		sleep((unsigned)atoi(s));
	return real(sub, start, seq);
}
