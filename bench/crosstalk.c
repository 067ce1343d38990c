/*
 * crosstalk.c - does reader traffic on one channel disturb the publisher
 * of another?
 *
 * A publisher (first CPU) publishes back to back on channel A, which has
 * no readers, and times every publish call (clock pair included). In a
 * "noisy" run a second publisher and a blocking reader of channel B (both
 * on the second CPU) exchange one message per millisecond, so B's reader
 * goes to sleep and is woken 1000 times a second. Anything the sleeping
 * side does to other CPUs (an inter-processor interrupt, a shootdown)
 * shows as A's publish calls that take microseconds: counted as stalls
 * (calls of at least STALL_NS) per second, and directly as the
 * function-call interrupts A's CPU received (/proc/interrupts, CAL; the
 * column is taken to be the CPU's number), per second of A's timed part.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "mdbus.h"
#include "mdbus_msg.h"

#define XT_SAMPLES 4000000u      /* publish calls timed per run */
#define XT_NOISE_PACE_NS 1000000 /* B: one message per millisecond */
#define XT_STALL_NS 1000u

struct xt_shared {
	_Alignas(BENCH_LINE) _Atomic int noise_ready; /* B's reader attached:
		release-increment, acquired by A before its timed part */
	_Alignas(BENCH_LINE) _Atomic int done; /* A finished: release-store,
		acquired by B's processes, which then exit */
	_Alignas(BENCH_LINE) uint64_t elapsed_ns; /* A's timed part; read by
		the coordinator after waitpid() */
	uint64_t samples[XT_SAMPLES];
};

/* What each child process gets: the options, its channel, the results. */
struct xt_child {
	const struct bench_opts *o;
	const char *name;
	struct xt_shared *sh;
};

static int open_channel(const struct bench_opts *o, const char *name,
			mdbus_pub_t **pub)
{
	struct mdbus_pub_config cfg;
	int r;

	mdbus_pub_config_init(&cfg);
	cfg.slot_size = 64;
	cfg.slots_per_block = 4096;
	cfg.block_count = BENCH_RING_SLOTS / 4096;
	cfg.dir = o->dir;
	r = mdbus_pub_open(pub, name, &cfg);
	if (r < 0)
		bench_fail("mdbus_pub_open", r);
	return r;
}

static int quiet_publisher(void *arg)
{
	const struct xt_child *c = arg;
	const struct bench_opts *o = c->o;
	const char *name = c->name;
	struct xt_shared *sh = c->sh;
	uint64_t payload[5] = { 0 }, t0, t1, start;
	mdbus_pub_t *pub;
	uint32_t i;

	if (open_channel(o, name, &pub) < 0)
		return 1;
	for (i = 0; i < BENCH_RING_SLOTS; i++) /* warm-up lap */
		mdbus_pub_publish(pub, MDBUS_MSG_RAW, payload, sizeof(payload), 1);
	start = t0 = bench_now();
	for (i = 0; i < XT_SAMPLES; i++) {
		payload[0] = i;
		mdbus_pub_publish(pub, MDBUS_MSG_RAW, payload, sizeof(payload), 1);
		t1 = bench_now();
		sh->samples[i] = t1 - t0;
		t0 = t1;
	}
	sh->elapsed_ns = t0 - start;
	atomic_store_explicit(&sh->done, 1, memory_order_release);
	mdbus_pub_close(pub);
	return 0;
}

/* B's publisher: one message per millisecond until A is done. */
static int noise_publisher(void *arg)
{
	const struct xt_child *c = arg;
	const struct bench_opts *o = c->o;
	const char *name = c->name;
	struct xt_shared *sh = c->sh;
	struct timespec pause = { 0, XT_NOISE_PACE_NS };
	uint64_t payload[5] = { 0 };
	mdbus_pub_t *pub;

	if (open_channel(o, name, &pub) < 0)
		return 1;
	atomic_fetch_add_explicit(&sh->noise_ready, 1, memory_order_release);
	while (!atomic_load_explicit(&sh->done, memory_order_acquire)) {
		nanosleep(&pause, NULL);
		mdbus_pub_publish(pub, MDBUS_MSG_RAW, payload, sizeof(payload), 1);
	}
	mdbus_pub_close(pub);
	return 0;
}

/* B's reader: blocks on the futex between messages. */
static int noise_reader(void *arg)
{
	const struct xt_child *c = arg;
	const struct bench_opts *o = c->o;
	const char *name = c->name;
	struct xt_shared *sh = c->sh;
	struct mdbus_sub_config cfg;
	struct mdbus_msg msg;
	uint64_t buf[8];
	mdbus_sub_t *sub = NULL;
	int r, tries = 0;

	mdbus_sub_config_init(&cfg);
	cfg.wait = MDBUS_WAIT_BLOCK;
	cfg.dir = o->dir;
	while ((r = mdbus_sub_open(&sub, name, &cfg)) == -ENOENT && tries++ < 1000)
		usleep(1000);
	if (r < 0) {
		bench_fail("mdbus_sub_open", r);
		return 1;
	}
	atomic_fetch_add_explicit(&sh->noise_ready, 1, memory_order_release);
	while (!atomic_load_explicit(&sh->done, memory_order_acquire))
		(void)mdbus_sub_read(sub, buf, sizeof(buf), &msg, 10000000);
	mdbus_sub_close(sub);
	return 0;
}

/* Function-call interrupts (the IPI membarrier and TLB shootdowns send)
 * received so far by the CPU in column col of /proc/interrupts' CAL line;
 * 0 when unknown. */
static uint64_t call_interrupts(int col)
{
	char line[4096], *p, *end;
	uint64_t v = 0;
	FILE *f = fopen("/proc/interrupts", "r");
	int i;

	while (f && fgets(line, sizeof(line), f)) {
		p = strstr(line, "CAL:");
		if (!p)
			continue;
		p += 4;
		for (i = 0; i <= col; i++, p = end) {
			v = strtoull(p, &end, 10);
			if (end == p) {
				v = 0;
				break;
			}
		}
		break;
	}
	if (f)
		fclose(f);
	return v;
}

int bench_crosstalk(const struct bench_opts *o, int noisy, struct bench_xtalk *out)
{
	static unsigned run;
	struct xt_shared *sh;
	struct xt_child ca, cb;
	char a[32], b[32];
	pid_t pids[3];
	int n = 0, r;
	uint64_t i, ipi, stalls = 0;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -errno;
	snprintf(a, sizeof(a), "xtA%u", run);
	snprintf(b, sizeof(b), "xtB%u", run++);
	ca = (struct xt_child){ o, a, sh };
	cb = (struct xt_child){ o, b, sh };
	if (noisy) { /* A starts once B's two processes are running */
		pids[n++] = bench_fork(1, noise_publisher, &cb);
		pids[n++] = bench_fork(1, noise_reader, &cb);
		bench_wait_count(&sh->noise_ready, 2);
	}
	ipi = call_interrupts(bench_cpu_at(0));
	pids[n++] = bench_fork(0, quiet_publisher, &ca);
	for (r = 0, i = 0; i < (uint64_t)n; i++)
		r |= bench_reap(pids[i]);
	ipi = call_interrupts(bench_cpu_at(0)) - ipi;
	mdbus_unlink(a, o->dir);
	if (noisy)
		mdbus_unlink(b, o->dir);
	if (r == 0) {
		for (i = 0; i < XT_SAMPLES; i++)
			stalls += sh->samples[i] >= XT_STALL_NS;
		out->stalls_per_s = sh->elapsed_ns ?
			(double)stalls * 1e9 / (double)sh->elapsed_ns : 0;
		out->ipi_per_s = sh->elapsed_ns ?
			(double)ipi * 1e9 / (double)sh->elapsed_ns : 0;
		bench_percentiles(sh->samples, XT_SAMPLES, &out->pct);
	}
	munmap(sh, sizeof(*sh));
	return r;
}
