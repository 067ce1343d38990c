/*
 * pages.c - the latency's page profile: which slots of a 4 KiB page come
 * late. The first slots of each page of the ring came late more often
 * than the others (lib/pub.c write_ahead(), README.md "Performance"):
 * this is how that was seen, kept so that a change can be checked.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_POSITIONS (BENCH_PAGE / BENCH_LINE)

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of a copy of v (n > 0), or UINT64_MAX without memory. */
static uint64_t median_of(const uint64_t *v, uint64_t n)
{
	uint64_t *c = malloc(n * sizeof(*c)), m;
	struct bench_pct pct;

	if (!c)
		return UINT64_MAX;
	memcpy(c, v, n * sizeof(*c));
	bench_percentiles(c, n, &pct);
	m = pct.p50;
	free(c);
	return m;
}

/* Fills out from the late and all counts of `positions` positions. */
static void shares(const uint64_t *late, const uint64_t *all,
		   unsigned positions, struct bench_page *out)
{
	double share[MAX_POSITIONS], sorted[MAX_POSITIONS];
	uint64_t head_late = 0, head_all = 0;
	unsigned k;

	out->worst = -1;
	for (k = 0; k < positions; k++) {
		share[k] = all[k] ? (double)late[k] / (double)all[k] : 0;
		if (share[k] > out->worst) {
			out->worst = share[k];
			out->worst_pos = k;
		}
		if (k > 0 && k < BENCH_PAGE_HEAD) {
			head_late += late[k];
			head_all += all[k];
		}
	}
	memcpy(sorted, share, positions * sizeof(*share));
	qsort(sorted, positions, sizeof(*sorted), cmp_double);
	out->median = sorted[positions / 2];
	out->first = share[0];
	out->head = head_all ? (double)head_late / (double)head_all : 0;
	out->valid = 1;
}

void bench_page_profile(const struct bench_run *run, const uint64_t *v,
			uint64_t n, uint64_t first_seq, struct bench_page *out)
{
	uint64_t late[MAX_POSITIONS] = { 0 }, all[MAX_POSITIONS] = { 0 };
	uint32_t slot = run->cell.slot_size;
	unsigned positions = slot < BENCH_PAGE ? BENCH_PAGE / slot : 1;
	uint64_t i, threshold;

	memset(out, 0, sizeof(*out));
	if (n == 0 || !run->tp->page_offset || positions < BENCH_PAGE_HEAD ||
	    positions > MAX_POSITIONS)
		return;
	threshold = median_of(v, n);
	if (threshold == UINT64_MAX)
		return;
	threshold += BENCH_LATE_NS;
	for (i = 0; i < n; i++) {
		unsigned k = run->tp->page_offset(run, first_seq + i) / slot;

		all[k]++;
		late[k] += v[i] > threshold;
	}
	shares(late, all, positions, out);
}
