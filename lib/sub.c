/*
 * sub.c - the subscriber: a reader's token and the read side of the
 * ordering protocol (doc/protocol.md, "Reading").
 *
 * Reading message n (the reader's token is `pos`):
 *   - acquire-load the stamp of n's slot (pairs with the producer's release
 *     store of complete(n), step 3): anything else means "not yet" or, for
 *     a stamp of a later message, "lapped";
 *   - check the size against the slot payload, copy the words out, then an
 *     acquire fence and a second load of the stamp: if it changed, the
 *     producer started overwriting the slot during the copy and the copy is
 *     discarded as lapped (seqlock; pairs with the release fence of step 1);
 *   - when lapped, read write_num, count the skipped messages exactly and
 *     jump to the oldest message that can still be intact.
 * Every sequence number below the final position is thus either returned
 * exactly once or counted lost exactly once.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

#define REOPEN_WAIT_MS 1000
#define CORRUPT_LOOK_EVERY 256 /* not_ready(): a power of two */
#define SPIN_TRIES 256 /* spin_read(): looks at the stamp between two
			* looks at the bell and the deadline */
#define HOLD_DEFAULT 256 /* mdbus_sub_set_hold_back()'s distance at open */
#define POLL_AHEAD 16	/* poll_run(): the slot prefetched, positions
				   ahead, */
#define POLL_BEHIND HOLD_DEFAULT /* by a reader more than this far behind, */
#define POLL_AHEAD_MAX 64 /* in a poll of at least this many */
#define VIEW_SCAN 16	/* view_run(): stamps looked at before the count */
#define HOLD_EVERY 64	/* hold_back() at every position that is a
			 * multiple of it (a power of two) */
#define HOLD_AFTER 16384	/* ... holds once the reader read this many
			 * messages since it last waited (gap_pos) */
#define HOLD_GAP 64	/* tries at one position that found nothing:
			 * a pause of the feed, not the blip of a reader
			 * at a flood's heels */
#define HOLD_SKIPS 16	/* hold_back() calls let pass after a hold the
			 * count's standing still ended */
#define READ_HOLD 2	/* read_fast(): read, and at such a position */
#define READ_LONG 3	/* read_fast(): a payload longer than it copies */
#define READ_FAST_MAX 64 /* the longest payload read_fast() copies when
			  * asked to (a cache line's worth: the copy's
			  * loop for longer ones costs every read its
			  * registers, read_long()) */
#define SKIP_BATCH 4096 /* messages before a start time stepped over per
			  * try_read() */
#define OPEN_POLL_NS 100000000ULL  /* the waiting open looks at least this
				      often (inotify may miss nothing, a
				      signal between two looks it does) */

struct mdbus_sub {
	struct seg_map m;
	uint64_t pos;           /* sequence of the next message to return */
	uint64_t pending_lost;  /* lost since the last returned message */
	uint64_t lost;
	uint64_t loss_events;
	uint64_t word;          /* our consumer entry's ACTIVE state word */
	int entry;              /* consumer entry index, -1 = anonymous */
	/* read_fast()'s entry, set by set_entry(): our entry's state word
	 * and read_num, or, anonymous, the two words of nobody (private:
	 * read_fast() then looks and stores with no test; a copy of the
	 * handle points at the original's until set_entry() again) */
	_Atomic uint64_t *own_state, *own_read_num;
	uint64_t own_word;      /* what *own_state holds while ours */
	_Atomic uint64_t nobody[2];
	int slow;               /* nonzero whenever evicted, replaying,
				   skip_before_ns or pending_lost is, or the
				   map is segmented: read_fast() passes;
				   may stay set after they clear (every
				   setter sets it, slow_recheck() clears) */
	int evicted;
	int renamed;            /* the name now refers to another file */
	uint64_t name_check_ns; /* CLOCK_MONOTONIC of the next look at it */
	uint32_t rings_seen;    /* bell rings already answered */
	int want_anonymous;
	enum mdbus_wait wait;
	struct wait_state wait_state; /* wait.c's, for the adaptive strategy */
	enum mdbus_start start;
	uint64_t start_seq;
	char name[MDBUS_NAME_MAX + 1];
	char channel[MDBUS_CHANNEL_MAX + 1];
	char *dir;
	char *owner;
	struct sub_fd *fd;      /* mdbus_sub_fd()'s helper, or NULL */
	/* the archive (sub_replay.c): open when the reader asked for it */
	char *archive_dir;      /* config's, or NULL: the announced one */
	struct replay *rp;      /* NULL: the ring only, losses counted */
	int replaying;          /* reading rp's files, not the ring */
	uint64_t start_time_ns;
	uint64_t skip_before_ns; /* time start: drop messages stamped
				    before it until the first one after */
	void *scratch;          /* mdbus_sub_poll() while replaying */
	int corrupt_next;       /* a poll that returned messages met a
				   corrupt archive file: the next poll
				   returns MDBUS_ECORRUPT */
	unsigned empty_looks;   /* not_ready() calls, see there */
	uint64_t empty_pos;     /* where not_ready() last found nothing, */
	unsigned empty_tries;   /* how many times in a row */
	uint64_t gap_pos;       /* where the reader last waited: a second
				   round of read_wait() (unless the adaptive
				   watch saw the message land), HOLD_GAP
				   empty tries, or one with mdbus_sub_fd()'s
				   descriptor
				   (hold_back()) */
	uint64_t hold;          /* mdbus_sub_set_hold_back()'s distance */
	unsigned hold_skips;    /* hold_back() calls let pass (HOLD_SKIPS
				   after a hold the count's standing still
				   ended) */
	int landed;             /* lapped before; landing: where it jumped */
	uint64_t landing;
	uint64_t fell_pos;      /* lapped(): pos + 1 and the write count of */
	uint64_t fell_w;        /* its last fall back to the archive */
	uint64_t ahead_w;       /* poll_run(): the write count last seen, */
	uint64_t ahead_at;      /* at this position */
	uint64_t view_seq;      /* mdbus_sub_peek()'s last view: its first */
	unsigned view_count;    /* message, count (0: none held) and */
	uint64_t view_lost;     /* loss */
	int view_copied;        /* it is view_slot's copy, pos past it */
	_Atomic uint64_t *view_slot; /* a slot's words, private: the copy */
	/* mdbus_sub_interrupt(), from any thread while another uses the
	 * handle: never moves, and never written after the open (last, so
	 * that reopen() writes every field but this one) */
	struct wait_bell *bell;
};
_Static_assert(offsetof(struct mdbus_sub, bell) + sizeof(struct wait_bell *) ==
	       sizeof(struct mdbus_sub), "the bell is the handle's last field");

/* Our consumer entry from now on: its index, -1 for none. */
static void set_entry(mdbus_sub_t *s, int entry)
{
	s->entry = entry;
	if (entry < 0) {
		/* Relaxed: private, this thread's */
		atomic_store_explicit(&s->nobody[0], 0, memory_order_relaxed);
		s->own_state = &s->nobody[0];
		s->own_read_num = &s->nobody[1];
		s->own_word = 0;
		return;
	}
	s->own_state = &s->m.table[entry].state;
	s->own_read_num = &s->m.table[entry].read_num;
	s->own_word = s->word;
}

/* Clears slow when nothing calls for read_fast()'s detour any more. */
static void slow_recheck(mdbus_sub_t *s)
{
	s->slow = s->evicted || s->replaying || s->skip_before_ns ||
		  s->pending_lost || !s->m.g.contiguous;
}

/* No write count seen for poll_run(): the next poll looks at it. */
static void ahead_forget(mdbus_sub_t *s)
{
	s->ahead_w = 0;
	s->ahead_at = s->pos - HOLD_EVERY;
}

const struct seg_header *sub_header(const mdbus_sub_t *sub)
{
	return sub->m.hdr;
}

const char *sub_channel(const mdbus_sub_t *sub)
{
	return sub->channel;
}

MDBUS_EXPORT void mdbus_sub_config_init(struct mdbus_sub_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->start = MDBUS_START_LATEST;
	cfg->wait = MDBUS_WAIT_ADAPTIVE;
}

/* The timestamp of the ring's message n: 0 with *ts, or -1 when n is
 * not whole there (the seqlock check of read_once()). */
static int ring_ts(const struct mdbus_sub *s, uint64_t n, uint64_t *ts)
{
	const _Atomic uint64_t *slot = seg_slot(&s->m, n);
	/* Pairs with the producer's release store of complete(n). */
	uint64_t stamp = atomic_load_explicit(&slot[SLOT_W_STAMP], memory_order_acquire);

	*ts = atomic_load_explicit(&slot[SLOT_W_TS], memory_order_relaxed);
	/* Orders the copy before the re-check; pairs with the producer's
	 * release fence after it stamped writing(n) (step 1). */
	atomic_thread_fence(memory_order_acquire);
	return stamp == stamp_complete(n) &&
	       atomic_load_explicit(&slot[SLOT_W_STAMP], memory_order_relaxed) == stamp
	       ? 0 : -1;
}

/* Opens the archive for a reader whose start the ring may not hold:
 * the configured directory, else the announced one (none: 0, the ring
 * alone). */
static int open_archive(struct mdbus_sub *s)
{
	int r;

	if (s->rp || (s->archive_dir && !*s->archive_dir)) /* "": none */
		return 0;
	r = replay_open(&s->rp, &s->m, s->channel, s->archive_dir);
	return r == -ENOENT && !s->archive_dir ? 0 : r;
}

/* Whether the start is older than the ring's oldest message. */
static int start_behind(const struct mdbus_sub *s, uint64_t w)
{
	uint64_t old = seg_oldest(&s->m, w), ts;

	if (s->start == MDBUS_START_SEQ)
		return s->start_seq < old;
	if (s->start == MDBUS_START_TIME)
		return !(old < w && ring_ts(s, old, &ts) == 0 &&
			 ts <= s->start_time_ns);
	return 0;
}

/* Opens the archive when the reader names one or its start is older
 * than the ring, and starts in it by sequence or time in the latter case
 * (doc/protocol.md, "Replay, then live"). */
static int start_archive(struct mdbus_sub *s, uint64_t w)
{
	int behind = start_behind(s, w), r = 0;

	if (behind || (s->archive_dir && *s->archive_dir))
		r = open_archive(s);
	if (r < 0 || !behind || !s->rp)
		return r;
	s->replaying = 1;
	s->slow = 1;
	return replay_seek(s->rp, &s->m, s->start == MDBUS_START_TIME ? ARCH_BY_TIME
							       : ARCH_BY_SEQ,
			   s->start == MDBUS_START_TIME ? s->start_time_ns
							: s->start_seq, &s->pos);
}

/* The start position, and the archive when the start is older than the
 * ring (or the reader names one). */
static int start_position(struct mdbus_sub *s)
{
	/* Acquire pairs with the producer's release store of write_num. */
	uint64_t w = atomic_load_explicit(&s->m.hdr->write_num, memory_order_acquire);

	s->replaying = 0;
	s->skip_before_ns = 0;
	/* No write count passes 2^62: a start taken from one past it (the
	 * latest, or a ring below it) would wrap the stamps, never-written
	 * slots looking complete (doc/protocol.md, "Reading"). A start by
	 * sequence is at most 2^62 (check_start_seq()). */
	if (w > SEQ_LIMIT && s->start != MDBUS_START_SEQ)
		return err_set(MDBUS_ECORRUPT, "channel %s: a write count of "
			       "%" PRIu64 ", past 2^62: no publisher's",
			       s->channel, w);
	switch (s->start) {
	case MDBUS_START_OLDEST:
		s->pos = seg_oldest(&s->m, w);
		break;
	case MDBUS_START_SEQ:
		s->pos = s->start_seq;
		break;
	case MDBUS_START_TIME:
		s->pos = seg_oldest(&s->m, w);
		s->skip_before_ns = s->start_time_ns;
		s->slow = 1;
		break;
	default:
		s->pos = w;
		break;
	}
	return start_archive(s, w);
}

/* What a registered reader publishes as its read position: a reader of
 * the archive gates no lossless producer (a position past every write
 * count, doc/protocol.md "Replay, then live"). */
static uint64_t published_pos(const struct mdbus_sub *s)
{
	return s->replaying ? UINT64_MAX : s->pos;
}

/* A read switches between the ring and the archive: mdbus_sub_fd()'s
 * helper waits for the other one from now on (sub_fd.c). */
static void set_replaying(struct mdbus_sub *s, int replaying)
{
	s->replaying = replaying;
	s->slow = 1;
	sub_fd_replaying(s->fd, replaying);
}

/* Maps the segment under the name and sets the start position; takes no
 * consumer entry yet. */
static int attach_map(struct mdbus_sub *s)
{
	int r;

	r = seg_attach(&s->m, s->channel, s->dir, s->owner,
		       s->want_anonymous ? SEG_ATTACH_RDONLY : 0);
	if (r < 0)
		return r;
	set_entry(s, -1);
	r = start_position(s);
	if (r < 0) {
		replay_close(s->rp);
		s->rp = NULL;
		seg_unmap(&s->m);
		return r;
	}
	s->evicted = 0;
	s->slow = 1;
	s->renamed = 0;
	s->name_check_ns = 0;
	s->landed = 0; /* a landing in another segment says nothing here */
	s->fell_pos = 0; /* nor a fall back to its archive */
	return 0;
}

MDBUS_INLINE void publish_position(struct mdbus_sub *s);
static void count_lost(struct mdbus_sub *s, uint64_t n);

/* The oldest message of the ring that no write sealed past write count w
 * has overwritten: seg_oldest(), then on past the slots that hold a later
 * stamp (a batch sealed but not yet published, skip markers), at most up
 * to w. */
static uint64_t oldest_unwritten(const struct seg_map *m, uint64_t w)
{
	uint64_t n = seg_oldest(m, w);

	/* Acquire: pairs with the producer's release stores of the stamps
	 * (a complete one; writing(n) is followed by its release fence). */
	while (n < w && atomic_load_explicit(&seg_slot(m, n)[SLOT_W_STAMP],
					     memory_order_acquire) > stamp_complete(n))
		n++;
	return n;
}

/* Moves the start up to the write count (`latest`) or else to the ring's
 * oldest message, if it is lower; counts what it passed as lost when
 * `count_gap` (a start by sequence or time, or a place kept in a
 * reopen). */
static void start_no_lower(struct mdbus_sub *s, int latest, int count_gap)
{
	/* Acquire: pairs with the producer's release store of write_num. */
	uint64_t w = atomic_load_explicit(&s->m.hdr->write_num, memory_order_acquire);
	uint64_t low;

	if (w > SEQ_LIMIT) /* corrupt: the first read says so (lapped(), */
		return;    /* not_ready()); no jump, no loss counted */
	low = latest ? w : oldest_unwritten(&s->m, w);
	if (s->pos >= low)
		return;
	if (count_gap)
		count_lost(s, low - s->pos);
	s->pos = low;
}

/* Whether a start passed over counts as lost (start_no_lower()): one by
 * sequence or time asked for what it passed; the oldest and the latest
 * are wherever the join finds them. */
static int start_counts_gap(enum mdbus_start start)
{
	return start == MDBUS_START_SEQ || start == MDBUS_START_TIME;
}

/*
 * After our entry is ACTIVE, or its position is again one in the ring
 * (doc/protocol.md, "Publishing", lossless mode): tells a lossless
 * producer that a reader joined (join_seq; it looks at the table before
 * its next write, not up to a ring later by the gate it cached).
 */
static void join_announce(struct mdbus_sub *s)
{
	if (s->m.g.mode == MDBUS_MODE_LOSSLESS)
		/* seq_cst, and release for our entry: a producer whose
		 * relaxed load of join_seq sees the bump sees the entry
		 * after its fence (pub.c room_cached(), gate_refresh()). */
		atomic_fetch_add_explicit(&s->m.tab->join_seq, 1,
					  memory_order_seq_cst);
	/* Pairs with the fence in gate_refresh() (pub.c): either the
	 * producer's look at the table after its fence sees our entry,
	 * or our load of write_num sees the count it had published before
	 * its fence, which bounds the gate it computed. */
	atomic_thread_fence(memory_order_seq_cst);
}

/*
 * join_announce(), then takes the start again from a write count read
 * after the entry is in the table. The count read before may be one that
 * a producer whose gate did not know the entry yet ran past.
 */
static void join_registered(struct mdbus_sub *s, int latest, int count_gap)
{
	join_announce(s);
	start_no_lower(s, latest, count_gap);
}

/*
 * Takes a consumer entry at s->pos, unless the mapping is read-only. A
 * reader at the latest message in any mode, and any other in lossless
 * mode, joins: its start is taken no lower than the write count, or the
 * ring's oldest message, just before it registers (a producer looking at
 * the table then would be held back by a position it already passed) and
 * again after (join_registered()); `count_gap` as start_no_lower().
 */
static int attach_register(struct mdbus_sub *s, int latest, int count_gap)
{
	int join = !s->replaying &&
		   (latest || s->m.g.mode == MDBUS_MODE_LOSSLESS);
	int r;

	if (!s->m.writable)
		return 0;
	if (join)
		start_no_lower(s, latest, count_gap);
	r = cons_register(&s->m, s->name, published_pos(s), &s->word);
	if (r < 0)
		return r;
	/* The table was cut meanwhile and we registered in the zeros the
	 * guard mapped: nobody would see that entry. */
	if (table_guard_lost(s->m.guard))
		return err_set(MDBUS_ECORRUPT, "channel %s: its consumer table "
			       "was cut while we registered (its publisher "
			       "mends it on its next heartbeat)", s->channel);
	set_entry(s, r);
	/* Relaxed, statistics: what we counted before the entry was ours
	 * (a reopen's, a gap passed above) shows in it too. */
	atomic_store_explicit(&s->m.table[r].lost, s->lost, memory_order_relaxed);
	if (join) {
		join_registered(s, latest, count_gap);
		publish_position(s);
	}
	return 0;
}

static int attach(struct mdbus_sub *s)
{
	int r = attach_map(s);

	if (r == 0 &&
	    (r = attach_register(s, s->start == MDBUS_START_LATEST,
				 start_counts_gap(s->start))) < 0) {
		replay_close(s->rp);
		s->rp = NULL;
		seg_unmap(&s->m);
	}
	return r;
}

/* A start sequence no publisher reaches: its slot stamps would wrap
 * (lib/layout.h SEQ_LIMIT, doc/protocol.md "Skipping"), and a reader
 * there would wait for ever or take another message for it. */
static int check_start_seq(uint64_t seq)
{
	if (seq <= SEQ_LIMIT)
		return 0;
	return err_set(-ERANGE, "start sequence %" PRIu64 " is past 2^62 = %"
		       PRIu64 ", the last a publisher reaches", seq,
		       (uint64_t)SEQ_LIMIT);
}

static int check_names(const struct mdbus_sub_config *cfg, char *name)
{
	if (!cfg->name) {
		snprintf(name, MDBUS_NAME_MAX + 1, "pid%d", (int)getpid());
		return 0;
	}
	if (!*cfg->name || strlen(cfg->name) > MDBUS_NAME_MAX)
		return err_set(MDBUS_ENAME, "consumer name must be 1..%d characters",
			       MDBUS_NAME_MAX);
	strcpy(name, cfg->name);
	return 0;
}

MDBUS_EXPORT int mdbus_sub_open(mdbus_sub_t **out, const char *channel,
				const struct mdbus_sub_config *cfg)
{
	struct mdbus_sub_config defaults;
	struct mdbus_sub *s;
	int r;

	err_clear();
	if (!out)
		return err_set(-EINVAL, "NULL handle pointer");
	*out = NULL;
	if (!cfg) {
		mdbus_sub_config_init(&defaults);
		cfg = &defaults;
	}
	if (!mdbus_channel_valid(channel))
		return err_set(MDBUS_ENAME, "invalid channel name");
	s = calloc(1, sizeof(*s));
	if (s && !(s->bell = calloc(1, sizeof(*s->bell)))) {
		free(s);
		s = NULL;
	}
	if (!s)
		return err_set(-ENOMEM, "out of memory");
	seg_map_init(&s->m);
	r = check_names(cfg, s->name);
	strcpy(s->channel, channel);
	s->want_anonymous = cfg->anonymous;
	s->wait = cfg->wait;
	s->hold = HOLD_DEFAULT;
	s->start = cfg->start;
	s->start_seq = cfg->start_seq;
	s->start_time_ns = cfg->start_time_ns;
	if (r == 0 && (cfg->start < MDBUS_START_LATEST || cfg->start > MDBUS_START_TIME))
		r = err_set(-EINVAL, "unknown start %d", (int)cfg->start);
	if (r == 0 && cfg->start == MDBUS_START_SEQ)
		r = check_start_seq(cfg->start_seq);
	if (r == 0 && cfg->archive_dir && !(s->archive_dir = strdup(cfg->archive_dir)))
		r = err_set(-ENOMEM, "out of memory");
	if (r == 0 && cfg->dir && !(s->dir = strdup(cfg->dir)))
		r = err_set(-ENOMEM, "out of memory");
	if (r == 0 && cfg->owner && !(s->owner = strdup(cfg->owner)))
		r = err_set(-ENOMEM, "out of memory");
	if (r == 0)
		r = attach(s);
	if (r < 0) {
		free(s->archive_dir);
		free(s->owner);
		free(s->dir);
		free(s->bell);
		free(s);
		return r;
	}
	s->gap_pos = s->pos; /* no flood read yet (hold_back()) */
	ahead_forget(s);
	*out = s;
	return 0;
}

/* A channel that did not exist when the waiting open began is read from
 * its first message: a new segment numbers from 0 (doc/protocol.md,
 * "Creation"), and the default start (latest) would skip what came
 * before our attach. */
static int open_when_named(mdbus_sub_t **out, const char *channel,
			   struct mdbus_sub_config *c, int64_t timeout_ns)
{
	uint64_t deadline = clock_mono_ns() + (uint64_t)timeout_ns, now;
	int fd = dir_watch_open(seg_dir(c->dir)), r;

	if (c->start == MDBUS_START_LATEST) {
		c->start = MDBUS_START_SEQ;
		c->start_seq = 0;
	}
	for (;;) {
		r = mdbus_sub_open(out, channel, c);
		if (r != -ENOENT)
			break;
		now = clock_mono_ns();
		if (timeout_ns >= 0 && now >= deadline) {
			r = err_set(-ETIMEDOUT, "channel %s did not appear in "
				    "time", channel);
			break;
		}
		r = dir_watch_wait(fd, timeout_ns < 0 || deadline - now > OPEN_POLL_NS
				       ? OPEN_POLL_NS : deadline - now);
		if (r < 0) {
			r = err_set(r, "waiting for channel %s: interrupted",
				    channel);
			break;
		}
	}
	dir_watch_close(fd);
	return r;
}

MDBUS_EXPORT int mdbus_sub_open_wait(mdbus_sub_t **out, const char *channel,
				     const struct mdbus_sub_config *cfg,
				     int64_t timeout_ns)
{
	struct mdbus_sub_config c;
	int r = mdbus_sub_open(out, channel, cfg);

	if (r != -ENOENT || timeout_ns == 0)
		return r;
	if (cfg)
		c = *cfg;
	else
		mdbus_sub_config_init(&c);
	return open_when_named(out, channel, &c, timeout_ns);
}

/* ------------------------------------------------------------- reading */

MDBUS_INLINE void publish_position(struct mdbus_sub *s)
{
	if (s->entry < 0)
		return;
	/* Release: our copy of everything below pos is done before a
	 * lossless producer (acquire in gate_refresh) reuses those slots. */
	atomic_store_explicit(&s->m.table[s->entry].read_num, published_pos(s),
			      memory_order_release);
}

/* Whether our entry is still ours: a lossless producer may evict us, and
 * a reclaimer that wrongly judged us dead may have given it away (then
 * we must stop writing our position into another reader's entry). One
 * acquire load of our own entry's line, which this reader writes anyway. */
MDBUS_INLINE int check_evicted(struct mdbus_sub *s)
{
	if (s->evicted)
		return MDBUS_EEVICTED;
	if (s->entry < 0)
		return 0;
	if (cons_still_ours(&s->m, s->entry, s->word))
		return 0;
	s->evicted = 1;
	s->slow = 1;
	return MDBUS_EEVICTED;
}

/* Counts n messages lost before the next one returned. */
static void count_lost(struct mdbus_sub *s, uint64_t n)
{
	if (s->pending_lost == 0)
		s->loss_events++;
	s->pending_lost += n;
	s->slow = 1;
	s->lost += n;
	if (s->entry >= 0) /* relaxed: statistics only (layout.h) */
		atomic_store_explicit(&s->m.table[s->entry].lost, s->lost,
				      memory_order_relaxed);
}

/* A reader with an archive that the ring lapped reads on from the
 * archive: 1 when it does, 0 when it has none. */
static int fall_back(struct mdbus_sub *s)
{
	if (!s->rp || replay_seek(s->rp, &s->m, ARCH_BY_SEQ, s->pos, NULL) < 0)
		return 0;
	set_replaying(s, 1);
	publish_position(s);
	return 1;
}

/*
 * The write count that a stamp for message `seen` (> pos) in pos's slot
 * shows reached, at least the count w read after it: seen + 1, but a
 * stamp past w is of a write under way (a skip's markers, written oldest
 * first; a batch sealed but not yet published), which shows no more than
 * that a write of pos + capacity took this slot. So a reader that meets
 * a marker of a skip still under way, or of a lossless skip stopped
 * part-way (a reader joined among its markers), counts that message lost
 * and not the whole messages after it (doc/protocol.md, "Reading"). Only
 * for a pos within a ring of w, where the markers go (the slots of
 * w .. w + capacity - 1): a reader a ring or more past w has met one in
 * every slot, and the skip's end is the seen + 1 it shows (else a skip of
 * 2^40 stopped or killed before its count, or a forged stamp, would be
 * 2^40 one-slot laps in one read); a reader more than a ring behind w
 * lands by w and `seen` as any lapped reader (half a ring behind a batch
 * sealed ahead, when lapped again soon after its landing).
 */
static uint64_t lap_top(const struct mdbus_sub *s, uint64_t seen, uint64_t w)
{
	uint64_t cap = s->m.g.capacity, taken = s->pos + cap;

	if (seen > w && seen > taken &&
	    (s->pos < w ? w - s->pos <= cap : s->pos - w < cap))
		seen = taken;
	return w > seen + 1 ? w : seen + 1;
}

/*
 * Whether message pos, published (below the write count w), may be in the
 * archive, lapped by the stamp for `seen` in its slot: the ring no longer
 * holds it, a later message of its slot took it (a batch sealed ahead of
 * w), or a write under way did (a stamp past w: a skip's marker under
 * way or stopped part-way, which takes the slot of a message below w as
 * message pos + capacity would). Not a done skip's marker in a slot the
 * ring still holds (writing(t), t <= w, t not of pos's slot): a number never
 * published, which no archive holds, and the archive's end (sub_replay.c
 * at_end()) would send the reader back to the ring at once, round and
 * round inside one read.
 */
static int archive_may_hold(const struct mdbus_sub *s, uint64_t seen, uint64_t w)
{
	return s->pos < seg_oldest(&s->m, w) || seen > w ||
	       ((seen - s->pos) & (s->m.g.capacity - 1)) == 0;
}

/*
 * Message pos is gone: a stamp for message `seen` (> pos) is in its slot.
 * Jumps to the oldest message that can still be whole (or one message on:
 * a slot with a size no producer writes, skip markers of a skip shorter
 * than a ring) and counts the gap, unless the archive has it. The oldest
 * is in the very slot the producer writes next: a reader slower than the
 * producer that lands there is lapped again at once, over and over, and
 * delivers next to nothing while its reads of the producer's lines slow
 * the producer down. So a reader lapped again before it read a ring's
 * worth since its last landing lands half a ring behind the write count
 * instead (doc/protocol.md, "Reading"). Returns 1 (read on), or a
 * negative code. A
 * stamp past SEQ_LIMIT is no publisher's (doc/protocol.md "Skipping"): a
 * position there would wrap the stamps, and the reader would take empty
 * slots for messages or spin on slots that are never its message.
 */
static MDBUS_COLD int lapped(struct mdbus_sub *s, uint64_t seen)
{
	/* Acquire pairs with the producer's release store of write_num. */
	uint64_t w = atomic_load_explicit(&s->m.hdr->write_num, memory_order_acquire);
	uint64_t top = lap_top(s, seen, w);
	uint64_t next = top - s->m.g.capacity;
	int r = check_evicted(s);

	if (r < 0)
		return r;
	if (seen > SEQ_LIMIT + s->m.g.capacity || w > SEQ_LIMIT)
		return err_set(MDBUS_ECORRUPT, "channel %s: a %s %" PRIu64
			       ", past 2^62, which no publisher reaches",
			       s->channel, w > SEQ_LIMIT ? "write count of" :
			       "slot stamp for sequence", w > SEQ_LIMIT ? w : seen);
	if (s->pos < w && archive_may_hold(s, seen, w)) {
		/* the archive sent it back: wait for the count to move, while
		 * a publisher may move it; else it is the ring's lap */
		if (s->fell_pos == s->pos + 1 && s->fell_w == w) {
			if (replay_live(s->rp, &s->m))
				return -EAGAIN;
		} else if (fall_back(s)) {
			s->fell_pos = s->pos + 1;
			s->fell_w = w;
			return 1;
		}
	}
	if (top < s->m.g.capacity || next <= s->pos)
		next = s->pos + 1;
	else if (s->landed && s->pos - s->landing < s->m.g.capacity &&
		 w > s->pos && w - s->pos > s->m.g.capacity &&
		 (s->m.g.mode != MDBUS_MODE_LOSSLESS || s->entry < 0))
		next = top - s->m.g.capacity / 2;
	if (next > s->pos + 1) {
		s->landed = 1;
		s->landing = next;
	}
	count_lost(s, next - s->pos);
	s->pos = next;
	publish_position(s);
	return 1;
}

/* Nothing to read at pos: -EAGAIN, or the reason we never will. */
static int not_ready(struct mdbus_sub *s)
{
	int r = check_evicted(s);
	uint64_t w, st;

	if (r < 0)
		return r;
	if (s->empty_pos != s->pos) {
		s->empty_pos = s->pos;
		s->empty_tries = 0;
	}
	/* With mdbus_sub_fd()'s descriptor, a try that found nothing is
	 * where the reader waits on it (its documented use): a wait. */
	if (++s->empty_tries == HOLD_GAP || s->fd)
		s->gap_pos = s->pos;
	/* Acquire pairs with the release store of REPLACED. */
	if (atomic_load_explicit(&s->m.hdr->pub_state, memory_order_acquire) ==
	    SEG_PUB_REPLACED)
		return MDBUS_EREPLACED;
	/* the name taken by a new segment, as a waiting read or
	 * mdbus_sub_fd()'s helper found it (check_name()) */
	if (s->renamed || (s->fd && sub_fd_renamed(s->fd))) {
		s->renamed = 1;
		return MDBUS_EREPLACED;
	}
	/* A write count past pos while pos's slot holds an older stamp or
	 * writing(pos): no publisher leaves that (step 3 comes before step
	 * 4, doc/protocol.md "Publishing"), and a waiting reader would find
	 * the count moved and look again for ever. Looked at once every
	 * CORRUPT_LOOK_EVERY times nothing was there, so that a reader
	 * waiting for the next message does not pull the write count's line
	 * away from the producer each time. Acquire, then acquire: the
	 * count pairs with step 4's release store, so the stamp loaded
	 * after it is that of step 3 or later. */
	if ((++s->empty_looks & (CORRUPT_LOOK_EVERY - 1)) != 0)
		return -EAGAIN; /* the write count's line is the producer's */
	w = atomic_load_explicit(&s->m.hdr->write_num, memory_order_acquire);
	if (w <= s->pos)
		return -EAGAIN;
	st = atomic_load_explicit(&seg_slot(&s->m, s->pos)[SLOT_W_STAMP],
				  memory_order_acquire);
	if (st < stamp_complete(s->pos) || st == stamp_writing(s->pos))
		return err_set(MDBUS_ECORRUPT, "channel %s: a write count of "
			       "%" PRIu64 " while message %" PRIu64 " was "
			       "never written", s->channel, w, s->pos);
	return -EAGAIN;
}

/* The payload, as relaxed 64-bit atomic loads (the seqlock re-check
 * after it discards a copy the producer raced); line: READ_FAST_MAX bytes
 * at most, no loop. */
MDBUS_INLINE void copy_out(void *buf, const _Atomic uint64_t *src, size_t size,
			   int line)
{
	unsigned char *dst = buf;
	size_t words = size / 8;

	if (line)
		payload_load_line(dst, src, words);
	else
		payload_load(dst, src, words);
	if (size % 8)
		payload_tail_put(dst + words * 8,
				 atomic_load_explicit(&src[words],
						      memory_order_relaxed),
				 size % 8);
}

/*
 * Called at every HOLD_EVERY-th position the reader reaches by
 * read_fast() or a poll (at the end of a call that passed one). One that
 * read HOLD_AFTER messages or more since it last waited (gap_pos: a
 * burst's end, not the blip of a reader at a flood's heels) is behind a
 * producer that floods. Within s->hold messages of it (at most a quarter
 * of the ring), it pauses while the producer goes on at a flood's rate
 * (wait_hold()). A reader as fast as its producer otherwise reads at its
 * heels: its loads, and the hardware prefetches they start, take the
 * lines the producer is about to write, and both crawl (libmdbus(3),
 * "Holding back"; README.md, "Performance"). A reader slower than its
 * producer is soon that far behind and never pauses. A hold that the
 * count's standing still ended (a producer too slow to be a flood:
 * 4 looks for nothing, about 0.4 us) lets the next HOLD_SKIPS calls
 * pass: a feed of a few million messages a second, read without a
 * wait, looked at every 64th message for nothing (review of ab31729:
 * p90 of those reads 120 ns before it, 420-460 ns with it, at 5 M
 * msgs/s). Returns 0, so that a read at such a position ends in a jump
 * here (no frame set up for the call).
 */
static MDBUS_NOINLINE int hold_back(mdbus_sub_t *s)
{
	uint64_t quarter = s->m.g.capacity / 4;
	int still;

	if (!s->hold || s->replaying || s->pos - s->gap_pos < HOLD_AFTER)
		return 0;
	if (s->hold_skips) {
		s->hold_skips--;
		return 0;
	}
	(void)wait_hold(&s->m.hdr->write_num, s->pos,
			s->hold < quarter ? s->hold : quarter, &still);
	if (still)
		s->hold_skips = HOLD_SKIPS;
	return 0;
}

/*
 * The stamp of message pos's slot: 0 with *stamp when the message is
 * complete there, else 1 to try again at once (lapped: skipped) or a
 * negative code (not yet: -EAGAIN).
 */
MDBUS_INLINE int slot_ready(struct mdbus_sub *s, const _Atomic uint64_t *slot,
			     uint64_t *stamp)
{
	uint64_t want = stamp_complete(s->pos);

	/* Pairs with the producer's release store of complete(pos). */
	*stamp = atomic_load_explicit(&slot[SLOT_W_STAMP], memory_order_acquire);
	if (*stamp == want)
		return 0;
	if (*stamp > want && stamp_seq(*stamp) > s->pos)
		return lapped(s, stamp_seq(*stamp));
	return not_ready(s);
}

/*
 * One attempt at message pos. Returns 0 with the message, 1 to try again
 * at once (lapped, skipped), or a negative code.
 */
MDBUS_INLINE int read_once(struct mdbus_sub *s, void *buf, size_t len,
		     struct mdbus_msg *msg)
{
	const _Atomic uint64_t *slot = seg_slot(&s->m, s->pos);
	uint64_t stamp, again, meta, ts;
	size_t size;
	int r = slot_ready(s, slot, &stamp);

	if (r != 0)
		return r;
	meta = atomic_load_explicit(&slot[SLOT_W_META], memory_order_relaxed);
	ts = atomic_load_explicit(&slot[SLOT_W_TS], memory_order_relaxed);
	size = (size_t)(uint32_t)meta;
	if (size <= len && size <= seg_payload_max(&s->m))
		copy_out(buf, slot + SLOT_W_PAYLOAD, size, 0);
	/* Orders the copy before the re-check; pairs with the producer's
	 * release fence after it stamped writing(n) (step 1). */
	atomic_thread_fence(memory_order_acquire);
	again = atomic_load_explicit(&slot[SLOT_W_STAMP], memory_order_relaxed);
	if (again != stamp)
		return lapped(s, again > stamp ? stamp_seq(again)
					       : s->pos + s->m.g.capacity);
	if (size > seg_payload_max(&s->m)) {
		/* A size no producer of ours writes: count it and move on. */
		return lapped(s, s->pos + s->m.g.capacity);
	}
	msg->seq = s->pos;
	msg->ts_ns = ts;
	msg->size = (uint32_t)size;
	msg->type = (uint16_t)(meta >> 32);
	if (size > len)
		return -EMSGSIZE;
	msg->lost = s->pending_lost;
	s->pending_lost = 0;
	s->pos++;
	publish_position(s);
	return 0;
}

/*
 * One message in place: the stamp (slot_ready()), the handler called
 * on the slot's payload, then the seqlock re-check. Returns 0 when
 * handed over (*stop set from the handler), 2 when handed over and taken
 * back (overwritten during the call), 1 to try again at once, or a
 * negative code.
 */
/* A time start in poll_once(): 1 when message pos is stamped before it
 * (stepped over) or gone meanwhile (counted), 0 to hand it over. */
static MDBUS_COLD int poll_skip(struct mdbus_sub *s)
{
	uint64_t ts;

	if (ring_ts(s, s->pos, &ts) < 0)
		return lapped(s, s->pos + s->m.g.capacity);
	if (ts < s->skip_before_ns) {
		s->pos++;
		return 1;
	}
	s->skip_before_ns = 0;
	return 0;
}

/* A message handed over and overwritten during the call: the handler
 * hears it (payload NULL), and it counts as lost (the next message's
 * msg.lost does not count it again). Returns 2. */
static MDBUS_COLD int take_back(struct mdbus_sub *s, mdbus_msg_handler fn,
				void *arg, struct mdbus_msg *msg)
{
	msg->lost = 0;
	(void)fn(arg, msg, NULL);
	s->lost++;
	if (s->entry >= 0) /* relaxed: statistics only (layout.h) */
		atomic_store_explicit(&s->m.table[s->entry].lost, s->lost,
				      memory_order_relaxed);
	return 2;
}

MDBUS_INLINE int poll_once(struct mdbus_sub *s, mdbus_msg_handler fn, void *arg,
		     int *stop)
{
	const _Atomic uint64_t *slot = seg_slot(&s->m, s->pos);
	uint64_t stamp, again, meta;
	struct mdbus_msg msg;
	int r = slot_ready(s, slot, &stamp);

	if (r != 0)
		return r;
	meta = atomic_load_explicit(&slot[SLOT_W_META], memory_order_relaxed);
	msg.seq = s->pos;
	msg.ts_ns = atomic_load_explicit(&slot[SLOT_W_TS], memory_order_relaxed);
	msg.size = (uint32_t)meta;
	msg.type = (uint16_t)(meta >> 32);
	msg.lost = s->pending_lost;
	if (msg.size > seg_payload_max(&s->m)) /* no producer of ours wrote it */
		return lapped(s, s->pos + s->m.g.capacity);
	if (MDBUS_UNLIKELY(s->skip_before_ns) && (r = poll_skip(s)) != 0)
		return r;
	*stop = fn(arg, &msg, (const void *)(slot + SLOT_W_PAYLOAD)) != 0;
	/* Orders the handler's reads before the re-check; pairs with the
	 * producer's release fence after it stamped writing(n) (step 1). */
	atomic_thread_fence(memory_order_acquire);
	again = atomic_load_explicit(&slot[SLOT_W_STAMP], memory_order_relaxed);
	s->pending_lost = 0;
	s->pos++;
	if (again == stamp) {
		/* Lossless: per message, so that a producer this reader
		 * gates sees it move (stall eviction) however long the call
		 * lasts; else once per call, by mdbus_sub_poll(). */
		if (s->m.g.mode == MDBUS_MODE_LOSSLESS)
			publish_position(s);
		return 0;
	}
	return take_back(s, fn, arg, &msg);
}

/*
 * mdbus_sub_poll()'s loop while what it finds is complete messages of
 * the ring, read as poll_once() reads them, in a ring of whole-page
 * blocks, not replaying, no start time to reach: the position, the
 * geometry, the mode and the message's fields stay in registers across
 * the handler's calls (the handler may not call the handle's reading
 * functions: mdbus.h), the handle's position is stored before each call
 * (mdbus_sub_position() from the handler is msg->seq). It stops where
 * poll_once() has something else to do (not there, lapped, a size no
 * producer of ours writes: that message untouched) and after a message
 * taken back (*taken). Returns the messages handed over and not taken
 * back. The handler's stop and the first message's loss are kept in
 * locals too (the handle's loss is cleared at the end, when a message
 * took it; msg's fields are all set anew for each message, as a handler
 * may write over them): 49 instructions a message besides the handler,
 * catching up in polls of 1024 with the prefetch, against 55 with both
 * in the handle, and poll_once()'s 59 (bench/icount, 40-byte messages;
 * README.md, "Performance"). With `ahead`, each message asks for the
 * slot POLL_AHEAD positions on (poll_run()).
 */
MDBUS_INLINE unsigned poll_run_in(struct mdbus_sub *s, mdbus_msg_handler fn,
				  void *arg, unsigned max, int *stop,
				  int *taken, int ahead)
{
	const _Atomic uint64_t *blocks = s->m.blocks;
	uint64_t mask = s->m.g.capacity - 1, pos = s->pos, end = pos + max;
	uint32_t shift = s->m.g.slot_shift, payload_max = s->m.g.payload_max;
	int lossless = s->m.g.mode == MDBUS_MODE_LOSSLESS, halt = 0;
	uint64_t lost = s->pending_lost, start = pos;
	struct mdbus_msg msg;

	while (pos != end && !halt) {
		const _Atomic uint64_t *slot = blocks + ((pos & mask) << shift);
		uint64_t stamp, meta;

		if (ahead) /* a prefetch: nothing loaded in the C sense */
			__builtin_prefetch((const void *)(blocks +
				(((pos + POLL_AHEAD) & mask) << shift)), 0, 3);
		/* Pairs with the producer's release store of complete(pos). */
		stamp = atomic_load_explicit(&slot[SLOT_W_STAMP], memory_order_acquire);
		if (stamp != stamp_complete(pos))
			break;
		meta = atomic_load_explicit(&slot[SLOT_W_META], memory_order_relaxed);
		msg.seq = pos;
		msg.ts_ns = atomic_load_explicit(&slot[SLOT_W_TS], memory_order_relaxed);
		msg.size = (uint32_t)meta;
		msg.type = (uint16_t)(meta >> 32);
		msg.lost = lost; /* every field anew: msg is the handler's too */
		if (msg.size > payload_max)
			break;
		s->pos = pos;
		halt = fn(arg, &msg, (const void *)(slot + SLOT_W_PAYLOAD));
		/* As poll_once(): pairs with the producer's release fence
		 * after it stamped writing(n) (step 1). */
		atomic_thread_fence(memory_order_acquire);
		s->pos = ++pos;
		lost = 0; /* the first message's only */
		if (atomic_load_explicit(&slot[SLOT_W_STAMP],
					 memory_order_relaxed) != stamp) {
			*taken = take_back(s, fn, arg, &msg);
			pos--; /* not handed over */
			break;
		}
		if (lossless) /* as poll_once() */
			publish_position(s);
	}
	if (s->pos != start) /* a message handed over took the loss */
		s->pending_lost = 0;
	*stop = halt != 0;
	return (unsigned)(pos - start);
}

/*
 * poll_run() of a reader more than POLL_BEHIND messages behind the
 * write count last looked at (at most every HOLD_EVERY positions), in a
 * poll of POLL_AHEAD_MAX or more: each message asks for the slot
 * POLL_AHEAD positions on (a prefetch), while that slot holds a message
 * published by then. A reader catching up takes its lines from the
 * producer's CPU ahead of need, also across pages, which the hardware's
 * own prefetching does not cross; one near the producer's heels asks for
 * no line (holding back, hold_back()), and one polling a few messages at
 * a time never looks at the write count here, a line the producer
 * writes at every publish: looked at every 16 positions, a reader
 * polling 8 at a time at the heels of single publishes cost each
 * publish 13-22 ns against 7-8, and at every 64 from 32 behind, one
 * such reader fell behind and was lapped (1.06-1.25 M messages of 4 M
 * lost against 0-0.2 M; review of 3119b39). Out of line: inlined into
 * mdbus_sub_poll(), half the gain went. README.md, "Performance".
 */
static MDBUS_NOINLINE unsigned poll_run(struct mdbus_sub *s,
					mdbus_msg_handler fn, void *arg,
					unsigned max, int *stop, int *taken)
{
	uint64_t pos = s->pos, ahead;
	unsigned n;

	if (max < POLL_AHEAD_MAX)
		return poll_run_in(s, fn, arg, max, stop, taken, 0);
	if (pos - s->ahead_at >= HOLD_EVERY) {
		/* Relaxed: where to prefetch up to, a hint; no message is
		 * read by it (the stamps say what is complete). */
		s->ahead_w = atomic_load_explicit(&s->m.hdr->write_num,
						  memory_order_relaxed);
		s->ahead_at = pos;
	}
	ahead = s->ahead_w - pos; /* past the count: huge, no prefetch */
	if (ahead <= POLL_BEHIND || ahead >= s->m.g.capacity)
		return poll_run_in(s, fn, arg, max, stop, taken, 0);
	ahead -= POLL_AHEAD;
	n = poll_run_in(s, fn, arg, ahead < max ? (unsigned)ahead : max, stop,
			taken, 1);
	if (n == ahead && n < max && !*stop && !*taken)
		n += poll_run_in(s, fn, arg, max - n, stop, taken, 0);
	return n;
}

/*
 * One message from the archive: 0 with it, 1 to try again at once
 * (switched to the ring, or skipped), or a negative code. Loss is
 * counted as in the ring.
 */
static int replay_once(struct mdbus_sub *s, void *buf, size_t len,
		       struct mdbus_msg *msg)
{
	uint64_t lost = 0;
	int r = replay_read(s->rp, &s->m, &s->pos, &lost, buf, len, msg);

	if (lost)
		count_lost(s, lost);
	if (r == 1) {
		replay_leave(s->rp);
		set_replaying(s, 0);
		publish_position(s);
		/* From the archive, where we gated nothing, the producer's
		 * cached gate does not know us: it looks again. What it
		 * wrote over meanwhile is a lap, read from the archive
		 * (fall_back()) or counted, as any. */
		if (s->entry >= 0)
			join_announce(s);
		return 1;
	}
	if (r < 0 && r != -EAGAIN && s->fd) /* said once (corruption, a file
					     * refused or gone): the next read
					     * goes on at once */
		sub_fd_poke(s->fd);
	if (r < 0)
		return r == -EAGAIN ? not_ready(s) : r;
	msg->lost = s->pending_lost;
	s->pending_lost = 0;
	return 0;
}

/* A message of the archive for mdbus_sub_poll(), from a copy. */
static int poll_replay(struct mdbus_sub *s, mdbus_msg_handler fn, void *arg,
		       int *stop)
{
	size_t max = seg_payload_max(&s->m);
	struct mdbus_msg msg;
	int r;

	if (!s->scratch && !(s->scratch = malloc(max)))
		return -ENOMEM;
	r = replay_once(s, s->scratch, max, &msg);
	if (r != 0)
		return r;
	if (s->skip_before_ns && msg.ts_ns < s->skip_before_ns) {
		s->pending_lost += msg.lost;
		s->slow = 1;
		return 1;
	}
	s->skip_before_ns = 0;
	*stop = fn(arg, &msg, s->scratch) != 0;
	return 0;
}

/* A read that hands control back with messages still to look at (a batch
 * stepped over before a start time): -EAGAIN, and mdbus_sub_fd()'s
 * descriptor readable at once, since its helper waits for the write count
 * to move and the messages are already there. */
static int more_to_look(mdbus_sub_t *s)
{
	if (s->fd)
		sub_fd_poke(s->fd);
	return -EAGAIN;
}

MDBUS_EXPORT MDBUS_HOT int
mdbus_sub_poll(mdbus_sub_t *s, mdbus_msg_handler fn, void *arg, unsigned max)
{
	unsigned got = 0, again = 0;
	int r = 0, stop = 0;

	if (max > INT_MAX) /* the count is returned as an int */
		max = INT_MAX;
	r = check_evicted(s);
	if (r < 0)
		return r;
	if (s->corrupt_next) { /* detail still in mdbus_last_error() */
		s->corrupt_next = 0;
		return MDBUS_ECORRUPT;
	}
	while (got < max && !stop) {
		/* Looked at again after every message poll_run() leaves: a
		 * lap there may send the reader to the archive (fall_back()),
		 * whose messages the ring may still hold, and the archive's
		 * end back to the ring. */
		if (!s->replaying && !s->skip_before_ns && s->m.g.contiguous) {
			int taken = 0;

			got += poll_run(s, fn, arg, max - got, &stop, &taken);
			r = 0;
			if (taken) {
				r = taken;
				if (++again == SKIP_BATCH) {
					(void)more_to_look(s);
					break;
				}
				continue;
			}
			if (got == max || stop)
				break;
		}
		r = s->replaying ? poll_replay(s, fn, arg, &stop)
				 : poll_once(s, fn, arg, &stop);
		if (r == 0)
			got++;
		else if (r < 0)
			break;
		else if (++again == SKIP_BATCH) { /* stepped over that many
						   * before a start time (or
						   * laps): the caller's turn */
			(void)more_to_look(s);
			break;
		}
	}
	/* Once per batch: a lossless producer sees the batch's slots free
	 * when the call returns (not when evicted: the entry may be
	 * another reader's now). */
	if (r != MDBUS_EEVICTED && check_evicted(s) == 0)
		publish_position(s);
	/* Once per call (a call in the loop above would cost every message
	 * of it), when it passed a HOLD_EVERY-th position and did not end
	 * at the producer's heels. From pos - got: a lap or a message taken
	 * back moved pos without counting, and this looks once more or less
	 * then; the call's start kept across the loop cost every message of
	 * a catch-up 1 ns (5.22 -> 6.25 ns, /tmp catchx mdpolld, best of 40
	 * rounds: a register the loop needs). */
	if (r != -EAGAIN && got &&
	    (s->pos & ~(uint64_t)(HOLD_EVERY - 1)) !=
		    ((s->pos - got) & ~(uint64_t)(HOLD_EVERY - 1)))
		(void)hold_back(s);
	s->corrupt_next = got > 0 && r == MDBUS_ECORRUPT;
	if (got > 0 || r == -EAGAIN)
		return (int)got;
	return r < 0 ? r : 0;
}

/* try_read() from the archive, or with a start time to reach: the loop
 * of try_read() off its hot path. It steps over at most SKIP_BATCH
 * messages stamped before the start time per call (then -EAGAIN), so
 * that a start far ahead of a feed that never pauses (a lossless
 * publisher waits for us) still hands control back to the caller. */
static MDBUS_COLD int try_read_slow(mdbus_sub_t *s, void *buf, size_t len,
				    struct mdbus_msg *msg)
{
	unsigned skipped = 0;
	int r;

	do {
		if (skipped == SKIP_BATCH)
			return more_to_look(s);
		r = s->replaying ? replay_once(s, buf, len, msg)
				 : read_once(s, buf, len, msg);
		if (r == 0 && s->skip_before_ns) {
			/* a time start: what is stamped before it is not
			 * returned (losses before it still are) */
			if (msg->ts_ns < s->skip_before_ns) {
				s->pending_lost += msg->lost;
				s->slow = 1;
				skipped++;
				r = 1;
			} else {
				s->skip_before_ns = 0;
			}
		}
	} while (r == 1);
	return r;
}

/* try_read() with every case: evicted, replaying, a start time, a loss
 * to report, a message not there yet, lapped, an odd size. */
static MDBUS_NOINLINE int try_read_any(mdbus_sub_t *s, void *buf, size_t len,
				       struct mdbus_msg *msg)
{
	int r;

	r = check_evicted(s);
	if (MDBUS_UNLIKELY(r < 0))
		return r;
	do {
		/* a lap may send the reader to the archive (fall_back()) */
		if (MDBUS_UNLIKELY(s->replaying || s->skip_before_ns)) {
			r = try_read_slow(s, buf, len, msg);
			break;
		}
		r = read_once(s, buf, len, msg);
	} while (MDBUS_UNLIKELY(r == 1));
	slow_recheck(s);
	/* read_fast()'s hold_back() for the reads it leaves here (every
	 * read of a segmented ring) */
	if (r == 0 && (s->pos & (HOLD_EVERY - 1)) == 0)
		return hold_back(s);
	return r;
}

/*
 * The common case of a reader reading the ring: a complete message, no
 * loss to report, nothing special about the handle (slow clear), a
 * payload of at most max bytes. The steps of read_once() without a call,
 * so that the read saves no registers for one. Returns 0 with the
 * message, READ_HOLD with it at a HOLD_EVERY-th position (hold_back() is
 * then due), READ_LONG for a payload longer than max (nothing taken), or
 * 1 for try_read_any() to look again from the start (also when the
 * producer raced the copy: the stamp has moved on, and it finds the
 * message gone).
 */
MDBUS_INLINE int read_fast(mdbus_sub_t *s, void *buf, size_t len,
			   struct mdbus_msg *msg, size_t max)
{
	const _Atomic uint64_t *slot;
	uint64_t meta, ts, pos = s->pos;
	size_t size;

	/* Pairs with the producer's CAS that evicts us (cons_still_ours()). */
	if (MDBUS_UNLIKELY(s->slow ||
			   atomic_load_explicit(s->own_state,
						memory_order_acquire) != s->own_word))
		return 1;
	/* contiguous (slow clear) */
	slot = seg_slot_pages(&s->m, pos);
	/* Pairs with the producer's release store of complete(pos). */
	if (MDBUS_UNLIKELY(atomic_load_explicit(&slot[SLOT_W_STAMP],
					       memory_order_acquire) !=
			   stamp_complete(pos)))
		return 1;
	meta = atomic_load_explicit(&slot[SLOT_W_META], memory_order_relaxed);
	size = (size_t)(uint32_t)meta;
	if (MDBUS_UNLIKELY(size > len || size > seg_payload_max(&s->m)))
		return 1;
	if (MDBUS_UNLIKELY(size > max))
		return READ_LONG;
	copy_out(buf, slot + SLOT_W_PAYLOAD, size, max <= READ_FAST_MAX);
	/* The time after the copy (fewer values live across it); the
	 * re-check below covers it as it covers the payload. */
	ts = atomic_load_explicit(&slot[SLOT_W_TS], memory_order_relaxed);
	/* Orders the copy before the re-check; pairs with the producer's
	 * release fence after it stamped writing(n) (step 1). */
	atomic_thread_fence(memory_order_acquire);
	if (MDBUS_UNLIKELY(atomic_load_explicit(&slot[SLOT_W_STAMP],
					       memory_order_relaxed) !=
			   stamp_complete(pos)))
		return 1;
	msg->seq = pos;
	msg->ts_ns = ts;
	msg->size = (uint32_t)size;
	msg->type = (uint16_t)(meta >> 32);
	msg->lost = 0;
	s->pos = ++pos;
	/* Release: as publish_position(), which the checks above reduce to
	 * this store (anonymous: to nobody). */
	atomic_store_explicit(s->own_read_num, pos, memory_order_release);
	return (pos & (HOLD_EVERY - 1)) == 0 ? READ_HOLD : 0;
}

static MDBUS_NOINLINE int read_any(mdbus_sub_t *s, void *buf, size_t len,
				   struct mdbus_msg *msg, int64_t timeout_ns);

/* mdbus_sub_read() (wait set, with timeout_ns) or a try_read() of a
 * payload longer than READ_FAST_MAX: read_fast() with the copy's loop,
 * in a frame of its own. */
static MDBUS_NOINLINE int read_long(mdbus_sub_t *s, void *buf, size_t len,
				    struct mdbus_msg *msg, int wait,
				    int64_t timeout_ns)
{
	int r = read_fast(s, buf, len, msg, SIZE_MAX);

	if (r == 0)
		return 0;
	if (r == READ_HOLD)
		return hold_back(s);
	return wait ? read_any(s, buf, len, msg, timeout_ns)
		    : try_read_any(s, buf, len, msg);
}

MDBUS_INLINE int try_read(mdbus_sub_t *s, void *buf, size_t len,
			 struct mdbus_msg *msg)
{
	int r = read_fast(s, buf, len, msg, READ_FAST_MAX);

	if (MDBUS_LIKELY(r == 0))
		return 0;
	if (r == READ_HOLD)
		return hold_back(s);
	if (r == READ_LONG)
		return read_long(s, buf, len, msg, 0, 0);
	return try_read_any(s, buf, len, msg);
}

MDBUS_EXPORT MDBUS_HOT int
mdbus_sub_try_read(mdbus_sub_t *s, void *buf, size_t len,
		   struct mdbus_msg *msg)
{
	return try_read(s, buf, len, msg);
}

/* ---------------------------------------------------------------- views */

/*
 * mdbus_sub_peek()'s run of the ring: the messages from pos on, up to
 * max and to the end of pos's block of slots (a view's slots are one
 * slot apart). The first VIEW_SCAN are found complete by their stamps
 * (and sizes a producer of ours writes): a reader at its producer's
 * heels looks at no other line. A run that fills them goes on to the
 * write count (one load for a catch-up, whose lines the reader then
 * takes once, as it reads them); below it, a slot is complete or a
 * skip's marker (or, forged, holds an odd size), which mdbus_view_msg()
 * finds and ends the view at (doc/protocol.md "Reading"). Scanning every
 * stamp first, the
 * lines taken twice, caught up at 0.75-0.9 times the poll's rate,
 * against 1.1-1.4 times this way (mdbench catch-up, 5 interleaved runs;
 * README.md "Performance"). Returns how many: 0 when the first needs a
 * read's every case (not there, lapped, an odd size).
 */
MDBUS_INLINE unsigned view_run(const struct mdbus_sub *s, unsigned max)
{
	uint64_t pos = s->pos, w, in_block = s->m.g.contiguous ?
		s->m.g.capacity - (pos & (s->m.g.capacity - 1)) :
		s->m.g.slots_per_block - (pos & (s->m.g.slots_per_block - 1));
	const _Atomic uint64_t *slot = seg_slot(&s->m, pos);
	size_t stride = (size_t)1 << s->m.g.slot_shift;
	uint32_t payload_max = s->m.g.payload_max;
	unsigned n = in_block < max ? (unsigned)in_block : max, i;

	for (i = 0; i < n && i < VIEW_SCAN; i++, slot += stride) {
		/* Pairs with the producer's release store of complete(n). */
		if (atomic_load_explicit(&slot[SLOT_W_STAMP], memory_order_acquire) !=
		    stamp_complete(pos + i))
			return i;
		/* Relaxed: after the stamp's acquire load; release's check
		 * covers it. */
		if ((uint32_t)atomic_load_explicit(&slot[SLOT_W_META],
						   memory_order_relaxed) > payload_max)
			return i;
	}
	if (i == n)
		return n;
	/* Acquire: pairs with the producer's release store of the count
	 * (step 4), after every message below it was complete. */
	w = atomic_load_explicit(&s->m.hdr->write_num, memory_order_acquire);
	if (w <= pos + i || w - pos > s->m.g.capacity) /* behind the stamps
		(a batch sealed, not yet counted), or lapping us: those */
		return i;
	return w - pos < n ? (unsigned)(w - pos) : n;
}

/* Fills *v, and the handle's record of the view held. */
static void view_set(struct mdbus_sub *s, struct mdbus_view *v, uint64_t seq,
		     uint64_t lost, unsigned count, const void *base)
{
	v->seq = seq;
	v->lost = lost;
	v->count = count;
	v->stride = s->m.g.slot_size;
	v->payload_max = s->m.g.payload_max;
	v->reserved = 0;
	v->base = base;
	s->view_seq = seq;
	s->view_count = count;
	s->view_lost = lost;
}

/* The view of one message read by every case of try_read(), from a
 * private slot: 1 with it, or as try_read_any() returns. */
static MDBUS_COLD int view_copy(struct mdbus_sub *s, struct mdbus_view *v)
{
	struct mdbus_msg msg;
	int r;

	if (!s->view_slot &&
	    !(s->view_slot = malloc((size_t)s->m.g.slot_size)))
		return -ENOMEM;
	r = try_read_any(s, (void *)(s->view_slot + SLOT_W_PAYLOAD),
			 seg_payload_max(&s->m), &msg);
	if (r < 0)
		return r;
	/* Relaxed: private words, atomic only for mdbus_view_msg()'s loads. */
	atomic_store_explicit(&s->view_slot[SLOT_W_STAMP],
			      stamp_complete(msg.seq), memory_order_relaxed);
	atomic_store_explicit(&s->view_slot[SLOT_W_TS], msg.ts_ns,
			      memory_order_relaxed);
	atomic_store_explicit(&s->view_slot[SLOT_W_META],
			      (uint64_t)msg.size | (uint64_t)msg.type << 32,
			      memory_order_relaxed);
	view_set(s, v, msg.seq, msg.lost, 1, (const void *)s->view_slot);
	s->view_copied = 1;
	return 1;
}

MDBUS_EXPORT int mdbus_sub_peek(mdbus_sub_t *s, struct mdbus_view *v,
				unsigned max)
{
	unsigned n;
	int r;

	if (max == 0)
		return -EINVAL;
	if (max > INT_MAX) /* the count is returned as an int */
		max = INT_MAX;
	if (s->view_copied) {
		if (s->view_count && s->pos == s->view_seq + 1) {
			/* still held: given again */
			view_set(s, v, s->view_seq, s->view_lost, 1,
				 (const void *)s->view_slot);
			return 1;
		}
		s->view_copied = 0; /* read past by another call */
	}
	s->view_count = 0;
	r = check_evicted(s);
	if (r < 0)
		return r;
	n = s->replaying || s->skip_before_ns ? 0 : view_run(s, max);
	if (n == 0) {
		r = view_copy(s, v);
		return r == -EAGAIN ? 0 : r;
	}
	view_set(s, v, s->pos, s->pending_lost, n,
		 (const void *)seg_slot(&s->m, s->pos));
	return (int)n;
}

/*
 * How many of a view's first `used` messages the producer overwrote
 * while it was held: always a prefix (it writes the slots in order), so
 * the first slot whose stamp still says its message ends it. A read of
 * the view that met any word of a later message makes the stamp that
 * the producer wrote over the view's first slot before it visible here.
 */
static unsigned view_torn(const struct mdbus_sub *s, uint64_t seq,
			  unsigned used)
{
	unsigned k;

	/* Orders the caller's reads of the view before the loads below;
	 * pairs with the producer's release fence after it stamped
	 * writing(n) (step 1), as poll_once()'s re-check. */
	atomic_thread_fence(memory_order_acquire);
	for (k = 0; k < used; k++)
		if (atomic_load_explicit(&seg_slot(&s->m, seq + k)[SLOT_W_STAMP],
					 memory_order_relaxed) ==
		    stamp_complete(seq + k))
			break;
	return k;
}

MDBUS_EXPORT int mdbus_sub_release(mdbus_sub_t *s, const struct mdbus_view *v,
				   unsigned used)
{
	uint64_t from = s->pos;
	unsigned torn;

	if (!s->view_count || v->seq != s->view_seq || used > s->view_count)
		return -EINVAL;
	if (s->view_copied) {
		if (s->pos != s->view_seq + 1)
			return -EINVAL;
		if (used) {
			s->view_copied = 0;
			s->view_count = 0;
		}
		return 0;
	}
	if (s->pos != s->view_seq)
		return -EINVAL;
	if (used == 0)
		return 0;
	torn = view_torn(s, s->view_seq, used);
	s->pos = s->view_seq + used;
	s->pending_lost = 0; /* handed over with the view's first message */
	s->view_count = 0;
	if (torn) { /* as take_back(): lost, not in a next msg.lost */
		s->lost += torn;
		if (s->entry >= 0) /* relaxed: statistics only (layout.h) */
			atomic_store_explicit(&s->m.table[s->entry].lost, s->lost,
					      memory_order_relaxed);
	}
	if (check_evicted(s) == 0)
		publish_position(s);
	/* As mdbus_sub_poll(): hold_back() once a call that passed a
	 * HOLD_EVERY-th position. */
	if ((s->pos & ~(uint64_t)(HOLD_EVERY - 1)) !=
	    (from & ~(uint64_t)(HOLD_EVERY - 1)))
		(void)hold_back(s);
	return (int)torn;
}

/* A reader whose publisher is not active looks, every NAME_CHECK_NS,
 * whether the channel's name still refers to its file: a segment removed
 * and made again by a new publisher leaves ours orphaned, and nobody marks
 * an orphan replaced. /proc and a stat(), at most 10 times a second. */
static void check_name(struct mdbus_sub *s)
{
	struct mdbus_pub_info info;
	uint64_t now = clock_mono_ns();

	if (now < s->name_check_ns)
		return;
	s->name_check_ns = now + NAME_CHECK_NS;
	seg_pub_info(s->m.hdr, &info);
	if (info.state != MDBUS_PUB_ACTIVE &&
	    seg_map_renamed(&s->m, seg_dir(s->dir), s->channel) == 1)
		s->renamed = 1;
}

MDBUS_EXPORT void mdbus_sub_interrupt(mdbus_sub_t *s)
{
	wait_bell_ring(s->bell);
}

void sub_wait_for(const mdbus_sub_t *s, struct wait_for *wf, int announce)
{
	wf->pos = s->pos;
	wf->bell = NULL;
	wf->rings_seen = 0;
	wf->waiting = NULL;
	wf->armed = NULL;
	wf->state = (struct wait_state *)&s->wait_state;
	wf->watch_pub_state = 0;
	wf->entry_state = NULL;
	if (s->entry < 0)
		return;
	if (announce) {
		wf->waiting = &s->m.table[s->entry].waiting;
		wf->armed = &s->m.table[s->entry].armed;
	}
	wf->waiting_tag = (uint32_t)cons_gen(s->word) << 8 | 1;
	wf->entry_state = &s->m.table[s->entry].state;
	wf->entry_word = s->word;
}

/* Waiting for the archive to write what the reader needs: 1 ms naps
 * (nothing wakes us: the archive flushes on its own delay). */
static int replay_nap(struct mdbus_sub *s, uint64_t deadline)
{
	struct timespec nap = { 0, REPLAY_NAP_NS };
	uint64_t now = clock_mono_ns();

	/* Relaxed: the count is only compared (wait.c wait_rang()). */
	if (atomic_load_explicit(&s->bell->rings, memory_order_relaxed) !=
	    s->rings_seen)
		return -EINTR;
	if (now >= deadline)
		return -ETIMEDOUT;
	if (deadline - now < REPLAY_NAP_NS)
		nap.tv_nsec = (long)(deadline - now);
	return nanosleep(&nap, NULL) < 0 ? -errno : 1;
}

/* The write count a wait waits to pass: pos, or the count at which the
 * archive sent the reader straight back to a ring that laps it at pos
 * (lapped()): nothing changes until that count moves, and pos is below
 * it, so waiting for pos would not sleep. */
static uint64_t wait_count(const struct mdbus_sub *s)
{
	return !s->replaying && s->fell_pos == s->pos + 1 ? s->fell_w : s->pos;
}

/*
 * Spinning (MDBUS_WAIT_SPIN), after a try with every check found nothing
 * (read_wait()): looks at the stamp of pos's slot up to SPIN_TRIES times
 * and reads the message with read_fast() the moment the stamp says
 * complete(pos); between two looks, a pause while the stamp says
 * writing(pos) (so that the reader does not take the slot's lines from
 * under the stores that complete it), else, while it holds an older
 * message, a touch of the slot's other cache lines (slot_touch()). A
 * later stamp (lapped, or forged), or a complete one that read_fast()
 * leaves (a loss to report, a start time, a buffer too small, an odd
 * size, a copy raced, the entry no longer ours), ends the looks, and so
 * does the last of them: then one try with every check, whose result is
 * returned (-EAGAIN: the caller looks at the bell and the deadline). A
 * forged entry is noticed by that try, 256 looks later at most; a write
 * count past a slot never written only every CORRUPT_LOOK_EVERY tries
 * that found nothing (not_ready()), two a round: 128 rounds, 32768
 * looks (60 us measured with an older stamp in the slot, 0.9 ms with
 * writing(pos): each look then a pause). A look costs about 20
 * instructions; a whole try at each (170), measured in the same runs,
 * put one-way p50 higher (README.md, "Performance"). Returning -EAGAIN
 * after the looks without that last try measured no better (p50 +10 ns
 * over the ring in two sets, against +0 and +1).
 */
static int spin_read(mdbus_sub_t *s, void *buf, size_t len,
		     struct mdbus_msg *msg)
{
	uint64_t pos = s->pos;
	const _Atomic uint64_t *slot = seg_slot(&s->m, pos);
	unsigned k;

	for (k = 0; k < SPIN_TRIES; k++) {
		/* Relaxed: a hint, as in wait_watch(); read_fast() acquires */
		uint64_t stamp = atomic_load_explicit(&slot[SLOT_W_STAMP],
						      memory_order_relaxed);

		if (stamp == stamp_complete(pos)) {
			int r = read_fast(s, buf, len, msg, SIZE_MAX);

			if (r == 0)
				return 0;
			if (r == READ_HOLD)
				return hold_back(s);
			break;
		}
		if (stamp > stamp_writing(pos))
			break;
		if (stamp == stamp_writing(pos))
			cpu_relax();
		else
			slot_touch(slot, s->m.g.slot_size / 8);
	}
	return try_read(s, buf, len, msg);
}

/* mdbus_sub_read() when nothing was there: waits by the handle's strategy.
 * Out of line, so that a read that finds its message sets up no frame for
 * the wait (a busy feed's common case). */
static MDBUS_NOINLINE int read_wait(mdbus_sub_t *s, void *buf, size_t len,
				    struct mdbus_msg *msg, int64_t timeout_ns)
{
	uint64_t deadline = UINT64_MAX;
	struct wait_for wf;
	unsigned round;
	int r, landed = 0;

	sub_wait_for(s, &wf, s->fd == NULL);
	wf.bell = s->bell;
	wf.rings_seen = s->rings_seen;
	for (round = 0;; round++) {
		uint64_t pos = s->pos;

		/* a wait, not a blip (hold_back()): a second round, unless an
		 * adaptive watch saw the message land in the first */
		if (round > 1 || (round == 1 && !landed))
			s->gap_pos = pos;
		r = try_read(s, buf, len, msg);
		wf.pos = wait_count(s);
		if (r != -EAGAIN)
			return r;
		if (deadline == UINT64_MAX && timeout_ns >= 0)
			deadline = clock_mono_ns() + (uint64_t)timeout_ns;
		if (s->pos != pos) { /* stepped over messages before a start
				      * time: more may come at once, and
				      * keep coming from a feed faster than
				      * the steps, so the bell and the
				      * deadline are looked at here too */
			if (wait_rang(&wf))
				r = -EINTR;
			else if (deadline != UINT64_MAX && clock_mono_ns() >= deadline)
				return -ETIMEDOUT;
			else
				continue;
		} else if (s->renamed) {
			return MDBUS_EREPLACED;
		} else if (s->replaying) {
			r = replay_nap(s, deadline);
		} else {
			/* Spinning, a message is read as it lands; once the
			 * archive sent the reader back (wf.pos past pos),
			 * pos's slot holds a later stamp and says nothing
			 * until the write count moves: each round is then
			 * one try and the step's look at the bell and the
			 * deadline. An adaptive wait watches the slot, then
			 * still takes its step: the step times the wait,
			 * which sets the next one's spin budget (wait.c
			 * adapt_begin()), and sleeps only past that budget. */
			if (s->wait == MDBUS_WAIT_SPIN && wf.pos == pos) {
				r = spin_read(s, buf, len, msg);
				if (r != -EAGAIN)
					return r;
			} else if (s->wait == MDBUS_WAIT_ADAPTIVE) {
				landed = wait_watch(seg_slot(&s->m, pos),
						    s->m.g.slot_size / 8, pos);
			}
			r = wait_step(&s->m, s->wait, &wf, round, deadline);
		}
		/* Every ring so far is answered by this -EINTR. Relaxed: the
		 * count is only compared (wait_rang() and the futex). */
		if (r == -EINTR)
			s->rings_seen = atomic_load_explicit(&s->bell->rings,
							     memory_order_relaxed);
		if (r < 0)
			return r;
		if (r > 0 || (round & 1023) == 1023)
			check_name(s);
	}
}

/* mdbus_sub_read() past read_fast(). */
static MDBUS_NOINLINE int read_any(mdbus_sub_t *s, void *buf, size_t len,
				   struct mdbus_msg *msg, int64_t timeout_ns)
{
	int r = try_read_any(s, buf, len, msg);

	if (r != -EAGAIN)
		return r;
	return read_wait(s, buf, len, msg, timeout_ns);
}

MDBUS_EXPORT MDBUS_HOT int
mdbus_sub_read(mdbus_sub_t *s, void *buf, size_t len, struct mdbus_msg *msg,
	       int64_t timeout_ns)
{
	int r = read_fast(s, buf, len, msg, READ_FAST_MAX);

	/* the common case of a busy feed: no call, no wait set up */
	if (MDBUS_LIKELY(r == 0))
		return 0;
	if (r == READ_HOLD)
		return hold_back(s);
	if (r == READ_LONG)
		return read_long(s, buf, len, msg, 1, timeout_ns);
	return read_any(s, buf, len, msg, timeout_ns);
}

/* What mdbus_sub_fd()'s helper waits for, and the channel's name as a
 * path (PATH_MAX bytes). */
static void fd_watch(const mdbus_sub_t *s, struct wait_for *wf, char *path)
{
	sub_wait_for(s, wf, 1);
	seg_path(path, PATH_MAX, seg_dir(s->dir), s->channel);
}

MDBUS_EXPORT int mdbus_sub_fd(mdbus_sub_t *s)
{
	struct wait_for wf;
	char path[PATH_MAX];

	if (s->fd)
		return sub_fd_number(s->fd);
	fd_watch(s, &wf, path);
	return sub_fd_open(&s->fd, &s->m, &wf, s->replaying, path);
}

/* ----------------------------------------------------------- accessors */

MDBUS_EXPORT void mdbus_sub_set_hold_back(mdbus_sub_t *s, uint64_t distance)
{
	s->hold = distance;
}

MDBUS_EXPORT int mdbus_sub_replaying(const mdbus_sub_t *s)
{
	return s->replaying;
}

MDBUS_EXPORT int mdbus_sub_registered(const mdbus_sub_t *s)
{
	return s->entry >= 0;
}

MDBUS_EXPORT int mdbus_sub_caught_up(const mdbus_sub_t *s)
{
	/* Acquire pairs with the producer's release store of write_num. */
	return s->pos >= atomic_load_explicit(&s->m.hdr->write_num,
					      memory_order_acquire);
}

MDBUS_EXPORT uint64_t mdbus_sub_position(const mdbus_sub_t *s)
{
	return s->pos;
}

MDBUS_EXPORT uint64_t mdbus_sub_lost(const mdbus_sub_t *s)
{
	return s->lost;
}

MDBUS_EXPORT uint64_t mdbus_sub_loss_events(const mdbus_sub_t *s)
{
	return s->loss_events;
}

MDBUS_EXPORT uint64_t mdbus_sub_archive_skipped(const mdbus_sub_t *s)
{
	return s->rp ? replay_skipped(s->rp) : 0;
}

MDBUS_EXPORT size_t mdbus_sub_payload_max(const mdbus_sub_t *s)
{
	return seg_payload_max(&s->m);
}

MDBUS_EXPORT uid_t mdbus_sub_owner(const mdbus_sub_t *s)
{
	return s->m.uid;
}

MDBUS_EXPORT uint64_t mdbus_sub_epoch(const mdbus_sub_t *s)
{
	return s->m.g.epoch; /* copied from the identity at attach */
}

MDBUS_EXPORT int mdbus_sub_pub_info(const mdbus_sub_t *s,
				    struct mdbus_pub_info *info)
{
	seg_pub_info(s->m.hdr, info);
	if (info->state != MDBUS_PUB_ACTIVE &&
	    (s->renamed ||
	     seg_map_renamed(&s->m, seg_dir(s->dir), s->channel) == 1))
		info->state = MDBUS_PUB_REPLACED;
	return 0;
}

static void detach(struct mdbus_sub *s)
{
	if (s->entry >= 0)
		cons_unregister(&s->m, s->entry, s->word);
	set_entry(s, -1);
	seg_unmap(&s->m);
}

static int is_replaced(const struct seg_map *m)
{
	/* Acquire pairs with the release store of REPLACED. */
	return atomic_load_explicit(&m->hdr->pub_state, memory_order_acquire) ==
	       SEG_PUB_REPLACED;
}

/* Maps the segment under the name, waiting up to REOPEN_WAIT_MS while it
 * is still the replaced one (the replacer marks the old segment before
 * the new one takes its name). */
static int map_current(struct mdbus_sub *fresh)
{
	struct timespec pause = { 0, 10000000L };
	int r, tries;

	for (tries = 0;; tries++) {
		r = attach_map(fresh);
		if (r < 0 || !is_replaced(&fresh->m))
			return r;
		replay_close(fresh->rp);
		fresh->rp = NULL;
		seg_unmap(&fresh->m);
		if (tries * 10 >= REOPEN_WAIT_MS)
			return err_set(MDBUS_EREPLACED,
				       "channel %s: no new segment after %d ms",
				       fresh->channel, REOPEN_WAIT_MS);
		nanosleep(&pause, NULL);
	}
}

/*
 * Maps the segment now under the name; in the same segment keeps our
 * place and gives our entry back before taking one, so that a full table
 * has room for us (an evicted reader's entry is ours to give back).
 */
/* reopen() in the same segment: our old consumer entry given back; the
 * handle entry-less (reads MDBUS_EEVICTED) until the new one is its. */
static void give_back_entry(mdbus_sub_t *s)
{
	cons_unregister(&s->m, s->entry, s->word);
	set_entry(s, -1);
	s->evicted = s->m.writable;
	s->slow = 1;
}

static int reopen(mdbus_sub_t *s, enum mdbus_start start, uint64_t seq)
{
	struct mdbus_sub fresh = *s;
	int same, r, took = 0, kept_copy = 0;

	err_clear();
	if (start == MDBUS_START_SEQ && (r = check_start_seq(seq)) < 0)
		return r;
	fresh.start = start;
	fresh.start_seq = seq;
	fresh.start_time_ns = seq;
	fresh.rp = NULL;
	fresh.view_count = 0; /* a view of before: released by nothing (a
				* copied one still held is kept below) */
	fresh.view_copied = 0;
	r = map_current(&fresh);
	if (r < 0)
		return r;
	same = fresh.m.g.epoch == s->m.g.epoch;
	if (same) { /* our place, and our archive if we had one */
		fresh.pos = s->pos;
		fresh.skip_before_ns = s->skip_before_ns;
		if (s->rp) {
			replay_close(fresh.rp);
			fresh.rp = s->rp;
			fresh.replaying = s->replaying;
			took = 1;
		}
		/* A copied view still held: the peek took its message (the
		 * position is past it), so it stays held, the next peek's, as
		 * without the reopen. Given up, that message was neither read
		 * nor counted (review of the Python binding's views: a
		 * reopen after a block that raised skipped it). */
		if (s->view_copied && s->view_count && s->pos == s->view_seq + 1) {
			fresh.view_copied = 1;
			fresh.view_count = s->view_count;
			kept_copy = 1;
		}
	}
	/* The new entry first, while the old one still holds our place
	 * (a lossless producer waits for it), unless the table is full:
	 * given back first, a lossless reader lost what its producer wrote
	 * over meanwhile (t_threads_more join: 2-11 of 150000 in 4 runs
	 * of 5, reopening every 3000). */
	r = attach_register(&fresh, !same && start == MDBUS_START_LATEST,
			    same || start_counts_gap(start));
	if (r == MDBUS_EFULL && same && s->entry >= 0) {
		give_back_entry(s);
		r = attach_register(&fresh, 0, 1);
	}
	if (same && s->entry >= 0) {
		/* The new entry in the old one's place was free, claimed
		 * anew, under the same word when the table was cut and made
		 * again (zeros: the same first word for the same pid): not
		 * ours to give back (t_truncate: evicted twice, 5 runs of
		 * 20). */
		if (r == 0 && fresh.entry == s->entry)
			set_entry(s, -1);
		else
			give_back_entry(s);
	}
	if (r < 0) {
		if (!took)
			replay_close(fresh.rp);
		seg_unmap(&fresh.m);
		return r;
	}
	publish_position(&fresh);
	fresh.gap_pos = fresh.pos;
	fresh.empty_tries = 0;
	ahead_forget(&fresh);
	/* sized by the old segment's slots: made again at first use */
	free(fresh.scratch);
	fresh.scratch = NULL;
	if (!kept_copy) {
		free(fresh.view_slot);
		fresh.view_slot = NULL;
	}
	detach(s);
	if (!took)
		replay_close(s->rp);
	/* Every field but the bell: another thread's mdbus_sub_interrupt()
	 * loads that pointer meanwhile, and a store of the same value would
	 * still race with it (C11 5.1.2.4). */
	memcpy(s, &fresh, offsetof(struct mdbus_sub, bell));
	/* read_fast()'s pointers: an anonymous handle's are at fresh's
	 * words (t_unit reopen_anonymous_stack) */
	set_entry(s, s->entry);
	return 0;
}

/* The helper of mdbus_sub_fd() sleeps in the mapping: it stops before
 * the mapping changes and starts again on the one in force after. */
MDBUS_EXPORT int mdbus_sub_reopen(mdbus_sub_t *s, enum mdbus_start start,
				  uint64_t seq)
{
	struct wait_for wf;
	int r;

	sub_fd_stop(s->fd);
	r = reopen(s, start, seq);
	if (s->fd) {
		char path[PATH_MAX];
		int started;

		fd_watch(s, &wf, path);
		started = sub_fd_start(s->fd, &s->m, &wf, s->replaying, path);
		if (r == 0 && started < 0) /* the descriptor would go dead */
			r = err_set(started, "mdbus_sub_fd()'s helper: %s",
				    strerror(-started));
	}
	return r;
}

MDBUS_EXPORT void mdbus_sub_close(mdbus_sub_t *s)
{
	if (!s)
		return;
	sub_fd_close(s->fd);
	detach(s);
	replay_close(s->rp);
	free(s->scratch);
	free(s->view_slot);
	free(s->archive_dir);
	free(s->owner);
	free(s->dir);
	free(s->bell);
	free(s);
}
