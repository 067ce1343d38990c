/*
 * log.c - see log.h.
 */
#include "config.h"

#include <pthread.h>
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

/* The limiters with a count held, for log_limits_tick(): every one
 * that ever held one, till its end. The tick writes a count with the
 * lock let go and the limiter marked `ticking` (a stderr that blocks, a
 * full pipe, holds up the tick, not a channel's thread that only counts
 * and takes the lock to list its limiter); limits_done tells
 * log_limit_end() that the mark went. */
static pthread_mutex_t limits_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t limits_done = PTHREAD_COND_INITIALIZER;
static struct log_limit *limits;

void log_limit_init(struct log_limit *lim, unsigned burst, int level,
		    const char *fmt, ...)
{
	va_list ap;

	memset(lim, 0, sizeof(*lim));
	lim->burst = burst;
	lim->level = level;
	va_start(ap, fmt);
	vsnprintf(lim->label, sizeof(lim->label), fmt, ap);
	va_end(ap);
}

/* The count held, now the caller's to log. The exchange takes each
 * event once, whichever of the owner and the tick gets it; it pairs
 * with the owner's fetch_add in limit_suppress(). */
static uint64_t limit_take(struct log_limit *lim)
{
	return atomic_exchange_explicit(&lim->suppressed, 0,
					memory_order_relaxed);
}

static void log_count(const struct log_limit *lim, uint64_t n)
{
	if (n)
		log_msg(lim->level, "%s: %llu similar messages not logged",
			lim->label, (unsigned long long)n);
}

/* Logs the count held, if any. */
static void limit_flush(struct log_limit *lim)
{
	log_count(lim, limit_take(lim));
}

/* Counts an event not logged; the first one puts lim in the tick's list
 * (once per limiter, not per event). */
static void limit_suppress(struct log_limit *lim)
{
	atomic_fetch_add_explicit(&lim->suppressed, 1, memory_order_relaxed);
	if (lim->listed)
		return;
	pthread_mutex_lock(&limits_mu);
	lim->prev = NULL;
	lim->next = limits;
	if (limits)
		limits->prev = lim;
	limits = lim;
	pthread_mutex_unlock(&limits_mu);
	lim->listed = 1;
}

/* Takes lim out of the tick's list once the tick has written the count
 * it took of lim, if it is writing one: lim may then be freed, and that
 * count comes before whatever the owner logs next (its last counters).
 * Under limits_mu. */
static void limit_unlist(struct log_limit *lim)
{
	if (lim->prev)
		lim->prev->next = lim->next;
	else
		limits = lim->next;
	if (lim->next)
		lim->next->prev = lim->prev;
	while (lim->ticking)
		pthread_cond_wait(&limits_done, &limits_mu);
}

void log_limit_end(struct log_limit *lim)
{
	if (lim->listed) {
		pthread_mutex_lock(&limits_mu);
		limit_unlist(lim);
		pthread_mutex_unlock(&limits_mu);
		lim->listed = 0;
	}
	limit_flush(lim);
}

/* The first limiter in the list whose last line is a second old at
 * `now` and that holds a count, taken into *n, marked as the tick's;
 * NULL when none is left. Under limits_mu. A count taken is 0 when
 * walked again, so each walk goes further, unless the owner counted
 * again meanwhile, which it does only within a second of its last line:
 * not once `now` is past that second. A line logged after `now` (while
 * the tick wrote, a stderr that blocks) is not a second old: now - last
 * would wrap, and the owner, counting within that second, would keep the
 * tick taking its counts, one line each, for as long as it counts. */
static struct log_limit *limits_due(uint64_t now, uint64_t *n)
{
	for (struct log_limit *lim = limits; lim; lim = lim->next) {
		/* the owner's store in log_limited() */
		uint64_t last = atomic_load_explicit(&lim->last_ns,
						     memory_order_relaxed);

		if (last > now || now - last < NS_PER_SEC)
			continue;
		*n = limit_take(lim);
		if (*n) {
			lim->ticking = 1;
			return lim;
		}
	}
	return NULL;
}

/* Each count is written with limits_mu let go: a stderr that blocks
 * holds up this thread only, not a channel's that takes the lock to
 * list its limiter. */
void log_limits_tick(void)
{
	uint64_t now = now_monotonic();
	struct log_limit *lim;
	uint64_t n;

	pthread_mutex_lock(&limits_mu);
	while ((lim = limits_due(now, &n))) {
		pthread_mutex_unlock(&limits_mu);
		log_count(lim, n); /* lim stays: limit_unlist() waits */
		pthread_mutex_lock(&limits_mu);
		lim->ticking = 0;
		pthread_cond_broadcast(&limits_done);
	}
	pthread_mutex_unlock(&limits_mu);
}

void log_limited(struct log_limit *lim, int level, const char *fmt, ...)
{
	va_list ap;
	uint64_t now = now_monotonic();

	if (lim->seen < lim->burst)
		lim->seen++;
	else if (now - atomic_load_explicit(&lim->last_ns, memory_order_relaxed) <
		 NS_PER_SEC) {
		limit_suppress(lim);
		return;
	}
	limit_flush(lim);
	atomic_store_explicit(&lim->last_ns, now, memory_order_relaxed);
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
