/*
 * layout.h - the shared segment's binary layout (doc/protocol.md,
 * "Segment layout").
 *
 * A channel is two files: the data file (header and blocks), which only
 * the publisher's uid may write, and the consumer table file (table
 * header and entries), which registered readers write too. They hold
 * offsets and counters only, never pointers. Every field
 * another process may touch is _Atomic and accessed with an explicit memory
 * order at the call site; the comment on each field names the write its
 * reads pair with. Fields of the identity part are written once, relaxed,
 * before the magic word is release-stored last (seg_create.c header_init()), and
 * read relaxed after an acquire load of the magic; a reader copies them out
 * once and never reads them again.
 *
 *   data file  mdbus.CHANNEL
 *   [0, 4096)            struct seg_header (first page; its counters
 *                        area at [1024, 2048))
 *   [blocks_off, total)  block_count blocks of slots_per_block slots,
 *                        blocks_off (4096) and every block page aligned
 *
 *   table file mdbus.CHANNEL+EPOCH (16 hex digits: the data's epoch)
 *   [0, 4096)            struct seg_table_header
 *   [table_off, ...)     max_consumers x struct seg_consumer (128 B each),
 *                        table_off = 4096, the file table_size bytes
 *
 * A slot is slot_size bytes, 64-byte aligned: a 24-byte header of three
 * 64-bit words (stamp, timestamp, size|type) then the payload, accessed as
 * 64-bit atomic words so that a reader's copy racing the writer is defined
 * behaviour (the seqlock re-check then discards it).
 */
#ifndef MDBUS_LAYOUT_H
#define MDBUS_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mdbus.h"

#define SEG_MAGIC 0x3153554244444d4dULL /* "MMDDBUS1" little-endian */
#define SEG_TABLE_MAGIC 0x3142415453554244ULL /* "DBUSTAB1" little-endian */
#define SEG_HEADER_SIZE 4096u
#define SEG_CACHELINE 64u
#define SEG_SLOT_MIN 64u
#define SEG_SLOT_MAX (1u << 20)
#define SEG_CONSUMERS_MAX 4096u
#define SEG_CAPACITY_MAX (1ULL << 32)
#define SEG_TOTAL_MAX (1ULL << 40)
#define SEG_ARCHIVE_DIR_MAX 512u /* bytes of the archive path, NUL included */

/* Archive states (seg_header.archive_state). */
#define SEG_ARCHIVE_NONE 0u /* the publisher keeps no archive */
#define SEG_ARCHIVE_ON 1u   /* archive_dir holds one */

/* Publisher states (seg_header.pub_state). DEAD is never stored: readers
 * derive it from pid + start time. */
#define SEG_PUB_NONE 0u
#define SEG_PUB_ACTIVE 1u
#define SEG_PUB_STOPPED 2u
#define SEG_PUB_REPLACED 3u

/*
 * Consumer entry state word (64 bits): bits 0-7 the state, 8-31 a
 * generation bumped on every transition, 32-63 the owner's pid. The owner's
 * pid travels in the same compare-and-swap that claims the entry, so a
 * reclaimer always knows whose entry it looks at, and the generation makes
 * its compare-and-swap fail when the entry changed hands since (no ABA).
 */
#define CONS_FREE 0u
#define CONS_CLAIMING 1u /* being filled in by the pid in the word */
#define CONS_ACTIVE 2u
#define CONS_EVICTED 3u  /* lossless producer gave up on it */
#define CONS_RECLAIMING 4u /* the pid in the word frees a dead owner's entry */

static inline uint32_t cons_state(uint64_t w) { return (uint32_t)(w & 0xffu); }
static inline uint64_t cons_gen(uint64_t w) { return (w >> 8) & 0xffffffu; }
static inline int32_t cons_pid(uint64_t w) { return (int32_t)(w >> 32); }
/* The word after w: state st, owner pid, generation + 1. */
static inline uint64_t cons_next(uint64_t w, uint32_t st, int32_t pid)
{
	uint64_t gen = ((w >> 8) + 1) & 0xffffffu;

	return ((uint64_t)(uint32_t)pid << 32) | (gen << 8) | st;
}

/*
 * The counters area (doc/protocol.md, "Counters"): a fixed table of
 * labelled 64-bit counters that the publisher defines and updates, for
 * any tool to read. `defs` holds the number of counters defined (bits
 * 0-31) and a change count (bits 32-63) bumped when the publisher empties
 * the table: a reader copies labels and values between two loads of it
 * and copies again when they differ (a seqlock, as the slot stamps).
 */
#define SEG_COUNTERS_MAX 24u
#define SEG_COUNTER_LABEL 28u /* bytes: a label and at least one NUL */
#define SEG_COUNTER_TOTAL 0u  /* kind: only grows while its publisher runs */
#define SEG_COUNTER_GAUGE 1u  /* kind: goes up and down */

static inline uint32_t defs_count(uint64_t d) { return (uint32_t)d; }
static inline uint64_t defs_change(uint64_t d) { return d >> 32; }

struct seg_counter_meta {
	_Atomic uint32_t kind;                      /* SEG_COUNTER_* */
	_Atomic uint32_t label[SEG_COUNTER_LABEL / 4]; /* NUL-padded */
};

struct seg_counters {
	_Atomic uint64_t defs;   /* count | change << 32: release-stored by
				    the publisher after it wrote an entry,
				    and before (relaxed, then a release
				    fence) it empties the table */
	uint64_t zero[7];
	_Atomic uint64_t value[SEG_COUNTERS_MAX];  /* relaxed: statistics */
	struct seg_counter_meta meta[SEG_COUNTERS_MAX];
};

struct seg_header {
	/* ---- identity: written once before magic, then immutable ---- */
	_Atomic uint64_t magic;          /* release-stored last at creation */
	_Atomic uint32_t version_major;
	_Atomic uint32_t version_minor;
	_Atomic uint32_t slot_size;
	_Atomic uint32_t slots_per_block;
	_Atomic uint32_t block_count;
	_Atomic uint32_t max_consumers;
	_Atomic uint32_t mode;
	_Atomic uint32_t header_size;
	_Atomic uint64_t table_size;     /* bytes of the table file */
	_Atomic uint64_t blocks_off;
	_Atomic uint64_t total_size;
	_Atomic uint64_t create_ns;
	_Atomic uint64_t epoch;
	_Atomic uint64_t channel[MDBUS_CHANNEL_MAX / 8 + 1]; /* NUL-padded */

	/* ---- publisher liveness (written by the publisher) ---- */
	_Alignas(64) _Atomic int32_t pub_pid;   /* release-stored after start */
	_Atomic uint32_t pub_state;             /* SEG_PUB_*, release */
	_Atomic uint64_t pub_start;             /* /proc start time of pid */
	_Atomic uint64_t heartbeat_ns;          /* relaxed; a hint only */

	/* ---- the write count: messages published (release on publish) ---- */
	_Alignas(64) _Atomic uint64_t write_num;

	/* ---- blocking readers: the futex word, bumped per wake ---- */
	_Alignas(64) _Atomic uint32_t wake_seq;

	/* ---- the publisher's counters, [1024, 2048) ---- */
	_Alignas(1024) struct seg_counters counters;

	/* ---- the archive (doc/protocol.md, "Archive"): [2048, 3072) ---- */
	_Alignas(2048) _Atomic uint64_t archive_gen; /* seqlock over
					archive_state and archive_dir: odd
					while the publisher rewrites them
					(release fence after the odd store,
					release store of the even one) */
	_Atomic uint32_t archive_state; /* SEG_ARCHIVE_*, under archive_gen */
	_Atomic uint32_t archive_zero;
	/* written by the publisher's archive as it flushes */
	_Alignas(64) _Atomic uint64_t archive_lost; /* relaxed, before the
					release store of archive_next */
	_Atomic uint64_t archive_next;  /* release after the files hold every
					message below it that archive_lost
					does not count */
	_Alignas(64) _Atomic uint64_t archive_dir[SEG_ARCHIVE_DIR_MAX / 8];
					/* absolute path, NUL-padded, under
					archive_gen */
	unsigned char archive_reserved[3072 - 2176 - SEG_ARCHIVE_DIR_MAX];
					/* zero, up to the nudger's words */

	/* ---- the publisher's nudger (pub_nudge.c) ---- */
	_Atomic uint64_t nudge_ns; /* the interval it promises,
					  0 = no nudger: release-stored after
					  nudge_pid, acquired by anonymous
					  readers (wait.c) */
	_Atomic int32_t nudge_pid;    /* the publisher whose nudger runs */
	_Atomic uint32_t nudge_waiting; /* 1 while the nudger sleeps until
					  the next message: seq_cst, the
					  Dekker pair with the producer's
					  exchange of write_num (wait.c
					  wait_nudger_idle(), pub.c) */
	_Atomic uint32_t nudge_seq;   /* the nudger's futex word, bumped
					  (release) per nudge and per state
					  change; anonymous readers sleep on
					  it alone, so that registered
					  sleepers never wake for a nudge and
					  the producer's counted wake of
					  wake_seq reaches them (wait.c) */
};

/* The table file's first page. Readers that registered write it: nothing
 * in it is trusted as an index or length, and a mapping of it survives
 * the file's truncation (table_guard.c). */
struct seg_table_header {
	/* ---- identity: written once before magic, then immutable ---- */
	_Atomic uint64_t magic;          /* release-stored last at creation */
	_Atomic uint32_t version_major;
	_Atomic uint32_t version_minor;
	_Atomic uint64_t epoch;          /* the data file's */
	_Atomic uint32_t max_consumers;
	_Atomic uint32_t zero;

	/* ---- blocking readers ---- */
	_Alignas(64) _Atomic uint64_t waiters; /* readers inside the wait:
						  count | changes << 32, see
						  waiters_count() */

	/* ---- consumer registration counters (relaxed, statistics) ---- */
	_Alignas(64) _Atomic uint64_t registrations;
	_Atomic uint64_t reclaims;  /* dead entries freed */
	_Atomic uint64_t evictions; /* stalled lossless readers evicted */

	/* ---- readers that may sleep (doc/protocol.md, "Waiting") ---- */
	_Alignas(64) _Atomic uint64_t armed_seq; /* bumped (seq_cst) after an
					entry's `armed` flag was set or
					cleared; the producer loads it
					(relaxed) after every write_num store
					and recounts the flags when it moved */
	_Atomic uint64_t join_seq;  /* bumped (seq_cst) after a reader's
					entry joined a lossless channel; a
					lossless producer loads it (relaxed)
					before every write and looks at the
					table when it moved (4.1) */
};

struct seg_consumer {
	_Atomic uint64_t state;      /* CONS_* | generation | pid, see above */
	_Atomic uint64_t pid_start;  /* owner tag, cons_tag(): the /proc start
					time of the pid in the state word and
					the generation it went in with; written
					first thing while CLAIMING or
					RECLAIMING, read after an acquire load
					of state */
	_Atomic uint64_t read_num;   /* next seq it will read; release-stored
					after the copy, acquired by a lossless
					producer before reusing a slot */
	_Atomic uint64_t lost;       /* relaxed, statistics only */
	_Atomic uint64_t name[(MDBUS_NAME_MAX + 1) / 8]; /* NUL-padded; written
					while CLAIMING */
	/* ---- second line: written by the owner only around a sleep ---- */
	_Alignas(64) _Atomic uint32_t waiting; /* 1 from before the owner
					counts itself in the header's waiters
					until after it took itself out; only
					the owner, or a reclaimer of a dead
					owner, stores it (wait.c, consumers.c) */
	_Atomic uint32_t armed;  /* the owner's tag from before its first
					sleep (wait.c arm()) until it leaves
					or a reclaimer clears it: while any
					live entry has it, the producer makes
					write_num public with an exchange */
	uint32_t pad[14];
};

/*
 * The header's waiters word: the number of readers counted as inside a
 * futex wait in bits 0-31, and in bits 32-63 a count of changes, bumped by
 * every increment, decrement and repair, so that a repair's
 * compare-and-swap fails whenever any reader came or went since it looked
 * (consumers.c cons_repair_waiters()).
 */
#define WAITERS_ONE ((1ULL << 32) + 1)      /* add: one more, one change */
#define WAITERS_LESS ((1ULL << 32) - 1)     /* add: one less, one change */
static inline uint32_t waiters_count(uint64_t w) { return (uint32_t)w; }

/* The owner tag: the generation of the CLAIMING or RECLAIMING word its
 * writer made (bits 40-63) and that process's start time (bits 0-39;
 * clock ticks since boot), so a reclaimer can tell a claimant's own start
 * time from a previous owner's still in the field. */
#define CONS_TAG_START_MASK ((1ULL << 40) - 1)
static inline uint64_t cons_tag(uint64_t w, uint64_t start)
{
	return cons_gen(w) << 40 | (start & CONS_TAG_START_MASK);
}
static inline uint64_t cons_tag_start(uint64_t t) { return t & CONS_TAG_START_MASK; }
static inline uint64_t cons_tag_gen(uint64_t t) { return t >> 40; }

/* Slot header words (index into the slot as uint64 words). */
#define SLOT_W_STAMP 0 /* see stamp_*() */
#define SLOT_W_TS 1
#define SLOT_W_META 2  /* size | type << 32 */
#define SLOT_W_PAYLOAD 3

/* Shared-memory atomics must be lock-free: a lock-based one would lock
 * per process, i.e. not at all between processes. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2 &&
	       ATOMIC_INT_LOCK_FREE == 2, "64- and 32-bit atomics lock-free");
_Static_assert(sizeof(uint64_t) == sizeof(unsigned long) ||
	       sizeof(uint64_t) == sizeof(unsigned long long), "uint64_t");
_Static_assert(sizeof(struct seg_header) <= SEG_HEADER_SIZE, "header page");
_Static_assert(sizeof(struct seg_table_header) <= SEG_HEADER_SIZE, "table page");
_Static_assert(sizeof(struct seg_consumer) == 128, "consumer entry lines");
_Static_assert(SEG_HEADER_SIZE % sizeof(struct seg_consumer) == 0,
	       "the table starts on a whole entry");
_Static_assert(SLOT_W_PAYLOAD * 8 == MDBUS_SLOT_HEADER, "slot header size");
/* The offsets doc/protocol.md gives. */
_Static_assert(offsetof(struct seg_header, epoch) == 72 &&
	       offsetof(struct seg_header, pub_pid) == 192 &&
	       offsetof(struct seg_header, write_num) == 256 &&
	       offsetof(struct seg_header, wake_seq) == 320 &&
	       offsetof(struct seg_header, nudge_ns) == 3072 &&
	       offsetof(struct seg_header, nudge_pid) == 3080 &&
	       offsetof(struct seg_header, nudge_waiting) == 3084 &&
	       offsetof(struct seg_header, nudge_seq) == 3088, "header offsets");
_Static_assert(offsetof(struct seg_header, counters) == 1024 &&
	       offsetof(struct seg_header, counters.value) == 1088 &&
	       offsetof(struct seg_header, counters.meta) == 1280 &&
	       sizeof(struct seg_counters) == 1024, "counters offsets");
_Static_assert(offsetof(struct seg_header, archive_gen) == 2048 &&
	       offsetof(struct seg_header, archive_lost) == 2112 &&
	       offsetof(struct seg_header, archive_next) == 2120 &&
	       offsetof(struct seg_header, archive_dir) == 2176 &&
	       offsetof(struct seg_header, archive_dir) + SEG_ARCHIVE_DIR_MAX <= 3072,
	       "archive offsets");
_Static_assert(offsetof(struct seg_table_header, waiters) == 64 &&
	       offsetof(struct seg_table_header, registrations) == 128 &&
	       offsetof(struct seg_table_header, armed_seq) == 192 &&
	       offsetof(struct seg_table_header, join_seq) == 200,
	       "table header offsets");
_Static_assert(offsetof(struct seg_consumer, waiting) == 64 &&
	       offsetof(struct seg_consumer, armed) == 68, "entry offsets");

/*
 * Slot stamps. 0 = never written. For message n:
 *   writing(n)  = 2(n+1) + 1  (odd: the writer is inside the slot)
 *   complete(n) = 2(n+1)      (even: message n is whole)
 * Stamps of one slot only grow, so "a stamp for a later message" means the
 * reader's message is gone.
 */
/* The largest write count a publisher may reach (mdbus_pub_skip() refuses
 * to go past it): well below where 2(n+1)+1 would wrap. */
#define SEQ_LIMIT MDBUS_SEQ_MAX
/* The largest write count a skip reaches (mdbus_pub_skip()): half of it,
 * so that what follows is 2^61 messages from SEQ_LIMIT (centuries at any
 * rate). A skip to just below SEQ_LIMIT (a forged gap the udp source was
 * told, a recording's numbers replayed with --keep-seq) let the next
 * messages take the count past it, where every reader refuses the
 * segment as corrupt, and a restarted publisher resumed there. */
#define SKIP_LIMIT (SEQ_LIMIT / 2)
static inline uint64_t stamp_complete(uint64_t n) { return (n + 1) << 1; }
static inline uint64_t stamp_writing(uint64_t n) { return ((n + 1) << 1) | 1; }
/* The message a non-zero stamp belongs to. */
static inline uint64_t stamp_seq(uint64_t stamp) { return (stamp >> 1) - 1; }

#endif /* MDBUS_LAYOUT_H */
