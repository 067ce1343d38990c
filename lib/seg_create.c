/*
 * seg_create.c - creation of a new segment: identity, permissions and group, free
 * space checked, memory reserved and pre-faulted, magic written last
 * (doc/protocol.md, "Creation").
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

static uint64_t new_epoch(void)
{
	uint64_t e = 0;

	if (getrandom(&e, sizeof(e), GRND_NONBLOCK) != (ssize_t)sizeof(e))
		e = clock_mono_ns() ^ ((uint64_t)getpid() << 32);
	return e ? e : 1;
}

static void header_init(struct seg_header *h, const struct seg_geom *g,
			const char *channel)
{
	uint64_t name[MDBUS_CHANNEL_MAX / 8 + 1] = {0};
	size_t i;

	memcpy(name, channel, strlen(channel));
	atomic_store_explicit(&h->version_major, MDBUS_LAYOUT_MAJOR, memory_order_relaxed);
	atomic_store_explicit(&h->version_minor, MDBUS_LAYOUT_MINOR, memory_order_relaxed);
	atomic_store_explicit(&h->slot_size, g->slot_size, memory_order_relaxed);
	atomic_store_explicit(&h->slots_per_block, g->slots_per_block, memory_order_relaxed);
	atomic_store_explicit(&h->block_count, g->block_count, memory_order_relaxed);
	atomic_store_explicit(&h->max_consumers, g->max_consumers, memory_order_relaxed);
	atomic_store_explicit(&h->mode, g->mode, memory_order_relaxed);
	atomic_store_explicit(&h->header_size, SEG_HEADER_SIZE, memory_order_relaxed);
	atomic_store_explicit(&h->table_size, g->table_size, memory_order_relaxed);
	atomic_store_explicit(&h->blocks_off, g->blocks_off, memory_order_relaxed);
	atomic_store_explicit(&h->total_size, g->total_size, memory_order_relaxed);
	atomic_store_explicit(&h->create_ns, clock_realtime_ns(), memory_order_relaxed);
	atomic_store_explicit(&h->epoch, g->epoch, memory_order_relaxed);
	for (i = 0; i < sizeof(name) / 8; i++)
		atomic_store_explicit(&h->channel[i], name[i], memory_order_relaxed);
	/* Last: pairs with the acquire load in seg_geom_from_header(). */
	atomic_store_explicit(&h->magic, SEG_MAGIC, memory_order_release);
}

int seg_set_perms(int fd, mode_t mode, const char *group)
{
	gid_t gid;
	int r;

	if (fchmod(fd, mode) < 0)
		return err_set(-errno, "fchmod %o: %s", (unsigned)mode,
			       strerror(errno));
	r = pub_config_gid(group, &gid);
	if (r < 0 || gid == (gid_t)-1)
		return r;
	if (fchown(fd, (uid_t)-1, gid) < 0)
		return err_set(-errno, "chown to group %s: %s", group,
			       strerror(errno));
	return 0;
}

static int no_space(const char *dir, const char *channel, uint64_t need,
		    uint64_t avail)
{
	return err_set(MDBUS_ENOSPACE,
		       "channel %s needs %" PRIu64 " bytes (%.1f MiB) in %s, only %" PRIu64 " bytes (%.1f MiB) free; enlarge it (e.g. docker --shm-size) or shrink the geometry",
		       channel, need, need / 1048576.0, dir ? dir : SHM_DIR,
		       avail, avail / 1048576.0);
}

/* Checks free space, then reserves every byte so that no page fault on
 * the segment can ever raise SIGBUS for want of memory. */
int seg_reserve(int fd, const char *dir, const char *channel, uint64_t size)
{
	struct statvfs vfs;
	uint64_t avail = 0;
	int r;

	if (fstatvfs(fd, &vfs) == 0) {
		avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		if (vfs.f_blocks && avail < size)
			return no_space(dir, channel, size, avail);
	}
	r = posix_fallocate(fd, 0, (off_t)size);
	if (r == ENOSPC || r == EFBIG)
		return no_space(dir, channel, size, avail);
	if (r == EOPNOTSUPP || r == EINVAL) /* e.g. hugetlbfs */
		r = ftruncate(fd, (off_t)size) < 0 ? errno : 0;
	if (r)
		return err_set(-r, "reserve %" PRIu64 " bytes for channel %s: %s",
			       size, channel, strerror(r));
	return 0;
}

int seg_map_rw(struct seg_map *m, int fd)
{
	void *p = mmap(NULL, m->g.total_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, 0);

	if (p == MAP_FAILED)
		return err_set(-errno, "mmap %" PRIu64 " bytes: %s",
			       m->g.total_size, strerror(errno));
	m->data_map = p;
	m->hdr = p;
	m->blocks = (_Atomic uint64_t *)p + m->g.blocks_off / sizeof(uint64_t);
	return 0;
}

/* Hidden names: "mdbus.CHANNEL~" and 16 random hex digits (not the
 * epoch: nobody learns the table file's name before it exists). '~' is no
 * channel character, so neither mdbus_list() nor any open by name finds
 * them. */
#define HIDDEN_MARK '~'

static void hidden_name(char *tmp, const char *dir, const char *channel)
{
	char path[PATH_MAX];

	seg_path(path, sizeof(path), dir, channel);
	snprintf(tmp, SEG_TMP_MAX, "%s%c%016" PRIx64, path, HIDDEN_MARK,
		 new_epoch());
}

struct abandoned {
	const char *dir, *channel;
};

/* Removes one hidden segment of ours, and its table file: its maker is
 * gone, for it held the channel's lock, which we hold now. The table's
 * epoch is in the header from before the table was made
 * (seg_new_make()). */
static void remove_if_abandoned(int dfd, const char *name, size_t prefix,
				void *arg)
{
	const struct abandoned *ab = arg;
	struct stat st;
	uint64_t epoch = 0;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
			O_NONBLOCK | O_NOCTTY);

	(void)prefix;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
		if (pread(fd, &epoch, sizeof(epoch),
			  offsetof(struct seg_header, epoch)) == (ssize_t)sizeof(epoch) &&
		    epoch)
			seg_table_unlink(ab->dir, ab->channel, epoch);
		unlinkat(dfd, name, 0);
	}
	close(fd);
}


/* The table file under a new epoch, written into the header first (so
 * that remove_if_abandoned() finds it); a name someone else made (they
 * cannot know a new epoch, so only by chance) makes us draw again. */
static int make_table(struct seg_map *m, const char *dir, const char *channel,
		      const struct mdbus_pub_config *cfg)
{
	int r = -EEXIST, tries;

	for (tries = 0; r == -EEXIST && tries < 16; tries++) {
		m->g.epoch = new_epoch();
		atomic_store_explicit(&m->hdr->epoch, m->g.epoch, memory_order_relaxed);
		r = seg_table_create(m, dir, channel, cfg);
	}
	return r;
}

int seg_new_make(struct seg_map *m, const char *channel,
		 const struct mdbus_pub_config *cfg,
		 const struct seg_geom *want, char *tmp)
{
	const char *dir = seg_dir(cfg->dir);
	int fd, r;

	/* Called with the channel's lock held: every hidden segment was
	 * left by a maker that was killed. */
	seg_dir_each(dir, channel, HIDDEN_MARK, remove_if_abandoned,
		     &(struct abandoned){ dir, channel });
	m->g = *want;
	hidden_name(tmp, dir, channel);
	/* 0600 until its table exists: nobody reads the epoch before. */
	fd = seg_open_path(tmp, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return err_set(fd, "create channel %s in %s: %s", channel,
			       dir ? dir : SHM_DIR, strerror(-fd));
	r = seg_reserve(fd, dir, channel, want->total_size);
	if (r == 0)
		r = seg_map_rw(m, fd);
	if (r == 0)
		r = make_table(m, dir, channel, cfg);
	if (r == 0)
		r = seg_set_perms(fd, seg_data_mode(cfg->file_mode), cfg->group);
	close(fd);
	if (r < 0) {
		unlink(tmp);
		seg_unmap(m);
		return r;
	}
	header_init(m->hdr, &m->g, channel);
	return 0;
}

/* Why the file at path could not be renamed over: another user's file in
 * a sticky directory is the usual case, and has a fix to name. */
static int replace_error(int err, const char *path, const char *channel)
{
	struct stat st;

	if ((err == -EPERM || err == -EACCES) && lstat(path, &st) == 0 &&
	    st.st_uid != geteuid())
		return err_set(err, "channel %s: cannot replace %s, %s of uid %u "
			       "(in a sticky directory only its owner or root "
			       "may): remove it as its owner or root, or use a "
			       "segment directory only trusted users can write",
			       channel, path, seg_file_kind(st.st_mode),
			       (unsigned)st.st_uid);
	return err_set(err, "channel %s: rename into place: %s", channel,
		       strerror(-err));
}

int seg_new_publish(const char *tmp, const char *dir, const char *channel,
		    int replace)
{
	char path[PATH_MAX];

	seg_path(path, sizeof(path), dir, channel);
	if (replace) {
		if (rename(tmp, path) == 0)
			return 0;
		return replace_error(-errno, path, channel);
	}
	/* No-replace rename: one step, and the file never has two names
	 * (readers refuse a segment with two); link() where the file system
	 * lacks it. */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return errno == EEXIST ? -EEXIST
				       : err_set(-errno, "channel %s: rename into place: %s",
						 channel, strerror(errno));
	if (link(tmp, path) < 0)
		return errno == EEXIST ? -EEXIST
				       : err_set(-errno, "channel %s: link into place: %s",
						 channel, strerror(errno));
	unlink(tmp);
	return 0;
}

void seg_new_discard(struct seg_map *m, const char *tmp, const char *dir,
		     const char *channel)
{
	seg_table_unlink(dir, channel, m->g.epoch);
	unlink(tmp);
	seg_unmap(m);
}
