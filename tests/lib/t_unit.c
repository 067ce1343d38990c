/*
 * t_unit.c - cmocka unit tests of the libmdbus API in one process: error
 * texts, names, config defaults and geometry validation, publish/read with
 * exact sequence, size, type, timestamp and payload (every size of a
 * slot), claim/commit/abort,
 * start positions, caught-up, exact loss counts when lapped, publisher
 * ownership/resume/replacement, stats, list and unlink.
 *
 * Built twice: t_unit (libmdbus.so) and t_unit_static (libmdbus.a).
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mdbus.h"
#include "testutil.h"

/* Small geometry: 64-byte slots (40-byte payload), capacity 256, blocks of
 * a page (a ring of smaller blocks is read past read_fast(), sub.c). */
#define SLOT 64
#define SPB 64
#define BLOCKS 4
#define CAP ((uint64_t)SPB * BLOCKS)
#define PMAX (SLOT - MDBUS_SLOT_HEADER)

/* cmocka's assert_int_equal() prints both sides; rc helpers add the text. */
#define assert_rc(expr, want)                                                \
	do {                                                                 \
		int rc_ = (expr);                                            \
		if (rc_ != (want))                                           \
			print_error("%s = %d (%s: %s), want %d (%s)\n",      \
				    #expr, rc_, mdbus_strerror(rc_),         \
				    mdbus_last_error(), (int)(want),         \
				    mdbus_strerror(want));                   \
		assert_int_equal(rc_, (want));                               \
	} while (0)

static mdbus_pub_t *open_pub(const char *ch, enum mdbus_mode mode)
{
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS, mode);
	mdbus_pub_t *p = NULL;

	assert_rc(mdbus_pub_open(&p, ch, &c), 0);
	assert_non_null(p);
	return p;
}

static mdbus_sub_t *open_sub(const char *ch, enum mdbus_start start,
			     uint64_t seq)
{
	struct mdbus_sub_config c;
	mdbus_sub_t *s = NULL;

	mdbus_sub_config_init(&c);
	c.start = start;
	c.start_seq = seq;
	assert_rc(mdbus_sub_open(&s, ch, &c), 0);
	assert_non_null(s);
	return s;
}

/* Publishes messages [from, to) with tu_publish_seq()'s pattern. */
static void publish_range(mdbus_pub_t *p, uint64_t from, uint64_t to)
{
	unsigned char buf[PMAX];

	for (uint64_t n = from; n < to; n++) {
		assert_int_equal(mdbus_pub_position(p), n);
		assert_rc(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	}
}

/* Reads one message; asserts it is message `seq` after `lost` losses. */
static void expect_msg(mdbus_sub_t *s, uint64_t seq, uint64_t lost)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	const char *bad;

	memset(&m, 0xa5, sizeof(m));
	assert_rc(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
	assert_int_equal(m.seq, seq);
	assert_int_equal(m.lost, lost);
	bad = tu_msg_bad(&m, buf, 0, PMAX);
	if (bad)
		fail_msg("%s", bad);
	assert_int_equal(mdbus_sub_position(s), seq + 1);
}

static void expect_empty(mdbus_sub_t *s)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;

	assert_rc(mdbus_sub_try_read(s, buf, sizeof(buf), &m), -EAGAIN);
	assert_int_equal(mdbus_sub_caught_up(s), 1);
}

/* ----------------------------------------------------------------- tests */

static void t_strerror(void **state)
{
	static const int codes[] = {
		MDBUS_EBADMAGIC, MDBUS_EVERSION, MDBUS_ECORRUPT,
		MDBUS_ENOTREADY, MDBUS_EOWNED, MDBUS_EGEOMETRY, MDBUS_EFULL,
		MDBUS_EBACKPRESSURE, MDBUS_EEVICTED, MDBUS_EREPLACED,
		MDBUS_ETOOBIG, MDBUS_ENAME, MDBUS_ENOSPACE, MDBUS_ECLAIMED,
		MDBUS_ENOCLAIM, MDBUS_ETRUNCATED, MDBUS_ENODIR, MDBUS_ETABLE,
	};
	size_t n = sizeof(codes) / sizeof(codes[0]);
	const char *s;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		s = mdbus_strerror(codes[i]);
		assert_non_null(s);
		assert_true(strlen(s) > 3);
		assert_string_not_equal(s, mdbus_strerror(-99999));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s, mdbus_strerror(codes[j]));
	}
	/* negated errno values are named like strerror() names them */
	assert_string_equal(mdbus_strerror(-EAGAIN), strerror(EAGAIN));
	assert_string_equal(mdbus_strerror(-ETIMEDOUT), strerror(ETIMEDOUT));
	assert_string_equal(mdbus_strerror(-EMSGSIZE), strerror(EMSGSIZE));
	assert_non_null(mdbus_strerror(0));
	assert_non_null(mdbus_strerror(-99999));
	assert_non_null(mdbus_strerror(12345));
	assert_non_null(mdbus_strerror(-2147483647 - 1));
	assert_non_null(mdbus_last_error());
}

static int count_one(const char *channel, void *arg)
{
	(void)channel;
	++*(int *)arg;
	return 0;
}

/* A reader that names the segments' owner refuses anyone else's. */
static void t_expected_owner(void **state)
{
	mdbus_pub_t *p = open_pub("own.a", MDBUS_MODE_OVERWRITE);
	struct mdbus_sub_config c;
	char me[32], other[32];
	mdbus_sub_t *s;

	(void)state;
	snprintf(me, sizeof me, "%u", (unsigned)getuid());
	snprintf(other, sizeof other, "%u", (unsigned)getuid() + 1);
	mdbus_sub_config_init(&c);
	c.owner = other;
	assert_rc(mdbus_sub_open(&s, "own.a", &c), -EPERM);
	assert_true(strstr(mdbus_last_error(), "expected owner") != NULL);
	c.owner = "no-such-user-here";
	assert_rc(mdbus_sub_open(&s, "own.a", &c), -EINVAL);
	c.owner = me;
	assert_rc(mdbus_sub_open(&s, "own.a", &c), 0);
	mdbus_sub_close(s);
	c.owner = NULL;
	setenv(MDBUS_ENV_OWNER, other, 1);
	assert_rc(mdbus_sub_open(&s, "own.a", &c), -EPERM);
	unsetenv(MDBUS_ENV_OWNER);
	assert_rc(mdbus_sub_open(&s, "own.a", &c), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* A call that may set the detail empties it first: no stale text. */
static void t_last_error_fresh(void **state)
{
	struct mdbus_stats st;

	(void)state;
	assert_rc(mdbus_channel_stats("no.such", NULL, &st, NULL, 0), -ENOENT);
	assert_true(strstr(mdbus_last_error(), "no.such") != NULL);
	assert_rc(mdbus_unlink("bad name", NULL), MDBUS_ENAME);
	assert_true(strstr(mdbus_last_error(), "bad name") != NULL);
	{
		int n = 0;

		assert_rc(mdbus_list(NULL, count_one, &n), 0);
	}
	assert_string_equal(mdbus_last_error(), "");
}

/* The version and enumeration names the tools print. */
static void t_names(void **state)
{
	(void)state;
	assert_string_equal(mdbus_version(), MDBUS_VERSION);
	assert_string_equal(mdbus_version(), PACKAGE_VERSION);
	assert_string_equal(mdbus_mode_name(MDBUS_MODE_OVERWRITE), "overwrite");
	assert_string_equal(mdbus_mode_name(MDBUS_MODE_LOSSLESS), "lossless");
	assert_string_equal(mdbus_mode_name((enum mdbus_mode)7), "?");
	assert_string_equal(mdbus_pub_state_name(MDBUS_PUB_NONE), "none");
	assert_string_equal(mdbus_pub_state_name(MDBUS_PUB_ACTIVE), "active");
	assert_string_equal(mdbus_pub_state_name(MDBUS_PUB_STOPPED), "stopped");
	assert_string_equal(mdbus_pub_state_name(MDBUS_PUB_REPLACED), "replaced");
	assert_string_equal(mdbus_pub_state_name(MDBUS_PUB_DEAD), "dead");
	assert_string_equal(mdbus_pub_state_name((enum mdbus_pub_state)-1), "?");
}

static void t_channel_names(void **state)
{
	char name[MDBUS_CHANNEL_MAX + 2];
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS,
					  MDBUS_MODE_OVERWRITE);
	struct mdbus_sub_config sc;
	mdbus_pub_t *p = NULL;
	mdbus_sub_t *s = NULL;
	static const char *const bad[] = {
		"", "a/b", "a b", "x\n", "caf\xc3\xa9", "a:b", "*", "a\\b",
		"/abs",
	};

	(void)state;
	assert_int_equal(mdbus_channel_valid("a"), 1);
	assert_int_equal(mdbus_channel_valid("Az09._-"), 1);
	memset(name, 'x', MDBUS_CHANNEL_MAX);
	name[MDBUS_CHANNEL_MAX] = '\0';
	assert_int_equal(mdbus_channel_valid(name), 1);
	name[MDBUS_CHANNEL_MAX] = 'x';
	name[MDBUS_CHANNEL_MAX + 1] = '\0';
	assert_int_equal(mdbus_channel_valid(name), 0);
	assert_rc(mdbus_pub_open(&p, name, &c), MDBUS_ENAME);
	assert_null(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mdbus_channel_valid(bad[i]), 0);
		assert_rc(mdbus_pub_open(&p, bad[i], &c), MDBUS_ENAME);
		mdbus_sub_config_init(&sc);
		assert_rc(mdbus_sub_open(&s, bad[i], &sc), MDBUS_ENAME);
		assert_rc(mdbus_unlink(bad[i], NULL), MDBUS_ENAME);
	}
	assert_int_equal(mdbus_channel_valid(NULL), 0);

	/* consumer names: up to MDBUS_NAME_MAX characters */
	p = open_pub("names", MDBUS_MODE_OVERWRITE);
	mdbus_sub_config_init(&sc);
	memset(name, 'n', MDBUS_NAME_MAX + 1);
	name[MDBUS_NAME_MAX + 1] = '\0';
	sc.name = name;
	assert_rc(mdbus_sub_open(&s, "names", &sc), MDBUS_ENAME);
	name[MDBUS_NAME_MAX] = '\0';
	assert_rc(mdbus_sub_open(&s, "names", &sc), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	mdbus_pub_close(NULL);
	mdbus_sub_close(NULL);
}

static void t_config_defaults(void **state)
{
	struct mdbus_pub_config c;
	struct mdbus_sub_config s;

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	mdbus_pub_config_init(&c);
	assert_int_equal(c.slot_size, 256);
	assert_int_equal(c.slots_per_block, 4096);
	assert_int_equal(c.block_count, 16);
	assert_int_equal(c.max_consumers, 64);
	assert_int_equal(c.mode, MDBUS_MODE_OVERWRITE);
	assert_int_equal(c.file_mode, 0640);
	assert_null(c.group);
	assert_int_equal(c.stall_evict_ns, 30000000000ULL);
	assert_null(c.dir);
	assert_int_equal(c.flags, 0);

	memset(&s, 0x5a, sizeof(s));
	mdbus_sub_config_init(&s);
	assert_null(s.name);
	assert_int_equal(s.anonymous, 0);
	assert_int_equal(s.start, MDBUS_START_LATEST);
	assert_int_equal(s.start_seq, 0);
	assert_int_equal(s.wait, MDBUS_WAIT_ADAPTIVE);
	assert_null(s.dir);
}

static void t_geometry(void **state)
{
	static const struct {
		uint32_t slot, spb, blocks, maxc, mode;
	} bad[] = {
		{ 0, SPB, BLOCKS, 4, 0 },      { 32, SPB, BLOCKS, 4, 0 },
		{ 63, SPB, BLOCKS, 4, 0 },     { 96, SPB, BLOCKS, 4, 0 },
		{ 100, SPB, BLOCKS, 4, 0 },    { 1u << 21, 1, 2, 4, 0 },
		{ SLOT, 0, BLOCKS, 4, 0 },     { SLOT, 3, BLOCKS, 4, 0 },
		{ SLOT, SPB, 0, 4, 0 },        { SLOT, SPB, 6, 4, 0 },
		{ SLOT, 1, 1, 4, 0 },          /* capacity 1 */
		{ SLOT, 1u << 20, 1u << 13, 4, 0 }, /* capacity 2^33 */
		{ SLOT, SPB, BLOCKS, 0, 0 },   { SLOT, SPB, BLOCKS, 4097, 0 },
		{ SLOT, SPB, BLOCKS, 4, 2 },   { SLOT, SPB, BLOCKS, 4, 99 },
		{ 1u << 20, 1u << 16, 1u << 8, 4, 0 }, /* 2^44 bytes */
	};
	struct mdbus_pub_config c;
	mdbus_pub_t *p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = tu_config(bad[i].slot, bad[i].spb, bad[i].blocks,
			      (enum mdbus_mode)bad[i].mode);
		c.max_consumers = bad[i].maxc;
		p = NULL;
		assert_rc(mdbus_pub_open(&p, "geom", &c), -EINVAL);
		assert_null(p);
		assert_true(strlen(mdbus_last_error()) > 0);
	}
	assert_rc(mdbus_unlink("geom", NULL), -ENOENT); /* nothing left */

	/* the extremes that are valid */
	c = tu_config(1u << 20, 1, 2, MDBUS_MODE_LOSSLESS);
	c.max_consumers = 4096;
	p = NULL;
	assert_rc(mdbus_pub_open(&p, "geom", &c), 0);
	assert_int_equal(mdbus_pub_payload_max(p), (1u << 20) - MDBUS_SLOT_HEADER);
	mdbus_pub_close(p);
	assert_rc(mdbus_unlink("geom", NULL), 0);
}

static void t_publish_read(void **state)
{
	mdbus_pub_t *p = open_pub("pubread", MDBUS_MODE_OVERWRITE);
	mdbus_sub_t *s = open_sub("pubread", MDBUS_START_LATEST, 0);
	unsigned char big[PMAX + 1], buf[PMAX];
	struct mdbus_msg m;
	uint64_t t0, t1;

	(void)state;
	assert_int_equal(mdbus_pub_payload_max(p), PMAX);
	assert_int_equal(mdbus_sub_payload_max(s), PMAX);
	assert_int_equal(mdbus_pub_position(p), 0);
	assert_int_equal(mdbus_sub_position(s), 0);
	expect_empty(s);

	publish_range(p, 0, 10);
	assert_int_equal(mdbus_sub_caught_up(s), 0);
	for (uint64_t n = 0; n < 10; n++)
		expect_msg(s, n, 0);
	expect_empty(s);

	/* full-size and empty messages; one byte too big is refused */
	tu_fill(big, sizeof(big), 10);
	assert_rc(mdbus_pub_publish(p, 7, big, PMAX + 1, 0), MDBUS_ETOOBIG);
	assert_rc(mdbus_pub_publish(p, 7, big, 1u << 30, 0), MDBUS_ETOOBIG);
	assert_int_equal(mdbus_pub_position(p), 10);
	expect_empty(s);
	t0 = tu_realtime_ns();
	assert_rc(mdbus_pub_publish(p, 7, big, PMAX, 0), 0);
	t1 = tu_realtime_ns();
	assert_rc(mdbus_pub_publish(p, 0xffff, NULL, 0, 42), 0);

	/* -EMSGSIZE keeps the position and says the size needed */
	memset(&m, 0, sizeof(m));
	assert_rc(mdbus_sub_try_read(s, buf, PMAX - 1, &m), -EMSGSIZE);
	assert_int_equal(m.size, PMAX);
	assert_int_equal(mdbus_sub_position(s), 10);
	assert_rc(mdbus_sub_try_read(s, buf, 0, &m), -EMSGSIZE);
	assert_rc(mdbus_sub_try_read(s, buf, PMAX, &m), 0);
	assert_int_equal(m.seq, 10);
	assert_int_equal(m.size, PMAX);
	assert_int_equal(m.type, 7);
	assert_int_equal(m.lost, 0);
	assert_true(m.ts_ns >= t0 && m.ts_ns <= t1); /* ts 0 = now */
	assert_int_equal(tu_verify(buf, PMAX, 10), -1);
	assert_rc(mdbus_sub_try_read(s, NULL, 0, &m), 0);
	assert_int_equal(m.seq, 11);
	assert_int_equal(m.size, 0);
	assert_int_equal(m.type, 0xffff);
	assert_int_equal(m.ts_ns, 42);
	expect_empty(s);
	assert_int_equal(mdbus_sub_lost(s), 0);
	assert_int_equal(mdbus_sub_loss_events(s), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* Every payload size of a 256-byte slot, each tail of 1 to 7 bytes after
 * every whole-word count, published one by one and in a batch of one, read
 * by copy and in place: the exact bytes, and not one byte written past the
 * size into the reader's buffer. Also in 64-byte slots, in blocks not
 * whole pages, and lossless (review of 7c135cb). The publisher's source and one reader's
 * buffer end at a page followed by an inaccessible one, exactly `size`
 * long: a tail read past the caller's payload or written past the
 * reader's length faults, in every build (not only under ASan). */
#define WIDE_SLOT 256
#define WIDE_PMAX (WIDE_SLOT - MDBUS_SLOT_HEADER)

struct in_place_want {
	uint64_t seq;
	size_t size;
	long bad;
};

static int take_in_place(void *arg, const struct mdbus_msg *m, const void *payload)
{
	struct in_place_want *w = arg;

	if (m->seq != w->seq || m->size != w->size ||
	    m->type != tu_type_for(w->seq) || m->ts_ns != w->seq + 1)
		w->bad = -2;
	else
		w->bad = tu_verify(payload, w->size, w->seq);
	return 0;
}

/* A page of memory followed by an inaccessible one. */
static unsigned char *guarded_page(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	return m;
}

static void expect_sized(mdbus_sub_t *s, mdbus_sub_t *exact,
			 unsigned char *page_end, uint64_t seq, size_t size)
{
	unsigned char buf[WIDE_PMAX + 16];
	struct mdbus_msg m;
	size_t i;

	memset(buf, 0xee, sizeof(buf));
	assert_rc(mdbus_sub_read(s, buf, sizeof(buf), &m, 0), 0);
	assert_int_equal(m.seq, seq);
	assert_int_equal(m.size, size);
	assert_int_equal(m.type, tu_type_for(seq));
	assert_int_equal(m.ts_ns, seq + 1);
	assert_int_equal(tu_verify(buf, size, seq), -1);
	for (i = size; i < sizeof(buf); i++)
		if (buf[i] != 0xee)
			fail_msg("size %zu: byte %zu past it written", size, i);
	/* a buffer of exactly the size, at the end of the page */
	assert_rc(mdbus_sub_read(exact, page_end - size, size, &m, 0), 0);
	assert_int_equal(m.seq, seq);
	assert_int_equal(m.size, size);
	assert_int_equal(tu_verify(page_end - size, size, seq), -1);
}

static void every_size(uint32_t slot, uint32_t spb, enum mdbus_mode mode)
{
	struct mdbus_pub_config c = tu_config(slot, spb, BLOCKS, mode);
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *src = guarded_page(), *dst = guarded_page();
	struct mdbus_pub_msg one;
	struct in_place_want want;
	mdbus_pub_t *p = NULL;
	mdbus_sub_t *s, *t, *u;
	uint64_t seq = 0;
	size_t size;

	assert_rc(mdbus_pub_open(&p, "sizes", &c), 0);
	s = open_sub("sizes", MDBUS_START_LATEST, 0);
	t = open_sub("sizes", MDBUS_START_LATEST, 0);
	u = open_sub("sizes", MDBUS_START_LATEST, 0);
	for (size = 0; size <= slot - MDBUS_SLOT_HEADER; size++) {
		for (int batch = 0; batch < 2; batch++, seq++) {
			unsigned char *data = src + pg - size;

			tu_fill(data, size, seq);
			if (batch) {
				one = (struct mdbus_pub_msg){ data, (uint32_t)size,
							      tu_type_for(seq), seq + 1 };
				assert_rc(mdbus_pub_publish_batch(p, &one, 1), 1);
			} else {
				assert_rc(mdbus_pub_publish(p, tu_type_for(seq), data,
							    size, seq + 1), 0);
			}
			expect_sized(s, u, dst + pg, seq, size);
			want = (struct in_place_want){ seq, size, 0 };
			assert_rc(mdbus_sub_poll(t, take_in_place, &want, 1), 1);
			assert_int_equal(want.bad, -1);
		}
	}
	mdbus_sub_close(u);
	mdbus_sub_close(t);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	mdbus_unlink("sizes", NULL);
	munmap(src, (size_t)pg * 2);
	munmap(dst, (size_t)pg * 2);
}

static void t_every_size(void **state)
{
	(void)state;
	every_size(WIDE_SLOT, SPB, MDBUS_MODE_OVERWRITE);
	/* payloads up to 40 bytes: a publish and a read without their
	 * loops (pub.c PUBLISH_FAST_MAX, sub.c READ_FAST_MAX) */
	every_size(64, 64, MDBUS_MODE_OVERWRITE);
	/* blocks of 2 slots, not whole pages: every publish and read on
	 * its slow path */
	every_size(WIDE_SLOT, 2, MDBUS_MODE_OVERWRITE);
	/* lossless: a publish past room_cached() */
	every_size(WIDE_SLOT, SPB, MDBUS_MODE_LOSSLESS);
}

static void t_claim(void **state)
{
	mdbus_pub_t *p = open_pub("claim", MDBUS_MODE_OVERWRITE);
	mdbus_sub_t *s = open_sub("claim", MDBUS_START_LATEST, 0);
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	void *pl = NULL;

	(void)state;
	assert_rc(mdbus_pub_commit(p, 1, 0, 0), MDBUS_ENOCLAIM);
	assert_rc(mdbus_pub_abort(p), MDBUS_ENOCLAIM);
	assert_rc(mdbus_pub_claim(p, PMAX + 1, &pl), MDBUS_ETOOBIG);
	assert_rc(mdbus_pub_commit(p, 1, 0, 0), MDBUS_ENOCLAIM);

	/* claim, invisible until commit, commit a shorter size */
	assert_rc(mdbus_pub_claim(p, PMAX, &pl), 0);
	assert_non_null(pl);
	tu_fill(pl, 20, 0);
	expect_empty(s);
	assert_rc(mdbus_pub_publish(p, 1, buf, 1, 0), MDBUS_ECLAIMED);
	assert_rc(mdbus_pub_claim(p, 8, &pl), MDBUS_ECLAIMED);
	expect_empty(s);
	assert_rc(mdbus_pub_commit(p, 99, 20, 1234), 0);
	assert_rc(mdbus_pub_commit(p, 99, 20, 1234), MDBUS_ENOCLAIM);
	assert_int_equal(mdbus_pub_position(p), 1);
	assert_rc(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
	assert_int_equal(m.seq, 0);
	assert_int_equal(m.size, 20);
	assert_int_equal(m.type, 99);
	assert_int_equal(m.ts_ns, 1234);
	assert_int_equal(tu_verify(buf, 20, 0), -1);

	/* commit larger than claimed is refused */
	assert_rc(mdbus_pub_claim(p, 8, &pl), 0);
	assert_rc(mdbus_pub_commit(p, 1, 9, 0), MDBUS_ETOOBIG);
	(void)mdbus_pub_abort(p); /* whether the claim survived is open */
	assert_rc(mdbus_pub_abort(p), MDBUS_ENOCLAIM);
	assert_int_equal(mdbus_pub_position(p), 1);
	expect_empty(s);

	/* abort: the sequence number is reused */
	assert_rc(mdbus_pub_claim(p, 16, &pl), 0);
	memset(pl, 0xee, 16);
	assert_rc(mdbus_pub_abort(p), 0);
	expect_empty(s);
	assert_int_equal(mdbus_pub_position(p), 1);
	publish_range(p, 1, 3);
	expect_msg(s, 1, 0);
	expect_msg(s, 2, 0);
	expect_empty(s);

	/* claims around the ring: every slot reused */
	for (uint64_t n = 3; n < 3 + 3 * CAP; n++) {
		size_t sz = tu_size_for(n, 0, PMAX);

		assert_rc(mdbus_pub_claim(p, PMAX, &pl), 0);
		tu_fill(pl, sz, n);
		assert_rc(mdbus_pub_commit(p, tu_type_for(n), sz, n + 1), 0);
		expect_msg(s, n, 0);
	}
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* A reader opened on ch at (start, seq) first reads message want after
 * lost messages. */
static void check_start_on(const char *ch, enum mdbus_start start,
			   uint64_t seq, uint64_t want, uint64_t lost)
{
	mdbus_sub_t *s = open_sub(ch, start, seq);

	expect_msg(s, want, lost);
	assert_int_equal(mdbus_sub_lost(s), lost);
	assert_int_equal(mdbus_sub_loss_events(s), lost != 0);
	mdbus_sub_close(s);
}

static void check_start(enum mdbus_start start, uint64_t seq, uint64_t want,
			uint64_t lost)
{
	check_start_on("start", start, seq, want, lost);
}

static void t_start_positions(void **state)
{
	mdbus_pub_t *p = open_pub("start", MDBUS_MODE_OVERWRITE);
	mdbus_sub_t *s;

	(void)state;
	/* empty channel: the oldest start reads message 0 first */
	s = open_sub("start", MDBUS_START_OLDEST, 0);
	expect_empty(s);
	publish_range(p, 0, 1);
	expect_msg(s, 0, 0);
	mdbus_sub_close(s);

	publish_range(p, 1, 10);
	s = open_sub("start", MDBUS_START_LATEST, 0);
	assert_int_equal(mdbus_sub_position(s), 10);
	expect_empty(s);
	publish_range(p, 10, 11);
	expect_msg(s, 10, 0);
	mdbus_sub_close(s);
	check_start(MDBUS_START_OLDEST, 0, 0, 0);
	check_start(MDBUS_START_SEQ, 5, 5, 0);

	/* wrapped: oldest retained is write_num - capacity */
	publish_range(p, 11, CAP + 20);
	check_start(MDBUS_START_OLDEST, 0, 20, 0);
	check_start(MDBUS_START_SEQ, 30, 30, 0);
	/* a start older than the oldest retained counts as lost */
	check_start(MDBUS_START_SEQ, 3, 20, 17);
	s = open_sub("start", MDBUS_START_SEQ, 0);
	for (uint64_t n = 20; n < CAP + 20; n++)
		expect_msg(s, n, n == 20 ? 20 : 0);
	expect_empty(s);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* While message w is being written (an open claim, or a publisher that
 * died mid-message), its slot no longer holds message w - capacity: the
 * oldest message retained is w - capacity + 1, and a reader that asks for
 * the oldest starts there without being told of a loss. */
static void t_oldest_during_claim(void **state)
{
	mdbus_pub_t *p = open_pub("oldclaim", MDBUS_MODE_OVERWRITE);
	void *pl;

	(void)state;
	publish_range(p, 0, CAP + 5);
	assert_rc(mdbus_pub_claim(p, 8, &pl), 0);
	check_start_on("oldclaim", MDBUS_START_OLDEST, 0, 6, 0);
	assert_rc(mdbus_pub_abort(p), 0);
	check_start_on("oldclaim", MDBUS_START_OLDEST, 0, 6, 0);
	/* asking for message 5 itself: it is gone, and that is one loss */
	check_start_on("oldclaim", MDBUS_START_SEQ, 5, 6, 1);
	mdbus_pub_close(p);
}

static void t_lapped(void **state)
{
	mdbus_pub_t *p = open_pub("lapped", MDBUS_MODE_OVERWRITE);
	mdbus_sub_t *s = open_sub("lapped", MDBUS_START_LATEST, 0);
	uint64_t lost = 0, events = 0, w;

	(void)state;
	/* exactly one ring: nothing lost */
	publish_range(p, 0, CAP);
	assert_int_equal(mdbus_sub_caught_up(s), 0);
	expect_msg(s, 0, 0);
	/* Reader at pos, then the write count moved to pos + capacity + k:
	 * the oldest message still in the ring is write_num - capacity =
	 * pos + k, so exactly k messages are lost. */
	w = CAP;
	for (uint64_t k = 1; k <= 3 * CAP; k += 1 + k / 3) {
		uint64_t pos = mdbus_sub_position(s);
		uint64_t target = pos + CAP + k; /* new write_num */

		publish_range(p, w, target);
		w = target;
		expect_msg(s, pos + k, k);
		lost += k;
		events++;
		assert_int_equal(mdbus_sub_lost(s), lost);
		assert_int_equal(mdbus_sub_loss_events(s), events);
		/* the rest of the ring arrives without loss */
		for (uint64_t n = pos + k + 1; n < w; n++)
			expect_msg(s, n, 0);
		expect_empty(s);
	}
	/* lapped by many rings at once */
	{
		uint64_t pos = mdbus_sub_position(s);

		publish_range(p, w, w + 10 * CAP + 7);
		w += 10 * CAP + 7;
		expect_msg(s, w - CAP, w - CAP - pos);
		lost += w - CAP - pos;
		assert_int_equal(mdbus_sub_lost(s), lost);
	}
	/* lapped again one message after that landing (a reader slower than
	 * the producer): it lands half a ring behind the write count, not at
	 * the oldest message, the slot the producer writes next */
	{
		uint64_t pos = mdbus_sub_position(s);

		publish_range(p, w, w + CAP);
		w += CAP;
		expect_msg(s, w - CAP / 2, w - CAP / 2 - pos);
		lost += w - CAP / 2 - pos;
		assert_int_equal(mdbus_sub_lost(s), lost);
		/* a ring's worth read since: the next lap lands at the oldest */
		for (uint64_t n = w - CAP / 2 + 1; n < w; n++)
			expect_msg(s, n, 0);
		publish_range(p, w, w + CAP / 2);
		w += CAP / 2;
		for (uint64_t n = w - CAP / 2; n < w; n++)
			expect_msg(s, n, 0);
		pos = mdbus_sub_position(s);
		publish_range(p, w, w + CAP + 3);
		w += CAP + 3;
		expect_msg(s, w - CAP, w - CAP - pos);
	}
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* A reader without an entry on a lossless channel, which the publisher
 * does not wait for, is lapped as on an overwrite channel: lapped again
 * soon after its landing, it lands half a ring back (it kept landing at
 * the oldest message, the slot the producer writes next). */
static void t_lapped_anonymous_lossless(void **state)
{
	mdbus_pub_t *p = open_pub("lapanon", MDBUS_MODE_LOSSLESS);
	struct mdbus_sub_config c;
	mdbus_sub_t *s = NULL;
	uint64_t w = 10 * CAP + 7, pos;

	(void)state;
	mdbus_sub_config_init(&c);
	c.anonymous = 1;
	assert_rc(mdbus_sub_open(&s, "lapanon", &c), 0);
	publish_range(p, 0, w); /* nobody holds it back */
	expect_msg(s, w - CAP, w - CAP); /* the first lap: at the oldest */
	pos = mdbus_sub_position(s);
	publish_range(p, w, w + CAP);
	w += CAP;
	expect_msg(s, w - CAP / 2, w - CAP / 2 - pos);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/*
 * An anonymous reader reopened, then read: nothing written to the stack
 * its reopen left. The handle's read path keeps pointers to words it
 * looks at and stores to (its entry's, or for an anonymous reader two
 * words of the handle itself); a reopen builds the new handle on its
 * stack and copies it over the old one, which kept such a pointer at the
 * stack copy (found in a draft of the read path's change: every read then
 * stored its position into a dead frame). The reads here run below a
 * frame of zeros over where the reopen's was: a store there shows.
 */
#define STACK_SPAN 65536
static __attribute__((noinline)) void reopen_anonymous(mdbus_sub_t *s)
{
	assert_rc(mdbus_sub_reopen(s, MDBUS_START_OLDEST, 0), 0);
}

static __attribute__((noinline)) void read_below_zeros(mdbus_sub_t *s, uint64_t count)
{
	unsigned char zeros[STACK_SPAN];
	size_t i;

	memset(zeros, 0, sizeof(zeros));
	/* the zeros stored before the reads, and looked at after */
	__asm__ __volatile__("" : : "r"(zeros) : "memory");
	for (uint64_t n = 0; n < count; n++)
		expect_msg(s, n, 0);
	__asm__ __volatile__("" : : "r"(zeros) : "memory");
	for (i = 0; i < STACK_SPAN; i++)
		if (zeros[i])
			fail_msg("byte %zu of the dead frames written", i);
}

static void t_reopen_anonymous_stack(void **state)
{
	/* blocks of whole pages: reads on the fast path */
	struct mdbus_pub_config pc = tu_config(SLOT, 4096 / SLOT, BLOCKS,
					       MDBUS_MODE_OVERWRITE);
	struct mdbus_sub_config c;
	mdbus_pub_t *p = NULL;
	mdbus_sub_t *s = NULL;

	(void)state;
	assert_rc(mdbus_pub_open(&p, "reanon", &pc), 0);
	mdbus_sub_config_init(&c);
	c.anonymous = 1;
	assert_rc(mdbus_sub_open(&s, "reanon", &c), 0);
	publish_range(p, 0, CAP / 2);
	reopen_anonymous(s);
	read_below_zeros(s, CAP / 2);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* A landing is forgotten when the reader maps another segment: lapped
 * there for the first time it lands at the oldest message, not half a
 * ring back as a reader lapped again soon after its landing does. */
static void t_lapped_reopen(void **state)
{
	mdbus_pub_t *p = open_pub("lapre", MDBUS_MODE_OVERWRITE);
	mdbus_sub_t *s = open_sub("lapre", MDBUS_START_LATEST, 0);
	uint64_t landing = 10 * CAP + 7 - CAP, w;

	(void)state;
	publish_range(p, 0, 10 * CAP + 7); /* lands at the oldest */
	expect_msg(s, landing, landing);
	mdbus_pub_close(p);
	assert_rc(mdbus_unlink("lapre", NULL), 0);
	p = open_pub("lapre", MDBUS_MODE_OVERWRITE); /* another segment */
	publish_range(p, 0, landing);
	assert_rc(mdbus_sub_reopen(s, MDBUS_START_SEQ, landing), 0);
	w = landing + CAP + 5;
	publish_range(p, landing, w);
	/* its first lap here: at the oldest (w - CAP), 5 lost; before, the
	 * landing in the old segment made it jump to w - CAP / 2 */
	expect_msg(s, w - CAP, 5);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* A live reader, then an evicted one, reopens in a full table: its own
 * entry makes room (the new one cannot be taken first). */
static void t_evicted_reopen_full(void **state)
{
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS, MDBUS_MODE_LOSSLESS);
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	mdbus_pub_t *p = NULL;
	mdbus_sub_t *s;
	uint64_t i;

	(void)state;
	c.max_consumers = 1;
	c.stall_evict_ns = 1000000; /* 1 ms */
	assert_rc(mdbus_pub_open(&p, "evict.full", &c), 0);
	s = open_sub("evict.full", MDBUS_START_LATEST, 0);
	assert_rc(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	assert_rc(mdbus_sub_reopen(s, MDBUS_START_LATEST, 0), 0);
	assert_int_equal(mdbus_sub_position(s), 0);
	assert_rc(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
	assert_int_equal(m.seq, 0);
	assert_int_equal(m.lost, 0);
	assert_rc(mdbus_sub_reopen(s, MDBUS_START_SEQ, 0), 0); /* place kept */
	assert_int_equal(mdbus_sub_position(s), 1);
	for (i = 1; i < CAP + 1; i++)
		assert_rc(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	assert_rc(mdbus_pub_publish(p, 1, "x", 1, 0), MDBUS_EBACKPRESSURE);
	tu_sleep_ms(20); /* the reader has stalled for over 1 ms */
	assert_rc(mdbus_pub_publish(p, 1, "x", 1, 0), 0); /* evicted */
	assert_rc(mdbus_sub_try_read(s, buf, sizeof(buf), &m), MDBUS_EEVICTED);
	/* same segment: place kept, but 1 was overwritten once we were out,
	 * so the lossless join moves it up to the oldest and counts 1 lost */
	assert_rc(mdbus_sub_reopen(s, MDBUS_START_OLDEST, 0), 0);
	assert_int_equal(mdbus_sub_position(s), 2);
	assert_rc(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
	assert_int_equal(m.seq, 2);
	assert_int_equal(m.lost, 1);
	assert_int_equal(mdbus_sub_lost(s), 1);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static void t_ownership_resume(void **state)
{
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS,
					  MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = open_pub("own", MDBUS_MODE_OVERWRITE), *q = NULL;
	mdbus_sub_t *s = open_sub("own", MDBUS_START_OLDEST, 0);
	struct mdbus_pub_info info;
	char pid[32];

	(void)state;
	/* a live publisher (this process) owns the channel */
	assert_rc(mdbus_pub_open(&q, "own", &c), MDBUS_EOWNED);
	assert_null(q);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_non_null(strstr(mdbus_last_error(), pid));

	assert_rc(mdbus_sub_pub_info(s, &info), 0);
	assert_int_equal(info.state, MDBUS_PUB_ACTIVE);
	assert_int_equal(info.pid, getpid());
	assert_int_equal(info.write_num, 0);
	mdbus_pub_heartbeat(p);
	assert_rc(mdbus_sub_pub_info(s, &info), 0);
	assert_true(info.heartbeat_age_ns >= 0);
	assert_true(info.heartbeat_age_ns < 60000000000LL);

	publish_range(p, 0, 5);
	mdbus_pub_close(p);
	assert_rc(mdbus_sub_pub_info(s, &info), 0);
	assert_int_equal(info.state, MDBUS_PUB_STOPPED);
	assert_int_equal(info.write_num, 5);
	/* the channel stays readable after close */
	for (uint64_t n = 0; n < 5; n++)
		expect_msg(s, n, 0);

	/* same geometry: resumes at the write count */
	p = open_pub("own", MDBUS_MODE_OVERWRITE);
	assert_int_equal(mdbus_pub_position(p), 5);
	publish_range(p, 5, 8);
	for (uint64_t n = 5; n < 8; n++)
		expect_msg(s, n, 0);
	mdbus_pub_close(p);

	/* other geometry: refused without MDBUS_PUB_REPLACE */
	c.slot_size = 128;
	q = NULL;
	assert_rc(mdbus_pub_open(&q, "own", &c), MDBUS_EGEOMETRY);
	assert_null(q);
	c.slot_size = SLOT;
	c.mode = MDBUS_MODE_LOSSLESS;
	assert_rc(mdbus_pub_open(&q, "own", &c), MDBUS_EGEOMETRY);
	c.mode = MDBUS_MODE_OVERWRITE;
	c.max_consumers = 8;
	assert_rc(mdbus_pub_open(&q, "own", &c), MDBUS_EGEOMETRY);

	/* with it: a new segment; the old reader is told and reattaches */
	c.max_consumers = 64;
	c.slot_size = 128;
	c.flags = MDBUS_PUB_REPLACE;
	assert_rc(mdbus_pub_open(&q, "own", &c), 0);
	assert_int_equal(mdbus_pub_payload_max(q), 128 - MDBUS_SLOT_HEADER);
	assert_int_equal(mdbus_pub_position(q), 0);
	{
		unsigned char buf[128];
		struct mdbus_msg m;

		assert_rc(mdbus_sub_pub_info(s, &info), 0);
		assert_int_equal(info.state, MDBUS_PUB_REPLACED);
		assert_rc(mdbus_sub_try_read(s, buf, sizeof(buf), &m),
			  MDBUS_EREPLACED);
		assert_rc(mdbus_sub_read(s, buf, sizeof(buf), &m, 1000000),
			  MDBUS_EREPLACED);
		tu_fill(buf, 100, 0);
		assert_rc(mdbus_pub_publish(q, 3, buf, 100, 77), 0);
		assert_rc(mdbus_sub_reopen(s, MDBUS_START_OLDEST, 0), 0);
		assert_int_equal(mdbus_sub_payload_max(s),
				 128 - MDBUS_SLOT_HEADER);
		assert_rc(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
		assert_int_equal(m.seq, 0);
		assert_int_equal(m.size, 100);
		assert_int_equal(m.ts_ns, 77);
		assert_int_equal(tu_verify(buf, 100, 0), -1);
	}
	mdbus_sub_close(s);
	mdbus_pub_close(q);
}

struct list_ctx {
	char names[32][MDBUS_CHANNEL_MAX + 1];
	int n, stop_at;
};

static int list_cb(const char *ch, void *arg)
{
	struct list_ctx *l = arg;

	if (l->n < 32)
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", ch);
	l->n++;
	return l->n == l->stop_at ? 4242 : 0;
}

/* Lists the test directory (the other tests' channels are there too):
 * asserts name order and returns how many of the st* channels it has. */
static int list_st(void)
{
	struct list_ctx l;
	int found = 0;

	memset(&l, 0, sizeof(l));
	assert_rc(mdbus_list(tu_dir(), list_cb, &l), 0);
	assert_true(l.n <= 32);
	for (int i = 0; i < l.n; i++) {
		if (i)
			assert_true(strcmp(l.names[i - 1], l.names[i]) < 0);
		found += !strcmp(l.names[i], "st.a") ||
			 !strcmp(l.names[i], "st.b") ||
			 !strcmp(l.names[i], "st-c");
	}
	return found;
}

static void t_stats_list_unlink(void **state)
{
	mdbus_pub_t *p = open_pub("st.b", MDBUS_MODE_LOSSLESS);
	mdbus_pub_t *p2 = open_pub("st.a", MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p3 = open_pub("st-c", MDBUS_MODE_OVERWRITE);
	struct mdbus_consumer_stat cs[4];
	struct mdbus_sub_config sc;
	struct mdbus_stats st;
	mdbus_sub_t *s1, *s2, *anon;
	struct list_ctx l;
	char dflt[32];

	(void)state;
	mdbus_sub_config_init(&sc);
	sc.name = "alpha";
	sc.start = MDBUS_START_OLDEST;
	assert_rc(mdbus_sub_open(&s1, "st.b", &sc), 0);
	sc.name = NULL;
	assert_rc(mdbus_sub_open(&s2, "st.b", &sc), 0);
	sc.anonymous = 1;
	assert_rc(mdbus_sub_open(&anon, "st.b", &sc), 0);
	publish_range(p, 0, 10);
	expect_msg(s1, 0, 0);
	expect_msg(s1, 1, 0);
	expect_msg(s1, 2, 0);

	memset(&st, 0x77, sizeof(st));
	memset(cs, 0x77, sizeof(cs));
	assert_rc(mdbus_channel_stats("st.b", tu_dir(), &st, cs, 4), 0);
	assert_string_equal(st.channel, "st.b");
	assert_int_equal(st.layout_major, MDBUS_LAYOUT_MAJOR);
	assert_int_equal(st.layout_minor, MDBUS_LAYOUT_MINOR);
	assert_int_equal(st.slot_size, SLOT);
	assert_int_equal(st.slots_per_block, SPB);
	assert_int_equal(st.block_count, BLOCKS);
	assert_int_equal(st.max_consumers, 64);
	assert_int_equal(st.capacity, CAP);
	assert_int_equal(st.mode, MDBUS_MODE_LOSSLESS);
	assert_true(st.total_size >= 4096 + CAP * SLOT);
	{
		struct stat sb;

		assert_int_equal(stat(tu_seg_path("st.b"), &sb), 0);
		assert_int_equal((uint64_t)sb.st_size, st.total_size);
		assert_int_equal(sb.st_mode & 0777, 0640);
		assert_int_equal(st.owner, sb.st_uid); /* was 0x77... */
		assert_int_equal(st.owner, geteuid());
	}
	assert_true(st.create_ns > 0 && st.create_ns <= tu_realtime_ns());
	assert_int_equal(st.pub.state, MDBUS_PUB_ACTIVE);
	assert_int_equal(st.pub.pid, getpid());
	assert_int_equal(st.pub.write_num, 10);
	assert_int_equal(st.consumers, 2); /* the anonymous one takes none */
	snprintf(dflt, sizeof(dflt), "pid%d", (int)getpid());
	for (int i = 0; i < 2; i++) {
		int is_alpha = !strcmp(cs[i].name, "alpha");

		if (!is_alpha)
			assert_string_equal(cs[i].name, dflt);
		assert_int_equal(cs[i].pid, getpid());
		assert_int_equal(cs[i].alive, 1);
		assert_int_equal(cs[i].evicted, 0);
		assert_int_equal(cs[i].position, is_alpha ? 3 : 0);
		assert_int_equal(cs[i].lag, is_alpha ? 7 : 10);
		assert_int_equal(cs[i].lost, 0);
	}
	/* max smaller than the entries in use */
	assert_rc(mdbus_channel_stats("st.b", NULL, &st, cs, 1), 0);
	assert_rc(mdbus_channel_stats("st.b", NULL, &st, NULL, 0), 0);
	assert_int_equal(st.consumers, 2);
	mdbus_sub_close(s2);
	assert_rc(mdbus_channel_stats("st.b", NULL, &st, cs, 4), 0);
	assert_int_equal(st.consumers, 1);
	assert_string_equal(cs[0].name, "alpha");
	assert_rc(mdbus_channel_stats("nosuch", NULL, &st, cs, 4), -ENOENT);

	/* list: name order, early stop */
	assert_int_equal(list_st(), 3);
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	assert_rc(mdbus_list(NULL, list_cb, &l), 4242); /* $MDBUS_DIR */
	assert_int_equal(l.n, 2);

	/* unlink: gone by name, mapped readers keep working */
	mdbus_pub_close(p2);
	mdbus_pub_close(p3);
	assert_rc(mdbus_unlink("st.a", tu_dir()), 0);
	assert_rc(mdbus_unlink("st.a", tu_dir()), -ENOENT);
	assert_rc(mdbus_unlink("st-c", NULL), 0);
	assert_rc(mdbus_unlink("st.b", NULL), 0);
	sc.anonymous = 0;
	{
		mdbus_sub_t *x = NULL;

		assert_rc(mdbus_sub_open(&x, "st.b", &sc), -ENOENT);
		assert_null(x);
	}
	assert_int_equal(list_st(), 0);
	publish_range(p, 10, 12);
	for (uint64_t n = 3; n < 12; n++)
		expect_msg(s1, n, 0);
	for (uint64_t n = 0; n < 12; n++)
		expect_msg(anon, n, 0);
	mdbus_sub_close(anon);
	mdbus_sub_close(s1);
	mdbus_pub_close(p);
}

static void t_dir_env(void **state)
{
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS,
					  MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = NULL;
	struct stat sb;

	(void)state;
	/* dir NULL: $MDBUS_DIR (set by tu_init to the test directory) */
	c.dir = NULL;
	c.file_mode = 0600;
	assert_rc(mdbus_pub_open(&p, "envdir", &c), 0);
	assert_int_equal(stat(tu_seg_path("envdir"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	mdbus_pub_close(p);
	assert_rc(mdbus_unlink("envdir", NULL), 0);
	assert_int_not_equal(stat(tu_seg_path("envdir"), &sb), 0);
	/* a directory that does not exist */
	c.dir = "/nonexistent-mdbus-dir";
	assert_true(mdbus_pub_open(&p, "envdir", &c) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_strerror),
		cmocka_unit_test(t_names),
		cmocka_unit_test(t_last_error_fresh),
		cmocka_unit_test(t_expected_owner),
		cmocka_unit_test(t_channel_names),
		cmocka_unit_test(t_config_defaults),
		cmocka_unit_test(t_geometry),
		cmocka_unit_test(t_publish_read),
		cmocka_unit_test(t_every_size),
		cmocka_unit_test(t_claim),
		cmocka_unit_test(t_start_positions),
		cmocka_unit_test(t_oldest_during_claim),
		cmocka_unit_test(t_lapped),
		cmocka_unit_test(t_lapped_reopen),
		cmocka_unit_test(t_lapped_anonymous_lossless),
		cmocka_unit_test(t_reopen_anonymous_stack),
		cmocka_unit_test(t_evicted_reopen_full),
		cmocka_unit_test(t_ownership_resume),
		cmocka_unit_test(t_stats_list_unlink),
		cmocka_unit_test(t_dir_env),
	};

	tu_init("t_unit", 60);
	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
