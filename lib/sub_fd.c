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
 *
 * While the handle reads the archive (sub_replay.c), what it waits for is
 * the archive's progress instead: archive_next past the value it last
 * signalled (doc/protocol.md, "Replay, then live": the ring holds nothing
 * the reader may read until then, so write_num is not looked at). The
 * archive wakes nobody, so the helper naps 1 ms at a time, as a read
 * waiting for the archive does (sub.c replay_nap()); the publisher pays
 * nothing for it. An archive whose publisher stopped or died writes no
 * more: the reader then goes on in the ring, and the helper signals at
 * each of its looks at that publisher (every 100 ms). Which of the two the handle does is the handle's
 * (s->replaying, the application's thread): it tells the helper through
 * `replaying` and rings the helper's bell, which cuts short a sleep on
 * either.
 *
 * A segment file whose name a new publisher's segment took after it was
 * removed (rm, mdbus_unlink()) is marked by nobody: a waiting read looks
 * at the name every 100 ms while no publisher is active (sub.c
 * check_name()), and so does the helper, between its sleeps (at most
 * 100 ms each, wait.c); when the name refers to another file it sets
 * `renamed`, which the handle's next read that finds nothing returns as
 * MDBUS_EREPLACED, and makes the descriptor readable (libmdbus(3),
 * "Replacement and reopening"). Before, the application waited on the
 * descriptor for ever.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
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
	_Atomic int replaying;    /* the handle reads the archive; owner:
				     relaxed, then rings `bell` (see
				     sub_fd_replaying()) */
	struct wait_bell bell;    /* rung by the owner: `replaying` or `stop`
				     changed */
	struct seg_map m;         /* copies, valid while the helper runs */
	struct wait_for wf;
	struct wait_state ws;     /* the helper's own (wait.c arm() and
				     sleep_on()): the handle's is its
				     thread's */
	uint64_t seen;            /* write_num when last signalled (never the
				     entry's read_num: anyone who may write
				     the table may set it far ahead, and the
				     helper then waited for it for good) */
	uint64_t seen_next;       /* archive_next when last signalled */
	uint64_t live_look_ns;    /* CLOCK_MONOTONIC of the next look at the
				     archive's publisher */
	char path[PATH_MAX];      /* the channel's name, as a path */
	uint64_t name_look_ns;    /* CLOCK_MONOTONIC of the next look at it */
	_Atomic int renamed;      /* set by the helper; relaxed both sides */
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

/* Answers the bell's rings so far and returns what the handle does now:
 * 1 reading the archive. A ring after this cuts the next sleep short. */
static int handle_replaying(struct sub_fd *f)
{
	/* seq_cst: pairs with the seq_cst increment in wait_bell_ring(),
	 * which the owner makes after its store of `replaying`. */
	f->wf.rings_seen = atomic_load_explicit(&f->bell.rings,
						memory_order_seq_cst);
	/* Relaxed: ordered after the load above, which sees the ring made
	 * after any store of it (sub_fd_replaying()). */
	return atomic_load_explicit(&f->replaying, memory_order_relaxed);
}

/* Relaxed: the helper reads no file, it only compares; the reader's own
 * load is the acquire that pairs with the archive's release store
 * (sub_replay.c replay_read()). */
static uint64_t archive_next(const struct sub_fd *f)
{
	return atomic_load_explicit(&f->m.hdr->archive_next, memory_order_relaxed);
}

/* Whether the archive stopped for good (its publisher stopped or died:
 * a kill leaves its state active), looked at every REPLAY_LIVE_NS. A
 * reader waiting for it then counts what it will not write lost and goes
 * on in the ring (sub_replay.c at_end()), once its own look (as often)
 * says so: its first read after the stop may still wait, so each of our
 * looks signals until the handle leaves the archive. */
static int archive_stopped(struct sub_fd *f)
{
	uint64_t now = clock_mono_ns();

	if (now < f->live_look_ns)
		return 0;
	f->live_look_ns = now + REPLAY_LIVE_NS;
	return !replay_archive_runs(&f->m);
}

/* While the handle reads the archive: whether the archive went past what
 * was signalled (a value below it was forged by the segment's owner, as
 * for write_num: wait from the real one), or the entry changed. An
 * archive the header does not announce (the reader names its directory)
 * has no archive_next: the reader reads its files without waiting
 * (sub_replay.c replay_read()), so there is always something to do. */
static int archive_ready(struct sub_fd *f)
{
	uint64_t next = archive_next(f);

	if (!replay_announced(&f->m))
		return 1;
	if (next < f->seen_next)
		f->seen_next = next;
	/* Pairs with the evicting producer's release CAS (pub.c). */
	return next > f->seen_next ||
	       (f->wf.entry_state &&
		atomic_load_explicit(f->wf.entry_state, memory_order_acquire) !=
		f->wf.entry_word) ||
	       archive_stopped(f);
}

/* Notes what is signalled, then signals. */
static void signal_now(struct sub_fd *f)
{
	/* Acquire pairs with the publisher's store of write_num. */
	f->seen = atomic_load_explicit(&f->m.hdr->write_num,
				       memory_order_acquire);
	f->seen_next = archive_next(f);
	signal_and_wait(f);
}

/* Whether the channel's name now refers to another file while no
 * publisher is active (a live one keeps its name), looked at every
 * NAME_CHECK_NS: then `renamed` is set, once. */
static int name_moved(struct sub_fd *f)
{
	struct mdbus_pub_info info;
	uint64_t now = clock_mono_ns();

	if (now < f->name_look_ns ||
	    atomic_load_explicit(&f->renamed, memory_order_relaxed))
		return 0;
	f->name_look_ns = now + NAME_CHECK_NS;
	seg_pub_info(f->m.hdr, &info);
	if (info.state == MDBUS_PUB_ACTIVE ||
	    seg_path_renamed(&f->m, f->path) != 1)
		return 0;
	/* Relaxed: a flag that publishes nothing else (sub_fd_renamed()) */
	atomic_store_explicit(&f->renamed, 1, memory_order_relaxed);
	return 1;
}

static void *helper(void *arg)
{
	struct sub_fd *f = arg;
	/* Acquire pairs with the publisher's release stores of pub_state. */
	uint32_t st, last = atomic_load_explicit(&f->m.hdr->pub_state,
						 memory_order_acquire);

	while (!atomic_load_explicit(&f->stop, memory_order_acquire)) {
		int replaying = handle_replaying(f);
		/* A count below the one signalled was forged by the segment's
		 * owner: wait from the real one, not for the forged one. */
		uint64_t w = atomic_load_explicit(&f->m.hdr->write_num,
						  memory_order_acquire);

		if (w < f->seen)
			f->seen = w;
		f->wf.pos = f->seen;
		st = atomic_load_explicit(&f->m.hdr->pub_state, memory_order_acquire);
		/* A state change cuts the sleep short too (a close or a new
		 * publisher wakes sleepers); wait_ready() compares with the
		 * state signalled last, as the helper does (compared with an
		 * older one, each look found it changed: a readiness at
		 * every re-arm for as long as the publisher stayed stopped). */
		f->wf.watch_pub_state = 1;
		f->wf.pub_state = last;
		if (st != last || (replaying ? archive_ready(f)
					     : wait_ready(&f->m, &f->wf))) {
			last = st;
			signal_now(f);
			continue;
		}
		if (replaying) {
			wait_bell_sleep(&f->bell, f->wf.rings_seen, REPLAY_NAP_NS);
			continue;
		}
		(void)wait_step(&f->m, MDBUS_WAIT_BLOCK, &f->wf, 0, UINT64_MAX);
		if (name_moved(f))
			signal_now(f);
	}
	atomic_store_explicit(&f->exited, 1, memory_order_release);
	return NULL;
}

int sub_fd_start(struct sub_fd *f, const struct seg_map *m,
		 const struct wait_for *wf, int replaying, const char *path)
{
	int r;

	snprintf(f->path, sizeof(f->path), "%s", path);
	f->name_look_ns = 0; /* at once */
	f->m = *m;
	f->wf = *wf;
	f->wf.state = &f->ws;
	/* The handle and this helper share the entry's armed flag: one the
	 * handle armed lately holds our tag, so the helper does not arm, and
	 * takes over the end of the handle's settle instead (wait.c arm()):
	 * else its first sleeps could last 100 ms while a publish from before
	 * the bump is in flight (race review of b8ad355). */
	if (wf->state->settle_until > f->ws.settle_until)
		f->ws.settle_until = wf->state->settle_until;
	f->wf.bell = &f->bell;
	f->seen = wf->pos;
	/* what the archive announced but the reader has not read yet is
	 * signalled at once */
	f->seen_next = archive_next(f) < wf->pos ? archive_next(f) : wf->pos;
	f->live_look_ns = 0; /* at once */
	/* Relaxed, as the stores below: the thread starts after them. */
	atomic_store_explicit(&f->replaying, replaying, memory_order_relaxed);
	atomic_store_explicit(&f->stop, 0, memory_order_relaxed);
	atomic_store_explicit(&f->exited, 0, memory_order_relaxed);
	atomic_store_explicit(&f->renamed, 0, memory_order_relaxed);
	r = helper_thread_start(&f->thread, helper, f, HELPER_NAME);
	if (r < 0)
		return r;
	f->running = 1;
	return 0;
}

void sub_fd_poke(struct sub_fd *f)
{
	uint64_t full = FD_FULL;

	/* EAGAIN: readable already; fine */
	(void)!write(f->efd, &full, sizeof(full));
}

void sub_fd_replaying(struct sub_fd *f, int replaying)
{
	if (!f || atomic_load_explicit(&f->replaying, memory_order_relaxed) ==
		  replaying) /* only we store it */
		return;
	/* Relaxed: the ring's seq_cst increment comes after it, and the
	 * helper loads it after the count (handle_replaying()). */
	atomic_store_explicit(&f->replaying, replaying, memory_order_relaxed);
	wait_bell_ring(&f->bell);
}

/* Ends the helper: it may be in poll() (reading the eventfd makes it
 * writable) or asleep on the futex or its bell (a ring wakes it; it may
 * have answered the ring just before it slept: ring until it is gone). */
void sub_fd_stop(struct sub_fd *f)
{
	struct timespec pause = { 0, STOP_PAUSE_NS };
	uint64_t v;

	if (!f || !f->running)
		return;
	atomic_store_explicit(&f->stop, 1, memory_order_release);
	while (!atomic_load_explicit(&f->exited, memory_order_acquire)) {
		(void)!read(f->efd, &v, sizeof(v));
		wait_bell_ring(&f->bell);
		nanosleep(&pause, NULL);
	}
	pthread_join(f->thread, NULL);
	f->running = 0;
	/* our reads took a signal the application did not see: give it back */
	v = FD_FULL;
	(void)!write(f->efd, &v, sizeof(v));
}

int sub_fd_open(struct sub_fd **out, const struct seg_map *m,
		const struct wait_for *wf, int replaying, const char *path)
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
	r = sub_fd_start(f, m, wf, replaying, path);
	if (r < 0) {
		close(f->efd);
		free(f);
		return r;
	}
	*out = f;
	return f->efd;
}

int sub_fd_renamed(const struct sub_fd *f)
{
	/* Relaxed: the flag alone (name_moved()) */
	return atomic_load_explicit(&f->renamed, memory_order_relaxed);
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
