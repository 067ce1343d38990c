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
 * zone is local.
 */
#define _GNU_SOURCE /* timegm() */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "mdsub.h"

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

/* HH:MM[:SS[.F]] into tm and *ns. */
static int clock_part(const char **s, struct tm *tm, long *ns)
{
	if (num(s, 2, &tm->tm_hour) || *(*s)++ != ':' || num(s, 2, &tm->tm_min))
		return -1;
	tm->tm_sec = 0;
	*ns = 0;
	if (**s == ':' && ((*s)++, num(s, 2, &tm->tm_sec) || fraction(s, ns)))
		return -1;
	return tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60 ? -1 : 0;
}

static int epoch_seconds(const char *s, uint64_t *out)
{
	unsigned long long secs = 0;
	long ns;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (secs > 10000000000ULL)
			return -1;
		secs = secs * 10 + (unsigned long long)(*s - '0');
	}
	if (fraction(&s, &ns) || *s)
		return -1;
	*out = secs * 1000000000ULL + (uint64_t)ns;
	return 0;
}

int parse_start_time(const char *s, uint64_t now_ns, uint64_t *out)
{
	time_t now = (time_t)(now_ns / 1000000000ULL), t;
	int date = strlen(s) > 10 && s[4] == '-', utc;
	struct tm tm;
	long ns;

	if (*s == '@')
		return epoch_seconds(s + 1, out);
	utc = s[strlen(s) - 1] == 'Z';
	memset(&tm, 0, sizeof tm);
	if (!(utc ? gmtime_r(&now, &tm) : localtime_r(&now, &tm)))
		return -1;
	if (date && (num(&s, 4, &tm.tm_year) || *s++ != '-' ||
		     num(&s, 2, &tm.tm_mon) || *s++ != '-' ||
		     num(&s, 2, &tm.tm_mday) || (*s != 'T' && *s != ' ')))
		return -1;
	if (date && (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
		     tm.tm_mday > 31 || tm.tm_year < 1970))
		return -1;
	if (date) {
		s++;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
	}
	if (clock_part(&s, &tm, &ns) || strcmp(s, utc ? "Z" : "") != 0)
		return -1;
	tm.tm_isdst = -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1 || t < 0)
		return -1;
	*out = (uint64_t)t * 1000000000ULL + (uint64_t)ns;
	return 0;
}
