/*
 * src_synthetic.c - the `synthetic` source: `symbols` instruments whose
 * prices follow a random walk, publishing quotes and (a `trades` share of)
 * trades at `rate` messages per second (0 = as fast as the machine goes),
 * from a deterministic generator seeded with `seed`: the same settings
 * give the same messages, timestamps aside. Each callback's messages share
 * their exchange and receive times; at rate 0 their publish time too. Ends after `count` messages
 * when count is not 0.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "clock.h"
#include "mdbus_msg.h"
#include "source.h"

#define TICK (MDBUS_PX_SCALE / 100)  /* price step: 0.01 */
#define START_PX (100 * MDBUS_PX_SCALE)
#define BATCH 1024                   /* messages per idle callback */
#define TICK_MIN_S 0.001             /* shortest timer interval */
#define BURST_MAX 65536              /* messages per timer callback */

struct synth_conf {
	uint64_t symbols;
	double rate;
	uint64_t seed;
	double trades;
	uint64_t count;
};

#define OFF(field) offsetof(struct synth_conf, field)
static const struct setting synth_settings[] = {
	{"symbols", SET_UINT, OFF(symbols), 1, 100000, 0, NULL},
	{"rate", SET_DOUBLE, OFF(rate), 0, 1e9, 0, NULL},
	{"seed", SET_UINT, OFF(seed), 0, 18446744073709551615.0, 0, NULL},
	{"trades", SET_DOUBLE, OFF(trades), 0, 1, 0, NULL},
	{"count", SET_UINT, OFF(count), 0, 1e18, 0, NULL},
	{NULL, 0, 0, 0, 0, 0, NULL},
};

struct instrument {
	char symbol[MDBUS_SYMBOL_LEN];
	int64_t mid;
	uint64_t trades;
};

struct synth {
	struct source base;
	struct synth_conf conf;
	uint64_t rng;
	uint64_t sent;
	uint64_t ts_ns;  /* publish timestamp: 0 = each message's own */
	ev_tstamp start;
	ev_timer tick_w;
	ev_idle idle_w;
	struct instrument *inst;
};

static void synth_conf_init(void *conf)
{
	struct synth_conf *c = conf;

	c->symbols = 8;
	c->rate = 1000;
	c->seed = 1;
	c->trades = 0.2;
	c->count = 0;
}

/* splitmix64: small, fast, and the same sequence everywhere */
static uint64_t next(struct synth *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int64_t qty(struct synth *s)
{
	return (int64_t)(1 + next(s) % 100) * MDBUS_QTY_SCALE;
}

static void publish_trade(struct synth *s, struct instrument *in, uint64_t now)
{
	struct mdbus_trade t = {.exch_ns = now, .recv_ns = now};
	int buy = (int)(next(s) & 1);

	memcpy(t.symbol, in->symbol, sizeof(t.symbol));
	t.px = in->mid + (buy ? TICK : -TICK);
	t.qty = qty(s);
	t.trade_id = ++in->trades;
	t.aggressor = buy ? MDBUS_SIDE_BUY : MDBUS_SIDE_SELL;
	channel_publish(s->base.ch, MDBUS_MSG_TRADE, &t, sizeof(t), s->ts_ns);
}

static void publish_quote(struct synth *s, struct instrument *in, uint64_t now)
{
	struct mdbus_quote q = {.exch_ns = now, .recv_ns = now};

	memcpy(q.symbol, in->symbol, sizeof(q.symbol));
	q.bid_px = in->mid - TICK;
	q.ask_px = in->mid + TICK;
	q.bid_qty = qty(s);
	q.ask_qty = qty(s);
	channel_publish(s->base.ch, MDBUS_MSG_QUOTE, &q, sizeof(q), s->ts_ns);
}

static void publish_one(struct synth *s, uint64_t now)
{
	struct instrument *in = &s->inst[next(s) % s->conf.symbols];
	int64_t step = (int64_t)(next(s) % 21) - 10;

	in->mid += step * TICK;
	if (in->mid < 10 * TICK)
		in->mid = 10 * TICK;
	if ((double)(next(s) >> 11) * 0x1p-53 < s->conf.trades)
		publish_trade(s, in, now);
	else
		publish_quote(s, in, now);
	s->sent++;
}

static void synth_halt(struct synth *s)
{
	ev_timer_stop(s->base.loop, &s->tick_w);
	ev_idle_stop(s->base.loop, &s->idle_w);
}

/* Publishes up to n messages; 1 when the source stopped (paused or done). */
static int publish_some(struct synth *s, uint64_t n)
{
	uint64_t now = now_realtime();

	/* flat out, a batch shares one clock read, timestamps included */
	s->ts_ns = s->conf.rate > 0 ? 0 : now;
	if (s->conf.count && n > s->conf.count - s->sent)
		n = s->conf.count - s->sent;
	for (uint64_t i = 0; i < n && !channel_paused(s->base.ch); i++)
		publish_one(s, now);
	if (s->conf.count && s->sent == s->conf.count) {
		synth_halt(s);
		channel_source_done(s->base.ch);
		return 1;
	}
	if (!channel_paused(s->base.ch))
		return 0;
	synth_halt(s);
	return 1;
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	publish_some(w->data, BATCH);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct synth *s = w->data;
	double due = (ev_now(loop) - s->start) * s->conf.rate - (double)s->sent;

	if (due >= 1)
		publish_some(s, due > BURST_MAX ? BURST_MAX : (uint64_t)due);
}

static void synth_resume(struct source *src)
{
	struct synth *s = SOURCE_OF(src, struct synth);

	if (s->conf.rate > 0)
		ev_timer_again(s->base.loop, &s->tick_w);
	else
		ev_idle_start(s->base.loop, &s->idle_w);
}

static void init_instruments(struct synth *s)
{
	char name[32];

	for (uint64_t i = 0; i < s->conf.symbols; i++) {
		snprintf(name, sizeof(name), "SYM%03" PRIu64, i);
		memcpy(s->inst[i].symbol, name, strlen(name));
		s->inst[i].mid = START_PX + (int64_t)(next(s) % 1000) * TICK;
	}
}

static int synth_start(struct source **out, const void *conf,
		       struct channel *ch, struct ev_loop *loop, char *err,
		       size_t errlen)
{
	struct synth *s = source_alloc(sizeof(*s), ch, loop);
	double interval;

	if (!s)
		return source_nomem(err, errlen);
	s->inst = calloc(((const struct synth_conf *)conf)->symbols,
			 sizeof(*s->inst));
	if (!s->inst) {
		free(s);
		return source_nomem(err, errlen);
	}
	s->conf = *(const struct synth_conf *)conf;
	s->rng = s->conf.seed;
	s->start = ev_now(loop);
	init_instruments(s);
	interval = s->conf.rate > 0 ? 1 / s->conf.rate : 0;
	ev_timer_init(&s->tick_w, tick_cb, 0,
		      interval < TICK_MIN_S ? TICK_MIN_S : interval);
	ev_idle_init(&s->idle_w, idle_cb);
	s->tick_w.data = s->idle_w.data = s;
	synth_resume(&s->base);
	*out = &s->base;
	return 0;
}

static void synth_stop(struct source *src)
{
	struct synth *s = SOURCE_OF(src, struct synth);

	synth_halt(s);
	free(s->inst);
	free(s);
}

const struct source_ops src_synthetic = {
	.name = "synthetic",
	.settings = synth_settings,
	.conf_size = sizeof(struct synth_conf),
	.conf_init = synth_conf_init,
	.start = synth_start,
	.resume = synth_resume,
	.stop = synth_stop,
	.msg_max = SOURCE_MARKET_MSG_MAX,
};
