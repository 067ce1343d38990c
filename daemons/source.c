/*
 * source.c - the table of sources, and what they share.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"

static const struct source_ops *const all[] = {
	&src_synthetic, &src_replay, &src_udp, &src_lines,
#ifdef HAVE_NATS
	&src_nats,
#endif
};

#define NSOURCES (sizeof(all) / sizeof(all[0]))

const struct source_ops *source_find(const char *name)
{
	for (size_t i = 0; i < NSOURCES; i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

const char *source_names(void)
{
#ifdef HAVE_NATS
	return "synthetic replay udp lines nats";
#else
	return "synthetic replay udp lines";
#endif
}

void *source_alloc(size_t size, struct channel *ch, struct ev_loop *loop)
{
	struct source *src = calloc(1, size);

	if (!src)
		return NULL;
	src->ch = ch;
	src->loop = loop;
	return src;
}

int source_nomem(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}
