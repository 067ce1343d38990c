/*
 * udp_recover.c - the gaps of the `udp` source (src_udp.h), as
 * doc/protocol.md "Retransmission" describes. A packet numbered past the
 * next expected message (within jump_window) is not believed on its own:
 * it is held (with those after it, sorted, up to retransmit_buffer
 * bytes) and the next expected number does not move. A packet that
 * continues the stream (numbered with the next expected message) is
 * published at once, whatever is held: the feed is flowing, so the held
 * packets are suspect (a real gap is not followed by the messages it
 * lacks); those it overtakes or contradicts are discarded, and counted.
 *
 * Without a re-request server, the gaps before held packets are taken as
 * lost when jump_confirm packets in a row continue one of them with no
 * packet of the stream in between, as a stream that really lost packets
 * does (a heartbeat continues them too).
 *
 * With one (retransmit), each gap before a trusted held packet is asked
 * for with MoldUDP64 request packets, one per packet's worth of messages
 * (the most a packet of the session held: an answer is one packet), so
 * that a long gap is asked for in parallel (at most retransmit_requests
 * in flight; one unanswered after a quarter of retransmit_timeout is
 * asked again); a suspect held packet counts as missing. The
 * answers fill the gaps and everything is published in order. An answer
 * that is a heartbeat or an end of session gives the server's next
 * number: held packets at or past it were never sent and are discarded
 * (refuted). A gap before a trusted packet not filled retransmit_timeout
 * after it was seen is lost: counted with its exact number of messages,
 * logged, and what follows is published.
 *
 * When the held packets would pass retransmit_buffer, the one farthest
 * ahead is discarded (a flood of forged packets cannot give up a real
 * gap). Answers come on a socket connected to the server, so the kernel
 * drops datagrams from anywhere else; an answer must be of the current
 * session and fall inside what is held.
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

/* What a held packet costs: the packet and its record (retransmit_buffer
 * counts both), and how many may be held at all, so that a packet's walk
 * of the held list stays bounded whatever a forger sends (attack review:
 * 838 000 held 20-byte heartbeats made each new one walk them all). */
#define HELD_COST(n) (sizeof(struct held) + (n))
#define HELD_MAX 4096u

static const char *name_of(const struct udp *u)
{
	return channel_name(u->base.ch);
}

static int has_server(const struct udp *u)
{
	return u->rec->io_w.fd >= 0;
}

/* 1 when x is a live packet the stream went on past the gap of since it
 * was held: not taken on its own word. */
static int suspect(const struct recovery *rc, const struct held *x)
{
	return !x->answer && !x->trusted && x->epoch != rc->epoch;
}

/* x's chain: none when the stream went on since it was counted. */
static unsigned chain_of(const struct recovery *rc, const struct held *x)
{
	return x->chain_epoch == rc->epoch ? x->chain : 0;
}

/* Unlinks and frees *pp; a live packet is counted under `counter`. */
static void drop(struct udp *u, struct held **pp, unsigned counter)
{
	struct held *x = *pp;

	*pp = x->next;
	u->rec->bytes -= HELD_COST(x->len);
	u->rec->count--;
	if (!x->answer)
		channel_count(u->base.ch, counter, 1);
	free(x);
}

/* Publishes the held packets that the stream has reached, up to a
 * suspect one: the live stream or the server decides it. */
static void drain(struct udp *u)
{
	struct recovery *rc = u->rec;
	struct held *h;

	while ((h = rc->head) && h->seq <= u->expected) {
		uint64_t n = 0;

		if (h->end > u->expected && suspect(rc, h))
			break;
		if (h->end <= u->expected && h->seq < h->end && !h->answer) {
			drop(u, &rc->head, UDP_DISCARDED); /* overtaken */
			continue;
		}
		rc->head = h->next;
		rc->bytes -= HELD_COST(h->len);
		rc->count--;
		if (h->end > u->expected)
			n = udp_publish_packet(u, h->pkt, h->len);
		if (h->answer && n)
			channel_count(u->base.ch, UDP_RECOVERED, n);
		free(h);
	}
	if (!rc->head && has_server(u))
		ev_timer_stop(u->base.loop, &rc->timer);
}

/* Gives up the gap before the first held packet, and trusts it. */
static void expire_front(struct udp *u)
{
	if (u->rec->head->seq > u->expected)
		udp_lost(u, u->rec->head->seq);
	u->rec->head->trusted = 1;
	drain(u);
}

void recover_flush(struct udp *u)
{
	struct recovery *rc = u->rec;
	struct held **pp = &rc->head;

	while (*pp) { /* suspect ones were contradicted by the stream */
		if (suspect(rc, *pp))
			drop(u, pp, UDP_DISCARDED);
		else
			pp = &(*pp)->next;
	}
	while (rc->head)
		expire_front(u);
	if (rc->asked)
		memset(rc->asked, 0,
		       u->conf.retransmit_requests * sizeof *rc->asked);
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

/* Asks for the gaps before the trusted held packets (a suspect one is
 * asked for as if missing), first ones first: at most
 * retransmit_requests requests, so a long gap costs no more than a short
 * one. */
static void ask_gaps(struct udp *u, uint64_t now)
{
	uint64_t from = u->expected, budget = u->conf.retransmit_requests;

	for (struct held *h = u->rec->head; h; h = h->next) {
		if (suspect(u->rec, h))
			continue;
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

/* Links a copy of the packet in at pp. A gap before it was known no
 * later than the packet after it came. */
static void link_copy(struct udp *u, struct held **pp, const unsigned char *p,
		      size_t n, const struct mold_header *h, int answer,
		      unsigned chain, uint64_t now)
{
	struct held *x = malloc(sizeof *x + n);

	if (!x) {
		log_limited(&u->bad_limit, LOG_ERR, "channel %s: out of memory "
			    "holding a packet", name_of(u));
		return;
	}
	*x = (struct held){.next = *pp, .seq = h->seq,
			   .end = h->seq + udp_msgs(h), .arrived_ns = now,
			   .answer = answer, .epoch = u->rec->epoch,
			   .chain = chain, .chain_epoch = u->rec->epoch,
			   .len = n};
	if (*pp && (*pp)->arrived_ns < now)
		x->arrived_ns = (*pp)->arrived_ns;
	memcpy(x->pkt, p, n);
	*pp = x;
	u->rec->bytes += HELD_COST(n);
	u->rec->count++;
	if (has_server(u) && !ev_is_active(&u->rec->timer))
		ev_timer_again(u->base.loop, &u->rec->timer);
}

/* An answer: held in its place unless answers held cover it; it
 * replaces the live packets it overlaps (the server is the authority). */
static void hold_answer(struct udp *u, const unsigned char *p, size_t n,
			const struct mold_header *h, uint64_t now)
{
	uint64_t end = h->seq + udp_msgs(h);
	struct held **pp = &u->rec->head;

	while (*pp && (*pp)->seq <= h->seq) {
		if ((*pp)->answer && (*pp)->end >= end)
			return; /* nothing new in it */
		if (!(*pp)->answer && (*pp)->end > h->seq)
			drop(u, pp, UDP_DISCARDED);
		else
			pp = &(*pp)->next;
	}
	for (struct held **q = pp; *q && (*q)->seq < end;)
		if (!(*q)->answer)
			drop(u, q, UDP_DISCARDED);
		else
			q = &(*q)->next;
	link_copy(u, pp, p, n, h, 1, 0, now);
}

/* Discards the held live packet farthest ahead; 0, or -1 when the
 * packet numbered seq is farther still (it is then not held). */
static int make_room(struct udp *u, uint64_t seq)
{
	struct held **pp = &u->rec->head, **far = NULL;

	for (; *pp; pp = &(*pp)->next)
		if (!(*pp)->answer)
			far = pp;
	if (!far || (*far)->seq <= seq)
		return -1;
	drop(u, far, UDP_DISCARDED);
	return 0;
}

/* 1 when the packet is already held, byte for byte. */
static int same(const struct held *x, const unsigned char *p, size_t n)
{
	return x->len == n && !memcmp(x->pkt, p, n);
}

/* 1 when x and the packet numbered [seq, end) claim a number both (a
 * heartbeat claims that it is the next: it overlaps a packet holding
 * numbers on both sides of it, or a heartbeat of the same number). */
static int overlaps(const struct held *x, uint64_t seq, uint64_t end)
{
	if (x->seq == x->end && seq == end)
		return x->seq == seq;
	if (x->seq == x->end)
		return seq < x->seq && x->seq < end;
	if (seq == end)
		return x->seq < seq && seq < x->end;
	return x->seq < end && seq < x->end;
}

/* A live packet ahead: held in its place, its chain one more than the
 * held packet it continues. One that contradicts a held live packet
 * (overlaps it with other bytes) is discarded with it: one is forged. */
static void hold_live(struct udp *u, const unsigned char *p, size_t n,
		      const struct mold_header *h, uint64_t now)
{
	struct recovery *rc = u->rec;
	uint64_t end = h->seq + udp_msgs(h);
	unsigned chain = 0;
	struct held **pp, **at = NULL;

	while (rc->head && (rc->bytes + HELD_COST(n) > u->conf.retransmit_buffer ||
			    rc->count >= HELD_MAX))
		if (make_room(u, h->seq) < 0) {
			channel_count(u->base.ch, UDP_DISCARDED, 1);
			return;
		}
	for (pp = &rc->head; *pp; pp = &(*pp)->next) {
		struct held *x = *pp;

		if (!at && x->seq > h->seq)
			at = pp;
		if (x->end == h->seq && chain_of(rc, x) + 1 > chain)
			chain = chain_of(rc, x) + 1;
		if (x->answer || !overlaps(x, h->seq, end))
			continue;
		if (x->seq == x->end && same(x, p, n)) {
			x->chain = chain_of(rc, x) + 1; /* a heartbeat again */
			x->chain_epoch = rc->epoch;
			return;
		}
		if (same(x, p, n)) {
			channel_count(u->base.ch, UDP_DUPLICATE, 1);
			return;
		}
		drop(u, pp, UDP_DISCARDED); /* contradicts it */
		channel_count(u->base.ch, UDP_DISCARDED, 1);
		return;
	}
	link_copy(u, at ? at : pp, p, n, h, 0, chain, now);
}

/* No server: when jump_confirm packets in a row continued a held packet,
 * the stream went on past every gap before it: those gaps are lost and
 * the packets held before it are taken. Any run counts, not only the
 * first held packets' (a second gap close behind the first left the
 * first run short of jump_confirm for good: the channel held everything
 * until the held list was full and the feed jump_window ahead, then took
 * a jump, its messages not lost to readers but gone). */
static void adopt_confirmed(struct udp *u)
{
	struct held *x, *last = NULL;

	for (x = u->rec->head; x; x = x->next)
		if (chain_of(u->rec, x) >= u->conf.jump_confirm)
			last = x;
	if (!last)
		return;
	for (x = u->rec->head; x != last->next; x = x->next)
		x->trusted = 1;
	while (u->rec->head && u->rec->head->trusted)
		expire_front(u);
}

/* A packet that continues the stream was published: the held live
 * packets it reached are discarded (they are first in the list), the
 * others become suspect and their chains start again (a new epoch: no
 * walk over what is held). */
static void live_progress(struct udp *u)
{
	struct held **pp = &u->rec->head;

	u->rec->epoch++;
	while (*pp && (*pp)->seq < u->expected) {
		if (!(*pp)->answer)
			drop(u, pp, UDP_DISCARDED);
		else
			pp = &(*pp)->next;
	}
}

void recover_packet(struct udp *u, const unsigned char *p, size_t n,
		    const struct mold_header *h)
{
	uint64_t now = now_monotonic();

	note_size(u->rec, h);
	if (h->seq <= u->expected) {
		udp_publish_packet(u, p, n);
		live_progress(u);
	} else {
		hold_live(u, p, n, h, now);
	}
	drain(u);
	if (has_server(u))
		ask_gaps(u, now);
	else
		adopt_confirmed(u);
}

/* A heartbeat or end of session from the server: nothing was sent from
 * its number on, so the held live packets past it are forged. */
static void refute(struct udp *u, uint64_t next)
{
	struct held **pp = &u->rec->head;

	while (*pp)
		if (!(*pp)->answer && (*pp)->end > next)
			drop(u, pp, UDP_REFUTED);
		else
			pp = &(*pp)->next;
}

/* An answer: takes it when it is of the session, falls inside what is
 * held and fits retransmit_buffer (answers give up no gap: a flood of
 * them cannot cost real messages). */
static void take_answer(struct udp *u, const unsigned char *p, size_t n,
			uint64_t now)
{
	struct recovery *rc = u->rec;
	struct mold_reader r;
	struct mold_header h;
	uint64_t last = 0;

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
	if (!udp_msgs(&h)) {
		refute(u, h.seq);
		drain(u);
		return;
	}
	note_size(rc, &h);
	for (struct held *x = rc->head; x; x = x->next)
		if (x->end > last)
			last = x->end;
	if (h.seq + udp_msgs(&h) <= u->expected || h.seq >= last ||
	    rc->bytes + HELD_COST(n) > u->conf.retransmit_buffer ||
	    rc->count >= HELD_MAX) {
		channel_count(u->base.ch, UDP_DUPLICATE, 1);
		return;
	}
	hold_answer(u, p, n, &h, now);
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

/* Gives up the gaps before trusted packets whose time is over, asks
 * again for the others. */
static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct udp *u = w->data;
	struct recovery *rc = u->rec;
	uint64_t now = now_monotonic();

	while (has_server(u) && rc->head && !suspect(rc, rc->head) &&
	       now - rc->head->arrived_ns >= rc->timeout_ns)
		expire_front(u);
	if (rc->head && has_server(u))
		ask_gaps(u, now);
	else if (!rc->head)
		ev_timer_stop(loop, w);
}

int recover_start(struct udp *u, char *err, size_t errlen)
{
	struct recovery *rc = calloc(1, sizeof *rc);
	int fd;

	if (!rc)
		return source_nomem(err, errlen);
	rc->io_w.fd = -1;
	rc->per_packet = 1;
	u->rec = rc;
	if (!u->conf.retransmit)
		return 0;
	rc->asked = calloc(u->conf.retransmit_requests, sizeof *rc->asked);
	if (!rc->asked) {
		recover_stop(u);
		return source_nomem(err, errlen);
	}
	fd = net_connect(u->conf.retransmit, SOCK_DGRAM, err, errlen);
	if (fd < 0) {
		recover_stop(u);
		return fd;
	}
	rc->timeout_ns = (uint64_t)(u->conf.retransmit_timeout * 1e9);
	rc->resend_ns = rc->timeout_ns / 4 > RESEND_MIN_NS ? rc->timeout_ns / 4 :
							    RESEND_MIN_NS;
	ev_io_init(&rc->io_w, answer_cb, fd, EV_READ);
	rc->io_w.data = u;
	ev_init(&rc->timer, timer_cb);
	rc->timer.repeat = (double)rc->resend_ns / 1e9;
	rc->timer.data = u;
	ev_io_start(u->base.loop, &rc->io_w);
	return 0;
}

void recover_stop(struct udp *u)
{
	struct recovery *rc = u->rec;

	if (!rc)
		return;
	if (has_server(u)) {
		ev_io_stop(u->base.loop, &rc->io_w);
		ev_timer_stop(u->base.loop, &rc->timer);
		close(rc->io_w.fd);
	}
	while (rc->head) {
		struct held *h = rc->head;

		rc->head = h->next;
		free(h);
	}
	free(rc->asked);
	free(rc);
	u->rec = NULL;
}
