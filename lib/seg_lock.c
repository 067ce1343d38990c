/*
 * seg_lock.c - the publisher's owner lock, dropped in fork()ed children.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/file.h>
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

	for (i = 0; null >= 0 && i < lock_count; i++)
		dup2(null, lock_fds[i]);
	if (null >= 0)
		close(null);
	lock_count = 0;
	pthread_mutex_unlock(&locks_mu);
}

static void locks_init(void)
{
	pthread_atfork(locks_prepare, locks_parent, locks_child);
}

int seg_lock_track(int fd)
{
	int *v;

	pthread_once(&locks_once, locks_init);
	pthread_mutex_lock(&locks_mu);
	if (lock_count == lock_cap) {
		v = realloc(lock_fds, (lock_cap ? lock_cap * 2 : 8) * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&locks_mu);
			return err_set(-ENOMEM, "out of memory");
		}
		lock_fds = v;
		lock_cap = lock_cap ? lock_cap * 2 : 8;
	}
	lock_fds[lock_count++] = fd;
	pthread_mutex_unlock(&locks_mu);
	return 0;
}

void seg_lock_untrack(int fd)
{
	size_t i;

	pthread_mutex_lock(&locks_mu);
	for (i = 0; i < lock_count; i++) {
		if (lock_fds[i] == fd) {
			lock_fds[i] = lock_fds[--lock_count];
			break;
		}
	}
	pthread_mutex_unlock(&locks_mu);
}
