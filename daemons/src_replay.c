/*
 * src_replay.c - the `replay` source: publishes a recording made by
 * `mdsub --record` (mdbus_rec.h; format: doc/protocol.md) at its recorded
 * pace times `speed`, or as fast as the channel takes it (speed = 0),
 * once or in a `loop`. A file cut in the middle of a record is read up to
 * its last whole record. A recorded timestamp that jumps so far ahead that
 * the next record would be due after more than `max_wait` seconds (a
 * corrupt or forged file, a recorder whose clock was set) is logged and
 * waited for `max_wait` seconds only; the pace goes on from there.
 * With `keep_seq`, each record is published under its recorded sequence
 * number: the numbers before it that the channel has not reached are
 * skipped (channel_skip(): readers count them lost, as the recorder did),
 * and a record behind the channel's next number is not published
 * (counted malformed, logged).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "error_text.h"
#include "log.h"
#include "mdbus_msg.h"
#include "mdbus_rec.h"
#include "source.h"

/* The source's counters, named in replay_counters[]. */
enum {
	REPLAY_BACKWARDS, /* records whose sequence number goes back,
			     published as read (publish_record()) */
};

static const char *const replay_counters[] = { "backwards", NULL };

#define BATCH 1024      /* records per callback as fast as possible */
#define BURST_MAX 65536 /* records per callback at recorded pace */
#define BURST_BYTES (8u << 20) /* payload bytes per callback, at most: the
				  loop must get back to its stop and timer
				  watchers, however large the records */

struct replay_conf {
	char *file;
	double speed;
	double max_wait;
	int loop;
	int timestamps; /* 0 now, 1 recorded */
	int keep_seq;
};

static const char *const ts_names[] = {"now", "recorded", NULL};

#define OFF(field) offsetof(struct replay_conf, field)
static const struct setting replay_settings[] = {
	{"file", SET_STRING, OFF(file), 0, 0, 0, NULL},
	{"speed", SET_DOUBLE, OFF(speed), 0, 1e6, 0, NULL},
	{"max_wait", SET_DOUBLE, OFF(max_wait), 0.001, 1e9, 0, NULL},
	{"loop", SET_BOOL, OFF(loop), 0, 0, 0, NULL},
	{"timestamps", SET_CHOICE, OFF(timestamps), 0, 0, 0, ts_names},
	{"keep_seq", SET_BOOL, OFF(keep_seq), 0, 0, 0, NULL},
	{NULL, 0, 0, 0, 0, 0, NULL},
};

struct replay {
	struct source base;
	struct replay_conf conf;
	mdbus_rec_reader_t *rec;
	struct mdbus_msg msg;      /* the record to publish next */
	unsigned char *payload;
	int have;                  /* rec and payload hold a record */
	int warned;                /* a cut or corrupt record was logged */
	struct log_limit jump_limit;
	struct log_limit behind_limit;
	struct log_limit back_limit;
	uint64_t pass_records;     /* published in this pass */
	uint64_t last_seq;
	ev_tstamp base_wall;       /* when the pass's first record went out */
	uint64_t base_ts;          /* and its recorded timestamp */
	ev_timer pace_w;
	ev_idle idle_w;
};

static void replay_conf_init(void *conf)
{
	struct replay_conf *c = conf;

	c->speed = 1;
	c->max_wait = 60;
}

static int replay_conf_check(const void *conf, char *err, size_t errlen)
{
	const struct replay_conf *c = conf;

	if (c->keep_seq && c->loop) {
		snprintf(err, errlen, "source replay: keep_seq and loop exclude "
			 "each other (a second pass would go back)");
		return -1;
	}
	if (c->file)
		return 0;
	snprintf(err, errlen, "source replay needs file = PATH");
	return -1;
}

static int replay_numbers_seq(const void *conf)
{
	return ((const struct replay_conf *)conf)->keep_seq;
}

static const char *name_of(const struct replay *r)
{
	return channel_name(r->base.ch);
}

/* Logs a cut or corrupt file once per source, however often it loops. */
static void read_trouble(struct replay *r, int err)
{
	if (r->warned)
		return;
	r->warned = 1;
	if (err == MDBUS_ETRUNCATED) {
		log_msg(LOG_WARNING, "channel %s: %s ends in a partial record",
			name_of(r), r->conf.file);
		return;
	}
	channel_count_malformed(r->base.ch);
	log_msg(LOG_ERR, "channel %s: %s: %s (record of %u bytes at "
			"offset %llu): replay ends there", name_of(r),
			r->conf.file, mdbus_strerror(err), r->msg.size,
			(unsigned long long)mdbus_rec_offset(r->rec));
}

/* Reads the next record into r->msg and r->payload. Returns 0, -ENODATA
 * at the end, or the error that ends the file (logged once). */
static int read_record(struct replay *r)
{
	int err = mdbus_rec_read(r->rec, r->payload, MDBUS_REC_PAYLOAD_MAX,
				 &r->msg);

	if (err && err != -ENODATA)
		read_trouble(r, err);
	return err;
}

static void replay_halt(struct replay *r)
{
	ev_timer_stop(r->base.loop, &r->pace_w);
	ev_idle_stop(r->base.loop, &r->idle_w);
}

/* Reads the next record, rewinding at the end (or a cut) in loop mode.
 * 0 at the end of the replay. */
static int advance(struct replay *r)
{
	int err = read_record(r);

	r->have = err == 0;
	if (r->have || !r->conf.loop || !r->pass_records ||
	    (err != -ENODATA && err != MDBUS_ETRUNCATED))
		return r->have;
	mdbus_rec_rewind(r->rec);
	r->pass_records = 0;
	r->have = read_record(r) == 0;
	return r->have;
}

/* keep_seq: brings the channel to the record's sequence number. 0, or
 * -1 when the channel is past it or the skip is refused (too far:
 * mdbus_pub_skip(); counted as malformed: not published, logged). */
static int place(struct replay *r)
{
	uint64_t next = channel_next_seq(r->base.ch);

	if (r->msg.seq >= next) {
		if (channel_skip(r->base.ch, r->msg.seq - next) == 0)
			return 0;
		channel_count_malformed(r->base.ch);
		return -1;
	}
	channel_count_malformed(r->base.ch);
	log_limited(&r->behind_limit, LOG_WARNING, "channel %s: %s: record of "
		    "seq %llu not published: the channel's next sequence "
		    "number is %llu (keep_seq)", name_of(r), r->conf.file,
		    (unsigned long long)r->msg.seq, (unsigned long long)next);
	return -1;
}

static void publish_record(struct replay *r)
{
	uint64_t ts = r->conf.timestamps ? r->msg.ts_ns : 0;

	if (!r->pass_records) {
		r->base_wall = ev_now(r->base.loop);
		r->base_ts = r->msg.ts_ns;
	} else if (r->msg.seq > r->last_seq && r->msg.seq - r->last_seq > 1) {
		channel_count_gap(r->base.ch, r->msg.seq - r->last_seq - 1);
	} else if (r->msg.seq <= r->last_seq && !r->conf.keep_seq) {
		/* out of order: a forged or spliced file, or one across a
		 * replaced segment (its numbers start again): published as
		 * read, as the file says (keep_seq refuses them: place()),
		 * counted and said */
		channel_count(r->base.ch, REPLAY_BACKWARDS, 1);
		log_limited(&r->back_limit, LOG_WARNING, "channel %s: %s: "
			    "record of seq %llu after seq %llu: the recording's "
			    "sequence goes back (mdsub --verify); published as "
			    "read", name_of(r), r->conf.file,
			    (unsigned long long)r->msg.seq,
			    (unsigned long long)r->last_seq);
	}
	r->last_seq = r->msg.seq;
	r->pass_records++;
	if (r->conf.keep_seq && place(r) < 0)
		return;
	channel_publish(r->base.ch, r->msg.type, r->payload, r->msg.size, ts);
}

/* Seconds until the pending record is due at the recorded pace. */
static double wait_for(const struct replay *r)
{
	double offset;

	if (!r->pass_records || r->msg.ts_ns <= r->base_ts)
		return 0;
	offset = (double)(r->msg.ts_ns - r->base_ts) / 1e9 / r->conf.speed;
	return r->base_wall + offset - ev_now(r->base.loop);
}

/* Publishes up to n due records. Returns 1 when the source stopped (end,
 * or paused), else 0 with r->rec pending. */
static int publish_due(struct replay *r, unsigned n)
{
	size_t bytes = 0;

	for (unsigned i = 0; i < n && bytes < BURST_BYTES; i++) {
		if (!r->have && !advance(r)) {
			replay_halt(r);
			channel_source_done(r->base.ch);
			return 1;
		}
		if (r->conf.speed > 0 && wait_for(r) > 0)
			return 0;
		bytes += r->msg.size;
		publish_record(r);
		r->have = 0;
		if (channel_paused(r->base.ch)) {
			replay_halt(r);
			return 1;
		}
	}
	return 0;
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	publish_due(w->data, BATCH);
}

/* A wait over max_wait: logged, cut to max_wait, and the pace starts
 * again from the pending record when that wait is over. Returns the wait. */
static double cap_wait(struct replay *r, double wait)
{
	if (wait <= r->conf.max_wait)
		return wait;
	log_limited(&r->jump_limit, LOG_WARNING, "channel %s: %s: recorded "
		    "timestamp jumps before seq %llu: due in %.0f s at this "
		    "speed, published after max_wait %g s", name_of(r),
		    r->conf.file, (unsigned long long)r->msg.seq, wait,
		    r->conf.max_wait);
	r->base_wall = ev_now(r->base.loop) + r->conf.max_wait;
	r->base_ts = r->msg.ts_ns;
	return r->conf.max_wait;
}

static void pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct replay *r = w->data;
	double wait;

	if (publish_due(r, BURST_MAX))
		return;
	wait = cap_wait(r, wait_for(r));
	ev_timer_set(w, wait > 0 ? wait : 0, 0);
	ev_timer_start(loop, w);
}

static void replay_resume(struct source *src)
{
	struct replay *r = SOURCE_OF(src, struct replay);

	replay_halt(r); /* pace_w may be running (source.h): not set while active */
	if (r->conf.speed > 0) {
		ev_timer_set(&r->pace_w, 0, 0);
		ev_timer_start(r->base.loop, &r->pace_w);
	} else {
		ev_idle_start(r->base.loop, &r->idle_w);
	}
}

/* 0, or the code of mdbus_rec_open() with its detail (naming the file)
 * in err. */
static int open_file(struct replay *r, char *err, size_t errlen)
{
	struct mdbus_rec_info info;
	int rc = mdbus_rec_open(&r->rec, r->conf.file, &info);

	if (rc) {
		snprintf(err, errlen, "%s", mdbus_error_text(rc));
		return rc;
	}
	if (info.msg_version != MDBUS_MSG_VERSION)
		log_msg(LOG_WARNING, "channel %s: %s holds message types version "
			"%u, this mdpub knows %u", name_of(r), r->conf.file,
			info.msg_version, MDBUS_MSG_VERSION);
	return 0;
}

static void replay_stop(struct source *src)
{
	struct replay *r = SOURCE_OF(src, struct replay);

	replay_halt(r);
	log_limit_end(&r->jump_limit);
	log_limit_end(&r->behind_limit);
	log_limit_end(&r->back_limit);
	mdbus_rec_close(r->rec);
	free(r->payload);
	free(r);
}

static int replay_start(struct source **out, const void *conf,
			struct channel *ch, struct ev_loop *loop, char *err,
			size_t errlen)
{
	struct replay *r = source_alloc(sizeof(*r), ch, loop);
	int rc;

	if (!r)
		return source_nomem(err, errlen);
	r->conf = *(const struct replay_conf *)conf;
	log_limit_init(&r->jump_limit, 10, LOG_WARNING,
		       "channel %s: timestamp jumps", name_of(r));
	log_limit_init(&r->behind_limit, 10, LOG_WARNING,
		       "channel %s: records behind the sequence", name_of(r));
	log_limit_init(&r->back_limit, 10, LOG_WARNING,
		       "channel %s: records going back", name_of(r));
	ev_init(&r->pace_w, pace_cb);
	ev_idle_init(&r->idle_w, idle_cb);
	r->pace_w.data = r->idle_w.data = r;
	r->payload = malloc(MDBUS_REC_PAYLOAD_MAX);
	rc = r->payload ? open_file(r, err, errlen) : source_nomem(err, errlen);
	if (rc < 0) {
		replay_stop(&r->base);
		return rc;
	}
	replay_resume(&r->base);
	*out = &r->base;
	return 0;
}

const struct source_ops src_replay = {
	.name = "replay",
	.settings = replay_settings,
	.conf_size = sizeof(struct replay_conf),
	.conf_init = replay_conf_init,
	.conf_check = replay_conf_check,
	.numbers_seq = replay_numbers_seq,
	.counters = replay_counters,
	.start = replay_start,
	.resume = replay_resume,
	.stop = replay_stop,
};
