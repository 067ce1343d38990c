/*
 * retransmit.h - the re-request server of `mdsub --forward udp://...
 * --retransmit=ADDR:PORT` (mdsub(1), doc/protocol.md "UDP framing",
 * "Retransmission"): keeps the messages of the packets the forwarder sent
 * (rtx_store.c), answers MoldUDP64 request packets from them with one
 * downstream packet unicast to the requester (retransmit.c), and limits
 * what each requester, and all of them together, may get (ratelimit.c).
 *
 * The server runs in its own thread; the forwarder calls rtx_keep() and
 * rtx_session() from the read loop's thread. Every function that can fail
 * returns a negated errno and prints nothing.
 */
#ifndef MDSUB_RETRANSMIT_H
#define MDSUB_RETRANSMIT_H

#include <stddef.h>
#include <stdint.h>

#include "moldudp64.h"

struct rtx_opts {
	const char *listen;   /* ADDR:PORT, NULL = no retransmission */
	const char *allow;    /* --retransmit-allow list, NULL = the default
			       * (loopback and the unicast destination) */
	uint64_t depth;       /* messages kept */
	uint64_t bytes;       /* bytes of messages kept */
	uint64_t rate;        /* answer bytes per second and requester */
	uint64_t linger_ns;   /* serving on after the end of session */
};

/* What the server did, for the summary at exit. */
struct rtx_counts {
	uint64_t served;      /* requests answered (a heartbeat or end of
			       * session for numbers not sent yet) */
	uint64_t messages;    /* messages sent in the answers */
	uint64_t allow;       /* refused: not from --retransmit-allow */
	uint64_t rate;        /* refused: the requester's (or the total)
			       * answer rate was used up */
	uint64_t session;     /* refused: not the current session */
	uint64_t malformed;   /* refused: not a request packet */
	uint64_t out_of_range; /* no message of it kept (too old, not yet
				* sent, or never forwarded) */
	uint64_t before;      /* of out_of_range: before the first number
			       * of the session sent (or none sent yet) */
	uint64_t filtered;    /* of out_of_range: a number the forwarder's
			       * filters drop (the archive hook's count) */
	uint64_t archive;     /* requests read back from the channel
			       * (rtx_set_older()), each paid for as a full
			       * packet before it was read */
	uint64_t archive_opens;   /* readers opened at a number for them */
	uint64_t archive_skipped; /* archive messages read past to reach a
				   * request: by a reader opened at it (its
				   * file from the start), or one kept open
				   * behind it; charged SKIP_COST each */
};

/* ---- the store of recent messages (rtx_store.c) ---- */

struct rtx_store;

/* Room for `depth` messages and `bytes` bytes of them. Returns 0, -EINVAL
 * (a depth of 0, or fewer bytes than one largest message), -ENOMEM. */
int rtx_store_new(struct rtx_store **out, uint64_t depth, uint64_t bytes);
void rtx_store_free(struct rtx_store *s);

/* Empties the store: a new session numbers its messages anew. */
void rtx_store_clear(struct rtx_store *s);

/* Keeps the message blocks of a downstream packet that was sent, the
 * oldest messages making room. Messages numbered at or below one kept
 * already are not kept. */
void rtx_store_packet(struct rtx_store *s, const unsigned char *pkt,
		      size_t len);

/* Appends to w the kept messages numbered seq, seq + 1, ... (at most
 * count, as many as fit w) and returns how many; 0 when seq is not kept. */
unsigned rtx_store_answer(const struct rtx_store *s, uint64_t seq,
			  unsigned count, struct mold_writer *w);

/* ---- token buckets per requester (ratelimit.c) ---- */

#define RTX_PEERS 256         /* requesters tracked at once */
#define RTX_TOTAL_SHARES 4    /* all requesters together: 4 x the rate */

struct rtx_limit;

/* Buckets of `rate` bytes per second holding at most `burst` bytes. */
int rtx_limit_new(struct rtx_limit **out, uint64_t rate, uint64_t burst);
void rtx_limit_free(struct rtx_limit *l);

/* 1 and takes `bytes` from the bucket of the requester at addr (addrlen
 * bytes of a struct sockaddr) and from the total, when both hold that
 * many at now_ns; else 0 and takes nothing. A requester not seen yet
 * takes the place of the one seen least recently when the table is
 * full. */
int rtx_limit_take(struct rtx_limit *l, const void *addr, size_t addrlen,
		   uint64_t bytes, uint64_t now_ns);

/* Takes `bytes` of work already done for the requester at addr from its
 * bucket and the total one, whatever they hold: a bucket below what a
 * request costs refuses requests until its rate has made up for it. */
void rtx_limit_charge(struct rtx_limit *l, const void *addr, size_t addrlen,
		      uint64_t bytes, uint64_t now_ns);

/* ---- the server (retransmit.c) ---- */

struct rtx;

/* Binds o->listen and starts the server thread. `answer_max` is the
 * largest answer packet (the forwarder's batch size); `dest` the
 * forwarder's destination (a numeric address), NULL when it is a
 * multicast group: without o->allow, requests are answered from dest
 * only (and from loopback when dest is an address of this host), and a
 * multicast forwarder needs o->allow. Returns 0, or a negated errno with
 * the reason (the address and what failed) in err. */
int rtx_open(struct rtx **out, const struct rtx_opts *o, size_t answer_max,
	     const char *dest, char *err, size_t errlen);

/* The warning for an allow list that admits every local user (an address
 * of this host, which any of them may send from, or every address): 1
 * with it in buf, else 0. */
int rtx_allow_warning(const struct rtx *r, char *buf, size_t len);

/* The address the server answers on, as "HOST:PORT" (the port the
 * system chose for port 0). */
void rtx_local(const struct rtx *r, char *buf, size_t len);

/* The forwarder's session changed: what is kept is of the old one, and
 * the segment its messages come from is not known until rtx_epoch(). */
void rtx_session(struct rtx *r, const char session[MOLD_SESSION_LEN]);

/* The epoch of the segment the session's messages come from (the
 * forwarder's reader's, mdbus_sub_epoch(); 0: none, as a recording's):
 * what the archive hook may read back for the session. */
void rtx_epoch(struct rtx *r, uint64_t epoch);

/* A downstream packet (with messages) the forwarder is about to send:
 * kept before it goes out, so that a receiver that saw it can always
 * have it again, and the server's next number (what it answers, as a
 * heartbeat, to a request for numbers not sent yet) is never behind
 * what a receiver saw. */
void rtx_keep(struct rtx *r, const unsigned char *pkt, size_t len);

/* The session ended: requests for numbers not sent get an end of
 * session. */
void rtx_end(struct rtx *r);

/* Messages older than the store holds: the hook for an archive of the
 * channel. `older` appends to w the messages numbered seq, seq + 1, ...
 * (MoldUDP64 number = ring sequence + 1; at most count) that the
 * forwarder would have sent, adds the readers it opened and the messages
 * it read past to n->archive_opens and n->archive_skipped (and 1 to
 * n->filtered when seq is one the forwarder's filters drop), and returns
 * how many it appended. Called only for numbers from the first sent in
 * the session on, with a count that ends before the next to be sent
 * (doc/protocol.md, "Retransmission"), and the epoch of the segment the
 * session's messages come from (rtx_epoch(); never 0): the hook answers
 * only from that segment. From the server thread only,
 * without the server's lock (ctx is that thread's until rtx_close()
 * returns), and only for a request the rate limit let through; NULL (the
 * default) for none. */
typedef unsigned (*rtx_older_fn)(void *ctx, uint64_t epoch, uint64_t seq,
				 unsigned count, struct mold_writer *w,
				 struct rtx_counts *n);
/* The messages it read past are charged to the requester after the read
 * (retransmit.c, SKIP_COST each). `idle`, when not NULL, is called with the monotonic time
 * at every wake of the server thread (at least every 50 ms), from that
 * thread: for releasing what the hook keeps open once requests stop. */
typedef void (*rtx_idle_fn)(void *ctx, uint64_t now_ns);
void rtx_set_older(struct rtx *r, rtx_older_fn older, rtx_idle_fn idle,
		   void *ctx);

/* rtx_archive.c: the messages older than the store, read back from the
 * channel (its ring, else its archive) by a reader kept open across
 * requests, for a server of the forwarder of `channel` read with o->sub,
 * while the name holds the session's segment; only those o's filters
 * pass, tested on text forms of chan_width as the read loop's
 * (filter.c). o is the caller's until rtx_archive_close(). Returns 0 or
 * -1 (no memory). */
struct rtx_archive;
struct mdsub_opts;
int rtx_archive_open(struct rtx_archive **out, const char *channel,
		     const struct mdsub_opts *o, int chan_width);
/* Makes r ask a for what its store no longer holds. */
void rtx_archive_attach(struct rtx_archive *a, struct rtx *r);
/* Frees a (NULL: nothing); after the server that used it is closed. */
void rtx_archive_close(struct rtx_archive *a);

/* Stops the thread, sets *c and frees everything. */
void rtx_close(struct rtx *r, struct rtx_counts *c);

#endif /* MDSUB_RETRANSMIT_H */
