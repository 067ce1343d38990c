/*
 * reaper.h - a channel's reaper: a thread of mdpub that frees the
 * consumer entries of dead readers every reap_interval
 * (mdbus_pub_reclaim()), so that the /proc reads it takes, about 10 us
 * an entry in use, are not taken from the thread that publishes.
 */
#ifndef MDPUB_REAPER_H
#define MDPUB_REAPER_H

#include <stddef.h>

#include "conf.h"
#include "mdbus.h"

struct reaper;

/* Starts the reaper of channel c, published by pub. Returns 0 and sets
 * *out, or a negative code with the reason in err. */
int reaper_start(struct reaper **out, const struct chan_conf *c,
		 mdbus_pub_t *pub, char *err, size_t errlen);

/* Ends the thread (at once, also in the middle of its wait) and frees;
 * before pub is closed. */
void reaper_stop(struct reaper *r);

#endif
