/*
 * rtx_archive.c - re-requests for messages older than the re-request
 * server's store (retransmit.h, rtx_set_older()): read back from the
 * channel, by a reader opened at the asked sequence for each such
 * request, which reads the channel's archive when the ring no longer
 * holds them (doc/protocol.md, "Replay, then live"). Only what the reader
 * gets whole and in order goes out: a gap ends the answer there.
 */
#include <stdlib.h>
#include <string.h>

#include "mdbus.h"
#include "moldudp64.h"
#include "retransmit.h"

struct rtx_archive {
	char *channel;
	struct mdbus_sub_config cfg;  /* the run's, anonymous, start SEQ */
	uint64_t epoch;               /* the segment the forwarder reads */
	unsigned char buf[MDBUS_UDP_PAYLOAD_MAX];
};

/* Whether the channel's name still holds the segment the forwarder reads
 * (another one's numbers are not this session's). */
static int same_segment(const struct rtx_archive *a)
{
	struct mdbus_stats st;

	return mdbus_channel_stats(a->channel, a->cfg.dir, &st, NULL, 0) == 0 &&
	       st.epoch == a->epoch;
}

/* rtx_older_fn: messages seq, seq + 1, ... (MoldUDP64 numbers: ring
 * sequence + 1) into w while they fit. */
static unsigned from_channel(void *ctx, uint64_t seq, unsigned count,
			     struct mold_writer *w)
{
	struct rtx_archive *a = ctx;
	struct mdbus_sub_config c = a->cfg;
	struct mdbus_msg m;
	mdbus_sub_t *s;
	unsigned got = 0;

	if (seq == 0 || !same_segment(a))
		return 0;
	c.start_seq = seq - 1;
	if (mdbus_sub_open(&s, a->channel, &c) < 0)
		return 0;
	while (got < count &&
	       mdbus_sub_try_read(s, a->buf, sizeof a->buf, &m) == 0 &&
	       m.lost == 0 && m.seq == seq - 1 + got) {
		struct mold_msg mm = {.ts_ns = m.ts_ns, .type = m.type,
				      .payload = a->buf, .size = m.size};

		if (mold_append_msg(w, &mm) < 0)
			break;
		got++;
	}
	mdbus_sub_close(s);
	/* The name held the forwarder's segment before and after the reader
	 * opened it (epochs are random, never reused): what it read is
	 * this session's. */
	return same_segment(a) ? got : 0;
}

int rtx_archive_open(struct rtx_archive **out, const char *channel,
		     const struct mdbus_sub_config *cfg)
{
	struct rtx_archive *a;
	struct mdbus_stats st;

	if (mdbus_channel_stats(channel, cfg->dir, &st, NULL, 0) < 0)
		return -1;
	a = calloc(1, sizeof *a);
	if (!a || !(a->channel = strdup(channel))) {
		free(a);
		return -1;
	}
	a->cfg = *cfg;
	a->cfg.anonymous = 1;
	a->cfg.start = MDBUS_START_SEQ;
	a->cfg.wait = MDBUS_WAIT_BLOCK;
	a->epoch = st.epoch;
	*out = a;
	return 0;
}

void rtx_archive_attach(struct rtx_archive *a, struct rtx *r)
{
	rtx_set_older(r, from_channel, a);
}

void rtx_archive_close(struct rtx_archive *a)
{
	if (!a)
		return;
	free(a->channel);
	free(a);
}
