/*
 * syscall_hook.h - for tests that define syscall() themselves, so that
 * libmdbus's futex calls (and any membarrier() call) go through them (t_waiters,
 * t_arm). Such a program is linked dynamically with -ldl.
 */
#ifndef SYSCALL_HOOK_H
#define SYSCALL_HOOK_H

#include <dlfcn.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

/* Takes the six arguments of the call after `number` into a[]. */
#define HOOK_ARGS(number, a)                          \
	do {                                          \
		va_list ap_;                          \
		va_start(ap_, number);                \
		for (int i_ = 0; i_ < 6; i_++)        \
			(a)[i_] = va_arg(ap_, long);  \
		va_end(ap_);                          \
	} while (0)

typedef long (*hook_syscall_fn)(long, ...);

/* The C library's syscall(). Relaxed: threads that race to look it up
 * store the same pointer, and nothing else is published with it. */
static inline long hook_real(long number, const long *a)
{
	static _Atomic hook_syscall_fn real;
	hook_syscall_fn fn = atomic_load_explicit(&real, memory_order_relaxed);

	if (!fn) {
		fn = (hook_syscall_fn)dlsym(RTLD_NEXT, "syscall");
		atomic_store_explicit(&real, fn, memory_order_relaxed);
	}
	return fn(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* The time a futex sleep may last: FUTEX_WAIT's timeout is relative,
 * futex_waitv(2)'s absolute (CLOCK_MONOTONIC); -1 for none or no sleep. */
static inline int64_t hook_sleep_ns(long number, const long *a)
{
	const struct timespec *ts = (const struct timespec *)a[3];

#ifdef SYS_futex_waitv
	if (number == SYS_futex_waitv && ts) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		return (ts->tv_sec - now.tv_sec) * 1000000000LL +
		       (ts->tv_nsec - now.tv_nsec);
	}
#endif
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAIT && ts)
		return ts->tv_sec * 1000000000LL + ts->tv_nsec;
	return -1;
}

/* A reader's sleep: FUTEX_WAIT, or futex_waitv(2) where the kernel has
 * it (the channel's word and the handle's interrupt bell). */
static inline int hook_is_wait(long number, const long *a)
{
#ifdef SYS_futex_waitv
	if (number == SYS_futex_waitv)
		return 1;
#endif
	return number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAIT;
}

#endif /* SYSCALL_HOOK_H */
