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

#include <stdint.h>

#define MDBUS_MSG_VERSION 1 /* bumped when a type below changes */

#define MDBUS_PX_SCALE 100000000LL /* 1e-8: price = px / 1e8 */
#define MDBUS_QTY_SCALE 100000000LL /* 1e-8: quantity = qty / 1e8 */
#define MDBUS_SYMBOL_LEN 16

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
	char text[28];    /* NUL-padded free text */
};

/* Liveness of the feed; published when the feed is idle. 24 bytes. */
struct mdbus_heartbeat {
	uint64_t send_ns;
	uint64_t feed_seq;  /* last sequence seen from the feed, if any */
	uint32_t source_id;
	uint32_t pad;
};

#ifndef __cplusplus
_Static_assert(sizeof(struct mdbus_quote) == 64, "quote layout");
_Static_assert(sizeof(struct mdbus_trade) == 64, "trade layout");
_Static_assert(sizeof(struct mdbus_book_level) == 56, "book level layout");
_Static_assert(sizeof(struct mdbus_book_snapshot) == 40, "snapshot layout");
_Static_assert(sizeof(struct mdbus_level) == 16, "level layout");
_Static_assert(sizeof(struct mdbus_status) == 64, "status layout");
_Static_assert(sizeof(struct mdbus_heartbeat) == 24, "heartbeat layout");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "mdbus message types are little-endian");
#endif

#endif /* MDBUS_MSG_H */
