/*
 * t_parse_num.c - cmocka tests of common/parse_num.h: the numbers mdpub's
 * config and options and mdsub's options accept, exact values, and the
 * code every rejected text returns.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "parse_num.h"

static void t_u64(void **state)
{
	uint64_t v = 7;

	assert_int_equal(parse_u64("0", 10, &v), 0);
	assert_true(v == 0);
	assert_int_equal(parse_u64("18446744073709551615", 10, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("0660", 8, &v), 0);
	assert_true(v == 0660);
	assert_int_equal(parse_u64("18446744073709551616", 10, &v), -ERANGE);
	v = 7;
	assert_int_equal(parse_u64("", 10, &v), -EINVAL);
	assert_int_equal(parse_u64("-1", 10, &v), -EINVAL);
	assert_int_equal(parse_u64("+1", 10, &v), -EINVAL);
	assert_int_equal(parse_u64(" 1", 10, &v), -EINVAL);
	assert_int_equal(parse_u64("1x", 10, &v), -EINVAL);
	assert_int_equal(parse_u64("8", 8, &v), -EINVAL);
	assert_int_equal(parse_u64(NULL, 10, &v), -EINVAL);
	assert_true(v == 7); /* untouched on error */
}

static void t_double(void **state)
{
	double v = 7;

	assert_int_equal(parse_double("0.25", &v), 0);
	assert_true(v == 0.25);
	assert_int_equal(parse_double("-1e3", &v), 0);
	assert_true(v == -1000);
	assert_int_equal(parse_double("1e999", &v), -ERANGE);
	v = 7;
	assert_int_equal(parse_double("inf", &v), -EINVAL);
	assert_int_equal(parse_double("nan", &v), -EINVAL);
	assert_int_equal(parse_double("", &v), -EINVAL);
	assert_int_equal(parse_double("1.5s", &v), -EINVAL);
	/* strtod() takes these; the options and files do not */
	assert_int_equal(parse_double(" 5", &v), -EINVAL);
	assert_int_equal(parse_double("+5", &v), -EINVAL);
	assert_int_equal(parse_double("0x10", &v), -EINVAL);
	assert_int_equal(parse_double("0X1p4", &v), -EINVAL);
	assert_int_equal(parse_double("infinity", &v), -EINVAL);
	assert_int_equal(parse_double(NULL, &v), -EINVAL);
	assert_true(v == 7);
	assert_int_equal(parse_double("-.5", &v), 0);
	assert_true(v == -0.5);
}

static void t_seconds(void **state)
{
	double v = 7;

	assert_int_equal(parse_seconds("0.001", &v), 0);
	assert_true(v == 0.001);
	assert_int_equal(parse_seconds("1e9", &v), 0);
	assert_true(v == 1e9);
	v = 7;
	assert_int_equal(parse_seconds("0", &v), -EINVAL);
	assert_int_equal(parse_seconds("-1", &v), -EINVAL);
	assert_int_equal(parse_seconds("1000000001", &v), -EINVAL);
	assert_int_equal(parse_seconds("x", &v), -EINVAL);
	assert_true(v == 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_u64),
		cmocka_unit_test(t_double),
		cmocka_unit_test(t_seconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
