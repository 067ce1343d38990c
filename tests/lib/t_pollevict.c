/*
 * t_pollevict.c - lossless mode, a reader that keeps moving (one message
 * every HANDLER_MS) through mdbus_sub_poll() with a large max: a call
 * lasts as long as messages keep coming, a full ring CAP * HANDLER_MS,
 * longer than stall_evict_ns. Its position must reach the table per
 * message, or the producer sees it "not moving" while it gates and evicts
 * a reader that never stalled. The same reader with mdbus_sub_read() is
 * the control case.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "mdbus.h"
#include "testutil.h"

#define PMAX 40
#define N 140u
#define HANDLER_MS 20.0         /* 64 slots: 1.28 s per ring */
#define STALL_NS 1000000000ULL  /* 1 s */

struct shared {
	_Atomic uint32_t ready;
};

static struct shared *sh;

static struct mdbus_pub_config config(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_LOSSLESS);

	c.stall_evict_ns = STALL_NS;
	return c;
}

static int publisher(void *arg)
{
	struct mdbus_pub_config c = config();
	unsigned char buf[PMAX];
	mdbus_pub_t *p = tu_pub_open(arg, &c);
	uint64_t n = 0;

	tu_await(&sh->ready, 1, 30, "reader");
	while (n < N) {
		int r = tu_publish_seq(p, n, buf, 0, PMAX);

		if (r == MDBUS_EBACKPRESSURE) {
			tu_sleep_ms(0.1);
			continue;
		}
		TU_CHECK_RC(r, 0);
		n++;
	}
	mdbus_pub_close(p);
	return 0;
}

struct tally {
	uint64_t next;
	uint64_t back; /* taken back: overwritten under the handler */
};

static int handler(void *arg, const struct mdbus_msg *m, const void *payload)
{
	struct tally *t = arg;

	if (!payload) { /* lossless: only once the producer gave up on us */
		t->back++;
		t->next--;
		return 0;
	}
	TU_CHECK_EQ(m->seq, t->next);
	t->next++;
	tu_sleep_ms(HANDLER_MS);
	return 0;
}

/* Returns 1 when the reader got all N messages, 0 when evicted. */
static int run(const char *channel, int use_poll)
{
	struct mdbus_pub_config c = config();
	unsigned char buf[PMAX];
	struct tally t = { 0, 0 };
	struct mdbus_msg m;
	mdbus_sub_t *s;
	pid_t kid;
	int r;

	atomic_store(&sh->ready, 0);
	mdbus_pub_close(tu_pub_open(channel, &c));
	s = tu_sub_open(channel, "mover", MDBUS_START_LATEST, 0,
			MDBUS_WAIT_BLOCK);
	kid = tu_spawn(publisher, (void *)channel);
	atomic_store(&sh->ready, 1);
	while (t.next < N) {
		if (use_poll) {
			r = mdbus_sub_poll(s, handler, &t, UINT_MAX);
			if (r == 0)
				tu_sleep_ms(0.1);
		} else {
			r = mdbus_sub_read(s, buf, sizeof(buf), &m,
					   5000000000LL);
			if (r == 0) {
				TU_CHECK_EQ(m.seq, t.next);
				t.next++;
				tu_sleep_ms(HANDLER_MS);
			}
		}
		if (r == MDBUS_EEVICTED)
			break;
		if (r < 0)
			tu_fail("%s: %d (%s)", use_poll ? "poll" : "read", r,
				mdbus_strerror(r));
	}
	tu_note("%s: reader got %llu of %u messages%s, %llu taken back",
		use_poll ? "poll" : "read", (unsigned long long)t.next, N,
		t.next < N ? ", then MDBUS_EEVICTED" : "",
		(unsigned long long)t.back);
	if (t.next < N)
		tu_kill_reap(kid);
	else
		tu_wait_ok(kid, 30, "publisher");
	mdbus_sub_close(s);
	return t.next == N;
}

int main(void)
{
	int read_ok, poll_ok;

	tu_init("t_pollevict", 60);
	sh = tu_shared(sizeof *sh);
	read_ok = run("pe.evr", 0);
	poll_ok = run("pe.evp", 1);
	if (!read_ok)
		tu_fail("control: a reader moving every %.0f ms with "
			"mdbus_sub_read() was evicted", HANDLER_MS);
	if (!poll_ok)
		tu_fail("a reader moving every %.0f ms inside one "
			"mdbus_sub_poll() call was evicted as stalled",
			HANDLER_MS);
	return 0;
}
