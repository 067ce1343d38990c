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
 * or marks the segment replaced (MDBUS_EREPLACED), within 5 s.
 */
#include <errno.h>
#include <unistd.h>

#include "internal.h"
#include "layout.h"
#include "testutil.h"

#define POS 1000u
#define WORDS 32u /* a 256-byte slot */

/* The channel a forger() child acts on, and what it does. */
static const char *forge_ch;
static int forge_replaced;

/* 100 ms into the parent's wait: changes the reader's entry (the only one,
 * entry 0), or marks the segment replaced. */
static int forger(void *arg)
{
	size_t len;
	void *map;

	(void)arg;
	tu_sleep_ms(100);
	if (forge_replaced) {
		map = tu_map_file(tu_seg_path(forge_ch), &len);
		atomic_store(&((struct seg_header *)map)->pub_state,
			     SEG_PUB_REPLACED);
	} else {
		map = tu_map_file(tu_table_path(forge_ch), &len);
		atomic_fetch_add(&tu_entry(map, 0)->state, 1u << 8);
	}
	tu_unmap(map, len);
	return 0;
}

/* A spinning reader of a new channel ch waits; a forger() ends its wait
 * with `want` well before the read's 10 s timeout. */
static void spin_ended(const char *ch, int replaced, int want)
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
	forge_replaced = replaced;
	pid = tu_spawn(forger, NULL);
	left = alarm(5); /* the watchdog's message if the spin misses it */
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 10000000000LL), want);
	alarm(left);
	tu_wait_ok(pid, 5, "forger");
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
	spin_ended("watch.e", 0, MDBUS_EEVICTED);
	spin_ended("watch.r", 1, MDBUS_EREPLACED);
	return 0;
}
