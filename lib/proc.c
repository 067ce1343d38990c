/*
 * proc.c - process liveness (pid + start time, so pid reuse cannot make a
 * dead owner look alive) and clocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Parses the state and starttime (field 22) out of a /proc/PID/stat line;
 * the command name (field 2) may hold spaces and parentheses, so fields are
 * counted from the last ')'. */
static int parse_stat(const char *buf, char *state, uint64_t *start)
{
	const char *p = strrchr(buf, ')');
	int field;

	if (!p || p[1] != ' ')
		return -EINVAL;
	p += 2;
	*state = *p;
	for (field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	errno = 0;
	*start = strtoull(p, NULL, 10);
	return errno ? -EINVAL : 0;
}

/* Reads /proc/PID/NAME into buf (NUL-terminated). Returns 0 or a negated
 * errno. */
static int read_proc(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return r;
}

/* A zombie thread-group leader whose other threads still run (its main
 * thread called pthread_exit()) is alive: /proc/PID/status counts them. */
static int other_threads_run(pid_t pid)
{
	char buf[2048];
	const char *t;

	if (read_proc(pid, "status", buf, sizeof(buf)) < 0)
		return 0;
	t = strstr(buf, "\nThreads:");
	return t && strtoul(t + 9, NULL, 10) > 1;
}

/*
 * Start time of pid (clock ticks since boot, field 22 of its main
 * thread's stat, /proc/PID/task/PID/stat: the process's own, and its
 * state). Not /proc/PID/stat: the kernel adds up every thread's times
 * for it, 2 ms a read for a process of 20 000 threads against 14 us, and
 * a writer of the consumer table who registered from such a process, or
 * named one in forged entries, stalled each reap on the publishing
 * thread (mdpub's every 5 s: up to 0.9 s with 64 entries, 34 s with
 * 4096) and each registration (attack run of a4eccfa). Returns 0, -ESRCH
 * when the process is a zombie or went away while we looked, or another
 * negated errno when /proc cannot tell (-ENOENT: no entry, which hidepid
 * also gives for other users' live processes).
 */
static int proc_start_time(pid_t pid, uint64_t *start)
{
	char buf[1024], name[40], state;
	int r;

	snprintf(name, sizeof(name), "task/%d/stat", (int)pid);
	r = read_proc(pid, name, buf, sizeof(buf));
	if (r < 0)
		return r;
	r = parse_stat(buf, &state, start);
	if (r < 0)
		return r;
	/* A zombie has exited; it only waits for its parent to reap it. */
	if (state == 'X' || (state == 'Z' && !other_threads_run(pid)))
		return -ESRCH;
	return 0;
}

int proc_alive(pid_t pid, uint64_t start)
{
	uint64_t now_start = 0; /* 0: not known, as for start */
	int r;

	if (pid <= 0)
		return 0;
	r = proc_start_time(pid, &now_start);
	if (r == 0)
		return start == 0 || now_start == start; /* 0: never known */
	if (r == -ESRCH)
		return 0;
	/* No /proc entry: gone, or hidden from us (hidepid=1/2 hides other
	 * users' processes as ENOENT; /proc may not be mounted). Only the
	 * kernel's ESRCH means dead; the pid alone must do. */
	return kill(pid, 0) == 0 || errno != ESRCH;
}

void proc_self(pid_t *pid, uint64_t *start)
{
	static __thread pid_t cached_pid;
	static __thread uint64_t cached_start;
	pid_t me = getpid();

	if (cached_pid != me) {
		cached_start = 0;
		if (proc_start_time(me, &cached_start) < 0)
			cached_start = 0;
		cached_pid = me;
	}
	*pid = me;
	*start = cached_start;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t clock_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t clock_thread_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}
