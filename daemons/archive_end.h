/*
 * archive_end.h - where a channel's archive files end, found at start
 * without reading the last file through: the resume note the archive
 * keeps beside its files (doc/protocol.md, "Archive files").
 */
#ifndef MDPUB_ARCHIVE_END_H
#define MDPUB_ARCHIVE_END_H

#include <stdint.h>

#include "mdbus.h"

/* The note: the file being written (the epoch and first sequence in its
 * name), where its flushed records end and the last one's sequence. */
struct archive_note {
	uint64_t epoch;
	uint64_t first_seq;
	uint64_t end_off;   /* the header's end before the first flush */
	uint64_t last_seq;  /* of the record before end_off */
};

/* Writes the note into fd (the note file) after a flush. 0 or a negated
 * errno; a note that is not written only costs the next start a longer
 * walk. */
int archive_note_write(int fd, const struct archive_note *n);

/* The last whole record of the archive file fd (size bytes, its first
 * sequence first_seq, of epoch) with note fd nfd (-1: none): walks the
 * record headers from the note's end when the note is of this file, else
 * from the file's first record; stops at a cut record, or one that does
 * not follow (a size no writer makes, a sequence that does not grow).
 * Returns 1 with *last, 0 when the file has no whole record, or a
 * negated errno; *from is where the walk began. */
int archive_last_record(int fd, uint64_t size, uint64_t epoch,
			uint64_t first_seq, int nfd, uint64_t *last,
			uint64_t *from);

#endif /* MDPUB_ARCHIVE_END_H */
