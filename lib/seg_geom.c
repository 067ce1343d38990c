/*
 * seg_geom.c - geometry: from the user's configuration and from a segment header,
 * validated against the file's real size (doc/protocol.md, "Segment layout").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "segment.h"

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static uint64_t round_page(uint64_t v)
{
	return (v + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

int seg_geom_make(struct seg_geom *g, uint32_t slot_size,
		  uint32_t slots_per_block, uint32_t block_count,
		  uint32_t max_consumers, uint32_t mode)
{
	uint64_t cap;

	memset(g, 0, sizeof(*g));
	if (!is_pow2(slot_size) || slot_size < SEG_SLOT_MIN ||
	    slot_size > SEG_SLOT_MAX)
		return err_set(-EINVAL,
			       "slot size %" PRIu32 " must be a power of two in [%u, %u]",
			       slot_size, SEG_SLOT_MIN, SEG_SLOT_MAX);
	if (!is_pow2(slots_per_block) || !is_pow2(block_count))
		return err_set(-EINVAL,
			       "slots per block (%" PRIu32 ") and block count (%" PRIu32 ") must be powers of two",
			       slots_per_block, block_count);
	cap = (uint64_t)slots_per_block * block_count;
	if (cap < 2 || cap > SEG_CAPACITY_MAX)
		return err_set(-EINVAL, "capacity %" PRIu64 " out of [2, 2^32]",
			       cap);
	if (max_consumers < 1 || max_consumers > SEG_CONSUMERS_MAX)
		return err_set(-EINVAL, "max consumers %" PRIu32 " out of [1, %u]",
			       max_consumers, SEG_CONSUMERS_MAX);
	if (mode != MDBUS_MODE_OVERWRITE && mode != MDBUS_MODE_LOSSLESS)
		return err_set(-EINVAL, "unknown mode %" PRIu32, mode);
	g->slot_size = slot_size;
	g->slots_per_block = slots_per_block;
	g->block_count = block_count;
	g->max_consumers = max_consumers;
	g->mode = mode;
	g->spb_shift = (uint32_t)__builtin_ctz(slots_per_block);
	g->slot_shift = (uint32_t)__builtin_ctz(slot_size / 8);
	g->payload_max = slot_size - MDBUS_SLOT_HEADER;
	g->capacity = cap;
	g->table_off = SEG_HEADER_SIZE;
	g->table_size = round_page(SEG_HEADER_SIZE +
				   (uint64_t)max_consumers * sizeof(struct seg_consumer));
	g->blocks_off = SEG_HEADER_SIZE;
	g->block_stride = round_page((uint64_t)slots_per_block * slot_size);
	g->contiguous = g->block_stride == (uint64_t)slots_per_block * slot_size;
	if (g->block_stride > SEG_TOTAL_MAX / block_count)
		return err_set(-EINVAL, "segment larger than 2^40 bytes");
	g->total_size = g->blocks_off + g->block_stride * block_count;
	if (g->total_size > SEG_TOTAL_MAX)
		return err_set(-EINVAL, "segment larger than 2^40 bytes");
	return 0;
}

int seg_geom_same(const struct seg_geom *a, const struct seg_geom *b)
{
	return a->slot_size == b->slot_size &&
	       a->slots_per_block == b->slots_per_block &&
	       a->block_count == b->block_count &&
	       a->max_consumers == b->max_consumers && a->mode == b->mode;
}

/* Whether the header's channel name (NUL-padded words) is `channel`. */
static int names_channel(const struct seg_header *h, const char *channel)
{
	uint64_t words[MDBUS_CHANNEL_MAX / 8 + 1];
	size_t i;

	for (i = 0; i < sizeof(words) / 8; i++)
		words[i] = atomic_load_explicit(&h->channel[i], memory_order_relaxed);
	return strncmp((const char *)words, channel, sizeof(words)) == 0;
}

/*
 * Reads the identity out of a mapped header and validates it against the
 * file's real size. The acquire load of magic pairs with the creator's
 * release store in header_init(): every identity field stored before it is
 * visible after it.
 */
int seg_geom_from_header(struct seg_geom *g, const struct seg_header *h,
			 uint64_t file_size, const char *channel)
{
	uint64_t magic = atomic_load_explicit(&h->magic, memory_order_acquire);
	uint32_t maj, min;
	int r;

	if (magic != SEG_MAGIC)
		return err_set(MDBUS_EBADMAGIC,
			       "channel %s: not an mdbus segment (magic %016" PRIx64 ")",
			       channel, magic);
	maj = atomic_load_explicit(&h->version_major, memory_order_relaxed);
	min = atomic_load_explicit(&h->version_minor, memory_order_relaxed);
	if (maj != MDBUS_LAYOUT_MAJOR)
		return err_set(MDBUS_EVERSION,
			       "channel %s: segment layout version %" PRIu32 ".%" PRIu32 ", this library reads %d.x",
			       channel, maj, min, MDBUS_LAYOUT_MAJOR);
	r = seg_geom_make(g,
			  atomic_load_explicit(&h->slot_size, memory_order_relaxed),
			  atomic_load_explicit(&h->slots_per_block, memory_order_relaxed),
			  atomic_load_explicit(&h->block_count, memory_order_relaxed),
			  atomic_load_explicit(&h->max_consumers, memory_order_relaxed),
			  atomic_load_explicit(&h->mode, memory_order_relaxed));
	if (r < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", mdbus_last_error());
		return err_set(MDBUS_ECORRUPT, "channel %s: absurd geometry: %s",
			       channel, why);
	}
	if (atomic_load_explicit(&h->header_size, memory_order_relaxed) != SEG_HEADER_SIZE ||
	    atomic_load_explicit(&h->table_size, memory_order_relaxed) != g->table_size ||
	    atomic_load_explicit(&h->blocks_off, memory_order_relaxed) != g->blocks_off ||
	    atomic_load_explicit(&h->total_size, memory_order_relaxed) != g->total_size)
		return err_set(MDBUS_ECORRUPT,
			       "channel %s: header offsets disagree with its geometry",
			       channel);
	if (g->total_size > file_size)
		return err_set(MDBUS_ECORRUPT,
			       "channel %s: truncated segment: needs %" PRIu64
			       " bytes, file has %" PRIu64 ": remove it (its "
			       "publisher makes it anew)",
			       channel, g->total_size, file_size);
	if (!names_channel(h, channel))
		return err_set(MDBUS_ECORRUPT, "channel %s: the segment under "
			       "this name was made for another channel "
			       "(renamed or linked here)", channel);
	g->epoch = atomic_load_explicit(&h->epoch, memory_order_relaxed);
	return 0;
}
