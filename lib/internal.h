/*
 * internal.h - declarations shared between libmdbus modules. Not installed.
 */
#ifndef MDBUS_INTERNAL_H
#define MDBUS_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "layout.h"
#include "mdbus.h"
#include "mdbus_rec.h"

#define MDBUS_EXPORT __attribute__((visibility("default")))
/* The hot path's small steps: inlined into each caller however often
 * they are used (mdbench, callgrind: a call each costs the publish and
 * read paths about a third of their instructions). */
#define MDBUS_INLINE static inline __attribute__((always_inline))
#define MDBUS_COLD __attribute__((noinline, cold))
#define MDBUS_NOINLINE __attribute__((noinline))
/* The publish and read entry points start on a cache line of their own:
 * where the linker put them moved with every change elsewhere in the
 * library, and with it their two-process cost (a publish alone measured
 * 6.65 ns at one place and 7.3 at another, 16 bytes from a line's end,
 * with the same code; README.md, "Performance"). */
#define MDBUS_HOT __attribute__((aligned(64)))
#define MDBUS_LIKELY(x) __builtin_expect(!!(x), 1)
#define MDBUS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- error.c ---- */

/* Empties mdbus_last_error(): first thing in every call that may set it,
 * so that a detail never outlives the call it belongs to. */
void err_clear(void);

/* Records a printf-style detail for mdbus_last_error() and returns code. */
int err_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- table_guard.c ---- */

/* Lists a table mapping so that a SIGBUS in it (the file truncated under
 * us) maps zeros over it instead of killing the process. Returns the
 * slot, or -1 when every slot is taken (the mapping is then unguarded). */
int table_guard_add(void *start, size_t len);
/* Takes a mapping off the list: before unmapping it. */
void table_guard_remove(int slot);
/* 1 when the mapping in slot was replaced by zeros since it was listed
 * or last reset. */
int table_guard_lost(int slot);
void table_guard_reset(int slot);
/* Takes a segment mapping listed while it was read off the list (before
 * unmapping it): r, or MDBUS_ECORRUPT when the file was cut meanwhile
 * (what was read then is zeros). */
int table_guard_end(int slot, const char *channel, int r);

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
/* The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) in
 * nanoseconds: a syscall, not for hot paths. */
uint64_t clock_thread_ns(void);

/* ---- seg_*.c (segment.h has what they share among themselves) ---- */

/* Geometry derived from the identity part of the header; copied once. */
struct seg_geom {
	uint32_t slot_size;
	uint32_t slots_per_block;
	uint32_t block_count;
	uint32_t max_consumers;
	uint32_t mode;
	uint32_t spb_shift;    /* log2(slots_per_block) */
	uint32_t slot_shift;   /* log2(slot_size / 8): a slot in words */
	uint32_t payload_max;  /* slot_size - MDBUS_SLOT_HEADER: one load
				  for the publish and the read */
	int contiguous;        /* blocks follow each other without a gap
				  (block_stride = slots_per_block * slot_size):
				  a slot's place is slot << slot_shift */
	uint64_t capacity;     /* slots_per_block * block_count */
	uint64_t table_off;    /* of the entries, in the table file */
	uint64_t table_size;   /* of the table file */
	uint64_t blocks_off;
	uint64_t block_stride; /* bytes per block, page aligned */
	uint64_t total_size;   /* of the data file */
	uint64_t epoch;
};

struct seg_map {
	struct seg_header *hdr;      /* data file: RW publisher, RO readers */
	_Atomic uint64_t *blocks;    /* the slots as 64-bit words, ditto */
	struct seg_table_header *tab; /* table file: RW unless read-only */
	struct seg_consumer *table;  /* max_consumers entries in it */
	void *data_map;              /* the data file, total_size bytes */
	void *table_map;             /* the table file, table_size bytes */
	int guard;                   /* its table_guard.c slot, or -1 */
	int table_fd;                /* publisher: the table file, or -1 */
	int fd;                      /* publisher: holds the owner lock */
	int writable;                /* table mapped writable */
	dev_t dev;                   /* reader: the data file's device */
	ino_t ino;                   /* and inode, from the attach */
	uid_t uid;                   /* reader: the data file's owner */
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
 * any), validates, copies geometry, maps it read-only, then maps its
 * table file read-write (read-only with SEG_ATTACH_RDONLY or when the
 * file is not writable for us). With SEG_ATTACH_RDONLY a table that
 * cannot be opened or is not right is left out (m->table NULL). */
int seg_attach(struct seg_map *m, const char *channel, const char *dir,
	       const char *owner, int flags);

/* Publisher: checks the table file (one fstat) and mends what its
 * writers did to it: a mapping the guard replaced (the file was cut) or
 * a file of another size gets the file back its size and mapped again; a
 * rewritten header identity is written again. Returns 1 when it mended
 * something, 0 when there was nothing to do, or a negated errno. */
int seg_table_restore(struct seg_map *m);

/* An empty map: nothing mapped, no descriptors. */
void seg_map_init(struct seg_map *m);

/* Unmaps and closes whatever m holds, leaving it as seg_map_init(). */
void seg_unmap(struct seg_map *m);

/* The segment directory in force: dir, else $MDBUS_DIR, else NULL for
 * shm_open()'s /dev/shm. */
const char *seg_dir(const char *dir);

/* Reader: 1 when the channel's name in dir (seg_dir()'s) now refers to
 * another file than the one m was attached to (device and inode kept from
 * the attach), 0 when it refers to ours or to nothing, or a negated errno.
 * The mapping keeps our inode allocated, so no new file can reuse it. */
int seg_map_renamed(const struct seg_map *m, const char *dir,
		    const char *channel);
/* The same for the segment file's path (seg_path()'s). */
int seg_path_renamed(const struct seg_map *m, const char *path);

/* ---- pub_archive.c (doc/protocol.md, "Archive") ---- */

/* 0 when dir (NULL: none) can be announced: absolute, short enough;
 * else -EINVAL with detail. */
int pub_archive_check(const char *dir);
/* Writes the archive's state and path (NULL: none) into the header. */
void pub_archive_announce(struct seg_header *h, const char *dir);
void pub_archive_progress(struct seg_header *h, uint64_t next, uint64_t lost);
void pub_archive_get(const struct seg_header *h, uint64_t *next,
		     uint64_t *lost);

/* ---- archive_files.c (doc/protocol.md, "Archive files") ---- */

#define ARCH_NAME_MAX 160 /* CHANNEL + 69 bytes fit */

struct arch_file {
	uint64_t first_seq;
	uint64_t first_ns;
	char name[ARCH_NAME_MAX];
};

enum arch_pick {
	ARCH_BY_SEQ,  /* the last file whose first_seq <= key, else the first */
	ARCH_BY_TIME, /* the last file whose first_ns < key, else the first */
	ARCH_AFTER,   /* the first file whose first_seq > key */
};

/* The name of the archive file of channel and epoch whose first message
 * is seq, stamped ns. Returns 0 or -ENAMETOOLONG. */
int arch_name(char *out, size_t len, const char *channel, uint64_t epoch,
	      uint64_t seq, uint64_t ns);
/* 0 and *f when name is an archive file of channel and epoch, else -1. */
int arch_parse(const char *name, const char *channel, uint64_t epoch,
	       struct arch_file *f);
/* The files of channel and epoch in the directory dirfd (one readdir
 * pass), sorted by first_seq: 0 with *out (malloc()ed, free() it) and
 * *count, or a negated errno. */
int arch_list(int dirfd, const char *channel, uint64_t epoch,
	      struct arch_file **out, size_t *count);
/* The index in v (n files, sorted by arch_list()) of the file `how` picks
 * for key, or -1 when there is none. Binary search by sequence. */
long arch_pick(const struct arch_file *v, size_t n, enum arch_pick how,
	       uint64_t key);
/* Opens the archive directory at path (absolute; never through a
 * symbolic link as its last part: -ELOOP). Returns the descriptor or a
 * negated errno. */
int arch_open_dir(const char *path);

/* Whether every directory of the real path of `path` (a directory),
 * itself included, every symbolic link met resolving it and every
 * directory that holds such a link, or is above one, is root's or this
 * effective user's (else DIRS_OWNER, the link or directory in `at`)
 * and no directory writable by other users without the sticky bit (else
 * DIRS_OPEN, dirs_writers()), so that no other user can rename what is
 * in it, or it, away and put his own in its place. 0, DIRS_OWNER or
 * DIRS_OPEN with the directory in `at` and its stat in *st, or a negated
 * errno (at: what was resolved). */
#define DIRS_OWNER 1
#define DIRS_OPEN 2
struct stat;
int dirs_trusted(const char *path, char *at, size_t len, struct stat *st);
/* Who besides its owner may rename what is in the directory st: "anyone"
 * (writable by others), "its group" (writable by a group not root's nor
 * the owner's private one), or NULL (neither, or sticky: only a file's
 * owner renames it). dir_trust.c */
const char *dirs_writers(const struct stat *st);
/* Opens name in dirfd for reading: never through a symbolic link, never
 * blocking, only a regular file of one link owned by owner. Returns the
 * descriptor, or -ELOOP, -EPERM (another owner, more links), -EINVAL (not
 * a regular file), or the open's error. */
int arch_open_read(int dirfd, const char *name, uid_t owner);

/* ---- rec_read.c (internal) ---- */

/* A recording reader on fd (which it owns from then on, closed on error
 * too); `what` names it in errors. As mdbus_rec_open(). */
int rec_open_fd(mdbus_rec_reader_t **out, int fd, const char *what);
/* The sequence number of the next record without reading it: 0, or
 * -ENODATA at the end, MDBUS_ETRUNCATED inside a record, MDBUS_ECORRUPT. */
int rec_peek_seq(mdbus_rec_reader_t *r, uint64_t *seq);
/* Steps over the next record (known whole by rec_peek_seq()). */
void rec_skip(mdbus_rec_reader_t *r);

/* ---- sub_replay.c (doc/protocol.md, "Replay, then live") ---- */

struct replay;
/* Reads the archive path announced in the header (seqlock copy): 0 with
 * path (SEG_ARCHIVE_DIR_MAX bytes), -ENOENT when none is announced,
 * MDBUS_ECORRUPT when what is there is no absolute NUL-terminated path. */
int archive_dir_read(const struct seg_header *h, char *path);
/* Whether the header announces an archive: 1 when its archive_next says
 * how far the files go; 0 when only files are known (a reader that names
 * its archive_dir), which replay_read() then reads without waiting. */
int replay_announced(const struct seg_map *m);
/* Whether the archive may still write what it has not: it is announced
 * and its publisher is alive (/proc). A reader waiting for it looks this
 * often, and so does mdbus_sub_fd()'s helper for it. */
int replay_archive_runs(const struct seg_map *m);
#define REPLAY_LIVE_NS 100000000ULL
/* replay_archive_runs() for rp's reader, looked at most every
 * REPLAY_LIVE_NS. */
int replay_live(struct replay *rp, const struct seg_map *m);
/* Opens the archive of m's channel in dir (NULL: the one the header
 * announces). Returns 0 with *out, -ENOENT when none is announced, or a
 * negative error with detail. */
int replay_open(struct replay **out, const struct seg_map *m,
		const char *channel, const char *dir);
/* Chooses the file to read from: by sequence (the one key is in) or by
 * time (the last one begun before key: with timestamps that do not go
 * back, the first message at or after key is in it or starts the next;
 * *pos becomes its first sequence). No file is no error: reading then finds what is lost. */
int replay_seek(struct replay *rp, const struct seg_map *m,
		enum arch_pick how, uint64_t key, uint64_t *pos);
/* Reads the message at *pos from the archive: 0 with it in buf and *msg
 * (*pos past it), 1 when the reader is to go on in the ring at *pos,
 * -EAGAIN when the archive has not written *pos yet, or a negative error
 * (-EMSGSIZE: as mdbus_sub_try_read(); MDBUS_ECORRUPT once per corrupt
 * file, with detail: the next call reads on after it). Messages skipped
 * are added to *lost. */
int replay_read(struct replay *rp, const struct seg_map *m, uint64_t *pos,
		uint64_t *lost, void *buf, size_t len, struct mdbus_msg *msg);
/* Closes the file being read (going live); the next read seeks again. */
void replay_leave(struct replay *rp);
/* Records of the files read past to reach the reader's position (a seek
 * starts at its file's first record: the files have no index). */
uint64_t replay_skipped(const struct replay *rp);
void replay_close(struct replay *rp);

/* ---- dir_watch.c ---- */

/* An inotify descriptor told of names appearing in dir (seg_dir()'s), or
 * -1 when inotify is unavailable (dir_watch_wait() then only sleeps). */
int dir_watch_open(const char *dir);

/* Waits until a name may have appeared in the watched directory, or ns
 * pass. Returns 0, or -EINTR when a signal handler ran (any: poll(2)
 * never restarts). */
int dir_watch_wait(int fd, uint64_t ns);

/* Closes what dir_watch_open() returned (-1 is a no-op). */
void dir_watch_close(int fd);

/* seg_slot() in a ring of whole-page blocks (m->g.contiguous), the
 * common case: the hot paths call it when they know (pub.c detour, sub.c
 * slow). */
static inline _Atomic uint64_t *seg_slot_pages(const struct seg_map *m,
					       uint64_t n)
{
	return m->blocks + ((n & (m->g.capacity - 1)) << m->g.slot_shift);
}

/* The 64-bit words of the slot of message n. */
static inline _Atomic uint64_t *seg_slot(const struct seg_map *m, uint64_t n)
{
	uint64_t slot = n & (m->g.capacity - 1);
	uint64_t block, in;

	/* block_stride (page aligned) and slot_size (a power of two >= 64)
	 * are whole words, so the slot is word aligned by construction */
	if (MDBUS_LIKELY(m->g.contiguous)) /* blocks of whole pages: the common case */
		return seg_slot_pages(m, n);
	block = slot >> m->g.spb_shift;
	in = slot & (m->g.slots_per_block - 1);
	return m->blocks + block * (m->g.block_stride / sizeof(uint64_t)) +
	       (in << m->g.slot_shift);
}

#define SLOT_TOUCH_LINES 4 /* slot_touch(): the slot's lines kept warm */

/* The CPU's spin-wait hint (PAUSE, YIELD), between two looks of a loop. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* A spinning reader's look at a slot of slot_words words that has not
 * changed: loads its lines after the first (up to SLOT_TOUCH_LINES,
 * relaxed, values unused), so that a message landing in it is fetched
 * whole at once rather than line after line once the stamp is seen. */
static inline void slot_touch(const _Atomic uint64_t *slot, uint32_t slot_words)
{
	uint32_t lines = slot_words / 8 < SLOT_TOUCH_LINES ? slot_words / 8
							   : SLOT_TOUCH_LINES;
	uint32_t l;

	for (l = 1; l < lines; l++)
		(void)atomic_load_explicit(&slot[l * 8], memory_order_relaxed);
}

/* The oldest message still whole in the ring when the write count is w:
 * w - capacity, unless the producer is writing w into that very slot
 * now. */
static inline uint64_t seg_oldest(const struct seg_map *m, uint64_t w)
{
	uint64_t n;

	if (w < m->g.capacity)
		return 0;
	n = w - m->g.capacity;
	/* Acquire pairs with the producer's release store of complete(n). */
	if (atomic_load_explicit(&seg_slot(m, n)[SLOT_W_STAMP],
				 memory_order_acquire) == stamp_complete(n))
		return n;
	return n + 1;
}

static inline size_t seg_payload_max(const struct seg_map *m)
{
	return m->g.payload_max;
}

/*
 * A slot's payload words, copied with relaxed 64-bit atomic accesses
 * (doc/protocol.md, "Publishing" step 2 and "Reading": the seqlock
 * re-check discards a copy the producer raced). Up to a cache line's
 * worth without a loop: a quote of a few words costs a jump and its moves
 * (callgrind: a 40-byte copy took 37 instructions as a loop); a longer
 * payload a cache line's worth a turn (a word a turn, 200 bytes: 13.8 ns
 * a read, 12.2 so, and a publish 11.0-16.4 ns, where the loop's code fell,
 * 10.7 so; best of 20 rounds of 32000 in one process). The hot paths copy
 * with the _line() forms, no loop (sub.c read_fast(), pub.c copy_in()):
 * the loop's registers cost every call saved ones.
 */
#define PAYLOAD_WORD_LOAD(k)                                                   \
	do {                                                                   \
		uint64_t w_ = atomic_load_explicit(&src[k], memory_order_relaxed); \
		memcpy(dst + (k) * 8, &w_, 8);                                 \
	} while (0)

/* Words k-1 .. 0 of the payload by op(k) (PAYLOAD_WORD_LOAD, _STORE),
 * for words = 0 to 8. */
#define PAYLOAD_LINE(op, words)                                                \
	do {                                                                   \
		switch (words) {                                               \
		case 8: op(7); /* fall through */                              \
		case 7: op(6); /* fall through */                              \
		case 6: op(5); /* fall through */                              \
		case 5: op(4); /* fall through */                              \
		case 4: op(3); /* fall through */                              \
		case 3: op(2); /* fall through */                              \
		case 2: op(1); /* fall through */                              \
		case 1: op(0); /* fall through */                              \
		default: break;                                                \
		}                                                              \
	} while (0)

/* payload_load() of 8 words at most. */
MDBUS_INLINE void payload_load_line(unsigned char *dst,
				    const _Atomic uint64_t *src, size_t words)
{
	PAYLOAD_LINE(PAYLOAD_WORD_LOAD, words);
}

MDBUS_INLINE void payload_load(unsigned char *dst, const _Atomic uint64_t *src,
			       size_t words)
{
	for (; words > 8; words -= 8, src += 8, dst += 64)
		payload_load_line(dst, src, 8);
	payload_load_line(dst, src, words);
}

#define PAYLOAD_WORD_STORE(k)                                                  \
	do {                                                                   \
		uint64_t w_;                                                   \
		memcpy(&w_, src + (k) * 8, 8);                                 \
		atomic_store_explicit(&dst[k], w_, memory_order_relaxed);      \
	} while (0)

/* payload_store() of 8 words at most. */
MDBUS_INLINE void payload_store_line(_Atomic uint64_t *dst,
				     const unsigned char *src, size_t words)
{
	PAYLOAD_LINE(PAYLOAD_WORD_STORE, words);
}

MDBUS_INLINE void payload_store(_Atomic uint64_t *dst, const unsigned char *src,
				size_t words)
{
	for (; words > 8; words -= 8, src += 64, dst += 8)
		payload_store_line(dst, src, 8);
	payload_store_line(dst, src, words);
}

/*
 * A payload's last size % 8 bytes (1 to 7) as the slot word that holds
 * them: the word's bytes in memory are those bytes, then zeros. Copies of
 * fixed sizes, so that the tail costs a few moves in registers, not a
 * copy of a variable length through the stack (callgrind, bench/icount.c:
 * a 37-byte message cost the publish 152 instructions and the read 143,
 * against 108 and 104 for 40 bytes).
 */
MDBUS_INLINE uint64_t payload_tail_word(const unsigned char *src, size_t bytes)
{
	uint64_t w = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	size_t at = 0;

	if (bytes & 4) {
		uint32_t v;

		memcpy(&v, src, 4);
		w = v;
		at = 4;
	}
	if (bytes & 2) {
		uint16_t v;

		memcpy(&v, src + at, 2);
		w |= (uint64_t)v << (at * 8);
		at += 2;
	}
	if (bytes & 1)
		w |= (uint64_t)src[at] << (at * 8);
#else
	memcpy(&w, src, bytes);
#endif
	return w;
}

/* The inverse: the first `bytes` (1 to 7) bytes of slot word w to dst. */
MDBUS_INLINE void payload_tail_put(unsigned char *dst, uint64_t w, size_t bytes)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	size_t at = 0;

	if (bytes & 4) {
		uint32_t v = (uint32_t)w;

		memcpy(dst, &v, 4);
		w >>= 32;
		at = 4;
	}
	if (bytes & 2) {
		uint16_t v = (uint16_t)w;

		memcpy(dst + at, &v, 2);
		w >>= 16;
		at += 2;
	}
	if (bytes & 1)
		dst[at] = (unsigned char)w;
#else
	memcpy(dst, &w, bytes);
#endif
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

/* Frees entry idx if its process is dead, leaving the waiter count to
 * the caller's repair (cons_repair_waiters()). Returns 1 if freed. */
int cons_reclaim(struct seg_map *m, uint32_t idx);

/* Of the entries whose `waiting` flag counts (a sleeper's), from *next
 * on, looks at `looks` at most and frees those whose process is dead,
 * then repairs the waiter count; *next gets where the next call goes
 * on. Each look reads /proc (about 10 us), so the cost is bounded
 * whatever a writer of the table put in it. Returns the number freed. */
int cons_reap_sleepers(struct seg_map *m, uint32_t *next, unsigned looks);

/* Lowers the header's waiter count to the readers really counted in it
 * (what killed sleepers left behind). Needs the header writable. */
void cons_repair_waiters(struct seg_map *m);

/* The number of live entries (ACTIVE or EVICTED) whose `armed` flag is set:
 * readers that may sleep (doc/protocol.md, "Waiting"). */
uint32_t cons_count_armed(const struct seg_map *m);

/* 1 when entry idx still holds `word` (so: not evicted or reclaimed).
 * On every read: inline. */
static inline int cons_still_ours(const struct seg_map *m, int idx, uint64_t word)
{
	/* Pairs with the producer's CAS that evicts us (pub.c). */
	return atomic_load_explicit(&m->table[idx].state, memory_order_acquire) == word;
}

/* Copies the NUL-terminated name of an entry into out (MDBUS_NAME_MAX+1). */
void cons_name(const struct seg_consumer *c, char *out);

/* ---- counters.c (doc/protocol.md, "Counters") ---- */

/* Publisher: empties the counters table (at open, lock held). */
void counters_reset(struct seg_header *h);

/* Publisher: defines the next counter; returns its id or -EINVAL,
 * -EEXIST, -ENOSPC. */
int counters_define(struct seg_header *h, const char *label,
		    enum mdbus_counter_kind kind);

/* Reader: copies up to max counters of a mapped header (untrusted:
 * bounded, labels NUL-terminated) into out; returns the number defined
 * or MDBUS_ECORRUPT, -EAGAIN with detail. */
int counters_read(const struct seg_header *h, const char *channel,
		  struct mdbus_counter *out, size_t max);

/* The header a publisher writes, a reader reads, and the reader's
 * channel name (pub.c, sub.c). */
struct seg_header *pub_header(const mdbus_pub_t *pub);
const struct seg_header *sub_header(const mdbus_sub_t *sub);
const char *sub_channel(const mdbus_sub_t *sub);

/* ---- inspect.c ---- */

/* Publisher liveness from a mapped header (DEAD derived from pid + start
 * time). */
void seg_pub_info(const struct seg_header *h, struct mdbus_pub_info *info);

/* ---- wait.c ---- */

/* Producer side, after publishing with a seq_cst store of write_num and
 * a seq_cst load of the waiter count: bumps wake_seq and wakes its
 * sleepers (UINT32_MAX: every one), as many as that count or a new load
 * of it says, taken as wait_count_max() at most: with WAIT_WAKE_DIRECT_MAX
 * or fewer, one more than counted; with more, WAIT_WAKE_DIRECT_MAX, and
 * *to_nudger is the count the nudger then wakes, all of it (0
 * otherwise).
 * Only counted readers sleep there, and anyone who can read
 * the data file may park threads there. *crowded is 1 when the one more
 * was woken too: a thread nobody counted was queued, maybe ahead of a
 * counted reader, whose wake it then took (the nudger's sweep wakes it).
 * Returns what FUTEX_WAKE returned (the sleepers woken). */
long wait_wake_counted(const struct seg_map *m, uint32_t counted,
		       int *crowded, uint32_t *to_nudger);

/* The most counted sleepers of wake_seq a producer with a nudger wakes
 * on its publishing thread; its nudger wakes the others (pub_nudge.c
 * sweep_left()). The count is in the table, which its writers may forge:
 * taken as twice max_consumers at most (before 0.2.5), a 64-entry
 * channel's forged count with 500 threads parked there cost the
 * publishing thread 129 wake-ups a publish (attack runs: 40-45% of a CPU
 * at 1000 msg/s). */
#define WAIT_WAKE_DIRECT_MAX 8u

/* The most readers that can be counted asleep on the channel: one a
 * consumer entry (the handle's, or its mdbus_sub_fd() helper's, sub_fd.c),
 * from the trusted data file's geometry (an attack run: a forged count
 * of 0xFFFFFFFF and 10 000 parked threads had the publishing thread wake
 * them all at each publish, 50% of a CPU, the channel at 22 msg/s of
 * 200). */
static inline uint32_t wait_count_max(const struct seg_map *m)
{
	return m->g.max_consumers;
}

/* The nudger's sweep, when the producer found a crowd: wakes up to
 * count sleepers of wake_seq without a bump, so that a counted reader
 * whose wake a thread parked ahead of it took wakes, on the nudger's
 * thread rather than the producer's (pub_nudge.c sweep() rations them).
 * Returns what FUTEX_WAKE returned (the sleepers woken, or -1). */
long wait_sweep(struct seg_header *h, int count);

/* Adaptive readers, between two reads: watches message pos's slot
 * (slot_words words) for a while. Returns 1 as soon as it may be readable
 * or overwritten, 0 when nothing changed (wait.c). */
int wait_watch(const _Atomic uint64_t *slot, uint32_t slot_words, uint64_t pos);

#define WAIT_HOLD_LOOKS 32 /* wait_hold(): looks at the write count at most */
#define WAIT_HOLD_PAUSES 4 /* cpu_relax() calls before each */
#define WAIT_HOLD_FLOOD 16 /* messages the count must move by within */
#define WAIT_HOLD_STILL 4  /* this many looks for the hold to go on */

/* wait_hold()'s record of its looks: the count where it last moved by
 * WAIT_HOLD_FLOOD or more (at first: where the hold began), the look
 * that saw it there, the looks taken, and whether the hold ended for
 * the count standing still. */
struct hold_watch {
	uint64_t base;
	unsigned looks, base_look;
	int still;
};

/* One look of wait_hold() at write count w: 1 to pause on, 0 to end the
 * hold (w `distance` past pos or behind it, the count still for
 * WAIT_HOLD_STILL looks: hw->still set, or WAIT_HOLD_LOOKS looks taken;
 * wait.c). */
int wait_hold_look(struct hold_watch *hw, uint64_t w, uint64_t pos,
		   uint64_t distance);

/* Readers behind a producer that streams: pauses while the write count
 * is less than `distance` past pos and moves by WAIT_HOLD_FLOOD or more
 * within WAIT_HOLD_STILL looks, WAIT_HOLD_LOOKS looks at most. Returns
 * the looks taken, and *still 1 when the count's standing still ended
 * the hold, else 0 (wait.c). */
unsigned wait_hold(const _Atomic uint64_t *write_num, uint64_t pos,
		   uint64_t distance, int *still);

/* Wakes every blocked reader unconditionally (state changes): every
 * sleeper of wake_seq and of nudge_seq. */
void wait_wake_all(struct seg_header *h);

/* The nudger's wake: bumps nudge_seq and wakes the readers that sleep on
 * it, the anonymous ones (registered sleepers do not, unless wary), the
 * first WAIT_NUDGE_WAKE_MAX in the kernel's queue at most: anyone who
 * may read the data file can park threads there, and each woken costs
 * the nudger's thread (pub_nudge.c). Returns how many it woke, or -1
 * (errno set: EINVAL when someone parked a FUTEX_WAIT_REQUEUE_PI waiter
 * on the word). */
#define WAIT_NUDGE_WAKE_MAX 32
long wait_wake_anonymous(struct seg_header *h);

/* The nudger's wake beyond the first WAIT_NUDGE_WAKE_MAX: wakes up to
 * `count` more sleepers of nudge_seq, without a bump (pub_nudge.c
 * wake_look() rations them). Returns how many it woke, or -1 (errno
 * set). */
long wait_wake_anonymous_more(struct seg_header *h, int count);

/* The producer's, when the nudger sleeps: bumps nudge_seq and wakes its
 * first few sleepers (a bound: anyone who can read the data file may
 * park threads there), so that an anonymous reader's first message after
 * a pause does not wait for the nudger's wake-up; the nudger, kicked,
 * wakes the others. */
void wait_wake_anonymous_first(struct seg_header *h);

/* The producer's wake of its idle nudger (the nudger's `kick`, a word in
 * the publisher's own memory): bumps it and wakes the one sleeper. */
void wait_nudger_kick(_Atomic uint32_t *kick);

/* A reader handle's interrupt bell (mdbus_sub_interrupt()), in the
 * process's own memory: `rings` counts interrupts and is a private futex
 * word the reader sleeps on beside the channel's (futex_waitv(2));
 * `sleeping_on` is the channel's futex word while the reader sleeps on it
 * alone (kernels before 5.16), so that a ring wakes that one. */
struct wait_bell {
	_Atomic uint32_t rings;
	_Atomic(_Atomic uint32_t *) sleeping_on;
	uint32_t unwoken;     /* wakes for nothing in a row at unwoken_pos
				 (wait.c after_sleep()): the sleeping
				 thread's own */
	uint64_t unwoken_pos; /* the position they were counted at */
};

/* Rings the bell: counts an interrupt and wakes its reader. Atomics and
 * futex calls only: async-signal-safe; errno is kept. */
void wait_bell_ring(struct wait_bell *b);

/* Sleeps until the bell's count leaves `seen` (a ring) or ns pass, or a
 * signal handler runs: a helper thread's pause that its owner can cut
 * short. */
void wait_bell_sleep(struct wait_bell *b, uint32_t seen, uint64_t ns);

/* The nudger, idle: sleeps on `kick`, while it holds `seen` (loaded
 * with acquire before the nudger's last look), with its flag
 * nudge_waiting set, until a message past `last` (the producer's kick),
 * the bell (whose ringer kicks too), or 100 ms. Returns 0 or -EINTR. */
int wait_nudger_idle(const struct seg_map *m, uint64_t last,
		     struct wait_bell *bell, _Atomic uint32_t *kick,
		     uint32_t seen);

/* A reader's adaptive waiting across its waits (zero-filled to start). */
struct wait_state {
	uint64_t spin_ns;  /* this wait's spin budget */
	uint64_t start_ns; /* CLOCK_MONOTONIC at the wait's first step */
	uint64_t end_ns;   /* at its last step: where it ended, near enough */
	uint64_t settle_until; /* sleeps end by then: its entry armed
				  lately (wait.c arm()); 0: settled */
	int missed;         /* a sleep ran to its end past a message nobody
			       woke it for (wait.c sleep_on()) */
	int suspect;        /* one seemed to, wake_seq then suspect_seq:
			       judged at the next sleep */
	uint32_t suspect_seq;
	uint64_t requeued_until; /* a sleep ran to its end on a word the
				    producer woke meanwhile: moved off it
				    (wait.c moved_off()); sleeps last
				    POLL_NS till then (CLOCK_MONOTONIC) */
};

/* What a reader waits for: write_num to pass `pos` (its next message
 * published), or, cutting a sleep short, the segment to be replaced, its
 * consumer entry to change from `entry_word` (evicted), or its bell to
 * ring past `rings_seen`. */
struct wait_for {
	uint64_t pos;
	struct wait_bell *bell;
	uint32_t rings_seen;
	struct wait_state *state;            /* the handle's or its fd helper's:
						never NULL */
	int watch_pub_state;                 /* a change from pub_state wakes */
	uint32_t pub_state;                  /* (the mdbus_sub_fd() helper) */
	_Atomic uint32_t *waiting;           /* entry flag; NULL: no entry */
	_Atomic uint32_t *armed;             /* entry's armed flag (with waiting) */
	uint32_t waiting_tag;                /* what we store in it: ours */
	const _Atomic uint64_t *entry_state; /* NULL: no entry */
	uint64_t entry_word;
};

/* Reader side: one step of waiting by strategy (a reader without an entry
 * naps instead of sleeping announced); `round` counts the calls of this
 * wait, from 0. Returns when it is worth looking again: 0 after a spin, 1
 * after a sleep; or -ETIMEDOUT past deadline_ns (CLOCK_MONOTONIC;
 * UINT64_MAX = none), -EINTR when the bell rang or a signal handler
 * interrupted a sleep (one installed with SA_RESTART does not, where the
 * kernel has futex_waitv(2)). */
int wait_step(const struct seg_map *m, enum mdbus_wait strategy,
	      const struct wait_for *wf, unsigned round, uint64_t deadline_ns);

/* 1 when what wf waits for happened (a message past pos, a replacement,
 * the entry changed). */
int wait_ready(const struct seg_map *m, const struct wait_for *wf);

/* 1 when wf's bell rang past rings_seen (0 without a bell). */
int wait_rang(const struct wait_for *wf);

/* ---- pub_nudge.c ---- */

/* The publisher's nudger (doc/protocol.md, "Waiting"): start runs its
 * thread and promises it in the header (0, or a negative error with
 * detail); stop ends the thread and withdraws the promise (NULL: no-op);
 * kick wakes it while it sleeps idle (the producer, seeing its flag;
 * NULL: no-op); sweep asks it to sweep wake_seq at once (the producer,
 * whose wake found a crowd; NULL: no-op); sweep_left asks it to wake
 * the `count` counted readers, more than the producer's wake woke (NULL:
 * no-op); clear
 * withdraws a promise and a flag a dead publisher's
 * nudger left (the publisher's open, before it repairs the waiter
 * count). */
struct pub_nudge;
int pub_nudge_start(struct pub_nudge **out, const struct seg_map *m);
void pub_nudge_stop(struct pub_nudge *n);
void pub_nudge_kick(struct pub_nudge *n);
void pub_nudge_sweep(struct pub_nudge *n);
void pub_nudge_sweep_left(struct pub_nudge *n, uint32_t count);
void pub_nudge_clear(struct seg_header *h);

/* helper_thread.c: starts fn(arg) in a thread named name, every signal
 * blocked in it but the fault signals; 0 or a negative errno. */
int helper_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg,
			const char *name);

/* ---- sub.c, sub_fd.c ---- */

/* What a reader of s waits for at its position; `announce` 0 leaves the
 * entry's waiting flag to someone else (a reader then naps). */
void sub_wait_for(const mdbus_sub_t *s, struct wait_for *wf, int announce);

/* A reader waiting for the archive naps this long (nothing wakes it: the
 * archive flushes on its own delay); so does mdbus_sub_fd()'s helper for
 * a reader of the archive. */
#define REPLAY_NAP_NS 1000000L
/* A reader without a live publisher looks at the channel's name this
 * often (sub.c check_name(), sub_fd.c name_moved()). */
#define NAME_CHECK_NS 100000000ULL

/* The helper thread behind mdbus_sub_fd(). open makes the eventfd and
 * starts the thread (returns the descriptor or a negated errno); stop
 * ends the thread, keeping the descriptor (before the mapping changes);
 * start runs a new one on the new mapping; close ends and frees all.
 * `replaying`: the handle reads the archive (sub_replay.c), and
 * sub_fd_replaying() tells the helper each change of it (NULL: no-op). */
struct sub_fd;
int sub_fd_open(struct sub_fd **out, const struct seg_map *m,
		const struct wait_for *wf, int replaying, const char *path);
int sub_fd_start(struct sub_fd *f, const struct seg_map *m,
		 const struct wait_for *wf, int replaying, const char *path);
/* 1 once the helper found the channel's name (`path`, seg_path()'s)
 * referring to another file than the mapping's while no publisher was
 * active, as a waiting read does (sub.c check_name()). */
int sub_fd_renamed(const struct sub_fd *f);
void sub_fd_replaying(struct sub_fd *f, int replaying);
void sub_fd_stop(struct sub_fd *f);
/* Makes the descriptor readable now (messages are there to look at). */
void sub_fd_poke(struct sub_fd *f);
int sub_fd_number(const struct sub_fd *f);
void sub_fd_close(struct sub_fd *f);

#endif /* MDBUS_INTERNAL_H */
