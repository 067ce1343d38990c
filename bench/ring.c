/*
 * ring.c - the reference: a minimal single-producer seqlock ring with
 * per-slot stamps and nothing else (no header validation, no liveness, no
 * registration beyond a counter, no blocking: readers spin). It has the
 * same geometry as the mdbus channels it is compared with (slot size,
 * BENCH_RING_SLOTS slots, payload copied as 64-bit atomic words).
 *
 * Slot: word 0 the stamp, the payload words after it. Stamps of message n:
 * 2n+1 while being written, 2n+2 when complete; a slot's stamp only grows.
 * Lossless: each reader release-stores its position after its copy; the
 * producer re-reads the positions only when its cached minimum says full.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

struct ring_pos {
	_Alignas(BENCH_LINE) _Atomic uint64_t pos;
};

struct ring_shared {
	/* Reader ids handed out: relaxed fetch-add by each reader before it
	 * release-increments ctl->subs_ready; the producer reads it after
	 * its acquire load of subs_ready, which orders the two. */
	_Alignas(BENCH_LINE) _Atomic uint32_t nsubs;
	/* Next sequence each reader will read (lossless only): release-stored
	 * by the reader after its copy, acquire-loaded by the producer. */
	struct ring_pos cons[BENCH_MAX_CONSUMERS];
	/* Slots follow, 64-byte aligned. */
};

struct ring_view {
	struct ring_shared *sh;
	_Atomic uint64_t *slots;
	uint64_t mask;   /* slots - 1 */
	uint32_t words;  /* 64-bit words per slot */
	int lossless;
	uint64_t n;      /* producer: next to write; reader: next to read */
	uint64_t gate;   /* producer: lowest reader position seen */
	uint32_t id;     /* reader: index into sh->cons */
};

static size_t ring_size(const struct bench_run *run)
{
	return sizeof(struct ring_shared) +
	       (size_t)BENCH_RING_SLOTS * run->cell.slot_size;
}

static int ring_setup(struct bench_run *run)
{
	void *p = mmap(NULL, ring_size(run), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED) {
		bench_fail("ring mmap", -errno);
		return -1;
	}
	run->tp_state = p;
	return 0;
}

static void ring_teardown(struct bench_run *run)
{
	munmap(run->tp_state, ring_size(run));
	run->tp_state = NULL;
}

static int ring_view_open(struct bench_run *run, void **out)
{
	struct ring_view *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->sh = run->tp_state;
	v->slots = (_Atomic uint64_t *)(v->sh + 1);
	v->mask = BENCH_RING_SLOTS - 1;
	v->words = run->cell.slot_size / 8;
	v->lossless = run->cell.mode == BENCH_LOSSLESS;
	*out = v;
	return 0;
}

static void ring_view_close(void *h)
{
	free(h);
}

static _Atomic uint64_t *ring_slot(const struct ring_view *v, uint64_t n)
{
	return v->slots + (n & v->mask) * v->words;
}

/* Lossless slow path: 1 when message n would overwrite an unread slot. */
static int ring_full(struct ring_view *p, uint64_t n)
{
	/* Relaxed: see ring_shared.nsubs. */
	uint32_t i, subs = atomic_load_explicit(&p->sh->nsubs, memory_order_relaxed);
	uint64_t low = n, pos;

	for (i = 0; i < subs && i < BENCH_MAX_CONSUMERS; i++) {
		/* Acquire: pairs with the reader's release store after its
		 * copy, so the slot it left may be overwritten. */
		pos = atomic_load_explicit(&p->sh->cons[i].pos, memory_order_acquire);
		if (pos < low)
			low = pos;
	}
	p->gate = low;
	return n - low > p->mask;
}

static int ring_publish(void *h, const void *data, size_t size)
{
	struct ring_view *p = h;
	const unsigned char *src = data;
	uint64_t n = p->n, w;
	_Atomic uint64_t *slot = ring_slot(p, n);
	size_t i, words = size / 8;

	if (p->lossless && n - p->gate > p->mask && ring_full(p, n))
		return -EAGAIN;
	if (words >= p->words)
		return -EMSGSIZE;
	/* Relaxed: the fence below orders it before the payload. */
	atomic_store_explicit(&slot[0], 2 * n + 1, memory_order_relaxed);
	/* Orders the odd stamp before the payload stores; pairs with the
	 * reader's acquire fence before its stamp re-check. */
	atomic_thread_fence(memory_order_release);
	for (i = 0; i < words; i++) {
		memcpy(&w, src + i * 8, 8);
		/* Relaxed: published by the release store of the stamp. */
		atomic_store_explicit(&slot[1 + i], w, memory_order_relaxed);
	}
	/* Pairs with the reader's acquire load of the stamp. */
	atomic_store_explicit(&slot[0], 2 * n + 2, memory_order_release);
	p->n = n + 1;
	return 0;
}

static int ring_sub_open(struct bench_run *run, void **out)
{
	struct ring_view *v;
	int r = ring_view_open(run, out);

	if (r < 0)
		return r;
	v = *out;
	/* Relaxed: see ring_shared.nsubs. */
	v->id = atomic_fetch_add_explicit(&v->sh->nsubs, 1, memory_order_relaxed);
	return v->id < BENCH_MAX_CONSUMERS ? 0 : -ENOSPC;
}

/* Copies the payload of the slot stamped `stamp`; 1 if still intact. */
static int ring_copy(const _Atomic uint64_t *slot, void *buf, size_t words,
		     uint64_t stamp)
{
	unsigned char *dst = buf;
	uint64_t w;
	size_t i;

	for (i = 0; i < words; i++) {
		/* Relaxed: after the caller's acquire load of the stamp, and
		 * checked by the re-read below. */
		w = atomic_load_explicit(&slot[1 + i], memory_order_relaxed);
		memcpy(dst + i * 8, &w, 8);
	}
	/* Orders the copy before the re-check; pairs with the producer's
	 * release fence after its odd stamp: if any word came from a later
	 * writer, the re-read sees that writer's odd stamp (or later). */
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&slot[0], memory_order_relaxed) == stamp;
}

/* Lapped by the message whose stamp is `stamp`: jumps to the oldest
 * message that may still be intact; returns how many were skipped. */
static uint64_t ring_skip(struct ring_view *s, uint64_t stamp)
{
	uint64_t newest = (stamp - 1) / 2, next = newest - s->mask, lost;

	lost = next - s->n;
	s->n = next;
	return lost;
}

static int ring_read(void *h, void *buf, size_t len, struct bench_rx *rx)
{
	struct ring_view *s = h;
	size_t words = len / 8 < s->words - 1 ? len / 8 : s->words - 1;
	uint64_t lost = 0, want, stamp;
	const _Atomic uint64_t *slot;

	for (;;) {
		slot = ring_slot(s, s->n);
		want = 2 * s->n + 2;
		/* Pairs with the producer's release store of 2n+2. */
		stamp = atomic_load_explicit(&slot[0], memory_order_acquire);
		if (stamp > want)
			lost += ring_skip(s, stamp);
		else if (stamp == want && ring_copy(slot, buf, words, stamp))
			break;
	}
	rx->seq = s->n;
	rx->lost = lost;
	rx->payload = buf;
	s->n++;
	/* Release: pairs with the producer's acquire load in ring_full(). */
	if (s->lossless)
		atomic_store_explicit(&s->sh->cons[s->id].pos, s->n,
				      memory_order_release);
	return 0;
}

static int ring_consume(void *h, struct bench_sink *k)
{
	struct bench_rx rx;

	do
		(void)ring_read(h, k->buf, k->len, &rx);
	while (!bench_take(k, rx.seq, rx.lost, rx.payload));
	return 0;
}

/*
 * ring-lines: target 4's floor. Its reader waits for each slot's complete
 * stamp and takes nothing else (no copy, no re-check, no bench_take()):
 * what pulling one line a message, written by the producer's CPU, costs
 * the reader on this machine, against which a catch-up's own work per
 * message shows (summary.c). A stamp past the one wanted (lapped) ends
 * the wait too: a catch-up run that laps reports its loss elsewhere.
 */
static int ring_touch(void *h, struct bench_sink *k)
{
	struct ring_view *s = h;

	for (; s->n <= k->last; s->n++) {
		const _Atomic uint64_t *slot = ring_slot(s, s->n);

		/* Pairs with the producer's release store of 2n+2. */
		while (atomic_load_explicit(&slot[0], memory_order_acquire) <
		       2 * s->n + 2)
			;
	}
	return 0;
}

/*
 * ring-work: target 4's ceiling. Its reader waits for each slot's complete
 * stamp, as ring-lines does, then does the bench's own work with the
 * message in place: the one copy of its payload and bench_take() (no
 * re-check, no lap check: not a safe reader, a bound). No reader that
 * hands each message to the bench's consumer catches up faster here,
 * whatever its interface (summary.c).
 */
static int ring_work(void *h, struct bench_sink *k)
{
	struct ring_view *s = h;
	size_t words = k->len / 8 < s->words - 1 ? k->len / 8 : s->words - 1;

	for (;; s->n++) {
		const _Atomic uint64_t *slot = ring_slot(s, s->n);
		uint64_t *dst = k->buf;
		size_t i;

		/* Pairs with the producer's release store of 2n+2. */
		while (atomic_load_explicit(&slot[0], memory_order_acquire) <
		       2 * s->n + 2)
			;
		for (i = 0; i < words; i++)
			/* Relaxed: after the acquire load of the stamp. */
			dst[i] = atomic_load_explicit(&slot[1 + i],
						      memory_order_relaxed);
		if (bench_take(k, s->n, 0, k->buf)) {
			s->n++;
			return 0;
		}
	}
}

/*
 * ring-slow: the ring with steps of dependent arithmetic (as many as
 * bench_ring_pad() set) after each publish, the message already public,
 * so that its producer costs what another's does (summary.c sets them
 * between runs, in the coordinator, before the fork). It tells what the
 * producer's speed alone does to the delivered rate with a spinning
 * reader.
 */
static unsigned ring_pad_steps;

void bench_ring_pad(unsigned steps)
{
	ring_pad_steps = steps;
}

static void ring_pad(unsigned steps)
{
	uint64_t x = steps;

	while (steps--) {
		x = x * 3 + 1;
		__asm__ __volatile__("" : "+r"(x)); /* kept, and in order */
	}
}

static int ring_publish_slow(void *h, const void *data, size_t size)
{
	int r = ring_publish(h, data, size);

	ring_pad(ring_pad_steps);
	return r;
}

static int ring_pub_open(struct bench_run *run, void **out)
{
	return ring_view_open(run, out);
}

static uint32_t ring_page_offset(const struct bench_run *run, uint64_t seq)
{
	size_t at = sizeof(struct ring_shared) +
		    (size_t)(seq & (BENCH_RING_SLOTS - 1)) * run->cell.slot_size;

	return (uint32_t)(at % BENCH_PAGE); /* the mapping starts a page */
}

/* The transports differ in name, publish and consume only. */
#define RING_TRANSPORT(NAME, PUBLISH, CONSUME) {			\
	.name = NAME,							\
	.setup = ring_setup,						\
	.teardown = ring_teardown,					\
	.pub_open = ring_pub_open,					\
	.publish = PUBLISH,						\
	.pub_close = ring_view_close,					\
	.sub_open = ring_sub_open,					\
	.sub_consume = CONSUME,						\
	.sub_read = ring_read,						\
	.sub_close = ring_view_close,					\
	.page_offset = ring_page_offset,				\
}

const struct bench_transport bench_ring_transport =
	RING_TRANSPORT("ring", ring_publish, ring_consume);
const struct bench_transport bench_ring_slow_transport =
	RING_TRANSPORT("ring-slow", ring_publish_slow, ring_consume);
const struct bench_transport bench_ring_lines_transport =
	RING_TRANSPORT("ring-lines", ring_publish, ring_touch);
const struct bench_transport bench_ring_work_transport =
	RING_TRANSPORT("ring-work", ring_publish, ring_work);
