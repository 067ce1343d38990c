/*
 * conf_open.c - opens mdpub's config file (see conf_open.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_open.h"
#include "internal.h"

static const char *kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	default: return "not a regular file";
	}
}

/* The user's name for a message: "alice (uid 1000)" or "uid 1000". */
static void user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, len, "%s (uid %u)", pw->pw_name, (unsigned)uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
}

/* Whether the file open as st may be trusted; else the reason in why. */
static int check_file(const char *path, const struct stat *st, char *why,
		      size_t whylen)
{
	char owner[128];
	uid_t me = geteuid();

	if (S_ISDIR(st->st_mode)) {
		snprintf(why, whylen, "%s", strerror(EISDIR));
		return -EISDIR;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "%s, not a regular file", kind(st->st_mode));
		return -EINVAL;
	}
	if (st->st_uid != 0 && st->st_uid != me) {
		user_name(st->st_uid, owner, sizeof owner);
		snprintf(why, whylen, "owned by %s, not by root or the user "
			 "mdpub runs as (uid %u): chown it to one of them",
			 owner, (unsigned)me);
		return -EPERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen, "mode %04o lets %s change it: chmod go-w %s",
			 (unsigned)(st->st_mode & 07777),
			 st->st_mode & S_IWOTH ? "others" : "its group", path);
		return -EPERM;
	}
	return 0;
}

/* Whether the directories of the file's real path (symbolic links
 * resolved, as a file managed elsewhere may be linked in), and those of
 * the name as given, are fit to hold it: root's or ours, none writable
 * by other users without the sticky bit (dirs_trusted(), as the
 * archive's). Else whoever may write one
 * could put another file, or a link to another, under the name: the
 * file passes check_file() and says what that user wants (attack run: a
 * link to /etc/shadow in a group-writable directory was accepted, and
 * its first fields logged). The real path must still name the file
 * opened as st. */
static int check_dirs(const char *path, const struct stat *st, char *why,
		      size_t whylen)
{
	char real[PATH_MAX], at[PATH_MAX], owner[128], *slash;
	struct stat now, dir;
	int r;

	if (!realpath(path, real)) {
		r = -errno;
		snprintf(why, whylen, "%s", strerror(-r));
		return r;
	}
	if (stat(real, &now) < 0 || now.st_dev != st->st_dev ||
	    now.st_ino != st->st_ino) {
		snprintf(why, whylen, "replaced while it was checked: try again");
		return -EAGAIN;
	}
	slash = strrchr(real, '/'); /* realpath(): absolute */
	slash[slash == real] = '\0'; /* "/a" goes to "/" */
	r = dirs_trusted(real, at, sizeof at, &dir);
	/* and the directory of the name as given: a symbolic link there
	 * is its directory's to point anywhere (review) */
	snprintf(real, sizeof real, "%s", path);
	if (r == 0)
		r = dirs_trusted(dirname(real), at, sizeof at, &dir);
	if (r < 0) {
		snprintf(why, whylen, "directory %s: %s", at, strerror(-r));
		return r;
	}
	if (r == DIRS_OWNER) {
		user_name(dir.st_uid, owner, sizeof owner);
		snprintf(why, whylen, "directory %s is owned by %s, not by root "
			 "or the user mdpub runs as (uid %u), who could put "
			 "another file under the name: keep the configuration "
			 "in a directory of one of them", at, owner,
			 (unsigned)geteuid());
		return -EPERM;
	}
	if (r == DIRS_OPEN) {
		snprintf(why, whylen, "directory %s may be written by %s (mode "
			 "%04o), who could put another file under the name: "
			 "chmod go-w %s", at, dirs_writers(&dir),
			 (unsigned)(dir.st_mode & 07777), at);
		return -EPERM;
	}
	return 0;
}

int conf_open(const char *path, FILE **out, char *why, size_t whylen)
{
	struct stat st;
	int err, fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	*why = '\0';
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "%s", strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0)
		err = -errno;
	else
		err = check_file(path, &st, why, whylen);
	if (err == 0)
		err = check_dirs(path, &st, why, whylen);
	if (err == 0 && fcntl(fd, F_SETFL, 0) < 0)
		err = -errno;
	if (err == 0 && !(*out = fdopen(fd, "r")))
		err = -errno;
	if (err == 0)
		return 0;
	if (!*why)
		snprintf(why, whylen, "%s", strerror(-err));
	close(fd);
	return err;
}
