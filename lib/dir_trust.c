/*
 * dir_trust.c - whether a directory's path is safe to hold a channel's
 * files: the check publishers make of their segment directory and
 * mdpub of its archive's parent (dirs_trusted()), and who besides a
 * directory's owner may rename what is in it (dirs_writers(), which
 * readers also apply to their segment directory). Used by libmdbus and
 * built into mdpub (daemons/archive.c).
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define NSS_BUF_MAX (1u << 20) /* a passwd or group entry's text at most */

/*
 * Whether gid is uid's own group under the user private group scheme
 * (Debian's adduser, and most distributions, give each user a group of
 * the user's name as primary group; with umask 002 the directories the
 * user makes are then group-writable): the group has the user's name,
 * is the user's primary group and lists no other member. Such a group
 * lets nobody else write. Looked up with the reentrant calls (the
 * library may run in any thread); anything not found is "no".
 */
static int private_group(uid_t uid, gid_t gid)
{
	struct passwd pw, *pwp;
	struct group gr, *grp;
	size_t size = 4096;
	char *buf = NULL;
	int r, own = 0;

	for (;;) {
		char *more = realloc(buf, size);

		pwp = NULL; /* nothing found in a buffer that moved */
		grp = NULL;
		if (!more)
			break;
		buf = more;
		r = getpwuid_r(uid, &pw, buf, size / 2, &pwp);
		if (r == 0 && pwp)
			r = getgrgid_r(gid, &gr, buf + size / 2, size / 2, &grp);
		if (r != ERANGE || size >= NSS_BUF_MAX)
			break;
		size *= 2;
	}
	if (pwp && grp && pw.pw_gid == gid && strcmp(gr.gr_name, pw.pw_name) == 0)
		own = !gr.gr_mem[0] ||
		      (strcmp(gr.gr_mem[0], pw.pw_name) == 0 && !gr.gr_mem[1]);
	free(buf);
	return own;
}

const char *dirs_writers(const struct stat *st)
{
	if (st->st_mode & S_ISVTX)
		return NULL;
	if (st->st_mode & S_IWOTH)
		return "anyone";
	/* root's group: root's own; any other may hold other users */
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0 &&
	    !private_group(st->st_uid, st->st_gid))
		return "its group";
	return NULL;
}

/*
 * Whether the real directory `real` (absolute, no links; "" for "/") and
 * every one above it is root's or me's (else DIRS_OWNER) and writable by
 * no other user unless sticky (else DIRS_OPEN, dirs_writers()), so that
 * no other user can rename what is in them: 0, DIRS_OWNER or DIRS_OPEN
 * with the directory in `at` and its stat() in *st, or a negated errno.
 * `real` is cut as it goes up.
 */
static int chain_trusted(char *real, char *at, size_t len, struct stat *st,
			 uid_t me)
{
	char *slash;

	if (!*real)
		strcpy(real, "/");
	for (;;) {
		snprintf(at, len, "%s", real);
		if (stat(real, st) < 0)
			return -errno;
		if (st->st_uid != 0 && st->st_uid != me)
			return DIRS_OWNER;
		if (dirs_writers(st))
			return DIRS_OPEN;
		if (strcmp(real, "/") == 0)
			return 0;
		slash = strrchr(real, '/');
		slash[slash == real] = '\0';
	}
}

/* Puts the part of a path that failed in `at`; returns r. */
static int at_part(char *at, size_t len, const char *part, int r)
{
	snprintf(at, len, "%s", part);
	return r;
}

/*
 * Whether every symbolic link met resolving path (those in the links'
 * targets too) is root's or me's, and in a directory only root or me
 * may change (chain_trusted()). realpath() below sees only where a link
 * points now: another user's link (his own, in a sticky /tmp) is his to
 * point elsewhere at any time, and every later open by the name as
 * given (mdpub's, and readers', who take the archive path the segment
 * announces or the segment directory they are told) then goes where he
 * wants (attack run: root's mdsub --from 0 counted every archived
 * message lost, reading nobody's empty directory). No one can change a
 * link, but whoever may rename what is in its directory, or in one
 * above, can put his own in its place: root's link in nobody's
 * directory is nobody's to replace (review of c7dc175: taken before).
 * Resolved by hand, as the kernel does: ".." after a link is the parent
 * of where it led; a directory ".." leaves is held to a link's
 * directory's rule (chain_trusted()), as its name is all ".." goes by
 * at each later open. DIRS_OWNER with the link or directory in `at` and
 * its lstat() or stat() in *st, DIRS_OPEN with the directory, 0, or a
 * negated errno with the part in `at` (a missing one too: left to
 * realpath(), another user could make it his link in a sticky /tmp
 * between the two, and the link check would never see it; review of
 * c7dc175).
 */
static int links_trusted(const char *path, char *at, size_t len,
			 struct stat *st, uid_t me)
{
	char done[PATH_MAX] = "", rest[PATH_MAX], link[PATH_MAX];
	char next[PATH_MAX + NAME_MAX + 2], tmp[2 * PATH_MAX];
	const char *p = rest;
	int links = 0, r;

	if (path[0] != '/' && !getcwd(done, sizeof done))
		return -errno;
	if (strcmp(done, "/") == 0) /* "" stands for "/" */
		done[0] = '\0';
	if ((size_t)snprintf(rest, sizeof rest, "%s", path) >= sizeof rest)
		return -ENAMETOOLONG;
	for (;;) {
		size_t n;
		ssize_t k;

		while (*p == '/')
			p++;
		if (!*p)
			return 0;
		n = strcspn(p, "/");
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(done, '/');

			/* the parent of the directory left, whatever is under
			 * its name then: whoever may rename it (its owner, in
			 * a sticky /tmp too) can put his link there, and ".."
			 * leads into his tree, which the real path never
			 * shows (attack run: /tmp/his/../mine taken, then
			 * nobody's link at his led root's readers to his) */
			memcpy(link, done, strlen(done) + 1);
			r = *done ? chain_trusted(link, at, len, st, me) : 0;
			if (r != 0)
				return r;
			if (slash)
				*slash = '\0';
			p += n;
			continue;
		}
		snprintf(next, sizeof next, "%s/%.*s", done, (int)n, p);
		if (strlen(next) >= PATH_MAX)
			return -ENAMETOOLONG;
		p += n;
		if (lstat(next, st) < 0)
			return at_part(at, len, next, -errno);
		if (!S_ISLNK(st->st_mode)) {
			memcpy(done, next, strlen(next) + 1);
			continue;
		}
		if (st->st_uid != 0 && st->st_uid != me)
			return at_part(at, len, next, DIRS_OWNER);
		/* done: the link's directory, real (links resolved) */
		memcpy(link, done, strlen(done) + 1);
		r = chain_trusted(link, at, len, st, me);
		if (r != 0)
			return r;
		if (++links > 40) /* the kernel's limit */
			return -ELOOP;
		k = readlink(next, link, sizeof link - 1);
		if (k < 0)
			return -errno;
		link[k] = '\0';
		if ((size_t)snprintf(tmp, sizeof tmp, "%s/%s", link, p) >=
		    sizeof rest)
			return -ENAMETOOLONG;
		memcpy(rest, tmp, strlen(tmp) + 1);
		p = rest;
		if (link[0] == '/')
			done[0] = '\0';
	}
}

int dirs_trusted(const char *path, char *at, size_t len, struct stat *st)
{
	char real[PATH_MAX];
	uid_t me = geteuid();
	int r;

	snprintf(at, len, "%s", path);
	r = links_trusted(path, at, len, st, me);
	if (r != 0)
		return r;
	if (!realpath(path, real))
		return -errno;
	/* the directory itself, then each parent up to "/" */
	return chain_trusted(real, at, len, st, me);
}
