/*
 * archive_end.c - see archive_end.h. A restarted mdpub starts its archive
 * after the last whole record of its last file (doc/protocol.md,
 * "Progress"). Recordings have no index and no trailer, so the record
 * boundaries are only known from the front; the note gives the last
 * flushed one, and only what was written after it (at most a flush's
 * worth, however large the file) is walked. The note is a hint: a note
 * of another file or epoch, or one past the file's end, is not used.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "archive_end.h"
#include "mdbus_rec.h"
#include "rec_format.h"

#define NOTE_MAGIC "MDBUSEND"

struct note_file {
	char magic[8];
	struct archive_note n;
};

int archive_note_write(int fd, const struct archive_note *n)
{
	struct note_file f;
	ssize_t k;

	memcpy(f.magic, NOTE_MAGIC, sizeof f.magic);
	f.n = *n;
	k = pwrite(fd, &f, sizeof f, 0);
	if (k < 0)
		return -errno;
	return k == (ssize_t)sizeof f ? 0 : -EIO;
}

/* The note in fd, when it is one of the file (epoch, first_seq) whose
 * flushed end lies within size: 1, else 0. */
static int note_of(int nfd, uint64_t size, uint64_t epoch, uint64_t first_seq,
		   struct archive_note *n)
{
	struct note_file f;

	if (nfd < 0 || pread(nfd, &f, sizeof f, 0) != (ssize_t)sizeof f ||
	    memcmp(f.magic, NOTE_MAGIC, sizeof f.magic))
		return 0;
	*n = f.n;
	return n->epoch == epoch && n->first_seq == first_seq &&
	       n->end_off >= sizeof(struct rec_header) && n->end_off <= size;
}

/* Walks whole records from off: *last is the last one's sequence (*have
 * says whether there is one so far). */
static void walk(int fd, uint64_t off, uint64_t size, uint64_t *last,
		 int *have)
{
	struct rec_record h;

	while (off + sizeof h <= size &&
	       pread(fd, &h, sizeof h, (off_t)off) == (ssize_t)sizeof h &&
	       h.size <= MDBUS_REC_PAYLOAD_MAX &&
	       off + sizeof h + h.size <= size && (!*have || h.seq > *last)) {
		*last = h.seq;
		*have = 1;
		off += sizeof h + h.size;
	}
}

int archive_last_record(int fd, uint64_t size, uint64_t epoch,
			uint64_t first_seq, int nfd, uint64_t *last,
			uint64_t *from)
{
	struct archive_note n;
	struct rec_header h;
	int have = 0;

	if (note_of(nfd, size, epoch, first_seq, &n)) {
		have = n.end_off > sizeof h;
		*last = n.last_seq;
		*from = n.end_off;
		walk(fd, n.end_off, size, last, &have);
		return have;
	}
	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
	    memcmp(h.magic, REC_MAGIC, REC_MAGIC_LEN) ||
	    h.header_size < sizeof h || h.header_size > REC_HEADER_MAX)
		return 0; /* no whole header: no record */
	*from = h.header_size;
	walk(fd, h.header_size, size, last, &have);
	return have;
}
