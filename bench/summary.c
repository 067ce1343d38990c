/*
 * summary.c - the performance targets in one table (bench/README,
 * "summary"): for each, libmdbus, its baseline measured in the same run,
 * the ratio and the one-way cache-line floor. Every measurement is
 * repeated reps times, the runs of all transports interleaved so that a
 * drifting machine hits them alike; each cell shows the median run and
 * [min-max] over the runs. 64-byte slots (40-byte messages), one reader,
 * overwrite mode.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define SUMMARY_SLOT 64u
#define WAKE_PACE_NS 1000000ULL
#define WAKE_SAMPLES 300ULL
#define IDLE_READERS 8
#define CATCHUP_BEHIND (BENCH_RING_SLOTS / 4 * 3)
#define PAD_PROBE 64 /* pad_calibrate(): steps of the padded probe */

enum metric {
	LAT_P50_MDBUS, LAT_P50_RING, LAT_P99_MDBUS, LAT_P99_RING,
	DLV_MDBUS, DLV_BATCH, DLV_VIEW, DLV_RING, DLV_RSLOW,
	PUB_0, RSLOW_0, PUB_ACTIVE, PUB_IDLE, RING_0, RING_ACTIVE, BPUB_0, BPUB_ACTIVE,
	CATCH_READ, CATCH_POLL, CATCH_VIEW, CATCH_RING, CATCH_LINES, CATCH_WORK,
	WAKE_MDBUS, WAKE_MQ,
	METRICS
};

struct samples {
	uint64_t v[METRICS][BENCH_MAX_REPS];
	int n;
	int failed;
};

static void put(struct samples *s, enum metric m, double value)
{
	s->v[m][s->n] = value > 0 ? (uint64_t)(value + 0.5) : 0;
}

static int latency(struct samples *s, const struct bench_transport *tp,
		   enum bench_wait wait, uint64_t pace_ns, uint64_t samples,
		   const struct bench_opts *o, enum metric p50, enum metric p99)
{
	struct bench_cell c = { SUMMARY_SLOT, 1, BENCH_OVERWRITE, wait };
	struct bench_opts lo = *o;
	struct bench_lat l;

	lo.pace_ns = pace_ns;
	lo.samples = samples;
	if (bench_latency(tp, &c, &lo, &l) < 0)
		return -1;
	put(s, p50, (double)l.pct.p50);
	if (p99 != METRICS)
		put(s, p99, (double)l.pct.p99);
	return 0;
}

/* Delivered (not lost) messages per second, in thousands. */
static int delivered(struct samples *s, const struct bench_transport *tp,
		     const struct bench_opts *o, enum metric m)
{
	struct bench_cell c = { SUMMARY_SLOT, 1, BENCH_OVERWRITE, BENCH_SPIN };
	struct bench_opts one = *o;
	struct bench_tput t;

	one.reps = 1;
	one.messages = o->messages / (uint64_t)o->reps;
	if (bench_throughput(tp, &c, &one, &t) < 0)
		return -1;
	put(s, m, t.rate * (1 - t.loss) / 1e3);
	return 0;
}

/* Publish cost in picoseconds per message. */
static int pubcost(struct samples *s, const struct bench_transport *tp,
		   const struct bench_opts *o, int readers, int active, enum metric m)
{
	struct bench_cell c = { SUMMARY_SLOT, readers, BENCH_OVERWRITE, BENCH_SPIN };
	uint64_t ps;

	if (bench_pubcost(tp, &c, o, active ? BENCH_READERS_ACTIVE : BENCH_READERS_IDLE,
			  &ps) < 0)
		return -1;
	put(s, m, (double)ps);
	return 0;
}

/* Catch-up reading rate, thousands of messages per second. */
static int catchup(struct samples *s, const struct bench_transport *tp,
		   const struct bench_opts *o, enum metric m)
{
	struct bench_cell c = { SUMMARY_SLOT, 1, BENCH_OVERWRITE, BENCH_SPIN };
	double rate;

	if (bench_catchup(tp, &c, o, CATCHUP_BEHIND, &rate) < 0)
		return -1;
	put(s, m, rate / 1e3);
	return 0;
}

/* Picoseconds one step of ring-slow's pad adds to its publish, measured
 * as a publish cost (where the pad overlaps the publish's stores, as in
 * the runs it sets), 0 when it cannot be measured. */
static double pad_calibrate(const struct bench_opts *o)
{
	struct bench_cell c = { SUMMARY_SLOT, 0, BENCH_OVERWRITE, BENCH_SPIN };
	uint64_t bare = 0, padded = 0;
	int r;

	bench_ring_pad(0);
	r = bench_pubcost(&bench_ring_slow_transport, &c, o, BENCH_READERS_IDLE, &bare);
	bench_ring_pad(PAD_PROBE);
	if (r == 0)
		r = bench_pubcost(&bench_ring_slow_transport, &c, o,
				  BENCH_READERS_IDLE, &padded);
	bench_ring_pad(0);
	if (r < 0 || padded <= bare)
		return 0;
	return (double)(padded - bare) / PAD_PROBE;
}

/* ring-slow's pad for this run: the steps that make its publish cost
 * mdbus's (this run's publish costs alone). */
static void pad_to_mdbus(const struct samples *s, double ps_per_step)
{
	uint64_t md = s->v[PUB_0][s->n], ring = s->v[RING_0][s->n];

	bench_ring_pad(ps_per_step > 0 && md > ring ?
		       (unsigned)((double)(md - ring) / ps_per_step + 0.5) : 0);
}

/* One run of every measurement, in this order: the publish costs alone
 * come before ring-slow's runs, which they set (pad_to_mdbus()). */
static int one_rep(struct samples *s, const struct bench_opts *o,
		   double ps_per_step)
{
	const struct bench_transport *ring = &bench_ring_transport;
	const struct bench_transport *slow = &bench_ring_slow_transport;
	const struct bench_transport *md = &bench_mdbus_transport;
	const struct bench_transport *mdb = &bench_mdbus_batch_transport;
	const struct bench_transport *mdv = &bench_mdbus_view_transport;
	int r = 0;

	r |= latency(s, ring, BENCH_SPIN, o->pace_ns, o->samples, o,
		     LAT_P50_RING, LAT_P99_RING);
	r |= latency(s, md, BENCH_SPIN, o->pace_ns, o->samples, o,
		     LAT_P50_MDBUS, LAT_P99_MDBUS);
	r |= pubcost(s, md, o, 0, 0, PUB_0);
	r |= pubcost(s, ring, o, 0, 0, RING_0);
	pad_to_mdbus(s, ps_per_step);
	r |= pubcost(s, slow, o, 0, 0, RSLOW_0);
	r |= delivered(s, ring, o, DLV_RING);
	r |= delivered(s, md, o, DLV_MDBUS);
	r |= delivered(s, slow, o, DLV_RSLOW);
	r |= delivered(s, mdb, o, DLV_BATCH);
	r |= delivered(s, mdv, o, DLV_VIEW);
	r |= pubcost(s, md, o, 1, 1, PUB_ACTIVE);
	r |= pubcost(s, md, o, IDLE_READERS, 0, PUB_IDLE);
	r |= pubcost(s, ring, o, 1, 1, RING_ACTIVE);
	r |= pubcost(s, mdb, o, 0, 0, BPUB_0);
	r |= pubcost(s, mdb, o, 1, 1, BPUB_ACTIVE);
	r |= catchup(s, ring, o, CATCH_RING);
	r |= catchup(s, md, o, CATCH_READ);
	r |= catchup(s, mdb, o, CATCH_POLL);
	r |= catchup(s, mdv, o, CATCH_VIEW);
	r |= catchup(s, &bench_ring_lines_transport, o, CATCH_LINES);
	r |= catchup(s, &bench_ring_work_transport, o, CATCH_WORK);
	r |= latency(s, md, BENCH_ADAPTIVE, WAKE_PACE_NS, WAKE_SAMPLES, o,
		     WAKE_MDBUS, METRICS);
	r |= latency(s, &bench_mq_transport, BENCH_SPIN, WAKE_PACE_NS,
		     WAKE_SAMPLES, o, WAKE_MQ, METRICS);
	return r;
}

/* Median and [min-max] of metric m over the runs. */
static struct bench_pct stat(const struct samples *s, enum metric m)
{
	uint64_t v[BENCH_MAX_REPS];
	struct bench_pct p;

	memcpy(v, s->v[m], sizeof(v[0]) * (size_t)s->n);
	bench_percentiles(v, (uint64_t)s->n, &p);
	return p;
}

/* Ratio a/b of two metrics run by run: median [min-max]. */
static struct bench_pct ratio(const struct samples *s, enum metric a, enum metric b)
{
	uint64_t v[BENCH_MAX_REPS];
	struct bench_pct p;
	int i;

	for (i = 0; i < s->n; i++)
		v[i] = s->v[b][i] ? s->v[a][i] * 1000 / s->v[b][i] : 0;
	bench_percentiles(v, (uint64_t)s->n, &p);
	return p;
}

/* Median [min-max], divided by scale, with `digits` decimals. */
static void cell(const struct bench_pct *p, double scale, int digits)
{
	char text[48];

	snprintf(text, sizeof(text), "%.*f [%.*f-%.*f]", digits, p->p50 / scale,
		 digits, p->min / scale, digits, p->max / scale);
	printf(" %-25s |", text);
}

/* A row: mdbus metric a, baseline b (values / scale, shown with `digits`
 * decimals), ratio a/b run by run, and the goal. */
struct row {
	const char *what;
	enum metric a, b;
	double scale;
	int digits;
	const char *goal;
};

static const struct row rows[] = {
	{ "1 one-way p50 ns, spin (vs ring)", LAT_P50_MDBUS, LAT_P50_RING, 1, 0, "<= 1.0" },
	{ "1 one-way p99 ns, spin (vs ring)", LAT_P99_MDBUS, LAT_P99_RING, 1, 0, "<= 1.0" },
	{ "2 delivered M/s, read (vs ring)", DLV_MDBUS, DLV_RING, 1e3, 1, ">= 1.0" },
	{ "2 delivered M/s, batches (vs ring)", DLV_BATCH, DLV_RING, 1e3, 1, ">= 1.0" },
	{ "2 delivered M/s, views (vs ring)", DLV_VIEW, DLV_RING, 1e3, 1, ">= 1.0" },
	/* the ring with its producer padded to mdbus's publish cost
	 * (ring-slow): what the producer's speed alone does to row 2 */
	{ "2 ring at mdbus's publish cost", DLV_MDBUS, DLV_RSLOW, 1e3, 1, "(reference)" },
	{ "2 its publish ns (vs mdbus's)", RSLOW_0, PUB_0, 1e3, 2, "(reference)" },
	{ "3 publish ns, 1 active (vs none)", PUB_ACTIVE, PUB_0, 1e3, 2, "<= 1.5" },
	{ "3 ring: 1 active (vs none)", RING_ACTIVE, RING_0, 1e3, 2, "(reference)" },
	{ "3 batches: 1 active (vs none)", BPUB_ACTIVE, BPUB_0, 1e3, 2, "<= 1.5" },
	{ "3 publish ns, 8 idle (vs none)", PUB_IDLE, PUB_0, 1e3, 2, "0.95-1.05" },
	/* target 4 is for batch reading (bench/README, "summary"); one
	 * message a call is shown for reference */
	{ "4 catch-up M/s, read (vs dlv 2)", CATCH_READ, DLV_MDBUS, 1e3, 1, "(reference)" },
	{ "4 catch-up M/s, poll (vs dlv 2)", CATCH_POLL, DLV_BATCH, 1e3, 1, ">= 2.0" },
	/* views against the batch row 2 as well, not their own: a reader
	 * at its producer's heels is slower in views than in a poll, and
	 * the ratio to its own delivered rate looked the better for it */
	{ "4 catch-up M/s, views (vs dlv 2)", CATCH_VIEW, DLV_BATCH, 1e3, 1, ">= 2.0" },
	{ "4 ring catch-up M/s (vs its dlv)", CATCH_RING, DLV_RING, 1e3, 1, "(reference)" },
	/* the floor: a line a message pulled, nothing done with it
	 * (ring.c, ring-lines) */
	{ "4 line-pull floor M/s (vs poll)", CATCH_LINES, CATCH_POLL, 1e3, 1, "(floor)" },
	/* the ceiling: the lines pulled and the bench's own work done with
	 * each message in place, no check (ring.c, ring-work), against
	 * batch row 2: the most target 4's ratio can be on this machine */
	{ "4 in place, no check (vs dlv 2)", CATCH_WORK, DLV_BATCH, 1e3, 1, "(ceiling)" },
	{ "5 wake-up p50 us, 1/ms (vs mq)", WAKE_MDBUS, WAKE_MQ, 1e3, 1, "<= 1.0" },
};

static void row(const struct row *w, const struct samples *s)
{
	struct bench_pct r = ratio(s, w->a, w->b), pa = stat(s, w->a);
	struct bench_pct pb = stat(s, w->b);

	printf("%-34s |", w->what);
	cell(&pa, w->scale, w->digits);
	cell(&pb, w->scale, w->digits);
	cell(&r, 1000.0, 2);
	printf(" %s\n", w->goal);
}

void bench_summary(const struct bench_opts *o, double floor_ns)
{
	struct samples s;
	double ps_per_step;
	size_t i;

	memset(&s, 0, sizeof(s));
	printf("\n== summary: the performance targets, %u-byte slots (%u-byte "
	       "messages), one reader, overwrite;\n   median [min-max] of %d "
	       "interleaved runs; ratio = mdbus / baseline run by run; one-way "
	       "floor %.1f ns\n", SUMMARY_SLOT, SUMMARY_SLOT - 24, o->reps, floor_ns);
	ps_per_step = pad_calibrate(o);
	for (s.n = 0; s.n < o->reps && s.n < BENCH_MAX_REPS && !bench_stopped(); s.n++)
		if (one_rep(&s, o, ps_per_step) < 0) {
			printf("   (a run failed: no summary)\n");
			return;
		}
	if (s.n == 0)
		return;
	printf("%-34s | %-25s | %-25s | %-25s | goal\n", "target: measure", "mdbus",
	       "baseline", "ratio");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		row(&rows[i], &s);
}
