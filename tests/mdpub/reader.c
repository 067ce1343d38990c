/*
 * reader.c - the consumer of the mdpub tests: reads one channel
 * through libmdbus, checks that sequence numbers only go up by one (gaps
 * are counted as lost, never a duplicate or a step back), and prints
 *
 *   messages N quote N trade N status N heartbeat N other N lost N
 *   first SEQ last SEQ up N down N bad N
 *
 * and with --dump every message without its timestamps, one a line.
 *
 * reader [--from oldest|latest|SEQ|@NS] [--archive DIR]
 *        [--until down|caught-up|N]
 *        [--timeout SEC] [--delay USEC] [--synthetic] [--dump] [--stall]
 *        CHANNEL
 * (--from SEQ / @NS: a sequence number or a CLOCK_REALTIME time, from
 * the channel's archive when the ring no longer has it, and then
 * "replayed N" on stderr: the messages that came from the archive;
 * --archive: that archive directory instead of the announced one)
 * (--timeout: give up after SEC seconds, 60 by default: a deadline for a
 * loaded machine, the reader ends as soon as --until is met;
 * --until N: N messages besides heartbeats; --delay: sleep that long
 * after each message, a slow reader; --synthetic: count messages the
 * synthetic source cannot have made as bad, and fail; --stall: stop
 * itself with SIGSTOP once registered, before reading anything, until
 * sent SIGCONT: a reader that holds a lossless channel back; the
 * timeout counts from then)
 * Exit 0 when the --until condition was met, 1 otherwise.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

enum until { UNTIL_DOWN, UNTIL_CAUGHT_UP, UNTIL_COUNT };

struct opts {
	enum mdbus_start start;
	uint64_t start_at;       /* SEQ or NS of --from */
	const char *archive;
	enum until until;
	uint64_t count;
	double timeout;
	long delay_us;
	int dump;
	int synthetic;
	int stall;
	const char *channel;
};

static int usage(void)
{
	fprintf(stderr, "usage: reader [--from oldest|latest] "
			"[--until down|caught-up|N] [--timeout SEC] [--delay USEC] "
			"[--synthetic] [--dump] [--stall] "
			"CHANNEL\n");
	return 2;
}

static int parse_until(const char *arg, struct opts *o)
{
	char *end;

	if (strcmp(arg, "down") == 0)
		o->until = UNTIL_DOWN;
	else if (strcmp(arg, "caught-up") == 0)
		o->until = UNTIL_CAUGHT_UP;
	else {
		o->until = UNTIL_COUNT;
		o->count = strtoull(arg, &end, 10);
		return *end || end == arg ? -1 : 0;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"from", required_argument, NULL, 'f'},
		{"archive", required_argument, NULL, 'a'},
		{"until", required_argument, NULL, 'u'},
		{"timeout", required_argument, NULL, 't'},
		{"dump", no_argument, NULL, 'd'},
		{"delay", required_argument, NULL, 'D'},
		{"synthetic", no_argument, NULL, 's'},
		{"stall", no_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->start = MDBUS_START_OLDEST;
	o->until = UNTIL_DOWN;
	o->timeout = 60;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'f' && strcmp(optarg, "latest") == 0)
			o->start = MDBUS_START_LATEST;
		else if (c == 'f' && optarg[0] == '@') {
			o->start = MDBUS_START_TIME;
			o->start_at = strtoull(optarg + 1, NULL, 10);
		} else if (c == 'f' && optarg[0] >= '0' && optarg[0] <= '9') {
			o->start = MDBUS_START_SEQ;
			o->start_at = strtoull(optarg, NULL, 10);
		} else if (c == 'f' && strcmp(optarg, "oldest") != 0)
			return -1;
		else if (c == 'a')
			o->archive = optarg;
		else if (c == 'u' && parse_until(optarg, o) < 0)
			return -1;
		else if (c == 't')
			o->timeout = atof(optarg);
		else if (c == 'd')
			o->dump = 1;
		else if (c == 'D')
			o->delay_us = atol(optarg);
		else if (c == 's')
			o->synthetic = 1;
		else if (c == 'S')
			o->stall = 1;
		else if (c == '?')
			return -1;
	}
	if (optind != argc - 1)
		return -1;
	o->channel = argv[optind];
	return 0;
}

static void dump(const struct mdbus_msg *m, const void *buf)
{
	const struct mdbus_quote *q = buf;
	const struct mdbus_trade *t = buf;
	const struct mdbus_status *s = buf;

	if (m->type == MDBUS_MSG_QUOTE)
		printf("Q %.16s %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
		       " %" PRIu64 "\n", q->symbol, q->bid_px, q->bid_qty,
		       q->ask_px, q->ask_qty, q->exch_ns);
	else if (m->type == MDBUS_MSG_TRADE)
		printf("T %.16s %" PRId64 " %" PRId64 " %u %" PRIu64 " %" PRIu64
		       "\n", t->symbol, t->px, t->qty, t->aggressor,
		       t->trade_id, t->exch_ns);
	else if (m->type == MDBUS_MSG_STATUS)
		printf("S %u %.28s\n", s->state, s->text);
	else if (m->type != MDBUS_MSG_HEARTBEAT)
		printf("M %u %u\n", m->type, m->size);
}

static int done(const struct opts *o, const struct tally *t,
		const struct mdbus_msg *m, const void *buf)
{
	const struct mdbus_status *s = buf;

	if (o->until == UNTIL_COUNT) /* heartbeats come with idle time */
		return t->messages - t->by_type[MDBUS_MSG_HEARTBEAT] >= o->count;
	return o->until == UNTIL_DOWN && m->type == MDBUS_MSG_STATUS &&
	       s->state == MDBUS_STATE_FEED_DOWN;
}

static int read_all(mdbus_sub_t *sub, const struct opts *o, struct tally *t,
		    uint64_t *replayed)
{
	static uint64_t buf[(1 << 20) / 8];
	double deadline = tally_now_s() + o->timeout;
	struct mdbus_msg m;

	while (tally_now_s() < deadline) {
		int rc, from_archive = mdbus_sub_replaying(sub);

		if (o->until == UNTIL_CAUGHT_UP && mdbus_sub_caught_up(sub))
			return 0;
		rc = mdbus_sub_read(sub, buf, sizeof(buf), &m, 100000000);
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0) {
			fprintf(stderr, "reader: %s\n", mdbus_strerror(rc));
			return -1;
		}
		if (tally_add(t, &m, buf) < 0)
			return -1;
		*replayed += from_archive && mdbus_sub_replaying(sub);
		if (o->synthetic && !synthetic_ok(&m, buf))
			t->bad++;
		if (o->dump)
			dump(&m, buf);
		if (o->delay_us)
			nanosleep(&(struct timespec){0, o->delay_us * 1000}, NULL);
		if (done(o, t, &m, buf))
			return 0;
	}
	fprintf(stderr, "reader: timed out\n");
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct tally t = {0};
	struct mdbus_sub_config cfg;
	uint64_t replayed = 0;
	mdbus_sub_t *sub;
	int rc;

	if (parse_args(argc, argv, &o) < 0)
		return usage();
	mdbus_sub_config_init(&cfg);
	cfg.name = "mdpub_reader";
	cfg.start = o.start;
	cfg.start_seq = cfg.start_time_ns = o.start_at;
	cfg.archive_dir = o.archive;
	rc = mdbus_sub_open(&sub, o.channel, &cfg);
	if (rc < 0) {
		fprintf(stderr, "reader: %s: %s %s\n", o.channel,
			mdbus_strerror(rc), mdbus_last_error());
		return 1;
	}
	if (o.stall)
		raise(SIGSTOP);
	rc = read_all(sub, &o, &t, &replayed);
	mdbus_sub_close(sub);
	tally_print(stdout, &t);
	if (o.start == MDBUS_START_SEQ || o.start == MDBUS_START_TIME)
		fprintf(stderr, "replayed %" PRIu64 "\n", replayed);
	return rc < 0 || t.bad ? 1 : 0;
}
