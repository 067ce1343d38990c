/*
 * from_time.c - the times --from takes (mdsub(1)):
 *
 *   HH:MM[:SS[.F]]                 today, local time (TZ)
 *   HH:MM[:SS[.F]]Z                today, UTC
 *   YYYY-MM-DDTHH:MM[:SS[.F]]      local time ('T' or a space)
 *   YYYY-MM-DDTHH:MM[:SS[.F]]Z     UTC
 *   @SECONDS[.F]                   seconds since 1970-01-01 UTC
 *
 * F is up to 9 digits of a second. ISO 8601's rule: a time without a
 * zone is local. Every field is checked as the calendar has it: a day
 * the month has (February 29 in leap years only), hours 00-23, minutes
 * and seconds 00-59. A leap second (:60) is refused: CLOCK_REALTIME, and
 * so every timestamp on the bus, has none (the kernel repeats a second
 * instead). A local time that a daylight saving change skips does not
 * exist and is refused. Times run from 1970-01-01T00:00:00Z to
 * 2262-04-11T23:47:16.854775807Z, the last a signed 64-bit count of
 * nanoseconds (a message's ts_ns as most tools read it) holds.
 */
#define _GNU_SOURCE /* timegm() */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "mdsub.h"

#define NS_MAX ((uint64_t)INT64_MAX) /* the last time taken */

/* Exactly n digits at *s into *v, advancing *s. */
static int num(const char **s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*s)++) {
		if (**s < '0' || **s > '9')
			return -1;
		*v = *v * 10 + (**s - '0');
	}
	return 0;
}

/* [.F] at *s: nanoseconds. */
static int fraction(const char **s, long *ns)
{
	long scale = 100000000;

	*ns = 0;
	if (**s != '.')
		return 0;
	(*s)++;
	if (**s < '0' || **s > '9')
		return -1;
	for (; **s >= '0' && **s <= '9'; (*s)++, scale /= 10) {
		if (!scale)
			return -1;
		*ns += (**s - '0') * scale;
	}
	return 0;
}

static int leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days of month m (1-12) of year y. */
static int month_days(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
				     30, 31};

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* HH:MM[:SS[.F]] into tm and *ns. */
static int clock_part(const char **s, struct tm *tm, long *ns,
		      const char **why)
{
	*why = "a time is HH:MM[:SS[.F]] with up to 9 digits F";
	if (num(s, 2, &tm->tm_hour) || *(*s)++ != ':' || num(s, 2, &tm->tm_min))
		return -1;
	tm->tm_sec = 0;
	*ns = 0;
	if (**s == ':' && ((*s)++, num(s, 2, &tm->tm_sec) || fraction(s, ns)))
		return -1;
	*why = "no such time of day: hours are 00-23, minutes 00-59, "
	       "seconds 00-59 (no leap second: the clock has none)";
	return tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 59 ? -1 : 0;
}

/* YYYY-MM-DD and the T or space after it into tm (years since 1900,
 * months from 0). */
static int date_part(const char **s, struct tm *tm, const char **why)
{
	int y, m, d;

	*why = "a date is YYYY-MM-DD, then T or a space and the time";
	if (num(s, 4, &y) || *(*s)++ != '-' || num(s, 2, &m) ||
	    *(*s)++ != '-' || num(s, 2, &d) || (**s != 'T' && **s != ' '))
		return -1;
	(*s)++;
	*why = "no such date: months are 01-12, days those of the month "
	       "(February 29 in leap years only)";
	if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return -1;
	*why = "before 1970-01-01, the start of the clock";
	if (y < 1970)
		return -1;
	tm->tm_year = y - 1900;
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	return 0;
}

/* Seconds and nanoseconds since 1970 into *out, within NS_MAX. */
static int to_ns(uint64_t secs, long ns, uint64_t *out, const char **why)
{
	*why = "after 2262-04-11T23:47:16.854775807Z, the last time 64-bit "
	       "nanosecond timestamps hold";
	if (secs > NS_MAX / 1000000000ULL ||
	    secs * 1000000000ULL > NS_MAX - (uint64_t)ns)
		return -1;
	*out = secs * 1000000000ULL + (uint64_t)ns;
	return 0;
}

static int epoch_seconds(const char *s, uint64_t *out, const char **why)
{
	unsigned long long secs = 0;
	long ns;

	*why = "@SECONDS[.F]: digits, then up to 9 digits of a second";
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (secs > NS_MAX / 1000000000ULL) /* too late, and no
						    * overflow below */
			return to_ns(secs, 0, out, why);
		secs = secs * 10 + (unsigned long long)(*s - '0');
	}
	if (fraction(&s, &ns) || *s)
		return -1;
	return to_ns(secs, ns, out, why);
}

/* Whether mktime() kept the local time asked for: one that a daylight
 * saving change skips comes back moved. */
static int local_exists(const struct tm *asked, const struct tm *got)
{
	return asked->tm_hour == got->tm_hour && asked->tm_min == got->tm_min &&
	       asked->tm_mday == got->tm_mday;
}

int parse_start_time(const char *s, uint64_t now_ns, uint64_t *out,
		     const char **why)
{
	time_t now = (time_t)(now_ns / 1000000000ULL), t;
	int date = strlen(s) > 10 && s[4] == '-', utc;
	struct tm tm, asked;
	long ns;

	if (*s == '@')
		return epoch_seconds(s + 1, out, why);
	utc = *s && s[strlen(s) - 1] == 'Z';
	memset(&tm, 0, sizeof tm);
	*why = "the clock cannot be read";
	if (!(utc ? gmtime_r(&now, &tm) : localtime_r(&now, &tm)))
		return -1;
	if (date && date_part(&s, &tm, why))
		return -1;
	if (clock_part(&s, &tm, &ns, why))
		return -1;
	*why = "a time ends after its seconds, or with Z (UTC)";
	if (strcmp(s, utc ? "Z" : "") != 0)
		return -1;
	tm.tm_isdst = -1;
	asked = tm;
	t = utc ? timegm(&tm) : mktime(&tm);
	*why = "no such local time: a daylight saving change skips it "
	       "(give the time in UTC with Z)";
	if (t == (time_t)-1 || (!utc && !local_exists(&asked, &tm)))
		return -1;
	*why = "before 1970-01-01T00:00:00Z, the start of the clock";
	if (t < 0)
		return -1;
	return to_ns((uint64_t)t, ns, out, why);
}
