/*
 * log.c - see log.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

static atomic_int log_level = LOG_NOTICE;
static atomic_int log_syslog;
static atomic_int log_no_time;

const char *const log_level_names[] = {"err",  "warning", "notice",
				       "info", "debug",   NULL};

void log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

void log_use_syslog(int on)
{
	if (on)
		openlog("mdpub", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store_explicit(&log_syslog, on, memory_order_relaxed);
}

void log_plain(int on)
{
	atomic_store_explicit(&log_no_time, on, memory_order_relaxed);
}

static void log_stderr(int level, const char *text)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	if (atomic_load_explicit(&log_no_time, memory_order_relaxed)) {
		fprintf(stderr, "mdpub: %s\n", text);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	/* one fprintf per line: stdio locks the stream, lines never mix */
	fprintf(stderr, "%s.%03ldZ mdpub[%s]: %s\n", when,
		ts.tv_nsec / 1000000, log_level_names[level - LOG_ERR], text);
}

__attribute__((format(printf, 2, 0)))
static void log_vmsg(int level, const char *fmt, va_list ap)
{
	char text[1024];

	if (level > log_get_level())
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	if (atomic_load_explicit(&log_syslog, memory_order_relaxed))
		syslog(level, "%s", text);
	else
		log_stderr(level, text);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_limit_flush(struct log_limit *lim, int level)
{
	if (lim->suppressed)
		log_msg(level, "(%llu similar messages not logged)",
			(unsigned long long)lim->suppressed);
	lim->suppressed = 0;
}

void log_limited(struct log_limit *lim, int level, const char *fmt, ...)
{
	va_list ap;
	uint64_t now = now_monotonic();

	if (++lim->seen > lim->burst && now - lim->last_ns < NS_PER_SEC) {
		lim->suppressed++;
		return;
	}
	log_limit_flush(lim, level);
	lim->last_ns = now;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
