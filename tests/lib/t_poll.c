/*
 * t_poll.c - mdbus_sub_poll(): messages handed over in place, in batches.
 *
 * Overwrite mode: a publisher process sends N self-verifying messages
 * into a 64-slot ring while the reader polls with a handler that every
 * 50th message dawdles for 2 ms, so the producer overwrites slots under
 * it. Every payload the handler saw torn must be taken back (a second
 * call with payload NULL), and every sequence number is accounted for
 * exactly once: handed over and kept, taken back, or counted in
 * msg.lost, in order. Lossless mode: batches of at most 16, nothing lost,
 * every payload right. Each twice: blocks of 16 slots (a gap after each:
 * the general loop) and one block of 64 slots, a whole page (lib/sub.c
 * poll_run()'s loop). In each call mdbus_sub_position() is
 * the message's seq.
 *
 * Then exact cases in one process, both geometries, the producer's writes
 * made from the handler (as a producer would during the call): a message
 * taken back and the rest of the ring in the same call; the handler
 * stopping on a message then taken back (3 returned, the next call goes
 * on); a take-back then a lap (the loss counted into the first message
 * of the run after it); a catch-up of 600, whole, cut by max, stopped. Every
 * call of the handler, msg.lost, the return value, mdbus_sub_lost(), the
 * loss events and the entry's lost and read_num words (lossless: the
 * message's seq in each call; overwrite: the call's start, or the landing
 * of a lap) are as the protocol says.
 */
#include <errno.h>
#include <string.h>

#include "mdbus.h"
#include "layout.h"
#include "testutil.h"

#define N 30000u
#define PMAX 40

struct tally {
	uint64_t next;      /* the sequence expected next */
	uint64_t kept;      /* handed over and not taken back */
	uint64_t back;      /* taken back */
	uint64_t lost;      /* msg.lost summed */
	uint64_t bad_seq;   /* a payload seen torn, UINT64_MAX: none */
	int dawdle;
	const mdbus_sub_t *s; /* mdbus_sub_position() is msg->seq in a call */
};

static int handler(void *arg, const struct mdbus_msg *m, const void *payload)
{
	struct tally *t = arg;

	if (!payload) { /* the message just handed over is taken back */
		if (m->seq + 1 != t->next)
			tu_fail("taken back %llu, last handed over %llu",
				(unsigned long long)m->seq,
				(unsigned long long)t->next - 1);
		t->kept--;
		t->back++;
		t->bad_seq = UINT64_MAX;
		return 0;
	}
	if (mdbus_sub_position(t->s) != m->seq)
		tu_fail("position %llu in the handler of message %llu",
			(unsigned long long)mdbus_sub_position(t->s),
			(unsigned long long)m->seq);
	if (t->bad_seq != UINT64_MAX)
		tu_fail("message %llu was torn and not taken back",
			(unsigned long long)t->bad_seq);
	if (m->seq != t->next + m->lost)
		tu_fail("seq %llu after %llu with %llu lost",
			(unsigned long long)m->seq, (unsigned long long)t->next,
			(unsigned long long)m->lost);
	if (t->dawdle && m->seq % 50 == 0)
		tu_sleep_ms(2);
	if (tu_msg_bad(m, payload, 0, PMAX))
		t->bad_seq = m->seq;
	t->lost += m->lost;
	t->kept++;
	t->next = m->seq + 1;
	return 0;
}

struct shared {
	_Atomic uint32_t ready;
};

static struct shared *sh;

/* A channel of 64 slots: 4 blocks of 16, or 1 of 64 (whole pages); the
 * catch-up cases 1024 */
static uint32_t spb, slots = 64;

static struct mdbus_pub_config config(enum mdbus_mode mode)
{
	return tu_config(64, spb, slots / spb, mode);
}

/* poll.ow16, poll.ll64, ... */
static const char *channel(enum mdbus_mode mode)
{
	static char name[16];

	snprintf(name, sizeof(name), "poll.%s%u", mode ? "ll" : "ow", spb);
	return name;
}

static int publisher(void *arg)
{
	enum mdbus_mode mode = (enum mdbus_mode)(intptr_t)arg;
	struct mdbus_pub_config c = config(mode);

	tu_publish_flood(channel(mode), &c, &sh->ready, N, PMAX, 0, NULL);
	return 0;
}

static void run(enum mdbus_mode mode)
{
	const char *ch = channel(mode);
	struct tally t = { .bad_seq = UINT64_MAX, .dawdle = !mode };
	struct mdbus_pub_config c = config(mode);
	mdbus_sub_t *s;
	pid_t kid;
	int r, batches = 0;

	mdbus_pub_close(tu_pub_open(ch, &c)); /* exists before the reader */
	atomic_store(&sh->ready, 0);
	kid = tu_spawn(publisher, (void *)(intptr_t)mode);
	tu_await(&sh->ready, 1, 30, "publisher");
	s = tu_sub_open(ch, "poller", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	t.next = mdbus_sub_position(s);
	t.s = s;
	atomic_store(&sh->ready, 2);
	while (t.next < N) {
		r = mdbus_sub_poll(s, handler, &t, 16);
		if (r < 0)
			tu_fail("%s: mdbus_sub_poll: %s", ch, mdbus_strerror(r));
		TU_CHECK(r <= 16);
		batches += r > 0;
	}
	if (t.bad_seq != UINT64_MAX)
		tu_fail("%s: last message torn, not taken back", ch);
	TU_CHECK_EQ(t.kept + t.back + t.lost, N - 0);
	if (mode == MDBUS_MODE_LOSSLESS) {
		TU_CHECK_EQ(t.back + t.lost, 0);
	} else {
		TU_CHECK(t.back + t.lost > 0); /* the dawdling was overrun */
	}
	tu_note("%s: %llu kept, %llu taken back, %llu lost, %d batches", ch,
		(unsigned long long)t.kept, (unsigned long long)t.back,
		(unsigned long long)t.lost, batches);
	tu_wait_ok(kid, 60, "publisher");
	mdbus_sub_close(s);
}

/* ------------------------------------------ exact, in one process */

#define EV_MAX 1024

struct event {
	uint64_t seq, lost;
	int back; /* payload NULL: taken back */
};

struct script {
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	const struct seg_consumer *e; /* the reader's entry */
	int lossless;
	uint64_t w;        /* published so far */
	uint64_t call_pos; /* the position when the call began */
	uint64_t landing;  /* where a lap lands (overwrite: read_num), or
			    * UINT64_MAX */
	uint64_t at, more; /* at message `at` the producer writes `more` */
	int stop;          /* ... and the handler returns this */
	int scribble;      /* the handler writes msg->lost (casting const
			    * away): 1 0 over a loss, 2 7 over none */
	size_t n;
	struct event ev[EV_MAX];
};

static void pub_to(struct script *sc, uint64_t to)
{
	unsigned char buf[PMAX];

	for (; sc->w < to; sc->w++)
		TU_CHECK_RC(tu_publish_seq(sc->p, sc->w, buf, 0, PMAX), 0);
}

static int scripted(void *arg, const struct mdbus_msg *m, const void *payload)
{
	struct script *sc = arg;
	uint64_t rn = atomic_load(&sc->e->read_num);
	const char *bad;

	TU_CHECK(sc->n < EV_MAX);
	sc->ev[sc->n++] = (struct event){ m->seq, m->lost, !payload };
	if (sc->scribble == 1 && m->lost)
		((struct mdbus_msg *)m)->lost = 0;
	if (sc->scribble == 2 && !m->lost)
		((struct mdbus_msg *)m)->lost = 7;
	if (!payload)
		return 0;
	TU_CHECK_EQ(mdbus_sub_position(sc->s), m->seq);
	if (rn != (sc->lossless ? m->seq : m->seq >= sc->landing ? sc->landing
							      : sc->call_pos))
		tu_fail("read_num %llu in the handler of message %llu",
			(unsigned long long)rn, (unsigned long long)m->seq);
	if ((bad = tu_msg_bad(m, payload, 0, PMAX)))
		tu_fail("%s", bad);
	if (m->seq != sc->at)
		return 0;
	pub_to(sc, sc->w + sc->more);
	return sc->stop;
}

/* One poll of up to max: returns its result. */
static int poll_script(struct script *sc, unsigned max)
{
	sc->n = 0;
	sc->call_pos = mdbus_sub_position(sc->s);
	return mdbus_sub_poll(sc->s, scripted, sc, max);
}

/* The events of the last poll are messages from..to - 1 (the first with
 * lost_first lost), message `back` (if in that range) taken back after it
 * was handed over; starting at event *i. */
static void expect(const struct script *sc, size_t *i, uint64_t from,
		   uint64_t to, uint64_t lost_first, uint64_t back)
{
	for (uint64_t q = from; q < to; q++) {
		for (int b = 0; b <= (q == back); b++, (*i)++) {
			const struct event *e = &sc->ev[*i];

			if (*i >= sc->n || e->seq != q || e->back != b ||
			    e->lost != (q == from && !b ? lost_first : 0))
				tu_fail("event %zu: seq %llu lost %llu%s, want "
					"%llu lost %llu%s", *i,
					*i < sc->n ? (unsigned long long)e->seq : 0ULL,
					*i < sc->n ? (unsigned long long)e->lost : 0ULL,
					*i < sc->n && e->back ? " taken back" : "",
					(unsigned long long)q,
					(unsigned long long)(q == from && !b ? lost_first : 0),
					b ? " taken back" : "");
		}
	}
}

/* A channel of 64 slots (spb a block), 10 messages published, a reader
 * registered at the oldest. */
static void script_open(struct script *sc, const char *name,
			enum mdbus_mode mode)
{
	struct mdbus_pub_config c = config(mode);
	char ch[32];
	size_t len;
	void *tab;

	snprintf(ch, sizeof ch, "%s%u", name, spb);
	memset(sc, 0, sizeof *sc);
	sc->lossless = mode == MDBUS_MODE_LOSSLESS;
	sc->landing = sc->at = UINT64_MAX;
	sc->p = tu_pub_open(ch, &c);
	pub_to(sc, 10);
	sc->s = tu_sub_open(ch, "exact", MDBUS_START_OLDEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_EQ(mdbus_sub_position(sc->s), 0);
	tab = tu_map_file(tu_table_path(ch), &len);
	for (unsigned i = 0; i < c.max_consumers && !sc->e; i++)
		if (!strcmp((const char *)tu_entry(tab, i)->name, "exact"))
			sc->e = tu_entry(tab, i);
	TU_CHECK(sc->e != NULL); /* mapped until the test ends */
}

static void script_check(const struct script *sc, uint64_t pos,
			 uint64_t lost, uint64_t events)
{
	TU_CHECK_EQ(mdbus_sub_position(sc->s), pos);
	TU_CHECK_EQ(atomic_load(&sc->e->read_num), pos);
	TU_CHECK_EQ(mdbus_sub_lost(sc->s), lost);
	TU_CHECK_EQ(atomic_load(&sc->e->lost), lost);
	TU_CHECK_EQ(mdbus_sub_loss_events(sc->s), events);
}

static void script_close(struct script *sc)
{
	mdbus_sub_close(sc->s);
	mdbus_pub_close(sc->p);
}

/* A poll of up to max returns want, with messages from..to - 1 (nothing
 * lost before them), `back` taken back after it was handed over. */
static void called(struct script *sc, unsigned max, int want, uint64_t from,
		   uint64_t to, uint64_t back)
{
	size_t i = 0;

	TU_CHECK_RC(poll_script(sc, max), want);
	expect(sc, &i, from, to, 0, back);
	TU_CHECK_EQ(i, sc->n);
}

static void exact(void)
{
	struct script sc;
	size_t i = 0;

	/* 3 taken back (58 more written: 67 in its slot), then 4..67 */
	script_open(&sc, "px.back", MDBUS_MODE_OVERWRITE);
	sc.at = 3;
	sc.more = 58;
	called(&sc, 1000, 67, 0, 68, 3);
	script_check(&sc, 68, 1, 0);
	called(&sc, 1000, 0, 68, 68, UINT64_MAX);
	script_close(&sc);

	/* the handler stops on 3, which is then taken back */
	script_open(&sc, "px.stop", MDBUS_MODE_OVERWRITE);
	sc.at = 3;
	sc.more = 58;
	sc.stop = 1;
	called(&sc, 1000, 3, 0, 4, 3);
	script_check(&sc, 4, 1, 0);
	called(&sc, 1000, 64, 4, 68, UINT64_MAX);
	script_check(&sc, 68, 1, 0);
	script_close(&sc);

	/* 5 taken back and lapped: 200 more written (write count 210), the
	 * reader lands at 210 - 64 = 146 and 6..145 are lost, counted into
	 * 146's msg.lost */
	script_open(&sc, "px.lap", MDBUS_MODE_OVERWRITE);
	sc.at = 5;
	sc.more = 200;
	sc.landing = 146;
	TU_CHECK_RC(poll_script(&sc, 1000), 5 + 64);
	expect(&sc, &i, 0, 6, 0, 5);
	expect(&sc, &i, 146, 210, 140, UINT64_MAX);
	TU_CHECK_EQ(i, sc.n);
	script_check(&sc, 210, 141, 1);
	script_close(&sc);

	/* a handler that writes over msg->lost (the library's own
	 * struct, handed as const) changes nothing it hears next: lapped,
	 * 46 carries the 46 lost, 47..109 none, and the next poll none
	 * (the loss cleared from the handle all the same) */
	for (int how = 1; how <= 2; how++) {
		script_open(&sc, how == 1 ? "px.zero" : "px.seven",
			    MDBUS_MODE_OVERWRITE);
		sc.scribble = how;
		sc.landing = 46;
		pub_to(&sc, 110);
		i = 0;
		TU_CHECK_RC(poll_script(&sc, 1000), 64);
		expect(&sc, &i, 46, 110, 46, UINT64_MAX);
		TU_CHECK_EQ(i, sc.n);
		script_check(&sc, 110, 46, 1);
		pub_to(&sc, 115);
		sc.landing = UINT64_MAX;
		called(&sc, 1000, 5, 110, 115, UINT64_MAX);
		script_check(&sc, 115, 46, 1);
		script_close(&sc);
	}

	/* lossless: the position in the entry per message, max kept */
	script_open(&sc, "px.ll", MDBUS_MODE_LOSSLESS);
	called(&sc, 4, 4, 0, 4, UINT64_MAX);
	script_check(&sc, 4, 0, 0);
	called(&sc, 1000, 6, 4, 10, UINT64_MAX);
	script_check(&sc, 10, 0, 0);
	script_close(&sc);
	/* a catch-up of 600 in a ring of 1024 (lib/sub.c poll_run(): the
	 * first 584 asking for the slot 16 on, the rest not): in one call;
	 * in calls of 500; the handler stopping on the last message of the
	 * first part, and on the first of the second */
	slots = 1024;
	for (int ll = 0; ll <= 1; ll++) {
		enum mdbus_mode mode = ll ? MDBUS_MODE_LOSSLESS
					  : MDBUS_MODE_OVERWRITE;

		script_open(&sc, ll ? "px.aheadl" : "px.ahead", mode);
		pub_to(&sc, 600);
		called(&sc, 1000, 600, 0, 600, UINT64_MAX);
		script_check(&sc, 600, 0, 0);
		script_close(&sc);
		script_open(&sc, ll ? "px.cutl" : "px.cut", mode);
		pub_to(&sc, 600);
		called(&sc, 500, 500, 0, 500, UINT64_MAX);
		script_check(&sc, 500, 0, 0);
		called(&sc, 1000, 100, 500, 600, UINT64_MAX);
		script_check(&sc, 600, 0, 0);
		script_close(&sc);
		for (uint64_t at = 583; at <= 584; at++) {
			static const char *const names[2][2] = {
				{ "px.last", "px.first" },
				{ "px.lastl", "px.firstl" } };

			script_open(&sc, names[ll][at - 583], mode);
			pub_to(&sc, 600);
			sc.at = at;
			sc.stop = 1;
			called(&sc, 1000, (int)at + 1, 0, at + 1, UINT64_MAX);
			called(&sc, 1000, 599 - (int)at, at + 1, 600, UINT64_MAX);
			script_check(&sc, 600, 0, 0);
			script_close(&sc);
		}
	}
	slots = 64;
	tu_note("exact cases, blocks of %u slots: take-back, stop, lap, "
		"lossless positions, a catch-up", spb);
}

int main(void)
{
	tu_init("t_poll", 120);
	sh = tu_shared(sizeof *sh);
	for (spb = 16; spb <= 64; spb *= 4) {
		run(MDBUS_MODE_OVERWRITE);
		run(MDBUS_MODE_LOSSLESS);
		exact();
	}
	return 0;
}
