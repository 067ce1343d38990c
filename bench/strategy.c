/*
 * strategy.c - what a reader's wait strategy costs at the rates where it
 * matters: one-way latency and the reader's own CPU time.
 *
 * A publisher (first CPU) sends a paced feed on a channel of its own; one
 * reader (second CPU) reads it with mdbus_sub_read() and the strategy
 * under test, and times each message (send time, CLOCK_MONOTONIC, in the
 * first payload word; receive time read when the read returns). The
 * reader's CPU time is getrusage(RUSAGE_SELF) user + system over its timed
 * part, divided by the wall time of that part: what the strategy burns
 * per second, spinning and sleeping included. The publisher sleeps until
 * about 50 us before each send time and spins the rest, so the pace is
 * exact and the publisher's CPU does not disturb the reader's.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "mdbus.h"
#include "mdbus_msg.h"

#define ST_MAX_SAMPLES 400000u
#define ST_SPIN_AHEAD_NS 50000u /* the publisher spins the last 50 us */
#define ST_WARMUP 20            /* first messages not timed */

struct st_shared {
	_Alignas(BENCH_LINE) _Atomic int ready; /* reader attached: release,
		acquired by the publisher before its first message */
	_Alignas(BENCH_LINE) _Atomic int done; /* publisher finished: release,
		acquired by the reader, which then stops */
	_Alignas(BENCH_LINE) uint64_t cpu_ns;  /* reader's timed part; read by */
	uint64_t wall_ns;                      /* the coordinator after */
	uint64_t lost;                         /* waitpid() */
	uint64_t nsamples;
	uint64_t samples[ST_MAX_SAMPLES];
};

struct st_run {
	const struct bench_opts *o;
	const struct bench_feed *feed;
	const struct bench_waiter *w;
	char channel[32];
	struct st_shared *sh;
};

static void sleep_until(uint64_t t)
{
	struct timespec ts;
	uint64_t now = bench_now();

	if (t > now + ST_SPIN_AHEAD_NS) {
		t -= ST_SPIN_AHEAD_NS;
		ts.tv_sec = (time_t)(t / 1000000000u);
		ts.tv_nsec = (long)(t % 1000000000u);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		t += ST_SPIN_AHEAD_NS;
	}
	while (bench_now() < t)
		;
}

static int st_publisher(void *arg)
{
	struct st_run *run = arg;
	const struct bench_feed *f = run->feed;
	struct mdbus_pub_config cfg;
	uint64_t payload[5] = { 0 }, t, end, i;
	mdbus_pub_t *pub;
	int r;

	mdbus_pub_config_init(&cfg);
	cfg.slot_size = 64;
	cfg.slots_per_block = 4096;
	cfg.block_count = BENCH_RING_SLOTS / 4096;
	cfg.dir = run->o->dir;
	cfg.flags = run->w->pub_flags;
	r = mdbus_pub_open(&pub, run->channel, &cfg);
	if (r < 0) {
		bench_fail("mdbus_pub_open", r);
		return 1;
	}
	bench_wait_count(&run->sh->ready, 1);
	t = bench_now() + 1000000;
	end = t + run->o->strategy_ns;
	for (i = 0; t < end; i++) {
		sleep_until(t);
		payload[0] = bench_now();
		mdbus_pub_publish(pub, MDBUS_MSG_RAW, payload, sizeof(payload), 1);
		t += (i + 1) % f->burst ? f->gap_ns : f->period_ns -
			(f->burst - 1) * f->gap_ns;
	}
	sleep_until(bench_now() + 2000000); /* the last one read */
	atomic_store_explicit(&run->sh->done, 1, memory_order_release);
	mdbus_pub_close(pub);
	return 0;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

static int st_open_reader(struct st_run *run, mdbus_sub_t **sub)
{
	struct mdbus_sub_config cfg;
	int r, tries = 0;

	mdbus_sub_config_init(&cfg);
	cfg.wait = run->w->wait;
	cfg.anonymous = run->w->anonymous;
	cfg.dir = run->o->dir;
	while ((r = mdbus_sub_open(sub, run->channel, &cfg)) == -ENOENT &&
	       tries++ < 1000)
		usleep(1000);
	if (r < 0)
		bench_fail("mdbus_sub_open", r);
	return r;
}

static int st_reader(void *arg)
{
	struct st_run *run = arg;
	struct st_shared *sh = run->sh;
	uint64_t buf[8], got = 0, c0, w0;
	struct mdbus_msg msg;
	mdbus_sub_t *sub;
	int r = 0;

	if (st_open_reader(run, &sub) < 0)
		return 1;
	c0 = cpu_ns();
	w0 = bench_now();
	atomic_store_explicit(&sh->ready, 1, memory_order_release);
	while (!atomic_load_explicit(&sh->done, memory_order_acquire)) {
		r = mdbus_sub_read(sub, buf, sizeof(buf), &msg, 10000000);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0)
			break;
		if (got++ >= ST_WARMUP && sh->nsamples < ST_MAX_SAMPLES)
			sh->samples[sh->nsamples++] = bench_now() - buf[0];
	}
	sh->cpu_ns = cpu_ns() - c0;
	sh->wall_ns = bench_now() - w0;
	sh->lost = mdbus_sub_lost(sub);
	mdbus_sub_close(sub);
	return r < 0 && r != -ETIMEDOUT ? 1 : 0;
}

int bench_strategy(const struct bench_opts *o, const struct bench_feed *feed,
		   const struct bench_waiter *w, struct bench_strat *out)
{
	static unsigned seq;
	struct st_run run = { o, feed, w, "", NULL };
	struct bench_pct pct;
	pid_t reader, pub;
	int r;

	run.sh = mmap(NULL, sizeof(*run.sh), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (run.sh == MAP_FAILED)
		return -errno;
	snprintf(run.channel, sizeof(run.channel), "strat%u", seq++);
	pub = bench_fork(0, st_publisher, &run);
	reader = bench_fork(1, st_reader, &run);
	r = bench_reap(reader);
	r = bench_reap(pub) < 0 ? -1 : r;
	mdbus_unlink(run.channel, o->dir);
	if (r == 0) {
		bench_percentiles(run.sh->samples, run.sh->nsamples, &pct);
		out->p50 = pct.p50;
		out->p99 = pct.p99;
		out->n = pct.n;
		out->lost = run.sh->lost;
		out->cpu_pct = run.sh->wall_ns ? 100.0 * (double)run.sh->cpu_ns /
						 (double)run.sh->wall_ns : 0;
	}
	munmap(run.sh, sizeof(*run.sh));
	return r;
}
