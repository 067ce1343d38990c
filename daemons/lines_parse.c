/*
 * lines_parse.c - see lines_parse.h.
 *
 * Prices and quantities are read as decimal text straight into fixed point
 * (never through a double, which would round them).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lines_parse.h"
#include "parse_num.h"

#define FIXED_DECIMALS 8 /* MDBUS_PX_SCALE == MDBUS_QTY_SCALE == 1e8 */
#define CSV_FIELDS_MAX 8
#define MS_NS 1000000ULL

/* *v * 10 + digit into *v when it is at most max. */
static int add_digit(uint64_t *v, int digit, uint64_t max)
{
	if (*v > (max - (uint64_t)digit) / 10)
		return -1;
	*v = *v * 10 + (uint64_t)digit;
	return 0;
}

/* The magnitude is read up to 2^63 when negative: INT64_MIN, which mdsub
 * prints as -92233720368.54775808, is read back (mdpub.conf(5), "CSV
 * columns": its CSV "publishes the message it shows"). */
int lines_parse_fixed(const char *text, int64_t *out)
{
	int neg = *text == '-', digits = 0, decimals = -1;
	uint64_t v = 0, max = (uint64_t)INT64_MAX + (uint64_t)neg;
	const char *p = text + (neg || *text == '+');

	for (; *p; p++) {
		if (*p == '.' && decimals < 0) {
			decimals = 0;
			continue;
		}
		if (!isdigit((unsigned char)*p))
			return -1;
		digits++;
		if (decimals >= FIXED_DECIMALS) {
			if (*p != '0') /* finer than 1e-8 */
				return -1;
			continue;
		}
		decimals += decimals >= 0;
		if (add_digit(&v, *p - '0', max) < 0)
			return -1;
	}
	for (decimals = decimals < 0 ? 0 : decimals; decimals < FIXED_DECIMALS;
	     decimals++)
		if (add_digit(&v, 0, max) < 0)
			return -1;
	*out = neg && v ? -(int64_t)(v - 1) - 1 : (int64_t)v;
	return digits ? 0 : -1;
}

static int set_symbol(char sym[MDBUS_SYMBOL_LEN], const char *text)
{
	size_t len = strlen(text);

	if (len == 0 || len > MDBUS_SYMBOL_LEN)
		return -1;
	memcpy(sym, text, len);
	return 0;
}

/* ------------------------------------------------------------------ CSV */

static int csv_quote(char **f, int n, uint64_t recv_ns, struct line_msg *out,
		     const char **why)
{
	struct mdbus_quote *q = &out->u.quote;

	if (n < 6 || n > 7) {
		*why = "Q needs 6 or 7 fields";
		return LINE_BAD;
	}
	if (set_symbol(q->symbol, f[1]) < 0) {
		*why = "symbol empty or longer than 16";
		return LINE_BAD;
	}
	if (lines_parse_fixed(f[2], &q->bid_px) ||
	    lines_parse_fixed(f[3], &q->bid_qty) ||
	    lines_parse_fixed(f[4], &q->ask_px) ||
	    lines_parse_fixed(f[5], &q->ask_qty) ||
	    (n == 7 && *f[6] && parse_u64(f[6], 10, &q->exch_ns))) {
		*why = "bad number";
		return LINE_BAD;
	}
	q->recv_ns = recv_ns;
	out->type = MDBUS_MSG_QUOTE;
	out->size = sizeof(*q);
	return LINE_OK;
}

static int csv_side(const char *text, uint8_t *side)
{
	if (!*text)
		*side = MDBUS_SIDE_UNKNOWN;
	else if (strcmp(text, "B") == 0)
		*side = MDBUS_SIDE_BUY;
	else if (strcmp(text, "S") == 0)
		*side = MDBUS_SIDE_SELL;
	else
		return -1;
	return 0;
}

static int csv_trade(char **f, int n, uint64_t recv_ns, struct line_msg *out,
		     const char **why)
{
	struct mdbus_trade *t = &out->u.trade;

	if (n < 4 || n > 7) {
		*why = "T needs 4 to 7 fields";
		return LINE_BAD;
	}
	if (set_symbol(t->symbol, f[1]) < 0) {
		*why = "symbol empty or longer than 16";
		return LINE_BAD;
	}
	if (lines_parse_fixed(f[2], &t->px) || lines_parse_fixed(f[3], &t->qty) ||
	    (n > 4 && csv_side(f[4], &t->aggressor)) ||
	    (n > 5 && *f[5] && parse_u64(f[5], 10, &t->trade_id)) ||
	    (n > 6 && *f[6] && parse_u64(f[6], 10, &t->exch_ns))) {
		*why = "bad number or side";
		return LINE_BAD;
	}
	t->recv_ns = recv_ns;
	out->type = MDBUS_MSG_TRADE;
	out->size = sizeof(*t);
	return LINE_OK;
}

/* A Q or T line. */
static int csv_qt(char *line, uint64_t recv_ns, struct line_msg *out,
		  const char **why)
{
	char *f[CSV_FIELDS_MAX + 1];
	int n = 0;

	do /* line is not empty: f[0] is set */
		f[n++] = strsep(&line, ",");
	while (line && n <= CSV_FIELDS_MAX);
	if (line) {
		*why = "too many fields";
		return LINE_BAD;
	}
	if (strcmp(f[0], "Q") == 0)
		return csv_quote(f, n, recv_ns, out, why);
	if (strcmp(f[0], "T") == 0)
		return csv_trade(f, n, recv_ns, out, why);
	*why = "first field is neither Q nor T";
	return LINE_BAD;
}

int lines_parse_csv(char *line, uint64_t recv_ns, struct line_msg *out,
		    const char **why)
{
	memset(out, 0, sizeof(*out));
	line += strspn(line, " \t");
	if (!*line || *line == '#')
		return LINE_SKIP;
	if (lines_mdsub_row(line))
		return lines_parse_mdsub(line, out, why);
	return csv_qt(line, recv_ns, out, why);
}

/* --------------------------------------------------------- Binance JSON */

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	if (json_object_is_type(v, json_type_int))
		return json_object_get_string(v);
	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	/* a \u0000 in the string would cut it short: no valid field */
	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

static int jfixed(struct json_object *o, const char *key, int64_t *out)
{
	const char *text = jstr(o, key);

	return text ? lines_parse_fixed(text, out) : -1;
}

/* Milliseconds field `key` as ns; absent leaves *out alone. */
static int jms(struct json_object *o, const char *key, uint64_t *out)
{
	struct json_object *v;
	int64_t ms;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	ms = json_object_get_int64(v);
	if (ms < 0 || (uint64_t)ms > UINT64_MAX / MS_NS)
		return -1;
	*out = (uint64_t)ms * MS_NS;
	return 0;
}

static int json_symbol(struct json_object *o, char sym[MDBUS_SYMBOL_LEN])
{
	const char *s = jstr(o, "s");

	return s ? set_symbol(sym, s) : -1;
}

static int json_trade(struct json_object *o, uint64_t recv_ns,
		      struct line_msg *out, const char **why)
{
	struct mdbus_trade *t = &out->u.trade;
	struct json_object *m, *id;

	if (json_symbol(o, t->symbol) || jfixed(o, "p", &t->px) ||
	    jfixed(o, "q", &t->qty) || jms(o, "E", &t->exch_ns) ||
	    jms(o, "T", &t->exch_ns)) {
		*why = "trade without valid s, p, q";
		return LINE_BAD;
	}
	if (json_object_object_get_ex(o, "t", &id)) {
		/* unsigned: get_int64() saturates at 2^63 - 1, and took every
		 * id above it as that (fuzzing); get_uint64() at 2^64 - 1,
		 * which is refused, as what it may stand for */
		if (!json_object_is_type(id, json_type_int) ||
		    json_object_get_int64(id) < 0 ||
		    json_object_get_uint64(id) == UINT64_MAX) {
			*why = "trade field t (trade id) is not an integer in 0..2^64 - 2";
			return LINE_BAD;
		}
		t->trade_id = json_object_get_uint64(id);
	}
	if (json_object_object_get_ex(o, "m", &m)) {
		if (!json_object_is_type(m, json_type_boolean)) {
			*why = "trade field m (buyer is maker) is not true or false";
			return LINE_BAD;
		}
		/* the buyer is the maker: the seller was the aggressor */
		t->aggressor = json_object_get_boolean(m) ? MDBUS_SIDE_SELL
							  : MDBUS_SIDE_BUY;
	}
	t->recv_ns = recv_ns;
	out->type = MDBUS_MSG_TRADE;
	out->size = sizeof(*t);
	return LINE_OK;
}

static int json_book_ticker(struct json_object *o, uint64_t recv_ns,
			    struct line_msg *out, const char **why)
{
	struct mdbus_quote *q = &out->u.quote;

	if (json_symbol(o, q->symbol) || jfixed(o, "b", &q->bid_px) ||
	    jfixed(o, "B", &q->bid_qty) || jfixed(o, "a", &q->ask_px) ||
	    jfixed(o, "A", &q->ask_qty) || jms(o, "E", &q->exch_ns) ||
	    jms(o, "T", &q->exch_ns)) {
		*why = "bookTicker without valid s, b, B, a, A";
		return LINE_BAD;
	}
	q->recv_ns = recv_ns;
	out->type = MDBUS_MSG_QUOTE;
	out->size = sizeof(*q);
	return LINE_OK;
}

static int json_event(struct json_object *o, uint64_t recv_ns,
		      struct line_msg *out, const char **why)
{
	struct json_object *data;
	const char *e;

	/* combined streams wrap the event: {"stream": ..., "data": {...}} */
	if (json_object_object_get_ex(o, "data", &data) &&
	    json_object_is_type(data, json_type_object))
		o = data;
	e = jstr(o, "e");
	if (e && strcmp(e, "trade") == 0)
		return json_trade(o, recv_ns, out, why);
	if (!e || strcmp(e, "bookTicker") == 0)
		return json_book_ticker(o, recv_ns, out, why);
	*why = "event is neither bookTicker nor trade";
	return LINE_BAD;
}

int lines_parse_json(json_tokener *tok, const char *line, size_t len,
		     uint64_t recv_ns, struct line_msg *out, const char **why)
{
	struct json_object *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strspn(line, " \t") == len)
		return LINE_SKIP;
	json_tokener_reset(tok);
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object) ||
	    strspn(line + json_tokener_get_parse_end(tok), " \t\r") !=
		    len - json_tokener_get_parse_end(tok)) {
		json_object_put(o);
		*why = "not a JSON object";
		return LINE_BAD;
	}
	rc = json_event(o, recv_ns, out, why);
	json_object_put(o);
	return rc;
}
