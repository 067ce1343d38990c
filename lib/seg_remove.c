/*
 * seg_remove.c - mdbus_channel_remove(): every file of a channel (the
 * segment, its consumer table files, hidden segments and the lock file;
 * doc/protocol.md, "Segment names" and "Ownership"), removed under the
 * channel's lock, for tools such as `mdsub --unlink`.
 *
 * Nothing is removed unless the segment and the lock file are this
 * user's (or absent). Consumer table files and hidden segments of other
 * users are left, and named in mdbus_last_error(): no reader takes a
 * table that is not its segment owner's (doc/protocol.md, "Consumer table
 * file"), so they are no part of this user's channel, and in a sticky
 * directory (/dev/shm) nobody but their owner could remove them anyway.
 * The names are looked at with fstatat(AT_SYMLINK_NOFOLLOW) and removed
 * with unlinkat(), which never follows a symbolic link (a link under a
 * channel name is removed as itself, its target untouched).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

#define NAMES_MAX 64     /* files of one channel handled in one call */
#define LOCK_TRIES 8     /* the lock file replaced under us: look again */
#define HIDDEN_MARK '~'  /* seg_create.c */

enum kind { K_SEGMENT, K_TABLE, K_HIDDEN, K_LOCK };

struct found {
	char name[NAMES_MAX][MDBUS_CHANNEL_MAX + 32];
	enum kind kind[NAMES_MAX];
	int n;
	int more;   /* names beyond NAMES_MAX */
	int dfd;
	int err;    /* the first refusal, with its detail set */
	char left[384]; /* other users' names left: "NAME (uid N), ..." */
	int nleft;
};

static int hex16(const char *s)
{
	if (strlen(s) != 16)
		return 0;
	for (; *s; s++)
		if (!strchr("0123456789abcdef", *s))
			return 0;
	return 1;
}

/* Another user's name that is no part of this user's channel. */
static void note_left(struct found *f, const char *name, uid_t uid)
{
	size_t n = strlen(f->left);

	if (n < sizeof f->left)
		snprintf(f->left + n, sizeof f->left - n, "%s%s (uid %u)",
			 f->nleft ? ", " : "", name, (unsigned)uid);
	f->nleft++;
}

/* Records name (of kind k) when it is this user's; another user's table
 * file or hidden segment is left (note_left()), any other name of
 * another user sets f->err. */
static void add(struct found *f, const char *name, enum kind k)
{
	struct stat st;

	if (f->err)
		return;
	if (fstatat(f->dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return; /* gone meanwhile */
	if (st.st_uid != geteuid() && (k == K_TABLE || k == K_HIDDEN)) {
		note_left(f, name, st.st_uid);
		return;
	}
	if (st.st_uid != geteuid()) {
		f->err = err_set(-EPERM, "%s is %s of uid %u, not this user's "
				 "(uid %u): nothing removed; remove the channel "
				 "as its owner", name, seg_file_kind(st.st_mode),
				 (unsigned)st.st_uid, (unsigned)geteuid());
		return;
	}
	if (f->n == NAMES_MAX) {
		f->more = 1;
		return;
	}
	snprintf(f->name[f->n], sizeof f->name[f->n], "%s", name);
	f->kind[f->n++] = k;
}

static void add_marked(int dfd, const char *name, size_t prefix, void *arg)
{
	struct found *f = arg;
	const char *tail = name + prefix;

	(void)dfd;
	if (name[prefix - 1] == HIDDEN_MARK)
		hex16(tail) ? add(f, name, K_HIDDEN) : (void)0;
	else if (strcmp(tail, "lock") == 0)
		add(f, name, K_LOCK);
	else if (hex16(tail))
		add(f, name, K_TABLE);
}

/* Every file of the channel in f, or f->err. */
static void find_all(struct found *f, const char *dir, const char *channel)
{
	char seg[MDBUS_CHANNEL_MAX + 16];

	snprintf(seg, sizeof seg, "mdbus.%s", channel);
	add(f, seg, K_SEGMENT);
	seg_dir_each(dir, channel, SEG_TABLE_MARK, add_marked, f);
	seg_dir_each(dir, channel, HIDDEN_MARK, add_marked, f);
}

/* Removes the files of f but those of the kinds in skip (a bit per
 * kind). Returns the number removed, or the first error with detail. */
static int remove_found(const struct found *f, unsigned skip)
{
	int removed = 0;

	for (int i = 0; i < f->n; i++) {
		if (skip & (1u << f->kind[i]))
			continue;
		if (unlinkat(f->dfd, f->name[i], 0) < 0 && errno != ENOENT)
			return err_set(-errno, "remove %s: %s", f->name[i],
				       strerror(errno));
		removed++;
	}
	return removed;
}

static int had_lock(const struct found *f)
{
	for (int i = 0; i < f->n; i++)
		if (f->kind[i] == K_LOCK)
			return 1;
	return 0;
}

/* The channel is owned: refused, or (force) everything but the lock file
 * and the hidden segments its owner may be making. */
static int remove_owned(const struct found *f, int lock_fd,
			const char *channel, unsigned flags)
{
	int32_t pid = 0;
	uint64_t start;

	if (seg_lock_recorded(lock_fd, &pid, &start) < 0)
		pid = 0;
	if (!(flags & MDBUS_UNLINK_FORCE))
		return err_set(MDBUS_EOWNED, "channel %s is owned by live "
			       "publisher pid %d: not removed",
			       channel, (int)pid);
	return remove_found(f, 1u << K_LOCK | 1u << K_HIDDEN);
}

/* Takes the channel's lock (making the lock file when there is none,
 * as a publisher would: nobody can start publishing while we hold it).
 * Returns 0 with *fd set, -EWOULDBLOCK with *fd set (owned; EAGAIN is the
 * same number, told apart by *fd), or an error with detail. */
static int lock(const char *dir, const char *channel, int *fd)
{
	int r = seg_lock_channel(dir, channel, 1, fd);

	for (int i = 1; i < LOCK_TRIES && r == -EAGAIN && *fd < 0; i++)
		r = seg_lock_channel(dir, channel, 1, fd);
	if (r == -EAGAIN && *fd < 0)
		r = err_set(r, "channel %s: its lock file keeps changing",
			    channel);
	return r;
}

static int remove_channel(struct found *f, const char *dir,
			  const char *channel, unsigned flags)
{
	int fd, r;

	find_all(f, dir, channel);
	if (f->err)
		return f->err;
	if (f->more)
		return err_set(-E2BIG, "channel %s has more than %d files: "
			       "remove it again", channel, NAMES_MAX);
	r = lock(dir, channel, &fd);
	if (r == -EWOULDBLOCK && fd >= 0) {
		r = remove_owned(f, fd, channel, flags);
		seg_lock_close(fd);
		return r;
	}
	if (r < 0)
		return r;
	/* The lock file goes last (made by lock() if there was none): until
	 * then, nobody else can lock. */
	r = remove_found(f, 1u << K_LOCK);
	if (r >= 0) {
		char path[SEG_TMP_MAX];

		seg_lock_path(path, sizeof path, dir, channel);
		if (unlink(path) == 0 && had_lock(f))
			r++;
	}
	seg_lock_close(fd);
	return r;
}

/* The detail of a removal (r files, 0: none) that left other users'
 * files; returns r, or -ENOENT for none. */
static int report_left(const struct found *f, int r, const char *channel,
		       const char *dir)
{
	char none[MDBUS_CHANNEL_MAX + PATH_MAX + 64] = "";

	if (r == 0)
		snprintf(none, sizeof none, "channel %s in %s: no file of this "
			 "user to remove; ", channel, dir ? dir : SHM_DIR);
	return err_set(r ? r : -ENOENT, "%s%d file%s of other users left (no "
		       "part of this user's channel; only their owner or root "
		       "may remove them): %s%s", none, f->nleft,
		       f->nleft == 1 ? "" : "s", f->left,
		       strlen(f->left) >= sizeof f->left - 1 ? ", ..." : "");
}

MDBUS_EXPORT int mdbus_channel_remove(const char *channel, const char *dir,
				      unsigned flags)
{
	struct found f;
	int r;

	err_clear();
	r = seg_check_channel(channel);
	if (r < 0)
		return r;
	dir = seg_dir(dir);
	f.n = f.more = f.err = 0;
	f.dfd = open(dir ? dir : SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f.dfd < 0)
		return err_set(errno == ENOENT ? MDBUS_ENODIR : -errno,
			       "segment directory %s: %s", dir ? dir : SHM_DIR,
			       strerror(errno));
	f.left[0] = '\0';
	f.nleft = 0;
	r = remove_channel(&f, dir, channel, flags);
	close(f.dfd);
	if (r == 0 && !f.nleft)
		return err_set(-ENOENT, "channel %s in %s: no file to remove",
			       channel, dir ? dir : SHM_DIR);
	return r == 0 || (r > 0 && f.nleft) ? report_left(&f, r, channel, dir) : r;
}
