/*
 * log.h - mdpub's logging: to stderr (the default, with a timestamp) or to
 * syslog (facility daemon), filtered by level. Safe from any thread.
 */
#ifndef MDPUB_LOG_H
#define MDPUB_LOG_H

#include <stdint.h>
#include <syslog.h>

/* Levels are syslog's: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
 * LOG_DEBUG. */
void log_set_level(int level);
int log_get_level(void);

/* Sends further messages to syslog (1) or stderr (0). */
void log_use_syslog(int on);

/* Leaves the timestamp out of stderr lines (for mdpub -t). */
void log_plain(int on);

/* Level names from LOG_ERR on: "err", "warning", "notice", "info",
 * "debug", then NULL. */
extern const char *const log_level_names[];

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Rate limiter for noisy events (malformed input): the first `burst` events
 * are logged, then at most one per second; the rest are counted, and the
 * count is logged as "LABEL: N similar messages not logged" (LABEL names
 * the channel and the kind of event) before the next line logged, a
 * second after the last one at the latest (log_limits_tick()), and at the
 * limiter's end (log_limit_end()): lines logged plus the counts are the
 * events. One thread of use at a time; the tick, from the main thread,
 * touches only the count and the time of the last line (atomics), and
 * writes the counts it took with the list's lock let go: a stderr that
 * blocks (a full pipe nobody reads) holds up the threads that write a
 * line, not one that only counts.
 */
#define LOG_LIMIT_LABEL 128

struct log_limit {
	unsigned burst;      /* events logged freely */
	unsigned seen;       /* events so far, up to burst */
	int level;           /* of the count's line */
	int listed;          /* in the list the tick walks (owner's) */
	int ticking;         /* the tick writes a count it took (under
				the list's lock) */
	_Atomic uint64_t last_ns;    /* when the last line was logged */
	_Atomic uint64_t suppressed; /* events not logged since then */
	struct log_limit *prev, *next; /* that list, under its lock */
	char label[LOG_LIMIT_LABEL];
};

/* Sets up lim (zeroed or not): burst, the level of its count lines, and
 * the label they start with, a format (e.g. "channel %s: malformed
 * lines"). Before its first use; allocates nothing. */
void log_limit_init(struct log_limit *lim, unsigned burst, int level,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

void log_limited(struct log_limit *lim, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The limiter's owner stops: logs the count of what was not logged, if
 * any, and takes lim out of the tick's list, so that it may be freed
 * (once the tick has written a count of lim it is writing, which then
 * comes first). Again, or for a limiter never used: nothing. */
void log_limit_end(struct log_limit *lim);

/* Logs the count of every limiter whose last line is a second old or
 * more (mdpub's main loop, every second): a flood that stops is not left
 * uncounted until the limiter's end. */
void log_limits_tick(void);

#endif /* MDPUB_LOG_H */
