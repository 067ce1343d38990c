/*
 * t_farstart.c - starts no publisher reaches, and starts far ahead
 * (doc/protocol.md, "Skipping"; libmdbus(3), start):
 *
 * 1. A start sequence past MDBUS_SEQ_MAX (2^62) is refused with -ERANGE
 *    by mdbus_sub_open() and mdbus_sub_reopen(), saying why; MDBUS_SEQ_MAX
 *    itself is taken (and waits: nothing there yet).
 * 2. A start time after every message: a read steps over at most 4096
 *    messages stamped before it and then returns -EAGAIN, and
 *    mdbus_sub_poll() returns, so that a caller keeps control however
 *    long the feed runs ahead (an unbounded step-over ignored SIGTERM in
 *    mdsub on a busy feed); a waiting read keeps its timeout, spinning
 *    (MDBUS_WAIT_SPIN) too.
 */
#include <errno.h>
#include <string.h>

#include "mdbus.h"
#include "testutil.h"

#define MSGS 10000u

static void too_far(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open("far.seq", &c);
	struct mdbus_sub_config sc;
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s = NULL;

	mdbus_sub_config_init(&sc);
	sc.dir = tu_dir();
	sc.start = MDBUS_START_SEQ;
	sc.start_seq = MDBUS_SEQ_MAX + 1;
	TU_CHECK_RC(mdbus_sub_open(&s, "far.seq", &sc), -ERANGE);
	TU_CHECK(strstr(mdbus_last_error(), "past 2^62") != NULL);
	sc.start_seq = UINT64_MAX;
	TU_CHECK_RC(mdbus_sub_open(&s, "far.seq", &sc), -ERANGE);
	sc.start_seq = MDBUS_SEQ_MAX;
	TU_CHECK_RC(mdbus_sub_open(&s, "far.seq", &sc), 0);
	TU_CHECK_RC(mdbus_pub_publish(p, 7, "x", 1, 0), 0);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof buf, &m), -EAGAIN);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 1000000), -ETIMEDOUT);
	TU_CHECK_RC(mdbus_sub_reopen(s, MDBUS_START_SEQ, UINT64_MAX), -ERANGE);
	TU_CHECK_EQ(mdbus_sub_position(s), MDBUS_SEQ_MAX);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

static int count(void *arg, const struct mdbus_msg *msg, const void *payload)
{
	(void)msg;
	(void)payload;
	++*(unsigned *)arg;
	return 0;
}

static mdbus_sub_t *late_reader(const char *name, enum mdbus_wait wait)
{
	struct mdbus_sub_config sc;
	mdbus_sub_t *s = NULL;

	mdbus_sub_config_init(&sc);
	sc.dir = tu_dir();
	sc.name = name;
	sc.start = MDBUS_START_TIME;
	sc.start_time_ns = 1000000000000000000ULL; /* after every message */
	sc.wait = wait;
	TU_CHECK_RC(mdbus_sub_open(&s, "far.time", &sc), 0);
	return s;
}

static void far_time(void)
{
	struct mdbus_pub_config c = tu_config(64, 1024, 16, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p = tu_pub_open("far.time", &c);
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s;
	unsigned got = 0;

	for (unsigned i = 0; i < MSGS; i++) /* stamped 1 .. MSGS ns */
		TU_CHECK_RC(mdbus_pub_publish(p, 7, "x", 1, i + 1), 0);
	s = late_reader("t", MDBUS_WAIT_ADAPTIVE);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof buf, &m), -EAGAIN);
	TU_CHECK_EQ(mdbus_sub_position(s), 4096);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof buf, &m), -EAGAIN);
	TU_CHECK_EQ(mdbus_sub_position(s), 8192);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 1000000), -ETIMEDOUT);
	TU_CHECK_EQ(mdbus_sub_position(s), MSGS);
	TU_CHECK(mdbus_sub_caught_up(s));
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);

	s = late_reader("p", MDBUS_WAIT_ADAPTIVE);
	TU_CHECK_RC(mdbus_sub_poll(s, count, &got, 100000), 0);
	TU_CHECK_EQ(mdbus_sub_position(s), 4096);
	TU_CHECK_RC(mdbus_sub_poll(s, count, &got, 100000), 0);
	TU_CHECK_RC(mdbus_sub_poll(s, count, &got, 100000), 0);
	TU_CHECK_EQ(mdbus_sub_position(s), MSGS);
	TU_CHECK_EQ(got, 0);
	mdbus_sub_close(s);

	/* spinning (sub.c spin_read()): the steps and the timeout too */
	s = late_reader("s", MDBUS_WAIT_SPIN);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &m, 1000000), -ETIMEDOUT);
	TU_CHECK_EQ(mdbus_sub_position(s), MSGS);
	TU_CHECK_EQ(mdbus_sub_lost(s), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

int main(void)
{
	tu_init("t_farstart", 60);
	too_far();
	far_time();
	return 0;
}
