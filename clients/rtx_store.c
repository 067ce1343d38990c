/*
 * rtx_store.c - the recent messages a re-request server answers from
 * (retransmit.h): a ring of message blocks as they were sent (the bus
 * message with its 12-byte header, doc/protocol.md "UDP framing") and a
 * ring of index entries, one per message, in increasing number order.
 * Numbers may skip (a forwarder numbers with its ring sequence, which
 * filters and reader loss leave holes in): a lookup is a binary search.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "retransmit.h"

struct entry {
	uint64_t num;  /* MoldUDP64 message number */
	uint64_t off;  /* of its bytes, counted since the store began */
	uint32_t len;
};

struct rtx_store {
	struct entry *idx;   /* idx[i % depth] for i in [tail, head) */
	uint64_t depth, head, tail;
	unsigned char *bytes;
	uint64_t cap;        /* bytes of the ring */
	uint64_t wpos;       /* bytes written since the store began */
};

int rtx_store_new(struct rtx_store **out, uint64_t depth, uint64_t bytes)
{
	struct rtx_store *s;

	if (!depth || bytes < MOLD_BLOCK_MAX || depth > SIZE_MAX / sizeof *s->idx)
		return -EINVAL;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->idx = malloc(depth * sizeof *s->idx);
	s->bytes = malloc(bytes);
	if (!s->idx || !s->bytes) {
		rtx_store_free(s);
		return -ENOMEM;
	}
	s->depth = depth;
	s->cap = bytes;
	*out = s;
	return 0;
}

void rtx_store_free(struct rtx_store *s)
{
	if (!s)
		return;
	free(s->idx);
	free(s->bytes);
	free(s);
}

void rtx_store_clear(struct rtx_store *s)
{
	s->tail = s->head;
}

static struct entry *entry(const struct rtx_store *s, uint64_t i)
{
	return &s->idx[i % s->depth];
}

/* Where the ring byte at absolute offset off is, and how many bytes
 * follow it before the ring wraps (at most len). */
static size_t ring_at(const struct rtx_store *s, uint64_t off, size_t len,
		      size_t *first)
{
	size_t at = (size_t)(off % s->cap);

	*first = s->cap - at < len ? s->cap - at : len;
	return at;
}

static void ring_write(struct rtx_store *s, uint64_t off,
		       const unsigned char *in, size_t len)
{
	size_t first, at = ring_at(s, off, len, &first);

	memcpy(s->bytes + at, in, first);
	memcpy(s->bytes, in + first, len - first);
}

static void ring_read(const struct rtx_store *s, uint64_t off,
		      unsigned char *out, size_t len)
{
	size_t first, at = ring_at(s, off, len, &first);

	memcpy(out, s->bytes + at, first);
	memcpy(out + first, s->bytes, len - first);
}

static void keep_one(struct rtx_store *s, uint64_t num,
		     const unsigned char *data, size_t len)
{
	if (s->head > s->tail && num <= entry(s, s->head - 1)->num)
		return;
	while (s->head > s->tail &&
	       (s->head - s->tail == s->depth ||
		entry(s, s->tail)->off + s->cap < s->wpos + len))
		s->tail++;
	ring_write(s, s->wpos, data, len);
	*entry(s, s->head++) = (struct entry){num, s->wpos, (uint32_t)len};
	s->wpos += len;
}

void rtx_store_packet(struct rtx_store *s, const unsigned char *pkt,
		      size_t len)
{
	struct mold_reader r;
	struct mold_header h;
	const unsigned char *data;
	size_t n;
	uint64_t num;

	if (mold_reader_init(&r, pkt, len, &h) < 0)
		return;
	while (mold_next(&r, &data, &n, &num) > 0)
		keep_one(s, num, data, n);
}

/* The index of the entry numbered num, or s->head. */
static uint64_t find(const struct rtx_store *s, uint64_t num)
{
	uint64_t lo = s->tail, hi = s->head;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (entry(s, mid)->num < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->head && entry(s, lo)->num == num ? lo : s->head;
}

unsigned rtx_store_answer(const struct rtx_store *s, uint64_t seq,
			  unsigned count, struct mold_writer *w)
{
	unsigned char block[MOLD_BLOCK_MAX];
	unsigned n = 0;

	for (uint64_t i = find(s, seq); i < s->head && n < count; i++, n++) {
		const struct entry *e = entry(s, i);

		if (e->num != seq + n || MOLD_BLOCK_LEN + e->len > w->cap - w->len)
			break;
		ring_read(s, e->off, block, e->len);
		mold_append(w, block, e->len);
	}
	return n;
}
