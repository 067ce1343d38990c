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
#include <sys/syscall.h>

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
