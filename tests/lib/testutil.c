/*
 * testutil.c - see testutil.h. No libmdbus calls here.
 */
#define _GNU_SOURCE /* nftw(), MAP_ANONYMOUS */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "testutil.h"

#define MAX_CHILDREN 256

static const char *prog = "test";
static pid_t main_pid;
static char test_dir[64];
static pid_t children[MAX_CHILDREN];
static __thread uint64_t rng_state;
static uint64_t rng_seed;

/* ------------------------------------------------------------ reporting */

static void forget_child(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

/* nftw() callback: removes what it is given, the contents of a directory
 * before it (FTW_DEPTH), without following symbolic links (FTW_PHYS). */
static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* The test's directory and all under it (an archive's subdirectories). */
static void remove_dir(void)
{
	if (!test_dir[0])
		return;
	umount2(test_dir, MNT_DETACH); /* t_nospace's tmpfs; else EINVAL */
	(void)nftw(test_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	test_dir[0] = '\0';
}

/* Main process only: kill and reap every child still registered. */
static void cleanup(void)
{
	if (!tu_is_main())
		return;
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
	remove_dir();
}

__attribute__((format(printf, 3, 0)))
static _Noreturn void vfinish(int code, const char *tag, const char *fmt,
			      va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s %s%s: %s\n", tag, prog,
		tu_is_main() ? "" : " (child)", msg);
	fflush(stderr);
	if (!tu_is_main())
		_exit(code);
	cleanup();
	exit(code);
}

void tu_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfinish(1, "FAIL", fmt, ap);
}

void tu_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfinish(TU_SKIP, "SKIP", fmt, ap);
}

void tu_note(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void tu_check_eq_(const char *file, int line, const char *as, const char *bs,
		  uint64_t a, uint64_t b)
{
	if (a != b)
		tu_fail("%s:%d: %s == %s failed: %lld (%llu) != %lld (%llu)",
			file, line, as, bs, (long long)a,
			(unsigned long long)a, (long long)b,
			(unsigned long long)b);
}

/* ------------------------------------------------------------- the test */

static unsigned watchdog_s;

static void on_alarm(int sig)
{
	(void)sig;
	/* Not async-signal-safe, but the test is hung and failing anyway. */
	tu_fail("timed out after %u s (hang: lost wake-up or deadlock?)",
		watchdog_s);
}

static void atexit_cleanup(void)
{
	cleanup();
}

void tu_init(const char *name, unsigned timeout_s)
{
	const char *s = getenv("TU_SEED");

	prog = name;
	main_pid = getpid();
	rng_seed = s ? strtoull(s, NULL, 0)
		     : (tu_realtime_ns() ^ ((uint64_t)getpid() << 32));
	if (!rng_seed)
		rng_seed = 1;
	rng_state = rng_seed;
	setvbuf(stdout, NULL, _IOLBF, 0);

	snprintf(test_dir, sizeof(test_dir), "/dev/shm/mdbus-%s.XXXXXX",
		 name);
	if (!mkdtemp(test_dir)) {
		test_dir[0] = '\0';
		tu_fail("mkdtemp under /dev/shm: %s", strerror(errno));
	}
	atexit(atexit_cleanup);
	setenv("MDBUS_DIR", test_dir, 1);

	watchdog_s = timeout_s;
	signal(SIGALRM, on_alarm);
	alarm(timeout_s);
	tu_note("seed %llu (set TU_SEED to repeat), dir %s, timeout %u s",
		(unsigned long long)rng_seed, test_dir, timeout_s);
}

/*
 * The tests that park threads on a channel's futex words, requeue them or
 * wake them in a loop (t_herd, t_requeue, t_fakewake), and those that
 * time wake-ups (t_waiters, t_nudge, t_wakeonce), take turns: make check
 * -j runs the others beside them, and each attack is the others' noise
 * (two fresh-clone CI runs of 2026-12-07 ran t_herd and t_requeue side by
 * side, and both found their readers late: 40 of 40 and 100 of 100,
 * one by 3.7 s). An exclusive flock(2) of TURN_FILE in the working
 * directory (the build's tests directory, ours), held until exit, by the
 * children too (they share the open file); the watchdog stops while it
 * waits. After tu_init().
 */
#define TURN_FILE ".wait-tests.turn"
void tu_take_turn(void)
{
	int fd = open(TURN_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		      0600);

	if (fd < 0)
		tu_fail("open %s in the working directory: %s", TURN_FILE,
			strerror(errno));
	alarm(0); /* the wait for a turn is not the test's time */
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			tu_fail("flock %s: %s", TURN_FILE, strerror(errno));
	alarm(watchdog_s);
}

const char *tu_dir(void)
{
	return test_dir;
}

const char *tu_seg_path(const char *channel)
{
	static char path[sizeof(test_dir) + 80];

	snprintf(path, sizeof(path), "%s/mdbus.%s", test_dir, channel);
	return path;
}

const char *tu_table_path(const char *channel)
{
	static char path[sizeof(test_dir) + 100];
	uint64_t epoch = 0;
	int fd = open(tu_seg_path(channel), O_RDONLY | O_CLOEXEC);

	/* the epoch: 72 bytes into the header (layout.h, doc/protocol.md) */
	if (fd < 0 || pread(fd, &epoch, sizeof(epoch), 72) != (ssize_t)sizeof(epoch))
		tu_fail("read the epoch of %s: %s", tu_seg_path(channel),
			strerror(errno));
	close(fd);
	snprintf(path, sizeof(path), "%s/mdbus.%s+%016llx", test_dir, channel,
		 (unsigned long long)epoch);
	return path;
}

int tu_is_main(void)
{
	return getpid() == main_pid;
}

/* ------------------------------------------------------------ processes */

pid_t tu_spawn(int (*fn)(void *), void *arg)
{
	pid_t pid;
	int i;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		tu_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		memset(children, 0, sizeof(children));
		rng_state = rng_seed ^ ((uint64_t)getpid() * 0x9e3779b97f4a7c15ULL);
		_exit(fn(arg));
	}
	for (i = 0; i < MAX_CHILDREN && children[i]; i++)
		;
	if (i < MAX_CHILDREN)
		children[i] = pid;
	return pid;
}

int tu_wait(pid_t pid, double timeout_s)
{
	uint64_t deadline = tu_now_ns() + (uint64_t)(timeout_s * 1e9);
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			tu_fail("waitpid(%d): %s", (int)pid, strerror(errno));
		if (tu_now_ns() > deadline) {
			tu_kill_reap(pid);
			return -1;
		}
		tu_sleep_ms(1);
	}
	forget_child(pid);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 256 + WTERMSIG(status);
}

void tu_wait_ok(pid_t pid, double timeout_s, const char *what)
{
	int r = tu_wait(pid, timeout_s);

	if (r == -1)
		tu_fail("%s (pid %d) did not finish within %.0f s", what,
			(int)pid, timeout_s);
	if (r >= 256)
		tu_fail("%s (pid %d) killed by signal %d (%s)", what, (int)pid,
			r - 256, strsignal(r - 256));
	if (r != 0)
		tu_fail("%s (pid %d) failed with exit code %d", what, (int)pid,
			r);
}

void tu_kill_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	forget_child(pid);
}

void *tu_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tu_fail("mmap shared %zu: %s", size, strerror(errno));
	return p;
}

void tu_await(_Atomic uint32_t *word, uint32_t want, double timeout_s,
	      const char *what)
{
	uint64_t deadline = tu_now_ns() + (uint64_t)(timeout_s * 1e9);

	while (atomic_load(word) < want) {
		if (tu_now_ns() > deadline)
			tu_fail("waited %.1f s for %s (%u < %u)", timeout_s,
				what, atomic_load(word), want);
		tu_sleep_ms(0.1);
	}
}

/* --------------------------------------------------------------- clocks */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t tu_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t tu_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

void tu_sleep_ms(double ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ----------------------------------------------------------------- PRNG */

uint64_t tu_rand(void)
{
	uint64_t x = rng_state ? rng_state : (rng_seed ? rng_seed : 88172645463325252ULL);

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

uint64_t tu_rand_below(uint64_t n)
{
	return n ? tu_rand() % n : 0;
}

/* ------------------------------------------------ self-verifying payload */

uint64_t tu_word(uint64_t seq, size_t index)
{
	/* splitmix64 of (seq, index) */
	uint64_t z = seq * 0x9e3779b97f4a7c15ULL + index * 0xbf58476d1ce4e5b9ULL +
		     0x94d049bb133111ebULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void tu_fill(void *buf, size_t size, uint64_t seq)
{
	unsigned char *p = buf;
	size_t i, words = size / 8;
	uint64_t w;

	for (i = 0; i < words; i++) {
		w = tu_word(seq, i);
		memcpy(p + 8 * i, &w, 8);
	}
	if (size % 8) {
		w = tu_word(seq, words);
		memcpy(p + 8 * words, &w, size % 8);
	}
}

long tu_verify(const void *buf, size_t size, uint64_t seq)
{
	const unsigned char *p = buf;
	size_t i, words = size / 8;
	uint64_t w;

	for (i = 0; i < words; i++) {
		w = tu_word(seq, i);
		if (memcmp(p + 8 * i, &w, 8))
			return (long)(8 * i);
	}
	if (size % 8) {
		w = tu_word(seq, words);
		if (memcmp(p + 8 * words, &w, size % 8))
			return (long)(8 * words);
	}
	return -1;
}

size_t tu_size_for(uint64_t seq, size_t min, size_t max)
{
	if (max <= min)
		return min;
	return min + (size_t)(tu_word(seq, 0xffff) % (max - min + 1));
}

uint16_t tu_type_for(uint64_t seq)
{
	return (uint16_t)(tu_word(seq, 0xfffe) & 0x7fff);
}

/* ----------------------------------------------------------------- proc */

/* Fields 3.. of /proc/PID/stat (after the command name) into buf. */
static const char *proc_stat(pid_t pid, char *buf, size_t len)
{
	char path[64];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p + 2 : NULL;
}

/* Field `field` (1-based as in proc(5), >= 3) of /proc/PID/stat. */
static int proc_field(pid_t pid, int field, unsigned long long *out,
		      char *state)
{
	char buf[1024];
	const char *p = proc_stat(pid, buf, sizeof(buf));

	if (!p)
		return -1;
	if (state)
		*state = *p;
	for (int f = 3; f < field; f++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	*out = strtoull(p, NULL, 10);
	return 0;
}

int64_t tu_proc_cpu_ns(pid_t pid)
{
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);

	if (proc_field(pid, 14, &ut, NULL) || proc_field(pid, 15, &st, NULL))
		return -1;
	return (int64_t)((ut + st) * (1000000000ULL / (unsigned long long)hz));
}

uint64_t tu_proc_start(pid_t pid)
{
	unsigned long long v;

	return proc_field(pid, 22, &v, NULL) ? 0 : v;
}

char tu_proc_state(pid_t pid)
{
	unsigned long long v;
	char st;

	return proc_field(pid, 3, &v, &st) ? 0 : st;
}

int tu_schedstat_open(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int64_t tu_active_ns(int fd)
{
	unsigned long long run, wait;
	char b[128];
	ssize_t n = fd < 0 ? -1 : pread(fd, b, sizeof(b) - 1, 0);

	if (n <= 0)
		return -1;
	b[n] = '\0';
	return sscanf(b, "%llu %llu", &run, &wait) == 2 ? (int64_t)(run + wait)
							: -1;
}

void tu_await_state(pid_t pid, char state, double timeout_s,
		    const char *what)
{
	uint64_t deadline = tu_now_ns() + (uint64_t)(timeout_s * 1e9);

	while (tu_proc_state(pid) != state) {
		if (tu_now_ns() > deadline)
			tu_fail("%s (pid %d) not in state %c after %.0f s (%c)",
				what, (int)pid, state, timeout_s,
				tu_proc_state(pid));
		tu_sleep_ms(1);
	}
}

/* ------------------------------------------------------------- segments */

void *tu_map_file(const char *path, size_t *size)
{
	struct stat sb;
	void *p;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		tu_fail("open %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) < 0 || sb.st_size == 0)
		tu_fail("fstat %s: empty or %s", path, strerror(errno));
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		tu_fail("mmap %s: %s", path, strerror(errno));
	*size = (size_t)sb.st_size;
	return p;
}

void *tu_map_header_ro(const char *channel)
{
	const char *path = tu_seg_path(channel);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0)
		tu_fail("open %s: %s", path, strerror(errno));
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		tu_fail("mmap %s: %s", path, strerror(errno));
	return p;
}

void tu_unmap(void *p, size_t size)
{
	munmap(p, size);
}

void tu_write_file(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		tu_fail("write %s: %s", path, strerror(errno));
	close(fd);
}

void tu_truncate(const char *path, off_t size)
{
	if (truncate(path, size) < 0)
		tu_fail("truncate %s: %s", path, strerror(errno));
}

void tu_await_nudger_asleep(const struct seg_header *h,
			    const struct seg_table_header *t)
{
	uint64_t deadline = tu_now_ns() + 30000000000ULL;
	int quiet = 0;

	while (quiet < 20) {
		if (atomic_load(&h->nudge_waiting) == 1 &&
		    waiters_count(atomic_load(&t->waiters)) == 0)
			quiet++;
		else
			quiet = 0;
		if (tu_now_ns() > deadline)
			tu_fail("nudger not asleep after 30 s: flag %u, count %u",
				atomic_load(&h->nudge_waiting),
				waiters_count(atomic_load(&t->waiters)));
		tu_sleep_ms(1);
	}
}

/* With no waiters futex_waitv(2) says EINVAL, or ENOSYS when the kernel
 * lacks the call. */
int tu_have_waitv(void)
{
#ifdef SYS_futex_waitv
	return syscall(SYS_futex_waitv, NULL, 0, 0, NULL, 0) < 0 &&
	       errno != ENOSYS;
#else
	return 0;
#endif
}
