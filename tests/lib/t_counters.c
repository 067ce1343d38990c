/*
 * t_counters.c - the publisher's counters in the segment (doc/protocol.md,
 * "Counters") and the directory use, as tools read them:
 *
 *  - definition: ids in order, labels checked, duplicates and a full
 *    table refused; set, add and get exact; ids out of range ignored;
 *    publishing never touches them;
 *  - readers (mdbus_channel_counters(), mdbus_sub_counters()) get exact
 *    labels, kinds, ids and values, also after the publisher closed; a new
 *    publisher starts an empty table;
 *  - a hostile segment (absurd count, unknown kind, a label without NUL)
 *    gives MDBUS_ECORRUPT or a NUL-terminated label, never a crash;
 *  - a publisher redefining its table over and over (open, define, close)
 *    while a reader copies it: every copy is whole (the seqlock);
 *  - mdbus_dir_usage() counts exactly the mdbus files, no link followed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "testutil.h"

#define CH "ctr"
#define SLOT 128

static const char *const redefined[] = {"alpha", "beta", "gamma"};

static struct mdbus_pub_config config(void)
{
	return tu_config(SLOT, 16, 4, MDBUS_MODE_OVERWRITE);
}

static void define_errors(mdbus_pub_t *p)
{
	char label[64];
	int i;

	TU_CHECK_RC(mdbus_pub_counter_new(p, "", MDBUS_COUNTER_TOTAL), -EINVAL);
	TU_CHECK_RC(mdbus_pub_counter_new(p, NULL, MDBUS_COUNTER_TOTAL), -EINVAL);
	TU_CHECK_RC(mdbus_pub_counter_new(p, "a b", MDBUS_COUNTER_TOTAL), -EINVAL);
	TU_CHECK_RC(mdbus_pub_counter_new(p, "a\"b", MDBUS_COUNTER_TOTAL), -EINVAL);
	TU_CHECK_RC(mdbus_pub_counter_new(p, "ok", (enum mdbus_counter_kind)7),
		    -EINVAL);
	memset(label, 'x', 28);
	label[28] = '\0';
	TU_CHECK_RC(mdbus_pub_counter_new(p, label, MDBUS_COUNTER_TOTAL), -EINVAL);
	TU_CHECK_RC(mdbus_pub_counter_new(p, "in", MDBUS_COUNTER_GAUGE), -EEXIST);
	label[27] = '\0'; /* 27 characters: the longest */
	TU_CHECK_RC(mdbus_pub_counter_new(p, label, MDBUS_COUNTER_TOTAL), 2);
	for (i = 3; i < MDBUS_COUNTERS_MAX; i++) {
		snprintf(label, sizeof(label), "c%d", i);
		TU_CHECK_RC(mdbus_pub_counter_new(p, label, MDBUS_COUNTER_TOTAL), i);
	}
	TU_CHECK_RC(mdbus_pub_counter_new(p, "more", MDBUS_COUNTER_TOTAL), -ENOSPC);
}

static void check_read(const struct mdbus_counter *c, int n)
{
	TU_CHECK_EQ(n, MDBUS_COUNTERS_MAX);
	TU_CHECK(strcmp(c[0].label, "in") == 0);
	TU_CHECK_EQ(c[0].kind, MDBUS_COUNTER_TOTAL);
	TU_CHECK_EQ(c[0].id, 0);
	TU_CHECK_EQ(c[0].value, 12);
	TU_CHECK(strcmp(c[1].label, "lag") == 0);
	TU_CHECK_EQ(c[1].kind, MDBUS_COUNTER_GAUGE);
	TU_CHECK_EQ(c[1].id, 1);
	TU_CHECK_EQ(c[1].value, 99);
	TU_CHECK_EQ(strlen(c[2].label), 27);
	TU_CHECK(strcmp(c[23].label, "c23") == 0);
	TU_CHECK_EQ(c[23].id, 23);
	TU_CHECK_EQ(c[23].value, 23);
}

static void define_and_read(void)
{
	struct mdbus_pub_config cfg = config();
	struct mdbus_counter c[MDBUS_COUNTERS_MAX + 1];
	unsigned char buf[SLOT];
	mdbus_pub_t *p = tu_pub_open(CH, &cfg);
	mdbus_sub_t *s;

	TU_CHECK_RC(mdbus_channel_counters(CH, tu_dir(), c, 4), 0);
	TU_CHECK_RC(mdbus_pub_counter_new(p, "in", MDBUS_COUNTER_TOTAL), 0);
	TU_CHECK_RC(mdbus_pub_counter_new(p, "lag", MDBUS_COUNTER_GAUGE), 1);
	define_errors(p);
	mdbus_pub_counter_add(p, 0, 5);
	mdbus_pub_counter_add(p, 0, 7);
	mdbus_pub_counter_set(p, 1, 99);
	mdbus_pub_counter_set(p, 23, 23);
	mdbus_pub_counter_add(p, -1, 1);   /* ignored */
	mdbus_pub_counter_add(p, 24, 1);   /* ignored */
	mdbus_pub_counter_set(p, 1000, 1); /* ignored */
	TU_CHECK_EQ(mdbus_pub_counter_get(p, 0), 12);
	TU_CHECK_EQ(mdbus_pub_counter_get(p, 1), 99);
	TU_CHECK_EQ(mdbus_pub_counter_get(p, 24), 0);
	TU_CHECK_EQ(mdbus_pub_counter_get(p, -3), 0);
	for (uint64_t n = 0; n < 100; n++) /* publishing leaves them alone */
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, SLOT - MDBUS_SLOT_HEADER), 0);

	TU_CHECK_RC(mdbus_channel_counters(CH, tu_dir(), c, MDBUS_COUNTERS_MAX + 1),
		    MDBUS_COUNTERS_MAX);
	check_read(c, MDBUS_COUNTERS_MAX);
	memset(c, 0x55, sizeof(c)); /* fewer than defined: only those filled */
	TU_CHECK_RC(mdbus_channel_counters(CH, tu_dir(), c, 1), MDBUS_COUNTERS_MAX);
	TU_CHECK_EQ(c[0].value, 12);
	TU_CHECK_EQ(c[1].value, 0x5555555555555555ULL);
	s = tu_sub_open(CH, "r", MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_RC(mdbus_sub_counters(s, c, MDBUS_COUNTERS_MAX), MDBUS_COUNTERS_MAX);
	check_read(c, MDBUS_COUNTERS_MAX);

	mdbus_pub_close(p); /* the last values stay readable */
	TU_CHECK_RC(mdbus_sub_counters(s, c, MDBUS_COUNTERS_MAX), MDBUS_COUNTERS_MAX);
	check_read(c, MDBUS_COUNTERS_MAX);
	p = tu_pub_open(CH, &cfg); /* a new publisher counts from nothing */
	TU_CHECK_RC(mdbus_sub_counters(s, c, MDBUS_COUNTERS_MAX), 0);
	TU_CHECK_RC(mdbus_channel_counters(CH, tu_dir(), c, MDBUS_COUNTERS_MAX), 0);
	TU_CHECK_RC(mdbus_pub_counter_new(p, "lag", MDBUS_COUNTER_GAUGE), 0);
	TU_CHECK_EQ(mdbus_pub_counter_get(p, 0), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static void hostile(void)
{
	struct mdbus_counter c[MDBUS_COUNTERS_MAX];
	struct mdbus_stats st;
	struct seg_header *h;
	size_t len;

	h = tu_map_file(tu_seg_path(CH), &len);
	atomic_store(&h->counters.defs, 0xffffffffULL);
	TU_CHECK_RC(mdbus_channel_counters(CH, tu_dir(), c, MDBUS_COUNTERS_MAX),
		    MDBUS_ECORRUPT);
	TU_CHECK(strstr(mdbus_last_error(), "4294967295 counters"));
	TU_CHECK_RC(mdbus_channel_stats(CH, tu_dir(), &st, NULL, 0), 0);
	atomic_store(&h->counters.defs, (7ULL << 32) | (SEG_COUNTERS_MAX + 1));
	TU_CHECK_RC(mdbus_channel_counters(CH, tu_dir(), c, MDBUS_COUNTERS_MAX),
		    MDBUS_ECORRUPT);
	atomic_store(&h->counters.defs, 2);
	atomic_store(&h->counters.meta[1].kind, 9);
	TU_CHECK_RC(mdbus_channel_counters(CH, tu_dir(), c, MDBUS_COUNTERS_MAX),
		    MDBUS_ECORRUPT);
	TU_CHECK_RC(mdbus_channel_counters(CH, tu_dir(), c, 1), 2); /* not read */
	atomic_store(&h->counters.meta[1].kind, MDBUS_COUNTER_GAUGE);
	for (size_t i = 0; i < SEG_COUNTER_LABEL / 4; i++) /* no NUL, bytes >= 0x80 */
		atomic_store(&h->counters.meta[1].label[i], 0xff41ff41u);
	TU_CHECK_RC(mdbus_channel_counters(CH, tu_dir(), c, MDBUS_COUNTERS_MAX), 2);
	TU_CHECK_EQ(strlen(c[1].label), MDBUS_COUNTER_LABEL_MAX);
	TU_CHECK_EQ((unsigned char)c[1].label[1], 0xff);
	tu_unmap(h, len);
}

/* A publisher that defines three counters, sets them to 1, 2, 3 and
 * closes, over and over, until told to stop. */
static int redefiner(void *arg)
{
	_Atomic uint32_t *flags = arg;
	struct mdbus_pub_config cfg = config();

	while (!atomic_load(&flags[1])) {
		mdbus_pub_t *p = tu_pub_open(CH, &cfg);

		for (int i = 0; i < 3; i++) {
			TU_CHECK_RC(mdbus_pub_counter_new(p, redefined[i],
							  MDBUS_COUNTER_TOTAL), i);
			mdbus_pub_counter_set(p, i, (uint64_t)i + 1);
		}
		mdbus_pub_close(p);
		atomic_store(&flags[0], 1);
	}
	return 0;
}

/* Every copy whole: the labels in order, each value 0 or its own. */
static void redefined_while_read(void)
{
	_Atomic uint32_t *flags = tu_shared(2 * sizeof(*flags));
	struct mdbus_counter c[MDBUS_COUNTERS_MAX];
	uint64_t end, reads = 0, full = 0;
	pid_t child = tu_spawn(redefiner, (void *)flags);
	mdbus_sub_t *s;

	tu_await(&flags[0], 1, 60, "first definition");
	s = tu_sub_open(CH, "copier", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	end = tu_now_ns() + 500000000ULL;
	while (tu_now_ns() < end) {
		int n = mdbus_sub_counters(s, c, MDBUS_COUNTERS_MAX);

		if (n == -EAGAIN)
			continue;
		TU_CHECK(n >= 0 && n <= 3);
		for (int i = 0; i < n; i++) {
			if (strcmp(c[i].label, redefined[i]))
				tu_fail("copy %llu: counter %d is '%s', not '%s'",
					(unsigned long long)reads, i, c[i].label,
					redefined[i]);
			TU_CHECK(c[i].value == 0 || c[i].value == (uint64_t)i + 1);
		}
		full += n == 3;
		reads++;
	}
	mdbus_sub_close(s);
	atomic_store(&flags[1], 1);
	tu_wait_ok(child, 60, "redefiner");
	tu_note("%llu copies, %llu of all three", (unsigned long long)reads,
		(unsigned long long)full);
	TU_CHECK(reads > 0);
}

static void dir_usage(void)
{
	struct mdbus_dir_stats u;
	struct stat sb;
	char path[512];
	uint64_t bytes = 0;
	const char *const ours[] = {"mdbus." CH, "mdbus." CH "+lock"};

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", tu_dir(), ours[i]);
		TU_CHECK_EQ(stat(path, &sb), 0);
		bytes += (uint64_t)sb.st_blocks * 512;
	}
	TU_CHECK_EQ(stat(tu_table_path(CH), &sb), 0);
	bytes += (uint64_t)sb.st_blocks * 512;
	/* not ours: another prefix, no channel name, a link, a directory */
	snprintf(path, sizeof(path), "%s/other", tu_dir());
	tu_write_file(path, "12345678", 8);
	snprintf(path, sizeof(path), "%s/mdbus.bad name", tu_dir());
	tu_write_file(path, "12345678", 8);
	snprintf(path, sizeof(path), "%s/mdbus.link", tu_dir());
	TU_CHECK_EQ(symlink(tu_seg_path(CH), path), 0);
	snprintf(path, sizeof(path), "%s/mdbus.dir", tu_dir());
	TU_CHECK_EQ(mkdir(path, 0700), 0);
	TU_CHECK_RC(mdbus_dir_usage(tu_dir(), &u), 0);
	TU_CHECK_EQ(u.files, 3);
	TU_CHECK_EQ(u.bytes, bytes);
	TU_CHECK(u.bytes >= 4096 + SLOT * 64);
	TU_CHECK(u.fs_size >= u.fs_avail && u.fs_size > 0);
	snprintf(path, sizeof(path), "%s/nosuch", tu_dir());
	TU_CHECK_RC(mdbus_dir_usage(path, &u), -ENOENT);
	TU_CHECK(strstr(mdbus_last_error(), "nosuch"));
}

int main(void)
{
	tu_init("t_counters", 60);
	define_and_read();
	hostile();
	redefined_while_read();
	dir_usage();
	return 0;
}
