/*
 * conf_open.c - opens mdpub's config file (see conf_open.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_open.h"

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
