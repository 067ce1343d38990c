/*
 * bench.h - internal interfaces of mdbench (see README for the method).
 *
 * A "transport" is one thing that moves messages from one producer process
 * to N consumer processes: libmdbus itself, or the minimal seqlock ring of
 * ring.c kept as the reference. The drivers in drivers.c run the same
 * latency / throughput / publish-cost experiment over either transport;
 * harness.c forks and pins the processes of one run and collects results.
 */
#ifndef MDBENCH_H
#define MDBENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define BENCH_LINE 64
#define BENCH_MAX_CONSUMERS 8        /* readers of one run (idle ones too) */
#define BENCH_RING_SLOTS (1u << 16)  /* slots per ring, both transports */
#define BENCH_MAX_SLOT 256u          /* largest slot size measured */
#define BENCH_BURST 32u              /* unpaced messages handed over at once
					to a transport's publish_burst */
#define BENCH_MAX_REPS 9             /* runs per cell at most (median) */

enum bench_mode { BENCH_OVERWRITE = 0, BENCH_LOSSLESS = 1 };
enum bench_wait { BENCH_SPIN = 0, BENCH_ADAPTIVE = 1 };

/* One cell of the measurement matrix. */
struct bench_cell {
	uint32_t slot_size;   /* bytes per slot, header included */
	int consumers;        /* consumer processes (or idle readers) */
	enum bench_mode mode;
	enum bench_wait wait;
};

/* What a consumer got from one read. */
struct bench_rx {
	uint64_t seq;  /* sequence number of the message */
	uint64_t lost; /* messages skipped just before it */
	const uint64_t *payload; /* where its payload is: the caller's buf, or
				    the transport's own copy (valid until the
				    next read) */
};

/* What a consumer does with the messages it reads (drivers.c fills it,
 * a transport's sub_consume hands each message to bench_take()). */
struct bench_sink {
	void *buf;             /* where a transport copies each payload */
	size_t len;            /* its size: the run's message size */
	uint64_t last;         /* the sequence number that ends the read */
	uint64_t warmup;       /* below it, neither loss nor samples count */
	uint64_t lost;         /* messages lost, from warmup on */
	uint64_t *samples;     /* paced: one-way ns per message, else NULL */
	uint64_t nsamples, max_samples;
	int done;              /* set by bench_take() at last */
};

uint64_t bench_now(void);

/* The consumer's part of one message, in the transport's read loop:
 * counts its loss, takes a latency sample when paced (payload[0] is the
 * send time), and says 1 when it was the last one (sets k->done). */
static inline int bench_take(struct bench_sink *k, uint64_t seq, uint64_t lost,
			     const uint64_t *payload)
{
	if (seq >= k->warmup) {
		k->lost += lost;
		if (k->samples && k->nsamples < k->max_samples)
			k->samples[k->nsamples++] = bench_now() - payload[0];
	}
	k->done = seq == k->last;
	return k->done;
}

struct bench_run;

struct bench_transport {
	const char *name;
	/* In the coordinator, before any fork / after every child exited. */
	int (*setup)(struct bench_run *run);
	void (*teardown)(struct bench_run *run);
	/* In the producer process. publish returns 0, or -EAGAIN when a
	 * lossless ring is full (nothing written: retry), or another error. */
	int (*pub_open)(struct bench_run *run, void **pub);
	int (*publish)(void *pub, const void *data, size_t size);
	/* Optional, a batching transport: publishes up to count messages
	 * of size bytes in place, the first at msg, each stride words after
	 * the one before (a feed handler's decoded packet), without waiting
	 * for more; returns how many it took (at least 1), -EAGAIN when a
	 * lossless ring took none (retry), or another error. Unpaced runs
	 * hand over BENCH_BURST at a time through it (drivers.c). */
	int (*publish_burst)(void *pub, const uint64_t *msg, size_t stride,
			     unsigned count, size_t size);
	/* Optional: makes public what publish() has buffered (a batching
	 * transport); returns 0 or a negative error. */
	int (*flush)(void *pub);
	void (*pub_close)(void *pub);
	/* In a consumer process. consume reads messages in order with the
	 * transport's own interface, as a program using it would, copying
	 * each payload into k->buf (its one copy) and handing it to
	 * bench_take(), until message k->last; it waits (spin or the
	 * transport's default) without limit (the harness's watchdog ends a
	 * hung run). Returns 0 or a negative error. */
	int (*sub_open)(struct bench_run *run, void **sub);
	int (*sub_consume)(void *sub, struct bench_sink *k);
	/* Optional: one message at a time (icount.c, the ring). */
	int (*sub_read)(void *sub, void *buf, size_t len, struct bench_rx *rx);
	void (*sub_close)(void *sub);
	/* Optional: the byte offset of message seq's slot from the start of
	 * its 4 KiB page (the latency's page profile, pages.c). */
	uint32_t (*page_offset)(const struct bench_run *run, uint64_t seq);
};

/* Per-process results: written by the child before it exits, read by the
 * coordinator only after waitpid() returned for it (the exit/wait pair
 * orders them; they are never accessed concurrently). */
struct bench_result {
	int status;          /* 0 ok, else failed */
	uint64_t t_start;    /* CLOCK_MONOTONIC ns */
	uint64_t t_end;
	uint64_t lost;       /* messages lost (overwrite) */
	uint64_t retries;    /* publish retries on back-pressure */
	uint64_t nsamples;   /* samples stored in the sample area */
	uint64_t value;      /* publish cost: picoseconds per message */
};

/* The shared control block of a run: one MAP_SHARED anonymous mapping
 * made by the coordinator before fork, so every child sees it. */
struct bench_ctl {
	/* Producer: release-store 1 once its channel exists; pairs with the
	 * consumers' acquire load before they attach. */
	_Alignas(BENCH_LINE) _Atomic int pub_ready;
	/* Consumers: release-increment once attached; pairs with the
	 * producer's acquire load before its first message. */
	_Alignas(BENCH_LINE) _Atomic int subs_ready;
	/* Consumers: release-increment when finished; pairs with the
	 * producer's acquire load before it closes its channel. */
	_Alignas(BENCH_LINE) _Atomic int subs_done;
	/* Producer: release-store 1 when finished (idle readers wait for it);
	 * pairs with their acquire load. */
	_Alignas(BENCH_LINE) _Atomic int pub_done;
	/* Catch-up rounds (drivers.c bench_catchup()): the producer
	 * release-increments round_ready once a round's messages are all
	 * published, the reader release-increments round_done once it has
	 * read them; each side acquires the other's count before going on. */
	_Alignas(BENCH_LINE) _Atomic int round_ready;
	_Alignas(BENCH_LINE) _Atomic int round_done;
	/* The cache line of the floor ping-pong (floor.c). */
	_Alignas(BENCH_LINE) _Atomic uint64_t line;
	_Alignas(BENCH_LINE) struct bench_result res[1 + BENCH_MAX_CONSUMERS];
};

/* Everything one child needs; built by the driver, read-only in children. */
struct bench_run {
	const struct bench_transport *tp;
	struct bench_cell cell;
	int procs;             /* consumer processes to fork */
	uint64_t messages;     /* messages the producer sends (per rep) */
	uint64_t pace_ns;      /* latency: one message every pace_ns */
	uint64_t round;        /* catch-up: messages read per round */
	uint64_t warmup;       /* untimed first messages (one ring lap) */
	uint64_t max_samples;  /* per process, size of its sample area */
	const char *dir;       /* private segment directory */
	char channel[32];      /* unique per run */
	void *tp_state;        /* transport state made by setup() */
	struct bench_ctl *ctl;
	uint64_t *samples;     /* (1 + consumers) x max_samples, shared */
	int role;              /* in a child: 0 producer, 1.. consumer */
	int (*producer)(struct bench_run *run);
	int (*consumer)(struct bench_run *run);
};

/* Percentiles of a sample set (percentile.c). */
struct bench_pct {
	uint64_t n, min, p50, p99, p999, max;
};

/* harness.c (bench_now() above) */
int bench_wait_count(_Atomic int *counter, int target);
struct bench_result *bench_my_result(struct bench_run *run);
uint64_t *bench_my_samples(struct bench_run *run);
int bench_execute(struct bench_run *run);
void bench_release(struct bench_run *run);
int bench_execute_producer_pct(struct bench_run *run, struct bench_pct *out);
void bench_fail(const char *what, int err);
/* Forks a child pinned to bench_cpu_at(cpu_index), with the default
 * SIGINT/SIGTERM actions, that runs fn(arg) and exits 0 when it returns
 * 0, else 1. Returns its pid, or -1. */
pid_t bench_fork(int cpu_index, int (*fn)(void *), void *arg);
/* Waits for pid: 0 when it exited 0, else -1 (also for pid -1). */
int bench_reap(pid_t pid);
int bench_cpu_at(int index);
int bench_cpus(void);
void bench_install_signals(void);
int bench_stopped(void);

/* percentile.c */
void bench_percentiles(uint64_t *v, uint64_t n, struct bench_pct *out);

/* pages.c: one-way latency by where the message's slot lies in its 4 KiB
 * page: the share of samples above p50 + BENCH_LATE_NS at each position
 * (slot offset in the page / slot size; position 0 starts a page). */
#define BENCH_PAGE 4096u
#define BENCH_LATE_NS 40u
#define BENCH_PAGE_HEAD 8u /* the page's first slots, shown apart */
struct bench_page {
	int valid;             /* 0: not measured (several consumers, a
				  loss, no page_offset, slots of a page) */
	double median;         /* median share over the positions */
	double first;          /* position 0, the slot that starts a page */
	double head;           /* positions 1 .. BENCH_PAGE_HEAD - 1 */
	double worst;          /* the largest share ... */
	unsigned worst_pos;    /* ... and its position */
};
/* v: one consumer's samples in order, sample i of message first_seq + i,
 * none lost; v itself is left as it is. */
void bench_page_profile(const struct bench_run *run, const uint64_t *v,
			uint64_t n, uint64_t first_seq, struct bench_page *out);

/* drivers.c */
struct bench_opts {
	uint64_t messages;     /* per throughput run / publish-cost rep */
	uint64_t samples;      /* latency samples per consumer */
	uint64_t pace_ns;      /* latency: interval between messages */
	int reps;              /* runs per cell: throughput, publish cost */
	const char *dir;       /* private segment directory */
	uint64_t strategy_ns;  /* strategy: length of one run's feed */
};
struct bench_lat {
	struct bench_pct pct;  /* ns, all consumers merged */
	uint64_t lost;
	struct bench_page page; /* one consumer that lost nothing only */
};
struct bench_tput {
	double rate;           /* messages / s, to the slowest consumer */
	double loss;           /* worst consumer's lost / published */
	double retries;        /* publish retries per message */
};
int bench_latency(const struct bench_transport *tp, const struct bench_cell *cell,
		  const struct bench_opts *o, struct bench_lat *out);
int bench_throughput(const struct bench_transport *tp, const struct bench_cell *cell,
		     const struct bench_opts *o, struct bench_tput *out);
/* Catch-up: one reader that is `behind` messages behind (the producer
 * publishes them unpaced while it waits) reads them all, in rounds; *rate
 * is messages / s of reading alone. Overwrite mode, never lapped. */
int bench_catchup(const struct bench_transport *tp, const struct bench_cell *cell,
		  const struct bench_opts *o, uint64_t behind, double *rate);
/* summary.c: every performance target in one table (section "summary"). */
void bench_summary(const struct bench_opts *o, double floor_ns);

/* Who reads while pubcost publishes. */
enum bench_readers {
	BENCH_READERS_IDLE,    /* cell->consumers registered, never reading */
	BENCH_READERS_ACTIVE,  /* one reading every message it can, spinning */
	BENCH_READERS_ARCHIVE, /* one archiving (archive.c; mdbus only) */
};

/* Publish cost of one run, in picoseconds per message, with those readers
 * (ACTIVE and ARCHIVE: cell->consumers must be 1). */
int bench_pubcost(const struct bench_transport *tp, const struct bench_cell *cell,
		  const struct bench_opts *o, enum bench_readers readers,
		  uint64_t *ps_per_msg);

/* drivers.c, for consumers elsewhere: attach one reader (waits for the
 * producer, counts it in subs_ready); count it done (subs_done). */
int bench_attach(struct bench_run *run, void **sub);
void bench_finished(struct bench_run *run);

/* archive.c: pubcost's archiving reader, in a consumer process: what
 * mdpub's archive does (mdbus transport only). */
int bench_archive_consumer(struct bench_run *run);

/* crosstalk.c: publish calls on a channel without readers, while another
 * channel's blocking reader sleeps and wakes 1000 times a second (noisy)
 * or not. */
struct bench_xtalk {
	struct bench_pct pct;  /* ns per publish call, clock pair included */
	double stalls_per_s;   /* calls of 1 us or more, per second */
	double ipi_per_s;      /* function-call interrupts on its CPU, per s */
};
int bench_crosstalk(const struct bench_opts *o, int noisy, struct bench_xtalk *out);

/* strategy.c: one paced feed read by one reader with one wait strategy:
 * latency and the reader's CPU time. */
struct bench_feed {
	const char *name;
	unsigned burst;     /* messages per burst (1: steady) */
	uint64_t gap_ns;    /* between messages of a burst */
	uint64_t period_ns; /* between the starts of bursts */
};
struct bench_waiter {
	const char *name;
	int wait;           /* enum mdbus_wait */
	int anonymous;      /* read-only reader without a consumer entry */
	unsigned pub_flags; /* the publisher's (MDBUS_PUB_NUDGE) */
};
struct bench_strat {
	uint64_t n, p50, p99; /* latency samples, ns */
	uint64_t lost;
	double cpu_pct;       /* reader CPU time / wall time, % */
};
int bench_strategy(const struct bench_opts *o, const struct bench_feed *feed,
		   const struct bench_waiter *w, struct bench_strat *out);

/* floor.c */
int bench_floor(uint64_t rounds, struct bench_pct *rtt);

/* Copies size bytes: whole words in a loop the compiler sees through,
 * then the tail as one word that ends where the record ends (overlapping
 * the last whole one), or bytes when the record is shorter than a word:
 * what a handler copying a record of known size compiles to, with no
 * call to memcpy per message (the tail was a memcpy of variable length:
 * a call for a 37-byte record, icount's poll 8.7-9.0 ns a message in one
 * process against 4.7-5.0 now; its handler 47 instructions a 40-byte
 * message against 43). */
static inline void bench_copy(void *dst, const void *src, size_t size)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	size_t i, words = size / 8;
	uint64_t w;

	for (i = 0; i < words; i++) {
		memcpy(&w, s + i * 8, 8);
		memcpy(d + i * 8, &w, 8);
	}
	if (size % 8 == 0)
		return;
	if (words) {
		memcpy(&w, s + size - 8, 8);
		memcpy(d + size - 8, &w, 8);
		return;
	}
	for (i = 0; i < size; i++)
		d[i] = s[i];
}

/* transports */
extern const struct bench_transport bench_ring_transport;
/* the ring, `steps` of arithmetic after each publish (ring.c); set in the
 * coordinator before a run */
extern const struct bench_transport bench_ring_slow_transport;
void bench_ring_pad(unsigned steps);
/* the ring whose reader only waits for each stamp: target 4's floor */
extern const struct bench_transport bench_ring_lines_transport;
extern const struct bench_transport bench_ring_work_transport;
extern const struct bench_transport bench_mdbus_transport;
extern const struct bench_transport bench_mdbus_batch_transport;
extern const struct bench_transport bench_mdbus_view_transport;
extern const struct bench_transport bench_mq_transport;

#endif /* MDBENCH_H */
