/*
 * icount.c - what one message costs in one process, with no second core
 * involved: mdbus_pub_publish() and mdbus_sub_read() against the bare
 * ring's publish and read (ring.c), the reader catching up after each
 * burst of the producer; mdbus_pub_publish_batch() in batches of
 * ICOUNT_BATCH, nobody reading; and mdbus_sub_poll() catching up after
 * each burst, ICOUNT_POLL a call, its handler copying each payload as
 * the bench's batch reader does (mdbus_tp.c); and the same read in views
 * (mdbus_sub_peek(), mdbus_sub_release()), each payload copied the same.
 *
 * Two modes:
 *   icount DIR BURSTS         under callgrind (icount.sh): every function
 *                             under test handles BURSTS * ICOUNT_BURST
 *                             40-byte messages (mdbus_pub_publish() three
 *                             times that: the poll's and the views' runs
 *                             publish their own);
 *                             prints each one's name and count of
 *                             messages. Unlike a time, the instruction count
 *                             is the same on every run and every machine
 *                             with this compiler.
 *   icount --time DIR BURSTS  the time: each burst's publishes and reads
 *                             timed apart, the best burst of BURSTS kept
 *                             (what the code costs when nothing else
 *                             interferes: a VM's stalls only ever add),
 *                             for 40- and 37-byte messages (a whole number
 *                             of words, and a tail).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mdbus.h"
#include "mdbus_msg.h"

#define ICOUNT_BURST 60000u
#define ICOUNT_SLOT 64u
#define ICOUNT_SIZE (ICOUNT_SLOT - MDBUS_SLOT_HEADER) /* 40 bytes */
#define ICOUNT_TAIL_SIZE (ICOUNT_SIZE - 3)          /* 37 bytes */
#define ICOUNT_BATCH 32u /* messages a mdbus_pub_publish_batch() call;
			    divides ICOUNT_BURST */

#define ICOUNT_POLL 1024u /* messages a mdbus_sub_poll() call takes at
			    most: the bench's batch reader's (mdbus_tp.c) */

/* The best (lowest) ns a message of a burst, publishing and reading. */
struct burst_cost {
	double publish;
	double read;
};

/* What the poll handler copies each payload into, and how many it took. */
struct poll_sink {
	uint64_t buf[ICOUNT_SLOT / 8];
	size_t size;
	uint64_t taken;
};

static void keep_best(struct burst_cost *c, uint64_t t0, uint64_t t1,
		      uint64_t t2)
{
	double pub = (double)(t1 - t0) / ICOUNT_BURST;
	double read = (double)(t2 - t1) / ICOUNT_BURST;

	if (pub < c->publish)
		c->publish = pub;
	if (read < c->read)
		c->read = read;
}

/* The publisher of channel icount in dir: 64-byte slots, the bench's
 * ring size, overwrite. */
static int open_pub(const char *dir, mdbus_pub_t **p)
{
	struct mdbus_pub_config pc;
	int r;

	mdbus_pub_config_init(&pc);
	pc.dir = dir;
	pc.slot_size = ICOUNT_SLOT;
	pc.slots_per_block = 4096;
	pc.block_count = BENCH_RING_SLOTS / 4096;
	r = mdbus_pub_open(p, "icount", &pc);
	if (r < 0)
		bench_fail("mdbus_pub_open", r);
	return r;
}

/* The publisher and a spinning reader of channel icount in dir. */
static int open_pair(const char *dir, mdbus_pub_t **p, mdbus_sub_t **s)
{
	struct mdbus_sub_config sc;
	int r;

	r = open_pub(dir, p);
	if (r < 0)
		return r;
	mdbus_sub_config_init(&sc);
	sc.dir = dir;
	sc.wait = MDBUS_WAIT_SPIN;
	r = mdbus_sub_open(s, "icount", &sc);
	if (r < 0) {
		mdbus_pub_close(*p);
		bench_fail("mdbus_sub_open", r);
	}
	return r;
}

static void close_pair(const char *dir, mdbus_pub_t *p, mdbus_sub_t *s)
{
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	mdbus_unlink("icount", dir);
}

/* One burst of ICOUNT_BURST single publishes, message i carrying i. */
static int publish_burst(mdbus_pub_t *p, size_t size)
{
	uint64_t msg[ICOUNT_SLOT / 8] = { 0 };
	unsigned i;
	int r = 0;

	for (i = 0; i < ICOUNT_BURST && r == 0; i++) {
		msg[0] = i;
		r = mdbus_pub_publish(p, MDBUS_MSG_RAW, msg, size, 1);
	}
	return r;
}

static int run_mdbus(const char *dir, unsigned bursts, size_t size,
		     struct burst_cost *c)
{
	uint64_t buf[ICOUNT_SLOT / 8], t0, t1, t2;
	struct mdbus_msg m;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	unsigned b, i;
	int r;

	r = open_pair(dir, &p, &s);
	if (r < 0)
		return r;
	for (b = 0; b < bursts && r == 0; b++) {
		t0 = bench_now();
		r = publish_burst(p, size);
		t1 = bench_now();
		for (i = 0; i < ICOUNT_BURST && r == 0; i++)
			r = mdbus_sub_read(s, buf, sizeof(buf), &m, -1);
		t2 = bench_now();
		keep_best(c, t0, t1, t2);
	}
	if (r < 0)
		bench_fail("mdbus", r);
	close_pair(dir, p, s);
	return r;
}

/* mdbus_pub_publish_batch() of ICOUNT_BATCH messages a call, bursts of
 * ICOUNT_BURST messages, nobody reading; the best burst's ns a message
 * into *ns. */
static int run_mdbus_batch(const char *dir, unsigned bursts, size_t size,
			   double *ns)
{
	uint64_t msgs[ICOUNT_BATCH][ICOUNT_SLOT / 8];
	struct mdbus_pub_msg batch[ICOUNT_BATCH];
	mdbus_pub_t *p;
	unsigned b, i, k;
	uint64_t t0, t1;
	int r;

	memset(msgs, 0, sizeof(msgs));
	for (k = 0; k < ICOUNT_BATCH; k++) {
		batch[k].data = msgs[k];
		batch[k].size = (uint32_t)size;
		batch[k].type = MDBUS_MSG_RAW;
		batch[k].ts_ns = 1;
	}
	r = open_pub(dir, &p);
	if (r < 0)
		return r;
	for (b = 0; b < bursts && r >= 0; b++) {
		t0 = bench_now();
		for (i = 0; i < ICOUNT_BURST && r >= 0; i += ICOUNT_BATCH) {
			for (k = 0; k < ICOUNT_BATCH; k++)
				msgs[k][0] = i + k;
			r = mdbus_pub_publish_batch(p, batch, ICOUNT_BATCH);
		}
		t1 = bench_now();
		if (r >= 0 && (double)(t1 - t0) / ICOUNT_BURST < *ns)
			*ns = (double)(t1 - t0) / ICOUNT_BURST;
	}
	if (r < 0)
		bench_fail("mdbus_pub_publish_batch", r);
	mdbus_pub_close(p);
	mdbus_unlink("icount", dir);
	return r < 0 ? r : 0;
}

static int poll_copy(void *arg, const struct mdbus_msg *msg, const void *payload)
{
	struct poll_sink *k = arg;

	if (!payload)
		return 0;
	bench_copy(k->buf, payload, msg->size < k->size ? msg->size : k->size);
	k->taken++;
	return 0;
}

/* A catch-up's read: takes what it can of a burst into k, returns what
 * mdbus_sub_poll() returns. */
typedef int catchup_read(mdbus_sub_t *s, struct poll_sink *k);

/* mdbus_sub_poll() of up to ICOUNT_POLL with poll_copy(). */
static int poll_read(mdbus_sub_t *s, struct poll_sink *k)
{
	return mdbus_sub_poll(s, poll_copy, k, ICOUNT_POLL);
}

/* One view of up to ICOUNT_POLL messages, each payload copied as
 * poll_copy() copies it (up to where mdbus_view_msg() ends the view),
 * then released: the messages taken, or a negative code. Out of line,
 * so that callgrind counts it apart. */
static __attribute__((noinline)) int view_read(mdbus_sub_t *s,
					       struct poll_sink *k)
{
	struct mdbus_view v;
	struct mdbus_msg msg;
	unsigned i;
	int r = mdbus_sub_peek(s, &v, ICOUNT_POLL);

	if (r <= 0)
		return r;
	for (i = 0; i < v.count; i++) {
		const void *payload = mdbus_view_msg(&v, i, &msg);

		if (!payload)
			break;
		bench_copy(k->buf, payload, msg.size < k->size ? msg.size : k->size);
	}
	r = mdbus_sub_release(s, &v, i);
	if (r < 0)
		return r;
	k->taken += i - (unsigned)r;
	return (int)i;
}

/* mdbus_pub_publish() bursts, each then read by `read` until it took the
 * burst; the best burst's ns a message read into *ns. */
static int run_catchup(const char *dir, unsigned bursts, size_t size,
		       catchup_read *read, const char *what, double *ns)
{
	struct poll_sink k = { .size = size };
	uint64_t t0, t1;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	unsigned b;
	int r;

	r = open_pair(dir, &p, &s);
	if (r < 0)
		return r;
	for (b = 0; b < bursts && r >= 0; b++) {
		r = publish_burst(p, size);
		k.taken = 0;
		t0 = bench_now();
		while (k.taken < ICOUNT_BURST && r >= 0)
			r = read(s, &k);
		t1 = bench_now();
		if (r >= 0 && (double)(t1 - t0) / ICOUNT_BURST < *ns)
			*ns = (double)(t1 - t0) / ICOUNT_BURST;
	}
	if (r >= 0 && k.taken != ICOUNT_BURST)
		r = -EPROTO; /* a read took more than the burst */
	if (r < 0)
		bench_fail(what, r);
	close_pair(dir, p, s);
	return r < 0 ? r : 0;
}

static int run_ring(unsigned bursts, size_t size, struct burst_cost *c)
{
	const struct bench_transport *tp = &bench_ring_transport;
	uint64_t msg[ICOUNT_SLOT / 8] = { 0 }, buf[ICOUNT_SLOT / 8];
	uint64_t t0, t1, t2;
	struct bench_run run;
	struct bench_rx rx;
	void *p = NULL, *s = NULL;
	unsigned b, i;
	int r;

	memset(&run, 0, sizeof(run));
	run.cell.slot_size = ICOUNT_SLOT;
	run.cell.mode = BENCH_OVERWRITE;
	if (tp->setup(&run) < 0)
		return -1;
	r = tp->pub_open(&run, &p);
	if (r == 0)
		r = tp->sub_open(&run, &s);
	for (b = 0; b < bursts && r == 0; b++) {
		t0 = bench_now();
		for (i = 0; i < ICOUNT_BURST && r == 0; i++) {
			msg[0] = i;
			r = tp->publish(p, msg, size);
		}
		t1 = bench_now();
		for (i = 0; i < ICOUNT_BURST && r == 0; i++)
			r = tp->sub_read(s, buf, size, &rx);
		t2 = bench_now();
		keep_best(c, t0, t1, t2);
	}
	if (s)
		tp->sub_close(s);
	if (p)
		tp->pub_close(p);
	tp->teardown(&run);
	return r;
}

/* --time: the table, one line per message size. */
static int time_sizes(const char *dir, unsigned bursts)
{
	static const size_t sizes[] = { ICOUNT_SIZE, ICOUNT_TAIL_SIZE };
	size_t k;

	printf("== in-process cost: ns a message, best burst of %u x %u, the "
	       "reader catching up after each\n", bursts, ICOUNT_BURST);
	printf("size | publish mdbus   ring  ratio | read mdbus   ring  ratio "
	       "| batches of %u mdbus  ratio | poll mdbus  ratio | views mdbus  ratio\n",
	       ICOUNT_BATCH);
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct burst_cost md = { 1e9, 1e9 }, ring = { 1e9, 1e9 };
		double batch = 1e9, poll = 1e9, view = 1e9;

		if (run_mdbus(dir, bursts, sizes[k], &md) < 0 ||
		    run_ring(bursts, sizes[k], &ring) < 0 ||
		    run_mdbus_batch(dir, bursts, sizes[k], &batch) < 0 ||
		    run_catchup(dir, bursts, sizes[k], poll_read, "mdbus_sub_poll",
				&poll) < 0 ||
		    run_catchup(dir, bursts, sizes[k], view_read, "mdbus_sub_peek",
				&view) < 0)
			return 1;
		printf("%4zu |       %5.2f  %5.2f  %5.2f |    %5.2f  %5.2f  %5.2f "
		       "|              %5.2f  %5.2f |      %5.2f  %5.2f "
		       "|       %5.2f  %5.2f\n",
		       sizes[k], md.publish, ring.publish, md.publish / ring.publish,
		       md.read, ring.read, md.read / ring.read, batch,
		       batch / ring.publish, poll, poll / ring.read, view,
		       view / ring.read);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct burst_cost unused = { 1e9, 1e9 };
	int timed = argc == 4 && strcmp(argv[1], "--time") == 0;
	unsigned long n;
	unsigned bursts;

	if ((argc != 3 && !timed) ||
	    (bursts = (unsigned)strtoul(argv[argc - 1], NULL, 10)) == 0) {
		fprintf(stderr, "usage: icount [--time] DIR BURSTS\n");
		return 64;
	}
	if (timed)
		return time_sizes(argv[2], bursts);
	if (run_mdbus(argv[1], bursts, ICOUNT_SIZE, &unused) < 0 ||
	    run_ring(bursts, ICOUNT_SIZE, &unused) < 0 ||
	    run_mdbus_batch(argv[1], bursts, ICOUNT_SIZE, &unused.publish) < 0 ||
	    run_catchup(argv[1], bursts, ICOUNT_SIZE, poll_read, "mdbus_sub_poll",
			&unused.read) < 0 ||
	    run_catchup(argv[1], bursts, ICOUNT_SIZE, view_read, "mdbus_sub_peek",
			&unused.read) < 0)
		return 1;
	/* The messages each function under test handled (icount.sh divides
	 * its instructions by them): the poll's run publishes its own. */
	n = (unsigned long)bursts * ICOUNT_BURST;
	printf("mdbus_pub_publish %lu\nmdbus_sub_read %lu\nring_publish %lu\n"
	       "ring_read %lu\nmdbus_pub_publish_batch %lu\nmdbus_sub_poll %lu\n"
	       "poll_copy %lu\nview_read %lu\n", 3 * n, n, n, n, n, n, n, n);
	return 0;
}
