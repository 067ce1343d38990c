/*
 * t_watch.c - what an adaptive reader's watch of a slot says (lib/wait.c
 * wait_watch()), linked statically to reach the internal function, and
 * that a spinning read with timeout 0 returns while the publisher holds
 * the slot at writing(pos) (an open claim).
 *
 * writing(pos) is complete(pos) + 1: a watch must not take it for "ready"
 * (then the reader would poll the line the producer is writing instead of
 * pausing); complete(pos) and any later stamp (lapped) are "look now";
 * an older stamp is "nothing yet".
 *
 * A spinning read waiting with a 10 s timeout (sub.c spin_read()) ends
 * with the reason when another process, 100 ms into the wait, rewrites
 * the reader's consumer entry (MDBUS_EEVICTED, a hostile table writer)
 * or marks the segment replaced (MDBUS_EREPLACED), within 5 s; and when
 * it writes into the awaited slot a complete message larger than the
 * reader's buffer (-EMSGSIZE with its size, the position kept: the look
 * that sees it complete hands it to the read with every check), or the
 * stamp of a number more than a ring past 2^62 (MDBUS_ECORRUPT,
 * doc/protocol.md "Skipping": a later stamp ends the looks).
 */
#include <errno.h>
#include <unistd.h>

#include "internal.h"
#include "layout.h"
#include "testutil.h"

#define POS 1000u
#define WORDS 32u /* a 256-byte slot */

#define BIG 100u /* a forged message's size: more than the reader's 64 */

/* What a forger() child does. */
enum forgery {
	FORGE_EVICT,    /* changes the reader's entry (the only one, 0) */
	FORGE_REPLACED, /* marks the segment replaced */
	FORGE_BIG,      /* message 0, complete, BIG bytes */
	FORGE_FAR,      /* in 0's slot, the stamp of a number more than a
			 * ring (128) past 2^62 */
};

/* The channel a forger() child acts on, and what it does. */
static const char *forge_ch;
static enum forgery forge_what;

/* 100 ms into the parent's wait, in the segment or the table. */
static int forger(void *arg)
{
	const char *path = forge_what == FORGE_EVICT ? tu_table_path(forge_ch)
						      : tu_seg_path(forge_ch);
	_Atomic uint64_t *slot;
	size_t len;
	void *map;

	(void)arg;
	tu_sleep_ms(100);
	map = tu_map_file(path, &len);
	slot = tu_slot(map, 0);
	switch (forge_what) {
	case FORGE_EVICT:
		atomic_fetch_add(&tu_entry(map, 0)->state, 1u << 8);
		break;
	case FORGE_REPLACED:
		atomic_store(&((struct seg_header *)map)->pub_state,
			     SEG_PUB_REPLACED);
		break;
	case FORGE_BIG:
		atomic_store(&slot[SLOT_W_META], BIG | (uint64_t)7 << 32);
		atomic_store(&slot[SLOT_W_STAMP], stamp_complete(0));
		break;
	case FORGE_FAR:
		atomic_store(&slot[SLOT_W_STAMP],
			     stamp_complete((1ULL << 62) + 1000));
		break;
	}
	tu_unmap(map, len);
	return 0;
}

/* A spinning reader of a new channel ch at message 0 waits; a forger()
 * doing `what` ends its wait with `want` well before the read's 10 s
 * timeout. */
static void spin_ended(const char *ch, enum forgery what, int want)
{
	struct mdbus_pub_config c = tu_config(256, 64, 2, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open(ch, &c);
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s;
	unsigned left;
	pid_t pid;

	s = tu_sub_open(ch, "w", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	forge_ch = ch;
	forge_what = what;
	pid = tu_spawn(forger, NULL);
	left = alarm(5); /* the watchdog's message if the spin misses it */
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 10000000000LL), want);
	alarm(left);
	tu_wait_ok(pid, 5, "forger");
	if (what == FORGE_BIG) { /* kept: read whole with room for it */
		unsigned char big[BIG];

		TU_CHECK_EQ(m.size, BIG);
		TU_CHECK_EQ(mdbus_sub_position(s), 0);
		TU_CHECK_RC(mdbus_sub_read(s, big, sizeof(big), &m, 0), 0);
		TU_CHECK_EQ(m.seq, 0);
		TU_CHECK_EQ(m.size, BIG);
		TU_CHECK_EQ(m.type, 7);
		TU_CHECK_EQ(m.lost, 0);
	}
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static int watch(_Atomic uint64_t *slot, uint64_t stamp)
{
	atomic_store_explicit(&slot[SLOT_W_STAMP], stamp, memory_order_relaxed);
	return wait_watch(slot, WORDS, POS);
}

int main(void)
{
	_Alignas(64) _Atomic uint64_t slot[WORDS];
	struct mdbus_pub_config c;
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s;
	mdbus_pub_t *p;
	void *payload;
	unsigned i;

	tu_init("t_watch", 60);
	for (i = 0; i < WORDS; i++)
		atomic_init(&slot[i], 0);
	TU_CHECK_EQ(watch(slot, 0), 0);
	TU_CHECK_EQ(watch(slot, stamp_complete(POS - 128)), 0);
	TU_CHECK_EQ(watch(slot, stamp_writing(POS - 1)), 0);
	TU_CHECK_EQ(watch(slot, stamp_writing(POS)), 0);
	TU_CHECK_EQ(watch(slot, stamp_complete(POS)), 1);
	TU_CHECK_EQ(watch(slot, stamp_complete(POS + 1)), 1);
	TU_CHECK_EQ(watch(slot, stamp_writing(POS + 128)), 1);

	c = tu_config(256, 64, 2, MDBUS_MODE_OVERWRITE);
	p = tu_pub_open("watch", &c);
	for (i = 0; i < 3; i++)
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 0, 40), 0);
	s = tu_sub_open("watch", NULL, MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 0), -ETIMEDOUT);
	TU_CHECK_RC(mdbus_pub_claim(p, 40, &payload), 0);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 0), -ETIMEDOUT);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 1000000), -ETIMEDOUT);
	TU_CHECK_RC(mdbus_pub_commit(p, 7, 8, 1), 0);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 0), 0);
	TU_CHECK_EQ(m.seq, 3);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	spin_ended("watch.e", FORGE_EVICT, MDBUS_EEVICTED);
	spin_ended("watch.r", FORGE_REPLACED, MDBUS_EREPLACED);
	spin_ended("watch.b", FORGE_BIG, -EMSGSIZE);
	spin_ended("watch.f", FORGE_FAR, MDBUS_ECORRUPT);
	return 0;
}
