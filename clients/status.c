/*
 * status.c - --list, --status and --watch: what is in the segment
 * directory, in the spirit of AeronStat. Each channel is sampled twice
 * (RATE_SAMPLE_NS apart, or one --watch interval) to show the rates of its
 * write count, its publisher's counters and its consumers; the printers
 * are status_text.c, status_json.c and status_prom.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error_text.h"
#include "status.h"

#define RATE_SAMPLE_NS 200000000ULL

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
		memset(s + snap->cap, 0, (cap - snap->cap) * sizeof *s);
		snap->s = s;
		snap->cap = cap;
	}
	s = &snap->s[snap->n++];
	free(s->cons);
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

int channel_header(const char *channel, const char *dir,
		   struct mdbus_stats *st)
{
	int r = mdbus_channel_stats(channel, dir, st, NULL, 0);

	return r == MDBUS_ETABLE ? 0 : r;
}

/* mdbus_channel_stats() into s: a consumer table that is missing or
 * spoiled (anyone in the channel's group can spoil it) is noted, and the
 * rest shown all the same. */
static void sample_stats(const struct mdsub_opts *o, struct sample *s,
			 uint32_t room)
{
	s->err = mdbus_channel_stats(s->name, o->sub.dir, &s->st, s->cons, room);
	s->table_err = s->err == MDBUS_ETABLE;
	if (s->table_err) {
		snprintf(s->table_why, sizeof s->table_why, "%s",
			 mdbus_error_text(s->err));
		s->err = 0;
	} else if (s->err) {
		snprintf(s->why, sizeof s->why, "%s", mdbus_error_text(s->err));
	}
}

/* --status: the consumers (a second look, with room for the table) and
 * the publisher's counters. */
static void sample_detail(const struct mdsub_opts *o, struct sample *s)
{
	uint32_t room = s->st.max_consumers;

	s->cons = calloc(room ? room : 1, sizeof *s->cons);
	if (!s->cons) {
		s->err = -ENOMEM;
		snprintf(s->why, sizeof s->why, "out of memory");
		return;
	}
	sample_stats(o, s, room);
	if (s->err)
		return;
	s->ncons = s->st.consumers < room ? s->st.consumers : room;
	s->nctr = mdbus_channel_counters(s->name, o->sub.dir, s->ctr,
					 MDBUS_COUNTERS_MAX);
	if (s->nctr < 0)
		snprintf(s->ctr_why, sizeof s->ctr_why, "%s",
			 mdbus_error_text(s->nctr));
	else if (s->nctr > (int)MDBUS_COUNTERS_MAX)
		s->nctr = MDBUS_COUNTERS_MAX;
}

static void sample_all(const struct mdsub_opts *o, struct snapshot *snap)
{
	for (size_t i = 0; i < snap->n; i++) {
		struct sample *s = &snap->s[i];

		sample_stats(o, s, 0);
		if (!s->err && o->mode != MODE_LIST)
			sample_detail(o, s);
		if (!s->err)
			sample_pub_user(s);
		s->t_ns = now_monotonic();
	}
	snap->dir_err = mdbus_dir_usage(o->sub.dir, &snap->use);
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
	snap->dir = mdbus_segment_dir(o->sub.dir);
	err = collect_names(o, snap);
	if (err) {
		snprintf(why->text, sizeof why->text, "segment directory %s: %s",
			 snap->dir, mdbus_strerror(err));
		return err;
	}
	sample_all(o, snap);
	return 0;
}

/* The earlier sample of the same segment and publisher, or NULL. */
static const struct sample *earlier(const struct sample *cur,
				    const struct snapshot *prev)
{
	for (size_t i = 0; prev && i < prev->n; i++) {
		const struct sample *p = &prev->s[i];

		if (!strcmp(p->name, cur->name) && !p->err && !cur->err &&
		    p->st.epoch == cur->st.epoch &&
		    p->st.pub.pid == cur->st.pub.pid && cur->t_ns > p->t_ns)
			return p;
	}
	return NULL;
}

static double per_second(uint64_t now, uint64_t then, const struct sample *cur,
			 const struct sample *p)
{
	if (now < then)
		return -1;
	return (double)(now - then) * 1e9 / (double)(cur->t_ns - p->t_ns);
}

double rate_written(const struct sample *cur, const struct snapshot *prev)
{
	const struct sample *p = earlier(cur, prev);

	return p ? per_second(cur->st.pub.write_num, p->st.pub.write_num, cur, p) : -1;
}

double rate_counter(const struct sample *cur, const struct snapshot *prev,
		    const struct mdbus_counter *c)
{
	const struct sample *p = earlier(cur, prev);

	if (!p || c->kind != MDBUS_COUNTER_TOTAL)
		return -1;
	for (int i = 0; i < p->nctr; i++)
		if (p->ctr[i].id == c->id && !strcmp(p->ctr[i].label, c->label))
			return per_second(c->value, p->ctr[i].value, cur, p);
	return -1;
}

double rate_consumer(const struct sample *cur, const struct snapshot *prev,
		     const struct mdbus_consumer_stat *c)
{
	const struct sample *p = earlier(cur, prev);

	for (uint32_t i = 0; p && i < p->ncons; i++)
		if (p->cons[i].pid == c->pid && !strcmp(p->cons[i].name, c->name))
			return per_second(c->position, p->cons[i].position, cur, p);
	return -1;
}

void proc_comm(pid_t pid, char out[16])
{
	char path[64];
	ssize_t n;
	int fd;

	out[0] = '\0';
	if (pid <= 0)
		return;
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return; /* gone, or hidden (hidepid) */
	n = read(fd, out, 15);
	close(fd);
	n = n < 0 ? 0 : n;
	out[n] = '\0';
	if (n > 0 && out[n - 1] == '\n') /* the kernel's line end */
		out[n - 1] = '\0';
}

void pub_comm(const struct mdbus_stats *st, char out[16])
{
	out[0] = '\0';
	if (st->pub.state == MDBUS_PUB_ACTIVE) /* a dead pid may be reused */
		proc_comm(st->pub.pid, out);
}

void cons_comm(const struct mdbus_consumer_stat *c, char out[16])
{
	out[0] = '\0';
	if (c->alive)
		proc_comm(c->pid, out);
}

const char *cons_state(const struct mdbus_consumer_stat *c)
{
	return c->evicted ? "evicted" : c->alive ? "alive" : "dead";
}

/* A channel that could not be read: on stderr, with the reason. */
static void unreadable(const struct sample *s)
{
	fputs("mdsub: ", stderr);
	put_str(stderr, STR_TEXT, s->name, sizeof s->name);
	fputs(": ", stderr);
	put_str(stderr, STR_TEXT, s->why, sizeof s->why);
	putc('\n', stderr);
}

/* Prints every channel on stdout in the chosen format, those that could
 * not be read with their reason (also on stderr). Returns the number of
 * channels named on the command line that could not be read (one found
 * by listing the directory is shown, and the listing still worked), or a
 * negative code (-ENOMEM: the JSON document could not be made). */
static long show(const struct mdsub_opts *o, const struct snapshot *cur,
		 const struct snapshot *prev)
{
	size_t bad = 0;
	int err = 0;

	fflush(stdout);
	for (size_t i = 0; i < cur->n; i++) {
		if (cur->s[i].err) {
			unreadable(&cur->s[i]);
			bad += o->nchannels > 0;
		}
	}
	if (o->format == OUT_JSON)
		err = status_json(o, cur, prev);
	else if (o->format == OUT_PROMETHEUS)
		status_prom(cur);
	else
		status_text(o, cur, prev);
	return err ? err : (long)bad;
}

static void swap(struct snapshot *a, struct snapshot *b)
{
	struct snapshot t = *a;

	*a = *b;
	*b = t;
}

/* What show()'s result makes of a run: 1 when channels named could not
 * be read, else 0, or -ENOMEM with the reason in why. */
static int shown(long bad, struct why *why)
{
	if (bad >= 0)
		return bad > 0;
	snprintf(why->text, sizeof why->text, "out of memory");
	return -ENOMEM;
}

static int output_error(struct why *why)
{
	int err = errno;

	snprintf(why->text, sizeof why->text, "standard output: %s",
		 strerror(err));
	return -err;
}

/* When stopped (signal, --duration, a closed pipe): 1 when the last
 * refresh had channels that could not be read, else 0; or a negative code
 * with the reason in why. */
static int watch(const struct mdsub_opts *o, struct snapshot *prev,
		 struct snapshot *cur, struct why *why)
{
	struct sigaction sa = {.sa_handler = on_signal};
	uint64_t end = o->duration_ns ? now_monotonic() + o->duration_ns : 0;
	int tty = isatty(STDOUT_FILENO) && o->format == OUT_TEXT;
	long bad;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	bad = show(o, prev, NULL);
	while (bad >= 0 && !stop_watch && (!end || now_monotonic() < end)) {
		int err;

		sleep_ns(o->watch_ns);
		err = take(o, cur, why);
		if (err)
			return err;
		fputs(tty ? "\033[H\033[2J" : "", stdout);
		bad = show(o, cur, prev);
		if (fflush(stdout) == 0)
			swap(prev, cur);
		else if (errno == EPIPE)
			return 0;
		else
			return output_error(why);
	}
	return shown(bad, why);
}

/* The same returns as watch(). Prometheus computes rates itself: one
 * sample will do. */
static int once(const struct mdsub_opts *o, struct snapshot *prev,
		struct snapshot *cur, struct why *why)
{
	int err;

	if (o->format == OUT_PROMETHEUS)
		return shown(show(o, prev, NULL), why);
	if (prev->n)
		sleep_ns(RATE_SAMPLE_NS);
	err = take(o, cur, why);
	if (err)
		return err;
	return shown(show(o, cur, prev), why);
}

/* The first sample, then --watch or one more for the rates; returns as
 * watch(). */
static int status_sample(const struct mdsub_opts *o, struct snapshot *a,
			 struct snapshot *b, struct why *why)
{
	int err = take(o, a, why);

	if (err == 0)
		err = o->mode == MODE_WATCH ? watch(o, a, b, why) :
					      once(o, a, b, why);
	return err;
}

static void snapshot_free(struct snapshot *snap)
{
	for (size_t i = 0; i < snap->cap; i++)
		free(snap->s[i].cons);
	free(snap->s);
}

int status_run(const struct mdsub_opts *o)
{
	struct snapshot a = {0}, b = {0};
	struct why why;
	int err;

	signal(SIGPIPE, SIG_IGN);
	err = status_sample(o, &a, &b, &why);
	if (err < 0) {
		fputs("mdsub: ", stderr);
		put_str(stderr, STR_TEXT, why.text, sizeof why.text);
		putc('\n', stderr);
	}
	snapshot_free(&a);
	snapshot_free(&b);
	return err ? EXIT_FAILURE : 0;
}
