/*
 * t_stale.c - readers of a channel whose segment goes away, and readers
 * that come before their channel, with real publisher processes.
 *
 * 1. Stale handle: publisher process P1 publishes 10 messages and is
 *    SIGKILLed; the reader reads them and blocks (no timeout). The
 *    segment file is removed (as rm would): the reader keeps waiting
 *    (a 300 ms read times out) and mdbus_sub_pub_info() says dead. A new
 *    publisher process P2 makes the channel again and publishes 50
 *    messages: the blocked reader returns MDBUS_EREPLACED within 300 ms of
 *    the new segment's naming, pub_info says replaced, and
 *    mdbus_sub_reopen() at OLDEST reads seq 0..49 exactly; reopens at
 *    SEQ 20 and LATEST start at 20 and 50. mdbus_sub_epoch() gives the
 *    epoch of the segment a handle maps: P1's until the reopen (also
 *    once the name holds P2's), then P2's.
 * 2. Waiting open: a reader process in mdbus_sub_open_wait() (default
 *    start: latest) before the channel exists; a publisher process makes
 *    it and publishes 1000 messages at once: the reader gets all of them
 *    from seq 0, nothing lost.
 * 3. A missing segment directory: mdbus_sub_open() and the waiting open
 *    fail at once with MDBUS_ENODIR (the waiting open does not wait).
 * 4. The waiting open times out cleanly (-ETIMEDOUT after the time asked,
 *    *out NULL), returns -ENOENT with timeout 0, and -EINTR
 *    when a signal handler runs.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mdbus.h"
#include "testutil.h"

#define SLOT 128
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define LATE_NS 300000000ULL

struct shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t quit;
	_Atomic uint32_t step;
	_Atomic uint64_t named_ns; /* when P2's segment got the name */
};

static struct shared *sh;

static struct mdbus_pub_config config(void)
{
	return tu_config(SLOT, 1024, 4, MDBUS_MODE_OVERWRITE);
}

static struct mdbus_sub_config sub_config(void)
{
	struct mdbus_sub_config c;

	mdbus_sub_config_init(&c);
	c.dir = tu_dir();
	return c;
}

/* Publishes n messages on ch, says so, stays until told to quit. */
static int publisher(void *arg)
{
	struct mdbus_pub_config c = config();
	unsigned n = *(unsigned *)arg;
	unsigned char buf[PMAX];
	mdbus_pub_t *p = tu_pub_open("stale", &c);

	atomic_store(&sh->named_ns, tu_now_ns());
	for (uint64_t i = 0; i < n; i++)
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 0, PMAX), 0);
	atomic_store(&sh->ready, 1);
	while (!atomic_load(&sh->quit))
		tu_sleep_ms(1);
	mdbus_pub_close(p);
	return 0;
}

static void read_seqs(mdbus_sub_t *s, uint64_t from, uint64_t to)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;

	for (uint64_t want = from; want < to; want++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 5000000000LL), 0);
		tu_check_next(&m, buf, want, 0, PMAX);
	}
}

static enum mdbus_pub_state pub_state(mdbus_sub_t *s)
{
	struct mdbus_pub_info info;

	TU_CHECK_RC(mdbus_sub_pub_info(s, &info), 0);
	return info.state;
}

static pid_t start_publisher(unsigned *n)
{
	pid_t kid;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->quit, 0);
	kid = tu_spawn(publisher, n);
	tu_await(&sh->ready, 1, 30, "publisher");
	return kid;
}

/* The epoch of the segment now under the channel's name. */
static uint64_t named_epoch(void)
{
	struct mdbus_stats st;

	TU_CHECK_RC(mdbus_channel_stats("stale", tu_dir(), &st, NULL, 0), 0);
	return st.epoch;
}

/* Reads the old segment to its end, waits through the removal, meets
 * the new segment: step 1 after the removal, step 2 when blocked. */
static int stale_reader(void *arg)
{
	struct mdbus_sub_config c = sub_config();
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	mdbus_sub_t *s, *at20, *latest;
	uint64_t late, old;

	(void)arg;
	c.start = MDBUS_START_OLDEST;
	TU_CHECK_RC(mdbus_sub_open(&s, "stale", &c), 0);
	TU_CHECK_RC(mdbus_sub_open(&at20, "stale", &c), 0);
	TU_CHECK_RC(mdbus_sub_open(&latest, "stale", &c), 0);
	old = named_epoch();
	TU_CHECK_EQ(mdbus_sub_epoch(s), old);
	read_seqs(s, 0, 10);
	atomic_store(&sh->step, 1);
	tu_await(&sh->step, 2, 30, "publisher killed, file removed");
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 300000000), -ETIMEDOUT);
	TU_CHECK_EQ(pub_state(s), MDBUS_PUB_DEAD);
	atomic_store(&sh->step, 3);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, -1), MDBUS_EREPLACED);
	late = tu_now_ns() - atomic_load(&sh->named_ns);
	if (late > LATE_NS)
		tu_fail("MDBUS_EREPLACED %.1f ms after the new segment",
			(double)late / 1e6);
	tu_note("MDBUS_EREPLACED %.1f ms after the new segment", (double)late / 1e6);
	TU_CHECK_EQ(pub_state(s), MDBUS_PUB_REPLACED);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 0), MDBUS_EREPLACED);
	TU_CHECK_EQ(mdbus_sub_epoch(s), old); /* the segment it maps */
	TU_CHECK(named_epoch() != old);
	TU_CHECK_RC(mdbus_sub_reopen(s, MDBUS_START_OLDEST, 0), 0);
	TU_CHECK_EQ(mdbus_sub_epoch(s), named_epoch());
	TU_CHECK_EQ(mdbus_sub_position(s), 0);
	read_seqs(s, 0, 50);
	TU_CHECK_EQ(pub_state(s), MDBUS_PUB_ACTIVE);

	read_seqs(at20, 0, 10);
	TU_CHECK_RC(mdbus_sub_read(at20, buf, sizeof(buf), &m, 1000000000),
		    MDBUS_EREPLACED);
	TU_CHECK_RC(mdbus_sub_reopen(at20, MDBUS_START_SEQ, 20), 0);
	read_seqs(at20, 20, 50);
	TU_CHECK_RC(mdbus_sub_reopen(latest, MDBUS_START_LATEST, 0), 0);
	TU_CHECK_EQ(mdbus_sub_position(latest), 50);
	TU_CHECK_RC(mdbus_sub_try_read(latest, buf, sizeof(buf), &m), -EAGAIN);
	mdbus_sub_close(latest);
	mdbus_sub_close(at20);
	mdbus_sub_close(s);
	return 0;
}

static void stale_handle(void)
{
	unsigned ten = 10, fifty = 50;
	pid_t p1, p2, r;

	p1 = start_publisher(&ten);
	r = tu_spawn(stale_reader, NULL);
	tu_await(&sh->step, 1, 30, "reader at the end of the old segment");
	tu_kill_reap(p1);
	TU_CHECK(unlink(tu_seg_path("stale")) == 0);
	atomic_store(&sh->step, 2);
	tu_await(&sh->step, 3, 30, "reader blocked again");
	tu_await_state(r, 'S', 60, "reader asleep");
	tu_sleep_ms(150); /* a name check or two that find no file */
	p2 = start_publisher(&fifty);
	tu_wait_ok(r, 30, "stale reader");
	atomic_store(&sh->quit, 1);
	tu_wait_ok(p2, 30, "new publisher");
}

/* ------------------------------------------------- the waiting open */

static int early_reader(void *arg)
{
	struct mdbus_sub_config c = sub_config();
	mdbus_sub_t *s;

	(void)arg;
	atomic_store(&sh->step, 1);
	TU_CHECK_RC(mdbus_sub_open_wait(&s, "late", &c, 10000000000LL), 0);
	read_seqs(s, 0, 1000);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);
	return 0;
}

static void reader_first(void)
{
	struct mdbus_pub_config c = config();
	unsigned char buf[PMAX];
	mdbus_pub_t *p;
	pid_t r;

	atomic_store(&sh->step, 0);
	r = tu_spawn(early_reader, NULL);
	tu_await(&sh->step, 1, 30, "early reader");
	tu_await_state(r, 'S', 60, "early reader waiting");
	p = tu_pub_open("late", &c);
	for (uint64_t i = 0; i < 1000; i++)
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 0, PMAX), 0);
	tu_wait_ok(r, 30, "early reader");
	mdbus_pub_close(p);
}

static void no_directory(void)
{
	struct mdbus_sub_config c = sub_config();
	mdbus_sub_t *s = NULL;
	uint64_t t0 = tu_now_ns();

	c.dir = "/nonexistent/mdbus-t_stale";
	TU_CHECK_RC(mdbus_sub_open(&s, "late", &c), MDBUS_ENODIR);
	TU_CHECK_RC(mdbus_sub_open_wait(&s, "late", &c, 5000000000LL),
		    MDBUS_ENODIR);
	TU_CHECK(s == NULL);
	TU_CHECK(strstr(mdbus_last_error(), c.dir) != NULL);
	TU_CHECK(tu_now_ns() - t0 < 1000000000); /* at once, not after 5 s */
}

static void on_signal(int sig)
{
	(void)sig;
}

static void timeouts(void)
{
	struct mdbus_sub_config c = sub_config();
	struct sigaction sa;
	mdbus_sub_t *s = NULL;
	uint64_t t0 = tu_now_ns(), took;

	TU_CHECK_RC(mdbus_sub_open_wait(&s, "never", &c, 0), -ENOENT);
	TU_CHECK_RC(mdbus_sub_open_wait(&s, "never", &c, 250000000), -ETIMEDOUT);
	took = tu_now_ns() - t0;
	TU_CHECK(s == NULL);
	if (took < 250000000 || took > 3000000000) /* a loaded machine is late */
		tu_fail("timeout of 250 ms took %.1f ms", (double)took / 1e6);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART; /* poll(2) ends anyway */
	sigemptyset(&sa.sa_mask);
	TU_CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	t0 = tu_now_ns();
	alarm(1);
	TU_CHECK_RC(mdbus_sub_open_wait(&s, "never", &c, -1), -EINTR);
	took = tu_now_ns() - t0;
	if (took < 900000000 || took > 3000000000) /* a loaded machine is late */
		tu_fail("-EINTR %.1f ms after the start, alarm at 1000 ms",
			(double)took / 1e6);
}

int main(void)
{
	tu_init("t_stale", 120);
	sh = tu_shared(sizeof(*sh));
	stale_handle();
	reader_first();
	no_directory();
	timeouts();
	return 0;
}
