/*
 * status_prom.c - --status -o prometheus: the Prometheus text exposition
 * format (version 0.0.4), for node_exporter's textfile collector. The
 * metric set is mdsub(1)'s, "PROMETHEUS METRICS": change both together.
 *
 * Label values are the text form of names (as mdsub prints them: no
 * control byte, no newline), escaped as the format wants (\\ and \");
 * a series that would repeat another's labels (two consumers of one
 * name in one process, a segment with two counters of one label) gets
 * "#N" after its name (prom_labels.c), as Prometheus refuses a file with
 * a duplicate series.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

enum kind { GAUGE, COUNTER };

static void family(const char *name, enum kind k, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	       k == COUNTER ? "counter" : "gauge");
}

static void label(const char *key, const char *v, size_t n)
{
	printf("%s=", key);
	put_str(stdout, STR_PROM, v, n);
}

/* name{channel="..."  (the caller adds more labels, then "} value") */
static void chan_series(const char *name, const struct sample *s)
{
	printf("%s{", name);
	label("channel", s->name, sizeof s->name);
}

/* One value per readable channel; with `table`, only where its consumer
 * table could be read too (no series while it is unreadable). */
static void per_channel(const struct snapshot *cur, const char *name,
			enum kind k, const char *help, int table,
			uint64_t (*get)(const struct mdbus_stats *))
{
	family(name, k, help);
	for (size_t i = 0; i < cur->n; i++) {
		if (cur->s[i].err || (table && cur->s[i].table_err))
			continue;
		chan_series(name, &cur->s[i]);
		printf("} %" PRIu64 "\n", get(&cur->s[i].st));
	}
}

static uint64_t get_written(const struct mdbus_stats *st) { return st->pub.write_num; }
static uint64_t get_capacity(const struct mdbus_stats *st) { return st->capacity; }
static uint64_t get_slot(const struct mdbus_stats *st) { return st->slot_size; }
static uint64_t get_size(const struct mdbus_stats *st) { return st->total_size; }
static uint64_t get_cons(const struct mdbus_stats *st) { return st->consumers; }
static uint64_t get_max(const struct mdbus_stats *st) { return st->max_consumers; }
static uint64_t get_pid(const struct mdbus_stats *st) { return (uint64_t)(st->pub.pid > 0 ? st->pub.pid : 0); }

/* ,owner="...",owner_not_publisher="0|1", or "" when the live
 * publisher's user is not known (as publisher_process is "" for a
 * process that cannot be seen) */
static void owner_labels(const struct sample *s)
{
	char name[64];
	int differs = owner_differs(s);

	user_text(s->st.owner, name, sizeof name);
	putchar(',');
	label("owner", name, sizeof name);
	if (differs < 0)
		fputs(",owner_not_publisher=\"\"", stdout);
	else
		printf(",owner_not_publisher=\"%d\"", differs);
}

static void channel_info(const struct snapshot *cur)
{
	char comm[16];

	family("mdbus_channel_info", GAUGE, "Always 1: the channel's mode, "
	       "layout, publisher state and publisher process name, the "
	       "segment's owner and whether it is not the live publisher's "
	       "user.");
	for (size_t i = 0; i < cur->n; i++) {
		const struct sample *s = &cur->s[i];

		if (s->err)
			continue;
		pub_comm(&s->st, comm);
		chan_series("mdbus_channel_info", s);
		printf(",mode=\"%s\",layout=\"%" PRIu32 ".%" PRIu32 "\","
		       "publisher_state=\"%s\",", mdbus_mode_name(s->st.mode),
		       s->st.layout_major, s->st.layout_minor,
		       mdbus_pub_state_name(s->st.pub.state));
		label("publisher_process", comm, sizeof comm);
		owner_labels(s);
		puts("} 1");
	}
}

static void table_readable(const struct snapshot *cur)
{
	family("mdbus_channel_table_readable", GAUGE, "1 when mdsub could "
	       "read the channel's consumer table, 0 when it is missing or "
	       "spoiled (the channel's consumers unknown, its other series "
	       "read).");
	for (size_t i = 0; i < cur->n; i++) {
		if (cur->s[i].err)
			continue;
		chan_series("mdbus_channel_table_readable", &cur->s[i]);
		printf("} %d\n", cur->s[i].table_err ? 0 : 1);
	}
}

static void readable(const struct snapshot *cur)
{
	family("mdbus_channel_readable", GAUGE, "1 when mdsub could read the "
	       "channel's segment, 0 when not (the reason on mdsub's standard "
	       "error).");
	for (size_t i = 0; i < cur->n; i++) {
		chan_series("mdbus_channel_readable", &cur->s[i]);
		printf("} %d\n", cur->s[i].err ? 0 : 1);
	}
}

static void heartbeat(const struct snapshot *cur)
{
	family("mdbus_channel_heartbeat_age_seconds", GAUGE, "Time since the "
	       "publisher's last heartbeat (absent when it never beat).");
	for (size_t i = 0; i < cur->n; i++) {
		const struct sample *s = &cur->s[i];

		if (s->err || s->st.pub.heartbeat_age_ns < 0)
			continue;
		chan_series("mdbus_channel_heartbeat_age_seconds", s);
		printf("} %.3f\n", (double)s->st.pub.heartbeat_age_ns / 1e9);
	}
}

static void publisher_counters(const struct snapshot *cur, const char *name,
			       enum mdbus_counter_kind kind, const char *key)
{
	for (size_t i = 0; i < cur->n; i++) {
		const struct sample *s = &cur->s[i];
		struct prom_labels *l;

		if (s->err || s->nctr <= 0 || /* < 0: unreadable */
		    !(l = prom_labels_new((size_t)s->nctr)))
			continue;
		for (int j = 0; j < s->nctr; j++) {
			const char *v = prom_label_add(l, (size_t)j, 0,
						       s->ctr[j].label,
						       sizeof s->ctr[j].label);

			if (s->ctr[j].kind != kind)
				continue;
			chan_series(name, s);
			putchar(',');
			label(key, v, PROM_LABEL_OUT);
			printf("} %" PRIu64 "\n", s->ctr[j].value);
		}
		prom_labels_free(l);
	}
}

/* The consumers' labels of each sample (prom_labels.c, by name and pid),
 * made once for the four families: an array of cur->n, each NULL when
 * its table is unreadable or memory ran out. */
static struct prom_labels **cons_labels(const struct snapshot *cur)
{
	struct prom_labels **all = calloc(cur->n ? cur->n : 1, sizeof(*all));

	for (size_t i = 0; all && i < cur->n; i++) {
		const struct sample *s = &cur->s[i];

		if (s->err || !(all[i] = prom_labels_new(s->ncons)))
			continue;
		for (uint32_t j = 0; j < s->ncons; j++)
			(void)prom_label_add(all[i], j, (int32_t)s->cons[j].pid,
					     s->cons[j].name,
					     sizeof s->cons[j].name);
	}
	return all;
}

static void cons_labels_free(struct prom_labels **all, size_t n)
{
	for (size_t i = 0; all && i < n; i++)
		prom_labels_free(all[i]);
	free(all);
}

static uint64_t c_position(const struct mdbus_consumer_stat *c) { return c->position; }
static uint64_t c_lag(const struct mdbus_consumer_stat *c) { return c->lag; }
static uint64_t c_lost(const struct mdbus_consumer_stat *c) { return c->lost; }
static uint64_t c_alive(const struct mdbus_consumer_stat *c) { return c->alive && !c->evicted; }

static void per_consumer(const struct snapshot *cur,
			 struct prom_labels *const *labels, const char *name,
			 enum kind k, const char *help,
			 uint64_t (*get)(const struct mdbus_consumer_stat *))
{
	char comm[16];

	family(name, k, help);
	for (size_t i = 0; labels && i < cur->n; i++) {
		const struct sample *s = &cur->s[i];

		for (uint32_t j = 0; labels[i] && j < s->ncons; j++) {
			const struct mdbus_consumer_stat *c = &s->cons[j];

			cons_comm(c, comm);
			chan_series(name, s);
			putchar(',');
			label("consumer", prom_label(labels[i], j), PROM_LABEL_OUT);
			printf(",pid=\"%d\",", (int)c->pid);
			label("process", comm, sizeof comm);
			printf("} %" PRIu64 "\n", get(c));
		}
	}
}

static void directory(const struct snapshot *cur)
{
	static const char *const names[] = {
		"mdbus_dir_files", "mdbus_dir_bytes", "mdbus_dir_fs_size_bytes",
		"mdbus_dir_fs_avail_bytes",
	};
	static const char *const help[] = {
		"mdbus files in the segment directory.",
		"Bytes the mdbus files in the segment directory take.",
		"Bytes of the segment directory's file system.",
		"Bytes of the segment directory's file system free.",
	};
	const uint64_t v[] = {cur->use.files, cur->use.bytes, cur->use.fs_size,
			      cur->use.fs_avail};

	if (cur->dir_err)
		return;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		family(names[i], GAUGE, help[i]);
		printf("%s{", names[i]);
		label("dir", cur->dir, 4096);
		printf("} %" PRIu64 "\n", v[i]);
	}
}

void status_prom(const struct snapshot *cur)
{
	struct prom_labels **labels;

	readable(cur);
	table_readable(cur);
	channel_info(cur);
	per_channel(cur, "mdbus_channel_messages_total", COUNTER,
		    "Messages published on the channel (its write count).", 0,
		    get_written);
	per_channel(cur, "mdbus_channel_publisher_pid", GAUGE,
		    "Process id of the channel's last publisher (0: none).", 0,
		    get_pid);
	heartbeat(cur);
	per_channel(cur, "mdbus_channel_capacity_messages", GAUGE,
		    "Slots in the channel's ring.", 0, get_capacity);
	per_channel(cur, "mdbus_channel_slot_bytes", GAUGE,
		    "Bytes of a slot, its 24-byte header included.", 0,
		    get_slot);
	per_channel(cur, "mdbus_channel_segment_bytes", GAUGE,
		    "Bytes of the channel's data file.", 0, get_size);
	per_channel(cur, "mdbus_channel_consumers", GAUGE, "Consumer table "
		    "entries in use (no series while the table is unreadable).",
		    1, get_cons);
	per_channel(cur, "mdbus_channel_consumers_max", GAUGE,
		    "Consumer table entries.", 0, get_max);
	family("mdbus_publisher_counter_total", COUNTER, "The publisher's "
	       "counters in the segment, by label (mdpub(8), COUNTERS).");
	publisher_counters(cur, "mdbus_publisher_counter_total",
			   MDBUS_COUNTER_TOTAL, "counter");
	family("mdbus_publisher_gauge", GAUGE, "The publisher's gauges in the "
	       "segment, by label (mdpub(8), COUNTERS).");
	publisher_counters(cur, "mdbus_publisher_gauge", MDBUS_COUNTER_GAUGE,
			   "gauge");
	labels = cons_labels(cur);
	per_consumer(cur, labels, "mdbus_consumer_up", GAUGE, "1 when the consumer's "
		     "process is alive and not evicted, else 0.", c_alive);
	per_consumer(cur, labels, "mdbus_consumer_position", GAUGE,
		     "Sequence number of the next message the consumer reads.",
		     c_position);
	per_consumer(cur, labels, "mdbus_consumer_lag_messages", GAUGE,
		     "Messages published that the consumer has not read.", c_lag);
	per_consumer(cur, labels, "mdbus_consumer_lost_total", COUNTER,
		     "Messages the consumer lost (overwritten before it read them).",
		     c_lost);
	cons_labels_free(labels, cur->n);
	directory(cur);
}
