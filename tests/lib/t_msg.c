/*
 * t_msg.c - cmocka unit tests of the typed accessors and helpers of
 * mdbus_msg.h: the minimum sizes; each mdbus_msg_as_*() accepts exactly its own type, at
 * least its size and an aligned buffer; a snapshot's levels must fit;
 * symbols and status texts come out trimmed and terminated; fixed-point
 * values convert to the right doubles; the scales are int64_t. Ends with
 * a quote and a trade through a real channel.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mdbus.h"
#include "mdbus_msg.h"
#include "testutil.h"

/* An aligned buffer larger than any message type, with room for levels. */
union msg_buf {
	struct mdbus_quote quote;
	struct mdbus_book_snapshot snap;
	unsigned char bytes[256];
};

static struct mdbus_msg msg_of(uint16_t type, uint32_t size)
{
	struct mdbus_msg m = {.seq = 7, .type = type, .size = size};

	return m;
}

/* The accessor of `type` applied to buf and m (NULL for other types). */
static const void *as_type(uint16_t type, const void *buf,
			   const struct mdbus_msg *m)
{
	switch (type) {
	case MDBUS_MSG_QUOTE: return mdbus_msg_as_quote(buf, m);
	case MDBUS_MSG_TRADE: return mdbus_msg_as_trade(buf, m);
	case MDBUS_MSG_BOOK_LEVEL: return mdbus_msg_as_book_level(buf, m);
	case MDBUS_MSG_BOOK_SNAPSHOT: return mdbus_msg_as_book_snapshot(buf, m);
	case MDBUS_MSG_STATUS: return mdbus_msg_as_status(buf, m);
	case MDBUS_MSG_HEARTBEAT: return mdbus_msg_as_heartbeat(buf, m);
	default: return NULL;
	}
}

/* The structures' sizes, as mdbus_msg.h's layout assertions state them. */
static void t_min_size(void **state)
{
	static const size_t want[] = {0, 64, 64, 56, 40, 64, 24, 0};

	for (uint16_t t = 0; t < 8; t++)
		assert_int_equal(mdbus_msg_min_size(t), want[t]);
	assert_int_equal(mdbus_msg_min_size(UINT16_MAX), 0);
}

/* Every accessor takes its own type at its size and above, and refuses
 * every other type, one byte less, a misaligned buffer and NULL. */
static void t_accessors(void **state)
{
	union msg_buf b;

	memset(&b, 0, sizeof(b));
	for (uint16_t t = MDBUS_MSG_QUOTE; t <= MDBUS_MSG_HEARTBEAT; t++) {
		uint32_t size = (uint32_t)mdbus_msg_min_size(t);
		struct mdbus_msg m = msg_of(t, size);
		struct mdbus_msg more = msg_of(t, size + 8);
		struct mdbus_msg less = msg_of(t, size - 1);

		assert_ptr_equal(as_type(t, &b, &m), &b);
		assert_ptr_equal(as_type(t, &b, &more), &b);
		assert_null(as_type(t, &b, &less));
		assert_null(as_type(t, b.bytes + 4, &more));
		assert_null(as_type(t, NULL, &m));
		assert_null(as_type(t, &b, NULL));
		for (uint16_t o = MDBUS_MSG_RAW; o <= MDBUS_MSG_HEARTBEAT + 1; o++) {
			struct mdbus_msg other = msg_of(o, 200);

			if (o != t)
				assert_null(as_type(t, &b, &other));
		}
	}
}

/* A snapshot is accepted only when its bids + asks levels fit. */
static void t_snapshot_levels(void **state)
{
	union msg_buf b;
	const struct mdbus_book_snapshot *s;
	struct mdbus_level *lv;
	struct mdbus_msg m;
	uint32_t need = sizeof(struct mdbus_book_snapshot) +
			5 * sizeof(struct mdbus_level);

	memset(&b, 0, sizeof(b));
	b.snap.bids = 2;
	b.snap.asks = 3;
	lv = (struct mdbus_level *)(b.bytes + sizeof(b.snap));
	for (int i = 0; i < 5; i++)
		lv[i].px = 100 + i;
	m = msg_of(MDBUS_MSG_BOOK_SNAPSHOT, need);
	s = mdbus_msg_as_book_snapshot(&b, &m);
	assert_ptr_equal(s, &b);
	assert_ptr_equal(mdbus_snapshot_levels(s), lv);
	assert_int_equal(mdbus_snapshot_levels(s)[4].px, 104);
	m.size = need - 1;
	assert_null(mdbus_msg_as_book_snapshot(&b, &m));
	/* the largest counts are refused, not wrapped */
	b.snap.bids = b.snap.asks = UINT16_MAX;
	m.size = sizeof(b);
	assert_null(mdbus_msg_as_book_snapshot(&b, &m));
	b.snap.bids = b.snap.asks = 0;
	m.size = sizeof(struct mdbus_book_snapshot);
	assert_ptr_equal(mdbus_msg_as_book_snapshot(&b, &m), &b);
}

static void check_symbol(const char *field16, const char *want)
{
	char sym[MDBUS_SYMBOL_LEN];
	char out[MDBUS_SYMBOL_LEN + 2];

	memcpy(sym, field16, MDBUS_SYMBOL_LEN);
	memset(out, 'x', sizeof(out));
	assert_ptr_equal(mdbus_symbol_str(out, sym), out);
	assert_string_equal(out, want);
	assert_int_equal(out[MDBUS_SYMBOL_LEN + 1], 'x'); /* wrote <= 17 */
}

static void t_symbol_str(void **state)
{
	check_symbol("AAPL\0\0\0\0\0\0\0\0\0\0\0\0", "AAPL");
	check_symbol("ABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOP");
	check_symbol("EUR/USD   \0\0\0\0\0\0", "EUR/USD");
	check_symbol("ES Z6           ", "ES Z6");
	check_symbol("AB\0\0X\0\0\0\0\0\0\0\0\0\0\0", "AB");
	check_symbol("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", "");
	check_symbol("                ", "");
}

static void t_status_text(void **state)
{
	struct mdbus_status st;
	char out[MDBUS_STATUS_TEXT_LEN + 1];

	memset(&st, 0, sizeof(st));
	memcpy(st.text, "mdpub started", 13);
	assert_string_equal(mdbus_status_text(out, &st), "mdpub started");
	memset(st.text, 'z', sizeof(st.text));
	assert_int_equal(strlen(mdbus_status_text(out, &st)),
			 MDBUS_STATUS_TEXT_LEN);
}

static void t_fixed_point(void **state)
{
	/* the scales have the fields' type, so arithmetic stays int64_t */
	assert_true(_Generic(MDBUS_PX_SCALE, int64_t: 1, default: 0));
	assert_true(_Generic(MDBUS_QTY_SCALE, int64_t: 1, default: 0));
	assert_true(mdbus_px_to_double(12345678900) == 123.456789);
	assert_true(mdbus_px_to_double(-1) == -1e-8);
	assert_true(mdbus_px_to_double(0) == 0.0);
	assert_true(mdbus_qty_to_double(250000 * MDBUS_QTY_SCALE) == 250000.0);
	assert_true(mdbus_qty_to_double(50000000) == 0.5);
}

/* Through a channel: the read buffer gives the quote to its accessor
 * only, with the published fields. */
static void t_through_channel(void **state)
{
	struct mdbus_pub_config c = tu_config(128, 16, 4, MDBUS_MODE_OVERWRITE);
	struct mdbus_quote q = {.bid_px = 101 * MDBUS_PX_SCALE, .ask_qty = 3};
	struct mdbus_trade t = {.px = 5, .aggressor = MDBUS_SIDE_SELL};
	mdbus_pub_t *p = tu_pub_open("msg", &c);
	mdbus_sub_t *s = tu_sub_open("msg", NULL, MDBUS_START_OLDEST, 0,
				     MDBUS_WAIT_ADAPTIVE);
	const struct mdbus_quote *rq;
	const struct mdbus_trade *rt;
	char sym[MDBUS_SYMBOL_LEN + 1];
	union msg_buf b;
	struct mdbus_msg m;

	memcpy(q.symbol, "DEMO", 4);
	TU_CHECK_RC(mdbus_pub_publish(p, MDBUS_MSG_QUOTE, &q, sizeof(q), 1), 0);
	TU_CHECK_RC(mdbus_pub_publish(p, MDBUS_MSG_TRADE, &t, sizeof(t), 2), 0);
	TU_CHECK_RC(mdbus_sub_try_read(s, &b, sizeof(b), &m), 0);
	assert_null(mdbus_msg_as_trade(&b, &m));
	rq = mdbus_msg_as_quote(&b, &m);
	assert_non_null(rq);
	assert_string_equal(mdbus_symbol_str(sym, rq->symbol), "DEMO");
	assert_true(mdbus_px_to_double(rq->bid_px) == 101.0);
	assert_int_equal(rq->ask_qty, 3);
	TU_CHECK_RC(mdbus_sub_try_read(s, &b, sizeof(b), &m), 0);
	assert_null(mdbus_msg_as_quote(&b, &m));
	rt = mdbus_msg_as_trade(&b, &m);
	assert_non_null(rt);
	assert_int_equal(rt->aggressor, MDBUS_SIDE_SELL);
	assert_int_equal(rt->px, 5);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_min_size),
		cmocka_unit_test(t_accessors),
		cmocka_unit_test(t_snapshot_levels),
		cmocka_unit_test(t_symbol_str),
		cmocka_unit_test(t_status_text),
		cmocka_unit_test(t_fixed_point),
		cmocka_unit_test(t_through_channel),
	};

	tu_init("t_msg", 30);
	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
