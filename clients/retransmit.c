/*
 * retransmit.c - the re-request server thread (retransmit.h). A request
 * packet (doc/protocol.md, "UDP framing") of the current session is
 * answered with one downstream packet, unicast to where the request came
 * from, holding the kept messages from the requested number on: at most
 * the requested count, and no more than one packet of the forwarder's
 * batch size, whatever the count asks (a receiver asks again for the
 * rest). Each answer is paid for from the requester's token bucket and
 * the total one (ratelimit.c) before it is sent: whatever a request asks,
 * it gets at most one batch, and the answer rate is bounded per requester
 * and in total. A request for messages older than the store is paid for
 * as a full batch before the archive hook (rtx_archive.c) reads anything,
 * and read without the lock the forwarder takes to keep its packets: a
 * request the buckets refuse costs no read. The archive messages the
 * read went past to reach it are charged after it (SKIP_COST each),
 * whatever the buckets hold: a requester in debt is refused until its
 * rate has paid for them, so the archive work a requester gets is
 * bounded by its rate too. A request for numbers past the last sent is
 * answered with a heartbeat (an end of session after the end) numbered
 * with the next one: the receiver learns that packets it holds past
 * that were never sent (doc/protocol.md "Retransmission"). Requests from
 * addresses not on the allow list (--retransmit-allow, by default
 * loopback and the unicast destination) are not answered.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr_allow.h"
#include "clock.h"
#include "local_port.h"
#include "mdsub.h"
#include "retransmit.h"

#define POLL_MS 50             /* the thread looks at rtx->stop this often */
#define REQUESTS_PER_WAKE 64
#define UDP_OVERHEAD 28        /* IPv4 + UDP headers, paid with the answer */
#define BURST_SHARE 20         /* a bucket holds 1/20 s of its rate... */
#define BURST_PACKETS 2        /* ...and at least two answers */
#define RCVBUF (1 << 20)       /* a burst of requests after a common loss */
#define SKIP_COST 64           /* bucket bytes per archive message read past */

struct rtx {
	int fd;
	pthread_t thread;
	/* r->lock: store, session, sessions, epoch, first, next, ended,
	 * older and older_ctx, written by the forwarder's thread (rtx_keep(),
	 * rtx_session(), rtx_epoch(), rtx_end(), rtx_set_older()) and read
	 * by the server thread, which copies what an archive read needs
	 * (older_job) and reads without it; idle too. */
	pthread_mutex_t lock;
	struct rtx_store *store;
	char session[MOLD_SESSION_LEN];
	uint64_t sessions;            /* rtx_session() calls so far */
	uint64_t epoch;               /* the session's segment, 0: unknown */
	uint64_t first;               /* the session's first number sent */
	uint64_t next;                /* after the last message sent, 0: none */
	int ended;
	struct addr_allow allow;
	int allow_given;              /* allow is --retransmit-allow's */
	rtx_older_fn older;
	rtx_idle_fn idle;
	void *older_ctx;
	struct rtx_limit *limit;
	size_t answer_max;
	atomic_int stop;
	struct rtx_counts n;          /* the thread's; read after the join */
	unsigned char answer[MOLD_PACKET_MAX];
};

/* held_answer(): only the archive hook can have it. */
#define ASK_OLDER (-1)

/* The archive hook and the session it was asked for, copied under
 * r->lock for a read without it. */
struct older_job {
	rtx_older_fn fn;
	void *ctx;
	uint64_t sessions;            /* r->sessions then */
	uint64_t epoch;               /* r->epoch then */
	unsigned count;               /* asked, cut before r->next then */
};

/* Under r->lock: seals in w the answer to req from what the server holds
 * and returns its length; 0 for none (counted); ASK_OLDER, with job set,
 * when only the archive hook can have it: a number of this session's
 * range, from the first sent to the next (the hook reads the channel,
 * which holds numbers the forwarder never sent; doc/protocol.md,
 * "Retransmission"). */
static int held_answer(struct rtx *r, const struct mold_header *req,
		       struct mold_writer *w, unsigned *got,
		       struct older_job *job)
{
	if (memcmp(req->session, r->session, MOLD_SESSION_LEN)) {
		r->n.session++;
		return 0;
	}
	if (r->next && req->seq >= r->next) /* not sent yet */
		return mold_writer_seal_count(w, req->session, r->next,
					      r->ended ? MOLD_COUNT_END :
							 MOLD_COUNT_HEARTBEAT);
	*got = rtx_store_answer(r->store, req->seq, req->count, w);
	if (*got)
		return mold_writer_seal(w, req->session, req->seq);
	if (!r->next || req->seq < r->first) { /* before the session */
		r->n.before++;
		r->n.out_of_range++;
		return 0;
	}
	if (!r->older || !r->epoch) {
		r->n.out_of_range++;
		return 0;
	}
	*job = (struct older_job){r->older, r->older_ctx, r->sessions, r->epoch,
				  r->next - req->seq < req->count ?
					  (unsigned)(r->next - req->seq) :
					  req->count};
	return ASK_OLDER;
}

/* Takes bytes (and the headers) from the requester's and the total
 * bucket: 1, or 0 (counted) when they cannot pay for them. */
static int pay(struct rtx *r, const struct sockaddr_storage *from,
	       socklen_t fromlen, size_t bytes)
{
	if (rtx_limit_take(r->limit, from, fromlen,
			   (uint64_t)bytes + UDP_OVERHEAD, now_monotonic()))
		return 1;
	r->n.rate++;
	return 0;
}

/* Whether the session a job was copied in is still the current one. */
static int same_session(struct rtx *r, const struct older_job *job)
{
	int same;

	pthread_mutex_lock(&r->lock);
	same = r->sessions == job->sessions;
	pthread_mutex_unlock(&r->lock);
	return same;
}

/* The answer to req from the archive hook, without r->lock (the
 * forwarder's rtx_keep() never waits for a read): paid for first as the
 * largest answer, so that a request the buckets refuse reads nothing,
 * and for the messages read past after the read. Returns its length in
 * r->answer, or 0 for none (counted). */
static int older_answer(struct rtx *r, const struct mold_header *req,
			const struct sockaddr_storage *from,
			socklen_t fromlen, const struct older_job *job,
			unsigned *got)
{
	struct mold_writer w;
	uint64_t skipped = r->n.archive_skipped;

	if (!pay(r, from, fromlen, r->answer_max))
		return 0;
	r->n.archive++;
	mold_writer_init(&w, r->answer, r->answer_max);
	*got = job->fn(job->ctx, job->epoch, req->seq, job->count, &w, &r->n);
	skipped = r->n.archive_skipped - skipped;
	if (skipped)
		rtx_limit_charge(r->limit, from, fromlen, skipped * SKIP_COST,
				 now_monotonic());
	if (!*got) {
		r->n.out_of_range++;
		return 0;
	}
	if (!same_session(r, job)) { /* a new one began meanwhile */
		r->n.session++;
		return 0;
	}
	return mold_writer_seal(&w, req->session, req->seq);
}

/* The answer to req from what the server holds, paid for when it is
 * known; ASK_OLDER (job set) for the archive hook. */
static int paid_held_answer(struct rtx *r, const struct mold_header *req,
			    const struct sockaddr_storage *from,
			    socklen_t fromlen, unsigned *got,
			    struct older_job *job)
{
	struct mold_writer w;
	int n;

	mold_writer_init(&w, r->answer, r->answer_max);
	pthread_mutex_lock(&r->lock);
	n = held_answer(r, req, &w, got, job);
	pthread_mutex_unlock(&r->lock);
	return n > 0 && !pay(r, from, fromlen, (size_t)n) ? 0 : n;
}

static void handle_request(struct rtx *r, const unsigned char *pkt,
			   size_t len, const struct sockaddr_storage *from,
			   socklen_t fromlen)
{
	struct mold_header req;
	struct older_job job = {0};
	unsigned got = 0;
	int n;

	if (!addr_allow_match_sa(&r->allow, (const void *)from, fromlen)) {
		r->n.allow++;
		return;
	}
	if (mold_request_decode(pkt, len, &req) < 0) {
		r->n.malformed++;
		return;
	}
	n = paid_held_answer(r, &req, from, fromlen, &got, &job);
	if (n == ASK_OLDER && job.fn) /* job.fn: set with ASK_OLDER */
		n = older_answer(r, &req, from, fromlen, &job, &got);
	if (n <= 0)
		return;
	if (sendto(r->fd, r->answer, (size_t)n, 0, (const void *)from,
		   fromlen) < 0)
		return; /* the requester asks again */
	r->n.served++;
	r->n.messages += got;
}

static void serve_ready(struct rtx *r)
{
	unsigned char pkt[MOLD_REQUEST_LEN + 1];

	for (int i = 0; i < REQUESTS_PER_WAKE; i++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof from;
		ssize_t len = recvfrom(r->fd, pkt, sizeof pkt,
				       MSG_DONTWAIT | MSG_TRUNC,
				       (void *)&from, &fromlen);

		if (len < 0)
			return;
		handle_request(r, pkt, (size_t)len, &from, fromlen);
	}
}

/* Tells the archive hook the time, at every wake: what it keeps open
 * for requests that stopped coming is released (rtx_archive.c). */
static void tick(struct rtx *r)
{
	rtx_idle_fn idle;
	void *ctx;

	pthread_mutex_lock(&r->lock);
	idle = r->idle;
	ctx = r->older_ctx;
	pthread_mutex_unlock(&r->lock);
	if (idle)
		idle(ctx, now_monotonic());
}

static void *serve(void *arg)
{
	struct rtx *r = arg;
	struct pollfd pfd = {.fd = r->fd, .events = POLLIN};

	/* acquire: pairs with the release store in rtx_close() */
	while (!atomic_load_explicit(&r->stop, memory_order_acquire)) {
		if (poll(&pfd, 1, POLL_MS) > 0)
			serve_ready(r);
		tick(r);
	}
	return NULL;
}

/* The bound socket, or -errno with the reason in err. */
static int bind_socket(const char *listen, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM,
				 .ai_flags = AI_PASSIVE}, *ai;
	char host[FWD_HOST_MAX], *port;
	int rc, fd;

	if (fwd_split_addr(listen, host, sizeof host, &port) < 0) {
		snprintf(err, errlen, "--retransmit=%s: not ADDR:PORT", listen);
		return -EINVAL;
	}
	rc = getaddrinfo(*host && strcmp(host, "*") ? host : NULL, port,
			 &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "--retransmit=%s: %s", listen,
			 gai_strerror(rc));
		return rc == EAI_MEMORY ? -ENOMEM : -EADDRNOTAVAIL;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) /* up to net.core.rmem_max: enough is good enough */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){RCVBUF}, sizeof(int));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen)) {
		rc = -errno;
		snprintf(err, errlen, "--retransmit=%s: bind: %s", listen,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = rc;
	}
	freeaddrinfo(ai);
	return fd;
}

static void rtx_free(struct rtx *r)
{
	if (r->fd >= 0)
		close(r->fd);
	rtx_store_free(r->store);
	rtx_limit_free(r->limit);
	addr_allow_free(&r->allow);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static int start(struct rtx *r, const struct rtx_opts *o, size_t answer_max)
{
	uint64_t burst = o->rate / BURST_SHARE,
		 least = BURST_PACKETS * (answer_max + UDP_OVERHEAD);
	int rc;

	rc = rtx_store_new(&r->store, o->depth, o->bytes);
	if (rc == 0)
		rc = rtx_limit_new(&r->limit, o->rate,
				   burst > least ? burst : least);
	if (rc == 0)
		rc = -pthread_create(&r->thread, NULL, serve, r);
	return rc;
}

/* 1 when the numeric address dest is one of this host's (loopback, or
 * an interface's) */
static int on_this_host(const char *dest)
{
	struct addr_allow one;
	char err[128];
	int here;

	if (addr_allow_parse(&one, dest, "--forward", 0, err, sizeof err) < 0)
		return 0;
	here = one.n == 1 && local_port_on_this_host(&one.rules[0]);
	addr_allow_free(&one);
	return here;
}

/* The allow list: o->allow, else dest (and loopback, for a dest of
 * this host). */
static int allow_list(struct rtx *r, const struct rtx_opts *o,
		      const char *dest, char *err, size_t errlen)
{
	char text[128];

	r->allow_given = o->allow != NULL;
	if (o->allow)
		return addr_allow_parse(&r->allow, o->allow,
					"--retransmit-allow", 0, err, errlen);
	if (!dest) {
		snprintf(err, errlen, "--retransmit with a multicast "
			 "destination needs --retransmit-allow=ADDR[/PREFIX],... "
			 "(the receivers' addresses)");
		return -EINVAL;
	}
	/* loopback only for a receiver on this host, which may ask from
	 * it: any local user can send from loopback, and would get the
	 * channel re-sent whatever its file mode (attack run) */
	snprintf(text, sizeof text, "%s%s",
		 on_this_host(dest) ? "127.0.0.0/8,::1," : "", dest);
	return addr_allow_parse(&r->allow, text, "--retransmit-allow", 0, err,
				errlen);
}

int rtx_allow_warning(const struct rtx *r, char *buf, size_t len)
{
	char text[96];

	for (size_t i = 0; i < r->allow.n; i++) {
		const struct addr_rule *rule = &r->allow.rules[i];

		if (rule->bits && !local_port_on_this_host(rule))
			continue;
		addr_rule_text(rule, text, sizeof text);
		snprintf(buf, len, "%s %s admits every local user (%s), and "
			 "any who knows the session (no secret) gets what was "
			 "forwarded re-sent, whatever the channel's file mode; "
			 "allow the receivers' addresses only "
			 "(--retransmit-allow, mdsub(1))", r->allow_given ?
			 "--retransmit-allow" : "the default allow list's", text,
			 rule->bits ? "an address of this host" : "every address");
		return 1;
	}
	return 0;
}

int rtx_open(struct rtx **out, const struct rtx_opts *o, size_t answer_max,
	     const char *dest, char *err, size_t errlen)
{
	struct rtx *r = calloc(1, sizeof *r);
	int rc;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->answer_max = answer_max;
	r->fd = -1;
	rc = allow_list(r, o, dest, err, errlen);
	if (rc < 0) {
		rtx_free(r);
		return rc;
	}
	r->fd = bind_socket(o->listen, err, errlen);
	if (r->fd < 0) {
		rc = r->fd;
		rtx_free(r);
		return rc;
	}
	rc = start(r, o, answer_max);
	if (rc < 0) {
		snprintf(err, errlen, "--retransmit=%s: %s", o->listen,
			 strerror(-rc));
		rtx_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void rtx_local(const struct rtx *r, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(r->fd, (void *)&ss, &sl) ||
	    getnameinfo((void *)&ss, sl, host, sizeof host, port, sizeof port,
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
		 host, port);
}

void rtx_session(struct rtx *r, const char session[MOLD_SESSION_LEN])
{
	pthread_mutex_lock(&r->lock);
	memcpy(r->session, session, MOLD_SESSION_LEN);
	r->sessions++;
	r->epoch = 0;
	rtx_store_clear(r->store);
	r->first = 0;
	r->next = 0;
	r->ended = 0;
	pthread_mutex_unlock(&r->lock);
}

void rtx_epoch(struct rtx *r, uint64_t epoch)
{
	pthread_mutex_lock(&r->lock);
	r->epoch = epoch;
	pthread_mutex_unlock(&r->lock);
}

void rtx_keep(struct rtx *r, const unsigned char *pkt, size_t len)
{
	struct mold_header h;

	if (mold_header_decode(pkt, len, &h) < 0)
		return;
	pthread_mutex_lock(&r->lock);
	rtx_store_packet(r->store, pkt, len);
	if (!r->next)
		r->first = h.seq;
	if (h.seq + h.count > r->next)
		r->next = h.seq + h.count;
	pthread_mutex_unlock(&r->lock);
}

void rtx_end(struct rtx *r)
{
	pthread_mutex_lock(&r->lock);
	r->ended = 1;
	pthread_mutex_unlock(&r->lock);
}

void rtx_set_older(struct rtx *r, rtx_older_fn older, rtx_idle_fn idle,
		   void *ctx)
{
	pthread_mutex_lock(&r->lock);
	r->older = older;
	r->idle = idle;
	r->older_ctx = ctx;
	pthread_mutex_unlock(&r->lock);
}

void rtx_close(struct rtx *r, struct rtx_counts *c)
{
	/* release: pairs with the acquire load in serve() */
	atomic_store_explicit(&r->stop, 1, memory_order_release);
	pthread_join(r->thread, NULL);
	*c = r->n;
	rtx_free(r);
}
