/*
 * mdbus_tp.c - libmdbus as a bench transport: one channel per run in the
 * private segment directory, geometry BENCH_RING_SLOTS slots of the cell's
 * slot size. publish passes an explicit timestamp (as a feed handler passes
 * its receive time), so the library reads no clock; readers are registered
 * consumers reading with mdbus_sub_read(), no timeout, with the cell's wait
 * strategy.
 */
#include <errno.h>

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
	return 0;
}

static void mdbus_tp_sub_close(void *sub)
{
	mdbus_sub_close(sub);
}

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
};
