/*
 * soak.h - the entry point of the soak's dlopen'ed consumer.
 */
#ifndef MDPUB_SOAK_H
#define MDPUB_SOAK_H

#include <stddef.h>

#include "check.h"

#define SOAK_PLUGIN_ENTRY "soak_plugin_run"

/* Reads `channel` from its latest message for up to `seconds` in a thread
 * of the plugin, adding what it reads to *t. Returns 1 when it saw
 * FEED_DOWN, 0 when the time was up, -1 on an error (reason in err). */
typedef int soak_plugin_run_fn(const char *channel, double seconds,
			       struct tally *t, char *err, size_t errlen);

#endif /* MDPUB_SOAK_H */
