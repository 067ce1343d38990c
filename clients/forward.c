/*
 * forward.c - --forward udp://HOST:PORT: relays messages as MoldUDP64
 * downstream packets in the framing of common/moldudp64.h, which mdpub's
 * udp source reads. A message is numbered with its ring sequence + 1, so
 * what this reader lost (or filtered out) shows as a gap downstream; a
 * packet holds consecutive numbers only. A batch is sent when the next
 * message would not fit, is not the next number, or the oldest message in
 * it waited batch_delay; a heartbeat (count 0) goes out after heartbeat
 * idle time, an end-of-session packet at exit. Unicast or multicast
 * (IPv4 or IPv6; TTL and interface options for multicast).
 *
 * The session name is --session, else (and at every restart of the
 * numbering) ten random letters and digits (getrandom()): a receiver
 * takes a packet of another session only after the end of its current
 * one, or when several packets in a row confirm it, and one who cannot
 * see the packets cannot guess the name to forge them (doc/protocol.md
 * "UDP framing"). A restart of the numbering ends the old session first.
 *
 * With --retransmit, every packet is kept by the re-request server
 * (retransmit.h) before it is sent, a new session empties it (what is
 * older is read back from the channel: only numbers of the session, and
 * only messages the filters pass, rtx_archive.c), and at exit
 * the end of session is repeated for --linger while the server still
 * answers: the receivers' last chance to ask (doc/protocol.md,
 * "Retransmission").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr_allow.h"
#include "local_port.h"
#include "moldudp64.h"
#include "mdsub.h"
#include "natswire.h"
#include "retransmit.h"

#define URL_PREFIX "udp://"
#define LINGER_REPEAT_NS 100000000ULL /* end of session again every 0.1 s */

struct forwarder {
	int fd;
	const struct fwd_opts *o;
	char session[MOLD_SESSION_LEN];
	struct mold_writer pkt; /* over buf */
	size_t cap;            /* batch size limit */
	uint64_t first_num;    /* MoldUDP64 number of the first in pkt */
	uint64_t next_num;     /* number the next message should have */
	uint64_t pending_ns;   /* when the first message was added */
	uint64_t sent_ns;      /* when the last packet went out */
	uint64_t send_errors;
	int named;             /* --session was used */
	uint64_t epoch;        /* the session's messages' segment */
	int epoch_told;        /* epoch set for the session (and told to
				* the re-request server) */
	struct rtx *rtx;       /* the re-request server, or NULL */
	struct rtx_archive *older; /* its older messages, or NULL */
	unsigned char buf[MOLD_PACKET_MAX];
};

/* Ten random letters and digits (about 59 bits): bytes of 248 and more
 * are drawn again, so that each of the 62 characters is as likely.
 * Returns 0, or -errno when the kernel has no randomness to give. */
static int random_name(char name[MOLD_SESSION_LEN])
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char bytes[32];
	int got = 0;

	while (got < MOLD_SESSION_LEN) {
		ssize_t n = getrandom(bytes, sizeof bytes, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (ssize_t i = 0; i < n && got < MOLD_SESSION_LEN; i++)
			if (bytes[i] < 248)
				name[got++] = chars[bytes[i] % 62];
	}
	return 0;
}

/* A session name: --session the first time, else a random one other
 * than the last. Returns 0 or -errno. */
static int new_session(struct forwarder *f)
{
	char buf[MOLD_SESSION_LEN + 1] = "";
	int rc = 0;

	if (f->o->session && !f->named) {
		snprintf(buf, sizeof buf, "%-10s", f->o->session);
		f->named = 1;
	} else {
		do
			rc = random_name(buf);
		while (rc == 0 && !memcmp(buf, f->session, MOLD_SESSION_LEN));
	}
	if (rc < 0)
		return rc;
	memcpy(f->session, buf, MOLD_SESSION_LEN);
	if (f->rtx)
		rtx_session(f->rtx, f->session);
	return 0;
}

/* Sends pkt with `count` in the header, then starts an empty batch. */
static void send_packet(struct forwarder *f, uint64_t seq, uint16_t count,
			uint64_t now)
{
	int len = mold_writer_seal_count(&f->pkt, f->session, seq, count);

	if (len > 0 && f->rtx && f->pkt.count) /* before: see rtx_keep() */
		rtx_keep(f->rtx, f->pkt.buf, (size_t)len);
	if (len > 0 && send(f->fd, f->pkt.buf, (size_t)len, 0) < 0 &&
	    errno != ECONNREFUSED && f->send_errors++ == 0)
		fprintf(stderr, "mdsub: %s: send: %s (counting further "
			"errors)\n", f->o->url, strerror(errno));
	mold_writer_reset(&f->pkt);
	f->sent_ns = now;
}

static void flush_batch(struct forwarder *f, uint64_t now)
{
	if (f->pkt.count)
		send_packet(f, f->first_num, f->pkt.count, now);
}

static void add_message(struct forwarder *f, const struct delivery *d,
			uint64_t num, uint64_t now)
{
	struct mold_msg m = {.ts_ns = d->msg->ts_ns, .type = d->msg->type,
			     .payload = d->payload, .size = d->msg->size};

	if (!f->pkt.count) {
		f->first_num = num;
		f->pending_ns = now;
	}
	mold_append_msg(&f->pkt, &m); /* fwd_send made room */
	f->next_num = num + 1;
}

void fwd_send(struct forwarder *f, const struct delivery *d, uint64_t now_ns)
{
	uint64_t num = d->msg->seq + 1;
	size_t need = mold_msg_block_len(d->msg->size);

	if (d->msg->size > MDBUS_UDP_PAYLOAD_MAX ||
	    MOLD_HEADER_LEN + need > MOLD_PACKET_MAX) {
		fprintf(stderr, "mdsub: seq %" PRIu64 ": %" PRIu32 " bytes do "
			"not fit a UDP packet, skipped\n", d->msg->seq,
			d->msg->size);
		return;
	}
	/* the numbering restarts, or the messages come from another
	 * segment (the reader reattached): a new session, whose numbers
	 * the re-request server reads back only from that segment */
	if (num < f->next_num || (f->epoch_told && d->epoch != f->epoch)) {
		flush_batch(f, now_ns);
		send_packet(f, f->next_num, MOLD_COUNT_END, now_ns);
		int rc = new_session(f);

		f->epoch_told = rc < 0;
		if (rc < 0) {
			fprintf(stderr, "mdsub: %s: no random session name: %s "
				"(the old one goes on)\n", f->o->url,
				strerror(-rc));
			/* over another numbering or segment, with the old
			 * store: nothing older is read back for it */
			f->epoch = d->epoch;
			if (f->rtx)
				rtx_epoch(f->rtx, 0);
		}
	}
	if (!f->epoch_told) {
		f->epoch = d->epoch;
		f->epoch_told = 1;
		if (f->rtx)
			rtx_epoch(f->rtx, d->epoch);
	}
	if (num != f->next_num || f->pkt.len + need > f->cap)
		flush_batch(f, now_ns);
	add_message(f, d, num, now_ns);
	if (f->pkt.len >= f->cap || now_ns - f->pending_ns >= f->o->batch_delay_ns)
		flush_batch(f, now_ns);
}

void fwd_tick(struct forwarder *f, uint64_t now_ns, uint64_t *next_ns)
{
	uint64_t due;

	if (f->pkt.count) {
		due = f->pending_ns + f->o->batch_delay_ns;
		if (now_ns < due) {
			*next_ns = due - now_ns;
			return;
		}
		flush_batch(f, now_ns);
	}
	due = f->sent_ns + f->o->heartbeat_ns;
	if (now_ns >= due) {
		send_packet(f, f->next_num, MOLD_COUNT_HEARTBEAT, now_ns);
		due = now_ns + f->o->heartbeat_ns;
	}
	*next_ns = due - now_ns;
}

int fwd_split_url(const char *url, char *host, size_t hlen, char **port)
{
	if (strncmp(url, URL_PREFIX, strlen(URL_PREFIX)))
		return -EINVAL;
	return fwd_split_addr(url + strlen(URL_PREFIX), host, hlen, port);
}

int fwd_split_addr(const char *h, char *host, size_t hlen, char **port)
{
	const char *end;
	size_t n;

	end = *h == '[' ? strchr(h, ']') : strrchr(h, ':');
	if (!end)
		return -EINVAL;
	h += *h == '[';
	n = (size_t)(end - h);
	end += *end == ']';
	if (*end != ':' || !end[1] || !n || n >= hlen)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (char *)end + 1;
	return 0;
}

static int set_multicast(int fd, const struct addrinfo *ai,
			 const struct fwd_opts *o)
{
	struct in_addr ifa;

	if (ai->ai_family == AF_INET6)
		return setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS,
				  &o->ttl, sizeof o->ttl);
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &o->ttl,
		       sizeof o->ttl))
		return -1;
	if (!o->iface)
		return 0;
	inet_pton(AF_INET, o->iface, &ifa); /* checked by opts.c */
	return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa);
}

static int is_multicast(const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET6)
		return IN6_IS_ADDR_MULTICAST(
			&((const struct sockaddr_in6 *)(const void *)ai->ai_addr)
				 ->sin6_addr);
	return IN_MULTICAST(ntohl(
		((const struct sockaddr_in *)(const void *)ai->ai_addr)
			->sin_addr.s_addr));
}

/* Binds fd to --bind (checked by opts.c), of the destination's family. */
static int bind_local(int fd, const struct addrinfo *dest, const char *addr)
{
	struct addrinfo hints = {.ai_family = dest->ai_family,
				 .ai_socktype = SOCK_DGRAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV},
			*ai;
	char host[FWD_HOST_MAX] = "", *port = NULL;
	int rc;

	fwd_split_addr(addr, host, sizeof host, &port);
	if (getaddrinfo(host, port, &hints, &ai)) {
		errno = EAFNOSUPPORT; /* not of the destination's family */
		return -1;
	}
	rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return rc;
}

static int connect_socket(const struct addrinfo *ai, const struct fwd_opts *o)
{
	int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if ((is_multicast(ai) && set_multicast(fd, ai, o)) ||
	    (o->bind && bind_local(fd, ai, o->bind)) ||
	    connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* The connected socket, or -errno with the reason in err. */
static int open_socket(const struct fwd_opts *o, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai;
	char host[FWD_HOST_MAX], *port;
	int rc, fd;

	rc = fwd_split_url(o->url, host, sizeof host, &port);
	if (rc < 0) {
		snprintf(err, errlen, "%s: not udp://HOST:PORT", o->url);
		return rc;
	}
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "%s: %s", o->url, gai_strerror(rc));
		return rc == EAI_MEMORY ? -ENOMEM : -EADDRNOTAVAIL;
	}
	fd = connect_socket(ai, o);
	if (fd < 0)
		snprintf(err, errlen, "%s%s%s: %s", o->url,
			 o->bind ? " from " : "", o->bind ? o->bind : "",
			 strerror(-fd));
	freeaddrinfo(ai);
	return fd;
}

/* The numeric address the connected socket sends to, in buf; NULL when
 * it is a multicast group (or cannot be had). */
static const char *unicast_dest(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct addr_key key;
	struct addrinfo ai = {.ai_addr = (void *)&ss};

	if (getpeername(fd, (void *)&ss, &sl) ||
	    addr_key_of(&key, (void *)&ss, sl) < 0)
		return NULL;
	ai.ai_family = ss.ss_family;
	if (is_multicast(&ai))
		return NULL;
	addr_key_text(&key, buf, len);
	return buf;
}

/* Closes the re-request server and its archive; its counts in *n (NULL:
 * not wanted). */
static void close_server(struct forwarder *f, struct rtx_counts *n)
{
	struct rtx_counts ignored;

	if (!f->rtx)
		return;
	rtx_close(f->rtx, n ? n : &ignored);
	rtx_archive_close(f->older);
	f->rtx = NULL;
	f->older = NULL;
}

int fwd_open(struct forwarder **out, const struct fwd_opts *o,
	     uint64_t next_seq, char *err, size_t errlen)
{
	struct forwarder *f = calloc(1, sizeof *f);
	int rc;

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	mold_writer_init(&f->pkt, f->buf, sizeof f->buf);
	f->o = o;
	f->cap = o->batch_bytes;
	f->next_num = next_seq + 1;
	f->sent_ns = now_monotonic();
	f->fd = open_socket(o, err, errlen);
	if (f->fd >= 0 && o->rtx.listen) {
		char dest[INET6_ADDRSTRLEN];
		rc = rtx_open(&f->rtx, &o->rtx, o->batch_bytes,
			      unicast_dest(f->fd, dest, sizeof dest), err,
			      errlen);
		if (rc < 0) {
			close(f->fd);
			f->fd = rc;
		}
	}
	if (f->fd >= 0 && (rc = new_session(f)) < 0) {
		snprintf(err, errlen, "no random session name: %s (give one "
			 "with --session)", strerror(-rc));
		close_server(f, NULL);
		close(f->fd);
		f->fd = rc;
	}
	if (f->fd < 0) {
		rc = f->fd;
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void fwd_rtx_older(struct forwarder *f, const char *channel,
		   const struct mdsub_opts *o, int chan_width)
{
	if (f && f->rtx && !f->older &&
	    rtx_archive_open(&f->older, channel, o, chan_width) == 0)
		rtx_archive_attach(f->older, f->rtx);
}

void fwd_rtx_where(const struct forwarder *f, char *buf, size_t len)
{
	if (f && f->rtx)
		rtx_local(f->rtx, buf, len);
	else if (len)
		*buf = '\0';
}

int fwd_rtx_warning(const struct forwarder *f, char *buf, size_t len)
{
	return f && f->rtx && rtx_allow_warning(f->rtx, buf, len);
}

/* The end of session, again and again for --linger while the server
 * answers the last re-requests, or until a signal (one more than those
 * that ended the run); then the server's counts. */
static void linger(struct forwarder *f, uint64_t now)
{
	uint64_t end = now + f->o->rtx.linger_ns;
	struct rtx_counts n = {0};
	int signals = run_signals();

	while ((now = now_monotonic()) < end && run_signals() == signals) {
		sleep_ns(end - now < LINGER_REPEAT_NS ? end - now :
							LINGER_REPEAT_NS);
		send_packet(f, f->next_num, MOLD_COUNT_END, now_monotonic());
	}
	close_server(f, &n);
	fprintf(stderr, "mdsub: %s: retransmission: %" PRIu64 " requests "
		"served (%" PRIu64 " messages), %" PRIu64 " refused (allow %"
		PRIu64 ", rate %" PRIu64 ", session %" PRIu64 ", malformed %"
		PRIu64 "), %" PRIu64 " out of range (before the session %"
		PRIu64 ", filtered out %" PRIu64 "), %" PRIu64 " read from "
		"the archive (readers opened %" PRIu64 ", messages skipped %"
		PRIu64 ")\n", f->o->url, n.served, n.messages,
		n.allow + n.rate + n.session + n.malformed, n.allow, n.rate,
		n.session, n.malformed, n.out_of_range, n.before, n.filtered,
		n.archive, n.archive_opens, n.archive_skipped);
}

void fwd_close(struct forwarder *f)
{
	uint64_t now = now_monotonic();

	flush_batch(f, now);
	if (f->rtx)
		rtx_end(f->rtx);
	send_packet(f, f->next_num, MOLD_COUNT_END, now);
	if (f->rtx)
		linger(f, now);
	if (f->send_errors)
		fprintf(stderr, "mdsub: %s: %" PRIu64 " packets not sent\n",
			f->o->url, f->send_errors);
	close(f->fd);
	free(f);
}

int fwd_port_warning(const char *url, int tls_options, char *buf,
		     size_t len)
{
	static const char *const schemes[] = {"udp://", "nats://", NULL};
	unsigned start = local_port_start();
	const char *scheme;
	char one[FWD_HOST_MAX + 8]; /* HOST:PORT */

	/* a nats:// server with TLS (the list's tls:// or the options) must
	 * show a certificate the client library trusts */
	if ((strncmp(url, "udp://", 6) && natsw_urls_tls(url, tls_options)) ||
	    !local_port_url(url, schemes, start, &scheme, one, sizeof(one)))
		return 0;
	snprintf(buf, len, "--forward %s%s: any local user may take this "
		 "port while its receiver is not running, and then gets what "
		 "is forwarded; forward to a port below %u, or to another host "
		 "(mdsub(1))", scheme, one, start);
	return 1;
}
