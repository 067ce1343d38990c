/*
 * t_statcut.c - a segment its owner truncates while a tool reads its
 * statistics (doc/protocol.md, "Attaching"): mdbus_channel_stats() and
 * mdbus_channel_counters() fail with MDBUS_ECORRUPT, saying so, instead
 * of raising SIGBUS in the caller (mdsub --list and --watch read every
 * channel of a directory, other users' among them: one cutting its own
 * segment killed them). The cut is made deterministic by an mmap()
 * interposer: right after the library maps a segment read-only (its
 * header page, which every attach validates, or the whole segment), the
 * file is truncated to 0 bytes, before anything in it is read. Afterwards
 * the library's SIGBUS handler is gone again (no guard slot left listed).
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "testutil.h"

static const char *cut_path; /* truncated after the next read-only map */
static size_t cut_len;

/* The library's mmap(): the real call, then the cut when one is due. */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	if (r == -1)
		return MAP_FAILED;
	if (cut_path && len == cut_len && prot == PROT_READ &&
	    (flags & MAP_SHARED)) {
		TU_CHECK_RC(truncate(cut_path, 0), 0);
		cut_path = NULL;
	}
	return (void *)r;
}

/* A stopped channel with one message; the size of its segment. */
static size_t channel(const char *name)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open(name, &c);
	struct mdbus_stats st;

	TU_CHECK_RC(mdbus_pub_publish(p, 7, "x", 1, 0), 0);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_channel_stats(name, tu_dir(), &st, NULL, 0), 0);
	TU_CHECK_EQ(st.pub.write_num, 1);
	return (size_t)st.total_size;
}

static void arm_cut(const char *name, size_t len)
{
	cut_path = tu_seg_path(name);
	cut_len = len;
}

static struct sigaction before; /* SIGBUS at start (a sanitizer's, or none) */

/* The library's guard is gone: SIGBUS is handled as before it came. */
static void no_handler_left(void)
{
	struct sigaction sa;

	TU_CHECK_RC(sigaction(SIGBUS, NULL, &sa), 0);
	TU_CHECK((sa.sa_flags & SA_SIGINFO) == (before.sa_flags & SA_SIGINFO));
	if (sa.sa_flags & SA_SIGINFO)
		TU_CHECK(sa.sa_sigaction == before.sa_sigaction);
	else
		TU_CHECK(sa.sa_handler == before.sa_handler);
}

/* The call returned MDBUS_ECORRUPT after the cut, saying why. */
static void refused(int rc)
{
	TU_CHECK(cut_path == NULL); /* the cut was made */
	TU_CHECK_RC(rc, MDBUS_ECORRUPT);
	TU_CHECK(strstr(mdbus_last_error(), "truncated while it was read"));
	no_handler_left();
}

int main(void)
{
	struct mdbus_counter ctr[4];
	struct mdbus_stats st;
	size_t len;

	tu_init("t_statcut", 60);
	TU_CHECK_RC(sigaction(SIGBUS, NULL, &before), 0);
	len = channel("cut.stats");
	arm_cut("cut.stats", len);
	refused(mdbus_channel_stats("cut.stats", tu_dir(), &st, NULL, 0));

	len = channel("cut.counters");
	TU_CHECK(mdbus_channel_counters("cut.counters", tu_dir(), ctr, 4) >= 0);
	arm_cut("cut.counters", len);
	refused(mdbus_channel_counters("cut.counters", tu_dir(), ctr, 4));

	(void)channel("cut.header"); /* cut while its header is validated */
	arm_cut("cut.header", SEG_HEADER_SIZE);
	refused(mdbus_channel_stats("cut.header", tu_dir(), &st, NULL, 0));
	return 0;
}
