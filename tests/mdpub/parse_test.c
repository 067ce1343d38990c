/*
 * parse_test.c - unit tests (cmocka) of mdpub's line parsers
 * (daemons/lines_parse.c): fixed-point numbers, CSV columns and Binance
 * bookTicker/trade JSON, good and malformed.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lines_parse.h"

#define E8 100000000LL

static void test_fixed(void **state)
{
	static const struct {
		const char *text;
		int rc;
		int64_t v;
	} cases[] = {
		{"0", 0, 0},
		{"1", 0, E8},
		{"-2.5", 0, -25 * E8 / 10},
		{"+0.00000001", 0, 1},
		{"25.35190000", 0, 2535190000LL},
		{"1.123456780000", 0, 112345678},
		{"1.", 0, E8},
		{".5", 0, E8 / 2},
		{"92233720368.54775807", 0, INT64_MAX},
		{"92233720368.54775808", -1, 0},
		/* INT64_MIN, as mdsub prints it: was refused */
		{"-92233720368.54775808", 0, INT64_MIN},
		{"-92233720368.54775809", -1, 0},
		{"1.000000001", -1, 0},
		{"", -1, 0},
		{"-", -1, 0},
		{".", -1, 0},
		{"1e5", -1, 0},
		{"1.2.3", -1, 0},
		{" 1", -1, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t v = 0;

		assert_int_equal(lines_parse_fixed(cases[i].text, &v), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(v, cases[i].v);
	}
}

static int csv(const char *text, struct line_msg *m, const char **why)
{
	char line[256];

	strcpy(line, text);
	return lines_parse_csv(line, 7, m, why);
}

static void test_csv_good(void **state)
{
	struct line_msg m;
	const char *why = NULL;

	assert_int_equal(csv("Q,AAPL,189.5,100,189.52,200,1700000000000000000", &m, &why), LINE_OK);
	assert_int_equal(m.type, MDBUS_MSG_QUOTE);
	assert_int_equal(m.size, sizeof(struct mdbus_quote));
	assert_memory_equal(m.u.quote.symbol, "AAPL\0", 5);
	assert_int_equal(m.u.quote.bid_px, 18950000000LL);
	assert_int_equal(m.u.quote.ask_qty, 200 * E8);
	assert_int_equal(m.u.quote.exch_ns, 1700000000000000000ULL);
	assert_int_equal(m.u.quote.recv_ns, 7);

	assert_int_equal(csv("T,ABCDEFGHIJKLMNOP,1.5,3,S,42,9", &m, &why), LINE_OK);
	assert_int_equal(m.type, MDBUS_MSG_TRADE);
	assert_memory_equal(m.u.trade.symbol, "ABCDEFGHIJKLMNOP", 16);
	assert_int_equal(m.u.trade.px, 15 * E8 / 10);
	assert_int_equal(m.u.trade.aggressor, MDBUS_SIDE_SELL);
	assert_int_equal(m.u.trade.trade_id, 42);
	assert_int_equal(m.u.trade.exch_ns, 9);

	assert_int_equal(csv("T,X,1,1", &m, &why), LINE_OK);
	assert_int_equal(m.u.trade.aggressor, MDBUS_SIDE_UNKNOWN);
	assert_int_equal(csv("T,X,1,1,B,,", &m, &why), LINE_OK);
	assert_int_equal(m.u.trade.aggressor, MDBUS_SIDE_BUY);
	assert_int_equal(csv("", &m, &why), LINE_SKIP);
	assert_int_equal(csv("  # comment", &m, &why), LINE_SKIP);
}

static void test_csv_bad(void **state)
{
	static const struct {
		const char *line;
		const char *why;
	} cases[] = {
		{"X,A,1,1", "first field is neither Q nor T"},
		{"Q,A,1,1,1", "Q needs 6 or 7 fields"},
		{"Q,A,1,1,1,1,1,1", "Q needs 6 or 7 fields"},
		{"Q,,1,1,1,1", "symbol empty or longer than 16"},
		{"Q,ABCDEFGHIJKLMNOPQ,1,1,1,1", "symbol empty or longer than 16"},
		{"Q,A,x,1,1,1", "bad number"},
		{"Q,A,1,1,1,1,-5", "bad number"},
		/* digits only (strtoull() took these: " -1" as 2^64 - 1;
		 * fuzzing) */
		{"Q,A,1,1,1,1, -1", "bad number"},
		{"Q,A,1,1,1,1,+5", "bad number"},
		{"T,A,1,1,B,\t-7", "bad number or side"},
		{"T,A,1,1,B,1, 9", "bad number or side"},
		{"T,A,1", "T needs 4 to 7 fields"},
		{"T,A,1,1,X", "bad number or side"},
		{"T,A,1,1,B,1,2,3,4,5", "too many fields"},
	};
	struct line_msg m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;

		assert_int_equal(csv(cases[i].line, &m, &why), LINE_BAD);
		assert_string_equal(why, cases[i].why);
	}
}

/* mdsub -o csv rows (daemons/lines_mdsub.c): quoted fields with commas
 * and quotes, mdsub's escapes, payload bytes of raw and malformed
 * messages, the header skipped, and what does not fit refused. */
#define MDSUB_HEADER "channel,seq,ts_ns,type,symbol,exch_ns,recv_ns,bid_px," \
	"bid_qty,ask_px,ask_qty,px,qty,side,trade_id,level,action,bids,asks," \
	"state,text,send_ns,source_id,feed_seq,data,error,size,lost"

static void test_mdsub_csv(void **state)
{
	struct line_msg m;
	const char *why = NULL;

	assert_int_equal(csv(MDSUB_HEADER, &m, &why), LINE_SKIP);
	assert_int_equal(csv("c,4,9,status,\"a\\\\b\"\",\\x01\",5,6,,,,,,,,,,,,,halted,"
			     "\"halt, \"\"news\"\"\",,,,,,64,0", &m, &why), LINE_OK);
	assert_int_equal(m.type, MDBUS_MSG_STATUS);
	assert_int_equal(m.size, 64);
	assert_memory_equal(m.u.status.symbol, "a\\b\",\001\0", 7);
	assert_string_equal(m.u.status.text, "halt, \"news\"");
	assert_int_equal(m.u.status.state, MDBUS_STATE_HALTED);
	assert_int_equal(m.u.status.exch_ns, 5);
	assert_int_equal(csv("c,3,9,snapshot,AAPL,1,2,,,,,,,,,,,1@10.00 5@9.99,5@10.01,"
			     ",,,,,,,88,0", &m, &why), LINE_OK);
	assert_int_equal(m.size, 40 + 3 * 16);
	assert_int_equal(m.u.bytes[32], 2); /* bids */
	assert_int_equal(csv("c,6,9,raw,,,,,,,,,,,,,,,,,,,,,0001feff,,4,0", &m,
			     &why), LINE_OK);
	assert_int_equal(m.type, 0);
	assert_int_equal(m.size, 4);
	assert_memory_equal(m.u.bytes, "\x00\x01\xfe\xff", 4);
	assert_int_equal(csv("c,1,9,trade,,,,,,,,,,,,,,,,,,,,,,malformed,0,0", &m,
			     &why), LINE_OK);
	assert_int_equal(m.type, MDBUS_MSG_TRADE);
	assert_int_equal(m.size, 0);
	assert_int_equal(csv("c,3,9,type999,,,,,,,,,,,,,,,,,,,,,ab,,1,0", &m, &why),
			 LINE_OK);
	assert_int_equal(m.type, 999);
	assert_int_equal(csv("c,0,9,quote,AAPL,1,2,100.25,100,100.26,200.5,,,,,,,,,"
			     ",,,,,,,64,0", &m, &why), LINE_OK);
	assert_int_equal(m.u.quote.bid_px, 10025000000LL);
	assert_int_equal(m.u.quote.recv_ns, 2);
	assert_int_equal(csv("c,0,9,quote,AAPL,1,2,-92233720368.54775808,100,"
			     "100.26,200.5,,,,,,,,,,,,,,,,64,0", &m, &why), LINE_OK);
	assert_int_equal(m.u.quote.bid_px, INT64_MIN);
	(void)state;
}

static void test_mdsub_csv_bad(void **state)
{
	static const struct {
		const char *line;
		const char *why;
	} cases[] = {
		{"c,0,9,quote,AAPL,1,2,100.25,100,100.26,200.5,,,,,,,,,,,,,,,,63,0",
		 "mdsub CSV: size differs from the fields"},
		{"c,0,9,quote,AAPL,1,2,x,100,100.26,200.5,,,,,,,,,,,,,,,,64,0",
		 "mdsub CSV: bad field for the type"},
		{"c,0,9,nosuch,AAPL,1,2,,,,,,,,,,,,,,,,,,,,64,0",
		 "mdsub CSV: unknown type"},
		{"c,0,9,raw,,,,,,,,,,,,,,,,,,,,,abc,,2,0",
		 "mdsub CSV: bad field for the type"},
		{"c,0,9,status,\"open,,,,,,,,,,,,,,,,,,,,,,,,,,64,0",
		 "too many fields"}, /* a Q/T line then */
		{"c,0,9,status,a\"b,c\"d" ",,,,,,,,,,,,,,,,,,,,,,,",
		 "mdsub CSV: not 28 fields"},
		{"c,0,9,status,\\q,0,0,,,,,,,,,,,,,halted,,,,,,,64,0",
		 "mdsub CSV: bad field for the type"},
		{"c,0,9,status,ABCDEFGHIJKLMNOPQ,0,0,,,,,,,,,,,,,halted,,,,,,,64,0",
		 "mdsub CSV: bad field for the type"},
		{"c,0,9,type70000,,,,,,,,,,,,,,,,,,,,,ab,,1,0",
		 "mdsub CSV: unknown type"},
		/* past 2^64 - 1: was taken as 2^64 - 1 */
		{"c,0,9,quote,AAPL,18446744073709551616,2,100.25,100,100.26,"
		 "200.5,,,,,,,,,,,,,,,,64,0", "mdsub CSV: bad field for the type"},
		{"c,0,9,trade,AAPL,1,2,,,,,1.5,10,B,99999999999999999999,,,,,"
		 ",,,,,,,64,0", "mdsub CSV: bad field for the type"},
		{"c,0,9,heartbeat,,,,,,,,,,,,,,,,,,18446744073709551616,1,5,,,"
		 "32,0", "mdsub CSV: bad field for the type"},
	};
	struct line_msg m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;

		assert_int_equal(csv(cases[i].line, &m, &why), LINE_BAD);
		assert_string_equal(why, cases[i].why);
	}
	(void)state;
}

static int json(json_tokener *tok, const char *text, struct line_msg *m,
		const char **why)
{
	return lines_parse_json(tok, text, strlen(text), 7, m, why);
}

static void test_json_good(void **state)
{
	json_tokener *tok = json_tokener_new();
	struct line_msg m;
	const char *why = NULL;

	assert_int_equal(json(tok, "{\"u\":400900217,\"s\":\"BNBUSDT\",\"b\":\"25.35190000\","
			      "\"B\":\"31.21000000\",\"a\":\"25.36520000\",\"A\":\"40.66000000\"}",
			      &m, &why), LINE_OK);
	assert_int_equal(m.type, MDBUS_MSG_QUOTE);
	assert_string_equal(m.u.quote.symbol, "BNBUSDT");
	assert_int_equal(m.u.quote.bid_px, 2535190000LL);
	assert_int_equal(m.u.quote.bid_qty, 3121000000LL);
	assert_int_equal(m.u.quote.ask_px, 2536520000LL);
	assert_int_equal(m.u.quote.ask_qty, 4066000000LL);
	assert_int_equal(m.u.quote.exch_ns, 0);

	assert_int_equal(json(tok, "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\","
			      "\"E\":1672515782136,\"s\":\"BTCUSDT\",\"t\":12345,\"p\":\"0.001\","
			      "\"q\":\"100\",\"T\":1672515782137,\"m\":true,\"M\":true}}  ",
			      &m, &why), LINE_OK);
	assert_int_equal(m.type, MDBUS_MSG_TRADE);
	assert_string_equal(m.u.trade.symbol, "BTCUSDT");
	assert_int_equal(m.u.trade.px, 100000);
	assert_int_equal(m.u.trade.qty, 100 * E8);
	assert_int_equal(m.u.trade.trade_id, 12345);
	assert_int_equal(m.u.trade.exch_ns, 1672515782137000000ULL);
	assert_int_equal(m.u.trade.aggressor, MDBUS_SIDE_SELL);
	/* past 2^63 - 1 (get_int64() saturated there; fuzzing) */
	assert_int_equal(json(tok, "{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\","
			      "\"q\":\"1\",\"t\":9223372036854775808}", &m, &why), LINE_OK);
	assert_true(m.u.trade.trade_id == 9223372036854775808ULL);
	assert_int_equal(json(tok, "   ", &m, &why), LINE_SKIP);
	json_tokener_free(tok);
}

static void test_json_bad(void **state)
{
	static const struct {
		const char *line;
		const char *why;
	} cases[] = {
		{"{", "not a JSON object"},
		{"[1,2]", "not a JSON object"},
		{"{\"s\":\"A\"} x", "not a JSON object"},
		{"{\"e\":\"depthUpdate\"}", "event is neither bookTicker nor trade"},
		{"{\"s\":\"A\",\"b\":\"1\",\"B\":\"1\",\"a\":\"x\",\"A\":\"1\"}",
		 "bookTicker without valid s, b, B, a, A"},
		{"{\"s\":\"A\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\"}",
		 "bookTicker without valid s, b, B, a, A"},
		{"{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\"}", "trade without valid s, p, q"},
		{"{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\",\"q\":\"1\",\"T\":\"x\"}",
		 "trade without valid s, p, q"},
		{"{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\",\"q\":\"1\",\"T\":-1}",
		 "trade without valid s, p, q"},
		{"{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\",\"q\":\"1\",\"t\":\"x\"}",
		 "trade field t (trade id) is not an integer in 0..2^64 - 2"},
		{"{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\",\"q\":\"1\",\"t\":1.5}",
		 "trade field t (trade id) is not an integer in 0..2^64 - 2"},
		{"{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\",\"q\":\"1\",\"t\":-3}",
		 "trade field t (trade id) is not an integer in 0..2^64 - 2"},
		/* past 2^64 - 2: json-c gives 2^64 - 1 for them all (before,
		 * 2^63 - 1 for all past it; fuzzing) */
		{"{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\",\"q\":\"1\",\"t\":18446744073709551615}",
		 "trade field t (trade id) is not an integer in 0..2^64 - 2"},
		{"{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\",\"q\":\"1\",\"t\":100000000000000000000000}",
		 "trade field t (trade id) is not an integer in 0..2^64 - 2"},
		{"{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\",\"q\":\"1\",\"m\":\"yes\"}",
		 "trade field m (buyer is maker) is not true or false"},
		{"{\"e\":\"trade\",\"s\":\"A\",\"p\":\"1\",\"q\":\"1\",\"m\":1}",
		 "trade field m (buyer is maker) is not true or false"},
	};
	json_tokener *tok = json_tokener_new();
	struct line_msg m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;

		assert_int_equal(json(tok, cases[i].line, &m, &why), LINE_BAD);
		assert_string_equal(why, cases[i].why);
	}
	json_tokener_free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_csv_good),
		cmocka_unit_test(test_csv_bad),
		cmocka_unit_test(test_mdsub_csv),
		cmocka_unit_test(test_mdsub_csv_bad),
		cmocka_unit_test(test_json_good),
		cmocka_unit_test(test_json_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
