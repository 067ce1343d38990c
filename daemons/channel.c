/*
 * channel.c - see channel.h.
 *
 * Counters are written by the channel's thread only and read by the main
 * thread for stats, so they are relaxed atomics updated by load + store
 * (no read-modify-write on the hot path). The channel's thread copies
 * the ones that changed into its segment's counters (libmdbus(3),
 * "Counters"), where mdsub --status and any tool read them, once per turn
 * of its event loop (before it waits for input) and when it stops: a
 * handful of stores per batch of input, none per message.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "channel.h"
#include "clock.h"
#include "error_text.h"
#include "log.h"
#include "mdbus.h"
#include "mdbus_msg.h"
#include "reaper.h"
#include "thread_start.h"

#define BACKLOG_MAX (16u << 20) /* bytes of messages queued by back-pressure */
#define RETRY_S 0.001           /* back-pressure retry interval */
#define STOP_DRAIN_S 2.0        /* at stop: longest wait for readers to take
				   what back-pressure holds (mdpub(8),
				   "Channel life cycle") */

/* What a queued entry is. */
enum queued_kind {
	QUEUED_DATA, /* a message of the source: counted in out */
	QUEUED_OWN,  /* a status message of the channel's own: not counted */
	QUEUED_SKIP, /* mdbus_pub_skip(), not a message */
};

/* A message queued by back-pressure: this header, then the payload,
 * rounded up to 8 bytes. */
struct queued {
	uint64_t ts_ns;  /* a skip: how many sequence numbers */
	uint32_t size;
	uint16_t type;
	uint16_t kind;   /* enum queued_kind */
};

struct backlog {
	unsigned char *buf;
	size_t head; /* first queued byte */
	size_t len;  /* bytes used */
	size_t cap;
	uint64_t count; /* messages queued */
	uint64_t data;  /* of them the source's (QUEUED_DATA) */
	uint64_t seqs;  /* sequence numbers they and the skips queued take */
};

/* The channel's counters, in this order in the segment (mdpub(8),
 * "COUNTERS"), then the source's. */
enum {
	CTR_IN, CTR_OUT, CTR_MALFORMED, CTR_GAPS, CTR_GAP_LOST,
	CTR_BACKPRESSURE, CTR_DROPPED,
	CTR_ARCHIVE_LAG,     /* gauge: messages the channel's archive has not
				written yet (archive.c; 0 without one) */
	CTR_ARCHIVE_DROPPED, /* messages the archive lost in this run */
	CTR_SOURCE,          /* the source's, SOURCE_COUNTERS_MAX of them */
	CTR_ALL = CTR_SOURCE + SOURCE_COUNTERS_MAX
};

static const char *const counter_labels[CTR_SOURCE] = {
	"in", "out", "malformed", "gaps", "gap_lost", "backpressure",
	"dropped", "archive_lag", "archive_dropped",
};

struct counters {
	_Atomic uint64_t v[CTR_ALL];
	uint64_t shown[CTR_ALL]; /* channel thread: last copied to the segment */
	int id[CTR_ALL];         /* in the segment; -1: none */
};

struct channel {
	struct chan_conf *conf;
	mdbus_pub_t *pub;
	pthread_t thread;
	int joined; /* the thread has ended (channel_join()) */
	struct ev_loop *loop;
	struct ev_loop *main_loop;
	ev_async *done_w;
	ev_async stop_w;
	ev_async stats_w; /* channel_request_stats() */
	ev_timer heartbeat_w;
	ev_timer retry_w;
	ev_timer drain_w;       /* at stop: ends the wait for back-pressure */
	ev_prepare flush_w;
	struct source *src; /* NULL once stopped */
	int input_stopped;  /* src's stop_input() was called (source.h) */
	struct archive *arch;   /* the channel's archive, or NULL */
	struct reaper *reaper;  /* frees dead readers' entries, or NULL */
	struct backlog q;
	int paused;
	int quiet;  /* the source numbers the sequence: no own messages */
	int src_done;
	int stopping; /* the source is stopped: drain the backlog, then end */
	int down_queued; /* the FEED_DOWN status is in the backlog */
	uint64_t out_at_heartbeat;
	uint64_t own_dropped; /* of the dropped, status messages of its own
				 (channel thread; channel_complete() reads it
				 once the thread ended) */
	atomic_int finished;
	atomic_int stats_state; /* STATS_*: channel_request_stats() */
	int stop_sent; /* main thread: channel_request_stop() was called */
	struct log_limit drop_limit;
	struct log_limit skip_limit; /* refused skips (a source's forged gaps) */
	struct counters n;
};

/* A counter line asked for: logged by the channel's thread between two
 * of its callbacks, so every message a reader has seen is counted in
 * "out" (the thread bumps it right after mdbus_pub_publish()); by the
 * asker once the thread has ended and its counters are final. */
enum { STATS_IDLE, STATS_WANTED, STATS_ENDED };

/* Adds by, stopping at 2^64 - 1: gap_lost sums gaps of up to 2^64 - 2 (a
 * replayed recording's sequence may go back and jump again). */
static void bump(struct channel *ch, int which, uint64_t by)
{
	_Atomic uint64_t *counter = &ch->n.v[which];
	uint64_t v = atomic_load_explicit(counter, memory_order_relaxed);

	atomic_store_explicit(counter, v + by < by ? UINT64_MAX : v + by,
			      memory_order_relaxed);
}

static uint64_t get(const struct channel *ch, int which)
{
	return atomic_load_explicit(&ch->n.v[which], memory_order_relaxed);
}

/* The archive's counters, from what its thread last reported: how far
 * it is behind the channel (a gauge) and what it lost. */
static void archive_counters(struct channel *ch)
{
	uint64_t pos = mdbus_pub_position(ch->pub), next, lost;

	if (!ch->arch)
		return;
	archive_counts(ch->arch, &next, &lost);
	atomic_store_explicit(&ch->n.v[CTR_ARCHIVE_LAG], pos > next ? pos - next : 0,
			      memory_order_relaxed);
	atomic_store_explicit(&ch->n.v[CTR_ARCHIVE_DROPPED], lost,
			      memory_order_relaxed);
}

/* Copies the counters that changed into the segment. */
static void flush_counters(struct channel *ch)
{
	archive_counters(ch);
	for (int i = 0; i < CTR_ALL; i++) {
		uint64_t v = get(ch, i);

		if (v != ch->n.shown[i]) {
			mdbus_pub_counter_set(ch->pub, ch->n.id[i], v);
			ch->n.shown[i] = v;
		}
	}
}

const char *channel_name(const struct channel *ch)
{
	return ch->conf->name;
}

const struct chan_conf *channel_conf(const struct channel *ch)
{
	return ch->conf;
}

size_t channel_payload_max(const struct channel *ch)
{
	return mdbus_pub_payload_max(ch->pub);
}

int channel_paused(const struct channel *ch)
{
	return ch->paused;
}

uint64_t channel_held(const struct channel *ch)
{
	return ch->q.data;
}

int channel_finished(const struct channel *ch)
{
	return atomic_load_explicit(&ch->finished, memory_order_acquire);
}

int channel_complete(const struct channel *ch, int to_end)
{
	return (channel_finished(ch) || !to_end) && !get(ch, CTR_MALFORMED) &&
	       get(ch, CTR_DROPPED) == ch->own_dropped;
}

void channel_count_malformed(struct channel *ch)
{
	bump(ch, CTR_MALFORMED, 1);
}

void channel_count_gap(struct channel *ch, uint64_t lost)
{
	bump(ch, CTR_GAPS, 1);
	bump(ch, CTR_GAP_LOST, lost);
}

void channel_count(struct channel *ch, unsigned which, uint64_t by)
{
	if (which < SOURCE_COUNTERS_MAX)
		bump(ch, CTR_SOURCE + (int)which, by);
}

static void check_done(struct channel *ch)
{
	if (!ch->src_done || ch->paused || channel_finished(ch))
		return;
	atomic_store_explicit(&ch->finished, 1, memory_order_release);
	log_msg(LOG_NOTICE, "channel %s: source %s ended", channel_name(ch),
		ch->conf->source);
	ev_async_send(ch->main_loop, ch->done_w);
}

void channel_source_done(struct channel *ch)
{
	ch->src_done = 1;
	check_done(ch);
}

/* Drops a message of kind `kind` (enum queued_kind), counted. */
static void drop(struct channel *ch, int kind, const char *why)
{
	bump(ch, CTR_DROPPED, 1);
	ch->own_dropped += kind == QUEUED_OWN;
	log_limited(&ch->drop_limit, LOG_WARNING, "channel %s: message dropped: %s",
		    channel_name(ch), why);
}

/* Makes room for `need` more bytes at q->len: 0, or -1 out of memory. */
static int backlog_reserve(struct backlog *q, size_t need)
{
	size_t cap = q->cap ? q->cap : 65536;
	unsigned char *grown;

	if (q->head) { /* what retries published makes room */
		memmove(q->buf, q->buf + q->head, q->len - q->head);
		q->len -= q->head;
		q->head = 0;
	}
	if (q->len + need <= q->cap)
		return 0;
	while (cap < q->len + need)
		cap *= 2;
	grown = realloc(q->buf, cap);
	if (!grown)
		return -1;
	q->buf = grown;
	q->cap = cap;
	return 0;
}

/* Queues a message, or with QUEUED_SKIP a skip of h->ts_ns numbers. */
static int enqueue(struct channel *ch, const struct queued *h,
		   const void *data)
{
	struct backlog *q = &ch->q;
	size_t size = h->size;
	size_t need = sizeof(struct queued) + ((size + 7) & ~(size_t)7);

	if (q->len - q->head + need > BACKLOG_MAX) {
		drop(ch, h->kind, "back-pressure queue full");
		return -1;
	}
	if (backlog_reserve(q, need) < 0) {
		drop(ch, h->kind, "out of memory");
		return -1;
	}
	memcpy(q->buf + q->len, h, sizeof(*h));
	if (size)
		memcpy(q->buf + q->len + sizeof(*h), data, size);
	q->len += need;
	q->count += h->kind != QUEUED_SKIP;
	q->data += h->kind == QUEUED_DATA;
	q->seqs += h->kind == QUEUED_SKIP ? h->ts_ns : 1;
	if (!ch->paused) {
		ch->paused = 1;
		ev_timer_again(ch->loop, &ch->retry_w);
	}
	return 0;
}

/* A message (h->kind QUEUED_DATA or QUEUED_OWN): 0 published, 1
 * back-pressure, -1 dropped. Inline: gcc keeps it inside
 * channel_publish() then (callgrind: 9 instructions a message less). */
static inline int try_publish(struct channel *ch, const struct queued *h,
			      const void *data)
{
	int rc = mdbus_pub_publish(ch->pub, h->type, data, h->size, h->ts_ns);

	if (rc == 0) {
		if (h->kind == QUEUED_DATA)
			bump(ch, CTR_OUT, 1);
		return 0;
	}
	if (rc == MDBUS_EBACKPRESSURE)
		return 1;
	drop(ch, h->kind, mdbus_strerror(rc));
	return -1;
}

/* 0 skipped, 1 back-pressure, -1 refused (logged). */
static int try_skip(struct channel *ch, uint64_t n)
{
	int rc = mdbus_pub_skip(ch->pub, n);

	if (rc == 0)
		return 0;
	if (rc == MDBUS_EBACKPRESSURE)
		return 1;
	log_limited(&ch->skip_limit, LOG_ERR, "channel %s: skipping %llu "
		    "sequence numbers: %s", channel_name(ch),
		    (unsigned long long)n, mdbus_strerror(rc));
	return -1;
}

/* Publishes or skips what h says now: 0 done, 1 back-pressure, -1
 * dropped or refused. */
static inline int try_queued(struct channel *ch, const struct queued *h,
			     const void *data)
{
	return h->kind == QUEUED_SKIP ? try_skip(ch, h->ts_ns)
				      : try_publish(ch, h, data);
}

/* Publishes (or skips) at once when nothing is held, else queues behind
 * what back-pressure holds, in order: 0 published or queued, -1 dropped
 * or refused (logged). */
static inline int publish_in_order(struct channel *ch, const struct queued *h,
				   const void *data)
{
	int rc;

	if (ch->paused)
		return enqueue(ch, h, data);
	rc = try_queued(ch, h, data);
	if (rc <= 0)
		return rc;
	bump(ch, CTR_BACKPRESSURE, 1);
	return enqueue(ch, h, data);
}

int channel_publish(struct channel *ch, uint16_t type, const void *data,
		    size_t size, uint64_t ts_ns)
{
	struct queued h = {.ts_ns = ts_ns, .size = (uint32_t)size, .type = type,
			   .kind = QUEUED_DATA};

	bump(ch, CTR_IN, 1);
	if (size > mdbus_pub_payload_max(ch->pub)) {
		drop(ch, QUEUED_DATA, "larger than the slot payload");
		return -1;
	}
	return publish_in_order(ch, &h, data);
}

int channel_skip(struct channel *ch, uint64_t n)
{
	struct queued h = {.ts_ns = n, .kind = QUEUED_SKIP};

	if (!n)
		return 0;
	return publish_in_order(ch, &h, NULL);
}

uint64_t channel_next_seq(const struct channel *ch)
{
	return mdbus_pub_position(ch->pub) + ch->q.seqs;
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct channel *ch = w->data;
	struct backlog *q = &ch->q;

	while (q->head < q->len) {
		struct queued h;

		memcpy(&h, q->buf + q->head, sizeof(h));
		if (try_queued(ch, &h, q->buf + q->head + sizeof(h)) > 0)
			return;
		q->head += sizeof(h) + ((h.size + 7u) & ~7u);
		q->count -= h.kind != QUEUED_SKIP;
		q->data -= h.kind == QUEUED_DATA;
		q->seqs -= h.kind == QUEUED_SKIP ? h.ts_ns : 1;
	}
	q->head = q->len = 0;
	q->seqs = 0;
	ch->paused = 0;
	ch->down_queued = 0;
	ev_timer_stop(loop, w);
	if (ch->stopping) { /* all published: the stop is complete */
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (!ch->src_done)
		ch->conf->ops->resume(ch->src);
	check_done(ch);
}

/* A status message of the channel's life cycle (mdpub(8), "Channel life
 * cycle"), not counted in in or out. In order with the data: published at
 * once when nothing is held and there is room, else queued behind what
 * back-pressure holds (in lossless mode a reader may hold the ring full
 * at a start: the archive's, resuming where its files end, or one left
 * from the last run), never waited for here. 1 when it was queued. */
static int life_status(struct channel *ch, uint32_t state, const char *text)
{
	struct mdbus_status st = {.state = state};
	struct queued h = {.size = sizeof(st), .type = MDBUS_MSG_STATUS,
			   .kind = QUEUED_OWN};

	if (ch->quiet) /* each sequence number is the source's */
		return 0;
	if (sizeof(st) > mdbus_pub_payload_max(ch->pub)) { /* 64-byte slots */
		log_msg(LOG_WARNING, "channel %s: status \"%s\" not published: "
			"larger than the slot payload", channel_name(ch), text);
		return 0;
	}
	st.recv_ns = now_realtime();
	memcpy(st.text, text, strnlen(text, sizeof(st.text)));
	return publish_in_order(ch, &h, &st) == 0 && ch->paused;
}

static void heartbeat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct channel *ch = w->data;
	uint64_t out = get(ch, CTR_OUT);

	mdbus_pub_heartbeat(ch->pub);
	if (out == ch->out_at_heartbeat && !ch->paused && !ch->quiet) {
		struct mdbus_heartbeat hb = {.send_ns = now_realtime()};

		/* not queued: a heartbeat message is for an idle channel */
		mdbus_pub_publish(ch->pub, MDBUS_MSG_HEARTBEAT, &hb, sizeof(hb), 0);
		log_msg(LOG_DEBUG, "channel %s: idle: heartbeat message published",
			channel_name(ch));
	}
	ch->out_at_heartbeat = out;
}

static void flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	flush_counters(w->data);
}

/* The source takes no more input: stopped, or with a stop_input()
 * only that, so that it learns in its stop() what of its messages
 * back-pressure held was published (source.h; end_source()). */
static void stop_input(struct channel *ch)
{
	const struct source_ops *ops = ch->conf->ops;

	if (!ch->src || ch->input_stopped)
		return;
	if (!ops->stop_input) {
		ops->stop(ch->src);
		ch->src = NULL;
		return;
	}
	ops->stop_input(ch->src);
	ch->input_stopped = 1;
}

/* Stops and frees the source, if stop_input() left it. */
static void end_source(struct channel *ch)
{
	stop_input(ch);
	if (!ch->src)
		return;
	ch->conf->ops->stop(ch->src);
	ch->src = NULL;
}

/* "channel NAME: source SRC: name N name N ..." when it has counters. */
static void log_source_stats(const struct channel *ch)
{
	const char *const *names = ch->conf->ops->counters;
	char line[512];
	size_t len = 0;

	if (!names)
		return;
	for (unsigned i = 0; i < SOURCE_COUNTERS_MAX && names[i]; i++) {
		int n = snprintf(line + len, sizeof(line) - len, " %s %llu",
				 names[i], (unsigned long long)get(ch, CTR_SOURCE + (int)i));

		if (n < 0 || (size_t)n >= sizeof(line) - len)
			break;
		len += (size_t)n;
	}
	log_msg(LOG_NOTICE, "channel %s: source %s:%s", channel_name(ch),
		ch->conf->source, line);
}

/* The counter lines of mdpub(8), LOGGING. */
static void log_stats(const struct channel *ch)
{
	struct mdbus_stats st;
	int rc = mdbus_channel_stats(channel_name(ch), ch->conf->dir, &st, NULL, 0);

	log_msg(LOG_NOTICE,
		"channel %s: in %llu out %llu malformed %llu gaps %llu "
		"(lost %llu) backpressure %llu dropped %llu consumers %ld",
		channel_name(ch), (unsigned long long)get(ch, CTR_IN),
		(unsigned long long)get(ch, CTR_OUT),
		(unsigned long long)get(ch, CTR_MALFORMED),
		(unsigned long long)get(ch, CTR_GAPS),
		(unsigned long long)get(ch, CTR_GAP_LOST),
		(unsigned long long)get(ch, CTR_BACKPRESSURE),
		(unsigned long long)get(ch, CTR_DROPPED),
		rc < 0 ? -1L : (long)st.consumers);
	log_source_stats(ch);
	if (ch->arch)
		archive_log_stats(ch->arch);
}

/* Logs the counters asked for by channel_request_stats(), between two
 * callbacks of the channel's thread. */
static void stats_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct channel *ch = w->data;

	/* relaxed: the ev_async is what carries the request; only this
	 * thread sets ENDED, later */
	if (atomic_exchange_explicit(&ch->stats_state, STATS_IDLE,
				     memory_order_relaxed) == STATS_WANTED)
		log_stats(ch);
}

/* The stop: the source stops taking input, FEED_DOWN goes behind what
 * is held, and the loop ends once all of it is published (retry_cb(); a
 * dead reader stops holding the ring at once, a stalled one is evicted
 * after stall_evict: libmdbus(3), "Overwrite and lossless modes"), or
 * after STOP_DRAIN_S (drain_end_cb()). */
static void stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct channel *ch = w->data;

	stop_input(ch);
	ch->down_queued = life_status(ch, MDBUS_STATE_FEED_DOWN, "mdpub stopping");
	if (!ch->paused) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	ch->stopping = 1;
	ev_timer_set(&ch->drain_w, STOP_DRAIN_S, 0);
	ev_timer_start(loop, &ch->drain_w);
}

static void drain_end_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* What back-pressure still held when the stop's wait ended: dropped,
 * counted and logged. */
static void drop_held(struct channel *ch)
{
	if (!ch->q.count)
		return;
	log_msg(LOG_WARNING,
		"channel %s: %llu messages held by back-pressure dropped at stop "
		"after %g s%s", channel_name(ch), (unsigned long long)ch->q.count,
		STOP_DRAIN_S, ch->down_queued ? ", FEED_DOWN among them" : "");
	bump(ch, CTR_DROPPED, ch->q.count);
	ch->own_dropped += ch->q.count - ch->q.data;
}

/* The counts of what the limits held back, logged before the channel's
 * last counters; again from channel_free(): nothing then, unless the
 * thread never ran. */
static void end_limits(struct channel *ch)
{
	log_limit_end(&ch->drop_limit);
	log_limit_end(&ch->skip_limit);
}

static void *channel_thread(void *arg)
{
	struct channel *ch = arg;
	char name[16];

	/* "md:NAME" in top -H, ps -L and debuggers (15 characters at most) */
	snprintf(name, sizeof(name), "md:%s", channel_name(ch));
	pthread_setname_np(pthread_self(), name);
	life_status(ch, MDBUS_STATE_FEED_UP, "mdpub started");
	ev_run(ch->loop, 0);
	/* a source that ended, none of its messages still held, finished:
	 * also when the stop's wait published the last of them (retry_cb()
	 * ends the loop then, before check_done()) and dropped only the
	 * FEED_DOWN (mdpub(8), EXIT STATUS); release pairs with
	 * channel_finished()'s acquire */
	if (ch->src_done && !ch->q.data)
		atomic_store_explicit(&ch->finished, 1, memory_order_release);
	drop_held(ch);
	end_source(ch); /* channel_held(): what was dropped */
	end_limits(ch);
	flush_counters(ch);
	/* release pairs with channel_request_stats()'s acquire: the
	 * counters above are final for a main thread that finds ENDED */
	if (atomic_exchange_explicit(&ch->stats_state, STATS_ENDED,
				     memory_order_release) == STATS_WANTED)
		log_stats(ch);
	return NULL;
}

static void init_watchers(struct channel *ch)
{
	const struct chan_conf *c = ch->conf;

	ev_async_init(&ch->stop_w, stop_cb);
	ev_async_init(&ch->stats_w, stats_cb);
	ev_timer_init(&ch->heartbeat_w, heartbeat_cb, c->heartbeat_s,
		      c->heartbeat_s);
	ev_init(&ch->retry_w, retry_cb);
	ch->retry_w.repeat = RETRY_S;
	ev_init(&ch->drain_w, drain_end_cb);
	ev_prepare_init(&ch->flush_w, flush_cb);
	ch->stop_w.data = ch->stats_w.data = ch->heartbeat_w.data =
		ch->retry_w.data = ch->flush_w.data = ch;
	ev_async_start(ch->loop, &ch->stop_w);
	ev_async_start(ch->loop, &ch->stats_w);
	ev_prepare_start(ch->loop, &ch->flush_w);
	ev_timer_start(ch->loop, &ch->heartbeat_w);
}

/* Logs where the channel publishes: its sequence, source and segment
 * (DIR/mdbus.CHANNEL, DIR its dir, else $MDBUS_DIR, else /dev/shm, as
 * libmdbus(3) names it) with its size. */
static void log_start(const struct channel *ch)
{
	const struct chan_conf *c = ch->conf;
	const char *dir = mdbus_segment_dir(c->dir);
	struct mdbus_stats st;
	int r = mdbus_channel_stats(c->name, c->dir, &st, NULL, 0);

	if (r < 0 && r != MDBUS_ETABLE) /* that one fills the rest */
		st.total_size = 0;
	log_msg(LOG_NOTICE, "channel %s: publishing from sequence %llu, source "
		"%s, segment %s/mdbus.%s (%llu bytes)", c->name,
		(unsigned long long)mdbus_pub_position(ch->pub), c->source, dir,
		c->name, (unsigned long long)st.total_size);
	log_msg(LOG_INFO, "channel %s: %llu-byte slots, %llu per block, %llu "
		"blocks, %llu consumers at most, %s, file mode %03llo, "
		"heartbeat %g s, reap %g s", c->name,
		(unsigned long long)c->slot_size,
		(unsigned long long)c->slots_per_block,
		(unsigned long long)c->block_count,
		(unsigned long long)c->max_consumers,
		c->mode ? "lossless" : "overwrite",
		(unsigned long long)c->file_mode, c->heartbeat_s, c->reap_s);
}

/* Defines counter i in the segment: 0, or a negative code with the
 * reason in err. */
static int define_counter(struct channel *ch, int i, const char *label,
			  char *err, size_t errlen)
{
	int id = mdbus_pub_counter_new(ch->pub, label,
				       i == CTR_ARCHIVE_LAG ? MDBUS_COUNTER_GAUGE :
							      MDBUS_COUNTER_TOTAL);

	if (id < 0) {
		snprintf(err, errlen, "counter %s in the segment: %s", label,
			 mdbus_strerror(id));
		return id;
	}
	ch->n.id[i] = id;
	return 0;
}

/* The channel's counters in its segment, then the source's, labelled
 * "SOURCE.NAME" (mdpub(8), "COUNTERS"). */
static int define_counters(struct channel *ch, char *err, size_t errlen)
{
	const char *const *names = ch->conf->ops->counters;
	char label[MDBUS_COUNTER_LABEL_MAX + 1];
	int i, rc = 0;

	for (i = 0; i < CTR_ALL; i++)
		ch->n.id[i] = -1;
	for (i = 0; i < CTR_SOURCE && rc == 0; i++)
		rc = define_counter(ch, i, counter_labels[i], err, errlen);
	for (i = 0; names && i < SOURCE_COUNTERS_MAX && names[i] && rc == 0; i++) {
		snprintf(label, sizeof(label), "%s.%s", ch->conf->source, names[i]);
		rc = define_counter(ch, CTR_SOURCE + i, label, err, errlen);
	}
	return rc;
}

static int open_pub(struct channel *ch, char *err, size_t errlen)
{
	const struct chan_conf *c = ch->conf;
	struct mdbus_pub_config cfg;
	int rc;

	conf_pub_config(c, &cfg);
	rc = mdbus_pub_open(&ch->pub, c->name, &cfg);
	if (rc < 0) {
		snprintf(err, errlen, "%s", mdbus_error_text(rc));
		return rc;
	}
	log_start(ch);
	rc = define_counters(ch, err, errlen);
	if (rc == 0 && c->archive)
		rc = archive_start(&ch->arch, c, ch->pub, err, errlen);
	if (rc == 0)
		rc = reaper_start(&ch->reaper, c, ch->pub, err, errlen);
	return rc;
}

static int start_thread(struct channel *ch, char *err, size_t errlen)
{
	int rc = thread_start(&ch->thread, channel_thread, ch);

	if (rc < 0)
		snprintf(err, errlen, "pthread_create: %s", strerror(-rc));
	return rc;
}

/* Archives everything published, then puts the archive's last counts
 * in the segment (the channel thread is gone: this thread updates them
 * now). */
static void stop_archive(struct channel *ch)
{
	uint64_t lost;

	if (!ch->arch)
		return;
	archive_stop(ch->arch, &lost);
	ch->arch = NULL;
	atomic_store_explicit(&ch->n.v[CTR_ARCHIVE_LAG], 0, memory_order_relaxed);
	atomic_store_explicit(&ch->n.v[CTR_ARCHIVE_DROPPED], lost,
			      memory_order_relaxed);
	flush_counters(ch);
}

static void channel_free(struct channel *ch)
{
	end_source(ch); /* a channel whose thread never ran */
	end_limits(ch);
	if (ch->loop)
		ev_loop_destroy(ch->loop);
	stop_archive(ch);
	reaper_stop(ch->reaper);
	mdbus_pub_close(ch->pub);
	free(ch->q.buf);
	free(ch);
}

/* Everything but the thread: loop, watchers, source, segment, archive.
 * The archive directory is checked and the source starts first, so that
 * a directory or input refused (a bad file, an address it cannot bind)
 * leaves no segment behind; it publishes nothing before the thread
 * runs its loop. */
static int channel_open(struct channel *ch, char *err, size_t errlen)
{
	int rc;

	ch->loop = ev_loop_new(EVFLAG_AUTO);
	if (!ch->loop) {
		snprintf(err, errlen, "cannot create an event loop");
		return -ENOMEM;
	}
	init_watchers(ch);
	ch->quiet = ch->conf->ops->numbers_seq &&
		    ch->conf->ops->numbers_seq(ch->conf->src_conf);
	rc = ch->conf->archive ? archive_check_dir(ch->conf, err, errlen) : 0;
	if (rc < 0)
		return rc;
	rc = ch->conf->ops->start(&ch->src, ch->conf->src_conf, ch, ch->loop,
				  err, errlen);
	if (rc == 0)
		rc = open_pub(ch, err, errlen);
	return rc;
}

int channel_start(struct channel **out, struct chan_conf *conf,
		  struct ev_loop *main_loop, ev_async *done, char *err,
		  size_t errlen)
{
	struct channel *ch = calloc(1, sizeof(*ch));
	int rc;

	if (!ch) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ch->conf = conf;
	ch->main_loop = main_loop;
	ch->done_w = done;
	log_limit_init(&ch->drop_limit, 10, LOG_WARNING,
		       "channel %s: message dropped", conf->name);
	log_limit_init(&ch->skip_limit, 10, LOG_ERR,
		       "channel %s: skipping sequence numbers", conf->name);
	rc = channel_open(ch, err, errlen);
	if (rc == 0)
		rc = start_thread(ch, err, errlen);
	if (rc < 0) {
		channel_free(ch);
		return rc;
	}
	*out = ch;
	return 0;
}

void channel_request_stop(struct channel *ch)
{
	if (ch->stop_sent)
		return;
	ch->stop_sent = 1;
	ev_async_send(ch->loop, &ch->stop_w);
}

int channel_stop_requested(const struct channel *ch)
{
	return ch->stop_sent;
}

void channel_join(struct channel *ch)
{
	channel_request_stop(ch);
	if (ch->joined)
		return;
	pthread_join(ch->thread, NULL);
	ch->joined = 1;
}

struct chan_conf *channel_stop(struct channel *ch)
{
	struct chan_conf *conf = ch->conf;

	channel_join(ch);
	stop_archive(ch);
	log_stats(ch);
	log_msg(LOG_NOTICE, "channel %s: stopped at sequence %llu",
		channel_name(ch), (unsigned long long)mdbus_pub_position(ch->pub));
	channel_free(ch);
	return conf;
}

void channel_request_stats(struct channel *ch)
{
	int seen = STATS_IDLE;

	/* acquire pairs with channel_thread()'s release of ENDED: its
	 * counters are final then, and this thread logs them (C11 wants
	 * the success order as strong as the failure's) */
	if (atomic_compare_exchange_strong_explicit(&ch->stats_state, &seen,
						    STATS_WANTED,
						    memory_order_acquire,
						    memory_order_acquire)) {
		ev_async_send(ch->loop, &ch->stats_w);
		return;
	}
	if (seen == STATS_ENDED)
		log_stats(ch);
}
