/*
 * t_replay.c - replay, then live (doc/protocol.md, "Archive", "Replay,
 * then live"), against archives this test writes by hand with the
 * recording writer under the documented names, so that every case is
 * exact:
 *  - a publisher process that announced its archive, left a gap in it
 *    (60 messages) and died: a reader from seq 0 gets every message the
 *    archive and the ring hold, exactly once and in order, and counts the
 *    gap and what neither holds (136) as lost, without waiting forever;
 *  - a live publisher whose archive is behind the ring: the reader waits
 *    (times out) rather than skip, reads on once the archive is written,
 *    goes live, and when the ring laps it later reads the lapped messages
 *    from the archive: nothing lost;
 *  - a start by time, and mdbus_sub_poll() on the archive;
 *  - hostile archives: a FIFO under an archive file's name, a symbolic
 *    link as the directory, a file of another user (root only), a path in
 *    the segment header that is not absolute or not terminated: clear
 *    errors, no hang;
 *  - 2000 files read through with one listing of the directory (the
 *    program interposes fdopendir() and counts: dynamic link only);
 *  - a read into a buffer too small for the archive's message: -EMSGSIZE,
 *    nothing consumed, the next read with room gets it (it was taken for
 *    a record out of order: MDBUS_ECORRUPT and the file's rest lost);
 *  - records and names that cannot be where they are (far ahead of
 *    everything published, out of order): MDBUS_ECORRUPT once, naming
 *    the file, then the next file, what neither holds counted lost;
 *    never a wait for a message that will not come;
 *  - mdbus_sub_poll() lapped in a ring of whole pages (lib/sub.c
 *    poll_run()'s loop) goes on in the archive for the rest of the call:
 *    the ring's oldest message comes from the archive's copy, so a ring
 *    published in the handler meanwhile takes nothing back;
 *  - a registered reader of a lossless channel that read the archive
 *    (gating nothing meanwhile) and went on in the ring gates the
 *    producer from then on: it publishes up to a ring past the reader and
 *    no further, and the reader reads on with nothing lost. Before, the
 *    reader never told the producer it joined (join_seq), whose gate,
 *    cached from a look before, let it write over 26 unread messages.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdbus.h"
#include "mdbus_rec.h"
#include "layout.h"
#include "testutil.h"

#define SLOT 128
#define PMIN 8
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define RING 64 /* 16 slots x 4 blocks */
#define NOBODY 65534
#define NDIRS 9

static char dirs[NDIRS][256];
static unsigned listings; /* fdopendir() calls: directory listings */

DIR *fdopendir(int fd)
{
	static DIR *(*real)(int);

	if (!real)
		real = (DIR *(*)(int))dlsym(RTLD_NEXT, "fdopendir");
	listings++;
	return real(fd);
}

static uint64_t epoch_of(const char *channel)
{
	struct mdbus_stats st;

	TU_CHECK_RC(mdbus_channel_stats(channel, tu_dir(), &st, NULL, 0), 0);
	return st.epoch;
}

/* The archive file of channel whose first message is seq (stamped seq + 1
 * ns, as tu_publish_seq() stamps it): doc/protocol.md, "Archive files". */
static void file_name(char *out, size_t len, const char *dir,
		      const char *channel, uint64_t seq)
{
	snprintf(out, len, "%s/%s.%016llx.%020llu.19700101T000000.%09lluZ.rec",
		 dir, channel, (unsigned long long)epoch_of(channel),
		 (unsigned long long)seq, (unsigned long long)(seq + 1));
}

/* Writes the records seqs[0..n) (tu_publish_seq()'s pattern) into a new
 * file at path. */
static void archive_seqs(const char *path, const char *channel,
			 const uint64_t *seqs, size_t n)
{
	unsigned char buf[PMAX];
	struct mdbus_rec_info info;
	mdbus_rec_writer_t *w;
	struct mdbus_msg m;

	memset(&info, 0, sizeof info);
	strcpy(info.channel, channel);
	TU_CHECK_RC(mdbus_rec_create(&w, path, &info, MDBUS_REC_EXCL), 0);
	for (size_t i = 0; i < n; i++) {
		memset(&m, 0, sizeof m);
		m.seq = seqs[i];
		m.ts_ns = seqs[i] + 1;
		m.size = (uint32_t)tu_size_for(seqs[i], PMIN, PMAX);
		m.type = tu_type_for(seqs[i]);
		tu_fill(buf, m.size, seqs[i]);
		TU_CHECK_RC(mdbus_rec_write(w, &m, buf), 0);
	}
	TU_CHECK_RC(mdbus_rec_finish(w), 0);
}

/* Writes messages [from, to) of tu_publish_seq()'s pattern into a new
 * archive file. */
static void archive_range(const char *dir, const char *channel, uint64_t from,
			  uint64_t to)
{
	uint64_t seqs[1024];
	char path[512];

	TU_CHECK(to - from <= sizeof seqs / sizeof seqs[0]);
	for (uint64_t s = from; s < to; s++)
		seqs[s - from] = s;
	file_name(path, sizeof path, dir, channel, from);
	archive_seqs(path, channel, seqs, to - from);
}

static mdbus_pub_t *pub_open(const char *channel, const char *archive)
{
	struct mdbus_pub_config c = tu_config(SLOT, 16, 4, MDBUS_MODE_OVERWRITE);

	c.archive_dir = archive;
	return tu_pub_open(channel, &c);
}

static void publish(mdbus_pub_t *p, uint64_t from, uint64_t to)
{
	unsigned char buf[PMAX];

	for (uint64_t s = from; s < to; s++)
		TU_CHECK_RC(tu_publish_seq(p, s, buf, PMIN, PMAX), 0);
}

static mdbus_sub_t *sub_open(const char *channel, enum mdbus_start start,
			     uint64_t at, const char *archive, int want)
{
	struct mdbus_sub_config c;
	mdbus_sub_t *s = NULL;

	mdbus_sub_config_init(&c);
	c.start = start;
	c.start_seq = c.start_time_ns = at;
	c.archive_dir = archive;
	c.dir = tu_dir();
	TU_CHECK_RC(mdbus_sub_open(&s, channel, &c), want);
	return s;
}

/* Reads message want (lost: as many lost before it), checked. */
static void read_one(mdbus_sub_t *s, uint64_t want, uint64_t lost)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	const char *bad;

	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 2000000000LL), 0);
	if (m.seq != want || m.lost != lost)
		tu_fail("got seq %llu lost %llu, want %llu lost %llu",
			(unsigned long long)m.seq, (unsigned long long)m.lost,
			(unsigned long long)want, (unsigned long long)lost);
	if ((bad = tu_msg_bad(&m, buf, PMIN, PMAX)))
		tu_fail("%s", bad);
}

static void read_range(mdbus_sub_t *s, uint64_t from, uint64_t to,
		       uint64_t lost_first)
{
	for (uint64_t n = from; n < to; n++)
		read_one(s, n, n == from ? lost_first : 0);
}

/* A reader of channel started at `at` (by start) reads [from, to). */
static void read_from(const char *channel, enum mdbus_start start,
		      uint64_t at, uint64_t from, uint64_t to)
{
	mdbus_sub_t *s = sub_open(channel, start, at, NULL, 0);

	read_range(s, from, to, 0);
	mdbus_sub_close(s);
}

static void nothing_more(mdbus_sub_t *s)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;

	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 50000000LL),
		    -ETIMEDOUT);
}

/* ------------------------------------------- a gap, a dead publisher */

static int gapped_publisher(void *arg)
{
	mdbus_pub_t *p = pub_open("gap", dirs[0]);

	(void)arg;
	publish(p, 0, 700);
	archive_range(dirs[0], "gap", 0, 200);
	archive_range(dirs[0], "gap", 260, 500); /* 200..259 lost */
	mdbus_pub_archive_progress(p, 500, 60);
	mdbus_pub_close(p);
	return 0;
}

static void t_gap_dead(void)
{
	mdbus_sub_t *s;

	tu_wait_ok(tu_spawn(gapped_publisher, NULL), 30, "publisher");
	s = sub_open("gap", MDBUS_START_SEQ, 0, NULL, 0);
	TU_CHECK_EQ(mdbus_sub_replaying(s), 1);
	read_range(s, 0, 200, 0);
	read_range(s, 260, 500, 60);
	/* 500..635: neither in the archive nor in the ring (700 - 64) */
	read_range(s, 700 - RING, 700, 136);
	TU_CHECK_EQ(mdbus_sub_replaying(s), 0);
	TU_CHECK_EQ(mdbus_sub_lost(s), 196);
	TU_CHECK_EQ(mdbus_sub_loss_events(s), 2);
	nothing_more(s);
	mdbus_sub_close(s);
	tu_note("gap and dead publisher: 504 read, 196 lost, as they must");
}

/* ---------------------------- a live publisher, the switch, the lap */

static int count_poll(void *arg, const struct mdbus_msg *m, const void *p)
{
	uint64_t *next = arg;
	const char *bad = p ? tu_msg_bad(m, p, PMIN, PMAX) : "taken back";

	if (m->seq != *next || bad)
		tu_fail("poll: seq %llu (want %llu): %s",
			(unsigned long long)m->seq, (unsigned long long)*next,
			bad ? bad : "out of order");
	(*next)++;
	return 0;
}

static void t_live(void)
{
	mdbus_pub_t *p = pub_open("live", dirs[1]);
	uint64_t next = 100;
	mdbus_sub_t *s, *t;
	int got = 0;

	publish(p, 0, 700);
	archive_range(dirs[1], "live", 0, 500);
	mdbus_pub_archive_progress(p, 500, 0);
	s = sub_open("live", MDBUS_START_SEQ, 0, NULL, 0);
	read_range(s, 0, 500, 0);
	nothing_more(s); /* 500..635 are coming to the archive: wait */
	TU_CHECK_EQ(mdbus_sub_position(s), 500);
	archive_range(dirs[1], "live", 500, 700);
	mdbus_pub_archive_progress(p, 700, 0);
	read_range(s, 500, 700, 0);
	publish(p, 700, 710);
	read_range(s, 700, 710, 0);
	TU_CHECK_EQ(mdbus_sub_replaying(s), 0);
	/* lapped: 3 rings published while it reads nothing */
	publish(p, 710, 710 + 3 * RING);
	archive_range(dirs[1], "live", 710, 710 + 3 * RING);
	mdbus_pub_archive_progress(p, 710 + 3 * RING, 0);
	read_range(s, 710, 710 + 3 * RING, 0);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);

	/* by time: the first stamped at or after 301 ns is seq 300 */
	read_from("live", MDBUS_START_TIME, 301, 300, 310);
	/* a time before everything: from the first message */
	read_from("live", MDBUS_START_TIME, 0, 0, 3);
	/* the archive handed over in place */
	t = sub_open("live", MDBUS_START_SEQ, 100, NULL, 0);
	while (got < 50) {
		int r = mdbus_sub_poll(t, count_poll, &next, (unsigned)(50 - got));

		TU_CHECK(r > 0);
		got += r;
	}
	TU_CHECK_EQ(next, 150);
	mdbus_sub_close(t);
	/* "" keeps a reader off the archive: the ring only */
	s = sub_open("live", MDBUS_START_SEQ, 0, "", 0);
	read_one(s, 710 + 3 * RING - RING, 710 + 3 * RING - RING);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	tu_note("live: waited for the archive, went live, a lap read back");
}

/* ------------------------------------------------------------ hostile */

static void corrupt_path(const char *channel, const char *path, size_t n)
{
	char seg[512];
	struct seg_header *h;
	size_t size;

	snprintf(seg, sizeof seg, "%s", tu_seg_path(channel));
	h = tu_map_file(seg, &size);
	for (size_t i = 0; i < SEG_ARCHIVE_DIR_MAX / 8; i++) {
		uint64_t w = 0;

		memcpy(&w, path + i * 8, i * 8 < n ? (n - i * 8 < 8 ? n - i * 8 : 8) : 0);
		atomic_store(&h->archive_dir[i], w);
	}
	tu_unmap(h, size);
}

static void t_hostile(void)
{
	mdbus_pub_t *p = pub_open("hostile", dirs[2]);
	char path[512], link[512], full[SEG_ARCHIVE_DIR_MAX];
	mdbus_sub_t *s;

	publish(p, 0, 3 * RING);
	mdbus_pub_archive_progress(p, 3 * RING, 0);
	/* a FIFO under the first file's name: refused, never blocks */
	file_name(path, sizeof path, dirs[2], "hostile", 0);
	TU_CHECK(mkfifo(path, 0600) == 0);
	sub_open("hostile", MDBUS_START_SEQ, 0, NULL, -EINVAL);
	if (!strstr(mdbus_last_error(), "archive file"))
		tu_fail("FIFO: \"%s\"", mdbus_last_error());
	TU_CHECK(unlink(path) == 0);
	/* a file of another user */
	archive_range(dirs[2], "hostile", 0, 3 * RING);
	if (geteuid() == 0) {
		TU_CHECK(chown(path, NOBODY, NOBODY) == 0);
		sub_open("hostile", MDBUS_START_SEQ, 0, NULL, -EPERM);
		TU_CHECK(chown(path, 0, 0) == 0);
	}
	s = sub_open("hostile", MDBUS_START_SEQ, 0, NULL, 0);
	read_range(s, 0, 3 * RING, 0);
	mdbus_sub_close(s);
	/* a symbolic link as the directory */
	snprintf(link, sizeof link, "%s/link", tu_dir());
	TU_CHECK(symlink(dirs[2], link) == 0);
	sub_open("hostile", MDBUS_START_SEQ, 0, link, -ELOOP);
	if (!strstr(mdbus_last_error(), "symbolic link"))
		tu_fail("symlink: \"%s\"", mdbus_last_error());
	/* what the header says is checked before it is used */
	corrupt_path("hostile", "relative/dir", 13);
	sub_open("hostile", MDBUS_START_SEQ, 0, NULL, MDBUS_ECORRUPT);
	memset(full, 'x', sizeof full);
	full[0] = '/';
	corrupt_path("hostile", full, sizeof full);
	sub_open("hostile", MDBUS_START_SEQ, 0, NULL, MDBUS_ECORRUPT);
	/* the start in the ring: the header's path is not even read */
	s = sub_open("hostile", MDBUS_START_OLDEST, 0, NULL, 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	tu_note("hostile archives refused");
}

/* ----------------------------------------------- many files, one listing */

#define MANY 2000 /* files of 3 messages */

static void t_many(void)
{
	mdbus_pub_t *p = pub_open("many", dirs[3]);
	unsigned before;
	mdbus_sub_t *s;

	for (uint64_t f = 0; f < MANY; f++)
		archive_range(dirs[3], "many", 3 * f, 3 * f + 3);
	publish(p, 0, 3 * MANY + 10);
	mdbus_pub_archive_progress(p, 3 * MANY, 0);
	before = listings;
	s = sub_open("many", MDBUS_START_SEQ, 0, NULL, 0);
	read_range(s, 0, 3 * MANY + 10, 0);
	TU_CHECK_EQ(mdbus_sub_replaying(s), 0);
	nothing_more(s);
	mdbus_sub_close(s);
	if (listings - before > 2)
		tu_fail("%u files read with %u listings of the directory",
			MANY, listings - before);
	/* from the middle, by sequence and by time: one listing each */
	before = listings;
	read_from("many", MDBUS_START_SEQ, 3001, 3001, 3100);
	read_from("many", MDBUS_START_TIME, 4502, 4501, 4600);
	TU_CHECK_EQ(listings - before, 2);
	mdbus_pub_close(p);
	tu_note("%u files: every message once, one listing", MANY);
}

/* ------------------------------------------------- records out of place */

/* A file named for first (stamped at ns) holding records seqs. */
static void forged(const char *dir, const char *channel, uint64_t first,
		   uint64_t ns, const uint64_t *seqs, size_t n, char *path,
		   size_t len)
{
	snprintf(path, len, "%s/%s.%016llx.%020llu.19700101T000000.%09lluZ.rec",
		 dir, channel, (unsigned long long)epoch_of(channel),
		 (unsigned long long)first, (unsigned long long)ns);
	archive_seqs(path, channel, seqs, n);
}

/* The next read fails with MDBUS_ECORRUPT, naming path's file and why. */
static void read_corrupt(mdbus_sub_t *s, const char *path, const char *why)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	const char *name = strrchr(path, '/') + 1;

	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 2000000000LL),
		    MDBUS_ECORRUPT);
	if (!strstr(mdbus_last_error(), name) || !strstr(mdbus_last_error(), why))
		tu_fail("corrupt: \"%s\", want %s and \"%s\"",
			mdbus_last_error(), name, why);
}

static void t_far(void)
{
	static const uint64_t far[] = { 1000000000000ULL };
	uint64_t oo[101], next = 90;
	char path[512], path2[512];
	mdbus_pub_t *p;
	mdbus_sub_t *s;

	/* a reader's own directory (nothing announced: the files are all
	 * it knows): a record far ahead would have sent it to wait in the
	 * ring for a message that never comes */
	p = pub_open("far", NULL);
	publish(p, 0, 400);
	archive_range(dirs[4], "far", 0, 100);
	forged(dirs[4], "far", 100, 101, far, 1, path, sizeof path);
	archive_range(dirs[4], "far", 200, 300);
	s = sub_open("far", MDBUS_START_SEQ, 0, dirs[4], 0);
	read_range(s, 0, 100, 0);
	read_corrupt(s, path, "past everything the channel published");
	read_range(s, 200, 300, 100);
	read_range(s, 400 - RING, 400, 400 - RING - 300);
	TU_CHECK_EQ(mdbus_sub_lost(s), 100 + 400 - RING - 300);
	nothing_more(s);
	mdbus_sub_close(s);
	mdbus_pub_close(p);

	/* announced: a name far ahead, stamped before everything, would be
	 * the file a start by time picks; a record out of order ends its
	 * file */
	p = pub_open("farname", dirs[5]);
	publish(p, 0, 700);
	for (int i = 0; i < 100; i++)
		oo[i] = (uint64_t)i;
	oo[100] = 50;
	snprintf(path2, sizeof path2, "x");
	forged(dirs[5], "farname", 0, 1, oo, 101, path2, sizeof path2);
	archive_range(dirs[5], "farname", 100, 500);
	forged(dirs[5], "farname", far[0], 0, far, 1, path, sizeof path);
	mdbus_pub_archive_progress(p, 500, 0);
	s = sub_open("farname", MDBUS_START_TIME, 51, NULL, 0);
	read_corrupt(s, path, "past everything published");
	read_range(s, 50, 100, 0);
	read_corrupt(s, path2, "record 50 after record 99: out of order");
	read_range(s, 100, 500, 0);
	mdbus_pub_close(p); /* 500..635: nothing left to wait for */
	read_range(s, 700 - RING, 700, 700 - RING - 500);
	TU_CHECK_EQ(mdbus_sub_lost(s), 700 - RING - 500);
	nothing_more(s);
	mdbus_sub_close(s);
	/* mdbus_sub_poll(): the batch that meets the corruption returns what
	 * it read, the next poll MDBUS_ECORRUPT */
	s = sub_open("farname", MDBUS_START_SEQ, 90, NULL, 0);
	TU_CHECK_RC(mdbus_sub_poll(s, count_poll, &next, 50), MDBUS_ECORRUPT);
	TU_CHECK_RC(mdbus_sub_poll(s, count_poll, &next, 50), 10);
	TU_CHECK_RC(mdbus_sub_poll(s, count_poll, &next, 50), MDBUS_ECORRUPT);
	if (!strstr(mdbus_last_error(), "out of order"))
		tu_fail("poll: \"%s\"", mdbus_last_error());
	TU_CHECK_RC(mdbus_sub_poll(s, count_poll, &next, 50), 50);
	TU_CHECK_EQ(next, 150);
	mdbus_sub_close(s);
	tu_note("records and names out of place: corrupt, said once, exact loss");
}

/* ------------------------------------------------ a buffer too small */

static void t_short_buffer(void)
{
	mdbus_pub_t *p = pub_open("short", dirs[6]);
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	mdbus_sub_t *s;

	publish(p, 0, 700);
	archive_range(dirs[6], "short", 0, 500);
	mdbus_pub_archive_progress(p, 500, 0);
	s = sub_open("short", MDBUS_START_SEQ, 0, NULL, 0);
	TU_CHECK_EQ(mdbus_sub_replaying(s), 1);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, 0, &m), -EMSGSIZE);
	TU_CHECK_EQ(m.size, tu_size_for(0, PMIN, PMAX));
	TU_CHECK_EQ(mdbus_sub_position(s), 0);
	read_range(s, 0, 500, 0);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	tu_note("short buffer: -EMSGSIZE, then the same message");
}

/* --------------------- mdbus_sub_poll() lapped, a ring of whole pages */

#define FB_TOP (10 + 3 * RING) /* published before the poll */

struct fell {
	mdbus_pub_t *p;
	uint64_t next, back;
};

/* Every message once, in order, nothing lost; at the ring's oldest
 * message (which the archive hands over) the producer publishes and
 * archives a ring more, as a producer would while a handler runs: the
 * ring's copy of that message is overwritten during the call. */
static int fell_poll(void *arg, const struct mdbus_msg *m, const void *payload)
{
	struct fell *f = arg;
	const char *bad;

	if (!payload) {
		f->back++;
		return 0;
	}
	if (m->seq != f->next || m->lost)
		tu_fail("fell back: seq %llu lost %llu, want %llu lost 0",
			(unsigned long long)m->seq, (unsigned long long)m->lost,
			(unsigned long long)f->next);
	if ((bad = tu_msg_bad(m, payload, PMIN, PMAX)))
		tu_fail("fell back: %s", bad);
	if (m->seq == FB_TOP - RING) {
		publish(f->p, FB_TOP, FB_TOP + RING);
		archive_range(dirs[7], "pollfb", FB_TOP, FB_TOP + RING);
		mdbus_pub_archive_progress(f->p, FB_TOP + RING, 0);
	}
	f->next++;
	return 0;
}

static void t_poll_fell_back(void)
{
	/* 32 slots of 128 bytes a block: whole pages */
	struct mdbus_pub_config c = tu_config(SLOT, 32, 2, MDBUS_MODE_OVERWRITE);
	struct fell f = { .next = 0 };
	mdbus_sub_t *s;
	int r;

	c.archive_dir = dirs[7];
	f.p = tu_pub_open("pollfb", &c);
	publish(f.p, 0, 10);
	archive_range(dirs[7], "pollfb", 0, 10);
	mdbus_pub_archive_progress(f.p, 10, 0);
	/* the archive named: open while the ring holds the start */
	s = sub_open("pollfb", MDBUS_START_SEQ, 0, dirs[7], 0);
	TU_CHECK_EQ(mdbus_sub_replaying(s), 0); /* in the ring */
	/* lapped three times over; the archive has it all */
	publish(f.p, 10, FB_TOP);
	archive_range(dirs[7], "pollfb", 10, FB_TOP);
	mdbus_pub_archive_progress(f.p, FB_TOP, 0);
	/* one call: the lap, the archive to its end, then the ring */
	r = mdbus_sub_poll(s, fell_poll, &f, 1000);
	if (f.back || mdbus_sub_lost(s))
		tu_fail("fell back: %llu taken back, %llu lost, of the "
			"archive's messages", (unsigned long long)f.back,
			(unsigned long long)mdbus_sub_lost(s));
	TU_CHECK_EQ(r, FB_TOP + RING);
	TU_CHECK_EQ(f.next, FB_TOP + RING);
	TU_CHECK_EQ(mdbus_sub_replaying(s), 0);
	TU_CHECK_RC(mdbus_sub_poll(s, fell_poll, &f, 1000), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(f.p);
	tu_note("poll lapped in a ring of whole pages: the archive, nothing "
		"taken back");
}

/* ------------------------------------ archive, then a lossless ring */

static void t_lossless(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, 16, 4, MDBUS_MODE_LOSSLESS);
	unsigned char buf[PMAX];
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	uint64_t n;
	int r;

	/* no reader: the producer's last look at the table was at 128 */
	p = tu_pub_open("lossless", &c);
	publish(p, 0, 130);
	/* the reader's own archive (not announced) holds 0..99; the ring
	 * 66..129 */
	archive_range(dirs[8], "lossless", 0, 100);
	s = sub_open("lossless", MDBUS_START_SEQ, 0, dirs[8], 0);
	TU_CHECK_EQ(mdbus_sub_replaying(s), 1);
	read_range(s, 0, 102, 0);
	TU_CHECK_EQ(mdbus_sub_replaying(s), 0);
	/* at 102: the producer may write up to 102 + RING - 1 */
	for (n = 130; (r = tu_publish_seq(p, n, buf, PMIN, PMAX)) == 0; n++)
		TU_CHECK(n < 102 + 2 * RING);
	TU_CHECK_RC(r, MDBUS_EBACKPRESSURE);
	if (n != 102 + RING)
		tu_fail("lossless after the archive: the producer wrote up to "
			"%llu with the reader at 102, a ring is up to %d",
			(unsigned long long)n - 1, 102 + RING - 1);
	read_range(s, 102, n, 0);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	tu_note("lossless after the archive: the reader gates the producer");
}

int main(void)
{
	tu_init("t_replay", 60);
	for (int i = 0; i < NDIRS; i++) {
		snprintf(dirs[i], sizeof dirs[i], "%s/archive%d", tu_dir(), i);
		TU_CHECK(mkdir(dirs[i], 0750) == 0);
	}
	t_gap_dead();
	t_live();
	t_hostile();
	t_many();
	t_far();
	t_short_buffer();
	t_poll_fell_back();
	t_lossless();
	return 0;
}
