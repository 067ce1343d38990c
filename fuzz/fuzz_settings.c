/*
 * fuzz_settings.c - libFuzzer harness for common/parse_num.c and
 * daemons/settings.c: a value of mdpub.conf (or mdpub --replay/--lines
 * KEY=VALUE) against a table with each kind of setting and the bounds
 * the project's tables use (a power of two up to 2^31, 2^62 as
 * jump_window, 1e18 as the synthetic count, UINT64_MAX, an octal mode,
 * seconds, 0 or a range). Invariants: a number taken is in its range,
 * compared exactly; parse_u64() takes digits only and the value they
 * spell; parse_double() takes no space, hex, inf or nan, and a '+'
 * only in an exponent.
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "parse_num.h"
#include "settings.h"
#include "fuzz.h"

struct obj {
	uint64_t u[5];
	uint64_t mode;
	double d[3];
	int b, c;
	char *s;
};

static const char *const colors[] = {"red", "green", "blue", NULL};

#define U(i, lo, hi, fl) {"u" #i, SET_UINT, offsetof(struct obj, u[i]), lo, hi, fl, NULL}
static const struct setting table[] = {
	U(0, 64, 1048576, SET_POW2),
	U(1, 1, 1u << 31, 0),
	U(2, 1, 4611686018427387904.0, 0),
	U(3, 0, 1e18, 0),
	U(4, 0, 18446744073709551615.0, 0),
	{"mode", SET_OCTAL, offsetof(struct obj, mode), 0, 0777, 0, NULL},
	{"d0", SET_DOUBLE, offsetof(struct obj, d[0]), 0.001, 3600, 0, NULL},
	{"d1", SET_DOUBLE, offsetof(struct obj, d[1]), 0.01, 86400, SET_OR_0, NULL},
	{"d2", SET_DOUBLE, offsetof(struct obj, d[2]), 0, 1e9, 0, NULL},
	{"b", SET_BOOL, offsetof(struct obj, b), 0, 0, 0, NULL},
	{"c", SET_CHOICE, offsetof(struct obj, c), 0, 0, 0, colors},
	{"s", SET_STRING, offsetof(struct obj, s), 0, 0, 0, NULL},
	{NULL, 0, 0, 0, 0, 0, NULL},
};

/* The exact integer a double bound stands for (2^64 as UINT64_MAX + 1). */
static unsigned __int128 exact(double d)
{
	return (unsigned __int128)d;
}

static void check_u64(const char *t, int base)
{
	uint64_t v;
	int rc = parse_u64(t, base, &v);

	if (rc == 0) {
		unsigned __int128 ref = 0;

		assert(*t);
		for (const char *p = t; *p; p++) {
			assert(*p >= '0' && *p < '0' + base);
			ref = ref * (unsigned)base + (unsigned)(*p - '0');
			assert(ref <= UINT64_MAX);
		}
		assert(ref == v);
	}
}

static void check_double(const char *t)
{
	double v;

	if (parse_double(t, &v) == 0) {
		const char *plus = strchr(t, '+');

		assert(isfinite(v));
		assert(!strpbrk(t, "xX \t\n\v\f\rnNiI"));
		/* a '+' only as an exponent's sign */
		assert(!plus || (plus > t && (plus[-1] == 'e' || plus[-1] == 'E')));
	}
	if (parse_seconds(t, &v) == 0)
		assert(v > 0 && v <= 1e9);
}

/* A value settings_set() took: in its range, and it copies equal. */
static void check_taken(const struct setting *s, struct obj *o)
{
	struct obj copy;
	uint64_t u;
	double d;

	switch (s->kind) {
	case SET_UINT:
	case SET_OCTAL:
		memcpy(&u, (char *)o + s->offset, sizeof u);
		assert(u >= exact(s->min) && u <= exact(s->max));
		assert(!(s->flags & SET_POW2) || !(u & (u - 1)));
		break;
	case SET_DOUBLE:
		memcpy(&d, (char *)o + s->offset, sizeof d);
		assert((d == 0 && (s->flags & SET_OR_0)) ||
		       (d >= s->min && d <= s->max));
		break;
	default:
		break;
	}
	assert(settings_dup_strings(table, &copy, o) == 0 || !o->s);
	memcpy(&copy, o, offsetof(struct obj, s));
	assert(settings_equal(table, o, &copy));
	settings_free(table, &copy);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const size_t n = sizeof table / sizeof table[0] - 1;
	const struct setting *s;
	struct obj o = {0};
	char err[200], *t;
	int rc;

	if (size < 1)
		return 0;
	t = fuzz_text(data, size);
	if (!t)
		return 0;
	s = &table[data[0] % n];
	check_u64(t, 10);
	check_u64(t, 8);
	check_double(t);
	rc = settings_set(table, &o, s->key, t, err, sizeof err);
	assert(rc == 1 || rc == -1);
	assert(rc == 1 || memchr(err, '\0', sizeof err));
	if (rc == 1)
		check_taken(s, &o);
	settings_free(table, &o);
	free(t);
	return 0;
}
