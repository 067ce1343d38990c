/*
 * dir_watch.c - waiting for a name to appear in the segment directory
 * (mdbus_sub_open_wait()): inotify when the kernel gives it, else plain
 * sleeps between looks.
 */
#include <errno.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

/* A publisher names a segment by link() or rename() (doc/protocol.md,
 * "Creation"); the directory itself going away must end the wait too. */
#define WATCH_EVENTS (IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

int dir_watch_open(const char *dir)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0)
		return -1;
	if (inotify_add_watch(fd, dir ? dir : SHM_DIR, WATCH_EVENTS) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Empties the queue: the caller looks at the directory itself. */
static void drain(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int dir_watch_wait(int fd, uint64_t ns)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ms = (int)((ns + 999999) / 1000000);

	if (poll(&p, fd >= 0 ? 1 : 0, ms) < 0)
		return errno == EINTR ? -EINTR : 0;
	if (fd >= 0)
		drain(fd);
	return 0;
}

void dir_watch_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
