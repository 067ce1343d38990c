/*
 * t_threads.c - the ordering protocol between threads of one process, so
 * that ThreadSanitizer (which cannot see across processes) checks the
 * library's atomics. Every handle is on one mapping of the segment
 * (shared_map.c): TSan knows memory by its address, and with a mapping
 * for each handle it saw nothing of the ring, not even with the stamps'
 * acquire loads made relaxed. A publisher thread and five reader threads,
 * first on an overwrite channel (readers check seq == previous + 1 + lost
 * and every payload word), then on a lossless one (readers get every
 * message but the SKIP_N numbers the publisher skips every SKIP_EVERY,
 * which they count lost; the publisher retries on back-pressure).
 * Messages go out in groups of GROUP by turns: zero-copy with
 * claim/commit, one by one, and in a batch. Three readers copy
 * (mdbus_sub_read(), one blocking), one reads in place in views
 * (mdbus_sub_peek(), mdbus_view_msg(), mdbus_sub_release()) and one in a
 * poll's handler (mdbus_sub_poll()). In place, an overwrite channel's
 * payload is loaded word by word with relaxed atomic loads, as the
 * producer may write it meanwhile (what release or the handler's second
 * call takes back is counted lost); a lossless channel's is read with
 * memcpy(), which only the library's acquire loads and the producer's
 * wait for the reader's position make safe: TSan says whether they do.
 * Run in the plain, ASan and TSan builds.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "mdbus.h"
#include "testutil.h"

#define READERS 5
#define MESSAGES 300000ULL
#define SLOT 256
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define VIEW_MAX 64 /* messages a peek asks for */
#define GROUP 8 /* messages published the same way in a row */
/* SKIP_N numbers skipped at each multiple of SKIP_EVERY plus SKIP_AT: a
 * reader of a lossless channel loses those and nothing else */
#define SKIP_EVERY 4096
#define SKIP_AT 1000
#define SKIP_N 5

enum read_kind { READ_COPY, READ_VIEWS, READ_POLL };

struct reader {
	pthread_t t;
	const char *channel;
	mdbus_sub_t *sub;
	enum read_kind kind;
	int lossless;
	uint64_t delivered, lost;
	uint64_t expect;      /* in place: the next message's number */
	uint64_t taken_back;  /* in place: messages overwritten while read */
	struct mdbus_msg last;   /* poll: the message the handler copied */
	unsigned char buf[PMAX]; /* poll: the handler's copy */
	char why[240];
};

/* A message's payload copied out of the ring: by memcpy() in a lossless
 * channel (nobody writes it while we hold it), else word by word with
 * relaxed atomic loads (the producer's relaxed stores may meet them;
 * release or the poll's re-check says whether they did). */
static void copy_payload(const struct reader *r, unsigned char *dst,
			 const void *src, size_t size)
{
	const uint64_t *w = src;

	if (r->lossless) {
		memcpy(dst, src, size);
		return;
	}
	for (size_t i = 0; i * 8 < size; i++) {
		uint64_t v = __atomic_load_n(&w[i], __ATOMIC_RELAXED);

		memcpy(dst + i * 8, &v, 8); /* PMAX is whole words */
	}
}

/* How many numbers the publisher skipped just before message seq. */
static uint64_t skipped_before(uint64_t seq)
{
	return seq % SKIP_EVERY == SKIP_AT + SKIP_N ? SKIP_N : 0;
}

/* Checks message m (its payload in buf) as the next one after r->expect;
 * returns 0, or -1 with r->why set. */
static int check_next(struct reader *r, const struct mdbus_msg *m,
		      const unsigned char *buf)
{
	const char *bad = tu_next_bad(m, buf, r->expect,
				      r->lossless ? skipped_before(m->seq)
						  : m->lost, 0, PMAX);

	if (bad) {
		snprintf(r->why, sizeof(r->why), "%s", bad);
		return -1;
	}
	r->delivered++;
	r->lost += m->lost;
	r->expect = m->seq + 1;
	return 0;
}

/* One view: its messages copied out, released, and those the release
 * did not take back checked. Returns 0, or -1 with r->why set. */
static int view_once(struct reader *r)
{
	static __thread unsigned char copy[VIEW_MAX][PMAX];
	struct mdbus_msg m[VIEW_MAX];
	struct mdbus_view v;
	const void *pl;
	unsigned used = 0;
	int n, torn;

	n = mdbus_sub_peek(r->sub, &v, VIEW_MAX);
	if (n < 0) {
		snprintf(r->why, sizeof(r->why), "peek at %llu: %s",
			 (unsigned long long)r->expect, mdbus_strerror(n));
		return -1;
	}
	if (n == 0) {
		sched_yield();
		return 0;
	}
	while (used < (unsigned)n && (pl = mdbus_view_msg(&v, used, &m[used]))) {
		copy_payload(r, copy[used], pl, m[used].size);
		used++;
	}
	torn = mdbus_sub_release(r->sub, &v, used);
	if (torn < 0 || (r->lossless && torn)) {
		snprintf(r->why, sizeof(r->why), "release of %u at %llu: %d",
			 used, (unsigned long long)v.seq, torn);
		return -1;
	}
	for (unsigned i = 0; i < used; i++) {
		if (i < (unsigned)torn) { /* lost, and not in a msg.lost */
			if (m[i].seq != r->expect + m[i].lost) {
				snprintf(r->why, sizeof(r->why),
					 "taken back %llu after %llu",
					 (unsigned long long)m[i].seq,
					 (unsigned long long)r->expect);
				return -1;
			}
			r->lost += m[i].lost + 1;
			r->taken_back++;
			r->expect = m[i].seq + 1;
		} else if (check_next(r, &m[i], copy[i]) < 0) {
			return -1;
		}
	}
	return 0;
}

/* The poll's handler: copies the message out, or (payload NULL, a
 * second call for the same message) forgets the copy: overwritten while
 * read, lost. */
static int poll_one(void *arg, const struct mdbus_msg *m, const void *pl)
{
	struct reader *r = arg;

	if (pl) {
		r->last = *m;
		copy_payload(r, r->buf, pl, m->size);
		return 0;
	}
	/* this call's msg->lost is 0: the loss before it came with the
	 * first call's */
	if (m->seq != r->last.seq || m->lost ||
	    r->last.seq != r->expect + r->last.lost) {
		snprintf(r->why, sizeof(r->why), "taken back %llu lost %llu, "
			 "held %llu lost %llu, after %llu",
			 (unsigned long long)m->seq, (unsigned long long)m->lost,
			 (unsigned long long)r->last.seq,
			 (unsigned long long)r->last.lost,
			 (unsigned long long)r->expect);
		return 1;
	}
	r->lost += r->last.lost + 1;
	r->taken_back++;
	r->expect = m->seq + 1;
	return 0;
}

/* Reads in place until every message was seen: views or polls of one
 * message (so that each is checked after the handler's calls for it). */
static void read_in_place(struct reader *r)
{
	while (r->expect < MESSAGES && !r->why[0]) {
		uint64_t taken_back = r->taken_back;
		int n;

		if (r->kind == READ_VIEWS) {
			if (view_once(r) < 0)
				return;
			continue;
		}
		n = mdbus_sub_poll(r->sub, poll_one, r, 1);
		if (n < 0) {
			snprintf(r->why, sizeof(r->why), "poll at %llu: %s",
				 (unsigned long long)r->expect, mdbus_strerror(n));
			return;
		}
		if (n == 1 && check_next(r, &r->last, r->buf) < 0)
			return;
		if (n == 0 && r->taken_back == taken_back)
			sched_yield();
	}
}

static void *read_all(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	int rc;

	if (r->kind != READ_COPY) {
		read_in_place(r);
		return NULL;
	}
	while (r->expect < MESSAGES) {
		rc = mdbus_sub_read(r->sub, buf, sizeof(buf), &m,
				    30000000000LL);
		if (rc) {
			snprintf(r->why, sizeof(r->why), "read at %llu: %s",
				 (unsigned long long)r->expect,
				 mdbus_strerror(rc));
			break;
		}
		if (check_next(r, &m, buf) < 0)
			break;
	}
	return NULL;
}


/* Message n zero-copy: claim, fill in place, commit. Readers may load
 * the claimed slot's words meanwhile (a lapped one still copying its old
 * message, one waiting that touches its lines), so the payload goes in
 * with relaxed atomic stores, as libmdbus(3) says for TSan. */
static int publish_claimed(mdbus_pub_t *p, uint64_t n, unsigned char *buf)
{
	size_t size = tu_size_for(n, 0, PMAX);
	uint64_t *w;
	void *pl;
	int rc;

	rc = mdbus_pub_claim(p, PMAX, &pl);
	if (rc)
		return rc;
	tu_fill(buf, size, n);
	w = pl;
	for (size_t i = 0; i * 8 < size; i++) {
		uint64_t v;

		memcpy(&v, buf + i * 8, 8); /* PMAX is whole words */
		__atomic_store_n(&w[i], v, __ATOMIC_RELAXED);
	}
	return mdbus_pub_commit(p, tu_type_for(n), size, n + 1);
}

/* Messages n to the end of its group in one batch: returns how many went
 * out (fewer under back-pressure), or a negative code. */
static int publish_batch(mdbus_pub_t *p, uint64_t n)
{
	static unsigned char bufs[GROUP][PMAX];
	struct mdbus_pub_msg msgs[GROUP];
	unsigned count = GROUP - (unsigned)(n % GROUP);

	for (unsigned i = 0; i < count; i++) {
		msgs[i].size = (uint32_t)tu_size_for(n + i, 0, PMAX);
		msgs[i].type = tu_type_for(n + i);
		msgs[i].ts_ns = n + i + 1;
		msgs[i].data = bufs[i];
		tu_fill(bufs[i], msgs[i].size, n + i);
	}
	return mdbus_pub_publish_batch(p, msgs, count);
}

/* Message n and maybe some after it, each group of GROUP published one
 * way: claimed, copied one by one, or in a batch. Returns how many went
 * out, or a negative code. */
static int publish(mdbus_pub_t *p, uint64_t n, unsigned char *buf)
{
	int rc;

	switch (n / GROUP % 3) {
	case 0:
		rc = publish_claimed(p, n, buf);
		break;
	case 1:
		rc = tu_publish_seq(p, n, buf, 0, PMAX);
		break;
	default:
		return publish_batch(p, n);
	}
	return rc < 0 ? rc : 1;
}

/* SKIP_N numbers skipped: returns SKIP_N or a negative code. */
static int skip(mdbus_pub_t *p)
{
	int rc = mdbus_pub_skip(p, SKIP_N);

	return rc < 0 ? rc : SKIP_N;
}

static void run(const char *channel, enum mdbus_mode mode)
{
	struct mdbus_pub_config c = tu_config(SLOT, 64, 4, mode);
	mdbus_pub_t *p = tu_pub_open(channel, &c);
	struct reader r[READERS];
	unsigned char buf[PMAX];
	uint64_t refused = 0;
	unsigned long hits = tu_shared_map_hits();
	int rc;

	memset(r, 0, sizeof(r));
	for (int i = 0; i < READERS; i++) {
		r[i].channel = channel;
		r[i].lossless = mode == MDBUS_MODE_LOSSLESS;
		r[i].kind = i == 3 ? READ_VIEWS : i == 4 ? READ_POLL : READ_COPY;
		r[i].sub = tu_sub_open(channel, NULL, MDBUS_START_SEQ, 0,
				       i == 0 ? MDBUS_WAIT_BLOCK
					      : MDBUS_WAIT_ADAPTIVE);
		/* in place, no pause at a flood's heels: its acquire load
		 * of the write count would order what the views' and the
		 * poll's own loads must */
		if (r[i].kind != READ_COPY)
			mdbus_sub_set_hold_back(r[i].sub, 0);
		TU_CHECK_EQ(pthread_create(&r[i].t, NULL, read_all, &r[i]), 0);
	}
	/* each reader's ring and table are its publisher's mappings */
	TU_CHECK_EQ(tu_shared_map_hits() - hits, 2 * READERS);
	for (uint64_t n = 0; n < MESSAGES; n += (unsigned)rc) {
		while ((rc = n % SKIP_EVERY == SKIP_AT ? skip(p) :
			     publish(p, n, buf)) == MDBUS_EBACKPRESSURE) {
			refused++;
			sched_yield();
		}
		if (rc <= 0)
			tu_fail("%s: publish %llu: %s", channel,
				(unsigned long long)n, mdbus_strerror(rc));
		if ((n & 255) + (unsigned)rc > 255)
			sched_yield();
	}
	for (int i = 0; i < READERS; i++) {
		pthread_join(r[i].t, NULL);
		if (r[i].why[0])
			tu_fail("%s reader %d: %s", channel, i, r[i].why);
		TU_CHECK_EQ(r[i].delivered + r[i].lost, MESSAGES);
		TU_CHECK_EQ(mdbus_sub_lost(r[i].sub), r[i].lost);
		if (mode == MDBUS_MODE_LOSSLESS) /* the skipped numbers */
			TU_CHECK_EQ(r[i].lost, ((MESSAGES - 1 - SKIP_AT) /
						SKIP_EVERY + 1) * SKIP_N);
		tu_note("%s reader %d (%s): delivered %llu, lost %llu, of "
			"which taken back %llu", channel, i,
			r[i].kind == READ_VIEWS ? "views" :
			r[i].kind == READ_POLL ? "poll" : "read",
			(unsigned long long)r[i].delivered,
			(unsigned long long)r[i].lost,
			(unsigned long long)r[i].taken_back);
		mdbus_sub_close(r[i].sub);
	}
	if (mode == MDBUS_MODE_LOSSLESS)
		tu_note("%s: %llu back-pressure refusals", channel,
			(unsigned long long)refused);
	mdbus_pub_close(p);
}

int main(void)
{
	tu_init("t_threads", 300);
	run("threads.overwrite", MDBUS_MODE_OVERWRITE);
	run("threads.lossless", MDBUS_MODE_LOSSLESS);
	return 0;
}
