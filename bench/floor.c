/*
 * floor.c - the physical floor: one 64-byte cache line in a MAP_SHARED
 * mapping bounced between two processes on two cores. The pinger stores
 * 2i+1 and spins until it reads 2i+2; the ponger spins until it reads 2i+1
 * and stores 2i+2. Each round trip is timed with one CLOCK_MONOTONIC pair,
 * the same clock (and the same one-clock-read overhead) as the one-way
 * latency samples; one way = RTT / 2.
 */
#include <string.h>

#include "bench.h"

#define FLOOR_WARMUP 10000

static int floor_ping(struct bench_run *run)
{
	_Atomic uint64_t *line = &run->ctl->line;
	uint64_t *s = bench_my_samples(run);
	uint64_t i, t0, total = run->warmup + run->messages;

	bench_wait_count(&run->ctl->subs_ready, 1);
	for (i = 0; i < total; i++) {
		t0 = bench_now();
		/* Release: pairs with the ponger's acquire load of 2i+1. */
		atomic_store_explicit(line, 2 * i + 1, memory_order_release);
		/* Acquire: pairs with the ponger's release store of 2i+2. */
		while (atomic_load_explicit(line, memory_order_acquire) != 2 * i + 2)
			;
		if (i >= run->warmup)
			s[i - run->warmup] = bench_now() - t0;
	}
	bench_my_result(run)->nsamples = run->messages;
	return 0;
}

static int floor_pong(struct bench_run *run)
{
	_Atomic uint64_t *line = &run->ctl->line;
	uint64_t i, total = run->warmup + run->messages;

	/* Release: pairs with the pinger's acquire wait for readiness. */
	atomic_fetch_add_explicit(&run->ctl->subs_ready, 1, memory_order_release);
	for (i = 0; i < total; i++) {
		/* Acquire: pairs with the pinger's release store of 2i+1. */
		while (atomic_load_explicit(line, memory_order_acquire) != 2 * i + 1)
			;
		/* Release: pairs with the pinger's acquire load of 2i+2. */
		atomic_store_explicit(line, 2 * i + 2, memory_order_release);
	}
	return 0;
}

/* Measures `rounds` round trips; fills *rtt (ns). Returns 0 or -1. */
int bench_floor(uint64_t rounds, struct bench_pct *rtt)
{
	struct bench_run run;

	memset(&run, 0, sizeof(run));
	run.procs = 1;
	run.messages = rounds;
	run.warmup = FLOOR_WARMUP;
	run.max_samples = rounds;
	run.producer = floor_ping;
	run.consumer = floor_pong;
	return bench_execute_producer_pct(&run, rtt);
}
