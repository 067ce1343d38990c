/*
 * t_subfd.c - mdbus_sub_fd() in event loops: a reader driven by epoll,
 * then one driven by libev, each gets every message of a paced, bursty
 * lossless publisher in another process (continuity, payloads, nothing
 * lost), its descriptor becomes readable when the publisher stops, and
 * closing the handle ends the helper thread. Its entry's read_num set far
 * ahead in the table, as anyone who may write the table can, does not
 * keep the descriptor from becoming readable for the next message (the
 * helper waited for the forged position: the reader stalled for good).
 * A start by time that steps over a batch of messages before it leaves the
 * descriptor readable for the rest. A reader replaying the channel's
 * archive, caught up with it, the publisher quiet: the archive announcing
 * more makes the descriptor readable (the helper waited for the write
 * count alone: the reader never got the archive's next messages), and
 * so again after a lap sends it back to the archive; and after a read
 * that returned MDBUS_ECORRUPT from the archive (the next read goes on at
 * once), or -EPERM for a file of it that it refused (the helper waited
 * for the archive to move), or after its publisher stopped or was killed
 * while the reader waited for the archive (the reader then goes on in the
 * ring). A reader that names an archive its publisher
 * does not announce gets a readable descriptor at once (the helper waited
 * for archive_next, which nobody moves). A publisher that stops makes the
 * descriptor readable once, not at every re-arm while it stays stopped;
 * a segment left by a killed publisher, its name taken by a new one,
 * makes it readable and the next read returns MDBUS_EREPLACED.
 * A reader that blocks SIGTERM after mdbus_sub_fd() to take it from a
 * signalfd (the helper thread already running) gets it there: before,
 * the helper thread did not block signals and the kernel gave it the
 * SIGTERM, whose default action killed the process (race review).
 * Threaded: also run by TSan.
 */
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "mdbus_rec.h"
#include "testutil.h"

#define SLOT 128
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define MSGS 3000
#define BURST 30

struct shared {
	_Atomic uint32_t ready;
};

static struct shared *sh;
static const char *channel;

/* Bursts of BURST messages, 1 ms apart; then closes (state stopped). */
static int publisher(void *arg)
{
	struct mdbus_pub_config cfg = tu_config(SLOT, 64, 4, MDBUS_MODE_LOSSLESS);
	unsigned char buf[PMAX];
	mdbus_pub_t *p = tu_pub_open(channel, &cfg);
	int r;

	(void)arg;
	tu_await(&sh->ready, 1, 60, "reader attached");
	for (uint64_t n = 0; n < MSGS; n++) {
		while ((r = tu_publish_seq(p, n, buf, 0, PMAX)) == MDBUS_EBACKPRESSURE)
			tu_sleep_ms(0.05);
		TU_CHECK_RC(r, 0);
		if (n % BURST == BURST - 1)
			tu_sleep_ms(1);
	}
	tu_await(&sh->ready, 2, 60, "reader got everything");
	tu_sleep_ms(20);
	mdbus_pub_close(p);
	return 0;
}

/* Threads of this process named as libmdbus names its helpers. */
static int threads(void)
{
	char path[300], comm[32];
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	int n = 0;

	while (d && (e = readdir(d)) != NULL) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && strcmp(comm, "mdbus-fd\n") == 0)
			n++;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

struct reader {
	mdbus_sub_t *s;
	int fd;
	uint64_t next;   /* the next sequence expected */
	int wakeups;
};

/* Re-arms the descriptor, then reads until -EAGAIN, checking each
 * message. */
static void drain(struct reader *rd)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	const char *bad;
	uint64_t v;
	int r;

	rd->wakeups++;
	if (read(rd->fd, &v, sizeof(v)) != sizeof(v))
		tu_fail("readable descriptor has nothing: %s", strerror(errno));
	while ((r = mdbus_sub_try_read(rd->s, buf, sizeof(buf), &m)) == 0) {
		TU_CHECK_EQ(m.seq, rd->next);
		TU_CHECK_EQ(m.lost, 0);
		bad = tu_msg_bad(&m, buf, 0, PMAX);
		if (bad)
			tu_fail("message %llu: %s", (unsigned long long)m.seq, bad);
		rd->next++;
	}
	TU_CHECK_RC(r, -EAGAIN);
}

static void open_reader(struct reader *rd, const char *name)
{
	memset(rd, 0, sizeof(*rd));
	while (access(tu_seg_path(name), F_OK) != 0)
		tu_sleep_ms(1);
	tu_sleep_ms(20); /* the table file too */
	rd->s = tu_sub_open(name, "evloop", MDBUS_START_OLDEST, 0, MDBUS_WAIT_BLOCK);
	TU_CHECK_EQ(threads(), 0);
	rd->fd = mdbus_sub_fd(rd->s);
	if (rd->fd < 0)
		tu_fail("mdbus_sub_fd: %s", mdbus_strerror(rd->fd));
	TU_CHECK_EQ(mdbus_sub_fd(rd->s), rd->fd);
	TU_CHECK_EQ(threads(), 1);
	atomic_store_explicit(&sh->ready, 1, memory_order_release);
}

/* After every message: the stop makes the descriptor readable. */
static int epoll_wait_fd(int fd);

static void finish_reader(struct reader *rd, pid_t pid)
{
	struct mdbus_pub_info info;

	TU_CHECK_EQ(rd->next, MSGS);
	TU_CHECK_EQ(mdbus_sub_lost(rd->s), 0);
	atomic_store_explicit(&sh->ready, 2, memory_order_release);
	for (;;) {
		if (!epoll_wait_fd(rd->fd))
			tu_fail("descriptor not readable after the publisher stopped");
		drain(rd);
		TU_CHECK_RC(mdbus_sub_pub_info(rd->s, &info), 0);
		if (info.state == MDBUS_PUB_STOPPED)
			break;
	}
	tu_wait_ok(pid, 60, "publisher");
	tu_note("%d wake-ups for %d messages", rd->wakeups, MSGS);
	mdbus_sub_close(rd->s);
	TU_CHECK_EQ(threads(), 0);
}

static int epoll_wait_fd(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), n;

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		tu_fail("epoll: %s", strerror(errno));
	n = epoll_wait(ep, &ev, 1, 5000);
	close(ep);
	return n == 1;
}

static void with_epoll(void)
{
	struct reader rd;
	pid_t pid;

	channel = "fd_epoll";
	pid = tu_spawn(publisher, NULL);
	open_reader(&rd, channel);
	while (rd.next < MSGS) {
		if (!epoll_wait_fd(rd.fd))
			tu_fail("epoll: no wake-up for 5 s at message %llu",
				(unsigned long long)rd.next);
		drain(&rd);
	}
	finish_reader(&rd, pid);
}

/* ------------------------------------------------------------ libev */

static struct reader *ev_rd;
static ev_timer ev_deadline;

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	(void)w;
	drain(ev_rd);
	ev_timer_again(loop, &ev_deadline);
	if (ev_rd->next >= MSGS)
		ev_break(loop, EVBREAK_ALL);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	tu_fail("libev: no wake-up for 5 s at message %llu",
		(unsigned long long)ev_rd->next);
}

static void with_libev(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct reader rd;
	ev_io io;
	pid_t pid;

	channel = "fd_libev";
	atomic_store(&sh->ready, 0);
	pid = tu_spawn(publisher, NULL);
	open_reader(&rd, channel);
	ev_rd = &rd;
	ev_io_init(&io, on_readable, rd.fd, EV_READ);
	ev_io_start(loop, &io);
	ev_timer_init(&ev_deadline, on_timeout, 5.0, 5.0);
	ev_timer_start(loop, &ev_deadline);
	ev_run(loop, 0);
	ev_io_stop(loop, &io);
	ev_timer_stop(loop, &ev_deadline);
	ev_loop_destroy(loop);
	finish_reader(&rd, pid);
}

/* The handle's entry: the only one of this process in the table. */
static struct seg_consumer *own_entry(void *tab)
{
	for (unsigned i = 0; i < 64; i++)
		if (cons_pid(atomic_load(&tu_entry(tab, i)->state)) == getpid())
			return tu_entry(tab, i);
	tu_fail("no entry of ours");
	return NULL;
}

static void with_forged_position(void)
{
	struct mdbus_pub_config cfg = tu_config(SLOT, 64, 4, MDBUS_MODE_OVERWRITE);
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	size_t len;
	void *tab;
	int fd;

	channel = "subfd.forged";
	p = tu_pub_open(channel, &cfg);
	s = tu_sub_open(channel, "forged", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	fd = mdbus_sub_fd(s);
	TU_CHECK(fd >= 0);
	TU_CHECK_RC(tu_publish_seq(p, 0, buf, 0, PMAX), 0);
	TU_CHECK_EQ(epoll_wait_fd(fd), 1);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
	(void)!read(fd, &(uint64_t){0}, sizeof(uint64_t));
	tab = tu_map_file(tu_table_path(channel), &len);
	atomic_store(&own_entry(tab)->read_num, 1ULL << 62);
	TU_CHECK_RC(tu_publish_seq(p, 1, buf, 0, PMAX), 0);
	if (!epoll_wait_fd(fd))
		tu_fail("descriptor not readable for message 1 within 5 s "
			"after read_num was set to 2^62 in the table");
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
	TU_CHECK_EQ(m.seq, 1);
	munmap(tab, len);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* A start by time far ahead of the ring's oldest: a read steps over a
 * batch of messages stamped before it and hands control back (-EAGAIN)
 * with the rest still there, the publisher quiet: the descriptor is
 * readable again at once (the helper waited for the write count to move:
 * the reader never got the 3 messages after the time). */
static void with_time_start(void)
{
	struct mdbus_pub_config cfg = tu_config(SLOT, 4096, 2, MDBUS_MODE_OVERWRITE);
	unsigned char buf[PMAX];
	struct mdbus_sub_config sc;
	struct mdbus_msg m;
	mdbus_pub_t *p;
	mdbus_sub_t *s = NULL;
	uint64_t got = 0;
	int fd, r, rounds;

	channel = "subfd.time";
	p = tu_pub_open(channel, &cfg);
	for (uint64_t n = 0; n < 5003; n++) /* stamped n + 1 */
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	mdbus_sub_config_init(&sc);
	sc.dir = tu_dir();
	sc.start = MDBUS_START_TIME;
	sc.start_time_ns = 5001; /* message 5000 on */
	TU_CHECK_RC(mdbus_sub_open(&s, channel, &sc), 0);
	fd = mdbus_sub_fd(s);
	TU_CHECK(fd >= 0);
	for (rounds = 0; got < 3 && rounds < 10; rounds++) {
		if (!epoll_wait_fd(fd))
			tu_fail("descriptor not readable within 5 s with %llu "
				"of the 3 messages read", (unsigned long long)got);
		(void)!read(fd, &(uint64_t){0}, sizeof(uint64_t));
		while ((r = mdbus_sub_try_read(s, buf, sizeof(buf), &m)) == 0) {
			TU_CHECK_EQ(m.seq, 5000 + got);
			got++;
		}
		TU_CHECK_RC(r, -EAGAIN);
	}
	TU_CHECK_EQ(got, 3);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* ------------------------------------------------------ the archive */

#define RING 64 /* tu_config(SLOT, 16, 4, ...): 16 slots x 4 blocks */

/* Whether fd becomes readable within ms (poll(2)). */
static int readable_within(int fd, int ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	int n = poll(&pf, 1, ms);

	if (n < 0)
		tu_fail("poll: %s", strerror(errno));
	return n == 1 && (pf.revents & POLLIN);
}

/* The name of the channel's archive file whose first message is `from`
 * (stamped from + 1), doc/protocol.md "Archive files". */
static void archive_path(char *out, size_t len, const char *dir, uint64_t from)
{
	struct mdbus_stats st;

	TU_CHECK_RC(mdbus_channel_stats(channel, tu_dir(), &st, NULL, 0), 0);
	snprintf(out, len, "%s/%s.%016llx.%020llu.19700101T000000.%09lluZ.rec",
		 dir, channel, (unsigned long long)st.epoch,
		 (unsigned long long)from, (unsigned long long)(from + 1));
}

/* As mdpub's archive does: writes messages [from, to) of
 * tu_publish_seq()'s pattern into a new file of the channel's archive
 * under its documented name (doc/protocol.md, "Archive files"). */
static void archive_file(const char *dir, uint64_t from, uint64_t to)
{
	unsigned char buf[PMAX];
	struct mdbus_rec_info info = { 0 };
	mdbus_rec_writer_t *w;
	struct mdbus_msg m = { 0 };
	char path[512];

	archive_path(path, sizeof path, dir, from);
	strcpy(info.channel, channel);
	TU_CHECK_RC(mdbus_rec_create(&w, path, &info, MDBUS_REC_EXCL), 0);
	for (m.seq = from; m.seq < to; m.seq++) {
		m.ts_ns = m.seq + 1;
		m.size = (uint32_t)tu_size_for(m.seq, 0, PMAX);
		m.type = tu_type_for(m.seq);
		tu_fill(buf, m.size, m.seq);
		TU_CHECK_RC(mdbus_rec_write(w, &m, buf), 0);
	}
	TU_CHECK_RC(mdbus_rec_finish(w), 0);
}

/* archive_file(), then announces that the files go up to `to`. */
static void archive_upto(mdbus_pub_t *p, const char *dir, uint64_t from,
			 uint64_t to)
{
	archive_file(dir, from, to);
	mdbus_pub_archive_progress(p, to, 0);
}

static void publish_upto(mdbus_pub_t *p, uint64_t from, uint64_t to)
{
	unsigned char buf[PMAX];

	for (uint64_t n = from; n < to; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
}

/* Waits up to 5 s for the descriptor, then drains as drain() does;
 * returns how many messages that read. `what` says what it waits for. */
static int wake_and_drain(struct reader *rd, const char *what)
{
	uint64_t before = rd->next;

	if (!readable_within(rd->fd, 5000))
		tu_fail("descriptor not readable within 5 s: %s (reader at %llu, "
			"replaying %d)", what, (unsigned long long)rd->next,
			mdbus_sub_replaying(rd->s));
	drain(rd);
	return (int)(rd->next - before);
}

/*
 * A publisher of `channel` that published 0..699 (the ring holds
 * 636..699) with its archive in a directory of its own (its path in
 * dir), written up to 500 (and, with `far`, a file named far past
 * everything published: corrupt); rd reads from seq 0, in the archive,
 * through its descriptor.
 */
static mdbus_pub_t *archived(char *dir, size_t len, int far, struct reader *rd)
{
	struct mdbus_pub_config cfg = tu_config(SLOT, 16, 4, MDBUS_MODE_OVERWRITE);
	struct mdbus_sub_config sc;
	char path[512];
	mdbus_pub_t *p;

	snprintf(dir, len, "%s/%s.archive", tu_dir(), channel);
	TU_CHECK(mkdir(dir, 0750) == 0);
	cfg.archive_dir = dir;
	p = tu_pub_open(channel, &cfg);
	publish_upto(p, 0, 700);
	archive_upto(p, dir, 0, 500);
	if (far) {
		archive_path(path, sizeof path, dir, 100000000);
		tu_write_file(path, "x", 1);
	}
	memset(rd, 0, sizeof(*rd));
	mdbus_sub_config_init(&sc);
	sc.dir = tu_dir();
	sc.start = MDBUS_START_SEQ;
	TU_CHECK_RC(mdbus_sub_open(&rd->s, channel, &sc), 0);
	TU_CHECK_EQ(mdbus_sub_replaying(rd->s), 1);
	rd->fd = mdbus_sub_fd(rd->s);
	TU_CHECK(rd->fd >= 0);
	return p;
}

/* archived() (no corrupt file) under channel `name`, and rd has read the
 * archive's 500: caught up with it, still in it. */
static mdbus_pub_t *caught_up(const char *name, char *dir, size_t len,
			      struct reader *rd)
{
	mdbus_pub_t *p;

	channel = name;
	p = archived(dir, len, 0, rd);
	TU_CHECK_EQ(wake_and_drain(rd, "the archive's first 500"), 500);
	TU_CHECK_EQ(mdbus_sub_replaying(rd->s), 1);
	return p;
}

/*
 * A reader from seq 0 replays the archive (0..499 written, the ring holds
 * 636..699), the publisher quiet. Caught up with the archive, its reads
 * return -EAGAIN and the descriptor stays unreadable; the archive then
 * writes 500..699: readable, and exactly those 200 are read, the reader
 * back on the ring. Lapped there by 3 rings, it goes back to the archive
 * (at 710, written up to 700): once the archive writes 710..901, the
 * descriptor becomes readable again and exactly those are read.
 */
static void with_archive(void)
{
	struct reader rd;
	char dir[300];
	mdbus_pub_t *p = caught_up("subfd.archive", dir, sizeof dir, &rd);
	int n;

	TU_CHECK_EQ(readable_within(rd.fd, 50), 0);

	archive_upto(p, dir, 500, 700);
	n = wake_and_drain(&rd, "the archive announced 700, the publisher quiet");
	TU_CHECK_EQ(n, 200);
	TU_CHECK_EQ(rd.next, 700);
	TU_CHECK_EQ(mdbus_sub_replaying(rd.s), 0);
	publish_upto(p, 700, 710);
	TU_CHECK_EQ(wake_and_drain(&rd, "10 published on the ring"), 10);

	/* lapped: back to the archive, which is behind (700) */
	publish_upto(p, 710, 710 + 3 * RING);
	TU_CHECK_EQ(wake_and_drain(&rd, "3 rings published"), 0);
	TU_CHECK_EQ(mdbus_sub_replaying(rd.s), 1);
	archive_upto(p, dir, 700, 710 + 3 * RING);
	/* a readiness the switch made may come first, with nothing */
	for (n = 0; rd.next < 710 + 3 * RING && n < 3; n++)
		(void)wake_and_drain(&rd, "the archive announced 902 after a lap");
	TU_CHECK_EQ(rd.next, 710 + 3 * RING);
	TU_CHECK_EQ(mdbus_sub_replaying(rd.s), 0);
	TU_CHECK_EQ(mdbus_sub_lost(rd.s), 0);
	mdbus_sub_close(rd.s);
	mdbus_pub_close(p);
}

/*
 * An archive with a file named far past everything published: the first
 * read returns MDBUS_ECORRUPT (said once), the publisher quiet and the
 * archive done; the next read goes on at once, so the descriptor must be
 * readable again (the helper waited for the archive or the ring to move:
 * the reader never got the archive's 500 messages).
 */
static void with_corrupt_archive(void)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	struct reader rd;
	char dir[300];
	mdbus_pub_t *p;

	channel = "subfd.corrupt";
	p = archived(dir, sizeof dir, 1, &rd);
	TU_CHECK_EQ(readable_within(rd.fd, 5000), 1);
	(void)!read(rd.fd, &(uint64_t){0}, sizeof(uint64_t));
	TU_CHECK_RC(mdbus_sub_try_read(rd.s, buf, sizeof(buf), &m), MDBUS_ECORRUPT);
	TU_CHECK_EQ(wake_and_drain(&rd, "a read returned MDBUS_ECORRUPT, "
				   "the next one goes on"), 500);
	TU_CHECK_EQ(mdbus_sub_replaying(rd.s), 1);
	TU_CHECK_EQ(mdbus_sub_lost(rd.s), 0);
	mdbus_sub_close(rd.s);
	mdbus_pub_close(p);
}

/*
 * A reader that names the archive of a publisher that announces none
 * (archive_dir of its config; the files of 0..639 written, the ring holds
 * 636..699): it starts in the files, which it reads without waiting for
 * an announcement, then the ring. Its descriptor must be readable at once
 * and one drain read all 700, lost 0 (the helper waited for archive_next,
 * which nobody moves: the reader never got a message).
 */
/* Channel `name` (the global `channel`) with messages 0..699 published
 * and a directory for its archive made in dir, which its publisher
 * announces when `announce`. */
static mdbus_pub_t *published_700(const char *name, char *dir, size_t len,
				  int announce)
{
	struct mdbus_pub_config cfg = tu_config(SLOT, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;

	channel = name;
	snprintf(dir, len, "%s/%s.archive", tu_dir(), channel);
	TU_CHECK(mkdir(dir, 0750) == 0);
	if (announce)
		cfg.archive_dir = dir;
	p = tu_pub_open(channel, &cfg);
	publish_upto(p, 0, 700);
	return p;
}

/* A reader of `channel` from seq 0 with the archive in dir (NULL: the
 * announced one). */
static mdbus_sub_t *reader_from_0(const char *dir)
{
	struct mdbus_sub_config sc;
	mdbus_sub_t *s = NULL;

	mdbus_sub_config_init(&sc);
	sc.dir = tu_dir();
	sc.start = MDBUS_START_SEQ;
	sc.archive_dir = dir;
	TU_CHECK_RC(mdbus_sub_open(&s, channel, &sc), 0);
	return s;
}

static void with_named_archive(void)
{
	struct reader rd;
	char dir[300];
	mdbus_pub_t *p = published_700("subfd.named", dir, sizeof dir, 0);

	archive_file(dir, 0, 640);
	memset(&rd, 0, sizeof rd);
	rd.s = reader_from_0(dir);
	TU_CHECK_EQ(mdbus_sub_replaying(rd.s), 1);
	rd.fd = mdbus_sub_fd(rd.s);
	TU_CHECK(rd.fd >= 0);
	TU_CHECK_EQ(wake_and_drain(&rd, "named archive, none announced"), 700);
	TU_CHECK_EQ(mdbus_sub_replaying(rd.s), 0);
	TU_CHECK_EQ(mdbus_sub_lost(rd.s), 0);
	mdbus_sub_close(rd.s);
	mdbus_pub_close(p);
}

/*
 * An archive of 0..199, 200..299 and 300..499 whose middle file has a
 * second link (refused: -EPERM, libmdbus(3) "Replay from the archive"),
 * the publisher quiet and the archive done: the read after the first 200
 * returns -EPERM, and the next one goes on with the third file. The
 * descriptor must be readable again and that read give exactly 300..499,
 * the first with 100 lost (the helper waited for the archive to move:
 * the reader never got them).
 */
static void with_refused_file(void)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	char dir[300], path[512], link2[600];
	mdbus_sub_t *s;
	mdbus_pub_t *p = published_700("subfd.refused", dir, sizeof dir, 1);
	uint64_t v, next = 0;
	int fd, r, got = 0;

	archive_file(dir, 0, 200);
	archive_file(dir, 200, 300);
	archive_upto(p, dir, 300, 500);
	archive_path(path, sizeof path, dir, 200);
	snprintf(link2, sizeof link2, "%s.link", dir);
	TU_CHECK(link(path, link2) == 0);
	s = reader_from_0(NULL);
	fd = mdbus_sub_fd(s);
	TU_CHECK(fd >= 0);
	TU_CHECK_EQ(readable_within(fd, 5000), 1);
	(void)!read(fd, &v, sizeof v);
	while ((r = mdbus_sub_try_read(s, buf, sizeof buf, &m)) == 0)
		TU_CHECK_EQ(m.seq, next++);
	TU_CHECK_RC(r, -EPERM);
	TU_CHECK_EQ(next, 200);
	if (!readable_within(fd, 5000))
		tu_fail("descriptor not readable within 5 s: a read returned "
			"-EPERM for a file, the next one goes on");
	(void)!read(fd, &v, sizeof v);
	next = 300;
	while ((r = mdbus_sub_try_read(s, buf, sizeof buf, &m)) == 0) {
		TU_CHECK_EQ(m.seq, next++);
		TU_CHECK_EQ(m.lost, got++ == 0 ? 100 : 0);
	}
	TU_CHECK_RC(r, -EAGAIN);
	TU_CHECK_EQ(got, 200);
	TU_CHECK_EQ(mdbus_sub_lost(s), 100);
	unlink(link2);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* In a process of its own: a publisher of `channel` with its archive
 * in the directory `arg`, 0..699 published (the ring holds 636..699),
 * the archive written and announced up to 500; then it waits to be
 * killed. */
static int archiving_publisher(void *arg)
{
	struct mdbus_pub_config cfg = tu_config(SLOT, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;

	cfg.archive_dir = arg;
	p = tu_pub_open(channel, &cfg);
	publish_upto(p, 0, 700);
	archive_upto(p, arg, 0, 500);
	atomic_store_explicit(&sh->ready, 1, memory_order_release);
	for (;;)
		tu_sleep_ms(1000);
	return 0;
}

/*
 * A reader from seq 0 reads the archive's 500 and waits for the archive
 * (the ring holds 636..699 only) while its publisher runs. The publisher
 * is then killed (SIGKILL: its state stays active in the header): the
 * next read counts 500..635 lost and reads 636..699 from the ring
 * (libmdbus(3) "Replay from the archive"), so the descriptor must become
 * readable (again, while a read finds the archive still live: the
 * reader looks every 100 ms), and the reads give exactly those 64, the
 * first with 136 lost (the helper waited for the dead archive to move:
 * never).
 */
static void with_killed_archive(void)
{
	unsigned char buf[PMAX];
	struct mdbus_sub_config sc;
	struct mdbus_msg m;
	struct reader rd;
	char dir[300];
	pid_t pid;
	uint64_t v, next = 636;
	int r, n, got = 0;

	channel = "subfd.killed";
	snprintf(dir, sizeof dir, "%s/%s.archive", tu_dir(), channel);
	TU_CHECK(mkdir(dir, 0750) == 0);
	atomic_store_explicit(&sh->ready, 0, memory_order_relaxed);
	pid = tu_spawn(archiving_publisher, dir);
	tu_await(&sh->ready, 1, 60, "publisher and archive ready");
	memset(&rd, 0, sizeof rd);
	mdbus_sub_config_init(&sc);
	sc.dir = tu_dir();
	sc.start = MDBUS_START_SEQ;
	TU_CHECK_RC(mdbus_sub_open(&rd.s, channel, &sc), 0);
	rd.fd = mdbus_sub_fd(rd.s);
	TU_CHECK(rd.fd >= 0);
	TU_CHECK_EQ(wake_and_drain(&rd, "the archive's first 500"), 500);
	TU_CHECK_EQ(readable_within(rd.fd, 50), 0);
	tu_kill_reap(pid);
	/* a readiness may come before the reader's own look at the archive
	 * (every 100 ms) sees it dead: that read finds nothing, and the next
	 * readiness follows (with_stopped_archive()) */
	for (n = 0; n < 5 && got == 0; n++) {
		if (!readable_within(rd.fd, 5000))
			tu_fail("descriptor not readable within 5 s: the "
				"publisher and its archive killed, the ring "
				"holds the rest (%d readiness seen)", n);
		(void)!read(rd.fd, &v, sizeof v);
		while ((r = mdbus_sub_try_read(rd.s, buf, sizeof buf, &m)) == 0) {
			TU_CHECK_EQ(m.seq, next++);
			TU_CHECK_EQ(m.lost, got++ == 0 ? 136 : 0);
		}
		TU_CHECK_RC(r, -EAGAIN);
	}
	TU_CHECK_EQ(got, 64);
	TU_CHECK_EQ(mdbus_sub_replaying(rd.s), 0);
	mdbus_sub_close(rd.s);
}

/*
 * As with_killed_archive(), the publisher stopping (mdbus_pub_close())
 * right after a read that waited for the archive: the state change makes
 * the descriptor readable, but that read still finds the archive live
 * (the reader looks at its publisher every 100 ms) and returns -EAGAIN
 * with nothing; the read after that look counts 500..635 lost and reads
 * 636..699, so the descriptor must become readable again (the helper
 * waited for the stopped archive to move: never).
 */
static void with_stopped_archive(void)
{
	struct reader rd;
	char dir[300];
	int n;

	mdbus_pub_close(caught_up("subfd.stopped", dir, sizeof dir, &rd));
	for (n = 0; n < 5 && mdbus_sub_replaying(rd.s); n++) {
		uint64_t before = rd.next;

		if (!readable_within(rd.fd, 5000))
			tu_fail("descriptor not readable within 5 s: the "
				"publisher and its archive stopped, the ring "
				"holds the rest (reader at %llu, %d readiness "
				"seen)", (unsigned long long)rd.next, n);
		(void)!read(rd.fd, &(uint64_t){0}, sizeof(uint64_t));
		while (mdbus_sub_try_read(rd.s, (unsigned char[PMAX]){0}, PMAX,
					  &(struct mdbus_msg){0}) == 0)
			rd.next = mdbus_sub_position(rd.s);
		if (rd.next != before)
			break;
	}
	TU_CHECK_EQ(mdbus_sub_replaying(rd.s), 0);
	TU_CHECK_EQ(rd.next, 700);
	TU_CHECK_EQ(mdbus_sub_lost(rd.s), 136);
	mdbus_sub_close(rd.s);
}

/*
 * The publisher stops (mdbus_pub_close()) with the reader caught up: the
 * descriptor becomes readable once for the change, and not again until
 * something else happens (the helper compared each later state with the
 * one before the stop and made it readable at every re-arm: 100-300
 * thousand empty readiness a second, a CPU taken). A publisher back on
 * the channel makes it readable again, and its messages are read.
 */
static void with_stopped_idle(void)
{
	struct mdbus_pub_config cfg = tu_config(SLOT, 16, 4, MDBUS_MODE_OVERWRITE);
	struct reader rd;
	mdbus_pub_t *p;
	int n;

	channel = "subfd.idle";
	p = tu_pub_open(channel, &cfg);
	publish_upto(p, 0, 10);
	memset(&rd, 0, sizeof rd);
	rd.s = tu_sub_open(channel, NULL, MDBUS_START_OLDEST, 0, MDBUS_WAIT_BLOCK);
	rd.fd = mdbus_sub_fd(rd.s);
	TU_CHECK(rd.fd >= 0);
	TU_CHECK_EQ(wake_and_drain(&rd, "the first 10"), 10);
	TU_CHECK_EQ(readable_within(rd.fd, 50), 0);
	mdbus_pub_close(p);
	TU_CHECK_EQ(wake_and_drain(&rd, "the publisher stopped"), 0);
	for (n = 0; n < 100 && readable_within(rd.fd, 3); n++)
		drain(&rd);
	if (n)
		tu_fail("descriptor readable %d times in a row with nothing "
			"new after the publisher stopped", n);
	p = tu_pub_open(channel, &cfg);
	publish_upto(p, 10, 15);
	while (rd.next < 15)
		wake_and_drain(&rd, "a publisher back");
	mdbus_pub_close(p);
	mdbus_sub_close(rd.s);
}

/* In a process of its own: a publisher of `channel` that published
 * 0..59 (the ring holds 64), then waits to be killed. */
static int killable_publisher(void *arg)
{
	struct mdbus_pub_config cfg = tu_config(SLOT, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open(channel, &cfg);

	(void)arg;
	publish_upto(p, 0, 60);
	atomic_store_explicit(&sh->ready, 1, memory_order_release);
	for (;;)
		tu_sleep_ms(1000);
	return 0;
}

/*
 * The publisher is killed (its state stays active), the channel's files
 * removed and the channel made again by a new publisher: nobody marks
 * the old segment. The descriptor becomes readable and the next read
 * returns MDBUS_EREPLACED, as a waiting read does (libmdbus(3),
 * "Replacement and reopening"); the reader reopens and reads the new
 * segment. Before, the descriptor never became readable and the reads
 * returned -EAGAIN for ever.
 */
static void with_orphan(void)
{
	struct mdbus_pub_config cfg = tu_config(SLOT, 16, 4, MDBUS_MODE_OVERWRITE);
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	struct reader rd;
	mdbus_pub_t *p;
	uint64_t v;
	pid_t pid;
	int n;

	channel = "subfd.orphan";
	atomic_store_explicit(&sh->ready, 0, memory_order_relaxed);
	pid = tu_spawn(killable_publisher, NULL);
	tu_await(&sh->ready, 1, 60, "publisher ready");
	memset(&rd, 0, sizeof rd);
	rd.s = tu_sub_open(channel, NULL, MDBUS_START_OLDEST, 0, MDBUS_WAIT_BLOCK);
	rd.fd = mdbus_sub_fd(rd.s);
	TU_CHECK(rd.fd >= 0);
	TU_CHECK_EQ(wake_and_drain(&rd, "the first 60"), 60);
	tu_kill_reap(pid);
	TU_CHECK(mdbus_channel_remove(channel, tu_dir(), MDBUS_UNLINK_FORCE) > 0);
	p = tu_pub_open(channel, &cfg);
	if (!readable_within(rd.fd, 5000))
		tu_fail("descriptor not readable within 5 s: the channel made "
			"again by a new publisher");
	TU_CHECK_EQ(read(rd.fd, &v, sizeof v), (ssize_t)sizeof v);
	TU_CHECK_RC(mdbus_sub_try_read(rd.s, buf, sizeof buf, &m), MDBUS_EREPLACED);
	TU_CHECK_RC(mdbus_sub_try_read(rd.s, buf, sizeof buf, &m), MDBUS_EREPLACED);
	TU_CHECK_RC(mdbus_sub_reopen(rd.s, MDBUS_START_OLDEST, 0), 0);
	publish_upto(p, 0, 5);
	rd.next = 0;
	while (rd.next < 5)
		wake_and_drain(&rd, "the new segment's messages");
	/* a message read meanwhile costs one needless readiness, no more */
	for (n = 0; n < 3 && readable_within(rd.fd, 300); n++)
		drain(&rd);
	TU_CHECK(n <= 1);
	TU_CHECK_EQ(rd.next, 5);
	mdbus_pub_close(p);
	mdbus_sub_close(rd.s);
}

/* A reader of `channel` with a descriptor, then SIGTERM blocked and taken
 * from a signalfd: exits 0 once it read the signal there, 4 if none
 * came in 20 s. */
static int signalfd_reader(void *arg)
{
	struct signalfd_siginfo si;
	struct pollfd pf;
	mdbus_sub_t *s;
	sigset_t set;

	(void)arg;
	s = tu_sub_open(channel, "sig", MDBUS_START_LATEST, 0, MDBUS_WAIT_ADAPTIVE);
	TU_CHECK(mdbus_sub_fd(s) >= 0); /* the helper thread starts */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	TU_CHECK_RC(sigprocmask(SIG_BLOCK, &set, NULL), 0);
	pf.fd = signalfd(-1, &set, SFD_CLOEXEC);
	pf.events = POLLIN;
	TU_CHECK(pf.fd >= 0);
	atomic_store(&sh->ready, 1);
	if (poll(&pf, 1, 20000) != 1 ||
	    read(pf.fd, &si, sizeof si) != (ssize_t)sizeof si)
		return 4;
	mdbus_sub_close(s);
	return si.ssi_signo == SIGTERM ? 0 : 5;
}

static void with_signalfd(void)
{
	struct mdbus_pub_config cfg = tu_config(128, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;
	pid_t pid;
	int st;

	channel = "fd.sig";
	p = tu_pub_open(channel, &cfg);
	atomic_store(&sh->ready, 0);
	pid = tu_spawn(signalfd_reader, NULL);
	tu_await(&sh->ready, 1, 20, "the signalfd reader");
	TU_CHECK_RC(kill(pid, SIGTERM), 0);
	st = tu_wait(pid, 20);
	if (tu_died_of(st, SIGTERM))
		tu_fail("a reader that blocked SIGTERM for its signalfd was "
			"killed by it: the descriptor's helper thread took it");
	TU_CHECK_EQ(st, 0);
	tu_note("SIGTERM blocked after mdbus_sub_fd() reaches the signalfd");
	mdbus_pub_close(p);
}

int main(void)
{
	tu_init("t_subfd", 120);
	sh = tu_shared(sizeof(*sh));
	with_epoll();
	with_libev();
	with_forged_position();
	with_time_start();
	with_archive();
	with_corrupt_archive();
	with_named_archive();
	with_refused_file();
	with_stopped_archive();
	with_killed_archive();
	with_stopped_idle();
	with_orphan();
	with_signalfd();
	tu_note("ok");
	return 0;
}
