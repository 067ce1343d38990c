/*
 * sub_replay.c - a reader behind the ring reads the channel's archive,
 * then goes back to the ring with no gap and no duplicate
 * (doc/protocol.md, "Replay, then live").
 *
 * The archive announces in the segment header how far its files go:
 * archive_next, release-stored after the files hold every message below
 * it but the archive_lost ones. A reader at pos loads it (acquire) before
 * it looks at the files, so that any message below it is either in a
 * file it then finds or lost for good. Once pos reaches archive_next the
 * reader goes back to the ring if the ring still has pos; if the ring
 * has moved past pos, it waits for the archive while the publisher and
 * its archive run, and counts what neither holds as lost otherwise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define LIVE_CHECK_NS 100000000ULL /* the archive's liveness, this often */

struct replay {
	int dirfd;
	uid_t owner;                 /* the files' owner: the segment's */
	uint64_t epoch;
	char channel[MDBUS_CHANNEL_MAX + 1];
	mdbus_rec_reader_t *r;       /* the file being read, or NULL */
	uint64_t file_first;         /* its first sequence number */
	int chosen;                  /* a file was chosen: file_first is
					valid (r may be NULL: no header) */
	uint64_t live_check_ns;      /* CLOCK_MONOTONIC of the next look */
	int live;                    /* the archive was running at the last look */
};

int archive_dir_read(const struct seg_header *h, char *path)
{
	uint64_t gen, again, w;
	uint32_t state;

	for (int tries = 0; tries < 1000; tries++) {
		/* Acquire pairs with the publisher's release store of the
		 * even generation (pub_archive.c). */
		gen = atomic_load_explicit(&h->archive_gen, memory_order_acquire);
		state = atomic_load_explicit(&h->archive_state, memory_order_relaxed);
		for (size_t i = 0; i < SEG_ARCHIVE_DIR_MAX / 8; i++) {
			w = atomic_load_explicit(&h->archive_dir[i], memory_order_relaxed);
			memcpy(path + i * 8, &w, 8);
		}
		/* Orders the copy before the re-check; pairs with the
		 * publisher's release fence after its odd store. */
		atomic_thread_fence(memory_order_acquire);
		again = atomic_load_explicit(&h->archive_gen, memory_order_relaxed);
		if (again == gen && !(gen & 1))
			break;
		if (tries == 999)
			return err_set(-EAGAIN, "the archive path in the segment "
				       "keeps changing");
	}
	if (state != SEG_ARCHIVE_ON)
		return -ENOENT;
	if (path[0] != '/' || !memchr(path, '\0', SEG_ARCHIVE_DIR_MAX))
		return err_set(MDBUS_ECORRUPT, "the segment's archive path is "
			       "not an absolute, terminated path");
	return 0;
}

static int announced(const struct seg_map *m)
{
	/* Relaxed: a state only ever written before the publisher starts
	 * publishing (pub.c), and a hint here. */
	return atomic_load_explicit(&m->hdr->archive_state, memory_order_relaxed) ==
	       SEG_ARCHIVE_ON;
}

int replay_open(struct replay **out, const struct seg_map *m,
		const char *channel, const char *dir)
{
	char path[SEG_ARCHIVE_DIR_MAX];
	struct replay *rp;
	int r = 0, fd;

	if (!dir) {
		r = archive_dir_read(m->hdr, path);
		dir = path;
	}
	if (r < 0)
		return r;
	fd = arch_open_dir(dir);
	if (fd == -ELOOP)
		return err_set(fd, "archive %s is a symbolic link: not followed "
			       "(name the real directory)", dir);
	if (fd < 0)
		return err_set(fd, "archive %s: %s", dir, strerror(-fd));
	rp = calloc(1, sizeof *rp);
	if (!rp) {
		close(fd);
		return err_set(-ENOMEM, "out of memory");
	}
	rp->dirfd = fd;
	rp->owner = m->uid;
	rp->epoch = m->g.epoch;
	strcpy(rp->channel, channel);
	*out = rp;
	return 0;
}

static void close_file(struct replay *rp)
{
	mdbus_rec_close(rp->r);
	rp->r = NULL;
}

void replay_close(struct replay *rp)
{
	if (!rp)
		return;
	close_file(rp);
	close(rp->dirfd);
	free(rp);
}

/* Opens the file f. A file we may not read is an error; one without a
 * whole header (its writer died, or the disk filled, at once) is empty. */
static int open_file(struct replay *rp, const struct arch_file *f)
{
	int fd = arch_open_read(rp->dirfd, f->name, rp->owner), r;

	close_file(rp);
	rp->file_first = f->first_seq;
	rp->chosen = 1;
	if (fd < 0)
		return err_set(fd, "archive file %s: %s%s", f->name,
			       strerror(-fd), fd == -EPERM ?
			       " (not the channel owner's, or more than one link)" : "");
	r = rec_open_fd(&rp->r, fd, f->name);
	return r == MDBUS_ETRUNCATED ? 0 : r;
}

int replay_seek(struct replay *rp, enum arch_pick how, uint64_t key,
		uint64_t *pos)
{
	struct arch_file f;
	int r = arch_find(rp->dirfd, rp->channel, rp->epoch, how, key, &f);

	close_file(rp);
	rp->chosen = 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (how == ARCH_BY_TIME)
		*pos = f.first_seq;
	return open_file(rp, &f);
}

/* The next file after the current one (or the one pos is in when there
 * is none): 1 when one is open, 0 when there is none yet. */
static int next_file(struct replay *rp, uint64_t pos)
{
	struct arch_file f;
	int r = rp->chosen ? arch_find(rp->dirfd, rp->channel, rp->epoch,
				       ARCH_AFTER, rp->file_first, &f)
			   : arch_find(rp->dirfd, rp->channel, rp->epoch,
				       ARCH_BY_SEQ, pos, &f);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = open_file(rp, &f);
	return r < 0 ? r : 1;
}

/* Whether the archive may still write what it has not: it is announced
 * and its publisher is alive (/proc, at most every LIVE_CHECK_NS). */
static int archive_live(struct replay *rp, const struct seg_map *m)
{
	struct mdbus_pub_info info;
	uint64_t now = clock_mono_ns();

	if (now < rp->live_check_ns)
		return rp->live;
	rp->live_check_ns = now + LIVE_CHECK_NS;
	seg_pub_info(m->hdr, &info);
	rp->live = announced(m) && info.state == MDBUS_PUB_ACTIVE;
	return rp->live;
}

/* The archive has nothing at pos (yet): 1 to read the ring from pos (the
 * ring has it, or nothing is left to wait for: what the ring lost is
 * counted), or -EAGAIN while the archive may still write it. */
static int at_end(struct replay *rp, const struct seg_map *m, uint64_t *pos,
		  uint64_t *lost)
{
	/* Acquire pairs with the producer's release store of write_num. */
	uint64_t w = atomic_load_explicit(&m->hdr->write_num, memory_order_acquire);
	uint64_t old = seg_oldest(m, w);

	if (*pos >= old)
		return 1;
	if (archive_live(rp, m))
		return -EAGAIN;
	*lost += old - *pos;
	*pos = old;
	return 1;
}

/* One record of the current file at pos, if the archive has it (below
 * `next`): 0 read into buf, 2 skipped (before pos), 1 none. */
static int one_record(struct replay *rp, uint64_t next, uint64_t *pos,
		      uint64_t *lost, void *buf, size_t len, struct mdbus_msg *msg)
{
	uint64_t seq;
	int r;

	if (!rp->r || rec_peek_seq(rp->r, &seq) < 0 || seq >= next)
		return 1;
	if (seq < *pos) {
		rec_skip(rp->r);
		return 2;
	}
	*lost += seq - *pos; /* the archive missed them */
	*pos = seq;
	r = mdbus_rec_read(rp->r, buf, len, msg);
	if (r < 0)
		return r;
	(*pos)++;
	return 0;
}

int replay_read(struct replay *rp, const struct seg_map *m, uint64_t *pos,
		uint64_t *lost, void *buf, size_t len, struct mdbus_msg *msg)
{
	int known = announced(m), r;

	for (;;) {
		/* Acquire pairs with the archive's release store of
		 * archive_next (pub_archive.c): the files then hold every
		 * message below it that it did not count lost. */
		uint64_t next = known ? atomic_load_explicit(&m->hdr->archive_next,
							     memory_order_acquire)
				      : UINT64_MAX;

		if (*pos >= next)
			return at_end(rp, m, pos, lost);
		r = one_record(rp, next, pos, lost, buf, len, msg);
		if (r != 1) {
			if (r == 2)
				continue;
			return r;
		}
		r = next_file(rp, *pos);
		if (r < 0)
			return r;
		if (r == 1)
			continue;
		if (!known) /* files are all we know: the ring from here */
			return at_end(rp, m, pos, lost);
		*lost += next - *pos; /* in no file: lost by the archive */
		*pos = next;
	}
}

void replay_leave(struct replay *rp)
{
	close_file(rp);
	rp->chosen = 0;
}
