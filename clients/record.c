/*
 * record.c - --record FILE: the channel's messages, as read, written to a
 * recording (mdbus_rec.h; format: doc/protocol.md, "Recording format"),
 * which mdpub's replay source and mdbus_rec_open() read back. Every
 * function returns 0 or a negative code and prints nothing: rec_open()'s
 * detail is in mdbus_last_error(), the others fail only as writes do.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdbus_rec.h"
#include "mdsub.h"

struct recorder {
	mdbus_rec_writer_t *w;
	uint64_t msgs;
};

int rec_info_of(struct mdbus_rec_info *info, const char *channel,
		const struct mdbus_sub_config *sub)
{
	struct mdbus_stats st;
	int err = channel_header(channel, sub->dir, &st);

	if (err)
		return err;
	memset(info, 0, sizeof *info);
	snprintf(info->channel, sizeof info->channel, "%s", channel);
	info->msg_version = MDBUS_MSG_VERSION;
	info->slot_size = st.slot_size;
	info->slots_per_block = st.slots_per_block;
	info->block_count = st.block_count;
	info->mode = st.mode;
	return 0;
}

int rec_open(struct recorder **out, const char *path,
	     const struct mdbus_rec_info *info, int replace)
{
	struct recorder *r;
	int err;

	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	if (strcmp(path, "-") == 0)
		err = mdbus_rec_create_fd(&r->w, STDOUT_FILENO, info);
	else
		err = mdbus_rec_create(&r->w, path, info,
				       replace ? 0 : MDBUS_REC_EXCL);
	if (err) {
		free(r);
		return err;
	}
	*out = r;
	return 0;
}

int rec_write(struct recorder *r, const struct delivery *d)
{
	int err = mdbus_rec_write(r->w, d->msg, d->payload);

	r->msgs += !err;
	return err;
}

int rec_flush(struct recorder *r)
{
	return mdbus_rec_flush(r->w);
}

int rec_close(struct recorder *r, uint64_t *msgs)
{
	int err = mdbus_rec_finish(r->w);

	*msgs = r->msgs;
	free(r);
	return err;
}
