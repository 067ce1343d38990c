/*
 * recording.h - the file format of an mdbus recording: written by
 * `mdsub --record`, read by mdpub's `replay` source. Independent of
 * libmdbus (include it with -I$(top_srcdir)/daemons); documented for users
 * in mdpub.conf(5), section RECORDING FORMAT.
 *
 * A recording is one file header followed by records, nothing else:
 *
 *   struct mdbus_rec_header                 (120 bytes, once)
 *   { struct mdbus_rec_record; payload }*   (24 bytes + size bytes each)
 *
 * All integers are little-endian; structures have no implicit padding.
 * There is no trailer and no index, so a recorder writes records as they
 * come and a file cut anywhere (a recorder killed, a full disk) is valid up
 * to its last whole record: a reader stops, without error, at a record
 * whose header or payload is incomplete. Records follow each other with no
 * alignment padding.
 *
 * Header: magic is the 8 bytes "MDBUSREC" (no NUL). version is
 * MDBUS_REC_VERSION; a reader refuses another major (version >> 16) and
 * reads any minor (version & 0xffff), which may only append fields to the
 * header, announced by header_size. msg_version is MDBUS_MSG_VERSION of the
 * recorder (the message types of mdbus_msg.h). channel is the NUL-padded
 * name of the recorded channel; the geometry and mode fields copy the
 * recorded segment's (struct mdbus_stats) so that a replay can recreate it;
 * create_ns is when the recording started (CLOCK_REALTIME ns).
 *
 * Record: size is the payload length in bytes (a reader refuses a size
 * larger than MDBUS_REC_PAYLOAD_MAX as a corrupt file), type the mdbus
 * message type (mdbus_msg.h), flags are zero (reserved), seq the message's
 * sequence number in the recorded channel (a jump of more than one means
 * the recorder lost messages there), ts_ns its publish timestamp
 * (struct mdbus_msg.ts_ns), which a replay at recorded pace follows.
 */
#ifndef MDBUS_RECORDING_H
#define MDBUS_RECORDING_H

#include <stdint.h>

#define MDBUS_REC_MAGIC "MDBUSREC"
#define MDBUS_REC_MAGIC_LEN 8
#define MDBUS_REC_VERSION 0x00010000u /* major 1, minor 0 */
#define MDBUS_REC_MAJOR(v) ((v) >> 16)
#define MDBUS_REC_CHANNEL_LEN 72     /* >= MDBUS_CHANNEL_MAX + 1 */
#define MDBUS_REC_PAYLOAD_MAX (1u << 20) /* the largest slot size */

struct mdbus_rec_header {
	char magic[MDBUS_REC_MAGIC_LEN]; /* "MDBUSREC" */
	uint32_t version;                /* MDBUS_REC_VERSION */
	uint32_t msg_version;            /* MDBUS_MSG_VERSION */
	char channel[MDBUS_REC_CHANNEL_LEN];
	uint32_t slot_size;
	uint32_t slots_per_block;
	uint32_t block_count;
	uint32_t mode;                   /* enum mdbus_mode */
	uint64_t create_ns;
	uint32_t header_size;            /* sizeof this header, >= 120 */
	uint32_t pad;                    /* zero */
};

struct mdbus_rec_record {
	uint32_t size;  /* payload bytes following this header */
	uint16_t type;  /* enum mdbus_msg_type or any other u16 */
	uint16_t flags; /* zero (reserved) */
	uint64_t seq;   /* sequence number in the recorded channel */
	uint64_t ts_ns; /* publish timestamp */
};

_Static_assert(sizeof(struct mdbus_rec_header) == 120, "rec header layout");
_Static_assert(sizeof(struct mdbus_rec_record) == 24, "rec record layout");

#endif /* MDBUS_RECORDING_H */
