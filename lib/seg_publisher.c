/*
 * seg_publisher.c - a publisher's open: create the segment, or resume one whose
 * publisher is gone (doc/protocol.md, "Ownership").
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

static int owned_error(int fd, const char *channel)
{
	struct seg_header *h;
	struct stat st;
	int32_t pid = 0;

	if (fstat(fd, &st) == 0 && st.st_size >= (off_t)SEG_HEADER_SIZE) {
		h = mmap(NULL, SEG_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (h != MAP_FAILED) {
			/* Pairs with the publisher's release store of its pid. */
			pid = atomic_load_explicit(&h->pub_pid, memory_order_acquire);
			munmap(h, SEG_HEADER_SIZE);
		}
	}
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
 * We hold the lock of an existing segment, so its publisher is gone.
 * Returns 0 when resumed, -EAGAIN when the old object was removed (stale
 * or replaced: create again), or an error.
 */
static int resume_locked(struct seg_map *m, int fd, const char *channel,
			 const struct mdbus_pub_config *cfg,
			 const struct seg_geom *want)
{
	const char *dir = seg_dir(cfg->dir);
	struct seg_header *h;
	struct seg_geom have;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return err_set(-errno, "stat channel %s: %s", channel, strerror(errno));
	if (st.st_size < (off_t)SEG_HEADER_SIZE) {
		seg_unlink_if_same(fd, dir, channel); /* creator died early */
		return -EAGAIN;
	}
	h = mmap(NULL, SEG_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return err_set(-errno, "mmap channel %s: %s", channel, strerror(errno));
	if (atomic_load_explicit(&h->magic, memory_order_acquire) == 0) {
		munmap(h, SEG_HEADER_SIZE);
		seg_unlink_if_same(fd, dir, channel); /* creator died mid-way */
		return -EAGAIN;
	}
	r = seg_geom_from_header(&have, h, (uint64_t)st.st_size, channel);
	if (r == 0 && !seg_geom_same(&have, want))
		r = geometry_error(channel, &have, want);
	if (r == 0) {
		munmap(h, SEG_HEADER_SIZE);
		m->g = have;
		return seg_map_rw(m, fd);
	}
	if (!(cfg->flags & MDBUS_PUB_REPLACE) || r == MDBUS_EBADMAGIC) {
		munmap(h, SEG_HEADER_SIZE);
		return r;
	}
	if (r == MDBUS_EGEOMETRY) {
		/* Readers still mapped to the old segment see this and reopen;
		 * pairs with the acquire load in sub.c's state check. */
		atomic_store_explicit(&h->pub_state, SEG_PUB_REPLACED, memory_order_release);
		wait_wake_all(h);
	}
	munmap(h, SEG_HEADER_SIZE);
	seg_unlink_if_same(fd, dir, channel);
	return -EAGAIN;
}

static int try_resume(struct seg_map *m, const char *channel,
		      const struct mdbus_pub_config *cfg, const struct seg_geom *want)
{
	const char *dir = seg_dir(cfg->dir);
	int fd, r;

	fd = seg_fd_open(dir, channel, O_RDWR, 0);
	if (fd == -ENOENT)
		return -EAGAIN;
	if (fd < 0)
		return err_set(fd, "open channel %s in %s: %s", channel,
			       dir ? dir : SHM_DIR, strerror(-fd));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? owned_error(fd, channel)
					 : err_set(-errno, "lock channel %s: %s",
						   channel, strerror(errno));
		close(fd);
		return r;
	}
	r = resume_locked(m, fd, channel, cfg, want);
	if (r < 0)
		close(fd);
	return r;
}

int seg_open_publisher(struct seg_map *m, const char *channel,
		       const struct mdbus_pub_config *cfg)
{
	struct seg_geom want;
	int attempt, r;

	r = seg_check_channel(channel);
	if (r < 0)
		return r;
	r = seg_geom_make(&want, cfg->slot_size, cfg->slots_per_block,
			  cfg->block_count, cfg->max_consumers, cfg->mode);
	if (r < 0)
		return r;
	if (cfg->file_mode & S_IWOTH)
		return err_set(-EINVAL,
			       "file mode %o is writable by others; readers refuse such segments",
			       (unsigned)cfg->file_mode);
	for (attempt = 0; attempt < 8; attempt++) {
		r = seg_try_create(m, channel, cfg, &want);
		if (r == -EEXIST)
			r = try_resume(m, channel, cfg, &want);
		if (r == -EAGAIN)
			continue;
		if (r == 0)
			r = seg_lock_track(m->fd);
		return r;
	}
	return err_set(-EBUSY, "channel %s keeps changing while we open it", channel);
}
