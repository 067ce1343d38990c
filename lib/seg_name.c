/*
 * seg_name.c - naming: channel names, the segment directory, opening and unlinking
 * segment files by name (never through a symbolic link).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

MDBUS_EXPORT int mdbus_channel_valid(const char *name)
{
	size_t i, n;

	if (!name)
		return 0;
	n = strlen(name);
	if (n == 0 || n > MDBUS_CHANNEL_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

int seg_check_channel(const char *channel)
{
	if (mdbus_channel_valid(channel))
		return 0;
	return err_set(MDBUS_ENAME,
		       "invalid channel name '%.80s': use [A-Za-z0-9._-]{1,64}",
		       channel ? channel : "(null)");
}

const char *seg_dir(const char *dir)
{
	if (dir && *dir)
		return dir;
	dir = getenv(MDBUS_ENV_DIR);
	return dir && *dir ? dir : NULL;
}

MDBUS_EXPORT const char *mdbus_segment_dir(const char *dir)
{
	dir = seg_dir(dir);
	return dir ? dir : SHM_DIR;
}

int seg_check_dir(const char *dir)
{
	const char *d = dir ? dir : SHM_DIR;
	struct stat st;

	if (stat(d, &st) < 0)
		return err_set(-errno, "segment directory %s: %s", d, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(-ENOTDIR, "segment directory %s is not a directory", d);
	if (dirs_writers(&st))
		return err_set(-EPERM, "segment directory %s is writable by %s "
			       "and not sticky: they could rename segments away "
			       "and put their own there; chmod +t it, or use a "
			       "directory only trusted users can write", d,
			       dirs_writers(&st));
	return 0;
}

int seg_check_pub_dir(const char *dir)
{
	const char *d = dir ? dir : SHM_DIR;
	char at[PATH_MAX];
	struct stat st;
	int r = dirs_trusted(d, at, sizeof(at), &st);

	if (r < 0)
		return err_set(r, "segment directory %s: %s: %s", d, at,
			       strerror(-r));
	if (r == DIRS_OWNER)
		return err_set(-EPERM, "segment directory %s: %s is uid %u's, "
			       "not root's or this user's (uid %u): its owner "
			       "could rename the channel's files away and put "
			       "his own under their names while we publish; "
			       "use a directory whose every part is root's or "
			       "this user's", d, at, (unsigned)st.st_uid,
			       (unsigned)geteuid());
	if (r == DIRS_OPEN)
		return err_set(-EPERM, "segment directory %s: %s is writable by "
			       "%s and not sticky: they could rename what is "
			       "in it away and put their own in its place; "
			       "chmod +t or go-w it", d, at, dirs_writers(&st));
	return 0;
}

void seg_path(char *buf, size_t len, const char *dir, const char *channel)
{
	snprintf(buf, len, "%s/mdbus.%s", dir ? dir : SHM_DIR, channel);
}

int seg_open_path(const char *path, int flags, mode_t mode)
{
	/* O_NONBLOCK: a FIFO put under the name must not block the open
	 * (callers refuse anything but a regular file right after). */
	int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
			    O_NOCTTY, mode);

	return fd < 0 ? -errno : fd;
}

int seg_fd_open(const char *dir, const char *channel, int flags, mode_t mode)
{
	char path[PATH_MAX];

	seg_path(path, sizeof(path), dir, channel);
	return seg_open_path(path, flags, mode);
}

int seg_fd_unlink(const char *dir, const char *channel)
{
	char path[PATH_MAX];

	seg_path(path, sizeof(path), dir, channel);
	return unlink(path) < 0 ? -errno : 0;
}

/* The epoch of the segment under the channel's name, read with pread()
 * (the file may be anyone's), or 0 when it has no magic. */
static uint64_t named_epoch(const char *dir, const char *channel)
{
	uint64_t magic = 0, epoch = 0;
	int fd = seg_fd_open(dir, channel, O_RDONLY, 0);

	if (fd < 0)
		return 0;
	if (pread(fd, &magic, sizeof(magic), offsetof(struct seg_header, magic)) !=
	    (ssize_t)sizeof(magic) || magic != SEG_MAGIC ||
	    pread(fd, &epoch, sizeof(epoch), offsetof(struct seg_header, epoch)) !=
	    (ssize_t)sizeof(epoch))
		epoch = 0;
	close(fd);
	return epoch;
}

/* Removes the channel's lock file when nobody holds it: under its lock,
 * which a publisher that opened the file before takes in vain (it checks,
 * once locked, that the file is still under the name). */
/* Removes the segment under the name and its table file. */
static int unlink_names(const char *dir, const char *channel)
{
	uint64_t epoch = named_epoch(dir, channel);
	int r = seg_fd_unlink(dir, channel);

	if (r < 0)
		return err_set(r, "unlink channel %s: %s", channel, strerror(-r));
	if (epoch)
		seg_table_unlink(dir, channel, epoch);
	return 0;
}

MDBUS_EXPORT int mdbus_unlink(const char *channel, const char *dir)
{
	char path[SEG_TMP_MAX];
	int fd, r;

	err_clear();
	r = seg_check_channel(channel);
	if (r < 0)
		return r;
	dir = seg_dir(dir);
	/* Under the channel's lock when we can have it (nobody publishes;
	 * names change only under it), the lock file going last; else, a
	 * live publisher's or another user's, without it (the publisher
	 * keeps its nameless segment). Never makes a lock file. */
	if (seg_lock_channel(dir, channel, 0, &fd) != 0) {
		if (fd >= 0)
			seg_lock_close(fd);
		err_clear(); /* no lock to have is no error here */
		return unlink_names(dir, channel);
	}
	r = unlink_names(dir, channel);
	seg_lock_path(path, sizeof(path), dir, channel);
	unlink(path);
	seg_lock_close(fd);
	return r;
}

void seg_dir_each(const char *dir, const char *channel, char mark,
		  void (*fn)(int dfd, const char *name, size_t prefix, void *arg),
		  void *arg)
{
	char prefix[MDBUS_CHANNEL_MAX + 16];
	struct dirent *e;
	size_t n;
	DIR *d = opendir(dir ? dir : SHM_DIR);

	if (!d)
		return;
	n = (size_t)snprintf(prefix, sizeof(prefix), "mdbus.%s%c", channel, mark);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, n) == 0)
			fn(dirfd(d), e->d_name, n, arg);
	closedir(d);
}

const char *seg_file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFLNK: return "a symbolic link";
	default: return "not a regular file";
	}
}

int seg_open_error(int err, const char *dir, const char *channel)
{
	char path[PATH_MAX];
	struct stat st;

	seg_path(path, sizeof(path), dir, channel);
	if (err == -ENOENT || lstat(path, &st) < 0)
		return err_set(err, "channel %s in %s: %s", channel,
			       dir ? dir : SHM_DIR, strerror(-err));
	if (!S_ISREG(st.st_mode))
		return err_set(MDBUS_ECORRUPT, "channel %s: %s is %s, not a "
			       "segment: remove it", channel, path,
			       seg_file_kind(st.st_mode));
	if (err == -EACCES)
		return err_set(err, "channel %s: %s is uid %u's, group %u, mode "
			       "%03o: this process (uid %u) may not read it; run "
			       "as a member of its group, or have its publisher "
			       "give the readers' group access (mdpub's `group =` "
			       "and `file_mode =`, or mdbus_pub_config's group "
			       "and file_mode)", channel, path,
			       (unsigned)st.st_uid, (unsigned)st.st_gid,
			       (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
	return err_set(err, "channel %s: open %s: %s", channel, path,
		       strerror(-err));
}

int seg_fd_is_named(int fd, const char *dir, const char *channel)
{
	char path[PATH_MAX];
	struct stat a, b;

	seg_path(path, sizeof(path), dir, channel);
	if (fstat(fd, &a) < 0)
		return -errno;
	if (lstat(path, &b) < 0)
		return errno == ENOENT ? 0 : -errno;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int seg_path_renamed(const struct seg_map *m, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return st.st_dev != m->dev || st.st_ino != m->ino;
}

int seg_map_renamed(const struct seg_map *m, const char *dir,
		    const char *channel)
{
	char path[PATH_MAX];

	seg_path(path, sizeof(path), dir, channel);
	return seg_path_renamed(m, path);
}
