/*
 * moldudp64.c - see moldudp64.h.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "moldudp64.h"

/* Room runs out before the count could reach the end-of-session value. */
_Static_assert((MOLD_PACKET_MAX - MOLD_HEADER_LEN) / MOLD_BLOCK_LEN <
		       MOLD_COUNT_END, "a full packet's count is a message count");

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int mold_header_encode(unsigned char *buf, size_t cap,
		       const struct mold_header *h)
{
	if (!buf || !h)
		return -EINVAL;
	if (cap < MOLD_HEADER_LEN)
		return -EMSGSIZE;
	memcpy(buf, h->session, MOLD_SESSION_LEN);
	put_be(buf + MOLD_SEQ_OFF, h->seq, 8);
	put_be(buf + MOLD_COUNT_OFF, h->count, 2);
	return MOLD_HEADER_LEN;
}

int mold_header_decode(const unsigned char *pkt, size_t len,
		       struct mold_header *h)
{
	if (!pkt || !h)
		return -EINVAL;
	if (len < MOLD_HEADER_LEN || len > MOLD_PACKET_MAX)
		return -EMSGSIZE;
	memcpy(h->session, pkt, MOLD_SESSION_LEN);
	h->seq = get_be(pkt + MOLD_SEQ_OFF, 8);
	h->count = (uint16_t)get_be(pkt + MOLD_COUNT_OFF, 2);
	return 0;
}

/* A request has the layout of a downstream header, the count being the
 * number of messages asked for (doc/protocol.md, "UDP framing"). */
_Static_assert(MOLD_REQUEST_LEN == MOLD_HEADER_LEN, "request layout");

int mold_request_encode(unsigned char *buf, size_t cap,
			const struct mold_header *req)
{
	if (!req || !req->count || !req->seq)
		return -EINVAL;
	return mold_header_encode(buf, cap, req);
}

int mold_request_decode(const unsigned char *pkt, size_t len,
			struct mold_header *req)
{
	int rc;

	if (!pkt || !req)
		return -EINVAL;
	if (len != MOLD_REQUEST_LEN)
		return -EMSGSIZE;
	rc = mold_header_decode(pkt, len, req);
	if (rc < 0)
		return rc;
	return req->count && req->seq ? 0 : -EBADMSG;
}

int mold_writer_init(struct mold_writer *w, unsigned char *buf, size_t cap)
{
	if (!w || !buf || cap < MOLD_HEADER_LEN || cap > MOLD_PACKET_MAX)
		return -EINVAL;
	w->buf = buf;
	w->cap = cap;
	mold_writer_reset(w);
	return 0;
}

void mold_writer_reset(struct mold_writer *w)
{
	w->len = MOLD_HEADER_LEN;
	w->count = 0;
}

/* Room for a block of len bytes: its data starts at the returned offset,
 * or a negative code. */
static int reserve_block(struct mold_writer *w, size_t len)
{
	size_t at;

	if (len > MOLD_BLOCK_MAX)
		return -EMSGSIZE;
	if (MOLD_BLOCK_LEN + len > w->cap - w->len)
		return -EMSGSIZE;
	put_be(w->buf + w->len, len, MOLD_BLOCK_LEN);
	at = w->len + MOLD_BLOCK_LEN;
	w->len = at + len;
	w->count++;
	return (int)at;
}

int mold_append(struct mold_writer *w, const void *data, size_t len)
{
	int at;

	if (!w || (!data && len))
		return -EINVAL;
	at = reserve_block(w, len);
	if (at < 0)
		return at;
	if (len)
		memcpy(w->buf + at, data, len);
	return 0;
}

int mold_append_msg(struct mold_writer *w, const struct mold_msg *m)
{
	int at;

	if (!w || !m || (!m->payload && m->size))
		return -EINVAL;
	if (m->size > MDBUS_UDP_PAYLOAD_MAX)
		return -EMSGSIZE;
	at = reserve_block(w, MDBUS_UDP_MSG_LEN + m->size);
	if (at < 0)
		return at;
	mold_msg_encode(w->buf + at, MDBUS_UDP_MSG_LEN + m->size, m);
	return 0;
}

int mold_writer_seal_count(struct mold_writer *w, const char *session,
			   uint64_t seq, uint16_t count)
{
	struct mold_header h = {.seq = seq, .count = count};
	int rc;

	if (!w || !session)
		return -EINVAL;
	if (count != w->count && (w->count || (count != MOLD_COUNT_HEARTBEAT &&
					       count != MOLD_COUNT_END)))
		return -EBADMSG;
	memcpy(h.session, session, MOLD_SESSION_LEN);
	rc = mold_header_encode(w->buf, w->cap, &h);
	return rc < 0 ? rc : (int)w->len;
}

int mold_writer_seal(struct mold_writer *w, const char *session,
		     uint64_t seq)
{
	if (!w)
		return -EINVAL;
	return mold_writer_seal_count(w, session, seq, w->count);
}

int mold_reader_init(struct mold_reader *r, const unsigned char *pkt,
		     size_t len, struct mold_header *h)
{
	int rc;

	if (!r)
		return -EINVAL;
	rc = mold_header_decode(pkt, len, h);
	if (rc < 0)
		return rc;
	if ((h->count == MOLD_COUNT_HEARTBEAT || h->count == MOLD_COUNT_END) &&
	    len != MOLD_HEADER_LEN)
		return -EBADMSG;
	r->pkt = pkt;
	r->len = len;
	r->off = MOLD_HEADER_LEN;
	r->left = h->count == MOLD_COUNT_END ? 0 : h->count;
	r->seq = h->seq;
	/* the number after the last message must exist: a receiver takes
	 * it as the next one expected, and 0 means none */
	if (h->seq > UINT64_MAX - r->left)
		return -EBADMSG;
	return 0;
}

int mold_next(struct mold_reader *r, const unsigned char **data, size_t *len,
	      uint64_t *seq)
{
	size_t n;

	if (!r || !data || !len || !seq)
		return -EINVAL;
	if (!r->left)
		return r->off == r->len ? 0 : -EBADMSG;
	if (r->len - r->off < MOLD_BLOCK_LEN)
		return -EMSGSIZE;
	n = (size_t)get_be(r->pkt + r->off, MOLD_BLOCK_LEN);
	if (n > r->len - r->off - MOLD_BLOCK_LEN)
		return -EMSGSIZE;
	*data = r->pkt + r->off + MOLD_BLOCK_LEN;
	*len = n;
	*seq = r->seq++;
	r->off += MOLD_BLOCK_LEN + n;
	r->left--;
	return 1;
}

int mold_msg_encode(unsigned char *buf, size_t cap, const struct mold_msg *m)
{
	if (!buf || !m || (!m->payload && m->size))
		return -EINVAL;
	if (m->size > MDBUS_UDP_PAYLOAD_MAX || MDBUS_UDP_MSG_LEN + m->size > cap)
		return -EMSGSIZE;
	put_le(buf + MDBUS_UDP_TS_OFF, m->ts_ns, 8);
	put_le(buf + MDBUS_UDP_TYPE_OFF, m->type, 2);
	put_le(buf + MDBUS_UDP_FLAGS_OFF, m->flags, 2);
	if (m->size)
		memcpy(buf + MDBUS_UDP_MSG_LEN, m->payload, m->size);
	return (int)(MDBUS_UDP_MSG_LEN + m->size);
}

int mold_msg_decode(const unsigned char *data, size_t len,
		    struct mold_msg *m)
{
	if (!data || !m)
		return -EINVAL;
	if (len < MDBUS_UDP_MSG_LEN)
		return -EBADMSG;
	m->ts_ns = get_le(data + MDBUS_UDP_TS_OFF, 8);
	m->type = (uint16_t)get_le(data + MDBUS_UDP_TYPE_OFF, 2);
	m->flags = (uint16_t)get_le(data + MDBUS_UDP_FLAGS_OFF, 2);
	m->payload = data + MDBUS_UDP_MSG_LEN;
	m->size = len - MDBUS_UDP_MSG_LEN;
	return 0;
}
