/*
 * status_json.c - --list, --status and --watch as one JSON object per
 * sample, built with json-c (mdsub(1), "STATUS", has the fields).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "status.h"

/* A string from shared memory or /proc (any bytes, at most n, stopping
 * at a NUL) as a JSON string: each byte the character of that number
 * (Latin-1), as -o json prints message strings (\u00NN), so that the
 * output is valid UTF-8 whatever the bytes. */
static json_object *jstr(const char *s, size_t n)
{
	char out[2 * 256 + 1];
	size_t len = strnlen(s, n), w = 0;

	for (size_t i = 0; i < len && w + 2 < sizeof out; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x80) {
			out[w++] = (char)c;
		} else {
			out[w++] = (char)(0xc0 | c >> 6);
			out[w++] = (char)(0x80 | (c & 0x3f));
		}
	}
	out[w] = '\0';
	return json_object_new_string(out);
}

/* A rate rounded to 0.1/s, or null when there is none. */
static json_object *jrate(double r)
{
	char buf[64];

	if (r < 0)
		return NULL;
	snprintf(buf, sizeof buf, "%.1f", r);
	return json_object_new_double_s(r, buf);
}

static void add(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

/* A value bounded well below 2^53 (a size, a capacity): a number. */
static void add_u64(json_object *o, const char *key, uint64_t v)
{
	add(o, key, json_object_new_uint64(v));
}

/* A count, sequence number or duration: a number up to JSON_EXACT_MAX,
 * beyond it a string of its digits (mdsub.h). */
static void add_count(json_object *o, const char *key, uint64_t v)
{
	char buf[24];

	if (v <= JSON_EXACT_MAX) {
		add_u64(o, key, v);
		return;
	}
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	add(o, key, json_object_new_string(buf));
}

/* An identifier or a timestamp: always a string, as the message JSON
 * carries them. */
static void add_id(json_object *o, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof buf, "%" PRIu64, v);
	add(o, key, json_object_new_string(buf));
}

static json_object *publisher(const struct sample *s)
{
	const struct mdbus_stats *st = &s->st;
	json_object *p = json_object_new_object();
	char comm[16];

	pub_comm(st, comm);
	add(p, "state", json_object_new_string(mdbus_pub_state_name(st->pub.state)));
	add(p, "pid", json_object_new_int(st->pub.pid));
	add(p, "process", *comm ? jstr(comm, sizeof comm) : NULL);
	add(p, "uid", s->pub_uid_known ? json_object_new_int64(s->pub_uid) : NULL);
	if (st->pub.heartbeat_age_ns < 0)
		add(p, "heartbeat_age_ns", NULL);
	else
		add_count(p, "heartbeat_age_ns", (uint64_t)st->pub.heartbeat_age_ns);
	return p;
}

static json_object *counters(const struct sample *s, const struct snapshot *prev)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < s->nctr; i++) {
		const struct mdbus_counter *c = &s->ctr[i];
		json_object *o = json_object_new_object();

		add(o, "id", json_object_new_int((int)c->id));
		add(o, "label", jstr(c->label, sizeof c->label));
		add(o, "kind", json_object_new_string(
			c->kind == MDBUS_COUNTER_GAUGE ? "gauge" : "total"));
		add_count(o, "value", c->value);
		add(o, "rate", jrate(rate_counter(s, prev, c)));
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *consumers(const struct sample *s, const struct snapshot *prev)
{
	json_object *a = json_object_new_array();
	char comm[16];

	for (uint32_t i = 0; i < s->ncons; i++) {
		const struct mdbus_consumer_stat *c = &s->cons[i];
		json_object *o = json_object_new_object();

		cons_comm(c, comm);
		add(o, "name", jstr(c->name, sizeof c->name));
		add(o, "pid", json_object_new_int(c->pid));
		add(o, "process", *comm ? jstr(comm, sizeof comm) : NULL);
		add(o, "state", json_object_new_string(cons_state(c)));
		add_count(o, "position", c->position);
		add_count(o, "lag", c->lag);
		add_count(o, "lost", c->lost);
		add(o, "rate", jrate(rate_consumer(s, prev, c)));
		json_object_array_add(a, o);
	}
	return a;
}

/* The segment file's owner: its uid, its name (null: none), and whether
 * it differs from the live publisher's user (false when there is none,
 * null when its user is not known). */
static void owner(json_object *c, const struct sample *s)
{
	char name[64];
	int named = user_text(s->st.owner, name, sizeof name);
	int differs = owner_differs(s);

	add(c, "owner_uid", json_object_new_int64(s->st.owner));
	add(c, "owner", named ? jstr(name, sizeof name) : NULL);
	add(c, "owner_not_publisher",
	    differs < 0 ? NULL : json_object_new_boolean(differs));
}

/* --status adds the geometry, the counters and the consumers. */
static void detail(json_object *o, const struct sample *s,
		   const struct snapshot *prev)
{
	const struct mdbus_stats *st = &s->st;
	char layout[32];

	snprintf(layout, sizeof layout, "%" PRIu32 ".%" PRIu32,
		 st->layout_major, st->layout_minor);
	add(o, "layout", json_object_new_string(layout));
	add(o, "slots_per_block", json_object_new_int64(st->slots_per_block));
	add(o, "block_count", json_object_new_int64(st->block_count));
	add_u64(o, "total_size", st->total_size);
	add_id(o, "epoch", st->epoch);
	add_id(o, "create_ns", st->create_ns);
	if (s->nctr < 0)
		add(o, "counters_error", jstr(s->ctr_why, sizeof s->ctr_why));
	else
		add(o, "counters", counters(s, prev));
	add(o, "consumers", s->table_err ? NULL : consumers(s, prev));
}

static json_object *channel(const struct mdsub_opts *o, const struct sample *s,
			    const struct snapshot *prev)
{
	const struct mdbus_stats *st = &s->st;
	json_object *c = json_object_new_object();

	add(c, "channel", jstr(s->name, sizeof s->name));
	add(c, "mode", json_object_new_string(mdbus_mode_name(st->mode)));
	add(c, "slot_size", json_object_new_int64(st->slot_size));
	add_u64(c, "capacity", st->capacity);
	add(c, "publisher", publisher(s));
	owner(c, s);
	add_count(c, "write_num", st->pub.write_num);
	add(c, "rate", jrate(rate_written(s, prev)));
	add(c, "consumers_in_use", s->table_err ? NULL :
				   json_object_new_int64(st->consumers));
	if (s->table_err)
		add(c, "consumers_error", jstr(s->table_why, sizeof s->table_why));
	add(c, "max_consumers", json_object_new_int64(st->max_consumers));
	if (o->mode != MODE_LIST)
		detail(c, s, prev);
	return c;
}

/* A channel that could not be read: its name and the reason. */
static json_object *unreadable(const struct sample *s)
{
	json_object *c = json_object_new_object();

	add(c, "channel", jstr(s->name, sizeof s->name));
	add(c, "error", jstr(s->why, sizeof s->why));
	return c;
}

static json_object *directory(const struct snapshot *cur)
{
	json_object *d = json_object_new_object();

	add(d, "path", jstr(cur->dir, 256));
	if (cur->dir_err) {
		add(d, "error", json_object_new_string(mdbus_strerror(cur->dir_err)));
		return d;
	}
	add_count(d, "files", cur->use.files);
	add_count(d, "bytes", cur->use.bytes);
	add_count(d, "fs_size", cur->use.fs_size);
	add_count(d, "fs_avail", cur->use.fs_avail);
	return d;
}

int status_json(const struct mdsub_opts *o, const struct snapshot *cur,
		const struct snapshot *prev)
{
	json_object *doc = json_object_new_object(), *a;
	const char *text;
	int err = 0;

	if (!doc)
		return -ENOMEM;
	a = json_object_new_array();
	for (size_t i = 0; i < cur->n; i++)
		json_object_array_add(a, cur->s[i].err ? unreadable(&cur->s[i]) :
				      channel(o, &cur->s[i], prev));
	add(doc, "channels", a);
	if (o->mode != MODE_LIST)
		add(doc, "directory", directory(cur));
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text)
		printf("%s\n", text);
	else
		err = -ENOMEM;
	json_object_put(doc);
	return err;
}
