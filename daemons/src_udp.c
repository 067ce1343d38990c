/*
 * src_udp.c - the `udp` source: receives bus messages framed as MoldUDP64
 * downstream packets (moldudp64.h, mdpub.conf(5)) on a unicast or
 * multicast address, as `mdsub --forward` sends them. No single packet
 * moves the stream (doc/protocol.md "Retransmission", "The receiver"):
 *
 * - with `sender`, datagrams from other addresses are counted and
 *   dropped (a channel names `session` or `sender`, or says `sender =
 *   any`: udp_conf_check());
 * - a packet numbered with the next expected message is published;
 *   messages seen already (a repeated packet) are skipped;
 * - one numbered past it, within `jump_window`, goes to udp_recover.c:
 *   held while the stream goes on, and the gap before it confirmed by
 *   the re-request server (`retransmit`) or by jump_confirm packets
 *   continuing it before it is lost; a lost gap is counted with the
 *   number of messages lost, which the channel skips (channel_skip():
 *   its readers count them lost too);
 * - one more than `jump_window` away (ahead or behind), and one of
 *   another session while the current one has not ended, is held apart
 *   and taken only when `jump_confirm` packets in a row continue it, as
 *   a stream that really jumped (or restarted) does; any other packet
 *   drops them. The messages an adopted jump skips are counted as
 *   jumped, not as lost (a forged jump must not poison the gap totals).
 *
 * Each packet not taken is counted by reason, in the source's counters
 * (channel_count()). A heartbeat or end of session (numbered with the
 * next message, MoldUDP64 1.00) shows a gap as a packet does. A session
 * change, or its end, gives up what is still missing of the old one.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "local_port.h"
#include "net.h"
#include "src_udp.h"

#define PACKETS_PER_CB 64
#define JUMP_WINDOW 1000000 /* messages: a few seconds of a busy feed */
#define JUMP_CONFIRM 3      /* packets continuing a jump before it is taken */
#define RTX_TIMEOUT 0.5     /* seconds a gap waits for its answers */
#define RTX_REQUESTS 64     /* requests in flight */
#define RTX_REQUESTS_MAX 1024
#define RTX_BUFFER (16 << 20) /* bytes of packets held behind gaps */

static const char *const udp_counters[] = {
	"duplicate", "session", "malformed", "jump", "adopted", "jumped",
	"requests", "recovered", "sender", "discarded", "refuted", "overflow",
	NULL,
};

static const char *const ts_names[] = {"now", "sender", NULL};

#define OFF(field) offsetof(struct udp_conf, field)
static const struct setting udp_settings[] = {
	{"listen", SET_STRING, OFF(listen), 0, 0, 0, NULL},
	{"interface", SET_STRING, OFF(interface), 0, 0, 0, NULL},
	{"session", SET_STRING, OFF(session), 0, 0, 0, NULL},
	{"sender", SET_STRING, OFF(sender), 0, 0, 0, NULL},
	{"rcvbuf", SET_UINT, OFF(rcvbuf), 0, 1 << 30, 0, NULL},
	{"timestamps", SET_CHOICE, OFF(timestamps), 0, 0, 0, ts_names},
	{"jump_window", SET_UINT, OFF(jump_window), 1, 4611686018427387904.0, 0,
	 NULL},
	{"jump_confirm", SET_UINT, OFF(jump_confirm), 1, JUMP_CONFIRM_MAX, 0,
	 NULL},
	{"retransmit", SET_STRING, OFF(retransmit), 0, 0, 0, NULL},
	{"retransmit_timeout", SET_DOUBLE, OFF(retransmit_timeout), 0.001,
	 3600, 0, NULL},
	{"retransmit_requests", SET_UINT, OFF(retransmit_requests), 1,
	 RTX_REQUESTS_MAX, 0, NULL},
	{"retransmit_buffer", SET_UINT, OFF(retransmit_buffer), 2 * 65536.0,
	 4294967296.0, 0, NULL},
	{NULL, 0, 0, 0, 0, 0, NULL},
};

static void udp_conf_init(void *conf)
{
	struct udp_conf *c = conf;

	c->jump_window = JUMP_WINDOW;
	c->jump_confirm = JUMP_CONFIRM;
	c->retransmit_timeout = RTX_TIMEOUT;
	c->retransmit_requests = RTX_REQUESTS;
	c->retransmit_buffer = RTX_BUFFER;
}

/* `sender = any`: no address list, whoever sends first is trusted with
 * the session (mdpub.conf(5), SOURCE udp). */
static int sender_any(const struct udp_conf *c)
{
	return c->sender && strcmp(c->sender, "any") == 0;
}

/* 1 when the listen socket (at ss) receives datagrams of `family`: its
 * own, and IPv4 ones too on an IPv6 socket bound to any address
 * (dual-stack, as net_bind() leaves it). */
static int receives_family(const struct sockaddr_storage *ss, int family)
{
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	if (ss->ss_family == family)
		return 1;
	return family == AF_INET && ss->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/* -EINVAL when a rule of `sender` is of a family the listen socket never
 * receives: it would drop the real feed (mdpub.conf(5), sender). A
 * listen name that does not resolve is left to udp_start() to report. */
static int check_families(const struct udp_conf *c,
			  const struct addr_allow *allow, char *err,
			  size_t errlen)
{
	struct sockaddr_storage ss;
	char text[96];

	if (net_passive(c->listen, SOCK_DGRAM, &ss, err, errlen) < 0)
		return 0;
	for (size_t i = 0; i < allow->n; i++) {
		int v6 = allow->rules[i].addr.family == AF_INET6;

		if (receives_family(&ss, allow->rules[i].addr.family))
			continue;
		addr_rule_text(&allow->rules[i], text, sizeof(text));
		snprintf(err, errlen, "sender: '%s' is %s and listen = %s "
			 "receives %s only: it would never match, and the feed "
			 "would be dropped; give the forwarder's %s address%s",
			 text, v6 ? "IPv6" : "IPv4", c->listen,
			 v6 ? "IPv4" : "IPv6", v6 ? "IPv4" : "IPv6",
			 v6 ? "" : ", or listen = [::]:PORT");
		return -EINVAL;
	}
	return 0;
}

/* A channel must say whom it trusts: `session`, `sender`, or explicitly
 * anyone (`sender = any`); else a forger could take the session before
 * the feed or after an end of session and shut it out (mdpub.conf(5)). */
static int check_sender(const struct udp_conf *c, char *err, size_t errlen)
{
	struct addr_allow allow;
	int rc;

	if (!c->session && !c->sender) {
		snprintf(err, errlen, "source udp with neither session nor "
			 "sender: whoever can send to listen first could take "
			 "the session and shut the feed out; set sender = "
			 "ADDR[/BITS][:PORT] (the forwarder's --bind address), or "
			 "sender = any or session = NAME to accept that");
		return -EINVAL;
	}
	if (!c->sender || sender_any(c))
		return 0;
	rc = addr_allow_parse(&allow, c->sender, "sender", 1, err, errlen);
	if (rc == 0)
		rc = check_families(c, &allow, err, errlen);
	addr_allow_free(&allow);
	return rc;
}

static int udp_conf_check(const void *conf, char *err, size_t errlen)
{
	const struct udp_conf *c = conf;
	int rc;

	if (!c->listen) {
		snprintf(err, errlen, "source udp needs listen = HOST:PORT");
		return -EINVAL;
	}
	if (c->session && strlen(c->session) > MOLD_SESSION_LEN) {
		snprintf(err, errlen, "session: longer than %d characters",
			 MOLD_SESSION_LEN);
		return -EINVAL;
	}
	if (c->retransmit && net_check(c->retransmit, err, errlen) < 0)
		return -EINVAL;
	rc = net_check(c->listen, err, errlen);
	return rc < 0 ? rc : check_sender(c, err, errlen);
}

/* Whom a rule of `sender` admits besides the forwarder, into who: 1 when
 * every address or every local user (mdpub.conf(5), sender), else 0. */
static int rule_admits_all(const struct addr_rule *r, unsigned start,
			   char *who, size_t len)
{
	char text[96];

	addr_rule_text(r, text, sizeof(text));
	if (r->bits == 0) {
		snprintf(who, len, "sender %s admits every address, as sender "
			 "= any", text);
		return 1;
	}
	if ((r->port && r->port < start) || !local_port_on_this_host(r))
		return 0;
	if (r->port)
		snprintf(who, len, "sender %s admits every local user (an "
			 "address of this host, port %u not below "
			 "net.ipv4.ip_unprivileged_port_start %u: free to bind "
			 "once the forwarder is gone)", text, r->port, start);
	else
		snprintf(who, len, "sender %s admits every local user (an "
			 "address of this host, any port)", text);
	return 1;
}

/* 1 when the channel trusts every address or every local user, with
 * whom in who: no sender, sender = any, or a rule admitting them. */
static int sender_admits_all(const struct udp_conf *c, unsigned start,
			     char *who, size_t len)
{
	struct addr_allow allow;
	char err[256];
	int all = 0;

	if (!c->sender || sender_any(c)) {
		snprintf(who, len, "%s", c->sender ? "sender = any" : "no sender");
		return 1;
	}
	if (addr_allow_parse(&allow, c->sender, "sender", 1, err,
			     sizeof(err)) < 0)
		return 0; /* refused by udp_conf_check() */
	for (size_t i = 0; i < allow.n && !all; i++)
		all = rule_admits_all(&allow.rules[i], start, who, len);
	addr_allow_free(&allow);
	return all;
}

/* The warning for a `retransmit` server on a port any local user may
 * bind: 1 with it in buf, else 0. */
static int retransmit_warning(const struct udp_conf *c, char *buf, size_t len)
{
	return net_port_warning(buf, len, "retransmit", c->retransmit,
				"the re-request server is not running, and "
				"then gets the re-requests (with the session) "
				"and answers them with messages the channel "
				"publishes", "run the server (mdsub "
				"--retransmit) on a port");
}

/* The warning for a channel that anyone, or any local user, can take
 * over (mdpub.conf(5), what a forger can do), followed by the
 * retransmit one when both apply: 1 with it in buf, else 0. mdpub -T
 * prints it, and the channel logs it at start. */
static int udp_conf_warning(const void *conf, char *buf, size_t len)
{
	const struct udp_conf *c = conf;
	unsigned start = local_port_start();
	char who[320], rtx[512];
	int also = retransmit_warning(c, rtx, sizeof(rtx));

	if (!sender_admits_all(c, start, who, sizeof(who))) {
		if (also)
			snprintf(buf, len, "%s", rtx);
		return also;
	}
	snprintf(buf, len, "%s: whoever can send to listen can publish "
		 "messages in place of the feed's, take the session before it "
		 "or after an end of session, and shut the feed out%s; set "
		 "sender = the forwarder's --bind address on another host, or "
		 "here with a port below %u (mdpub.conf(5))%s%s", who,
		 c->session ? " (session is a filter, not a secret: ps, the "
			      "config and every packet show it)" : "",
		 start, also ? ". Also " : "", also ? rtx : "");
	return 1;
}

static const char *name_of(const struct udp *u)
{
	return channel_name(u->base.ch);
}

static void malformed(struct udp *u, const char *why)
{
	channel_count_malformed(u->base.ch);
	channel_count(u->base.ch, UDP_MALFORMED, 1);
	log_limited(&u->bad_limit, LOG_WARNING, "channel %s: packet: %s",
		    name_of(u), why);
}

static void publish_msg(struct udp *u, const unsigned char *data, size_t len)
{
	struct mold_msg m;

	if (mold_msg_decode(data, len, &m) < 0) {
		malformed(u, "message shorter than its 12-byte header");
		return;
	}
	channel_publish(u->base.ch, m.type, m.payload, m.size,
			u->conf.timestamps ? m.ts_ns : 0);
}

/* The session name for the log: what is not printable ASCII shows as ?. */
static const char *session_text(const unsigned char *p,
				char out[MOLD_SESSION_LEN + 1])
{
	for (int i = 0; i < MOLD_SESSION_LEN; i++)
		out[i] = p[i] >= ' ' && p[i] < 127 ? (char)p[i] : '?';
	out[MOLD_SESSION_LEN] = '\0';
	return out;
}

/* Takes the session of packet p: what is held of the old one is given
 * up (doc/protocol.md "Retransmission") and the numbering starts anew. */
static void switch_session(struct udp *u, const unsigned char *p)
{
	char text[MOLD_SESSION_LEN + 1];

	log_limited(&u->bad_limit, LOG_NOTICE, "channel %s: session '%s'",
		    name_of(u), session_text(p, text));
	recover_flush(u);
	memcpy(u->session, p, MOLD_SESSION_LEN);
	u->expected = 0;
	u->ended = 0;
}

/* 1 when a packet of another session than the current one is taken at
 * once: the first session, one after the end of the current one, or
 * (with `session`) the one configured. Any other is held until
 * jump_confirm packets continue it, as a jump is. */
static int session_open(const struct udp *u)
{
	static const char none[MOLD_SESSION_LEN];

	return u->ended || u->conf.session ||
	       !memcmp(u->session, none, MOLD_SESSION_LEN);
}

void udp_lost(struct udp *u, uint64_t seq)
{
	if (!u->expected || seq <= u->expected)
		return;
	channel_count_gap(u->base.ch, seq - u->expected);
	channel_skip(u->base.ch, seq - u->expected); /* readers see it lost */
	log_limited(&u->bad_limit, LOG_WARNING,
		    "channel %s: gap: messages %llu..%llu lost", name_of(u),
		    (unsigned long long)u->expected,
		    (unsigned long long)seq - 1);
	u->expected = seq;
}

/* Publishes the blocks not seen yet, up to a malformed one; returns how
 * many. */
static uint64_t handle_messages(struct udp *u, struct mold_reader *r)
{
	const unsigned char *data;
	size_t len;
	uint64_t seq, n = 0;
	int rc;

	while ((rc = mold_next(r, &data, &len, &seq)) > 0) {
		if (!u->expected || seq >= u->expected) {
			publish_msg(u, data, len);
			u->expected = seq + 1;
			n++;
		}
	}
	if (rc == -EMSGSIZE)
		malformed(u, "message blocks overrun the packet");
	else if (rc < 0)
		malformed(u, "bytes after the last message block");
	return n;
}

uint64_t udp_publish_packet(struct udp *u, const unsigned char *p, size_t n)
{
	struct mold_reader r;
	struct mold_header h;

	if (mold_reader_init(&r, p, n, &h) < 0)
		return 0; /* checked before it was held */
	return handle_messages(u, &r);
}

/* 1 when every message of the packet was seen (for a heartbeat or an end
 * of session: numbered before the next expected message). */
static int seen_already(const struct udp *u, const struct mold_header *h)
{
	if (!u->expected || h->seq >= u->expected)
		return 0;
	return u->expected - h->seq >= udp_msgs(h);
}

/* Takes a well-formed packet of the session in sequence; with
 * retransmission, one after a gap goes to recovery. */
static void take_packet(struct udp *u, struct mold_reader *r,
			const struct mold_header *h)
{
	if (seen_already(u, h)) {
		channel_count(u->base.ch, UDP_DUPLICATE, 1);
		return;
	}
	if (u->expected && (h->seq > u->expected || u->rec->head)) {
		recover_packet(u, r->pkt, r->len, h);
		return;
	}
	udp_lost(u, h->seq);
	if (!udp_msgs(h) && !u->expected)
		u->expected = h->seq;
	handle_messages(u, r);
}

static int is_jump(const struct udp *u, uint64_t seq)
{
	if (!u->expected)
		return 0;
	return seq > u->expected ? seq - u->expected > u->conf.jump_window
				 : u->expected - seq > u->conf.jump_window;
}

static unsigned char *held_packet(struct udp *u, unsigned i)
{
	return u->held + (size_t)i * MOLD_PACKET_MAX;
}

/* 1 when the packet continues the packets held (jump or session). */
static int continues_held(const struct udp *u, const unsigned char *p,
			  const struct mold_header *h)
{
	return u->nheld && h->seq == u->held_next &&
	       !memcmp(p, u->held_session, MOLD_SESSION_LEN);
}

static void log_held(struct udp *u, const unsigned char *p,
		     const struct mold_header *h)
{
	char text[MOLD_SESSION_LEN + 1], current[MOLD_SESSION_LEN + 1];

	if (memcmp(p, u->session, MOLD_SESSION_LEN))
		log_limited(&u->jump_limit, LOG_WARNING, "channel %s: packet "
			    "of session '%s' while '%s' is not ended: held "
			    "until %u packets continue it", name_of(u),
			    session_text(p, text),
			    session_text((const unsigned char *)u->session,
					 current),
			    (unsigned)u->conf.jump_confirm);
	else
		log_limited(&u->jump_limit, LOG_WARNING, "channel %s: packet "
			    "of sequence %llu while %llu is expected: a jump "
			    "beyond jump_window, held until %u packets "
			    "continue it", name_of(u),
			    (unsigned long long)h->seq,
			    (unsigned long long)u->expected,
			    (unsigned)u->conf.jump_confirm);
}

/* Holds a packet not believed on its own (a jump, another session): the
 * first of a new run, or one that continues the run held. */
static void hold(struct udp *u, const unsigned char *p, size_t n,
		 const struct mold_header *h)
{
	int other = memcmp(p, u->session, MOLD_SESSION_LEN) != 0;

	channel_count(u->base.ch, other ? UDP_SESSION : UDP_JUMP, 1);
	if (!continues_held(u, p, h)) {
		u->nheld = 0;
		memcpy(u->held_session, p, MOLD_SESSION_LEN);
		log_held(u, p, h);
	}
	memcpy(held_packet(u, u->nheld), p, n);
	u->held_len[u->nheld++] = n;
	u->held_next = h->seq + udp_msgs(h);
}

/* Takes the packets held (jump or session run), in order. */
static void take_held(struct udp *u)
{
	struct mold_reader r;
	struct mold_header h;

	for (unsigned i = 0; i < u->nheld; i++) {
		mold_reader_init(&r, held_packet(u, i), u->held_len[i], &h);
		take_packet(u, &r, &h);
	}
	u->nheld = 0;
}

/* The held run was continued jump_confirm times: the stream did jump,
 * or change its session. Takes the held packets from where they start;
 * the messages a jump skipped ahead are counted as jumped, not lost. */
static void adopt_held(struct udp *u)
{
	struct mold_reader r;
	struct mold_header h;

	channel_count(u->base.ch, UDP_ADOPTED, 1);
	mold_reader_init(&r, held_packet(u, 0), u->held_len[0], &h);
	if (memcmp(u->held_session, u->session, MOLD_SESSION_LEN)) {
		switch_session(u, held_packet(u, 0));
		take_held(u);
		return;
	}
	recover_flush(u);
	if (h.seq > u->expected)
		channel_count(u->base.ch, UDP_JUMPED, h.seq - u->expected);
	log_limited(&u->jump_limit, LOG_WARNING, "channel %s: sequence jumps "
		    "from %llu to %llu, confirmed by %u packets continuing it",
		    name_of(u), (unsigned long long)u->expected,
		    (unsigned long long)h.seq, (unsigned)u->conf.jump_confirm);
	u->expected = h.seq;
	take_held(u);
}

/* Takes the packet, holds it (a jump beyond jump_window, another session
 * not taken at once), or adopts the held run it confirms first. */
static void sequence_packet(struct udp *u, const unsigned char *p, size_t n,
			    struct mold_reader *r, const struct mold_header *h)
{
	int other = memcmp(p, u->session, MOLD_SESSION_LEN) != 0;

	if (!other && !is_jump(u, h->seq)) {
		u->nheld = 0;
		take_packet(u, r, h);
	} else if (u->nheld == u->conf.jump_confirm && continues_held(u, p, h)) {
		adopt_held(u);
		take_packet(u, r, h);
	} else {
		hold(u, p, n, h);
	}
}

static void handle_packet(struct udp *u, const unsigned char *p, size_t n)
{
	char text[MOLD_SESSION_LEN + 1];
	struct mold_reader r;
	struct mold_header h;
	int rc = mold_reader_init(&r, p, n, &h);

	if (rc == -EMSGSIZE) {
		malformed(u, n < MOLD_HEADER_LEN ? "shorter than the MoldUDP64 header"
			  : "larger than a UDP datagram can be");
		return;
	}
	if (u->conf.session && memcmp(p, u->want, MOLD_SESSION_LEN) != 0) {
		channel_count(u->base.ch, UDP_SESSION, 1);
		return;
	}
	if (rc < 0) {
		malformed(u, udp_msgs(&h) ? "messages numbered up to 2^64 - 1"
			  : "a heartbeat or end of session with message blocks");
		return;
	}
	if (memcmp(p, u->session, MOLD_SESSION_LEN) && session_open(u)) {
		switch_session(u, p);
		u->nheld = 0;
	}
	/* in sequence, or ahead within jump_window (a gap before it given
	 * up with the session): one repeated, far behind or past the
	 * window, which is held, not believed, let any other session be
	 * taken at once (fuzzing) */
	if (h.count == MOLD_COUNT_END && !u->ended &&
	    !memcmp(p, u->session, MOLD_SESSION_LEN) &&
	    !seen_already(u, &h) && !is_jump(u, h.seq)) {
		u->ended = 1;
		log_limited(&u->bad_limit, LOG_NOTICE,
			    "channel %s: session '%s' ended", name_of(u),
			    session_text(p, text));
	}
	sequence_packet(u, p, n, &r, &h);
}

/* 1 when the datagram came from an address of `sender` (or there is no
 * such list); else counted. */
static int from_sender(struct udp *u, const struct sockaddr_storage *from,
		       socklen_t fromlen)
{
	if (addr_allow_match_sa(&u->sender, (const void *)from, fromlen))
		return 1;
	channel_count(u->base.ch, UDP_SENDER, 1);
	return 0;
}

/* The kernel's count of the datagrams it dropped on the socket, as it
 * stood when this one was queued (SO_RXQ_OVFL; no such message while it
 * is 0; mostly a full receive queue, also bad checksums): the ones
 * dropped since the last are counted, and logged with the fix,
 * rate-limited (log_limited()). */
static void count_overflow(struct udp *u, int fd, const struct msghdr *mh)
{
	const struct cmsghdr *c;
	uint32_t now, fresh;
	int bytes = 0;
	socklen_t len = sizeof(bytes);

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh,
						      (struct cmsghdr *)c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
		    c->cmsg_len < CMSG_LEN(sizeof(now)))
			continue;
		memcpy(&now, CMSG_DATA(c), sizeof(now));
		fresh = now - u->dropped; /* the kernel's count wraps */
		if (fresh == 0)
			return;
		u->dropped = now;
		channel_count(u->base.ch, UDP_OVERFLOW, fresh);
		(void)getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, &len);
		log_limited(&u->overflow_limit, LOG_WARNING, "channel %s: the "
			    "kernel dropped %u datagrams, most often because "
			    "the socket's receive queue was full (%d bytes): "
			    "raise rcvbuf, or mdpub fell behind its feed",
			    name_of(u), (unsigned)fresh, bytes);
		return;
	}
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct udp *u = w->data;

	for (int i = 0; i < PACKETS_PER_CB && !channel_paused(u->base.ch); i++) {
		struct sockaddr_storage from;
		union {
			char buf[CMSG_SPACE(sizeof(uint32_t))];
			struct cmsghdr align;
		} control;
		struct iovec iov = {.iov_base = u->pkt, .iov_len = sizeof(u->pkt)};
		struct msghdr mh = {
			.msg_name = &from, .msg_namelen = sizeof(from),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		ssize_t n = recvmsg(w->fd, &mh, MSG_TRUNC);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_limited(&u->bad_limit, LOG_WARNING,
					    "channel %s: recv: %s", name_of(u),
					    strerror(errno));
			return;
		}
		count_overflow(u, w->fd, &mh);
		if (from_sender(u, &from, mh.msg_namelen))
			handle_packet(u, u->pkt, (size_t)n);
	}
	if (channel_paused(u->base.ch))
		ev_io_stop(loop, w);
}

/* The setsockopt() calls below: 0, or -errno with the reason in err. */
static int sockopt_error(const struct udp_conf *c, const char *what,
			 char *err, size_t errlen)
{
	int code = errno;

	snprintf(err, errlen, "%s: %s: %s", c->listen, what, strerror(code));
	return -code;
}

static int join_v4(const struct udp_conf *c, int fd,
		   const struct sockaddr_in *sin, char *err, size_t errlen)
{
	struct ip_mreq mreq = {.imr_multiaddr = sin->sin_addr};

	mreq.imr_interface.s_addr = htonl(INADDR_ANY);
	if (c->interface &&
	    inet_pton(AF_INET, c->interface, &mreq.imr_interface) != 1) {
		snprintf(err, errlen, "interface '%s' is not an IPv4 address",
			 c->interface);
		return -EINVAL;
	}
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq,
		       sizeof(mreq)) < 0)
		return sockopt_error(c, "joining the group", err, errlen);
	return 0;
}

static int join_v6(const struct udp_conf *c, int fd,
		   const struct sockaddr_in6 *sin6, char *err, size_t errlen)
{
	struct ipv6_mreq mreq = {.ipv6mr_multiaddr = sin6->sin6_addr};

	if (c->interface)
		mreq.ipv6mr_interface = if_nametoindex(c->interface);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq,
		       sizeof(mreq)) < 0)
		return sockopt_error(c, "joining the group", err, errlen);
	return 0;
}

/* Joins the group when the address is a multicast one. */
static int join_group(const struct udp_conf *c, int fd,
		      const struct addrinfo *ai, char *err, size_t errlen)
{
	const struct sockaddr_in *sin = (const void *)ai->ai_addr;
	const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;

	if (ai->ai_family == AF_INET && IN_MULTICAST(ntohl(sin->sin_addr.s_addr)))
		return join_v4(c, fd, sin, err, errlen);
	if (ai->ai_family == AF_INET6 && IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr))
		return join_v6(c, fd, sin6, err, errlen);
	return 0;
}

/* Past net.core.rmem_max when allowed (CAP_NET_ADMIN), else up to it. */
static int set_rcvbuf(const struct udp_conf *c, int fd, char *err,
		      size_t errlen)
{
	int bytes = (int)c->rcvbuf;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) == 0)
		return 0;
	return sockopt_error(c, "rcvbuf", err, errlen);
}

/* The bound socket, or -errno with the reason in err; `where` gets the
 * address it is bound to. */
static int open_socket(const struct udp_conf *c, char *where,
		       size_t wherelen, char *err, size_t errlen)
{
	struct addrinfo *ai;
	int rc, fd = net_bind(c->listen, SOCK_DGRAM, &ai, err, errlen);

	if (fd < 0)
		return fd;
	rc = join_group(c, fd, ai, err, errlen);
	if (rc == 0 && c->rcvbuf)
		rc = set_rcvbuf(c, fd, err, errlen);
	/* the overflow counter only: a kernel or filter without it
	 * leaves it at 0, said at start */
	if (rc == 0 && setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &(int){1},
				  sizeof(int)) < 0)
		log_msg(LOG_WARNING, "%s: SO_RXQ_OVFL: %s: datagrams the kernel "
			"drops are not counted (overflow stays 0)", c->listen,
			strerror(errno));
	freeaddrinfo(ai);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	net_local(fd, where, wherelen);
	return fd;
}

static void udp_resume(struct source *src)
{
	struct udp *u = SOURCE_OF(src, struct udp);

	ev_io_start(u->base.loop, &u->io_w);
}

static void udp_stop(struct source *src)
{
	struct udp *u = SOURCE_OF(src, struct udp);

	recover_stop(u);
	log_limit_end(&u->bad_limit);
	log_limit_end(&u->jump_limit);
	log_limit_end(&u->overflow_limit);
	ev_io_stop(u->base.loop, &u->io_w);
	close(u->io_w.fd);
	addr_allow_free(&u->sender);
	free(u->held);
	free(u);
}

static int udp_start(struct source **out, const void *conf,
		     struct channel *ch, struct ev_loop *loop, char *err,
		     size_t errlen)
{
	struct udp *u = source_alloc(sizeof(*u), ch, loop);
	char where[128], warning[1536];
	int fd;

	if (!u)
		return source_nomem(err, errlen);
	u->conf = *(const struct udp_conf *)conf;
	u->held = malloc(u->conf.jump_confirm * MOLD_PACKET_MAX);
	if (!u->held) {
		free(u);
		return source_nomem(err, errlen);
	}
	log_limit_init(&u->bad_limit, 10, LOG_WARNING, "channel %s: bad "
		       "packets, gaps and sessions", name_of(u));
	log_limit_init(&u->jump_limit, 10, LOG_WARNING,
		       "channel %s: sequence jumps", name_of(u));
	log_limit_init(&u->overflow_limit, 10, LOG_WARNING,
		       "channel %s: datagrams dropped by the kernel", name_of(u));
	if (u->conf.session) {
		memset(u->want, ' ', sizeof(u->want));
		memcpy(u->want, u->conf.session, strlen(u->conf.session));
	}
	fd = 0;
	if (u->conf.sender && !sender_any(&u->conf))
		fd = addr_allow_parse(&u->sender, u->conf.sender, "sender", 1,
				      err, errlen);
	if (fd == 0)
		fd = open_socket(&u->conf, where, sizeof(where), err, errlen);
	if (fd >= 0) {
		int rc = recover_start(u, err, errlen);

		if (rc < 0) {
			close(fd);
			fd = rc;
		}
	}
	if (fd < 0) {
		addr_allow_free(&u->sender);
		free(u->held);
		free(u);
		return fd;
	}
	log_msg(LOG_NOTICE, "channel %s: receiving on %s", name_of(u), where);
	if (udp_conf_warning(&u->conf, warning, sizeof(warning)))
		log_msg(LOG_WARNING, "channel %s: %s", name_of(u), warning);
	if (u->conf.retransmit)
		log_msg(LOG_NOTICE, "channel %s: gaps are asked of the re-request "
			"server %s", name_of(u), u->conf.retransmit);
	ev_io_init(&u->io_w, read_cb, fd, EV_READ);
	u->io_w.data = u;
	ev_io_start(loop, &u->io_w);
	*out = &u->base;
	return 0;
}

const struct source_ops src_udp = {
	.name = "udp",
	.settings = udp_settings,
	.conf_size = sizeof(struct udp_conf),
	.conf_init = udp_conf_init,
	.conf_check = udp_conf_check,
	.conf_warning = udp_conf_warning,
	.start = udp_start,
	.resume = udp_resume,
	.stop = udp_stop,
	.counters = udp_counters,
};
