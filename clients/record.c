/*
 * record.c - --record FILE: writes the recording format of
 * daemons/recording.h (read by mdpub's replay source): one file header,
 * then a record header and the payload per message, nothing else, so a
 * file cut short by a crash or a full disk is readable up to its last
 * whole record. The host is little-endian (mdbus_msg.h asserts it), so
 * the structures are written as they are.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mdsub.h"
#include "recording.h"

#define REC_BUFFER (1u << 20)

struct recorder {
	FILE *f;
	const char *path;
};

static int rec_error(const char *path, const char *what)
{
	fprintf(stderr, "mdsub: %s: %s: %s\n", path, what, strerror(errno));
	return -1;
}

static int fill_header(struct mdbus_rec_header *h, const char *channel,
		       const struct mdbus_sub_config *sub)
{
	struct mdbus_stats st;
	int err = mdbus_channel_stats(channel, sub->dir, &st, NULL, 0);

	if (err) {
		fprintf(stderr, "mdsub: %s: cannot read geometry: %s\n",
			channel, mdbus_strerror(err));
		return -1;
	}
	memset(h, 0, sizeof *h);
	memcpy(h->magic, MDBUS_REC_MAGIC, MDBUS_REC_MAGIC_LEN);
	h->version = MDBUS_REC_VERSION;
	h->msg_version = MDBUS_MSG_VERSION;
	snprintf(h->channel, sizeof h->channel, "%s", channel);
	h->slot_size = st.slot_size;
	h->slots_per_block = st.slots_per_block;
	h->block_count = st.block_count;
	h->mode = (uint32_t)st.mode;
	h->create_ns = now_realtime();
	h->header_size = sizeof *h;
	return 0;
}

int rec_open(struct recorder **out, const char *path, const char *channel,
	     const struct mdbus_sub_config *sub)
{
	struct mdbus_rec_header h;
	struct recorder *r;

	if (fill_header(&h, channel, sub))
		return -1;
	r = calloc(1, sizeof *r);
	if (!r)
		return rec_error(path, "out of memory");
	r->path = path;
	r->f = fopen(path, "wb");
	if (!r->f) {
		free(r);
		return rec_error(path, "cannot create");
	}
	setvbuf(r->f, NULL, _IOFBF, REC_BUFFER);
	*out = r;
	if (fwrite(&h, sizeof h, 1, r->f) != 1)
		return rec_error(path, "write");
	return 0;
}

int rec_write(struct recorder *r, const struct delivery *d)
{
	struct mdbus_rec_record rec = {
		.size = d->msg->size,
		.type = d->msg->type,
		.seq = d->msg->seq,
		.ts_ns = d->msg->ts_ns,
	};

	if (fwrite(&rec, sizeof rec, 1, r->f) != 1 ||
	    fwrite(d->payload, 1, rec.size, r->f) != rec.size)
		return rec_error(r->path, "write");
	return 0;
}

int rec_flush(struct recorder *r)
{
	return fflush(r->f) ? rec_error(r->path, "write") : 0;
}

int rec_close(struct recorder *r)
{
	int err = fclose(r->f) ? rec_error(r->path, "write") : 0;

	free(r);
	return err;
}
