/*
 * shared_map.c - a test hook for ThreadSanitizer, linked into a test
 * program (its mmap() and munmap() come before the C library's, and
 * before the sanitizer's, which they call): a shared mapping of a file
 * this process maps already (same file, offset and length, with at least
 * the protections asked for) is handed out again, counted, and unmapped
 * with its last user. TSan knows memory by its address: without this, a
 * publisher's handle and each reader's map a segment at addresses of
 * their own, and no access of one handle can race, for TSan, with
 * another's. With it, a reader reads its publisher's very words (through
 * the publisher's writable mapping: tests only). MAP_FIXED requests and
 * everything that is not a shared file mapping pass through.
 *
 * Also built as a module that mdpub/helpers.sh's shared_map LD_PRELOADs
 * into mdpub under TSan (mdpub/shared_map.la): there it comes before
 * libtsan.so, whose mmap() it calls. SHARED_MAP_REPORT=FILE appends
 * "PID HITS CALLS" to FILE at exit (mappings handed out again, shared
 * file mappings asked for), so a test can tell the hook worked.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

#define SHARED_MAPS 64

struct shared_map {
	dev_t dev;
	ino_t ino;
	off_t off;
	size_t len;
	int prot;
	unsigned users; /* 0: a free entry */
	void *addr;
};

static struct shared_map maps[SHARED_MAPS];
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong hits; /* mappings handed out again */
static atomic_ulong calls; /* shared file mappings asked for */

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);

/* The next mmap() and munmap() (the sanitizer's, else the C library's),
 * found before main() runs; the system calls themselves before that. */
static mmap_fn next_mmap;
static munmap_fn next_munmap;

__attribute__((constructor)) static void find_next(void)
{
	next_mmap = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
	next_munmap = (munmap_fn)dlsym(RTLD_NEXT, "munmap");
}

static void *pass_mmap(void *addr, size_t len, int prot, int flags, int fd,
		       off_t off)
{
	if (!next_mmap)
		return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	return next_mmap(addr, len, prot, flags, fd, off);
}

static int pass_munmap(void *addr, size_t len)
{
	if (!next_munmap)
		return (int)syscall(SYS_munmap, addr, len);
	return next_munmap(addr, len);
}

static struct shared_map *find(const struct stat *st, off_t off, size_t len,
			       int prot)
{
	for (int i = 0; i < SHARED_MAPS; i++) {
		struct shared_map *e = &maps[i];

		if (e->users && e->dev == st->st_dev && e->ino == st->st_ino &&
		    e->off == off && e->len == len && (e->prot & prot) == prot)
			return e;
	}
	return NULL;
}

static void remember(const struct stat *st, off_t off, size_t len, int prot,
		     void *addr)
{
	for (int i = 0; i < SHARED_MAPS; i++) {
		struct shared_map *e = &maps[i];

		if (e->users)
			continue;
		*e = (struct shared_map){ st->st_dev, st->st_ino, off, len,
					  prot, 1, addr };
		return;
	}
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct shared_map *e;
	struct stat st;
	void *p;

	if (!next_mmap || /* before main(): as early as the sanitizer's start */
	    addr || fd < 0 || (flags & (MAP_SHARED | MAP_FIXED)) != MAP_SHARED ||
	    fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return pass_mmap(addr, len, prot, flags, fd, off);
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	pthread_mutex_lock(&maps_lock);
	e = find(&st, off, len, prot);
	if (e) {
		e->users++;
		atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed);
		p = e->addr;
	} else {
		p = pass_mmap(addr, len, prot, flags, fd, off);
		if (p != MAP_FAILED)
			remember(&st, off, len, prot, p);
	}
	pthread_mutex_unlock(&maps_lock);
	return p;
}

int munmap(void *addr, size_t len)
{
	if (!next_munmap)
		return pass_munmap(addr, len);
	pthread_mutex_lock(&maps_lock);
	for (int i = 0; i < SHARED_MAPS; i++) {
		struct shared_map *e = &maps[i];

		if (!e->users || e->addr != addr || e->len != len)
			continue;
		if (--e->users) { /* still someone else's */
			pthread_mutex_unlock(&maps_lock);
			return 0;
		}
		break;
	}
	pthread_mutex_unlock(&maps_lock);
	return pass_munmap(addr, len);
}

unsigned long tu_shared_map_hits(void)
{
	return atomic_load_explicit(&hits, memory_order_relaxed);
}

/* SHARED_MAP_REPORT=FILE: "PID HITS CALLS" appended at exit by a
 * process that asked for a shared file mapping. Destructors run before
 * TSan's exit handler (registered at its start, so run last); a process
 * TSan halts at a race writes nothing (its test fails then anyway). */
__attribute__((destructor)) static void report(void)
{
	const char *f = getenv("SHARED_MAP_REPORT");
	char line[80];
	int fd, n;

	if (!f || !*f || !atomic_load_explicit(&calls, memory_order_relaxed))
		return; /* none from a process that mapped no file shared */
	fd = open(f, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%ld %lu %lu\n", (long)getpid(),
		     tu_shared_map_hits(),
		     atomic_load_explicit(&calls, memory_order_relaxed));
	if (n > 0) {
		ssize_t w = write(fd, line, (size_t)n);

		(void)w; /* a short report fails the test that reads it */
	}
	close(fd);
}
