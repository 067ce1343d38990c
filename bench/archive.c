/*
 * archive.c - pubcost's archiving reader: what mdpub's archive thread
 * does to a ring (daemons/archive.c), in a consumer process: one
 * registered reader that reads every message with mdbus_sub_try_read(),
 * writes it to a recording (mdbus_rec_write()), flushes every 100 ms and
 * naps 1 ms whenever nothing is new. The files go to $TMPDIR (default
 * /tmp), 64 MiB each, each removed when the next begins.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "mdbus.h"
#include "mdbus_msg.h"
#include "mdbus_rec.h"

#define FLUSH_NS 100000000ULL
#define NAP_NS 1000000L
#define FILE_BYTES (64ULL << 20)

struct archiver {
	mdbus_rec_writer_t *w;
	char path[256];
	uint64_t bytes;
	uint64_t flush_at;
	unsigned files;
};

static int next_file(struct archiver *a, const struct bench_run *run)
{
	const char *tmp = getenv("TMPDIR");
	struct mdbus_rec_info info;
	int r = 0;

	if (a->w) {
		r = mdbus_rec_finish(a->w);
		unlink(a->path);
		a->w = NULL;
	}
	if (r < 0)
		return r;
	memset(&info, 0, sizeof info);
	snprintf(info.channel, sizeof info.channel, "%s", run->channel);
	snprintf(a->path, sizeof a->path, "%s/mdbench-archive.%d.%u.rec",
		 tmp && *tmp ? tmp : "/tmp", (int)getpid(), a->files++);
	a->bytes = 0;
	return mdbus_rec_create(&a->w, a->path, &info, MDBUS_REC_EXCL);
}

static int write_one(struct archiver *a, const struct bench_run *run,
		     const struct mdbus_msg *msg, const void *buf)
{
	int r = 0;

	if (a->bytes + 24 + msg->size > FILE_BYTES)
		r = next_file(a, run);
	if (r == 0)
		r = mdbus_rec_write(a->w, msg, buf);
	a->bytes += 24 + msg->size;
	if (r == 0 && bench_now() >= a->flush_at) {
		r = mdbus_rec_flush(a->w);
		a->flush_at = bench_now() + FLUSH_NS;
	}
	return r;
}

/* Reads until the producer is done and the ring is drained. */
static int archive_loop(struct bench_run *run, mdbus_sub_t *sub,
			struct archiver *a)
{
	static uint64_t buf[BENCH_MAX_SLOT / 8];
	struct timespec nap = { 0, NAP_NS };
	struct mdbus_msg msg;
	int r;

	for (;;) {
		r = mdbus_sub_try_read(sub, buf, sizeof buf, &msg);
		if (r == 0)
			r = write_one(a, run, &msg, buf);
		if (r == -EAGAIN) {
			/* Acquire pairs with the producer's release store in
			 * close_pub(). */
			if (atomic_load_explicit(&run->ctl->pub_done,
						 memory_order_acquire))
				return 0;
			nanosleep(&nap, NULL);
		} else if (r < 0) {
			return r;
		}
	}
}

int bench_archive_consumer(struct bench_run *run)
{
	struct archiver a = { 0 };
	void *sub;
	int r = bench_attach(run, &sub);

	if (r < 0)
		return r;
	r = next_file(&a, run);
	if (r == 0)
		r = archive_loop(run, sub, &a);
	bench_finished(run);
	if (a.w)
		mdbus_rec_finish(a.w);
	unlink(a.path);
	run->tp->sub_close(sub);
	if (r < 0)
		bench_fail("archive", r);
	return r;
}
