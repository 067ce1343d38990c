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
 * are logged, then at most one per second, which also says how many were
 * not logged since the last one. One limiter per thread of use.
 */
struct log_limit {
	unsigned burst;      /* events logged freely (set before use) */
	unsigned seen;       /* events so far */
	uint64_t last_ns;    /* when the last rate-limited line was logged */
	uint64_t suppressed; /* events not logged since then */
};

void log_limited(struct log_limit *lim, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Logs how many events were not logged since the last line, if any. */
void log_limit_flush(struct log_limit *lim, int level);

#endif /* MDPUB_LOG_H */
