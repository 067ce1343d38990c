/*
 * nats_pull.h - a JetStream pull consumer's deliveries read through pull
 * requests of our own (doc/protocol.md, "JetStream pull requests"): one
 * request at a time on an inbox subscription of our own, each message
 * handed over as it comes. In place of libnats's natsSubscription_Fetch(),
 * which before 3.9.0 (Debian's 3.4.1) writes past its array when its
 * subscription holds messages as a fetch begins (src_nats.c). Built only
 * with the NATS client library (configure --with-nats).
 */
#ifndef MDBUS_NATS_PULL_H
#define MDBUS_NATS_PULL_H

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

struct nats_pull {
	natsConnection *nc;
	natsSubscription *inbox; /* the requests' replies */
	char *next_subject;      /* $JS.API.CONSUMER.MSG.NEXT.STREAM.CONSUMER */
	int64_t asked;           /* deliveries the request may still bring */
	int64_t until;           /* when it ends (nats_Now(), ms) */
	int sent;                /* a request went, not yet judged answered */
	int answered;            /* a message came to the inbox since */
	int64_t expires_ms;      /* each request's life */
};

/* Subscribes to a new inbox for the consumer `consumer` of `stream`,
 * whose requests live expires_ms, holding at most max_msgs messages and
 * max_bytes bytes not yet taken (past them the client library drops:
 * nats_pull.c): 0, or a negative code with the reason in err (nothing
 * subscribed). */
int nats_pull_open(struct nats_pull *p, natsConnection *nc,
		   const char *stream, const char *consumer, int64_t expires_ms,
		   int max_msgs, int max_bytes, char *err, size_t errlen);

/* The next message on the inbox, waiting wait_ms at most; a request for
 * `want` (> 0) is sent first when none is outstanding and the connection
 * is up (not while it is away: libnats would keep each for the
 * reconnection, and the server then answer them all at once). NATS_OK
 * with *m:
 * a delivery (its reply subject $JS.ACK...), or a message that is not
 * the server's (the caller judges it); NATS_TIMEOUT: nothing (the wait
 * is over, or the request ended: 404 no messages, 408 expired);
 * NATS_NO_RESPONDERS: the request was not answered (nothing came to the
 * inbox in its life, or a 503): no consumer took it (deleted, or the
 * server away); another status: an error, with the server's words in
 * err when it said some. Status messages never reach the caller. */
natsStatus nats_pull_next(struct nats_pull *p, int want, int64_t wait_ms,
			  natsMsg **m, char *err, size_t errlen);

/* The inbox subscription, handed over (the caller destroys it; NULL
 * when none), and what else p holds freed. */
natsSubscription *nats_pull_close(struct nats_pull *p);

#endif /* MDBUS_NATS_PULL_H */
