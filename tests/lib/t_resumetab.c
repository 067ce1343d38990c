/*
 * t_resumetab.c - a publisher resuming a segment whose consumer table file
 * was cut keeps holding back the live registered readers of that table
 * (doc/protocol.md, "Consumer table file", "Publishing": lossless mode).
 *
 * A lossless publisher and a registered reader at message 0; the
 * publisher closes; the table file loses its last page (the reader's
 * entry, in the first page of entries, is intact: the reader never
 * faults); a publisher resumes the segment. The reader is alive and
 * registered, so the resumed publisher must refuse message `capacity`
 * with MDBUS_EBACKPRESSURE (or evict the reader, which its next read
 * then says): a lossless reader must never find messages lost without
 * being told MDBUS_EEVICTED.
 */
#include <errno.h>
#include <sys/stat.h>

#include "mdbus.h"
#include "testutil.h"

#define CH "resumetab"
#define PMAX 40

int main(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_LOSSLESS);
	unsigned char buf[PMAX];
	uint64_t cap = 16 * 4, n;
	struct mdbus_msg m;
	struct stat st;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	int r = 0;

	tu_init("t_resumetab", 60);
	c.max_consumers = 64; /* table: header page + 2 pages of entries */
	p = tu_pub_open(CH, &c);
	s = tu_sub_open(CH, "r", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	mdbus_pub_close(p);

	TU_CHECK(stat(tu_table_path(CH), &st) == 0);
	TU_CHECK_EQ(st.st_size, 4096 + 64 * 128);
	tu_truncate(tu_table_path(CH), st.st_size - 4096);

	p = tu_pub_open(CH, &c);
	TU_CHECK_EQ(mdbus_pub_position(p), 0);
	for (n = 0; n <= cap; n++) {
		r = tu_publish_seq(p, n, buf, 0, PMAX);
		if (r != 0)
			break;
	}
	if (r == MDBUS_EBACKPRESSURE) {
		TU_CHECK_EQ(n, cap);
	} else {
		/* not held back: then the reader must be told, not lapped */
		TU_CHECK_RC(r, 0);
		r = mdbus_sub_try_read(s, buf, sizeof buf, &m);
		if (r == 0)
			tu_fail("the resumed lossless publisher overran a live "
				"registered reader: it read message %llu with "
				"%llu lost and was never evicted",
				(unsigned long long)m.seq,
				(unsigned long long)m.lost);
		TU_CHECK_RC(r, MDBUS_EEVICTED);
	}
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	return 0;
}
