/*
 * t_skipjoin.c - a reader joining a lossless channel at its oldest message
 * while mdbus_pub_skip() writes its markers (doc/protocol.md, "Skipping"
 * and "Publishing", the lossless join).
 *
 * The ring holds a ring's worth of messages that no registered reader
 * still needs, and the publisher skips capacity - 1 numbers (65535
 * markers, each taking the slot of one of those messages). A reader in
 * another process stops the publisher (SIGSTOP, as a scheduler may) once
 * it sees a marker at a random place in the first quarter, opens at the
 * oldest message while it is stopped and lets it go on (SIGCONT): its
 * join lands among the markers (unless the stop came after them), until
 * 100 did (at most 1000 skips). Each joining reader gets every
 * message from its start up to the skip, whole and contiguous, then the
 * message after the skip with exactly the skipped numbers counted lost;
 * every msg.lost is exactly the gap before its message, mdbus_sub_lost()
 * their sum. It may lose only messages a write under way overwrote as it
 * joined (at most 8: the markers the publisher writes between two looks at
 * join_seq). Before, the skip looked at the readers once and then wrote
 * every marker: each such join found the rest of its messages lapped (up
 * to 65535 lost on a lossless channel).
 */
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "testutil.h"

#define CHANNEL "skipjoin"
#define SLOT 64
#define SPB 4096
#define BLOCKS 16
#define CAP ((uint64_t)SPB * BLOCKS)
#define SKIP (CAP - 1)
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define AMONG 100u  /* joins among the markers wanted */
#define TRIALS 1000u /* at most, on a machine too busy to stop it there */
#define SLACK 8 /* lost to markers under way as one joins */
#define WAIT_NS 30000000000ULL

struct shared {
	_Atomic uint32_t go, done, among, last;
	_Atomic uint64_t w;
};

static struct shared *sh;

/* Publishes message n, retrying what back-pressure refuses for 30 s. */
static void publish(mdbus_pub_t *p, uint64_t n)
{
	unsigned char buf[PMAX];
	uint64_t since = tu_now_ns();
	int rc;

	while ((rc = tu_publish_seq(p, n, buf, 0, PMAX)) == MDBUS_EBACKPRESSURE) {
		if (tu_now_ns() - since > WAIT_NS)
			tu_fail("publisher gated for 30 s at %llu",
				(unsigned long long)n);
		sched_yield();
	}
	TU_CHECK_RC(rc, 0);
}

/* Spins until *word reaches want. */
static void spin_until(_Atomic uint32_t *word, uint32_t want)
{
	uint64_t deadline = tu_now_ns() + WAIT_NS;

	while (atomic_load(word) < want)
		if (tu_now_ns() > deadline)
			tu_fail("waited 30 s for trial %u", want);
}

/*
 * Reads what a reader joined at the oldest gets: messages from its start
 * up to the skip's first number w, then w + SKIP, the one after the skip.
 * Every msg.lost must be exactly the gap before its message, and
 * mdbus_sub_lost() their sum. Returns the messages below w it lost; *gap
 * is set when one of them came SLACK or more after its start (only the
 * oldest messages, the ones a write under way overwrote as it joined, may
 * be lost; the reader may read one of them before the write reaches the
 * next).
 */
static uint64_t read_join(mdbus_sub_t *s, uint64_t w, uint32_t t, int *gap)
{
	uint64_t pos = mdbus_sub_position(s), next = pos, real = 0, top = pos;
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	const char *bad;

	do {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   (int64_t)WAIT_NS), 0);
		if ((bad = tu_msg_bad(&m, buf, 0, PMAX)))
			tu_fail("join %u: %s", t, bad);
		if (m.seq != next + m.lost)
			tu_fail("join %u (start %llu, skip from %llu): seq %llu "
				"with lost %llu after %llu", t,
				(unsigned long long)pos, (unsigned long long)w,
				(unsigned long long)m.seq,
				(unsigned long long)m.lost,
				(unsigned long long)next);
		if (m.lost && next < w) /* lost [next, min(seq, w)) */
			top = m.seq < w ? m.seq : w;
		real += m.seq < w;
		next = m.seq + 1;
	} while (m.seq < w);
	TU_CHECK_EQ(m.seq, w + SKIP);
	TU_CHECK_EQ(mdbus_sub_lost(s), m.seq - pos - real);
	*gap = top > pos + SLACK;
	return pos < w ? w - pos - real : 0;
}

/*
 * Stops the publisher once the marker of message w + j is in place (it
 * then writes the markers after it), or once the skip is over. Returns 1
 * when the skip is still under way as it stands stopped.
 */
static int stop_among_markers(void *seg, uint64_t w, uint64_t j)
{
	struct seg_header *h = seg;
	uint64_t deadline = tu_now_ns() + WAIT_NS;

	while (atomic_load(&tu_slot(seg, w + j)[SLOT_W_STAMP]) !=
	       stamp_writing(w + SKIP) && atomic_load(&h->write_num) == w)
		if (tu_now_ns() > deadline)
			tu_fail("waited 30 s for the skip from %llu",
				(unsigned long long)w);
	TU_CHECK_RC(kill(getppid(), SIGSTOP), 0);
	while (tu_proc_state(getppid()) != 'T')
		if (tu_now_ns() > deadline) {
			kill(getppid(), SIGCONT);
			tu_fail("the publisher did not stop");
		}
	return atomic_load(&h->write_num) == w;
}

/* Opens a reader at the oldest message; NULL on error (the publisher is
 * stopped: the caller lets it go on before it fails). */
static mdbus_sub_t *open_oldest(void)
{
	struct mdbus_sub_config c;
	mdbus_sub_t *s = NULL;

	mdbus_sub_config_init(&c);
	c.name = "joiner";
	c.start = MDBUS_START_OLDEST;
	c.wait = MDBUS_WAIT_SPIN;
	c.dir = tu_dir();
	return mdbus_sub_open(&s, CHANNEL, &c) == 0 ? s : NULL;
}

static int joiner(void *arg)
{
	uint64_t late, lost = 0, most = 0, bad = 0, gaps = 0;
	size_t len;
	void *seg = tu_map_file(tu_seg_path(CHANNEL), &len);
	uint32_t t;
	int gap;

	(void)arg;
	for (t = 1; t <= atomic_load(&sh->last); t++) {
		uint64_t w;
		mdbus_sub_t *s;

		spin_until(&sh->go, t);
		if (t > atomic_load(&sh->last))
			break;
		w = atomic_load(&sh->w);
		atomic_fetch_add(&sh->among,
				 stop_among_markers(seg, w, tu_rand_below(SKIP / 4)));
		s = open_oldest();
		TU_CHECK_RC(kill(getppid(), SIGCONT), 0);
		TU_CHECK(s != NULL);
		late = read_join(s, w, t, &gap);
		mdbus_sub_close(s);
		lost += late;
		most = late > most ? late : most;
		bad += late > SLACK || gap;
		gaps += gap;
		atomic_store(&sh->done, t);
	}
	tu_unmap(seg, len);
	t--;
	if (bad)
		tu_fail("%llu of %u joins at the oldest (%u among a skip's "
			"markers) lost more than %d messages or some %d or more "
			"past its start (%llu such): %llu lost in all, %llu at most",
			(unsigned long long)bad, t, atomic_load(&sh->among),
			SLACK, SLACK, (unsigned long long)gaps,
			(unsigned long long)lost, (unsigned long long)most);
	tu_note("%u joins at the oldest (%u among a skip's markers) lost %llu "
		"messages in all, %llu at most (a write under way as they "
		"joined)", t, atomic_load(&sh->among),
		(unsigned long long)lost, (unsigned long long)most);
	return 0;
}

/*
 * Skips SKIP numbers from w, retrying back-pressure; counts the skips
 * refused and those refused with markers in place (stopped part-way by
 * a reader that joined among them).
 */
static void skip(mdbus_pub_t *p, void *seg, uint64_t w, uint64_t *refused,
		 uint64_t *partway)
{
	uint64_t since = tu_now_ns();
	int rc, tries = 0;

	while ((rc = mdbus_pub_skip(p, SKIP)) == MDBUS_EBACKPRESSURE) {
		if (tries++ == 0 && atomic_load(&tu_slot(seg, w)[SLOT_W_STAMP]) ==
				    stamp_writing(w + SKIP))
			++*partway;
		if (tu_now_ns() - since > WAIT_NS)
			tu_fail("skip refused for 30 s at %llu",
				(unsigned long long)w);
		sched_yield();
	}
	TU_CHECK_RC(rc, 0);
	*refused += tries != 0;
	TU_CHECK_EQ(mdbus_pub_position(p), w + SKIP);
}

/* Waits for the reader to be done with trial t (or dead). */
static void await_done(pid_t pid, uint32_t t)
{
	uint64_t deadline = tu_now_ns() + WAIT_NS;

	while (atomic_load(&sh->done) < t) {
		if (tu_proc_state(pid) == 'Z' || tu_now_ns() > deadline)
			tu_fail("the joining reader did not finish trial %u", t);
		tu_sleep_ms(0.1);
	}
}

int main(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, SPB, BLOCKS,
					      MDBUS_MODE_LOSSLESS);
	uint64_t n = 0, refused = 0, partway = 0;
	mdbus_pub_t *p;
	size_t len;
	void *seg;
	pid_t pid;
	uint32_t t;

	tu_init("t_skipjoin", 120);
	sh = tu_shared(sizeof(*sh));
	p = tu_pub_open(CHANNEL, &c);
	seg = tu_map_file(tu_seg_path(CHANNEL), &len);
	atomic_store(&sh->last, TRIALS);
	pid = tu_spawn(joiner, NULL);
	for (t = 1; t <= TRIALS && atomic_load(&sh->among) < AMONG; t++) {
		uint64_t w = n + CAP;

		while (n < w)
			publish(p, n++);
		atomic_store(&sh->w, w);
		atomic_store(&sh->go, t);
		skip(p, seg, w, &refused, &partway);
		n = w + SKIP;
		publish(p, n++);
		await_done(pid, t);
	}
	atomic_store(&sh->last, --t);
	atomic_store(&sh->go, t + 1);
	tu_note("%u skips of %llu: %llu refused until the joined reader read "
		"on, %llu of them stopped part-way", t,
		(unsigned long long)SKIP, (unsigned long long)refused,
		(unsigned long long)partway);
	tu_wait_ok(pid, 30, "joining reader");
	tu_unmap(seg, len);
	mdbus_pub_close(p);
	return 0;
}
