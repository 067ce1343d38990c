/*
 * print.c - decodes each mdbus_msg.h type into a view of named fields,
 * then renders the view as text (aligned columns), CSV or JSON; raw output
 * is the undecoded payload in hex. mdsub(1) documents every column and key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mdsub.h"
#include "natswire.h"

#define TEXT_HEX_MAX 32 /* payload bytes shown in text mode */

enum field {
	F_EXCH_NS, F_RECV_NS, F_BID_PX, F_BID_QTY, F_ASK_PX, F_ASK_QTY,
	F_PX, F_QTY, F_SIDE, F_TRADE_ID, F_LEVEL, F_ACTION, F_BIDS, F_ASKS,
	F_STATE, F_TEXT, F_SEND_NS, F_SOURCE_ID, F_FEED_SEQ, F_DATA, F_ERROR,
	F_COUNT
};

/* K_U64 is a 64-bit value (timestamp, identifier) that JSON carries as a
 * string, since readers that hold numbers as doubles (jq 1.6, JavaScript)
 * round it; K_UINT fits a double exactly. */
enum kind { K_UINT, K_U64, K_PX, K_QTY, K_NAME, K_TEXT, K_LEVELS, K_DATA };

static const struct {
	const char *key;
	enum kind kind;
} fields[F_COUNT] = {
	[F_EXCH_NS] = {"exch_ns", K_U64},    [F_RECV_NS] = {"recv_ns", K_U64},
	[F_BID_PX] = {"bid_px", K_PX},       [F_BID_QTY] = {"bid_qty", K_QTY},
	[F_ASK_PX] = {"ask_px", K_PX},       [F_ASK_QTY] = {"ask_qty", K_QTY},
	[F_PX] = {"px", K_PX},               [F_QTY] = {"qty", K_QTY},
	[F_SIDE] = {"side", K_NAME},         [F_TRADE_ID] = {"trade_id", K_U64},
	[F_LEVEL] = {"level", K_UINT},       [F_ACTION] = {"action", K_NAME},
	[F_BIDS] = {"bids", K_LEVELS},       [F_ASKS] = {"asks", K_LEVELS},
	[F_STATE] = {"state", K_NAME},       [F_TEXT] = {"text", K_TEXT},
	[F_SEND_NS] = {"send_ns", K_U64},    [F_SOURCE_ID] = {"source_id", K_UINT},
	[F_FEED_SEQ] = {"feed_seq", K_U64},  [F_DATA] = {"data", K_DATA},
	[F_ERROR] = {"error", K_NAME},
};

struct bytes {
	const unsigned char *p;
	size_t n; /* bytes for K_TEXT / K_DATA, levels for K_LEVELS */
};

union value {
	uint64_t u;
	int64_t i;
	const char *name;
	struct bytes b;
};

struct view {
	const char *type;
	char type_buf[16];
	char symbol[MDBUS_SYMBOL_LEN + 1];
	int has_symbol;
	uint32_t present; /* bit per enum field */
	union value v[F_COUNT];
};

#define NAMES(a) (sizeof(a) / sizeof((a)[0]))

const char *msg_type_name(unsigned type)
{
	return natsw_type_name(type); /* the names the NATS subjects use */
}

static const char *name_of(const char *const *names, size_t n, unsigned i)
{
	return i < n && names[i] ? names[i] : "unknown";
}

static const char *side_name(unsigned s)
{
	static const char *const n[] = {"unknown", "buy", "sell"};

	return name_of(n, NAMES(n), s);
}

static const char *action_name(unsigned a)
{
	static const char *const n[] = {"new", "change", "delete"};

	return name_of(n, NAMES(n), a);
}

static const char *state_name(unsigned s)
{
	static const char *const n[] = {"unknown", "trading", "halted",
					"closed", "feed_up", "feed_down"};

	return name_of(n, NAMES(n), s);
}

/* ------------------------------------------------------------- decoding */

static void set_u(struct view *v, enum field f, uint64_t x)
{
	v->present |= 1u << f;
	v->v[f].u = x;
}

static void set_i(struct view *v, enum field f, int64_t x)
{
	v->present |= 1u << f;
	v->v[f].i = x;
}

static void set_name(struct view *v, enum field f, const char *s)
{
	v->present |= 1u << f;
	v->v[f].name = s;
}

static void set_bytes(struct view *v, enum field f, const void *p, size_t n)
{
	v->present |= 1u << f;
	v->v[f].b.p = p;
	v->v[f].b.n = n;
}

static int has(const struct view *v, enum field f)
{
	return (v->present >> f) & 1u;
}

static void set_common(struct view *v, const char *sym, uint64_t exch_ns,
		       uint64_t recv_ns)
{
	memcpy(v->symbol, sym, MDBUS_SYMBOL_LEN);
	v->symbol[MDBUS_SYMBOL_LEN] = '\0';
	v->has_symbol = 1;
	set_u(v, F_EXCH_NS, exch_ns);
	set_u(v, F_RECV_NS, recv_ns);
}

static void set_print(struct view *v, int64_t px, int64_t qty, unsigned side)
{
	set_i(v, F_PX, px);
	set_i(v, F_QTY, qty);
	set_name(v, F_SIDE, side_name(side));
}

static void decode_quote(struct view *v, const void *p)
{
	struct mdbus_quote q;

	memcpy(&q, p, sizeof q);
	set_common(v, q.symbol, q.exch_ns, q.recv_ns);
	set_i(v, F_BID_PX, q.bid_px);
	set_i(v, F_BID_QTY, q.bid_qty);
	set_i(v, F_ASK_PX, q.ask_px);
	set_i(v, F_ASK_QTY, q.ask_qty);
}

static void decode_trade(struct view *v, const void *p)
{
	struct mdbus_trade t;

	memcpy(&t, p, sizeof t);
	set_common(v, t.symbol, t.exch_ns, t.recv_ns);
	set_print(v, t.px, t.qty, t.aggressor);
	set_u(v, F_TRADE_ID, t.trade_id);
}

static void decode_level(struct view *v, const void *p)
{
	struct mdbus_book_level l;

	memcpy(&l, p, sizeof l);
	set_common(v, l.symbol, l.exch_ns, l.recv_ns);
	set_print(v, l.px, l.qty, l.side);
	set_u(v, F_LEVEL, l.level);
	set_name(v, F_ACTION, action_name(l.action));
}

/* Returns -1 when the header claims more levels than the payload holds. */
static int decode_snapshot(struct view *v, const unsigned char *p,
			   size_t size)
{
	struct mdbus_book_snapshot s;
	size_t lv = sizeof(struct mdbus_level);

	memcpy(&s, p, sizeof s);
	if ((size - sizeof s) / lv < (size_t)s.bids + s.asks)
		return -1;
	set_common(v, s.symbol, s.exch_ns, s.recv_ns);
	set_bytes(v, F_BIDS, p + sizeof s, s.bids);
	set_bytes(v, F_ASKS, p + sizeof s + lv * s.bids, s.asks);
	return 0;
}

static void decode_status(struct view *v, const unsigned char *p)
{
	struct mdbus_status s;

	memcpy(&s, p, sizeof s);
	set_common(v, s.symbol, s.exch_ns, s.recv_ns);
	set_name(v, F_STATE, state_name(s.state));
	set_bytes(v, F_TEXT, p + offsetof(struct mdbus_status, text),
		  sizeof s.text);
}

static void decode_heartbeat(struct view *v, const void *p)
{
	struct mdbus_heartbeat h;

	memcpy(&h, p, sizeof h);
	set_u(v, F_SEND_NS, h.send_ns);
	set_u(v, F_SOURCE_ID, h.source_id);
	set_u(v, F_FEED_SEQ, h.feed_seq);
}

static size_t type_min_size(unsigned type)
{
	static const size_t min[] = {
		[MDBUS_MSG_RAW] = 0,
		[MDBUS_MSG_QUOTE] = sizeof(struct mdbus_quote),
		[MDBUS_MSG_TRADE] = sizeof(struct mdbus_trade),
		[MDBUS_MSG_BOOK_LEVEL] = sizeof(struct mdbus_book_level),
		[MDBUS_MSG_BOOK_SNAPSHOT] = sizeof(struct mdbus_book_snapshot),
		[MDBUS_MSG_STATUS] = sizeof(struct mdbus_status),
		[MDBUS_MSG_HEARTBEAT] = sizeof(struct mdbus_heartbeat),
	};

	return type < NAMES(min) ? min[type] : 0;
}

/* Fills the typed fields; returns -1 when the payload does not fit. */
static int decode_fields(struct view *v, unsigned type, const void *p,
			 size_t size)
{
	if (size < type_min_size(type))
		return -1;
	switch (type) {
	case MDBUS_MSG_QUOTE: decode_quote(v, p); return 0;
	case MDBUS_MSG_TRADE: decode_trade(v, p); return 0;
	case MDBUS_MSG_BOOK_LEVEL: decode_level(v, p); return 0;
	case MDBUS_MSG_BOOK_SNAPSHOT: return decode_snapshot(v, p, size);
	case MDBUS_MSG_STATUS: decode_status(v, p); return 0;
	case MDBUS_MSG_HEARTBEAT: decode_heartbeat(v, p); return 0;
	default: set_bytes(v, F_DATA, p, size); return 0;
	}
}

static void decode(struct view *v, const struct delivery *d)
{
	const struct mdbus_msg *m = d->msg;

	memset(v, 0, sizeof *v);
	v->type = msg_type_name(m->type);
	if (!v->type) {
		snprintf(v->type_buf, sizeof v->type_buf, "type%u", m->type);
		v->type = v->type_buf;
	}
	if (decode_fields(v, m->type, d->payload, m->size) == 0)
		return;
	v->present = 0;
	v->has_symbol = 0;
	v->symbol[0] = '\0';
	set_name(v, F_ERROR, "malformed");
	set_bytes(v, F_DATA, d->payload, m->size);
}

int msg_symbol(const struct delivery *d, char sym[MDBUS_SYMBOL_LEN + 1])
{
	unsigned t = d->msg->type;

	if (t < MDBUS_MSG_QUOTE || t > MDBUS_MSG_STATUS ||
	    d->msg->size < type_min_size(t))
		return 0;
	memcpy(sym, d->payload, MDBUS_SYMBOL_LEN);
	sym[MDBUS_SYMBOL_LEN] = '\0';
	return 1;
}

/* ------------------------------------------------------------ rendering */

static void fixed(char *buf, size_t len, enum kind k, int64_t x)
{
	fmt_fixed(buf, len, x, k == K_PX ? 2 : 0);
}

static void level_at(const struct bytes *b, size_t i, struct mdbus_level *l)
{
	memcpy(l, b->p + i * sizeof *l, sizeof *l);
}

/* CSV levels: "QTY@PX QTY@PX ..." best first. */
static void put_levels_csv(FILE *f, const struct bytes *b)
{
	char px[32], qty[32];
	struct mdbus_level l;

	for (size_t i = 0; i < b->n; i++) {
		level_at(b, i, &l);
		fixed(px, sizeof px, K_PX, l.px);
		fixed(qty, sizeof qty, K_QTY, l.qty);
		fprintf(f, "%s%s@%s", i ? " " : "", qty, px);
	}
}

/* JSON levels: [["PX","QTY"],...] best first. */
static void put_levels_json(FILE *f, const struct bytes *b)
{
	char px[32], qty[32];
	struct mdbus_level l;

	putc('[', f);
	for (size_t i = 0; i < b->n; i++) {
		level_at(b, i, &l);
		fixed(px, sizeof px, K_PX, l.px);
		fixed(qty, sizeof qty, K_QTY, l.qty);
		fprintf(f, "%s[\"%s\",\"%s\"]", i ? "," : "", px, qty);
	}
	putc(']', f);
}

static void put_value(FILE *f, enum field fl, const union value *v, int json)
{
	char buf[32];

	switch (fields[fl].kind) {
	case K_UINT:
		fprintf(f, "%" PRIu64, v->u);
		return;
	case K_U64:
		fprintf(f, json ? "\"%" PRIu64 "\"" : "%" PRIu64, v->u);
		return;
	case K_PX:
	case K_QTY:
		fixed(buf, sizeof buf, fields[fl].kind, v->i);
		fprintf(f, json ? "\"%s\"" : "%s", buf);
		return;
	case K_NAME:
		fprintf(f, json ? "\"%s\"" : "%s", v->name);
		return;
	case K_TEXT:
		put_str(f, json ? STR_JSON : STR_CSV, (const char *)v->b.p,
			v->b.n);
		return;
	case K_LEVELS:
		(json ? put_levels_json : put_levels_csv)(f, &v->b);
		return;
	case K_DATA:
		fputs(json ? "\"" : "", f);
		fmt_hex(f, v->b.p, v->b.n);
		fputs(json ? "\"" : "", f);
		return;
	}
}

static void print_csv(FILE *f, const struct view *v, const struct delivery *d)
{
	const struct mdbus_msg *m = d->msg;

	put_str(f, STR_CSV, d->channel, MDBUS_CHANNEL_MAX);
	fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%s,", m->seq, m->ts_ns, v->type);
	put_str(f, STR_CSV, v->symbol, MDBUS_SYMBOL_LEN);
	for (int i = 0; i < F_COUNT; i++) {
		putc(',', f);
		if (has(v, i))
			put_value(f, i, &v->v[i], 0);
	}
	fprintf(f, ",%" PRIu32 ",%" PRIu64 "\n", m->size, m->lost);
}

static void print_json(FILE *f, const struct view *v, const struct delivery *d)
{
	const struct mdbus_msg *m = d->msg;

	fputs("{\"channel\":", f);
	put_str(f, STR_JSON, d->channel, MDBUS_CHANNEL_MAX);
	fputs(",\"seq\":", f);
	put_json_count(f, m->seq);
	fprintf(f, ",\"ts_ns\":\"%" PRIu64 "\",\"type\":\"%s\"", m->ts_ns, v->type);
	if (v->has_symbol) {
		fputs(",\"symbol\":", f);
		put_str(f, STR_JSON, v->symbol, MDBUS_SYMBOL_LEN);
	}
	for (int i = 0; i < F_COUNT; i++) {
		if (!has(v, i))
			continue;
		fprintf(f, ",\"%s\":", fields[i].key);
		put_value(f, i, &v->v[i], 1);
	}
	fprintf(f, ",\"size\":%" PRIu32 ",\"lost\":", m->size);
	put_json_count(f, m->lost);
	fputs("}\n", f);
}

static void print_raw(FILE *f, const struct delivery *d)
{
	const struct mdbus_msg *m = d->msg;

	put_str(f, STR_TEXT, d->channel, MDBUS_CHANNEL_MAX);
	fprintf(f, " %" PRIu64 " %" PRIu64 " %u %" PRIu32 " %" PRIu64 " ", m->seq,
		   m->ts_ns, m->type, m->size, m->lost);
	fmt_hex(f, d->payload, m->size);
	putc('\n', f);
}

/* Text columns: wide enough for any value, so that they never shift. */
#define TIME_W 18 /* HH:MM:SS.nnnnnnnnn */
#define SEQ_W 20  /* any uint64_t */
#define TYPE_W 9  /* "heartbeat" */
#define NUM_W 21  /* any int64_t at scale 1e8: -92233720368.54775808 */
#define CHAN_W_MIN 7 /* "CHANNEL" */

static void text_num(FILE *f, enum kind k, int64_t x)
{
	char b[32];

	fixed(b, sizeof b, k, x);
	fprintf(f, " %*s", NUM_W, b);
}

/* n empty number columns, or n "-" for an empty book side */
static void text_blank(FILE *f, int n, const char *fill)
{
	while (n--)
		fprintf(f, " %*s", NUM_W, fill);
}

static void text_quote(FILE *f, const union value *x)
{
	text_num(f, K_QTY, x[F_BID_QTY].i);
	text_num(f, K_PX, x[F_BID_PX].i);
	text_num(f, K_PX, x[F_ASK_PX].i);
	text_num(f, K_QTY, x[F_ASK_QTY].i);
}

static void text_print(FILE *f, const union value *x)
{
	text_num(f, K_QTY, x[F_QTY].i);
	text_num(f, K_PX, x[F_PX].i);
	text_blank(f, 2, "");
}

static void text_trade(FILE *f, const union value *x)
{
	text_print(f, x);
	fprintf(f, " %s id=%" PRIu64, x[F_SIDE].name, x[F_TRADE_ID].u);
}

static void text_level(FILE *f, const union value *x)
{
	text_print(f, x);
	fprintf(f, " %s level=%" PRIu64 " %s", x[F_SIDE].name, x[F_LEVEL].u,
		   x[F_ACTION].name);
}

static void text_best(FILE *f, const struct bytes *b, int ask)
{
	struct mdbus_level l;

	if (!b->n) {
		text_blank(f, 2, "-");
		return;
	}
	level_at(b, 0, &l);
	text_num(f, ask ? K_PX : K_QTY, ask ? l.px : l.qty);
	text_num(f, ask ? K_QTY : K_PX, ask ? l.qty : l.px);
}

static void text_snapshot(FILE *f, const union value *x)
{
	text_best(f, &x[F_BIDS].b, 0);
	text_best(f, &x[F_ASKS].b, 1);
	fprintf(f, " bids=%zu asks=%zu", x[F_BIDS].b.n, x[F_ASKS].b.n);
}

static void text_status(FILE *f, const union value *x)
{
	text_blank(f, 4, "");
	fprintf(f, " %s \"", x[F_STATE].name);
	put_str(f, STR_QUOTED, (const char *)x[F_TEXT].b.p, x[F_TEXT].b.n);
	putc('"', f);
}

static void text_heartbeat(FILE *f, const union value *x)
{
	text_blank(f, 4, "");
	fprintf(f, " source=%" PRIu64 " feed_seq=%" PRIu64 " send_ns=%" PRIu64,
		   x[F_SOURCE_ID].u, x[F_FEED_SEQ].u, x[F_SEND_NS].u);
}

/* Raw, unknown and malformed: the size and the first bytes in hex. */
static void text_data(FILE *f, const struct view *v, const struct delivery *d)
{
	size_t n = d->msg->size < TEXT_HEX_MAX ? d->msg->size : TEXT_HEX_MAX;

	text_blank(f, 4, "");
	fprintf(f, " %s%" PRIu32 " bytes%s", has(v, F_ERROR) ? "malformed, " : "",
		   d->msg->size, n ? " " : "");
	fmt_hex(f, d->payload, n);
	fputs(n < d->msg->size ? "..." : "", f);
}

static void text_fields(FILE *f, const struct view *v, const struct delivery *d)
{
	static void (*const typed[])(FILE *, const union value *) = {
		[MDBUS_MSG_QUOTE] = text_quote,
		[MDBUS_MSG_TRADE] = text_trade,
		[MDBUS_MSG_BOOK_LEVEL] = text_level,
		[MDBUS_MSG_BOOK_SNAPSHOT] = text_snapshot,
		[MDBUS_MSG_STATUS] = text_status,
		[MDBUS_MSG_HEARTBEAT] = text_heartbeat,
	};
	unsigned t = d->msg->type;

	if (has(v, F_ERROR) || t >= NAMES(typed) || !typed[t])
		text_data(f, v, d);
	else
		typed[t](f, v->v);
}

static int chan_column(int chan_width)
{
	return chan_width > CHAN_W_MIN ? chan_width : CHAN_W_MIN;
}

static void text_header(FILE *f, int chan_width)
{
	fprintf(f, "%-*s", TIME_W, "TIME");
	if (chan_width)
		fprintf(f, " %-*s", chan_column(chan_width), "CHANNEL");
	fprintf(f, " %*s %-*s %-*s %*s %*s %*s %*s DETAIL\n", SEQ_W, "SEQ", TYPE_W,
		   "TYPE", MDBUS_SYMBOL_LEN, "SYMBOL", NUM_W, "QTY", NUM_W,
		   "PRICE", NUM_W, "ASK_PRICE", NUM_W, "ASK_QTY");
}

static void print_text(FILE *f, const struct view *v, const struct delivery *d,
		       int chan_width)
{
	char t[32];

	fmt_time(t, sizeof t, d->msg->ts_ns);
	fprintf(f, "%-*s", TIME_W, t);
	if (chan_width) {
		putc(' ', f);
		put_str_padded(f, d->channel, MDBUS_CHANNEL_MAX,
			       chan_column(chan_width));
	}
	fprintf(f, " %*" PRIu64 " %-*s ", SEQ_W, d->msg->seq, TYPE_W, v->type);
	put_str_padded(f, v->symbol, MDBUS_SYMBOL_LEN, MDBUS_SYMBOL_LEN);
	text_fields(f, v, d);
	putc('\n', f);
}

void print_header(FILE *f, enum out_format fmt, int chan_width)
{
	if (fmt == OUT_TEXT)
		text_header(f, chan_width);
	if (fmt != OUT_CSV)
		return;
	fputs("channel,seq,ts_ns,type,symbol", f);
	for (int i = 0; i < F_COUNT; i++)
		fprintf(f, ",%s", fields[i].key);
	fputs(",size,lost\n", f);
}

void print_msg(FILE *f, enum out_format fmt, int chan_width,
	       const struct delivery *d)
{
	struct view v;

	if (fmt == OUT_RAW) {
		print_raw(f, d);
		return;
	}
	decode(&v, d);
	if (fmt == OUT_CSV)
		print_csv(f, &v, d);
	else if (fmt == OUT_JSON)
		print_json(f, &v, d);
	else
		print_text(f, &v, d, chan_width);
}
