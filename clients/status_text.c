/*
 * status_text.c - --list, --status and --watch as text for people
 * (mdsub(1), "STATUS").
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "status.h"

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

/* "12.3 MiB" for people; the exact bytes are in json and prometheus. */
static void fmt_bytes(char *buf, size_t len, uint64_t b)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	unsigned u = 0;

	while (v >= 1024 && u + 1 < sizeof unit / sizeof unit[0]) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void list_header(void)
{
	printf("%-20s %-9s %7s %10s %-8s %8s %6s %14s %10s %9s %s\n",
	       "CHANNEL", "MODE", "SLOT", "CAPACITY", "STATE", "PID", "HB_AGE",
	       "WRITE_NUM", "RATE/S", "CONSUMERS", "OWNER");
}

static void list_line(const struct sample *s, const struct snapshot *prev)
{
	const struct mdbus_stats *st = &s->st;
	char age[32], r[32], cons[32], owner[OWNER_TEXT_MAX];

	fmt_age(age, sizeof age, st->pub.heartbeat_age_ns);
	fmt_rate(r, sizeof r, rate_written(s, prev));
	if (s->table_err)
		snprintf(cons, sizeof cons, "   ?/%" PRIu32, st->max_consumers);
	else
		snprintf(cons, sizeof cons, "%4" PRIu32 "/%" PRIu32,
			 st->consumers, st->max_consumers);
	owner_text(s, owner, sizeof owner);
	put_str_padded(stdout, s->name, sizeof s->name, 20);
	printf(" %-9s %7" PRIu32 " %10" PRIu64 " %-8s %8d %6s %14" PRIu64
	       " %10s %-9s ", mdbus_mode_name(st->mode), st->slot_size,
	       st->capacity, mdbus_pub_state_name(st->pub.state),
	       (int)st->pub.pid, age, st->pub.write_num, r, cons);
	put_str(stdout, STR_TEXT, owner, sizeof owner);
	putchar('\n');
}

static void counter_lines(const struct sample *s, const struct snapshot *prev)
{
	char r[32];

	if (s->nctr < 0) {
		fputs("  counters: unreadable: ", stdout);
		put_str(stdout, STR_TEXT, s->ctr_why, sizeof s->ctr_why);
		putchar('\n');
		return;
	}
	if (s->nctr == 0)
		return;
	printf("  %-27s %20s %10s\n", "COUNTER", "VALUE", "RATE/S");
	for (int i = 0; i < s->nctr; i++) {
		const struct mdbus_counter *c = &s->ctr[i];

		if (c->kind == MDBUS_COUNTER_GAUGE)
			snprintf(r, sizeof r, "(gauge)");
		else
			fmt_rate(r, sizeof r, rate_counter(s, prev, c));
		fputs("  ", stdout);
		put_str_padded(stdout, c->label, sizeof c->label, 27);
		printf(" %20" PRIu64 " %10s\n", c->value, r);
	}
}

static void consumer_lines(const struct sample *s, const struct snapshot *prev)
{
	char comm[16], r[32];

	if (!s->ncons)
		return;
	printf("  %-31s %8s %-15s %-7s %14s %10s %10s %10s\n", "CONSUMER",
	       "PID", "PROCESS", "STATE", "POSITION", "LAG", "LOST", "RATE/S");
	for (uint32_t i = 0; i < s->ncons; i++) {
		const struct mdbus_consumer_stat *c = &s->cons[i];

		cons_comm(c, comm);
		fmt_rate(r, sizeof r, rate_consumer(s, prev, c));
		fputs("  ", stdout);
		put_str_padded(stdout, c->name, sizeof c->name, MDBUS_NAME_MAX);
		printf(" %8d ", (int)c->pid);
		put_str_padded(stdout, *comm ? comm : "-", sizeof comm, 15);
		printf(" %-7s %14" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10s\n",
		       cons_state(c), c->position, c->lag, c->lost, r);
	}
}

/* The segment file's owner, and whether it is the live publisher's user. */
static void owner_line(const struct sample *s)
{
	char owner[OWNER_TEXT_MAX];

	owner_text(s, owner, sizeof owner);
	fputs("  owner: ", stdout);
	put_str(stdout, STR_TEXT, owner, sizeof owner);
	putchar('\n');
}

static void status_block(const struct sample *s, const struct snapshot *prev)
{
	const struct mdbus_stats *st = &s->st;
	char age[32], r[32], created[32], comm[16];
	time_t c;

	c = (time_t)(st->create_ns / NS_PER_SEC);
	strftime(created, sizeof created, "%Y-%m-%d %H:%M:%S",
		 localtime(&c));
	fmt_age(age, sizeof age, st->pub.heartbeat_age_ns);
	fmt_rate(r, sizeof r, rate_written(s, prev));
	pub_comm(st, comm);
	put_str(stdout, STR_TEXT, s->name, sizeof s->name);
	printf(": layout %" PRIu32 ".%" PRIu32 ", %s, created %s, epoch %"
	       PRIu64 "\n", st->layout_major, st->layout_minor,
	       mdbus_mode_name(st->mode), created, st->epoch);
	printf("  geometry: slot %" PRIu32 " B x %" PRIu32 " x %" PRIu32
	       " blocks = %" PRIu64 " slots, %" PRIu64 " bytes\n",
	       st->slot_size, st->slots_per_block, st->block_count,
	       st->capacity, st->total_size);
	owner_line(s);
	printf("  publisher: %s, pid %d", mdbus_pub_state_name(st->pub.state),
	       (int)st->pub.pid);
	if (*comm) {
		fputs(" (", stdout);
		put_str(stdout, STR_TEXT, comm, sizeof comm);
		putchar(')');
	}
	printf(", heartbeat age %s\n", age);
	printf("  write_num: %" PRIu64 ", rate %s msg/s\n", st->pub.write_num, r);
	counter_lines(s, prev);
	if (s->table_err) {
		printf("  consumers: unknown of %" PRIu32 ": ", st->max_consumers);
		put_str(stdout, STR_TEXT, s->table_why, sizeof s->table_why);
		putchar('\n');
	} else {
		printf("  consumers: %" PRIu32 " of %" PRIu32 "\n",
		       st->consumers, st->max_consumers);
	}
	consumer_lines(s, prev);
	putchar('\n');
}

static void dir_line(const struct snapshot *cur)
{
	char used[32], size[32], avail[32];

	fputs("segment directory ", stdout);
	put_str(stdout, STR_TEXT, cur->dir, SIZE_MAX);
	if (cur->dir_err) {
		printf(": %s\n", mdbus_strerror(cur->dir_err));
		return;
	}
	fmt_bytes(used, sizeof used, cur->use.bytes);
	fmt_bytes(size, sizeof size, cur->use.fs_size);
	fmt_bytes(avail, sizeof avail, cur->use.fs_avail);
	printf(": %" PRIu64 " mdbus files, %s (%" PRIu64 " bytes); file system "
	       "%s, %s free\n", cur->use.files, used, cur->use.bytes, size, avail);
}

/* A channel that could not be read, in the listing with its reason:
 * one line of --list, one block of --status. */
static void unreadable_line(const struct mdsub_opts *o, const struct sample *s)
{
	if (o->mode == MODE_LIST) {
		put_str_padded(stdout, s->name, sizeof s->name, 20);
		fputs(" unreadable: ", stdout);
	} else {
		put_str(stdout, STR_TEXT, s->name, sizeof s->name);
		fputs(": unreadable: ", stdout);
	}
	put_str(stdout, STR_TEXT, s->why, sizeof s->why);
	fputs(o->mode == MODE_LIST ? "\n" : "\n\n", stdout);
}

/* The directory's line ends --status and --watch: of the whole directory
 * or of channels named, when at least one could be read. */
void status_text(const struct mdsub_opts *o, const struct snapshot *cur,
		 const struct snapshot *prev)
{
	size_t shown = 0;

	if (o->mode == MODE_LIST)
		list_header();
	for (size_t i = 0; i < cur->n; i++) {
		const struct sample *s = &cur->s[i];

		if (s->err)
			unreadable_line(o, s);
		else if (o->mode == MODE_LIST)
			list_line(s, prev);
		else
			status_block(s, prev);
		shown += !s->err;
	}
	if (o->mode != MODE_LIST && (shown || !o->nchannels))
		dir_line(cur);
}
