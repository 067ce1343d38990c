/*
 * dir_usage.c - what the mdbus files take in the segment directory
 * (doc/protocol.md, "Segment names": a channel's segment, its table and
 * lock files, hidden segments being made).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "internal.h"
#include "segment.h"

#define PREFIX "mdbus."

/* 1 for "mdbus.NAME", "mdbus.NAME+..." or "mdbus.NAME~...". */
static int is_ours(const char *name)
{
	char ch[MDBUS_CHANNEL_MAX + 1];
	size_t n;

	if (strncmp(name, PREFIX, strlen(PREFIX)))
		return 0;
	name += strlen(PREFIX);
	n = strcspn(name, "+~");
	if (n == 0 || n > MDBUS_CHANNEL_MAX)
		return 0;
	memcpy(ch, name, n);
	ch[n] = '\0';
	return mdbus_channel_valid(ch);
}

MDBUS_EXPORT int mdbus_dir_usage(const char *dir, struct mdbus_dir_stats *u)
{
	const char *path = seg_dir(dir);
	struct statvfs vfs;
	struct dirent *e;
	DIR *d;

	err_clear();
	memset(u, 0, sizeof(*u));
	path = path ? path : SHM_DIR;
	d = opendir(path);
	if (!d)
		return err_set(-errno, "open directory %s: %s", path,
			       strerror(errno));
	while ((e = readdir(d))) {
		struct stat st;

		/* lstat: a name that is a link counts as what it is */
		if (!is_ours(e->d_name) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		u->files++;
		u->bytes += (uint64_t)st.st_blocks * 512;
	}
	if (fstatvfs(dirfd(d), &vfs) == 0) {
		u->fs_size = (uint64_t)vfs.f_blocks * vfs.f_frsize;
		u->fs_avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	}
	closedir(d);
	return 0;
}
