/*
 * icount.c - the instructions one message costs, counted by callgrind
 * (icount.sh): mdbus_pub_publish() and mdbus_sub_read() against the bare
 * ring's publish and read (ring.c), in one process, the reader catching
 * up after each burst. Unlike a time, the count is the same on every run
 * and every machine with this compiler; it explains the time tables of
 * mdbench where the machine exposes no cycle counters (a VM).
 *
 * Usage: icount DIR BURSTS; every function under test is called
 * BURSTS * ICOUNT_BURST times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mdbus.h"
#include "mdbus_msg.h"

#define ICOUNT_BURST 60000u
#define ICOUNT_SLOT 64u
#define ICOUNT_SIZE (ICOUNT_SLOT - MDBUS_SLOT_HEADER) /* 40 bytes */


static int run_mdbus(const char *dir, unsigned bursts)
{
	struct mdbus_pub_config pc;
	struct mdbus_sub_config sc;
	uint64_t msg[ICOUNT_SLOT / 8] = { 0 }, buf[ICOUNT_SLOT / 8];
	struct mdbus_msg m;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	unsigned b, i;
	int r;

	mdbus_pub_config_init(&pc);
	pc.dir = dir;
	pc.slot_size = ICOUNT_SLOT;
	pc.slots_per_block = 4096;
	pc.block_count = BENCH_RING_SLOTS / 4096;
	r = mdbus_pub_open(&p, "icount", &pc);
	if (r < 0)
		return bench_fail("mdbus_pub_open", r), r;
	mdbus_sub_config_init(&sc);
	sc.dir = dir;
	sc.wait = MDBUS_WAIT_SPIN;
	r = mdbus_sub_open(&s, "icount", &sc);
	if (r < 0) {
		mdbus_pub_close(p);
		return bench_fail("mdbus_sub_open", r), r;
	}
	for (b = 0; b < bursts && r == 0; b++) {
		for (i = 0; i < ICOUNT_BURST && r == 0; i++) {
			msg[0] = i;
			r = mdbus_pub_publish(p, MDBUS_MSG_RAW, msg, ICOUNT_SIZE, 1);
		}
		for (i = 0; i < ICOUNT_BURST && r == 0; i++)
			r = mdbus_sub_read(s, buf, sizeof(buf), &m, -1);
	}
	if (r < 0)
		bench_fail("mdbus", r);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	mdbus_unlink("icount", dir);
	return r;
}

static int run_ring(unsigned bursts)
{
	const struct bench_transport *tp = &bench_ring_transport;
	uint64_t msg[ICOUNT_SLOT / 8] = { 0 }, buf[ICOUNT_SLOT / 8];
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
		for (i = 0; i < ICOUNT_BURST && r == 0; i++) {
			msg[0] = i;
			r = tp->publish(p, msg, ICOUNT_SIZE);
		}
		for (i = 0; i < ICOUNT_BURST && r == 0; i++)
			r = tp->sub_read(s, buf, ICOUNT_SIZE, &rx);
	}
	if (s)
		tp->sub_close(s);
	if (p)
		tp->pub_close(p);
	tp->teardown(&run);
	return r;
}

int main(int argc, char **argv)
{
	unsigned bursts;

	if (argc != 3 || (bursts = (unsigned)strtoul(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: icount DIR BURSTS\n");
		return 64;
	}
	if (run_mdbus(argv[1], bursts) < 0 || run_ring(bursts) < 0)
		return 1;
	printf("%u\n", bursts * ICOUNT_BURST);
	return 0;
}
