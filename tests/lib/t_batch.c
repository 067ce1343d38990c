/*
 * t_batch.c - mdbus_pub_publish_batch() (libmdbus(3)): many messages made
 * public with one write_num step.
 *
 * 1. Lossless: a publisher process sends N self-verifying messages in
 *    batches of 1..37 into a 64-slot ring; a batch cut short by
 *    back-pressure returns how many went out and the rest is sent again.
 *    The reader gets every message once, in order, payload right.
 * 2. Sizes are checked before anything is written: a batch with one
 *    message too big returns MDBUS_ETOOBIG and publishes nothing.
 * 3. A publisher killed inside a batch, after some of its messages were
 *    complete in their slots but before write_num said so: a reader has
 *    already read them (it follows stamps), so the next publisher must
 *    publish all of them at resume rather than write other messages under
 *    the same sequence numbers (doc/protocol.md, "Publishing"). The kill
 *    is exact: message 6 of the batch points at an unreadable page.
 * 4. The same with a batch longer than the ring, killed at its entry 64
 *    (the message one ring past write_num, which a write_num made public
 *    one message late lets overwrite write_num's own slot) and at its
 *    entry 90: the batch made write_num public at least every ring, so
 *    the next publisher resumes past every message a reader has, and no
 *    sequence number is handed out with two different messages.
 * 5. Overwrite mode racing a reader: a publisher process sends N messages
 *    in batches of 1..150 (some longer than the 64-slot ring) as fast as
 *    it can, while a reader reads flat out and checks every message it
 *    gets (payload, size, type, time); each sequence number comes once,
 *    in order, and the messages read plus those reported lost are N.
 * 3 to 5 run on a ring of 4 blocks that are not whole pages (a slot's
 * place computed block by block) and on one of a whole page (the batch
 * steps from slot to slot and wraps at the ring's end, pub.c seal_run()).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <unistd.h>

#include "mdbus.h"
#include "testutil.h"

#define N 40000u
#define PMAX 40
#define BATCH_MAX 37u

/* The two rings of 64 slots of 64 bytes that cases 3 to 5 run on. */
struct geometry {
	const char *name;
	uint32_t slots_per_block, block_count;
};

static const struct geometry geometries[] = {
	{ "blocks", 16, 4 }, /* 1 KiB blocks, each padded to a page */
	{ "page", 64, 1 },   /* one block of a whole page */
};

static struct mdbus_pub_config config(const struct geometry *g,
				      enum mdbus_mode mode)
{
	return tu_config(64, g->slots_per_block, g->block_count, mode);
}

struct shared {
	_Atomic uint32_t ready;
};

static struct shared *sh;

/* Message seq of tu_publish_seq()'s pattern, as a batch entry. */
static void batch_entry(struct mdbus_pub_msg *m, unsigned char *buf,
			uint64_t seq)
{
	m->size = (uint32_t)tu_size_for(seq, 0, PMAX);
	tu_fill(buf, m->size, seq);
	m->data = buf;
	m->type = tu_type_for(seq);
	m->ts_ns = seq + 1;
}

static int lossless_publisher(void *arg)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_LOSSLESS);
	static unsigned char bufs[BATCH_MAX][PMAX];
	struct mdbus_pub_msg msgs[BATCH_MAX];
	uint64_t n = 0, partial = 0;
	mdbus_pub_t *p;

	(void)arg;
	p = tu_pub_open("batch.ll", &c);
	tu_await(&sh->ready, 1, 30, "reader");
	while (n < N) {
		unsigned want = 1 + (unsigned)tu_rand_below(BATCH_MAX), i;
		int r;

		if (want > N - n)
			want = (unsigned)(N - n);
		for (i = 0; i < want; i++)
			batch_entry(&msgs[i], bufs[i], n + i);
		r = mdbus_pub_publish_batch(p, msgs, want);
		if (r == MDBUS_EBACKPRESSURE)
			continue;
		if (r <= 0 || (unsigned)r > want)
			tu_fail("publish_batch(%u) returned %d (%s)", want, r,
				mdbus_strerror(r));
		partial += (unsigned)r < want;
		n += (uint64_t)r;
		TU_CHECK_EQ(mdbus_pub_position(p), n);
	}
	tu_note("lossless: %llu batches cut short by back-pressure",
		(unsigned long long)partial);
	mdbus_pub_close(p);
	return 0;
}

static void lossless(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_LOSSLESS);
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	mdbus_sub_t *s;
	uint64_t want;
	pid_t kid;

	mdbus_pub_close(tu_pub_open("batch.ll", &c)); /* exists before the reader */
	s = tu_sub_open("batch.ll", "batcher", MDBUS_START_LATEST, 0,
			MDBUS_WAIT_SPIN);
	kid = tu_spawn(lossless_publisher, NULL);
	atomic_store(&sh->ready, 1);
	for (want = 0; want < N; want++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   30 * 1000000000LL), 0);
		tu_check_next(&m, buf, want, 0, PMAX);
	}
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	tu_wait_ok(kid, 60, "publisher");
	mdbus_sub_close(s);
}

static void too_big(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	static unsigned char big[128];
	unsigned char bufs[3][PMAX];
	struct mdbus_pub_msg msgs[3];
	mdbus_pub_t *p = tu_pub_open("batch.big", &c);
	int i;

	for (i = 0; i < 3; i++)
		batch_entry(&msgs[i], bufs[i], (uint64_t)i);
	msgs[1].data = big;
	msgs[1].size = 64 - MDBUS_SLOT_HEADER + 1;
	TU_CHECK_RC(mdbus_pub_publish_batch(p, msgs, 3), MDBUS_ETOOBIG);
	TU_CHECK_EQ(mdbus_pub_position(p), 0);
	msgs[1].size = 64 - MDBUS_SLOT_HEADER;
	TU_CHECK_RC(mdbus_pub_publish_batch(p, msgs, 3), 3);
	TU_CHECK_RC(mdbus_pub_publish_batch(p, msgs, 0), 0);
	TU_CHECK_EQ(mdbus_pub_position(p), 3);
	mdbus_pub_close(p);
}

#define CRASH_BEFORE 3u  /* published one by one first */
#define CRASH_MAX 100u   /* entries of the longest batch */

/* A publisher that dies inside a batch of `batch` entries, at entry `at`
 * (its data points at the unreadable page `hole`). */
struct crash {
	const char *channel;
	unsigned batch, at;
	void *hole;
	const struct geometry *g;
};

static int crashing_publisher(void *arg)
{
	const struct crash *k = arg;
	struct mdbus_pub_config c = config(k->g, MDBUS_MODE_OVERWRITE);
	static unsigned char bufs[CRASH_MAX][PMAX];
	static struct mdbus_pub_msg msgs[CRASH_MAX];
	mdbus_pub_t *p = tu_pub_open(k->channel, &c);
	uint64_t n;
	unsigned i;

	for (n = 0; n < CRASH_BEFORE; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, bufs[0], 0, PMAX), 0);
	for (i = 0; i < k->batch; i++)
		batch_entry(&msgs[i], bufs[i], CRASH_BEFORE + i);
	msgs[k->at].data = k->hole;
	msgs[k->at].size = 16;
	(void)mdbus_pub_publish_batch(p, msgs, k->batch); /* dies inside */
	return 3;
}

/* Runs crashing_publisher() on k and checks that it died inside. */
static void crash(struct crash *k)
{
	long page = sysconf(_SC_PAGESIZE);
	pid_t kid;
	int st;

	k->hole = mmap(NULL, (size_t)page, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TU_CHECK(k->hole != MAP_FAILED);
	kid = tu_spawn(crashing_publisher, k);
	st = tu_wait(kid, 30);
	if (!tu_died_of(st, SIGSEGV))
		tu_fail("the publisher was to die inside its batch: status %d", st);
	munmap(k->hole, (size_t)page);
}

/* Reads until nothing is there; every message must be the pattern's.
 * Returns the count. */
static uint64_t drain(mdbus_sub_t *s, uint64_t from)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	uint64_t n = from;
	int r;

	while ((r = mdbus_sub_try_read(s, buf, sizeof(buf), &m)) == 0)
		tu_check_next(&m, buf, n++, 0, PMAX);
	TU_CHECK_RC(r, -EAGAIN);
	return n - from;
}

static void killed_inside(const struct geometry *g)
{
	struct mdbus_pub_config c = config(g, MDBUS_MODE_OVERWRITE);
	struct crash k = { "batch.kill", 10, 6, NULL, g };
	const uint64_t sealed = CRASH_BEFORE + k.at;
	unsigned char buf[PMAX];
	mdbus_sub_t *early, *late;
	mdbus_pub_t *p;
	uint64_t n;

	mdbus_pub_close(tu_pub_open(k.channel, &c));
	early = tu_sub_open(k.channel, "early", MDBUS_START_LATEST, 0,
			    MDBUS_WAIT_SPIN);
	crash(&k);
	/* The early reader follows stamps: it has every sealed message. */
	TU_CHECK_EQ(drain(early, 0), sealed);

	p = tu_pub_open(k.channel, &c);
	TU_CHECK_EQ(mdbus_pub_position(p), sealed);
	for (n = sealed; n < sealed + 5; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	late = tu_sub_open(k.channel, "late", MDBUS_START_OLDEST, 0,
			   MDBUS_WAIT_SPIN);
	TU_CHECK_EQ(drain(late, 0), sealed + 5);
	TU_CHECK_EQ(drain(early, sealed), 5);
	mdbus_sub_close(late);
	mdbus_sub_close(early);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink(k.channel, tu_dir()), 0);
}

/* seq -> ts_ns as handed to some reader (0: never) */
static uint64_t seen_ts[4096];

/* Reads until nothing is there, lapped or not, checking that no
 * sequence number comes with two different messages (ts_ns). Returns the
 * sequence after the last one read. */
static uint64_t drain_once_each(mdbus_sub_t *s, const char *who)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	uint64_t top = 0;
	int r;

	while ((r = mdbus_sub_try_read(s, buf, sizeof(buf), &m)) == 0) {
		TU_CHECK(m.seq < 4096);
		if (seen_ts[m.seq] && seen_ts[m.seq] != m.ts_ns)
			tu_fail("%s: seq %llu handed out twice with different "
				"messages (ts %llu, then ts %llu)", who,
				(unsigned long long)m.seq,
				(unsigned long long)seen_ts[m.seq],
				(unsigned long long)m.ts_ns);
		seen_ts[m.seq] = m.ts_ns;
		top = m.seq + 1;
	}
	TU_CHECK_RC(r, -EAGAIN);
	return top;
}

/* A batch longer than the ring (64 slots), killed at entry `at`: it made
 * write_num public at least every ring, so the next publisher resumes
 * past every message a reader was handed. Its messages have
 * ts_ns SECOND_TS + seq. */
#define SECOND_TS 1000000000ULL

static void killed_inside_long(const struct geometry *g, unsigned at)
{
	struct mdbus_pub_config c = config(g, MDBUS_MODE_OVERWRITE);
	struct crash k = { "batch.wrap", CRASH_MAX, at, NULL, g };
	unsigned char buf[PMAX];
	mdbus_sub_t *early, *late;
	mdbus_pub_t *p;
	uint64_t n, top, resumed;

	mdbus_pub_close(tu_pub_open(k.channel, &c));
	early = tu_sub_open(k.channel, "early", MDBUS_START_LATEST, 0,
			    MDBUS_WAIT_SPIN);
	crash(&k);
	top = drain_once_each(early, "early reader, after the crash");
	TU_CHECK_EQ(top, CRASH_BEFORE + k.at);

	p = tu_pub_open(k.channel, &c);
	resumed = mdbus_pub_position(p);
	if (resumed < top)
		tu_fail("resumed at %llu below %llu: sequence numbers readers "
			"were handed are published again",
			(unsigned long long)resumed, (unsigned long long)top);
	for (n = resumed; n < resumed + 128; n++) {
		size_t sz = tu_size_for(n, 0, PMAX);

		tu_fill(buf, sz, n);
		TU_CHECK_RC(mdbus_pub_publish(p, tu_type_for(n), buf, sz,
					      SECOND_TS + n), 0);
		if (n % 8 == 0)
			(void)drain_once_each(early, "early reader, resumed");
	}
	late = tu_sub_open(k.channel, "late", MDBUS_START_OLDEST, 0,
			   MDBUS_WAIT_SPIN);
	(void)drain_once_each(late, "late reader");
	(void)drain_once_each(early, "early reader, at the end");
	mdbus_sub_close(late);
	mdbus_sub_close(early);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink(k.channel, tu_dir()), 0);
	memset(seen_ts, 0, sizeof(seen_ts));
}

#define RACE_N 300000u
#define RACE_BATCH_MAX 150u /* above the ring's 64 slots */

static int racing_publisher(void *arg)
{
	const struct geometry *g = arg;
	struct mdbus_pub_config c = config(g, MDBUS_MODE_OVERWRITE);
	static unsigned char bufs[RACE_BATCH_MAX][PMAX];
	struct mdbus_pub_msg msgs[RACE_BATCH_MAX];
	mdbus_pub_t *p = tu_pub_open("batch.race", &c);
	uint64_t n = 0;

	tu_await(&sh->ready, 1, 30, "reader");
	while (n < RACE_N) {
		unsigned want = 1 + (unsigned)tu_rand_below(RACE_BATCH_MAX), i;

		if (want > RACE_N - n)
			want = (unsigned)(RACE_N - n);
		for (i = 0; i < want; i++)
			batch_entry(&msgs[i], bufs[i], n + i);
		TU_CHECK_RC(mdbus_pub_publish_batch(p, msgs, want), (int)want);
		n += want;
		TU_CHECK_EQ(mdbus_pub_position(p), n);
	}
	mdbus_pub_close(p);
	return 0;
}

static void overwrite_racing(const struct geometry *g)
{
	struct mdbus_pub_config c = config(g, MDBUS_MODE_OVERWRITE);
	unsigned char buf[PMAX];
	uint64_t next = 0, read = 0, lost = 0;
	struct mdbus_msg m;
	const char *bad;
	mdbus_sub_t *s;
	pid_t kid;

	mdbus_pub_close(tu_pub_open("batch.race", &c));
	s = tu_sub_open("batch.race", NULL, MDBUS_START_LATEST, 0,
			MDBUS_WAIT_SPIN);
	atomic_store(&sh->ready, 0);
	kid = tu_spawn(racing_publisher, (void *)g);
	atomic_store(&sh->ready, 1);
	while (next < RACE_N) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   30 * 1000000000LL), 0);
		if (m.seq != next + m.lost)
			tu_fail("%s: seq %llu after %llu with %llu lost",
				g->name, (unsigned long long)m.seq,
				(unsigned long long)next,
				(unsigned long long)m.lost);
		if ((bad = tu_msg_bad(&m, buf, 0, PMAX)))
			tu_fail("%s: %s", g->name, bad);
		read++;
		lost += m.lost;
		next = m.seq + 1;
	}
	TU_CHECK_EQ(read + lost, RACE_N);
	TU_CHECK_EQ(mdbus_sub_lost(s), lost);
	tu_note("%s: %llu read, %llu lost", g->name, (unsigned long long)read,
		(unsigned long long)lost);
	tu_wait_ok(kid, 60, "publisher");
	mdbus_sub_close(s);
	TU_CHECK_RC(mdbus_unlink("batch.race", tu_dir()), 0);
}

int main(void)
{
	tu_init("t_batch", 120);
	sh = tu_shared(sizeof *sh);
	too_big();
	for (size_t i = 0; i < sizeof(geometries) / sizeof(geometries[0]); i++) {
		killed_inside(&geometries[i]);
		killed_inside_long(&geometries[i], 64);
		killed_inside_long(&geometries[i], 90);
		overwrite_racing(&geometries[i]);
	}
	lossless();
	return 0;
}
