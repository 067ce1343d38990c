/*
 * inspect.c - read-only views for tools: publisher liveness, a statistics
 * snapshot of a channel, its publisher's counters, the list of channels.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SEG_PREFIX "mdbus."

void seg_pub_info(const struct seg_header *h, struct mdbus_pub_info *info)
{
	/* Acquire pairs with the publisher's release stores of pub_state and
	 * pub_pid (pub.c announce()), which follow pub_start. */
	uint32_t st = atomic_load_explicit(&h->pub_state, memory_order_acquire);
	int32_t pid = atomic_load_explicit(&h->pub_pid, memory_order_acquire);
	uint64_t start = atomic_load_explicit(&h->pub_start, memory_order_relaxed);
	uint64_t hb = atomic_load_explicit(&h->heartbeat_ns, memory_order_relaxed);
	uint64_t now = clock_realtime_ns();

	memset(info, 0, sizeof(*info));
	info->pid = pid;
	info->write_num = atomic_load_explicit(&h->write_num, memory_order_acquire);
	info->heartbeat_age_ns = hb ? (int64_t)(now - hb) : -1;
	switch (st) {
	case SEG_PUB_ACTIVE:
		info->state = proc_alive(pid, start) ? MDBUS_PUB_ACTIVE : MDBUS_PUB_DEAD;
		break;
	case SEG_PUB_STOPPED:
		info->state = MDBUS_PUB_STOPPED;
		break;
	case SEG_PUB_REPLACED:
		info->state = MDBUS_PUB_REPLACED;
		break;
	default:
		info->state = MDBUS_PUB_NONE;
		break;
	}
}

static void channel_name(const struct seg_header *h, char *out)
{
	uint64_t words[MDBUS_CHANNEL_MAX / 8 + 1];
	size_t i;

	for (i = 0; i < sizeof(words) / 8; i++)
		words[i] = atomic_load_explicit(&h->channel[i], memory_order_relaxed);
	memcpy(out, words, MDBUS_CHANNEL_MAX);
	out[MDBUS_CHANNEL_MAX] = '\0';
}

static void fill_stats(const struct seg_map *m, struct mdbus_stats *st)
{
	const struct seg_header *h = m->hdr;

	memset(st, 0, sizeof(*st));
	channel_name(h, st->channel);
	st->layout_major = atomic_load_explicit(&h->version_major, memory_order_relaxed);
	st->layout_minor = atomic_load_explicit(&h->version_minor, memory_order_relaxed);
	st->slot_size = m->g.slot_size;
	st->slots_per_block = m->g.slots_per_block;
	st->block_count = m->g.block_count;
	st->max_consumers = m->g.max_consumers;
	st->capacity = m->g.capacity;
	st->total_size = m->g.total_size;
	st->mode = (enum mdbus_mode)m->g.mode;
	st->epoch = m->g.epoch;
	st->create_ns = atomic_load_explicit(&h->create_ns, memory_order_relaxed);
	st->owner = m->uid; /* fstat() of the descriptor mapped (seg_attach.c) */
	seg_pub_info(h, &st->pub);
}

static void fill_consumer(const struct seg_consumer *c, uint64_t w,
			  uint64_t write_num, struct mdbus_consumer_stat *out)
{
	memset(out, 0, sizeof(*out));
	cons_name(c, out->name);
	out->pid = cons_pid(w);
	out->alive = proc_alive(out->pid, cons_tag_start(
				atomic_load_explicit(&c->pid_start, memory_order_relaxed)));
	out->evicted = cons_state(w) == CONS_EVICTED;
	/* Acquire pairs with the reader's release store of its position. */
	out->position = atomic_load_explicit(&c->read_num, memory_order_acquire);
	out->lag = write_num > out->position ? write_num - out->position : 0;
	out->lost = atomic_load_explicit(&c->lost, memory_order_relaxed);
}

/*
 * Lists the segment's data mapping with the SIGBUS guard (table_guard.c)
 * while a tool reads it: the segment's owner may cut the file under a
 * listing of every channel (mdsub --list, --watch), which must not kill
 * the lister (doc/protocol.md, "Attaching"). Returns the slot, for
 * table_guard_end().
 */
static int guard_data(const struct seg_map *m)
{
	return table_guard_add(m->data_map, m->g.total_size);
}

MDBUS_EXPORT int mdbus_channel_stats(const char *channel, const char *dir,
			     struct mdbus_stats *st,
			     struct mdbus_consumer_stat *cons, size_t max)
{
	struct seg_map m;
	uint32_t i;
	int r, slot;

	err_clear();
	r = seg_attach(&m, channel, dir, NULL, SEG_ATTACH_RDONLY);
	if (r < 0)
		return r;
	slot = guard_data(&m);
	fill_stats(&m, st);
	/* A writer of the table (anyone in the channel's group) can spoil
	 * it; the segment's header, which only its owner writes, is shown
	 * all the same, so that monitoring is not blinded. */
	for (i = 0; m.table && i < m.g.max_consumers; i++) {
		const struct seg_consumer *c = &m.table[i];
		/* Acquire pairs with the release CAS that made it ACTIVE. */
		uint64_t w = atomic_load_explicit(&c->state, memory_order_acquire);

		if (cons_state(w) != CONS_ACTIVE && cons_state(w) != CONS_EVICTED)
			continue;
		if (cons && st->consumers < max)
			fill_consumer(c, w, st->pub.write_num, &cons[st->consumers]);
		st->consumers++;
	}
	r = table_guard_end(slot, channel, 0);
	if (r == 0 && !m.table)
		r = err_set(MDBUS_ETABLE, "channel %s: its consumer table file "
			    "is missing or spoiled (its publisher mends it on "
			    "its next heartbeat); consumers unknown", channel);
	/* Cut while the loop read it (after seg_table_open() checked its
	 * size and header): the entries past the cut read as the guard's
	 * zeros, free, and the count would be that of the part read. */
	if (r == 0 && table_guard_lost(m.guard)) {
		st->consumers = 0;
		r = err_set(MDBUS_ETABLE, "channel %s: its consumer table file "
			    "was truncated while it was read (its publisher "
			    "mends it on its next heartbeat); consumers "
			    "unknown", channel);
	}
	seg_unmap(&m);
	return r;
}

MDBUS_EXPORT int mdbus_channel_counters(const char *channel, const char *dir,
				       struct mdbus_counter *out, size_t max)
{
	struct seg_map m;
	int r, slot;

	err_clear();
	r = seg_attach(&m, channel, dir, NULL, SEG_ATTACH_RDONLY);
	if (r < 0)
		return r;
	slot = guard_data(&m);
	r = table_guard_end(slot, channel, counters_read(m.hdr, channel, out, max));
	seg_unmap(&m);
	return r;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the channel names in dir into a sorted array. */
static int collect(DIR *d, char ***names, size_t *count)
{
	struct dirent *e;
	size_t cap = 0;
	char **v = NULL, **nv;

	*count = 0;
	while ((e = readdir(d))) {
		const char *ch = e->d_name + strlen(SEG_PREFIX);

		if (strncmp(e->d_name, SEG_PREFIX, strlen(SEG_PREFIX)) ||
		    !mdbus_channel_valid(ch))
			continue;
		if (*count == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(v[*count] = strdup(ch)))
			goto oom;
		(*count)++;
	}
	if (*count)
		qsort(v, *count, sizeof(*v), by_name);
	*names = v;
	return 0;
oom:
	while (*count)
		free(v[--*count]);
	free(v);
	return err_set(-ENOMEM, "out of memory");
}

MDBUS_EXPORT int mdbus_list(const char *dir, int (*fn)(const char *, void *),
			    void *arg)
{
	const char *path = mdbus_segment_dir(dir);
	char **names = NULL;
	size_t i, n;
	DIR *d;
	int r;

	err_clear();
	d = opendir(path);
	if (!d)
		return err_set(-errno, "open directory %s: %s", path,
			       strerror(errno));
	r = collect(d, &names, &n);
	closedir(d);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		if (r == 0)
			r = fn(names[i], arg);
		free(names[i]);
	}
	free(names);
	return r;
}
