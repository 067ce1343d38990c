/*
 * percentile.c - percentiles: nearest rank over the sorted samples.
 */
#include <stdlib.h>

#include "bench.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least num/den of all samples
 * at or below it. v is sorted, n > 0. */
static uint64_t rank(const uint64_t *v, uint64_t n, uint64_t num, uint64_t den)
{
	uint64_t r = (n * num + den - 1) / den;

	return v[r ? r - 1 : 0];
}

/* Sorts v in place and fills *out; all zero when n == 0. */
void bench_percentiles(uint64_t *v, uint64_t n, struct bench_pct *out)
{
	out->n = n;
	out->min = out->p50 = out->p99 = out->p999 = out->max = 0;
	if (n == 0)
		return;
	qsort(v, n, sizeof(*v), cmp_u64);
	out->min = v[0];
	out->p50 = rank(v, n, 50, 100);
	out->p99 = rank(v, n, 99, 100);
	out->p999 = rank(v, n, 999, 1000);
	out->max = v[n - 1];
}
