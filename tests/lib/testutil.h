/*
 * testutil.h - helpers shared by the libmdbus tests (tests/lib/t_*.c): failure
 * reporting, a private segment directory per test, child processes with
 * timeouts, self-verifying payloads, /proc readers and segment mapping.
 *
 * A test program exits 0 on pass, 77 (TU_SKIP) on a visible skip, anything
 * else on failure, after printing a one-line reason on stderr.
 *
 * testutil.c itself never calls libmdbus (the dlopen host links it without
 * the library); the few helpers that do are static inline below. Those
 * that read a segment's raw layout are declared when layout.h is included
 * first.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TU_SKIP 77

/* ------------------------------------------------------------ reporting */

/* Prints "FAIL <prog>: <reason>" on stderr and exits 1. In the main test
 * process it first SIGKILLs and reaps the children it spawned and removes
 * the test directory; in a child it only _exit()s (the parent reports). */
_Noreturn void tu_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Prints "SKIP <prog>: <reason>", cleans up like tu_fail, exits 77. */
_Noreturn void tu_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Prints "<prog>: <text>" on stderr (progress notes for the .log file). */
void tu_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TU_CHECK(cond)                                                       \
	do {                                                                 \
		if (!(cond))                                                 \
			tu_fail("%s:%d: check failed: %s", __FILE__,         \
				__LINE__, #cond);                            \
	} while (0)

/* Both sides compared as unsigned 64-bit; printed signed and unsigned. */
#define TU_CHECK_EQ(a, b)                                                    \
	tu_check_eq_(__FILE__, __LINE__, #a, #b, (uint64_t)(a), (uint64_t)(b))
void tu_check_eq_(const char *file, int line, const char *as, const char *bs,
		  uint64_t a, uint64_t b);

/* An int return code compared with the expected one; on mismatch prints
 * both with mdbus_strerror() and mdbus_last_error(). Needs mdbus.h. */
#define TU_CHECK_RC(expr, want)                                              \
	do {                                                                 \
		int tu_rc_ = (expr), tu_want_ = (want);                      \
		if (tu_rc_ != tu_want_)                                      \
			tu_fail("%s:%d: %s returned %d (%s; %s), want %d "   \
				"(%s)",                                      \
				__FILE__, __LINE__, #expr, tu_rc_,           \
				mdbus_strerror(tu_rc_), mdbus_last_error(),  \
				tu_want_, mdbus_strerror(tu_want_));         \
	} while (0)

/* ------------------------------------------------------------- the test */

/* Starts a test: names it, seeds the PRNG ($TU_SEED or time; printed),
 * arms a watchdog that fails the test after timeout_s seconds, creates a
 * private segment directory under /dev/shm (removed at exit, also on
 * failure) and exports it as $MDBUS_DIR. */
void tu_init(const char *name, unsigned timeout_s);

/* Waits for the other wait tests to end, and holds them off until exit
 * (testutil.c: they disturb each other). */
void tu_take_turn(void);

/* The test's segment directory (valid after tu_init). */
const char *tu_dir(void);

/* Path of channel's segment file in the test directory (static buffer). */
const char *tu_seg_path(const char *channel);
/* Path of the consumer table file of the segment now under channel's
 * name (a static buffer, like tu_seg_path()). */
const char *tu_table_path(const char *channel);

/* 1 in the process that called tu_init, 0 in its children. */
int tu_is_main(void);

/* ------------------------------------------------------------ processes */

/* Forks a child that runs fn(arg) and _exit()s with its return value.
 * The child is registered so that a failing test kills it. */
pid_t tu_spawn(int (*fn)(void *), void *arg);

/* Whether the kernel has futex_waitv(2) (5.16 on): without it a reader's
 * sleep is not restarted after a handler installed with SA_RESTART
 * (libmdbus(3), "Interrupting a read"). */
int tu_have_waitv(void);

/* Waits for child pid up to timeout_s seconds. Returns its exit code
 * (0..255), 256 + signal number when a signal ended it, or -1 on timeout
 * (the child is then SIGKILLed and reaped). */
int tu_wait(pid_t pid, double timeout_s);

/* tu_wait() that fails the test unless the child exits 0. */
void tu_wait_ok(pid_t pid, double timeout_s, const char *what);

/* Whether a tu_wait() status says the child died of signal sig. Under a
 * sanitizer, whose own handler reports a fatal signal and exits (ASan
 * with 1, TSan with 66), those exit statuses count too. */
static inline int tu_died_of(int status, int sig)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	if (status == 1 || status == 66)
		return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
	if (status == 1 || status == 66)
		return 1;
#endif
#endif
	return status == 256 + sig;
}

/* SIGKILLs pid and reaps it (it must be our child). */
void tu_kill_reap(pid_t pid);

/* Zeroed memory shared with children forked after this call. */
void *tu_shared(size_t size);

/* Polls (100 us steps) until *word >= want; fails the test after timeout_s
 * seconds naming `what`. */
void tu_await(_Atomic uint32_t *word, uint32_t want, double timeout_s,
	      const char *what);

/* --------------------------------------------------------------- clocks */

uint64_t tu_now_ns(void);      /* CLOCK_MONOTONIC */
uint64_t tu_realtime_ns(void); /* CLOCK_REALTIME */
void tu_sleep_ms(double ms);

/* ----------------------------------------------------------------- PRNG */

uint64_t tu_rand(void);              /* per-process xorshift; seeded */
uint64_t tu_rand_below(uint64_t n);  /* uniform-ish in [0, n) */

/* ------------------------------------------------ self-verifying payload */

/* Every 64-bit word (and the trailing bytes) of a payload is a hash of the
 * message's sequence number and the word's index, so a copy mixing two
 * messages (torn), a stale message or a wrong length shows at once. */
uint64_t tu_word(uint64_t seq, size_t index);
void tu_fill(void *buf, size_t size, uint64_t seq);
/* Returns -1 when buf holds message seq's payload, else the offset of the
 * first wrong byte. */
long tu_verify(const void *buf, size_t size, uint64_t seq);
/* A payload size in [min, max] and a type, both derived from seq. */
size_t tu_size_for(uint64_t seq, size_t min, size_t max);
uint16_t tu_type_for(uint64_t seq);

/* ----------------------------------------------------------------- proc */

/* utime + stime of pid in nanoseconds (clock-tick resolution); -1 if gone. */
int64_t tu_proc_cpu_ns(pid_t pid);
/* Start time of pid (/proc/PID/stat field 22); 0 if gone. */
uint64_t tu_proc_start(pid_t pid);
/* State letter of pid (/proc/PID/stat field 3: R, S, T, Z...); 0 if gone. */
char tu_proc_state(pid_t pid);
/* /proc/PID/schedstat opened for tu_active_ns() (-1 if it cannot be). */
int tu_schedstat_open(pid_t pid);
/* Time on a CPU plus time runnable but waiting for one (ns) of the task
 * whose schedstat fd is: what a loaded machine adds to a wait, as against
 * time asleep. -1 when unknown (fd -1, no schedstat). */
int64_t tu_active_ns(int fd);
/* Polls (1 ms steps) until pid is in state `state` (e.g. 'S': asleep, as
 * on a futex; 'T': stopped); fails the test after timeout_s naming what. */
void tu_await_state(pid_t pid, char state, double timeout_s,
		    const char *what);

/* ------------------------------------------------------------- segments */

/* Maps a whole file read-write, shared; *size gets its length. */
void *tu_map_file(const char *path, size_t *size);
void tu_unmap(void *p, size_t size);
/* Maps the header page (SEG_HEADER_SIZE) of channel's data file
 * read-only, as any reader of it may: a hostile reader's view. */
void *tu_map_header_ro(const char *channel);
/* Writes size bytes to path (created 0640, truncated). */
void tu_write_file(const char *path, const void *data, size_t size);
/* Truncates path to size bytes. */
void tu_truncate(const char *path, off_t size);

/* The mappings shared_map.c (a test program that links it) handed out
 * again: every handle of a process on one mapping of a segment. */
unsigned long tu_shared_map_hits(void);

/* ------------------------------------- the dlopen plugin (plugin_reader.c) */

/* Runs in the plugin's own thread: subscribes to channel (latest) and
 * reads `want` messages of tu_publish_seq()'s pattern, checking each.
 * Returns 0, or -1 with the reason in why. */
typedef int tu_plugin_read_fn(const char *channel, uint64_t want, char *why,
			      size_t len);
/* Publishes on channel (tu_publish_seq() pattern) until flags[1] is set;
 * sets flags[0] once the channel exists. Returns 0 or -1. */
typedef int tu_plugin_publish_fn(const char *channel,
				 _Atomic uint32_t *flags);

/* --------------------------------------------- helpers that use libmdbus */
#ifdef MDBUS_H
#include <stdio.h>

/* A config with the given geometry and mode (dir: the test directory). */
static inline struct mdbus_pub_config tu_config(uint32_t slot_size,
					    uint32_t slots_per_block,
					    uint32_t block_count,
					    enum mdbus_mode mode)
{
	struct mdbus_pub_config c;

	mdbus_pub_config_init(&c);
	c.slot_size = slot_size;
	c.slots_per_block = slots_per_block;
	c.block_count = block_count;
	c.mode = mode;
	c.dir = tu_dir();
	return c;
}

/* c with the publisher's nudger (MDBUS_PUB_NUDGE). */
static inline struct mdbus_pub_config tu_nudging(struct mdbus_pub_config c)
{
	c.flags |= MDBUS_PUB_NUDGE;
	return c;
}

/* mdbus_pub_open() that fails the test on error. */
static inline mdbus_pub_t *tu_pub_open(const char *channel,
				       const struct mdbus_pub_config *cfg)
{
	mdbus_pub_t *p = NULL;

	TU_CHECK_RC(mdbus_pub_open(&p, channel, cfg), 0);
	return p;
}

/* The wait tests' publisher: a nudging one of 4 blocks of 1024 64-byte
 * slots, overwrite. */
static inline mdbus_pub_t *tu_pub_open_nudging(const char *channel)
{
	struct mdbus_pub_config c = tu_nudging(tu_config(64, 1024, 4,
							 MDBUS_MODE_OVERWRITE));

	return tu_pub_open(channel, &c);
}

/* mdbus_sub_open() that fails the test on error. */
static inline mdbus_sub_t *tu_sub_open(const char *channel, const char *name,
				       enum mdbus_start start, uint64_t seq,
				       enum mdbus_wait wait)
{
	struct mdbus_sub_config c;
	mdbus_sub_t *s = NULL;

	mdbus_sub_config_init(&c);
	c.name = name;
	c.start = start;
	c.start_seq = seq;
	c.wait = wait;
	c.dir = tu_dir();
	TU_CHECK_RC(mdbus_sub_open(&s, channel, &c), 0);
	return s;
}

/* An anonymous reader of channel (no consumer entry), from the latest
 * message, waiting adaptively: what any reader that may not write the
 * table opens. */
static inline mdbus_sub_t *tu_sub_open_anonymous(const char *channel)
{
	struct mdbus_sub_config c;
	mdbus_sub_t *s = NULL;

	mdbus_sub_config_init(&c);
	c.anonymous = 1;
	c.dir = tu_dir();
	TU_CHECK_RC(mdbus_sub_open(&s, channel, &c), 0);
	return s;
}

/* Publishes message seq with the derived size (in [min, max]), type and
 * timestamp seq + 1; returns mdbus_pub_publish()'s result. buf must hold
 * max bytes. */
static inline int tu_publish_seq(mdbus_pub_t *p, uint64_t seq, void *buf,
				 size_t min, size_t max)
{
	size_t n = tu_size_for(seq, min, max);

	tu_fill(buf, n, seq);
	return mdbus_pub_publish(p, tu_type_for(seq), buf, n, seq + 1);
}

/* A publisher process's work: opens channel with *cfg, sets *ready to 1,
 * waits for the reader to set it to 2, then publishes messages 0 to n - 1
 * by tu_publish_seq() (sizes up to max bytes, at most 256), each retried
 * while the ring is full (lossless), at most one every pace_ns (a spin;
 * 0: back to back), skipping skip_at(i) numbers at each i where it is not
 * 0 (mdbus_pub_skip(), retried the same way; skip_at NULL: none). Fails
 * the test on error. */
static inline void tu_publish_flood(const char *channel,
				    const struct mdbus_pub_config *cfg,
				    _Atomic uint32_t *ready, uint64_t n,
				    size_t max, uint64_t pace_ns,
				    uint64_t (*skip_at)(uint64_t i))
{
	unsigned char buf[256];
	mdbus_pub_t *p = tu_pub_open(channel, cfg);
	uint64_t i, k, next = 0;
	int r;

	TU_CHECK(max <= sizeof(buf));
	atomic_store(ready, 1);
	tu_await(ready, 2, 30, "reader");
	for (i = 0; i < n; i++) {
		if (pace_ns) {
			while (tu_now_ns() < next)
				;
			next = tu_now_ns() + pace_ns;
		}
		if (skip_at && (k = skip_at(i)) != 0) {
			while ((r = mdbus_pub_skip(p, k)) == MDBUS_EBACKPRESSURE)
				;
			TU_CHECK_RC(r, 0);
			if ((i += k) >= n)
				break;
		}
		while ((r = tu_publish_seq(p, i, buf, 0, max)) == MDBUS_EBACKPRESSURE)
			;
		TU_CHECK_RC(r, 0);
	}
	mdbus_pub_close(p);
}

/* Checks a message published by tu_publish_seq(): payload, size, type and
 * timestamp. Returns NULL when it is right, else a static description. */
static inline const char *tu_msg_bad(const struct mdbus_msg *m,
				     const void *buf, size_t min, size_t max)
{
	static __thread char why[160];
	long off;

	if (m->size != tu_size_for(m->seq, min, max))
		snprintf(why, sizeof(why), "seq %llu: size %u, want %zu",
			 (unsigned long long)m->seq, m->size,
			 tu_size_for(m->seq, min, max));
	else if (m->type != tu_type_for(m->seq))
		snprintf(why, sizeof(why), "seq %llu: type %u, want %u",
			 (unsigned long long)m->seq, m->type,
			 tu_type_for(m->seq));
	else if (m->ts_ns != m->seq + 1)
		snprintf(why, sizeof(why), "seq %llu: ts %llu, want seq+1",
			 (unsigned long long)m->seq,
			 (unsigned long long)m->ts_ns);
	else if ((off = tu_verify(buf, m->size, m->seq)) >= 0)
		snprintf(why, sizeof(why),
			 "seq %llu: payload byte %ld wrong (torn/stale copy)",
			 (unsigned long long)m->seq, off);
	else
		return NULL;
	return why;
}

/* Checks *m (its payload in buf) as what a reader gets next: expect is
 * its previous message's seq + 1 (or where it started), and *m must be
 * message expect + m->lost of tu_publish_seq()'s pattern, with m->lost
 * equal to `lost` (pass m->lost when any loss is right). Returns NULL
 * when it is, else a static description naming seq, loss and expect. */
static inline const char *tu_next_bad(const struct mdbus_msg *m,
				      const void *buf, uint64_t expect,
				      uint64_t lost, size_t min, size_t max)
{
	static __thread char why[240];
	const char *bad = m->seq != expect + m->lost || m->lost != lost
				  ? "sequence/loss mismatch"
				  : tu_msg_bad(m, buf, min, max);

	if (!bad)
		return NULL;
	snprintf(why, sizeof(why), "seq %llu lost %llu after %llu: %s",
		 (unsigned long long)m->seq, (unsigned long long)m->lost,
		 (unsigned long long)expect, bad);
	return why;
}

/* Fails the test unless *m is message `want` of tu_publish_seq()'s
 * pattern, with nothing lost before it. */
static inline void tu_check_next(const struct mdbus_msg *m, const void *buf,
				 uint64_t want, size_t min, size_t max)
{
	const char *bad;

	if (m->seq != want || m->lost)
		tu_fail("got seq %llu lost %llu, want %llu",
			(unsigned long long)m->seq,
			(unsigned long long)m->lost, (unsigned long long)want);
	if ((bad = tu_msg_bad(m, buf, min, max)))
		tu_fail("%s", bad);
}
#endif /* MDBUS_H */

/* ------------------------------------ raw segment access (needs layout.h) */
#ifdef MDBUS_LAYOUT_H
/* The 64-bit words of message n's slot in a segment mapped by
 * tu_map_file(), located from its (trusted: test-made) header. */
static inline _Atomic uint64_t *tu_slot(void *seg, uint64_t n)
{
	struct seg_header *h = seg;
	uint64_t slot_size = atomic_load(&h->slot_size);
	uint64_t spb = atomic_load(&h->slots_per_block);
	uint64_t cap = spb * atomic_load(&h->block_count);
	uint64_t page = 4096, stride = (spb * slot_size + page - 1) / page * page;
	uint64_t slot = n % cap;

	/* every offset is a whole number of words (layout.h) */
	return (_Atomic uint64_t *)seg +
	       (atomic_load(&h->blocks_off) + slot / spb * stride +
		slot % spb * slot_size) / sizeof(uint64_t);
}

/* Consumer-table entry i of a table file mapped by tu_map_file(). */
static inline struct seg_consumer *tu_entry(void *table, unsigned i)
{
	return (struct seg_consumer *)table + SEG_HEADER_SIZE / sizeof(struct seg_consumer) + i;
}

/* Polls (1 ms steps) until the publisher's nudger is asleep: its flag up
 * in segment header h and no waiter counted in table t, 20 looks in a
 * row; fails the test after 30 s. */
void tu_await_nudger_asleep(const struct seg_header *h,
			    const struct seg_table_header *t);
#endif /* MDBUS_LAYOUT_H */

#endif /* TESTUTIL_H */
