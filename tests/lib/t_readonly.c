/*
 * t_readonly.c - a reader without write permission on the segment (a
 * process of another user; the segment is 0644): opening it registered
 * falls back to an anonymous read-only attachment (no consumer entry), it
 * reads every message, times out cleanly and is woken (or polls) in a
 * blocking read although it cannot announce itself as waiting: it never
 * writes to its read-only mapping (that would crash it with SIGSEGV).
 * mdbus_channel_stats() gives it the segment's owner (root), not its own.
 * Needs root to switch the reader to user nobody, else skips (77).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdbus.h"
#include "testutil.h"

#define CHANNEL "readonly"
#define SLOT 128
#define PMAX (SLOT - MDBUS_SLOT_HEADER)
#define NOBODY 65534

struct shared {
	_Atomic uint32_t ready, waiting;
};

static struct shared *sh;

static void read_check(mdbus_sub_t *s, uint64_t seq, int64_t timeout_ns)
{
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	const char *bad;

	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, timeout_ns), 0);
	TU_CHECK_EQ(m.seq, seq);
	bad = tu_msg_bad(&m, buf, 0, PMAX);
	if (bad)
		tu_fail("read-only reader: %s", bad);
}

static int reader(void *arg)
{
	unsigned char buf[PMAX];
	struct mdbus_pub_info info;
	struct mdbus_stats st;
	struct mdbus_msg m;
	mdbus_sub_t *s;

	(void)arg;
	if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		tu_fail("setuid nobody: %s", strerror(errno));
	s = tu_sub_open(CHANNEL, "ro", MDBUS_START_OLDEST, 0,
			MDBUS_WAIT_BLOCK);
	for (uint64_t n = 0; n < 10; n++)
		read_check(s, n, 1000000000LL);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 200000000LL),
		    -ETIMEDOUT);
	TU_CHECK_RC(mdbus_sub_pub_info(s, &info), 0);
	TU_CHECK_EQ(info.state, MDBUS_PUB_ACTIVE);
	TU_CHECK_RC(mdbus_channel_stats(CHANNEL, NULL, &st, NULL, 0), 0);
	TU_CHECK_EQ(st.consumers, 0);
	TU_CHECK_EQ(st.owner, 0); /* root made it: not the reader's own uid */
	atomic_store(&sh->waiting, 1);
	read_check(s, 10, 10000000000LL); /* published while we wait */
	mdbus_sub_close(s);
	return 0;
}

int main(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, 16, 4, MDBUS_MODE_OVERWRITE);
	unsigned char buf[PMAX];
	struct mdbus_stats st;
	mdbus_pub_t *p;
	pid_t child;

	tu_init("t_readonly", 60);
	if (geteuid() != 0)
		tu_skip("not root: cannot run a reader as another user");
	sh = tu_shared(sizeof(*sh));
	TU_CHECK_EQ(chmod(tu_dir(), 0755), 0);
	c.file_mode = 0644;
	p = tu_pub_open(CHANNEL, &c);
	for (uint64_t n = 0; n < 10; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
	child = tu_spawn(reader, NULL);
	tu_await(&sh->waiting, 1, 30, "read-only reader");
	tu_sleep_ms(100);
	TU_CHECK_RC(tu_publish_seq(p, 10, buf, 0, PMAX), 0);
	tu_wait_ok(child, 30, "read-only reader");
	TU_CHECK_RC(mdbus_channel_stats(CHANNEL, NULL, &st, NULL, 0), 0);
	TU_CHECK_EQ(st.consumers, 0);
	mdbus_pub_close(p);
	return 0;
}
