/*
 * mdbus.h - public API of libmdbus, a shared-memory single-producer /
 * multi-consumer market-data ring for one Linux host.
 *
 * Conventions:
 *  - Functions returning int return 0 (or a count) on success and a negative
 *    error code on failure: a negated errno value (-EAGAIN, -ETIMEDOUT, ...)
 *    or one of the MDBUS_E* library codes below. mdbus_strerror() names both.
 *    No function aborts or exits.
 *  - A handle (mdbus_pub_t, mdbus_sub_t) belongs to one thread at a time; the
 *    library takes no lock, so callers that share a handle serialise access.
 *  - Nothing here allocates or makes a system call on the hot path:
 *    mdbus_pub_publish(), mdbus_pub_claim()/commit(), mdbus_sub_try_read(),
 *    with two exceptions: a publish makes one FUTEX_WAKE when a reader is
 *    asleep, and a lossless publisher held back by a reader checks that
 *    reader's liveness in /proc at most every 10 ms.
 *  - The channel name must match [A-Za-z0-9._-]{1,64}.
 *  - Segments live in the segment directory: the `dir` config field if set,
 *    else $MDBUS_DIR if set, else /dev/shm (where shm_open() would put
 *    them; the files are opened by path).
 */
#ifndef MDBUS_H
#define MDBUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MDBUS_VERSION "0.2.5"  /* package version; configure reads it here */
#define MDBUS_LAYOUT_MAJOR 4   /* segment layout major: readers refuse others */
#define MDBUS_LAYOUT_MINOR 1   /* segment layout minor: additions only */

#define MDBUS_CHANNEL_MAX 64    /* longest channel name */
#define MDBUS_NAME_MAX 31       /* longest consumer name */
#define MDBUS_SLOT_HEADER 24    /* bytes of each slot taken by its header */
#define MDBUS_SEQ_MAX (1ULL << 62) /* the largest write count (sequence
				      number) a channel reaches; a start
				      sequence past it is refused */
#define MDBUS_ENV_DIR "MDBUS_DIR"
#define MDBUS_ENV_OWNER "MDBUS_OWNER" /* user readers expect segments of */

/* Library error codes (returned negated errno values are the others). */
enum mdbus_error {
	MDBUS_EBADMAGIC = -1001,    /* the object is not an mdbus segment */
	MDBUS_EVERSION = -1002,     /* segment layout major version differs */
	MDBUS_ECORRUPT = -1003,     /* a segment, table or recording fails validation */
	MDBUS_ENOTREADY = -1004,    /* segment still being initialised */
	MDBUS_EOWNED = -1005,       /* a live publisher owns the channel */
	MDBUS_EGEOMETRY = -1006,    /* existing segment has another geometry */
	MDBUS_EFULL = -1007,        /* consumer table full */
	MDBUS_EBACKPRESSURE = -1008,/* lossless: slowest reader a ring behind */
	MDBUS_EEVICTED = -1009,     /* this consumer's entry was taken away */
	MDBUS_EREPLACED = -1010,    /* segment replaced: mdbus_sub_reopen() */
	MDBUS_ETOOBIG = -1011,      /* message larger than the slot payload */
	MDBUS_ENAME = -1012,        /* invalid channel or consumer name */
	MDBUS_ENOSPACE = -1013,     /* segment directory too small */
	MDBUS_ECLAIMED = -1014,     /* a claim is open: commit or abort it */
	MDBUS_ENOCLAIM = -1015,     /* commit/abort without an open claim */
	MDBUS_ETRUNCATED = -1016,   /* a file ends inside a record or header */
	MDBUS_ENODIR = -1017,       /* the segment directory does not exist */
	MDBUS_ETABLE = -1018,       /* consumer table unreadable (stats: the
				       rest of *st filled all the same) */
};

/* Returns a static, human-readable text for any code this library returns
 * (0, negated errno values, MDBUS_E*). Thread-safe; never NULL. */
const char *mdbus_strerror(int err);

/* Returns a detailed text for the last error of an open, reopen, stats,
 * list or unlink call in this thread (e.g. the size needed when a directory
 * is too small, both versions on a version mismatch); "" when there was
 * none. Each call that may set it (the open, reopen, stats, list, unlink
 * and recording open/create calls) empties it first, so it always belongs
 * to the last such call; hot-path calls (publish, claim, commit, read,
 * recording read/write) neither set nor empty it, but for a read that
 * returns MDBUS_ECORRUPT from the archive (the corrupt file and why).
 * Thread-local. */
const char *mdbus_last_error(void);

/* Returns the package version of the library in use (MDBUS_VERSION of the
 * build that made it), which can differ from the header's. Never NULL. */
const char *mdbus_version(void);

enum mdbus_mode {
	MDBUS_MODE_OVERWRITE = 0, /* producer never waits; slow readers lose */
	MDBUS_MODE_LOSSLESS = 1,  /* producer never passes a live reader */
};

enum mdbus_wait {
	MDBUS_WAIT_ADAPTIVE = 0, /* spin a budget learnt from the last wait
				    (<= 20 us), then futex (default) */
	MDBUS_WAIT_SPIN = 1,     /* busy-spin: lowest latency, burns a core */
	MDBUS_WAIT_YIELD = 2,    /* sched_yield() loop */
	MDBUS_WAIT_BLOCK = 3,    /* futex straight away */
};

enum mdbus_pub_state {
	MDBUS_PUB_NONE = 0,     /* never had a publisher */
	MDBUS_PUB_ACTIVE = 1,   /* a live publisher owns the channel */
	MDBUS_PUB_STOPPED = 2,  /* publisher closed the channel cleanly */
	MDBUS_PUB_REPLACED = 3, /* segment replaced by a new one: reopen */
	MDBUS_PUB_DEAD = 4,     /* publisher process gone without closing */
};

/* Returns "overwrite", "lossless", or "?" for any other value. Never NULL. */
const char *mdbus_mode_name(enum mdbus_mode mode);

/* Returns "none", "active", "stopped", "replaced", "dead", or "?" for any
 * other value. Never NULL. */
const char *mdbus_pub_state_name(enum mdbus_pub_state state);

/* ---------------------------------------------------------------- publisher */

#define MDBUS_PUB_REPLACE 0x1u /* recreate if the existing geometry differs */
#define MDBUS_PUB_NUDGE 0x2u /* a nudger thread wakes anonymous readers
				(else they poll every 1 ms; libmdbus(3),
				Waiting); mdpub sets it by default */

struct mdbus_pub_config {
	uint32_t slot_size;       /* bytes per slot, header included; power of
				     two, 64..1048576 (default 256) */
	uint32_t slots_per_block; /* power of two (default 4096) */
	uint32_t block_count;     /* power of two (default 16) */
	uint32_t max_consumers;   /* consumer table entries, 1..4096 (64) */
	enum mdbus_mode mode;     /* default MDBUS_MODE_OVERWRITE */
	mode_t file_mode;         /* segment permissions (default 0640) */
	const char *group;        /* group name or numeric gid (below
				     4294967295); NULL = none */
	uint64_t stall_evict_ns;  /* lossless: evict a reader that gates the
				     producer without moving this long
				     (default 30 s; 0 = never) */
	const char *dir;          /* segment directory; NULL = default */
	unsigned flags;           /* MDBUS_PUB_REPLACE, MDBUS_PUB_NUDGE */
	const char *archive_dir;  /* the channel's archive, announced to
				     readers in the segment (an absolute path
				     of at most 511 bytes); NULL = none. The
				     library writes no archive: the program
				     that does (mdpub) reports its progress
				     with mdbus_pub_archive_progress() */
};

typedef struct mdbus_pub mdbus_pub_t;

/* Fills *cfg with the defaults above. Never fails. */
void mdbus_pub_config_init(struct mdbus_pub_config *cfg);

/* Opens `channel` for publishing. Creates the segment (free space checked,
 * memory reserved and pre-faulted, named only once complete) or resumes an
 * existing one of the same geometry whose publisher is gone, at its write
 * count. Refuses with MDBUS_EOWNED when a live publisher owns it
 * (mdbus_last_error() names its pid), MDBUS_EGEOMETRY when the geometry
 * differs, -EPERM for a file that is not the caller's own (another user's,
 * two names, a mode letting others write more than file_mode), each unless
 * MDBUS_PUB_REPLACE is set: then a new segment takes the name in one
 * rename, the old one marked replaced when its layout is ours. A file_mode
 * writable by others is refused with -EINVAL (readers refuse such
 * segments). May retry for up to 1 s while a just-forked child still
 * holds a gone publisher's lock. The owner lock is not inherited by fork()ed
 * children. Returns 0 and sets *out, or a negative error. Any thread. */
int mdbus_pub_open(mdbus_pub_t **out, const char *channel,
		   const struct mdbus_pub_config *cfg);

/* Checks what mdbus_pub_open(channel, cfg) requires before it touches any
 * segment, as it does (cfg NULL: the defaults): the channel name
 * (MDBUS_ENAME), the geometry (capacity slots_per_block * block_count in
 * [2, 2^32], a segment of at most 2^40 bytes), a file_mode that others
 * cannot write, a group that exists (each -EINVAL), and a segment
 * directory that exists, that strangers cannot empty, and every directory
 * of whose real path is root's or this effective user's (-EPERM, -ENOENT,
 * -ENOTDIR). Returns 0 or the negative error mdbus_pub_open() would
 * return, with detail in mdbus_last_error(). What depends on the
 * segment already there (its owner, geometry, free space) is left to the
 * open. Any thread. */
int mdbus_pub_config_check(const char *channel,
			   const struct mdbus_pub_config *cfg);

/* Copies `size` bytes into the next slot and publishes it with message type
 * `type` and timestamp `ts_ns` (0 = read CLOCK_REALTIME now). Never blocks,
 * no system call but the wake of a sleeping reader (above). Returns 0, MDBUS_ETOOBIG, MDBUS_ECLAIMED, or in lossless
 * mode MDBUS_EBACKPRESSURE (try again later; nothing was written). */
int mdbus_pub_publish(mdbus_pub_t *pub, uint16_t type, const void *data,
		      size_t size, uint64_t ts_ns);

/* One message of a batch (mdbus_pub_publish_batch()). */
struct mdbus_pub_msg {
	const void *data;
	uint32_t size;
	uint16_t type;
	uint64_t ts_ns;  /* 0 = read CLOCK_REALTIME when it is written */
};

/* Publishes msgs[0..count) in order, as mdbus_pub_publish() would one by
 * one, but makes them public with one atomic step (and at most one
 * FUTEX_WAKE) for the whole batch: readers see each message as soon as
 * it is written. Every size is checked first: one too big returns
 * MDBUS_ETOOBIG with nothing written. In lossless mode it stops at the
 * first message with no room and returns how many went out (then
 * MDBUS_EBACKPRESSURE when none did). Returns the number published
 * (count, or fewer only in lossless mode), MDBUS_ECLAIMED, MDBUS_ETOOBIG
 * or MDBUS_EBACKPRESSURE (-EINVAL for a count above INT_MAX). Never
 * blocks, no system call but the wake. */
int mdbus_pub_publish_batch(mdbus_pub_t *pub, const struct mdbus_pub_msg *msgs,
			    unsigned count);

/* Zero-copy: reserves the next slot for a message of at most `size` bytes
 * and sets *payload to its payload area in shared memory. Readers never see
 * it until mdbus_pub_commit() (they may load its words meanwhile, and
 * discard them: libmdbus(3) on ThreadSanitizer). Same errors as
 * mdbus_pub_publish(). */
int mdbus_pub_claim(mdbus_pub_t *pub, size_t size, void **payload);

/* Publishes the claimed slot with its final `size` (<= the claimed size).
 * Returns 0, MDBUS_ENOCLAIM, MDBUS_ETOOBIG. Never blocks. */
int mdbus_pub_commit(mdbus_pub_t *pub, uint16_t type, size_t size,
		     uint64_t ts_ns);

/* Drops an open claim; the sequence number is reused by the next message.
 * Returns 0 or MDBUS_ENOCLAIM. */
int mdbus_pub_abort(mdbus_pub_t *pub);

/* Skips n sequence numbers: the next message gets mdbus_pub_position() + n,
 * and readers count the n skipped as lost (msg.lost of the next message
 * they read), exactly as messages overwritten before they were read. For
 * a publisher that keeps another numbering, e.g. a replay that keeps the
 * recorded sequence numbers (mdpub --keep-seq). Writes at most capacity
 * slot stamps. Returns 0, MDBUS_ECLAIMED, -EOVERFLOW past 2^61 (half of
 * MDBUS_SEQ_MAX: what follows a skip stays far below it), or in
 * lossless mode MDBUS_EBACKPRESSURE: nothing skipped (the position stays),
 * a reader has not read a message whose slot a stamp would take. When
 * that reader joined while the stamps were written, those written stay
 * (its readers count them lost): call it again with the same n before
 * anything else (doc/protocol.md, "Skipping"). */
int mdbus_pub_skip(mdbus_pub_t *pub, uint64_t n);

/* Stores the heartbeat time (CLOCK_REALTIME) readers see, and restores
 * the consumer table file if a reader truncated it. Never blocks; one
 * fstat(2) of the table (to find it cut), and more system calls when it
 * restores it. Call it from the publishing thread, e.g. once a second. */
void mdbus_pub_heartbeat(mdbus_pub_t *pub);

/* Lossless and housekeeping: restores a truncated consumer table file,
 * reclaims consumer entries whose process is
 * dead and, in lossless mode, evicts readers stalled longer than
 * stall_evict_ns. Returns the number of entries freed/evicted or a negative
 * error. Reads /proc, about 10 us an entry in use; call it from a timer,
 * not per message, and from the thread that publishes (it updates the
 * handle's lossless gate). mdbus_pub_reclaim() does the /proc part on
 * another thread. */
int mdbus_pub_reap(mdbus_pub_t *pub);

/* Frees the consumer entries whose process is dead, as mdbus_pub_reap()
 * does, and nothing else: it touches only the shared consumer table, so
 * that, unlike the rest of the handle, any thread may call it while
 * others make any call on the handle but mdbus_pub_close(), several at
 * once too. The publisher sees what it freed at its next look at the
 * table. Reads /proc, about 10 us an entry in use. Returns the number of
 * entries freed (>= 0). */
int mdbus_pub_reclaim(mdbus_pub_t *pub);

/* Sequence number the next message will get (= write count). */
uint64_t mdbus_pub_position(const mdbus_pub_t *pub);

/* The archive's progress, for readers (doc/protocol.md, "Archive"): the
 * archive's files hold every message below `next` except `lost` of them
 * (the count since the segment was made). Both only grow. Two atomic
 * stores: unlike the rest of the handle, any thread may call it while
 * another publishes. */
void mdbus_pub_archive_progress(mdbus_pub_t *pub, uint64_t next,
				uint64_t lost);

/* What the segment says of its archive's progress (as the last
 * mdbus_pub_archive_progress() left it, possibly a previous publisher's:
 * 0 and 0 in a new segment). Any thread. */
void mdbus_pub_archive_get(const mdbus_pub_t *pub, uint64_t *next,
			   uint64_t *lost);

/* Bytes of payload a slot carries (slot_size - MDBUS_SLOT_HEADER). */
size_t mdbus_pub_payload_max(const mdbus_pub_t *pub);

/* The epoch of the segment the handle publishes in (struct
 * mdbus_stats.epoch): new for every segment made, kept by a resume. Read
 * from the handle, so that it needs neither the consumer table (which
 * any registered reader may spoil) nor a second look by name. */
uint64_t mdbus_pub_epoch(const mdbus_pub_t *pub);

/* Marks the channel stopped, wakes blocked readers, unmaps. The segment
 * stays readable; the next publisher resumes it. NULL is a no-op. */
void mdbus_pub_close(mdbus_pub_t *pub);

/* Publisher counters (doc/protocol.md, "Counters"; Aeron's CnC counters):
 * up to MDBUS_COUNTERS_MAX labelled 64-bit values in the channel's
 * segment that any tool reads (mdbus_channel_counters(), mdsub --status).
 * A publisher defines them after mdbus_pub_open(), which empties the
 * table (counters count from 0 for each publisher), and updates them off
 * its publishing path; mdbus_pub_publish() never touches them. */
#define MDBUS_COUNTERS_MAX 24
#define MDBUS_COUNTER_LABEL_MAX 27 /* [A-Za-z0-9_.-], 1..27 characters */

enum mdbus_counter_kind {
	MDBUS_COUNTER_TOTAL = 0, /* only grows while its publisher runs */
	MDBUS_COUNTER_GAUGE = 1, /* a level: goes up and down */
};

/* Defines the next counter, value 0, with a label and kind, and returns
 * its id (0, 1, ... in order of definition), or -EINVAL (a label not of
 * [A-Za-z0-9_.-]{1,27}, an unknown kind), -EEXIST (the label is taken),
 * -ENOSPC (MDBUS_COUNTERS_MAX defined). From the publishing thread. */
int mdbus_pub_counter_new(mdbus_pub_t *pub, const char *label,
			  enum mdbus_counter_kind kind);

/* Sets / adds to counter `id` (an id mdbus_pub_counter_new() returned;
 * any other is ignored). A plain relaxed load and store, no locked
 * instruction and no system call: one thread at a time updates a given
 * counter (different counters may have different threads). */
void mdbus_pub_counter_set(mdbus_pub_t *pub, int id, uint64_t value);
void mdbus_pub_counter_add(mdbus_pub_t *pub, int id, uint64_t delta);

/* The value of counter `id` (0 for an id not defined). Any thread. */
uint64_t mdbus_pub_counter_get(const mdbus_pub_t *pub, int id);

/* Removes the channel's name from the segment directory (mapped readers keep
 * working). Returns 0 or a negative error (-ENOENT when absent). */
int mdbus_unlink(const char *channel, const char *dir);

#define MDBUS_UNLINK_FORCE 0x1u /* mdbus_channel_remove(): even if owned */

/* Removes every file of the channel (what `mdsub --unlink` does): its
 * segment, consumer table files, hidden segments a creator left, and lock
 * file last, under the channel's lock, so no publisher starts meanwhile.
 * Refuses, removing nothing: with MDBUS_EOWNED (mdbus_last_error() names
 * the pid) while a live publisher holds the lock, unless
 * MDBUS_UNLINK_FORCE (then the segment and its tables go, and the
 * publisher keeps its lock file and writes on into a segment nobody can
 * open any more); with -EPERM when the segment or the lock file belongs
 * to another user. Other users' consumer table files and hidden segments
 * under the channel's names are left (no part of this user's channel),
 * named in mdbus_last_error() even on success (empty: none left). Never
 * follows a symbolic link: one under a channel's name is removed itself.
 * Returns the number of files removed (> 0), -ENOENT when there was none
 * of this user, MDBUS_ENAME, MDBUS_ENODIR, or the error of a removal
 * (detail in mdbus_last_error()). Not for the hot path. */
int mdbus_channel_remove(const char *channel, const char *dir, unsigned flags);

/* --------------------------------------------------------------- subscriber */

enum mdbus_start {
	MDBUS_START_LATEST = 0, /* the next message published */
	MDBUS_START_OLDEST = 1, /* the oldest message still in the ring */
	MDBUS_START_SEQ = 2,    /* sequence start_seq: when the ring no
				   longer holds it, from the archive, then
				   the ring; what neither holds counts as
				   lost */
	MDBUS_START_TIME = 3,   /* the first message stamped at or after
				   start_time_ns, from the archive when the
				   ring's oldest is later */
};

struct mdbus_sub_config {
	const char *name;       /* consumer name (<= 31 chars) shown in stats;
				   NULL = "pid<N>" */
	int anonymous;          /* 1 = take no consumer entry, map read-only
				   (also chosen when the segment is not
				   writable); lossless producers do not wait
				   for anonymous readers, which sleep
				   woken by the publisher's nudger where it
				   runs one (MDBUS_PUB_NUDGE; mdpub does),
				   else nap 1 ms at a time */
	enum mdbus_start start;
	uint64_t start_seq;
	enum mdbus_wait wait;   /* strategy of mdbus_sub_read() */
	const char *dir;        /* segment directory; NULL = default */
	const char *owner;      /* user name or uid the segment file must
				   belong to; NULL = $MDBUS_OWNER, or any
				   owner when that is unset (see libmdbus(3),
				   "Permissions and security") */
	uint64_t start_time_ns; /* MDBUS_START_TIME: CLOCK_REALTIME ns */
	const char *archive_dir; /* the channel's archive, read before the
				   ring when the start is older than the
				   ring, and whenever the ring laps this
				   reader after that; NULL = the one the
				   publisher announces in the segment, if
				   any; "" = none (the ring only) */
};

struct mdbus_msg {
	uint64_t seq;        /* this message's sequence number */
	uint64_t ts_ns;      /* publish timestamp (CLOCK_REALTIME ns) */
	uint64_t lost;       /* messages lost just before this one */
	uint32_t size;       /* payload bytes */
	uint16_t type;       /* message type (see mdbus_msg.h) */
};

typedef struct mdbus_sub mdbus_sub_t;

/* Fills *cfg with defaults: registered, named "pid<N>", start latest,
 * adaptive wait, default directory. Never fails. */
void mdbus_sub_config_init(struct mdbus_sub_config *cfg);

/* Attaches to `channel`: validates the segment against its real size,
 * copies the geometry once, registers in the consumer table (reclaiming
 * entries of dead processes) unless anonymous. Returns 0 and sets *out, or
 * -ENOENT (no such channel), MDBUS_ENODIR (no segment directory),
 * MDBUS_EFULL, MDBUS_EBADMAGIC, MDBUS_EVERSION,
 * MDBUS_ECORRUPT, MDBUS_ENOTREADY, -EACCES, ... Registration may retry for
 * up to 1 s of its CPU time while table entries are being reclaimed
 * (100 ms while only other processes' reclaims are under way). Any
 * thread. */
int mdbus_sub_open(mdbus_sub_t **out, const char *channel,
		   const struct mdbus_sub_config *cfg);

/* mdbus_sub_open() that waits up to timeout_ns (< 0: forever; 0: not at
 * all) for a missing channel to appear (inotify on the segment directory,
 * and a look at least every 100 ms). A channel that appears during the
 * wait is read from its first message (seq 0) when cfg->start is latest.
 * Returns as mdbus_sub_open(), MDBUS_ENODIR at once, -ETIMEDOUT, or
 * -EINTR when a signal handler ran while it waited (SA_RESTART or not;
 * a signal between two looks is not seen: loop on a short timeout to
 * check a flag of your own). Any thread. */
int mdbus_sub_open_wait(mdbus_sub_t **out, const char *channel,
			const struct mdbus_sub_config *cfg, int64_t timeout_ns);

/* Non-blocking read of the next message into buf (len bytes). Returns 0 and
 * fills *msg; -EAGAIN when nothing new; -EMSGSIZE when len is too small
 * (msg->size says how much is needed; position kept); MDBUS_EEVICTED
 * (sticky) when this reader's consumer entry was taken away: a lossless
 * producer evicted it, or a reclaimer judged its process dead (then
 * mdbus_sub_reopen() registers again); MDBUS_EREPLACED
 * when nothing is left to read in a replaced segment. Messages the
 * producer overwrote before they were read are skipped and counted in
 * msg->lost. Never returns a torn, stale or duplicated message. No syscall;
 * never waits for a message (it may pause to hold back:
 * mdbus_sub_set_hold_back()). */
int mdbus_sub_try_read(mdbus_sub_t *sub, void *buf, size_t len,
		       struct mdbus_msg *msg);

/* A mdbus_sub_poll() handler: called with each message in place. payload
 * points into the read-only shared mapping (msg->size bytes) and is
 * valid only during the call; the producer may overwrite it meanwhile
 * (overwrite mode), and the library checks that after the call: if it
 * was, the handler is called once more for the same msg->seq with
 * payload NULL, meaning "what you read was overwritten: discard it",
 * and the message counts as lost. Return 0 to go on, non-zero to stop
 * after this message. It must not read, reopen or close the handle it is
 * called for (mdbus_sub_poll(), _read(), _try_read(), _reopen(),
 * _close()); mdbus_sub_position() (msg->seq there) and the other
 * functions that only look at it are fine. */
typedef int (*mdbus_msg_handler)(void *arg, const struct mdbus_msg *msg,
				 const void *payload);

/* Hands up to max ready messages to handler in place, without copying
 * (Aeron's fragment-handler shape): a batch read for readers that are
 * behind, and zero copy for large messages. Never waits for a message
 * (it may pause to hold back: mdbus_sub_set_hold_back()). Returns the
 * number of messages handed over and not taken back (0: nothing ready),
 * or a negative code as mdbus_sub_try_read() returns it (only when no
 * message was handed over in this call; otherwise the next call returns
 * it). Loss is counted as by try_read (msg->lost). The reader's position
 * goes to the shared table after each message when the channel is
 * lossless, else once per call and where a lap moved it on. No syscall. */
int mdbus_sub_poll(mdbus_sub_t *sub, mdbus_msg_handler handler, void *arg,
		   unsigned max);

/* A run of consecutive messages read in place (mdbus_sub_peek()): the
 * ring's slots themselves, or the library's copy of one message. Read
 * its messages with mdbus_view_msg(); stride, payload_max and base are
 * for that function. */
struct mdbus_view {
	uint64_t seq;         /* the first message's sequence number */
	uint64_t lost;        /* messages lost just before the first */
	uint32_t count;       /* messages in the view, >= 1 */
	uint32_t stride;      /* bytes from one message's slot to the next */
	uint32_t payload_max; /* the most payload a slot carries */
	uint32_t reserved;    /* 0 */
	const void *base;     /* the first message's slot */
};

/* Up to max messages from the reader's position on, in place (Aeron's
 * block poll, Chronicle's read in place). Where the reader is in the
 * ring and messages are there, *view is the ring's slots (up to the end
 * of their block of slots at most; the view may end sooner, where
 * mdbus_view_msg() says), nothing moves until mdbus_sub_release()
 * checks them, and a second peek before it gives the same messages (and
 * more if more came). Anything else (reading the
 * archive, a start time to reach, a lap to count, an odd slot) gives a
 * view of one message copied out with every check of a read, always
 * whole, and taken by the peek: the position is past it at once, a read
 * before the release goes on after it, and a peek gives the same view
 * again until it is released (also after a reopen in the same segment).
 * Returns the number of messages in the
 * view (0: nothing ready), or a negative code as mdbus_sub_try_read()
 * returns it, or -EINVAL for max 0. Never waits for a message. No
 * syscall. */
int mdbus_sub_peek(mdbus_sub_t *sub, struct mdbus_view *view, unsigned max);

/* Message i (< view->count) of a view: fills *msg (msg->lost is the
 * view's loss for message 0, else 0) and returns its payload, msg->size
 * bytes, valid until the view is released or the handle reopened or
 * closed; or NULL when slot i holds no message i (numbers the publisher
 * skipped, a producer already past it, or a size above
 * view->payload_max, which no producer of ours writes): the view ends
 * there, before i, and the next peek counts what it is (lost). In overwrite mode the producer
 * may write over a message while you read it: mdbus_sub_release() says
 * whether it did, and until then treat what you read as unchecked (copy
 * it out, or be ready to undo). Reads the slot's words as
 * doc/protocol.md lays them out (MDBUS_LAYOUT_MAJOR). Asks for the slot
 * 16 messages on (a prefetch). */
static inline const void *mdbus_view_msg(const struct mdbus_view *view,
					 unsigned i, struct mdbus_msg *msg)
{
	const uint64_t *slot = (const uint64_t *)(const void *)
		((const unsigned char *)view->base + (size_t)i * view->stride);
	/* Relaxed (the slot's words, as the library reads them): the peek's
	 * acquire load of the write count vouches for a message below it,
	 * mdbus_sub_release()'s check for what was not overwritten since. */
	uint64_t meta = __atomic_load_n(&slot[2], __ATOMIC_RELAXED);

	if (__atomic_load_n(&slot[0], __ATOMIC_RELAXED) !=
	    (view->seq + i + 1) << 1 || /* its stamp: complete(seq + i) */
	    (uint32_t)meta > view->payload_max)
		return (const void *)0;
	if (i + 16 < view->count)
		__builtin_prefetch((const unsigned char *)slot +
				   16 * (size_t)view->stride, 0, 3);
	msg->seq = view->seq + i;
	msg->ts_ns = __atomic_load_n(&slot[1], __ATOMIC_RELAXED);
	msg->lost = i == 0 ? view->lost : 0;
	msg->size = (uint32_t)meta;
	msg->type = (uint16_t)(meta >> 32);
	return slot + MDBUS_SLOT_HEADER / 8;
}

/* Ends a view: the reader's position moves past its first `used`
 * messages (0 to view->count; the rest come again at the next peek).
 * Returns how many of those the producer overwrote while the view was
 * held, k >= 0: always the first k (a producer overwrites in order),
 * counted lost as mdbus_sub_poll()'s messages taken back: discard what
 * you took from them. 0 in lossless mode while registered (the producer
 * waits for the position; not once a view held past stall_evict_ns got
 * the reader evicted) and for a copied view. -EINVAL for used above
 * the view's count, or a view that is not the reader's current one (a
 * read, a poll or a reopen since the peek, or released already). The
 * position goes to the shared table as a poll's does; it may pause to
 * hold back, as a poll may. No syscall. */
int mdbus_sub_release(mdbus_sub_t *sub, const struct mdbus_view *view,
		      unsigned used);

/* Like mdbus_sub_try_read() but waits with the configured strategy for up to
 * timeout_ns (< 0: forever). Returns as try_read, or -ETIMEDOUT, or
 * MDBUS_EREPLACED when the segment was replaced while waiting, or when,
 * without a live publisher, the channel's name now refers to another
 * segment (looked at every 100 ms while waiting), or -EINTR after
 * mdbus_sub_interrupt() or when a signal handler installed without
 * SA_RESTART ran while it slept. Nothing is consumed by an -EINTR. */
int mdbus_sub_read(mdbus_sub_t *sub, void *buf, size_t len,
		   struct mdbus_msg *msg, int64_t timeout_ns);

/* Makes the reader's current mdbus_sub_read() return -EINTR at once
 * (also while it steps over messages before its start time), or its
 * next one that would wait (a pending interrupt is answered by the
 * first -EINTR; several pending ones by one). Async-signal-safe (atomics
 * and a futex wake): call it from a signal handler or from any thread
 * while another uses the handle, but not during or after
 * mdbus_sub_close(). Wakes only this reader (on kernels before 5.16:
 * every reader of the channel asleep, once). */
void mdbus_sub_interrupt(mdbus_sub_t *sub);
/* A descriptor for event loops (epoll, poll, libev, libuv): it becomes
 * readable when this reader has something to read or should look (a
 * message past what it read, the publisher's state changed, its entry
 * was taken away). Use: wait for it readable, read(2) its 8 bytes (the
 * value means nothing; this re-arms it), then call mdbus_sub_try_read()
 * until -EAGAIN (or an error), then wait again. It stays readable until
 * read, and may be readable with nothing new (try_read says -EAGAIN).
 * The first call starts a helper thread that sleeps as a blocking reader
 * does (the publisher pays a FUTEX_WAKE per message only while it sleeps,
 * at most once per re-arm); an anonymous reader's helper naps on the
 * futex 1 ms at a time (up to 1 ms late). Later calls return the same
 * descriptor; mdbus_sub_close() ends the thread and closes it,
 * mdbus_sub_reopen() keeps it. While it exists, mdbus_sub_read() still
 * works but naps 1 ms at a time instead of sleeping announced. Returns
 * the descriptor or a negated errno. Not inherited usefully by fork(). */
int mdbus_sub_fd(mdbus_sub_t *sub);

/* 1 while the reader returns messages from the channel's archive (it
 * started, or fell, behind the ring), 0 while it reads the ring. */
int mdbus_sub_replaying(const mdbus_sub_t *sub);

/* 1 when this reader took a consumer entry (at open or at the last
 * mdbus_sub_reopen(); one evicted keeps it until it reopens or closes):
 * a lossless publisher waits for it. 0 when it reads without one:
 * anonymous by choice, or because the channel's files are not writable
 * to it (struct mdbus_sub_config.anonymous). */
int mdbus_sub_registered(const mdbus_sub_t *sub);

/* A reader that read 16384 messages or more since it last waited (a
 * second round of a waiting read, 64 empty tries at one position, or any
 * empty try once it has mdbus_sub_fd()'s descriptor) looks at the write
 * count at every 64th position (a poll: at the end of that call): while
 * the publisher is less than `distance` messages ahead (at most a
 * quarter of the ring) and publishes at least 16 messages in 4 looks (a
 * batch publisher's count moves a batch at a time), it pauses (four CPU
 * pauses a look, 32 looks at most: about 4 us on an AMD EPYC); a hold
 * that a count standing still ended lets the next 16 pass. A held
 * reader trails by up to `distance` messages (5 us at 50 M msgs/s with
 * 256). A reader as fast as its publisher otherwise
 * reads at its heels, on the cache lines the publisher is about to
 * write, and slows it down, itself with it (libmdbus(3), "Holding
 * back": what it costs, and when). Default 256; 0 = never pause. A
 * reader further behind, or slower than its publisher, never pauses.
 * Kept across mdbus_sub_reopen(). */
void mdbus_sub_set_hold_back(mdbus_sub_t *sub, uint64_t distance);

/* 1 when this reader has read everything published so far, else 0. */
int mdbus_sub_caught_up(const mdbus_sub_t *sub);

/* Sequence number of the next message this reader will return. */
uint64_t mdbus_sub_position(const mdbus_sub_t *sub);

/* Total messages this reader lost, and the number of gaps they came in. */
uint64_t mdbus_sub_lost(const mdbus_sub_t *sub);
uint64_t mdbus_sub_loss_events(const mdbus_sub_t *sub);
/* Records of the archive's files read past, not returned, to reach the
 * reader's position so far: a start in the archive, or a fall back to it,
 * reads its file from the first record (the files have no index,
 * doc/protocol.md "Archive files"). */
uint64_t mdbus_sub_archive_skipped(const mdbus_sub_t *sub);

/* Bytes of payload a slot carries; a buffer this large never gets
 * -EMSGSIZE. */
size_t mdbus_sub_payload_max(const mdbus_sub_t *sub);

/* The owner (st_uid) of the segment file this reader maps, from fstat()
 * of the very file mapped at open or at the last mdbus_sub_reopen(): the
 * user this reader trusts (libmdbus(3), "Permissions and security"). */
uid_t mdbus_sub_owner(const mdbus_sub_t *sub);

/* The epoch of the segment this reader maps (struct mdbus_stats.epoch),
 * from the identity copied at open or at the last mdbus_sub_reopen():
 * the segment its messages come from, whatever the name holds now. */
uint64_t mdbus_sub_epoch(const mdbus_sub_t *sub);

struct mdbus_pub_info {
	enum mdbus_pub_state state;
	pid_t pid;                /* last publisher's pid (0 = none) */
	int64_t heartbeat_age_ns; /* now - last heartbeat; -1 = never */
	uint64_t write_num;       /* messages published so far */
};

/* Publisher liveness as seen from this reader: state (a publisher whose
 * process is gone reads as MDBUS_PUB_DEAD; a segment without a live
 * publisher whose name now refers to another file as
 * MDBUS_PUB_REPLACED), pid, heartbeat age. Reads /proc
 * for the liveness check; not for the hot path. Returns 0 or an error. */
int mdbus_sub_pub_info(const mdbus_sub_t *sub, struct mdbus_pub_info *info);

/* Re-attaches after MDBUS_EREPLACED or MDBUS_EEVICTED (or whenever the
 * caller wants): maps the segment now under the channel name and starts
 * in it where start and seq say (as in struct mdbus_sub_config; OLDEST
 * reads every message a new segment still holds). When it is the same
 * segment, keeps the position and gives the old consumer entry back once
 * a new one holds it (a lossless producer never passes it meanwhile), or
 * first in a full table, so that it has room. Returns 0 or an error; on
 * error the old mapping
 * stays readable (in the same segment without an entry: reads then return
 * MDBUS_EEVICTED until a reopen succeeds). */
int mdbus_sub_reopen(mdbus_sub_t *sub, enum mdbus_start start, uint64_t seq);

/* Frees the consumer entry and unmaps. NULL is a no-op. */
void mdbus_sub_close(mdbus_sub_t *sub);

/* -------------------------------------------------------------------- tools */

struct mdbus_consumer_stat {
	char name[MDBUS_NAME_MAX + 1];
	pid_t pid;
	int alive;         /* 1 process alive, 0 dead (reclaimable) */
	int evicted;       /* 1 evicted by a lossless producer */
	uint64_t position; /* next sequence it will read */
	uint64_t lag;      /* write_num - position */
	uint64_t lost;     /* messages it lost */
};

struct mdbus_stats {
	char channel[MDBUS_CHANNEL_MAX + 1];
	uint32_t layout_major, layout_minor; /* segment layout version */
	uint32_t slot_size, slots_per_block, block_count, max_consumers;
	uint64_t capacity;   /* slots in the ring */
	uint64_t total_size; /* bytes of the segment */
	enum mdbus_mode mode;
	uint64_t epoch;
	uint64_t create_ns;  /* CLOCK_REALTIME of creation */
	struct mdbus_pub_info pub;
	uint32_t consumers;  /* entries in use (filled up to max given) */
	uid_t owner;         /* owner of the segment file read (st_uid) */
};

/* Snapshot of a channel for tools, attaching anonymously read-only: fills
 * *st and up to `max` consumer entries in use into cons[]. st->owner is
 * the owner of the very file the rest of *st was read from: fstat() of
 * the descriptor that was mapped, not a second lookup by name, so a file
 * renamed in between cannot lend its owner to another's contents. The
 * header's publisher pid is only what that file says: any user who may
 * write a file under the channel's name can name any pid there. A tool
 * that shows st->pub.pid should show st->owner with it, or compare it
 * with the owner of that live process (mdsub --list and --status do).
 * Returns 0 or a negative error; MDBUS_ETABLE when the consumer table is
 * missing or spoiled, or truncated while its entries were read, with *st
 * filled all the same but consumers 0 and cons[] not to be used. Not for
 * the hot path. */
int mdbus_channel_stats(const char *channel, const char *dir, struct mdbus_stats *st,
		struct mdbus_consumer_stat *cons, size_t max);

struct mdbus_counter {
	char label[MDBUS_COUNTER_LABEL_MAX + 1]; /* NUL-terminated, as the
						    publisher wrote it: not
						    checked (escape it) */
	enum mdbus_counter_kind kind;
	uint32_t id;    /* its place in the table */
	uint64_t value;
};

/* The counters of a channel's publisher, attaching anonymously read-only
 * (the last publisher's, also after it stopped or died; none in a segment
 * whose publisher defined none). Fills up to `max` into out[] and returns
 * how many are defined (more than max: the rest left out), or a negative
 * error: those of mdbus_channel_stats() but MDBUS_ETABLE, MDBUS_ECORRUPT
 * when the table
 * is absurd (more than MDBUS_COUNTERS_MAX, an unknown kind), -EAGAIN when
 * the publisher redefined it throughout many tries. Not for the hot
 * path. */
int mdbus_channel_counters(const char *channel, const char *dir,
			   struct mdbus_counter *out, size_t max);

/* The same from a reader's handle (the segment it reads). */
int mdbus_sub_counters(const mdbus_sub_t *sub, struct mdbus_counter *out,
		       size_t max);

struct mdbus_dir_stats {
	uint64_t files;      /* mdbus files in the directory: segments, their
				table, lock and hidden files */
	uint64_t bytes;      /* memory or disk they take (st_blocks * 512) */
	uint64_t fs_size;    /* bytes of the directory's file system */
	uint64_t fs_avail;   /* bytes of it free for us (statvfs) */
};

/* What the mdbus files in the segment directory (dir NULL = default)
 * take: the names "mdbus." with a channel name and anything after it,
 * looked at with lstat (no link followed, no file opened). Returns 0 or a
 * negative error (the directory cannot be read). */
int mdbus_dir_usage(const char *dir, struct mdbus_dir_stats *u);

/* Calls fn(channel, arg) for every mdbus channel in the segment directory
 * (dir NULL = default), in name order; stops early when fn returns non-zero
 * and returns that value. Returns 0, or a negative error. */
int mdbus_list(const char *dir, int (*fn)(const char *channel, void *arg),
	       void *arg);

/* 1 when name is a valid channel name, else 0. */
int mdbus_channel_valid(const char *name);

/* The segment directory that dir stands for in every call taking one:
 * dir when not empty, else $MDBUS_DIR when set and not empty, else
 * /dev/shm. Never NULL; dir or the environment's string, not a copy. */
const char *mdbus_segment_dir(const char *dir);

#ifdef __cplusplus
}
#endif
#endif /* MDBUS_H */
