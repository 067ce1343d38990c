/*
 * filter.c - -t, -s, --grep and --exclude (mdsub(1)): the one test of
 * whether mdsub passes a message on. The read loop (run.c) applies it
 * before the sinks, and the re-request server's archive hook
 * (rtx_archive.c) to what it reads back, so that a re-request never gets
 * a message the forwarder's filters drop (doc/protocol.md,
 * "Retransmission").
 */
#include <fnmatch.h>

#include "mdsub.h"

static int symbol_wanted(const struct mdsub_opts *o, const struct delivery *d)
{
	char sym[MDBUS_SYMBOL_LEN + 1];

	if (!o->nsymbols)
		return 1;
	if (!msg_symbol(d, sym))
		return 0;
	for (int i = 0; i < o->nsymbols; i++)
		if (fnmatch(o->symbols[i], sym, 0) == 0)
			return 1;
	return 0;
}

static int type_wanted(const struct mdsub_opts *o, unsigned type)
{
	if (!o->ntypes)
		return 1;
	for (int i = 0; i < o->ntypes; i++)
		if (o->types[i] == type)
			return 1;
	return 0;
}

int filter_wanted(const struct mdsub_opts *o, struct text_form *t,
		  int chan_width, const struct delivery *d)
{
	if (!type_wanted(o, d->msg->type) || !symbol_wanted(o, d))
		return 0;
	return grep_wanted(&o->grep, t, chan_width, d);
}
