/*
 * t_threads.c - the ordering protocol between threads of one process, so
 * that ThreadSanitizer (which cannot see across processes) checks the
 * library's atomics: a publisher thread and three reader threads, first on
 * an overwrite channel (readers check seq == previous + 1 + lost and every
 * payload word; every other message is published zero-copy with
 * claim/commit), then on a lossless one with blocking reads (readers get
 * every message, the publisher retries on back-pressure). Run in the
 * plain, ASan and TSan builds.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "mdbus.h"
#include "testutil.h"

#define READERS 3
#define MESSAGES 300000ULL
#define SLOT 256
#define PMAX (SLOT - MDBUS_SLOT_HEADER)

struct reader {
	pthread_t t;
	const char *channel;
	mdbus_sub_t *sub;
	int lossless;
	uint64_t delivered, lost;
	char why[200];
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	uint64_t expect = 0;
	const char *bad;
	int rc;

	while (expect < MESSAGES) {
		rc = mdbus_sub_read(r->sub, buf, sizeof(buf), &m,
				    30000000000LL);
		if (rc) {
			snprintf(r->why, sizeof(r->why), "read at %llu: %s",
				 (unsigned long long)expect,
				 mdbus_strerror(rc));
			break;
		}
		bad = tu_msg_bad(&m, buf, 0, PMAX);
		if (m.seq != expect + m.lost || (r->lossless && m.lost))
			bad = "sequence/loss mismatch";
		if (bad) {
			snprintf(r->why, sizeof(r->why),
				 "seq %llu lost %llu after %llu: %s",
				 (unsigned long long)m.seq,
				 (unsigned long long)m.lost,
				 (unsigned long long)expect, bad);
			break;
		}
		r->delivered++;
		r->lost += m.lost;
		expect = m.seq + 1;
	}
	return NULL;
}

/* Every other message zero-copy: claim, fill in place, commit. */
static int publish(mdbus_pub_t *p, uint64_t n, unsigned char *buf)
{
	size_t size = tu_size_for(n, 0, PMAX);
	void *pl;
	int rc;

	if (n & 1)
		return tu_publish_seq(p, n, buf, 0, PMAX);
	rc = mdbus_pub_claim(p, PMAX, &pl);
	if (rc)
		return rc;
	tu_fill(pl, size, n);
	return mdbus_pub_commit(p, tu_type_for(n), size, n + 1);
}

static void run(const char *channel, enum mdbus_mode mode)
{
	struct mdbus_pub_config c = tu_config(SLOT, 64, 4, mode);
	mdbus_pub_t *p = tu_pub_open(channel, &c);
	struct reader r[READERS];
	unsigned char buf[PMAX];
	uint64_t refused = 0;
	int rc;

	memset(r, 0, sizeof(r));
	for (int i = 0; i < READERS; i++) {
		r[i].channel = channel;
		r[i].lossless = mode == MDBUS_MODE_LOSSLESS;
		r[i].sub = tu_sub_open(channel, NULL, MDBUS_START_SEQ, 0,
				       i == 0 ? MDBUS_WAIT_BLOCK
					      : MDBUS_WAIT_ADAPTIVE);
		TU_CHECK_EQ(pthread_create(&r[i].t, NULL, read_all, &r[i]), 0);
	}
	for (uint64_t n = 0; n < MESSAGES; n++) {
		while ((rc = publish(p, n, buf)) == MDBUS_EBACKPRESSURE) {
			refused++;
			sched_yield();
		}
		TU_CHECK_RC(rc, 0);
		if ((n & 255) == 255)
			sched_yield();
	}
	for (int i = 0; i < READERS; i++) {
		pthread_join(r[i].t, NULL);
		if (r[i].why[0])
			tu_fail("%s reader %d: %s", channel, i, r[i].why);
		TU_CHECK_EQ(r[i].delivered + r[i].lost, MESSAGES);
		TU_CHECK_EQ(mdbus_sub_lost(r[i].sub), r[i].lost);
		tu_note("%s reader %d: delivered %llu, lost %llu", channel, i,
			(unsigned long long)r[i].delivered,
			(unsigned long long)r[i].lost);
		mdbus_sub_close(r[i].sub);
	}
	if (mode == MDBUS_MODE_LOSSLESS)
		tu_note("%s: %llu back-pressure refusals", channel,
			(unsigned long long)refused);
	mdbus_pub_close(p);
}

int main(void)
{
	tu_init("t_threads", 300);
	run("threads.overwrite", MDBUS_MODE_OVERWRITE);
	run("threads.lossless", MDBUS_MODE_LOSSLESS);
	return 0;
}
