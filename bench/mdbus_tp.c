/*
 * mdbus_tp.c - libmdbus as a bench transport: one channel per run in the
 * private segment directory, geometry BENCH_RING_SLOTS slots of the cell's
 * slot size. publish passes an explicit timestamp (as a feed handler passes
 * its receive time), so the library reads no clock; readers are registered
 * consumers reading with mdbus_sub_read(), no timeout, with the cell's wait
 * strategy.
 *
 * mdbus-b, the same channel used in batches: unpaced, the producer
 * gets BENCH_BURST messages at a time in place (drivers.c: each in its
 * own buffer, as a feed handler's decoded packet) and publishes them with
 * one mdbus_pub_publish_batch(), no copy of its own; paced (the warm-up),
 * it buffers BATCH messages one by one (a copy) and sends them with
 * mdbus_pub_publish_batch() (the drivers flush the rest at the end); the
 * reader takes what is there with mdbus_sub_poll(), up to BATCH_POLL a
 * call, its handler copying each payload into the driver's buffer (its
 * one copy, as the ring's reader makes one) and doing the driver's part
 * (bench_take()) in place, and waits with mdbus_sub_read() only when the
 * poll found nothing. Throughput and publish cost only: a buffered
 * message waits for its batch, so a latency would measure the buffer.
 *
 * mdbus-v, mdbus-b's producer with a reader that takes views:
 * mdbus_sub_peek() of up to BATCH_POLL messages, each copied out and
 * taken in place (mdbus_view_msg()), then one mdbus_sub_release() of
 * them (view_consume()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mdbus.h"
#include "mdbus_msg.h"

#define MDBUS_BLOCK_SLOTS 4096u

static int mdbus_tp_setup(struct bench_run *run)
{
	(void)run;
	return 0;
}

static void mdbus_tp_teardown(struct bench_run *run)
{
	int r = mdbus_unlink(run->channel, run->dir);

	if (r < 0 && r != -ENOENT) /* ENOENT: the run failed before creating */
		bench_fail("mdbus_unlink", r);
}

/* Passes r through, saying what failed. */
static int checked(int r, const char *what)
{
	if (r < 0)
		bench_fail(what, r);
	return r;
}

static int mdbus_tp_pub_open(struct bench_run *run, void **out)
{
	struct mdbus_pub_config cfg;
	mdbus_pub_t *pub = NULL;
	int r;

	mdbus_pub_config_init(&cfg);
	cfg.slot_size = run->cell.slot_size;
	cfg.slots_per_block = MDBUS_BLOCK_SLOTS;
	cfg.block_count = BENCH_RING_SLOTS / MDBUS_BLOCK_SLOTS;
	cfg.mode = run->cell.mode == BENCH_LOSSLESS ? MDBUS_MODE_LOSSLESS
						    : MDBUS_MODE_OVERWRITE;
	cfg.dir = run->dir;
	r = mdbus_pub_open(&pub, run->channel, &cfg);
	*out = pub;
	return checked(r, "mdbus_pub_open");
}

static int mdbus_tp_publish(void *pub, const void *data, size_t size)
{
	int r = mdbus_pub_publish(pub, MDBUS_MSG_RAW, data, size, 1);

	return r == MDBUS_EBACKPRESSURE ? -EAGAIN : r;
}

static void mdbus_tp_pub_close(void *pub)
{
	mdbus_pub_close(pub);
}

static int mdbus_tp_sub_open(struct bench_run *run, void **out)
{
	struct mdbus_sub_config cfg;
	mdbus_sub_t *sub = NULL;
	int r;

	mdbus_sub_config_init(&cfg);
	cfg.wait = run->cell.wait == BENCH_SPIN ? MDBUS_WAIT_SPIN
						: MDBUS_WAIT_ADAPTIVE;
	cfg.dir = run->dir;
	r = mdbus_sub_open(&sub, run->channel, &cfg);
	*out = sub;
	return checked(r, "mdbus_sub_open");
}

/* mdbus_sub_read() in a loop, as a program reading one message at a
 * time does. */
static int mdbus_tp_consume(void *sub, struct bench_sink *k)
{
	struct mdbus_msg msg;
	int r;

	do {
		r = mdbus_sub_read(sub, k->buf, k->len, &msg, -1);
		if (r < 0)
			return r;
	} while (!bench_take(k, msg.seq, msg.lost, k->buf));
	return 0;
}

static void mdbus_tp_sub_close(void *sub)
{
	mdbus_sub_close(sub);
}

/* ------------------------------------------------------------- batches */

#define BATCH 32u
#define BATCH_WORDS (BENCH_MAX_SLOT / 8)
#define BATCH_POLL 1024u /* messages a poll takes at most */

struct batch_pub {
	mdbus_pub_t *pub;
	unsigned head, n; /* msgs[head, n) wait to go out */
	struct mdbus_pub_msg msgs[BATCH];
	uint64_t data[BATCH][BATCH_WORDS];
};

static int batch_pub_open(struct bench_run *run, void **out)
{
	struct batch_pub *b = calloc(1, sizeof(*b));
	int r;

	*out = b;
	if (!b)
		return -ENOMEM;
	r = mdbus_tp_pub_open(run, (void **)&b->pub);
	if (r < 0) {
		free(b);
		*out = NULL;
	}
	return r;
}

/* Sends what is buffered, as much as the ring takes. */
static int batch_send(struct batch_pub *b)
{
	int r = mdbus_pub_publish_batch(b->pub, b->msgs + b->head, b->n - b->head);

	if (r == MDBUS_EBACKPRESSURE)
		return -EAGAIN;
	if (r < 0)
		return r;
	b->head += (unsigned)r;
	if (b->head == b->n)
		b->head = b->n = 0;
	return 0;
}

static int batch_publish(void *pub, const void *data, size_t size)
{
	struct batch_pub *b = pub;
	struct mdbus_pub_msg *m;
	int r;

	if (b->n == BATCH) {
		r = batch_send(b);
		if (r < 0 || b->n == BATCH)
			return r < 0 ? r : -EAGAIN;
	}
	m = &b->msgs[b->n];
	bench_copy(b->data[b->n], data, size);
	m->data = b->data[b->n];
	m->size = (uint32_t)size;
	m->type = MDBUS_MSG_RAW;
	m->ts_ns = 1;
	if (++b->n == BATCH)
		(void)batch_send(b); /* back-pressure: the next call retries */
	return 0;
}

/* Messages in place (the harness's unpaced bursts): what publish()
 * buffered goes first, then one mdbus_pub_publish_batch() of them,
 * which takes as many as the ring has room for. */
static int batch_publish_burst(void *pub, const uint64_t *msg, size_t stride,
			       unsigned count, size_t size)
{
	struct batch_pub *b = pub;
	struct mdbus_pub_msg m[BENCH_BURST];
	unsigned i;
	int r;

	if (b->n > 0 && ((r = batch_send(b)) < 0 || b->n > 0))
		return r < 0 ? r : -EAGAIN;
	if (count > BENCH_BURST)
		count = BENCH_BURST;
	for (i = 0; i < count; i++)
		m[i] = (struct mdbus_pub_msg){ .data = msg + i * stride,
			.size = (uint32_t)size, .type = MDBUS_MSG_RAW, .ts_ns = 1 };
	r = mdbus_pub_publish_batch(b->pub, m, count);
	return r == MDBUS_EBACKPRESSURE ? -EAGAIN : r;
}

static int batch_flush(void *pub)
{
	struct batch_pub *b = pub;
	int r = 0;

	while (b->n > 0 && (r = batch_send(b)) == -EAGAIN)
		;
	return r;
}

static void batch_pub_close(void *pub)
{
	struct batch_pub *b = pub;

	mdbus_pub_close(b->pub);
	free(b);
}

/* A mdbus_sub_poll() handler: copies the payload (the one copy) and
 * hands the message over; stops the poll at the last one. A message
 * taken back (overwritten while handed over) is lost. */
static int batch_take(void *arg, const struct mdbus_msg *msg, const void *payload)
{
	struct bench_sink *k = arg;

	if (!payload) {
		if (msg->seq >= k->warmup)
			k->lost++;
		return 0;
	}
	bench_copy(k->buf, payload, msg->size < k->len ? msg->size : k->len);
	return bench_take(k, msg->seq, msg->lost, k->buf);
}

/* mdbus_sub_poll() while messages are there, up to BATCH_POLL a call;
 * mdbus_sub_read() (the cell's wait) when a poll found none. */
static int batch_consume(void *sub, struct bench_sink *k)
{
	struct mdbus_msg msg;
	int r;

	k->done = 0;
	while (!k->done) {
		r = mdbus_sub_poll(sub, batch_take, k, BATCH_POLL);
		if (r != 0) {
			if (r < 0)
				return r;
			continue;
		}
		r = mdbus_sub_read(sub, k->buf, k->len, &msg, -1);
		if (r < 0)
			return r;
		(void)bench_take(k, msg.seq, msg.lost, k->buf);
	}
	return 0;
}

/* mdbus_sub_peek() while messages are there, up to BATCH_POLL a view,
 * each message copied out of the view (the one copy) and taken in place
 * until mdbus_view_msg() ends the view, then mdbus_sub_release() of
 * those taken: the ones it says were
 * overwritten meanwhile are lost; mdbus_sub_read() (the cell's wait)
 * when a peek found none. */
static int view_consume(void *sub, struct bench_sink *k)
{
	struct mdbus_view v;
	struct mdbus_msg msg;
	unsigned i;
	int r;

	k->done = 0;
	while (!k->done) {
		r = mdbus_sub_peek(sub, &v, BATCH_POLL);
		if (r < 0)
			return r;
		if (r == 0) {
			r = mdbus_sub_read(sub, k->buf, k->len, &msg, -1);
			if (r < 0)
				return r;
			(void)bench_take(k, msg.seq, msg.lost, k->buf);
			continue;
		}
		for (i = 0; i < v.count && !k->done; i++) {
			const void *payload = mdbus_view_msg(&v, i, &msg);

			if (!payload)
				break;
			bench_copy(k->buf, payload,
				   msg.size < k->len ? msg.size : k->len);
			(void)bench_take(k, msg.seq, msg.lost, k->buf);
		}
		r = mdbus_sub_release(sub, &v, i);
		if (r < 0)
			return r;
		if (v.seq + (uint64_t)r > k->warmup) /* the torn ones counted */
			k->lost += v.seq + (uint64_t)r - (v.seq > k->warmup ?
							    v.seq : k->warmup);
	}
	return 0;
}

/* Blocks are page aligned, MDBUS_BLOCK_SLOTS slots each (doc/protocol.md,
 * "Segment layout"). */
static uint32_t mdbus_tp_page_offset(const struct bench_run *run, uint64_t seq)
{
	uint64_t at = (seq & (MDBUS_BLOCK_SLOTS - 1)) * run->cell.slot_size;

	return (uint32_t)(at % BENCH_PAGE);
}

/* mdbus-b's producer, with the reader `consume` (mdbus-b, mdbus-v). */
#define BATCH_TRANSPORT(tp_name, consume)                                     \
	{                                                                    \
		.name = tp_name,                                             \
		.setup = mdbus_tp_setup,                                     \
		.teardown = mdbus_tp_teardown,                               \
		.pub_open = batch_pub_open,                                  \
		.publish = batch_publish,                                    \
		.publish_burst = batch_publish_burst,                        \
		.flush = batch_flush,                                        \
		.pub_close = batch_pub_close,                                \
		.sub_open = mdbus_tp_sub_open,                               \
		.sub_consume = consume,                                      \
		.sub_close = mdbus_tp_sub_close,                             \
		.page_offset = mdbus_tp_page_offset,                         \
	}

const struct bench_transport bench_mdbus_batch_transport =
	BATCH_TRANSPORT("mdbus-b", batch_consume);
const struct bench_transport bench_mdbus_view_transport =
	BATCH_TRANSPORT("mdbus-v", view_consume);

const struct bench_transport bench_mdbus_transport = {
	.name = "mdbus",
	.setup = mdbus_tp_setup,
	.teardown = mdbus_tp_teardown,
	.pub_open = mdbus_tp_pub_open,
	.publish = mdbus_tp_publish,
	.pub_close = mdbus_tp_pub_close,
	.sub_open = mdbus_tp_sub_open,
	.sub_consume = mdbus_tp_consume,
	.sub_close = mdbus_tp_sub_close,
	.page_offset = mdbus_tp_page_offset,
};

