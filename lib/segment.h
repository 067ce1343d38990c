/*
 * segment.h - declarations shared by the segment files (seg_*.c), each of
 * which does one job: seg_name.c naming, seg_geom.c geometry, seg_create.c
 * creation, seg_lock.c the owner lock across fork, seg_publisher.c a
 * publisher's create-or-resume, seg_attach.c a reader's attach. What the
 * rest of the library uses is in internal.h. Not installed.
 */
#ifndef MDBUS_SEGMENT_H
#define MDBUS_SEGMENT_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

#define SHM_DIR "/dev/shm"
#define PAGE 4096u
#define SEG_TMP_MAX (PATH_MAX + 32) /* a hidden name: path, '~', 16 digits */

/* ---- seg_name.c ---- */

/* 0 when channel is a valid name, else MDBUS_ENAME with detail. */
int seg_check_channel(const char *channel);

/* 0 when dir (NULL: /dev/shm) is a directory that a stranger cannot
 * empty of our files: not writable by anyone, or sticky. Else -EPERM (or
 * the stat error) with detail naming the fix. */
int seg_check_dir(const char *dir);

/* A publisher's further check of dir (NULL: /dev/shm): every directory
 * of its real path, itself included, is root's or this effective
 * user's, so that no other user can rename our files (segment, table,
 * lock) away and put his own in their place, or swap a directory of the
 * path, while we publish. Else -EPERM (or the error resolving it) with
 * detail naming the directory, its owner and the fix. */
int seg_check_pub_dir(const char *dir);

/* The path of channel's segment file in dir (NULL: /dev/shm, where
 * shm_open() would put it). */
void seg_path(char *buf, size_t len, const char *dir, const char *channel);

/* open() with flags and mode, never through a symbolic link, never
 * blocking (a FIFO under the name: check S_ISREG before reading), close
 * on exec. Returns the fd or a negated errno. */
int seg_open_path(const char *path, int flags, mode_t mode);

/* seg_open_path() of channel's segment file in dir. */
int seg_fd_open(const char *dir, const char *channel, int flags, mode_t mode);

/* Calls fn for each entry of dir (NULL: /dev/shm) named "mdbus.",
 * channel, mark and anything, with the directory's fd and the length of
 * that prefix. */
void seg_dir_each(const char *dir, const char *channel, char mark,
		  void (*fn)(int dfd, const char *name, size_t prefix, void *arg),
		  void *arg);

/* "a directory", "a FIFO", ... for a st_mode. */
const char *seg_file_kind(mode_t mode);

/* The error (err, a negated errno from opening channel's segment) with a
 * detail that says what is under the name and what to do: a directory or
 * FIFO to remove, a segment this process may not read (owner, group, mode
 * and the publisher's group setting). Returns err, or MDBUS_ECORRUPT for
 * something that is not a regular file. */
int seg_open_error(int err, const char *dir, const char *channel);

/* Removes the channel's name. Returns 0 or a negated errno. */
int seg_fd_unlink(const char *dir, const char *channel);

/* 1 when the channel's name refers to the file open as fd (same device
 * and inode), 0 when it does not or is gone, or a negated errno. */
int seg_fd_is_named(int fd, const char *dir, const char *channel);


/* ---- seg_geom.c ---- */

/* 1 when a and b have the same user-visible geometry and mode. */
int seg_geom_same(const struct seg_geom *a, const struct seg_geom *b);

/* Reads and validates the identity of a mapped header against the file's
 * real size. Returns 0, MDBUS_ENOTREADY, MDBUS_EBADMAGIC, MDBUS_EVERSION
 * or MDBUS_ECORRUPT (with detail). */
int seg_geom_from_header(struct seg_geom *g, const struct seg_header *h,
			 uint64_t file_size, const char *channel);

/* ---- seg_create.c ---- */

/* Maps the whole segment open (read-write) as fd, geometry m->g,
 * read-write and pre-faulted. fd stays the caller's. Returns 0 or a
 * negated errno with detail. */
int seg_map_rw(struct seg_map *m, int fd);

/* With the channel's lock held: makes a new segment for channel, complete
 * and mapped, under a
 * hidden temporary name (tmp, SEG_TMP_MAX bytes) in the channel's directory,
 * where no reader or publisher looks: the name is then given to it at
 * once (seg_new_publish()), so a channel's name never shows a segment
 * that is being made. Removes hidden segments that their makers left
 * behind (killed while making them). Returns 0 or an error with detail. */
int seg_new_make(struct seg_map *m, const char *channel,
		 const struct mdbus_pub_config *cfg,
		 const struct seg_geom *want, char *tmp);

/* Gives the channel's name to the segment made by seg_new_make(): with
 * `replace`, atomically in place of whatever is under the name (rename),
 * else only if the name is free (link: -EEXIST when taken). Returns 0 or a
 * negated errno with detail. */
int seg_new_publish(const char *tmp, const char *dir, const char *channel,
		    int replace);

/* Undoes seg_new_make(): removes the hidden name and the table file,
 * unmaps, closes. */
void seg_new_discard(struct seg_map *m, const char *tmp, const char *dir,
		     const char *channel);

/* The data file's mode for a configured file_mode: the owner reads and
 * writes, group and others at most read (only the publisher writes it;
 * the table file gets file_mode itself). */
static inline mode_t seg_data_mode(mode_t file_mode)
{
	return (file_mode & 0644) | 0600;
}

/* ---- seg_table.c ---- */

/* The consumer table file: the channel's name, '+', 16 hex digits of the
 * epoch of the segment it belongs to. '+' is no channel character. */
#define SEG_TABLE_MARK '+'

void seg_table_path(char *buf, size_t len, const char *dir, const char *channel,
		    uint64_t epoch);

/* Makes the table file of the new segment m (geometry and epoch set)
 * with cfg's mode and group, reserved, mapped read-write under the guard;
 * m keeps its fd (m->table_fd) for seg_table_restore(). */
int seg_table_create(struct seg_map *m, const char *dir, const char *channel,
		     const struct mdbus_pub_config *cfg);

#define SEG_TABLE_RDONLY 0x1  /* map it read-only */
#define SEG_TABLE_KEEP_FD 0x2 /* publisher: read-write or fail, keep fd */

/* Opens and maps the table file of the segment m (geometry set): a regular
 * file of one name of uid owner, not writable by others, table_size
 * bytes, its header that of m's epoch. Read-write unless SEG_TABLE_RDONLY
 * or not permitted (then read-only, m->writable 0). Returns 0 or an error
 * with detail (-ENOENT when there is none). */
int seg_table_open(struct seg_map *m, const char *dir, const char *channel,
		   uid_t owner, int flags);

/* With the channel's lock held: removes this uid's table files of the
 * channel other than keep's (left by a replacer or creator killed at the
 * wrong moment; readers still mapping one keep their mapping). */
void seg_table_sweep(const char *dir, const char *channel, uint64_t keep);

/* Removes the table file of epoch. Returns 0 or a negated errno. */
int seg_table_unlink(const char *dir, const char *channel, uint64_t epoch);

/* Unmaps the table (and closes the publisher's fd). */
void seg_table_unmap(struct seg_map *m);

/* ---- seg_create.c: shared with seg_table.c ---- */

/* fchmod to mode and, when group is set, fchown to that group (name or
 * number). Returns 0 or an error with detail. */
int seg_set_perms(int fd, mode_t mode, const char *group);

/* Checks free space in the file system of fd, then reserves size bytes
 * (no SIGBUS for want of memory later). Returns 0 or an error. */
int seg_reserve(int fd, const char *dir, const char *channel, uint64_t size);

/* ---- seg_lock.c ---- */

/* The channel's lock file: its name, '+', "lock". */
void seg_lock_path(char *buf, size_t len, const char *dir, const char *channel);

/* Takes the channel's owner lock (non-blocking): the lock file, made 0600
 * when missing and `create`, must be a regular file of our effective uid with one name
 * that nobody else may open, and still under its name once locked.
 * Returns 0 with the listed fd in *fd_out (close it with
 * seg_lock_close(), which drops the lock), -EWOULDBLOCK when another
 * process holds it (*fd_out open, unlocked: the caller closes it),
 * -EAGAIN when the file left its name meanwhile (look again), or an error
 * with detail (*fd_out -1). */
int seg_lock_channel(const char *dir, const char *channel, int create,
		     int *fd_out);

/* With MDBUS_PUB_REPLACE, after seg_lock_channel() refused the file
 * under the lock file's name (`r`: -EPERM, -EACCES, -ELOOP, -EISDIR or
 * -ENXIO): removes it when it is another user's, or a regular file of
 * this effective user's (with more than one name, or open to others),
 * if a regular file no process holds a lock on it (a flock() probe,
 * where we may open it), if a directory it is empty, and the directory
 * it is in lets us (root in a sticky one, or its owner). Returns -EAGAIN
 * when removed (look again), else r, the refusal's detail kept. */
int seg_lock_replace_squatter(const char *dir, const char *channel, int r);

/* Writes this process's pid and start time into the lock file open (and
 * locked) as fd: who holds it, for rivals while no segment names its
 * publisher yet (doc/protocol.md, "Ownership"). */
void seg_lock_record(int fd);

/* The holder last recorded in the lock file open as fd: 0, or -1 when
 * there is no record. */
int seg_lock_recorded(int fd, int32_t *pid, uint64_t *start);

/* 1 when another listed fd of this process holds the owner lock of the
 * file open as fd, else 0. Asks by flock() on that fd, which succeeds
 * again for a holder; a listed fd of another handle being opened in this
 * process that did not hold it yet may take the lock by it, which that
 * handle then finds it has (it was about to take it anyway). */
int seg_lock_held_here(int fd);

/* Closes an fd opened for the owner lock (which drops the lock): off the
 * fork list and closed at once as far as fork() is concerned. */
void seg_lock_close(int fd);

/* seg_open_path() for a file whose owner lock we may take: the fd is
 * listed, atomically with the open as far as fork() is concerned, so that
 * fork()ed children drop it. Returns the fd or a negated errno. Close it
 * with seg_lock_close(). */
int seg_lock_open(const char *path, int flags, mode_t mode);


#endif /* MDBUS_SEGMENT_H */
