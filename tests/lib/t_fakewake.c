/*
 * t_fakewake.c - anyone who can read a segment can FUTEX_WAKE its futex
 * words (wake_seq, nudge_seq) from a read-only mapping, in a loop; the
 * channel's sleeping readers then look at the channel about once a
 * millisecond each (wait.c pause_unwoken()), not at every wake. Before,
 * each woken reader looked and slept again at once: an attack run's loop
 * made one registered blocking reader use 46% of a CPU, four readers 1.1
 * CPUs between them.
 *
 * A waker process loops FUTEX_WAKE on both words while, one after the
 * other, a registered blocking reader, a registered adaptive one and an
 * anonymous one of a nudging publisher (asleep on both words at once)
 * wait 1 s on a channel that publishes nothing. Each must time out, use
 * at most 5% of a CPU and make at most 5000 voluntary context switches
 * (a pause and a sleep a millisecond: about 2000; before, 40000 and
 * more), and the waker must have woken sleepers during it (else the test
 * proves nothing). Then a message published under the loop wakes each
 * (the producer bumps the word it wakes).
 *
 * Last, the registered blocking reader again with a SIGALRM handler
 * installed with SA_RESTART and a timer firing every 2 ms: under the
 * loop it spends most of its time in the pause, and a handler run there
 * must not end the read with -EINTR any more than one run in its sleep
 * (libmdbus(3), "Interrupting a read"; checked with futex_waitv(2) only,
 * as t_blocking's signals). The pause was a FUTEX_WAIT with a timeout,
 * which the kernel never restarts after a handler (-EINTR at once).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "mdbus.h"
#include "layout.h"
#include "testutil.h"

#define CHANNEL "fakewake"
#define IDLE_NS 1000000000LL
#define WAKE_WAIT_NS 30000000000LL /* a deadline, not a bound on latency */
#define CPU_MAX_PCT 5.0
#define SWITCHES_MAX 5000L

struct shared {
	_Atomic uint32_t stop;    /* the waker stops */
	_Atomic uint32_t ready;   /* 1: the waker runs; the reader's step */
	_Atomic uint64_t woken;   /* sleepers the waker's FUTEX_WAKEs woke */
};

static struct shared *sh;

enum reader_kind { BLOCKING, ADAPTIVE, ANONYMOUS, SIGNALLED };

static const char *const kind_name[] = {
	"registered blocking reader", "registered adaptive reader",
	"anonymous reader of a nudging publisher",
	"registered blocking reader under SA_RESTART signals",
};

static _Atomic unsigned long alarms;

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&alarms, 1, memory_order_relaxed);
}

/* A SIGALRM handler with SA_RESTART, run every 2 ms (on: 1), or none. */
static void alarm_every_2ms(int on)
{
	struct itimerval it = { { 0, on ? 2000 : 0 }, { 0, on ? 2000 : 0 } };
	struct sigaction sa;

	if (on) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		TU_CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	}
	TU_CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

/* Maps the segment read-only, as any reader may, and wakes both futex
 * words in a loop until told to stop. */
static int waker(void *arg)
{
	struct seg_header *h = tu_map_header_ro(CHANNEL);

	(void)arg;
	atomic_store(&sh->ready, 1);
	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		long a = syscall(SYS_futex, &h->wake_seq, FUTEX_WAKE, INT_MAX,
				 NULL, NULL, 0);
		long b = syscall(SYS_futex, &h->nudge_seq, FUTEX_WAKE, INT_MAX,
				 NULL, NULL, 0);

		atomic_fetch_add_explicit(&sh->woken, (uint64_t)(a > 0 ? a : 0) +
					  (uint64_t)(b > 0 ? b : 0),
					  memory_order_relaxed);
	}
	return 0;
}

static void usage_now(int64_t *cpu_ns, long *switches)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*cpu_ns = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
		  (int64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	*switches = ru.ru_nvcsw;
}

/* Waits IDLE_NS for nothing under the waker's loop (its CPU and context
 * switches checked), then for the message the parent publishes. */
static int reader(void *arg)
{
	enum reader_kind kind = (enum reader_kind)(intptr_t)arg;
	const char *what = kind_name[kind];
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s = NULL;
	int64_t cpu0, cpu1;
	long sw0, sw1;
	uint64_t t0, wall;
	double pct;

	if (kind == ANONYMOUS)
		s = tu_sub_open_anonymous(CHANNEL);
	else
		s = tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0,
				kind != ADAPTIVE ? MDBUS_WAIT_BLOCK
						 : MDBUS_WAIT_ADAPTIVE);
	if (kind == SIGNALLED)
		alarm_every_2ms(1);
	t0 = tu_now_ns();
	usage_now(&cpu0, &sw0);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, IDLE_NS), -ETIMEDOUT);
	usage_now(&cpu1, &sw1);
	if (kind == SIGNALLED) {
		alarm_every_2ms(0);
		tu_note("%s: %lu handlers ran, none ended the read", what,
			atomic_load(&alarms));
		if (atomic_load(&alarms) == 0)
			tu_fail("%s: no handler ran: the test proves nothing",
				what);
	}
	wall = tu_now_ns() - t0;
	pct = 100.0 * (double)(cpu1 - cpu0) / (double)wall;
	tu_note("%s, woken in a loop for 1 s: %.2f%% of a CPU, %ld voluntary "
		"context switches", what, pct, sw1 - sw0);
	if (pct > CPU_MAX_PCT || sw1 - sw0 > SWITCHES_MAX)
		tu_fail("%s used %.2f%% of a CPU (at most %.1f%%) and switched "
			"%ld times (at most %ld)", what, pct, CPU_MAX_PCT,
			sw1 - sw0, SWITCHES_MAX);
	atomic_store(&sh->ready, 2);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, WAKE_WAIT_NS), 0);
	TU_CHECK_EQ(m.size, 8u);
	mdbus_sub_close(s);
	return 0;
}

int main(void)
{
	unsigned char buf[8] = { 0 };
	mdbus_pub_t *p;
	pid_t wpid, pid;

	tu_init("t_fakewake", 120);
	tu_take_turn();
	sh = tu_shared(sizeof(*sh));
	p = tu_pub_open_nudging(CHANNEL);
	wpid = tu_spawn(waker, NULL);
	tu_await(&sh->ready, 1, 30, "waker mapped the segment");
	for (int k = BLOCKING; k <= SIGNALLED; k++) {
		uint64_t w0 = atomic_load(&sh->woken), woken;

		if (k == SIGNALLED && !tu_have_waitv()) {
			tu_note("no futex_waitv: SA_RESTART not honoured, not "
				"checked");
			break;
		}
		atomic_store(&sh->ready, 1);
		pid = tu_spawn(reader, (void *)(intptr_t)k);
		tu_await(&sh->ready, 2, 60, kind_name[k]);
		woken = atomic_load(&sh->woken) - w0;
		tu_note("%s: the waker woke %llu sleepers meanwhile", kind_name[k],
			(unsigned long long)woken);
		if (woken == 0)
			tu_fail("%s: the waker woke nobody: the test proves "
				"nothing", kind_name[k]);
		tu_sleep_ms(20); /* the reader asleep again */
		TU_CHECK_RC(mdbus_pub_publish(p, 1, buf, sizeof(buf), 0), 0);
		tu_wait_ok(pid, 60, kind_name[k]);
	}
	atomic_store(&sh->stop, 1);
	tu_wait_ok(wpid, 30, "waker");
	mdbus_pub_close(p);
	tu_note("ok");
	return 0;
}
