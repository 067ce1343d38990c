/*
 * seg_lock.c - the channel's owner lock: a flock() on its lock file
 * (doc/protocol.md, "Ownership"), dropped in fork()ed children.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

/*
 * The owner lock is a flock() on the publisher's open file description,
 * which fork() shares with the child: a child that outlived its publisher
 * parent would keep the channel owned. So every lock fd of this process is
 * listed, and in a child each is pointed at /dev/null (dup2 drops the
 * child's reference to the locked description; the fd number stays valid
 * for the handle's eventual close).
 */
static pthread_mutex_t locks_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t locks_once = PTHREAD_ONCE_INIT;
static int *lock_fds;
static size_t lock_count, lock_cap;

static void locks_prepare(void) { pthread_mutex_lock(&locks_mu); }
static void locks_parent(void) { pthread_mutex_unlock(&locks_mu); }

static void locks_child(void)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	size_t i;

	/* Without /dev/null (no descriptor left), close them instead: the
	 * child must not keep a lock, whatever becomes of its handles.
	 * dup3, not dup2: the fd stays close-on-exec, as it was. */
	for (i = 0; i < lock_count; i++)
		if (null < 0 || dup3(null, lock_fds[i], O_CLOEXEC) < 0)
			close(lock_fds[i]);
	if (null >= 0)
		close(null);
	lock_count = 0;
	pthread_mutex_unlock(&locks_mu);
}

static void locks_init(void)
{
	pthread_atfork(locks_prepare, locks_parent, locks_child);
}

/* Makes room for one more fd in the list. Called with locks_mu held. */
static int lock_room(void)
{
	int *v;

	if (lock_count < lock_cap)
		return 0;
	v = realloc(lock_fds, (lock_cap ? lock_cap * 2 : 8) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	lock_fds = v;
	lock_cap = lock_cap ? lock_cap * 2 : 8;
	return 0;
}

/*
 * The open and the listing happen under locks_mu, which fork() waits for
 * (locks_prepare): a child forked at any moment either has no such fd or
 * has it listed and pointed away. A child that inherited the fd before
 * our flock() would otherwise share the locked description and keep the
 * channel owned after we die.
 */
int seg_lock_open(const char *path, int flags, mode_t mode)
{
	int fd;

	pthread_once(&locks_once, locks_init);
	pthread_mutex_lock(&locks_mu);
	if (lock_room() < 0) {
		pthread_mutex_unlock(&locks_mu);
		return -ENOMEM;
	}
	fd = seg_open_path(path, flags, mode);
	if (fd >= 0)
		lock_fds[lock_count++] = fd;
	pthread_mutex_unlock(&locks_mu);
	return fd;
}

void seg_lock_path(char *buf, size_t len, const char *dir, const char *channel)
{
	char path[PATH_MAX];

	seg_path(path, sizeof(path), dir, channel);
	snprintf(buf, len, "%s%clock", path, SEG_TABLE_MARK);
}

/* A lock file we may trust: a regular file of our effective uid, one
 * name, that nobody else may open (whoever can open it can flock it). */
static int check_lock_file(int fd, const char *path, const char *channel)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_set(-errno, "stat %s: %s", path, strerror(errno));
	if (S_ISREG(st.st_mode) && st.st_uid == geteuid() && st.st_nlink == 1 &&
	    !(st.st_mode & 0077))
		return 0;
	return err_set(-EPERM, "channel %s: its lock file %s is %s of uid %u "
		       "mode %03o with %lu name(s), not this publisher's (uid "
		       "%u, mode 600, one name): remove it as its owner or "
		       "root, or use a segment directory only trusted users "
		       "can write", channel, path,
		       S_ISREG(st.st_mode) ? "a file" : "not a regular file",
		       (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
		       (unsigned long)st.st_nlink, (unsigned)geteuid());
}

/* Why the lock file at path could not be opened (err): what is there,
 * whose, and the fix, when that is what refused us. Returns err. */
static int lock_open_failed(int err, const char *path, const char *channel)
{
	struct stat st;

	if ((err != -EACCES && err != -ELOOP) || lstat(path, &st) < 0)
		return err_set(err, "channel %s: open its lock file %s: %s",
			       channel, path, strerror(-err));
	if (S_ISLNK(st.st_mode))
		return err_set(err, "channel %s: open its lock file %s: %s (a "
			       "symbolic link of uid %u: not followed; remove "
			       "it as its owner or root, or use a segment "
			       "directory only trusted users can write)",
			       channel, path, strerror(-err),
			       (unsigned)st.st_uid);
	if (st.st_uid != geteuid())
		return err_set(err, "channel %s: open its lock file %s: %s (%s "
			       "of uid %u, mode %03o, not this publisher's (uid "
			       "%u): another user's channel; remove it as its "
			       "owner or root, or use another channel name or "
			       "segment directory)", channel, path,
			       strerror(-err), S_ISREG(st.st_mode) ? "a file"
			       : "not a regular file", (unsigned)st.st_uid,
			       (unsigned)(st.st_mode & 07777),
			       (unsigned)geteuid());
	return err_set(err, "channel %s: open its lock file %s: %s", channel,
		       path, strerror(-err));
}

int seg_lock_channel(const char *dir, const char *channel, int create,
		     int *fd_out)
{
	char path[SEG_TMP_MAX];
	struct stat a, b;
	int fd, r;

	*fd_out = -1;
	seg_lock_path(path, sizeof(path), dir, channel);
	fd = seg_lock_open(path, O_RDWR | (create ? O_CREAT : 0), 0600);
	if (fd < 0)
		return lock_open_failed(fd, path, channel);
	r = check_lock_file(fd, path, channel);
	if (r == 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
		r = errno == EWOULDBLOCK ? -EWOULDBLOCK
					 : err_set(-errno, "lock %s: %s", path,
						   strerror(errno));
	if (r == -EWOULDBLOCK) {
		*fd_out = fd;
		return r;
	}
	/* Locked, but is it still the file under the name? One removed
	 * meanwhile (mdbus_unlink() takes the lock to remove it) is no
	 * lock of the channel's any more. */
	if (r == 0 && (fstat(fd, &a) < 0 || lstat(path, &b) < 0 ||
		       a.st_dev != b.st_dev || a.st_ino != b.st_ino))
		r = -EAGAIN;
	if (r < 0) {
		seg_lock_close(fd);
		return r;
	}
	*fd_out = fd;
	return 0;
}

int seg_lock_replace_squatter(const char *dir, const char *channel, int r)
{
	char path[SEG_TMP_MAX];
	struct stat st;
	int fd, held;

	if (r != -EPERM && r != -EACCES && r != -ELOOP && r != -EISDIR &&
	    r != -ENXIO)
		return r;
	seg_lock_path(path, sizeof(path), dir, channel);
	/* A file of ours that check_lock_file() refused is a second name
	 * of another (a table file that its group may link, attack run):
	 * removing the name leaves that file be. Nothing else of ours
	 * (no other user makes it). */
	if (lstat(path, &st) < 0 ||
	    (st.st_uid == geteuid() && !S_ISREG(st.st_mode)))
		return r;
	if (S_ISDIR(st.st_mode)) /* only an empty one: nothing of anyone's */
		return rmdir(path) < 0 ? r : -EAGAIN;
	if (S_ISREG(st.st_mode)) {
		/* listed, as any fd that may hold the lock: a child forked
		 * meanwhile must not keep our probe's shared lock */
		fd = seg_lock_open(path, O_RDONLY, 0);
		if (fd < 0)
			return r; /* cannot tell whether it is held */
		held = flock(fd, LOCK_SH | LOCK_NB) < 0;
		seg_lock_close(fd);
		if (held)
			return r; /* a live process of that user holds it */
	}
	if (unlink(path) < 0)
		return r;
	return -EAGAIN;
}

/* The holder's record: pid and start time at the file's start. */
struct lock_record {
	int64_t pid;
	uint64_t start;
};

void seg_lock_record(int fd)
{
	struct lock_record rec = {0};
	pid_t pid;

	proc_self(&pid, &rec.start);
	rec.pid = pid;
	(void)!pwrite(fd, &rec, sizeof(rec), 0);
}

int seg_lock_recorded(int fd, int32_t *pid, uint64_t *start)
{
	struct lock_record rec;

	if (pread(fd, &rec, sizeof(rec), 0) != (ssize_t)sizeof(rec) ||
	    rec.pid <= 0 || rec.pid > INT32_MAX)
		return -1;
	*pid = (int32_t)rec.pid;
	*start = rec.start;
	return 0;
}

int seg_lock_held_here(int fd)
{
	struct stat a, b;
	size_t i;
	int held = 0;

	if (fstat(fd, &a) < 0)
		return 0;
	pthread_mutex_lock(&locks_mu);
	for (i = 0; i < lock_count && !held; i++)
		held = lock_fds[i] != fd && fstat(lock_fds[i], &b) == 0 &&
		       a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
		       flock(lock_fds[i], LOCK_EX | LOCK_NB) == 0;
	pthread_mutex_unlock(&locks_mu);
	return held;
}

/* Closes under locks_mu, so that no fork() sees the fd unlisted but open. */
void seg_lock_close(int fd)
{
	size_t i;

	pthread_mutex_lock(&locks_mu);
	for (i = 0; i < lock_count; i++) {
		if (lock_fds[i] == fd) {
			lock_fds[i] = lock_fds[--lock_count];
			break;
		}
	}
	if (lock_count == 0) { /* nothing left open: nothing kept */
		free(lock_fds);
		lock_fds = NULL;
		lock_cap = 0;
	}
	close(fd); /* drops the lock, unless a mapping holds it */
	pthread_mutex_unlock(&locks_mu);
}
