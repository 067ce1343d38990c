/*
 * fuzz_from_time.c - libFuzzer harness for clients/from_time.c, mdsub's
 * --from TIME. Input byte 0 picks: a time zone (UTC, New York, Lord Howe
 * with its 30-minute daylight saving), and whether the rest is the text
 * itself or the fields of a date and time that are written out
 * canonically (then the parser must take it exactly when the calendar has
 * it, and give the nanoseconds a days-from-civil count gives).
 * Invariants: whatever is taken reads back (gmtime/localtime) as the
 * fields written, at most INT64_MAX ns; @S.F is S * 1e9 + F.
 */
#include "config.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mdsub.h"
#include "fuzz.h"

#define NOW 1700000000123456789ull /* 2023-11-14T22:13:20Z */

static const char *const zones[] = {"UTC0", "America/New_York",
				    "Australia/Lord_Howe"};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int mdays(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100) || y % 400 == 0;

	return m == 2 && leap ? 29 : d[m - 1];
}

/* Whatever was taken reads back as the digits written. */
static void read_back(const char *s, uint64_t ns, int utc)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	int y = 0, mo = 0, d = 0, h, mi, sec = 0, off = 0;
	char frac[16] = "";

	assert(ns <= INT64_MAX);
	if (*s == '@')
		return;
	assert(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm));
	if (strlen(s) > 10 && s[4] == '-') {
		assert(sscanf(s, "%4d-%2d-%2d%*c%n", &y, &mo, &d, &off) == 3);
		assert(tm.tm_year + 1900 == y && tm.tm_mon + 1 == mo &&
		       tm.tm_mday == d);
	}
	s += off;
	assert(sscanf(s, "%2d:%2d", &h, &mi) == 2);
	if (s[5] == ':')
		sscanf(s + 6, "%2d.%9[0-9]", &sec, frac);
	assert(tm.tm_hour == h && tm.tm_min == mi && tm.tm_sec == sec);
	assert(strlen(frac) < 10);
	while (strlen(frac) < 9)
		strcat(frac, "0");
	assert(ns % 1000000000ull == strtoull(frac, NULL, 10));
}

/* Whether the fields are a date and time the calendar has. */
static int real_time(int y, int mo, int d, int h, int mi, int sec)
{
	return mo >= 1 && mo <= 12 && d >= 1 && d <= mdays(y, mo) && h < 24 &&
	       mi < 60 && sec < 60;
}

/* Seconds since the epoch of a UTC date and time. */
static int64_t utc_secs(int y, int mo, int d, int h, int mi, int sec)
{
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);

	return ((days * 24 + h) * 60 + mi) * 60 + sec;
}

/* Fields written out canonically (data[0] has bit 7 set). */
static void check_fields(const unsigned char *data, size_t size)
{
	int y, mo, d, h, mi, sec, nsf, fr, utc;
	const char *why;
	char text[128];
	uint64_t ns;

	if (size < 15)
		return;
	y = 1960 + (data[1] | data[2] << 8) % 400;
	mo = data[3] % 14;
	d = data[4] % 33;
	h = data[5] % 26;
	mi = data[6] % 62;
	sec = data[7] % 62;
	nsf = (int)((data[8] | data[9] << 8 | data[10] << 16 |
		     (unsigned)data[11] << 24) % 1000000000u);
	fr = data[12] % 4; /* HH:MM, :SS, .NNNNNNNNN */
	utc = data[13] & 1;
	snprintf(text, sizeof text, "%04d-%02d-%02d%c%02d:%02d", y, mo, d,
		 data[13] & 2 ? ' ' : 'T', h, mi);
	if (fr >= 1)
		snprintf(text + strlen(text), 8, ":%02d", sec);
	if (fr >= 2)
		snprintf(text + strlen(text), 12, ".%09d", nsf);
	if (fr < 2)
		nsf = 0;
	if (fr == 0)
		sec = 0;
	if (utc)
		strcat(text, "Z");
	if (parse_start_time(text, NOW, &ns, &why) == 0) {
		assert(real_time(y, mo, d, h, mi, sec));
		read_back(text, ns, utc);
		assert(!utc || ns == (uint64_t)utc_secs(y, mo, d, h, mi, sec) *
					     1000000000ull + (uint64_t)nsf);
	} else if (utc && real_time(y, mo, d, h, mi, sec)) {
		/* a real UTC time is refused only out of range */
		int64_t total = utc_secs(y, mo, d, h, mi, sec);

		assert(total < 0 ||
		       (__int128)total * 1000000000 + nsf > INT64_MAX);
	}
}

/* @S.F is S * 1e9 + F. */
static void check_at(const char *s, uint64_t ns)
{
	unsigned long long sec = strtoull(s + 1, NULL, 10);
	char *dot = strchr(s, '.'), frac[16] = "";

	if (dot)
		snprintf(frac, sizeof frac, "%s", dot + 1);
	assert(strlen(frac) <= 9);
	while (strlen(frac) < 9)
		strcat(frac, "0");
	assert(ns == sec * 1000000000ull + strtoull(frac, NULL, 10));
}

/* The text itself. */
static void check_text(const unsigned char *data, size_t size)
{
	const char *why = NULL;
	char *s = fuzz_text(data, size);
	uint64_t ns;

	if (!s)
		return;
	if (parse_start_time(s, NOW, &ns, &why) == 0) {
		if (*s == '@')
			check_at(s, ns);
		read_back(s, ns, *s && s[strlen(s) - 1] == 'Z');
	} else {
		assert(why && *why);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 1)
		return 0;
	setenv("TZ", zones[data[0] % 3], 1);
	tzset();
	if (data[0] & 0x80)
		check_fields(data, size);
	else
		check_text(data, size);
	return 0;
}
