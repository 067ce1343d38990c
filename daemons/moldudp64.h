/*
 * moldudp64.h - how bus messages travel over UDP between hosts: sent by
 * `mdsub --forward`, received by mdpub's `udp` source. Independent of
 * libmdbus (include it with -I$(top_srcdir)/daemons); documented for users
 * in mdpub.conf(5), section UDP FRAMING.
 *
 * Each datagram is a MoldUDP64 downstream packet (NASDAQ MoldUDP64 1.00):
 *
 *   offset 0   session          10 bytes, ASCII, space padded
 *   offset 10  sequence number   8 bytes, big-endian: the number of the
 *                                first message in this packet (from 1)
 *   offset 18  message count     2 bytes, big-endian: 0 = heartbeat
 *                                (sequence = the next expected number),
 *                                0xFFFF = end of session
 *   offset 20  message blocks    count x { 2-byte big-endian length,
 *                                length bytes of message data }
 *
 * Each message's data is one bus message: a 12-byte little-endian header
 * (u64 ts_ns, u16 type, u16 flags = 0) followed by its payload (length -
 * 12 bytes), the bytes a reader got from the ring. A forwarder numbers messages with its
 * ring sequence + 1, so that what it lost shows as a gap downstream; it
 * starts a new session name whenever its numbering restarts.
 */
#ifndef MDBUS_MOLDUDP64_H
#define MDBUS_MOLDUDP64_H

#include <stdint.h>

#define MOLD_SESSION_LEN 10
#define MOLD_HEADER_LEN 20         /* session + sequence + count */
#define MOLD_BLOCK_LEN 2           /* message length prefix */
#define MOLD_COUNT_HEARTBEAT 0u
#define MOLD_COUNT_END 0xFFFFu
#define MOLD_PACKET_MAX 65507      /* largest UDP payload over IPv4 */

/* The message header inside each block, little-endian, 12 bytes. */
#define MDBUS_UDP_TS_OFF 0    /* u64 publish timestamp on the sender */
#define MDBUS_UDP_TYPE_OFF 8  /* u16 mdbus message type (mdbus_msg.h) */
#define MDBUS_UDP_FLAGS_OFF 10 /* u16 zero (reserved) */
#define MDBUS_UDP_MSG_LEN 12  /* payload follows at this offset */

#endif /* MDBUS_MOLDUDP64_H */
