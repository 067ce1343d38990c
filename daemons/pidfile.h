/*
 * pidfile.h - mdpub's pid file (-p): never followed through a symbolic
 * link, only a regular file of ours with one name, and locked (flock)
 * for as long as mdpub runs, so that a second mdpub with the same pid
 * file is refused. See mdpub(8).
 */
#ifndef MDPUB_PIDFILE_H
#define MDPUB_PIDFILE_H

#include <stddef.h>

/* Opens or creates `path`, locks it and writes this process's pid into
 * it. Returns the fd that holds the lock, or a negated errno with the
 * reason in err: -ELOOP (a symbolic link), -EPERM (not a regular file,
 * another user's, or more than one name), -EWOULDBLOCK (locked by a
 * running mdpub, whose pid err names), or the system call's error. */
int pidfile_take(const char *path, char *err, size_t errlen);

/* Removes `path` if it is still the file open as fd, then closes fd
 * (which drops the lock). */
void pidfile_release(int fd, const char *path);

#endif /* MDPUB_PIDFILE_H */
