/*
 * stats.c - counters and publish-to-receive latency histograms for
 * --stats (one line per interval) and the final summary.
 *
 * Latency is CLOCK_REALTIME at receipt minus the message's publish stamp
 * (struct mdbus_msg.ts_ns), kept in a log-linear histogram: exact below
 * 128 ns, then 64 buckets per power of two (under 1.6% error), the bucket's
 * upper bound reported; the maximum is exact.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mdsub.h"

#define SUB_BITS 6
#define SUB_COUNT (1u << SUB_BITS)                 /* buckets per octave */
#define HIST_BUCKETS ((65 - SUB_BITS) * SUB_COUNT) /* covers 2^64 */

struct counts {
	uint64_t msgs, bytes, lost, gaps, max_ns;
	uint64_t hist[HIST_BUCKETS];
};

struct stats {
	const char *channel;
	struct counts now; /* current interval */
	struct counts all; /* whole run */
};

static unsigned bucket_of(uint64_t v)
{
	unsigned e;

	if (v < 2 * SUB_COUNT)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	return (e - SUB_BITS) * SUB_COUNT + (unsigned)(v >> (e - SUB_BITS));
}

/* Largest value that falls in bucket i. */
static uint64_t bucket_top(unsigned i)
{
	unsigned shift;

	if (i < 2 * SUB_COUNT)
		return i;
	shift = i / SUB_COUNT - 1;
	return (((uint64_t)(i % SUB_COUNT + SUB_COUNT) + 1) << shift) - 1;
}

static uint64_t percentile(const struct counts *c, double p)
{
	uint64_t want = (uint64_t)((double)c->msgs * p + 0.999999), seen = 0;

	if (!c->msgs)
		return 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += c->hist[i];
		if (seen >= want)
			return bucket_top(i) < c->max_ns ? bucket_top(i) : c->max_ns;
	}
	return c->max_ns;
}

struct stats *stats_new(const char *channel)
{
	struct stats *s = calloc(1, sizeof *s);

	if (s)
		s->channel = channel;
	return s;
}

void stats_free(struct stats *s)
{
	free(s);
}

static void count_msg(struct counts *c, uint32_t size, uint64_t lat)
{
	c->msgs++;
	c->bytes += size;
	c->hist[bucket_of(lat)]++;
	if (lat > c->max_ns)
		c->max_ns = lat;
}

void stats_add(struct stats *s, const struct mdbus_msg *m, uint64_t now_ns)
{
	uint64_t lat = now_ns > m->ts_ns ? now_ns - m->ts_ns : 0;

	count_msg(&s->now, m->size, lat);
	count_msg(&s->all, m->size, lat);
}

void stats_loss(struct stats *s, uint64_t lost)
{
	s->now.lost += lost;
	s->now.gaps++;
	s->all.lost += lost;
	s->all.gaps++;
}

/* Nanoseconds with a unit: "850ns", "12.3us", "4.56ms", "1.20s". */
static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", (double)ns / 1e3);
	else if (ns < NS_PER_SEC)
		snprintf(buf, len, "%.2fms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", (double)ns / 1e9);
}

static void print_latency(FILE *f, const struct counts *c)
{
	static const double pct[] = {0.5, 0.99, 0.999};
	static const char *const names[] = {"p50", "p99", "p99.9"};
	char buf[32];

	fputs(" latency", f);
	for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++) {
		fmt_ns(buf, sizeof buf, percentile(c, pct[i]));
		fprintf(f, " %s %s", names[i], buf);
	}
	fmt_ns(buf, sizeof buf, c->max_ns);
	fprintf(f, " max %s\n", buf);
}

void stats_line(struct stats *s, uint64_t lag, uint64_t interval_ns)
{
	double secs = (double)interval_ns / 1e9;
	char t[32];

	fmt_time(t, sizeof t, now_realtime());
	t[8] = '\0'; /* HH:MM:SS */
	printf("%s %s: %.0f msg/s %.0f B/s lag %" PRIu64 " lost %" PRIu64
	       " (%" PRIu64 " gaps)", t, s->channel, (double)s->now.msgs / secs,
	       (double)s->now.bytes / secs, lag, s->now.lost, s->now.gaps);
	print_latency(stdout, &s->now);
	memset(&s->now, 0, sizeof s->now);
}

void stats_summary(struct stats *s, FILE *f, uint64_t elapsed_ns)
{
	double secs = (double)elapsed_ns / 1e9;
	const struct counts *c = &s->all;

	fprintf(f, "%s: %" PRIu64 " messages, %" PRIu64 " bytes in %.3f s "
		"(%.0f msg/s), lost %" PRIu64 " in %" PRIu64 " gaps,", s->channel,
		c->msgs, c->bytes, secs, secs > 0 ? (double)c->msgs / secs : 0,
		c->lost, c->gaps);
	print_latency(f, c);
}
