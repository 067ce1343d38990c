/*
 * mdbus_msg.h - the market-data message types mdpub produces and mdsub
 * understands. They are a convention on top of the ring, which carries any
 * payload up to the slot payload size; the type travels in the slot header
 * (struct mdbus_msg.type).
 *
 * Wire rules: fixed-width fields, little-endian, naturally aligned, no
 * implicit padding (explicit pad fields are zero). Prices are signed
 * fixed-point integers: real price = px / MDBUS_PX_SCALE. Quantities are
 * signed fixed-point with MDBUS_QTY_SCALE. Symbols are NUL-padded ASCII,
 * not necessarily NUL-terminated when all 16 bytes are used. Timestamps are
 * CLOCK_REALTIME nanoseconds: exch_ns from the venue, recv_ns when the feed
 * handler received it.
 */
#ifndef MDBUS_MSG_H
#define MDBUS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "mdbus.h" /* struct mdbus_msg */

#ifdef __cplusplus
extern "C" {
#endif

#define MDBUS_MSG_VERSION 1 /* bumped when a type below changes */

/* int64_t constants, like the px and qty fields they scale */
#define MDBUS_PX_SCALE INT64_C(100000000) /* 1e-8: price = px / 1e8 */
#define MDBUS_QTY_SCALE INT64_C(100000000) /* 1e-8: quantity = qty / 1e8 */
#define MDBUS_SYMBOL_LEN 16
#define MDBUS_STATUS_TEXT_LEN 28 /* bytes of struct mdbus_status.text */
#define MDBUS_MSG_ALIGN 8 /* alignment of every struct below */

/* A layout assertion at file scope in C11 and in C++ alike. */
#ifdef __cplusplus
#define MDBUS_STATIC_ASSERT(cond, text) static_assert(cond, text)
#else
#define MDBUS_STATIC_ASSERT(cond, text) _Static_assert(cond, text)
#endif

enum mdbus_msg_type {
	MDBUS_MSG_RAW = 0,           /* opaque payload */
	MDBUS_MSG_QUOTE = 1,         /* struct mdbus_quote */
	MDBUS_MSG_TRADE = 2,         /* struct mdbus_trade */
	MDBUS_MSG_BOOK_LEVEL = 3,    /* struct mdbus_book_level */
	MDBUS_MSG_BOOK_SNAPSHOT = 4, /* struct mdbus_book_snapshot + levels */
	MDBUS_MSG_STATUS = 5,        /* struct mdbus_status */
	MDBUS_MSG_HEARTBEAT = 6,     /* struct mdbus_heartbeat */
};

enum mdbus_side {
	MDBUS_SIDE_UNKNOWN = 0,
	MDBUS_SIDE_BUY = 1,  /* bid side / buyer-initiated trade */
	MDBUS_SIDE_SELL = 2, /* ask side / seller-initiated trade */
};

/* Top of book. 64 bytes. */
struct mdbus_quote {
	char symbol[MDBUS_SYMBOL_LEN];
	int64_t bid_px;
	int64_t bid_qty;
	int64_t ask_px;
	int64_t ask_qty;
	uint64_t exch_ns;
	uint64_t recv_ns;
};

/* A trade print. 64 bytes. */
struct mdbus_trade {
	char symbol[MDBUS_SYMBOL_LEN];
	int64_t px;
	int64_t qty;
	uint64_t trade_id;
	uint64_t exch_ns;
	uint64_t recv_ns;
	uint8_t aggressor; /* enum mdbus_side */
	uint8_t pad[7];
};

enum mdbus_book_action {
	MDBUS_BOOK_NEW = 0,
	MDBUS_BOOK_CHANGE = 1,
	MDBUS_BOOK_DELETE = 2,
};

/* One price level changed. 56 bytes. */
struct mdbus_book_level {
	char symbol[MDBUS_SYMBOL_LEN];
	int64_t px;
	int64_t qty;
	uint64_t exch_ns;
	uint64_t recv_ns;
	uint16_t level;  /* 0 = best */
	uint8_t side;    /* enum mdbus_side */
	uint8_t action;  /* enum mdbus_book_action */
	uint8_t pad[4];
};

struct mdbus_level {
	int64_t px;
	int64_t qty;
};

/* Book snapshot: the header is followed by `bids` then `asks` levels, best
 * first. 40 bytes + 16 per level; a reader checks that
 * sizeof header + 16 * (bids + asks) <= the message size. */
struct mdbus_book_snapshot {
	char symbol[MDBUS_SYMBOL_LEN];
	uint64_t exch_ns;
	uint64_t recv_ns;
	uint16_t bids;
	uint16_t asks;
	uint8_t pad[4];
	/* struct mdbus_level levels[bids + asks]; */
};

enum mdbus_trading_state {
	MDBUS_STATE_UNKNOWN = 0,
	MDBUS_STATE_TRADING = 1,
	MDBUS_STATE_HALTED = 2,
	MDBUS_STATE_CLOSED = 3,
	MDBUS_STATE_FEED_UP = 4,    /* feed connected / publisher started */
	MDBUS_STATE_FEED_DOWN = 5,  /* feed lost / publisher stopping */
};

/* Instrument or feed status. 64 bytes. An empty symbol means the whole feed
 * (mdpub publishes FEED_UP at start and FEED_DOWN when it stops). */
struct mdbus_status {
	char symbol[MDBUS_SYMBOL_LEN];
	uint64_t exch_ns;
	uint64_t recv_ns;
	uint32_t state;   /* enum mdbus_trading_state */
	char text[MDBUS_STATUS_TEXT_LEN]; /* NUL-padded free text */
};

/* Liveness of the feed; published when the feed is idle. 24 bytes. */
struct mdbus_heartbeat {
	uint64_t send_ns;
	uint64_t feed_seq;  /* last sequence seen from the feed, if any */
	uint32_t source_id;
	uint32_t pad;
};

MDBUS_STATIC_ASSERT(sizeof(struct mdbus_quote) == 64, "quote layout");
MDBUS_STATIC_ASSERT(sizeof(struct mdbus_trade) == 64, "trade layout");
MDBUS_STATIC_ASSERT(sizeof(struct mdbus_book_level) == 56, "book level layout");
MDBUS_STATIC_ASSERT(sizeof(struct mdbus_book_snapshot) == 40, "snapshot layout");
MDBUS_STATIC_ASSERT(sizeof(struct mdbus_level) == 16, "level layout");
MDBUS_STATIC_ASSERT(sizeof(struct mdbus_status) == 64, "status layout");
MDBUS_STATIC_ASSERT(sizeof(struct mdbus_heartbeat) == 24, "heartbeat layout");
MDBUS_STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
		    "mdbus message types are little-endian");

/* ------------------------------------------------------- typed accessors
 *
 * mdbus_msg_as_TYPE(buf, m) returns buf as the structure of message type
 * TYPE when m (as filled by mdbus_sub_read(), mdbus_sub_try_read() or
 * mdbus_rec_read() with buf) is of that type, holds at least the
 * structure's size (a later MDBUS_MSG_VERSION may append fields) and buf
 * is aligned to MDBUS_MSG_ALIGN (a malloc()ed buffer or a buffer declared
 * as one of the structures is); else NULL. The pointer is into buf: valid
 * until buf is read into again. Pure functions, any thread. */

/* The size a message of `type` has at least: its structure's (for a
 * snapshot the header's, without levels); 0 for MDBUS_MSG_RAW and for
 * types this header does not define. */
static inline size_t mdbus_msg_min_size(uint16_t type)
{
	switch (type) {
	case MDBUS_MSG_QUOTE: return sizeof(struct mdbus_quote);
	case MDBUS_MSG_TRADE: return sizeof(struct mdbus_trade);
	case MDBUS_MSG_BOOK_LEVEL: return sizeof(struct mdbus_book_level);
	case MDBUS_MSG_BOOK_SNAPSHOT: return sizeof(struct mdbus_book_snapshot);
	case MDBUS_MSG_STATUS: return sizeof(struct mdbus_status);
	case MDBUS_MSG_HEARTBEAT: return sizeof(struct mdbus_heartbeat);
	default: return 0;
	}
}

/* The shared check of the accessors: buf when m is a message of `type`
 * carrying at least mdbus_msg_min_size(type) bytes and buf is aligned;
 * else NULL. */
static inline const void *mdbus_msg_payload_as(const void *buf,
					       const struct mdbus_msg *m,
					       uint16_t type)
{
	if (!buf || !m || m->type != type || m->size < mdbus_msg_min_size(type))
		return NULL;
	if ((uintptr_t)buf % MDBUS_MSG_ALIGN)
		return NULL;
	return buf;
}

static inline const struct mdbus_quote *
mdbus_msg_as_quote(const void *buf, const struct mdbus_msg *m)
{
	return (const struct mdbus_quote *)mdbus_msg_payload_as(
		buf, m, MDBUS_MSG_QUOTE);
}

static inline const struct mdbus_trade *
mdbus_msg_as_trade(const void *buf, const struct mdbus_msg *m)
{
	return (const struct mdbus_trade *)mdbus_msg_payload_as(
		buf, m, MDBUS_MSG_TRADE);
}

static inline const struct mdbus_book_level *
mdbus_msg_as_book_level(const void *buf, const struct mdbus_msg *m)
{
	return (const struct mdbus_book_level *)mdbus_msg_payload_as(
		buf, m, MDBUS_MSG_BOOK_LEVEL);
}

/* Also NULL unless the bids + asks levels fit in m->size; they follow the
 * header: mdbus_snapshot_levels(). */
static inline const struct mdbus_book_snapshot *
mdbus_msg_as_book_snapshot(const void *buf, const struct mdbus_msg *m)
{
	const struct mdbus_book_snapshot *s =
		(const struct mdbus_book_snapshot *)mdbus_msg_payload_as(buf, m, MDBUS_MSG_BOOK_SNAPSHOT);

	if (s && m->size - sizeof(*s) <
		 ((size_t)s->bids + s->asks) * sizeof(struct mdbus_level))
		return NULL;
	return s;
}

static inline const struct mdbus_status *
mdbus_msg_as_status(const void *buf, const struct mdbus_msg *m)
{
	return (const struct mdbus_status *)mdbus_msg_payload_as(
		buf, m, MDBUS_MSG_STATUS);
}

static inline const struct mdbus_heartbeat *
mdbus_msg_as_heartbeat(const void *buf, const struct mdbus_msg *m)
{
	return (const struct mdbus_heartbeat *)mdbus_msg_payload_as(
		buf, m, MDBUS_MSG_HEARTBEAT);
}

/* The levels of a snapshot that mdbus_msg_as_book_snapshot() returned:
 * s->bids bid levels then s->asks ask levels, best first. */
static inline const struct mdbus_level *
mdbus_snapshot_levels(const struct mdbus_book_snapshot *s)
{
	return (const struct mdbus_level *)(s + 1);
}

/* --------------------------------------------------------------- helpers */

/* Copies the fixed-size text field `field` (`len` bytes, NUL-padded, not
 * necessarily terminated) into out, which holds len + 1 bytes: up to the
 * first NUL, trailing spaces trimmed, NUL-terminated. Returns out. */
static inline char *mdbus_fixed_str(char *out, const char *field, size_t len)
{
	size_t n = 0;

	while (n < len && field[n])
		n++;
	while (n > 0 && field[n - 1] == ' ')
		n--;
	for (size_t i = 0; i < n; i++)
		out[i] = field[i];
	out[n] = '\0';
	return out;
}

/* A message's symbol as a C string in out (MDBUS_SYMBOL_LEN + 1 bytes):
 * mdbus_fixed_str() of the 16 bytes. Returns out. */
static inline char *mdbus_symbol_str(char out[MDBUS_SYMBOL_LEN + 1],
				     const char symbol[MDBUS_SYMBOL_LEN])
{
	return mdbus_fixed_str(out, symbol, MDBUS_SYMBOL_LEN);
}

/* A status message's text as a C string in out
 * (MDBUS_STATUS_TEXT_LEN + 1 bytes). Returns out. */
static inline char *mdbus_status_text(char out[MDBUS_STATUS_TEXT_LEN + 1],
				      const struct mdbus_status *st)
{
	return mdbus_fixed_str(out, st->text, MDBUS_STATUS_TEXT_LEN);
}

/* A fixed-point price or quantity as a double: px / MDBUS_PX_SCALE and
 * qty / MDBUS_QTY_SCALE, correctly rounded while |px| < 2^53. For display
 * and analytics; compare and add prices as the integers. */
static inline double mdbus_px_to_double(int64_t px)
{
	return (double)px / (double)MDBUS_PX_SCALE;
}

static inline double mdbus_qty_to_double(int64_t qty)
{
	return (double)qty / (double)MDBUS_QTY_SCALE;
}

#ifdef __cplusplus
}
#endif
#endif /* MDBUS_MSG_H */
