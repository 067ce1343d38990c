/*
 * proc_open.c - LD_PRELOAD'ed into mdpub by mdpub/reaper.sh: each open()
 * of a file under /proc whose name ends in "/stat" (how libmdbus tells
 * whether a reader lives, lib/proc.c) appends a line "THREAD PATH" to
 * the file $PROC_OPEN_LOG, THREAD the opening thread's name.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

typedef int (*open_fn)(const char *, int, ...);

static void note(open_fn real, const char *path)
{
	const char *log = getenv("PROC_OPEN_LOG");
	size_t n = strlen(path);
	char name[17] = "", line[512];
	int fd, len;

	if (!log || strncmp(path, "/proc/", 6) != 0 || n < 5 ||
	    strcmp(path + n - 5, "/stat") != 0)
		return;
	prctl(PR_GET_NAME, name);
	len = snprintf(line, sizeof(line), "%s %s\n", name, path);
	fd = real(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	if (len > 0 && write(fd, line, (size_t)len) != len)
		abort();
	close(fd);
}

int open(const char *path, int flags, ...)
{
	open_fn real = (open_fn)(void (*)(void))dlsym(RTLD_NEXT, "open");
	mode_t mode = 0;
	va_list ap;

	if (!real)
		abort();
	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	note(real, path);
	return real(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));
