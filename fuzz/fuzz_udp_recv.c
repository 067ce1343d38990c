/*
 * fuzz_udp_recv.c - stateful libFuzzer harness for mdpub's `udp` source
 * (daemons/src_udp.c and daemons/udp_recover.c): what anyone who can
 * send to its port (and, with retransmit, its re-request server) makes
 * it publish. The sources are compiled into this file to reach their
 * static packet handlers; the channel is a stub that checks what it is
 * given. Input: two configuration bytes, then operations of 5 bytes: a live
 * packet, an answer from the server, or the server's timer. Each
 * message carries the number its packet gives it and its session.
 *
 * Invariants (doc/protocol.md, "UDP framing", "The receiver"): within a
 * session the channel's numbering is the feed's: each message published
 * is the one expected next, a gap before it skipped in the channel
 * (counted lost) or jumped over (an adopted jump); the held packets stay
 * sorted, counted and within retransmit_buffer and HELD_MAX; a session
 * ends (and another may take over at once) only by its end of session,
 * in sequence or ahead within jump_window (mdpub.conf(5), SOURCE udp).
 * -DFUZZ_TRACE prints what each operation does.
 */
#include "config.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define name_of recover_name_of
#include "../daemons/udp_recover.c"
#undef name_of
#include "../daemons/src_udp.c"

/* ---- the channel and the rest of mdpub, stubbed ---- */

static struct udp *fz_u; /* the source under test */

/* Each message is published as the number the source expects next
 * (none at the start of a session): a gap before it was skipped (counted
 * lost) or jumped over (an adopted jump) first. */
int channel_publish(struct channel *ch, uint16_t type, const void *data,
		    size_t size, uint64_t ts_ns)
{
	uint64_t n;

	assert(size == 10);
	memcpy(&n, data, 8);
#ifdef FUZZ_TRACE
	fprintf(stderr, "  publish %c %llu%s\n", 'A' + ((const char *)data)[8],
		(unsigned long long)n,
		((const unsigned char *)data)[9] ? " (forged)" : "");
#endif
	assert(!fz_u->expected || n == fz_u->expected);
	return 0;
}

int channel_skip(struct channel *ch, uint64_t n)
{
	assert(n > 0 && fz_u->expected);
#ifdef FUZZ_TRACE
	fprintf(stderr, "  skip %llu\n", (unsigned long long)n);
#endif
	return 0;
}

void channel_count(struct channel *ch, unsigned which, uint64_t by)
{
#ifdef FUZZ_TRACE
	fprintf(stderr, "  count %u +%llu\n", which, (unsigned long long)by);
#endif
}

void channel_count_gap(struct channel *ch, uint64_t lost) {}
void channel_count_malformed(struct channel *ch) {}
int channel_paused(const struct channel *ch) { return 0; }
const char *channel_name(const struct channel *ch) { return "fz"; }
void log_msg(int level, const char *fmt, ...) {}
void log_limited(struct log_limit *lim, int level, const char *fmt, ...) {}
void log_limit_init(struct log_limit *lim, unsigned burst, int level,
		    const char *fmt, ...) {}
void log_limit_end(struct log_limit *lim) {}
void *source_alloc(size_t size, struct channel *ch, struct ev_loop *loop)
{
	return NULL;
}
int source_nomem(char *err, size_t errlen) { return -12; }

/* ---- the harness ---- */

/* The source before a live packet. */
struct before {
	int ended;
	uint64_t expected;
	char session[MOLD_SESSION_LEN];
};

/* A packet that ends the session is its end of session, in sequence or
 * ahead within jump_window (mdpub.conf(5): one "repeated, numbered
 * before a message taken already, or past jump_window ends nothing"),
 * or the first packet of a session just taken, which expects no number
 * yet. */
static void check_ended(const struct udp *u, const struct before *b,
			uint64_t seq, unsigned count)
{
	if (!u->ended || memcmp(u->session, b->session, MOLD_SESSION_LEN))
		return;
	if (b->ended)
		return;
	assert(count == MOLD_COUNT_END);
	assert(!b->expected || (seq >= b->expected &&
				seq - b->expected <= u->conf.jump_window));
}

static void check_held(const struct udp *u)
{
	const struct recovery *rc = u->rec;
	size_t bytes = 0;
	unsigned count = 0;

	for (const struct held *x = rc->head; x; x = x->next) {
		assert(!x->next || x->seq <= x->next->seq);
		assert(x->end >= x->seq);
		bytes += HELD_COST(x->len);
		count++;
	}
	assert(bytes == rc->bytes && count == rc->count);
	assert(count <= HELD_MAX && bytes <= u->conf.retransmit_buffer);
	assert(u->nheld <= u->conf.jump_confirm);
}

/* A packet: session s, numbered from seq, count messages (0xFFFF: end),
 * its messages' bytes changed (forged) when bit 0 of forge is set. */
static size_t packet(unsigned char *p, int s, uint64_t seq, unsigned count,
		     int forge)
{
	struct mold_writer w;
	struct mold_msg m = {.type = 1, .size = 10};
	unsigned char pay[10];

	mold_writer_init(&w, p, MOLD_PACKET_MAX);
	for (unsigned i = 0; count != MOLD_COUNT_END && i < count; i++) {
		uint64_t n = seq + i;

		memcpy(pay, &n, 8);
		pay[8] = (unsigned char)s;
		pay[9] = (unsigned char)forge;
		m.payload = pay;
		mold_append_msg(&w, &m);
	}
	return (size_t)mold_writer_seal_count(&w, s ? "SESSION__B" : "SESSION__A",
					      seq, (uint16_t)count);
}

/* The server's side of a run: requests go to a socket nobody reads. */
static struct ev_loop *loop;
static int sv[2];

/* A source configured by the input's first two bytes. */
static struct udp *udp_new(const unsigned char *cfg, int server)
{
	struct udp *u = calloc(1, sizeof *u);

	assert(u);
	u->conf.jump_window = 1 + cfg[0] % 16;
	u->conf.jump_confirm = 1 + (cfg[0] >> 4) % 4;
	u->conf.retransmit_buffer = 2 * 65536 + (cfg[1] & 1) * 4096;
	u->conf.retransmit_requests = 1 + cfg[1] % 5;
	u->conf.retransmit_timeout = 0.001;
	if (cfg[1] & 0x40) {
		u->conf.session = "SESSION__A";
		memcpy(u->want, u->conf.session, MOLD_SESSION_LEN);
	}
	u->held = malloc(u->conf.jump_confirm * MOLD_PACKET_MAX);
	assert(u->held && recover_start(u, NULL, 0) == 0);
	if (!server)
		return u;
	assert(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) == 0);
	loop = ev_loop_new(EVFLAG_AUTO);
	u->base.loop = loop;
	u->rec->asked = calloc(u->conf.retransmit_requests,
			       sizeof *u->rec->asked);
	/* deterministic: a timer operation finds every gap's time over, a
	 * request is never sent again before it */
	u->rec->timeout_ns = 0;
	u->rec->resend_ns = 3600000000000ull;
	ev_io_init(&u->rec->io_w, answer_cb, sv[0], EV_READ);
	u->rec->io_w.data = u;
	ev_init(&u->rec->timer, timer_cb);
	u->rec->timer.repeat = 0.001;
	u->rec->timer.data = u;
	return u;
}

static void udp_free(struct udp *u, int server)
{
	if (server) {
		ev_timer_stop(loop, &u->rec->timer);
		u->rec->io_w.fd = -1;
		close(sv[0]);
		close(sv[1]);
	}
	recover_stop(u);
	if (server)
		ev_loop_destroy(loop);
	free(u->held);
	free(u);
}

/* A live packet, checked for how it ends the session. */
static void live(struct udp *u, int s, uint64_t seq, unsigned count, int forge)
{
	static unsigned char pkt[MOLD_PACKET_MAX];
	struct before b = {.ended = u->ended, .expected = u->expected};
	size_t n = packet(pkt, s, seq, count, forge);

	memcpy(b.session, u->session, MOLD_SESSION_LEN);
	handle_packet(u, pkt, n);
	check_ended(u, &b, seq, count);
}

/* An answer from the re-request server. */
static void answer(struct udp *u, int s, uint64_t seq, unsigned count, int forge)
{
	static unsigned char pkt[MOLD_PACKET_MAX];
	size_t n = packet(pkt, s, seq, count, forge);

	if (u->rec->head)
		take_answer(u, pkt, n, now_monotonic());
	if (u->rec->head)
		ask_gaps(u, now_monotonic());
}

/* One operation of 5 bytes: kind and session, number, count, far. */
static void run_op(struct udp *u, const unsigned char *op, int server)
{
	static const uint16_t counts[8] = {0, 1, 1, 2, 3, 5, 8, MOLD_COUNT_END};
	int s = op[0] >> 7, forge = (op[0] >> 6) & 1;
	uint64_t seq = 1 + (op[1] | (uint64_t)(op[2] & 0x3f) << 8);
	unsigned count = counts[op[3] & 7];

	if ((op[2] & 0xc0) == 0xc0) /* far ahead */
		seq += (uint64_t)op[4] << 40;
#ifdef FUZZ_TRACE
	fprintf(stderr, "op %d: %c seq %llu count %u%s (expected %llu)\n",
		op[0] & 3, 'A' + s, (unsigned long long)seq, count,
		forge ? " forged" : "", (unsigned long long)u->expected);
#endif
	if ((op[0] & 3) < 2)
		live(u, s, seq, count, forge);
	else if ((op[0] & 3) == 2 && server)
		answer(u, s, seq, count, forge);
	else if (server)
		timer_cb(loop, &u->rec->timer, 0);
	check_held(u);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	int server;

	if (size < 2)
		return 0;
	server = data[1] & 0x80;
	fz_u = udp_new(data, server);
	for (size_t i = 2; i + 5 <= size; i += 5)
		run_op(fz_u, data + i, server);
	udp_free(fz_u, server);
	return 0;
}
