/*
 * t_register.c - registration under churn never refuses a reader while
 * room can be made: rounds of N reader processes register at once into an
 * N-entry table whose every entry is held by a reader SIGKILLed in the
 * previous round (so each registrant must reclaim while the others claim
 * and reclaim too); no refusal in any round. Then a final reader registers
 * and reads, and the header's and the table's counts agree with the live
 * readers: one active entry, reclaims equal to the readers killed.
 * Run with 8 entries x 300 rounds and 64 entries x 20 rounds. Before
 * that: a reader whose main thread exited while another thread reads on
 * (a zombie in /proc, alive all the same) keeps its entry.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "testutil.h"

#define MAXN 64

struct shared {
	_Atomic uint32_t done;       /* registrants that finished trying */
	_Atomic uint32_t refused;    /* ... and were refused */
	_Atomic uint32_t other;      /* ... failed otherwise */
	_Atomic int32_t last_error;  /* the last refusal's code */
	char why[256];
};

static struct shared *sh;
static const char *channel;

static int registrant(void *arg)
{
	struct mdbus_sub_config c;
	mdbus_sub_t *s;
	int rc;

	(void)arg;
	mdbus_sub_config_init(&c);
	c.dir = tu_dir();
	rc = mdbus_sub_open(&s, channel, &c);
	if (rc == MDBUS_EFULL) {
		atomic_fetch_add(&sh->refused, 1);
		atomic_store(&sh->last_error, rc);
		snprintf(sh->why, sizeof sh->why, "%s", mdbus_last_error());
	} else if (rc < 0) {
		atomic_fetch_add(&sh->other, 1);
		atomic_store(&sh->last_error, rc);
	}
	atomic_fetch_add(&sh->done, 1);
	pause(); /* until SIGKILLed, holding its entry */
	return 0;
}

static void churn(const char *name, unsigned n, unsigned rounds)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	unsigned char buf[64];
	struct mdbus_msg msg;
	struct seg_table_header *h;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	pid_t kids[MAXN];
	size_t len;
	unsigned live = 0;

	channel = name;
	c.max_consumers = n;
	p = tu_pub_open(name, &c);
	for (unsigned r = 0; r < rounds; r++) {
		memset(sh, 0, sizeof *sh);
		for (unsigned i = 0; i < n; i++)
			kids[i] = tu_spawn(registrant, NULL);
		tu_await(&sh->done, n, 60, "registrants");
		if (atomic_load(&sh->refused) || atomic_load(&sh->other))
			tu_fail("%s round %u: %u of %u readers refused, %u "
				"failed (%s: %s) with every entry held by a "
				"dead or competing reader", name, r,
				atomic_load(&sh->refused), n,
				atomic_load(&sh->other),
				mdbus_strerror(atomic_load(&sh->last_error)),
				sh->why);
		for (unsigned i = 0; i < n; i++)
			tu_kill_reap(kids[i]);
		live += n;
	}
	tu_note("%s: %u rounds of %u concurrent registrations, no refusal",
		name, rounds, n);
	s = tu_sub_open(name, "final", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof buf, &msg, 1000000000), 0);
	TU_CHECK_EQ(msg.seq, 0);
	h = tu_map_file(tu_table_path(name), &len);
	/* every killed reader's entry was reclaimed exactly once: by a later
	 * round's registrant or by the final reader */
	TU_CHECK_EQ(atomic_load(&h->registrations), live + 1);
	TU_CHECK_EQ(atomic_load(&h->reclaims), live);
	{
		struct mdbus_consumer_stat cs[MAXN];
		struct mdbus_stats st;
		unsigned active = 0;

		TU_CHECK_RC(mdbus_pub_reap(p), 0);
		TU_CHECK_RC(mdbus_channel_stats(name, tu_dir(), &st, cs, MAXN), 0);
		for (unsigned i = 0; i < n; i++)
			active += cons_state(atomic_load(&tu_entry(h, i)->state)) == CONS_ACTIVE;
		TU_CHECK_EQ(active, 1);
		TU_CHECK_EQ(st.consumers, 1);
		TU_CHECK(strcmp(cs[0].name, "final") == 0);
		TU_CHECK_EQ(cs[0].alive, 1);
		TU_CHECK_EQ(atomic_load(&h->reclaims), live);
		TU_CHECK_EQ(waiters_count(atomic_load(&h->waiters)), 0);
	}
	tu_unmap(h, len);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* ----------------------------------- a live reader that looks like a zombie */

static void *keep_reading(void *arg)
{
	mdbus_sub_t *s = arg;
	unsigned char buf[64];
	struct mdbus_msg m;

	while (mdbus_sub_read(s, buf, sizeof buf, &m, 100000000) != 0)
		;
	atomic_fetch_add(&sh->done, 1); /* got a message: still registered */
	_exit(0);
}

/* Registers, then its main thread exits while another thread reads on:
 * /proc shows the process as a zombie, yet it is alive. */
static int zombie_leader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("zleader", "zleader", MDBUS_START_LATEST,
				     0, MDBUS_WAIT_BLOCK);
	pthread_t t;

	(void)arg;
	pthread_create(&t, NULL, keep_reading, s);
	pthread_exit(NULL);
}

static void live_zombie_leader(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	struct mdbus_consumer_stat cs[2];
	struct mdbus_stats st;
	mdbus_pub_t *p;
	pid_t kid;

	memset(sh, 0, sizeof *sh);
	p = tu_pub_open("zleader", &c);
	kid = tu_spawn(zombie_leader, NULL);
	tu_await_state(kid, 'Z', 60, "reader whose main thread exited");
	TU_CHECK_RC(mdbus_pub_reap(p), 0);
	TU_CHECK_RC(mdbus_channel_stats("zleader", tu_dir(), &st, cs, 2), 0);
	TU_CHECK_EQ(st.consumers, 1);
	TU_CHECK_EQ(cs[0].alive, 1);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	tu_await(&sh->done, 1, 60, "the zombie leader's reader thread");
	TU_CHECK_EQ(tu_wait(kid, 60), 0);
	mdbus_pub_close(p);
}

int main(void)
{
	tu_init("t_register", 240);
	sh = tu_shared(sizeof *sh);
	live_zombie_leader();
	churn("churn8", 8, 300);
	churn("churn64", 64, 20);
	return 0;
}
