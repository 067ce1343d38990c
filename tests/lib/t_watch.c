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
 */
#include <errno.h>

#include "internal.h"
#include "layout.h"
#include "testutil.h"

#define POS 1000u
#define WORDS 32u /* a 256-byte slot */

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
	return 0;
}
