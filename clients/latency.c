/*
 * latency.c - counters and publish-to-receive latency histograms for
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
	int json;          /* JSON lines instead of text */
	int recorded;      /* a recording: its span, no latency */
	uint64_t first_ts, last_ts; /* recorded: of the first and last */
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

struct stats *stats_new(const char *channel, int json, int recorded)
{
	struct stats *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->channel = channel;
	s->json = json;
	s->recorded = recorded;
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

	if (!s->all.msgs)
		s->first_ts = m->ts_ns;
	s->last_ts = m->ts_ns;
	count_msg(&s->now, m->size, lat);
	count_msg(&s->all, m->size, lat);
}

void stats_loss(struct stats *s, uint64_t lost)
{
	count_add(&s->now.lost, lost);
	s->now.gaps++;
	count_add(&s->all.lost, lost);
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

/* One JSON object: kind "interval" (with lag) or "summary". */
static void json_line(FILE *f, const struct stats *s, const char *kind,
		      const struct counts *c, uint64_t span_ns, int64_t lag)
{
	double secs = (double)span_ns / 1e9;

	const struct {
		const char *key;
		uint64_t v;
	} counts[] = {
		{"lost", c->lost}, {"gaps", c->gaps},
		{"p50_ns", percentile(c, 0.5)}, {"p99_ns", percentile(c, 0.99)},
		{"p999_ns", percentile(c, 0.999)}, {"max_ns", c->max_ns},
	};

	fprintf(f, "{\"kind\":\"%s\",\"channel\":", kind);
	put_str(f, STR_JSON, s->channel, MDBUS_CHANNEL_MAX);
	fprintf(f, ",\"time_ns\":\"%" PRIu64 "\",\"span_ns\":", now_realtime());
	put_json_count(f, span_ns);
	fputs(",\"msgs\":", f);
	put_json_count(f, c->msgs);
	fputs(",\"bytes\":", f);
	put_json_count(f, c->bytes);
	fprintf(f, ",\"msgs_per_s\":%.0f,\"bytes_per_s\":%.0f",
		secs > 0 ? (double)c->msgs / secs : 0,
		secs > 0 ? (double)c->bytes / secs : 0);
	if (lag >= 0) {
		fputs(",\"lag\":", f);
		put_json_count(f, (uint64_t)lag);
	}
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		fprintf(f, ",\"%s\":", counts[i].key);
		put_json_count(f, counts[i].v);
	}
	fputs("}\n", f);
}

static void text_line(const struct stats *s, uint64_t lag, double secs)
{
	char t[32];

	fmt_time(t, sizeof t, now_realtime());
	t[8] = '\0'; /* HH:MM:SS */
	printf("%s %s: %" PRIu64 " msgs %.0f msg/s %" PRIu64 " B %.0f B/s lag %"
	       PRIu64 " lost %" PRIu64 " (%" PRIu64 " gaps)", t, s->channel,
	       s->now.msgs, (double)s->now.msgs / secs, s->now.bytes,
	       (double)s->now.bytes / secs, lag, s->now.lost, s->now.gaps);
	print_latency(stdout, &s->now);
}

void stats_line(struct stats *s, uint64_t lag, uint64_t interval_ns)
{
	if (s->json)
		json_line(stdout, s, "interval", &s->now, interval_ns,
			  (int64_t)lag);
	else
		text_line(s, lag, (double)interval_ns / 1e9);
	memset(&s->now, 0, sizeof s->now);
}

void stats_summary(struct stats *s, FILE *f, uint64_t elapsed_ns)
{
	double secs;
	const struct counts *c = &s->all;

	if (s->recorded) /* the recorded time from first to last */
		elapsed_ns = s->last_ts > s->first_ts ? s->last_ts - s->first_ts : 0;
	secs = (double)elapsed_ns / 1e9;
	if (s->json) {
		json_line(f, s, "summary", c, elapsed_ns, -1);
		return;
	}
	fprintf(f, "%s: %" PRIu64 " messages, %" PRIu64 " bytes in %.3f s "
		"(%.0f msg/s), lost %" PRIu64 " in %" PRIu64 " gaps,", s->channel,
		c->msgs, c->bytes, secs, secs > 0 ? (double)c->msgs / secs : 0,
		c->lost, c->gaps);
	if (s->recorded)
		fputs(" recorded\n", f);
	else
		print_latency(f, c);
}
