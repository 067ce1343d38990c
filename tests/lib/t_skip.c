/*
 * t_skip.c - mdbus_pub_skip() (doc/protocol.md, "Skipping"): sequence
 * numbers skipped are counted lost by every reader, exactly, never
 * returned, and the next message carries the new number.
 *
 * 1. Readers at every kind of position (before the skip, in the middle of
 *    a ring's worth of skipped numbers, after a skip of more than a ring,
 *    of exactly a ring) read the next message with msg.lost = what they
 *    missed; a reader opened at the oldest after a skip counts the markers
 *    lost one by one and never returns a marker as a message.
 * 2. A reader waiting in mdbus_sub_read() at the first skipped number is
 *    woken by the message after the skip, lost counted (another process):
 *    blocking (asleep on the futex), and spinning (looking at the slot's
 *    stamp, which the skip's marker makes a later one: lib/sub.c
 *    spin_read()).
 * 3. Lossless: a skip that would pass a registered reader is refused with
 *    MDBUS_EBACKPRESSURE and changes nothing; a claim open is refused; a
 *    skip of more than a ring goes through once every reader has read
 *    everything published.
 * 4. A skip's markers under way (the write count not moved yet, as a
 *    lossless skip stopped part-way by a reader joining among them leaves
 *    them until it is called again): a reader that meets one counts that
 *    slot's message lost and reads the next, which is whole; the skip and
 *    the next message then count exactly the rest. Before, it took the
 *    marker for a write of the skip's last number and jumped a ring back
 *    from there: it counted 64 lost, message 2 never came.
 * 5. Every slot holds a marker of a skip of 2^40, the write count not
 *    moved (its publisher stopped or killed between the markers and the
 *    count): a reader at the write count counts the 2^40 lost in one
 *    read that returns at once (-EAGAIN at the skip's end), and the skip
 *    then done reaches it. Before: it took each marker for a write of one
 *    message, 2^40 reads of one slot each inside that one read (it never
 *    returned; a forged segment could make it 2^62).
 * 6. Not a skip: a batch sealed past the write count, more than a ring
 *    past a reader lapped again soon after its landing: the reader lands
 *    half a ring behind the batch's newest message that it saw, as
 *    doc/protocol.md "Reading" says, and reads from there. With the
 *    stamp taken as a write of pos + capacity there, it landed half a
 *    ring behind the write count, in slots the batch had taken, and went
 *    on one slot a lap: message P + CAP + 1 with CAP + 1 lost, not
 *    P + 3 CAP / 2 + 1 with 3 CAP / 2 + 1.
 * 7. Lossless, a reader with an archive caught up at the write count w
 *    when a skip stopped part-way left its first 3 markers (in the slots
 *    of w .. w + 2): the reader counts the 3 lost and waits at w + 3
 *    (-EAGAIN at once), in the ring. Before: the lap sent it to the
 *    archive (which cannot hold a number never published), whose end
 *    sent it back to the ring at the same place, and again, inside one
 *    read (listing the archive's directory each time), for as long as
 *    the skip stayed stopped.
 * 8. Overwrite, a reader with an archive caught up at the write count
 *    when a skip of 10 (less than a ring) is done: the reader counts the
 *    10 lost in the ring, one a slot, and waits at the skip's end
 *    (-EAGAIN at once), then reads the next message with lost 10. The
 *    ring still holds those numbers' slots (the oldest message is far
 *    behind them), so the archive cannot take the reader there: before,
 *    each lap sent it to the archive and the archive's end back to the
 *    ring, inside one read, for as long as the archive did not pass them.
 * 9. Not a skip: a reader with an archive at P, published, whose slot
 *    holds P + CAP, sealed by a batch and not yet published: the archive
 *    may hold P, but its end sends the reader back to the ring (which
 *    it says still holds P) at once. The reader goes to the archive once
 *    and then waits for the write count (-EAGAIN at P, nothing lost);
 *    before, it went round ring -> archive -> ring inside one read until
 *    the count moved (for ever when the batch's publisher died there).
 *    Once the count moves past P + CAP, it waits for the archive at P.
 * 10. Overwrite, a reader with an archive that read 0, then a skip of
 *    CAP - 1 from CAP under way (its first three markers written, the
 *    count still CAP): they took the slots of messages 0 .. 2, published
 *    and in the archive (a file of 0 .. CAP - 1, archive_next CAP). The
 *    reader at 1 reads 1 .. 3 from the archive, nothing lost: a stamp
 *    past the count is a write under way, which took a published
 *    message. Before, 1 and 2 were counted lost (1 is not below the
 *    oldest by the count, and the marker is not of its slot's class).
 * 11. Case 9 with a blocking reader: a read with a 300 ms timeout sleeps
 *    until the count moves (-ETIMEDOUT, far less than 300 ms of CPU).
 *    Before, the wait saw the count past the reader's position and went
 *    round try_read -> lapped -> -EAGAIN without sleeping: a core busy
 *    for as long as the batch stayed sealed.
 * 12. Case 9 with the publisher gone (its state no longer active): nobody
 *    will move the count, so the second lap at P is the ring's: P counted
 *    lost (1), and P + 1, whole in the ring, is read. Before, the reader
 *    waited at P (-EAGAIN) for as long as no new publisher came, with
 *    the messages after P in the ring.
 * 13. Case 9 with a spinning reader (MDBUS_WAIT_SPIN): an interrupt made
 *    before the read ends it (-EINTR), a read with timeout 0 and one with
 *    300 ms return -ETIMEDOUT, the reader still at P, nothing lost.
 *    Before, the spinning wait saw P's slot holding a later stamp, took
 *    it for "read now" and went round try_read -> lapped -> -EAGAIN
 *    without a look at the bell or the deadline: the read never returned
 *    while the batch stayed sealed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "mdbus_rec.h"
#include "testutil.h"

#define CAP 64u

struct shared {
	_Atomic uint32_t ready;
};

static struct shared *sh;

/* Reads one message, waiting up to 5 s; checks its seq and lost. */
static void expect(mdbus_sub_t *s, uint64_t seq, uint64_t lost)
{
	unsigned char buf[256];
	struct mdbus_msg m;

	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 5000000000LL), 0);
	TU_CHECK_EQ(m.seq, seq);
	TU_CHECK_EQ(m.lost, lost);
	TU_CHECK_EQ(m.type, 7);
}

static void publish(mdbus_pub_t *p)
{
	TU_CHECK_RC(mdbus_pub_publish(p, 7, "x", 1, 0), 0);
}

static void publish_n(mdbus_pub_t *p, uint64_t count)
{
	while (count--)
		publish(p);
}

static void overwrite(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open("skip", &c);
	mdbus_sub_t *a, *b, *o;

	publish(p); /* 0 */
	a = tu_sub_open("skip", "a", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_RC(mdbus_pub_skip(p, 0), 0);
	TU_CHECK_RC(mdbus_pub_skip(p, 9), 0); /* 1..9 */
	TU_CHECK_EQ(mdbus_pub_position(p), 10);
	publish(p); /* 10 */
	expect(a, 10, 9);
	b = tu_sub_open("skip", "b", MDBUS_START_SEQ, 5, MDBUS_WAIT_SPIN);
	expect(b, 10, 5);
	TU_CHECK_RC(mdbus_pub_skip(p, 3 * CAP + 5), 0); /* more than a ring */
	publish(p);
	expect(a, 11 + 3 * CAP + 5, 3 * CAP + 5);
	expect(b, 11 + 3 * CAP + 5, 3 * CAP + 5);
	TU_CHECK_RC(mdbus_pub_skip(p, CAP), 0); /* exactly a ring */
	publish(p);
	expect(a, 12 + 4 * CAP + 5, CAP);
	/* from the oldest: what the ring holds is the markers, then one */
	o = tu_sub_open("skip", "o", MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	expect(o, 12 + 4 * CAP + 5, mdbus_pub_position(p) - 1 -
	       mdbus_sub_position(o));
	TU_CHECK_EQ(mdbus_sub_lost(o), CAP - 2); /* from w - cap + 1 */
	TU_CHECK(mdbus_sub_caught_up(a) && mdbus_sub_caught_up(o));
	mdbus_sub_close(a);
	mdbus_sub_close(b);
	mdbus_sub_close(o);
	mdbus_pub_close(p);
}

/* arg: the enum mdbus_wait it waits with */
static int waiting_reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("skip.w", "w", MDBUS_START_LATEST, 0,
				     *(const enum mdbus_wait *)arg);

	atomic_store(&sh->ready, 1);
	expect(s, 1000, 999);
	mdbus_sub_close(s);
	return 0;
}

static void woken(enum mdbus_wait wait)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open("skip.w", &c);
	pid_t pid;

	atomic_store(&sh->ready, 0);
	publish(p); /* 0 */
	pid = tu_spawn(waiting_reader, &wait);
	tu_await(&sh->ready, 1, 60, "reader");
	tu_sleep_ms(50); /* waiting at 1 */
	TU_CHECK_RC(mdbus_pub_skip(p, 999), 0);
	tu_sleep_ms(20);
	publish(p); /* 1000 */
	tu_wait_ok(pid, 60, "waiting reader");
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("skip.w", tu_dir()), 0);
}

static void lossless(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_LOSSLESS);
	mdbus_pub_t *p = tu_pub_open("skip.ll", &c);
	mdbus_sub_t *s = tu_sub_open("skip.ll", "g", MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_SPIN);
	unsigned char buf[64];
	struct mdbus_msg m;
	void *payload;

	for (int i = 0; i < 10; i++)
		publish(p);
	TU_CHECK_RC(mdbus_pub_skip(p, CAP), MDBUS_EBACKPRESSURE);
	TU_CHECK_RC(mdbus_pub_skip(p, CAP - 10), 0); /* up to a ring ahead */
	TU_CHECK_RC(mdbus_pub_skip(p, 1), MDBUS_EBACKPRESSURE);
	TU_CHECK_EQ(mdbus_pub_position(p), CAP);
	expect(s, 0, 0);
	TU_CHECK_RC(mdbus_pub_skip(p, 1), 0);
	for (int i = 1; i < 10; i++)
		expect(s, (uint64_t)i, 0);
	TU_CHECK_RC(mdbus_pub_claim(p, 8, &payload), 0);
	TU_CHECK_RC(mdbus_pub_skip(p, 1), MDBUS_ECLAIMED);
	TU_CHECK_RC(mdbus_pub_abort(p), 0);
	publish(p); /* CAP + 1 */
	expect(s, CAP + 1, CAP + 1 - 10);
	/* more than a ring: every slot gets a marker, so it needs every
	 * reader caught up (a reader one message behind refuses it), and
	 * then nothing else (before: refused until the reader was evicted) */
	publish(p); /* CAP + 2, unread */
	TU_CHECK_RC(mdbus_pub_skip(p, 3 * CAP + 5), MDBUS_EBACKPRESSURE);
	expect(s, CAP + 2, 0);
	TU_CHECK_RC(mdbus_pub_skip(p, 3 * CAP + 5), 0);
	/* the reader, now more than a ring behind, gates the next publish
	 * until it steps over the markers (a look finds nothing yet) */
	TU_CHECK_RC(mdbus_pub_publish(p, 7, "x", 1, 0), MDBUS_EBACKPRESSURE);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), -EAGAIN);
	publish(p); /* 4 * CAP + 8 */
	expect(s, 4 * CAP + 8, 3 * CAP + 5);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* Stamps writing(to) in the slots of messages from .. from + count - 1, as
 * a skip to `to` from `from` that has not moved the write count yet. */
static void forge_markers(const char *ch, uint64_t from, uint64_t count,
			  uint64_t to)
{
	size_t len;
	void *seg = tu_map_file(tu_seg_path(ch), &len);

	for (uint64_t k = from; k < from + count; k++)
		atomic_store(&tu_slot(seg, k)[SLOT_W_STAMP], stamp_writing(to));
	tu_unmap(seg, len);
}

static void under_way(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open("skip.u", &c);
	mdbus_sub_t *s;
	unsigned char buf[64];
	struct mdbus_msg m;

	publish_n(p, CAP);
	s = tu_sub_open("skip.u", "u", MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_EQ(mdbus_sub_position(s), 0);
	/* the first two markers of a skip of CAP - 1 from CAP, in the slots
	 * of messages 0 and 1 */
	forge_markers("skip.u", CAP, 2, 2 * CAP - 1);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
	TU_CHECK_EQ(m.seq, 2);
	TU_CHECK_EQ(m.lost, 2);
	for (uint64_t i = 3; i < CAP; i++)
		expect(s, i, 0);
	TU_CHECK_RC(mdbus_pub_skip(p, CAP - 1), 0);
	publish(p); /* 2 * CAP - 1 */
	expect(s, 2 * CAP - 1, CAP - 1);
	TU_CHECK_EQ(mdbus_sub_lost(s), CAP + 1);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static void all_marked(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open("skip.a", &c);
	const uint64_t n = 1ULL << 40;
	unsigned left;
	mdbus_sub_t *s;
	unsigned char buf[64];
	struct mdbus_msg m;

	publish_n(p, CAP);
	s = tu_sub_open("skip.a", "a", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_EQ(mdbus_sub_position(s), CAP);
	forge_markers("skip.a", CAP, CAP, CAP + n); /* every slot */
	left = alarm(10); /* the watchdog's message if it walks them */
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), -EAGAIN);
	alarm(left);
	TU_CHECK_EQ(mdbus_sub_position(s), CAP + n);
	TU_CHECK_EQ(mdbus_sub_lost(s), n);
	TU_CHECK_RC(mdbus_pub_skip(p, n), 0);
	publish(p); /* CAP + n */
	expect(s, CAP + n, n);
	TU_CHECK_EQ(mdbus_sub_lost(s), n);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static void batch_landing(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open("skip.b", &c);
	uint64_t w = 10 * CAP + 7, pos, last;
	struct seg_header *h;
	mdbus_sub_t *s;
	size_t len;

	s = tu_sub_open("skip.b", "b", MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	publish_n(p, w);
	expect(s, w - CAP, w - CAP); /* lapped: lands at the oldest */
	pos = w - CAP + 1;
	last = pos + 2 * CAP; /* in pos's slot */
	publish_n(p, last + 1 - w);
	/* the batch from pos + CAP + 1 to last sealed, not yet published */
	h = tu_map_file(tu_seg_path("skip.b"), &len);
	atomic_store(&h->write_num, pos + CAP + 1);
	expect(s, last + 1 - CAP / 2, last + 1 - CAP / 2 - pos);
	expect(s, last + 2 - CAP / 2, 0);
	tu_unmap(h, len);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* A channel `ch` in `mode` with an archive announced in ch's directory
 * (nobody writes it), CAP messages published, and a reader of it with
 * that archive, at `start`, waiting by `wait`. */
static mdbus_pub_t *archived(const char *ch, enum mdbus_mode mode,
			     enum mdbus_start start, enum mdbus_wait wait,
			     mdbus_sub_t **s)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, mode);
	struct mdbus_sub_config sc;
	char dir[512];
	mdbus_pub_t *p;

	snprintf(dir, sizeof dir, "%s/%s.archive", tu_dir(), ch);
	TU_CHECK(mkdir(dir, 0700) == 0);
	c.archive_dir = dir;
	p = tu_pub_open(ch, &c);
	publish_n(p, CAP);
	mdbus_sub_config_init(&sc);
	sc.start = start;
	sc.wait = wait;
	sc.archive_dir = dir;
	sc.dir = tu_dir();
	TU_CHECK_RC(mdbus_sub_open(s, ch, &sc), 0);
	return p;
}

/* A read that must return -EAGAIN at once, not go round for ever. */
static void nothing_yet(mdbus_sub_t *s)
{
	unsigned char buf[64];
	struct mdbus_msg m;
	unsigned left = alarm(10); /* the watchdog's message if it goes round */

	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), -EAGAIN);
	alarm(left);
}

/* nothing_yet(), and the reader is at pos, with lost counted in all,
 * reading the archive or not. */
static void waits_at(mdbus_sub_t *s, uint64_t pos, uint64_t lost, int replaying)
{
	nothing_yet(s);
	TU_CHECK_EQ(mdbus_sub_position(s), pos);
	TU_CHECK_EQ(mdbus_sub_lost(s), lost);
	TU_CHECK_EQ(mdbus_sub_replaying(s), replaying);
}

static void archive_reader(void)
{
	mdbus_sub_t *s = NULL;
	mdbus_pub_t *p = archived("skip.r", MDBUS_MODE_LOSSLESS,
				  MDBUS_START_LATEST,
				  MDBUS_WAIT_ADAPTIVE, &s);

	forge_markers("skip.r", CAP, 3, 2 * CAP + 5);
	waits_at(s, CAP + 3, 3, 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static void archive_done_skip(void)
{
	mdbus_sub_t *s = NULL;
	mdbus_pub_t *p = archived("skip.o", MDBUS_MODE_OVERWRITE,
				  MDBUS_START_LATEST,
				  MDBUS_WAIT_ADAPTIVE, &s);

	TU_CHECK_RC(mdbus_pub_skip(p, 10), 0);
	waits_at(s, CAP + 10, 10, 0);
	publish_n(p, 1);
	expect(s, CAP + 10, 10);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* An archived channel `ch` whose reader (waiting by `wait`) read 0 and 1,
 * then CAP .. CAP + 2 written in the slots of 0 .. 2 and sealed, not yet
 * published (write_num CAP): its header mapped (*h, *len). */
static mdbus_pub_t *sealed(const char *ch, enum mdbus_wait wait,
			   mdbus_sub_t **s, struct seg_header **h, size_t *len)
{
	mdbus_pub_t *p = archived(ch, MDBUS_MODE_OVERWRITE, MDBUS_START_OLDEST,
				  wait, s);

	expect(*s, 0, 0);
	expect(*s, 1, 0);
	publish_n(p, 3);
	*h = tu_map_file(tu_seg_path(ch), len);
	atomic_store(&(*h)->write_num, CAP);
	return p;
}

static void archive_sealed_batch(void)
{
	mdbus_sub_t *s = NULL;
	struct seg_header *h;
	size_t len;
	mdbus_pub_t *p = sealed("skip.s", MDBUS_WAIT_ADAPTIVE, &s, &h, &len);

	nothing_yet(s);
	waits_at(s, 2, 0, 0);
	atomic_store(&h->write_num, CAP + 3); /* published */
	tu_unmap(h, len);
	/* now the ring no longer holds 2: the archive's, which the reader
	 * waits for (the publisher announces it), nothing counted lost */
	waits_at(s, 2, 0, 1);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* The archive file of `ch` holding messages [0, n) as publish() writes
 * them (doc/protocol.md, "Archive files"), in `dir`. */
static void archive_file(const char *dir, const char *ch, uint64_t n)
{
	struct mdbus_rec_info info;
	mdbus_rec_writer_t *w;
	struct mdbus_stats st;
	struct mdbus_msg m;
	char path[1024];

	TU_CHECK_RC(mdbus_channel_stats(ch, tu_dir(), &st, NULL, 0), 0);
	snprintf(path, sizeof path, "%s/%s.%016llx.%020llu.19700101T000000."
		 "000000001Z.rec", dir, ch, (unsigned long long)st.epoch, 0ULL);
	memset(&info, 0, sizeof info);
	strcpy(info.channel, ch);
	TU_CHECK_RC(mdbus_rec_create(&w, path, &info, MDBUS_REC_EXCL), 0);
	for (uint64_t i = 0; i < n; i++) {
		memset(&m, 0, sizeof m);
		m.seq = i;
		m.ts_ns = i + 1;
		m.size = 1;
		m.type = 7;
		TU_CHECK_RC(mdbus_rec_write(w, &m, "x"), 0);
	}
	TU_CHECK_RC(mdbus_rec_finish(w), 0);
}

static void archive_skip_under_way(void)
{
	mdbus_sub_t *s = NULL;
	mdbus_pub_t *p = archived("skip.uw", MDBUS_MODE_OVERWRITE,
				  MDBUS_START_OLDEST, MDBUS_WAIT_ADAPTIVE, &s);
	char dir[512];

	snprintf(dir, sizeof dir, "%s/skip.uw.archive", tu_dir());
	archive_file(dir, "skip.uw", CAP);
	mdbus_pub_archive_progress(p, CAP, 0);
	expect(s, 0, 0);
	forge_markers("skip.uw", CAP, 3, 2 * CAP - 1);
	expect(s, 1, 0);
	expect(s, 2, 0);
	expect(s, 3, 0);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static double cpu_seconds(void)
{
	struct timespec t;

	TU_CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) == 0);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A sealed() reader still at P = 2, nothing lost; then the count is
 * published and everything closed. */
static void sealed_done(mdbus_sub_t *s, mdbus_pub_t *p, struct seg_header *h,
			size_t len)
{
	TU_CHECK_EQ(mdbus_sub_position(s), 2);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	atomic_store(&h->write_num, CAP + 3);
	tu_unmap(h, len);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static void archive_sealed_blocking(void)
{
	mdbus_sub_t *s = NULL;
	unsigned char buf[64];
	struct mdbus_msg m;
	struct seg_header *h;
	size_t len;
	mdbus_pub_t *p = sealed("skip.bk", MDBUS_WAIT_BLOCK, &s, &h, &len);
	double cpu;

	cpu = cpu_seconds();
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 300000000LL),
		    -ETIMEDOUT);
	cpu = cpu_seconds() - cpu;
	if (cpu > 0.1)
		tu_fail("a blocking read waiting for the count used %.3f s "
			"of CPU in 0.3 s", cpu);
	sealed_done(s, p, h, len);
}

/* A read of s with timeout_ns that must return `want` within 5 s. */
static void read_ends(mdbus_sub_t *s, int64_t timeout_ns, int want)
{
	unsigned char buf[64];
	struct mdbus_msg m;
	unsigned left = alarm(5); /* the watchdog's message if it spins on */

	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, timeout_ns), want);
	alarm(left);
}

static void archive_sealed_spinning(void)
{
	mdbus_sub_t *s = NULL;
	struct seg_header *h;
	size_t len;
	mdbus_pub_t *p = sealed("skip.sp", MDBUS_WAIT_SPIN, &s, &h, &len);

	mdbus_sub_interrupt(s);
	read_ends(s, 30000000000LL, -EINTR);
	read_ends(s, 0, -ETIMEDOUT);
	read_ends(s, 300000000LL, -ETIMEDOUT);
	sealed_done(s, p, h, len);
}

static void archive_sealed_gone(void)
{
	mdbus_sub_t *s = NULL;
	struct seg_header *h;
	size_t len;
	mdbus_pub_t *p = sealed("skip.sg", MDBUS_WAIT_ADAPTIVE, &s, &h, &len);

	atomic_store(&h->pub_state, SEG_PUB_STOPPED);
	expect(s, 3, 1);
	TU_CHECK_EQ(mdbus_sub_lost(s), 1);
	TU_CHECK_EQ(mdbus_sub_replaying(s), 0);
	atomic_store(&h->pub_state, SEG_PUB_ACTIVE);
	atomic_store(&h->write_num, CAP + 3);
	tu_unmap(h, len);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* A skip that would take the write count to where stamps wrap (a
 * recording's sequence numbers near 2^64 replayed with --keep-seq) is
 * refused, and the channel goes on as it was; so is one past 2^61, whose
 * next messages could take the count past 2^62, where readers refuse the
 * segment (before, a skip to 2^62 - 1 was taken: two messages later no
 * reader could open the channel). One to 2^61 is taken, and the
 * channel is read from there. */
static void wrap(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open("skip.wrap", &c);
	unsigned char buf[40];
	mdbus_sub_t *s;
	struct mdbus_msg m;

	TU_CHECK_RC(mdbus_pub_skip(p, UINT64_MAX - 4), -EOVERFLOW);
	TU_CHECK_RC(mdbus_pub_skip(p, (1ULL << 62) + 1), -EOVERFLOW);
	TU_CHECK_RC(mdbus_pub_skip(p, (1ULL << 62) - 1), -EOVERFLOW);
	TU_CHECK_RC(mdbus_pub_skip(p, (1ULL << 61) + 1), -EOVERFLOW);
	TU_CHECK_EQ(mdbus_pub_position(p), 0);
	TU_CHECK_RC(mdbus_pub_skip(p, 1000), 0);
	TU_CHECK_EQ(mdbus_pub_position(p), 1000);
	TU_CHECK_RC(mdbus_pub_skip(p, (1ULL << 61) - 1000), 0);
	TU_CHECK_RC(tu_publish_seq(p, 1ULL << 61, buf, 0, sizeof buf), 0);
	s = tu_sub_open("skip.wrap", NULL, MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof buf, &m), 0);
	TU_CHECK_EQ(m.seq, 1ULL << 61);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

int main(void)
{
	tu_init("t_skip", 60);
	sh = tu_shared(sizeof *sh);
	wrap();
	overwrite();
	woken(MDBUS_WAIT_BLOCK);
	woken(MDBUS_WAIT_SPIN);
	lossless();
	under_way();
	all_marked();
	batch_landing();
	archive_reader();
	archive_done_skip();
	archive_sealed_batch();
	archive_skip_under_way();
	archive_sealed_blocking();
	archive_sealed_spinning();
	archive_sealed_gone();
	return 0;
}
