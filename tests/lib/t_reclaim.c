/*
 * t_reclaim.c - mdbus_pub_reclaim() on a thread of its own while the
 * main thread publishes (libmdbus(3), "THREAD SAFETY"): in each of
 * ROUNDS rounds, HOLDERS reader processes register, read, and are
 * SIGKILLed asleep in blocking reads, counted as waiters; the reclaiming
 * thread frees exactly their entries (its returns add up to HOLDERS a
 * round, the table's reclaims count the same) before the next round
 * registers into them, and no waiter is counted then. Under TSan
 * (THREADED_TESTS) any access of the handle the two threads race on is
 * reported. Then a reader registers and reads what is published.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"
#include "mdbus.h"
#include "testutil.h"

#define CHANNEL "reclaim"
#define HOLDERS 8
#define ROUNDS 20

struct shared {
	_Atomic uint32_t ready; /* holders registered */
};

static struct shared *sh;
static mdbus_pub_t *pub;
static _Atomic int stop;
static _Atomic uint32_t freed;  /* what mdbus_pub_reclaim() returned */
static _Atomic uint32_t calls;

/* Registers and reads until killed, asleep between messages. */
static int holder(void *arg)
{
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_sub_t *s;
	int rc;

	(void)arg;
	s = tu_sub_open(CHANNEL, "holder", MDBUS_START_LATEST, 0,
			MDBUS_WAIT_BLOCK);
	atomic_fetch_add(&sh->ready, 1);
	for (;;) {
		rc = mdbus_sub_read(s, buf, sizeof(buf), &m, 1000000000LL);
		if (rc < 0 && rc != -ETIMEDOUT)
			tu_fail("holder read: %s", mdbus_strerror(rc));
	}
	return 0;
}

static void *reclaimer(void *arg)
{
	int r;

	(void)arg;
	while (!atomic_load(&stop)) {
		r = mdbus_pub_reclaim(pub);
		if (r < 0)
			tu_fail("mdbus_pub_reclaim: %s", mdbus_strerror(r));
		atomic_fetch_add(&freed, (uint32_t)r);
		atomic_fetch_add(&calls, 1);
		tu_sleep_ms(0.2);
	}
	return NULL;
}

/* Publishes message *seq and the next, 0.1 ms apart, until *word is at
 * least want. */
static void publish_until(_Atomic uint32_t *word, uint32_t want,
			  uint64_t *seq, const char *what)
{
	uint64_t deadline = tu_now_ns() + 60000000000ULL;
	unsigned char buf[64];

	while (atomic_load(word) < want) {
		if (tu_now_ns() > deadline)
			tu_fail("waited 60 s for %s (%u < %u)", what,
				atomic_load(word), want);
		TU_CHECK_RC(tu_publish_seq(pub, (*seq)++, buf, 8, 64), 0);
		tu_sleep_ms(0.1);
	}
}

/* Waits (60 s at most) until the waiter count is n. */
static void await_waiters(struct seg_table_header *h, uint32_t n)
{
	uint64_t deadline = tu_now_ns() + 60000000000ULL;

	while (waiters_count(atomic_load(&h->waiters)) != n) {
		if (tu_now_ns() > deadline)
			tu_fail("waited 60 s for %u waiters (%u)", n,
				waiters_count(atomic_load(&h->waiters)));
		tu_sleep_ms(0.2);
	}
}

int main(void)
{
	struct mdbus_pub_config c = tu_config(128, 256, 4, MDBUS_MODE_OVERWRITE);
	struct seg_table_header *h;
	pid_t kids[HOLDERS];
	unsigned char buf[64];
	struct mdbus_stats st;
	struct mdbus_msg m;
	mdbus_sub_t *s;
	pthread_t t;
	uint64_t seq = 0;
	size_t len;

	tu_init("t_reclaim", 120);
	sh = tu_shared(sizeof(*sh));
	c.max_consumers = HOLDERS;
	pub = tu_pub_open(CHANNEL, &c);
	h = tu_map_file(tu_table_path(CHANNEL), &len);
	if (pthread_create(&t, NULL, reclaimer, NULL) != 0)
		tu_fail("pthread_create");
	for (unsigned r = 0; r < ROUNDS; r++) {
		atomic_store(&sh->ready, 0);
		for (unsigned i = 0; i < HOLDERS; i++)
			kids[i] = tu_spawn(holder, NULL);
		publish_until(&sh->ready, HOLDERS, &seq, "the holders");
		/* killed asleep, counted as waiters */
		await_waiters(h, HOLDERS);
		for (unsigned i = 0; i < HOLDERS; i++)
			tu_kill_reap(kids[i]);
		publish_until(&freed, (r + 1) * HOLDERS, &seq,
			      "the reclaiming thread");
		TU_CHECK_EQ(waiters_count(atomic_load(&h->waiters)), 0);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	tu_note("%u rounds of %u readers killed: %u entries freed by %u "
		"calls while %llu messages were published", ROUNDS, HOLDERS,
		atomic_load(&freed), atomic_load(&calls),
		(unsigned long long)seq);
	TU_CHECK_EQ(atomic_load(&freed), ROUNDS * HOLDERS);
	TU_CHECK_EQ(atomic_load(&h->reclaims), ROUNDS * HOLDERS);
	TU_CHECK_EQ(atomic_load(&h->registrations), ROUNDS * HOLDERS);
	TU_CHECK_EQ(waiters_count(atomic_load(&h->waiters)), 0);
	TU_CHECK_RC(mdbus_channel_stats(CHANNEL, tu_dir(), &st, NULL, 0), 0);
	TU_CHECK_EQ(st.consumers, 0);
	s = tu_sub_open(CHANNEL, "last", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_RC(tu_publish_seq(pub, seq, buf, 8, 64), 0);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, 1000000000LL), 0);
	tu_check_next(&m, buf, seq, 8, 64);
	mdbus_sub_close(s);
	tu_unmap(h, len);
	mdbus_pub_close(pub);
	tu_note("ok");
	return 0;
}
