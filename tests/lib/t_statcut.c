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
 *
 * A consumer table cut while mdbus_channel_stats() reads its entries
 * (anyone in the channel's group may cut it, after the call checked its
 * size and header) makes the consumers unknown (MDBUS_ETABLE, consumers
 * 0), as a table spoiled before the call does: before, the entries past
 * the cut read as zeros (free) and the call returned 0 with the count of
 * the part read. That cut is made by an open() interposer, at the look
 * at the first consumer's process in /proc.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
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

static char table_cut[4096]; /* truncated at the next open() in /proc */

/* The library's open(): the cut when one is due, then the real call. */
int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (*table_cut && strncmp(path, "/proc/", 6) == 0) {
		TU_CHECK_RC(truncate(table_cut, 0), 0);
		*table_cut = '\0';
	}
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
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

/* Three registered readers; the table cut at the look at the first one's
 * process: consumers unknown, not 1. */
static void table_cut_case(void)
{
	struct mdbus_consumer_stat cons[4];
	struct mdbus_sub_config c;
	struct mdbus_stats st;
	mdbus_sub_t *s[3];
	int i;

	(void)channel("cut.table");
	mdbus_sub_config_init(&c);
	c.dir = tu_dir();
	for (i = 0; i < 3; i++)
		TU_CHECK_RC(mdbus_sub_open(&s[i], "cut.table", &c), 0);
	TU_CHECK_RC(mdbus_channel_stats("cut.table", tu_dir(), &st, cons, 4), 0);
	TU_CHECK_EQ(st.consumers, 3);
	snprintf(table_cut, sizeof(table_cut), "%s+%016" PRIx64,
		 tu_seg_path("cut.table"), st.epoch);
	TU_CHECK_RC(mdbus_channel_stats("cut.table", tu_dir(), &st, cons, 4),
		    MDBUS_ETABLE);
	TU_CHECK(*table_cut == '\0'); /* the cut was made */
	TU_CHECK_EQ(st.consumers, 0);
	TU_CHECK_EQ(st.pub.write_num, 1); /* the rest of *st all the same */
	TU_CHECK(strstr(mdbus_last_error(), "truncated while it was read"));
	for (i = 0; i < 3; i++) /* their entries' pages cut too: guarded */
		mdbus_sub_close(s[i]);
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

	table_cut_case();
	return 0;
}
