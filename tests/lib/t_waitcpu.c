/*
 * t_waitcpu.c - what waiting costs a reader (libmdbus(3), "Waiting"): the
 * default adaptive strategy on a steady 500 msgs/s feed sleeps between
 * messages instead of spinning and yielding (it used 6% of a CPU); an
 * idle anonymous reader of a nudging publisher (pub_nudge.c) or of a
 * channel without a publisher sleeps on the futex word for up to 100 ms
 * (under 1% of a CPU; napping 1 ms at a time it used 1.2-1.7%), and under
 * a publisher without a nudger naps 1 ms at a time (it polled every
 * 200 us: 9%; bound 10%: on a loaded machine its naps cost more than
 * the 1-3% of a quiet one); each is woken by a message within a few ms (the median of
 * 21, each after a 10 ms pause, is asserted under 20 ms: a reader nobody
 * wakes would sleep up to 100 ms, a median of about 50). CPU time is the
 * reader process's own (getrusage), so a loaded machine cannot raise it
 * much; the wake-up time asserted is the time the reader spent asleep
 * after the message, its latency less what it and the publisher's threads
 * (its nudger wakes it) spent since the publish on a CPU or waiting for
 * one (/proc/PID/schedstat, summed by the publisher before it publishes
 * and sent in the message): a loaded machine made a woken reader wait
 * 375 ms (median) for a CPU, and a nudger 26 ms.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mdbus.h"
#include "testutil.h"

#define CHANNEL "waitcpu"
#define MSGS 500
#define PACE_MS 2.0
#define IDLE_NS 1000000000LL
#define WAKE_WAIT_NS 30000000000LL /* a deadline, not a bound on latency */
#define WAKES 21
#define PAUSE_MS 10.0
#define WAKE_MAX_NS 20000000u

struct shared {
	_Atomic uint32_t ready;
	_Atomic uint64_t sent;  /* messages published before the reader's */
	char what[64];          /* the idle reader's case */
};

static struct shared *sh;

static int64_t own_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       (int64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static void check_cpu(const char *what, int64_t cpu, uint64_t wall, double max_pct)
{
	double pct = 100.0 * (double)cpu / (double)wall;

	tu_note("%s: %.2f%% of a CPU", what, pct);
	if (pct > max_pct)
		tu_fail("%s used %.2f%% of a CPU (at most %.1f%%)", what, pct, max_pct);
}

/* Registered, adaptive: every message of the paced feed, in order. */
static int paced_reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(CHANNEL, "paced", MDBUS_START_OLDEST, 0,
				     MDBUS_WAIT_ADAPTIVE);
	unsigned char buf[64];
	struct mdbus_msg m;
	uint64_t t0;
	int64_t c0;

	(void)arg;
	atomic_store_explicit(&sh->ready, 1, memory_order_release);
	t0 = tu_now_ns();
	c0 = own_cpu_ns();
	for (uint64_t n = 0; n < MSGS; n++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 1000000000LL), 0);
		TU_CHECK_EQ(m.seq, n);
	}
	check_cpu("adaptive reader, 500 msgs/s", own_cpu_ns() - c0, tu_now_ns() - t0, 3.0);
	mdbus_sub_close(s);
	return 0;
}

/* The median of n wake-up latencies (sorts them). */
static uint64_t median(uint64_t *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

/* tu_active_ns() of the reader (its schedstat fd) plus that of every
 * thread of the publisher's process pub; -1 if unknown. */
static int64_t pair_active_ns(int reader_fd, pid_t pub)
{
	int64_t sum = tu_active_ns(reader_fd), a;
	char path[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pub);
	d = opendir(path);
	if (!d)
		return -1;
	while (sum >= 0 && (e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = tu_schedstat_open((pid_t)atoi(e->d_name));
		a = tu_active_ns(fd);
		if (fd >= 0)
			close(fd);
		sum = a < 0 ? -1 : sum + a;
	}
	closedir(d);
	return sum;
}

/* Anonymous, adaptive: idle for 1 s (its CPU at most max_pct x 100 %),
 * then woken by WAKES messages, each published after a pause with its
 * send time (CLOCK_MONOTONIC) as timestamp and pair_active_ns() then as
 * payload. */
static int idle_reader(void *arg)
{
	intptr_t max_pct = (intptr_t)arg;
	struct mdbus_sub_config c;
	unsigned char buf[64];
	uint64_t lat[WAKES], asleep[WAKES], t0, t1, first = atomic_load(&sh->sent);
	int fd = tu_schedstat_open(getpid());
	struct mdbus_msg m;
	mdbus_sub_t *s = NULL;
	int64_t c0;

	mdbus_sub_config_init(&c);
	c.anonymous = 1;
	c.dir = tu_dir();
	TU_CHECK_RC(mdbus_sub_open(&s, CHANNEL, &c), 0);
	t0 = tu_now_ns();
	c0 = own_cpu_ns();
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, IDLE_NS), -ETIMEDOUT);
	check_cpu(sh->what, own_cpu_ns() - c0, tu_now_ns() - t0,
		  (double)max_pct / 100.0);
	atomic_store_explicit(&sh->ready, 2, memory_order_release);
	for (int i = 0; i < WAKES; i++) {
		int64_t a0, a, busy;

		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, WAKE_WAIT_NS),
			    0);
		lat[i] = tu_now_ns() - m.ts_ns;
		a = pair_active_ns(fd, getppid());
		memcpy(&a0, buf, sizeof(a0));
		busy = a0 >= 0 && a >= a0 ? a - a0 : 0;
		asleep[i] = lat[i] > (uint64_t)busy ? lat[i] - (uint64_t)busy : 0;
		TU_CHECK_EQ(m.seq, first + (uint64_t)i);
	}
	if (fd >= 0)
		close(fd);
	t0 = median(asleep, WAKES);
	t1 = median(lat, WAKES);
	tu_note("%s: woken %.1f us after the message (median of %d; max %.1f), "
		"asleep %.1f us of it (median)", sh->what, (double)t1 / 1e3,
		WAKES, (double)lat[WAKES - 1] / 1e3, (double)t0 / 1e3);
	/* a reader nobody wakes sleeps up to 100 ms: a loose bound for a
	 * loaded box */
	if (t0 > WAKE_MAX_NS)
		tu_fail("%s asleep %.1f ms after the message (median)",
			sh->what, (double)t0 / 1e6);
	mdbus_sub_close(s);
	return 0;
}

/* Starts an idle anonymous reader, then wakes it WAKES times. A channel
 * without a publisher (p NULL) gets one opened (cfg) first. */
static mdbus_pub_t *wake_idle_reader(mdbus_pub_t *p, const struct mdbus_pub_config *cfg,
				     const char *what, intptr_t max_pct)
{
	unsigned char buf[40] = { 0 };
	int64_t active;
	pid_t pid;
	int fd;

	snprintf(sh->what, sizeof(sh->what), "%s", what);
	atomic_store(&sh->ready, 0);
	pid = tu_spawn(idle_reader, (void *)max_pct);
	fd = tu_schedstat_open(pid);
	tu_await(&sh->ready, 2, 30, "idle reader timed out");
	if (!p)
		p = tu_pub_open(CHANNEL, cfg);
	for (int i = 0; i < WAKES; i++) {
		tu_sleep_ms(PAUSE_MS); /* the nudger goes idle meanwhile */
		active = pair_active_ns(fd, getpid());
		memcpy(buf, &active, sizeof(active));
		TU_CHECK_RC(mdbus_pub_publish(p, 1, buf, sizeof(buf), tu_now_ns()), 0);
	}
	tu_wait_ok(pid, 60, what);
	if (fd >= 0)
		close(fd);
	atomic_fetch_add(&sh->sent, WAKES);
	return p;
}

int main(void)
{
	struct mdbus_pub_config cfg;
	unsigned char buf[40] = { 0 };
	mdbus_pub_t *p;
	pid_t pid;

	tu_init("t_waitcpu", 120);
	sh = tu_shared(sizeof(*sh));
	cfg = tu_nudging(tu_config(64, 1024, 4, MDBUS_MODE_OVERWRITE));
	p = tu_pub_open(CHANNEL, &cfg);

	pid = tu_spawn(paced_reader, NULL);
	tu_await(&sh->ready, 1, 60, "paced reader attached");
	for (int n = 0; n < MSGS; n++) {
		TU_CHECK_RC(mdbus_pub_publish(p, 1, buf, sizeof(buf), 0), 0);
		tu_sleep_ms(PACE_MS);
	}
	tu_wait_ok(pid, 60, "paced reader");
	atomic_store(&sh->sent, MSGS);

	p = wake_idle_reader(p, &cfg, "idle anonymous reader, nudging publisher", 100);
	mdbus_pub_close(p);
	/* no publisher: the next one wakes every sleeper when it starts */
	p = wake_idle_reader(NULL, &cfg, "idle anonymous reader, no publisher", 100);
	mdbus_pub_close(p);
	cfg.flags &= ~MDBUS_PUB_NUDGE;
	p = tu_pub_open(CHANNEL, &cfg);
	p = wake_idle_reader(p, &cfg, "idle anonymous reader, publisher without nudger", 1000);
	mdbus_pub_close(p);
	tu_note("ok");
	return 0;
}
