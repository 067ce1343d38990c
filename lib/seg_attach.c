/*
 * seg_attach.c - a reader's attach: open without blocking, check the file,
 * validate the header against it, map it read-only, then open and map its
 * consumer table (seg_table.c).
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

/*
 * Maps the header page read-only once it is known to be initialised
 * (magic set). A segment gets its name only when complete
 * (doc/protocol.md, "Creation"), so a file under the name without magic
 * is not one in the making: it is refused at once, never waited for (a
 * directory of such files would otherwise stall every listing).
 */
static int map_ready_header(int fd, const char *channel, struct stat *st,
			    struct seg_header **out, int *slot)
{
	struct seg_header *h;

	if (fstat(fd, st) < 0)
		return err_set(-errno, "stat channel %s: %s", channel,
			       strerror(errno));
	if (st->st_size > 0 && st->st_size < (off_t)SEG_HEADER_SIZE)
		return err_set(MDBUS_ECORRUPT,
			       "channel %s: truncated segment (%lld bytes): "
			       "remove it (its publisher makes it anew)",
			       channel, (long long)st->st_size);
	if (st->st_size == 0)
		return err_set(MDBUS_ENOTREADY, "channel %s: empty file, not a "
			       "segment", channel);
	h = mmap(NULL, SEG_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return err_set(-errno, "mmap channel %s: %s", channel,
			       strerror(errno));
	/* Its owner may cut the file now: zeros then, not SIGBUS (the
	 * caller's table_guard_end() says so; doc/protocol.md "Attaching"). */
	*slot = table_guard_add(h, SEG_HEADER_SIZE);
	/* Acquire pairs with the creator's release store of the magic. */
	if (atomic_load_explicit(&h->magic, memory_order_acquire) == 0) {
		int r = table_guard_end(*slot, channel, 0);

		munmap(h, SEG_HEADER_SIZE);
		return r < 0 ? r : err_set(MDBUS_ENOTREADY, "channel %s: "
					   "segment without magic, not made by "
					   "this library: remove it (its "
					   "publisher makes it anew)", channel);
	}
	*out = h;
	return 0;
}

#define PW_BUF_MAX (1u << 20) /* expected_owner()'s buffer at most */

/* The uid the segment must belong to: owner, else $MDBUS_OWNER, each a
 * user name or a number; (uid_t)-1 when neither is set: any. */
static int expected_owner(const char *owner, uid_t *uid)
{
	struct passwd pw, *found = NULL;
	size_t len = 1024;
	char *buf = NULL, *b, *end;
	unsigned long v;
	int r = ERANGE;

	*uid = (uid_t)-1;
	if (!owner || !*owner)
		owner = getenv(MDBUS_ENV_OWNER);
	if (!owner || !*owner)
		return 0;
	errno = 0;
	v = strtoul(owner, &end, 10);
	if (!*end && !errno && v < (uid_t)-1) {
		*uid = (uid_t)v;
		return 0;
	}
	/* an entry larger than the buffer is ERANGE, not "no such user" (a
	 * long gecos or home, as a directory service may give) */
	while (r == ERANGE && len <= PW_BUF_MAX && (b = realloc(buf, len))) {
		buf = b;
		r = getpwnam_r(owner, &pw, buf, len, &found);
		len *= 2;
	}
	if (r == 0 && found)
		*uid = pw.pw_uid;
	free(buf);
	if (r != 0 || !found)
		return err_set(-EINVAL, "unknown user '%.64s' given as the "
			       "segments' owner", owner);
	return 0;
}

static int check_owner(const struct stat *st, const char *channel, uid_t uid)
{
	if (uid != (uid_t)-1 && st->st_uid != uid)
		return err_set(-EPERM, "channel %s: the segment belongs to uid "
			       "%u, not to the expected owner (uid %u): someone "
			       "else made it", channel, (unsigned)st->st_uid,
			       (unsigned)uid);
	if (!S_ISREG(st->st_mode))
		return err_set(MDBUS_ECORRUPT, "channel %s: the file under its "
			       "name is %s, not a segment: remove it", channel,
			       seg_file_kind(st->st_mode));
	/* No publisher makes a data file its group or others may write
	 * (segment.h seg_data_mode()): one is a file planted under the
	 * name, e.g. a group member's hard link to a consumer table (mode
	 * 0660, the owner's) kept after its channel was removed and filled
	 * with a channel of his own, which passed an --owner check (attack
	 * run). */
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return err_set(-EPERM, "channel %s: refusing a segment its "
			       "group or others may write (mode %o): no "
			       "publisher makes one", channel,
			       (unsigned)(st->st_mode & 07777));
	/* A segment has one name: a second one is a hard link someone made
	 * to pass one channel's segment off as another's. */
	if (st->st_nlink != 1)
		return err_set(MDBUS_ECORRUPT, "channel %s: the segment has %lu "
			       "names (a hard link): refused", channel,
			       (unsigned long)st->st_nlink);
	return 0;
}

/* Maps the whole data file read-only: only the publisher writes it. */
static int map_data(struct seg_map *m, int fd)
{
	void *p = mmap(NULL, m->g.total_size, PROT_READ, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return err_set(-errno, "mmap segment: %s", strerror(errno));
	m->data_map = p;
	m->hdr = p;
	m->blocks = (_Atomic uint64_t *)p + m->g.blocks_off / sizeof(uint64_t);
	return 0;
}

/* The data file under the name, checked, validated and mapped. */
static int attach_data(struct seg_map *m, const char *channel, const char *dir,
		       uid_t uid, struct stat *st)
{
	struct seg_header *h = NULL;
	int fd, r, slot = -1;

	fd = seg_fd_open(dir, channel, O_RDONLY, 0);
	if (fd < 0)
		return seg_open_error(fd, dir, channel);
	r = fstat(fd, st) < 0 ? err_set(-errno, "stat channel %s: %s",
					channel, strerror(errno))
			      : check_owner(st, channel, uid);
	if (r == 0)
		r = map_ready_header(fd, channel, st, &h, &slot);
	if (r == 0) {
		r = seg_geom_from_header(&m->g, h, (uint64_t)st->st_size, channel);
		r = table_guard_end(slot, channel, r);
		munmap(h, SEG_HEADER_SIZE);
	}
	if (r == 0)
		r = map_data(m, fd);
	m->dev = st->st_dev;
	m->ino = st->st_ino;
	m->uid = st->st_uid;
	close(fd);
	return r;
}

/* A table file that is gone because its segment was replaced since we
 * opened it (the replacer marks the old segment, renames the new one
 * over it, then removes the old table): worth opening again. */
static int table_went_with_segment(const struct seg_map *m, int r)
{
	/* Acquire pairs with the replacer's release store of REPLACED. */
	return r == -ENOENT &&
	       atomic_load_explicit(&m->hdr->pub_state, memory_order_acquire) ==
	       SEG_PUB_REPLACED;
}

int seg_attach(struct seg_map *m, const char *channel, const char *dir,
	       const char *owner, int flags)
{
	int table_flags = flags & SEG_ATTACH_RDONLY ? SEG_TABLE_RDONLY : 0;
	struct stat st;
	uid_t uid;
	int r, tries;

	seg_map_init(m);
	memset(&st, 0, sizeof(st));
	r = expected_owner(owner, &uid); /* sets uid on every path */
	if (r == 0)
		r = seg_check_channel(channel);
	if (r < 0)
		return r;
	dir = seg_dir(dir);
	r = seg_check_dir(dir);
	if (r == -ENOENT) /* not "no such channel": nothing will appear */
		return err_set(MDBUS_ENODIR, "segment directory %s does not "
			       "exist", dir ? dir : SHM_DIR);
	if (r < 0)
		return r;
	for (tries = 0; tries < 100; tries++) {
		r = attach_data(m, channel, dir, uid, &st);
		if (r == 0)
			r = seg_table_open(m, dir, channel, st.st_uid, table_flags);
		if (r == 0)
			return 0;
		/* A read-only reader needs no table: one its writers spoiled
		 * (or a replacement removed) does not keep it out. */
		if (m->hdr && (flags & SEG_ATTACH_RDONLY)) {
			err_clear();
			return 0;
		}
		if (!m->hdr || !table_went_with_segment(m, r)) {
			seg_unmap(m);
			return r;
		}
		seg_unmap(m);
	}
	return r;
}

void seg_map_init(struct seg_map *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->table_fd = -1;
	m->guard = -1;
}

void seg_unmap(struct seg_map *m)
{
	seg_table_unmap(m);
	if (m->data_map)
		munmap(m->data_map, m->g.total_size);
	if (m->fd >= 0)
		seg_lock_close(m->fd); /* drops the publisher's lock */
	seg_map_init(m);
}
