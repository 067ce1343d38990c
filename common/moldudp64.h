/*
 * moldudp64.h - how bus messages travel over UDP between hosts: encoded by
 * `mdsub --forward` (clients/forward.c), decoded by mdpub's `udp` source
 * (daemons/src_udp.c), both through this one codec. Independent of
 * libmdbus; documented for users in mdpub.conf(5), section UDP FRAMING.
 *
 * The framing (MoldUDP64 1.00 downstream packets carrying bus messages
 * with a 12-byte header, and the request packets a receiver sends to a
 * re-request server) is described in doc/protocol.md, "UDP framing".
 *
 * Every function returns a negative errno on bad input and writes or
 * reads nothing outside the buffer it is given: -EINVAL for a bad
 * argument, -EMSGSIZE when bytes do not fit (a datagram shorter than the
 * header or longer than MOLD_PACKET_MAX, a block that runs past the
 * datagram, a block too large for its length field, a full packet),
 * -EBADMSG for a packet whose message count does not match its blocks
 * (bytes left over, blocks after a heartbeat or an end of session) and
 * for a bus message shorter than its 12-byte header.
 */
#ifndef MDBUS_MOLDUDP64_H
#define MDBUS_MOLDUDP64_H

#include <stddef.h>
#include <stdint.h>

#define MOLD_SESSION_LEN 10
#define MOLD_SEQ_OFF 10            /* u64 big-endian sequence number */
#define MOLD_COUNT_OFF 18          /* u16 big-endian message count */
#define MOLD_HEADER_LEN 20         /* session + sequence + count */
#define MOLD_BLOCK_LEN 2           /* message length prefix */
#define MOLD_BLOCK_MAX 0xFFFFu     /* largest message a block holds */
#define MOLD_COUNT_HEARTBEAT 0u
#define MOLD_COUNT_END 0xFFFFu
#define MOLD_BLOCKS_MAX ((MOLD_PACKET_MAX - MOLD_HEADER_LEN) / MOLD_BLOCK_LEN)
#define MOLD_PACKET_MAX 65507      /* largest UDP payload over IPv4 */
#define MOLD_REQUEST_LEN 20        /* session + sequence + requested count */

/* The message header inside each block, little-endian, 12 bytes. */
#define MDBUS_UDP_TS_OFF 0    /* u64 publish timestamp on the sender */
#define MDBUS_UDP_TYPE_OFF 8  /* u16 mdbus message type (mdbus_msg.h) */
#define MDBUS_UDP_FLAGS_OFF 10 /* u16 zero (reserved) */
#define MDBUS_UDP_MSG_LEN 12  /* payload follows at this offset */
#define MDBUS_UDP_PAYLOAD_MAX (MOLD_BLOCK_MAX - MDBUS_UDP_MSG_LEN)

struct mold_header {
	char session[MOLD_SESSION_LEN]; /* not NUL-terminated */
	uint64_t seq;
	uint16_t count;
};

/* One bus message: the 12-byte header's fields and the payload. */
struct mold_msg {
	uint64_t ts_ns;
	uint16_t type;
	uint16_t flags;
	const void *payload;
	size_t size;
};

/* ---- packet header ---- */

/* Writes h as the first MOLD_HEADER_LEN bytes of buf (cap bytes long).
 * Returns MOLD_HEADER_LEN, -EINVAL (NULL), -EMSGSIZE (cap too small). */
int mold_header_encode(unsigned char *buf, size_t cap,
		       const struct mold_header *h);

/* Reads the header of a datagram of len bytes into h. Returns 0,
 * -EINVAL (NULL), -EMSGSIZE (shorter than the header, or longer than
 * MOLD_PACKET_MAX). Checks no block: see mold_reader_init(). */
int mold_header_decode(const unsigned char *pkt, size_t len,
		       struct mold_header *h);

/* ---- request packets (re-requests) ---- */

/* Writes a request for req->count messages from req->seq on, in session
 * req->session. Returns MOLD_REQUEST_LEN, -EINVAL (NULL, or a count or
 * sequence number of 0), -EMSGSIZE (cap too small). */
int mold_request_encode(unsigned char *buf, size_t cap,
			const struct mold_header *req);

/* Reads a request datagram of len bytes into req. Returns 0, -EINVAL
 * (NULL), -EMSGSIZE (not exactly MOLD_REQUEST_LEN bytes), -EBADMSG (it
 * asks for no message, or for sequence number 0, which no message has). */
int mold_request_decode(const unsigned char *pkt, size_t len,
			struct mold_header *req);

/* ---- writing message blocks ---- */

struct mold_writer {
	unsigned char *buf;
	size_t cap;      /* bytes of buf, at most MOLD_PACKET_MAX */
	size_t len;      /* header + blocks so far */
	uint16_t count;  /* blocks so far */
};

/* Bytes a message of `size` payload bytes takes in a packet (length
 * prefix + bus-message header + payload). */
static inline size_t mold_msg_block_len(size_t size)
{
	return MOLD_BLOCK_LEN + MDBUS_UDP_MSG_LEN + size;
}

/* An empty packet in buf, room left for its header. Returns 0, -EINVAL
 * (NULL, or cap outside MOLD_HEADER_LEN..MOLD_PACKET_MAX). */
int mold_writer_init(struct mold_writer *w, unsigned char *buf, size_t cap);

/* Empties the packet (after it was sent). */
void mold_writer_reset(struct mold_writer *w);

/* Appends one block of len bytes of data. Returns 0, -EINVAL (NULL),
 * -EMSGSIZE (len over MOLD_BLOCK_MAX, or no room). A packet holds at most
 * MOLD_BLOCKS_MAX blocks (all empty), fewer than MOLD_COUNT_END. */
int mold_append(struct mold_writer *w, const void *data, size_t len);

/* Appends one bus message (12-byte header, then m->size bytes of
 * m->payload) as a block. Returns as mold_append(). */
int mold_append_msg(struct mold_writer *w, const struct mold_msg *m);

/* Writes the header (w->count messages from seq on) and returns the
 * packet's length in bytes, or -EINVAL. A packet with no block is a
 * heartbeat; see mold_writer_seal_count() for an end of session. */
int mold_writer_seal(struct mold_writer *w, const char *session,
		     uint64_t seq);

/* The same with an explicit count, for a packet with no block: a
 * heartbeat (MOLD_COUNT_HEARTBEAT) or an end of session (MOLD_COUNT_END).
 * Returns the length, -EINVAL (NULL), -EBADMSG (count differs from the
 * blocks in the packet). */
int mold_writer_seal_count(struct mold_writer *w, const char *session,
			   uint64_t seq, uint16_t count);

/* ---- reading message blocks ---- */

struct mold_reader {
	const unsigned char *pkt;
	size_t len;      /* of the datagram */
	size_t off;      /* next block */
	unsigned left;   /* blocks still to read */
	uint64_t seq;    /* number of the next block */
};

/* Decodes the header of a datagram (as mold_header_decode()) and makes r
 * iterate its blocks. A heartbeat or end of session that carries bytes
 * after the header is -EBADMSG, and so is a packet whose last message
 * would be numbered 2^64 - 1 or past it (the next number would wrap). */
int mold_reader_init(struct mold_reader *r, const unsigned char *pkt,
		     size_t len, struct mold_header *h);

/* The next block: sets *data, *len and *seq (its message number) and
 * returns 1; returns 0 after the last one. Blocks before a bad one are
 * returned as they come, so a reader may use them: -EMSGSIZE when the
 * next block runs past the datagram (fewer blocks than the count says),
 * -EBADMSG when bytes follow the last counted block, -EINVAL (NULL). */
int mold_next(struct mold_reader *r, const unsigned char **data, size_t *len,
	      uint64_t *seq);

/* ---- the bus message inside a block ---- */

/* Writes m's 12-byte header and payload to buf (cap bytes). Returns the
 * bytes written, -EINVAL (NULL), -EMSGSIZE (no room, or more than a block
 * holds). */
int mold_msg_encode(unsigned char *buf, size_t cap, const struct mold_msg *m);

/* Reads the bus message in a block of len bytes: m->payload points into
 * data. Returns 0, -EINVAL (NULL), -EBADMSG (shorter than its header). */
int mold_msg_decode(const unsigned char *data, size_t len,
		    struct mold_msg *m);

#endif /* MDBUS_MOLDUDP64_H */
