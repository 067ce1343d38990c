/*
 * seg_table.c - the consumer table file: made next to a new segment,
 * opened by readers and by a resuming publisher, checked before use,
 * mapped under the truncation guard (doc/protocol.md, "Consumer table
 * file").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

void seg_table_path(char *buf, size_t len, const char *dir, const char *channel,
		    uint64_t epoch)
{
	char path[PATH_MAX];

	seg_path(path, sizeof(path), dir, channel);
	snprintf(buf, len, "%s%c%016" PRIx64, path, SEG_TABLE_MARK, epoch);
}

/* Maps the table file open as fd, table_size bytes, under the guard. */
static int map_table(struct seg_map *m, int fd, int writable)
{
	void *p = mmap(NULL, m->g.table_size,
		       PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return err_set(-errno, "mmap consumer table: %s", strerror(errno));
	m->table_map = p;
	m->tab = p;
	/* table_off is a whole number of entries (layout.h) */
	m->table = (struct seg_consumer *)p + m->g.table_off / sizeof(struct seg_consumer);
	m->writable = writable;
	m->guard = table_guard_add(p, m->g.table_size);
	return 0;
}

static void table_header_init(struct seg_table_header *t, const struct seg_geom *g)
{
	atomic_store_explicit(&t->version_major, MDBUS_LAYOUT_MAJOR, memory_order_relaxed);
	atomic_store_explicit(&t->version_minor, MDBUS_LAYOUT_MINOR, memory_order_relaxed);
	atomic_store_explicit(&t->epoch, g->epoch, memory_order_relaxed);
	atomic_store_explicit(&t->max_consumers, g->max_consumers, memory_order_relaxed);
	/* Last: pairs with the acquire load in check_table_header(). */
	atomic_store_explicit(&t->magic, SEG_TABLE_MAGIC, memory_order_release);
}

int seg_table_create(struct seg_map *m, const char *dir, const char *channel,
		     const struct mdbus_pub_config *cfg)
{
	char path[SEG_TMP_MAX];
	int fd, r;

	seg_table_path(path, sizeof(path), dir, channel, m->g.epoch);
	fd = seg_open_path(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return err_set(fd, "channel %s: create its consumer table %s: %s",
			       channel, path, strerror(-fd));
	r = seg_set_perms(fd, cfg->file_mode & 0777, cfg->group);
	if (r == 0)
		r = seg_reserve(fd, dir, channel, m->g.table_size);
	if (r == 0)
		r = map_table(m, fd, 1);
	if (r < 0) {
		close(fd);
		unlink(path);
		return r;
	}
	m->table_fd = fd;
	table_header_init(m->tab, &m->g);
	return 0;
}

/* The file checks before a byte of it is read: ours to trust as far as
 * its owner is the data file's owner, regular, not writable by others,
 * the size the geometry says. Its number of names is not checked: its
 * writers may hard-link it anywhere (its content is untrusted anyway;
 * the segment, which they cannot link, names the epoch). */
static int check_table_file(int fd, const char *channel, uid_t owner,
			    const struct seg_geom *g)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_set(-errno, "channel %s: stat consumer table: %s",
			       channel, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_uid != owner || (st.st_mode & S_IWOTH))
		return err_set(MDBUS_ECORRUPT, "channel %s: its consumer table "
			       "is %s of uid %u mode %03o, not the segment "
			       "owner's (uid %u) file: refused", channel,
			       S_ISREG(st.st_mode) ? "a file" : "not a regular file",
			       (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			       (unsigned)owner);
	if ((uint64_t)st.st_size != g->table_size)
		return err_set(MDBUS_ECORRUPT, "channel %s: consumer table of %lld "
			       "bytes, its segment says %" PRIu64 " (truncated?)",
			       channel, (long long)st.st_size, g->table_size);
	return 0;
}

static int check_table_header(const struct seg_table_header *t,
			      const struct seg_geom *g, const char *channel)
{
	/* Acquire pairs with the release store in table_header_init(). */
	if (atomic_load_explicit(&t->magic, memory_order_acquire) != SEG_TABLE_MAGIC ||
	    atomic_load_explicit(&t->version_major, memory_order_relaxed) != MDBUS_LAYOUT_MAJOR ||
	    atomic_load_explicit(&t->epoch, memory_order_relaxed) != g->epoch ||
	    atomic_load_explicit(&t->max_consumers, memory_order_relaxed) != g->max_consumers)
		return err_set(MDBUS_ECORRUPT, "channel %s: its consumer table "
			       "does not belong to its segment (magic, version, "
			       "epoch or size differ)", channel);
	return 0;
}

/* A publisher's own table file that a reader cut while no publisher ran:
 * back to its size, as seg_table_restore() does (the cut part comes back
 * as zeros: free entries), so that the readers whose entries survived,
 * which never faulted and keep this file mapped, go on being seen. */
static void mend_cut(int fd, uid_t owner, const struct seg_geom *g)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == owner &&
	    st.st_nlink == 1 && (uint64_t)st.st_size < g->table_size)
		(void)ftruncate(fd, (off_t)g->table_size);
}

int seg_table_open(struct seg_map *m, const char *dir, const char *channel,
		   uid_t owner, int flags)
{
	int writable = !(flags & SEG_TABLE_RDONLY);
	char path[SEG_TMP_MAX];
	int fd, r;

	seg_table_path(path, sizeof(path), dir, channel, m->g.epoch);
	fd = seg_open_path(path, writable ? O_RDWR : O_RDONLY, 0);
	if (fd == -EACCES && writable && !(flags & SEG_TABLE_KEEP_FD)) {
		writable = 0;
		fd = seg_open_path(path, O_RDONLY, 0);
	}
	if (fd < 0)
		return err_set(fd, "channel %s: open its consumer table %s: %s",
			       channel, path, strerror(-fd));
	if (flags & SEG_TABLE_KEEP_FD)
		mend_cut(fd, owner, &m->g);
	r = check_table_file(fd, channel, owner, &m->g);
	if (r == 0)
		r = map_table(m, fd, writable);
	if (r == 0)
		r = check_table_header(m->tab, &m->g, channel);
	if (r == 0 && (flags & SEG_TABLE_KEEP_FD))
		m->table_fd = fd;
	else
		close(fd);
	if (r < 0)
		seg_table_unmap(m);
	return r;
}

/* Whether the identity in the table header is the one we made. */
static int header_intact(const struct seg_table_header *t, const struct seg_geom *g)
{
	/* Acquire pairs with the release store in table_header_init(). */
	return atomic_load_explicit(&t->magic, memory_order_acquire) == SEG_TABLE_MAGIC &&
	       atomic_load_explicit(&t->version_major, memory_order_relaxed) == MDBUS_LAYOUT_MAJOR &&
	       atomic_load_explicit(&t->version_minor, memory_order_relaxed) == MDBUS_LAYOUT_MINOR &&
	       atomic_load_explicit(&t->epoch, memory_order_relaxed) == g->epoch &&
	       atomic_load_explicit(&t->max_consumers, memory_order_relaxed) == g->max_consumers;
}

int seg_table_restore(struct seg_map *m)
{
	struct stat st;
	int lost;
	void *p;

	if (m->table_fd < 0)
		return 0;
	lost = table_guard_lost(m->guard);
	if (fstat(m->table_fd, &st) < 0)
		return -errno;
	if (!lost && (uint64_t)st.st_size == m->g.table_size) {
		if (header_intact(m->tab, &m->g))
			return 0;
		table_header_init(m->tab, &m->g); /* someone rewrote it */
		return 1;
	}
	/* Our own file: back to its size (a part cut off comes back as
	 * zeros: free entries; a part added goes), mapped again where the
	 * guard may have put zeros. A cut header is written again. The
	 * mark goes first: a cut during the repair marks it again. */
	table_guard_reset(m->guard);
	if (ftruncate(m->table_fd, (off_t)m->g.table_size) < 0)
		return -errno;
	p = mmap(m->table_map, m->g.table_size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, m->table_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (!header_intact(m->tab, &m->g))
		table_header_init(m->tab, &m->g);
	return 1;
}

/* A table file of this uid's other than the one of epoch *keep
 * ("mdbus.CHANNEL+" and 16 lower-case hex digits): removed. */
static void remove_other_table(int dfd, const char *name, size_t n, void *keep)
{
	char own[17];
	struct stat st;
	size_t i;

	if (strlen(name + n) != 16)
		return;
	for (i = 0; i < 16; i++)
		if (!strchr("0123456789abcdef", name[n + i]))
			return;
	snprintf(own, sizeof(own), "%016" PRIx64, *(const uint64_t *)keep);
	if (strcmp(name + n, own) != 0 &&
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_uid == geteuid())
		unlinkat(dfd, name, 0);
}

void seg_table_sweep(const char *dir, const char *channel, uint64_t keep)
{
	seg_dir_each(dir, channel, SEG_TABLE_MARK, remove_other_table, &keep);
}

int seg_table_unlink(const char *dir, const char *channel, uint64_t epoch)
{
	char path[SEG_TMP_MAX];

	seg_table_path(path, sizeof(path), dir, channel, epoch);
	return unlink(path) < 0 ? -errno : 0;
}

void seg_table_unmap(struct seg_map *m)
{
	if (m->table_fd >= 0)
		close(m->table_fd);
	m->table_fd = -1;
	if (!m->table_map)
		return;
	table_guard_remove(m->guard);
	munmap(m->table_map, m->g.table_size);
	m->table_map = NULL;
	m->tab = NULL;
	m->table = NULL;
	m->guard = -1;
}
