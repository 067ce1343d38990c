/*
 * clock.h - the clocks mdpub and mdsub read, in nanoseconds.
 */
#ifndef MDBUS_COMMON_CLOCK_H
#define MDBUS_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_SEC 1000000000ULL

static inline uint64_t clock_read_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME: wall-clock time since the epoch (message timestamps). */
static inline uint64_t now_realtime(void)
{
	return clock_read_ns(CLOCK_REALTIME);
}

/* CLOCK_MONOTONIC: for intervals and deadlines. */
static inline uint64_t now_monotonic(void)
{
	return clock_read_ns(CLOCK_MONOTONIC);
}

/* Sleeps ns nanoseconds, or less when a signal arrives. */
static inline void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / NS_PER_SEC),
			      (long)(ns % NS_PER_SEC)};

	nanosleep(&ts, NULL);
}

#endif /* MDBUS_COMMON_CLOCK_H */
