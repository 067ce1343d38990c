/*
 * rec_write.c - the recording writer (mdbus_rec.h; format: doc/protocol.md,
 * "Recording format"). Records are gathered in a buffer that holds at
 * least one record of the largest size, and written with write() when it
 * fills, on flush and on finish. After a failed write the writer refuses
 * everything, so a file never continues past a broken record.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "rec_format.h"

#define WRITE_BUFFER (MDBUS_REC_PAYLOAD_MAX + 64u * 1024)

struct mdbus_rec_writer {
	int fd;
	int owns_fd;  /* mdbus_rec_finish() closes it */
	int failed;   /* negated errno of the first failed write, else 0 */
	size_t len;
	unsigned char buf[WRITE_BUFFER];
};

_Static_assert(WRITE_BUFFER >= MDBUS_REC_PAYLOAD_MAX + sizeof(struct rec_record),
	       "one record of the largest size fits the buffer");

static int write_full(int fd, const void *src, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = write(fd, (const char *)src + done, n - done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	return 0;
}

/* Why an existing file at path is not ours to overwrite, or NULL: only a
 * regular file of one link that we own and nobody else may write (one
 * another user made in a shared directory, e.g. /tmp, would take our
 * data where he reads it). */
static const char *not_ours(const struct stat *st)
{
	if (!S_ISREG(st->st_mode) || st->st_nlink != 1)
		return "is not a regular file of one link";
	if (st->st_uid != geteuid())
		return "belongs to another user";
	/* whoever could write it may hold it open and read or change what
	 * we write (attack run: a group member's hard link to a consumer
	 * table of ours, mode 0660, kept after the channel was removed) */
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "may be written by its group or others (remove it)";
	return NULL;
}

/* Opens path for writing as a regular file of one link that we own, never
 * through a symbolic link, and empties it. O_NONBLOCK keeps a FIFO put
 * under the name from blocking the open. */
static int open_target(const char *path, unsigned flags)
{
	int oflags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
		     O_NONBLOCK | (flags & MDBUS_REC_EXCL ? O_EXCL : 0);
	/* owner only: it holds the channel's data, which the channel's
	 * file mode may keep from others (attack run) */
	int fd = open(path, oflags, 0600), e = errno;
	struct stat st;
	const char *why = NULL;
	int err;

	/* another user's link in a sticky directory: EACCES */
	if (fd < 0 && (e == ELOOP || (e == EACCES && lstat(path, &st) == 0 &&
				      S_ISLNK(st.st_mode))))
		return err_set(-ELOOP, "%s is a symbolic link: not followed",
			       path);
	/* a FIFO nobody reads (or a device without its driver): said as
	 * one with a reader is, not as "No such device or address" */
	if (fd < 0 && e == ENXIO && lstat(path, &st) == 0 &&
	    (why = not_ours(&st)))
		return err_set(-EINVAL, "%s %s: not written", path, why);
	if (fd < 0)
		return err_set(-e, "%s: %s", path, strerror(e));
	err = fstat(fd, &st) < 0 ? -errno : 0;
	if (!err && (why = not_ours(&st)))
		err = err_set(S_ISREG(st.st_mode) && st.st_nlink == 1 ? -EPERM
								      : -EINVAL,
			      "%s %s: not written", path, why);
	else if (!err && ftruncate(fd, 0) < 0)
		err = -errno;
	else if (!err && fcntl(fd, F_SETFL, O_WRONLY) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return why ? err : err_set(err, "%s: %s", path, strerror(-err));
	}
	return fd;
}

static void fill_header(struct rec_header *h, const struct mdbus_rec_info *info)
{
	memset(h, 0, sizeof *h);
	memcpy(h->magic, REC_MAGIC, REC_MAGIC_LEN);
	h->version = REC_VERSION;
	h->msg_version = info->msg_version;
	strncpy(h->channel, info->channel, sizeof h->channel - 1);
	h->slot_size = info->slot_size;
	h->slots_per_block = info->slots_per_block;
	h->block_count = info->block_count;
	h->mode = (uint32_t)info->mode;
	h->create_ns = info->create_ns ? info->create_ns : clock_realtime_ns();
	h->header_size = sizeof *h;
}

/* A writer on fd, its header written into the buffer. */
static int new_writer(mdbus_rec_writer_t **out, int fd, int owns_fd,
		      const struct mdbus_rec_info *info, const char *what)
{
	struct mdbus_rec_writer *w;
	struct rec_header h;

	w = malloc(sizeof *w);
	if (!w)
		return err_set(-ENOMEM, "%s: out of memory", what);
	w->fd = fd;
	w->owns_fd = owns_fd;
	w->failed = 0;
	fill_header(&h, info);
	memcpy(w->buf, &h, sizeof h);
	w->len = sizeof h;
	*out = w;
	return 0;
}

MDBUS_EXPORT int mdbus_rec_create(mdbus_rec_writer_t **out, const char *path,
				  const struct mdbus_rec_info *info,
				  unsigned flags)
{
	int fd, r;

	err_clear();
	if (!memchr(info->channel, '\0', sizeof info->channel))
		return err_set(-EINVAL, "recording channel name not terminated");
	fd = open_target(path, flags);
	if (fd < 0)
		return fd;
	r = new_writer(out, fd, 1, info, path);
	if (r < 0)
		close(fd);
	return r;
}

MDBUS_EXPORT int mdbus_rec_create_fd(mdbus_rec_writer_t **out, int fd,
				     const struct mdbus_rec_info *info)
{
	err_clear();
	if (!memchr(info->channel, '\0', sizeof info->channel))
		return err_set(-EINVAL, "recording channel name not terminated");
	if (fd < 0)
		return err_set(-EBADF, "recording to descriptor %d", fd);
	return new_writer(out, fd, 0, info, "recording");
}

MDBUS_EXPORT int mdbus_rec_flush(mdbus_rec_writer_t *w)
{
	if (w->failed)
		return w->failed;
	w->failed = write_full(w->fd, w->buf, w->len);
	w->len = 0;
	return w->failed;
}

MDBUS_EXPORT int mdbus_rec_write(mdbus_rec_writer_t *w,
				 const struct mdbus_msg *msg,
				 const void *payload)
{
	struct rec_record rec = {
		.size = msg->size,
		.type = msg->type,
		.seq = msg->seq,
		.ts_ns = msg->ts_ns,
	};
	int err;

	if (msg->size > MDBUS_REC_PAYLOAD_MAX)
		return MDBUS_ETOOBIG;
	if (w->len + sizeof rec + msg->size > sizeof w->buf) {
		err = mdbus_rec_flush(w);
		if (err)
			return err;
	}
	if (w->failed)
		return w->failed;
	memcpy(w->buf + w->len, &rec, sizeof rec);
	if (msg->size)
		memcpy(w->buf + w->len + sizeof rec, payload, msg->size);
	w->len += sizeof rec + msg->size;
	return 0;
}

MDBUS_EXPORT int mdbus_rec_finish(mdbus_rec_writer_t *w)
{
	int err;

	if (!w)
		return 0;
	err = mdbus_rec_flush(w);
	if (w->owns_fd && close(w->fd) < 0 && !err)
		err = -errno;
	free(w);
	return err;
}
