/*
 * t_threads_more.c - more of the cross-thread protocol for TSan's eyes,
 * every handle on one mapping of the segment (shared_map.c), as in
 * t_threads.c, in what t_threads does not do:
 *
 * - join: readers joining a flood. One reader reopens every REOPEN_EVERY
 *   messages (latest, by sequence, by time in turn: the same segment, so
 *   its place is kept) while a third thread calls mdbus_sub_interrupt()
 *   on it all along (it reads on after each -EINTR); another opens
 *   handle after handle a little behind, at or ahead of the publisher,
 *   by sequence (the first message is seq == start + lost, exactly) or
 *   by time (the first one stamped at or after it); on a lossless
 *   channel whose write count after the open says that the asked message
 *   was not overwritten yet, it is the very first message (and by
 *   sequence nothing is lost). Overwrite and lossless; on a lossless
 *   channel the reopening reader loses nothing either (its new entry is
 *   taken before the old one is given back).
 * - evict: lossless with stall_evict_ns STALL_MS: one reader stops for
 *   longer now and then and is evicted (MDBUS_EEVICTED, then a reopen at
 *   its place, what was overwritten meanwhile counted lost); the others
 *   reopen too when a loaded machine gets them evicted, and lose nothing
 *   unless they were; the publisher reaps as it goes (mdbus_pub_reap()).
 * - wake: a lossless channel with the publisher's nudger, messages in
 *   bursts with pauses so that readers sleep: registered blocking and
 *   adaptive readers (one interrupted by a third thread all along), an
 *   anonymous one (woken by the nudger), one on mdbus_sub_fd() with
 *   poll(), another that also reopens every so often (its helper thread
 *   stopped and started again), and a thread reading the channel's
 *   statistics and counters. The publisher skips SKIP_N numbers every
 *   SKIP_EVERY, claims and aborts now and then, updates a counter, and
 *   closes and resumes its segment every RESUME_EVERY messages (its
 *   nudger with it). Registered readers that never reopen lose exactly
 *   the skipped numbers.
 *
 * Every reader checks seq == previous + 1 + lost and every message
 * (tu_msg_bad()); delivered + lost is the number of messages, and
 * mdbus_sub_lost() what the reader counted. Run in the plain and TSan
 * builds. `t_threads_more join|evict|wake` runs one part.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mdbus.h"
#include "testutil.h"

#define SLOT 256
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define SKIP_EVERY 4096
#define SKIP_AT 1000
#define SKIP_N 5
/* evict: the stall that evicts, longer than a reader's first sleeps take
 * to settle once armed (1 ms; an RCU grace period before 0.2.3, up to 18
 * ms measured) */
#define STALL_MS 50

enum how { H_READ, H_FD };

struct reader {
	pthread_t t;
	const char *name;
	const char *channel;
	mdbus_sub_t *sub;
	enum how how;
	int lossless;
	uint64_t total;         /* messages 0 .. total - 1 */
	uint64_t reopen_every;  /* 0: never reopens by itself */
	uint64_t stall_every;   /* 0: never stops */
	uint64_t expect, delivered, lost;
	uint64_t eintr, evicted, reopens;
	char why[240];
};

static _Atomic uint64_t published; /* the publisher's position, for joiners */
static _Atomic int done;           /* the readers are finished: helpers stop */

static int fail_at(struct reader *r, const char *what, int rc)
{
	snprintf(r->why, sizeof(r->why), "%s at %llu: %s (%s)", what,
		 (unsigned long long)r->expect, mdbus_strerror(rc),
		 mdbus_last_error());
	return -1;
}

/* Checks m (payload buf) as the next message; 0 or -1 with r->why set. */
static int check(struct reader *r, const struct mdbus_msg *m,
		 const unsigned char *buf)
{
	const char *bad = tu_next_bad(m, buf, r->expect, m->lost, 0, PMAX);

	if (bad) {
		snprintf(r->why, sizeof(r->why), "%s", bad);
		return -1;
	}
	r->delivered++;
	r->lost += m->lost;
	r->expect = m->seq + 1;
	return 0;
}

/* A reopen at the reader's place: the start asked for turns (the same
 * segment keeps the place whatever it is). */
static int reopen(struct reader *r)
{
	static const enum mdbus_start starts[] = {
		MDBUS_START_LATEST, MDBUS_START_SEQ, MDBUS_START_TIME,
		MDBUS_START_OLDEST
	};
	enum mdbus_start st = starts[r->reopens % 4];
	int rc = mdbus_sub_reopen(r->sub, st, st == MDBUS_START_TIME ? 1 : r->expect);

	if (rc)
		return fail_at(r, "reopen", rc);
	r->reopens++;
	/* the place kept, or moved up past what was overwritten meanwhile
	 * (counted lost with the next message) */
	if (mdbus_sub_position(r->sub) < r->expect) {
		snprintf(r->why, sizeof(r->why), "reopen at %llu: position %llu",
			 (unsigned long long)r->expect,
			 (unsigned long long)mdbus_sub_position(r->sub));
		return -1;
	}
	return 0;
}

/* One message or an answer that is not one: 1 read (checked), 0 none
 * (-EINTR, -EAGAIN, an eviction answered by a reopen), -1 failed. */
static int read_one(struct reader *r, unsigned char *buf)
{
	struct mdbus_msg m;
	int rc;

	if (r->how == H_FD)
		rc = mdbus_sub_try_read(r->sub, buf, PMAX, &m);
	else
		rc = mdbus_sub_read(r->sub, buf, PMAX, &m, 30000000000LL);
	if (rc == 0)
		return check(r, &m, buf) < 0 ? -1 : 1;
	if (rc == -EINTR) {
		r->eintr++;
		return 0;
	}
	if (rc == -EAGAIN && r->how == H_FD)
		return 0;
	if (rc == MDBUS_EEVICTED) {
		r->evicted++;
		return reopen(r);
	}
	return fail_at(r, "read", rc);
}

/* Waits for the descriptor to say there may be something, re-arms it. */
static int fd_wait(struct reader *r, int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	uint64_t v;
	int n = poll(&p, 1, 30000);

	if (n != 1) {
		snprintf(r->why, sizeof(r->why), "poll at %llu: %d",
			 (unsigned long long)r->expect, n);
		return -1;
	}
	if (read(fd, &v, sizeof(v)) != sizeof(v) && errno != EAGAIN) {
		snprintf(r->why, sizeof(r->why), "read fd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void *read_all(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[PMAX];
	uint64_t next_reopen = r->reopen_every, next_stall = r->stall_every;
	int fd = -1;

	if (r->how == H_FD && (fd = mdbus_sub_fd(r->sub)) < 0) {
		fail_at(r, "mdbus_sub_fd()", fd);
		return NULL;
	}
	while (r->expect < r->total) {
		int n;

		if (r->how == H_FD && fd_wait(r, fd) < 0)
			return NULL;
		do {
			n = read_one(r, buf);
			if (n < 0)
				return NULL;
			if (r->reopen_every && r->expect >= next_reopen) {
				next_reopen = r->expect + r->reopen_every;
				if (reopen(r) < 0)
					return NULL;
			}
			if (r->stall_every && r->expect >= next_stall) {
				next_stall = r->expect + r->stall_every;
				tu_sleep_ms(3 * STALL_MS);
			}
		} while (r->how == H_FD && n > 0 && r->expect < r->total);
	}
	return NULL;
}

static void *interrupt_all(void *arg)
{
	mdbus_sub_t **subs = arg;

	while (!atomic_load(&done)) {
		for (int i = 0; subs[i]; i++)
			mdbus_sub_interrupt(subs[i]);
		usleep(200);
	}
	return NULL;
}

/* Checks a reader's totals after it ended (joined). */
static void finish(struct reader *r, const char *channel)
{
	pthread_join(r->t, NULL);
	if (r->why[0])
		tu_fail("%s %s: %s", channel, r->name, r->why);
	TU_CHECK_EQ(r->delivered + r->lost, r->total);
	TU_CHECK_EQ(mdbus_sub_lost(r->sub), r->lost);
	tu_note("%s %s: delivered %llu, lost %llu, -EINTR %llu, evicted %llu, "
		"reopens %llu", channel, r->name,
		(unsigned long long)r->delivered, (unsigned long long)r->lost,
		(unsigned long long)r->eintr, (unsigned long long)r->evicted,
		(unsigned long long)r->reopens);
}

static void reader_init(struct reader *r, const char *name,
			const char *channel, enum mdbus_mode mode,
			uint64_t total, mdbus_sub_t *sub, enum how how)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->channel = channel;
	r->lossless = mode == MDBUS_MODE_LOSSLESS;
	r->total = total;
	r->sub = sub;
	r->how = how;
}

/* Publishes message n, retried under back-pressure; fails the test on
 * error. */
static void publish(mdbus_pub_t *p, uint64_t n, unsigned char *buf)
{
	int rc;

	while ((rc = tu_publish_seq(p, n, buf, 0, PMAX)) == MDBUS_EBACKPRESSURE)
		sched_yield();
	TU_CHECK_RC(rc, 0);
	atomic_store_explicit(&published, n + 1, memory_order_relaxed);
}

/* ----------------------------------------------------------------- join */

#define JOIN_MESSAGES 150000ULL
#define JOIN_CAP 1024 /* 256 x 4 */
#define REOPEN_EVERY 3000
#define JOIN_READ 1500 /* messages a joiner reads */

struct joiner {
	pthread_t t;
	const char *channel;
	int lossless;
	unsigned joins, exact, intact;
	char why[240];
};

/* Handle after handle, by sequence or time, behind, at or ahead of the
 * publisher, each read for JOIN_READ messages. */
static void *join_all(void *arg)
{
	struct joiner *j = arg;
	static const int64_t ds[] = { -(int64_t)JOIN_CAP / 2, -50, 0, 200 };

	for (unsigned i = 0;; i++) {
		uint64_t at = atomic_load_explicit(&published, memory_order_relaxed);
		int64_t d = ds[i % 4];
		int by_time = i / 4 % 2;
		uint64_t k = (uint64_t)((int64_t)at + d), end;
		struct mdbus_sub_config c;
		struct reader r;
		unsigned char buf[PMAX];
		struct mdbus_msg m;
		mdbus_sub_t *s = NULL;
		struct mdbus_pub_info info;
		int rc, intact;

		if (at + JOIN_READ + 200 >= JOIN_MESSAGES)
			return NULL;
		if ((int64_t)at + d < 0)
			continue;
		mdbus_sub_config_init(&c);
		c.dir = tu_dir();
		c.start = by_time ? MDBUS_START_TIME : MDBUS_START_SEQ;
		c.start_seq = k;
		c.start_time_ns = k + 1; /* message k's stamp (tu_publish_seq) */
		rc = mdbus_sub_open(&s, j->channel, &c);
		if (rc == 0)
			rc = mdbus_sub_pub_info(s, &info);
		if (rc) {
			snprintf(j->why, sizeof(j->why), "open at %llu: %s",
				 (unsigned long long)k, mdbus_strerror(rc));
			mdbus_sub_close(s);
			return NULL;
		}
		/* Message k was not overwritten before the open returned (a
		 * write under way then, of message write_num, takes the slot
		 * of write_num - JOIN_CAP), and a lossless publisher waits
		 * for the registered reader from then on. */
		intact = j->lossless && info.write_num + 1 < k + JOIN_CAP;
		rc = mdbus_sub_read(s, buf, sizeof(buf), &m, 30000000000LL);
		if (rc) {
			snprintf(j->why, sizeof(j->why), "first read at %llu: %s",
				 (unsigned long long)k, mdbus_strerror(rc));
			mdbus_sub_close(s);
			return NULL;
		}
		/* by sequence: what it passed is lost, exactly; by time: the
		 * first stamped at or after it, losses before it reported;
		 * k intact: the very message (and by sequence nothing lost;
		 * by time, the oldest messages a write under way at its join
		 * took are losses before it) */
		if ((!by_time && m.seq != k + m.lost) || m.seq < k ||
		    (intact && m.seq != k) || (intact && !by_time && m.lost) ||
		    mdbus_sub_lost(s) != m.lost) {
			snprintf(j->why, sizeof(j->why), "start %s %llu (d %lld, "
				 "write count %llu after the open): first seq "
				 "%llu lost %llu, sub lost %llu",
				 by_time ? "time" : "seq", (unsigned long long)k,
				 (long long)d, (unsigned long long)info.write_num,
				 (unsigned long long)m.seq,
				 (unsigned long long)m.lost,
				 (unsigned long long)mdbus_sub_lost(s));
			mdbus_sub_close(s);
			return NULL;
		}
		j->exact += m.seq == k;
		j->intact += intact;
		reader_init(&r, "joiner", j->channel, MDBUS_MODE_OVERWRITE,
			    0, s, H_READ);
		r.expect = m.seq - m.lost;
		end = m.seq + JOIN_READ < JOIN_MESSAGES ? m.seq + JOIN_READ
							 : JOIN_MESSAGES;
		if (check(&r, &m, buf) < 0) {
			memcpy(j->why, r.why, sizeof(j->why));
			mdbus_sub_close(s);
			return NULL;
		}
		while (r.expect < end && read_one(&r, buf) >= 0)
			;
		mdbus_sub_close(s);
		if (r.why[0]) {
			memcpy(j->why, r.why, sizeof(j->why));
			return NULL;
		}
		j->joins++;
	}
}

static void run_join(const char *channel, enum mdbus_mode mode)
{
	struct mdbus_pub_config c = tu_config(SLOT, 256, 4, mode);
	mdbus_pub_t *p = tu_pub_open(channel, &c);
	struct reader r[2];
	struct joiner j = { .channel = channel, .lossless = mode == MDBUS_MODE_LOSSLESS };
	mdbus_sub_t *targets[2] = { NULL, NULL };
	pthread_t intr;
	unsigned char buf[PMAX];

	atomic_store(&published, 0);
	atomic_store(&done, 0);
	reader_init(&r[0], "reopener (interrupted)", channel, mode,
		    JOIN_MESSAGES, tu_sub_open(channel, NULL, MDBUS_START_SEQ, 0,
					      MDBUS_WAIT_BLOCK), H_READ);
	r[0].reopen_every = REOPEN_EVERY;
	reader_init(&r[1], "reader", channel, mode, JOIN_MESSAGES,
		    tu_sub_open(channel, NULL, MDBUS_START_SEQ, 0,
				MDBUS_WAIT_ADAPTIVE), H_READ);
	targets[0] = r[0].sub;
	for (int i = 0; i < 2; i++)
		TU_CHECK_EQ(pthread_create(&r[i].t, NULL, read_all, &r[i]), 0);
	TU_CHECK_EQ(pthread_create(&intr, NULL, interrupt_all, targets), 0);
	TU_CHECK_EQ(pthread_create(&j.t, NULL, join_all, &j), 0);
	for (uint64_t n = 0; n < JOIN_MESSAGES; n++) {
		publish(p, n, buf);
		if ((n & 255) == 255)
			sched_yield();
	}
	pthread_join(j.t, NULL);
	for (int i = 0; i < 2; i++)
		finish(&r[i], channel);
	atomic_store(&done, 1);
	pthread_join(intr, NULL);
	if (j.why[0])
		tu_fail("%s joiner: %s", channel, j.why);
	tu_note("%s: %u joins, %u at the very message asked for, %u of them "
		"sure to", channel, j.joins, j.exact, j.intact);
	TU_CHECK(j.joins > 0);
	TU_CHECK(r[0].reopens > 0); /* fewer than one every REOPEN_EVERY: losses */
	if (mode == MDBUS_MODE_LOSSLESS) { /* each held its place */
		TU_CHECK_EQ(r[0].lost, 0);
		TU_CHECK_EQ(r[1].lost, 0);
	}
	for (int i = 0; i < 2; i++)
		mdbus_sub_close(r[i].sub);
	mdbus_pub_close(p);
}

/* ---------------------------------------------------------------- evict */

#define EVICT_MESSAGES 60000ULL

static void run_evict(const char *channel)
{
	struct mdbus_pub_config c = tu_config(SLOT, 64, 4, MDBUS_MODE_LOSSLESS);
	mdbus_pub_t *p;
	struct reader r[3];
	unsigned char buf[PMAX];

	c.stall_evict_ns = STALL_MS * 1000000ULL;
	p = tu_pub_open(channel, &c);
	for (int i = 0; i < 3; i++) {
		reader_init(&r[i], i == 0 ? "staller" : "reader", channel,
			    MDBUS_MODE_LOSSLESS, EVICT_MESSAGES,
			    tu_sub_open(channel, NULL, MDBUS_START_SEQ, 0,
					i == 1 ? MDBUS_WAIT_BLOCK
					       : MDBUS_WAIT_ADAPTIVE),
			    H_READ);
		if (i == 0)
			r[0].stall_every = EVICT_MESSAGES / 4;
		TU_CHECK_EQ(pthread_create(&r[i].t, NULL, read_all, &r[i]), 0);
	}
	for (uint64_t n = 0; n < EVICT_MESSAGES; n++) {
		publish(p, n, buf);
		if ((n & 4095) == 4095)
			TU_CHECK(mdbus_pub_reap(p) >= 0);
		if ((n & 255) == 255)
			sched_yield();
	}
	for (int i = 0; i < 3; i++) {
		finish(&r[i], channel);
		if (!r[i].evicted) /* lossless: lost only while evicted */
			TU_CHECK_EQ(r[i].lost, 0);
		mdbus_sub_close(r[i].sub);
	}
	TU_CHECK(r[0].evicted > 0);
	mdbus_pub_close(p);
}

/* ----------------------------------------------------------------- wake */

#define WAKE_MESSAGES 60000ULL
#define BURST 64
#define RESUME_EVERY 9000
#define ABORT_EVERY 1500
#define READERS_WAKE 5

static uint64_t skipped_before(uint64_t seq)
{
	return seq % SKIP_EVERY == SKIP_AT + SKIP_N ? SKIP_N : 0;
}

static uint64_t skipped_total(uint64_t messages)
{
	uint64_t t = 0;

	for (uint64_t n = 0; n < messages; n++)
		t += skipped_before(n);
	return t;
}

/* Statistics and counters read all along, as tools do. */
static void *look_all(void *arg)
{
	const char *channel = arg;
	unsigned looks = 0;

	while (!atomic_load(&done)) {
		struct mdbus_stats st;
		struct mdbus_consumer_stat cons[16];
		struct mdbus_counter ctr[4];
		int rc = mdbus_channel_stats(channel, tu_dir(), &st, cons, 16);

		if (rc && rc != -ENOENT)
			tu_fail("stats: %s", mdbus_strerror(rc));
		rc = mdbus_channel_counters(channel, tu_dir(), ctr, 4);
		if (rc < 0 && rc != -ENOENT && rc != -EAGAIN)
			tu_fail("counters: %s", mdbus_strerror(rc));
		looks++;
		usleep(500);
	}
	tu_note("%s: %u looks at the statistics", channel, looks);
	return NULL;
}

/* A claim, some payload written (relaxed: readers waiting at the slot
 * may load its words), and an abort: nothing published. */
static void claim_abort(mdbus_pub_t *p)
{
	uint64_t *w;
	void *pl;
	int rc;

	while ((rc = mdbus_pub_claim(p, PMAX, &pl)) == MDBUS_EBACKPRESSURE)
		sched_yield();
	TU_CHECK_RC(rc, 0);
	w = pl;
	for (int i = 0; i < 8; i++)
		__atomic_store_n(&w[i], 0xdeadbeefULL * (uint64_t)(i + 1),
				 __ATOMIC_RELAXED);
	TU_CHECK_RC(mdbus_pub_abort(p), 0);
}

static const struct {
	const char *name;
	enum mdbus_wait wait;
	enum how how;
} wake_readers[READERS_WAKE] = {
	{ "block", MDBUS_WAIT_BLOCK, H_READ },
	{ "adaptive (interrupted)", MDBUS_WAIT_ADAPTIVE, H_READ },
	{ "anonymous block", MDBUS_WAIT_BLOCK, H_READ }, /* anon, below */
	{ "fd", MDBUS_WAIT_BLOCK, H_FD },
	{ "fd reopener (interrupted)", MDBUS_WAIT_BLOCK, H_FD },
};

static void run_wake(const char *channel)
{
	struct mdbus_pub_config c = tu_nudging(tu_config(SLOT, 256, 4, MDBUS_MODE_LOSSLESS));
	mdbus_pub_t *p = tu_pub_open(channel, &c);
	struct reader r[READERS_WAKE];
	mdbus_sub_t *targets[3];
	struct mdbus_sub_config sc;
	mdbus_sub_t *anon = NULL;
	pthread_t intr, look;
	unsigned char buf[PMAX];
	int ctr, resumes = 0;

	atomic_store(&done, 0);
	mdbus_sub_config_init(&sc);
	sc.dir = tu_dir();
	sc.anonymous = 1;
	sc.start = MDBUS_START_SEQ;
	sc.wait = MDBUS_WAIT_BLOCK;
	TU_CHECK_RC(mdbus_sub_open(&anon, channel, &sc), 0);
	for (int i = 0; i < READERS_WAKE; i++)
		reader_init(&r[i], wake_readers[i].name, channel,
			    MDBUS_MODE_LOSSLESS, WAKE_MESSAGES,
			    i == 2 ? anon
				   : tu_sub_open(channel, NULL, MDBUS_START_SEQ, 0,
						 wake_readers[i].wait),
			    wake_readers[i].how);
	r[4].reopen_every = 2500;
	targets[0] = r[1].sub;
	targets[1] = r[4].sub;
	targets[2] = NULL;
	ctr = mdbus_pub_counter_new(p, "published", MDBUS_COUNTER_TOTAL);
	TU_CHECK(ctr >= 0);
	for (int i = 0; i < READERS_WAKE; i++)
		TU_CHECK_EQ(pthread_create(&r[i].t, NULL, read_all, &r[i]), 0);
	TU_CHECK_EQ(pthread_create(&intr, NULL, interrupt_all, targets), 0);
	TU_CHECK_EQ(pthread_create(&look, NULL, look_all, (void *)channel), 0);
	for (uint64_t n = 0; n < WAKE_MESSAGES; n++) {
		if (n % SKIP_EVERY == SKIP_AT) {
			int rc;

			while ((rc = mdbus_pub_skip(p, SKIP_N)) == MDBUS_EBACKPRESSURE)
				sched_yield();
			TU_CHECK_RC(rc, 0);
			n += SKIP_N;
		}
		if (n % ABORT_EVERY == 0)
			claim_abort(p);
		publish(p, n, buf);
		if (n % BURST == BURST - 1) {
			mdbus_pub_counter_set(p, ctr, n + 1);
			tu_sleep_ms(0.2);
		}
		if (n % RESUME_EVERY == RESUME_EVERY - 1) {
			mdbus_pub_close(p);
			tu_sleep_ms(2);
			p = tu_pub_open(channel, &c);
			TU_CHECK_EQ(mdbus_pub_position(p), n + 1);
			ctr = mdbus_pub_counter_new(p, "published", MDBUS_COUNTER_TOTAL);
			TU_CHECK(ctr >= 0);
			resumes++;
		}
	}
	for (int i = 0; i < READERS_WAKE; i++)
		finish(&r[i], channel);
	atomic_store(&done, 1);
	pthread_join(intr, NULL);
	pthread_join(look, NULL);
	/* registered and never reopened: the skipped numbers, exactly */
	TU_CHECK_EQ(r[0].lost, skipped_total(WAKE_MESSAGES));
	TU_CHECK_EQ(r[1].lost, skipped_total(WAKE_MESSAGES));
	TU_CHECK_EQ(r[3].lost, skipped_total(WAKE_MESSAGES));
	TU_CHECK(r[1].eintr > 0);
	TU_CHECK(r[4].reopens > 0);
	tu_note("%s: %d resumes", channel, resumes);
	for (int i = 0; i < READERS_WAKE; i++)
		mdbus_sub_close(r[i].sub);
	mdbus_pub_close(p);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	unsigned long hits;

	tu_init("t_threads_more", 300);
	hits = tu_shared_map_hits();
	if (!only || !strcmp(only, "join")) {
		run_join("more.join.overwrite", MDBUS_MODE_OVERWRITE);
		run_join("more.join.lossless", MDBUS_MODE_LOSSLESS);
	}
	if (!only || !strcmp(only, "evict"))
		run_evict("more.evict");
	if (!only || !strcmp(only, "wake"))
		run_wake("more.wake");
	/* the readers' handles were on their publishers' mappings */
	TU_CHECK(tu_shared_map_hits() > hits);
	return 0;
}
