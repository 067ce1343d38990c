/*
 * mdbench - latency, throughput and publish cost of libmdbus next to the
 * physical floor (a cache line bouncing between two cores) and a minimal
 * seqlock ring, all measured in the same run. See bench/README for the
 * method. Not a test: it asserts nothing about the numbers.
 */
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "mdbus.h"

#define FULL_MESSAGES 10000000ULL
#define QUICK_MESSAGES 300000ULL
#define PACE_NS 3000
#define WAKE_PACE_NS 1000000
#define FULL_REPS 3 /* runs per throughput / publish-cost cell */
#define IDLE_READERS 8
#define CLOCK_READS 1000000

struct ctx {
	struct bench_opts o;
	double floor_ns;     /* one-way floor: RTT p50 / 2 */
	double ring_rate;    /* last baseline ring throughput */
	int failures;
};

typedef void (*cell_fn)(struct ctx *ctx, const struct bench_transport *tp,
			const struct bench_cell *cell);

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mdbench [--quick] [--messages N] [--reps N] [--only SECTION]\n"
		"               [--help]\n"
		"  --quick       short run for CI smoke tests (a few seconds): fewer\n"
		"                messages, one run per cell instead of %d\n"
		"  --only S      the floor and one section: latency, pages, wakeup,\n"
		"                throughput, pubcost, crosstalk, strategy or summary\n"
		"  --messages N  messages per throughput cell (split over its runs)\n"
		"                and per publish-cost run (default %llu, quick %llu);\n"
		"                latency runs take N/100 samples, the floor N/10\n"
		"                round trips\n"
		"  --reps N      runs per cell, 1 to %d (default %d, quick 1): more\n"
		"                runs give steadier medians on a noisy machine\n",
		FULL_REPS, FULL_MESSAGES, QUICK_MESSAGES, BENCH_MAX_REPS, FULL_REPS);
}

struct args {
	uint64_t messages;
	int quick;
	int reps;         /* 0 = the default for quick or full */
	const char *only; /* NULL = every section */
};

static int parse_number(const char *text, uint64_t *out)
{
	char *end;

	*out = strtoull(text, &end, 10);
	if (*end || *out < 1000) {
		fprintf(stderr, "mdbench: --messages wants a number >= 1000\n");
		return 2;
	}
	return 0;
}

static int parse_reps(const char *text, int *out)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (*end || end == text || v < 1 || v > BENCH_MAX_REPS) {
		fprintf(stderr, "mdbench: --reps wants a number from 1 to %d\n",
			BENCH_MAX_REPS);
		return 2;
	}
	*out = (int)v;
	return 0;
}

/* Returns 0 to run, 1 to exit with success (--help), 2 on a usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "messages", required_argument, NULL, 'm' },
		{ "only", required_argument, NULL, 'o' },
		{ "reps", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r = 0;

	a->messages = FULL_MESSAGES;
	a->quick = 0;
	a->reps = 0;
	a->only = NULL;
	while (r == 0 && (c = getopt_long(argc, argv, "qm:o:r:h", opts, NULL)) != -1) {
		if (c == 'q') {
			a->messages = QUICK_MESSAGES;
			a->quick = 1;
		}
		else if (c == 'm')
			r = parse_number(optarg, &a->messages);
		else if (c == 'o')
			a->only = optarg;
		else if (c == 'r')
			r = parse_reps(optarg, &a->reps);
		else
			r = c == 'h' ? 1 : 2;
	}
	if (r == 0 && optind < argc)
		r = 2;
	if (r)
		usage(r == 1 ? stdout : stderr);
	return r;
}

/* ------------------------------------------------------------- header */

static void read_line(const char *path, const char *key, char *out, size_t len)
{
	char line[256], *v;
	size_t k;
	FILE *f = fopen(path, "r");

	snprintf(out, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)) != 0)
			continue;
		v = strchr(line, ':');
		v = v ? v + 2 : line;
		k = strcspn(v, "\n");
		k = k < len ? k : len - 1;
		memcpy(out, v, k);
		out[k] = 0;
		break;
	}
	fclose(f);
}

/* 1 when the CPU flags in /proc/cpuinfo name `flag` (e.g. "hypervisor"). */
static int cpu_flag(const char *flag)
{
	static char line[8192];
	FILE *f = fopen("/proc/cpuinfo", "r");
	char *p;
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (p = strtok(line, " \t\n"); p && !found; p = strtok(NULL, " \t\n"))
			found = strcmp(p, flag) == 0;
		break;
	}
	if (f)
		fclose(f);
	return found;
}

static double clock_cost(void)
{
	uint64_t t0 = bench_now(), t = t0;
	int i;

	for (i = 0; i < CLOCK_READS; i++)
		t = bench_now();
	return (double)(t - t0) / CLOCK_READS;
}

static void print_header(const struct ctx *ctx)
{
	char cpu[128], src[64], load[64];
	int n = bench_cpus();

	read_line("/proc/cpuinfo", "model name", cpu, sizeof(cpu));
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  "", src, sizeof(src));
	read_line("/proc/loadavg", "", load, sizeof(load));
	if (strrchr(load, ' '))
		*strrchr(load, ' ') = 0; /* drop the last pid */
	printf("mdbench: %d CPUs usable (nproc %ld), CPU \"%s\"%s; /proc/loadavg %s\n",
	       n, sysconf(_SC_NPROCESSORS_ONLN), cpu,
	       cpu_flag("hypervisor") ? ", virtual machine" : "", load);
	printf("method: producer and consumers are separate processes (fork), "
	       "producer pinned to the first CPU,\n"
	       "  consumers round-robin on the others; rings of %u slots; "
	       "messages fill the slot payload\n"
	       "  (slot - %d B); clock CLOCK_MONOTONIC (%s), one read costs %.1f ns;\n"
	       "  segments in a private directory %s\n",
	       BENCH_RING_SLOTS, MDBUS_SLOT_HEADER, src, clock_cost(), ctx->o.dir);
	printf("  'ring' = minimal seqlock ring (per-slot stamps only) built into "
	       "this bench, readers spin\n");
	if (n < 2)
		printf("  NOTE: one CPU only: producer and consumers share it, "
		       "numbers are not meaningful\n");
}

/* --------------------------------------------------------------- rows */

static const char *mode_name(enum bench_mode m)
{
	return m == BENCH_LOSSLESS ? "lossless" : "overwrite";
}

static const char *wait_name(enum bench_wait w)
{
	return w == BENCH_SPIN ? "spin" : "adaptive";
}

static void print_cell(const struct bench_transport *tp, const struct bench_cell *c)
{
	printf("%-7s %4u %4d %-9s %-8s |", tp->name, c->slot_size, c->consumers,
	       mode_name(c->mode), wait_name(c->wait));
}

/* Oversubscription note: more processes than CPUs. */
static void print_note(const struct bench_cell *c, uint64_t lost)
{
	int procs = 1 + c->consumers, n = bench_cpus();

	printf(" |");
	if (procs > n)
		printf(" oversubscribed: %d procs on %d CPUs", procs, n);
	if (lost)
		printf(" lost %llu", (unsigned long long)lost);
	printf("\n");
}

static void failed(struct ctx *ctx)
{
	ctx->failures++;
	if (bench_stopped())
		printf(" stopped by signal %d\n", bench_stopped());
	else
		printf(" FAILED (see stderr)\n");
}

static void latency_row(struct ctx *ctx, const struct bench_transport *tp,
			const struct bench_cell *cell)
{
	struct bench_lat l;

	print_cell(tp, cell);
	fflush(stdout);
	if (bench_latency(tp, cell, &ctx->o, &l) < 0 || l.pct.n == 0) {
		failed(ctx);
		return;
	}
	printf(" %7llu %8llu %8llu %9llu | %7.2f %7.2f",
	       (unsigned long long)l.pct.p50, (unsigned long long)l.pct.p99,
	       (unsigned long long)l.pct.p999, (unsigned long long)l.pct.max,
	       l.pct.p50 / ctx->floor_ns, l.pct.p99 / ctx->floor_ns);
	print_note(cell, l.lost);
}

static void throughput_row(struct ctx *ctx, const struct bench_transport *tp,
			   const struct bench_cell *cell)
{
	struct bench_tput t;
	double ns;

	print_cell(tp, cell);
	fflush(stdout);
	if (tp == &bench_ring_transport)
		ctx->ring_rate = 0; /* stays 0 (no ratio) if the ring fails */
	if (bench_throughput(tp, cell, &ctx->o, &t) < 0) {
		failed(ctx);
		return;
	}
	if (tp == &bench_ring_transport)
		ctx->ring_rate = t.rate;
	ns = 1e9 / t.rate;
	printf(" %7.1f %7.1f %6.2f %6.2f %7.2f | %6.2f %6.3f", t.rate / 1e6,
	       t.rate * (1 - t.loss) / 1e6, ns, t.loss * 100, t.retries,
	       ctx->ring_rate > 0 ? t.rate / ctx->ring_rate : 0.0, ns / ctx->floor_ns);
	print_note(cell, 0);
}

/* The matrix: slot size x consumers x mode; per cell the baseline ring
 * (spin) first, then mdbus spin, with `batched` mdbus-b spin, and mdbus
 * adaptive. */
static void for_each_cell(struct ctx *ctx, cell_fn fn, int batched)
{
	static const uint32_t slots[] = { 64, 256 };
	static const int consumers[] = { 1, 3 };
	struct bench_cell c;
	size_t s, n;
	int m;

	for (s = 0; s < 2; s++)
		for (n = 0; n < 2; n++)
			for (m = BENCH_OVERWRITE; m <= BENCH_LOSSLESS && !bench_stopped(); m++) {
				c.slot_size = slots[s];
				c.consumers = consumers[n];
				c.mode = (enum bench_mode)m;
				c.wait = BENCH_SPIN;
				fn(ctx, &bench_ring_transport, &c);
				fn(ctx, &bench_mdbus_transport, &c);
				if (batched)
					fn(ctx, &bench_mdbus_batch_transport, &c);
				c.wait = BENCH_ADAPTIVE;
				fn(ctx, &bench_mdbus_transport, &c);
			}
}

static void pubcost_print(const struct ctx *ctx, const struct bench_transport *tp,
			  uint32_t slot, const char *readers, struct bench_pct *ps,
			  double base)
{
	double med = ps->p50 / 1000.0;

	printf("%-7s %4u %8s | %7.2f %7.2f %7.2f | %+8.1f%% | %6.3f\n", tp->name,
	       slot, readers, med, ps->min / 1000.0, ps->max / 1000.0,
	       base > 0 ? (med / base - 1) * 100 : 0.0, med / ctx->floor_ns);
}

/* reps runs with 0 readers interleaved with reps runs with IDLE_READERS
 * idle ones, reps with one active, spinning reader and, for mdbus, reps
 * with an archiving reader (so that a drifting machine hits all alike);
 * prints a row each. */
static void pubcost_pair(struct ctx *ctx, const struct bench_transport *tp,
			 uint32_t slot)
{
	static const int readers[4] = { 0, IDLE_READERS, 1, 1 };
	static const enum bench_readers kind[4] = {
		BENCH_READERS_IDLE, BENCH_READERS_IDLE, BENCH_READERS_ACTIVE,
		BENCH_READERS_ARCHIVE,
	};
	static const char *const label[4] = { "0", "8 idle", "1 active",
					      "archive" };
	struct bench_cell c = { slot, 0, BENCH_OVERWRITE, BENCH_SPIN };
	int rows = tp == &bench_mdbus_transport ? 4 : 3;
	uint64_t ps[4][BENCH_MAX_REPS];
	struct bench_pct p[4];
	int i, k;

	for (i = 0; i < ctx->o.reps; i++)
		for (k = 0; k < rows; k++) {
			c.consumers = readers[k];
			if (bench_pubcost(tp, &c, &ctx->o, kind[k], &ps[k][i]) < 0) {
				printf("%-7s %4u          |", tp->name, slot);
				failed(ctx);
				return;
			}
		}
	for (k = 0; k < rows; k++) {
		bench_percentiles(ps[k], (uint64_t)ctx->o.reps, &p[k]);
		pubcost_print(ctx, tp, slot, label[k], &p[k],
			      k ? p[0].p50 / 1000.0 : 0);
	}
}

/* ----------------------------------------------------------- sections */

static int floor_section(struct ctx *ctx, uint64_t rounds)
{
	struct bench_pct rtt;

	printf("\n== floor: one 64-byte cache line bounced between 2 processes "
	       "(%llu round trips, one clock pair each)\n", (unsigned long long)rounds);
	if (bench_floor(rounds, &rtt) < 0) {
		printf("FAILED: no floor, no ratios\n");
		return -1;
	}
	ctx->floor_ns = rtt.p50 / 2.0;
	printf("round trip  p50 %llu  p99 %llu  p99.9 %llu  max %llu ns\n",
	       (unsigned long long)rtt.p50, (unsigned long long)rtt.p99,
	       (unsigned long long)rtt.p999, (unsigned long long)rtt.max);
	printf("one way     p50 %.1f  p99 %.1f  p99.9 %.1f ns  (RTT/2; "
	       "'xf' columns below = value / %.1f ns)\n", ctx->floor_ns, rtt.p99 / 2.0,
	       rtt.p999 / 2.0, ctx->floor_ns);
	return 0;
}

/* The floor once more: shows how far the machine drifted during the run. */
static void floor_recheck(const struct ctx *ctx, uint64_t rounds)
{
	struct bench_pct rtt;

	if (bench_floor(rounds, &rtt) < 0)
		return;
	printf("\n== floor again at the end: round trip p50 %llu ns, p99 %llu ns "
	       "(start: p50 %.0f ns, drift %+.0f%%)\n", (unsigned long long)rtt.p50,
	       (unsigned long long)rtt.p99, ctx->floor_ns * 2,
	       (rtt.p50 / (ctx->floor_ns * 2) - 1) * 100);
}

static void latency_columns(void)
{
	printf("%-7s %4s %4s %-9s %-8s | %7s %8s %8s %9s | %7s %7s | note\n", "bus",
	       "slot", "cons", "mode", "wait", "p50", "p99", "p99.9", "max",
	       "p50 xf", "p99 xf");
}

static void latency_section(struct ctx *ctx)
{
	printf("\n== one-way latency (ns): paced, 1 message every %llu ns, send time "
	       "in the payload,\n   receive time read when the read returns; "
	       "%llu samples per consumer, all consumers merged\n",
	       (unsigned long long)ctx->o.pace_ns, (unsigned long long)ctx->o.samples);
	latency_columns();
	for_each_cell(ctx, latency_row, 0);
}

static void page_row(int run, const struct bench_transport *tp,
		     const struct bench_lat *l)
{
	const struct bench_page *g = &l->page;

	printf("%3d %-7s %5llu | %6.1f %6.1f %6.1f %6.1f (%u)\n", run, tp->name,
	       (unsigned long long)l->pct.p50, 100 * g->median, 100 * g->first,
	       100 * g->head, 100 * g->worst, g->worst_pos);
}

/* The latency's page profile (pages.c), reps runs of ring and mdbus
 * interleaved, each run shown: a drifting machine moves both alike. */
static void pages_section(struct ctx *ctx)
{
	static const struct bench_transport *const tps[] = {
		&bench_ring_transport, &bench_mdbus_transport
	};
	struct bench_cell c = { 64, 1, BENCH_OVERWRITE, BENCH_SPIN };
	struct bench_lat l;
	size_t t;
	int i;

	printf("\n== pages: one-way latency by the slot's place in its %u-byte page "
	       "(64-byte slots, one\n   reader spinning, overwrite, paced as "
	       "above): %% of samples above p50 + %u ns\n   at each place; "
	       "'first' the slot that starts a page, 'next' the %u after it\n",
	       BENCH_PAGE, BENCH_LATE_NS, BENCH_PAGE_HEAD - 1);
	printf("run transport p50 | median  first   next  worst (place)\n");
	for (i = 0; i < ctx->o.reps && !bench_stopped(); i++)
		for (t = 0; t < sizeof(tps) / sizeof(tps[0]); t++) {
			if (bench_latency(tps[t], &c, &ctx->o, &l) < 0 ||
			    !l.page.valid) {
				printf("%3d %-7s", i + 1, tps[t]->name);
				failed(ctx);
				continue;
			}
			page_row(i + 1, tps[t], &l);
		}
}

/* Slow pacing: adaptive readers have gone to sleep on the futex before
 * each message, so this is the wake-up path of the default strategy. */
static void wakeup_section(struct ctx *ctx)
{
	struct bench_opts saved = ctx->o;
	struct bench_cell c = { 64, 1, BENCH_OVERWRITE, BENCH_SPIN };

	ctx->o.pace_ns = WAKE_PACE_NS;
	ctx->o.samples = saved.messages / 10000 < 100 ? 100 : saved.messages / 10000;
	printf("\n== one-way latency at a low rate (ns): as above, 1 message every "
	       "%llu ns, %llu samples;\n   adaptive readers sleep on the futex "
	       "between messages (the wake-up path), spinning ones stay hot\n",
	       (unsigned long long)ctx->o.pace_ns, (unsigned long long)ctx->o.samples);
	latency_columns();
	latency_row(ctx, &bench_ring_transport, &c);
	latency_row(ctx, &bench_mdbus_transport, &c);
	c.wait = BENCH_ADAPTIVE;
	latency_row(ctx, &bench_mdbus_transport, &c);
	c.consumers = 3;
	latency_row(ctx, &bench_mdbus_transport, &c);
	ctx->o = saved;
}

static void throughput_section(struct ctx *ctx)
{
	printf("\n== throughput: unpaced, %d runs of %llu messages per cell, the "
	       "median run shown\n", ctx->o.reps,
	       (unsigned long long)(ctx->o.messages / (uint64_t)ctx->o.reps));
	printf("   Mmsg/s = messages / (last consumer got the last message - first "
	       "publish); dlv = the worst\n   consumer's delivered (not lost) "
	       "rate; loss = worst consumer; bp/msg = publish calls refused\n"
	       "   by back-pressure per message (retried at once); vs rng = Mmsg/s "
	       "/ the ring's; ns xf = ns/msg / floor\n");
	printf("%-7s %4s %4s %-9s %-8s | %7s %7s %6s %6s %7s | %6s %6s | note\n",
	       "bus", "slot", "cons", "mode", "wait", "Mmsg/s", "dlv M/s", "ns/msg",
	       "loss%", "bp/msg", "vs rng", "ns xf");
	for_each_cell(ctx, throughput_row, 1);
}

static void pubcost_section(struct ctx *ctx)
{
	static const uint32_t slots[] = { 64, 256 };
	const struct bench_transport *tps[] = { &bench_ring_transport,
						&bench_mdbus_transport,
						&bench_mdbus_batch_transport };
	size_t s, t;

	printf("\n== publish cost (ns/msg): overwrite, unpaced, %llu messages "
	       "per run after a warm-up lap;\n   %d runs each, interleaved: no "
	       "reader, %d registered attached idle readers, and one reader\n   "
	       "reading all it can, spinning (the publisher's isolation), and\n   "
	       "for mdbus one archiving reader (as mdpub's archive: reads all, "
	       "writes a recording,\n   naps 1 ms when idle); median "
	       "[min, max] of the runs;\n   'vs 0' = median / the same bus's "
	       "median with no reader\n", (unsigned long long)ctx->o.messages,
	       ctx->o.reps, IDLE_READERS);
	printf("%-7s %4s %8s | %7s %7s %7s | %9s | %6s\n", "bus", "slot", "readers",
	       "median", "min", "max", "vs 0", "xf");
	for (s = 0; s < 2; s++)
		for (t = 0; t < 3 && !bench_stopped(); t++)
			pubcost_pair(ctx, tps[t], slots[s]);
}

/* reps quiet runs interleaved with reps noisy ones; per run the publish
 * call percentiles and the stall rate, then median [min-max] over runs. */
static void crosstalk_section(struct ctx *ctx)
{
	uint64_t v[2][6][BENCH_MAX_REPS];
	static const char *const col[6] = { "p50", "p99", "p99.9", "max",
					    "stalls/s", "IPIs/s" };
	struct bench_xtalk x;
	struct bench_pct p[2];
	int i, k, c;

	printf("\n== crosstalk: publish calls (ns, clock pair included) on a "
	       "channel without readers,\n   alone (quiet) or while another "
	       "channel's blocking reader sleeps and wakes 1000x/s (noisy),\n"
	       "   both on other CPUs; %d runs each, interleaved: median [min-max] "
	       "of the runs' values;\n   stalls/s = publish calls of 1 us or more "
	       "per second;\n   IPIs/s = function-call interrupts its CPU received "
	       "per second (/proc/interrupts CAL); 'x' = noisy / quiet\n", ctx->o.reps);
	for (i = 0; i < ctx->o.reps && !bench_stopped(); i++)
		for (k = 0; k < 2; k++) {
			if (bench_crosstalk(&ctx->o, k, &x) < 0) {
				printf("crosstalk run ");
				failed(ctx);
				return;
			}
			v[k][0][i] = x.pct.p50;
			v[k][1][i] = x.pct.p99;
			v[k][2][i] = x.pct.p999;
			v[k][3][i] = x.pct.max;
			v[k][4][i] = (uint64_t)(x.stalls_per_s + 0.5);
			v[k][5][i] = (uint64_t)(x.ipi_per_s + 0.5);
		}
	printf("%-8s | %8s %19s | %8s %19s | %6s\n", "value", "quiet", "[min-max]",
	       "noisy", "[min-max]", "x");
	for (c = 0; c < 6 && i > 0; c++) {
		printf("%-8s", col[c]);
		for (k = 0; k < 2; k++) {
			bench_percentiles(v[k][c], (uint64_t)i, &p[k]);
			printf(" | %8llu [%8llu-%8llu]", (unsigned long long)p[k].p50,
			       (unsigned long long)p[k].min, (unsigned long long)p[k].max);
		}
		printf(" | %6.2f\n", p[0].p50 ? (double)p[1].p50 / (double)p[0].p50 : 0.0);
	}
}

static const struct bench_feed feeds[] = {
	{ "steady", 1, 0, 2000000 },      /* 500 msgs/s */
	{ "bursty", 10, 5000, 2000000 },  /* 5000 msgs/s: 10 at 5 us every 2 ms */
	{ "fast", 1, 0, 10000 },          /* 100000 msgs/s: gaps within the
					     adaptive spin budget (20 us) */
};
static const struct bench_waiter waiters[] = {
	{ "adaptive", MDBUS_WAIT_ADAPTIVE, 0, 0 },
	{ "block", MDBUS_WAIT_BLOCK, 0, 0 },
	{ "spin", MDBUS_WAIT_SPIN, 0, 0 },
	{ "anon", MDBUS_WAIT_ADAPTIVE, 1, MDBUS_PUB_NUDGE },
	{ "anon-nn", MDBUS_WAIT_ADAPTIVE, 1, 0 },
};
#define N_FEEDS (sizeof(feeds) / sizeof(feeds[0]))
#define N_WAITERS (sizeof(waiters) / sizeof(waiters[0]))

/* Values of one cell over its runs: p50, p99, CPU% x 100. */
static void strategy_print(const struct bench_feed *f, const struct bench_waiter *w,
			   uint64_t v[3][BENCH_MAX_REPS], int reps, uint64_t lost)
{
	struct bench_pct p[3];
	int k;

	for (k = 0; k < 3; k++)
		bench_percentiles(v[k], (uint64_t)reps, &p[k]);
	printf("%-7s %-9s", f->name, w->name);
	for (k = 0; k < 2; k++)
		printf(" | %7llu [%7llu-%7llu]", (unsigned long long)p[k].p50,
		       (unsigned long long)p[k].min, (unsigned long long)p[k].max);
	printf(" | %6.2f [%6.2f-%6.2f]", p[2].p50 / 100.0, p[2].min / 100.0,
	       p[2].max / 100.0);
	printf(lost ? " | lost %llu\n" : "\n", (unsigned long long)lost);
}

/* Every (feed, waiter) cell reps times, interleaved: a drifting machine
 * hits them all alike. */
static void strategy_section(struct ctx *ctx)
{
	static uint64_t v[N_FEEDS][N_WAITERS][3][BENCH_MAX_REPS];
	uint64_t lost[N_FEEDS][N_WAITERS] = { { 0 } };
	struct bench_strat st;
	size_t f, w;
	int i;

	printf("\n== wait strategies: one reader, paced feeds of %.1f s per run, "
	       "%d runs per cell interleaved;\n   one-way latency (ns) p50 and p99 "
	       "of each run, and the reader's CPU time / wall time (%%),\n"
	       "   median [min-max] of the runs; anon = anonymous (read-only) "
	       "reader, default strategy;\n   anon-nn = the same under a "
	       "publisher without a nudger (no MDBUS_PUB_NUDGE)\n", ctx->o.strategy_ns / 1e9, ctx->o.reps);
	for (f = 0; f < N_FEEDS; f++)
		printf("   %-7s %u message%s every %llu us%s\n", feeds[f].name,
		       feeds[f].burst, feeds[f].burst > 1 ? "s" : "",
		       (unsigned long long)(feeds[f].period_ns / 1000),
		       feeds[f].burst > 1 ? ", 5 us apart" : "");
	for (i = 0; i < ctx->o.reps && !bench_stopped(); i++)
		for (f = 0; f < N_FEEDS; f++)
			for (w = 0; w < N_WAITERS; w++) {
				if (bench_strategy(&ctx->o, &feeds[f], &waiters[w], &st) < 0 ||
				    st.n == 0) {
					printf("%-7s %-9s |", feeds[f].name, waiters[w].name);
					failed(ctx);
					return;
				}
				v[f][w][0][i] = st.p50;
				v[f][w][1][i] = st.p99;
				v[f][w][2][i] = (uint64_t)(st.cpu_pct * 100 + 0.5);
				lost[f][w] += st.lost;
			}
	printf("%-7s %-9s | %7s %17s | %7s %17s | %6s %15s\n", "feed", "wait",
	       "p50", "[min-max]", "p99", "[min-max]", "CPU%", "[min-max]");
	for (f = 0; f < N_FEEDS && i > 0; f++)
		for (w = 0; w < N_WAITERS; w++)
			strategy_print(&feeds[f], &waiters[w], v[f][w], i, lost[f][w]);
}

/* Removes the private directory and anything a failed run left in it. */
static void remove_dir(const char *dir)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void summary_section(struct ctx *ctx)
{
	bench_summary(&ctx->o, ctx->floor_ns);
}

static const struct section {
	const char *name;
	void (*run)(struct ctx *ctx);
} sections[] = {
	{ "latency", latency_section },
	{ "pages", pages_section },
	{ "wakeup", wakeup_section },
	{ "throughput", throughput_section },
	{ "pubcost", pubcost_section },
	{ "crosstalk", crosstalk_section },
	{ "strategy", strategy_section },
	{ "summary", summary_section },
};

static int run_sections(struct ctx *ctx, const char *only, uint64_t n)
{
	size_t i, ran = 0;

	if (floor_section(ctx, n / 10) < 0)
		return 1;
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (bench_stopped() || (only && strcmp(only, sections[i].name) != 0))
			continue;
		sections[i].run(ctx);
		ran++;
	}
	if (ran > 1)
		floor_recheck(ctx, n / 10);
	if (ran == 0)
		fprintf(stderr, "mdbench: no section named %s\n", only);
	return ran == 0 || ctx->failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	char dir[] = "/dev/shm/mdbench.XXXXXX";
	struct ctx ctx;
	struct args a;
	int r = parse_args(argc, argv, &a);

	if (r)
		return r == 1 ? 0 : r;
	if (!mkdtemp(dir)) {
		perror("mdbench: mkdtemp /dev/shm");
		return 1;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.o.messages = a.messages;
	ctx.o.samples = a.messages / 100;
	ctx.o.pace_ns = PACE_NS;
	ctx.o.reps = a.reps ? a.reps : a.quick ? 1 : FULL_REPS;
	ctx.o.dir = dir;
	ctx.o.strategy_ns = a.quick ? 300000000ULL : 1000000000ULL;
	print_header(&ctx);
	bench_install_signals();
	r = run_sections(&ctx, a.only, a.messages);
	remove_dir(dir);
	if (bench_stopped()) {
		fflush(stdout);
		signal(bench_stopped(), SIG_DFL);
		raise(bench_stopped());
	}
	return r;
}
