/*
 * check.h - what the mdpub tests' consumers verify in each message
 * they read: sequence continuity with exact loss accounting, counts per
 * type, and (for the synthetic source) per-message invariants that a torn
 * copy of two messages would break.
 */
#ifndef MDPUB_CHECK_H
#define MDPUB_CHECK_H

#include <stdint.h>
#include <stdio.h>

#include "mdbus.h"
#include "mdbus_msg.h"

#define TALLY_TYPES (MDBUS_MSG_HEARTBEAT + 2) /* the last: other types */

struct tally {
	uint64_t messages, by_type[TALLY_TYPES], lost;
	uint64_t first, last, up, down;
	uint64_t bad; /* messages failing the synthetic invariants */
};

/* Counts one message. -1 (with a line on stderr) when its sequence number
 * is not the previous one + 1 + the loss the library reports: a duplicate,
 * a step back or an unreported gap. */
int tally_add(struct tally *t, const struct mdbus_msg *m, const void *buf);

/* 1 unless m is a quote or trade that the synthetic source cannot have
 * made (exch_ns != recv_ns, a symbol not SYMnnn, a spread not 2 ticks). */
int synthetic_ok(const struct mdbus_msg *m, const void *buf);

/* Adds b's counts to a: first stays a's, last becomes b's. */
void tally_merge(struct tally *a, const struct tally *b);

/* CLOCK_MONOTONIC in seconds, for the consumers' deadlines. */
double tally_now_s(void);

/* Two lines: "messages N quote N trade N status N heartbeat N other N
 * lost N" and "first N last N up N down N bad N". */
void tally_print(FILE *out, const struct tally *t);

#endif /* MDPUB_CHECK_H */
