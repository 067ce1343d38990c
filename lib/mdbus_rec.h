/*
 * mdbus_rec.h - recordings: files of bus messages, written by
 * `mdsub --record` (and any program, with mdbus_rec_create()), read by
 * mdpub's replay source (and any program, with mdbus_rec_open()). The file
 * format is described in doc/protocol.md of the source tree, section
 * "Recording format", and in libmdbus(3).
 *
 * Conventions are mdbus.h's: 0 or a count on success, a negated errno or an
 * MDBUS_E* code on failure, a detail in mdbus_last_error() for open and
 * create. A handle belongs to one thread at a time.
 */
#ifndef MDBUS_REC_H
#define MDBUS_REC_H

#include <stddef.h>
#include <stdint.h>

#include <mdbus.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MDBUS_REC_FORMAT_MAJOR 1 /* readers refuse another major */
#define MDBUS_REC_FORMAT_MINOR 0 /* may only append header fields */
#define MDBUS_REC_PAYLOAD_MAX (1u << 20) /* largest record: the largest slot */

/* What a recording says about itself and the channel it was made from. */
struct mdbus_rec_info {
	char channel[MDBUS_CHANNEL_MAX + 1]; /* recorded channel's name */
	uint32_t format_major, format_minor; /* of the file (set on create) */
	uint32_t msg_version;      /* MDBUS_MSG_VERSION of the recorder */
	uint32_t slot_size;        /* geometry and mode of the recorded */
	uint32_t slots_per_block;  /* channel, so a replay can make it */
	uint32_t block_count;      /* again (0 = unknown) */
	enum mdbus_mode mode;
	uint64_t create_ns;        /* when recording began (CLOCK_REALTIME) */
};

typedef struct mdbus_rec_reader mdbus_rec_reader_t;
typedef struct mdbus_rec_writer mdbus_rec_writer_t;

/* ------------------------------------------------------------------ reading */

/* Opens the recording at `path` for reading and fills *info (NULL: not
 * wanted). Refuses what is not a regular file (-EINVAL: a FIFO or device is
 * never read), MDBUS_EBADMAGIC when it is not a recording, MDBUS_EVERSION
 * for another format major, MDBUS_ECORRUPT for a malformed header,
 * MDBUS_ETRUNCATED when the file ends inside its header, or the open
 * error (-ENOENT, -EACCES, ...). Returns 0 and sets *out. */
int mdbus_rec_open(mdbus_rec_reader_t **out, const char *path,
		   struct mdbus_rec_info *info);

/* Reads the next record: copies its payload into buf (len bytes) and fills
 * *msg (seq and ts_ns as recorded; lost = the messages the recorder missed
 * just before this one, from the jump in seq; 0 when seq goes backwards).
 * Returns 0; -ENODATA at the end of the file; MDBUS_ETRUNCATED when the
 * file ends inside a record (a recorder killed mid-write: everything before
 * it was whole); MDBUS_ECORRUPT when a record claims more than
 * MDBUS_REC_PAYLOAD_MAX bytes (msg->size says how many; mdbus_last_error()
 * the offset: the file is corrupt from there on, every record before it
 * whole); -EMSGSIZE when len is too small (msg->size says what is
 * needed). On every error the position stays at that record,
 * so a file another process is still writing can be read again later. */
int mdbus_rec_read(mdbus_rec_reader_t *r, void *buf, size_t len,
		   struct mdbus_msg *msg);

/* Goes back to the first record. Returns 0 or a negative error. */
int mdbus_rec_rewind(mdbus_rec_reader_t *r);

/* Byte offset in the file of the next record mdbus_rec_read() returns. */
uint64_t mdbus_rec_offset(const mdbus_rec_reader_t *r);

/* Closes the file. NULL is a no-op. */
void mdbus_rec_close(mdbus_rec_reader_t *r);

/* ------------------------------------------------------------------ writing */

#define MDBUS_REC_EXCL 0x1u /* fail with -EEXIST if path exists */

/* Creates the recording `path` (mode 0600 less the umask: it holds the
 * channel's data, which its file mode may keep from others; a file
 * replaced keeps its own), replacing an
 * existing regular file unless MDBUS_REC_EXCL, and writes its header from
 * *info (format version and, when 0, create_ns are set here). Never
 * follows a symbolic link at `path` (-ELOOP), refuses to write into
 * anything but a regular file with one link (-EINVAL) and into an existing
 * file of another user (-EPERM). Returns 0 and sets
 * *out, or a negative error with mdbus_last_error() naming the cause. */
int mdbus_rec_create(mdbus_rec_writer_t **out, const char *path,
		     const struct mdbus_rec_info *info, unsigned flags);

/* Like mdbus_rec_create() on a descriptor the caller opened (a pipe,
 * standard output): the recording is written there as it would be to a
 * file, and mdbus_rec_finish() flushes but leaves fd open. Returns 0 and
 * sets *out, or a negative error. */
int mdbus_rec_create_fd(mdbus_rec_writer_t **out, int fd,
			const struct mdbus_rec_info *info);

/* Appends one record (msg->seq, ts_ns, type and size; payload of
 * msg->size bytes). Buffered: a record reaches the file at the latest on
 * the next flush or close. Returns 0, MDBUS_ETOOBIG past
 * MDBUS_REC_PAYLOAD_MAX, or the write error (-ENOSPC, -EIO, ...), after
 * which the file ends at a whole record or inside the failed one. */
int mdbus_rec_write(mdbus_rec_writer_t *w, const struct mdbus_msg *msg,
		    const void *payload);

/* Writes out buffered records. Returns 0 or the write error. */
int mdbus_rec_flush(mdbus_rec_writer_t *w);

/* Flushes and closes (a descriptor given to mdbus_rec_create_fd() stays
 * open). Returns 0 or the first write or close error (the handle is freed
 * either way). NULL is a no-op returning 0. */
int mdbus_rec_finish(mdbus_rec_writer_t *w);

#ifdef __cplusplus
}
#endif
#endif /* MDBUS_REC_H */
