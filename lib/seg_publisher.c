/*
 * seg_publisher.c - a publisher's open: take over the segment under the
 * channel's name (resume or replace it), or make one when there is none
 * (doc/protocol.md, "Ownership").
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

/* How long a lock in transit (lock_in_transit()) is waited for: a child
 * forked just before its publisher died drops the lock when its fork
 * handler runs, which a loaded machine may not schedule for a while (one
 * at load 8 on 2 CPUs: more than the 64 ms the attempts took before). */
#define TRANSIT_WAIT_NS 1000000000ULL

/* Whether the file under the name is ours: a regular file of our
 * effective uid that we could open read-write. Anything else was made by
 * someone else, who could truncate it under us (SIGBUS) or rewrite it
 * while readers trust our pid. *mode_ok: nobody but its owner may write
 * it (readers write only the table file). Returns 1, 0, or a negated
 * errno. */
static int ours(int fd, int writable, struct stat *st, int *mode_ok)
{
	if (fstat(fd, st) < 0)
		return -errno;
	*mode_ok = !(st->st_mode & 0022);
	return writable && S_ISREG(st->st_mode) && st->st_uid == geteuid() &&
	       st->st_nlink == 1;
}

/* The publisher the segment under the name records: its pid and start
 * time, read with pread(), not a mapping (the file may be someone
 * else's, who could truncate it under a mapping). 0; -1 when there is
 * no segment with a magic number under the name; 1 when the file under
 * the name is not one a publisher of ours made and kept (ours() with a
 * mode only its owner may write, its stat in *st): whoever may write it
 * can name any pid there, root's mdpub's say, so its pid is not believed
 * (take_over() refuses or replaces that file once the lock is ours). */
static int recorded_publisher(const char *dir, const char *channel,
			      int32_t *pid, uint64_t *start, struct stat *st)
{
	uint64_t magic = 0;
	int fd = seg_fd_open(dir, channel, O_RDONLY, 0), r = -1, mine, mode_ok = 0;

	*pid = 0;
	*start = 0;
	if (fd < 0)
		return -1;
	mine = ours(fd, 1, st, &mode_ok); /* opened to read: not asked */
	if (mine == 0 || (mine > 0 && !mode_ok))
		r = 1;
	else if (mine > 0 &&
		 pread(fd, &magic, sizeof(magic),
		       offsetof(struct seg_header, magic)) == (ssize_t)sizeof(magic) &&
		 magic == SEG_MAGIC &&
		 pread(fd, pid, sizeof(*pid),
		       offsetof(struct seg_header, pub_pid)) == (ssize_t)sizeof(*pid) &&
		 pread(fd, start, sizeof(*start),
		       offsetof(struct seg_header, pub_start)) == (ssize_t)sizeof(*start))
		r = 0;
	close(fd);
	return r;
}

/* The error for a channel whose lock is held by its live publisher. */
static int owned_error(const char *channel, int32_t pid)
{
	return err_set(MDBUS_EOWNED, "channel %s is owned by live publisher pid %d",
		       channel, (int)pid);
}

static int geometry_error(const char *channel, const struct seg_geom *have,
			  const struct seg_geom *want)
{
	return err_set(MDBUS_EGEOMETRY,
		       "channel %s exists with slot %" PRIu32 " x %" PRIu32 " x %" PRIu32 " blocks, %" PRIu32 " consumers, %s; asked slot %" PRIu32 " x %" PRIu32 " x %" PRIu32 " blocks, %" PRIu32 " consumers, %s (replace it to change)",
		       channel, have->slot_size, have->slots_per_block,
		       have->block_count, have->max_consumers,
		       mdbus_mode_name(have->mode), want->slot_size,
		       want->slots_per_block, want->block_count,
		       want->max_consumers, mdbus_mode_name(want->mode));
}

/*
 * Makes a new segment and puts it in place of the one we hold locked
 * (old_fd; its header h, NULL when it is not ours to write): marked
 * replaced first, so that its readers reopen, then the name moves to the
 * new one in one rename, so a reader opening by name finds one or the
 * other, never nothing. Returns 0 with m mapping the new segment, or an
 * error with the old one untouched.
 */
static int replace_locked(struct seg_map *m, struct seg_header *h,
			  const char *channel, const struct mdbus_pub_config *cfg,
			  const struct seg_geom *want)
{
	const char *dir = seg_dir(cfg->dir);
	char tmp[SEG_TMP_MAX];
	int r = seg_new_make(m, channel, cfg, want, tmp);

	if (r < 0)
		return r;
	if (h) {
		/* Pairs with the acquire loads of pub_state in readers
		 * (sub.c, wait.c, seg_attach.c). */
		atomic_store_explicit(&h->pub_state, SEG_PUB_REPLACED,
				      memory_order_release);
		wait_wake_all(h);
	}
	r = seg_new_publish(tmp, dir, channel, 1);
	if (r < 0) {
		seg_new_discard(m, tmp, dir, channel);
		return r;
	}
	/* The old segment's table goes with it (its mapped readers keep
	 * their mapping); relaxed: the identity is immutable. */
	if (h)
		seg_table_unlink(dir, channel,
				 atomic_load_explicit(&h->epoch, memory_order_relaxed));
	return 0;
}

/* replace_locked()'s result as resume_locked() returns it. */
static int replaced(int r)
{
	return r < 0 ? r : 1;
}

/* The header of the segment open (read-write) as fd, mapped read-write.
 * NULL with the error in *r. */
static struct seg_header *map_header(int fd, int *r)
{
	void *h = mmap(NULL, SEG_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);

	*r = h == MAP_FAILED ? -errno : 0;
	return h == MAP_FAILED ? NULL : h;
}

/* Why the segment whose header is h (file size `size`) cannot be
 * resumed: 0 when it can (geometry in *have), 1 when it is a leftover
 * (no magic: made by hand or by an older creator that died; marked
 * replaced: its replacer died before the rename), or the error. */
static int judge(const struct seg_header *h, uint64_t size, const char *channel,
		 const struct seg_geom *want, struct seg_geom *have)
{
	int r;

	/* Acquire pairs with the creator's release store of the magic and
	 * a replacer's of REPLACED. */
	if (atomic_load_explicit(&h->magic, memory_order_acquire) == 0 ||
	    atomic_load_explicit(&h->pub_state, memory_order_acquire) ==
	    SEG_PUB_REPLACED)
		return 1;
	r = seg_geom_from_header(have, h, size, channel);
	if (r == 0 && !seg_geom_same(have, want))
		r = geometry_error(channel, have, want);
	return r;
}

static int mode_error(const char *channel, const struct stat *st)
{
	return err_set(-EPERM, "channel %s: the segment's mode %03o lets others "
		       "than its owner write it: replace it (MDBUS_PUB_REPLACE, "
		       "mdpub replace = yes) or remove it",
		       channel, (unsigned)(st->st_mode & 07777));
}

/* The resumed segment's table file: ours, of its epoch, mapped and kept
 * open (seg_table_restore()), its mode and group as configured now; one
 * cut short gets its size back (seg_table_open()). One that is missing,
 * foreign or of another segment is made anew (its readers, if any,
 * registered in a file nobody will read again: they are counted lost when
 * lapped, never gate us). Any other error (out of descriptors, of memory)
 * fails the open: the table in place may be the live one of its readers. */
static int resume_table(struct seg_map *m, const char *channel,
			const struct mdbus_pub_config *cfg)
{
	const char *dir = seg_dir(cfg->dir);
	int r = seg_table_open(m, dir, channel, geteuid(), SEG_TABLE_KEEP_FD);

	/* Not a usable table of ours (missing, someone else's, not a
	 * regular file, spoiled beyond mending): made anew, or when its
	 * name cannot be freed, -EEXIST (the caller replaces the segment).
	 * Other errors (out of descriptors or memory) leave it alone. */
	if (r == -ENOENT || r == -EACCES || r == -EPERM || r == -ELOOP ||
	    r == -EISDIR || r == -ENXIO || r == MDBUS_ECORRUPT) {
		seg_table_unlink(dir, channel, m->g.epoch);
		r = seg_table_create(m, dir, channel, cfg);
	}
	if (r == 0)
		r = seg_set_perms(m->table_fd, cfg->file_mode & 0777, cfg->group);
	return r;
}

/*
 * We hold the channel's lock and the segment under the name is ours, so
 * its publisher is gone. Resumes it when it has the geometry asked and no
 * write bits beyond its owner's; replaces it when it is a leftover or, with
 * MDBUS_PUB_REPLACE, of another geometry, mode, major version, magic or
 * corrupt (marked replaced for its readers whenever its layout is ours).
 * Returns 0 when m maps the segment open as fd, 1 when m maps a new one,
 * or an error; fd stays the caller's.
 */
static int resume_locked(struct seg_map *m, int fd,
			 const struct stat *st, int mode_ok, const char *channel,
			 const struct mdbus_pub_config *cfg,
			 const struct seg_geom *want)
{
	struct seg_header *h = NULL;
	struct seg_geom have = {0}; /* judge() fills it when it returns 0 */
	int r = 1;

	if (st->st_size >= (off_t)SEG_HEADER_SIZE) {
		h = map_header(fd, &r);
		if (!h)
			return err_set(r, "map channel %s: %s", channel,
				       strerror(-r));
		r = judge(h, (uint64_t)st->st_size, channel, want, &have);
	}
	if (r == 0 && !mode_ok)
		r = mode_error(channel, st);
	if (r == 0) {
		m->g = have;
		r = seg_map_rw(m, fd);
		if (r == 0)
			r = resume_table(m, channel, cfg);
		if (r == 0) {
			munmap(h, SEG_HEADER_SIZE);
			return 0;
		}
		seg_unmap(m);
		if (r != -EEXIST) {
			munmap(h, SEG_HEADER_SIZE);
			return r;
		}
		/* Its table's name is held by a file we cannot remove
		 * (another user's, in a sticky directory): a new segment,
		 * with a new epoch, takes the channel over. */
		r = 1;
	}
	if (r == 1 || (cfg->flags & MDBUS_PUB_REPLACE))
		r = replaced(replace_locked(m, r == 1 || r == MDBUS_EGEOMETRY ||
					    r == -EPERM ? h : NULL,
					    channel, cfg, want));
	if (h)
		munmap(h, SEG_HEADER_SIZE);
	return r;
}

static int foreign_error(const char *channel, const char *dir,
			 const struct stat *st)
{
	return err_set(-EPERM, "channel %s: the segment in %s is %s of uid %u "
		       "mode %03o with %lu name(s), not this publisher's "
		       "(uid %u, one name): remove it as "
		       "its owner or root, or use a segment directory only "
		       "trusted users can write (MDBUS_PUB_REPLACE replaces it "
		       "where the directory lets us)", channel,
		       dir ? dir : SHM_DIR,
		       seg_file_kind(st->st_mode),
		       (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777),
		       (unsigned long)st->st_nlink, (unsigned)geteuid());
}

/* Opens the file under the name: read-write when we may, else read-only
 * (someone else's, only to be replaced). */
static int open_existing(const char *path, int *writable)
{
	int fd = seg_open_path(path, O_RDWR, 0);

	*writable = fd >= 0;
	if (fd == -EACCES)
		fd = seg_open_path(path, O_RDONLY, 0);
	return fd;
}

/* Whether the process pid (start time start) holds the lock open as
 * lock_fd: alive, or this process by another of its descriptors. */
static int holds(int lock_fd, int32_t pid, uint64_t start)
{
	return pid == getpid() ? seg_lock_held_here(lock_fd)
			       : proc_alive(pid, start);
}

/*
 * The channel's lock is held. By its publisher when the process the
 * segment records (a segment of ours: recorded_publisher()), or else the
 * lock file (a publisher still making the segment), holds it: 0 with its
 * pid in *owner. Otherwise a child forked a moment ago still has the
 * descriptor until its fork handler points it away (seg_lock.c): worth
 * looking again shortly rather than calling the channel owned. Only our
 * uid can open the lock file.
 */
static int lock_in_transit(int lock_fd, const char *dir, const char *channel,
			   int32_t *owner)
{
	struct timespec pause = { 0, 1000000L }; /* 1 ms */
	int32_t pid;
	uint64_t start;
	struct stat st;
	int made = recorded_publisher(dir, channel, &pid, &start, &st);

	if (made == 0 && holds(lock_fd, pid, start)) {
		*owner = pid;
		return 0;
	}
	if (seg_lock_recorded(lock_fd, owner, &start) == 0 &&
	    holds(lock_fd, *owner, start))
		return 0;
	/* What to say if it stays so. */
	if (made == 1)
		err_set(-EBUSY, "channel %s: another process of uid %u holds its "
			"lock and is not a live publisher, and the segment under "
			"its name in %s is %s of uid %u mode %03o with %lu "
			"name(s), not this publisher's (uid %u, one name): stop "
			"that process, and remove the segment as its owner or "
			"root (or use a segment directory only trusted users can "
			"write)", channel, (unsigned)geteuid(),
			dir ? dir : SHM_DIR, /* seg_dir(): NULL for the default */
			seg_file_kind(st.st_mode), (unsigned)st.st_uid,
			(unsigned)(st.st_mode & 07777),
			(unsigned long)st.st_nlink, (unsigned)geteuid());
	else if (made == 0)
		err_set(-EBUSY, "channel %s: its lock is held by a process that "
			"is not its publisher (pid %d recorded, gone): another "
			"process of uid %u holds the lock file; stop it",
			channel, (int)pid, (unsigned)geteuid());
	else
		err_set(-EBUSY, "channel %s: another process of uid %u holds its "
			"lock but made no segment yet", channel,
			(unsigned)geteuid());
	nanosleep(&pause, NULL);
	return 1;
}

/*
 * The name `path` could not be opened (err) and is no regular file: a
 * symbolic link, socket, device or directory, which anyone may make in
 * /dev/shm before us. With MDBUS_PUB_REPLACE, an empty directory is
 * removed (-ENOENT: the name is free) and anything else but a directory
 * is replaced by a new segment renamed over it (0), where the directory
 * lets us; otherwise err, said by seg_open_error().
 */
static int replace_squatter(struct seg_map *m, const char *path, int err,
			    const char *channel,
			    const struct mdbus_pub_config *cfg,
			    const struct seg_geom *want)
{
	const char *dir = seg_dir(cfg->dir);
	struct stat st;

	if (!(cfg->flags & MDBUS_PUB_REPLACE) || lstat(path, &st) < 0 ||
	    S_ISREG(st.st_mode))
		return seg_open_error(err, dir, channel);
	if (!S_ISDIR(st.st_mode))
		return replace_locked(m, NULL, channel, cfg, want);
	if (rmdir(path) == 0)
		return -ENOENT;
	return seg_open_error(err, dir, channel);
}

/*
 * With the channel's lock held, takes over the segment under its name: a
 * file that is not ours is refused naming its owner and mode, or with
 * MDBUS_PUB_REPLACE replaced (when the directory lets us rename over it),
 * as is what is no file (replace_squatter()); ours is resumed or
 * replaced as resume_locked() says. Returns 0, -ENOENT when the name is
 * free, or an error.
 */
static int take_over(struct seg_map *m, const char *channel,
		     const struct mdbus_pub_config *cfg, const struct seg_geom *want)
{
	const char *dir = seg_dir(cfg->dir);
	char path[PATH_MAX];
	struct stat st;
	int fd, r, mine, mode_ok = 0, writable;

	seg_path(path, sizeof(path), dir, channel);
	fd = open_existing(path, &writable);
	if (fd < 0)
		return fd == -ENOENT ? -ENOENT :
		       replace_squatter(m, path, fd, channel, cfg, want);
	r = mine = ours(fd, writable, &st, &mode_ok);
	if (mine == 0 && !(cfg->flags & MDBUS_PUB_REPLACE))
		r = foreign_error(channel, dir, &st);
	else if (mine > 0)
		r = resume_locked(m, fd, &st, mode_ok, channel, cfg, want);
	else if (mine == 0)
		r = replaced(replace_locked(m, NULL, channel, cfg, want));
	close(fd);
	return r < 0 ? r : 0;
}

/* Makes the segment and gives it the free name. Returns 0, -EAGAIN when
 * someone else (not through the lock: another user) took the name
 * meanwhile, or an error. */
static int create(struct seg_map *m, const char *channel,
		  const struct mdbus_pub_config *cfg, const struct seg_geom *want)
{
	char tmp[SEG_TMP_MAX];
	int r = seg_new_make(m, channel, cfg, want, tmp);

	if (r < 0)
		return r;
	r = seg_new_publish(tmp, seg_dir(cfg->dir), channel, 0);
	if (r < 0)
		seg_new_discard(m, tmp, seg_dir(cfg->dir), channel);
	return r == -EEXIST ? -EAGAIN : r;
}

/* One attempt: the channel's lock, then its segment taken over or made;
 * m keeps the lock's fd. -EAGAIN: look again; -EINPROGRESS: the lock is
 * in transit (lock_in_transit()), look again until TRANSIT_WAIT_NS. */
static int open_locked(struct seg_map *m, const char *channel,
		       const struct mdbus_pub_config *cfg,
		       const struct seg_geom *want)
{
	const char *dir = seg_dir(cfg->dir);
	int32_t owner;
	int lock_fd, r = seg_lock_channel(dir, channel, 1, &lock_fd);

	/* another user's file under the lock's name (anyone may make one in
	 * /dev/shm before we start), or a second name of one of ours: with
	 * REPLACE, removed where we may */
	if (cfg->flags & MDBUS_PUB_REPLACE)
		r = seg_lock_replace_squatter(dir, channel, r);
	/* EWOULDBLOCK is EAGAIN: held when the fd came back, else the file
	 * changed under us (removed, or a foreign one removed above): look
	 * again at once */
	if (r == -EAGAIN && lock_fd < 0)
		return -EAGAIN;
	if (r == -EWOULDBLOCK) {
		r = lock_in_transit(lock_fd, dir, channel, &owner)
			    ? -EINPROGRESS : owned_error(channel, owner);
		seg_lock_close(lock_fd);
		return r;
	}
	if (r < 0)
		return r;
	seg_lock_record(lock_fd);
	r = take_over(m, channel, cfg, want);
	if (r == -ENOENT)
		r = create(m, channel, cfg, want);
	if (r < 0) {
		seg_lock_close(lock_fd);
		return r;
	}
	seg_table_sweep(dir, channel, m->g.epoch);
	m->fd = lock_fd;
	return 0;
}

int seg_open_publisher(struct seg_map *m, const char *channel,
		       const struct mdbus_pub_config *cfg)
{
	struct seg_geom want;
	uint64_t transit_until = 0;
	int attempt, r;

	r = mdbus_pub_config_check(channel, cfg);
	if (r < 0)
		return r;
	r = seg_geom_make(&want, cfg->slot_size, cfg->slots_per_block,
			  cfg->block_count, cfg->max_consumers, cfg->mode);
	if (r < 0)
		return r;
	for (attempt = 0; attempt < 64 || clock_mono_ns() < transit_until;
	     attempt++) {
		err_clear(); /* what is left at the end: the last attempt's */
		r = open_locked(m, channel, cfg, &want);
		if (r == -EINPROGRESS && !transit_until)
			transit_until = clock_mono_ns() + TRANSIT_WAIT_NS;
		else if (r != -EAGAIN && r != -EINPROGRESS)
			return r;
	}
	if (*mdbus_last_error()) /* the reason we kept looking again */
		return -EBUSY;
	return err_set(-EBUSY, "channel %s keeps changing while we open it", channel);
}
