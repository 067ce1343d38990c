/*
 * status.c - --list, --status and --watch: what is in the segment
 * directory, in the spirit of AeronStat. Each channel is sampled twice
 * (RATE_SAMPLE_NS apart, or one --watch interval) to show its write rate.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error_text.h"
#include "mdsub.h"

#define RATE_SAMPLE_NS 200000000ULL
#define CONSUMERS_MAX 4096 /* the library's largest consumer table */

struct sample {
	char name[MDBUS_CHANNEL_MAX + 1];
	int err;
	char why[256];   /* the error's text, taken right after the call */
	uint64_t t_ns;
	struct mdbus_stats st;
};

struct snapshot {
	struct sample *s;
	size_t n, cap;
};

static volatile sig_atomic_t stop_watch;

static void on_signal(int sig)
{
	stop_watch = sig;
}

static int add_channel(const char *channel, void *arg)
{
	struct snapshot *snap = arg;
	struct sample *s;

	if (snap->n == snap->cap) {
		size_t cap = snap->cap ? 2 * snap->cap : 16;

		s = realloc(snap->s, cap * sizeof *s);
		if (!s)
			return -ENOMEM;
		snap->s = s;
		snap->cap = cap;
	}
	s = &snap->s[snap->n++];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", channel);
	return 0;
}

/* The channels named on the command line, else all in the directory. */
static int collect_names(const struct mdsub_opts *o, struct snapshot *snap)
{
	int err = 0;

	if (!o->nchannels)
		return mdbus_list(o->sub.dir, add_channel, snap);
	for (int i = 0; i < o->nchannels && !err; i++)
		err = add_channel(o->channels[i], snap);
	return err;
}

static void sample_all(const struct mdsub_opts *o, struct snapshot *snap)
{
	for (size_t i = 0; i < snap->n; i++) {
		struct sample *s = &snap->s[i];

		s->err = mdbus_channel_stats(s->name, o->sub.dir, &s->st, NULL, 0);
		if (s->err)
			snprintf(s->why, sizeof s->why, "%s", mdbus_error_text(s->err));
		s->t_ns = now_monotonic();
	}
}

/* Why a run stops: what failed, for the message status_run() prints. */
struct why {
	char text[512];
};

/* 0, or a negative code with the reason in why. */
static int take(const struct mdsub_opts *o, struct snapshot *snap,
		struct why *why)
{
	int err;

	snap->n = 0;
	err = collect_names(o, snap);
	if (err) {
		snprintf(why->text, sizeof why->text, "%s: %s",
			 o->sub.dir ? o->sub.dir : "segment directory",
			 mdbus_strerror(err));
		return err;
	}
	sample_all(o, snap);
	return 0;
}

/* Messages per second between two samples of the same segment, or -1. */
static double rate(const struct sample *cur, const struct snapshot *prev)
{
	for (size_t i = 0; prev && i < prev->n; i++) {
		const struct sample *p = &prev->s[i];

		if (strcmp(p->name, cur->name) || p->err || cur->err ||
		    p->st.epoch != cur->st.epoch || cur->t_ns <= p->t_ns ||
		    cur->st.pub.write_num < p->st.pub.write_num)
			continue;
		return (double)(cur->st.pub.write_num - p->st.pub.write_num) *
		       1e9 / (double)(cur->t_ns - p->t_ns);
	}
	return -1;
}

static void fmt_age(char *buf, size_t len, int64_t ns)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1fs", (double)ns / 1e9);
}

static void fmt_rate(char *buf, size_t len, double r)
{
	if (r < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f", r);
}

static void list_header(void)
{
	printf("%-20s %-9s %7s %10s %-8s %8s %6s %14s %10s %9s\n", "CHANNEL",
	       "MODE", "SLOT", "CAPACITY", "STATE", "PID", "HB_AGE",
	       "WRITE_NUM", "RATE/S", "CONSUMERS");
}

static void list_line(const struct sample *s, const struct snapshot *prev)
{
	const struct mdbus_stats *st = &s->st;
	char age[32], r[32];

	if (s->err) {
		printf("%-20s error: %s\n", s->name, s->why);
		return;
	}
	fmt_age(age, sizeof age, st->pub.heartbeat_age_ns);
	fmt_rate(r, sizeof r, rate(s, prev));
	printf("%-20s %-9s %7" PRIu32 " %10" PRIu64 " %-8s %8d %6s %14" PRIu64
	       " %10s %4" PRIu32 "/%" PRIu32 "\n", s->name,
	       mdbus_mode_name(st->mode), st->slot_size, st->capacity,
	       mdbus_pub_state_name(st->pub.state), (int)st->pub.pid, age,
	       st->pub.write_num, r, st->consumers, st->max_consumers);
}

/* A consumer's name as its reader wrote it in the table file: any
 * registered reader may write anything there, so what is not printable
 * ASCII (a terminal escape sequence) is shown as '?'. */
static void printable_name(char *out, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && name[i]; i++)
		out[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
	out[i] = '\0';
}

static void consumer_lines(const struct sample *s, const char *dir,
			   struct mdbus_consumer_stat *cons)
{
	char name[sizeof(cons->name)];
	struct mdbus_stats st;

	if (mdbus_channel_stats(s->name, dir, &st, cons, CONSUMERS_MAX))
		return;
	if (!st.consumers)
		return;
	printf("  %-31s %8s %-7s %14s %10s %10s\n", "CONSUMER", "PID",
	       "STATE", "POSITION", "LAG", "LOST");
	for (uint32_t i = 0; i < st.consumers && i < CONSUMERS_MAX; i++) {
		const struct mdbus_consumer_stat *c = &cons[i];

		printable_name(name, c->name, sizeof(name));
		printf("  %-31s %8d %-7s %14" PRIu64 " %10" PRIu64
		       " %10" PRIu64 "\n", name, (int)c->pid,
		       c->evicted ? "evicted" : c->alive ? "alive" : "dead",
		       c->position, c->lag, c->lost);
	}
}

static void status_block(const struct sample *s, const struct snapshot *prev,
			 const char *dir, struct mdbus_consumer_stat *cons)
{
	const struct mdbus_stats *st = &s->st;
	char age[32], r[32], created[32];
	time_t c;

	if (s->err) {
		printf("%s: error: %s\n\n", s->name, s->why);
		return;
	}
	c = (time_t)(st->create_ns / NS_PER_SEC);
	strftime(created, sizeof created, "%Y-%m-%d %H:%M:%S",
		 localtime(&c));
	fmt_age(age, sizeof age, st->pub.heartbeat_age_ns);
	fmt_rate(r, sizeof r, rate(s, prev));
	printf("%s: layout %" PRIu32 ".%" PRIu32 ", %s, created %s, epoch %"
	       PRIu64 "\n", s->name, st->layout_major, st->layout_minor,
	       mdbus_mode_name(st->mode), created, st->epoch);
	printf("  geometry: slot %" PRIu32 " B x %" PRIu32 " x %" PRIu32
	       " blocks = %" PRIu64 " slots, %" PRIu64 " bytes\n",
	       st->slot_size, st->slots_per_block, st->block_count,
	       st->capacity, st->total_size);
	printf("  publisher: %s, pid %d, heartbeat age %s\n",
	       mdbus_pub_state_name(st->pub.state), (int)st->pub.pid, age);
	printf("  write_num: %" PRIu64 ", rate %s msg/s\n", st->pub.write_num, r);
	printf("  consumers: %" PRIu32 " of %" PRIu32 "\n", st->consumers,
	       st->max_consumers);
	consumer_lines(s, dir, cons);
	putchar('\n');
}

static void show(const struct mdsub_opts *o, const struct snapshot *cur,
		 const struct snapshot *prev, struct mdbus_consumer_stat *cons)
{
	if (o->mode == MODE_LIST)
		list_header();
	for (size_t i = 0; i < cur->n; i++) {
		if (o->mode == MODE_LIST)
			list_line(&cur->s[i], prev);
		else
			status_block(&cur->s[i], prev, o->sub.dir, cons);
	}
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / NS_PER_SEC),
			      (long)(ns % NS_PER_SEC)};

	nanosleep(&ts, NULL);
}

static void swap(struct snapshot *a, struct snapshot *b)
{
	struct snapshot t = *a;

	*a = *b;
	*b = t;
}

static int output_error(struct why *why)
{
	int err = errno;

	snprintf(why->text, sizeof why->text, "standard output: %s",
		 strerror(err));
	return -err;
}

/* 0 when stopped (signal, --duration, a closed pipe), or a negative
 * code with the reason in why. */
static int watch(const struct mdsub_opts *o, struct snapshot *prev,
		 struct snapshot *cur, struct mdbus_consumer_stat *cons,
		 struct why *why)
{
	struct sigaction sa = {.sa_handler = on_signal};
	uint64_t end = o->duration_ns ? now_monotonic() + o->duration_ns : 0;
	int tty = isatty(STDOUT_FILENO);

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	show(o, prev, NULL, cons);
	while (!stop_watch && (!end || now_monotonic() < end)) {
		int err;

		sleep_ns(o->watch_ns);
		err = take(o, cur, why);
		if (err)
			return err;
		fputs(tty ? "\033[H\033[2J" : "", stdout);
		show(o, cur, prev, cons);
		if (fflush(stdout) == 0)
			swap(prev, cur);
		else if (errno == EPIPE)
			return 0;
		else
			return output_error(why);
	}
	return 0;
}

static int once(const struct mdsub_opts *o, struct snapshot *prev,
		struct snapshot *cur, struct mdbus_consumer_stat *cons,
		struct why *why)
{
	int err;

	if (prev->n)
		sleep_ns(RATE_SAMPLE_NS);
	err = take(o, cur, why);
	if (err)
		return err;
	show(o, cur, prev, cons);
	return 0;
}

/* The first sample, then --watch or one more for the rates. */
static int status_sample(const struct mdsub_opts *o, struct snapshot *a,
			 struct snapshot *b, struct why *why)
{
	struct mdbus_consumer_stat *cons = calloc(CONSUMERS_MAX, sizeof *cons);
	int err = cons ? take(o, a, why) : -ENOMEM;

	if (!cons)
		snprintf(why->text, sizeof why->text, "out of memory");
	if (err == 0)
		err = o->mode == MODE_WATCH ? watch(o, a, b, cons, why) :
					      once(o, a, b, cons, why);
	free(cons);
	return err;
}

int status_run(const struct mdsub_opts *o)
{
	struct snapshot a = {0}, b = {0};
	struct why why;
	int err;

	signal(SIGPIPE, SIG_IGN);
	err = status_sample(o, &a, &b, &why);
	if (err)
		fprintf(stderr, "mdsub: %s\n", why.text);
	free(a.s);
	free(b.s);
	return err ? EXIT_FAILURE : 0;
}
