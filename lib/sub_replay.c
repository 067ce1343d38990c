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
 *
 * The directory is listed once per seek, and again only when the reader
 * reaches the end of that list (files written meanwhile): files are then
 * picked from the sorted list. A record that cannot be where it is (not
 * after the one before it, below its file's name, at or past the next
 * file's, or further than the ring has ever published) is corruption:
 * its file ends there, the read returns MDBUS_ECORRUPT once, naming it,
 * and the next read goes on with the next file, what neither holds
 * counted lost.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"


struct replay {
	int dirfd;
	uid_t owner;                 /* the files' owner: the segment's */
	uint64_t epoch;
	char channel[MDBUS_CHANNEL_MAX + 1];
	struct arch_file *files;     /* the last listing, sorted */
	size_t nfiles;
	size_t cur;                  /* files[cur] is being read */
	mdbus_rec_reader_t *r;       /* the file being read, or NULL */
	char name[ARCH_NAME_MAX];    /* its name */
	uint64_t file_first;         /* its first sequence number */
	uint64_t prev;               /* the last record's seq in it */
	int have_prev;
	int chosen;                  /* a file was chosen: cur and
					file_first are valid (r may be NULL:
					no header) */
	char bad[320];               /* corruption found, not yet returned */
	char told[ARCH_NAME_MAX];    /* the name past beyond() last told */
	uint64_t live_check_ns;      /* CLOCK_MONOTONIC of the next look */
	int live;                    /* the archive was running at the last look */
	uint64_t skipped;            /* records read past, before pos */
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

int replay_announced(const struct seg_map *m)
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
	free(rp->files);
	free(rp);
}

/* Notes that the current file is corrupt from its next record on (the
 * file ends there), returned by the next replay_read() (once). */
static __attribute__((format(printf, 2, 3))) void
corrupt(struct replay *rp, const char *fmt, ...)
{
	int n = snprintf(rp->bad, sizeof rp->bad, "archive file %s: ", rp->name);
	va_list ap;

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof rp->bad)
		vsnprintf(rp->bad + n, sizeof rp->bad - (size_t)n, fmt, ap);
	va_end(ap);
	close_file(rp);
}

/* Where nothing can be: past every message the ring can have held
 * (write_num acquire-loaded after what is compared; a capacity more for
 * messages of a batch whose publisher died before publishing them). */
static uint64_t beyond(const struct seg_map *m)
{
	/* Acquire pairs with the producer's release store of write_num. */
	uint64_t w = atomic_load_explicit(&m->hdr->write_num, memory_order_acquire);

	return w + m->g.capacity < w ? UINT64_MAX : w + m->g.capacity;
}

/* Lists the directory again; names past beyond() are corrupt, left out. */
static int list(struct replay *rp, const struct seg_map *m)
{
	uint64_t end;
	size_t keep = 0;
	int r;

	free(rp->files);
	rp->files = NULL;
	rp->nfiles = 0;
	rp->chosen = 0;
	r = arch_list(rp->dirfd, rp->channel, rp->epoch, &rp->files, &rp->nfiles);
	if (r < 0)
		return err_set(r, "archive: listing it: %s", strerror(-r));
	end = beyond(m); /* after the listing: every real name is below */
	while (keep < rp->nfiles && rp->files[keep].first_seq < end)
		keep++;
	if (keep < rp->nfiles && strcmp(rp->told, rp->files[keep].name)) {
		memcpy(rp->told, rp->files[keep].name, sizeof rp->told);
		snprintf(rp->bad, sizeof rp->bad, "archive file %s: its first "
			 "sequence number is past everything published (%"
			 PRIu64 "): corrupt or not the archive's, not read "
			 "(%zu such files)", rp->files[keep].name, end,
			 rp->nfiles - keep);
	}
	rp->nfiles = keep;
	return 0;
}

/* Opens files[i]. A file we may not read is an error; one without a
 * whole header (its writer died, or the disk filled, at once) is empty. */
static int open_file(struct replay *rp, size_t i)
{
	const struct arch_file *f;
	int fd, r;

	if (!rp->files || i >= rp->nfiles)
		return -EINVAL; /* callers pick i among the files */
	f = &rp->files[i];
	fd = arch_open_read(rp->dirfd, f->name, rp->owner);
	close_file(rp);
	rp->cur = i;
	memcpy(rp->name, f->name, sizeof rp->name);
	rp->file_first = f->first_seq;
	rp->have_prev = 0;
	rp->chosen = 1;
	if (fd < 0)
		return err_set(fd, "archive file %s: %s%s", f->name,
			       strerror(-fd), fd == -EPERM ?
			       " (not the channel owner's, or more than one link)" : "");
	r = rec_open_fd(&rp->r, fd, f->name);
	return r == MDBUS_ETRUNCATED ? 0 : r;
}

int replay_seek(struct replay *rp, const struct seg_map *m,
		enum arch_pick how, uint64_t key, uint64_t *pos)
{
	long i;
	int r;

	close_file(rp);
	r = list(rp, m);
	if (r < 0)
		return r;
	i = arch_pick(rp->files, rp->nfiles, how, key);
	if (i < 0 || !rp->files)
		return 0;
	if (how == ARCH_BY_TIME)
		*pos = rp->files[i].first_seq;
	return open_file(rp, (size_t)i);
}

/* The next file after the current one (or the one pos is in when there
 * is none), from the listing, listed again at its end: 1 when one is
 * open, 0 when there is none yet (the current one stays open: the
 * archive may still be writing it). */
static int next_file(struct replay *rp, const struct seg_map *m, uint64_t pos)
{
	uint64_t after = rp->file_first;
	int chosen = rp->chosen, r;
	long i;

	if (chosen && rp->cur + 1 < rp->nfiles) {
		r = open_file(rp, rp->cur + 1);
		return r < 0 ? r : 1;
	}
	r = list(rp, m);
	if (r < 0)
		return r;
	i = chosen ? arch_pick(rp->files, rp->nfiles, ARCH_AFTER, after)
		   : arch_pick(rp->files, rp->nfiles, ARCH_BY_SEQ, pos);
	if (i >= 0) {
		r = open_file(rp, (size_t)i);
		return r < 0 ? r : 1;
	}
	/* still after the same file, the last of the new listing */
	rp->chosen = chosen;
	rp->cur = rp->nfiles ? rp->nfiles - 1 : 0;
	return 0;
}

int replay_archive_runs(const struct seg_map *m)
{
	struct mdbus_pub_info info;

	seg_pub_info(m->hdr, &info);
	return replay_announced(m) && info.state == MDBUS_PUB_ACTIVE;
}

/* replay_archive_runs(), looked at most every REPLAY_LIVE_NS. */
int replay_live(struct replay *rp, const struct seg_map *m)
{
	uint64_t now = clock_mono_ns();

	if (now < rp->live_check_ns)
		return rp->live;
	rp->live_check_ns = now + REPLAY_LIVE_NS;
	rp->live = replay_archive_runs(m);
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
	if (replay_live(rp, m))
		return -EAGAIN;
	*lost += old - *pos;
	*pos = old;
	return 1;
}

/* Whether seq cannot be the current file's next record (doc/protocol.md,
 * "Replay, then live"): noted as corruption, the file ends. */
static int misplaced(struct replay *rp, const struct seg_map *m, uint64_t seq)
{
	uint64_t end;

	if (rp->have_prev && seq <= rp->prev)
		corrupt(rp, "record %" PRIu64 " after record %" PRIu64
			": out of order", seq, rp->prev);
	else if (seq < rp->file_first)
		corrupt(rp, "record %" PRIu64 " before the file's first "
			"sequence number", seq);
	else if (seq >= (end = beyond(m)))
		corrupt(rp, "record %" PRIu64 " past everything the channel "
			"published (%" PRIu64 ")", seq, end);
	else if (rp->cur + 1 < rp->nfiles &&
		 seq >= rp->files[rp->cur + 1].first_seq)
		corrupt(rp, "record %" PRIu64 " where the next file (%s) "
			"begins", seq, rp->files[rp->cur + 1].name);
	return !rp->r;
}

/* The record seq of the current file was read or skipped: the next one
 * must come after it (misplaced()). */
static void passed(struct replay *rp, uint64_t seq)
{
	rp->prev = seq;
	rp->have_prev = 1;
}

/* One record of the current file at pos: 0 read into buf, 2 skipped
 * (before pos), 3 not announced (at or past next), 1 none: the file
 * ended (its end, a cut record, or corruption). */
static int one_record(struct replay *rp, const struct seg_map *m,
		      uint64_t next, uint64_t *pos, uint64_t *lost, void *buf,
		      size_t len, struct mdbus_msg *msg)
{
	uint64_t seq;
	int r;

	if (!rp->r)
		return 1;
	r = rec_peek_seq(rp->r, &seq);
	if (r == MDBUS_ECORRUPT)
		corrupt(rp, "a record larger than 1 MiB at offset %" PRIu64,
			mdbus_rec_offset(rp->r));
	if (r < 0 || misplaced(rp, m, seq))
		return 1;
	if (seq >= next)
		return 3;
	if (seq < *pos) {
		rec_skip(rp->r);
		passed(rp, seq);
		rp->skipped++;
		return 2;
	}
	*lost += seq - *pos; /* the archive missed them */
	*pos = seq;
	r = mdbus_rec_read(rp->r, buf, len, msg);
	if (r == -EMSGSIZE) /* not consumed: read again with room */
		return r;
	passed(rp, seq); /* another error: the file ends after it */
	if (r < 0)
		return r;
	(*pos)++;
	return 0;
}

/* Messages pos .. next - 1 are in no file (the archive lost them): 1 to
 * read on in the ring, which may still hold some of them (those of a
 * failed write), 0 to go on at next; what neither holds is counted. */
static int in_no_file(const struct seg_map *m, uint64_t next, uint64_t *pos,
		      uint64_t *lost)
{
	/* Acquire pairs with the producer's release store of write_num. */
	uint64_t w = atomic_load_explicit(&m->hdr->write_num, memory_order_acquire);
	uint64_t old = seg_oldest(m, w), to = old < next ? old : next;

	if (*pos < to) {
		*lost += to - *pos;
		*pos = to;
	}
	return old < next;
}

/* The corruption noted, once. */
static int report(struct replay *rp)
{
	int r = err_set(MDBUS_ECORRUPT, "%s", rp->bad);

	rp->bad[0] = '\0';
	return r;
}

int replay_read(struct replay *rp, const struct seg_map *m, uint64_t *pos,
		uint64_t *lost, void *buf, size_t len, struct mdbus_msg *msg)
{
	int known = replay_announced(m), r;

	for (;;) {
		/* Acquire pairs with the archive's release store of
		 * archive_next (pub_archive.c): the files then hold every
		 * message below it that it did not count lost. */
		uint64_t next = known ? atomic_load_explicit(&m->hdr->archive_next,
							     memory_order_acquire)
				      : UINT64_MAX;

		if (rp->bad[0])
			return report(rp);
		if (*pos >= next)
			return at_end(rp, m, pos, lost);
		r = one_record(rp, m, next, pos, lost, buf, len, msg);
		if (r == 2)
			continue;
		if (r == 3 && in_no_file(m, next, pos, lost))
			return 1; /* pos .. next - 1: in no file */
		if (r == 3)
			continue;
		if (r != 1)
			return r;
		if (rp->bad[0])
			continue;
		r = next_file(rp, m, *pos);
		if (r < 0)
			return r;
		if (r == 1)
			continue;
		if (!known) /* files are all we know: the ring from here */
			return at_end(rp, m, pos, lost);
		if (in_no_file(m, next, pos, lost))
			return 1;
	}
}

uint64_t replay_skipped(const struct replay *rp)
{
	return rp->skipped;
}

void replay_leave(struct replay *rp)
{
	close_file(rp);
	rp->chosen = 0;
}
