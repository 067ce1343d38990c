/*
 * src_udp.h - the state of the `udp` source, shared by src_udp.c (the
 * live packets: sessions, sequencing, jumps) and udp_recover.c (gaps
 * recovered from a MoldUDP64 re-request server, doc/protocol.md
 * "Retransmission").
 */
#ifndef MDPUB_SRC_UDP_H
#define MDPUB_SRC_UDP_H

#include <stdint.h>

#include <ev.h>

#include "addr_allow.h"
#include "log.h"
#include "moldudp64.h"
#include "source.h"

#define JUMP_CONFIRM_MAX 16

/* The source's counters, named in udp_counters[] (src_udp.c). */
enum {
	UDP_DUPLICATE, /* every message in it seen already */
	UDP_SESSION,   /* not of the configured session */
	UDP_MALFORMED, /* as the channel's malformed counter */
	UDP_JUMP,      /* held: its sequence jumped beyond jump_window */
	UDP_ADOPTED,   /* jumps jump_confirm packets confirmed */
	UDP_JUMPED,    /* messages adopted jumps skipped ahead */
	UDP_REQUESTS,  /* re-requests sent */
	UDP_RECOVERED, /* messages the answers gave that were published */
	UDP_SENDER,    /* not from an address of `sender` */
	UDP_DISCARDED, /* held ahead, then overtaken or contradicted by the
			* stream, or no room */
	UDP_REFUTED,   /* held ahead, past the server's next number */
	UDP_OVERFLOW,  /* datagrams the kernel dropped (SO_RXQ_OVFL): mostly
			* a full receive queue */
};

struct udp_conf {
	char *listen;
	char *interface;
	char *session;
	char *sender;                /* ADDR[/BITS][:PORT] list, "any", or
				      * NULL (then session is set) */
	uint64_t rcvbuf;
	uint64_t jump_window;
	uint64_t jump_confirm;
	int timestamps; /* 0 now, 1 sender */
	char *retransmit;            /* HOST:PORT of the re-request server */
	double retransmit_timeout;   /* seconds a gap waits for its answers */
	uint64_t retransmit_requests; /* requests in flight at most */
	uint64_t retransmit_buffer;  /* bytes of packets held behind gaps */
};

/* A packet held behind a gap, in a list sorted by sequence number. A
 * heartbeat or end of session is held too (no message: seq == end), for
 * the gap before it. */
struct held {
	struct held *next;
	uint64_t seq, end;       /* its messages are numbered [seq, end) */
	uint64_t arrived_ns;     /* the gap before it was known then */
	int answer;              /* an answer from the re-request server */
	int trusted;             /* its gap was given up: taken as it is */
	uint64_t epoch;          /* recovery.epoch when it was held: the
				  * stream went on since (suspect) if older */
	unsigned chain;          /* live packets in a row before it that it
				  * continues, valid in chain_epoch only */
	uint64_t chain_epoch;
	size_t len;
	unsigned char pkt[];
};

/* A request in flight: for the gap starting at seq, sent at sent_ns. */
struct asked {
	uint64_t seq, sent_ns;
};

/* The held packets; the server part only with conf.retransmit. */
struct recovery {
	ev_io io_w;              /* the socket connected to the server, or
				  * fd -1 */
	ev_timer timer;          /* runs while packets are held */
	uint64_t timeout_ns, resend_ns;
	uint64_t per_packet;     /* most messages a packet of the session held */
	struct held *head;
	size_t bytes;            /* of the packets held, records included */
	unsigned count;          /* packets held, at most HELD_MAX */
	uint64_t epoch;          /* packets that continued the stream while
				  * packets were held */
	struct asked *asked;     /* conf.retransmit_requests of them, or NULL */
	unsigned char pkt[MOLD_PACKET_MAX];
};

struct udp {
	struct source base;
	struct udp_conf conf;
	ev_io io_w;
	char session[MOLD_SESSION_LEN];  /* current session */
	char want[MOLD_SESSION_LEN];     /* conf.session, space padded */
	int ended;                       /* its end of session was seen */
	uint64_t expected;               /* next message number, 0 unknown */
	struct log_limit bad_limit;
	struct log_limit jump_limit;
	struct log_limit overflow_limit;
	uint32_t dropped;                /* the socket's drop count last seen
					  * (SO_RXQ_OVFL, wraps) */
	struct addr_allow sender;        /* conf.sender; empty: anyone */
	unsigned nheld;                  /* the jump and those continuing it */
	uint64_t held_next;              /* what a packet continuing them has */
	char held_session[MOLD_SESSION_LEN]; /* and its session */
	size_t held_len[JUMP_CONFIRM_MAX];
	unsigned char *held;             /* jump_confirm * MOLD_PACKET_MAX */
	struct recovery *rec;            /* the packets held behind gaps */
	unsigned char pkt[MOLD_PACKET_MAX];
};

/* ---- src_udp.c, for udp_recover.c ---- */

/* Publishes the messages of a well-formed packet numbered from
 * u->expected on; returns how many. */
uint64_t udp_publish_packet(struct udp *u, const unsigned char *p, size_t n);

/* Counts and logs the messages u->expected .. seq - 1 as lost (a feed
 * gap), skips as many sequence numbers of the channel (its readers count
 * them lost) and expects seq next. */
void udp_lost(struct udp *u, uint64_t seq);

/* The messages a packet header says it has (none for a heartbeat or an
 * end of session). */
static inline uint64_t udp_msgs(const struct mold_header *h)
{
	return h->count == MOLD_COUNT_END ? 0 : h->count;
}

/* ---- udp_recover.c ---- */

/* Sets up u->rec, connected to conf.retransmit when set. Returns 0, or
 * a negative code with the reason in err. */
int recover_start(struct udp *u, char *err, size_t errlen);
void recover_stop(struct udp *u);

/* A packet of the session that does not simply follow u->expected (a
 * gap before it, or packets held already): published when it continues
 * the stream, else held; what can be published is, and the gaps are
 * asked for (with a server) or given up when confirmed (without). */
void recover_packet(struct udp *u, const unsigned char *p, size_t n,
		    const struct mold_header *h);

/* The session ends or changes, or the stream jumps: what is held is
 * published (but suspect packets: discarded), the gaps between counted
 * as lost. */
void recover_flush(struct udp *u);

#endif /* MDPUB_SRC_UDP_H */
