/*
 * sub_fd.c - a descriptor for event loops (mdbus_sub_fd(), libmdbus(3)
 * "Event loops"): an eventfd that a helper thread makes readable when
 * the reader has something to read or should look.
 *
 * The helper waits as a blocking reader of the handle does (wait.c,
 * doc/protocol.md "Waiting"): announced in the handle's consumer entry,
 * whose `waiting` flag it owns while it runs (the handle's own reads then
 * nap instead of sleeping announced: one sleeper per entry, so that the
 * count repair stays right), or, without an entry, napping 1 ms at a
 * time. When write_num passes the count it last signalled (the
 * application reads until nothing is left after each readiness, libmdbus(3)
 * "Event loops"; a message it read meanwhile costs at most one needless
 * readiness), or the publisher's state or the entry changes, it sets the
 * eventfd's counter to its maximum:
 * readable, and not writable until the application reads it. It then
 * waits in poll() for that read (POLLOUT), so it neither spins nor makes
 * the publisher wake it while the application has not caught up.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define FD_FULL 0xfffffffffffffffeULL /* eventfd's largest counter */
#define STOP_PAUSE_NS 100000L
#define HELPER_NAME "mdbus-fd" /* its name in /proc/PID/task/TID/comm */

struct sub_fd {
	int efd;
	int running;              /* a helper thread was started */
	pthread_t thread;
	_Atomic int stop;         /* owner: release; helper: acquire */
	_Atomic int exited;       /* helper: release; owner: acquire */
	struct seg_map m;         /* copies, valid while the helper runs */
	struct wait_for wf;
	uint64_t seen;            /* write_num when last signalled (never the
				     entry's read_num: anyone who may write
				     the table may set it far ahead, and the
				     helper then waited for it for good) */
};

/* Readable until the application reads it; waits for that read. */
static void signal_and_wait(struct sub_fd *f)
{
	struct pollfd p = { f->efd, POLLOUT, 0 };
	uint64_t full = FD_FULL;

	/* EAGAIN: still readable from the last time; fine */
	if (write(f->efd, &full, sizeof(full)) < 0 && errno != EAGAIN)
		return;
	while (!atomic_load_explicit(&f->stop, memory_order_acquire) &&
	       poll(&p, 1, -1) < 0 && errno == EINTR)
		;
}

static void *helper(void *arg)
{
	struct sub_fd *f = arg;
	/* Acquire pairs with the publisher's release stores of pub_state. */
	uint32_t st, last = atomic_load_explicit(&f->m.hdr->pub_state,
						 memory_order_acquire);

	while (!atomic_load_explicit(&f->stop, memory_order_acquire)) {
		/* A count below the one signalled was forged by the segment's
		 * owner: wait from the real one, not for the forged one. */
		uint64_t w = atomic_load_explicit(&f->m.hdr->write_num,
						  memory_order_acquire);

		if (w < f->seen)
			f->seen = w;
		f->wf.pos = f->seen;
		st = atomic_load_explicit(&f->m.hdr->pub_state, memory_order_acquire);
		if (st != last || wait_ready(&f->m, &f->wf)) {
			last = st;
			/* Acquire pairs with the publisher's store of write_num. */
			f->seen = atomic_load_explicit(&f->m.hdr->write_num,
						       memory_order_acquire);
			signal_and_wait(f);
			continue;
		}
		/* A state change from here on cuts the sleep short too (a
		 * close or a new publisher wakes sleepers). */
		f->wf.watch_pub_state = 1;
		f->wf.pub_state = last;
		(void)wait_step(&f->m, MDBUS_WAIT_BLOCK, &f->wf, 0, UINT64_MAX);
	}
	atomic_store_explicit(&f->exited, 1, memory_order_release);
	return NULL;
}

int sub_fd_start(struct sub_fd *f, const struct seg_map *m,
		 const struct wait_for *wf)
{
	int r;

	f->m = *m;
	f->wf = *wf;
	f->wf.state = NULL;
	f->seen = wf->pos;
	atomic_store_explicit(&f->stop, 0, memory_order_relaxed);
	atomic_store_explicit(&f->exited, 0, memory_order_relaxed);
	r = pthread_create(&f->thread, NULL, helper, f);
	if (r)
		return -r;
	(void)pthread_setname_np(f->thread, HELPER_NAME);
	f->running = 1;
	return 0;
}

void sub_fd_poke(struct sub_fd *f)
{
	uint64_t full = FD_FULL;

	/* EAGAIN: readable already; fine */
	(void)!write(f->efd, &full, sizeof(full));
}

/* Ends the helper: it may be in poll() (reading the eventfd makes it
 * writable) or asleep on the futex (a wake without a bump: it sleeps on
 * nothing we could change, so wake until it is gone). Other sleepers on
 * the word wake spuriously, look and sleep again. */
void sub_fd_stop(struct sub_fd *f)
{
	struct timespec pause = { 0, STOP_PAUSE_NS };
	uint64_t v;

	if (!f || !f->running)
		return;
	atomic_store_explicit(&f->stop, 1, memory_order_release);
	while (!atomic_load_explicit(&f->exited, memory_order_acquire)) {
		(void)!read(f->efd, &v, sizeof(v));
		wait_nudge(&f->m);
		nanosleep(&pause, NULL);
	}
	pthread_join(f->thread, NULL);
	f->running = 0;
	/* our reads took a signal the application did not see: give it back */
	v = FD_FULL;
	(void)!write(f->efd, &v, sizeof(v));
}

int sub_fd_open(struct sub_fd **out, const struct seg_map *m,
		const struct wait_for *wf)
{
	struct sub_fd *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0) {
		r = -errno;
		free(f);
		return r;
	}
	r = sub_fd_start(f, m, wf);
	if (r < 0) {
		close(f->efd);
		free(f);
		return r;
	}
	*out = f;
	return f->efd;
}

int sub_fd_number(const struct sub_fd *f)
{
	return f->efd;
}

void sub_fd_close(struct sub_fd *f)
{
	if (!f)
		return;
	sub_fd_stop(f);
	close(f->efd);
	free(f);
}
