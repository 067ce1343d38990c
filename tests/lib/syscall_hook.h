/*
 * syscall_hook.h - for tests that define syscall() themselves, so that
 * libmdbus's futex and membarrier calls go through them (t_waiters,
 * t_arm). Such a program is linked dynamically with -ldl.
 */
#ifndef SYSCALL_HOOK_H
#define SYSCALL_HOOK_H

#include <dlfcn.h>
#include <linux/futex.h>
#include <stdarg.h>
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

/* The C library's syscall(). */
static inline long hook_real(long number, const long *a)
{
	static long (*real)(long, ...);

	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
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
