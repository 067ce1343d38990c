/*
 * src_nats.c - the `nats` source: bus messages from NATS as
 * `mdsub --forward nats://` publishes them (common/natswire.h;
 * doc/protocol.md, "NATS framing"), from a core NATS subscription to a
 * subject filter, or from a JetStream pull consumer (durable: a restarted
 * mdpub goes on where it stopped). See mdpub.conf(5).
 *
 * A thread of the source reads from the client library (NextMsg; from a
 * JetStream consumer through pull requests of our own, nats_pull.h) into
 * a bounded queue and wakes the channel's loop (ev_async), which
 * checks and publishes each message in the channel's thread. A message
 * whose headers or subject are not what the forwarder makes is counted
 * malformed and dropped; a sequence number behind the expected one is a
 * duplicate (dropped), one ahead a feed gap of exactly the messages
 * skipped. JetStream messages are acknowledged (AckAll: the last of each
 * batch) once in the ring: one that back-pressure holds (a lossless
 * channel held full) once the channel publishes it (resume(), or at the
 * stop when it did so in its wait: stop_input() then stop(), source.h),
 * never when the stop drops it; at the stop, those the client library
 * keeps for a reconnection are waited for (flush_acks()). The reader
 * checks that deliveries come without a gap in the consumer's sequence
 * (a server that died with messages on their way, a consumer leader that
 * changed): after one it makes the consumer again, as an ordered
 * consumer does, since a later acknowledgement (AckAll) would else take
 * the missing ones for handled:
 * from the last message the channel's thread took (restart_point()), so
 * that what is queued or held is the new consumer's to deliver, never
 * taken for acknowledged. At start, a durable consumer with deliveries
 * not acknowledged (what a stopped or killed mdpub had fetched and not
 * published, held messages dropped at its stop among them) is made again
 * from its acknowledgement floor (unacked_from()), so a restart goes on
 * exactly where the last acknowledgement left off; with none acknowledged
 * from where it started, which a durable always says as mdpub makes and
 * binds one (make_durable(), remade_next()): from the stream's first, or
 * from a stream sequence; one another client made is counted back in the
 * stream (first_delivered()).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "local_port.h"
#include "log.h"
#include "nats_conn.h"
#include "nats_pull.h"
#include "net.h"
#include "natswire.h"
#include "source.h"

#define NEXT_WAIT_MS 100    /* the reader thread looks at `stopping` */
#define PULL_EXPIRES_MS 500 /* a pull request's life (nats_pull.h) */
#define PULL_LIVE_MAX 8u    /* pull requests live at once (4 seen) */
#define MSG_EXTRA 4096u     /* pending_limits(): a message's headers, at most */
#define NATS_PENDING_MSGS 65536  /* libnats's default pending limits */
#define NATS_PENDING_BYTES (64 * 1024 * 1024)
#define DRAIN_MAX 1024      /* messages per loop iteration */
#define DROPPED_LOOK 1024   /* core: reads between looks at libnats's drops */
#define FLUSH_MS 2000       /* at stop: acknowledgements reach the server */
#define ACK_STOP_MS 5000    /* or, kept for a reconnection, this long */
#define POLL_MS 50
#define COUNT_BACK_MS 3000  /* at start: the stream read back at most this
			       long (mdpub.conf(5)) */
#define RETIRE_FLUSH_MS 500 /* a consumer made again: the read loop is past
			       the old subscription's messages (retire()) */
#define RECONNECT_RETRY_MS 2000 /* a new connection that failed: again,
				   twice as late each time... */
#define RECONNECT_RETRY_MAX_MS 60000 /* ...up to this */
#define REMAKE_WAIT_MS 2000 /* each request of a remake (remake_consumer()),
			       which a stop waits for */

enum {
	NATS_DUPLICATE, /* seen already (sequence behind): dropped */
	NATS_SESSION,   /* a new upstream numbering began */
	NATS_MALFORMED, /* as the channel's malformed counter */
	NATS_ERRORS,    /* failed reads from the server */
	NATS_RESETS,    /* consumers made again after a delivery gap */
	NATS_JUMP,      /* held: more than jump_window ahead */
	NATS_DROPPED,   /* core: past the pending limits, dropped by libnats */
};

static const char *const nats_counters[] = {
	"duplicate", "session", "malformed", "errors", "resets", "jump",
	"dropped", NULL,
};

struct nats_conf {
	char *url, *subject, *stream, *durable;
	int deliver;        /* a new consumer: all, new, last */
	uint64_t batch;     /* fetch at most this many at once */
	uint64_t queue;     /* messages read, not yet published */
	uint64_t max_ack_pending;
	double ack_wait;    /* seconds */
	uint64_t jump_window;
	int gaps;           /* count sequence gaps */
	int timestamps;     /* 0 now, 1 sender */
	int tls;
	char *ca, *cert, *key, *creds, *nkey;
};

static const char *const deliver_names[] = {"all", "new", "last", NULL};
static const jsDeliverPolicy deliver_policy[] = {js_DeliverAll, js_DeliverNew,
						 js_DeliverLast};
static const char *const ts_names[] = {"now", "sender", NULL};

#define OFF(field) offsetof(struct nats_conf, field)
static const struct setting nats_settings[] = {
	{"url", SET_STRING, OFF(url), 0, 0, 0, NULL},
	{"subject", SET_STRING, OFF(subject), 0, 0, 0, NULL},
	{"stream", SET_STRING, OFF(stream), 0, 0, 0, NULL},
	{"durable", SET_STRING, OFF(durable), 0, 0, 0, NULL},
	{"deliver", SET_CHOICE, OFF(deliver), 0, 0, 0, deliver_names},
	{"batch", SET_UINT, OFF(batch), 1, 65536, 0, NULL},
	{"queue", SET_UINT, OFF(queue), 16, 1 << 22, 0, NULL},
	{"max_ack_pending", SET_UINT, OFF(max_ack_pending), 1, 1 << 24, 0, NULL},
	{"ack_wait", SET_DOUBLE, OFF(ack_wait), 0.1, 3600, 0, NULL},
	{"gaps", SET_BOOL, OFF(gaps), 0, 0, 0, NULL},
	{"jump_window", SET_UINT, OFF(jump_window), 1, 4611686018427387904.0, 0,
	 NULL},
	{"timestamps", SET_CHOICE, OFF(timestamps), 0, 0, 0, ts_names},
	{"tls", SET_BOOL, OFF(tls), 0, 0, 0, NULL},
	{"ca", SET_STRING, OFF(ca), 0, 0, 0, NULL},
	{"cert", SET_STRING, OFF(cert), 0, 0, 0, NULL},
	{"key", SET_STRING, OFF(key), 0, 0, 0, NULL},
	{"creds", SET_STRING, OFF(creds), 0, 0, 0, NULL},
	{"nkey", SET_STRING, OFF(nkey), 0, 0, 0, NULL},
	{NULL, 0, 0, 0, 0, 0, NULL},
};

/* A message the reader queued, with its stream sequence (0: core NATS). */
struct queued_msg {
	natsMsg *m;
	uint64_t sseq;
	uint64_t bytes;           /* msg_bytes(m) */
	int parsed;               /* msg_bytes(): its headers parsed */
	int delivery;             /* a delivery of our consumer (in_order()):
				     the only kind acknowledged */
};

struct nats_src {
	struct source base;
	struct nats_conf conf;
	natsConnection *nc;       /* the reader's once started; changed under
				     mu (reconnect()), NULL while it makes a
				     new one */
	struct nats_conn_held nc_held; /* nc's secret, its hold on the guard */
	atomic_int stuck;         /* nc cannot come back (conn_stuck()) */
	atomic_int away;          /* nc away for long, several servers: a new
				     one is made too (conn_away()) */
	int64_t retry_ms;         /* reader: wait before the next new one */
	jsCtx *js;                /* of nc (the reader's, as nc) */
	natsSubscription *sub;    /* NULL while a consumer is being remade */
	struct nats_pull pull;    /* reader: its deliveries (with sub) */
	natsSubscription **retired; /* reader: unsubscribed, to be destroyed
				       (retire()) */
	size_t nretired;
	uint64_t next_dseq;       /* reader: the next delivery expected */
	uint64_t last_sseq;       /* reader: stream sequence taken last */
	pthread_t reader;
	atomic_int stopping;      /* set by stop(), read by the reader */
	ev_async wake_w;          /* the reader queued messages */
	pthread_mutex_t mu;       /* the queue, shared with the reader */
	pthread_cond_t room;      /* the channel's thread made room */
	struct queued_msg *q;
	size_t qcap, qhead, qlen;
	uint64_t qbytes, qbytes_max; /* (mu) msg_bytes() of the queue; its
					budget (queue_full()) */
	uint64_t resume_sseq;     /* (mu) a remade consumer starts here: the
				     stream sequence the channel's thread
				     dequeued last, perhaps held */
	uint64_t gen;             /* (mu) consumers made again so far */
	char consumer[NATSW_SUBJECT_MAX]; /* its name (the reader's: open_pull()) */
	natsMsg *to_ack;          /* the last JetStream message published */
	natsMsg *held;            /* the one back-pressure holds, or NULL */
	uint64_t deq_gen;         /* gen when the last message was dequeued */
	uint64_t to_ack_gen, held_gen; /* gen of to_ack, of held */
	int acked_away;           /* (mu) the last acknowledgement was made
				     while the connection was away: libnats
				     keeps it for the reconnection (cleared
				     once it is back: note_reconnected()) */
	struct natsw_seq seq;
	struct log_limit bad_limit;
	struct log_limit drop_limit; /* NATS_DROPPED */
	struct log_limit closed_limit; /* the reader's only */
	struct log_limit session_limit; /* NATS_SESSION: anyone who may
					 * publish on the subjects can make
					 * one a message */
	char read_error[320];     /* the reader's last error (under mu) */
	uint64_t read_errors;     /* counted by the reader (under mu) */
	uint64_t resets;          /* counted by the reader (under mu) */
	uint64_t reset_from;      /* where the last remade one starts (mu) */
	int64_t dropped_seen;     /* reader: libnats's dropped count, core */
	uint64_t dropped;         /* (mu) dropped since the channel looked */
	unsigned since_dropped;   /* reader: reads since it looked */
	uint64_t msg_max;         /* reader: the slot size (too_large()) */
	int conn_new;             /* reader: the consumer is to be made anew
				     on a new connection (connect_again()) */
	uint64_t oversize;        /* (mu) not queued, malformed: too_large() */
};

static void nats_conf_init(void *conf)
{
	struct nats_conf *c = conf;

	c->batch = 256;
	c->queue = 16384;
	c->max_ack_pending = 65536;
	c->ack_wait = 30;
	c->gaps = 1;
	c->jump_window = 1000000;
}

static int check_subject(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 127)
			return -1;
	return *s && *s != '.' && s[strlen(s) - 1] != '.' && !strstr(s, "..") ?
		       0 : -1;
}

static int nats_conf_check(const void *conf, char *err, size_t errlen)
{
	const struct nats_conf *c = conf;

	if (!c->url || !c->subject) {
		snprintf(err, errlen, "source nats needs url = nats://HOST:PORT "
			 "and subject = FILTER (e.g. mdbus.CHANNEL.>)");
		return -EINVAL;
	}
	if (check_subject(c->subject)) {
		snprintf(err, errlen, "subject '%s': not a NATS subject",
			 c->subject);
		return -EINVAL;
	}
	if (c->durable && (!c->stream || strpbrk(c->durable, ".*> \t"))) {
		snprintf(err, errlen, c->stream ? "durable '%s': no '.', '*', "
			 "'>' or spaces in a consumer name" :
			 "durable = %s needs stream = NAME", c->durable);
		return -EINVAL;
	}
	if (!c->cert != !c->key) {
		snprintf(err, errlen, "cert and key go together");
		return -EINVAL;
	}
	if (c->creds && c->nkey) {
		snprintf(err, errlen, "creds or nkey, not both (a .creds file "
			 "has its own NKey seed)");
		return -EINVAL;
	}
	return natsw_urls_check(c->url, err, errlen);
}

static const char *name_of(const struct nats_src *n)
{
	return channel_name(n->base.ch);
}

/* ------------------------------------------------- the reader thread */

/* The bytes of the headers of m, a message the client library received,
 * as they came: its API gives no length of them, and what parses of them
 * is less (the spaces around each value are trimmed off it, and headers
 * that do not parse give nothing). libnats (src/msg.c natsMsg_create(),
 * 3.4.1 as in 3.9) keeps a received message in one allocation: its
 * subject and '\0', its reply and '\0' when it has one, its headers and
 * '\0' when it has some, then its payload; the headers are what lies
 * between the end of the reply (or of the subject) and the payload,
 * starting with the status line's "NATS/1.0" (src/msg.h HDR_LINE_PRE). 0
 * when the payload is not there or the bytes there do not start so
 * (another layout, as libnats 1.x's separate allocations: what parses is
 * then all that is counted, rather than the distance between two
 * blocks). */
#define HDR_PREFIX "NATS/1.0"
#define HDR_PREFIX_LEN (sizeof(HDR_PREFIX) - 1)

static uint64_t header_bytes(natsMsg *m)
{
	const char *subject = natsMsg_GetSubject(m), *reply = natsMsg_GetReply(m);
	uintptr_t data = (uintptr_t)natsMsg_GetData(m), after;

	if (!subject || !data)
		return 0;
	after = reply && *reply ? (uintptr_t)reply + strlen(reply) + 1 :
		(uintptr_t)subject + strlen(subject) + 1;
	if (data <= after + HDR_PREFIX_LEN || data - after - 1 > INT_MAX ||
	    memcmp((const void *)after, HDR_PREFIX, HDR_PREFIX_LEN) != 0)
		return 0;
	return data - after - 1; /* less the headers' '\0' */
}

/* The bytes m holds: its payload and its headers (as they came,
 * header_bytes(), or as "KEY: VALUE\r\n" lines when that is more);
 * *parsed 0 when the headers do not parse. A JetStream delivery is
 * queued whatever its headers (queue_full()): counted by what parses of
 * them, a header of 60 KB of spaces (JetStream keeps 64 KiB of headers)
 * or that does not parse counted as nothing, and `queue` of them were
 * fetched while back-pressure held the channel; from core NATS, where a
 * header of 1 MB of spaces was counted as a few bytes, not too_large(),
 * the queue held `queue` of them (tests/nats/js_flood.sh,
 * tests/nats/core_flood_queue.sh). */
static uint64_t msg_bytes(natsMsg *m, int *parsed)
{
	const char **keys = NULL, **vals = NULL;
	int nk = 0, nv = 0, i, j;
	uint64_t b = (uint64_t)natsMsg_GetDataLength(m), lines = 0;
	uint64_t raw = header_bytes(m);
	natsStatus s = natsMsgHeader_Keys(m, &keys, &nk);

	*parsed = s == NATS_OK || s == NATS_NOT_FOUND;
	if (s != NATS_OK)
		return b + raw;
	for (i = 0; i < nk; i++) {
		if (natsMsgHeader_Values(m, keys[i], &vals, &nv) != NATS_OK)
			continue;
		for (j = 0; j < nv; j++)
			lines += strlen(keys[i]) + strlen(vals[j]) + 4;
		free((void *)vals);
	}
	free((void *)keys);
	return b + (raw > lines ? raw : lines);
}

/* Whether a core message of `bytes` (msg_bytes()) can only be malformed
 * and is too large to queue: a payload larger than a slot, more than
 * MSG_EXTRA bytes of headers (as they came: header_bytes()), or headers
 * that do not parse. The queue holds `queue`
 * messages while back-pressure holds the channel; of the server's
 * max_payload each (1 MB by default), a flood of such messages by anyone
 * who may publish on the subjects would take that many times more memory
 * than the messages the pending limits and the queue's budget are made
 * for (pending_limits(), queue_full()). */
static int too_large(const struct nats_src *n, natsMsg *m, uint64_t bytes,
		     int parsed)
{
	uint64_t data = (uint64_t)natsMsg_GetDataLength(m);

	return !parsed || data > n->msg_max || bytes - data > MSG_EXTRA;
}

/* Whether the queue has no room: `queue` messages, or a budget of bytes
 * as many messages of the slot size and MSG_EXTRA bytes of headers hold
 * (one message always fits an empty queue). JetStream deliveries are
 * queued whatever their size (malformed ones are acknowledged in order
 * with the rest): the budget bounds what a stream of large messages
 * published by anyone who may, fetched while back-pressure holds the
 * channel, costs. */
static int queue_full(const struct nats_src *n)
{
	return n->qlen == n->qcap || (n->qlen > 0 && n->qbytes >= n->qbytes_max);
}

/* Queues m of `bytes` (msg_bytes(), whose headers parsed or not),
 * waiting for room; 0, or -1 when stopping (m destroyed). */
static int enqueue(struct nats_src *n, natsMsg *m, uint64_t bytes,
		   int parsed, int delivery)
{
	int was_empty;

	pthread_mutex_lock(&n->mu);
	while (queue_full(n) && !atomic_load_explicit(&n->stopping,
						      memory_order_relaxed))
		pthread_cond_wait(&n->room, &n->mu);
	if (queue_full(n)) {
		pthread_mutex_unlock(&n->mu);
		natsMsg_Destroy(m);
		return -1;
	}
	n->q[(n->qhead + n->qlen++) % n->qcap] =
		(struct queued_msg){.m = m, .sseq = n->last_sseq, .bytes = bytes,
				    .parsed = parsed, .delivery = delivery};
	n->qbytes += bytes;
	was_empty = n->qlen == 1;
	pthread_mutex_unlock(&n->mu);
	if (was_empty)
		ev_async_send(n->base.loop, &n->wake_w);
	return 0;
}

/* Counts a failed read (or remake), logged by the channel's thread. */
static void read_failed_text(struct nats_src *n, const char *why)
{
	pthread_mutex_lock(&n->mu);
	n->read_errors++;
	snprintf(n->read_error, sizeof(n->read_error), "%.300s", why);
	pthread_mutex_unlock(&n->mu);
	ev_async_send(n->base.loop, &n->wake_w);
	nats_Sleep(NEXT_WAIT_MS);
}

static void read_failed(struct nats_src *n, natsStatus s)
{
	char why[200];

	read_failed_text(n, nats_conn_error(s, why, sizeof(why)));
}

/* Room in the queue now, at most `want`. */
static int room(struct nats_src *n, int want)
{
	size_t free_slots;

	pthread_mutex_lock(&n->mu);
	while (queue_full(n) && !atomic_load_explicit(&n->stopping,
						      memory_order_relaxed))
		pthread_cond_wait(&n->room, &n->mu);
	free_slots = queue_full(n) ? 0 : n->qcap - n->qlen;
	pthread_mutex_unlock(&n->mu);
	return free_slots < (size_t)want ? (int)free_slots : want;
}

static int pull_subscribe(struct nats_src *n, uint64_t start_seq,
			  jsOptions *jo, char *err, size_t errlen);
static int connected(struct nats_src *n);
static void reconnect(struct nats_src *n);
static void sleep_unless_stopping(struct nats_src *n, int64_t ms);

/* Where a remade consumer starts, its restart point (doc/protocol.md,
 * "NATS framing"): the message the channel's thread dequeued last (in
 * the ring, or held by back-pressure: published twice it is a
 * duplicate, dropped), else the first queued that has a stream sequence
 * (one not from the consumer, queued before any delivery, has none),
 * else after the last message taken. What is queued is dropped (the new
 * consumer delivers it again), and acknowledgements of what the
 * channel's thread dequeued before are not sent (gen): AckAll on the new
 * consumer would take them for its own. The last message taken becomes
 * the one before the restart point, as if the dropped ones never came:
 * the next restart point, when this remake fails (retried by the next
 * read) or the new consumer skips or is gone before it delivered
 * anything, is this one again. Left at the last one taken, past what was
 * dropped, it lost those in silence whenever nothing had been dequeued
 * (back-pressure holding the channel from its start), and AckAll took
 * them for handled. A restart point kept apart until a remake succeeds
 * would not cover a new consumer that skips before its first delivery. */
static uint64_t restart_point(struct nats_src *n)
{
	uint64_t from;

	pthread_mutex_lock(&n->mu);
	from = n->resume_sseq ? n->resume_sseq :
	       n->qlen && n->q[n->qhead].sseq ? n->q[n->qhead].sseq :
	       n->last_sseq + 1;
	while (n->qlen) {
		natsMsg_Destroy(n->q[n->qhead].m);
		n->qhead = (n->qhead + 1) % n->qcap;
		n->qlen--;
	}
	n->qbytes = 0;
	n->gen++;
	pthread_mutex_unlock(&n->mu);
	n->last_sseq = from - 1; /* the reader's own (from >= 1) */
	return from;
}

static void retired_destroy(struct nats_src *n)
{
	while (n->nretired)
		natsSubscription_Destroy(n->retired[--n->nretired]);
}

/* Keeps sub to be destroyed by retired_destroy(); without memory to keep
 * it, it is never destroyed. */
static void keep_retired(struct nats_src *n, natsSubscription *sub)
{
	natsSubscription **grown;

	if (!sub)
		return;
	grown = realloc(n->retired, (n->nretired + 1) * sizeof(*n->retired));
	if (grown) {
		n->retired = grown;
		n->retired[n->nretired++] = sub;
	}
}

/* The consumer's subscription and its pull inbox given up. libnats
 * before 3.6.1 (Debian's 3.4.1; nats.c issue 637) has its read loop find
 * a message's subscription, let go of the connection's lock, make the
 * message and only then lock the subscription: destroyed on this thread
 * in between, it is freed under the read loop (a message for it arriving
 * as a consumer leader changes). So each leaves the connection's table
 * first (natsSubscription_Unsubscribe(), which for the consumer's also
 * deletes a consumer it made: remade from the restart point anyway), our
 * reference keeping it, and is destroyed only once the read loop is past
 * every message it may have found it for: after a flush, whose PONG it
 * reads after them, else at the stop, after natsConnection_Close()
 * joined it (free_src()). */
static void retire(struct nats_src *n)
{
	natsSubscription *inbox = nats_pull_close(&n->pull);

	if (inbox)
		natsSubscription_Unsubscribe(inbox);
	keep_retired(n, inbox);
	if (n->sub)
		natsSubscription_Unsubscribe(n->sub);
	keep_retired(n, n->sub);
	n->sub = NULL;
	if (n->nretired &&
	    natsConnection_FlushTimeout(n->nc, RETIRE_FLUSH_MS) == NATS_OK)
		retired_destroy(n);
}

/* A delivery gap: the consumer again, from the first message that may
 * not be in the ring (restart_point()), so that a stop that drops what
 * is held or queued loses nothing of the durable's. The stop joins this
 * thread: each of the remake's requests (a delete, a consumer's info, a
 * create) waits REMAKE_WAIT_MS at most, not the JetStream context's 5 s
 * (an unanswered one: a server gone or stalled); one that fails is
 * retried by the next read (n->sub NULL). */
static void remake_consumer(struct nats_src *n)
{
	uint64_t from = restart_point(n);
	char err[300];
	jsOptions jo;
	int rc;

	jsOptions_Init(&jo);
	jo.Wait = REMAKE_WAIT_MS;
	retire(n); /* its messages taken live on alone */
	rc = pull_subscribe(n, from, &jo, err, sizeof(err));
	if (rc < 0) {
		if (rc != -ECANCELED)
			read_failed_text(n, err);
		return;
	}
	if (n->conn_new) { /* not a gap in the deliveries */
		n->conn_new = 0;
		log_msg(LOG_NOTICE, "channel %s: consumer made again on the new "
			"connection from stream sequence %" PRIu64, name_of(n),
			from);
		return;
	}
	pthread_mutex_lock(&n->mu);
	n->resets++;
	n->reset_from = from;
	pthread_mutex_unlock(&n->mu);
}

/* 1 when m is the delivery expected (and moves on past it), 2 when it
 * is no delivery of our consumer (no JetStream metadata in its reply
 * subject, or another stream's or consumer's: anyone who learnt the
 * inbox's name may publish there), judged as any message and never
 * acknowledged (attack run: the "+ACK" went to whatever reply subject
 * such a message gave), else 0. */
static int in_order(struct nats_src *n, natsMsg *m)
{
	jsMsgMetaData *meta = NULL;
	int ok;

	if (natsMsg_GetMetaData(&meta, m) != NATS_OK)
		return 2;
	if (!meta->Stream || strcmp(meta->Stream, n->conf.stream) != 0 ||
	    !meta->Consumer || strcmp(meta->Consumer, n->consumer) != 0) {
		jsMsgMetaData_Destroy(meta);
		return 2;
	}
	ok = meta->Sequence.Consumer == n->next_dseq;
	if (ok) {
		n->next_dseq++;
		n->last_sseq = meta->Sequence.Stream;
	}
	jsMsgMetaData_Destroy(meta);
	return ok;
}

/* 1 when the server says the consumer n->sub is bound to is not there:
 * its pull request went unanswered (nats_pull_next()). nats-server 2.9
 * deletes an ephemeral pull consumer that had no request, delivery or
 * acknowledgement for 5 s (its inactive threshold), as while this thread
 * waits for room in the queue (back-pressure); another client may delete
 * a durable. Its requests then go nowhere, answered by nothing: the
 * consumer is made again from the restart point (remake_consumer()),
 * else the source would read nothing more, saying nothing. Counted and
 * logged as a read error. The request waits REMAKE_WAIT_MS at most. */
static int consumer_gone(struct nats_src *n)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	jsOptions jo;
	natsStatus s;
	char why[300];

	jsOptions_Init(&jo);
	jo.Wait = REMAKE_WAIT_MS;
	s = natsSubscription_GetConsumerInfo(&ci, n->sub, &jo, &jerr);
	jsConsumerInfo_Destroy(ci);
	if (s == NATS_OK || jerr != JSConsumerNotFoundErr)
		return 0;
	snprintf(why, sizeof(why), "stream %s: the consumer%s%s is gone "
		 "(deleted): made again", n->conf.stream,
		 n->conf.durable ? " " : "",
		 n->conf.durable ? n->conf.durable : "");
	read_failed_text(n, why);
	return 1;
}

/* The consumer's next delivery, queued; a gap in the deliveries makes
 * it again. Through our own pull requests (nats_pull.h): libnats before
 * 3.9.0 (Debian's 3.4.1; nats.c 8099b5c9) has natsSubscription_Fetch()
 * of b messages take first the c its subscription already holds
 * (delivered for an earlier fetch after it ended), ask the server for
 * b - c, then collect until it has b - c in all: with 2c >= b never, and
 * what comes beyond b until its wait ends is written past its array of b
 * (heap corruption: what aborted cluster.sh's receiver near a leader
 * change). A request asks for what the queue has room for; each message
 * is queued as it comes. */
static void pull_some(struct nats_src *n)
{
	int want = room(n, (int)n->conf.batch), order;
	natsMsg *m = NULL;
	char why[300];
	natsStatus s;

	if (!n->sub) { /* its requests would wait for the connection */
		if (connected(n))
			remake_consumer(n);
		else
			nats_Sleep(NEXT_WAIT_MS);
		return;
	}
	if (want <= 0)
		return;
	s = nats_pull_next(&n->pull, want, NEXT_WAIT_MS, &m, why, sizeof(why));
	if (s == NATS_TIMEOUT)
		return;
	if (s == NATS_NO_RESPONDERS) {
		if (connected(n) && consumer_gone(n))
			remake_consumer(n);
		return;
	}
	if (s != NATS_OK) {
		if (*why)
			read_failed_text(n, why);
		else
			read_failed(n, s);
		return;
	}
	/* A message of the subscription made after the retired ones left the
	 * connection's table: the read loop, which handles a connection's
	 * messages one at a time and in order, is past every message it found
	 * them for, so they go now, not at the next remake or the stop
	 * (retire()). */
	retired_destroy(n);
	order = in_order(n, m);
	if (order) {
		int parsed;
		uint64_t bytes = msg_bytes(m, &parsed);

		/* queued, or destroyed */
		enqueue(n, m, bytes, parsed, order == 1);
		return;
	}
	natsMsg_Destroy(m);
	remake_consumer(n);
}

/* What the client library dropped past the core subscription's pending
 * limits (subscribe()) since it last looked: counted, and logged by the
 * channel's thread. It looks each DROPPED_LOOK reads, at each wait that
 * found nothing, when the library says it dropped, and as the reader
 * ends (reader_main()). */
static void look_dropped(struct nats_src *n)
{
	int64_t d = 0;

	n->since_dropped = 0;
	if (natsSubscription_GetDropped(n->sub, &d) != NATS_OK ||
	    d <= n->dropped_seen)
		return;
	pthread_mutex_lock(&n->mu);
	n->dropped += (uint64_t)(d - n->dropped_seen);
	pthread_mutex_unlock(&n->mu);
	n->dropped_seen = d;
	ev_async_send(n->base.loop, &n->wake_w);
}

static void next_one(struct nats_src *n)
{
	natsMsg *m = NULL;
	natsStatus s = natsSubscription_NextMsg(&m, n->sub, NEXT_WAIT_MS);
	uint64_t bytes;
	int parsed;

	if (s != NATS_OK || ++n->since_dropped == DROPPED_LOOK)
		look_dropped(n);
	if (s != NATS_OK) {
		if (s != NATS_TIMEOUT && s != NATS_SLOW_CONSUMER)
			read_failed(n, s);
		return;
	}
	bytes = msg_bytes(m, &parsed);
	if (!too_large(n, m, bytes, parsed)) {
		enqueue(n, m, bytes, parsed, 0);
		return;
	}
	natsMsg_Destroy(m);
	pthread_mutex_lock(&n->mu);
	n->oversize++;
	pthread_mutex_unlock(&n->mu);
	ev_async_send(n->base.loop, &n->wake_w);
}

/* Acknowledgements kept for a reconnection went out with it: libnats
 * 3.4.1 writes what it kept for one (its pending buffer) before it says
 * connected again (src/conn.c, _doReconnect()). Seen connected after an
 * acknowledgement made away (both under mu: ack_published()), the stop
 * need not wait for the connection (flush_acks()); the channel's thread
 * makes no acknowledgement while back-pressure holds it, nor perhaps
 * after the reconnection, so this thread looks, each read (NEXT_WAIT_MS
 * at most while connected; not while the queue is full, room(): a stop
 * then waits as if nothing went out, the safe side). */
static void note_reconnected(struct nats_src *n)
{
	pthread_mutex_lock(&n->mu);
	if (n->acked_away && connected(n))
		n->acked_away = 0;
	pthread_mutex_unlock(&n->mu);
}

/* The client library closed the connection for good: it does so at an
 * -ERR from the server that it does not know (libnats 3.4.1, src/conn.c
 * natsConn_processErr(): only a stale connection is reconnected), which
 * a server, or a listener on its port while it is away, may send. Every
 * read then fails as "Connection Closed" and nothing comes back (attack
 * run): logged (rate-limited: such a listener can close each new one),
 * and after RECONNECT_RETRY_MS a new connection (reconnect()). 1 when it
 * is so. */
static int closed_for_good(struct nats_src *n)
{
	const char *text = NULL;

	if (!natsConnection_IsClosed(n->nc))
		return 0;
	(void)natsConnection_GetLastError(n->nc, &text);
	log_limited(&n->closed_limit, LOG_ERR, "channel %s: the client library "
		    "closed the connection for good (%s): making a new "
		    "connection", name_of(n),
		    text && *text ? text : "no reason given");
	sleep_unless_stopping(n, RECONNECT_RETRY_MS);
	return 1;
}

static void *reader_main(void *arg)
{
	struct nats_src *n = arg;

	while (!atomic_load_explicit(&n->stopping, memory_order_relaxed)) {
		/* relaxed: flags alone, set by conn_stuck(), conn_away() */
		if (!n->nc ||
		    atomic_load_explicit(&n->stuck, memory_order_relaxed) ||
		    atomic_load_explicit(&n->away, memory_order_relaxed) ||
		    closed_for_good(n)) {
			reconnect(n);
			continue;
		}
		note_reconnected(n);
		if (n->conf.stream)
			pull_some(n);
		else
			next_one(n);
	}
	/* What libnats dropped since the last look, in the final counters
	 * (note_read_errors() after the join): held in enqueue() until the
	 * stop, the reader never looked while the drops happened. */
	if (!n->conf.stream)
		look_dropped(n);
	return NULL;
}

/* --------------------------------------------- the channel's thread */

/* A peer's subject for the log: at most 100 bytes, what is not
 * printable ASCII as '?'. */
static const char *subject_text(const char *subject, char out[101])
{
	size_t i = 0;

	for (; subject && subject[i] && i < 100; i++)
		out[i] = subject[i] > ' ' && subject[i] < 127 ? subject[i] : '?';
	out[i] = '\0';
	return out;
}

static void malformed(struct nats_src *n, const char *subject,
		      const char *why)
{
	char text[101];

	channel_count_malformed(n->base.ch);
	channel_count(n->base.ch, NATS_MALFORMED, 1);
	log_limited(&n->bad_limit, LOG_WARNING, "channel %s: message on "
		    "'%s': %s", name_of(n), subject_text(subject, text), why);
}

/* Reads the three headers; NULL, or what is wrong. */
static const char *read_headers(natsMsg *m, uint64_t *seq, uint64_t *ts,
				uint64_t *session)
{
	const char *v = NULL;

	if (natsMsgHeader_Get(m, NATSW_HDR_SEQ, &v) != NATS_OK ||
	    natsw_num_parse(v, seq))
		return "no valid " NATSW_HDR_SEQ " header";
	if (natsMsgHeader_Get(m, NATSW_HDR_TS, &v) != NATS_OK ||
	    natsw_num_parse(v, ts))
		return "no valid " NATSW_HDR_TS " header";
	if (natsMsgHeader_Get(m, NATSW_HDR_SESSION, &v) != NATS_OK ||
	    natsw_session_parse(v, session))
		return "no valid " NATSW_HDR_SESSION " header";
	return NULL;
}

/* 0 to publish, -1 to drop (counted). */
static int judge_sequence(struct nats_src *n, uint64_t session, uint64_t seq)
{
	uint64_t lost;

	switch (natsw_seq_check(&n->seq, session, seq, &lost)) {
	case NATSW_DUPLICATE:
		channel_count(n->base.ch, NATS_DUPLICATE, 1);
		/* far behind: redeliveries never are; a message forged ahead
		 * (a jump continued, a session switched to and back) makes
		 * every real one look so, and must not be silent */
		if (n->seq.expected - seq > n->seq.jump_window)
			log_limited(&n->bad_limit, LOG_WARNING, "channel %s: "
				    "upstream seq %" PRIu64 " is %" PRIu64 " behind "
				    "the expected %" PRIu64 ": dropped as seen "
				    "already (a message forged ahead would make "
				    "every real one look so)", name_of(n), seq,
				    n->seq.expected - seq, n->seq.expected);
		return -1;
	case NATSW_JUMP:
		channel_count(n->base.ch, NATS_JUMP, 1);
		log_limited(&n->bad_limit, LOG_WARNING, "channel %s: upstream "
			    "seq %" PRIu64 " while %" PRIu64 " is expected: held "
			    "until the next message continues it", name_of(n),
			    seq, n->seq.expected);
		return -1;
	case NATSW_SESSION:
		channel_count(n->base.ch, NATS_SESSION, 1);
		log_limited(&n->session_limit, LOG_NOTICE, "channel %s: upstream "
			    "session %016" PRIx64 " from seq %" PRIu64,
			    name_of(n), session, seq);
		return 0;
	case NATSW_GAP:
		if (!n->conf.gaps)
			return 0;
		channel_count_gap(n->base.ch, lost);
		log_limited(&n->bad_limit, LOG_WARNING, "channel %s: gap: "
			    "upstream messages %" PRIu64 "..%" PRIu64 " lost",
			    name_of(n), seq - lost, seq - 1);
		return 0;
	default:
		return 0;
	}
}

/* Publishes m, or counts it malformed; `parsed` 0 when its headers did
 * not parse (msg_bytes()). Those are never read again: libnats (3.4.1,
 * src/msg.c _liftHeaders()) keeps the headers it parsed before the line
 * that failed and parses again at the next ask, on the text the first
 * parse cut up into strings, which then takes the lines up to the one
 * that failed for its status line and parses: the forwarder's three
 * headers before a line of garbage made a JetStream delivery published,
 * and the real message of its sequence number a duplicate
 * (tests/nats/js_bad_headers.sh). */
static void handle(struct nats_src *n, natsMsg *m, int parsed)
{
	const char *subject = natsMsg_GetSubject(m), *why;
	const void *data = natsMsg_GetData(m);
	int len = natsMsg_GetDataLength(m);
	static const char empty[1];

	if (!data || len <= 0) {
		data = empty;
		len = 0;
	}
	uint64_t seq, ts, session;
	uint16_t type;

	why = parsed ? read_headers(m, &seq, &ts, &session) :
		       "its headers do not parse";
	if (!why && (len < 0 || (size_t)len > channel_payload_max(n->base.ch)))
		why = "larger than the channel's slots";
	if (!why && (!subject || natsw_subject_check(subject, data, (size_t)len,
						     &type)))
		why = "its subject is not PREFIX.CHANNEL.TYPE.SYMBOL of its "
		      "payload";
	if (why) {
		malformed(n, subject, why);
		return;
	}
	if (judge_sequence(n, session, seq) == 0)
		channel_publish(n->base.ch, type, data, (size_t)len,
				n->conf.timestamps ? ts : 0);
}

/* A JetStream message handled: acknowledged by the next
 * ack_published(), or once the channel publishes it when back-pressure
 * holds it (channel_held(): at most this one, as wake_cb() takes no more
 * while the channel is paused, and the backlog is empty when it is not). */
static void taken(struct nats_src *n, natsMsg *m)
{
	int held = channel_held(n->base.ch) > 0;
	natsMsg **slot = held ? &n->held : &n->to_ack;

	natsMsg_Destroy(*slot);
	*slot = m;
	*(held ? &n->held_gen : &n->to_ack_gen) = n->deq_gen;
}

static int connected(struct nats_src *n)
{
	return natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
}

/* Acknowledges what is in the ring (AckAll: the last one says it all),
 * the held message too once the channel published it: never one dropped
 * at the stop, which a restart with the durable must get again. On our
 * connection rather than with natsMsg_Ack(), which goes through the
 * message's subscription: the reader may have destroyed it since (a
 * consumer made again). */
static void ack_published(struct nats_src *n)
{
	const char *reply;

	if (n->held && !channel_held(n->base.ch)) {
		natsMsg_Destroy(n->to_ack);
		n->to_ack = n->held;
		n->to_ack_gen = n->held_gen;
		n->held = NULL;
	}
	if (!n->to_ack)
		return;
	reply = natsMsg_GetReply(n->to_ack);
	pthread_mutex_lock(&n->mu); /* before a remake's requests, or not */
	if (reply && *reply && n->to_ack_gen == n->gen && n->nc) {
		natsConnection_PublishString(n->nc, reply, "+ACK");
		n->acked_away = !connected(n);
	}
	pthread_mutex_unlock(&n->mu);
	natsMsg_Destroy(n->to_ack);
	n->to_ack = NULL;
}

/* The reader's errors, logged from this thread. */
static void note_read_errors(struct nats_src *n)
{
	char why[320];
	uint64_t errs, resets, from, dropped, large;

	pthread_mutex_lock(&n->mu);
	errs = n->read_errors;
	n->read_errors = 0;
	dropped = n->dropped;
	n->dropped = 0;
	large = n->oversize;
	n->oversize = 0;
	resets = n->resets;
	n->resets = 0;
	from = n->reset_from;
	memcpy(why, n->read_error, sizeof(why));
	pthread_mutex_unlock(&n->mu);
	if (resets) {
		channel_count(n->base.ch, NATS_RESETS, resets);
		log_msg(LOG_WARNING, "channel %s: a gap in the deliveries: "
			"consumer made again from stream sequence %" PRIu64,
			name_of(n), from);
	}
	if (large) {
		channel_count(n->base.ch, NATS_MALFORMED, large);
		for (uint64_t i = 0; i < large; i++)
			channel_count_malformed(n->base.ch);
		log_limited(&n->bad_limit, LOG_WARNING, "channel %s: %" PRIu64
			    " messages larger than the channel's slots or with "
			    "more than %u bytes of headers: not queued, "
			    "malformed", name_of(n), large, MSG_EXTRA);
	}
	if (dropped) {
		channel_count(n->base.ch, NATS_DROPPED, dropped);
		log_limited(&n->drop_limit, LOG_WARNING, "channel %s: the client "
			    "library dropped %" PRIu64 " messages: more waited "
			    "than the subscription's pending limits while the "
			    "channel held back (raise queue)", name_of(n),
			    dropped);
	}
	if (!errs)
		return;
	channel_count(n->base.ch, NATS_ERRORS, errs);
	log_limited(&n->bad_limit, LOG_WARNING, "channel %s: reading from "
		    "NATS: %s (retrying)", name_of(n), why);
}

/* The oldest queued message, or NULL; *parsed as msg_bytes() said,
 * *delivery as in_order() (NULL: not wanted). */
static natsMsg *dequeue(struct nats_src *n, int *parsed, int *delivery)
{
	natsMsg *m = NULL;

	pthread_mutex_lock(&n->mu);
	if (n->qlen) {
		int was_full = queue_full(n);

		m = n->q[n->qhead].m;
		*parsed = n->q[n->qhead].parsed;
		if (delivery)
			*delivery = n->q[n->qhead].delivery;
		if (n->q[n->qhead].sseq)
			n->resume_sseq = n->q[n->qhead].sseq;
		n->deq_gen = n->gen;
		n->qbytes -= n->q[n->qhead].bytes;
		n->qhead = (n->qhead + 1) % n->qcap;
		n->qlen--;
		if (was_full && !queue_full(n))
			pthread_cond_signal(&n->room);
	}
	pthread_mutex_unlock(&n->mu);
	return m;
}

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct nats_src *n = w->data;
	natsMsg *m;
	int i, parsed, delivery;

	(void)loop, (void)revents;
	note_read_errors(n);
	for (i = 0; i < DRAIN_MAX && !channel_paused(n->base.ch) &&
		    (m = dequeue(n, &parsed, &delivery)); i++) {
		handle(n, m, parsed);
		if (delivery)
			taken(n, m);
		else
			natsMsg_Destroy(m);
	}
	ack_published(n);
	if (i == DRAIN_MAX)
		ev_async_send(n->base.loop, &n->wake_w); /* more next time */
}

/* ------------------------------------------------------- set-up */

/* nats_guard_report_fn: a handshake cut, logged from the guard's thread. */
static void log_cut(const char *line)
{
	log_msg(LOG_WARNING, "%s", line);
}

/* nats_conn_report_fn: no server came back for a while (the library's
 * reconnecting thread): logged. With several servers in `url` the
 * library's refusals may not be seen (nats_conn.h): the reader makes a
 * new connection all the same, which is also what a connection that can
 * come back gets from it: another that tries the same servers. */
static void conn_away(void *closure, const char *line)
{
	struct nats_src *n = closure;
	int several = strchr(n->conf.url, ',') != NULL;

	log_msg(LOG_WARNING, "channel %s: %s%s", name_of(n), line,
		several ? ": making a new connection" : "");
	/* relaxed: a flag alone, which the reader reads at each turn */
	if (several)
		atomic_store_explicit(&n->away, 1, memory_order_relaxed);
}

/* nats_conn_report_fn: the connection cannot come back (the library's
 * reconnecting thread): logged, and the reader makes a new one
 * (reconnect()). */
static void conn_stuck(void *closure, const char *line)
{
	struct nats_src *n = closure;

	log_msg(LOG_ERR, "channel %s: %s: making a new connection (run "
		"nats-server on a port below 1024, or with TLS and ca)",
		name_of(n), line);
	/* relaxed: a flag alone, which the reader reads at each turn */
	atomic_store_explicit(&n->stuck, 1, memory_order_relaxed);
}

static void conn_opts(struct nats_src *n, struct nats_conn_opts *o)
{
	const struct nats_conf *c = &n->conf;

	memset(o, 0, sizeof(*o));
	o->urls = c->url;
	o->tls = c->tls;
	o->ca = c->ca;
	o->cert = c->cert;
	o->key = c->key;
	o->creds = c->creds;
	o->nkey = c->nkey;
	o->name = name_of(n);
	o->hint = "creds = FILE or nkey = SEEDFILE";
	o->on_cut = log_cut;
	o->on_stuck = conn_stuck;
	o->on_away = conn_away;
	/* it only reads: a server that reads nothing would hold the library's
	 * reading thread in a send for ever (tests/nats/unread.sh) */
	o->cut_unread = 1;
	o->closure = n;
}

/* A consumer's configuration: from start_seq, or (0) as the deliver
 * policy says. */
static void consumer_config(const struct nats_src *n, jsConsumerConfig *cc,
			    uint64_t start_seq)
{
	jsConsumerConfig_Init(cc);
	cc->DeliverPolicy = start_seq ? js_DeliverByStartSequence :
					deliver_policy[n->conf.deliver];
	cc->OptStartSeq = start_seq;
	cc->AckPolicy = js_AckAll;
	cc->AckWait = (int64_t)(n->conf.ack_wait * 1e9);
	cc->MaxAckPending = (int64_t)n->conf.max_ack_pending;
	cc->FilterSubject = n->conf.subject;
}

static int consumer_failed(const struct nats_src *n, natsStatus s, char *err,
			   size_t errlen)
{
	char why[256];

	snprintf(err, errlen, "stream %s%s%s: %s", n->conf.stream,
		 n->conf.durable ? ", consumer " : "",
		 n->conf.durable ? n->conf.durable : "",
		 nats_conn_error(s, why, sizeof(why)));
	return -EIO;
}

/*
 * Pending limits for a subscription that brings at most `count` messages
 * the source has not asked to wait: each of the channel's slot size (more
 * than its largest payload; its segment is not open yet) and MSG_EXTRA
 * bytes of headers, at least libnats's defaults. What the source asked
 * for fits (past the limits the client library drops: a gap), and a
 * flood by another client while back-pressure holds the reader costs
 * that much memory at most (doc/protocol.md, "NATS framing").
 */
static void pending_limits(const struct nats_src *n, uint64_t count,
			   int *msgs, int *bytes)
{
	uint64_t b = count * (channel_conf(n->base.ch)->slot_size + MSG_EXTRA);

	*msgs = count > NATS_PENDING_MSGS ?
		(count > INT_MAX ? INT_MAX : (int)count) : NATS_PENDING_MSGS;
	*bytes = b > INT_MAX ? INT_MAX :
		 b > NATS_PENDING_BYTES ? (int)b : NATS_PENDING_BYTES;
}

/* The pull requests for the consumer n->sub is bound to: its name is the
 * durable's, or the server's for one it named. 0, or a negative code
 * with the reason in err and the subscription given up (retire()). */
static int open_pull(struct nats_src *n, jsOptions *jo, char *err,
		     size_t errlen)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s = NATS_OK;
	int rc, max_msgs, max_bytes;

	pending_limits(n, PULL_LIVE_MAX * n->conf.batch, &max_msgs, &max_bytes);
	if (!n->conf.durable)
		s = natsSubscription_GetConsumerInfo(&ci, n->sub, jo, &jerr);
	if (s == NATS_OK)
		snprintf(n->consumer, sizeof(n->consumer), "%s",
			 ci ? ci->Name : n->conf.durable);
	rc = s != NATS_OK ? consumer_failed(n, s, err, errlen) :
	     nats_pull_open(&n->pull, n->nc, n->conf.stream, n->consumer,
			    PULL_EXPIRES_MS, max_msgs, max_bytes, err, errlen);
	jsConsumerInfo_Destroy(ci);
	if (rc < 0)
		retire(n);
	return rc;
}

/* The pull consumer: a durable bound as it is (start_seq 0), or made
 * (again) from start_seq, or as the deliver policy says; each request
 * waiting as jo says (NULL: the JetStream context's 5 s). Not made when
 * the source is stopping (a remake: -ECANCELED). */
static int pull_subscribe(struct nats_src *n, uint64_t start_seq,
			  jsOptions *jo, char *err, size_t errlen)
{
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	if (start_seq && n->conf.durable)
		js_DeleteConsumer(n->js, n->conf.stream, n->conf.durable, jo,
				  &jerr);
	/* relaxed: a flag alone, set by nats_stop_input() */
	if (atomic_load_explicit(&n->stopping, memory_order_relaxed)) {
		n->sub = NULL;
		snprintf(err, errlen, "stopping");
		return -ECANCELED;
	}
	jsSubOptions_Init(&so);
	so.Stream = n->conf.stream;
	consumer_config(n, &so.Config, start_seq);
	s = js_PullSubscribe(&n->sub, n->js, n->conf.subject, n->conf.durable,
			     jo, &so, &jerr);
	if (s != NATS_OK) {
		n->sub = NULL;
		return consumer_failed(n, s, err, errlen);
	}
	n->next_dseq = 1;
	return open_pull(n, jo, err, errlen);
}

/* A durable's info that no server can mean: its last delivery or its
 * acknowledgement floor at stream sequence 2^64 - 1, after which no
 * message can be (the sequence after, 1 more, would wrap to 0, which
 * pull_subscribe() takes for "as the deliver policy says"), from a
 * broken or hostile server. 0, or -EIO with err naming the value: the
 * channel does not start, as when the info cannot be read (mdpub.conf(5),
 * source nats), rather than read from a place the server never said. */
static int absurd_info(const struct nats_src *n, const jsConsumerInfo *ci,
		       char *err, size_t errlen)
{
	const char *what = ci->Delivered.Stream == UINT64_MAX ? "last delivery" :
			   ci->AckFloor.Stream == UINT64_MAX ?
			   "acknowledgement floor" : NULL;

	if (!what)
		return 0;
	snprintf(err, errlen, "stream %s, consumer %s: the server says its %s "
		 "is at stream sequence %" PRIu64 ", which no stream reaches: "
		 "answer refused", n->conf.stream, n->conf.durable, what,
		 UINT64_MAX);
	return -EIO;
}

/* A new durable: with deliver = new or last made where the server puts
 * it (its last delivery, none yet, is the stream sequence before), then
 * made again from there by start sequence, so that a restart that finds
 * nothing acknowledged knows where its first delivery is
 * (unacked_from()). Only for one the server said is not there: it
 * answers the create of one that is, same configuration, with it as it
 * is, and making it again after its last delivery would drop those not
 * acknowledged. */
static int make_durable(struct nats_src *n, char *err, size_t errlen)
{
	jsConsumerConfig cc;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	uint64_t start;
	natsStatus s;
	int rc;

	if (deliver_policy[n->conf.deliver] == js_DeliverAll)
		return pull_subscribe(n, 0, NULL, err, errlen);
	consumer_config(n, &cc, 0);
	cc.Durable = n->conf.durable;
	s = js_AddConsumer(&ci, n->js, n->conf.stream, &cc, NULL, &jerr);
	if (s != NATS_OK)
		return consumer_failed(n, s, err, errlen);
	rc = absurd_info(n, ci, err, errlen);
	start = ci->Delivered.Stream + 1;
	jsConsumerInfo_Destroy(ci);
	if (rc < 0)
		return rc;
	log_msg(LOG_NOTICE, "channel %s: consumer %s made, deliver = %s: from "
		"stream sequence %" PRIu64, name_of(n), n->conf.durable,
		deliver_names[n->conf.deliver], start);
	n->last_sseq = start - 1;
	return pull_subscribe(n, start, NULL, err, errlen);
}

/* Where a durable's first delivery not acknowledged is: after its
 * acknowledgement floor; with none acknowledged (floor 0: nats-server
 * 2.9 reports 0 then wherever the consumer started) where it started,
 * when its deliver policy says (all: 1; by start sequence, as a remade
 * one is: that); else 0, unknown. The floor is below 2^64 - 1
 * (absurd_info()). */
static uint64_t unacked_from(const jsConsumerInfo *ci)
{
	const jsConsumerConfig *c = ci->Config;

	if (ci->AckFloor.Stream > 0)
		return ci->AckFloor.Stream + 1;
	if (!c)
		return 0;
	if (c->DeliverPolicy == js_DeliverByStartSequence)
		return c->OptStartSeq;
	return c->DeliverPolicy == js_DeliverAll ? 1 : 0;
}

/* 1 when the NATS subject filter f (empty: every subject) takes the
 * subject s: '*' one token, '>' the rest. */
static int filter_takes(const char *f, const char *s)
{
	if (!*f)
		return 1;
	while (*f) {
		size_t fl = strcspn(f, "."), sl = strcspn(s, ".");

		if (f[0] == '>' && !f[1])
			return sl > 0;
		if (!sl || ((fl != 1 || *f != '*') &&
			    (fl != sl || memcmp(f, s, fl))))
			return 0;
		f += fl;
		s += sl;
		if (*f != *s)
			return 0;
		if (*f)
			f++, s++;
	}
	return !*s;
}

/* The stream's first and last sequences: 0, or -EIO when its info
 * cannot be read. */
static int stream_bounds(struct nats_src *n, uint64_t *first, uint64_t *last)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	int rc = js_GetStreamInfo(&si, n->js, n->conf.stream, NULL, &jerr) ==
		 NATS_OK ? 0 : -EIO;

	*first = rc == 0 && si->State.FirstSeq > 1 ? si->State.FirstSeq : 1;
	*last = rc == 0 ? si->State.LastSeq : 0;
	jsStreamInfo_Destroy(si);
	return rc;
}

/* Where the deliveries of a durable none of which is acknowledged began
 * when its deliver policy does not say (made by another client or an
 * earlier mdpub with deliver = new or last): the NumAckPending-th message
 * its filter takes counting back from its last delivery (or the stream's
 * last message, if before), read from the stream one at a time (messages
 * no longer in it are not counted: the count ends at the stream's
 * first), for COUNT_BACK_MS at most, all reads together: a server that
 * claims a stream or deliveries beyond what it can send in that time, or
 * answers slowly, must not hold mdpub's start (and a stop, a reload, that
 * wait for it) for ever. 0: the stream not readable, or not in time. */
static uint64_t first_delivered(struct nats_src *n, const jsConsumerInfo *ci)
{
	const char *filter = ci->Config && ci->Config->FilterSubject ?
			     ci->Config->FilterSubject : "";
	uint64_t left = (uint64_t)ci->NumAckPending, low, high, first = 0;
	int64_t until = nats_Now() + COUNT_BACK_MS;
	jsOptions o;

	if (stream_bounds(n, &low, &high) < 0)
		return 0;
	jsOptions_Init(&o);
	for (uint64_t seq = ci->Delivered.Stream < high ? ci->Delivered.Stream :
			    high; seq >= low && left; seq--) {
		natsMsg *m = NULL;
		jsErrCode jerr = 0;
		natsStatus s;

		if ((o.Wait = until - nats_Now()) <= 0)
			return 0;
		s = js_GetMsg(&m, n->js, n->conf.stream, seq, &o, &jerr);
		if (s != NATS_OK && jerr != JSNoMessageFoundErr)
			return 0;
		if (s == NATS_OK && filter_takes(filter, natsMsg_GetSubject(m))) {
			first = seq;
			left--;
		}
		natsMsg_Destroy(m);
	}
	return first;
}

/* A durable with every delivery acknowledged, bound: as it is when it
 * starts at the stream's first (deliver = all); else made again after its
 * last delivery by start sequence. One made again (remake_consumer(),
 * resume_durable(), make_durable()) starts at a stream sequence, which
 * binding it as configured would ask to change: the server refuses that.
 * One made by another client with deliver = new or last: a restart that
 * found none of its deliveries acknowledged would not know where they
 * began (unacked_from()). 0: bound as it is. The last delivery is below
 * 2^64 - 1 (absurd_info()): the one after does not wrap to 0. */
static uint64_t remade_next(const jsConsumerInfo *ci)
{
	const jsConsumerConfig *c = ci->Config;
	uint64_t next = ci->Delivered.Stream + 1;

	if (!c || c->DeliverPolicy == js_DeliverAll)
		return 0;
	return next > c->OptStartSeq ? next : c->OptStartSeq;
}

/* A durable that is there: bound where it is when every delivery was
 * acknowledged (or where the first one not acknowledged is, unknown),
 * else made again from there. */
static int resume_durable(struct nats_src *n, char *err, size_t errlen)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	uint64_t from, next, delivered, dseq;
	int64_t pending;
	natsStatus s;
	int rc;

	if (!n->conf.durable)
		return pull_subscribe(n, 0, NULL, err, errlen);
	s = js_GetConsumerInfo(&ci, n->js, n->conf.stream, n->conf.durable,
			       NULL, &jerr);
	if (s != NATS_OK && jerr == JSConsumerNotFoundErr)
		return make_durable(n, err, errlen);
	if (s != NATS_OK) /* there perhaps: never made anew (make_durable()) */
		return consumer_failed(n, s, err, errlen);
	if ((rc = absurd_info(n, ci, err, errlen)) < 0) {
		jsConsumerInfo_Destroy(ci);
		return rc;
	}
	from = unacked_from(ci);
	if (!from && ci->NumAckPending > 0 && !(from = first_delivered(n, ci)))
		log_msg(LOG_WARNING, "channel %s: consumer %s: where its %" PRId64
			" deliveries not acknowledged began is not known (the "
			"stream not readable in %d s): bound as it is", name_of(n),
			n->conf.durable, ci->NumAckPending, COUNT_BACK_MS / 1000);
	next = remade_next(ci);
	delivered = ci->Delivered.Stream;
	dseq = ci->Delivered.Consumer;
	pending = ci->NumAckPending;
	jsConsumerInfo_Destroy(ci);
	if (pending > 0 && from > 0) {
		log_msg(LOG_NOTICE, "channel %s: consumer %s: %" PRId64 " "
			"deliveries not acknowledged: made again from stream "
			"sequence %" PRIu64, channel_name(n->base.ch),
			n->conf.durable, pending, from);
		n->last_sseq = from - 1;
		return pull_subscribe(n, from, NULL, err, errlen);
	}
	if (pending <= 0 && next) {
		n->last_sseq = next - 1;
		return pull_subscribe(n, next, NULL, err, errlen);
	}
	rc = pull_subscribe(n, 0, NULL, err, errlen);
	n->next_dseq = dseq + 1;
	n->last_sseq = delivered;
	return rc;
}

static int js_open(struct nats_src *n, char *err, size_t errlen)
{
	char why[256];
	natsStatus s = natsConnection_JetStream(&n->js, n->nc, NULL);

	if (s == NATS_OK)
		return resume_durable(n, err, errlen);
	snprintf(err, errlen, "JetStream: %s",
		 nats_conn_error(s, why, sizeof(why)));
	return -EIO;
}

/* The server answers a subscription it refuses for the user's
 * permissions before the PONG of a flush: 0, or -EACCES naming the fix. */
static int check_permitted(struct nats_src *n, char *err, size_t errlen)
{
	const char *text = NULL;
	char why[256];
	natsStatus s = natsConnection_FlushTimeout(n->nc, FLUSH_MS);

	if (s != NATS_OK) {
		snprintf(err, errlen, "subject %s: %s", n->conf.subject,
			 nats_conn_error(s, why, sizeof(why)));
		return -EIO;
	}
	if (natsConnection_GetLastError(n->nc, &text) != NATS_NOT_PERMITTED)
		return 0;
	snprintf(err, errlen, "subject %s: %.200s: the user of %s may not "
		 "subscribe to it: give it that permission", n->conf.subject,
		 text && *text ? text : "not permitted",
		 n->conf.creds ? n->conf.creds :
		 n->conf.nkey ? n->conf.nkey : "the connection");
	return -EACCES;
}

/* The core NATS subscription. */
static int subscribe_core(struct nats_src *n, char *err, size_t errlen)
{
	char why[256];
	natsStatus s;
	int max_msgs, max_bytes;

	/* What waits beyond the queue while back-pressure holds the reader:
	 * `queue` messages more (mdpub.conf(5)); a flood by anyone who may
	 * publish on the subjects costs no more memory than that. */
	pending_limits(n, n->conf.queue, &max_msgs, &max_bytes);
	n->msg_max = channel_conf(n->base.ch)->slot_size; /* before the reader */
	s = natsConnection_SubscribeSync(&n->sub, n->nc, n->conf.subject);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(n->sub, max_msgs, max_bytes);
	if (s == NATS_OK)
		return check_permitted(n, err, errlen);
	snprintf(err, errlen, "subject %s: %s", n->conf.subject,
		 nats_conn_error(s, why, sizeof(why)));
	return -EIO;
}

static int subscribe(struct nats_src *n, char *err, size_t errlen)
{
	return n->conf.stream ? js_open(n, err, errlen) :
				subscribe_core(n, err, errlen);
}

/* ------------------------------------------------ a new connection */

/* The reader's connection given up, and what was bound to it: the
 * subscriptions are destroyed once natsConnection_Close() joined the read
 * loop (which may hold one it found: retire()) and the reconnecting
 * thread, after which only a new connection sets n->stuck or n->away. Not
 * unsubscribed first, as retire() does: on a connection that is away,
 * the consumer's delete waits the JetStream context's 5 s and the flush
 * 0.5 s, for nothing (a durable is deleted and made again by the remake,
 * an ephemeral one the server deletes once idle). What the channel's
 * thread acknowledges meanwhile is not sent (ack_published()): the new
 * consumer delivers it again, a duplicate. */
static void drop_connection(struct nats_src *n)
{
	struct nats_conn_held held;
	natsConnection *old;

	if (!n->conf.stream)
		look_dropped(n);
	n->dropped_seen = 0;
	keep_retired(n, nats_pull_close(&n->pull));
	keep_retired(n, n->sub);
	n->sub = NULL;
	pthread_mutex_lock(&n->mu);
	old = n->nc;
	held = n->nc_held;
	n->nc = NULL;
	n->nc_held = (struct nats_conn_held){0};
	n->acked_away = 0; /* kept by the old connection: gone with it */
	pthread_mutex_unlock(&n->mu);
	natsConnection_Close(old);
	retired_destroy(n);
	jsCtx_Destroy(n->js);
	n->js = NULL;
	nats_conn_destroy(old, &held);
	/* relaxed: flags alone; no thread of the old connection is left */
	atomic_store_explicit(&n->stuck, 0, memory_order_relaxed);
	atomic_store_explicit(&n->away, 0, memory_order_relaxed);
}

/* A new connection for the reader, made as at the start: 0, or a
 * negative code with the reason in err. A JetStream consumer is made
 * anew by the reader's next read, from the restart point (pull_some(),
 * remake_consumer()); the core subscription at once. */
static int connect_again(struct nats_src *n, char *err, size_t errlen)
{
	struct nats_conn_held held;
	struct nats_conn_opts co;
	natsConnection *nc;
	char why[256];
	jsCtx *js = NULL;
	natsStatus s;
	int rc;

	conn_opts(n, &co);
	rc = nats_conn_open(&nc, &held, &co, err, errlen);
	if (rc < 0)
		return rc;
	if (n->conf.stream &&
	    (s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK) {
		snprintf(err, errlen, "JetStream: %s",
			 nats_conn_error(s, why, sizeof(why)));
		nats_conn_destroy(nc, &held);
		return -EIO;
	}
	pthread_mutex_lock(&n->mu);
	n->nc = nc;
	n->nc_held = held;
	pthread_mutex_unlock(&n->mu);
	n->js = js;
	n->conn_new = n->conf.stream != NULL;
	if (n->conf.stream)
		return 0;
	rc = subscribe_core(n, err, errlen);
	if (rc < 0)
		drop_connection(n);
	return rc;
}

/* Waits ms, or less when the source stops. */
static void sleep_unless_stopping(struct nats_src *n, int64_t ms)
{
	int64_t until = nats_Now() + ms;

	/* relaxed: a flag alone, set by nats_stop_input() */
	while (!atomic_load_explicit(&n->stopping, memory_order_relaxed) &&
	       nats_Now() < until)
		nats_Sleep(POLL_MS);
}

/* "connected anew to URL", and with several servers "(of URLS)": which
 * one took it (a listener on a port of the list may have). */
static void log_connected_anew(struct nats_src *n)
{
	char at[1024], at_shown[1024], shown[1024];

	natsw_urls_shown(n->conf.url, shown, sizeof(shown));
	if (!strchr(n->conf.url, ',') ||
	    natsConnection_GetConnectedUrl(n->nc, at, sizeof(at)) != NATS_OK) {
		log_msg(LOG_NOTICE, "channel %s: connected anew to %s",
			name_of(n), shown);
		return;
	}
	log_msg(LOG_NOTICE, "channel %s: connected anew to %s (of %s)",
		name_of(n), natsw_urls_shown(at, at_shown, sizeof(at_shown)),
		shown);
}

/* The connection cannot come back (conn_stuck()), was away for long
 * (conn_away()), or a new one failed: a new one, made by the reader,
 * which blocks in it as in a remake of the consumer; one that fails is
 * counted as a read error and tried again RECONNECT_RETRY_MS later, then
 * twice as late each time up to RECONNECT_RETRY_MAX_MS (every server of
 * a list down for an hour: about 70 attempts, not 1800). */
static void reconnect(struct nats_src *n)
{
	char err[600];

	if (n->nc)
		drop_connection(n);
	if (connect_again(n, err, sizeof(err)) < 0) {
		read_failed_text(n, err);
		n->retry_ms = n->retry_ms ? n->retry_ms * 2 : RECONNECT_RETRY_MS;
		if (n->retry_ms > RECONNECT_RETRY_MAX_MS)
			n->retry_ms = RECONNECT_RETRY_MAX_MS;
		sleep_unless_stopping(n, n->retry_ms);
		return;
	}
	n->retry_ms = 0;
	log_connected_anew(n);
}

/* The connection closed first: that joins its read loop, which may
 * still hold a subscription it found (retire()). */
static void free_src(struct nats_src *n)
{
	int parsed;

	/* the reader has ended: every limiter is this thread's */
	log_limit_end(&n->bad_limit);
	log_limit_end(&n->drop_limit);
	log_limit_end(&n->closed_limit);
	log_limit_end(&n->session_limit);
	while (n->qlen)
		natsMsg_Destroy(dequeue(n, &parsed, NULL));
	natsMsg_Destroy(n->to_ack);
	natsMsg_Destroy(n->held);
	natsConnection_Close(n->nc);
	retired_destroy(n);
	free(n->retired);
	natsSubscription_Destroy(nats_pull_close(&n->pull));
	natsSubscription_Destroy(n->sub);
	jsCtx_Destroy(n->js);
	nats_conn_destroy(n->nc, &n->nc_held);
	pthread_cond_destroy(&n->room);
	pthread_mutex_destroy(&n->mu);
	free(n->q);
	free(n);
}

/* The reader ends; what it queued is not published, nor acknowledged. */
static void nats_stop_input(struct source *src)
{
	struct nats_src *n = SOURCE_OF(src, struct nats_src);

	atomic_store_explicit(&n->stopping, 1, memory_order_relaxed);
	pthread_mutex_lock(&n->mu);
	pthread_cond_broadcast(&n->room);
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->reader, NULL);
	ev_async_stop(n->base.loop, &n->wake_w);
	note_read_errors(n); /* the reader's last, in the final counters */
	ack_published(n);
}

/* At the stop, the acknowledgements reach the server. While the
 * connection is away libnats keeps what is published for the
 * reconnection, and natsConnection_Close() drops it: then the stop waits
 * for the reconnection, ACK_STOP_MS at most; what the acknowledgements
 * still kept after that were for, the next start publishes again
 * (mdpub.conf(5)). */
static void flush_acks(struct nats_src *n)
{
	int kept = n->acked_away && !connected(n); /* the reader joined */
	int64_t until = nats_Now() + (kept ? ACK_STOP_MS : FLUSH_MS), left;
	/* relaxed: a flag alone (the reader joined) */
	int stuck = atomic_load_explicit(&n->stuck, memory_order_relaxed);

	if (!n->nc) /* a new one was being made: nothing went out */
		return;
	while (!stuck && (left = until - nats_Now()) > 0) {
		if (natsConnection_FlushTimeout(n->nc, left) == NATS_OK)
			return;
		nats_Sleep(POLL_MS);
	}
	if (kept && stuck)
		log_msg(LOG_WARNING, "channel %s: the NATS connection cannot "
			"come back: acknowledgements made while it was away are "
			"lost, the next start publishes those messages again",
			name_of(n));
	else if (kept)
		log_msg(LOG_WARNING, "channel %s: NATS unreachable at stop for "
			"%d s: acknowledgements made while it was away are "
			"lost, the next start publishes those messages again",
			name_of(n), ACK_STOP_MS / 1000);
}

/* After the channel's wait at its stop: the held message acknowledged
 * if it was published meanwhile (source.h). */
static void nats_stop(struct source *src)
{
	struct nats_src *n = SOURCE_OF(src, struct nats_src);

	ack_published(n);
	flush_acks(n);
	natsConnection_Close(n->nc);
	free_src(n);
}

/* The held message is in the ring: acknowledged; reading on. */
static void nats_resume(struct source *src)
{
	struct nats_src *n = SOURCE_OF(src, struct nats_src);

	ack_published(n);
	ev_async_send(n->base.loop, &n->wake_w);
}

static int connect_and_subscribe(struct nats_src *n, char *err, size_t errlen)
{
	struct nats_conn_opts co;
	int rc;

	conn_opts(n, &co);
	rc = nats_conn_open(&n->nc, &n->nc_held, &co, err, errlen);
	if (rc == 0)
		rc = subscribe(n, err, errlen);
	return rc < 0 ? rc :
	       nats_thread_start(&n->reader, reader_main, n, err, errlen);
}

/* The warning for a plain nats:// server in `url` on a port of this host
 * that any local user may listen on: 1 with it in buf, else 0. mdpub -T
 * prints it, and the channel logs it at start. Not when the connection
 * is made with TLS (tls:// in the list, or tls, ca, cert: the nats://
 * ones too, natsw_urls_tls()): the server must show a certificate the
 * client library trusts (`ca`). */
static int nats_conf_warning(const void *conf, char *buf, size_t len)
{
	static const char *const plain[] = {"nats://", NULL};
	const struct nats_conf *c = conf;
	const char *scheme;
	char one[300]; /* HOST:PORT (net.c's HOST_MAX 256) */

	return !natsw_urls_tls(c->url, c->tls || c->ca || c->cert) &&
	       local_port_url(c->url, plain, local_port_start(), &scheme, one,
			      sizeof(one)) &&
	       net_port_warning(buf, len, "url", one, "nats-server does not "
				"listen on it, and then the channel publishes "
				"what that user sends", "run nats-server on a "
				"port");
}

static int nats_start(struct source **out, const void *conf,
		      struct channel *ch, struct ev_loop *loop, char *err,
		      size_t errlen)
{
	struct nats_src *n = source_alloc(sizeof(*n), ch, loop);
	char warning[512], shown[1024];
	int rc;

	if (!n)
		return source_nomem(err, errlen);
	n->conf = *(const struct nats_conf *)conf;
	if (nats_conf_warning(&n->conf, warning, sizeof(warning)))
		log_msg(LOG_WARNING, "channel %s: %s", name_of(n), warning);
	n->seq.jump_window = n->conf.jump_window;
	n->qcap = n->conf.queue;
	n->qbytes_max = n->conf.queue *
			(channel_conf(ch)->slot_size + (uint64_t)MSG_EXTRA);
	n->q = calloc(n->qcap, sizeof(*n->q));
	log_limit_init(&n->bad_limit, 10, LOG_WARNING, "channel %s: bad "
		       "messages, gaps and read errors", name_of(n));
	log_limit_init(&n->drop_limit, 10, LOG_WARNING, "channel %s: "
		       "messages dropped by the client library", name_of(n));
	log_limit_init(&n->session_limit, 10, LOG_NOTICE,
		       "channel %s: upstream sessions", name_of(n));
	log_limit_init(&n->closed_limit, 10, LOG_ERR, "channel %s: "
		       "connections closed for good", name_of(n));
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->room, NULL);
	if (!n->q) {
		free_src(n);
		return source_nomem(err, errlen);
	}
	ev_async_init(&n->wake_w, wake_cb);
	n->wake_w.data = n;
	ev_async_start(loop, &n->wake_w);
	rc = connect_and_subscribe(n, err, errlen);
	if (rc < 0) {
		ev_async_stop(loop, &n->wake_w);
		free_src(n);
		return rc;
	}
	log_msg(LOG_NOTICE, "channel %s: reading %s from %s%s%s", name_of(n),
		n->conf.subject, natsw_urls_shown(n->conf.url, shown,
						  sizeof(shown)),
		n->conf.stream ? ", stream " : "",
		n->conf.stream ? n->conf.stream : "");
	*out = &n->base;
	return 0;
}

const struct source_ops src_nats = {
	.name = "nats",
	.settings = nats_settings,
	.conf_size = sizeof(struct nats_conf),
	.conf_init = nats_conf_init,
	.conf_check = nats_conf_check,
	.conf_warning = nats_conf_warning,
	.start = nats_start,
	.resume = nats_resume,
	.stop_input = nats_stop_input,
	.stop = nats_stop,
	.counters = nats_counters,
};
