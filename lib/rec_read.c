/*
 * rec_read.c - the recording reader (mdbus_rec.h; format: doc/protocol.md,
 * "Recording format"). Reads through a read-ahead buffer with pread() at
 * its own offset, so a file that another process is still appending to can
 * be read on: a record not yet whole is reported and read again later.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "rec_format.h"

#define READ_AHEAD (256u * 1024)

struct mdbus_rec_reader {
	int fd;
	uint64_t data_off;  /* first record */
	uint64_t off;       /* next record */
	uint64_t prev_seq;  /* seq of the last record returned */
	uint32_t peek_size; /* payload of the record rec_peek_seq() saw */
	int have_prev;
	uint64_t ahead_off; /* file offset of ahead[0] */
	size_t ahead_len;
	unsigned char ahead[READ_AHEAD];
};

/* Reads up to n bytes at off; fewer only at the end of the file. Returns
 * the count or a negated errno. */
static ssize_t pread_full(int fd, void *dst, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = pread(fd, (char *)dst + got, n - got, (off_t)(off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* Copies up to n bytes at file offset off into dst through the read-ahead
 * buffer. Returns the count (less than n at the end of the file) or a
 * negated errno. */
static ssize_t fetch(struct mdbus_rec_reader *r, uint64_t off, void *dst,
		     size_t n)
{
	ssize_t got;
	size_t take;

	if (n == 0)
		return 0;
	if (off >= r->ahead_off && off + n <= r->ahead_off + r->ahead_len) {
		memcpy(dst, r->ahead + (off - r->ahead_off), n);
		return (ssize_t)n;
	}
	if (n > sizeof r->ahead)
		return pread_full(r->fd, dst, n, off);
	got = pread_full(r->fd, r->ahead, sizeof r->ahead, off);
	if (got < 0)
		return got;
	r->ahead_off = off;
	r->ahead_len = (size_t)got;
	take = (size_t)got < n ? (size_t)got : n;
	memcpy(dst, r->ahead, take);
	return (ssize_t)take;
}

static int check_header(const struct rec_header *h, uint64_t file_size,
			const char *path)
{
	if (memcmp(h->magic, REC_MAGIC, REC_MAGIC_LEN) != 0)
		return err_set(MDBUS_EBADMAGIC, "%s is not an mdbus recording",
			       path);
	if (h->version >> 16 != MDBUS_REC_FORMAT_MAJOR)
		return err_set(MDBUS_EVERSION, "%s: recording format %u.%u, "
			       "this library reads %u.x", path, h->version >> 16,
			       h->version & 0xffffu, MDBUS_REC_FORMAT_MAJOR);
	if (h->header_size < sizeof *h || h->header_size > REC_HEADER_MAX)
		return err_set(MDBUS_ECORRUPT, "%s: header size %u out of "
			       "range", path, h->header_size);
	if (!memchr(h->channel, '\0', sizeof h->channel))
		return err_set(MDBUS_ECORRUPT, "%s: channel name not "
			       "terminated", path);
	if (file_size < h->header_size)
		return err_set(MDBUS_ETRUNCATED, "%s ends inside its header",
			       path);
	return 0;
}

static void fill_info(struct mdbus_rec_info *info, const struct rec_header *h)
{
	memset(info, 0, sizeof *info);
	memcpy(info->channel, h->channel, sizeof info->channel - 1);
	info->format_major = h->version >> 16;
	info->format_minor = h->version & 0xffffu;
	info->msg_version = h->msg_version;
	info->slot_size = h->slot_size;
	info->slots_per_block = h->slots_per_block;
	info->block_count = h->block_count;
	info->mode = (enum mdbus_mode)h->mode;
	info->create_ns = h->create_ns;
}

/* Opens path read-only as a regular file and sets *size (0 on failure):
 * O_NONBLOCK so that a FIFO put under the name cannot block the open,
 * refused right after. */
static int open_regular(const char *path, uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	int err;

	*size = 0;
	if (fd < 0)
		return err_set(-errno, "%s: %s", path, strerror(errno));
	err = fstat(fd, &st) < 0 ? -errno : 0;
	if (err == 0 && !S_ISREG(st.st_mode))
		err = -EINVAL;
	if (err) {
		close(fd);
		return err == -EINVAL ? err_set(err, "%s is not a regular file", path)
				      : err_set(err, "%s: %s", path, strerror(-err));
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static int read_header(struct mdbus_rec_reader *r, const char *path,
		       uint64_t file_size, struct rec_header *h)
{
	ssize_t got = fetch(r, 0, h, sizeof *h);

	if (got < 0)
		return err_set((int)got, "%s: %s", path, strerror((int)-got));
	if (got >= REC_MAGIC_LEN && memcmp(h->magic, REC_MAGIC, REC_MAGIC_LEN))
		return err_set(MDBUS_EBADMAGIC, "%s is not an mdbus recording",
			       path);
	if ((size_t)got < sizeof *h)
		return err_set(MDBUS_ETRUNCATED, "%s ends inside its header "
			       "(%zd of %zu bytes)", path, got, sizeof *h);
	return check_header(h, file_size, path);
}

/* A reader on fd (owned from here on) of a file of `size` bytes. */
static int open_on(mdbus_rec_reader_t **out, int fd, uint64_t size,
		   const char *what, struct mdbus_rec_info *info)
{
	struct mdbus_rec_reader *r;
	struct rec_header h;
	int err;

	r = calloc(1, sizeof *r);
	if (!r) {
		close(fd);
		return err_set(-ENOMEM, "%s: out of memory", what);
	}
	r->fd = fd;
	err = read_header(r, what, size, &h);
	if (err) {
		mdbus_rec_close(r);
		return err;
	}
	r->data_off = r->off = h.header_size;
	if (info)
		fill_info(info, &h);
	*out = r;
	return 0;
}

MDBUS_EXPORT int mdbus_rec_open(mdbus_rec_reader_t **out, const char *path,
				struct mdbus_rec_info *info)
{
	uint64_t size;
	int fd;

	err_clear();
	fd = open_regular(path, &size);
	if (fd < 0)
		return fd;
	return open_on(out, fd, size, path, info);
}

int rec_open_fd(mdbus_rec_reader_t **out, int fd, const char *what)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err_set(err, "%s: %s", what, strerror(-err));
	}
	return open_on(out, fd, (uint64_t)st.st_size, what, NULL);
}

/* The header of the record at r->off: 0, -ENODATA at the end,
 * MDBUS_ETRUNCATED (cut), MDBUS_ECORRUPT (a size no writer makes) or a
 * read error. */
static int record_header(mdbus_rec_reader_t *r, struct rec_record *h)
{
	ssize_t got = fetch(r, r->off, h, sizeof *h);

	if (got < 0)
		return (int)got;
	if (got == 0)
		return -ENODATA;
	if ((size_t)got < sizeof *h)
		return MDBUS_ETRUNCATED;
	if (h->size > MDBUS_REC_PAYLOAD_MAX) /* doc/protocol.md, "Recording
					       * format" */
		return err_set(MDBUS_ECORRUPT, "the record at offset %" PRIu64
			       " claims %" PRIu32 " payload bytes, more than "
			       "the %u (1 MiB) a record holds: the file is "
			       "corrupt from there on, every record before it "
			       "whole", r->off, h->size, MDBUS_REC_PAYLOAD_MAX);
	return 0;
}

int rec_peek_seq(mdbus_rec_reader_t *r, uint64_t *seq)
{
	struct rec_record h = {0};
	ssize_t got;
	int err = record_header(r, &h);

	if (err)
		return err;
	/* whole only when its last payload byte is there */
	if (h.size) {
		unsigned char last;

		got = fetch(r, r->off + sizeof h + h.size - 1, &last, 1);
		if (got < 0)
			return (int)got;
		if (got < 1)
			return MDBUS_ETRUNCATED;
	}
	*seq = h.seq;
	r->peek_size = h.size;
	return 0;
}

void rec_skip(mdbus_rec_reader_t *r)
{
	r->off += sizeof(struct rec_record) + r->peek_size;
}

MDBUS_EXPORT int mdbus_rec_read(mdbus_rec_reader_t *r, void *buf, size_t len,
				struct mdbus_msg *msg)
{
	struct rec_record h = {0};
	ssize_t got;
	int err = record_header(r, &h);

	if (err == MDBUS_ECORRUPT)
		msg->size = h.size;
	if (err)
		return err;
	msg->size = h.size;
	if (h.size > len)
		return -EMSGSIZE;
	got = fetch(r, r->off + sizeof h, buf, h.size);
	if (got < 0)
		return (int)got;
	if ((size_t)got < h.size)
		return MDBUS_ETRUNCATED;
	msg->seq = h.seq;
	msg->ts_ns = h.ts_ns;
	msg->type = h.type;
	/* not prev_seq + 1, which wraps after 2^64 - 1 */
	msg->lost = r->have_prev && h.seq > r->prev_seq &&
			    h.seq - r->prev_seq > 1 ?
		    h.seq - r->prev_seq - 1 : 0;
	r->prev_seq = h.seq;
	r->have_prev = 1;
	r->off += sizeof h + h.size;
	return 0;
}

MDBUS_EXPORT int mdbus_rec_rewind(mdbus_rec_reader_t *r)
{
	r->off = r->data_off;
	r->have_prev = 0;
	return 0;
}

MDBUS_EXPORT uint64_t mdbus_rec_offset(const mdbus_rec_reader_t *r)
{
	return r->off;
}

MDBUS_EXPORT void mdbus_rec_close(mdbus_rec_reader_t *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r);
}
