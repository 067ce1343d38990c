/*
 * t_interrupt.c - ending a blocked mdbus_sub_read() early: signals and
 * mdbus_sub_interrupt(), with real processes, threads and signals.
 *
 * 1. SIGINT, handler installed without SA_RESTART, sent to a process
 *    asleep in mdbus_sub_read() with a 30 s timeout (adaptive and block):
 *    the read returns -EINTR within 5 s of the kill(). A signal landing
 *    between two of the reader's sleeps (each ends at 100 ms, and a loaded
 *    machine may not run the reader for a while) is not noticed, as
 *    libmdbus(3) says ("Interrupting a read"), so SIGINT is sent again
 *    every 50 ms until the read returns, timed from the last one.
 * 2. mdbus_sub_interrupt() from another thread while the reader sleeps
 *    (block), and while it spins (MDBUS_WAIT_SPIN, which no signal ends):
 *    -EINTR within 5 s. An interrupt made while nobody reads is answered
 *    by the next read that would wait, once: the read after it times out.
 * 3. mdbus_sub_interrupt() from a signal handler installed with
 *    SA_RESTART (so only the interrupt can end the read), reader spinning
 *    and sleeping: one signal, in whatever phase it lands, ends the read
 *    with -EINTR within 5 s.
 * 4. Continuity: a publisher process sends 200000 messages in bursts on a
 *    lossless channel while a thread interrupts the reader every ~50 us
 *    and the publisher showers it with SIGUSR2 (handler without
 *    SA_RESTART): every message arrives once, in order, intact, nothing
 *    lost, and some reads did return -EINTR.
 * 5. A pending interrupt ends a read that is stepping over messages
 *    stamped before its start time between two batches of steps.
 * The threads share one handle: TSan checks mdbus_sub_interrupt()
 * against the reader (THREADED_TESTS).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mdbus.h"
#include "testutil.h"

#define SLOT 128
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define FLOOD 200000ULL
/* An interrupt must end the read long before its 30 s timeout (typically
 * within a millisecond; the bound leaves room for a loaded 2-core machine
 * running sanitized builds, and for TSan, which runs a handler only when a
 * restarted sleep reaches its 100 ms cap). Speed is the benchmarks'
 * business. */
#define LATE_NS 5000000000ULL
#define HANDLER_LATE_NS LATE_NS
#define LONG_NS 30000000000LL
#define RESEND_MS 50 /* SIGINT again while the read has not returned */

struct shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t done;
	_Atomic uint64_t sent_ns;
	_Atomic uint32_t sigs;
	_Atomic uint32_t returned; /* read_interrupted()'s read returned */
};

static struct shared *sh;
static mdbus_sub_t *handler_sub; /* the handle the SIGUSR1 handler rings */
static _Atomic uint32_t reader_tid;

static void on_signal(int sig)
{
	(void)sig;
}

static void on_usr1_interrupt(int sig)
{
	(void)sig;
	mdbus_sub_interrupt(handler_sub);
}

static void handle(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	TU_CHECK(sigaction(sig, &sa, NULL) == 0);
}

static mdbus_pub_t *make_channel(const char *ch, enum mdbus_mode mode)
{
	struct mdbus_pub_config c = tu_config(SLOT, 1024, 4, mode);

	(void)mdbus_unlink(ch, NULL);
	return tu_pub_open(ch, &c);
}

/* One read with a 5 s timeout that must end with -EINTR no later than
 * `bound` ns after sh->sent_ns (set by whoever interrupts). */
static void read_interrupted(mdbus_sub_t *s, const char *what, uint64_t bound)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	uint64_t late;
	int rc;

	rc = mdbus_sub_read(s, buf, sizeof(buf), &m, LONG_NS);
	late = tu_now_ns() - atomic_load(&sh->sent_ns);
	atomic_store(&sh->returned, 1);
	TU_CHECK_RC(rc, -EINTR);
	if (late > bound)
		tu_fail("%s: -EINTR %.1f ms after the interrupt", what,
			(double)late / 1e6);
	tu_note("%s: -EINTR after %.2f ms", what, (double)late / 1e6);
}

/* ---------------------------------------------------------- 1. SIGINT */

static int sigint_reader(void *arg)
{
	enum mdbus_wait *mode = arg;
	mdbus_sub_t *s = tu_sub_open("intr", NULL, MDBUS_START_LATEST, 0, *mode);

	handle(SIGINT, on_signal, 0);
	atomic_store(&sh->ready, 1);
	read_interrupted(s, "SIGINT without SA_RESTART", LATE_NS);
	mdbus_sub_close(s);
	return 0;
}

/* Starts reader process fn(&mode), lets it settle into its wait (asleep
 * unless it spins), sends it sig (again every RESEND_MS until its read
 * returned, if resend) and expects it to pass. */
static void signal_child(int (*fn)(void *), enum mdbus_wait mode, int sig,
			 int resend)
{
	pid_t kid;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->returned, 0);
	kid = tu_spawn(fn, &mode);
	tu_await(&sh->ready, 1, 30, "reader process");
	if (mode != MDBUS_WAIT_SPIN)
		tu_await_state(kid, 'S', 30, "reader process asleep");
	tu_sleep_ms(20); /* well into its wait */
	do {
		atomic_store(&sh->sent_ns, tu_now_ns());
		kill(kid, sig);
		for (int i = 0; i < RESEND_MS && !atomic_load(&sh->returned) &&
				tu_proc_state(kid) != 'Z'; i++)
			tu_sleep_ms(1);
	} while (resend && !atomic_load(&sh->returned) &&
		 tu_proc_state(kid) != 'Z');
	tu_wait_ok(kid, 60, "reader process");
}

/* ------------------------------------------------ 2. from a thread */

static void *blocked_reader(void *arg)
{
	atomic_store(&reader_tid, (uint32_t)syscall(SYS_gettid));
	read_interrupted(arg, "mdbus_sub_interrupt() from a thread", LATE_NS);
	return NULL;
}

static void from_thread(enum mdbus_wait mode)
{
	mdbus_sub_t *s = tu_sub_open("intr", "thr", MDBUS_START_LATEST, 0, mode);
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	pthread_t t;

	atomic_store(&reader_tid, 0);
	TU_CHECK(pthread_create(&t, NULL, blocked_reader, s) == 0);
	while (!atomic_load(&reader_tid))
		tu_sleep_ms(1);
	if (mode != MDBUS_WAIT_SPIN)
		tu_await_state((pid_t)atomic_load(&reader_tid), 'S', 10,
			       "reader thread asleep");
	tu_sleep_ms(20);
	atomic_store(&sh->sent_ns, tu_now_ns());
	mdbus_sub_interrupt(s);
	TU_CHECK(pthread_join(t, NULL) == 0);

	/* pending: two interrupts before a read, answered by one -EINTR */
	mdbus_sub_interrupt(s);
	mdbus_sub_interrupt(s);
	atomic_store(&sh->sent_ns, tu_now_ns());
	read_interrupted(s, "interrupt made before the read", LATE_NS);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 20000000), -ETIMEDOUT);
	mdbus_sub_close(s);
}

/* ----------------------------------------- 3. from a signal handler */

static int handler_reader(void *arg)
{
	enum mdbus_wait *mode = arg;

	handler_sub = tu_sub_open("intr", NULL, MDBUS_START_LATEST, 0, *mode);
	handle(SIGUSR1, on_usr1_interrupt, SA_RESTART);
	atomic_store(&sh->ready, 1);
	read_interrupted(handler_sub, "mdbus_sub_interrupt() in a handler",
			 HANDLER_LATE_NS);
	mdbus_sub_close(handler_sub);
	return 0;
}

/* ------------------------------- 5. while stepping to a start time */

/* A read stepping over messages stamped before its start time answers a
 * pending interrupt between two batches of steps, not only once it has
 * stepped over everything there: a feed faster than the steps would
 * otherwise keep it from ever answering. STEPPED messages wait, stamped
 * 1 ns after the epoch; the read steps over them by batches (4096). */
#define STEPPED (3 * 4096)

static void stepping(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, 4096, 4, MDBUS_MODE_OVERWRITE);
	struct mdbus_sub_config sc;
	unsigned char buf[PMAX] = { 0 };
	struct mdbus_msg m;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	uint64_t i;

	(void)mdbus_unlink("intr.step", NULL);
	p = tu_pub_open("intr.step", &c);
	for (i = 0; i < STEPPED; i++)
		TU_CHECK_RC(mdbus_pub_publish(p, 7, buf, 8, 1), 0);
	mdbus_sub_config_init(&sc);
	sc.start = MDBUS_START_TIME;
	sc.start_time_ns = tu_realtime_ns();
	sc.wait = MDBUS_WAIT_SPIN;
	sc.dir = tu_dir();
	TU_CHECK_RC(mdbus_sub_open(&s, "intr.step", &sc), 0);
	mdbus_sub_interrupt(s);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, LONG_NS), -EINTR);
	if (mdbus_sub_position(s) >= STEPPED)
		tu_fail("stepping: -EINTR only once every message was stepped "
			"over (position %llu)",
			(unsigned long long)mdbus_sub_position(s));
	/* the steps go on from there; then a message stamped now */
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 20000000), -ETIMEDOUT);
	TU_CHECK_EQ(mdbus_sub_position(s), STEPPED);
	TU_CHECK_RC(mdbus_pub_publish(p, 7, buf, 8, 0), 0);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, LONG_NS), 0);
	TU_CHECK_EQ(m.seq, STEPPED);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* ------------------------------------------------- 4. continuity */

static int flood_publisher(void *arg)
{
	struct mdbus_pub_config c = tu_config(SLOT, 1024, 4, MDBUS_MODE_LOSSLESS);
	pid_t reader = getppid();
	unsigned char buf[PMAX];
	mdbus_pub_t *p = tu_pub_open("flood", &c);
	uint64_t seq = 0;

	(void)arg;
	while (seq < FLOOD) {
		int rc = tu_publish_seq(p, seq, buf, 0, PMAX);

		if (rc == MDBUS_EBACKPRESSURE)
			continue;
		TU_CHECK_RC(rc, 0);
		if (++seq % 500 == 0) { /* a burst, then a pause to sleep in */
			kill(reader, SIGUSR2);
			tu_sleep_ms(0.2);
		}
	}
	mdbus_pub_close(p);
	return 0;
}

static void *interrupter(void *arg)
{
	while (!atomic_load(&sh->done)) {
		mdbus_sub_interrupt(arg);
		tu_sleep_ms(0.05);
	}
	return NULL;
}

static void continuity(void)
{
	mdbus_sub_t *s;
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	uint64_t want = 0, eintr = 0;
	pthread_t t;
	pid_t kid;

	mdbus_pub_close(make_channel("flood", MDBUS_MODE_LOSSLESS));
	s = tu_sub_open("flood", "flood", MDBUS_START_OLDEST, 0,
			MDBUS_WAIT_ADAPTIVE);
	handle(SIGUSR2, on_signal, 0);
	atomic_store(&sh->done, 0);
	/* forked before this process has a second thread: the child starts
	 * one (the publisher's nudger), which TSan refuses after a fork of a
	 * multi-threaded process */
	kid = tu_spawn(flood_publisher, NULL);
	TU_CHECK(pthread_create(&t, NULL, interrupter, s) == 0);
	while (want < FLOOD) {
		int rc = mdbus_sub_read(s, buf, sizeof(buf), &m, LONG_NS);

		if (rc == -EINTR) {
			eintr++;
			continue;
		}
		TU_CHECK_RC(rc, 0);
		tu_check_next(&m, buf, want, 0, PMAX);
		want++;
	}
	atomic_store(&sh->done, 1);
	TU_CHECK(pthread_join(t, NULL) == 0);
	tu_wait_ok(kid, 30, "flood publisher");
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), -EAGAIN);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	if (eintr == 0)
		tu_fail("no -EINTR in %llu messages", (unsigned long long)FLOOD);
	tu_note("%llu messages in order across %llu -EINTR returns",
		(unsigned long long)FLOOD, (unsigned long long)eintr);
	mdbus_sub_close(s);
	handle(SIGUSR2, SIG_DFL, 0);
}

int main(void)
{
	tu_init("t_interrupt", 120);
	sh = tu_shared(sizeof(*sh));
	mdbus_pub_close(make_channel("intr", MDBUS_MODE_OVERWRITE));
	signal_child(sigint_reader, MDBUS_WAIT_ADAPTIVE, SIGINT, 1);
	signal_child(sigint_reader, MDBUS_WAIT_BLOCK, SIGINT, 1);
	from_thread(MDBUS_WAIT_BLOCK);
	from_thread(MDBUS_WAIT_SPIN);
	signal_child(handler_reader, MDBUS_WAIT_SPIN, SIGUSR1, 0);
	signal_child(handler_reader, MDBUS_WAIT_BLOCK, SIGUSR1, 0);
	stepping();
	continuity();
	return 0;
}
