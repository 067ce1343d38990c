/*
 * unlink.c - --unlink CHANNEL...: removes each channel's files with
 * mdbus_channel_remove() (its segment, consumer table and lock file;
 * doc/protocol.md, "Segment names"), refused while a live publisher owns
 * it unless --force, and when its segment or lock file is another
 * user's. Other users' consumer table files and hidden segments under the
 * channel's names are left and named (no part of this user's channel).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "error_text.h"
#include "mdsub.h"

/* The pid of the channel's live publisher, or 0. */
static pid_t live_publisher(const char *channel, const char *dir)
{
	struct mdbus_stats st;

	if (channel_header(channel, dir, &st) < 0 ||
	    st.pub.state != MDBUS_PUB_ACTIVE)
		return 0;
	return st.pub.pid;
}

static int unlink_one(const char *channel, const struct mdsub_opts *o)
{
	pid_t pid = o->force ? live_publisher(channel, o->sub.dir) : 0;
	int r = mdbus_channel_remove(channel, o->sub.dir,
				     o->force ? MDBUS_UNLINK_FORCE : 0);

	if (r < 0) {
		fputs("mdsub: ", stderr);
		put_str(stderr, STR_TEXT, mdbus_error_text(r), SIZE_MAX);
		fputs(r == MDBUS_EOWNED ? " (stop it first, or --force)\n"
					: "\n", stderr);
		return EXIT_FAILURE;
	}
	fprintf(stderr, "mdsub: channel %s: %d file%s removed", channel, r,
		r == 1 ? "" : "s");
	if (*mdbus_last_error()) { /* other users' files left */
		fputs("; ", stderr);
		put_str(stderr, STR_TEXT, mdbus_last_error(), SIZE_MAX);
	}
	putc('\n', stderr);
	if (pid)
		fprintf(stderr, "mdsub: channel %s: its publisher pid %d runs "
			"on and keeps its lock file: readers attached read on, "
			"no new one finds the channel\n", channel, (int)pid);
	return EXIT_SUCCESS;
}

int unlink_run(const struct mdsub_opts *o)
{
	int status = EXIT_SUCCESS;

	for (int i = 0; i < o->nchannels; i++)
		if (unlink_one(o->channels[i], o) != EXIT_SUCCESS)
			status = EXIT_FAILURE;
	return status;
}
