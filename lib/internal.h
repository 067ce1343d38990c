/*
 * internal.h - declarations shared between libmdbus modules. Not installed.
 */
#ifndef MDBUS_INTERNAL_H
#define MDBUS_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "layout.h"
#include "mdbus.h"

#define MDBUS_EXPORT __attribute__((visibility("default")))

/* ---- error.c ---- */

/* Empties mdbus_last_error(): first thing in every call that may set it,
 * so that a detail never outlives the call it belongs to. */
void err_clear(void);

/* Records a printf-style detail for mdbus_last_error() and returns code. */
int err_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- proc.c ---- */

/* 1 when pid is alive and started at `start` (so pid reuse cannot fool
 * it; start 0 = unknown), 0 when it is dead. When /proc cannot tell (no
 * entry: hidepid, not mounted), the pid alone decides: dead only when
 * kill(pid, 0) says ESRCH. */
int proc_alive(pid_t pid, uint64_t start);

/* This process's pid and start time, cached per pid (fork-safe). */
void proc_self(pid_t *pid, uint64_t *start);

/* CLOCK_REALTIME in nanoseconds. */
uint64_t clock_realtime_ns(void);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t clock_mono_ns(void);

/* ---- seg_*.c (segment.h has what they share among themselves) ---- */

/* Geometry derived from the identity part of the header; copied once. */
struct seg_geom {
	uint32_t slot_size;
	uint32_t slots_per_block;
	uint32_t block_count;
	uint32_t max_consumers;
	uint32_t mode;
	uint32_t spb_shift;    /* log2(slots_per_block) */
	uint64_t capacity;     /* slots_per_block * block_count */
	uint64_t table_off;
	uint64_t blocks_off;
	uint64_t block_stride; /* bytes per block, page aligned */
	uint64_t total_size;
	uint64_t epoch;
};

struct seg_map {
	struct seg_header *hdr;      /* first page, RW unless read-only */
	struct seg_consumer *table;  /* max_consumers entries */
	_Atomic uint64_t *blocks;    /* the slots as 64-bit words: RW
					publisher, RO readers */
	void *meta_map;              /* mapping of [0, blocks_off) */
	void *blk_map;               /* mapping of [blocks_off, total) */
	int fd;                      /* publisher: holds the owner lock */
	int writable;                /* header and table mapped writable */
	struct seg_geom g;
};

#define SEG_ATTACH_RDONLY 0x1 /* map everything read-only */

/* Fills g from user geometry; -EINVAL (with detail) when out of range. */
int seg_geom_make(struct seg_geom *g, uint32_t slot_size,
		  uint32_t slots_per_block, uint32_t block_count,
		  uint32_t max_consumers, uint32_t mode);

/* ---- pub_config_check.c ---- */

/* The gid a publisher's `group` names (a group name or a number), or
 * (gid_t)-1 for none (NULL or empty). Returns 0 or -EINVAL with detail
 * (unknown group). */
int pub_config_gid(const char *group, gid_t *gid);

/* Creates or resumes the segment for a publisher (doc/protocol.md,
 * "Ownership"). */
int seg_open_publisher(struct seg_map *m, const char *channel,
		       const struct mdbus_pub_config *cfg);

/* Attaches a reader: checks the file (a regular file of one name, not
 * writable by others, of the user `owner` names: NULL = $MDBUS_OWNER or
 * any), validates, copies geometry, maps header+table RW
 * (read-only with SEG_ATTACH_RDONLY or when the file is not writable) and
 * the blocks read-only. */
int seg_attach(struct seg_map *m, const char *channel, const char *dir,
	       const char *owner, int flags);

void seg_unmap(struct seg_map *m);

/* The segment directory in force: dir, else $MDBUS_DIR, else NULL for
 * shm_open()'s /dev/shm. */
const char *seg_dir(const char *dir);

/* The 64-bit words of the slot of message n. */
static inline _Atomic uint64_t *seg_slot(const struct seg_map *m, uint64_t n)
{
	uint64_t slot = n & (m->g.capacity - 1);
	uint64_t block = slot >> m->g.spb_shift;
	uint64_t in = slot & (m->g.slots_per_block - 1);

	/* block_stride (page aligned) and slot_size (a power of two >= 64)
	 * are whole words, so the slot is word aligned by construction */
	return m->blocks + block * (m->g.block_stride / sizeof(uint64_t)) +
	       in * (m->g.slot_size / sizeof(uint64_t));
}

static inline size_t seg_payload_max(const struct seg_map *m)
{
	return m->g.slot_size - MDBUS_SLOT_HEADER;
}

/* ---- consumers.c ---- */

/* Claims a consumer entry for this process (reclaiming dead ones when the
 * table is full). Returns the index, or MDBUS_EFULL. *word gets the entry's
 * ACTIVE state word, which only the owner's close or an eviction changes. */
int cons_register(struct seg_map *m, const char *name, uint64_t pos,
		  uint64_t *word);

/* Frees entry idx if it is still ours (word). */
void cons_unregister(struct seg_map *m, int idx, uint64_t word);

/* Frees entries whose process is dead, then repairs the waiter count.
 * Returns the number freed. */
int cons_reap(struct seg_map *m);

/* Frees entry idx if its process is dead (and repairs the waiter count).
 * Returns 1 if freed. */
int cons_reap_one(struct seg_map *m, uint32_t idx);

/* Lowers the header's waiter count to the readers really counted in it
 * (what killed sleepers left behind). Needs the header writable. */
void cons_repair_waiters(struct seg_map *m);

/* 1 when entry idx still holds `word` (so: not evicted or reclaimed). */
int cons_still_ours(const struct seg_map *m, int idx, uint64_t word);

/* Copies the NUL-terminated name of an entry into out (MDBUS_NAME_MAX+1). */
void cons_name(const struct seg_consumer *c, char *out);

/* ---- inspect.c ---- */

/* Publisher liveness from a mapped header (DEAD derived from pid + start
 * time). */
void seg_pub_info(const struct seg_header *h, struct mdbus_pub_info *info);

/* ---- wait.c ---- */

/* Producer side, at open: registers for asymmetric barriers
 * (membarrier). Returns 1 when the publisher may use the cheap side of the
 * Dekker pair, 0 when it must use a full fence. */
int wait_publisher_init(struct seg_header *h);

/* Producer side, after publishing: wakes blocked readers if any declared
 * themselves waiting. A compiler barrier (asym) or a full fence, and a
 * load; a syscall only when someone waits. Returns -1 when nobody was
 * counted, else what FUTEX_WAKE returned (the sleepers woken). */
long wait_wake_if_waiting(struct seg_header *h, int asym);

/* Wakes every blocked reader unconditionally (state changes). */
void wait_wake_all(struct seg_header *h);

/* What a reader waits for: the stamp of its next slot to change from
 * `seen`, or, cutting a sleep short, the segment to be replaced or its
 * consumer entry to change from `entry_word` (evicted). */
struct wait_for {
	const _Atomic uint64_t *stamp;
	uint64_t seen;
	_Atomic uint32_t *waiting;           /* entry flag; NULL: no entry */
	uint32_t waiting_tag;                /* what we store in it: ours */
	const _Atomic uint64_t *entry_state; /* NULL: no entry */
	uint64_t entry_word;
};

/* Reader side: one step of waiting by strategy (a reader without an entry
 * polls instead of sleeping); `round` counts calls since the last
 * progress. Returns 0 when it is worth looking again, -ETIMEDOUT past
 * deadline_ns (CLOCK_MONOTONIC; UINT64_MAX = none). */
int wait_step(struct seg_header *h, enum mdbus_wait strategy,
	      const struct wait_for *wf, unsigned round, uint64_t deadline_ns);

#endif /* MDBUS_INTERNAL_H */
