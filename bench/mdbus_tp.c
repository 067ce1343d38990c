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
 * reader takes up to BATCH at a
 * time with mdbus_sub_poll(), copying each payload into its own queue
 * inside the handler (its one copy, as the ring's reader makes one; the
 * driver gets a pointer to it), and waits with mdbus_sub_read() only when
 * the poll found nothing; catching up, it drains with mdbus_sub_poll()
 * straight into the driver's buffer, as many a call as are there.
 * Throughput and publish cost only: a buffered message waits for its
 * batch, so a latency would measure the buffer.
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

static int mdbus_tp_read(void *sub, void *buf, size_t len, struct bench_rx *rx)
{
	struct mdbus_msg msg;
	int r = mdbus_sub_read(sub, buf, len, &msg, -1);

	if (r < 0)
		return r;
	rx->seq = msg.seq;
	rx->lost = msg.lost;
	rx->payload = buf;
	return 0;
}

static void mdbus_tp_sub_close(void *sub)
{
	mdbus_sub_close(sub);
}

/* ------------------------------------------------------------- batches */

#define BATCH 32u
#define BATCH_WORDS (BENCH_MAX_SLOT / 8)

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

struct batch_sub {
	mdbus_sub_t *sub;
	unsigned head, n;      /* queue[head, n) not yet handed out */
	uint64_t taken_back;   /* handed over then overwritten: lost */
	struct bench_rx rx[BATCH];
	uint64_t data[BATCH][BATCH_WORDS];
	size_t len;
};

static int batch_sub_open(struct bench_run *run, void **out)
{
	struct batch_sub *b = calloc(1, sizeof(*b));
	int r;

	*out = b;
	if (!b)
		return -ENOMEM;
	b->len = run->cell.slot_size - MDBUS_SLOT_HEADER;
	r = mdbus_tp_sub_open(run, (void **)&b->sub);
	if (r < 0) {
		free(b);
		*out = NULL;
	}
	return r;
}

static int batch_take(void *arg, const struct mdbus_msg *msg, const void *payload)
{
	struct batch_sub *b = arg;

	if (!payload) { /* the last one handed over was overwritten */
		b->n--;
		b->taken_back++;
		return 0;
	}
	b->rx[b->n].seq = msg->seq;
	b->rx[b->n].lost = msg->lost + b->taken_back;
	b->taken_back = 0;
	bench_copy(b->data[b->n], payload, msg->size < b->len ? msg->size : b->len);
	b->n++;
	return 0;
}

static int batch_read(void *sub, void *buf, size_t len, struct bench_rx *rx)
{
	struct batch_sub *b = sub;
	struct mdbus_msg msg;
	int r;

	while (b->head == b->n) {
		b->head = b->n = 0;
		r = mdbus_sub_poll(b->sub, batch_take, b, BATCH);
		if (r < 0)
			return r;
		if (b->n > 0)
			break;
		/* Nothing there: wait the cell's way for one message. */
		r = mdbus_sub_read(b->sub, buf, len, &msg, -1);
		if (r < 0)
			return r;
		rx->seq = msg.seq;
		rx->lost = msg.lost + b->taken_back;
		rx->payload = buf;
		b->taken_back = 0;
		return 0;
	}
	*rx = b->rx[b->head];
	rx->payload = b->data[b->head]; /* copied once, in the handler */
	b->head++;
	return 0;
}

struct drain {
	unsigned char *buf;
	size_t len;
	uint64_t lost;
};

static int drain_take(void *arg, const struct mdbus_msg *msg, const void *payload)
{
	struct drain *d = arg;

	if (!payload) { /* the last one handed over was overwritten */
		d->lost++;
		return 0;
	}
	d->lost += msg->lost;
	bench_copy(d->buf, payload, msg->size < d->len ? msg->size : d->len);
	return 0;
}

/* What the queue holds first (left by batch_read()), then mdbus_sub_poll()
 * straight into buf, one copy a message. */
static int batch_drain(void *sub, void *buf, size_t len, unsigned max,
		       uint64_t *lost)
{
	struct batch_sub *b = sub;
	struct drain d = { buf, len, b->taken_back };
	unsigned queued = 0;
	int r;

	b->taken_back = 0;
	for (; b->head < b->n && queued < max; b->head++, queued++) {
		bench_copy(buf, b->data[b->head], len < 8 * BATCH_WORDS ? len : 8 * BATCH_WORDS);
		d.lost += b->rx[b->head].lost;
	}
	r = queued < max ? mdbus_sub_poll(b->sub, drain_take, &d, max - queued) : 0;
	*lost += d.lost;
	return r < 0 ? r : r + (int)queued;
}

static void batch_sub_close(void *sub)
{
	struct batch_sub *b = sub;

	mdbus_sub_close(b->sub);
	free(b);
}

/* Blocks are page aligned, MDBUS_BLOCK_SLOTS slots each (doc/protocol.md,
 * "Segment layout"). */
static uint32_t mdbus_tp_page_offset(const struct bench_run *run, uint64_t seq)
{
	uint64_t at = (seq & (MDBUS_BLOCK_SLOTS - 1)) * run->cell.slot_size;

	return (uint32_t)(at % BENCH_PAGE);
}

const struct bench_transport bench_mdbus_batch_transport = {
	.name = "mdbus-b",
	.setup = mdbus_tp_setup,
	.teardown = mdbus_tp_teardown,
	.pub_open = batch_pub_open,
	.publish = batch_publish,
	.publish_burst = batch_publish_burst,
	.flush = batch_flush,
	.pub_close = batch_pub_close,
	.sub_open = batch_sub_open,
	.sub_read = batch_read,
	.sub_drain = batch_drain,
	.sub_close = batch_sub_close,
	.page_offset = mdbus_tp_page_offset,
};

const struct bench_transport bench_mdbus_transport = {
	.name = "mdbus",
	.setup = mdbus_tp_setup,
	.teardown = mdbus_tp_teardown,
	.pub_open = mdbus_tp_pub_open,
	.publish = mdbus_tp_publish,
	.pub_close = mdbus_tp_pub_close,
	.sub_open = mdbus_tp_sub_open,
	.sub_read = mdbus_tp_read,
	.sub_close = mdbus_tp_sub_close,
	.page_offset = mdbus_tp_page_offset,
};
