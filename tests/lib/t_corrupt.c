/*
 * t_corrupt.c - hostile and corrupt segments, made by hand with layout.h.
 * Each case must give a clean error or a counted skip: never a crash, an
 * out-of-bounds read (run under ASan in the sanitizer build) or a torn
 * message.
 *
 *  - empty file, zeroed header: a creator's leftovers: readers get
 *    MDBUS_ENOTREADY, a new publisher takes the name over;
 *  - files shorter than the header or than their total size, total size
 *    disagreeing with the geometry: MDBUS_ECORRUPT;
 *  - wrong magic, garbage: MDBUS_EBADMAGIC; another major version:
 *    MDBUS_EVERSION naming both versions; another minor: readable;
 *  - absurd geometry (each identity field in turn): MDBUS_ECORRUPT;
 *    a publisher refuses all of these unless told to replace;
 *  - symlinks and world-writable files are refused;
 *  - slot headers with sizes past the payload, including the ring's last
 *    slot at the end of the mapping: skipped and counted as lost;
 *    a slot stamp claiming a later message: counted as lapped;
 *  - a garbage consumer table: stats, registration and reap survive;
 *  - every header field rewritten after a reader attached: the reader and
 *    publisher go on with the geometry they copied, tools refuse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "testutil.h"

#define SLOT 128
#define SPB 16
#define BLOCKS 4
#define CAP ((uint64_t)SPB * BLOCKS)
#define PMAX (SLOT - MDBUS_SLOT_HEADER)

static struct mdbus_pub_config config(void)
{
	return tu_config(SLOT, SPB, BLOCKS, MDBUS_MODE_OVERWRITE);
}

/* A valid segment with messages [0, n), publisher closed. */
static void make_valid(const char *ch, uint64_t n)
{
	struct mdbus_pub_config c = config();
	mdbus_pub_t *p = tu_pub_open(ch, &c);
	unsigned char buf[PMAX];

	for (uint64_t i = 0; i < n; i++)
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 0, PMAX), 0);
	mdbus_pub_close(p);
}

static int sub_try(const char *ch, mdbus_sub_t **s)
{
	struct mdbus_sub_config c;

	mdbus_sub_config_init(&c);
	c.start = MDBUS_START_OLDEST;
	*s = NULL;
	return mdbus_sub_open(s, ch, &c);
}

/* Readers (registered, anonymous, stats) all get `want`. */
static void expect_refused(const char *ch, int want, const char *what)
{
	struct mdbus_sub_config c;
	struct mdbus_stats st;
	mdbus_sub_t *s;
	int rc;

	rc = sub_try(ch, &s);
	if (rc != want)
		tu_fail("%s: sub_open gave %d (%s: %s), want %d (%s)", what, rc,
			mdbus_strerror(rc), mdbus_last_error(), want,
			mdbus_strerror(want));
	TU_CHECK(s == NULL);
	mdbus_sub_config_init(&c);
	c.anonymous = 1;
	TU_CHECK_RC(mdbus_sub_open(&s, ch, &c), want);
	TU_CHECK_RC(mdbus_channel_stats(ch, NULL, &st, NULL, 0), want);
}

/* A publisher refuses the segment, unless told to replace it: then it
 * makes a fresh one that reads back. */
static void expect_pub_refuses_then_replaces(const char *ch, int bad_magic)
{
	struct mdbus_pub_config c = config();
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	mdbus_pub_t *p = NULL;
	mdbus_sub_t *s;
	int rc;

	rc = mdbus_pub_open(&p, ch, &c);
	if (rc >= 0)
		tu_fail("%s: publisher accepted a corrupt segment", ch);
	TU_CHECK(p == NULL);
	c.flags = MDBUS_PUB_REPLACE;
	rc = mdbus_pub_open(&p, ch, &c);
	if (bad_magic && rc == MDBUS_EBADMAGIC)
		return; /* not ours: refusing to clobber it is fine too */
	TU_CHECK_RC(rc, 0);
	TU_CHECK_EQ(mdbus_pub_position(p), 0);
	TU_CHECK_RC(tu_publish_seq(p, 0, buf, 0, PMAX), 0);
	TU_CHECK_RC(sub_try(ch, &s), 0);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
	TU_CHECK(tu_msg_bad(&m, buf, 0, PMAX) == NULL);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static void test_leftovers(void)
{
	struct mdbus_pub_config c = config();
	char zero[SEG_HEADER_SIZE * 2];
	mdbus_pub_t *p;
	uint64_t t0;

	memset(zero, 0, sizeof(zero));
	/* empty: a creator between open and reserve (or dead there) */
	tu_write_file(tu_seg_path("empty"), NULL, 0);
	t0 = tu_now_ns();
	expect_refused("empty", MDBUS_ENOTREADY, "empty file");
	/* three refusals (registered, anonymous, stats): none waits for a
	 * creator, since segments are named only once complete; a wait of
	 * any length per file would stall listings of a directory of them */
	if (tu_now_ns() - t0 > 900000000ULL)
		tu_fail("three ENOTREADY refusals took %.2f s: they waited",
			(tu_now_ns() - t0) / 1e9);
	TU_CHECK_RC(mdbus_pub_open(&p, "empty", &c), 0);
	mdbus_pub_close(p);

	/* full size but magic never written: a creator that died mid-way */
	make_valid("nomagic", 3);
	{
		size_t len;
		struct seg_header *h = tu_map_file(tu_seg_path("nomagic"), &len);

		atomic_store(&h->magic, 0);
		tu_unmap(h, len);
	}
	expect_refused("nomagic", MDBUS_ENOTREADY, "zero magic");
	TU_CHECK_RC(mdbus_pub_open(&p, "nomagic", &c), 0);
	mdbus_pub_close(p);

	/* shorter than the header page */
	tu_write_file(tu_seg_path("short"), zero, 100);
	expect_refused("short", MDBUS_ECORRUPT, "100-byte file");
	TU_CHECK_RC(mdbus_pub_open(&p, "short", &c), 0);
	mdbus_pub_close(p);
}

/* Rewrites one identity field of a valid segment, expects `want`. */
static void corrupt_field(const char *ch, size_t off, int width,
			  uint64_t value, int want)
{
	char what[96];
	size_t len;
	unsigned char *seg;

	make_valid(ch, 5);
	seg = tu_map_file(tu_seg_path(ch), &len);
	if (width == 4) {
		uint32_t v = (uint32_t)value;

		memcpy(seg + off, &v, 4);
	} else {
		memcpy(seg + off, &value, 8);
	}
	tu_unmap(seg, len);
	snprintf(what, sizeof(what), "header offset %zu = %llu", off,
		 (unsigned long long)value);
	expect_refused(ch, want, what);
	expect_pub_refuses_then_replaces(ch, want == MDBUS_EBADMAGIC);
	TU_CHECK_RC(mdbus_unlink(ch, NULL), 0);
}

#define F(field) offsetof(struct seg_header, field), \
		 (int)sizeof(((struct seg_header *)0)->field)

static void test_header_fields(void)
{
	static const struct {
		size_t off;
		int width;
		uint64_t value;
		int want;
	} cases[] = {
		{ F(magic), 0x4141414141414141ULL, MDBUS_EBADMAGIC },
		{ F(magic), SEG_MAGIC + 1, MDBUS_EBADMAGIC },
		{ F(version_major), MDBUS_LAYOUT_MAJOR + 1, MDBUS_EVERSION },
		{ F(version_major), 0, MDBUS_EVERSION },
		{ F(version_major), 0xffffffff, MDBUS_EVERSION },
		{ F(slot_size), 0, MDBUS_ECORRUPT },
		{ F(slot_size), 63, MDBUS_ECORRUPT },
		{ F(slot_size), 96, MDBUS_ECORRUPT },
		{ F(slot_size), 1024, MDBUS_ECORRUPT }, /* past the file */
		{ F(slot_size), 1u << 30, MDBUS_ECORRUPT },
		{ F(slot_size), 0xffffffff, MDBUS_ECORRUPT },
		{ F(slots_per_block), 0, MDBUS_ECORRUPT },
		{ F(slots_per_block), 3, MDBUS_ECORRUPT },
		{ F(slots_per_block), 1u << 31, MDBUS_ECORRUPT },
		{ F(slots_per_block), 64, MDBUS_ECORRUPT }, /* past the file */
		{ F(block_count), 0, MDBUS_ECORRUPT },
		{ F(block_count), 1u << 31, MDBUS_ECORRUPT },
		{ F(block_count), 8, MDBUS_ECORRUPT },
		{ F(max_consumers), 0, MDBUS_ECORRUPT },
		{ F(max_consumers), 5000, MDBUS_ECORRUPT },
		{ F(max_consumers), 200, MDBUS_ECORRUPT }, /* offsets differ */
		{ F(mode), 7, MDBUS_ECORRUPT },
		{ F(header_size), 0, MDBUS_ECORRUPT },
		{ F(table_size), 0, MDBUS_ECORRUPT },
		{ F(table_size), 1ULL << 62, MDBUS_ECORRUPT },
		{ F(blocks_off), 17, MDBUS_ECORRUPT },
		{ F(blocks_off), 1ULL << 62, MDBUS_ECORRUPT },
		{ F(total_size), 0, MDBUS_ECORRUPT },
		{ F(total_size), ~0ULL, MDBUS_ECORRUPT },
		{ F(total_size), 1ULL << 40, MDBUS_ECORRUPT },
	};
	char ch[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(ch, sizeof(ch), "field%zu", i);
		corrupt_field(ch, cases[i].off, cases[i].width, cases[i].value,
			      cases[i].want);
	}
	/* the version text names both versions */
	make_valid("v2", 1);
	{
		size_t len;
		struct seg_header *h = tu_map_file(tu_seg_path("v2"), &len);
		mdbus_sub_t *s;

		char want[64];

		atomic_store(&h->version_major, 9);
		tu_unmap(h, len);
		TU_CHECK_RC(sub_try("v2", &s), MDBUS_EVERSION);
		snprintf(want, sizeof want, "version 9.%d, this library reads %d.x",
			 MDBUS_LAYOUT_MINOR, MDBUS_LAYOUT_MAJOR);
		if (!strstr(mdbus_last_error(), want))
			tu_fail("version error \"%s\" does not say \"%s\"",
				mdbus_last_error(), want);
	}
}

static void test_sizes_and_links(void)
{
	struct mdbus_pub_config c = config();
	struct mdbus_stats st;
	unsigned char buf[PMAX], *junk;
	struct stat sb;
	mdbus_pub_t *p;
	mdbus_sub_t *s;

	/* truncated: half, and one byte short */
	make_valid("trunc", 5);
	TU_CHECK_RC(mdbus_channel_stats("trunc", NULL, &st, NULL, 0), 0);
	tu_truncate(tu_seg_path("trunc"), (off_t)st.total_size / 2);
	expect_refused("trunc", MDBUS_ECORRUPT, "half-truncated");
	tu_truncate(tu_seg_path("trunc"), (off_t)st.total_size - 1);
	expect_refused("trunc", MDBUS_ECORRUPT, "1 byte short");
	expect_pub_refuses_then_replaces("trunc", 0);

	/* garbage */
	junk = malloc(65536);
	TU_CHECK(junk);
	for (size_t i = 0; i < 65536; i++)
		junk[i] = (unsigned char)tu_rand();
	tu_write_file(tu_seg_path("junk"), junk, 65536);
	expect_refused("junk", MDBUS_EBADMAGIC, "random bytes");
	free(junk);

	/* another minor version stays readable */
	make_valid("minor", 3);
	{
		size_t len;
		struct seg_header *h = tu_map_file(tu_seg_path("minor"), &len);
		struct mdbus_msg m;

		atomic_store(&h->version_minor, MDBUS_LAYOUT_MINOR + 7);
		tu_unmap(h, len);
		TU_CHECK_RC(sub_try("minor", &s), 0);
		TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
		TU_CHECK_EQ(m.seq, 0);
		TU_CHECK(tu_msg_bad(&m, buf, 0, PMAX) == NULL);
		mdbus_sub_close(s);
	}

	/* a symlink to a valid segment is not followed, nor overwritten */
	make_valid("target", 2);
	TU_CHECK_EQ(stat(tu_seg_path("target"), &sb), 0);
	{
		char target[256];

		snprintf(target, sizeof(target), "%s", tu_seg_path("target"));
		TU_CHECK_EQ(symlink(target, tu_seg_path("link")), 0);
	}
	if (sub_try("link", &s) >= 0)
		tu_fail("attached through a symlink");
	p = NULL;
	if (mdbus_pub_open(&p, "link", &c) >= 0)
		tu_fail("published through a symlink");
	{
		struct stat now;

		TU_CHECK_EQ(stat(tu_seg_path("target"), &now), 0);
		TU_CHECK_EQ(now.st_size, sb.st_size);
		TU_CHECK_EQ(now.st_mtime, sb.st_mtime);
	}

	/* world-writable: anybody could have forged it */
	make_valid("wwrite", 2);
	TU_CHECK_EQ(chmod(tu_seg_path("wwrite"), 0666), 0);
	if (sub_try("wwrite", &s) >= 0)
		tu_fail("attached a world-writable segment");
	/* group-writable: no publisher makes one; a group member's hard
	 * link to a consumer table (0660) kept after its channel was
	 * removed was taken for a segment of the table's owner (attack run) */
	make_valid("gwrite", 2);
	TU_CHECK_EQ(chmod(tu_seg_path("gwrite"), 0660), 0);
	if (sub_try("gwrite", &s) >= 0)
		tu_fail("attached a group-writable segment");
	TU_CHECK_EQ(chmod(tu_seg_path("gwrite"), 0640), 0);
	if (sub_try("gwrite", &s) < 0)
		tu_fail("refused the same segment made 0640");
	mdbus_sub_close(s);
}

/* Reads everything a reader can get; checks every delivered message and
 * that seq == previous + 1 + lost. Returns delivered + lost. */
static uint64_t drain(mdbus_sub_t *s, uint64_t *expect)
{
	unsigned char *buf = malloc(PMAX); /* exact size: ASan sees overruns */
	struct mdbus_msg m;
	uint64_t got = 0;
	const char *bad;
	int rc;

	TU_CHECK(buf);
	for (int i = 0; i < 4 * (int)CAP; i++) {
		rc = mdbus_sub_try_read(s, buf, PMAX, &m);
		if (rc == -EAGAIN)
			break;
		if (rc == MDBUS_ECORRUPT)
			continue;
		TU_CHECK_RC(rc, 0);
		if (m.size > PMAX || m.seq != *expect + m.lost)
			tu_fail("corrupt slots: got seq %llu size %u lost %llu "
				"after %llu",
				(unsigned long long)m.seq, m.size,
				(unsigned long long)m.lost,
				(unsigned long long)*expect - 1);
		bad = tu_msg_bad(&m, buf, 0, PMAX);
		if (bad)
			tu_fail("corrupt slots: %s", bad);
		got += 1 + m.lost;
		*expect = m.seq + 1;
	}
	free(buf);
	return got;
}

static void test_slots(void)
{
	static const struct {
		uint64_t seq;
		uint32_t size;
	} bad[] = {
		{ 10, PMAX + 1 }, { 20, 0xffffffffu }, { 30, PMAX + 8 },
		{ CAP - 1, 0xffffffffu }, /* last slot: end of the mapping */
	};
	size_t n = sizeof(bad) / sizeof(bad[0]), len;
	uint64_t expect = 0, got;
	mdbus_sub_t *s;
	void *seg;

	make_valid("slots", CAP);
	seg = tu_map_file(tu_seg_path("slots"), &len);
	for (size_t i = 0; i < n; i++) {
		_Atomic uint64_t *w = tu_slot(seg, bad[i].seq);
		uint64_t meta = atomic_load(&w[SLOT_W_META]);

		atomic_store(&w[SLOT_W_META],
			     (meta & ~0xffffffffULL) | bad[i].size);
	}
	TU_CHECK_RC(sub_try("slots", &s), 0);
	got = drain(s, &expect);
	/* the last message was corrupt: its loss shows on the next one */
	TU_CHECK_EQ(got, CAP - 1);
	TU_CHECK_EQ(mdbus_sub_position(s), CAP);
	TU_CHECK(mdbus_sub_lost(s) >= n - 1 && mdbus_sub_lost(s) <= n);
	mdbus_sub_close(s);

	/* a stamp claiming a much later message: the reader counts a lap */
	atomic_store(&tu_slot(seg, 5)[SLOT_W_STAMP],
		     stamp_complete(5 + 7 * CAP));
	TU_CHECK_RC(sub_try("slots", &s), 0);
	expect = 0;
	got = drain(s, &expect);
	TU_CHECK(got <= CAP);
	mdbus_sub_close(s);
	tu_unmap(seg, len);
}

static void test_consumer_table(void)
{
	struct mdbus_pub_config c = config();
	struct mdbus_consumer_stat cs[64];
	struct mdbus_stats st;
	unsigned char buf[PMAX], *t;
	void *h;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	size_t len;
	int rc;

	make_valid("table", 3);
	h = tu_map_file(tu_table_path("table"), &len);
	t = (unsigned char *)tu_entry(h, 0);
	for (size_t i = 0; i < 64 * sizeof(struct seg_consumer); i++)
		t[i] = (unsigned char)tu_rand();
	/* a few with states that look valid and pids of live processes */
	for (unsigned i = 0; i < 8; i++)
		atomic_store(&tu_entry(h, i)->state,
			     cons_next(tu_rand(), CONS_ACTIVE + (i & 1),
				       i < 4 ? 1 : (int32_t)getpid()));
	rc = mdbus_channel_stats("table", NULL, &st, cs, 64);
	TU_CHECK(rc == 0 || rc == MDBUS_ECORRUPT);
	for (uint32_t i = 0; rc == 0 && i < st.consumers && i < 64; i++)
		TU_CHECK(strlen(cs[i].name) <= MDBUS_NAME_MAX);
	rc = sub_try("table", &s);
	TU_CHECK(rc == 0 || rc == MDBUS_EFULL);
	if (rc == 0) {
		TU_CHECK_EQ(drain(s, &(uint64_t){ 0 }), 3);
		mdbus_sub_close(s);
	}
	p = tu_pub_open("table", &c);
	rc = mdbus_pub_reap(p);
	TU_CHECK(rc >= 0);
	TU_CHECK_RC(tu_publish_seq(p, 3, buf, 0, PMAX), 0);
	mdbus_pub_close(p);
	tu_unmap(h, len);
}

static void test_changed_after_attach(void)
{
	struct mdbus_pub_config c = config();
	struct mdbus_pub_info info;
	struct mdbus_stats st;
	unsigned char buf[PMAX];
	struct seg_header *h;
	mdbus_pub_t *p = tu_pub_open("live", &c);
	mdbus_sub_t *s, *x;
	uint64_t expect = 0, n = 0;
	size_t len;
	int rc;

	for (; n < 10; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	TU_CHECK_RC(sub_try("live", &s), 0);
	TU_CHECK_EQ(drain(s, &expect), 10);

	h = tu_map_file(tu_seg_path("live"), &len);
	atomic_store(&h->version_major, 77);
	atomic_store(&h->slot_size, 1u << 20);
	atomic_store(&h->slots_per_block, 1);
	atomic_store(&h->block_count, 1u << 30);
	atomic_store(&h->max_consumers, 1u << 30);
	atomic_store(&h->table_size, 1ULL << 40);
	atomic_store(&h->blocks_off, 1ULL << 40);
	atomic_store(&h->total_size, 1ULL << 50);
	/* the attached reader and the publisher keep their copies */
	for (; n < 10 + 2 * CAP + 5; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	TU_CHECK_EQ(drain(s, &expect), 2 * CAP + 5);
	TU_CHECK_EQ(expect, n);
	/* tools and new readers refuse it */
	TU_CHECK(mdbus_channel_stats("live", NULL, &st, NULL, 0) < 0);
	TU_CHECK(sub_try("live", &x) < 0);

	atomic_store(&h->magic, 0x1234);
	atomic_store(&h->pub_pid, -1);
	atomic_store(&h->pub_state, 99);
	rc = mdbus_sub_pub_info(s, &info);
	TU_CHECK(rc < 0 || info.state <= MDBUS_PUB_DEAD);
	TU_CHECK(mdbus_pub_reap(p) >= 0);

	/* a write count far ahead of the ring: a lap, counted */
	atomic_store(&h->write_num, 1ULL << 62);
	(void)drain(s, &expect);
	for (uint64_t end = n + CAP; n < end; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	(void)drain(s, &expect);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	tu_unmap(h, len);
}

/* `published` messages, the reader opened at the latest before them
 * (lapped) or after them (waiting), then the write count forged: the
 * reader gets MDBUS_ECORRUPT, saying `text`, and counts nothing lost. */
static void forged_write_count(const char *ch, uint64_t published,
			       int open_first, uint64_t forged, const char *text)
{
	struct mdbus_pub_config c = config();
	unsigned char buf[PMAX];
	struct seg_header *h;
	struct mdbus_msg m;
	mdbus_pub_t *p = tu_pub_open(ch, &c);
	mdbus_sub_t *s = NULL;
	size_t len;

	if (open_first)
		s = tu_sub_open(ch, NULL, MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	for (uint64_t n = 0; n < published; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	if (!open_first)
		s = tu_sub_open(ch, NULL, MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	h = tu_map_file(tu_seg_path(ch), &len);
	atomic_store(&h->write_num, forged);
	/* (not -ETIMEDOUT) */
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 2000000000LL),
		    MDBUS_ECORRUPT);
	if (!strstr(mdbus_last_error(), text))
		tu_fail("error '%s', want '%s'", mdbus_last_error(), text);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	tu_unmap(h, len);
}

/*
 * A write count past 2^62 (which no publisher reaches) met by a lapped
 * reader: the segment is corrupt; before, the reader jumped to near 2^63
 * and counted that many messages lost. A write count past a waiting
 * reader's position whose slot was never written (no publisher leaves
 * that): corrupt too; before, the reader found the count moved, looked,
 * found nothing and looked again for ever (a spinning reader burnt a CPU
 * until its timeout, or for good with none: mdsub -u).
 */
/* A write count past 2^62 as a reader joins a lossless channel by
 * sequence: no jump, no loss counted (before, it moved its start up to
 * near 2^63 and counted that many messages lost); it reads what the ring
 * has, and the count is corrupt once it needs it. */
static void forged_count_at_join(void)
{
	struct mdbus_pub_config c = config();
	unsigned char buf[PMAX];
	struct seg_header *h;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	size_t len;

	c.mode = MDBUS_MODE_LOSSLESS;
	p = tu_pub_open("farjoin", &c);
	for (uint64_t n = 0; n < 5; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	h = tu_map_file(tu_seg_path("farjoin"), &len);
	atomic_store(&h->write_num, 1ULL << 63);
	s = tu_sub_open("farjoin", NULL, MDBUS_START_SEQ, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_EQ(mdbus_sub_position(s), 0);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	tu_unmap(h, len);
}

/* A write count past 2^62 already there when a reader opens at the
 * latest, or the oldest: refused, MDBUS_ECORRUPT naming it (before, the
 * reader started near 2^63, took a never-written slot for a message, as
 * the stamps wrap, then the ring's old messages again under new
 * sequence numbers). */
static void forged_count_at_open(void)
{
	static const enum mdbus_start starts[] = { MDBUS_START_LATEST,
						   MDBUS_START_OLDEST };
	struct mdbus_pub_config c = config();
	struct mdbus_sub_config sc;
	unsigned char buf[PMAX];
	struct seg_header *h;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	size_t len;

	p = tu_pub_open("farstart", &c);
	for (uint64_t n = 0; n < 5; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	h = tu_map_file(tu_seg_path("farstart"), &len);
	atomic_store(&h->write_num, (1ULL << 63) - 1);
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		mdbus_sub_config_init(&sc);
		sc.dir = tu_dir();
		sc.start = starts[i];
		TU_CHECK_RC(mdbus_sub_open(&s, "farstart", &sc), MDBUS_ECORRUPT);
		if (!strstr(mdbus_last_error(), "a write count of "
			    "9223372036854775807, past 2^62"))
			tu_fail("error '%s'", mdbus_last_error());
	}
	mdbus_pub_close(p);
	tu_unmap(h, len);
}

static void test_forged_write_counts(void)
{
	forged_count_at_open();
	forged_count_at_join();
	forged_write_count("far", CAP + 5, 1, 1ULL << 63,
			   "a write count of 9223372036854775808, past 2^62");
	forged_write_count("ahead", 5, 0, 15,
			   "a write count of 15 while message 5 was never written");
}

int main(void)
{
	tu_init("t_corrupt", 120);
	test_leftovers();
	test_header_fields();
	test_sizes_and_links();
	test_slots();
	test_consumer_table();
	test_changed_after_attach();
	test_forged_write_counts();
	return 0;
}
