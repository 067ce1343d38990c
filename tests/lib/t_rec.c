/*
 * t_rec.c - the recording codec (mdbus_rec.h) against the format of
 * doc/protocol.md: a round trip of 10 000 records of every size pattern
 * with exact fields and checksummed payloads; the exact byte layout of the
 * header and a record; a file cut at every byte of its last record reads
 * every whole record and then MDBUS_ETRUNCATED, and reads on once the
 * rest is appended; loss from sequence jumps (none after 2^64 - 1, whose
 * next number wraps: before, 2 after it read as 2 lost); -EMSGSIZE keeps the
 * position; hostile files (bad magic, other major, absurd header size or
 * record size, unterminated channel, a FIFO, a symbolic link, a hard link)
 * are refused without hanging; a failed write is sticky (RLIMIT_FSIZE).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdbus.h"
#include "mdbus_msg.h"
#include "mdbus_rec.h"
#include "rec_format.h"
#include "testutil.h"

#define RECORDS 10000u

static char path[512];

static const char *file(const char *name)
{
	snprintf(path, sizeof path, "%s/%s", tu_dir(), name);
	return path;
}

static void info_init(struct mdbus_rec_info *info)
{
	memset(info, 0, sizeof *info);
	strcpy(info->channel, "feed.a");
	info->msg_version = MDBUS_MSG_VERSION;
	info->slot_size = 256;
	info->slots_per_block = 4096;
	info->block_count = 16;
	info->mode = MDBUS_MODE_LOSSLESS;
	info->create_ns = 1234567890123ULL;
}

/* Record i: seq 100 + i except a jump of 5 after record 99, size i % 300
 * (every 1000th of 64 KiB), bytes derived from i. */
static uint64_t seq_of(unsigned i) { return 100 + i + (i >= 100 ? 5 : 0); }
static uint32_t size_of(unsigned i) { return i % 1000 == 999 ? 65536 : i % 300; }
static unsigned char byte_of(unsigned i, uint32_t k) { return (unsigned char)(i * 31 + k * 7); }

static void write_file(const char *p, unsigned n)
{
	static unsigned char payload[65536];
	struct mdbus_rec_writer *w;
	struct mdbus_rec_info info;

	info_init(&info);
	TU_CHECK_RC(mdbus_rec_create(&w, p, &info, 0), 0);
	for (unsigned i = 0; i < n; i++) {
		struct mdbus_msg m = { .seq = seq_of(i), .ts_ns = 1000 * i,
				       .size = size_of(i), .type = (uint16_t)(i % 7) };

		for (uint32_t k = 0; k < m.size; k++)
			payload[k] = byte_of(i, k);
		TU_CHECK_RC(mdbus_rec_write(w, &m, payload), 0);
	}
	TU_CHECK_RC(mdbus_rec_finish(w), 0);
}

/* Reads records [from, n) and checks each field and byte. */
static void expect_records(mdbus_rec_reader_t *r, unsigned from, unsigned n)
{
	static unsigned char buf[65536];
	struct mdbus_msg m;

	for (unsigned i = from; i < n; i++) {
		TU_CHECK_RC(mdbus_rec_read(r, buf, sizeof buf, &m), 0);
		TU_CHECK_EQ(m.seq, seq_of(i));
		TU_CHECK_EQ(m.ts_ns, 1000 * i);
		TU_CHECK_EQ(m.size, size_of(i));
		TU_CHECK_EQ(m.type, i % 7);
		TU_CHECK_EQ(m.lost, i == 100 ? 5 : 0);
		for (uint32_t k = 0; k < m.size; k++)
			if (buf[k] != byte_of(i, k))
				tu_fail("record %u byte %u differs", i, k);
	}
}

static void t_round_trip(void)
{
	struct mdbus_rec_info info;
	mdbus_rec_reader_t *r;
	struct mdbus_msg m;
	unsigned char small[8];

	write_file(file("rt.rec"), RECORDS);
	TU_CHECK_RC(mdbus_rec_open(&r, path, &info), 0);
	TU_CHECK(strcmp(info.channel, "feed.a") == 0);
	TU_CHECK_EQ(info.format_major, MDBUS_REC_FORMAT_MAJOR);
	TU_CHECK_EQ(info.format_minor, MDBUS_REC_FORMAT_MINOR);
	TU_CHECK_EQ(info.msg_version, MDBUS_MSG_VERSION);
	TU_CHECK_EQ(info.slot_size, 256);
	TU_CHECK_EQ(info.slots_per_block, 4096);
	TU_CHECK_EQ(info.block_count, 16);
	TU_CHECK_EQ(info.mode, MDBUS_MODE_LOSSLESS);
	TU_CHECK_EQ(info.create_ns, 1234567890123ULL);
	expect_records(r, 0, 20);
	/* record 20 has 20 bytes: too big for 8, position kept */
	TU_CHECK_RC(mdbus_rec_read(r, small, sizeof small, &m), -EMSGSIZE);
	TU_CHECK_EQ(m.size, 20);
	expect_records(r, 20, RECORDS);
	TU_CHECK_RC(mdbus_rec_read(r, small, sizeof small, &m), -ENODATA);
	TU_CHECK_RC(mdbus_rec_read(r, small, sizeof small, &m), -ENODATA);
	TU_CHECK_RC(mdbus_rec_rewind(r), 0);
	expect_records(r, 0, RECORDS);
	mdbus_rec_close(r);
}

static void read_exact(int fd, void *buf, size_t n)
{
	TU_CHECK_EQ(read(fd, buf, n), n);
}

/* The bytes on disk, field by field, as doc/protocol.md describes them. */
static void t_layout(void)
{
	static const unsigned char payload[3] = {0xaa, 0xbb, 0xcc};
	struct mdbus_msg m = { .seq = 0x0102030405060708ULL, .ts_ns = 0x1122334455667788ULL,
			       .size = 3, .type = 0x0a0b };
	unsigned char h[120], rec[27], want[27] = {
		3, 0, 0, 0, 0x0b, 0x0a, 0, 0,
		8, 7, 6, 5, 4, 3, 2, 1,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
		0xaa, 0xbb, 0xcc };
	struct mdbus_rec_writer *w;
	struct mdbus_rec_info info;
	int fd;

	info_init(&info);
	TU_CHECK_RC(mdbus_rec_create(&w, file("layout.rec"), &info, 0), 0);
	TU_CHECK_RC(mdbus_rec_write(w, &m, payload), 0);
	TU_CHECK_RC(mdbus_rec_finish(w), 0);
	fd = open(path, O_RDONLY);
	TU_CHECK(fd >= 0);
	read_exact(fd, h, sizeof h);
	read_exact(fd, rec, sizeof rec);
	TU_CHECK_EQ(read(fd, h, 1), 0);
	close(fd);
	TU_CHECK(memcmp(h, "MDBUSREC", 8) == 0);
	TU_CHECK_EQ(h[8] | h[9] << 8 | h[10] << 16 | (unsigned)h[11] << 24, 0x10000);
	TU_CHECK_EQ(h[12], MDBUS_MSG_VERSION);
	TU_CHECK(memcmp(h + 16, "feed.a\0", 7) == 0);
	TU_CHECK_EQ(h[88] | h[89] << 8, 256);        /* slot_size */
	TU_CHECK_EQ(h[92] | h[93] << 8, 4096);       /* slots_per_block */
	TU_CHECK_EQ(h[96], 16);                      /* block_count */
	TU_CHECK_EQ(h[100], 1);                      /* mode */
	TU_CHECK_EQ(h[112], 120);                    /* header_size */
	TU_CHECK(memcmp(rec, want, sizeof want) == 0);
}

/* Cuts a copy of a 3-record file at every byte of its last record. */
static void t_cut(void)
{
	static unsigned char whole[1 << 16];
	unsigned char buf[512];
	struct mdbus_msg m;
	mdbus_rec_reader_t *r;
	ssize_t len;
	int fd;

	write_file(file("three.rec"), 3);
	fd = open(path, O_RDONLY);
	len = read(fd, whole, sizeof whole);
	close(fd);
	TU_CHECK_EQ(len, 120 + 3 * 24 + 0 + 1 + 2);
	for (ssize_t cut = len - 24 - 2 + 1; cut < len; cut++) {
		fd = open(file("cut.rec"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		TU_CHECK_EQ(write(fd, whole, (size_t)cut), cut);
		TU_CHECK_RC(mdbus_rec_open(&r, path, NULL), 0);
		expect_records(r, 0, 2);
		TU_CHECK_RC(mdbus_rec_read(r, buf, sizeof buf, &m), MDBUS_ETRUNCATED);
		TU_CHECK_EQ(mdbus_rec_offset(r), 120 + 2 * 24 + 1);
		/* the writer goes on: the reader picks up where it stopped */
		TU_CHECK_EQ(write(fd, whole + cut, (size_t)(len - cut)), len - cut);
		expect_records(r, 2, 3);
		TU_CHECK_RC(mdbus_rec_read(r, buf, sizeof buf, &m), -ENODATA);
		mdbus_rec_close(r);
		close(fd);
	}
	for (ssize_t cut = 0; cut < 120; cut++) {
		fd = open(file("cut.rec"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		TU_CHECK_EQ(write(fd, whole, (size_t)cut), cut);
		close(fd);
		TU_CHECK_RC(mdbus_rec_open(&r, path, NULL), MDBUS_ETRUNCATED);
	}
}

/* Writes the 120-byte header h plus extra bytes to name; opens it. */
static int open_forged(const char *name, const struct rec_header *h,
		       const void *extra, size_t n, mdbus_rec_reader_t **r)
{
	int fd = open(file(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	TU_CHECK_EQ(write(fd, h, sizeof *h), sizeof *h);
	if (n)
		TU_CHECK_EQ(write(fd, extra, n), n);
	close(fd);
	return mdbus_rec_open(r, path, NULL);
}

static void t_hostile(void)
{
	struct rec_header good, h;
	struct rec_record big = { .size = MDBUS_REC_PAYLOAD_MAX + 1 };
	unsigned char buf[64];
	mdbus_rec_reader_t *r;
	struct mdbus_msg m;

	memset(&good, 0, sizeof good);
	memcpy(good.magic, REC_MAGIC, REC_MAGIC_LEN);
	good.version = REC_VERSION;
	good.header_size = sizeof good;
	strcpy(good.channel, "x");
	h = good;
	h.magic[7] = 'X';
	TU_CHECK_RC(open_forged("magic.rec", &h, NULL, 0, &r), MDBUS_EBADMAGIC);
	h = good;
	h.version = 2u << 16;
	TU_CHECK_RC(open_forged("v2.rec", &h, NULL, 0, &r), MDBUS_EVERSION);
	h = good;
	h.version = REC_VERSION + 1; /* a later minor reads */
	TU_CHECK_RC(open_forged("minor.rec", &h, NULL, 0, &r), 0);
	mdbus_rec_close(r);
	h = good;
	h.header_size = 100;
	TU_CHECK_RC(open_forged("hsmall.rec", &h, NULL, 0, &r), MDBUS_ECORRUPT);
	h.header_size = 0xffffffffu;
	TU_CHECK_RC(open_forged("hbig.rec", &h, NULL, 0, &r), MDBUS_ECORRUPT);
	h.header_size = 200; /* announced, not there */
	TU_CHECK_RC(open_forged("hcut.rec", &h, NULL, 0, &r), MDBUS_ETRUNCATED);
	h = good;
	memset(h.channel, 'c', sizeof h.channel);
	TU_CHECK_RC(open_forged("chan.rec", &h, NULL, 0, &r), MDBUS_ECORRUPT);
	TU_CHECK_RC(open_forged("big.rec", &good, &big, sizeof big, &r), 0);
	TU_CHECK_RC(mdbus_rec_read(r, buf, sizeof buf, &m), MDBUS_ECORRUPT);
	TU_CHECK_RC(mdbus_rec_read(r, buf, sizeof buf, &m), MDBUS_ECORRUPT);
	mdbus_rec_close(r);
	TU_CHECK(mkfifo(file("fifo.rec"), 0600) == 0);
	TU_CHECK_RC(mdbus_rec_open(&r, path, NULL), -EINVAL);
	TU_CHECK_RC(mdbus_rec_open(&r, tu_dir(), NULL), -EINVAL);
	TU_CHECK_RC(mdbus_rec_open(&r, file("none.rec"), NULL), -ENOENT);
}

/* Records 1, 2^64 - 1, 2, 5: the loss is 2^64 - 3 before the second
 * (as any jump), none before the third (it goes back), 2 before the
 * fourth. */
static void t_seq_wrap(void)
{
	static const uint64_t seqs[] = {1, UINT64_MAX, 2, 5};
	static const uint64_t lost[] = {0, UINT64_MAX - 2, 0, 2};
	struct mdbus_rec_writer *w;
	struct mdbus_rec_reader *r;
	struct mdbus_rec_info info;
	unsigned char buf[8] = {0};
	struct mdbus_msg m;

	info_init(&info);
	TU_CHECK_RC(mdbus_rec_create(&w, file("wrap.rec"), &info, 0), 0);
	for (size_t i = 0; i < 4; i++) {
		m = (struct mdbus_msg){.seq = seqs[i], .ts_ns = i, .size = 8};
		TU_CHECK_RC(mdbus_rec_write(w, &m, buf), 0);
	}
	TU_CHECK_RC(mdbus_rec_finish(w), 0);
	TU_CHECK_RC(mdbus_rec_open(&r, path, &info), 0);
	for (size_t i = 0; i < 4; i++) {
		TU_CHECK_RC(mdbus_rec_read(r, buf, sizeof buf, &m), 0);
		TU_CHECK_EQ(m.seq, seqs[i]);
		TU_CHECK_EQ(m.lost, lost[i]);
	}
	mdbus_rec_close(r);
}

static void t_create_refuses(void)
{
	struct mdbus_rec_writer *w;
	struct mdbus_rec_info info;
	char target[512];
	struct stat st;

	info_init(&info);
	write_file(file("victim.rec"), 1);
	snprintf(target, sizeof target, "%s", path);
	TU_CHECK(stat(target, &st) == 0);
	TU_CHECK(symlink(target, file("link.rec")) == 0);
	TU_CHECK_RC(mdbus_rec_create(&w, path, &info, 0), -ELOOP);
	TU_CHECK(link(target, file("hard.rec")) == 0);
	TU_CHECK_RC(mdbus_rec_create(&w, path, &info, 0), -EINVAL);
	/* a FIFO nobody reads: refused as one with a reader is (it was
	 * -ENXIO, "No such device or address") */
	TU_CHECK_RC(mdbus_rec_create(&w, file("fifo.rec"), &info, 0), -EINVAL);
	TU_CHECK(strstr(mdbus_last_error(), "fifo.rec is not a regular file") != NULL);
	TU_CHECK_RC(mdbus_rec_create(&w, tu_dir(), &info, 0), -EISDIR);
	TU_CHECK_RC(mdbus_rec_create(&w, file("rt.rec"), &info, MDBUS_REC_EXCL), -EEXIST);
	if (geteuid() == 0) { /* another user's file, planted in our way */
		struct stat pl;

		write_file(file("planted.rec"), 1);
		TU_CHECK(chown(path, 65534, 65534) == 0);
		TU_CHECK_RC(mdbus_rec_create(&w, path, &info, 0), -EPERM);
		TU_CHECK(stat(path, &pl) == 0);
		TU_CHECK_EQ(pl.st_size, st.st_size); /* one record, still */
	}
	{ /* none of it touched the victim */
		struct stat now;

		TU_CHECK(stat(target, &now) == 0);
		TU_CHECK_EQ(now.st_size, st.st_size);
	}
}

/* A write past RLIMIT_FSIZE fails with EFBIG and every later call says so. */
static void t_sticky_failure(void)
{
	static unsigned char payload[4096];
	struct rlimit lim = { 64 * 1024, RLIM_INFINITY };
	struct mdbus_msg m = { .size = sizeof payload };
	struct mdbus_rec_writer *w;
	struct mdbus_rec_info info;
	int rc = 0;

	signal(SIGXFSZ, SIG_IGN);
	info_init(&info);
	TU_CHECK_RC(mdbus_rec_create(&w, file("full.rec"), &info, 0), 0);
	TU_CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	for (unsigned i = 0; i < 1000 && rc == 0; i++) {
		m.seq = i;
		rc = mdbus_rec_write(w, &m, payload);
	}
	TU_CHECK_RC(rc, -EFBIG);
	TU_CHECK_RC(mdbus_rec_write(w, &m, payload), -EFBIG);
	TU_CHECK_RC(mdbus_rec_flush(w), -EFBIG);
	TU_CHECK_RC(mdbus_rec_finish(w), -EFBIG);
	lim.rlim_cur = RLIM_INFINITY;
	TU_CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
}

int main(void)
{
	tu_init("t_rec", 60);
	t_round_trip();
	t_layout();
	t_cut();
	t_hostile();
	t_seq_wrap();
	t_create_refuses();
	t_sticky_failure();
	return 0;
}
