/*
 * check.c - see check.h. Calls no libmdbus function, so a
 * host that does not link the library can use it too.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define TICK (MDBUS_PX_SCALE / 100)

static void count_status(struct tally *t, const struct mdbus_msg *m,
			 const void *buf)
{
	struct mdbus_status s;

	if (m->size < sizeof(s))
		return;
	memcpy(&s, buf, sizeof(s));
	t->up += s.state == MDBUS_STATE_FEED_UP;
	t->down += s.state == MDBUS_STATE_FEED_DOWN;
}

int tally_add(struct tally *t, const struct mdbus_msg *m, const void *buf)
{
	if (t->messages && m->seq != t->last + 1 + m->lost) {
		fprintf(stderr, "seq %" PRIu64 " after %" PRIu64 " with %" PRIu64
				" lost\n", m->seq, t->last, m->lost);
		return -1;
	}
	if (!t->messages)
		t->first = m->seq;
	t->messages++;
	t->last = m->seq;
	t->lost += t->messages > 1 ? m->lost : 0;
	t->by_type[m->type < TALLY_TYPES - 1 ? m->type : TALLY_TYPES - 1]++;
	if (m->type == MDBUS_MSG_STATUS)
		count_status(t, m, buf);
	return 0;
}

static int symbol_ok(const char sym[MDBUS_SYMBOL_LEN])
{
	size_t n = strnlen(sym, MDBUS_SYMBOL_LEN);

	return n > 3 && memcmp(sym, "SYM", 3) == 0 &&
	       strspn(sym + 3, "0123456789") == n - 3;
}

int synthetic_ok(const struct mdbus_msg *m, const void *buf)
{
	struct mdbus_quote q;
	struct mdbus_trade tr;

	if (m->type == MDBUS_MSG_QUOTE && m->size == sizeof(q)) {
		memcpy(&q, buf, sizeof(q));
		return q.exch_ns == q.recv_ns && symbol_ok(q.symbol) &&
		       q.ask_px - q.bid_px == 2 * TICK;
	}
	if (m->type == MDBUS_MSG_TRADE && m->size == sizeof(tr)) {
		memcpy(&tr, buf, sizeof(tr));
		return tr.exch_ns == tr.recv_ns && symbol_ok(tr.symbol) &&
		       tr.aggressor >= MDBUS_SIDE_BUY &&
		       tr.aggressor <= MDBUS_SIDE_SELL;
	}
	return m->type != MDBUS_MSG_QUOTE && m->type != MDBUS_MSG_TRADE;
}

void tally_merge(struct tally *a, const struct tally *b)
{
	if (!a->messages)
		a->first = b->first;
	if (b->messages)
		a->last = b->last;
	a->messages += b->messages;
	for (int i = 0; i < TALLY_TYPES; i++)
		a->by_type[i] += b->by_type[i];
	a->lost += b->lost;
	a->up += b->up;
	a->down += b->down;
	a->bad += b->bad;
}

void tally_print(FILE *out, const struct tally *t)
{
	fprintf(out,
		"messages %" PRIu64 " quote %" PRIu64 " trade %" PRIu64
		" status %" PRIu64 " heartbeat %" PRIu64 " other %" PRIu64
		" lost %" PRIu64 "\nfirst %" PRIu64 " last %" PRIu64
		" up %" PRIu64 " down %" PRIu64 " bad %" PRIu64 "\n",
		t->messages, t->by_type[MDBUS_MSG_QUOTE],
		t->by_type[MDBUS_MSG_TRADE], t->by_type[MDBUS_MSG_STATUS],
		t->by_type[MDBUS_MSG_HEARTBEAT],
		t->messages - t->by_type[MDBUS_MSG_QUOTE] -
			t->by_type[MDBUS_MSG_TRADE] -
			t->by_type[MDBUS_MSG_STATUS] -
			t->by_type[MDBUS_MSG_HEARTBEAT],
		t->lost, t->first, t->last, t->up, t->down, t->bad);
}

double tally_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
