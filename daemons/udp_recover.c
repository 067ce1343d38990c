/*
 * udp_recover.c - gap recovery of the `udp` source (src_udp.h), as
 * doc/protocol.md "Retransmission" describes: a packet numbered past
 * the next expected message is held (with those after it, sorted, up to
 * retransmit_buffer bytes), each gap is asked for with MoldUDP64 request
 * packets to the re-request server, one per packet's worth of messages
 * (the most a packet of the session held: an answer is one packet), so
 * that a long gap is asked for in parallel (at most retransmit_requests
 * in flight; one unanswered after a quarter of retransmit_timeout is
 * asked again), the answers fill the gaps and everything is published in
 * order. A gap not filled retransmit_timeout after it was seen is lost:
 * counted with its exact number of messages, logged, and what follows is
 * published. When the held packets would pass retransmit_buffer, the
 * oldest gap is given up early the same way.
 *
 * Answers come on a socket connected to the server, so the kernel drops
 * datagrams from anywhere else; an answer must be of the current session
 * and start inside what is held, so it cannot move the stream beyond
 * what the live packets showed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "clock.h"
#include "net.h"
#include "src_udp.h"

#define ANSWERS_PER_CB 64
#define RESEND_MIN_NS 1000000ULL /* 1 ms */

static const char *name_of(const struct udp *u)
{
	return channel_name(u->base.ch);
}

/* Publishes the held packets that the stream has reached. */
static void drain(struct udp *u)
{
	struct recovery *rc = u->rec;
	struct held *h;

	while ((h = rc->head) && h->seq <= u->expected) {
		uint64_t n = 0;

		rc->head = h->next;
		rc->bytes -= h->len;
		if (h->end > u->expected)
			n = udp_publish_packet(u, h->pkt, h->len);
		if (h->answer && n)
			channel_count(u->base.ch, UDP_RECOVERED, n);
		free(h);
	}
	if (!rc->head)
		ev_timer_stop(u->base.loop, &rc->timer);
}

/* Gives up the gap before the first held packet. */
static void expire_front(struct udp *u)
{
	if (u->rec->head->seq > u->expected)
		udp_lost(u, u->rec->head->seq);
	drain(u);
}

void recover_flush(struct udp *u)
{
	struct recovery *rc = u->rec;

	if (!rc)
		return;
	while (rc->head)
		expire_front(u);
	memset(rc->asked, 0, u->conf.retransmit_requests * sizeof *rc->asked);
	rc->per_packet = 1;
}

/* Sends a request for the gap [seq, seq + len) unless one is in flight.
 * Returns 0, or -1 when every request is in flight. */
static int ask(struct udp *u, uint64_t seq, uint64_t len, uint64_t now)
{
	struct recovery *rc = u->rec;
	struct asked *free_slot = NULL;
	struct mold_header req = {.seq = seq,
				  .count = len < MOLD_COUNT_END ? (uint16_t)len :
							   MOLD_COUNT_END};
	unsigned char pkt[MOLD_REQUEST_LEN];

	for (uint64_t i = 0; i < u->conf.retransmit_requests; i++) {
		struct asked *a = &rc->asked[i];
		int flying = a->sent_ns && now - a->sent_ns < rc->resend_ns &&
			     a->seq >= u->expected;

		if (flying && a->seq == seq)
			return 0;
		if (!flying && !free_slot)
			free_slot = a;
	}
	if (!free_slot)
		return -1;
	memcpy(req.session, u->session, MOLD_SESSION_LEN);
	mold_request_encode(pkt, sizeof pkt, &req);
	if (send(rc->io_w.fd, pkt, sizeof pkt, 0) < 0 && errno != ECONNREFUSED)
		log_limited(&u->bad_limit, LOG_WARNING, "channel %s: re-request: "
			    "%s", name_of(u), strerror(errno));
	channel_count(u->base.ch, UDP_REQUESTS, 1);
	*free_slot = (struct asked){seq, now};
	return 0;
}

/* Asks for the gap [from, to) a packet's worth at a time, each request
 * (sent now or in flight) taking one of *budget. Returns 0, or -1 when
 * the budget or the free requests are used up. */
static int ask_gap(struct udp *u, uint64_t from, uint64_t to, uint64_t now,
		   uint64_t *budget)
{
	uint64_t step = u->rec->per_packet;

	for (; from < to; from += step) {
		if (!*budget || ask(u, from, to - from < step ? to - from : step,
				    now) < 0)
			return -1;
		--*budget;
	}
	return 0;
}

/* Asks for the gaps between the held packets, first ones first: at most
 * retransmit_requests requests, so a long gap costs no more than a short
 * one. */
static void ask_gaps(struct udp *u, uint64_t now)
{
	uint64_t from = u->expected, budget = u->conf.retransmit_requests;

	for (struct held *h = u->rec->head; h; h = h->next) {
		if (h->seq > from && ask_gap(u, from, h->seq, now, &budget) < 0)
			return;
		if (h->end > from)
			from = h->end;
	}
}

/* The most messages a packet of the session held: what one answer can
 * hold. */
static void note_size(struct recovery *rc, const struct mold_header *h)
{
	if (udp_msgs(h) > rc->per_packet)
		rc->per_packet = udp_msgs(h);
}

/* Holds a copy of the packet in its place, unless those held cover it.
 * A gap before it was known no later than the packet after it came. */
static void hold(struct udp *u, const unsigned char *p, size_t n,
		 const struct mold_header *h, int answer, uint64_t now)
{
	struct recovery *rc = u->rec;
	uint64_t end = h->seq + udp_msgs(h);
	struct held **pp = &rc->head, *x;

	for (; *pp && (*pp)->seq <= h->seq; pp = &(*pp)->next)
		if ((*pp)->end >= end)
			return; /* nothing new in it */
	x = malloc(sizeof *x + n);
	if (!x) {
		log_limited(&u->bad_limit, LOG_ERR, "channel %s: out of memory "
			    "holding a packet", name_of(u));
		return;
	}
	*x = (struct held){*pp, h->seq, end, now, answer, n};
	if (*pp && (*pp)->arrived_ns < now)
		x->arrived_ns = (*pp)->arrived_ns;
	memcpy(x->pkt, p, n);
	*pp = x;
	rc->bytes += n;
	if (!ev_is_active(&rc->timer))
		ev_timer_again(u->base.loop, &rc->timer);
}

void recover_packet(struct udp *u, const unsigned char *p, size_t n,
		    const struct mold_header *h)
{
	struct recovery *rc = u->rec;
	uint64_t now = now_monotonic();

	note_size(rc, h);
	while (rc->head && rc->bytes + n > u->conf.retransmit_buffer) {
		log_limited(&u->bad_limit, LOG_WARNING, "channel %s: "
			    "retransmit_buffer full: a gap given up early",
			    name_of(u));
		expire_front(u);
	}
	hold(u, p, n, h, 0, now);
	drain(u);
	ask_gaps(u, now);
}

/* An answer: takes it when it is of the session, starts inside the gaps
 * held packets wait behind, and fits retransmit_buffer (answers give up
 * no gap: a flood of forged ones cannot cost real messages). */
static void take_answer(struct udp *u, const unsigned char *p, size_t n,
			uint64_t now)
{
	struct recovery *rc = u->rec;
	struct mold_reader r;
	struct mold_header h;
	struct held *last = rc->head;

	if (mold_reader_init(&r, p, n, &h) < 0) {
		channel_count_malformed(u->base.ch);
		channel_count(u->base.ch, UDP_MALFORMED, 1);
		return;
	}
	if (memcmp(h.session, u->session, MOLD_SESSION_LEN)) {
		channel_count(u->base.ch, UDP_SESSION, 1);
		return;
	}
	for (uint64_t i = 0; i < u->conf.retransmit_requests; i++)
		if (rc->asked[i].seq == h.seq)
			rc->asked[i].sent_ns = 0;
	note_size(rc, &h);
	while (last && last->next)
		last = last->next;
	if (!udp_msgs(&h) || !last || h.seq + udp_msgs(&h) <= u->expected ||
	    h.seq >= last->seq || rc->bytes + n > u->conf.retransmit_buffer) {
		channel_count(u->base.ch, UDP_DUPLICATE, 1);
		return;
	}
	hold(u, p, n, &h, 1, now);
	drain(u);
}

static void answer_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct udp *u = w->data;
	struct recovery *rc = u->rec;

	for (int i = 0; i < ANSWERS_PER_CB; i++) { /* bounded: no pause */
		ssize_t n = recv(w->fd, rc->pkt, sizeof rc->pkt, MSG_TRUNC);

		if (n < 0)
			break;
		if (rc->head)
			take_answer(u, rc->pkt, (size_t)n, now_monotonic());
	}
	if (rc->head)
		ask_gaps(u, now_monotonic());
}

/* Gives up the gaps whose time is over, asks again for the others. */
static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct udp *u = w->data;
	struct recovery *rc = u->rec;
	uint64_t now = now_monotonic();

	while (rc->head && now - rc->head->arrived_ns >= rc->timeout_ns)
		expire_front(u);
	if (rc->head)
		ask_gaps(u, now);
}

int recover_start(struct udp *u, char *err, size_t errlen)
{
	struct recovery *rc;
	int fd;

	if (!u->conf.retransmit)
		return 0;
	rc = calloc(1, sizeof *rc);
	if (rc)
		rc->asked = calloc(u->conf.retransmit_requests, sizeof *rc->asked);
	if (!rc || !rc->asked) {
		free(rc);
		return source_nomem(err, errlen);
	}
	fd = net_connect(u->conf.retransmit, SOCK_DGRAM, err, errlen);
	if (fd < 0) {
		free(rc->asked);
		free(rc);
		return fd;
	}
	rc->per_packet = 1;
	rc->timeout_ns = (uint64_t)(u->conf.retransmit_timeout * 1e9);
	rc->resend_ns = rc->timeout_ns / 4 > RESEND_MIN_NS ? rc->timeout_ns / 4 :
							    RESEND_MIN_NS;
	ev_io_init(&rc->io_w, answer_cb, fd, EV_READ);
	rc->io_w.data = u;
	ev_init(&rc->timer, timer_cb);
	rc->timer.repeat = (double)rc->resend_ns / 1e9;
	rc->timer.data = u;
	ev_io_start(u->base.loop, &rc->io_w);
	u->rec = rc;
	return 0;
}

void recover_stop(struct udp *u)
{
	struct recovery *rc = u->rec;

	if (!rc)
		return;
	ev_io_stop(u->base.loop, &rc->io_w);
	ev_timer_stop(u->base.loop, &rc->timer);
	close(rc->io_w.fd);
	while (rc->head) {
		struct held *h = rc->head;

		rc->head = h->next;
		free(h);
	}
	free(rc->asked);
	free(rc);
	u->rec = NULL;
}
