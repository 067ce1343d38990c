/*
 * t_from_time.c - cmocka tests of mdsub's --from times (clients/from_time.c,
 * mdsub(1)): exact values, calendar checks (month lengths, leap years, no
 * 24:00, no leap second), the range of 64-bit nanosecond timestamps, a
 * local time a daylight saving change skips, and a reason for every
 * refusal.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "mdsub.h"

#define NOW 1700000000000000000ULL /* 2023-11-14T22:13:20Z */

/* s parsed at NOW: 0 and the value, or -1 with a reason. */
static int parse(const char *s, uint64_t *ns)
{
	const char *why = NULL;
	int r;

	*ns = 7;
	r = parse_start_time(s, NOW, ns, &why);
	if (r)
		assert_non_null(why);
	return r;
}

static void expect_ns(const char *s, uint64_t want)
{
	uint64_t ns;

	assert_int_equal(parse(s, &ns), 0);
	assert_true(ns == want);
}

static void expect_refused(const char *s)
{
	uint64_t ns;

	assert_int_equal(parse(s, &ns), -1);
}

static void t_values(void **state)
{
	expect_ns("@0", 0);
	expect_ns("@1700000000.5", NOW + 500000000);
	expect_ns("2023-11-14T22:13:20Z", NOW);
	expect_ns("2023-11-14 22:13:20.000000001Z", NOW + 1);
	expect_ns("22:13Z", NOW - 20000000000ULL);
	expect_ns("2024-02-29T00:00Z", 1709164800000000000ULL);
	expect_ns("2000-02-29T00:00Z", 951782400000000000ULL);
	expect_ns("2023-12-31T23:59:59.999999999Z", 1704067199999999999ULL);
	expect_ns("1970-01-01T00:00Z", 0);
	expect_ns("2262-04-11T23:47:16.854775807Z", (uint64_t)INT64_MAX);
	expect_ns("@9223372036.854775807", (uint64_t)INT64_MAX);
}

static void t_calendar(void **state)
{
	expect_refused("2026-02-30T00:00Z");
	expect_refused("2023-02-29T00:00Z");
	expect_refused("1900-02-29T00:00Z"); /* not a leap year, and < 1970 */
	expect_refused("2100-02-29T00:00Z"); /* not a leap year */
	expect_refused("2026-04-31T00:00Z");
	expect_refused("2026-13-01T00:00Z");
	expect_refused("2026-00-01T00:00Z");
	expect_refused("2026-01-00T00:00Z");
	expect_refused("24:00");
	expect_refused("24:00Z");
	expect_refused("23:60Z");
	expect_refused("23:59:60Z"); /* no leap second */
	expect_refused("2016-12-31T23:59:60Z");
	expect_refused("12:00:00.1234567891Z"); /* 10 digits */
	expect_refused("12:00:00.Z");
	expect_refused("12:00Zx");
	expect_refused("1:00");
	expect_refused("");
	expect_refused("@");
	expect_refused("@-1");
	expect_refused("@1.");
}

static void t_range(void **state)
{
	expect_refused("1969-12-31T23:59:59Z");
	expect_refused("2262-04-11T23:47:16.854775808Z");
	expect_refused("2262-04-12T00:00Z");
	expect_refused("9999-12-31T23:59:59Z"); /* wrapped to 2043 once */
	expect_refused("@9223372036.854775808");
	expect_refused("@9223372037");
	expect_refused("@99999999999"); /* wrapped once */
	expect_refused("@18446744073709551616");
	expect_refused("@99999999999999999999999999999");
}

/* Europe/Berlin skips 02:00-03:00 on 2026-03-29. */
static void t_dst_gap(void **state)
{
	uint64_t ns;

	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	if (parse("2026-03-29T01:59", &ns) != 0 || ns != 1774745940000000000ULL) {
		unsetenv("TZ");
		skip(); /* no time zone data */
	}
	expect_refused("2026-03-29T02:30");
	expect_ns("2026-03-29T03:00", 1774746000000000000ULL);
	expect_ns("2026-03-29T02:30Z", 1774751400000000000ULL);
	setenv("TZ", "UTC", 1);
	tzset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_values),
		cmocka_unit_test(t_calendar),
		cmocka_unit_test(t_range),
		cmocka_unit_test(t_dst_gap),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
