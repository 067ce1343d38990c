/*
 * mq.c - a POSIX message queue as a bench transport: the kernel's own
 * blocking one-to-one queue, the baseline for a reader that sleeps
 * (issue target: a futex-sleeping mdbus reader wakes no later than a
 * blocking mq_receive() at the same pace). One consumer only: a message
 * queue hands each message to one receiver. Lossless by nature: a full
 * queue makes the sender retry (-EAGAIN, counted as back-pressure).
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MQ_DEPTH 10 /* the default /proc/sys/fs/mqueue/msg_max */

struct mq_view {
	mqd_t q;
	uint64_t n; /* reader: sequence of the next message */
};

static void mq_name(const struct bench_run *run, char *name, size_t len)
{
	snprintf(name, len, "/mdbench.%s", run->channel);
}

static int mq_setup(struct bench_run *run)
{
	struct mq_attr attr = { .mq_maxmsg = MQ_DEPTH,
				.mq_msgsize = run->cell.slot_size };
	char name[64];
	mqd_t q;

	mq_name(run, name, sizeof(name));
	q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
	if (q == (mqd_t)-1) {
		bench_fail("mq_open", -errno);
		return -1;
	}
	mq_close(q);
	return 0;
}

static void mq_teardown(struct bench_run *run)
{
	char name[64];

	mq_name(run, name, sizeof(name));
	if (mq_unlink(name) < 0)
		bench_fail("mq_unlink", -errno);
}

static int mq_view_open(struct bench_run *run, int flags, void **out)
{
	struct mq_view *v = calloc(1, sizeof(*v));
	char name[64];

	*out = v;
	if (!v)
		return -ENOMEM;
	mq_name(run, name, sizeof(name));
	v->q = mq_open(name, flags);
	if (v->q == (mqd_t)-1) {
		free(v);
		*out = NULL;
		return -errno;
	}
	return 0;
}

static int mq_pub_open(struct bench_run *run, void **out)
{
	return mq_view_open(run, O_WRONLY | O_NONBLOCK, out);
}

static int mq_sub_open(struct bench_run *run, void **out)
{
	return mq_view_open(run, O_RDONLY, out);
}

static int mq_publish(void *pub, const void *data, size_t size)
{
	struct mq_view *v = pub;

	if (mq_send(v->q, data, size, 0) == 0)
		return 0;
	return -errno; /* -EAGAIN: full, the driver retries */
}

static int mq_consume(void *sub, struct bench_sink *k)
{
	struct mq_view *v = sub;
	char msg[BENCH_MAX_SLOT];
	ssize_t got;

	do {
		do
			got = mq_receive(v->q, msg, sizeof(msg), NULL);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return -errno;
		memcpy(k->buf, msg, (size_t)got < k->len ? (size_t)got : k->len);
	} while (!bench_take(k, v->n++, 0, k->buf));
	return 0;
}

static void mq_view_close(void *view)
{
	struct mq_view *v = view;

	mq_close(v->q);
	free(v);
}

const struct bench_transport bench_mq_transport = {
	.name = "mq",
	.setup = mq_setup,
	.teardown = mq_teardown,
	.pub_open = mq_pub_open,
	.publish = mq_publish,
	.pub_close = mq_view_close,
	.sub_open = mq_sub_open,
	.sub_consume = mq_consume,
	.sub_close = mq_view_close,
};
