/*
 * fwd_nats.c - --forward nats://HOST:PORT[,...]: publishes each message
 * on PREFIX.CHANNEL.TYPE.SYMBOL with its sequence and times in headers
 * (common/natswire.h; doc/protocol.md, "NATS framing"), as core NATS or,
 * with --nats-stream, to a JetStream stream (made when missing).
 *
 * JetStream: publishes are asynchronous (js_PublishMsgAsync) and wait in
 * a window of max_pending records until acknowledged. Each carries a
 * message id (Nats-Msg-Id, deduplicated by the stream) and the stream
 * sequence it must follow (Nats-Expected-Last-Sequence: the forwarder is
 * the stream's only writer, so it knows it), so the stream stores them
 * in order or not at all. A failed or timed-out acknowledgement
 * makes the whole window be sent again, in order, once nothing is in
 * flight and a pause has passed, from the one after the stream's last
 * message (read back from the stream: the chain makes it the last of
 * ours that was stored), so each message is stored once and in order
 * across broker failures. An acknowledgement of a record thus
 * acknowledges every record before it. An acknowledgement as a duplicate
 * is not believed (a clustered stream can say so of a message whose
 * proposal it lost): it too makes the stream be read back.
 *
 * The acknowledgements arrive on a thread of the client library: the
 * window is shared with it under a mutex. Publishing happens on mdsub's
 * thread only, without the mutex held.
 *
 * Core NATS: a publish blocks in the client library for as long as the
 * server does not read (a stopped server: once the socket's buffers are
 * full, for ever), so mdsub's thread never publishes itself. It puts the
 * records in the same window, and a thread of ours hands them to the
 * library in order; a record leaves the window once handed over. mdsub's
 * thread thus waits for room at most --nats-stall at a time, as with
 * JetStream, and skips (counted) or waits again; what was handed over
 * reaches the server in order when it reads again (one TCP connection).
 *
 * A message refused by the server's permissions (a user that may not
 * publish on the subject) ends the run: on_async_error() notes it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error_text.h"
#include "mdsub.h"
#include "nats_conn.h"
#include "natswire.h"

#define ID_LEN 40                     /* "SESSION-SEQ" and NUL */
#define RETRY_PAUSE_NS 200000000ULL   /* after a failure, before resending */
#define REPORT_NS NS_PER_SEC          /* at most one error line a second */
#define CLOSE_ACK_WAITS 4             /* at exit, wait this many ack waits */
#define DEDUP_WINDOW_NS (120 * NS_PER_SEC) /* a new stream's duplicates window */

struct rec {
	uint64_t session, seq, ts;
	uint16_t type;
	uint32_t size;
	unsigned char *data;
	uint64_t sseq;      /* the stream sequence it was sent to get */
	uint64_t sent_ns;   /* monotonic, when it was last published */
	int awaiting;       /* that publish is not answered yet */
};

struct nats_fwd {
	const struct nats_fwd_opts *o;
	const char *channel;
	int several;            /* servers in --forward's list */
	char shown[1024];       /* those servers, as natsw_urls_shown() */
	natsConnection *nc;
	struct nats_conn_held nc_held; /* nc's secret, its hold on the guard */
	jsCtx *js;              /* NULL: core NATS */
	char subject[NATSW_SUBJECT_MAX]; /* the stream's: PREFIX.CHANNEL.> */
	int skip;               /* full window: skip (else wait) */
	int skipping;           /* a stall ran out: skip until there is room */
	uint64_t session;
	uint64_t epoch;         /* of the segment last forwarded from */
	uint64_t last_sseq;     /* stream sequence of the last one sent */
	uint64_t last_seq;
	int have_last;
	pthread_mutex_t mu;     /* the rest, shared with on_ack() */
	pthread_cond_t cond;    /* signalled by on_ack() */
	struct rec *win;        /* records head..tail-1 at index % cap */
	uint64_t cap, head, sent, tail;
	uint64_t inflight;      /* publishes not yet answered */
	uint64_t oldest;        /* no record before it awaits an answer */
	uint64_t stranded;      /* answers awaited for records acknowledged
				   before them (a later one's answer) */
	uint64_t stranded_ns;   /* the earliest of those was published */
	int failed;             /* an answer was an error: resend */
	uint64_t retry_ns;      /* not before this (monotonic) */
	char why[256];          /* the last error */
	char failure[NFWD_FAILURE_MAX]; /* what ends the run: the server's
				   permissions refused us, or the connection
				   cannot come back (on_stuck()) */
	int failure_rc;         /* its code (-EACCES, -EPROTO) */
	int failure_told;       /* nfwd_failed() gave it to be printed */
	pthread_t publisher;    /* core NATS: hands records to the library */
	int stop_publisher, publisher_done;
	int publisher_idle;     /* waits on f->work for records */
	pthread_cond_t work;    /* signalled when records are appended */
	uint64_t published, acked, duplicates, errors, resent, skipped, stalls;
	uint64_t held;          /* core NATS: published in a row while the
				   library reconnected, in its reconnect
				   buffer (publish_core()) */
	unsigned long held_round; /* the reconnections told before them */
	uint64_t reported_errors, report_ns;
	uint64_t reported_skips, skip_report_ns;
};

int fwd_nats_built(void)
{
	return 1;
}

static void id_of(char out[ID_LEN], uint64_t session, uint64_t seq)
{
	snprintf(out, ID_LEN, "%016" PRIx64 "-%" PRIu64, session, seq);
}

static void set_num(natsMsg *m, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	natsMsgHeader_Set(m, key, buf);
}

/* The NATS message of r, or NULL (out of memory). */
static natsMsg *make_msg(const struct nats_fwd *f, const struct rec *r)
{
	char subject[NATSW_SUBJECT_MAX], session[NATSW_SESSION_LEN + 1];
	natsMsg *m = NULL;

	if (natsw_subject(subject, sizeof(subject), f->o->prefix, f->channel,
			  r->type, r->data, r->size) < 0 ||
	    natsMsg_Create(&m, subject, NULL, (const char *)r->data,
			   (int)r->size) != NATS_OK)
		return NULL;
	snprintf(session, sizeof(session), "%016" PRIx64, r->session);
	set_num(m, NATSW_HDR_SEQ, r->seq);
	set_num(m, NATSW_HDR_TS, r->ts);
	natsMsgHeader_Set(m, NATSW_HDR_SESSION, session);
	set_num(m, NATSW_HDR_SENT, now_realtime());
	return m;
}

/* ------------------------------------------------ acknowledgements */

static struct rec *rec_at(struct nats_fwd *f, uint64_t i)
{
	return &f->win[i % f->cap];
}

/* The index of the record (session, seq) among those sent and not
 * acknowledged, or f->sent. Under f->mu. */
static uint64_t find_sent(struct nats_fwd *f, uint64_t session, uint64_t seq)
{
	uint64_t i;

	for (i = f->head; i < f->sent; i++) {
		struct rec *r = rec_at(f, i);

		if (r->session == session && r->seq == seq)
			break;
	}
	return i;
}

/* Drops the records up to the one acknowledged, index i (find_sent()),
 * stored at stream sequence sseq (0: not known): the stream stored them
 * all. Under f->mu. */
static void acknowledge(struct nats_fwd *f, uint64_t i, uint64_t sseq)
{
	if (i == f->sent)
		return; /* an answer to a copy sent before: dropped already */
	if (sseq && sseq != rec_at(f, i)->sseq) {
		snprintf(f->why, sizeof(f->why), "seq %" PRIu64 " stored at "
			 "stream sequence %" PRIu64 ", not %" PRIu64 ": does "
			 "another publisher write to the stream?",
			 rec_at(f, i)->seq, sseq, rec_at(f, i)->sseq);
		f->errors++;
	}
	for (; f->head <= i; f->head++) {
		struct rec *r = rec_at(f, f->head);

		if (r->awaiting) { /* still counted in inflight */
			if (!f->stranded || r->sent_ns < f->stranded_ns)
				f->stranded_ns = r->sent_ns;
			f->stranded++;
			r->awaiting = 0;
		}
		free(r->data);
		r->data = NULL;
	}
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
		   void *closure)
{
	struct nats_fwd *f = closure;
	const char *seq_text = NULL, *session_text = NULL;
	uint64_t seq = 0, session = 0, i;

	(void)js;
	natsMsgHeader_Get(msg, NATSW_HDR_SEQ, &seq_text);
	natsMsgHeader_Get(msg, NATSW_HDR_SESSION, &session_text);
	natsw_num_parse(seq_text, &seq);           /* our own headers */
	natsw_session_parse(session_text, &session);
	pthread_mutex_lock(&f->mu);
	f->inflight--;
	i = find_sent(f, session, seq);
	if (i < f->sent)
		rec_at(f, i)->awaiting = 0;
	else if (f->stranded) /* its record went with a later answer */
		f->stranded--;
	if (pa && !pa->Duplicate) {
		f->acked++;
		acknowledge(f, i, pa->Sequence);
	} else if (pa) {
		f->duplicates++; /* read the stream back before going on */
		f->failed = 1;
		f->retry_ns = now_monotonic();
	} else {
		f->errors++;
		if (!f->failed)
			f->retry_ns = now_monotonic() + RETRY_PAUSE_NS;
		f->failed = 1;
		snprintf(f->why, sizeof(f->why), "seq %" PRIu64 ": %s", seq,
			 pae && pae->ErrText ? pae->ErrText :
			 natsStatus_GetText(pae ? pae->Err : NATS_ERR));
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	natsMsg_Destroy(msg);
}

/* ------------------------------------------------------ publishing */

/* A publish failed as NATS_CONNECTION_CLOSED: the client library
 * closed the connection for good, which it does at an -ERR from the
 * server it does not know (libnats 3.4.1, src/conn.c
 * natsConn_processErr(): only a stale connection is reconnected), from
 * a server or from a listener on its port while it is away. Noted to
 * end the run, as on_stuck() (f->mu held); before, every later message
 * failed so, and mdsub forwarded nothing, for ever (attack run). */
static void note_closed(struct nats_fwd *f, natsStatus s)
{
	const char *text = NULL;

	if (s != NATS_CONNECTION_CLOSED || f->failure[0])
		return;
	(void)natsConnection_GetLastError(f->nc, &text);
	f->failure_rc = -EPROTO;
	snprintf(f->failure, sizeof(f->failure), "nats: %s: the client "
		 "library closed the connection for good (%s): nothing would "
		 "be forwarded until mdsub starts again", f->shown,
		 text && *text ? text : "no reason given");
	pthread_cond_broadcast(&f->cond);
}

/* Publishes records sent..tail-1 (mdsub's thread only). Called and
 * returns with f->mu held; lets go of it around each publish. */
static void publish_pending(struct nats_fwd *f)
{
	while (!f->failed && f->sent < f->tail) {
		struct rec *r = rec_at(f, f->sent++);
		natsMsg *m = make_msg(f, r);
		jsPubOptions po;
		char id[ID_LEN];
		natsStatus s = NATS_NO_MEMORY;

		id_of(id, r->session, r->seq);
		jsPubOptions_Init(&po);
		po.ExpectLastSeq = f->last_sseq++; /* 0: an empty stream */
		r->sseq = f->last_sseq;
		r->sent_ns = now_monotonic();
		r->awaiting = 1;
		f->inflight++;
		pthread_mutex_unlock(&f->mu);
		po.MsgId = id; /* no MaxWait: expire_answers() */
		if (m)
			s = js_PublishMsgAsync(f->js, &m, &po);
		natsMsg_Destroy(m); /* NULL when the library took it */
		pthread_mutex_lock(&f->mu);
		f->published++;
		if (s == NATS_OK)
			continue;
		f->inflight--;
		r->awaiting = 0;
		f->errors++;
		f->failed = 1;
		f->retry_ns = now_monotonic() + RETRY_PAUSE_NS;
		snprintf(f->why, sizeof(f->why), "publish: %s",
			 natsStatus_GetText(s));
		note_closed(f, s);
	}
}

/* The stream sequence (*sseq), session and sequence of the stream's last
 * message: 0, -ENOENT when it is empty (*sseq 0) or not ours, -EIO when
 * the stream cannot say now. */
static int stream_last(struct nats_fwd *f, uint64_t *sseq, uint64_t *session,
		       uint64_t *seq)
{
	const char *v = NULL;
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetLastMsg(&m, f->js, f->o->stream, f->subject, NULL,
				     &jerr);
	int rc = 0;

	*sseq = 0;
	if (s == NATS_NOT_FOUND)
		return -ENOENT;
	if (s != NATS_OK)
		return -EIO;
	*sseq = natsMsg_GetSequence(m);
	if (natsMsgHeader_Get(m, NATSW_HDR_SESSION, &v) != NATS_OK ||
	    natsw_session_parse(v, session) ||
	    natsMsgHeader_Get(m, NATSW_HDR_SEQ, &v) != NATS_OK ||
	    natsw_num_parse(v, seq))
		rc = -ENOENT;
	natsMsg_Destroy(m);
	return rc;
}

/* When the oldest publish waiting for its answer may be given up
 * (monotonic ns), or UINT64_MAX. Under f->mu. */
static uint64_t answer_due(struct nats_fwd *f)
{
	uint64_t due = UINT64_MAX;

	if (!f->inflight)
		return UINT64_MAX;
	if (f->stranded)
		due = f->stranded_ns + f->o->ack_wait_ns;
	if (f->oldest < f->head)
		f->oldest = f->head;
	while (f->oldest < f->sent && !rec_at(f, f->oldest)->awaiting)
		f->oldest++;
	if (f->oldest < f->sent &&
	    rec_at(f, f->oldest)->sent_ns + f->o->ack_wait_ns < due)
		due = rec_at(f, f->oldest)->sent_ns + f->o->ack_wait_ns;
	return due;
}

/* The oldest publish not answered in an acknowledgement wait (its
 * record in the window, or acknowledged already by a later answer:
 * f->stranded): every publish the library still waits for is given up
 * (their answers, should they come, are dropped) and the window is sent
 * again, as after a failed answer. Not the library's per-publish
 * MaxWait: libnats 3.4 then makes a timeout message for every publish,
 * answered or not, once the wait has passed, and one made while mdsub
 * exits was reported leaking (LeakSanitizer; tests/nats/ack_expire.sh).
 * Under f->mu. */
static void expire_answers(struct nats_fwd *f, uint64_t now)
{
	natsMsgList lost = {NULL, 0};
	uint64_t due = answer_due(f), given_up = 0, i;
	natsStatus s;

	if (now < due)
		return;
	s = js_PublishAsyncGetPendingList(&lost, f->js);
	if (s != NATS_OK && s != NATS_NOT_FOUND)
		return; /* out of memory: taken back at the next call */
	if (s == NATS_OK) {
		/* answers taken out before this come to on_ack() still */
		given_up = (uint64_t)lost.Count < f->inflight ?
				   (uint64_t)lost.Count : f->inflight;
		f->inflight -= given_up;
		natsMsgList_Destroy(&lost);
	}
	for (i = f->oldest; i < f->sent; i++)
		rec_at(f, i)->awaiting = 0;
	f->stranded = 0;
	f->errors += given_up ? given_up : 1;
	snprintf(f->why, sizeof(f->why), "no acknowledgement in %" PRIu64
		 " ms: %" PRIu64 " publishes given up",
		 f->o->ack_wait_ns / 1000000, given_up);
	if (!f->failed)
		f->retry_ns = now + RETRY_PAUSE_NS;
	f->failed = 1;
}

/* deadline, or sooner the end of the pause after a failure or when an
 * answer is due. Under f->mu. */
static uint64_t wake_at(struct nats_fwd *f, uint64_t deadline)
{
	uint64_t due = answer_due(f);

	/* the resend waits for every answer: on_ack() signals f->cond */
	if (f->failed && !f->inflight && f->retry_ns < deadline)
		deadline = f->retry_ns;
	return due < deadline ? due : deadline;
}

/* After a failure, once every answer is in and the pause has passed:
 * drops what the stream has (its last message is ours), then sends the
 * rest of the window again, in order. Under f->mu, which it lets go of
 * while it asks the stream. */
static void maybe_resend(struct nats_fwd *f, uint64_t now)
{
	uint64_t sseq = 0, session = 0, seq = 0;
	int rc;

	expire_answers(f, now);
	if (!f->failed || f->inflight || now < f->retry_ns)
		return;
	pthread_mutex_unlock(&f->mu);
	rc = stream_last(f, &sseq, &session, &seq);
	pthread_mutex_lock(&f->mu);
	if (rc == -EIO || f->inflight) {
		f->retry_ns = now_monotonic() + RETRY_PAUSE_NS;
		return;
	}
	f->sent = f->tail; /* for acknowledge(): the whole window */
	if (rc == 0)
		acknowledge(f, find_sent(f, session, seq), 0);
	f->last_sseq = sseq;
	f->failed = 0;
	f->resent += f->tail - f->head;
	f->sent = f->head;
	f->oldest = f->head;
	publish_pending(f);
}

/* The code of what ends the run (nfwd_failed()), or 0. Under f->mu. */
static int failed(const struct nats_fwd *f)
{
	return f->failure[0] ? f->failure_rc : 0;
}

/* A timed wait on f->cond until deadline (monotonic ns) at most. */
static int wait_until(struct nats_fwd *f, uint64_t deadline)
{
	uint64_t now = now_monotonic(), left = deadline > now ? deadline - now : 0;
	struct timespec ts;

	if (!left)
		return ETIMEDOUT;
	clock_gettime(CLOCK_REALTIME, &ts);
	left += (uint64_t)ts.tv_nsec;
	ts.tv_sec += (time_t)(left / NS_PER_SEC);
	ts.tv_nsec = (long)(left % NS_PER_SEC);
	return pthread_cond_timedwait(&f->cond, &f->mu, &ts);
}

/* Waits for room in the window: 0 when there is, 1 to skip the message,
 * -EINTR to stop, or the code of what ends the run (failed()). Core
 * NATS: after a wait that ran out in skip mode, messages are skipped at
 * once until there is room again (a server that stopped reading does not
 * slow the reading of the ring to one message a stall; JetStream's
 * window drains by acknowledgements, which a wait per message gives time
 * to come). Under f->mu. */
static int wait_room(struct nats_fwd *f)
{
	uint64_t deadline = now_monotonic() + f->o->stall_ns;

	if (f->tail - f->head < f->cap)
		f->skipping = 0;
	else if (f->skipping)
		return 1;
	while (f->tail - f->head == f->cap) {
		uint64_t now = now_monotonic();

		if (failed(f)) /* broadcast on f->cond */
			return failed(f);
		maybe_resend(f, now);
		if (f->tail - f->head < f->cap)
			break;
		if (now < deadline) {
			uint64_t until = wake_at(f, deadline);

			wait_until(f, until > now ? until : now + 1000000);
			continue;
		}
		f->stalls++;
		if (f->skip) {
			f->skipping = !f->js;
			return 1;
		}
		if (run_stopping())
			return -EINTR;
		deadline = now + f->o->stall_ns;
	}
	return 0;
}

/* The session of message d: the epoch of the segment it came from (the
 * forwarder's reader's, whatever the name holds now), new when that
 * changes (the reader reattached); within one segment, the last session
 * + 1 when the numbering goes back. A recording's (no segment): the
 * session chosen at open, + 1 likewise. */
static void follow_session(struct nats_fwd *f, const struct delivery *d)
{
	if (d->epoch && d->epoch != f->epoch) {
		f->epoch = f->session = d->epoch;
		return;
	}
	if (f->have_last && d->msg->seq <= f->last_seq)
		f->session++;
}

static int append(struct nats_fwd *f, const struct delivery *d)
{
	struct rec *r = rec_at(f, f->tail);

	r->data = malloc(d->msg->size ? d->msg->size : 1);
	if (!r->data)
		return -ENOMEM;
	memcpy(r->data, d->payload, d->msg->size);
	r->session = f->session;
	r->seq = d->msg->seq;
	r->ts = d->msg->ts_ns;
	r->type = d->msg->type;
	r->size = d->msg->size;
	f->tail++;
	return 0;
}

/* ------------------------------------------------------ core NATS */

/* r handed to the library while it reconnects: it went to the library's
 * reconnect buffer, which the next connection sends and a close drops
 * (libnats 3.4.1, src/conn.c: natsConn_bufferWrite() appends to
 * nc->pending from the loss of the connection until a new one is up,
 * which sends and frees it, all under the connection's lock that
 * natsConnection_IsReconnecting() takes). f->held counts such records
 * since the last reconnection (`round`: the reconnections told so far
 * when r was handed over, nats_guard_reconnections(), not the library's
 * own count, which counts connections that then fail their handshake
 * too); a publish that finds the library connected sets it to 0
 * (publish_core()). Under f->mu.
 *
 * The library tells a reconnection later, on its callback thread: a
 * connection that is up again and lost again before that, with nothing
 * published meanwhile, leaves the count on the records before it (sent)
 * and after it (held) alike, and held_at_close() then says none (mdsub(1)
 * BUGS). libnats 3.4.1 has no call that says it at once. */
static void count_held(struct nats_fwd *f, unsigned long round)
{
	if (f->held == 0 || round != f->held_round) {
		f->held = 0; /* a reconnection between sent what it held */
		f->held_round = round;
	}
	f->held++;
}

/* Hands r to the client library, which may block while the
 * server does not read (the publisher thread only, f->mu not held). */
static void publish_core(struct nats_fwd *f, const struct rec *r)
{
	/* before the publish: one told after it may have sent r */
	unsigned long round = nats_guard_reconnections(f->nc_held.guard);
	natsMsg *m = make_msg(f, r);
	natsStatus s = m ? natsConnection_PublishMsg(f->nc, m) : NATS_NO_MEMORY;
	int away = s == NATS_OK && natsConnection_IsReconnecting(f->nc);

	natsMsg_Destroy(m);
	pthread_mutex_lock(&f->mu);
	f->published++;
	if (away)
		count_held(f, round);
	else if (s == NATS_OK)
		f->held = 0;
	if (s != NATS_OK) {
		f->errors++;
		snprintf(f->why, sizeof(f->why), "publish: %s",
			 natsStatus_GetText(s));
		note_closed(f, s);
	}
	pthread_mutex_unlock(&f->mu);
}

/* The publisher thread: records head..tail-1, in order, until told to
 * stop and none is left; then a flush, bounded by the ack wait. */
static void *publisher_main(void *arg)
{
	struct nats_fwd *f = arg;
	int stuck, flushed;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		struct rec *r;

		if (f->head == f->tail) {
			if (f->stop_publisher)
				break;
			f->publisher_idle = 1;
			pthread_cond_wait(&f->work, &f->mu);
			f->publisher_idle = 0;
			continue;
		}
		r = rec_at(f, f->head);
		pthread_mutex_unlock(&f->mu);
		publish_core(f, r);
		pthread_mutex_lock(&f->mu);
		free(r->data);
		r->data = NULL;
		f->head++;
		f->sent = f->head;
		pthread_cond_broadcast(&f->cond);
	}
	stuck = f->failure_rc == -EPROTO;
	pthread_mutex_unlock(&f->mu);
	/* a flush waits its whole time on a connection away; one that
	 * works sent what the reconnect buffer held (its PING came after) */
	flushed = !stuck && natsConnection_FlushTimeout(f->nc,
			(int64_t)(f->o->ack_wait_ns / 1000000)) == NATS_OK;
	pthread_mutex_lock(&f->mu);
	if (flushed)
		f->held = 0;
	f->publisher_done = 1;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static int send_core(struct nats_fwd *f, const struct delivery *d)
{
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = failed(f);
	if (!rc)
		rc = wait_room(f);
	if (rc == 1)
		f->skipped++;
	else if (rc == 0 && (rc = append(f, d)) == 0 && f->publisher_idle)
		pthread_cond_signal(&f->work);
	pthread_mutex_unlock(&f->mu);
	return rc < 0 ? rc : 0;
}

/* Notes a refusal for the user's permissions (under f->mu); text is the
 * server's words, or NULL to name the refusal by its subject. */
static void note_denied(struct nats_fwd *f, const char *text)
{
	if (f->failure[0])
		return;
	f->failure_rc = -EACCES;
	if (text && *text)
		snprintf(f->failure, sizeof(f->failure), "nats: %.200s: the "
			 "user of the credentials may not publish on %.300s: "
			 "give it that permission or use another --nats-prefix",
			 text, f->subject);
	else
		snprintf(f->failure, sizeof(f->failure), "nats: Permissions "
			 "Violation for Publish to %.200s: the user of the "
			 "credentials may not publish on %.200s: give it that "
			 "permission or use another --nats-prefix", f->subject,
			 f->subject);
	pthread_cond_broadcast(&f->cond);
}

/* nats_conn_report_fn: no server came back for a while (the library's
 * reconnecting thread): said, as the library says nothing. */
static void on_away(void *closure, const char *line)
{
	struct nats_fwd *f = closure;

	fprintf(stderr, "mdsub: nats: %s: what is forwarded meanwhile waits in "
		"it (64 MB at most) or the window%s\n", line, f->several ?
		"; a listener that asked for TLS meanwhile keeps it away until "
		"mdsub starts again (mdsub(1), BUGS)" : "");
}

/* nats_conn_report_fn: the connection cannot come back (the library's
 * reconnecting thread): noted to end the run, as a refusal is. */
static void on_stuck(void *closure, const char *line)
{
	struct nats_fwd *f = closure;

	pthread_mutex_lock(&f->mu);
	if (!f->failure[0]) {
		f->failure_rc = -EPROTO;
		snprintf(f->failure, sizeof(f->failure), "nats: %s: nothing "
			 "would be forwarded until mdsub starts again (run "
			 "nats-server on a port below 1024, or with TLS and "
			 "--nats-ca)", line);
		pthread_cond_broadcast(&f->cond);
	}
	pthread_mutex_unlock(&f->mu);
}

/* A message refused by the server's permissions (the client library's
 * thread): noted for nfwd_send() and nfwd_tick() to end the run. */
static void on_async_error(natsConnection *nc, natsSubscription *sub,
			   natsStatus err, void *closure)
{
	struct nats_fwd *f = closure;

	(void)nc;
	(void)sub;
	if (err != NATS_NOT_PERMITTED)
		return;
	/* Not natsConnection_GetLastError(): its text is the connection's
	 * buffer, which the library's reader thread rewrites for every
	 * refusal the server sends (TSan: a data race). */
	pthread_mutex_lock(&f->mu);
	note_denied(f, NULL);
	pthread_mutex_unlock(&f->mu);
}

int nfwd_failed(struct nats_fwd *f, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = failed(f);
	if (rc)
		snprintf(err, errlen, "%s", f->failure);
	f->failure_told = rc < 0;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

int nfwd_send(struct nats_fwd *f, const struct delivery *d)
{
	int rc;

	follow_session(f, d);
	f->last_seq = d->msg->seq;
	f->have_last = 1;
	if (!f->js)
		return send_core(f, d);
	pthread_mutex_lock(&f->mu);
	maybe_resend(f, now_monotonic());
	rc = failed(f);
	if (!rc)
		rc = wait_room(f);
	if (rc == 1)
		f->skipped++;
	else if (rc == 0 && (rc = append(f, d)) == 0)
		publish_pending(f);
	pthread_mutex_unlock(&f->mu);
	return rc < 0 ? rc : 0;
}

/* One line on stderr about new skips, at most every REPORT_NS. */
static void report_skips(struct nats_fwd *f, uint64_t now)
{
	if (f->skipped == f->reported_skips ||
	    now - f->skip_report_ns < REPORT_NS)
		return;
	fprintf(stderr, "mdsub: nats: the server is slow: %" PRIu64 " messages "
		"skipped so far (%" PRIu64 " stalls)\n", f->skipped, f->stalls);
	f->reported_skips = f->skipped;
	f->skip_report_ns = now;
}

/* One line on stderr about new errors and skips, at most every
 * REPORT_NS. */
static void report(struct nats_fwd *f, uint64_t now)
{
	report_skips(f, now);
	if (f->errors == f->reported_errors || now - f->report_ns < REPORT_NS)
		return;
	flockfile(stderr); /* one line: on_away() writes there too */
	fprintf(stderr, "mdsub: nats: %" PRIu64 " publish errors, the last: ",
		f->errors - f->reported_errors);
	put_str(stderr, STR_TEXT, f->why, sizeof(f->why));
	fputs(f->js ? " (resending in order)\n" : "\n", stderr);
	funlockfile(stderr);
	f->reported_errors = f->errors;
	f->report_ns = now;
}

int nfwd_tick(struct nats_fwd *f, uint64_t now_ns, uint64_t *next_ns)
{
	int rc;

	pthread_mutex_lock(&f->mu);
	maybe_resend(f, now_ns);
	report(f, now_ns);
	*next_ns = wake_at(f, now_ns + (f->failed ? RETRY_PAUSE_NS / 4 :
						      REPORT_NS)) - now_ns;
	if ((int64_t)*next_ns <= 0)
		*next_ns = 1000000;
	rc = failed(f);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

/* ------------------------------------------------------ set-up */

/* The stream named o->stream: there with our subject only, or made. */
static int find_stream(struct nats_fwd *f, const char *subject, char *err,
		       size_t errlen)
{
	const struct nats_fwd_opts *o = f->o;
	const char *subjects[1] = {subject};
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, f->js, o->stream, NULL, &jerr);
	char why[256];

	if (s == NATS_OK) {
		int ours = si->Config->SubjectsLen == 1 &&
			   strcmp(si->Config->Subjects[0], subject) == 0;

		f->last_sseq = si->State.LastSeq;
		jsStreamInfo_Destroy(si);
		if (ours)
			return 0;
		snprintf(err, errlen, "stream %s: exists with other subjects; "
			 "the bridge needs a stream of its own, of subject %s",
			 o->stream, subject);
		return -EEXIST;
	}
	if (s != NATS_NOT_FOUND) {
		snprintf(err, errlen, "stream %s: %s", o->stream,
			 nats_conn_error(s, why, sizeof(why)));
		return -EIO;
	}
	jsStreamConfig_Init(&sc);
	sc.Name = o->stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.MaxAge = (int64_t)o->max_age_ns;
	sc.MaxBytes = o->max_bytes ? (int64_t)o->max_bytes : -1;
	sc.MaxMsgs = o->max_msgs ? (int64_t)o->max_msgs : -1;
	sc.Replicas = (int64_t)o->replicas;
	sc.Storage = o->memory ? js_MemoryStorage : js_FileStorage;
	sc.Duplicates = (int64_t)DEDUP_WINDOW_NS;
	s = js_AddStream(&si, f->js, &sc, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		fprintf(stderr, "mdsub: nats: stream %s created, subject %s\n",
			o->stream, subject);
		return 0;
	}
	snprintf(err, errlen, "stream %s: cannot create it: %s", o->stream,
		 nats_conn_error(s, why, sizeof(why)));
	return -EIO;
}

static int open_js(struct nats_fwd *f, char *err, size_t errlen)
{
	char why[256];
	jsOptions jo;
	natsStatus s;

	jsOptions_Init(&jo);
	/* a backstop: the window keeps us below it (resent copies count) */
	jo.PublishAsync.MaxPending = (int64_t)(4 * f->cap);
	jo.PublishAsync.StallWait = (int64_t)(f->o->stall_ns / 1000000) + 1;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = f;
	s = natsConnection_JetStream(&f->js, f->nc, &jo);
	if (s != NATS_OK) {
		snprintf(err, errlen, "JetStream: %s",
			 nats_conn_error(s, why, sizeof(why)));
		return -EIO;
	}
	return find_stream(f, f->subject, err, errlen);
}

/* full = auto: wait for a lossless channel, skip for an overwrite one. */
static void choose_session_and_policy(struct nats_fwd *f,
				      const struct mdsub_opts *o)
{
	struct mdbus_stats st;
	int have = channel_header(f->channel, o->sub.dir, &st) == 0;

	f->session = have ? st.epoch : now_realtime();
	f->skip = o->nats.full == NATS_FULL_SKIP ||
		  (o->nats.full == NATS_FULL_AUTO &&
		   !(have && st.mode == MDBUS_MODE_LOSSLESS));
}

static void free_fwd(struct nats_fwd *f)
{
	if (f->win)
		for (uint64_t i = f->head; i < f->tail; i++)
			free(rec_at(f, i)->data);
	free(f->win);
	pthread_cond_destroy(&f->work);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* nats_guard_report_fn: a handshake cut, told from the guard's thread. */
static void tell_cut(const char *line)
{
	fprintf(stderr, "mdsub: nats: %s\n", line);
}

/* The window, the subject PREFIX.CHANNEL.>, and the connection. */
static int open_conn(struct nats_fwd *f, const struct mdsub_opts *o,
		     char *err, size_t errlen)
{
	struct nats_conn_opts co = {
		.urls = o->fwd.url, .tls = o->nats.tls, .ca = o->nats.ca,
		.cert = o->nats.cert, .key = o->nats.key, .creds = o->nats.creds,
		.nkey = o->nats.nkey, .name = "mdsub",
		.hint = "--nats-creds=FILE or --nats-nkey=SEEDFILE",
		.on_error = on_async_error, .closure = f, .on_cut = tell_cut,
		.on_stuck = on_stuck, .on_away = on_away,
	};
	char chan[3 * MDBUS_CHANNEL_MAX + 2];

	f->win = calloc(f->cap, sizeof(*f->win));
	if (!f->win) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	natsw_token_encode(chan, sizeof(chan), f->channel, strlen(f->channel));
	snprintf(f->subject, sizeof(f->subject), "%s.%s.>", f->o->prefix, chan);
	natsw_urls_shown(o->fwd.url, f->shown, sizeof(f->shown));
	return nats_conn_open(&f->nc, &f->nc_held, &co, err, errlen);
}

int nfwd_open(struct nats_fwd **out, const struct mdsub_opts *o,
	      const char *channel, char *err, size_t errlen)
{
	struct nats_fwd *f = calloc(1, sizeof(*f));
	int rc;

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f->o = &o->nats;
	f->channel = channel;
	f->several = strchr(o->fwd.url, ',') != NULL;
	f->cap = o->nats.max_pending;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cond, NULL);
	pthread_cond_init(&f->work, NULL);
	choose_session_and_policy(f, o);
	rc = open_conn(f, o, err, errlen);
	if (rc == 0)
		rc = o->nats.stream ? open_js(f, err, errlen) :
				      nats_thread_start(&f->publisher,
							publisher_main, f, err,
							errlen);
	if (rc < 0) {
		jsCtx_Destroy(f->js);
		nats_conn_destroy(f->nc, &f->nc_held);
		nats_CloseAndWait(1000);
		free_fwd(f);
		return rc;
	}
	*out = f;
	return 0;
}

/* At exit: what is unacknowledged gets CLOSE_ACK_WAITS ack waits, none
 * when the connection cannot come back (on_stuck()). */
static void drain_window(struct nats_fwd *f)
{
	uint64_t deadline = now_monotonic() + CLOSE_ACK_WAITS * f->o->ack_wait_ns;
	uint64_t now;

	pthread_mutex_lock(&f->mu);
	while (f->failure_rc != -EPROTO && (f->head < f->tail || f->inflight) &&
	       (now = now_monotonic()) < deadline) {
		uint64_t until;

		maybe_resend(f, now);
		until = wake_at(f, deadline);
		wait_until(f, until > now ? until : now + 1000000);
	}
	pthread_mutex_unlock(&f->mu);
}

/* At exit, core NATS: the publisher thread gets CLOSE_ACK_WAITS ack
 * waits to hand over what is left and flush. 0 when it ended (joined),
 * -ETIMEDOUT when it is still blocked in the library (a server that does
 * not read): the connection cannot be closed then. */
static int stop_publisher(struct nats_fwd *f)
{
	uint64_t deadline = now_monotonic() + CLOSE_ACK_WAITS * f->o->ack_wait_ns;
	int done;

	pthread_mutex_lock(&f->mu);
	f->stop_publisher = 1;
	pthread_cond_signal(&f->work);
	while (!f->publisher_done && now_monotonic() < deadline)
		wait_until(f, deadline);
	done = f->publisher_done;
	pthread_mutex_unlock(&f->mu);
	if (!done)
		return -ETIMEDOUT;
	pthread_join(f->publisher, NULL);
	return 0;
}

/* At exit, core NATS, the publisher thread joined: the records that
 * the library's reconnect buffer holds, which its close drops (the
 * connection still away, and not back since: count_held()). */
static uint64_t held_at_close(struct nats_fwd *f)
{
	if (f->held == 0 || !natsConnection_IsReconnecting(f->nc) ||
	    nats_guard_reconnections(f->nc_held.guard) != f->held_round)
		return 0;
	return f->held;
}

int nfwd_close(struct nats_fwd *f)
{
	const char *text = NULL;
	uint64_t left, dropped = 0;
	int rc, stuck = 0, refused;

	if (f->js)
		drain_window(f);
	else if (stop_publisher(f) < 0)
		stuck = 1;
	else
		dropped = held_at_close(f);
	/* flushed: a refusal came before the PONG, on_async_error() or not */
	refused = !stuck && natsConnection_GetLastError(f->nc, &text) ==
				    NATS_NOT_PERMITTED;
	report(f, now_monotonic() + REPORT_NS);
	pthread_mutex_lock(&f->mu);
	if (refused)
		note_denied(f, text);
	left = f->tail - f->head;
	fprintf(stderr, "mdsub: nats: %" PRIu64 " published, %" PRIu64
		" acknowledged, %" PRIu64 " duplicates, %" PRIu64
		" errors, %" PRIu64 " resent, %" PRIu64 " skipped, %" PRIu64
		" stalls, %" PRIu64 " unacknowledged\n", f->published, f->acked,
		f->duplicates, f->errors, f->resent, f->skipped, f->stalls, left);
	rc = failed(f);
	if (rc && !f->failure_told)
		fprintf(stderr, "mdsub: %s\n", f->failure);
	if (dropped) {
		fprintf(stderr, "mdsub: nats: no server back at exit: the "
			"last %" PRIu64 " messages published waited in the "
			"client library's reconnect buffer and are dropped\n",
			dropped);
		if (!rc)
			rc = -ENOTCONN;
	}
	pthread_mutex_unlock(&f->mu);
	if (stuck) {
		/* the publisher holds the connection: leave both to exit() */
		fprintf(stderr, "mdsub: nats: the server did not read for %"
			PRIu64 " ms: %" PRIu64 " messages not published\n",
			CLOSE_ACK_WAITS * f->o->ack_wait_ns / 1000000, left);
		return -ETIMEDOUT;
	}
	natsConnection_Close(f->nc);
	jsCtx_Destroy(f->js);
	nats_conn_destroy(f->nc, &f->nc_held);
	nats_CloseAndWait(1000); /* no library thread calls on_ack() now */
	free_fwd(f);
	return rc;
}
