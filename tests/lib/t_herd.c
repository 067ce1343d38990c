/*
 * t_herd.c - anyone who can read a segment can park threads on its
 * futex word wake_seq from a read-only mapping (FUTEX_WAIT only reads
 * the word). The producer's wake after a publish woke every sleeper of
 * the word, his too: an attack run's 1000 threads cost the publishing
 * thread 40% of a CPU at 200 msg/s and raised a blocking reader's p50
 * from 26 us to 2.5 ms. It now wakes as many as readers are counted
 * asleep, and kicks its idle nudger on a word of its own process
 * (doc/protocol.md, "Waiting"; wait.c wait_wake_counted()).
 *
 * A herd process parks HERD threads on wake_seq while a registered
 * blocking reader and an anonymous one (of a nudging publisher) each
 * read MSGS messages published GAP_MS apart. This program's syscall()
 * (syscall_hook.h) sees every FUTEX_WAKE of the publishing thread (the
 * main one) while it publishes: none may wake more than WAKE_MAX (the
 * one counted reader; the nudger's kick wakes one thread), and the herd
 * is woken at most once a publish. Before, each wake woke the herd:
 * about HERD + 2 each. Both readers get every message, in order (late
 * ones are noted, not asserted: a parked thread ahead of the reader
 * takes its wake, and the reader's sleeps are then short, wait.c
 * moved_off()).
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mdbus.h"
#include "layout.h"
#include "syscall_hook.h"
#include "testutil.h"

#define CHANNEL "herd"
#define HERD 64
#define MSGS 40
#define GAP_MS 5
#define WAKE_MAX 1
#define READ_WAIT_NS 30000000000LL /* a deadline, not a bound on latency */

struct shared {
	_Atomic uint32_t open;     /* the segment is there */
	_Atomic uint32_t stop;     /* the herd goes home */
	_Atomic uint32_t parked;   /* herd threads started */
	_Atomic uint32_t ready;    /* readers open */
	_Atomic uint64_t woken;    /* wakes of herd threads */
};

static struct shared *sh;
static struct seg_header *herd_hdr;
static _Thread_local int measuring; /* this thread publishes */
static _Atomic long wake_max;    /* the most a FUTEX_WAKE of it woke */
static _Atomic long wake_calls;  /* and how many it made */

long syscall(long number, ...)
{
	long a[6], r;

	HOOK_ARGS(number, a);
	r = hook_real(number, a);
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE &&
	    measuring) {
		atomic_fetch_add(&wake_calls, 1);
		if (r > atomic_load(&wake_max))
			atomic_store(&wake_max, r);
	}
	return r;
}

/* A parked thread: sleeps on wake_seq again each time it is woken. */
static void *park(void *arg)
{
	(void)arg;
	atomic_fetch_add(&sh->parked, 1);
	while (!atomic_load(&sh->stop)) {
		uint32_t v = atomic_load(&herd_hdr->wake_seq);
		struct timespec ts = { 0, 200000000 };

		if (syscall(SYS_futex, &herd_hdr->wake_seq, FUTEX_WAIT, v, &ts,
			    NULL, 0) == 0)
			atomic_fetch_add(&sh->woken, 1);
	}
	return NULL;
}

/* Once the segment is there, maps it read-only, as any reader may, and
 * parks HERD threads on wake_seq until told to stop. Forked before the
 * publisher's nudger thread runs (a sanitizer refuses threads made after
 * a fork of a threaded process). */
static int herd(void *arg)
{
	pthread_t t[HERD];

	(void)arg;
	tu_await(&sh->open, 1, 60, "the segment");
	herd_hdr = tu_map_header_ro(CHANNEL);
	for (int i = 0; i < HERD; i++)
		if (pthread_create(&t[i], NULL, park, NULL) != 0)
			tu_fail("pthread_create");
	for (int i = 0; i < HERD; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* Reads MSGS messages, each the next of tu_publish_seq()'s pattern. */
static int reader(void *arg)
{
	int anonymous = (int)(intptr_t)arg;
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s;

	s = anonymous ? tu_sub_open_anonymous(CHANNEL)
		      : tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0,
				    MDBUS_WAIT_BLOCK);
	atomic_fetch_add(&sh->ready, 1);
	for (uint64_t i = 0; i < MSGS; i++) {
		TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m,
					   READ_WAIT_NS), 0);
		tu_check_next(&m, buf, i, 8, 64);
	}
	mdbus_sub_close(s);
	return 0;
}

int main(void)
{
	struct mdbus_pub_config cfg;
	unsigned char buf[64];
	pid_t hpid, rpid[2];
	uint64_t woken;
	mdbus_pub_t *p;

	tu_init("t_herd", 120);
	sh = tu_shared(sizeof(*sh));
	cfg = tu_nudging(tu_config(128, 1024, 4, MDBUS_MODE_OVERWRITE));
	hpid = tu_spawn(herd, NULL);
	p = tu_pub_open(CHANNEL, &cfg);
	for (int k = 0; k < 2; k++)
		rpid[k] = tu_spawn(reader, (void *)(intptr_t)k);
	tu_await(&sh->ready, 2, 60, "both readers open");
	atomic_store(&sh->open, 1);
	tu_await(&sh->parked, HERD, 60, "the herd's threads started");
	tu_sleep_ms(100); /* parked, and the readers and the nudger asleep */
	measuring = 1;
	for (uint64_t i = 0; i < MSGS; i++) {
		TU_CHECK_RC(tu_publish_seq(p, i, buf, 8, 64), 0);
		tu_sleep_ms(GAP_MS);
	}
	measuring = 0;
	for (int k = 0; k < 2; k++)
		tu_wait_ok(rpid[k], 60, k ? "anonymous reader"
					  : "registered blocking reader");
	woken = atomic_load(&sh->woken);
	atomic_store(&sh->stop, 1);
	tu_wait_ok(hpid, 30, "herd");
	mdbus_pub_close(p);
	tu_note("%ld wakes while publishing, each waking at most %ld; the "
		"herd of %d was woken %llu times in %d publishes",
		atomic_load(&wake_calls), atomic_load(&wake_max), HERD,
		(unsigned long long)woken, MSGS);
	if (atomic_load(&wake_calls) == 0)
		tu_fail("the publishing thread made no wake: the test proves "
			"nothing");
	if (atomic_load(&wake_max) > WAKE_MAX)
		tu_fail("a wake of the publishing thread woke %ld threads (at "
			"most %d: the counted reader, or the nudger)",
			atomic_load(&wake_max), WAKE_MAX);
	if (woken > MSGS)
		tu_fail("the herd was woken %llu times in %d publishes (at most "
			"one a publish)", (unsigned long long)woken, MSGS);
	tu_note("ok");
	return 0;
}
