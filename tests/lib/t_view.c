/*
 * t_view.c - mdbus_sub_peek(), mdbus_view_msg(), mdbus_sub_release():
 * messages read in place in views, checked once per view.
 *
 * Overwrite mode: a publisher process sends N self-verifying messages
 * (one every 100 ns at most) into a 64-slot ring while the reader takes
 * views of up to 16, reads every message of each (up to where
 * mdbus_view_msg() ends the view), and every 20th view dawdles 20 us
 * before its reads or before its release, so the producer overwrites
 * slots under it. Each release says how many of the view's first
 * messages were overwritten: every message read torn must be among them
 * (never one after them: a producer overwrites in order), and every
 * sequence number is accounted for exactly once: kept, reported torn, or
 * counted in msg.lost, in order. Lossless mode: nothing torn or lost,
 * every payload right. Each with blocks of 16 slots (a view ends at a
 * block's end) and one block of 64 (a whole page: a view ends at the
 * ring's end), and again with a publisher that skips 1 to 100 numbers
 * every 500 messages (a skip's markers are stamps over old words: never
 * handed over; in lossless mode exactly the skipped numbers are lost).
 *
 * Then exact cases in one process: views cut by max, by a block's end
 * and by the ring's end, given again until released, released in part;
 * the first 3 of a view of 10 overwritten while held (release says 3,
 * mdbus_sub_lost() and the entry's lost 3, no loss event, the position
 * and the entry's read_num past the view); a lap met by a peek (a copied
 * view of one message, carrying the loss, given again until released,
 * taken by the peek); a skip inside a view that reaches the write count
 * (mdbus_view_msg() ends it at the first skipped slot), and an odd
 * size met the same way (counted lost by the next peek); a reopen onto
 * larger slots; lossless positions; every misuse -EINVAL (a view
 * released twice, too far, after a read or a reopen).
 */
#include <errno.h>
#include <string.h>

#include "mdbus.h"
#include "layout.h"
#include "testutil.h"

#define N 30000u
#define PMAX 40
#define VIEW_MAX 16

struct shared {
	_Atomic uint32_t ready;
};

static struct shared *sh;
static uint32_t spb; /* slots per block: 16 (4 blocks) or 64 (1) */
static int skips;    /* the publisher skips numbers (skip_at()) */

#define SKIP_EVERY 500
#define PACE_NS 100 /* the publisher's: a reader that keeps up between
		     * its dawdles, which the producer then overruns */

/* Numbers the publisher skips at message i: 1 to 100 at each multiple of
 * SKIP_EVERY (some more than the ring: markers in every slot), so that
 * views meet markers under a write count past them. */
static uint64_t skip_at(uint64_t i)
{
	return i && i % SKIP_EVERY == 0 ? 1 + i / SKIP_EVERY % 100 : 0;
}

/* What the publisher skips in all, of N numbers. */
static uint64_t skipped(void)
{
	uint64_t i, k, all = 0;

	for (i = SKIP_EVERY; i < N; i += SKIP_EVERY) {
		k = skip_at(i);
		all += k < N - i ? k : N - i;
	}
	return all;
}

static struct mdbus_pub_config config(enum mdbus_mode mode)
{
	return tu_config(64, spb, 64 / spb, mode);
}

/* view.ow16, view.ll64, ... */
static const char *channel(enum mdbus_mode mode)
{
	static char name[16];

	snprintf(name, sizeof(name), "view.%s%u%s", mode ? "ll" : "ow", spb,
		 skips ? "s" : "");
	return name;
}

static int publisher(void *arg)
{
	enum mdbus_mode mode = (enum mdbus_mode)(intptr_t)arg;
	struct mdbus_pub_config c = config(mode);

	tu_publish_flood(channel(mode), &c, &sh->ready, N, PMAX, PACE_NS,
			 skips ? skip_at : NULL);
	return 0;
}

/* A pause without a syscall: the producer runs on meanwhile. */
static void spin_us(unsigned us)
{
	uint64_t end = tu_now_ns() + us * 1000ULL;

	while (tu_now_ns() < end)
		;
}

struct tally {
	uint64_t next; /* the sequence expected next */
	uint64_t kept, torn, lost, views;
};

/* One view: every message read and checked, then released; `dawdle` 1
 * pauses before the reads, 2 before the release. */
static void take_view(mdbus_sub_t *s, struct tally *t, int dawdle)
{
	unsigned char copy[VIEW_MAX][PMAX];
	const char *bad[VIEW_MAX];
	struct mdbus_view v;
	struct mdbus_msg m;
	unsigned i, used;
	int r = mdbus_sub_peek(s, &v, VIEW_MAX), torn;

	if (r < 0)
		tu_fail("mdbus_sub_peek: %s", mdbus_strerror(r));
	if (r == 0)
		return;
	TU_CHECK(r <= VIEW_MAX && (unsigned)r == v.count);
	if (v.seq != t->next + v.lost) /* a view cut at 0 said it before */
		tu_fail("view at %llu after %llu with %llu lost",
			(unsigned long long)v.seq, (unsigned long long)t->next,
			(unsigned long long)v.lost);
	if (dawdle == 1)
		spin_us(20);
	for (i = 0; i < v.count; i++) {
		const void *payload = mdbus_view_msg(&v, i, &m);

		if (!payload) /* skipped numbers, or overwritten already */
			break;
		TU_CHECK_EQ(m.seq, v.seq + i);
		TU_CHECK_EQ(m.lost, i ? 0 : v.lost);
		TU_CHECK(m.size <= PMAX);
		memcpy(copy[i], payload, m.size);
		bad[i] = tu_msg_bad(&m, copy[i], 0, PMAX);
	}
	if (dawdle == 2)
		spin_us(20);
	used = i;
	torn = mdbus_sub_release(s, &v, used);
	if (torn < 0 || (unsigned)torn > used)
		tu_fail("mdbus_sub_release: %d", torn);
	for (i = (unsigned)torn; i < used; i++)
		if (bad[i])
			tu_fail("not reported torn (%d of %u were): %s", torn,
				used, bad[i]);
	TU_CHECK_EQ(mdbus_sub_position(s), v.seq + used);
	t->kept += used - (unsigned)torn;
	t->torn += (unsigned)torn;
	t->lost += used ? v.lost : 0; /* else the next view reports it */
	t->next = v.seq + used;
	t->views++;
}

static void run(enum mdbus_mode mode)
{
	const char *ch = channel(mode);
	struct mdbus_pub_config c = config(mode);
	struct tally t = { 0 };
	mdbus_sub_t *s;
	pid_t kid;

	mdbus_pub_close(tu_pub_open(ch, &c)); /* exists before the reader */
	atomic_store(&sh->ready, 0);
	kid = tu_spawn(publisher, (void *)(intptr_t)mode);
	tu_await(&sh->ready, 1, 30, "publisher");
	s = tu_sub_open(ch, "viewer", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	t.next = mdbus_sub_position(s);
	atomic_store(&sh->ready, 2);
	while (t.next < N)
		take_view(s, &t, mode == MDBUS_MODE_LOSSLESS || t.views % 20 ? 0 :
				 t.views % 40 ? 1 : 2);
	TU_CHECK_EQ(t.next, N);
	TU_CHECK_EQ(t.kept + t.torn + t.lost, N);
	TU_CHECK_EQ(mdbus_sub_lost(s), t.torn + t.lost);
	if (mode == MDBUS_MODE_LOSSLESS) /* the skipped numbers only */
		TU_CHECK_EQ(t.torn + t.lost, skips ? skipped() : 0);
	else
		TU_CHECK(t.torn + t.lost > 0); /* the dawdling was overrun */
	tu_note("%s: %llu kept, %llu torn, %llu lost, %llu views", ch,
		(unsigned long long)t.kept, (unsigned long long)t.torn,
		(unsigned long long)t.lost, (unsigned long long)t.views);
	tu_wait_ok(kid, 60, "publisher");
	mdbus_sub_close(s);
}

/* ------------------------------------------ exact, in one process */

struct exact {
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	const struct seg_consumer *e; /* the reader's entry */
	uint64_t w;                   /* published so far */
	const char *slot0;            /* slot 0 in the reader's mapping */
};

/* Where message seq's slot is in the reader's mapping: blocks of spb
 * 64-byte slots, each block page aligned. */
static const char *slot_at(const struct exact *x, uint64_t seq)
{
	uint64_t slot = seq % 64;

	return x->slot0 + slot / spb * 4096 + slot % spb * 64;
}

static void pub_to(struct exact *x, uint64_t to)
{
	unsigned char buf[PMAX];

	for (; x->w < to; x->w++)
		TU_CHECK_RC(tu_publish_seq(x->p, x->w, buf, 0, PMAX), 0);
}

/* A channel of 64 slots in blocks of spb, `first` messages published, a
 * reader registered at the oldest. */
static void exact_open(struct exact *x, const char *name, enum mdbus_mode mode,
		       uint64_t first)
{
	struct mdbus_pub_config c = config(mode);
	char ch[32];
	size_t len;
	void *tab;

	snprintf(ch, sizeof ch, "%s%u", name, spb);
	memset(x, 0, sizeof *x);
	x->p = tu_pub_open(ch, &c);
	pub_to(x, first);
	x->s = tu_sub_open(ch, "exact", MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	tab = tu_map_file(tu_table_path(ch), &len);
	for (unsigned i = 0; i < c.max_consumers && !x->e; i++)
		if (!strcmp((const char *)tu_entry(tab, i)->name, "exact"))
			x->e = tu_entry(tab, i);
	TU_CHECK(x->e != NULL); /* mapped until the test ends */
}

static void exact_close(struct exact *x)
{
	mdbus_sub_close(x->s);
	mdbus_pub_close(x->p);
}

/* A peek of up to max gives messages from..from + count - 1, the first
 * with `lost` lost, each whole; a copied view (not the ring's) when
 * `copied`. */
static void peeked(struct exact *x, struct mdbus_view *v, unsigned max,
		   uint64_t from, unsigned count, uint64_t lost, int copied)
{
	struct mdbus_msg m;
	const char *bad;

	TU_CHECK_RC(mdbus_sub_peek(x->s, v, max), (int)count);
	if (!x->slot0 && !copied && from == 0)
		x->slot0 = v->base;
	/* the ring's own slots, or the library's copy: nowhere in them */
	if (copied)
		TU_CHECK(count == 1 && ((const char *)v->base < x->slot0 ||
					(const char *)v->base >= slot_at(x, 63) + 64));
	else if (x->slot0)
		TU_CHECK((const char *)v->base == slot_at(x, from));
	TU_CHECK_EQ(v->seq, from);
	TU_CHECK_EQ(v->count, count);
	TU_CHECK_EQ(v->lost, lost);
	TU_CHECK_EQ(v->stride, 64);
	TU_CHECK_EQ(v->payload_max, 64 - MDBUS_SLOT_HEADER);
	for (unsigned i = 0; i < count; i++) {
		const void *payload = mdbus_view_msg(v, i, &m);

		TU_CHECK(payload != NULL);
		TU_CHECK_EQ(m.seq, from + i);
		TU_CHECK_EQ(m.lost, i ? 0 : lost);
		if ((bad = tu_msg_bad(&m, payload, 0, PMAX)))
			tu_fail("%s", bad);
	}
}

/* The reader's position, its entry's read_num, its losses. */
static void at(const struct exact *x, uint64_t pos, uint64_t lost,
	       uint64_t events)
{
	TU_CHECK_EQ(mdbus_sub_position(x->s), pos);
	TU_CHECK_EQ(atomic_load(&x->e->read_num), pos);
	TU_CHECK_EQ(mdbus_sub_lost(x->s), lost);
	TU_CHECK_EQ(atomic_load(&x->e->lost), lost);
	TU_CHECK_EQ(mdbus_sub_loss_events(x->s), events);
}

static void exact(void)
{
	unsigned char buf[PMAX];
	struct mdbus_view v, v2;
	struct mdbus_msg m;
	struct exact x;

	/* nothing there; max 0; release without a view */
	exact_open(&x, "vx.none", MDBUS_MODE_OVERWRITE, 0);
	TU_CHECK_RC(mdbus_sub_peek(x.s, &v, 16), 0);
	TU_CHECK_RC(mdbus_sub_peek(x.s, &v, 0), -EINVAL);
	memset(&v, 0, sizeof v);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 0), -EINVAL);
	exact_close(&x);

	/* 10 there: a view of 4 (max), given again until released, a
	 * second peek sees more; released in part, the rest again */
	exact_open(&x, "vx.part", MDBUS_MODE_OVERWRITE, 10);
	peeked(&x, &v, 4, 0, 4, 0, 0);
	peeked(&x, &v, 100, 0, 10, 0, 0);
	at(&x, 0, 0, 0);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 11), -EINVAL); /* > count */
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 0), 0);
	at(&x, 0, 0, 0);
	peeked(&x, &v, 100, 0, 10, 0, 0);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 4), 0);
	at(&x, 4, 0, 0);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 4), -EINVAL); /* released */
	peeked(&x, &v, 100, 4, 6, 0, 0);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 6), 0);
	at(&x, 10, 0, 0);
	TU_CHECK_RC(mdbus_sub_peek(x.s, &v, 100), 0);
	/* a read between the peek and the release: the view is stale */
	pub_to(&x, 12);
	peeked(&x, &v, 100, 10, 2, 0, 0);
	TU_CHECK_RC(mdbus_sub_try_read(x.s, buf, sizeof buf, &m), 0);
	TU_CHECK_EQ(m.seq, 10);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 1), -EINVAL);
	at(&x, 11, 0, 0);
	/* a reopen in the same segment keeps the position, not the view */
	peeked(&x, &v, 100, 11, 1, 0, 0);
	TU_CHECK_RC(mdbus_sub_reopen(x.s, MDBUS_START_LATEST, 0), 0);
	TU_CHECK_EQ(mdbus_sub_position(x.s), 11);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 1), -EINVAL);
	exact_close(&x);

	/* a view ends at its block's end (blocks of 16), else at the ring's
	 * (one block of 64): 70 published, the reader at 10 after its
	 * first view */
	exact_open(&x, "vx.end", MDBUS_MODE_OVERWRITE, 10);
	peeked(&x, &v, 100, 0, 10, 0, 0);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 10), 0);
	pub_to(&x, 70);
	for (uint64_t pos = 10; pos < 70;) {
		uint64_t end = (pos / spb + 1) * spb; /* a block's, the ring's */

		if (end > 70)
			end = 70;
		peeked(&x, &v, 100, pos, (unsigned)(end - pos), 0, 0);
		TU_CHECK_RC(mdbus_sub_release(x.s, &v, v.count), 0);
		pos = end;
	}
	at(&x, 70, 0, 0);
	exact_close(&x);

	/* the first 3 of a view of 10 overwritten while it is held (64 to
	 * 66 written over slots 0 to 2): release says 3, counted lost, no
	 * loss event, nothing in a next msg.lost; 3 to 9 were whole */
	exact_open(&x, "vx.torn", MDBUS_MODE_OVERWRITE, 10);
	peeked(&x, &v, 100, 0, 10, 0, 0);
	pub_to(&x, 67);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 10), 3);
	at(&x, 10, 3, 0);
	peeked(&x, &v, 100, 10, spb == 64 ? 54 : 6, 0, 0);
	exact_close(&x);

	/* the same, 5 overwritten, 3 used: 3 torn, the position at 3; the
	 * next peek meets 67 in slot 3 (lapped): a copied view of message
	 * 5 with 2 lost (slot 5 is the oldest whole one), given again until
	 * released */
	exact_open(&x, "vx.lap", MDBUS_MODE_OVERWRITE, 10);
	peeked(&x, &v, 100, 0, 10, 0, 0);
	pub_to(&x, 69);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 3), 3);
	at(&x, 3, 3, 0);
	peeked(&x, &v, 100, 5, 1, 2, 1);
	at(&x, 6, 5, 1); /* the copy is taken: the position past it */
	peeked(&x, &v2, 100, 5, 1, 2, 1);
	TU_CHECK(v2.base == v.base);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v2, 0), 0);
	peeked(&x, &v2, 100, 5, 1, 2, 1);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v2, 2), -EINVAL);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v2, 1), 0);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v2, 1), -EINVAL);
	/* 6 on: slots 5 to 63 hold their first messages still */
	peeked(&x, &v, 100, 6, spb == 64 ? 58 : 10, 0, 0);
	exact_close(&x);

	/* a copied view is taken by the peek: a read before its release
	 * goes on after it, nothing lost twice, the view then stale */
	exact_open(&x, "vx.taken", MDBUS_MODE_OVERWRITE, 10);
	pub_to(&x, 100);
	peeked(&x, &v, 100, 36, 1, 36, 1);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 0), 0);
	TU_CHECK_RC(mdbus_sub_try_read(x.s, buf, sizeof buf, &m), 0);
	TU_CHECK_EQ(m.seq, 37);
	TU_CHECK_EQ(m.lost, 0);
	at(&x, 38, 36, 1);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 1), -EINVAL);
	exact_close(&x);

	/* a copied view released with none, then a reopen in the same
	 * segment: the copy is still held, the next peek's (its message
	 * was taken by the peek: given up, it was neither read nor
	 * counted, and the next peek gave 37) */
	exact_open(&x, "vx.reopen", MDBUS_MODE_OVERWRITE, 10);
	pub_to(&x, 100);
	peeked(&x, &v, 100, 36, 1, 36, 1);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 0), 0);
	TU_CHECK_RC(mdbus_sub_reopen(x.s, MDBUS_START_LATEST, 0), 0);
	/* (a new consumer entry: x.e is the old one's) */
	TU_CHECK_EQ(mdbus_sub_position(x.s), 37);
	peeked(&x, &v, 100, 36, 1, 36, 1);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 1), 0);
	TU_CHECK_RC(mdbus_sub_try_read(x.s, buf, sizeof buf, &m), 0);
	TU_CHECK_EQ(m.seq, 37);
	TU_CHECK_EQ(m.lost, 0);
	TU_CHECK_EQ(mdbus_sub_position(x.s), 38);
	TU_CHECK_EQ(mdbus_sub_lost(x.s), 36);
	TU_CHECK_EQ(mdbus_sub_loss_events(x.s), 1);
	exact_close(&x);

	/* a reopen onto the channel made again with 256-byte slots: the
	 * next copied view (of a lap) holds a 232-byte message, in a buffer
	 * of the new size, not the one a 64-byte slot's copy had (ASan) */
	if (spb == 16) {
		struct mdbus_pub_config big = tu_config(256, 16, 4,
							MDBUS_MODE_OVERWRITE);
		unsigned char payload[256 - MDBUS_SLOT_HEADER];
		uint64_t n;

		exact_open(&x, "vx.grow", MDBUS_MODE_OVERWRITE, 10);
		pub_to(&x, 100);
		peeked(&x, &v, 100, 36, 1, 36, 1);
		TU_CHECK_RC(mdbus_sub_release(x.s, &v, 1), 0);
		mdbus_pub_close(x.p);
		big.flags |= MDBUS_PUB_REPLACE;
		x.p = tu_pub_open("vx.grow16", &big);
		TU_CHECK_RC(mdbus_sub_reopen(x.s, MDBUS_START_OLDEST, 0), 0);
		for (n = 0; n < 100; n++)
			TU_CHECK_RC(tu_publish_seq(x.p, n, payload, sizeof payload,
						   sizeof payload), 0);
		TU_CHECK_RC(mdbus_sub_peek(x.s, &v, 100), 1); /* lapped: a copy */
		TU_CHECK_EQ(v.seq, 36);
		TU_CHECK(mdbus_view_msg(&v, 0, &m) != NULL);
		TU_CHECK_EQ(m.size, sizeof payload);
		TU_CHECK(!tu_msg_bad(&m, mdbus_view_msg(&v, 0, &m), sizeof payload,
				     sizeof payload));
		exact_close(&x);
	}

	/* a size no producer of ours writes, in message 20 of a view of 40
	 * (past the 16 the peek finds by their stamps): the view ends
	 * there, and the next peek counts it lost, as a read does */
	if (spb == 64) {
		size_t seg_len;
		void *seg;
		_Atomic uint64_t *odd;

		exact_open(&x, "vx.odd", MDBUS_MODE_OVERWRITE, 40);
		seg = tu_map_file(tu_seg_path("vx.odd64"), &seg_len);
		odd = tu_slot(seg, 20);
		atomic_store(&odd[SLOT_W_META],
			     (atomic_load(&odd[SLOT_W_META]) & ~0xffffffffULL) |
			     0xffffffffULL);
		TU_CHECK_RC(mdbus_sub_peek(x.s, &v, 100), 40);
		for (unsigned i = 0; i < 20; i++)
			TU_CHECK(mdbus_view_msg(&v, i, &m) != NULL);
		TU_CHECK(mdbus_view_msg(&v, 20, &m) == NULL);
		TU_CHECK_RC(mdbus_sub_release(x.s, &v, 20), 0);
		TU_CHECK_RC(mdbus_sub_peek(x.s, &v, 100), 1); /* a copy */
		TU_CHECK_EQ(v.seq, 21);
		TU_CHECK_EQ(v.lost, 1);
		tu_unmap(seg, seg_len);
		exact_close(&x);
	}

	/* a skip inside a view (a ring of 1024): 70 messages, 5 skipped
	 * (their slots stamped, never written), 10 more: the view reaches
	 * the write count, 85, and mdbus_view_msg() ends it at the first
	 * skipped slot; the next peek counts the 5 lost (a copy of 75) */
	if (spb == 64) {
		struct mdbus_pub_config wide = tu_config(64, 1024, 1,
							 MDBUS_MODE_OVERWRITE);

		memset(&x, 0, sizeof x);
		x.p = tu_pub_open("vx.skip", &wide);
		pub_to(&x, 70);
		x.s = tu_sub_open("vx.skip", "exact", MDBUS_START_OLDEST, 0,
				  MDBUS_WAIT_SPIN);
		TU_CHECK_RC(mdbus_pub_skip(x.p, 5), 0);
		x.w = 75;
		pub_to(&x, 85);
		TU_CHECK_RC(mdbus_sub_peek(x.s, &v, 1000), 85);
		for (unsigned i = 0; i < 70; i++)
			TU_CHECK(mdbus_view_msg(&v, i, &m) != NULL);
		TU_CHECK(mdbus_view_msg(&v, 70, &m) == NULL); /* a marker */
		TU_CHECK_RC(mdbus_sub_release(x.s, &v, 70), 0);
		TU_CHECK_RC(mdbus_sub_peek(x.s, &v, 1000), 1);
		TU_CHECK_EQ(v.seq, 75);
		TU_CHECK_EQ(v.lost, 5);
		TU_CHECK_RC(mdbus_sub_release(x.s, &v, 1), 0);
		TU_CHECK_RC(mdbus_sub_peek(x.s, &v, 1000), 9);
		TU_CHECK_EQ(v.seq, 76);
		TU_CHECK_RC(mdbus_sub_release(x.s, &v, 9), 0);
		TU_CHECK_EQ(mdbus_sub_lost(x.s), 5);
		TU_CHECK_EQ(mdbus_sub_position(x.s), 85);
		exact_close(&x);
	}

	/* lossless: the entry's read_num moves at each release only */
	exact_open(&x, "vx.ll", MDBUS_MODE_LOSSLESS, 10);
	peeked(&x, &v, 100, 0, 10, 0, 0);
	at(&x, 0, 0, 0);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 7), 0);
	at(&x, 7, 0, 0);
	peeked(&x, &v, 100, 7, 3, 0, 0);
	TU_CHECK_RC(mdbus_sub_release(x.s, &v, 3), 0);
	at(&x, 10, 0, 0);
	exact_close(&x);
	tu_note("exact cases, blocks of %u slots: cuts, again, in part, torn, "
		"lapped, taken, %slossless, misuse", spb,
		spb == 16 ? "reopen onto larger slots, " : "odd size, skip, ");
}

int main(void)
{
	tu_init("t_view", 120);
	sh = tu_shared(sizeof *sh);
	for (spb = 16; spb <= 64; spb *= 4) {
		for (skips = 0; skips <= 1; skips++) {
			run(MDBUS_MODE_OVERWRITE);
			run(MDBUS_MODE_LOSSLESS);
		}
		exact();
	}
	return 0;
}
