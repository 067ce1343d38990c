/*
 * t_waitcpu.c - what waiting costs a reader (libmdbus(3), "Waiting"): the
 * default adaptive strategy on a steady 500 msgs/s feed sleeps between
 * messages instead of spinning and yielding (it used 6% of a CPU), and an
 * idle anonymous reader naps 1 ms at a time on the futex word (it polled
 * every 200 us: 9%), yet is woken within a few ms. CPU time is the
 * reader process's own (getrusage), so a loaded machine cannot raise it.
 */
#include <errno.h>
#include <sys/resource.h>

#include "mdbus.h"
#include "testutil.h"

#define CHANNEL "waitcpu"
#define MSGS 500
#define PACE_MS 2.0
#define IDLE_NS 1000000000LL

struct shared {
	_Atomic uint32_t ready;
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

/* Anonymous, adaptive: idle for 1 s, then woken by one message. */
static int idle_reader(void *arg)
{
	struct mdbus_sub_config c;
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s = NULL;
	uint64_t t0;
	int64_t c0;

	(void)arg;
	mdbus_sub_config_init(&c);
	c.anonymous = 1;
	c.dir = tu_dir();
	TU_CHECK_RC(mdbus_sub_open(&s, CHANNEL, &c), 0);
	t0 = tu_now_ns();
	c0 = own_cpu_ns();
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, IDLE_NS), -ETIMEDOUT);
	check_cpu("idle anonymous reader", own_cpu_ns() - c0, tu_now_ns() - t0, 3.0);
	atomic_store_explicit(&sh->ready, 2, memory_order_release);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, IDLE_NS), 0);
	/* published with its send time (CLOCK_MONOTONIC) as timestamp */
	if (tu_now_ns() - m.ts_ns > 20000000u)
		tu_fail("anonymous reader woken %llu us after the message",
			(unsigned long long)((tu_now_ns() - m.ts_ns) / 1000));
	mdbus_sub_close(s);
	return 0;
}

int main(void)
{
	struct mdbus_pub_config cfg;
	unsigned char buf[40] = { 0 };
	mdbus_pub_t *p;
	pid_t pid;

	tu_init("t_waitcpu", 60);
	sh = tu_shared(sizeof(*sh));
	cfg = tu_config(64, 1024, 4, MDBUS_MODE_OVERWRITE);
	p = tu_pub_open(CHANNEL, &cfg);

	pid = tu_spawn(paced_reader, NULL);
	tu_await(&sh->ready, 1, 10, "paced reader attached");
	for (int n = 0; n < MSGS; n++) {
		TU_CHECK_RC(mdbus_pub_publish(p, 1, buf, sizeof(buf), 0), 0);
		tu_sleep_ms(PACE_MS);
	}
	tu_wait_ok(pid, 10, "paced reader");

	atomic_store(&sh->ready, 0);
	pid = tu_spawn(idle_reader, NULL);
	tu_await(&sh->ready, 2, 10, "idle reader timed out");
	tu_sleep_ms(50);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, buf, sizeof(buf), tu_now_ns()), 0);
	tu_wait_ok(pid, 10, "idle reader");
	mdbus_pub_close(p);
	tu_note("ok");
	return 0;
}
