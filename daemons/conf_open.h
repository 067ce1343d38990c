/*
 * conf_open.h - opens mdpub's config file the way sshd treats its own
 * (mdpub.conf(5), "FILE"): only a regular file, opened without blocking so
 * that a FIFO or a device never hangs -T, start or reload, and only one
 * that nobody but root and the user mdpub runs as can change, since it
 * names directories, groups and file modes for a daemon that may run as
 * root.
 */
#ifndef MDPUB_CONF_OPEN_H
#define MDPUB_CONF_OPEN_H

#include <stddef.h>
#include <stdio.h>

/* Opens `path` for reading (a symbolic link is followed, as usual in
 * /etc). Returns 0 and sets *out, or a negated errno with the reason in
 * why: -EISDIR, -EINVAL (not a regular file), -EPERM (owned by another
 * user than root or the effective uid, or writable by group or others;
 * why says how to fix it), or the system call's error. */
int conf_open(const char *path, FILE **out, char *why, size_t whylen);

#endif /* MDPUB_CONF_OPEN_H */
