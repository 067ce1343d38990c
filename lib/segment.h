/*
 * segment.h - declarations shared by the segment files (seg_*.c), each of
 * which does one job: seg_name.c naming, seg_geom.c geometry, seg_create.c
 * creation, seg_lock.c the owner lock across fork, seg_publisher.c a
 * publisher's create-or-resume, seg_attach.c a reader's attach. What the
 * rest of the library uses is in internal.h. Not installed.
 */
#ifndef MDBUS_SEGMENT_H
#define MDBUS_SEGMENT_H

#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

#define SHM_DIR "/dev/shm"
#define PAGE 4096u
#define READY_WAIT_MS 1000 /* how long an attacher waits for creation */

/* ---- seg_name.c ---- */

/* 0 when channel is a valid name, else MDBUS_ENAME with detail. */
int seg_check_channel(const char *channel);

/* Opens the segment file of channel in dir (NULL: shm_open) with open()
 * flags and mode, never through a symbolic link. Returns the fd or a
 * negated errno. */
int seg_fd_open(const char *dir, const char *channel, int flags, mode_t mode);

/* Removes the channel's name. Returns 0 or a negated errno. */
int seg_fd_unlink(const char *dir, const char *channel);

/* Removes the channel's name only if it still refers to the file open as
 * fd, so a segment someone else just made is never removed by mistake. */
void seg_unlink_if_same(int fd, const char *dir, const char *channel);

/* ---- seg_geom.c ---- */

/* 1 when a and b have the same user-visible geometry and mode. */
int seg_geom_same(const struct seg_geom *a, const struct seg_geom *b);

/* Reads and validates the identity of a mapped header against the file's
 * real size. Returns 0, MDBUS_ENOTREADY, MDBUS_EBADMAGIC, MDBUS_EVERSION
 * or MDBUS_ECORRUPT (with detail). */
int seg_geom_from_header(struct seg_geom *g, const struct seg_header *h,
			 uint64_t file_size, const char *channel);

/* ---- seg_create.c ---- */

/* Maps the whole segment open as fd read-write, geometry m->g. Returns 0
 * or a negated errno with detail. */
int seg_map_rw(struct seg_map *m, int fd);

/* Creates the channel's segment with O_EXCL and maps it. Returns 0,
 * -EEXIST when the name exists, or an error with detail. */
int seg_try_create(struct seg_map *m, const char *channel,
		   const struct mdbus_pub_config *cfg,
		   const struct seg_geom *want);

/* ---- seg_lock.c ---- */

/* Lists fd as holding an owner lock, so that fork()ed children drop it.
 * Returns 0 or -ENOMEM. */
int seg_lock_track(int fd);

/* Takes fd off that list (before it is closed). */
void seg_lock_untrack(int fd);

#endif /* MDBUS_SEGMENT_H */
