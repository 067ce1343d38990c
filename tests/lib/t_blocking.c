/*
 * t_blocking.c - blocking readers across processes.
 *
 * 1. Ping-pong: a parent and a child process hand a message back and forth
 *    over two channels with mdbus_sub_read() and no timeout, 100k
 *    hand-offs with MDBUS_WAIT_BLOCK and 100k with the adaptive default.
 *    The reader is usually asleep on the futex when the message comes, so
 *    a lost wake-up (a missing barrier between "I am waiting" and "I
 *    published", or a stale "nothing yet" snapshot) would hang a hand-off
 *    forever: the watchdog fails the test. The library caps one futex
 *    sleep at 100 ms, which turns a lost wake-up into a round trip of
 *    exactly 100 ms, spent asleep: any such round trip fails the test too,
 *    unless the two processes spent most of it on a CPU or waiting for one
 *    (/proc/PID/schedstat): a loaded machine, not a lost wake-up.
 * 2. Timeouts: on an idle channel every wait strategy returns -ETIMEDOUT
 *    no sooner than the time asked, and not absurdly later (5 s bound).
 * 3. Idle CPU: a reader blocked in mdbus_sub_read() (adaptive and block)
 *    on an idle channel uses < 50 ms of CPU over 1 s, then wakes for the
 *    next message.
 * 4. Replacement: a reader blocked (no timeout) when the segment is
 *    replaced by a publisher with another geometry returns
 *    MDBUS_EREPLACED (a missing wake-up hangs it: the watchdog fails).
 * 5. Four processes blocked on one channel all wake for one message (a
 *    wake-one futex would leave three asleep forever).
 * 6. Signals (with a handler installed with SA_RESTART) showered on a
 *    blocked reader: it neither returns early nor loses the message.
 *    Kernels without futex_waitv(2) end its sleep with -EINTR anyway
 *    (libmdbus(3), "Interrupting a read"): not checked there. The flag is
 *    given to sigaction() rather than left to signal(): glibc's signal()
 *    sets it, TSan's interception of signal() does not (its reads then
 *    end with -EINTR, as documented for a handler without SA_RESTART).
 * 7. A reader SIGKILLed while blocked leaves no waiter behind once the
 *    publisher reaped it: the producer must not pay a FUTEX_WAKE syscall
 *    per message forever (checked on the header's waiter count).
 */
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "testutil.h"

#define SLOT 128
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define HANDOFFS 100000ULL /* per wait strategy, both directions counted */

struct shared {
	_Atomic uint32_t ready;
};

static struct shared *sh;
static char ping[32], pong[32];
static enum mdbus_wait wait_mode;

static struct mdbus_pub_config small_config(void)
{
	return tu_config(SLOT, 64, 4, MDBUS_MODE_OVERWRITE);
}

/* Reads message `want` forever-blocking; fails on anything else. */
static void read_exact(mdbus_sub_t *s, uint64_t want, const char *who)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	const char *bad;
	int rc = mdbus_sub_read(s, buf, sizeof(buf), &m, -1);

	if (rc)
		tu_fail("%s: read %llu: %s", who, (unsigned long long)want,
			mdbus_strerror(rc));
	if (m.seq != want || m.lost)
		tu_fail("%s: got seq %llu lost %llu, want %llu", who,
			(unsigned long long)m.seq, (unsigned long long)m.lost,
			(unsigned long long)want);
	bad = tu_msg_bad(&m, buf, 0, PMAX);
	if (bad)
		tu_fail("%s: %s", who, bad);
}

/* Spins a random 0..~2 us so that publishes land at every point of the
 * other side's way into its wait. */
static void jitter(void)
{
	uint64_t until = tu_now_ns() + tu_rand_below(2000);

	if (tu_rand_below(4) == 0)
		while (tu_now_ns() < until)
			;
}

/* tu_active_ns() of both processes, summed; -1 if unknown. */
static int64_t both_active_ns(const int fds[2])
{
	int64_t a = tu_active_ns(fds[0]), b = tu_active_ns(fds[1]);

	return a < 0 || b < 0 ? -1 : a + b;
}

/* A round trip of t ns (over 50 ms) that began when both processes had
 * been active a0 ns (both_active_ns()): 1 when it slept through the
 * 100 ms futex cap (wait.c SLEEP_MAX_NS), taking that long and spent
 * mostly asleep rather than on a CPU or waiting for one; else logged. */
static int slow_round_trip(uint64_t t, int64_t a0, const int fds[2])
{
	int64_t a = both_active_ns(fds);
	double busy = a0 >= 0 && a >= 0 ? (double)(a - a0) : -1;

	if (t >= 99500000 && t <= 102000000 && busy < (double)t / 2)
		return 1;
	if (busy < 0)
		tu_note("slow round trip: %.1f ms", (double)t / 1e6);
	else
		tu_note("slow round trip: %.1f ms, %.1f ms of it on a CPU or "
			"waiting for one", (double)t / 1e6, busy / 1e6);
	return 0;
}

static int echo_child(void *arg)
{
	struct mdbus_pub_config c = small_config();
	mdbus_sub_t *s = tu_sub_open(ping, "echo", MDBUS_START_LATEST, 0,
				     wait_mode);
	mdbus_pub_t *p = tu_pub_open(pong, &c);
	unsigned char buf[PMAX];

	(void)arg;
	atomic_store(&sh->ready, 1);
	for (uint64_t i = 0; i < HANDOFFS / 2; i++) {
		read_exact(s, i, "child");
		jitter();
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 0, PMAX), 0);
	}
	mdbus_pub_close(p);
	mdbus_sub_close(s);
	return 0;
}

static void pingpong(enum mdbus_wait mode, const char *label)
{
	struct mdbus_pub_config c = small_config();
	unsigned char buf[PMAX];
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	uint64_t t0 = tu_now_ns(), capped = 0;
	int fds[2];
	pid_t child;

	snprintf(ping, sizeof(ping), "ping.%s", label);
	snprintf(pong, sizeof(pong), "pong.%s", label);
	wait_mode = mode;
	atomic_store(&sh->ready, 0);
	p = tu_pub_open(ping, &c);
	mdbus_pub_close(tu_pub_open(pong, &c)); /* the child resumes it */
	s = tu_sub_open(pong, "pingpong", MDBUS_START_LATEST, 0, mode);
	child = tu_spawn(echo_child, NULL);
	tu_await(&sh->ready, 1, 30, "echo child");
	fds[0] = tu_schedstat_open(getpid());
	fds[1] = tu_schedstat_open(child);
	for (uint64_t i = 0; i < HANDOFFS / 2; i++) {
		int64_t a0 = both_active_ns(fds);
		uint64_t t = tu_now_ns();

		jitter();
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 0, PMAX), 0);
		read_exact(s, i, "parent");
		/* The library caps one futex sleep at 100 ms (wait.c
		 * SLEEP_MAX_NS), so a lost wake-up shows as a round trip of
		 * exactly that cap, asleep, rather than a hang. Other slow
		 * round trips are only logged. */
		t = tu_now_ns() - t;
		if (t > 50000000)
			capped += slow_round_trip(t, a0, fds);
	}
	tu_wait_ok(child, 60, "echo child");
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	tu_note("%llu %s hand-offs in %.2f s", (unsigned long long)HANDOFFS,
		label, (double)(tu_now_ns() - t0) / 1e9);
	if (capped)
		tu_fail("%s: %llu lost wake-ups (round trips that took exactly "
			"the 100 ms futex sleep cap)",
			label, (unsigned long long)capped);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static void timeouts(void)
{
	static const struct {
		enum mdbus_wait w;
		const char *name;
	} modes[] = {
		{ MDBUS_WAIT_SPIN, "spin" },
		{ MDBUS_WAIT_YIELD, "yield" },
		{ MDBUS_WAIT_BLOCK, "block" },
		{ MDBUS_WAIT_ADAPTIVE, "adaptive" },
	};
	static const int64_t asks[] = { 1000000, 100000000 };
	struct mdbus_pub_config c = small_config();
	mdbus_pub_t *p = tu_pub_open("timeouts", &c);
	unsigned char buf[PMAX];
	struct mdbus_msg m;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		mdbus_sub_t *s = tu_sub_open("timeouts", modes[i].name,
					     MDBUS_START_LATEST, 0,
					     modes[i].w);

		for (size_t j = 0; j < sizeof(asks) / sizeof(asks[0]); j++) {
			uint64_t t0 = tu_now_ns(), dt;

			TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
						   asks[j]),
				    -ETIMEDOUT);
			dt = tu_now_ns() - t0;
			if (dt < (uint64_t)asks[j] || dt > 5000000000ULL)
				tu_fail("%s wait of %lld ns returned "
					"-ETIMEDOUT after %llu ns",
					modes[i].name, (long long)asks[j],
					(unsigned long long)dt);
		}
		/* still works after timing out */
		TU_CHECK_RC(tu_publish_seq(p, mdbus_pub_position(p), buf, 0,
					   PMAX),
			    0);
		read_exact(s, mdbus_pub_position(p) - 1, modes[i].name);
		mdbus_sub_close(s);
	}
	mdbus_pub_close(p);
}

static int idle_reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("idle", NULL, MDBUS_START_LATEST, 0,
				     wait_mode);

	(void)arg;
	atomic_store(&sh->ready, 1);
	read_exact(s, 0, "idle reader");
	mdbus_sub_close(s);
	return 0;
}

static void idle_cpu(enum mdbus_wait mode, const char *label)
{
	struct mdbus_pub_config c = small_config();
	unsigned char buf[PMAX];
	int64_t cpu0, cpu1;
	mdbus_pub_t *p;
	pid_t child;

	p = tu_pub_open("idle", &c);
	wait_mode = mode;
	atomic_store(&sh->ready, 0);
	child = tu_spawn(idle_reader, NULL);
	tu_await(&sh->ready, 1, 30, "idle reader");
	tu_sleep_ms(300); /* past any spin or yield phase */
	cpu0 = tu_proc_cpu_ns(child);
	tu_sleep_ms(1000);
	cpu1 = tu_proc_cpu_ns(child);
	TU_CHECK(cpu0 >= 0 && cpu1 >= 0);
	if (cpu1 - cpu0 >= 50000000)
		tu_fail("%s reader blocked on an idle channel used %lld ms of "
			"CPU in 1 s",
			label, (long long)((cpu1 - cpu0) / 1000000));
	tu_note("idle %s reader: %lld ms CPU in 1 s", label,
		(long long)((cpu1 - cpu0) / 1000000));
	TU_CHECK_RC(tu_publish_seq(p, 0, buf, 0, PMAX), 0);
	tu_wait_ok(child, 30, "idle reader (woken by a publish)");
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("idle", NULL), 0);
}

static int replaced_reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("replace", NULL, MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_BLOCK);
	unsigned char buf[256];
	struct mdbus_msg m;

	(void)arg;
	atomic_store(&sh->ready, 1);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, -1),
		    MDBUS_EREPLACED);
	TU_CHECK_RC(mdbus_sub_reopen(s, MDBUS_START_OLDEST, 0), 0);
	TU_CHECK_EQ(mdbus_sub_payload_max(s), 256 - MDBUS_SLOT_HEADER);
	read_exact(s, 0, "reopened reader");
	mdbus_sub_close(s);
	return 0;
}

static void replaced_while_blocked(void)
{
	struct mdbus_pub_config c = small_config();
	unsigned char buf[PMAX];
	mdbus_pub_t *p;
	pid_t child;

	/* no publisher open here while forking (see t_pubkill) */
	mdbus_pub_close(tu_pub_open("replace", &c));
	atomic_store(&sh->ready, 0);
	child = tu_spawn(replaced_reader, NULL);
	tu_await(&sh->ready, 1, 30, "reader");
	tu_await_state(child, 'S', 60, "blocked reader"); /* on the futex */
	tu_sleep_ms(50);
	c.slot_size = 256;
	c.flags = MDBUS_PUB_REPLACE;
	p = tu_pub_open("replace", &c);
	TU_CHECK_RC(tu_publish_seq(p, 0, buf, 0, PMAX), 0);
	tu_wait_ok(child, 30, "reader blocked across a replacement");
	mdbus_pub_close(p);
}

static int wake_reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("wakeall", NULL, MDBUS_START_LATEST, 0,
				     (intptr_t)arg & 1 ? MDBUS_WAIT_BLOCK
						       : MDBUS_WAIT_ADAPTIVE);

	atomic_fetch_add(&sh->ready, 1);
	read_exact(s, 0, "one of four blocked readers");
	mdbus_sub_close(s);
	return 0;
}

static void wake_all(void)
{
	struct mdbus_pub_config c = small_config();
	unsigned char buf[PMAX];
	mdbus_pub_t *p;
	pid_t kids[4];

	mdbus_pub_close(tu_pub_open("wakeall", &c));
	atomic_store(&sh->ready, 0);
	for (int i = 0; i < 4; i++)
		kids[i] = tu_spawn(wake_reader, (void *)(intptr_t)i);
	tu_await(&sh->ready, 4, 30, "four readers");
	for (int i = 0; i < 4; i++)
		tu_await_state(kids[i], 'S', 60, "blocked reader");
	tu_sleep_ms(50);
	p = tu_pub_open("wakeall", &c);
	TU_CHECK_RC(tu_publish_seq(p, 0, buf, 0, PMAX), 0);
	for (int i = 0; i < 4; i++)
		tu_wait_ok(kids[i], 30, "blocked reader woken by one publish");
	mdbus_pub_close(p);
}

static void on_usr1(int sig)
{
	(void)sig;
}


static int signalled_reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("signals", NULL, MDBUS_START_LATEST, 0,
				     wait_mode);
	unsigned char buf[PMAX];
	struct sigaction sa;
	struct mdbus_msg m;
	uint64_t t0;

	(void)arg;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	TU_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	atomic_store(&sh->ready, 1);
	t0 = tu_now_ns();
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 300000000LL),
		    -ETIMEDOUT);
	if (tu_now_ns() - t0 < 300000000ULL)
		tu_fail("timed out early under signals: %llu ns",
			(unsigned long long)(tu_now_ns() - t0));
	atomic_store(&sh->ready, 2);
	read_exact(s, 0, "reader under signals");
	mdbus_sub_close(s);
	return 0;
}

static void signals(enum mdbus_wait mode)
{
	struct mdbus_pub_config c = small_config();
	unsigned char buf[PMAX];
	uint64_t deadline;
	mdbus_pub_t *p;
	pid_t kid;

	if (!tu_have_waitv()) {
		tu_note("no futex_waitv: SA_RESTART not honoured, not checked");
		return;
	}
	(void)mdbus_unlink("signals", NULL);
	mdbus_pub_close(tu_pub_open("signals", &c));
	wait_mode = mode;
	atomic_store(&sh->ready, 0);
	kid = tu_spawn(signalled_reader, NULL);
	tu_await(&sh->ready, 1, 30, "reader");
	deadline = tu_now_ns() + 30000000000ULL;
	while (atomic_load(&sh->ready) < 2) {
		if (tu_proc_state(kid) == 'Z') /* failed: its reason */
			tu_wait_ok(kid, 60, "reader under signals");
		if (tu_now_ns() > deadline)
			tu_fail("reader under signals: its 300 ms read did not "
				"end within 30 s");
		kill(kid, SIGUSR1);
		tu_sleep_ms(2);
	}
	for (int i = 0; i < 100; i++) {
		kill(kid, SIGUSR1);
		tu_sleep_ms(2);
	}
	p = tu_pub_open("signals", &c);
	TU_CHECK_RC(tu_publish_seq(p, 0, buf, 0, PMAX), 0);
	for (int i = 0; i < 20; i++)
		kill(kid, SIGUSR1);
	tu_wait_ok(kid, 30, "reader under signals");
	mdbus_pub_close(p);
}

static int doomed_reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("doomed", NULL, MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_BLOCK);

	(void)arg;
	atomic_store(&sh->ready, 1);
	read_exact(s, 0, "doomed reader");
	tu_fail("doomed reader got a message");
}

static void killed_while_blocked(void)
{
	struct mdbus_pub_config c = small_config();
	unsigned char buf[PMAX];
	struct seg_table_header *h;
	mdbus_pub_t *p;
	size_t len;
	pid_t kid;

	mdbus_pub_close(tu_pub_open("doomed", &c));
	atomic_store(&sh->ready, 0);
	kid = tu_spawn(doomed_reader, NULL);
	tu_await(&sh->ready, 1, 30, "reader");
	tu_await_state(kid, 'S', 60, "blocked reader");
	tu_sleep_ms(50);
	tu_kill_reap(kid);
	p = tu_pub_open("doomed", &c); /* reclaims the dead reader's entry */
	TU_CHECK_RC(mdbus_pub_reap(p), 0);
	TU_CHECK_RC(tu_publish_seq(p, 0, buf, 0, PMAX), 0);
	h = tu_map_file(tu_table_path("doomed"), &len);
	TU_CHECK_EQ(atomic_load(&h->reclaims), 1);
	if (waiters_count(atomic_load(&h->waiters)) != 0)
		tu_fail("a reader SIGKILLed while blocked left waiters = %u: "
			"every publish now makes a futex syscall",
			waiters_count(atomic_load(&h->waiters)));
	tu_unmap(h, len);
	mdbus_pub_close(p);
}

int main(void)
{
	tu_init("t_blocking", 240);
	sh = tu_shared(sizeof(*sh));
	pingpong(MDBUS_WAIT_BLOCK, "block");
	pingpong(MDBUS_WAIT_ADAPTIVE, "adaptive");
	timeouts();
	idle_cpu(MDBUS_WAIT_ADAPTIVE, "adaptive");
	idle_cpu(MDBUS_WAIT_BLOCK, "block");
	replaced_while_blocked();
	wake_all();
	signals(MDBUS_WAIT_BLOCK);
	signals(MDBUS_WAIT_ADAPTIVE);
	killed_while_blocked();
	return 0;
}
