/*
 * pidfile.c - see pidfile.h.
 *
 * mdpub often runs as root and the pid file's directory may be writable
 * by others: a symbolic or hard link put under the name must not make it
 * truncate another file, and a FIFO must not block it, so the open never
 * follows a link nor blocks, and anything but a regular file of ours
 * with one name is refused before it is changed. It is its owner's only
 * (mode 0600): a lock on it means a running mdpub, and whoever may open
 * a file may flock() it (attack run: a user who held a shared lock on a
 * crashed mdpub's file, mode 0644 then, kept the next from starting).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidfile.h"

/* 1 when path names the file open as fd. */
static int still_named(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && lstat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int check_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "pid file %s: %s", path, strerror(e));
		return -e;
	}
	/* One that its group or others may write is not ours alone, even
	 * of one name and ours: someone who could write it may hold it open
	 * and write another pid in it while we run (attack run: a group
	 * member's hard link to a consumer table of ours, mode 0660, kept
	 * after the channel was removed and planted as the pid file; a
	 * chmod does not close what is open). */
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errlen, "pid file %s: refused: %s", path,
			 !S_ISREG(st.st_mode) ? "not a regular file"
			 : st.st_uid != geteuid() ? "owned by another user"
			 : st.st_nlink != 1 ? "it has more than one name"
					    : "its group or others may write it "
					      "(remove it)");
		return -EPERM;
	}
	/* one an older mdpub made 0644: ours only from now on */
	if ((st.st_mode & 077) && fchmod(fd, 0600) < 0) {
		int e = errno;

		snprintf(err, errlen, "pid file %s: chmod: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

/* The reason a lock is held: the pid the holder wrote. */
static void locked(int fd, const char *path, char *err, size_t errlen)
{
	char text[32] = "";
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	long pid = n > 0 ? strtol(text, NULL, 10) : 0;

	if (pid > 0)
		snprintf(err, errlen, "pid file %s is locked by a running "
			 "mdpub, pid %ld", path, pid);
	else
		snprintf(err, errlen, "pid file %s is locked by a running "
			 "mdpub", path);
}

static int write_pid(int fd, const char *path, char *err, size_t errlen)
{
	char text[32];
	int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());

	errno = EIO; /* a short write sets none */
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)len, 0) != len) {
		int e = errno;

		snprintf(err, errlen, "pid file %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

/* One try: the fd, -ESTALE when the file was replaced while we locked
 * it, or an error. */
static int take_once(const char *path, char *err, size_t errlen)
{
	int rc, fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
				     O_NONBLOCK | O_NOCTTY, 0600);

	if (fd < 0) {
		struct stat st;

		rc = -errno;
		/* another user's link in a sticky directory: EACCES */
		snprintf(err, errlen, "pid file %s: %s", path,
			 rc == -ELOOP || (rc == -EACCES && lstat(path, &st) == 0 &&
					  S_ISLNK(st.st_mode))
				 ? "refused: a symbolic link" : strerror(-rc));
		return rc;
	}
	rc = check_file(fd, path, err, errlen);
	if (rc == 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = -errno;
		if (rc == -EWOULDBLOCK)
			locked(fd, path, err, errlen);
		else
			snprintf(err, errlen, "pid file %s: %s", path,
				 strerror(-rc));
	}
	/* removed by the mdpub that held it before we locked it */
	if (rc == 0 && !still_named(fd, path))
		rc = -ESTALE;
	if (rc == 0)
		rc = write_pid(fd, path, err, errlen);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

int pidfile_take(const char *path, char *err, size_t errlen)
{
	int fd = -ESTALE;

	for (int i = 0; i < 10 && fd == -ESTALE; i++)
		fd = take_once(path, err, errlen);
	if (fd == -ESTALE)
		snprintf(err, errlen, "pid file %s keeps being replaced", path);
	return fd;
}

void pidfile_release(int fd, const char *path)
{
	if (fd < 0)
		return;
	if (still_named(fd, path))
		unlink(path);
	close(fd);
}
