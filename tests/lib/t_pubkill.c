/*
 * t_pubkill.c - publisher crashes. 60 times, a new publisher process opens
 * the channel with the same geometry and is SIGKILLed: 40 times at a random
 * point of a fast publishing loop (so often inside a publish), 20 times
 * after mdbus_pub_claim() with half a payload written and no commit.
 *
 * Asserted each time: while the publisher lives (or is merely stopped
 * with SIGSTOP) a second one (this process) is refused with MDBUS_EOWNED
 * naming its pid; once it is dead,
 * readers see MDBUS_PUB_DEAD; the next publisher resumes at the write count
 * (one further when the dead one completed a slot but had not published the
 * count yet); a claimed but uncommitted message is never published.
 * A reader process follows the channel across all the crashes and checks
 * every message: sequence strictly increasing with every gap counted
 * (seq == previous + 1 + lost: nothing delivered twice), payload whole;
 * at the end delivered + lost == published.
 *
 * Finally: a publisher that forked a child (which never touches mdbus and
 * outlives it) and is then SIGKILLed must not keep owning the channel
 * through its child: a new publisher resumes.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "testutil.h"

#define CHANNEL "pubkill"
#define SLOT 128
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define RESTARTS 60
#define END_TYPE 0xffff /* tu_type_for() never gives it */

struct shared {
	_Atomic uint32_t ready, started, claimed, forked, child_running;
	pid_t grandchild;
	uint64_t start_pos, claim_pos;
	uint64_t delivered, lost;
};

static struct shared *sh;

static struct mdbus_pub_config config(void)
{
	return tu_config(SLOT, 1024, 16, MDBUS_MODE_OVERWRITE);
}

static int reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(CHANNEL, "follower", MDBUS_START_SEQ, 0,
				     MDBUS_WAIT_ADAPTIVE);
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	uint64_t expect = 0;
	const char *bad;
	int rc;

	(void)arg;
	atomic_store(&sh->ready, 1);
	for (;;) {
		rc = mdbus_sub_read(s, buf, sizeof(buf), &m, 60000000000LL);
		if (rc)
			tu_fail("reader at %llu: %s",
				(unsigned long long)expect, mdbus_strerror(rc));
		if (m.seq != expect + m.lost)
			tu_fail("reader: seq %llu lost %llu after %llu "
				"(duplicate, stale or uncounted gap)",
				(unsigned long long)m.seq,
				(unsigned long long)m.lost,
				(unsigned long long)expect - 1);
		sh->delivered++;
		sh->lost += m.lost;
		expect = m.seq + 1;
		if (m.type == END_TYPE)
			break;
		bad = tu_msg_bad(&m, buf, 0, PMAX);
		if (bad)
			tu_fail("reader: %s", bad);
	}
	TU_CHECK_EQ(mdbus_sub_lost(s), sh->lost);
	mdbus_sub_close(s);
	return 0;
}

/* A publisher: resumes, reports where, publishes until killed. With
 * arg != 0 it stops inside a claim instead, half a payload written. */
static int publisher(void *arg)
{
	struct mdbus_pub_config c = config();
	mdbus_pub_t *p = tu_pub_open(CHANNEL, &c);
	unsigned char buf[PMAX];
	uint64_t n = mdbus_pub_position(p), stop = n + tu_rand_below(5000);
	void *pl;

	sh->start_pos = n;
	atomic_store(&sh->started, 1);
	for (;; n++) {
		if (arg && n == stop) {
			TU_CHECK_RC(mdbus_pub_claim(p, PMAX, &pl), 0);
			tu_fill(pl, PMAX / 2, n);
			memset((char *)pl + PMAX / 2, 0xee, PMAX / 2);
			sh->claim_pos = n;
			atomic_store(&sh->claimed, 1);
			for (;;)
				tu_sleep_ms(1000);
		}
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
		if ((n & 255) == 255)
			sched_yield(); /* let the reader keep up somewhat */
	}
	return 0;
}

/* The write count a dead publisher left, and where the next one must
 * resume: one further if it completed slot w but died before storing w+1. */
static uint64_t expected_resume(uint64_t *write_num)
{
	size_t len;
	void *seg = tu_map_file(tu_seg_path(CHANNEL), &len);
	struct seg_header *h = seg;
	uint64_t w = atomic_load(&h->write_num);
	uint64_t stamp = atomic_load(&tu_slot(seg, w)[SLOT_W_STAMP]);

	tu_unmap(seg, len);
	*write_num = w;
	return stamp == stamp_complete(w) ? w + 1 : w;
}

/* Opens the channel, forks a child that only sleeps, waits to be killed. */
static int forking_publisher(void *arg)
{
	struct mdbus_pub_config c = config();
	mdbus_pub_t *p = tu_pub_open(CHANNEL, &c);
	pid_t g;

	(void)arg;
	(void)p;
	g = fork();
	if (g == 0) {
		/* fork() has returned here, so the library's atfork handler
		 * has dropped this child's hold on the lock. */
		atomic_store(&sh->child_running, 1);
		tu_sleep_ms(60000); /* outlives the test if not killed */
		_exit(0);
	}
	sh->grandchild = g;
	atomic_store(&sh->forked, 1);
	for (;;)
		tu_sleep_ms(1000);
	return 0;
}

static void forked_child_keeps_no_lock(void)
{
	struct mdbus_pub_config c = config();
	mdbus_pub_t *p = NULL;
	pid_t pub = tu_spawn(forking_publisher, NULL);
	int rc;

	tu_await(&sh->forked, 1, 30, "publisher to fork");
	tu_await(&sh->child_running, 1, 30, "forked child to run");
	tu_kill_reap(pub);
	rc = mdbus_pub_open(&p, CHANNEL, &c);
	kill(sh->grandchild, SIGKILL);
	if (rc)
		tu_fail("publisher SIGKILLed while its forked child lives: "
			"restart refused: %s (%s)",
			mdbus_strerror(rc), mdbus_last_error());
	mdbus_pub_close(p);
}

int main(void)
{
	struct mdbus_pub_config c = config();
	struct mdbus_pub_info info;
	struct mdbus_sub_config sc;
	mdbus_pub_t *p, *q;
	mdbus_sub_t *anon;
	uint64_t resume = 0, w, completed_unpublished = 0;
	unsigned char buf[PMAX];
	char pidtext[32];
	pid_t rd, pub;

	tu_init("t_pubkill", 300);
	sh = tu_shared(sizeof(*sh));
	mdbus_pub_close(tu_pub_open(CHANNEL, &c));
	rd = tu_spawn(reader, NULL);
	tu_await(&sh->ready, 1, 30, "reader");
	mdbus_sub_config_init(&sc);
	sc.anonymous = 1;
	TU_CHECK_RC(mdbus_sub_open(&anon, CHANNEL, &sc), 0);

	for (int i = 0; i < RESTARTS; i++) {
		int claim = i % 3 == 2;

		atomic_store(&sh->started, 0);
		atomic_store(&sh->claimed, 0);
		pub = tu_spawn(publisher, (void *)(intptr_t)claim);
		tu_await(&sh->started, 1, 30, "publisher to open");
		if (sh->start_pos != resume)
			tu_fail("restart %d resumed at %llu, want %llu", i,
				(unsigned long long)sh->start_pos,
				(unsigned long long)resume);
		/* it owns the channel while it lives */
		q = NULL;
		TU_CHECK_RC(mdbus_pub_open(&q, CHANNEL, &c), MDBUS_EOWNED);
		snprintf(pidtext, sizeof(pidtext), "%d", (int)pub);
		if (!strstr(mdbus_last_error(), pidtext))
			tu_fail("EOWNED text \"%s\" does not name pid %s",
				mdbus_last_error(), pidtext);
		TU_CHECK_RC(mdbus_sub_pub_info(anon, &info), 0);
		TU_CHECK_EQ(info.state, MDBUS_PUB_ACTIVE);
		TU_CHECK_EQ(info.pid, pub);

		if (i == 1) { /* stopped is not dead, and still owns it */
			kill(pub, SIGSTOP);
			tu_sleep_ms(300);
			TU_CHECK_RC(mdbus_sub_pub_info(anon, &info), 0);
			TU_CHECK_EQ(info.state, MDBUS_PUB_ACTIVE);
			TU_CHECK_RC(mdbus_pub_open(&q, CHANNEL, &c),
				    MDBUS_EOWNED);
			kill(pub, SIGCONT);
		}
		if (claim)
			tu_await(&sh->claimed, 1, 30, "publisher to claim");
		else
			tu_sleep_ms((double)tu_rand_below(15000) / 1000);
		tu_kill_reap(pub);

		resume = expected_resume(&w);
		completed_unpublished += resume != w;
		if (claim)
			TU_CHECK_EQ(w, sh->claim_pos);
		TU_CHECK_RC(mdbus_sub_pub_info(anon, &info), 0);
		TU_CHECK_EQ(info.state, MDBUS_PUB_DEAD);
		TU_CHECK_EQ(info.pid, pub);
	}

	/* last publisher, in this process: resume, finish, mark the end */
	p = tu_pub_open(CHANNEL, &c);
	TU_CHECK_EQ(mdbus_pub_position(p), resume);
	for (w = resume; w < resume + 1000; w++)
		TU_CHECK_RC(tu_publish_seq(p, w, buf, 0, PMAX), 0);
	TU_CHECK_RC(mdbus_pub_publish(p, END_TYPE, NULL, 0, w + 1), 0);
	tu_wait_ok(rd, 120, "reader");
	TU_CHECK_EQ(sh->delivered + sh->lost, w + 1);
	tu_note("%d publisher kills (%llu left a completed, unpublished slot); "
		"reader got %llu of %llu messages, lost %llu",
		RESTARTS, (unsigned long long)completed_unpublished,
		(unsigned long long)sh->delivered, (unsigned long long)(w + 1),
		(unsigned long long)sh->lost);
	mdbus_sub_close(anon);
	mdbus_pub_close(p);
	forked_child_keeps_no_lock();
	return 0;
}
