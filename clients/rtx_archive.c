/*
 * rtx_archive.c - re-requests for messages older than the re-request
 * server's store (retransmit.h, rtx_set_older()): read back from the
 * channel by a reader that reads the channel's archive when the ring no
 * longer holds them (doc/protocol.md, "Replay, then live"). Recordings
 * have no index (doc/protocol.md, "Archive files"): a reader opened at a
 * number walks the record headers of its file from the file's start. So
 * the reader is kept open across requests, with the message it read last
 * and did not answer: a request at or ahead of it (the rest of a gap,
 * asked packet by packet) reads on from there, reading past at most
 * SKIP_MAX messages, while the reader can still give it (it reads the
 * archive, or the ring still holds it: a reader opened in the ring has no
 * archive to fall back to when the ring laps it); only one behind it, or
 * further ahead, opens it anew. The messages read past, by the library
 * (mdbus_sub_archive_skipped()) or here, are counted: the server charges
 * them to the requester. The reader is closed after IDLE_NS without a
 * request: it holds the segment and its archive file, which a
 * replacement or a rotation may have unlinked.
 * Only what the reader gets whole and in order, and the forwarder's
 * filters pass (filter.c), goes out: a gap, or a message the filters
 * drop, ends the answer there; a request for such a message gets none
 * (counted): the forwarder never sent it (doc/protocol.md,
 * "Retransmission").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mdbus.h"
#include "mdsub.h"
#include "moldudp64.h"
#include "retransmit.h"

#define SKIP_MAX 65536 /* messages read past to a request, else a new open */
#define IDLE_NS 3000000000ULL /* the reader is closed after this long idle */

/* The server thread's alone once attached (rtx_older_fn): no lock. */
struct rtx_archive {
	char *channel;
	struct mdbus_sub_config cfg;  /* the run's, anonymous, start SEQ */
	const struct mdsub_opts *o;   /* the forwarder's filters */
	int chan_width;               /* of the read loop's text forms */
	struct text_form text;        /* for --grep, --exclude */
	mdbus_sub_t *s;               /* kept open across requests, or NULL */
	int held;                     /* m and buf: read from s, not answered */
	uint64_t next;                /* ring sequence s reads next */
	uint64_t counted;             /* mdbus_sub_archive_skipped(s) counted */
	uint64_t used_ns;             /* CLOCK_MONOTONIC of the last request */
	struct mdbus_msg m;
	unsigned char buf[MDBUS_UDP_PAYLOAD_MAX];
};

/* Whether the channel's name holds segment `epoch`, the session's
 * (another one's numbers are not this session's); *oldest: the ring's
 * oldest message then. */
static int named_segment(const struct rtx_archive *a, uint64_t epoch,
			 uint64_t *oldest)
{
	struct mdbus_stats st;

	if (channel_header(a->channel, a->cfg.dir, &st) < 0 ||
	    st.epoch != epoch)
		return 0;
	*oldest = st.pub.write_num > st.capacity ?
			  st.pub.write_num - st.capacity : 0;
	return 1;
}

/* Adds what the library read past since the last count to n. */
static void count_skipped(struct rtx_archive *a, struct rtx_counts *n)
{
	uint64_t now = a->s ? mdbus_sub_archive_skipped(a->s) : a->counted;

	n->archive_skipped += now - a->counted;
	a->counted = now;
}

static void drop_reader(struct rtx_archive *a)
{
	mdbus_sub_close(a->s);
	a->s = NULL;
	a->held = 0;
	a->counted = 0;
}

/* The ring sequence of the first message the kept reader gives. */
static uint64_t reader_at(const struct rtx_archive *a)
{
	return a->held ? a->m.seq : a->next;
}

/* Whether the kept reader gives `want` after reading past at most
 * SKIP_MAX messages: it is at or before it, and reads the archive or
 * the ring still holds want (the ring's oldest is `oldest`). */
static int keeps(const struct rtx_archive *a, uint64_t want, uint64_t oldest)
{
	return a->s && reader_at(a) <= want && want - reader_at(a) <= SKIP_MAX &&
	       (mdbus_sub_replaying(a->s) || want >= oldest);
}

/* A reader that gives ring sequence `want` first, or after reading past
 * at most SKIP_MAX messages: the kept one, else one opened at want.
 * Returns 0, or -1 when none can be opened. */
static int reader_for(struct rtx_archive *a, uint64_t want, uint64_t oldest,
		      struct rtx_counts *n)
{
	struct mdbus_sub_config c = a->cfg;

	if (keeps(a, want, oldest))
		return 0;
	drop_reader(a);
	c.start_seq = want;
	if (mdbus_sub_open(&a->s, a->channel, &c) < 0) {
		a->s = NULL;
		return -1;
	}
	n->archive_opens++;
	a->next = want;
	return 0;
}

/* Makes the next message held: 0, or -1 when there is none (not yet
 * written, or an error: then the reader is dropped). */
static int hold_next(struct rtx_archive *a, struct rtx_counts *n)
{
	int rc;

	if (a->held)
		return 0;
	rc = mdbus_sub_try_read(a->s, a->buf, sizeof a->buf, &a->m);
	if (rc == -EAGAIN)
		return -1;
	if (rc < 0) {
		count_skipped(a, n);
		drop_reader(a);
		return -1;
	}
	a->held = 1;
	a->next = a->m.seq + 1;
	return 0;
}

/* Whether the forwarder's filters pass the held message (one that cannot
 * be rendered for --grep does not pass). */
static int held_wanted(struct rtx_archive *a)
{
	struct delivery d = {a->channel, &a->m, a->buf, mdbus_sub_epoch(a->s)};

	return filter_wanted(a->o, &a->text, a->chan_width, &d) > 0;
}

/* Appends to w the messages want, want + 1, ... (ring sequences; at most
 * count) from the kept reader, reading past those before want; returns
 * how many. A message that does not fit, or that the filters drop (then
 * counted when it is want), stays held for the next request. */
static unsigned read_on(struct rtx_archive *a, uint64_t want,
			unsigned count, struct mold_writer *w,
			struct rtx_counts *n)
{
	unsigned got = 0;

	while (got < count && a->s && hold_next(a, n) == 0) {
		struct mold_msg mm = {.ts_ns = a->m.ts_ns, .type = a->m.type,
				      .payload = a->buf, .size = a->m.size};

		if (a->m.seq < want) {
			a->held = 0;
			n->archive_skipped++;
			continue;
		}
		if (a->m.seq != want + got)
			break;
		if (!held_wanted(a)) {
			n->filtered += got == 0;
			break;
		}
		if (mold_append_msg(w, &mm) < 0)
			break;
		a->held = 0;
		got++;
	}
	return got;
}

/* rtx_older_fn: messages seq, seq + 1, ... (MoldUDP64 numbers: ring
 * sequence + 1) of segment `epoch` into w while they fit. */
static unsigned from_channel(void *ctx, uint64_t epoch, uint64_t seq,
			     unsigned count, struct mold_writer *w,
			     struct rtx_counts *n)
{
	struct rtx_archive *a = ctx;
	uint64_t oldest;
	unsigned got;

	a->used_ns = now_monotonic();
	if (a->s && mdbus_sub_epoch(a->s) != epoch)
		drop_reader(a); /* kept from a session before */
	if (seq == 0 || !named_segment(a, epoch, &oldest)) {
		drop_reader(a);
		return 0;
	}
	if (reader_for(a, seq - 1, oldest, n) < 0)
		return 0;
	/* The reader maps the session's segment (epochs are random, never
	 * reused), whatever the name held when it was opened: what it
	 * reads is this session's. */
	if (mdbus_sub_epoch(a->s) != epoch) {
		drop_reader(a);
		return 0;
	}
	got = read_on(a, seq - 1, count, w, n);
	count_skipped(a, n);
	return got;
}

/* rtx_idle_fn: closes the reader IDLE_NS after the last request. */
static void idle(void *ctx, uint64_t now_ns)
{
	struct rtx_archive *a = ctx;

	if (a->s && now_ns - a->used_ns >= IDLE_NS)
		drop_reader(a);
}

int rtx_archive_open(struct rtx_archive **out, const char *channel,
		     const struct mdsub_opts *o, int chan_width)
{
	const struct mdbus_sub_config *cfg = &o->sub;
	struct rtx_archive *a = calloc(1, sizeof *a);

	if (!a || !(a->channel = strdup(channel))) {
		free(a);
		return -1;
	}
	a->cfg = *cfg;
	a->o = o;
	a->chan_width = chan_width;
	a->cfg.anonymous = 1;
	a->cfg.start = MDBUS_START_SEQ;
	a->cfg.wait = MDBUS_WAIT_BLOCK;
	*out = a;
	return 0;
}

void rtx_archive_attach(struct rtx_archive *a, struct rtx *r)
{
	rtx_set_older(r, from_channel, idle, a);
}

void rtx_archive_close(struct rtx_archive *a)
{
	if (!a)
		return;
	drop_reader(a);
	text_form_close(&a->text);
	free(a->channel);
	free(a);
}
