/*
 * nats_pull.c - a JetStream pull consumer read through requests of our
 * own (nats_pull.h; doc/protocol.md, "JetStream pull requests").
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats_pull.h"

#define NEXT_PREFIX "$JS.API.CONSUMER.MSG.NEXT."
#define ACK_PREFIX "$JS.ACK."
#define STATUS_HEADER "Status"          /* libnats's name for the status */
#define DESCRIPTION_HEADER "Description" /* and for its words */
#define EXPIRES_EARLY_MS 10 /* the server ends a request this much before
			       we stop waiting for it: its 408 comes first */

/* A stream or consumer name as one subject token: not empty, no '.',
 * '*', '>', space or control character. */
static int name_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 127 || *s == '.' ||
		    *s == '*' || *s == '>')
			return 0;
	return 1;
}

/* The inbox's pending limits are the caller's (nats_pull_open()): what
 * comes to it is what the requests asked for (each at most `want`),
 * unless another client publishes to it; libnats's defaults (65536
 * messages, 64 MB) dropped deliveries asked for (a gap for the reader, a
 * consumer made again) when the requests live at once brought more (a
 * batch near its maximum, or of large messages), and no limit at all let
 * a flood of the inbox while back-pressure holds the reader take any
 * memory (doc/protocol.md, "JetStream pull requests"). */
int nats_pull_open(struct nats_pull *p, natsConnection *nc,
		   const char *stream, const char *consumer, int64_t expires_ms,
		   int max_msgs, int max_bytes, char *err, size_t errlen)
{
	natsInbox *inbox = NULL;
	natsStatus s;

	memset(p, 0, sizeof(*p));
	if (!name_ok(stream) || !name_ok(consumer)) {
		snprintf(err, errlen, "stream '%.60s', consumer '%.60s': not "
			 "names a pull request can carry", stream ? stream : "",
			 consumer ? consumer : "");
		return -EINVAL;
	}
	if (asprintf(&p->next_subject, NEXT_PREFIX "%s.%s", stream,
		     consumer) < 0) {
		p->next_subject = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s = natsInbox_Create(&inbox);
	if (s == NATS_OK)
		s = natsConnection_SubscribeSync(&p->inbox, nc, inbox);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(p->inbox, max_msgs,
						      max_bytes);
	natsInbox_Destroy(inbox);
	if (s != NATS_OK) {
		snprintf(err, errlen, "the pull requests' inbox: %s",
			 natsStatus_GetText(s));
		natsSubscription_Destroy(nats_pull_close(p));
		return -EIO;
	}
	p->nc = nc;
	p->expires_ms = expires_ms;
	return 0;
}

/* Asks for want more deliveries, in expires_ms at most. */
static natsStatus request(struct nats_pull *p, int want, int64_t now)
{
	int64_t expires_ns = (p->expires_ms > 2 * EXPIRES_EARLY_MS ?
			      p->expires_ms - EXPIRES_EARLY_MS :
			      p->expires_ms) * 1000000;
	char body[80];
	int len = snprintf(body, sizeof(body), "{\"batch\":%d,\"expires\":%"
			   PRId64 "}", want, expires_ns);
	natsStatus s = natsConnection_PublishRequest(
		p->nc, p->next_subject, natsSubscription_GetSubject(p->inbox),
		body, len);

	if (s == NATS_OK) {
		p->asked = want;
		p->until = now + p->expires_ms;
		p->sent = 1;
		p->answered = 0;
	}
	return s;
}

/* What a status message of the server says of the request: NATS_OK
 * (a heartbeat: nothing), NATS_TIMEOUT (it ended: no messages, or
 * expired), NATS_NO_RESPONDERS (503: nothing took it) or NATS_ERR with
 * its words in err. A status of an earlier request (one that expired as
 * the next was sent) ends the one outstanding too: the next call asks
 * again, two or more live for a while (doc/protocol.md). */
static natsStatus status_said(struct nats_pull *p, const char *status,
			      natsMsg *msg, char *err, size_t errlen)
{
	const char *words = NULL;

	if (!strncmp(status, "100", 3))
		return NATS_OK;
	p->asked = 0;
	if (!strncmp(status, "404", 3) || !strncmp(status, "408", 3))
		return NATS_TIMEOUT;
	if (!strncmp(status, "503", 3))
		return NATS_NO_RESPONDERS;
	natsMsgHeader_Get(msg, DESCRIPTION_HEADER, &words);
	snprintf(err, errlen, "pull request: %.3s %.200s", status,
		 words ? words : "(no description)");
	return NATS_ERR;
}

natsStatus nats_pull_next(struct nats_pull *p, int want, int64_t wait_ms,
			  natsMsg **m, char *err, size_t errlen)
{
	int64_t now = nats_Now(), end;
	natsStatus s;

	*m = NULL;
	*err = '\0';
	/* A live consumer answers each request, at the latest with a 408 as
	 * it expires (EXPIRES_EARLY_MS before until): one that nothing
	 * answered went to no consumer (nats-server 2.9 deletes an ephemeral
	 * one that had no request for 5 s; a durable deleted), or the server
	 * is away. Said once; the next call asks again. */
	if (p->sent && !p->answered && now >= p->until) {
		p->sent = 0;
		p->asked = 0;
		return NATS_NO_RESPONDERS;
	}
	if ((p->asked <= 0 || now >= p->until) &&
	    natsConnection_Status(p->nc) == NATS_CONN_STATUS_CONNECTED) {
		s = request(p, want, now);
		if (s != NATS_OK)
			return s;
	}
	end = now + wait_ms;
	if (p->asked > 0 && p->until < end)
		end = p->until;
	for (;;) {
		natsMsg *msg = NULL;
		const char *reply, *status = NULL;
		int64_t left = end - nats_Now();

		s = natsSubscription_NextMsg(&msg, p->inbox, left > 0 ? left : 0);
		if (s == NATS_TIMEOUT && nats_Now() >= p->until)
			p->asked = 0;
		if (s != NATS_OK)
			return s;
		p->answered = 1;
		reply = natsMsg_GetReply(msg);
		if (reply && !strncmp(reply, ACK_PREFIX, strlen(ACK_PREFIX))) {
			p->asked--;
			*m = msg;
			return NATS_OK;
		}
		if ((reply && *reply) || natsMsgHeader_Get(msg, STATUS_HEADER,
							  &status) != NATS_OK) {
			*m = msg; /* not the server's: the caller judges it */
			return NATS_OK;
		}
		s = status_said(p, status, msg, err, errlen);
		natsMsg_Destroy(msg);
		if (s != NATS_OK)
			return s;
	}
}

natsSubscription *nats_pull_close(struct nats_pull *p)
{
	natsSubscription *inbox = p->inbox;

	free(p->next_subject);
	memset(p, 0, sizeof(*p));
	return inbox;
}
