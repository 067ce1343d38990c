/*
 * t_poll.c - mdbus_sub_poll(): messages handed over in place, in batches.
 *
 * Overwrite mode: a publisher process sends N self-verifying messages
 * into a 64-slot ring while the reader polls with a handler that every
 * 50th message dawdles for 2 ms, so the producer overwrites slots under
 * it. Every payload the handler saw torn must be taken back (a second
 * call with payload NULL), and every sequence number is accounted for
 * exactly once: handed over and kept, taken back, or counted in
 * msg.lost, in order. Lossless mode: batches of at most 16, nothing lost,
 * every payload right. Each twice: blocks of 16 slots (a gap after each:
 * the general loop) and one block of 64 slots, a whole page (lib/sub.c
 * poll_run()'s loop). In each call mdbus_sub_position() is
 * the message's seq.
 */
#include <errno.h>
#include <string.h>

#include "mdbus.h"
#include "testutil.h"

#define N 30000u
#define PMAX 40

struct tally {
	uint64_t next;      /* the sequence expected next */
	uint64_t kept;      /* handed over and not taken back */
	uint64_t back;      /* taken back */
	uint64_t lost;      /* msg.lost summed */
	uint64_t bad_seq;   /* a payload seen torn, UINT64_MAX: none */
	int dawdle;
	const mdbus_sub_t *s; /* mdbus_sub_position() is msg->seq in a call */
};

static int handler(void *arg, const struct mdbus_msg *m, const void *payload)
{
	struct tally *t = arg;

	if (!payload) { /* the message just handed over is taken back */
		if (m->seq + 1 != t->next)
			tu_fail("taken back %llu, last handed over %llu",
				(unsigned long long)m->seq,
				(unsigned long long)t->next - 1);
		t->kept--;
		t->back++;
		t->bad_seq = UINT64_MAX;
		return 0;
	}
	if (mdbus_sub_position(t->s) != m->seq)
		tu_fail("position %llu in the handler of message %llu",
			(unsigned long long)mdbus_sub_position(t->s),
			(unsigned long long)m->seq);
	if (t->bad_seq != UINT64_MAX)
		tu_fail("message %llu was torn and not taken back",
			(unsigned long long)t->bad_seq);
	if (m->seq != t->next + m->lost)
		tu_fail("seq %llu after %llu with %llu lost",
			(unsigned long long)m->seq, (unsigned long long)t->next,
			(unsigned long long)m->lost);
	if (t->dawdle && m->seq % 50 == 0)
		tu_sleep_ms(2);
	if (tu_msg_bad(m, payload, 0, PMAX))
		t->bad_seq = m->seq;
	t->lost += m->lost;
	t->kept++;
	t->next = m->seq + 1;
	return 0;
}

struct shared {
	_Atomic uint32_t ready;
};

static struct shared *sh;

/* A channel of 64 slots: 4 blocks of 16, or 1 of 64 (whole pages) */
static uint32_t spb;

static struct mdbus_pub_config config(enum mdbus_mode mode)
{
	return tu_config(64, spb, 64 / spb, mode);
}

/* poll.ow16, poll.ll64, ... */
static const char *channel(enum mdbus_mode mode)
{
	static char name[16];

	snprintf(name, sizeof(name), "poll.%s%u", mode ? "ll" : "ow", spb);
	return name;
}

static int publisher(void *arg)
{
	enum mdbus_mode mode = (enum mdbus_mode)(intptr_t)arg;
	struct mdbus_pub_config c = config(mode);
	unsigned char buf[PMAX];
	mdbus_pub_t *p;
	uint64_t n;
	int r;

	p = tu_pub_open(channel(mode), &c);
	atomic_store(&sh->ready, 1);
	tu_await(&sh->ready, 2, 30, "reader");
	for (n = 0; n < N; n++) {
		while ((r = tu_publish_seq(p, n, buf, 0, PMAX)) == MDBUS_EBACKPRESSURE)
			;
		TU_CHECK_RC(r, 0);
	}
	mdbus_pub_close(p);
	return 0;
}

static void run(enum mdbus_mode mode)
{
	const char *ch = channel(mode);
	struct tally t = { .bad_seq = UINT64_MAX, .dawdle = !mode };
	struct mdbus_pub_config c = config(mode);
	mdbus_sub_t *s;
	pid_t kid;
	int r, batches = 0;

	mdbus_pub_close(tu_pub_open(ch, &c)); /* exists before the reader */
	atomic_store(&sh->ready, 0);
	kid = tu_spawn(publisher, (void *)(intptr_t)mode);
	tu_await(&sh->ready, 1, 30, "publisher");
	s = tu_sub_open(ch, "poller", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	t.next = mdbus_sub_position(s);
	t.s = s;
	atomic_store(&sh->ready, 2);
	while (t.next < N) {
		r = mdbus_sub_poll(s, handler, &t, 16);
		if (r < 0)
			tu_fail("%s: mdbus_sub_poll: %s", ch, mdbus_strerror(r));
		TU_CHECK(r <= 16);
		batches += r > 0;
	}
	if (t.bad_seq != UINT64_MAX)
		tu_fail("%s: last message torn, not taken back", ch);
	TU_CHECK_EQ(t.kept + t.back + t.lost, N - 0);
	if (mode == MDBUS_MODE_LOSSLESS) {
		TU_CHECK_EQ(t.back + t.lost, 0);
	} else {
		TU_CHECK(t.back + t.lost > 0); /* the dawdling was overrun */
	}
	tu_note("%s: %llu kept, %llu taken back, %llu lost, %d batches", ch,
		(unsigned long long)t.kept, (unsigned long long)t.back,
		(unsigned long long)t.lost, batches);
	tu_wait_ok(kid, 60, "publisher");
	mdbus_sub_close(s);
}

int main(void)
{
	tu_init("t_poll", 120);
	sh = tu_shared(sizeof *sh);
	for (spb = 16; spb <= 64; spb *= 4) {
		run(MDBUS_MODE_OVERWRITE);
		run(MDBUS_MODE_LOSSLESS);
	}
	return 0;
}
