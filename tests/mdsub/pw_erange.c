/*
 * pw_erange.c - LD_PRELOAD'ed into mdsub by mdsub/owner.sh: getpwuid_r()
 * and getpwnam_r() answer ERANGE for a buffer under PW_NEED bytes, as
 * glibc does for a passwd entry longer than the buffer (a long gecos or
 * home from a directory service); with room, the real ones answer.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>

#define PW_NEED 4096

typedef int uid_fn(uid_t, struct passwd *, char *, size_t, struct passwd **);
typedef int nam_fn(const char *, struct passwd *, char *, size_t,
		   struct passwd **);

int getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
	       struct passwd **out)
{
	uid_fn *real = (uid_fn *)(uintptr_t)dlsym(RTLD_NEXT, "getpwuid_r");

	*out = NULL;
	return len < PW_NEED || !real ? ERANGE : real(uid, pw, buf, len, out);
}

int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
	       struct passwd **out)
{
	nam_fn *real = (nam_fn *)(uintptr_t)dlsym(RTLD_NEXT, "getpwnam_r");

	*out = NULL;
	return len < PW_NEED || !real ? ERANGE : real(name, pw, buf, len, out);
}
