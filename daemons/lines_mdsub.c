/*
 * lines_mdsub.c - the CSV that `mdsub -o csv` writes, read back by the
 * `lines` source (lines_parse.h), so that a channel printed as CSV can be
 * published again: every message type, with its fields, its exchange and
 * receive times and, for raw, unknown and malformed messages, its payload
 * bytes (the `data` column), exactly as mdsub(1) "OUTPUT FORMATS" writes
 * them. The channel, seq, ts_ns and lost columns are not published: the
 * new channel numbers and stamps its messages itself.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lines_parse.h"
#include "parse_num.h"

enum col {
	C_CHANNEL, C_SEQ, C_TS, C_TYPE, C_SYMBOL, C_EXCH, C_RECV, C_BID_PX,
	C_BID_QTY, C_ASK_PX, C_ASK_QTY, C_PX, C_QTY, C_SIDE, C_TRADE_ID,
	C_LEVEL, C_ACTION, C_BIDS, C_ASKS, C_STATE, C_TEXT, C_SEND, C_SOURCE,
	C_FEED_SEQ, C_DATA, C_ERROR, C_SIZE, C_LOST, C_COUNT
};

#define HEADER "channel,seq,ts_ns,type,symbol,"

static const char *const type_names[] = {
	"raw", "quote", "trade", "level", "snapshot", "status", "heartbeat", NULL,
};
static const char *const side_names[] = {"unknown", "buy", "sell", NULL};
static const char *const action_names[] = {"new", "change", "delete", NULL};
static const char *const state_names[] = {
	"unknown", "trading", "halted", "closed", "feed_up", "feed_down", NULL,
};

/* Splits line in place into at most C_COUNT fields, RFC 4180: a field in
 * quotes may hold commas, and "" stands for a quote. Returns the number
 * of fields, or -1 (too many, or a quote left open). */
static int split(char *line, char **f)
{
	char *r = line, *w = line;
	int n = 0;

	for (;;) {
		int quoted = *r == '"';

		if (n == C_COUNT)
			return -1;
		f[n++] = w;
		r += quoted;
		while (*r && (quoted || *r != ',')) {
			if (quoted && *r == '"' && r[1] != '"') {
				quoted = 0;
				r++;
				continue;
			}
			r += quoted && *r == '"'; /* "" is one quote */
			*w++ = *r++;
		}
		if (quoted)
			return -1;
		if (!*r) {
			*w = '\0';
			return n;
		}
		*w++ = '\0';
		r++;
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* mdsub's escapes (\\ and \xNN) undone into out (max bytes, NUL-padded).
 * 0, or -1 when longer than max or badly escaped. */
static int unescape(const char *s, char *out, size_t max)
{
	size_t n = 0;

	memset(out, 0, max);
	while (*s) {
		int c = (unsigned char)*s++;

		if (c == '\\' && *s == '\\') {
			s++;
		} else if (c == '\\' && *s == 'x' && hex_digit(s[1]) >= 0 &&
			   hex_digit(s[2]) >= 0) {
			c = hex_digit(s[1]) * 16 + hex_digit(s[2]);
			s += 3;
		} else if (c == '\\') {
			return -1;
		}
		if (n == max)
			return -1;
		out[n++] = (char)c;
	}
	return 0;
}

static int index_of(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* "quote", ..., or "typeN" (mdsub's name of an unknown type). */
static int type_of(const char *s, uint16_t *type)
{
	int i = index_of(type_names, s);
	uint64_t n;

	if (i >= 0) {
		*type = (uint16_t)i;
		return 0;
	}
	if (strncmp(s, "type", 4) || parse_u64(s + 4, 10, &n) || n > UINT16_MAX)
		return -1;
	*type = (uint16_t)n;
	return 0;
}

/* A payload given in hex (`data`). */
static int bytes_of(const char *hex, struct line_msg *out)
{
	size_t n = strlen(hex);

	if (n % 2 || n / 2 > sizeof(out->u.bytes))
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out->u.bytes[i] = (unsigned char)(hi * 16 + lo);
	}
	out->size = n / 2;
	return 0;
}

/* The fields every typed message has: symbol, exch_ns, recv_ns. */
static int common(char **f, char *sym, uint64_t *exch, uint64_t *recv)
{
	return unescape(f[C_SYMBOL], sym, MDBUS_SYMBOL_LEN) ||
	       parse_u64(f[C_EXCH], 10, exch) || parse_u64(f[C_RECV], 10, recv);
}

/* A price and a quantity from columns px and qty. */
static int px_qty(char **f, enum col px, enum col qty, int64_t *p, int64_t *q)
{
	return lines_parse_fixed(f[px], p) || lines_parse_fixed(f[qty], q);
}

static int quote(char **f, struct line_msg *m)
{
	struct mdbus_quote *q = &m->u.quote;

	m->size = sizeof(*q);
	return common(f, q->symbol, &q->exch_ns, &q->recv_ns) ||
	       px_qty(f, C_BID_PX, C_BID_QTY, &q->bid_px, &q->bid_qty) ||
	       px_qty(f, C_ASK_PX, C_ASK_QTY, &q->ask_px, &q->ask_qty);
}

static int side_of(const char *s, uint8_t *side)
{
	int i = index_of(side_names, s);

	*side = (uint8_t)i;
	return i < 0 ? -1 : 0;
}

static int trade(char **f, struct line_msg *m)
{
	struct mdbus_trade *t = &m->u.trade;

	m->size = sizeof(*t);
	return common(f, t->symbol, &t->exch_ns, &t->recv_ns) ||
	       px_qty(f, C_PX, C_QTY, &t->px, &t->qty) ||
	       side_of(f[C_SIDE], &t->aggressor) ||
	       parse_u64(f[C_TRADE_ID], 10, &t->trade_id);
}

static int level(char **f, struct line_msg *m)
{
	struct mdbus_book_level *l = &m->u.level;
	int action = index_of(action_names, f[C_ACTION]);
	uint64_t lv;

	m->size = sizeof(*l);
	if (common(f, l->symbol, &l->exch_ns, &l->recv_ns) ||
	    px_qty(f, C_PX, C_QTY, &l->px, &l->qty) ||
	    side_of(f[C_SIDE], &l->side) || action < 0 ||
	    parse_u64(f[C_LEVEL], 10, &lv) || lv > UINT16_MAX)
		return -1;
	l->action = (uint8_t)action;
	l->level = (uint16_t)lv;
	return 0;
}

/* "QTY@PX QTY@PX ..." levels after *n others; counts them in *count. */
static int levels(char *s, struct line_msg *m, size_t *n, uint16_t *count)
{
	struct mdbus_level l;
	char *save = NULL;

	*count = 0;
	for (char *t = strtok_r(s, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		char *at = strchr(t, '@');

		if (!at || *count == UINT16_MAX ||
		    *n + sizeof(l) > sizeof(m->u.bytes))
			return -1;
		*at = '\0';
		if (lines_parse_fixed(t, &l.qty) || lines_parse_fixed(at + 1, &l.px))
			return -1;
		memcpy(m->u.bytes + *n, &l, sizeof(l));
		*n += sizeof(l);
		(*count)++;
	}
	return 0;
}

static int snapshot(char **f, struct line_msg *m)
{
	struct mdbus_book_snapshot s;
	size_t n = sizeof(s);

	memset(&s, 0, sizeof(s));
	if (common(f, s.symbol, &s.exch_ns, &s.recv_ns) ||
	    levels(f[C_BIDS], m, &n, &s.bids) || levels(f[C_ASKS], m, &n, &s.asks))
		return -1;
	memcpy(m->u.bytes, &s, sizeof(s));
	m->size = n;
	return 0;
}

static int status(char **f, struct line_msg *m)
{
	struct mdbus_status *st = &m->u.status;
	int state = index_of(state_names, f[C_STATE]);

	m->size = sizeof(*st);
	st->state = (uint32_t)state;
	return common(f, st->symbol, &st->exch_ns, &st->recv_ns) || state < 0 ||
	       unescape(f[C_TEXT], st->text, sizeof(st->text));
}

static int heartbeat(char **f, struct line_msg *m)
{
	struct mdbus_heartbeat *h = &m->u.heartbeat;
	uint64_t source;

	m->size = sizeof(*h);
	if (parse_u64(f[C_SOURCE], 10, &source) || source > UINT32_MAX)
		return -1;
	h->source_id = (uint32_t)source;
	return parse_u64(f[C_SEND], 10, &h->send_ns) ||
	       parse_u64(f[C_FEED_SEQ], 10, &h->feed_seq);
}

static int fields(char **f, struct line_msg *m)
{
	static int (*const typed[])(char **, struct line_msg *) = {
		NULL, quote, trade, level, snapshot, status, heartbeat,
	};

	if (*f[C_DATA] || *f[C_ERROR] ||
	    m->type >= sizeof(typed) / sizeof(typed[0]) || !typed[m->type])
		return bytes_of(f[C_DATA], m); /* raw, unknown or malformed */
	return typed[m->type](f, m);
}

int lines_mdsub_row(const char *line)
{
	int commas = 0, quoted = 0;

	if (strncmp(line, HEADER, strlen(HEADER)) == 0)
		return 1;
	for (; *line; line++) {
		quoted ^= *line == '"';
		commas += !quoted && *line == ',';
	}
	return commas == C_COUNT - 1;
}

int lines_parse_mdsub(char *line, struct line_msg *out, const char **why)
{
	char *f[C_COUNT];
	uint64_t size;

	memset(out, 0, sizeof(*out));
	if (strncmp(line, HEADER, strlen(HEADER)) == 0)
		return LINE_SKIP;
	if (split(line, f) != C_COUNT) {
		*why = "mdsub CSV: not 28 fields";
		return LINE_BAD;
	}
	if (type_of(f[C_TYPE], &out->type)) {
		*why = "mdsub CSV: unknown type";
		return LINE_BAD;
	}
	if (fields(f, out)) {
		*why = "mdsub CSV: bad field for the type";
		return LINE_BAD;
	}
	if (parse_u64(f[C_SIZE], 10, &size) || size != out->size) {
		*why = "mdsub CSV: size differs from the fields";
		return LINE_BAD;
	}
	return LINE_OK;
}
