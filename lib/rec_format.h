/*
 * rec_format.h - the on-disk structures of a recording (doc/protocol.md,
 * "Recording format"). Not installed: programs use mdbus_rec.h.
 *
 * All integers are little-endian (mdbus_msg.h asserts the host is), the
 * structures have no implicit padding, and records follow each other with
 * no alignment padding.
 */
#ifndef MDBUS_REC_FORMAT_H
#define MDBUS_REC_FORMAT_H

#include <stdint.h>

#include "mdbus_rec.h"

#define REC_MAGIC "MDBUSREC"
#define REC_MAGIC_LEN 8
#define REC_VERSION ((MDBUS_REC_FORMAT_MAJOR << 16) | MDBUS_REC_FORMAT_MINOR)
#define REC_CHANNEL_LEN 72
#define REC_HEADER_MAX 4096u /* a reader refuses a larger header_size */

struct rec_header {
	char magic[REC_MAGIC_LEN];   /* "MDBUSREC", no NUL */
	uint32_t version;            /* major << 16 | minor */
	uint32_t msg_version;        /* MDBUS_MSG_VERSION of the recorder */
	char channel[REC_CHANNEL_LEN]; /* NUL-padded */
	uint32_t slot_size;
	uint32_t slots_per_block;
	uint32_t block_count;
	uint32_t mode;               /* enum mdbus_mode */
	uint64_t create_ns;
	uint32_t header_size;        /* bytes before the first record, >= 120 */
	uint32_t pad;                /* zero */
};

struct rec_record {
	uint32_t size;  /* payload bytes following this header */
	uint16_t type;  /* message type (mdbus_msg.h) */
	uint16_t flags; /* zero (reserved) */
	uint64_t seq;   /* sequence number in the recorded channel */
	uint64_t ts_ns; /* publish timestamp */
};

_Static_assert(sizeof(struct rec_header) == 120, "rec header layout");
_Static_assert(sizeof(struct rec_record) == 24, "rec record layout");
_Static_assert(REC_CHANNEL_LEN >= MDBUS_CHANNEL_MAX + 1, "channel fits");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "recordings are little-endian");

#endif /* MDBUS_REC_FORMAT_H */
