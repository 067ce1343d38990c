/*
 * drivers.c - the three experiments, over any transport:
 *
 *  latency     the producer sends one message every pace_ns (spinning on
 *              CLOCK_MONOTONIC), its send time in the first payload word;
 *              each consumer reads the clock as soon as its read returns
 *              and stores the difference (two clock reads per sample, one
 *              of them inside the interval). All consumers' samples merged.
 *  throughput  the producer publishes messages / reps back to back (lossless:
 *              retrying on back-pressure); rate = messages / (last
 *              consumer's receipt of the last message - producer's start);
 *              reps runs, the one with the median rate is reported.
 *  pubcost     the producer alone publishes `messages` with 0 or N
 *              registered but idle readers attached, one active reader,
 *              or an archiving one (archive.c) (overwrite): ns/msg.
 * Every run starts with a warm-up lap of the ring that is not timed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "mdbus.h"

#define MAX_WORDS (BENCH_MAX_SLOT / 8)
#define WARMUP_PACE_NS 500

static unsigned run_counter;

static size_t msg_size(const struct bench_run *run)
{
	return run->cell.slot_size - MDBUS_SLOT_HEADER;
}

static uint64_t pace(uint64_t next)
{
	uint64_t t;

	while ((t = bench_now()) < next)
		;
	return t;
}

static int publish_retry(struct bench_run *run, void *pub, const uint64_t *msg,
			 uint64_t *retries)
{
	int r;

	while ((r = run->tp->publish(pub, msg, msg_size(run))) == -EAGAIN)
		(*retries)++;
	return r;
}

/* Opens the channel, tells the consumers, waits until all have attached. */
static int open_pub(struct bench_run *run, void **pub)
{
	int r = run->tp->pub_open(run, pub);

	if (r < 0)
		return r;
	/* Release: pairs with the consumers' acquire wait before attaching. */
	atomic_store_explicit(&run->ctl->pub_ready, 1, memory_order_release);
	bench_wait_count(&run->ctl->subs_ready, run->cell.consumers);
	return 0;
}

/* Closes the channel once every consumer process is done with it. */
static int close_pub(struct bench_run *run, void *pub, int r)
{
	if (r < 0) {
		bench_fail("publish", r);
		return r; /* the harness kills the consumers */
	}
	/* Release: pairs with the idle readers' acquire wait. */
	atomic_store_explicit(&run->ctl->pub_done, 1, memory_order_release);
	bench_wait_count(&run->ctl->subs_done, run->procs);
	run->tp->pub_close(pub);
	return 0;
}

/* msgs[0, count) through the transport's publish_burst, retried from the
 * first one it did not take while it refuses (-EAGAIN). */
static int burst_retry(struct bench_run *run, void *pub,
		       const uint64_t (*msgs)[MAX_WORDS], unsigned count,
		       uint64_t *retries)
{
	unsigned done = 0;
	int r;

	while (done < count) {
		r = run->tp->publish_burst(pub, msgs[done], MAX_WORDS, count - done,
					   msg_size(run));
		if (r == -EAGAIN)
			(*retries)++;
		else if (r < 0)
			return r;
		else
			done += (unsigned)r;
	}
	return 0;
}

/* Messages [from, to) back to back, handed over BENCH_BURST at a time,
 * each in its own buffer, its sequence in the first word. */
static int publish_bursts(struct bench_run *run, void *pub, uint64_t from,
			  uint64_t to)
{
	static uint64_t msgs[BENCH_BURST][MAX_WORDS];
	uint64_t *retries = &bench_my_result(run)->retries, i;
	unsigned k, j;
	int r = 0;

	for (i = from; i < to && r == 0; i += k) {
		k = to - i < BENCH_BURST ? (unsigned)(to - i) : BENCH_BURST;
		for (j = 0; j < k; j++)
			msgs[j][0] = i + j;
		r = burst_retry(run, pub, msgs, k, retries);
	}
	return r;
}

/* Publishes messages [from, to): one every pace_ns with the send time in
 * the first word, or back to back when pace_ns is 0 (in bursts when the
 * transport takes them: publish_bursts()). */
static int publish_range(struct bench_run *run, void *pub, uint64_t from,
			 uint64_t to, uint64_t pace_ns)
{
	uint64_t msg[MAX_WORDS] = { 0 }, i, next = bench_now();
	uint64_t *retries = &bench_my_result(run)->retries;
	int r = 0;

	if (!pace_ns && run->tp->publish_burst)
		r = publish_bursts(run, pub, from, to);
	else
		for (i = from; i < to && r == 0; i++) {
			msg[0] = i;
			if (pace_ns) {
				msg[0] = pace(next);
				next = msg[0] + pace_ns;
			}
			r = publish_retry(run, pub, msg, retries);
		}
	if (r == 0 && run->tp->flush)
		r = run->tp->flush(pub);
	return r;
}

/* The warm-up: run->warmup messages (one lap of the ring), paced so that
 * every reader keeps up (pace_ns 0 without readers), so that both sides
 * have faulted in every page and warmed their caches before anything is
 * timed. */
static int warm_up(struct bench_run *run, void *pub, uint64_t pace_ns)
{
	int r = publish_range(run, pub, 0, run->warmup, pace_ns);

	bench_my_result(run)->retries = 0;
	return r;
}

static int stream_producer(struct bench_run *run)
{
	struct bench_result *res = bench_my_result(run);
	void *pub;
	int r = open_pub(run, &pub);

	if (r < 0)
		return r;
	r = warm_up(run, pub, WARMUP_PACE_NS);
	res->t_start = bench_now();
	if (r == 0)
		r = publish_range(run, pub, run->warmup, run->warmup + run->messages,
				  run->pace_ns);
	res->t_end = bench_now();
	return close_pub(run, pub, r);
}

int bench_attach(struct bench_run *run, void **sub)
{
	int r;

	bench_wait_count(&run->ctl->pub_ready, 1);
	r = run->tp->sub_open(run, sub);
	if (r < 0)
		return r;
	/* Release: pairs with the producer's acquire wait in open_pub(). */
	atomic_fetch_add_explicit(&run->ctl->subs_ready, 1, memory_order_release);
	return 0;
}

void bench_finished(struct bench_run *run)
{
	/* Release: pairs with the producer's acquire wait in close_pub(). */
	atomic_fetch_add_explicit(&run->ctl->subs_done, 1, memory_order_release);
}

/* A sink for messages up to `last`, into buf; latency samples when paced. */
static void sink_init(struct bench_run *run, struct bench_sink *k, void *buf,
		      uint64_t last)
{
	memset(k, 0, sizeof(*k));
	k->buf = buf;
	k->len = msg_size(run);
	k->last = last;
	k->warmup = run->warmup;
	if (run->pace_ns) {
		k->samples = bench_my_samples(run);
		k->max_samples = run->max_samples;
	}
}

static int stream_consumer(struct bench_run *run)
{
	struct bench_result *res = bench_my_result(run);
	uint64_t buf[MAX_WORDS];
	struct bench_sink k;
	void *sub;
	int r = bench_attach(run, &sub);

	if (r < 0)
		return r;
	sink_init(run, &k, buf, run->warmup + run->messages - 1);
	r = run->tp->sub_consume(sub, &k);
	res->t_end = bench_now();
	res->lost = k.lost;
	res->nsamples = k.nsamples;
	bench_finished(run);
	run->tp->sub_close(sub);
	if (r < 0)
		bench_fail("read", r);
	return r;
}

static int cost_producer(struct bench_run *run)
{
	uint64_t msg[MAX_WORDS] = { 0 }, i, t0, n = run->messages;
	void *pub;
	int r;

	if (n == 0) /* no cost per message; mdbench asks for >= 1000 */
		return -EINVAL;
	r = open_pub(run, &pub);
	if (r < 0)
		return r;
	r = warm_up(run, pub, 0);
	t0 = bench_now();
	if (r == 0 && run->tp->publish_burst)
		r = publish_bursts(run, pub, 0, n);
	else
		for (i = 0; i < n && r == 0; i++) {
			msg[0] = i;
			r = run->tp->publish(pub, msg, msg_size(run));
		}
	if (r == 0 && run->tp->flush)
		r = run->tp->flush(pub);
	bench_my_result(run)->value = (bench_now() - t0) * 1000 / n;
	return close_pub(run, pub, r);
}

/* Catch-up rounds: after the warm-up lap, run->messages / behind rounds of
 * `behind` messages published while the reader waits, then read by it. */
static int catchup_producer(struct bench_run *run)
{
	uint64_t n = run->warmup, behind = run->round;
	int rounds = (int)(run->messages / behind), k, r;
	void *pub;

	r = open_pub(run, &pub);
	if (r < 0)
		return r;
	r = warm_up(run, pub, WARMUP_PACE_NS);
	for (k = 0; k < rounds && r == 0; k++) {
		r = publish_range(run, pub, n, n + behind, 0);
		n += behind;
		/* Release: pairs with the reader's acquire wait below. */
		atomic_fetch_add_explicit(&run->ctl->round_ready, 1, memory_order_release);
		bench_wait_count(&run->ctl->round_done, k + 1);
	}
	return close_pub(run, pub, r);
}

static int catchup_consumer(struct bench_run *run)
{
	struct bench_result *res = bench_my_result(run);
	uint64_t buf[MAX_WORDS], behind = run->round, last, t0;
	int rounds = (int)(run->messages / behind), k, r;
	struct bench_sink sink;
	void *sub;

	r = bench_attach(run, &sub);
	if (r < 0)
		return r;
	sink_init(run, &sink, buf, run->warmup - 1);
	r = run->tp->sub_consume(sub, &sink);
	for (k = 0, last = run->warmup - 1; k < rounds && r == 0; k++) {
		bench_wait_count(&run->ctl->round_ready, k + 1);
		t0 = bench_now();
		last += behind;
		sink.last = last;
		r = run->tp->sub_consume(sub, &sink);
		res->value += bench_now() - t0;
		/* Release: pairs with the producer's acquire wait. */
		atomic_fetch_add_explicit(&run->ctl->round_done, 1, memory_order_release);
	}
	res->lost = sink.lost;
	bench_finished(run);
	run->tp->sub_close(sub);
	if (r < 0)
		bench_fail("read", r);
	return r;
}

/* One process holding cell.consumers registered readers that never read. */
static int idle_consumer(struct bench_run *run)
{
	void *subs[BENCH_MAX_CONSUMERS];
	int i, n, r = 0;

	for (n = 0; n < run->cell.consumers && r == 0; n++)
		r = bench_attach(run, &subs[n]);
	if (r < 0)
		n--;
	if (r == 0)
		bench_wait_count(&run->ctl->pub_done, 1);
	bench_finished(run);
	for (i = 0; i < n; i++)
		run->tp->sub_close(subs[i]);
	return r;
}

static void run_init(struct bench_run *run, const struct bench_transport *tp,
		     const struct bench_cell *cell, const struct bench_opts *o)
{
	memset(run, 0, sizeof(*run));
	run->tp = tp;
	run->cell = *cell;
	run->procs = cell->consumers;
	run->messages = o->messages;
	run->warmup = BENCH_RING_SLOTS;
	run->dir = o->dir;
	snprintf(run->channel, sizeof(run->channel), "bench%d.%u", (int)getpid(),
		 run_counter++);
	run->producer = stream_producer;
	run->consumer = stream_consumer;
}

/* Moves every consumer's samples to the front of the sample area; returns
 * how many there are. */
static uint64_t gather(struct bench_run *run)
{
	uint64_t n = 0, k;
	int role;

	for (role = 1; role <= run->procs; role++) {
		k = run->ctl->res[role].nsamples;
		memmove(run->samples + n, run->samples + (size_t)role * run->max_samples,
			k * sizeof(uint64_t));
		n += k;
	}
	return n;
}

int bench_latency(const struct bench_transport *tp, const struct bench_cell *cell,
		  const struct bench_opts *o, struct bench_lat *out)
{
	struct bench_run run;
	int role;

	run_init(&run, tp, cell, o);
	run.messages = o->samples;
	run.max_samples = o->samples;
	run.pace_ns = o->pace_ns;
	if (bench_execute(&run) < 0)
		return -1;
	out->lost = 0;
	for (role = 1; role <= run.procs; role++)
		out->lost += run.ctl->res[role].lost;
	memset(&out->page, 0, sizeof(out->page));
	if (run.procs == 1 && out->lost == 0) /* sample i: message warmup + i */
		bench_page_profile(&run, run.samples + run.max_samples, /* role 1 */
				   run.ctl->res[1].nsamples, run.warmup, &out->page);
	bench_percentiles(run.samples, gather(&run), &out->pct);
	bench_release(&run);
	return 0;
}

static int throughput_once(const struct bench_transport *tp,
			   const struct bench_cell *cell, const struct bench_opts *o,
			   struct bench_tput *out)
{
	struct bench_run run;
	uint64_t end = 0, lost = 0;
	int role;

	run_init(&run, tp, cell, o);
	run.messages = o->messages / (uint64_t)o->reps;
	if (bench_execute(&run) < 0)
		return -1;
	for (role = 1; role <= run.procs; role++) {
		const struct bench_result *c = &run.ctl->res[role];

		end = c->t_end > end ? c->t_end : end;
		lost = c->lost > lost ? c->lost : lost;
	}
	out->rate = (double)run.messages * 1e9 / (double)(end - run.ctl->res[0].t_start);
	out->loss = (double)lost / (double)run.messages;
	out->retries = (double)run.ctl->res[0].retries / (double)run.messages;
	bench_release(&run);
	return 0;
}

static int cmp_rate(const void *a, const void *b)
{
	double x = ((const struct bench_tput *)a)->rate;
	double y = ((const struct bench_tput *)b)->rate;

	return (x > y) - (x < y);
}

/* o->reps runs of messages / o->reps each; *out is the run with the median
 * rate. */
int bench_throughput(const struct bench_transport *tp, const struct bench_cell *cell,
		     const struct bench_opts *o, struct bench_tput *out)
{
	struct bench_tput runs[BENCH_MAX_REPS];
	int i;

	for (i = 0; i < o->reps && i < BENCH_MAX_REPS; i++)
		if (throughput_once(tp, cell, o, &runs[i]) < 0)
			return -1;
	qsort(runs, (size_t)i, sizeof(runs[0]), cmp_rate);
	*out = runs[i / 2];
	return 0;
}

int bench_catchup(const struct bench_transport *tp, const struct bench_cell *cell,
		  const struct bench_opts *o, uint64_t behind, double *rate)
{
	struct bench_run run;
	const struct bench_result *c;

	run_init(&run, tp, cell, o);
	run.procs = 1;
	run.round = behind;
	run.messages = o->messages / (uint64_t)o->reps / behind * behind;
	if (run.messages == 0)
		run.messages = behind;
	run.producer = catchup_producer;
	run.consumer = catchup_consumer;
	if (bench_execute(&run) < 0)
		return -1;
	c = &run.ctl->res[1];
	*rate = c->value ? (double)run.messages * 1e9 / (double)c->value : 0;
	if (c->lost)
		*rate = 0; /* lapped: not a catch-up */
	bench_release(&run);
	return 0;
}

int bench_pubcost(const struct bench_transport *tp, const struct bench_cell *cell,
		  const struct bench_opts *o, enum bench_readers readers,
		  uint64_t *ps_per_msg)
{
	static int (*const consumers[])(struct bench_run *) = {
		[BENCH_READERS_IDLE] = idle_consumer,
		[BENCH_READERS_ACTIVE] = stream_consumer,
		[BENCH_READERS_ARCHIVE] = bench_archive_consumer,
	};
	struct bench_run run;

	run_init(&run, tp, cell, o);
	run.procs = cell->consumers > 0;
	run.producer = cost_producer;
	run.consumer = consumers[readers];
	if (bench_execute(&run) < 0)
		return -1;
	*ps_per_msg = run.ctl->res[0].value;
	bench_release(&run);
	return 0;
}
