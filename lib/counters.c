/*
 * counters.c - the publisher's counters in the segment header
 * (doc/protocol.md, "Counters"): defined and updated by the publisher,
 * copied out by tools as a seqlock over the table's `defs` word.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* A reader that keeps finding the table redefined under it gives up
 * after this many copies (a publisher redefines it once per open). */
#define READ_TRIES 1000

static int label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static int label_valid(const char *label)
{
	size_t n = label ? strlen(label) : 0;

	if (n < 1 || n > MDBUS_COUNTER_LABEL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!label_char(label[i]))
			return 0;
	return 1;
}

static void meta_label(const struct seg_counter_meta *mt, char *out)
{
	uint32_t words[SEG_COUNTER_LABEL / 4];

	for (size_t i = 0; i < SEG_COUNTER_LABEL / 4; i++)
		words[i] = atomic_load_explicit(&mt->label[i], memory_order_relaxed);
	memcpy(out, words, MDBUS_COUNTER_LABEL_MAX);
	out[MDBUS_COUNTER_LABEL_MAX] = '\0'; /* whatever the segment says */
}

void counters_reset(struct seg_header *h)
{
	struct seg_counters *c = &h->counters;
	uint64_t d = atomic_load_explicit(&c->defs, memory_order_relaxed);

	/* Count 0 and a new change count first, then a release fence before
	 * the entries change: a reader that copied any of the new words sees
	 * the new defs on its re-check (fence-fence, as publishing step 1). */
	atomic_store_explicit(&c->defs, (defs_change(d) + 1) << 32,
			      memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (uint32_t i = 0; i < SEG_COUNTERS_MAX; i++) {
		atomic_store_explicit(&c->value[i], 0, memory_order_relaxed);
		atomic_store_explicit(&c->meta[i].kind, 0, memory_order_relaxed);
		for (size_t w = 0; w < SEG_COUNTER_LABEL / 4; w++)
			atomic_store_explicit(&c->meta[i].label[w], 0,
					      memory_order_relaxed);
	}
}

int counters_define(struct seg_header *h, const char *label,
		    enum mdbus_counter_kind kind)
{
	struct seg_counters *c = &h->counters;
	uint64_t d = atomic_load_explicit(&c->defs, memory_order_relaxed);
	uint32_t n = defs_count(d), words[SEG_COUNTER_LABEL / 4] = {0};
	char have[MDBUS_COUNTER_LABEL_MAX + 1];

	if (!label_valid(label) ||
	    (kind != MDBUS_COUNTER_TOTAL && kind != MDBUS_COUNTER_GAUGE))
		return -EINVAL;
	for (uint32_t i = 0; i < n && i < SEG_COUNTERS_MAX; i++) {
		meta_label(&c->meta[i], have);
		if (strcmp(have, label) == 0)
			return -EEXIST;
	}
	if (n >= SEG_COUNTERS_MAX)
		return -ENOSPC;
	memcpy(words, label, strlen(label));
	atomic_store_explicit(&c->value[n], 0, memory_order_relaxed);
	atomic_store_explicit(&c->meta[n].kind, (uint32_t)kind, memory_order_relaxed);
	for (size_t w = 0; w < SEG_COUNTER_LABEL / 4; w++)
		atomic_store_explicit(&c->meta[n].label[w], words[w],
				      memory_order_relaxed);
	/* Release: pairs with the reader's acquire load of defs, which then
	 * sees the entry written above. */
	atomic_store_explicit(&c->defs, d + 1, memory_order_release);
	return (int)n;
}

/* One copy of the table; 1 when defs changed meanwhile (copy again). */
static int copy_once(const struct seg_counters *c, struct mdbus_counter *out,
		     size_t max, uint32_t *count)
{
	/* Acquire: pairs with counters_define()'s release store. */
	uint64_t d = atomic_load_explicit(&c->defs, memory_order_acquire);
	uint32_t n = defs_count(d);

	*count = n;
	if (n > SEG_COUNTERS_MAX)
		return 0; /* absurd: the caller says so */
	for (uint32_t i = 0; i < n && i < max; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		meta_label(&c->meta[i], out[i].label);
		out[i].kind = (enum mdbus_counter_kind)atomic_load_explicit(
			&c->meta[i].kind, memory_order_relaxed);
		out[i].id = i;
		out[i].value = atomic_load_explicit(&c->value[i],
						    memory_order_relaxed);
	}
	/* Pairs with counters_reset()'s release fence: a copy that read a
	 * word it wrote sees its new defs here. */
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&c->defs, memory_order_relaxed) != d;
}

int counters_read(const struct seg_header *h, const char *channel,
		  struct mdbus_counter *out, size_t max)
{
	uint32_t n = 0;
	int tries = 0;

	while (copy_once(&h->counters, out, max, &n))
		if (++tries == READ_TRIES)
			return err_set(-EAGAIN, "channel %s: its counters were "
				       "redefined throughout %d reads", channel,
				       READ_TRIES);
	if (n > SEG_COUNTERS_MAX)
		return err_set(MDBUS_ECORRUPT, "channel %s: its segment claims "
			       "%u counters, at most %u exist", channel,
			       (unsigned)n, SEG_COUNTERS_MAX);
	for (uint32_t i = 0; i < n && i < max; i++)
		if (out[i].kind != MDBUS_COUNTER_TOTAL &&
		    out[i].kind != MDBUS_COUNTER_GAUGE)
			return err_set(MDBUS_ECORRUPT, "channel %s: counter %u "
				       "has an unknown kind %u", channel,
				       (unsigned)i, (unsigned)out[i].kind);
	return (int)n;
}

MDBUS_EXPORT int mdbus_pub_counter_new(mdbus_pub_t *pub, const char *label,
				       enum mdbus_counter_kind kind)
{
	return counters_define(pub_header(pub), label, kind);
}

MDBUS_EXPORT void mdbus_pub_counter_set(mdbus_pub_t *pub, int id,
					uint64_t value)
{
	if (id < 0 || id >= (int)SEG_COUNTERS_MAX)
		return;
	/* Relaxed: statistics; readers load it relaxed. */
	atomic_store_explicit(&pub_header(pub)->counters.value[id], value,
			      memory_order_relaxed);
}

MDBUS_EXPORT void mdbus_pub_counter_add(mdbus_pub_t *pub, int id,
					uint64_t delta)
{
	_Atomic uint64_t *v;

	if (id < 0 || id >= (int)SEG_COUNTERS_MAX)
		return;
	v = &pub_header(pub)->counters.value[id];
	/* One writer per counter: load and store, no locked instruction.
	 * Relaxed: readers load it relaxed. */
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) +
			      delta, memory_order_relaxed);
}

MDBUS_EXPORT uint64_t mdbus_pub_counter_get(const mdbus_pub_t *pub, int id)
{
	const struct seg_counters *c = &pub_header(pub)->counters;

	/* Relaxed: the defining thread wrote defs; a value is a statistic. */
	if (id < 0 || id >= (int)SEG_COUNTERS_MAX ||
	    (uint32_t)id >= defs_count(atomic_load_explicit(
			&c->defs, memory_order_relaxed)))
		return 0;
	return atomic_load_explicit(&c->value[id], memory_order_relaxed);
}

MDBUS_EXPORT int mdbus_sub_counters(const mdbus_sub_t *sub,
				    struct mdbus_counter *out, size_t max)
{
	err_clear();
	return counters_read(sub_header(sub), sub_channel(sub), out, max);
}
