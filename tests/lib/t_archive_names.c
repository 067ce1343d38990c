/*
 * t_archive_names.c - unit tests (cmocka) of the archive's file names
 * (lib/archive_files.c, doc/protocol.md "Archive files"): arch_parse()
 * takes exactly the names arch_name() writes, so that two names never
 * stand for one file; any other spelling of a sequence or a time (a 13th
 * month, a 30 February, 60 seconds, a SEQ past 2^64 - 1) is no archive
 * file.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"

#define EPOCH 0x2a
#define HEAD "demo.000000000000002a."
#define SEQ1 "00000000000000000001."

static void test_canonical(void **state)
{
	static const uint64_t ns[] = {0, 1700000000123456789ull,
				      951782400000000000ull, /* 2000-02-29 */
				      UINT64_MAX};
	struct arch_file f;
	char name[ARCH_NAME_MAX];

	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		assert_int_equal(arch_name(name, sizeof name, "demo", EPOCH,
					   UINT64_MAX - i, ns[i]), 0);
		assert_int_equal(arch_parse(name, "demo", EPOCH, &f), 0);
		assert_true(f.first_seq == UINT64_MAX - i);
		assert_true(f.first_ns == ns[i]);
		assert_string_equal(f.name, name);
	}
	(void)state;
}

static void test_noncanonical(void **state)
{
	static const char *const names[] = {
		/* were taken, as the time or number timegm() or the
		 * digits wrapped to: a second name of another file */
		HEAD SEQ1 "20231314T221320.123456789Z.rec", /* month 13 */
		HEAD SEQ1 "20230230T221320.123456789Z.rec", /* 30 February */
		HEAD SEQ1 "20230229T221320.123456789Z.rec", /* not leap */
		HEAD SEQ1 "20231100T221320.123456789Z.rec", /* day 0 */
		HEAD SEQ1 "20231114T241320.123456789Z.rec", /* hour 24 */
		HEAD SEQ1 "20231114T226020.123456789Z.rec", /* minute 60 */
		HEAD SEQ1 "20231114T221360.123456789Z.rec", /* second 60 */
		HEAD SEQ1 "26000101T000000.000000000Z.rec", /* past 2^64 ns */
		HEAD "18446744073709551616.20231114T221320.123456789Z.rec",
		HEAD "99999999999999999999.20231114T221320.123456789Z.rec",
		/* refused already */
		HEAD SEQ1 "19691231T235959.000000000Z.rec", /* before 1970 */
		"demo.000000000000002A." SEQ1 "20231114T221320.123456789Z.rec",
		HEAD SEQ1 "20231114T221320.123456789z.rec",
	};
	struct arch_file f;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		print_message("%s\n", names[i]);
		assert_int_equal(arch_parse(names[i], "demo", EPOCH, &f), -1);
	}
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_noncanonical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
